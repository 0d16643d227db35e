"""What the face stage hands on: a detector's face (:class:`Detection`) and an aligned face
(:class:`FaceResult`); made by :mod:`mpt_live.face`, read by the trackers, the session and the tiles."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Detection:
    """One face found by the detector in a frame (before any tracking)."""

    box: tuple[int, int, int, int]  # x, y, w, h in frame pixels
    score: float
    keypoints: np.ndarray  # (6, 2) raw BlazeFace keypoints, frame pixels
    close_up: bool = False  # a small face looked at again in a square around it (mpt_live.tiles.closer), found or not

    @property
    def area(self) -> int:
        return self.box[2] * self.box[3]


@dataclass
class FaceResult:
    """One detected, aligned face."""

    box: tuple[int, int, int, int]  # x, y, w, h in frame pixels
    score: float
    keypoints: np.ndarray  # (6, 2) raw BlazeFace keypoints, frame pixels
    smoothed: np.ndarray  # (6, 2) temporally smoothed keypoints, frame pixels
    matrix: np.ndarray  # (2, 3) transform frame -> template (eyes similarity [+ shape correction], stabilised)
    aligned: np.ndarray  # (S, S, 3) uint8 BGR aligned face
    detected: bool = True  # False: box and keypoints carried from the last detection (mpt_live/tracker.py)
    # with motion_crop: the spotter's 112 grey face, a 224 warp area-averaged, eyes-aligned (None: from aligned)
    motion: np.ndarray | None = None
