"""Faces of wide frames: found and cost, with the tile search (mpt_live/tiles.py) and without it.

Two real people (liveportrait_d6 and retalking_3_talking of the faces folder) side by side on a grey
canvas of each size, each video scaled to SIZE px (their faces about 0.6 SIZE wide), run through the
session's face tracker (FaceTracker, --max-faces 2, no embedder) for N frames. Per canvas and size: the
frames with both faces, and the tracker's CPU ms per frame (process time: every thread of the process,
so an idle machine, where the detector's threads run in parallel, reads higher than a busy one), with
tiles (as mpt-live runs) and with the
tiles switched off (the baseline, the tracker before the tiles) in the same run. Also the cost of one
search: the whole frame once vs its squares.

With --only webcam: what searching a 4:3 frame's squares costs where it finds nothing, one person in a
640x480 frame (the demo input's astronaut, --max-faces 2 as a file runs), the face stage as mpt-live's
session runs it (FaceTracker with the face embedder and auto's FaceWatch: tracker.update and watch.see),
CPU ms per frame of the process (every thread), where the squares are searched (tiles.searched_in_tiles,
4:3 and wider) and where they were before 698f6d1 (tiles.is_wide, 3:2 and wider): passes alternating in
one run, so a loaded machine loads both alike.

    python bench/tiles.py [--frames 90] [--faces ../shared/data/faces] [--only wide|webcam] [--passes 4]
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

import mpt_live.face_watch as face_watch  # noqa: E402
import mpt_live.tracks as tracks  # noqa: E402
from mpt_live.demo_input import demo_animator  # noqa: E402
from mpt_live.face import FaceAligner  # noqa: E402
from mpt_live.identity import FaceEmbedder  # noqa: E402
from mpt_live.machine import vector_extensions  # noqa: E402
from mpt_live.tiles import is_wide, searched_in_tiles, tile_origins  # noqa: E402

CASES = [((480, 1280), 160), ((480, 1280), 300), ((720, 1280), 200), ((720, 1280), 360), ((1080, 1920), 300)]


def frames(videos: Path, n: int, canvas: tuple[int, int], size: int) -> list[np.ndarray]:
    caps = [cv2.VideoCapture(str(videos / "liveportrait_d6.mp4")), cv2.VideoCapture(str(videos / "retalking_3_talking.mp4"))]
    h, w = canvas
    out = []
    for _ in range(n):
        img = np.full((h, w, 3), 90, np.uint8)
        for cap, x in zip(caps, (w // 8, w - w // 8 - size)):
            ok, f = cap.read()
            if not ok:
                cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, f = cap.read()
            img[(h - size) // 2:(h + size) // 2, x:x + size] = cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA)
        out.append(img)
    return out


def run(imgs: list[np.ndarray], tiles: bool) -> tuple[int, float]:
    """Frames with both faces, tracker CPU ms per frame."""
    wide = tracks.searched_in_tiles
    tracks.searched_in_tiles = wide if tiles else (lambda shape: False)
    try:
        with FaceAligner() as aligner:
            tracker = tracks.FaceTracker(aligner, max_faces=2, embedder=None)
            tracker.update(imgs[0], 0.0)  # detector start-up outside the timing
            both, t0 = 0, time.process_time()
            for i, img in enumerate(imgs[1:], 1):
                both += len(tracker.update(img, i / 30)[0]) == 2
            return both, (time.process_time() - t0) * 1000 / (len(imgs) - 1)
    finally:
        tracks.searched_in_tiles = wide


def search_ms(img: np.ndarray, reps: int = 20) -> tuple[float, float]:
    with FaceAligner() as aligner:
        aligner.detect(img, 0.0)
        aligner.detect_tiles(img, [])
        t0 = time.process_time()
        for i in range(reps):
            aligner.detect(img, 1 + i / 30)
        whole = (time.process_time() - t0) * 1000 / reps
        t0 = time.process_time()
        for _ in range(reps):
            aligner.detect_tiles(img, [])
        return whole, (time.process_time() - t0) * 1000 / reps


def webcam_pass(imgs: list[np.ndarray], searched: object) -> tuple[float, int, int]:
    """The face stage on ``imgs`` with ``searched`` deciding where squares are searched: CPU ms per frame (process
    time), the tracker's tile searches, the frames with a face."""
    tracks.searched_in_tiles = face_watch.searched_in_tiles = searched
    try:
        with face_watch.FaceWatch("auto", 2, False) as watch:
            tracker = tracks.FaceTracker(watch.aligner, 2, FaceEmbedder(), vouch=watch.vouch)
            faces, _ = tracker.update(imgs[0], 0.0)  # start-up outside the timing
            watch.see(imgs[0], 0.0, faces, tracker)
            found, t0 = 0, time.process_time()
            for i, img in enumerate(imgs[1:], 1):
                faces, _ = tracker.update(img, i / 30)
                watch.see(img, i / 30, faces, tracker)
                found += bool(faces)
            return (time.process_time() - t0) * 1000 / (len(imgs) - 1), tracker.tile_searches, found
    finally:
        tracks.searched_in_tiles = face_watch.searched_in_tiles = searched_in_tiles


