"""The spotter on variable-frame-rate copies of the long spotting benchmark, scored as ``mpt-eval spot`` scores them.

Each cached video (``bench/spotting_cache.py``: the grey face frames the session hands FaceMotion) is replayed as
recorded (CFR) and as copies that keep some of its frames, re-timed as real variable-rate files are
(:data:`PATTERNS`, named at the benchmark's 30 fps; a seeded random draw where there is one): 30 and 15 fps
alternating in 2 s stretches, 30 and 10 fps likewise, 15 fps with 1 s of 30 in every 5, a random quarter of the
frames dropped, and every frame kept but stamped in pairs 2 ms apart (a camera's frames stamped on arrival); each
with the frames' own times and with times rounded to the millisecond (a Matroska file's), beside the CFR video
downsampled to a constant 15 fps (what as many frames give at an even spacing). A copy numbers its frames
0, 1, 2 ... in the order it keeps them, as mpt-live numbers the frames of the file it reads, and its header states
its average rate (its frames over the original's duration), which FaceMotion and the Spotter are told.

Two ways to score a copy (the rule matters: its frame numbers are not the truth's):

* by time, as ``mpt-eval spot`` does (:func:`train.spot_frames.in_truth_frames`): a run whose frames are not its
  seconds at its header's rate has its events placed in the truth's (the original's) frames by their seconds:
  onset at the nearest truth frame, offset the last truth frame shown before the copy's offset frame ends (one
  header period after it); a copy whose frames stay within 1.5 frames of their seconds (the pairs) keeps its numbers;
* truth in kept frames: each truth interval in the copy's own numbering, onset the first kept frame at or after it,
  offset the last kept at or before it, apex the kept frame nearest it (where no kept frame lies inside: the kept
  frame nearest the apex for all three), the events scored in the copy's numbers (a truth coded on the VFR file).

Both pool test_i + test_p (or the roots given) with ``train.spot_metrics.score`` (IoU >= 0.5 in frames); the first
also counts the micro truths matched by a macro event (a micro-movement found, typed macro by its duration). Beside
them, each copy's events against the CFR replay's by their seconds: kept (the same type, IoU in time >= 0.5), lost,
new, split (a lost CFR event overlapped by two or more of the copy's), and the kept events' apex shift (in the
original's frames).

``--header-fps 30`` tells every copy's spotter and scorer that rate instead (a header stating the fastest stretch's).
``--before REV`` replays every copy with the code of that git revision too (its mpt_live and train in a temporary
worktree, this script in a child process) and prints, per copy, its TP/FP/FN and F1 by time beside this code's, and how
many events the two codes give alike (the same onset, apex and offset frames and type) and how many differ: on the CFR
replay, whether a change keeps the constant-rate output.

    nice python bench/spotting_vfr.py ROOT [ROOT ...] --cache DIR [--build] [--seed 0] [--videos] [--header-fps 30]
        [--before REV]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CODE_VAR = "SPOTTING_VFR_CODE"  # a --before child: that revision's worktree, its mpt_live and train first
if os.environ.get(CODE_VAR):
    sys.path.insert(0, os.environ[CODE_VAR])

from mpt_live.errors import InputError  # noqa: E402
from mpt_live.machine import vector_extensions  # noqa: E402
from spotting_cache import FACE, cached, load, replay, rows  # noqa: E402
from train.datasets.longvideo import Interval, LongVideo, LongVideoIndex, read_annotations_csv  # noqa: E402
from train.spot_frames import in_truth_frames, video_frames  # noqa: E402
from train.spot_metrics import IOU_THRESHOLD, Spotted, iou, score  # noqa: E402

PATTERNS = {  # name: what a real file shows (frame steps at a 30 fps original)
    "CFR": "as recorded",
    "15 fps": "every second frame: the constant-rate reference of as many frames as the patterns keep",
    "30/15 2s": "30 and 15 fps alternating in 2 s stretches (a phone's camera in changing light)",
    "30/10 2s": "30 and 10 fps alternating in 2 s stretches",
    "15+1s30/5s": "15 fps with 1 s of 30 in every 5 (a call's or screen recorder's frames sent when they change)",
    "quarter": "a random quarter of the frames dropped (seeded)",
    "pairs 2ms": "every frame, stamped in pairs 2 ms apart (frames stamped on arrival two at a time)",
}
PAIR_S = 0.002


class Copy(NamedTuple):
    """A re-timed copy of a constant-rate recording: the original's frame numbers it keeps (its own frame i is
    ``kept[i]``), their times in the copy, and the rate its header states (its frames over the original's duration)."""

    kept: np.ndarray
    times: np.ndarray
    fps: float


def copy_of(pattern: str, times: np.ndarray, fps: float, ms: bool = False, seed: int = 0,
            frames: int | None = None) -> Copy:
    """The copy of a recording whose frame i is at ``times[i]`` (at ``fps``) that ``pattern`` makes, its times rounded
    to the millisecond where ``ms``; ``seed``: the random pattern's draw; ``frames``: the original's frame count
    where ``times`` runs past it (the header's average counts the frames before it)."""
    if pattern not in PATTERNS:
        raise InputError(f"pattern {pattern!r}: not one of {', '.join(PATTERNS)}")
    n = len(times)
    i = np.arange(n)
    stretch, second = max(round(2 * fps), 1), max(round(fps), 1)
    odd = (i // stretch) % 2 == 1  # the second of each pair of 2 s stretches
    keep = {"CFR": np.ones(n, bool), "15 fps": i % 2 == 0, "30/15 2s": ~odd | (i % 2 == 0),
            "30/10 2s": ~odd | (i % 3 == 0), "15+1s30/5s": (i % (5 * second) < second) | (i % 2 == 0),
            "pairs 2ms": np.ones(n, bool)}.get(pattern)
    if keep is None:  # quarter: the first frame kept (a file's first frame is its time 0)
        keep = np.random.default_rng(seed).random(n) >= 0.25
        keep[0] = True
    t = np.asarray(times, float)
    if pattern == "pairs 2ms":
        t = t[i - i % 2] + PAIR_S * (i % 2)
    kept = np.nonzero(keep)[0]
    t = t[kept]
    if ms:
        t = np.round(t * 1000) / 1000
    total = n if frames is None else frames
    return Copy(kept, t, fps * int(np.sum(kept < total)) / total)


def copy_rows(frames, kinds, cameras, grey, c: Copy) -> tuple:
    """Cache rows (each row's original frame number, kind and camera cut; the grey faces of its FACE rows in order)
    as the copy ``c`` holds them, for :func:`spotting_cache.replay`: the rows of the frames it keeps, numbered and
    timed as in the copy, and their grey faces."""
    frames, kinds = np.asarray(frames), np.asarray(kinds)
    pos = np.minimum(np.searchsorted(c.kept, frames), len(c.kept) - 1)
    here = c.kept[pos] == frames
    faces = np.cumsum(kinds == FACE) - 1  # each FACE row's grey face
    return pos[here], c.times[pos[here]], kinds[here], np.asarray(cameras)[here], grey[faces[here & (kinds == FACE)]]


def nearest(kept: np.ndarray, f: int) -> int:
    """The index of the kept frame nearest frame ``f`` (the earlier of two as near)."""
    j = int(np.searchsorted(kept, f))
    if j == len(kept) or (j > 0 and f - kept[j - 1] <= kept[j] - f):
        j -= 1
    return j


def truth_in_copy(iv: Interval, kept: np.ndarray) -> Interval:
    """A truth interval (the original's frames) in a copy's numbering (``kept``: the original frames it keeps): onset
    the first kept frame at or after its onset, offset the last at or before its offset, apex the kept frame nearest
    its apex within them; where none lies inside, all three the kept frame nearest its apex."""
    a, b = int(np.searchsorted(kept, iv.onset)), int(np.searchsorted(kept, iv.offset, "right")) - 1
    apex = nearest(kept, iv.apex)
    if a > b:
        a = b = apex
    return replace(iv, onset=a, apex=min(max(apex, a), b), offset=b)


def by_time(spotted: list[Spotted], c: Copy, v: LongVideo, count: int | None, nowhere: Path) -> tuple[list, bool]:
    """A copy's events in the truth's frames as ``mpt-eval spot`` places a run of that file (its summary's
    ``source_fps`` the copy's header rate, its frame count the copy's; ``count``: the truth video's; ``nowhere``: a
    folder with no predictions.csv, so the copy's first frame is at 0 s), and whether they were placed by seconds."""
    summary = {"source_fps": c.fps, "source_frame_count": int(np.sum(c.kept < count)) if count else len(c.kept)}
    out, why = in_truth_frames(spotted, nowhere, v.fps, summary, count)
    return out, why is not None


def micro_as_macro(videos: list[LongVideo], spotted: dict) -> int:
    """Macro events (in the truth's frames) that a micro truth interval would match (IoU >= 0.5): micro-movements found
    but typed macro, by their onset-to-offset-frame's-end time (``Spotter.is_micro``); each a micro FN and a macro FP."""
    return sum(any(iv.type == "micro" and iou((s.onset, s.offset), (iv.onset, iv.offset)) >= IOU_THRESHOLD
                   for iv in v.intervals) for v in videos for s in spotted.get(v.name, []) if s.type == "macro")


def t_iou(a, b) -> float:
    """IoU of two events' onset_s..offset_s."""
    inter = min(a.offset_s, b.offset_s) - max(a.onset_s, b.onset_s)
    union = max(a.offset_s, b.offset_s) - min(a.onset_s, b.onset_s)
    return inter / union if inter > 0 and union > 0 else 0.0


def against(ref: list, events: list, kept: np.ndarray) -> dict:
    """A copy's events beside the CFR replay's (``ref``), by their seconds: kept (a same-type event at IoU >= 0.5,
    matched once each, in ``ref``'s order), lost, new, split (lost ones overlapped by 2+ of the copy's of their type)
    and the kept ones' apex shifts in the original's frames (``kept``: the copy's; its times can move a frame's)."""
    used, shifts, lost, split = set(), [], 0, 0
    for r in ref:
        best = max(((t_iou(r, e), j) for j, e in enumerate(events) if e.type == r.type and j not in used),
                   default=(0.0, None))
        if best[0] >= 0.5:
            used.add(best[1])
            shifts.append(abs(int(kept[events[best[1]].apex]) - r.apex))
        else:
            lost += 1
            split += sum(t_iou(r, e) > 0 for e in events if e.type == r.type) >= 2
    return {"kept": len(used), "lost": lost, "new": len(events) - len(used), "split": split, "shifts": shifts}


def replays(args, truths: dict, variants: list) -> dict:
    """Every copy's events (as :class:`Spotted`, in the copy's frames) of every cached video:
    ``{variant: {key: [...]}}`` (key: ``benchmark/video``)."""
    own = {k: {} for k in variants}
    for name, t in truths.items():
        for v in t.videos:
            f = cached(args.cache, name, v, args.build)
            d, key = load(f), f"{name}/{v.name}"
            fps, frames, (kinds, cameras), grey = float(d["fps"]), d["frames"], rows(d), d["grey"]
            times = _times(d, fps)
            for k in variants:
                c = _copy(k, times, fps, args, video_frames(v.video))
                events = replay(*copy_rows(frames, kinds, cameras, grey, c), c.fps, lambda sp: None)
                own[k][key] = [Spotted(key, e.onset, e.offset, e.type, score=e.score, apex=e.apex, onset_s=e.onset_s,
                                       apex_s=e.apex_s, offset_s=e.offset_s) for e in events]
    return own


def _times(d, fps: float) -> np.ndarray:
    """Each frame's own time of a cache file (a frame with no row: its count / fps)."""
    times = np.arange(int(np.max(d["frames"])) + 1) / fps
    times[d["frames"]] = d["times"]
    return times


def _copy(k: tuple, times: np.ndarray, fps: float, args, count: int | None) -> Copy:
    c = copy_of(k[0], times, fps, k[1], args.seed, count)
    return c if args.header_fps is None else Copy(c.kept, c.times, args.header_fps)


def scored(args, truths: dict, variants: list, own: dict, nowhere: Path) -> tuple:
    """The tables' inputs from every copy's events (``own``, :func:`replays`): the videos, the events in the truth's
    frames, the truths in each copy's frames, each copy's facts (header rate, placed by seconds) and its events against
    the CFR replay's."""
    videos, timed, kept_truth = [], {k: {} for k in variants}, {k: [] for k in variants}
    facts, vs = {}, {k: [] for k in variants}
    for name, t in truths.items():
        for v in t.videos:
            d, key = load(cached(args.cache, name, v, False)), f"{name}/{v.name}"
            fps, count = float(d["fps"]), video_frames(v.video)
            times = _times(d, fps)
            videos.append(replace(v, name=key))
            for k in variants:
                c = _copy(k, times, fps, args, count)
                sp = own[k][key]
                timed[k][key], placed = by_time(sp, c, v, count, nowhere)
                kept_truth[k].append(replace(v, name=key, intervals=[truth_in_copy(iv, c.kept) for iv in v.intervals]))
                facts.setdefault(k, (c.fps, placed))
                vs[k].append(against(own[("CFR", False)][key], sp, c.kept))
            if args.videos:
                for k in variants:
                    r = score(LongVideoIndex(videos=[videos[-1]], classes=[]), timed[k], "all")["by_type"]
                    print(f"  {key:<16} {_name(k):<16} " + "  ".join(
                        f"{x} {r[x]['tp']}/{r[x]['fp']}/{r[x]['fn']}" for x in ("micro", "macro")), flush=True)
    return videos, timed, kept_truth, facts, vs


def before(args, rev: str, tmp: Path) -> dict:
    """The copies' events replayed by the code of git revision ``rev`` (its mpt_live and train, in a temporary worktree,
    by this script in a child process), in :func:`replays`' form."""
    tree, out = tmp / "before", tmp / "before.json"
    made = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tree), rev],
                          capture_output=True, text=True, check=False)
    if made.returncode != 0:
        raise InputError(f"--before {rev}: no worktree: {(made.stderr.strip().splitlines() or ['git failed'])[-1]}")
    try:
        cmd = [sys.executable, __file__, *map(str, args.roots), "--cache", str(args.cache), "--seed", str(args.seed),
               "--events-out", str(out)] + (["--header-fps", str(args.header_fps)] if args.header_fps else [])
        child = subprocess.run(cmd, env={**os.environ, CODE_VAR: str(tree)}, check=False)
        if child.returncode != 0:
            raise InputError(f"--before {rev}: its replay failed (exit {child.returncode})")
    finally:  # never a registered worktree left behind
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True,
                       check=False)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], capture_output=True, check=False)
    got = json.loads(out.read_text())
    return {k: {key: [Spotted(**e) for e in evs] for key, evs in got[_name(k)].items()} for k in _variants()}


