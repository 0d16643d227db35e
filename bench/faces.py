"""The cost of a second face: the session on two real people side by side with --max-faces 1, then 2.

The recording is composed from two of the shared videos (train/compose.py: a talking man and an
expressive woman, 320 px tiles, 640x320 at 30 fps). The same file is run through the session engine
(every frame, a window every 2 frames) with one face tracked, then two, with and without the bundled demo
model. Cost per frame is the process's CPU time (all threads: decode, detection, tracking, alignment,
spotting, magnification, model) divided by the frames, so other jobs on a shared machine do not inflate
it; wall time is printed beside it. The second face's cost is C(2) - C(1), against the first face's C(1)
(target: <= 60 %). Also printed: how many windows had both faces (tracking coverage).

    python bench/faces.py [--seconds 20] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from mpt_live.runtime import load_model, vector_extensions  # noqa: E402
from mpt_live.session import Session, SessionConfig  # noqa: E402
from mpt_live.sources import VideoFile  # noqa: E402
from train.compose import side_by_side  # noqa: E402

FACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "videos"
def run(video: Path, runtime, max_faces: int, workers: int) -> dict:
    """One session over ``video``: CPU and wall ms per frame, windows with each number of faces."""
    per_frame: dict[int, set] = {}
    c0, w0 = time.process_time(), time.perf_counter()
    with VideoFile(video) as src, Session(src, runtime, SessionConfig(max_faces=max_faces, workers=workers)) as s:
        for r in s:
            per_frame.setdefault(r.frame, set()).add(r.face_id)
        frames = s.counts["frames_read"]
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    both = sum(len(ids - {None}) == 2 for ids in per_frame.values())
    return {"cpu_ms": cpu / frames * 1e3, "wall_ms": wall / frames * 1e3, "windows": len(per_frame), "both": both}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=1, help="model worker threads (one ONNX Runtime thread each)")
    args = ap.parse_args()
    print(f"CPU vector extensions: {vector_extensions()}; {os.cpu_count()} cpus; model workers {args.threads}")
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "two.mp4"
        side_by_side([FACES / "paddlegan_fom_dv.mp4", FACES / "liveportrait_d6.mp4"], video, args.seconds)
        model = load_model(None, device="cpu", threads=1)
        print(f"{args.seconds:g} s, 640x320, two people side by side; model: {model.describe() if model else 'none'}")
        print(f"{'run':<32} {'CPU ms/frame':>12} {'wall ms/frame':>14} {'windows with 2 faces':>22}")
        for name, rt in (("motion only", None), ("demo model", model)):
            one, two = run(video, rt, 1, args.threads), run(video, rt, 2, args.threads)
            for k, r in (("1 face", one), ("2 faces", two)):
                print(f"{name + ', ' + k:<32} {r['cpu_ms']:>12.2f} {r['wall_ms']:>14.2f} "
                      f"{r['both']:>12}/{r['windows']}")
            extra = two["cpu_ms"] - one["cpu_ms"]
            print(f"{name}: second face {extra:.2f} ms = {100 * extra / one['cpu_ms']:.0f} % of the first "
                  f"({one['cpu_ms']:.2f} ms; target <= 60 %)")


if __name__ == "__main__":
    main()
