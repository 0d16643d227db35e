"""Many recorded videos on one machine: ``--jobs N`` against the serial run, in one run.

``--count`` copies of one video (default: 8 of liveportrait_d6, 33.6 s each) are processed three
ways, each into a fresh output folder, wall time from start to the last file written:

* serial: ``mpt-live --video DIR --out OUT`` (one video after another, the model with its default
  threads and workers): the baseline;
* ``--jobs N`` (default 2: the issue's target is >= 1.7x the serial run with 8 videos);
* with ``--ray``, also ``--ray auto`` (a local cluster of this machine's cores when none is running).

Speed-up = serial wall time / parallel wall time. The CPU's vector extensions are printed beside the
figures. ``--quick`` (two copies of a 72-frame clip) checks the script; its figures mean nothing.

    python bench/jobs.py [--model M.onnx] [--video PATH] [--count 8] [--jobs 2] [--ray] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from mpt_live.batch import run_batch, run_parallel
from mpt_live.machine import usable_cores, vector_extensions
from mpt_live.runtime import load_model
from mpt_live.session import SessionConfig
from shared_faces import faces_folder

VIDEOS = faces_folder() / "videos"


def copies(video: Path, n: int, folder: Path) -> list[Path]:
    """``n`` links to ``video`` in ``folder`` (distinct names: one output folder each)."""
    folder.mkdir(parents=True)
    out = []
    for i in range(n):
        p = folder / f"{video.stem}_{i:02d}{video.suffix}"
        p.symlink_to(video.resolve())
        out.append(p)
    return out


def timed(label: str, run) -> tuple[float, list, list]:
    t0 = time.perf_counter()
    done, failed = run()[:2]
    wall = time.perf_counter() - t0
    print(f"  {label:<36} {wall:8.1f} s   {len(done)} done, {len(failed)} failed", flush=True)
    for _, msg in failed:
        print(f"    failed: {msg}")
    return wall, done, failed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, help="ONNX model [default: the bundled demo model]")
    ap.add_argument("--video", type=Path, default=VIDEOS / "liveportrait_d6.mp4")
    ap.add_argument("--count", type=int, default=8, help="copies of the video")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes of the parallel run")
    ap.add_argument("--ray", action="store_true", help="also run the videos on Ray (local cluster unless one runs)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--quick", action="store_true", help="2 copies of a 72-frame clip: checks the script")
    args = ap.parse_args()
    if args.quick:
        args.video, args.count = VIDEOS / "pyfeat_single_face.mp4", 2
    if not args.video.is_file():
        print(f"error: {args.video}: no such file (pass --video)", file=sys.stderr)
        return 2
    rt = load_model(args.model, device=args.device)
    if rt is None:
        print("error: no model (pass --model or build the demo model)", file=sys.stderr)
        return 2
    console = Console(quiet=True)
    cfg = SessionConfig()
    print(rt.describe())
    print(f"CPU: {usable_cores()} usable cores; vector extensions: {vector_extensions()}")
    print(f"{args.count} x {args.video.name}; stride {cfg.stride or 2}")
    with tempfile.TemporaryDirectory(prefix="mpt-bench-jobs-") as td:
        videos = copies(args.video, args.count, Path(td) / "videos")
        serial, _, _ = timed("serial (baseline)", lambda: run_batch(videos, Path(td) / "serial", rt, cfg, console))
        jobs, _, _ = timed(f"--jobs {args.jobs}", lambda: run_parallel(
            videos, Path(td) / "jobs", rt, cfg, console, jobs=args.jobs, device=args.device))
        line = (f"SUMMARY bench/jobs: {args.count} videos, --jobs {args.jobs} {serial / jobs:.2f}x the serial run "
                f"({jobs:.1f} s vs {serial:.1f} s; target >= 1.7x with 8 videos and --jobs 2)")
        if args.ray:
            ray_s, _, _ = timed("--ray auto", lambda: run_parallel(
                videos, Path(td) / "ray", rt, cfg, console, ray="auto", device=args.device))
            line += f"; --ray auto {serial / ray_s:.2f}x ({ray_s:.1f} s)"
    print(f"{line}; CPU {vector_extensions()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
