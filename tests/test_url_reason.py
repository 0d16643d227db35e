"""A stream URL that does not open says why: the server's HTTP status, a refused connection, a web page."""

from __future__ import annotations

import functools
import http.server
import socket
import threading
from contextlib import contextmanager

import pytest

from mpt_live.capture import open_stream
from mpt_live.errors import InputError
from mpt_live.url_reason import why_not


@contextmanager
def _served(folder):
    """``python -m http.server`` over ``folder`` on a free port of 127.0.0.1."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}"
    finally:
        srv.shutdown()
        srv.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_http_reasons(tmp_path):
    (tmp_path / "v.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(100))
    with _served(tmp_path) as base:
        assert why_not(f"{base}/missing.mp4") == "the server answered HTTP 404 (File not found)"
        assert why_not(f"{base}/") == "the server answers with a text/html page, not a video"
        assert why_not(f"{base}/v.mp4") is None  # it answers with the file: the content is FFmpeg's to judge


def test_network_reasons():
    port = _closed_port()
    assert why_not(f"http://127.0.0.1:{port}/a.mp4") == f"nothing answers at 127.0.0.1:{port} (connection refused)"
    assert why_not(f"rtsp://127.0.0.1:{port}/live") == f"nothing answers at 127.0.0.1:{port} (connection refused)"
    assert why_not("http://127.0.0.1:x/a.mp4") == "its port is not a number"
    assert why_not("rtsp:///live") == "it names no host"


def test_open_stream_names_the_reason(tmp_path):
    with _served(tmp_path) as base:
        with pytest.raises(InputError) as err:
            open_stream(f"{base}/missing.mp4")
    assert str(err.value) == f"{base}/missing.mp4: could not open the stream: the server answered HTTP 404 (File not found)"
