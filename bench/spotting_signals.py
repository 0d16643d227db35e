"""Other per-frame signals for the spotter's micro scale, scored beside the present one (issue 11).

The talking faces' micro-movements do not rise above their own window's background on the present signal
(:class:`~mpt_live.facemotion.FaceMotion`'s same-sign bump, ``bench/spotting_replay.py --separability``). This bench
asks whether another per-frame signal separates them better: each candidate makes a (14, 14) micro map per frame from
the same cached 112 px grey faces (``bench/spotting_cache.py``), offline but from frames within the micro scale's reach
(what a streaming version would see with the same delay); its maps replace the present micro maps in the signals the
spotter takes (the macro scale unchanged), so that the spotter's own micro channel normalises and pools them, and
each candidate gets the same separability measure (``spotting_replay.separability``) and the spotter's micro F1 on
it, beside the present signal's, in one run. Candidates (``--signals``):

``bump``      the present signal recomputed offline (a check: its figures equal the replay's)
``resid``     ``bump`` with the part a running linear regression on the mouth's, the face sides' and the whole face's
              bump (fitted per cell on the previous 20 s, every 4th frame, refitted each second, the last second left
              out) predicts taken away: speech- and head-driven motion removed from the other regions
``local``     ``bump`` minus the median of its 3x3 cells around it: a localised movement against spread non-rigid motion
``short``     the bump at 0.25 s rather than 0.5 s: a band matched to micro durations (0.1-0.5 s)
``flank``     ``bump`` against the means of the frames 0.15 s around the frames 0.5 s before and after (not one frame
              each): speech's own motion averaged out of the two references
``dog``       a temporal band-pass matched to micro durations: each pixel's Gaussian mean in time at sigma 0.1 s less
              that at 0.5 s (centred), its magnitude, cell means
``flow``      dense optical flow (OpenCV DIS, ultrafast) from frame c to the frames 0.5 s before and after, each pair's
              affine motion (fitted on the inner face) removed, the smaller magnitude where both point the same way
              (a movement that comes and goes), cell means
``flowres``   ``flow`` through ``resid``'s regression
``resid2``    ``resid`` with more regressors: each mouth cell, and the mouth's mean 0.1 and 0.2 s before and after
``tlocal``    ``bump`` less the median of the same cell's bump 0.5-1.5 s before and after (its activity of the moment)
``tratio``    ``bump`` over (1 + that median): gain control by the moment's activity (a movement in a pause stands out)
``xcell``     ``bump`` less each cell's ridge regression on every cell more than 2 cells from it (previous 20 s, every
              2nd frame, the last second left out, refitted each second): what the rest of the face predicts
``farneback`` ``flow`` with OpenCV's Farneback flow (3 levels, 9 px windows) instead of DIS ultrafast

    nice python bench/spotting_signals.py ROOT [ROOT ...] --cache DIR [--signals bump,resid,local,short,flow]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from spotting_cache import FACE, cached, load, rows, stream
from spotting_replay import separability

from mpt_live.errors import InputError
from mpt_live.facemotion import CELL, GRID, REGIONS, FrameSignals
from mpt_live.machine import vector_extensions
from mpt_live.spotting import Spotter
from train.datasets.longvideo import LongVideoIndex, read_annotations_csv
from train.spot_metrics import Spotted, score

SIGNALS = ("bump", "resid", "local", "short", "flank", "dog", "flow", "flowres", "resid2", "farneback", "tlocal", "tratio", "xcell")
_MOUTH, _SIDES, _INNER = (REGIONS[r].ravel() for r in ("mouth", "sides", "inner"))


def segments(d) -> list[tuple[np.ndarray, np.ndarray]]:
    """A cache file's face tracks: each run of consecutive FACE rows as (frame numbers, grey faces)."""
    kinds, _ = rows(d)
    frames, grey, out, g, run = d["frames"], d["grey"], [], 0, []
    for frame, kind in zip(frames, kinds):
        if kind == FACE:
            run.append((int(frame), g))
            g += 1
        elif run:
            out.append(run)
            run = []
    out += [run] if run else []
    return [(np.array([f for f, _ in r]), grey[[i for _, i in r]]) for r in out]


def smoothed(grey: np.ndarray, half: int) -> np.ndarray:
    """FaceMotion's time mean at a constant rate: each frame with ``half`` frames each side (fewer at the ends)."""
    c = np.cumsum(np.concatenate([np.zeros((1, *grey.shape[1:]), np.float64), grey]), axis=0)
    i = np.arange(len(grey))
    lo, hi = np.maximum(i - half, 0), np.minimum(i + half + 1, len(grey))
    return ((c[hi] - c[lo]) / (hi - lo)[:, None, None]).astype(np.float32)


