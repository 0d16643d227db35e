"""Holding file descriptor 2 (mpt_live.quiet.held_fd): what a C library prints is looked at and dropped where it is
noise, and everything else written meanwhile, from any thread, is passed on, never lost, however the block ends."""

from __future__ import annotations

import os
import threading

import pytest

from mpt_live.quiet import held_fd, quiet_fd


def test_held_lines_are_passed_on_in_order_without_the_dropped_ones_also_when_the_block_raises(capfd):
    with pytest.raises(RuntimeError):
        with held_fd(2, pass_on=lambda line: "noise" not in line) as said:
            os.write(2, b"ours 1\nnoise from a library\nours 2\n")
            assert "noise" in said() and capfd.readouterr().err == ""  # held meanwhile
            raise RuntimeError("the call failed")
    assert capfd.readouterr().err == "ours 1\nours 2\n"
    assert said().count("\n") == 3  # after the block: all that was written there


def test_a_detection_that_raises_still_passes_on_what_was_written_during_it(monkeypatch, capfd):
    """blazeface.watched holds fd 2 around a detection until mediapipe's one-off warning has come; a detection that
    fails (or a Ctrl-C in it) dropped what other threads wrote to fd 2 meanwhile."""
    from types import SimpleNamespace

    from mpt_live import blazeface

    def detect(image):
        os.write(2, b"our error from another thread\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(blazeface, "warning_held", False)
    monkeypatch.setattr(blazeface, "held_detections", 0)
    lent = blazeface.Lent(SimpleNamespace(detect=detect), ("m", False, 0.5))
    with pytest.raises(KeyboardInterrupt):
        lent.detect(None)
    assert capfd.readouterr().err == "our error from another thread\n"


def test_blocks_of_two_threads_leave_fd2_where_it_was():
    """A block in one thread and another in a second (a detector built mid-run, review.webm's encoder thread): each
    would restore the other's redirection, fd 2 left at /dev/null or a deleted file; they take turns."""
    before = os.readlink("/proc/self/fd/2") if os.path.exists("/proc/self/fd/2") else None
    if before is None:
        pytest.skip("no /proc here")
    stop = threading.Event()

    def holding() -> None:
        while not stop.is_set():
            with held_fd(2, pass_on=lambda line: False):
                os.write(2, b"x\n")

    other = threading.Thread(target=holding)
    other.start()
    try:
        for _ in range(300):
            with quiet_fd(2):
                pass
    finally:
        stop.set()
        other.join()
    assert os.readlink("/proc/self/fd/2") == before
