"""One face track's alignment: its keypoints smoothed, its crop stabilised and warped to the template.

:class:`TrackAligner` keeps the state of one track between frames: the One-Euro filter of its keypoints
(:mod:`mpt_live.smoothing`), the eyes-mouth shape correction it follows slowly (:mod:`mpt_live.face_template`),
the ECC stabiliser (:mod:`mpt_live.stabilize`) and the follower that carries the face between detections
(:mod:`mpt_live.tracker`). Detection is :mod:`mpt_live.face`; :func:`warp_face` makes the aligned crop (and the
spotter's grey face) of a frame from a transform.
"""

from __future__ import annotations

import cv2
import numpy as np

from mpt_live.clip import ALIGN_MODES
from mpt_live.face_confirm import iou
from mpt_live.face_template import EYE_DISTANCE, ShapeFollower, compose, similarity_from_eyes
from mpt_live.face_types import Detection, FaceResult
from mpt_live.frame_warp import AlphaBuffer, AlphaFrame, linear_warp
from mpt_live.smoothing import OneEuroFilter
from mpt_live.stabilize import Stabilizer
from mpt_live.tracker import DETECT_EVERY, Follower

_SPEED_POINTS = 4  # eyes, nose, mouth: the ears are the noisiest keypoints
REFERENCE_SIZE = 224  # smoothing works in pixels of a 224 template, whatever image_size is
MOTION_SIZE = 112  # the spotter's grey face (mpt_live/facemotion.py)
STABILIZE_MIN_SIZE = REFERENCE_SIZE  # the registration works on a crop at least this large (half: ECC's image)
_JUMP_IOU = 0.3  # a box overlapping the previous one less than this starts a new track


class TrackAligner:
    """One face track's alignment: One-Euro smoothing of its keypoints, ECC stabilisation, the warp, and
    following the face between detections (:meth:`follow`, when :meth:`due` is False).

    :class:`FaceAligner` keeps one for its largest face; :mod:`mpt_live.tracks` one per tracked face.
    A box that overlaps the previous one less than ``_JUMP_IOU`` restarts the smoothing.
    """

    def __init__(self, image_size: int = 224, smooth: bool = True, min_cutoff: float = 0.5, beta: float = 0.2,
                 d_cutoff: float = 1.0, stabilize: bool = True, detect_every: int = DETECT_EVERY,
                 motion_crop: bool = False, align: str = "eyes", alpha: AlphaBuffer | None = None) -> None:
        if align not in ALIGN_MODES:
            raise ValueError(f"align must be one of {', '.join(ALIGN_MODES)}, got {align!r}")
        self.image_size = int(image_size)
        self.align_mode = align
        self._shape = ShapeFollower(self.image_size)  # eyes-mouth: the track's correction
        self.smooth = smooth
        self.motion_crop = motion_crop  # also make the spotter's face (FaceResult.motion, _motion_matrix)
        self._filter = OneEuroFilter(min_cutoff, beta, d_cutoff, speed_points=_SPEED_POINTS)
        self._prev_box: tuple[int, int, int, int] | None = None
        # a smaller model's crop registers too coarsely for the spotter's 224 warp (a 112 px model: a 56 px ECC
        # image) and the magnification: the registration runs at STABILIZE_MIN_SIZE, its transform scaled back
        self._stab_k = max(STABILIZE_MIN_SIZE / self.image_size, 1.0)
        self._stabilizer = Stabilizer(round(self.image_size * self._stab_k)) if stabilize else None
        # following between detections rides on the stabiliser's registration: without it, detect every frame
        self.follower = Follower(detect_every if stabilize else 1)
        # the frames' BGRA copies (with_alpha), in a buffer kept from frame to frame: ``alpha``, the one its face
        # aligner's tracks share (FaceAligner.track_aligner), else its own
        self.alpha = AlphaBuffer() if alpha is None else alpha

    def due(self) -> bool:
        """True when this track's next frame must be detected (no track yet, or its detection is due)."""
        return self.follower.due()

    def align(self, frame_bgr: np.ndarray, det: Detection, t: float) -> FaceResult:
        """Smooth ``det``'s keypoints (video time ``t``), stabilise and warp the frame to the template."""
        box, score, kps = det.box, det.score, det.keypoints
        if self._prev_box is not None and iou(box, self._prev_box) < _JUMP_IOU:
            self._filter.reset()
            self._shape.reset()
            if self._stabilizer is not None:
                self._stabilizer.reset()
        self._prev_box = box
        smoothed = self._smooth(kps, float(t))
        matrix = self._template_transform(smoothed, float(t))
        frame = self._with_alpha(frame_bgr)
        if self._stabilizer is not None:
            matrix = self._refine(frame, matrix, float(t))
        self.follower.detected(box, score, kps, matrix)
        return warp_face(frame, box, score, kps, smoothed, matrix, self.image_size, self._motion_matrix(matrix))

    def follow(self, frame_bgr: np.ndarray, t: float) -> FaceResult | None:
        """A frame without detection: register it from the last smoothed keypoints and carry the track
        along the registered motion; None when following fails (the caller detects)."""
        carried = self.follower.track
        if self._stabilizer is None or carried is None:
            return None
        start = self._filter.value if self.smooth and self._filter.value is not None else carried.keypoints
        frame = self._with_alpha(frame_bgr)
        matrix = self._refine(frame, self._template_transform(start), float(t), restart=False)
        track = self.follower.follow(matrix, frame_bgr.shape) if matrix is not None else None
        if track is None:
            return None
        self._prev_box = track.box
        res = warp_face(frame, track.box, track.score, track.keypoints, self._smooth(track.keypoints, float(t)),
                    matrix, self.image_size, self._motion_matrix(matrix))
        res.detected = False
        return res

    @property
    def stabilizer(self) -> Stabilizer | None:
        """The track's stabiliser (None: stabilisation off): ``--resume`` saves and restores its reference."""
        return self._stabilizer

    def _with_alpha(self, frame_bgr: np.ndarray) -> np.ndarray | AlphaFrame:
        """The frame for this call's warps (:func:`with_alpha`), in the shared buffer."""
        return with_alpha(frame_bgr, self.alpha)

    def _refine(self, frame_bgr: np.ndarray, matrix: np.ndarray, t: float, restart: bool = True) -> np.ndarray | None:
        """The stabiliser's refinement of ``matrix`` (frame -> crop), run at its own crop size."""
        k = self._stab_k  # 1 (a model of 224 px or more): no scaling, the same numbers without two array operations
        refined = self._stabilizer.refine(frame_bgr, matrix * k if k != 1.0 else matrix, t, restart=restart)
        return refined if refined is None or k == 1.0 else refined / k

    def _template_transform(self, kps: np.ndarray, t: float | None = None) -> np.ndarray:
        """Frame -> template: the eyes' similarity, then (eyes-mouth) the track's shape correction (updated
        with ``kps`` when ``t`` is given: :class:`ShapeFollower`)."""
        matrix = similarity_from_eyes(kps, self.image_size)
        return matrix if self.align_mode == "eyes" else compose(self._shape.update(kps, t), matrix)

    def _motion_matrix(self, matrix: np.ndarray) -> np.ndarray | None:
        """With motion_crop, the transform of the spotter's face: ``matrix`` without the shape correction (the
        spotter's regions and gates were made on eyes-aligned faces; with the correction its macro scale
        reported more of the talking faces' own movements). None: no spotter's face."""
        if not self.motion_crop:
            return None
        return matrix if self.align_mode == "eyes" else compose(self._shape.inverse(), matrix)

    def _smooth(self, kps: np.ndarray, t: float) -> np.ndarray:
        if not self.smooth:
            return kps.copy()
        prev = self._filter.value
        iod = np.linalg.norm(prev[1] - prev[0]) if prev is not None else np.linalg.norm(kps[1] - kps[0])
        scale = EYE_DISTANCE * REFERENCE_SIZE / max(float(iod), 1e-6)  # 224-template px per frame px
        return self._filter(kps, t, scale=scale)

    def reset(self) -> None:
        """Forget the track: the next frame detects and starts smoothing afresh."""
        self._filter.reset()
        self._prev_box = None
        self._shape.reset()
        self.follower.reset()
        if self._stabilizer is not None:
            self._stabilizer.reset()