def cells(m: np.ndarray) -> np.ndarray:
    """(n, 112, 112) -> (n, 14, 14) cell means."""
    return m.reshape(len(m), GRID, CELL, GRID, CELL).mean(axis=(2, 4))


def bump(s: np.ndarray, k: int) -> dict[int, np.ndarray]:
    """FaceMotion's same-sign bump of smoothed frames ``s`` at ``k`` frames: position -> (14, 14)."""
    out = {}
    for c in range(k, len(s) - k):
        d1, d2 = s[c] - s[c - k], s[c] - s[c + k]
        out[c] = cells((np.maximum(np.minimum(d1, d2), 0) + np.maximum(np.minimum(-d1, -d2), 0))[None])[0]
    return out


def flank(grey: np.ndarray, s: np.ndarray, k: int, fps: float) -> dict[int, np.ndarray]:
    """``bump`` of the smoothed frames ``s`` against references averaged over 0.15 s each side of c -+ k."""
    ref = smoothed(grey, max(1, round(0.15 * fps)))
    out = {}
    for c in range(k, len(s) - k):
        d1, d2 = s[c] - ref[c - k], s[c] - ref[c + k]
        out[c] = cells((np.maximum(np.minimum(d1, d2), 0) + np.maximum(np.minimum(-d1, -d2), 0))[None])[0]
    return out


def dog(grey: np.ndarray, fps: float, k: int) -> dict[int, np.ndarray]:
    """|G(0.1 s) - G(0.5 s)| in time, per pixel, cell means (the frames within ``k`` of each end left out)."""
    from scipy.ndimage import gaussian_filter1d

    g = grey.astype(np.float32)
    band = np.abs(gaussian_filter1d(g, 0.1 * fps, axis=0, mode="nearest")
                  - gaussian_filter1d(g, 0.5 * fps, axis=0, mode="nearest"))
    m = cells(band)
    return {c: m[c] for c in range(k, len(g) - k)}


