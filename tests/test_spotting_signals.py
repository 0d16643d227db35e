"""bench/spotting_signals.py: its offline ``bump`` is FaceMotion's micro map, its candidates do what they say on
hand-made maps, and a run scores the present signal and its offline copy alike (no session, a hand-made cache)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import bench_script

from mpt_live.facemotion import GRID, REGIONS, SIZE, FaceMotion


@pytest.fixture(scope="module")
def signals():
    yield from bench_script("spotting_signals")


def _faces(n: int, seed: int = 0, at: range = range(0)) -> np.ndarray:
    """``n`` grey 112 px frames of a fixed texture with a little noise; a bright blob in the brow's area at ``at``."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(60, 200, (SIZE, SIZE)).astype(np.float32)
    out = base + rng.normal(0, 1.0, (n, SIZE, SIZE)).astype(np.float32)
    for i in at:
        out[i, 40:48, 40:48] += 40 * np.sin(np.pi * (i - at.start + 1) / (len(at) + 1))
    return out


def test_the_offline_bump_is_facemotions_micro_map(signals):
    grey, fm, got = _faces(90), FaceMotion(30.0), {}
    for i, g in enumerate(grey):
        got.update({s.frame: s.micro for s in fm.push(i, i / 30.0, g) if s.micro is not None})
    got.update({s.frame: s.micro for s in fm.flush() if s.micro is not None})
    mine = signals.bump(signals.smoothed(grey, fm.half), fm.k_micro)
    assert sorted(got) == sorted(mine) and len(mine) == 90 - 2 * fm.k_micro
    assert max(np.abs(got[c] - mine[c]).max() for c in mine) < 1e-3


def test_the_regression_removes_motion_the_mouth_drives_and_keeps_a_movement_of_its_own(signals):
    rng, n = np.random.default_rng(1), 900
    mouth = np.abs(rng.normal(0, 5, n))  # speech: the mouth's motion, which drives every other cell too
    maps = {c: (mouth[c] * (0.5 + REGIONS["inner"]) + rng.normal(0, 0.2, (GRID, GRID))).astype(np.float32)
            for c in range(n)}
    for c in range(n):
        maps[c][REGIONS["mouth"]] = mouth[c]
    maps[800][4, 5] += 6.0  # a movement of its own in one upper-face cell
    out = signals.resid(maps, 30.0)
    before = np.std([maps[c][4, 5] for c in range(300, 790)])
    after = np.std([out[c][4, 5] for c in range(300, 790)])
    assert after < 0.1 * before and out[800][4, 5] > 5.0


def test_local_contrast_keeps_one_cells_peak_and_removes_a_spread_one(signals):
    flat = np.full((GRID, GRID), 3.0, np.float32)
    peak = flat.copy()
    peak[6, 6] += 5.0
    out = signals.local({0: flat, 1: peak})
    assert np.abs(out[0]).max() < 1e-6 and out[1][6, 6] == pytest.approx(5.0)


def test_the_movement_stands_out_of_the_in_time_contrast(signals):
    maps = {c: np.full((GRID, GRID), 2.0, np.float32) for c in range(120)}
    maps[60] = maps[60] + np.eye(GRID, dtype=np.float32)
    out = signals.in_time(maps, 30.0, ratio=False)
    assert out[60][3, 3] == pytest.approx(1.0) and abs(out[60][3, 4]) < 1e-6 and abs(out[20][3, 3]) < 1e-6


def _cache(root, cache, n: int = 360) -> None:
    (root / "videos").mkdir(parents=True)
    (root / "annotations.csv").write_text("video,onset,apex,offset,fps,type,label,action_units\n"
                                          "v.mp4,240,244,248,30,micro,surprise,1+2\n")
    grey = _faces(n, 2, range(240, 249))
    kind = np.zeros(n, int)
    kind[150] = 1  # the face lost for a frame: two tracks
    (cache / root.name).mkdir(parents=True)
    np.savez(cache / root.name / "v.npz", frames=np.arange(n), times=np.arange(n) / 30.0, have=kind == 0, kind=kind,
             camera=np.zeros(n, bool), fps=30.0, corrected=False, size=224, grey=grey[kind == 0])


def test_a_run_scores_the_present_signal_and_its_offline_copy_alike(signals, tmp_path, monkeypatch, capsys):
    _cache(tmp_path / "bench", tmp_path / "cache")
    d = np.load(tmp_path / "cache" / "bench" / "v.npz")
    assert [len(f) for f, _ in signals.segments(d)] == [150, 209]
    monkeypatch.setattr("sys.argv", ["spotting_signals.py", str(tmp_path / "bench"), "--cache", str(tmp_path / "cache"),
                                     "--signals", "bump,local"])
    signals.main()
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split(None, 2)[2] for line in out.splitlines() if " pooled " in line}
    assert set(rows) == {"present", "bump", "local"} and "of 1 above" in rows["present"]
    assert rows["present"] == rows["bump"].split("; signal CPU")[0]


@pytest.mark.parametrize("given", ["bump,wavelet", ","])
def test_an_unknown_signal_is_refused_in_one_line(signals, tmp_path, monkeypatch, capsys, given):
    monkeypatch.setattr("sys.argv", ["spotting_signals.py", str(tmp_path), "--cache", str(tmp_path), "--signals", given])
    with pytest.raises(SystemExit) as e:
        signals.main()
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith("error: --signals") and err.count("\n") == 1


def test_the_flow_signal_peaks_where_a_patch_moves_and_comes_back(signals):
    """A 12 px patch shifted 2 px right for frames 10-16 of 31, the whole face shifted 1 px down from frame 20 (a
    lasting move the affine fit takes away): at frame 13 Farneback's flow is strongest in the patch's cells (DIS
    ultrafast, the ``flow`` candidate, gives them 0.15 px of the 2: why it misses the photos' movements)."""
    import cv2

    rng = np.random.default_rng(3)
    base = cv2.GaussianBlur(rng.uniform(0, 255, (SIZE, SIZE)).astype(np.float32), (0, 0), 1.5)
    frames = np.stack([base] * 31)
    for i in range(10, 17):
        frames[i, 48:60, 40:52] = base[48:60, 38:50]
    frames[20:] = np.roll(frames[20:], 1, axis=1)
    out = signals.flow(frames, 8, farneback=True)
    m = out[13]
    assert np.unravel_index(np.argmax(m), m.shape) in {(r, c) for r in (6, 7) for c in (5, 6)}
    assert m[6:8, 5:7].mean() > 3 * np.median(m)


def test_the_cross_cell_fit_removes_motion_shared_across_the_face_and_keeps_a_local_movement(signals):
    rng, n = np.random.default_rng(4), 400
    common = np.abs(rng.normal(0, 5, n))  # non-rigid motion that moves every cell, each by its own gain
    gain = rng.uniform(0.5, 2.0, (GRID, GRID))
    maps = {c: (common[c] * gain + rng.normal(0, 0.2, (GRID, GRID))).astype(np.float32) for c in range(n)}
    maps[380][4, 5] += 6.0
    out = signals.xcell(maps, 30.0, history_s=10.0, every_s=4.0)  # refitted at frames 120, 240 and 360
    before = np.std([maps[c][4, 5] for c in range(130, 370)])
    after = np.std([out[c][4, 5] for c in range(130, 370)])
    assert after < 0.2 * before and out[380][4, 5] > 4.5
