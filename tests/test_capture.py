"""Live readers: newest frame only, capture timestamps, reconnect with backoff, paced files."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from mpt_live.capture import CaptureReader, LiveFrame, PacedVideoReader, open_camera
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
        time.sleep(0.2)  # a slow consumer: the producer has finished meanwhile
        f = r.read(timeout=1)
        assert isinstance(f, LiveFrame) and int(f.image[0, 0, 0]) == 29  # the newest, not the oldest
        assert r.read(timeout=1) is None  # ended; no backlog left behind
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


def test_reconnects_after_a_drop_with_backoff():
    opens = []

    def opener():
        k = len(opens)
        opens.append(time.monotonic())
        if k in (1, 2) or k >= 4:  # down for two attempts after the first drop, then for good
            return FakeCapture(opened=False)
        return FakeCapture(n=3, start=10 * k)

    r = CaptureReader(opener, "rtsp://fake", backoff=(0.01, 0.04), give_up_s=0.3)
    seen = []
    with r:
        for f in r:
            seen.append((f.segment, int(f.image[0, 0, 0])))
            time.sleep(0.001)
    assert r.reconnects >= 1
    segments = {s for s, _ in seen}
    assert 0 in segments and 1 in segments  # frames from before and after the reconnect
    assert any(v >= 30 for s, v in seen if s == 1)  # the third open delivered frames
    gaps = np.diff(opens[:4])
    assert gaps[1] >= 0.009 and gaps[2] >= gaps[1] * 1.5  # exponential backoff between failed opens
    assert "did not come back" in (r.error or "")


def test_first_open_failure_raises():
    with pytest.raises(InputError, match="rtsp://x: could not be opened"):
        CaptureReader(lambda: FakeCapture(opened=False), "rtsp://x")


def test_close_stops_a_blocked_consumer():
    r = CaptureReader(lambda: FakeCapture(n=10**9, delay=0.01), "fake").start()
    assert r.read(timeout=2) is not None
    threading.Timer(0.05, r.close).start()
    t0 = time.monotonic()
    while r.read(timeout=2) is not None:
        pass
    assert time.monotonic() - t0 < 2


@pytest.fixture(scope="module")
def small_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("vid") / "count.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 50.0, (32, 24))
    for i in range(40):
        w.write(np.full((24, 32, 3), i * 6, np.uint8))
    w.release()
    return path


def test_paced_file_plays_at_its_own_fps(small_video):
    with PacedVideoReader(small_video) as r:
        t0 = time.monotonic()
        frames = list(r)
        wall = time.monotonic() - t0
    assert r.fps == 50.0
    assert len(frames) >= 38  # a fast consumer misses (almost) nothing
    assert 0.6 <= wall <= 1.5  # 40 frames at 50 fps = 0.8 s
    assert [f.t for f in frames] == [f.index / 50.0 for f in frames]
    # published on schedule: capture time tracks media time
    lag = [(f.captured - frames[0].captured) - f.t for f in frames]
    assert max(abs(x) for x in lag) < 0.1


def test_paced_file_drops_frames_for_a_slow_consumer(small_video):
    with PacedVideoReader(small_video) as r:
        frames = []
        for f in r:
            frames.append(f)
            time.sleep(0.06)  # 3 frame periods per frame
    assert 8 <= len(frames) <= 20
    idx = [f.index for f in frames]
    assert idx == sorted(idx) and idx[-1] >= 30  # it kept up with the clock instead of lagging
    assert r.dropped > 15


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
    assert any(int(f.image[0, 0, 0]) < 20 for f in frames if f.index > 45)  # the clip started again


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