def _affine_removed(flow: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A flow field less the affine motion fitted (least squares) to it on ``mask``'s pixels."""
    h, w = flow.shape[:2]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    a = np.stack([x.ravel(), y.ravel(), np.ones(h * w, np.float32)], 1)
    coef, *_ = np.linalg.lstsq(a[mask.ravel()], flow.reshape(-1, 2)[mask.ravel()], rcond=None)
    return flow - (a @ coef).reshape(h, w, 2)


def flow(s: np.ndarray, k: int, farneback: bool = False) -> dict[int, np.ndarray]:
    """Same-direction residual flow magnitude between frame c and the frames ``k`` before and after it."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    if farneback:
        dis = type("Farneback", (), {"calc": staticmethod(lambda a, b, _: cv2.calcOpticalFlowFarneback(
            a, b, None, 0.5, 3, 9, 3, 5, 1.1, 0))})()
    u8 = np.clip(s, 0, 255).astype(np.uint8)
    mask = cv2.resize(REGIONS["inner"].astype(np.uint8), (s.shape[2], s.shape[1]),
                      interpolation=cv2.INTER_NEAREST).astype(bool)
    out = {}
    for c in range(k, len(s) - k):
        f1 = _affine_removed(dis.calc(u8[c], u8[c - k], None), mask)
        f2 = _affine_removed(dis.calc(u8[c], u8[c + k], None), mask)
        same = (f1 * f2).sum(axis=2) > 0
        m = np.where(same, np.minimum(np.hypot(*f1.transpose(2, 0, 1)), np.hypot(*f2.transpose(2, 0, 1))), 0.0)
        out[c] = cells(m[None].astype(np.float32))[0]
    return out


def local(maps: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """Each cell less the median of the 3x3 cells around it."""
    return {c: m - cv2.medianBlur(m.astype(np.float32), 3) for c, m in maps.items()}


def resid(maps: dict[int, np.ndarray], fps: float, history_s: float = 20.0, skip_s: float = 1.0,
          every_s: float = 1.0, ridge: float = 1e-3, rich: bool = False) -> dict[int, np.ndarray]:
    """Each cell less what a linear fit on the mouth's, the sides' and the whole face's motion predicts (fitted per
    cell on the frames from ``history_s`` to ``skip_s`` before, every 4th, refitted every ``every_s``); the first
    frames (under 2 s of history) as they are."""
    keys = sorted(maps)
    y = np.stack([maps[c].ravel() for c in keys]).astype(np.float64)
    x = np.stack([np.ones(len(y)), y[:, _MOUTH].mean(1), y[:, _SIDES].mean(1), np.median(y[:, _INNER], 1)], 1)
    if rich:
        m, lags = y[:, _MOUTH].mean(1), [round(a * fps) for a in (-0.2, -0.1, 0.1, 0.2)]
        x = np.concatenate([x, y[:, _MOUTH], np.stack([np.roll(m, lag) for lag in lags], 1)], 1)
    out, beta, hist, skip, step = {}, None, int(history_s * fps), int(skip_s * fps), max(int(every_s * fps), 1)
    for i, c in enumerate(keys):
        if i % step == 0:
            lo, hi = max(i - hist, 0), i - skip
            if hi - lo >= 2 * fps:
                xs, ys = x[lo:hi:4], y[lo:hi:4]
                beta = np.linalg.solve(xs.T @ xs + ridge * len(xs) * np.eye(x.shape[1]), xs.T @ ys)
        out[c] = (y[i] - (x[i] @ beta if beta is not None else 0.0)).reshape(GRID, GRID).astype(np.float32)
    return out


def in_time(maps: dict[int, np.ndarray], fps: float, ratio: bool) -> dict[int, np.ndarray]:
    """Each cell against the median of its own values 0.5-1.5 s before and after (less it, or over 1 + it)."""
    keys = sorted(maps)
    y = np.stack([maps[c] for c in keys])
    a, b = round(0.5 * fps), round(1.5 * fps)
    out = {}
    for i, c in enumerate(keys):
        near = np.concatenate([y[max(i - b, 0):max(i - a, 0)], y[i + a:i + b]])
        m = np.median(near, axis=0) if len(near) else np.zeros_like(y[i])
        out[c] = y[i] / (1.0 + m) if ratio else y[i] - m
    return out


def xcell(maps: dict[int, np.ndarray], fps: float, history_s: float = 20.0, skip_s: float = 1.0,
          ridge: float = 0.1, every_s: float = 1.0) -> dict[int, np.ndarray]:
    """Each cell less what the cells more than 2 cells away from it predict (a ridge fit on the recent past)."""
    keys = sorted(maps)
    y = np.stack([maps[c].ravel() for c in keys]).astype(np.float64)
    r, c = np.divmod(np.arange(GRID * GRID), GRID)
    far = (np.abs(r[:, None] - r[None]) > 2) | (np.abs(c[:, None] - c[None]) > 2)
    out, coef, hist, skip, step = {}, None, int(history_s * fps), int(skip_s * fps), max(int(every_s * fps), 1)
    for i, key in enumerate(keys):
        if i % step == 0 and i - skip - max(i - hist, 0) >= 2 * fps:
            ys = y[max(i - hist, 0):i - skip:2]
            mu = ys.mean(0)
            g = (ys - mu).T @ (ys - mu)
            lam = ridge * np.trace(g) / len(g)
            h, coef = np.linalg.inv(g + lam * np.eye(len(g))), np.zeros((len(g), len(g)))
            for j in range(len(g)):  # (g + lam)[f, f]^-1 from the whole inverse: a small solve on the near cells n
                f, n = far[j], ~far[j]
                t = h[np.ix_(f, f)] @ g[f, j]
                coef[f, j] = t - h[np.ix_(f, n)] @ np.linalg.solve(h[np.ix_(n, n)], h[np.ix_(n, f)] @ g[f, j])
            coef = (mu, coef)
        out[key] = (y[i] - (coef[0] + (y[i] - coef[0]) @ coef[1] if coef else 0.0)).reshape(GRID, GRID).astype(np.float32)
    return out


def candidate(name: str, grey: np.ndarray, s: np.ndarray, k: int, fps: float) -> dict[int, np.ndarray]:
    """Candidate ``name``'s micro maps of one track: position -> (14, 14), from its grey faces and their time mean."""
    make = {
        "bump": lambda: bump(s, k), "short": lambda: bump(s, max(1, round(k / 2))),
        "local": lambda: local(bump(s, k)), "flank": lambda: flank(grey, s, k, fps), "dog": lambda: dog(grey, fps, k),
        "tlocal": lambda: in_time(bump(s, k), fps, False), "tratio": lambda: in_time(bump(s, k), fps, True),
        "resid": lambda: resid(bump(s, k), fps), "resid2": lambda: resid(bump(s, k), fps, rich=True),
        "xcell": lambda: xcell(bump(s, k), fps), "flow": lambda: flow(s, k),
        "flowres": lambda: resid(flow(s, k), fps), "farneback": lambda: flow(s, k, farneback=True),
    }
    return make[name]()


