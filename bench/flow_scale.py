"""How large is the signed displacement of a clip before the model normalises it: training clips vs windows.

The flow prompt input (:func:`train.cellflow.flow_features`) divides each clip's per-cell Lucas-Kanade
displacement by a per-clip scale. This prints the displacement's RMS (px of the magnified frames) for
clips of a training clip cache and for the windows the live pipeline classifies on recorded videos (the
model's own motion input, taken as the session hands it to the model), so one can see whether a still
face's noise and a trained movement can be told apart by scale. ``--tracking``: how much the normalised
features of each window differ between tracking the face between detections (the pipeline's) and
detecting it on every frame, under each per-clip scale (``train.cellflow.FLOW_NORMS``), beside their size.

    python bench/flow_scale.py --cache CACHE/casme2 [--clips 200] [--cell 8] [VIDEO ...]
    python bench/flow_scale.py --tracking [VIDEO ...]
    (default videos: evm_face_still.mp4 and liveportrait_d19_glasses.mp4 of the shared faces)
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.append(str(Path(__file__).resolve().parent))  # bench/shared_faces.py, after the installed packages
from shared_faces import faces_folder  # noqa: E402

import torch  # noqa: E402

import mpt_live.face_watch  # noqa: E402
from mpt_live.face import FaceAligner  # noqa: E402
from mpt_live.runtime import MPTRuntime, demo_model_path, vector_extensions  # noqa: E402
from mpt_live.session import Session, SessionConfig  # noqa: E402
from mpt_live.sources import VideoFile  # noqa: E402
from train.cellflow import FLOW_NORMS, cell_flow, flow_features  # noqa: E402

FACES = faces_folder() / "videos"
VIDEOS = ("evm_face_still.mp4", "liveportrait_d19_glasses.mp4")


def clip_rms(motion: np.ndarray, cell: int) -> np.ndarray:
    """Magnified clips ``(B, T, 3, S, S)`` -> RMS of their per-cell displacement, one per clip."""
    d = cell_flow(torch.from_numpy(np.asarray(motion, np.float32)), cell)
    return d.pow(2).mean(dim=(1, 2, 3, 4)).sqrt().numpy()


def window_clips(video: Path, runtime: MPTRuntime, each: Callable[[np.ndarray], Any],
                 detect_every: int | None = None) -> tuple[list, list]:
    """``each(clip)`` for the motion clip ``(T, 3, S, S)`` of every window the session classifies on
    ``video`` (stride 2, one worker thread), and the session's rows; ``detect_every``: the detector's
    period (None: the pipeline's)."""
    seen: list = []

    def recording(dynamic, motion):
        m = np.asarray(motion)
        seen.extend(each(c) for c in (m if m.ndim == 5 else m[None]))
        return MPTRuntime.predict(runtime, dynamic, motion)

    runtime.predict = recording
    aligner = mpt_live.face_watch.FaceAligner
    if detect_every is not None:
        mpt_live.face_watch.FaceAligner = functools.partial(FaceAligner, detect_every=detect_every)
    try:
        with VideoFile(video) as src, Session(src, runtime, SessionConfig(stride=2, workers=1)) as session:
            rows = list(session)
    finally:
        mpt_live.face_watch.FaceAligner = aligner
    return seen, rows


def window_rms(video: Path, runtime: MPTRuntime, cell: int) -> np.ndarray:
    """The displacement RMS of every window the session classifies on ``video``."""
    return np.asarray(window_clips(video, runtime, lambda c: clip_rms(c[None], cell)[0])[0], dtype=np.float64)


def tracking_vs_detection(video: Path, runtime: MPTRuntime, cell: int, grid: int) -> None:
    """Per scale: the mean size of each window's normalised displacement features and the mean difference
    between tracking between detections and detection on every frame (windows paired in order); then
    how much the model's probabilities differ (windows with a motion score in both) and its labels."""
    def feats(c: np.ndarray) -> dict[str, np.ndarray]:
        t = torch.from_numpy(np.asarray(c, np.float32))[None]
        return {n: flow_features(t, cell, grid, n)[0].numpy() for n in FLOW_NORMS}

    (a, rows_a), (b, rows_b) = window_clips(video, runtime, feats, 1), window_clips(video, runtime, feats)
    n = min(len(a), len(b))
    print(f"  {video.name}: {n} windows paired (detection on every frame {len(a)}, tracking {len(b)})")
    for norm in FLOW_NORMS:
        size = np.array([np.abs(x[norm]).mean() for x in a[:n]])
        diff = np.array([np.abs(x[norm] - y[norm]).mean() for x, y in zip(a[:n], b[:n])])
        print(f"    {norm:6s} mean |f| per window p50 {np.median(size):.3f}; mean |f tracked - f detected| "
              f"p50 {np.median(diff):.3f}, p90 {np.percentile(diff, 90):.3f}; difference / size p50 "
              f"{np.median(diff / size):.2f}", flush=True)
    both = [(x, y) for x, y in zip(rows_a, rows_b) if x.motion_score is not None and y.motion_score is not None]
    if both:
        d = np.array([np.abs(np.asarray(y.probs) - np.asarray(x.probs)).max() for x, y in both])
        top = np.mean([x.top == y.top for x, y in zip(rows_a, rows_b)])
        print(f"    model: max |dprob| per window p50 {np.median(d):.3f}, p90 {np.percentile(d, 90):.3f} "
              f"({len(d)} windows); shown label equal on {top:.1%} of rows", flush=True)


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
    p.add_argument("--tracking", action="store_true", help="the normalised features of tracking between "
                   "detections vs detection on every frame, under each per-clip scale")
    args = p.parse_args(argv)
    videos = args.videos or [FACES / v for v in VIDEOS]
    for v in videos:
        if not v.is_file():
            p.error(f"{v}: no such video")
    files = sorted(args.cache.glob("*.npz"))[:args.clips] if args.cache is not None else []
    if args.cache is not None and not files:
        p.error(f"--cache {args.cache}: no .npz clips in it")
    print(f"CPU vector extensions: {vector_extensions()}", flush=True)
    runtime = MPTRuntime(args.model or demo_model_path(), device="cpu", threads=1)
    if args.tracking:
        print(f"normalised displacement features ({args.cell}-px cells), tracking vs detection on every frame:")
        for v in videos:
            tracking_vs_detection(v, runtime, args.cell, runtime.clip_spec.image_size // args.cell)
        return 0
    print("RMS of the per-cell displacement before normalisation (px of the magnified frames):")
    if files:
        rms = np.concatenate([clip_rms(np.load(f)["motion"][None], args.cell) for f in files])
        print(f"  {'training clips (' + args.cache.name + ')':34s} {spread(rms)}", flush=True)
    for v in videos:
        print(f"  {v.name + ' windows':34s} {spread(window_rms(v, runtime, args.cell))}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
