"""bench/alignment.py's --energy and --shape: head drift's band energy by alignment, and faces' eye-to-mouth ratio."""

from __future__ import annotations

import cv2
import pytest
from conftest import bench_script

from mpt_live.demo_input import demo_portrait


@pytest.fixture(scope="module")
def ab():
    yield from bench_script("alignment")


def test_registration_takes_out_the_head_drift(ab):
    """On the default input's head drift alone, the registered faces carry far less band energy than faces
    aligned by keypoints alone (10 frames counted after the 2 s warm-up)."""
    e = ab.drift_energy(frames=70, warmup=60)
    assert set(e) == {"keypoints alone", "with registration", "first frame frozen"}
    assert all(len(v) == 10 for v in e.values())
    assert e["with registration"].mean() * 5 < e["keypoints alone"].mean()


def test_eye_to_mouth_ratio_of_a_photo(ab, tmp_path):
    """The astronaut's one face: a ratio near the template's 1.09 and a nose near the midline; a file that is not a
    photo is passed over."""
    cv2.imwrite(str(tmp_path / "astronaut.png"), demo_portrait())
    (tmp_path / "notes.txt").write_text("not a photo")
    rows = ab.mouth_ratios([tmp_path])
    assert [r[0] for r in rows] == ["astronaut.png#0"]
    assert 0.85 < rows[0][1] < 1.35 and abs(rows[0][2]) < 0.2


def test_shape_folder_missing_is_one_line(ab, tmp_path, capsys):
    assert ab.main(["--shape", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: --shape {tmp_path / 'none'}: not a folder of photos"]
