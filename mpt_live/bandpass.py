"""The temporal band-pass of Eulerian magnification (:mod:`mpt_live.motion`): the Butterworth band ``spec.band_hz``
for a clip's sampling rate (its upper edge lowered where the rate cannot hold it), designed once per band and rate,
and :class:`Biquads`, the causal cascade that runs it over whole frames into preallocated buffers."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
from scipy import signal

from .clip import ClipSpec

# When a clip is sampled too slowly for the band's upper edge (at or above Nyquist: 16 frames
# spanning more than about 1.9 s, for 4 Hz), the edge is lowered to this fraction of the Nyquist rate:
# the filter cannot pass what the samples cannot hold. A spec's own rate (spec.clip_fps) never needs it.
NYQUIST_MARGIN = 0.9

def clip_band(spec: ClipSpec, fps: float | None = None) -> tuple[float, float, float]:
    """``(fps, low, high)``: the sampling rate used (``fps``, else ``spec.clip_fps``) and the band,
    its upper edge lowered to ``NYQUIST_MARGIN`` x Nyquist when it is at or above Nyquist. ValueError
    when even the lower edge is beyond what that rate can hold."""
    fs = float(spec.clip_fps if fps is None else fps)
    if not np.isfinite(fs) or fs <= 0:
        raise ValueError(f"clip sampling rate must be a positive number of frames per second, got {fps}")
    lo, hi = spec.band_hz
    if hi >= fs / 2:
        hi = NYQUIST_MARGIN * fs / 2
    if lo >= hi:
        raise ValueError(f"a clip sampled at {fs:.3g} frames/s cannot hold the band {spec.band_hz[0]:g}-"
                         f"{spec.band_hz[1]:g} Hz (Nyquist {fs / 2:.3g} Hz): the clip spans too long a time")
    return fs, lo, hi


def band_pass(spec: ClipSpec, fps: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The temporal filter: (sos (n, 6), zi (n, 2)) of the Butterworth band-pass ``spec.band_hz`` (Hz of
    real time) for a clip sampled at ``fps`` frames per second (None: ``spec.clip_fps``, the live window).

    ``zi`` is the per-unit-input steady state (scipy.signal.sosfilt_zi): scaled by a constant
    input it makes the filter start as if that input had always been there.
    """
    fs, lo, hi = clip_band(spec, fps)
    sos, zi = _butter_band(spec.filter_order, lo, hi, fs)
    return sos.copy(), zi.copy()


@lru_cache(maxsize=64)
def _butter_band(order: int, lo: float, hi: float, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """The Butterworth design of :func:`band_pass`, once per (order, band, rate): the scipy design took
    ~0.45 ms, about 14% of ``model_inputs`` at 112 px, and every window asked for the same filter."""
    sos = signal.butter(order, (lo, hi), btype="bandpass", fs=fs, output="sos")
    return sos, signal.sosfilt_zi(sos)


class Biquads:
    """Causal sos cascade (direct form II transposed) over whole arrays of one shape, no allocation.

    The cascade filters the deviation from the frame given to :meth:`start`, from a zero state. A
    band-pass has no DC gain, so this is exactly the filter started at that frame's steady state
    (scipy.signal.sosfilt_zi), and a still input gives exactly zero, whatever the rounding.
    """

    def __init__(self, sos: np.ndarray, shape: tuple[int, ...]) -> None:
        self.coefs = [(float(b0), float(b1), float(b2), float(a1), float(a2)) for b0, b1, b2, _, a1, a2 in sos]
        n = len(self.coefs)
        self.z = np.zeros((n, 2, *shape), np.float32)
        self.y = np.zeros((n, *shape), np.float32)  # output of each section
        self.x0 = np.zeros(shape, np.float32)
        self.dx = np.zeros(shape, np.float32)

    def start(self, x: np.ndarray) -> None:
        """Start at the steady state of a constant input ``x`` (per element)."""
        np.copyto(self.x0, x)
        self.z.fill(0.0)

    def step(self, x: np.ndarray) -> np.ndarray:
        """Filter one time step; returns the output buffer (overwritten by the next step).

        One OpenCV call per line (a fused multiply-add pass over the frame each), float32 throughout.
        """
        x = cv2.subtract(x, self.x0, dst=self.dx, dtype=cv2.CV_32F)  # a uint8 x is read as it is (exact)
        for k, (b0, b1, b2, a1, a2) in enumerate(self.coefs):
            y, z0, z1 = self.y[k], self.z[k, 0], self.z[k, 1]
            cv2.scaleAdd(x, b0, z0, dst=y)  # y = b0 x + z0
            cv2.scaleAdd(y, -a1, z1, dst=z0)  # z0 = b1 x - a1 y + z1
            if b1:
                cv2.scaleAdd(x, b1, z0, dst=z0)
            cv2.addWeighted(x, b2, y, -a2, 0.0, dst=z1)  # z1 = b2 x - a2 y
            x = y
        return x
