"""Live readers: newest frame only, capture timestamps, reconnect with backoff, paced files."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from mpt_live.capture import CaptureReader, LiveFrame, open_camera
from mpt_live.paced_video import PacedVideoReader
from mpt_live.errors import InputError


class FakeCapture:
    """cv2.VideoCapture-like: yields ``n`` frames (pixel value = frame number), ``delay`` s apart."""

    def __init__(self, n: int = 10, delay: float = 0.0, opened: bool = True, start: int = 0) -> None:
        self.n, self.delay, self.opened, self.i, self.start = n, delay, opened, 0, start
        self.released = False

    def isOpened(self) -> bool:  # noqa: N802
        return self.opened

    def read(self):
        if self.i >= self.n:
            return False, None
        if self.delay:
            time.sleep(self.delay)
        img = np.full((4, 4, 3), (self.start + self.i) % 256, np.uint8)
        self.i += 1
        return True, img

    def grab(self) -> bool:
        return self.read()[0]

    def get(self, prop: int) -> float:
        return 25.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self) -> None:
        self.released = True


def test_unopenable_camera_is_one_line_input_error():
    with pytest.raises(InputError) as e:
        open_camera(97)  # no such device here (and none in CI)
    assert str(e.value).startswith("camera 97: could not be opened") and "\n" not in str(e.value)


def test_reader_keeps_only_the_newest_frame():
    cap = FakeCapture(n=30, delay=0.002)
    with CaptureReader(lambda: cap, "fake", reconnect=False) as r:
        assert r.fps == 25.0
        for _ in range(3000):  # a slow consumer: wait until the producer has published everything
            if r.captured == 30:
                break
            time.sleep(0.01)
        f = r.read(timeout=1)  # published: no waiting
        assert isinstance(f, LiveFrame) and int(f.image[0, 0, 0]) == 29  # the newest, not the oldest
        # ended; no backlog left behind (a bound against a hang: the end comes as soon as the thread runs)
        assert r.read(timeout=30) is None and r.ended
    assert r.dropped == 29 and r.captured == 30 and r.delivered == 1
    assert r.error == "fake: stream ended"
    assert cap.released


def test_capture_timestamps_are_monotonic_and_increasing():
    with CaptureReader(lambda: FakeCapture(n=20, delay=0.003), "fake", reconnect=False) as r:
        frames = list(r)
    assert frames, "a fast consumer sees frames"
    ts = [f.t for f in frames]
    assert all(b > a for a, b in zip(ts, ts[1:]))
    assert all(abs((f.captured - frames[0].captured) - (f.t - frames[0].t)) < 1e-6 for f in frames)
    assert frames[-1].captured <= time.monotonic()


class FakeTime:
    """A clock that only moves when told: ``sleep`` (or ``advance``) moves it, nothing else does."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _until_taken(reader) -> None:
    """Until the consumer has taken the frame waiting in ``reader``'s slot (or the reader stopped): a consumer
    that keeps up, however long a loaded machine keeps its thread from running."""
    deadline = time.monotonic() + 30  # a bound against a hang, not a timing figure
    while reader.pending and not reader.stopping and time.monotonic() < deadline:
        time.sleep(0.001)


class _ReadPacedSleep:
    """A FakeTime's ``sleep`` for a paced reader: once ``reader`` is set, the clock moves on only after the consumer
    has taken the frame published last, so no frame is overwritten because the consumer thread was not scheduled
    in time (with the bare FakeTime the reader publishes as fast as it decodes)."""

    def __init__(self, fake: FakeTime) -> None:
        self.fake, self.reader = fake, None

    def __call__(self, seconds: float) -> None:
        if self.reader is not None:
            _until_taken(self.reader)
        self.fake.sleep(seconds)


def test_reconnects_after_a_drop_with_backoff():
    opens = []

    def opener():
        k = len(opens)
        opens.append(k)
        if k in (1, 2) or k >= 4:  # down for two attempts after the first drop, then for good
            return FakeCapture(opened=False)
        return FakeCapture(n=3, delay=0.002, start=10 * k)

    fake = FakeTime()
    def sleep(seconds: float) -> None:  # the waits between reopens pass on the FakeTime, each once the consumer
        _until_taken(r)                  # has taken the frame published before it
        fake.sleep(seconds)

    r = CaptureReader(opener, "rtsp://fake", backoff=(0.01, 0.04), give_up_s=0.3, clock=fake, sleep=sleep)
    seen = []
    with r:
        for f in r:
            seen.append((f.segment, int(f.image[0, 0, 0])))
    assert r.reconnects == 1
    segments = {s for s, _ in seen}
    assert segments == {0, 1}  # frames from before and after the reconnect
    assert any(v >= 30 for s, v in seen if s == 1)  # the third open delivered frames
    # exponential backoff between failed opens, capped, restarting at the first delay after each drop
    assert fake.sleeps[:3] == [0.01, 0.02, 0.04] and fake.sleeps[3:6] == [0.01, 0.02, 0.04]
    assert max(fake.sleeps) == 0.04 and sum(fake.sleeps[3:]) == pytest.approx(0.31, abs=0.04)
    assert r.error == "rtsp://fake: stream dropped and did not come back within 0.3 s"


