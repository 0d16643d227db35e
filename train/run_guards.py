"""A run folder's guards: a LOSO run resumes only with the configuration and the dataset its finished folds were
made with, and a deployable model carries only LOSO figures measured with its own configuration.

``config.json`` and ``dataset.json`` of a run folder (:mod:`train.loso`) are written and checked here; a config
stored by an older version is read as what it was (:func:`stored_config`), so a field added since does not make
an old run look different.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from mpt_live.clip import ClipSpec
from mpt_live.errors import InputError
from mpt_live.writers import write_json

from .config import TrainConfig

# fields added with a default other than what a config saved before them was trained with
_BEFORE_FIELD = {"flow_gain": 1.0, "head": "cls", "flow_norm": "rms"}


def stored_config(config: dict[str, Any]) -> dict[str, Any]:
    """A stored config read as what it was: fields added since it was saved with the value they meant
    then (``_BEFORE_FIELD``), its clip spec through :meth:`ClipSpec.from_dict`, so it compares equal
    to the same config today and differs from today's defaults where the run did."""
    config = {**_BEFORE_FIELD, **config}
    spec = config.get("clip_spec")
    if isinstance(spec, dict):
        try:
            config = {**config, "clip_spec": json.loads(json.dumps(ClipSpec.from_dict(spec).to_dict()))}
        except (TypeError, ValueError):
            pass  # not a spec this version can read: compared as stored (and so found different)
    return config


def config_change(key: str, was: Any, now: Any) -> str:
    """``key: was -> now``; for a dict (the clip spec, the model), only the entries that differ."""
    if isinstance(was, dict) and isinstance(now, dict):
        return ", ".join(f"{key}.{k}: {was.get(k)!r} -> {now.get(k)!r}"
                         for k in sorted(set(was) | set(now)) if was.get(k) != now.get(k))
    return f"{key}: {was!r} -> {now!r}"


def has_finished_folds(out: Path) -> bool:
    """Whether run folder ``out`` holds a finished LOSO fold (``folds/*.json``): a rerun resumes it."""
    return any((Path(out) / "folds").glob("*.json"))


def _stored_dataset(path: Path) -> dict[str, Any]:
    """The run's dataset.json at ``path`` as stored ({} where there is none or it cannot be read)."""
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        return {}


def check_or_store_config(out: Path, cfg: TrainConfig, store: bool = True) -> None:
    """Refuse to resume a run whose finished folds were made with another config; else (with
    ``store``) write config.json. A run without finished folds has nothing to protect: its
    config is replaced."""
    out = Path(out)
    path = out / "config.json"
    ident = cfg.identity()
    if path.exists() and has_finished_folds(out):
        old = stored_config(json.loads(path.read_text()))
        # a field added since the run started counts as its default (what that run was trained with)
        defaults = TrainConfig(cfg.dataset, cfg.data).identity()
        diff = sorted(k for k in set(old) | set(ident) if old.get(k, defaults.get(k)) != ident.get(k))
        if diff:
            detail = ", ".join(config_change(k, old.get(k, defaults.get(k)), ident.get(k)) for k in diff[:4])
            raise InputError(f"{out}: existing run has a different config ({detail}); to resume it, rerun with "
                             f"the options in {path}; or choose a new --out")
    if store:
        out.mkdir(parents=True, exist_ok=True)
        write_json(path, ident)


def dataset_fingerprint(index: Any) -> dict[str, Any]:
    """What a run's finished folds were trained and scored on: the clips (subject, clip, label, onset, apex,
    offset, frame count, fps) and the class order, as a sha256 and a count."""
    rows = sorted(f"{s.subject}\t{s.clip_id}\t{s.label}\t{s.onset}\t{s.apex}\t{s.offset}\t{len(s.frames)}\t{s.fps:g}"
                  for s in index.samples)
    text = "\n".join(["\t".join(index.classes), *rows])
    return {"sha256": hashlib.sha256(text.encode()).hexdigest(), "clips": len(rows)}


