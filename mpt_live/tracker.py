"""Detect every k frames, track in between: the detection schedule of the face stage.

BlazeFace is the dearest step of the face stage. Between detections the face is followed by the
ECC registration that the stabiliser runs on every frame anyway (:mod:`mpt_live.stabilize`): the
refined transforms of two consecutive frames say how the face moved from one to the other, and
the last detection's keypoints and box are carried along that motion. A detection runs every
``every`` frames, and at once when following fails (the registration fails, or jumps further than
the stabiliser allows), so carried keypoints never drift for long.

Tried for issue 14 and not kept: detecting less often while a track is steady (every 8 frames while each frame
followed since the last detection registered with an ECC correlation >= 0.85, moved <= 2 % of its box's width and
kept a quarter of that width inside the frame; every 4 otherwise, at once on trouble; every 4 while a face is
tentative). The face stage's CPU on bench/pipeline.py's loop (process time, paired): 0.90 of today's on
retalking_3_talking (detector runs 0.258 -> 0.165 a frame; a fixed 8: 0.90-0.91 there and on
liveportrait_d3_expressive). But the aligned faces moved (2.6-5.7 template px mean between the schedules, as far as
detection on every frame lies from this one's: 5.3; the stabiliser's reference follows a different path) and the
session's outputs with them: on paddlegan_fom_dv (runs 0.252 -> 0.211) the top class changed in 1.2 % of the windows
and a fifth event appeared (28.8 s, macro disgust); a fixed 8 changed 2.2 % there and 18 % on liveportrait_d3_expressive
(events 4 -> 5, 2 -> 1).

:class:`Follower` only keeps one face's schedule and carried track; :class:`mpt_live.track_align.TrackAligner`
follows the face, and :class:`mpt_live.face.FaceAligner` (largest face) or
:class:`mpt_live.tracks.FaceTracker` (every face) decide when a frame is detected.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

DETECT_EVERY = 4  # frames per detection on video (1: every frame); training and serving share it


@dataclass
class Carried:
    """The face as last detected, carried to the current frame."""

    box: tuple[int, int, int, int]  # x, y, w, h in frame pixels
    score: float  # the last detection's score
    keypoints: np.ndarray  # (6, 2) frame pixels
    matrix: np.ndarray  # (2, 3) frame -> template transform of the frame the track is at


_ROW = np.array([[0.0, 0.0, 1.0]])


def _h(m: np.ndarray) -> np.ndarray:
    return np.concatenate((m, _ROW))  # np.vstack's values at a third of its CPU


def frame_motion(prev_matrix: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(2, 3) map of points of the previous frame to the current one, given both frames' frame ->
    template transforms: the same template point, p' = M^-1 M_prev p."""
    return cv2.invertAffineTransform(matrix) @ _h(prev_matrix)  # M^-1 in closed form: np.linalg.inv's 3x3 cost more


def move_box(box: tuple[int, int, int, int], motion: np.ndarray) -> tuple[int, int, int, int]:
    """The axis-aligned box around ``box``'s corners moved by ``motion`` (2, 3)."""
    # plain Python on the four corners (numpy's arrays and reductions for them: 3x the CPU, 15 against 5 us a call)
    x, y, w, h = box
    (a, b, c), (d, e, f) = np.asarray(motion, np.float64).tolist()
    corners = ((x, y), (x + w, y), (x, y + h), (x + w, y + h))
    xs = [a * u + b * v + c for u, v in corners]
    ys = [d * u + e * v + f for u, v in corners]
    x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
    return int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0))


class Follower:
    """The detection schedule and carried track of one face: :meth:`due` says whether this frame must detect."""

    def __init__(self, every: int = DETECT_EVERY) -> None:
        if int(every) < 1:
            raise ValueError(f"detect every {every} frames: must be >= 1")
        self.every = int(every)
        self.track: Carried | None = None
        self._since = 0  # frames since the last detection
        self.detections = 0
        self.tracked = 0

    def due(self) -> bool:
        """True when this frame must run the detector (no track, or ``every`` frames since the last)."""
        return self.track is None or self._since >= self.every

    def detected(self, box: tuple[int, int, int, int], score: float, keypoints: np.ndarray,
                 matrix: np.ndarray) -> None:
        """A detection on this frame (``matrix``: its final frame -> template transform)."""
        self.track = Carried(box, score, np.asarray(keypoints, np.float64).copy(), matrix.copy())
        self._since = 1
        self.detections += 1

    def follow(self, matrix: np.ndarray, frame_shape: tuple[int, ...]) -> Carried | None:
        """Carry the track to this frame, whose refined transform is ``matrix``; None (and no track)
        when the carried box has left the frame."""
        tr = self.track
        if tr is None:
            return None
        motion = frame_motion(tr.matrix, matrix)
        box = move_box(tr.box, motion)
        h, w = frame_shape[:2]
        cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
        if not (0 <= cx < w and 0 <= cy < h):
            self.reset()
            return None
        kps = tr.keypoints @ motion[:, :2].T + motion[:, 2]
        self.track = Carried(box, tr.score, kps, matrix.copy())
        self._since += 1
        self.tracked += 1
        return self.track

    def reset(self) -> None:
        """Forget the track: the next frame detects."""
        self.track = None
        self._since = 0
