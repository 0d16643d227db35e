"""mpt_live.track_align and mpt_live.frame_warp: the warps of a frame made from its BGRA copy, converted only where
they read it (with_alpha, issue 14), give the faces the BGR frame gave, to the last bit: the aligned crop, the
spotter's grey face, the stabiliser's registration and so every transform after it. The reference is the same code
given the BGR frame (with_alpha the identity), as before."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import read_frames
from mpt_live import frame_warp, track_align
from mpt_live.face import FaceAligner
from mpt_live.frame_warp import AlphaFrame, linear_warp
from mpt_live.track_align import warp_face, with_alpha

# a talking head (bench/pipeline.py's clip), an expressive face, a 256 px one (upscaled to 224), a wide 640x360 frame
VIDEOS = ["retalking_3_talking.mp4", "liveportrait_d3_expressive.mp4", "paddlegan_fom_dv.mp4",
          "pyfeat_single_face.mp4"]


def run(frames: list[np.ndarray], fps: float, alpha, monkeypatch: pytest.MonkeyPatch) -> list:
    """The session's per-face results (the spotter's face, eyes-mouth alignment, stabilised and tracked between
    detections) with ``alpha`` as the frame's conversion before its warps."""
    monkeypatch.setattr(track_align, "with_alpha", alpha)
    with FaceAligner(motion_crop=True, align="eyes-mouth") as fa:
        return [fa.process(f, i / fps) for i, f in enumerate(frames)]


@pytest.mark.parametrize("video", VIDEOS)
def test_faces_from_the_bgra_frame_equal_the_bgr_frames_on_real_videos(faces_dir, video, monkeypatch) -> None:
    frames, fps = read_frames(faces_dir / "videos" / video, 60)
    former = run(frames, fps, lambda f, alpha=None: f, monkeypatch)
    ours = run(frames, fps, with_alpha, monkeypatch)
    assert [r is None for r in former] == [r is None for r in ours]
    pairs = [(a, b) for a, b in zip(former, ours) if a is not None]
    assert len(pairs) >= 30, f"{video}: a face on {len(pairs)} of {len(frames)} frames"
    assert any(not b.detected for _, b in pairs)  # frames followed by the registration, not detected, are compared
    assert all(b.motion is not None for _, b in pairs)  # the spotter's own warp ran (eyes-mouth)
    for a, b in pairs:
        assert np.array_equal(a.matrix, b.matrix) and np.array_equal(a.smoothed, b.smoothed)
        assert b.aligned.shape == a.aligned.shape and b.aligned.flags.c_contiguous
        assert np.array_equal(a.aligned, b.aligned) and np.array_equal(a.motion, b.motion)


