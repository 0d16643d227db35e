"""Clip specification, time-based frame sampling and the live ring buffer.

A clip is ``spec.frames`` aligned face crops sampled by *time*: live, over the last
``spec.window_s`` seconds ending now; offline, over any ``[t0, t1]``. When the source has fewer
frames than the clip needs, neighbouring frames are linearly interpolated.
"""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from .errors import InputError

ALIGN_MODES = ("eyes", "eyes-mouth")  # ClipSpec.align: see mpt_live.face_template.shape_correction
TIME_BASES = ("seconds", "clip")  # ClipSpec.time_base: Hz of real time, or the legacy per-clip rate


@dataclass(frozen=True)
class ClipSpec:
    """Every parameter of the pre-model data path. Saved in checkpoints and ONNX metadata.

    Magnification runs on the sampled clip. ``time_base`` says how its band ``band_hz`` is read:

    * ``"seconds"`` (new specs): Hz of real time. The live window's ``frames`` samples span
      ``window_s`` seconds end to end, so its rate is :attr:`clip_fps` ``= (frames - 1) / window_s``
      (15 Hz by default) whatever the camera fps; a clip sampled over another span (an ME's
      onset..offset in training) is magnified at its own rate (:func:`clip_rate`).
    * ``"clip"`` (specs saved before the key existed, read by :meth:`from_dict`): every clip is taken
      to be sampled at ``frames / window_s`` whatever it spans (the time base before this key); such models
      keep serving exactly as they were trained.

    ``align`` is how each face is warped to the template (:class:`mpt_live.track_align.TrackAligner`):
    ``"eyes-mouth"`` (new specs) a similarity from the eyes, then a vertical scale and shear that put
    the mouth on its template spot, following each face track's shape slowly; ``"eyes"`` (specs saved
    before the key existed) the similarity alone.
    """

    frames: int = 16
    image_size: int = 224
    window_s: float = 1.0
    band_hz: tuple[float, float] = (0.4, 4.0)
    filter_order: int = 1
    alpha: float = 20.0
    pyramid_levels: int = 4
    attenuate: bool = False
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    time_base: str = "seconds"
    align: str = "eyes-mouth"

    def __post_init__(self) -> None:
        _check_types(self)
        # JSON and callers may hand lists: keep tuples so the spec stays hashable (a cache key)
        for name in ("band_hz", "mean", "std"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        lo, hi = self.band_hz
        if not all(math.isfinite(v) for v in self.mean + self.std):
            raise ValueError(f"ClipSpec.mean and std must be finite, got mean={self.mean}, std={self.std}")
        if self.frames < 2:
            raise ValueError(f"ClipSpec.frames must be >= 2, got {self.frames}")
        if self.image_size < 16 or self.image_size % (2 ** (self.pyramid_levels - 1)):
            raise ValueError(
                f"ClipSpec.image_size {self.image_size} must be >= 16 and divisible by "
                f"2**(pyramid_levels-1) = {2 ** (self.pyramid_levels - 1)}"
            )
        if self.window_s <= 0:
            raise ValueError(f"ClipSpec.window_s must be > 0, got {self.window_s}")
        if self.align not in ALIGN_MODES:
            raise ValueError(f"ClipSpec.align must be one of {', '.join(ALIGN_MODES)}, got {self.align!r}")
        if self.time_base not in TIME_BASES:
            raise ValueError(f"ClipSpec.time_base must be one of {', '.join(TIME_BASES)}, got {self.time_base!r}")
        if not 0 < lo < hi < self.clip_fps / 2:
            raise ValueError(
                f"ClipSpec.band_hz {self.band_hz} must satisfy 0 < low < high < clip_fps/2 "
                f"= {self.clip_fps / 2:g} Hz"
            )
        if self.filter_order < 1 or self.pyramid_levels < 1:
            raise ValueError("ClipSpec.filter_order and pyramid_levels must be >= 1")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(
                f"ClipSpec.mean and std need 3 values (RGB), std > 0; got mean={self.mean}, std={self.std}"
            )

    @property
    def clip_fps(self) -> float:
        """Sampling rate of the live window's clip: ``frames`` samples from ``t_end - window_s`` to
        ``t_end`` inclusive (:func:`window_times`), i.e. ``(frames - 1) / window_s`` frames per second
        of real time; ``frames / window_s`` with the legacy ``time_base`` ``"clip"``."""
        if self.time_base == "clip":
            return self.frames / self.window_s
        return (self.frames - 1) / self.window_s

    def rate_warning(self, name: str, fps: float) -> list[str]:
        """A source whose frame rate is under half the clip's rate: its windows are mostly frames interpolated
        between a few real ones, and movements shorter than two frames are not seen ([] otherwise)."""
        if not 0 < fps < self.clip_fps / 2:
            return []
        return [f"{name}: {fps:.4g} fps is under half the model's clip rate ({self.clip_fps:g} Hz, {self.frames} "
                f"frames in {self.window_s:g} s): each window holds about {fps * self.window_s:.0f} real frames, "
                f"the rest interpolated, and movements shorter than {2 / fps:.2g} s are not seen"]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ClipSpec":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown ClipSpec field(s): {sorted(unknown)}")
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        kw.setdefault("time_base", "clip")  # saved before the field existed: the time base it was made with
        kw.setdefault("align", "eyes")  # saved before the field existed: aligned by the eyes
        return cls(**kw)

    @classmethod
    def from_json(cls, s: str) -> "ClipSpec":
        return cls.from_dict(json.loads(s))


