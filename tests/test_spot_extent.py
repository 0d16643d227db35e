"""The spotter's extents and its frame-count tests in the frames' own times (mpt_live.spot_extent, mpt_live.spotting,
mpt_live.spot_channel): an event's onset and offset ("twice as far from the apex" as the half-height crossings), the
test of a micro candidate at the peak of a macro one (twice the micro scale) and the frames around the echo gate's
neighbours were counted in frames, which are time steps only at the stated rate. A variable-rate input gives the
events of its constant-rate original, by their times; at a constant rate the frames counted, as before."""

from __future__ import annotations

import numpy as np
import pytest

from mpt_live.facemotion import GRID, REGIONS, FrameSignals
from mpt_live.spot_extent import extent, periods
from mpt_live.spotting import Spotter

CFR = [i / 30 for i in range(720)]  # 24 s at 30 fps


def test_a_constant_rate_s_positions_are_the_frames_counted():
    n = 900
    for times, fps in ((np.arange(n) / 30, 30.0), (np.round(np.arange(n) / 30, 3), 30.0),
                       (np.arange(n) / 29.97, 30.0), (np.arange(n) * 1001 / 30000, 29.97)):
        assert periods(times, fps).tolist() == list(range(n)), fps
    u = periods(np.array([0, 1, 3, 5, 5, 5, 6]) / 30 + [0, 0, 0, 0, 0.002, 0, 0], 30.0)  # 15 fps steps, 2 ms, back
    assert u == pytest.approx([0, 1, 3, 5, 5.06, 6.06, 7.06])


def test_at_a_constant_rate_extents_by_time_are_those_of_frames_counted():
    """Random rises and falls, noisy, some with no signals on one side (mirrored): the same onset, offset and side by
    the frames' times (exact, millisecond-rounded, 29.97 fps under a 30 fps header) as by frame indices."""
    rng = np.random.default_rng(5)
    n = 120
    for _ in range(3000):
        a, w = int(rng.integers(20, 100)), float(rng.uniform(0.5, 12))
        prof = np.maximum(0, 1 - np.abs(np.arange(n) - a - rng.uniform(-0.5, 0.5)) / w) + rng.normal(0, 0.05, n)
        prof[a] = prof.max() + 0.01
        if rng.random() < 0.3:
            side = int(rng.integers(1, 8))
            prof[(a + side if rng.random() < 0.5 else 0):(None if rng.random() < 0.5 else a - side)] = np.nan
        lo, hi = max(a - 15, 0), min(a + 15, n - 1)
        counted = extent(prof, a, lo, hi)
        for times, fps in ((np.arange(n) / 30, 30.0), (np.round(np.arange(n) / 30, 3), 30.0),
                           (np.arange(n) / 29.97, 30.0)):
            assert extent(prof, a, lo, hi, periods(times, fps)) == counted


def _events(times: list[float], micro, macro=None, stated: float = 30.0) -> list[tuple]:
    """(type, onset_s, apex_s, offset_s) of the events of frames at ``times`` (noise, and ``micro(t)`` added to the brow
    cells of the micro scale's map; ``macro(t)`` to the macro scale's, or the same as the micro one)."""
    rng = np.random.default_rng(3)
    sp = Spotter(stated, 15, 75)
    out = []
    for i, t in enumerate(times):
        m = (0.05 * rng.lognormal(0.0, 0.5, (GRID, GRID))).astype(np.float32)
        big = m.copy()
        m[2:4, 5:7] += micro(t)
        big[2:4, 5:7] += (macro or micro)(t)
        out += sp.push(FrameSignals(i, t, m, big))
    return [(e.type, e.onset_s, e.apex_s, e.offset_s) for e in sorted(out + sp.flush(), key=lambda e: e.onset_s)]


def _same(a: list[tuple], b: list[tuple], tol: float) -> bool:
    return [e[0] for e in a] == [e[0] for e in b] and all(abs(x - y) <= tol for e, f in zip(a, b)
                                                          for x, y in zip(e[1:], f[1:]))


def test_an_extent_across_a_change_of_rate_is_its_constant_rate_one():
    """A 0.4 s movement (apex at 12 s) whose rise comes at 10 fps and fall at 30 under a 30 fps header (a phone's
    camera leaving low light): the onset, twice the half-height crossing's distance counted in frames, was 3 frames of
    10 fps before the crossing (0.4 s before the apex, not 0.2): 11.6-12.2 s, macro. By the frames' times the CFR
    event: micro, 11.8-12.2 s."""
    def tri(t):
        return 0.8 * max(0.0, 1 - abs(t - 12) / 0.2)

    cfr = _events(CFR, tri)
    assert [e[0] for e in cfr] == ["micro"] and abs(cfr[0][1] - 11.8) < 0.05, cfr
    for kept in ([t for t in CFR if t >= 11.9 or round(t * 30) % 3 == 0],    # 10 fps, then 30
                 [t for t in CFR if t <= 12.1 or round(t * 30) % 3 == 0]):   # 30 fps, then 10
        assert _same(_events(kept, tri), cfr, 1 / 30 + 1e-6), (_events(kept, tri), cfr)


