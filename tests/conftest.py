"""Shared fixtures. Real media are read from ../shared/data/faces and never copied here."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Iterator

import pytest

FACES = Path(os.environ.get("MPT_FACES_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data" / "faces")  # empty: unset


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    if not (FACES / "videos").is_dir():
        pytest.skip(f"real face media not found at {FACES}: set MPT_FACES_DIR to the faces folder (its videos/ and "
                    "photos/; ../shared/data/faces of the main checkout) to run these tests")
    return FACES


# report pages in a real browser: Debian's chromium driven by playwright (tests of report.html and index.html)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    """Headless chromium, once per test module; the test is skipped where playwright or chromium is missing."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).is_file():
        pytest.skip("no chromium at /usr/bin/chromium (.ci/run installs Debian's chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def worktrees() -> list[str]:
    """This checkout's git worktrees as ``git worktree list --porcelain`` lists them (a bench's ``--before`` must leave
    none behind)."""
    root = Path(__file__).resolve().parents[1]
    return subprocess.run(["git", "-C", str(root), "worktree", "list", "--porcelain"], capture_output=True, text=True,
                          check=True).stdout.splitlines()


def bench_script(name: str) -> Iterator[ModuleType]:
    """bench/<name>.py loaded as a module (bench/ on the path meanwhile, for its own imports): ``yield from`` it in a
    module-scoped fixture."""
    bench = str(Path(__file__).resolve().parents[1] / "bench")
    sys.path.insert(0, bench)
    spec = importlib.util.spec_from_file_location(f"{name}_bench", Path(bench) / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        if bench in sys.path:  # a script that drops its own folder from sys.path (bench/int8.py) did so already
            sys.path.remove(bench)


@pytest.fixture
def run_main(monkeypatch, capfd):
    """``run_main(module, *args)``: the ``main()`` of a tool's command-line module (what its console script calls)
    run in this process on ``args``: (exit status, the non-empty lines it printed, stderr first). Where a crash,
    a hang or a signal is not the case, this checks what a subprocess would, without starting Python again: what
    it writes to the file descriptors (a library's C code too), the Python warnings a process shows by default
    and the log records of warning level that Python's last-resort handler would print (pytest takes both)."""
    import importlib
    import logging
    import signal
    import warnings

    hidden = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)  # Python's default filters

    def run(module: str, *args: str) -> tuple[int, list[str]]:
        main = importlib.import_module(module).main
        monkeypatch.setattr(sys, "argv", [module, *args])
        capfd.readouterr()
        root = logging.getLogger()
        own = [h for h in root.handlers if type(h).__module__ != "_pytest.logging"]
        last = None if own else logging.StreamHandler(sys.stderr)  # no handler of its own: lastResort's output
        if last is not None:
            last.setLevel(logging.WARNING)
            root.addHandler(last)
        stops = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            with warnings.catch_warnings(record=True) as shown, pytest.raises(SystemExit) as e:
                warnings.simplefilter("always")
                main()
        finally:
            if last is not None:
                root.removeHandler(last)
            for s, h in stops.items():  # a command stopped by a signal ignores them until its process exits
                signal.signal(s, h)
        out = capfd.readouterr()
        said = [f"{w.category.__name__}: {w.message}" for w in shown if not issubclass(w.category, hidden)]
        return e.value.code, [ln for ln in (out.err + out.out).splitlines() if ln.strip()] + said

    return run


@pytest.fixture(scope="session")
def demo_clip(tmp_path_factory):
    """``demo_clip(path)``: the default input (``render_demo_clip``, seed 0) at ``path`` with its truth file beside
    it, as ``render_demo_clip(path)`` leaves them, and its truth. Rendered once a session (about 5 s of CPU; seven
    tests' fixtures use it), copied for each caller, which may write over its copy."""
    import copy
    import shutil

    from mpt_live.demo_input import render_demo_clip, truth_path

    made: dict = {}

    def place(path: str | Path) -> dict:
        if not made:
            made["clip"] = tmp_path_factory.mktemp("demo_clip") / "demo_input.mp4"
            made["truth"] = render_demo_clip(made["clip"])
        path = Path(path)
        shutil.copyfile(made["clip"], path)
        shutil.copyfile(truth_path(made["clip"]), truth_path(path))
        return copy.deepcopy(made["truth"])

    return place


def read_frames(path: Path, n: int) -> tuple[list, float]:
    """The first ``n`` frames of a video (all of a shorter one; at least one, else the test fails here) and its frame
    rate (30 where the file gives none)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while len(frames) < n:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    assert frames, f"cannot read {path}"
    return frames, fps


def still_session_stopped(faces_dir: Path, at_s: float):
    """The session of evm_face_still.mp4 (one still face, motion-only, stride 4) stopped as q/Esc does (StopSession
    from on_frame) at its first frame ``at_s`` seconds in or later; closed, to read its summary and warnings."""
    from mpt_live.session import Session, SessionConfig, StopSession
    from mpt_live.sources import VideoFile

    def on_frame(frame, faces):
        if frame.t >= at_s:
            raise StopSession

    with VideoFile(faces_dir / "videos" / "evm_face_still.mp4") as src, \
            Session(src, None, SessionConfig(stride=4), on_frame=on_frame) as session:
        list(session)
    return session


def killed_run(out: Path, video: Path, last_frame: int, fps: float = 30.0) -> dict:
    """A folder as a killed motion-only run of ``video`` (stride 2, up to two faces) leaves it: its start marker and
    predictions.csv rows of face 0 on the even frames up to ``last_frame``; returns the marker's facts (what
    ``resume_point`` compares the resumed run with)."""
    from mpt_live.recordings import stamp
    from mpt_live.rundir import start_run

    facts = {"mode": "file", "model": {"name": "motion-only"}, "source_fps": fps, "stride": 2, "detector": "auto",
             "max_faces": 2, "spot_threshold": 4.0, "clip_spec": None, "start_s": None, "max_seconds": None,
             "stamps": {"source": stamp(str(video)), "model": None}}
    start_run(out, str(video), facts)  # the marker a killed run leaves
    (out / "predictions.csv").write_text("frame,time_s,face_id,x,y,w,h,motion_score\n" + "".join(
        f"{f},{f / fps:.4f},0,10,10,100,100,0.1\n" for f in range(0, last_frame + 1, 2)))
    return facts
