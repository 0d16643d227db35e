"""Facial actions on a face coordinate frame: what the synthetic faces do (torch-free).

A face coordinate frame (:class:`FaceFrame`: origin between the eyes, x along the eye line towards
the image right, y towards the chin, unit = inter-ocular distance) is anchored on the six BlazeFace
keypoints, so an action lands on the same anatomy on any face. An action (:data:`ACTIONS`) is a sum
of Gaussian displacement bumps at facial sites, one action family per micro-expression class
(:data:`CLASS_ACTIONS`); :func:`action_field` turns it into a pixel displacement field at apex,
:func:`time_course` scales it over onset-apex-offset, :func:`source_coords` inverts it for
``cv2.remap``. Animated by :mod:`mpt_live.synthface`.
"""

from __future__ import annotations

import math
from typing import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

KEYPOINTS = ("right_eye", "left_eye", "nose", "mouth", "right_ear", "left_ear")
CLASSES = ("happiness", "surprise", "disgust", "repression", "others")


# --------------------------------------------------------------------------- face frame


@dataclass(frozen=True)
class FaceFrame:
    """Face coordinate frame from the 6 BlazeFace keypoints (frame pixels).

    ``ex`` points from the subject's right eye (image left) to the left eye, ``ey`` is ``ex``
    turned 90 degrees towards the chin; lengths are in units of ``iod`` pixels.
    """

    keypoints: np.ndarray
    origin: np.ndarray
    ex: np.ndarray
    ey: np.ndarray
    iod: float

    @classmethod
    def from_keypoints(cls, keypoints: np.ndarray) -> "FaceFrame":
        kp = np.asarray(keypoints, dtype=np.float64).reshape(6, 2)
        re, le = kp[0], kp[1]
        d = le - re
        iod = float(np.hypot(*d))
        if iod < 2.0:
            raise ValueError(f"eyes {re} and {le} are too close to define a face frame")
        ex = d / iod
        ey = np.array([-ex[1], ex[0]])
        origin = (re + le) / 2
        if np.dot(kp[3] - origin, ey) < 0:  # mouth above the eyes: mirrored keypoints
            ey = -ey
        return cls(kp, origin, ex, ey, iod)

    def anchor(self, name: str) -> np.ndarray:
        """Pixel position of a keypoint by name, or ``"eyes"`` for the eye midpoint."""
        return self.origin if name == "eyes" else self.keypoints[KEYPOINTS.index(name)]

    def point(self, anchor: str, offset: Sequence[float] = (0.0, 0.0)) -> np.ndarray:
        """Pixel position of ``anchor`` + ``offset`` (face units)."""
        return self.anchor(anchor) + self.iod * (offset[0] * self.ex + offset[1] * self.ey)

    def direction(self, d: Sequence[float]) -> np.ndarray:
        """Unit pixel direction of a face-frame direction."""
        v = d[0] * self.ex + d[1] * self.ey
        return v / max(float(np.hypot(*v)), 1e-12)

    def local(self, xs: np.ndarray, ys: np.ndarray, anchor: str) -> tuple[np.ndarray, np.ndarray]:
        """Face-unit coordinates (u, v) of pixel grids relative to ``anchor``."""
        a = self.anchor(anchor)
        dx, dy = xs - a[0], ys - a[1]
        return (dx * self.ex[0] + dy * self.ex[1]) / self.iod, (dx * self.ey[0] + dy * self.ey[1]) / self.iod


# --------------------------------------------------------------------------- action library


@dataclass(frozen=True)
class Bump:
    """One Gaussian displacement bump: centre = anchor + offset, width sigma, all in face units."""

    anchor: str
    offset: tuple[float, float]
    sigma: float
    direction: tuple[float, float]
    weight: float = 1.0


@dataclass(frozen=True)
class Action:
    name: str
    cls: str
    action_units: str
    bumps: tuple[Bump, ...]


def _pair(anchor_r: str, anchor_l: str, off: tuple[float, float], sigma: float,
          d: tuple[float, float], weight: float = 1.0) -> tuple[Bump, Bump]:
    """A bump on the subject's right side (image left) and its mirror image."""
    return (Bump(anchor_r, (-off[0], off[1]), sigma, (-d[0], d[1]), weight),
            Bump(anchor_l, (off[0], off[1]), sigma, d, weight))


