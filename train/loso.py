"""Leave-one-subject-out (LOSO) evaluation and full-data training of MPT.

Protocol (paper section IV, MEGC convention):

* every subject is the test fold once; a fold's model is trained from the same seed for a fixed
  number of epochs on all other subjects, and the **final-epoch** model predicts the fold: the
  test subject never chooses epochs or checkpoints;
* predictions of all folds are pooled and Acc, UF1 and UAR are computed once on the pool
  (:mod:`train.metrics`); per-fold figures are reported beside them for information.

Loss: cross-entropy. With ``class_weighted`` each training fold weights class ``c`` by
``N / (C * N_c)`` (C = number of classes present in that fold's training set), the usual remedy
for the heavy class imbalance of ME datasets; off by default (the paper's plain CE).

Clips are preprocessed once (alignment, magnification, rank pooling) through
:class:`train.datasets.cache.ClipCache`; epochs and folds then cost only model time. In ``window``
clip mode, training draws one of ``jitter_variants`` temporally jittered variants (1..J) per clip per
epoch; testing always uses the centred variant 0.

A run directory holds ``config.json``, ``folds/<subject>.json`` (written as each fold finishes, so
a killed run restarted with the same command skips finished folds), ``predictions.csv``,
``metrics.json`` and ``confusion.png``.
"""

from __future__ import annotations

import csv
import json
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

import mpt_live
from mpt_live.clip import ClipSpec
from mpt_live.errors import InputError

from .metrics import summarize

RANDOM_INIT_NOTE = (
    "backbone is randomly initialised (no pretrained weights were available): figures are not "
    "comparable with the paper's ImageNet-pretrained ViT"
)

