"""bench/batched_windows.py: windows classified batched against alone, counted."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import bench_script
from tinymodel import tiny_onnx

from mpt_live.clip import ClipSpec
from mpt_live.machine import vector_extensions


@pytest.fixture(scope="module")
def bw():
    yield from bench_script("batched_windows")


def test_windows_are_equal_within_rounding_and_a_window_of_one_run_only_is_counted(bw):
    p = np.array([0.5, 0.3, 0.2])
    alone = {(1, 0): p, (1, 1): p, (2, 0): p, (3, 0): p}
    batched = {(1, 0): p.copy(), (1, 1): p + [4e-7, -4e-7, 0], (2, 0): np.array([0.2, 0.3, 0.5]), (4, 1): p}
    r = bw.compare(alone, batched)
    assert (r["windows"], r["only_one_run"], r["equal"], r["identical"], r["same_top"]) == (3, 2, 2, 1, 2)
    assert r["max"] == pytest.approx(0.3) and r["median"] == pytest.approx(4e-7)


def test_an_fp32_model_gives_every_window_its_probabilities_alone(bw, faces_dir, tmp_path, capsys):
    """The tiny fp32 model on 2 s of the two people: both faces' windows, each equal batched and alone."""
    model = tiny_onnx(tmp_path / "tiny.onnx", spec=ClipSpec(image_size=112))
    assert bw.main(["--model", str(model), "--seconds", "2", "--faces", str(faces_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"CPU vector extensions: {vector_extensions()}"
    n = int(lines[2].split(" of ")[1].split()[0])
    assert n >= 2 and lines[2].startswith(f"{n} of {n} windows equal") and f"the same on {n} of {n}" in lines[2]


def test_a_missing_model_or_face_video_is_one_line(bw, tmp_path, capsys):
    with pytest.raises(SystemExit):
        bw.main(["--model", str(tmp_path / "none.onnx")])
    assert "none.onnx: no such model file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bw.main(["--faces", str(tmp_path)])
    assert "paddlegan_fom_dv.mp4" in capsys.readouterr().err
