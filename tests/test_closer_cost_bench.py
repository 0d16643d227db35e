"""bench/closer_cost.py: a small face's close-up look at each detection, measured against the rule before."""

from __future__ import annotations

import re

import pytest

from conftest import bench_script


@pytest.fixture(scope="module")
def closer_bench():
    yield from bench_script("closer_cost")


def test_the_bench_runs_both_rules_on_a_small_face_and_counts_their_close_up_looks(closer_bench, faces_dir, capsys):
    """Both rules track the small face on every frame after the first; the rule now looks close up at each of its
    detections (one in DETECT_EVERY frames), the rule before only at an embedding; the eyes keep their scale."""
    from mpt_live.tracker import DETECT_EVERY

    closer_bench.main(["--frames", "25", "--faces", str(faces_dir)])
    out = capsys.readouterr().out
    assert "avx" in out.splitlines()[0] or "unknown" in out.splitlines()[0], out
    rows = re.findall(r"^\| (before|now)[^|]*\| ([\d.]+) \| (\d+) \| (\d+) \((\d+)\) \| ([\d.]+) \|$", out, re.M)
    assert [r[0] for r in rows] == ["before", "now"], out
    (_, _, before, n0, s0, e0), (_, _, now, n1, s1, e1) = rows
    assert n0 == s0 == n1 == s1 == "24", rows
    assert int(now) >= 24 // DETECT_EVERY and int(before) < int(now), rows
    assert 0.3 < float(e0) < 0.55 and 0.3 < float(e1) < 0.55, rows


def test_the_interview_bench_prints_both_rules_per_case_and_the_whole_frames_keypoints_against_the_close_up(
        closer_bench, faces_dir, capsys):
    """--only interview: 1080p with one and two people, 720p with one, each under the rule before 671416b (no look
    for these faces: small against the frame's long side, not its tile's) and now (a look at each detection); the
    keypoints table has a row per case with its small detections."""
    from mpt_live.tracker import DETECT_EVERY

    closer_bench.main(["--only", "interview", "--frames", "9", "--people",
                       str(faces_dir / "videos" / "liveportrait_d6.mp4")])
    out = capsys.readouterr().out
    assert "avx" in out.splitlines()[0] or "unknown" in out.splitlines()[0], out
    rows = re.findall(r"^\| (\d+x\d+), ([\d +]+) \| (before|now)[^|]*\| [\d.]+ \| (\d+) \| (\d+) \|$", out, re.M)
    assert [(r[0], r[2]) for r in rows] == [(c, rule) for c in ("1920x1080", "1920x1080", "1280x720")
                                            for rule in ("before", "now")], out
    for (_, sizes, _, p0, t0), (_, _, _, p1, t1) in zip(rows[::2], rows[1::2]):
        faces = len(sizes.split("+"))
        assert p0 == "0" and t0 == t1 == str(8 * faces), rows
        # every 4th of 8 frames, each small face (the 380 px one is at the edge of small against 1920: 384)
        assert 8 // DETECT_EVERY <= int(p1) <= faces * (8 // DETECT_EVERY), rows
    errs = re.findall(r"^\| (\d+x\d+), [\d +]+ \| (\d+) \| ([\d.]+) \| ([\d.]+) \|$", out, re.M)
    assert [e[0] for e in errs] == ["1920x1080", "1920x1080", "1280x720"], out
    assert [int(e[1]) for e in errs][::2] == [3, 3] and 3 <= int(errs[1][1]) <= 6, errs
    assert all(0 < float(e[2]) <= float(e[3]) for e in errs), errs
