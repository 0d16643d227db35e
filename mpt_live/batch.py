"""Recorded videos, one job each: a file, a folder or a glob; an output folder per video; failures listed.

In a batch a video that fails (unreadable, broken mid-way) does not stop the others; its one-line
reason is returned. A single video's expected failure (InputError) is raised as it is. Ctrl-C stops
the batch; the current video's outputs are kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from .errors import InputError, OutputError
from .job import run_job
from .session import SessionConfig
from .sources import VideoFile, expand_videos
from .terminal import progress_bar


def output_dirs(videos: list[Path], out: Path) -> list[Path]:
    """One folder per video: ``out`` itself for one video, ``out/<stem>`` (made unique) for several."""
    if len(videos) == 1:
        return [out]
    seen: dict[str, int] = {}
    dirs = []
    for v in videos:
        stem = v.stem
        seen[stem] = seen.get(stem, 0) + 1
        dirs.append(out / (stem if seen[stem] == 1 else f"{stem}_{seen[stem]}"))
    return dirs


def run_batch(videos: str | list[Path], out: Path | None, runtime: Any | None, cfg: SessionConfig, console: Console,
              *, save_video: bool = False, display: bool = False
              ) -> tuple[list[tuple[Path, Path | None, dict[str, Any]]], list[tuple[Path, str]]]:
    """Every video in order, every frame. Returns (done: [(video, out dir, summary)], failed: [(video, reason)])."""
    videos = expand_videos(videos) if isinstance(videos, str) else [Path(v) for v in videos]
    if out is None and not display:
        raise InputError("--out DIR is required for a headless run")
    dirs: list[Path | None] = list(output_dirs(videos, out)) if out is not None else [None] * len(videos)
    done: list[tuple[Path, Path | None, dict[str, Any]]] = []
    failed: list[tuple[Path, str]] = []
    with progress_bar(console, disable=display) as bar:
        overall = bar.add_task("videos", total=len(videos)) if len(videos) > 1 else None
        for video, d in zip(videos, dirs):
            task = bar.add_task(video.name, total=None)

            def tick(i: int, n: int | None, task=task) -> None:
                if i % 5 == 0 or (n and i >= n):
                    bar.update(task, completed=i, total=n or None)

            try:
                with VideoFile(video) as src:
                    summary = run_job(src, runtime, cfg, d, save_video=save_video, display=display, progress=tick)
                done.append((video, d, summary))
                bar.update(task, completed=summary["frames_read"], total=summary["frames_read"])
            except KeyboardInterrupt:
                raise
            except (InputError, OutputError) as e:  # one line that names the file
                if len(videos) == 1:
                    raise
                failed.append((video, str(e)))
            except Exception as e:  # one broken video must not stop the batch
                failed.append((video, f"{video}: {type(e).__name__}: {e}"))
            if overall is not None:
                bar.update(overall, advance=1)
    return done, failed
