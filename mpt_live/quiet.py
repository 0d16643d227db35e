"""Silencing third-party output that is not ours to show, one context manager per channel.

* :func:`quiet_fd` points a file descriptor (default 2, stderr) at /dev/null: for C++ libraries
  (mediapipe's LiteRT, absl) that write straight to the descriptor, past Python; :func:`held_fd` at a
  temporary file, to look at what they wrote (whether a one-off warning has come yet).
* :func:`quiet_stdout` swallows what Python code prints (ONNX Runtime's "EP Error" banner).
* :func:`quiet_opencv` sets OpenCV's own log level to silent (backend warnings while probing devices).
* :func:`quiet_logging` raises the root ``logging`` level (ONNX Runtime's quantization tools).

Each says nothing about *our* messages: errors are reported by the caller in one line.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import threading
from typing import Callable, Iterator

_FD_LOCK = threading.RLock()  # re-entrant: a finaliser may close a detector inside a quiet block
_CV_LOCK = threading.Lock()  # OpenCV's log level: saved by the first of overlapping blocks, restored by the last
_cv_quiet: list = [0, None]  # [blocks open, the level before the first]


@contextlib.contextmanager
def quiet_fd(fd: int = 2) -> Iterator[None]:
    """Send file descriptor ``fd`` to /dev/null for the block (process-wide, so serialised)."""
    with _FD_LOCK:
        try:
            saved = os.dup(fd)
            devnull = os.open(os.devnull, os.O_WRONLY)
        except OSError:  # no usable descriptor (e.g. a windowed process): nothing to quiet
            yield
            return
        try:
            os.dup2(devnull, fd)
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            os.close(devnull)


@contextlib.contextmanager
def held_fd(fd: int = 2, pass_on: Callable[[str], bool] | None = None) -> Iterator[Callable[[], str]]:
    """Send file descriptor ``fd`` to a temporary file for the block (process-wide, so serialised) and yield a function
    that reads what was written to it so far, and after the block all that was (:func:`quiet_fd` that can look).
    ``pass_on``: the lines written there that it is true for are written to ``fd`` as the block ends (an error in it
    too), in their order, before another block can take the descriptor: held back, never lost."""
    with _FD_LOCK, tempfile.TemporaryFile() as held:
        try:
            if fd == 2:
                sys.stderr.flush()  # Python's text written before the block goes where it was meant to
            saved = os.dup(fd)
        except (OSError, ValueError):  # no usable descriptor (e.g. a windowed process): nothing to hold
            yield lambda: ""
            return
        final: list[str] = []

        def said() -> str:
            if final:
                return final[0]
            held.seek(0)
            return held.read().decode("utf-8", "replace")

        try:
            os.dup2(held.fileno(), fd)
            yield said
        finally:
            if fd == 2:
                with contextlib.suppress(OSError, ValueError):
                    sys.stderr.flush()  # Python's text of the block is held with the rest
            os.dup2(saved, fd)
            os.close(saved)
            final.append(said())  # read after fd points back: a write up to the last moment is in it
            kept = "".join(ln for ln in final[0].splitlines(keepends=True) if pass_on(ln)) if pass_on else ""
            if kept:
                with contextlib.suppress(OSError):
                    os.write(fd, kept.encode("utf-8", "replace"))


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Swallow what Python code prints to ``sys.stdout`` in the block."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


@contextlib.contextmanager
def quiet_opencv() -> Iterator[None]:
    """OpenCV's log level set to silent for the block (process-wide: blocks of several threads may overlap,
    e.g. a stream reopened by its reader while the frame loop embeds a face; the level before the first
    is restored when the last ends, never the silent level one of them saw)."""
    import cv2

    log = getattr(getattr(cv2, "utils", None), "logging", None)
    if log is None:
        yield
        return
    with _CV_LOCK:
        if _cv_quiet[0] == 0:
            _cv_quiet[1] = log.getLogLevel()
            log.setLogLevel(log.LOG_LEVEL_SILENT)
        _cv_quiet[0] += 1
    try:
        yield
    finally:
        with _CV_LOCK:
            _cv_quiet[0] -= 1
            if _cv_quiet[0] == 0:
                log.setLogLevel(_cv_quiet[1])


@contextlib.contextmanager
def quiet_logging(level: int = logging.ERROR) -> Iterator[None]:
    """The root logger's level raised to ``level`` for the block."""
    root = logging.getLogger()
    saved = root.level
    root.setLevel(level)
    try:
        yield
    finally:
        root.setLevel(saved)
