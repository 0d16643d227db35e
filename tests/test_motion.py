"""Magnification, rank pooling and model_inputs (mpt_live/motion.py)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
from scipy import signal

from mpt_live.clip import ClipSpec
from mpt_live.motion import (
    band_energy,
    channel_sum,
    Magnifier,
    level_gains,
    local_motion_score,
    magnify_clip,
    model_inputs,
    motion_score,
)
from mpt_live.rankpool import dynamic_image, rank_pool_coefficients

SPECS = {
    "default": ClipSpec(),
    "attenuate": ClipSpec(attenuate=True),
    "order2": ClipSpec(filter_order=2),
    "order3-att-3lv": ClipSpec(filter_order=3, pyramid_levels=3, attenuate=True),
    "att-1lv": ClipSpec(pyramid_levels=1, attenuate=True),
    "narrow-band-32fps": ClipSpec(frames=32, window_s=1.0, band_hz=(1.0, 2.0), alpha=10),
    "alpha0": ClipSpec(alpha=0),
}


def random_clip(T: int = 16, shape: tuple[int, int] = (33, 47), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (T, *shape, 3), dtype=np.uint8)


def blob_clip(amplitude_px: float, hz: float = 2.0, T: int = 16, fps: float = 16.0, size: int = 48) -> np.ndarray:
    """A smooth bright blob on grey, its centre oscillating horizontally (sub-pixel, analytic)."""
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    frames = []
    for t in range(T):
        cx = size / 2 + amplitude_px * np.sin(2 * np.pi * hz * t / fps)
        blob = 100 + 120 * np.exp(-((xx - cx) ** 2 + (yy - size / 2) ** 2) / (2 * 5.0**2))
        frames.append(np.repeat(blob[..., None], 3, axis=2))
    return np.stack(frames).astype(np.float32)


def laplacian_reference(clip: np.ndarray, spec: ClipSpec) -> tuple[np.ndarray, float]:
    """Textbook EVM in float64: Laplacian levels, scipy sosfilt in time, per-level gains, collapse."""
    x = clip.astype(np.float64)
    T, L = len(x), spec.pyramid_levels
    levels: list[list[np.ndarray]] = [[] for _ in range(L)]
    for frame in x:
        g = [frame]
        for _ in range(L - 1):
            g.append(cv2.pyrDown(g[-1]))
        for i in range(L - 1):
            h, w = g[i].shape[:2]
            levels[i].append(g[i] - cv2.pyrUp(g[i + 1], dstsize=(w, h)))
        levels[-1].append(g[-1])
    sos = signal.butter(spec.filter_order, spec.band_hz, btype="bandpass", fs=spec.clip_fps, output="sos")
    zi = signal.sosfilt_zi(sos)
    bands = []
    for lev in levels:
        lev = np.stack(lev)
        bands.append(signal.sosfilt(sos, lev, axis=0, zi=zi[:, :, None, None, None] * lev[0])[0])

    def collapse(gains: np.ndarray, t: int) -> np.ndarray:
        acc = gains[-1] * bands[-1][t]
        for i in range(L - 2, -1, -1):
            h, w = bands[i].shape[1:3]
            acc = cv2.pyrUp(acc, dstsize=(w, h)) + gains[i] * bands[i][t]
        return acc

    gains = level_gains(spec)
    out = np.stack([x[t] + collapse(gains, t) for t in range(T)])
    plain = np.stack([collapse(np.ones(L), t) for t in range(T)])
    return out, local_motion_score((plain**2).sum(axis=(0, 3)), T)


# ---------------------------------------------------------------- magnification


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("shape", [(33, 47), (32, 32)])
def test_matches_textbook_laplacian_evm(name: str, shape: tuple[int, int]) -> None:
    spec = SPECS[name]
    clip = random_clip(T=spec.frames, shape=shape)
    got, score = magnify_clip(clip, spec)
    want, want_score = laplacian_reference(clip, spec)
    assert got.dtype == np.float32 and got.shape == clip.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-3 * max(spec.alpha, 1))
    assert score == pytest.approx(want_score, rel=1e-4)


def test_level_gains_attenuate_ends() -> None:
    assert level_gains(ClipSpec()).tolist() == [20.0] * 4
    assert level_gains(ClipSpec(attenuate=True)).tolist() == [0.0, 20.0, 20.0, 0.0]


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_alpha_zero_returns_input(dtype: type) -> None:
    clip = random_clip().astype(dtype)
    for spec in (ClipSpec(alpha=0), ClipSpec(alpha=0, attenuate=True)):
        out, score = magnify_clip(clip, spec)
        np.testing.assert_array_equal(out, clip.astype(np.float32))
        assert score > 0  # the band is still measured


@pytest.mark.parametrize("name", list(SPECS))
def test_still_clip_has_no_motion(name: str) -> None:
    spec = SPECS[name]
    frame = random_clip(T=1)[0]
    clip = np.repeat(frame[None], spec.frames, axis=0)
    out, score = magnify_clip(clip, spec)
    assert score < 1e-8
    np.testing.assert_allclose(out, clip.astype(np.float32), atol=1e-3)


@pytest.mark.parametrize("name", ["default", "attenuate", "order3-att-3lv"])
def test_causal(name: str) -> None:
    spec = SPECS[name]
    a = random_clip(T=spec.frames, seed=1)
    for t in (0, 5, spec.frames - 2):
        b = a.copy()
        b[t + 1 :] = random_clip(T=spec.frames - t - 1, seed=2 + t)
        out_a, _ = magnify_clip(a, spec)
        out_b, _ = magnify_clip(b, spec)
        np.testing.assert_array_equal(out_a[: t + 1], out_b[: t + 1])
        assert not np.array_equal(out_a[t + 1], out_b[t + 1])


@pytest.mark.parametrize("name", ["default", "attenuate"])
def test_streaming_equals_clip_and_reset_restarts(name: str) -> None:
    spec = SPECS[name]
    clip = random_clip(T=spec.frames)
    want, want_score = magnify_clip(clip, spec)
    mag = Magnifier(spec, clip.shape[1:])
    for _ in range(2):  # second pass after reset() must repeat the first
        emap = np.zeros(clip.shape[1:3], np.float32)
        outs, energies = zip(*(mag.push(f, energy_map=emap) for f in clip))
        np.testing.assert_array_equal(np.stack(outs), want)
        assert local_motion_score(emap, len(clip)) == pytest.approx(want_score, rel=1e-6)
        # the frame energy is the whole-frame mean, never above the score of the most active cells
        assert np.mean(energies) <= want_score * (1 + 1e-6)
        assert energies[0] == pytest.approx(0.0, abs=1e-6)  # steady-state start
        mag.reset()
    # the score alone (motion-only runs) is the same value
    assert motion_score(clip, spec) == pytest.approx(want_score, rel=1e-6)


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64, "float32 view"])
def test_motion_score_alone_is_magnify_clips_without_magnifying(name: str, dtype, monkeypatch) -> None:
    """A motion-only window's score (band_energy: the frame's own band alone) is exactly the score and energy map of
    magnifying the clip, and no frame is magnified for it (the saving: no pyramid, output or whole-frame energy).
    uint8 and contiguous float32 frames are filtered as they are, others (float64, a view with the channels
    reversed) through a float32 copy: the same values either way."""
    spec = SPECS[name]
    clip = random_clip(T=spec.frames, shape=(32, 48), seed=3)
    clip = clip.astype(np.float32)[..., ::-1] if dtype == "float32 view" else clip.astype(dtype)
    _, want = magnify_clip(clip, spec)
    _, want_20 = magnify_clip(clip, spec, fps=20.0)  # another clip rate: another filter
    emap = np.zeros(clip.shape[1:], np.float32)
    mag = Magnifier(spec, clip.shape[1:])
    for f in clip:
        mag.push(f, energy_map=emap)
    monkeypatch.setattr(Magnifier, "push", lambda *a, **k: pytest.fail("motion_score magnified a frame"))
    np.testing.assert_array_equal(band_energy(clip, spec), emap)
    assert motion_score(clip, spec) == want and want > 0
    assert motion_score(clip, spec, fps=20.0) == want_20 != want


@pytest.mark.parametrize("seed", range(4))
def test_channel_sum_is_numpys_sum(seed: int) -> None:
    """channel_sum gives the motion score's (H, W) energy exactly as numpy's sum over the channels did: on clips'
    energy maps and on float32 values spread over many magnitudes (where another order of the additions rounds
    differently)."""
    rng = np.random.default_rng(seed)
    clip = random_clip(T=16, shape=(40, 56), seed=seed)
    maps = [band_energy(clip, SPECS["default"]),
            (rng.standard_normal((64, 64, 3)) * 10.0 ** rng.integers(-8, 9, (64, 64, 3))).astype(np.float32)]
    for emap in maps:
        got = channel_sum(emap)
        assert got.shape == emap.shape[:2] and got.dtype == np.float32
        np.testing.assert_array_equal(got, emap.sum(axis=2))
    reordered = maps[1][..., 0] + (maps[1][..., 1] + maps[1][..., 2])
    assert not np.array_equal(reordered, maps[1].sum(axis=2))  # the order matters on these values: the test can fail


def test_push_returns_fresh_array_or_fills_out() -> None:
    clip = random_clip(T=3)
    mag = Magnifier(ClipSpec(), clip.shape[1:])
    first, _ = mag.push(clip[0])
    kept = first.copy()
    second, _ = mag.push(clip[1])
    assert second is not first
    np.testing.assert_array_equal(first, kept)
    buf = np.empty(clip.shape[1:], np.float32)
    res, _ = mag.push(clip[2], out=buf)
    assert res is buf


def test_motion_score_grows_with_motion() -> None:
    scores = [magnify_clip(blob_clip(a), ClipSpec())[1] for a in (0.0, 0.25, 1.0, 3.0)]
    assert scores[0] < 1e-8
    assert scores[1] > 0.05
    assert scores[1] < scores[2] < scores[3]


@pytest.mark.parametrize("hz, in_band", [(0.1, False), (1.0, True), (2.0, True), (3.0, True), (7.5, False)])
def test_band_pass_selects_band(hz: float, in_band: bool) -> None:
    """A global 10-level brightness flicker: in-band flicker has energy, out-of-band much less."""
    spec = ClipSpec(frames=64, window_s=4.0)  # 16 fps, 4 s: room for the filter to settle
    t = np.arange(spec.frames) / spec.clip_fps
    level = 128 + 10 * np.sin(2 * np.pi * hz * t)
    clip = np.broadcast_to(level[:, None, None, None], (spec.frames, 8, 8, 3)).astype(np.float32)
    score = magnify_clip(clip, spec)[1]
    # a pure in-band sine of amplitude 10 has mean square ~50 after the filter
    assert (score > 15) if in_band else (score < 10)


def _sine_gain(hz: float, duration_s: float, spec: ClipSpec, fps: float | None) -> float:
    """Steady-state gain of the band-pass for a brightness sine of ``hz`` Hz in a clip of
    ``spec.frames`` samples spanning ``duration_s`` seconds, magnified at the rate ``fps``."""
    from mpt_live.clip import interval_times

    t = interval_times(0.0, duration_s, spec.frames)
    level = 128 + 20 * np.sin(2 * np.pi * hz * t)
    clip = np.broadcast_to(level[:, None, None, None], (spec.frames, 16, 16, 3)).astype(np.float32)
    out, _ = magnify_clip(clip, spec, fps=fps)
    band = (out[:, 0, 0, 0] - clip[:, 0, 0, 0]) / spec.alpha
    half = band[spec.frames // 2:]                   # after the filter has settled
    return float(np.sqrt(np.mean(half ** 2)) / (20 / np.sqrt(2)))


@pytest.mark.parametrize("duration_s", [4.0, 8.0])
def test_band_pass_is_in_hz_of_real_time_at_any_clip_duration(duration_s: float) -> None:
    """The same 160 samples spanning 4 s or 8 s (training's onset..offset clips span any time): with
    the clip's own rate (time base "seconds", what training passes) a 1.5 Hz motion passes and a
    0.1 Hz or 9 Hz one is stopped at either duration. The legacy time base read every clip at the
    nominal 16 Hz: a 9 Hz motion in the 4 s clip looked like 3.6 Hz and passed."""
    from mpt_live.clip import clip_rate, interval_times

    spec = ClipSpec(frames=160, image_size=16, pyramid_levels=1, filter_order=3, alpha=1.0, window_s=10.0)
    at = interval_times(0.0, duration_s, spec.frames)
    fps = clip_rate(at, spec)
    assert fps == pytest.approx(159 / duration_s)
    assert _sine_gain(1.5, duration_s, spec, fps) > 0.9        # inside 0.4-4 Hz
    assert _sine_gain(0.1, duration_s, spec, fps) < 0.1        # below it
    assert _sine_gain(9.0, duration_s, spec, fps) < 0.1        # above it
    legacy = dataclasses.replace(spec, time_base="clip")
    old = clip_rate(at, legacy)
    assert old == 16.0
    assert (_sine_gain(9.0, duration_s, legacy, old) > 0.5) is (duration_s == 4.0)


def test_band_edge_follows_a_slowly_sampled_clip() -> None:
    """A clip too slow for the upper edge gets it lowered below Nyquist; one too slow for the band errs."""
    from mpt_live.bandpass import NYQUIST_MARGIN, clip_band

    spec = ClipSpec()
    assert clip_band(spec) == (spec.clip_fps, 0.4, 4.0)      # the live window: 15 Hz, band as given
    assert clip_band(spec, 8.5) == (8.5, 0.4, 4.0)            # below Nyquist: as given
    fs, lo, hi = clip_band(spec, 6.0)
    assert (fs, lo) == (6.0, 0.4) and hi == pytest.approx(NYQUIST_MARGIN * 3.0)
    with pytest.raises(ValueError, match="cannot hold the band"):
        clip_band(spec, 0.5)
    with pytest.raises(ValueError, match="positive"):
        clip_band(spec, 0.0)


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("fps", [None, 6.0, 8.5, 25.0])
def test_band_pass_design_is_scipys_and_each_call_gets_its_own_arrays(name: str, fps: float | None) -> None:
    """The cached design equals scipy's for that spec and rate, bit for bit; a caller that changes the
    arrays it got does not change what the next caller gets."""
    from mpt_live.bandpass import band_pass, clip_band

    spec = SPECS[name]
    fs, lo, hi = clip_band(spec, fps)
    want = signal.butter(spec.filter_order, (lo, hi), btype="bandpass", fs=fs, output="sos")
    sos, zi = band_pass(spec, fps)
    assert np.array_equal(sos, want) and np.array_equal(zi, signal.sosfilt_zi(want))
    sos[:] = 0.0
    zi[:] = 0.0
    again, zi2 = band_pass(spec, fps)
    assert np.array_equal(again, want) and np.array_equal(zi2, signal.sosfilt_zi(want))


def test_model_inputs_default_rate_is_the_live_windows() -> None:
    clip = blob_clip(1.0, hz=2.0, T=16, fps=15.0, size=32).astype(np.uint8)
    spec = ClipSpec(image_size=32, pyramid_levels=3)
    _, m_default, s_default = model_inputs(clip, spec)
    _, m_live, s_live = model_inputs(clip, spec, fps=spec.clip_fps)
    _, m_slow, s_slow = model_inputs(clip, spec, fps=30.0)    # the same frames over half the time
    assert np.array_equal(m_default, m_live) and s_default == s_live
    assert not np.allclose(m_default, m_slow)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((16, 8, 8)),
        np.zeros((16, 8, 8, 4)),
        np.zeros((0, 8, 8, 3)),
        np.zeros((8, 8, 3)),
        np.zeros((2, 4, 4, 3), object),
    ],
)
def test_magnify_clip_rejects_bad_clips(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="clip must"):
        magnify_clip(bad, ClipSpec())


def test_magnifier_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        Magnifier(ClipSpec(), (8, 8))
    mag = Magnifier(ClipSpec(), (8, 8, 3))
    with pytest.raises(ValueError, match="shape"):
        mag.push(np.zeros((8, 9, 3)))
    for out in (np.zeros((8, 8, 3)), np.zeros((8, 8, 3), np.float32)[:, ::-1], np.zeros((8, 9, 3), np.float32)):
        with pytest.raises(ValueError, match="out must"):
            mag.push(np.zeros((8, 8, 3)), out=out)


# ---------------------------------------------------------------- rank pooling


def test_rank_pool_coefficients_t8() -> None:
    want = [-8.461, -1.461, 1.039, 2.039, 2.289, 2.089, 1.589, 0.875]
    np.testing.assert_allclose(rank_pool_coefficients(8), want, atol=5e-4)


@pytest.mark.parametrize("T", [1, 2, 3, 8, 16, 64])
def test_rank_pool_coefficients_sum_to_zero(T: int) -> None:
    w = rank_pool_coefficients(T)
    assert w.shape == (T,)
    assert abs(w.sum()) < 1e-9
    if T > 1:
        assert w[0] < 0 < w[-1]


@pytest.mark.parametrize("T", [0, -3, 2.5])
def test_rank_pool_coefficients_reject_bad_t(T: float) -> None:
    with pytest.raises(ValueError):
        rank_pool_coefficients(T)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_dynamic_image_of_still_clip_is_flat_half(dtype: type) -> None:
    clip = np.repeat(random_clip(T=1)[:1], 16, axis=0).astype(dtype)
    d = dynamic_image(clip)
    assert d.shape == clip.shape[1:] and d.dtype == np.float32
    assert np.all(d == 0.5)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_dynamic_image_shows_where_it_brightened_or_darkened(dtype: type) -> None:
    T = 16
    clip = np.full((T, 20, 20, 3), 100.0, np.float32)
    ramp = np.linspace(0, 60, T, dtype=np.float32)[:, None, None, None]
    clip[:, :5, :5] += ramp  # brightens
    clip[:, -5:, -5:] -= ramp  # darkens
    d = dynamic_image(clip.round().astype(dtype))
    assert d.min() >= 0 and d.max() <= 1
    assert np.allclose(d[:5, :5], 1.0) and np.allclose(d[-5:, -5:], 0.0)
    rest = np.ones((20, 20), bool)
    rest[:5, :5] = rest[-5:, -5:] = False
    assert np.all(d[rest] == 0.5)


def test_dynamic_image_is_scale_invariant_and_in_range() -> None:
    clip = random_clip()
    d = dynamic_image(clip)
    assert 0 <= d.min() and d.max() <= 1 and (d.max() == pytest.approx(1) or d.min() == pytest.approx(0, abs=1e-6))
    np.testing.assert_allclose(dynamic_image(clip.astype(np.float32) / 255), d, atol=1e-5)


# ---------------------------------------------------------------- model_inputs

SMALL = ClipSpec(frames=8, window_s=0.5, image_size=32, pyramid_levels=3)


def test_model_inputs_layout_and_dtype() -> None:
    clip = random_clip(T=SMALL.frames, shape=(32, 32))
    dynamic, motion, score = model_inputs(clip, SMALL)
    assert dynamic.shape == (3, 32, 32) and motion.shape == (8, 3, 32, 32)
    for a in (dynamic, motion):
        assert a.dtype == np.float32 and a.flags.c_contiguous
    assert isinstance(score, float) and score > 0
    # motion frames are clipped to [0, 1] before normalisation with mean = std = 0.5
    assert motion.min() >= -1 and motion.max() <= 1
    assert dynamic.min() >= -1 and dynamic.max() <= 1


def test_model_inputs_rgb_order_and_normalisation() -> None:
    spec = ClipSpec(
        frames=8, window_s=0.5, image_size=32, pyramid_levels=3, alpha=0, mean=(0.1, 0.2, 0.3), std=(0.5, 0.25, 0.125)
    )
    b, g, r = 10, 120, 250
    clip = np.empty((8, 32, 32, 3), np.uint8)
    clip[...] = (b, g, r)
    dynamic, motion, score = model_inputs(clip, spec)
    for c, value in enumerate((r, g, b)):  # RGB out
        want = (value / 255 - spec.mean[c]) / spec.std[c]
        np.testing.assert_allclose(motion[:, c], want, rtol=1e-5)
        np.testing.assert_allclose(dynamic[c], (0.5 - spec.mean[c]) / spec.std[c], rtol=1e-6)
    assert score < 1e-8


def test_model_inputs_motion_is_magnified_clip() -> None:
    clip = random_clip(T=SMALL.frames, shape=(32, 32))
    _, motion, score = model_inputs(clip, SMALL)
    mag, want_score = magnify_clip(clip, SMALL)
    want = np.clip(mag, 0, 255)[..., ::-1].transpose(0, 3, 1, 2) / 255
    np.testing.assert_allclose(motion * 0.5 + 0.5, want, atol=1e-6)
    assert score == want_score
    dyn, _, _ = model_inputs(clip, SMALL)
    np.testing.assert_allclose(dyn * 0.5 + 0.5, dynamic_image(clip)[..., ::-1].transpose(2, 0, 1), atol=1e-6)


def test_model_inputs_into_rows_of_a_batch() -> None:
    """``out``: the inputs are written into given arrays (the model worker's batch rows), the same values."""
    clips = [random_clip(T=SMALL.frames, shape=(32, 32), seed=s) for s in (1, 2)]
    dyn, mot = np.full((2, 3, 32, 32), np.nan, np.float32), np.full((2, 8, 3, 32, 32), np.nan, np.float32)
    for k, clip in enumerate(clips):
        d, m, score = model_inputs(clip, SMALL, out=(dyn[k], mot[k]))
        assert np.shares_memory(d, dyn[k]) and np.shares_memory(m, mot[k])
        want_d, want_m, want_score = model_inputs(clip, SMALL)
        assert np.array_equal(dyn[k], want_d) and np.array_equal(mot[k], want_m) and score == want_score
    with pytest.raises(ValueError, match="out must be contiguous float32"):
        model_inputs(clips[0], SMALL, out=(dyn[0], mot[0, :, :, ::2]))  # not the motion shape
    with pytest.raises(ValueError, match="out must be contiguous float32"):
        model_inputs(clips[0], SMALL, out=(dyn[0].astype(np.float64), mot[0]))


@pytest.mark.parametrize("name", list(SPECS))
def test_a_window_after_another_gives_what_it_gives_alone(name: str) -> None:
    """model_inputs and band_energy keep a thread's magnifier from window to window: what a window gives does not
    depend on the windows before it (the same as in a new thread, with a new one); a still clip still scores 0."""
    import threading

    spec = dataclasses.replace(SPECS[name], image_size=32)
    rng = np.random.default_rng(11)
    moving = rng.integers(0, 256, (spec.frames, 32, 32, 3), dtype=np.uint8)
    clip = rng.integers(0, 256, (spec.frames, 32, 32, 3), dtype=np.uint8)
    alone = []
    th = threading.Thread(target=lambda: alone.extend([model_inputs(clip, spec), band_energy(clip, spec)]))
    th.start()
    th.join()
    for first in (model_inputs, band_energy, model_inputs):
        first(moving, spec)
        got = model_inputs(clip, spec)
        for a, b in zip(got, alone[0]):
            np.testing.assert_array_equal(a, b)
        first(moving, spec)
        np.testing.assert_array_equal(band_energy(clip, spec), alone[1])
    model_inputs(moving, spec)
    still = np.repeat(clip[:1], spec.frames, axis=0)
    assert model_inputs(still, spec)[2] == 0.0 and motion_score(moving, spec) > 0 and motion_score(still, spec) == 0.0


@pytest.mark.parametrize("name", list(SPECS))
def test_a_uint8_clip_gives_the_model_inputs_of_its_float_copy(name: str) -> None:
    """A window of a 30 fps source reaches the model worker as its uint8 frames (ClipFrames.clip), other windows as
    float32 samples: the same values give the same inputs and score, bit for bit."""
    spec = dataclasses.replace(SPECS[name], image_size=32)
    rng = np.random.default_rng(7)
    clip = rng.integers(0, 256, (spec.frames, 32, 32, 3), dtype=np.uint8)
    a, b = model_inputs(clip, spec), model_inputs(clip.astype(np.float32), spec)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2] == b[2] == motion_score(clip, spec) == motion_score(clip.astype(np.float32), spec) > 0


@pytest.mark.parametrize(
    "shape",
    [(7, 32, 32, 3), (8, 32, 32, 1), (8, 31, 32, 3), (8, 64, 64, 3), (32, 32, 3), (8, 3, 32, 32)],
)
def test_model_inputs_rejects_wrong_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"\(8, 32, 32, 3\)"):
        model_inputs(np.zeros(shape, np.uint8), SMALL)


