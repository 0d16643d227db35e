"""CPU of the review copy (``review.webm``, :class:`mpt_live.review.ReviewSink`): one libvpx thread vs libvpx's own.

A run of a recording a browser cannot play (mp4v, MJPEG, ...) writes a VP9 copy for the review page in a thread of
its own, beside the frame loop, the decoder and the model's workers. This encodes the same frames through
``ReviewSink`` with the shipped options (one encoder thread) and with those of before (libvpx's own threads, as many
as cores, with row multi-threading), taking turns, and prints the CPU time of the process per frame (all threads:
what the copy takes from the run on a busy machine), the wall time, and each file's size.

    python bench/review_encode.py [--video FILE] [--frames 360] [--rounds 7]

Without ``--video`` the frames are the default input's (rendered to a temporary file, 640x480 at 30 fps).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import mpt_live.review as review  # noqa: E402
from mpt_live.machine import vector_extensions  # noqa: E402

BEFORE = {**{k: v for k, v in review.VP9_OPTIONS.items() if k != "threads"}, "row-mt": "1"}  # libvpx's own threads


def frames_of(path: Path, n: int) -> list:
    import av

    with av.open(str(path)) as box:
        out = [f.to_ndarray(format="bgr24") for _, f in zip(range(n), box.decode(video=0))]
    if not out:
        raise SystemExit(f"error: {path}: no video frame decodes")
    return out


def encode(frames: list, folder: Path, options: dict[str, str]) -> tuple[float, float, int]:
    """CPU and wall ms per frame, and the file's size, of one copy of ``frames`` written with ``options``."""
    shipped, review.VP9_OPTIONS = review.VP9_OPTIONS, options
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        sink = review.ReviewSink(folder, 30.0)
        for i, f in enumerate(frames):
            sink.write(f, i / 30.0)
        if sink.close() is None:
            raise SystemExit("error: the review copy could not be written (no VP9 encoder in PyAV?)")
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        review.VP9_OPTIONS = shipped
    return cpu / len(frames) * 1e3, wall / len(frames) * 1e3, (folder / review.REVIEW).stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", type=Path, help="frames to encode (default: the default input)")
    ap.add_argument("--frames", type=int, default=360)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    if args.frames < 1 or args.rounds < 1:
        raise SystemExit("error: --frames and --rounds must be at least 1")
    if not review.vp9_available():
        raise SystemExit("error: PyAV has no VP9 encoder here: the copy would be OpenCV's VP8, which this does not time")
    print(f"CPU vector extensions: {vector_extensions()}; {os.cpu_count()} cpus; load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="mpt-review-bench-") as tmp:
        tmp = Path(tmp)
        if args.video is None:
            from mpt_live.demo_input import render_demo_clip

            args.video = tmp / "default_input.mp4"
            render_demo_clip(args.video)
        elif not args.video.is_file():
            raise SystemExit(f"error: {args.video}: no such file")
        frames = frames_of(args.video, args.frames)
        h, w = frames[0].shape[:2]
        print(f"{args.video.name}: {len(frames)} frames of {w}x{h}; copy at most {review.REVIEW_WIDTH} px wide, VP9 "
              f"crf {review.VP9_CRF}")
        encode(frames[:30], tmp / "warm", review.VP9_OPTIONS)  # the first copy of a process pays libvpx's set-up
        runs: dict[str, list[tuple[float, float, int]]] = {"one thread (shipped)": [], "libvpx's threads (before)": []}
        plans = list(zip(runs, (review.VP9_OPTIONS, BEFORE)))
        for r in range(args.rounds):
            for name, options in plans if r % 2 == 0 else plans[::-1]:
                runs[name].append(encode(frames, tmp / f"{r}-{len(runs[name])}-{name[:3]}", options))
            print(f"round {r + 1}: " + "; ".join(f"{n} {v[-1][0]:.2f} ms CPU" for n, v in runs.items()), flush=True)
        print()
        for name, v in runs.items():
            cpu = [x[0] for x in v]
            print(f"{name:28s} CPU {statistics.median(cpu):.2f} ms/frame (median; {min(cpu):.2f}-{max(cpu):.2f}), "
                  f"wall {statistics.median(x[1] for x in v):.2f} ms/frame, {v[-1][2] / 1e3:.1f} kB")
        a, b = ([x[0] for x in v] for v in runs.values())
        print(f"one thread / libvpx's threads, CPU: {statistics.median(a) / statistics.median(b):.2f}x; lower in "
              f"{sum(x < y for x, y in zip(a, b))} of {len(a)} rounds")


if __name__ == "__main__":
    main()
