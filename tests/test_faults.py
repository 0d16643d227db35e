"""The fault matrix (issue 13): inputs a hostile user would give, made here, and what must come of them.

Every case ends in a clear one-line error or warning that names the input, a non-zero exit where the
outputs are not what was asked, and outputs that stay valid: complete CSV rows only, summary.json on every
exit Python can catch (with its status), no stale files of an earlier run, no temporary files left.
The command line runs in a real subprocess wherever a crash, a hang or a signal is part of the case.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import faultkit as fk
from mpt_live.capture import CaptureReader
from mpt_live.errors import InputError
from mpt_live.review import needs_copy
from mpt_live.runtime import demo_model_path
from mpt_live.sources import VideoFile
from mpt_live.spotting import EVENT_COLUMNS

from tinymodel import tiny_onnx

ROOT = Path(__file__).resolve().parents[1]


# -- helpers --------------------------------------------------------------------------------------------
def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """``mpt-live ARGS`` in a subprocess (a crash or a hang fails the test, never the suite)."""
    return subprocess.run([sys.executable, "-m", "mpt_live.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, stdin=subprocess.DEVNULL)


def our_lines(text: str) -> list[str]:
    """What mpt-live printed, without FFmpeg's and OpenCV's own lines ('[h264 @ ...]', '[ WARN:...')."""
    return [ln for ln in text.strip().splitlines() if ln.strip() and not ln.lstrip().startswith("[")]


def start(*args: str, **popen: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mpt_live.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, stdin=subprocess.DEVNULL, **popen)


def wait_for_rows(proc: subprocess.Popen, csv_path: Path, rows: int, timeout: float = 300) -> None:
    """Until predictions.csv has ``rows`` rows (the run is under way)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the run ended early (exit {proc.returncode}): {proc.communicate()[1][-2000:]}")
        if csv_path.is_file() and csv_path.read_bytes().count(b"\n") > rows:
            return
        time.sleep(0.05)
    proc.kill()
    pytest.fail("the run wrote no rows in time")


def csv_rows(path: Path) -> list[list[str]]:
    """All rows of a CSV, checked to be complete: each ends with a newline and has the header's width."""
    data = path.read_bytes()
    assert data.endswith(b"\r\n"), f"{path.name} ends in the middle of a row: {data[-60:]!r}"
    rows = list(csv.reader(data.decode().splitlines()))
    assert all(len(r) == len(rows[0]) for r in rows), "a row with the wrong number of fields"
    return rows


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def event_keys(rows: list[list[str]]) -> list[tuple[int, int]]:
    """(face, onset_frame) of each data row of events.csv (checked: its header is the events' columns)."""
    assert rows[0] == list(EVENT_COLUMNS)
    face, onset = rows[0].index("face"), rows[0].index("onset_frame")
    return sorted((int(r[face]), int(r[onset])) for r in rows[1:])


def face_ids(rows: list[list[str]]) -> set[str]:
    """The face IDs of predictions.csv's data rows."""
    col = rows[0].index("face_id")
    return {r[col] for r in rows[1:]}


def no_temporary_files(out: Path) -> bool:
    return not [p.name for p in out.iterdir() if ".tmp" in p.name]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    p = demo_model_path()
    return p if p.is_file() else tiny_onnx(tmp_path_factory.mktemp("m") / "tiny.onnx")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """3000 small frames (no face): a run long enough to be signalled mid-way, however fast the machine."""
    return fk.write_video(tmp_path_factory.mktemp("v") / "clip.mp4", 3000, fps=30.0)


@pytest.fixture(scope="module")
def two_faces(faces_dir, tmp_path_factory, demo_clip) -> Path:
    """12 s of two faces side by side: the default input (four injected movements) and a real expressive
    person. Motion-only, each face has events (seven in all), written into events.csv from about 8 s on."""
    from train.compose import side_by_side

    tmp = tmp_path_factory.mktemp("two")
    demo_clip(tmp / "demo.mp4")
    side_by_side([tmp / "demo.mp4", faces_dir / "videos" / "liveportrait_d3_expressive.mp4"], tmp / "two.mp4",
                 seconds=12.0)
    return tmp / "two.mp4"


# -- bad options and sources: one line, before the model loads ---------------------------------------
@pytest.mark.parametrize("make_args, code, expected", [
    (lambda d, v: ["--camera", "-1", "--out", str(d / "o")], 2, "camera -1: not a camera index"),
    (lambda d, v: ["--video", str(v), "--out", str(fk.touch(d / "afile"))], 2, "afile: is a file, expected a folder"),
    (lambda d, v: ["--video", str(v), "--out", "/proc/mpt-live-x"], 2, "--out /proc/mpt-live-x: cannot create the folder"),
    (lambda d, v: ["--video", str(v), "--out", str(d / "o"), "--spot-threshold", "nan"], 2,
     "--spot-threshold nan: expected a positive number"),
    (lambda d, v: ["--video", str(v), "--out", str(d / "o"), "--spot-threshold", "-3"], 2,
     "--spot-threshold -3.0: expected a positive number"),
    (lambda d, v: ["--video", str(v), "--out", str(d / "o.png"), "--inspect", "nan"], 2,
     "--inspect nan: expected a time in seconds"),
    (lambda d, v: ["--video", str(v.parent), "--out", str(d / "o.png"), "--inspect", "1"], 2,
     "--inspect takes one video (or one folder of frames), not a folder of videos"),
], ids=["camera-minus-1", "out-is-a-file", "out-not-creatable", "threshold-nan", "threshold-negative", "inspect-nan",
        "inspect-a-folder-of-videos"])
def test_bad_option_is_one_line_before_the_model_loads(tmp_path, clip, model_path, make_args, code, expected, run_main):
    args = [*make_args(tmp_path, clip), "--model", str(model_path), "--device", "cpu", "--headless"]
    if "--camera" in args:  # a real process: cv2.VideoCapture(-1) was a segfault (status 139)
        res = cli(*args)
        status, printed = res.returncode, res.stderr + res.stdout
    else:  # an option refused before any work: mpt-live's main() here tells as much as a process would
        status, printed = run_main("mpt_live.cli", *args)
        printed = "\n".join(printed)
    lines = our_lines(printed)
    assert status == code, printed
    assert len(lines) == 1 and expected in lines[0], lines
    assert "ONNX Runtime" not in printed  # the model's description line: it never loaded


@pytest.mark.parametrize("module, make_args, expected", [
    ("train.eval_cli", lambda d: ["spot", "--runs", str(d), "--truth", str(d / "a.csv"), "--out", str(d)],
     "is a folder, expected a file name"),
    ("train.eval_cli", lambda d: ["spot", "--runs", str(d), "--truth", str(d / "a.csv"), "--out", "/proc/x.json"],
     "its folder /proc: cannot write into this folder"),
    ("train.synth_cli", lambda d: ["--faces", str(d), "--out", str(fk.touch(d / "afile"))],
     "afile: is a file, expected a folder"),
    ("train.synth_cli", lambda d: ["--faces", str(d), "--out", "/proc/synth"], "/proc/synth: cannot create"),
    ("train.cli", lambda d: ["--dataset", "casme2", "--data", str(d), "--out", "/proc/t"], "/proc/t: cannot create"),
    ("train.cli", lambda d: ["--dataset", "casme2", "--data", str(d), "--out", str(d / "o"), "--lr", "-1"],
     "--lr -1: expected a positive learning rate"),
    ("export.cli", lambda d: [str(d / "model.pt"), "--out", str(d)], "is a folder, expected a file name"),
    ("export.cli", lambda d: [str(d / "model.pt"), "--out", "/proc/m.onnx"], "cannot write into this folder"),
], ids=["eval-out-folder", "eval-out-unwritable", "synth-out-file", "synth-out-uncreatable", "train-out-uncreatable",
        "train-lr-negative", "export-out-folder", "export-out-unwritable"])
def test_the_other_tools_reject_a_bad_out_in_one_line(tmp_path, module, make_args, expected, run_main):
    """mpt-eval, mpt-synth and mpt-train: an --out that cannot be written is one line and exit 2, before any work
    (it used to be a traceback at the end of mpt-eval's scoring, and at the start of the others). Each tool's
    main() in this process: a traceback would be an exception out of it, not exit 2."""
    (tmp_path / "a.csv").write_text("video,onset,apex,offset,fps,type,label,aus\n")
    status, lines = run_main(module, *make_args(tmp_path))
    assert status == 2 and not any("Traceback" in ln for ln in lines), lines
    assert len(lines) == 1 and "error: --" in lines[0] and expected in lines[0], lines


