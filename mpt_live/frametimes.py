"""Frame times from the container: each frame's presentation time where the container has one, checked
against the header's frame rate.

OpenCV gives the presentation time of the frame it just decoded (``CAP_PROP_POS_MSEC``); a variable-frame-
rate file has no single rate, so ``index / fps`` drifts from the truth and the container's times are used
instead. A raw elementary stream (H.264 or HEVC without a container) has no times at all, and OpenCV then
reports FFmpeg's default of 25 fps: the codec's own rate (the stream's timing info) is read with PyAV.
What disagrees ends up as one-line warnings that name the file (:attr:`FrameTimes.warnings`), and a file
that ends well before the frame count in its header as :attr:`FrameTimes.error`.

OpenCV's times start at the video stream's own start; a player's (and the review page's) at the container's.
Where the video starts later than the container (the audio first: a recording cut with ``-c copy``, a camera
that starts its picture late), the header probe (:mod:`mpt_live.videoprobe`) reads where the video starts
and ends in the container with PyAV, and the times are placed on the container's time line. The frame count in a header
can be an estimate (Matroska/WebM: duration x rate, wrong for a variable rate; an AVI of a variable-rate
recording counts its empty frames; an MP4 cut with ``-c copy`` counts frames its edit list hides), so a
video whose frames reach the end the container states for it is not called truncated.
"""

from __future__ import annotations

import math
from array import array
from typing import Callable

import numpy as np

from .clocktime import clock
from .errors import counted
from .videoprobe import VideoProbe
from .videotracks import hdr_note, track_notes

ASSUMED_FPS = 30.0  # no rate anywhere: assume this (and say so)
# a stretch this long (s) with no frames (a camera's stall, dropped frames) could hide a whole micro-expression (they
# last under 0.5 s): said even in a video whose other frames are not evenly spaced (``_holes`` names the gaps of one
# that is)
STALL_S = 0.5
# the first frame decoded this many periods (or more) after the stream's start: the frames before it did not decode
# (a lost keyframe, a recording begun part-way through a group of pictures), with or without a failed read
LOST_AT_START = 1.5


def valid_fps(fps: float | None) -> bool:
    return fps is not None and math.isfinite(fps) and 1e-3 < fps <= 1000.0


