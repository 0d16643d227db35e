"""A video file's display-rotation tag checked against its faces (mpt_live/upright.py): a right tag is kept, a wrong
one overridden and said so, ``--rotation`` forces either, an untagged file is read as before; both capture paths."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import faultkit as fk
from mpt_live import upright
from mpt_live.apexframes import frames_at
from mpt_live.paced_video import PacedVideoReader
from mpt_live.pyav_capture import PyAVCapture
from mpt_live.sources import VideoFile

FIX = "ffmpeg -display_rotation 0 -i"


@pytest.fixture(scope="module")
def clips(tmp_path_factory, faces_dir):
    """3 s of a real face video, 320x240 (cropped, not squashed: a 90-degree turn swaps its sides, which a square
    clip cannot show), upright as stored and untagged; the same tagged 180 and 90 (wrong tags), and the face stored
    turned 180 and 90 clockwise with the tags that turn it back (right tags)."""
    d = tmp_path_factory.mktemp("rotation")
    src = faces_dir / "videos" / "liveportrait_d19_glasses.mp4"
    plain = d / "plain.mp4"
    fk.ffmpeg("-i", str(src), "-t", "3", "-vf", "crop=480:360,scale=320:240", "-c:v", "libx264", "-pix_fmt", "yuv420p",
              str(plain))
    made = {"plain": plain}
    for name, tag in (("wrong180", 180), ("wrong90", 90)):  # ffmpeg's display_rotation turns anticlockwise
        made[name] = d / f"{name}.mp4"
        fk.ffmpeg("-display_rotation", str((-tag) % 360), "-i", str(plain), "-c", "copy", str(made[name]))
    for name, turn, vf in (("right180", 180, "hflip,vflip"), ("right90", 90, "transpose=clock")):
        stored = d / f"stored{turn}.mp4"
        fk.ffmpeg("-i", str(plain), "-vf", vf, "-c:v", "libx264", "-pix_fmt", "yuv420p", str(stored))
        made[name] = d / f"{name}.mp4"
        fk.ffmpeg("-display_rotation", str(turn), "-i", str(stored), "-c", "copy", str(made[name]))
    return made


def _frames(video, n=3):
    out = []
    for f in video:
        out.append(f.image)
        if len(out) == n:
            break
    return out


def _stored(path, n=3):
    """The first frames of ``path`` as stored (OpenCV's turn by the tag off)."""
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0)
    got = [cap.read()[1] for _ in range(n)]
    cap.release()
    return got


def test_a_wrong_180_tag_is_overridden_and_said_once(clips):
    with VideoFile(clips["wrong180"]) as v:
        frames = _frames(v)
        notes = [w for w in v.warnings if "rotation tag" in w]
    with VideoFile(clips["wrong180"]) as w, VideoFile(clips["plain"]) as p:
        times, ms = [f.t for f in w], [f.t for f in p]
    assert v.turn == 180 and (v.width, v.height) == (320, 240)
    for got, want in zip(frames, _stored(clips["plain"])):
        assert np.array_equal(got, want)  # read as stored: the untagged copy's frames, bit for bit
    assert times == ms  # the same frame times
    assert len(notes) == 1 and notes[0].startswith(f"{clips['wrong180']}: its rotation tag says to turn it 180")
    assert f"{FIX} wrong180.mp4 -c copy" in notes[0] and "--rotation tag" in notes[0]
    apex = dict(frames_at(clips["wrong180"], {0: 0.0}))  # the report's apex pictures read as the run did
    assert np.array_equal(apex[0], frames[0])


def test_a_wrong_90_tag_is_overridden_to_the_frames_as_stored(clips):
    with VideoFile(clips["wrong90"]) as v:
        frames = _frames(v, 1)
    assert v.turn == 270 and frames[0].shape == (240, 320, 3) and (v.width, v.height) == (320, 240)
    assert np.array_equal(frames[0], _stored(clips["plain"], 1)[0])
    assert any(f"{FIX} wrong90.mp4" in w for w in v.warnings)


