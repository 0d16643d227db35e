"""Dynamic batching: the single-clip ``predict`` calls of concurrent worker threads run as batched model calls.

The model worker classifies each window in one of several threads (:mod:`mpt_live.model_worker`). On a
GPU one clip per call leaves the device mostly idle, so :class:`BatchedClassifier` queues the calls: the
first caller runs the model on everything waiting (up to ``max_batch`` clips), and the calls that arrive
while it runs form the next batch. No timer holds a clip back: a lone clip runs at once, and batches
grow only as fast as the preprocessing threads fill them. Results go back to each caller in order.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np


class _Call:
    __slots__ = ("dynamic", "motion", "result", "error")

    def __init__(self, dynamic: np.ndarray, motion: np.ndarray) -> None:
        self.dynamic, self.motion = dynamic, motion
        self.result: np.ndarray | None = None
        self.error: BaseException | None = None

    @property
    def done(self) -> bool:
        return self.result is not None or self.error is not None


class BatchedClassifier:
    """``classifier.predict`` for batches of clips: thread-safe, any number of callers, up to ``max_batch`` per call.

    Attributes: ``classes`` (the classifier's), ``max_batch``, ``calls`` (model calls made) and ``clips``
    (clips classified); ``clips / calls`` is the mean batch size.
    """

    def __init__(self, classifier: Any, max_batch: int) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.classifier = classifier
        self.classes = classifier.classes
        self.max_batch = max_batch
        self.calls = 0
        self.clips = 0
        self._cond = threading.Condition()
        self._waiting: list[_Call] = []
        self._running = False

    def predict(self, dynamic_images: np.ndarray, motion_clips: np.ndarray) -> np.ndarray:
        """(B,3,S,S), (B,T,3,S,S) -> (B,C), run together with whatever other threads asked for meanwhile."""
        call = _Call(np.asarray(dynamic_images), np.asarray(motion_clips))
        with self._cond:
            self._waiting.append(call)
            while not call.done and self._running:
                self._cond.wait()
            runner = not call.done
            if runner:
                self._running = True   # this thread runs the model until its own clips are done
        if runner:
            try:
                while not call.done:
                    with self._cond:
                        batch = self._take()
                    self._run(batch)
            finally:
                with self._cond:
                    self._running = False
                    self._cond.notify_all()
        if call.error is not None:
            raise call.error
        assert call.result is not None
        return call.result

    @classmethod
    def of(cls, runtime: Any | None, batch: int | None, live: bool) -> "BatchedClassifier | None":
        """For a session: batches of ``batch`` clips (None: ``runtime.max_batch``) for a recorded source;
        None (the runtime alone) for a live one, motion-only, or batches of 1."""
        n = batch or getattr(runtime, "max_batch", 1)
        return cls(runtime, n) if runtime is not None and not live and n > 1 else None

    @property
    def mean_batch(self) -> float | None:
        return self.clips / self.calls if self.calls else None

    def stats(self) -> dict[str, Any]:
        """For summary.json: the most clips per call, the model calls made and the mean clips per call."""
        return {"max_clips": self.max_batch, "model_calls": self.calls, "mean_clips": round(self.mean_batch or 0.0, 2)}

    def _take(self) -> list[_Call]:
        """The oldest waiting calls, up to ``max_batch`` clips (at least one call)."""
        batch, n = [], 0
        while self._waiting and (not batch or n + len(self._waiting[0].dynamic) <= self.max_batch):
            c = self._waiting.pop(0)
            batch.append(c)
            n += len(c.dynamic)
        return batch

    def _run(self, batch: list[_Call]) -> None:
        try:
            if len(batch) == 1:
                parts = [np.asarray(self.classifier.predict(batch[0].dynamic, batch[0].motion), np.float32)]
            else:
                probs = np.asarray(self.classifier.predict(np.concatenate([c.dynamic for c in batch]),
                                                           np.concatenate([c.motion for c in batch])), np.float32)
                parts = np.split(probs, np.cumsum([len(c.dynamic) for c in batch])[:-1])
            error = None
        except BaseException as e:  # every caller of the batch gets it
            parts, error = [], e
        with self._cond:
            self.calls += 1
            self.clips += sum(len(c.dynamic) for c in batch)
            for i, c in enumerate(batch):
                if error is not None:
                    c.error = error
                else:
                    c.result = parts[i]
            self._cond.notify_all()
