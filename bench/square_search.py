"""A small followed face of a 4:3 frame found only in its square: what searching the squares costs, only its square
(mpt_live/tiles.py squares_of, as mpt-live runs) against every square (the baseline, before) in the same run.

bench/identities.py's layout: one person 480 px and another 160 px side by side, bottom-aligned, in a 640x480 frame
(the small one's face about 65 px: the whole frame often misses it, its square finds it), each person with the next
round the ring (with two people, the one pair: A+B and B+A once each, not twice), both orders, through the face stage as bench/identities.py measures it (FaceTracker with the face embedder and auto's
FaceWatch). Per recording and rule: square searches, detector runs on squares and their CPU ms (process time, every
thread), whole-frame detector runs, frames with both faces, ID swaps. Held-out people: --photos FOLDER ... (photos,
animated as bench/identities.py does; scripts/heldout_faces.py fetches two sets), else the shared videos.

    python bench/square_search.py [--photos DIR ...] [--seconds 7]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import identities  # bench/identities.py: the layout, the animation and the measure

from mpt_live import face
from mpt_live.machine import vector_extensions

COUNTS = ("searches", "square_runs", "square_cpu", "frame_runs")


class Counted:
    """Counts the face stage's detector runs on a 640x480 frame and on its squares (wrapping mpt_live.face's
    merge_tiles and FaceAligner.detect), and switches to every square (``every``: the rule before squares_of).
    A context manager: the wrappers are in place inside ``with Counted() as counted:`` only, and mpt_live.face's own
    functions are back after it, however it ends."""

    def __init__(self) -> None:
        self.c = dict.fromkeys(COUNTS, 0.0)
        self.every = False

    def __enter__(self) -> "Counted":
        merge, detect, squares = face.merge_tiles, face.FaceAligner.detect, face.squares_of
        self._own = merge, detect, squares

        def merge_tiles(found, frame, det, *only):
            if frame.shape[:2] != (480, 640):
                return merge(found, frame, det, *only)
            self.c["searches"] += 1

            def timed(im):
                t0 = time.process_time()
                out = det(im)
                self.c["square_runs"] += 1
                self.c["square_cpu"] += time.process_time() - t0
                return out
            return merge(found, frame, timed, *only)

        def counted(aligner, frame, t):
            self.c["frame_runs"] += frame.shape[:2] == (480, 640)
            return detect(aligner, frame, t)

        face.merge_tiles, face.FaceAligner.detect = merge_tiles, counted
        face.squares_of = lambda shape, boxes: None if self.every else squares(shape, boxes)
        return self

    def __exit__(self, *exc: object) -> None:
        face.merge_tiles, face.FaceAligner.detect, face.squares_of = self._own

    def run(self, path: Path, truth: list, every: bool) -> tuple[dict, dict]:
        self.every, self.c = every, dict.fromkeys(COUNTS, 0.0)
        return identities.measure(path, truth), self.c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=Path, nargs="*", help="folders of photos of held-out people (animated)")
    ap.add_argument("--seconds", type=float, default=7.0)
    args = ap.parse_args()
    for folder in args.photos or []:
        if not folder.is_dir():
            sys.exit(f"--photos {folder}: no such folder")
    print(f"CPU vector extensions: {vector_extensions()}", flush=True)
    print("| 480 px + 160 px | rule | both faces | swaps | square searches | detector runs on squares (CPU ms each) "
          "| whole-frame runs |\n|---|---|---|---|---|---|---|", flush=True)
    total = {True: [0.0, 0.0], False: [0.0, 0.0]}
    with tempfile.TemporaryDirectory() as tmp, Counted() as counted:
        who = identities.people(args.seconds, args.photos, Path(tmp))
        who = [w for w in who if w[1].parent == Path(tmp)] if args.photos else who
        if len(who) < 2:
            sys.exit(f"--photos: {len(who)} people with a face found, need 2")
        path = Path(tmp) / "pair.mp4"
        for i in range(len(who) if len(who) > 2 else 1):  # two people: one pair round the ring, not the same twice
            j = (i + 1) % len(who)
            for a, b in ((i, j), (j, i)):
                truth = identities.sized([who[a][1], who[b][1]], [480, 160], path, args.seconds)
                for every in (True, False):
                    r, c = counted.run(path, truth, every)
                    total[every][0] += c["square_runs"]
                    total[every][1] += c["square_cpu"]
                    ms = 1000 * c["square_cpu"] / max(1, c["square_runs"])
                    print(f"| {who[a][0]} + {who[b][0]} | {'every square' if every else 'its square'} | "
                          f"{100 * (r['both'] or 0):.1f} % | {r['swaps']} | {c['searches']:.0f} | "
                          f"{c['square_runs']:.0f} ({ms:.2f}) | {c['frame_runs']:.0f} |", flush=True)
    for every in (True, False):
        print(f"{'every square (before)' if every else 'its square (now)'}: {total[every][0]:.0f} detector runs on "
              f"squares, {1000 * total[every][1]:.0f} ms CPU", flush=True)


if __name__ == "__main__":
    main()
