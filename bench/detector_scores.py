"""The scores behind the tracker's rules for new faces and small faces, printed (counts and scores, never times).

``real``: BlazeFace short-range on every frame of each shared face video (whole frame and tiles): per video the
frames with a face, the lowest and the 5th percentile of each frame's best score (a real face), and the finds
scored under NEW_SCORE (0.75) apart (pyfeat_face_noface.mov: the blurry text in clouds), with the frames they span.
``rooms``: bench/small_faces.py's 1920x1080 room with one person's face H px tall (liveportrait_d6): short-range's
scores on it (whole frame and tiles, as the tracker searches) and full-range's in the square VOUCH_SIDE times its
size around it (FaceWatch.vouch's look); the other way round too (a run on full-range, short-range vouching).
``tapestry``: the speaker before a tapestry (mtcnn_ivan.jpg, framed as tests/test_tracks.py does): short-range's
finds off his face and full-range's best score around them.
``sface``: the room's face 140 px tall, embedded by SFace with the keypoints of the whole-frame detection (loose) and
with those short-range finds in a square CLOSER_SIDE times its size (the tracker's closer look): the 5th percentile
and median of the similarity of every two of its frames, beside the same face close up (the video itself).

    python bench/detector_scores.py [--frames 60] [--faces ../shared/data/faces] [--only real,rooms,tapestry,sface]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from mpt_live.face import FaceAligner  # noqa: E402
from mpt_live.face_confirm import NEW_SCORE  # noqa: E402
from mpt_live.face_watch import VOUCH_SIDE  # noqa: E402
from mpt_live.identity import FaceEmbedder, similarity  # noqa: E402
from mpt_live.machine import vector_extensions  # noqa: E402
from mpt_live.tiles import around, centred_in, searched_in_tiles  # noqa: E402
from mpt_live.tracks import CLOSER_SIDE  # noqa: E402

sys.path.append(str(Path(__file__).resolve().parent))  # bench/small_faces.py's room, beside this script
import small_faces  # noqa: E402

FACES = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "faces"
PARTS = ("real", "rooms", "tapestry", "sface")
HEIGHTS = (40, 60, 80, 100, 140, 200)


def found(aligner: FaceAligner, img: np.ndarray, t: float) -> list:
    """The tracker's search: the whole frame, and its tiles when they show faces larger (4:3 and wider)."""
    d = aligner.detect(img, t)
    return aligner.detect_tiles(img, d) if searched_in_tiles(img.shape) else d


def looked(aligner: FaceAligner, img: np.ndarray, box: tuple, side: float) -> list:
    """``aligner``'s finds centred in ``box``, in the square ``side`` times its size around it (frame px)."""
    crop, x0, y0 = around(img, tuple(int(v) for v in box), side)
    return [(d, x0, y0) for d in aligner.detect_tiles(crop, []) if centred_in(d, x0, y0, tuple(int(v) for v in box))]


def span(xs: list[float]) -> str:
    return f"{min(xs):.2f}-{max(xs):.2f}" if xs else "-"


def real(faces: Path, frames: int) -> None:
    """Every frame of each video (``frames`` is the other parts')."""
    print("\nreal: short-range on every frame of each shared video: frames with a face, its score lowest / p5; "
          f"finds under {NEW_SCORE:g}: count, scores, frames")
    for v in sorted((faces / "videos").iterdir()):
        cap, best, faint = cv2.VideoCapture(str(v)), [], []
        fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
        with FaceAligner(model="short") as a:
            for i in itertools.count():
                ok, img = cap.read()
                if not ok:
                    break
                ds = found(a, img, i / fps)
                strong = [d.score for d in ds if d.score >= NEW_SCORE]
                if strong:
                    best.append(max(strong))
                faint += [(i, d.score) for d in ds if d.score < NEW_SCORE]
        cap.release()
        n = i
        low = f"{min(best):.2f} / {np.percentile(best, 5):.2f}" if best else "-"
        where = f", frames {faint[0][0]}-{faint[-1][0]} ({len({f for f, _ in faint})})" if faint else ""
        print(f"  {v.name:<30} {len(best)}/{n} frames, {low}; under {NEW_SCORE:g}: {len(faint)}, "
              f"{span([s for _, s in faint])}{where}", flush=True)


