"""CPU of a small face's close-up alignment (mpt_live/tiles.py ``closer``): the face stage on a webcam-sized frame.

A real person (liveportrait_d6) is pasted into a 640x480 frame (sensor noise) with the face box ``--face`` px wide, a
small face there (at most a fifth of the frame's long side: :func:`~mpt_live.tiles.small_face`), and run through the
session's face stage (:class:`~mpt_live.tracks.FaceTracker` with SFace, a detection every ``DETECT_EVERY`` frames)
twice in one run: the rule now (a small face's box and keypoints found again in a square 3 times its size at each
detection, and used both to align and to embed it) and the rule before b2f22f5 (no close-up look at detection; the
tracker's own look before each embedding). Printed: process CPU per frame (its detector threads included), the
close-up detector passes, and the median eye distance of the tracked face over its box width (the alignment's scale).

    python bench/closer_cost.py [--frames 240] [--face 110] [--faces ../shared/data/faces]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.append(str(Path(__file__).resolve().parent))  # bench/shared_faces.py, after the installed packages
from shared_faces import faces_folder  # noqa: E402

import mpt_live.face as face  # noqa: E402
from mpt_live.face import FaceAligner  # noqa: E402
from mpt_live.identity import FaceEmbedder  # noqa: E402
from mpt_live.machine import vector_extensions  # noqa: E402
from mpt_live.tiles import small_face, small_in_frame  # noqa: E402
from mpt_live.tracks import FaceTracker  # noqa: E402
from train.compose import read_squares  # noqa: E402

W, H, FPS = 640, 480, 30.0


def frames(video: Path, n: int, px: int) -> list[np.ndarray]:
    """``n`` frames of 640x480: the video's centre squares (ping-pong) scaled so its face box is ``px`` wide."""
    squares = read_squares(video, count=min(n, 120))[0]
    while len(squares) < n:
        squares += squares[::-1][1:n - len(squares) + 1]
    with FaceAligner(model="short") as al:
        box = al.detect_image(squares[0])[0].box
    scale = px / box[2]
    rng = np.random.default_rng(0)
    out = []
    for sq in squares[:n]:
        small = cv2.resize(sq, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)[:H, :W]
        frame = np.clip(rng.normal(110, 4, (H, W, 3)), 0, 255).astype(np.uint8)
        y0, x0 = (H - small.shape[0]) // 2, (W - small.shape[1]) // 2
        frame[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
        out.append(frame)
    return out


def run(clip: list[np.ndarray], close: bool) -> tuple[float, int, int, float, int]:
    """(CPU ms a frame, close-up detector passes, tracked frames, median eyes / box width, small tracked frames)."""
    # the aligner's rules, of a whole-frame detection and of one found in a tile (the tracker's: kept)
    face.small_in_frame = small_in_frame if close else (lambda box, shape: False)
    face.small_face = small_face if close else (lambda box, shape: False)
    looks, eyes, small = [0], [], 0
    try:
        with FaceAligner(model="short", image_size=224, motion_crop=True, align="eyes") as al:
            tracker = FaceTracker(al, 1, FaceEmbedder())
            for fn in ("detect_image", "detect_tiles"):  # the close-up looks: the aligner's and the tracker's
                orig = getattr(al, fn)
                setattr(al, fn, lambda *a, _f=orig: looks.__setitem__(0, looks[0] + 1) or _f(*a))
            tracker.update(clip[0], 0.0)  # the detector's first inference, not counted
            looks[0] = 0
            c0 = time.process_time()
            for i, fr in enumerate(clip[1:], 1):
                for f in tracker.update(fr, i / FPS)[0]:
                    kp, box = f.face.keypoints, f.face.box
                    eyes.append(float(np.hypot(*(kp[1] - kp[0]))) / box[2])
                    small += small_face(box, fr.shape)
            cpu = (time.process_time() - c0) * 1000 / (len(clip) - 1)
    finally:
        face.small_face, face.small_in_frame = small_face, small_in_frame
    return cpu, looks[0], len(eyes), float(np.median(eyes)) if eyes else float("nan"), small


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=240)
    ap.add_argument("--face", type=int, default=110, help="face box width, px (small: at most 128 in 640x480)")
    ap.add_argument("--faces", type=Path, default=faces_folder())
    a = ap.parse_args(argv)
    video = a.faces / "videos" / "liveportrait_d6.mp4"
    if not video.is_file():
        sys.exit(f"--faces {a.faces}: no videos/liveportrait_d6.mp4 there")
    if a.frames < 2 or a.face < 16:
        sys.exit(f"--frames {a.frames} / --face {a.face}: need at least 2 frames and a 16 px face")
    clip = frames(video, a.frames, a.face)
    print(f"CPU: {vector_extensions()}; {W}x{H}, face {a.face} px, {a.frames} frames at {FPS:.0f} fps")
    print("| rule | CPU ms / frame | close-up passes | tracked frames (small) | eyes / box width |")
    print("|---|---|---|---|---|")
    for name, close in (("before b2f22f5 (look at embedding only)", False), ("now (look at each detection)", True)):
        cpu, looks, n, eyes, small = run(clip, close)
        print(f"| {name} | {cpu:.2f} | {looks} | {n} ({small}) | {eyes:.3f} |", flush=True)


if __name__ == "__main__":
    main()
