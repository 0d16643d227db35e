"""Calibration clips for static int8: a ``--calib-clips`` folder, or the checkpoint's training clip cache.

The training cache is found from the checkpoint's ``train_config`` (dataset, data root, cache folder,
clip mode) with the same :class:`train.datasets.cache.ClipCache` keys ``mpt-train`` wrote, so only
clips of this model's ClipSpec and training set are used. Where neither is at hand (the dataset
folder has moved, a checkpoint not made by ``mpt-train``), synthetic clips stand in and the log
says so. Calibration clips that are also parity clips are dropped: parity is measured on clips
the quantizer did not see.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mpt_live.clip import ClipSpec
from mpt_live.errors import InputError

from .parity import load_clip_files, load_clips, synthetic_clips

DEFAULT_CALIB_CLIPS = 32
SYNTHETIC_SEED = 1          # the parity check's synthetic clips use seed 0


@dataclass
class Calibration:
    """Calibration clips and where they came from."""

    dynamic: np.ndarray
    motion: np.ndarray
    source: str
    public: str             # ``source`` without this machine's paths: what the model's metadata says
    dropped: int = 0        # clips left out because they are parity clips too

    def line(self) -> str:
        return (f"calibration clips: {len(self.dynamic)} from {self.source}"
                + (f" ({self.dropped} left out: also parity clips)" if self.dropped else ""))


def clip_digests(dynamic: np.ndarray, motion: np.ndarray) -> list[str]:
    """One SHA-1 per clip of its float32 arrays: the same clip read from any file gives the same digest."""
    return [hashlib.sha1(np.ascontiguousarray(d, np.float32).tobytes()
                         + np.ascontiguousarray(m, np.float32).tobytes()).hexdigest()
            for d, m in zip(dynamic, motion)]


def training_cache_files(ckpt: dict[str, Any], checkpoint: str | Path, spec: ClipSpec) -> tuple[list[Path], str]:
    """The cached clip files of a checkpoint's training set, and the cache folder; InputError why not."""
    from train.datasets import load_dataset
    from train.datasets.cache import ClipCache

    cfg = ckpt.get("train_config") or {}
    if not cfg.get("dataset") or not cfg.get("data"):
        raise InputError("the checkpoint names no training dataset (train_config)")
    root = Path(cfg["cache"]) if cfg.get("cache") else Path(checkpoint).resolve().parent.parent / ".cache"
    if not root.is_dir():
        raise InputError(f"training clip cache {root} not found")
    index = load_dataset(cfg["dataset"], Path(cfg["data"]), faces=cfg.get("faces", "align"))
    mode = cfg.get("clip_mode") or ckpt.get("clip_mode") or "paper"
    variants = [0] + (list(range(1, int(cfg.get("jitter_variants", 4)) + 1)) if mode == "window" else [])
    cache = ClipCache(root, spec, mode, cfg.get("sampling", "blend"), index.cropped)
    files: list[Path] = []
    for sample in index.samples:
        try:
            found = [p for p in dict.fromkeys(cache.path(sample, v) for v in variants) if p.is_file()]
        except InputError:          # a frame file of the sample is gone: its key cannot be computed
            continue
        files += found[:1]          # one variant per sample: more samples, not more jitter
    if not files:
        raise InputError(f"training clip cache {root} holds no clips of {cfg['data']} for this ClipSpec")
    return files, str(root)


def calibration_clips(ckpt: dict[str, Any], checkpoint: str | Path, spec: ClipSpec,
                      calib_dir: str | Path | None = None, n: int = DEFAULT_CALIB_CLIPS,
                      parity: tuple[np.ndarray, np.ndarray] | None = None) -> Calibration:
    """Up to ``n`` calibration clips, none of them among the ``parity`` clips.

    From ``calib_dir`` if given (InputError if it holds no usable clips), else from the training
    clip cache, else synthetic. Clips are taken evenly over the sorted files, so that subjects and
    classes mix.
    """
    banned = set(clip_digests(*parity)) if parity is not None else set()
    if calib_dir is not None:
        d = Path(calib_dir)
        files = sorted(d.glob("*.npz")) if d.is_dir() else []
        if not files:
            load_clips(d, spec)     # raises the one-line InputError naming the folder
        source, public = str(calib_dir), f"the clips of a folder named {d.name!r}"
    else:
        try:
            files, root = training_cache_files(ckpt, checkpoint, spec)
            source, public = f"the training clip cache {root}", "the training clip cache"
        except InputError as e:
            files, source = [], f"synthetic clips ({e}; give --calib-clips DIR for real ones)"
            public = "synthetic clips (no training clip cache was found)"
    if files:   # n clips evenly over the files (more, in case some are parity clips), read only those
        pick = np.unique(np.linspace(0, len(files) - 1, min(len(files), n + len(banned))).round().astype(int))
        dyn, mot = load_clip_files([files[i] for i in pick], spec)
    else:
        dyn, mot = synthetic_clips(spec, n, seed=SYNTHETIC_SEED)
    keep = [i for i, h in enumerate(clip_digests(dyn, mot)) if h not in banned]
    dropped = len(dyn) - len(keep)
    if not keep:
        raise InputError(f"{source}: all {len(dyn)} calibration clips are parity clips too; "
                         "calibrate and check on different clips")
    keep = keep[:n] if len(keep) <= n else [keep[i] for i in np.linspace(0, len(keep) - 1, n).round().astype(int)]
    return Calibration(dyn[keep], mot[keep], source, public, dropped)