@pytest.mark.parametrize("half", [0.4, 0.6, 0.8])
def test_a_micro_candidate_at_a_macro_one_s_peak_is_typed_by_the_macro_one_s_time(half):
    """A sharp 0.2 s peak (the micro scale) on a movement of 2 x ``half`` s (the macro scale): one event, the macro one
    where it runs at least twice the micro scale (1 s), as at 30 fps. Counted in frames (30), a 15 fps stretch under a
    30 fps header took 2 s for that, and reported the peak as a micro event instead of the 1.2 and 1.6 s movements; a 60
    fps one 0.5 s, and reported the 0.8 s movement as macro instead of its peak."""
    def peak(t):
        return max(0.0, 1 - abs(t - 12) / 0.1)

    def slow(t):
        return max(0.0, 1 - abs(t - 12) / half)

    cfr = _events(CFR, peak, slow)
    assert [e[0] for e in cfr] == ["micro" if half < 0.5 else "macro"], cfr
    for rate in (15, 60):
        assert _same(_events([i / rate for i in range(24 * rate)], peak, slow), cfr, 0.1), rate


def test_the_echo_gate_looks_as_long_around_a_scale_before_and_after_at_any_rate():
    """A 0.2 s brow movement at 12 s and a blink-strength flash 0.667 s (0.7 s) after it: at 30 fps outside the echo
    gate's frames 0.5 s on (2 frames, 1/15 s, each side), kept. In a 15 (10) fps stretch under a 30 fps header the 2
    frames counted reached 0.13 (0.2) s: dropped as an echo. A flash 0.567 s after it is inside (dropped at 30 fps); in a
    60 fps stretch 2 frames reached 1/30 s only: kept. By the frames' times, as at 30 fps."""
    eyes = REGIONS["eyes"]

    def spotted(rate: int, flash: float) -> list[str]:
        rng = np.random.default_rng(4)
        times = sorted({t for t in CFR if not 11.5 <= t <= 13}  # 11.5-13 s at ``rate``
                       | {i / rate for i in range(24 * rate) if 11.5 <= i / rate <= 13})
        sp, out = Spotter(30.0, 15, 75), []
        for i, t in enumerate(times):
            m = (0.05 * rng.lognormal(0.0, 0.5, (GRID, GRID))).astype(np.float32)
            m[2:4, 5:7] += max(0.0, 1 - abs(t - 12) / 0.1)
            m[eyes] += 6.0 * (abs(t - flash) < 0.004)
            out += sp.push(FrameSignals(i, t, m, None))
        return [e.type for e in out + sp.flush() if abs(e.apex_s - 12) < 0.1]

    for rate, flash in ((15, 12 + 2 / 3), (60, 12 + 2 / 3), (10, 12.7)):  # a frame of both rates
        assert spotted(rate, flash) == spotted(30, flash) == ["micro"], rate
    assert spotted(60, 12 + 17 / 30) == spotted(30, 12 + 17 / 30) == [], "inside"


@pytest.mark.parametrize("half", [0.6, 1.5])
def test_a_movement_whose_times_stand_still_is_typed_by_its_frames_counted(half):
    """The movement of test_a_micro_candidate_at_a_macro_one_s_peak_is_typed_by_the_macro_one_s_time (a sharp peak on
    a 1.2 or 3 s one), its frames' times standing still for 2 s around it (a camera clock that sticks): by the times
    alone its macro candidate lasted 0 s, never twice the micro scale, and the peak was reported as a micro event
    instead. Where times stand still its frames are counted at the stated rate (as its extent counts them): one macro
    event at the same apex, as at a constant rate (its offset may differ: the times jump 2 s after the stretch); a
    peak alone is still micro."""
    def peak(i):
        return max(0.0, 1 - abs(i / 30 - 12) / 0.1)

    def slow(i):
        return max(0.0, 1 - abs(i / 30 - 12) / half)

    def frames(stamp, micro, macro):
        rng, sp, out = np.random.default_rng(3), Spotter(30.0, 15, 75), []
        for i in range(720):
            m = (0.05 * rng.lognormal(0.0, 0.5, (GRID, GRID))).astype(np.float32)
            big = m.copy()
            m[2:4, 5:7] += micro(i)
            big[2:4, 5:7] += macro(i)
            out += sp.push(FrameSignals(i, stamp(i / 30), m, big))
        return [(e.type, e.onset, e.apex, e.offset) for e in sorted(out + sp.flush(), key=lambda e: e.onset)]

    def stuck(t):
        return 11.0 if 11 <= t < 13 else t

    cfr = frames(lambda t: t, peak, slow)
    assert [e[0] for e in cfr] == ["macro"], cfr
    assert [(e[0], e[2]) for e in frames(stuck, peak, slow)] == [(e[0], e[2]) for e in cfr]
    assert [e[0] for e in frames(stuck, peak, peak)] == ["micro"]
