"""A live stream that takes one client (``ffmpeg -listen 1``, many IP cameras' RTSP) is opened once: the look at its
field order (an interlaced stream is read by PyAV, OpenCV's frames of it black) took the only connection, and OpenCV's
open of it was refused."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from mpt_live import pyav_capture
from mpt_live.fieldorder import URLS


def _ffmpeg() -> str | None:
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return shutil.which("ffmpeg")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, within_s: float = 30.0) -> None:
    """Until ``proc`` listens on ``port``, seen in the kernel's table of sockets (a connection to see it would be
    the one client it takes)."""
    table = Path("/proc/net/tcp")
    end = time.monotonic() + within_s
    while time.monotonic() < end and proc.poll() is None:
        if not table.exists():
            time.sleep(2.0)  # no table to look at: give it a moment
            return
        rows = (line.split() for line in table.read_text().splitlines()[1:])
        if any(r[1].endswith(f":{port:04X}") and r[3] == "0A" for r in rows):  # 0A: LISTEN
            return
        time.sleep(0.05)
    raise AssertionError(f"ffmpeg did not listen on port {port}: {proc.poll()}")


@pytest.mark.parametrize("fields", [False, True], ids=["progressive", "interlaced"])
def test_a_live_stream_that_takes_one_client_is_read_from_its_one_connection(fields, monkeypatch):
    """An MPEG-TS served live over http by ``ffmpeg -listen 1`` (it serves one client, then ends): the run said
    'could not open the stream: ... connection refused'. Read now from the one open: every frame of a progressive
    stream and of an interlaced one (PyAV's, not OpenCV's black frames), no reconnect."""
    from mpt_live.capture import CaptureReader, open_stream

    exe = _ffmpeg()
    if exe is None:
        pytest.skip("no ffmpeg binary (imageio-ffmpeg or on PATH) to serve a stream")
    monkeypatch.setattr(pyav_capture, "URL_READ", {})
    port = _free_port()
    url = f"http://127.0.0.1:{port}/live.ts"
    interlace = ["-vf", "interlace=scan=tff", "-flags", "+ildct+ilme"] if fields else []
    proc = subprocess.Popen([exe, "-hide_banner", "-loglevel", "quiet", "-re", "-f", "lavfi", "-i",
                             "testsrc2=s=160x120:r=25:d=3", *interlace, "-c:v", "libx264", "-g", "25",
                             "-pix_fmt", "yuv420p", "-f", "mpegts", "-listen", "1", url],
                            stdin=subprocess.DEVNULL)
    try:
        _wait_listening(port, proc)
        source = open_stream(url)
        assert isinstance(source, CaptureReader)
        source.reconnect = False  # the server ends with its one client's stream: nothing to reopen
        with source:
            images = [f.image for f in source]
        assert source.reconnects == 0 and source.error == f"{url}: stream ended"
    finally:
        proc.kill()
        proc.wait()
    assert len(images) >= 10, len(images)  # of its 75 frames (3 s at 25 fps): a slow consumer's are dropped
    assert all(img.shape == (120, 160, 3) and img.mean() > 40 for img in images)  # not OpenCV's black frames
    assert URLS[url] is fields


def test_a_url_neither_reader_opens_is_not_remembered(monkeypatch):
    """Where neither PyAV nor OpenCV opens a URL, no route is kept for it (it was kept as OpenCV's, so a later open of
    it in the process skipped PyAV's look: an interlaced stream then came black)."""
    monkeypatch.setattr(pyav_capture, "URL_READ", {})

    class Shut:
        def isOpened(self):
            return False

        def release(self):
            pass

    url = f"http://127.0.0.1:{_free_port()}/nothing.ts"  # nothing listens there
    cap = pyav_capture.url_capture(url, 1.0, Shut)
    assert not cap.isOpened() and url not in pyav_capture.URL_READ