@pytest.mark.parametrize("spare", [frame_warp.SPARE, 0.0])
def test_warps_of_the_bgra_frame_equal_the_bgr_frames_anywhere_on_it(faces_dir, spare, monkeypatch) -> None:
    """Random similarities and shears, zooming in and out, reaching past the frame's edges (BORDER_REPLICATE) or
    wholly off it, on real frames, the BGRA copy made in a buffer of random stale pixels: the aligned crop, the
    spotter's face and the stabiliser's grey crop are the BGR frame's, bit for bit. Also with no spare growth of the
    converted rectangle, so that the rectangle's own bounds (the mapped corners and their margin) are what is tested."""
    monkeypatch.setattr(frame_warp, "SPARE", spare)
    rng = np.random.default_rng(14)
    frames = [read_frames(faces_dir / "videos" / v, 1)[0][0] for v in VIDEOS]
    partial = 0
    for frame in frames:
        h, w = frame.shape[:2]
        for k in range(24):
            s, th = rng.uniform(0.2, 1.5), rng.uniform(-0.5, 0.5)
            m = np.array([[s * np.cos(th), -s * np.sin(th) * rng.uniform(0.8, 1.2), rng.uniform(-w * s, 50)],
                          [s * np.sin(th), s * np.cos(th) * rng.uniform(0.8, 1.2), rng.uniform(-h * s, 50)]])
            if k >= 20:  # wholly off the frame: past each edge
                m[:, 2] += [(3 * w, 0), (-3 * w, 0), (0, 3 * h), (0, -3 * h)][k - 20]
            m2 = m * rng.uniform(0.9, 1.1)
            stale = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
            alpha = AlphaFrame(frame, stale)
            assert alpha.buffer is stale
            for size in (112, 224):
                a = warp_face(frame, None, 1.0, None, None, m, size, m2)
                b = warp_face(alpha, None, 1.0, None, None, m, size, m2)
                assert np.array_equal(a.aligned, b.aligned) and np.array_equal(a.motion, b.motion)
                grey = cv2.cvtColor(linear_warp(frame, m / 2, size // 2), cv2.COLOR_BGR2GRAY)
                assert np.array_equal(grey, cv2.cvtColor(linear_warp(alpha, m / 2, size // 2), cv2.COLOR_BGRA2GRAY))
            partial += alpha.converted < h * w
    assert partial >= 40  # most warps converted only part of the frame (what the comparison is about)


def test_a_near_singular_warp_far_off_the_frame_equals_the_bgr_frames() -> None:
    """A near-singular matrix (determinant ~1e-6) with a translation of 1e5 px: OpenCV's fixed-point coordinates
    saturate and the warp reads where no corner of the output maps; the whole frame is converted then, and the warp
    is the BGR frame's (it differed in about half of such random matrices)."""
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)
    for _ in range(200):
        a, d = rng.uniform(-1e-2, 1e-2, 2)
        b = rng.uniform(-2, 2)
        e = b * d / a * (1 + rng.uniform(-1e-3, 1e-3))
        m = np.array([[a, b, rng.uniform(-2e5, 2e5)], [d, e, rng.uniform(-2e5, 2e5)]])
        alpha = AlphaFrame(frame, rng.integers(0, 256, (360, 640, 4), dtype=np.uint8))
        assert np.array_equal(linear_warp(frame, m, 112), linear_warp(alpha, m, 112)[..., :3])


def test_only_the_face_is_converted_on_the_bench_clip(faces_dir, monkeypatch) -> None:
    """bench/pipeline.py's clip (590x590, a face filling much of it): a tracked frame's three warps convert about
    what they read, well under the whole frame, and the buffer is kept from frame to frame."""
    frames, fps = read_frames(faces_dir / "videos" / VIDEOS[0], 12)
    seen = []
    real = track_align.with_alpha

    def spy(frame, alpha=None):
        seen.append(real(frame, alpha))
        return seen[-1]

    monkeypatch.setattr(track_align, "with_alpha", spy)
    with FaceAligner(motion_crop=True, align="eyes-mouth") as fa:
        for i, f in enumerate(frames):
            assert fa.process(f, i / fps) is not None
    area = frames[0].shape[0] * frames[0].shape[1]
    # a frame per call (a registration that fails is detected and aligned again: a second call)
    assert len(seen) >= len(frames) and all(0 < a.converted < 0.8 * area for a in seen)
    assert len({id(a.buffer) for a in seen}) == 1


def test_with_alpha_passes_other_images_on() -> None:
    for image in (np.zeros((4, 5), np.uint8), np.zeros((4, 5, 4), np.uint8), np.zeros((4, 5, 3), np.float32)):
        assert with_alpha(image) is image
    bgr = np.arange(60, dtype=np.uint8).reshape(4, 5, 3)
    out = with_alpha(bgr)
    assert isinstance(out, AlphaFrame) and out.frame is bgr and out.buffer.shape == (4, 5, 4)


def test_alpha_frame_refuses_what_is_not_a_bgr_frame() -> None:
    with pytest.raises(ValueError, match="uint8 BGR frame"):
        AlphaFrame(np.zeros((4, 5), np.uint8))


def test_two_faces_share_one_buffer_and_keep_their_faces(faces_dir, monkeypatch) -> None:
    """Two people side by side (two shared videos in one frame), tracked at once: their tracks convert the frame into
    one buffer (their face aligner's), each its own part, and every face equals the BGR frame's."""
    from mpt_live.tracks import FaceTracker

    left, fps = read_frames(faces_dir / "videos" / "liveportrait_d6.mp4", 40)
    right, _ = read_frames(faces_dir / "videos" / "liveportrait_d3_expressive.mp4", 40)
    frames = [np.hstack([a, cv2.resize(b, a.shape[1::-1])]) for a, b in zip(left, right)]

    def faces(alpha):
        monkeypatch.setattr(track_align, "with_alpha", alpha)
        with FaceAligner(motion_crop=True, align="eyes-mouth") as fa:
            tracker = FaceTracker(fa, max_faces=2)
            out = [{f.id: f.face for f in tracker.update(f, i / fps)[0]} for i, f in enumerate(frames)]
            buffers = {id(tr.aligner.alpha) for tr in tracker.tracks}
        return out, buffers

    former, _ = faces(lambda f, alpha=None: f)
    ours, buffers = faces(with_alpha)
    assert len(buffers) == 1
    assert sum(len(o) == 2 for o in ours) >= 30
    assert [sorted(a) for a in former] == [sorted(b) for b in ours]
    for a, b in zip(former, ours):
        for i in a:
            assert np.array_equal(a[i].matrix, b[i].matrix)
            assert np.array_equal(a[i].aligned, b[i].aligned) and np.array_equal(a[i].motion, b[i].motion)


def test_random_warps_of_small_frames_read_only_what_was_converted(monkeypatch) -> None:
    """Thousands of random warps (rotations and general matrices, zooms of 1e-3 to 1e3, translations up to 1e6 px,
    float32 and float64) of small frames and crops of wider ones, in a buffer of random stale pixels, with no spare
    growth of the rectangle: each equals the BGR frame's warp, so the rectangle holds every pixel the warp samples
    (its margin of the bilinear neighbours and OpenCV's fixed-point rounding)."""
    monkeypatch.setattr(frame_warp, "SPARE", 0.0)
    rng = np.random.default_rng(1)
    buf = frame_warp.AlphaBuffer()
    for _ in range(1500):
        h, w = (int(v) for v in rng.integers(1, 120, 2))
        frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        if rng.random() < 0.3:  # a crop of a wider frame (not contiguous)
            frame = rng.integers(0, 256, (h, w + 7, 3), dtype=np.uint8)[:, 3:3 + w]
        buf.frame(frame).buffer[...] = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)  # stale pixels
        alpha = buf.frame(frame)
        for _ in range(3):
            size, s, th = int(rng.integers(1, 160)), 10 ** rng.uniform(-3, 3), rng.uniform(0, 2 * np.pi)
            a = (np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]]) if rng.random() < 0.6
                 else rng.normal(size=(2, 2))) * s
            m = np.hstack([a, (rng.normal(size=2) * 10 ** rng.uniform(0, 6))[:, None]])
            m = m.astype(rng.choice([np.float32, np.float64]))
            assert np.array_equal(linear_warp(frame, m, size), alpha.warp(m, size)[..., :3]), (frame.shape, size, m)

