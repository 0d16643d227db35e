"""What ``mpt-live`` runs: a camera, a stream, or a batch of recorded videos, with the model.

Opens the source (:mod:`mpt_live.capture` for live ones, :class:`~mpt_live.sources.VideoFile` for
files), loads the model (``--model`` or the bundled demo model) and hands both to
:func:`mpt_live.live.run_session`. Terminal feedback: a rich progress bar per video and overall
for batches, a one-line live status (fps, provider, current class) for headless cameras.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from .capture import PacedVideoReader, open_camera, open_stream
from .errors import InputError
from .face import assets_dir
from .live import LiveConfig, run_session
from .sources import VideoFile, expand_videos, is_stream_url

DEMO_MODEL_NAME = "demo_model.onnx"


def demo_model_path() -> Path:
    return assets_dir() / DEMO_MODEL_NAME


def load_model(path: str | Path | None, device: str = "auto", threads: int | None = None) -> Any | None:
    """``--model PATH``, or the bundled demo model when it exists, or None (motion-only)."""
    from .runtime import MPTRuntime

    if path is None:
        demo = demo_model_path()
        if not demo.is_file():
            return None
        path = demo
    rt = MPTRuntime(path, device=device, threads=threads)
    rt.warmup(1)
    return rt


def _status_text(s: dict[str, Any], name: str) -> Text:
    t = Text()
    t.append(f"{name}  ", style="bold")
    t.append(f"{s['fps']:.1f} fps  " if s.get("fps") else "– fps  ")
    t.append(f"{s['provider'].replace('ExecutionProvider', '')}  ", style="cyan")
    if not s.get("face"):
        t.append("no face", style="bold red")
    elif s.get("label") is None:
        t.append("warming up", style="dim")
    else:
        t.append(s["label"], style="bold green" if s["label"] != "neutral" else "")
        if s.get("confidence") is not None:
            t.append(f" {s['confidence']:.0%}")
    if s.get("latency_ms"):
        t.append(f"  model {s['latency_ms']:.0f} ms", style="dim")
    t.append(f"  windows {s['windows']}", style="dim")
    if s.get("demo"):
        t.append("  DEMO MODEL", style="bold yellow")
    return t


def run_live_source(reader: Any, name: str, runtime: Any | None, cfg: LiveConfig, console: Console) -> dict[str, Any]:
    """A camera / stream / --realtime file. Headless: a rich status line; with a display: the window."""
    status_cb: Callable[[dict[str, Any]], None] | None = None
    live_ctx = None
    if cfg.status:
        live_ctx = Live(Text(f"{name}: starting…"), console=console, refresh_per_second=4, transient=False)
        last = [0.0]

        def status_cb(s: dict[str, Any]) -> None:
            now = time.monotonic()
            if now - last[0] >= 0.25:
                last[0] = now
                live_ctx.update(_status_text(s, name))

    try:
        if live_ctx is not None:
            live_ctx.start()
        with reader:
            summary = run_session(reader, name=name, runtime=runtime, live=True, source_fps=reader.fps, cfg=cfg,
                                  total_frames=getattr(reader, "frame_count", None) or None, on_status=status_cb)
        summary["capture"] = reader.stats()
        return summary
    finally:
        if live_ctx is not None:
            live_ctx.stop()


def open_live(camera: int | None, video: str | None, realtime: bool) -> tuple[Any, str]:
    """The reader for ``--camera N``, a stream URL, or ``--video FILE --realtime``."""
    if camera is not None:
        return open_camera(camera), f"camera {camera}"
    assert video is not None
    if is_stream_url(video):
        return open_stream(video), video
    if realtime:
        paths = expand_videos(video)
        if len(paths) != 1:
            raise InputError(f"{video}: --realtime plays one video, this matches {len(paths)}")
        return PacedVideoReader(paths[0]), str(paths[0])
    raise ValueError("not a live source")


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


def run_videos(spec: str | list[Path], out: Path | None, runtime: Any | None, cfg: LiveConfig,
               console: Console) -> tuple[list[tuple[Path, dict[str, Any]]], list[tuple[Path, str]]]:
    """Recorded videos (file, folder or glob, or a list of paths), one after another, every frame in order.

    Returns (done: [(video, summary)], failed: [(video, one-line reason)]); in a batch a failing
    video does not stop the others (a single video's InputError is raised). Ctrl-C stops the batch
    (the current video's outputs are kept)."""
    videos = expand_videos(spec) if isinstance(spec, str) else [Path(v) for v in spec]
    if out is None and not cfg.display:
        raise InputError("--out DIR is required for a headless run")
    dirs = output_dirs(videos, out) if out is not None else [None] * len(videos)
    done: list[tuple[Path, dict[str, Any]]] = []
    failed: list[tuple[Path, str]] = []
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=console, transient=False, disable=cfg.display)
    with progress:
        overall = progress.add_task("videos", total=len(videos)) if len(videos) > 1 else None
        for video, d in zip(videos, dirs):
            task = progress.add_task(video.name, total=None)

            def tick(i: int, n: int | None, task=task) -> None:
                if i % 5 == 0 or (n and i >= n):
                    progress.update(task, completed=i, total=n or None)

            try:
                with VideoFile(video) as src:
                    c = LiveConfig(**{**cfg.__dict__, "out_dir": d})
                    summary = run_session(src, name=str(video), runtime=runtime, live=False, source_fps=src.fps,
                                          cfg=c, total_frames=src.frame_count or None, on_progress=tick)
                done.append((video, summary))
                progress.update(task, completed=summary["frames_read"], total=summary["frames_read"])
            except KeyboardInterrupt:
                raise
            except InputError as e:
                if len(videos) == 1:
                    raise
                failed.append((video, str(e)))
            except Exception as e:  # one broken video must not stop the batch
                failed.append((video, f"{video}: {type(e).__name__}: {e}"))
            if overall is not None:
                progress.update(overall, advance=1)
    return done, failed
