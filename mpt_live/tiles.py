"""Face detection in square tiles of a wide (or tall) frame.

BlazeFace sees the whole frame squeezed to its square input (128 px for the short-range model, 192 for
the full-range one). A face that fills a good part of a 4:3 webcam frame is found; the same face in a
frame twice as wide (two people side by side, a 16:9 interview shot, a padded recording) ends up a
dozen pixels wide and squashed, and is missed by both models (measured: a 180 px face, found in a
640x480 frame, is found in none of the frames of the same video padded to 1280x480).

:func:`tile_origins` covers such a frame with squares as tall as its short side, overlapping by half a
square, so any face up to half the short side lies whole in at least one of them;
:func:`merge_tiles` maps each square's detections back to the frame and keeps one detection per face:
a detection touching a square's inner edge is a cut face (the neighbour sees it whole), and of two
detections of one face the stronger stays. The face trackers (:mod:`mpt_live.tracks`,
:meth:`mpt_live.face.FaceAligner.process`) ask for tiles only where the whole-frame pass came up
short, so a frame whose faces are found whole costs nothing more; where it missed only faces the tracker follows,
:func:`squares_of` names the tiles that hold their last boxes, and only those are searched.

Two thresholds of the long side over the short one. :data:`TILED` (1.25, :func:`searched_in_tiles`: 5:4, 4:3 and
wider) decides where the faces tracker (:class:`mpt_live.tracks.FaceTracker`, ``--max-faces`` 2 and more) searches
tiles and where auto's full-range looks in them (:mod:`mpt_live.face_watch`): a small face beside a large one in a 4:3
frame is found in its square, not in the whole frame. :data:`WIDE` (1.5, :func:`is_wide`: 3:2 and wider) decides the
rest: where the one-face path (:meth:`mpt_live.face.FaceAligner.process`) searches tiles, how often the tracker does
(:func:`search_every`), and the square a small face is measured against (:func:`mpt_live.tracks.small_face`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mpt_live.face_types import Detection

WIDE = 1.5  # long side / short side from which a frame is searched in tiles
# ... by the tracker when the whole-frame pass came up short of faces (a face tracked missed, fewer than max_faces
# found): a 4:3 frame's squares see its faces at 4/3 the size the whole frame shows them at. A person 65 px tall (a
# 160 px video) beside a 480 px one in a 640x480 frame (people not in ../shared, issue 12) scored 0.06-0.47
# short-range and 0.12-0.85 full-range on the whole frame, 0.55-0.87 and 0.58-0.96 in its 480 px square
# (bench/detector_scores.py --only squares, README): never tracked before
TILED = 1.25
TILE_EVERY_S = 0.5  # a search for faces not found yet runs at most this often (a missed track: at once)
SQUARES_EVERY_S = 2.0  # ... in a frame under 3:2 (4:3, 5:4), whose squares find only a small face beside a large one
SMALL_SHARE = 0.2  # a face this share of short-range's square input or less (its box side) is at the edge of its range
# a small face is aligned (mpt_live.face.FaceAligner.detect) and embedded (mpt_live.tracks) with the keypoints the run's
# detector finds in a square this many times its size around it, where it fills a third of the detector's input: at
# the edge of its range short-range places them loosely, and SFace scored one face ~140 px tall in a 1920x1080 frame
# 0.03-0.25 (p5, median) against its own views with the frame's keypoints, 0.60-0.71 with the square's (48 views): it
# was split under 4 IDs (issue 12); full-range, on the whole frame, put the eyes of a face ~100 px wide in a 1920x1080
# frame 3-31 px apart where they are ~40 (a recording of a person at a desk: the face aligned wrong, called too small)
CLOSER_SIDE = 3.0
_EDGE = 0.02  # a box this close to a tile's inner edge (fraction of the tile) is a cut face
_SAME = 0.5  # intersection over the smaller box above which two detections are one face
CLEAR = 1.0  # a followed face's square holds its last box with this many box sides to spare on each side (it moves)


def is_wide(shape: Sequence[int]) -> bool:
    """Whether a frame of ``shape`` (h, w, ...) is squeezed enough by the detector to need tiles."""
    h, w = int(shape[0]), int(shape[1])
    return min(h, w) > 0 and max(h, w) / min(h, w) >= WIDE


def searched_in_tiles(shape: Sequence[int]) -> bool:
    """Whether a frame of ``shape`` (h, w, ...) short of faces is searched in tiles by the trackers: its squares show
    its faces larger than the whole frame does (long side at least :data:`TILED` times the short one: 5:4, 4:3 and
    wider; a square frame is its own tile)."""
    h, w = int(shape[0]), int(shape[1])
    return min(h, w) > 0 and max(h, w) / min(h, w) >= TILED


def search_every(shape: Sequence[int]) -> float:
    """How often (s) the trackers search the tiles of a frame of ``shape`` short of faces while every face found is
    followed: :data:`TILE_EVERY_S` from 3:2, :data:`SQUARES_EVERY_S` below (a one-person 640x480 recording spent 12 %
    of the face stage's CPU searching its squares every 0.5 s: ``bench/tiles.py --only webcam``)."""
    return TILE_EVERY_S if is_wide(shape) else SQUARES_EVERY_S


def tile_origins(shape: Sequence[int]) -> tuple[int, list[tuple[int, int]]]:
    """Side and top-left corners of the square tiles covering a frame of ``shape`` (h, w, ...).

    The squares are as big as the short side and step by at most half of it along the long side,
    evenly, the last one flush with the far edge."""
    h, w = int(shape[0]), int(shape[1])
    side, long = min(h, w), max(h, w)
    n = max(1, math.ceil((long - side) / (side / 2)) + 1)
    starts = [round(i * (long - side) / (n - 1)) for i in range(n)] if n > 1 else [0]
    return side, [(s, 0) if w >= h else (0, s) for s in starts]


def squares_of(shape: Sequence[int], boxes: Sequence[tuple[int, int, int, int]]) -> list[tuple[int, int]] | None:
    """The tiles (top-left corners) to search for faces last seen in ``boxes`` (frame px), and no others: for each box
    the tile whose centre is nearest its own among those that hold it with :data:`CLEAR` box sides to spare from
    every inner edge (so a face that moved a little is still whole there, not cut and dropped by
    :func:`merge_tiles`); None (every tile) where a box has no such tile or no box is given. A face on the seam of
    two tiles lies whole in both: one of them is searched."""
    side, origins = tile_origins(shape)
    chosen: list[tuple[int, int]] = []
    for x, y, w, h in boxes:
        cx, cy, r = x + w / 2, y + h / 2, max(w, h) * (0.5 + CLEAR)
        fit = [o for o in origins if _clear(cx, cy, r, o, side, shape)]
        if not fit:
            return None
        best = min(fit, key=lambda o: abs(o[0] + side / 2 - cx) + abs(o[1] + side / 2 - cy))
        if best not in chosen:
            chosen.append(best)
    return chosen or None


def _clear(cx: float, cy: float, r: float, o: tuple[int, int], side: int, shape: Sequence[int]) -> bool:
    """Whether a face centred at ``cx, cy`` with ``r`` px around it clears every inner edge of the tile at ``o``."""
    h, w = int(shape[0]), int(shape[1])
    x0, y0 = o
    return ((x0 == 0 or cx - r >= x0) and (x0 + side >= w or cx + r <= x0 + side)
            and (y0 == 0 or cy - r >= y0) and (y0 + side >= h or cy + r <= y0 + side))


def _cut(box: tuple[int, int, int, int], x0: int, y0: int, side: int, shape: Sequence[int]) -> bool:
    """Whether a box (tile coordinates) touches an edge of its tile that is not an edge of the frame."""
    h, w = int(shape[0]), int(shape[1])
    m = _EDGE * side
    x, y, bw, bh = box
    return ((x <= m and x0 > 0) or (x + bw >= side - m and x0 + side < w)
            or (y <= m and y0 > 0) or (y + bh >= side - m and y0 + side < h))


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over the smaller of two boxes (x, y, w, h): 1 when one holds the other."""
    iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    return iw * ih / max(1, min(a[2] * a[3], b[2] * b[3]))


def merge_tiles(frame_dets: list[Detection], frame: np.ndarray, detect: Callable[[np.ndarray], list[Detection]],
                only: Sequence[tuple[int, int]] | None = None) -> list[Detection]:
    """The whole-frame detections plus the faces found only in the tiles, in frame pixels, largest first.

    ``detect`` runs the detector on one image (a tile) and returns its detections in its own pixels; ``only``: the
    tiles searched (top-left corners, :func:`squares_of`), every tile where None."""
    side, origins = tile_origins(frame.shape)
    origins = origins if only is None else [o for o in origins if o in only]
    found: list[Detection] = []
    for x0, y0 in origins:
        for d in detect(frame[y0:y0 + side, x0:x0 + side]):
            if _cut(d.box, x0, y0, side, frame.shape):
                continue
            found.append(replace(d, box=(d.box[0] + x0, d.box[1] + y0, d.box[2], d.box[3]),
                                 keypoints=d.keypoints + np.array([x0, y0], dtype=np.float64)))
    kept = list(frame_dets)
    for d in sorted(found, key=lambda d: -d.score):
        if all(_overlap(d.box, k.box) < _SAME for k in kept):
            kept.append(d)
    return sorted(kept, key=lambda d: -d.area)


def around(image: np.ndarray, box: tuple[int, int, int, int], k: float) -> tuple[np.ndarray, int, int]:
    """The square ``k`` times a face box's size centred on it (cut at the image's edges), and its top-left corner: a
    detector shown it sees the face as a ``1/k`` share of its input, at any frame size (a small face of a wide
    frame fills a third of it where ``k`` is 3)."""
    x, y, w, h = box
    side = int(max(w, h) * k)
    x0, y0 = max(int(x + w / 2 - side / 2), 0), max(int(y + h / 2 - side / 2), 0)
    return np.ascontiguousarray(image[y0:y0 + side, x0:x0 + side]), x0, y0


def centred_in(d: Detection, x0: int, y0: int, box: tuple[int, int, int, int]) -> bool:
    """Whether detection ``d`` of a square of :func:`around` (corner ``x0, y0``) has its centre in ``box`` (frame px)."""
    x, y, w, h = box
    return x <= x0 + d.box[0] + d.box[2] / 2 <= x + w and y <= y0 + d.box[1] + d.box[3] / 2 <= y + h


def small_face(box: tuple[int, int, int, int], shape: tuple[int, ...]) -> bool:
    """Whether a face's box is at most :data:`SMALL_SHARE` of the square short-range sees it in: a wide frame's tile
    (as tall as the frame's short side: :mod:`mpt_live.tiles`), else the whole frame squeezed to a square."""
    h, w = int(shape[0]), int(shape[1])
    side = min(h, w) if is_wide(shape) else max(h, w)
    return max(box[2], box[3]) <= SMALL_SHARE * side


def small_in_frame(box: tuple[int, int, int, int], shape: tuple[int, ...]) -> bool:
    """Whether a face the detector found in the WHOLE frame is at most :data:`SMALL_SHARE` of the square it squeezes
    that frame into (its long side): its keypoints are loose there. :func:`small_face` measures a wide frame's faces
    against its tiles, where the detector sees them larger; the whole-frame pass sees them squeezed by the long side
    (a 175 px face of a 1280x720 video-call grid, or of two people side by side at 1280x480, had its eyes, nose and
    mouth placed 0.1-0.5 of its eye distance off, 0.02-0.08 close up: its alignment jumped where the whole frame
    and its tile took turns finding it)."""
    return max(box[2], box[3]) <= SMALL_SHARE * max(int(shape[0]), int(shape[1]))


def closer(d: Detection, frame: np.ndarray, detect: Callable[[np.ndarray], list[Detection]]) -> Detection:
    """A small face's detection ``d`` of ``frame`` with the box and keypoints ``detect`` (the detector on one image)
    finds in a square :data:`CLOSER_SIDE` times its size around it (frame pixels; the frame's score kept); ``d``'s own
    where it finds no face centred on ``d``'s box there. Either way marked ``close_up`` (not looked at again)."""
    crop, x0, y0 = around(frame, d.box, CLOSER_SIDE)
    found = [c for c in detect(crop) if centred_in(c, x0, y0, d.box)]
    if not found:
        return replace(d, close_up=True)
    c = max(found, key=lambda c: c.score)
    return replace(d, box=(c.box[0] + x0, c.box[1] + y0, c.box[2], c.box[3]),
                   keypoints=c.keypoints + np.array([x0, y0], dtype=np.float64), close_up=True)