# -- signals: the summary and the plot are written, the exit code says which signal ------------------
@pytest.mark.parametrize("signals, code", [
    ([signal.SIGTERM], 143),
    ([signal.SIGHUP], 129),
    ([signal.SIGINT, signal.SIGINT], 130),  # Ctrl-C twice within 0.1 s
], ids=["SIGTERM", "SIGHUP", "double-Ctrl-C"])
def test_signal_keeps_summary_and_timeline(tmp_path, clip, signals, code):
    out = tmp_path / "o"
    proc = start("--video", str(clip), "--motion-only", "--headless", "--out", str(out))
    wait_for_rows(proc, out / "predictions.csv", 3)
    for i, sig in enumerate(signals):
        if i:
            time.sleep(0.1)
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=300)
    name = signal.Signals(signals[0]).name
    assert proc.returncode == code, err
    assert f"interrupted ({name}): everything written so far is kept" in err
    s = summary(out)
    assert s["status"] == "interrupted" and s["stopped_by"] == name and s["interrupted"] is True
    assert (out / "timeline.png").is_file() and s["outputs"]["timeline"] == "timeline.png"
    assert len(csv_rows(out / "predictions.csv")) - 1 >= 3
    assert no_temporary_files(out)


SLOW_LOAD = """import sys, time
from pathlib import Path
import mpt_live.runtime as runtime

FLAG = Path(sys.argv[1])

def slow_load(*args, **kwargs):  # a model that takes long to load, and says when it has begun
    FLAG.write_text("loading")
    time.sleep(120)

runtime.load_model = slow_load
sys.argv = ["mpt-live", *sys.argv[2:]]
from mpt_live.cli import main
main()
"""


@pytest.mark.parametrize("case", ["new", "nested", "earlier-run", "batch"])
def test_a_run_stopped_while_the_model_loads_leaves_no_empty_out_folder(tmp_path, clip, case):
    """Ctrl-C while the model loads (seconds for a large one) left the --out folder that --out's check had made
    before it, empty (mpt-eval spot: 'no events.csv found'). The folders the run made are removed, as if it had never
    been started (mpt-eval spot: no such run folder; a rerun runs it); a folder that held anything before, an earlier
    run's outputs, is left as it was."""
    out = tmp_path / "runs" / "o" if case == "nested" else tmp_path / "o"
    video = clip
    if case == "earlier-run":
        out.mkdir()
        (out / "summary.json").write_text('{"status": "complete"}')
    if case == "batch":
        video = tmp_path / "videos"
        video.mkdir()
        for name in ("a.mp4", "b.mp4"):
            os.symlink(clip, video / name)
    flag = tmp_path / "loading"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_LOAD, str(flag), "--video", str(video), "--headless",
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not flag.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert flag.exists(), proc.communicate(timeout=60)[1][-2000:] if proc.poll() is not None else "no load began"
    assert out.is_dir()  # made by --out's check, before the model loads
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted (SIGINT)" in err and "Traceback" not in err, err
    # not 'everything written so far is kept': nothing was (it read as if a run's outputs were there to look at)
    assert "before the run began: nothing was written" in err, err
    assert "written so far" not in err, err
    if case == "earlier-run":
        assert [p.name for p in out.iterdir()] == ["summary.json"]
        assert (out / "summary.json").read_text() == '{"status": "complete"}'
    else:
        assert not out.exists() and not (tmp_path / "runs").exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["loading"] + (["videos"] if case == "batch" else [])


def _jobs_batch_under_way(tmp_path, clip, **popen):
    """``mpt-live --video DIR --jobs 2`` on two copies of ``clip`` (a.mp4, b.mp4), once both workers have written
    rows: (the process, its --out)."""
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("a.mp4", "b.mp4"):
        os.symlink(clip, folder / name)
    out = tmp_path / "o"
    proc = start("--video", str(folder), "--motion-only", "--headless", "--out", str(out), "--jobs", "2",
                 "--threads", "1", **popen)
    for name in ("a", "b"):
        wait_for_rows(proc, out / name / "predictions.csv", 3)
    return proc, out


@pytest.mark.parametrize("group", [0, 1, 2], ids=["SIGTERM-to-the-parent", "Ctrl-C-to-the-group", "Ctrl-C-twice"])
def test_a_stopped_jobs_batch_leaves_each_video_interrupted_not_running(tmp_path, clip, group):
    """--jobs 2 stopped while both workers have a video under way: each video's summary says
    ``interrupted`` (with its plot and rows), as a serial run's would, never the start-up ``running``."""
    proc, out = _jobs_batch_under_way(tmp_path, clip, start_new_session=True)
    for k in range(group):  # a terminal's Ctrl-C goes to every process of the group (the README allows two)
        if k:
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)
    if not group:
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == (130 if group else 143), err
    for name in ("a", "b"):
        s = summary(out / name)
        assert s["status"] == "interrupted" and s["interrupted"] is True, (name, s["status"])
        assert s["stopped_by"] == ("SIGINT" if group else "SIGTERM") and s["frames_read"] < 3000  # the user's
        assert (out / name / "timeline.png").is_file() and no_temporary_files(out / name)


def test_a_jobs_batch_killed_outright_leaves_no_worker_running_on(tmp_path, clip):
    """SIGKILL (or the out-of-memory killer) of a --jobs batch's own process sends its workers nothing: each went
    on alone to the end of its video (and on through the queue), outside the user's reach, and a rerun meanwhile
    found the folder in use. Each now stops its video as on SIGTERM: status interrupted, which a rerun redoes."""
    proc, out = _jobs_batch_under_way(tmp_path, clip)
    workers = [summary(out / name)["pid"] for name in ("a", "b")]  # the running markers name their processes
    proc.kill()
    proc.communicate(timeout=60)

    def alive(pid: int) -> bool:  # a zombie (exited, not reaped by a container's init) counts as gone
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (any(map(alive, workers))
                                           or any(summary(out / n)["status"] == "running" for n in ("a", "b"))):
        time.sleep(0.1)
    assert not any(map(alive, workers)), "a worker process runs on"
    for name in ("a", "b"):
        s = summary(out / name)
        assert s["status"] == "interrupted" and s["frames_read"] < 3000, (name, s["status"], s.get("frames_read"))
        assert (out / name / "timeline.png").is_file() and no_temporary_files(out / name)


def test_a_stop_signal_inside_a_finaliser_is_held_not_lost():
    """A signal whose handler runs inside a ``__del__`` (mediapipe's Image has one, run on every frame) would
    raise there, where Python prints "Exception ignored" and carries on: the run did not stop. It is held
    and raised by the frame loop's ``raise_held``; one outside a finaliser is raised at once, as before."""
    import gc

    from mpt_live.interrupts import Stopped, raise_held, stop_signals

    class Finalised:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)  # delivered while this finaliser runs

    with stop_signals():
        raise_held()  # nothing held: no-op
        Finalised()
        gc.collect()
        with pytest.raises(Stopped) as held:
            raise_held()
        assert held.value.name == "SIGTERM"
    with stop_signals():
        with pytest.raises(Stopped):
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(1)


def test_after_a_stop_a_command_ignores_stop_signals_until_it_exits():
    """``stop_signals(until_exit=True)``, as the command line enters it: after a stop signal ended the block, a
    second one (a double Ctrl-C landing while the process exits) is ignored, not handed to the handler that was
    there before (Python's own raised KeyboardInterrupt in the exit, and a handler set from Python is reset to the
    default action as the interpreter finalises: the process ended by SIGINT instead of with 130); without a stop
    the handlers are given back."""
    from mpt_live.interrupts import Stopped, stop_signals

    got: list[int] = []
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    signal.signal(signal.SIGINT, lambda signum, frame: got.append(signum))
    recorder = signal.getsignal(signal.SIGINT)
    try:
        with stop_signals(until_exit=True):
            pass
        assert signal.getsignal(signal.SIGINT) is recorder  # nothing stopped it: given back
        with pytest.raises(Stopped):
            with stop_signals(until_exit=True):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1)
        os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C, after the block
        time.sleep(0.2)
        assert got == [] and signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # ignored, not handed on
    finally:
        with stop_signals():  # a fresh state
            pass
        for s, h in saved.items():
            signal.signal(s, h)


def test_a_second_run_into_a_folder_in_use_is_refused(tmp_path, clip, run_main):
    """Two runs into one --out would mix their rows: the second is refused in one line while the first is
    alive; a marker left by a run that died (no such process) does not block the folder. (The second run is
    mpt-live's main() in this process: a refusal before any work, no crash or signal; the first is a real one.)"""
    import socket

    out = tmp_path / "o"
    first = start("--video", str(clip), "--motion-only", "--headless", "--out", str(out))
    wait_for_rows(first, out / "predictions.csv", 3)
    status, printed = run_main("mpt_live.cli", "--video", str(clip), "--motion-only", "--headless", "--out", str(out))
    lines = our_lines("\n".join(printed))
    assert status == 2 and len(lines) == 1, lines
    assert f"another run (process {first.pid}) is writing there" in lines[0]
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=300)
    assert summary(out)["status"] == "interrupted"  # the first run's own summary, not overwritten
    short = fk.write_video(tmp_path / "short.mp4", 20, fps=30.0)
    dead = {"status": "running", "pid": 2 ** 22 + 12345, "host": socket.gethostname()}  # above pid_max
    (out / "summary.json").write_text(json.dumps(dead))
    status, printed = run_main("mpt_live.cli", "--video", str(short), "--motion-only", "--headless", "--out", str(out))
    assert status == 0, printed
    assert summary(out)["status"] == "complete"


