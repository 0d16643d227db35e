"""AV1 recordings, which the opencv-python wheels' FFmpeg decodes only with a hardware decoder, read through PyAV
(mpt_live/pyav_capture.py): a run of one is the run of the same clip in H.264; the capture answers as OpenCV's."""

from __future__ import annotations

import csv
import html
import json
import re
import shutil
import socket
import subprocess
from urllib.parse import unquote

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

import faultkit as fk
from mpt_live import pyav_capture
from mpt_live.cli import app
from mpt_live.pyav_capture import PyAVCapture

SECONDS, SIZE = "2.5", "240:240"  # a short, small clip of a real face


def _encoder(names: tuple[str, ...]) -> str | None:
    listed = subprocess.run([fk.ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    return next((n for n in names if re.search(rf"\s{n}\s", listed)), None)


def _clip(src, path, *codec: str):
    fk.ffmpeg("-t", SECONDS, "-i", str(src), "-vf", f"scale={SIZE}", "-an", *codec, "-pix_fmt", "yuv420p", str(path))
    return path


def _av1_testsrc(path, seconds: int, *args: str):
    """A small AV1 test pattern at 30 fps (skipped where the bundled ffmpeg has no AV1 encoder)."""
    av1 = _encoder(("libsvtav1", "libaom-av1"))
    if av1 is None:
        pytest.skip("the bundled ffmpeg has no AV1 encoder (libsvtav1, libaom-av1)")
    fast = ["-preset", "12"] if av1 == "libsvtav1" else ["-cpu-used", "8"]
    fk.ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=160x120:r=30:d={seconds}", "-c:v", av1, *fast, *args,
              "-pix_fmt", "yuv420p", str(path))
    return path


def _lose_first_packets(path, n: int = 1) -> None:
    """The bytes of the video's first ``n`` packets (the first: its first keyframe) zeroed: those frames, and the
    frames that refer to them, do not decode."""
    import av

    with av.open(str(path)) as c:
        lost = [(p.pos, p.size) for p in c.demux(c.streams.video[0]) if p.size][:n]
    data = bytearray(path.read_bytes())
    for pos, size in lost:
        data[pos:pos + size] = bytes(size)
    path.write_bytes(bytes(data))


def _reads(cap, n: int) -> list[float | None]:
    """``n`` reads of ``cap``: the time (ms) of each frame read, None for each read that failed."""
    got = []
    for _ in range(n):
        ok, _img = cap.read()
        got.append(cap.get(cv2.CAP_PROP_POS_MSEC) if ok else None)
    return got


@pytest.fixture(scope="module")
def clips(tmp_path_factory, faces_dir):
    """The same 2.5 s of a face video as H.264 (mp4) and as AV1 (mp4 and mkv)."""
    av1 = _encoder(("libsvtav1", "libaom-av1"))
    if av1 is None:
        pytest.skip("the bundled ffmpeg has no AV1 encoder (libsvtav1, libaom-av1)")
    d = tmp_path_factory.mktemp("clips")
    src = faces_dir / "videos" / "liveportrait_d6.mp4"
    fast = ["-preset", "12"] if av1 == "libsvtav1" else ["-cpu-used", "8"]
    return {"h264": _clip(src, d / "face h264.mp4", "-c:v", "libx264"),
            "mp4": _clip(src, d / "face av1.mp4", "-c:v", av1, *fast),
            "mkv": _clip(src, d / "face av1.mkv", "-c:v", av1, *fast)}


def _opencv_decodes(path) -> bool:
    cap = cv2.VideoCapture(str(path))
    try:
        return bool(cap.read()[0])
    finally:
        cap.release()


def _run(video, out):
    res = CliRunner().invoke(app, ["--video", str(video), "--motion-only", "--headless", "--out", str(out)])
    assert res.exit_code == 0, res.output
    with open(out / "predictions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return rows, json.loads((out / "summary.json").read_text())


@pytest.fixture(scope="module")
def h264_run(clips, tmp_path_factory):
    return _run(clips["h264"], tmp_path_factory.mktemp("h264"))


@pytest.mark.parametrize("container", ["mp4", "mkv"])
def test_an_av1_recording_runs_as_the_same_clip_in_h264(clips, h264_run, tmp_path, container):
    """It stopped with 'video has zero decodable frames'. Now every frame is read, at the times the H.264 copy's
    frames have (mkv: the container's milliseconds), with one line saying PyAV decodes it; the page shows the file
    (mp4: browsers play AV1) or the copy the run made of it (review.webm: an mkv is not played)."""
    rows, summary = _run(clips[container], tmp_path)
    want_rows, want = h264_run
    assert rows and len(rows) == len(want_rows) and summary["frames_read"] == want["frames_read"]
    for got, ref in zip(rows, want_rows):
        assert got["frame"] == ref["frame"] and abs(float(got["time_s"]) - float(ref["time_s"])) <= 1e-3
    notes = [w for w in summary["warnings"] if "PyAV decodes it instead" in w]
    assert len(notes) == (0 if _opencv_decodes(clips[container]) else 1)
    assert all("AV1" in n and str(clips[container]) in n for n in notes)
    page = (tmp_path / "report.html").read_text()
    src = unquote(html.unescape(re.search(r'<video id="video" [^>]*><source src="([^"]+)"', page).group(1)))
    assert (tmp_path / src).resolve().is_file()
    if container == "mkv":
        assert src == "review.webm" and summary["outputs"]["review"] == "review.webm"


@pytest.mark.parametrize("turn", [0, 90, 270, 180])
def test_the_capture_answers_as_opencv_does(clips, tmp_path, turn):
    """On an H.264 file OpenCV decodes (stored turned, with a display matrix, as phones store it): the same header
    facts, the same frames (upright) at the same times and frame numbers, and a seek to a frame number lands on
    the frame OpenCV's seek lands on."""
    path = clips["h264"]
    if turn:
        path = tmp_path / f"turned {turn}.mp4"
        fk.ffmpeg("-display_rotation", str(turn), "-i", str(clips["h264"]), "-c", "copy", str(path))
    ours, theirs = PyAVCapture(path), cv2.VideoCapture(str(path))
    facts = (cv2.CAP_PROP_FPS, cv2.CAP_PROP_FRAME_COUNT, cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT,
             cv2.CAP_PROP_ORIENTATION_META)
    assert ours.isOpened() and [ours.get(p) for p in facts] == [theirs.get(p) for p in facts]
    n = 0
    while True:
        (ok, img), (ok_cv, img_cv) = ours.read(), theirs.read()
        assert ok == ok_cv
        if not ok:
            break
        n += 1
        assert ours.get(cv2.CAP_PROP_POS_MSEC) == pytest.approx(theirs.get(cv2.CAP_PROP_POS_MSEC), abs=1e-6)
        assert ours.get(cv2.CAP_PROP_POS_FRAMES) == theirs.get(cv2.CAP_PROP_POS_FRAMES) == n
        assert img.dtype == np.uint8 and img.shape == img_cv.shape
        assert np.abs(img.astype(int) - img_cv).mean() < 1.0
    assert n == theirs.get(cv2.CAP_PROP_FRAME_COUNT)
    for k in (40, 3):
        assert ours.set(cv2.CAP_PROP_POS_FRAMES, k) and theirs.set(cv2.CAP_PROP_POS_FRAMES, k)
        (ok, img), (_, img_cv) = ours.read(), theirs.read()
        assert ok and ours.get(cv2.CAP_PROP_POS_MSEC) == pytest.approx(theirs.get(cv2.CAP_PROP_POS_MSEC), abs=1e-6)
        assert ours.get(cv2.CAP_PROP_POS_FRAMES) == theirs.get(cv2.CAP_PROP_POS_FRAMES) == k + 1
        assert np.abs(img.astype(int) - img_cv).mean() < 1.0
    ours.release()
    theirs.release()
    assert not ours.isOpened() and ours.read() == (False, None)


def test_apex_pictures_and_paced_loops_of_an_av1_recording(clips, monkeypatch):
    """The review page's apex pictures come from the AV1 file (as from its H.264 copy), in a process that has not
    read it yet too; ``--realtime`` plays it, and plays it again where it loops (the file opened again)."""
    from mpt_live.apexframes import frames_at
    from mpt_live.paced_video import PacedVideoReader

    monkeypatch.setattr(pyav_capture, "READ_BY_PYAV", set())  # as in a process where no run read it
    wanted = {0: 0.0, 37: 37 / 30, 74: 74 / 30}
    got = dict(frames_at(clips["mp4"], wanted))
    ref = dict(frames_at(clips["h264"], wanted))
    assert sorted(got) == sorted(ref) == sorted(wanted)
    for n in wanted:  # two lossy encodings of one frame: much nearer each other than to the other frames
        near = np.abs(got[n].astype(int) - ref[n]).mean()
        assert all(near < np.abs(got[n].astype(int) - ref[m]).mean() for m in wanted if m != n)
    times = []
    with PacedVideoReader(clips["mkv"], speed=25.0, loop=True) as reader:
        while reader.loops < 2 and (frame := reader.read(timeout=10)) is not None:
            times.append(frame.t)
    assert reader.loops >= 2 and times[-1] > 2 * 2.4 and reader.error is None


@pytest.mark.parametrize("where", [0.02, 0.5])
def test_a_damaged_av1_recording_is_read_past_its_damage(tmp_path, where):
    """A few kilobytes of damage at the start (its first keyframe lost) or in the middle. At the start the check
    that PyAV decodes the file stopped at the first packet that did not decode ('zero decodable frames': the whole
    file refused); the packets after it are tried now. The frames after the damage are read, at their own times,
    to the end, and a warning says where frames could not be decoded."""

    av1 = _encoder(("libsvtav1", "libaom-av1"))
    if av1 is None:
        pytest.skip("the bundled ffmpeg has no AV1 encoder (libsvtav1, libaom-av1)")
    from mpt_live.sources import VideoFile

    clip = tmp_path / "damaged.mp4"
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=30:d=4", "-c:v", av1, "-g", "30", "-pix_fmt", "yuv420p",
              "-movflags", "+faststart", str(clip))
    fk.damage_mdat(clip, where)
    with VideoFile(clip) as v:
        frames = list(v)
    assert v.error is None and 60 <= len(frames) < 120
    assert frames[-1].t == pytest.approx(119 / 30, abs=0.02) and [f.t for f in frames] == sorted(f.t for f in frames)
    damaged = [w for w in v.warnings if "could not be decoded (the file is damaged there)" in w]
    assert len(damaged) == 1 and ("at the start" in damaged[0]) == (where < 0.1), v.warnings
    if where < 0.1:  # the first frame after the damage at its own time, not 0
        assert frames[0].t > 0


def test_a_long_damaged_start_is_read_alike_by_the_run_and_the_training_readers(tmp_path, monkeypatch):
    """An AV1 recording whose first keyframe is lost, the next one 5 s (150 frames) on. The run reads past up to
    300 frames that do not decode, but its check that PyAV decodes the file tried 120 packets, and so did training's
    open_video (OpenCV's first 120 frames, then PyAV's packets): the file was refused ('zero decodable frames') and
    a training reader got an OpenCV capture that decodes nothing. One number now (PATIENCE): both read it by PyAV,
    from its frame at 5 s, the run with the damage warning."""
    from mpt_live.sources import VideoFile

    clip = _av1_testsrc(tmp_path / "late keyframe.mp4", 7, "-g", "150")
    _lose_first_packets(clip)
    monkeypatch.setattr(pyav_capture, "READ_BY_PYAV", set())  # as in a training process: no run read it
    cap = pyav_capture.open_video(clip)
    read = [t for t in _reads(cap, 211) if t is not None]
    cap.release()
    assert isinstance(cap, PyAVCapture) and len(read) == 60 and read[0] == pytest.approx(5000.0)
    with VideoFile(clip) as v:
        frames = list(v)
    assert len(frames) == 60 and frames[0].t == pytest.approx(5.0) and v.error is None
    assert any("could not be decoded (the file is damaged there) (or the recording began between keyframes), at the start" in w for w in v.warnings)


class _CountedReads:
    """A ``cv2.VideoCapture`` whose reads are counted (in ``reads``: one entry a read)."""

    def __init__(self, cap, reads: list) -> None:
        self._cap, self._reads = cap, reads

    def read(self):
        self._reads.append(1)
        return self._cap.read()

    def __getattr__(self, name):
        return getattr(self._cap, name)


def _count_reads(monkeypatch) -> tuple[list, list]:
    """OpenCV's reads from here on (one entry a read), and how many had been made each time the run asked PyAV."""
    from mpt_live import sources

    reads, asked = [], []
    real_capture, real_pyav = cv2.VideoCapture, sources.pyav_capture
    monkeypatch.setattr(cv2, "VideoCapture", lambda *a, **k: _CountedReads(real_capture(*a, **k), reads))
    monkeypatch.setattr(sources, "pyav_capture", lambda p: asked.append(len(reads)) or real_pyav(p))
    monkeypatch.setattr(pyav_capture, "READ_BY_PYAV", set())
    return reads, asked


def test_an_av1_recording_is_not_read_through_by_opencv_before_pyav_reads_it(tmp_path, monkeypatch):
    """OpenCV decodes no frame of an AV1 file here, and the run read past every one of them, as many as the header
    counts (an hour-long download read through once), before PyAV was asked. Now PyAV is asked after PATIENCE
    failed reads, and reads the file: the frames, times and warnings of a run of PyAV's capture alone."""
    from mpt_live.sources import VideoFile

    clip = _av1_testsrc(tmp_path / "eleven seconds.mp4", 11)
    if _opencv_decodes(clip):
        pytest.skip("this OpenCV decodes AV1")
    reads, asked = _count_reads(monkeypatch)
    with VideoFile(clip) as v:
        got = [(f.index, f.t, f.image) for f in v]
    assert v.frame_count == 330 > pyav_capture.PATIENCE and asked == [len(reads)]  # no OpenCV read after PyAV's
    assert len(reads) <= pyav_capture.PATIENCE + 2
    with VideoFile(clip, capture=PyAVCapture(clip)) as ref:
        want = [(f.index, f.t, f.image) for f in ref]
    assert len(got) == len(want) == 330 and v.damaged == ref.damaged == 0
    notes = [w for w in v.warnings if "PyAV decodes it instead" in w]  # ref's: OpenCV not tried (a capture given)
    assert [w for w in v.warnings if w not in notes] == [w for w in ref.warnings if "PyAV decodes it instead" not in w]
    assert len(notes) == 1 and f"decoded none of the first {pyav_capture.PATIENCE} frames of its AV1 video" in notes[0]
    assert all(a[:2] == b[:2] and np.array_equal(a[2], b[2]) for a, b in zip(got, want))


def test_a_damaged_start_longer_than_patience_is_read_on_by_opencv_and_counted(tmp_path, monkeypatch):
    """An H.264 file whose first 320 frames (more than PATIENCE) are lost. Where OpenCV decodes none of the first
    PATIENCE, PyAV is asked, which decodes none of its first PATIENCE packets either: OpenCV reads on, from where
    it was, to the first frame that decodes; all 320 frames read past are counted, those before PyAV was asked
    with them, in the one warning."""
    from mpt_live.sources import VideoFile

    clip = tmp_path / "late start.mp4"
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=30:d=12", "-c:v", "libx264", "-g", "1", "-pix_fmt", "yuv420p",
              str(clip))
    _lose_first_packets(clip, 320)
    cap = cv2.VideoCapture(str(clip))
    want = [img for ok, img in (cap.read() for _ in range(400)) if ok]  # the frames OpenCV decodes, in order
    cap.release()
    _, asked = _count_reads(monkeypatch)
    with VideoFile(clip) as v:
        frames = list(v)
    assert asked == [pyav_capture.PATIENCE] and not pyav_capture.READ_BY_PYAV  # PyAV decoded none
    assert len(frames) == len(want) == 40 and all(np.array_equal(f.image, w) for f, w in zip(frames, want))
    assert frames[0].t == pytest.approx(320 / 30) and v.damaged == 320 and v.error is None
    assert v.warnings == [(f"{clip}: 320 frames could not be decoded (the file is damaged there) (or the "
                           "recording began between keyframes), at the start (10.67 s of video); the frames after "
                           "them were read")]


