"""The session engine: the one frame loop of mpt-live. Frames in, per-window results out.

    with Session(source, runtime, SessionConfig(stride=2)) as session:
        for r in session:        # WindowResult objects in window order, each with r.timings (its speed)
            sink.write(r.row())
    summary = session.summary()  # what summary.json says about the run

Per frame: detect + align + buffer (:class:`~mpt_live.clip_stream.ClipStream`). Every ``stride``
frames the window goes to the model worker (:class:`~mpt_live.model_worker.ModelWorker`: magnify +
rank pool + classify). Without a model (motion-only) the loop is the same and the worker skips the
classify step. Results come back in order; the spotter marks windows inside motion events, which
sets the result's ``top`` and ``confidence``; then the result is yielded.

Any source works (:func:`mpt_live.capture.open_source`); a recorded one is decoded in its own
thread (:class:`~mpt_live.readahead.ReadAhead`). A live one (camera, stream, ``--realtime``)
delivers the newest frame only; its windows are dropped when the model is busy ("latest window
wins") and with ``stride=None`` a window is taken whenever a worker is free ("as often as the model
keeps up"). A recorded file gives every frame and every ``stride``-th window (default
:data:`FILE_STRIDE`) is classified, in order.

Per-frame consumers (the overlay of a window or annotated video, progress, a status line) pass
``on_frame(frame, face)``: it runs after the frame's finished windows have been yielded, so what it
draws is up to date. It may raise :class:`StopSession` to end the run cleanly (the window's q key).

A crash or Ctrl-C inside the loop still yields the windows already in the worker (for a few
seconds), then re-raises; :meth:`Session.summary` records ``interrupted`` and ``error``.
"""

from __future__ import annotations

import math
import time
from collections import deque
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from .clip import ClipSpec
from .clip_stream import NEVER, ClipStream
from .events import Spotter
from .face import FaceAligner, FaceResult
from .model_worker import ModelWorker
from .readahead import ReadAhead
from .results import EVENT, NEUTRAL, NO_FACE, WARMING, LabelTally, ModelInfo, WindowResult
from .sources import Frame

FILE_STRIDE = 2  # recorded files without --stride: a window every 2 frames, every one classified


@dataclass
class SessionConfig:
    stride: int | None = None  # None: live -> as often as the model keeps up; files -> FILE_STRIDE
    detector: str = "short"  # BlazeFace model: short | full
    spot_threshold: float = 4.0  # robust SDs above the motion baseline
    workers: int | None = None  # model worker threads (None: one per usable core)
    max_seconds: float | None = None  # stop after this long (benchmarks)
    thumbnails: bool = False  # the worker also makes the overlay's thumbnails


class StopSession(Exception):
    """Raised by a per-frame consumer to end the run cleanly (not an interruption, not an error)."""


