"""bench/spotting_vfr.py's re-timed copies and the mapping of truth and events between a copy and its original, on
tiny recordings whose kept frames, times and mapped intervals are worked out by hand (3 fps: a 2 s stretch is 6
frames, a second 3)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import bench_script

from train.datasets.longvideo import Interval, LongVideo
from train.spot_metrics import Spotted


@pytest.fixture(scope="module")
def vfr():
    yield from bench_script("spotting_vfr")


def test_alternating_stretches_keep_every_frame_then_every_second_or_third(vfr):
    times = np.arange(14) / 3
    c = vfr.copy_of("30/15 2s", times, 3.0)
    assert c.kept.tolist() == [0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 13]
    assert c.times.tolist() == pytest.approx([k / 3 for k in c.kept.tolist()])
    assert c.fps == pytest.approx(3 * 11 / 14)  # its frames over the original's duration
    c = vfr.copy_of("30/10 2s", times, 3.0)
    assert c.kept.tolist() == [0, 1, 2, 3, 4, 5, 6, 9, 12, 13]
    c = vfr.copy_of("15+1s30/5s", np.arange(18) / 3, 3.0)  # the first second of every 5 whole, else every second
    assert c.kept.tolist() == [0, 1, 2, 4, 6, 8, 10, 12, 14, 15, 16, 17]
    assert vfr.copy_of("15 fps", times, 3.0, frames=12).fps == pytest.approx(1.5)  # 6 of the first 12 frames kept


def test_pairs_are_stamped_2_ms_apart_and_rounded_to_the_millisecond(vfr):
    times = np.arange(5) / 3
    exact, ms = vfr.copy_of("pairs 2ms", times, 3.0), vfr.copy_of("pairs 2ms", times, 3.0, ms=True)
    assert exact.kept.tolist() == [0, 1, 2, 3, 4] and exact.fps == 3.0
    assert exact.times.tolist() == pytest.approx([0, 0.002, 2 / 3, 2 / 3 + 0.002, 4 / 3])
    assert ms.times.tolist() == [0.0, 0.002, 0.667, 0.669, 1.333]


def test_a_random_quarter_is_dropped_by_its_seed_and_the_first_frame_kept(vfr):
    times = np.arange(4000) / 30
    a, b = vfr.copy_of("quarter", times, 30.0, seed=1), vfr.copy_of("quarter", times, 30.0, seed=2)
    assert a.kept[0] == 0 and 0.72 < len(a.kept) / 4000 < 0.78
    assert np.array_equal(a.kept, vfr.copy_of("quarter", times, 30.0, seed=1).kept)
    assert not np.array_equal(a.kept, b.kept)
    with pytest.raises(vfr.InputError, match="'half'"):
        vfr.copy_of("half", times, 30.0)


def test_truth_in_kept_frames(vfr):
    kept = vfr.copy_of("30/15 2s", np.arange(14) / 3, 3.0).kept  # 0-6, 8, 10, 12, 13
    # 7..9 holds only original frame 8: the copy's frame 7
    iv = vfr.truth_in_copy(Interval(7, 8, 9, "micro"), kept)
    assert (iv.onset, iv.apex, iv.offset) == (7, 7, 7)
    # onset 5 kept (5), offset 11 not: the last kept before it, 10 (8); apex 6 (6)
    iv = vfr.truth_in_copy(Interval(5, 6, 11, "macro", "happy"), kept)
    assert (iv.onset, iv.apex, iv.offset, iv.type, iv.label) == (5, 6, 8, "macro", "happy")
    kept = vfr.copy_of("30/10 2s", np.arange(14) / 3, 3.0).kept  # 0-6, 9, 12, 13
    # no kept frame in 7..8: the kept frame nearest the apex, original 6 (1 away; 9 is 2 away)
    iv = vfr.truth_in_copy(Interval(7, 7, 8, "micro"), kept)
    assert (iv.onset, iv.apex, iv.offset) == (6, 6, 6)
    iv = vfr.truth_in_copy(Interval(7, 8, 8, "micro"), np.array([0, 6, 9]))  # 6 and 9 as near 7.5: the earlier
    assert (iv.onset, iv.apex, iv.offset) == (2, 2, 2)


def test_copy_rows_renumber_retime_and_keep_their_faces(vfr):
    frames, kinds = np.arange(6), np.array([0, 0, 0, 1, 0, 0])  # frame 3 without the face (GONE)
    grey = np.array([0, 1, 2, 4, 5], np.float32)[:, None, None] * np.ones((1, 2, 2), np.float32)  # each its frame
    c = vfr.Copy(np.array([0, 2, 3, 5]), np.array([0.0, 0.1, 0.2, 0.3]), 2.0)
    f, t, k, cam, g = vfr.copy_rows(frames, kinds, np.zeros(6, bool), grey, c)
    assert f.tolist() == [0, 1, 2, 3] and t.tolist() == [0.0, 0.1, 0.2, 0.3] and k.tolist() == [0, 0, 1, 0]
    assert g[:, 0, 0].tolist() == [0, 2, 5] and not cam.any()  # the faces of original frames 0, 2, 5
    whole = vfr.copy_of("CFR", np.arange(6) / 3, 3.0)
    f, t, k, _, g = vfr.copy_rows(frames, kinds, np.zeros(6, bool), grey, whole)
    assert f.tolist() == frames.tolist() and k.tolist() == kinds.tolist() and np.array_equal(g, grey)


def test_events_are_placed_in_the_truths_frames_by_their_seconds(vfr, tmp_path):
    """mpt-eval spot's rule (train/spot_frames.py): a copy at 22.5 fps has its events placed by their seconds at the
    truth's 30 fps: onset round(2.0 x 30) = 60, offset the last truth frame before 2.4 s + 1/22.5 s: ceil(73.33 -
    0.5) - 1 = 72, apex round(2.2 x 30) = 66; a copy whose frames are their seconds at 30 fps keeps its numbers."""
    v = LongVideo("v", "s", 30.0, [])
    s = Spotted("v", 45, 54, "micro", apex=49, onset_s=2.0, apex_s=2.2, offset_s=2.4)
    c = vfr.Copy(np.arange(1350), np.arange(1350) / 22.5, 22.5)
    (out,), placed = vfr.by_time([s], c, v, None, tmp_path)
    assert placed and (out.onset, out.apex, out.offset) == (60, 66, 72)
    s30 = Spotted("v", 60, 72, "micro", apex=66, onset_s=2.0, apex_s=2.2, offset_s=2.4)
    (out,), placed = vfr.by_time([s30], vfr.Copy(np.arange(1800), np.arange(1800) / 30, 30.0), v, 1800, tmp_path)
    assert not placed and out == s30


def test_events_against_the_constant_rate_replay(vfr):
    ref = [Spotted("v", 30, 39, "micro", apex=33, onset_s=1.0, apex_s=1.1, offset_s=1.3),
           Spotted("v", 60, 120, "macro", apex=90, onset_s=2.0, apex_s=3.0, offset_s=4.0)]
    copy = [Spotted("v", 20, 26, "micro", apex=24, onset_s=1.0, apex_s=1.15, offset_s=1.3),
            Spotted("v", 40, 56, "macro", apex=45, onset_s=2.0, apex_s=2.3, offset_s=2.8),  # IoU 0.4 each: the
            Spotted("v", 64, 80, "macro", apex=70, onset_s=3.2, apex_s=3.5, offset_s=4.0)]  # macro split in two
    a = vfr.against(ref, copy, np.arange(10, 200))  # a copy from the original's frame 10: its apex 24 is frame 34
    assert (a["kept"], a["lost"], a["new"], a["split"]) == (1, 1, 2, 1)
    assert a["shifts"] == [1]  # a frame after the constant rate's apex (33)


def test_micro_truths_found_as_macro_events_are_counted(vfr):
    v = LongVideo("v", "s", 30.0, [Interval(10, 14, 20, "micro"), Interval(100, 120, 160, "macro")])
    spotted = {"v": [Spotted("v", 11, 21, "macro"),  # IoU 10 / 12 with the micro truth: a micro-movement typed macro
                     Spotted("v", 100, 160, "macro"),  # the macro truth's
                     Spotted("v", 30, 40, "macro")]}  # on no micro truth
    assert vfr.micro_as_macro([v], spotted) == 1


def test_two_codes_events_alike_and_differing(vfr):
    """--before: the events two codes give alike (onset, apex, offset frames and type) and those either gives alone."""
    k = ("CFR", False)
    old = {k: {"a": [Spotted("a", 10, 20, "micro", apex=15), Spotted("a", 50, 90, "macro", apex=70)],
               "b": [Spotted("b", 5, 9, "micro", apex=7)]}}
    new = {k: {"a": [Spotted("a", 10, 20, "micro", apex=15), Spotted("a", 50, 90, "micro", apex=70)],
               "b": [Spotted("b", 5, 9, "micro", apex=7), Spotted("b", 30, 35, "micro", apex=33)]}}
    assert vfr.same_events(old, new, k) == (2, 3)  # a's second event retyped (one gone, one new), b's new one
    assert vfr.same_events(new, new, k) == (4, 0)
