"""Synthetic face animation from one still portrait (torch-free).

A still portrait is brought to life with slight head drift, blinks, illumination flicker, sensor
noise and optional JPEG compression, and with *localised smooth deformations*: a displacement
field made of Gaussian bumps centred at facial sites, scaled by an onset-apex-offset time course
and applied with ``cv2.remap``; the actions and the face coordinate frame they are written in are
in :mod:`mpt_live.face_actions`. Used by the bundled demo input (``mpt_live.demo_input``) and by the
semi-synthetic micro-expression generator (``train.synth``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import cv2
import numpy as np

from .face_actions import ACTIONS, CLASS_ACTIONS, CLASSES, FaceFrame, action_field, source_coords, time_course

_NOISE_PAD = 48  # margin of the sensor-noise bank (per-frame offsets)


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class Event:
    """One injected facial movement; times in seconds, amplitude in pixels at apex."""

    action: str
    onset: float
    apex: float
    offset: float
    amplitude: float

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}; known: {sorted(ACTIONS)}")
        if not self.onset < self.apex < self.offset:
            raise ValueError("event times must satisfy onset < apex < offset, "
                             f"got {self.onset}, {self.apex}, {self.offset}")

    @property
    def cls(self) -> str:
        return ACTIONS[self.action].cls

    @property
    def action_units(self) -> str:
        return ACTIONS[self.action].action_units

    def intensity(self, t: float) -> float:
        return time_course(t, self.onset, self.apex, self.offset)

    def to_dict(self) -> dict[str, Any]:
        return {"class": self.cls, "action": self.action, "action_units": self.action_units,
                "start": round(self.onset, 4), "apex": round(self.apex, 4), "end": round(self.offset, 4),
                "amplitude_px": round(self.amplitude, 4)}


def random_event(cls: str, rng: np.random.Generator, onset: float, duration: float, amplitude: float) -> Event:
    """An event of class ``cls`` (action drawn among the class's actions), apex at 30-60 % of it."""
    if cls not in CLASS_ACTIONS:
        raise ValueError(f"unknown class {cls!r}; known: {list(CLASSES)}")
    names = CLASS_ACTIONS[cls]
    action = names[int(rng.integers(len(names)))]
    apex = onset + duration * float(rng.uniform(0.3, 0.6))
    return Event(action, onset, apex, onset + duration, amplitude)


@dataclass(frozen=True)
class Blink:
    """A blink starting at ``start`` lasting ``duration`` s: fast close, brief hold, slower open."""

    start: float
    duration: float

    def closure(self, t: float) -> float:
        x = (t - self.start) / self.duration
        if x <= 0 or x >= 1:
            return 0.0
        if x < 0.35:
            return 0.5 - 0.5 * math.cos(math.pi * x / 0.35)
        if x < 0.45:
            return 1.0
        return 0.5 + 0.5 * math.cos(math.pi * (x - 0.45) / 0.55)

    def to_dict(self) -> dict[str, float]:
        return {"start": round(self.start, 4), "end": round(self.start + self.duration, 4)}


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


class BlinkModel:
    """Upper-lid closure around both eyes of a portrait, for a closure amount c in [0, 1].

    The lid edge sweeps down over the eye opening: the skin between brow and eye is stretched
    downwards (a local vertical displacement) and the covered part of the opening shows lid skin
    (the texture just above the eye, slightly shaded) with a dark lash line at its edge. Only the
    eye boxes are touched.
    """

    OPEN_EDGE, CLOSED_EDGE = -0.09, 0.07  # lid edge position (face units below the eye centre)

    def __init__(self, image: np.ndarray, face: FaceFrame) -> None:
        h, w = image.shape[:2]
        self.regions: list[tuple] = []
        src = image.astype(np.float32)
        for eye in ("right_eye", "left_eye"):
            c = face.anchor(eye)
            r = 0.5 * face.iod
            x0, x1 = max(int(c[0] - r), 0), min(int(c[0] + r) + 1, w)
            y0, y1 = max(int(c[1] - r), 0), min(int(c[1] + r) + 1, h)
            if x0 >= x1 or y0 >= y1:
                continue
            xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
            u, v = face.local(xs, ys, eye)
            across = np.exp(-(u**2) / (2 * 0.16**2)) * (np.abs(u) < 0.45)
            # lid skin between the brow's lower edge and the eye moves down; the brow stays
            # (a gentle ramp: never steeper than 1/3, so the stretched skin cannot fold)
            vert = _smoothstep((v + 0.3) / 0.2) * (1 - _smoothstep((v - 0.02) / 0.1))
            travel = 0.06 * face.iod * across * vert
            opening = 1 - _smoothstep(((u / 0.25) ** 2 + (v / 0.1) ** 2 - 0.7) / 0.6)
            # lid skin texture: the region just above the eye, brought down over the opening
            lift = 0.15 * face.iod
            skin = cv2.remap(src, xs - np.float32(lift * face.ey[0]), ys - np.float32(lift * face.ey[1]),
                             cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101) * np.float32(0.9)
            self.regions.append(((y0, y1, x0, x1), xs, ys, v.astype(np.float32),
                                 (travel * face.ey[0]).astype(np.float32), (travel * face.ey[1]).astype(np.float32),
                                 opening.astype(np.float32), skin))

    def apply(self, src: np.ndarray, c: float, out: np.ndarray | None = None) -> np.ndarray:
        """The float32 portrait with both eyes closed by ``c`` (in ``out`` or a new array)."""
        out = src.copy() if out is None else out
        if out is not src:
            np.copyto(out, src)
        c = float(np.clip(c, 0.0, 1.0))
        edge = self.OPEN_EDGE + (self.CLOSED_EDGE - self.OPEN_EDGE) * c
        fade = min(1.0, 4 * c)
        for (y0, y1, x0, x1), xs, ys, v, tx, ty, opening, skin in self.regions:
            patch = cv2.remap(src, xs - np.float32(c) * tx, ys - np.float32(c) * ty, cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT101)
            cover = (opening * _smoothstep((edge - v) / 0.03 + 0.5) * fade)[..., None]
            lash = (opening * np.exp(-(((v - edge + 0.01) / 0.018) ** 2)) * fade)[..., None]
            out[y0:y1, x0:x1] = patch * (1 - cover) + skin * (1 - 0.5 * lash) * cover
        return out


# --------------------------------------------------------------------------- global nuisances


class HeadMotion:
    """Smooth random head drift: translation (px), rotation (deg) and scale, each a sum of slow sinusoids."""

    def __init__(self, seed: int, translation_px: float = 1.0, rotation_deg: float = 0.2,
                 scale: float = 0.002, max_hz: float = 1.0) -> None:
        rng = np.random.default_rng([seed, 7331])
        self.amplitude = np.array([translation_px, translation_px, rotation_deg, scale], np.float64)
        self.freq = rng.uniform(0.05, max_hz, size=(4, 3))
        self.phase = rng.uniform(0, 2 * np.pi, size=(4, 3))
        wts = rng.uniform(0.2, 1.0, size=(4, 3))
        self.weight = wts / wts.sum(1, keepdims=True)

    def params(self, t: float) -> np.ndarray:
        """(tx px, ty px, rotation deg, relative scale) at time t; each bounded by its amplitude."""
        return self.amplitude * (self.weight * np.sin(2 * np.pi * self.freq * t + self.phase)).sum(1)

    def matrix(self, t: float, centre: Sequence[float]) -> np.ndarray:
        """(2, 3) forward similarity transform (portrait -> frame) about ``centre``."""
        tx, ty, rot, sc = self.params(t)
        m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), float(rot), 1.0 + float(sc))
        m[:, 2] += (tx, ty)
        return m


