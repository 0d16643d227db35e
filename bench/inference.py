"""MPT inference cost: ONNX Runtime vs torch eager, fp32 vs int8 (fp16 on GPU), ViT-T/S/B.

For each backbone an MPT as mpt-train builds it by default (16 frames, 224 px, K=5 prompts of motion
energy and signed displacement, r=8, 5 classes; ViT-S is the default backbone, DINOv2 ViT-S/14) is built
with random weights (latency does not depend on them; prompts, adapters and head are drawn ~N(0, 0.02)
as if trained, so that the outputs are not flat), exported with the real ``mpt-export`` code (fp32,
dynamic batch; static int8 calibrated on 16 synthetic clips, seed 1, see ``bench/int8.py`` for trained
checkpoints and their own calibration clips; fp16 on GPU), and run side by side:

* latency per clip at B=1: p50 / p95 / min over --runs calls. The back ends of one model take
  turns in blocks of 5 calls (after one untimed call that wakes the thread pool), so that they
  share whatever load the machine has (torch's OpenMP and ORT's pools would disturb each other
  call by call);
* throughput at B=--batch: clips per second;
* agreement with torch fp32 on --clips realistic synthetic clips (``export.parity``): top-1
  agreement and max |dprob|.

``--checkpoint model.pt`` benches a trained MPT instead of random weights, and ``--clip-dir DIR``
takes the agreement clips from real preprocessed clips (e.g. mpt-train's clip cache): the issue's
>= 99 % top-1 target is about trained models, whose top-1 margins are far larger than a random
model's.

Torch int8 is ``torch.ao.quantization.quantize_dynamic`` on the Linear layers (eager, CPU only).
Both back ends get the same thread count (default: all usable cores; the live runtime itself
defaults to cores - 1). Targets for this CPU, printed beside the ViT-B/16 rows: ORT fp32 <= 130
ms per clip, int8 <= 60 ms with >= 99 % top-1 agreement. The machine's load average is printed
at start and end: other work on the machine inflates the p50/p95 figures (min is the floor).

    python bench/inference.py [--models tiny,small,base] [--device cpu|cuda] [--threads N]
                              [--runs 20] [--batch 8] [--clips 100] [--checkpoint model.pt] [--clip-dir DIR]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from export.onnx_export import export_onnx
from export.quantize import convert_fp16, quantize_int8
from export.parity import compare, load_clips, synthetic_clips, torch_probs
from mpt_live.clip import ClipSpec
from mpt_live.errors import InputError
from mpt_live.runtime import CPU, MPTRuntime, usable_cores, vector_extensions
from train.config import TrainConfig
from train.fitting import model_config
from train.model import MPT

BACKBONES = {"tiny": "vit_tiny_patch16_224", "small": "vit_small_patch14_dinov2", "base": "vit_base_patch16_224"}
TARGETS_MS = {("base", "onnxruntime", "fp32"): 130.0, ("base", "onnxruntime", "int8"): 60.0}
MIN_AGREEMENT = 0.99
BLOCK = 5
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


@dataclasses.dataclass
class Runner:
    """One back end x precision of one model: a B=1 call, a B=batch call and probabilities for clips."""

    backend: str
    precision: str
    one: Callable[[], object]
    batch: Callable[[], object]
    probs: Callable[[np.ndarray, np.ndarray], np.ndarray] | None


def build(name: str, spec: ClipSpec) -> MPT:
    """The MPT mpt-train builds by default (its prompt generator), on backbone ``name``, random weights."""
    cfg = model_config(TrainConfig("casme2", ".", backbone=BACKBONES[name], spec=spec), len(CLASSES))
    torch.manual_seed(0)
    model = MPT(cfg)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.normal_(0, 0.02)
    return model.eval()


def torch_runners(model: MPT, args: argparse.Namespace, d1, m1, db, mb) -> list[Runner]:
    cuda = args.device == "cuda"
    dev = torch.device("cuda" if cuda else "cpu")
    variants: list[tuple[str, nn.Module, torch.dtype]] = [("fp32", model.to(dev), torch.float32)]
    if cuda:
        variants.append(("fp16", copy.deepcopy(model).half(), torch.float16))
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # quantize_dynamic copies the model (inplace=False)
            q = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
        variants.append(("int8", q, torch.float32))
    runners = []
    for prec, mod, dt in variants:
        def call(d: np.ndarray, m: np.ndarray, mod=mod, dt=dt) -> torch.Tensor:
            with torch.inference_mode():
                out = mod(torch.from_numpy(d).to(dev, dt), torch.from_numpy(m).to(dev, dt))
                if cuda:
                    torch.cuda.synchronize()
                return out

        def probs(d: np.ndarray, m: np.ndarray, call=call) -> np.ndarray:
            return np.concatenate([torch.softmax(call(d[i:i + 8], m[i:i + 8]).float(), -1).cpu().numpy()
                                   for i in range(0, len(d), 8)])

        runners.append(Runner("torch", prec, partial(call, d1, m1), partial(call, db, mb),
                              None if prec == "fp32" else probs))
    return runners


def ort_runners(name: str, model: MPT, args: argparse.Namespace, tmp: Path, d1, m1, db, mb) -> list[Runner]:
    spec = ClipSpec(frames=model.cfg.frames, image_size=model.cfg.image_size)
    n = model.cfg.num_classes
    meta = {"mpt.classes": json.dumps(CLASSES if n == len(CLASSES) else [f"class{i}" for i in range(n)]), "mpt.clip_spec": spec.to_json(),
            "mpt.backbone": BACKBONES[name], "mpt.precision": "fp32", "mpt.demo": "0"}
    fp32 = tmp / f"{name}.onnx"
    t = time.perf_counter()
    export_onnx(model.cpu(), fp32, spec, meta)
    print(f"  (export {name} fp32: {time.perf_counter() - t:.0f} s)", flush=True)
    files = {"fp32": fp32}
    if args.device == "cuda":
        files["fp16"] = convert_fp16(fp32, tmp / f"{name}.fp16.onnx", meta)
    else:   # int8 (MatMulInteger) is the CPU format; on a GPU its nodes would run on the CPU
        t = time.perf_counter()
        files["int8"] = quantize_int8(fp32, tmp / f"{name}.int8.onnx", meta, synthetic_clips(spec, 16, seed=1),
                                      source="16 synthetic clips (seed 1)")
        print(f"  (quantize {name} int8: {time.perf_counter() - t:.0f} s)", flush=True)
    runners = []
    for prec, path in files.items():
        rt = MPTRuntime(path, device=args.device, threads=args.threads)
        label = "onnxruntime" if rt.provider == CPU else f"ort-{rt.provider.replace('ExecutionProvider', '').lower()}"
        runners.append(Runner(label, prec, partial(rt.predict, d1, m1), partial(rt.predict, db, mb),
                              lambda d, m, rt=rt: np.concatenate([rt.predict(d[i:i + 8], m[i:i + 8])
                                                                  for i in range(0, len(d), 8)])))
    return runners


def bench_model(name: str, args: argparse.Namespace, dyn: np.ndarray, mot: np.ndarray, tmp: Path,
                model: MPT | None = None) -> list[Row]:
    """All runners of one backbone, timed in turns so that they share the machine's load."""
    model = build(name, ClipSpec()) if model is None else model
    ref = torch_probs(model, dyn, mot)
    top2 = np.sort(ref, 1)[:, -2:]
    print(f"  (ViT-{name[0].upper()}: torch fp32 reference, median top-1 margin {np.median(top2[:, 1] - top2[:, 0]):.3f}; "
          f"the smaller it is, the more int8 noise can flip a prediction)", flush=True)
    B = args.batch
    views = (dyn[:1], mot[:1], dyn[:B], mot[:B])
    runners = ort_runners(name, model, args, tmp, *views) + torch_runners(model, args, *views)
    t1: dict[int, list[float]] = {i: [] for i in range(len(runners))}
    tb: dict[int, list[float]] = {i: [] for i in range(len(runners))}
    for block in range(max(1, -(-args.runs // BLOCK))):   # blocks of calls, rotating through the runners
        for i, r in enumerate(runners):
            r.one()          # untimed: wakes this runtime's thread pool after the others ran
            for _ in range(min(BLOCK, args.runs - block * BLOCK)):
                t = time.perf_counter()
                r.one()
                t1[i].append((time.perf_counter() - t) * 1000)
            r.batch()
            t = time.perf_counter()
            r.batch()
            tb[i].append(time.perf_counter() - t)
    rows = []
    for i, r in enumerate(runners):
        a = np.array(t1[i])
        row = Row(name, r.backend, r.precision, float(np.median(a)), float(np.percentile(a, 95)), float(a.min()),
                  B / float(np.median(tb[i])))
        if r.probs is not None:
            p = compare(ref, r.probs(dyn, mot), r.precision)
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
    ap.add_argument("--clips", type=int, default=100, help="clips for the agreement figures")
    ap.add_argument("--checkpoint", type=Path, help="a trained MPT checkpoint (mpt-train model.pt) to bench "
                    "instead of random weights; --models is then its backbone")
    ap.add_argument("--clip-dir", type=Path, help="real clips (.npz with 'dynamic' and 'motion', e.g. mpt-train's "
                    "clip cache) for the agreement figures [default: synthetic clips]")
    args = ap.parse_args()
    trained = None
    if args.checkpoint is not None:
        from export.onnx_export import build_model, load_checkpoint
        try:
            trained = build_model(load_checkpoint(args.checkpoint), args.checkpoint)
        except InputError as e:
            print(f"error: --checkpoint {e}", file=sys.stderr)
            return 2
        if trained.cfg.backbone not in BACKBONES.values():
            print(f"error: --checkpoint {args.checkpoint}: backbone {trained.cfg.backbone} is not one of "
                  f"{', '.join(BACKBONES.values())}", file=sys.stderr)
            return 2
        args.models = next(k for k, v in BACKBONES.items() if v == trained.cfg.backbone)
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

    print(f"MPT inference, {platform.processor() or platform.machine()} ({vector_extensions()}), {usable_cores()} cores, threads {args.threads}, "
          f"torch {torch.__version__}, onnxruntime {ort.__version__}, device {args.device}; "
          f"load average {os.getloadavg()[0]:.1f}")
    spec = ClipSpec() if trained is None else ClipSpec(frames=trained.cfg.frames, image_size=trained.cfg.image_size)
    if args.clip_dir is not None:
        try:
            dyn, mot = load_clips(args.clip_dir, spec, limit=max(args.clips, args.batch))
        except InputError as e:
            print(f"error: --clip-dir {e}", file=sys.stderr)
            return 2
        args.clips = min(args.clips, len(dyn))
    else:
        dyn, mot = synthetic_clips(spec, max(args.clips, args.batch), seed=0)
    what = "trained checkpoint " + str(args.checkpoint) if trained is not None else "random weights"
    print(f"B=1 latency per clip over {args.runs} runs; clips/s at B={args.batch}; top-1 / max|dprob| vs torch fp32 "
          f"on {args.clips} {'clips from ' + str(args.clip_dir) if args.clip_dir else 'synthetic clips'}; {what}")
    print(HEADER)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="mpt-bench-") as tmp:
        for name in names:
            rows += bench_model(name, args, dyn[:args.clips], mot[:args.clips], Path(tmp), trained)
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
