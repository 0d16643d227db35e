"""The model call on the CPU, present vs rewritten graph: CPU time per clip at B=1 and B=2, the same clips.

The present model (default: the bundled demo model) and a new one (``--new FILE``; default: the present one
with :func:`export.attention.fuse_attention` applied in memory, each ViT block's attention core as one
``MultiHeadAttention`` node) are each loaded as mpt-live loads them (:class:`mpt_live.runtime.MPTRuntime`) and
called on the same real windows (faces of the shared videos, aligned, sampled, magnified: ``model_inputs``), taking
turns in blocks of 5 calls (which goes first alternates each round) so that both share the machine's load. Threads:
``--threads``, 1 unless given (mpt-live's own default is ``default_threads()``, the usable cores minus one; the
line printed says which), so the figures do not depend on how many cores a loaded machine leaves free. Cost is the
process's CPU time (all threads), so other jobs on a shared machine do not inflate it; wall time beside it.
Printed: per clip CPU ms (p50, min) at B=1 and B=2 for each, the ratio new/present, and the largest |difference|
of the two models' probabilities over all the windows. ``--profile``: ONNX Runtime's profile of each at B=1 and
B=2 (one thread), the top op types by kernel time and the share of each kind (int8 MatMul, Q/DQ, LayerNorm, glue ...).

    python bench/model_call.py [--new FILE] [--model FILE] [--runs 60] [--windows 8] [--profile]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402

from export.attention import fuse_attention  # noqa: E402
from mpt_live.machine import default_threads  # noqa: E402
from mpt_live.runtime import MPTRuntime, demo_model_path, vector_extensions  # noqa: E402
from real_windows import FACES, timed, windows  # noqa: E402

VIDEOS = ("paddlegan_fom_dv.mp4", "liveportrait_d6.mp4", "liveportrait_d0.mp4", "liveportrait_d3_expressive.mp4",
          "retalking_3_talking.mp4", "liveportrait_d19_glasses.mp4")


GROUPS = {  # op types of a profile, by what they do
    "int8 MatMul": {"MatMulIntegerToFloat", "MatMulNBits", "QLinearMatMul", "MatMulInteger"},
    "fp32 MatMul/Gemm/Conv": {"MatMul", "FusedMatMul", "Gemm", "Conv", "FusedConv"},
    "attention (fused)": {"MultiHeadAttention", "Attention"},
    "Q/DQ": {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"},
    "LayerNorm": {"LayerNormalization", "SkipLayerNormalization"},
    "Softmax": {"Softmax"},
    "Gelu": {"BiasGelu", "Gelu", "FastGelu"},
    "Add/Mul/Sub/Div": {"Add", "Mul", "Sub", "Div", "Pow", "Neg", "Sqrt"},
    "ReduceMean/pool": {"ReduceMean", "AveragePool", "ReduceSum"},
}


def profile(path: Path, d: np.ndarray, m: np.ndarray, batch: int, runs: int = 40, top: int = 10) -> None:
    """ONNX Runtime's profile of ``path`` at one thread: each node's shortest kernel time over ``runs`` calls (on a
    loaded machine the shortest is the one least interrupted), summed by op type and by :data:`GROUPS`."""
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = 1, 1
    so.enable_profiling = True
    so.profile_file_prefix = str(Path(tempfile.gettempdir()) / "mpt-model-call")
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    for i in range(runs):
        k = (i * batch) % (len(d) - batch + 1)
        sess.run(None, {"dynamic": d[k:k + batch], "motion": m[k:k + batch]})
    trace = Path(sess.end_profiling())
    events = json.loads(trace.read_text())
    trace.unlink()
    times, kinds = collections.defaultdict(list), {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            times[e["name"]].append(e["dur"])
            kinds[e["name"]] = e["args"]["op_name"]
    by, nodes = collections.Counter(), collections.Counter()
    for name, us in times.items():
        by[kinds[name]] += min(us[1:] or us)
        nodes[kinds[name]] += 1
    total = sum(by.values())
    print(f"  {path.name} B={batch}: {total / 1e3:.2f} ms of kernels a call (each node's shortest of {runs} calls)")
    for op, us in by.most_common(top):
        print(f"    {op:<24} {us / 1e3:6.2f} ms {100 * us / total:5.1f} %  {nodes[op]:4d} nodes")
    rest = total
    shares = []
    for group, ops in GROUPS.items():
        us = sum(by[o] for o in ops)
        rest -= us
        if us:
            shares.append(f"{group} {100 * us / total:.0f} %")
    print(f"    by kind: {', '.join(shares)}, glue (Transpose/Reshape/Slice/Split/Concat/...) {100 * rest / total:.0f} %")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=None, help="the present model (default: the bundled demo model)")
    ap.add_argument("--new", type=Path, default=None,
                    help="the new model (default: the present one with its attention fused, made here)")
    ap.add_argument("--runs", type=int, default=60, help="timed calls per way and batch size (in blocks of 5)")
    ap.add_argument("--windows", type=int, default=8, help="windows per face video for max |dprob|")
    ap.add_argument("--threads", type=int, default=1,
                    help=f"ONNX Runtime intra-op threads (default 1; mpt-live's own: default_threads(), "
                         f"{default_threads()} here)")
    ap.add_argument("--profile", action="store_true", help="also print each model's top ops at B=1 and B=2")
    args = ap.parse_args()
    if args.runs < 5 or args.windows < 1 or args.threads < 1:
        sys.exit("--runs must be >= 5, --windows and --threads >= 1")
    present = args.model or demo_model_path()
    for p in (present, args.new):
        if p is not None and not p.is_file():
            sys.exit(f"{p}: no such model file")
    if not FACES.is_dir():
        sys.exit(f"{FACES}: the shared face videos are not here")
    print(f"CPU vector extensions: {vector_extensions()}; {os.cpu_count()} cpus; load {os.getloadavg()[0]:.2f}; "
          f"onnxruntime {ort.__version__}; {args.threads} intra-op thread{'s' if args.threads > 1 else ''} "
          f"({'the bench default' if args.threads == 1 else '--threads'}; mpt-live's default_threads(): "
          f"{default_threads()})")
    with tempfile.TemporaryDirectory(prefix="mpt-model-call-") as tmp:
        new = args.new
        if new is None:
            proto = onnx.load(str(present))
            fused = fuse_attention(proto)
            if not fused:
                sys.exit(f"{present}: no attention span to fuse")
            new = Path(tmp) / "fused.onnx"
            onnx.save(proto, str(new))
            print(f"new: {present.name} with {fused} attention spans fused "
                  f"({new.stat().st_size / 1e6:.1f} MB against {present.stat().st_size / 1e6:.1f} MB)")
        models = {"present": MPTRuntime(present, device="cpu", threads=args.threads),
                  "new": MPTRuntime(new, device="cpu", threads=args.threads)}
        print(f"present: {models['present'].describe()}")
        d, m = windows(models["present"], VIDEOS, args.windows)
        probs = {k: np.concatenate([rt.predict(d[i:i + 1], m[i:i + 1]) for i in range(len(d))])
                 for k, rt in models.items()}
        pairs = np.concatenate([rt.predict(d[:2], m[:2]) for rt in models.values()])
        dprob = np.abs(probs["present"] - probs["new"])
        top = (probs["present"].argmax(1) == probs["new"].argmax(1)).mean()
        print(f"{len(d)} real windows ({len(VIDEOS)} videos): max |dprob| new vs present {dprob.max():.2e} "
              f"(median {np.median(dprob.max(1)):.1e}), top-1 the same on {100 * top:.0f} %; "
              f"B=2 vs B=1 max |dprob|: {np.abs(pairs[:2] - probs['present'][:2]).max():.1e} present, "
              f"{np.abs(pairs[2:] - probs['new'][:2]).max():.1e} new")
        if args.profile:
            print("profile:")
            for b in (1, 2):
                for rt in models.values():
                    profile(rt.path, d, m, b)
        times = {(k, b): [] for b in (1, 2) for k in models}
        for rt in models.values():
            rt.predict(d[:2], m[:2])  # wake the thread pool
        for r in range(max(1, args.runs // 5)):
            for b in (1, 2):
                i = (r * 2) % (len(d) - 1)
                for k, rt in (models.items() if r % 2 == 0 else reversed(models.items())):
                    times[(k, b)] += [timed(partial(rt.predict, d[i:i + b], m[i:i + b])) for _ in range(5)]
        print(f"{'per clip':<16} {'CPU ms p50':>10} {'CPU ms min':>10} {'wall ms p50':>11}")
        for (k, b), ts in times.items():
            cpu, wall = np.array(ts).T / b
            print(f"{k + ' B=' + str(b):<16} {np.median(cpu):>10.2f} {cpu.min():>10.2f} {np.median(wall):>11.2f}")
        for b in (1, 2):
            a, n = (np.median(np.array(times[(k, b)])[:, 0]) for k in models)
            print(f"B={b}: new / present {n / a:.3f} of the CPU time a clip")
        print(f"load {os.getloadavg()[0]:.2f} (CPU time per process: other jobs do not add to it, but share caches)")


if __name__ == "__main__":
    main()
