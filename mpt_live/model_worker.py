"""The model worker: magnify + rank pool + classify windows in threads, off the frame loop.

Without a classifier (motion-only) the worker does the same minus the classify step: the motion
score comes from the same ``model_inputs`` either way.

Two queueing policies:

* ``live=True`` (camera, stream, ``--realtime``): one pending slot per face, the newest window of a
  face replaces that face's window still waiting (latest window wins; replaced windows are counted in
  ``dropped``), and ``submit`` never blocks, so the display never waits for the model. The window of
  an event (its apex, ``Window.event``) is never replaced.
* ``live=False`` (recorded files): a short FIFO; ``submit`` blocks while it is full, so every
  window is classified.

The windows of one frame (one per face, :meth:`ModelWorker.submit_all`) are one job: one thread
prepares them and classifies them in one model call (at most ``batch`` clips per call when ``batch`` is
given: ``--batch 1`` classifies them one by one). Across faces this shares a call's fixed costs; a
single face's window is a call of one clip, as before. A clip's probabilities from a batched call equal
its own call's within the model's rounding: float rounding for an fp32 model; for a static int8 model
such as the demo model (activation scales fixed at export) most windows are equal and a few differ by
up to ~0.05 (an fp32 rounding difference can move a quantized value by one step); about 1e-2 on every
window for a weight-only int8 model (``mpt-export --int8-weights``), whose kernels quantize activations
per row block (tests/test_faces_batched.py).

``workers`` threads may classify jobs concurrently (ONNX Runtime sessions are thread-safe; on
a 2-core CPU two single-threaded runs scale better than one run on two threads); results are
always returned in submission order. For recorded files with ``batch`` > 1 (by default the runtime's
``max_batch``: 64 on a GPU, 1 on the CPU) the calls of concurrent jobs are batched too, by a
:class:`~mpt_live.batching.BatchedClassifier`: the clips that threads finish preparing while the model
runs go together into its next call.

Results (:class:`~mpt_live.results.WindowResult`) come back in submission order through
:meth:`ModelWorker.poll` (non-blocking) and :meth:`ModelWorker.drain` (waits for everything submitted).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .batching import BatchedClassifier
from .clip import ClipSpec
from .clip_stream import Window
from .motion import model_inputs, motion_score
from .results import WindowResult
from .thumbnails import motion_heatmap, to_bgr_uint8


class Classifier(Protocol):
    classes: list[str]

    def predict(self, dynamic_images: np.ndarray, motion_clips: np.ndarray) -> np.ndarray: ...


@dataclass
class _Job:
    """Windows of one frame (or one event's window), classified together; ``seqs``: their sequence numbers."""

    windows: list[Window]
    captured: float
    submitted: float
    seqs: list[int] = field(default_factory=list)


class ModelWorker:
    """Runs ``model_inputs`` and ``classifier.predict`` on submitted windows in worker threads."""

    def __init__(self, spec: ClipSpec, classifier: Classifier | None, live: bool, thumbnails: bool = False,
                 max_queue: int = 3, workers: int = 1, batch: int | None = None) -> None:
        self.spec = spec
        self.per_call = batch  # clips per model call at most (None: all of a job's)
        self.batcher = BatchedClassifier.of(classifier, batch, live)
        self.classifier = self.batcher or classifier
        self.classes = tuple(classifier.classes) if classifier is not None else ()
        self.live = live
        self.thumbnails = thumbnails
        self.max_queue = 1 if live else max(1, max_queue)
        self._jobs: deque[_Job] = deque()
        self._done: dict[int, WindowResult] = {}  # finished, by sequence number
        self._next_out = 0  # sequence number of the next result to hand out
        self._skipped: set[int] = set()  # live: replaced before they ran
        self._seq = 0
        self._cond = threading.Condition()
        self._busy = 0  # workers running a job
        self._closed = False
        self.error: BaseException | None = None
        self.dropped = 0
        self.calls = 0  # model calls made by the workers (before a BatchedClassifier joins them)
        self.clips = 0  # clips in them
        n = self.workers = max(1, workers)
        self._threads = [threading.Thread(target=self._loop, name=f"mpt-model-worker-{i}", daemon=True) for i in range(n)]
        for th in self._threads:
            th.start()

    # -- producer ------------------------------------------------------------------------------
    def submit(self, window: Window, captured: float) -> None:
        """Queue a window (live: replace a waiting one; files: wait for room)."""
        self.submit_all([window], captured)

    def submit_all(self, windows: list[Window], captured: float) -> None:
        """Queue the windows of one frame, to be classified together (live: each replaces its face's waiting
        window; files: wait for room). Their results come back in this order."""
        if not windows:
            return
        job = _Job(list(windows), captured, time.monotonic())
        with self._cond:
            self._raise_if_failed()
            if self.live:
                self._replace({w.face_id for w in windows if w.event is None})
            else:
                while len(self._jobs) >= self.max_queue and self.error is None and not self._closed:
                    self._cond.wait(0.5)
                self._raise_if_failed()
            job.seqs = list(range(self._seq, self._seq + len(windows)))
            self._seq += len(windows)
            self._jobs.append(job)
            self._cond.notify_all()

    def _replace(self, faces: set[int | None]) -> None:
        """Live: the waiting windows (not events') of ``faces`` are replaced by newer ones: skipped, counted."""
        for job in list(self._jobs):
            stale = [i for i, w in enumerate(job.windows) if w.event is None and w.face_id in faces]
            if not stale:
                continue
            self._skipped.update(job.seqs[i] for i in stale)
            self.dropped += len(stale)
            keep = [i for i in range(len(job.windows)) if i not in stale]
            job.windows, job.seqs = [job.windows[i] for i in keep], [job.seqs[i] for i in keep]
            if not keep:
                self._jobs.remove(job)

    @property
    def idle(self) -> bool:
        """A worker is free and nothing is waiting: a new window would start at once."""
        with self._cond:
            return self._busy < self.workers and not self._jobs

    def poll(self) -> list[WindowResult]:
        """Finished results, oldest first (non-blocking)."""
        with self._cond:
            self._raise_if_failed()
            out = []
            while True:
                if self._next_out in self._done:
                    out.append(self._done.pop(self._next_out))
                elif self._next_out in self._skipped:
                    self._skipped.discard(self._next_out)
                else:
                    return out
                self._next_out += 1

    def drain(self, timeout: float | None = None) -> list[WindowResult]:
        """Wait until every submitted window is done; return the remaining results."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while (self._jobs or self._busy) and self.error is None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._cond.wait(0.5 if left is None else min(left, 0.5))
        return self.poll()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._jobs.clear()
            self._cond.notify_all()
        for th in self._threads:
            th.join(timeout=10.0)

    def batch_stats(self) -> dict[str, Any]:
        """The model calls: the most clips per call (None: a frame's windows), the calls made (0 without a model)
        and their mean clips (those of the :class:`~mpt_live.batching.BatchedClassifier` when it joins calls)."""
        if self.batcher is not None:
            return self.batcher.stats()
        return {"max_clips": self.per_call, "model_calls": self.calls,
                "mean_clips": round(self.clips / self.calls, 2) if self.calls else 0.0}

    def _raise_if_failed(self) -> None:
        if self.error is not None:
            raise RuntimeError(f"model worker failed: {type(self.error).__name__}: {self.error}") from self.error

    # -- worker --------------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = self._jobs.popleft()
                self._busy += 1
                self._cond.notify_all()  # room in the queue
            try:
                res = self._process(job)
            except BaseException as e:  # reported to the main thread by poll/submit
                with self._cond:
                    self.error = e
                    self._busy -= 1
                    self._cond.notify_all()
                return
            with self._cond:
                self._done.update(zip(job.seqs, res))
                self._busy -= 1
                self._cond.notify_all()

    def _process(self, job: _Job) -> list[WindowResult]:
        """Prepare each window's inputs, classify those with a clip in one call (or ``per_call`` at a time)."""
        queue_ms = (time.monotonic() - job.submitted) * 1e3
        # the windows whose model inputs are made (to classify, or for thumbnails): rows of one batch
        inputs = [i for i, w in enumerate(job.windows)
                  if w.source is not None and (self.classifier is not None or (self.thumbnails and w.event is None))]
        S, T, n = self.spec.image_size, self.spec.frames, len(inputs)
        dynamic, motion = np.empty((n, 3, S, S), np.float32), np.empty((n, T, 3, S, S), np.float32)
        row = {i: k for k, i in enumerate(inputs)}
        prepared = [self._prepare(w, queue_ms, (dynamic[row[i]], motion[row[i]]) if i in row else None)
                    for i, w in enumerate(job.windows)]
        probs: list[np.ndarray | None] = [None] * len(prepared)
        if self.classifier is not None and n:
            step = self.per_call or n
            for a in range(0, n, step):
                t1 = time.perf_counter()
                out = np.asarray(self.classifier.predict(dynamic[a:a + step], motion[a:a + step]), np.float32)
                ms = (time.perf_counter() - t1) * 1e3  # the call's time, for each of its clips
                for k, i in enumerate(inputs[a:a + step]):
                    probs[i] = out[k]
                    prepared[i][1]["model_ms"] = ms
                with self._cond:
                    self.calls += 1
                    self.clips += len(out)
        return [self._result(w, job.captured, timings, score, p, thumbs)
                for (w, timings, score, thumbs), p in zip(prepared, probs)]

    def _prepare(self, w: Window, queue_ms: float, out: tuple[np.ndarray, np.ndarray] | None
                 ) -> tuple[Window, dict[str, Any], float | None, tuple]:
        """(window, timings, motion score, thumbnails); the model's inputs go into ``out`` (None: score only)."""
        timings: dict[str, Any] = {**w.timings, "queue_ms": queue_ms}
        score, thumbs = None, (None, None, None)
        t0 = time.perf_counter()
        clip = w.clip  # sampled from the window's frames here, off the frame loop
        if clip is not None and out is None:  # motion-only: the score alone
            score = motion_score(clip, self.spec)
            timings["inputs_ms"] = (time.perf_counter() - t0) * 1e3
        elif clip is not None:
            dynamic, motion, score = model_inputs(clip, self.spec, out=out)
            timings["inputs_ms"] = (time.perf_counter() - t0) * 1e3
            if self.thumbnails and w.event is None:
                thumbs = (w.face.aligned if w.face is not None else None,
                          motion_heatmap(motion, self.spec.std),
                          to_bgr_uint8(dynamic, self.spec.mean, self.spec.std))
            score = float(score)
        elif self.thumbnails and w.event is None and w.face is not None:
            thumbs = (w.face.aligned, None, None)
        return w, timings, score, thumbs

    def _result(self, w: Window, captured: float, timings: dict[str, Any], score: float | None,
                probs: np.ndarray | None, thumbs: tuple) -> WindowResult:
        face_id = w.face_id if w.face_id is not None else (0 if w.has_face else None)
        aligned, motion_img, dyn_img = thumbs
        return WindowResult(
            time_s=w.time_s, frame=w.frame, face_id=face_id, box=w.box, motion_score=score,
            probs=probs, classes=self.classes, captured=captured, done=time.monotonic(), timings=timings,
            aligned=aligned, motion=motion_img, dynamic=dyn_img, for_event=w.event,
        )