# ---------------------------------------------------------------- real media


def clip_scores(path, spec: ClipSpec, seconds: float = 3.0) -> list[float]:
    """motion_score of 1 s windows (every 0.5 s) over centre crops of the first seconds of a video."""
    from mpt_live.clip import sample_frames, window_times

    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while len(frames) < int(fps * seconds):
        ok, f = cap.read()
        if not ok:
            break
        h, w = f.shape[:2]
        s = min(h, w)
        crop = f[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
        frames.append(cv2.resize(crop, (spec.image_size,) * 2, interpolation=cv2.INTER_AREA))
    cap.release()
    times = np.arange(len(frames)) / fps
    return [
        magnify_clip(sample_frames(times, np.stack(frames), window_times(t_end, spec)), spec)[1]
        for t_end in np.arange(spec.window_s, times[-1], 0.5)
    ]


def test_real_still_face_scores_far_below_a_talking_face(faces_dir) -> None:
    spec = ClipSpec()
    still = clip_scores(faces_dir / "videos" / "evm_face_still.mp4", spec)
    talking = clip_scores(faces_dir / "videos" / "retalking_3_talking.mp4", spec)
    assert len(still) >= 3 and len(talking) >= 3
    # measured: still 1.7-2.4 (sensor and codec noise), talking 85-186
    assert max(still) < 10 and min(talking) > 5 * max(still)