def _variants() -> list:
    return [(p, ms) for p in PATTERNS for ms in (False, True)]


def same_events(old: dict, new: dict, k: tuple) -> tuple[int, int]:
    """Of copy ``k``'s events, how many the two codes give alike (onset, apex, offset frames and type, every video),
    and how many differ (in either)."""
    alike = differ = 0
    for key in new[k]:
        a = {(e.onset, e.apex, e.offset, e.type) for e in old[k].get(key, [])}
        b = {(e.onset, e.apex, e.offset, e.type) for e in new[k][key]}
        alike, differ = alike + len(a & b), differ + len(a ^ b)
    return alike, differ


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("roots", nargs="+", type=Path, help="mpt-synth --long benchmark folders (test_i, test_p)")
    ap.add_argument("--cache", type=Path, default=Path("runs/spotting-cache"))
    ap.add_argument("--build", action="store_true", help="make the missing cache files first (the slow part)")
    ap.add_argument("--seed", type=int, default=0, help="the random pattern's draw (default 0)")
    ap.add_argument("--videos", action="store_true", help="also each video's counts by time, per copy")
    ap.add_argument("--header-fps", type=float, help="the rate every copy's header states (FaceMotion, the Spotter and "
                    "the scorer told it), e.g. 30: a Matroska file whose rate FFmpeg guessed from its first frames; "
                    "default: each copy's average (an MP4's)")
    ap.add_argument("--before", metavar="REV", help="also replay every copy with the code of this git revision (a "
                    "temporary worktree) and print its F1 beside this code's, and the events the two give alike")
    ap.add_argument("--events-out", type=Path, help=argparse.SUPPRESS)  # a --before child: its events, as JSON
    args = ap.parse_args()
    try:
        if args.seed < 0:
            raise InputError(f"--seed {args.seed}: give a count >= 0")
        if args.header_fps is not None and not 0 < args.header_fps < 1e4:
            raise InputError(f"--header-fps {args.header_fps:g}: give a frame rate > 0")
        if args.before and subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{args.before}"
                                           "^{commit}"], capture_output=True, check=False).returncode != 0:
            raise InputError(f"--before {args.before}: not a git revision of {ROOT}")
        variants = _variants()
        truths = {r.name: read_annotations_csv(r / "annotations.csv") for r in args.roots}
        if args.events_out:
            own = replays(args, truths, variants)
            args.events_out.write_text(json.dumps({_name(k): {key: [asdict(e) for e in evs] for key, evs in v.items()}
                                                   for k, v in own.items()}))
            return
        print(f"CPU vector extensions: {vector_extensions()}", flush=True)
        with tempfile.TemporaryDirectory() as nowhere:
            own = replays(args, truths, variants)
            old = before(args, args.before, Path(nowhere)) if args.before else None
            videos, timed, kept_truth, facts, vs = scored(args, truths, variants, own, Path(nowhere))
            was = scored(replace_args(args), truths, variants, old, Path(nowhere))[1] if old else None
        report(variants, videos, timed, kept_truth, own, facts, vs)
        if old:
            compare(args.before, variants, videos, was, timed, old, own)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


