"""Per-frame regional motion of one aligned face: the spotter's input signals (torch-free).

Each aligned crop (the live path's 224x224 face, eyes on the template) becomes a 112x112 grey
frame, smoothed in time over the frames within 1/30 s of it (3 frames at 25-44 fps, none below 15
fps, 9 at 120 fps: a fixed span in time, so that a 0.3 s movement at 8 fps is not widened by a
third of a second). For frame c and a scale of k frames, every pixel's *bump*
is measured against the frames k before and k after::

    D- = I(c) - I(c - k),  D+ = I(c) - I(c + k)
    bump = min(|D-|, |D+|)  where D- and D+ have the same sign, else 0

A movement that comes and goes within k frames gives ``bump ~ |grad I . d(c)|``, proportional to
its displacement at c, at every frame of the movement (onset to offset). A steady drift (slow head
motion, lighting) changes sign between the two differences and gives 0; a lasting change (the
face settling into a new pose) is seen from one side only and gives 0. The per-pixel bumps are
averaged on a 14x14 grid of 8-px cells (16 px of the 224 crop). Two scales are computed at once:
``micro`` (0.5 s: every micro-expression fits in it) and ``macro`` (2.5 s). The signals of frame
c are ready k_macro + that half-span frames later: :meth:`FaceMotion.push` returns them with that fixed delay.

Regions of the grid (template geometry of :mod:`mpt_live.face`, in inter-ocular units from the
eye centre): ``EYES`` (blinks and gaze, never a spotting site on their own), ``MOUTH`` (speech),
``INNER`` (the face inside its contour: where the spotter looks), ``SIDES`` (contours and
background beside the face: they move with the head, not with expressions).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from .face import EYE_DISTANCE, EYE_Y, MOTION_SIZE

SIZE = MOTION_SIZE   # grey working frame (112)
CELL = 8     # px of SIZE: a 14 x 14 grid
GRID = SIZE // CELL


def _region_masks() -> dict[str, np.ndarray]:
    centres = np.arange(GRID) * CELL + CELL / 2
    iod = EYE_DISTANCE * SIZE
    u, v = np.meshgrid((centres - SIZE / 2) / iod, (centres - EYE_Y * SIZE) / iod)
    eyes = (np.abs(u) - 0.5) ** 2 / 0.38 ** 2 + v ** 2 / 0.22 ** 2 < 1
    inner = u ** 2 / 0.85 ** 2 + (v - 0.4) ** 2 / 1.15 ** 2 < 1
    return {
        "eyes": eyes,
        "mouth": u ** 2 / 0.6 ** 2 + (v - 1.09) ** 2 / 0.32 ** 2 < 1,
        "inner": inner,
        "sites": inner & ~eyes,
        "sides": (np.abs(u) > 1.05) & (v > -0.5),
        "lower": v > 0.25,
    }


REGIONS = _region_masks()


@dataclass
class FrameSignals:
    """The signals of one frame: (GRID, GRID) bump maps, None where a scale is not available."""

    frame: int
    time_s: float
    micro: np.ndarray | None
    macro: np.ndarray | None


class FaceMotion:
    """Streaming bump maps of one face track; ``push`` one aligned crop per frame (None: no face).

    ``fps`` sets the scales in frames (``micro_s``, ``macro_s``). A frame without a face ends the
    track: the frames still waiting are returned with the scales their neighbours allow.
    """

    def __init__(self, fps: float, micro_s: float = 0.5, macro_s: float = 2.5) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.fps = float(fps)
        self.k_micro = max(1, int(round(micro_s * fps)))
        self.k_macro = max(self.k_micro + 1, int(round(macro_s * fps)))
        self.half = int(self.fps / 30.0 + 0.5)                   # the time mean's half-span in frames (1/30 s)
        self.delay = self.k_macro + self.half
        self._raw: deque[np.ndarray] = deque(maxlen=2 * self.half + 1)  # grey frames for the mean in time
        self._meta: deque[tuple[int, float]] = deque()           # (frame, time) of smoothed frames
        self._buf = np.zeros((2 * self.k_macro + 1, SIZE, SIZE), np.float32)  # smoothed frames, ring
        self._n = 0                                              # smoothed frames pushed in this track
        self._pending: deque[tuple[int, float]] = deque()        # raw frames not yet smoothed

    @staticmethod
    def grey(aligned_bgr: np.ndarray) -> np.ndarray:
        """The 112x112 float32 grey working frame of an aligned crop (any square size)."""
        g = cv2.cvtColor(aligned_bgr, cv2.COLOR_BGR2GRAY) if aligned_bgr.ndim == 3 else aligned_bgr
        if g.shape != (SIZE, SIZE):
            g = cv2.resize(g, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        return g.astype(np.float32)

    def _slot(self, i: int) -> np.ndarray:
        return self._buf[i % len(self._buf)]

    def _bump(self, c: int, k: int) -> np.ndarray:
        mid, before, after = self._slot(c), self._slot(c - k), self._slot(c + k)
        d1, d2 = cv2.subtract(mid, before), cv2.subtract(mid, after)
        up = cv2.max(cv2.min(d1, d2), 0.0)                   # both differences positive
        down = cv2.max(cv2.min(-d1, -d2), 0.0)               # both negative
        return cv2.resize(up + down, (GRID, GRID), interpolation=cv2.INTER_AREA)  # cell means

    def _emit(self, c: int, last: int) -> FrameSignals:
        """Signals of smoothed frame c of the track, given smoothed frames 0..last exist."""
        frame, t = self._meta[c - (self._n - len(self._meta))]
        ok = lambda k: c - k >= 0 and c + k <= last  # noqa: E731
        return FrameSignals(frame, t, self._bump(c, self.k_micro) if ok(self.k_micro) else None,
                            self._bump(c, self.k_macro) if ok(self.k_macro) else None)

    def _push_smoothed(self, g: np.ndarray, frame: int, t: float) -> list[FrameSignals]:
        self._slot(self._n)[...] = g
        self._meta.append((frame, t))
        self._n += 1
        c = self._n - 1 - self.k_macro
        out = [self._emit(c, self._n - 1)] if c >= 0 else []
        while len(self._meta) > self.k_macro + 1:
            self._meta.popleft()
        return out

    def push(self, frame: int, time_s: float, aligned: np.ndarray | None) -> list[FrameSignals]:
        """Feed one frame; returns the signals now complete (of frames ``delay`` frames back)."""
        if aligned is None:
            return self.flush() + [FrameSignals(frame, time_s, None, None)]
        self._raw.append(self.grey(aligned))
        self._pending.append((frame, time_s))
        if len(self._pending) <= self.half:  # the track's first frames: the first one's later neighbours to come
            return []
        # the oldest waiting frame has its neighbours within the half-span now (fewer at the track's start)
        f, t = self._pending.popleft()
        return self._push_smoothed(sum(self._raw) / len(self._raw), f, t)

    def flush(self) -> list[FrameSignals]:
        """End of the track: the frames still waiting, with the scales available; then reset."""
        out: list[FrameSignals] = []
        raw = list(self._raw)
        while self._pending:  # the last frames: their neighbours after them end with the track
            f, t = self._pending.popleft()
            nearby = raw[max(len(raw) - len(self._pending) - 1 - self.half, 0):]
            out += self._push_smoothed(sum(nearby) / len(nearby), f, t)
        last = self._n - 1
        for c in range(max(self._n - len(self._meta), self._n - self.k_macro), self._n):
            if c >= 0 and c >= self._n - len(self._meta):
                out.append(self._emit(c, last))
        self._raw.clear()
        self._meta.clear()
        self._pending.clear()
        self._n = 0
        return out