def webcam(n: int, passes: int) -> None:
    anim, _ = demo_animator(0)
    imgs = [anim.render(i / 30, i) for i in range(n)]
    print(f"\none person, 640x480 (the demo input, {n} frames, {n / 30:.1f} s), --max-faces 2, detector auto: "
          f"the face stage's CPU ms per frame, {passes} passes each, alternating")
    print("| pass | before 698f6d1 (is_wide): ms/frame, tile searches | now (searched_in_tiles): ms/frame, "
          "tile searches | frames with a face: before / now |")
    print("|---|---|---|---|")
    old, new = [], []
    for k in range(passes):
        (ms0, s0, f0), (ms1, s1, f1) = ((webcam_pass(imgs, is_wide), webcam_pass(imgs, searched_in_tiles)) if k % 2 == 0
                                        else reversed((webcam_pass(imgs, searched_in_tiles), webcam_pass(imgs, is_wide))))
        old.append(ms0)
        new.append(ms1)
        print(f"| {k + 1} | {ms0:.2f}, {s0} | {ms1:.2f}, {s1} | {f0} / {f1} of {n - 1} |", flush=True)
    m0, m1 = float(np.median(old)), float(np.median(new))
    print(f"median: before {m0:.2f} ms/frame, now {m1:.2f} ms/frame: {m1 - m0:+.2f} ms ({(m1 - m0) / m0:+.1%})")
    whole, squares = search_ms(imgs[0], 40)
    print(f"one search of its {len(tile_origins(imgs[0].shape)[1])} squares {squares:.2f} ms (the whole frame once "
          f"{whole:.2f} ms): {s1} searches in {n - 1} frames are {s1 * squares / (n - 1):.2f} ms/frame, "
          f"{s1 * squares / (n - 1) / m0:.1%} of the face stage before")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--faces", type=Path, default=faces_folder())
    ap.add_argument("--only", choices=("wide", "webcam"), help="one part: the wide canvases, or one person at 640x480")
    ap.add_argument("--passes", type=int, default=4, help="--only webcam: passes of each, alternating")
    args = ap.parse_args()
    videos = args.faces / "videos"
    if not (videos / "liveportrait_d6.mp4").is_file():
        sys.exit(f"error: {videos}: liveportrait_d6.mp4 and retalking_3_talking.mp4 not found (--faces)")
    print(f"CPU vector extensions: {vector_extensions()}; {os.cpu_count()} cpus; load {os.getloadavg()[0]:.2f}")
    if args.only == "webcam":
        webcam(args.frames, args.passes)
        return
    print(f"{args.frames} frames per case, two people side by side, FaceTracker --max-faces 2; CPU ms per frame")
    print("| canvas | video px (face ~0.6x) | both faces: tiles / baseline (no tiles) | CPU ms/frame: tiles / baseline "
          "| one search: whole frame / squares (n) |")
    print("|---|---|---|---|---|")
    for canvas, size in CASES:
        imgs = frames(videos, args.frames, canvas, size)
        (b1, ms1), (b0, ms0) = run(imgs, True), run(imgs, False)
        whole, tiled = search_ms(imgs[0])
        n = len(tile_origins(imgs[0].shape)[1])
        print(f"| {canvas[1]}x{canvas[0]} | {size} | {b1} / {b0} of {len(imgs) - 1} | {ms1:.2f} / {ms0:.2f} "
              f"| {whole:.2f} / {tiled:.2f} ({n}) |", flush=True)
    if args.only is None:
        webcam(args.frames, args.passes)


if __name__ == "__main__":
    main()
