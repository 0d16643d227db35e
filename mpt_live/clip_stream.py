"""Frames to windows: :class:`Window`, what the session engine hands the model worker, and
:class:`ClipStream`, the one-face clip pipeline of the inspect sheet (:mod:`mpt_live.sheet`).

frame -> detect + align (smoothed) -> ring buffer; :meth:`ClipStream.window` copies the buffered frames
of the last ``spec.window_s`` seconds out of the ring; whoever reads ``Window.clip`` samples them by
time into a ``spec.frames`` clip. Magnification, rank pooling and the model run on that clip
(:func:`mpt_live.motion.model_inputs`). The session engine buffers each face itself
(:class:`mpt_live.face_state.FaceState`).
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
        """(T,S,S,3) BGR, sampled on first use (:meth:`~mpt_live.clip.ClipFrames.clip`: the buffered uint8 frames
        where they are the samples, else float32); None when no full window is buffered."""
        if isinstance(self.source, ClipFrames):
            self.source = self.source.clip()
        return self.source

    @property
    def has_face(self) -> bool:
        return self.face is not None

    @property
    def box(self) -> tuple[int, int, int, int] | None:
        return self.face.box if self.face is not None else None


MAX_RING_FPS = 480.0  # a ClipStream's ring grows (variable-rate videos) to this many frames a second of window at most


class ClipStream:
    """Feed frames in time order with :meth:`push`; :meth:`window` gives the :class:`Window` ending at the
    last one.

    When the face is lost the buffer is cleared (a window never spans frames of two tracks) and
    the next windows report no clip until ``window_s`` seconds of face are buffered again.
    """

    def __init__(self, spec: ClipSpec, aligner: FaceAligner, max_fps: float = 120.0) -> None:
        self.spec = spec
        self.aligner = aligner
        capacity = int(math.ceil(max_fps * spec.window_s * 1.25)) + 4
        self.ring = FrameRing(capacity, (spec.image_size, spec.image_size, 3))
        self.last_face: FaceResult | None = None

    def push(self, frame: Frame) -> None:
        res = self.aligner.process(frame.image, frame.t)
        if res is None:
            self.ring.clear()
        else:
            self._make_room(frame.t)
            self.ring.push(frame.t, res.aligned)
        self.last_face = res

    def _make_room(self, t: float) -> None:
        """Double a full ring whose frames span less than a window (and a quarter) before ``t``: ``max_fps`` is a
        variable-rate video's header average, and its stretches at a higher rate (a recording that dropped frames
        elsewhere) hold more frames a window; the ring then held too few to cover one there. Up to
        :data:`MAX_RING_FPS` frames a second."""
        ring, span = self.ring, 1.25 * self.spec.window_s
        if len(ring) < ring.capacity or ring.oldest_time <= t - span or ring.capacity >= MAX_RING_FPS * span:
            return
        times, frames = ring.ordered()
        self.ring = FrameRing(2 * ring.capacity, frames.shape[1:], frames.dtype)
        for when, image in zip(times, frames):
            self.ring.push(float(when), image)

    def window(self, frame: Frame) -> Window:
        """The window ending at ``frame`` (the last one pushed)."""
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        res, clip = self.last_face, None
        if res is not None and self.ring.covers(frame.t - self.spec.window_s, frame.t):
            clip = self.ring.frames_for(frame.t, self.spec)
            timings["sample_ms"] = (time.perf_counter() - t0) * 1e3
        return Window(frame.t, frame.index, res, clip, timings)
