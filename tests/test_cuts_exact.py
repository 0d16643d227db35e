"""The camera-cut check's cheaper arithmetic (issue 14) gives the same values as the float32 numpy code it replaced,
to the last bit: each face's least mean |difference| over shifts and the whole frame's mean |difference|, and so the
same cut, layout and face-cut decisions. The reference below is that code, kept as it was."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from conftest import read_frames
from mpt_live.cuts import FACE_SHIFT, STAY_CELLS, CutCheck, face_change, frame_change, thumbnail


def _ref_change(prev, grey, box, shape):
    (th, tw), (h, w) = grey.shape, shape[:2]
    x, y, bw, bh = box
    x0, y0 = int(np.clip(np.floor(x * tw / w), 0, tw - 1)), int(np.clip(np.floor(y * th / h), 0, th - 1))
    x1 = int(np.clip(np.ceil((x + bw) * tw / w), x0 + 1, tw))
    y1 = int(np.clip(np.ceil((y + bh) * th / h), y0 + 1, th))
    was = prev[y0:y1, x0:x1]
    near = grey[max(y0 - FACE_SHIFT, 0):min(y1 + FACE_SHIFT, th), max(x0 - FACE_SHIFT, 0):min(x1 + FACE_SHIFT, tw)]
    return float(np.abs(sliding_window_view(near, was.shape) - was).mean(axis=(2, 3)).min()), was.size


class _RefCutCheck:
    """The check before issue 14 (float32 thumbnails), recording each frame's values."""

    def __init__(self, cut=28.0, face_cut=16.0):
        self.cut_level, self.face_cut_level, self._thumb, self.values = cut, face_cut, None, []

    def check(self, frame, boxes):
        sy, sx = max(1, frame.shape[0] // 72), max(1, frame.shape[1] // 128)
        small = cv2.resize(frame[::sy, ::sx], (64, 36), interpolation=cv2.INTER_AREA)
        grey = (cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small).astype(np.float32)
        prev, self._thumb = self._thumb, grey
        if prev is None:
            self.values.append(None)
            return False, set()
        change = {i: _ref_change(prev, grey, box, frame.shape) for i, box in boxes.items()}
        changed = {i for i, (c, _) in change.items() if c > self.face_cut_level}
        whole = float(np.mean(np.abs(grey - prev)))
        self.values.append((whole, change))
        if whole > self.cut_level and not any(i not in changed and cells >= STAY_CELLS
                                              for i, (_, cells) in change.items()):
            return True, set()
        return False, changed


def _random_box(rng, h, w):
    """A box anywhere, partly or wholly off the frame, from a pixel to wider than the frame."""
    bw, bh = int(rng.integers(1, w + 40)), int(rng.integers(1, h + 40))
    return int(rng.integers(-bw - 20, w + 20)), int(rng.integers(-bh - 20, h + 20)), bw, bh


def test_change_equals_the_reference_on_random_thumbnails_and_boxes():
    rng = np.random.default_rng(14)
    edges = [(0, 0, 1, 1), (0, 0, 9999, 9999), (-50, -50, 10, 10), (10**4, 10**4, 5, 5), (0, 0, 640, 360),
             (630, 350, 10, 10), (0, 355, 640, 5), (635, 0, 5, 360),
             (10.5, 3.25, 100.75, 50.5), tuple(np.int32([300, 200, 80, 90])), tuple(np.float64([-3.5, 7.9, 64.2, 1.0]))]
    n = 0
    for k in range(400):
        prev = rng.integers(0, 256, (36, 64), dtype=np.uint8)
        # alike thumbnails (a frame of the same shot, shifted and noisy) and unlike ones
        grey = prev if k % 3 == 0 else rng.integers(0, 256, (36, 64), dtype=np.uint8)
        if k % 3 == 1:
            grey = np.clip(np.roll(prev, (int(rng.integers(-3, 4)), int(rng.integers(-3, 4))), (0, 1)).astype(int)
                           + rng.integers(-20, 21, prev.shape), 0, 255).astype(np.uint8)
        shape = (360, 640, 3) if k % 2 else (int(rng.integers(36, 1100)), int(rng.integers(64, 2000)))
        boxes = edges + [_random_box(rng, *shape[:2]) for _ in range(6)]
        for box in boxes:
            got = face_change(prev, grey, box, shape)
            want = _ref_change(prev.astype(np.float32), grey.astype(np.float32), box, shape)
            assert got == want, (box, shape, got, want)
            assert type(got[0]) is float and type(got[1]) is int
            n += 1
    assert n == 400 * 17


def test_frame_mean_equals_the_float32_mean():
    rng = np.random.default_rng(7)
    for k in range(300):
        a = rng.integers(0, 256, (36, 64), dtype=np.uint8)
        b = a if k == 0 else rng.integers(0, 256, (36, 64), dtype=np.uint8)
        if k % 2:
            b = np.clip(a.astype(int) + rng.integers(-40, 41, a.shape), 0, 255).astype(np.uint8)
        want = float(np.mean(np.abs(a.astype(np.float32) - b.astype(np.float32))))
        assert frame_change(a, b) == want


@pytest.mark.parametrize("levels", [(28.0, 16.0), (4.0, 2.0)])  # the defaults, and low ones that decide often
def test_the_check_decides_and_measures_as_before_on_real_videos(faces_dir, levels):
    videos = sorted((faces_dir / "videos").glob("*.mp4"))[:4]
    assert videos
    # each video's frames in turn (cuts between them), resized to one size, and a frame with one tile changed
    size = (640, 360)
    frames = [cv2.resize(f, size) for v in videos for f in read_frames(v, 40)[0]]
    changed = frames[-1].copy()
    changed[:, 400:] = 240
    frames += [changed, frames[-1]]
    boxes = {0: (200, 60, 220, 260), 1: (0, 0, 30, 30), 2: (600, 330, 60, 60), 3: (420, 100, 200, 200)}
    new, ref = CutCheck(*levels), _RefCutCheck(*levels)
    decisions, prev = [], None
    for k, f in enumerate(frames):
        got, want = new.check(f, boxes), ref.check(f, boxes)
        assert got == want, k
        decisions.append(got[0] or bool(got[1]))
        grey = thumbnail(f)
        if ref.values[-1] is not None:
            whole, change = ref.values[-1]
            assert frame_change(prev, grey) == whole, k
            assert {i: face_change(prev, grey, b, f.shape) for i, b in boxes.items()} == change, k
        prev = grey
    assert any(decisions) and not all(decisions)  # the check decided something both ways


def test_thumbnail_is_the_area_resize_of_the_strided_view(faces_dir):
    """The thumbnail's strided pixels are copied as whole pixels (issue 14): the same picture as OpenCV's resize of
    ``frame[::sy, ::sx]``, on colour frames of several sizes, a grey one, a 4-channel one and a cropped (non-contiguous)
    view."""
    video = sorted((faces_dir / "videos").glob("*.mp4"))[0]
    frame = read_frames(video, 1)[0][0]
    frames = [frame, cv2.resize(frame, (1280, 720)), cv2.resize(frame, (1920, 1080)), cv2.resize(frame, (61, 37)),
              cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA), frame[7:-9, 13:-4],
              frame[::-1, ::-1]]
    for f in frames:
        sy, sx = max(1, f.shape[0] // 72), max(1, f.shape[1] // 128)
        want = cv2.resize(f[::sy, ::sx], (64, 36), interpolation=cv2.INTER_AREA)
        want = cv2.cvtColor(want, cv2.COLOR_BGR2GRAY) if want.ndim == 3 else want
        got = thumbnail(f)
        assert got.dtype == np.uint8 and got.shape == (36, 64)
        assert np.array_equal(got, want), f.shape
