"""The evaluation protocols: leave-one-subject-out (LOSO) and full-data training, and their run folders.

Protocol (paper section IV, MEGC convention):

* every subject is the test fold once; a fold's model is trained from the same seed for a fixed
  number of epochs on all other subjects, and the **final-epoch** model predicts the fold: the
  test subject never chooses epochs or checkpoints;
* predictions of all folds are pooled and Acc, UF1 and UAR are computed once on the pool
  (:mod:`train.metrics`); per-fold figures are reported beside them for information, and for a composite of
  several datasets (MEGC 2019's CDE) each dataset's figures on its part of the same pool (``parts``).

A run directory holds ``config.json``, ``folds/<subject>.json`` (written as each fold finishes, so
a killed run restarted with the same command skips finished folds), ``predictions.csv``,
``metrics.json`` and ``confusion.png``. Fitting itself is :mod:`train.fitting`.
"""

from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

import mpt_live
from mpt_live.errors import InputError, counted
from mpt_live.writers import atomic_path, write_json

from .classes_left import check_classes
from .config import TrainConfig, variants
from .fitting import CachedClips, build_model, fit, make_cache, model_config, precompute, predict, seed_everything
from .metrics import summarize, summarize_groups
from .run_guards import check_or_store_config, check_or_store_dataset, check_or_store_unusable

# ---------------------------------------------------------------- run directory
def _csv_header(classes: Sequence[str]) -> list[str]:
    return ["fold", "subject", "clip_id", "label", "pred"] + [f"p_{c}" for c in classes]


def _csv_rows(fold: dict[str, Any], classes: Sequence[str]) -> list[list[Any]]:
    return [[fold["fold"], fold["subject"], cid, classes[t], classes[p]] + [f"{x:.6f}" for x in pr]
            for cid, t, p, pr in zip(fold["clip_ids"], fold["labels"], fold["preds"], fold["probs"])]


