"""Batched classification of recorded videos: concurrent single-clip calls run as batched model calls, results go
back to the right caller; `mpt-live --batch` end to end on the CPU provider, same predictions as unbatched."""

from __future__ import annotations

import csv
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mpt_live.batching import BatchedClassifier
from mpt_live.cli import app
from mpt_live.runtime import MPTRuntime

from test_runtime import clips, make_model
from tinymodel import tiny_onnx


class SlowEcho:
    """A classifier whose probabilities are each clip's id (dynamic[:, 0, 0, 0]); records its batch sizes."""

    classes = ["id"]

    def __init__(self, delay: float = 0.02, fail_on: float | None = None) -> None:
        self.delay, self.fail_on, self.batches = delay, fail_on, []

    def predict(self, d: np.ndarray, m: np.ndarray) -> np.ndarray:
        self.batches.append(len(d))
        if self.delay:
            time.sleep(self.delay)
        if self.fail_on is not None and self.fail_on in d[:, 0, 0, 0]:
            raise RuntimeError("model failed")
        return d[:, :1, 0, 0].astype(np.float32)


def _call_together(clf: BatchedClassifier, ids: list[float]) -> dict[float, object]:
    """Each id from its own thread, all released at once; returns id -> result row or exception."""
    out: dict[float, object] = {}
    start = threading.Barrier(len(ids))

    def one(i: float) -> None:
        d = np.full((1, 1, 2, 2), i, np.float32)
        start.wait()
        try:
            out[i] = clf.predict(d, np.zeros((1, 1, 1, 2, 2), np.float32))
        except Exception as e:  # noqa: BLE001 (the test looks at it)
            out[i] = e

    threads = [threading.Thread(target=one, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return out


def test_concurrent_calls_are_batched_and_routed_back() -> None:
    model = SlowEcho()
    clf = BatchedClassifier(model, max_batch=5)
    ids = [float(i) for i in range(1, 13)]
    out = _call_together(clf, ids)
    assert all(np.array_equal(out[i], [[i]]) for i in ids)        # each caller gets its own clip's row
    assert sum(model.batches) == 12 and max(model.batches) <= 5    # no clip lost, no batch over the cap
    assert len(model.batches) < 12 and clf.calls == len(model.batches) and clf.clips == 12
    assert clf.stats() == {"max_clips": 5, "model_calls": clf.calls, "mean_clips": round(12 / clf.calls, 2)}


def test_a_lone_call_runs_at_once(monkeypatch) -> None:
    """No timer holds a lone clip back for company: its call never waits (it was timed against the wall clock,
    which a loaded machine can stall, and which let a hold of under a second pass)."""
    model = SlowEcho(delay=0.0)
    clf = BatchedClassifier(model, max_batch=64)
    waits = []

    def no_wait(self, timeout=None):
        waits.append(timeout)
        raise AssertionError(f"a lone call waited (timeout {timeout})")

    monkeypatch.setattr(threading.Condition, "wait", no_wait)  # Event.wait waits on one too
    monkeypatch.setattr(time, "sleep", lambda s: no_wait(None, s))
    assert clf.predict(np.full((1, 1, 2, 2), 7, np.float32), np.zeros((1, 1, 1, 2, 2), np.float32))[0, 0] == 7
    assert model.batches == [1] and waits == []


def test_a_failed_batch_fails_its_callers_only() -> None:
    model = SlowEcho(fail_on=3.0)
    clf = BatchedClassifier(model, max_batch=4)
    out = _call_together(clf, [float(i) for i in range(1, 9)])
    failed = [i for i, r in out.items() if isinstance(r, Exception)]
    assert 3.0 in failed and all(str(out[i]) == "model failed" for i in failed)
    assert all(np.array_equal(r, [[i]]) for i, r in out.items() if i not in failed)
    assert clf.predict(np.full((1, 1, 2, 2), 5, np.float32), np.zeros((1, 1, 1, 2, 2), np.float32))[0, 0] == 5


def test_batched_onnx_runtime_gives_the_same_probabilities(tmp_path: Path) -> None:
    rt = MPTRuntime(make_model(tmp_path / "m.onnx"), device="cpu", threads=1)
    d, m = clips(10, seed=3)
    clf = BatchedClassifier(rt, max_batch=4)
    out: dict[int, np.ndarray] = {}
    threads = [threading.Thread(target=lambda i=i: out.__setitem__(i, clf.predict(d[i:i + 1], m[i:i + 1])))
               for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    np.testing.assert_allclose(np.concatenate([out[i] for i in range(10)]), rt.predict(d, m), atol=1e-6)


class _RT:
    classes = ["a"]

    def __init__(self, max_batch: int) -> None:
        self.max_batch = max_batch


@pytest.mark.parametrize("runtime, batch, live, expected", [
    (None, None, False, None),          # motion-only
    (_RT(64), None, True, None),        # live: the newest window wins, no batching
    (_RT(1), None, False, None),        # the CPU provider's choice
    (_RT(64), None, False, 64),         # a GPU provider's choice
    (_RT(1), 8, False, 8),              # --batch 8 on the CPU
    (_RT(64), 1, False, None),          # --batch 1: off
])
def test_when_batches_are_used(runtime, batch, live, expected) -> None:
    got = BatchedClassifier.of(runtime, batch, live)
    assert (got.max_batch if got else None) == expected


def _probs(out: Path) -> list[list[float]]:
    with open(out / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [[float(r[f"p_{c}"]) for c in ("negative", "positive", "surprise")] for r in rows if r["p_negative"]]


def test_cli_batch_classifies_a_video_in_batches_like_one_by_one(faces_dir: Path, tmp_path: Path) -> None:
    model = tiny_onnx(tmp_path / "tiny.onnx")
    video = faces_dir / "videos" / "pyfeat_single_face.mp4"
    runner = CliRunner()
    runs = {}
    for name, extra in {"one": [], "batched": ["--batch", "4"]}.items():
        out = tmp_path / name
        res = runner.invoke(app, ["--video", str(video), "--model", str(model), "--out", str(out), "--device", "cpu",
                                  "--stride", "4", *extra])
        assert res.exit_code == 0, res.output
        runs[name] = (json.loads((out / "summary.json").read_text()), _probs(out))
    (one, p1), (batched, p4) = runs["one"], runs["batched"]
    assert one["batch"] == {"max_clips": None, "model_calls": one["windows_classified"], "mean_clips": 1.0}  # one face
    assert batched["batch"]["max_clips"] == 4 and batched["batch"]["model_calls"] >= 1
    assert batched["windows_classified"] == one["windows_classified"] > 0 and len(p4) == len(p1)
    np.testing.assert_allclose(p4, p1, atol=1e-5)


def test_cli_batch_must_be_positive() -> None:
    res = CliRunner().invoke(app, ["--video", "x.mp4", "--batch", "0", "--out", "o"])
    assert res.exit_code == 2 and "--batch" in res.output