INT_FIELDS = ("frames", "image_size", "filter_order", "pyramid_levels")


def _check_types(spec: ClipSpec) -> None:
    """Whole numbers where the spec counts, finite numbers where it measures, a bool for ``attenuate``: a spec read
    from a file (a model's metadata, a checkpoint) may hold anything, and e.g. ``image_size 224.0`` or ``alpha NaN``
    would fail (or silently magnify by NaN) far from where it was read."""
    for name in INT_FIELDS:
        v = getattr(spec, name)
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            raise ValueError(f"ClipSpec.{name} must be a whole number, got {v!r}")
    for name in ("window_s", "alpha"):
        v = getattr(spec, name)
        if not isinstance(v, numbers.Real) or isinstance(v, bool) or not math.isfinite(v):
            raise ValueError(f"ClipSpec.{name} must be a finite number, got {v!r}")
    if spec.alpha < 0:
        raise ValueError(f"ClipSpec.alpha must be >= 0 (0: no magnification), got {spec.alpha!r}")
    if not isinstance(spec.attenuate, (bool, np.bool_)):
        raise ValueError(f"ClipSpec.attenuate must be true or false, got {spec.attenuate!r}")


def window_times(t_end: float, spec: ClipSpec) -> np.ndarray:
    """The ``spec.frames`` sample times of the window of ``spec.window_s`` seconds ending at t_end."""
    return np.linspace(t_end - spec.window_s, t_end, spec.frames)


def clip_rate(at: np.ndarray, spec: ClipSpec) -> float:
    """The rate, frames per second, at which the magnifier reads a clip sampled evenly at the times
    ``at`` (seconds): its own rate ``(len(at) - 1) / span`` with ``time_base`` ``"seconds"``, so the
    band is in Hz of real time whatever the clip spans (a clip spanning ``window_s`` gets exactly
    ``spec.clip_fps``, as live); ``spec.clip_fps`` with the legacy ``"clip"`` time base, or for a clip
    that spans no time (a still clip: any rate gives the same zero motion)."""
    at = np.asarray(at, dtype=np.float64)
    span = float(at[-1] - at[0]) if len(at) > 1 else 0.0
    if spec.time_base == "clip" or span <= 0:
        return spec.clip_fps
    return (len(at) - 1) / span


def interval_times(t0: float, t1: float, n: int) -> np.ndarray:
    """``n`` evenly spaced sample times over [t0, t1]."""
    if t1 < t0:
        raise ValueError(f"interval end {t1} is before its start {t0}")
    return np.linspace(t0, t1, n)


