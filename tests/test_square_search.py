"""A followed face of a 4:3 frame missed by the whole-frame pass: only the square that holds its last box is searched
(mpt_live/tiles.py squares_of), and every square at the squares' own cadence (new faces), with the same tracking."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mpt_live.tiles import SQUARES_EVERY_S, merge_tiles, squares_of, tile_origins
from mpt_live.track_align import TrackAligner
from mpt_live.tracker import DETECT_EVERY
from mpt_live.tracks import CONFIRM_S, FaceTracker
from test_square_looks import _det  # a detection with a face's keypoints in a box

FPS = 30
FRAME = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)  # texture: faces are followed
SIDE, ORIGINS = tile_origins(FRAME.shape)  # 480 px squares at x 0 and 160: the seam is x 160-480


class _Squares:
    """Stands in for FaceAligner: the whole frame shows ``big``; each square shows what of ``small(t)`` lies in it (cut
    at its edges, as a detector sees a face half out of its input), merged by the real merge_tiles; searches counted
    per square."""

    def __init__(self, big, small) -> None:
        self.big, self.small, self.t = big, small, 0.0
        self.searched = {o: 0 for o in ORIGINS}

    def detect(self, frame, t):
        self.t = t
        return [_det(self.big, 0.95)]

    def detect_tiles(self, frame, found, near=()):
        def tile(im):
            x0 = (im.__array_interface__["data"][0] - frame.__array_interface__["data"][0]) // frame.strides[1]
            self.searched[(x0, 0)] += 1
            x, y, w, h = self.small(self.t)
            left, right = max(x, x0), min(x + w, x0 + SIDE)
            return [_det((left - x0, y, right - left, h), 0.9)] if right - left > w / 4 else []
        return merge_tiles(found, frame, tile, squares_of(frame.shape, near) if near else None)

    def track_aligner(self) -> TrackAligner:
        return TrackAligner(image_size=64)


def _run(big, small, seconds: float) -> tuple[_Squares, FaceTracker, list[list[int]]]:
    det = _Squares(big, small)
    tracker = FaceTracker(det, max_faces=2, embedder=None)
    ids = [sorted(f.id for f in tracker.update(FRAME, i / FPS)[0]) for i in range(int(seconds * FPS))]
    return det, tracker, ids


@pytest.mark.parametrize("name, big, small, square", [
    # a small face beside a large one (scratch: a 160 px person beside a 480 px one), well inside the right square
    ("beside", (20, 20, 300, 300), lambda t: (540, 360, 64, 64), (160, 0)),
    # a face on the seam lies whole in both squares: one of them is searched, and it is found there
    ("on the seam", (10, 10, 140, 140), lambda t: (290, 340, 60, 60), (0, 0)),
])
def test_a_missed_followed_face_has_only_its_square_searched(name, big, small, square):
    seconds = 7.0
    det, tracker, ids = _run(big, small, seconds)
    late = math.ceil(CONFIRM_S * FPS) + DETECT_EVERY
    assert ids[late:] == [[0, 1]] * (len(ids) - late), name  # both faces, the same IDs, on every frame
    other = next(o for o in ORIGINS if o != square)
    runs = tracker.detector_runs
    # the face's square on every detector run; the other only at the squares' cadence (new faces), where before
    # (every square on every search) both were searched as often
    assert det.searched[square] >= runs - 1, (name, det.searched, runs)
    assert det.searched[other] <= math.ceil(seconds / SQUARES_EVERY_S) + 1, (name, det.searched)
    assert tracker.tile_searches == det.searched[square]


def test_a_face_moving_across_the_seam_keeps_its_id():
    # 200 px in 7 s (a person leaning over): the searched square follows its last box, from one square to the other
    det, _, ids = _run((10, 10, 140, 140), lambda t: (int(220 + 200 * t / 7), 340, 60, 60), 7.0)
    late = math.ceil(CONFIRM_S * FPS) + DETECT_EVERY
    assert ids[late:] == [[0, 1]] * (len(ids) - late)
    assert all(det.searched[o] > math.ceil(7.0 / SQUARES_EVERY_S) + 1 for o in ORIGINS), det.searched


def test_a_face_without_room_in_one_square_has_them_all_searched():
    assert squares_of(FRAME.shape, [(540, 360, 64, 64)]) == [(160, 0)]
    assert squares_of(FRAME.shape, [(40, 360, 64, 64)]) == [(0, 0)]
    assert squares_of(FRAME.shape, [(540, 360, 64, 64), (40, 360, 64, 64)]) == [(160, 0), (0, 0)]
    assert squares_of(FRAME.shape, [(150, 100, 240, 240)]) is None  # too large to clear an inner edge by its size
    assert squares_of(FRAME.shape, []) is None
