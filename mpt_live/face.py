"""Face detection (mediapipe BlazeFace) and alignment to a canonical template (eyes, and optionally mouth).

`FaceAligner.process(frame, t)` detects the face (the one tracked or the largest confident one: a faint newcomer
only once confirmed, :mod:`mpt_live.face_confirm`), smooths its six BlazeFace keypoints over time with a One-Euro
filter and warps the frame so that the eyes land on fixed template positions.
The same function prepares training clips and live frames, so alignment never differs between them.

Template and its geometry: :mod:`mpt_live.face_template` (eye centre at (0.50 S, 0.37 S), inter-ocular
distance 0.32 S; the crop shows the whole face from the forehead to the chin).

The transform is the similarity that puts the two eyes on their template spots; with ``align=
"eyes-mouth"`` (``ClipSpec.align``, new models) a vertical scale and shear then put the mouth on its
spot too, so every face's brows, mouth and chin fall in the same cells whatever its proportions or
turn. That correction belongs to the face, not the frame: each track starts with its first frame's
and follows slowly (``SHAPE_TAU_S``); refitted every frame it would cancel part of the mouth's own
movements (speech, expressions), as a per-frame least-squares fit of nose and mouth did (more jitter).

Stabilisation (default on, `stabilize=False` to disable): the keypoint transform of each video
frame is refined by an affine ECC registration against a running reference crop of the track
(see mpt_live/stabilize.py): keypoint error that wanders with a slowly moving head would
otherwise be magnified as motion.

Detection schedule (video): BlazeFace runs every ``DETECT_EVERY`` frames; in between, a track
follows its face with the stabiliser's registration (:mod:`mpt_live.tracker`), and a frame whose
registration fails is detected at once. Without stabilisation every frame is detected.

Smoothing: a One-Euro filter on the keypoints (:mod:`mpt_live.smoothing`); see bench/alignment.py for
the figures behind its defaults.

Detection cost (issue 14): a call costs ~2.1 ms CPU on a 590 px frame, ~0.5 of it in the calling thread and the
rest in mediapipe's own threads, which the Tasks API does not let us set (mediapipe 1.2's BaseOptions has the model
and the delegate only). Tried and not kept: detecting on the frame downscaled to 256 or 384 px: the call itself
0.90-1.00 of the full frame's CPU, 1.02-1.13 with a linear resize before it (1.5-1.9 with an area resize), and the
keypoints moved 0.27-1.12 px (mean, 224 template px; raw BlazeFace jitter is ~0.35). Measured again (2026-12-07, a
loaded machine, 400 calls on retalking_3_talking, each thread's CPU from /proc): 1.65-1.78 ms a call, 0.24-0.25 in the
calling thread (the RGB copy ~24 us, mp.Image ~45 us), the rest in two mediapipe executor threads (0.78 and 0.63 ms):
the inference itself, on one XNNPACK thread (the Tasks default off mobile: no pool to spin), and no thread count to set
(google-ai-edge/mediapipe issue 6151, pull request 6322 unmerged). The frame resized to 128 px by us first (linear):
1.651 against 1.649 ms a call (7 rounds alternating, medians), so mediapipe's own resize costs nothing to win.
"""

from __future__ import annotations

import atexit
import os
import weakref
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from mpt_live.face_template import (  # noqa: F401  (re-exported: the template is part of this module's API)
    EYE_DISTANCE,
    EYE_Y,
    SHAPE_TAU_S,
    ShapeFollower,
    compose,
    shape_correction,
    similarity_from_eyes,
    template_keypoints,
    transform_points,
)
from mpt_live.blazeface import Lent, borrow, give_back
from mpt_live.errors import InputError
from mpt_live.face_confirm import CONFIRM_S, OneFace, photo_face
from mpt_live.face_types import Detection, FaceResult  # noqa: F401  (part of this module's API)
from mpt_live.frame_warp import AlphaBuffer
from mpt_live.tiles import (TILE_EVERY_S, closer, is_wide, merge_tiles, small_face, small_in_frame,
                           squares_of)
from mpt_live.track_align import MOTION_SIZE, REFERENCE_SIZE, STABILIZE_MIN_SIZE  # noqa: F401  (re-exported: part of this module's API)
from mpt_live.track_align import TrackAligner, warp_face
from mpt_live.tracker import DETECT_EVERY

MODELS = {
    "short": "face_detection_short_range.tflite",  # faces within ~2 m: webcams
    "full": "face_detection_full_range_sparse.tflite",  # small / distant faces: recorded videos
}