class FrameTimes:
    """Times of one pass over a video: ``t = times.next(pos_msec)`` for each decoded frame in order (seconds on
    the container's time line, the first frame at ``start_s``, strictly increasing), then :meth:`finish` after
    the last one.

    ``pts``: the container has per-frame times (OpenCV's ``POS_MSEC`` moves); without them frame i is at
    ``i / fps``. ``start_s``: the first frame's time on the container's time line; ``end_s``: where the
    container says the video ends (None: unknown), the truncation check's reference for timed videos. ``lost_s``:
    how long the video ran before ``start_s`` where OpenCV's time 0 is after its real start (the header probe's
    :attr:`~mpt_live.videoprobe.VideoProbe.lost_s`: a Matroska file's lost first cluster, an MPEG-TS's lost first
    keyframe), its frames there lost as a damaged start's are. ``cut``:
    asked after a whole pass that found nothing wrong how the file ends part-way through (a few words), None when
    it does not (:func:`mpt_live.cutoff.cut_off`: a streamed WebM or an MPEG-TS, which state no end)."""

    def __init__(self, name: str, fps: float, pts: bool, frame_count: int = 0, start_s: float = 0.0,
                 end_s: float | None = None, cut: Callable[[], str | None] | None = None, lost_s: float = 0.0) -> None:
        self.name, self.fps, self.pts, self.frame_count = name, fps, pts, frame_count
        self.start_s, self.end_s, self._cut, self.lost_s = start_s, end_s, cut, lost_s
        self.n = 0
        self.last = -math.inf
        self._first_ms = 0.0
        self._intervals = array("d")
        self.repaired = 0  # frames whose time did not increase (placed before the next frame is due)
        self.untimed = 0  # frames OpenCV gave no time (placed where the next frame is due)
        self._sane = -math.inf  # the last time the container gave that was used as it is
        self._gaps: list[tuple[float, float, bool]] = []  # (time, interval, after frames that did not decode)
        self._since_skip = math.inf  # frames read since frames that did not decode
        self._first_t = start_s
        self._tail: float | None = None  # the last frame's length in a file cut short (:meth:`_cut_short`)
        self.lost = 0  # frames lost (did not decode) just before the frame last timed, by its time where it has one
        self.warnings: list[str] = []
        self.error: str | None = None

    def next(self, pos_msec: float, skipped: int = 0) -> float:
        """The time of the next frame, from OpenCV's ``pos_msec``; ``skipped``: frames that did not decode just
        before it (damage, told apart from frames the container lacks): failed reads, fewer than the frames lost
        where a decoder passes over several in one read (:attr:`lost` counts those)."""
        self._since_skip = 0 if skipped else self._since_skip + 1
        self.lost = skipped
        if self.n == 0 and self.pts and (skipped or (pos_msec / 1000.0 + self.lost_s) * self.fps >= LOST_AT_START):
            # damage at the start: OpenCV's times count from the stream's start (its first frame, lost; or where
            # FFmpeg starts it after its real start, lost_s), and the first frame it decoded after the damage it
            # times 0 (it has no time for it): by its position then.
            # A lost keyframe takes its whole group of pictures with it in one read (one failed read or none, the
            # decoder passing over the frames that refer to it): the frames lost are those its time is after
            self._first_ms = 0.0
            t = self._sane = self.start_s + (pos_msec / 1000.0 if pos_msec > 0 else skipped / self.fps)
            self.lost = max(skipped, round((t - self.start_s + self.lost_s) * self.fps))
        elif self.n == 0:
            self._first_ms = pos_msec
            t = self._sane = self.start_s
        elif self.pts:
            t = self.start_s + (pos_msec - self._first_ms) / 1000.0
            if pos_msec == 0.0 and t <= self.last:
                # OpenCV's time of a frame it has none for (no PTS, no DTS): an MPEG-PS's last frame, held back by the
                # decoder for its B-frames and given at the end of the file. One period on, as in a file without times
                t = self.last + 1.0 / self.fps
                self.untimed += 1
            elif t > self.last:
                self._sane = t
            else:
                # after damage OpenCV times a frame it has no time for by its count of frames read (seconds early):
                # placed halfway to where the next frame is due, so the container's own times after it are used
                # as they are (a whole period on took the next frame's time, and so on in a chain to the end)
                t = (self.last + max(self._sane, t) + 1.0 / self.fps) / 2
                self.repaired += 1
            self._intervals.append(t - self.last)
            if skipped:  # the frames lost in the damaged stretch: its failed reads, or more where its times say so
                self.lost = max(skipped, round((t - self.last) * self.fps) - 1)
            if t - self.last > 1.5 / self.fps:  # a gap up to a second after frames that did not decode is theirs
                self._gaps.append((t, t - self.last, self._since_skip < self.fps))
        else:
            t = self.start_s + self.n / self.fps
        if self.n == 0:
            self._first_t = t
        self.n += 1
        self.last = t
        return t

    @property
    def span(self) -> float:
        """Where the frames read so far end on the container's time line (the last one shown as long as the one
        before it; in a file cut short, at most the frames' usual interval: the frames missing just before the last
        one, B-frames whose references the cut took, are not its length): the seconds they cover, after ``start_s``."""
        if self.n == 0:
            return 0.0
        if self._tail is not None:
            return self.last + self._tail
        return self.last + (self._intervals[-1] if len(self._intervals) else 1.0 / self.fps)

    def _cut_short(self) -> None:
        """The file ends cut short (:attr:`error` is being set): :attr:`span` ends one usual interval after the last
        frame decoded."""
        if len(self._intervals):
            self._tail = min(self._intervals[-1], usual_period(np.frombuffer(self._intervals, dtype=np.float64)))

    def finish(self, complete: bool = True) -> None:
        """After the last frame: compare with the header (warnings) and the frame count (``error``).
        ``complete=False``: the reading stopped early on purpose (no truncation check)."""
        n, count = self.n, self.frame_count
        if complete and count > 0 and n < count - max(2, 0.02 * count):
            # a timed video that reaches the end its container states has all its frames: the count was off
            end_s = self.end_s if self.pts and self.end_s else self.start_s + count / self.fps
            if self.span < end_s - max(2.0 / self.fps, 0.02 * (end_s - self.start_s)):
                self._cut_short()
                self.error = (f"{self.name}: ended after {n} of the {count} frames its header announces "
                              f"({clock(self.span, False, end_s)} of {clock(end_s, like=self.span)}): the file is "
                              "truncated or damaged")
        if complete and self.error is None and n and self._cut is not None and (how := self._cut()):
            self._cut_short()
            self.error = (f"{self.name}: {how}, after {counted(n, 'frame')} ({clock(self.span)}): the file is "
                          "truncated or damaged (cut off while it was written or copied)")
        if self.error is not None:  # cut short: frames missing in its last second (B-frames whose references were
            # cut off) are the cut's, told by its error
            self._gaps = [(t, d, damaged or t > self.last - 1.0) for t, d, damaged in self._gaps]
        if self.pts and len(self._intervals) >= 2:
            iv = np.frombuffer(self._intervals, dtype=np.float64)
            period = 1.0 / self.fps
            off = float(np.mean(np.abs(iv - period) > 0.25 * period))
            header_span, covered = n / self.fps, self.span - self._first_t  # after damage at the start: from there
            spans_differ = abs(covered - header_span) > max(2 * period, 0.02 * covered)
            intervals = f"intervals {iv.min() * 1e3:.0f}-{iv.max() * 1e3:.0f} ms"
            usual = 1.0 / usual_period(iv)  # the frames' own rate: the header's is their average, gaps and all
            holes = _holes(self.name, usual, iv, self._gaps)
            if holes is not None:  # evenly spaced frames with a few stretches missing: not a variable rate
                self.warnings += holes
            elif spans_differ:
                self.warnings.append(
                    f"{self.name}: frame times disagree with the header's {self.fps:.4g} fps (variable frame rate): "
                    f"{n} frames span {clock(covered, like=header_span)} by the container's times, "
                    f"{clock(header_span, like=covered)} by the header; {intervals}; the container's times are used"
                    + SPOTTED_BY_TIME)
            elif off > 0.1:  # the header's rate is the average: the spans agree, the frames are not evenly spaced
                self.warnings.append(
                    f"{self.name}: variable frame rate: {intervals} around the header's average {self.fps:.4g} fps "
                    f"({period * 1e3:.0f} ms; {off:.0%} of the intervals off it by over a quarter); the container's "
                    "times are used" + SPOTTED_BY_TIME)
            if holes is None and (stalls := _stalls(self.name, usual, self._gaps)):
                self.warnings.append(stalls)
        if self.repaired:
            self.warnings.append(f"{self.name}: {counted(self.repaired, 'frame')} had a time that did not increase; each was "
                                 "placed between the frame before it and where the next was due")


