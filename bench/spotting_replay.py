"""Fast iteration on the spotter: cache each benchmark video's aligned face frames once, then replay them.

``bench/spotting.py`` runs every video through the whole session (detection, alignment, model): minutes
per video on this machine. The spotter only sees the 112 x 112 grey face frames that the session hands
to :class:`~mpt_live.facemotion.FaceMotion`. ``--build`` runs the session once per video, motion-only (faces aligned at 224 px),
and keeps those frames (``CACHE/<benchmark>/<video>.npz``, ~90 MB a minute); a replay feeds them through
``FaceMotion`` + ``Spotter`` exactly as the session does (a frame without the face flushes) and scores
the events with ``mpt-eval spot``'s code, per video, per benchmark and pooled. ``--diag`` prints, for
every missed truth interval, the strongest evidence of each scale inside it and the candidates a gate
dropped near it (head, blink, echo, extent, speech). ``--separability`` asks whether any detector
working on the micro scale's pooled evidence could find a video's micro-movements at all: for each
one, the best 2x2 window's strongest evidence inside it over that same window's 99th percentile on
the frames more than 1 s from every annotated movement (an oracle threshold per window; above 1:
the window rises above its own background there), and how many rise above the window's background
maximum (what a detector with no false positive could find at most). Taking the best of ~100
windows favours both by chance, so the same test is run on random stretches of background of the
same lengths: where the movements beat their background no more often than those do, no detector
on this evidence can tell them from the face's own motion.

    nice python bench/spotting_replay.py ROOT [ROOT ...] --cache runs/cache [--build] [--diag] [--separability]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

from mpt_live.errors import InputError
from mpt_live.facemotion import FaceMotion
from mpt_live.spotting import Spotter
from train.datasets.longvideo import LongVideo, LongVideoIndex, read_annotations_csv
from train.spot_metrics import Spotted, score


def build(v: LongVideo, out: Path) -> None:
    """Run the session motion-only on ``v`` and keep the grey frames it gives FaceMotion."""
    from mpt_live import facemotion
    from mpt_live.job import run_job
    from mpt_live.session import SessionConfig
    from mpt_live.sources import VideoFile

    rec, push = [], facemotion.FaceMotion.push

    def recording(self, frame, t, aligned):
        rec.append((frame, t, None if aligned is None else self.grey(aligned)))
        return push(self, frame, t, aligned)

    facemotion.FaceMotion.push = recording
    try:
        with VideoFile(v.video) as src:
            s = run_job(src, None, replace(SessionConfig(), max_faces=1), None)
    finally:
        facemotion.FaceMotion.push = push
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, frames=np.array([r[0] for r in rec]), times=np.array([r[1] for r in rec]),
             have=np.array([r[2] is not None for r in rec]), fps=s["source_fps"],
             grey=np.stack([r[2] for r in rec if r[2] is not None]).astype(np.float32))


def run_cached(path: Path, observe) -> list:
    """Replay one cached video through FaceMotion + Spotter as the session feeds them; ``observe(sp)`` is called
    after each frame the spotter takes (its channels then hold that frame's state). The spotted events."""
    d = np.load(path)
    grey, fm = d["grey"], FaceMotion(float(d["fps"]))
    sp, events, g = Spotter.for_motion(fm), [], 0

    def push(s):
        out = sp.push(s)
        observe(sp)
        return out

    for frame, t, have in zip(d["frames"], d["times"], d["have"]):
        a = grey[g] if have else None
        g += bool(have)
        for s in fm.push(int(frame), float(t), a):
            events += push(s)
        if a is None:
            events += sp.flush()
    for s in fm.flush():
        events += push(s)
    return events + sp.flush()


def replay(path: Path, pooled: dict | None = None):
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

    return run_cached(path, observe), trace, dropped


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("roots", nargs="+", type=Path, help="mpt-synth --long benchmark folders")
    ap.add_argument("--cache", type=Path, default=Path("runs/spotting-cache"))
    ap.add_argument("--build", action="store_true", help="make the missing cache files first (the slow part)")
    ap.add_argument("--diag", action="store_true", help="why each missed truth interval was missed")
    ap.add_argument("--separability", action="store_true",
                    help="per video: can the micro-movements rise above their own window's background at all")
    args = ap.parse_args()
    try:
        truths = {r.name: read_annotations_csv(r / "annotations.csv") for r in args.roots}
        videos, spotted, sep = [], {}, {}
        for name, t in truths.items():
            for v in t.videos:
                f = args.cache / name / f"{v.video.stem}.npz"
                if not f.exists():
                    if not args.build:
                        raise InputError(f"{f}: not cached (run with --build)")
                    build(v, f)
                pooled = {} if args.separability else None
                events, trace, dropped = replay(f, pooled)
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
        for name in [*truths, "pooled"]:
            vs = [v for v in videos if name == "pooled" or v.name.startswith(name + "/")]
            r = score(LongVideoIndex(videos=vs, classes=[]), spotted, "all")["by_type"]
            print(f"{name:<10} " + "  ".join(f"{k}: F1 {r[k]['f1']:.3f} P {r[k]['precision']:.2f} R {r[k]['recall']:.2f} "
                                         f"({r[k]['tp']}/{r[k]['fp']}/{r[k]['fn']})" for k in ("micro", "macro")))
        for name, rs in sep.items():
            n, clear = sum(r["n"] for r in rs), sum(round(r["clear"] * r["n"]) for r in rs)
            print(f"{name:<10} separability: {clear} of {n} micro-movements above their window's background maximum; "
                  f"random background stretches {np.mean([r['chance'] for r in rs]):.0%} (mean over videos)")
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
