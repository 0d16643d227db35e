"""Decoding in its own thread: a recorded source read a few frames ahead of the frame loop.

``cv2.VideoCapture.read`` releases the GIL, so with :class:`ReadAhead` the next frames decode on
another core while the loop detects, aligns and buffers the current one. Frames come out in order,
none is dropped (recorded files only: live sources keep just the newest frame in
:mod:`mpt_live.capture`). The source's attributes (``fps``, ``name``, ``frame_count`` ...) read
through the wrapper; an error of the source is raised in the loop, where the frame would have come.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Iterable, Iterator

_END = object()


class ReadAhead:
    """Iterate ``source`` in a thread, at most ``depth`` frames ahead; ``close()`` stops the thread."""

    def __init__(self, source: Iterable[Any], depth: int = 8) -> None:
        self.source = source
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def __getattr__(self, name: str) -> Any:  # fps, name, frame_count, ... of the source
        return getattr(self.source, name)

    def __iter__(self) -> Iterator[Any]:
        if self._thread is not None:
            raise RuntimeError("ReadAhead: iterate once")
        self._thread = threading.Thread(target=self._read, name="mpt-read-ahead", daemon=True)
        self._thread.start()
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item

    def _read(self) -> None:
        try:
            for item in self.source:
                if not self._put(item):
                    return
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            self._put(_Failure(e))
            return
        self._put(_END)

    def _put(self, item: Any) -> bool:
        while not self._halt.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    @property
    def running(self) -> bool:
        """True while the reading thread is alive (False before iterating and after the end or ``close``)."""
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        """Stop reading (the consumer is done, early or not) and wait for the thread."""
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)

    def __enter__(self) -> "ReadAhead":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error