# what the spotter does with such times (the warnings of a variable rate end with it): FaceMotion takes each frame's
# neighbours at its scales, and its mean in time, by the frames' times, so a stretch faster or slower than the header's
# average is measured on the same spans of time and no constant-rate copy is needed (it was, while they were counted in
# frames at the header's rate: tests/test_spotting_vfr.py)
SPOTTED_BY_TIME = ("; the spotter measures each frame's movement against the frames nearest in time 0.5 and 2.5 s "
                   "before and after it")


def usual_period(iv: np.ndarray) -> float:
    """The usual interval between a video's frames (``iv``: its intervals, s): the mean of those within half again
    their median, so that stretches with no frames do not lengthen it (the header's rate of a file with a stall is
    its average, 13.33 fps for a 15 fps recording) and times rounded to the millisecond (33 and 34 ms) do not
    round it (their median alone would say 30.3 fps)."""
    median = float(np.median(iv))
    return float(np.mean(iv[iv <= 1.5 * median]))


def _holes(name: str, fps: float, iv: np.ndarray, gaps: list[tuple[float, float, bool]]) -> list[str] | None:
    """Warnings for a video at an even ``fps`` (its frames' usual rate, :func:`usual_period`) but for a few stretches with no frames (``gaps``: (time of the frame
    after, interval, after frames that did not decode)): a Matroska or MPEG-TS file damaged there (its reader skips
    to the next readable cluster or packet, with no failed read), frames dropped by the recorder. None when the
    intervals are not even apart from those (a variable frame rate), or there are no such stretches.
    Stretches after frames that did not decode are the damage's own warning's."""
    period = 1.0 / fps
    regular = iv[iv <= 1.5 * period]
    if not gaps or len(gaps) > max(2, 0.05 * len(iv)) or not len(regular):
        return None
    if np.mean(np.abs(regular - period) > 0.25 * period) > 0.1:
        return None
    told = [(t, d) for t, d, damaged in gaps if not damaged]
    if not told:
        return []
    missing = sum(max(1, round(d * fps) - 1) for _, d in told)
    t, d = max(told, key=lambda g: g[1])
    where = (f"a {clock(d)} stretch before {clock(t)}" if len(told) == 1 else
             f"in {len(told)} places, the longest a {clock(d)} stretch before {clock(t)}")
    return [f"{name}: about {missing} frame{'s' if missing != 1 else ''} missing, {where}, its other frames evenly spaced at {fps:.4g} fps: the file "
            "is damaged there (its frames could not be read) or the recording dropped them; the container's times "
            "are used"]


