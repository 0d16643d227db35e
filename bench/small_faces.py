"""Small and distant faces in a 1920x1080 room view: found per face height and detector, and how well.

Real people (liveportrait_d6, and retalking_3_talking as the second person) are pasted into a synthetic
room (a gradient with blurred furniture blocks, sensor noise, a JPEG round trip per frame) so that their
face is H px tall (H: the height of full-range's face box on the person's video at 512 px, scaled), one
person in the middle of the frame or two at a table. Each composition runs through the session's face
stage (:class:`~mpt_live.face_watch.FaceWatch` and :class:`~mpt_live.tracks.FaceTracker` with SFace, as
``mpt-live`` runs it) with ``--detector short``, ``full`` and ``auto``. Per face: the share of frames where
a tracked face lies on it, and its eye distance over its height (median; 0.38-0.46 where the keypoints
are right), which says whether the aligned crop is scaled right. With ``auto``, the tracker's closer looks (a detector
pass on a square around a small face before each of its embeddings: ``tracking.closer_looks``) beside its embeddings.

``--spot``: the default input of ``make demo`` (four movements of 2-3 px on a ~180 px face) scaled so its
face is H px tall, pasted into the room and run through the whole session (motion-only, full-range): the
injected movements the spotter found, and the other events.

    python bench/small_faces.py [--frames 60] [--spot] [--faces ../shared/data/faces] [--crops DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.append(str(Path(__file__).resolve().parent))  # bench/shared_faces.py, after the installed packages
from shared_faces import faces_folder  # noqa: E402

from mpt_live.face import FaceAligner  # noqa: E402
from mpt_live.face_watch import FaceWatch  # noqa: E402
from mpt_live.identity import FaceEmbedder  # noqa: E402
from mpt_live.machine import vector_extensions  # noqa: E402
from mpt_live.tracks import FaceTracker  # noqa: E402
from train.compose import read_squares  # noqa: E402

W, H, FPS = 1920, 1080, 30.0
PEOPLE = ["liveportrait_d6.mp4", "retalking_3_talking.mp4"]
CASES = [[400], [200], [120], [80], [60], [40], [200, 200], [120, 120], [80, 80], [200, 80], [120, 60]]


def squares(path: Path, n: int) -> list[np.ndarray]:
    """The first ``n`` frames' centre squares (played backwards after the end)."""
    out = read_squares(path, count=n)[0]
    while len(out) < n:
        out += out[::-1][1:n - len(out) + 1]
    return out[:n]