def with_alpha(frame_bgr: np.ndarray, alpha: AlphaBuffer | None = None) -> np.ndarray | AlphaFrame:
    """A uint8 BGR frame as an :class:`~mpt_live.frame_warp.AlphaFrame` (its BGRA copy in ``alpha``'s buffer, made
    where the warps read it), anything else as it is. On bench/pipeline.py's clip the stabiliser's grey crop and
    :func:`warp_face` cost 0.61 instead of 1.07 ms CPU a frame with it, and its face stage 3.51 instead of 4.02 ms
    (thread and process time, 6 rounds each, interleaved in one process, a loaded machine)."""
    if frame_bgr.ndim == 3 and frame_bgr.shape[2] == 3 and frame_bgr.dtype == np.uint8:
        return (AlphaBuffer() if alpha is None else alpha).frame(frame_bgr)
    return frame_bgr


def warp_face(image_bgr: np.ndarray, box, score: float, kps: np.ndarray, smoothed: np.ndarray, matrix: np.ndarray,
          size: int, motion_matrix: np.ndarray | None = None) -> FaceResult:
    """The aligned face (BGR, ``size`` px) of ``image_bgr`` (an image, or a BGR frame's :func:`with_alpha`) under
    ``matrix``, and with ``motion_matrix`` the spotter's grey face."""
    aligned = linear_warp(image_bgr, matrix, size)
    four = aligned.ndim == 3 and aligned.shape[2] == 4
    if four:
        aligned = cv2.cvtColor(aligned, cv2.COLOR_BGRA2BGR)
    motion = None
    # the spotter's face (motion_matrix given): a 224 warp, area-averaged (a 112 warp aliases); None when it is
    # the aligned face itself. Made grey after the warp: grey first (only the region sampled, one channel warped)
    # cost 0.74-0.78 of this warp's CPU within a grey level, but the spotter's gates flip on such rounding: on
    # paddlegan_fom_dv the echo gate dropped 2 of its 4 events (issue 14, not kept)
    if motion_matrix is not None and (size < REFERENCE_SIZE or not np.array_equal(motion_matrix, matrix)):
        big = linear_warp(image_bgr, motion_matrix * (REFERENCE_SIZE / size), REFERENCE_SIZE)
        grey = cv2.cvtColor(big, cv2.COLOR_BGRA2GRAY if four else cv2.COLOR_BGR2GRAY)
        motion = cv2.resize(grey, (MOTION_SIZE, MOTION_SIZE), interpolation=cv2.INTER_AREA)
    return FaceResult(box=box, score=score, keypoints=kps, smoothed=smoothed, matrix=matrix, aligned=aligned,
                      motion=motion)