def assets_dir() -> Path:
    """Folder with the detector models: $MPT_ASSETS, else the package's own `mpt_live/assets/` (package data,
    so installed wheels carry it too)."""
    env = os.environ.get("MPT_ASSETS")
    return Path(env) if env else Path(__file__).resolve().parent / "assets"


def model_path(model: str) -> Path:
    """Path of the BlazeFace model "short" or "full"; InputError when unknown or missing."""
    if model not in MODELS:
        raise InputError(f"face model {model!r}: unknown, expected one of {sorted(MODELS)}")
    path = assets_dir() / MODELS[model]
    if not path.is_file():
        raise InputError(f"{path}: face detector model file not found (set MPT_ASSETS to its folder)")
    return path


# mediapipe's LiteRT prints INFO lines (accelerator registry, XNNPACK) and absl a one-off "Input tensor
# memory is not aligned" warning straight to file descriptor 2 when a detector is created, first run and
# closed. GLOG_minloglevel / TF_CPP_MIN_LOG_LEVEL / GOOGLE_STDERRTHRESHOLD do not affect them (tested
# with mediapipe 1.2), so fd 2 is pointed at /dev/null around the creation, with first detections of blank
# pictures, and the close (mpt_live.blazeface: quiet_fd); a run's own detections hold fd 2 only until the one-off
# warning has come, passing on the rest (blazeface.watched: mostly it came at the first blank picture).


