"""bench/spotting_cuts.py: reels of benchmark videos joined by camera cuts (no cache of real videos, no session)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from conftest import bench_script

from train.datasets.longvideo import Interval, LongVideo


@pytest.fixture(scope="module")
def cuts():
    yield from bench_script("spotting_cuts")


def test_pieces_are_3_to_5_s_and_the_same_for_a_seed(cuts):
    a = cuts.pieces(1800, 30.0, 3.0, 5.0, np.random.default_rng(4))
    assert a == cuts.pieces(1800, 30.0, 3.0, 5.0, np.random.default_rng(4)) and a[0] == 0
    lengths = np.diff(a + [1800])
    assert all(90 <= n <= 150 for n in lengths[:-1]) and 90 <= lengths[-1] <= 240, lengths


@pytest.mark.parametrize("n", [2, 3, 5])
def test_reels_change_video_at_every_cut_and_share_out_every_piece(cuts, n):
    orders = cuts.reels(n, 14, np.random.default_rng(n))
    assert len(orders) == n and all(len(o) == 14 for o in orders)
    for j in range(14):
        assert sorted(o[j] for o in orders) == list(range(n))  # each video's piece j is in one reel
    assert all(o[j] != o[j + 1] for o in orders for j in range(13))


def test_the_truth_of_a_reel_is_the_movements_inside_its_pieces(cuts):
    a = LongVideo("a.mp4", "s", 30.0, [Interval(10, 12, 20, "micro"), Interval(95, 100, 105, "micro")])
    b = LongVideo("b.mp4", "s", 30.0, [Interval(120, 125, 130, "micro"), Interval(40, 45, 50, "macro")])
    tv, split = cuts.truth_of([a, b], [0, 100], [0, 1], 200, "r")
    assert tv.name == "r" and [(iv.onset, iv.offset) for iv in tv.intervals] == [(10, 20), (120, 130)]
    assert split == [(95, 99)]  # a's movement across the cut, as far as the reel shows it


def _cached(path, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    np.savez(path, frames=np.arange(n), times=np.arange(n) / 30.0, have=np.ones(n, bool), fps=30.0,
             grey=rng.uniform(0, 255, (n, 112, 112)).astype(np.float32))


@pytest.mark.parametrize(("people", "faces"), [(["a", "b"], 2), (["a", "a"], 1)])
def test_a_reel_flushes_every_face_at_a_camera_cut_as_the_session(cuts, tmp_path, monkeypatch, people, faces):
    """At a cut every face's signals end with a camera cut's flush (one away then too); a person is one face
    (the tracker gives the ID back), two videos of one carrier too."""
    calls = []
    flush = cuts.Spotter.flush

    def spy(self, cut=False, camera=False):
        calls.append((id(self), cut, camera))
        return flush(self, cut, camera)

    monkeypatch.setattr(cuts.Spotter, "flush", spy)
    for i in range(2):
        _cached(tmp_path / f"{i}.npz", 120, i)
    cached = [cuts.load(tmp_path / f"{i}.npz") for i in range(2)]
    _, at = cuts.replay_reel(cached, people, [0, 40, 80], [0, 1, 0], cuts.SpotConfig())
    assert at == {40, 80}
    cut_calls = [c for c in calls if c[1]]
    assert all(camera for _, _, camera in cut_calls) and len({s for s, _, _ in calls}) == faces
    assert len(cut_calls) == (3 if faces == 2 else 2)  # at 80 face b is present and face a away: both flushed


def test_a_cache_whose_rows_are_not_the_frames_is_refused_by_name(cuts, tmp_path):
    n = 50
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "v.npz", frames=np.r_[np.arange(20), 19, np.arange(20, n)], times=np.zeros(n + 1),
             have=np.r_[np.ones(20, bool), False, np.ones(n - 20, bool)], fps=30.0,
             grey=rng.uniform(0, 255, (n, 112, 112)).astype(np.float32))
    with pytest.raises(cuts.InputError, match=r"v\.npz: its rows are not the video's frames"):
        cuts.load(tmp_path / "v.npz")


def test_a_reel_is_replayed_through_the_sessions_own_face_state(cuts, tmp_path, monkeypatch):
    """The bench had its own copy of FaceState.push (motion, spotter, the flushes at an absence and a cut) on the
    cached rows: a change to the shipped push would not have been measured. Every frame of a reel, every cut and the
    end now go through mpt_live.face_state.FaceState.push, and the reel's events are the ones it returned."""
    from mpt_live.face_state import FaceState

    pushed, returned = [], []
    real = FaceState.push

    marker = object()  # random faces give the spotter nothing to find: one event made up at frame 50 stands for it

    def spy(self, frame, face, cut=False, camera=False):
        pushed.append((frame.index, face is not None, cut, camera))
        out = real(self, frame, face, cut, camera) + ([SimpleNamespace(event=marker)] if frame.index == 50 else [])
        returned.extend(c.event for c in out)
        return out

    monkeypatch.setattr(FaceState, "push", spy)
    for i in range(2):
        _cached(tmp_path / f"{i}.npz", 120, i)
    cached = [cuts.load(tmp_path / f"{i}.npz") for i in range(2)]
    events, _ = cuts.replay_reel(cached, ["a", "b"], [0, 40, 80], [0, 1, 0], cuts.SpotConfig())
    # 120 frames with a face; cuts: at 40 face a (b not yet seen), at 80 both; the end: both
    assert sum(f for _, f, _, _ in pushed) == 120 and len(pushed) == 120 + 1 + 2 + 2, pushed[-6:]
    assert [p[2:] for p in pushed if p[2]] == [(True, True)] * 3
    assert marker in events and all(e in returned for e in events)  # what push returned is the reel's events
