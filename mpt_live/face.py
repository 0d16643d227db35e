"""Face detection (mediapipe BlazeFace) and similarity alignment to a canonical template.

`FaceAligner.process(frame, t)` detects the largest face, smooths its six BlazeFace keypoints over
time with a One-Euro filter and warps the frame so that the eyes land on fixed template positions.
The same function prepares training clips and live frames, so alignment never differs between them.

Template (S = image_size, x right, y down): eye centre at (0.50 S, 0.37 S), inter-ocular distance
0.32 S, eyes level. The crop then shows the whole face from the forehead to the chin (mouth centre
at ~0.72 S, chin at ~0.9 S on the shared photos) with the ears near the edges. Nose, mouth and ear positions in
`template_keypoints` are the mean BlazeFace layout of frontal faces (measured on the real media in
../shared/data/faces), in units of the inter-ocular distance.

The transform is built from the two eyes only (an exact similarity: eyes to their template spots).
A least-squares fit that adds nose and mouth was measured too and gave more frame-to-frame jitter of
the aligned crop (the mouth keypoint also moves with speech and expressions, which alignment must
not cancel).

Stabilisation (default on, `stabilize=False` to disable): the keypoint transform of each video
frame is refined by an affine ECC registration against a running reference crop of the track
(see mpt_live/stabilize.py): keypoint error that wanders with a slowly moving head would
otherwise be magnified as motion.

Smoothing: a One-Euro filter (Casiez et al., CHI 2012) on the keypoints, time-based, with one
cutoff per frame shared by all keypoints (so the smoothed face keeps its shape) and speed measured
in pixels per second of a 224x224 template (whatever `image_size` is), which makes the defaults
independent of the frame and output resolutions. Defaults
(min_cutoff 0.5 Hz, beta 0.2 per template-px/s, d_cutoff 1 Hz) were tuned on the shared media:
see bench/alignment.py for the figures and their targets.
"""

from __future__ import annotations

import atexit
import math
import os
import weakref
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mpt_live.errors import InputError
from mpt_live.quiet import quiet_fd
from mpt_live.stabilize import Stabilizer
from mpt_live.tracker import DETECT_EVERY, FaceTracker

MODELS = {
    "short": "face_detection_short_range.tflite",  # faces within ~2 m: webcams
    "full": "face_detection_full_range_sparse.tflite",  # small / distant faces: recorded videos
}

# Template geometry as fractions of the image size.
EYE_Y = 0.37
EYE_DISTANCE = 0.32
# Mean BlazeFace layout of a frontal face relative to the eye centre, in inter-ocular distances:
# right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion
# (subject's right = image left).
_LAYOUT = np.array(
    [[-0.5, 0.0], [0.5, 0.0], [0.0, 0.58], [0.0, 1.09], [-1.03, 0.26], [1.03, 0.26]], dtype=np.float64
)
_SPEED_POINTS = 4  # eyes, nose, mouth: the ears are the noisiest keypoints
REFERENCE_SIZE = 224  # smoothing works in pixels of a 224 template, whatever image_size is
_JUMP_IOU = 0.3  # a box overlapping the previous one less than this starts a new track


def template_keypoints(image_size: int) -> np.ndarray:
    """Canonical (6, 2) BlazeFace keypoints in template pixels for an `image_size` square."""
    centre = np.array([0.5, EYE_Y]) * image_size
    return centre + _LAYOUT * (EYE_DISTANCE * image_size)


