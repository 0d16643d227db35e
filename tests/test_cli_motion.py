"""`mpt-live` motion-only run and inspector, end to end on real clips, and its error handling."""

from __future__ import annotations

import csv
import json
import math
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from mpt_live.cli import app
from mpt_live.job import run_job
from mpt_live.results import columns
from mpt_live.session import SessionConfig
from mpt_live.sources import VideoFile
from mpt_live.tracks import FaceTracker

from tinymodel import tiny_onnx

MOTION_COLUMNS = columns([])

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
    faces = [int(r["face_id"] != "") for r in rows]
    # webcam face first, then the cartoon with no face: both kinds of rows, face rows first
    assert faces[0] == 1 and faces[-1] == 0 and 0 in faces and 1 in faces
    assert faces.index(0) > 5
    for r in rows:
        if r["face_id"] == "":
            assert r["x"] == "" and r["motion_score"] == ""
        else:
            assert int(r["w"]) > 50
    scored = [(float(r["time_s"]), float(r["motion_score"])) for r in rows if r["motion_score"]]
    # a score needs a full window (1 s) of face: the face is there from frame 0, so none before 1 s
    assert scored and min(t for t, _ in scored) >= 1.0 - 1e-3
    assert all(math.isfinite(s) and s > 0 for _, s in scored)  # a real camera's noise is never exactly still
    assert {r["top"] for r in rows if r["motion_score"]} <= {"neutral", "event"}
    assert all(r["top"] == "" and r["confidence"] == "" for r in rows if not r["motion_score"])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["frames_read"] == 169
    assert 0 < summary["frames_with_face"] < 169
    assert summary["windows"] == len(rows)
    assert summary["fps"] > 0 and summary["source_fps"] == pytest.approx(26.4, abs=0.1)


@pytest.mark.parametrize("args, seconds", [(["--max-seconds", "0.05"], 2 / 30), (["--stride", "100"], 100 / 30)])
def test_a_run_of_one_window_shares_its_time_by_its_label(faces_dir, tmp_path, args, seconds):
    """A lone window covered 0 s (a window covers the time until the next one): every share 0 and the terminal line
    named no label. It covers the stride's time, as a run's last window covers the run's spacing of windows."""
    video = faces_dir / "videos" / "pyfeat_single_face.mp4"  # 30 fps, 72 frames
    res = runner.invoke(app, ["--video", str(video), "--motion-only", "--headless", "--out", str(tmp_path), *args])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["windows"] == 1 and summary["source_fps"] == pytest.approx(30.0)
    (label, got), = summary["labels"].items()
    assert got == {"windows": 1, "seconds": round(seconds, 3), "share": 1.0}
    assert f"{label} 100%" in res.output


@pytest.mark.slow
def test_still_face_scores_lower_than_talking(faces_dir, tmp_path):
    means = {}
    for name in ("evm_face_still.mp4", "retalking_3_talking.mp4"):
        with VideoFile(faces_dir / "videos" / name) as src:
            s = run_job(src, None, SessionConfig(stride=4), tmp_path / name)
        rows = _rows(tmp_path / name / "predictions.csv")
        vals = [float(r["motion_score"]) for r in rows if r["motion_score"]]
        assert len(vals) >= 10 and s["windows_scored"] == len(vals)
        means[name] = np.median(vals)
    assert means["evm_face_still.mp4"] * 3 < means["retalking_3_talking.mp4"]


