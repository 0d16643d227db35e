"""Checks before a run: the command line's cheap ones (before any data is read), and before a full run writes
``model.pt``: the LOSO figures it is to carry describe this model, and the folder does not hold another
configuration's model (a LOSO run's folder is guarded by its config.json)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional

from mpt_live.errors import InputError
from mpt_live.rundir import check_out_dir

from .config import TrainConfig
from .run_guards import config_change, stored_config


def check_metrics_classes(metrics: dict[str, Any], classes: list[str], source: str) -> None:
    """``--metrics`` of a LOSO run on other classes (another dataset, another label set) is refused."""
    theirs = metrics.get("classes")
    if isinstance(theirs, list) and [str(c) for c in theirs] != list(classes):
        raise InputError(f"{source}: measured on the classes {', '.join(map(str, theirs))}; this run trains "
                         f"{', '.join(classes)}: its figures would not describe this model")


def check_full_overwrite(out: Path, cfg: TrainConfig) -> None:
    """A ``model.pt`` already in ``out`` is replaced only by a run of the same configuration."""
    path = Path(out) / "model.pt"
    if not path.is_file():
        return
    import torch

    from .torch_files import damaged_torch_file

    try:
        stored = torch.load(path, map_location="cpu", weights_only=False).get("train_config")
    except Exception as e:  # noqa: BLE001 - any unreadable file: not ours to replace
        damaged = damaged_torch_file(path, e)
        if damaged:  # a copy of one cut short: said so, not 'not an mpt-train checkpoint'
            raise InputError(f"{damaged}; choose a new --out or remove it") from None
        stored = None
    if not isinstance(stored, dict):
        raise InputError(f"{path}: exists and is not an mpt-train checkpoint; choose a new --out or remove it")
    old, ident = stored_config(stored), cfg.identity()
    defaults = TrainConfig(cfg.dataset, cfg.data).identity()  # a field added since: its default (loso.py's rule)
    diff = sorted(k for k in ident if old.get(k, defaults.get(k)) != ident[k])
    if diff:
        detail = ", ".join(config_change(k, old.get(k, defaults.get(k)), ident[k]) for k in diff[:4])
        raise InputError(f"{path}: a model of another configuration ({detail}); choose a new --out, "
                         "or remove it to replace it")


def check_environment(cfg: TrainConfig, data: Path, out: Path, metrics_file: Optional[Path]) -> None:
    """Cheap checks of the command line, before any data is read."""
    if not (math.isfinite(cfg.lr) and cfg.lr > 0):
        raise InputError(f"--lr {cfg.lr:g}: expected a positive learning rate (default {TrainConfig.lr:g})")
    if cfg.device == "cuda":
        from .fitting import cuda_problem

        problem = cuda_problem()
        if problem:
            raise InputError(f"--device cuda: CUDA is not available: {problem} (or use --device cpu)")
    from ._timm import import_timm

    if not import_timm().is_model(cfg.backbone):
        raise InputError(f"--backbone {cfg.backbone}: unknown timm model name "
                         "(e.g. vit_small_patch14_dinov2, vit_base_patch16_224, vit_tiny_patch16_224)")
    if cfg.backbone_weights not in ("auto", "timm", "none") and not Path(cfg.backbone_weights).is_file():
        raise InputError(f"--backbone-weights {cfg.backbone_weights}: file not found "
                         "(or use auto, timm or none)")
    if cfg.dataset == "csv" and data.is_file():
        if data.suffix.lower() not in (".csv", ".tsv", ".txt"):
            raise InputError(f"{data}: --dataset csv reads a .csv file (or a folder holding labels.csv)")
    elif cfg.dataset != "composite" and not data.is_dir():  # the composite's parts: checked by config.data_text
        if not data.exists():
            raise InputError(f"{data}: no such file or folder")
        # the sheet itself given (CASME2-coding-*.xlsx): the dataset is read from the folder that holds it and its frames
        raise InputError(f"{data}: a file, not a folder: --dataset {cfg.dataset} reads the dataset's root folder "
                         f"(give --data {data.parent})")
    check_out_dir(out)  # a file there, or a folder that cannot be made or written
    # the clip cache (fitting.make_cache's folder) likewise: a file there was a NotADirectoryError traceback
    check_out_dir(Path(cfg.cache) if cfg.cache else out.resolve().parent / ".cache", "--cache")
    if metrics_file is not None and not metrics_file.is_file():
        raise InputError(f"--metrics {metrics_file}: file not found")
