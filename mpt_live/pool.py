"""``--jobs N``: recorded videos in N worker processes on one machine, one progress display.

Each worker process loads the model once (:meth:`mpt_live.batch.BatchSpec.load`, one ONNX Runtime
thread by default; its face detectors and embedder once too: :mod:`mpt_live.blazeface`) and takes videos
from a shared queue until none is left; it runs each through
:func:`mpt_live.job.run_job` into the video's own output folder, with one model thread and one
OpenCV thread, so N processes share the cores without oversubscribing them. Processes, not
threads: the frame loops of several videos then never wait for each other's GIL.

The parent shows one progress display (all videos, plus a bar per video in progress) from the
workers' messages and lists the failures at the end. A video that fails does not stop the others; a
worker process that dies (killed, out of memory) fails its current video, and a new worker takes
its place while videos remain. Ctrl-C (or SIGTERM, SIGHUP) stops everything: the parent sends each
worker SIGTERM, and the worker stops its video as a serial run would (:mod:`mpt_live.interrupts`),
writing its outputs and a summary with status ``interrupted``, which a rerun then redoes; the summary's
``stopped_by`` names the signal the parent got (SIGINT for a Ctrl-C), which it leaves for its workers
in shared memory before it signals them. A parent killed
outright (SIGKILL, out of memory) sends nothing: each worker sees it gone within a few frames and stops the
same way, rather than run on alone through the videos left in the queue.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.text import Text

from .batch import BatchSpec
from .errors import InputError
from .interrupts import signal_name, stop_signals
from .terminal import progress_bar

PROGRESS_EVERY = 10  # frames between progress messages of a worker
STOP_WAIT_S = 30.0  # after a stop, how long a worker may take to write its interrupted video's outputs


def default_jobs(threads: int = 1) -> int:
    """Worker processes for this machine: usable cores / ONNX Runtime threads per model (at least 1)."""
    from .machine import usable_cores

    return max(1, usable_cores() // max(1, threads))


def worker_main(spec: BatchSpec, tasks: Any, events: Any, stopped_by: Any = None) -> None:
    """A worker process: load the model once, then run videos from ``tasks`` until a None. ``stopped_by``: a
    shared integer where the parent leaves the number of the signal that stopped the batch before it sends the
    worker SIGTERM (0 until then), so the video's summary names the user's signal (SIGINT for a Ctrl-C)."""
    import cv2

    cv2.setNumThreads(1)
    with stop_signals():  # SIGTERM from the parent: the video stops and its summary is written
        # a terminal's Ctrl-C reaches every process of the batch; the parent turns it into one SIGTERM here,
        # so two Ctrl-C (which the README allows) are not a worker's third signal, which ends it at once
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop = signal.getsignal(signal.SIGTERM)
        if stopped_by is not None and callable(stop):  # the parent's signal, not the SIGTERM that carries it
            signal.signal(signal.SIGTERM, lambda signum, frame: stop(stopped_by.value or signum, frame))
        try:
            parent = os.getppid()
            runtime = spec.load()
            cfg = replace(spec.cfg, workers=1)
            pid = os.getpid()
            while os.getppid() == parent:  # the batch is still there to take the video's messages
                task = tasks.get()
                if task is None:
                    return
                _run_one(task, spec, runtime, cfg, pid, events, parent)
        except KeyboardInterrupt:
            return


def _run_one(task: tuple[int, Path, Path], spec: BatchSpec, runtime: Any, cfg: Any, pid: int, events: Any,
             parent: int) -> None:
    """One video of a worker: its messages to the parent, its failure as a message (a stop is raised)."""
    from .job import run_job
    from .recordings import open_recording

    i, video, out = task
    events.put(("start", i, pid))

    def progress(n: int, total: int | None) -> None:
        if n % PROGRESS_EVERY == 0:
            if os.getppid() != parent:  # the batch was killed outright (SIGKILL, out of memory): stop as on its
                os.kill(pid, signal.SIGTERM)  # SIGTERM (status interrupted), not go on alone through the queue
            events.put(("progress", i, n, total))

    try:
        with open_recording(video, spec.fps, cfg.rotation) as src:
            summary = run_job(src, runtime, cfg, out, save_video=spec.save_video, progress=progress,
                              say=lambda line: events.put(("note", i, line)))
        events.put(("done", i, {k: summary[k] for k in ("frames_read", "windows", "seconds", "fps")}))
    except InputError as e:
        events.put(("failed", i, str(e)))
    except KeyboardInterrupt:
        raise
    except Exception as e:  # one broken video must not stop the batch
        events.put(("failed", i, f"{video}: {type(e).__name__}: {e}"))


class VideosBar:
    """The bar of a batch's videos (``task`` of ``bar``): a video ended (done or failed) counts whole, one running by
    the share of its frames done, so the batch's time left follows the work done (``--jobs`` and ``--ray``). Never
    back: a running video's share is kept when another ends, and a video redone (its Ray worker died) keeps the share
    it had reached until its new run passes it."""

    def __init__(self, bar: Any, task: Any, finished: set[int] | None = None) -> None:
        self.bar, self.task = bar, task
        self.finished = finished if finished is not None else set()  # the videos ended (the caller's set, if given)
        self.shares: dict[int, float] = {}  # video index -> the share of its frames done, while it runs

    def progress(self, i: int, frames: int, total: int | None) -> None:
        """Video ``i`` has read ``frames`` of its ``total`` (None or 0: not known, nothing counted)."""
        if total and i not in self.finished:
            self.shares[i] = max(self.shares.get(i, 0.0), min(frames / total, 1.0))
            self._show()

    def ended(self, i: int) -> None:
        """Video ``i`` is done or failed: the whole of it counts."""
        self.finished.add(i)
        self.shares.pop(i, None)
        self._show()

    def _show(self) -> None:
        self.bar.update(self.task, completed=len(self.finished) + sum(self.shares.values()))


def run_pool(todo: list[tuple[int, Path, Path]], spec: BatchSpec, jobs: int, console: Console,
             after: Callable[[list[tuple[Path, str]]], None] | None = None
             ) -> tuple[list[tuple[Path, Path, dict[str, Any]]], list[tuple[Path, str]]]:
    """Run ``todo`` ([(index, video, out dir)]) in ``jobs`` worker processes; ``after(failed so far)`` is
    called here after each video ends (done or failed).

    Returns (done: [(video, out dir, figures)], failed: [(video, reason)])."""
    ctx = mp.get_context("spawn")  # mediapipe and ONNX Runtime state must not be forked
    tasks, events = ctx.Queue(), ctx.Queue()
    stopped_by = ctx.Value("i", 0, lock=False)  # the signal that stopped the batch, for its workers' summaries
    by_index = {i: (v, d) for i, v, d in todo}
    for item in todo:
        tasks.put(item)
    n = max(1, min(jobs, len(todo)))
    for _ in range(n):
        tasks.put(None)
    procs: dict[int, Any] = {}

    def start() -> None:
        p = ctx.Process(target=worker_main, args=(spec, tasks, events, stopped_by), daemon=True)
        p.start()
        procs[p.pid] = p

    for _ in range(n):
        start()
    running: dict[int, int] = {}  # pid -> video index
    done: list[tuple[Path, Path, dict[str, Any]]] = []
    failed: list[tuple[Path, str]] = []
    finished: set[int] = set()

    try:
        with progress_bar(console) as bar:
            videos = VideosBar(bar, bar.add_task(f"videos ({n} job{'s' if n != 1 else ''})", total=len(todo),
                                                 unit="videos"), finished)
            bars: dict[int, Any] = {}
            while len(finished) < len(todo):
                try:
                    ev = events.get(timeout=0.5)
                except queue.Empty:
                    ev = None
                if ev is None:
                    for pid, p in list(procs.items()):
                        if p.is_alive():
                            continue
                        del procs[pid]
                        i = running.pop(pid, None)
                        if i is not None and i not in finished:
                            videos.ended(i)
                            failed.append((by_index[i][0], f"{by_index[i][0]}: worker process died "
                                                           f"(exit code {p.exitcode})"))
                            bar.remove_task(bars.pop(i))
                            if after is not None:
                                after(failed)
                            if len(finished) < len(todo):
                                start()
                    if not procs and len(finished) < len(todo):
                        raise RuntimeError("every worker process exited before the videos were done")
                    continue
                kind, i = ev[0], ev[1]
                if kind == "start":
                    running[ev[2]] = i
                    bars[i] = bar.add_task(by_index[i][0].name, total=None)
                elif kind == "progress" and i in bars:
                    bar.update(bars[i], completed=ev[2], total=ev[3] or None)
                    videos.progress(i, ev[2], ev[3])
                elif kind == "note":  # the run rebuilt an enclosing batch's overview (a single video's)
                    bar.console.print(Text(ev[2]), soft_wrap=True)
                elif kind in ("done", "failed"):
                    videos.ended(i)
                    running = {pid: j for pid, j in running.items() if j != i}
                    if kind == "done":
                        done.append((*by_index[i], ev[2]))
                    else:
                        failed.append((by_index[i][0], ev[2]))
                    if i in bars:
                        bar.remove_task(bars.pop(i))
                    if after is not None:
                        after(failed)
    except KeyboardInterrupt as e:  # Ctrl-C, SIGTERM, SIGHUP (interrupts.Stopped): the workers' videos say which
        stopped_by.value = signal.Signals[signal_name(e)]
        raise
    finally:
        stopping = len(finished) < len(todo)  # Ctrl-C or a stop signal: each worker ends its video cleanly
        for p in procs.values():
            if stopping and p.is_alive():
                p.terminate()  # SIGTERM: the worker's video stops and writes its outputs and summary
        for p in procs.values():
            p.join(timeout=STOP_WAIT_S if stopping else 5.0)
            if p.is_alive():
                p.kill()
    return done, failed
