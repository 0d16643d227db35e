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


@pytest.fixture(scope="module")
def cuts():
    yield from bench_script("spotting_cuts")


@pytest.fixture(scope="module")
def perturb():
    yield from bench_script("spotting_perturb")


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


def _cache(path, kinds: list[int], camera: list[bool] | None = None, **made) -> None:
    """A cache file of rows of ``kinds`` (FACE rows with random frames), a frame each, at 30 fps; ``made``: its
    ``corrected`` and ``size`` marks (none: a file from before they were kept)."""
    rng, n = np.random.default_rng(2), len(kinds)
    have = np.array([k == 0 for k in kinds])
    extra = {**made, **({} if camera is None else {"kind": np.array(kinds), "camera": np.array(camera)})}
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


def test_background_evidence_leaves_out_a_second_around_each_movement(replay):
    """--evidence: the frames within 1 s of an annotated movement (either type) are not background."""
    v = LongVideo("v", "s", 30.0, [Interval(100, 105, 110, "micro"), Interval(200, 220, 240, "macro")])
    trace = {i: (0.3 if i % 2 else 0.5, 0) for i in range(300)}
    for i in range(70, 141):
        trace[i] = (9.0, 0)  # the movement and the second either side
    e = replay.background(v, trace, 30.0)
    near = set(range(70, 141)) | set(range(170, 271))
    assert list(e) == [trace[i][0] for i in range(300) if i not in near] and len(e) == 128 and e.max() == 0.5
    assert len(replay.background(v, {}, 30.0)) == 0


def test_evidence_flag_prints_each_video_median_and_the_benchmark_range(replay, tmp_path, monkeypatch, capsys):
    """The line the README's evidence figure is read from, on a cached video of random frames."""
    root = tmp_path / "bench"
    root.mkdir()
    (root / "annotations.csv").write_text("video,onset,apex,offset,fps,type,label,action_units\n"
                                          "long_001.mp4,100,104,108,30,micro,others,L6\n")
    (tmp_path / "cache" / "bench").mkdir(parents=True)
    _cache(tmp_path / "cache" / "bench" / "long_001.npz", [0] * 200)
    monkeypatch.setattr("sys.argv", ["spotting_replay.py", str(root), "--cache", str(tmp_path / "cache"), "--evidence"])
    replay.main()
    out = capsys.readouterr().out
    import re

    m = re.search(r"evidence outside movements \(micro, (\d+) frames\): median ([\d.]+), p90 ([\d.]+)", out)
    assert m, out
    n, median, p90 = int(m[1]), float(m[2]), float(m[3])
    assert 0 < n < 200 - 69 and 0 < median <= p90  # the movement's frames and a second either side left out
    s = re.search(r"bench\s+evidence outside movements: median ([\d.]+)-([\d.]+) over its 1 videos", out)
    assert s and float(s[1]) == float(s[2]) == median


@pytest.mark.slow
def test_a_cache_built_on_the_corrected_face_differs_and_is_not_replayed_as_the_other(cache, replay, faces_dir, tmp_path,
                                                                                     monkeypatch, capsys):
    """--corrected-face: the same frames of the same face, under the eyes-mouth correction (another warp of it),
    marked in the file; a replay told the other face refuses the file in one line."""
    import cv2

    from train.datasets.longvideo import LongVideo

    src, clip = cv2.VideoCapture(str(faces_dir / "videos" / "liveportrait_d3_expressive.mp4")), tmp_path / "d3.mp4"
    out = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (int(src.get(3)), int(src.get(4))))
    for _ in range(60):
        ok, frame = src.read()
        assert ok
        out.write(frame)
    src.release()
    out.release()
    v = LongVideo("d3", "d3", 30.0, [], video=clip)
    cache.build(v, tmp_path / "eyes.npz")
    cache.build(v, tmp_path / "corrected.npz", corrected=True)
    cache.build(v, tmp_path / "small.npz", size=112)
    eyes, corr = np.load(tmp_path / "eyes.npz"), np.load(tmp_path / "corrected.npz")
    assert cache.made_as(tmp_path / "eyes.npz") == (False, 224) and cache.made_as(tmp_path / "corrected.npz") == (True, 224)
    assert np.array_equal(eyes["frames"], corr["frames"]) and eyes["grey"].shape == corr["grey"].shape
    a, b = eyes["grey"].astype(float), corr["grey"].astype(float)
    assert np.abs(a - b).mean() > 1.0  # another warp
    assert cache.made_as(tmp_path / "small.npz") == (False, 112)
    small = np.load(tmp_path / "small.npz")
    # a 112 px model's spotter face is a 224 warp too, registered at 224: the same face within interpolation
    assert np.array_equal(small["frames"], eyes["frames"]) and np.abs(small["grey"] - a).mean() < 3.0
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.8  # of the same face

    root = tmp_path / "bench"
    (root / "videos").mkdir(parents=True)
    (root / "annotations.csv").write_text("video,onset,apex,offset,fps,type,label,action_units\n"
                                          "d3.mp4,10,14,18,30,micro,others,L6\n")
    (tmp_path / "c" / "bench").mkdir(parents=True)
    (tmp_path / "corrected.npz").rename(tmp_path / "c" / "bench" / "d3.npz")
    monkeypatch.setattr("sys.argv", ["spotting_replay.py", str(root), "--cache", str(tmp_path / "c")])
    with pytest.raises(SystemExit) as e:
        replay.main()
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and "built with the spotter on the corrected face at 224 px" in err