def replace_args(args):
    """``args`` without ``--videos`` (the per-video lines are printed once, for this code)."""
    return argparse.Namespace(**{**vars(args), "videos": False})


def compare(rev: str, variants, videos, was: dict, timed: dict, old: dict, own: dict) -> None:
    """Each copy's F1 by time with the code of ``rev`` and with this code, and the events the two give alike."""
    index = LongVideoIndex(videos=videos, classes=[])
    print(f"\nby time (mpt-eval spot's rule): the code of {rev} -> this code, TP/FP/FN, F1; the events alike "
          "(onset, apex, offset frame and type) / differing:")
    for k in variants:
        a, b = score(index, was[k], "all")["by_type"], score(index, timed[k], "all")["by_type"]
        cells = "  ".join(f"{x} {a[x]['tp']}/{a[x]['fp']}/{a[x]['fn']} {a[x]['f1']:.3f} -> "
                          f"{b[x]['tp']}/{b[x]['fp']}/{b[x]['fn']} {b[x]['f1']:.3f}" for x in ("micro", "macro"))
        alike, differ = same_events(old, own, k)
        print(f"  {_name(k):<14} {cells}  as macro {micro_as_macro(videos, was[k])} -> "
              f"{micro_as_macro(videos, timed[k])}  events {alike} alike / {differ} differ")


