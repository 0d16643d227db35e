"""The BASELINE for bench/spotting.py only: the window-score spotter mpt-live used before the frame-level
spotter (mpt_live/spotting.py). Micro-expression spotting on the motion score: windows whose score rises above the stream's
own robust baseline are candidate events.

The baseline is causal (median and MAD of the scores seen so far, over a bounded history), so a
row can be labelled the moment its window is scored and written incrementally, live or offline.
A window is "hot" when ``score > median + k * 1.4826 * MAD`` (k = ``threshold``, default 4); runs
of hot windows separated by at most ``max_gap`` cold windows form one event.

A window [t - window_s, t] turns hot as soon as the movement enters it and stays hot until the
movement has left it, so an event's times are estimated as: ``start`` = end time of the last quiet
window before it (the movement began after that), ``end`` = the last hot window's end time minus
``window_s`` (the movement had left by then), at least the first hot window's end time; ``peak`` =
end time of the window with the highest score.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Event:
    start: float  # s: end time of the last quiet window before the event
    first: float  # s: end time of the first hot window
    last: float  # s: end time of the last hot window
    peak: float  # s: end time of the window with the highest score
    peak_score: float
    window_s: float
    windows: int = 0
    class_votes: dict[str, float] = field(default_factory=dict)

    @property
    def end(self) -> float:
        """s: the movement had left the window by the last hot window's time minus window_s."""
        return max(self.last - self.window_s, self.first)

    @property
    def top(self) -> str | None:
        return max(self.class_votes, key=self.class_votes.get) if self.class_votes else None


class Spotter:
    """Online event spotting over a stream of window scores."""

    def __init__(
        self,
        window_s: float,
        threshold: float = 4.0,
        warmup: int = 8,
        history: int = 900,
        max_gap: int = 1,
        min_scale: float = 1e-6,
    ) -> None:
        self.window_s = window_s
        self.threshold = threshold
        self.warmup = warmup
        self.max_gap = max_gap
        self.min_scale = min_scale
        self._hist: deque[float] = deque(maxlen=history)
        self._open: Event | None = None
        self._gap = 0
        self._prev_t: float | None = None
        self.events: list[Event] = []

    def baseline(self) -> tuple[float, float] | None:
        """(median, robust sigma) of the scores so far, or None during warm-up."""
        if len(self._hist) < self.warmup:
            return None
        h = np.fromiter(self._hist, dtype=np.float64)
        med = float(np.median(h))
        sigma = 1.4826 * float(np.median(np.abs(h - med)))
        return med, max(sigma, self.min_scale, 0.05 * abs(med))

    def update(self, t: float, score: float | None, probs: dict[str, float] | None = None) -> bool:
        """Feed one window (end time t, score; None = no face). Returns True if the window is hot."""
        prev_t, self._prev_t = self._prev_t, t
        if score is None or not np.isfinite(score):
            self._close()
            self._prev_t = None
            return False
        base = self.baseline()
        hot = base is not None and score > base[0] + self.threshold * base[1]
        # every score enters the (median-based, so robust) baseline: a lasting change of level,
        # such as the start of talking, becomes the new baseline instead of one endless event
        self._hist.append(float(score))
        if hot:
            ev = self._open
            if ev is None:
                start = prev_t if prev_t is not None else t - self.window_s
                ev = self._open = Event(start=start, first=t, last=t, peak=t, peak_score=score,
                                         window_s=self.window_s)
                self.events.append(ev)
            ev.last = t
            ev.windows += 1
            if score > ev.peak_score:
                ev.peak, ev.peak_score = t, score
            if probs:
                for k, v in probs.items():
                    ev.class_votes[k] = ev.class_votes.get(k, 0.0) + float(v) * float(score)
            self._gap = 0
        elif self._open is not None:
            self._gap += 1
            if self._gap > self.max_gap:
                self._close()
        return hot

    def _close(self) -> None:
        self._open = None
        self._gap = 0