def test_interrupted_run_keeps_valid_csv_and_summary(faces_dir, tmp_path, monkeypatch):
    real_update = FaceTracker.update
    calls = {"n": 0}

    def update(self, frame, t):
        calls["n"] += 1
        if calls["n"] == 25:  # Ctrl-C while the faces of frame 24 are being found
            calls["marker"] = json.loads((tmp_path / "summary.json").read_text())  # the run's 'running' marker
            raise KeyboardInterrupt
        return real_update(self, frame, t)

    monkeypatch.setattr(FaceTracker, "update", update)
    res = runner.invoke(app, ["--video", str(faces_dir / "videos" / "evm_face_still.mp4"), "--motion-only", "--headless",
                              "--out", str(tmp_path)])
    assert res.exit_code == 130 and "interrupted" in res.output
    rows = _rows(tmp_path / "predictions.csv")
    # frames 0..23 were read, a window every 2 frames: the 12 windows already submitted are all written
    assert [int(r["frame"]) for r in rows] == list(range(0, 24, 2)) and all(len(r) == len(MOTION_COLUMNS) for r in rows)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["windows"] == 12 and summary["frames_read"] == 25
    # 25 frames of a 10 s video: the stop, not the recording, came before the spotter's baseline (it said 'too short')
    said = [w for w in summary["warnings"] if "spotter" in w]
    assert len(said) == 1 and "stopped before the spotter could judge a frame" in said[0], summary["warnings"]
    assert "too short" not in said[0]
    # the frames the video holds, however far the run read (mpt-eval spot: a video of a recording's images)
    with VideoFile(faces_dir / "videos" / "evm_face_still.mp4") as src:
        assert summary["source_frame_count"] == calls["marker"]["source_frame_count"] == src.frame_count > 25


def test_inspect_writes_sheet(faces_dir, tmp_path):
    out = tmp_path / "sheet.png"
    res = runner.invoke(app, ["--video", str(faces_dir / "videos" / "liveportrait_d19_glasses.mp4"), "--inspect", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    img = cv2.imread(str(out))
    assert img is not None and img.shape[1] > 3 * img.shape[0]  # a wide strip of 16 frames + dynamic image


@pytest.fixture(scope="module")
def short_model(tmp_path_factory):
    """A model trained on 8 frames of 64 px over 0.5 s (the default ClipSpec: 16 frames of 224 px over 1 s)."""
    from mpt_live.clip import ClipSpec

    return tiny_onnx(tmp_path_factory.mktemp("m") / "short.onnx", spec=ClipSpec(frames=8, window_s=0.5, image_size=64))


@pytest.mark.parametrize("args, at, code, said, crops", [
    (["--model", "{short}"], "0.7", 0, "the ClipSpec of short.onnx", 8),
    (["--motion-only"], "0.7", 2, "earlier than one window (1 s)", None),
    (["--motion-only"], "2", 0, "the default ClipSpec (no model)", 16),
], ids=["model-0.7s", "default-0.7s", "default-2s"])
def test_inspect_uses_the_models_clip_spec(faces_dir, short_model, tmp_path, args, at, code, said, crops):
    video = str(faces_dir / "videos" / "liveportrait_d19_glasses.mp4")
    out = tmp_path / "s.png"
    res = runner.invoke(app, ["--video", video, "--inspect", at, "--out", str(out), *[a.format(short=short_model) for a in args]])
    assert res.exit_code == code and said in " ".join(res.output.split()), res.output
    img = cv2.imread(str(out))
    assert (img is None) == (crops is None)
    # a strip of one crop per clip frame plus the dynamic image: 8 crops make a narrower sheet than 16
    aspect = img.shape[1] / img.shape[0] if img is not None else None
    assert {None: None, 8: "narrow", 16: "wide"}[crops] == (aspect and ("narrow" if aspect < 4.3 else "wide")), aspect


@pytest.mark.parametrize("make_out, said", [
    (lambda d: d / "afile" / "s.png", "its folder {d}/afile: is a file, expected a folder"),
    (lambda d: d / "s.png", "is a folder, expected a file name"),
], ids=["under-a-file", "a-folder"])
def test_inspect_checks_its_out_before_the_work(faces_dir, tmp_path, make_out, said):
    """--inspect wrote its PNG unchecked: an --out under a file, or a folder named like a PNG, was a traceback
    after the video had been read."""
    (tmp_path / "afile").write_text("")
    (tmp_path / "s.png").mkdir()
    out = make_out(tmp_path)
    video = str(faces_dir / "videos" / "liveportrait_d19_glasses.mp4")
    res = runner.invoke(app, ["--video", video, "--inspect", "2", "--out", str(out), "--motion-only"])
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.exception
    assert said.format(d=tmp_path) in " ".join(res.output.split()), res.output


def test_inspect_on_a_full_disk_is_one_line_and_leaves_no_file(faces_dir, tmp_path, monkeypatch):
    import errno

    import matplotlib.figure

    def full(self, path, **kw):
        Path(path).write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full)
    out = tmp_path / "s.png"
    video = str(faces_dir / "videos" / "liveportrait_d19_glasses.mp4")
    res = runner.invoke(app, ["--video", video, "--inspect", "2", "--out", str(out), "--motion-only"])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.exception
    assert f"{out}: not written (No space left on device)" in " ".join(res.output.split()), res.output
    assert list(tmp_path.iterdir()) == []


def _zero_frame_video(tmp_path):
    p = tmp_path / "zero.mp4"
    vw = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*"mp4v"), 30, (64, 64))
    vw.release()
    return p


