"""Micro- and macro-expression spotting on per-frame regional motion, streaming (torch-free).

Input: the :class:`~mpt_live.facemotion.FrameSignals` of one face, frame by frame (bump maps at a micro scale of 0.5
s and a macro scale of 2.5 s, see :mod:`mpt_live.facemotion`). Each scale has a :class:`~mpt_live.spot_channel.Channel`,
which finds and judges that scale's candidates (the evidence, its hysteresis, the extent and the gates: blink, head,
echo, speech; :mod:`mpt_live.spot_channel`). A face cut (``Spotter.flush(cut=True)``) judges what is open, its extent
ending before the cut (and a later one's starting after it), and starts the statistics anew with a warm-up of
``cut_warmup_s``; a camera cut (``camera=True``) keeps them (``cut_keep``: the tracker gives a face's ID back only to
the same person; ``bench/spotting_cuts.py``, docs/spotting.md).

Micro vs macro is by duration (at most ``micro_max_s`` from onset to the end of the offset frame, in the frames' own
times, the offset frame lasting its own period). The macro channel decides movements longer than the micro scale,
so a micro candidate inside a macro event is that event's peak, not a second event.

The same frames with the same times give the same events whatever frame rate the stream states (29.97 or 29.95 for
30), and a face first seen a few frames later gives the same events once the statistics' window no longer reaches
its first frame: every duration here is in the frames' times (the open candidate's ``max_open_s`` too) and the
statistics have no refresh phase. Counts of frames stand only for the scales ``k`` (set by FaceMotion, which, as
the channels, reads them in the frames' times: ``k / fps`` seconds, as the speech test's ``flank_s``, the extents and
the test of a micro candidate inside a macro one, twice the micro scale), and floors beside a time: the reach of a
candidate still to come (``k`` frames or ``k / fps`` s, whichever reaches further) and the latency bound (``max_wait``
frames and as long in time, or 4 times as many frames where times stand still), and a candidate's length where its
times stand still or go back (those steps counted as frames of the stated rate, as the extents count them).

Latency: the signals' delay (2.5 s + 1/30 s) plus the candidate's length and one second after it.
``Spotter.push(signals) -> closed events``; ``flush()`` at the end of the stream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .facemotion import FaceMotion, FrameSignals
from .spot_channel import Candidate, Channel, SpotConfig  # SpotConfig: the settings of both scales and of Spotter

# video, face (track id), onset/apex/offset in seconds and as 0-based frame indices (inclusive), type micro|macro,
# class (empty without a model), its confidence, and the spotting score; event_id first: the event's number in the run
# (1, 2, ... in the order events closed and were written: the row's number in the file), the same in summary.json and
# on report.html, so "event 5" there is found here
EVENT_COLUMNS = ["event_id", "video", "face", "onset_s", "apex_s", "offset_s", "onset_frame", "apex_frame", "offset_frame",
                 "type", "class", "confidence", "score"]


@dataclass
class SpotEvent:
    """One spotted movement (0-based frame indices, inclusive)."""

    onset: int
    apex: int
    offset: int
    onset_s: float
    apex_s: float
    offset_s: float
    type: str           # micro | macro
    score: float        # peak evidence (robust z units)
    cells: list[int] = field(default_factory=list)  # grid cells (row * 14 + col) where it moved

    def row(self, video: str, face: int | str = 0, cls: str | None = None, confidence: float | None = None,
            event_id: int | None = None) -> dict:
        """The ``events.csv`` row (columns :data:`EVENT_COLUMNS`; ``event_id`` is the run's to give:
        :attr:`mpt_live.results.EventResult.event_id`)."""
        return {"event_id": event_id, "video": video, "face": face, "onset_s": round(self.onset_s, 4), "apex_s": round(self.apex_s, 4),
                "offset_s": round(self.offset_s, 4), "onset_frame": self.onset, "apex_frame": self.apex,
                "offset_frame": self.offset, "type": self.type, "class": cls, "confidence": confidence,
                "score": round(self.score, 3)}


class Spotter:
    """Streaming spotter of one face: ``push`` each frame's signals, get the events that closed. ``fps``,
    ``micro_k`` and ``macro_k`` must match the FaceMotion that makes the signals (:meth:`for_motion`)."""

    def __init__(self, fps: float, micro_k: int, macro_k: int, config: SpotConfig | None = None) -> None:
        self.fps = float(fps)
        self.cfg = config or SpotConfig()
        self.micro = Channel(micro_k, fps, self.cfg)
        self.macro = Channel(macro_k, fps, self.cfg)
        # bounded latency: a judged candidate waits at most this long for the other scale, in frames at the stated
        # rate and in time (_waited)
        self.max_wait = self.macro.max_open + 2 * self.macro.k + self.macro.flank
        self._micro_wait: list[Candidate] = []   # judged, waiting for the other scale
        # (onset time, offset time) -> whether an occluder explains a candidate there (FaceState's OcclusionWatch)
        self.occluded: Callable[[float, float], bool] | None = None
        self.occluded_count = 0  # candidates dropped as occluded
        self._macro_wait: list[Candidate] = []

    def drop_where(self, occluded: Callable[[float, float], bool]) -> None:
        """From now on, drop each candidate that ``occluded`` (asked of its onset and offset times, s) says an occluder
        explains, before the two scales are resolved (counted in ``occluded_count``)."""
        self.occluded = occluded

    @classmethod
    def for_motion(cls, motion: FaceMotion, config: SpotConfig | None = None) -> "Spotter":
        """A spotter matching a :class:`~mpt_live.facemotion.FaceMotion`'s scales."""
        return cls(motion.fps, motion.k_micro, motion.k_macro, config)

    def is_micro(self, onset_s: float, offset_s: float, period_s: float | None = None) -> bool:
        """Micro: at most ``micro_max_s`` from the start of the onset frame to the end of the offset frame (lasting
        ``period_s``, its own period by the times, :meth:`Channel.period_at`; None: one period at the stated rate), by
        the container's times, not a frame count at the nominal rate (a variable-rate recording's frames are not
        1 / fps apart, nor its offset frame 1 / fps long: 15 frames of a 30 fps stretch under a 22.5 fps header
        are micro); 15 frames of 29.97 fps (0.5005 s) are micro."""
        period = 1.0 / self.fps if period_s is None else period_s
        return offset_s - onset_s + period <= self.cfg.micro_max_s + 1e-3

    def _micro(self, c: Candidate) -> bool:
        """:meth:`is_micro` by the candidate's times, and by its span where times stand still or go back (its frames
        there counted at the stated rate, as the extent counts them: :class:`~mpt_live.spot_channel.Candidate`)."""
        period = 1.0 / self.fps if c.period_s is None else c.period_s  # is_micro's default
        counted = c.span is None or c.span / self.fps + period <= self.cfg.micro_max_s + 1e-3
        return counted and self.is_micro(c.onset.time_s, c.offset.time_s, c.period_s)

    def _event(self, c: Candidate) -> SpotEvent:
        kind = "micro" if self._micro(c) else "macro"
        return SpotEvent(c.onset.frame, c.apex.frame, c.offset.frame, c.onset.time_s, c.apex.time_s,
                         c.offset.time_s, kind, c.apex.e, c.cells)

    def _waited(self, c: Candidate) -> bool:
        """Whether a judged candidate has waited out the latency bound: the newest frame ``max_wait`` frames and
        ``max_wait / fps`` s (less half a period) past its offset, or ``4 * max_wait`` frames whatever their times (times
        that stand still). Counted alone, frames faster than stated (90 fps under a 30 fps header) ended the wait before
        the other scale had judged its candidate over the same movement, which was then reported twice; in time alone,
        slower ones could, as a channel judges an apex no sooner than its wait counted and in time (Channel._finalise)."""
        n = self.micro.count - 1 - c.offset.pos
        later = self.micro.frames[-1].time_s - c.offset.time_s
        return n >= 4 * self.max_wait or (n >= self.max_wait and later >= (self.max_wait - 0.5) / self.fps)

    def _spans_micro_twice(self, m: Candidate) -> bool:
        """Whether a macro candidate runs at least twice the micro scale (``2 k / fps`` s) from onset to offset, by the
        frames' times (within half a period: at a constant rate ``2 k`` frames counted). Counted in frames, a
        macro candidate of 1 s in a 15 fps stretch under a 30 fps header (15 frames) was not long enough, and the micro
        candidate at its peak was reported beside it; in a 60 fps stretch one of 0.5 s was. Its frames counted where
        times stand still or go back (its span, as :meth:`_micro`): by the times alone such a candidate was never long
        enough, and a movement of 1.2-3 s whose times stood still was reported as the micro event at its peak."""
        twice = 2 * self.micro.k - 0.5
        return m.offset.time_s - m.onset.time_s >= twice / self.fps or (m.span is not None and m.span >= twice)

    def _step(self, micro: list[Candidate], macro: list[Candidate], force: bool = False) -> list[SpotEvent]:
        """Resolve the two scales: a movement seen by both is reported once. A candidate that ``occluded`` says an
        occluder explains (:mod:`mpt_live.occlusion`) is dropped first, so that it hides no movement beside it."""
        if self.occluded is not None:
            n = len(micro) + len(macro)
            micro, macro = ([c for c in cs if not self.occluded(c.onset.time_s, c.offset.time_s)]
                            for cs in (micro, macro))
            self.occluded_count += n - len(micro) - len(macro)
        self._micro_wait += micro
        self._macro_wait += macro
        overlaps = lambda a, b: (b.onset.pos <= a.apex.pos <= b.offset.pos  # noqa: E731
                                 or a.onset.pos <= b.apex.pos <= a.offset.pos)
        out, keep = [], []
        macro_reach, micro_reach = self.macro.reach(), self.micro.reach()
        for c in self._micro_wait:
            if not force and macro_reach <= c.offset.pos and not self._waited(c):
                keep.append(c)  # a macro-scale candidate may still cover it
                continue
            over = [m for m in self._macro_wait if overlaps(c, m)]
            if over and (not self._micro(c)
                         or any(self._spans_micro_twice(m) for m in over)):
                continue  # the peak of a longer movement, which the macro scale sees whole
            for m in over:  # short enough for the micro scale to see whole: its extent is cleaner
                self._macro_wait.remove(m)
            out.append(self._event(c))
        self._micro_wait = keep
        still = []
        for m in self._macro_wait:
            if force or self._waited(m) or (
                    micro_reach > m.offset.pos and not any(overlaps(c, m) for c in keep)):
                out.append(self._event(m))
            else:
                still.append(m)
        self._macro_wait = still
        return sorted(out, key=lambda e: e.onset)

    @property
    def judged(self) -> int:
        """Frames the micro scale has judged, past its warm-up (``warmup_s`` of signals, which set each face's
        baseline): while 0, no event can have been found."""
        return self.micro.n_judged

    @property
    def frames_needed(self) -> int:
        """Frames of one face in a row before the first is judged: the micro scale's warm-up (``warmup_s`` of
        signals, in frames at the nominal rate) and the ``k`` frames before and after each frame's signals."""
        return self.micro.warmup + 2 * self.micro.k

    def horizon(self) -> int | None:
        """The earliest frame an event still to come out of this spotter can start at; None: only frames
        after the last one pushed. Windows before it are final (no later event covers them)."""
        starts = [c.onset.frame for c in self._micro_wait + self._macro_wait]
        starts += [f for f in (ch.frame_at(ch.reach()) for ch in (self.micro, self.macro)) if f is not None]
        return min(starts) if starts else None

    def push(self, signals: FrameSignals) -> list[SpotEvent]:
        """One frame's signals (in frame order); returns the events that closed."""
        return self._step(self.micro.push(signals, signals.micro), self.macro.push(signals, signals.macro))

    def flush(self, cut: bool = False, camera: bool = False) -> list[SpotEvent]:
        """End of the stream or of the face's signals: judge what is still open. ``cut``: the face's region was cut (an
        occluder, another person in its place, a new shot): no extent reaches the cut frame or, later, back before it,
        and the statistics and warm-up (``cut_warmup_s``) start anew, so that what follows is judged against its own
        signals, not against what was there before; ``camera``: a camera cut, after which the tracker gives the
        face's ID back only to the same person: with ``cut_keep`` its statistics are kept."""
        events = self._step(self.micro.flush(cut), self.macro.flush(cut), force=True)
        for ch in (self.micro, self.macro) if cut and not (camera and self.cfg.cut_keep) else ():
            ch.restart(self.cfg.cut_warmup_s)
        return events
