"""CPU of a small face's close-up alignment (mpt_live/tiles.py ``closer``): the face stage on a webcam-sized frame.

A real person (liveportrait_d6) is pasted into a 640x480 frame (sensor noise) with the face box ``--face`` px wide, a
small face there (at most a fifth of the frame's long side: :func:`~mpt_live.tiles.small_face`), and run through the
session's face stage (:class:`~mpt_live.tracks.FaceTracker` with SFace, a detection every ``DETECT_EVERY`` frames)
twice in one run: the rule now (a small face's box and keypoints found again in a square 3 times its size at each
detection, and used both to align and to embed it) and the rule before b2f22f5 (no close-up look at detection; the
tracker's own look before each embedding). Printed: process CPU per frame (its detector threads included), the
close-up detector passes, and the median eye distance of the tracked face over its box width (the alignment's scale).

With --only interview: common interview and webcam frames whose faces the whole frame squeezes to its detector's input
(``tiles.small_in_frame``: at most 0.2 of the long side): 1920x1080 with one person (300 px face) and two (250 and 380
px), 1280x720 with one (200 px). Each person is a video scaled so its face box is that wide (``--people``: videos, or
photos animated by :func:`mpt_live.demo_input.demo_animator`; default the faces folder's liveportrait_d6 and
retalking_3_talking) on a noisy canvas, run through the face stage (FaceTracker with SFace, ``--max-faces`` the people)
under both rules in one run: before 671416b (small against the tile: no look for these faces) and now (a look at each
detection). Printed per rule: CPU ms a frame and close-up passes; and on every DETECT_EVERY-th frame the keypoints
(eyes, nose, mouth) the whole frame gives each small face against its close-up look's, in its eye distances (median,
max).

    python bench/closer_cost.py [--frames 240] [--face 110] [--faces ../shared/data/faces] [--only interview]
        [--people a.jpg b.mp4]
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
from mpt_live.demo_input import demo_animator  # noqa: E402
from mpt_live.face import FaceAligner  # noqa: E402
from mpt_live.identity import FaceEmbedder  # noqa: E402
from mpt_live.machine import vector_extensions  # noqa: E402
from mpt_live.tiles import closer, small_face, small_in_frame  # noqa: E402
from mpt_live.tracker import DETECT_EVERY  # noqa: E402
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


RULES = {"before b2f22f5 (look at embedding only)": "none", "before 671416b (small against the tile)": "tile",
         "now (look at each detection)": "now"}


def run(clip: list[np.ndarray], rule: str, faces: int = 1) -> tuple[float, int, int, float, int]:
    """(CPU ms a frame, close-up detector passes, tracked face-frames, median eyes / box width, small tracked
    face-frames) of the face stage under ``rule`` (a value of :data:`RULES`)."""
    # the aligner's rules, of a whole-frame detection and of one found in a tile (the tracker's: kept)
    face.small_in_frame = {"none": lambda box, shape: False, "tile": small_face}.get(rule, small_in_frame)
    face.small_face = small_face if rule != "none" else (lambda box, shape: False)
    looks, eyes, small = [0], [], 0
    try:
        with FaceAligner(model="short", image_size=224, motion_crop=True, align="eyes") as al:
            tracker = FaceTracker(al, faces, FaceEmbedder())
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


def person(path: Path, n: int, px: int) -> list[np.ndarray]:
    """``n`` frames of a video (ping-pong), or of a photo animated by the demo's animator, scaled so the face box of
    its first frame is ``px`` wide."""
    if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
        anim, _ = demo_animator(1, path)
        shots = [anim.render(i / FPS, i) for i in range(n)]
    else:
        cap, shots = cv2.VideoCapture(str(path)), []
        while len(shots) < min(n, 150) and (ok := cap.read())[0]:
            shots.append(ok[1])
        while shots and len(shots) < n:
            shots += shots[::-1][1:n - len(shots) + 1]
    if not shots:
        sys.exit(f"--people {path}: no frames read")
    with FaceAligner(model="short") as al:
        found = al.detect_image(shots[0])
    if not found:
        sys.exit(f"--people {path}: no face found in its first frame")
    s = px / found[0].box[2]
    return [cv2.resize(f, None, fx=s, fy=s, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
            for f in shots[:n]]


def canvas(shape: tuple[int, int], people: list[list[np.ndarray]], i: int, rng: np.random.Generator) -> np.ndarray:
    """Frame ``i``: the people side by side, each centred in its share of a noisy ``shape`` (h, w) canvas."""
    h, w = shape
    img = np.clip(rng.normal(100, 4, (h, w, 3)), 0, 255).astype(np.uint8)
    slot = w // len(people)
    for k, frames_ in enumerate(people):
        f = frames_[i]
        fh, fw = min(f.shape[0], h), min(f.shape[1], slot)
        y, x = (f.shape[0] - fh) // 2, (f.shape[1] - fw) // 2
        img[(h - fh) // 2:(h - fh) // 2 + fh, k * slot + (slot - fw) // 2:k * slot + (slot - fw) // 2 + fw] = \
            f[y:y + fh, x:x + fw]
    return img


def errors(clip: list[np.ndarray]) -> list[float]:
    """On every DETECT_EVERY-th frame, each small face's keypoints (eyes, nose, mouth) of the whole frame against its
    close-up look's (tiles.closer): mean distance over its eye distance there."""
    out = []
    face.small_in_frame = lambda box, shape: False  # the aligner's detect: the whole frame's own detections
    try:
        with FaceAligner(model="short") as al:
            for i in range(0, len(clip), DETECT_EVERY):
                for d in al.detect(clip[i], i / FPS):
                    if small_in_frame(d.box, clip[i].shape):
                        r = closer(d, clip[i], al.detect_image)
                        eye = float(np.hypot(*(r.keypoints[1] - r.keypoints[0])))
                        out.append(float(np.linalg.norm(d.keypoints[:4] - r.keypoints[:4], axis=1).mean()) / eye)
    finally:
        face.small_in_frame = small_in_frame
    return out


