"""Spotting: windows above the stream's own robust baseline become events."""

from __future__ import annotations

import numpy as np
import pytest

from mpt_live.events import Spotter


def _feed(scores, dt=0.1, window_s=1.0, **kw):
    sp = Spotter(window_s, **kw)
    hot = [sp.update(i * dt, s) for i, s in enumerate(scores)]
    return sp, hot


def test_spike_over_noisy_baseline_is_one_event():
    rng = np.random.default_rng(0)
    scores = 1.0 + 0.05 * rng.standard_normal(100)
    scores[50:54] = 3.0
    sp, hot = _feed(scores)
    assert len(sp.events) == 1
    ev = sp.events[0]
    assert ev.windows == 4 and ev.first == pytest.approx(5.0) and ev.last == pytest.approx(5.3)
    d = ev.to_dict()
    # the movement began after the last quiet window (4.9 s); it had left the window by 5.3 - 1.0
    # s, but that is before the first hot window, so the end is the first hot window's time
    assert d["start"] == pytest.approx(4.9) and d["end"] == pytest.approx(5.0) and d["peak"] == pytest.approx(5.0)
    assert sum(hot) == 4


def test_flat_stream_has_no_events_and_warmup_never_fires():
    sp, hot = _feed([5.0] * 10 + [1.0] * 50)
    assert not any(hot[:8])


@pytest.mark.parametrize("threshold, n_events", [(5.0, 2), (50.0, 0)])
def test_threshold_controls_sensitivity(threshold, n_events):
    rng = np.random.default_rng(1)
    scores = 1.0 + 0.1 * rng.standard_normal(120)
    scores[40] = 2.0
    scores[90] = 2.5
    sp, _ = _feed(scores, threshold=threshold)
    assert len(sp.events) == n_events


def test_no_face_closes_event_and_votes_pick_top_class():
    sp = Spotter(1.0, warmup=3)
    for i in range(10):
        sp.update(i * 0.1, 1.0 + 0.01 * (i % 2))
    sp.update(1.0, 5.0, {"happiness": 0.9, "surprise": 0.1})
    sp.update(1.1, None)
    sp.update(1.2, 5.0, {"happiness": 0.2, "surprise": 0.8})
    assert len(sp.events) == 2
    assert sp.events[0].top == "happiness" and sp.events[1].top == "surprise"
