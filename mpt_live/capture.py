"""Live sources: cameras, network streams and files played at their own pace (:mod:`mpt_live.paced_video`).

A reader thread pulls frames as fast as the source delivers them and keeps only the newest one
(:mod:`mpt_live.latest_frame`: no backlog; the frames a slow consumer had no time for are dropped and
counted). Every frame is timestamped when it is captured (``time.monotonic``), so latency can be
measured from capture to prediction. Streams that drop are reopened with exponential backoff.

:func:`open_source` is the one place a source is opened: ``--camera 0``, ``--video rtsp://...`` or
``--video FILE --realtime`` give such a reader (iterate it for :class:`LiveFrame` objects until the
source ends), ``--video FILE`` a :class:`~mpt_live.sources.VideoFile`, and so does the URL of a
recording (a video file served over http: its container states a frame count). Every source has ``name``,
``fps``, ``live`` (frames may be dropped) and is a context manager.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from .errors import InputError
from .latest_frame import CaptureLike, LatestFrameReader, LiveFrame
from .paced_video import PacedVideoReader
from .quiet import quiet_opencv
from .sources import VideoFile, expand_videos, is_stream_url, open_capture
from .url_reason import why_not

__all__ = ["CaptureLike", "CaptureReader", "LatestFrameReader", "LiveFrame", "PacedVideoReader", "open_camera",
           "open_source", "open_stream"]


def _source_fps(cap: CaptureLike, default: float = 30.0) -> float:
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    except Exception:
        fps = 0.0
    return fps if np.isfinite(fps) and 1.0 <= fps <= 240.0 else default


class CaptureReader(LatestFrameReader):
    """A camera or network stream read by a thread; reopened with backoff after it drops.

    ``opener()`` returns an opened capture (or one whose ``isOpened()`` is False). The first open
    happens in the constructor so that an unusable source fails at once with an InputError; after a
    drop the reader retries with delays ``backoff[0]``, doubling up to ``backoff[1]`` seconds, and
    gives up (ending the source, ``error`` set) after ``give_up_s`` seconds without a frame, counted
    from the last frame (or the first open): a stream that reopens but never delivers gives up too.
    ``warnings``: a stream whose own timestamps run faster than real time (a recording being
    downloaded, not a live source: its frames are stamped with the capture clock, most are dropped).
    ``clock`` and ``sleep`` (the waits between reopens; None: real time, cut short by ``close``) are for tests.
    """

    def __init__(
        self,
        opener: Callable[[], CaptureLike],
        name: str,
        reconnect: bool = True,
        backoff: tuple[float, float] = (0.5, 8.0),
        give_up_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self._sleep = sleep
        self._opener = opener
        self.reconnect = reconnect
        self.backoff = backoff
        self.give_up_s = give_up_s
        self._clock = clock
        self._cap: CaptureLike | None = self._open_once()
        if self._cap is None:
            raise InputError(f"{name}: could not be opened")
        self.fps = _source_fps(self._cap)
        self._t0: float | None = None
        self._last_t = -1.0
        self._index = 0
        self._segment = 0
        self._last_frame_at = clock()  # the give-up clock: reset by frames only, never by a reopen
        self._delay = backoff[0]  # the next reopen's delay: back to the first one after a frame
        self._pts0: tuple[float, float] | None = None  # (capture time, stream time) of the segment's first frame
        self.warnings: list[str] = []

    def _open_once(self) -> CaptureLike | None:
        try:
            cap = self._opener()
        except Exception:
            return None
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            return None
        return cap

    def _run(self) -> None:
        while not self._stop.is_set():
            cap = self._cap
            if cap is None:
                cap = self._reopen()
                if cap is None:
                    return
            ok, img = cap.read()
            if self._stop.is_set():
                break
            if not ok or img is None:
                cap.release()
                self._cap = None
                if not self.reconnect:
                    self.error = self.error or f"{self.name}: stream ended"
                    return
                continue
            now = self._clock()
            self._last_frame_at, self._delay = now, self.backoff[0]
            if self._t0 is None:
                self._t0 = now
            t = max(now - self._t0, self._last_t + 1e-6)  # strictly increasing for the ring buffer
            self._last_t = t
            self._check_pace(now, cap)
            self._publish(LiveFrame(self._index, t, img, captured=now, segment=self._segment))
            self._index += 1
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _check_pace(self, now: float, cap: CaptureLike) -> None:
        """Warn once when the stream's own times (if it has them) run ahead of the capture clock."""
        if self.warnings:
            return
        try:
            ms = float(cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0)
        except Exception:
            return
        if self._pts0 is None or self._index == 0 or ms < self._pts0[1]:
            self._pts0 = (now, ms)  # a new segment or a stream without times
            return
        media_s, wall_s = (ms - self._pts0[1]) / 1000.0, now - self._pts0[0]
        if media_s >= 2.0 and media_s > 1.5 * wall_s:
            self.warnings.append(f"{self.name}: delivers frames {media_s / max(wall_s, 1e-3):.1f}x faster than real "
                                 "time (a recording, not a live stream?): they are stamped with the capture clock and "
                                 "most are dropped; give the file itself to read every frame")

    def _reopen(self) -> CaptureLike | None:
        while not self._stop.is_set():
            if self._clock() - self._last_frame_at > self.give_up_s:
                self.error = (f"{self.name}: stream dropped and did not come back within {self.give_up_s:g} s"
                              if self.captured else
                              f"{self.name}: no frame within {self.give_up_s:g} s of opening it "
                              f"({self.reconnects} reopen{'' if self.reconnects == 1 else 's'}): giving up")
                return None
            delay, self._delay = self._delay, min(self._delay * 2, self.backoff[1])
            if self._wait(delay):
                return None
            cap = self._open_once()
            if cap is not None:
                self._cap = cap
                self.reconnects += 1
                self._segment += 1
                return cap
        return None


