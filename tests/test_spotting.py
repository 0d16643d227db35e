"""Regional face motion (mpt_live.facemotion) and the streaming spotter (mpt_live.spotting).

Aligned 224-px face crops are made here: a smooth random texture with the template's keypoints,
deformed by mpt_live.synthface actions (micro 9 frames, macro 45 frames, 2 px), blinks, a head
nod and speech-like mouth motion, plus sensor noise.
"""

from __future__ import annotations

import math
from fractions import Fraction

import cv2
import numpy as np
import pytest

from mpt_live.face import template_keypoints
from mpt_live.facemotion import GRID, REGIONS, FaceMotion
from mpt_live.spotting import EVENT_COLUMNS, SpotConfig, Spotter
from mpt_live.face_actions import Action, Bump, FaceFrame, action_field, source_coords, time_course

FPS = 30.0
S = 224
RNG = np.random.default_rng(3)
TEXTURE = cv2.GaussianBlur(RNG.uniform(0, 255, (S, S)).astype(np.float32), (0, 0), 2.0)
FACE = FaceFrame.from_keypoints(template_keypoints(S))
# a syllable: the lips part (upper lip up, lower lip and jaw down)
LIPS_PART = Action("lips_part", "others", "25+26", (Bump("mouth", (0.0, -0.08), 0.12, (0.0, -1.0), 0.6),
                                                     Bump("mouth", (0.0, 0.12), 0.16, (0.0, 1.0))))
GX, GY = np.meshgrid(np.arange(S, dtype=np.float32), np.arange(S, dtype=np.float32))


def field(action: str, px: float = 2.0) -> np.ndarray:
    return action_field((S, S), FACE, action, px)


