"""Per-frame regional motion of one aligned face: the spotter's input signals (torch-free).

Each aligned crop (the live path's 224x224 face, eyes on the template) becomes a 112x112 grey
frame, smoothed in time over the odd number of frames whose span is nearest 0.1 s (:func:`mean_half`:
1 frame up to 20 fps, 3 to 40, 5 to 60, 11 at 120 fps: a fixed span in time, so that a 0.3 s
movement at 8 fps is not widened by a third of a second, nor a 15 fps one's profile by 0.2 s).
For frame c and a scale of k frames (``k / fps`` seconds), every pixel's *bump* is measured
against the frames k before and k after::

    D- = I(c) - I(c - k),  D+ = I(c) - I(c + k)
    bump = min(|D-|, |D+|)  where D- and D+ have the same sign, else 0

A movement that comes and goes within k frames gives ``bump ~ |grad I . d(c)|``, proportional to
its displacement at c, at every frame of the movement (onset to offset). A steady drift (slow head
motion, lighting) changes sign between the two differences and gives 0; a lasting change (the
face settling into a new pose) is seen from one side only and gives 0. The per-pixel bumps are
averaged on a 14x14 grid of 8-px cells (16 px of the 224 crop). Two scales are computed at once:
``micro`` (0.5 s: every micro-expression fits in it) and ``macro`` (2.5 s). The signals of frame
c are ready k_macro + that half-span frames later: :meth:`FaceMotion.push` returns them with that fixed delay.

"Frames k before and after" are read in the frames' own times: the frames nearest to ``t(c) -+ k / fps``, ``fps`` the
header's rate; the time mean's frames are those a constant-rate recording at the track's local rate (its frames of
the last half second, not one interval: a stream's frames stamped on arrival come in bursts) would take. At a
constant rate these are the frames counted, bit for bit; in a variable-rate recording (a phone's low-light
stretches, a call or screen recording, frames dropped) a stretch faster or slower than the header's average is
measured on the same spans of time, not on spans shortened or stretched by its rate (``tests/test_spotting_vfr.py``),
and the ring of smoothed frames grows where more than ``2 k_macro + 1`` fall within the macro scale's reach.

Regions of the grid (template geometry of :mod:`mpt_live.face`, in inter-ocular units from the
eye centre): ``EYES`` (blinks and gaze, never a spotting site on their own), ``MOUTH`` (speech),
``INNER`` (the face inside its contour: where the spotter looks), ``SIDES`` (contours and
background beside the face: they move with the head, not with expressions).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from .face import EYE_DISTANCE, EYE_Y, MOTION_SIZE

SIZE = MOTION_SIZE   # grey working frame (112)
CELL = 8     # px of SIZE: a 14 x 14 grid
GRID = SIZE // CELL
MAX_HALF = 8  # the time mean's half-span, in frames, in a stretch far faster than the header's rate at most
RATE_SPAN = 0.5  # s: a frame's local rate is that of the track's frames this long before it
MAX_RATE = 240.0  # a FaceMotion's ring of smoothed frames grows (frames faster than its fps) to hold its reach at this rate
MEAN_S = 0.1  # s: the time mean spans the odd number of frames nearest this (ties to the fewer)
HALF_UP = 0.54  # a local rate's half-span is rounded up from this fraction, not .5: a 20 fps stream, on the edge
# between 1 and 3 frames, would flip with each ms of its times; above .5, its ties go to the fewer frames as the header's
TIE_MS = 1.5  # time_neighbour: frames whose distances, on times rounded to the ms, differ by this at most are a tie: a
# true tie's rounded distances differ by 4/3 ms at most at the rates whose ms are thirds (15, 24, 30, 60 fps); frames
# 2 ms off a tie (the bench's pairs copy) can read as one and go to the frame nearer c, alike with exact or ms times


def mean_half(fps: float, up: float = 0.5) -> int:
    """The time mean's half-span h in frames at ``fps``: the 2h + 1 frames whose span is nearest :data:`MEAN_S`, the
    fewer on a tie (1 frame up to 20 fps, 3 to 40, 5 to 60, 7 to 80: 15 fps takes 1 frame, 0.067 s, not 3 over 0.2 s,
    which widened a micro-movement's profile into a macro one's); ``up``: the fraction h's exact value
    ``fps * MEAN_S / 2 - 0.5`` is rounded up from (.5: ties down, as ``ceil(x - .5)``)."""
    x = fps / (2.0 / MEAN_S) - 0.5  # fps / 20: exact at 20, 40, 60 fps (fps * 0.1 is not at every rate)
    return max(0, int(x) + (x - int(x) > up))


def time_neighbour(time: Callable[[int], float], c: int, step: int, fps: float, lo: int, hi: int,
                   span: tuple[float, float]) -> int | None:
    """The index in ``lo..hi`` whose ``time(i)`` is nearest to ``time(c) + step / fps`` (frame c's neighbour ``step``
    frames of the header's rate away, by time), found by walking from ``c + step`` (the counted neighbour, where it
    stops at a constant rate); None where that time lies beyond ``span`` (the first and last times there are) by over
    half a period. ``time`` reads the frames' times in order: FaceMotion's ring of smoothed frames and a spotter
    channel's kept frames both search with it.

    Nearness is judged on the times rounded to the millisecond, and two frames whose distances differ by at most
    :data:`TIE_MS` are a tie (unless the nearest is on the target, within TIE_MS: a burst), which goes to the frame
    nearer c (never c itself): where the target falls half-way between two frames (0.5 s is 7.5 frames of a 15 fps
    stretch under a 24 fps header), float error, or a container's rounding of the times to the ms, decided. Now exact and millisecond times of a recording
    choose the same frames; off a tie (at a constant rate, the frame counted) the nearest, as before."""
    target, tol = time(c) + step / fps, 0.5 / fps
    if not span[0] - tol <= target <= span[1] + tol:
        return None
    goal = round(time(c) * 1000) + step * 1000 / fps  # in ms, c's own time rounded

    def off(i: int) -> float:
        return abs(round(time(i) * 1000) - goal)

    j = min(max(c + step, lo), hi)
    while j > lo and (off(j - 1), abs(j - 1 - c) or hi - lo + 1) < (off(j), abs(j - c) or hi - lo + 1):
        j -= 1
    while j < hi and (off(j + 1), abs(j + 1 - c) or hi - lo + 1) < (off(j), abs(j - c) or hi - lo + 1):
        j += 1
    near = j - 1 if j > c else j + 1  # the next frame towards c: the tie's other frame, where there is one
    tie = lo <= near <= hi and near != c and off(j) > TIE_MS and off(near) <= off(j) + TIE_MS  # j not on the target
    return near if tie else j


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

    ``fps`` (the header's rate) sets the scales: ``k_micro`` and ``k_macro`` frames, ``k / fps`` seconds. Each
    frame's neighbours are the frames nearest in time to its own time minus and plus those seconds, so a variable-
    rate recording's stretches faster or slower than its header's average are measured on the same spans of time;
    its time mean takes ``half`` frames before and after it, or, where the track's rate over the last half second is
    off the header's by over a quarter, as many as a constant-rate recording at that rate would (:meth:`_half_at`).
    At a constant rate these are the frames ``k`` and ``half`` before and after, as counted. A frame without a face ends the track: the frames still waiting
    are returned with the scales their neighbours allow.
    """

    def __init__(self, fps: float, micro_s: float = 0.5, macro_s: float = 2.5) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.fps = float(fps)
        self.k_micro = max(1, int(round(micro_s * fps)))
        self.k_macro = max(self.k_micro + 1, int(round(macro_s * fps)))
        self.half = mean_half(self.fps)                          # the time mean's half-span in frames (~0.1 s)
        self.delay = self.k_macro + self.half                    # in frames at the header's rate
        self._tol = 0.5 / self.fps                               # half a period: a frame's own stretch of time
        self._most = max(MAX_HALF, self.half)                    # the time mean's half-span in frames at most
        self._raw: deque[tuple[int, np.ndarray]] = deque()       # (count, grey frame) for the mean in time
        self._pending: deque[tuple[int, float, int, int]] = deque()  # (frame, time, count, half-span): not yet smoothed
        self._i = 0                                              # raw frames pushed
        self._last_t = 0.0                                       # the latest one's time
        self._times: deque[float] = deque()                      # the track's raw frames' times of the last RATE_SPAN
        size = 2 * self.k_macro + 1                              # smoothed frames, ring (grows where frames come
        self._buf = np.zeros((size, SIZE, SIZE), np.float32)    # faster than fps: _make_room)
        self._frame = np.zeros(size, np.int64)                   # their frame numbers and times
        self._time = np.zeros(size, np.float64)
        self._n = 0                                              # smoothed frames pushed in this track
        self._c = 0                                              # the next smoothed frame whose signals are due
        self._t0 = 0.0                                           # the track's first frame's time
        self._kept = 0                                           # the oldest smoothed frame kept, after the ring grew
        self._early: list[FrameSignals] = []                     # signals emitted before their time (_push_smoothed)

    @staticmethod
    def grey(aligned_bgr: np.ndarray) -> np.ndarray:
        """The 112x112 float32 grey working frame of an aligned crop (any square size)."""
        g = cv2.cvtColor(aligned_bgr, cv2.COLOR_BGR2GRAY) if aligned_bgr.ndim == 3 else aligned_bgr
        if g.shape != (SIZE, SIZE):
            g = cv2.resize(g, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        return g.astype(np.float32)

    def _slot(self, i: int) -> np.ndarray:
        return self._buf[i % len(self._buf)]

    def _t(self, i: int) -> float:
        return float(self._time[i % len(self._time)])

    def _near(self, c: int, k: int, side: int, last: int) -> int | None:
        """The smoothed frame nearest in time to frame c's time + ``side * k / fps`` (0..last, not c itself; at a
        constant rate c + side * k), None where the track does not reach that time (by half a period)."""
        lo, hi = (max(self._n - len(self._buf), self._kept), c - 1) if side < 0 else (c + 1, last)  # the oldest kept
        if lo > hi:
            return None
        return time_neighbour(self._t, c, side * k, self.fps, lo, hi, (self._t0, self._t(last)))

    def _bump(self, c: int, before: int, after: int) -> np.ndarray:
        mid = self._slot(c)
        d1, d2 = cv2.subtract(mid, self._slot(before)), cv2.subtract(mid, self._slot(after))
        up = cv2.max(cv2.min(d1, d2), 0.0)                   # both differences positive
        down = cv2.max(cv2.min(-d1, -d2), 0.0)               # both negative
        return cv2.resize(up + down, (GRID, GRID), interpolation=cv2.INTER_AREA)  # cell means

    def _emit(self, c: int, last: int) -> FrameSignals:
        """Signals of smoothed frame c of the track, given smoothed frames 0..last exist."""
        maps = []
        for k in (self.k_micro, self.k_macro):
            before, after = self._near(c, k, -1, last), self._near(c, k, 1, last)
            maps.append(None if before is None or after is None else self._bump(c, before, after))
        return FrameSignals(int(self._frame[c % len(self._frame)]), self._t(c), *maps)

    def _make_room(self) -> None:
        """Double the ring before smoothed frame ``_n`` would overwrite a frame the next signals due still read (its
        neighbour 2.5 s back: more frames than ``2 k_macro + 1`` where frames come faster than ``fps``); up to the
        frames of that reach at :data:`MAX_RATE` (1201 at 30 fps, 60 MB), beyond which the oldest frame kept stands in
        for the one 2.5 s back (and past twice that rate a frame leaves before its neighbour 2.5 s on comes, without
        that scale: ``_push_smoothed``)."""
        n, size = self._n, len(self._buf)
        most = max(int(MAX_RATE * 2 * self.k_macro / self.fps) + 1, 2 * self.k_macro + 1)
        if n < size or size >= most:
            return
        near = self._near(self._c, self.k_macro, -1, n - 1)  # None: 2.5 s before the track's start, where the frames
        if near is not None and near > n - size:             # due next need its first frames (frames faster than fps)
            return
        grown = min(2 * size, most)
        buf = np.zeros((grown, SIZE, SIZE), np.float32)
        frame, when = np.zeros(grown, np.int64), np.zeros(grown, np.float64)
        for i in range(n - size, n):
            buf[i % grown], frame[i % grown], when[i % grown] = \
                self._buf[i % size], self._frame[i % size], self._time[i % size]
        self._buf, self._frame, self._time, self._kept = buf, frame, when, n - size

    def _push_smoothed(self, g: np.ndarray, frame: int, t: float) -> list[FrameSignals]:
        self._make_room()
        while self._c <= self._n - len(self._buf):  # grown all it may: a frame about to be overwritten goes now
            out_early = self._emit(self._c, self._n - 1)
            self._c += 1
            self._early.append(out_early)
        if self._n == 0:
            self._t0 = t
        i = self._n % len(self._buf)
        self._buf[i], self._frame[i], self._time[i] = g, frame, t
        self._n += 1
        out, self._early = self._early, []
        # its neighbour k_macro / fps later is here: a frame within a quarter period of that time (a time's error at
        # a constant rate), not half (a frame exactly half a period early was taken where the next, nearer, came)
        while self._c < self._n and t >= self._t(self._c) + self.k_macro / self.fps - self._tol / 2:
            out.append(self._emit(self._c, self._n - 1))
            self._c += 1
        return out

    def _smoothed(self, p: int, h: int) -> np.ndarray:
        """The mean of the frames kept from ``h`` before raw frame ``p`` to ``h`` after it (oldest first)."""
        near = [g for i, g in self._raw if abs(i - p) <= h]
        return sum(near) / len(near)

    def _half_at(self, time_s: float) -> int:
        """The time mean's half-span in frames of a frame at ``time_s`` (the latest pushed): ``half``, as counted at
        the header's rate, where the track's local rate (its frames since the newest :data:`RATE_SPAN` s or more
        back, count - 1 over their span: not one interval, which a stream's bursts or repaired times make far off;
        the header's in the track's first quarter second) is within a quarter of the header's, else what a constant-rate recording at that rate would have (:func:`mean_half`), up to
        :data:`MAX_HALF`, rounded up from ``HALF_UP`` (not .5: 20 fps, on that edge, would flip with each ms)."""
        times = self._times  # from the newest frame RATE_SPAN or more before it (the one before a longer gap)
        times.append(time_s)
        while len(times) > 2 and time_s - times[1] >= RATE_SPAN:
            times.popleft()
        if time_s - times[0] < RATE_SPAN / 2:  # the track's first quarter second: too few frames to tell
            return self.half
        rate = (len(times) - 1) / max(time_s - times[0], 1e-6)
        if 0.75 <= self.fps / rate <= 1.25:
            return self.half
        return min(mean_half(rate, HALF_UP), self._most)

    def push(self, frame: int, time_s: float, aligned: np.ndarray | None) -> list[FrameSignals]:
        """Feed one frame; returns the signals now complete (at a constant rate, of frames ``delay`` frames back; by
        time, about ``k_macro / fps`` seconds back). A time that does not increase ends the track first (a looped
        or reconnected source)."""
        if aligned is None:
            return self.flush() + [FrameSignals(frame, time_s, None, None)]
        out = self.flush() if self._raw and time_s <= self._last_t else []
        self._i += 1
        self._last_t = time_s
        self._raw.append((self._i, self.grey(aligned)))
        self._pending.append((frame, time_s, self._i, self._half_at(time_s)))
        # the oldest waiting frames have their neighbours within the half-span now (fewer at the track's start)
        while self._pending and self._i - self._pending[0][2] >= self._pending[0][3]:
            f, t, i, h = self._pending.popleft()
            out += self._push_smoothed(self._smoothed(i, h), f, t)
        keep = (self._pending[0][2] if self._pending else self._i + 1) - self._most
        while self._raw and self._raw[0][0] < keep:
            self._raw.popleft()
        return out

    def flush(self) -> list[FrameSignals]:
        """End of the track: the frames still waiting, with the scales available; then reset."""
        out: list[FrameSignals] = []
        while self._pending:  # the last frames: their neighbours after them end with the track
            f, t, i, h = self._pending.popleft()
            out += self._push_smoothed(self._smoothed(i, h), f, t)
        while self._c < self._n:
            out.append(self._emit(self._c, self._n - 1))
            self._c += 1
        self._raw.clear()
        self._times.clear()
        self._n = self._c = self._kept = 0
        return out
