"""The live loop end to end on real clips (headless), the model worker's queueing, crash safety."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from mpt_live.clip import ClipSpec
from mpt_live.live import LiveConfig, prediction_columns, run_session
from mpt_live.predictor import Predictor
from mpt_live.runner import demo_model_path, output_dirs, run_videos
from mpt_live.sources import VideoFile
from mpt_live.stream import Window
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
    cfg = LiveConfig(save_video=True)
    done, failed = run_videos(str(video), tmp_path, runtime, cfg, Console(quiet=True))
    assert not failed and len(done) == 1
    cols, rows = _read_csv(tmp_path / "predictions.csv")
    assert cols == prediction_columns(runtime.classes)
    assert cols[:8] == ["time_s", "frame", "face", "x", "y", "w", "h", "motion_score"] and cols[-2:] == ["top", "confidence"]
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
        assert r["face"] == "1" and int(r["w"]) > 50
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
        summary = run_session(src, name=str(video), runtime=runtime, live=False, source_fps=src.fps,
                              cfg=LiveConfig(out_dir=tmp_path, stride=4))
    _, rows = _read_csv(tmp_path / "predictions.csv")
    late = [r for r in rows if float(r["time_s"]) > 3.0]  # the cartoon part
    early = [r for r in rows if float(r["time_s"]) < 2.0]
    assert late and sum(r["face"] == "0" for r in late) >= 0.9 * len(late)
    assert all(r["face"] == "1" for r in early)
    for r in late:
        if r["face"] == "0":
            assert r["motion_score"] == "" and r["top"] == "" and r["x"] == ""
    assert summary["labels"]["no face"]["windows"] >= len(late) * 0.9
    assert not summary["error"]


def test_batch_continues_after_a_broken_video(faces_dir, runtime, tmp_path):
    from rich.console import Console

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_broken.mp4").write_bytes(b"not a video at all")
    (folder / "b_good.mp4").symlink_to(faces_dir / "videos" / "pyfeat_single_face.mp4")
    done, failed = run_videos(str(folder), tmp_path / "out", runtime, LiveConfig(stride=8), Console(quiet=True))
    assert [p.name for p, _ in failed] == ["a_broken.mp4"] and "a_broken.mp4" in failed[0][1]
    assert [p.name for p, _ in done] == ["b_good.mp4"]
    assert (tmp_path / "out" / "b_good" / "predictions.csv").is_file()
    assert (tmp_path / "out" / "b_good" / "summary.json").is_file()


def test_output_dirs_are_unique():
    dirs = output_dirs([Path("a/x.mp4"), Path("b/x.mp4"), Path("y.mov")], Path("o"))
    assert dirs == [Path("o/x"), Path("o/x_2"), Path("o/y")]
    assert output_dirs([Path("a/x.mp4")], Path("o")) == [Path("o")]


class _Crash(Exception):
    pass


def _frames_then(video: Path, n: int, exc: BaseException):
    with VideoFile(video) as src:
        for f in src:
            if f.index == n:
                raise exc
            yield f


@pytest.mark.parametrize("exc", [_Crash("decoder died"), KeyboardInterrupt()])
def test_crash_or_ctrl_c_keeps_a_valid_csv_and_summary(faces_dir, runtime, tmp_path, exc):
    video = faces_dir / "videos" / "pyfeat_single_face.mp4"
    with pytest.raises(type(exc)):
        run_session(_frames_then(video, 40, exc), name=str(video), runtime=runtime, live=False, source_fps=30.0,
                    cfg=LiveConfig(out_dir=tmp_path, stride=4))
    cols, rows = _read_csv(tmp_path / "predictions.csv")
    assert cols == prediction_columns(runtime.classes) and len(rows) == 10  # frames 0..39, stride 4
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["frames_read"] == 40
    if isinstance(exc, KeyboardInterrupt):
        assert summary["interrupted"] and summary["error"] is None
    else:
        assert "decoder died" in summary["error"]
    assert (tmp_path / "timeline.png").is_file()


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


def test_predictor_live_latest_window_wins():
    spec = ClipSpec()
    p = Predictor(spec, _SlowModel(0.15), live=True)
    try:
        t0 = time.monotonic()
        for w in _windows(10, spec):
            p.submit(w, time.monotonic())
            time.sleep(0.01)
        assert time.monotonic() - t0 < 0.5, "submit never blocks on a live source"
        res = p.drain(timeout=5)
    finally:
        p.close()
    frames = [r.frame for r in res]
    assert frames[0] == 0 and frames[-1] == 9  # the first one started at once; the newest one won
    assert frames == sorted(frames) and len(frames) <= 3 and p.dropped == 10 - len(frames)
    assert res[-1].probs.tolist() == [0.25, 0.75] and res[-1].latency_ms > 100


def test_predictor_files_every_window_in_order():
    spec = ClipSpec()
    p = Predictor(spec, _SlowModel(0.01), live=False)
    try:
        for w in _windows(12, spec):
            p.submit(w, time.monotonic())
        res = p.drain(timeout=10)
    finally:
        p.close()
    assert [r.frame for r in res] == list(range(12)) and p.dropped == 0
    assert all(r.motion_score == 0.0 for r in res)  # a still clip has no motion


def test_predictor_reports_a_model_failure():
    class Broken:
        classes = ["a"]

        def predict(self, d, m):
            raise RuntimeError("boom")

    spec = ClipSpec()
    p = Predictor(spec, Broken(), live=False)
    try:
        p.submit(_windows(1, spec)[0], 0.0)
        with pytest.raises(RuntimeError, match="model worker failed: RuntimeError: boom"):
            for _ in range(50):
                p.submit(_windows(1, spec)[0], 0.0)
                time.sleep(0.02)
    finally:
        p.close()


def test_realtime_file_behaves_like_a_camera(faces_dir, runtime, tmp_path):
    from rich.console import Console

    from mpt_live.capture import PacedVideoReader
    from mpt_live.runner import run_live_source

    video = faces_dir / "videos" / "retalking_3_talking.mp4"  # 125 frames at 25 fps: 5 s
    reader = PacedVideoReader(video)
    t0 = time.monotonic()
    summary = run_live_source(reader, str(video), runtime, LiveConfig(out_dir=tmp_path, status=True),
                              Console(quiet=True))
    wall = time.monotonic() - t0
    assert 4.8 <= wall <= 9.0  # played at its own pace, not as fast as possible
    assert summary["mode"] == "live" and summary["stride"] == "auto"
    assert summary["frames_read"] + summary["capture"]["dropped"] == 125
    assert summary["windows_classified"] >= 3  # 4 s of full windows, classified as often as the model keeps up
    assert summary["latency_ms"]["capture_to_prediction_p95"] is not None
    _, rows = _read_csv(tmp_path / "predictions.csv")
    assert len(rows) == summary["windows"]


def test_window_keys_snapshot_record_pause_quit(faces_dir, runtime, tmp_path, monkeypatch):
    """The display path with cv2's window calls stubbed (no display in CI): s, r ... r, space ... space, q."""
    import mpt_live.live as live_mod

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

    monkeypatch.setattr(live_mod.cv2, "namedWindow", lambda *a: None)
    monkeypatch.setattr(live_mod.cv2, "destroyWindow", lambda *a: None)
    monkeypatch.setattr(live_mod.cv2, "imshow", imshow)
    monkeypatch.setattr(live_mod.cv2, "waitKey", wait_key)
    video = faces_dir / "videos" / "pyfeat_single_face.mp4"
    with VideoFile(video) as src:
        summary = run_session(src, name=str(video), runtime=runtime, live=False, source_fps=src.fps,
                              cfg=LiveConfig(out_dir=tmp_path, display=True, stride=4))
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


@pytest.mark.parametrize("live", [False, True])
def test_predictor_two_workers_keep_submission_order(live):
    spec = ClipSpec()

    class Jittery(_SlowModel):
        def predict(self, d, m):
            time.sleep(0.005 + 0.02 * np.random.default_rng().random())
            return super().predict(d, m)

    p = Predictor(spec, Jittery(0.0), live=live, workers=2)
    try:
        for w in _windows(16, spec):
            p.submit(w, time.monotonic())
            if live:
                time.sleep(0.004)
        res = p.drain(timeout=10)
    finally:
        p.close()
    frames = [r.frame for r in res]
    assert frames == sorted(frames) and frames[-1] == 15
    assert len(frames) == 16 if not live else len(frames) + p.dropped == 16
