"""The face stage's warps of one frame (the aligned face, the spotter's face, the stabiliser's grey crop), read from
the frame's BGRA copy, converted only where they read it.

OpenCV's linear warp (``cv2.warpAffine``, ``INTER_LINEAR``, ``BORDER_REPLICATE``) of a 4-channel image costs 0.4-0.5
of a 3-channel one's CPU (OpenCV 5.0: thread time, paired, a 224 px crop of a 590 px frame: 0.22 against 0.51 ms),
and its colour channels are the 3-channel warp's bit for bit: the interpolation is per channel, on the same
coordinates (tests/test_track_align.py compares them on the shared videos). Converting the whole frame to BGRA costs
0.13 ms at 590x590 and 0.9 ms at 1920x1080 (idle machine), more than the three warps save on a 1080p frame (there the
face stage took 14.3 instead of 11.2 ms a frame, paired on a loaded machine; 10.1 with this); so :class:`AlphaFrame`
converts only the rectangle a warp reads (the output's corners mapped back to the frame, with a margin for the
interpolation's neighbours and the fixed-point rounding of its coordinates), into a buffer kept from frame to frame
(:class:`AlphaBuffer`: one per face aligner, shared by its tracks, whose calls come one after another). The rest of
the buffer is stale and never read: a coordinate past the frame's edge reads the edge row or column
(BORDER_REPLICATE), which lies in the rectangle too, since the rectangle is clipped to the frame.

Tried for issue 14 and not kept (2026-12-07, a loaded 2-core EPYC, the same crops): converting only what a later warp
reads outside the rectangles done (up to four strips each), with less or no spare growth. The three warps of a frame
read a union of 135k px on bench/pipeline.py's clip (171k on liveportrait_d3_expressive) where the grown rectangle
converts 188k (209k); strips with no growth converted 136k (173k), with 5 % growth 158k (188k), but the conversions
cost 159-194 us a frame against 174 (116-151 against 108; medians of 3 runs, alternating): thin strips, each its own
call, cost what the spare pixels they save did.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

MARGIN = 3  # px around the mapped corners: the 2x2 neighbours and the warp's 1/32 px fixed-point coordinates
FIXED_POINT_REACH = 2.0 ** 20  # px: a map whose terms reach this far is read from the whole frame (half the 2^21 limit)
SPARE = 0.1  # a converted rectangle is grown by this share of its side, so the frame's next warps fall inside it


def linear_warp(image: np.ndarray | AlphaFrame, matrix: np.ndarray, size: int) -> np.ndarray:
    """``image`` warped by ``matrix`` (2x3, image -> output) to ``size`` x ``size``, linear, edges replicated: BGRA
    from an :class:`AlphaFrame`, else of ``image``'s own channels."""
    if isinstance(image, AlphaFrame):
        return image.warp(matrix, size)
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class AlphaBuffer:
    """The buffer of the AlphaFrames made one after another (a face aligner's tracks, frame after frame): one
    frame-sized BGRA array, not one per track (a tracker keeps its lost tracks for re-identification). Each
    AlphaFrame converts what it reads itself, so what another one left in the buffer is never read."""

    def __init__(self) -> None:
        self.buffer: np.ndarray | None = None

    def frame(self, frame_bgr: np.ndarray) -> AlphaFrame:
        """``frame_bgr`` (uint8 BGR) as an :class:`AlphaFrame` in this buffer; valid until the next call."""
        out = AlphaFrame(frame_bgr, self.buffer)
        self.buffer = out.buffer
        return out


