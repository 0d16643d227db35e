"""GPU figures of the ONNX path: parity of CUDA and TensorRT with the CPU, B=1 latency and B=64 throughput.

For each backbone (ViT-B/16, ViT-S/14 DINOv2, ViT-Ti/16; the MPT mpt-train builds by default, random weights
drawn as in ``bench/inference.py``), the fp32 file is exported with the real exporter and the fp16 file
derived from it (``mpt-export --fp16``), then run through :class:`mpt_live.runtime.MPTRuntime`:

* parity vs the CPU provider's fp32 probabilities on --clips realistic synthetic clips: max |dprob| and
  top-1 agreement, beside the export's gates (fp32 max |dprob| <= 1e-4, fp16 top-1 >= 99 %);
* latency per clip at B=1 (p50 of --runs calls) and clips/s at B=--batch (median of 3 calls), with host
  arrays in and out as mpt-live calls it, and with I/O binding on device-resident inputs ("iob"), which
  shows what the host-device copies cost;
* TensorRT (``--device tensorrt``) for the same files while the time budget allows (engine builds take
  minutes; they are timed and cached).

Targets (one H200): ViT-B/16 MPT fp16 >= 2000 clips/s at B=64. Every phase checks --budget seconds and
prints SKIPPED (time budget) instead of running over. Exit 2 with one line where ONNX Runtime cannot
use the GPU (no driver, driver too old, a missing library), 0 otherwise.

    python bench/gpu_bench.py [--models base,small,tiny] [--budget 300] [--runs 30] [--batch 64] [--clips 32]
                              [--keep DIR]     # DIR/<model>.fp16.onnx kept for the video check
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from export.onnx_export import export_onnx
from export.parity import compare, synthetic_clips
from export.quantize import convert_fp16
from inference import BACKBONES, CLASSES, build
from mpt_live.clip import ClipSpec
from mpt_live.errors import InputError
from mpt_live.providers import CUDA, TRT, cuda_version, gpu_diagnosis, preload_gpu_libraries, provider_works
from mpt_live.runtime import MPTRuntime, usable_cores, vector_extensions

TARGET_CLIPS_S = {("base", "fp16"): 2000.0}
FP32_MAX_DPROB, MIN_TOP1 = 1e-4, 0.99
NAMES = {"tiny": "ViT-Ti/16", "small": "ViT-S/14", "base": "ViT-B/16"}


def machine() -> list[str]:
    """CPU, GPU and driver, library versions: printed before every figure."""
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else "?"
    try:
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20).stdout.strip() or "nvidia-smi: no GPU"
    except (OSError, subprocess.TimeoutExpired) as e:
        gpu = f"nvidia-smi unavailable ({type(e).__name__})"
    v = cuda_version()
    return [f"CPU: {cpu}, {usable_cores()} usable cores, vector extensions: {vector_extensions()}",
            f"GPU: {gpu}",
            f"torch {torch.__version__} (CUDA {torch.version.cuda}, sees "
            f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}); onnxruntime {ort.__version__} "
            f"(built for CUDA {'.'.join(map(str, v)) if v else '-'}; providers {', '.join(ort.get_available_providers())})"]


def chunked(rt: MPTRuntime, d: np.ndarray, m: np.ndarray, step: int = 8) -> np.ndarray:
    return np.concatenate([rt.predict(d[i:i + step], m[i:i + step]) for i in range(0, len(d), step)])


def timings(rt: MPTRuntime, d: np.ndarray, m: np.ndarray, runs: int, batch: int) -> tuple[float, float, float | None]:
    """(B=1 p50 ms, clips/s at B=batch with host arrays, clips/s at B=batch device-resident via I/O binding)."""
    rt.predict(d[:1], m[:1])
    one = []
    for _ in range(runs):
        t = time.perf_counter()
        rt.predict(d[:1], m[:1])
        one.append((time.perf_counter() - t) * 1e3)
    db, mb = d[:batch], m[:batch]
    rt.predict(db, mb)
    host = []
    for _ in range(3):
        t = time.perf_counter()
        rt.predict(db, mb)
        host.append(time.perf_counter() - t)
    iob = None
    try:   # inputs copied to the GPU once, output left there: the model's own rate
        sess = rt.session
        dtype = np.float16 if sess.get_inputs()[0].type == "tensor(float16)" else np.float32
        io = sess.io_binding()
        io.bind_ortvalue_input("dynamic", ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(db, dtype), "cuda", 0))
        io.bind_ortvalue_input("motion", ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(mb, dtype), "cuda", 0))
        io.bind_output("probs", "cuda")
        sess.run_with_iobinding(io)
        dev = []
        for _ in range(3):
            t = time.perf_counter()
            sess.run_with_iobinding(io)
            dev.append(time.perf_counter() - t)
        iob = batch / float(np.median(dev))
    except Exception as e:  # noqa: BLE001 (a figure we can do without)
        print(f"    (I/O binding not measured: {str(e).splitlines()[0][:120]})")
    return float(np.median(one)), batch / float(np.median(host)), iob


def row(name: str, provider: str, prec: str, ref: np.ndarray, probs: np.ndarray, t: tuple, batch: int) -> str:
    p = compare(ref, probs, prec)
    gate = (f"target max|dp| <= {FP32_MAX_DPROB:g}: {'ok' if p.max_dprob <= FP32_MAX_DPROB else 'MISSED'}"
            if prec == "fp32" else f"target top-1 >= 99%: {'ok' if p.top1_agreement >= MIN_TOP1 else 'MISSED'}")
    target = TARGET_CLIPS_S.get((name, prec)) if provider == "CUDA" else None
    speed = f"{t[0]:8.2f} {t[1]:9.0f} {t[2] if t[2] is not None else float('nan'):9.0f}"
    if target:
        speed += f"  [target B={batch} >= {target:.0f} clips/s: {'ok' if max(t[1], t[2] or 0) >= target else 'MISSED'}]"
    return (f"{NAMES[name]:9s} {provider:8s} {prec:4s} {p.max_dprob:9.2e} {p.top1_agreement:7.1%} ({gate})  "
            + speed)


def cuda_rows(name: str, spec: ClipSpec, work: Path, files: dict, refs: dict, dyn: np.ndarray, mot: np.ndarray,
              args: argparse.Namespace) -> None:
    """Export one backbone's MPT (fp32, fp16), its CPU reference, and its CUDA rows; keep the fp16 file."""
    t = time.perf_counter()
    model = build(name, spec)
    meta = {"mpt.classes": json.dumps(CLASSES), "mpt.clip_spec": spec.to_json(),
            "mpt.backbone": BACKBONES[name], "mpt.precision": "fp32", "mpt.demo": "0"}
    fp32 = export_onnx(model.cpu(), work / f"{name}.onnx", spec, meta)
    files[name] = {"fp32": fp32, "fp16": convert_fp16(fp32, work / f"{name}.fp16.onnx", meta)}
    cpu = MPTRuntime(files[name]["fp32"], device="cpu", threads=usable_cores())
    refs[name] = chunked(cpu, dyn[:args.clips], mot[:args.clips])
    print(f"  ({NAMES[name]}: export and CPU reference {time.perf_counter() - t:.0f} s)", flush=True)
    for prec, path in files[name].items():
        rt = MPTRuntime(path, device="cuda")
        print(row(name, "CUDA", prec, refs[name], chunked(rt, dyn[:args.clips], mot[:args.clips]),
                  timings(rt, dyn, mot, args.runs, args.batch), args.batch), flush=True)
        del rt
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(files[name]["fp16"], args.keep / f"{name}.fp16.onnx")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="base,small,tiny", help="comma list of base, small, tiny (in this order)")
    ap.add_argument("--budget", type=float, default=300.0, help="seconds for everything; later phases are skipped")
    ap.add_argument("--runs", type=int, default=30, help="timed calls at B=1")
    ap.add_argument("--batch", type=int, default=64, help="batch of the throughput figures")
    ap.add_argument("--clips", type=int, default=32, help="parity clips")
    ap.add_argument("--keep", type=Path, help="folder to keep each model's fp16 file in")
    args = ap.parse_args()
    deadline = time.monotonic() + args.budget
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    if bad := [n for n in names if n not in BACKBONES]:
        print(f"error: --models {','.join(bad)}: choose from {', '.join(BACKBONES)}", file=sys.stderr)
        return 2
    for line in machine():
        print(line, flush=True)
    preloaded = preload_gpu_libraries()
    if not provider_works(CUDA):
        print(f"FAIL: ONNX Runtime cannot use the GPU: {gpu_diagnosis(CUDA)}", flush=True)
        return 2
    trt = provider_works(TRT)
    print(f"ONNX Runtime CUDA provider works; TensorRT: {'works' if trt else 'no (' + gpu_diagnosis(TRT) + ')'}"
          + (f"; preload said: {preloaded[:200]}" if preloaded else ""), flush=True)
    spec = ClipSpec()
    n = max(args.clips, args.batch)
    t = time.perf_counter()
    dyn, mot = synthetic_clips(spec, min(n, 64), seed=0)
    reps = -(-n // len(dyn))
    dyn, mot = np.concatenate([dyn] * reps)[:n], np.concatenate([mot] * reps)[:n]
    print(f"{args.clips} parity clips, B={args.batch} batches ({time.perf_counter() - t:.0f} s to make); budget "
          f"{args.budget:.0f} s", flush=True)
    print(f"{'model':9s} {'provider':8s} {'prec':4s} {'max|dp|':>9s} {'top-1':>7s} (vs CPU fp32)"
          f"{'':40s}{'B=1 ms':>8s} {'clips/s':>9s} {'iob c/s':>9s}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="mpt-gpu-"))
    files: dict[str, dict[str, Path]] = {}
    refs: dict[str, np.ndarray] = {}
    try:
        for name in names:
            if deadline - time.monotonic() < 40:
                print(f"{NAMES[name]:9s} SKIPPED (time budget)", flush=True)
                continue
            try:  # one model's failure (an exporter or provider error) is printed; the others still run
                cuda_rows(name, spec, work, files, refs, dyn, mot, args)
            except Exception as e:  # noqa: BLE001
                files.pop(name, None)
                msg = (str(e).strip().splitlines() or [""])[0][:200]
                print(f"{NAMES[name]:9s} FAILED: {type(e).__name__}{': ' + msg if msg else ''}", flush=True)
        for name in files if trt else []:
            for prec in ("fp16", "fp32"):
                if deadline - time.monotonic() < 120:
                    print(f"{NAMES[name]:9s} TensorRT {prec} SKIPPED (time budget: engine builds take minutes)")
                    continue
                t = time.perf_counter()
                try:
                    rt = MPTRuntime(files[name][prec], device="tensorrt")
                    rt.predict(dyn[:1], mot[:1])
                except InputError as e:
                    print(f"{NAMES[name]:9s} TensorRT {prec} FAILED: {e}")
                    continue
                print(f"  ({NAMES[name]} TensorRT {prec} engine: {time.perf_counter() - t:.0f} s, cached)", flush=True)
                print(row(name, "TensorRT", prec, refs[name], chunked(rt, dyn[:args.clips], mot[:args.clips]),
                          timings(rt, dyn, mot, args.runs, args.batch), args.batch), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