def test_a_pyav_capture_a_caller_chose_is_not_said_to_be_undecodable_by_opencv(tmp_path):
    # VideoFile(p, capture=PyAVCapture(p)) of a plain H.264 file said OpenCV had decoded none of its frames
    from mpt_live.sources import VideoFile

    clip = tmp_path / "plain.mp4"
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=30:d=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(clip))
    with VideoFile(clip, capture=PyAVCapture(clip)) as v:
        assert len(list(v)) == 30
    assert not [w for w in v.warnings if "PyAV decodes it instead" in w], v.warnings


def _count_opens(monkeypatch) -> tuple[list, list]:
    """The paths given to ``cv2.VideoCapture`` and to ``av.open`` from here on, one entry an open."""
    import av

    cv_opens, av_opens = [], []
    real_open, real_capture = av.open, cv2.VideoCapture

    def counted(*args, **kwargs):  # a function: a subclass of cv2.VideoCapture crashed this OpenCV (5.0.0)
        cv_opens.append(str(args[0]) if args else None)
        return real_capture(*args, **kwargs)

    monkeypatch.setattr(cv2, "VideoCapture", counted)
    monkeypatch.setattr(av, "open", lambda file, *a, **k: av_opens.append(str(file)) or real_open(file, *a, **k))
    return cv_opens, av_opens


