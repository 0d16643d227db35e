"""A run that finds no face says what to do where a face too small for the frame is found in a crop of it
(mpt_live/crop_search.py), and nothing more where none is: recordings made here of the demo's astronaut (a person not
in ../shared) small in a 1920x1080 frame."""

from __future__ import annotations

import json
import re
import shlex

from pathlib import Path

import cv2
import numpy as np
import pytest

import faultkit as fk
from mpt_live import crop_search


@pytest.fixture(scope="module")
def distant(tmp_path_factory):
    """1 s of the demo input shrunk so that its face is about 35 px wide (4 % of the height) in a 1920x1080 frame over a
    smooth backdrop: the run's detectors find it in no frame (the whole frame and its squares)."""
    from mpt_live.demo_input import FPS, demo_animator

    d = tmp_path_factory.mktemp("distant")
    raw, path = d / "raw.avi", d / "desk.mp4"
    anim, _ = demo_animator(0)
    h, w = 1080, 1920
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    backdrop = np.stack([90 + 60 * xx / w, 100 + 40 * yy / h, 120 - 30 * xx / w], -1).astype(np.uint8)
    scale = 0.04 * h / (0.28 * 640 * 1.1)  # the demo's face: 0.28 of its 640 px width, about 1.1 times as tall
    out = cv2.VideoWriter(str(raw), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (w, h))
    for i in range(int(FPS)):
        small = cv2.resize(anim.render(i / FPS, i), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        frame = backdrop.copy()
        frame[400:400 + small.shape[0], 1100:1100 + small.shape[1]] = small
        out.write(frame)
    out.release()
    fk.ffmpeg("-i", str(raw), "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path))  # as a camera or phone stores it
    return path


def test_a_face_too_small_for_the_frame_is_said_with_the_crop_that_finds_it(distant, tmp_path, run_main):
    """'no face found' said nothing a user could do; now the line names the face found in a crop of a frame, its size
    and place, and an ffmpeg crop, which run in turn gives a video whose face is found in most frames."""
    code, lines = run_main("mpt_live.cli", "--video", str(distant), "--motion-only", "--headless",
                           "--out", str(tmp_path / "run"))
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert code == 0 and summary["frames_with_face"] < summary["frames_read"] / 2, lines
    said = [w for w in summary["warnings"] if w.startswith((f"{distant}: no face found", f"{distant}: only a face in"))]
    assert len(said) == 1 and "; a face about " in said[0] and "not in the whole 1920x1080 frame" in said[0], said
    x, y = (int(v) for v in re.search(r"at x=(\d+), y=(\d+)", said[0]).groups())
    assert 1100 <= x <= 1100 + 90 and 400 <= y <= 400 + 70  # the astronaut's face, in the shrunk frame's upper half
    command = shlex.split(said[0].split("crop the video around it: ")[1])
    assert command[:3] == ["ffmpeg", "-i", "desk.mp4"] and command[-1] == "desk_face.mp4"
    cropped = tmp_path / "desk_face.mp4"
    fk.ffmpeg("-i", str(distant), *command[3:-1], str(cropped))
    code, lines = run_main("mpt_live.cli", "--video", str(cropped), "--motion-only", "--headless",
                           "--out", str(tmp_path / "cropped"))
    after = json.loads((tmp_path / "cropped" / "summary.json").read_text())
    assert code == 0 and after["frames_with_face"] > after["frames_read"] / 2, lines
    assert not any("no face found" in w for w in after["warnings"])


def test_a_resumed_run_keeps_the_crop_hint_in_its_no_face_warning(distant, tmp_path, run_main):
    """--resume decides the no-face warning again from the whole run's counts (mpt_live/resume.py's merge): the line
    it wrote ended at 'no face found', dropping where the too-small face is and the crop that shows it. The resumed
    run's line ends with the uncut run's hint."""
    whole, out = tmp_path / "whole", tmp_path / "run"
    args = ["--video", str(distant), "--motion-only", "--headless"]
    assert run_main("mpt_live.cli", *args, "--out", str(whole))[0] == 0
    assert run_main("mpt_live.cli", *args, "--out", str(out), "--max-seconds", "0.5")[0] == 0
    code, lines = run_main("mpt_live.cli", *args, "--out", str(out), "--resume")
    summary = json.loads((out / "summary.json").read_text())
    said, want = ([w.split("; ", 1) for w in s["warnings"] if w.startswith((f"{distant}: no face found",
                                                                         f"{distant}: only a face in"))]
                  for s in (summary, json.loads((whole / "summary.json").read_text())))
    assert code == 0 and summary["resumed_at_s"] and len(said) == 1 and len(want) == 1, (lines, summary["warnings"])
    assert said[0][1] == want[0][1] and said[0][1].startswith("a face about "), said  # the uncut run's hint
    assert "crop the video around it: ffmpeg -i desk.mp4 " in said[0][1]


def test_a_video_without_a_face_says_only_no_face_found(tmp_path, run_main):
    """No face in any crop either: no hint (nothing to base one on)."""
    path = tmp_path / "pattern.mp4"
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=1280x720:r=25:d=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path))
    code, lines = run_main("mpt_live.cli", "--video", str(path), "--motion-only", "--headless",
                           "--out", str(tmp_path / "run"))
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert code == 0 and f"{path}: no face found" in summary["warnings"], lines


