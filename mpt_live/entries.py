"""Someone may have entered a 4:3 frame: an early search of its squares (the faces tracker, ``--max-faces`` 2+).

While every face found is followed, the tracker searches a 5:4 or 4:3 frame's squares for new faces only every
:data:`~mpt_live.tiles.SQUARES_EVERY_S` (:func:`mpt_live.tiles.search_every`): a small second person whom only the
squares find, entering just after a search, was found up to 2 s late (issue 12; one the whole frame finds, within
a detector run). :class:`EntryWatch` looks, on each detector run, at the frame's grey thumbnail that the cut check
computes anyway (:func:`mpt_live.cuts.thumbnail`, 64x36): the cells outside the faces' regions (each box widened by
:data:`AROUND` of its size, down to the frame's foot: a talking person's hair, shoulders and hands) that differ from
every cell around them (3x3: a head or a camera that moved by a cell is forgiven) on the thumbnail of the last search
of every square by more than :data:`LEVEL` and have *settled* (changed by at most
:data:`STILL` between detector runs for :data:`SETTLE_S`): something new stands where the squares last saw
something else. :data:`MIN_CELLS` such cells, while fewer than MIN_CELLS cells outside the faces move (someone
still walking in is searched for once they stand), make this detector run search every square at once. The squares'
own cadence goes on as before (an early search does not put it off).

Bounded: a moving background (a screen, a cartoon) never settles; something that keeps changing and settling (a
slide show, a camera pan that stops, a passer-by) gets early searches at least :data:`LEAST_GAP`, then twice that
apart, :data:`IN_A_ROW` (3) at most, then none until :data:`QUIET_S` pass with no settled change. A frame where nothing changes outside the faces searches its squares exactly as before,
and so does a 3:2 or wider one (searched every :data:`~mpt_live.tiles.TILE_EVERY_S` anyway).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .face_confirm import SAME_IOU, iou
from .tiles import SQUARES_EVERY_S, TILE_EVERY_S, search_every

LEVEL = 24  # grey levels a thumbnail cell (a 10x13 px area of 640x480) must differ from the last search's by
STILL = 12  # ... and differ by at most this between detector runs for SETTLE_S to count as settled
SETTLE_S = 0.1
MIN_CELLS = 6  # settled changed cells outside the faces that trigger an early search (a 65 px face covers ~30)
AROUND = 0.5  # a face's region: its box widened by this share of its size on each side and above, and the frame below
LEAST_GAP = TILE_EVERY_S  # s between early searches, doubled by each
IN_A_ROW = 3  # early searches at most, then the squares' own cadence alone until QUIET_S pass
QUIET_S = SQUARES_EVERY_S  # s with no settled change outside the faces that start a new row


class EntryWatch:
    """``due(thumb, boxes, shape, t)`` on each detector run of a frame searched in squares; ``searched(thumb)``
    after each search of every square."""

    def __init__(self) -> None:
        self._ref: tuple[np.ndarray, np.ndarray] | None = None  # the last search's thumbnail: the least and most of
        # each cell's 3x3 neighbourhood (a cell changed where it is out of both by LEVEL: shifts of a cell forgiven)
        self._prev: np.ndarray | None = None  # ... at the last detector run
        self._still = np.zeros((0, 0))  # per cell: since when (s) it changed by at most STILL between runs
        self._row, self._early_t, self._changed_t = 0, -np.inf, -np.inf  # early searches in a row; the last; a change
        self.early = 0  # early searches asked for

    def due(self, thumb: np.ndarray | None, boxes: Sequence[tuple[int, int, int, int]], shape: Sequence[int],
            t: float, ask: bool = True) -> bool:
        """Whether the squares should be searched now (someone may have entered), seeing ``thumb`` (the frame's grey
        thumbnail; None: no check), the faces' ``boxes`` (frame px) on a frame of ``shape`` at ``t`` (s). ``ask``
        False (the tracker: as many faces found as it may track, or the squares searched on their cadence anyway):
        the thumbnail is watched but no early search is asked for or counted."""
        if thumb is None or search_every(shape) <= LEAST_GAP:  # a 3:2 or wider frame: searched that often anyway
            return False
        now = thumb.astype(np.int16)
        if self._prev is None or self._prev.shape != now.shape or not 0 <= t - self._changed_t or t < self._early_t:
            self._prev, self._still = now, np.full(now.shape, t)  # the first run, or time went back
            self.searched(thumb)
            self._row, self._early_t, self._changed_t = 0, -np.inf, t
            return False
        outside = ~faces_mask(boxes, shape, now.shape)
        moving = np.abs(now - self._prev) > STILL
        self._still[moving] = t
        self._prev = now
        changed = (now > self._ref[1] + LEVEL) | (now < self._ref[0] - LEVEL)
        if np.count_nonzero(changed & (t - self._still >= SETTLE_S) & outside) < MIN_CELLS:
            if t - self._changed_t >= QUIET_S:
                self._row = 0
            return False
        self._changed_t = t
        # not while the picture outside the faces moves (someone still walking in, a background that never rests),
        # nor sooner than LEAST_GAP, twice that ... after the last early search, nor more than IN_A_ROW in a row
        if (not ask or np.count_nonzero(moving & outside) >= MIN_CELLS or self._row >= IN_A_ROW
                or t - self._early_t < LEAST_GAP * 2 ** max(self._row - 1, 0)):
            return False
        self._early_t, self._row, self.early = t, self._row + 1, self.early + 1
        return True

    def searched(self, thumb: np.ndarray | None) -> None:
        """Every square was searched on the frame of ``thumb``: changes are measured from it on (the tracker: after
        its cadence's searches, and an early one that found a face (:func:`new_face`); one that found nobody new
        leaves the change to be looked at again, a faint face being found on some searches only)."""
        if thumb is not None:
            near = np.ones((3, 3), np.uint8)
            self._ref = cv2.erode(thumb, near).astype(np.int16), cv2.dilate(thumb, near).astype(np.int16)


def new_face(found: Sequence, known: Sequence[tuple[int, int, int, int]]) -> bool:
    """Whether a search's detections ``found`` hold a face that is none of the ``known`` boxes."""
    return any(all(iou(tuple(d.box), tuple(k)) < SAME_IOU for k in known) for d in found)


def faces_mask(boxes: Sequence[tuple[int, int, int, int]], shape: Sequence[int], cells: tuple[int, ...]) -> np.ndarray:
    """The thumbnail's cells (``cells``: its shape) in the faces' regions (boxes on a frame of ``shape``): each box
    widened by :data:`AROUND` of its size on each side and above, and down to the frame's foot."""
    (th, tw), (h, w) = cells[:2], (int(shape[0]), int(shape[1]))
    mask = np.zeros((th, tw), bool)
    for x, y, bw, bh in boxes:
        x0, x1 = int((x - AROUND * bw) * tw / w), int(np.ceil((x + bw + AROUND * bw) * tw / w))
        mask[max(int((y - AROUND * bh) * th / h), 0):, max(x0, 0):max(x1, 0)] = True
    return mask
