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

``workers`` threads may classify windows concurrently (ONNX Runtime sessions are thread-safe; on
a 2-core CPU two single-threaded runs scale better than one run on two threads); results are
always returned in submission order. For recorded files with ``batch`` > 1 (by default the runtime's
``max_batch``: 64 on a GPU, 1 on the CPU) their single-clip calls are batched by a
:class:`~mpt_live.batching.BatchedClassifier`: the clips that threads finish preparing while the model
runs go together into its next call.

Results (:class:`~mpt_live.results.WindowResult`) come back in submission order through
:meth:`ModelWorker.poll` (non-blocking) and :meth:`ModelWorker.drain` (waits for everything submitted).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
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
    window: Window
    captured: float
    submitted: float
    seq: int = 0


class ModelWorker:
    """Runs ``model_inputs`` and ``classifier.predict`` on submitted windows in worker threads."""

    def __init__(self, spec: ClipSpec, classifier: Classifier | None, live: bool, thumbnails: bool = False,
                 max_queue: int = 3, workers: int = 1, batch: int | None = None) -> None:
        self.spec = spec
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
        self.submitted = 0
        self.dropped = 0
        self.processed = 0
        n = self.workers = max(1, workers)
        self._threads = [threading.Thread(target=self._loop, name=f"mpt-model-worker-{i}", daemon=True) for i in range(n)]
        for th in self._threads:
            th.start()

    # -- producer ------------------------------------------------------------------------------
    def submit(self, window: Window, captured: float) -> None:
        """Queue a window (live: replace a waiting one; files: wait for room)."""
        job = _Job(window, captured, time.monotonic())
        with self._cond:
            self._raise_if_failed()
            if self.live:
                if window.event is None:  # the newest window of a face replaces its waiting one
                    stale = [j for j in self._jobs if j.window.event is None and j.window.face_id == window.face_id]
                    if stale:
                        self._skipped.update(j.seq for j in stale)
                        self._jobs = deque(j for j in self._jobs if j not in stale)
                        self.dropped += len(stale)
            else:
                while len(self._jobs) >= self.max_queue and self.error is None and not self._closed:
                    self._cond.wait(0.5)
                self._raise_if_failed()
            job.seq = self._seq
            self._seq += 1
            self._jobs.append(job)
            self.submitted += 1
            self._cond.notify_all()

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

    def batch_stats(self) -> dict[str, Any] | None:
        """Batched classification (recorded files, batches > 1): its figures; else None."""
        return self.batcher.stats() if self.batcher is not None else None

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
                self._done[job.seq] = res
                self.processed += 1
                self._busy -= 1
                self._cond.notify_all()

    def _process(self, job: _Job) -> WindowResult:
        w = job.window
        timings: dict[str, Any] = dict(w.timings)
        timings["queue_ms"] = (time.monotonic() - job.submitted) * 1e3
        score = probs = None
        aligned = motion_img = dyn_img = None
        thumbnails = self.thumbnails and w.event is None
        t0 = time.perf_counter()
        clip = w.clip  # sampled from the window's frames here, off the frame loop
        if clip is not None and self.classifier is None and not thumbnails:  # motion-only: the score alone
            score = motion_score(clip, self.spec)
            timings["inputs_ms"] = (time.perf_counter() - t0) * 1e3
        elif clip is not None:
            dynamic, motion, score = model_inputs(clip, self.spec)
            t1 = time.perf_counter()
            timings["inputs_ms"] = (t1 - t0) * 1e3
            if self.classifier is not None:
                probs = np.asarray(self.classifier.predict(dynamic[None], motion[None]), np.float32)[0]
                timings["model_ms"] = (time.perf_counter() - t1) * 1e3
            if thumbnails:
                motion_img = motion_heatmap(motion, self.spec.mean, self.spec.std)
                dyn_img = to_bgr_uint8(dynamic, self.spec.mean, self.spec.std)
            score = float(score)
        if thumbnails and w.face is not None:
            aligned = w.face.aligned
        face_id = w.face_id if w.face_id is not None else (0 if w.has_face else None)
        return WindowResult(
            time_s=w.time_s, frame=w.frame, face_id=face_id, box=w.box, motion_score=score,
            probs=probs, classes=self.classes, captured=job.captured, done=time.monotonic(), timings=timings,
            aligned=aligned, motion=motion_img, dynamic=dyn_img, for_event=w.event,
        )