def _stalls(name: str, fps: float, gaps: list[tuple[float, float, bool]]) -> str | None:
    """One warning for the stretches of :data:`STALL_S` or more with no frames (``gaps`` as :func:`_holes`' takes
    them; those after frames that did not decode are the damage's warning's; ``fps``: the rate of the frames'
    usual spacing, :func:`usual_period`, which frames dropped elsewhere do not lower as they lower the average),
    None where there are none."""
    long = [(t, d) for t, d, damaged in gaps if not damaged and d >= STALL_S]
    if not long:
        return None
    missing = sum(max(1, round(d * fps) - 1) for _, d in long)
    t, d = max(long, key=lambda g: g[1])
    where = (f"a {clock(d)} stretch with no frames before {clock(t)}" if len(long) == 1 else
             f"{len(long)} stretches of {STALL_S:g} s or more with no frames, the longest {clock(d)} before {clock(t)}")
    frames = f"about {missing} frame{'s' if missing != 1 else ''} at its usual {fps:.4g} fps"
    return (f"{name}: {where} ({frames}): the recording dropped them (a camera's stall), its recorder left out frames that "
            "did not change (a variable-rate screen or call recording) or the file is damaged there; "
            "a movement there (micro-expressions last under 0.5 s) may not be seen; the container's times are used")


def resolve_rate(name: str, header_fps: float, first_ms: float, second_ms: float | None,
                 probe: VideoProbe | None) -> tuple[float, bool, bool, list[str]]:
    """(fps, pts, fps_assumed, warnings) of a video from its header rate and its first two frames' times.

    ``probe``: a local file's header probe, whose codec rate counts when the container has no times (None: a
    URL, not probed)."""
    pts = second_ms is not None and second_ms > first_ms
    warnings: list[str] = []
    if pts:
        if valid_fps(header_fps):  # OpenCV's rate: the average, frames over the length (the spotter's frame counts follow it)
            return header_fps, True, False, warnings
        fps = 1000.0 / (second_ms - first_ms)  # type: ignore[operator]
        if valid_fps(fps):
            warnings.append(f"{name}: no frame rate in the header; {fps:.3g} fps from the first frames' times")
            return fps, True, False, warnings
        warnings.append(f"{name}: no frame rate in the header; assuming {ASSUMED_FPS:g} fps for the window stride")
        return ASSUMED_FPS, True, True, warnings
    codec = probe.codec_fps if probe is not None and second_ms is not None else None
    codec = codec if valid_fps(codec) else None
    if codec is not None and (not valid_fps(header_fps) or abs(codec - header_fps) > 0.01 * codec):
        header = f"{header_fps:.4g} fps" if valid_fps(header_fps) else "no rate"
        warnings.append(f"{name}: no per-frame times in the stream; its header says {header} (FFmpeg's "
                        f"default), its codec timing {codec:.4g} fps: times use {codec:.4g} fps")
        return codec, False, False, warnings
    if codec is None and second_ms is not None and probe is not None:
        if valid_fps(header_fps):
            warnings.append(f"{name}: no per-frame times and no codec timing in the stream: times use the "
                            f"header's {header_fps:.4g} fps, which may be FFmpeg's default")
        else:
            warnings.append(f"{name}: no per-frame times and no frame rate in the stream: assuming {ASSUMED_FPS:g} fps")
    if valid_fps(header_fps):
        return header_fps, False, False, warnings
    return ASSUMED_FPS, False, True, warnings


def probe_notes(name: str, probe: VideoProbe | None, size: tuple[int, int],
                one_frame: bool = False) -> tuple[list[str], str | None]:
    """``(warnings, error)`` of a local file's header facts that change what a run sees: a video that starts late on
    its container's time line, several video tracks (``size``: the frames OpenCV decodes, telling which one it
    reads; ``one_frame``: it held one frame; ``error``: a still picture read where a recording is beside it), HDR
    colours not tone-mapped."""
    if probe is None:
        return [], None
    warnings = []
    if probe.late_s and not probe.lost_s:  # else its frames before are counted as a damaged start's
        warnings.append(f"{name}: starts {clock(probe.late_s)} late: its container's time line begins at 0 (its duration "
                        f"counts from there) and holds nothing before {clock(probe.late_s)} (its first part lost to "
                        "damage, or cut off without re-timing); frames are timed from there")
    tracks, error = track_notes(name, probe.tracks, size, one_frame)
    hdr = hdr_note(name, probe.hdr)
    return warnings + tracks + ([hdr] if hdr else []), error