def test_the_face_is_looked_for_in_smaller_crops_and_placed_in_the_frame():
    """search: the crops halve down to 1/8 of the short side, the first face scoring NEW_SCORE found is placed in
    the frame's pixels (a fainter one is passed over); line: the crop said is square, CLOSER_SIDE times the face, around
    it, moved inside the frame at its edges."""
    class Face:
        def __init__(self, score):
            self.score, self.box = score, (10, 12, 30, 30)

    sides = []

    frame = np.zeros((720, 1280, 3), np.uint8)
    x0 = crop_search.starts(1280, 180)[2]  # the third 180 px crop across, overlapping the one before by half or more
    assert 0 < x0 - crop_search.starts(1280, 180)[1] <= 90

    def detect(img):  # faint in the 360 px crops, confident in the 180 px crop at (x0, 180)
        sides.append(img.shape[0])
        here = img.shape[0] == 180 and img.ctypes.data == frame[180:, x0:].ctypes.data
        return [Face(0.5)] if img.shape[0] == 360 else [Face(0.9)] if here else []

    assert crop_search.search(frame, detect) == ((x0 + 10, 192, 30, 30), 180)
    assert sorted(set(sides), reverse=True) == [720, 360, 180]
    assert crop_search.search(frame, lambda img: []) is None
    assert "crop=90:90:180:162 v_face.mp4" in crop_search.line("v.mp4", frame.shape, (210, 192, 30, 30), 180, Path("v.mp4"))
    assert "crop=90:90:1190:630 v_face.mp4" in crop_search.line("v.mp4", frame.shape, (1270, 700, 30, 30), 90, Path("v.mp4"))
    assert "crop=720:720:0:0 " in crop_search.line("v.mp4", frame.shape, (0, 0, 400, 400), 90, Path("v.mp4"))  # at most the frame


def test_the_ffmpeg_command_only_for_a_file_and_quoted():
    """A camera, a stream or a frame folder (no path) gets the face's crop as a place, no ffmpeg command naming it as a
    file; a file whose name has a space gets both names quoted for the shell."""
    shape = (720, 1280, 3)
    said = crop_search.line("camera 0", shape, (210, 192, 30, 30), 180)
    assert "ffmpeg" not in said and said.endswith("crop the video around it (90x90 px at x=180, y=162)"), said
    said = crop_search.line("/data/my clip.mov", shape, (210, 192, 30, 30), 180, Path("/data/my clip.mov"))
    assert said.endswith("ffmpeg -i 'my clip.mov' -vf crop=90:90:180:162 'my clip_face.mov'"), said
    assert shlex.split(said.split(": ffmpeg ", 1)[1])[-1] == "my clip_face.mov"


def test_a_face_not_small_for_the_frame_gives_no_hint(monkeypatch):
    """A face found in a crop but over SMALL_SHARE of the frame's short side was not missed for its size: no hint
    (nor without a frame kept)."""
    frame = np.zeros((720, 1280, 3), np.uint8)
    monkeypatch.setattr(crop_search, "search", lambda img, detect: ((100, 100, 150, 150), 360))  # 150 > 0.2 * 720
    assert crop_search.hint("v.mp4", frame) is None
    monkeypatch.setattr(crop_search, "search", lambda img, detect: ((100, 100, 140, 140), 360))
    assert crop_search.hint("v.mp4", frame).startswith("a face about 140 px wide (19% of the frame's height)")
    assert crop_search.hint("v.mp4", None) is None
