"""bench/spotting.py's baseline (the window-score spotter mpt-live used before): its events typed as the spotter's."""

from __future__ import annotations

import pytest
from conftest import bench_script


@pytest.fixture(scope="module")
def bench():
    yield from bench_script("spotting")


@pytest.mark.parametrize(("fps", "frames", "kind"), [(30.0, 15, "micro"), (30.0, 16, "macro"), (29.97, 15, "micro"),
                                                      (15.0, 7, "micro"), (15.0, 8, "macro"), (25.0, 13, "macro")])
def test_the_baseline_types_micro_and_macro_by_seconds(bench, fps, frames, kind):
    """At most 0.5 s from its start to the end of its last frame, as the spotter: it was round(0.5 x fps) frames,
    so 8 frames at 15 fps (0.53 s) were micro."""
    start = 12.0
    assert bench.baseline_type(start, start + (frames - 1) / fps, fps) == kind
    assert bench.baseline_type(start, start - 1.0, fps) == "micro"  # an end before the start: its first frame alone