@pytest.mark.parametrize("codec", ["av1", "h264"])
def test_a_turned_video_whose_first_packet_is_lost_stays_upright_and_is_opened_once(tmp_path, monkeypatch, codec):
    """A phone's video (stored turned, with a display matrix) whose first packet is damaged. PyAV was asked twice,
    each opening the file: once whether it decodes a frame (past the damage), then for the capture, which read how
    frames are turned from its first grab: a failed one, so the frames came sideways, the size reported unturned,
    and that failed read was not counted among the damaged. Now the capture's one open decodes to the first frame:
    its turn, the size OpenCV reports, upright frames (those of the undamaged file), every failed read."""
    import av

    src = tmp_path / "src.mp4"
    if codec == "av1":
        _av1_testsrc(src, 2, "-g", "30")
    else:
        fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=30:d=2", "-c:v", "libx264", "-g", "30",
                  "-pix_fmt", "yuv420p", str(src))
    whole, clip = tmp_path / "turned.mp4", tmp_path / "turned damaged.mp4"
    fk.ffmpeg("-display_rotation", "90", "-i", str(src), "-c", "copy", str(whole))
    shutil.copy(whole, clip)
    _lose_first_packets(clip)
    failing = 0  # the packets that do not decode, as PyAV reports them
    with av.open(str(clip)) as c:
        c.streams.video[0].thread_type = "AUTO"
        for packet in c.demux(c.streams.video[0]):
            try:
                packet.decode()
            except av.FFmpegError:
                failing += 1
    assert failing > 0
    cv_opens, av_opens = _count_opens(monkeypatch)
    monkeypatch.setattr(pyav_capture, "READ_BY_PYAV", set())
    cap = pyav_capture.pyav_capture(clip)
    assert av_opens == [str(clip)] and cv_opens == []
    assert cap.get(cv2.CAP_PROP_ORIENTATION_META) == 270
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (120, 160)
    if codec == "h264":  # OpenCV decodes it: the same facts
        theirs = cv2.VideoCapture(str(clip))
        facts = (cv2.CAP_PROP_ORIENTATION_META, cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT)
        assert [cap.get(p) for p in facts] == [theirs.get(p) for p in facts]
        theirs.release()
    ok, img, misses = False, None, 0
    while not ok and misses <= failing:
        ok, img = cap.read()
        misses += not ok
    assert ok and misses == failing and img.shape == (160, 120, 3)
    got = img if cap.get(cv2.CAP_PROP_POS_MSEC) == pytest.approx(1000.0) else _frame_at(cap, 1000.0)
    ref = PyAVCapture(whole)
    want = _frame_at(ref, 1000.0)  # the keyframe after the damage: the same bits in both files
    assert got is not None and want is not None and np.array_equal(got, want)
    ref.release()
    cap.release()
    from mpt_live.sources import VideoFile

    monkeypatch.setattr(pyav_capture, "READ_BY_PYAV", set())
    cv_opens.clear()
    av_opens.clear()
    # the run: PyAV's header probe, OpenCV's capture, and PyAV's where OpenCV decodes none (--rotation tag: the tag's
    # check by faces, test_rotation_tag.py, opens a tagged file once more)
    with VideoFile(clip, rotation="tag") as v:
        frames = list(v)
    assert cv_opens == [str(clip)] and av_opens == [str(clip)] * (2 if codec == "av1" else 1)
    assert frames and all(f.image.shape == (160, 120, 3) for f in frames)


