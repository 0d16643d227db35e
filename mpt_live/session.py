"""The session engine: the one frame loop of mpt-live. Frames in, per-window results out.

    with Session(source, runtime, SessionConfig(stride=2)) as session:
        for r in session:                 # WindowResult objects in window order, each with r.timings
            sink.write(r.row())
            for e in session.take_events():   # EventResult objects, as events close and are classified
                events.write(e.row(video))
    summary = session.summary()  # what summary.json says about the run

Per frame: every face is detected and given its track ID (:class:`~mpt_live.tracks.FaceTracker`, at most ``max_faces``;
a faint newcomer once confirmed: nothing is written for it before), aligned and stabilised by its own track, and pushed
into its :class:`~mpt_live.face_state.FaceState`: the face's clip buffer, motion signals and spotter. Every
``stride`` frames (one clock for all faces, so a face that appears later has its windows on the same
frames) the windows of all faces go to the model worker together (:class:`~mpt_live.model_worker.ModelWorker`:
magnify + rank pool, then one model call for them all); a frame without a face gives one "no face"
window. When an event of a face closes (about 5 s after its apex), the window centred on its apex goes to
the worker too, and the event's class is the model's class of that window. Without a model (motion-only)
the loop is the same and the worker skips the classify step.

A window is yielded once no later event of its face can cover it (:meth:`FaceState.horizon`) and the
events covering it are classified; its ``top`` is then the class of that event (``neutral`` outside
events). So results come a few seconds after their frame, in window order. A per-frame consumer
that must not wait (the overlay) reads :attr:`Session.latest` (each face's newest window, raw) and
:attr:`Session.recent` (each face's latest event).

Any source works (:func:`mpt_live.capture.open_source`); a recorded one is decoded in its own
thread (:class:`~mpt_live.readahead.ReadAhead`). A live one (camera, stream, ``--realtime``)
delivers the newest frame only; its windows are dropped when the model is busy (the newest window of
each face wins) and with ``stride=None`` windows are taken whenever a worker is free. A recorded file
gives every frame and every ``stride``-th window (default :data:`FILE_STRIDE`) is classified, in order; with
``start_s`` its frames before that time are decoded and passed over (``skipped``), and ``max_seconds`` ends it at
the first frame that many seconds of video after the first one analysed (``at_limit``; a live source: seconds of
wall-clock time).

Per-frame consumers pass ``on_frame(frame, faces)`` (faces: the frame's
:class:`~mpt_live.tracks.TrackedFace` list): it runs after the frame's final windows were yielded. It
may raise :class:`StopSession` to end the run cleanly (the window's q key). A crash or Ctrl-C inside
the loop still closes the spotters and yields what the worker finishes (for a few seconds), then
re-raises; :meth:`Session.summary` records ``interrupted`` and ``error``.
"""

from __future__ import annotations

import math
import time
from collections import deque
from contextlib import ExitStack
from typing import Any, Callable, Iterable, Iterator

from .clip import ClipSpec
from .clip_stream import Window
from .face_state import HISTORY_S, ClosedEvent, FaceState, in_onset_order
from .face_watch import FaceWatch, check_detector
from .identity import FaceEmbedder
from .model_worker import ModelWorker
from .interrupts import raise_held
from .machine import usable_cores
from .readahead import ReadAhead
from .results import EventResult, ModelInfo, WindowResult
from .run_summary import RunFigures, summarize
from .session_config import FILE_STRIDE, MAX_FACES, SessionConfig
from .sources import Frame
from .spotting import SpotConfig
from .tracks import FaceTracker, TrackedFace


class StopSession(Exception):
    """Raised by a per-frame consumer to end the run cleanly (not an interruption, not an error)."""


