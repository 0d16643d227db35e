"""CPU cost per face and frame of a 112 px model's alignment with its faces registered at 224 px (the
stabiliser's STABILIZE_MIN_SIZE, since 2026-12-05) against 112 px (before: a 56 px ECC image), alternated in
one run.

A shared face video's frames are detected once (BlazeFace short-range); each round then aligns them through
one track's :class:`~mpt_live.track_align.TrackAligner` (112 px, the spotter's 224 px face made too, detection
every 4th frame and followed between, as the session does) at each registration size, in turn, the order
swapped every round. CPU time by ``time.thread_time``; the median of the rounds. The README's "0.82 ms CPU more
per face and frame" is this difference (it said ~0.5 ms, measured with d27a19b by no script).

    python bench/registration_cost.py [--video ../shared/data/faces/videos/liveportrait_d6.mp4] [--frames 300]
        [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.append(str(Path(__file__).resolve().parent))  # bench/shared_faces.py, after the installed packages
from shared_faces import faces_folder  # noqa: E402

from mpt_live import track_align  # noqa: E402
from mpt_live.face import FaceAligner  # noqa: E402
from mpt_live.machine import vector_extensions  # noqa: E402

VIDEO = faces_folder() / "videos" / "liveportrait_d6.mp4"
SIZES = (224, 112)  # the registration now, and before


def frames_and_faces(video: Path, n: int) -> tuple[list[np.ndarray], list, float]:
    """The first ``n`` frames that show a face, each with its largest detection, and the video's frame rate."""
    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames, dets = [], []
    with FaceAligner(model="short") as a:
        i = 0
        while len(frames) < n:
            ok, img = cap.read()
            if not ok:
                break
            found = a.detect(img, i / fps)
            i += 1
            if found:
                frames.append(img)
                dets.append(found[0])
    cap.release()
    return frames, dets, fps


def align_cpu_ms(frames: list, dets: list, fps: float, registration: int, image_size: int = 112) -> float:
    """CPU ms per frame of one track's alignment with the stabiliser registering at ``registration`` px."""
    saved = track_align.STABILIZE_MIN_SIZE
    track_align.STABILIZE_MIN_SIZE = registration
    try:
        track = track_align.TrackAligner(image_size=image_size, motion_crop=True)
    finally:
        track_align.STABILIZE_MIN_SIZE = saved
    t0 = time.thread_time()
    for i, (img, det) in enumerate(zip(frames, dets)):
        res = None if track.due() else track.follow(img, i / fps)
        if res is None:
            track.align(img, det, i / fps)
    return 1000 * (time.thread_time() - t0) / len(frames)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", type=Path, default=VIDEO)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args(argv)
    if a.frames < 8 or a.rounds < 1:
        ap.error(f"--frames {a.frames} --rounds {a.rounds}: at least 8 frames and 1 round")
    if not a.video.is_file():
        ap.error(f"{a.video}: no such video")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"CPU vector extensions: {vector_extensions()}; {os.cpu_count()} cpus; load {load:.1f}", flush=True)
    frames, dets, fps = frames_and_faces(a.video, a.frames)
    if len(frames) < 8:
        ap.error(f"{a.video}: a face on {len(frames)} frames, at least 8 needed")
    cv2.setNumThreads(1)
    ms: dict[int, list[float]] = {s: [] for s in SIZES}
    for r in range(a.rounds):
        for s in SIZES if r % 2 == 0 else SIZES[::-1]:
            ms[s].append(align_cpu_ms(frames, dets, fps, s))
    now, before = (float(np.median(ms[s])) for s in SIZES)
    print(f"{a.video.name}, {len(frames)} frames, a 112 px model's track, CPU ms per face and frame (median of "
          f"{a.rounds} rounds, alternated): registered at {SIZES[0]} px {now:.2f}, at {SIZES[1]} px (before) "
          f"{before:.2f}; {now - before:+.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
