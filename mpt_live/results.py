"""What a session produces, defined once: the per-window result, the CSV row, the model's description.

Every run writes the same schema whatever the flags (model or motion-only, window, ``--save-video``):
``predictions.csv`` has :func:`columns` (the motion-only run simply has no classes, so no
``p_<class>`` columns), and ``summary.json`` is :meth:`mpt_live.session.Session.summary` plus the
job's ``outputs``. Labels of a window (``top``): a class inside a spotted motion event, ``neutral``
outside, ``event`` inside one without a model, empty without a full window of face.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

NEUTRAL = "neutral"
EVENT = "event"  # motion-only: a window inside a spotted motion event
WARMING = "warming up"  # a face, but not yet a full window of it
NO_FACE = "no face"
BASE_COLUMNS = ("time_s", "frame", "face", "x", "y", "w", "h", "motion_score")
DEMO_NOTE = ("DEMO MODEL: trained on semi-synthetic data; it shows the pipeline, it is not a validated "
             "micro-expression classifier")


def columns(classes: Iterable[str]) -> list[str]:
    """predictions.csv columns: time, frame, face, box, motion score, a probability per class, top, confidence."""
    return [*BASE_COLUMNS, *[f"p_{c}" for c in classes], "top", "confidence"]


@dataclass
class WindowResult:
    """One window of one face: what is written (raw values) and what the overlay shows.

    ``timings`` holds the window's per-stage milliseconds (its "speed"): ``align_ms``, ``buffer_ms``,
    ``sample_ms`` (the frame loop), ``queue_ms``, ``inputs_ms`` (magnify + rank pool), ``model_ms``.
    ``top``, ``confidence`` and ``event`` are set by the session once the window is spotted.
    """

    time_s: float  # end time of the window (s, source time)
    frame: int  # index of the window's last frame
    face_id: int | None  # which face of the frame (0: the tracked face); None: no face
    box: tuple[int, int, int, int] | None  # x, y, w, h in frame pixels
    motion_score: float | None  # None: no full window of face (no clip)
    probs: np.ndarray | None  # (C,) raw model probabilities; None without clip or model
    classes: tuple[str, ...] = ()
    captured: float = 0.0  # monotonic time the window's last frame was captured
    done: float = 0.0  # monotonic time its processing finished
    timings: dict[str, float] = field(default_factory=dict)
    top: str | None = None
    confidence: float | None = None
    event: bool = False  # inside a spotted motion event
    aligned: np.ndarray | None = None  # thumbnails (BGR uint8), only when a display or video asks
    motion: np.ndarray | None = None
    dynamic: np.ndarray | None = None

    @property
    def face(self) -> bool:
        return self.face_id is not None

    @property
    def latency_ms(self) -> float:
        """Capture of the window's last frame to its result."""
        return (self.done - self.captured) * 1e3

    @property
    def probabilities(self) -> dict[str, float] | None:
        return dict(zip(self.classes, map(float, self.probs))) if self.probs is not None else None

    @property
    def label(self) -> str:
        """The label this window counts for: ``top``, else "no face" / "warming up"."""
        if self.top is not None:
            return self.top
        return WARMING if self.face else NO_FACE

    def spotted(self, hot: bool) -> None:
        """Set ``event``, ``top`` and ``confidence`` from the spotter's verdict on this window."""
        self.event = hot
        if not self.face or self.motion_score is None:
            self.top = None
        elif self.probs is None or not self.classes:
            self.top = EVENT if hot else NEUTRAL
        else:
            self.top = self.classes[int(np.argmax(self.probs))] if hot else NEUTRAL
        self.confidence = float(np.max(self.probs)) if (self.probs is not None and self.top in self.classes) else None

    def row(self) -> dict[str, Any]:
        """The predictions.csv row (keys: :func:`columns` of ``classes``)."""
        x, y, w, h = self.box if self.box is not None else (None,) * 4
        row = {"time_s": round(self.time_s, 4), "frame": self.frame, "face": self.face, "x": x, "y": y, "w": w,
               "h": h, "motion_score": self.motion_score, "top": self.top, "confidence": self.confidence}
        for c, p in (self.probabilities or {}).items():
            row[f"p_{c}"] = p
        return row


@dataclass
class ModelInfo:
    """What summary.json and the overlay say about the model (no runtime: motion-only)."""

    path: str | None = None
    name: str = "motion only"
    classes: list[str] = field(default_factory=list)
    demo: bool = False
    precision: str | None = None
    backbone: str | None = None
    backbone_weights: str | None = None
    provider: str = ""
    describe: str = ""

    @classmethod
    def of(cls, runtime: Any | None) -> "ModelInfo":
        if runtime is None:
            return cls()
        return cls(path=str(runtime.path), name=Path(runtime.path).name, classes=list(runtime.classes),
                   demo=bool(runtime.demo), precision=runtime.precision, backbone=runtime.backbone,
                   backbone_weights=getattr(runtime, "backbone_weights", "") or None, provider=runtime.provider, describe=runtime.describe())

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "name": self.name, "demo": self.demo, "precision": self.precision,
                "backbone": self.backbone, "backbone_weights": self.backbone_weights, "classes": self.classes, "description": self.describe,
                "note": DEMO_NOTE if self.demo else None}

    @property
    def label(self) -> str:
        """Short: name · backbone · precision."""
        parts = [self.name]
        if self.backbone:
            parts.append(self.backbone.replace("_patch16_224", "").replace("_patch14_dinov2", "/14 DINOv2"))
        if self.precision:
            parts.append(self.precision)
        return " · ".join(parts)


class LabelTally:
    """Per-label window counts and time shares (each window covers the time until the next one)."""

    def __init__(self) -> None:
        self.windows: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self._prev: tuple[float, str] | None = None
        self._dts: deque[float] = deque(maxlen=64)

    def add(self, t: float, label: str) -> None:
        self.windows[label] = self.windows.get(label, 0) + 1
        if self._prev is not None:
            dt = max(0.0, t - self._prev[0])
            self.seconds[self._prev[1]] = self.seconds.get(self._prev[1], 0.0) + dt
            self._dts.append(dt)
        self._prev = (t, label)

    def to_dict(self, order: Sequence[str]) -> dict[str, dict[str, float]]:
        seconds = dict(self.seconds)
        if self._prev is not None:  # the last window covers a typical spacing
            last = float(np.median(self._dts)) if self._dts else 0.0
            seconds[self._prev[1]] = seconds.get(self._prev[1], 0.0) + last
        total = sum(seconds.values())
        labels = [x for x in order if x in self.windows] + sorted(set(self.windows) - set(order))
        return {lab: {"windows": self.windows[lab], "seconds": round(seconds.get(lab, 0.0), 3),
                      "share": round(seconds.get(lab, 0.0) / total, 4) if total > 0 else 0.0} for lab in labels}