class Session:
    """One run of the engine over ``source`` with ``runtime`` (None: motion-only); iterate it for results."""

    def __init__(self, source: Iterable[Frame], runtime: Any | None = None, cfg: SessionConfig | None = None,
                 on_frame: Callable[[Frame, list[TrackedFace]], None] | None = None) -> None:
        self.source = source
        self.runtime = runtime
        self.cfg = cfg = cfg or SessionConfig()
        self.on_frame = on_frame
        self.spec: ClipSpec = runtime.clip_spec if runtime is not None else ClipSpec()
        self.model = ModelInfo.of(runtime)
        self.classes = tuple(self.model.classes)
        self.live = bool(getattr(source, "live", False))
        self.name = str(getattr(source, "name", "source"))
        fps = float(getattr(source, "fps", 0.0) or 0.0)
        self.fps = fps if fps > 0 and math.isfinite(fps) else 30.0
        self.auto = cfg.stride is None and self.live
        self.stride = 1 if self.auto else (cfg.stride or FILE_STRIDE)
        self.max_faces = MAX_FACES["live" if self.live else "file"] if cfg.max_faces is None else cfg.max_faces
        if self.max_faces < 0:
            raise ValueError(f"max_faces must be >= 0 (0: all), got {self.max_faces}")
        check_detector(cfg.detector)
        self.watch: FaceWatch | None = None  # the run's detector and its faces' figures (while the loop runs)
        self.states: dict[int, FaceState] = {}
        self.events: list[EventResult] = []  # every classified event, in the order they were finished
        self.latest: dict[int, WindowResult] = {}  # each present face's newest window (raw: before its label is final)
        self.recent: dict[int, EventResult] = {}  # each face's latest event
        self.faces: list[TrackedFace] = []  # the faces of the latest frame
        self.figures = RunFigures(self.stride / self.fps)  # counts, labels and timings of the run
        self.interrupted = False
        self.stopped = False  # ended before its source did: q/Esc, --max-seconds, a signal (interrupted) or an error
        self.at_limit = False  # stopped by max_seconds (a limit asked for, not an interruption)
        self.skipped = 0  # a file's frames before start_s: decoded, not analysed
        self.rerun = self.rerun_faces = 0  # --resume: frames (with a face) analysed again, up to cfg.after_frame
        self.rerun_by_face: dict[int, int] = {}  # --resume: each face's frames analysed again
        self._closed_before: set[tuple[int, int, int, str]] = set()  # --resume: events closed up to cfg.after_frame
        self.error: str | None = None
        self._tracker: FaceTracker | None = None
        self._new_events: deque[EventResult] = deque()
        self._held: deque[WindowResult] = deque()  # results waiting until no later event can cover them
        self._unclassified: dict[int, list[ClosedEvent]] = {}  # events at the worker, by face
        self._face_events: dict[int, deque[EventResult]] = {}
        self._worker: ModelWorker | None = None
        self._last: Frame | None = None
        self._started = self._ended = None  # monotonic times of the loop (floats once set)
        self._gen: Iterator[WindowResult] | None = None

    # -- the loop ----------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[WindowResult]:
        if self._gen is None:
            self._gen = self._run()
        return self._gen

    def take_events(self) -> list[EventResult]:
        """The events finished (closed and classified) since the last call."""
        out = list(self._new_events)
        self._new_events.clear()
        return out

    def _run(self) -> Iterator[WindowResult]:
        cfg = self.cfg
        self._started = time.monotonic()
        with ExitStack() as stack:
            watch = self.watch = stack.enter_context(FaceWatch(cfg.detector, self.max_faces, cfg.max_faces is not None,
                                                               self.spec.image_size, self.spec.align))
            tracker = self._tracker = FaceTracker(watch.aligner, self.max_faces, FaceEmbedder(), vouch=watch.vouch,
                                                  naming=cfg.written.name if cfg.written is not None else None)
            worker = self._worker = ModelWorker(self.spec, self.runtime, live=self.live, thumbnails=cfg.thumbnails,
                                                workers=self._workers(), batch=cfg.batch)
            stack.callback(worker.close)
            stack.callback(self._end)  # runs first: the run's time ends with its loop
            # a recorded source decodes in its own thread; a live one has its own reader already
            frames = self.source if self.live else stack.enter_context(ReadAhead(self.source))
            segment, limit_t = 0, None  # limit_t: a file's frame time where max_seconds ends the run
            try:
                for frame in frames:
                    raise_held()  # a stop signal that landed in a finaliser
                    if not self.live:
                        if cfg.passed_over(frame.t, frame.index):
                            self.skipped += 1
                            continue
                        if cfg.max_seconds is not None and not cfg.withheld(frame.index):  # from the new frames
                            limit_t = frame.t + cfg.max_seconds if limit_t is None else limit_t
                            if frame.t >= limit_t - 1e-6:
                                self.stopped = self.at_limit = True
                                break
                    now = time.monotonic()
                    captured = getattr(frame, "captured", now)
                    if getattr(frame, "segment", 0) != segment:  # a reconnected stream: every track restarts
                        segment = frame.segment
                        self._close_faces(worker, captured)
                        tracker.reset()
                    self.figures.counts["frames_read"] += 1
                    if cfg.withheld(frame.index):
                        self.rerun += 1
                    self.figures.unlooked = 1  # until the tracker has looked for its faces (a stop may land first)
                    self._frame(frame, tracker, worker, captured)
                    for r in worker.poll():
                        self._take(r)
                    yield from self._release()
                    if self.on_frame is not None:
                        self.on_frame(frame, self.faces)
                    if self.live and cfg.max_seconds is not None and time.monotonic() - self._started >= cfg.max_seconds:
                        self.stopped = self.at_limit = True
                        break
                if self.skipped and not self.figures.counts["frames_read"]:  # a header that gave no duration
                    where = f"at or after the start ({cfg.start_s:g} s)" if cfg.from_frame is None else \
                        f"from frame {cfg.from_frame}"
                    self.error = f"no frame {where}: the video ends before it"
                self._close_faces(worker, time.monotonic())
                for r in worker.drain():
                    self._take(r)
                yield from self._release(final=True)
            except GeneratorExit:  # the consumer stopped iterating: nothing more to hand out
                raise
            except (StopSession, KeyboardInterrupt) as e:
                self.interrupted, self.stopped = isinstance(e, KeyboardInterrupt), True
                yield from self._settle(worker)
                if self.interrupted:
                    raise
            except BaseException as e:
                self.error, self.stopped = f"{type(e).__name__}: {e}", True
                yield from self._settle(worker)
                raise

    def _frame(self, frame: Frame, tracker: FaceTracker, worker: ModelWorker, captured: float) -> None:
        """Track the frame's faces, feed each face's state, submit its windows and its closed events."""
        for fid in set(self.latest) - {f.id for f in self.faces}:  # gone from the last frame (its on_frame took it)
            del self.latest[fid]  # a lost face's windows in flight set it again after the loss's pop: dropped here
        t0 = time.perf_counter()
        if self.cfg.written is not None:  # --resume: a face confirmed in the pre-roll keeps the run before's ID
            self.cfg.written.frame = frame.index
        faces, lost = tracker.update(frame.image, frame.t)
        self.watch.see(frame.image, frame.t, faces, tracker)  # auto: full-range looks now and then while faces are missing
        track_ms = (time.perf_counter() - t0) * 1e3
        self.faces, self._last = faces, frame
        if self.cfg.written is not None and self.cfg.withheld(frame.index):  # --resume: its faces, the run before's
            self.cfg.written.see(frame.index, faces)
        if faces:
            self.figures.counts["frames_with_face"] += 1
        self.figures.unlooked = 0  # its faces looked for and counted (a stop in watch.see: not yet)
        if faces:
            self.rerun_faces += self.cfg.withheld(frame.index)
            for f in faces if self.cfg.withheld(frame.index) else []:  # not in the faces' frame counts
                self.rerun_by_face[f.id] = self.rerun_by_face.get(f.id, 0) + 1
        closed: list[ClosedEvent] = []
        # a camera cut ends every face's signals and buffer (no window spans a cut); a cut of one face's region
        # (another person in its place, an occluder) ends that face's; either starts its spotter's baseline anew
        for state in self.states.values() if tracker.cut else [self.states[i] for i in tracker.cut_ids if i in self.states]:
            closed += state.push(frame, None, cut=True, camera=tracker.cut)
        spot: dict[int, float] = {}
        for f in faces:
            state = self.states.get(f.id)
            if state is None:
                state = self.states[f.id] = FaceState(f.id, self.spec, self.fps, HISTORY_S,
                                                      SpotConfig(threshold=self.cfg.spot_threshold))
            closed += state.push(frame, f.face, change=tracker.changes.get(f.id))
            spot[f.id] = state.spot_ms
            self.figures.spotted(state.spot_ms, state.spot_cpu_ms)  # CPU time: every CPU_EVERY-th push (face_state.py)
        for fid in lost:
            closed += self.states[fid].push(frame, None)
            self.latest.pop(fid, None)  # the view keeps what it took of it (a window still in flight: see above)
        for tr in tracker.tracks if lost else []:  # a lost track's smoothing and stabiliser reference (a 112 px
            if tr.id in lost:  # float crop) are reset at its return whatever they hold: dropped now, not kept until
                tr.aligner.reset()  # then (its gallery, which re-identification reads, stays)
        for c in in_onset_order(closed):
            if self.cfg.withheld(frame.index):  # --resume: closed before the resume point, so written by the run before
                self._closed_before.add((c.face_id, c.event.onset, c.event.apex, c.event.type))
            self._classify(c, worker, captured)
        take = worker.idle if self.auto else (self.figures.counts["frames_read"] - 1) % self.stride == 0
        if not take:
            return
        timings = {"track_ms": track_ms}
        windows = [] if faces else [Window(frame.t, frame.index, None, None, timings)]
        for f in faces:  # every face's window falls due on this frame: one model call classifies them all
            t1 = time.perf_counter()
            clip = self.states[f.id].window(frame.t)
            w_timings = {**timings, "spot_ms": spot[f.id], "sample_ms": (time.perf_counter() - t1) * 1e3}
            windows.append(Window(frame.t, frame.index, f.face, clip, w_timings, face_id=f.id))
        worker.submit_all(windows, captured)

    def _classify(self, c: ClosedEvent, worker: ModelWorker, captured: float) -> None:
        """An event closed: the model classifies its apex window (motion-only or unbuffered: no class)."""
        if self.runtime is None or c.clip is None:
            self._finish(EventResult.of(c.face_id, c.event, None, ()))
            return
        self._unclassified.setdefault(c.face_id, []).append(c)
        worker.submit(Window(c.event.apex_s, c.event.apex, None, c.clip, {}, face_id=c.face_id, event=c), captured)

    def _close_faces(self, worker: ModelWorker, captured: float) -> None:
        """End every face's signals (end of the source, a new segment, a stop): their last events close."""
        if self._last is None:
            return
        end = Frame(self._last.index + 1, self._last.t + 1.0 / self.fps, self._last.image)
        for c in in_onset_order([c for state in self.states.values() for c in state.push(end, None)]):
            self._classify(c, worker, captured)
        self.faces = []

    def _take(self, r: WindowResult) -> None:
        """A result from the worker: an event's class, or a window to hold until it is final."""
        if r.for_event is not None:
            c: ClosedEvent = r.for_event
            self._unclassified[c.face_id].remove(c)
            self._finish(EventResult.of(c.face_id, c.event, r.probs, self.classes))
            return
        if r.face_id is not None:
            self.latest[r.face_id] = r
        self._held.append(r)

    def _finish(self, e: EventResult) -> None:
        ev, written = e.event, self.cfg.written
        self._face_events.setdefault(e.face_id, deque(maxlen=64)).append(e)  # labels the windows it covers
        if written is not None and ((e.face_id, ev.onset, ev.apex, ev.type) in self._closed_before
                                    or written.has(e.face_id, ev.type, ev.onset, ev.offset)):
            return  # --resume: written by the run before (its windows after the resume point are still its)
        e.event_id = len(self.events) + self.cfg.first_event_id  # its row's number in events.csv, in this order
        self.events.append(e)
        self._new_events.append(e)
        self.recent[e.face_id] = e

    def _horizon(self, face_id: int) -> float:
        h = self.states[face_id].horizon() if face_id in self.states else math.inf
        waiting = [c.event.onset for c in self._unclassified.get(face_id, [])]
        return min([h, *waiting])

    def _release(self, final: bool = False) -> Iterator[WindowResult]:
        """Hand out the held windows, oldest first, as far as they are final; label and count each."""
        while self._held:
            r = self._held[0]
            if not final and r.face_id is not None and r.frame >= self._horizon(r.face_id):
                return
            self._held.popleft()
            if self.cfg.withheld(r.frame):
                continue
            covering = [e for e in self._face_events.get(r.face_id, ()) if e.covers(r.time_s)] if r.face else []
            r.labelled(max(covering, key=lambda e: e.event.score) if covering else None)
            yield self.figures.count(r)

    def _settle(self, worker: ModelWorker, timeout: float = 3.0) -> Iterator[WindowResult]:
        """After a stop or a crash: close the spotters, take what the worker finishes (briefly), hand out all."""
        try:  # a worker that failed raises here (submit, drain): the run failed, whatever stopped it
            self._close_faces(worker, time.monotonic())
            for r in worker.drain(timeout=timeout):
                self._take(r)
        except Exception as e:
            self.error = self.error or f"{type(e).__name__}: {e}"
        for faces in self._unclassified.values():  # not classified in time: kept without a class
            for c in faces:
                self._finish(EventResult.of(c.face_id, c.event, None, ()))
        self._unclassified.clear()
        yield from self._release(final=True)

    def _workers(self) -> int:
        return self.cfg.workers or usable_cores()

    def _end(self) -> None:
        self._ended = time.monotonic()

    def close(self) -> None:
        """Stop the loop (if it is running) and release the detector and the worker threads."""
        if self._gen is not None:
            self._gen.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the run says about itself -------------------------------------------------------------
    @property
    def seconds(self) -> float:
        if self._started is None:
            return 0.0
        return (self._ended or time.monotonic()) - self._started

    @property
    def dropped(self) -> int:
        """Windows a live run dropped because the model was busy."""
        return self._worker.dropped if self._worker is not None else 0

    @property
    def worker(self) -> ModelWorker | None:
        """The run's model worker (None before the loop starts): its ``error``, ``dropped`` and batch figures."""
        return self._worker

    @property
    def tracker(self) -> FaceTracker | None:
        """The run's face tracker (None before the loop starts)."""
        return self._tracker

    @property
    def last_frame(self) -> Frame | None:
        """The latest frame the loop read (None before the first)."""
        return self._last

    def summary(self) -> dict[str, Any]:
        """The run's figures: the body of summary.json (the job adds ``outputs``). Same keys for every run
        (:func:`mpt_live.run_summary.summarize`)."""
        return summarize(self)
