"""How fragile are the spotter's events to rounding-level changes of its input? Replay cached benchmark videos with
tiny perturbations of the grey face frames and count what moves.

The spotter's input is the 112 x 112 grey face (whole grey levels): another OpenCV build, a resize rounding the other
way, or the grey conversion done before the warp instead of after gives frames within about one grey level of these.
Each perturbation here is of that size, with a fixed seed:

* ``dither:S`` every pixel of every frame plus a uniform value in [-0.5, 0.5] (seed S);
* ``round:S`` a quarter of the pixels of every frame one grey level up or down (seed S): the same pixel rounded the
  other way;
* ``shift`` every frame 0.5 grey level brighter (no noise: what a consistent rounding offset does).

For each, the replay (``bench/spotting_replay.py``'s cache, the session's feeding) gives, against the unperturbed
replay, the events that appear (+) or vanish (-: no event of its type at IoU >= 0.5 in the other run) and those that
moved (~: the same movement, its onset, apex or offset elsewhere), the micro and macro TP/FP/FN, and every candidate
kept in one run and dropped in the other, with each gate's margin at the decision (its quantity over its limit:
above 1 drops; ``Spotter``'s channels log them in ``decisions``), so that the gates on a knife edge are named.
Results are printed a video at a time (an interrupted run keeps what it printed) and, with ``--out``, written to a CSV
a row at a time. ``--set FIELD=VALUE`` replays with another ``SpotConfig`` (``echo_ratio=2.5``: a gate moved).

    nice python bench/spotting_perturb.py ROOT [ROOT ...] --cache runs/cache [--perturb dither:0,round:0]
        [--set echo_ratio=2.5] [--out flips.csv]
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from mpt_live.errors import InputError
from mpt_live.machine import vector_extensions
from mpt_live.spotting import SpotConfig
from train.datasets.longvideo import LongVideoIndex, read_annotations_csv
from train.spot_metrics import Spotted, score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spotting_cache import check_made, run_cached  # noqa: E402

KINDS = ("dither", "round", "shift")


def parse_perturbation(text: str) -> tuple[str, int]:
    """``dither:0`` -> ("dither", 0); ``shift`` -> ("shift", 0)."""
    kind, _, seed = text.strip().partition(":")
    if kind not in KINDS or (seed and not seed.isdigit()) or (kind == "shift" and seed):
        raise InputError(f"--perturb: {text!r} is not a perturbation (dither:SEED, round:SEED or shift)")
    return kind, int(seed or 0)


def config_of(settings: list[str]) -> SpotConfig:
    """SpotConfig with ``FIELD=VALUE`` settings (numbers; a fraction like 1/30)."""
    cfg, fields = SpotConfig(), set(SpotConfig.__dataclass_fields__)
    for text in settings:
        name, _, value = text.partition("=")
        try:
            cfg = replace(cfg, **{name: float(Fraction(value))}) if name in fields else None
        except (ValueError, ZeroDivisionError):
            cfg = None
        if cfg is None:
            raise InputError(f"--set: {text!r} is not FIELD=NUMBER with a SpotConfig field "
                             f"({', '.join(sorted(fields))})")
    return cfg


def perturber(kind: str, seed: int):
    """A function changing one grey frame (float32, whole grey levels) by at most one grey level, the same sequence
    of changes for the same seed."""
    rng = np.random.default_rng(seed)
    if kind == "dither":
        return lambda g: g + rng.uniform(-0.5, 0.5, g.shape).astype(np.float32)
    if kind == "round":
        def flip(g):
            moved = rng.random(g.shape) < 0.25
            return g + np.where(moved, rng.choice(np.array([-1.0, 1.0], np.float32), g.shape), 0).astype(np.float32)
        return flip
    return lambda g: g + np.float32(0.5)


def replay_decisions(path: Path, perturb=None, config: SpotConfig | None = None) -> tuple[list, list]:
    """The events of one cached video and every gate decision: (scale k, apex frame, evidence, gate, margins)."""
    decisions = []

    def observe(sp):
        for ch in (sp.micro, sp.macro):
            decisions.extend((ch.k, *x) for x in ch.decisions)
            ch.decisions.clear()

    return run_cached(path, observe, perturb, config), decisions


def flips(base: list, other: list) -> list[tuple]:
    """Candidates kept in one run and not in the other: (k, apex frame, evidence, base outcome, other outcome,
    margins), the margins of the run that dropped it (the base's where both have the candidate). A candidate is the
    other run's of the same scale with the nearest apex within a third of the scale; one with none there is "gone"
    (base only) or "new" (a threshold crossing, or a split of a run that moved). Candidates dropped in both runs (by the
    same gate or by two) change no event and are not listed."""
    out, used = [], set()
    for k, f, e, gate, m in base:
        near = [(abs(f2 - f), i) for i, (k2, f2, *_) in enumerate(other)
                if k2 == k and abs(f2 - f) <= max(2, k // 3) and i not in used]
        if not near:
            if not gate:
                out.append((k, f, e, "kept", "gone", m))
            continue
        i = min(near)[1]
        used.add(i)
        if bool(other[i][3]) != bool(gate):
            out.append((k, f, e, gate or "kept", other[i][3] or "kept", m if gate else other[i][4]))
    out += [(k, f, e, "new", "kept", m) for i, (k, f, e, gate, m) in enumerate(other) if i not in used and not gate]
    return out


def same_events(a: list, b: list) -> tuple[int, int, int]:
    """Events of ``b`` new against ``a`` (no event of ``a`` of its type at IoU >= 0.5), of ``a`` gone, and events of
    both whose onset, apex or offset moved (the same movement, its extent or apex elsewhere)."""
    def iou(e, f):
        inter = min(e.offset, f.offset) - max(e.onset, f.onset) + 1
        return inter / (max(e.offset, f.offset) - min(e.onset, f.onset) + 1) if inter > 0 else 0.0

    def matched(e, fs):
        return [f for f in fs if f.type == e.type and iou(e, f) >= 0.5]

    new = sum(not matched(e, a) for e in b)
    gone = sum(not matched(e, b) for e in a)
    moved = sum(bool(m) and all((f.onset, f.apex, f.offset) != (e.onset, e.apex, e.offset) for f in m)
                for e in a for m in [matched(e, b)])
    return new, gone, moved


def deciding(f: tuple) -> str:
    """The gate a flip turned on: the one that dropped it on either side ("threshold" for a candidate gone or new)."""
    a, b = f[3], f[4]
    if "gone" in (a, b) or "new" in (a, b):
        return "threshold"
    return a if a != "kept" else b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("roots", nargs="+", type=Path, help="mpt-synth --long benchmark folders, cached by spotting_replay")
    ap.add_argument("--cache", type=Path, default=Path("runs/spotting-cache"))
    ap.add_argument("--perturb", default="dither:0,dither:1,dither:2,round:0,shift",
                    help="comma-separated perturbations: dither:SEED, round:SEED, shift (default: %(default)s)")
    ap.add_argument("--out", type=Path, help="CSV of every flipped decision, a row at a time")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="a SpotConfig number for every run (e.g. echo_ratio=2.5)")
    args = ap.parse_args()
    try:
        kinds = [parse_perturbation(p) for p in args.perturb.split(",")]
        config = config_of(args.set)
        truths = {r.name: read_annotations_csv(r / "annotations.csv") for r in args.roots}
        for name, t in truths.items():
            for v in t.videos:
                if not (args.cache / name / f"{v.video.stem}.npz").exists():
                    raise InputError(f"{args.cache / name / v.video.stem}.npz: not cached "
                                     "(bench/spotting_replay.py --build)")
                check_made(args.cache / name / f"{v.video.stem}.npz")  # before any replay, not at its turn
        out = open(args.out, "w", newline="") if args.out else None
    except OSError as e:
        print(f"error: --out {args.out}: {e.strerror}", file=sys.stderr)
        sys.exit(2)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print(f"CPU vector extensions: {vector_extensions()}", flush=True)
    writer = csv.writer(out) if out else None
    if writer:
        writer.writerow(["video", "perturbation", "k", "apex_frame", "evidence", "base", "perturbed", "gate",
                         "margins"])
    videos, spotted = [], {p: {} for p in ["none", *(f"{k}:{s}" for k, s in kinds)]}
    totals = {p: Counter() for p in spotted}
    for name, t in truths.items():
        for v in t.videos:
            key, f = f"{name}/{v.name}", args.cache / name / f"{v.video.stem}.npz"
            videos.append(replace(v, name=key))
            base, bdec = replay_decisions(f, None, config)
            spotted["none"][key] = [Spotted(key, e.onset, e.offset, e.type, score=e.score, apex=e.apex) for e in base]
            cells = []
            for kind, seed in kinds:
                p = f"{kind}:{seed}"
                ev, dec = replay_decisions(f, perturber(kind, seed), config)
                spotted[p][key] = [Spotted(key, e.onset, e.offset, e.type, score=e.score, apex=e.apex) for e in ev]
                new, gone, moved = same_events(base, ev)
                fl = flips(bdec, dec)
                totals[p].update({"events": len(ev), "new": new, "gone": gone, "moved": moved})
                totals[p].update(deciding(x) for x in fl)
                cells.append(f"{p} +{new} -{gone} ~{moved}")
                for x in fl:
                    margins = " ".join(f"{g} {m:.2f}" for g, m in x[5].items())
                    print(f"      {key} {p}: k{x[0]} apex {x[1]} e {x[2]:.2f} {x[3]} -> {x[4]} [{margins}]", flush=True)
                    if writer:
                        writer.writerow([key, p, x[0], x[1], round(x[2], 3), x[3], x[4], deciding(x), margins])
                if out:
                    out.flush()
            print(f"  {key:<16} {len(base)} events; " + "; ".join(cells), flush=True)
    for p, by in spotted.items():
        res = score(LongVideoIndex(videos=videos, classes=[]), by, "all")["by_type"]
        tot = totals[p]
        gates = ", ".join(f"{g} {n}" for g, n in sorted(tot.items()) if g not in ("events", "new", "gone", "moved"))
        print(f"{p:<9} " + "  ".join(f"{k} {res[k]['tp']}/{res[k]['fp']}/{res[k]['fn']} F1 {res[k]['f1']:.3f}"
                                     for k in ("micro", "macro"))
              + (f"; events +{tot['new']} -{tot['gone']} (moved {tot['moved']}); kept/dropped flips: {gates or '-'}"
                 if p != "none" else ""), flush=True)
    if out:
        out.close()


if __name__ == "__main__":
    main()