def test_sigterm_with_two_faces_keeps_every_output(tmp_path, two_faces):
    """Stopped mid-video: both faces' rows, the events closed by the stop in events.csv (as in the summary),
    the plot and the review page."""
    out = tmp_path / "o"
    proc = start("--video", str(two_faces), "--motion-only", "--headless", "--out", str(out))
    wait_for_rows(proc, out / "predictions.csv", 60)  # about 7 s into the 12 s video
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, err
    s = summary(out)
    assert s["status"] == "interrupted" and s["stopped_by"] == "SIGTERM" and s["frames_read"] < 360
    assert face_ids(csv_rows(out / "predictions.csv")) == {"0", "1"}
    assert [f["face_id"] for f in s["faces"]] == [0, 1]
    events = event_keys(csv_rows(out / "events.csv"))
    assert events and events == sorted((e["face"], e["onset_frame"]) for e in s["events"])
    assert s["outputs"]["events"] == "events.csv"
    for name in ("timeline", "report"):
        assert s["outputs"][name] and (out / s["outputs"][name]).is_file()
    assert no_temporary_files(out)


def test_killed_run_in_an_old_folder_leaves_no_stale_files_and_a_running_marker(tmp_path, clip):
    """SIGKILL cannot be caught: what it leaves must still say 'incomplete' and hold nothing of the old run."""
    out = tmp_path / "o"
    out.mkdir()
    (out / "summary.json").write_text(json.dumps({"status": "complete", "source": "old.mp4"}))
    for name in ("timeline.png", "annotated.mp4", "events.csv", "report.html", "review.webm",
                 ".summary.123.456.tmp.json"):
        (out / name).write_bytes(b"old")
    (out / "notes.txt").write_text("the user's own file")
    proc = start("--video", str(clip), "--motion-only", "--headless", "--out", str(out))
    wait_for_rows(proc, out / "predictions.csv", 3)
    proc.kill()
    proc.communicate(timeout=60)
    s = summary(out)
    assert s["status"] == "running" and s["source"] == str(clip)  # the marker: this run never finished
    # and review.webm, this run's copy of a video browsers cannot play, written under its name as the run reads
    # (it may not have begun when the kill came); never a temporary file, never the old run's
    assert needs_copy(clip)
    names = sorted(p.name for p in out.iterdir())
    assert [n for n in names if n != "review.webm"] == ["events.csv", "notes.txt", "predictions.csv", "summary.json"]
    assert "review.webm" not in names or (out / "review.webm").read_bytes() != b"old"
    assert len(csv_rows(out / "predictions.csv")) > 3
    assert csv_rows(out / "events.csv") == [list(EVENT_COLUMNS)]  # this run's (no face: no event), not the old


