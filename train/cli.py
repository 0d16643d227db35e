"""``mpt-train``: LOSO evaluation or full-data training of MPT on a micro-expression dataset.

    mpt-train --dataset casme2 --data /data/CASME2 --out runs/casme2-loso
    mpt-train --dataset casme2 --data /data/CASME2 --out runs/casme2-full --protocol full \\
              --metrics runs/casme2-loso/metrics.json

A LOSO run writes RUN/metrics.json, RUN/predictions.csv, RUN/confusion.png and RUN/folds/;
rerunning the same command resumes it (finished folds are skipped). ``--protocol full`` writes a
deployable RUN/model.pt. Expected failures print one line and exit with status 2.
"""

from __future__ import annotations

import json
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.table import Table

from mpt_live.errors import InputError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False,
                  help="Train MPT (Motion Prompt Tuning) for micro-expression recognition.")


class DatasetName(str, Enum):
    casme2 = "casme2"
    samm = "samm"
    smic = "smic"
    casme3 = "casme3"
    csv = "csv"


class Protocol(str, Enum):
    loso = "loso"
    full = "full"


class ClipMode(str, Enum):
    paper = "paper"
    window = "window"


class Device(str, Enum):
    cpu = "cpu"
    cuda = "cuda"


class Adapter(str, Enum):
    group = "group"
    plain = "plain"
    none = "none"


class PromptInput(str, Enum):
    motion = "motion"
    frames = "frames"


def _fail(msg: str) -> None:
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"mpt-train: error: {' '.join(str(msg).split())}", markup=False)
    raise typer.Exit(2)


