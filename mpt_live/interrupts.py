"""Stop signals as one exception, and the write-out after it left alone.

Inside :func:`stop_signals` (the command line wraps each command in it), SIGINT, SIGTERM and SIGHUP all
raise :class:`Stopped` (a ``KeyboardInterrupt``, so every Ctrl-C path handles the three alike) the first
time. Later signals do not interrupt what that first one set going (the summary and the plot being
written): they are counted, and the third one ends the process at once (``os._exit``). One that lands
inside a finaliser (``__del__``, where Python would print the exception and carry on) is held and
raised by :func:`raise_held`, which the frame loop calls once per frame. Code that must
finish even when a signal arrives in the middle (the end of a job) runs inside :func:`deferred`: a
signal there is held and raised when the block ends.

    with stop_signals():
        try:
            run()
        except Stopped as e:
            sys.exit(e.exit_code)   # 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator

SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))
HARD_STOP_AFTER = 3  # signals in all: the third one ends the process without further writing


class Stopped(KeyboardInterrupt):
    """A stop signal (Ctrl-C, SIGTERM, SIGHUP) ended the run."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        self.signum = int(signum)
        self.name = signal.Signals(self.signum).name
        super().__init__(self.name)

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal number."""
        return 128 + self.signum


def _signum(e: BaseException) -> int:
    """The signal that stopped the run: :class:`Stopped`'s; for a plain KeyboardInterrupt the first stop signal
    this process received (a library that catches ours and raises a KeyboardInterrupt of its own, as Ray's
    ``ray.wait`` does, must not turn a SIGTERM into SIGINT), else SIGINT."""
    return e.signum if isinstance(e, Stopped) else _state.first or int(signal.SIGINT)


def signal_name(e: BaseException) -> str:
    """The name of the signal that stopped the run (:func:`_signum`)."""
    return signal.Signals(_signum(e)).name


def exit_code(e: BaseException) -> int:
    """The shell's convention: 128 + the number of that signal."""
    return 128 + _signum(e)


class _State:
    def __init__(self) -> None:
        self.received = 0  # stop signals since stop_signals() was entered
        self.raised = False  # the first one has been raised
        self.defer = 0  # depth of deferred() blocks
        self.held: int | None = None  # a signal that arrived inside deferred(), not yet raised
        self.first: int | None = None  # the first stop signal received


_state = _State()


def _handler(signum: int, frame: Any) -> None:
    _state.received += 1
    _state.first = _state.first or signum
    if _state.received >= HARD_STOP_AFTER:
        try:
            os.write(2, f"\n{signal.Signals(signum).name} again: stopping at once\n".encode())
        finally:
            os._exit(128 + signum)
    if _state.raised:
        return  # the run is already stopping: let it write what it has
    if _state.defer or _in_finaliser(frame):  # raised in a __del__, Python would print it and go on
        _state.held = _state.held or signum
        return
    _state.raised = True
    raise Stopped(signum)


def _in_finaliser(frame: Any) -> bool:
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


def raise_held() -> None:
    """Raise a stop signal that was held back (it arrived inside a finaliser, where an exception is lost),
    now that it can stop the run; the frame loop calls this once per frame."""
    if not _state.defer and _state.held is not None and not _state.raised:
        signum, _state.held = _state.held, None
        _state.raised = True
        raise Stopped(signum)


@contextmanager
def stop_signals(until_exit: bool = False) -> Iterator[None]:
    """Install the handlers for the block (main thread only; elsewhere a no-op), then restore them. ``until_exit``
    (a command whose process ends with the block): where a stop signal ended the block, everything is written and
    the process exits with the stop's code, so the stop signals are ignored from then on. A second Ctrl-C (the
    README allows two) that lands while the process exits ended it by SIGINT instead (status -2, not 130): given
    back, Python's own handler raised KeyboardInterrupt, and any handler set from Python is reset to the default
    action when the interpreter finalises, whereas an ignored signal stays ignored (CPython's _PySignal_Fini)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {s: signal.getsignal(s) for s in SIGNALS}
    _state.__init__()
    for s in SIGNALS:
        signal.signal(s, _handler)
    try:
        yield
    finally:
        stopped = until_exit and _state.raised
        for s, h in saved.items():
            signal.signal(s, signal.SIG_IGN if stopped else h if h is not None else signal.SIG_DFL)
        _state.__init__()


@contextmanager
def deferred() -> Iterator[None]:
    """Hold stop signals for the block; one that arrived is raised as :class:`Stopped` when it ends."""
    _state.defer += 1
    try:
        yield
    finally:
        _state.defer -= 1
    raise_held()
