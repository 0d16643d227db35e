"""timm's model hub (Hugging Face) on a machine without a network: fail in a second, not after a minute.

Where the hub's host cannot even be resolved or connected to, huggingface_hub still retries each
download with back-off (about 50 s for one backbone) before timm gives up. :func:`offline_if_unreachable`
checks the host once (a TCP connect with a short timeout) and, when it is unreachable, runs the block in
the hub's offline mode: files already in the local hub cache are used, anything else fails at once.
With a proxy configured (``HTTPS_PROXY`` and the like) the direct check says nothing, so it is skipped.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator
from urllib.parse import urlparse

from mpt_live.reach import connect_within

PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def hub_endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def reachable(url: str, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to ``url``'s host and port can be opened within ``timeout`` seconds (the name
    lookup included: an unanswered DNS lookup held the "3 s" check for the resolver's own timeouts)."""
    u = urlparse(url)
    if not u.hostname:
        return False
    try:
        connect_within(u.hostname, u.port or (443 if u.scheme == "https" else 80), timeout)
        return True
    except OSError:
        return False


@contextlib.contextmanager
def offline_if_unreachable(timeout: float = 3.0) -> Iterator[bool]:
    """Run the block in the hub's offline mode when its host cannot be reached; yields whether it is."""
    from huggingface_hub import constants

    offline = (not constants.HF_HUB_OFFLINE and not any(os.environ.get(v) for v in PROXY_VARS)
               and not reachable(hub_endpoint(), timeout))
    saved = constants.HF_HUB_OFFLINE
    if offline:
        constants.HF_HUB_OFFLINE = True
    try:
        yield offline
    finally:
        constants.HF_HUB_OFFLINE = saved
