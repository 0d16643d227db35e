"""--jobs (worker processes) and --ray (a local Ray cluster): the serial run's rows, resume, failures."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote

import pytest
from rich.console import Console

from mpt_live.batch import REQUIRED, BatchSpec, is_complete, plan, run_key, run_parallel
from mpt_live.runtime import MPTRuntime, demo_model_path
from mpt_live.scratch import LOCK
from mpt_live.session import SessionConfig

from tinymodel import tiny_onnx

VIDEOS = ["pyfeat_single_face.mp4", "retalking_3_talking.mp4"]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return demo_model_path() if demo_model_path().is_file() else tiny_onnx(tmp_path_factory.mktemp("m") / "tiny.onnx")


@pytest.fixture()
def folder(faces_dir, tmp_path) -> Path:
    d = tmp_path / "videos"
    d.mkdir()
    for v in VIDEOS:
        shutil.copy(faces_dir / "videos" / v, d / v)
    return d


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def same_rows(a: list[dict[str, str]], b: list[dict[str, str]]) -> None:
    assert len(a) == len(b) and [r["frame"] for r in a] == [r["frame"] for r in b]
    for x, y in zip(a, b):
        assert x.keys() == y.keys() and x["top"] == y["top"]
        for k in x:
            if k not in ("top",) and x[k] and y[k] and k != "face":
                assert float(x[k]) == pytest.approx(float(y[k]), rel=1e-4, abs=1e-5), k


def same_events(a: list[dict[str, str]], b: list[dict[str, str]]) -> None:
    assert [(r["face"], r["onset_frame"], r["apex_frame"], r["class"]) for r in a] == \
        [(r["face"], r["onset_frame"], r["apex_frame"], r["class"]) for r in b]


def same_outputs(d: Path, serial: dict[str, list[dict[str, str]]], video: str) -> None:
    """``d`` holds every output, with the serial run's window rows and events."""
    assert all((d / n).is_file() for n in REQUIRED)
    same_rows(rows(d / "predictions.csv"), serial[video])
    same_events(rows(d / "events.csv"), serial[video + ":events"])


def report_video(d: Path) -> Path:
    """The video report.html plays, resolved from its folder."""
    page = (d / "report.html").read_text()
    src, fallback = re.findall(r'<source src="([^"]+)">', page)
    assert "mpt-ray-" not in fallback and unquote(fallback) == (d / unquote(src)).resolve().as_uri()  # no node's copy
    return (d / unquote(src)).resolve()


@pytest.fixture(scope="module")
def serial(model, faces_dir, tmp_path_factory) -> dict[str, list[dict[str, str]]]:
    """Each video run the usual way (one process, the default threads): the reference rows and events."""
    from mpt_live.job import run_job
    from mpt_live.sources import VideoFile

    rt, out = MPTRuntime(model, device="cpu"), tmp_path_factory.mktemp("serial")
    for v in VIDEOS:
        with VideoFile(faces_dir / "videos" / v) as src:
            run_job(src, rt, SessionConfig(), out / v)
    return {**{v: rows(out / v / "predictions.csv") for v in VIDEOS},
            **{v + ":events": rows(out / v / "events.csv") for v in VIDEOS}}


@pytest.fixture(scope="module")
def cluster_once():
    """The module's local Ray cluster (two CPUs): started by the first test that asks for it, shut down after the
    module's last test (a cluster costs seconds of start-up; this module's --ray runs need no fresh one)."""
    ray = pytest.importorskip("ray")
    yield ray
    ray.shutdown()


@pytest.fixture()
def cluster(cluster_once):
    """Ray, connected to the module's cluster (started again where a test that needs none running shut it); "local":
    a cluster of its own, never one that ``ray start`` left on the machine."""
    if not cluster_once.is_initialized():
        cluster_once.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    return cluster_once


# Ray's "auto" joins any cluster it finds on the machine: the one `ray start` wrote into its temporary folder
# (RAY_TMPDIR), or any GCS server a process scan finds (another test run's ray.init too). The line hides the latter
# from a process, as the no_cluster fixture does, for the tests of what starting a cluster does.
HIDE_OTHER_CLUSTERS = "import ray._private.services as s; s._find_address_from_flag = lambda flag: set()\n"