KILLED_WRITER = """
import sys, time
from pathlib import Path
sys.path[:0] = [{root!r}, {tests!r}]
import faultkit as fk
from mpt_live.review import ReviewSink
from mpt_live.writers import VideoSink
sink = {make}
for i, img in enumerate(fk.frames({n}, (64, 48))):
    sink.write(img, i / 30)
print("written", sink.frames, flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("name, make", [
    ("review.webm", "ReviewSink(Path({out!r}), 30.0)"),
    ("annotated.mp4", "VideoSink(Path({out!r}) / 'annotated.mp4', 30.0)"),
])
def test_a_video_killed_outright_plays_up_to_its_last_second(tmp_path, name, make):
    """review.webm and annotated.mp4 are written as the run reads: SIGKILL (or power, or the out-of-memory
    killer) leaves them as they were. A 60 s interview killed after 25 s left a review.webm of 0 bytes (FFmpeg's
    Matroska muxer held its clusters in memory) and an annotated.mp4 without the index a plain MP4 gets at its
    end, which nothing opens; now all but about the last second plays."""
    import av

    from mpt_live.review import CLUSTER_S, vp9_available

    if name == "review.webm" and not vp9_available():
        pytest.skip("PyAV has no VP9 encoder here (the copy is OpenCV's VP8)")
    n, fps = 120, 30
    code = KILLED_WRITER.format(root=str(ROOT), tests=str(ROOT / "tests"), n=n, make=make.format(out=str(tmp_path)))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().split() == ["written", str(n)]
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    with av.open(str(tmp_path / name)) as box:
        times = [f.time for f in box.decode(video=0)]
    assert len(times) >= n - fps * (CLUSTER_S + 1), len(times)  # a cluster (a fragment) a second
    assert times == pytest.approx([i / fps for i in range(len(times))], abs=0.0015)  # the first frames, in order
    cap = cv2.VideoCapture(str(tmp_path / name))
    assert cap.read()[0]  # OpenCV's FFmpeg opens it too
    cap.release()


def test_finished_run_removes_outputs_it_did_not_write_this_time(tmp_path, clip, run_main):
    out = tmp_path / "o"
    out.mkdir()
    (out / "annotated.mp4").write_bytes(b"from an earlier --save-video run")
    short = fk.write_video(tmp_path / "short.mp4", 20)
    status, printed = run_main("mpt_live.cli", "--video", str(short), "--motion-only", "--headless", "--out", str(out))
    assert status == 0, printed
    assert not (out / "annotated.mp4").exists() and summary(out)["status"] == "complete"


# -- a full disk: complete rows only, the summary written anyway, the exit says so -------------------
@pytest.fixture
def tmpfs(tmp_path):
    """``tmpfs(kb)``: a folder on a tmpfs of that size (mounting needs root: skipped otherwise)."""
    mounted: list[Path] = []

    def make(kb: int) -> Path:
        d = tmp_path / f"tmpfs{kb}"
        d.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kb}k", "tmpfs", str(d)], capture_output=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({r.stderr.decode().strip() or 'not root'})")
        mounted.append(d)
        return d

    yield make
    for d in mounted:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


def test_disk_full_mid_csv(tmp_path, tmpfs):
    """4 KB left after the run's marker and events.csv's header: predictions.csv fills the disk mid-run."""
    out = tmpfs(12) / "o"
    video = fk.write_video(tmp_path / "v.mp4", 500)
    res = cli("--video", str(video), "--motion-only", "--headless", "--stride", "1", "--out", str(out))
    assert res.returncode == 1, res.stderr
    lines = [ln for ln in our_lines(res.stderr) if ln.startswith("error:")]
    assert len(lines) == 1 and "predictions.csv: could not write row" in lines[0] and "No space left" in lines[0]
    rows = csv_rows(out / "predictions.csv")
    assert 10 < len(rows) < 500
    s = summary(out)
    assert s["status"] == "failed" and "predictions.csv" in s["error"]
    assert no_temporary_files(out)


def test_disk_full_with_two_faces_keeps_complete_rows_in_both_csvs(tmpfs, two_faces):
    """24 KB: predictions.csv (a row per face per frame) fills the disk after some events were written."""
    out = tmpfs(24) / "o"
    res = cli("--video", str(two_faces), "--motion-only", "--headless", "--stride", "1", "--out", str(out))
    assert res.returncode == 1, res.stderr
    lines = [ln for ln in our_lines(res.stderr) if ln.startswith("error:")]
    assert len(lines) == 1 and "predictions.csv: could not write row" in lines[0] and "No space left" in lines[0]
    rows = csv_rows(out / "predictions.csv")
    assert face_ids(rows) == {"0", "1"} and len(rows) < 2 * 360
    events = event_keys(csv_rows(out / "events.csv"))
    assert events  # events of both faces were written before (or after) the disk filled, whole rows only
    s = summary(out)
    assert s["status"] == "failed" and "predictions.csv" in s["error"]
    for name in ("timeline", "report"):  # no room for them: said, and no empty file left
        assert s["outputs"][name] is None and not (out / f"{name}.{'png' if name == 'timeline' else 'html'}").exists()
    assert not (out / "review.webm").exists() and no_temporary_files(out)


def test_a_review_copy_that_fills_the_disk_gives_its_space_back_at_once(tmpfs):
    """review.webm (made as the run reads) that hits a full disk is given up: it was removed only when the run
    ended, so its dead file held the disk while predictions.csv and events.csv ran out of room behind it."""
    import shutil

    from mpt_live.review import ReviewSink, vp9_available

    if not vp9_available():
        pytest.skip("PyAV has no VP9 encoder here")
    out = tmpfs(64)
    sink = ReviewSink(out, 30.0)
    for i, img in enumerate(fk.frames(300, (320, 240), noise=True)):  # noise: far more than 64 KB
        sink.write(img, i / 30)
        if sink.failed:
            break
    assert sink.failed
    assert not (out / "review.webm").exists()  # before the run ends
    assert shutil.disk_usage(out).used < 8 * 1024
    assert sink.close() is None


def test_disk_full_while_writing_the_annotated_video(tmp_path, tmpfs):
    """--save-video on a disk that fills: the run stops with one line naming annotated.mp4, whose frames before
    stay readable, beside complete CSV rows. OpenCV's writer failed silently: the run went on and left an
    annotated.mp4 that did not open."""
    import av

    out = tmpfs(160) / "o"
    video = fk.write_video(tmp_path / "v.mp4", 300, size=(160, 120), noise=True)  # noise: big frames
    res = cli("--video", str(video), "--motion-only", "--headless", "--save-video", "--out", str(out))
    assert res.returncode == 1, res.stderr
    lines = [ln for ln in our_lines(res.stderr) if ln.startswith("error:")]
    assert len(lines) == 1 and "annotated.mp4: could not write frame" in lines[0] and "No space left" in lines[0]
    decoded = 0
    with av.open(str(out / "annotated.mp4")) as box:
        try:
            for _ in box.decode(video=0):
                decoded += 1
        except av.error.InvalidDataError:  # the fragment the disk filled in, cut short (review.webm's thread writes
            pass                           # to the same disk, so where the disk fills varies from run to run)
    failed_at = int(re.search(r"could not write frame (\d+)", lines[0]).group(1))
    assert 0 < decoded < 300 and decoded >= failed_at - 1 - 2 * 25  # at most the fragments (a second each) in writing
    assert len(csv_rows(out / "predictions.csv")) >= 1
    s = summary(out)
    assert s["status"] == "failed" and "annotated.mp4" in s["error"]
    assert no_temporary_files(out)


def test_disk_full_for_the_timeline(tmp_path, tmpfs):
    """16 KB left: the CSV fits, the plot does not. That is not a success."""
    out = tmpfs(20) / "o"
    video = fk.write_video(tmp_path / "v.mp4", 60)
    res = cli("--video", str(video), "--motion-only", "--headless", "--stride", "1", "--out", str(out))
    assert res.returncode == 1, res.stderr
    assert any("incomplete: timeline.png: not written" in ln and "No space left" in ln for ln in our_lines(res.stderr))
    assert len(csv_rows(out / "predictions.csv")) == 61
    s = summary(out)
    assert s["status"] == "incomplete" and s["outputs"]["timeline"] is None and not (out / "timeline.png").exists()
    assert no_temporary_files(out)


# -- frame times from the container --------------------------------------------------------------------
VFR_TIMES = [i / 30 for i in range(30)] + [1.0 + (i + 1) * 0.2 for i in range(15)]  # 30 fps, then 5 fps; 4.2 s


def test_variable_frame_rate_uses_the_container_times(tmp_path):
    from mpt_live.job import run_job
    from mpt_live.session import SessionConfig

    path = fk.write_vfr_video(tmp_path / "vfr.mp4", VFR_TIMES)
    with VideoFile(path) as v:
        s = run_job(v, None, SessionConfig(stride=1), tmp_path / "o")
    rows = csv_rows(tmp_path / "o" / "predictions.csv")
    times = [float(r[0]) for r in rows[1:]]
    assert times == pytest.approx(VFR_TIMES, abs=0.002)  # not index / header fps
    assert s["source_seconds"] == pytest.approx(4.2, abs=0.01)
    timing = [w for w in s["warnings"] if "no face found" not in w]  # the frames are faceless
    assert len(timing) == 1 and "vfr.mp4: frame times disagree with the header" in timing[0]
    assert s["status"] == "complete"


def test_variable_frame_rate_around_the_header_average_is_named_as_such(tmp_path):
    """Frames 40 and 120 ms apart in turn: the header's rate is their average, so the spans agree; the warning
    says the intervals vary around it (it used to say the times "disagree" beside two equal spans)."""
    times = [round(sum(0.04 if k % 2 == 0 else 0.12 for k in range(i)), 3) for i in range(60)]
    with VideoFile(fk.write_vfr_video(tmp_path / "alt.mp4", times)) as v:
        got = [f.t for f in v]
    assert got == pytest.approx(times, abs=0.002)
    assert len(v.warnings) == 1 and "alt.mp4: variable frame rate: intervals " in v.warnings[0]
    assert "ms around the header's average" in v.warnings[0] and "disagree" not in v.warnings[0]


def test_times_that_go_back_after_damage_do_not_shift_the_frames_after_them():
    """What OpenCV reports after a damaged stretch of a 30 fps H.264 mp4 (B-frames): the first frame after it at its
    own time, then two frames timed by OpenCV's count of the frames read (a second early), then the container's
    times again. Each repaired frame was put a whole period after the one before: the two took the next frames'
    times, and every later frame was 'repaired' in turn (413 of a 30 s file's 870), each a frame or two late, to
    the end. The container's own times after the two are used as they are."""
    from mpt_live.frametimes import FrameTimes

    ms = [i * 1000 / 30 for i in range(456)] + [487 * 1000 / 30, 456 * 1000 / 30, 457 * 1000 / 30]
    ms += [k * 1000 / 30 for k in range(489, 600)]
    times = FrameTimes("v.mp4", 30.0, True, 600, end_s=20.0)
    got = [times.next(m) for m in ms]
    assert got == sorted(got) and len(set(got)) == len(got)
    assert got[459:] == pytest.approx([k / 30 for k in range(489, 600)])
    assert 487 / 30 < got[457] < got[458] < 489 / 30
    times.finish()
    assert times.repaired == 2 and any("2 frames had a time that did not increase" in w for w in times.warnings)


@pytest.mark.parametrize("muxer", ["mpeg", "vob"])
def test_an_mpeg_ps_files_last_frame_is_timed_without_a_warning(tmp_path, muxer):
    """An MPEG-PS file from ffmpeg (MPEG-2 with B-frames, -f mpeg or -f vob): OpenCV gives its last frame, which the
    decoder holds back for its B-frames and gives at the end of the file, no time (POS_MSEC 0). It was taken for a
    time that did not increase: '1 frames had a time that did not increase', the frame placed half a period on. It
    is a frame with no time: placed a period on, no warning. A time that goes back is still repaired and named."""
    from mpt_live.frametimes import FrameTimes
    from mpt_live.sources import VideoFile

    path = tmp_path / f"clip.{'vob' if muxer == 'vob' else 'mpg'}"
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=d=4:s=320x240:r=25", "-c:v", "mpeg2video", "-bf", "2", "-f", muxer,
              str(path))
    with VideoFile(path) as v:
        got = [f.t for f in v]
    assert got == pytest.approx([i / 25 for i in range(100)], abs=1e-3)
    assert v.warnings == [] and v.error is None, v.warnings
    times = FrameTimes("v.mpg", 25.0, True, 6, end_s=0.24)
    assert [times.next(m) for m in (0.0, 40.0, 80.0, 120.0, 0.0)] == pytest.approx([0, 0.04, 0.08, 0.12, 0.16])
    times.finish()
    assert times.repaired == 0 and times.untimed == 1 and times.warnings == []
    times = FrameTimes("v.mpg", 25.0, True, 6, end_s=0.24)
    got = [times.next(m) for m in (0.0, 40.0, 80.0, 120.0, 40.0, 200.0)]
    times.finish()
    assert got == sorted(got) and times.repaired == 1
    assert any("v.mpg: 1 frame had a time that did not increase" in w for w in times.warnings)


def test_frames_lost_to_damage_in_an_mkv_are_not_called_a_variable_frame_rate(tmp_path):
    """A Matroska file with damage in its first second: FFmpeg's reader skips to the next cluster it can read, no
    read fails, the frames just are not there. The gap in the times was warned of as a 'variable frame rate'
    (intervals 33-1000 ms); the frames around it are evenly spaced, so the warning says frames are missing there."""
    import random

    clip = tmp_path / "take.mkv"
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=30:d=6", "-c:v", "libx264", "-preset", "veryfast", "-g", "30",
              "-pix_fmt", "yuv420p", str(clip))
    data = bytearray(clip.read_bytes())
    at, rng = data.find(b"\x1f\x43\xb6\x75"), random.Random(1)  # the first cluster (Matroska's element ID)
    at += (len(data) - at) // 50
    data[at:at + 8000] = bytes(rng.randrange(256) for _ in range(8000))
    clip.write_bytes(bytes(data))
    with VideoFile(clip) as v:
        frames = list(v)
    assert v.error is None and 100 < len(frames) < 180
    assert not any("variable frame rate" in w for w in v.warnings), v.warnings
    missing = [w for w in v.warnings if "frames missing" in w]
    assert len(missing) == 1 and "take.mkv: about " in missing[0] and "the file is damaged there" in missing[0]


