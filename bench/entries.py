"""A second person entering a 4:3 frame whom only its squares find: how late the faces tracker finds them, and what
searching the squares costs, with the entry trigger (mpt_live/entries.py) and without it (the code before), in one run.

* **entries**: bench/identities.py's layout (a person 480 px and another 160 px side by side, bottom-aligned, in a
  640x480 frame; the small one's face about 65 px: the whole frame often misses it, its square finds it), the small
  one entering at each ``--at`` time (s): ``appear`` (there from one frame to the next) or ``slide`` (in from the
  right edge over 0.5 s). Per recording: frames from the entry's start to the first frame with an ID on the newcomer,
  square searches (every square) and detector runs on squares in the run, early searches the trigger asked for.
* **distractors**: bench/false_faces.py's 4:3 cases (``--frame 640x480``), a person beside a
  picture that is no face; per case and person the tracker's square searches, detector runs on squares, and the
  frames with an ID on the picture (must stay 0); the people are the first ``--people`` shared videos (``--faces``).
* **pair**: bench/square_search.py's recordings (both people there from the start: nobody enters), with
  its counts.
* **shared**: each shared video (``--faces``) made 4:3 (a wider one's centre cut out, a narrower one padded), its first
  300 frames: whether the faces and boxes of every frame are the same with the trigger and without, the square
  searches, the early ones.

The face stage is the session's (``FaceWatch`` auto and ``FaceTracker`` with SFace, ``--max-faces 2``); detector runs
on squares are counted by wrapping mpt_live.face.merge_tiles (the tracker's and the face watch's). People: held-out
photos animated as bench/identities.py does (``--photos DIR ...``; scripts/heldout_faces.py fetches two sets), else
the shared videos. No timings: counts.

    python bench/entries.py [--photos DIR ...] [--seconds 6] [--at 2.1,3.0] [--modes appear,slide] [--pairs N]
        [--size 160] [--only entries distractors pair shared] [--faces DIR] [--cases title,title_still,emoji,none] [--people 2]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # each of these benches takes bench/ off sys.path once imported
import identities  # noqa: E402  bench/identities.py: the people, the animation, the measure

sys.path.insert(0, str(HERE))
import false_faces  # noqa: E402  bench/false_faces.py: the distractor cases

sys.path.insert(0, str(HERE))
from square_search import Counted  # noqa: E402  bench/square_search.py: detector runs on a 640x480 frame's squares

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import mpt_live.tracks as tracks  # noqa: E402
from mpt_live.entries import EntryWatch  # noqa: E402
from mpt_live.face_watch import FaceWatch  # noqa: E402
from mpt_live.identity import FaceEmbedder  # noqa: E402
from mpt_live.machine import vector_extensions  # noqa: E402
from mpt_live.sources import VideoFile  # noqa: E402

FPS, W, H, BIG, SMALL, SLIDE_S = 30.0, 640, 480, 480, 160, 0.5
MODES = ("appear", "slide")
PARTS = ("entries", "distractors", "pair", "shared")


class Never(EntryWatch):
    """The code before: no early search of the squares."""

    def due(self, *args, **kwargs) -> bool:
        return False


@contextlib.contextmanager
def trigger(on: bool) -> Iterator[None]:
    """The faces tracker with the entry trigger (``on``) or without it (the code before)."""
    tracks.EntryWatch = EntryWatch if on else Never
    try:
        yield
    finally:
        tracks.EntryWatch = EntryWatch


def entering(big: Path, small: Path, at: float, mode: str, out: Path, seconds: float, size: int = SMALL) -> None:
    """The 640x480 recording: ``big`` on the left from the start, ``small`` (``size`` px) entering on the right,
    bottom-aligned, at ``at`` s."""
    a, b = identities.Player(big, BIG, seconds), identities.Player(small, size, seconds)
    vw = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    for i in range(int(round(seconds * FPS))):
        t, frame = i / FPS, np.full((H, W, 3), 60, np.uint8)
        frame[:, :BIG] = a.at(t)
        shown = 0 if t < at else size if mode == "appear" else min(size, int(size * (t - at) / SLIDE_S) + 1)
        if shown:
            frame[H - size:, W - shown:] = b.at(t)[:, :shown]
        vw.write(frame)
    vw.release()


def found_after(path: Path, at: float, counted: Counted) -> tuple[int | None, int, int, int]:
    """Frames from ``at`` to the first with an ID on the newcomer's side (None: never), frames with an ID on the first
    person, square searches (every square), early searches asked for."""
    first, big = None, 0
    with VideoFile(path) as src, FaceWatch("auto", 2, True) as watch:
        tracker = tracks.FaceTracker(watch.aligner, 2, FaceEmbedder(), vouch=watch.vouch)
        for frame in src:
            faces, _ = tracker.update(frame.image, frame.t)
            watch.see(frame.image, frame.t, faces, tracker)
            xs = [f.face.box[0] + f.face.box[2] / 2 for f in faces]
            big += any(x < BIG for x in xs)
            if first is None and frame.t >= at - 1e-6 and any(x >= BIG for x in xs):
                first = frame.index - int(round(at * FPS))
    return first, big, tracker.tile_searches, tracker.entries.early


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=Path, nargs="*", help="folders of photos of held-out people (animated)")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--at", default="2.1,3.0", help="entry times (s), comma-separated")
    ap.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    ap.add_argument("--size", type=int, default=SMALL, help="the entering person's side (px, at most 160)")
    ap.add_argument("--pairs", type=int, default=0, help="only the first N (big, small) pairs (0: each with the next)")
    ap.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS), help="the parts to run (default: all)")
    ap.add_argument("--faces", type=Path, default=false_faces.FACES, help="the shared face media (distractors)")
    ap.add_argument("--cases", default="title,title_still,emoji,none", help="the distractor cases")
    ap.add_argument("--people", type=int, default=2, help="people of the distractor cases (shared videos)")
    ap.add_argument("--distractor-seconds", type=float, default=12.0)
    a = ap.parse_args(argv)
    for folder in a.photos or []:
        if not folder.is_dir():
            sys.exit(f"--photos {folder}: no such folder")
    try:
        times = [float(x) for x in a.at.split(",") if x]
    except ValueError:
        sys.exit(f"--at {a.at}: expected times in seconds, comma-separated")
    if not times or any(not 0 <= x < a.seconds - 1 for x in times):
        sys.exit(f"--at {a.at}: each entry at least 1 s before the end (--seconds {a.seconds:g})")
    if not 16 <= a.size <= SMALL:
        sys.exit(f"--size {a.size}: expected 16 to {SMALL} px (the strip beside the {BIG} px person)")
    modes = [m for m in a.modes.split(",") if m]
    if not modes or any(m not in MODES for m in modes):
        sys.exit(f"--modes {a.modes}: expected some of {', '.join(MODES)}")
    cases = [c for c in a.cases.split(",") if c]
    if any(c not in false_faces.CASES for c in cases):
        sys.exit(f"--cases {a.cases}: expected some of {', '.join(false_faces.CASES)}")
    if {"distractors", "shared"} & set(a.only) and not (a.faces / "videos").is_dir():
        sys.exit(f"--faces {a.faces}: no videos/ folder of face videos there")
    print(f"CPU vector extensions: {vector_extensions()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp, Counted() as counted:
        who = identities.people(max(a.seconds, 11.0), a.photos, Path(tmp)) if {"entries", "pair"} & set(a.only) else []
        who = [w for w in who if w[1].parent == Path(tmp)] if a.photos else who
        if {"entries", "pair"} & set(a.only) and len(who) < 2:
            sys.exit(f"{len(who)} people with a face found, need 2")
        if "entries" in a.only:
            entries(who, a.pairs, times, modes, a.seconds, counted, Path(tmp) / "entry.mp4", a.size)
        if "distractors" in a.only:
            distractors(cases, a.faces, a.people, a.distractor_seconds, counted)
        if "pair" in a.only:
            pair(who, a.seconds, counted)
    if "shared" in a.only:
        shared(a.faces)


def entries(who: list, pairs: int, times: list[float], modes: list[str], seconds: float, counted: Counted,
            path: Path, size: int = SMALL) -> None:
    """Each person (big) with the next entering, at each time and in each mode: the delay and the squares' cost."""
    total = {on: [0, 0, 0, 0] for on in (False, True)}  # delay frames (found), square runs, searches, never found
    print(f"\n{BIG} px person, a {size} px one entering on the right of a {W}x{H} frame, {seconds:g} s; delay: "
          "frames from the entry to an ID on the newcomer; square searches / detector runs on squares / early "
          "searches; frames with an ID on the first person")
    print("| big + entering | entry | before: delay | searches / runs | now: delay | searches / runs / early | "
          "first person (before, now) |\n|---|---|---|---|---|---|---|", flush=True)
    for i, j in [(i, (i + 1) % len(who)) for i in range(len(who))][:pairs or None]:
        for at in times:
            for mode in modes:
                entering(who[i][1], who[j][1], at, mode, path, seconds, size)
                cells, bigs = [], []
                for on in (False, True):
                    counted.c = dict.fromkeys(counted.c, 0.0)
                    with trigger(on):
                        d, big, searches, early = found_after(path, at, counted)
                    runs = int(counted.c["square_runs"])
                    t = total[on]
                    t[0], t[1], t[2], t[3] = t[0] + (d or 0), t[1] + runs, t[2] + searches, t[3] + (d is None)
                    cells.append(("never" if d is None else f"{d}") + f" | {searches} / {runs}"
                                 + (f" / {early}" if on else ""))
                    bigs.append(str(big))
                print(f"| {who[i][0]} + {who[j][0]} | {mode} {at:g} s | {cells[0]} | {cells[1]} | "
                      f"{', '.join(bigs)} |", flush=True)
    for on in (False, True):
        print(f"{'now' if on else 'before'}: delay {total[on][0]} frames in all (never found: {total[on][3]}), "
              f"{total[on][2]} square searches, {total[on][1]} detector runs on squares", flush=True)


