"""bench/int8.py's timing loop: the files take turns in blocks, each block after one untimed call, timed by the
clock asked for (--clock: wall, or the process's CPU time for a shared machine)."""

from __future__ import annotations

import time

import pytest


@pytest.fixture(scope="module")
def bench():
    """bench/int8.py as a module (it takes its own folder off sys.path at import; bench_script allows for that)."""
    from conftest import bench_script

    yield from bench_script("int8")


def test_time_calls_takes_turns_in_blocks_and_reads_the_given_clock(bench):
    """7 runs: a block of 5 then one of 2, each after an untimed call; the times are what the fake clock says each
    call took, so the clock given is the one read (not perf_counter)."""
    now = [0.0]
    log: list[str] = []

    def call(name: str, cost_s: float):
        def run() -> None:
            log.append(name)
            now[0] += cost_s
        return run

    times = bench.time_calls({"fp32": call("fp32", 0.004), "int8": call("int8", 0.002)}, 7, lambda: now[0])
    assert times["fp32"] == pytest.approx([4.0] * 7)
    assert times["int8"] == pytest.approx([2.0] * 7)
    assert log == ["fp32"] * 6 + ["int8"] * 6 + ["fp32"] * 3 + ["int8"] * 3


def test_the_cpu_clock_is_the_process_cpu_time(bench):
    assert bench.CLOCKS["cpu"] is time.process_time
    assert bench.CLOCKS["wall"] is time.perf_counter


def test_a_clock_it_does_not_know_is_refused_in_one_line(bench, monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["int8.py", "--checkpoint", "m.pt", "--clip-dir", ".", "--clock", "gpu"])
    with pytest.raises(SystemExit) as e:
        bench.main()
    assert e.value.code == 2
    assert "--clock: invalid choice: 'gpu'" in capsys.readouterr().err