def clip(n: int, moves: list[tuple[np.ndarray, int, int]], noise: float = 1.5, seed: int = 0) -> list[np.ndarray]:
    """n aligned BGR crops; moves: (displacement field at apex, onset frame, offset frame)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        d = np.zeros((S, S, 2), np.float32)
        for f, on, off in moves:
            s = time_course(i, on, (on + off) / 2, off)
            if s > 0:
                d += np.float32(s) * f
        img = TEXTURE
        if d.any():
            qx, qy = source_coords(GX, GY, d)
            img = cv2.remap(TEXTURE, qx, qy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
        img = np.clip(img + rng.normal(0, noise, img.shape), 0, 255).astype(np.uint8)
        out.append(cv2.cvtColor(img, cv2.COLOR_GRAY2BGR))
    return out


def run(frames: list[np.ndarray | None]):
    """Signals and events of a crop sequence (None: no face), and the frame each event came out at."""
    fm = FaceMotion(FPS)
    sp = Spotter.for_motion(fm)
    signals, events = [], []
    for i, a in enumerate(frames):
        for s in fm.push(i, i / FPS, a):
            signals.append(s)
            events += [(e, i) for e in sp.push(s)]
    for s in fm.flush():
        signals.append(s)
        events += [(e, len(frames)) for e in sp.push(s)]
    events += [(e, len(frames)) for e in sp.flush()]
    return signals, events


@pytest.fixture(scope="module")
def quiet():
    return run(clip(300, []))


def test_signals_one_per_frame_in_order_with_a_fixed_delay():
    fm = FaceMotion(FPS)
    crops = clip(120, [])
    got = []
    for i, a in enumerate(crops[:100] + [None] + crops[100:]):
        out = fm.push(i, i / FPS, a)
        got += [s.frame for s in out]
        if i == 90:
            assert got[-1] == 90 - fm.delay  # frame c comes out `delay` frames later
    got += [s.frame for s in fm.flush()]
    assert got == list(range(121))


def _signals(images) -> list:
    fm = FaceMotion(FPS)
    out = []
    for i, img in enumerate(images):
        out += fm.push(i, i / FPS, cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR))
    return [s for s in out if s.macro is not None]


def test_lighting_ramp_and_slow_drift_give_no_bumps():
    ramp = _signals(TEXTURE * 0.6 + 0.2 * i for i in range(200))  # brightening 6 levels a second
    assert ramp and max(max(float(s.micro.max()), float(s.macro.max())) for s in ramp) < 0.6  # uint8 rounding
    slide = _signals(cv2.warpAffine(TEXTURE, np.float32([[1, 0, 0.05 * i], [0, 1, 0]]), (S, S),
                                    borderMode=cv2.BORDER_REFLECT101) for i in range(200))
    bump = max(float(s.micro[1:-1, 1:-1].max()) for s in slide)  # the border cells see the reflection
    moving = cv2.absdiff(TEXTURE, cv2.warpAffine(TEXTURE, np.float32([[1, 0, 0.75], [0, 1, 0]]), (S, S)))
    assert bump < 0.6 and moving.mean() > 4 * bump  # the drift over 0.5 s changes pixels far more


def test_bump_follows_the_movement_where_and_when():
    crops = clip(200, [(field("brow_raise"), 100, 108)], noise=0.0)
    signals, _ = run(crops)
    micro = {s.frame: s.micro for s in signals if s.micro is not None}
    prof = np.array([micro[f].max() for f in range(80, 130)])
    assert prof[:18].max() < 0.6 and prof[31:].max() < 0.6     # nothing before frame 98 or after 110
    assert 102 <= 80 + int(np.argmax(prof)) <= 106             # peak at the apex (104)
    at = micro[104]
    brows = REGIONS["inner"] & ~REGIONS["eyes"] & (np.arange(GRID)[:, None] < 6)
    assert at[brows].max() == pytest.approx(at.max()) and at[REGIONS["mouth"]].max() < 0.1 * at.max()


@pytest.mark.parametrize("action, on, off, kind", [
    ("brow_raise", 200, 209, "micro"),
    ("lip_corner_pull", 200, 211, "micro"),
    ("nose_wrinkle", 200, 207, "micro"),
    ("brow_raise", 190, 235, "macro"),
])
def test_spots_onset_apex_offset_at_frame_resolution(action, on, off, kind):
    _, events = run(clip(420, [(field(action), on, off)]))
    assert len(events) == 1, events
    e, out_at = events[0]
    assert e.type == kind
    assert abs(e.onset - on) <= 2 and abs(e.offset - off) <= 2 and on < e.apex < off
    assert out_at <= off + 2 * 75 + 30 + 10  # streamed: bounded latency, not at the end of the video
    row = e.row("clip.mp4", 0)
    assert list(row) == EVENT_COLUMNS and row["type"] == kind and row["onset_frame"] == e.onset


def test_no_events_from_noise(quiet):
    assert quiet[1] == []


def test_no_event_from_a_blink():
    from mpt_live.synthface import BlinkModel

    blink = BlinkModel(cv2.cvtColor(TEXTURE.astype(np.uint8), cv2.COLOR_GRAY2BGR), FACE)
    crops = clip(360, [])
    for i in range(200, 208):  # a fast blink: closes and opens in 8 frames
        c = 1 - abs(i - 203.5) / 4.5
        img = blink.apply(cv2.cvtColor(TEXTURE, cv2.COLOR_GRAY2BGR), c)
        crops[i] = np.clip(img + np.random.default_rng(i).normal(0, 1.5, img.shape), 0, 255).astype(np.uint8)
    assert run(crops)[1] == []


def test_no_event_from_a_head_nod():
    shift = np.zeros((S, S, 2), np.float32)
    shift[..., 1] = 2.5  # the whole crop moves 2.5 px down and back in 0.3 s
    assert run(clip(360, [(shift, 200, 209)]))[1] == []


def test_no_event_from_speech_but_the_same_movement_alone_is_found():
    rng = np.random.default_rng(5)
    starts = np.cumsum(rng.integers(6, 13, 24)) + 150  # about 3.5 syllables a second for 6 s
    speech = [(action_field((S, S), FACE, LIPS_PART, float(rng.uniform(4, 8))), int(s), int(s) + 5)
              for s in starts if s < 330]
    target = (field("lip_corner_pull"), 240, 249)
    fm = FaceMotion(FPS)
    sp = Spotter.for_motion(fm)
    dropped = []  # the channels keep what their gates dropped (bench/spotting_replay.py --diag prints it)
    for i, a in enumerate(clip(420, speech + [target])):
        for s in fm.push(i, i / FPS, a):
            assert sp.push(s) == []
            for ch in (sp.micro, sp.macro):
                dropped += [(ch.k, *x) for x in ch.dropped]
                ch.dropped.clear()
    assert any(k == fm.k_micro and g == "speech" and 238 <= f <= 251 for k, f, _, g in dropped)
    assert len(run(clip(420, [target]))[1]) == 1


def test_no_face_frames_end_the_track_cleanly():
    crops = clip(400, [(field("brow_raise"), 100, 109), (field("brow_raise"), 320, 329)])
    for i in range(150, 170):
        crops[i] = None
    _, events = run(crops)
    assert [(e.type, abs(e.onset - on) <= 2) for (e, _), on in zip(events, (100, 320))] == [("micro", True)] * 2


def test_horizon_never_passes_an_event_still_to_come():
    """Windows before the spotter's horizon are final: no event that comes out later starts before it."""
    crops = clip(420, [(field("brow_raise"), 120, 129), (field("nose_wrinkle"), 200, 207), (field("brow_raise"), 280, 325)])
    fm = FaceMotion(FPS)
    sp = Spotter.for_motion(fm)
    horizons, events = [], []  # (horizon when reported, events after that)
    for i, a in enumerate(crops):
        for s in fm.push(i, i / FPS, a):
            for e in sp.push(s):
                events.append((len(horizons), e))
            horizons.append((s.frame, sp.horizon()))
    for s in fm.flush():
        for e in sp.push(s):
            events.append((len(horizons), e))
    for e in sp.flush():
        events.append((len(horizons), e))
    assert len(events) == 3
    for k, e in events:
        for last, h in horizons[:k]:  # every horizon reported before the event came out
            assert (h if h is not None else last + 1) <= e.onset
    # and the horizon moves on: by the end it is far past the first event
    assert max(h for _, h in horizons if h is not None) > events[0][1].offset