INTERVIEWS = [((1080, 1920), (300,)), ((1080, 1920), (250, 380)), ((720, 1280), (200,))]


def interview(people: list[Path], n: int) -> None:
    print(f"CPU: {vector_extensions()}; {n} frames at {FPS:.0f} fps; people: {', '.join(p.name for p in people)}")
    print("| frame, faces px | rule | CPU ms / frame | close-up passes | tracked face-frames |")
    print("|---|---|---|---|---|")
    errs = []
    for shape, sizes in INTERVIEWS:
        ppl = [person(people[k % len(people)], n, px) for k, px in enumerate(sizes)]
        rng = np.random.default_rng(0)
        clip = [canvas(shape, ppl, i, rng) for i in range(n)]
        case = f"{shape[1]}x{shape[0]}, {' + '.join(map(str, sizes))}"
        for name, rule in list(RULES.items())[1:]:
            cpu, looks, tracked, _, _ = run(clip, rule, len(sizes))
            print(f"| {case} | {name} | {cpu:.2f} | {looks} | {tracked} |", flush=True)
        errs.append((case, errors(clip)))
    print("\nkeypoints (eyes, nose, mouth) of the whole frame against the close-up look's, in eye distances")
    print("| frame, faces px | small detections | median | max |")
    print("|---|---|---|---|")
    for case, whole in errs:
        print(f"| {case} | {len(whole)} | {np.median(whole):.3f} | {max(whole):.3f} |" if whole else f"| {case} | 0 | - | - |")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=240)
    ap.add_argument("--face", type=int, default=110, help="face box width, px (small: at most 128 in 640x480)")
    ap.add_argument("--faces", type=Path, default=faces_folder())
    ap.add_argument("--only", choices=("interview",), help="1080p and 720p frames of 200-380 px faces, three rules")
    ap.add_argument("--people", type=Path, nargs="+", help="--only interview: videos or photos (default: two of --faces)")
    a = ap.parse_args(argv)
    video = a.faces / "videos" / "liveportrait_d6.mp4"
    people = a.people or [video, a.faces / "videos" / "retalking_3_talking.mp4"]
    if missing := [str(p) for p in ([video] if a.only is None else people) if not p.is_file()]:
        sys.exit(f"--faces {a.faces} / --people: {', '.join(missing)}: no such file")
    if a.frames < 2 or a.face < 16:
        sys.exit(f"--frames {a.frames} / --face {a.face}: need at least 2 frames and a 16 px face")
    if a.only == "interview":
        interview(people, a.frames)
        return
    clip = frames(video, a.frames, a.face)
    print(f"CPU: {vector_extensions()}; {W}x{H}, face {a.face} px, {a.frames} frames at {FPS:.0f} fps")
    print("| rule | CPU ms / frame | close-up passes | tracked frames (small) | eyes / box width |")
    print("|---|---|---|---|---|")
    for name, rule in RULES.items():
        if rule == "tile":  # the same as now at 4:3
            continue
        cpu, looks, n, eyes, small = run(clip, rule)
        print(f"| {name} | {cpu:.2f} | {looks} | {n} ({small}) | {eyes:.3f} |", flush=True)


if __name__ == "__main__":
    main()
