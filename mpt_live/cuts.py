"""Camera cuts and layout changes: which of a frame's faces start a new appearance?

:class:`CutCheck` compares each frame's grey thumbnail (64x36) with the frame before's:

* **The whole frame.** Its mean absolute difference above ``cut`` is an abrupt change of the picture.
* **Each present face** (its box on the thumbnail): the least mean difference of the box's cells over shifts of up to
  :data:`FACE_SHIFT` cells (a face that moves) above ``face_cut`` says that this face's region changed abruptly:
  another person in its place, or the face moved or resized with a layout change.

A change of the whole frame is a **camera cut** (every face starts a new appearance: the tracker re-identifies
them, the session ends their signals and clip buffers) unless a present face's region did not change: then the
picture changed around that face, not for it, as a recorded video call does when a participant's tile appears or
leaves, and only the faces whose regions changed are cut (a *layout change*, counted in ``layouts``; the face that
stayed must cover :data:`STAY_CELLS` cells of the thumbnail, or it is cut with the frame). Before, any
such change was a cut, and a face that stayed exactly where it was lost about a second of predictions (its buffer
restarted). A frame with no face present, or whose every face's region changed (a scene cut, speaker view becoming
gallery view, a shared screen), is a cut as before.

The check is 0.27 ms of CPU a frame on bench/pipeline.py's loop (~7 % of the face stage, thread time on a busy
machine; 0.30-0.32 before the copy below), its largest part the thumbnail's area resize and the copy of the strided
view it reads. That copy takes
each pixel's bytes as one item, and the face test's windows are made by their strides: 0.75-0.80 of the check's CPU
(2 faces; 590x590 and 1280x720 frames, old and new alternating on a loaded machine), the same thumbnails, differences
and decisions. Tried for issue 14 and not kept: the resize from a
contiguous copy of the strided view (the same thumbnail, 1.01 of its CPU, paired); grey before the resize (0.93, but
pixels a grey level off, and the decisions must stay those of tests/test_cuts_exact.py); the area resize in float32,
rounded back (34 against 54 us, the thumbnail 0.84-0.88 of its CPU), which is not the same either: 132 of 2018 frames
of the shared videos got another thumbnail (OpenCV's uint8 area path rounds otherwise); the every-k-th-pixel copy as
``cv2.resize`` INTER_NEAREST at fx = 1/k (12.5 against 25 us, the same pixels on the 153 shapes checked where the
output's size is the copy's), ~0.01 ms a frame for a path that rests on OpenCV's rounding of its scale. Not kept either:
checking every other frame (half the cost). A cut on an unchecked frame would be followed by position (another person
under the ID before) until the next check, and that check compares frames two apart, which differ more within a shot:
on the shared videos a face's region differed up to 16.6 (retalking_3_talking, p99 15.8; 12.4 one frame apart), past
``face_cut`` (16), so the talking face itself would be cut.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

FACE_SHIFT = 2  # thumbnail cells (1/64 of the frame's width) a face may move between frames in the face-cut test
# thumbnail cells a face's box must cover to show that its region stayed through a change of the whole frame (a
# 3x3-cell face: 60 px in 1280x720): a box of a cell or two, compared at 25 shifts, can match by chance across a real
# cut (two dark patches), so a tiny face is cut with the frame as before
STAY_CELLS = 9

Box = tuple[int, int, int, int]


class CutCheck:
    """``check(frame, boxes) -> (cut, IDs of the faces cut)``, once per frame, with the present faces' boxes."""

    def __init__(self, cut: float = 28.0, face_cut: float = 16.0) -> None:
        self.cut_level = cut  # mean |grey difference| of the thumbnails above which the frame changed abruptly
        # the same over a present face's box (least over shifts) above which that face is cut: on the 8 shared videos
        # (a 360 px tile in 1280x720) consecutive frames of one shot differ at most 10.0 there, and one of them put in
        # another's place 23.1 or more (56 pairs; median 39.7)
        self.face_cut_level = face_cut
        self.cuts = 0
        self.face_cuts = 0  # faces cut alone (their region, not the whole frame)
        self.changes: dict[int, float] = {}  # each present face's region change on the latest frame (none on a cut)
        self.layouts = 0  # whole-frame changes that left a present face's region as it was (no cut)
        self.layout = False  # the latest frame was such a layout change
        self._thumb: np.ndarray | None = None
        self._forced = False

    @property
    def thumb(self) -> np.ndarray | None:
        """The latest frame's grey thumbnail (:func:`thumbnail`; None before the first frame)."""
        return self._thumb

    def force(self) -> None:
        """The next frame is a cut whatever it shows (a new segment of the source)."""
        self._forced = True

    def check(self, frame: np.ndarray, boxes: dict[int, Box]) -> tuple[bool, set[int]]:
        """Whether ``frame`` is a camera cut, and else the IDs of ``boxes`` (the faces present until now, by ID) whose
        region changed abruptly since the frame before."""
        grey = thumbnail(frame)
        prev, self._thumb = self._thumb, grey
        forced, self._forced, self.layout = self._forced, False, False
        self.changes.clear()  # updated in place: the tracker's `changes` is this dict
        if forced or prev is None:
            self.cuts += forced
            return forced, set()
        change = {i: face_change(prev, grey, box, frame.shape) for i, box in boxes.items()}
        changed = {i for i, (c, _) in change.items() if c > self.face_cut_level}
        if frame_change(prev, grey) > self.cut_level:
            if not any(i not in changed and cells >= STAY_CELLS for i, (_, cells) in change.items()):
                self.cuts += 1
                return True, set()
            self.layouts, self.layout = self.layouts + 1, True
        self.changes.update((i, c) for i, (c, _) in change.items() if i not in changed)
        self.face_cuts += len(changed)
        return False, changed


