"""Sources and sinks: bad input gives one clear InputError naming the input; CSV rows survive."""

from __future__ import annotations

import csv
import json
import math

import cv2
import numpy as np
import pytest

from mpt_live.errors import InputError
from mpt_live.sources import VideoFile, expand_videos, is_stream_url
from mpt_live.writers import CSVSink, write_json


def _file(path, data):
    path.write_bytes(data)
    return path


def _audio_only(path):
    import faultkit as fk

    fk.ffmpeg("-f", "lavfi", "-i", "anullsrc=d=0.5", "-c:a", "aac", str(path))
    return path


def _audio_with_cover_art(path):
    """An audio file with its cover picture (AV_DISPOSITION_ATTACHED_PIC), as music and voice-memo tools write them:
    OpenCV read the picture as a 1-frame video whose header announced thousands of frames (a run 'incomplete: the
    file is truncated or damaged')."""
    import faultkit as fk

    fk.ffmpeg("-f", "lavfi", "-i", "anullsrc=d=0.5", "-f", "lavfi", "-i", "color=c=gray:s=64x48", "-map", "0",
              "-map", "1", "-frames:v", "1", "-c:a", "aac", "-c:v", "mjpeg", "-disposition:v:0", "attached_pic",
              str(path))
    return path


def _no_frames(path):
    import faultkit as fk

    src = path.with_suffix(".src.mp4")
    _write_video(src, 3)
    fk.ffmpeg("-i", str(src), "-frames:v", "0", "-c:v", "libx264", str(path))
    return path


def _empty_video_stream(path):
    """Sound beside a video stream that holds no frame (a recorder stopped before its first): it was 'video has zero
    decodable frames: neither OpenCV's FFmpeg nor PyAV's decodes its H264 video (the file is damaged ...); if a player
    shows it, convert it', advice for a file that has no picture to convert."""
    import av

    with av.open(str(path), "w") as out:  # written as a program records (ffmpeg's own such file reads as one that ends)
        video, sound = out.add_stream("libx264", rate=30), out.add_stream("aac", rate=44100)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        for i in range(20):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, i * 1024
            out.mux(sound.encode(frame))
        out.mux(sound.encode(None))
        out.mux(video.encode(None))
    return path


def _write_video(path, n, size=(64, 48), fps=25.0):
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for i in range(n):
        vw.write(np.full((size[1], size[0], 3), i * 7 % 255, np.uint8))
    vw.release()


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda d: d / "missing.mp4", "no such file"),
        (lambda d: d, "is a directory"),
        (lambda d: _file(d / "text.mp4", b"not a video"),
         "not a readable video: FFmpeg does not recognise its contents as any video format"),
        (lambda d: _file(d / "empty.mp4", b""), "not a readable video: the file is empty (0 bytes)"),
        (lambda d: _audio_only(d / "voice.mp4"), "not a readable video: no video stream, audio only"),
        (lambda d: _audio_with_cover_art(d / "song.m4a"),
         "not a readable video: no video stream, audio only (its one picture is cover art)"),
        (lambda d: _no_frames(d / "header.mkv"), "not a readable video: the file ends before any video data"),
        (lambda d: _empty_video_stream(d / "stopped.mkv"),
         "not a readable video: its video stream holds no frames (audio only)"),
    ],
    ids=["missing", "directory", "garbage", "zero-bytes", "audio-only", "audio-cover-art", "no-frames-mkv",
         "empty-video-stream"],
)
def test_bad_video_gives_one_line_error(tmp_path, make, expected):
    path = make(tmp_path)
    with pytest.raises(InputError) as ei:
        VideoFile(path)
    msg = str(ei.value)
    assert expected in msg and str(path) in msg and "\n" not in msg


def test_a_codec_opencv_cannot_decode_is_read_by_pyav(tmp_path, monkeypatch):
    """An AV1 recording (phones, screen recorders, downloads): the opencv-python wheels' FFmpeg decodes AV1 only with
    a hardware decoder, so no frame came and the whole file was 'video has zero decodable frames', as if damaged.
    PyAV decodes it (every frame, with one warning that says so); where neither decodes a frame, the one line says
    so, and how to convert a file a player shows."""
    import faultkit as fk

    from mpt_live import pyav_capture, sources

    src = tmp_path / "src.mp4"
    _write_video(src, 10)
    path = tmp_path / "av1 clip.mp4"
    fk.ffmpeg("-i", str(src), "-c:v", "libsvtav1", "-preset", "12", "-pix_fmt", "yuv420p", str(path))
    if cv2.VideoCapture(str(path)).read()[0]:
        pytest.skip("this OpenCV decodes AV1")
    with VideoFile(path) as v:
        assert len(list(v)) == 10 and v.error is None
    assert [w for w in v.warnings if "PyAV decodes it instead" in w] == v.warnings and len(v.warnings) == 1
    monkeypatch.setattr(sources, "pyav_capture", lambda p: None)  # a codec neither decodes here
    monkeypatch.setattr(pyav_capture, "READ_BY_PYAV", set())
    with pytest.raises(InputError) as ei:
        VideoFile(path)
    msg = str(ei.value)
    assert "neither OpenCV's FFmpeg nor PyAV's decodes its AV1 video" in msg and "libx264" in msg
    assert str(path) in msg and "\n" not in msg


