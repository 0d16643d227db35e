"""What the overlay and the status line show, kept up to date from the session's frames and results.

The display never waits for the model: it shows the latest result, with the class probabilities
smoothed by an EMA over windows (the CSV keeps the raw values), a history of recent windows, the
frame rate and the model latency.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import numpy as np

from .overlay import OverlayState, choose_side
from .results import WARMING, ModelInfo, WindowResult


class OverlayView:
    """Display state: EMA probabilities, label, history strip, fps, latency, transient message."""

    def __init__(self, model: ModelInfo, ema: float = 0.4, history: int = 120) -> None:
        self.model = model
        self.classes = list(model.classes)
        self.ema = ema  # weight of the newest window in the displayed probabilities
        self.probs: np.ndarray | None = None
        self.last: WindowResult | None = None
        self.history: deque[tuple[str | None, float | None]] = deque(maxlen=history)
        self.fps: float | None = None
        self.latency_ms: float | None = None
        self.windows = 0
        self.side: str | None = None
        self.message: tuple[str, float] | None = None
        self._t_prev: float | None = None

    @property
    def label(self) -> str | None:
        return self.last.top if self.last is not None else None

    @property
    def confidence(self) -> float | None:
        """The displayed (smoothed) probability of the current label, when it is a class."""
        if self.probs is not None and self.label in self.classes:
            return float(self.probs[self.classes.index(self.label)])
        return None

    def frame_tick(self, now: float) -> None:
        if self._t_prev is not None:
            dt = now - self._t_prev
            if dt > 0:
                inst = 1.0 / dt
                self.fps = inst if self.fps is None else 0.9 * self.fps + 0.1 * inst
        self._t_prev = now

    def result(self, r: WindowResult) -> None:
        self.last = r
        self.windows += 1
        if r.probs is not None:
            self.probs = r.probs.copy() if self.probs is None else self.ema * r.probs + (1 - self.ema) * self.probs
        elif not r.face:
            self.probs = None  # no stale probabilities across a lost face
        self.history.append((r.top if r.top is not None or not r.face else WARMING, r.motion_score))
        ms = r.timings.get("inputs_ms", 0.0) + r.timings.get("model_ms", 0.0)
        if ms:
            self.latency_ms = ms if self.latency_ms is None else 0.8 * self.latency_ms + 0.2 * ms

    def say(self, msg: str, seconds: float = 2.5) -> None:
        """Show a transient line (e.g. "snapshot saved")."""
        self.message = (msg, time.monotonic() + seconds)

    def state(self, width: int, face_box: tuple[int, int, int, int] | None, t: float | None, paused: bool = False,
              recording: bool = False) -> OverlayState:
        self.side = choose_side(face_box, width, self.side) if face_box is not None else self.side
        r = self.last
        live_face = face_box is not None
        msg = self.message[0] if self.message and time.monotonic() < self.message[1] else None
        return OverlayState(
            classes=self.classes, probs=self.probs if live_face else None,
            label=self.label if live_face else None, confidence=self.confidence, face=live_face, box=face_box,
            aligned=r.aligned if r and live_face else None, motion=r.motion if r and live_face else None,
            dynamic=r.dynamic if r and live_face else None, history=list(self.history),
            motion_score=r.motion_score if r else None, event=bool(r and r.event) and live_face, fps=self.fps,
            latency_ms=self.latency_ms, provider=self.model.provider or "no model", model=self.model.label,
            demo=self.model.demo, paused=paused, recording=recording, time_s=t, message=msg, side=self.side,
        )

    def status(self) -> dict[str, Any]:
        """The one-line status of a headless live run."""
        return {"fps": self.fps, "provider": self.model.provider or "no model", "label": self.label,
                "confidence": self.confidence, "windows": self.windows, "latency_ms": self.latency_ms,
                "face": self.last.face if self.last else False, "demo": self.model.demo}
