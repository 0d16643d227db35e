"""Approximate rank pooling: a clip's "dynamic image", the frozen ViT's view of the clip.

Rank pooling (Bilen et al., "Dynamic image networks for action recognition", CVPR 2016) turns a clip into one
image: a fixed weighted sum of its frames whose weights grow with time, so the image shows where and which way
the clip changed. :func:`mpt_live.motion.model_inputs` normalises it for the model.
"""

from __future__ import annotations

import cv2
import numpy as np

# Floor of max|D| in dynamic_image (0..255 intensity x weight units): only guards the division;
# a still clip gives D == 0 exactly, hence a flat 0.5 image.
DYNAMIC_EPS = 1e-3


def rank_pool_coefficients(T: int) -> np.ndarray:
    """Approximate rank pooling weights alpha_t = 2(T-t+1) - (T+1)(H_T - H_{t-1}), t = 1..T.

    H_t are harmonic numbers (H_0 = 0). The weights sum to zero; later frames weigh positive.
    """
    if int(T) != T or T < 1:
        raise ValueError(f"rank pooling needs T >= 1 frames, got {T}")
    T = int(T)
    t = np.arange(1, T + 1, dtype=np.float64)
    H = np.concatenate([[0.0], np.cumsum(1.0 / t)])  # H[k] = H_k
    return 2.0 * (T - t + 1) - (T + 1) * (H[T] - H[:-1])


def dynamic_image(clip: np.ndarray) -> np.ndarray:
    """Rank-pool a clip (T, H, W, C) -> dynamic image (H, W, C) float32 in [0, 1].

    D = sum_t alpha_t * frame_t, scaled as D / (2 max|D|) + 0.5 (max|D| floored at DYNAMIC_EPS).
    Where the clip brightened, D is brighter than 0.5; a still clip gives a flat 0.5.
    """
    clip = np.asarray(clip)
    if clip.ndim != 4 or clip.shape[0] < 1:
        raise ValueError(f"dynamic_image: clip must have shape (T, H, W, C), got {clip.shape}")
    T = clip.shape[0]
    w = rank_pool_coefficients(T)
    if clip.dtype not in (np.uint8, np.float32):
        clip = clip.astype(np.float32)
    # sum(alpha) == 0, so D = sum_t alpha_t (x_t - x_0): same value, but a still clip gives
    # exactly 0. Frame by frame in float32 (two OpenCV passes a frame): no clip-sized temporaries.
    x0 = clip[0]
    d = np.zeros(clip.shape[1:], np.float32)
    diff = np.empty_like(d)
    for t in range(1, T):
        cv2.subtract(clip[t], x0, dst=diff, dtype=cv2.CV_32F)
        cv2.scaleAdd(diff, float(w[t]), d, dst=d)
    d *= 0.5 / max(float(np.abs(d).max()), DYNAMIC_EPS)
    d += 0.5
    np.clip(d, 0.0, 1.0, out=d)  # rounding at +-max|D| could step just outside
    return d
