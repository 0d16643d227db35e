"""One tracked face inside the session: its clip buffer, its motion signals and spotter.

Every face track (:mod:`mpt_live.tracks`) gets a :class:`FaceState`. Each frame the session pushes the
face's aligned crop (or None when the face is not in the frame any more) with :meth:`FaceState.push`:

* the crop enters a ring of the last ``history_s`` seconds: the model's windows are sampled from it,
  and so is the window centred on the apex of an event that closes seconds after its apex;
* :class:`~mpt_live.facemotion.FaceMotion` turns it into regional motion signals (2.5 s later) and
  :class:`~mpt_live.spotting.Spotter` turns those into events (onset, apex, offset, micro/macro).

``push`` returns the events that closed, each with the frames of the window centred on its apex (the
model classifies that clip). A frame without the face ends the track's signals: the spotter judges
what is open, then the buffer is emptied (a window never spans two appearances) and, with the motion signals'
smoothed frames, gives its memory back: a run holds the frames of the faces present, not of every face it has seen
(a talk show's guests in turn), while each face's spotter (its baseline) stays. A cut of the face's
region (``push(frame, None, cut=True)``: an occluder, another person) also starts the spotter's statistics and
warm-up anew: what is seen after it is not judged against the face before it; a camera cut (``camera=True``) keeps
them, as the tracker gives the face's ID back only to the same person (``SpotConfig.cut_keep``).
:meth:`horizon` is the earliest frame a later event of this face can start at: windows before it are final.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from .clip import ClipFrames, ClipSpec, FrameRing
from .errors import counted
from .face import FaceResult
from .facemotion import FaceMotion
from .interrupts import deferred
from .sources import Frame
from .occlusion import OcclusionWatch
from .spotting import SpotConfig, SpotEvent, Spotter

HISTORY_S = 10.0  # aligned frames kept per face: an event closes ~5 s (up to ~10 s) after its apex
# the spotting's thread CPU time is read on every CPU_EVERY-th push only: inside a running session on this
# project's 2-core sandbox one time.thread_time() call took ~1 ms of wall time (2 per push: 2.3-3.5 ms of a
# 0.8-1.0 ms push), against ~1 us in a quiet process; getrusage(RUSAGE_THREAD) is cheap but counts in ~3 ms steps
CPU_EVERY = 8
# a face's ring grows (frames faster than the source's stated rate: a variable-rate recording's stretches above its
# header's average) to this many times the frames that rate needs for its history at most (~200 MB at 224 px, 30 fps)
RING_GROWTH = 4


@dataclass
class ClosedEvent:
    """An event of one face as it closes, with the clip the model classifies it on."""

    face_id: int
    event: SpotEvent
    clip: ClipFrames | None  # the frames of the window centred on the apex; None: not buffered any more


def in_onset_order(closed: list[ClosedEvent]) -> list[ClosedEvent]:
    """The events that close at one frame, of several faces (a camera cut, a stop, the end of the video close
    every face's open ones at once), by onset, then face: events.csv's rows, written in this order, came face by
    face there (a face's three events of the last 5 s, then the next face's)."""
    return sorted(closed, key=lambda c: (c.event.onset_s, c.face_id))


class FaceState:
    """The per-face stages of the session engine between the tracker and the model worker."""

    def __init__(self, face_id: int, spec: ClipSpec, fps: float, history_s: float = HISTORY_S,
                 spot: SpotConfig | None = None) -> None:
        self.id = face_id
        self.spec = spec
        self.history_s = max(history_s, 1.25 * spec.window_s)  # seconds of frames the ring holds
        capacity = int(math.ceil(max(fps, 1.0) * 1.1 * self.history_s)) + 4
        self.ring = FrameRing(capacity, (spec.image_size, spec.image_size, 3))
        self._capacity_max = RING_GROWTH * capacity
        self.fps = fps
        self.motion: FaceMotion | None = FaceMotion(fps)  # None while the face is gone (a new one at its return)
        self.spotter = Spotter.for_motion(self.motion, spot)
        self.occlusion = OcclusionWatch(self.spotter.micro.k / fps)  # candidates an occluder's abrupt change explains:
        self.spotter.drop_where(self.occlusion.occluded)  # dropped before the spotter resolves its scales
        self.face: FaceResult | None = None  # in the latest frame (None: not in it)
        self.frames = 0  # frames with this face
        self.seen: tuple[float, float] | None = None  # times of the first and latest frame with this face
        self.unbuffered = 0  # events whose apex window had left the buffer
        self.spot_ms = 0.0  # FaceMotion + Spotter of the latest push: wall ms
        self.spot_cpu_ms: float | None = None  # ... and CPU ms of this thread (a shared core does not inflate
        # it), on every CPU_EVERY-th push of this face (None on the others)
        self._pushes = 0
        self._first: int | None = None  # first frame of the current appearance
        self._signalled: int | None = None  # last frame whose signals reached the spotter

    @property
    def present(self) -> bool:
        return self.face is not None

    def push(self, frame: Frame, face: FaceResult | None, cut: bool = False, camera: bool = False,
             change: float | None = None) -> list[ClosedEvent]:
        """The face's crop in ``frame`` (None: the face is gone); returns the events that closed. ``cut`` (with None):
        the face's region was cut (an occluder, another person): its spotter's baseline starts anew; ``camera``: by
        a camera cut, after which only the same person gets this ID back: the baseline is kept
        (``SpotConfig.cut_keep``). ``change``: the face's region change since the frame before (the tracker's
        ``changes``): the events an occluder's abrupt change explains are dropped (:mod:`mpt_live.occlusion`). A stop
        signal in the middle is raised when the face's stages are done
        (:func:`~mpt_live.interrupts.deferred`): raised half way through its spotter's push, it left the spotter's
        frames and counts apart, and closing its open events at the stop failed (a Ctrl-C run 'failed' with
        "IndexError: deque index out of range", about 1 stop in 25 on a short video)."""
        with deferred():
            if face is not None:
                self.occlusion.add(frame.t, change)
            return self._push(frame, face, cut, camera)

    def _push(self, frame: Frame, face: FaceResult | None, cut: bool, camera: bool) -> list[ClosedEvent]:
        if face is None and self.face is None:
            if cut:
                self.spotter.flush(cut=True, camera=camera)  # judged when the face went: nothing open
            return []  # still gone: nothing to do
        timed = self._pushes % CPU_EVERY == 0
        self._pushes += 1
        t0, c0 = time.perf_counter(), (time.thread_time() if timed else 0.0)
        if face is not None:
            if self.face is None:
                self._first = frame.index
                self.motion = self.motion or FaceMotion(self.fps)  # as the one flushed at the loss, which reads
                # nothing of the track before (its smoothed frames are written before they are read)
            self.frames += 1
            self.seen = (frame.t if self.seen is None else self.seen[0], frame.t)
            if self.ring.latest_time is not None and frame.t <= self.ring.latest_time:
                self.ring.clear()  # time went back (a looped or reconnected source)
            self._make_room(frame.t)
            self.ring.push(frame.t, face.aligned)
        closed: list[SpotEvent] = []
        crop = None if face is None else (face.motion if face.motion is not None else face.aligned)
        for s in self.motion.push(frame.index, frame.t, crop):
            closed += self.spotter.push(s)
            self._signalled = s.frame
        if face is None:
            closed += self.spotter.flush(cut=cut, camera=camera)
        self.spot_ms = (time.perf_counter() - t0) * 1e3
        self.spot_cpu_ms = (time.thread_time() - c0) * 1e3 if timed else None
        out = [ClosedEvent(self.id, e, self.apex_clip(e)) for e in closed]
        if face is None:  # the face's frames are not read again (a window never spans two appearances): their
            self.ring.release()  # memory goes back, so a run holds the frames of the faces present, not of every
            self.motion = None  # face seen (ring ~50 MB at 224 px, motion's smoothed frames ~7 MB at 30 fps); the spotter stays
        self.face = face
        return out

    def _make_room(self, t: float) -> None:
        """Double a full ring whose frames span less than ``history_s`` before ``t``: its capacity is set at the
        source's stated rate, the average of a variable-rate recording, whose stretches at over twice that rate held
        under half the history (an event closing seconds after its apex lost its apex window). Up to
        :data:`RING_GROWTH` times the frames the stated rate needs."""
        ring = self.ring
        if len(ring) < ring.capacity or ring.oldest_time <= t - self.history_s or ring.capacity >= self._capacity_max:
            return
        times, frames = ring.ordered()
        self.ring = FrameRing(min(2 * ring.capacity, self._capacity_max), frames.shape[1:], frames.dtype)
        for when, image in zip(times, frames):
            self.ring.push(float(when), image)

    def window(self, t_end: float) -> ClipFrames | None:
        """The frames of the window ending at ``t_end`` (sampled into its clip off the frame loop, by the
        model worker); None while less than a window is buffered."""
        if self.ring.covers(t_end - self.spec.window_s, t_end):
            return self.ring.frames_for(t_end, self.spec)
        return None

    def apex_clip(self, event: SpotEvent) -> ClipFrames | None:
        """The window centred on the event's apex (shifted inside the buffer at a track's ends)."""
        w = self.spec.window_s
        oldest, latest = self.ring.oldest_time, self.ring.latest_time
        if oldest is None or latest - oldest < w - 1e-3:
            self.unbuffered += 1
            return None
        t_end = min(max(event.apex_s + w / 2, oldest + w), latest)
        if abs(t_end - w / 2 - event.apex_s) > w / 2:  # the apex is not inside what is buffered
            self.unbuffered += 1
            return None
        return self.ring.frames_for(t_end, self.spec)

    def horizon(self) -> float:
        """The earliest frame a later event of this face can start at (inf: none can)."""
        if self.face is None:
            return math.inf  # gone: its spotter has judged everything
        h = self.spotter.horizon()
        nxt = self._signalled + 1 if self._signalled is not None and self._signalled >= (self._first or 0) \
            else self._first
        return float(min(h if h is not None else math.inf, nxt if nxt is not None else math.inf))


def too_short_to_spot(name: str, states: Iterable[FaceState], stopped: bool = False, start_s: float | None = None,
                      max_seconds: float | None = None) -> list[str]:
    """A warning when faces were seen but none long enough for its spotter to judge a single frame: a run whose
    events.csv is empty because it could not have found one, not because nothing moved. The spotter's baseline
    needs ``warmup_s`` of signals by the frames' own times, its scales are set in frames at the source's nominal
    rate and read in the frames' times (FaceMotion), so the condition is stated in both, with the seconds of video
    they span (a --realtime run that left out frames it had no time for needs fewer frames for the baseline). ``stopped``: the run ended before its source did
    (Ctrl-C, a full disk, an error), so it is the stop, not the recording, that was too short. ``start_s`` (--start)
    and ``max_seconds`` (--max-seconds, where it ended the run): a stretch of the recording was asked for, and it is
    that stretch, not the recording, that was too short."""
    seen = [s for s in states if s.frames]
    if not seen or any(s.spotter.judged for s in seen):
        return []
    best = max(seen, key=lambda s: (s.spotter.micro.n_seen, s.frames))
    spotter, (t0, t1) = best.spotter, best.seen or (0.0, 0.0)
    warmup, k = spotter.micro.warmup, spotter.micro.k
    stretch = ", ".join(([f"from --start {start_s:g} s"] if start_s else [])
                        + ([f"--max-seconds {max_seconds:g}"] if max_seconds is not None else []))
    said = "stopped before the spotter could judge a frame" if stopped else \
        f"the stretch analysed ({stretch}) too short to spot movements: no face was seen in it long enough for the " \
        "spotter to judge a frame" if stretch else \
        "too short to spot movements: no face was seen long enough for the spotter to judge a frame"
    return [f"{name}: {said} "
            f"(the face seen longest: {counted(best.frames, 'frame')} over {t1 - t0 + 1 / spotter.fps:.1f} s of "
            f"video, {spotter.micro.n_seen} of them with motion signals; at {spotter.fps:.4g} fps its first "
            f"{spotter.cfg.warmup_s:g} s of signals ({counted(warmup, 'frame')} at that rate) set the spotter's baseline, and a "
            f"frame has signals where the face is seen in the {k / spotter.fps:.3g} s ({counted(k, 'frame')} at that "
            f"rate) before and after it: "
            f"{spotter.frames_needed} frames of one face in a row): no events could be found"]