def test_a_small_model_crop_still_gives_the_spotter_an_area_averaged_face():
    """With a 112-px model the aligner also makes the spotter's 112 grey face from a 224 warp: under the
    same sub-pixel jitter it changes less frame to frame than a direct 112 warp (which aliases)."""
    from mpt_live.track_align import warp_face

    rng = np.random.default_rng(7)
    frame = cv2.cvtColor(rng.uniform(0, 255, (400, 400)).astype(np.uint8), cv2.COLOR_GRAY2BGR)  # fine texture
    direct, motion = [], []
    for i in range(12):
        m = np.array([[0.5, 0, -40 + rng.uniform(-0.3, 0.3)], [0, 0.5, -40 + rng.uniform(-0.3, 0.3)]])
        r = warp_face(frame, (0, 0, 1, 1), 1.0, np.zeros((6, 2)), np.zeros((6, 2)), m, 112, motion_matrix=m)
        # only the session asks for it: training's clip cache and photos do not pay for the second warp
        assert warp_face(frame, (0, 0, 1, 1), 1.0, np.zeros((6, 2)), np.zeros((6, 2)), m, 112).motion is None
        assert r.motion is not None and r.motion.shape == (112, 112)
        direct.append(FaceMotion.grey(r.aligned))
        motion.append(FaceMotion.grey(r.motion))
        big = warp_face(frame, (0, 0, 1, 1), 1.0, np.zeros((6, 2)), np.zeros((6, 2)), m * 2, 224, motion_matrix=m * 2)
        assert big.motion is None  # a 224 crop is area-averaged by FaceMotion itself
        assert np.array_equal(FaceMotion.grey(big.aligned), motion[-1])
        # a 224 crop with another transform for the spotter (eyes-mouth alignment): its own warp
        other = m * 2 + np.array([[0, 0.1, 0], [0, 0, 0]])
        own = warp_face(frame, (0, 0, 1, 1), 1.0, np.zeros((6, 2)), np.zeros((6, 2)), other, 224, motion_matrix=m * 2)
        assert np.array_equal(own.motion, motion[-1])
    jitter = lambda xs: float(np.mean([np.abs(a - b).mean() for a, b in zip(xs, xs[1:])]))  # noqa: E731
    assert jitter(motion) < 0.7 * jitter(direct)


def _restless(th: float, apexes: tuple[int, ...] = (300, 345), n: int = 600) -> list:
    """Events of bump maps with a restless face's own motion (heavy-tailed cell noise: the evidence's
    median is ~1.9, as on the recorded faces) and two 0.33 s brow movements 1.5 s apart."""
    from mpt_live.facemotion import FrameSignals

    rng = np.random.default_rng(0)
    sp = Spotter(FPS, 15, 75, SpotConfig(threshold=th))
    out = []
    for i in range(n):
        m = (0.05 * rng.lognormal(0.0, 1.3, (GRID, GRID))).astype(np.float32)
        for a in apexes:
            m[2:4, 5:7] += max(0.0, 1 - abs(i - a) / 5)
        out += sp.push(FrameSignals(i, i / FPS, m, m))
    return out + sp.flush()


def test_a_lower_threshold_finds_every_movement_a_higher_one_finds():
    """Where the face's own motion keeps the evidence above half the threshold, a candidate used to stay
    open for max_open_s (4 s) and keep only its strongest movement: --spot-threshold 1.5 gave fewer events
    than 4 on a talking face. A movement after the evidence fell below half of the one before is its own."""
    found = {th: [e.apex for e in _restless(th)] for th in (1.0, 1.5, 4.0)}
    for th, apexes in found.items():
        assert any(abs(a - 300) <= 2 for a in apexes) and any(abs(a - 345) <= 2 for a in apexes), (th, apexes)
    for low, high in ((1.0, 1.5), (1.5, 4.0), (1.0, 4.0)):
        assert all(any(abs(a - b) <= 2 for b in found[low]) for a in found[high]), (low, high, found)


