"""bench/spotting_replay.py's separability bound on hand-made evidence (no cache, no session), its cut copies and
--sample-s; bench/spotting_cache.py's replay of a cache with cuts."""

from __future__ import annotations


import numpy as np
import pytest
from conftest import bench_script

from mpt_live.facemotion import FrameSignals
from train.datasets.longvideo import Interval, LongVideo



@pytest.fixture(scope="module")
def replay():
    yield from bench_script("spotting_replay")


@pytest.fixture(scope="module")
def cache():
    yield from bench_script("spotting_cache")


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


def test_a_cut_copy_starts_at_frame_0_and_its_events_map_back(replay, tmp_path):
    """--cuts: a copy cut before frame d is the original's signals from there with frames and times from 0 (a
    trimmed file), and its events are compared in the original's frames and times."""
    from mpt_live.spotting import SpotEvent

    n, rng = 120, np.random.default_rng(1)
    path = tmp_path / "v.npz"
    np.savez(path, frames=np.arange(10, 10 + n), times=np.arange(10, 10 + n) / 30.0, have=np.ones(n, bool),
             fps=30.0, grey=rng.uniform(0, 255, (n, 112, 112)).astype(np.float32))
    whole, _ = replay.stream(path, 3)
    copy, _, f0, t0 = replay.cut(path, 3)
    assert (f0, t0) == (13, 13 / 30.0) and len(copy) == len(whole) > 0
    for a, b in zip(whole, copy):
        assert (a is None) == (b is None)
        if a is not None:
            assert (b.frame, b.time_s) == (a.frame - 13, pytest.approx(a.time_s - 13 / 30.0))
            for x, y in ((a.micro, b.micro), (a.macro, b.macro)):  # the same signals (made again)
                assert (x is None and y is None) or np.array_equal(x, y)
    e = SpotEvent(1, 2, 4, 1 / 30, 2 / 30, 4 / 30, "micro", 5.0)
    back = replay.uncut([e], f0, t0)[0]
    assert (back.onset, back.apex, back.offset) == (14, 15, 17) and back.apex_s == pytest.approx(15 / 30)


@pytest.mark.parametrize("text", ["x", "-1", "0", "1/0", "inf", "nan", "1e999"])
def test_a_sample_s_that_is_not_a_time_is_refused_in_one_line(replay, text):
    with pytest.raises(replay.InputError, match="--sample-s"):
        replay.parse_seconds(text)
    assert replay.parse_seconds("2/15") == pytest.approx(2 / 15) and replay.parse_seconds("0.1") == 0.1


def _cache(path, kinds: list[int], camera: list[bool] | None = None) -> None:
    """A cache file of rows of ``kinds`` (FACE rows with random frames), a frame each, at 30 fps."""
    rng, n = np.random.default_rng(2), len(kinds)
    have = np.array([k == 0 for k in kinds])
    extra = {} if camera is None else {"kind": np.array(kinds), "camera": np.array(camera)}
    np.savez(path, frames=np.arange(n), times=np.arange(n) / 30.0, have=have, fps=30.0,
             grey=rng.uniform(0, 255, (int(have.sum()), 112, 112)).astype(np.float32), **extra)


def test_a_replay_flushes_at_a_cut_as_the_session_did(cache, tmp_path, monkeypatch):
    """Issue 11: the replay flushed without ``cut`` where the session had flushed at a cut, so it could not show what
    a cut does. The cache keeps each row's kind (a face cut, a camera cut, a cut while the face was away) and the
    replay flushes as the session did; a cache made before kinds were kept replays without cuts."""
    calls = []
    flush = cache.Spotter.flush

    def spy(self, cut=False, camera=False):
        calls.append((cut, camera))
        return flush(self, cut, camera)

    monkeypatch.setattr(cache.Spotter, "flush", spy)
    F, G, C, A = cache.FACE, cache.GONE, cache.CUT, cache.CUT_AWAY
    kinds = [F] * 40 + [C] + [F] * 40 + [G, A] + [F] * 40 + [C] + [F] * 10
    camera = [False] * 41 + [False] * 40 + [False, True] + [False] * 40 + [True] + [False] * 10
    _cache(tmp_path / "v.npz", kinds, camera)
    cache.run_cached(tmp_path / "v.npz", lambda sp: None)
    assert calls == [(True, False), (False, False), (True, True), (True, True), (False, False)]
    signals, _ = cache.stream(tmp_path / "v.npz")
    assert [s for s in signals if not isinstance(s, FrameSignals)] == ["cut", None, "camera", "camera"]
    calls.clear()
    _cache(tmp_path / "old.npz", kinds)  # no kinds: a C or A row is a frame without the face
    cache.run_cached(tmp_path / "old.npz", lambda sp: None)
    assert calls and not any(cut for cut, _ in calls)
