"""The spotter at camera cuts: reels of 3-5 s pieces of a benchmark's videos joined by hard cuts, replayed.

Stop 45 made a camera cut restart each face's spotting baseline (``Spotter.flush(cut=True)``: statistics and warm-up
anew), so that a face could give no events for 2 s after a cut. This bench measures that trade-off on the long
spotting benchmark's data (``mpt-synth --long`` folders) through the cached face frames of
``bench/spotting_replay.py`` (``--cache``, made there with ``--build``):

* Reels (deterministic, ``--seed``): a benchmark's N videos (same length and rate) are cut into pieces of
  ``--piece`` seconds (3-5 s by default) at the same times for all of them; at every cut each of N reels moves on to
  another video (a random cyclic shift of the previous assignment, never 0), so the N reels show every frame of every
  video exactly once, in its own frames and times (the truth needs no shift: a reel's frame i is its source's).
* Faces as the session keeps them: one ``mpt_live.face_state.FaceState`` per person, pushed as the session pushes
  it (the carrier's ``identity`` in ``long.json``: the tracker re-identifies a person coming back after a cut, and
  two videos of one carrier are one person);
  at a cut every face is pushed ``FaceState.push(frame, None, cut=True, camera=True)`` (absent faces too), as the
  session does: its signals end and its spotter is flushed.
* Truth: the movements inside one piece; one cut by a piece's end is left out, and so are the events that
  overlap it (neither hit nor false positive: half a movement).

Variants (``SpotConfig``): the restart with the full warm-up (stop 45), shorter warm-ups after a cut, and keeping
the statistics across the cut (the same person comes back). Printed per benchmark: micro and macro TP/FP/FN of each
variant, the uncut replay's beside them, and the events that closed at a cut with a side cut off (item 2 of issue
11: their hits and false positives).

    nice python bench/spotting_cuts.py ROOT [ROOT ...] --cache runs/cache [--seed 0] [--piece 3,5]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.append(str(Path(__file__).resolve().parent))  # spotting_cache beside it

from mpt_live.clip import ClipSpec
from mpt_live.errors import InputError
from mpt_live.face_state import FaceState
from mpt_live.face_types import FaceResult
from mpt_live.facemotion import FaceMotion
from mpt_live.machine import vector_extensions
from mpt_live.sources import Frame
from mpt_live.spotting import SpotConfig, SpotEvent, Spotter
from spotting_cache import check_made, run_cached
from train.datasets.longvideo import LongVideo, LongVideoIndex, read_annotations_csv
from train.spot_metrics import Spotted, iou, score

NO_CUTS = "(no cuts: the videos whole)"
VARIANTS = {
    "restart, warm-up 2 s": SpotConfig(cut_keep=False, cut_warmup_s=2.0),  # stop 45's
    "restart, warm-up 1 s": SpotConfig(cut_keep=False, cut_warmup_s=1.0),
    "restart, warm-up 0.5 s": SpotConfig(cut_keep=False, cut_warmup_s=0.5),
    "keep the statistics": SpotConfig(cut_keep=True),  # the default since issue 11 (at a camera cut)
}


def pieces(frames: int, fps: float, lo_s: float, hi_s: float, rng: np.random.Generator) -> list[int]:
    """The first frame of each piece (0 first): lengths drawn from [lo_s, hi_s] seconds; a last piece shorter than
    ``lo_s`` joins the one before."""
    starts, i = [0], 0
    while True:
        i += int(rng.integers(int(round(lo_s * fps)), int(round(hi_s * fps)) + 1))
        if i > frames - lo_s * fps:
            return starts
        starts.append(i)


def reels(n: int, slots: int, rng: np.random.Generator) -> list[list[int]]:
    """For each of ``n`` reels the video shown in each slot: a cyclic shift of the slot before by 1..n-1, so that a
    reel changes video at every cut and the reels share out every slot of every video."""
    shift, out = 0, []
    for j in range(slots):
        shift = (shift + (int(rng.integers(1, n)) if j else 0)) % n
        out.append([(r + shift) % n for r in range(n)])
    return [[out[j][r] for j in range(slots)] for r in range(n)]


ALIGNED = np.zeros((16, 16, 3), np.uint8)  # the aligned crop FaceState buffers for the model's clips: none runs here
NO_IMAGE = np.zeros((0, 0, 3), np.uint8)  # the frame's own picture: FaceState does not read it
KEYS, MATRIX = np.zeros((6, 2), np.float32), np.eye(2, 3, dtype=np.float32)  # a FaceResult's: not read either


class _Face:
    """One person of a reel: the session's own :class:`~mpt_live.face_state.FaceState` (its ``push``: motion
    signals, spotter, the flushes at a face's absence and at a cut), fed the cached grey faces as its motion crops,
    so that the bench measures the shipped code, not a copy of it."""

    def __init__(self, fps: float, config: SpotConfig) -> None:
        self.state = FaceState(0, ClipSpec(image_size=ALIGNED.shape[0]), fps, spot=config)

    @property
    def spotter(self) -> Spotter:
        return self.state.spotter

    def push(self, frame: int, t: float, grey: np.ndarray | None, cut: bool = False) -> list[SpotEvent]:
        face = None if grey is None else FaceResult((0, 0, 1, 1), 1.0, KEYS, KEYS, MATRIX, ALIGNED, motion=grey)
        return [c.event for c in self.state.push(Frame(frame, t, NO_IMAGE), face, cut=cut, camera=cut)]


def replay_reel(cached: list[dict], who: list[str], starts: list[int], order: list[int], config: SpotConfig
                ) -> tuple[list[SpotEvent], set[int]]:
    """One reel's events (all its faces') and the frames at which it was cut."""
    frames = min(len(c["frames"]) for c in cached)
    bounds = starts[1:] + [frames]
    faces = {p: None for p in who}
    fps = float(cached[0]["fps"])
    events: list[SpotEvent] = []
    for j, (a, b) in enumerate(zip(starts, bounds)):
        v = order[j]
        c, person = cached[v], who[v]
        if j:
            for face in faces.values():
                if face is not None:
                    events += face.push(int(c["frames"][a]), float(c["times"][a]), None, cut=True)
        if faces[person] is None:
            faces[person] = _Face(fps, config)
        face = faces[person]
        for i in range(a, b):
            g = c["index"][i]
            events += face.push(int(c["frames"][i]), float(c["times"][i]), None if g < 0 else c["grey"][g])
    for face in faces.values():
        if face is not None:
            events += face.push(frames, frames / fps, None) + face.spotter.flush()
    return events, set(starts[1:])


def load(path: Path) -> dict:
    """A cached video whose rows are its frames in order (no cut, no frame twice), with each row's grey frame index."""
    d = np.load(path)
    have = d["have"]
    if not np.array_equal(d["frames"], np.arange(len(d["frames"]))):
        raise InputError(f"{path}: its rows are not the video's frames 0, 1, ... in order (a cut or a frame left out): "
                         "a reel is cut from videos of one face seen throughout")
    return {"frames": d["frames"], "times": d["times"], "grey": d["grey"], "fps": float(d["fps"]),
            "index": np.where(have, np.cumsum(have) - 1, -1)}


