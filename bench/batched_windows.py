"""Two faces' windows classified in one model call against each window alone: how many windows get equal
probabilities, how far the others are apart, whether their top class is the same (counts, never times).

Two real people side by side (paddlegan_fom_dv and liveportrait_d6 of the shared face videos, 320 px tiles,
6 s at 30 fps, as ``tests/test_faces_batched.py`` makes them) run through the session twice with one model
worker: ``batch=1`` (each window its own call) and the default (the windows that fall due on a frame in one
call). Per window (frame and face) the largest difference of its probabilities; equal: within 1e-6. A static int8 model's rounding
can move with the batch (a quantized layer's input rounded one code apart); the README's figure.

    python bench/batched_windows.py [--model M.onnx] [--seconds 6] [--faces ../shared/data/faces]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.append(str(Path(__file__).resolve().parent))  # bench/shared_faces.py, after the installed packages
from shared_faces import faces_folder  # noqa: E402

from mpt_live.machine import vector_extensions  # noqa: E402
from mpt_live.runtime import MPTRuntime, demo_model_path  # noqa: E402
from mpt_live.session import Session, SessionConfig  # noqa: E402
from mpt_live.sources import VideoFile  # noqa: E402
from train.compose import side_by_side  # noqa: E402

FACES = faces_folder()
PEOPLE = ("paddlegan_fom_dv.mp4", "liveportrait_d6.mp4")
ROUNDING = 1e-6  # equal: apart by no more than fp32 rounding of a probability (the tests' FLOAT_ROUNDING median)


def classified(video: Path, runtime: MPTRuntime, batch: int | None) -> tuple[dict, dict]:
    """(frame, face ID) -> probabilities of every classified window, and the summary's batch figures."""
    with VideoFile(video) as src, Session(src, runtime, SessionConfig(workers=1, batch=batch)) as s:
        rows = {(r.frame, r.face_id): r.probs for r in s if r.probs is not None}
        return rows, s.summary()["batch"]


def compare(alone: dict, batched: dict) -> dict:
    """Windows in both runs, those with equal probabilities (within :data:`ROUNDING`; bit for bit), the largest and
    median difference, equal top classes."""
    keys = sorted(set(alone) & set(batched))
    diff = np.array([np.abs(batched[k] - alone[k]).max() for k in keys]) if keys else np.zeros(0)
    return {"windows": len(keys), "only_one_run": len(set(alone) ^ set(batched)),
            "equal": int((diff <= ROUNDING).sum()), "identical": int((diff == 0).sum()), "max": float(diff.max()) if keys else 0.0,
            "median": float(np.median(diff)) if keys else 0.0,
            "same_top": sum(int(batched[k].argmax() == alone[k].argmax()) for k in keys)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=None, help="ONNX model (default: the bundled demo model)")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--faces", type=Path, default=FACES)
    a = ap.parse_args(argv)
    model = a.model or demo_model_path()
    videos = [a.faces / "videos" / p for p in PEOPLE]
    if not model.is_file():
        ap.error(f"{model}: no such model file (scripts/make_demo_model.sh builds the demo model)")
    if missing := [str(v) for v in videos if not v.is_file()]:
        ap.error(f"{', '.join(missing)}: no such face video (give --faces)")
    if not a.seconds > 0:
        ap.error(f"--seconds {a.seconds}: give a length above 0")
    print(f"CPU vector extensions: {vector_extensions()}", flush=True)
    rt = MPTRuntime(model, device="cpu", threads=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "two.mp4"
        side_by_side(videos, path, seconds=a.seconds)
        alone, _ = classified(path, rt, 1)
        batched, stats = classified(path, rt, None)
    r = compare(alone, batched)
    print(f"{model.name} ({rt.metadata.get('mpt.int8', '') or 'fp32'}), {a.seconds:g} s of "
          f"{' + '.join(Path(p).stem for p in PEOPLE)}; batched: {stats['mean_clips']:.2f} windows a call")
    print(f"{r['equal']} of {r['windows']} windows equal batched and alone (within {ROUNDING:g}; {r['identical']} bit for "
          f"bit), the rest up to {r['max']:.3f} apart (median of all {r['median']:.2g}); top class the same on {r['same_top']} of {r['windows']}; "
          f"windows in one run only: {r['only_one_run']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
