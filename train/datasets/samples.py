"""A dataset as the trainer sees it: one Sample per micro-expression, the DatasetIndex of a dataset."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mpt_live.framenames import natural as natural_key  # noqa: F401  (the readers' sort key, one for the project)

AUTO_ALIGNED = "no cropped faces in the layout: raw frames aligned (--faces auto)"


@dataclass
class Sample:
    """One micro-expression: a clip folder's frames and its annotation (indices into ``frames``)."""

    subject: str
    clip_id: str
    frames: list[Path]
    onset: int
    apex: int
    offset: int
    label: str
    fps: float
    dataset: str

    @property
    def name(self) -> str:
        """``dataset/subject/clip_id``: unique within a dataset, used in messages and logs."""
        return f"{self.dataset}/{self.subject}/{self.clip_id}"


@dataclass
class DatasetIndex:
    """The samples of one dataset, its fixed class order and the per-reason counts of dropped rows."""

    samples: list[Sample]
    classes: list[str]
    dropped: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)   # e.g. errata applied, apex estimated
    name: str = ""
    warnings: list[str] = field(default_factory=list)  # one line each, e.g. a class with very few clips
    cropped: bool = False   # frames are the dataset's cropped faces, used as they are (no re-alignment)

    def __post_init__(self) -> None:
        """The ``--faces auto`` note (:func:`train.datasets.files.pick_frames` sets it, 0, before any clip is read)
        counted as the clips it covers: all of the index's. Here, where every reader's result (and each part of the
        composite, which reads its parts without :func:`train.datasets.load_dataset`) is made, so no reader has to."""
        if AUTO_ALIGNED in self.notes:
            self.notes[AUTO_ALIGNED] = len(self.samples)

    @property
    def subjects(self) -> list[str]:
        """Subjects in natural order (``sub2`` before ``sub10``)."""
        return sorted({s.subject for s in self.samples}, key=natural_key)

    def counts(self) -> dict[str, int]:
        """Samples per class, in class order."""
        c = Counter(s.label for s in self.samples)
        return {k: c.get(k, 0) for k in self.classes}
