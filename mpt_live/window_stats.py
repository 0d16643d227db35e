"""Running robust statistics of a stream of per-cell values over a window of its own time (torch-free).

:class:`WindowStats` keeps one sample per ``slot_s`` of the frames' times (the first frame in each
slot) and gives each cell's median and spread (1.4826 x its median absolute deviation, plus a floor)
over the samples of the last ``span_s`` seconds, recomputed whenever a sample enters or leaves that
window: they depend on the window's frames alone, not on a frame count standing for seconds nor on
the frame a periodic refresh happened to fall on (the spotter's statistics used to be refreshed every
``int(fps)`` frames over ``int(10 fps)`` samples of every other frame: at 29.97 instead of 30 fps, 15
of dev's 52 events moved, docs/spotting.md). A recomputation sorts each cell's samples once (a
vectorised sort, cheaper than the two ``np.partition`` calls it replaces); the median is the
nearest-rank middle sample and the median absolute deviation the reach of the narrowest run of half
the sorted samples around it: exact, the values ``np.partition`` gives.

A time that is a whole number of milliseconds is read as rounded to it (:data:`ROUNDED_S`: up to half a millisecond
early), and counts in the slot the time half a millisecond later is in: containers that keep times to the millisecond
(Matroska, WebM, FLV) give 0.133 s for frame 4 of 30 fps, exactly on the second 2/15 s slot's start, which put it in
the slot before (the next frame was sampled there: 50 of 150 samples at 30, 15 or 60 fps, 10 at 24 fps). Exact and
rounded times of such a recording sample the same frames; exact times, the frames they did before (one sample in
3,000 of an exact 29.97 fps recording moves by a frame: its frame 1001 j ms, 1/3 ms before a slot's start, every 400
s). A rate that drifts across the slots (29.97 fps: 999 frames in 250 slots) has frames at every distance from a
slot's start, so its rounded times still sample a frame other than its exact times do where one comes within about
half a millisecond of a slot's start. The slots depend on the times alone, not on the rate the stream states.
"""

from __future__ import annotations

import math

import numpy as np

ROUNDED_S = 0.5e-3  # a time of whole milliseconds was rounded to them: the frame's own time is up to this much later


class WindowStats:
    """Median and spread of each of ``cells`` (indices into the value vectors given to :meth:`add`)."""

    def __init__(self, n: int, cells: np.ndarray, span_s: float, slot_s: float, floor: float = 0.1) -> None:
        if not (0 < span_s < math.inf and 0 < slot_s < math.inf):  # NaN too: the slots below divide by them
            raise ValueError(f"window statistics need a span and a sample time > 0 s, got span_s={span_s}, "
                             f"sample_s={slot_s}")
        self.cells = np.asarray(cells)
        self.span_s, self.slot_s, self.floor = span_s, slot_s, floor
        cap = max(int(2 * span_s / slot_s) + 8, 16)
        self._buf = np.zeros((len(self.cells), cap), np.float32)  # cell x sample, oldest first
        self._times: list[float] = [0.0] * cap
        self._start = self._end = 0     # the window's samples: [_start, _end)
        self._slot: int | None = None
        self._computed: tuple[int, int] | None = None
        self.med = np.zeros(n, np.float32)     # every cell of the vectors; those not in ``cells`` stay 0 and 1
        self.spread = np.ones(n, np.float32)

    def __len__(self) -> int:
        """Samples in the window now."""
        return self._end - self._start

    def newest(self) -> float | None:
        """The time of the newest sample kept (None: none yet)."""
        return self._times[self._end - 1] if self._end > self._start else None

    def add(self, t: float, values: np.ndarray) -> None:
        """The values of the frame at time ``t`` (times in order); kept if it is the first of its slot."""
        if self._end > self._start and t < self._times[self._end - 1]:  # time went back (a looped source): anew
            self._start, self._slot, self._computed = self._end, None, None
        slot = self.slot_of(t)
        if slot == self._slot:
            return
        self._slot = slot
        if self._end == self._buf.shape[1]:  # full: move the kept samples to the front, or grow
            n = self._end - self._start
            if n > self._buf.shape[1] // 2:
                self._buf = np.concatenate([self._buf, np.zeros_like(self._buf)], axis=1)
                self._times += [0.0] * len(self._times)
            self._buf[:, :n] = self._buf[:, self._start:self._end]
            self._times[:n] = self._times[self._start:self._end]
            self._start, self._end, self._computed = 0, n, None
        self._buf[:, self._end] = values[self.cells]
        self._times[self._end] = float(t)
        self._end += 1

    def slot_of(self, t: float) -> int:
        """The slot of a frame at time ``t``: a frame exactly on a slot's start counts in that slot, and one whose time
        is a whole number of milliseconds where ``t + ROUNDED_S`` is (its time rounded down to a slot's start)."""
        ms = t * 1000.0
        late = ROUNDED_S if abs(ms - round(ms)) < 1e-6 else 0.0
        return math.floor((t + late) / self.slot_s + 1e-6)

    def update(self, now: float) -> None:
        """Move the window to end at ``now`` and recompute the statistics if its samples changed."""
        start, stop, times = self._start, self._end, self._times
        while start < stop and times[start] <= now - self.span_s:
            start += 1
        self._start = start
        if (start, stop) == self._computed or stop == start:
            return
        self._computed = (start, stop)
        s = np.sort(self._buf[:, start:stop], axis=1)
        n = stop - start
        k = n // 2
        med = s[:, k:k + 1]
        # the k + 1 samples nearest the median are a run of the sorted ones holding it: the median absolute
        # deviation (the k-th smallest, as np.partition(abs(x - med), k)) is the narrowest such run's reach
        a = min(k, n - 1 - k) + 1
        below = np.subtract(med, s[:, :a])
        np.maximum(below, np.subtract(s[:, k:k + a], med), out=below)
        self.med[self.cells] = med[:, 0]
        self.spread[self.cells] = below.min(axis=1) * 1.4826 + self.floor
