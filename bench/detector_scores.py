"""The scores behind the tracker's rules for new faces and small faces, printed (counts and scores, never times).

``real``: BlazeFace short-range on every frame of each shared face video (whole frame and tiles): per video the
frames with a face, the lowest and the 5th percentile of each frame's best score (a real face), and the finds
scored under NEW_SCORE (0.75) apart (pyfeat_face_noface.mov: the blurry text in clouds), with the frames they span.
``rooms``: bench/small_faces.py's 1920x1080 room with one person's face H px tall (liveportrait_d6): short-range's
scores on it (whole frame and tiles, as the tracker searches) and full-range's in the square VOUCH_SIDE times its
size around it (FaceWatch.vouch's look); the other way round too (a run on full-range, short-range vouching).
``tapestry``: the speaker before a tapestry (mtcnn_ivan.jpg, framed as tests/test_tracks.py does): short-range's
finds off his face and full-range's best score around them.
``squares``: a 640x480 frame, one person 480 px at its left and another SMALL px (160 and 130) at its bottom right
(bench/identities.py's 480 + 160 layout; tests/test_tiles.py's 130): the small face's best score, short-range and
full-range, on the whole frame and on its 480 px square (the right one, as the trackers search a 4:3 frame), the
lowest-highest over the frames (the detectors' floor of 0.5 lowered to 0.01, so faces they miss show their scores);
pairs of the shared videos, or ``--pair BIG SMALL`` (videos of other people).
``sface``: the room's face 140 px tall, embedded by SFace with the keypoints of the whole-frame detection (loose) and
with those short-range finds in a square CLOSER_SIDE times its size (the tracker's closer look): the 5th percentile
and median of the similarity of every two of its frames, beside the same face close up (the video itself).

    python bench/detector_scores.py [--frames 60] [--faces ../shared/data/faces]
        [--only real,rooms,tapestry,squares,sface] [--pair BIG.mp4 SMALL.mp4 ...]
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
from shared_faces import faces_folder  # noqa: E402
import small_faces  # noqa: E402

FACES = faces_folder()
PARTS = ("real", "rooms", "tapestry", "squares", "sface")
PAIRS = (("liveportrait_d6.mp4", "retalking_3_talking.mp4"), ("liveportrait_d6.mp4", "liveportrait_d0.mp4"))
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


def squares(pairs: list[tuple[Path, Path]], frames: int) -> None:
    print("\n640x480: BIG 480 px at the left, SMALL at the bottom right; the small face's best score (lowest-highest "
          "over the frames; the detectors' 0.5 floor lowered to 0.01: '-', not found even so), on the whole frame and "
          "on its 480 px square")
    print("| big | small | px | short-range: whole / square | full-range: whole / square |\n|---|---|---|---|---|")
    with (FaceAligner(model="short", min_confidence=0.01) as short,
          FaceAligner(model="full", min_confidence=0.01) as full):
        for big, small in pairs:
            for px in (160, 130):
                caps = [cv2.VideoCapture(str(big)), cv2.VideoCapture(str(small))]
                got: dict[tuple[str, str], list[float]] = {}
                for i in range(frames):
                    reads = [cap.read() for cap in caps]
                    if not all(ok for ok, _ in reads):
                        break
                    img = np.full((480, 640, 3), 90, np.uint8)
                    img[:, :480] = cv2.resize(reads[0][1], (480, 480), interpolation=cv2.INTER_AREA)
                    img[480 - px:, 640 - px:] = cv2.resize(reads[1][1], (px, px), interpolation=cv2.INTER_AREA)
                    for name, det in (("short", short), ("full", full)):
                        for where, x0 in (("whole", 0), ("square", 160)):
                            ds = det.detect(img[:, x0:x0 + (640 if where == "whole" else 480)], i / 30)
                            scores = [d.score for d in ds if d.box[0] + x0 + d.box[2] / 2 >= 480]
                            if scores:
                                got.setdefault((name, where), []).append(max(scores))
                for cap in caps:
                    cap.release()
                cell = [span(got.get((m, w), [])) for m in ("short", "full") for w in ("whole", "square")]
                print(f"| {big.stem} | {small.stem} | {px} | {cell[0]} / {cell[1]} | {cell[2]} / {cell[3]} |",
                      flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=60, help="frames per room and tapestry (default 60)")
    ap.add_argument("--faces", type=Path, default=FACES)
    ap.add_argument("--only", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    ap.add_argument("--pair", nargs=2, action="append", type=Path, metavar=("BIG", "SMALL"),
                    help="squares: two videos (the 480 px person, the small one); default: pairs of the shared videos")
    a = ap.parse_args(argv)
    parts = [p for p in a.only.split(",") if p]
    if bad := [p for p in parts if p not in PARTS]:
        ap.error(f"--only {','.join(bad)}: expected some of {', '.join(PARTS)}")
    if a.frames < 2:
        ap.error(f"--frames {a.frames}: at least 2")
    if not (a.faces / "videos").is_dir():
        ap.error(f"{a.faces}: no videos/ folder of face videos (give --faces)")
    print(f"CPU vector extensions: {vector_extensions()}", flush=True)
    videos = a.faces / "videos"
    pairs = [tuple(p) for p in a.pair] if a.pair else [(videos / b, videos / s) for b, s in PAIRS]
    if missing := [str(v) for p in pairs for v in p if not v.is_file()]:
        ap.error(f"--pair: {missing[0]}: no such video file")
    for p in parts:
        if p == "squares":
            squares(pairs, a.frames)
        else:
            {"real": real, "rooms": rooms, "tapestry": tapestry, "sface": sface}[p](a.faces, a.frames)
    return 0


if __name__ == "__main__":
    sys.exit(main())
