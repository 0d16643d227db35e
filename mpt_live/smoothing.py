"""Keypoint smoothing of a face track: a One-Euro filter (Casiez et al., CHI 2012), time-based, with one
cutoff per frame shared by all keypoints (so the smoothed face keeps its shape) and speed measured
in pixels per second of a 224x224 template (whatever `image_size` is), which makes the defaults
independent of the frame and output resolutions. Defaults
(min_cutoff 0.5 Hz, beta 0.2 per template-px/s, d_cutoff 1 Hz) were tuned on the shared media:
see bench/alignment.py for the figures and their targets.
"""

from __future__ import annotations

import math

import numpy as np


class OneEuroFilter:
    """One-Euro filter (Casiez et al. 2012) for an (N, D) array of points, time-based.

    Each update uses one cutoff for all points, `min_cutoff + beta * speed`, where speed is the mean
    norm of the filtered velocity of the first `speed_points` rows (all rows when None), multiplied
    by `scale` (units per input unit, e.g. template px per frame px) so that `beta` and the speed
    are expressed in the caller's units.
    """

    def __init__(self, min_cutoff: float = 0.5, beta: float = 0.2, d_cutoff: float = 1.0,
                 speed_points: int | None = None) -> None:
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.speed_points = speed_points
        self.reset()

    def reset(self) -> None:
        """Forget the state: the next value passes through unchanged."""
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t = 0.0

    @property
    def value(self) -> np.ndarray | None:
        """The current filtered value (None before the first update)."""
        return self._x

    @staticmethod
    def _alpha(cutoff: float, dt: float) -> float:
        tau = 1.0 / (2.0 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        """Filter `x` observed at time `t` (seconds). A non-increasing `t` restarts the filter."""
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or t <= self._t or x.shape != self._x.shape:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return self._x.copy()
        dt = t - self._t
        ad = self._alpha(self.d_cutoff, dt)
        self._dx = ad * ((x - self._x) / dt) + (1.0 - ad) * self._dx
        rows = self._dx.reshape(len(self._dx), -1)[: self.speed_points]
        speed = float(np.linalg.norm(rows, axis=1).mean()) * scale
        a = self._alpha(self.min_cutoff + self.beta * speed, dt)
        self._x = a * x + (1.0 - a) * self._x
        self._t = t
        return self._x.copy()