def test_video_frames_in_order_with_time(tmp_path):
    path = tmp_path / "v.mp4"
    _write_video(path, 10, fps=25.0)
    with VideoFile(path) as v:
        frames = list(v)
    assert [f.index for f in frames] == list(range(10))
    assert frames[4].t == pytest.approx(4 / 25.0)
    assert frames[0].image.shape == (48, 64, 3)


def test_expand_videos(tmp_path):
    for n in ("b.mp4", "a.mov", "notes.txt"):
        (tmp_path / n).write_bytes(b"x")
    assert [p.name for p in expand_videos(str(tmp_path))] == ["a.mov", "b.mp4"]
    assert [p.name for p in expand_videos(str(tmp_path / "*.mp4"))] == ["b.mp4"]
    with pytest.raises(InputError, match="matches no files"):
        expand_videos(str(tmp_path / "*.mkv"))
    (tmp_path / "sub").mkdir()
    with pytest.raises(InputError, match="no video files"):
        expand_videos(str(tmp_path / "sub"))


def test_a_glob_inside_a_folder_named_with_brackets_finds_its_videos(tmp_path):
    """'Session [2]/*.mp4', 'Interview [dQw4w9]/...' (downloaders and recorders put brackets in names): the folder's
    '[2]' was read as a class of characters, and the glob 'matches no files' though the folder holds them."""
    from mpt_live.recordings import expand_recordings

    folder = tmp_path / "Session [2]" / "take (1) [a]"
    folder.mkdir(parents=True)
    for n in ("b.mp4", "a.mov"):
        (folder / n).write_bytes(b"x")
    assert [p.name for p in expand_videos(str(folder / "*.mp4"))] == ["b.mp4"]
    assert [p.name for p in expand_recordings(str(tmp_path / "Session [2]" / "*" / "*"))] == ["a.mov", "b.mp4"]
    with pytest.raises(InputError, match="matches no files"):
        expand_videos(str(folder / "*.mkv"))
    # a pattern that matches as written is taken as written: '[2]' a class there
    (tmp_path / "Session 2").mkdir()
    (tmp_path / "Session 2" / "c.mp4").write_bytes(b"x")
    assert [p.name for p in expand_videos(str(tmp_path / "Session [2]" / "*.mp4"))] == ["c.mp4"]


@pytest.mark.parametrize("s, ok", [("rtsp://cam/1", True), ("https://x/y.m3u8", True), ("video.mp4", False), ("C:/x.mp4", False)])
def test_stream_urls(s, ok):
    assert is_stream_url(s) is ok


def test_csv_sink_flushes_each_row(tmp_path):
    path = tmp_path / "out.csv"
    with CSVSink(path, ["a", "b"]) as sink:
        sink.write({"a": 1, "b": float("nan")})
        sink.write({"a": True, "b": 0.123456789})
        # readable while still open: rows are flushed as written
        rows = list(csv.DictReader(open(path)))
        assert rows == [{"a": "1", "b": ""}, {"a": "1", "b": "0.123457"}]


def test_csv_sink_keeps_times_of_a_long_recording_to_the_tenth_of_a_millisecond(tmp_path):
    """events.csv's seconds equal summary.json's (rounded to 4 decimals) past 100 s: 6 significant digits
    wrote 137.667 for 137.6667 and 10000.1 for frame 300002 of a 30-fps recording (10000.0667 s)."""
    path = tmp_path / "out.csv"
    times = [0.0333, 137.6667, 3725.1234, 300002 / 30, float("inf")]
    with CSVSink(path, ["t"]) as sink:
        for t in times:
            sink.write({"t": t})
    got = [float(r["t"]) for r in csv.DictReader(open(path))]
    assert got == [round(t, 4) if math.isfinite(t) else t for t in times]


