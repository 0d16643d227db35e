"""Offline processing of a recorded video: every frame in order, one CSV row per window.

Without a model this is the motion-only run (face, box, motion score, spotted events). Rows are
flushed as they are written; an interrupted run keeps a valid CSV and still writes its summary.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .clip import ClipSpec
from .events import Spotter
from .face import FaceAligner
from .motion import magnify_clip
from .sources import VideoFile
from .stream import ClipStream
from .writers import CSVSink, write_json

MOTION_COLUMNS = ["time_s", "frame", "face", "x", "y", "w", "h", "motion_score"]


def process_video(
    video: str | Path,
    out_dir: str | Path,
    spec: ClipSpec | None = None,
    stride: int = 4,
    detector: str = "short",
    spot_threshold: float = 4.0,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Motion-only run over ``video``; writes ``predictions.csv`` and ``summary.json`` in ``out_dir``."""
    spec = spec or ClipSpec()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    stats = {"frames_read": 0, "frames_with_face": 0, "windows": 0, "windows_scored": 0}
    spotter = Spotter(spec.window_s, threshold=spot_threshold)
    interrupted = False
    with VideoFile(video) as src, FaceAligner(image_size=spec.image_size, model=detector) as aligner, CSVSink(
        out_dir / "predictions.csv", MOTION_COLUMNS
    ) as sink:
        stream = ClipStream(spec, aligner, stride=stride, max_fps=max(src.fps, 1.0))
        try:
            for frame in src:
                stats["frames_read"] += 1
                w = stream.push(frame)
                if stream.last_face is not None:
                    stats["frames_with_face"] += 1
                if on_progress is not None:
                    on_progress(stats["frames_read"], src.frame_count)
                if w is None:
                    continue
                score = None
                if w.clip is not None:
                    _, score = magnify_clip(w.clip, spec)
                    stats["windows_scored"] += 1
                spotter.update(w.time_s, score)
                x, y, bw, bh = w.box if w.box is not None else (None,) * 4
                sink.write(
                    {"time_s": round(w.time_s, 4), "frame": w.frame, "face": w.has_face, "x": x, "y": y,
                     "w": bw, "h": bh, "motion_score": score}
                )
                stats["windows"] += 1
        except KeyboardInterrupt:
            interrupted = True
        fps = src.fps
        fps_assumed = src.fps_assumed
    seconds = time.perf_counter() - started
    summary = {
        "video": str(video),
        **stats,
        "source_fps": fps,
        "source_fps_assumed": fps_assumed,
        "video_seconds": stats["frames_read"] / fps if fps else 0.0,
        "seconds": round(seconds, 3),
        "fps": round(stats["frames_read"] / seconds, 2) if seconds > 0 else None,
        "mode": "motion-only",
        "stride": stride,
        "detector": detector,
        "clip_spec": spec.to_dict(),
        "spot_threshold": spot_threshold,
        "events": spotter.to_dicts(),
        "interrupted": interrupted,
    }
    write_json(out_dir / "summary.json", summary)
    if interrupted:
        raise KeyboardInterrupt
    return summary


def match_events(found: list[dict], truth: list[dict], tolerance_s: float = 0.1) -> list[dict]:
    """For each true event, the spotted event whose [start, end] overlaps it (within ``tolerance_s``)."""
    out = []
    for ev in truth:
        hit = next(
            (f for f in found if f["start"] <= ev["end"] + tolerance_s and f["end"] >= ev["start"] - tolerance_s),
            None,
        )
        out.append({**ev, "found": hit is not None, "spotted": hit})
    return out


def motion_scores(rows: list[dict]) -> np.ndarray:
    return np.array([float(r["motion_score"]) for r in rows if r.get("motion_score") not in ("", None)])
