"""Fast iteration on the spotter: cache each benchmark video's aligned face frames once, then replay them.

``bench/spotting.py`` runs every video through the whole session (detection, alignment, model): minutes
per video on this machine. The spotter only sees the 112 x 112 grey face frames that the session hands
to :class:`~mpt_live.facemotion.FaceMotion`. ``--build`` runs the session once per video, motion-only (faces aligned at 224 px),
and keeps those frames (``CACHE/<benchmark>/<video>.npz``, ~90 MB a minute: ``bench/spotting_cache.py``, which the other
spotting benches replay too); a replay feeds them through ``FaceMotion`` + ``Spotter`` exactly as the session does (a
frame without the face flushes, a cut with ``cut``) and scores the events with ``mpt-eval spot``'s code, per video, per benchmark and pooled. ``--diag`` prints, for
every missed truth interval, the strongest evidence of each scale inside it and the candidates a gate
dropped near it (head, blink, echo, extent, speech). ``--separability`` asks whether any detector
working on the micro scale's pooled evidence could find a video's micro-movements at all: for each
one, the best 2x2 window's strongest evidence inside it over that same window's 99th percentile on
the frames more than 1 s from every annotated movement (an oracle threshold per window; above 1:
the window rises above its own background there), and how many rise above the window's background
maximum (what a detector with no false positive could find at most). Taking the best of ~100
windows favours both by chance, so the same test is run on random stretches of background of the
same lengths: where the movements beat their background no more often than those do, no detector
on this evidence can tell them from the face's own motion. ``--evidence`` prints each video's micro
evidence (the strongest pooled window, robust z units) on the frames more than 1 s from every annotated
movement: its median and 90th percentile, what the face's own jitter and motion give the spotter where
nothing was made to move. ``--size 112`` builds the cache with the faces aligned as the bundled 112 px
model's session aligns them, ``--corrected-face`` with the spotter on the eyes-mouth corrected face instead
of the eyes-aligned one it keeps (each in its own ``--cache``: a replay refuses a file built otherwise).
``--rates`` replays each video's signals
(made once, at the cached rate) through spotters told other frame rates (30, 29.97: the frames and their
times unchanged, as when a file's measured rate differs from its nominal one) and, with ``--phases N``,
with its first 1..N frames left out (the face first seen later; the other frames keep their numbers and
times), with ``--cuts N`` also as copies cut before frames 1..N whose frames and times start at 0 again there
(a trimmed file; their events mapped back to the original's frames), and counts the events that differ from
the first rate's (also those after the statistics' first ``history_s`` + 5 s, whose window no longer reaches
the first frame), the spotter's CPU time per push beside them (``time.thread_time``). ``--sample-s`` runs all
of that for several ``SpotConfig.sample_s`` values, alternated variant by variant, and gives their CPU ratios.

    nice python bench/spotting_replay.py ROOT [ROOT ...] --cache runs/cache [--build [--size 112] [--corrected-face]]
        [--diag] [--separability] [--evidence]
        [--rates 30,29.97,29.95,30.03 [--phases 9] [--cuts 5] [--sample-s 2/15,1/30]]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import defaultdict
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from mpt_live.errors import InputError
from mpt_live.facemotion import FaceMotion, FrameSignals
from mpt_live.machine import vector_extensions
from mpt_live.spotting import SpotConfig, Spotter
from spotting_cache import cached, run_cached, stream
from train.datasets.longvideo import LongVideo, LongVideoIndex, read_annotations_csv
from train.spot_metrics import Spotted, score


def spot(signals: list, fps: float, fm: FaceMotion, config: SpotConfig | None = None) -> tuple[list, float, int]:
    """The events of a Spotter told ``fps`` (and ``config``) fed ``signals``, the CPU seconds of its pushes
    (time.thread_time: this thread's alone) and how many pushes."""
    sp, events, cpu, n = Spotter(fps, fm.k_micro, fm.k_macro, config), [], 0.0, 0
    for s in signals:
        t = time.thread_time()
        events += sp.push(s) if isinstance(s, FrameSignals) else sp.flush(cut=s is not None, camera=s == "camera")
        cpu, n = cpu + time.thread_time() - t, n + (s is not None)
    return events + sp.flush(), cpu, n


def cut(path: Path, drop: int, made: tuple[bool, int] = (False, 224)) -> tuple[list, FaceMotion, int, float]:
    """One cached video's signals as from a copy cut before frame ``drop`` (a trimmed file): frames and times
    start at 0 again there; and that frame's number and time, to map the copy's events back. ``made``: how the file
    must have been built (:func:`spotting_cache.load`)."""
    signals, fm = stream(path, drop, made)
    d = np.load(path)
    f0, t0 = int(d["frames"][drop]), float(d["times"][drop])
    return [FrameSignals(s.frame - f0, s.time_s - t0, s.micro, s.macro) if isinstance(s, FrameSignals) else s
            for s in signals], fm, f0, t0


def uncut(events: list, f0: int, t0: float) -> list:
    """A cut copy's events in the original's frames and times."""
    return [replace(e, onset=e.onset + f0, apex=e.apex + f0, offset=e.offset + f0, onset_s=e.onset_s + t0,
                    apex_s=e.apex_s + t0, offset_s=e.offset_s + t0) for e in events]


def differ(a: list, b: list, settle_s: float) -> tuple[int, int, int]:
    """Events of ``b`` not in ``a`` and of ``a`` not in ``b``: exactly, allowing one frame of onset or offset, and
    (exactly) those with an onset at ``settle_s`` or later."""
    key = lambda e: (e.type, e.onset, e.apex, e.offset)  # noqa: E731
    near = lambda e, f: ((e.type, e.apex) == (f.type, f.apex)  # noqa: E731
                         and max(abs(e.onset - f.onset), abs(e.offset - f.offset)) <= 1)
    only = [(e, y) for x, y in ((a, b), (b, a)) for e in x if key(e) not in {key(f) for f in y}]
    return (len(only), sum(not any(near(e, f) for f in y) for e, y in only),
            sum(e.onset_s >= settle_s for e, _ in only))


def replay(path: Path, pooled: dict | None = None, made: tuple[bool, int] = (False, 224)):
    """The events of one cached video, the evidence trace and what the gates dropped; ``pooled``
    (optional) receives the micro scale's pooled evidence of every frame (frame -> (196,) array)."""
    trace, dropped = defaultdict(dict), []  # scale -> frame -> (evidence, strongest window)

    def observe(sp):
        for ch in (sp.micro, sp.macro):
            f = ch.frames[-1]
            if f.pooled is not None:
                trace[ch.k][f.frame] = (f.e, int(np.argmax(f.pooled)))
                if pooled is not None and ch is sp.micro:
                    pooled[f.frame] = f.pooled
            dropped.extend((ch.k, *x) for x in ch.dropped)
            ch.dropped.clear()

    return run_cached(path, observe, made=made), trace, dropped


def diagnose(v: LongVideo, spotted: list[Spotted], trace: dict, dropped: list) -> None:
    for iv in v.intervals:
        one = score(LongVideoIndex(videos=[replace(v, intervals=[iv])], classes=[]), {v.name: spotted}, iv.type)
        if one["tp"]:
            continue
        ev = []
        for k, tr in trace.items():
            w = [(tr[i][0], i, tr[i][1]) for i in range(iv.onset, iv.offset + 1) if i in tr]
            if w:
                e, i, c = max(w)
                ev.append(f"k{k}: e {e:.1f} at {i} (window r{c // 14} c{c % 14})")
        gates = [f"k{k} {g} e {e:.1f} at {f}" for k, f, e, g in dropped if iv.onset - 5 <= f <= iv.offset + 5]
        near = [(s.onset, s.offset, s.type) for s in spotted if s.offset >= iv.onset and s.onset <= iv.offset]
        print(f"    missed {iv.type} {iv.label} {iv.onset}-{iv.offset}: {'; '.join(ev)} | dropped: "
              f"{', '.join(gates) or '-'} | spotted over it: {near or '-'}")


def separability(v: LongVideo, pooled: dict, fps: float, trials: int = 50) -> dict:
    """Do ``v``'s micro-movements rise above their own window's background more often than random
    stretches of background do? ``n``: movements measured; ``p99``: fraction whose best window beats
    that window's background 99th percentile, ``ratio``: its median ratio to it; ``clear``: fraction
    whose best window beats that window's background maximum; ``chance``: the same for ``trials``
    random background stretches of the movements' lengths, each against the maximum of the background
    more than 1 s from it (a fixed seed)."""
    frames = np.array(sorted(pooled))
    ev = np.stack([pooled[i] for i in frames])
    ev = ev[:, np.isfinite(ev).all(axis=0)]  # the spotting sites' windows
    pos = np.arange(len(frames))
    near = np.zeros(len(frames), bool)
    for iv in v.intervals:
        near |= (frames >= iv.onset - fps) & (frames <= iv.offset + fps)
    floor = 0.5  # evidence is in robust z units: a background below this counts as this
    p99 = np.maximum(np.percentile(ev[~near], 99, axis=0), floor)
    top = np.maximum(ev[~near].max(axis=0), floor)
    spans = [(frames >= iv.onset) & (frames <= iv.offset) for iv in v.intervals if iv.type == "micro"]
    peaks = [ev[m].max(axis=0) for m in spans if m.any()]
    if not peaks:
        return {"n": 0, "p99": float("nan"), "ratio": float("nan"), "clear": float("nan"), "chance": float("nan")}
    r99 = np.array([(p / p99).max() for p in peaks])
    rng, lengths, free, beat = np.random.default_rng(0), [int(m.sum()) for m in spans if m.any()], np.nonzero(~near)[0], []
    for t in range(trials):
        start, n = int(free[rng.integers(len(free))]), lengths[t % len(lengths)]
        inside = ~near & (pos >= start) & (pos < start + n)
        rest = ~near & ((pos < start - fps) | (pos >= start + n + fps))
        if inside.any() and rest.any():
            beat.append((ev[inside].max(axis=0) > np.maximum(ev[rest].max(axis=0), floor)).any())
    return {"n": len(peaks), "p99": float(np.mean(r99 > 1)), "ratio": float(np.median(r99)),
            "clear": float(np.mean([(p / top).max() > 1 for p in peaks])),
            "chance": float(np.mean(beat)) if beat else float("nan")}


def background(v: LongVideo, trace: dict, fps: float) -> np.ndarray:
    """The evidence of a scale's ``trace`` (frame -> (evidence, window)) on the frames more than 1 s (``fps``
    frames) from every annotated movement of ``v``, in frame order."""
    frames = np.array(sorted(trace), int)
    near = np.zeros(len(frames), bool)
    for iv in v.intervals:
        near |= (frames >= iv.onset - fps) & (frames <= iv.offset + fps)
    return np.array([trace[f][0] for f in frames[~near]], float)


def _rate(text: str) -> float:
    try:
        r = float(text)
    except ValueError:
        r = float("nan")
    if not r > 0:
        raise InputError(f"--rates: {text!r} is not a frame rate (a number > 0)")
    return r


def parse_seconds(text: str) -> float:
    try:
        x = float(Fraction(text.strip()))  # 0.1, 2/15
    except (ValueError, ZeroDivisionError, OverflowError):
        x = float("nan")
    if not (x > 0 and math.isfinite(x)):
        raise InputError(f"--sample-s: {text!r} is not a time in seconds (a number > 0, or a fraction like 2/15)")
    return x


def rate_phase(path: Path, rates: list[float], phases: int, cuts: int = 0,
               configs: list[SpotConfig] | None = None,
               made: tuple[bool, int] = (False, 224)) -> tuple[float, list[dict]]:
    """The time of one cached video's first frame with the face, and per config (alternated variant by variant,
    so that their CPU times share the machine's load) (rate, frames left out, cut) -> (events, CPU seconds, pushes):
    the first 0..``phases`` frames left out at each rate, then copies cut before frames 1..``cuts`` at the first
    rate (their events mapped back to the original's frames and times)."""
    configs = configs or [SpotConfig()]
    out, first = [{} for _ in configs], 0.0
    for d in range(phases + 1):
        signals, fm = stream(path, d, made)
        first = first if d else next((s.time_s for s in signals if s is not None), 0.0)
        for r in rates:
            for o, c in zip(out, configs):
                o[(r, d, False)] = spot(signals, r, fm, c)
    for d in range(1, cuts + 1):
        signals, fm, f0, t0 = cut(path, d, made)
        for o, c in zip(out, configs):
            events, cpu, n = spot(signals, rates[0], fm, c)
            o[(rates[0], d, True)] = uncut(events, f0, t0), cpu, n
    return first, out


def _label(key: tuple) -> str:
    r, d, is_cut = key
    return f"{r:g}" + (f" cut {d}" if is_cut else f"-{d}" if d else "")


def report_variants(variants: dict, videos: list, rates: list[float], settle_s: float) -> float:
    """Per video, the events of each rate (and phase, and cut copy) that differ from the first rate's, then each
    variant's pooled micro and macro TP/FP/FN and the CPU time per push; returns the CPU seconds per push of all."""
    ref, first = (rates[0], 0, False), {k: t for k, (t, _) in variants.items()}
    variants = {k: runs for k, (_, runs) in variants.items()}
    print(f"events that differ from those at {rates[0]:g} fps (exactly / by more than a frame of onset or offset, "
          f"or another apex / with an onset after the first {settle_s:g} s):")
    diffs = {k: {v: differ(runs[ref][0], runs[v][0], settle_s + first[k]) for v in runs} for k, runs in variants.items()}
    for key, runs in variants.items():
        cells = [f"{_label(v)} {'/'.join(map(str, diffs[key][v]))}" for v in runs if v != ref]
        print(f"  {key:<28} {len(runs[ref][0])} events; " + "  ".join(cells))
    for v in next(iter(variants.values())):
        spotted = {k: [Spotted(k, e.onset, e.offset, e.type, score=e.score, apex=e.apex) for e in runs[v][0]]
                   for k, runs in variants.items()}
        res = score(LongVideoIndex(videos=videos, classes=[]), spotted, "all")["by_type"]
        cpu = sum(runs[v][1] for runs in variants.values()) / sum(runs[v][2] for runs in variants.values())
        n = [sum(d[v][i] for d in diffs.values()) for i in range(3)]
        what = f"a copy cut before frame {v[1]}" if v[2] else f"first {v[1]} frames left out"
        print(f"{v[0]:g} fps, {what}: " + "  ".join(
            f"{k} {res[k]['tp']}/{res[k]['fp']}/{res[k]['fn']} F1 {res[k]['f1']:.3f}" for k in ("micro", "macro"))
            + f"; {n[0]} events differ ({n[1]} by more than a frame, {n[2]} after the first {settle_s:g} s);"
            f" CPU {1e3 * cpu:.3f} ms a push")
    return (sum(r[1] for runs in variants.values() for r in runs.values())
            / max(sum(r[2] for runs in variants.values() for r in runs.values()), 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("roots", nargs="+", type=Path, help="mpt-synth --long benchmark folders")
    ap.add_argument("--cache", type=Path, default=Path("runs/spotting-cache"))
    ap.add_argument("--build", action="store_true", help="make the missing cache files first (the slow part)")
    ap.add_argument("--corrected-face", action="store_true", help="a cache built (--build) and replayed with the "
                    "spotter on the eyes-mouth corrected face, not the eyes-aligned one it keeps (another --cache)")
    ap.add_argument("--size", type=int, default=224, help="a cache built (--build) with the faces aligned as a model "
                    "of this size would have them (112: the bundled demo model's; another --cache)")
    ap.add_argument("--diag", action="store_true", help="why each missed truth interval was missed")
    ap.add_argument("--separability", action="store_true",
                    help="per video: can the micro-movements rise above their own window's background at all")
    ap.add_argument("--evidence", action="store_true",
                    help="per video: the micro evidence's median and p90 more than 1 s from every annotated movement")
    ap.add_argument("--rates", help="comma-separated frame rates to tell the spotter (the signals unchanged), "
                    "e.g. 30,29.97,29.95,30.03: the events that differ from the first rate's")
    ap.add_argument("--phases", type=int, default=0, help="with --rates: also leave out the first 1..N frames")
    ap.add_argument("--cuts", type=int, default=0, help="with --rates: also copies cut before frames 1..N, their "
                    "frames and times from 0 there (a trimmed file), at the first rate")
    ap.add_argument("--sample-s", help="with --rates: comma-separated SpotConfig.sample_s values (seconds, a "
                    "fraction like 2/15; 1/30: every frame at 30 fps) to compare, alternated; the first is the reference "
                    "of the CPU ratios (default: SpotConfig's)")
    args = ap.parse_args()
    try:
        rates = [_rate(r) for r in args.rates.split(",")] if args.rates else []
        if args.phases < 0 or (args.phases and not rates):
            raise InputError(f"--phases {args.phases}: give a count >= 0, with --rates")
        if args.cuts < 0 or (args.cuts and not rates):
            raise InputError(f"--cuts {args.cuts}: give a count >= 0, with --rates")
        if args.size not in (112, 224) or (args.corrected_face and args.size != 224):
            raise InputError(f"--size {args.size}: give 112 or 224 (the demo model's, the default), and 224 with "
                             "--corrected-face (a 112 px corrected face is a direct warp, not the spotter's)")
        if args.sample_s and not rates:
            raise InputError("--sample-s: give it with --rates")
        configs = [replace(SpotConfig(), sample_s=parse_seconds(x)) for x in args.sample_s.split(",")] \
            if args.sample_s else [SpotConfig()]
        print(f"CPU vector extensions: {vector_extensions()}", flush=True)
        truths = {r.name: read_annotations_csv(r / "annotations.csv") for r in args.roots}
        videos, spotted, sep, variants, quiet = [], {}, {}, {}, {}
        for name, t in truths.items():
            for v in t.videos:
                f = cached(args.cache, name, v, args.build, args.corrected_face, args.size)
                pooled = {} if args.separability else None
                events, trace, dropped = replay(f, pooled, (args.corrected_face, args.size))
                key = f"{name}/{v.name}"
                spotted[key] = [Spotted(key, e.onset, e.offset, e.type, score=e.score, apex=e.apex) for e in events]
                videos.append(replace(v, name=key))
                r = score(LongVideoIndex(videos=[videos[-1]], classes=t.classes), spotted, "all")["by_type"]
                print(f"  {key:<28} " + "  ".join(f"{k} {r[k]['tp']}/{r[k]['fp']}/{r[k]['fn']}" for k in ("micro", "macro")))
                if args.diag:
                    diagnose(videos[-1], spotted[key], trace, dropped)
                if args.separability:
                    r = separability(v, pooled, float(np.load(f)["fps"]))
                    print(f"    separability: {r['n']} micro; best window above its own background's p99 in "
                          f"{r['p99']:.0%} (median ratio {r['ratio']:.2f}), above its maximum in {r['clear']:.0%}; "
                          f"random background stretches above it: {r['chance']:.0%}")
                    if r["n"]:
                        sep.setdefault(name, []).append(r)
                if args.evidence:
                    micro = trace[min(trace)] if trace else {}  # the scales by their k: micro's is the smaller
                    e = background(v, micro, float(np.load(f)["fps"]))
                    if len(e):
                        quiet.setdefault(name, []).append(float(np.median(e)))
                    print(f"    evidence outside movements (micro, {len(e)} frames): " + (
                        f"median {np.median(e):.2f}, p90 {np.percentile(e, 90):.2f}" if len(e) else "none"))
                if rates:
                    variants[key] = rate_phase(f, rates, args.phases, args.cuts, configs,
                                               (args.corrected_face, args.size))
        cpu = []
        for i, c in enumerate(configs if rates else []):
            print(f"sample_s {c.sample_s:.4g}:")
            cpu.append(report_variants({k: (t, runs[i]) for k, (t, runs) in variants.items()}, videos, rates,
                                       c.history_s + 5))
        if len(cpu) > 1:
            print("CPU per push (time.thread_time, alternated), against the first: " + ", ".join(
                f"sample_s {c.sample_s:.4g} {1e3 * x:.3f} ms ({x / cpu[0]:.2f}x)" for c, x in zip(configs, cpu)))
        for name in [*truths, "pooled"]:
            vs = [v for v in videos if name == "pooled" or v.name.startswith(name + "/")]
            r = score(LongVideoIndex(videos=vs, classes=[]), spotted, "all")["by_type"]
            print(f"{name:<10} " + "  ".join(f"{k}: F1 {r[k]['f1']:.3f} P {r[k]['precision']:.2f} R {r[k]['recall']:.2f} "
                                         f"({r[k]['tp']}/{r[k]['fp']}/{r[k]['fn']})" for k in ("micro", "macro")))
        for name, ms in quiet.items():
            print(f"{name:<10} evidence outside movements: median {min(ms):.2f}-{max(ms):.2f} over its "
                  f"{len(ms)} videos (micro)")
        for name, rs in sep.items():
            n, clear = sum(r["n"] for r in rs), sum(round(r["clear"] * r["n"]) for r in rs)
            print(f"{name:<10} separability: {clear} of {n} micro-movements above their window's background maximum; "
                  f"random background stretches {np.mean([r['chance'] for r in rs]):.0%} (mean over videos)")
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
