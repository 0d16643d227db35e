"""bench/spotting_replay.py's separability bound on hand-made evidence (no cache, no session)."""

from __future__ import annotations


import numpy as np
import pytest
from conftest import bench_script

from train.datasets.longvideo import Interval, LongVideo



@pytest.fixture(scope="module")
def replay():
    yield from bench_script("spotting_replay")


def _evidence(n: int, busy_window: float, peak: float, at: range) -> dict:
    """300 frames of 196 windows (the first 4 off the sites: -inf); window 10 moves at ``at``."""
    rng = np.random.default_rng(0)
    ev = rng.uniform(0, 1, (n, 196))
    ev[:, :4] = -np.inf
    ev[:, 20] = busy_window  # a window whose own background is high everywhere
    ev[at, 10] = peak
    return {i: ev[i] for i in range(n)}


def test_a_movement_above_its_window_background_is_separable(replay):
    v = LongVideo("v", "s", 30.0, [Interval(100, 105, 110, "micro"), Interval(200, 230, 260, "macro")])
    r = replay.separability(v, _evidence(300, 3.0, 5.0, range(100, 111)), 30.0)
    assert r["n"] == 1 and r["p99"] == 1.0 and r["clear"] == 1.0 and r["ratio"] == pytest.approx(5.0, rel=0.05)


def test_random_stretches_of_noise_beat_their_background_by_chance(replay):
    """Why the control is there: with ~200 windows of pure noise, the best window of almost any short
    stretch beats that window's maximum elsewhere."""
    v = LongVideo("v", "s", 30.0, [Interval(100, 105, 110, "micro")])
    r = replay.separability(v, _evidence(300, 0.0, 0.0, range(0)), 30.0)
    assert r["chance"] > 0.5 and r["clear"] == 1.0  # the "movement" is noise too


def test_a_movement_within_its_window_background_is_not(replay):
    v = LongVideo("v", "s", 30.0, [Interval(100, 105, 110, "micro")])
    ev = np.full((300, 196), 0.5)
    ev[:, :4] = -np.inf
    spikes = [i for i in range(0, 300, 10) if not 70 <= i <= 140]
    ev[spikes, 4:] = 2.0  # every window's own background reaches 2 now and then (speech, say)
    ev[100:111, 10] = 1.5
    r = replay.separability(v, {i: ev[i] for i in range(300)}, 30.0)
    assert r["n"] == 1 and r["p99"] == 0.0 and r["clear"] == 0.0 and r["ratio"] == pytest.approx(0.75)
    assert r["chance"] == 0.0  # a background stretch holds a spike no higher than the others
    # no micro-movement annotated: nothing measured
    assert replay.separability(LongVideo("v", "s", 30.0, [Interval(100, 130, 160, "macro")]),
                               {i: ev[i] for i in range(300)}, 30.0)["n"] == 0
