"""bench/faces.py: the --stages split charges each stage the CPU time of its own calls and leaves the code as it was."""

from __future__ import annotations

import importlib.util
from itertools import count
from pathlib import Path

import numpy as np
import pytest

from mpt_live.clip import ClipFrames


@pytest.fixture(scope="module")
def fb():
    # loaded by path: bench/faces.py takes its own folder off sys.path as it is imported
    path = Path(__file__).resolve().parents[1] / "bench" / "faces.py"
    spec = importlib.util.spec_from_file_location("faces_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_stage_clock_charges_clip_sampling_and_restores(fb, monkeypatch):
    """Sampling a window's clip is its own stage (not the unexplained rest); each call is charged the thread CPU
    time it took (a fake clock: one second per reading), no other stage is, and the wrapped methods are the
    originals again afterwards."""
    originals = {(owner, name): getattr(owner, name) for fns in fb.STAGES.values() for owner, name in fns}
    times = np.arange(8) / 8.0
    frames = np.arange(8 * 16 * 16 * 3, dtype=np.uint8).reshape(8, 16, 16, 3)
    clip = ClipFrames(times, frames, np.linspace(0.1, 0.8, 4))
    expected = clip.sample()
    ticks = count()
    monkeypatch.setattr(fb.time, "thread_time", lambda: float(next(ticks)))
    with fb.stage_clock() as spent:
        got = [clip.clip(), clip.clip()]  # what a window's Window.clip calls: here sample()'s clip (between frames)
    assert spent["clip sampling"] == 2.0
    assert all(spent[k] == 0 for k in fb.STAGES if k != "clip sampling")
    for g in got:
        np.testing.assert_array_equal(g, expected)
    assert {(o, n): getattr(o, n) for (o, n) in originals} == originals


def test_repeated_leaves_the_first_run_out(fb, monkeypatch):
    """The runs compared come after one run not counted (a process's first session pays its one-off start costs):
    with --repeat 1 that run's cost reached neither face's figure, and 1 face and 2 faces still take turns."""
    calls = []

    def fake_run(video, runtime, max_faces, workers):
        calls.append(max_faces)
        cpu = 1000.0 if len(calls) == 1 else 10.0 * max_faces + len(calls)  # the first run: the one-off costs
        return {"cpu_ms": cpu, "wall_ms": cpu, "windows": 1, "both": 0, "calls": "-", "frames": 1}

    monkeypatch.setattr(fb, "run", fake_run)
    res = fb.repeated(Path("two.mp4"), None, 1, 1)
    assert calls == [2, 1, 2]
    assert res[1]["cpu_ms"] == 12.0 and res[2]["cpu_ms"] == 23.0
    res = fb.repeated(Path("two.mp4"), None, 1, 2)
    assert calls[3:] == [2, 1, 2, 1, 2] and res[1]["cpu_ms"] == 15.0 and res[1]["cpu_median"] == 16.0


def test_opencv_threads_one_by_default_as_a_run_has_it_set_or_left_and_refused_below_zero(fb, monkeypatch, capsys):
    """Without --opencv-threads the bench runs OpenCV on one thread, as an mpt-live run does; N sets N; 0 leaves
    OpenCV's own count; a negative count is refused in one line (argparse's exit 2), nothing run. The first line
    names the count in force."""
    import sys

    import cv2

    class Stop(Exception):
        pass

    def stop(*args, **kwargs):
        raise Stop

    before = cv2.getNumThreads()
    monkeypatch.setattr(fb, "side_by_side", stop)  # the recording is composed first: stop there
    try:
        for argv, expect, line in (([], 1, "OpenCV threads 1\n"), (["--opencv-threads", "2"], 2, "OpenCV threads 2\n"),
                                   (["--opencv-threads", "0"], 3, "OpenCV threads 3 (its default)")):
            cv2.setNumThreads(3)
            monkeypatch.setattr(sys, "argv", ["faces.py", *argv])
            with pytest.raises(Stop):
                fb.main()
            assert cv2.getNumThreads() == expect, argv
            assert line in capsys.readouterr().out, argv
        monkeypatch.setattr(sys, "argv", ["faces.py", "--opencv-threads", "-1"])
        with pytest.raises(SystemExit) as exc:
            fb.main()
        assert exc.value.code == 2
        assert "--opencv-threads -1: must be 0 (OpenCV's default) or more" in capsys.readouterr().err
        assert cv2.getNumThreads() == 3  # unchanged by the refused value
    finally:
        cv2.setNumThreads(before)