def test_write_json_numpy(tmp_path):
    write_json(tmp_path / "s.json", {"x": np.float32(1.5), "y": np.arange(3)})
    assert json.loads((tmp_path / "s.json").read_text()) == {"x": 1.5, "y": [0, 1, 2]}


def test_a_half_written_file_is_one_line_without_ffmpegs_own(tmp_path):
    """An mp4 cut before its index (a recording still being written): FFmpeg prints 'moov atom not found'
    to the process's stderr before OpenCV gives up; the user sees only our line."""
    import subprocess
    import sys

    full = tmp_path / "full.mp4"
    _write_video(full, 30)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    code = ("from mpt_live.sources import VideoFile\nfrom mpt_live.errors import InputError\n"
            f"try:\n    VideoFile({str(cut)!r})\nexcept InputError as e:\n    print(e)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "not a readable video: an MP4/MOV without its index ('moov' box)" in p.stdout, p.stdout
    assert p.stderr == "", p.stderr


@pytest.mark.parametrize("photo, name, kind", [
    ("mtcnn_ivan.jpg", "renamed.mp4", "JPEG"),
    ("mtcnn_ivan.jpg", "photo.jpg", "JPEG"),
    ("PNG", "renamed.mov", "PNG"),
])
def test_an_image_is_not_taken_for_a_one_frame_video(faces_dir, tmp_path, photo, name, kind):
    """OpenCV opens a photo (even one named .mp4) as a 1-frame "video": mpt-live ran on it and wrote a run of
    one frame. The container decides (an image demuxer), not the frame count: a real 1-frame video is read."""
    path = tmp_path / name
    if photo == "PNG":
        cv2.imwrite(str(path.with_suffix(".png")), np.full((48, 64, 3), 90, np.uint8))
        path.with_suffix(".png").rename(path)
    else:
        path.write_bytes((faces_dir / "photos" / photo).read_bytes())
    with pytest.raises(InputError) as ei:
        VideoFile(path)
    assert str(ei.value) == (f"{path}: is a {kind} image, not a video; a recording stored as images is read as a "
                             "folder of frames (--fps); a photo's demo clip: --demo --demo-face PHOTO")
    one = tmp_path / "one.mp4"
    _write_video(one, 1)
    with VideoFile(one) as v:
        assert len(list(v)) == 1
    mjpeg = tmp_path / "one.avi"  # JPEG frames in a video container: a video
    vw = cv2.VideoWriter(str(mjpeg), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    vw.write(np.full((48, 64, 3), 90, np.uint8))
    vw.release()
    with VideoFile(mjpeg) as v:
        assert len(list(v)) == 1


def test_wide_pixels_are_stretched_as_a_player_shows_them(tmp_path):
    """A camcorder file (HDV, DV) stores wide pixels (sample aspect 4:3 here): the frames reached the face detector
    and the model squeezed to 3/4 of their width; they come as a player shows them, from the file and paced."""
    import faultkit as fk

    from mpt_live.paced_video import PacedVideoReader

    src = tmp_path / "src.mp4"
    _write_video(src, 10, size=(64, 48))
    path = tmp_path / "hdv.mp4"
    fk.ffmpeg("-i", str(src), "-vf", "scale=48:48,setsar=4/3", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path))
    with VideoFile(path) as v:
        shapes = {f.image.shape for f in v}
    assert shapes == {(48, 64, 3)} and (v.width, v.height) == (64, 48)
    with PacedVideoReader(path, speed=50.0) as r:
        first = r.read(timeout=10)
    assert first is not None and first.image.shape == (48, 64, 3)


@pytest.mark.parametrize("rotation, transpose", [(90, "transpose=clock"), (270, "transpose=cclock"), (180, "hflip,vflip")])
def test_a_phone_video_stored_turned_is_read_upright(tmp_path, rotation, transpose):
    """A phone stores its sensor's frames turned and says how to turn them back (a display matrix): the frames
    come upright, as a player shows them (a turned face is not found), from the file and paced."""
    import faultkit as fk

    from mpt_live.paced_video import PacedVideoReader

    upright = tmp_path / "upright.mp4"
    vw = cv2.VideoWriter(str(upright), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (48, 64))
    for _ in range(5):
        img = np.zeros((64, 48, 3), np.uint8)
        img[:16, :24] = 255  # top left: which way is up, and which side is left
        vw.write(img)
    vw.release()
    stored = tmp_path / "stored.mp4"
    fk.ffmpeg("-i", str(upright), "-vf", transpose, "-c:v", "libx264", "-pix_fmt", "yuv420p", str(stored))
    phone = tmp_path / "phone.mp4"
    fk.ffmpeg("-display_rotation", str(rotation), "-i", str(stored), "-c", "copy", str(phone))
    with VideoFile(phone) as v:
        img = next(iter(v)).image
    with PacedVideoReader(phone, speed=50.0) as r:
        paced = r.read(timeout=10)
    for frame in (img, paced.image):
        assert frame.shape == (64, 48, 3)
        assert frame[2:14, 2:22].mean() > 200 and frame[2:14, 26:46].mean() < 50 and frame[20:].mean() < 50


@pytest.mark.parametrize("make", [
    lambda d: _write_video(d / "clip.mp4", 30) or d / "clip.mp4",
    lambda d: __import__("faultkit").write_raw_h264(d / "raw.h264", 30),  # no times: the codec's rate counts
    lambda d: _audio_only(d / "voice.mp4"),  # not a video: why, in one line
], ids=["mp4", "raw-h264", "audio-only"])
def test_a_run_opens_its_video_with_pyav_once(tmp_path, monkeypatch, make):
    """The header facts (an image? the codec's rate, the video's place on the container's time line, why it is
    unreadable) come from one PyAV open of the file, not one each."""
    import av
    from typer.testing import CliRunner

    from mpt_live.cli import app

    video = make(tmp_path)
    opened = []
    real = av.open

    def counting_open(file, mode="r", *args, **kwargs):
        if mode == "r" and str(file) == str(video):
            opened.append(file)
        return real(file, mode, *args, **kwargs)

    monkeypatch.setattr(av, "open", counting_open)
    res = CliRunner().invoke(app, ["--video", str(video), "--motion-only", "--headless", "--out", str(tmp_path / "out")])
    if video.name == "voice.mp4":
        assert res.exit_code != 0 and "not a readable video: no video stream, audio only" in res.output, res.output
    else:
        assert res.exit_code == 0, res.output
        summary = json.loads((tmp_path / "out" / "summary.json").read_text())
        assert summary["frames_read"] == 30 and summary["source_fps"] == pytest.approx(25.0 if video.suffix == ".mp4" else 30.0)
    # and a raw stream's packets once more as OpenCV reads it, for a change of frame size (mpt_live/sizechange.py)
    assert len(opened) == (2 if video.suffix == ".h264" else 1)


@pytest.mark.parametrize("where", [0.02, 0.5])
def test_a_damaged_stretch_is_read_past_not_taken_for_the_end(tmp_path, where):
    """A recording with a few kilobytes of damage (a bad block, a broken transfer) at its start or in its middle:
    OpenCV cannot decode the frames there and goes on with the ones after them. The first failed read was taken
    for the end: damage at the start was 'zero decodable frames' (the whole file refused), in the middle the run
    stopped there, 'truncated or damaged', the second half's events lost. The frames after the damage are read,
    at their own times, and a warning says how many could not be."""
    from faultkit import damage_mdat, ffmpeg

    clip = tmp_path / "clip.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=30:d=4", "-c:v", "libx264", "-preset", "veryfast", "-g", "30",
           "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(clip))
    damage_mdat(clip, where)
    with VideoFile(clip) as v:
        frames = list(v)
    assert v.error is None and len(frames) >= 100  # of 120
    assert frames[-1].t == pytest.approx(119 / 30, abs=0.02)  # the last frame at its time
    # the first frame after damage at the start: OpenCV times it 0, it was shown at 0 s and the next a second later
    assert frames[1].t - frames[0].t == pytest.approx(1 / 30, abs=0.002)
    assert [t.t for t in frames] == sorted(t.t for t in frames)
    damaged = [w for w in v.warnings if "could not be decoded (the file is damaged there)" in w]
    assert len(damaged) == 1 and ("at the start" in damaged[0]) == (where < 0.1), v.warnings
    assert damaged == v.warnings  # the damage's gap is said once (not as a variable rate, nor as frames missing)
    # the frames just after the damage, which OpenCV timed by its count of frames read (a period on, as if none
    # were lost), are at the container's times before the next one's: the warning names where the gap is
    gap = max(range(1, len(frames)), key=lambda i: frames[i].t - frames[i - 1].t)
    if where > 0.1:
        assert frames[gap].t - frames[gap - 1].t > 0.1 and f"before {frames[gap].t:.2f} s" in damaged[0], damaged


def _read_through(clip, reader: str):
    """(the reader, frames it gave) of ``clip`` read to its end by VideoFile (``file``) or at 50x by ``--realtime``'s
    PacedVideoReader (``realtime``)."""
    from mpt_live.paced_video import PacedVideoReader

    if reader == "file":
        with VideoFile(clip) as v:
            return v, len(list(v))
    with PacedVideoReader(clip, speed=50.0) as source:
        n = 0
        while source.read(timeout=10) is not None:
            n += 1
    return source, n


class _CountedCapture:
    """A capture whose failed reads and grabs are counted (``failed``: one entry each)."""

    def __init__(self, cap, failed: list) -> None:
        self._cap, self._failed = cap, failed

    def read(self):
        ok, img = self._cap.read()
        if not ok:
            self._failed.append(1)
        return ok, img

    def grab(self):
        ok = self._cap.grab()
        if not ok:
            self._failed.append(1)
        return ok

    def __getattr__(self, name):
        return getattr(self._cap, name)


@pytest.mark.parametrize("reader", ["file", "realtime"])
def test_a_header_that_counts_more_frames_than_the_video_holds_is_not_read_past_its_end(tmp_path, monkeypatch, reader):
    """An mkv of a recording that dropped frames: its header counts 60 (duration x rate), it holds 45, ending where
    its container says it ends. A failed read is read past while the header counts more frames (damage), so its
    end was 16 failed reads, one a frame counted; a header's count can be far off (an AVI's, a broken duration's),
    each such read one more. Where the frames read reach the end the container states, a failed read is the end
    now: one, and nothing said of damage or truncation."""
    import faultkit as fk

    clip = fk.write_dropped_frames(tmp_path / "dropped.mkv", 60)
    failed: list = []
    real = cv2.VideoCapture
    monkeypatch.setattr(cv2, "VideoCapture", lambda *a, **k: _CountedCapture(real(*a, **k), failed))
    source, n = _read_through(clip, reader)
    assert source.frame_count == 60 and (n == 45 or reader == "realtime")
    assert failed == [1] and source.damaged == 0 and source.error is None
    assert not [w for w in source.warnings if "decoded" in w or "truncated" in w]


@pytest.mark.parametrize("reader", ["file", "realtime"])
def test_a_streamed_webm_that_counts_no_frames_ends_at_its_first_failed_read(tmp_path, monkeypatch, reader):
    """A WebM written as a stream (a browser's MediaRecorder, ffmpeg to a pipe) has no duration, so its header counts
    no frames, and a failed read is read past up to 300 in a row where none are counted (damage at the start of a
    file that might still hold frames): its end was 301 failed reads. Its packets, counted by the one read of them
    that tells whether it was cut short (made at its first failed read instead of at its end), stand for the count:
    one failed read, every frame, nothing said."""
    import subprocess

    import av
    import faultkit as fk


    clip = tmp_path / "stream.webm"
    with open(clip, "wb") as fh:  # to a pipe: FFmpeg cannot go back to write a duration or an index
        subprocess.run([fk.ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=96x64:r=30:d=2",
                        "-c:v", "libvpx", "-b:v", "200k", "-deadline", "realtime", "-cpu-used", "8", "-f", "webm", "-"],
                       stdout=fh, check=True)
    failed: list = []
    real, opened = cv2.VideoCapture, []
    monkeypatch.setattr(cv2, "VideoCapture", lambda *a, **k: _CountedCapture(real(*a, **k), failed))
    pyav_open = av.open
    monkeypatch.setattr(av, "open", lambda f, *a, **k: opened.append(str(f)) or pyav_open(f, *a, **k))
    source, n = _read_through(clip, reader)
    assert source.frame_count == 0 and (n == 60 or reader == "realtime") and n > 0
    assert failed == [1] and source.damaged == 0 and source.error is None and source.warnings == []
    assert opened == [str(clip)] * 2  # by PyAV: the header probe, and one read of its packets (the count, the cut)


@pytest.mark.parametrize("ext, args", [(".gif", []), (".mxf", ["-c:v", "mpeg2video", "-r", "25"]),
                                       (".3g2", ["-c:v", "libx264"]), (".mod", ["-c:v", "mpeg2video", "-f", "vob"]),
                                       (".tod", ["-c:v", "mpeg2video", "-f", "mpegts"])])
def test_a_folder_batch_takes_the_videos_users_record(tmp_path, ext, args):
    """An animated GIF, a professional camera's MXF, a phone's 3G2 and a JVC camcorder's MOD/TOD were left out of a
    folder of videos without a word (--video x.gif read them): listed, and read frame by frame."""
    import faultkit as fk

    fk.ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", *args, str(tmp_path / f"take{ext}"))
    (tmp_path / "notes.txt").write_text("x")
    found = expand_videos(str(tmp_path))
    assert [p.name for p in found] == [f"take{ext}"]
    with VideoFile(found[0]) as v:
        assert len(list(v)) == (25 if ext == ".mxf" else 10)
