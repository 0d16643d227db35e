"""``--ray auto|ADDRESS``: recorded videos as tasks on a Ray cluster (``pip install 'mpt-live[cluster]'``).

One task per video, run by a pool of actors that each load the model once
(:meth:`mpt_live.batch.BatchSpec.load`). Nothing is assumed shared between the machines: the driver
sends each video's bytes through Ray's object store, the actor runs :func:`mpt_live.job.run_job` in
a temporary folder of its own and returns the output files, and the driver writes them where it was
asked to (``--out``), summary.json last, so a video's outputs are complete exactly when its
summary.json is there (the resume rule of :func:`mpt_live.batch.is_complete`). In the temporary
folder the video and the output folder lie as they do on the driver relative to each other
(:func:`mirrored`), so report.html's relative link to the video holds where the driver writes it; the run reads
the copy through a link of the name the driver was given (:func:`named_copy`), so its outputs and messages name the
video as a serial batch does (a linked video by the link's name, not its target's).

Resources: with GPUs in the cluster, one actor per GPU (``num_gpus=1``, ONNX Runtime CUDA); else
one actor per ``threads`` CPUs. An actor that dies (its node lost, killed, out of memory) is
replaced and its video redone, up to :data:`ATTEMPTS` times. The temporary folder (with the video's copy) that a
killed actor leaves on its node is removed by the next video run there, or at the batch's end
(:mod:`mpt_live.scratch`: only a folder whose owner process is gone).

``auto`` joins the running cluster (``ray start --head`` on this machine, or ``RAY_ADDRESS``) and
starts a local one when there is none; ``ADDRESS`` joins that cluster (``HOST:6379``, or
``ray://HOST:10001`` through the Ray client). A caller that already ran ``ray.init`` is used as is.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.text import Text

from .batch import BatchSpec
from .errors import InputError, OutputError, counted
from .pool import VideosBar
from .scratch import held_folder, sweep
from .terminal import progress_bar
from .writers import json_default

log = logging.getLogger("mpt.ray")

SCRATCH = "mpt-ray-"  # an actor's temporary folders: one per video, a killed actor's removed by the next task there
ATTEMPTS = 3  # runs of a video whose actor died, before it is listed as failed
PROGRESS_EVERY = 25  # frames between progress messages of an actor
# the actor's copy of the video, in what it returns: the driver puts its own path there (messages, summary.json
# and the page's fallback link name the user's file, not a temporary copy on some node): the video as given
# (<mpt-ray-named>, a link by its own name) apart from the file behind it (<mpt-ray-video>, links followed)
MARKS = ("<mpt-ray-video-uri>", "<mpt-ray-out-uri>", "<mpt-ray-named>", "<mpt-ray-video>", "<mpt-ray-out>")


def _paths(video: Path, out: Path, named: Path | None = None) -> tuple[str, ...]:
    """The strings :data:`MARKS` stand for: the video's and the output folder's file URIs (links followed), the
    video as the run names it (``named``; default: ``video`` as given), the file behind it and the output folder as
    given."""
    return (video.resolve().as_uri(), out.resolve().as_uri(), str(video if named is None else named),
            str(video.resolve()), str(out))


def _marked(text: str, video: Path, out: Path, named: Path) -> str:
    for mark, path in zip(MARKS, _paths(video, out, named)):
        text = text.replace(path, mark)
    return text


def unmarked(text: str, video: Path, out: Path) -> str:
    for mark, path in zip(MARKS, _paths(video, out)):
        text = text.replace(mark, path)
    return text


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError("--ray: Ray is not installed (pip install 'mpt-live[cluster]')") from None
    return ray


def check_address(address: str, timeout_s: float = 5.0) -> None:
    """InputError when nothing answers at ``address`` (``HOST:PORT`` or ``ray://HOST:PORT``; anything else is Ray's
    to read): Ray itself retries an unreachable cluster for minutes before it gives up. ``auto`` with the
    environment variable RAY_ADDRESS set is Ray's way to join that address, so that address is checked."""
    from mpt_live.reach import connect_within

    env = os.environ.get("RAY_ADDRESS", "")
    target = env if address == "auto" and env else address
    if target in ("auto", "local"):  # Ray's words: join the running cluster, start a new local one
        return
    host, _, port = target.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():  # Ray's own ValueError came after its connect attempts and INFO lines
        raise InputError(f"--ray {address}: " + (f"RAY_ADDRESS {env!r} " if target != address else "")
                         + "is not auto, HOST:PORT or ray://HOST:PORT")
    try:
        connect_within(host.strip("[]"), int(port), timeout_s)
    except OSError as e:
        if target != address:
            raise InputError(f"--ray auto: no Ray cluster answers at {env}, the address in the environment variable "
                             f"RAY_ADDRESS ({e.strerror or e}); start one there, or unset RAY_ADDRESS for a local "
                             "cluster") from None
        raise InputError(f"--ray {address}: no Ray cluster answers there ({e.strerror or e}); start one with "
                         "ray start --head on that machine, or use --ray auto") from None


