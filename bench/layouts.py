"""Video calls whose layout changes: does each person keep their ID, and their predictions, across the change?

Recorded calls change layout all the time: a participant's tile appears or leaves (the others stay where they
were), speaker view becomes gallery view (the speaker's face moves and shrinks) and back, a shared screen (no face)
fills the frame for a while. Each case is composed with ``train/compose.py``'s :func:`~train.compose.video_call`
(960x540, 30 fps, two shared people A and B, each video playing on through the changes) and run through the
session's face stage (``FaceWatch`` and ``FaceTracker`` with SFace, as ``mpt-live --max-faces 2`` builds them). A
person's buffer restarts, as the session's does, on a camera cut, on a cut of its face's region, on a new appearance
(not tracked on the frame before) and when its ID changes.

Per case and person it prints: ``tracked``, the share of the frames showing the person where the person carries an
ID; ``IDs``, the lasting IDs (5 frames or more) the person got; ``back``, whether the person's ID after each change
is the last one it had before (``-``: not shown before, or not after); ``lost``, per change, the frames of the 2 s
after it (up to the next change) where the person is shown but has no full buffer (less than ``window_s``, 1 s, of
one appearance: no prediction); and per case the ID swaps (an ID found on one person, later on another) and cuts /
face cuts counted. A face whose own tile did not change should lose 0 frames; one that moved, resized or was hidden
restarts its buffer (about 30 frames), as does a newcomer.
No timings are taken.

    nice python bench/layouts.py [--pairs N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.append(str(Path(__file__).resolve().parent))  # bench/shared_faces.py, after the installed packages
from shared_faces import faces_folder  # noqa: E402

from mpt_live.clip import ClipSpec  # noqa: E402
from mpt_live.face_watch import FaceWatch  # noqa: E402
from mpt_live.identity import FaceEmbedder  # noqa: E402
from mpt_live.machine import vector_extensions  # noqa: E402
from mpt_live.sources import VideoFile  # noqa: E402
from mpt_live.tracks import FaceTracker  # noqa: E402
from train.compose import Layout, Tile, video_call  # noqa: E402

FACES = faces_folder() / "videos"
FPS = 30.0
PAIRS = [("paddlegan_fom_dv.mp4", "liveportrait_d6.mp4"), ("liveportrait_d19_glasses.mp4", "retalking_3_talking.mp4"),
         ("liveportrait_d3_expressive.mp4", "evm_face_still.mp4")]


def speaker(p: int) -> Tile:
    return Tile(p, 210, 0, 540)


def left(p: int) -> Tile:
    return Tile(p, 0, 30, 480)


def right(p: int) -> Tile:
    return Tile(p, 480, 30, 480)


# name -> layouts (A = 0, B = 1)
CASES = {
    "tile appears": [Layout(2.5, (left(0),)), Layout(2.5, (left(0), right(1)))],
    "tile leaves": [Layout(2.5, (left(0), right(1))), Layout(2.5, (left(0),))],
    "B moves, A stays": [Layout(2.5, (left(0), right(1))), Layout(2.5, (left(0), Tile(1, 560, 180, 320)))],
    "speaker -> gallery": [Layout(2.5, (speaker(0),)), Layout(2.5, (left(1), right(0)))],
    "gallery -> speaker": [Layout(2.5, (left(0), right(1))), Layout(2.5, (speaker(1),))],
    "screen share": [Layout(2.5, (left(0), right(1))), Layout(1.5, share=True), Layout(2.5, (left(0), right(1)))],
    "speaker cuts": [Layout(2.5, (speaker(0),)), Layout(2.5, (speaker(1),)), Layout(2.5, (speaker(0),))],
}


def measure(video: Path, truth: list[tuple[Tile, ...]], changes: list[int], window: int) -> dict:
    """The face stage over ``video``: per person its IDs by frame and whether its buffer is full (a prediction)."""
    who: dict[int, list[int | None]] = {p: [] for row in truth for p in (t.person for t in row)}
    full: dict[int, list[bool]] = {p: [] for p in who}
    run: dict[int, tuple[int | None, int]] = {}  # person -> (ID, frames buffered in its current appearance)
    with VideoFile(video) as src, FaceWatch("auto", 2, True) as watch:
        tracker = FaceTracker(watch.aligner, 2, FaceEmbedder(), vouch=watch.vouch)
        for frame, row in zip(src, truth):
            faces, _ = tracker.update(frame.image, frame.t)
            watch.see(frame.image, frame.t, faces, tracker)
            ids = {}
            for f in faces:
                cx, cy = f.face.box[0] + f.face.box[2] / 2, f.face.box[1] + f.face.box[3] / 2
                on = [t.person for t in row if t.x <= cx < t.x + t.size and t.y <= cy < t.y + t.size]
                if on:
                    ids[on[0]] = f.id
            for p in who:
                shown = any(t.person == p for t in row)
                fid = ids.get(p)
                was, n = run.get(p, (None, 0))
                restart = fid is None or fid != was or tracker.cut or fid in tracker.cut_ids
                run[p] = (fid, 0 if fid is None else 1 if restart else n + 1)
                who[p].append(fid if shown else None)
                full[p].append(shown and run[p][1] >= window)
        cuts = (tracker.cuts, tracker.face_cuts)
    out = {"cuts": cuts, "people": {}}
    owners: dict[int, set[int]] = {}
    for p, seq in who.items():
        shown = [i for i, row in enumerate(truth) if any(t.person == p for t in row)]
        count = Counter(i for i in seq if i is not None)
        for i in count:
            owners.setdefault(i, set()).add(p)
        back, lost = [], []
        for c, end in zip(changes, changes[1:] + [len(seq)]):
            before = [seq[i] for i in range(c) if seq[i] is not None]
            after = [seq[i] for i in range(c, end) if seq[i] is not None]
            back.append("-" if not before or not after else "yes" if Counter(after).most_common(1)[0][0] == before[-1]
                        else "NO")
            span = [i for i in range(c, min(c + int(2 * FPS), end)) if i in shown]
            lost.append(sum(not full[p][i] for i in span) if span else "-")
        out["people"][p] = {"tracked": sum(seq[i] is not None for i in shown) / len(shown),
                            "ids": sorted(i for i, n in count.items() if n >= 5), "back": back, "lost": lost}
    out["swaps"] = sum(len(s) - 1 for s in owners.values())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=2, help=f"how many pairs of people (1-{len(PAIRS)})")
    a = ap.parse_args()
    if not FACES.is_dir():
        sys.exit(f"{FACES}: no folder of face videos")
    window = round(ClipSpec().window_s * FPS)
    print(f"CPU vector extensions: {vector_extensions()}", flush=True)
    print("| case | people | person | tracked | IDs | back after each change | lost frames per change | swaps |"
          " cuts / face cuts |\n|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for na, nb in PAIRS[:a.pairs]:
            for name, layouts in CASES.items():
                path = Path(tmp) / "call.mp4"
                truth = video_call([FACES / na, FACES / nb], layouts, path, fps=FPS)
                changes = [round(sum(lay.seconds for lay in layouts[:k]) * FPS) for k in range(1, len(layouts))]
                r = measure(path, truth, changes, window)
                for p, f in r["people"].items():
                    print(f"| {name} | {Path(na).stem} / {Path(nb).stem} | {'AB'[p]} | {100 * f['tracked']:.1f} % | "
                          f"{f['ids']} | {' '.join(f['back'])} | {' '.join(map(str, f['lost']))} | {r['swaps']} | "
                          f"{r['cuts'][0]} / {r['cuts'][1]} |", flush=True)


if __name__ == "__main__":
    main()
