"""MPT inference cost: ONNX Runtime vs torch eager, fp32 vs int8 (fp16 on GPU), ViT-T/S/B.

For each backbone an MPT (16 frames, 224 px, K=5 prompts, r=8, 5 classes) is built with random
weights (latency does not depend on them; prompts, adapters and head are drawn ~N(0, 0.02) as if
trained, so that the outputs are not flat), exported with the real ``mpt-export`` code (fp32,
dynamic batch; int8 by dynamic quantization; fp16 on GPU), and run side by side:

* latency per clip at B=1: p50 / p95 / min over --runs calls (after warm-up);
* throughput at B=--batch: clips per second;
* agreement with torch fp32 on --clips realistic synthetic clips (``export.parity``): top-1
  agreement and max |dprob|.

Torch int8 is ``torch.ao.quantization.quantize_dynamic`` on the Linear layers (eager, CPU only).
Both back ends get the same thread count (default: all usable cores; the live runtime itself
defaults to cores - 1). Targets for this CPU, printed beside the ViT-B/16 rows: ORT fp32 <= 130
ms per clip, int8 <= 60 ms with >= 99 % top-1 agreement. The machine's load average is printed
at start and end: other work on the machine inflates the p50/p95 figures (min is the floor).

    python bench/inference.py [--models tiny,small,base] [--device cpu|cuda] [--threads N]
                              [--runs 20] [--batch 8] [--clips 100]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable

# run as a script, this file's folder comes first on sys.path and bench/train.py shadows `train`
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from export.onnx_export import convert_fp16, export_onnx, quantize_int8  # noqa: E402
from export.parity import compare, synthetic_clips, torch_probs  # noqa: E402
from mpt_live.clip import ClipSpec  # noqa: E402
from mpt_live.runtime import CPU, MPTRuntime, usable_cores  # noqa: E402
from train.model import MPT, MPTConfig  # noqa: E402

BACKBONES = {"tiny": "vit_tiny_patch16_224", "small": "vit_small_patch16_224", "base": "vit_base_patch16_224"}
TARGETS_MS = {("base", "onnxruntime", "fp32"): 130.0, ("base", "onnxruntime", "int8"): 60.0}
MIN_AGREEMENT = 0.99
CLASSES = ["happiness", "surprise", "disgust", "repression", "others"]


@dataclasses.dataclass
class Row:
    model: str
    backend: str
    precision: str
    p50: float
    p95: float
    best: float
    throughput: float
    agreement: float | None = None
    max_dprob: float | None = None

    def line(self) -> str:
        agree = "" if self.agreement is None else f"{self.agreement:7.1%} {self.max_dprob:9.2e}"
        target = TARGETS_MS.get((self.model, self.backend, self.precision))
        mark = ""
        if target is not None:
            ok = self.p50 <= target and (self.agreement is None or self.agreement >= MIN_AGREEMENT)
            mark = f"  target <= {target:.0f} ms{' & >= 99 % top-1' if self.precision == 'int8' else ''}: " \
                   f"{'ok' if ok else 'MISSED'}"
        return (f"{'ViT-' + self.model[0].upper():6s} {self.backend:12s} {self.precision:5s} "
                f"{self.p50:8.1f} {self.p95:8.1f} {self.best:8.1f} {self.throughput:9.1f}  {agree:>17s}{mark}")


HEADER = (f"{'model':6s} {'backend':12s} {'prec':5s} {'p50 ms':>8s} {'p95 ms':>8s} {'min ms':>8s} "
          f"{'clips/s':>9s}  {'top-1':>7s} {'max|dp|':>9s}")


def timed(fn: Callable[[], object], runs: int, sync: Callable[[], None]) -> np.ndarray:
    """Seconds per call of ``fn`` over ``runs`` calls, after two warm-up calls."""
    for _ in range(2):
        fn()
    sync()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        sync()
        out.append(time.perf_counter() - t)
    return np.array(out)


def measure(name: str, backend: str, precision: str, fn1: Callable[[], object], fnb: Callable[[], object],
            batch: int, runs: int, sync: Callable[[], None]) -> Row:
    t1 = timed(fn1, runs, sync) * 1000
    tb = timed(fnb, max(3, runs // 4), sync)
    return Row(name, backend, precision, float(np.median(t1)), float(np.percentile(t1, 95)), float(t1.min()),
               batch / float(np.median(tb)))


def build(name: str, spec: ClipSpec) -> MPT:
    cfg = MPTConfig(backbone=BACKBONES[name], num_classes=len(CLASSES), frames=spec.frames, image_size=spec.image_size)
    torch.manual_seed(0)
    model = MPT(cfg)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.normal_(0, 0.02)
    return model.eval()


def bench_model(name: str, args: argparse.Namespace, dyn: np.ndarray, mot: np.ndarray, tmp: Path) -> list[Row]:
    spec = ClipSpec()
    cuda = args.device == "cuda"
    model = build(name, spec)
    ref = torch_probs(model, dyn, mot)
    rows: list[Row] = []
    B = args.batch
    d1, m1 = dyn[:1], mot[:1]
    db, mb = dyn[:B], mot[:B]

    # ---- torch eager
    dev = torch.device("cuda" if cuda else "cpu")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    torch_variants: list[tuple[str, nn.Module, torch.dtype]] = [("fp32", model.to(dev), torch.float32)]
    if cuda:
        torch_variants.append(("fp16", build(name, spec).half().to(dev), torch.float16))
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            q = torch.ao.quantization.quantize_dynamic(build(name, spec), {nn.Linear}, dtype=torch.qint8)
        torch_variants.append(("int8", q, torch.float32))
    for prec, mod, dt in torch_variants:
        t1 = (torch.from_numpy(d1).to(dev, dt), torch.from_numpy(m1).to(dev, dt))
        tb = (torch.from_numpy(db).to(dev, dt), torch.from_numpy(mb).to(dev, dt))
        with torch.inference_mode():
            row = measure(name, "torch", prec, lambda: mod(*t1), lambda: mod(*tb), B, args.runs, sync)
            if prec != "fp32":
                probs = np.concatenate([torch.softmax(mod(torch.from_numpy(dyn[i:i + 8]).to(dev, dt),
                                                          torch.from_numpy(mot[i:i + 8]).to(dev, dt)).float(), -1).cpu().numpy()
                                        for i in range(0, len(dyn), 8)])
                p = compare(ref, probs, prec)
                row.agreement, row.max_dprob = p.top1_agreement, p.max_dprob
        rows.append(row)
        print(row.line(), flush=True)
    model.cpu()

    # ---- ONNX Runtime
    meta = {"mpt.classes": json.dumps(CLASSES), "mpt.clip_spec": spec.to_json(),
            "mpt.backbone": BACKBONES[name], "mpt.precision": "fp32", "mpt.demo": "0"}
    fp32 = tmp / f"{name}.onnx"
    t = time.perf_counter()
    export_onnx(model, fp32, spec, meta)
    print(f"  (export {name} fp32: {time.perf_counter() - t:.0f} s)", flush=True)
    files = {"fp32": fp32}
    if cuda:
        files["fp16"] = convert_fp16(fp32, tmp / f"{name}.fp16.onnx", meta)
    t = time.perf_counter()
    files["int8"] = quantize_int8(fp32, tmp / f"{name}.int8.onnx", meta)
    print(f"  (quantize {name} int8: {time.perf_counter() - t:.0f} s)", flush=True)
    for prec, path in files.items():
        rt = MPTRuntime(path, device=args.device, threads=args.threads)
        label = "onnxruntime" if rt.provider == CPU else f"ort-{rt.provider.replace('ExecutionProvider', '').lower()}"
        row = measure(name, label, prec, lambda: rt.predict(d1, m1), lambda: rt.predict(db, mb), B, args.runs, lambda: None)
        probs = np.concatenate([rt.predict(dyn[i:i + 8], mot[i:i + 8]) for i in range(0, len(dyn), 8)])
        p = compare(ref, probs, prec)
        row.agreement, row.max_dprob = p.top1_agreement, p.max_dprob
        rows.append(row)
        print(row.line(), flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="tiny,small,base", help="comma list of tiny, small, base")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--threads", type=int, default=usable_cores(), help="threads for torch and ORT (default: all cores)")
    ap.add_argument("--runs", type=int, default=20, help="timed calls at B=1")
    ap.add_argument("--batch", type=int, default=8, help="batch size of the throughput figure")
    ap.add_argument("--clips", type=int, default=100, help="synthetic clips for the agreement figures")
    args = ap.parse_args()
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in names if m not in BACKBONES]
    if bad:
        print(f"error: --models {','.join(bad)}: choose from {', '.join(BACKBONES)}", file=sys.stderr)
        return 2
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda: torch sees no CUDA device on this machine", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    import onnxruntime as ort

    print(f"MPT inference, {platform.processor() or platform.machine()}, {usable_cores()} cores, threads {args.threads}, "
          f"torch {torch.__version__}, onnxruntime {ort.__version__}, device {args.device}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"B=1 latency per clip over {args.runs} runs; clips/s at B={args.batch}; top-1 / max|dprob| vs torch fp32 "
          f"on {args.clips} synthetic clips")
    spec = ClipSpec()
    dyn, mot = synthetic_clips(spec, max(args.clips, args.batch), seed=0)
    print(HEADER)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="mpt-bench-") as tmp:
        for name in names:
            rows += bench_model(name, args, dyn[:args.clips], mot[:args.clips], Path(tmp))
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    summary = []
    for r in rows:
        if r.backend != "torch" and r.precision in ("fp32", "int8", "fp16"):
            summary.append(f"ViT-{r.model[0].upper()} {r.backend} {r.precision} {r.p50:.0f} ms"
                           + (f" ({r.agreement:.0%})" if r.precision != "fp32" else ""))
    missed = [r for r in rows if (r.model, r.backend, r.precision) in TARGETS_MS
              and (r.p50 > TARGETS_MS[(r.model, r.backend, r.precision)]
                   or (r.agreement is not None and r.agreement < MIN_AGREEMENT))]
    verdict = "" if "base" not in names or args.device != "cpu" else \
        (" | targets: all met" if not missed else f" | targets MISSED: {', '.join(f'{r.backend} {r.precision}' for r in missed)}")
    print("SUMMARY p50 per clip: " + "; ".join(summary) + verdict)
    return 0


if __name__ == "__main__":
    sys.exit(main())
