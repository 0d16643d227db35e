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