def micro_maps(path: Path, names: list[str], fm) -> tuple[dict[str, dict[int, np.ndarray]], dict[str, float]]:
    """Per candidate, frame number -> (14, 14) micro map of one cached video, and the CPU seconds per frame it took."""
    d = load(path)
    out, cpu = {n: {} for n in names}, dict.fromkeys(names, 0.0)
    n = 0
    for frames, grey in segments(d):
        s = smoothed(grey, fm.half)
        n += len(frames)
        for name in names:
            t = time.thread_time()
            for c, m in candidate(name, grey, s, fm.k_micro, fm.fps).items():
                out[name][int(frames[c])] = m
            cpu[name] += time.thread_time() - t
    return out, {k: v / max(n, 1) for k, v in cpu.items()}


def spot_with(signals: list, maps: dict[int, np.ndarray], fm) -> tuple[list, dict]:
    """The spotter's events on ``signals`` with their micro maps replaced by ``maps`` (None where it has none), and
    its micro channel's pooled evidence per frame."""
    sp, events, pooled = Spotter.for_motion(fm), [], {}
    for s in signals:
        if isinstance(s, FrameSignals):
            events += sp.push(replace(s, micro=maps.get(s.frame)) if s.micro is not None else s)
            f = sp.micro.frames[-1]
            if f.pooled is not None:
                pooled[f.frame] = f.pooled
        else:
            events += sp.flush(cut=s is not None, camera=s == "camera")
    return events + sp.flush(), pooled


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("roots", nargs="+", type=Path, help="mpt-synth --long benchmark folders")
    ap.add_argument("--cache", type=Path, required=True, help="spotting_replay.py's cache (built with --build)")
    ap.add_argument("--signals", default=",".join(SIGNALS),
                    help=f"comma-separated candidates of {', '.join(SIGNALS)}; the present signal always first")
    args = ap.parse_args()
    try:
        names = [x for x in args.signals.split(",") if x]
        bad = [x for x in names if x not in SIGNALS]
        if bad or not names:
            raise InputError(f"--signals {args.signals!r}: give some of {', '.join(SIGNALS)}")
        print(f"CPU vector extensions: {vector_extensions()}", flush=True)
        keys = ["present", *names]
        spotted, sep, cpu, videos = {k: {} for k in keys}, {k: {} for k in keys}, {k: [] for k in names}, []
        for root in args.roots:
            t = read_annotations_csv(root / "annotations.csv")
            for v in t.videos:
                f = cached(args.cache, root.name, v, False)
                signals, fm = stream(f)
                maps, c = micro_maps(f, names, fm)
                key = f"{root.name}/{v.name}"
                videos.append(replace(v, name=key))
                line = []
                for k in keys:
                    m = {s.frame: s.micro for s in signals if isinstance(s, FrameSignals) and s.micro is not None} \
                        if k == "present" else maps[k]
                    events, pooled = spot_with(signals, m, fm)
                    spotted[k][key] = [Spotted(key, e.onset, e.offset, e.type, score=e.score, apex=e.apex)
                                       for e in events]
                    r = separability(v, pooled, fm.fps)
                    sep[k].setdefault(root.name, []).append(r)
                    one = score(LongVideoIndex(videos=[videos[-1]], classes=[]), spotted[k], "micro")
                    line.append(f"{k} {round(r['clear'] * r['n'])}/{r['n']} ({r['chance']:.0%}) "
                                f"{one['tp']}/{one['fp']}/{one['fn']}")
                for k in names:
                    cpu[k].append(c[k])
                print(f"  {key:<14} clear/n (chance) TP/FP/FN: " + "  ".join(line), flush=True)
        for k in keys:
            for name in [*(r.name for r in args.roots), "pooled"]:
                vs = [v for v in videos if name == "pooled" or v.name.startswith(name + "/")]
                rs = [r for n, x in sep[k].items() if name in ("pooled", n) for r in x if r["n"]]
                r = score(LongVideoIndex(videos=vs, classes=[]), spotted[k], "micro")
                print(f"{k:<8} {name:<8} separability {sum(round(x['clear'] * x['n']) for x in rs)} of "
                      f"{sum(x['n'] for x in rs)} above their window's background maximum (random stretches "
                      f"{np.mean([x['chance'] for x in rs]):.0%}); micro F1 {r['f1']:.3f} ({r['tp']}/{r['fp']}/{r['fn']})"
                      + (f"; signal CPU {1e3 * np.mean(cpu[k]):.2f} ms a frame" if k in cpu and name == "pooled" else ""))
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