def _frame_at(cap, ms: float) -> np.ndarray | None:
    """The frame read at ``ms`` (OpenCV's time) in the next 100 reads, None where none is."""
    for _ in range(100):
        ok, img = cap.read()
        if ok and abs(cap.get(cv2.CAP_PROP_POS_MSEC) - ms) < 1.0:
            return img
    return None


def _same_reads(ours, theirs, n: int) -> None:
    """``n`` reads of two captures of one file give the same frames at the same positions."""
    for _ in range(n):
        (ok, img), (ok_cv, img_cv) = ours.read(), theirs.read()
        assert ok == ok_cv and (not ok or np.array_equal(img, img_cv))
        for p in (cv2.CAP_PROP_POS_FRAMES, cv2.CAP_PROP_POS_MSEC):
            assert ours.get(p) == theirs.get(p)


@pytest.mark.parametrize("name, codec", [("clip.mp4", ["-c:v", "libx264"]), ("clip.avi", ["-c:v", "mpeg4", "-bf", "2"]),
                                         ("damaged start.mp4", ["-c:v", "libx264"])])
def test_open_video_opens_a_file_that_decodes_once_and_reads_it_as_opencv_does(tmp_path, monkeypatch, name, codec):
    """Training's readers, the review copy and the apex pictures opened every video twice: OpenCV's first frames
    grabbed to see that one decodes, then the file opened again for the reader. Where the first frame decodes, that
    capture is now the reader's, its first read giving the frame grabbed: the same frames, positions and times as a
    capture opened for the reader (B-frames in the mp4, and in the AVI's MPEG-4), seeks before the first read and
    after included. A file whose first frame does not decode (its first packet lost) is opened again, as before."""
    path = tmp_path / name
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=30:d=2", *codec, "-g", "30", "-pix_fmt", "yuv420p", str(path))
    if name.startswith("damaged"):
        _lose_first_packets(path)
    monkeypatch.setattr(pyav_capture, "READ_BY_PYAV", set())
    cv_opens, av_opens = _count_opens(monkeypatch)
    ours = pyav_capture.open_video(path)
    assert cv_opens == [str(path)] * (2 if name.startswith("damaged") else 1)
    assert av_opens == [str(path)]  # its header, once, for its field order (videoprobe.is_interlaced): no frame by PyAV
    theirs = cv2.VideoCapture(str(path))
    facts = (cv2.CAP_PROP_POS_FRAMES, cv2.CAP_PROP_POS_MSEC, cv2.CAP_PROP_FPS, cv2.CAP_PROP_FRAME_COUNT,
             cv2.CAP_PROP_FRAME_WIDTH)
    assert [ours.get(p) for p in facts] == [theirs.get(p) for p in facts]
    _same_reads(ours, theirs, 61)  # to the end, and a read past it
    for k in (40, 3):
        assert ours.set(cv2.CAP_PROP_POS_FRAMES, k) == theirs.set(cv2.CAP_PROP_POS_FRAMES, k)
        _same_reads(ours, theirs, 2)
    ours.release()
    ours = pyav_capture.open_video(path)  # a seek before the first read
    theirs.release()
    theirs = cv2.VideoCapture(str(path))
    assert ours.set(cv2.CAP_PROP_POS_FRAMES, 10) == theirs.set(cv2.CAP_PROP_POS_FRAMES, 10)
    _same_reads(ours, theirs, 3)
    ours.release()
    theirs.release()
    assert not ours.isOpened()


