"""bench/registration_cost.py: a 112 px model's alignment registered at 224 px against 112 px, alternated."""

from __future__ import annotations

import re

import pytest
from conftest import bench_script

from mpt_live import track_align
from mpt_live.machine import vector_extensions


@pytest.fixture(scope="module")
def rc():
    yield from bench_script("registration_cost")


def test_both_registrations_are_measured_and_the_runtime_constant_is_left_as_it_was(rc, faces_dir, capsys):
    before = track_align.STABILIZE_MIN_SIZE
    video = faces_dir / "videos" / "liveportrait_d6.mp4"
    assert rc.main(["--video", str(video), "--frames", "12", "--rounds", "2"]) == 0
    assert track_align.STABILIZE_MIN_SIZE == before
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"CPU vector extensions: {vector_extensions()}; ")
    m = re.search(r"12 frames, .* registered at 224 px ([\d.]+), at 112 px \(before\) ([\d.]+); ([+-][\d.]+) ms", out[1])
    assert m and float(m.group(1)) > 0 and float(m.group(2)) > 0
    assert float(m.group(3)) == pytest.approx(float(m.group(1)) - float(m.group(2)), abs=0.011)


def test_a_missing_video_or_too_few_frames_is_one_line(rc, tmp_path, capsys):
    with pytest.raises(SystemExit):
        rc.main(["--video", str(tmp_path / "none.mp4")])
    assert "none.mp4: no such video" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        rc.main(["--frames", "3"])
    assert "--frames 3 --rounds 5: at least 8 frames and 1 round" in capsys.readouterr().err
