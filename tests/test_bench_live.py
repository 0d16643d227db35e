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


def test_work_row_gives_the_counts_and_the_workers_cpu_per_model_call(live, capsys):
    """A recorded run's row names the work its model workers were given (from its summary: the events counted, the
    model calls from the batch stats) and their CPU per call: same counts, same work (issue 14)."""
    summary = {"frames_read": 360, "windows_classified": 165, "events": [{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}],
               "batch": {"max_clips": None, "model_calls": 169, "mean_clips": 1.0}}
    work = live.work_counts(summary)
    assert work == {"frames": 360, "windows_classified": 165, "events": 4, "model_calls": 169, "mean_clips": 1.0}
    live.cpu_row({"thread_cpu": {"mpt-model-worker-*": 3.38, "main": 1.9}, "work": work})
    out = capsys.readouterr().out
    assert "165 windows classified, 4 events, 169 model calls of 1 clips on average" in out, out
    assert "model workers 20.0 ms CPU per call" in out, out  # 3.38 s / 169 calls


def test_work_row_of_a_run_without_model_calls(live, capsys):
    """Motion-only (no batch stats, no calls): the counts, no figure per call (no division by zero)."""
    work = live.work_counts({"frames_read": 30, "windows_classified": 0, "events": [], "batch": None})
    assert work["model_calls"] == 0 and work["events"] == 0
    live.cpu_row({"thread_cpu": {"main": 0.5}, "work": work})
    out = capsys.readouterr().out
    assert "0 model calls" in out and "per call" not in out, out
