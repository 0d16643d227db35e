"""mpt_live.track_align: the warps of a frame made from its BGRA copy (with_alpha, issue 14) give the faces the BGR
frame gave, to the last bit: the aligned crop, the spotter's grey face, the stabiliser's registration and so every
transform after it. The reference is the same code given the BGR frame (with_alpha the identity), as before."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import read_frames
from mpt_live import track_align
from mpt_live.face import FaceAligner
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
    former = run(frames, fps, lambda f: f, monkeypatch)
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


def test_warps_of_the_bgra_frame_equal_the_bgr_frames_anywhere_on_it(faces_dir) -> None:
    """Random similarities and shears, zooming in and out, reaching past the frame's edges (BORDER_REPLICATE), on
    real frames: the aligned crop and the spotter's face are the BGR frame's, bit for bit."""
    rng = np.random.default_rng(14)
    frames = [read_frames(faces_dir / "videos" / v, 1)[0][0] for v in VIDEOS]
    for frame in frames:
        h, w = frame.shape[:2]
        bgra = with_alpha(frame)
        assert bgra.shape == (h, w, 4) and np.array_equal(bgra[..., :3], frame)
        for _ in range(20):
            s, th = rng.uniform(0.2, 1.5), rng.uniform(-0.5, 0.5)
            m = np.array([[s * np.cos(th), -s * np.sin(th) * rng.uniform(0.8, 1.2), rng.uniform(-w * s, 50)],
                          [s * np.sin(th), s * np.cos(th) * rng.uniform(0.8, 1.2), rng.uniform(-h * s, 50)]])
            m2 = m * rng.uniform(0.9, 1.1)
            for size in (112, 224):
                a = warp_face(frame, None, 1.0, None, None, m, size, m2)
                b = warp_face(bgra, None, 1.0, None, None, m, size, m2)
                assert np.array_equal(a.aligned, b.aligned) and np.array_equal(a.motion, b.motion)


def test_with_alpha_passes_other_images_on() -> None:
    grey = np.zeros((4, 5), np.uint8)
    assert with_alpha(grey) is grey
    bgr = np.arange(60, dtype=np.uint8).reshape(4, 5, 3)
    out = with_alpha(bgr)
    assert out.shape == (4, 5, 4) and np.array_equal(out[..., :3], bgr) and (out[..., 3] == 255).all()
    assert with_alpha(out) is out
