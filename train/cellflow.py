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


def flow_features(motion: Tensor, cell: int, grid: int | None = None) -> Tensor:
    """:func:`cell_flow` flattened per frame ``(B, T, 2 * g * g)`` and scaled by its RMS over the clip, so
    that the features do not depend on the person's contrast or the magnification (their timing and
    direction stay). ``grid``: average-pooled to ``grid x grid`` cells where the face is not a whole
    number of cells (e.g. 14 cells of a 96 px face are 6.9 px: 16 cells of 6 px, pooled to 14), as
    the energy features are."""
    d = cell_flow(motion, cell)
    if grid is not None and d.shape[-1] != grid:
        b, t = d.shape[:2]
        d = nn.functional.adaptive_avg_pool2d(d.flatten(0, 1), grid).view(b, t, 2, grid, grid)
    f = d.flatten(2)
    rms = f.pow(2).mean(dim=(1, 2), keepdim=True).add(1e-12).sqrt()
    return f / rms
