"""bench/live.py: the CPU split by thread printed beside each recorded run's x real time."""

from __future__ import annotations

import sys
import threading
import time

import pytest
from conftest import bench_script

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread CPU from /proc (Linux)")


@pytest.fixture(scope="module")
def live():
    yield from bench_script("live")


def burn(seconds: float, then_s: float = 0.0) -> None:
    """Spend about ``seconds`` of this thread's CPU, then sleep ``then_s`` (the sampler sees the thread's total
    before it ends, however loaded the machine)."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
    time.sleep(then_s)


def test_thread_cpu_counts_each_thread_by_its_name(live):
    """A thread that burns 0.3 s of CPU and another that sleeps are told apart, the first by its own name, counted
    after it ended (the count stops after both); the sampler's own thread is not counted."""
    cpu = live.ThreadCPU(every_s=0.02)
    cpu.start()
    busy = threading.Thread(target=burn, args=(0.3, 0.2), name="busy-one")
    idle = threading.Thread(target=time.sleep, args=(0.3,), name="idle-one")
    busy.start()
    idle.start()
    busy.join()
    idle.join()
    split = cpu.stop()
    assert 0.25 <= split["busy-one"] <= 0.6, split
    assert split.get("idle-one", 0.0) < 0.05, split
    assert "bench-thread-cpu" not in split and list(split) == sorted(split, key=split.get, reverse=True)


def test_model_workers_are_summed_and_earlier_cpu_is_not_counted(live):
    """The model worker threads are one line (their sum); CPU spent before the count started is not in it."""
    burn(0.2)  # the main thread's, before
    cpu = live.ThreadCPU(every_s=0.02)
    cpu.start()
    workers = [threading.Thread(target=burn, args=(0.15, 0.2), name=f"mpt-model-worker-{i}") for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    split = cpu.stop()
    assert 0.25 <= split["mpt-model-worker-*"] <= 0.6, split
    assert not any(k.startswith("mpt-model-worker-") and k != "mpt-model-worker-*" for k in split)
    assert split.get("main", 0.0) < 0.15, split
