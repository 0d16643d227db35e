"""Static int8 vs fp32 (and the old dynamic int8) of trained MPT checkpoints: latency and top-1 agreement.

For each ``--checkpoint`` (an ``mpt-train`` model.pt, e.g. ViT-Ti/16, ViT-S/14, ViT-B/16), with
the real ``mpt-export`` code: the fp32 export, static int8 (``export.quantize.quantize_int8``,
QDQ, one file per ``--calibration`` method) calibrated on ``--calib-n`` clips of the checkpoint's
training clip cache (or ``--calib-clips``); as baselines, the former static scheme (percentile ranges,
each MatMul's output rounded to uint8 too: QLinearMatMul + DequantizeLinear) and ONNX Runtime's dynamic int8 of the
same MatMuls (where the issue started); and weight-only int8 (``mpt-export --int8-weights``,
MatMulNBits). Printed per file:

* p50 / min latency per clip at B=1 over ``--runs`` calls on ``--threads`` threads (default 2), the
  files taking turns in blocks of 5 calls so that they share whatever load the machine has,
  and the ratio to fp32 (target: int8 <= 0.6x); with ``--clock cpu`` the process's CPU time per call
  (``time.process_time``, all threads; the sessions do not spin) instead of its wall time: for a machine
  others share, where wall times say little;
* top-1 agreement and max |dprob| with torch fp32 on the held-out clips of ``--clip-dir``
  (never calibration clips: those are dropped from the calibration set), target >= 99 %, and the
  agreement on the clips torch decides (top-1 margin >= ``export.parity.TIE_MARGIN``): what
  ``mpt-export``'s gate checks, with max |dprob| <= 0.05;
* which node groups stayed fp32, and the median top-1 margin of the torch model (the smaller it
  is, the more any rounding flips a prediction);
* with ``--ops``: ONNX Runtime's own profile of the fp32 and static int8 files (kernel time per op
  type, B=1), and what it implies: int8 speeds up only the MatMuls, so the ratio cannot go below
  (int8 MatMul path: ``MatMulIntegerToFloat`` + the activations' ``QuantizeLinear``) / (fp32 MatMul
  time) even if every other op cost nothing, nor below (fp32 time in other ops) / (fp32 time) even if
  int8 made every MatMul free.

The CPU's vector extensions and load average are printed beside the figures.

    python bench/int8.py --checkpoint runs/vit-ti/model.pt [--checkpoint ...] --clip-dir HELDOUT
                         [--calib-clips DIR] [--calib-n 32] [--calibration minmax,percentile]
                         [--clips 120] [--threads 2] [--runs 20] [--clock wall|cpu] [--ops]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# run as a script, this file's folder comes first on sys.path and bench/train.py shadows `train`
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402

from export.calibration import DEFAULT_CALIB_CLIPS, calibration_clips  # noqa: E402
from export.onnx_export import build_model, export_onnx, load_checkpoint, onnx_metadata, save_model  # noqa: E402
from export.parity import TIE_MARGIN, compare, load_clips, torch_probs  # noqa: E402
from export.quantize import CALIBRATION_METHODS, DEFAULT_CALIBRATION, quantize_int8, quantize_int8_weights  # noqa: E402
from mpt_live.clip import ClipSpec  # noqa: E402
from mpt_live.errors import InputError  # noqa: E402
from mpt_live.runtime import MPTRuntime, vector_extensions  # noqa: E402

BLOCK = 5
MAX_RATIO = 0.6
MIN_AGREEMENT = 0.99


def dynamic_int8(src: Path, dst: Path, metadata: dict[str, str]) -> Path:
    """The former ``mpt-export --int8``: ORT dynamic quantization of every MatMul with a constant weight."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = dst.with_name("pre-" + dst.name)
    quant_pre_process(str(src), str(pre), skip_symbolic_shape=False)
    quantize_dynamic(pre, dst, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"],
                     extra_options={"MatMulConstBOnly": True})
    pre.unlink()
    return save_model(onnx.load(str(dst)), dst, {**metadata, "mpt.precision": "int8"})


