"""How much better are mpt-train's defaults than an ablation, on the same clips? Paired comparisons of finished runs.

``bench/recognition.py`` answers "is it better?" with an exact McNemar test on the clips one run got right and
the other did not. This script adds the size of the difference, with its uncertainty, for runs trained with
several seeds on one or more benchmarks (study folders of ``bench/recognition.py``):

- per training seed S (``default@S`` against ``NAME@S``; plain names are seed 0): the pooled UF1 of each over
  the clips of all given folders, and their difference;
- over seeds: the mean difference with a 95 % t interval of the per-seed differences (the spread of training
  seeds, the clips held fixed);
- over clips: a 95 % BCa bootstrap interval of the mean difference (``scipy.stats.bootstrap``, the clips
  resampled with the same draw for every seed and both runs; the trained models held fixed; none where the two
  runs agree on every clip, as none over a single seed);
- the exact McNemar test on the pooled per-clip correctness, each clip counted once per seed (pairs are not
  independent across seeds: read its p with that in mind).

    python bench/paired.py STUDY [STUDY ...] [--runs no-mag,plain-adapter] [--base default] [--json OUT]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from mpt_live.machine import vector_extensions
from train.metrics import uf1_from_cm


def mcnemar(a: dict[str, bool], b: dict[str, bool]) -> tuple[int, int, float]:
    """Clips only ``a`` got right, only ``b`` got right, and the exact two-sided McNemar p."""
    common = sorted(set(a) & set(b))
    only_a = sum(a[c] and not b[c] for c in common)
    only_b = sum(b[c] and not a[c] for c in common)
    return only_a, only_b, (stats.binomtest(only_a, only_a + only_b).pvalue if only_a + only_b else 1.0)


def read_predictions(run_dir: Path) -> dict[str, tuple[str, str]]:
    """``subject/clip_id`` -> (label, prediction) from a run's predictions.csv."""
    with open(run_dir / "predictions.csv", newline="") as fh:
        return {f"{r['subject']}/{r['clip_id']}": (r["label"], r["pred"]) for r in csv.DictReader(fh)}


def split_run(name: str) -> tuple[str, int] | None:
    """``NAME`` or ``NAME@S`` (a run folder's name) -> (NAME, training seed: 0 for plain NAME); None when the part
    after ``@`` is no seed."""
    base, _, seed = name.partition("@")
    return None if seed and not seed.isdigit() else (base, int(seed or 0))


def seeds_of(study: Path, name: str) -> dict[int, Path]:
    """Training seed -> run folder of run ``name`` (``name`` is seed 0, ``name@S`` seed S) that finished: its
    metrics.json is written once every fold is (predictions.csv grows fold by fold from the run's start)."""
    out = {}
    for d in sorted((study / "runs").glob(f"{name}*")):
        parsed = split_run(d.name)
        if parsed is not None and parsed[0] == name and (d / "metrics.json").exists():
            k = parsed[1]
            if k in out:
                raise SystemExit(f"{study}: runs {out[k].name} and {d.name} are both training seed {k} of {name}")
            out[k] = d
    return out


class Paired:
    """Labels and predictions of two runs on the same clips, one row per training seed: ``y`` (clips),
    ``a`` and ``b`` (seeds x clips), class indices."""

    def __init__(self, clips: list[str], labels: list[str], a: list[list[str]], b: list[list[str]]) -> None:
        self.classes = sorted(set(labels) | {p for row in a + b for p in row})
        index = {c: i for i, c in enumerate(self.classes)}
        self.clips = clips
        self.y = np.array([index[c] for c in labels])
        self.a = np.array([[index[c] for c in row] for row in a])
        self.b = np.array([[index[c] for c in row] for row in b])

    def uf1(self, pred: np.ndarray, idx: np.ndarray) -> float:
        k = len(self.classes)
        cm = np.bincount(self.y[idx] * k + pred[idx], minlength=k * k).reshape(k, k)
        return uf1_from_cm(cm)

    def differences(self, idx: np.ndarray | None = None) -> np.ndarray:
        """Per seed: UF1 of ``a`` minus UF1 of ``b`` on the clips ``idx`` (all when None)."""
        idx = np.arange(len(self.y)) if idx is None else np.asarray(idx)
        return np.array([self.uf1(pa, idx) - self.uf1(pb, idx) for pa, pb in zip(self.a, self.b)])


