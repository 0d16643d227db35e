"""The windows of all faces that fall due on a frame are classified in one model call, with the probabilities
of classifying each window alone: the worker's grouping, live replacement inside groups, and a real
two-face recording run batched and one by one (``batch=1``)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from mpt_live.clip import ClipSpec
from mpt_live.clip_stream import Window
from mpt_live.model_worker import ModelWorker
from mpt_live.runtime import MPTRuntime, demo_model_path
from mpt_live.session import Session, SessionConfig
from mpt_live.sources import VideoFile
from tinymodel import tiny_onnx

SPEC = ClipSpec(image_size=32, frames=16)


class Echo:
    """Probabilities: each clip's grey level (motion[:, 0, 0, 0, 0], set by the clip's constant value);
    records the clips of each call. With ``hold`` the first call waits until released."""

    classes = ["level"]

    def __init__(self, hold: bool = False) -> None:
        self.calls: list[int] = []
        self.started, self.release = threading.Event(), threading.Event()
        if not hold:
            self.release.set()

    def predict(self, d: np.ndarray, m: np.ndarray) -> np.ndarray:
        self.started.set()
        self.release.wait(timeout=30)  # a bound against a hang, not a timing figure
        self.calls.append(len(d))
        return m[:, 0, 0, 0, :1].copy()


def _win(frame: int, face: int | None, level: float | None, event=None) -> Window:
    clip = None if level is None else np.full((SPEC.frames, SPEC.image_size, SPEC.image_size, 3), level, np.float32)
    return Window(frame / 30, frame, None, clip, face_id=face, event=event)


def _level(v: float) -> float:
    """The echo's output for a clip of constant value ``v`` (normalised like the model's motion input)."""
    return (v / 255 - 0.5) / 0.5


@pytest.mark.parametrize("batch, calls", [(None, [3]), (2, [2, 1]), (1, [1, 1, 1])])
def test_a_frames_windows_go_to_the_model_together(batch, calls):
    model = Echo()
    w = ModelWorker(SPEC, model, live=False, batch=batch)
    try:
        w.submit_all([_win(0, 0, 10.0), _win(0, 1, 200.0), _win(0, 2, None), _win(0, 3, 60.0)], 0.0)
        w.submit(_win(2, 0, 90.0), 0.0)  # a later frame: its own call
        res = w.drain(timeout=30)
    finally:
        w.close()
    assert model.calls == calls + [1]
    assert [(r.frame, r.face_id) for r in res] == [(0, 0), (0, 1), (0, 2), (0, 3), (2, 0)]
    got = [None if r.probs is None else float(r.probs[0]) for r in res]
    assert got == pytest.approx([_level(10), _level(200), None, _level(60), _level(90)])  # each its own row
    assert res[2].motion_score is None and all(r.motion_score == 0.0 for r in res if r.probs is not None)
    assert w.batch_stats() == {"max_clips": batch, "model_calls": len(calls) + 1,
                               "mean_clips": round(4 / (len(calls) + 1), 2)}


def test_live_a_newer_window_of_a_face_replaces_its_waiting_one_inside_a_group():
    model = Echo(hold=True)
    w = ModelWorker(SPEC, model, live=True)
    try:
        w.submit_all([_win(0, 0, 1.0), _win(0, 1, 2.0)], 0.0)  # running
        assert model.started.wait(timeout=30)
        w.submit_all([_win(2, 0, 3.0), _win(2, 1, 4.0), _win(2, 0, 5.0, event="apex")], 0.0)  # waiting
        w.submit_all([_win(4, 0, 6.0)], 0.0)  # face 0 again: replaces frame 2's window of face 0, not the event's
        assert w.dropped == 1
        model.release.set()
        res = w.drain(timeout=30)
    finally:
        w.close()
    assert [(r.frame, r.face_id, r.for_event) for r in res] == [
        (0, 0, None), (0, 1, None), (2, 1, None), (2, 0, "apex"), (4, 0, None)]
    assert model.calls == [2, 2, 1]


@pytest.fixture(scope="module")
def two_people(faces_dir, tmp_path_factory):
    """6 s of two real people side by side (train/compose.py), 640x320 at 30 fps."""
    from train.compose import side_by_side

    path = tmp_path_factory.mktemp("faces") / "two.mp4"
    v = faces_dir / "videos"
    side_by_side([v / "paddlegan_fom_dv.mp4", v / "liveportrait_d6.mp4"], path, seconds=6.0)
    return path


def _classified(video, runtime, batch):
    with VideoFile(video) as src, Session(src, runtime, SessionConfig(workers=1, batch=batch)) as s:
        rows = {(r.frame, r.face_id): r for r in s if r.probs is not None}
        return rows, s.summary()["batch"]


# Stated tolerances (max |dprob|, its median, top-class agreement), batched vs each window alone. fp32 (the tiny
# model): float rounding (measured 0). Static int8 (the demo model; activation scales fixed at export): most
# windows are equal, but an fp32 rounding difference before a quantized layer can move one uint8 code by a
# step, which propagates. The present demo model on 6 s of this recording (`python bench/batched_windows.py`,
# which makes it as two_people does; 2026-12-06, EPYC): 23 of 150 windows differ by more than 1e-6, by up to
# 0.014, so the median is within 1e-6, top class equal on all 150. Earlier static int8 demo models moved a
# window by up to 0.052 (their counts are not reproducible: those models are gone); hence 0.08 (a batching bug,
# a window given another face's or another frame's probabilities, moves them by far more). Weight-only int8
# (what scripts/make_demo_model.sh falls back to): its kernels quantize activations per row block, so every
# row's rounding follows the batch. A 1-epoch ViT-Ti/16 112 px model made with `mpt-export --int8-weights`
# (`python bench/batched_windows.py --model TI.onnx`, 2026-12-07, EPYC): 0 of 150 windows equal, max 0.004, median
# 0.0014, top class equal on 149 of 150 (680ede9's demo model, now gone: max 0.021, median 0.001, 269 of 270).
FLOAT_ROUNDING = (1e-5, 1e-6, 1.0)
STATIC_INT8_ROUNDING = (0.08, 1e-6, 0.97)
WEIGHT_ONLY_ROUNDING = (0.05, 0.005, 0.97)


@pytest.mark.parametrize("model", ["tiny", pytest.param("demo", marks=pytest.mark.slow)])
def test_batched_faces_give_the_probabilities_of_one_by_one(two_people, tmp_path, model):
    if model == "demo" and not demo_model_path().is_file():
        pytest.skip("no demo model (scripts/make_demo_model.sh builds it)")
    path = demo_model_path() if model == "demo" else tiny_onnx(tmp_path / "tiny.onnx", spec=ClipSpec(image_size=112))
    rt = MPTRuntime(path, device="cpu", threads=1)
    scheme = rt.metadata.get("mpt.int8", "")
    atol, median, top = (WEIGHT_ONLY_ROUNDING if "MatMulNBits" in scheme else STATIC_INT8_ROUNDING if scheme
                         else FLOAT_ROUNDING)
    alone, alone_stats = _classified(two_people, rt, 1)
    batched, stats = _classified(two_people, rt, None)
    assert sorted(batched) == sorted(alone) and {f for _, f in alone} == {0, 1}
    assert alone_stats["mean_clips"] == 1.0
    # both faces' windows in one call on (nearly) every frame: about half the calls
    assert stats["mean_clips"] >= 1.9 and stats["model_calls"] <= 0.55 * len(alone)
    diff = np.array([np.abs(batched[k].probs - alone[k].probs).max() for k in alone])
    assert diff.max() < atol and np.median(diff) <= median
    assert np.mean([batched[k].probs.argmax() == alone[k].probs.argmax() for k in alone]) >= top