def test_first_open_failure_raises():
    with pytest.raises(InputError, match="rtsp://x: could not be opened"):
        CaptureReader(lambda: FakeCapture(opened=False), "rtsp://x")


def test_close_stops_a_blocked_consumer():
    r = CaptureReader(lambda: FakeCapture(n=10**9, delay=0.01), "fake").start()
    assert r.read(timeout=30) is not None  # a bound against a hang, not a timing figure
    closer = threading.Timer(0.05, r.close)
    closer.start()
    for delivered in range(1, 10_000):  # an endless camera: only close() ends this loop
        if r.read(timeout=2) is None:
            break
    closer.join()
    assert delivered < 10_000 - 1 and r.ended and r.read(timeout=0) is None  # nothing after close
    assert not r.running  # close() stopped the capture thread (it ran: frames were read)


@pytest.fixture(scope="module")
def small_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("vid") / "count.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 50.0, (32, 24))
    for i in range(40):
        w.write(np.full((24, 32, 3), i * 6, np.uint8))
    w.release()
    return path


def test_paced_file_plays_at_its_own_fps(small_video):
    clock = FakeTime()
    with PacedVideoReader(small_video, clock=clock, sleep=clock.sleep) as r:
        frames = list(r)
    assert r.fps == 50.0
    assert r.captured == 40 and r.skipped == 0  # on schedule: every frame decoded and published
    assert frames and r.delivered + r.dropped == 40
    assert [f.t for f in frames] == pytest.approx([f.index / 50.0 for f in frames], abs=1e-9)  # the container's times
    # frame i is published when the source's clock reaches start + i / fps, no earlier, no later
    assert all(f.captured - 100.0 == pytest.approx(f.index / 50.0, abs=1e-9) for f in frames)
    assert clock.now - 100.0 == pytest.approx(39 / 50.0, abs=1e-9)


def test_paced_file_drops_frames_for_a_slow_consumer(small_video):
    clock = FakeTime()  # moved by the consumer only: 3 frame periods per frame it handles
    with PacedVideoReader(small_video, clock=clock, sleep=lambda s: time.sleep(0.0005)) as r:
        frames = []
        for f in r:
            frames.append(f)
            clock.now += 0.06
    assert 8 <= len(frames) <= 20
    idx = [f.index for f in frames]
    assert idx == sorted(idx) and idx[-1] >= 30  # it kept up with the clock instead of lagging
    assert r.dropped > 15 and r.skipped > 0  # frames the clock had passed were skipped without decoding
    assert all(f.captured >= 100.0 + f.t for f in frames)  # never published before it was due


def test_paced_file_waits_for_its_first_reader(small_video):
    """A session that loads its model for a while after opening the source still sees the first frame."""
    clock = FakeTime()
    sleep = _ReadPacedSleep(clock)  # no consumer yet: the clock moves as the reader sleeps
    with PacedVideoReader(small_video, clock=clock, sleep=sleep) as r:
        time.sleep(0.3)  # the reader thread runs meanwhile; with a clock started at start() it would play on
        clock.now += 5.0  # the wall clock moved on by more than the whole clip while nobody read
        sleep.reader = r  # from the first read on, a consumer that keeps up (the frame 0 was lost under load)
        frames = list(r)
    assert frames[0].index == 0 and frames[0].t == 0.0
    assert [f.index for f in frames] == list(range(40)) and r.dropped == 0
    assert r.captured == 40 and r.skipped == 0