class AlphaFrame:
    """A BGR frame (uint8, H x W x 3) for :func:`linear_warp`: its BGRA copy in ``buffer``, made where warps read.

    ``buffer`` (uint8, H x W x 4) is overwritten where they read (:class:`AlphaBuffer` passes the same one to the
    next frame's AlphaFrame, so a large frame's buffer is not allocated again).
    ``converted`` counts the pixels converted (what the tests check)."""

    def __init__(self, frame: np.ndarray, buffer: np.ndarray | None = None) -> None:
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"AlphaFrame: expected a uint8 BGR frame (H, W, 3), got {frame.dtype} {frame.shape}")
        h, w = frame.shape[:2]
        if buffer is None or buffer.shape != (h, w, 4) or buffer.dtype != np.uint8 or not buffer.flags.c_contiguous:
            buffer = np.empty((h, w, 4), np.uint8)
        self.frame, self.buffer, self.shape = frame, buffer, frame.shape
        self.converted = 0
        self._done: list[tuple[int, int, int, int]] = []  # (x0, y0, x1, y1), end exclusive

    def warp(self, matrix: np.ndarray, size: int) -> np.ndarray:
        """The BGRA warp of the frame (see :func:`linear_warp`), after converting what it reads."""
        self._convert(self._reads(matrix, size))
        return cv2.warpAffine(self.buffer, matrix, (size, size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)

    def _reads(self, matrix: np.ndarray, size: int) -> tuple[int, int, int, int]:
        """The rectangle of the frame that a ``size`` px warp by ``matrix`` reads (clipped to the frame); the whole
        frame for a matrix that cannot be inverted. Plain Python on the six numbers: numpy on them cost more than
        the conversion it saves."""
        h, w = self.shape[:2]
        (a, b, c), (d, e, f) = np.asarray(matrix, np.float64).tolist()
        det = a * e - b * d
        if not (math.isfinite(det) and det != 0.0):
            return 0, 0, w, h
        # the inverse map (output -> frame) of the output's corners, 0 and size - 1 on each axis
        ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
        ic, if_ = -(ia * c + ib * f), -(id_ * c + ie * f)
        n = size - 1
        # OpenCV sums each coordinate's terms in 32-bit fixed point (1/1024 px): past 2^21 px they saturate, and the
        # warp reads where no corner maps (a near-singular matrix far off the frame): the whole frame then
        if max(abs(ic) + (abs(ia) + abs(ib)) * n, abs(if_) + (abs(id_) + abs(ie)) * n) >= FIXED_POINT_REACH:
            return 0, 0, w, h
        xs = (ic, ic + ia * n, ic + ib * n, ic + (ia + ib) * n)
        ys = (if_, if_ + id_ * n, if_ + ie * n, if_ + (id_ + ie) * n)
        lo_x, hi_x, lo_y, hi_y = min(xs), max(xs), min(ys), max(ys)
        if not all(map(math.isfinite, (lo_x, hi_x, lo_y, hi_y))):
            return 0, 0, w, h
        x0, y0 = min(max(math.floor(lo_x) - MARGIN, 0), w), min(max(math.floor(lo_y) - MARGIN, 0), h)
        x1, y1 = min(max(math.ceil(hi_x) + MARGIN + 1, 0), w), min(max(math.ceil(hi_y) + MARGIN + 1, 0), h)
        # wholly outside the frame: every coordinate reads an edge, the nearest row or column of it
        x0, x1 = (w - 1, w) if x0 >= w else (0, 1) if x1 <= 0 else (x0, x1)
        y0, y1 = (h - 1, h) if y0 >= h else (0, 1) if y1 <= 0 else (y0, y1)
        return x0, y0, x1, y1

    def _convert(self, rect: tuple[int, int, int, int]) -> None:
        x0, y0, x1, y1 = rect
        if any(a <= x0 and b <= y0 and x1 <= c and y1 <= d for a, b, c, d in self._done):
            return
        h, w = self.shape[:2]
        mx, my = math.ceil(SPARE * (x1 - x0)), math.ceil(SPARE * (y1 - y0))
        x0, y0, x1, y1 = max(x0 - mx, 0), max(y0 - my, 0), min(x1 + mx, w), min(y1 + my, h)
        dst = self.buffer[y0:y1, x0:x1]
        out = cv2.cvtColor(self.frame[y0:y1, x0:x1], cv2.COLOR_BGR2BGRA, dst=dst)
        if out is not dst and not np.shares_memory(out, dst):  # OpenCV wrote elsewhere: copy it in
            dst[...] = out
        self.converted += (x1 - x0) * (y1 - y0)
        self._done.append((x0, y0, x1, y1))