_OPEN: weakref.WeakSet[FaceAligner] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    # forgotten aligners give their detectors back at exit, so none of them acts in a finaliser later; the detectors
    # themselves were closed before this by mpt_live.blazeface.close_all, a threading exit hook (those run before
    # atexit functions: mediapipe's own finaliser fails at interpreter shutdown)
    for aligner in list(_OPEN):
        aligner.close()


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
                 d_cutoff: float = 1.0, stabilize: bool = True, detect_every: int = DETECT_EVERY,
                 motion_crop: bool = False, align: str = "eyes", confirm_s: float = CONFIRM_S) -> None:
        self._video = self._image = None
        self.image_size = int(image_size)
        self.model = model
        self.min_confidence = float(min_confidence)
        self.smooth = smooth
        self._path = model_path(model)
        self._track_args = dict(image_size=self.image_size, smooth=smooth, min_cutoff=min_cutoff, beta=beta,
                                d_cutoff=d_cutoff, stabilize=stabilize, detect_every=detect_every,
                                motion_crop=motion_crop, align=align, alpha=AlphaBuffer())  # its tracks' BGRA buffer
        self._track = self.track_aligner()
        self._one = OneFace(confirm_s)  # which detection is the face (a faint newcomer once confirmed: face_confirm)
        self._last_ms = -1
        self._tiled_t = -float("inf")  # time of the last tile search (process)
        self._video = self._create(video=True)
        _OPEN.add(self)

    # -- mediapipe --
    def _create(self, video: bool) -> Lent:
        return borrow(self._path, video, self.min_confidence)  # built once per process (mpt_live.blazeface)

    def _detect(self, detector, image_bgr: np.ndarray, timestamp_ms: int | None):
        import mediapipe as mp

        rgb = np.ascontiguousarray(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))
        mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        run = (lambda: detector.detect(mp_image)) if timestamp_ms is None else (
            lambda: detector.detect_for_video(mp_image, timestamp_ms))
        return run().detections  # fd 2 held only until absl's one-off lines have come (blazeface.watched)

    @staticmethod
    def _detections(detections, shape: tuple[int, ...]) -> list[Detection]:
        """mediapipe detections -> usable :class:`Detection` objects (eyes apart), largest first."""
        h, w = shape[:2]
        out = []
        for det in detections or ():
            bb = det.bounding_box
            kps = np.array([[k.x * w, k.y * h] for k in det.keypoints], dtype=np.float64)
            if np.linalg.norm(kps[1] - kps[0]) < 1e-6:
                continue
            score = float(det.categories[0].score) if det.categories else 0.0
            out.append(Detection((int(bb.origin_x), int(bb.origin_y), int(bb.width), int(bb.height)), score, kps))
        return sorted(out, key=lambda d: -d.area)

    # -- public --
    def detect(self, frame_bgr: np.ndarray, t: float) -> list[Detection]:
        """Every face of a video frame taken at `t` seconds, largest first (no smoothing, no tracking)."""
        if self._video is None:
            raise RuntimeError("FaceAligner is closed")
        frame = _as_bgr(frame_bgr)
        ms = max(int(round(t * 1000.0)), self._last_ms + 1)  # mediapipe needs strictly increasing ms
        self._last_ms = ms
        found = self._detections(self._detect(self._video, frame, ms), frame.shape)
        # a small face's keypoints (and box) from a square around it, where it is not at the edge of the detector's
        # range: seen in the whole frame, its keypoints are loose (mpt_live.tiles.CLOSER_SIDE), and it was aligned so;
        # small against the whole frame squeezed to the detector's square, a wide one's too (tiles.small_in_frame)
        return [closer(d, frame, self.detect_image) if small_in_frame(d.box, frame.shape) else d for d in found]

    def detect_tiles(self, frame_bgr: np.ndarray, found: list[Detection],
                     near: Sequence[tuple[int, int, int, int]] = ()) -> list[Detection]:
        """``found`` (the frame's whole-frame detections) and the faces found only in square tiles of the
        frame (:mod:`mpt_live.tiles`: a wide frame squeezes its faces below what the detector sees); ``near``: the
        boxes of faces looked for, whose tiles alone are searched (:func:`~mpt_live.tiles.squares_of`), all if empty."""
        if self._video is None:
            raise RuntimeError("FaceAligner is closed")
        if self._image is None:
            self._image = self._create(video=False)
        frame = _as_bgr(frame_bgr)
        merged = merge_tiles(found, frame, lambda im: self._detections(self._detect(self._image, im, None), im.shape),
                             squares_of(frame.shape, near) if near else None)
        # a small face found only in a tile is aligned with close-up keypoints too (found's own: by detect)
        kept = {id(d) for d in found}
        return [closer(d, frame, self.detect_image) if id(d) not in kept and not d.close_up
                and small_face(d.box, frame.shape) else d for d in merged]

    def track_aligner(self) -> TrackAligner:
        """A new per-track aligner with this aligner's template, smoothing and stabilisation settings."""
        return TrackAligner(**self._track_args)

    def process(self, frame_bgr: np.ndarray, t: float) -> FaceResult | None:
        """Detect, smooth and align the face of a video frame taken at `t` seconds: the one tracked or the largest
        confident one; a faint newcomer once confirmed (:mod:`mpt_live.face_confirm`, the session's rule).

        `t` should increase; a non-increasing `t` restarts the smoothing (seek or loop). Returns None
        (and forgets the track) when no face is found.
        """
        frame = _as_bgr(frame_bgr)
        if not self._track.due():
            res = self._track.follow(frame, float(t))
            if res is not None:
                return res
        found = self.detect(frame, t)
        # no face in a wide frame: search its tiles, at once for a face tracked (or to confirm), else now and then
        if not found and is_wide(frame.shape) and (self._track.follower.track is not None or self._one.pending
                                                   or t - self._tiled_t >= TILE_EVERY_S or t < self._tiled_t):
            self._tiled_t = float(t)
            found = self.detect_tiles(frame, found)
        carried = self._track.follower.track
        face = self._one.pick(found, float(t), carried.box if carried is not None else None)
        if face is None:
            self._track.reset()
            return None
        return self._track.align(frame, face, float(t))

    def detect_image(self, image_bgr: np.ndarray) -> list[Detection]:
        """Every face of a single photo, largest first."""
        if self._video is None:
            raise RuntimeError("FaceAligner is closed")
        image = _as_bgr(image_bgr)
        if self._image is None:
            self._image = self._create(video=False)
        return self._detections(self._detect(self._image, image, None), image.shape)

    def process_image(self, image_bgr: np.ndarray, found: list[Detection] | None = None) -> FaceResult | None:
        """Align the face of a single photo (no smoothing): the largest confident one, else the best-scoring
        (:func:`mpt_live.face_confirm.photo_face`); ``found``: its :meth:`detect_image`, when the caller has it."""
        image = _as_bgr(image_bgr)
        d = photo_face(self.detect_image(image) if found is None else found)
        if d is None:
            return None
        matrix = similarity_from_eyes(d.keypoints, self.image_size)
        if self._track_args["align"] == "eyes-mouth":
            matrix = compose(shape_correction(d.keypoints, self.image_size), matrix)
        return warp_face(image, d.box, d.score, d.keypoints, d.keypoints.copy(), matrix, self.image_size)

    def reset(self) -> None:
        """Forget the track (and a faint face not confirmed yet): the next frame starts smoothing afresh."""
        self._track.reset()
        self._one.reset()

    def close(self) -> None:
        """Give back the mediapipe detectors (idempotent)."""
        detectors = [d for d in (self._video, self._image) if d is not None]
        self._video = self._image = None
        for d in detectors:  # kept for the next aligner of this process
            give_back(d)
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