def check_or_store_dataset(out: Path, index: Any) -> None:
    """Refuse to resume a run whose finished folds were made from other annotations (clips added, dropped
    or relabelled since): their rows would be pooled with the new ones. Else write dataset.json."""
    path, now = Path(out) / "dataset.json", dataset_fingerprint(index)
    old = _stored_dataset(path)
    if has_finished_folds(out) and old.get("sha256") not in (None, now["sha256"]):
        raise InputError(f"{out}: the dataset changed since its finished folds were trained ({old.get('clips')} "
                         f"-> {now['clips']} clips, or labels or frames changed); choose a new --out, or "
                         f"remove {Path(out) / 'folds'} to start over")
    # what preprocessing left out of these annotations is kept for check_or_store_unusable
    write_json(path, {**now, **({"unusable": old["unusable"]} if old.get("sha256") == now["sha256"]
                                and "unusable" in old else {})})


def check_or_store_unusable(out: Path, dropped: list[str]) -> None:
    """Refuse to resume a run whose finished folds were trained and scored without other clips than preprocessing
    leaves out now (a frame that did not decode and was copied again since, a clip whose face is found now): the
    annotations are the same (:func:`check_or_store_dataset`), yet the new folds would train on another set than the
    finished ones, and the pooled figures would be no single run's. Else store the list in dataset.json
    (``unusable``). A run stored before the list was kept resumes as before."""
    path = Path(out) / "dataset.json"
    stored = _stored_dataset(path)
    was = stored.get("unusable")
    if isinstance(was, list) and has_finished_folds(out) and set(was) != set(dropped):
        usable, unusable = sorted(set(was) - set(dropped)), sorted(set(dropped) - set(was))
        said = "; ".join(f"{what} now: {', '.join(names[:3])}{' ...' if len(names) > 3 else ''} ({len(names)})"
                         for what, names in (("usable", usable), ("unusable", unusable)) if names)
        raise InputError(f"{out}: the clips preprocessing can use changed since its finished folds were trained "
                         f"({said}); choose a new --out, or remove {Path(out) / 'folds'} to start over")
    write_json(path, {**stored, "unusable": sorted(dropped)})


# what a LOSO run and the deployable model trained "with the same command" must share
SIBLING_KEYS = ("dataset", "backbone", "backbone_init", "clip_spec", "clip_mode", "faces", "sampling", "prompts",
                "adapter", "num_prompts", "reduction", "prompt_input", "prompt_grid", "prompt_channels", "flow_gain", "flow_norm",
                "head", "finetune", "vpt", "vpt_tokens", "epochs", "batch_size", "lr", "lr_schedule", "weight_decay",
                "label_smoothing", "augment", "augment_pose", "augment_photo", "average_epochs", "class_weighted", "jitter_variants")


def check_sibling_metrics(metrics: dict[str, Any], cfg: TrainConfig, source: str) -> None:
    """Refuse to store LOSO metrics in model.pt when they were measured with another config."""
    if not isinstance(metrics, dict) or not {"acc", "uf1", "uar"} <= set(metrics):
        raise InputError(f"{source}: not a LOSO metrics.json (needs acc, uf1, uar)")
    other = metrics.get("config")
    if not isinstance(other, dict):
        return  # nothing to compare against
    other = stored_config(other)
    ident = cfg.identity()
    defaults = TrainConfig(cfg.dataset, cfg.data).identity()  # a field added since: its default, as on resume
    diff = [k for k in SIBLING_KEYS if other.get(k, defaults.get(k)) != ident.get(k)]
    if diff:
        detail = ", ".join(f"{k}: {other.get(k, defaults.get(k))!r} vs {ident.get(k)!r}" for k in diff[:4])
        raise InputError(f"{source}: measured with a different config ({detail}); its figures "
                         "would not describe this model")
