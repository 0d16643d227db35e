"""Before a full run writes ``model.pt``: the LOSO figures it is to carry describe this model, and the
folder does not hold another configuration's model (a LOSO run's folder is guarded by its config.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mpt_live.errors import InputError

from .config import TrainConfig
from .loso import _changed, _stored


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

    try:
        stored = torch.load(path, map_location="cpu", weights_only=False).get("train_config")
    except Exception:  # noqa: BLE001 - any unreadable file: not ours to replace
        stored = None
    if not isinstance(stored, dict):
        raise InputError(f"{path}: exists and is not an mpt-train checkpoint; choose a new --out or remove it")
    old, ident = _stored(stored), cfg.identity()
    defaults = TrainConfig(cfg.dataset, cfg.data).identity()  # a field added since: its default (loso.py's rule)
    diff = sorted(k for k in ident if old.get(k, defaults.get(k)) != ident[k])
    if diff:
        detail = ", ".join(_changed(k, old.get(k, defaults.get(k)), ident[k]) for k in diff[:4])
        raise InputError(f"{path}: a model of another configuration ({detail}); choose a new --out, "
                         "or remove it to replace it")
