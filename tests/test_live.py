"""The session engine end to end on real clips (headless), the model worker's queueing, crash safety."""

from __future__ import annotations

import csv
import json
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import still_session_stopped
from mpt_live.batch import output_dirs, run_batch
from mpt_live.clip import ClipSpec
from mpt_live.clip_stream import Window
from mpt_live.job import run_job
from mpt_live.model_worker import ModelWorker
from mpt_live.results import columns
from mpt_live.runtime import demo_model_path
from mpt_live.session import SessionConfig
from mpt_live.sources import VideoFile
from tinymodel import tiny_onnx


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    """The bundled demo model when it exists, else a tiny model built here."""
    from mpt_live.runtime import MPTRuntime

    path = demo_model_path()
    if not path.is_file():
        path = tiny_onnx(tmp_path_factory.mktemp("model") / "tiny.onnx")
    return MPTRuntime(path, device="cpu")


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as fh:
        r = csv.DictReader(fh)
        return list(r.fieldnames or []), list(r)


def test_end_to_end_headless_on_a_real_clip(faces_dir, runtime, tmp_path):
    from rich.console import Console

    video = faces_dir / "videos" / "pyfeat_single_face.mp4"
    done, failed = run_batch(str(video), tmp_path, runtime, SessionConfig(), Console(quiet=True), save_video=True)
    assert not failed and len(done) == 1
    cols, rows = _read_csv(tmp_path / "predictions.csv")
    assert cols == columns(runtime.classes)
    assert cols[:8] == ["time_s", "frame", "face_id", "x", "y", "w", "h", "motion_score"] and cols[-2:] == ["top", "confidence"]
    with VideoFile(video) as src:
        n = src.frame_count
    assert len(rows) == (n + 1) // 2  # stride 2, every window in order
    frames = [int(r["frame"]) for r in rows]
    assert frames == sorted(frames)
    scored = [r for r in rows if r["p_" + runtime.classes[0]]]
    assert len(scored) >= len(rows) // 2
    for r in scored:
        assert sum(float(r[f"p_{c}"]) for c in runtime.classes) == pytest.approx(1.0, abs=1e-3)
        assert r["top"] in (*runtime.classes, "neutral")
        assert r["face_id"] == "0" and int(r["w"]) > 50
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["model"]["demo"] is runtime.demo and summary["provider"] == "CPUExecutionProvider"
    assert summary["frames_read"] == n and summary["windows"] == len(rows) and not summary["interrupted"]
    assert sum(v["windows"] for v in summary["labels"].values()) == len(rows)
    assert abs(sum(v["share"] for v in summary["labels"].values()) - 1) < 1e-3
    assert isinstance(summary["events"], list) and summary["fps"] > 0
    assert cv2.imread(str(tmp_path / "timeline.png")) is not None
    cap = cv2.VideoCapture(str(tmp_path / "annotated.mp4"))
    ok, img = cap.read()
    assert ok and img.shape == (360, 640, 3)
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == n


def test_face_then_cartoon_gives_no_face_rows(faces_dir, runtime, tmp_path):
    video = faces_dir / "videos" / "pyfeat_face_noface.mov"
    with VideoFile(video) as src:
        summary = run_job(src, runtime, SessionConfig(stride=4), tmp_path)
    _, rows = _read_csv(tmp_path / "predictions.csv")
    late = [r for r in rows if float(r["time_s"]) > 3.0]  # the cartoon part
    early = [r for r in rows if float(r["time_s"]) < 2.0]
    assert late and sum(r["face_id"] == "" for r in late) >= 0.9 * len(late)
    assert all(r["face_id"] == "0" for r in early)
    for r in late:
        if r["face_id"] == "":
            assert r["motion_score"] == "" and r["top"] == "" and r["x"] == ""
    assert summary["labels"]["no face"]["windows"] >= len(late) * 0.9
    assert not summary["error"]