_ACTIONS = [
    # surprise: both brows up (AU1+2)
    Action("brow_raise", "surprise", "1+2", _pair("right_eye", "left_eye", (0.0, -0.36), 0.2, (0.0, -1.0))),
    # happiness: both lip corners pulled up and out (AU12)
    Action("lip_corner_pull", "happiness", "12", _pair("mouth", "mouth", (0.4, -0.02), 0.14, (0.55, -0.83))),
    # disgust: nose wrinkle (sides of the nose up) + upper lip raise (AU9+10)
    Action("nose_wrinkle", "disgust", "9+10",
           _pair("nose", "nose", (0.17, -0.12), 0.11, (0.0, -1.0))
           + (Bump("mouth", (0.0, -0.16), 0.12, (0.0, -1.0), 0.8),)),
    # repression: lip corners down + chin pushing the lower lip up (AU15+17)
    Action("lip_corners_down", "repression", "15+17",
           _pair("mouth", "mouth", (0.4, 0.0), 0.13, (0.15, 1.0))
           + (Bump("mouth", (0.0, 0.32), 0.16, (0.0, -1.0), 0.6),)),
    # others: unrelated small movements, one-sided (a cheek twitch pushes the lower lid up)
    Action("cheek_twitch_right", "others", "R6", (Bump("right_eye", (-0.05, 0.38), 0.2, (0.15, -1.0)),)),
    Action("cheek_twitch_left", "others", "L6", (Bump("left_eye", (0.05, 0.38), 0.2, (-0.15, -1.0)),)),
    Action("jaw_shift_right", "others", "R30", (Bump("mouth", (0.0, 0.55), 0.26, (-1.0, 0.0)),)),
    Action("jaw_shift_left", "others", "L30", (Bump("mouth", (0.0, 0.55), 0.26, (1.0, 0.0)),)),
]
ACTIONS: dict[str, Action] = {a.name: a for a in _ACTIONS}
CLASS_ACTIONS: dict[str, tuple[str, ...]] = {c: tuple(a.name for a in _ACTIONS if a.cls == c) for c in CLASSES}

_TRUNCATE = 4.0  # Gaussians are cut at 4 sigma: the field is exactly zero far from the site


def action_field(shape: tuple[int, int], face: FaceFrame, action: str | Action, amplitude: float) -> np.ndarray:
    """Displacement field (H, W, 2) float32 (dx, dy) of ``action`` at apex.

    The largest displacement over the frame equals ``amplitude`` pixels (content moves by the
    field: ``out(p + d(p)) = in(p)``). Zero beyond 4 sigma of every bump.
    """
    act = ACTIONS[action] if isinstance(action, str) else action
    h, w = shape[:2]
    out = np.zeros((h, w, 2), np.float32)
    for b in act.bumps:
        c = face.point(b.anchor, b.offset)
        s = b.sigma * face.iod
        r = _TRUNCATE * s
        x0, x1 = max(int(math.floor(c[0] - r)), 0), min(int(math.ceil(c[0] + r)) + 1, w)
        y0, y1 = max(int(math.floor(c[1] - r)), 0), min(int(math.ceil(c[1] + r)) + 1, h)
        if x0 >= x1 or y0 >= y1:
            continue
        xs = np.arange(x0, x1, dtype=np.float32) - np.float32(c[0])
        ys = np.arange(y0, y1, dtype=np.float32) - np.float32(c[1])
        d2 = ys[:, None] ** 2 + xs[None, :] ** 2
        g = np.where(d2 <= r * r, np.exp(-d2 / np.float32(2 * s * s)), 0).astype(np.float32) * b.weight
        u = face.direction(b.direction)
        out[y0:y1, x0:x1, 0] += g * np.float32(u[0])
        out[y0:y1, x0:x1, 1] += g * np.float32(u[1])
    peak = float(np.sqrt((out**2).sum(-1)).max())
    if peak > 0:
        out *= np.float32(amplitude / peak)
    return out


def time_course(t: float | np.ndarray, onset: float, apex: float, offset: float) -> float | np.ndarray:
    """Onset-apex-offset intensity: a raised-cosine rise onset->apex to 1, decay apex->offset to 0.

    Zero outside [onset, offset]; continuous with a continuous first derivative.
    """
    t = np.asarray(t, dtype=np.float64)
    rise = np.clip((t - onset) / max(apex - onset, 1e-9), 0.0, 1.0)
    fall = np.clip((offset - t) / max(offset - apex, 1e-9), 0.0, 1.0)
    s = np.where(t <= apex, 0.5 - 0.5 * np.cos(np.pi * rise), 0.5 - 0.5 * np.cos(np.pi * fall))
    s = np.where((t <= onset) | (t >= offset), 0.0, s)
    return float(s) if s.ndim == 0 else s


def source_coords(mx: np.ndarray, my: np.ndarray, field: np.ndarray, iterations: int = 3,
                  out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Source coordinates q with ``q + field(q) = (mx, my)``: the backward map of a forward field.

    Fixed-point iteration ``q <- m - field(q)``; converges fast for smooth fields (|grad| << 1),
    so content at q lands exactly at q + field(q), also away from the field's extrema.
    ``out``: optional (qx, qy, scratch field) buffers to work in without allocating.
    """
    qx, qy, d = out if out is not None else (np.empty_like(mx), np.empty_like(my), np.empty_like(field))
    cx, cy = mx, my
    for _ in range(iterations):
        cv2.remap(field, cx, cy, cv2.INTER_LINEAR, dst=d, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        np.subtract(mx, d[..., 0], out=qx)
        np.subtract(my, d[..., 1], out=qy)
        cx, cy = qx, qy
    return qx, qy
