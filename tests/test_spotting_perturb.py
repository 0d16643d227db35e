"""bench/spotting_perturb.py's perturbations and comparisons on hand-made frames, decisions and events (no cache)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import bench_script

from mpt_live.errors import InputError
from mpt_live.spotting import SpotEvent


@pytest.fixture(scope="module")
def perturb():
    yield from bench_script("spotting_perturb")


@pytest.mark.parametrize("kind, most", [("dither", 0.5), ("round", 1.0), ("shift", 0.5)])
def test_a_perturbation_moves_no_pixel_more_than_its_stated_size_and_a_seed_repeats_it(perturb, kind, most):
    g = np.random.default_rng(0).integers(0, 256, (112, 112)).astype(np.float32)
    a, b = perturb.perturber(kind, 1), perturb.perturber(kind, 1)
    first = [a(g) for _ in range(3)]
    assert all(np.abs(x - g).max() <= most for x in first)
    assert all(np.abs(x - g).max() > 0 for x in first)
    assert all(np.array_equal(x, b(g)) for x in first)  # the same sequence for the same seed
    if kind != "shift":
        assert not np.array_equal(first[0], first[1])   # another change every frame
        assert not np.array_equal(first[0], perturb.perturber(kind, 2)(g))


def test_only_candidates_kept_in_one_run_and_dropped_in_the_other_are_flips(perturb):
    m = {"echo": 0.98}
    base = [(15, 100, 6.0, "", m), (15, 200, 5.0, "speech", m), (15, 300, 5.0, "", m), (75, 400, 9.0, "head", m),
            (15, 500, 4.1, "", m)]
    other = [(15, 101, 6.1, "echo", {"echo": 1.02}), (15, 201, 5.0, "head", m), (15, 300, 5.0, "", m),
             (75, 410, 9.0, "head", m), (15, 600, 4.2, "", m)]
    got = {(f[0], f[1], f[3], f[4]) for f in perturb.flips(base, other)}
    # kept -> echo (the other run's margins), speech -> head (no event either way) not listed, the same decision
    # not listed, head -> head 10 frames off (within a third of 75) not listed, one gone, one new
    assert got == {(15, 100, "kept", "echo"), (15, 500, "kept", "gone"), (15, 600, "new", "kept")}
    assert [perturb.deciding(f) for f in perturb.flips(base, other) if f[1] == 100] == ["echo"]
    assert next(f for f in perturb.flips(base, other) if f[1] == 100)[5] == {"echo": 1.02}


def _ev(on: int, off: int, kind: str = "micro", apex: int | None = None) -> SpotEvent:
    apex = (on + off) // 2 if apex is None else apex
    return SpotEvent(on, apex, off, on / 30, apex / 30, off / 30, kind, 5.0)


def test_events_new_gone_and_moved_are_told_apart(perturb):
    a = [_ev(100, 110), _ev(200, 210), _ev(300, 340, "macro"), _ev(400, 414)]
    b = [_ev(100, 110), _ev(201, 211), _ev(300, 340, "micro"), _ev(405, 420), _ev(500, 510)]
    # 200-210 moved a frame (IoU 10/12); 300-340 is another type there: gone and new; 400-414 against 405-420:
    # IoU 10/21 < 0.5, gone and new; 500-510 new
    assert perturb.same_events(a, b) == (3, 2, 1)
    assert perturb.same_events(a, a) == (0, 0, 0)


@pytest.mark.parametrize("text", ["echo_ratio", "nope=1", "echo_ratio=x", "sample_s=1/0"])
def test_a_setting_that_is_not_a_spot_config_number_is_refused_by_name(perturb, text):
    with pytest.raises(InputError, match="--set: .*SpotConfig field"):
        perturb.config_of([text])


def test_settings_reach_the_config(perturb):
    assert perturb.config_of(["threshold=3", "echo_ratio=2.5"]).echo_ratio == 2.5
    assert perturb.config_of(["threshold=3", "echo_ratio=2.5"]).threshold == 3
    assert perturb.config_of(["sample_s=1/15"]).sample_s == pytest.approx(1 / 15)


@pytest.mark.slow
def test_a_real_face_keeps_its_events_under_rounding_level_changes_of_its_grey_frames(perturb, faces_dir, tmp_path):
    """A real 12 s clip (an expressive face, its own movements spotted), recorded as the session hands its grey faces
    to the spotter, then replayed with each pixel moved by at most the stated size (dither 0.5, a quarter of the
    pixels rounded the other way): the same events, each where it was (IoU >= 0.5, the same type)."""
    from spotting_cache import build

    from train.datasets.longvideo import LongVideo

    video = faces_dir / "videos" / "liveportrait_d3_expressive.mp4"
    cache = tmp_path / "d3.npz"
    build(LongVideo("d3", "d3", 30.0, [], video=video), cache)
    base, _ = perturb.replay_decisions(cache)
    assert base  # a recording with events to keep
    for kind, seed in [("dither", 0), ("dither", 1), ("round", 0), ("round", 1)]:
        events, _ = perturb.replay_decisions(cache, perturb.perturber(kind, seed))
        new, gone, _ = perturb.same_events(base, events)
        assert (new, gone) == (0, 0), f"{kind}:{seed}"
        assert [e.type for e in events] == [e.type for e in base]
        assert all(abs(e.apex - f.apex) <= 1 for e, f in zip(events, base))
