"""Live sources: cameras, network streams and files played at their own pace.

A reader thread pulls frames as fast as the source delivers them and keeps only the newest one
(no backlog: a slow consumer sees fresh frames, and the frames it had no time for are dropped and
counted). Every frame is timestamped when it is captured (``time.monotonic``), so latency can be
measured from capture to prediction. Streams that drop are reopened with exponential backoff.

:func:`open_source` is the one place a source is opened: ``--camera 0``, ``--video rtsp://...`` or
``--video FILE --realtime`` give such a reader (iterate it for :class:`LiveFrame` objects until the
source ends), ``--video FILE`` a :class:`~mpt_live.sources.VideoFile`. Every source has ``name``,
``fps``, ``live`` (frames may be dropped) and is a context manager.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import cv2
import numpy as np

from .errors import InputError
from .quiet import quiet_opencv
from .sources import Frame, VideoFile, expand_videos, is_stream_url


class CaptureLike(Protocol):
    """The part of ``cv2.VideoCapture`` the readers use (tests pass fakes)."""

    def isOpened(self) -> bool: ...  # noqa: N802 (OpenCV's name)
    def read(self) -> tuple[bool, Any]: ...
    def grab(self) -> bool: ...
    def get(self, prop: int) -> float: ...
    def release(self) -> None: ...


@dataclass
class LiveFrame(Frame):
    """A frame with its capture time. ``t``: seconds since the source started (increasing);
    ``captured``: ``time.monotonic()`` at capture; ``segment`` grows by one after every reconnect
    (frames of two segments must not share a clip)."""

    captured: float = 0.0
    segment: int = 0


class LatestFrameReader:
    """Base class: a producer thread publishes frames into a one-slot mailbox; ``read`` takes the newest.

    Subclasses implement ``_run`` and call ``_publish`` / ``_finish``. Counters: ``captured`` (frames
    published), ``delivered`` (frames returned by ``read``), ``dropped`` (published but overwritten
    before anyone read them), ``reconnects``.
    """

    name: str = "source"
    fps: float = 30.0
    live: bool = True  # frames are dropped when the consumer is slow

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._slot: LiveFrame | None = None
        self._ended = False
        self._stop = threading.Event()
        self.error: str | None = None  # why the source ended early (after retries), if it did
        self.captured = 0
        self.delivered = 0
        self.dropped = 0
        self.reconnects = 0
        self._thread: threading.Thread | None = None

    # -- producer side ------------------------------------------------------------------------
    def _publish(self, frame: LiveFrame) -> None:
        with self._cond:
            if self._slot is not None:
                self.dropped += 1
            self._slot = frame
            self.captured += 1
            self._cond.notify_all()

    def _finish(self, error: str | None = None) -> None:
        with self._cond:
            self.error = self.error or error
            self._ended = True
            self._cond.notify_all()

    def _run(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _main(self) -> None:
        try:
            self._run()
        except Exception as e:  # a reader thread must never die silently
            self._finish(f"{self.name}: reader failed: {type(e).__name__}: {e}")
        else:
            self._finish()

    # -- consumer side ------------------------------------------------------------------------
    def start(self) -> "LatestFrameReader":
        if self._thread is None:
            self._thread = threading.Thread(target=self._main, name=f"capture:{self.name}", daemon=True)
            self._thread.start()
        return self

    def read(self, timeout: float | None = None) -> LiveFrame | None:
        """The newest frame not yet returned; waits for one. None when the source has ended
        (or ``timeout`` seconds passed without a frame)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._slot is None and not self._ended:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining if remaining is not None else 0.5)
            frame, self._slot = self._slot, None
            if frame is not None:
                self.delivered += 1
            return frame

    @property
    def ended(self) -> bool:
        with self._cond:
            return self._ended and self._slot is None

    def __iter__(self) -> Iterator[LiveFrame]:
        self.start()
        while True:
            f = self.read()
            if f is None:
                return
            yield f

    def stats(self) -> dict[str, Any]:
        return {"captured": self.captured, "delivered": self.delivered, "dropped": self.dropped,
                "reconnects": self.reconnects, "error": self.error}

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._ended = True
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)

    def __enter__(self) -> "LatestFrameReader":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


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
    gives up (ending the source, ``error`` set) after ``give_up_s`` seconds without a frame.
    """

    def __init__(
        self,
        opener: Callable[[], CaptureLike],
        name: str,
        reconnect: bool = True,
        backoff: tuple[float, float] = (0.5, 8.0),
        give_up_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.name = name
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
            if self._t0 is None:
                self._t0 = now
            t = max(now - self._t0, self._last_t + 1e-6)  # strictly increasing for the ring buffer
            self._last_t = t
            self._publish(LiveFrame(self._index, t, img, captured=now, segment=self._segment))
            self._index += 1
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _reopen(self) -> CaptureLike | None:
        delay, start = self.backoff[0], self._clock()
        while not self._stop.is_set():
            if self._clock() - start > self.give_up_s:
                self.error = f"{self.name}: stream dropped and did not come back within {self.give_up_s:g} s"
                return None
            if self._stop.wait(delay):
                return None
            cap = self._open_once()
            if cap is not None:
                self._cap = cap
                self.reconnects += 1
                self._segment += 1
                return cap
            delay = min(delay * 2, self.backoff[1])
        return None


class PacedVideoReader(LatestFrameReader):
    """A recorded video played at its own fps, behaving like a camera (``--realtime``).

    Frame i is published at ``start + i / fps``; frames the consumer has not taken by then are
    overwritten (dropped), and when decoding falls more than a frame behind the clock frames are
    skipped with ``grab()`` (no decode). Timestamps ``t`` are media time (``i / fps``), ``captured``
    is the monotonic time of publication. ``loop``: start again at the end (time keeps counting),
    for soak tests and demos longer than the clip.
    """

    def __init__(self, path: str | Path, speed: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Any] | None = None, loop: bool = False) -> None:
        super().__init__()
        with VideoFile(path) as v:  # raises InputError for unusable files
            self.fps, self.frame_count = v.fps, v.frame_count
        self.name = str(path)
        self._cap = cv2.VideoCapture(str(path))
        self.speed = speed
        self._clock = clock
        self._sleep = sleep
        self.skipped = 0  # frames skipped without decoding because the clock had moved on
        self.loop = loop
        self.loops = 0

    def _advance(self, decode: bool) -> tuple[bool, Any]:
        """The next frame (decoded or only grabbed), rewinding at the end when looping."""
        for _ in range(2):
            if decode:
                ok, img = self._cap.read()
            else:
                ok, img = self._cap.grab(), None
            if ok:
                return True, img
            if not self.loop:
                return False, None
            self._cap.release()
            self._cap = cv2.VideoCapture(self.name)
            self.loops += 1
        return False, None

    def _wait_until(self, when: float) -> None:
        while not self._stop.is_set():
            left = when - self._clock()
            if left <= 0:
                return
            if self._sleep is not None:
                self._sleep(left)
            else:
                self._stop.wait(min(left, 0.05))

    def _run(self) -> None:
        period = 1.0 / (self.fps * self.speed)
        start = self._clock()
        i = 0
        while not self._stop.is_set():
            due = start + i * period
            # more than one frame behind: skip without decoding until the next frame is due
            while self._clock() > due + period and not self._stop.is_set():
                if not self._advance(decode=False)[0]:
                    return
                with self._cond:
                    self.skipped += 1
                    self.dropped += 1
                i += 1
                due = start + i * period
            ok, img = self._advance(decode=True)
            if not ok or img is None:
                return
            self._wait_until(due)
            self._publish(LiveFrame(i, i / self.fps, img, captured=self._clock()))
            i += 1

    def stats(self) -> dict[str, Any]:
        return {**super().stats(), "skipped_undecoded": self.skipped, "loops": self.loops}

    def close(self) -> None:
        super().close()
        self._cap.release()


def open_camera(index: int, width: int | None = None, height: int | None = None) -> CaptureReader:
    """``--camera N``: InputError (one line) when the camera cannot be opened."""

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


def open_stream(url: str) -> CaptureReader:
    """An rtsp/http(s)/... stream; reopened with backoff when it drops."""

    def opener() -> CaptureLike:
        with quiet_opencv():
            # bounded open/read so that a stalled stream counts as dropped and gets reopened
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 5000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 5000]
            return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)

    try:
        return CaptureReader(opener, url)
    except InputError:
        raise InputError(f"{url}: could not open the stream (unreachable, wrong URL, or unsupported format)") from None


def open_source(camera: int | None = None, video: str | Path | None = None,
                realtime: bool = False) -> "LatestFrameReader | VideoFile":
    """The source of ``--camera N``, a stream URL, ``--video FILE --realtime`` or ``--video FILE``.

    Fails at once with a one-line InputError for a source that cannot be read. Folders and globs of
    several videos are the batch's (:mod:`mpt_live.batch`); ``--realtime`` plays exactly one video."""
    if camera is not None:
        return open_camera(camera)
    if video is None:
        raise InputError("no source: give --camera N or --video PATH|URL")
    if is_stream_url(str(video)):
        return open_stream(str(video))
    paths = expand_videos(str(video))
    if len(paths) != 1:
        raise InputError(f"{video}: {'--realtime plays' if realtime else 'expected'} one video, this matches {len(paths)}")
    return PacedVideoReader(paths[0]) if realtime else VideoFile(paths[0])
