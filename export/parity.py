"""Parity of an exported ONNX file with the torch model it came from, on realistic clips.

The ONNX side runs through :class:`mpt_live.runtime.MPTRuntime`, i.e. exactly as ``mpt-live`` will
load it (metadata and input checks included): on the CPU, or with ``device`` ``auto`` on the GPU (the fp16
file of ``mpt-export``'s GPU default, checked where it will run). Figures: the largest absolute
difference of any class probability and the top-1 agreement. Pass marks: fp32 max |dprob|
<= 1e-4; int8 and fp16 top-1 agreement >= 99 % on the clips the torch model decides, and max |dprob|
<= 0.05 on all of them.

A clip is *decided* when the torch model's top two probabilities differ by at least
``TIE_MARGIN``. The others are ties: their top two are closer than int8 or fp16 rounding moves a
probability (max |dprob| ~0.01), so the rounding picks their top-1 either way. Measured on a ViT-Ti/16
MPT trained 2 epochs, 120 held-out clips: static int8 changed the top-1 of 2 clips, whose torch
margins were 0.0035 and 0.0007, and of none of the 107 decided ones. Ties are counted and reported beside the
raw agreement (``Parity.line``), never hidden; the max |dprob| bound keeps a quantized model that
moves every probability from passing on the decided clips alone, and a model that decides fewer
than half the clips (barely trained, or random weights) is judged on all of them.

Clips: by default synthetic ones that look like the real input (a smooth random face-like texture
with a small local deformation that comes and goes, sensor noise), put through the one
preprocessing function :func:`mpt_live.motion.model_inputs`, so the dynamic image and the
magnified motion frames have the statistics of live clips; or your own (``.npz`` files with
``dynamic`` and ``motion`` arrays, as single clips or batches).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from mpt_live.clip import ClipSpec
from mpt_live.errors import InputError, counted
from mpt_live.motion import model_inputs
from mpt_live.runtime import PROVIDER_LABELS, MPTRuntime, usable_cores

FP32_MAX_DPROB = 1e-4
MIN_TOP1_AGREEMENT = 0.99
TIE_MARGIN = 0.02          # top-1 minus top-2 probability of the torch model below which a clip is a tie
QUANT_MAX_DPROB = 0.05     # int8 / fp16: no class probability may move more than this


@dataclass(frozen=True)
class Parity:
    """ONNX vs torch on ``clips`` clips."""

    precision: str
    clips: int
    max_dprob: float
    top1_agreement: float          # over all clips
    decided_agreement: float = 1.0  # over the clips whose torch top-1 margin is >= TIE_MARGIN
    ties: int = 0                  # clips whose torch top-1 margin is < TIE_MARGIN
    batch_error: str = ""          # a dynamic-batch graph that fails at B=1 or B=3
    provider: str = "CPU"          # where ONNX Runtime ran the file (mpt_live.providers.PROVIDER_LABELS)

    @property
    def ok(self) -> bool:
        if self.batch_error:
            return False
        if self.precision == "fp32":
            return self.max_dprob <= FP32_MAX_DPROB and self.top1_agreement >= MIN_TOP1_AGREEMENT
        return self.decided_agreement >= MIN_TOP1_AGREEMENT and self.max_dprob <= QUANT_MAX_DPROB

    def line(self) -> str:
        need = (f"max|dprob| <= {FP32_MAX_DPROB:g}" if self.precision == "fp32"
                else f"top-1 agreement >= {MIN_TOP1_AGREEMENT:.0%} on decided clips, max|dprob| <= {QUANT_MAX_DPROB:g}")
        where = "" if self.provider == "CPU" else f" ({self.provider})"
        decided = ""
        if self.ties and self.precision != "fp32":
            decided = (f", {self.decided_agreement:.1%} on the {self.clips - self.ties} decided "
                       f"({counted(self.ties, 'tie')}: torch top-1 margin < {TIE_MARGIN:g})")
        return (f"{self.precision}{where} parity vs torch on {counted(self.clips, 'clip')}: "
                f"max|dprob| {self.max_dprob:.2e}, "
                f"top-1 agreement {self.top1_agreement:.1%}{decided} ({'ok' if self.ok else 'FAILED'}: need {need})"
                + (f"; {self.batch_error}" if self.batch_error else ""))


def parity_record(checks: list[Parity]) -> str:
    """The ``mpt.parity`` metadata of an exported file: JSON ``{"result": "passed"|"failed", "checks": [...]}``, one
    check per graph compared with torch (fp32 first, then the file's own int8/fp16), each with its figures, so that
    ``mpt-live`` can say that a model it runs failed (:mod:`mpt_live.model_trust`)."""
    rows = [{"precision": p.precision, "result": "passed" if p.ok else "failed", "clips": p.clips,
             "top1_agreement": round(p.top1_agreement, 4), "decided_agreement": round(p.decided_agreement, 4),
             "ties": p.ties, "max_dprob": _finite(p.max_dprob), "provider": p.provider,
             **({"batch_error": p.batch_error} if p.batch_error else {})} for p in checks]
    return json.dumps({"result": "passed" if checks and all(p.ok for p in checks) else "failed", "checks": rows},
                      allow_nan=False)


def _finite(x: float) -> float | None:
    """A figure for JSON, 3 significant digits; None (null) where it is not finite (a graph whose probabilities
    overflowed to NaN), which JSON cannot hold."""
    return float(f"{x:.3g}") if math.isfinite(x) else None


def synthetic_clips(spec: ClipSpec, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` realistic model inputs: (n,3,S,S) dynamic images and (n,T,3,S,S) motion clips."""
    rng = np.random.default_rng(seed)
    S, T = spec.image_size, spec.frames
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32)
    dyn = np.empty((n, 3, S, S), np.float32)
    mot = np.empty((n, T, 3, S, S), np.float32)
    for i in range(n):
        base = cv2.resize(rng.uniform(40, 220, (5, 5, 3)).astype(np.float32), (S, S),
                          interpolation=cv2.INTER_CUBIC)
        base += cv2.GaussianBlur(rng.normal(0, 15, (S, S, 3)).astype(np.float32), (0, 0), max(0.5, S / 150))
        cx, cy = rng.uniform(0.25, 0.75, 2) * S
        sigma = rng.uniform(0.06, 0.2) * S
        bump = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2)).astype(np.float32)
        dx, dy = rng.normal(0, 1, 2) * rng.uniform(0.0, 0.02) * S      # up to ~4 px at 224
        t0, t1 = sorted(rng.uniform(0, 1, 2))
        course = np.clip(np.sin(np.pi * (np.linspace(0, 1, T) - t0) / max(t1 - t0, 0.2)), 0, None)
        frames = np.empty((T, S, S, 3), np.uint8)
        for t in range(T):
            c = float(course[t])
            warped = cv2.remap(base, xx - np.float32(dx * c) * bump, yy - np.float32(dy * c) * bump,
                               cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
            frames[t] = np.clip(warped + rng.normal(0, 2.0, warped.shape), 0, 255).astype(np.uint8)
        dyn[i], mot[i], _ = model_inputs(frames, spec)
    return dyn, mot


def load_clips(directory: str | Path, spec: ClipSpec, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Clips from ``.npz`` files in ``directory`` (arrays ``dynamic`` and ``motion``, batched or not)."""
    d = Path(directory)
    if not d.is_dir():
        raise InputError(f"{d}: {'not a folder' if d.exists() else 'no such folder'} (a folder of .npz clip files, "
                         "each with 'dynamic' and 'motion' arrays)")
    files = sorted(d.glob("*.npz"))
    if not files:
        raise InputError(f"{d}: no .npz clip files (each with 'dynamic' and 'motion' arrays)")
    return load_clip_files(files, spec, limit)


def load_clip_files(files: list[Path], spec: ClipSpec, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Clips from the ``.npz`` ``files`` (see :func:`load_clips`); InputError for one that does not fit ``spec``."""
    S, T = spec.image_size, spec.frames
    dyn, mot = [], []
    for f in files:
        try:
            with np.load(f) as z:
                a, b = np.asarray(z["dynamic"], np.float32), np.asarray(z["motion"], np.float32)
        except Exception as e:
            raise InputError(f"{f}: not a clip file with 'dynamic' and 'motion' arrays ({type(e).__name__})") from None
        if a.shape == (3, S, S):
            a, b = a[None], b[None]
        if a.ndim != 4 or a.shape[1:] != (3, S, S) or b.shape != (len(a), T, 3, S, S):
            raise InputError(f"{f}: clips of shape {a.shape}/{b.shape} do not fit the model's ClipSpec "
                             f"(dynamic (3,{S},{S}), motion ({T},3,{S},{S}))")
        dyn.append(a)
        mot.append(b)
        if limit and sum(map(len, dyn)) >= limit:
            break
    dynamic, motion = np.concatenate(dyn), np.concatenate(mot)
    return (dynamic[:limit], motion[:limit]) if limit else (dynamic, motion)


@torch.inference_mode()
def torch_probs(model: nn.Module, dynamic: np.ndarray, motion: np.ndarray, batch: int = 8) -> np.ndarray:
    """Softmax probabilities of a logits model, fp32 on the CPU, in batches."""
    model.eval()
    out = [torch.softmax(model(torch.from_numpy(dynamic[i:i + batch]), torch.from_numpy(motion[i:i + batch])).float(), -1)
           for i in range(0, len(dynamic), batch)]
    return torch.cat(out).numpy()


def compare(reference: np.ndarray, probs: np.ndarray, precision: str) -> Parity:
    """Parity figures of ``probs`` against ``reference`` (both (N, C))."""
    same = probs.argmax(1) == reference.argmax(1)
    top2 = np.sort(reference, axis=1)[:, -2:] if reference.shape[1] > 1 else np.pad(reference, ((0, 0), (1, 0)))
    decided = top2[:, 1] - top2[:, 0] >= TIE_MARGIN
    if 2 * decided.sum() < len(reference):  # a model that decides few clips is judged on all of them
        decided[:] = True
    return Parity(
        precision=precision,
        clips=len(reference),
        max_dprob=float(np.abs(probs - reference).max()),
        top1_agreement=float(same.mean()),
        decided_agreement=float(same[decided].mean()),
        ties=int((~decided).sum()),
    )


def check_onnx(path: str | Path, dynamic: np.ndarray, motion: np.ndarray, reference: np.ndarray,
               batch: int = 8, device: str = "cpu") -> Parity:
    """Run the ONNX file on the clips through MPTRuntime (``device``; CPU: all cores) and compare to ``reference``.

    A dynamic-batch file is also run with B=1 and B=3, which must give the batched results.
    """
    rt = MPTRuntime(path, device=device, threads=usable_cores())
    probs = np.concatenate([rt.predict(dynamic[i:i + batch], motion[i:i + batch])
                            for i in range(0, len(dynamic), batch)])
    tol = 1e-4 if rt.precision == "fp32" else 5e-2   # int8 scales depend on what else is in the batch
    error = ""
    if rt.batch is None:
        idx = np.arange(3) % len(dynamic)                 # B=1 and B=3, whatever the number of clips
        for b in (1, 3):
            try:
                got = rt.predict(dynamic[idx[:b]], motion[idx[:b]])
            except Exception as e:   # ONNX Runtime rejects the shape: the batch axis is not really dynamic
                error = f"dynamic batch broken: B={b} fails ({str(e).splitlines()[0][:200]})"
                break
            if got.shape != (b, len(rt.classes)) or not np.allclose(got, probs[idx[:b]], atol=tol):
                error = f"dynamic batch broken: B={b} gives {got.shape} or results unlike the batched run"
                break
    return dataclasses.replace(compare(reference, probs, rt.precision), batch_error=error,
                               provider=PROVIDER_LABELS.get(rt.provider, rt.provider))
