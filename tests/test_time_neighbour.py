"""time_neighbour (mpt_live.facemotion), the search FaceMotion's bump neighbours and a spotter channel's echo and
extent reach share, where the time ``step / fps`` away falls half-way between two frames: 0.5 s is 7.5 frames of a
15 fps stretch under a 24 fps header. Which frame was nearer was decided by float error or by a container's rounding
of the times to the millisecond, so a recording's exact and millisecond times chose different frames (151 of 400
frames' forward neighbours at 15 fps under 24), and their micro signals differed by up to 0.23 (issue 11). Now the
times are compared rounded to the millisecond and a tie goes to the frame nearer c: both choose the same frames."""

from __future__ import annotations

import pytest

from mpt_live.facemotion import time_neighbour


def _choices(rate: float, header: float, step: int, ms: bool, n: int = 400) -> list[int | None]:
    times = [i / rate for i in range(n)]
    times = [round(t, 3) for t in times] if ms else times
    return [time_neighbour(times.__getitem__, c, step, header, 0, n - 1, (times[0], times[-1])) for c in range(n)]


@pytest.mark.parametrize(("rate", "header"), [(15.0, 24.0), (15.0, 30.0), (45.0, 30.0), (21.0, 30.0), (7.0, 12.0)])
@pytest.mark.parametrize("sign", [1, -1])
def test_a_neighbour_half_way_between_two_frames_is_the_one_nearer_c_with_exact_or_millisecond_times(rate, header,
                                                                                                     sign):
    """Frames at ``rate`` under a header stating ``header``, whose 0.5 s (``step`` of its frames) is an odd number of
    half frames away: every frame's neighbour is the same with exact and millisecond times, the frame nearer c of the
    two equally near (0.467 s away at 15 fps, not 0.533 s), on both sides."""
    step = sign * round(0.5 * header)
    half = abs(step) / header * rate
    assert half % 1 == 0.5  # a tie at every frame
    exact, ms = _choices(rate, header, step, False), _choices(rate, header, step, True)
    assert exact == ms
    inside = [(c, j) for c, j in enumerate(exact) if j is not None and 0 < c + sign * half < 399]
    assert len(inside) > 300 and all(j == c + sign * int(half) for c, j in inside), inside[:5]


@pytest.mark.parametrize("rate", [10.0, 15.0, 23.976, 24.0, 25.0, 29.97, 30.0, 50.0, 59.94, 60.0, 120.0])
def test_at_a_constant_rate_the_neighbour_is_the_frame_counted(rate):
    """The header stating the frames' own rate: the neighbour 0.5 s, 2.5 s and 2 frames away, either side, is the
    frame that many counted, with exact or millisecond times (no tie: the rounding changes nothing there)."""
    for step in (round(0.5 * rate), round(2.5 * rate), 2):
        for s in (step, -step):
            for ms in (False, True):
                got = _choices(rate, rate, s, ms)
                assert all(j == c + s for c, j in enumerate(got) if 0 <= c + s < 400), (step, s, ms)
                assert all(j is None for c, j in enumerate(got) if not 0 <= c + s < 400), (step, s, ms)


@pytest.mark.parametrize("ms", [False, True])
def test_a_frame_on_the_target_time_is_not_given_up_for_one_a_millisecond_nearer_c(ms):
    """Frames in bursts (each odd frame stamped 1 ms before the even one after it, 30 fps on average): the neighbour
    2 frames after an even frame is the frame on that time, not the one 1 ms before it (within the tie's 1.5 ms, but
    no tie: the target is on a frame)."""
    times = [(i + i % 2) / 30 - 0.001 * (i % 2) for i in range(200)]
    times = [round(t, 3) for t in times] if ms else times
    for c in range(0, 196, 2):
        assert time_neighbour(times.__getitem__, c, 2, 30.0, 0, 199, (times[0], times[-1])) == c + 2, c