def rooms(faces: Path, frames: int) -> None:
    print(f"\nrooms: one face H px tall in 1920x1080, {frames} frames: short-range's scores on it (frames found), "
          f"full-range's best in the square {VOUCH_SIDE:g}x its size; the other way round (a run on full-range, "
          f"short-range vouching)")
    with FaceAligner(model="short") as short, FaceAligner(model="full") as full:
        for h in HEIGHTS:
            s_scores, f_scores, f_own, s_around = [], [], [], []
            for i, (img, truth) in enumerate(small_faces.compose(faces, [h], frames)):
                for by, other, own, around in ((short, full, s_scores, f_scores), (full, short, f_own, s_around)):
                    on = [d for d in found(by, img, i / small_faces.FPS) if small_faces.on(d.box, truth[0])]
                    if on:
                        d = max(on, key=lambda d: d.score)
                        own.append(d.score)
                        around.append(max((x.score for x, _, _ in looked(other, img, d.box, VOUCH_SIDE)),
                                          default=0.0))
            print(f"  {h:>4} px: short-range {span(s_scores)} ({len(s_scores)}/{frames}), full-range around "
                  f"{span(f_scores)}; full-range {span(f_own)} ({len(f_own)}/{frames}), short-range around "
                  f"{span(s_around)}", flush=True)


def tapestry(faces: Path, frames: int) -> None:
    img = cv2.imread(str(faces / "photos" / "mtcnn_ivan.jpg"))
    x, y, s = 233, 56, 140  # his face (64 px) and the tapestry around it, as tests/test_tracks.py frames it
    tile = cv2.resize(img[y:y + s, x:x + s], (320, 320), interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(0)
    his, others, vouched, seen = [], [], [], 0
    with FaceAligner(model="short") as short, FaceAligner(model="full") as full:
        for i in range(frames):
            frame = np.full((320, 640, 3), 60, np.uint8)
            frame[:, 160:480] = np.clip(tile + rng.normal(0, 2, tile.shape), 0, 255).astype(np.uint8)
            ds = sorted(found(short, frame, i / 30), key=lambda d: -d.score)
            if ds:
                his.append(ds[0].score)
            seen += len(ds) > 1
            for d in ds[1:]:
                others.append(d.score)
                vouched.append(max((x.score for x, _, _ in looked(full, frame, d.box, VOUCH_SIDE)), default=0.0))
    print(f"\ntapestry: {frames} frames; his face short-range {span(his)}; other finds on {seen} frames, "
          f"short-range {span(others)}, full-range around them {span(vouched)}")


def sface(faces: Path, frames: int, height: int = 140) -> None:
    emb, loose, closer, close_up = FaceEmbedder(), [], [], []
    src = small_faces.squares(faces / "videos" / small_faces.PEOPLE[0], frames)
    with FaceAligner(model="short") as short:
        for i, (img, truth) in enumerate(small_faces.compose(faces, [height], frames)):
            on = [d for d in found(short, img, i / small_faces.FPS) if small_faces.on(d.box, truth[0])]
            if not on:
                continue
            d = max(on, key=lambda d: d.score)
            loose.append(emb.embed(img, d.keypoints))
            near = looked(short, img, d.box, CLOSER_SIDE)
            if near:
                x, x0, y0 = max(near, key=lambda n: n[0].score)
                closer.append(emb.embed(img, x.keypoints + np.array([x0, y0], dtype=np.float64)))
        for i, img in enumerate(src):
            ds = short.detect(img, (frames + i) / small_faces.FPS)
            if ds:
                close_up.append(emb.embed(img, ds[0].keypoints))

    def pairs(es: list) -> str:
        es = [e for e in es if e is not None]
        sims = [similarity(a, b) for a, b in itertools.combinations(es, 2)]
        return f"{np.percentile(sims, 5):.2f} / {np.median(sims):.2f} ({len(es)} frames)" if sims else "-"

    print(f"\nsface: {small_faces.PEOPLE[0]}'s face {height} px tall in 1920x1080; similarity of every two frames, "
          f"p5 / median: loose keypoints {pairs(loose)}; closer look {pairs(closer)}; close up {pairs(close_up)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=60, help="frames per room and tapestry (default 60)")
    ap.add_argument("--faces", type=Path, default=FACES)
    ap.add_argument("--only", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    a = ap.parse_args(argv)
    parts = [p for p in a.only.split(",") if p]
    if bad := [p for p in parts if p not in PARTS]:
        ap.error(f"--only {','.join(bad)}: expected some of {', '.join(PARTS)}")
    if a.frames < 2:
        ap.error(f"--frames {a.frames}: at least 2")
    if not (a.faces / "videos").is_dir():
        ap.error(f"{a.faces}: no videos/ folder of face videos (give --faces)")
    print(f"CPU vector extensions: {vector_extensions()}", flush=True)
    for p in parts:
        {"real": real, "rooms": rooms, "tapestry": tapestry, "sface": sface}[p](a.faces, a.frames)
    return 0


if __name__ == "__main__":
    sys.exit(main())