# A sample time this close to a frame's time is that frame's time. window_times' float rounding puts most of a 30 fps
# window's 15 Hz sample times an ulp or so off its frames' times: just short of the later frame (a weight of 1 - 1e-15,
# 1.0 in float32: that frame, made in three float passes) or just past a frame (~1e-15: the frame, its 0 pixels
# ~1e-13). The frame itself is what such a time means. 1 ns: far above that rounding (a few ulps of a time of hours:
# ~1e-11 s) and far below any real offset between a sample and a frame (container time bases are 1/90000 s or
# coarser), so only rounding snaps. What snapping changes: the ~1e-13 values where a frame's pixel is exactly 0 and
# the next frame's is not are now 0, which can move model inputs by an ulp (motion scores and events unchanged in
# the review's synthetic check; a real 20-s two-face run gave the same inputs bit for bit).
SNAP_S = 1e-9


def _brackets(times: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lo, hi, w) of each sample time in ``times`` (at least two, non-decreasing): the sample is frame lo + w (frame
    hi - frame lo), w float32; w is 0 where the time is within ``SNAP_S`` of frame lo's (lo moved on to the later frame
    where that one is the frame within ``SNAP_S``), and at the ends (times outside are taken as the end frames)."""
    last = len(times) - 1
    at = np.clip(at, times[0], times[-1])
    # lo: the last frame at or before each sample time
    lo = np.clip(np.searchsorted(times, at, side="right") - 1, 0, last)
    lo = np.where(times[np.minimum(lo + 1, last)] - at <= SNAP_S, np.minimum(lo + 1, last), lo)
    hi = np.minimum(lo + 1, last)
    span = times[hi] - times[lo]
    off = at - times[lo]
    w = np.where((span > 0) & (np.abs(off) > SNAP_S), off / np.where(span > 0, span, 1.0), 0.0).astype(np.float32)
    return lo, hi, w


def sample_frames(times: np.ndarray, frames: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Linearly interpolate a frame sequence at the times ``at``.

    ``times``: (N,) non-decreasing timestamps in seconds; ``frames``: (N, ...) array. Sample
    times must lie inside [times[0], times[-1]] (a tolerance of 1 ms is allowed at the ends).
    A sample time within ``SNAP_S`` of a frame's timestamp returns that frame exactly.
    Returns float32 frames of shape (len(at), ...).
    """
    times = np.asarray(times, dtype=np.float64)
    at = np.asarray(at, dtype=np.float64)
    frames = np.asarray(frames)
    if len(times) == 0:
        raise InputError("cannot sample a clip from zero frames")
    if len(times) != len(frames):
        raise ValueError(f"{len(times)} timestamps for {len(frames)} frames")
    if np.any(np.diff(times) < 0):
        raise ValueError("frame timestamps must be increasing")
    if len(at) == 0:
        return np.zeros((0, *frames.shape[1:]), np.float32)
    tol = 1e-3
    first, last = at.min(), at.max()
    if first < times[0] - tol or last > times[-1] + tol:
        raise InputError(
            f"clip [{first:.3f}, {last:.3f}] s is not covered by the frames "
            f"[{times[0]:.3f}, {times[-1]:.3f}] s (source shorter than the window)"
        )
    if len(times) == 1:
        return np.repeat(frames[:1].astype(np.float32), len(at), axis=0)
    lo, hi, w = _brackets(times, at)
    # lo + w (hi - lo) in float32, one output frame at a time (no clip-sized temporaries); an exact
    # hit (w == 0) is the frame itself, the same value the formula gives
    out = np.empty((len(at), *frames.shape[1:]), np.float32)
    for k in range(len(at)):
        f_lo = frames[lo[k]]
        if w[k] == 0:
            np.copyto(out[k], f_lo, casting="unsafe")
            continue
        np.subtract(frames[hi[k]], f_lo, out=out[k], dtype=np.float32)
        out[k] *= w[k]
        np.add(out[k], f_lo, out=out[k], dtype=np.float32)
    return out