def load(studies: list[Path], base: str, other: str) -> tuple[Paired, list[int]]:
    """The clips of every study folder (named ``FOLDER:subject/clip``) with both runs at the seeds both
    have in every folder."""
    found = {s: (seeds_of(s, base), seeds_of(s, other)) for s in studies}
    common: set[int] | None = None
    for s in studies:
        have = set(found[s][0]) & set(found[s][1])
        common = have if common is None else common & have
    seeds = sorted(common or ())
    if not seeds:
        raise SystemExit(f"{other} vs {base}: no training seed finished for both in "
                         f"{', '.join(map(str, studies))}")
    clips, labels, left_out = [], [], 0
    a: list[list[str]] = [[] for _ in seeds]
    b: list[list[str]] = [[] for _ in seeds]
    for s in studies:
        runs_a = [read_predictions(found[s][0][k]) for k in seeds]
        runs_b = [read_predictions(found[s][1][k]) for k in seeds]
        keys = sorted(set.intersection(*(set(r) for r in runs_a + runs_b)))
        left_out += len(set.union(*(set(r) for r in runs_a + runs_b))) - len(keys)
        for key in keys:
            clips.append(f"{s.name}:{key}")
            labels.append(runs_a[0][key][0])
            if any(r[key][0] != labels[-1] for r in runs_a + runs_b):
                raise SystemExit(f"{s}: clip {key} has other labels in other runs: runs of different benchmarks?")
            for i in range(len(seeds)):
                a[i].append(runs_a[i][key][1])
                b[i].append(runs_b[i][key][1])
    if left_out:
        print(f"note: {other} vs {base}: {left_out} clip(s) not predicted by every run of the seeds compared are left "
              "out", flush=True)
    return Paired(clips, labels, a, b), seeds


def compare(p: Paired, seeds: list[int], resamples: int = 2000, rng: int = 0) -> dict[str, Any]:
    d = p.differences()
    out: dict[str, Any] = {"seeds": seeds, "clips": len(p.y), "uf1_diff_per_seed": [round(float(v), 4) for v in d],
                           "uf1_diff_mean": round(float(d.mean()), 4)}
    if len(d) > 1 and np.ptp(d) > 0:
        ci = stats.ttest_1samp(d, 0.0).confidence_interval(0.95)
        out["ci95_over_seeds"] = [round(float(ci.low), 4), round(float(ci.high), 4)]
    if (p.a != p.b).any():  # else every resample's difference is 0: no spread (scipy's BCa says NaN to NaN)
        boot = stats.bootstrap((np.arange(len(p.y)),), lambda idx: p.differences(idx).mean(), vectorized=False,
                               n_resamples=resamples, confidence_level=0.95, random_state=rng)
        ci = boot.confidence_interval
        if np.isfinite([ci.low, ci.high]).all():
            out["ci95_over_clips"] = [round(float(ci.low), 4), round(float(ci.high), 4)]
    right_a = {f"{s}:{c}": bool(p.a[i, j] == p.y[j]) for i, s in enumerate(seeds) for j, c in enumerate(p.clips)}
    right_b = {f"{s}:{c}": bool(p.b[i, j] == p.y[j]) for i, s in enumerate(seeds) for j, c in enumerate(p.clips)}
    only_a, only_b, pv = mcnemar(right_a, right_b)
    out["mcnemar"] = {"only_base_right": only_a, "only_other_right": only_b, "p": round(float(pv), 4)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("studies", nargs="+", type=Path, help="output folders of bench/recognition.py")
    ap.add_argument("--base", default="default")
    ap.add_argument("--runs", default="no-mag,plain-adapter", help="runs compared with --base, comma-separated")
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    if args.resamples < 100:
        ap.error(f"--resamples {args.resamples}: at least 100 for a 95 % interval")
    for s in args.studies:
        if not (s / "runs").is_dir():
            ap.error(f"{s}: not an output folder of bench/recognition.py (no runs/ in it)")
    print(f"CPU vector extensions: {vector_extensions()}", flush=True)
    result = {}
    print(f"{args.base} minus each run, pooled UF1 over {', '.join(s.name for s in args.studies)}")
    print("| run | seeds | clips | difference per seed | mean | 95 % CI, seeds | 95 % CI, clips | only base / "
          "only it right, McNemar p |\n|---|---|---:|---|---:|---|---|---|")
    for other in [r.strip() for r in args.runs.split(",") if r.strip()]:
        p, seeds = load(args.studies, args.base, other)
        r = result[other] = compare(p, seeds, args.resamples)
        ci_s, ci_c = ("{:+.3f} to {:+.3f}".format(*r[k]) if k in r else "-"
                      for k in ("ci95_over_seeds", "ci95_over_clips"))
        m = r["mcnemar"]
        print(f"| {other} | {', '.join(map(str, seeds))} | {r['clips']} | "
              f"{', '.join(f'{v:+.3f}' for v in r['uf1_diff_per_seed'])} | {r['uf1_diff_mean']:+.3f} | {ci_s} | "
              f"{ci_c} | "
              f"{m['only_base_right']} / {m['only_other_right']}, p = {m['p']:.4f} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