def identities(root: Path) -> dict[str, str]:
    """video file name -> its carrier's identity (long.json); the file name where it says none."""
    meta = json.loads((root / "long.json").read_text()) if (root / "long.json").is_file() else {}
    return {v["video"]: (v.get("carrier") or {}).get("identity") or v["video"] for v in meta.get("videos", [])}


def truth_of(videos: list[LongVideo], starts: list[int], order: list[int], frames: int, name: str
             ) -> tuple[LongVideo, list[tuple[int, int]]]:
    """A reel's truth (the movements inside a piece) and the spans of those a cut split."""
    bounds = starts[1:] + [frames]
    kept, split = [], []
    for j, (a, b) in enumerate(zip(starts, bounds)):
        for iv in videos[order[j]].intervals:
            if a <= iv.onset and iv.offset < b:
                kept.append(iv)
            elif iv.onset < b and iv.offset >= a:
                split.append((max(iv.onset, a), min(iv.offset, b - 1)))
    return replace(videos[0], name=name, intervals=kept, video=None), split


def at_cut(e: SpotEvent, cuts: set[int], k: int) -> bool:
    """Closed at a cut with a side cut off: the offset (or onset) within a micro scale of a cut."""
    return any(c - k <= e.offset < c or c <= e.onset < c + k for c in cuts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("roots", nargs="+", type=Path, help="mpt-synth --long benchmark folders")
    ap.add_argument("--cache", type=Path, default=Path("runs/spotting-cache"), help="bench/spotting_replay.py's cache")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds: one set of reels per seed (default 0)")
    ap.add_argument("--piece", default="3,5", help="piece lengths: LO,HI seconds (default 3,5)")
    args = ap.parse_args()
    try:
        try:
            lo_s, hi_s = (float(x) for x in args.piece.split(","))
        except ValueError:
            lo_s = hi_s = float("nan")
        if not 0 < lo_s <= hi_s:
            raise InputError(f"--piece {args.piece!r}: give LO,HI seconds with 0 < LO <= HI")
        try:
            seeds = [int(x) for x in args.seeds.split(",")]
        except ValueError:
            raise InputError(f"--seeds {args.seeds!r}: give whole numbers separated by commas") from None
        print(f"CPU vector extensions: {vector_extensions()}", flush=True)
        totals: dict[str, dict] = {}
        for root in args.roots:
            t = read_annotations_csv(root / "annotations.csv")
            who = identities(root)
            if len(t.videos) < 2:
                raise InputError(f"{root}: {len(t.videos)} video: a reel needs 2 or more to cut between")
            cached = []
            for v in t.videos:
                f = args.cache / root.name / f"{v.video.stem}.npz"
                if not f.is_file():
                    raise InputError(f"{f}: not cached (bench/spotting_replay.py {root} --cache {args.cache} --build)")
                check_made(f)  # the spotter's own face (the reels replay it without run_cached)
                cached.append(load(f))
            fps = cached[0]["fps"]
            frames = min(len(c["frames"]) for c in cached)
            people = [who.get(v.video.name, v.video.name) for v in t.videos]
            whole = [run_cached(args.cache / root.name / f"{v.video.stem}.npz", lambda sp: None) for v in t.videos]
            k = FaceMotion(fps).k_micro
            reel_sets = []  # (seed, reel) -> starts, order, truth, split
            for seed in seeds:
                rng = np.random.default_rng([seed, sum(map(ord, root.name))])
                starts = pieces(frames, fps, lo_s, hi_s, rng)
                for r, order in enumerate(reels(len(t.videos), len(starts), rng)):
                    tv, split = truth_of(t.videos, starts, order, frames, f"{root.name}/s{seed}reel{r + 1}")
                    reel_sets.append((starts, order, tv, split))
            index = LongVideoIndex(videos=[x[2] for x in reel_sets], classes=[])
            print(f"{root.name}: {len(t.videos)} videos ({len(set(people))} people), {len(reel_sets)} reels of "
                  f"{len(reel_sets[0][0]) - 1}-{max(len(x[0]) for x in reel_sets) - 1} cuts, "
                  f"{sum(len(x[2].intervals) for x in reel_sets)} movements inside pieces, "
                  f"{sum(len(x[3]) for x in reel_sets)} split by a cut (left out)", flush=True)
            for label, cfg in {NO_CUTS: None, **VARIANTS}.items():
                spotted, near, ignored = {}, [0, 0], 0
                for starts, order, tv, split in reel_sets:
                    if cfg is None:  # each piece's events from its video spotted whole
                        bounds = starts[1:] + [frames]
                        events, cuts = [e for j, (a, b) in enumerate(zip(starts, bounds)) for e in whole[order[j]]
                                        if a <= e.onset and e.offset < b], set()
                    else:
                        events, cuts = replay_reel(cached, people, starts, order, cfg)
                    keep = [e for e in events if not any(e.onset <= b and e.offset >= a for a, b in split)]
                    ignored += len(events) - len(keep)
                    spotted[tv.name] = [Spotted(tv.name, e.onset, e.offset, e.type, score=e.score, apex=e.apex)
                                        for e in keep]
                    for e in keep:
                        if at_cut(e, cuts, k):
                            hit = any(iv.type == e.type and iou((iv.onset, iv.offset), (e.onset, e.offset)) >= 0.5
                                      for iv in tv.intervals)
                            near[0 if hit else 1] += 1
                r = score(index, spotted, "all")["by_type"]
                totals.setdefault(label, {})[root.name] = r
                print(f"  {label:<26} " + "  ".join(f"{x} {r[x]['tp']}/{r[x]['fp']}/{r[x]['fn']} F1 {r[x]['f1']:.3f}"
                                                   for x in ("micro", "macro"))
                      + ("" if cfg is None else f"; closed at a cut: {near[0]} hits, {near[1]} false")
                      + f"; {ignored} on split movements left out", flush=True)
        print("TP/FP/FN summed over the benchmarks above:")
        for label, per in totals.items():
            s = {x: [sum(r[x][c] for r in per.values()) for c in ("tp", "fp", "fn")] for x in ("micro", "macro")}
            print(f"  {label:<26} " + "  ".join(f"{x} {'/'.join(map(str, s[x]))}" for x in s))
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
