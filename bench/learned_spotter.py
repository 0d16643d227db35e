"""An experiment (issue 11): a small learned spotter on the shipped spotter's own signals.

Does a model fitted to per-frame features of the spotting signal (the bump maps of
:mod:`mpt_live.facemotion` as the :class:`~mpt_live.spotting.Spotter`'s channels normalise and pool
them) tell a 1-3 px micro-movement from a face's own motion better than the hand-set thresholds and
gates, on carriers it was not fitted on? It reads the replay cache of ``bench/spotting_replay.py``
(``--build`` there first), replays every video through ``FaceMotion`` + ``Spotter`` exactly as the
session does, and takes per frame:

* per scale (micro 0.5 s, macro 2.5 s): the evidence (best pooled window, robust z), the mean of the
  three best windows, the best window of the upper and of the lower face, the eyes, the face sides,
  mouth / rest of the face and the whole face's strongest cell (what the gates look at);
* the micro evidence at -15..+15 frames (step 3) and the best window's own value 8 and 15 frames away
  (a movement comes and goes, speech keeps going);
* each of the per-frame values also as its rank in the same video's last 20 s (causal), so that the
  model does not need to know a carrier's level of motion.

Symmetric log of the values, standardised on the training frames. Label: inside a micro-movement
(onset..offset) 1, inside a macro-expression left out of the loss, else 0 (classes balanced). Models
(numpy + scipy L-BFGS): L2 logistic regression, or one hidden layer of 16 tanh units. Events: the
score (a 3-frame mean) -> peaks above a threshold at least 15 frames apart, each ``peak +- 5`` frames
(micro), or the runs above the threshold (micro if at most 15 frames). The model, the extraction and
the threshold are chosen by leave-one-carrier-out (all seeds of a carrier held out together) micro F1
on ``--pool`` only; ``--test`` roots are then scored once with the model fitted on the whole pool.
Every figure is the micro TP/FP/FN of ``train.spot_metrics.score`` (the code of ``mpt-eval spot``),
beside the shipped spotter replayed on the same frames. Prints figures; asserts nothing about them.

    nice python bench/learned_spotter.py --cache runs/cache --pool ROOT [ROOT ...] [--test ROOT ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.optimize import minimize
from scipy.signal import find_peaks

from mpt_live.errors import InputError
from mpt_live.facemotion import REGIONS
from mpt_live.machine import vector_extensions
from train.datasets.longvideo import LongVideoIndex, read_annotations_csv
from train.spot_metrics import Spotted, score

from spotting_replay import run_cached  # bench/, beside this script

BASE = ["e", "top3", "upper", "lower", "eye", "side", "mouth", "peak"]
SHIFTS = list(range(-15, 16, 3))
AWAY = [-15, -8, 8, 15]
RANK_S = 20.0
THRESHOLDS = [round(t, 2) for t in np.arange(0.3, 0.96, 0.05)] + [0.97, 0.98, 0.99, 0.995, 0.999]
HALF = 5      # peak +- HALF frames: IoU >= 0.5 with a centred truth of 7-15 frames
GAP = 15      # peaks at least this far apart
MICRO_MAX = 15
LOWER_WINDOW = REGIONS["lower"].ravel()  # the lower face's cells (the speech gate's, as mpt_live.spotting reads them)


def _state(f) -> list[float]:
    """The per-frame values of one channel frame (NaN while it has no pooled evidence)."""
    if f.pooled is None:
        return [np.nan] * len(BASE)
    p = f.pooled[np.isfinite(f.pooled)]
    lo = f.pooled[LOWER_WINDOW & np.isfinite(f.pooled)]
    hi = f.pooled[~LOWER_WINDOW & np.isfinite(f.pooled)]
    return [f.e, float(np.sort(p)[-3:].mean()), float(hi.max(initial=0)), float(lo.max(initial=0)),
            f.eye, f.side, f.mouth, f.peak]


def replay(path: Path, n: int):
    """Shipped events, per-frame channel values (n, 2, len(BASE)) and the micro pooled maps (n, 196)."""
    vals = np.full((n, 2, len(BASE)), np.nan)
    pooled = np.full((n, 196), np.nan)

    def observe(sp):
        for j, ch in enumerate((sp.micro, sp.macro)):
            f = ch.frames[-1]
            if 0 <= f.frame < n:
                vals[f.frame, j] = _state(f)
                if j == 0 and f.pooled is not None:
                    pooled[f.frame] = f.pooled

    return run_cached(path, observe), vals, pooled


def _slog(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


def _shift(x: np.ndarray, d: int) -> np.ndarray:
    """x[c + d] at c (NaN outside)."""
    out = np.full_like(x, np.nan)
    if d >= 0:
        out[:len(x) - d] = x[d:]
    else:
        out[-d:] = x[:d]
    return out


def _rank(x: np.ndarray, w: int) -> np.ndarray:
    """Fraction of the previous ``w`` finite values below x[c] (0.5 with no history or no value)."""
    pad = np.concatenate([np.full(w, np.nan), x])
    past = sliding_window_view(pad, w)[:len(x)]
    have = np.isfinite(past).sum(axis=1)
    below = (past < x[:, None]).sum(axis=1)
    r = np.where(have > 0, below / np.maximum(have, 1), 0.5)
    return np.where(np.isfinite(x), r, 0.5)


def features(vals: np.ndarray, pooled: np.ndarray, fps: float) -> np.ndarray:
    """(n, F) features of one video; see the module docstring."""
    flat = vals.reshape(len(vals), -1)
    best = np.argmax(np.where(np.isfinite(pooled), pooled, -np.inf), axis=1)
    away = [np.take_along_axis(np.nan_to_num(_shift(pooled, d), nan=0.0), best[:, None], 1)[:, 0] for d in AWAY]
    e = flat[:, 0]
    prof = [_shift(e, d) for d in SHIFTS]
    ranks = [_rank(flat[:, i], int(RANK_S * fps)) for i in range(flat.shape[1])]
    rank_e = ranks[0]
    rprof = [np.nan_to_num(_shift(rank_e, d), nan=0.5) for d in SHIFTS]
    x = np.column_stack([_slog(flat), _slog(np.column_stack(prof)), _slog(np.column_stack(away)),
                         np.column_stack(ranks), np.column_stack(rprof)])
    return np.nan_to_num(x, nan=0.0)


# ----------------------------------------------------------------------------- models (numpy + scipy)

def _fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, hidden: int, lam: float, seed: int = 0):
    """Weighted logistic loss + L2; ``hidden`` 0: logistic regression, else one tanh layer."""
    d = x.shape[1]
    rng = np.random.default_rng(seed)
    shapes = [(d, 1), (1,)] if not hidden else [(d, hidden), (hidden,), (hidden, 1), (1,)]
    sizes = [int(np.prod(s)) for s in shapes]

    def unpack(p):
        out, i = [], 0
        for s, k in zip(shapes, sizes):
            out.append(p[i:i + k].reshape(s))
            i += k
        return out

    def loss(p):
        ws = unpack(p)
        if hidden:
            h = np.tanh(x @ ws[0] + ws[1])
            z = (h @ ws[2] + ws[3])[:, 0]
        else:
            z = (x @ ws[0] + ws[1])[:, 0]
        pr = 1 / (1 + np.exp(-np.clip(z, -30, 30)))
        ll = np.sum(w * (np.logaddexp(0, z) - y * z)) / w.sum()
        g = w * (pr - y) / w.sum()  # dL/dz
        reg = lam * sum(float((m ** 2).sum()) for m in ws[::2])
        if hidden:
            gw2, gb2 = h.T @ g[:, None], np.array([g.sum()])
            gh = (g[:, None] @ ws[2].T) * (1 - h ** 2)
            grads = [x.T @ gh + 2 * lam * ws[0], gh.sum(0), gw2 + 2 * lam * ws[2], gb2]
        else:
            grads = [x.T @ g[:, None] + 2 * lam * ws[0], np.array([g.sum()])]
        return ll + reg, np.concatenate([q.ravel() for q in grads])

    p0 = rng.normal(0, 0.1, sum(sizes))
    p = minimize(loss, p0, jac=True, method="L-BFGS-B", options={"maxiter": 200}).x
    ws = unpack(p)
    if hidden:
        return lambda q: 1 / (1 + np.exp(-np.clip((np.tanh(q @ ws[0] + ws[1]) @ ws[2] + ws[3])[:, 0], -30, 30)))
    return lambda q: 1 / (1 + np.exp(-np.clip((q @ ws[0] + ws[1])[:, 0], -30, 30)))


MODELS = {"logistic": (0, 1e-3), "mlp16": (16, 1e-3)}


def fit(vids: list[dict], model: str):
    x = np.concatenate([v["x"] for v in vids])
    y = np.concatenate([v["y"] for v in vids])
    m = np.concatenate([v["mask"] for v in vids])
    m &= (y > 0) | (np.arange(len(y)) % 3 == 0)  # every third background frame: neighbours are near copies
    x, y = x[m], y[m]
    mu, sd = x.mean(0), x.std(0) + 1e-6
    w = np.where(y > 0, 0.5 / max(y.mean(), 1e-6), 0.5 / max(1 - y.mean(), 1e-6))
    f = _fit((x - mu) / sd, y, w, *MODELS[model])
    return lambda q: f((q - mu) / sd)


def extract(s: np.ndarray, have: np.ndarray, thr: float, how: str, key: str) -> list[Spotted]:
    """Events of one video from its per-frame score."""
    s = np.where(have, np.convolve(s, np.ones(3) / 3, mode="same"), 0.0)
    n, out = len(s), []
    if how == "peaks":
        for p in find_peaks(s, height=thr, distance=GAP)[0]:
            out.append(Spotted(key, max(p - HALF, 0), min(p + HALF, n - 1), "micro", score=float(s[p]), apex=int(p)))
        return out
    above = np.concatenate([[0], (s > thr).astype(int), [0]])
    for a, b in zip(np.nonzero(np.diff(above) == 1)[0], np.nonzero(np.diff(above) == -1)[0] - 1):
        p = a + int(np.argmax(s[a:b + 1]))
        out.append(Spotted(key, int(a), int(b), "micro" if b - a + 1 <= MICRO_MAX else "macro",
                           score=float(s[p]), apex=int(p)))
    return out


def micro(vids: list[dict], spotted: dict[str, list[Spotted]]) -> dict:
    return score(LongVideoIndex(videos=[v["video"] for v in vids], classes=[]), spotted, "micro")


def line(r: dict) -> str:
    return f"F1 {r['f1']:.3f} P {r['precision']:.2f} R {r['recall']:.2f} ({r['tp']}/{r['fp']}/{r['fn']})"


# ----------------------------------------------------------------------------- data

def load(root: Path, cache: Path) -> list[dict]:
    if not (root / "long.json").is_file():
        raise InputError(f"{root}: no long.json (not an mpt-synth --long benchmark; its carriers name the groups)")
    truth = read_annotations_csv(root / "annotations.csv")
    meta = json.loads((root / "long.json").read_text())
    who = {m["video"]: m["carrier"]["identity"] for m in meta["videos"]}
    out = []
    for v in truth.videos:
        f = cache / root.name / f"{v.video.stem}.npz"
        if not f.exists():
            raise InputError(f"{f}: not cached (nice python bench/spotting_replay.py {root} --cache {cache} --build)")
        n = int(np.load(f)["frames"].max()) + 1
        key = f"{root.name}/{v.name}"
        events, vals, pooled = replay(f, n)
        y, mask = np.zeros(n), np.ones(n, bool)
        for iv in v.intervals:
            if iv.type == "micro":
                y[iv.onset:iv.offset + 1] = 1
            else:
                mask[iv.onset:iv.offset + 1] = False
        have = np.isfinite(vals[:, 0, 0])
        out.append({"key": key, "root": root.name, "carrier": who.get(v.video.name, v.name),
                    "video": replace(v, name=key), "x": features(vals, pooled, v.fps), "y": y,
                    "mask": mask & have, "have": have,
                    "shipped": [Spotted(key, e.onset, e.offset, e.type, score=e.score, apex=e.apex) for e in events]})
        print(f"  {key:<22} {out[-1]['carrier']}", file=sys.stderr)
    return out


def groups_table(title: str, vids: list[dict], learned: dict, by: str) -> None:
    print(f"\n{title}: micro F1 (TP/FP/FN), learned vs shipped spotter on the same replay")
    names = sorted({v[by] for v in vids})
    shipped = {v["key"]: v["shipped"] for v in vids}
    for name in [*names, "pooled"]:
        vs = [v for v in vids if name == "pooled" or v[by] == name]
        print(f"  {name:<28} learned {line(micro(vs, learned))}   shipped {line(micro(vs, shipped))}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, default=Path("runs/spotting-cache"))
    ap.add_argument("--pool", type=Path, nargs="+", required=True, help="benchmark roots to fit and choose on")
    ap.add_argument("--test", type=Path, nargs="*", default=[], help="benchmark roots scored once at the end")
    ap.add_argument("--exclude", nargs="*", default=[],
                    help="carrier identities (long.json) left out of the pool: people of the test roots")
    args = ap.parse_args()
    try:
        print(f"CPU vector extensions: {vector_extensions()}", flush=True)
        pool = [v for r in args.pool for v in load(r, args.cache) if v["carrier"] not in args.exclude]
        carriers = sorted({v["carrier"] for v in pool})
        print(f"pool: {len(pool)} videos, {len(carriers)} carriers")
        scores = {}  # (model) -> key -> held-out score
        for model in MODELS:
            scores[model] = {}
            for c in carriers:
                f = fit([v for v in pool if v["carrier"] != c], model)
                for v in pool:
                    if v["carrier"] == c:
                        scores[model][v["key"]] = f(v["x"])
        grid = []
        for model in MODELS:
            for how in ("peaks", "runs"):
                for thr in THRESHOLDS:
                    sp = {v["key"]: extract(scores[model][v["key"]], v["have"], thr, how, v["key"]) for v in pool}
                    r = micro(pool, sp)
                    grid.append((r["f1"], model, how, thr, r))
        grid.sort(key=lambda g: -g[0])
        print("\nleave-one-carrier-out, whole pool, best settings:")
        for f1, model, how, thr, r in grid[:8]:
            print(f"  {model:<9} {how:<6} thr {thr:.3f}  {line(r)}")
        _, model, how, thr, _ = grid[0]
        print(f"chosen: {model}, {how}, threshold {thr:.3f}")
        cv = {v["key"]: extract(scores[model][v["key"]], v["have"], thr, how, v["key"]) for v in pool}
        groups_table("leave-one-carrier-out, per benchmark", pool, cv, "root")
        groups_table("leave-one-carrier-out, per carrier", pool, cv, "carrier")
        if args.test:
            test = [v for r in args.test for v in load(r, args.cache)]
            f = fit(pool, model)
            out = {v["key"]: extract(f(v["x"]), v["have"], thr, how, v["key"]) for v in test}
            groups_table(f"test, fitted on the whole pool ({model}, {how}, threshold {thr:.3f})", test, out, "root")
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
