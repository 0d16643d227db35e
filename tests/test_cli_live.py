"""`mpt-live` with a model, end to end through the command line (headless: no display in CI)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mpt_live.cli import app
from mpt_live.runtime import demo_model_path

from tinymodel import tiny_onnx

runner = CliRunner()


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """The bundled demo model when it exists, else a tiny model with the exported interface."""
    p = demo_model_path()
    return p if p.is_file() else tiny_onnx(tmp_path_factory.mktemp("m") / "tiny.onnx")


def test_cli_folder_batch_lists_failures_and_keeps_going(faces_dir, model_path, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bad.mp4").write_bytes(b"\x00" * 100)
    (folder / "good.mp4").symlink_to(faces_dir / "videos" / "pyfeat_single_face.mp4")
    res = runner.invoke(app, ["--video", str(folder), "--model", str(model_path), "--out", str(tmp_path / "o"),
                              "--stride", "8", "--device", "cpu"])
    assert res.exit_code == 1, res.output
    assert "1 of 2 videos failed" in res.output and "bad.mp4" in res.output
    assert (tmp_path / "o" / "good" / "summary.json").is_file()
    assert not (tmp_path / "o" / "bad" / "summary.json").exists()


@pytest.mark.parametrize("args, expected", [
    (["--camera", "97"], "camera 97: could not be opened"),
    (["--video", "rtsp://127.0.0.1:1/none"], "could not open the stream"),
    (["--video", "/nonexistent/x.mp4", "--realtime"], "no such file"),
    (["--camera", "0", "--video", "x.mp4"], "give one source"),
    (["--video", "x.mp4", "--save-video"], "--save-video needs --out"),
    (["--video", "x.mp4", "--model", "/nonexistent/m.onnx", "--out", "o"], "no such file"),
    (["--video", "x.mp4", "--demo-face", "p.jpg"], "--demo-face needs --demo"),
    (["--demo", "--demo-face", "/nonexistent/p.jpg", "--model", "/nonexistent/m.onnx"], "/nonexistent/p.jpg: no such file"),
    (["--camera", "97", "--jobs", "2"], "--jobs: for recorded videos"),  # was ignored: one live run
    # a recording's URL is read like a file, but by this process: 'streams ... are read live' misled
    (["--video", "http://127.0.0.1:1/a.mp4", "--ray", "auto"], "--ray: for recorded videos on disk (a file, folder or "
                                                                "glob); a camera, a URL (a stream or a recording"),
    (["--video", "x.mp4", "--jobs", "2", "--ray", "auto"], "--jobs and --ray: choose one"),  # --jobs was ignored
    (["--demo", "--video", "x.mp4"], "--demo and --video: give one source"),  # the video was ignored
    (["--demo", "--camera", "0"], "--demo and --camera: give one source"),
    # --threads 100000 started 100000 ONNX Runtime threads (17 GB, the machine stalled); --jobs as many processes
    (["--video", "x.mp4", "--threads", "100000"], "--threads 100000: more than 4 threads per core of this machine"),
    (["--video", "x.mp4", "--jobs", "100000"], "--jobs 100000: more than 4 worker processes per core"),
], ids=["camera", "stream", "realtime-missing", "two-sources", "save-video-no-out", "missing-video-before-model",
        "demo-face-without-demo", "demo-face-before-model", "jobs-with-a-camera", "ray-with-a-url", "jobs-and-ray", "demo-and-video",
        "demo-and-camera", "threads-huge", "jobs-huge"])
def test_cli_live_sources_bad_input_one_line(args, expected):
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip() and not ln.startswith("[")]  # ffmpeg's own
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in res.output, res.output


def test_cli_demo_exit_status_says_an_incomplete_run(tmp_path, monkeypatch, demo_clip):
    """mpt-live --demo exits as any run does: 1 when its outputs are incomplete (here: no timeline.png); it
    used to exit 0 whatever the run's status. The default input is the session's copy (conftest's demo_clip: the
    same file and truth render_demo_clip writes), not rendered again."""
    import mpt_live.demo_report as demo_report
    import mpt_live.report as report  # the plot and the page of every run folder: report.write_plot_and_page

    def no_room(*a, **kw):
        raise OSError(28, "No space left on device")

    def rendered(path, face_photo=None):
        assert face_photo is None
        return demo_clip(path)

    monkeypatch.setattr(report, "render_timeline", no_room)
    monkeypatch.setattr(demo_report, "render_demo_clip", rendered)
    res = runner.invoke(app, ["--demo", "--motion-only", "--headless", "--out", str(tmp_path)])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "incomplete" and res.exit_code == 1, (res.exit_code, res.output)
    assert json.loads((tmp_path / "demo_report.json").read_text())["status"] == "incomplete"


@pytest.mark.parametrize("photo", [None, "a_rather_long_folder_name/of_face_photos_kept_here/Tom_Hanks_54745.png"])
def test_the_demo_says_what_it_renders_in_one_line(tmp_path, monkeypatch, photo):
    """--demo-face PHOTO printed 'rendering the default input (synthetic, from \n<PHOTO>) -> ...', broken at 80
    columns and calling the photo's clip the default input (the astronaut's). One whole line now, naming which."""
    import io
    from pathlib import Path

    from rich.console import Console

    import mpt_live.demo_report as demo_report

    class Rendered(Exception):
        pass

    def rendered(*args, **kwargs):
        raise Rendered

    monkeypatch.setattr(demo_report, "render_demo_clip", rendered)
    buf = io.StringIO()
    with pytest.raises(Rendered):
        demo_report.run_demo(tmp_path, None, None, Console(file=buf, width=80), display=False,
                             face_photo=None if photo is None else Path(photo))
    lines = buf.getvalue().splitlines()
    what = "the default input (synthetic, from scikit-image's astronaut portrait)" if photo is None else \
        f"the demo input (synthetic, from {photo})"
    assert lines == [f"rendering {what} -> {tmp_path / 'demo_input.mp4'}"], lines


def test_demo_table_fits_80_columns_uncut():
    """make demo's table (a terminal of 80 columns, or a captured log, which rich lays out at 80) shows every
    cell whole: it used to cut classes and times with an ellipsis ('repress…', '10.18-1…')."""
    from io import StringIO

    from rich.console import Console

    from mpt_live.demo_report import demo_table

    spotted = {"onset_s": 10.2, "apex_s": 10.35, "offset_s": 10.55, "class": "repression"}
    matches = [{"class": "repression", "start": 10.18, "end": 10.6, "amplitude_px": 2.2, "iou": 0.79,
                "spotted": spotted, "model_class": "repression"},
               {"class": "happiness", "start": 2.6, "end": 3.01, "amplitude_px": 2.4, "iou": 0.0, "spotted": None,
                "model_class": "disgust"}]
    for with_model in (True, False):
        buf = StringIO()
        Console(file=buf, width=80, force_terminal=False).print(demo_table(matches, "DEMO MODEL", with_model))
        text = buf.getvalue()
        assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80, text
        for cell in ("repression", "10.18-10.60", "10.20-10.35-10.55", "missed", "0.79", "2.2"):
            assert cell in text, (cell, text)
        assert ("disgust" in text) == with_model


def test_cli_missing_model_is_one_line(faces_dir, tmp_path):
    video = faces_dir / "videos" / "pyfeat_single_face.mp4"
    res = runner.invoke(app, ["--video", str(video), "--model", str(tmp_path / "none.onnx"), "--out", str(tmp_path)])
    assert res.exit_code == 2 and "none.onnx: no such model file" in res.output


@pytest.mark.parametrize("extra", [[], ["--jobs", "2"]], ids=["serial", "jobs"])
def test_cli_second_batch_into_a_held_out_folder_refused_before_the_model_loads(faces_dir, tmp_path, monkeypatch,
                                                                                extra):
    """A batch into an --out that a live batch holds (OUT/.mpt-batch.json) is refused in one line, exit 2, before
    the model loads (it used to load the model, print its line, and only then refuse)."""
    import socket
    import subprocess

    import mpt_live.cli as cli
    from mpt_live.rundir import BATCH_MARKER

    def no_model(*a, **k):
        raise AssertionError("the model was loaded before the refusal")

    monkeypatch.setattr(cli, "_load", no_model)
    folder, out = tmp_path / "in", tmp_path / "o"
    folder.mkdir()
    out.mkdir()
    for name in ("a.mp4", "b.mp4"):
        (folder / name).symlink_to(faces_dir / "videos" / "pyfeat_single_face.mp4")
    other = subprocess.Popen(["sleep", "30"])
    try:
        (out / BATCH_MARKER).write_text(json.dumps({"status": "running", "pid": other.pid,
                                                    "host": socket.gethostname()}))
        res = runner.invoke(app, ["--video", str(folder), "--out", str(out), *extra])
    finally:
        other.kill()
        other.wait()
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and f"another batch (process {other.pid}) is writing there" in lines[0], res.output


def test_cli_ray_refuses_frame_folders_before_the_model_loads(tmp_path, monkeypatch):
    """--ray takes video files only: a folder of frames is refused in one line, exit 2, before the model loads
    (it used to load the model first)."""
    import cv2
    import numpy as np

    import mpt_live.cli as cli

    monkeypatch.setattr(cli, "_load", lambda *a, **k: pytest.fail("the model was loaded before the refusal"))
    for rec in ("r1", "r2"):
        (tmp_path / "in" / rec).mkdir(parents=True)
        for i in range(3):
            cv2.imwrite(str(tmp_path / "in" / rec / f"{i:04d}.jpg"), np.zeros((32, 32, 3), np.uint8))
    res = runner.invoke(app, ["--video", str(tmp_path / "in"), "--fps", "30", "--out", str(tmp_path / "o"),
                              "--ray", "auto"])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "--ray sends each video file to the cluster" in lines[0], res.output


def test_cli_realtime_headless(faces_dir, model_path, tmp_path):
    video = faces_dir / "videos" / "pyfeat_single_face.mp4"
    res = runner.invoke(app, ["--video", str(video), "--realtime", "--model", str(model_path), "--out", str(tmp_path),
                              "--device", "cpu"])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    cap = summary["capture"]
    assert summary["mode"] == "live" and summary["frames_read"] == cap["delivered"] > 0
    # every one of the file's 72 frames was either processed or dropped because the loop was busy (how many
    # of each depends on the machine's load), none twice
    assert cap["delivered"] + cap["dropped"] == 72 and summary["status"] == "complete"


def test_help_states_the_defaults():
    res = runner.invoke(app, ["--help"])
    text = " ".join(res.output.replace("│", " ").split())
    assert res.exit_code == 0
    assert "files: 2)" in text and "demo_model.onnx in mpt_live/assets)" in text and "(default: cores - 1; with --jobs or --ray: 1 per worker)" in text
    assert "pip install 'mpt-live[cluster]')" in text  # not taken for rich markup


def test_cli_ray_address_where_nothing_answers_is_refused_at_once(tmp_path, monkeypatch):
    """--ray HOST:PORT where no cluster listens: one line within seconds, exit 2, before the model loads (Ray
    itself retried for minutes, after the model had loaded). A port that answers is handed on to Ray."""
    import socket
    import time

    import mpt_live.cli as cli
    from mpt_live.ray_batch import check_address

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(cli, "_load", lambda *a, **k: pytest.fail("the model was loaded before the refusal"))
    (tmp_path / "in").mkdir()
    for name in ("a.mp4", "b.mp4"):
        (tmp_path / "in" / name).write_bytes(b"")
    t0 = time.monotonic()
    res = runner.invoke(app, ["--video", str(tmp_path / "in"), "--out", str(tmp_path / "o"),
                              "--ray", f"127.0.0.1:{port}"])
    assert res.exit_code == 2 and time.monotonic() - t0 < 30, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and f"--ray 127.0.0.1:{port}: no Ray cluster answers there" in lines[0], res.output
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        check_address(f"127.0.0.1:{listening.getsockname()[1]}")
        check_address(f"ray://127.0.0.1:{listening.getsockname()[1]}")
    check_address("auto")


def test_cli_ray_auto_with_a_ray_address_where_nothing_answers_is_refused_at_once(tmp_path, monkeypatch):
    """--ray auto with RAY_ADDRESS naming a cluster that is not there: Ray joins that address, and it was not
    checked (Ray retried it for minutes); now the same one line as --ray ADDRESS, naming the variable."""
    import socket

    import mpt_live.cli as cli

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    monkeypatch.setattr(cli, "_load", lambda *a, **k: pytest.fail("the model was loaded before the refusal"))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.mp4").write_bytes(b"")
    res = runner.invoke(app, ["--video", str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--ray", "auto"])
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert res.exit_code == 2 and len(lines) == 1, res.output
    assert f"--ray auto: no Ray cluster answers at 127.0.0.1:{port}, the address in the environment variable " \
           "RAY_ADDRESS" in lines[0], res.output


@pytest.mark.parametrize("name", ["clip[take2].mp4", "a:ok:b.mp4"])
def test_a_file_name_with_brackets_or_colons_is_that_file_and_printed_whole(tmp_path, name):
    """'clip[take2].mp4' was read as a glob (it matched no file, so the file itself was never tried) and the error
    printed through rich markup lost '[take2]'; ':ok:' was printed as an emoji. Now the file is opened as named and
    its name printed as it is."""
    video = tmp_path / name
    video.write_text("not a video\n")
    res = runner.invoke(app, ["--video", str(video), "--out", str(tmp_path / "o"), "--headless"])
    assert res.exit_code == 2, res.output
    assert " ".join(res.output.split()) == (f"error: {video}: not a readable video: FFmpeg does not recognise its "
                                            "contents as any video format"), res.output


@pytest.mark.parametrize("address, env, message", [
    ("nonsense", None, "--ray nonsense: is not auto, HOST:PORT or ray://HOST:PORT"),
    ("localhost:abc", None, "--ray localhost:abc: is not auto, HOST:PORT or ray://HOST:PORT"),
    ("auto", "cluster-head", "--ray auto: RAY_ADDRESS 'cluster-head' is not auto, HOST:PORT or ray://HOST:PORT"),
])
def test_cli_ray_address_that_is_no_address_is_one_line_before_ray_starts(tmp_path, monkeypatch, address, env,
                                                                           message):
    """--ray nonsense, or HOST:abc, reached ray.init: Ray's INFO line, then its ValueError ('Invalid address
    format', 'Unable to parse port number'); now refused before Ray is touched."""
    import mpt_live.cli as cli
    import mpt_live.ray_batch as rb

    if env is not None:
        monkeypatch.setenv("RAY_ADDRESS", env)
    monkeypatch.setattr(cli, "_load", lambda *a, **k: pytest.fail("the model was loaded before the refusal"))
    monkeypatch.setattr(rb, "_ray", lambda: pytest.fail("Ray was started before the refusal"))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.mp4").write_bytes(b"")
    res = runner.invoke(app, ["--video", str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--ray", address])
    assert res.exit_code == 2 and [ln for ln in res.output.splitlines() if ln.strip()] == [f"error: {message}"], \
        res.output


def _rows(path):
    import csv

    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_max_seconds_of_a_file_stops_by_its_frame_times_whatever_the_speed(faces_dir, tmp_path):
    """--max-seconds on a file counts the frames' own times: a run slowed down per frame writes the same rows (and
    the same frames as a run without the limit, up to it); complete, with the stop said in summary.json."""
    import time

    from mpt_live.job import run_job
    from mpt_live.session import SessionConfig
    from mpt_live.sources import VideoFile

    video = faces_dir / "videos" / "liveportrait_d19_glasses.mp4"  # 250 frames at 30 fps
    runs = {}
    for name, limit, slow in (("full", None, False), ("fast", 2.0, False), ("slow", 2.0, True)):
        with VideoFile(video) as src:
            summary = run_job(src, None, SessionConfig(max_seconds=limit), tmp_path / name,
                              progress=(lambda n, total: time.sleep(0.01)) if slow else None)
        runs[name] = (summary, _rows(tmp_path / name / "predictions.csv"))
    fast, slow, full = runs["fast"], runs["slow"], runs["full"]
    assert fast[1] == slow[1] and fast[0]["frames_read"] == slow[0]["frames_read"] == 60  # 0 .. 1.967 s
    assert max(float(r["time_s"]) for r in fast[1]) < 2.0
    for summary, _ in (fast, slow):
        assert summary["status"] == "complete" and summary["max_seconds_reached"] is True
        assert summary["max_seconds"] == 2.0 and not summary["interrupted"] and summary["problems"] == []
    assert full[0]["max_seconds_reached"] is False and full[0]["frames_read"] == 250 and full[0]["max_seconds"] is None
    keys = ("time_s", "frame", "face_id", "x", "y", "w", "h")
    assert [[r[k] for k in keys] for r in fast[1]] == [[r[k] for k in keys] for r in full[1][:len(fast[1])]]


def test_cli_max_seconds_exit_0_with_a_line_and_per_video_in_a_jobs_batch(faces_dir, tmp_path):
    """A batch applies --max-seconds to each video (--jobs too, the same rows as serial); a rerun with another
    limit redoes the videos instead of skipping them as done."""
    src = tmp_path / "in"
    src.mkdir()
    for name in ("liveportrait_d19_glasses.mp4", "pyfeat_single_face.mp4"):
        (src / name).symlink_to(faces_dir / "videos" / name)
    common = ["--video", str(src), "--motion-only", "--headless", "--max-seconds", "1.5"]
    serial = runner.invoke(app, [*common, "--out", str(tmp_path / "serial")])
    assert serial.exit_code == 0, serial.output
    assert serial.output.count("stopped at --max-seconds 1.5, as asked") == 2, serial.output
    jobs = runner.invoke(app, [*common, "--out", str(tmp_path / "jobs"), "--jobs", "1"])
    assert jobs.exit_code == 0, jobs.output
    for stem in ("liveportrait_d19_glasses", "pyfeat_single_face"):
        a, b = (_rows(tmp_path / d / stem / "predictions.csv") for d in ("serial", "jobs"))
        assert a == b and a and max(float(r["time_s"]) for r in a) < 1.5
        assert json.loads((tmp_path / "jobs" / stem / "summary.json").read_text())["max_seconds_reached"] is True
    again = runner.invoke(app, [*common[:-1], "1", "--out", str(tmp_path / "jobs"), "--jobs", "1"])
    assert again.exit_code == 0 and "already done" not in again.output, again.output
    assert max(float(r["time_s"]) for r in _rows(tmp_path / "jobs" / "pyfeat_single_face" / "predictions.csv")) < 1.0


def test_cli_max_seconds_of_a_realtime_run_is_wall_clock_time(faces_dir, tmp_path):
    video = faces_dir / "videos" / "liveportrait_d19_glasses.mp4"  # 8.3 s played at its pace
    res = runner.invoke(app, ["--video", str(video), "--realtime", "--motion-only", "--out", str(tmp_path),
                              "--max-seconds", "1"])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["max_seconds_reached"] is True
    assert summary["capture"]["delivered"] + summary["capture"]["dropped"] < 250


def test_cli_start_keeps_the_files_frame_numbers_and_times(faces_dir, tmp_path):
    video = faces_dir / "videos" / "liveportrait_d19_glasses.mp4"
    res = runner.invoke(app, ["--video", str(video), "--motion-only", "--headless", "--out", str(tmp_path),
                              "--start", "0:01.5", "--max-seconds", "3", "--save-video"])
    assert res.exit_code == 0, res.output
    rows = _rows(tmp_path / "predictions.csv")
    assert rows[0]["frame"] == "45" and float(rows[0]["time_s"]) == 1.5
    assert all(abs(float(r["time_s"]) - int(r["frame"]) / 30) < 1e-3 for r in rows)
    assert max(float(r["time_s"]) for r in rows) < 4.5
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["start_s"] == 1.5 and summary["frames_skipped"] == 45 and summary["frames_read"] == 90
    # the page covers 1.5-4.5 s: the face is in every frame, not said to be missing before --start or after the limit
    # (the frames read ahead past it); summary.json's source_seconds ends at the limit
    assert summary["source_seconds"] == 4.5 and "<title>face 0 not in the frame" not in (tmp_path / "report.html").read_text()
    import cv2

    cap = cv2.VideoCapture(str(tmp_path / "annotated.mp4"))  # the frames analysed, not padded from 0 s
    n = 0
    while cap.read()[0]:
        n += 1
    assert 85 <= n <= 91, n


def test_cli_start_beyond_the_end_or_with_several_videos_is_one_line(faces_dir, tmp_path):
    video = faces_dir / "videos" / "liveportrait_d19_glasses.mp4"
    res = runner.invoke(app, ["--video", str(video), "--motion-only", "--out", str(tmp_path / "o"), "--start", "1:00"])
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and "beyond the last frame" in lines[0] and "8.33 s" in lines[0], res.output
    assert not (tmp_path / "o").exists()
    # inside the last frame's period (250 frames at 30 fps: the last at 8.30 s, the header's end 8.333 s): refused
    # in one line too; it was a failed run with a folder written ('no frame at or after the start')
    res = runner.invoke(app, ["--video", str(video), "--motion-only", "--out", str(tmp_path / "o"), "--start", "8.32"])
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and "(at 8.30 s;" in lines[0], res.output
    assert not (tmp_path / "o").exists()
    res = runner.invoke(app, ["--video", str(faces_dir / "videos"), "--motion-only", "--out", str(tmp_path / "o"),
                              "--start", "5"])
    lines = [ln for ln in res.output.splitlines() if ln.strip() and not ln.startswith("note:")]
    assert res.exit_code == 2 and len(lines) == 1 and "--start: for one video" in lines[0], res.output


def test_start_past_the_last_frame_of_a_source_that_gave_no_length_fails_the_run_saying_so():
    """A header without a frame count is not checked before the run: the session says no frame came at or after
    the start (status failed), instead of a complete run with no rows."""
    import numpy as np

    from mpt_live.session import Session, SessionConfig
    from mpt_live.sources import Frame

    frames = [Frame(i, i / 30, np.zeros((120, 160, 3), np.uint8)) for i in range(20)]
    with Session(frames, None, SessionConfig(start_s=5.0)) as s:
        rows = list(s)
    assert rows == [] and s.skipped == 20 and s.figures.counts["frames_read"] == 0
    assert s.error == "no frame at or after the start (5 s): the video ends before it"
    with Session(frames, None, SessionConfig(start_s=0.3)) as s:  # 0.3 s is frame 9's time: from there on
        rows = list(s)
    assert s.skipped == 9 and s.figures.counts["frames_read"] == 11 and rows[0].frame == 9 and s.error is None


def test_cli_resume_of_another_file_or_other_settings_is_refused_before_the_model_loads(tmp_path, monkeypatch,
                                                                                       model_path):
    """--resume with another file, another model file (a motion-only run resumed with a model) or other settings:
    one line, exit 2, and the model is never loaded (it was, for seconds, before the refusal). The same settings
    still go on (motion-only: nothing to load)."""
    import faultkit as fk
    import mpt_live.cli as cli

    video, other = fk.write_video(tmp_path / "v.mp4", 90, fps=30.0), fk.write_video(tmp_path / "w.mp4", 60, fps=30.0)
    out = tmp_path / "o"
    res = runner.invoke(app, ["--video", str(video), "--motion-only", "--headless", "--out", str(out),
                              "--max-seconds", "1"])
    assert res.exit_code == 0, res.output
    loaded: list[tuple] = []
    monkeypatch.setattr(cli, "_load", lambda *a, **k: loaded.append(a) or pytest.fail("loaded before the refusal"))
    for args, said in ((["--video", str(other), "--motion-only"], f"is of {video}, not {other}"),
                       (["--video", str(video), "--model", str(model_path)], "another model file (none, now ["),
                       (["--video", str(video), "--model", str(tmp_path / "nope.onnx")],
                        "nope.onnx: no such model file"),  # a mistyped --model: not 'another model file'
                       (["--video", str(video), "--motion-only", "--spot-threshold", "5"],
                        "another spot threshold (4.0, now 5.0)"),
                       (["--video", str(video), "--motion-only", "--stride", "3"], "another stride (2, now 3)"),
                       (["--video", str(video), "--motion-only", "--max-faces", "1"], "another max faces (2, now 1)")):
        res = runner.invoke(app, [*args, "--headless", "--out", str(out), "--resume"])
        lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
        assert res.exit_code == 2 and len(lines) == 1 and said in lines[0], (args, res.output)
    assert not loaded and json.loads((out / "summary.json").read_text())["status"] == "complete"
    res = runner.invoke(app, ["--video", str(video), "--motion-only", "--headless", "--out", str(out), "--resume"])
    assert res.exit_code == 0 and "--resume: going on after frame" in res.output, res.output


def test_a_folder_of_one_video_writes_into_out_itself_and_says_so(faces_dir, tmp_path):
    """`--video FOLDER` holding one video wrote straight into OUT, not OUT/<name>/ as a batch does, without a word,
    where the README's usage line said 'one output folder each'. It still does (a --resume of such a run reads OUT),
    and a note now says so; a folder of two gives each its folder, and a video given as a file has no note."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "take.mp4").symlink_to(faces_dir / "videos" / "pyfeat_single_face.mp4")
    common = ["--motion-only", "--headless", "--max-seconds", "1", "--stride", "8"]
    res = runner.invoke(app, ["--video", str(folder), "--out", str(tmp_path / "o"), *common])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert f"note: {folder}: one recording (take.mp4), so its outputs go to {tmp_path / 'o'} itself" in text, text
    assert (tmp_path / "o" / "summary.json").is_file() and not (tmp_path / "o" / "take").exists()
    res = runner.invoke(app, ["--video", str(folder / "take.mp4"), "--out", str(tmp_path / "f"), *common])
    assert res.exit_code == 0 and "one recording" not in res.output, res.output
    (folder / "again.mp4").symlink_to(faces_dir / "videos" / "pyfeat_single_face.mp4")
    res = runner.invoke(app, ["--video", str(folder), "--out", str(tmp_path / "b"), *common])
    assert res.exit_code == 0 and "one recording" not in res.output, res.output
    assert all((tmp_path / "b" / name / "summary.json").is_file() for name in ("take", "again"))