def test_raw_h264_without_a_rate_in_its_header_uses_the_codec_timing(tmp_path):
    path = fk.write_raw_h264(tmp_path / "v.h264", 60, fps=30.0)
    with VideoFile(path) as v:
        frames = list(v)
    assert v.fps == pytest.approx(30.0) and not v.fps_assumed  # OpenCV alone says 25
    assert [f.t for f in frames] == pytest.approx([i / 30 for i in range(60)])
    assert "v.h264: no per-frame times in the stream" in v.warnings[0] and "30 fps" in v.warnings[0]


def _pts(path: Path) -> list[float]:
    """The frames' presentation times on the container's time line, as FFmpeg (PyAV) decodes them."""
    import av

    with av.open(str(path)) as c:
        origin = (c.start_time or 0) / 1e6
        return [f.time - origin for f in c.decode(video=0)]


@pytest.mark.parametrize("make", [
    lambda d: fk.write_dropped_frames(d / "phone.mkv"),  # the header's count: duration x rate
    lambda d: fk.write_dropped_frames(d / "browser.webm"),
    lambda d: fk.write_dropped_frames(d / "webcam.avi"),  # an AVI counts the dropped frames as empty ones
    lambda d: fk.write_copy_cut_mp4(d / "trimmed.mp4"),  # the header counts frames its edit list hides
], ids=["vfr-mkv", "vfr-webm", "vfr-mjpeg-avi", "cut-with-copy-mp4"])
def test_a_header_count_that_is_not_the_frames_is_not_truncation(tmp_path, make):
    """Recordings whose every frame is there, though fewer than the header's count: they were called
    "truncated or damaged" (status incomplete, exit 1). Their frames reach the end the container states."""
    path = make(tmp_path)
    with VideoFile(path) as v:
        times = [f.t for f in v]
    assert v.frame_count > len(times)  # the header's count, which used to decide
    assert v.error is None
    assert times == pytest.approx(_pts(path), abs=0.002)


def test_a_truncated_mkv_is_still_named(tmp_path):
    """The same header (duration x rate) on a Matroska file cut mid-stream: its frames end early."""
    full = fk.write_dropped_frames(tmp_path / "full.mkv", n=90, keep_all_s=3.0)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with VideoFile(cut) as v:
        n = sum(1 for _ in v)
    assert 0 < n < 60 and v.error and "cut.mkv: ended after" in v.error and "truncated" in v.error


@pytest.mark.parametrize("form", ["stream.webm", "take.ts", "camera.m2ts", "webcam.avi", "old.wmv", "clip.ogv",
                                  "clip.mpg", "disc.vob"])
def test_a_recording_that_states_no_end_is_named_when_cut_short(tmp_path, form):
    """A WebM written as a stream (MediaRecorder-like: no duration, no index) and an MPEG-TS state no end of their
    own, so a copy cut short (a broken download, a recorder killed) was read to its last whole frame and called
    complete; so was an AVI, whose index a cut takes (FFmpeg then states its last frame as its end), and a WMV (FFmpeg
    gives a cut one no duration). Where the bytes stop shows it: a Matroska element cut mid-way (FFmpeg: 'File ended
    prematurely'), a transport stream that is not a whole number of its packets, an AVI shorter than its RIFF header
    states, an ASF object that ends past the file's end, an Ogg page that does (FFmpeg states the last whole page's
    time as an Ogg file's end), an MPEG-PS pack or packet that does (MPEG-1 and a DVD's MPEG-2 with sound: FFmpeg
    writes no program end code, so only the packets' lengths tell). The whole files are still complete."""
    import subprocess

    whole = tmp_path / form
    src = ["-f", "lavfi", "-i", "testsrc2=s=160x120:r=30:d=4"]
    if form.endswith(".webm"):  # to a pipe: FFmpeg cannot go back to write a duration or an index
        with open(whole, "wb") as fh:
            subprocess.run([fk.ffmpeg_exe(), "-loglevel", "error", *src, "-c:v", "libvpx", "-b:v", "300k", "-deadline",
                            "realtime", "-cpu-used", "8", "-f", "webm", "-"], stdout=fh, check=True)
    elif form.endswith(".ogv"):
        fk.ffmpeg(*src, "-c:v", "libtheora", "-q:v", "5", str(whole))
    elif form.endswith(".mpg"):
        fk.ffmpeg(*src, "-c:v", "mpeg1video", "-q:v", "5", str(whole))
    elif form.endswith(".vob"):
        fk.ffmpeg(*src, "-f", "lavfi", "-i", "sine=d=4", "-c:v", "mpeg2video", "-q:v", "5", "-c:a", "ac3", "-f",
                  "dvd", str(whole))
    elif form.endswith((".avi", ".wmv")):
        fk.ffmpeg(*src, "-c:v", "mjpeg" if form.endswith(".avi") else "wmv2", "-q:v", "5", str(whole))
    else:
        fk.ffmpeg(*src, "-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-pix_fmt", "yuv420p",
                  *(["-mpegts_m2ts_mode", "1"] if form.endswith(".m2ts") else []), str(whole))
    cut = tmp_path / f"cut-{form}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 3 // 5 + 100])  # at any byte (FFmpeg writes an m2ts
    # in blocks of 32 packets: 3/5 of one can be a whole number of them, a cut there is not seen)
    with VideoFile(whole) as v:
        n = sum(1 for _ in v)
    assert n == 120 and v.error is None, v.error
    for _ in range(2):  # a second time in the same process (PyAV passed on a log line the same as its last once)
        with VideoFile(cut) as v:
            times = [f.t for f in v]
        assert 40 < len(times) < 110
        assert v.error and v.error.startswith(f"{cut}: ends part-way through") and "the file is truncated" in v.error
        assert f"after {len(times)} frames" in v.error  # where it ended
        # the span ends one period after the last frame decoded: a frame missing before it (a B-frame the cut took)
        # made the last frame as long as the gap before it (the TS: 2.57 s for frames that end at 2.53 s)
        assert v.duration_s == pytest.approx(times[-1] + 1 / 30, abs=2e-3) and f"({times[-1] + 1 / 30:.2f} s)" in v.error, v.error
        assert not any("missing" in w for w in v.warnings), v.warnings  # the B-frames the cut took are the cut's


def test_a_whole_avi_whose_riff_size_is_the_files_length_is_complete(tmp_path):
    """Some AVI writers state the file's whole length as its RIFF size (not the length less the 8 bytes of the chunk's
    name and size): such a whole file ends 8 bytes before its stated end and is complete, not truncated."""
    whole = tmp_path / "whole.avi"
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=30:d=4", "-c:v", "mjpeg", "-q:v", "5", str(whole))
    data = bytearray(whole.read_bytes())
    assert data[:4] == b"RIFF" and int.from_bytes(data[4:8], "little") == len(data) - 8  # one RIFF chunk, as FFmpeg
    data[4:8] = len(data).to_bytes(4, "little")
    odd = tmp_path / "file-length.avi"
    odd.write_bytes(bytes(data))
    with VideoFile(odd) as v:
        n = sum(1 for _ in v)
    assert n == 120 and v.error is None, v.error


def test_a_video_that_starts_after_its_sound_is_timed_as_a_player_shows_it(tmp_path):
    """The picture starts 0.5 s into the file (after the sound): frame 0 is at 0.5 s in a player, in the
    review page's video and in FFmpeg; mpt-live put it at 0, so every time was 0.5 s early."""
    path = fk.write_late_video(tmp_path / "late.mp4", n=30, lead_s=0.5)
    with VideoFile(path) as v:
        times = [f.t for f in v]
    assert times[0] == pytest.approx(0.5, abs=0.002)
    assert times == pytest.approx(_pts(path), abs=0.002)
    assert v.warnings == [] and v.error is None