@pytest.mark.parametrize("name, size", [("right180", (320, 240)), ("right90", (320, 240))])
def test_a_right_tag_is_kept(clips, name, size):
    """Frames stored turned and tagged to be turned back: kept as tagged, nothing said."""
    with VideoFile(clips[name]) as v:
        first = _frames(v, 1)[0]
    assert v.turn == 0 and v.rotation_note is None and not any("rotation tag" in w for w in v.warnings)
    assert first.shape[1::-1] == size and (v.width, v.height) == size
    plain = _stored(clips["plain"], 1)[0].astype(np.int16)
    assert np.abs(first.astype(np.int16) - plain).mean() < 8  # upright: the untagged frame, up to re-encoding


@pytest.mark.parametrize("rotation, turn", [("tag", 0), ("0", 180), ("90", 270), ("270", 90)])
def test_a_forced_rotation_is_honoured_by_both_readers(clips, rotation, turn):
    """``--rotation``: the tag kept, or the frames as stored turned so many degrees clockwise; nothing said."""
    path = clips["wrong180"]
    stored = _stored(path, 1)[0]
    want = upright.turned(stored, 180 if rotation == "tag" else int(rotation))
    with VideoFile(path, rotation=rotation) as v:
        first = _frames(v, 1)[0]
    assert v.turn == turn and v.rotation_note is None
    assert np.array_equal(first, want) and (v.width, v.height) == first.shape[1::-1]
    # a clock that stands still: frame 0 is due at once, frame 1 never (at speed 50 it was due 0.8 ms later and, with
    # the test process's other threads holding the GIL, had overwritten frame 0 before the read woke: a flake)
    with PacedVideoReader(path, rotation=rotation, clock=lambda: 0.0) as r:
        paced = r.read(timeout=10)
    assert paced is not None and paced.index == 0 and np.array_equal(paced.image, want)


def test_the_pyav_capture_reads_a_wrong_tag_as_opencv_does(clips):
    with VideoFile(clips["wrong180"]) as a, VideoFile(clips["wrong180"], capture=PyAVCapture(clips["wrong180"])) as b:
        fa, fb = _frames(a), _frames(b)
    assert a.turn == b.turn == 180
    for x, y in zip(fa, fb):
        assert np.abs(x.astype(np.int16) - y.astype(np.int16)).max() <= 2  # the two decoders' colour conversions


def test_an_untagged_file_is_not_checked_and_reads_as_before(clips, monkeypatch):
    def refuse():
        raise AssertionError("the detector was asked about an untagged file")

    monkeypatch.setattr(upright, "blazeface_score", refuse)
    with VideoFile(clips["plain"]) as v:
        frames = _frames(v)
    assert v.turn == 0 and v.rotation_note is None
    for got, want in zip(frames, _stored(clips["plain"])):
        assert np.array_equal(got, want)


def test_the_run_says_so_and_finds_the_face(clips, tmp_path, run_main):
    code, lines = run_main("mpt_live.cli", "--video", str(clips["wrong180"]), "--motion-only", "--headless",
                           "--out", str(tmp_path / "run"))
    assert code == 0, lines
    said = [line for line in lines if "rotation tag" in line]
    assert said and f"{FIX} wrong180.mp4" in " ".join(lines)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["frames_with_face"] == summary["frames_read"] > 0


def test_a_wrong_rotation_value_is_one_line(run_main):
    code, lines = run_main("mpt_live.cli", "--video", "x.mp4", "--motion-only", "--rotation", "45")
    assert code == 2 and lines == ["error: --rotation '45': expected auto, tag, 0, 90, 180 or 270"]


def test_resume_reads_the_file_the_way_up_the_run_did(clips, tmp_path, run_main):
    """summary.json says which way up the file was read; --resume refuses another, and goes on with the same."""
    out = tmp_path / "run"
    code, lines = run_main("mpt_live.cli", "--video", str(clips["wrong180"]), "--motion-only", "--headless",
                           "--max-seconds", "1", "--out", str(out))
    assert code == 0, lines
    assert json.loads((out / "summary.json").read_text())["rotation"] == 0
    code, lines = run_main("mpt_live.cli", "--video", str(clips["wrong180"]), "--motion-only", "--headless",
                           "--rotation", "tag", "--resume", "--out", str(out))
    assert code == 2 and any("another rotation (0, now 180)" in line for line in lines), lines
    code, lines = run_main("mpt_live.cli", "--video", str(clips["wrong180"]), "--motion-only", "--headless",
                           "--resume", "--out", str(out))
    summary = json.loads((out / "summary.json").read_text())
    assert code == 0 and summary["rotation"] == 0 and summary["frames_with_face"] == summary["frames_read"], lines


