"""The newest frame only: a producer thread publishes frames into a one-slot mailbox, the consumer takes
the newest one (:class:`LatestFrameReader`, the base of every live source in :mod:`mpt_live.capture`).

A slow consumer sees fresh frames, never a backlog; the frames it had no time for are dropped and
counted. Frames are :class:`LiveFrame` objects: a :class:`~mpt_live.sources.Frame` with its capture time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

from .sources import Frame


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
        self._sleep: Callable[[float], Any] | None = None  # a test's sleep (None: real time, cut short by close)

    def _wait(self, seconds: float) -> bool:
        """The producer waits ``seconds`` (a reopen's delay, a frame's time to be shown); True once it was closed."""
        if self._sleep is None:
            return self._stop.wait(seconds)
        self._sleep(seconds)
        return self._stop.is_set()

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

    @property
    def pending(self) -> bool:
        """True while a published frame waits for ``read`` (the consumer has not taken it yet)."""
        with self._cond:
            return self._slot is not None

    @property
    def stopping(self) -> bool:
        """True once ``close`` was called (the producer thread stops at its next check)."""
        return self._stop.is_set()

    @property
    def running(self) -> bool:
        """True while the producer thread is alive (False before ``start`` and after it ended or was closed)."""
        return self._thread is not None and self._thread.is_alive()

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