@pytest.mark.parametrize("form", ["lost-first-cluster.mkv", "late.mkv"])
def test_a_matroska_video_is_timed_on_its_segments_time_line(tmp_path, form):
    """A Matroska file times its blocks from the segment's start (0). With its whole first cluster lost to damage,
    FFmpeg's container start is the first block it could read (1 s): the frames were placed from 0, a second
    early, and the file 'truncated' (5 of 6 s). With the sound first, the track's DURATION tag (where it ends on
    that time line) was added to the picture's start: a whole file was 'truncated' (2.5 of 3 s)."""
    import random

    import av

    path = tmp_path / form
    if form == "late.mkv":
        fk.write_late_video(path, n=60, lead_s=0.5)
    else:
        fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=30:d=6", "-c:v", "libx264", "-preset", "veryfast",
                  "-g", "30", "-pix_fmt", "yuv420p", str(path))
        data = bytearray(path.read_bytes())
        first = data.find(b"\x1f\x43\xb6\x75")  # Matroska's Cluster ID: the first, to the second
        second, rng = data.find(b"\x1f\x43\xb6\x75", first + 4), random.Random(1)
        data[first:second] = bytes(rng.randrange(256) for _ in range(second - first))
        path.write_bytes(bytes(data))
    with av.open(str(path)) as c:
        want = [f.time for f in c.decode(video=0)]  # the segment's times, as FFmpeg gives them
    assert want[0] >= 0.5
    with VideoFile(path) as v:
        times = [f.t for f in v]
    assert times == pytest.approx(want, abs=0.002)
    assert v.error is None
    # the lost cluster's second is counted once, as a damaged start (the segment's time line and duration begin at
    # 0, its frames at 1 s); a picture that starts after its sound is a whole file (the container starts at 0 with
    # the sound)
    assert not [w for w in v.warnings if "late" in w], v.warnings
    lost = [w for w in v.warnings if "could not be decoded" in w]
    if form == "late.mkv":
        assert lost == [] and v.damaged == 0, v.warnings
    else:
        assert v.damaged == 30 and len(lost) == 1 and lost[0].startswith(f"{path}: 30 frames could not be decoded")
        assert "at the start (1.00 s of video)" in lost[0], v.warnings


@pytest.mark.parametrize("name, args", [
    ("bframes-no-edit-list.mp4", ["-r", "15", "-bf", "3", "-use_editlist", "0"]),  # first pts 2-3 frames in: 0.13 s
    ("offset.mp4", ["-output_ts_offset", "0.08"]),
    ("offset.webm", ["-c:v", "libvpx", "-b:v", "300k", "-output_ts_offset", "0.06"]),
    ("offset.mkv", ["-output_ts_offset", "0.1"]),
    ("clock.ts", ["-output_ts_offset", "1.4"]),  # a transport stream's clock starts anywhere
])
def test_a_recording_whose_streams_start_a_little_after_0_is_not_called_late(tmp_path, name, args):
    """Many recordings' first time stamp is a little after 0 (B-frame delay without an edit list, an encoder's
    offset) or anywhere (an MPEG-TS's clock): they start on time and are not warned of as starting late."""
    import av

    path = tmp_path / name
    codec = [] if "-c:v" in args else ["-c:v", "libx264", "-pix_fmt", "yuv420p"]
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=30:d=3", *codec, *args, str(path))
    with av.open(str(path)) as c:
        assert c.start_time > 0  # the case this is about
    with VideoFile(path) as v:
        n = sum(1 for _ in v)
    assert n > 40 and v.error is None and not any("late" in w for w in v.warnings), v.warnings


def test_inspect_before_a_late_picture_says_where_it_starts(tmp_path):
    """--inspect 1.2 on a video whose picture starts at 0.5 s: no whole window ends there yet; it said "has no
    frames" (or "no face") when the time was before the first frame."""
    from mpt_live.clip import ClipSpec
    from mpt_live.sheet import clip_at

    path = fk.write_late_video(tmp_path / "late.mp4", n=30, lead_s=0.5)
    with pytest.raises(InputError, match=r"late.mp4: --inspect 1.2 s is earlier than one window \(1 s\) after the "
                                         r"first frame \(0.50 s"):
        clip_at(path, 1.2, ClipSpec(window_s=1.0))


def test_the_videos_made_of_a_variable_rate_recording_keep_its_times(tmp_path):
    """review.webm (the page's video of a recording a browser cannot play) and annotated.mp4 were written at the
    header's constant rate: 45 frames over 2 s became 1.5 s of video, and the page's clicks on an event seeked
    to other frames. The copy has each frame at its time; annotated.mp4 (constant rate) holds it until the next."""
    from mpt_live.job import run_job
    from mpt_live.session import SessionConfig

    path = fk.write_dropped_frames(tmp_path / "webcam.avi")
    with VideoFile(path) as v:
        s = run_job(v, None, SessionConfig(stride=1), tmp_path / "o", save_video=True)
    assert s["outputs"]["review"] == "review.webm" and s["status"] == "complete"
    times = [float(r[0]) for r in csv_rows(tmp_path / "o" / "predictions.csv")[1:]]
    assert len(times) == 45 and times == pytest.approx(_pts(tmp_path / "o" / "review.webm"), abs=0.0015)
    annotated = cv2.VideoCapture(str(tmp_path / "o" / "annotated.mp4"))
    assert int(annotated.get(cv2.CAP_PROP_FRAME_COUNT)) == round(times[-1] * 30) + 1 == 60


def test_truncated_mp4_exits_non_zero_and_says_so(tmp_path):
    path = fk.write_truncated_mp4(tmp_path / "cut.mp4", 120, keep=0.3, size=(96, 72))
    out = tmp_path / "o"
    res = cli("--video", str(path), "--motion-only", "--headless", "--out", str(out))
    assert res.returncode == 1, res.stderr
    assert any("cut.mp4: ended after" in ln and "of the 120 frames" in ln and "truncated" in ln
               for ln in our_lines(res.stderr))
    assert not [ln for ln in res.stderr.splitlines() if " @ 0x" in ln]  # FFmpeg's own "[h264 @ 0x...]" lines
    s = summary(out)
    assert s["status"] == "incomplete" and "truncated" in s["source_error"] and 0 < s["frames_read"] < 60


@pytest.mark.parametrize("jobs", [[], ["--jobs", "2", "--threads", "1"]], ids=["serial", "jobs-2"])
def test_a_truncated_video_in_a_batch_is_named_and_exits_non_zero(tmp_path, jobs):
    """A folder with a good video and a truncated one: both ways of running it name the truncated one on
    the terminal (from its summary) and exit 1; the good one is reported as done."""
    folder = tmp_path / "videos"
    folder.mkdir()
    fk.write_truncated_mp4(folder / "cut.mp4", 120, keep=0.3, size=(96, 72))
    fk.write_video(folder / "good.mp4", 40, fps=30.0)
    res = cli("--video", str(folder), "--motion-only", "--headless", "--out", str(tmp_path / "o"), *jobs)
    lines = our_lines(res.stderr + res.stdout)
    assert res.returncode == 1, res.stderr
    assert any(ln.startswith("incomplete:") and "cut.mp4: ended after" in ln for ln in lines), lines
    assert any(ln.startswith("good.mp4: 40 frames") for ln in lines), lines
    assert summary(tmp_path / "o" / "good")["status"] == "complete"


# -- streams ---------------------------------------------------------------------------------------------
def test_http_url_of_a_video_file_is_read_like_the_file(faces_dir, model_path, tmp_path):
    """It used to be read as a live stream: wall-clock stamps far faster than real time, replayed after
    its end, and not one window classified."""
    with fk.http_server("file", faces_dir / "videos" / "pyfeat_single_face.mp4") as srv:
        out = tmp_path / "o"
        res = cli("--video", fk.url(srv), "--model", str(model_path), "--device", "cpu", "--headless",
                  "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "a recording (72 frames), read like a file" in res.stderr
    s = summary(out)
    assert s["mode"] == "file" and s["frames_read"] == 72 and s["status"] == "complete"
    assert s["windows_classified"] >= 20 and s["source_seconds"] == pytest.approx(2.4, abs=0.01)


def test_http_mp4_with_its_index_at_the_end_from_a_server_without_byte_ranges_is_one_line(faces_dir, tmp_path):
    """An mp4 whose index (moov) follows its frames, served whole whatever range is asked (python -m http.server):
    FFmpeg cannot reach the index, so no frame decodes; the one line says what the server lacks."""
    video = faces_dir / "videos" / "liveportrait_d19_glasses.mp4"
    data = video.read_bytes()
    assert data.find(b"moov") > data.find(b"mdat") > 0  # the index at the end
    with fk.http_server("norange", video) as srv:
        res = cli("--video", fk.url(srv), "--motion-only", "--headless", "--out", str(tmp_path / "o"))
    assert res.returncode == 2, res.stderr
    lines = our_lines(res.stderr + res.stdout)
    assert len(lines) == 1 and lines[0].startswith(f"error: {fk.url(srv)}: ") and "byte-range" in lines[0], lines


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _NeverDelivers:
    """Opens (a stalled server answers its headers), but every read fails at once."""

    opens = 0

    def __init__(self, clock: _Clock) -> None:
        self.clock = clock
        _NeverDelivers.opens += 1

    def isOpened(self) -> bool:  # noqa: N802
        return True

    def read(self):
        self.clock.now += 0.25  # the read timeout
        return False, None

    def grab(self) -> bool:
        return False

    def get(self, prop: int) -> float:
        return 25.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self) -> None:
        pass