def test_batch_continues_after_a_broken_video(faces_dir, runtime, tmp_path):
    from rich.console import Console

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_broken.mp4").write_bytes(b"not a video at all")
    (folder / "b_good.mp4").symlink_to(faces_dir / "videos" / "pyfeat_single_face.mp4")
    done, failed = run_batch(str(folder), tmp_path / "out", runtime, SessionConfig(stride=8), Console(quiet=True))
    assert [p.name for p, _ in failed] == ["a_broken.mp4"] and "a_broken.mp4" in failed[0][1]
    assert [(p.name, d) for p, d, _ in done] == [("b_good.mp4", tmp_path / "out" / "b_good")]
    assert (tmp_path / "out" / "b_good" / "predictions.csv").is_file()
    assert (tmp_path / "out" / "b_good" / "summary.json").is_file()
    # the failure is on disk too (the console may be long gone after an overnight batch)
    rows = (tmp_path / "out" / "failed.csv").read_text().splitlines()
    assert rows[0] == "video,reason" and len(rows) == 2 and rows[1].startswith(str(folder / "a_broken.mp4") + ",")


def test_output_dirs_are_unique():
    dirs = output_dirs([Path("a/x.mp4"), Path("b/x.mp4"), Path("y.mov")], Path("o"))  # several folders: their paths
    assert dirs == [Path("o/a/x"), Path("o/b/x"), Path("o/y")]
    dirs = output_dirs([Path("a/x.mp4"), Path("a/x.mov"), Path("a/y.mov")], Path("o"))  # one folder: stems
    assert dirs == [Path("o/x_mp4"), Path("o/x_mov"), Path("o/y")]
    assert output_dirs([Path("a/x.mp4")], Path("o")) == [Path("o")]
    # a name made unique must not be another video's own name (a.mov, a.mp4 and a_2.mp4 once shared a_2),
    # nor differ from one only in case (one folder on a case-blind disk)
    dirs = output_dirs([Path("v/a.mov"), Path("v/a.mp4"), Path("v/a_2.mp4"), Path("v/a_mp4.avi"), Path("v/A.mp4")],
                       Path("o"))
    assert len({str(d).casefold() for d in dirs}) == 5, dirs
    assert dirs[2] == Path("o/a_2") and dirs[3] == Path("o/a_mp4")


class _Crash(Exception):
    pass


class _FramesThen:
    """A recorded video that raises ``exc`` when frame ``n`` is due (a decoder dying, or Ctrl-C)."""

    live, fps = False, 30.0

    def __init__(self, video: Path, n: int, exc: BaseException) -> None:
        self.name, self.video, self.n, self.exc = str(video), video, n, exc

    def __iter__(self):
        with VideoFile(self.video) as src:
            for f in src:
                if f.index == self.n:
                    raise self.exc
                yield f


@pytest.mark.parametrize("exc", [_Crash("decoder died"), KeyboardInterrupt()])
def test_crash_or_ctrl_c_keeps_a_valid_csv_and_summary(faces_dir, runtime, tmp_path, exc):
    video = faces_dir / "videos" / "pyfeat_single_face.mp4"
    with pytest.raises(type(exc)):
        run_job(_FramesThen(video, 40, exc), runtime, SessionConfig(stride=4), tmp_path)
    cols, rows = _read_csv(tmp_path / "predictions.csv")
    assert cols == columns(runtime.classes) and len(rows) == 10  # frames 0..39, stride 4: every submitted window
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["frames_read"] == 40
    ctrl_c = isinstance(exc, KeyboardInterrupt)
    assert summary["interrupted"] is ctrl_c
    assert summary["error"] == (None if ctrl_c else "_Crash: decoder died")
    assert summary["windows"] == 10 and (tmp_path / "timeline.png").is_file()


class _CountingThreads:
    """A recorded video that notes OpenCV's thread count while its frames are read."""

    live, fps = False, 30.0

    def __init__(self, video: Path, frames: int) -> None:
        self.name, self.video, self.frames, self.seen = str(video), video, frames, set()

    def __iter__(self):
        with VideoFile(self.video) as src:
            for f in src:
                if f.index >= self.frames:
                    return
                self.seen.add(cv2.getNumThreads())
                yield f


