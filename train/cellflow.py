"""Signed motion per face cell: Lucas-Kanade displacement of each magnified frame against the clip mean.

The motion-energy prompt features (``|conv|`` per cell, :class:`train.model.MotionPromptGenerator`) say
where on the face and how much something moved, but not which way: a lip corner pulled up (AU12) and
one pulled down (AU15) give the same energy. Their sign cannot come from a linear filter of the
frames alone, because it would follow the polarity of the face's own edges (a dark brow on light skin
or the reverse). The brightness-constancy equation ties the two: with ``R`` the clip's mean frame and
``I_t = frame_t - R``, ``I_t ~ -grad(R) . d`` for a displacement ``d``. Solving it per cell in the
least-squares sense (Lucas-Kanade, one window per cell, Tikhonov-regularised so that flat cells give
~0) gives ``d`` with the sign of the movement whatever the edge polarity.

All of it is convolutions, pooling and arithmetic on tensors, so it exports to ONNX with the model.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from train.config import FLOW_NORMS

_RIDGE = 1e-2  # Tikhonov term, relative to the clip's mean squared gradient


def cell_flow(motion: Tensor, cell: int) -> Tensor:
    """Magnified frames ``(B, T, C, S, S)`` -> per-cell displacement ``(B, T, 2, S/cell, S/cell)``
    (x then y, in pixels of the magnified frames) of each frame relative to the clip's mean frame."""
    gray = motion.mean(dim=2)                                                   # (B, T, S, S)
    ref = gray.mean(dim=1, keepdim=True)                                        # (B, 1, S, S)
    it = gray - ref
    padded = nn.functional.pad(ref, (1, 1, 1, 1), mode="replicate")
    ix = (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]) * 0.5                 # central differences
    iy = (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]) * 0.5

    def pool(x: Tensor) -> Tensor:
        return nn.functional.avg_pool2d(x, cell, cell)

    sxx, syy, sxy = pool(ix * ix), pool(iy * iy), pool(ix * iy)                 # (B, 1, g, g)
    sxt, syt = pool(ix * it), pool(iy * it)                                     # (B, T, g, g)
    lam = _RIDGE * (sxx + syy).mean(dim=(1, 2, 3), keepdim=True) + 1e-8
    a, b, c = sxx + lam, sxy, syy + lam
    det = a * c - b * b
    u = -(c * sxt - b * syt) / det
    v = -(a * syt - b * sxt) / det
    return torch.stack([u, v], dim=2)


def clip_scale(f: Tensor, norm: str = "rms") -> Tensor:
    """The per-clip scale ``(B, 1, 1)`` of displacement features ``f`` ``(B, T, 2 * cells)``.

    ``rms``: their RMS over the whole clip. ``median``: the RMS of the median cell (each cell's mean square
    over the clip's frames and both directions, the median over the cells; the lower median for an even
    count, as :func:`torch.median`). A micro-expression moves a few cells, so the median cell is the clip's
    registration noise and the moving cells stand out by how far they exceed it; with ``rms`` the moving
    cells set the scale, and a still clip's noise is scaled up to the size of a movement."""
    if norm == "rms":
        return f.pow(2).mean(dim=(1, 2), keepdim=True).add(1e-12).sqrt()
    if norm != "median":
        raise ValueError(f"flow norm must be one of {', '.join(FLOW_NORMS)}, got {norm!r}")
    b, t = f.shape[:2]
    cell_ms = f.reshape(b, t, 2, -1).pow(2).mean(dim=(1, 2))                    # (B, cells)
    k = (cell_ms.shape[1] - 1) // 2 + 1                                         # torch.median's lower median,
    med = torch.topk(cell_ms, k, dim=1, largest=False).values[:, -1:]           # as TopK (ONNX has no median)
    return med.add(1e-12).sqrt().unsqueeze(-1)


def flow_features(motion: Tensor, cell: int, grid: int | None = None, norm: str = "rms") -> Tensor:
    """:func:`cell_flow` flattened per frame ``(B, T, 2 * g * g)`` and divided by its per-clip scale
    (:func:`clip_scale`: ``norm`` rms or median), so that the features do not depend on the person's
    contrast or the magnification (their timing and direction stay). ``grid``: average-pooled to
    ``grid x grid`` cells where the face is not a whole number of cells (e.g. 14 cells of a 96 px face are
    6.9 px: 16 cells of 6 px, pooled to 14), as the energy features are."""
    d = cell_flow(motion, cell)
    if grid is not None and d.shape[-1] != grid:
        b, t = d.shape[:2]
        d = nn.functional.adaptive_avg_pool2d(d.flatten(0, 1), grid).view(b, t, 2, grid, grid)
    f = d.flatten(2)
    return f / clip_scale(f, norm)


def motion_summary(motion: Tensor, grid: int = 14) -> Tensor:
    """A clip's fixed motion summary ``(B, g*g + 2*g*g)`` from its magnified frames ``(B, T, C, S, S)``: the
    ``grid x grid`` map of each pixel's temporal standard deviation (grey, average-pooled to the grid) beside
    each cell's signed displacement (:func:`flow_features`, RMS scale) of the middle third of the clip minus
    the mean of its first and last fifths (clips run onset..offset, so the middle holds the apex).

    The linear probe of ``bench/recognition.py`` (``probe-flow``) and the model's ``--head
    cls+prompts+summary`` both compute it here, so the two cannot drift apart."""
    gray = motion.mean(dim=2)                                                   # (B, T, S, S)
    std = (gray - gray.mean(dim=1, keepdim=True)).pow(2).mean(dim=1).sqrt()     # (B, S, S)
    b, t, s = motion.shape[0], motion.shape[1], motion.shape[-1]
    std_map = nn.functional.adaptive_avg_pool2d(std.unsqueeze(1), grid).reshape(b, -1)
    d = flow_features(motion, max(1, s // grid), grid)                           # (B, T, 2*g*g)
    end = max(1, t // 5)
    signed = d[:, t // 3:t - t // 3].mean(1) - 0.5 * (d[:, :end].mean(1) + d[:, -end:].mean(1))
    return torch.cat([std_map, signed], dim=1)
