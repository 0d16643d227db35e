"""Why a stream's URL did not open, in words, for the one-line error: FFmpeg (through OpenCV) says only that it
failed, whether the server answered 404, refused the connection or does not exist.

:func:`why_not` asks once more, with the standard library: an http(s) URL by a one-byte GET (the server's status,
or what it serves where that is no video), any other (rtsp, rtmp, ...) by a TCP connection to its host and port."""

from __future__ import annotations

import socket
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

DEFAULT_PORTS = {"http": 80, "https": 443, "rtsp": 554, "rtsps": 322, "rtmp": 1935, "rtmps": 443}


def _network(host: str, port: int | None, err: BaseException, timeout: float) -> str:
    where = f"{host}:{port}" if port else host
    if isinstance(err, ConnectionRefusedError):
        return f"nothing answers at {where} (connection refused)"
    if isinstance(err, socket.gaierror):
        return f"the host name {host} is not known (it does not resolve)"
    if isinstance(err, (TimeoutError, socket.timeout)):
        return f"{where} did not answer within {timeout:g} s"
    return f"{where}: {getattr(err, 'strerror', None) or err}"


def why_not(url: str, timeout: float = 5.0) -> str | None:
    """What stands in the way of reading ``url``, or None where nothing found does (its server answers: the
    content is the problem, or the protocol is not one looked at here)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        host, port = parts.hostname, parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:  # a port that is not a number
        return "its port is not a number"
    if not host:
        return "it names no host"
    if scheme in ("http", "https"):
        try:
            with urlopen(Request(url, headers={"Range": "bytes=0-0"}), timeout=timeout) as answer:
                kind = answer.headers.get_content_type()
        except HTTPError as err:
            return f"the server answered HTTP {err.code} ({err.reason})"
        except URLError as err:
            reason = err.reason if isinstance(err.reason, BaseException) else OSError(str(err.reason))
            return _network(host, port, reason, timeout)
        except OSError as err:
            return _network(host, port, err, timeout)
        if kind.startswith(("text/", "application/json")):
            return f"the server answers with a {kind} page, not a video"
        return None
    if port is None:
        return None
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as err:
        return _network(host, port, err, timeout)
    return None
