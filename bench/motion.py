"""Cost of magnification and rank pooling (mpt_live/motion.py) on 224x224 BGR frames.

Magnification, ms per frame (streaming Magnifier.push: pyramid + band-pass + reconstruction),
numpy biquads (ours) beside the same code with scipy.signal.sosfilt called per frame:

* default spec (uniform gains): the regrouped form needs no pyramid at all;
* attenuate spec (per-level gains 0, a, a, 0): Gaussian levels + one pyrUp chain;
* textbook Laplacian EVM (every level filtered, Laplacian built with pyrUp, collapsed twice:
  once amplified, once plain for the band energy), what the regrouped form replaces.

Per clip (16 frames): magnify_clip, dynamic_image (rank pooling) and model_inputs.
Figures are the best of --repeats runs (the floor; medians drift with other load on the machine).

    python bench/motion.py [--threads N] [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from functools import partial

import cv2
import numpy as np
from scipy import signal

from mpt_live.clip import ClipSpec
from mpt_live.machine import vector_extensions
from mpt_live.bandpass import Biquads, band_pass
from mpt_live.motion import Magnifier, level_gains, magnify_clip, model_inputs, motion_score
from mpt_live.rankpool import dynamic_image


class ScipySos:
    """Drop-in for Biquads: the same cascade through scipy.signal.sosfilt, one frame at a time."""

    def __init__(self, sos: np.ndarray, shape: tuple[int, ...]) -> None:
        self.sos = sos.astype(np.float32)
        self.zi0 = signal.sosfilt_zi(sos).astype(np.float32)
        self.z = np.zeros((len(sos), 2, *shape), np.float32)

    def start(self, x: np.ndarray) -> None:
        self.z = self.zi0.reshape(*self.zi0.shape, *[1] * x.ndim) * x[None, None]

    def step(self, x: np.ndarray) -> np.ndarray:
        y, self.z = signal.sosfilt(self.sos, x[None], axis=0, zi=self.z)
        return y[0]


class TextbookEVM:
    """Streaming Laplacian EVM written out level by level (filter class pluggable)."""

    def __init__(self, spec: ClipSpec, shape: tuple[int, int, int], filt: type = Biquads) -> None:
        self.gains = level_gains(spec)
        sos, _ = band_pass(spec)
        sizes = [shape]
        for _ in range(spec.pyramid_levels - 1):
            h, w, _ = sizes[-1]
            sizes.append(((h + 1) // 2, (w + 1) // 2, 3))
        self.sizes = sizes
        self.filters = [filt(sos, s) for s in sizes]
        self.started = False

    def push(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        x = frame.astype(np.float32)
        g = [x]
        for _ in range(len(self.sizes) - 1):
            g.append(cv2.pyrDown(g[-1]))
        lap = [g[i] - cv2.pyrUp(g[i + 1], dstsize=g[i].shape[1::-1]) for i in range(len(g) - 1)] + [g[-1]]
        if not self.started:
            for f, lv in zip(self.filters, lap):
                f.start(lv)
            self.started = True
        bands = [f.step(lv) for f, lv in zip(self.filters, lap)]

        def collapse(gains: np.ndarray) -> np.ndarray:
            acc = gains[-1] * bands[-1]
            for i in range(len(bands) - 2, -1, -1):
                acc = cv2.pyrUp(acc, dstsize=bands[i].shape[1::-1]) + gains[i] * bands[i]
            return acc

        plain = collapse(np.ones(len(bands)))
        return x + collapse(self.gains), float(np.mean(plain**2))


def scipy_magnifier(spec: ClipSpec, shape: tuple[int, int, int]) -> Magnifier:
    """Our Magnifier with its biquads swapped for scipy.signal.sosfilt (same pyramid code)."""
    return Magnifier(spec, shape, filters=ScipySos)


def ms_per_frame(make, clip: np.ndarray, repeats: int) -> float:
    """Best over repeats of the mean ms per pushed frame, a fresh magnifier per clip."""
    out = []
    for _ in range(repeats):
        m = make()
        t = time.perf_counter()
        for f in clip:
            m.push(f)
        out.append((time.perf_counter() - t) * 1e3 / len(clip))
    return float(np.min(out))


def ms_per_call(fn, repeats: int) -> float:
    fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e3)
    return float(np.min(out))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=None, help="cv2.setNumThreads (default: OpenCV's own)")
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    if args.threads is not None:
        cv2.setNumThreads(args.threads)
    spec = ClipSpec()
    S, T = spec.image_size, spec.frames
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.integers(0, 256, (S, S, 3)).astype(np.float32), (0, 0), 3)
    shifts = [np.float32([[1, 0, 0.5 * np.sin(t)], [0, 1, 0]]) for t in range(T)]
    clip = np.stack([cv2.warpAffine(base, m, (S, S), borderMode=cv2.BORDER_REFLECT) for m in shifts]).astype(np.uint8)
    shape = (S, S, 3)
    att = ClipSpec(attenuate=True)

    print(f"CPU vector extensions: {vector_extensions()}", flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{S}x{S}x3 frames, clip of {T}, cv2 threads {cv2.getNumThreads()}, {os.cpu_count()} cpus, "
        f"load {load:.1f}; best of {args.repeats} (timeit-style: the floor, robust to a shared machine)"
    )
    print(f"{'magnify, ms/frame':<44}{'numpy biquad':>14}{'scipy sosfilt':>15}{'speed-up':>10}")
    rows = [
        ("default spec (no pyramid)", partial(Magnifier, spec, shape), partial(scipy_magnifier, spec, shape)),
        ("attenuate spec (Gaussian levels)", partial(Magnifier, att, shape), partial(scipy_magnifier, att, shape)),
        ("textbook Laplacian, attenuate", partial(TextbookEVM, att, shape), partial(TextbookEVM, att, shape, ScipySos)),
    ]
    figures = {}
    for name, ours, theirs in rows:
        a, b = ms_per_frame(ours, clip, args.repeats), ms_per_frame(theirs, clip, args.repeats)
        figures[name] = (a, b)
        print(f"{name:<44}{a:>14.3f}{b:>15.3f}{b / a:>9.1f}x")

    per_clip = {
        "magnify_clip (default)": ms_per_call(lambda: magnify_clip(clip, spec), args.repeats),
        "magnify_clip (attenuate)": ms_per_call(lambda: magnify_clip(clip, att), args.repeats),
        "dynamic_image (rank pooling)": ms_per_call(lambda: dynamic_image(clip), args.repeats),
        "model_inputs (default)": ms_per_call(lambda: model_inputs(clip, spec), args.repeats),
        "motion_score (a motion-only window)": ms_per_call(lambda: motion_score(clip, spec), args.repeats),
    }
    print(f"{'per clip of ' + str(T) + ', ms':<44}{'':>14}")
    for name, v in per_clip.items():
        print(f"{name:<44}{v:>14.3f}")

    d, a = figures[rows[0][0]], figures[rows[1][0]]
    print(
        f"SUMMARY magnify {d[0]:.3f} ms/frame default, {a[0]:.3f} attenuate (target <= 1; scipy sosfilt "
        f"{d[1]:.3f} / {a[1]:.3f}, {d[1] / d[0]:.1f}x / {a[1] / a[0]:.1f}x slower); rank pooling "
        f"{per_clip['dynamic_image (rank pooling)']:.2f} ms/clip; "
        f"model_inputs {per_clip['model_inputs (default)']:.2f} ms/clip"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