def distractors(cases: list[str], faces: Path, people: int, seconds: float, counted: Counted) -> None:
    """bench/false_faces.py's 4:3 cases: searches, detector runs on squares, frames with an ID on the picture."""
    n = int(seconds * FPS)
    with tempfile.TemporaryDirectory() as tmp:
        persons = false_faces.people(faces, None, seconds, Path(tmp))[:people or None]
        photo = cv2.imread(str(faces / "photos" / "face_recognition_rose_leslie.jpg"), cv2.IMREAD_COLOR)
        side = min(photo.shape[:2])  # its centre square, as bench/false_faces.py crops it
        photo = photo[:side, (photo.shape[1] - side) // 2:(photo.shape[1] + side) // 2]
        print(f"\nbench/false_faces.py --frame 640x480 cases, {seconds:g} s; square searches / detector runs on squares; "
              "share of frames with an ID on the picture")
        print("| case | person | before | now |\n|---|---|---|---|", flush=True)
        total = {on: [0, 0] for on in (False, True)}
        for case in cases:
            right = false_faces.distractor(case, faces, photo)
            for p in persons:
                cells = []
                for on in (False, True):
                    counted.c = dict.fromkeys(counted.c, 0.0)
                    with trigger(on):
                        r, _, _, searches = false_faces.run(p.at, right, n, False, None, (H, W), None)
                    runs = int(counted.c["square_runs"])
                    total[on][0], total[on][1] = total[on][0] + searches, total[on][1] + runs
                    cells.append(f"{searches} / {runs}, {r:.2f}")
                print(f"| {case} | {p.name} | {' | '.join(cells)} |", flush=True)
        for on in (False, True):
            print(f"distractors {'now' if on else 'before'}: {total[on][0]} square searches, {total[on][1]} detector "
                  "runs on squares", flush=True)


def pair(who: list, seconds: float, counted: Counted) -> None:
    """bench/square_search.py's recordings (480 px + 160 px from the start): its counts, before and now."""
    print("\n| 480 px + 160 px (nobody enters) | before: both / swaps / searches / runs | now |\n|---|---|---|",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pair.mp4"
        for i in range(len(who)):
            j = (i + 1) % len(who)
            truth = identities.sized([who[i][1], who[j][1]], [BIG, SMALL], path, seconds)
            cells = []
            for on in (False, True):
                with trigger(on):
                    r, c = counted.run(path, truth, False)
                cells.append(f"{100 * (r['both'] or 0):.1f} % / {r['swaps']} / {c['searches']:.0f} / "
                             f"{c['square_runs']:.0f}")
            print(f"| {who[i][0]} + {who[j][0]} | {' | '.join(cells)} |", flush=True)


def four_three(frame: np.ndarray) -> np.ndarray:
    """``frame`` made 4:3: a wider one's centre cut out, a narrower one padded on a grey backdrop."""
    h, w = frame.shape[:2]
    cw = h * 4 // 3
    if w >= cw:
        return np.ascontiguousarray(frame[:, (w - cw) // 2:(w - cw) // 2 + cw])
    out = np.full((h, cw, 3), 70, np.uint8)
    out[:, (cw - w) // 2:(cw - w) // 2 + w] = frame
    return out


def shared(faces: Path, frames: int = 300) -> None:
    """Each shared video made 4:3: the same faces with the trigger and without; square searches, early ones."""
    print("\n| shared video, 4:3 | frames | faces and boxes | square searches before / now (early) |\n|---|---|---|---|",
          flush=True)
    for video in sorted(p for p in (faces / "videos").iterdir() if p.suffix.lower() in identities.VIDEO_EXT):
        out: dict[bool, tuple] = {}
        for on in (False, True):
            seen = []
            with VideoFile(video) as src, trigger(on), FaceWatch("auto", 2, True) as watch:
                tracker = tracks.FaceTracker(watch.aligner, 2, FaceEmbedder(), vouch=watch.vouch)
                for frame in src:
                    if frame.index >= frames:
                        break
                    image = four_three(frame.image)
                    faces_now, _ = tracker.update(image, frame.t)
                    watch.see(image, frame.t, faces_now, tracker)
                    seen.append([(f.id, f.face.box) for f in faces_now])
            out[on] = seen, tracker.tile_searches, tracker.entries.early
        print(f"| {video.name} | {len(out[True][0])} | {'the same' if out[True][0] == out[False][0] else 'DIFFERENT'} | "
              f"{out[False][1]} / {out[True][1]} ({out[True][2]}) |", flush=True)


if __name__ == "__main__":
    main()