def _photo_as_video(tmp_path, faces_dir):
    p = tmp_path / "photo.mp4"
    p.write_bytes((faces_dir / "photos" / "mtcnn_ivan.jpg").read_bytes())
    return p


@pytest.mark.parametrize(
    "args, expected",
    [
        (lambda d, f: ["--video", str(d / "missing.mp4"), "--headless", "--out", str(d / "o")], "no such file"),
        (lambda d, f: ["--video", str(_photo_as_video(d, f)), "--headless", "--out", str(d / "o")],
         "photo.mp4: is a JPEG image, not a video"),
        (lambda d, f: ["--video", str(d), "--headless", "--out", str(d / "o")], "contains no video files"),
        (lambda d, f: ["--video", str(_zero_frame_video(d)), "--headless", "--out", str(d / "o")], "zero.mp4"),
        (lambda d, f: ["--video", str(f / "videos" / "evm_face_still.mp4"), "--inspect", "0.5", "--out", str(d / "s.png")], "earlier than one window"),
        (lambda d, f: ["--video", str(f / "videos" / "evm_face_still.mp4"), "--inspect", "99", "--out", str(d / "s.png")], "past the end"),
        (lambda d, f: ["--video", str(f / "videos" / "pyfeat_face_noface.mov"), "--inspect", "5.5", "--out", str(d / "s.png")], "no face"),
        (lambda d, f: ["--video", str(f / "videos" / "evm_face_still.mp4"), "--inspect", "2", "--out", str(d / "s.jpg")], "PNG"),
        (lambda d, f: ["--video", str(f / "videos" / "evm_face_still.mp4"), "--headless"], "--out"),
        (lambda d, f: ["--video", str(f / "videos" / "evm_face_still.mp4"), "--detector", "huge", "--out", str(d)], "--detector"),
    ],
    ids=["missing", "photo-named-mp4", "directory", "zero-frames", "too-early", "past-end", "no-face", "not-png", "no-out", "bad-detector"],
)
def test_bad_input_one_line_error(faces_dir, tmp_path, args, expected):
    res = runner.invoke(app, args(tmp_path, faces_dir))
    assert res.exit_code == 2, res.output
    out = res.output.strip()
    assert expected in out and "Traceback" not in out
    assert len([ln for ln in out.splitlines() if ln.strip()]) == 1, out