def test_a_run_keeps_opencv_on_one_thread_and_gives_the_callers_count_back(faces_dir, tmp_path):
    before = cv2.getNumThreads()
    cv2.setNumThreads(3)
    try:
        src = _CountingThreads(faces_dir / "videos" / "pyfeat_single_face.mp4", 20)
        run_job(src, None, SessionConfig(stride=4), tmp_path)
        assert src.seen == {1}
        assert cv2.getNumThreads() == 3
    finally:
        cv2.setNumThreads(before)


class _FailsWhenReleased:
    """The model of ``rt`` whose first call waits for ``release``, then fails."""

    def __init__(self, rt) -> None:
        self.rt, self.started, self.release = rt, threading.Event(), threading.Event()

    def __getattr__(self, name):
        return getattr(self.rt, name)

    def predict(self, d, m):
        self.started.set()
        self.release.wait(timeout=30)
        raise RuntimeError("boom")


def test_a_quit_after_the_model_failed_is_a_failed_run(faces_dir, runtime):
    """q (StopSession) on the frame where the model worker failed: the run used to end as if complete, its
    windows and events silently unclassified; the failure is now the run's error."""
    from mpt_live.session import Session, StopSession

    model = _FailsWhenReleased(runtime)

    def on_frame(frame, faces):
        if model.started.is_set():
            model.release.set()
            deadline = time.monotonic() + 30
            while session.worker.error is None and time.monotonic() < deadline:
                time.sleep(0.01)
            raise StopSession

    with VideoFile(faces_dir / "videos" / "pyfeat_single_face.mp4") as src, \
            Session(src, model, SessionConfig(stride=4), on_frame=on_frame) as session:
        list(session)
    summary = session.summary()
    assert not summary["interrupted"] and "boom" in (summary["error"] or ""), summary["error"]


class _SlowModel:
    classes = ["a", "b"]

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def predict(self, d, m):
        time.sleep(self.delay)
        return np.tile(np.array([[0.25, 0.75]], np.float32), (len(d), 1))


def _windows(n: int, spec: ClipSpec):
    clip = np.full((spec.frames, spec.image_size, spec.image_size, 3), 100, np.float32)
    return [Window(i / 10, i, None, clip) for i in range(n)]


class _HeldModel(_SlowModel):
    """A model that holds its first window until released: the worker is busy for as long as the test wants."""

    def __init__(self) -> None:
        super().__init__(0.0)
        self.release = threading.Event()
        self.started = threading.Event()

    def predict(self, d, m):
        self.started.set()
        self.release.wait(timeout=30)  # a bound against a hang, not a timing figure
        return super().predict(d, m)


def test_model_worker_live_latest_window_wins():
    spec = ClipSpec()
    model = _HeldModel()
    p = ModelWorker(spec, model, live=True)
    try:
        wins = _windows(10, spec)
        p.submit(wins[0], 0.0)
        assert model.started.wait(timeout=30)
        for w in wins[1:]:  # the worker is busy: each submit returns at once, replacing the waiting window
            p.submit(w, 0.0)
        assert p.dropped == 8 and not p.idle and p.poll() == []
        model.release.set()
        res = p.drain(timeout=30)
    finally:
        p.close()
    assert [r.frame for r in res] == [0, 9]  # the first one that was running, then the newest
    assert res[-1].probs.tolist() == [0.25, 0.75] and res[-1].classes == ("a", "b")


def test_model_worker_live_latest_window_per_face_and_event_windows_kept():
    """Live, two faces: the newest window of each face wins (not the newest of all), an event's apex window
    is never replaced."""
    spec = ClipSpec()
    model = _HeldModel()
    p = ModelWorker(spec, model, live=True)
    clip = np.full((spec.frames, spec.image_size, spec.image_size, 3), 100, np.float32)
    win = lambda i, face, event=None: Window(i / 10, i, None, clip, face_id=face, event=event)  # noqa: E731
    try:
        p.submit(win(0, 0), 0.0)
        assert model.started.wait(timeout=30)
        for i in range(1, 7):  # faces 0 and 1 in turn, and an event of face 0 in the middle
            p.submit(win(i, i % 2), 0.0)
            if i == 3:
                p.submit(win(100, 0, event="apex of an event"), 0.0)
        assert p.dropped == 4
        model.release.set()
        res = p.drain(timeout=30)
    finally:
        p.close()
    assert [(r.frame, r.face_id, r.for_event) for r in res] == [
        (0, 0, None), (100, 0, "apex of an event"), (5, 1, None), (6, 0, None)]