# fields of TrainConfig that do not change results: a resumed run may differ in these
_RUNTIME_ONLY = ("device", "workers", "cache")


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved in config.json, metrics.json and model.pt)."""

    dataset: str
    data: str
    backbone: str = "vit_base_patch16_224"
    backbone_weights: str | None = None  # a local file, "timm" (download through timm), or None
    image_size: int = 224
    frames: int = 16
    alpha: float = 20.0
    clip_mode: str = "paper"
    epochs: int = 20
    batch_size: int = 16
    lr: float = 3e-4
    prompts: bool = True
    adapter: str = "group"
    class_weighted: bool = False
    jitter_variants: int = 4
    seed: int = 0
    device: str = "cpu"
    workers: int = 0
    cache: str | None = None
    num_prompts: int = 5
    reduction: int = 8
    prompt_grid: int = 4
    prompt_centre: bool = True
    spec_overrides: dict[str, Any] = field(default_factory=dict)  # other ClipSpec fields

    def clip_spec(self) -> ClipSpec:
        return ClipSpec(frames=self.frames, image_size=self.image_size, alpha=self.alpha,
                        **self.spec_overrides)

    @property
    def backbone_init(self) -> str:
        if self.backbone_weights is None:
            return "random"
        return "timm" if self.backbone_weights == "timm" else f"file:{self.backbone_weights}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["clip_spec"] = self.clip_spec().to_dict()
        d["backbone_init"] = self.backbone_init
        if self.backbone_init == "random":
            d["note"] = RANDOM_INIT_NOTE
        return d

    def identity(self) -> dict[str, Any]:
        """The result-defining part of the config, compared when a run is resumed."""
        d = self.to_dict()
        for k in _RUNTIME_ONLY:
            d.pop(k, None)
        return json.loads(json.dumps(d))  # tuples -> lists, as stored


# ---------------------------------------------------------------- data
def _variants(cfg: TrainConfig, train: bool) -> list[int]:
    if cfg.clip_mode == "window" and train:
        return list(range(1, cfg.jitter_variants + 1))
    return [0]


class CachedClips(Dataset):
    """(dynamic, motion, label) from the clip cache; in training, a variant drawn per epoch."""

    def __init__(self, samples: Sequence[Any], labels: Sequence[int], cache: Any,
                 variants: Sequence[int], seed: int = 0) -> None:
        self.samples, self.labels, self.cache = list(samples), list(labels), cache
        self.variants, self.seed, self.epoch = list(variants), seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        v = self.variants[0]
        if len(self.variants) > 1:  # deterministic in (seed, epoch, i): same with any worker count
            v = self.variants[np.random.default_rng((self.seed, self.epoch, i)).integers(len(self.variants))]
        dynamic, motion = self.cache.get(self.samples[i], variant=v)
        return torch.from_numpy(np.asarray(dynamic, np.float32)), torch.from_numpy(
            np.asarray(motion, np.float32)), self.labels[i]


def make_cache(cfg: TrainConfig, out: Path) -> Any:
    from .datasets.cache import ClipCache

    root = Path(cfg.cache) if cfg.cache else out.resolve().parent / ".cache"
    return ClipCache(root, cfg.clip_spec(), cfg.clip_mode)


def precompute(cache: Any, samples: Sequence[Any], variants: Sequence[int], workers: int = 0,
               show: bool = True, log: Callable[[str], None] = print) -> list[Any]:
    """Fill the clip cache once (alignment + magnification + rank pooling of every clip variant).

    Returns the samples that can be used: a clip whose preprocessing fails with InputError (e.g. no
    face in any frame) is dropped with a message, and the caller records it. No usable clip at all
    raises InputError.
    """
    failures = cache.prepare(samples, list(variants), workers=max(1, workers), progress=show)
    bad = {name for name, _, _ in failures}
    for name, v, msg in failures:
        log(f"dropped {name} (variant {v}): {msg}")
    kept = [s for s in samples if s.name not in bad]
    if not kept:
        raise InputError(f"no clip could be preprocessed ({len(failures)} failures, first: "
                         f"{failures[0][2] if failures else 'none'})")
    return kept


# ---------------------------------------------------------------- model and training
def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def model_config(cfg: TrainConfig, n_classes: int) -> Any:
    from .model import MPTConfig

    return MPTConfig(backbone=cfg.backbone, num_classes=n_classes, num_prompts=cfg.num_prompts,
                     reduction=cfg.reduction, frames=cfg.frames, image_size=cfg.image_size,
                     prompts=cfg.prompts, adapter=cfg.adapter, prompt_grid=cfg.prompt_grid,
                     prompt_centre=cfg.prompt_centre)


def build_model(cfg: TrainConfig, n_classes: int) -> nn.Module:
    """The configured MPT; a backbone or weight source that does not fit raises InputError."""
    from .backbone import resolve_weights
    from .model import MPT

    try:
        src = resolve_weights(cfg.backbone, cfg.backbone_weights)
        return MPT(model_config(cfg, n_classes), pretrained=src.kind == "timm",
                   backbone_weights=src.path if src.kind == "file" else None)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        raise InputError(f"--backbone {cfg.backbone}: {e}") from None


def class_weights(labels: Sequence[int], n_classes: int) -> torch.Tensor:
    """N / (C_present * N_c) per class; 1 for classes absent from the training labels."""
    counts = np.bincount(np.asarray(labels, np.int64), minlength=n_classes).astype(np.float64)
    present = counts > 0
    w = np.ones(n_classes)
    w[present] = counts.sum() / (present.sum() * counts[present])
    return torch.tensor(w, dtype=torch.float32)


def fit(model: nn.Module, data: CachedClips, cfg: TrainConfig, n_classes: int, seed: int,
        progress: Any | None = None, label: str = "") -> list[float]:
    """Adam on the trainable parameters, cross-entropy, ``cfg.epochs`` epochs. Returns epoch losses."""
    device = torch.device(cfg.device)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    weight = class_weights(data.labels, n_classes).to(device) if cfg.class_weighted else None
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    gen = torch.Generator().manual_seed(seed)
    loader = DataLoader(data, batch_size=cfg.batch_size, shuffle=True, generator=gen,
                        num_workers=cfg.workers, drop_last=False)
    task = progress.add_task(label, total=cfg.epochs * len(loader), info="") if progress else None
    losses: list[float] = []
    for epoch in range(cfg.epochs):
        data.set_epoch(epoch)
        model.train()
        total, n, t0 = 0.0, 0, time.perf_counter()
        for dynamic, motion, y in loader:
            dynamic, motion, y = dynamic.to(device), motion.to(device), y.to(device)
            loss = loss_fn(model(dynamic, motion), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(y)
            n += len(y)
            if progress:
                rate = n / max(time.perf_counter() - t0, 1e-9)
                progress.update(task, advance=1, info=(
                    f"epoch {epoch + 1}/{cfg.epochs}  loss {total / n:.4f}  {rate:.1f} clips/s"))
        losses.append(total / max(n, 1))
    if progress:
        progress.remove_task(task)
    return losses


@torch.no_grad()
def predict(model: nn.Module, data: CachedClips, cfg: TrainConfig) -> np.ndarray:
    """Softmax probabilities (N, C)."""
    device = torch.device(cfg.device)
    model.to(device).eval()
    loader = DataLoader(data, batch_size=cfg.batch_size, shuffle=False, num_workers=cfg.workers)
    out = [torch.softmax(model(d.to(device), m.to(device)), dim=1).cpu() for d, m, _ in loader]
    return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)


# ---------------------------------------------------------------- run directory
def _write_json(path: Path, obj: Any) -> None:
    """Atomic write: a killed run never leaves a half-written JSON behind."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)


