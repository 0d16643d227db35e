"""A recorded video played at its own pace, behaving like a camera (``--realtime``): :class:`PacedVideoReader`.

Its frames are published as a live source's are (:mod:`mpt_live.latest_frame`: the newest one kept, the ones a slow
consumer had no time for dropped and counted), each when the clock reaches its time in the container; a file that
decodes slower than real time is played as fast as it decodes. :func:`mpt_live.capture.open_source` opens it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from .damage import DamagedFrames, Read, counted, read_past, timed_run
from .frametimes import FrameTimes
from .latest_frame import LatestFrameReader, LiveFrame
from .pyav_capture import found_sizes
from .sources import VideoFile, is_stream_url, open_capture, square_pixels


MAX_SKIP_S = 0.5  # a paced file publishes at least one frame per this much video


class PacedVideoReader(LatestFrameReader):
    """A recorded video played at its own pace, behaving like a camera (``--realtime``).

    A frame is published when the clock reaches ``start + t / speed`` (``t``: its time in the container,
    :mod:`mpt_live.frametimes`; ``start``: the consumer's first ``read``, so that no frame is played
    while a session still loads its model); frames the consumer has not taken by then are overwritten
    (dropped), and
    a frame more than a period late is skipped (grabbed, never converted or published), but never for
    more than :data:`MAX_SKIP_S` of video in a row: where decoding is slower than real time, frames come
    as fast as they decode (the schedule moves back) instead of not at all. ``t`` is media
    time, ``captured`` the monotonic time of publication. ``loop``: start again at the end (time keeps
    counting), for soak tests and demos longer than the clip. ``warnings`` / ``error``: as the file's
    (:class:`~mpt_live.sources.VideoFile`), from its first pass, whose frames that do not decode (a damaged
    stretch) are read past as the file's are (``damaged``). ``capture``: the video already opened (a URL's).
    """

    def __init__(self, path: str | Path, speed: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Any] | None = None, loop: bool = False,
                 capture: cv2.VideoCapture | None = None, rotation: str = "auto") -> None:
        super().__init__()
        with VideoFile(path, capture=capture, rotation=rotation) as v:  # raises InputError for unusable files
            self.fps, self.frame_count, self._times, self._stretch = v.fps, v.frame_count, v.frame_times, v.stretch
            self._turn, self.orientation = v.turn, v.orientation  # a wrong rotation tag undone (mpt_live.upright)
            self.warnings, unstated, late, self._packets = list(v.warnings), v.start_unstated, v.start_late, v.packets
            # its capture plays on: the file is opened once, and the frames it read to learn the timing are not
            # decoded again
            self._cap, self._decoded = v.detach()
        self.name = str(path)
        self._url = is_stream_url(self.name)
        self._misses = DamagedFrames(unstated, late)  # frames that did not decode, read past as a VideoFile does (its first pass)
        self.speed = speed
        self._clock = clock
        self._sleep = sleep
        self.skipped = 0  # frames skipped (not converted, not published) because the clock had moved on
        self.loop = loop
        self.loops = 0
        self._wanted = threading.Event()  # the clock starts at the consumer's first read, not at start()

    def read(self, timeout: float | None = None) -> LiveFrame | None:
        self._wanted.set()
        return super().read(timeout)

    def _wait_until(self, when: float) -> None:
        while (left := when - self._clock()) > 0 and not self._wait(left):
            pass

    @property
    def damaged(self) -> int:
        """Frames read past so far in the first pass because they did not decode (a damaged stretch)."""
        return self._misses.count

    def _end_of_pass(self, times: Any) -> None:
        times.finish(complete=self.loops == 0)  # judged once, from the first pass (a cut file is read once to its end)
        if self.loops == 0:
            self.warnings += [w for w in times.warnings + self._misses.warnings(self.name)
                              + found_sizes(self.name, self._cap) if w not in self.warnings]
            self.error = self.error or times.error

    def _next(self, times: FrameTimes, prev_ms: float) -> tuple[np.ndarray | None, float, int] | None:
        """The next frame of the pass ``times`` clocks (its image, None where only grabbed; OpenCV's time in ms; the
        frames read past before it), None at the end. Frames that do not decode are read past as a :class:`~mpt_live.sources.VideoFile` reads
        them, and the frames after them timed as it times them (:func:`~mpt_live.damage.timed_run`: those read
        ahead are decoded then); an undamaged file's frames are grabbed only."""
        if self._decoded:
            return self._decoded.pop(0)
        done, count = times.n, counted(self.frame_count, times)
        got = read_past(self._cap, count, done, self._url, decode=False, packets=self._packets)
        if got is None or not got[2] or got[1] - prev_ms > 1.5 * 1000.0 / self.fps:
            return got
        ok, img = self._cap.retrieve()
        if not ok or img is None:
            return None

        def read(k: int) -> Read | None:
            more = read_past(self._cap, count, done + k, self._url, packets=self._packets)
            return None if more is None else (square_pixels(more[0], self._stretch, self._turn), more[1], more[2])

        first = (square_pixels(img, self._stretch, self._turn), got[1], got[2])
        run, after, _ = timed_run(first, prev_ms, self.fps, read)
        self._decoded = [*run[1:], *([after] if after is not None else [])]
        return run[0]

    def _run(self) -> None:
        late = 1.0 / (self.fps * self.speed)  # more than a frame period behind: skip
        while not self._wanted.wait(0.05):  # a session still loading its model would miss the first frames
            if self._stop.is_set():
                return
        start = self._clock()
        times, offset, i, published_t, prev_ms = self._times(), 0.0, 0, 0.0, 0.0
        while not self._stop.is_set():
            now = self._clock()  # lateness is judged before decoding, as if the frame's time were known
            got = self._next(times, prev_ms)
            if got is None:
                self._end_of_pass(times)
                if not self.loop or times.n == 0:
                    return
                offset += times.span - times.start_s  # the next pass continues the time line
                self._cap.release()
                self._cap = open_capture(self.name)
                self.loops += 1
                times, prev_ms = self._times(), 0.0
                continue
            img, prev_ms, misses = got
            n, t = times.n, offset + times.next(prev_ms, misses)
            if self.loops == 0:
                self._misses.add(times.lost, t, n == 0, self.fps)
            due = start + t / self.speed
            if now > due + late:
                if t - published_t < MAX_SKIP_S:
                    with self._cond:
                        self.skipped += 1
                        self.dropped += 1
                    i += 1
                    continue
                start += now - due  # decoding is slower than real time: publish it anyway, the clock follows
                due = now
            published_t = t
            if img is None:
                ok, img = self._cap.retrieve()
                if not ok or img is None:  # the file ends here, as a failed read ends a VideoFile: checked the same
                    self._end_of_pass(times)
                    return
                img = square_pixels(img, self._stretch, self._turn)
            self._wait_until(due)
            self._publish(LiveFrame(i, t, img, captured=self._clock()))
            i += 1

    def stats(self) -> dict[str, Any]:
        return {**super().stats(), "skipped_undecoded": self.skipped, "loops": self.loops}

    def close(self) -> None:
        super().close()
        self._cap.release()