def test_no_display_without_out_says_why(faces_dir, monkeypatch):
    """No --headless given, but no display either: the line says that there is none, not 'a headless run'."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    res = runner.invoke(app, ["--video", str(faces_dir / "videos" / "evm_face_still.mp4"), "--motion-only"])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "--out DIR is required: no display here (DISPLAY" in lines[0], res.output


@pytest.mark.parametrize("labels, tail", [({}, "0 motion events -> out/"),
                                          ({"neutral": {"share": 0.9}, "happiness": {"share": 0.001}},
                                           "0 motion events; neutral 90% -> out/")])
def test_report_line_lists_only_the_labels_there_are(labels, tail):
    from mpt_live.terminal import report_line

    s = {"source": "/x/v.mp4", "frames_read": 1, "frames_with_face": 0, "windows": 0, "windows_classified": 0,
         "fps": 30.0, "events": [], "labels": labels, "model": {}}
    line = report_line(s, Path("out"))
    assert line.startswith("v.mp4: 1 frame (0 with a face), 0 windows") and line.endswith(tail), line


def test_report_line_counts_one_in_the_singular():
    """A run with one event said '1 motion events' (and '1 frames', '1 windows' for a 1-frame video)."""
    from mpt_live.terminal import report_line

    s = {"source": "v.mp4", "frames_read": 1, "frames_with_face": 1, "windows": 1, "windows_classified": 0,
         "fps": 30.0, "events": [{}], "labels": {}, "model": {}}
    assert report_line(s, None) == "v.mp4: 1 frame (1 with a face), 1 window (0 classified), 30.0 frames/s, 1 motion event"
    s.update(frames_read=2, windows=2, events=[{}, {}])
    assert "2 frames (1 with a face), 2 windows (0 classified), 30.0 frames/s, 2 motion events" in report_line(s, None)


def test_report_line_of_a_run_resumed_after_a_kill_says_its_faces_are_not_known():
    """summary.json's frames_with_face is null where the part before --resume was killed (SIGKILL: the rows do not say
    which frames had a face); the run's last line printed it: '1000 frames (None with a face), ...'."""
    from mpt_live.terminal import report_line

    s = {"source": "v.mp4", "frames_read": 1000, "frames_with_face": None, "windows": 500, "windows_classified": 400,
         "fps": 25.0, "events": [{}], "labels": {}, "model": {}}
    line = report_line(s, None)
    assert "None" not in line, line
    assert line.startswith("v.mp4: 1000 frames (those with a face not known: the part before --resume was killed), "
                           "500 windows (400 classified)"), line


@pytest.mark.parametrize("every, lines", [(0.0, 3), (30.0, 0)])
def test_status_line_in_a_log_file_is_whole_lines(every, lines):
    """Where the output is not a terminal (a job's log), the status comes as plain whole lines, so the
    run's report line after it starts a line of its own."""
    import io

    from rich.console import Console

    from mpt_live.terminal import StatusLine

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=False, width=60)
    status = {"fps": 29.5, "provider": "CPUExecutionProvider", "face": True, "label": "neutral",
              "confidence": 0.9, "latency_ms": 12.0, "windows": 7, "demo": True}
    with StatusLine(console, "clip.mp4", log_every_s=every) as line:
        for _ in range(3):
            line.update(status)
    console.print("clip.mp4: 3 frames")
    out = buf.getvalue().splitlines()
    assert len(out) == lines + 1 and out[-1] == "clip.mp4: 3 frames", out
    assert all(ln.startswith("clip.mp4  29.5 fps  CPU  neutral 90%  model 12 ms  windows 7") for ln in out[:-1]), out


@pytest.mark.parametrize("every, logged", [(0.0, True), (1e9, False)])
def test_progress_off_a_terminal_is_a_plain_line_now_and_then(every, logged):
    """``nohup mpt-live --video interview.mp4 ... > run.log``: rich draws a bar only on a terminal, so an
    hour-long run's log said nothing until its end. Off a terminal the bar prints a plain line (done/total,
    share, speed, time left) at most every ``log_every_s``, never a line per frame."""
    import io

    from rich.console import Console

    from mpt_live.terminal import progress_bar

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=False, width=60)
    with progress_bar(console, log_every_s=every) as bar:
        task = bar.add_task("interview.mp4", total=None)
        for i in (10, 20):
            bar.update(task, completed=i, total=40)
    lines = buf.getvalue().splitlines()
    plain = [ln for ln in lines if ln.startswith("interview.mp4: ")]
    assert len(lines) == len(plain) + 1  # and the bar once, at the end, as before
    if logged:
        assert [ln.split(",")[0] for ln in plain] == ["interview.mp4: 10/40 frames (25%)", "interview.mp4: 20/40 frames (50%)"]
        assert plain[-1].endswith(" left"), plain
    else:
        assert plain == []