@pytest.mark.parametrize("fps", [10.0, 12.0])
def test_a_short_movement_at_a_low_frame_rate_is_micro(fps):
    """Micro vs macro is 0.5 s in time: the signals' mean in time spans about 0.1 s whatever the frame
    rate (it was 3 frames: 0.3 s at 10 fps, which widened a 0.35 s movement by a frame each side: macro)."""
    on, off = int(7 * fps), int(7 * fps) + int(round(0.35 * fps))
    fm = FaceMotion(fps)
    sp = Spotter.for_motion(fm)
    events = []
    for i, a in enumerate(clip(int(14 * fps), [(field("brow_raise"), on, off)])):
        for s in fm.push(i, i / fps, a):
            events += sp.push(s)
    events += [e for s in fm.flush() for e in sp.push(s)] + sp.flush()
    assert len(events) == 1, events
    e = events[0]
    assert e.type == "micro" and abs(e.onset - on) <= 1 and abs(e.offset - off) <= 1 and on < e.apex < off
    assert e.onset_s == pytest.approx(e.onset / fps) and e.offset_s - e.onset_s <= 0.5


def test_micro_or_macro_by_the_frames_times_in_a_variable_rate_recording():
    """A phone recording states 30 fps but drops to 15 in low light: a 0.6 s movement there spans 9 frames,
    which at the stated rate would be 0.3 s (it was typed micro). Its times say macro; 0.27 s stays micro."""
    from mpt_live.facemotion import FrameSignals

    def spot(frames_long: int) -> list:
        rng = np.random.default_rng(1)
        sp = Spotter(30.0, 15, 75)
        out = []
        for i in range(400):
            m = (0.05 * rng.lognormal(0.0, 0.5, (GRID, GRID))).astype(np.float32)
            m[2:4, 5:7] += max(0.0, 1 - abs(i - 300) / (frames_long / 2))
            out += sp.push(FrameSignals(i, i / 15.0, m, m))  # frames 1/15 s apart
        return out + sp.flush()

    long, short = spot(9), spot(4)
    assert [e.type for e in long] == ["macro"] and long[0].offset_s - long[0].onset_s >= 0.5
    assert [e.type for e in short] == ["micro"] and short[0].offset_s - short[0].onset_s < 0.5