def test_paced_file_that_stops_decoding_is_reported_truncated(small_video, monkeypatch):
    """A frame that no longer decodes ends a --realtime file; its truncation is reported as a VideoFile
    reports it (it used to end silently: the run was 'complete' with a quarter of the video)."""
    import mpt_live.sources as sources

    real = sources.open_capture

    class Breaks:
        def __init__(self, name: str, *args) -> None:
            self.cap, self.n = real(name, *args), 0

        def __getattr__(self, name: str):
            return getattr(self.cap, name)

        def retrieve(self):
            self.n += 1
            return self.cap.retrieve() if self.n <= 10 else (False, None)

    monkeypatch.setattr(sources, "open_capture", Breaks)  # the file's one capture (its first 2 frames: read())
    clock = FakeTime()
    with PacedVideoReader(small_video, clock=clock, sleep=clock.sleep) as r:
        frames = list(r)
    assert len(frames) <= 12 and r.error is not None and "of the 40 frames its header announces" in r.error


@pytest.mark.parametrize("where", [0.02, 0.5])
def test_paced_file_reads_past_a_damaged_stretch_as_the_file_reader_does(tmp_path, where):
    """``--realtime`` on a recording with a few damaged kilobytes: its reader ended at the first frame that did not
    decode (a failed grab), and the run was 'truncated or damaged' with half the video, where the file reader reads
    past the damage with one warning. It reads past it, times the frames after it, warns and judges as that one."""
    from faultkit import write_damaged_mp4

    from mpt_live.sources import VideoFile

    clip = write_damaged_mp4(tmp_path / "take.mp4", where)
    with VideoFile(clip) as v:
        want = {f.index: f.t for f in v}
    clock = FakeTime()
    with PacedVideoReader(clip, clock=clock, sleep=clock.sleep) as r:
        frames = list(r)
    assert r.error is None and v.error is None and r.warnings == v.warnings
    assert len(v.warnings) == 1 and "frames could not be decoded (the file is damaged there)" in v.warnings[0]
    assert r.damaged == v.damaged > 0
    assert frames[-1].index == max(want) and r.delivered + r.dropped == len(want)  # to the end of the file
    assert [f.t for f in frames] == pytest.approx([want[f.index] for f in frames], abs=1e-6)


def test_paced_file_bad_input():
    with pytest.raises(InputError, match="no such file"):
        PacedVideoReader("/nonexistent/clip.mp4")


def test_paced_file_loops_with_time_running_on(small_video):
    frames = []
    with PacedVideoReader(small_video, speed=4.0, loop=True) as r:
        for f in r:
            frames.append(f)
            if f.index >= 90:
                break
    assert r.loops >= 2
    ts = [f.t for f in frames]
    assert all(b > a for a, b in zip(ts, ts[1:]))
    # the clip started again: a frame's picture is its place in the clip (frame k of 40 is k * 6 grey),
    # whichever frames a loaded machine made the reader skip
    assert any(f.index >= 40 for f in frames)
    assert all(abs(int(f.image[0, 0, 0]) - f.index % 40 * 6) <= 6 for f in frames)


def test_real_http_stream_reconnects_after_the_server_drops_it():
    """An MJPEG-over-HTTP server that closes every connection after 20 frames: the reader reopens it."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from mpt_live.capture import open_stream

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            for i in range(20):
                ok, buf = cv2.imencode(".jpg", np.full((48, 64, 3), 10 * i, np.uint8))
                try:
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(buf)
                                     + buf.tobytes() + b"\r\n")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.01)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        r = open_stream(f"http://127.0.0.1:{srv.server_address[1]}/cam.mjpg")
        r.backoff = (0.05, 0.2)
        segments: dict[int, int] = {}
        with r:
            for f in r:
                segments[f.segment] = segments.get(f.segment, 0) + 1
                if len(segments) >= 3:
                    break
        assert r.reconnects >= 2 and segments[0] > 5 and segments[1] > 5
    finally:
        srv.shutdown()


def test_quiet_opencv_blocks_of_two_threads_restore_the_level():
    """The capture thread's reopen and the frame loop's embedding both silence OpenCV; when their blocks
    overlapped (B inside A, A ending first), B restored the silent level A had set: OpenCV stayed silent
    for the rest of the process."""
    from mpt_live.quiet import quiet_opencv

    log = cv2.utils.logging
    before = log.getLogLevel()
    inside, a_done = threading.Event(), threading.Event()

    def b() -> None:
        with quiet_opencv():
            inside.set()
            a_done.wait(timeout=10)

    th = threading.Thread(target=b)
    with quiet_opencv():
        th.start()
        assert inside.wait(timeout=10)
    a_done.set()
    th.join(timeout=10)
    assert log.getLogLevel() == before != log.LOG_LEVEL_SILENT
