"""`mpt-live` motion-only run and inspector, end to end on real clips, and its error handling."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from mpt_live import run as run_mod
from mpt_live.cli import app
from mpt_live.run import MOTION_COLUMNS, process_video

runner = CliRunner()


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_motion_only_run_face_and_no_face(faces_dir, tmp_path):
    video = faces_dir / "videos" / "pyfeat_face_noface.mov"
    res = runner.invoke(app, ["--video", str(video), "--motion-only", "--headless", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    rows = _rows(tmp_path / "predictions.csv")
    assert list(rows[0].keys()) == MOTION_COLUMNS
    faces = [int(r["face"]) for r in rows]
    # webcam face first, then the cartoon with no face: both kinds of rows, face rows first
    assert faces[0] == 1 and faces[-1] == 0 and 0 in faces and 1 in faces
    assert faces.index(0) > 5
    for r in rows:
        if r["face"] == "0":
            assert r["x"] == "" and r["motion_score"] == ""
        else:
            assert int(r["w"]) > 50
    scored = [float(r["motion_score"]) for r in rows if r["motion_score"]]
    assert scored and all(s >= 0 for s in scored)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["frames_read"] == 169
    assert 0 < summary["frames_with_face"] < 169
    assert summary["windows"] == len(rows)
    assert summary["fps"] > 0 and summary["source_fps"] == pytest.approx(26.4, abs=0.1)


def test_still_face_scores_lower_than_talking(faces_dir, tmp_path):
    means = {}
    for name in ("evm_face_still.mp4", "retalking_3_talking.mp4"):
        s = process_video(faces_dir / "videos" / name, tmp_path / name)
        rows = _rows(tmp_path / name / "predictions.csv")
        vals = [float(r["motion_score"]) for r in rows if r["motion_score"]]
        assert len(vals) >= 10 and s["windows_scored"] == len(vals)
        means[name] = np.median(vals)
    assert means["evm_face_still.mp4"] * 3 < means["retalking_3_talking.mp4"]


def test_interrupted_run_keeps_valid_csv_and_summary(faces_dir, tmp_path, monkeypatch):
    real_update = run_mod.Spotter.update
    calls = {"n": 0}

    def update(self, t, score, probs=None):
        calls["n"] += 1
        if calls["n"] == 12:
            raise KeyboardInterrupt
        return real_update(self, t, score, probs)

    monkeypatch.setattr(run_mod.Spotter, "update", update)
    res = runner.invoke(app, ["--video", str(faces_dir / "videos" / "evm_face_still.mp4"), "--motion-only", "--headless",
                              "--out", str(tmp_path)])
    assert res.exit_code == 130
    rows = _rows(tmp_path / "predictions.csv")
    assert len(rows) == 11 and all(len(r) == len(MOTION_COLUMNS) for r in rows)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["windows"] == 11


def test_inspect_writes_sheet(faces_dir, tmp_path):
    out = tmp_path / "sheet.png"
    res = runner.invoke(app, ["--video", str(faces_dir / "videos" / "liveportrait_d19_glasses.mp4"), "--inspect", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    img = cv2.imread(str(out))
    assert img is not None and img.shape[1] > 3 * img.shape[0]  # a wide strip of 16 frames + dynamic image


def _zero_frame_video(tmp_path):
    p = tmp_path / "zero.mp4"
    vw = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*"mp4v"), 30, (64, 64))
    vw.release()
    return p


@pytest.mark.parametrize(
    "args, expected",
    [
        (lambda d, f: ["--video", str(d / "missing.mp4"), "--headless", "--out", str(d / "o")], "no such file"),
        (lambda d, f: ["--video", str(d), "--headless", "--out", str(d / "o")], "contains no video files"),
        (lambda d, f: ["--video", str(_zero_frame_video(d)), "--headless", "--out", str(d / "o")], "zero.mp4"),
        (lambda d, f: ["--video", str(f / "videos" / "evm_face_still.mp4"), "--inspect", "0.5", "--out", str(d / "s.png")], "earlier than one window"),
        (lambda d, f: ["--video", str(f / "videos" / "evm_face_still.mp4"), "--inspect", "99", "--out", str(d / "s.png")], "past the end"),
        (lambda d, f: ["--video", str(f / "videos" / "pyfeat_face_noface.mov"), "--inspect", "5.5", "--out", str(d / "s.png")], "no face"),
        (lambda d, f: ["--video", str(f / "videos" / "evm_face_still.mp4"), "--inspect", "2", "--out", str(d / "s.jpg")], "PNG"),
        (lambda d, f: ["--video", str(f / "videos" / "evm_face_still.mp4"), "--headless"], "--out"),
        (lambda d, f: ["--video", str(f / "videos" / "evm_face_still.mp4"), "--detector", "huge", "--out", str(d)], "--detector"),
    ],
    ids=["missing", "directory", "zero-frames", "too-early", "past-end", "no-face", "not-png", "no-out", "bad-detector"],
)
def test_bad_input_one_line_error(faces_dir, tmp_path, args, expected):
    res = runner.invoke(app, args(tmp_path, faces_dir))
    assert res.exit_code == 2, res.output
    out = res.output.strip()
    assert expected in out and "Traceback" not in out
    assert len([ln for ln in out.splitlines() if ln.strip()]) == 1, out
