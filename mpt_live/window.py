"""The OpenCV window and its keys: q/Esc quit, space pause, s snapshot PNG, r start/stop recording.

``cv2.imshow`` without a display aborts the process, so callers check :func:`has_display` first.
Snapshots and recordings go to the output folder (or the working directory).
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .errors import OutputError
from .session import StopSession
from .view import OverlayView
from .writers import VideoSink

WINDOW_TITLE = "mpt-live"


def has_display() -> bool:
    """True when an OpenCV window can be opened (cv2.imshow without a display aborts the process)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class DisplayWindow:
    """The window: shows frames, records them while recording, acts on keys (q raises StopSession)."""

    def __init__(self, base: Path, fps: float, view: OverlayView, title: str = WINDOW_TITLE) -> None:
        self.base, self.fps, self.view, self.title = Path(base), fps, view, title
        self.paused = False
        self.recorder: VideoSink | None = None
        self.snapshots: list[Path] = []
        self.recordings: list[Path] = []

    @property
    def recording(self) -> bool:
        return self.recorder is not None

    def __enter__(self) -> "DisplayWindow":
        cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop_recording()
        cv2.destroyWindow(self.title)

    def _stop_recording(self) -> None:
        """End the recording (if any); a full disk is said in the view, the frames before it stay readable."""
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return
        try:
            recorder.close()
            self.view.say(f"saved {recorder.path.name}")
        except OutputError as e:
            self.view.say(f"recording stopped: {e}")

    def key(self, key: int, img: np.ndarray) -> None:
        """Act on one key press (-1: none). Raises StopSession on q / Esc."""
        key &= 0xFF
        if key in (ord("q"), 27):
            raise StopSession
        if key == ord(" "):
            self.paused = not self.paused
        elif key == ord("s"):
            p = self.base / f"snapshot-{datetime.now():%Y%m%d-%H%M%S}-{len(self.snapshots) + 1}.png"
            p.parent.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(p), img):  # a full disk, a folder not writable: nothing to list
                self.view.say(f"snapshot not saved: {p.name} could not be written")
                return
            self.snapshots.append(p)
            self.view.say(f"snapshot saved: {p.name}")
        elif key == ord("r"):
            if self.recorder is None:
                p = self.base / f"recording-{datetime.now():%Y%m%d-%H%M%S}-{len(self.recordings) + 1}.mp4"
                self.recorder = VideoSink(p, self.fps)
                self.recordings.append(p)
                self.view.say(f"recording to {p.name}")
            else:
                self._stop_recording()

    def show(self, img: np.ndarray, redraw_paused: Callable[[], np.ndarray]) -> None:
        """Show a frame, record it if recording, handle keys; while paused, wait here."""
        if self.recorder is not None:
            try:
                self.recorder.write(img)
            except OutputError as e:  # a full disk ends the recording, not the run
                self.recorder = None
                self.view.say(f"recording stopped: {e}")
        cv2.imshow(self.title, img)
        self.key(cv2.waitKey(1), img)
        while self.paused:
            cv2.imshow(self.title, redraw_paused())
            self.key(cv2.waitKey(50), img)
