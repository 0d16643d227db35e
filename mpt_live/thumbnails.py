"""Images of what the model sees, for the overlay: its normalised inputs back to BGR uint8.

``to_bgr_uint8`` turns the dynamic image (a normalised (3,S,S) RGB input) into a viewable picture;
``motion_heatmap`` shows where the magnified clip moves. The model worker makes them (only when a
display or a video asks for them), the overlay draws them.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np


def to_bgr_uint8(chw: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """A normalised (3,S,S) RGB model input back to a viewable BGR uint8 image."""
    m = np.asarray(mean, np.float32).reshape(3, 1, 1)
    s = np.asarray(std, np.float32).reshape(3, 1, 1)
    rgb = np.clip(chw * s + m, 0.0, 1.0)
    return np.ascontiguousarray((rgb.transpose(1, 2, 0)[:, :, ::-1] * 255.0).astype(np.uint8))


def motion_heatmap(motion: np.ndarray, std: Sequence[float], size: int = 112, saturate: float = 0.6) -> np.ndarray:
    """Where the magnified clip moves: mean |M_t - M_0| over the window, as a colour map.

    ``motion``: (T,3,S,S) normalised model input (``std``: its normalisation's; the mean cancels in the
    differences). A mean change of ``saturate`` (in units of the 0..1 intensity range, after x alpha
    magnification) is full scale; a still clip is black.
    Magnified sensor noise on a still face is about 0.1, a talking mouth 0.4-0.7."""
    s = np.asarray(std, np.float32).reshape(1, 3, 1, 1)
    step = max(1, motion.shape[-1] // size)
    m = motion[:, :, ::step, ::step] * s  # un-normalised change (the mean cancels in differences)
    d = np.abs(m[1:] - m[:1]).mean(axis=(0, 1))
    u8 = (np.clip(d / saturate, 0.0, 1.0) * 255).astype(np.uint8)
    return cv2.applyColorMap(u8, cv2.COLORMAP_INFERNO)