def test_training_readers_read_an_av1_recording_as_its_h264_copy(clips, tmp_path, monkeypatch):
    """Training opened videos with OpenCV alone: an AV1 recording of a spotting set (CAS(ME)^2's rawvideo/) counted
    no frame and was dropped ('not a readable video (no frames)'), and mpt-synth's face videos (--faces) and the
    composed interviews read none of an AV1 face video. In a process that has not read the file, they now read it
    through the PyAV fallback: the frames its H.264 copy gives (the recording's frame count: a row past its end is
    cut, named with the last frame)."""
    from test_longvideo_datasets import CODING, casme2

    from train.compose import read_squares
    from train.datasets.longvideo import load_long_dataset
    from train.faces_folder import video_frames

    cap, want = cv2.VideoCapture(str(clips["h264"])), 0
    while cap.grab():
        want += 1
    cap.release()
    past_end = [1, "anger1_3", 70, 72, 900, "4", "negative", "micro-expression", "anger"]
    monkeypatch.setattr(pyav_capture, "READ_BY_PYAV", set())  # as in a training process: no run read them
    loaded = {}
    for name in ("h264", "mp4", "mkv"):
        assert [i for i, _ in video_frames(clips[name])] == [i for i, _ in video_frames(clips["h264"])], name
        assert len(read_squares(clips[name])[0]) == want, name
        root = casme2(tmp_path / name, coding=CODING + [past_end])  # its s15 recording this clip, no frame folders
        shutil.rmtree(root / "rawpic")
        (root / "rawvideo/s15/15_0401girlcrashing.avi").unlink()
        shutil.copy(clips[name], root / f"rawvideo/s15/15_0401girlcrashing{clips[name].suffix}")
        idx = load_long_dataset("casme2lv", root)
        loaded[name] = ({v.name: v.intervals for v in idx.videos}, idx.dropped,
                        [w.replace(str(root), "ROOT") for w in idx.warnings])
    assert loaded["mp4"] == loaded["mkv"] == loaded["h264"] and "15_0401girlcrashing" in loaded["h264"][0]
    assert any("anger1_3" in w and f"(frames 0..{want - 1})" in w for w in loaded["mkv"][2]), loaded["mkv"][2]
    monkeypatch.setattr(pyav_capture, "READ_BY_PYAV", set())
    cap = pyav_capture.open_video(clips["h264"])  # a file OpenCV decodes: OpenCV's capture, from its first frame
    assert not isinstance(cap, PyAVCapture) and cap.read()[0] and cap.get(cv2.CAP_PROP_POS_FRAMES) == 1
    cap.release()
    assert not pyav_capture.read_by_pyav(clips["h264"])