INT8_MATMUL = ("MatMulIntegerToFloat", "QuantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "QLinearMatMul",
               "DequantizeLinear")


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def time_calls(calls: dict[str, Callable[[], object]], runs: int, clock: Callable[[], float]) -> dict[str, list[float]]:
    """ms per call of each of ``calls``, ``runs`` each, by ``clock``: the calls take turns in blocks of BLOCK, each
    block after one untimed call (it wakes that session's thread pool), so that all share whatever load the machine
    has. ``time.process_time`` counts the CPU of all of the process's threads: ONNX Runtime's threads do not spin
    in MPTRuntime's sessions, so that is the work of a call, less disturbed than its wall time by other work on a
    shared machine."""
    times: dict[str, list[float]] = {k: [] for k in calls}
    for block in range(max(1, -(-runs // BLOCK))):
        for k, call in calls.items():
            call()
            for _ in range(min(BLOCK, runs - block * BLOCK)):
                t = clock()
                call()
                times[k].append((clock() - t) * 1000)
    return times


def op_times(path: Path, feeds: tuple[np.ndarray, np.ndarray], threads: int, runs: int, tmp: Path) -> dict[str, float]:
    """ms per call spent in each op type: ONNX Runtime's profiler over ``runs`` calls after 5 untimed."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.enable_profiling = True
    so.profile_file_prefix = str(tmp / f"profile-{path.stem}")
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    named = dict(zip((i.name for i in sess.get_inputs()), feeds))
    for _ in range(runs + 5):
        sess.run(None, named)
    events = json.loads(Path(sess.end_profiling()).read_text())
    starts = sorted(e["ts"] for e in events if e.get("name") == "model_run")
    first = starts[5] if len(starts) > 5 else 0  # the warm-up calls are not counted
    totals: dict[str, float] = {}
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time") and e["ts"] >= first:
            op = e.get("args", {}).get("op_name", "?")
            totals[op] = totals.get(op, 0.0) + e["dur"] / 1000.0
    return {op: t / runs for op, t in totals.items()}


def print_ops(files: dict[str, Path], static: list[str], feeds: tuple[np.ndarray, np.ndarray],
              args: argparse.Namespace, tmp: Path) -> None:
    """The op profile of fp32 and of the ``static`` int8 files, and the ratio's floor it implies."""
    fp = op_times(files["fp32"], feeds, args.threads, args.runs, tmp)
    mm = fp.get("MatMul", 0.0) + fp.get("FusedMatMul", 0.0) + fp.get("Gemm", 0.0)
    total = sum(fp.values())
    print(f"  op profile (ONNX Runtime profiler, B=1, {args.threads} threads, {args.runs} calls; kernel time only):")
    print(f"    fp32: {total:.2f} ms per call, MatMul/Gemm {mm:.2f} ms ({mm / total:.0%}), other ops {total - mm:.2f} ms: "
          f"int8 that made every MatMul free would still cost {(total - mm) / total:.2f}x")
    for k in static:
        q = op_times(files[k], feeds, args.threads, args.runs, tmp)
        path_ms = sum(q.get(op, 0.0) for op in INT8_MATMUL)
        left, q_total = q.get("MatMul", 0.0), sum(q.values())  # fp32 MatMuls left: attention's q@k and attn@v
        print(f"    {k}: {q_total:.2f} ms per call; int8 MatMul path {path_ms:.2f} ms "
              f"({', '.join(f'{op} {q[op]:.2f}' for op in INT8_MATMUL if op in q)}), fp32 MatMuls left "
              f"{left:.2f} ms, other ops {q_total - path_ms - left:.2f} ms")
        print(f"      ratio floor with every other op free: ({path_ms:.2f} + {left:.2f}) / {mm:.2f} = "
              f"{(path_ms + left) / mm:.2f}; profiled ratio {q_total / total:.2f}", flush=True)


def bench_checkpoint(path: Path, args: argparse.Namespace, tmp: Path) -> list[str]:
    ckpt = load_checkpoint(path)
    model = build_model(ckpt, path)
    spec = ClipSpec.from_dict(dict(ckpt["clip_spec"]))
    name = ckpt["model_config"]["backbone"]
    dyn, mot = load_clips(args.clip_dir, spec, limit=args.clips)
    ref = torch_probs(model, dyn, mot)
    top2 = np.sort(ref, 1)[:, -2:]
    cal = calibration_clips(ckpt, path, spec, args.calib_clips, args.calib_n, parity=(dyn, mot))
    print(f"\n{name} ({path}): {len(dyn)} held-out clips, median top-1 margin "
          f"{np.median(top2[:, 1] - top2[:, 0]):.4f}; {cal.line()}", flush=True)
    meta = onnx_metadata(ckpt)
    files = {"fp32": export_onnx(model, tmp / "fp32.onnx", spec, meta)}
    files["int8 dynamic (before)"] = dynamic_int8(files["fp32"], tmp / "dyn.onnx", meta)
    # the former --int8: percentile ranges, and each MatMul's output rounded to uint8 too
    files["int8 static, before"] = quantize_int8(files["fp32"], tmp / "before.onnx", meta, (cal.dynamic, cal.motion),
                                                 "percentile", cal.source, quantize_outputs=True)
    files["int8 weight-only"] = quantize_int8_weights(files["fp32"], tmp / "w8.onnx", meta)
    kept = ""
    static = [f"int8 static {method}" for method in args.calibration]  # the scheme under test, per method
    for method in args.calibration:
        t = time.perf_counter()
        files[f"int8 static {method}"] = quantize_int8(files["fp32"], tmp / f"{method}.onnx", meta,
                                                       (cal.dynamic, cal.motion), method, cal.source)
        record = json.loads(MPTRuntime(files[f"int8 static {method}"]).metadata["mpt.int8"])
        kept = ", ".join(f"{k} {v}" for k, v in record["fp32"].items())
        print(f"  (static int8, {method}: {time.perf_counter() - t:.0f} s; {record['int8_matmuls']} MatMuls int8; "
              f"fp32 nodes: {kept})", flush=True)
    rts = {k: MPTRuntime(p, device="cpu", threads=args.threads) for k, p in files.items()}
    agree = {k: compare(ref, np.concatenate([rt.predict(dyn[i:i + 8], mot[i:i + 8]) for i in range(0, len(dyn), 8)]), k)
             for k, rt in rts.items()}
    x1 = (dyn[:1], mot[:1])
    times = time_calls({k: (lambda rt=rt: rt.predict(*x1)) for k, rt in rts.items()}, args.runs, CLOCKS[args.clock])
    base = float(np.median(times["fp32"]))
    lines = []
    unit = "ms" if args.clock == "wall" else "cpu ms"
    print(f"  {'file':30s} {'p50 ' + unit:>10s} {'min ' + unit:>10s} {'ratio':>6s} {'top-1':>7s} {'decided':>8s} {'max|dp|':>9s}"
          "   (decided: top-1 on the clips whose torch margin is >= "
          f"{TIE_MARGIN:g}, {len(dyn) - agree['fp32'].ties} here; the export gate)")
    for k in rts:
        p50, ratio, a = float(np.median(times[k])), float(np.median(times[k])) / base, agree[k]
        missed = [w for w, bad in (("ratio", ratio > MAX_RATIO), ("agreement", a.top1_agreement < MIN_AGREEMENT),
                                   ("gate", not a.ok)) if bad]
        verdict = "" if k == "fp32" else ("  ok" if not missed else f"  MISSED ({' & '.join(missed)})")
        print(f"  {k:30s} {p50:10.1f} {np.min(times[k]):10.1f} {ratio:6.2f} {a.top1_agreement:7.1%} "
              f"{a.decided_agreement:8.1%} {a.max_dprob:9.2e}{verdict}", flush=True)
        if k in static:
            lines.append(f"{name} | {base:.1f} | {p50:.1f} | {ratio:.2f} | {a.top1_agreement:.1%} | "
                         f"{a.decided_agreement:.1%} | {len(dyn)} | {k.split()[-1]} | {kept}")
    if args.ops:
        print_ops(files, static, x1, args, tmp)
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, action="append", required=True, help="mpt-train model.pt (repeatable)")
    ap.add_argument("--clip-dir", type=Path, required=True, help="held-out clips (.npz with 'dynamic' and 'motion')")
    ap.add_argument("--clips", type=int, default=120, help="held-out clips to compare on")
    ap.add_argument("--calib-clips", type=Path, help="calibration clips [default: each checkpoint's training clip cache]")
    ap.add_argument("--calib-n", type=int, default=DEFAULT_CALIB_CLIPS)
    ap.add_argument("--calibration", default=DEFAULT_CALIBRATION, help=f"comma list of {', '.join(CALIBRATION_METHODS)}")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=20, help="timed B=1 calls per file")
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                    help="wall: time per call; cpu: the process's CPU time per call (all threads; for a shared machine)")
    ap.add_argument("--ops", action="store_true", help="also ONNX Runtime's op profile of fp32 and static int8")
    args = ap.parse_args()
    args.calibration = [m.strip() for m in args.calibration.split(",") if m.strip()]
    bad = [m for m in args.calibration if m not in CALIBRATION_METHODS]
    if bad:
        print(f"error: --calibration {','.join(bad)}: choose from {', '.join(CALIBRATION_METHODS)}", file=sys.stderr)
        return 2
    import onnxruntime as ort

    print(f"static int8 vs fp32, {platform.processor() or platform.machine()}; vector extensions: {vector_extensions()}; "
          f"onnxruntime {ort.__version__}, {args.threads} threads, B=1, {args.runs} runs; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    table = []
    try:
        for ck in args.checkpoint:
            with tempfile.TemporaryDirectory(prefix="mpt-int8-bench-") as tmp:
                table += bench_checkpoint(ck, args, Path(tmp))
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"\nload average at end {os.getloadavg()[0]:.1f}")
    unit = "ms" if args.clock == "wall" else "cpu ms"
    print(f"backbone | fp32 {unit} | int8 {unit} | ratio | top-1 agreement | on decided clips | clips | calibration | fp32 nodes")
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
