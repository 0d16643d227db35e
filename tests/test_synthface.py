"""Synthetic face animation (mpt_live.synthface) and the bundled demo input (mpt_live.demo_input)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from mpt_live import synthface as sf
from mpt_live.errors import InputError

# a synthetic "face": eyes 56 px apart, level; keypoint order of BlazeFace
KP = np.array([[100, 110], [156, 110], [128, 140], [128, 170], [70, 120], [186, 120]], np.float64)
SHAPE = (256, 256)
FACE = sf.FaceFrame.from_keypoints(KP)


def dot_grid(through: tuple[int, int] = (8, 8), spacing: int = 8, sigma: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    """A uint8 image of small Gaussian dots on a regular grid with a dot at pixel ``through`` (x, y),
    and the dot centres (N, 2)."""
    ys, xs = np.mgrid[0:SHAPE[0], 0:SHAPE[1]].astype(np.float32)
    img = np.zeros(SHAPE, np.float32)
    x0, y0 = through[0] % spacing + spacing, through[1] % spacing + spacing
    centres = np.array([(x, y) for y in range(y0, SHAPE[0] - spacing + 1, spacing)
                        for x in range(x0, SHAPE[1] - spacing + 1, spacing)], np.float32)
    for x, y in centres:
        img += np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2))
    img = np.clip(img * 250, 0, 255).astype(np.uint8)
    return np.dstack([img] * 3), centres


def dot_shifts(before: np.ndarray, after: np.ndarray, centres: np.ndarray, r: int = 3) -> np.ndarray:
    """Centroid shift (N, 2) of every dot between two renderings (intensity-weighted centroid in a
    (2r+1)^2 window that follows the dot: three mean-shift steps)."""
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float64)

    def centroid(im, x, y):
        for _ in range(3):
            cx, cy = int(round(x)), int(round(y))
            w = im[cy - r:cy + r + 1, cx - r:cx + r + 1, 0].astype(np.float64)
            x, y = cx + (w * xx).sum() / w.sum(), cy + (w * yy).sum() / w.sum()
        return np.array([x, y])

    return np.array([centroid(after, x, y) - centroid(before, x, y) for x, y in centres])


def test_time_course_onset_apex_offset():
    t = np.linspace(-1, 2, 3001)
    s = sf.time_course(t, 0.2, 0.35, 0.6)
    assert np.all(s[(t <= 0.2) | (t >= 0.6)] == 0)
    assert sf.time_course(0.35, 0.2, 0.35, 0.6) == pytest.approx(1.0)
    rise, fall = s[(t > 0.2) & (t <= 0.35)], s[(t >= 0.35) & (t < 0.6)]
    assert np.all(np.diff(rise) >= 0) and np.all(np.diff(fall) <= 0)
    assert np.max(np.abs(np.diff(s))) < 0.02  # smooth: no jumps


@pytest.mark.parametrize("action", sorted(sf.ACTIONS))
def test_field_peak_amplitude_and_zero_far_from_site(action):
    f = sf.action_field(SHAPE, FACE, action, 2.5)
    mag = np.hypot(f[..., 0], f[..., 1])
    assert mag.max() == pytest.approx(2.5, rel=1e-5)
    # zero beyond 4 sigma of every bump
    ys, xs = np.mgrid[0:SHAPE[0], 0:SHAPE[1]]
    far = np.ones(SHAPE, bool)
    for b in sf.ACTIONS[action].bumps:
        c = FACE.point(b.anchor, b.offset)
        far &= np.hypot(xs - c[0], ys - c[1]) > 4 * b.sigma * FACE.iod + 1
    assert far.any() and np.all(mag[far] == 0)


@pytest.mark.parametrize("action", ["brow_raise", "lip_corner_pull", "nose_wrinkle", "lip_corners_down",
                                    "jaw_shift_left"])
def test_warped_dot_grid_moves_by_the_field_only_inside_the_event(action):
    ev = sf.Event(action, onset=0.2, apex=0.3, offset=0.5, amplitude=2.0)
    field = sf.action_field(SHAPE, FACE, action, 2.0)
    mag = np.hypot(field[..., 0], field[..., 1])
    py, px = np.unravel_index(np.argmax(mag), mag.shape)
    grid, centres = dot_grid(through=(px, py))  # one dot sits on the field's peak
    anim = sf.FaceAnimator(grid, KP, events=[ev], noise_sigma=0.0)
    for t in (0.0, 0.2, 0.5, 0.9):  # outside (onset, offset): untouched
        assert np.array_equal(anim.render(t, 0), grid)
    shifts = dot_shifts(grid, anim.render(0.3, 0), centres)
    peak = int(np.argmin(np.hypot(centres[:, 0] - px, centres[:, 1] - py)))
    assert np.hypot(*shifts[peak]) == pytest.approx(2.0, abs=0.1)               # apex amplitude
    np.testing.assert_allclose(shifts[peak], field[py, px], atol=0.1)            # and direction
    expected = field[centres[:, 1].astype(int), centres[:, 0].astype(int)]
    assert np.abs(shifts - expected).max() < 0.15                                 # every dot follows the field
    still = np.hypot(*expected.T) == 0
    assert still.sum() > 100 and np.abs(shifts[still]).max() < 1e-6            # far dots do not move
    half = dot_shifts(grid, anim.render(0.25, 0), centres)[peak]                 # half-way up the rise
    np.testing.assert_allclose(half, 0.5 * field[py, px], atol=0.1)


def test_classes_move_different_sites():
    """Each class moves its own anatomy (or the same site in another direction)."""
    fields = {c: sf.action_field(SHAPE, FACE, sf.CLASS_ACTIONS[c][0], 1.0) for c in sf.CLASSES}
    ys, xs = np.mgrid[0:SHAPE[0], 0:SHAPE[1]]
    u, v = FACE.local(xs.astype(np.float32), ys.astype(np.float32), "eyes")
    where = {}
    for c, f in fields.items():
        m = np.hypot(f[..., 0], f[..., 1])
        where[c] = ((m * u).sum() / m.sum(), (m * v).sum() / m.sum(), (m * f[..., 1]).sum() / m.sum())
    assert where["surprise"][1] < -0.2 and where["surprise"][2] < 0                  # above the eyes, up
    assert where["disgust"][1] == pytest.approx(0.65, abs=0.2) and where["disgust"][2] < 0  # nose/upper lip, up
    assert where["happiness"][1] == pytest.approx(1.0, abs=0.15) and where["happiness"][2] < 0  # corners up
    assert where["repression"][1] > 1.0 and where["repression"][2] > 0               # corners down
    for a in sf.CLASSES:
        for b in sf.CLASSES:
            if a < b:
                fa, fb = fields[a].ravel(), fields[b].ravel()
                cos = fa @ fb / np.sqrt((fa @ fa) * (fb @ fb))
                assert cos < 0.3, (a, b, cos)


def test_face_frame_follows_head_roll():
    """A rolled face: sites rotate with the eye line (same anatomy on any face)."""
    a = np.deg2rad(20)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    kp2 = (KP - 128) @ rot.T + 128
    f2 = sf.FaceFrame.from_keypoints(kp2)
    p1 = FACE.point("mouth", (0.4, -0.02))
    p2 = f2.point("mouth", (0.4, -0.02))
    np.testing.assert_allclose(p2, rot @ (p1 - 128) + 128, atol=1e-9)


def test_blink_touches_only_the_eyes_and_reopens():
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 255, (*SHAPE, 3)).astype(np.uint8), (0, 0), 2)
    blink = sf.Blink(0.1, 0.2)
    assert blink.closure(0.1) == 0 and blink.closure(0.3) == 0 and blink.closure(0.18) == 1.0
    anim = sf.FaceAnimator(img, KP, blinks=[blink], noise_sigma=0.0)
    closed = anim.render(0.18, 0).astype(int)
    diff = np.abs(closed - img).max(2)
    ys, xs = np.nonzero(diff > 2)
    assert len(ys) > 50
    d_eye = np.minimum(np.hypot(xs - KP[0, 0], ys - KP[0, 1]), np.hypot(xs - KP[1, 0], ys - KP[1, 1]))
    assert d_eye.max() <= 0.75 * FACE.iod
    assert np.array_equal(anim.render(0.31, 0), img)


def test_render_is_deterministic_with_nuisances():
    grid, _ = dot_grid()

    def make(seed):
        return sf.FaceAnimator(grid, KP, events=[sf.Event("brow_raise", 0.1, 0.2, 0.4, 1.0)],
                               blinks=[sf.Blink(0.3, 0.2)], head=sf.HeadMotion(seed), flicker=sf.Flicker(0.01),
                               noise_sigma=2.0, jpeg_quality=90, seed=seed)

    a, b, c = make(1), make(1), make(2)
    for t, i in ((0.0, 0), (0.2, 6), (0.4, 12)):
        assert np.array_equal(a.render(t, i), b.render(t, i))
        assert not np.array_equal(a.render(t, i), c.render(t, i))
    assert not np.array_equal(a.render(0.0, 0), a.render(0.0, 1))  # fresh noise per frame
    noise = a.render(0.0, 0).astype(float) - sf.FaceAnimator(grid, KP, head=sf.HeadMotion(1), noise_sigma=0).render(0.0, 0)
    assert 1.0 < noise[..., 0].std() < 4.0


def test_head_motion_is_small_and_smooth():
    head = sf.HeadMotion(3, translation_px=1.5, rotation_deg=0.2, scale=0.002)
    p = np.array([head.params(t) for t in np.arange(0, 10, 1 / 30)])
    assert np.all(np.abs(p) <= head.amplitude + 1e-9)
    assert np.abs(p[:, :2]).max() > 0.3  # it does move
    assert np.abs(np.diff(p[:, :2], axis=0)).max() < 0.35  # < 0.35 px per frame at 30 fps


# --------------------------------------------------------------------------- demo input


def test_demo_clip_renders_with_truth(tmp_path):
    from mpt_live.demo_input import render_demo_clip, truth_path

    out = tmp_path / "demo.mp4"
    truth = render_demo_clip(out, seed=0)
    assert json.loads(truth_path(out).read_text()) == truth
    assert truth_path(out).name == "demo.truth.json"
    cap = cv2.VideoCapture(str(out))
    n, shape = 0, None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        n, shape = n + 1, frame.shape
    cap.release()
    assert (n, shape) == (360, (480, 640, 3)) == (truth["frames"], (truth["height"], truth["width"], 3))
    events = truth["events"]
    assert len(events) == 4 and len({e["class"] for e in events}) == 4
    for e, t0 in zip(events, (2.5, 5.0, 7.5, 10.0)):
        assert abs(e["start"] - t0) <= 0.3
        assert 0.3 <= e["end"] - e["start"] <= 0.5 and e["start"] < e["apex"] < e["end"]
        assert 1.0 <= e["amplitude_px"] <= 3.0 and e["class"] in sf.CLASSES
    assert 2 <= len(truth["blinks"]) <= 3
    for b in truth["blinks"]:  # blinks do not overlap the injected movements
        assert all(b["end"] < e["start"] or b["start"] > e["end"] for e in events)


def test_demo_is_deterministic_and_moves_at_the_events():
    from mpt_live.demo_input import demo_animator

    a, ta = demo_animator(0)
    b, tb = demo_animator(0)
    _, tc = demo_animator(1)
    assert ta == tb and ta["events"] != tc["events"]
    e = ta["events"][0]
    assert np.array_equal(a.render(e["apex"], 7), b.render(e["apex"], 7))
    field = a.event_field(e["apex"])
    assert np.hypot(field[..., 0], field[..., 1]).max() == pytest.approx(e["amplitude_px"], rel=1e-3)
    assert not a.event_field(e["start"] - 0.05).any()


def test_demo_from_a_face_photo_frames_the_face_like_the_astronaut(faces_dir, tmp_path):
    from mpt_live.demo_input import FACE_CENTRE, FACE_WIDTH, SIZE, demo_animator, photo_portrait

    photo = faces_dir / "photos" / "face_recognition_rose_leslie.jpg"
    framed = photo_portrait(photo)
    assert framed.shape == (SIZE[1], SIZE[0], 3)
    face = sf.detect_face(framed)
    x, y, w, h = face.box
    assert w / SIZE[0] == pytest.approx(FACE_WIDTH, rel=0.15)
    assert (x + w / 2) / SIZE[0] == pytest.approx(FACE_CENTRE[0], abs=0.05)
    anim, truth = demo_animator(0, photo)
    _, astronaut = demo_animator(0)
    assert photo.name in truth["source"] and truth["events"] == astronaut["events"]  # same movements, another face
    e = truth["events"][0]
    diff = np.abs(anim.render(e["apex"], 3).astype(int) - anim.render(e["start"] - 0.1, 3).astype(int))
    assert diff.max() > 0  # the movement is rendered on the new face


@pytest.mark.parametrize("content, message", [(b"not an image", "not an image file"), (None, "no face found")])
def test_demo_face_bad_photo_is_one_line(tmp_path, content, message):
    from mpt_live.demo_input import render_demo_clip

    photo = tmp_path / "photo.png"
    if content is None:
        cv2.imwrite(str(photo), np.full((240, 320, 3), 128, np.uint8))  # a grey picture: no face
    else:
        photo.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        render_demo_clip(tmp_path / "out" / "demo.mp4", face_photo=photo)
    assert "\n" not in str(info.value) and str(photo) in str(info.value)
    assert not (tmp_path / "out").exists()  # nothing written


def test_a_demo_render_stopped_mid_way_leaves_no_short_clip(tmp_path, monkeypatch):
    """A stop (Ctrl-C, SIGTERM) while --demo rendered its input left a short demo_input.mp4 that looked whole; the
    clip is now made under a temporary name and moved into place only when every frame is written."""
    from mpt_live import demo_input

    real = cv2.VideoWriter

    class Stops:
        def __init__(self, *a):
            self.w, self.n = real(*a), 0

        def isOpened(self):
            return self.w.isOpened()

        def write(self, f):
            self.n += 1
            if self.n > 10:
                raise KeyboardInterrupt
            self.w.write(f)

        def release(self):
            self.w.release()

    monkeypatch.setattr(demo_input.cv2, "VideoWriter", Stops)
    with pytest.raises(KeyboardInterrupt):
        demo_input.render_demo_clip(tmp_path / "demo_input.mp4")
    assert list(tmp_path.iterdir()) == []