def test_an_untagged_run_says_no_rotation(clips, tmp_path, run_main):
    code, lines = run_main("mpt_live.cli", "--video", str(clips["plain"]), "--motion-only", "--headless",
                           "--max-seconds", "1", "--out", str(tmp_path / "run"))
    assert code == 0 and not any("rotation tag" in line for line in lines), lines
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["rotation"] is None


def test_finish_reads_a_killed_runs_file_the_way_up_the_run_did(clips, tmp_path, run_main):
    """--finish of a killed run, in another process than the run's: its apex pictures and review copy are read the
    way up its marker says (summary.json's rotation), not as tagged."""
    import shutil

    from mpt_live.recordings import stamp
    from mpt_live.rundir import start_run

    video = tmp_path / "killed.mp4"  # a file no run in this process has read
    shutil.copy(clips["wrong180"], video)
    out = tmp_path / "run"
    facts = {"mode": "file", "model": {"name": "motion-only"}, "source_fps": 25.0, "stride": 2, "detector": "auto",
             "rotation": 0, "max_faces": 2, "spot_threshold": 4.0, "clip_spec": None, "start_s": None,
             "max_seconds": None, "stamps": {"source": stamp(str(video)), "model": None}}
    start_run(out, str(video), facts)
    (out / "predictions.csv").write_text("frame,time_s,face_id,x,y,w,h,motion_score\n" + "".join(
        f"{f},{f / 25:.4f},0,10,10,100,100,0.1\n" for f in range(0, 21, 2)))
    assert upright.extra_turn(video) == 0
    code, lines = run_main("mpt_live.cli", "--finish", str(out))
    assert code == 0, lines
    assert json.loads((out / "summary.json").read_text())["rotation"] == 0
    assert upright.extra_turn(video) == 180 and upright.chosen(video) == "0"
    apex = dict(frames_at(video, {0: 0.0}))
    assert np.array_equal(apex[0], _stored(clips["plain"], 1)[0])


def _as_before_rotation(out):
    """The run folder ``out`` as the version before rotation tags were checked wrote it: no ``rotation`` key."""
    path = out / "summary.json"
    summary = json.loads(path.read_text())
    del summary["rotation"]
    path.write_text(json.dumps(summary))


@pytest.mark.parametrize("name", ["right180", "wrong180"])
def test_resume_of_a_run_of_the_version_before_reads_the_file_as_tagged(clips, tmp_path, run_main, name):
    """A run folder written before rotation tags were checked (no ``rotation``) read its file as tagged: a right tag
    resumes as it is; a wrong one (now overridden) is refused naming the --rotation that reads it as that run did."""
    out = tmp_path / "run"
    video = str(clips[name])
    code, lines = run_main("mpt_live.cli", "--video", video, "--motion-only", "--headless", "--max-seconds", "1",
                           "--rotation", "tag", "--out", str(out))
    assert code == 0, lines
    _as_before_rotation(out)
    code, lines = run_main("mpt_live.cli", "--video", video, "--motion-only", "--headless", "--resume",
                           "--out", str(out))
    if name == "wrong180":
        assert code == 2 and any("another rotation (180, now 0); give --rotation 180 to resume it" in line
                                 for line in lines), lines
        code, lines = run_main("mpt_live.cli", "--video", video, "--motion-only", "--headless", "--rotation", "180",
                               "--resume", "--out", str(out))
    summary = json.loads((out / "summary.json").read_text())
    assert code == 0 and summary["rotation"] == 180 and summary["frames_read"] == summary["source_frame_count"], lines


