"""Decoding in its own thread (mpt_live/readahead.py)."""

from __future__ import annotations

import threading

import pytest

from mpt_live.readahead import ReadAhead


class Source:
    name, fps = "src", 25.0

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.n, self.fail_at, self.read = n, fail_at, 0
        self.threads: set[str] = set()

    def __iter__(self):
        for i in range(self.n):
            if i == self.fail_at:
                raise OSError("broken mid-way")
            self.read += 1
            self.threads.add(threading.current_thread().name)
            yield i


def test_frames_come_in_order_from_another_thread_with_the_source_attributes() -> None:
    src = Source(50)
    with ReadAhead(src, depth=4) as ra:
        assert (ra.name, ra.fps) == ("src", 25.0)
        assert list(ra) == list(range(50))
    assert src.threads == {"mpt-read-ahead"}


def test_a_source_error_is_raised_in_the_loop_after_the_frames_before_it() -> None:
    got = []
    with pytest.raises(OSError, match="broken mid-way"), ReadAhead(Source(10, fail_at=6)) as ra:
        for i in ra:
            got.append(i)
    assert got == list(range(6))


def test_close_stops_reading_a_long_source_early() -> None:
    src = Source(10_000)
    ra = ReadAhead(src, depth=3)
    it = iter(ra)
    assert [next(it) for _ in range(5)] == list(range(5))
    ra.close()
    assert not ra.running
    assert src.read < 20  # at most depth frames (plus the one in hand) beyond what was taken
