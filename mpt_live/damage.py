"""Frames of a recorded video that do not decode (a damaged stretch: a bad block, a broken transfer, a lost keyframe):
read past, counted and timed alike by the file's reader (:class:`~mpt_live.sources.VideoFile`) and ``--realtime``'s
(:class:`~mpt_live.paced_video.PacedVideoReader`).

OpenCV's FFmpeg goes on with the frames after a frame that does not decode, one failed read for it, or none where
its decoder passes over frames that refer to a lost one in one read: :func:`read_past` reads past failed reads while
more frames are to come, :func:`timed_run` times the frames just after damage, and :class:`DamagedFrames` counts
the frames lost (by the times of the frames after them: :attr:`~mpt_live.frametimes.FrameTimes.lost`) for one
warning.
"""

from __future__ import annotations

import math
from typing import Callable

import cv2
import numpy as np

from .clocktime import clock
from .frametimes import FrameTimes
from .pyav_capture import PATIENCE

def read_past(cap: cv2.VideoCapture, frame_count: int, done: int, url: bool, decode: bool = True, misses: int = 0,
              most: int | None = None, packets: Callable[[], int] | None = None
              ) -> tuple[np.ndarray | None, float, int] | int | None:
    """The next frame that decodes (its image, None when not ``decode``: grabbed only; OpenCV's time in ms; the
    frames read past before it, ``misses`` of them by a call that gave up), None at the end of the video. A frame
    that does not decode (a damaged stretch: OpenCV goes on with the frames after it) is read past while the
    header's ``frame_count`` is more than the ``done`` read and those missed (where it counts none, up to
    :data:`PATIENCE` in a row), never over a network (``url``: a failed read can be a wait); where ``most`` in all
    were read past and more could be, it gives up: their number (an int). ``packets``: asked at a failed read where
    the header counts none, the video's packets where they can be counted without decoding (0: not known), which
    then stand for the count: a streamed WebM's end was :data:`PATIENCE` failed reads, now one."""
    while True:
        if decode:
            ok, img = cap.read()
            ok = ok and img is not None
        else:
            ok, img = cap.grab(), None
        if ok:
            return img, float(cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0), misses
        misses += 1
        if not frame_count and packets is not None:
            frame_count, packets = packets(), None
        more = frame_count - done - misses if frame_count else PATIENCE - misses
        if url or more < 0:
            return None
        if most is not None and misses >= most:
            return misses


def counted(frame_count: int, times: FrameTimes | None) -> int:
    """The frame count :func:`read_past` reads past failed reads up to in a pass timed by ``times``: the header's,
    or the frames read so far once they reach the end the container states for the video (a header that counts
    more frames than it holds, an estimate: a failed read there is the video's end, not damage to read past)."""
    if times is not None and times.n and times.pts and times.end_s is not None \
            and times.span >= times.end_s - 0.5 / times.fps:
        return times.n
    return frame_count


Read = tuple[np.ndarray, float, int]  # a frame read: image, OpenCV's time in ms, the frames read past before it


def timed_run(got: Read, prev_ms: float, fps: float,
              read: Callable[[int], Read | None]) -> tuple[list[Read], Read | None, bool]:
    """``got`` (read after one at ``prev_ms``) and, after damage, the frames read with it: ``(run, after,
    ahead)``. After frames that did not decode OpenCV can time frames by its count of frames read, a period
    apart as if none had been lost, until the container's times go on (a jump): up to a second of them is read
    ahead (``read(k)``: the next frame, ``k`` read ahead so far), and placed a period apart before the frame the
    container times. ``ahead``: frames were read ahead, ``after`` the next one (None: the end); else ``run`` is
    ``[got]`` and nothing more was read."""
    period_ms = 1000.0 / fps
    run = [got]
    if not (got[2] and got[1] - prev_ms <= 1.5 * period_ms):
        return run, None, False
    while (after := read(len(run))) is not None and not after[2] and len(run) <= fps:
        if after[1] - run[-1][1] > 1.5 * period_ms:
            run = [(im, after[1] - (len(run) - k) * period_ms, m) for k, (im, _, m) in enumerate(run)]
            break
        run.append(after)
    return run, after, True


class DamagedFrames:
    """The frames of a video file that did not decode and were read past (:meth:`~mpt_live.sources.VideoFile._read`): how many (by
    the times of the frames after them where they have times: :attr:`FrameTimes.lost`), the seconds of video they
    were, and the times of the frames after them, for one warning."""

    def __init__(self, start_unstated: bool = False, start_late: bool = False) -> None:
        # the container does not say where the video began (an MPEG-TS whose first keyframe was lost with its time):
        # frames lost at the start are counted, and timed, from its earliest packet left, so at least those
        self.start_unstated = start_unstated
        self.start_late = start_late  # a Matroska time line begun late: also what a copy cut without re-timing is
        self.count = 0
        self.seconds = 0.0
        self.after: list[float] = []

    def add(self, lost: int, t: float, start: bool = False, fps: float | None = None) -> float:
        """Note ``lost`` frames that did not decode before the frame at ``t`` (``start``: the first frame read;
        ``fps``: the video's rate, for the seconds they were); ``t``."""
        if lost:
            self.count += lost
            self.seconds += lost / fps if fps else 0.0
            self.after.append(math.nan if start else t)
        return t

    def warnings(self, name: str) -> list[str]:
        if not self.count:
            return []
        at = ["at the start" if math.isnan(t) else f"before {clock(t)}" for t in self.after]
        where = at[0] if len(at) == 1 else f"in {len(at)} stretches, {at[0]} to {at[-1]}"
        span = f" ({clock(self.seconds)} of video)" if self.seconds else ""
        # frames lost only at the start are also what a recording begun between keyframes (a stream joined, a cut
        # copy) reads as: said so, not called damage alone
        begun = "" if not all(math.isnan(t) for t in self.after) else \
            " (or the recording began between keyframes, or was cut off without re-timing)" if self.start_late else \
            " (or the recording began between keyframes)"
        many = str(self.count)
        if self.start_unstated and math.isnan(self.after[0]):
            many, span = f"at least {many}", (f"{span[:-1]}; an MPEG-TS does not say where its video began: "
                                              "counted and timed from its earliest packet left)")
        frames = "frame" if self.count == 1 else "frames"
        return [f"{name}: {many} {frames} could not be decoded (the file is damaged there){begun}, {where}{span}; "
                "the frames after them were read"]