def thumbnail(frame: np.ndarray) -> np.ndarray:
    """``frame``'s grey 64x36 thumbnail (uint8), the picture :class:`CutCheck` compares."""
    # every k-th pixel first (a view), then area-averaged: INTER_AREA over the whole frame at a fractional
    # scale cost 2-7 ms per frame, the strided one 0.05-0.3 ms; two frames of one shot stay alike
    sy, sx = max(1, frame.shape[0] // 72), max(1, frame.shape[1] // 128)
    small = cv2.resize(_every(frame, sy, sx), (64, 36), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small


def _every(frame: np.ndarray, sy: int, sx: int) -> np.ndarray:
    """``frame[::sy, ::sx]`` as a contiguous array, the same pixels. A colour frame's pixels are copied as single
    3-byte items (each pixel's bytes viewed as one void item): numpy's copy of the strided view went through its
    3-byte channel axis element by element, 1.5-2x the CPU (80 against 52 us on a 590x590 frame)."""
    view = frame[::sy, ::sx]
    if view.ndim != 3 or view.strides[2] != view.itemsize:
        return view
    pixels = np.ascontiguousarray(frame[::sy].view(np.dtype((np.void, view.shape[2] * view.itemsize)))[:, ::sx, 0])
    return pixels.view(frame.dtype).reshape(view.shape)


def frame_change(prev: np.ndarray, grey: np.ndarray) -> float:
    """The mean |difference| of two thumbnails (:func:`thumbnail`)."""
    return _mean(cv2.sumElems(cv2.absdiff(grey, prev))[0], grey.size)


def face_change(prev: np.ndarray, grey: np.ndarray, box: Box, shape: tuple[int, ...]) -> tuple[float, int]:
    """The least mean |difference| of ``box``'s cells (``box`` on a frame of ``shape``) on two thumbnails
    (:func:`thumbnail`) over shifts of up to ``FACE_SHIFT``, and how many cells the box covers."""
    (th, tw), (h, w) = grey.shape, shape[:2]
    x, y, bw, bh = box
    # plain Python on the single values (np.clip/np.floor on scalars cost more than the rest of the test)
    x0, y0 = min(max(math.floor(x * tw / w), 0), tw - 1), min(max(math.floor(y * th / h), 0), th - 1)
    x1 = min(max(math.ceil((x + bw) * tw / w), x0 + 1), tw)
    y1 = min(max(math.ceil((y + bh) * th / h), y0 + 1), th)
    was = prev[y0:y1, x0:x1].astype(np.int16)
    # every shift of up to FACE_SHIFT cells that stays on the thumbnail, in one pass: the windows of the box's size
    # in its neighbourhood (a view), their |differences| in int16 and the sums per window in int32
    near = grey[max(y0 - FACE_SHIFT, 0):min(y1 + FACE_SHIFT, th), max(x0 - FACE_SHIFT, 0):min(x1 + FACE_SHIFT, tw)]
    near = near.astype(np.int16)
    # the windows by their strides, a view of near's own buffer (sliding_window_view's own checks cost 17 us a face,
    # as_strided's 3.3, this constructor 0.5; the same view: near is a new contiguous array, every window inside it)
    windows = (near.shape[0] - was.shape[0] + 1, near.shape[1] - was.shape[1] + 1) + was.shape
    diff = np.ndarray(windows, near.dtype, near, 0, near.strides * 2) - was
    # summed per window as rows of one 2-D array (diff is a new contiguous array): numpy's reduction over the last two
    # axes of the 4-D one cost 1.2x the test's CPU (41.7 against 34.0 us a face, alternating), the same sums
    sums = np.abs(diff, out=diff).reshape(windows[0] * windows[1], -1).sum(axis=1, dtype=np.int32)
    return _mean(int(sums.min()), was.size), was.size


def _mean(total: float, n: int) -> float:
    """``total / n`` rounded to float32 as the float32 mean of the thumbnails' differences was (the thresholds
    compare the same values as before): ``total`` (a sum of |grey differences|, at most 64*36*255) is exact in both,
    and rounding the float64 quotient to float32 is the correctly rounded float32 quotient (53 >= 2*24 + 2 bits)."""
    return float(np.float32(total / n))
