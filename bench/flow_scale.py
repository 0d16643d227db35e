"""How large is the signed displacement of a clip before the model normalises it: training clips vs windows.

The flow prompt input (:func:`train.cellflow.flow_features`) divides each clip's per-cell Lucas-Kanade
displacement by its RMS over the clip. This prints that RMS (px of the magnified frames) for clips of a
training clip cache and for the windows the live pipeline classifies on recorded videos (the model's own
motion input, taken as the session hands it to the model), so one can see whether a still face's noise
and a trained movement can be told apart by scale.

    python bench/flow_scale.py --cache CACHE/casme2 [--clips 200] [--cell 8] [VIDEO ...]
    (default videos: evm_face_still.mp4 and liveportrait_d19_glasses.mp4 of the shared faces)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import torch  # noqa: E402

from mpt_live.runtime import MPTRuntime, demo_model_path, vector_extensions  # noqa: E402
from mpt_live.session import Session, SessionConfig  # noqa: E402
from mpt_live.sources import VideoFile  # noqa: E402
from train.cellflow import cell_flow  # noqa: E402

FACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "videos"
VIDEOS = ("evm_face_still.mp4", "liveportrait_d19_glasses.mp4")


def clip_rms(motion: np.ndarray, cell: int) -> np.ndarray:
    """Magnified clips ``(B, T, 3, S, S)`` -> RMS of their per-cell displacement, one per clip."""
    d = cell_flow(torch.from_numpy(np.asarray(motion, np.float32)), cell)
    return d.pow(2).mean(dim=(1, 2, 3, 4)).sqrt().numpy()


def window_rms(video: Path, runtime: MPTRuntime, cell: int) -> np.ndarray:
    """The RMS of every window the session classifies on ``video`` (stride 2, one worker thread)."""
    seen: list[np.ndarray] = []

    def recording(dynamic, motion):
        m = np.asarray(motion)
        seen.append(clip_rms(m if m.ndim == 5 else m[None], cell))
        return MPTRuntime.predict(runtime, dynamic, motion)

    runtime.predict = recording
    with VideoFile(video) as src, Session(src, runtime, SessionConfig(stride=2, workers=1)) as session:
        for _ in session:
            pass
    return np.concatenate(seen) if seen else np.zeros(0)


def spread(x: np.ndarray) -> str:
    if not len(x):
        return "no clips"
    return f"n={len(x):4d}  " + "  ".join(f"p{p} {np.percentile(x, p):.3f}" for p in (5, 25, 50, 75, 95))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("videos", nargs="*", type=Path, help="recorded videos (default: two of the shared faces)")
    p.add_argument("--cache", type=Path, help="a training clip cache folder (*.npz with 'motion')")
    p.add_argument("--clips", type=int, default=200, help="cache clips to read (sorted by name)")
    p.add_argument("--cell", type=int, default=8, help="cell size in px (image size / prompt grid: 112 / 14)")
    p.add_argument("--model", type=Path, default=None, help="ONNX model (default: the bundled demo model)")
    args = p.parse_args(argv)
    videos = args.videos or [FACES / v for v in VIDEOS]
    for v in videos:
        if not v.is_file():
            p.error(f"{v}: no such video")
    files = sorted(args.cache.glob("*.npz"))[:args.clips] if args.cache is not None else []
    if args.cache is not None and not files:
        p.error(f"--cache {args.cache}: no .npz clips in it")
    print(f"CPU vector extensions: {vector_extensions()}", flush=True)
    print("RMS of the per-cell displacement before normalisation (px of the magnified frames):")
    if files:
        rms = np.concatenate([clip_rms(np.load(f)["motion"][None], args.cell) for f in files])
        print(f"  {'training clips (' + args.cache.name + ')':34s} {spread(rms)}", flush=True)
    runtime = MPTRuntime(args.model or demo_model_path(), device="cpu", threads=1)
    for v in videos:
        print(f"  {v.name + ' windows':34s} {spread(window_rms(v, runtime, args.cell))}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
