"""Frames of a recording by their place in it (the n-th frame the run read, shown at time t), for the review
page's pictures: one pass in order, seeking over long stretches without a wanted frame, each seek checked.

OpenCV seeks to a frame number by its time at the header's rate, and then counts frames by their times: in a
recording whose frames are not evenly spaced (a variable-rate phone or screen recording, frames dropped; frames
lost to damage) that lands seconds away from the n-th frame, and in a WebM written as a stream (a browser's
MediaRecorder: no index) a seek goes back to the start. The frame a seek lands on is compared with the time the
run gave the frame wanted; where they differ by more than half a frame, the recording is read on from its start
frame by frame, as the run read it, and not sought again.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterator, Mapping

import cv2
import numpy as np

from .pyav_capture import open_video
from .sources import PATIENCE, pixel_aspect, square_pixels
from .upright import extra_turn
from .videoprobe import probe_video

SEEK_AFTER = 300  # frames further apart than this are sought, not decoded one by one


def _next(cap: Any, decode: bool = True) -> tuple[bool, np.ndarray | None]:
    """The next frame that decodes (``decode=False``: grabbed only), read past up to :data:`PATIENCE` that do not,
    as the run read past them (a damaged stretch); (False, None) at the end."""
    for _ in range(PATIENCE + 1):
        ok, img = cap.read() if decode else (cap.grab(), None)
        if ok:
            return True, img
    return False, None


def frames_at(source: Path, wanted: Mapping[int, float]) -> Iterator[tuple[int, np.ndarray]]:
    """``(n, image)`` for each frame number in ``wanted`` (its time in the run, the container's: NaN where not
    known, its seek then unchecked), in order of n, in square pixels; ends early where the video does."""
    start_s = probe_video(source).start_s
    cap = open_video(source)  # PyAV's where OpenCV cannot decode it (AV1), found so by a run in another process too
    try:
        ok, img = _next(cap)  # the first frame: where the container's times start for OpenCV
        if not ok:
            return
        stretch = pixel_aspect(cap)  # the run's boxes are in square pixels
        turn = extra_turn(source)  # as the run read it (a wrong rotation tag undone)
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        half = 0.5 / fps if math.isfinite(fps) and fps > 0 else 1.0 / 60
        first_ms, pos, seekable = float(cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0), 1, True  # pos: the next read's index
        if 0 in wanted:
            yield 0, square_pixels(img, stretch, turn)
        for n in sorted(k for k in wanted if k > 0):
            if seekable and n - pos > SEEK_AFTER:  # a keyframe, then forward
                cap.set(cv2.CAP_PROP_POS_FRAMES, n)
                ok, img = cap.read()
                t = start_s + (float(cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0) - first_ms) / 1000.0
                if ok and not abs(t - wanted[n]) > half:  # landed on the frame wanted (or nothing to check it by)
                    pos = n + 1
                    yield n, square_pixels(img, stretch, turn)
                    continue
                seekable = False  # frames not where their times say: read from the start, frame by frame
                cap.release()
                cap, pos = open_video(source), 0
            while pos < n and _next(cap, decode=False)[0]:
                pos += 1
            ok, img = _next(cap) if pos == n else (False, None)
            if not ok:
                return
            pos += 1
            yield n, square_pixels(img, stretch, turn)
    finally:
        cap.release()