def _given_up(backoff: tuple[float, float]) -> tuple[CaptureReader, _Clock]:
    """A reader of a stream that opens but never delivers, with ``backoff`` and a 60 s give-up on a fake clock (the
    backoff waits pass on it), read until it gives up (closed)."""
    clock = _Clock()
    def sleep(seconds: float) -> None:
        clock.now += seconds

    r = CaptureReader(lambda: _NeverDelivers(clock), "http://stalled", backoff=backoff, give_up_s=60.0,
                      clock=clock, sleep=sleep)
    done = threading.Event()
    threading.Thread(target=lambda: (list(r), done.set()), daemon=True).start()
    assert done.wait(30), "the reader never gave up"
    r.close()
    return r, clock


def test_stream_that_opens_but_never_delivers_gives_up():
    """The give-up clock runs from the last frame, not from the last successful reopen."""
    r, clock = _given_up((0.5, 8.0))
    assert r.error == f"http://stalled: no frame within 60 s of opening it ({r.reconnects} reopens): giving up"
    assert 5 <= r.reconnects < 20 and 60.0 < clock.now < 70.0


def test_a_stream_given_up_after_one_reopen_says_reopen_in_the_singular():
    """'(1 reopens)': the first wait (70 s) outlasts the give-up time (60 s), so one reopen comes before it."""
    r, _ = _given_up((70.0, 80.0))
    assert r.reconnects == 1 and r.error == "http://stalled: no frame within 60 s of opening it (1 reopen): giving up"


def test_stalled_http_stream_ends_the_run_with_an_error(tmp_path, monkeypatch):
    """A real socket: the server sends the start of a raw H.264 stream, then nothing."""
    from typer.testing import CliRunner

    from mpt_live import capture
    from mpt_live.cli import app

    monkeypatch.setattr(capture, "STREAM_TIMEOUT_MS", 500)
    monkeypatch.setattr(capture, "GIVE_UP_S", 3.0)
    raw = fk.write_raw_h264(tmp_path / "v.h264", 60)
    out = tmp_path / "o"
    result: list = []
    with fk.http_server("stall", raw, stall_after=2000) as srv:
        t = threading.Thread(target=lambda: result.append(CliRunner().invoke(
            app, ["--video", fk.url(srv, "v.h264"), "--motion-only", "--headless", "--out", str(out)])), daemon=True)
        t.start()
        t.join(60)
        assert not t.is_alive(), "the run never gave up on a stalled stream"
        assert srv.requests >= 3  # it was reopened before giving up (an open asks twice: PyAV looks, then OpenCV)
    res = result[0]
    assert res.exit_code == 1, res.output
    assert "no frame within 3 s of opening it" in res.output
    s = summary(out)
    assert s["status"] == "incomplete" and s["frames_read"] == 0 and "giving up" in s["source_error"]


def test_stream_faster_than_real_time_is_warned_about():
    clock = _Clock()

    class Fast:
        i = 0

        def isOpened(self):  # noqa: N802
            return True

        def read(self):
            if self.i >= 100:
                return False, None
            self.i += 1
            clock.now += 0.01  # 100 frames per second of wall time ...
            return True, np.zeros((4, 4, 3), np.uint8)

        def grab(self):
            return self.read()[0]

        def get(self, prop):
            if prop == cv2.CAP_PROP_POS_MSEC:
                return (self.i - 1) * 40.0  # ... of a 25 fps recording
            return 25.0 if prop == cv2.CAP_PROP_FPS else 0.0

        def release(self):
            pass

    with CaptureReader(lambda: Fast(), "http://fast", reconnect=False, clock=clock) as r:
        list(r)
    assert len(r.warnings) == 1 and r.warnings[0].startswith("http://fast: delivers frames 4.0x faster than real time")


# -- the run's own checks ---------------------------------------------------------------------------------
def test_a_model_run_that_classifies_nothing_says_why(faces_dir, tmp_path):
    from mpt_live.clip import ClipSpec
    from mpt_live.job import run_job
    from mpt_live.runtime import load_model
    from mpt_live.session import SessionConfig

    # a window longer than the 2.4 s video (its band below the Nyquist limit of its 3 Hz clip rate)
    model = tiny_onnx(tmp_path / "m.onnx", spec=ClipSpec(window_s=5.0, band_hz=(0.3, 1.0)))
    rt = load_model(model, device="cpu", threads=1, warmup=False)
    with VideoFile(faces_dir / "videos" / "pyfeat_single_face.mp4") as v:
        s = run_job(v, rt, SessionConfig(stride=8), None)
    assert s["windows_classified"] == 0
    assert any("no window was classified" in w and "5 s window" in w for w in s["warnings"])


@pytest.mark.parametrize("with_face, expected", [(0, "no face found"), (5, "only a face in 5 of 20 frames"),
                                                  (20, None)])
def test_a_run_whose_frames_mostly_show_no_face_says_so(faces_dir, tmp_path, with_face, expected):
    """A video where the detector finds no face in most frames (a face too small for it, or none) says so in
    its warnings instead of ending 'complete' with nothing but "no face" windows."""
    from mpt_live.job import run_job
    from mpt_live.session import SessionConfig

    with VideoFile(faces_dir / "videos" / "pyfeat_single_face.mp4") as v:
        face = next(iter(v)).image
    path = tmp_path / "v.mp4"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, face.shape[1::-1])
    for i in range(20):
        out.write(face if i < with_face else np.full_like(face, 120))
    out.release()
    with VideoFile(path) as v:  # short-range: the hint names the full-range model
        s = run_job(v, None, SessionConfig(stride=4, detector="short"), None)
    assert s["frames_with_face"] == with_face
    said = [w for w in s["warnings"] if "face" in w and "--detector full" in w]
    assert (said[0].split(": ", 1)[1].startswith(expected) if expected else not said), s["warnings"]
    with VideoFile(path) as v:  # auto (the default) has looked with full-range too: the same line, no hint
        s = run_job(v, None, SessionConfig(stride=4), None)
    said = [w for w in s["warnings"] if "face" in w and "--detector" not in w and "too small" not in w
            and "too short to spot" not in w]  # 2 s of video: the spotter's own warning, tested apart
    assert (said[0].split(": ", 1)[1].startswith(expected) if expected else not said), s["warnings"]


def _labels_csv(root, rows) -> None:
    """A CSV dataset in ``root``: one 6-frame clip folder, a labels.csv row per (subject, label)."""
    folder = root / "clips" / "a"
    folder.mkdir(parents=True)
    for i in range(6):
        cv2.imwrite(str(folder / f"f{i}.png"), np.full((8, 8, 3), 128, np.uint8))
    (root / "labels.csv").write_text("subject,clip,onset,apex,offset,label\n"
                                     + "".join(f"{subject},clips/a,0,,5,{label}\n" for subject, label in rows))


def test_csv_dataset_warns_about_a_class_with_very_few_clips(tmp_path):
    pytest.importorskip("pandas")
    from train.datasets import load_dataset

    _labels_csv(tmp_path, [(f"p{i % 3}", "happiness" if i % 2 else "surprise") for i in range(12)]
                + [("p1", "hapiness")])
    index = load_dataset("csv", tmp_path)
    assert index.classes == ["hapiness", "happiness", "surprise"]  # still trained as given
    # (every row is the one clip's frames: its labels' warning, test_datasets.py, is not this test's)
    assert [w for w in index.warnings if "with different labels" not in w] == [f"{tmp_path / 'labels.csv'}: class 'hapiness' has only 1 clip (the largest has 6) "
                              "(a typo of 'happiness'?); it is trained as a class of its own",
                              f"{tmp_path}: class 'hapiness' has clips of one subject only (p1): in LOSO its fold "
                              "never trains on it, and no other fold tests it"]


def test_bad_camera_index_in_process_is_an_input_error():
    from mpt_live.capture import open_camera

    with pytest.raises(InputError, match=r"^camera -1: not a camera index"):
        open_camera(-1)


def test_csv_dataset_warns_about_labels_that_differ_only_in_case(tmp_path):
    pytest.importorskip("pandas")
    from train.datasets import load_dataset

    _labels_csv(tmp_path, [(f"p{i % 3}", ["happy", "Happy", "surprise"][i % 3 - (i % 2)]) for i in range(12)])
    index = load_dataset("csv", tmp_path)
    assert sorted(index.classes) == ["Happy", "happy", "surprise"]  # trained as given
    said = [w for w in index.warnings if "differ only in case" in w]
    assert len(said) == 1 and "'Happy' (4)" in said[0] and "'happy' (4)" in said[0], index.warnings