def test_finish_of_a_killed_av1_mkv_run_makes_its_review_copy(clips, tmp_path):
    """A killed run of an AV1 .mkv (a browser plays no .mkv) that left no review.webm (killed before its copy held
    a frame; a copy that failed, a full disk, is removed): --finish, a new process, made no copy (OpenCV decodes no
    frame and the file was PyAV's only in the killed run's process), so the page had no video. Now it makes
    review.webm of the frames the run got to; the pictures of the page come from the file, as before."""
    from test_faults import cli, our_lines

    out = tmp_path / "o"
    _run(clips["mkv"], out)
    s = json.loads((out / "summary.json").read_text())
    for name in ("report.html", "timeline.png", "review.webm"):  # what a kill leaves: no page, no plot, here no copy
        (out / name).unlink()
    marker = {k: s[k] for k in ("source", "mode", "model", "source_fps", "source_frame_count") if k in s}
    (out / "summary.json").write_text(json.dumps({**marker, "status": "running", "pid": 2 ** 22 + 12345,
                                                  "host": socket.gethostname()}))
    res = cli("--finish", str(out))
    lines = our_lines(res.stderr + res.stdout)
    assert res.returncode == 0 and "finished from its files (status killed)" in lines[-1], lines
    page = (out / "report.html").read_text()
    assert '<source src="review.webm">' in page
    cap, n = cv2.VideoCapture(str(out / "review.webm")), 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert 0 < n <= s["frames_read"] + 1
    assert '<img class="who"' in page  # the face's picture beside its timeline, read from the file


