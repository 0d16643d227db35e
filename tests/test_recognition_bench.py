"""bench/recognition.py without training: run names, the paired test, the settings a reused benchmark
was made with, the table."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from conftest import bench_script


@pytest.fixture(scope="module")
def rb():
    yield from bench_script("recognition")


def test_run_names(rb):
    assert rb.parse_run("default") == ("default", 0)
    assert rb.parse_run("plain-adapter@2") == ("plain-adapter", 2)
    assert rb.parse_run("photo@x") is None and rb.parse_run("nonsense") is None


def test_mcnemar_counts_discordant_clips_and_gives_the_exact_p(rb):
    a = {f"c{i}": i < 8 for i in range(10)}          # right on c0..c7
    b = {f"c{i}": i >= 6 for i in range(10)}         # right on c6..c9
    only_a, only_b, p = rb.mcnemar(a, b)
    assert (only_a, only_b) == (6, 2)
    assert p == pytest.approx(2 * (1 + 8 + 28) / 256)  # two-sided binomial, 2 of 8 at p = 1/2
    assert rb.mcnemar(a, a) == (0, 0, 1.0)


def test_a_reused_benchmark_reports_the_settings_it_was_made_with(rb, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "synth.json").write_text(json.dumps({"faces_dir": "/faces", "params": {
        "subjects": 4, "clips_per_class": 6, "amplitude": 2.0, "seed": 11}}))
    args = argparse.Namespace(subjects=4, clips_per_class=6, amplitude=2.0, seed=7, report=False)
    assert rb.made_with(data, args) == {"subjects": 4, "clips_per_class": 6, "amplitude": 2.0, "seed": 11,
                                        "faces": "/faces"}
    assert "written with --seed 11; it is reused" in capsys.readouterr().out
    assert rb.made_with(tmp_path / "none", args) == {}


def test_table_lists_seeds_and_their_mean(rb):
    def row(name, uf1, correct):
        return {"run": name, "what": name, "acc": uf1, "uf1": uf1, "uar": uf1, "acc_ci95": [0, 1], "correct": correct}

    ok = {"s/a": True, "s/b": True}
    result = {"cpu": "avx2", "settings": {"subjects": 4, "clips_per_class": 6, "amplitude": 2.0, "seed": 11,
                                          "faces": "F", "image_size": 112, "epochs": 10},
              "runs": [row("default", 0.8, ok), row("default@1", 0.6, ok), row("photo", 0.7, {"s/a": False, "s/b": True})]}
    md = rb.report(result)
    assert "seed 11" in md and "| photo | photo | 0.700 |" in md and "0 / 1, p = 1.000" in md
    assert "| default | 0.800 (seed 0), 0.600 (seed 1) | 0.700 | - |" in md


def test_seeds_are_compared_with_the_default_of_the_same_seed_pooled(rb):
    def row(name, right):
        return {"run": name, "correct": {f"s/{i}": i < right for i in range(10)}}

    runs = [row("default", 5), row("default@1", 6), row("plain-adapter", 8), row("plain-adapter@1", 6),
            row("plain-adapter@2", 10)]                    # seed 2 has no default: left out
    assert rb.pooled_vs_default(runs, "plain-adapter") == "3 / 0, p = 0.250 (seeds 0, 1)"
    assert rb.pooled_vs_default(runs, "photo") == "-"


def test_signed_displacement_tells_a_movement_up_from_one_down(rb):
    """The probe's flow features keep the direction: a textured face moved up in the middle of the
    clip gives vertical displacements of the opposite sign to the same face moved down."""
    import cv2

    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.random((140, 140)).astype(np.float32), (0, 0), 2.0)

    def clip(direction: int) -> np.ndarray:
        frames = []
        for t in range(16):
            dy = direction * 2 if 5 <= t < 11 else 0
            frames.append(base[14 + dy:126 + dy, 14:126])
        return np.repeat(np.stack(frames)[:, None], 3, axis=1)

    # direction +1 crops 2 px lower: the content moves up the image (negative y), -1 the reverse
    f = rb.signed_displacement(np.stack([clip(1), clip(-1)]).astype(np.float32))
    assert f.shape == (2, 2 * 14 * 14)
    up, down = f[:, 196:].sum(1)  # vertical half
    assert up < -1.0 and down > 1.0
    assert np.corrcoef(f[0], f[1])[0, 1] < -0.9


def test_the_probe_and_the_summary_head_read_the_same_features(rb):
    """The probe's features (the 14x14 grey motion-std map, then the mid-minus-ends signed displacement) are
    train.cellflow.motion_summary, which the model's --head cls+prompts+summary computes in its forward:
    checked against the map written out in numpy and against the probe's own displacement."""
    import torch

    from train.cellflow import motion_summary

    rng = np.random.default_rng(3)
    motion = rng.normal(0, 0.05, (3, 16, 3, 112, 112)).astype(np.float32)
    motion[:, 5:11, :, 40:60, 30:50] += 0.3  # a patch that changes in the middle of the clip
    gray = motion.mean(axis=2)
    std = np.sqrt(((gray - gray.mean(1, keepdims=True)) ** 2).mean(1))          # (N, 112, 112)
    std_map = std.reshape(3, 14, 8, 14, 8).mean(axis=(2, 4)).reshape(3, -1)    # 8 px cells
    s = motion_summary(torch.from_numpy(motion), 14).numpy()
    assert s.shape == (3, 3 * 14 * 14)
    np.testing.assert_allclose(s[:, :196], std_map, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s[:, 196:], rb.signed_displacement(motion), rtol=1e-5, atol=1e-6)
    assert s[:, 196:].std() > 0.1  # the displacement part is not all zeros
