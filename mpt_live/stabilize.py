"""Sub-pixel stabilisation of the aligned face by image registration.

BlazeFace keypoints are accurate to a fraction of a pixel frame to frame, but their error is not
white: as a head drifts slowly, the keypoint error wanders with it, inside the 0.4-4 Hz band that
magnification amplifies 20 times. Measured on the demo clip (head drift 1.2 px, no noise, no
expressions): aligned by smoothed keypoints alone, the band-passed motion energy of the face is
40-90; a frozen transform that does not follow the head at all gives 1-15; keypoints followed by
this registration give 0.2-0.6.

:class:`Stabilizer` refines each keypoint transform with an ECC affine registration
(``cv2.findTransformECC``, Evangelidis & Psarakis 2008) of the half-resolution grey crop against a
reference crop of the same track. The reference is a running average of registered crops with a
time constant of ``tau`` seconds, so slow pose changes are absorbed, while a 0.2-0.5 s micro-
expression barely enters it. The correction is bounded: when registration fails or moves the eyes
more than ``max_shift`` (fraction of the crop size) from where the keypoints put them, the
reference restarts at the current crop.

Between detections (:mod:`mpt_live.tracker`) the registration is the tracker: ``refine(...,
restart=False)`` then reports a failure (None) instead of restarting, also when the registered crop
correlates less than ``min_cc`` with the reference (the face is gone: measured on the shared media,
a face correlates 0.69-1.0 with its reference, median 0.93-0.996 per clip).

ECC stops when an iteration raises the correlation by less than ``ECC_EPS`` (3e-4; at most
``ECC_ITERATIONS``). At the former 1e-4 its result lay 0.06-0.12 px (mean; p95 0.36-0.41 px, 224
template px) from where it converges (1e-5), on the shared talking and expressive clips; at 3e-4 it
lies 0.05 px (mean; p95 0.24-0.30 px) from the 1e-4 result, inside that error, and runs 4.3 instead
of 5.3 iterations a frame (3.7 instead of 5.0 on liveportrait_d6): the registration, 1.3-1.8 ms CPU
a frame on bench/pipeline.py, is the face stage's dearest step
(tests/test_stabilize.py checks both on a real clip).

Tried for issue 14 and not kept: a pyramid (ECC on the 56 px pyrDown level, its result scaled up as the start at
112 px). With one iteration at 112 px it cost 0.79-1.03 of the registration's CPU (paired, thread time) but the
closed loop ended 3.5-3.8 px (mean, 224 template px) from this one's on the talking and expressive clips; iterated
to the same stop at 112 px it cost 1.17-1.64 and still ended 0.2 and 3.1 px away (tolerance: 0.1). A coarser crop
(downscale 3, 74 px; issue 14, not kept): 0.62-0.75 of the registration's CPU, but each registration lies further from
the converged 112 px one than today's stop does (the recorded pairs area-resized to 75 px: mean 0.30 and 0.59 px
against 0.13 and 0.20, p95 0.76 and 1.82 against 0.66 and 0.51, on the talking and expressive clips; one 112 px
iteration after it, 0.14 and 0.37 px, costs 0.92-1.09 of today's), the head-drift band energy (bench/alignment.py
--energy) median 0.18 against 0.16, p95 0.35 against 0.30, and the closed loop ended 1.8-3.8 px (mean) away: most of
that is a restart a frame earlier or later (the reference restarts when the registration moves the probes more than
``max_shift``, every 8-60 frames on those clips: the whole-crop registration slides and rolls away from the eyes as the
head turns, the mouth probe crossing first; docs/spotting.md, 2026-12-07), from where the loop follows other keypoints.

Also tried for issue 14 and not kept (ECC's inputs recorded from a track on retalking_3_talking, 126 calls, and
liveportrait_d3_expressive, 304; CPU by thread time on a loaded machine): ECC's ``gaussFiltSize`` 3 or 1 instead of 5,
OpenCV's default, which that measurement took for the setting in use, but the call below has passed 3 since 3ff6030
(found 2026-12-07): so the figures compare the size in use (3) and 1 with 5: 0.95-1.05 and 1.09-1.18 of 5's CPU (median
of 5 rounds, alternating, two runs: the blur is not where ECC's time goes), and the results 0.13 and 0.28 px (mean, 224
template px) from 5's, 0.17 and 0.31 from the converged one against 5's 0.09. A better starting warp: from the converged result itself ECC stops after 2
iterations instead of 4.2, at 0.51 of the CPU, the most any start can give; the warp that keeps the face where the last
frame's refined transform put it cost 0.82 of the CPU on the talking clip but 1.18 on the expressive one (0.86 and 1.03
extrapolating its last motion), and ended further from the converged result (0.13 and 0.16 px mean against 0.09 and 0.12).
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from mpt_live.frame_warp import AlphaFrame, linear_warp

ECC_ITERATIONS = 30
ECC_EPS = 3e-4  # the least rise of the correlation per iteration (module docstring; was 1e-4)


_ROW = np.array([[0.0, 0.0, 1.0]])  # an affine map's last row (float64: the 3x3 is float64 as np.vstack made it)


def _h(m: np.ndarray) -> np.ndarray:
    """(3, 3) of a (2, 3) affine map (np.concatenate: a third of np.vstack's CPU on these, the same values)."""
    return np.concatenate((m, _ROW))


class Stabilizer:
    def __init__(self, image_size: int, tau: float = 2.0, max_shift: float = 0.06, downscale: int = 2,
                 min_cc: float = 0.5) -> None:
        self.image_size = image_size
        self.min_cc = min_cc
        self.tau = tau
        self.max_shift = max_shift
        self.down = downscale
        self.size = image_size // downscale
        self._scale = np.diag([downscale, downscale, 1.0])
        self._inv_scale = np.diag([1.0 / downscale, 1.0 / downscale, 1.0])
        # eye positions of the template, to bound the correction
        c = image_size / 2.0
        self._probe = np.array([[c - 0.16 * image_size, 0.37 * image_size], [c + 0.16 * image_size, 0.37 * image_size],
                                [c, 0.72 * image_size]])
        self.restarts = 0  # references begun (:meth:`state` exports the one in force, :meth:`restore` brings one back)
        self.reset()

    def reset(self) -> None:
        self._ref: np.ndarray | None = None
        self._warp = np.eye(2, 3, dtype=np.float32)
        self._t = 0.0

    def _grey(self, frame: np.ndarray | AlphaFrame, matrix: np.ndarray) -> np.ndarray:
        # (inv_scale @ _h(matrix))[:2], which is each entry times 1 / downscale plus exact zeros: the same numbers
        small = np.asarray(matrix, np.float64) * self._inv_scale[0, 0]
        crop = linear_warp(frame, small, self.size)
        if crop.ndim == 3:  # BGR, or BGRA (an AlphaFrame's warp: the same grey)
            crop = cv2.cvtColor(crop, cv2.COLOR_BGRA2GRAY if crop.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
        return crop.astype(np.float32)

    def refine(self, frame: np.ndarray | AlphaFrame, matrix: np.ndarray, t: float,
               restart: bool = True) -> np.ndarray | None:
        """The transform ``matrix`` (2x3, frame -> crop) refined against the track's reference.

        When registration fails (or there is no reference yet): with ``restart`` the reference
        restarts at this crop and ``matrix`` is returned as it is; without, None is returned and
        nothing changes (a tracked frame: the caller detects instead)."""
        grey = self._grey(frame, matrix)
        if self._ref is None or t <= self._t:
            return self._restart(grey, t, matrix) if restart else None
        try:
            cc, warp = cv2.findTransformECC(self._ref, grey, self._warp.copy(), cv2.MOTION_AFFINE, (
                cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, ECC_ITERATIONS, ECC_EPS), None, 3)
        except cv2.error:
            return self._restart(grey, t, matrix) if restart else None
        if not restart and not cc >= self.min_cc:  # a tracked frame that no longer looks like the face
            return None
        # warp maps reference coordinates into the current crop: crop'(x) = crop(W x) -> M' = W^-1 M
        w_full = self._scale @ _h(warp.astype(np.float64)) @ self._inv_scale
        # W^-1 of an affine W by OpenCV's closed form (np.linalg.inv of the 3x3 cost 10-30 us a call, this ~2)
        refined = cv2.invertAffineTransform(w_full[:2]) @ _h(matrix)
        moved = np.abs(cv2.transform(self._probe[None], (w_full)[:2])[0] - self._probe).max()
        if not math.isfinite(moved) or moved > self.max_shift * self.image_size:
            return self._restart(grey, t, matrix) if restart else None
        self._warp = warp
        registered = cv2.warpAffine(grey, warp, (self.size, self.size),
                                    flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
        a = 1.0 - math.exp(-(t - self._t) / self.tau)
        cv2.accumulateWeighted(registered, self._ref, a)
        self._t = t
        return refined

    def state(self) -> dict[str, Any] | None:
        """The reference in force (None: none yet): its grey crop (a copy), the warp ECC starts from and its time."""
        if self._ref is None:
            return None
        return {"ref": self._ref.copy(), "warp": self._warp.copy(), "t": self._t}

    def restore(self, ref: np.ndarray, warp: np.ndarray, t: float) -> None:
        """Go on from a reference :meth:`state` exported (``--resume``: the one an earlier run had in force, so
        the crops keep its place); ValueError where its crop is not this stabiliser's size."""
        if ref.shape != (self.size, self.size) or np.shape(warp) != (2, 3):
            raise ValueError(f"a reference of {ref.shape} (warp {np.shape(warp)}), not ({self.size}, {self.size})")
        self._ref, self._warp, self._t = ref.astype(np.float32), np.asarray(warp, np.float32).copy(), float(t)

    def _restart(self, grey: np.ndarray, t: float, matrix: np.ndarray) -> np.ndarray:
        self.restarts += 1
        self._ref = grey.copy()
        self._warp = np.eye(2, 3, dtype=np.float32)
        self._t = t
        return matrix