class _NoFrames:
    """A ``cv2.VideoCapture`` that opens its file and answers its header facts, but whose reads give no frame (as
    OpenCV's FFmpeg does with a codec it has no decoder for)."""

    def __init__(self, cap) -> None:
        self._cap = cap

    def read(self):
        return False, None

    def grab(self):
        return False

    def __getattr__(self, name):
        return getattr(self._cap, name)


@pytest.mark.parametrize("seconds, says", [(2, "none of the 60 frames of its VP9 video (all its header counts)"),
                                           (11, "none of the first 300 frames of its VP9 video")])
def test_the_note_of_a_video_pyav_reads_says_what_opencv_did(tmp_path, monkeypatch, seconds, says):
    """A VP9 video none of whose first frames OpenCV decodes here (its reads failing as for a codec without a
    decoder): the note said 'OpenCV's FFmpeg cannot decode its VP9 video', which nothing had shown. It now says what
    happened: how many of its frames OpenCV's reads failed on, the codec named (and no reason given: for AV1 alone
    one is known)."""
    from mpt_live.sources import VideoFile

    clip = tmp_path / "clip.webm"
    fk.ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=64x48:r=30:d={seconds}", "-c:v", "libvpx-vp9", "-deadline", "realtime",
              "-cpu-used", "8", "-pix_fmt", "yuv420p", str(clip))
    real = cv2.VideoCapture
    monkeypatch.setattr(cv2, "VideoCapture", lambda *a, **k: _NoFrames(real(*a, **k)))
    monkeypatch.setattr(pyav_capture, "READ_BY_PYAV", set())
    with VideoFile(clip) as v:
        frames = list(v)
    assert len(frames) == 30 * seconds
    notes = [w for w in v.warnings if "PyAV decodes it instead" in w]
    assert notes == [(f"{clip}: OpenCV's FFmpeg decoded {says}: PyAV decodes it instead (in software; in a 720p test "
                      "no slower than OpenCV's decoding of the same video in H.264)")], v.warnings


@pytest.mark.parametrize("kind", ["h264-fields.mkv", "dv.avi"])
def test_a_reader_that_probes_nothing_reads_an_interlaced_recording_not_black(tmp_path, kind):
    """Training's readers (CAS(ME)^2's raw videos, mpt-synth --faces) open a video with open_video and probe nothing:
    an interlaced file, which only a probe was found to be, read as OpenCV's black frames with no word. open_video
    looks at its field order itself (the probe's check) and reads it by PyAV; a progressive file is OpenCV's still."""
    from train.faces_folder import video_frames

    clip, flat = tmp_path / f"clip.{kind.split('.')[-1]}", tmp_path / "flat.mp4"
    size, codec = {"h264-fields.mkv": ("160x120", ["-c:v", "libx264", "-flags", "+ildct+ilme"]),
                   "dv.avi": ("720x576", ["-c:v", "dvvideo"])}[kind]
    fk.ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={size}:r=50:d=0.4", "-vf", "interlace=scan=tff", *codec,
              "-pix_fmt", "yuv420p", str(clip))
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=0.4", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(flat))
    import av

    with av.open(str(clip)) as c:
        expected = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    cap = pyav_capture.open_video(clip)
    got = []
    while (read := cap.read())[0]:
        got.append(read[1])
    cap.release()
    assert isinstance(cap, PyAVCapture) and len(got) == len(expected) == 10
    assert all(np.abs(img.astype(int) - want.astype(int)).mean() < 1.0 for img, want in zip(got, expected))
    assert all(img.mean() > 40 for _, img in video_frames(clip, max_s=0.3, step_s=0.02))  # mpt-synth --faces' reader
    assert not isinstance(pyav_capture.open_video(flat), PyAVCapture)


