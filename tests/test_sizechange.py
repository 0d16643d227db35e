"""A video whose frame size changes part-way (parts joined by ffmpeg's concat demuxer without re-encoding): found by
the probe, read at each frame's own size (OpenCV's reader gave every frame at the first part's size)."""

from __future__ import annotations

import collections

import cv2
import numpy as np
import pytest

import faultkit as fk
from mpt_live.pyav_capture import PyAVCapture, open_video
from mpt_live.sources import VideoFile, open_capture
from mpt_live.videoprobe import probe_video


def _part(path, size: str, fps: int, n: int):
    """``n`` frames of a test pattern of ``size`` at ``fps`` (H.264 in MP4, a keyframe each second)."""
    fk.ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={size}:r={fps}", "-frames:v", str(n), "-c:v", "libx264",
              "-preset", "veryfast", "-g", str(fps), "-pix_fmt", "yuv420p", str(path))
    return path


def _joined(tmp_path, *parts):
    """The parts joined as a user joins them: ``ffmpeg -f concat -i list.txt -c copy``."""
    listed = tmp_path / "list.txt"
    listed.write_text("".join(f"file '{p}'\n" for p in parts))
    out = tmp_path / "joined.mp4"
    fk.ffmpeg("-f", "concat", "-safe", "0", "-i", str(listed), "-c", "copy", str(out))
    return out


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    d = tmp_path_factory.mktemp("sizes")
    a, b = _part(d / "a.mp4", "160x120", 30, 45), _part(d / "b.mp4", "320x120", 25, 40)
    return _joined(d, a, b), b


def test_the_probe_finds_where_the_size_changes(mixed):
    assert probe_video(mixed[0]).sizes == ((0, 160, 120), (45, 320, 120))


def test_each_frame_is_read_at_its_own_size_and_the_run_says_so(mixed):
    joined, b = mixed
    with VideoFile(joined) as v:
        images = [f.image for f in v]
        warnings = v.warnings
    shapes, frames = [im.shape[:2] for im in images], images[45:]
    assert shapes == [(120, 160)] * 45 + [(120, 320)] * 40
    note = [w for w in warnings if "changes frame size" in w]
    assert len(note) == 1 and note[0].startswith(f"{joined}: ")
    assert "160x120 from frame 0" in note[0] and "320x120 from frame 45" in note[0]
    # the second part's pictures themselves, not a resized copy of them
    with VideoFile(b) as alone:
        own = [f.image for f in alone]
    assert len(own) == len(frames)
    assert max(float(np.abs(x.astype(int) - y.astype(int)).mean()) for x, y in zip(frames, own)) < 2.0


def test_the_pages_readers_read_it_at_each_frames_size(mixed):
    probe_video(mixed[0])  # the run's probe (the apex pictures and the review copy probe it first themselves)
    cap = open_video(mixed[0])
    assert isinstance(cap, PyAVCapture)
    sizes = collections.Counter()
    while (got := cap.read())[0]:
        sizes[got[1].shape[:2]] += 1
    cap.release()
    assert sizes == {(120, 160): 45, (120, 320): 40}


def test_parts_of_one_size_are_read_by_opencv_as_before(tmp_path):
    # a new rate (its parameter sets differ) at the same size: no change of size, nothing said
    a, b = _part(tmp_path / "a.mp4", "160x120", 30, 30), _part(tmp_path / "b.mp4", "160x120", 25, 25)
    joined = _joined(tmp_path, a, b)
    for path in (joined, a):
        assert probe_video(path).sizes == ()
        cap = open_capture(str(path))
        assert isinstance(cap, cv2.VideoCapture)
        cap.release()
        with VideoFile(path) as v:
            assert {f.image.shape[:2] for f in v} == {(120, 160)}
            assert not any("changes frame size" in w for w in v.warnings)