def connect(address: str) -> Any:
    """ray.init for ``auto`` or an address, unless this process is connected already; of Ray's own logging only
    its errors are shown (the run's lines are the project's). The process's own
    handlers of the stop signals are kept: ray.init installs one for SIGTERM that dumped Ray's stacks and
    exited 1 instead of stopping the batch as Ctrl-C does."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    import signal

    from .interrupts import SIGNALS

    check_address(address)
    saved = {s: signal.getsignal(s) for s in SIGNALS}
    # Ray's start-up lines (INFO 'Started a local Ray instance', a WARNING on token authentication) are not the
    # run's: its logger shows errors only; log_to_driver: the workers' output stays in Ray's log files
    quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
    try:
        if address == "auto":
            try:
                ray.init(address="auto", **quiet)
            except ConnectionError:  # no running cluster: a local one
                ray.init(**quiet)
        else:
            ray.init(address=address, **quiet)
    except Exception as e:
        raise InputError(f"--ray {address}: cannot join the Ray cluster ({type(e).__name__}: {e})") from None
    finally:
        for s, handler in saved.items():
            if handler is not None and signal.getsignal(s) is not handler:
                signal.signal(s, handler)
    return ray


class VideoActor:
    """A Ray actor (wrapped with ``ray.remote`` at run time): the model, loaded once; videos in, files out."""

    def __init__(self, spec: BatchSpec) -> None:
        import cv2

        cv2.setNumThreads(1)
        self.spec = spec
        self.runtime = spec.load()

    def pid(self) -> int:
        return os.getpid()

    def sweep(self) -> list[str]:
        """Remove this node's temporary folders of killed actors (:mod:`mpt_live.scratch`: never a live one's)."""
        return [str(p) for p in sweep(SCRATCH)]

    def run(self, i: int, rel: str, name: str, data: bytes, progress: Any
            ) -> tuple[dict[str, Any], dict[str, bytes]]:
        """Video ``i`` (its bytes; ``rel``: the file's path relative to the driver's output folder, links
        followed; ``name``: the video's file name as the driver was given or found it, a link's own)."""
        from .job import run_job
        from .sources import VideoFile

        self.sweep()
        with held_folder(SCRATCH) as td:
            video, out = mirrored(Path(td).resolve(), rel)
            video.parent.mkdir(parents=True, exist_ok=True)
            video.write_bytes(data)
            named = named_copy(video, Path(td).resolve() / "named", name)

            def tick(n: int, total: int | None) -> None:
                if n % PROGRESS_EVERY == 0:
                    progress.put_nowait(("progress", i, n, total))

            def marked(text: str) -> str:
                return _marked(text, video, out, named)

            try:
                with VideoFile(named, rotation=self.spec.cfg.rotation) as src:
                    summary = run_job(src, self.runtime, replace(self.spec.cfg, workers=1), out,
                                      save_video=self.spec.save_video, progress=tick)
            except InputError as e:
                raise InputError(marked(str(e))) from None
            summary = json.loads(marked(json.dumps(summary, default=json_default, ensure_ascii=False)))
            files = {p.name: (marked(p.read_text(encoding="utf-8")).encode("utf-8")
                              if p.suffix in (".html", ".csv") else p.read_bytes())
                     for p in out.iterdir() if p.is_file() and p.name != "summary.json" and p != video}
            return summary, files


def named_copy(video: Path, folder: Path, name: str) -> Path:
    """A link ``folder/name`` to ``video`` (the actor's copy), which the run reads: it names the video as the
    driver does (events.csv, the page's title, messages) while whatever follows links (the page's link to the
    video) finds the copy where the driver's file lies. ``video`` itself where no link can be made."""
    link = folder / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        link.symlink_to(video)
    except OSError:  # links not allowed there (Windows without the right): the copy under its own name
        return video
    return link


def relative_video(video: Path, out: Path) -> str:
    """``video``'s path relative to the output folder ``out`` (POSIX form)."""
    return Path(os.path.relpath(Path(video).resolve(), Path(out).resolve())).as_posix()


def mirrored(root: Path, rel: str) -> tuple[Path, Path]:
    """(video, output folder) under ``root`` with the video at ``rel`` relative to the output folder."""
    parts = Path(rel).parts
    up = sum(1 for p in parts if p == "..")  # relpath puts every ".." first
    out = root.joinpath(*[f"o{k}" for k in range(up + 1)])
    return Path(os.path.normpath(out / rel)), out


def write_outputs(out: Path, summary: dict[str, Any], files: dict[str, bytes], source: Path,
                   model: str | None = None) -> str | None:
    """The actor's files into ``out``, each atomically, summary.json (the completion mark) last. An earlier
    run's outputs in ``out`` are cleared first (as a local run does), so none is left beside the new ones.
    The summary names the driver's video and model, with their stamps (the actor ran on a copy). The run's end
    here, as a local run's (:func:`mpt_live.job.run_job`): the overview of a batch whose video folder ``out`` is
    rebuilt; returns the line saying so, or None."""
    from .finish import refresh_enclosing
    from .recordings import stamp
    from .rundir import recorded_source, start_run
    from .writers import write_json

    start_run(out, str(source))
    summary = json.loads(unmarked(json.dumps(summary, ensure_ascii=False), source, out))
    for name, data in files.items():
        tmp = out / f".{name}.tmp"
        try:
            tmp.write_bytes(unmarked(data.decode("utf-8"), source, out).encode("utf-8")
                            if name.endswith((".html", ".csv")) else data)
            os.replace(tmp, out / name)
        finally:
            tmp.unlink(missing_ok=True)  # a full disk: no temporary file left behind
    write_json(out / "summary.json", {**summary, "source": recorded_source(str(source)),
                                      "stamps": {"source": stamp(source), "model": stamp(model)}})
    try:
        return refresh_enclosing(out)
    except OSError:  # best effort: the video's own outputs are what counts
        return None


def run_ray(todo: list[tuple[int, Path, Path]], spec: BatchSpec, address: str, console: Console,
            on_event: Callable[[str, int, dict[str, Any]], None] | None = None,
            after: Callable[[list[tuple[Path, str]]], None] | None = None
            ) -> tuple[list[tuple[Path, Path, dict[str, Any]]], list[tuple[Path, str]]]:
    """Run ``todo`` ([(index, video, out dir)]) on the cluster at ``address``.

    ``on_event(kind, index, info)`` sees "start" (info: the actor), "progress" and "retry";
    ``after(failed so far)`` is called after each video's outputs are written here (or it failed).
    Returns (done: [(video, out dir, figures)], failed: [(video, reason)])."""
    ray = connect(address)
    from ray.util.queue import Queue

    gpus = int(ray.cluster_resources().get("GPU", 0))
    if gpus:
        spec = replace(spec, device="cuda")
        options, n = {"num_gpus": 1, "num_cpus": 1}, gpus
    else:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        options, n = {"num_cpus": spec.threads}, max(1, cpus // max(1, spec.threads))
    n = min(n, len(todo))
    actor_cls = ray.remote(**options)(VideoActor)
    progress = Queue()
    by_index = {i: (v, d) for i, v, d in todo}
    pending = [i for i, _, _ in todo]
    attempts = {i: 0 for i in pending}
    idle = [actor_cls.remote(spec) for _ in range(n)]
    running: dict[Any, tuple[int, Any]] = {}  # result ref -> (index, actor)
    done: list[tuple[Path, Path, dict[str, Any]]] = []
    failed: list[tuple[Path, str]] = []
    event = on_event or (lambda kind, i, info: None)
    with progress_bar(console) as bar:
        # each running video counts by its share of frames done, from the progress its actor sends (as --jobs)
        videos = VideosBar(bar, bar.add_task(f"videos (Ray, {counted(n, 'actor')}{' on GPUs' if gpus else ''})",
                                             total=len(todo), unit="videos"))
        bars: dict[int, Any] = {}
        while pending or running:
            while pending and idle:
                i, actor = pending.pop(0), idle.pop()
                video = by_index[i][0]
                attempts[i] += 1
                ref = actor.run.remote(i, relative_video(video, by_index[i][1]), video.name,
                                       ray.put(video.read_bytes()), progress)
                running[ref] = (i, actor)
                bars.setdefault(i, bar.add_task(video.name, total=None))
                event("start", i, {"actor": actor, "attempt": attempts[i]})
            ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
            for kind, i, n_frames, total in progress.get_nowait_batch(progress.qsize()) if progress.qsize() else []:
                if i in bars:
                    bar.update(bars[i], completed=n_frames, total=total or None)
                    videos.progress(i, n_frames, total)
                event(kind, i, {"frames": n_frames, "total": total})
            for ref in ready:
                i, actor = running.pop(ref)
                video, out = by_index[i]
                try:
                    summary, files = ray.get(ref)
                except ray.exceptions.RayActorError as e:  # the actor died: a new one, the video again
                    idle.append(actor_cls.remote(spec))
                    if attempts[i] < ATTEMPTS:
                        pending.insert(0, i)
                        event("retry", i, {"error": str(e).splitlines()[0]})
                        continue
                    failed.append((video, f"{video}: its Ray worker died {ATTEMPTS} times"))
                except ray.exceptions.RayTaskError as e:
                    idle.append(actor)
                    cause = e.cause if getattr(e, "cause", None) is not None else e
                    msg = str(cause) if isinstance(cause, InputError) else f"{video}: {type(cause).__name__}: {cause}"
                    failed.append((video, unmarked(msg, video, out).splitlines()[0]))
                else:
                    idle.append(actor)
                    try:  # one output folder that cannot be written (a full disk, another run in it) is one failure
                        line = write_outputs(out, summary, files, video, spec.model)
                    except (OSError, InputError, OutputError) as e:
                        why = str(e) if isinstance(e, (InputError, OutputError)) else f"{out}: {e.strerror or e}"
                        failed.append((video, f"{video}: its outputs could not be written ({why})"))
                    else:
                        done.append((video, out, {k: summary[k] for k in ("frames_read", "windows", "seconds", "fps")}))
                        if line:
                            bar.console.print(Text(line), soft_wrap=True)
                bar.remove_task(bars.pop(i))
                videos.ended(i)
                if after is not None:
                    after(failed)
            if not ready:
                time.sleep(0.01)
    try:  # a node whose killed actor's folder no later video swept: its actors remove it now
        ray.get([actor.sweep.remote() for actor in idle], timeout=60)
    except ray.exceptions.RayError as e:
        log.info("Ray: the end-of-batch sweep of temporary folders did not finish (%s)", e)
    for actor in idle:
        ray.kill(actor)
    return done, failed
