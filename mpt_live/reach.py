"""Whether something answers at a host and port, within a time limit that covers the name lookup too.

``socket.create_connection(..., timeout=...)`` bounds each connection attempt, not the name lookup
before it: ``getaddrinfo`` follows the system's resolver settings (on Linux, 5 s per attempt and
server by default, more with several servers or search domains), so a host name that no server
answers for held a "5 s" check for half a minute or more. The lookup runs here in a daemon thread
that is given up on when the time is spent; the connection attempts share what is left.
"""

from __future__ import annotations

import socket
import threading
import time


def connect_within(host: str, port: int, timeout: float) -> None:
    """Open (and close) a TCP connection to ``host``:``port``; OSError when none can be had within ``timeout``
    seconds, name lookup included (TimeoutError naming the host when the lookup alone takes longer)."""
    deadline = time.monotonic() + timeout
    found: dict[str, object] = {}

    def lookup() -> None:
        try:
            found["addresses"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as e:
            found["error"] = e

    worker = threading.Thread(target=lookup, name=f"lookup {host}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"looking up the name {host} took over {timeout:g} s")
    if "error" in found:
        raise found["error"]  # type: ignore[misc]
    last: OSError = OSError(f"no address found for {host}")
    for family, kind, proto, _, address in found["addresses"]:  # type: ignore[union-attr]
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no answer from {host} within {timeout:g} s")
        with socket.socket(family, kind, proto) as s:
            s.settimeout(left)
            try:
                s.connect(address)
                return
            except OSError as e:
                last = e
    raise last
