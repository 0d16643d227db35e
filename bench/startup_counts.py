"""What each video of an ``mpt-live`` run pays before and beside its frames, counted (never timed).

Runs ``mpt-live`` with the arguments given, in this process and in every ``--jobs`` worker (spawned workers
import this file again as their main module, so the same counters are installed there), and prints one table:
per video file, its OpenCV captures (``cv2.VideoCapture``), PyAV opens (``av.open``) and the frames decoded
from its captures, each by the module of mpt_live that made it (``sources``: the run's own; ``apexframes``: the review
page's pictures; ``review``: the page's video; compare with the frames the run read); per
process and run (``Session``), the mediapipe BlazeFace detectors built, the SFace networks built and the
ONNX Runtime sessions created (the model's, and any provider probe's).

    python bench/startup_counts.py --video DIR --motion-only --out OUT --headless [--jobs 2]
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

LOG = os.environ.setdefault("MPT_STARTUP_COUNTS", tempfile.mkdtemp(prefix="mpt-counts-"))
_events: list[tuple[float, str, str]] = []  # (monotonic time, what, detail)


def _log(what: str, detail: object = "") -> None:
    _events.append((time.monotonic(), what, str(detail)))


def _caller() -> str:
    """The innermost module of mpt_live on the stack (who opened the video)."""
    f = sys._getframe(1)
    while f is not None:
        name = f.f_globals.get("__name__", "")
        if name.startswith("mpt_live."):
            return name.split(".", 1)[1]
        f = f.f_back
    return "?"


def _install() -> None:
    import av
    import cv2
    import onnxruntime as ort
    from mediapipe.tasks.python import vision

    import mpt_live.session as session

    real_capture = cv2.VideoCapture

    class Capture:  # a wrapper, not a subclass: OpenCV's type crashed the garbage collector when subclassed
        def __init__(self, *a, **k):
            self._cap, self._name, self._n = real_capture(*a, **k), str(a[0]) if a else "", 0
            self._by = _caller()
            _log("capture", f"{self._by}\t{self._name}")

        def __getattr__(self, name):
            return getattr(self._cap, name)

        def read(self, *a):
            ok, img = self._cap.read(*a)
            self._n += bool(ok)
            return ok, img

        def grab(self):
            ok = self._cap.grab()
            self._n += bool(ok)
            return ok

        def release(self):
            if self._n >= 0:
                _log("decoded", f"{self._n}\t{self._by}\t{self._name}")
                self._n = -1
            return self._cap.release()

    def counted(what, real, name=lambda a: a[0] if a else ""):
        def call(*a, **k):
            _log(what, name(a))
            return real(*a, **k)
        return call

    cv2.VideoCapture = Capture
    cv2.FaceRecognizerSF.create = counted("sface", cv2.FaceRecognizerSF.create)
    real_open = av.open

    def av_open(*a, **k):
        _log("av.open", f"{_caller()}\t{a[0] if a else ''}")
        return real_open(*a, **k)

    av.open = av_open
    ort.InferenceSession = counted("ort session", ort.InferenceSession,
                                   lambda a: Path(a[0]).name if a and isinstance(a[0], (str, os.PathLike)) else "bytes")
    create = vision.FaceDetector.create_from_options.__func__

    def detector(cls, options):
        _log("detector", Path(options.base_options.model_asset_path).stem)
        return create(cls, options)

    vision.FaceDetector.create_from_options = classmethod(detector)
    init = session.Session.__init__

    def session_init(self, source, *a, **k):
        _log("session", getattr(source, "name", "?"))
        init(self, source, *a, **k)

    session.Session.__init__ = session_init

    atexit.register(_dump)


def _dump() -> None:
    Path(LOG, f"{os.getpid()}.json").write_text(json.dumps(_events))


def table(folder: str) -> list[str]:
    """The counts of every process that logged into ``folder``, one line per video file and per run."""
    rows: dict[str, Counter] = defaultdict(Counter)
    for f in sorted(Path(folder).glob("*.json")):
        run = f"pid {f.stem}: before its first run"
        for _, what, detail in sorted(json.loads(f.read_text())):
            if what == "session":
                run = f"pid {f.stem}: run of {Path(detail).name}"
                continue
            if what in ("capture", "av.open"):
                by, name = detail.split("\t", 1)
                rows[f"file {Path(name).name}"][f"{what} ({by})"] += 1
            elif what == "decoded":
                n, by, name = detail.split("\t", 2)
                rows[f"file {Path(name).name}"][f"frames decoded ({by})"] += int(n)
            else:
                rows[run][f"{what} {Path(detail).name}".strip()] += 1
    return [f"{k:50s} " + ", ".join(f"{a} x{b}" for a, b in sorted(v.items())) for k, v in sorted(rows.items())]


_install()  # here and in each spawned worker (which imports this file as __mp_main__)

if __name__ == "__main__":
    from mpt_live.cli import main
    from mpt_live.machine import vector_extensions

    print(f"CPU vector extensions: {vector_extensions()}", flush=True)
    sys.argv[0] = "mpt-live"
    try:
        main()
    except SystemExit as e:
        code = e.code
    else:
        code = 0
    _dump()  # the workers have written theirs as they ended
    print("\n".join(table(LOG)))
    sys.exit(code)