def room(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    img = np.dstack([90 + 40 * np.sin(x / W * 2.0) + 20 * np.cos(y / H * 3.0)] * 3) * np.array([1.0, 0.95, 0.85])
    for _ in range(25):  # shelves, frames, furniture
        x0, y0, w, h = rng.integers(0, W), rng.integers(0, H), rng.integers(40, 500), rng.integers(40, 400)
        img[y0:y0 + h, x0:x0 + w] = rng.integers(30, 220, 3)
    return cv2.GaussianBlur(img.astype(np.uint8), (0, 0), 3)


def paste(canvas: np.ndarray, img: np.ndarray, cx: float, cy: float, w: int, h: int) -> None:
    """``img`` resized to w x h, centred at (cx, cy), through a soft ellipse (no hard tile edges)."""
    tile = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if w < img.shape[1] else cv2.INTER_LINEAR)
    x0, y0 = int(cx - w / 2), int(cy - h / 2)
    m = np.zeros((h, w), np.float32)
    cv2.ellipse(m, (w // 2, h // 2), (int(w * 0.46), int(h * 0.5)), 0, 0, 360, 1, -1)
    m = cv2.GaussianBlur(m, (0, 0), w * 0.04 + 0.5)[..., None]
    roi = canvas[y0:y0 + h, x0:x0 + w].astype(np.float32)
    canvas[y0:y0 + h, x0:x0 + w] = (roi * (1 - m) + tile * m).astype(np.uint8)


def face_box(img: np.ndarray, size: int = 512) -> tuple[float, float, float]:
    """Full-range's face height and centre on ``img`` resized to ``size``, as fractions of it."""
    with FaceAligner(model="full") as a:
        r = a.process_image(cv2.resize(img, (size, size)))
    x, y, w, h = r.box
    return h / size, (x + w / 2) / size, (y + h / 2) / size


def compose(faces: Path, heights: list[int], n: int, seed: int = 0) -> list[tuple[np.ndarray, list[tuple]]]:
    """Frames of the room with one or two people whose faces are ``heights`` px tall, and each face's box."""
    centres = [(W * 0.5, H * 0.42)] if len(heights) == 1 else [(W * 0.33, H * 0.45), (W * 0.70, H * 0.40)]
    srcs = [squares(faces / "videos" / p, n) for p in PEOPLE[:len(heights)]]
    fracs = [face_box(s[0]) for s in srcs]
    bg, rng, out = room(seed), np.random.default_rng(seed), []
    for i in range(n):
        c, truth = bg.copy(), []
        for s, (f, fx, fy), fh, (cx, cy) in zip(srcs, fracs, heights, centres):
            side = int(round(fh / f))
            paste(c, s[i], cx - (fx - 0.5) * side, cy - (fy - 0.5) * side, side, side)
            truth.append((cx - fh / 2, cy - fh / 2, fh, fh))
        c = np.clip(c + rng.normal(0, 2.0, c.shape), 0, 255).astype(np.uint8)
        c = cv2.imdecode(cv2.imencode(".jpg", c, [cv2.IMWRITE_JPEG_QUALITY, 85])[1], cv2.IMREAD_COLOR)
        out.append((c, truth))
    return out


def on(box: tuple, truth: tuple) -> bool:
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return truth[0] <= cx <= truth[0] + truth[2] and truth[1] <= cy <= truth[1] + truth[3]


def track(frames: list, detector: str, max_faces: int, crops: Path | None = None) -> tuple[list, list, str, str]:
    """Per face: share of frames found, median eye distance / face height; the detector that ran; the closer looks
    over the embeddings (``3 / 4``)."""
    k = len(frames[0][1])
    found, eyes = np.zeros(k), [[] for _ in range(k)]
    with FaceWatch(detector, max_faces, True) as watch:
        tracker = FaceTracker(watch.aligner, max_faces, FaceEmbedder(), vouch=watch.vouch)
        for i, (img, truth) in enumerate(frames):
            faces, _ = tracker.update(img, i / FPS)
            watch.see(img, i / FPS, faces, tracker)
            for j, tb in enumerate(truth):
                hit = [f for f in faces if on(f.face.box, tb)]
                if hit:
                    found[j] += 1
                    kps = hit[0].face.keypoints
                    eyes[j].append(float(np.hypot(*(kps[1] - kps[0]))) / tb[3])
                    if crops is not None and i == len(frames) - 1:
                        cv2.imwrite(str(crops / f"{'x'.join(str(int(t[3])) for t in truth)}_{detector}_face{j}.png"),
                                    hit[0].face.aligned)
        used, figures = watch.used, tracker.figures()
    looks = f"{figures['closer_looks']} / {figures['embeddings']}"
    return list(found / len(frames)), [float(np.median(e)) if e else None for e in eyes], used, looks


def spot(faces: Path, heights: list[int]) -> None:
    """The default input's movements found by the session per face height (motion-only, full-range)."""
    from mpt_live.demo_input import render_demo_clip
    from mpt_live.demo_report import match_events
    from mpt_live.session import Session, SessionConfig
    from mpt_live.sources import VideoFile

    def run(path: Path) -> str:
        with VideoFile(path) as src:
            session = Session(src, None, SessionConfig(detector="full", max_faces=1))
            for _ in session:
                pass
            s = session.summary()
        m = match_events(s["events"], truth["events"])
        hits = sum(x["found"] for x in m)
        return f"{hits} of {len(m)} | {len(s['events']) - hits} | {s['frames_with_face']} of {s['frames_read']}"

    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "demo.mp4"
        truth = render_demo_clip(clip)
        cap, frames = cv2.VideoCapture(str(clip)), []
        while (got := cap.read())[0]:
            frames.append(got[1])
        cap.release()
        with FaceAligner(model="full") as a:
            native = a.process_image(frames[0]).box[3]
        print("\n| face height (px) | movements found | other events | frames with a face |\n|---|---|---|---|")
        print(f"| {native} (the 640x480 input itself) | {run(clip)} |")
        bg = room(1)
        for fh in heights:
            k = fh / native
            w, h = int(640 * k), int(480 * k)
            path = Path(tmp) / f"room_{fh}.mp4"
            out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
            for img in frames:
                c = bg.copy()
                paste(c, img, W / 2, H * 0.42, w, h)
                out.write(c)
            out.release()
            print(f"| {fh} | {run(path)} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--faces", type=Path, default=faces_folder())
    ap.add_argument("--spot", action="store_true", help="also the default input's movements per face height")
    ap.add_argument("--crops", type=Path, help="write each face's last aligned crop here")
    a = ap.parse_args()
    if not (a.faces / "videos").is_dir():
        sys.exit(f"{a.faces}: no videos/ folder of face videos (give --faces)")
    if a.crops:
        a.crops.mkdir(parents=True, exist_ok=True)
    print(f"CPU vector extensions: {vector_extensions()}")
    print(f"{a.frames} frames of 1920x1080 per case; found: share of frames; eyes/h: eye distance over face height")
    print("\n| faces (px tall) | --max-faces | short: found | full: found | auto: found (ran) | eyes/h short / full | "
          "auto: closer looks / embeddings |")
    print("|---|---|---|---|---|---|---|")
    for heights in CASES:
        frames = compose(a.faces, heights, a.frames)
        mf = len(heights)
        res = {d: track(frames, d, mf, a.crops) for d in ("short", "full", "auto")}

        def fmt(xs: list) -> str:
            return " / ".join("-" if x is None else f"{x:.2f}" for x in xs)
        print(f"| {' + '.join(map(str, heights))} | {mf} | {fmt(res['short'][0])} | {fmt(res['full'][0])} | "
              f"{fmt(res['auto'][0])} ({res['auto'][2]}) | {fmt(res['short'][1])} ; {fmt(res['full'][1])} | "
              f"{res['auto'][3]} |", flush=True)
    if a.spot:
        spot(a.faces, [200, 120, 80, 60, 40])


if __name__ == "__main__":
    main()