def test_finish_of_a_run_killed_under_the_version_before_reads_the_file_as_tagged(clips, tmp_path, run_main):
    """A killed run's marker without ``rotation`` (written before tags were checked): its run read the wrong-tagged
    file as tagged, so its review copy and pictures are read so too, not turned by a check of its faces."""
    import shutil

    from mpt_live.recordings import stamp
    from mpt_live.rundir import start_run

    video = tmp_path / "killed_before.mp4"
    shutil.copy(clips["wrong180"], video)
    out = tmp_path / "run"
    facts = {"mode": "file", "model": {"name": "motion-only"}, "source_fps": 25.0, "stride": 2, "detector": "auto",
             "max_faces": 2, "spot_threshold": 4.0, "clip_spec": None, "start_s": None, "max_seconds": None,
             "stamps": {"source": stamp(str(video)), "model": None}}
    start_run(out, str(video), facts)
    (out / "predictions.csv").write_text("frame,time_s,face_id,x,y,w,h,motion_score\n" + "".join(
        f"{f},{f / 25:.4f},0,10,10,100,100,0.1\n" for f in range(0, 21, 2)))
    code, lines = run_main("mpt_live.cli", "--finish", str(out))
    assert code == 0, lines
    assert upright.extra_turn(video) == 0 and upright.chosen(video) == "180"  # the review copy: --rotation 180
    with VideoFile(video, rotation=upright.chosen(video)) as v:
        first = _frames(v, 1)[0]
    assert np.array_equal(first, upright.turned(_stored(clips["plain"], 1)[0], 180))


@pytest.mark.parametrize("given, which", [(["--camera", "0"], "a camera"), (["--demo"], "--demo"),
                                          (["--video", "rtsp://127.0.0.1:9/x"], "a URL"),
                                          (["--video", "FRAMES"], "a folder of frames"),
                                          (["--video", "SETS", "--fps", "30", "--out", "OUT"], "folders of frames")])
def test_a_rotation_for_a_source_without_a_tag_is_one_line(run_main, tmp_path, given, which):
    """--rotation reads a video file's tag: with a camera, the demo, a URL, a folder of frames or a batch of frame
    folders it is refused, not silently ignored."""
    sets = tmp_path / "sets"
    for name in ("a", "b"):
        (sets / name).mkdir(parents=True)
        for i in range(3):
            cv2.imwrite(str(sets / name / f"img{i:03d}.jpg"), np.full((32, 32, 3), 100, np.uint8))
    paths = {"FRAMES": str(sets / "a"), "SETS": str(sets), "OUT": str(tmp_path / "out")}
    given = [paths.get(a, a) for a in given]
    code, lines = run_main("mpt_live.cli", *given, "--motion-only", "--headless", "--rotation", "90")
    assert code == 2 and lines == [f"error: --rotation: for a recorded video file (its rotation tag), not {which}"]
    assert not (tmp_path / "out").exists()


def test_inspect_reads_the_file_the_way_rotation_says(clips, tmp_path, run_main):
    """--inspect's sheet of a wrong-tagged file: by default its face found as stored; --rotation tag reads it as
    tagged (upside down), a different sheet."""
    sheets = {}
    for rotation in ("auto", "tag", "0"):
        out = tmp_path / f"{rotation}.png"
        code, lines = run_main("mpt_live.cli", "--video", str(clips["wrong180"]), "--motion-only", "--inspect", "2.5",
                               "--rotation", rotation, "--out", str(out))
        sheets[rotation] = cv2.imread(str(out)) if code == 0 else lines
    assert isinstance(sheets["auto"], np.ndarray) and np.array_equal(sheets["auto"], sheets["0"])
    assert not (isinstance(sheets["tag"], np.ndarray) and np.array_equal(sheets["tag"], sheets["auto"])), sheets["tag"]