def _name(k: tuple) -> str:
    return k[0] + (" ms" if k[1] else "")


def _cells(r: dict, base: dict | None) -> str:
    return "  ".join(f"{x} {r[x]['tp']:>2}/{r[x]['fp']:>2}/{r[x]['fn']:>2} F1 {r[x]['f1']:.3f}"
                     + (f" ({r[x]['f1'] - base[x]['f1']:+.3f})" if base else "") for x in ("micro", "macro"))


def report(variants, videos, timed, kept_truth, own, facts, vs) -> None:
    """The pooled tables: by time, truth in kept frames, and the events against the CFR replay's."""
    index = LongVideoIndex(videos=videos, classes=[])
    cfr = score(index, timed[("CFR", False)], "all")["by_type"]
    print(f"\npooled over {len(videos)} videos; by time (mpt-eval spot's rule), TP/FP/FN, F1 (beside CFR's); micro "
          "truths found as macro events:")
    for k in variants:
        r = score(index, timed[k], "all")["by_type"]
        fps, placed = facts[k]
        print(f"  {_name(k):<14} {fps:6.2f} fps {'placed by seconds' if placed else 'frames kept      '}  "
              + _cells(r, None if k == ("CFR", False) else cfr) + f"  as macro {micro_as_macro(videos, timed[k])}")
    print("\ntruth in each copy's kept frames (its own numbering), TP/FP/FN, F1 (beside CFR's):")
    for k in variants:
        r = score(LongVideoIndex(videos=kept_truth[k], classes=[]), own[k], "all")["by_type"]
        print(f"  {_name(k):<14} " + _cells(r, None if k == ("CFR", False) else cfr))
    print("\nevents against the CFR replay's, by their seconds: kept/lost/new, split, the kept events' apex shift in "
          "the original's frames (mean, max):")
    for k in variants:
        a = {x: sum(r[x] for r in vs[k]) for x in ("kept", "lost", "new", "split")}
        s = [x for r in vs[k] for x in r["shifts"]]
        shift = f"{np.mean(s):.2f}, {max(s)}" if s else "-"
        print(f"  {_name(k):<14} {a['kept']}/{a['lost']}/{a['new']}, split {a['split']}, apex {shift}")


if __name__ == "__main__":
    main()
