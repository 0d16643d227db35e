"""Frames to windows: the per-frame clip pipeline of the session engine and the inspect sheet.

frame -> detect + align (smoothed) -> ring buffer; every ``stride`` frames the buffered frames of
the last ``spec.window_s`` seconds are copied out of the ring; whoever reads ``Window.clip`` (the
model worker, off the frame loop) samples them by time into a ``spec.frames`` clip. Magnification,
rank pooling and the model run on that clip (:func:`mpt_live.motion.model_inputs`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .clip import ClipFrames, ClipSpec, FrameRing
from .face import FaceAligner, FaceResult
from .sources import Frame

NEVER = 1 << 62  # a stride that does not tick: windows only when asked for (ClipStream.window)


@dataclass
class Window:
    """One window tick: the state at frame ``frame`` (time ``time_s``)."""

    time_s: float
    frame: int
    face: FaceResult | None
    source: np.ndarray | ClipFrames | None  # the clip, or the frames it is sampled from; None: no full window
    timings: dict[str, float] = field(default_factory=dict)
    face_id: int | None = None  # the face track (None: the only face, or no face)
    event: Any = None  # the closed event whose apex window this is (the session's); None: a regular window

    @property
    def clip(self) -> np.ndarray | None:
        """(T,S,S,3) float32 BGR, sampled on first use; None when no full window is buffered."""
        if isinstance(self.source, ClipFrames):
            self.source = self.source.sample()
        return self.source

    @property
    def has_face(self) -> bool:
        return self.face is not None

    @property
    def box(self) -> tuple[int, int, int, int] | None:
        return self.face.box if self.face is not None else None


class ClipStream:
    """Feed frames in time order with :meth:`push`; every ``stride``-th frame yields a :class:`Window`.

    When the face is lost the buffer is cleared (a window never spans frames of two tracks) and
    the next windows report no clip until ``window_s`` seconds of face are buffered again.
    """

    def __init__(
        self,
        spec: ClipSpec,
        aligner: FaceAligner,
        stride: int = 4,
        max_fps: float = 120.0,
    ) -> None:
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        self.spec = spec
        self.aligner = aligner
        self.stride = stride
        capacity = int(math.ceil(max_fps * spec.window_s * 1.25)) + 4
        self.ring = FrameRing(capacity, (spec.image_size, spec.image_size, 3))
        self.last_face: FaceResult | None = None
        self._n = 0

    def push(self, frame: Frame) -> Window | None:
        t0 = time.perf_counter()
        res = self.aligner.process(frame.image, frame.t)
        t1 = time.perf_counter()
        if res is None:
            self.ring.clear()
        else:
            self.ring.push(frame.t, res.aligned)
        self.last_face = res
        t2 = time.perf_counter()
        self._n += 1
        timings = {"align_ms": (t1 - t0) * 1e3, "buffer_ms": (t2 - t1) * 1e3}
        if (self._n - 1) % self.stride:
            return None
        return self.window(frame, timings)

    def window(self, frame: Frame, timings: dict[str, float] | None = None) -> Window:
        """The window ending at ``frame`` (the last one pushed), whatever the stride."""
        t0 = time.perf_counter()
        timings = dict(timings or {})
        res, clip = self.last_face, None
        if res is not None and self.ring.covers(frame.t - self.spec.window_s, frame.t):
            clip = self.ring.frames_for(frame.t, self.spec)
            timings["sample_ms"] = (time.perf_counter() - t0) * 1e3
        return Window(frame.t, frame.index, res, clip, timings)