def plot_confusion(cm: np.ndarray, classes: Sequence[str], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mpt_live.timeline import use_fallback_fonts

    use_fallback_fonts()

    cm = np.asarray(cm)
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
    size = 2.0 + 0.7 * len(classes)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                    color="white" if frac[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, label="row fraction")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------- protocols
def confusion_title(cfg: TrainConfig, pooled: dict[str, Any], data_kind: str = "") -> str:
    """confusion.png's title: the dataset, ``data_kind`` where its clips are mpt-synth's (a plot of semi-synthetic
    clips in CASME II's layout read as CASME II's), the model, the pooled figures."""
    return (f"{cfg.dataset} LOSO ({cfg.backbone}, {cfg.backbone_init} init)\n"
            + (f"{data_kind} clips\n" if data_kind else "")
            + f"Acc {pooled['acc']:.3f}  UF1 {pooled['uf1']:.3f}  UAR {pooled['uar']:.3f}  n={pooled['n']}")


def faces_used(index: Any) -> str:
    """What the model saw: the dataset's own cropped faces, or frames our aligner aligned."""
    return "dataset crops (resized)" if getattr(index, "cropped", False) else "aligned by mpt_live.face"


def fold_path(out: Path, subject: str) -> Path:
    """Where a finished fold is kept: ``out/folds/<subject>.json``."""
    return Path(out) / "folds" / f"{subject.replace(os.sep, '_')}.json"


def train_fold(cfg: TrainConfig, samples: Sequence[Any], labels: Sequence[int], n_classes: int, cache: Any,
               k: int, subject: str, progress: Any | None = None, label: str = "") -> dict[str, Any]:
    """Fold ``k``: train on every subject but ``subject`` from the run's seed, predict ``subject``'s clips.

    Returns what ``folds/<subject>.json`` holds. The serial run and :mod:`train.ray_folds` both call it, so
    a fold's figures depend only on (cfg, samples, k), not on where it ran."""
    test = [i for i, s in enumerate(samples) if s.subject == subject]
    train = [i for i, s in enumerate(samples) if s.subject != subject]
    fold_seed = cfg.seed * 1000 + k
    seed_everything(cfg.seed)  # the same initialisation in every fold, resumed or not
    model = build_model(cfg, n_classes)
    t0 = time.perf_counter()
    losses = fit(model, CachedClips([samples[i] for i in train], [labels[i] for i in train],
                                    cache, variants(cfg, True), fold_seed),
                 cfg, n_classes, fold_seed, progress, f"{label} ({subject}, {counted(len(train), 'train clip')})")
    train_s = time.perf_counter() - t0
    probs = predict(model, CachedClips([samples[i] for i in test], [labels[i] for i in test], cache, [0]), cfg)
    preds = probs.argmax(axis=1).tolist()
    y = [labels[i] for i in test]
    s = summarize(y, preds, n_classes)
    return {"fold": k, "subject": subject, "n": s["n"], "acc": s["acc"], "uf1": s["uf1"],
            "uar": s["uar"], "train_seconds": train_s, "train_clips": len(train),
            "losses": losses, "clip_ids": [samples[i].clip_id for i in test], "labels": y,
            "preds": preds, "probs": probs.tolist()}


def fold_line(fold: dict[str, Any], n_folds: int) -> str:
    """The log line of a finished fold."""
    losses = fold["losses"]
    return (f"fold {fold['fold'] + 1}/{n_folds} {fold['subject']}: n={fold['n']} acc={fold['acc']:.3f} "
            f"uf1={fold['uf1']:.3f} uar={fold['uar']:.3f} loss={losses[-1] if losses else float('nan'):.4f} "
            f"({fold['train_seconds']:.1f} s)")


def model_summary(cfg: TrainConfig, n_classes: int, gflops: bool = True) -> dict[str, Any]:
    """Trainable parameters, GFLOPs per clip and the backbone's weight source (model built once, discarded)."""
    from .backbone import resolve_weights
    from .cost import gflops_per_clip, trainable_parameters

    seed_everything(cfg.seed)
    model = build_model(cfg, n_classes)
    info: dict[str, Any] = {"trainable_parameters": int(trainable_parameters(model)),
                            "total_parameters": int(sum(p.numel() for p in model.parameters())),
                            "backbone_source": resolve_weights(cfg.backbone, cfg.backbone_weights).description}
    info["gflops_per_clip"] = float(gflops_per_clip(model)) if gflops else None
    patch = getattr(getattr(getattr(model, "backbone", None), "patch_embed", None), "patch_size", None)
    info["patch"] = int(patch[0] if isinstance(patch, (tuple, list)) else patch or 0)
    return info


@dataclass
class LosoData:
    """What every fold of a LOSO run draws on: the usable clips, their labels and the test subjects."""

    classes: list[str]
    cache: Any
    samples: list[Any]
    labels: list[int]
    subjects: list[str]  # one fold each, in fold order
    dropped: list[str]  # clips that could not be preprocessed


def prepare_loso(cfg: TrainConfig, out: Path, index: Any, show: bool = False,
                 log: Callable[[str], None] = print, stage: Callable[[str], None] | None = None) -> LosoData:
    """Check or store the run's config, fill the clip cache and list the folds of ``index``. ``stage``: told
    ``preprocessing`` as the clip cache is filled (:class:`train.run.Stage`)."""
    out = Path(out)
    check_classes(index.classes, index.samples, cfg.data, log=log)
    check_or_store_config(out, cfg)
    check_or_store_dataset(out, index)
    (out / "folds").mkdir(exist_ok=True)
    classes = list(index.classes)
    cidx = {c: i for i, c in enumerate(classes)}
    cache = make_cache(cfg, out, index.cropped)
    if stage is not None:
        stage("preprocessing")
    samples = precompute(cache, list(index.samples), sorted(set(variants(cfg, True)) | {0}), cfg.workers, show, log)
    from .datasets import natural_key

    check_classes(classes, samples, cfg.data, index.samples, log)
    subjects = sorted({s.subject for s in samples}, key=natural_key)
    lost = sorted({s.subject for s in index.samples} - set(subjects), key=natural_key)
    for subject in lost:  # not a fold with no test clips: no fold at all, said once
        n = sum(s.subject == subject for s in index.samples)
        log(f"subject {subject}: all {n} of its clip(s) dropped in preprocessing (lines above): no LOSO fold tests it")
    if len(subjects) < 2:
        raise InputError(f"{cfg.data}: LOSO needs at least 2 subjects, found {len(subjects)}")
    dropped = sorted({s.name for s in index.samples} - {s.name for s in samples})
    check_or_store_unusable(out, dropped)
    return LosoData(classes, cache, samples, [cidx[s.label] for s in samples], subjects, dropped)


def run_loso(cfg: TrainConfig, out: Path, index: Any, *, progress: Any | None = None,
             log: Callable[[str], None] = print, max_folds: int | None = None,
             extra_config: dict[str, Any] | None = None, resumed_note: bool = True,
             stage: Callable[[str], None] | None = None) -> dict[str, Any] | None:
    """LOSO over ``index`` (a DatasetIndex). Returns the metrics dict, or None when stopped early
    by ``max_folds`` (folds run in this call), leaving a resumable run directory. ``resumed_note``: say how many
    folds were found finished (False where the caller ran them, as :mod:`train.ray_folds` does). ``stage``: told
    ``preprocessing``, then ``training`` as the folds begin (:class:`train.run.Stage`)."""
    out = Path(out)
    data = prepare_loso(cfg, out, index, progress is not None, log, stage)
    if stage is not None:
        stage("training")
    classes, cache, samples, labels, subjects = data.classes, data.cache, data.samples, data.labels, data.subjects

    # predictions.csv is rebuilt from finished folds, then appended fold by fold: a run killed
    # between the CSV append and the fold JSON never leaves duplicate rows behind
    done = {s: json.loads(fold_path(out, s).read_text()) for s in subjects if fold_path(out, s).exists()}
    with open(out / "predictions.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(_csv_header(classes))
        for s in subjects:
            if s in done:
                w.writerows(_csv_rows(done[s], classes))
    if done and resumed_note:
        log(f"resuming: {len(done)}/{len(subjects)} folds already finished in {out}")

    fold_task = progress.add_task("LOSO folds", total=len(subjects), completed=len(done),
                                  info="", unit="folds") if progress else None
    ran = 0
    for k, subject in enumerate(subjects):
        if subject in done:
            continue
        if max_folds is not None and ran >= max_folds:
            return None
        fold = train_fold(cfg, samples, labels, len(classes), cache, k, subject, progress,
                          f"fold {k + 1}/{len(subjects)}")
        with open(out / "predictions.csv", "a", newline="") as fh:
            csv.writer(fh).writerows(_csv_rows(fold, classes))
            fh.flush()
        write_json(fold_path(out, subject), fold)
        done[subject] = fold
        ran += 1
        log(fold_line(fold, len(subjects)))
        if progress:
            progress.update(fold_task, advance=1)
    if progress:
        progress.remove_task(fold_task)

    folds = [done[s] for s in subjects]
    y_all = [t for f in folds for t in f["labels"]]
    p_all = [p for f in folds for p in f["preds"]]
    pooled = summarize(y_all, p_all, len(classes))
    part_of = {s.subject: s.dataset for s in samples}  # a composite's datasets: figures per part beside the pool
    parts = summarize_groups(y_all, p_all, [part_of.get(f["subject"], "") for f in folds for _ in f["labels"]],
                             len(classes))
    metrics = {
        "protocol": "loso", "acc": pooled["acc"], "uf1": pooled["uf1"], "uar": pooled["uar"],
        "n": pooled["n"],
        "folds": [{k: f[k] for k in ("fold", "subject", "n", "acc", "uf1", "uar", "train_seconds")}
                  for f in folds],
        "confusion": pooled["confusion"], "classes": classes,
        **({"parts": parts} if len(parts) > 1 else {}),
        "config": {**cfg.to_dict(), **(extra_config or {})},
        "train_seconds": float(sum(f["train_seconds"] for f in folds)),
        "dropped_clips": data.dropped,
        "faces_used": faces_used(index),
        "version": mpt_live.__version__,
    }
    write_json(out / "metrics.json", metrics)
    title = confusion_title(cfg, pooled, str((extra_config or {}).get("data_kind") or ""))
    plot_confusion(np.array(pooled["confusion"]), classes, title, out / "confusion.png")
    return metrics


def train_full(cfg: TrainConfig, out: Path, index: Any, *, progress: Any | None = None,
               log: Callable[[str], None] = print, metrics: dict[str, Any] | None = None,
               extra_config: dict[str, Any] | None = None, stage: Callable[[str], None] | None = None) -> Path:
    """Train one deployable model on every subject and write ``out/model.pt`` (checkpoint contract). ``stage``: told
    ``preprocessing`` as the clip cache is filled, then ``training`` (:class:`train.run.Stage`)."""
    out = Path(out)
    check_classes(index.classes, index.samples, cfg.data, log=log)
    out.mkdir(parents=True, exist_ok=True)
    classes = list(index.classes)
    cidx = {c: i for i, c in enumerate(classes)}
    cache = make_cache(cfg, out, index.cropped)
    if stage is not None:
        stage("preprocessing")
    samples = precompute(cache, list(index.samples), variants(cfg, True), cfg.workers,
                         progress is not None, log)
    check_classes(classes, samples, cfg.data, index.samples, log, loso=False)  # no fold here to lack a class
    dropped = sorted({s.name for s in index.samples} - {s.name for s in samples})
    labels = [cidx[s.label] for s in samples]
    if stage is not None:
        stage("training")
    seed_everything(cfg.seed)
    model = build_model(cfg, len(classes))
    t0 = time.perf_counter()
    losses = fit(model, CachedClips(samples, labels, cache, variants(cfg, True), cfg.seed),
                 cfg, len(classes), cfg.seed, progress, f"full ({counted(len(samples), 'clip')})")
    train_s = time.perf_counter() - t0
    train_config = {**cfg.to_dict(), **(extra_config or {}), "train_seconds": train_s,
                    "losses": losses, "n_samples": len(samples), "dropped_clips": dropped,
                    "faces_used": faces_used(index)}
    ckpt = {
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "model_config": asdict(model_config(cfg, len(classes))),
        "classes": classes,
        "clip_spec": cfg.spec.to_dict(),
        "clip_mode": cfg.clip_mode,
        "dataset": cfg.dataset,
        "data_kind": str((extra_config or {}).get("data_kind") or ""),  # DATA_KIND: clips of mpt-synth, else ""
        "protocol": "full",
        "train_config": train_config,
        "metrics": metrics,
        "version": mpt_live.__version__,
    }
    path = out / "model.pt"
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)
    log(f"trained on {counted(len(samples), 'clip')} in {train_s:.1f} s, final loss "
        f"{losses[-1] if losses else float('nan'):.4f}; wrote {path}")
    return path