def open_camera(index: int, width: int | None = None, height: int | None = None) -> CaptureReader:
    """``--camera N``: InputError (one line) when the camera cannot be opened."""
    if index < 0:  # OpenCV's "any camera" index; it crashes the process where there is none
        raise InputError(f"camera {index}: not a camera index (0 is the first camera)")

    def opener() -> CaptureLike:
        with quiet_opencv():
            cap = cv2.VideoCapture(index)
        if cap.isOpened():
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the driver keeps at most one stale frame
            if width:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            if height:
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        return cap

    try:
        return CaptureReader(opener, f"camera {index}", give_up_s=10.0)
    except InputError:
        raise InputError(f"camera {index}: could not be opened (no such device, no permission, or in use)") from None


STREAM_TIMEOUT_MS = 5000  # bounded open and read: a stalled stream counts as dropped and is reopened
GIVE_UP_S = 60.0  # a stream with no frame for this long ends (the run reports it and exits non-zero)


def open_stream(url: str, realtime: bool = False) -> "CaptureReader | VideoFile | PacedVideoReader":
    """An rtsp/http(s)/... URL. A live stream is read by a :class:`CaptureReader` (reopened with backoff when
    it drops); a recording (its container states a frame count: a video file served over http) is read
    like a file, every frame in order with the container's times (``--realtime``: at its own pace)."""

    def opener() -> CaptureLike:
        return open_capture(url, STREAM_TIMEOUT_MS)

    failed = f"{url}: could not open the stream (unreachable, wrong URL, or unsupported format)"
    cap = opener()
    if not cap.isOpened():
        cap.release()
        reason = why_not(url, STREAM_TIMEOUT_MS / 1000)
        raise InputError(f"{url}: could not open the stream: {reason}" if reason else failed)
    count = cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0
    if 0 < count < 1e9:  # read from this open (a second one was a second connection, and a second wait)
        source: Any = (PacedVideoReader(url, capture=cap) if realtime
                       else VideoFile(url, STREAM_TIMEOUT_MS, capture=cap))
        source.notes = [f"{url}: a recording ({int(count)} frames), read like a file: "
                        + ("at its own pace" if realtime else "every frame, in order, timed by the container")]
        return source
    caps = [cap]  # the first open is used, later ones are new

    def first_then_open() -> CaptureLike:
        return caps.pop() if caps else opener()

    try:
        return CaptureReader(first_then_open, url, give_up_s=GIVE_UP_S)
    except InputError:
        raise InputError(failed) from None


def open_source(camera: int | None = None, video: str | Path | None = None,
                realtime: bool = False, rotation: str = "auto") -> "LatestFrameReader | VideoFile":
    """The source of ``--camera N``, a stream URL, ``--video FILE --realtime`` or ``--video FILE``.

    Fails at once with a one-line InputError for a source that cannot be read. Folders and globs of
    several videos are the batch's (:mod:`mpt_live.batch`); ``--realtime`` plays exactly one video."""
    if camera is not None:
        return open_camera(camera)
    if video is None:
        raise InputError("no source: give --camera N or --video PATH|URL")
    if is_stream_url(str(video)):
        return open_stream(str(video), realtime)
    paths = expand_videos(str(video))
    if len(paths) != 1:
        raise InputError(f"{video}: {'--realtime plays' if realtime else 'expected'} one video, this matches {len(paths)}")
    if realtime:
        return PacedVideoReader(paths[0], rotation=rotation)
    return VideoFile(paths[0], rotation=rotation)
