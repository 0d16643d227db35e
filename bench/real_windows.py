"""Helper of the model-call benches (batch_cpu.py, model_call.py): real model inputs and the timer they share.

:func:`windows` gives windows of the shared face videos as a session feeds the model (each face aligned, its clip
sampled, magnified and rank-pooled: ``model_inputs``); :func:`timed` the CPU time of the process (all threads) and
the wall time of one call, in ms.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mpt_live.clip import FrameRing
from mpt_live.face import FaceAligner
from mpt_live.motion import model_inputs
from mpt_live.sources import VideoFile
from shared_faces import faces_folder

FACES = faces_folder() / "videos"


def windows(model: Any, videos: Sequence[str], per_video: int = 1, step_s: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``per_video`` windows ``step_s`` apart from each of the shared face ``videos`` (in :data:`FACES`, in
    order; a name given twice gives its windows twice), as the session's model inputs of ``model``: the first once
    the face has been aligned for a window and half a second, stacked (dynamic, motion)."""
    spec, dyn, mot = model.clip_spec, [], []
    for name in videos:
        ring = FrameRing(400, (spec.image_size, spec.image_size, 3))
        taken, due = 0, None
        with VideoFile(FACES / name) as src, FaceAligner(image_size=spec.image_size, align=spec.align) as aligner:
            for frame in src:
                res = aligner.process(frame.image, frame.t)
                if res is not None:
                    ring.push(frame.t, res.aligned)
                if due is None and ring.covers(frame.t - spec.window_s - 0.5, frame.t):
                    due = frame.t
                if due is not None and frame.t >= due and ring.covers(frame.t - spec.window_s, frame.t):
                    d, m, _ = model_inputs(ring.frames_for(ring.latest_time, spec).sample(), spec)
                    dyn.append(d)
                    mot.append(m)
                    taken, due = taken + 1, frame.t + step_s
                    if taken == per_video:
                        break
    return np.stack(dyn), np.stack(mot)


def timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """The CPU time of the process (all its threads) and the wall time of one call of ``fn``, in ms."""
    c, w = time.process_time(), time.perf_counter()
    fn()
    return (time.process_time() - c) * 1e3, (time.perf_counter() - w) * 1e3