def test_a_tag_that_cannot_be_checked_for_want_of_a_face_is_said(tmp_path):
    """A tagged file with no face in its first seconds: its tag is kept (nothing to judge it by), and one line says it
    could not be checked, naming --rotation; a forced --rotation says nothing."""
    path = tmp_path / "noface.mp4"
    plain = tmp_path / "plain.mp4"
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=5", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(plain))
    fk.ffmpeg("-display_rotation", "180", "-i", str(plain), "-c", "copy", str(path))
    with VideoFile(path) as v:
        notes = [w for w in v.warnings if "rotation tag" in w]
    assert v.turn == 0 and v.orientation == 180
    assert notes == [f"{path}: its rotation tag (turn it 180 degrees) could not be checked: no face found in its first "
                     "4 s (8 frames looked at), read as tagged; if its faces are sideways or upside down, --rotation 0 "
                     "reads it as stored (90, 180, 270: turned so many degrees clockwise)"]
    with VideoFile(path, rotation="tag") as v:
        assert v.rotation_note is None and not any("rotation tag" in w for w in v.warnings)


def test_a_tag_checked_against_a_faint_face_does_not_say_no_face(tmp_path):
    """A phone's portrait video, tagged right, whose face the check scores below its confident 0.8 in every
    orientation (a blurred or low-resolution face: 0.62-0.79 on a 720x1280 recording of a person not in ../shared,
    whose run then found the face in 99 % of its frames): the tag is kept and the line says the face was not found
    confidently, with its best score, not that there was no face."""
    path = tmp_path / "faint.mp4"
    plain = tmp_path / "plain.mp4"
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=5", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(plain))
    fk.ffmpeg("-display_rotation", "-90", "-i", str(plain), "-c", "copy", str(path))
    for score, said in ((0.734, "no face found confidently (score 0.8 or more; the best 0.73)"), (0.0, "no face found")):
        turn, note = upright.choose(path, 90, "auto", lambda: cv2.VideoCapture(str(path)), 25.0, lambda img: score)
        assert turn == 0
        assert note == (f"{path}: its rotation tag (turn it 90 degrees) could not be checked: {said} in its first 4 s "
                        "(8 frames looked at), read as tagged; if its faces are sideways or upside down, --rotation 0 "
                        "reads it as stored (90, 180, 270: turned so many degrees clockwise)")


def test_a_batch_rerun_with_another_rotation_redoes_the_videos_read_otherwise(clips, tmp_path, run_main):
    """A --jobs batch's rerun skips the videos done before with the same settings; given --rotation explicitly, a
    video done another way up (its summary's rotation; none as stored) is redone, one read that way already is not."""
    import shutil

    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("wrong180", "plain"):
        shutil.copy(clips[name], videos / f"{name}.mp4")
    out = tmp_path / "batch"
    args = ("mpt_live.cli", "--video", str(videos), "--motion-only", "--headless", "--jobs", "1", "--out", str(out))
    code, lines = run_main(*args)
    assert code == 0, lines

    def summaries():
        return {n: json.loads((out / n / "summary.json").read_text()) for n in ("wrong180", "plain")}

    before = summaries()
    assert before["wrong180"]["rotation"] == 0 and before["plain"]["rotation"] is None
    code, lines = run_main(*args, "--rotation", "tag")
    after = summaries()
    assert code == 0 and after["wrong180"]["rotation"] == 180 and after["plain"] == before["plain"], lines
    code, lines = run_main(*args, "--rotation", "180")  # the untagged one, read as stored before, is turned now
    last = summaries()
    assert code == 0 and last["wrong180"] == after["wrong180"] and last["plain"]["rotation"] == 180, lines


def test_only_a_file_pyav_cannot_read_falls_back_to_opencv(clips, monkeypatch):
    """The rotation check reads its frames with OpenCV in order where PyAV cannot read the file (an FFmpeg error),
    and nowhere else: another exception in its read (a bug) is raised, not hidden by the fallback."""
    import av

    opened = []

    def capture():
        opened.append(1)
        return cv2.VideoCapture(str(clips["wrong180"]))

    def fail(error):
        def spread(path, tag):
            raise error
        return spread

    monkeypatch.setattr(upright, "spread_frames", fail(av.error.InvalidDataError(1094995529, "cannot read")))
    assert upright.choose(clips["wrong180"], 180, "auto", capture, 25.0, detect=lambda img: 1.0) == (0, None)
    assert opened == [1]
    monkeypatch.setattr(upright, "spread_frames", fail(TypeError("a bug")))
    with pytest.raises(TypeError, match="a bug"):
        upright.choose(clips["wrong180"], 180, "auto", capture, 25.0, detect=lambda img: 1.0)
    assert opened == [1]