@pytest.mark.parametrize("extra", [["--size", "100"], ["--size", "112", "--corrected-face"]])
def test_a_cache_size_the_aligner_does_not_make_is_refused_in_one_line(replay, tmp_path, monkeypatch, capsys, extra):
    monkeypatch.setattr("sys.argv", ["spotting_replay.py", str(tmp_path), "--cache", str(tmp_path), *extra])
    with pytest.raises(SystemExit) as e:
        replay.main()
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith("error: --size") and err.count("\n") == 1


def test_every_replaying_bench_refuses_a_cache_built_otherwise_in_one_line(cache, cuts, perturb, tmp_path, monkeypatch,
                                                                          capsys):
    """spotting_cuts and spotting_perturb replayed any cache as the spotter's own; like spotting_replay they now
    refuse one built on the corrected face or for a 112 px model (run_cached checks it for every caller)."""
    from mpt_live.errors import InputError

    root = tmp_path / "bench"
    root.mkdir()
    (root / "annotations.csv").write_text("video,onset,apex,offset,fps,type,label,action_units\n"
                                          "long_001.mp4,100,104,108,30,micro,others,L6\n"
                                          "long_002.mp4,50,54,58,30,micro,others,L6\n")
    (tmp_path / "c" / "bench").mkdir(parents=True)
    for name in ("long_001", "long_002"):
        _cache(tmp_path / "c" / "bench" / f"{name}.npz", [0] * 120, corrected=False, size=112)
    f = tmp_path / "c" / "bench" / "long_001.npz"
    with pytest.raises(InputError, match="built with the spotter on the eyes-aligned face at 112 px, not the "
                                         "eyes-aligned face at 224 px"):
        cache.run_cached(f, lambda sp: None)
    assert isinstance(cache.run_cached(f, lambda sp: None, made=(False, 112)), list)  # as it was built: replayed
    for bench, name in ((cuts, "spotting_cuts.py"), (perturb, "spotting_perturb.py")):
        monkeypatch.setattr("sys.argv", [name, str(root), "--cache", str(tmp_path / "c")])
        with pytest.raises(SystemExit) as e:
            bench.main()
        out, err = capsys.readouterr()
        assert e.value.code == 2 and err.count("\n") == 1, (name, err)
        assert err.startswith(f"error: {f}: built with the spotter on the eyes-aligned face at 112 px"), (name, err)
        assert "events" not in out  # refused before any replay


def test_every_read_of_a_cache_to_replay_checks_how_it_was_built(cache, replay, tmp_path):
    """stream() replayed any file (its callers were to check it first): like run_cached it now refuses, in one line,
    a cache built otherwise than the replay expects, and so do spotting_replay's cut and rate_phase (--rates, --cuts),
    which pass on the --size and --corrected-face they were given."""
    from mpt_live.errors import InputError

    f = tmp_path / "v.npz"
    _cache(f, [0] * 120, corrected=False, size=112)
    for read in (lambda: cache.stream(f), lambda: replay.cut(f, 3), lambda: replay.rate_phase(f, [30.0], 0, 1)):
        with pytest.raises(InputError, match="at 112 px, not the eyes-aligned face at 224 px"):
            read()
    signals, _ = cache.stream(f, made=(False, 112))
    assert sum(isinstance(s, FrameSignals) for s in signals) > 60  # as built: replayed
    copy, _, f0, _ = replay.cut(f, 3, (False, 112))
    assert f0 == 3 and len(copy) == len(cache.stream(f, 3, (False, 112))[0])
    _, runs = replay.rate_phase(f, [30.0], 0, 1, made=(False, 112))
    assert len(runs) == 1 and (30.0, 0, False) in runs[0] and (30.0, 1, True) in runs[0]