def test_progress_shows_a_video_by_its_own_name():
    """A video named 'clip[take2]:ok:.mp4' was shown as 'clip🆗.mp4' in the bar and in the log's lines (the
    name read as rich markup and an emoji code); now as it is."""
    import io

    from rich.console import Console

    from mpt_live.terminal import progress_bar

    name = "clip[take2]:ok:.mp4"
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=False, width=120)
    with progress_bar(console, log_every_s=0) as bar:
        task = bar.add_task(name, total=None)
        bar.update(task, completed=10, total=40)
        assert bar.columns[0].render(bar.tasks[0]).plain == name
    assert any(ln.startswith(f"{name}: 10/40 frames") for ln in buf.getvalue().splitlines()), buf.getvalue()


@pytest.mark.parametrize("argv, said", [(["--video", "v.mp4", "--out", ""], "--out: empty value"),
                                        (["--video", "v.mp4", "--out="], "--out: empty value"),
                                        (["spot", " ", "--runs", "r"], "argument 2: empty"),
                                        (["--video", "v.mp4", "--out", "o"], None),
                                        (["--video", "v.mp4", "--out", "."], None)])
def test_empty_argument_named(argv, said):
    from mpt_live.errors import empty_argument

    assert empty_argument(argv) == said


@pytest.mark.parametrize("argv, said", [
    (["--video", "in/a.mp4", "in/b.mp4", "--out", "o"], "--video: 2 paths given (in/a.mp4, in/b.mp4); it takes one "
     "video, folder or glob: quote a glob so that the shell passes it whole (--video 'in/*.mp4'), or give their folder"),
    (["--out", "o", "--video", "a.mp4", "b.mov", "c.mp4"], "(a.mp4, b.mov, ...)"),
    (["--video", "in/*.mp4", "--out", "o"], None), (["--video", "a.mp4"], None)])
def test_an_unquoted_glob_after_video_is_named(argv, said, monkeypatch, capsys):
    """`--video in/*.mp4` unquoted: the shell gives every file, and typer said only 'Got unexpected extra
    argument(s) (in/b.mp4)'; the one line says what happened and how to pass the glob."""
    import sys

    from mpt_live.cli import main
    from mpt_live.errors import expanded_glob

    got = expanded_glob(argv)
    assert (got is None) if said is None else (said in got), got
    if said is not None:
        monkeypatch.setattr(sys, "argv", ["mpt-live", *argv])
        with pytest.raises(SystemExit) as e:
            main()
        assert e.value.code == 2 and capsys.readouterr().err == f"error: {got}\n"