def test_model_worker_files_every_window_in_order():
    spec = ClipSpec()
    p = ModelWorker(spec, _SlowModel(0.01), live=False)
    captured = time.monotonic() - 1.0
    try:
        for w in _windows(12, spec):
            p.submit(w, captured)
        res = p.drain(timeout=30)
    finally:
        p.close()
    assert [r.frame for r in res] == list(range(12)) and p.dropped == 0
    assert all(r.motion_score == 0.0 for r in res)  # a still clip has no motion
    assert all(r.latency_ms >= 1000.0 for r in res)  # measured from the capture time handed in
    assert all({"queue_ms", "inputs_ms", "model_ms"} <= set(r.timings) for r in res)


def test_model_worker_motion_only_scores_without_a_model():
    spec = ClipSpec()
    p = ModelWorker(spec, None, live=False)
    try:
        for w in _windows(3, spec):
            p.submit(w, 0.0)
        res = p.drain(timeout=30)
    finally:
        p.close()
    assert [r.frame for r in res] == [0, 1, 2]
    assert all(r.probs is None and r.motion_score == 0.0 and "model_ms" not in r.timings for r in res)


def test_model_worker_reports_a_model_failure():
    class Broken:
        classes = ["a"]

        def predict(self, d, m):
            raise RuntimeError("boom")

    spec = ClipSpec()
    p = ModelWorker(spec, Broken(), live=False)
    try:
        p.submit(_windows(1, spec)[0], 0.0)
        with pytest.raises(RuntimeError, match="model worker failed: RuntimeError: boom"):
            p.drain(timeout=30)
        with pytest.raises(RuntimeError, match="model worker failed: RuntimeError: boom"):
            p.submit(_windows(1, spec)[0], 0.0)
    finally:
        p.close()


def test_realtime_file_behaves_like_a_camera(faces_dir, runtime, tmp_path):
    from mpt_live.paced_video import PacedVideoReader

    video = faces_dir / "videos" / "retalking_3_talking.mp4"  # 125 frames at 25 fps: 5 s
    with PacedVideoReader(video, speed=2.0) as reader:  # paced (tests/test_capture.py checks the pacing)
        summary = run_job(reader, runtime, SessionConfig(), tmp_path)
    assert summary["mode"] == "live" and summary["stride"] == "auto"
    # every frame was either processed or dropped by the newest-frame reader, none queued up
    assert summary["frames_read"] + summary["capture"]["dropped"] == 125
    # each frame was decoded, or skipped undecoded when the reader fell behind the clock (a loaded machine)
    cap = summary["capture"]
    assert cap["captured"] + cap["skipped_undecoded"] == 125 and cap["error"] is None
    assert summary["windows_classified"] >= 3  # 4 s of full windows, classified as often as the model keeps up
    assert summary["latency_ms"]["capture_to_prediction_p95"] is not None
    _, rows = _read_csv(tmp_path / "predictions.csv")
    assert len(rows) == summary["windows"]