@pytest.mark.parametrize("gop", [60, 250])
def test_the_check_decodes_its_frames_from_keyframes_and_gets_the_frames_in_order(tmp_path, gop):
    """The rotation check's frames (upright.spread_frames: 8, from the keyframe before each where that is past the
    frames decoded so far) are the frames at 0, 0.5, ... 3.5 s that reading every frame in order gives (frames 0,
    30, ... 210 at 60 fps), turned as tagged: with a keyframe a second (a phone's) and FFmpeg's default of 250."""
    import av

    plain, path = tmp_path / "plain.mp4", tmp_path / "tagged.mp4"
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=60:d=5", "-c:v", "libx264", "-preset", "ultrafast", "-g",
              str(gop), "-pix_fmt", "yuv420p", str(plain))
    fk.ffmpeg("-display_rotation", "270", "-i", str(plain), "-c", "copy", str(path))  # turn 90 clockwise
    with av.open(str(plain)) as c:
        every = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    got = upright.spread_frames(path, 90)
    assert len(got) == 8 and got[0].shape == (160, 120, 3)
    for n, img in enumerate(got):
        assert np.array_equal(img, upright.turned(every[30 * n], 90)), n


def test_a_tagged_file_whose_metadata_is_not_utf8_reads(clips, tmp_path, run_main):
    """A file whose metadata holds a byte that is not UTF-8 (a title written as Latin-1: 'caf\\xe9') is read: PyAV
    decodes metadata strictly where it is not told otherwise, so its open raised UnicodeDecodeError (a traceback
    from the rotation check, exit 1; the probe called the file unrecognised). Every PyAV read of it opens it."""
    from mpt_live.videoprobe import probe_video

    meta = tmp_path / "meta.txt"
    meta.write_bytes(b";FFMETADATA1\ntitle=caf\xe9\n")
    path = tmp_path / "latin1.mp4"
    fk.ffmpeg("-i", str(clips["wrong180"]), "-i", str(meta), "-map_metadata", "1", "-c", "copy", str(path))
    assert b"caf\xe9" in path.read_bytes() and b"caf\xc3\xa9" not in path.read_bytes()
    probe = probe_video(path)
    assert probe.failure is None and probe.codec == "h264" and probe.tracks, probe
    cap = PyAVCapture(path)
    try:
        assert cap.read()[0]
    finally:
        cap.release()
    code, lines = run_main("mpt_live.cli", "--video", str(path), "--motion-only", "--headless",
                           "--out", str(tmp_path / "run"))
    assert code == 0, lines
    assert any("rotation tag" in line for line in lines), lines
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["frames_with_face"] == summary["frames_read"] > 0


@pytest.mark.parametrize("driver", ["run_batch", "run_parallel"])
def test_a_batch_of_frame_folders_run_from_python_refuses_a_rotation(tmp_path, driver):
    """The batch drivers (mpt_live.batch.run_batch, run_parallel: a notebook's or a script's calls, the CLI's too)
    check the rotation as the CLI does: a SessionConfig rotation other than auto for folders of frames, which have
    no tag, is the one-line error, not ignored while every folder runs."""
    from rich.console import Console

    from mpt_live import batch
    from mpt_live.errors import InputError
    from mpt_live.session import SessionConfig

    sets = tmp_path / "sets"
    for name in ("a", "b"):
        (sets / name).mkdir(parents=True)
        for i in range(3):
            cv2.imwrite(str(sets / name / f"img{i:03d}.jpg"), np.full((32, 32, 3), 100, np.uint8))
    run = getattr(batch, driver)
    with pytest.raises(InputError, match=r"^--rotation: for a recorded video file \(its rotation tag\), not folders"):
        run(str(sets), tmp_path / "out", None, SessionConfig(rotation="90"), Console(quiet=True), fps=30.0)
    assert not (tmp_path / "out").exists()
