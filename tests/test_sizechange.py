"""A video whose frame size changes part-way (parts joined by ffmpeg's concat demuxer without re-encoding): found by
the probe, read at each frame's own size (OpenCV's reader gave every frame at the first part's size)."""

from __future__ import annotations

import collections
import itertools

import cv2
import numpy as np
import pytest

import faultkit as fk
from mpt_live.paced_video import PacedVideoReader
from mpt_live.pyav_capture import PyAVCapture, open_video, sizes_note
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


def _unindexed(tmp_path, kind: str, sizes=(("160x120", 45), ("320x120", 40))):
    """Two parts (160x120 then 320x120, H.264 or in ``hevc`` HEVC; or ``sizes``: (size, frames) each) joined as users
    join them: MPEG-TS and Matroska by the concat demuxer without re-encoding, raw streams by their bytes (``cat``);
    with the parts alone."""
    codec = ["-c:v", "libx265", "-x265-params", "log-level=error"] if kind == "hevc" else ["-c:v", "libx264"]
    parts = []
    for name, (size, n) in zip("abcdefgh", sizes):
        parts.append(tmp_path / f"{name}.{kind}")
        fk.ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={size}:r=30", "-frames:v", str(n), *codec, "-g", "30",
                  "-pix_fmt", "yuv420p", str(parts[-1]))
    joined = tmp_path / f"joined.{kind}"
    if kind in ("h264", "hevc"):
        joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    else:
        (tmp_path / "list.txt").write_text("".join(f"file '{p}'\n" for p in parts))
        fk.ffmpeg("-f", "concat", "-safe", "0", "-i", str(tmp_path / "list.txt"), "-c", "copy", str(joined))
    return joined, parts


@pytest.mark.parametrize("kind", ["ts", "mkv", "h264", "hevc"])
def test_files_without_an_index_are_read_at_each_frames_size_where_it_changes(tmp_path, kind):
    """An MPEG-TS, Matroska or raw H.264/HEVC file so joined has no index of every frame: the probe does not look
    (its cost stays a few packets), and OpenCV read every frame at the first part's size without a word. Its packets
    are now demuxed a frame ahead of the reads: PyAV reads from the first frame of the new size on, one warning."""
    joined, (_, b) = _unindexed(tmp_path, kind)
    assert probe_video(joined).sizes == ()
    with VideoFile(joined) as v:
        frames = list(v)
        note = [w for w in v.warnings if "changes frame size" in w]
    assert [f.image.shape[:2] for f in frames] == [(120, 160)] * 45 + [(120, 320)] * 40
    assert [f.index for f in frames] == list(range(85)) and all(x.t < y.t for x, y in itertools.pairwise(frames))
    assert note == [sizes_note(str(joined), ((0, 160, 120), (45, 320, 120)))]
    with VideoFile(b) as alone:  # the second part's own pictures
        own = [f.image for f in alone]
    assert max(float(np.abs(x.image.astype(int) - y.astype(int)).mean()) for x, y in zip(frames[45:], own)) < 2.0
    cap = open_video(joined)  # the apex pictures' and the review copy's reader
    sizes = collections.Counter()
    while (got := cap.read())[0]:
        sizes[got[1].shape[:2]] += 1
    cap.release()
    assert sizes == {(120, 160): 45, (120, 320): 40}
    with PacedVideoReader(joined, speed=50.0) as r:  # --realtime
        seen = []
        while (frame := r.read(timeout=10)) is not None:
            seen.append(frame)
    assert seen and all(f.image.shape[:2] == ((120, 160) if f.index < 45 else (120, 320)) for f in seen)
    assert seen[-1].image.shape[:2] == (120, 320) and note[0] in r.warnings


@pytest.mark.parametrize("kind", ["ts", "mkv"])
def test_a_file_without_an_index_of_one_size_is_read_as_opencv_reads_it(tmp_path, kind):
    """The watch reads packets only: every frame of a file of one size is OpenCV's, at its time, nothing said."""
    a = _unindexed(tmp_path, kind)[1][0]
    with VideoFile(a) as v:
        frames = [(f.image, f.t) for f in v]
        assert not any("changes frame size" in w for w in v.warnings)
    cap = cv2.VideoCapture(str(a))
    plain = []
    while (got := cap.read())[0]:
        plain.append(got[1])
    cap.release()
    assert len(frames) == len(plain) == 45
    assert all(np.array_equal(x, y) for (x, _), y in zip(frames, plain))
    assert [round(t, 3) for _, t in frames] == [round(k / 30, 3) for k in range(45)]


@pytest.mark.parametrize("kind", ["ts", "mkv"])
def test_a_damaged_start_before_the_change_moves_no_frame(tmp_path, kind):
    """The first keyframe lost: OpenCV reads 30 frames fewer than the packets before the change. The frame that
    changes size is found by its time, not by the count of frames read: each frame once, in order, at its own size,
    and the warning names the change as the run counts its frames (from the first that decodes)."""
    from test_pyav_capture import _lose_first_packets

    joined, (a, b) = _unindexed(tmp_path, kind)
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=30", "-frames:v", "90", "-c:v", "libx264", "-g", "30",
              "-pix_fmt", "yuv420p", "-y", str(a))  # the first part 3 s long, a keyframe a second
    (tmp_path / "list.txt").write_text(f"file '{a}'\nfile '{b}'\n")
    fk.ffmpeg("-f", "concat", "-safe", "0", "-i", str(tmp_path / "list.txt"), "-c", "copy", "-y", str(joined))
    _lose_first_packets(joined)
    with VideoFile(joined) as v:
        frames = list(v)
        note = [w for w in v.warnings if "changes frame size" in w]
    assert [f.image.shape[:2] for f in frames] == [(120, 160)] * 60 + [(120, 320)] * 40
    assert all(y.t - x.t == pytest.approx(1 / 30, abs=2e-3) for x, y in itertools.pairwise(frames))
    with VideoFile(b) as alone:  # the second part's own pictures, each once
        own = [f.image for f in alone]
    assert max(float(np.abs(x.image.astype(int) - y.astype(int)).mean()) for x, y in zip(frames[60:], own)) < 2.0
    assert len(note) == 1 and "320x120 from frame 60" in note[0]