def assets_dir() -> Path:
    """Folder with the detector models: $MPT_ASSETS, else `assets/` beside the package."""
    env = os.environ.get("MPT_ASSETS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "assets"


def model_path(model: str) -> Path:
    """Path of the BlazeFace model "short" or "full"; InputError when unknown or missing."""
    if model not in MODELS:
        raise InputError(f"face model {model!r}: unknown, expected one of {sorted(MODELS)}")
    path = assets_dir() / MODELS[model]
    if not path.is_file():
        raise InputError(f"{path}: face detector model file not found (set MPT_ASSETS to its folder)")
    return path


def similarity_from_eyes(keypoints: np.ndarray, image_size: int) -> np.ndarray:
    """(2, 3) similarity transform mapping the two eye keypoints onto their template positions."""
    src = np.asarray(keypoints, dtype=np.float64)[:2]
    dst = template_keypoints(image_size)[:2]
    vs, vd = src[1] - src[0], dst[1] - dst[0]
    n = float(vs @ vs)
    if n < 1e-12:
        raise ValueError("eye keypoints coincide")
    # complex-number form: z_dst = (a + ib) z_src + t
    a = float(vs @ vd) / n
    b = float(vs[0] * vd[1] - vs[1] * vd[0]) / n
    rot = np.array([[a, -b], [b, a]])
    t = dst[0] - rot @ src[0]
    return np.hstack([rot, t[:, None]])


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine matrix to (N, 2) points."""
    pts = np.asarray(points, dtype=np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]


class OneEuroFilter:
    """One-Euro filter (Casiez et al. 2012) for an (N, D) array of points, time-based.

    Each update uses one cutoff for all points, `min_cutoff + beta * speed`, where speed is the mean
    norm of the filtered velocity of the first `speed_points` rows (all rows when None), multiplied
    by `scale` (units per input unit, e.g. template px per frame px) so that `beta` and the speed
    are expressed in the caller's units.
    """

    def __init__(self, min_cutoff: float = 0.5, beta: float = 0.2, d_cutoff: float = 1.0,
                 speed_points: int | None = None) -> None:
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.speed_points = speed_points
        self.reset()

    def reset(self) -> None:
        """Forget the state: the next value passes through unchanged."""
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t = 0.0

    @property
    def value(self) -> np.ndarray | None:
        """The current filtered value (None before the first update)."""
        return self._x

    @staticmethod
    def _alpha(cutoff: float, dt: float) -> float:
        tau = 1.0 / (2.0 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        """Filter `x` observed at time `t` (seconds). A non-increasing `t` restarts the filter."""
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or t <= self._t or x.shape != self._x.shape:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return self._x.copy()
        dt = t - self._t
        ad = self._alpha(self.d_cutoff, dt)
        self._dx = ad * ((x - self._x) / dt) + (1.0 - ad) * self._dx
        rows = self._dx.reshape(len(self._dx), -1)[: self.speed_points]
        speed = float(np.linalg.norm(rows, axis=1).mean()) * scale
        a = self._alpha(self.min_cutoff + self.beta * speed, dt)
        self._x = a * x + (1.0 - a) * self._x
        self._t = t
        return self._x.copy()


@dataclass
class FaceResult:
    """One detected, aligned face."""

    box: tuple[int, int, int, int]  # x, y, w, h in frame pixels
    score: float
    keypoints: np.ndarray  # (6, 2) raw BlazeFace keypoints, frame pixels
    smoothed: np.ndarray  # (6, 2) temporally smoothed keypoints, frame pixels
    matrix: np.ndarray  # (2, 3) similarity transform frame -> template
    aligned: np.ndarray  # (S, S, 3) uint8 BGR aligned face
    detected: bool = True  # False: box and keypoints carried from the last detection (mpt_live/tracker.py)


# mediapipe's LiteRT prints INFO lines (accelerator registry, XNNPACK) and absl a one-off "Input tensor
# memory is not aligned" warning straight to file descriptor 2 when a detector is created, first run and
# closed. GLOG_minloglevel / TF_CPP_MIN_LOG_LEVEL / GOOGLE_STDERRTHRESHOLD do not affect them (tested
# with mediapipe 1.2), so fd 2 is pointed at /dev/null around exactly those calls (quiet_fd).


_OPEN: weakref.WeakSet[FaceAligner] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    # mediapipe's own __del__ fails at interpreter shutdown; close forgotten aligners before it.
    for aligner in list(_OPEN):
        aligner.close()


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _as_bgr(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise ValueError(f"expected an HxW, HxWx3 or HxWx4 image, got shape {image.shape}")


class FaceAligner:
    """Detect the largest face, smooth its keypoints over time and align it to the template.

    Use as a context manager (or call `close()`) to release the mediapipe detectors.
    `process` is for video frames (VIDEO mode, smoothing); `process_image` for single photos.
    """

    def __init__(self, image_size: int = 224, model: str = "short", min_confidence: float = 0.5,
                 smooth: bool = True, min_cutoff: float = 0.5, beta: float = 0.2,
                 d_cutoff: float = 1.0, stabilize: bool = True, detect_every: int = DETECT_EVERY) -> None:
        self._video = self._image = None
        self.image_size = int(image_size)
        self.model = model
        self.min_confidence = float(min_confidence)
        self.smooth = smooth
        self._path = model_path(model)
        self._filter = OneEuroFilter(min_cutoff, beta, d_cutoff, speed_points=_SPEED_POINTS)
        self._first_call: set[int] = set()
        self._last_ms = -1
        self._prev_box: tuple[int, int, int, int] | None = None
        self._stabilizer = Stabilizer(self.image_size) if stabilize else None
        # tracking between detections rides on the stabiliser's registration: without it, detect every frame
        self._tracker = FaceTracker(detect_every if stabilize else 1)
        self._video = self._create(video=True)
        _OPEN.add(self)

    # -- mediapipe --
    def _create(self, video: bool):
        from mediapipe.tasks.python import BaseOptions, vision

        mode = vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE
        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_path=str(self._path)),
            running_mode=mode,
            min_detection_confidence=self.min_confidence,
        )
        with quiet_fd(2):
            return vision.FaceDetector.create_from_options(options)

    def _detect(self, detector, image_bgr: np.ndarray, timestamp_ms: int | None):
        import mediapipe as mp

        rgb = np.ascontiguousarray(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))
        mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        run = (lambda: detector.detect(mp_image)) if timestamp_ms is None else (
            lambda: detector.detect_for_video(mp_image, timestamp_ms))
        if id(detector) in self._first_call:
            return run().detections
        with quiet_fd(2):  # the first inference logs a memory-alignment warning
            result = run()
        self._first_call.add(id(detector))
        return result.detections

    def _largest(self, detections, shape: tuple[int, ...]):
        if not detections:
            return None
        det = max(detections, key=lambda d: d.bounding_box.width * d.bounding_box.height)
        h, w = shape[:2]
        bb = det.bounding_box
        box = (int(bb.origin_x), int(bb.origin_y), int(bb.width), int(bb.height))
        kps = np.array([[k.x * w, k.y * h] for k in det.keypoints], dtype=np.float64)
        score = float(det.categories[0].score) if det.categories else 0.0
        return box, score, kps

    def _result(self, image_bgr, box, score, kps, smoothed, t: float | None = None) -> FaceResult:
        matrix = similarity_from_eyes(smoothed, self.image_size)
        if t is not None and self._stabilizer is not None:
            matrix = self._stabilizer.refine(image_bgr, matrix, t)
        aligned = cv2.warpAffine(image_bgr, matrix, (self.image_size, self.image_size),
                                 flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return FaceResult(box=box, score=score, keypoints=kps, smoothed=smoothed, matrix=matrix,
                          aligned=aligned)

    # -- public --
    def process(self, frame_bgr: np.ndarray, t: float) -> FaceResult | None:
        """Detect, smooth and align the largest face of a video frame taken at `t` seconds.

        `t` should increase; a non-increasing `t` restarts the smoothing (seek or loop). Returns None
        (and forgets the track) when no face is found.
        """
        if self._video is None:
            raise RuntimeError("FaceAligner is closed")
        frame = _as_bgr(frame_bgr)
        ms = max(int(round(t * 1000.0)), self._last_ms + 1)  # mediapipe needs strictly increasing ms
        self._last_ms = ms
        if not self._tracker.due():
            res = self._follow(frame, float(t))
            if res is not None:
                return res
        found = self._largest(self._detect(self._video, frame, ms), frame.shape)
        if found is None or np.linalg.norm(found[2][1] - found[2][0]) < 1e-6:
            self.reset()
            return None
        box, score, kps = found
        if self._prev_box is not None and _iou(box, self._prev_box) < _JUMP_IOU:
            self._filter.reset()
            if self._stabilizer is not None:
                self._stabilizer.reset()
        self._prev_box = box
        res = self._result(frame, box, score, kps, self._smooth(kps, float(t)), float(t))
        self._tracker.detected(box, score, kps, res.matrix)
        return res

    def _smooth(self, kps: np.ndarray, t: float) -> np.ndarray:
        if not self.smooth:
            return kps.copy()
        prev = self._filter.value
        iod = np.linalg.norm(prev[1] - prev[0]) if prev is not None else np.linalg.norm(kps[1] - kps[0])
        scale = EYE_DISTANCE * REFERENCE_SIZE / max(float(iod), 1e-6)  # 224-template px per frame px
        return self._filter(kps, t, scale=scale)

    def _follow(self, frame: np.ndarray, t: float) -> FaceResult | None:
        """A frame without detection: register it from the last smoothed keypoints and carry the track
        along the registered motion; None when tracking fails (the caller detects)."""
        assert self._stabilizer is not None and self._tracker.track is not None
        start = self._filter.value if self.smooth and self._filter.value is not None else self._tracker.track.keypoints
        matrix = self._stabilizer.refine(frame, similarity_from_eyes(start, self.image_size), t, restart=False)
        track = self._tracker.follow(matrix, frame.shape) if matrix is not None else None
        if track is None:
            return None
        self._prev_box = track.box
        aligned = cv2.warpAffine(frame, matrix, (self.image_size, self.image_size), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)
        return FaceResult(box=track.box, score=track.score, keypoints=track.keypoints,
                          smoothed=self._smooth(track.keypoints, t), matrix=matrix, aligned=aligned, detected=False)

    def process_image(self, image_bgr: np.ndarray) -> FaceResult | None:
        """Detect and align the largest face of a single photo (no smoothing)."""
        if self._video is None:
            raise RuntimeError("FaceAligner is closed")
        image = _as_bgr(image_bgr)
        if self._image is None:
            self._image = self._create(video=False)
        found = self._largest(self._detect(self._image, image, None), image.shape)
        if found is None or np.linalg.norm(found[2][1] - found[2][0]) < 1e-6:
            return None
        box, score, kps = found
        return self._result(image, box, score, kps, kps.copy())

    def reset(self) -> None:
        """Forget the track: the next frame starts smoothing afresh."""
        self._filter.reset()
        self._prev_box = None
        self._tracker.reset()
        if self._stabilizer is not None:
            self._stabilizer.reset()

    def close(self) -> None:
        """Release the mediapipe detectors (idempotent)."""
        detectors = [d for d in (self._video, self._image) if d is not None]
        self._video = self._image = None
        if detectors:
            with quiet_fd(2):
                for d in detectors:
                    d.close()
        _OPEN.discard(self)

    def __enter__(self) -> FaceAligner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass
