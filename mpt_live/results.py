"""What a session produces, defined once: the per-window result, the CSV row, the model's description.

Every run writes the same schema whatever the flags (model or motion-only, window, ``--save-video``):
``predictions.csv`` has :func:`columns` (one row per face per window, ``face_id`` the face's track;
the motion-only run simply has no classes, so no ``p_<class>`` columns), ``events.csv`` has
:data:`~mpt_live.spotting.EVENT_COLUMNS` (one row per spotted event, :class:`EventResult`), and
``summary.json`` is :meth:`mpt_live.session.Session.summary` plus the job's ``outputs``. Labels of a
window (``top``): the class of the spotted event of that face whose onset..offset holds the window's
time, ``neutral`` outside events, ``event`` inside one without a model, empty without a full window
of face. The CSV files are read back by :func:`read_table` (events.csv by :func:`read_event_rows`), wherever
mpt-live reads them (``--finish``, a batch's overview, the run's own plot and page).
"""

from __future__ import annotations

import csv
import os
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from .spotting import SpotEvent

NEUTRAL = "neutral"
EVENT = "event"  # motion-only: a window inside a spotted motion event
WARMING = "warming up"  # a face, but not yet a full window of it
NO_FACE = "no face"
BASE_COLUMNS = ("time_s", "frame", "face_id", "x", "y", "w", "h", "motion_score")
DEMO_NOTE = ("DEMO MODEL: trained on semi-synthetic data; it shows the pipeline, it is not a validated "
             "micro-expression classifier")


def columns(classes: Iterable[str]) -> list[str]:
    """predictions.csv columns: time, frame, face ID, box, motion score, a probability per class, top, confidence."""
    return [*BASE_COLUMNS, *[f"p_{c}" for c in classes], "top", "confidence"]


@dataclass
class WindowResult:
    """One window of one face: what is written (raw values) and what the overlay shows.

    ``timings`` holds the window's per-stage milliseconds (its "speed"): ``track_ms``, ``spot_ms``,
    ``sample_ms`` (the frame loop), ``queue_ms``, ``inputs_ms`` (magnify + rank pool), ``model_ms``.
    ``top``, ``confidence`` and ``event`` are set by the session once no later event can cover the
    window (:meth:`labelled`).
    """

    time_s: float  # end time of the window (s, source time)
    frame: int  # index of the window's last frame
    face_id: int | None  # the face's track ID (stable over the video); None: no face in the frame
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
    for_event: Any = None  # the session's closed event this apex window classifies (None: a regular window)

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

    def labelled(self, event: "EventResult | None") -> None:
        """Set ``event``, ``top`` and ``confidence`` from the event of this face covering the window (or None)."""
        self.event = event is not None
        if not self.face or self.motion_score is None:
            self.top, self.confidence = None, None
        elif event is None:
            self.top, self.confidence = NEUTRAL, None
        elif event.cls is None:
            self.top, self.confidence = EVENT, None
        else:
            self.top, self.confidence = event.cls, event.confidence

    def row(self) -> dict[str, Any]:
        """The predictions.csv row: its keys :func:`columns` of ``classes``, in that order, on every row (a window
        without probabilities has None there), so rows collected in a script make the file's table."""
        x, y, w, h = self.box if self.box is not None else (None,) * 4
        probs = self.probabilities or {}
        return {"time_s": round(self.time_s, 4), "frame": self.frame, "face_id": self.face_id, "x": x, "y": y, "w": w,
                "h": h, "motion_score": self.motion_score, **{f"p_{c}": probs.get(c) for c in self.classes},
                "top": self.top, "confidence": self.confidence}


@dataclass
class EventResult:
    """A spotted event of one face with the model's class of the window centred on its apex.

    ``cls``/``confidence``/``probs`` are None without a model (motion-only) or when the apex window was
    no longer buffered. ``row(video)`` is the events.csv row; ``to_dict()`` the summary.json entry. ``event_id``:
    the event's number in the run, given by the session as the event is finished (so written): 1, 2, ... in the
    order of events.csv's rows, unique in the run (so for each face)."""

    face_id: int
    event: SpotEvent
    cls: str | None = None
    confidence: float | None = None
    probs: dict[str, float] | None = None
    event_id: int | None = None

    @classmethod
    def of(cls, face_id: int, event: SpotEvent, probs: np.ndarray | None, classes: Sequence[str]) -> "EventResult":
        if probs is None or not len(classes):
            return cls(face_id, event)
        k = int(np.argmax(probs))
        return cls(face_id, event, classes[k], float(probs[k]), dict(zip(classes, map(float, probs))))

    def covers(self, t: float) -> bool:
        return self.event.onset_s - 1e-6 <= t <= self.event.offset_s + 1e-6

    def row(self, video: str) -> dict[str, Any]:
        return self.event.row(video, self.face_id, self.cls,
                              None if self.confidence is None else round(self.confidence, 4), self.event_id)

    def to_dict(self) -> dict[str, Any]:
        d = self.row("")
        del d["video"]
        d["probabilities"] = None if self.probs is None else {k: round(v, 4) for k, v in self.probs.items()}
        return d


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
    parity: str | None = None      # mpt-export's parity check of the model (mpt_live.model_trust.parity_fact)
    warning: str = ""              # one line where that check failed
    data_kind: str | None = None   # mpt.data_kind: 'semi-synthetic (mpt-synth)' for a model trained on mpt-synth clips

    @classmethod
    def of(cls, runtime: Any | None) -> "ModelInfo":
        if runtime is None:
            return cls()
        return cls(path=str(runtime.path), name=Path(runtime.path).name, classes=list(runtime.classes),
                   demo=bool(runtime.demo), precision=runtime.precision, backbone=runtime.backbone,
                   backbone_weights=getattr(runtime, "backbone_weights", "") or None, provider=runtime.provider, describe=runtime.describe(),
                   parity=getattr(runtime, "parity", None), warning=getattr(runtime, "parity_warning", ""),
                   data_kind=getattr(runtime, "data_kind", "") or None)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "name": self.name, "demo": self.demo, "precision": self.precision,
                "backbone": self.backbone, "backbone_weights": self.backbone_weights, "classes": self.classes, "description": self.describe,
                "parity": self.parity, "data_kind": self.data_kind, "note": DEMO_NOTE if self.demo else None}

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
    """Per-label window counts and time shares (each window covers the time until the next one; the last, a typical
    spacing). ``spacing``: the time a window covers where no spacing is known, a lone window's (the run's stride in
    seconds: a run of one window, --max-seconds 0.05 or --stride 100, had 0 s and every share 0)."""

    def __init__(self, spacing: float | None = None) -> None:
        self.spacing = spacing
        self.windows: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self._prev: tuple[float, str] | None = None
        self._dts: deque[float] = deque(maxlen=64)
        self._step: float | None = None

    def add(self, t: float, label: str, step: float | None = None) -> None:
        """A window at ``t``; ``step``: the run's usual spacing of windows (all faces', and the frames without one),
        where known. A gap (the face away, or a face in the frame between two windows without one) counts as four
        spacings at most, not as the label: the run's, else this tally's own once it has four. A tally of scattered
        windows (a face lost for a moment now and then) has no usual spacing of its own: its gaps were its spacing,
        counted as the label (a face hidden twice for 0.27 s in 20 s: 'no face' 10.3 s)."""
        self.windows[label] = self.windows.get(label, 0) + 1
        self._step = step if step else self._step
        if self._prev is not None:
            dt = max(0.0, t - self._prev[0])
            usual = self._step or (float(np.median(self._dts)) if len(self._dts) >= 4 else None)
            if usual:
                dt = min(dt, 4 * usual)
            self.seconds[self._prev[1]] = self.seconds.get(self._prev[1], 0.0) + dt
            self._dts.append(dt)
        self._prev = (t, label)

    def totals(self) -> dict[str, float]:
        """Seconds per label, the last window counted for a typical spacing."""
        seconds = dict(self.seconds)
        if self._prev is not None:
            last = self._step or (float(np.median(self._dts)) if self._dts else self.spacing or 0.0)
            seconds[self._prev[1]] = seconds.get(self._prev[1], 0.0) + last
        return seconds

    def to_dict(self, order: Sequence[str]) -> dict[str, dict[str, float]]:
        return self.merged([self], order)

    @staticmethod
    def merged(tallies: Sequence["LabelTally"], order: Sequence[str]) -> dict[str, dict[str, float]]:
        """Windows, seconds and time shares per label over several tallies (faces): face-seconds."""
        windows: dict[str, int] = {}
        seconds: dict[str, float] = {}
        for t in tallies:
            for lab, n in t.windows.items():
                windows[lab] = windows.get(lab, 0) + n
            for lab, sec in t.totals().items():
                seconds[lab] = seconds.get(lab, 0.0) + sec
        return label_table(windows, seconds, order)