def check_or_store_config(out: Path, cfg: TrainConfig, store: bool = True) -> None:
    """Refuse to resume a run whose finished folds were made with another config; else (with
    ``store``) write config.json. A run without finished folds has nothing to protect: its
    config is replaced."""
    out = Path(out)
    path = out / "config.json"
    ident = cfg.identity()
    if path.exists() and any((out / "folds").glob("*.json")):
        old = json.loads(path.read_text())
        diff = sorted(k for k in set(old) | set(ident) if old.get(k) != ident.get(k))
        if diff:
            detail = ", ".join(f"{k}: {old.get(k)!r} -> {ident.get(k)!r}" for k in diff[:4])
            raise InputError(f"{out}: existing run has a different config ({detail}); "
                             "rerun the same command to resume or choose a new --out")
    if store:
        out.mkdir(parents=True, exist_ok=True)
        _write_json(path, ident)


# what a LOSO run and the deployable model trained "with the same command" must share
SIBLING_KEYS = ("dataset", "backbone", "backbone_init", "clip_spec", "clip_mode", "prompts", "adapter",
                "num_prompts", "reduction", "epochs", "batch_size", "lr", "class_weighted",
                "jitter_variants")


def check_sibling_metrics(metrics: dict[str, Any], cfg: TrainConfig, source: str) -> None:
    """Refuse to store LOSO metrics in model.pt when they were measured with another config."""
    if not isinstance(metrics, dict) or not {"acc", "uf1", "uar"} <= set(metrics):
        raise InputError(f"{source}: not a LOSO metrics.json (needs acc, uf1, uar)")
    other = metrics.get("config")
    if not isinstance(other, dict):
        return  # nothing to compare against
    ident = cfg.identity()
    diff = [k for k in SIBLING_KEYS if k in other and other[k] != ident.get(k)]
    if diff:
        detail = ", ".join(f"{k}: {other[k]!r} vs {ident.get(k)!r}" for k in diff[:4])
        raise InputError(f"{source}: measured with a different config ({detail}); its figures "
                         "would not describe this model")


def _csv_header(classes: Sequence[str]) -> list[str]:
    return ["fold", "subject", "clip_id", "label", "pred"] + [f"p_{c}" for c in classes]


def _csv_rows(fold: dict[str, Any], classes: Sequence[str]) -> list[list[Any]]:
    return [[fold["fold"], fold["subject"], cid, classes[t], classes[p]] + [f"{x:.6f}" for x in pr]
            for cid, t, p, pr in zip(fold["clip_ids"], fold["labels"], fold["preds"], fold["probs"])]


