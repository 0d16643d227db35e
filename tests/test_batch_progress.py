"""The progress of a batch of videos: its bar moves with the frames of the videos running, not only when one ends.

A ``--jobs 2`` batch of ten 1-minute videos logged 'videos (2 jobs): 2/10 videos (20%), 0.4 videos/s, 0:00:20
left' for the minutes until its next video ended: its bar moved only when a whole video ended, and two ending a
second apart made a rate of 0.4 videos/s. The bar of the videos now counts each running video by the share of its
frames done (``--jobs`` and ``--ray``; a serial batch too), so its time left follows the work done."""

from __future__ import annotations

import re

from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest
from rich.console import Console

from mpt_live.session import SessionConfig

FRAMES = 40


def faceless(path: Path, frames: int = FRAMES) -> Path:
    """A video of noise (40 frames by default): no face, so a run of it is quick."""
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 20.0, (96, 96))
    rng = np.random.default_rng(0)
    for _ in range(frames):
        w.write(rng.integers(0, 255, (96, 96, 3), dtype=np.uint8))
    w.release()
    return path


@pytest.fixture()
def folder(tmp_path) -> Path:
    d = tmp_path / "videos"
    d.mkdir()
    for name in ("a.mp4", "b.mp4"):
        faceless(d / name)
    return d


def recording(module, monkeypatch) -> list[float]:
    """``module.progress_bar`` wrapped: the completed counts the bar of the videos (its first task) is given."""
    real, seen = module.progress_bar, []

    @contextmanager
    def bar(*args, **kwargs):
        with real(*args, **kwargs) as b:
            update = b.update

            def record(task, **k):
                update(task, **k)
                if task == b.task_ids[0]:
                    seen.append(b.tasks[0].completed)

            b.update = record
            yield b

    monkeypatch.setattr(module, "progress_bar", bar)
    return seen


def check(seen: list[float]) -> None:
    assert seen == sorted(seen), seen  # never back
    assert seen[-1] == 2
    assert any(0 < c < 1 for c in seen), seen  # the first video's frames counted before it ended
    assert any(1 < c < 2 for c in seen), seen


def test_a_serial_batch_counts_the_frames_of_the_video_running(folder, tmp_path, monkeypatch):
    import mpt_live.batch as batch

    seen = recording(batch, monkeypatch)
    done, failed = batch.run_batch(str(folder), tmp_path / "out", None, SessionConfig(), Console(quiet=True))
    assert len(done) == 2 and not failed
    check(seen)


@pytest.mark.slow
def test_a_jobs_batch_counts_the_frames_of_the_videos_running(folder, tmp_path, monkeypatch):
    import mpt_live.pool as pool
    from mpt_live.batch import run_parallel

    seen = recording(pool, monkeypatch)
    done, failed, _ = run_parallel(folder, tmp_path / "out", None, SessionConfig(), Console(quiet=True), jobs=2,
                                   device="cpu")
    assert len(done) == 2 and not failed
    check(seen)


class FakeBar:
    """The bar's updates of one task, as a progress_bar takes them."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    def update(self, task, completed):
        self.seen.append(completed)


def test_the_bar_of_videos_counts_those_ended_whole_and_those_running_by_their_share():
    """One helper says where a parallel batch's bar of videos stands (it was one expression written out in two places
    of pool.py): the videos ended whole, those running by the share of their frames done, a video whose length is not
    known by nothing until it ends; a running video's share is kept when another ends (the bar never goes back)."""
    from mpt_live.pool import VideosBar

    fake = FakeBar()
    videos = VideosBar(fake, "videos")
    videos.progress(0, 10, 40)
    videos.progress(1, 20, 40)
    videos.progress(2, 50, None)  # a length not known: nothing counted
    videos.ended(0)
    videos.progress(1, 40, 40)
    videos.progress(0, 40, 40)  # a late message of a video ended: it counts once
    videos.ended(2)
    videos.ended(1)
    assert fake.seen == [0.25, 0.75, 1.5, 2.0, 3.0, 3.0]
    assert videos.finished == {0, 1, 2} and not videos.shares


@pytest.mark.slow
def test_a_ray_batch_counts_the_frames_of_the_videos_running(tmp_path, monkeypatch):
    """--ray's bar of videos moved by whole videos only, though its actors already sent each video's progress for its
    own bar; it counts the running videos by their share of frames done too (a local cluster of two CPUs)."""
    ray = pytest.importorskip("ray")
    import mpt_live.ray_batch as rb
    from mpt_live.batch import run_parallel

    d = tmp_path / "videos"
    d.mkdir()
    for name in ("a.mp4", "b.mp4"):  # long enough for a progress message (every 25 frames) before the end
        faceless(d / name, frames=2 * rb.PROGRESS_EVERY)
    seen = recording(rb, monkeypatch)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        done, failed, _ = run_parallel(d, tmp_path / "out", None, SessionConfig(), Console(quiet=True), ray="auto",
                                       device="cpu")
    finally:
        ray.shutdown()
    assert len(done) == 2 and not failed
    check(seen)


def _stopped_bar(**kwargs) -> str:
    """What a file's log ends with when a 17400-frame run is stopped at frame 3735 after 400 s."""
    import io

    from rich.console import Console

    from mpt_live.terminal import progress_bar

    out, clock = io.StringIO(), [0.0]
    console = Console(file=out, force_terminal=False, width=100)
    with progress_bar(console, log_every_s=1e9, **kwargs) as bar:
        bar.get_time = lambda: clock[0]
        task = bar.add_task("interview_mixed.mp4", total=17400)
        for k in range(1, 41):
            clock[0] = 10.0 * k
            bar.update(task, completed=min(3735, 100 * k))
    return out.getvalue().strip().splitlines()[-1]


def test_a_stopped_run_s_last_bar_says_what_was_done_not_a_time_left():
    """A run stopped at 21 % ended its log with 'interview_mixed.mp4 ━━━━╸   0:33:34', the estimated time left, which
    reads like the time it ran; and without its done/total (a comment had swallowed that column). At a stop the bar
    ends with the frames done and the time it ran."""
    last = _stopped_bar()
    assert "3735/17400" in last and last.endswith("0:06:40 elapsed"), last
    assert re.findall(r"\d+:\d\d:\d\d", last) == ["0:06:40"]  # and no time left anywhere
