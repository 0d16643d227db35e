"""Things that are not faces beside a real face get no face ID: a recording whose right half shows rendered lettering
(a text overlay, a sign; drawn at a new size every second) and a checkerboard, or a smiley drawn with circles, has
one face in its outputs, the real person's (bench/false_faces.py measures more such distractors, before and after
short-range vouched for a run on full-range)."""

from __future__ import annotations

import csv
import re

import cv2
import numpy as np
import pytest
from conftest import bench_script

from mpt_live.machine import vector_extensions
from train.compose import Player

SIDE, FPS = 480, 30.0


def _distractor(i: int) -> np.ndarray:
    """Frame i of the right half: a grey-blue wall with lettering (its size changes every second) above a
    checkerboard panel, both shifting by a pixel or two (a handheld shot)."""
    img = np.full((SIDE, SIDE, 3), (150, 120, 100), np.uint8)
    scale = (1.2, 2.0, 2.8)[int(i / FPS) % 3]
    shift = i % 3
    for k, word in enumerate(("LIVE", "Interview 7")):
        cv2.putText(img, word, (16 + shift, 70 + k * int(45 * scale)), cv2.FONT_HERSHEY_DUPLEX, scale,
                    (240, 240, 240), max(1, int(2 * scale)), cv2.LINE_AA)
    board = ((np.indices((160, 320)) // 32).sum(0) % 2 * 210 + 25).astype(np.uint8)
    img[300 + shift:460 + shift, 80:400] = board[..., None]
    return cv2.GaussianBlur(img, (0, 0), 1.0)


def _smiley(i: int) -> np.ndarray:
    """Frame i of the right half: a yellow disc with two round eyes and a smiling arc on a shaded brown wall,
    drifting a little."""
    shade = np.linspace(0.85, 1.15, SIDE, dtype=np.float32)[None, :, None]
    img = np.clip(np.array([70, 85, 125], np.float32) * shade * np.ones((SIDE, 1, 1), np.float32), 0, 255)
    img = img.astype(np.uint8)
    cx, cy = SIDE // 2 + int(3 * np.sin(i / 9)), SIDE // 2
    cv2.circle(img, (cx, cy), 130, (40, 200, 245), -1, cv2.LINE_AA)
    for dx in (-45, 45):
        cv2.circle(img, (cx + dx, cy - 35), 16, (40, 40, 40), -1, cv2.LINE_AA)
    cv2.ellipse(img, (cx, cy + 25), (60, 40), 0, 10, 170, (40, 40, 40), 8, cv2.LINE_AA)
    return cv2.GaussianBlur(img, (0, 0), 1.0)


def _video(faces_dir, path, right) -> None:
    person = Player(faces_dir / "videos" / "retalking_3_talking.mp4", SIDE, 3.0)
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (2 * SIDE, SIDE))
    for i in range(int(3 * FPS)):
        out.write(np.hstack([person.at(i / FPS), right(i)]))
    out.release()


def test_the_smiley_is_a_face_to_full_range_alone(faces_dir):
    """The premise of the smiley case below: full-range takes it for a face (0.5-0.7), short-range finds nothing
    there, in the whole frame or its tiles."""
    from mpt_live.face import FaceAligner

    frame = np.hstack([Player(faces_dir / "videos" / "retalking_3_talking.mp4", SIDE, 1.0).at(0), _smiley(0)])
    right = {}
    for model in ("short", "full"):
        with FaceAligner(model=model) as a:
            right[model] = [d for d in a.detect_tiles(frame, a.detect_image(frame)) if d.box[0] >= SIDE]
    assert not right["short"] and right["full"], right


@pytest.mark.parametrize("right", [_distractor, _smiley], ids=["lettering and a checkerboard", "a smiley"])
def test_a_pattern_beside_a_face_gets_no_id(faces_dir, tmp_path, right):
    """The smiley: the run switches to full-range for good (it finds a face more than short-range tracks), where,
    with no second model to ask, the smiley persisted and got its ID as a second face (rows in 97 % of the frames);
    short-range vouches for a run on full-range now and sees no face in it."""
    from mpt_live.job import run_job
    from mpt_live.session import SessionConfig
    from mpt_live.sources import VideoFile

    path = tmp_path / "beside.mp4"
    _video(faces_dir, path, right)
    with VideoFile(path) as src:
        summary = run_job(src, None, SessionConfig(), tmp_path / "out")  # a file: --max-faces 2
    assert [f["face_id"] for f in summary["faces"]] == [0], summary["faces"]
    with open(tmp_path / "out" / "predictions.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["face_id"] != ""]
    assert rows and all(int(r["x"]) + int(r["w"]) / 2 < SIDE for r in rows)  # every row is the real person's
    assert summary["frames_with_face"] >= 0.9 * summary["frames_read"]


@pytest.fixture(scope="module")
def ff():
    yield from bench_script("false_faces")


def test_the_bench_lays_a_case_out_in_a_4_3_frame_and_runs_both_square_rules(ff, faces_dir, capsys):
    """bench/false_faces.py --frame 640x480: the person and the smiley side by side in a 4:3 frame, run with the
    squares searched as before (3:2 and wider: none in a 4:3 frame) and as now (4:3 and wider), in one run."""
    assert ff.main(["--frame", "640x480", "--seconds", "1", "--people", "1", "--cases", "emoji",
                    "--faces", str(faces_dir)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"CPU vector extensions: {vector_extensions()}"
    assert "30 frames of 640x480 per run" in out
    assert "| right side | person | squares before (is_wide) | squares now (searched_in_tiles) |" in out
    cell = r"([\d.]+) \((\d+)\) / ([\d.]+), (\d+) searches"
    rows = re.findall(rf"^\| emoji \| (\S+) \| {cell} \| {cell} \|$", out, re.MULTILINE)
    assert len(rows) == 1, out
    _, _, _, before_person, before_searches, _, _, now_person, now_searches = rows[0]
    assert int(before_searches) == 0 < int(now_searches)  # only the new rule searches a 4:3 frame's squares
    assert float(before_person) >= 0.9 and float(now_person) >= 0.9  # the real face is tracked under both


def test_the_bench_refuses_a_gate_on_the_4_3_frame(ff, faces_dir, capsys):
    with pytest.raises(SystemExit, match="--gate: with the 960x480 frame only"):
        ff.main(["--frame", "640x480", "--gate", "5", "--faces", str(faces_dir)])
