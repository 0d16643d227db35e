"""Fitting MPT: cached clips as a dataset, the model a config describes, the training loop, prediction.

Clips are preprocessed once (alignment, magnification, rank pooling) through
:class:`train.datasets.cache.ClipCache`; epochs and folds then cost only model time. In ``window``
clip mode, training draws one of ``jitter_variants`` temporally jittered variants (1..J) per clip per
epoch; testing always uses the centred variant 0.

Loss: cross-entropy. With ``class_weighted`` each training set weights class ``c`` by
``N / (C * N_c)`` (C = number of classes present in that set), the usual remedy for the heavy class
imbalance of ME datasets.

Devices (``cfg.device``): the CPU, or CUDA with mixed precision where it is safe (:func:`amp_dtype`):
the forward pass and the loss under autocast in bfloat16 on GPUs that have it (no loss scaling needed),
float16 with a gradient scaler on older ones; the trained parameters and Adam's state stay float32.
Batches are moved to the device first (pinned memory) and augmented there.

Augmentation (``augment``, :func:`augment_batch`): what a different person, a slightly different
alignment or a mirrored face would give, applied identically to the dynamic image and every motion
frame of a clip, so the motion itself is unchanged: a horizontal flip with probability 1/2, and a
random similarity transform (shift up to +-``AUG_SHIFT`` of the crop, zoom up to +-``AUG_ZOOM``).
With ``augment_pose`` (a strength p in [0, 1]) each clip is also seen as from another head pose: a
roll of up to +-``POSE_ROLL_DEG`` p degrees, a horizontal squeeze or stretch of up to +-``POSE_SQUEEZE`` p,
and a yaw-like bend that moves the face's midline sideways by up to +-``POSE_BEND`` p of the half-width
while the borders stay (one side of the face narrows, the other widens, as when the head turns).
With ``augment_photo`` (a strength p in [0, 1]) each clip is also seen as from another camera or
source image, the motion unchanged: a contrast change of up to x(1 +- ``PHOTO_CONTRAST`` p) about each
frame's mean, a Gaussian blur of sigma up to ``PHOTO_BLUR`` p of the crop side (a softer or smaller
source face), and white noise of up to ``PHOTO_NOISE`` p added to each motion frame on its own (the
amplified noise of a grainier source).
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader, Dataset

from mpt_live.errors import InputError, counted

from .config import TrainConfig

AUG_SHIFT = 0.04   # fraction of the crop side
AUG_ZOOM = 0.04    # relative scale change
POSE_ROLL_DEG = 12.0  # head roll, degrees, at pose strength 1
POSE_SQUEEZE = 0.15   # horizontal scale change at pose strength 1
POSE_BEND = 0.25      # sideways shift of the face's midline (fraction of the half-width) at pose strength 1
PHOTO_CONTRAST = 0.4  # contrast factor up to x(1 + 0.4) or /(1 + 0.4) at photo strength 1
PHOTO_BLUR = 0.012    # Gaussian blur sigma, fraction of the crop side (1.3 px at 112 px) at photo strength 1
PHOTO_NOISE = 0.01    # std of white noise per motion frame at photo strength 1 (clips' temporal std ~0.01)


def augment_batch(dynamic: torch.Tensor, motion: torch.Tensor, gen: torch.Generator, pose: float = 0.0,
                  photo: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip and shift/zoom each clip of a batch (with ``pose`` > 0 also roll, squeeze and a yaw-like
    bend; with ``photo`` > 0 also contrast, blur and noise): the same transform for its D and all its
    motion frames."""
    n, t, c, s = motion.shape[0], motion.shape[1], motion.shape[2], motion.shape[-1]
    u = lambda *shape: torch.rand(*shape, generator=gen) * 2 - 1  # noqa: E731  uniform in [-1, 1)
    flip = torch.rand(n, generator=gen) < 0.5
    zoom = 1 + u(n) * AUG_ZOOM
    shift = u(n, 2) * (2 * AUG_SHIFT)  # grid units span 2 per side
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = torch.where(flip, -zoom, zoom)
    theta[:, 1, 1] = zoom
    theta[:, :, 2] = shift
    if pose > 0:
        roll = u(n) * torch.deg2rad(torch.tensor(POSE_ROLL_DEG * pose))
        squeeze = 1 + u(n) * POSE_SQUEEZE * pose
        rot = torch.stack([torch.stack([roll.cos(), -roll.sin()], -1), torch.stack([roll.sin(), roll.cos()], -1)], 1)
        theta[:, :, :2] = rot @ (theta[:, :, :2] * torch.stack([squeeze, torch.ones(n)], -1)[:, None, :])
    grid = nn.functional.affine_grid(theta, [n, c, s, s], align_corners=False)
    if pose > 0:  # yaw-like: sample the midline from a point moved sideways; the borders stay
        x = torch.linspace(-1 + 1 / s, 1 - 1 / s, s)
        bend = (u(n) * POSE_BEND * pose)[:, None, None] * (1 - x * x)[None, None, :]
        grid = torch.stack([grid[..., 0] + bend, grid[..., 1]], -1)
    grid = grid.to(dynamic.device, dynamic.dtype)
    warp = lambda x: nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="border",  # noqa: E731
                                               align_corners=False)
    dynamic, motion = warp(dynamic), warp(motion.flatten(1, 2)).view(n, t, c, s, s)
    return photometric(dynamic, motion, gen, photo) if photo > 0 else (dynamic, motion)