def test_window_keys_snapshot_record_pause_quit(faces_dir, runtime, tmp_path, monkeypatch):
    """The display path with cv2's window calls stubbed (no display in CI): s, r ... r, space ... space, q."""
    import mpt_live.window as window_mod

    shown: list[np.ndarray] = []
    script = {2: "s", 4: "r", 10: "r", 12: " ", 20: "q"}
    paused_keys = iter([-1, -1, ord(" ")])
    state = {"frame": 0, "in_pause": False}

    def imshow(title, img):
        shown.append(img)

    def wait_key(ms):
        if ms == 50:  # paused: two idle polls, then space again
            return next(paused_keys)
        state["frame"] += 1
        k = script.get(state["frame"])
        return ord(k) if k else -1

    monkeypatch.setattr(window_mod.cv2, "namedWindow", lambda *a: None)
    monkeypatch.setattr(window_mod.cv2, "destroyWindow", lambda *a: None)
    monkeypatch.setattr(window_mod.cv2, "imshow", imshow)
    monkeypatch.setattr(window_mod.cv2, "waitKey", wait_key)
    video = faces_dir / "videos" / "pyfeat_single_face.mp4"
    with VideoFile(video) as src:
        summary = run_job(src, runtime, SessionConfig(stride=4), tmp_path, display=True)
    assert summary["frames_read"] == 20 and not summary["interrupted"]  # q stops cleanly
    assert len(shown) == 20 + 2 + 1  # 20 frames, plus the paused redraws
    assert all(im.shape == (360, 640, 3) for im in shown)
    snaps = [Path(p) for p in summary["outputs"]["snapshots"]]
    recs = [Path(p) for p in summary["outputs"]["recordings"]]
    assert len(snaps) == 1 and cv2.imread(str(snaps[0])).shape == (360, 640, 3)
    assert len(recs) == 1
    cap = cv2.VideoCapture(str(recs[0]))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 6  # frames 5..10 were recorded
    _, rows = _read_csv(tmp_path / "predictions.csv")
    assert len(rows) == 5  # frames 0, 4, 8, 12, 16


def test_window_snapshot_that_cannot_be_written_is_not_listed(tmp_path, monkeypatch):
    """s when cv2.imwrite fails: no snapshot in summary.json's outputs and no 'saved' message (both claimed
    a file that was not there)."""
    import mpt_live.window as window_mod
    from mpt_live.results import ModelInfo
    from mpt_live.view import OverlayView

    monkeypatch.setattr(window_mod.cv2, "imwrite", lambda *a: False)
    view = OverlayView(ModelInfo())
    w = window_mod.DisplayWindow(tmp_path, 30.0, view)
    w.key(ord("s"), np.zeros((8, 8, 3), np.uint8))
    assert w.snapshots == [] and "not saved" in view.message[0]


def test_window_recording_that_cannot_be_finished_says_so_and_ends(tmp_path, monkeypatch):
    """r, then r again when the recording's last write fails (a full disk): the window says the recording
    stopped and why (not 'saved'), and the run goes on without a recorder."""
    import mpt_live.window as window_mod
    from mpt_live.errors import OutputError
    from mpt_live.results import ModelInfo
    from mpt_live.view import OverlayView

    def full(self):
        raise OutputError(f"{self.path}: could not write its last frames (No space left on device)")

    monkeypatch.setattr(window_mod.VideoSink, "close", full)
    view = OverlayView(ModelInfo())
    w = window_mod.DisplayWindow(tmp_path, 30.0, view)
    img = np.zeros((8, 8, 3), np.uint8)
    w.key(ord("r"), img)
    assert w.recording
    w.key(ord("r"), img)
    assert not w.recording and view.message[0].startswith("recording stopped:") and "No space left" in view.message[0]


@pytest.mark.parametrize("live", [False, True])
def test_model_worker_two_workers_keep_submission_order(live):
    spec = ClipSpec()

    class Jittery(_SlowModel):
        def predict(self, d, m):
            time.sleep(0.005 + 0.02 * np.random.default_rng().random())
            return super().predict(d, m)

    p = ModelWorker(spec, Jittery(0.0), live=live, workers=2)
    try:
        for w in _windows(16, spec):
            p.submit(w, time.monotonic())
            if live:
                time.sleep(0.004)
        res = p.drain(timeout=30)
    finally:
        p.close()
    frames = [r.frame for r in res]
    assert frames == sorted(frames) and frames[-1] == 15
    assert len(frames) == 16 if not live else len(frames) + p.dropped == 16


def test_a_run_quit_with_q_is_not_called_too_short_to_spot(faces_dir):
    # q/Esc (StopSession) after 1 s of an 8 s video: the warnings said the recording was too short to spot movements,
    # as of a video that ends there, and blamed the video for the windows it never classified
    from mpt_live.run_summary import run_warnings

    session = still_session_stopped(faces_dir, 1.0)
    assert session.stopped and not session.interrupted
    said = [w for w in run_warnings(session) if "spotter" in w or "spot movements" in w]
    assert len(said) == 1 and "stopped before the spotter could judge a frame" in said[0], run_warnings(session)