@pytest.mark.parametrize("tool", ["mpt-live", "mpt-train", "mpt-export", "mpt-synth", "mpt-eval"])
def test_every_tool_refuses_an_empty_out(tool, tmp_path):
    """``--out "$OUT"`` with OUT unset: typer would read "" as the current folder and write there."""
    import sys

    exe = Path(sys.executable).parent / tool  # the console script of this environment (make test: not on PATH)
    assert exe.exists(), f"{exe}: not installed"
    p = subprocess.run([str(exe), "--out", ""], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert p.returncode == 2 and p.stderr.strip() == "error: --out: empty value", p.stderr
    assert not any(tmp_path.iterdir())


def test_ctrl_c_while_the_libraries_load_exits_quietly(tmp_path, monkeypatch, capsys):
    """The console scripts import their command inside a guard: a KeyboardInterrupt during the import
    (Ctrl-C in the first second) is status 130 and one word, not a traceback."""
    import sys

    from mpt_live.launch import run

    (tmp_path / "slow_tool.py").write_text("raise KeyboardInterrupt\n")
    (tmp_path / "fine_tool.py").write_text("def main():\n    print('ran')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SystemExit) as e:
        run("slow_tool")
    assert e.value.code == 130 and capsys.readouterr().err == "interrupted\n"
    run("fine_tool")
    assert capsys.readouterr().out == "ran\n"
    sys.modules.pop("fine_tool", None)


def test_a_logged_progress_line_names_what_its_task_counts():
    """Off a terminal (``mpt-train ... > run.log``) each task's plain line names its own unit: mpt-train's folds
    were logged as 'LOSO folds: 2/6 frames', its steps and clips as frames too."""
    import io

    from rich.console import Console

    from mpt_live.terminal import progress_bar

    out = io.StringIO()
    with progress_bar(Console(file=out, force_terminal=False, width=200), log_every_s=0.0) as bar:
        folds = bar.add_task("LOSO folds", total=6, unit="folds")
        video = bar.add_task("talk.mp4", total=300)
        bar.advance(folds, 2)
        bar.advance(video, 30)
    lines = out.getvalue().splitlines()
    assert any(line.startswith("LOSO folds: 2/6 folds (33%)") for line in lines), lines
    assert any(line.startswith("talk.mp4: 30/300 frames") for line in lines), lines
    assert not any("folds" in line and "frames" in line for line in lines), lines


def test_a_batch_of_videos_estimates_its_time_left_from_the_whole_run():
    """A ``--jobs 2`` batch of ten 1-minute videos (3 minutes each here) whose first two ended a second apart logged
    'videos (2 jobs): 2/10 videos (20%), 0.4 videos/s, 0:00:20 left' (rich's rate over the last 30 s: two videos
    in 2.5 s), and kept logging it for the 20 minutes until the next video ended. Whole videos (and LOSO folds) are
    now timed over the task's whole run; frames keep rich's estimate."""
    import io

    from rich.console import Console
    from rich.progress import TextColumn

    from mpt_live.terminal import LoggedProgress, RemainingColumn

    now = [0.0]
    out = io.StringIO()
    bar = LoggedProgress(TextColumn("{task.description}"), RemainingColumn(), get_time=lambda: now[0],
                         console=Console(file=out, force_terminal=False, width=200), log_every_s=0.0)
    with bar:
        videos = bar.add_task("videos (2 jobs)", total=10, unit="videos")
        folds = bar.add_task("LOSO folds", total=6, completed=4, unit="folds")  # resumed: 4 folds done before
        frames = bar.add_task("a.mp4", total=1800)
        for t in (180.0, 181.0):
            now[0] = t
            bar.advance(videos, 1)
        bar.advance(folds, 1)
        for t in (185.0, 190.0):  # 450 frames in 5 s: rich's estimate, 10 s left (not 190 s, the run's mean)
            now[0] = t
            bar.advance(frames, 450)
        last = {line.split(":")[0]: line for line in out.getvalue().splitlines()}  # each task's last line
        assert last["videos (2 jobs)"] == "videos (2 jobs): 2/10 videos (20%), 0.6 videos/min, 0:12:40 left"
        assert last["LOSO folds"] == "LOSO folds: 5/6 folds (83%), 0.3 folds/min, 0:03:10 left"  # 1 in 190 s, not 5
        assert last["a.mp4"] == "a.mp4: 900/1800 frames (50%), 90.0 frames/s, 0:00:10 left"
        assert [bar.columns[1].render(t).plain for t in bar.tasks] == ["0:12:40", "0:03:10", "0:00:10"]
        now[0] = 600.0  # no video has ended since: the time left grows instead of standing at 0:00:20
        assert bar.columns[1].render(bar.tasks[videos]).plain == "0:40:00"


@pytest.mark.parametrize("argv, said", [(["--vidoe", "a.mp4"], "No such option: --vidoe"),
                                        (["--video", "a.mp4", "--stride", "0"], "'--stride'"),
                                        (["--video"], "'--video' requires an argument")])
def test_a_misspelt_option_or_a_value_out_of_range_is_one_line(argv, said, run_main):
    """README: expected failures end in one line naming the input. A misspelt option or a value typer refuses
    gave typer's boxed usage message (4-5 lines); it is now one line, exit 2 as before. (mpt-live's main() in this
    process; the console scripts themselves run in test_every_tool_refuses_an_empty_out.)"""
    status, lines = run_main("mpt_live.cli", *argv)
    assert status == 2
    assert len(lines) == 1 and lines[0].startswith("error: ") and said in lines[0], lines


@pytest.mark.parametrize("module, argv, said", [
    ("train.cli", [], "error: Missing option '--dataset'. Choose from: casme2, samm"),
    ("train.cli", ["--dataset", "casme2", "--bogus"], "(mpt-train --help lists the options)"),
    ("train.eval_cli", [], "error: Missing command."),
    ("train.eval_cli", ["spot", "--bogus"], "No such option: --bogus (Possible options: --out, --runs) "
                                            "(mpt-eval spot --help lists the options)"),
    ("train.synth_cli", ["--bogus"], "(mpt-synth --help lists the options)"),
    ("export.cli", [], "error: Missing argument 'checkpoint'. (mpt-export --help lists the options)")])
def test_the_other_tools_refuse_bad_options_in_one_line_too(module, argv, said, run_main):
    """mpt-train, mpt-eval, mpt-synth and mpt-export printed typer's boxed usage message for a misspelt or missing
    option (mpt-train's missing --dataset: 11 lines, its choices one a line); one line now, as mpt-live's."""
    status, lines = run_main(module, *argv)
    assert status == 2
    assert len(lines) == 1 and said in lines[0], lines


@pytest.mark.parametrize("source, count", [
    ({"frame_count": 5000}, 5000),   # a video's header, a frame folder's images
    ({"frame_count": 0}, None),      # a raw stream (its count was garbage, VideoFile says 0)
    ({}, None),                      # a camera says nothing
    ({"frame_count": True}, None)])
def test_summary_frame_count_is_null_where_the_source_does_not_say(source, count):
    from types import SimpleNamespace

    from mpt_live.run_summary import frame_count

    assert frame_count(SimpleNamespace(**source)) == count


def test_a_run_stopped_before_a_window_was_classified_is_not_blamed_on_its_video() -> None:
    # a run stopped at frame 26 (a full disk, Ctrl-C) said its video never held a face for a whole window
    from mpt_live.run_summary import RunFigures

    fig = RunFigures()
    fig.counts.update(frames_read=26, frames_with_face=26, windows=2, windows_classified=0)
    whole = fig.warnings("v.mp4", 1.0, True, "short")
    assert whole == ["v.mp4: no window was classified: a face in 26 of 26 frames, but never for a whole 1 s window"]
    stopped = fig.warnings("v.mp4", 1.0, True, "short", stopped=True)
    assert len(stopped) == 1 and "the run stopped after 26 frames" in stopped[0] and "never" not in stopped[0]
    fig.counts.update(windows_classified=1)
    assert fig.warnings("v.mp4", 1.0, True, "short", stopped=True) == []


def test_a_run_of_one_frame_says_frame_in_the_singular() -> None:
    """'the run stopped after 1 frames (a face in 1 of 1 frames)': a count of one in the plural."""
    from mpt_live.run_summary import RunFigures

    fig = RunFigures()
    fig.counts.update(frames_read=1, frames_with_face=1, windows=1, windows_classified=0)
    assert fig.warnings("v.mp4", 1.0, True, "short", stopped=True) == [
        "v.mp4: no window was classified: the run stopped after 1 frame (a face in 1 of 1 frame), before a whole 1 s "
        "window was classified"]


def test_the_crop_hint_is_asked_only_where_most_frames_had_no_face() -> None:
    """The hint (a crop search: a detector pass over a frame) is asked once, by the one face test that says the
    warning, and not at all where most frames had a face (run_warnings tested the frames twice to decide)."""
    from mpt_live.run_summary import RunFigures

    asked = []
    fig = RunFigures()
    fig.counts.update(frames_read=10, frames_with_face=6)
    assert fig.warnings("v.mp4", 1.0, False, "full", hint=lambda: asked.append(1) or "x") == [] and not asked
    fig.counts.update(frames_with_face=2)
    assert fig.warnings("v.mp4", 1.0, False, "full", hint=lambda: asked.append(1) or "a face 30 px wide") == [
        "v.mp4: only a face in 2 of 10 frames; a face 30 px wide"] and asked == [1]
    assert fig.warnings("v.mp4", 1.0, False, "short", hint=lambda: None) == [
        "v.mp4: only a face in 2 of 10 frames (small or distant faces: try --detector full)"]


def test_a_max_seconds_run_without_out_does_not_speak_of_outputs(run_main, demo_clip, tmp_path, monkeypatch) -> None:
    """`mpt-live --video F --realtime --max-seconds S` without --out writes no file (a status line only): its closing
    line said 'the outputs cover the N frames before it' of outputs that are not there."""
    demo_clip(tmp_path / "clip.mp4")
    monkeypatch.chdir(tmp_path)
    code, lines = run_main("mpt_live.cli", "--video", "clip.mp4", "--realtime", "--max-seconds", "1", "--motion-only")
    said = [ln for ln in lines if "as asked" in ln]
    assert code == 0 and len(said) == 1 and "stopped at --max-seconds 1, as asked: it read the" in said[0], lines
    assert "outputs" not in said[0] and sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "clip.truth.json"]

@pytest.mark.parametrize("stop_at", [1, 2])
def test_a_run_stopped_at_its_first_frames_does_not_say_its_video_has_no_face(faces_dir, tmp_path, monkeypatch,
                                                                               stop_at):
    """Ctrl-C while the faces of a --realtime run's first frame were looked for (the detector's first pass is its
    slowest) said 'no face found' of a video with a face in every frame: the frame was counted read, its look never
    ended. A frame no face was looked for in is not counted against the video, and what frames were looked at before
    a stop are said to be those read before the run stopped, not the video."""
    real_update, calls = FaceTracker.update, {"n": 0}

    def update(self, frame, t):
        calls["n"] += 1
        if calls["n"] == stop_at:  # the stop lands in this frame's look
            raise KeyboardInterrupt
        return real_update(self, frame, t)

    monkeypatch.setattr(FaceTracker, "update", update)
    res = runner.invoke(app, ["--video", str(faces_dir / "videos" / "evm_face_still.mp4"), "--motion-only",
                              "--headless", "--out", str(tmp_path)])
    assert res.exit_code == 130, res.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["frames_read"] == stop_at
    assert summary["frames_with_face"] == stop_at - 1  # a face in the frame looked at, where one was
    assert not [w for w in summary["warnings"] if "no face found" in w or "only a face in" in w], summary["warnings"]


def test_the_face_warning_of_a_stopped_run_is_of_the_frames_it_read() -> None:
    """A stopped run whose frames looked at mostly had no face says so of those frames, not of the video; a frame
    read whose faces were never looked for (the stop came in its look) is not one of them."""
    from mpt_live.run_summary import RunFigures

    fig = RunFigures()
    fig.counts.update(frames_read=3, frames_with_face=0)
    assert fig.warnings("v.mp4", 1.0, False, "full") == ["v.mp4: no face found"]
    assert fig.warnings("v.mp4", 1.0, False, "full", stopped=True) == [
        "v.mp4: no face found in the 3 frames read before the run stopped"]
    fig.counts.update(frames_read=1)
    assert fig.warnings("v.mp4", 1.0, False, "full", stopped=True) == [
        "v.mp4: no face found in the 1 frame read before the run stopped"]
    fig.unlooked = 1
    assert fig.warnings("v.mp4", 1.0, False, "full", stopped=True) == []
    fig.counts.update(frames_read=11, frames_with_face=2)
    assert fig.warnings("v.mp4", 1.0, False, "short", stopped=True) == [
        "v.mp4: only a face in 2 of the 10 frames read before the run stopped (small or distant faces: try "
        "--detector full)"]