def _check_environment(backbone: str, weights: Optional[str], device: str, data: Path,
                       out: Path, metrics_file: Optional[Path]) -> None:
    """Cheap checks of the command line, before any data is read."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: CUDA is not available on this machine (use --device cpu)")
    from ._timm import import_timm

    if not import_timm().is_model(backbone):
        raise InputError(f"--backbone {backbone}: unknown timm model name "
                         "(e.g. vit_base_patch16_224, vit_small_patch16_224, vit_tiny_patch16_224)")
    if weights not in (None, "timm") and not Path(weights).is_file():
        raise InputError(f"--backbone-weights {weights}: file not found")
    if not data.is_dir():
        raise InputError(f"{data}: data root is not a directory")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a directory")
    if metrics_file is not None and not metrics_file.is_file():
        raise InputError(f"--metrics {metrics_file}: file not found")


def _progress(console: Console) -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                    MofNCompleteColumn(), TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=console)


def _report(console: Console, metrics: dict) -> None:
    t = Table(title="LOSO per fold (pooled figures on the last line)")
    for col in ("subject", "n", "Acc", "UF1", "UAR", "train s"):
        t.add_column(col, justify="left" if col == "subject" else "right")
    for f in metrics["folds"]:
        t.add_row(str(f["subject"]), str(f["n"]), f"{f['acc']:.3f}", f"{f['uf1']:.3f}",
                  f"{f['uar']:.3f}", f"{f['train_seconds']:.1f}")
    t.add_section()
    t.add_row("pooled", str(metrics["n"]), f"{metrics['acc']:.3f}", f"{metrics['uf1']:.3f}",
              f"{metrics['uar']:.3f}", f"{metrics['train_seconds']:.1f}", style="bold")
    console.print(t)
    cm = Table(title="confusion (rows true, columns predicted)")
    cm.add_column("")
    for c in metrics["classes"]:
        cm.add_column(c, justify="right")
    for c, row in zip(metrics["classes"], metrics["confusion"]):
        cm.add_row(c, *map(str, row))
    console.print(cm)


@app.command()
def train(
    dataset: DatasetName = typer.Option(..., help="dataset layout"),
    data: Path = typer.Option(..., help="dataset root directory"),
    out: Path = typer.Option(..., help="run directory (RUN)"),
    protocol: Protocol = typer.Option(Protocol.loso, help="loso: evaluate; full: one deployable model"),
    backbone: str = typer.Option("vit_base_patch16_224", help="timm ViT name (frozen)"),
    backbone_weights: Optional[str] = typer.Option(
        None, help="local backbone weights file, or 'timm' to download them through timm; "
                   "without it the backbone is randomly initialised"),
    image_size: int = typer.Option(224, help="aligned face size S"),
    frames: int = typer.Option(16, help="frames per clip T"),
    epochs: int = typer.Option(20, min=1, help="fixed number of epochs (never chosen on the test fold)"),
    batch_size: int = typer.Option(16, min=1),
    lr: float = typer.Option(3e-4, help="Adam learning rate"),
    clip_mode: ClipMode = typer.Option(ClipMode.paper, help="paper: onset..offset; window: fixed window"),
    device: Device = typer.Option(Device.cpu),
    alpha: float = typer.Option(20.0, help="magnification factor (0 = none)"),
    no_prompts: bool = typer.Option(False, "--no-prompts", help="ablation: no motion prompts"),
    adapter: Adapter = typer.Option(Adapter.group, help="ablation: adapter type"),
    prompt_grid: int = typer.Option(4, min=1, max=8, help="motion prompt features pooled to an N x N grid "
                                    "(1: the paper's global average pool)"),
    prompt_input: PromptInput = typer.Option(PromptInput.motion, help="what the prompt conv sees: motion "
                                             "(each magnified frame minus the clip mean) or frames (the paper's)"),
    class_weighted: bool = typer.Option(False, "--class-weighted",
                                        help="weight cross-entropy by N/(C*N_c) per training fold"),
    seed: int = typer.Option(0),
    workers: int = typer.Option(0, min=0, help="DataLoader worker processes"),
    threads: Optional[int] = typer.Option(
        None, min=1, help="torch CPU threads (default: torch's choice); 1 is often fastest for "
                          "small models on a busy machine"),
    cache: Optional[Path] = typer.Option(None, help="clip cache directory (default: RUN/../.cache)"),
    metrics: Optional[Path] = typer.Option(
        None, help="with --protocol full: a LOSO metrics.json to store in model.pt"),
) -> None:
    """Train MPT with leave-one-subject-out evaluation (loso) or on all subjects (full)."""
    from .loso import RANDOM_INIT_NOTE, TrainConfig, check_sibling_metrics

    console = Console(highlight=False)
    if threads:
        import torch

        torch.set_num_threads(threads)
    try:
        _check_environment(backbone, backbone_weights, device.value, data, out, metrics)
        cfg = TrainConfig(
            dataset=dataset.value, data=str(data.resolve()), backbone=backbone,
            backbone_weights=(backbone_weights if backbone_weights in (None, "timm")
                              else str(Path(backbone_weights).resolve())),
            image_size=image_size, frames=frames, alpha=alpha, clip_mode=clip_mode.value,
            epochs=epochs, batch_size=batch_size, lr=lr, prompts=not no_prompts,
            adapter=adapter.value, prompt_grid=prompt_grid,
            prompt_centre=prompt_input is PromptInput.motion, class_weighted=class_weighted, seed=seed,
            device=device.value, workers=workers, cache=str(cache.resolve()) if cache else None)
        try:
            spec = cfg.clip_spec()
        except ValueError as e:
            raise InputError(f"clip spec: {e}") from None
        metrics_obj = None
        if metrics is not None:
            try:
                metrics_obj = json.loads(metrics.read_text())
            except (OSError, ValueError) as e:
                raise InputError(f"--metrics {metrics}: not readable JSON ({e})") from None
            check_sibling_metrics(metrics_obj, cfg, f"--metrics {metrics}")
        _run(console, cfg, out, protocol.value, metrics_obj, RANDOM_INIT_NOTE, spec)
    except InputError as e:
        _fail(str(e))
    except KeyboardInterrupt:
        Console(stderr=True).print("mpt-train: interrupted; rerun the same command to resume")
        raise typer.Exit(130)


def _run(console: Console, cfg, out: Path, protocol: str, metrics_obj, note: str, spec) -> None:
    from .datasets import load_dataset
    from .loso import check_or_store_config, model_summary, run_loso, train_full

    if protocol == "loso":  # refuse a mismatching resume before any work
        check_or_store_config(out, cfg, store=False)
    index = load_dataset(cfg.dataset, Path(cfg.data))
    counts = {c: sum(s.label == c for s in index.samples) for c in index.classes}
    subjects = sorted({s.subject for s in index.samples})
    console.print(f"[bold]{cfg.dataset}[/] {cfg.data}: {len(index.samples)} clips, "
                  f"{len(subjects)} subjects, classes " + ", ".join(f"{c} {n}" for c, n in counts.items()))
    for w in index.warnings:
        console.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
    console.print(f"clip: {cfg.clip_mode} mode, {spec.frames} frames, {spec.image_size} px, "
                  f"alpha {spec.alpha:g}, band {spec.band_hz[0]:g}-{spec.band_hz[1]:g} Hz")
    if cfg.backbone_init == "random":
        console.print(f"[yellow]note:[/] {note}")
    t0 = time.perf_counter()
    info = model_summary(cfg, len(index.classes))
    console.print(f"model: {cfg.backbone} ({cfg.backbone_init} init), prompts {cfg.prompts}"
                  + (f" ({'motion' if cfg.prompt_centre else 'frames'}, {cfg.prompt_grid}x{cfg.prompt_grid} grid)"
                     if cfg.prompts else "") + ", "
                  f"adapter {cfg.adapter}: {info['trainable_parameters'] / 1e6:.3f} M trainable of "
                  f"{info['total_parameters'] / 1e6:.2f} M parameters, "
                  f"{info['gflops_per_clip']:.2f} GFLOPs per clip ({time.perf_counter() - t0:.1f} s)")
    extra = {"model": info, "n_samples": len(index.samples), "subjects": subjects}
    with _progress(console) as progress:
        log = progress.console.print
        if protocol == "loso":
            result = run_loso(cfg, out, index, progress=progress, log=log, extra_config=extra)
        else:
            train_full(cfg, out, index, progress=progress, log=log, metrics=metrics_obj,
                              extra_config=extra)
    if protocol == "loso":
        _report(console, result)
        console.print(f"wrote {out / 'metrics.json'}, {out / 'predictions.csv'}, {out / 'confusion.png'}")


def main() -> None:
    app(prog_name="mpt-train")


if __name__ == "__main__":
    sys.exit(main())
