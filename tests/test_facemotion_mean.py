"""FaceMotion's mean in time (mpt_live.facemotion.mean_half): the odd number of frames whose span is nearest 0.1 s,
the fewer on a tie, at the header's rate and at a variable-rate track's local rate. It was ``int(fps / 30 + 0.5)``
frames each side: 3 frames over 0.2 s at 15 fps (twice 30 fps's 0.1 s), which widened a micro-movement's profile
into a macro one's (issue 11: a constant 15 fps copy of the dev split, micro F1 0.537 -> 0.660)."""

from __future__ import annotations

import numpy as np
import pytest

from mpt_live.facemotion import FaceMotion

FLAT, FLASH = 100, 200


def _flash_width(fps: float, times: list[float], at: int) -> int:
    """How many frames have a micro signal where frame ``at`` alone is brighter (each frame's bump is non-zero
    exactly where its mean in time takes that frame in and its neighbours 0.5 s away do not)."""
    fm = FaceMotion(fps)
    lit = []
    for i, t in enumerate(times):
        crop = np.full((112, 112), FLASH if i == at else FLAT, np.uint8)
        lit += [s.frame for s in fm.push(i, t, crop) if s.micro is not None and s.micro.max() > 0]
    lit += [s.frame for s in fm.flush() if s.micro is not None and s.micro.max() > 0]
    assert lit == list(range(lit[0], lit[-1] + 1)) and at in lit, lit
    return len(lit)


@pytest.mark.parametrize("fps, frames", [(10.0, 1), (15.0, 1), (20.0, 1), (24.0, 3), (25.0, 3), (30.0, 3),
                                         (40.0, 3), (50.0, 5), (60.0, 5)])
def test_the_time_mean_spans_the_odd_number_of_frames_nearest_a_tenth_of_a_second(fps, frames):
    """At a constant rate: 15 fps 1 frame (0.067 s, not 3 over 0.2 s), 20 fps 1 (0.05 s; 3 would be 0.15 s: a tie,
    the fewer), 25 fps 3 (0.12 s), 30 fps 3 (0.1 s), 60 fps 5 (0.083 s; 7 would be 0.117 s)."""
    n = int(8 * fps)
    width = _flash_width(fps, [i / fps for i in range(n)], n // 2)
    assert width == frames
    spans = {w: abs(w / fps - 0.1) for w in range(1, 12, 2)}
    assert spans[width] <= min(spans.values()) + 1e-9  # the nearest (on a tie the fewer: the table above)


@pytest.mark.parametrize("rate, frames", [(15.0, 1), (20.0, 1), (60.0, 5)])
def test_a_stretch_at_another_rate_than_the_header_s_takes_that_rate_s_mean(rate, frames):
    """A track whose frames come at ``rate`` under a 30 fps header (off by over a quarter: the local rate's mean):
    as many frames as a constant-rate recording at that rate, with exact times and with times off by up to 1 ms
    (a 20 fps stream sits on the edge between 1 and 3 frames: rounded up from .54, its ms jitter does not flip it)."""
    n = int(8 * rate)
    jitter = np.random.default_rng(0).uniform(-0.001, 0.001, n)
    for times in ([i / rate for i in range(n)], [i / rate + j for i, j in enumerate(jitter)]):
        assert _flash_width(30.0, times, n // 2) == frames