@pytest.fixture()
def no_cluster(monkeypatch):
    """Ray, with no cluster in this process and none that "auto" can find (other Ray runs may share the machine):
    yields (ray, its temporary folder), where a cluster this process starts keeps its session, and only such one."""
    import tempfile

    ray = pytest.importorskip("ray")
    from ray._private import services

    ray.shutdown()
    tmp = tempfile.mkdtemp(prefix="mpt-raytmp-")  # short: Ray's socket paths lie under it
    monkeypatch.setenv("RAY_TMPDIR", tmp)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(services, "_find_address_from_flag", lambda flag: set())
    services.find_gcs_addresses.cache_clear()
    yield ray, Path(tmp)
    ray.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)


def started_here(tmp: Path) -> bool:
    """Whether a Ray cluster was started with ``tmp`` as its RAY_TMPDIR (one joined keeps its session elsewhere)."""
    return any((tmp / "ray").glob("session_*"))


def test_jobs_gives_the_serial_rows_resumes_and_lists_failures(model, folder, serial, tmp_path):
    (folder / "broken.mp4").write_text("not a video")
    rt, out, console = MPTRuntime(model, device="cpu"), tmp_path / "out", Console(quiet=True)
    done, failed, skipped = run_parallel(folder, out, rt, SessionConfig(), console, jobs=2, device="cpu")
    assert sorted(v.name for v, _, _ in done) == sorted(VIDEOS) and not skipped
    assert [v.name for v, _ in failed] == ["broken.mp4"] and "broken.mp4" in failed[0][1]
    assert "broken.mp4" in (out / "failed.csv").read_text()
    # the batch's overview (mpt_live.overview): every video, the failure too
    assert sorted((r["video"], r["status"]) for r in rows(out / "videos.csv")) == \
        [("broken.mp4", "failed")] + [(v, "done") for v in sorted(VIDEOS)]
    assert (out / "index.html").is_file() and rows(out / "all_events.csv") is not None
    for v in VIDEOS:
        same_outputs(out / Path(v).stem, serial, v)
        assert report_video(out / Path(v).stem) == (folder / v).resolve()
    key = run_key(rt, SessionConfig())
    assert all(is_complete(out / Path(v).stem, key) for v in VIDEOS)
    assert not is_complete(out / Path(VIDEOS[0]).stem, run_key(rt, SessionConfig(stride=3)))  # other settings: redo
    assert not is_complete(out / Path(VIDEOS[0]).stem, run_key(rt, SessionConfig(max_faces=1)))
    assert not is_complete(out / Path(VIDEOS[0]).stem, key, save_video=True)  # no annotated video yet
    # a rerun skips what is complete; an interrupted video (its summary says so) is redone, and so is one
    # whose events.csv or report.html is gone
    summary = out / Path(VIDEOS[1]).stem / "summary.json"
    s = json.loads(summary.read_text())
    summary.write_text(json.dumps({**s, "interrupted": True}))
    # a run whose status is not "complete" (e.g. a truncated file, an output not written) is redone too
    s0 = out / Path(VIDEOS[0]).stem / "summary.json"
    kept = s0.read_text()
    s0.write_text(json.dumps({**json.loads(kept), "status": "incomplete"}))
    assert not is_complete(out / Path(VIDEOS[0]).stem, key)
    s0.write_text(kept)
    assert is_complete(out / Path(VIDEOS[0]).stem, key)
    # another file under the video's name (its size or time changed) or a model file rewritten under the
    # same name (retrained): redone
    v0, d0 = folder / VIDEOS[0], out / Path(VIDEOS[0]).stem
    st = v0.stat()
    assert is_complete(d0, key, video=v0) and key["model_file"] == [Path(model).stat().st_size,
                                                                   Path(model).stat().st_mtime_ns]
    os.utime(v0, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert not is_complete(d0, key, video=v0)
    os.utime(v0, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert is_complete(d0, key, video=v0) and not is_complete(d0, {**key, "model_file": [1, 2]})
    for name in ("events.csv", "report.html"):
        gone = out / Path(VIDEOS[0]).stem / name
        data = gone.read_bytes()
        gone.unlink()
        assert not is_complete(out / Path(VIDEOS[0]).stem, key), name
        gone.write_bytes(data)
    (folder / "broken.mp4").unlink()
    todo, skipped = plan(str(folder), out, key)
    assert [v.name for _, v, _ in todo] == [VIDEOS[1]] and [v.name for v, _ in skipped] == [VIDEOS[0]]
    done, failed, skipped = run_parallel(folder, out, rt, SessionConfig(), console, jobs=2, device="cpu")
    assert [v.name for v, _, _ in done] == [VIDEOS[1]] and not failed and len(skipped) == 1
    assert not (out / "failed.csv").exists()  # nothing failed this time: the earlier list is gone
    # the overview rebuilt from every video's folder, the skipped one's too
    assert sorted((r["video"], r["status"]) for r in rows(out / "videos.csv")) == [(v, "done") for v in sorted(VIDEOS)]
    same_outputs(out / Path(VIDEOS[1]).stem, serial, VIDEOS[1])


def test_ray_init_keeps_the_processs_stop_signal_handlers(no_cluster):
    """ray.init replaces the SIGTERM handler of the driver; mpt-live's (stop like Ctrl-C) must stay."""
    import signal

    ray, tmp = no_cluster
    from mpt_live.ray_batch import connect

    def ours(signum, frame):
        raise KeyboardInterrupt

    saved = signal.signal(signal.SIGTERM, ours)
    try:
        connect("auto")
        assert started_here(tmp)  # a fresh ray.init, not a cluster of another run joined
        assert signal.getsignal(signal.SIGTERM) is ours
    finally:
        ray.shutdown()
        signal.signal(signal.SIGTERM, saved)


def test_ray_connect_prints_no_ray_lines_and_keeps_its_errors(no_cluster):
    """--ray auto printed Ray's start-up lines (a WARNING on token authentication, an INFO 'Started a local Ray
    instance') among the project's own; now none, while Ray's errors still reach the console (a process of its
    own, which starts its own local cluster: none is left for its 'auto' to join)."""
    import subprocess
    import sys

    _, tmp = no_cluster  # its RAY_TMPDIR is the process's
    code = (HIDE_OTHER_CLUSTERS + "import logging, ray\n"
            "from mpt_live.ray_batch import connect\n"
            "connect('auto')\n"
            "print('errors shown:', logging.getLogger('ray').isEnabledFor(logging.ERROR))\n"
            "ray.shutdown()\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines() == ["errors shown: True"] and not res.stderr.strip(), res.stdout + res.stderr
    assert started_here(tmp)


def _held(folder: Path) -> bool:
    """Whether a process holds ``folder``'s owner lock (mpt_live.scratch)."""
    import fcntl

    with open(folder / LOCK) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        return False


def test_ray_gives_the_serial_rows_and_redoes_a_killed_workers_video(model, folder, serial, tmp_path, cluster):
    ray = cluster
    from mpt_live.ray_batch import run_ray

    rt, out = MPTRuntime(model, device="cpu"), tmp_path / "out"
    todo, _ = plan(str(folder), out, run_key(rt, SessionConfig()))
    killed = []

    def on_event(kind, i, info):
        if kind == "start":
            actors[i] = info["actor"]
        if kind == "progress" and todo[i][1].name == VIDEOS[1] and not killed and info["frames"] > 0:
            killed.append(i)
            ray.kill(actors[i])  # the worker dies mid-video: the video must be redone elsewhere

    actors: dict[int, object] = {}
    written = []  # what is on disk each time the driver is told a video ended (the overview's moment)
    scratch = Path(tempfile.gettempdir())  # the actors' node is this machine
    stale = scratch / "mpt-ray-killedbefore"  # a folder an actor killed in an earlier batch left (its lock free)
    stale.mkdir(exist_ok=True)
    (stale / LOCK).write_text("0\n")
    before = set(scratch.glob("mpt-ray-*"))
    done, failed = run_ray(todo, BatchSpec(model=str(model), device="cpu"), "auto", Console(quiet=True),
                           on_event=on_event,
                           after=lambda failed: written.append(len(list(out.glob("*/summary.json")))))
    assert killed and not failed and written == [1, 2]
    # the killed actor's folder (and the earlier one) removed; other runs' folders on this machine (other users of
    # it) may come and go meanwhile: a folder of this batch left would be new, its owner lock free
    after = set(scratch.glob("mpt-ray-*"))
    assert not stale.exists()
    assert [d for d in after - before if (d / LOCK).exists() and not _held(d)] == []
    assert sorted(v.name for v, _, _ in done) == sorted(VIDEOS)
    for v in VIDEOS:
        d = out / Path(v).stem
        same_outputs(d, serial, v)
        assert json.loads((d / "summary.json").read_text())["source"] == str(folder / v)
        assert report_video(d) == (folder / v).resolve()  # the link holds where the driver wrote the page
        assert is_complete(d, run_key(rt, SessionConfig()))


def test_ray_an_output_folder_that_cannot_be_written_is_one_failure_not_the_end(folder, tmp_path, monkeypatch,
                                                                              cluster):
    """A full disk (or another run in the folder) on the driver for one video: that video is listed, the
    others are written (motion-only, two local CPUs)."""
    import mpt_live.ray_batch as rb

    real = rb.write_outputs

    def full_disk(out, summary, files, video, model=None):
        if video.name == VIDEOS[0]:
            raise OSError(28, "No space left on device")
        return real(out, summary, files, video, model)

    monkeypatch.setattr(rb, "write_outputs", full_disk)
    out = tmp_path / "out"
    todo, _ = plan(str(folder), out, run_key(None, SessionConfig()))
    done, failed = rb.run_ray(todo, BatchSpec(model=None, device="cpu"), "auto", Console(quiet=True))
    assert [v.name for v, _ in failed] == [VIDEOS[0]]
    assert "its outputs could not be written" in failed[0][1] and "No space left" in failed[0][1]
    assert [v.name for v, _, _ in done] == [VIDEOS[1]] and (out / Path(VIDEOS[1]).stem / "summary.json").is_file()


@pytest.mark.parametrize("rel", ["../../videos/a.mp4", "a.mp4", "../b/c/a.mp4", "sub/a.mp4"])
def test_ray_actor_folder_mirrors_the_drivers_layout(rel, tmp_path):
    from mpt_live.ray_batch import mirrored, relative_video

    video, out = mirrored(tmp_path, rel)
    assert tmp_path in video.parents and tmp_path in out.parents
    assert relative_video(video, out) == rel


def test_ray_outputs_replace_an_earlier_run_in_the_folder(tmp_path):
    """The driver writes a video's outputs into a folder that holds an earlier run (another --save-video
    setting, a killed run): no file of the earlier run stays beside the new ones."""
    from mpt_live.ray_batch import write_outputs

    out = tmp_path / "v"
    out.mkdir()
    for name in ("annotated.mp4", "timeline.png", "summary.json"):
        (out / name).write_bytes(b"old")
    (out / "notes.txt").write_text("the user's own file")
    write_outputs(out, {"status": "complete", "outputs": {"events": "events.csv"}},
                   {"events.csv": b"a,b\n"}, tmp_path / "v.mp4")
    assert sorted(p.name for p in out.iterdir()) == ["events.csv", "notes.txt", "summary.json"]
    assert json.loads((out / "summary.json").read_text())["source"] == str(tmp_path / "v.mp4")


def test_a_frame_folder_read_at_another_fps_is_redone(tmp_path):
    """--fps sets a frame folder's times: a rerun at another rate must not keep the old outputs."""
    import json

    from mpt_live.recordings import stamp

    folder = tmp_path / "006_1"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.jpg").write_bytes(b"x")
    out = tmp_path / "out"
    out.mkdir()
    for n in REQUIRED:
        (out / n).write_text("x")
    key = run_key(None, SessionConfig())
    summary = {"status": "complete", "interrupted": False, "error": None, "source_fps": 25.0,
               "outputs": {n: n for n in REQUIRED}, "stamps": {"source": stamp(folder), "model": None},
               "model": dict(zip(("name", "backbone", "precision", "classes"), key["model"])), "stride": key["stride"], "detector": key["detector"],
               "spot_threshold": key["spot_threshold"], "max_faces": key["max_faces"]}
    (out / "summary.json").write_text(json.dumps(summary))
    assert is_complete(out, key, video=folder, fps=25.0)
    assert not is_complete(out, key, video=folder, fps=50.0)


@pytest.fixture()
def linked(faces_dir, tmp_path, monkeypatch) -> tuple[Path, Path, Path]:
    """(a video, a broken one: links, as given (relative), to files of other names elsewhere; the real file)."""
    store, given = tmp_path / "store", tmp_path / "in"
    store.mkdir()
    given.mkdir()
    shutil.copy(faces_dir / "videos" / VIDEOS[0], store / "take_1.mp4")
    (store / "junk.mp4").write_text("not a video")
    (given / "a.mp4").symlink_to(store / "take_1.mp4")
    (given / "b.mp4").symlink_to(store / "junk.mp4")
    monkeypatch.chdir(tmp_path)
    return Path("in/a.mp4"), Path("in/b.mp4"), store / "take_1.mp4"


def test_ray_actor_names_a_linked_video_as_given(linked, tmp_path):
    """A Ray actor's run (here in this process, no Ray needed) of a linked video, as the driver writes it: the
    summary, the page's title and a failure's message name the link as given, as a serial run does, never the
    file behind it, while the page's link still finds that file."""
    import queue

    from mpt_live.errors import InputError
    from mpt_live.ray_batch import VideoActor, unmarked, write_outputs, relative_video

    video, broken, target = linked
    actor, out = VideoActor(BatchSpec(model=None)), Path("out")
    with pytest.raises(InputError) as e:
        actor.run(1, relative_video(broken, out / "b"), broken.name, broken.read_bytes(), queue.Queue())
    message = unmarked(str(e.value), broken, out / "b")
    assert message.startswith(f"{broken}: not a readable video") and "junk" not in message, message
    summary, files = actor.run(0, relative_video(video, out / "a"), video.name, video.read_bytes(), queue.Queue())
    write_outputs(out / "a", summary, files, video)
    text = (out / "a" / "summary.json").read_text()
    assert json.loads(text)["source"] == os.path.abspath(video) and "take_1" not in text and "store" not in text
    page = (out / "a" / "report.html").read_text()
    assert re.search(r"<title>a\.mp4 ", page) and "<title>take_1" not in page
    assert report_video(out / "a") == target.resolve()


def test_ray_names_linked_videos_as_given(linked, tmp_path, cluster):
    """--ray on links to files of other names: messages, failed.csv, summary.json and the overview name each
    link as the serial batch does (motion-only, two local CPUs)."""
    video, broken, _ = linked
    done, failed, _ = run_parallel(Path("in"), Path("out"), None, SessionConfig(), Console(quiet=True),
                                   ray="auto", device="cpu")
    assert [v for v, _, _ in done] == [video] and [v for v, _ in failed] == [broken]
    assert failed[0][1].startswith(f"{broken}: not a readable video")
    for name in ("failed.csv", "videos.csv", "a/summary.json", "a/report.html"):
        text = (Path("out") / name).read_text()
        assert "junk" not in text and "take_1" not in text.split("<source")[0], name
    assert json.loads(Path("out/a/summary.json").read_text())["source"] == os.path.abspath(video)  # the link's path


def test_ray_with_one_video_says_one_actor(tmp_path, monkeypatch, cluster):
    """The bar of a --ray batch of one video said 'videos (Ray, 1 actors)' (one actor per video at most)."""
    from contextlib import contextmanager

    import cv2
    import numpy as np

    import mpt_live.ray_batch as rb

    said, real = [], rb.progress_bar

    @contextmanager
    def bar(*args, **kwargs):
        with real(*args, **kwargs) as b:
            add = b.add_task
            b.add_task = lambda description, **k: said.append(description) or add(description, **k)
            yield b

    monkeypatch.setattr(rb, "progress_bar", bar)
    (tmp_path / "in").mkdir()
    w = cv2.VideoWriter(str(tmp_path / "in" / "a.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 20.0, (96, 96))
    for k in range(20):
        w.write(np.full((96, 96, 3), 8 * k, np.uint8))
    w.release()
    done, failed, _ = run_parallel(tmp_path / "in", tmp_path / "out", None, SessionConfig(), Console(quiet=True),
                                   ray="auto", device="cpu")
    assert len(done) == 1 and not failed
    assert said[0] == "videos (Ray, 1 actor)", said


def _stop_at_first_progress(monkeypatch, seen: list[bool], marker: Path) -> None:
    """Ctrl-C in the batch's process as soon as a worker reports progress on a video (``seen``: whether ``marker``,
    a batch marker, was there then)."""
    from contextlib import contextmanager

    import mpt_live.pool as pool

    real = pool.progress_bar

    @contextmanager
    def bar(console):
        with real(console) as b:
            update = b.update

            def stop(task, **k):
                if k.get("completed"):
                    seen.append(marker.exists())
                    raise KeyboardInterrupt
                return update(task, **k)

            b.update = stop
            yield b

    monkeypatch.setattr(pool, "progress_bar", bar)


def test_jobs_stopped_by_ctrl_c_leave_overviews_of_what_ended(folder, tmp_path, monkeypatch):
    """A --jobs batch stopped by Ctrl-C lists its stopped videos (their summaries: interrupted, by SIGINT: the
    workers' SIGTERM from the parent said SIGTERM, as if the user had not pressed Ctrl-C); one of its videos
    run again alone with --jobs into its folder and stopped too rebuilds that batch's overview as every run's end
    does; such a run of one video is no batch: no batch marker, no failed.csv in the video's own folder."""
    from mpt_live.rundir import BATCH_MARKER

    out, console, seen = tmp_path / "out", Console(quiet=True), []
    d = out / Path(VIDEOS[0]).stem
    _stop_at_first_progress(monkeypatch, seen, d / BATCH_MARKER)
    with pytest.raises(KeyboardInterrupt):
        run_parallel(folder, out, None, SessionConfig(), console, jobs=2, device="cpu")
    summaries = {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/summary.json")}
    listed = rows(out / "videos.csv")
    assert summaries and sorted(r["folder"] for r in listed) == sorted(summaries)
    assert all(r["status"] == "incomplete" and "interrupted" in r["reason"] for r in listed
               if summaries[r["folder"]]["status"] == "interrupted")
    stopped = [s for s in summaries.values() if s["status"] == "interrupted"]
    assert stopped and all(s["stopped_by"] == "SIGINT" for s in stopped), [s.get("stopped_by") for s in stopped]
    assert all("interrupted (SIGINT)" in r["reason"] for r in listed if summaries[r["folder"]] in stopped)
    stale = [{**r, "frames": "-1"} for r in listed]  # an overview that no longer describes the runs
    with open(out / "videos.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(listed[0]))
        w.writeheader()
        w.writerows(stale)
    with pytest.raises(KeyboardInterrupt):
        run_parallel([folder / VIDEOS[0]], d, None, SessionConfig(), console, jobs=1, device="cpu")
    s = json.loads((d / "summary.json").read_text())
    row = next(r for r in rows(out / "videos.csv") if r["folder"] == d.name)
    assert s["status"] == "interrupted" and row["frames"] == str(s["frames_read"]) and "interrupted" in row["reason"]
    assert seen[-1] is False and not (d / "videos.csv").exists()
    monkeypatch.undo()
    (folder / "broken.mp4").write_text("not a video")
    single = tmp_path / "single"
    done, failed, _ = run_parallel([folder / "broken.mp4"], single, None, SessionConfig(), console, jobs=1,
                                   device="cpu")
    assert not done and len(failed) == 1 and not (single / "failed.csv").exists()


def test_a_worker_loads_its_model_as_the_cli_does_the_face_detectors_import_beside_it(monkeypatch, tmp_path):
    """A --jobs worker (and a --ray actor) made its MPTRuntime itself, so mediapipe's import came after the model's
    load, not beside it as the CLI's (runtime.load_model). It loads through load_model now: the import is started
    before the model's session is made. Told by the order of the calls, not by any clock."""
    from mpt_live import runtime

    calls: list[str] = []

    class Fake:
        def __init__(self, path, device="auto", threads=None):
            calls.append(f"session {Path(path).name} {device} {threads}")

        def warmup(self, n):
            calls.append(f"warmup {n}")

    def importing(name):
        calls.append(f"import {name}")
        return type("Done", (), {"join": lambda self: None})()

    monkeypatch.setattr(runtime, "MPTRuntime", Fake)
    monkeypatch.setattr(runtime, "import_in_background", importing)
    rt = BatchSpec(model=str(tmp_path / "m.onnx"), device="cpu", threads=2).load()
    assert isinstance(rt, Fake)
    assert calls == [f"import {runtime.DETECTOR_MODULE}", "session m.onnx cpu 2", "warmup 1"], calls
    calls.clear()
    assert BatchSpec(model=None).load() is None and calls == []  # motion-only: nothing loaded, nothing imported
