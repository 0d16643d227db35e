"""ClipSpec, time-based sampling and the live ring buffer (mpt_live/clip.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mpt_live.clip import SNAP_S, ClipSpec, FrameRing, clip_rate, interval_times, sample_frames, window_times
from mpt_live.errors import InputError

# ---------------------------------------------------------------- ClipSpec


@pytest.mark.parametrize(
    "spec",
    [
        ClipSpec(),
        ClipSpec(frames=8, window_s=0.5, image_size=32, pyramid_levels=3, attenuate=True),
        ClipSpec(band_hz=(1.0, 3.0), filter_order=2, alpha=5, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),
        ClipSpec(time_base="clip"),
    ],
)
def test_clipspec_json_round_trip(spec: ClipSpec) -> None:
    s = spec.to_json()
    assert json.loads(s) == spec.to_dict()
    back = ClipSpec.from_json(s)
    assert back == spec and hash(back) == hash(spec)
    assert ClipSpec.from_dict(spec.to_dict()) == spec
    assert back.to_json() == s


def test_clipspec_defaults_match_the_paper() -> None:
    spec = ClipSpec()
    assert (spec.frames, spec.image_size, spec.alpha, spec.band_hz) == (16, 224, 20.0, (0.4, 4.0))
    assert spec.time_base == "seconds"
    assert spec.clip_fps == 15.0   # 16 samples from t_end - 1 s to t_end: 15 intervals a second
    assert window_times(10.0, spec)[1] - window_times(10.0, spec)[0] == pytest.approx(1 / spec.clip_fps)


def test_specs_saved_without_a_time_base_keep_the_old_one() -> None:
    """A model exported before ``time_base`` existed has no such key: it keeps the rate it was trained
    with (16 frames a 1 s window = 16 Hz, whatever a clip spans); new specs read the band in seconds."""
    old = {k: v for k, v in ClipSpec().to_dict().items() if k != "time_base"}
    legacy = ClipSpec.from_dict(old)
    assert legacy.time_base == "clip" and legacy.clip_fps == 16.0
    assert ClipSpec.from_json(legacy.to_json()) == legacy          # and stays legacy once it has the key
    with pytest.raises(ValueError, match="time_base"):
        ClipSpec(time_base="frames")


@pytest.mark.parametrize("span, seconds_rate, legacy_rate", [
    (1.0, 15.0, 16.0),      # a clip spanning the live window: exactly the live rate
    (0.25, 60.0, 16.0),     # a 0.25 s ME resampled to 16 frames
    (0.0, 15.0, 16.0),      # onset == offset: no span, the spec's own rate
])
def test_clip_rate(span: float, seconds_rate: float, legacy_rate: float) -> None:
    at = interval_times(3.0, 3.0 + span, 16)
    assert clip_rate(at, ClipSpec()) == pytest.approx(seconds_rate)
    assert clip_rate(at, ClipSpec(time_base="clip")) == legacy_rate
    assert clip_rate(window_times(7.0, ClipSpec()), ClipSpec()) == ClipSpec().clip_fps


def test_clipspec_lists_become_tuples() -> None:
    spec = ClipSpec(band_hz=[0.5, 3.0], mean=[0.4, 0.4, 0.4])  # type: ignore[arg-type]
    assert spec.band_hz == (0.5, 3.0) and spec.mean == (0.4, 0.4, 0.4)
    hash(spec)  # usable as a cache key


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"frames": 1}, "frames"),
        ({"image_size": 8}, "image_size"),
        ({"image_size": 100, "pyramid_levels": 4}, "divisible"),
        ({"window_s": 0}, "window_s"),
        ({"band_hz": (0.0, 4.0)}, "band_hz"),
        ({"band_hz": (4.0, 2.0)}, "band_hz"),
        ({"band_hz": (0.4, 8.0)}, "band_hz"),  # at Nyquist of 16 fps
        ({"frames": 8, "band_hz": (0.4, 4.0)}, "band_hz"),  # 8 fps: Nyquist 4 Hz
        ({"filter_order": 0}, "filter_order"),
        ({"pyramid_levels": 0}, "pyramid_levels"),
        ({"mean": (0.5, 0.5)}, "mean"),
        ({"std": (0.5, 0.0, 0.5)}, "std"),
    ],
)
def test_clipspec_rejects_bad_values(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ClipSpec(**kwargs)


def test_clipspec_from_dict_rejects_unknown_fields() -> None:
    d = ClipSpec().to_dict() | {"fps": 30}
    with pytest.raises(ValueError, match="fps"):
        ClipSpec.from_dict(d)


# ---------------------------------------------------------------- sample times


def test_window_and_interval_times() -> None:
    spec = ClipSpec()
    at = window_times(10.0, spec)
    assert len(at) == 16 and at[0] == pytest.approx(9.0) and at[-1] == 10.0
    np.testing.assert_allclose(interval_times(1.0, 2.0, 5), [1.0, 1.25, 1.5, 1.75, 2.0])
    with pytest.raises(ValueError):
        interval_times(2.0, 1.0, 5)


# ---------------------------------------------------------------- sample_frames


def numbered(n: int, shape: tuple[int, ...] = (2, 3)) -> np.ndarray:
    """Frames whose every pixel equals 10 * the frame index (so interpolation is easy to read)."""
    return (10.0 * np.arange(n, dtype=np.float32)).reshape(-1, *([1] * len(shape))) * np.ones(shape, np.float32)


@pytest.mark.parametrize(
    "times, at, want",
    [
        ([0, 1, 2], [0, 1, 2], [0, 10, 20]),  # on the frames
        ([0, 1, 2], [0.5, 1.25, 1.75], [5, 12.5, 17.5]),  # between
        ([0, 0.1], np.linspace(0, 0.1, 5), [0, 2.5, 5, 7.5, 10]),  # fewer source frames than clip frames
        ([0, 1, 3], [2.0], [15]),  # uneven spacing
        ([5.0], [5.0, 5.0005], [0, 0]),  # one frame: repeated
        ([0, 1, 2], [-0.0005, 2.0005], [0, 20]),  # inside the 1 ms tolerance: clamped
        ([0, 1, 1, 2], [1.0, 1.5], [20, 25]),  # duplicate timestamp: no division by zero
    ],
)
def test_sample_frames_interpolates_by_time(times: list, at: list, want: list) -> None:
    frames = numbered(len(times))
    got = sample_frames(np.array(times, float), frames, np.array(at, float))
    assert got.dtype == np.float32 and got.shape == (len(at), 2, 3)
    np.testing.assert_allclose(got[:, 0, 0], want, atol=1e-5)
    assert np.all(got == got[:, :1, :1])  # every pixel interpolated alike


def test_sample_frames_uint8_images() -> None:
    frames = np.stack([np.zeros((4, 4, 3), np.uint8), np.full((4, 4, 3), 200, np.uint8)])
    got = sample_frames(np.array([0.0, 1.0]), frames, np.array([0.25]))
    assert got.dtype == np.float32
    assert np.all(got == 50.0)


@pytest.mark.parametrize(
    "times, at",
    [
        ([0, 1, 2], [-0.01, 1.0]),  # starts before the first frame
        ([0, 1, 2], [1.0, 2.01]),  # ends after the last frame
        ([0, 1, 2], [2.5, 0.5]),  # unsorted sample times, one out of range
        ([5.0], [4.0, 5.0]),  # one frame, window longer
        ([], [0.0]),  # no frames at all
    ],
)
def test_sample_frames_out_of_range_is_input_error(times: list, at: list) -> None:
    with pytest.raises(InputError):
        sample_frames(np.array(times, float), numbered(len(times)), np.array(at, float))


def test_sample_frames_rejects_mismatched_or_unordered_times() -> None:
    with pytest.raises(ValueError, match="timestamps"):
        sample_frames(np.array([0.0, 1.0]), numbered(3), np.array([0.5]))
    with pytest.raises(ValueError, match="increas"):
        sample_frames(np.array([0.0, 2.0, 1.0]), numbered(3), np.array([0.5]))


# ---------------------------------------------------------------- FrameRing


def test_ring_push_wraps_around_and_keeps_the_newest() -> None:
    ring = FrameRing(4, (2, 2))
    assert len(ring) == 0 and ring.latest_time is None and ring.oldest_time is None
    assert not ring.covers(0, 0)
    for i in range(10):
        ring.push(i * 0.1, np.full((2, 2), i, np.uint8))
        assert len(ring) == min(i + 1, 4)
    times, frames = ring.ordered()
    np.testing.assert_allclose(times, [0.6, 0.7, 0.8, 0.9])
    assert frames[:, 0, 0].tolist() == [6, 7, 8, 9]
    assert ring.latest_time == pytest.approx(0.9) and ring.oldest_time == pytest.approx(0.6)
    assert ring.covers(0.6, 0.9) and not ring.covers(0.5, 0.9) and not ring.covers(0.6, 1.0)
    ring.clear()
    assert len(ring) == 0 and ring.latest_time is None


def test_ring_push_is_constant_time_copy() -> None:
    """push copies into preallocated memory: pushing allocates no frame-sized memory (numpy reports its buffers to
    tracemalloc), and the caller's frame is not kept (changed after the push, the ring's copy is not)."""
    import tracemalloc

    ring = FrameRing(3, (64, 64))
    frame = np.zeros((64, 64), np.uint8)
    ring.push(0.0, frame)
    tracemalloc.start()
    try:
        for i in range(1, 7):
            frame[:] = i
            ring.push(float(i), frame)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < frame.nbytes  # a new buffer, or a copy kept, would hold at least one frame
    frame[:] = 99
    assert ring.ordered()[1][:, 0, 0].tolist() == [4, 5, 6]


def test_ring_rejects_non_increasing_times_and_bad_capacity() -> None:
    ring = FrameRing(4, (1,))
    ring.push(1.0, np.zeros(1))
    with pytest.raises(ValueError, match="increase"):
        ring.push(1.0, np.zeros(1))
    with pytest.raises(ValueError):
        FrameRing(1, (1,))


@pytest.mark.parametrize(
    "fps, capacity, dtype",
    [(30.0, 64, np.uint8), (30.0, 40, np.uint8), (7.0, 16, np.float32), (12.5, 40, np.float32), (16.0, 40, np.float32)],
)
def test_ring_window_equals_sample_frames_on_the_same_data(fps: float, capacity: int, dtype: type) -> None:
    spec = ClipSpec(frames=16, window_s=1.0, image_size=16)
    rng = np.random.default_rng(int(fps * 10) + capacity)
    n = 100
    times = 3.0 + np.arange(n) / fps + rng.uniform(0, 0.2 / fps, n)  # jittered camera clock
    frames = (rng.random((n, 4, 5, 3)) * 255).astype(dtype)
    ring = FrameRing(capacity, (4, 5, 3), dtype=dtype)
    checked = 0
    for i in range(n):
        ring.push(times[i], frames[i])
        for t_end in (times[i], times[i] - 0.013):
            lo = max(0, i + 1 - capacity)
            if ring.covers(t_end - spec.window_s, t_end):
                want = sample_frames(times[lo : i + 1], frames[lo : i + 1], window_times(t_end, spec))
                np.testing.assert_array_equal(ring.window(t_end, spec), want)
                checked += 1
            elif t_end == times[i] and times[lo] > t_end - spec.window_s + 1e-3:
                with pytest.raises(InputError):
                    ring.window(t_end, spec)
    assert checked > 50


@pytest.mark.parametrize("fps", [30.0, 29.97, 60.0, 15.0])
def test_a_window_of_a_steady_source_is_its_frames_themselves(fps: float) -> None:
    """window_times' rounding puts a 15 Hz window's sample times an ulp or so off a 30 fps source's frames (most just
    short of the later frame): each sample is that frame, exactly, not the two frames interpolated by 1 - 1e-15; the
    ring copies out only those frames and hands them over as they are (uint8)."""
    spec = ClipSpec(frames=16, window_s=1.0, image_size=16)
    rng = np.random.default_rng(int(fps))
    times = 12.0 + np.arange(120) / fps
    frames = rng.integers(0, 256, (120, 4, 5, 3), dtype=np.uint8)
    ring = FrameRing(64, (4, 5, 3))
    off = 0
    for i in range(120):
        ring.push(times[i], frames[i])
        if not ring.covers(times[i] - spec.window_s, times[i]):
            continue
        at = window_times(times[i], spec)
        nearest = np.abs(times[:, None] - at[None]).argmin(axis=0)
        off += int(np.sum(times[nearest] != at))
        got = ring.frames_for(times[i], spec)
        if fps in (30.0, 60.0, 15.0):  # every sample on a frame: those frames only, given as they are
            assert len(got.frames) == spec.frames and got.clip() is got.frames and got.clip().dtype == np.uint8
            np.testing.assert_array_equal(got.clip(), frames[nearest])
        np.testing.assert_array_equal(got.clip(), got.sample())  # the same values either way
        np.testing.assert_array_equal(ring.window(times[i], spec),
                                      sample_frames(times[: i + 1], frames[: i + 1], at))
    if fps == 30.0:
        assert off > 100  # the float rounding this is about is there


def test_a_sample_time_snaps_to_a_frame_within_snap_s_only() -> None:
    times = np.array([0.0, 0.1, 0.2])
    frames = np.array([[1e6], [0.0], [1e6]], np.float32)  # a 0 pixel between bright ones shows the smallest weight
    at = np.array([0.1 - SNAP_S / 2, 0.1 + SNAP_S / 2, 0.1 + 4 * SNAP_S, 0.1 + 40 * SNAP_S])
    got = sample_frames(times, frames, at)[:, 0]
    assert got[0] == 0.0 and got[1] == 0.0  # the frame itself, exactly
    # 4 and 40 SNAP_S past the frame: interpolated toward the next frame (weights 4 and 40 SNAP_S / 0.1 s)
    assert got[2] == pytest.approx(1e6 * 4 * SNAP_S / 0.1, rel=1e-3)
    assert got[3] == pytest.approx(1e6 * 40 * SNAP_S / 0.1, rel=1e-3)


def test_ring_window_on_exact_frame_times() -> None:
    """16 fps camera, window ends on a frame: every clip frame is a source frame, bit for bit."""
    spec = ClipSpec(frames=16, window_s=15 / 16, image_size=16)
    ring = FrameRing(32, (3,), dtype=np.float32)
    vals = np.random.default_rng(0).random((40, 3)).astype(np.float32)
    for i in range(40):
        ring.push(i / 16, vals[i])
    np.testing.assert_array_equal(ring.window(39 / 16, spec), vals[24:40])


def test_ring_shorter_than_the_window_is_input_error() -> None:
    ring = FrameRing(20, (2,))  # 20 frames at 30 fps: 0.63 s < 1 s
    for i in range(100):
        ring.push(i / 30, np.zeros(2))
    assert not ring.covers(ring.latest_time - 1.0, ring.latest_time)
    with pytest.raises(InputError, match="not covered"):
        ring.window(ring.latest_time, ClipSpec())


def test_empty_ring_window_is_input_error() -> None:
    with pytest.raises(InputError):
        FrameRing(4, (2,)).window(1.0, ClipSpec())


def test_window_copies_its_frames_and_samples_them_on_first_use() -> None:
    from mpt_live.clip_stream import Window

    spec = ClipSpec(frames=8, window_s=0.5, image_size=16, pyramid_levels=1)
    ring = FrameRing(40, (16, 16, 3))
    rng = np.random.default_rng(3)
    for i in range(30):
        ring.push(i / 25, rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    want = ring.window(29 / 25, spec)
    frames = ring.frames_for(29 / 25, spec)
    for i in range(30, 40):  # the ring moves on; the window's frames were copied out of it
        ring.push(i / 25, np.zeros((16, 16, 3), np.uint8))
    w = Window(29 / 25, 29, None, frames)
    assert len(frames.frames) <= 15 and frames.frames.dtype == np.uint8  # the window's frames only, not the ring
    clip = w.clip
    np.testing.assert_array_equal(clip, want)
    assert w.clip is clip  # sampled once


@pytest.mark.parametrize("fps, warned", [(2.0, True), (7.0, True), (7.5, False), (15.0, False), (0.0, False)])
def test_a_source_far_slower_than_the_clip_rate_is_warned_about(fps, warned):
    spec = ClipSpec()  # 16 frames over 1 s: 15 Hz
    got = spec.rate_warning("v.mp4", fps)
    assert bool(got) is warned
    if warned:
        assert got[0].startswith(f"v.mp4: {fps:g} fps is under half the model's clip rate (15 Hz")
        assert f"about {fps:.0f} real frames" in got[0]


def test_the_session_warns_about_a_slow_source(tmp_path):
    import cv2

    from mpt_live.job import run_job
    from mpt_live.session import SessionConfig
    from mpt_live.sources import VideoFile

    path = tmp_path / "slow.mp4"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 2.0, (64, 48))
    for i in range(6):
        out.write(np.full((48, 64, 3), 40 * i, np.uint8))
    out.release()
    with VideoFile(path) as v:
        s = run_job(v, None, SessionConfig(), None)
    assert any(w.startswith("slow.mp4: 2 fps is under half") or "/slow.mp4: 2 fps is under half" in w
               for w in s["warnings"]), s["warnings"]
