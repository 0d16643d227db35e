"""The address checks of --ray and of the model hub are bounded, the name lookup included."""

from __future__ import annotations

import socket
import threading

import pytest

import train.hub
from mpt_live.errors import InputError
from mpt_live.ray_batch import check_address
from mpt_live.reach import connect_within


@pytest.fixture
def unanswered_lookup(monkeypatch):
    """getaddrinfo that waits as a resolver with no server answering would (until the test ends)."""
    release = threading.Event()
    real = socket.getaddrinfo

    def waits(host, *a, **k):
        if host.endswith(".example"):
            release.wait(60)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *a, **k)

    monkeypatch.setattr(socket, "getaddrinfo", waits)
    yield
    release.set()


def test_a_lookup_nobody_answers_is_given_up_on(unanswered_lookup):
    with pytest.raises(TimeoutError, match="looking up the name head.example took over 0.2 s"):
        connect_within("head.example", 6379, 0.2)


def test_ray_address_whose_name_nobody_resolves_is_refused_in_one_line(unanswered_lookup):
    with pytest.raises(InputError) as e:
        check_address("head.example:6379", timeout_s=0.2)
    msg = str(e.value)
    assert msg.startswith("--ray head.example:6379: no Ray cluster answers there (looking up the name head.example")
    assert "\n" not in msg


def test_hub_host_whose_name_nobody_resolves_counts_as_unreachable(unanswered_lookup):
    assert train.hub.reachable("https://hub.example", timeout=0.2) is False


def test_a_listening_port_answers_and_a_closed_one_does_not():
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        connect_within("localhost", listening.getsockname()[1], 5.0)
        port = listening.getsockname()[1]
    with pytest.raises(OSError):
        connect_within("127.0.0.1", port, 5.0)
    with pytest.raises(socket.gaierror):  # a name that cannot exist fails as the resolver says, not as a timeout
        connect_within("no-such-host.invalid", 80, 5.0)
