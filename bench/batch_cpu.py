"""Does ONNX Runtime on the CPU gain from batching a frame's face windows? B=N vs N x B=1, the demo model.

The session classifies the windows of all faces that fall due on a frame in one model call
(:mod:`mpt_live.model_worker`). This measures what that saves for the bundled demo model on this machine:
N realistic clips (real inputs: ``model_inputs`` of clips sampled from a shared face video, so the int8
model sees what it sees in a session) classified as one call of B=N and as N calls of B=1, taking turns in
blocks so that both share the machine's load. Cost is the CPU time of the process (all threads), so other
jobs on a shared machine do not inflate it; wall time is printed beside it. Also printed: the largest
|difference| between the batched and the one-by-one probabilities.

    python bench/batch_cpu.py [--faces 2] [--runs 40] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from mpt_live.runtime import load_model, vector_extensions
from real_windows import FACES, timed, windows

VIDEOS = ("paddlegan_fom_dv.mp4", "liveportrait_d6.mp4", "liveportrait_d0.mp4", "liveportrait_d3_expressive.mp4")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--faces", type=int, default=2, help="clips per frame (B)")
    ap.add_argument("--runs", type=int, default=40, help="timed frames per way (in blocks of 5)")
    ap.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    args = ap.parse_args()
    model = load_model(None, device="cpu", threads=args.threads)
    if model is None:
        sys.exit("no demo model (mpt_live/assets/demo_model.onnx): scripts/make_demo_model.sh builds it")
    if not FACES.is_dir():
        sys.exit(f"{FACES}: the shared face videos are not here")
    print(f"CPU vector extensions: {vector_extensions()}; {os.cpu_count()} cpus; load {os.getloadavg()[0]:.2f}")
    print(f"model: {model.describe()}")
    n = args.faces
    d, m = windows(model, (VIDEOS * n)[:n])  # one window of each of n face videos
    one_by_one = lambda: [model.predict(d[i:i + 1], m[i:i + 1]) for i in range(n)]  # noqa: E731
    batched = lambda: model.predict(d, m)  # noqa: E731
    diff = float(np.abs(np.concatenate(one_by_one()) - batched()).max())
    ways = {f"{n} calls of B=1": one_by_one, f"1 call of B={n}": batched}
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in ways}
    for fn in ways.values():
        fn()  # wake the thread pool
    for _ in range(max(1, args.runs // 5)):
        for k, fn in ways.items():
            times[k] += [timed(fn) for _ in range(5)]
    print(f"{'per frame (' + str(n) + ' faces)':<22} {'CPU ms p50':>10} {'CPU ms min':>10} {'wall ms p50':>11}")
    for k, ts in times.items():
        cpu, wall = np.array(ts).T
        print(f"{k:<22} {np.median(cpu):>10.2f} {cpu.min():>10.2f} {np.median(wall):>11.2f}")
    a, b = (np.median(np.array(ts)[:, 0]) for ts in times.values())
    print(f"batched / one by one: {b / a:.2f} of the CPU time; max |dprob| batched vs one by one: {diff:.2e} "
          f"(load {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