def label_order(classes: Sequence[str]) -> list[str]:
    """The order of summary.json's ``labels``: the model's classes, then neutral, event, warming up, no face."""
    return [*classes, NEUTRAL, EVENT, WARMING, NO_FACE]


def label_table(windows: dict[str, int], seconds: dict[str, float],
                order: Sequence[str]) -> dict[str, dict[str, float]]:
    """summary.json's ``labels``: each label's windows, seconds and share of all the seconds, in ``order`` (any other
    label after them, sorted)."""
    total = sum(seconds.values())
    labels = [x for x in order if x in windows] + sorted(set(windows) - set(order))
    return {lab: {"windows": windows[lab], "seconds": round(seconds.get(lab, 0.0), 3),
                  "share": round(seconds.get(lab, 0.0) / total, 4) if total > 0 else 0.0} for lab in labels}


def row_event_ids(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """events.csv rows (as read) with their ``event_id``: the file's own, or, in a file written before the column
    existed, the row's number (1 for the first data row): the IDs were given in the order the rows were written."""
    return [{**r, "event_id": r.get("event_id") or str(n)} for n, r in enumerate(rows, start=1)]


def read_table(path: str | Path, whole_lines: bool = False) -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows) of a CSV file as mpt-live writes them (a run's predictions.csv and events.csv, a batch's
    videos.csv and failed.csv): the one reader of them, so a file reads the same whichever part of mpt-live reads it.
    UTF-8; a byte-order mark (a spreadsheet's "CSV UTF-8" save adds one) is no part of the first column's name.
    ``whole_lines``: a last line without its line end is left out (a run killed while writing that row: it is not
    whole). OSError, UnicodeDecodeError (not UTF-8) or csv.Error as they come, for the caller to say or pass over."""
    with open_table(path, whole_lines) as (fields, rows):
        return fields, list(rows)


@contextmanager
def open_table(path: str | Path, whole_lines: bool = False) -> Iterator[tuple[list[str], Iterator[dict[str, str]]]]:
    """:func:`read_table`'s (header, rows), the rows read one at a time as they are asked for, while the file is open
    (a long video's predictions.csv is large: its first row, or its highest frame, without a list of all its rows).
    The same rules: a byte-order mark is no part of the first column's name; ``whole_lines``: a last line without
    its line end is left out. Errors as :func:`read_table`'s, the rows' as they are read."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or [])

        def whole() -> Iterator[dict[str, str]]:  # each row once the next is read: the last one is checked
            last = None
            for row in reader:
                if last is not None:
                    yield last
                last = row
            if last is not None:
                with open(path, "rb") as raw:  # the file's last byte: a line end, or the row was cut short
                    raw.seek(-1, os.SEEK_END)
                    if raw.read(1) in (b"\n", b"\r"):
                        yield last

        yield fields, whole() if whole_lines else iter(reader)


def read_event_rows(path: str | Path, whole_lines: bool = True) -> list[dict[str, Any]]:
    """The rows of an events.csv as written (strings), each with its ``event_id`` (:func:`row_event_ids`: an older
    file's, its row's number); a last row a kill cut short is left out unless ``whole_lines`` is False (a run that
    finished wrote every row whole: a last line without its line end there is a re-save's). Errors as
    :func:`read_table`'s."""
    return row_event_ids(read_table(path, whole_lines=whole_lines)[1])


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile, rounded for summary.json; None for no values."""
    a = np.fromiter(values, dtype=np.float64)
    return round(float(np.percentile(a, q)), 2) if a.size else None


def mean_or_none(values: Iterable[float]) -> float | None:
    """The mean, rounded for summary.json; None for no values."""
    a = np.fromiter(values, dtype=np.float64)
    return round(float(a.mean()), 3) if a.size else None
