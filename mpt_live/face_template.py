"""The canonical face template and the geometry that maps a face's BlazeFace keypoints onto it.

Template (S = image_size, x right, y down): eye centre at (0.50 S, 0.37 S), inter-ocular distance
0.32 S, eyes level. Nose, mouth and ear positions are the mean BlazeFace layout of frontal faces
(measured on the real media in ../shared/data/faces), in units of the inter-ocular distance.

* :func:`similarity_from_eyes`: the exact similarity that puts the two eyes on their template spots;
* :func:`shape_correction`: then a vertical scale and a shear about the eye line that put the mouth on
  its spot too (``ClipSpec.align = "eyes-mouth"``);
* :class:`ShapeFollower`: one face track's correction over time (first frame, then slowly).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

# Template geometry as fractions of the image size.
EYE_Y = 0.37
EYE_DISTANCE = 0.32
# Mean BlazeFace layout of a frontal face relative to the eye centre, in inter-ocular distances:
# right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion
# (subject's right = image left).
_LAYOUT = np.array(
    [[-0.5, 0.0], [0.5, 0.0], [0.0, 0.58], [0.0, 1.09], [-1.03, 0.26], [1.03, 0.26]], dtype=np.float64
)


def template_keypoints(image_size: int) -> np.ndarray:
    """Canonical (6, 2) BlazeFace keypoints in template pixels for an `image_size` square."""
    centre = np.array([0.5, EYE_Y]) * image_size
    return centre + _LAYOUT * (EYE_DISTANCE * image_size)


@lru_cache(maxsize=16)
def _template_eyes(image_size: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """The template's two eye positions (:func:`template_keypoints`' first two rows), made once per size: remade on
    every call they were 2.8 of the similarity's 4.7 us, on a path that runs for every face on every frame."""
    (u0, v0), (u1, v1) = template_keypoints(image_size)[:2].tolist()
    return (u0, v0), (u1, v1)


def similarity_from_eyes(keypoints: np.ndarray, image_size: int) -> np.ndarray:
    """(2, 3) similarity transform mapping the two eye keypoints onto their template positions."""
    # plain Python on the eight numbers (numpy's small products and np.hstack cost 2.5x: 13 against 5 us a call)
    (x0, y0), (x1, y1) = np.asarray(keypoints, dtype=np.float64)[:2].tolist()
    (u0, v0), (u1, v1) = _template_eyes(image_size)
    sx, sy, dx, dy = x1 - x0, y1 - y0, u1 - u0, v1 - v0
    n = sx * sx + sy * sy
    if n < 1e-12:
        raise ValueError("eye keypoints coincide")
    # complex-number form: z_dst = (a + ib) z_src + t
    a = (sx * dx + sy * dy) / n
    b = (sx * dy - sy * dx) / n
    return np.array([[a, -b, u0 - (a * x0 - b * y0)], [b, a, v0 - (b * x0 + a * y0)]])


_SHAPE_SCALE = (0.75, 1.35)  # bounds of the vertical scale of the eyes-mouth correction
_SHAPE_SHEAR = 0.5           # bound of its shear (mouth offset sideways per unit of eye-to-mouth height)


def shape_params(keypoints: np.ndarray, image_size: int) -> np.ndarray:
    """(vertical scale, shear) of :func:`shape_correction` for these keypoints (bounded; (1, 0) when the
    mouth is not below the eyes)."""
    s = similarity_from_eyes(keypoints, image_size)
    mouth = transform_points(s, np.asarray(keypoints, np.float64)[3:4])[0]
    target = template_keypoints(image_size)[3]
    h = mouth[1] - EYE_Y * image_size
    if h < 1e-6 * image_size:  # mouth at or above the eyes: no usable shape
        return np.array([1.0, 0.0])
    return np.array([np.clip((target[1] - EYE_Y * image_size) / h, *_SHAPE_SCALE),
                     np.clip((target[0] - mouth[0]) / h, -_SHAPE_SHEAR, _SHAPE_SHEAR)])


def shape_matrix(params: np.ndarray, image_size: int) -> np.ndarray:
    """(2, 3) template -> template map of (vertical scale r, shear sh) about the eye line:
    x' = x + sh (y - ey), y' = ey + r (y - ey)."""
    r, sh = float(params[0]), float(params[1])
    ey = EYE_Y * image_size
    return np.array([[1.0, sh, -sh * ey], [0.0, r, ey * (1.0 - r)]])


def shape_correction(keypoints: np.ndarray, image_size: int) -> np.ndarray:
    """(2, 3) template -> template map that, after :func:`similarity_from_eyes`, also brings the mouth
    onto its template spot: a vertical scale and a shear about the eye line (the eyes stay put).

    It undoes what a similarity from the eyes leaves of a face's shape: faces whose mouth sits lower or
    higher relative to their eye distance (people differ by +-15 %; a face turned sideways has its eye
    distance foreshortened, so its mouth lands low), and a mouth off the eyes' midline (yaw)."""
    return shape_matrix(shape_params(keypoints, image_size), image_size)


def compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(2, 3) affine ``a`` after ``b``."""
    out = a[:, :2] @ b  # [A_a A_b, A_a t_b] in one product, then + t_a (np.hstack of two products: 2.3x the CPU)
    out[:, 2] += a[:, 2]
    return out


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine matrix to (N, 2) points."""
    pts = np.asarray(points, dtype=np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]


SHAPE_TAU_S = 10.0  # time constant (s) with which a track's correction follows its face's shape


class ShapeFollower:
    """One face track's eyes-mouth correction over time.

    It starts at the track's first frame's and moves towards each later measurement (frames at time
    ``t``) with time constant ``SHAPE_TAU_S``: measured anew every frame it would follow the mouth's own
    movements (speech, expressions) and cancel part of them; kept for ever it would not follow a head
    that turns. A 0.5 s movement moves it by under 5 % of its extent, a change far below the band that
    magnification amplifies."""

    def __init__(self, image_size: int) -> None:
        self.image_size = int(image_size)
        self.params: np.ndarray | None = None  # (vertical scale, shear)
        self.t = 0.0

    def reset(self) -> None:
        self.params = None

    def update(self, keypoints: np.ndarray, t: float | None) -> np.ndarray:
        """The correction after seeing ``keypoints`` at ``t`` (None: not a measurement, e.g. a followed frame)."""
        if self.params is None:
            self.params, self.t = shape_params(keypoints, self.image_size), t or 0.0
        elif t is not None:
            a = 1.0 - float(np.exp(-max(t - self.t, 0.0) / SHAPE_TAU_S))
            self.params = self.params + a * (shape_params(keypoints, self.image_size) - self.params)
            self.t = t
        return shape_matrix(self.params, self.image_size)

    def inverse(self) -> np.ndarray:
        """(2, 3) template -> template map that undoes the present correction (identity before the first frame)."""
        if self.params is None:
            return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        return cv2.invertAffineTransform(shape_matrix(self.params, self.image_size))