@pytest.mark.parametrize("kind", ["h264-fields.mkv", "mpeg2-fields.mpg"])
def test_an_interlaced_recording_over_http_is_read_as_a_player_shows_it_not_black(tmp_path, kind):
    """The same interlaced recordings at an http URL (a recording read like a file, never probed): they still went
    through OpenCV, every frame black. Their field order is looked at in one PyAV open of the URL: PyAV reads them,
    the frames those of the file, and the run says why in one line."""
    from mpt_live.sources import VideoFile

    clip = tmp_path / kind
    codec = ["-c:v", "libx264" if kind.endswith(".mkv") else "mpeg2video", "-flags", "+ildct+ilme"]
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=50:d=0.4", "-vf", "interlace=scan=tff", *codec,
              "-pix_fmt", "yuv420p", str(clip))
    with VideoFile(clip) as v:
        expected = [f.image for f in v]
    with fk.http_server("file", clip) as srv, VideoFile(fk.url(srv, kind)) as v:
        got = [f.image for f in v]
    assert len(got) == len(expected) == 10
    assert all(img.mean() > 40 and np.abs(img.astype(int) - want.astype(int)).mean() < 1.0
               for img, want in zip(got, expected))
    assert [w for w in v.warnings if "its video is interlaced" in w and "PyAV reads it instead" in w], v.warnings


@pytest.mark.parametrize("kind", ["h264-fields.mkv", "mpeg2-fields.mpg", "dv.avi"])
def test_an_interlaced_recording_is_read_as_a_player_shows_it_not_black(tmp_path, kind):
    """Interlaced video (a broadcast or camcorder recording: H.264 or MPEG-2 coded as fields, DV, whose stream states
    no field order): the opencv-python wheel's FFmpeg refused to convert its frames ('Cannot convert interlaced to
    progressive frames') and gave every one black, so a run found no face in a whole interview, exit 0. Its frames
    are read by PyAV, the same as PyAV decodes them, and the run says why in one line."""
    from mpt_live.sources import VideoFile

    clip = tmp_path / f"clip.{kind.split('.')[-1]}"
    size, codec = {"h264-fields.mkv": ("160x120", ["-c:v", "libx264", "-flags", "+ildct+ilme"]),
                   "mpeg2-fields.mpg": ("160x120", ["-c:v", "mpeg2video", "-flags", "+ildct+ilme"]),
                   "dv.avi": ("720x576", ["-c:v", "dvvideo"])}[kind]
    fk.ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={size}:r=50:d=0.4", "-vf", "interlace=scan=tff", *codec,
              "-pix_fmt", "yuv420p", str(clip))
    import av

    with av.open(str(clip)) as c:
        expected = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    with VideoFile(clip) as v:
        got = [f.image for f in v]
    assert len(got) == len(expected) == 10
    for img, want in zip(got, expected):
        if img.shape != want.shape:  # DV's non-square pixels: stretched as players show them
            want = cv2.resize(want, img.shape[1::-1], interpolation=cv2.INTER_LINEAR)
        assert img.mean() > 40 and np.abs(img.astype(int) - want.astype(int)).mean() < 1.0
    assert [w for w in v.warnings if "its video is interlaced" in w and "PyAV reads it instead" in w], v.warnings


@pytest.mark.parametrize("failed, said", [(1, "did not decode the one frame of its video (all its header counts)"),
                                          (3, "decoded none of the 3 frames of its video (all its header counts)")])
def test_the_note_on_a_video_of_one_frame_opencv_did_not_decode_says_one_frame(failed, said):
    """'decoded none of the 1 frames of its video': a one-frame file OpenCV could not decode, read by PyAV."""
    assert f"v.mkv: OpenCV's FFmpeg {said}: PyAV decodes it" in pyav_capture.decoded_note("v.mkv", None, failed, True)
