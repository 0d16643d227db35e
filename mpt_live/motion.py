"""Eulerian motion magnification, approximate rank pooling and the model's input tensors.

Magnification (Wu et al., "Eulerian Video Magnification", SIGGRAPH 2012): every frame is split
into a Laplacian pyramid; each level is band-passed in time by a causal Butterworth filter
(``spec.band_hz``, at the clip's sampling rate ``fps``: ``spec.clip_fps`` for the live window,
:func:`mpt_live.clip.clip_rate` for a clip sampled over any other interval, so that with
``spec.time_base`` ``"seconds"`` the band is in Hz of real time), multiplied by a gain and added back. The
filter (:mod:`mpt_live.bandpass`) is a direct-form-II-transposed biquad cascade written as whole-array
operations into preallocated buffers (OpenCV passes), started at the first frame's steady state, so a still
clip gives exactly zero motion.

Pyramid decomposition, temporal filtering and reconstruction are all linear, so ``Magnifier``
filters Gaussian levels and regroups the Laplacian sum (exactly equivalent, see its docstring).
When every level has the same gain (``spec.attenuate`` False) that sum is the band-passed frame
itself and no pyramid is built at all; only per-level gains make the pyramid matter.

Rank pooling, the dynamic image of a clip, is :mod:`mpt_live.rankpool`. ``model_inputs`` (both inputs of the
model) is the one preprocessing function that training and live serving share.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Callable

import numpy as np
import cv2

from .bandpass import Biquads, band_pass
from .clip import ClipSpec
from .rankpool import dynamic_image

# Gain factors applied (with spec.attenuate) to the finest Laplacian level (pixel-scale detail,
# mostly sensor noise) and to the coarsest one (the low-pass residual: illumination and head-pose
# drift). 0.0 follows the reference EVM code (amplify_spatial_lpyr_temporal_butter.m), which
# ignores "the highest and lowest frequency band". With one level there is nothing left to gain.
ATTENUATE_FINEST = 0.0
ATTENUATE_COARSEST = 0.0


def level_gains(spec: ClipSpec) -> np.ndarray:
    """Per-level gains, finest level first: ``spec.alpha`` everywhere, attenuated at the ends."""
    gains = np.full(spec.pyramid_levels, float(spec.alpha))
    if spec.attenuate:
        gains[0] *= ATTENUATE_FINEST
        gains[-1] *= ATTENUATE_COARSEST
    return gains


class Magnifier:
    """Streaming, causal magnifier: push one frame, get its magnified frame.

    ``shape`` is (H, W, 3); frames are BGR (any channel order works) in 0..255, uint8 or float.
    The output at time t depends only on frames pushed up to t. ``fps`` is the rate at which the
    pushed frames were sampled, in frames per second of real time (None: ``spec.clip_fps``, the live
    window's); the band-pass is ``spec.band_hz`` in Hz at that rate. ``filters(sos, shape)`` makes each level's
    temporal filter (:class:`Biquads`; bench/motion.py passes scipy's ``sosfilt`` to compare).

    The result is the Laplacian-pyramid magnification ``x + collapse(gain_i * F(L_i))``, computed
    in an exactly equivalent, cheaper form. F (the temporal filter) commutes with the linear
    per-frame pyramid operations, so F(L_i) = F(G_i) - up(F(G_{i+1})) for Gaussian levels G_i,
    and the sum regroups as ``c_0 F(G_0) + sum_{i>0} c_i up^i(F(G_i))`` with
    c_0 = gain_0, c_i = gain_i - gain_{i-1}. Only Gaussian levels with c_i != 0 are filtered
    (with uniform gains, just the frame itself: plain per-pixel EVM), the band energy is read
    off F(G_0) directly, and one pyrUp chain rebuilds the frame.
    """

    def __init__(self, spec: ClipSpec, shape: tuple[int, int, int], fps: float | None = None,
                 filters: Callable[[np.ndarray, tuple[int, ...]], Biquads] = Biquads) -> None:
        shape = tuple(int(s) for s in shape)
        if len(shape) != 3 or shape[2] != 3 or min(shape[:2]) < 1:
            raise ValueError(f"Magnifier shape must be (H, W, 3), got {shape}")
        self.spec = spec
        self.shape = shape
        self.gains = level_gains(spec)
        self.coefs = np.diff(self.gains, prepend=0.0)  # c_i, see the class docstring
        used = np.flatnonzero(self.coefs)
        self.depth = int(used[-1]) + 1 if len(used) else 1  # Gaussian levels built per frame
        sizes = [shape]
        for _ in range(self.depth - 1):
            h, w, _ = sizes[-1]
            sizes.append(((h + 1) // 2, (w + 1) // 2, 3))
        self._sizes = sizes
        sos, _ = band_pass(spec, fps)
        self._g = [np.zeros(s, np.float32) for s in sizes]  # Gaussian pyramid, g[0] = the frame
        self._acc = [None] + [np.zeros(s, np.float32) for s in sizes[1:]]  # collapse partial sums
        # level 0 is always filtered: its band-pass gives the band energy
        self._filters = {i: filters(sos, sizes[i]) for i in range(self.depth) if i == 0 or self.coefs[i]}
        self._started = False

    def reset(self) -> None:
        """Forget the past: the next frame re-initialises the filter state at its steady state."""
        self._started = False

    def push(self, frame: np.ndarray, out: np.ndarray | None = None,
             energy_map: np.ndarray | None = None) -> tuple[np.ndarray, float]:
        """Magnify the next frame -> (magnified float32 HxWx3, band energy of this frame).

        The band energy is the mean square (0..255 units) of the un-amplified band-passed frame.
        ``out`` (float32 HxWx3, optional) receives the magnified frame instead of a new array;
        ``energy_map`` (float32, optional) accumulates the per-pixel band energy: HxWx3 per
        channel (one pass), or HxW summed over the channels.
        """
        if frame.shape != self.shape:
            raise ValueError(f"Magnifier expects frames of shape {self.shape}, got {frame.shape}")
        if out is None:
            out = np.empty(self.shape, np.float32)
        elif out.shape != self.shape or out.dtype != np.float32 or not out.flags.c_contiguous:
            raise ValueError(f"Magnifier out must be a C-contiguous float32 array of shape {self.shape}")
        g = self._g
        x = _level0(frame, g[0], in_place=self.depth == 1)
        for i in range(1, self.depth):
            cv2.pyrDown(g[i - 1], dst=g[i])
        levels = [x, *g[1:]]
        if not self._started:
            for i, f in self._filters.items():
                f.start(levels[i])
            self._started = True
        bands = {i: f.step(levels[i]) for i, f in self._filters.items()}
        y0 = bands[0]
        energy = float(np.vdot(y0, y0)) / y0.size
        if energy_map is not None:
            if energy_map.ndim == 3:
                cv2.accumulateSquare(y0, energy_map)
            else:
                for c in range(3):
                    yc = y0[..., c]
                    energy_map += yc * yc
        if self.depth == 1:  # uniform gains: the frame plus its amplified band, one pass
            cv2.scaleAdd(y0, float(self.coefs[0]), x, dst=out)
            return out, energy
        # collapse: acc_i = up(acc_{i+1}) + c_i F(G_i), from the deepest level used to the frame
        for i in range(self.depth - 1, -1, -1):
            dst = out if i == 0 else self._acc[i]
            c = float(self.coefs[i])
            if i == self.depth - 1:
                np.multiply(bands[i], c, out=dst)
                continue
            h, w, _ = self._sizes[i]
            cv2.pyrUp(self._acc[i + 1], dst=dst, dstsize=(w, h))
            if c:
                cv2.scaleAdd(bands[i], c, dst, dst=dst)
        out += g[0]
        return out, energy


def _check_clip(clip: np.ndarray, what: str) -> np.ndarray:
    clip = np.asarray(clip)
    if clip.ndim != 4 or clip.shape[-1] != 3 or clip.shape[0] < 1:
        raise ValueError(f"{what}: clip must have shape (T, H, W, 3), got {clip.shape}")
    if not (np.issubdtype(clip.dtype, np.integer) or np.issubdtype(clip.dtype, np.floating)):
        raise ValueError(f"{what}: clip must be a numeric (uint8 or float) array, got dtype {clip.dtype}")
    return clip


SCORE_CELL = 16  # px of a 224 crop: the grid on which motion energy is localised
SCORE_TOP = 0.10  # fraction of the most active cells that make the score


def local_motion_score(energy_map: np.ndarray, frames: int) -> float:
    """Motion score of a clip from its per-pixel band energy (summed over frames and channels).

    The mean square (0..255 units, per channel and frame) of the un-amplified band-passed signal
    in the most active ``SCORE_TOP`` of the face, on a grid of cells of ``SCORE_CELL`` px (scaled
    to the crop size). A micro-expression moves a small part of the face: averaging its energy
    over the whole crop would drown it in sensor noise, so the score looks where the face moves.
    """
    h, w = energy_map.shape
    cell = max(2, int(round(SCORE_CELL * h / 224)))
    gh, gw = h // cell, w // cell
    if gh < 1 or gw < 1:
        return float(energy_map.mean()) / (3 * frames)
    cells = energy_map[: gh * cell, : gw * cell].reshape(gh, cell, gw, cell).mean(axis=(1, 3)).ravel()
    k = max(1, int(round(SCORE_TOP * cells.size)))
    top = np.partition(cells, cells.size - k)[-k:]
    return float(top.mean()) / (3 * frames)


def _level0(frame: np.ndarray, buf: np.ndarray, in_place: bool = True) -> np.ndarray:
    """The float32 frame the level-0 filter reads: ``frame`` itself when it is C-contiguous float32 and ``in_place``
    (nothing is built from it), else ``frame`` copied into ``buf``."""
    if in_place and frame.dtype == np.float32 and frame.flags.c_contiguous:
        return frame
    np.copyto(buf, frame, casting="unsafe")
    return buf


def band_energy(clip: np.ndarray, spec: ClipSpec, fps: float | None = None) -> np.ndarray:
    """The per-pixel band energy of ``clip`` (T, H, W, 3), summed over its frames, per channel: the sum of squares
    of the band-passed frames that :meth:`Magnifier.push` accumulates in ``energy_map``, the same values, without
    the magnified frames. The energy is read off the frame's own band (level 0, whatever the gains), so neither the
    pyramid, the other levels' filters nor the reconstruction are run: a motion-only run's windows (a score each)
    cost ~0.78 of magnifying them in CPU (one filter pass and one accumulation per frame, no output pass and no
    whole-frame energy). Its filter and buffer are the thread's magnifier's (:func:`_magnifier`); uint8 frames are
    filtered as they are (no float copy), frame 0 (its band is exactly 0: the steady state) not at all."""
    mag = _magnifier(spec, clip.shape[1:], fps)
    filt, buf, emap = mag._filters[0], mag._g[0], np.zeros(clip.shape[1:], np.float32)
    direct = clip.dtype in (np.uint8, np.float32) and clip.flags.c_contiguous
    filt.start(clip[0] if direct else _level0(clip[0], buf))
    for t in range(1, clip.shape[0]):
        cv2.accumulateSquare(filt.step(clip[t] if direct else _level0(clip[t], buf)), emap)
    return emap


def channel_sum(energy_map: np.ndarray) -> np.ndarray:
    """(H, W) sum of an (H, W, 3) energy map's channels, the same values as ``energy_map.sum(axis=2)`` (numpy adds
    three items in order, (c0 + c1) + c2, as this does) at ~0.07 of its CPU: numpy's reduction over a short last axis
    took ~0.9 ms a 224 px window (thread time), ~15 % of a motion-only window's score."""
    return energy_map[..., 0] + energy_map[..., 1] + energy_map[..., 2]


_local = threading.local()  # each thread's magnifiers, by (spec, frame shape, rate)


def _magnifier(spec: ClipSpec, shape: tuple[int, ...], fps: float | None) -> Magnifier:
    """This thread's :class:`Magnifier` for ``spec``, ``shape``, ``fps``, reset (magnifies as a new one does), not built
    anew for each window (~0.3 ms, profiled, ~8 % of ``model_inputs`` at 112 px); a few kept (training's many rates)."""
    kept = _local.__dict__.setdefault("magnifiers", {})
    key = (spec, tuple(shape), None if fps is None else float(fps))
    mag = kept.get(key)
    if mag is None:
        if len(kept) >= 8:
            kept.clear()
        mag = kept[key] = Magnifier(spec, shape, fps)
    mag.reset()
    return mag


def _magnify_frames(clip: np.ndarray, spec: ClipSpec, fps: float | None, out: Callable[[int], np.ndarray],
                    each: Callable[[int, np.ndarray], object] | None = None) -> float:
    """Magnify ``clip`` (sampled at ``fps``) frame by frame into ``out(t)`` (then ``each(t, frame)``);
    returns the motion score. One definition for ``magnify_clip`` and ``model_inputs``, so they report the same
    value; ``motion_score`` accumulates the same energy map without magnifying (:func:`band_energy`)."""
    mag = _magnifier(spec, clip.shape[1:], fps)
    emap = np.zeros(clip.shape[1:], np.float32)  # per channel: one accumulateSquare pass a frame
    for t in range(clip.shape[0]):
        frame, _ = mag.push(clip[t], out=out(t), energy_map=emap)
        if each is not None:
            each(t, frame)
    return local_motion_score(channel_sum(emap), clip.shape[0])


def magnify_clip(clip: np.ndarray, spec: ClipSpec, fps: float | None = None) -> tuple[np.ndarray, float]:
    """Magnify a clip (T, H, W, 3), BGR 0..255 -> (magnified float32 (T, H, W, 3), motion_score).

    The filter runs at the clip's rate ``fps`` (None: ``spec.clip_fps``) and starts at frame 0's
    steady state (a still clip gives zero motion). ``motion_score``: see :func:`local_motion_score`.
    """
    clip = _check_clip(clip, "magnify_clip")
    out = np.empty(clip.shape, np.float32)
    return out, _magnify_frames(clip, spec, fps, out.__getitem__)


def motion_score(clip: np.ndarray, spec: ClipSpec, fps: float | None = None) -> float:
    """The motion score of a clip alone (the value ``magnify_clip`` and ``model_inputs`` report), from its
    :func:`band_energy`: no frame is magnified. What a run without a model needs."""
    clip = _check_clip(clip, "motion_score")
    return local_motion_score(channel_sum(band_energy(clip, spec, fps)), clip.shape[0])


@lru_cache(maxsize=16)
def _normaliser(spec: ClipSpec, top: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(matrix, low, high) of ``_normalise_rgb``: a cv2.transform matrix (3, 4) that reverses the
    channels and scales each, x / (top std_c) - mean_c / std_c, and its per-channel output range."""
    scale = np.array([1.0 / (top * s) for s in spec.std])
    shift = -np.array(spec.mean) / np.array(spec.std)
    m = np.zeros((3, 4), np.float32)
    m[[0, 1, 2], [2, 1, 0]] = scale  # output channel c (RGB) is input channel 2 - c (BGR)
    m[:, 3] = shift
    out = m, shift.astype(np.float32)[:, None, None], (top * scale + shift).astype(np.float32)[:, None, None]
    for a in out:  # kept (lru_cache): every window of a spec reads the same three
        a.setflags(write=False)
    return out


def _normalise_rgb(bgr: np.ndarray, norm: tuple[np.ndarray, np.ndarray, np.ndarray], out: np.ndarray,
                   tmp: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 3) BGR in [0, top] -> ``out`` (3, H, W): RGB (clip(x, 0, top) / top - mean) / std.

    Three whole-frame passes: the per-channel affine map (cv2.transform, channels reversed), the
    split into planes and the clip (after the map, to its image of [0, top]: the same values)."""
    m, low, high = norm
    tmp = cv2.transform(bgr, m, dst=tmp)
    cv2.split(tmp, [out[0], out[1], out[2]])
    np.clip(out, low, high, out=out)
    return out


def model_inputs(clip_bgr: np.ndarray, spec: ClipSpec, fps: float | None = None,
                 out: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """THE preprocessing of training and live: aligned clip -> (dynamic, motion, motion_score).

    ``clip_bgr``: (spec.frames, S, S, 3) BGR, uint8 or float in 0..255, S = spec.image_size.
    ``fps``: the clip's sampling rate, frames per second (None: ``spec.clip_fps``, the
    live window's; training passes :func:`mpt_live.clip.clip_rate` of the clip's sample times).
    ``dynamic``: (3, S, S) float32, the rank-pooled clip, RGB, normalised with spec.mean/std.
    ``motion``: (T, 3, S, S) float32, the magnified frames / 255 clipped to [0, 1], RGB,
    normalised with spec.mean/std. ``motion_score``: see ``magnify_clip`` (same value).
    ``out``: float32 arrays of those shapes to write ``dynamic`` and ``motion`` into (e.g. rows of a batch).
    """
    S, T = spec.image_size, spec.frames
    clip = np.asarray(clip_bgr)
    if clip.shape != (T, S, S, 3):
        raise ValueError(
            f"model_inputs: clip must have shape (frames, S, S, 3) = {(T, S, S, 3)} for this ClipSpec, "
            f"got {clip.shape}"
        )
    clip = _check_clip(clip, "model_inputs")
    if out is None:
        out = np.empty((3, S, S), np.float32), np.empty((T, 3, S, S), np.float32)
    elif ((out[0].shape, out[1].shape, out[0].dtype, out[1].dtype) != ((3, S, S), (T, 3, S, S), np.float32, np.float32)
          or not (out[0].flags.c_contiguous and out[1].flags.c_contiguous)):
        raise ValueError(f"model_inputs: out must be contiguous float32 {(3, S, S)} and {(T, 3, S, S)}, "
                         f"got {out[0].dtype} {out[0].shape} and {out[1].dtype} {out[1].shape}")
    dynamic = _normalise_rgb(dynamic_image(clip), _normaliser(spec, 1.0), out[0])
    # magnify_clip, frame by frame straight into the output layout (no clip-sized intermediate)
    frame, tmp = np.empty((S, S, 3), np.float32), np.empty((S, S, 3), np.float32)
    motion = out[1]
    norm = _normaliser(spec, 255.0)
    score = _magnify_frames(clip, spec, fps, lambda t: frame, lambda t, f: _normalise_rgb(f, norm, motion[t], tmp))
    return dynamic, motion, score