class FrameRing:
    """Fixed-capacity ring buffer of timestamped frames for live use.

    ``push`` is O(1) (one copy into preallocated memory). ``window(t_end, spec)`` samples the clip
    of the last ``spec.window_s`` seconds ending at ``t_end`` by time. :meth:`release` empties it and gives
    its frames' memory back (a face gone: ~50 MB at 224 px whose pages a long appearance made resident);
    the next push allocates it again.
    """

    def __init__(self, capacity: int, frame_shape: tuple[int, ...], dtype: Any = np.uint8) -> None:
        if capacity < 2:
            raise ValueError("FrameRing capacity must be >= 2")
        self.capacity = capacity
        self._frames = np.zeros((capacity, *frame_shape), dtype=dtype)
        self._times = np.zeros(capacity, dtype=np.float64)
        self._next = 0
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        """Bytes the ring's frames take (0 once released, until the next push)."""
        return int(self._frames.nbytes)

    def clear(self) -> None:
        self._next = 0
        self._count = 0

    def release(self) -> None:
        """Empty the ring and free its frames' memory (allocated again, zeroed, by the next push)."""
        self.clear()
        if len(self._frames):
            self._frames = np.zeros((0, *self._frames.shape[1:]), dtype=self._frames.dtype)

    def push(self, t: float, frame: np.ndarray) -> None:
        if self._count and t <= self._times[(self._next - 1) % self.capacity]:
            raise ValueError(f"timestamps must increase: got {t} after {self.latest_time}")
        if not len(self._frames):  # released
            self._frames = np.zeros((self.capacity, *self._frames.shape[1:]), dtype=self._frames.dtype)
        self._frames[self._next] = frame
        self._times[self._next] = t
        self._next = (self._next + 1) % self.capacity
        self._count = min(self._count + 1, self.capacity)

    @property
    def latest_time(self) -> float | None:
        return float(self._times[(self._next - 1) % self.capacity]) if self._count else None

    @property
    def oldest_time(self) -> float | None:
        return float(self._times[(self._next - self._count) % self.capacity]) if self._count else None

    def covers(self, t0: float, t1: float) -> bool:
        """True when the buffered frames span [t0, t1] (1 ms tolerance)."""
        return bool(self._count) and self.oldest_time <= t0 + 1e-3 and self.latest_time >= t1 - 1e-3

    def ordered(self) -> tuple[np.ndarray, np.ndarray]:
        """(times, frames) oldest first. Copies: only called once per window, not per frame."""
        idx = (np.arange(self._count) + self._next - self._count) % self.capacity
        return self._times[idx], self._frames[idx]

    def window(self, t_end: float, spec: ClipSpec) -> np.ndarray:
        """Sample the clip over [t_end - window_s, t_end]: float32 (frames, *frame_shape)."""
        return self.frames_for(t_end, spec).sample()

    def frames_for(self, t_end: float, spec: ClipSpec) -> "ClipFrames":
        """The buffered frames that the samples of the window ending at ``t_end`` read (the frames either side
        of each sample time, one where it is a frame's), copied, with the clip's sample times: what :meth:`window`
        samples, to be sampled later (off the frame loop)."""
        at = window_times(t_end, spec)
        idx = (np.arange(self._count) + self._next - self._count) % self.capacity
        ts = self._times[idx]
        a = max(int(np.searchsorted(ts, at[0], side="right")) - 1, 0)
        b = min(int(np.searchsorted(ts, at[-1], side="left")) + 1, self._count)
        sel = idx[a:b]
        if b - a > 1:  # only the frames the samples read (16 of a 30 fps window's 31): the same clip, half the copy
            lo, hi, w = _brackets(self._times[sel], at)
            sel = sel[np.unique(np.concatenate([lo, hi[w != 0]]))]
        return ClipFrames(self._times[sel], self._frames[sel], at)


@dataclass(frozen=True)
class ClipFrames:
    """Timestamped frames and the sample times of a clip drawn from them (``sample()`` makes the clip)."""

    times: np.ndarray
    frames: np.ndarray
    at: np.ndarray

    def sample(self) -> np.ndarray:
        return sample_frames(self.times, self.frames, self.at)

    def clip(self) -> np.ndarray:
        """The clip: ``frames`` themselves (uint8 from a ring), not copied, where they are its samples one for one
        (every sample time a frame's, within ``SNAP_S``: a 30 fps source's 15 Hz window), else :meth:`sample`
        (float32). The same values either way, and the model's inputs made from them are the same."""
        if len(self.times) == len(self.at) and np.all(np.abs(self.times - self.at) <= SNAP_S):
            return self.frames
        return self.sample()