def photometric(dynamic: torch.Tensor, motion: torch.Tensor, gen: torch.Generator, photo: float
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Contrast, blur (the same for a clip's D and its motion frames) and per-frame noise at strength
    ``photo`` (module docstring)."""
    n, t, c, s = motion.shape[0], motion.shape[1], motion.shape[2], motion.shape[-1]
    contrast = torch.exp((torch.rand(n, generator=gen) * 2 - 1) * math.log1p(PHOTO_CONTRAST * photo))
    sigma = torch.rand(n, generator=gen) * PHOTO_BLUR * photo * s
    noise = torch.rand(n, generator=gen) * PHOTO_NOISE * photo
    eps = torch.randn(motion.shape, generator=gen)
    r = max(1, math.ceil(3 * PHOTO_BLUR * photo * s))
    x = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-x[None] ** 2 / (2 * sigma[:, None].clamp_min(1e-3) ** 2))
    k = (k / k.sum(1, keepdim=True)).to(dynamic.device, dynamic.dtype)  # (n, 2r+1); sigma ~0: a delta

    def blur(img: torch.Tensor) -> torch.Tensor:  # (n, ch, s, s), kernel i for clip i
        ch = img.shape[1]
        w = k.repeat_interleave(ch, 0)
        y = nn.functional.pad(img.reshape(1, n * ch, s, s), (r, r, r, r), mode="replicate")
        y = nn.functional.conv2d(y, w[:, None, None, :], groups=n * ch)
        return nn.functional.conv2d(y, w[:, None, :, None], groups=n * ch).view(n, ch, s, s)

    def scale(img: torch.Tensor, per: torch.Tensor) -> torch.Tensor:
        mean = img.mean(dim=(-2, -1), keepdim=True)
        return mean + per.view(-1, *[1] * (img.dim() - 1)).to(img) * (img - mean)

    dynamic = scale(blur(dynamic), contrast)
    motion = scale(blur(motion.flatten(1, 2)).view(n, t, c, s, s), contrast)
    return dynamic, motion + noise.view(n, 1, 1, 1, 1).to(motion) * eps.to(motion)


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


def make_cache(cfg: TrainConfig, out: Path, cropped: bool = False) -> Any:
    """The clip cache of ``cfg`` (``cropped``: the index's frames are the dataset's cropped faces)."""
    from .datasets.cache import ClipCache

    root = Path(cfg.cache) if cfg.cache else out.resolve().parent / ".cache"
    return ClipCache(root, cfg.spec, cfg.clip_mode, cfg.sampling, cropped)


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
        raise InputError(f"no clip could be preprocessed ({counted(len(failures), 'failure')}, first: "
                         f"{failures[0][2] if failures else 'none'})")
    return kept


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def model_config(cfg: TrainConfig, n_classes: int) -> Any:
    from .model import MPTConfig

    return MPTConfig(backbone=cfg.backbone, num_classes=n_classes, num_prompts=cfg.num_prompts,
                     reduction=cfg.reduction, frames=cfg.spec.frames, image_size=cfg.spec.image_size,
                     prompts=cfg.prompts, adapter=cfg.adapter, prompt_grid=cfg.prompt_grid,
                     prompt_centre=cfg.prompt_input in ("energy", "flow", "motion"),
                     prompt_energy=cfg.prompt_input in ("energy", "flow"), prompt_flow=cfg.prompt_input == "flow",
                     prompt_channels=cfg.prompt_channels, prompt_flow_gain=cfg.flow_gain,
                     prompt_flow_norm=cfg.flow_norm,
                     head_prompts=cfg.head in ("cls+prompts", "cls+prompts+summary"),
                     head_summary=cfg.head == "cls+prompts+summary",
                     finetune=cfg.finetune, vpt=cfg.vpt, vpt_tokens=cfg.vpt_tokens if cfg.vpt != "none" else 0)


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


def cuda_problem() -> str:
    """Why torch cannot train on CUDA here, in one phrase ("" when it can)."""
    if torch.version.cuda is None:
        return f"this torch ({torch.__version__}) is the CPU build; install the CUDA build (make install-cuda)"
    if torch.cuda.is_available():
        return ""
    from mpt_live.providers import driver_problem

    try:
        need = tuple(int(x) for x in str(torch.version.cuda).split(".")[:2])
    except ValueError:
        need = None
    why = driver_problem(need, f"torch {torch.__version__}") if need and len(need) == 2 else ""
    return f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU" + (f": {why}" if why else "")


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype of mixed-precision training on ``device``: None (fp32) on the CPU; on CUDA bfloat16
    where the GPU has it (Ampere and later), else float16 (then with a gradient scaler)."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Autocast to ``dtype`` on ``device``'s type, or nothing for None."""
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def train_step(model: nn.Module, dynamic: torch.Tensor, motion: torch.Tensor, y: torch.Tensor, opt: torch.optim.Optimizer,
               loss_fn: nn.Module, dtype: torch.dtype | None = None, scaler: Any | None = None) -> torch.Tensor:
    """One optimisation step (forward and loss under ``dtype`` autocast; scaled backward with ``scaler``)."""
    with autocast(dynamic.device, dtype):
        loss = loss_fn(model(dynamic, motion).float(), y)
    opt.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    else:
        loss.backward()
        opt.step()
    return loss.detach()


def fit(model: nn.Module, data: CachedClips, cfg: TrainConfig, n_classes: int, seed: int,
        progress: Any | None = None, label: str = "") -> list[float]:
    """Train the trainable parameters for ``cfg.epochs`` epochs; returns the epoch losses.

    Adam (AdamW with ``cfg.weight_decay`` > 0) at ``cfg.lr``, constant or decayed to 0 along a cosine
    over all steps (``cfg.lr_schedule``), cross-entropy (``cfg.label_smoothing``, optional class
    weights), and with ``cfg.augment`` the batch augmentation of :func:`augment_batch`. With
    ``cfg.average_epochs`` = N > 0 the model ends with the mean of its weights after each of the last N
    epochs (stochastic weight averaging, ``torch.optim.swa_utils``); the losses stay those of training.
    """
    device = torch.device(cfg.device)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = (torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay) if cfg.weight_decay > 0
           else torch.optim.Adam(params, lr=cfg.lr))
    weight = class_weights(data.labels, n_classes).to(device) if cfg.class_weighted else None
    loss_fn = nn.CrossEntropyLoss(weight=weight, label_smoothing=cfg.label_smoothing)
    gen = torch.Generator().manual_seed(seed)
    aug_gen = torch.Generator().manual_seed(seed + 1)
    dtype = amp_dtype(device)
    scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None
    loader = DataLoader(data, batch_size=cfg.batch_size, shuffle=True, generator=gen,
                        num_workers=cfg.workers, drop_last=False, pin_memory=device.type == "cuda")
    task = progress.add_task(label, total=cfg.epochs * len(loader), info="",
                             unit="steps") if progress else None
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, cfg.epochs * len(loader)))
             if cfg.lr_schedule == "cosine" else None)
    losses: list[float] = []
    average = AveragedModel(model) if cfg.average_epochs else None
    for epoch in range(cfg.epochs):
        data.set_epoch(epoch)
        model.train()
        total, n, t0 = 0.0, 0, time.perf_counter()
        for dynamic, motion, y in loader:
            dynamic, motion, y = (t.to(device, non_blocking=True) for t in (dynamic, motion, y))
            if cfg.augment:
                dynamic, motion = augment_batch(dynamic, motion, aug_gen, cfg.augment_pose, cfg.augment_photo)
            loss = train_step(model, dynamic, motion, y, opt, loss_fn, dtype, scaler)
            if sched is not None:
                sched.step()
            total += float(loss) * len(y)
            n += len(y)
            if progress:
                rate = n / max(time.perf_counter() - t0, 1e-9)
                progress.update(task, advance=1, info=(
                    f"epoch {epoch + 1}/{cfg.epochs}  loss {total / n:.4f}  {rate:.1f} clips/s"))
        losses.append(total / max(n, 1))
        if average is not None and epoch >= cfg.epochs - cfg.average_epochs:
            average.update_parameters(model)
    if average is not None:
        with torch.no_grad():
            for p, mean in zip(params, (q for q in average.module.parameters() if q.requires_grad)):
                p.copy_(mean)
    if progress:
        progress.remove_task(task)
    return losses


@torch.no_grad()
def predict(model: nn.Module, data: CachedClips, cfg: TrainConfig) -> np.ndarray:
    """Softmax probabilities (N, C)."""
    device = torch.device(cfg.device)
    model.to(device).eval()
    loader = DataLoader(data, batch_size=cfg.batch_size, shuffle=False, num_workers=cfg.workers)
    with autocast(device, amp_dtype(device)):
        out = [torch.softmax(model(d.to(device), m.to(device)).float(), dim=1).cpu() for d, m, _ in loader]
    return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)