class Session:
    """One run of the engine over ``source`` with ``runtime`` (None: motion-only); iterate it for results."""

    def __init__(self, source: Iterable[Frame], runtime: Any | None = None, cfg: SessionConfig | None = None,
                 on_frame: Callable[[Frame, FaceResult | None], None] | None = None) -> None:
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
        self.spotter = Spotter(self.spec.window_s, threshold=cfg.spot_threshold)
        self.tally = LabelTally()
        self.counts = {"frames_read": 0, "frames_with_face": 0, "windows": 0, "windows_scored": 0,
                       "windows_classified": 0}
        self.interrupted = False
        self.error: str | None = None
        self._latency: deque[float] = deque(maxlen=20000)
        self._model_ms: deque[float] = deque(maxlen=20000)
        self._worker: ModelWorker | None = None
        self._started: float | None = None
        self._ended: float | None = None
        self._gen: Iterator[WindowResult] | None = None

    # -- the loop ----------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[WindowResult]:
        if self._gen is None:
            self._gen = self._run()
        return self._gen

    def _run(self) -> Iterator[WindowResult]:
        cfg = self.cfg
        self._started = time.monotonic()
        with ExitStack() as stack:
            aligner = stack.enter_context(FaceAligner(image_size=self.spec.image_size, model=cfg.detector))
            stream = ClipStream(self.spec, aligner, stride=self.stride,
                                max_fps=max(self.fps, 60.0 if self.live else self.fps))
            worker = self._worker = ModelWorker(self.spec, self.runtime, live=self.live, thumbnails=cfg.thumbnails,
                                                workers=self._workers())
            stack.callback(worker.close)
            stack.callback(self._end)  # runs first: the run's time ends with its loop
            # a recorded source decodes in its own thread; a live one has its own reader already
            frames = self.source if self.live else stack.enter_context(ReadAhead(self.source))
            segment = 0
            try:
                for frame in frames:
                    now = time.monotonic()
                    if getattr(frame, "segment", 0) != segment:  # a reconnected stream: start a new track
                        segment = frame.segment
                        stream.ring.clear()
                        aligner.reset()
                    self.counts["frames_read"] += 1
                    if self.auto:  # take a window only when a worker is free: sampling one costs ms
                        stream.stride = 1 if worker.idle else NEVER
                    w = stream.push(frame)
                    if stream.last_face is not None:
                        self.counts["frames_with_face"] += 1
                    if w is not None:
                        worker.submit(w, getattr(frame, "captured", now))
                    for r in worker.poll():
                        yield self._spot(r)
                    if self.on_frame is not None:
                        self.on_frame(frame, stream.last_face)
                    if cfg.max_seconds is not None and time.monotonic() - self._started >= cfg.max_seconds:
                        break
                for r in worker.drain():
                    yield self._spot(r)
            except GeneratorExit:  # the consumer stopped iterating: nothing more to hand out
                raise
            except (StopSession, KeyboardInterrupt) as e:
                self.interrupted = isinstance(e, KeyboardInterrupt)
                yield from self._settle(worker)
                if self.interrupted:
                    raise
            except BaseException as e:
                self.error = f"{type(e).__name__}: {e}"
                yield from self._settle(worker)
                raise

    def _workers(self) -> int:
        if self.cfg.workers:
            return self.cfg.workers
        from .runtime import usable_cores  # imports onnxruntime: not at module level

        return usable_cores()

    def _spot(self, r: WindowResult) -> WindowResult:
        """Spot the window (in order), label it, count it."""
        r.spotted(self.spotter.update(r.time_s, r.motion_score if r.face else None, r.probabilities))
        c = self.counts
        c["windows"] += 1
        c["windows_scored"] += r.motion_score is not None
        if r.probs is not None:
            c["windows_classified"] += 1
            self._latency.append(r.latency_ms)
            self._model_ms.append(r.timings.get("inputs_ms", 0.0) + r.timings.get("model_ms", 0.0))
        self.tally.add(r.time_s, r.label)
        return r

    def _settle(self, worker: ModelWorker, timeout: float = 3.0) -> Iterator[WindowResult]:
        """After a stop or a crash: the windows already in the worker (briefly; a failed worker has none)."""
        try:
            results = worker.drain(timeout=timeout) if worker.error is None else []
        except Exception:
            return
        for r in results:
            yield self._spot(r)

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

    def summary(self) -> dict[str, Any]:
        """The run's figures: the body of summary.json (the job adds ``outputs``). Same keys for every run."""
        c, seconds = self.counts, self.seconds
        stats = getattr(self.source, "stats", None)
        return {
            "source": self.name,
            "mode": "live" if self.live else "file",
            **c,
            "windows_dropped": self.dropped,
            "source_fps": round(self.fps, 3),
            "source_fps_assumed": bool(getattr(self.source, "fps_assumed", False)),
            "source_seconds": round(seconds if self.live else c["frames_read"] / self.fps, 3),
            "seconds": round(seconds, 3),
            "fps": round(c["frames_read"] / seconds, 2) if seconds > 0 else None,
            "predictions_per_s": round(c["windows_classified"] / seconds, 2) if seconds > 0 else None,
            "stride": "auto" if self.auto else self.stride,
            "detector": self.cfg.detector,
            "model": self.model.to_dict(),
            "provider": self.model.provider or None,
            "clip_spec": self.spec.to_dict(),
            "spot_threshold": self.cfg.spot_threshold,
            "labels": self.tally.to_dict([*self.classes, NEUTRAL, EVENT, WARMING, NO_FACE]),
            "events": self.spotter.to_dicts(),
            "latency_ms": {"capture_to_prediction_p50": _pct(self._latency, 50),
                           "capture_to_prediction_p95": _pct(self._latency, 95),
                           "model_p50": _pct(self._model_ms, 50), "model_p95": _pct(self._model_ms, 95)},
            "capture": stats() if (self.live and callable(stats)) else None,
            "interrupted": self.interrupted,
            "error": self.error,
        }


def _pct(values: Iterable[float], q: float) -> float | None:
    a = np.fromiter(values, dtype=np.float64)
    return round(float(np.percentile(a, q)), 2) if a.size else None