def test_csv_dataset_warns_about_subject_ids_that_differ_only_in_spelling(tmp_path):
    """'sub01', '1' and '01' in one CSV were three subjects without a word: LOSO tested each on a model trained on the
    same person's other clips. Still three (the ids are taken as written), but named in one warning; 'p2' and 'P02'
    in another, and 's3' alone in none."""
    pytest.importorskip("pandas")
    from train.datasets import load_dataset

    ids = ["sub01", "1", "01", "p2", "P02", "s3"]
    _labels_csv(tmp_path, [(ids[i % 6], "happiness" if i % 2 else "surprise") for i in range(12)])
    index = load_dataset("csv", tmp_path)
    assert sorted(index.subjects) == sorted(ids)  # taken as written
    said = [w for w in index.warnings if "differ only in spelling" in w]
    assert len(said) == 2, index.warnings
    assert all(f"'{i}' (2)" in said[0] for i in ("sub01", "1", "01")) and "p2" not in said[0], said
    assert "'p2' (2)" in said[1] and "'P02' (2)" in said[1] and "s3" not in said[1], said


def test_csv_subject_ids_of_one_number_with_different_prefixes_are_different_people(tmp_path):
    """A composite labels.csv: CASME II's 'sub06', SMIC's 's6' and SAMM's '006' are three people, and were named as
    one spelled three ways. Only ids of one prefix are named ('SUB07' and 'sub7'), and a bare number with the one
    prefixed id of its number ('8' beside 's8'); a bare number beside two prefixes ('6') joins neither."""
    pytest.importorskip("pandas")
    from train.datasets import load_dataset

    ids = ["sub06", "s6", "006", "SUB07", "sub7", "8", "s8"]
    _labels_csv(tmp_path, [(ids[i % 7], "happiness" if i % 2 else "surprise") for i in range(14)])
    index = load_dataset("csv", tmp_path)
    assert sorted(index.subjects) == sorted(ids)  # taken as written
    said = [w for w in index.warnings if "differ only in spelling" in w]
    assert len(said) == 2, index.warnings
    assert sum("'SUB07' (2) and 'sub7' (2)" in w for w in said) == 1, said
    assert sum("'8' (2) and 's8' (2)" in w for w in said) == 1, said
    assert not any(i in w for w in said for i in ("sub06", "'s6'", "006")), said


def test_csv_subject_ids_spelled_sub_and_subject_are_one_prefix(tmp_path):
    """A researcher's sheet mixing 'sub01' and 'subject01' (and 'Subject_2' beside 'sub02'): 'sub' and 'subject'
    counted as different prefixes, so the ids were taken for different people and named in no warning (and '1' joined
    neither, two prefixed ids of its number). One warning per person now, naming each spelling; 's3' (another
    prefix: SMIC's) still apart."""
    pytest.importorskip("pandas")
    from train.datasets import load_dataset

    ids = ["sub01", "subject01", "1", "Subject_2", "sub02", "s3"]
    _labels_csv(tmp_path, [(ids[i % 6], "happiness" if i % 2 else "surprise") for i in range(12)])
    index = load_dataset("csv", tmp_path)
    assert sorted(index.subjects) == sorted(ids)  # taken as written
    said = [w for w in index.warnings if "differ only in spelling" in w]
    assert len(said) == 2, index.warnings
    assert all(f"'{i}' (2)" in said[0] for i in ("sub01", "subject01", "1")) and "sub02" not in said[0], said
    assert "'Subject_2' (2)" in said[1] and "'sub02' (2)" in said[1] and "s3" not in " ".join(said), said


def test_csv_dataset_with_a_class_named_neutral_is_refused(tmp_path):
    """mpt-live calls every window outside an event 'neutral': a class of that name would be confused with it."""
    pytest.importorskip("pandas")
    from train.datasets import load_dataset

    _labels_csv(tmp_path, [(f"p{i % 3}", "Neutral" if i % 2 else "surprise") for i in range(6)])
    with pytest.raises(InputError, match="a class named 'Neutral': mpt-live labels every window outside an event"):
        load_dataset("csv", tmp_path)


def test_a_library_reraising_our_stop_as_a_plain_keyboardinterrupt_keeps_the_signals_name():
    """Ray's ray.wait catches the exception our SIGTERM handler raises and raises a KeyboardInterrupt of its
    own: the run must still report SIGTERM and exit 143, not SIGINT / 130."""
    import os
    import signal

    from mpt_live.interrupts import exit_code, signal_name, stop_signals

    with stop_signals():
        try:
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(1000):  # the handler runs between bytecodes
                    pass
            except KeyboardInterrupt:
                raise KeyboardInterrupt from None  # what the library does with it
        except KeyboardInterrupt as e:
            assert type(e) is KeyboardInterrupt
            assert signal_name(e) == "SIGTERM" and exit_code(e) == 143
    assert signal_name(KeyboardInterrupt()) == "SIGINT"  # outside: a plain Ctrl-C


def test_two_batches_into_one_out_folder_refused_while_the_first_runs(tmp_path):
    """The second batch into an --out that a live batch holds is refused in one line; a marker left by a
    killed batch is not in the way; the marker is gone when the batch ends."""
    import json as _json
    import socket
    import subprocess

    from mpt_live.rundir import BATCH_MARKER, claim_batch

    out = tmp_path / "o"
    with claim_batch(out):
        assert (out / BATCH_MARKER).is_file()
    assert not (out / BATCH_MARKER).exists()
    other = subprocess.Popen(["sleep", "30"])
    try:
        (out / BATCH_MARKER).write_text(_json.dumps({"status": "running", "pid": other.pid,
                                                     "host": socket.gethostname()}))
        with pytest.raises(InputError, match=rf"another batch \(process {other.pid}\) is writing there"):
            with claim_batch(out):
                pass
    finally:
        other.kill()
        other.wait()
    with claim_batch(out):  # that process is gone: its marker is stale
        pass


def test_a_model_refused_while_loading_leaves_no_empty_out_folder(tmp_path, run_main) -> None:
    # the --out folders were made before the model was read: a bad --model left them behind, empty
    import cv2
    import numpy as np

    video = tmp_path / "v.avi"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 64))
    for i in range(5):
        w.write(np.full((64, 64, 3), 40 * i, np.uint8))
    w.release()
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"junk\n")
    (tmp_path / "kept").mkdir()
    for out in (tmp_path / "new" / "run", tmp_path / "kept"):
        status, lines = run_main("mpt_live.cli", "--video", str(video), "--model", str(bad), "--out", str(out))
        assert status == 2 and len(lines) == 1 and "bad.onnx" in lines[0], lines
    assert not (tmp_path / "new").exists()
    assert (tmp_path / "kept").is_dir()  # a folder that was there before is never removed


def test_run_main_sees_what_a_process_would_print(tmp_path, monkeypatch, run_main) -> None:
    # the in-process runner of the one-line checks read sys.stderr only: a Python warning, a log record and a C-level
    # write to the descriptor, all shown by a real process, passed as no output
    (tmp_path / "noisy_tool.py").write_text(
        "import logging, os, sys, warnings\n"
        "def main():\n"
        "    warnings.warn('a stray warning')\n"
        "    logging.getLogger('lib').warning('a stray log line')\n"
        "    os.write(2, b'a raw write\\n')\n"
        "    print('error: the one line', file=sys.stderr)\n"
        "    sys.exit(2)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    status, lines = run_main("noisy_tool")
    assert status == 2 and len(lines) == 4, lines
    assert any("a stray warning" in ln for ln in lines) and any("a stray log line" in ln for ln in lines)
    assert any("a raw write" in ln for ln in lines) and "error: the one line" in lines


def test_an_ogg_file_cut_where_a_page_ends_is_named_by_its_missing_last_page(tmp_path):
    """An Ogg file cut exactly at a page's end (a recorder killed between pages) states its last whole page's time as
    its end: read as complete. Its stream's end-of-stream page is missing; an Ogg video with sound needs both."""
    whole, cut = tmp_path / "take.ogv", tmp_path / "cut.ogv"
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=30:d=3", "-f", "lavfi", "-i", "sine=d=3", "-c:v", "libtheora",
              "-c:a", "libvorbis", str(whole))
    data = whole.read_bytes()
    cut.write_bytes(data[: data.rfind(b"OggS", 0, len(data) * 2 // 3)])
    with VideoFile(whole) as v:
        assert sum(1 for _ in v) == 90 and v.error is None, v.error
    with VideoFile(cut) as v:
        n = sum(1 for _ in v)
    assert 30 < n < 90
    assert v.error == (f"{cut}: ends before the last page of its streams ({cut.stat().st_size} bytes, no end-of-stream "
                       f"page), after {n} frames ({v.duration_s:.2f} s): the file is truncated or damaged (cut off "
                       "while it was written or copied)")
