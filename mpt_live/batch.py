"""Recorded videos, one job each: a file, a folder or a glob; an output folder per video; failures listed.

A recording may be a folder of frames (:mod:`mpt_live.recordings`; ``fps``: its frame rate, ``--fps``).

Serially (:func:`run_batch`), or in parallel (``--jobs``: :mod:`mpt_live.pool`; ``--ray``:
:mod:`mpt_live.ray_batch`), where a rerun skips the videos whose outputs are complete
(:func:`is_complete`: a summary.json of a finished run with the same model and settings, and every
output of :data:`REQUIRED` beside it) and redoes the others.

After each video of a batch the driver rewrites the batch's overview in ``out`` (:mod:`mpt_live.overview`); a
single video's run ends by rebuilding that of a batch whose video folder it ran into (:func:`mpt_live.job.run_job`).

In a batch a video that fails (unreadable, broken mid-way) does not stop the others; its one-line
reason is returned. A single video's expected failure (InputError) is raised as it is. Ctrl-C stops
the batch; the current video's outputs are kept.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from .errors import InputError, OutputError
from .job import run_job
from .overview import record_failures, write_overview
from .results import ModelInfo
from .rundir import claim_batch, read_summary, settings_of
from .session_config import FILE_STRIDE, MAX_FACES, SessionConfig
from .recordings import check_fps, expand_recordings, open_recording, stamp
from .terminal import progress_bar
from .upright import read_otherwise


def _videos(videos: str | Path | list[Path]) -> list[Path]:
    """A file, folder or glob (str or Path) expanded; a list taken as it is."""
    return expand_recordings(str(videos)) if isinstance(videos, (str, Path)) else [Path(v) for v in videos]


def output_dirs(videos: list[Path], out: Path) -> list[Path]:
    """One folder per video: ``out`` itself for one video, ``out/<stem>`` (made unique) for several of one
    folder, ``out/<path below their common folder>/<stem>`` for video files of several folders
    (``out/subject01/interview``); a frame folder's at its path below the frame folders' common parent
    (``out/006_1``, ``out/spNO.1/a/color``)."""
    if len(videos) == 1:
        return [out]
    folders = [v for v in videos if v.is_dir()]
    base = Path(os.path.commonpath(folders)) if len(folders) > 1 else folders[0].parent if folders else None
    parents = {v.parent for v in videos if not v.is_dir()}
    files_base = Path(os.path.commonpath(list(parents))) if len(parents) > 1 else None
    names = [v.relative_to(base).as_posix() if v.is_dir() else
             (v.relative_to(files_base).with_suffix("") if files_base is not None else Path(v.stem)).as_posix()
             for v in videos]
    # names that two videos share (a.mp4 and a.mov; A.mp4 and a.mp4 on a case-blind disk) take their extension,
    # then a number, never a name another video has: two videos must never write into one folder
    counts = Counter(n.casefold() for n in names)
    taken = {n.casefold() for n in names if counts[n.casefold()] == 1}
    dirs = []
    for v, n in zip(videos, names):
        if counts[n.casefold()] > 1:
            ext = "" if v.is_dir() else v.suffix.lstrip(".").lower()
            first = f"{n}_{ext}" if ext else n
            n, k = first, 2
            while n.casefold() in taken:
                n, k = f"{first}_{k}", k + 1
            taken.add(n.casefold())
        dirs.append(out / n)
    return dirs


def run_batch(videos: str | Path | list[Path], out: Path | None, runtime: Any | None, cfg: SessionConfig,
              console: Console,
              *, save_video: bool = False, display: bool = False, fps: float | None = None, first: Any | None = None,
              resume: bool = False) -> tuple[list[tuple[Path, Path | None, dict[str, Any]]], list[tuple[Path, str]]]:
    """Every video in order, every frame. Returns (done: [(video, out dir, summary)], failed: [(video, reason)]).
    ``fps``: the frame rate of the frame folders among them (required where there are some). ``first``: the
    first video's source when the caller has opened it already (:func:`~mpt_live.recordings.open_recording`),
    read instead of opening the video again."""
    videos = _videos(videos)
    check_fps(videos, fps, cfg.rotation)
    if out is None and not display:
        raise InputError("--out DIR is required for a headless run")
    dirs: list[Path | None] = list(output_dirs(videos, out)) if out is not None else [None] * len(videos)
    done: list[tuple[Path, Path | None, dict[str, Any]]] = []
    failed: list[tuple[Path, str]] = []
    several = len(videos) > 1
    classes = tuple(ModelInfo.of(runtime).classes)
    if several:
        record_failures(out, failed)  # an earlier run's list: its videos are tried again now
    with claim_batch(out, {"classes": list(classes)}) if several and out is not None else contextlib.nullcontext(), \
            progress_bar(console, disable=display) as bar:
        overall = bar.add_task("videos", total=len(videos), unit="videos") if several else None
        for index, (video, d) in enumerate(zip(videos, dirs)):
            task = bar.add_task(video.name, total=None)

            def tick(i: int, n: int | None, task=task, index=index) -> None:
                if i % 5 == 0 or (n and i >= n):
                    bar.update(task, completed=i, total=n or None)
                    if overall is not None and n:  # the video's share done: the batch's time left counts it
                        bar.update(overall, completed=index + min(i / n, 1.0))

            try:
                with first if first is not None and index == 0 else open_recording(video, fps, cfg.rotation) as src:
                    summary = run_job(src, runtime, cfg, d, save_video=save_video, display=display, progress=tick,
                                      say=lambda line: console.print(Text(line), soft_wrap=True), resume=resume)
                done.append((video, d, summary))
                bar.update(task, completed=summary["frames_read"], total=summary["frames_read"])
            except KeyboardInterrupt:
                write_overview(out, videos, dirs, failed, classes=classes)  # the stopped video's summary: interrupted
                raise
            except (InputError, OutputError) as e:  # one line that names the file
                if len(videos) == 1:
                    raise
                failed.append((video, str(e)))
            except Exception as e:  # one broken video must not stop the batch
                failed.append((video, f"{video}: {type(e).__name__}: {e}"))
            if several and failed and failed[-1][0] == video:
                record_failures(out, failed)
            write_overview(out, videos, dirs, failed, classes=classes)  # OUT/videos.csv, all_events.csv, index.html
            if overall is not None:
                bar.update(overall, completed=index + 1)
    return done, failed


# ---------------------------------------------------------------- parallel batches (--jobs, --ray)
@dataclass(frozen=True)
class BatchSpec:
    """What every video of a parallel batch runs with; picklable, so each worker process (or Ray
    actor) loads the model once from it."""

    model: str | None  # ONNX file; None: motion-only
    cfg: SessionConfig = field(default_factory=SessionConfig)
    device: str = "cpu"
    threads: int = 1  # ONNX Runtime threads per worker
    save_video: bool = False
    fps: float | None = None  # frame folders' frame rate (--fps)

    def load(self) -> Any | None:
        """The worker's runtime (None: motion-only), loaded as the CLI loads its own (:func:`~mpt_live.runtime.
        load_model`): the face detector's import runs beside the model's load, not after it."""
        from .runtime import load_model

        if self.model is None:
            return None
        return load_model(self.model, device=self.device, threads=self.threads, warmup=True)


# what every finished video's folder holds (the annotated video too, when it was asked for)
REQUIRED = ("predictions.csv", "events.csv", "timeline.png", "report.html")


def run_key(runtime: Any | None, cfg: SessionConfig) -> dict[str, Any]:
    """The settings a finished video's summary.json must show to be skipped by a rerun."""
    m = ModelInfo.of(runtime)
    return {"model": [m.name, m.backbone, m.precision, list(m.classes)], "model_file": stamp(m.path),
            "stride": cfg.stride or FILE_STRIDE,
            "detector": cfg.detector, "spot_threshold": cfg.spot_threshold,
            "max_faces": cfg.max_faces if cfg.max_faces is not None else MAX_FACES["file"],
            "start_s": cfg.start_s, "max_seconds": cfg.max_seconds}  # another stretch of the video: redone


def is_complete(out_dir: Path, key: dict[str, Any], save_video: bool = False, video: Path | None = None,
                fps: float | None = None, rotation: str = "auto") -> bool:
    """The video's outputs are all there (:data:`REQUIRED`, every file summary.json lists, the annotated
    video with ``save_video``), from a run that finished with status ``complete`` (not interrupted, no
    error, no source error such as a truncated file, every output written) with ``key`` (the model file's
    stamp included), on ``video`` as it is now (its :func:`~mpt_live.recordings.stamp`: size and time), a
    frame folder read at ``fps`` (its times depend on it), a video file read the way up an explicit ``rotation``
    (``--rotation`` other than auto: :func:`mpt_live.upright.read_otherwise`; auto: whatever way the run chose, as
    earlier code did not say)."""
    s = read_summary(out_dir)
    if s is None:
        return False
    outputs = s.get("outputs") or {}
    written = [n for n in outputs.values() if isinstance(n, str)]
    return (s.get("status") == "complete" and not s.get("interrupted") and s.get("error") is None
            and settings_of(s) == key
            and (video is None or (s.get("stamps") or {}).get("source") == stamp(video))
            and (fps is None or video is None or not video.is_dir()
                 or round(float(s.get("source_fps") or 0), 3) == round(fps, 3))
            and set(REQUIRED) <= set(written) and (outputs.get("video") is not None or not save_video)
            and all((out_dir / n).is_file() for n in written)
            and (video is None or not read_otherwise(s, video, rotation)))


def plan(videos: str | Path | list[Path], out: Path, key: dict[str, Any], save_video: bool = False,
         fps: float | None = None, rotation: str = "auto"
         ) -> tuple[list[tuple[int, Path, Path]], list[tuple[Path, Path]]]:
    """(to do: [(index, video, out dir)], skipped: [(video, out dir)] whose outputs are complete)."""
    videos = _videos(videos)
    todo, skipped = [], []
    for i, (v, d) in enumerate(zip(videos, output_dirs(videos, out))):
        (skipped.append((v, d)) if is_complete(d, key, save_video, v, fps, rotation) else todo.append((i, v, d)))
    return todo, skipped


def check_ray_videos(videos: list[Path]) -> None:
    """InputError when a recording is a folder of frames: --ray sends video files to the cluster."""
    folders = [v for v in videos if v.is_dir()]
    if folders:
        raise InputError(f"--ray sends each video file to the cluster; {folders[0]} is a folder of frames: "
                         "use --jobs N here, or encode the frames as a video")


def run_parallel(videos: str | Path | list[Path], out: Path | None, runtime: Any | None, cfg: SessionConfig,
                 console: Console, *, jobs: int | None = None, ray: str | None = None, save_video: bool = False,
                 device: str = "auto", threads: int | None = None, fps: float | None = None
                 ) -> tuple[list[tuple[Path, Path, dict[str, Any]]], list[tuple[Path, str]], list[tuple[Path, Path]]]:
    """``--jobs N`` (worker processes here; 0: :func:`mpt_live.pool.default_jobs`) or ``--ray ADDRESS``.
    ``fps``: the frame folders' frame rate. Returns (done, failed, skipped: videos whose outputs were
    already complete)."""
    if out is None:
        raise InputError("--out DIR is required with --jobs or --ray")
    videos = _videos(videos)
    check_fps(videos, fps, cfg.rotation)
    if ray is not None:
        check_ray_videos(videos)
    todo, skipped = plan(videos, out, run_key(runtime, cfg), save_video, fps, cfg.rotation)
    spec = BatchSpec(model=str(runtime.path) if runtime is not None else None, cfg=cfg, device=device,
                     threads=threads or 1, save_video=save_video, fps=fps)
    dirs, so_far = output_dirs(videos, out), []
    classes = tuple(ModelInfo.of(runtime).classes)
    several = len(videos) > 1  # one video: its folder is out, no batch's (its run's own marker guards it)

    def update(failed: list[tuple[Path, str]]) -> None:  # after each video: the batch's overview
        so_far[:] = failed
        write_overview(out, videos, dirs, failed, classes=classes)

    with claim_batch(out, {"classes": list(classes)}) if several else contextlib.nullcontext():
        if several:
            record_failures(out, [])  # an earlier run's list: its videos are tried again now
        update([])  # a rerun: the videos done before
        if not todo:
            return [], [], skipped
        try:
            if ray is not None:
                from .ray_batch import run_ray

                done, failed = run_ray(todo, spec, ray, console, after=update)
            else:
                from .pool import default_jobs, run_pool

                done, failed = run_pool(todo, spec, jobs or default_jobs(spec.threads), console, after=update)
        except KeyboardInterrupt:
            update(so_far)  # the stopped videos' summaries say interrupted
            raise
    if several:
        record_failures(out, failed)
    return done, failed, skipped
