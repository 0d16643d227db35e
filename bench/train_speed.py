"""Training step cost of MPT (frozen backbone) beside full fine-tuning of the same model.

One step = forward + backward + Adam step on a random batch (dynamic images and motion clips of the
configured frames), random labels: :func:`train.fitting.train_step`, in the precision mpt-train uses on
the device (fp32 on the CPU; CUDA: bf16 autocast, or fp16 with a gradient scaler on GPUs without bf16). "mpt" trains only prompts + adapters + head; "full" makes
every parameter trainable (the backbone stays in eval mode in both, ViTs have no dropout by default).
Each row: one warm-up step, then timed steps until --seconds have passed (at least 2, at most --steps).

    python bench/train_speed.py [--device cpu|cuda] [--batch 8] [--frames 16] [--seconds 20] [--models ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace

import torch

from mpt_live.machine import vector_extensions
from train.config import TrainConfig
from train.fitting import amp_dtype, model_config, train_step
from train.cost import trainable_parameters
from train.model import MPT, MPTConfig

DEFAULT_MODELS = ["vit_tiny_patch16_224@112", "vit_tiny_patch16_224@224",
                  "vit_small_patch16_224@224", "vit_base_patch16_224@224"]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def mpt_config(backbone: str, image_size: int, frames: int) -> MPTConfig:
    """The model mpt-train builds with its defaults (prompt generator, its channels, head) on this backbone and size
    (5 classes)."""
    return model_config(replace(TrainConfig(dataset="csv", data="."), backbone=backbone)
                        .with_spec(image_size=image_size, frames=frames), 5)


def bench_row(cfg: MPTConfig, mode: str, device: torch.device, batch: int, seconds: float,
              max_steps: int) -> dict:
    torch.manual_seed(0)
    model = MPT(cfg).to(device).train()
    if mode == "full":
        model.requires_grad_(True)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=3e-4)
    s = cfg.image_size
    dynamic = torch.randn(batch, 3, s, s, device=device)
    motion = torch.randn(batch, cfg.frames, 3, s, s, device=device)
    labels = torch.randint(0, cfg.num_classes, (batch,), device=device)
    dtype = amp_dtype(device)
    scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> float:
        sync(device)
        t0 = time.perf_counter()
        train_step(model, dynamic, motion, labels, opt, loss_fn, dtype, scaler)
        sync(device)
        return time.perf_counter() - t0

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    step()  # warm-up
    times: list[float] = []
    t_start = time.perf_counter()
    while len(times) < 2 or (len(times) < max_steps and time.perf_counter() - t_start < seconds):
        times.append(step())
    t = statistics.median(times)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    return {"model": cfg.backbone, "size": s, "mode": mode, "trainable_m": trainable_parameters(model) / 1e6,
            "step_s": t, "min_s": min(times), "samples_s": batch / t, "steps": len(times), "peak_gib": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0, help="timing budget per row")
    parser.add_argument("--steps", type=int, default=20, help="most timed steps per row")
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS, help="timm_name@image_size ...")
    a = parser.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device visible to torch")
    device = torch.device(a.device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    dtype = amp_dtype(device)
    precision = "fp32" if dtype is None else f"{str(dtype).removeprefix('torch.')} autocast"
    print(f"# MPT training step, batch {a.batch}, {a.frames} frames, {precision}, Adam; {where}; CPU vector extensions "
          f"{vector_extensions()}; torch {torch.__version__}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (step s: median, min: fastest step)")
    header = (f"{'backbone':<26} {'size':>4} {'mode':<5} {'train M':>8} {'step s':>8} {'min s':>8} {'samples/s':>9} "
              f"{'steps':>5}")
    if device.type == "cuda":
        header += f" {'peak GiB':>8}"
    print(header)
    rows = []
    for spec in a.models:
        name, _, size = spec.partition("@")
        cfg = mpt_config(name, int(size or 224), a.frames)
        for mode in ("mpt", "full"):
            r = bench_row(cfg, mode, device, a.batch, a.seconds, a.steps)
            rows.append(r)
            line = (f"{r['model']:<26} {r['size']:>4} {r['mode']:<5} {r['trainable_m']:>8.2f} {r['step_s']:>8.3f} "
                    f"{r['min_s']:>8.3f} {r['samples_s']:>9.2f} {r['steps']:>5}")
            if device.type == "cuda":
                line += f" {r['peak_gib']:>8.2f}"
            print(line, flush=True)
    last = rows[-2:]
    mpt, full = last[0], last[1]
    print(f"summary: {mpt['model']}@{mpt['size']} batch {a.batch} on {where}: MPT {mpt['step_s']:.3f} s/step "
          f"(min {mpt['min_s']:.3f}, {mpt['samples_s']:.2f} samples/s, {mpt['trainable_m']:.2f} M trained) vs full "
          f"fine-tune {full['step_s']:.3f} s/step (min {full['min_s']:.3f}, {full['samples_s']:.2f} samples/s, "
          f"{full['trainable_m']:.2f} M trained): MPT/full step time {mpt['step_s'] / full['step_s']:.2f}x "
          f"(min {mpt['min_s'] / full['min_s']:.2f}x)")

if __name__ == "__main__":
    main()