def test_a_seek_past_the_change_lands_on_the_new_size(tmp_path):
    """The apex pictures seek to the frames they want (and check the time the capture gives then): a seek past the
    change is PyAV's, the frame at its own size and the one its time says."""
    joined, _ = _unindexed(tmp_path, "ts")
    with VideoFile(joined) as v:
        whole = [f.image for f in v]
    cap = open_video(joined)
    assert cap.read()[1].shape[:2] == (120, 160)
    cap.set(cv2.CAP_PROP_POS_FRAMES, 60)
    ok, img = cap.read()
    n = round(cap.get(cv2.CAP_PROP_POS_MSEC) * 30 / 1000)
    cap.release()
    assert ok and n == 60 and img.shape[:2] == (120, 320)  # frame 60, not the keyframe after it (75)
    assert float(np.abs(img.astype(int) - whole[n].astype(int)).mean()) < 2.0


@pytest.mark.parametrize("kind", ["h264", "ts"])
def test_the_watch_reads_packets_as_far_as_the_frames_read_not_the_whole_file(tmp_path, kind):
    """The watch demuxes a frame or so ahead of the reads: a raw stream's packets have no times to go by, and it read
    the whole file (an hour's, GBs) before giving the first frame; by their count it reads no further than the frames."""
    joined, _ = _unindexed(tmp_path, kind)
    probe_video(joined)  # as a run probes it first
    cap = open_capture(str(joined))
    for _ in range(3):
        assert cap.read()[0]
    assert 3 <= cap.scanned <= 10, cap.scanned  # of 85 packets
    cap.release()


@pytest.mark.parametrize("kind", ["ts", "h264"])
def test_where_pyav_cannot_open_the_file_at_the_change_opencv_reads_on_and_the_warning_says_so(tmp_path, kind):
    """The file removed while the run reads it (OpenCV and the watch's demuxer hold it open; PyAV cannot open it by
    its name at the change): OpenCV read on at the first size, and the warning said PyAV read each frame at its own
    size; a file with times lost the frame of the change, called a damaged one."""
    joined, _ = _unindexed(tmp_path, kind)
    with VideoFile(joined) as v:
        shapes = []
        for f in v:
            if f.index == 5:
                joined.unlink()
            shapes.append(f.image.shape[:2])
        warnings = v.warnings
    assert shapes == [(120, 160)] * 85
    note = [w for w in warnings if "changes frame size" in w]
    assert note == [sizes_note(str(joined), ((0, 160, 120), (45, 320, 120)), by_opencv=True)]
    assert "PyAV could not open the file at frame 45" in note[0] and "at the first size, 160x120" in note[0]
    assert "PyAV reads each frame" not in note[0]
    assert not any("could not be decoded" in w for w in warnings), warnings


def _pyav_cannot_open(monkeypatch) -> list[int]:
    """PyAV's capture made unable to open a file (as where it was removed or replaced since the run opened it): the
    frames asked of it, in turn."""
    import mpt_live.pyav_capture as pc

    asked = []

    class Unopened(pc.PyAVCapture):
        def __init__(self, path, skip=0):
            asked.append(skip)
            super().__init__(path, skip=skip)

        def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
            return False

    monkeypatch.setattr(pc, "PyAVCapture", Unopened)
    return asked


@pytest.mark.parametrize("kind", ["ts", "h264"])
def test_where_pyav_cannot_open_the_file_at_the_first_change_a_later_size_is_still_found(tmp_path, kind, monkeypatch):
    """Three sizes, PyAV unable to open the file at the first change: the watch stopped there, and the warning named
    two parts of a file of three. It watches the packets on (PyAV asked once, not at every frame): all three."""
    asked = _pyav_cannot_open(monkeypatch)
    joined, _ = _unindexed(tmp_path, kind, (("160x120", 45), ("320x120", 40), ("240x120", 30)))
    with VideoFile(joined) as v:
        shapes = [f.image.shape[:2] for f in v]
        note = [w for w in v.warnings if "changes frame size" in w]
    assert shapes == [(120, 160)] * 115 and asked == [45]
    assert note == [sizes_note(str(joined), ((0, 160, 120), (45, 320, 120), (85, 240, 120)), by_opencv=True)]


def test_where_pyav_cannot_open_the_file_after_a_damaged_start_the_change_is_named_as_the_run_counts(tmp_path,
                                                                                                     monkeypatch):
    """The first keyframe lost (OpenCV reads 30 frames fewer than the packets) and PyAV unable to open the file at
    the change: the warning named it by its packet (frame 89), not as the run counts its frames (60), as it does
    where PyAV reads on."""
    from test_pyav_capture import _lose_first_packets

    joined, (a, b) = _unindexed(tmp_path, "ts", (("160x120", 90), ("320x120", 40)))
    _lose_first_packets(joined)
    asked = _pyav_cannot_open(monkeypatch)
    with VideoFile(joined) as v:
        shapes = [f.image.shape[:2] for f in v]
        note = [w for w in v.warnings if "changes frame size" in w]
    assert shapes == [(120, 160)] * 100 and len(asked) == 1
    assert note == [sizes_note(str(joined), ((0, 160, 120), (60, 320, 120)), by_opencv=True)]