@dataclass(frozen=True)
class Flicker:
    """Global illumination gain 1 + amplitude * (mix of two sinusoids)."""

    amplitude: float = 0.005
    hz: tuple[float, float] = (1.3, 7.0)
    phase: tuple[float, float] = (0.0, 1.0)

    def gain(self, t: float) -> float:
        return 1.0 + self.amplitude * (0.6 * math.sin(2 * math.pi * self.hz[0] * t + self.phase[0])
                                       + 0.4 * math.sin(2 * math.pi * self.hz[1] * t + self.phase[1]))


# --------------------------------------------------------------------------- renderer


@dataclass
class FaceAnimator:
    """Render frames of an animated still portrait.

    ``render(t, index)`` -> uint8 BGR frame at time ``t``; ``index`` seeds that frame's sensor
    noise, so a frame's pixels depend only on (seed, t, index), not on rendering order.
    """

    portrait: np.ndarray
    keypoints: np.ndarray
    events: Sequence[Event] = ()
    blinks: Sequence[Blink] = ()
    head: HeadMotion | None = None
    flicker: Flicker | None = None
    noise_sigma: float = 2.0
    jpeg_quality: int | None = None
    seed: int = 0
    face: FaceFrame = field(init=False)

    def __post_init__(self) -> None:
        if self.portrait.dtype != np.uint8 or self.portrait.ndim != 3:
            raise ValueError("portrait must be a uint8 HxWx3 image")
        self.face = FaceFrame.from_keypoints(self.keypoints)
        h, w = self.portrait.shape[:2]
        self._src = self.portrait.astype(np.float32)
        self._xs, self._ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        self._fields = [action_field((h, w), self.face, e.action, e.amplitude) for e in self.events]
        self._blink = BlinkModel(self.portrait, self.face) if self.blinks else None
        self._centre = self.face.keypoints[:4].mean(0)
        # sensor noise: a bank of Gaussian noise read at a per-frame random offset and sign
        # (an order of magnitude cheaper than fresh normals per frame, still independent-looking)
        rng = np.random.default_rng([self.seed, 424242])
        self._noise = rng.standard_normal((h + _NOISE_PAD, w + _NOISE_PAD, 3), dtype=np.float32)
        # per-frame work buffers: rendering allocates only the returned frame
        grid, field = (h, w), (h, w, 2)
        self._buf = {k: np.empty(shape, np.float32) for k, shape in
                     (("mx", grid), ("my", grid), ("qx", grid), ("qy", grid), ("d", field), ("scratch", field),
                      ("blink", self._src.shape), ("frame", self._src.shape))}

    def event_field(self, t: float, out: np.ndarray | None = None) -> np.ndarray:
        """Displacement field (H, W, 2) of the injected events at time t (no blinks, no head motion)."""
        d = np.zeros(self._xs.shape + (2,), np.float32) if out is None else out
        d.fill(0)
        for e, f in zip(self.events, self._fields):
            s = e.intensity(t)
            if s > 0:
                cv2.scaleAdd(f, float(s), d, dst=d)
        return d

    def closure(self, t: float) -> float:
        """Eyelid closure in [0, 1] at time t."""
        return max((b.closure(t) for b in self.blinks), default=0.0)

    def render(self, t: float, index: int) -> np.ndarray:
        """The uint8 BGR frame at time ``t`` (``index`` picks the frame's sensor noise)."""
        b = self._buf
        mx, my = self._xs, self._ys
        if self.head is not None:
            inv = cv2.invertAffineTransform(self.head.matrix(t, self._centre))
            mx = cv2.addWeighted(self._xs, inv[0, 0], self._ys, inv[0, 1], inv[0, 2], dst=b["mx"])
            my = cv2.addWeighted(self._xs, inv[1, 0], self._ys, inv[1, 1], inv[1, 2], dst=b["my"])
        if any(e.intensity(t) > 0 for e in self.events):
            # portrait point q goes to M(q + d(q)): one resampling for local and head motion
            mx, my = source_coords(mx, my, self.event_field(t, out=b["d"]), out=(b["qx"], b["qy"], b["scratch"]))
        src = self._src
        c = self.closure(t)
        if c > 0:  # the lid closes in portrait coordinates, then everything moves together
            src = self._blink.apply(src, c, out=b["blink"])
        frame = cv2.remap(src, mx, my, cv2.INTER_LINEAR, dst=b["frame"], borderMode=cv2.BORDER_REFLECT101)
        if self.flicker is not None:
            frame *= np.float32(self.flicker.gain(t))
        if self.noise_sigma > 0:
            rng = np.random.default_rng([self.seed, index, 424242])
            oy, ox = rng.integers(0, _NOISE_PAD + 1, size=2)
            sign = 1.0 if rng.random() < 0.5 else -1.0
            h, w = frame.shape[:2]
            cv2.scaleAdd(self._noise[oy:oy + h, ox:ox + w], sign * self.noise_sigma, frame, dst=frame)
        frame += np.float32(0.5)
        np.clip(frame, 0, 255, out=frame)
        out = frame.astype(np.uint8)
        if self.jpeg_quality:
            ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(self.jpeg_quality)])
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        return out


# --------------------------------------------------------------------------- keypoints


def detect_face(image_bgr: np.ndarray, aligner: Any | None = None, model: str = "full") -> Any | None:
    """The largest face of a still image via ``mpt_live.face.FaceAligner.process_image``.

    Returns the ``FaceResult`` (``.keypoints`` (6, 2) pixels, ``.box``) or None. Pass an open
    aligner to reuse it over many images.
    """
    if aligner is not None:
        return aligner.process_image(image_bgr)
    from .face import FaceAligner

    with FaceAligner(model=model, smooth=False) as fa:
        return fa.process_image(image_bgr)


def to_jsonable(obj: Any) -> Any:
    """Numpy values and objects with ``to_dict`` -> plain JSON types, floats rounded for stable files."""
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return round(float(obj), 4)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
