"""BlazeFace detectors (mediapipe), built once per process and lent to each run that needs one.

Building a detector reads its model file and sets up mediapipe's graph, and a run may use four (short- and
full-range, each for video frames and for a frame's tiles): for a folder of short clips that was paid again
for every clip. :func:`borrow` hands out a free detector of the kind asked for (model file, running mode,
confidence threshold), building one only when none is free; :func:`give_back` keeps it for the next run.
Face detection keeps nothing from one image to the next, so a detector that saw other videos finds the same
faces. In video mode mediapipe wants each detector's frame times to increase over its whole life, not only
over one run: a :class:`Lent` detector moves a run's times past the last one it was given.

At exit every detector built is closed while mediapipe can still close it: each detector runs its calls on a
``concurrent.futures`` thread pool, and ``concurrent.futures`` refuses new work once its own exit hook (a
``threading`` exit hook, run before any ``atexit`` function) has run, which made a close from ``atexit`` fail with
"cannot schedule new futures after shutdown" wherever mediapipe was imported before :mod:`mpt_live.face` (its own
exit flag, which turns the close into a no-op, was then set too late). :func:`close_all` is therefore a
``threading`` exit hook registered after the pool's, so it runs first, in any import order.
"""

from __future__ import annotations

import importlib
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .quiet import held_fd, quiet_fd

Key = tuple[str, bool, float]  # model file, video mode, min detection confidence


@dataclass(eq=False)  # hashable by identity: kept in a WeakSet
class Lent:
    """A detector on loan: ``detect`` (an image) and ``detect_for_video`` (a frame at ``ms``), as mediapipe's."""

    detector: Any
    key: Key
    last_ms: int = -1  # video mode: the last frame time the detector was given, by any run

    def detect(self, image: Any) -> Any:
        return watched(self.detector.detect, image)

    def detect_for_video(self, image: Any, ms: int) -> Any:
        self.last_ms = max(int(ms), self.last_ms + 1)
        return watched(self.detector.detect_for_video, image, self.last_ms)


_FREE: dict[Key, list[Lent]] = {}
_BUILT: weakref.WeakSet[Lent] = weakref.WeakSet()  # every detector built, free or lent, closed at exit
_HOOKED = False
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
    with quiet_fd(2):  # mediapipe's INFO lines on creation, absl's at the process's first inference (first_inference)
        lent = Lent(vision.FaceDetector.create_from_options(options), key)
        first_inference(lent)
    with POOL_LOCK:
        _BUILT.add(lent)
        _hook_exit()
    return lent


FIRST_SIDES = (128, 97, 160, 211, 113, 256, 89, 300)  # blank pictures tried until the one-off warning has come
ONE_OFF = ("Logging before InitGoogle", "Input tensor memory is not aligned")  # its two lines, held back
HOLD_LIMIT = 64  # detections held, blank or not, before a process gives up waiting for it (a mediapipe without it)
warning_held = False  # this process's one-off alignment warning has come (held back), or HOLD_LIMIT was reached
held_detections = 0  # detections made with fd 2 held so far in this process


def watched(detect: Callable[..., Any], *args: Any) -> Any:
    """``detect(*args)``, with fd 2 held until the process's one-off warning has come. LiteRT prints ``Input tensor
    memory is not aligned ... Reallocating memory and copying data`` (with absl's ``WARNING: Logging before InitGoogle()
    is written to STDERR``) at the first inference whose input tensor (its own memory, whatever the frame's) happens
    not to be aligned, once a process, whichever detector, size or thread: mostly at a new detector's first blank
    picture (:func:`first_inference`), now and then at a later one, or mid-run on a real frame (a test's stderr, a
    resumed run's terminal). Until it has come, each detection's fd 2 is held in a temporary file and what was written
    there is written to fd 2 as the call ends, an error too, without those two lines (quiet.held_fd's ``pass_on``:
    our own errors, from any thread, come a call late, never lost); after it, detections never touch fd 2.
    :data:`HOLD_LIMIT` detections without it: never."""
    global warning_held, held_detections
    if warning_held:
        return detect(*args)
    with held_fd(2, pass_on=lambda line: not any(s in line for s in ONE_OFF)) as said:
        result = detect(*args)
    held_detections += 1
    if ONE_OFF[1] in said() or held_detections >= HOLD_LIMIT:
        warning_held = True
    return result


def first_inference(lent: Lent) -> None:
    """Detections of blank pictures (:data:`FIRST_SIDES`) by a detector just built, until the process's one-off warning
    has come (:func:`watched`): it comes at the first of them about 6 times in 7, within three nearly always, so a run's
    own detections seldom need fd 2 held. Face detection keeps nothing from one picture to the next (module
    docstring): the frames after them find the same faces."""
    import mediapipe as mp

    for side in FIRST_SIDES:
        if warning_held:
            return
        blank = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.zeros((side, side, 3), np.uint8))
        if lent.key[1]:
            lent.detect_for_video(blank, lent.last_ms + 1)
        else:
            lent.detect(blank)


def _hook_exit() -> None:
    """Register :func:`close_all` as a ``threading`` exit hook, once, after ``concurrent.futures.thread`` (imported
    by the first detector's thread pool) has registered its own: those hooks run last registered first."""
    global _HOOKED
    if _HOOKED:
        return
    import concurrent.futures.thread  # noqa: F401  (its hook first, so ours runs before it)

    try:
        threading._register_atexit(close_all)  # no public API runs before concurrent.futures' hook
    except RuntimeError:  # a detector built while the interpreter exits: nothing runs after this any more
        return
    _HOOKED = True


def give_back(lent: Lent) -> None:
    """``lent`` is free again, for the next run of this process."""
    with POOL_LOCK:
        _FREE.setdefault(lent.key, []).append(lent)


def close_all() -> None:
    """Close every detector built, free or still lent (a forgotten aligner's): mediapipe's own finaliser fails at
    interpreter shutdown. Run at exit (module docstring); a closed detector's close is a no-op."""
    with POOL_LOCK:
        built = list(_BUILT)
        _FREE.clear()
    if built:
        with quiet_fd(2):
            for d in built:
                d.detector.close()


DETECTOR_MODULE = "mediapipe.tasks.python.vision"  # what mpt_live.blazeface imports to build a face detector


def import_in_background(name: str) -> threading.Thread:
    """Import module ``name`` in a daemon thread; returns it. Loading a model (ONNX Runtime's session, in C++ without
    the GIL) and importing mediapipe (about 0.5 s of CPU) ran one after the other before a run's first frame; side by
    side they take the longer of the two on a second core. Whoever needs the module imports it as before and waits
    for this import if it is still running; a failure here is dropped: that import raises it again, as it would have."""

    def load() -> None:
        try:
            importlib.import_module(name)
        except BaseException:  # noqa: BLE001 (said by the import that needs the module)
            pass

    thread = threading.Thread(target=load, name=f"import {name}", daemon=True)
    thread.start()
    return thread
