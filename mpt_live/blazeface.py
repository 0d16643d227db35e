"""BlazeFace detectors (mediapipe), built once per process and lent to each run that needs one.

Building a detector reads its model file and sets up mediapipe's graph, and a run may use four (short- and
full-range, each for video frames and for a frame's tiles): for a folder of short clips that was paid again
for every clip. :func:`borrow` hands out a free detector of the kind asked for (model file, running mode,
confidence threshold), building one only when none is free; :func:`give_back` keeps it for the next run.
Face detection keeps nothing from one image to the next, so a detector that saw other videos finds the same
faces. In video mode mediapipe wants each detector's frame times to increase over its whole life, not only
over one run: a :class:`Lent` detector moves a run's times past the last one it was given.
"""

from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .quiet import quiet_fd

Key = tuple[str, bool, float]  # model file, video mode, min detection confidence


@dataclass
class Lent:
    """A detector on loan: ``detect`` (an image) and ``detect_for_video`` (a frame at ``ms``), as mediapipe's."""

    detector: Any
    key: Key
    last_ms: int = -1  # video mode: the last frame time the detector was given, by any run

    def detect(self, image: Any) -> Any:
        return self.detector.detect(image)

    def detect_for_video(self, image: Any, ms: int) -> Any:
        self.last_ms = max(int(ms), self.last_ms + 1)
        return self.detector.detect_for_video(image, self.last_ms)


_FREE: dict[Key, list[Lent]] = {}
POOL_LOCK = threading.RLock()  # re-entrant: a forgotten aligner collected inside borrow() gives its detectors back


def borrow(path: Path, video: bool, min_confidence: float) -> Lent:
    """A detector of the model at ``path`` (video or image mode): a free one, else a new one."""
    key = (str(path), bool(video), float(min_confidence))
    with POOL_LOCK:
        free = _FREE.get(key)
        if free:
            return free.pop()
    from mediapipe.tasks.python import BaseOptions, vision

    mode = vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE
    options = vision.FaceDetectorOptions(base_options=BaseOptions(model_asset_path=key[0]), running_mode=mode,
                                         min_detection_confidence=key[2])
    with quiet_fd(2):  # mediapipe's INFO lines on creation (see mpt_live.face)
        return Lent(vision.FaceDetector.create_from_options(options), key)


def give_back(lent: Lent) -> None:
    """``lent`` is free again, for the next run of this process."""
    with POOL_LOCK:
        _FREE.setdefault(lent.key, []).append(lent)


@atexit.register  # registered before mpt_live.face's: runs after it has given back the detectors still out
def close_all() -> None:
    """Close every free detector (mediapipe's own finaliser fails at interpreter shutdown)."""
    with POOL_LOCK:
        lent = [d for free in _FREE.values() for d in free]
        _FREE.clear()
    if lent:
        with quiet_fd(2):
            for d in lent:
                d.detector.close()
