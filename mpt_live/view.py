"""What the overlay and the status line show, kept up to date from the session's frames and results.

The display never waits for the model or the spotter: every frame it reads the session's newest raw
window of each face (:attr:`Session.latest <mpt_live.session.Session.latest>`) and each face's latest
event (:attr:`Session.recent`). Per face it keeps the class probabilities smoothed by an EMA over
windows (the CSV keeps the raw values) and a history of recent windows. A face's label is the class
of its latest event while that event is recent (events close a few seconds after their apex), else
``neutral``; its confidence is that event's (the model's, on the window centred on its apex, as in events.csv),
and the overlay says when that apex was, since the label comes seconds after the movement it names. The side
column shows the first face of the frame; every face is tagged on the frame.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .overlay import FaceTag, OverlayState
from .overlay_layout import choose_side
from .results import EVENT, NEUTRAL, WARMING, EventResult, ModelInfo, WindowResult

SHOW_EVENT_S = 4.0  # a face's label shows its latest event this long after the event closed


@dataclass
class _Face:
    probs: np.ndarray | None = None
    last: WindowResult | None = None
    event: EventResult | None = None
    event_seen: float = -np.inf  # source time the event was first shown
    history: deque = field(default_factory=lambda: deque(maxlen=120))

    def label(self, t: float | None) -> str | None:
        if self.last is None or self.last.motion_score is None:
            return None  # warming up
        if self.event is not None and t is not None and t - self.event_seen <= SHOW_EVENT_S:
            return self.event.cls or EVENT
        return NEUTRAL


class OverlayView:
    """Display state: per face EMA probabilities, label, history strip; fps, latency, transient message."""

    def __init__(self, model: ModelInfo, ema: float = 0.4, history: int = 120) -> None:
        self.model = model
        self.classes = list(model.classes)
        self.ema = ema  # weight of the newest window in the displayed probabilities
        self.faces: dict[int, _Face] = {}
        self.fps: float | None = None
        self.latency_ms: float | None = None
        self.windows = 0
        self.side: str | None = None
        self.message: tuple[str, float] | None = None
        self.history = history
        self._t: float | None = None
        self._shown: list[int] = []  # face IDs of the latest frame
        self._t_prev: float | None = None

    def frame_tick(self, now: float) -> None:
        if self._t_prev is not None:
            dt = now - self._t_prev
            if dt > 0:
                inst = 1.0 / dt
                self.fps = inst if self.fps is None else 0.9 * self.fps + 0.1 * inst
        self._t_prev = now

    def observe(self, latest: Mapping[int, WindowResult], recent: Mapping[int, EventResult], t: float,
                shown: Sequence[int] = ()) -> None:
        """Take the session's newest window of each face (once each) and its latest event; ``shown``: the
        IDs of the faces in the frame at time ``t``."""
        self._t, self._shown = t, list(shown)
        for fid, r in latest.items():
            f = self.faces.setdefault(fid, _Face(history=deque(maxlen=self.history)))
            if f.last is r:
                continue
            f.last = r
            self.windows += 1
            if r.probs is not None:
                f.probs = r.probs.copy() if f.probs is None else self.ema * r.probs + (1 - self.ema) * f.probs
            ms = r.timings.get("inputs_ms", 0.0) + r.timings.get("model_ms", 0.0)
            if ms:
                self.latency_ms = ms if self.latency_ms is None else 0.8 * self.latency_ms + 0.2 * ms
            f.history.append((f.label(t) or WARMING, r.motion_score))
        for fid, e in recent.items():
            f = self.faces.setdefault(fid, _Face(history=deque(maxlen=self.history)))
            if f.event is not e:
                f.event, f.event_seen = e, t

    def say(self, msg: str, seconds: float = 2.5) -> None:
        """Show a transient line (e.g. "snapshot saved")."""
        self.message = (msg, time.monotonic() + seconds)

    def _main(self) -> _Face | None:
        return self.faces.get(self._shown[0]) if self._shown else None

    @property
    def label(self) -> str | None:
        f = self._main()
        return f.label(self._t) if f is not None else None

    def _event(self) -> EventResult | None:
        """The event the first face's label names (None: neutral, warming up, no face)."""
        f = self._main()
        return f.event if f is not None and f.label(self._t) not in (None, NEUTRAL) else None

    @property
    def confidence(self) -> float | None:
        """The confidence of the event the label names: the model's probability of its class on the window centred
        on its apex, as events.csv has it. (It was the class's smoothed probability in the latest window, seconds
        after that apex: 'disgust, confidence 0%' while the face made its next movement.)"""
        e = self._event()
        return e.confidence if e is not None else None

    def state(self, width: int, faces: Sequence[tuple[int, tuple[int, int, int, int]]], t: float | None,
              paused: bool = False, recording: bool = False) -> OverlayState:
        """The overlay of a frame whose tracked faces are ``faces`` ((ID, box), ID order)."""
        self._shown = [fid for fid, _ in faces]
        if t is not None:
            self._t = t
        main_id, box = faces[0] if faces else (None, None)
        self.side = choose_side(box, width, self.side) if box is not None else self.side
        f = self.faces.get(main_id) if main_id is not None else None
        r = f.last if f is not None else None
        live = box is not None
        label = f.label(self._t) if f is not None else None
        shown = self._event() if live else None
        msg = self.message[0] if self.message and time.monotonic() < self.message[1] else None
        others = []
        for fid, b in faces[1:]:
            o = self.faces.get(fid)
            lab = o.label(self._t) if o is not None else None
            others.append(FaceTag(fid, b, lab or WARMING, lab not in (None, NEUTRAL)))
        return OverlayState(
            classes=self.classes, probs=f.probs if (live and f is not None) else None,
            label=label if live else None, confidence=self.confidence, face=live, box=box,
            event_apex_s=shown.event.apex_s if shown is not None else None,
            aligned=r.aligned if r and live else None, motion=r.motion if r and live else None,
            dynamic=r.dynamic if r and live else None, history=list(f.history) if f is not None else [],
            motion_score=r.motion_score if r else None, event=live and label not in (None, NEUTRAL), fps=self.fps,
            latency_ms=self.latency_ms, provider=self.model.provider or "no model", model=self.model.label,
            demo=self.model.demo, paused=paused, recording=recording, time_s=t, message=msg, side=self.side,
            face_id=main_id, others=others,
        )

    def status(self) -> dict[str, Any]:
        """The one-line status of a headless live run."""
        return {"fps": self.fps, "provider": self.model.provider or "no model", "label": self.label,
                "confidence": self.confidence, "windows": self.windows, "latency_ms": self.latency_ms,
                "face": bool(self._shown), "faces": len(self._shown), "demo": self.model.demo}