def plot_confusion(cm: np.ndarray, classes: Sequence[str], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
def model_summary(cfg: TrainConfig, n_classes: int, gflops: bool = True) -> dict[str, Any]:
    """Trainable parameters and GFLOPs per clip of the configured model (built once, discarded)."""
    from .model import gflops_per_clip, trainable_parameters

    seed_everything(cfg.seed)
    model = build_model(cfg, n_classes)
    info: dict[str, Any] = {"trainable_parameters": int(trainable_parameters(model)),
                            "total_parameters": int(sum(p.numel() for p in model.parameters()))}
    info["gflops_per_clip"] = float(gflops_per_clip(model)) if gflops else None
    return info


def run_loso(cfg: TrainConfig, out: Path, index: Any, *, progress: Any | None = None,
             log: Callable[[str], None] = print, max_folds: int | None = None,
             extra_config: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """LOSO over ``index`` (a DatasetIndex). Returns the metrics dict, or None when stopped early
    by ``max_folds`` (folds run in this call), leaving a resumable run directory."""
    out = Path(out)
    check_or_store_config(out, cfg)
    (out / "folds").mkdir(exist_ok=True)
    classes = list(index.classes)
    cidx = {c: i for i, c in enumerate(classes)}
    cache = make_cache(cfg, out)
    samples = precompute(cache, list(index.samples), sorted(set(_variants(cfg, True)) | {0}),
                         cfg.workers, progress is not None, log)
    dropped = sorted({s.name for s in index.samples} - {s.name for s in samples})
    labels = [cidx[s.label] for s in samples]
    from .datasets import natural_key

    subjects = sorted({s.subject for s in samples}, key=natural_key)
    if len(subjects) < 2:
        raise InputError(f"{cfg.data}: LOSO needs at least 2 subjects, found {len(subjects)}")

    def fold_path(subject: str) -> Path:
        return out / "folds" / f"{subject.replace(os.sep, '_')}.json"

    # predictions.csv is rebuilt from finished folds, then appended fold by fold: a run killed
    # between the CSV append and the fold JSON never leaves duplicate rows behind
    done = {s: json.loads(fold_path(s).read_text()) for s in subjects if fold_path(s).exists()}
    with open(out / "predictions.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(_csv_header(classes))
        for s in subjects:
            if s in done:
                w.writerows(_csv_rows(done[s], classes))
    if done:
        log(f"resuming: {len(done)}/{len(subjects)} folds already finished in {out}")

    fold_task = progress.add_task("LOSO folds", total=len(subjects), completed=len(done),
                                  info="") if progress else None
    ran = 0
    for k, subject in enumerate(subjects):
        if subject in done:
            continue
        if max_folds is not None and ran >= max_folds:
            return None
        test = [i for i, s in enumerate(samples) if s.subject == subject]
        train = [i for i, s in enumerate(samples) if s.subject != subject]
        fold_seed = cfg.seed * 1000 + k
        seed_everything(cfg.seed)  # the same initialisation in every fold, resumed or not
        model = build_model(cfg, len(classes))
        t0 = time.perf_counter()
        losses = fit(model, CachedClips([samples[i] for i in train], [labels[i] for i in train],
                                        cache, _variants(cfg, True), fold_seed),
                     cfg, len(classes), fold_seed, progress,
                     f"fold {k + 1}/{len(subjects)} ({subject}, {len(train)} train clips)")
        train_s = time.perf_counter() - t0
        probs = predict(model, CachedClips([samples[i] for i in test], [labels[i] for i in test],
                                           cache, [0]), cfg)
        preds = probs.argmax(axis=1).tolist()
        y = [labels[i] for i in test]
        s = summarize(y, preds, len(classes))
        fold = {"fold": k, "subject": subject, "n": s["n"], "acc": s["acc"], "uf1": s["uf1"],
                "uar": s["uar"], "train_seconds": train_s, "train_clips": len(train),
                "losses": losses, "clip_ids": [samples[i].clip_id for i in test], "labels": y,
                "preds": preds, "probs": probs.tolist()}
        with open(out / "predictions.csv", "a", newline="") as fh:
            csv.writer(fh).writerows(_csv_rows(fold, classes))
            fh.flush()
        _write_json(fold_path(subject), fold)
        done[subject] = fold
        ran += 1
        log(f"fold {k + 1}/{len(subjects)} {subject}: n={s['n']} acc={s['acc']:.3f} "
            f"uf1={s['uf1']:.3f} uar={s['uar']:.3f} loss={losses[-1] if losses else float('nan'):.4f} "
            f"({train_s:.1f} s)")
        if progress:
            progress.update(fold_task, advance=1)
    if progress:
        progress.remove_task(fold_task)

    folds = [done[s] for s in subjects]
    y_all = [t for f in folds for t in f["labels"]]
    p_all = [p for f in folds for p in f["preds"]]
    pooled = summarize(y_all, p_all, len(classes))
    metrics = {
        "protocol": "loso", "acc": pooled["acc"], "uf1": pooled["uf1"], "uar": pooled["uar"],
        "n": pooled["n"],
        "folds": [{k: f[k] for k in ("fold", "subject", "n", "acc", "uf1", "uar", "train_seconds")}
                  for f in folds],
        "confusion": pooled["confusion"], "classes": classes,
        "config": {**cfg.to_dict(), **(extra_config or {})},
        "train_seconds": float(sum(f["train_seconds"] for f in folds)),
        "dropped_clips": dropped,
        "version": mpt_live.__version__,
    }
    _write_json(out / "metrics.json", metrics)
    title = (f"{cfg.dataset} LOSO ({cfg.backbone}, {cfg.backbone_init} init)\n"
             f"Acc {pooled['acc']:.3f}  UF1 {pooled['uf1']:.3f}  UAR {pooled['uar']:.3f}  n={pooled['n']}")
    plot_confusion(np.array(pooled["confusion"]), classes, title, out / "confusion.png")
    return metrics


def train_full(cfg: TrainConfig, out: Path, index: Any, *, progress: Any | None = None,
               log: Callable[[str], None] = print, metrics: dict[str, Any] | None = None,
               extra_config: dict[str, Any] | None = None) -> Path:
    """Train one deployable model on every subject and write ``out/model.pt`` (checkpoint contract)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    classes = list(index.classes)
    cidx = {c: i for i, c in enumerate(classes)}
    cache = make_cache(cfg, out)
    samples = precompute(cache, list(index.samples), _variants(cfg, True), cfg.workers,
                         progress is not None, log)
    dropped = sorted({s.name for s in index.samples} - {s.name for s in samples})
    labels = [cidx[s.label] for s in samples]
    seed_everything(cfg.seed)
    model = build_model(cfg, len(classes))
    t0 = time.perf_counter()
    losses = fit(model, CachedClips(samples, labels, cache, _variants(cfg, True), cfg.seed),
                 cfg, len(classes), cfg.seed, progress, f"full ({len(samples)} clips)")
    train_s = time.perf_counter() - t0
    train_config = {**cfg.to_dict(), **(extra_config or {}), "train_seconds": train_s,
                    "losses": losses, "n_samples": len(samples), "dropped_clips": dropped}
    ckpt = {
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "model_config": asdict(model_config(cfg, len(classes))),
        "classes": classes,
        "clip_spec": cfg.clip_spec().to_dict(),
        "clip_mode": cfg.clip_mode,
        "dataset": cfg.dataset,
        "protocol": "full",
        "train_config": train_config,
        "metrics": metrics,
        "version": mpt_live.__version__,
    }
    path = out / "model.pt"
    tmp = out / "model.pt.tmp"
    torch.save(ckpt, tmp)
    os.replace(tmp, path)
    log(f"trained on {len(samples)} clips in {train_s:.1f} s, final loss "
        f"{losses[-1] if losses else float('nan'):.4f}; wrote {path}")
    return path