@pytest.mark.parametrize("after", [17, 20])
def test_a_movement_near_the_end_of_the_video_keeps_its_extent(after):
    """The video ends 0.55-0.65 s after a movement's apex: its last frames have no signals (the bump needs
    the face 0.5 s later), and the offset used to be the apex itself. It is as far from the apex as the onset."""
    on, off = 300, 309
    _, events = run(clip((on + off) // 2 + after, [(field("brow_raise"), on, off)]))
    assert len(events) == 1, events
    e = events[0][0]
    assert e.type == "micro" and abs(e.onset - on) <= 2 and abs(e.offset - off) <= 2 and on < e.apex < off


def _recorded(seconds: float = 90.0, fps: float = 30.0) -> list:
    """One face's signals recorded once: a restless face's own motion (cell noise, a slow swell of the whole
    face) and 60 movements of 0.2-2 s in random places of the face, some of them near the threshold."""
    from mpt_live.facemotion import FrameSignals

    rng = np.random.default_rng(11)
    n = int(seconds * fps)
    moves = [(int(rng.integers(60, n - 60)), float(rng.uniform(3, 30)), int(rng.integers(2, 10)),
              int(rng.integers(4, 9)), float(rng.uniform(0.3, 1.2))) for _ in range(60)]
    out = []
    for i in range(n):
        m = (0.05 * rng.lognormal(0.0, 0.6, (GRID, GRID)) * (1 + 0.3 * np.sin(i / 200))).astype(np.float32)
        for at, half, r, c, amp in moves:
            m[r:r + 2, c:c + 2] += amp * max(0.0, 1 - abs(i - at) / half)
        out.append(FrameSignals(i, i / fps, m, m))
    return out


def _spotted(signals: list, fps: float, after_s: float = 0.0) -> list:
    sp = Spotter(fps, 15, 75)
    events = [e for s in signals for e in sp.push(s)] + sp.flush()
    return [(e.type, e.onset, e.apex, e.offset) for e in events if e.onset_s >= after_s]


def test_the_same_signals_give_the_same_events_at_29_97_fps_and_at_other_phases():
    """Issue 11: a file's measured rate differs from its nominal one (29.97 or 29.95 for 30), and a face is first
    seen at any frame. The events used to move with both: the statistics were refreshed every int(fps) frames
    (29 or 30) counted from the face's first frame, over int(10 fps) samples of every other frame, so which frames
    a refresh fell on, and so every z-score after it, changed (on dev, 15 of 52 events at 29.97 fps, up to 22 with
    the first frames left out). Now they are recomputed as their window of the frames' own times moves: the same
    times give the same events whatever rate is stated, and a later start the same events once the window no
    longer reaches back to the first frame (before that it holds other frames: history_s + 5 s are left out)."""
    signals = _recorded()
    ref = _spotted(signals, 30.0)
    settled = SpotConfig().history_s + 5
    later = [e for e in ref if e[1] / FPS >= settled]
    assert len(later) >= 8 and {t for t, *_ in later} == {"micro", "macro"}, ref
    for fps in (29.97, 29.95, 30.03):
        assert _spotted(signals, fps) == ref, fps
    for fps, drop in ((30.0, 1), (30.0, 2), (30.0, 5), (29.97, 3)):  # each of these failed before
        assert _spotted(signals[drop:], fps, settled) == later, (fps, drop)


def test_window_statistics_are_the_exact_median_and_mad_of_the_last_seconds():
    """mpt_live.window_stats: one sample per slot of the frames' times, the window by time, exact order statistics
    (the values np.partition gives), recomputed as samples enter and leave; cells not asked for stay 0 and 1."""
    from mpt_live.window_stats import WindowStats

    rng = np.random.default_rng(2)
    cells = np.array([0, 3, 4, 9])
    ws = WindowStats(10, cells, span_s=2.0, slot_s=0.1)
    kept = []  # (time, values) of the first frame of each 0.1 s slot
    t = 0.0
    for i in range(400):
        t += float(rng.choice([1 / 30, 1 / 15, 0.3]))  # a variable rate, with gaps
        v = rng.lognormal(0, 1, 10).astype(np.float32)
        if not kept or int(t / 0.1 + 1e-6) != int(kept[-1][0] / 0.1 + 1e-6):
            kept.append((t, v))
        ws.add(t, v)
        ws.update(t)
        window = np.array([x for s, x in kept if s > t - 2.0])[:, cells].T
        k = window.shape[1] // 2
        med = np.partition(window, k, axis=1)[:, k]
        mad = np.partition(np.abs(window - med[:, None]), k, axis=1)[:, k]
        assert len(ws) == window.shape[1]
        assert np.array_equal(ws.med[cells], med) and np.allclose(ws.spread[cells], 1.4826 * mad + 0.1, rtol=1e-6)
        assert not ws.med[[1, 2, 5]].any() and (ws.spread[[1, 2, 5]] == 1).all()


@pytest.mark.parametrize("rate", [Fraction(30), Fraction(15), Fraction(24), Fraction(60), Fraction(30000, 1001)], ids=str)
def test_window_statistics_sample_the_same_frames_with_exact_or_millisecond_times(rate):
    """One sample per 2/15 s slot, the first frame in it: at 30 fps every fourth frame is exactly on a slot's start,
    and its time rounded to the millisecond (0.133 s for frame 4, as Matroska or WebM keep it) fell in the slot
    before, so the next frame was sampled there (50 of the 150 samples of 20 s at 30, 15 and 60 fps, 10 at 24 fps).
    A time of whole milliseconds is read as rounded (the frame's own up to 0.5 ms later): exact and rounded times
    sample the frames that exact arithmetic puts first in each slot, as exact times did. At 29.97 fps, whose frames
    drift across the slots, the 20 s hold no frame within a millisecond of a slot's start."""
    from mpt_live.window_stats import WindowStats

    def sampled(times: list[float]) -> list[int]:
        ws, kept = WindowStats(1, np.arange(1), span_s=20.0, slot_s=2 / 15), []
        for i, t in enumerate(times):
            ws.add(t, np.zeros(1, np.float32))
            kept += [i] if ws.newest() == t else []
        return kept

    n = int(20 * rate)
    slots = [math.floor(i / rate / Fraction(2, 15)) for i in range(n)]
    first = [i for i in range(n) if i == 0 or slots[i] != slots[i - 1]]
    exact = [float(i / rate) for i in range(n)]
    assert len(first) == 150 and sampled(exact) == first
    assert sampled([round(t, 3) for t in exact]) == first


def test_a_face_away_longer_than_the_window_gets_a_new_baseline():
    """The statistics' window is the last history_s of the frames' times: a face away for longer comes back to an
    empty window, and is judged again only after warmup_s of its new signals (not against a handful of samples);
    a shorter absence keeps its baseline, and the time between appearances is no signal."""
    from mpt_live.facemotion import FrameSignals

    rng = np.random.default_rng(4)
    sp = Spotter(FPS, 15, 75)

    def seen(t0: float, n: int) -> list[int]:
        judged = []
        for i in range(n):
            m = (0.05 * rng.lognormal(0.0, 0.5, (GRID, GRID))).astype(np.float32)
            sp.push(FrameSignals(int((t0 + i / FPS) * FPS), t0 + i / FPS, m, m))
            judged.append(sp.judged)
        sp.push(FrameSignals(int((t0 + n / FPS) * FPS), t0 + n / FPS, None, None))  # the face is lost
        sp.flush()
        return judged

    first = seen(0.0, 90)
    assert first[58] == 0 and first[59] == 1 and first[-1] == 31  # 2 s of signals set the baseline
    back = seen(10.0, 30)  # 7 s away: the window still holds its samples
    assert back[0] == first[-1] + 1 and back[-1] == first[-1] + 30
    later = seen(40.0, 90)  # 27 s away: a new baseline
    assert later[58] == back[-1] and later[59] == back[-1] + 1
    sp = Spotter(FPS, 15, 75)
    assert seen(0.0, 30)[-1] == 0 and seen(2.0, 30)[-1] == 0  # 1 s twice, 2 s apart: 1.93 s of signals
    assert seen(4.0, 30)[-1] == 29  # and from the second frame of a third


def test_a_face_back_after_most_of_the_window_or_after_a_gap_is_not_judged_against_a_few_samples():
    """The warm-up counted the time between frames with signals: a face away for 19.5 s (its window's samples all
    but gone, though under the 20 s that starts a new warm-up) was judged at once against 4 samples, and four frames
    then a 3 s gap with no frame (a stretch read past, a freeze) counted as a warm-up done: both gave false events
    on noise. The window must now also hold 90 % of a steady warm-up's samples."""
    from mpt_live.facemotion import FrameSignals

    rng = np.random.default_rng(5)

    def seen(sp: Spotter, t0: float, n: int, lose: bool = True) -> list[int]:
        judged = []
        for i in range(n):
            m = (0.05 * rng.lognormal(0.0, 0.5, (GRID, GRID))).astype(np.float32)
            sp.push(FrameSignals(int(round((t0 + i / FPS) * FPS)), t0 + i / FPS, m, m))
            judged.append(sp.judged)
        if lose:
            sp.push(FrameSignals(int(round((t0 + n / FPS) * FPS)), t0 + n / FPS, None, None))
        return judged

    sp = Spotter(FPS, 15, 75)
    first = seen(sp, 0.0, 90)
    back = seen(sp, 3.0 + 19.5, 90)
    assert back[0] == first[-1]  # not judged on its return
    assert back[-1] > first[-1]  # and judged again once the window holds enough
    sp = Spotter(FPS, 15, 75)
    seen(sp, 0.0, 4, lose=False)
    after_gap = seen(sp, 3.0, 30)
    assert after_gap[0] == 0 and after_gap[10] == 0


def test_the_statistics_window_starts_anew_where_time_goes_back():
    """Samples left the window only once older than its span before the newest time: a source whose times went
    back (a looped file) kept every sample from before, the window growing without end."""
    from mpt_live.window_stats import WindowStats

    ws = WindowStats(4, np.arange(4), span_s=2.0, slot_s=0.1)
    for loop in range(5):
        for i in range(30):
            t = i / 10
            ws.add(t, np.full(4, float(i), np.float32))
            ws.update(t)
    assert len(ws) <= 21  # the last loop's 2 s (a sample on its edge), as after one loop: not every loop's


def test_a_long_candidate_from_frames_faster_than_stated_keeps_its_apex():
    """A source at 2 or 3 times its stated rate (90 fps stated as 30): a candidate open for max_open_s (4 s by its
    times) spans up to 360 frames, more than the frame buffer sized at the stated rate held (278 at the micro
    scale), and its apex, at its start, fell out before it was judged: the event was lost and nothing said. The
    buffer grows with the frames' own rate; the event is found, as at the stated rate."""
    from mpt_live.facemotion import FrameSignals

    def spot(rate: float) -> tuple[list, Spotter]:
        rng = np.random.default_rng(6)
        sp = Spotter(30.0, 15, 75)
        out, at = [], int(12 * rate)
        for i in range(int(24 * rate)):
            m = (0.05 * rng.lognormal(0.0, 0.5, (GRID, GRID))).astype(np.float32)
            m[2:4, 5:7] += 1.5 * max(0.0, 1 - abs(i - at) / (0.1 * rate))  # a sharp movement
            if at <= i < at + 6 * rate:
                m[2:4, 5:7] += 0.4  # then the same cells keep moving for 6 s (the candidate stays open)
            out += sp.push(FrameSignals(i, i / rate, m, None))  # the micro scale alone
        return out + sp.flush(), sp

    for rate in (30.0, 60.0, 90.0):
        events, sp = spot(rate)
        assert [abs(e.apex_s - 12.0) < 0.05 for e in events].count(True) == 1, (rate, events)
        assert sp.micro.closed_early == 0


def test_a_candidate_whose_times_stand_still_is_closed_and_counted():
    """Times that stand still (a broken clock) never end a candidate by max_open_s: the buffer grows to 8 times
    its size, then the candidate is closed there, judged, and counted (the channel's closed_early), not kept
    open without end."""
    from mpt_live.facemotion import FrameSignals

    rng = np.random.default_rng(7)
    sp = Spotter(30.0, 15, 75)
    events = []
    for i in range(3000):
        m = (0.05 * rng.lognormal(0.0, 0.5, (GRID, GRID))).astype(np.float32)
        if i >= 300:
            m[2:4, 5:7] += 1.5 if i == 305 else 0.4
        events += sp.push(FrameSignals(i, min(i, 300) / 30.0, m, None))
    assert sp.micro.closed_early >= 1 and sp.micro.frames.maxlen <= sp.micro.cap_max
    assert any(e.apex == 305 for e in events + sp.flush())


def test_candidates_closed_early_are_in_summary_json_and_the_runs_warnings(faces_dir):
    """The spotter counted the candidates it closed early (times that stand still) and nothing reported them: a run's
    summary.json says how many (``spot_closed_early``, by scale), and its warnings say so in one line where any were."""
    from conftest import still_session_stopped
    from mpt_live.run_summary import run_warnings, summarize

    session = still_session_stopped(faces_dir, 0.5)
    assert summarize(session)["spot_closed_early"] == {"micro": 0, "macro": 0}
    assert not [w for w in run_warnings(session) if "closed before they ended" in w]
    session.states[min(session.states)].spotter.macro.closed_early = 3  # as a face whose times stood still left it
    assert summarize(session)["spot_closed_early"] == {"micro": 0, "macro": 3}
    said = [w for w in run_warnings(session) if "closed before they ended" in w]
    assert said == [(f"{session.name}: 3 candidate movement(s) closed before they ended (spot_closed_early), the "
                     f"frames' times standing still or over 8 times faster than {session.fps:g} fps: their events may "
                     f"be cut short or missing; a copy at a constant rate (ffmpeg -i IN -r {session.fps:g} OUT.mp4) is "
                     "timed anew")]
    session.states[min(session.states)].spotter.micro.closed_early = 1
    assert summarize(session)["spot_closed_early"] == {"micro": 1, "macro": 3}
    assert [w for w in run_warnings(session) if "closed before they ended" in w][0].startswith(
        f"{session.name}: 4 candidate movement(s)")


@pytest.mark.parametrize("sample_s", [0.0, -0.1, float("nan"), float("inf")])
def test_a_spotter_config_without_a_positive_sample_time_is_refused_by_name(sample_s: float) -> None:
    # it divided by the sample time (ZeroDivisionError) or made no slots at all
    with pytest.raises(ValueError, match="sample_s="):
        Spotter(30.0, 15, 75, SpotConfig(sample_s=sample_s))


def _cut_and_back(cut: bool, camera: bool = False, config: SpotConfig | None = None) -> tuple[list, dict[int, int]]:
    """A face for 200 frames; then, for 31 frames (one micro scale each side of the middle one: the only frame with
    micro signals), a box over its mouth and a brow raise at their middle; then the face again, a brow raise 4 s on.
    Fed as the session feeds a face whose region is cut (``cut``) or lost and back: FaceMotion and the spotter ended at
    each change. The events, and the spotter's judged frames by frame."""
    face = clip(480, [(field("brow_raise"), 350, 359)])
    boxed = clip(31, [(field("brow_raise", 4.0), 8, 22)], seed=1)
    for img in boxed:
        img[150:215, 60:165] = 40
    crops = face[:200] + boxed + face[231:]
    fm = FaceMotion(FPS)
    sp, events, judged = Spotter.for_motion(fm, config), [], {}

    def feed(signals: list) -> None:
        for s in signals:
            events.extend(sp.push(s))
            judged[s.frame] = sp.judged

    for i, a in enumerate(crops):
        if i in (200, 231):  # the box comes, the box goes: the previous appearance ends on this frame
            feed(fm.push(i, i / FPS, None))
            events.extend(sp.flush(cut=cut, camera=camera))
        feed(fm.push(i, i / FPS, a))
    feed(fm.flush())
    return events + sp.flush(), judged


@pytest.mark.parametrize("cut", [False, True])
def test_a_face_cut_for_one_scale_gives_no_one_frame_event_and_a_cut_starts_a_new_baseline(cut):
    """A hand over the mouth for 31 frames (two face cuts) gave an event of one frame (onset = apex = offset): the one
    frame of that appearance with micro signals, judged against the face before it. An extent of one frame is no
    movement, lost face or cut; and after a cut the spotter's statistics and warm-up start anew (2 s of signals), so
    nothing of the occluder's appearance is judged against the face. The movement well after it is still found."""
    events, judged = _cut_and_back(cut)
    assert all(e.offset > e.onset for e in events), events
    assert [(e.type, abs(e.onset - 350) <= 2) for e in events] == [("micro", True)], events
    if cut:
        assert judged[215] == judged[199]  # the boxed appearance's one frame with signals is not judged
        first = 231 + 15  # the face's first frame with micro signals after the cut: judged from 2 s of them on
        assert judged[first + 58] == judged[199] and judged[first + 59] == judged[199] + 1
    else:
        assert judged[231 + 15 + 1] > judged[215] > judged[199]  # a lost face keeps its baseline


@pytest.mark.parametrize(("camera", "config", "warm"), [(True, None, None), (True, SpotConfig(cut_keep=False), 2.0),
                                                        (True, SpotConfig(cut_keep=False, cut_warmup_s=1.0), 1.0),
                                                        (False, SpotConfig(cut_warmup_s=1.0), 1.0)])
def test_a_camera_cut_keeps_the_baseline_and_a_restart_waits_its_own_warm_up(camera, config, warm):
    """Issue 11: after a camera cut the tracker gives a face's ID back only to the same person, and on reels of 3-5 s
    pieces joined by cuts (bench/spotting_cuts.py) keeping its statistics found 61 of dev's 169 micro-movements
    against 25 with a new 2 s baseline: a camera cut keeps them (``cut_keep``); a face cut (an occluder, another
    person in place) or ``cut_keep=False`` starts them anew with a warm-up of ``cut_warmup_s``."""
    events, judged = _cut_and_back(True, camera, config)
    assert [(e.type, abs(e.onset - 350) <= 2) for e in events] == [("micro", True)], events
    first = 231 + 15  # the face's first frame with micro signals after the second cut
    if warm is None:
        assert judged[first] == judged[first - 1] + 1 and judged[231 + 15 + 1] > judged[215] > judged[199]
    else:
        n = int(round(warm * FPS))  # judged from warm seconds of signals on (this frame lasting as long as the one before)
        assert judged[first + n - 2] == judged[199] and judged[first + n - 1] == judged[199] + 1


def _spiked(apexes: dict[int, int], n: int, cut_at: int, camera: bool) -> list:
    """A quiet face's signals with movements {apex frame: frames of rise (before it) and fall (after)}, ended by a
    cut at ``cut_at`` as FaceMotion ends them (its last k frames without signals, then the cut frame), then a new
    appearance whose first k frames have none. The spotter's events."""
    from mpt_live.facemotion import FrameSignals

    rng, k = np.random.default_rng(5), 15
    sp, out = Spotter(FPS, k, 75), []
    for i in range(n):
        blind = cut_at - k <= i <= cut_at + k
        m = None
        if not blind:
            m = (0.05 * rng.lognormal(0.0, 0.6, (GRID, GRID))).astype(np.float32)
            for apex, half in apexes.items():
                m[2:4, 5:7] += 1.5 * max(0.0, 1 - abs(i - apex) / half)
        out += sp.push(FrameSignals(i, i / FPS, m, m))
        if i == cut_at:  # the cut frame: the appearance before it ends here
            out += sp.flush(cut=True, camera=camera)
    return out + sp.flush()


@pytest.mark.parametrize("camera", [True, False])
def test_no_extent_reaches_across_a_cut(camera):
    """A candidate open when a cut ends the face's signals has no signals after its apex, and its extent is mirrored
    (as far after the apex as its rise before it): it used to run onto the cut frame, the first of the new shot. It
    ends on the frame before the cut; a movement at the very start of the appearance after a camera cut (the
    statistics kept) starts after the cut, not in the shot before it."""
    cut_at, k = 400, 15
    events = _spiked({cut_at - k - 1: 20, cut_at + k + 1: 20, 600: 4}, 800, cut_at, camera)
    before = [e for e in events if e.apex < cut_at]
    after = [e for e in events if e.apex > cut_at]
    assert before and all(e.offset < cut_at for e in before), events
    assert before[0].offset == cut_at - 1  # mirrored 2 x 20 frames on, stopped at the cut
    assert all(e.onset > cut_at for e in after), events
    assert len(after) == (2 if camera else 1), events  # after a face cut the first 2 s of the new appearance are not judged
    assert any(abs(e.apex - 600) <= 1 for e in after)


@pytest.mark.parametrize(("fps", "frames", "kind"), [(30.0, 15, "micro"), (30.0, 16, "macro"), (30000 / 1001, 15, "micro"),
                                                    (25.0, 12, "micro"), (25.0, 13, "macro")])
def test_micro_is_at_most_half_a_second_from_the_onset_frame_to_the_end_of_the_offset_frame(fps, frames, kind):
    """MEGC's micro-expression lasts under 0.5 s from onset to offset, annotated as frames (both inclusive): a movement
    of ``frames`` frames lasts ``frames / fps`` s, from the onset frame's start to the offset frame's end. 15 frames at
    30 fps (0.5 s; 0.5005 s at 29.97) are micro, 16 (0.533 s) macro; at 25 fps 12 frames (0.48 s) micro, 13 macro."""
    sp = Spotter(fps, 15, 75)
    assert sp.is_micro(100 / fps, (100 + frames - 1) / fps) == (kind == "micro")
