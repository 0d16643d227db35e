"""An occluder that is not cut (a hand, fingers over the mouth) gives no event: mpt_live/occlusion.py marks the abrupt
changes of a face's region against its own running level, and the spotter drops the candidates they explain."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from mpt_live.demo_input import truth_path
from mpt_live.demo_report import iou
from mpt_live.job import run_job
from mpt_live.occlusion import OcclusionWatch
from mpt_live.session import SessionConfig
from mpt_live.sources import VideoFile


def _watch(changes: dict[int, float], level: float = 0.3, n: int = 200) -> OcclusionWatch:
    """A face's region changes at 30 fps (frame f at f / 30 s): ``level`` (a still face's) but for ``changes``."""
    w = OcclusionWatch(scale_s=0.5)
    rng = np.random.default_rng(0)
    for f in range(n):
        w.add(f / 30, changes.get(f, level * float(rng.uniform(0.5, 1.5))))
    return w


def _at(w: OcclusionWatch, onset: int, offset: int) -> bool:
    """Whether the movement from frame ``onset`` to ``offset`` (at 30 fps) is occluded."""
    return w.occluded(onset / 30, offset / 30)


def test_an_abrupt_change_explains_a_movement_over_it_or_held_between_two():
    w = _watch({100: 5.0, 130: 5.0})
    assert _at(w, 98, 104)  # the change inside the movement
    assert _at(w, 114, 116)  # held between the occluder's arrival and its leaving, each within a scale
    assert not _at(w, 135, 140)  # after the leaving only: a movement beside the occluder stays
    assert not _at(w, 60, 70) and not _at(w, 160, 170)
    assert _at(w, 103, 110) and not _at(w, 104, 110)  # the margin: 3 frames at 30 fps, 0.1 s
    assert _at(w, 115, 120) and not _at(w, 116, 120)  # the scale: 15 frames at 30 fps, 0.5 s


def test_a_change_is_abrupt_against_the_faces_own_level_not_a_fixed_one():
    assert not _at(_watch({100: 5.0}, level=4.0), 98, 104)  # a talking face changes that much every frame
    assert not _at(_watch({100: 0.9}, level=0.05), 98, 104)  # a still face: under the floor, a blink, no object
    assert not _at(_watch({10: 5.0}, n=12), 8, 12)  # too few changes yet to know the face's level
    assert _at(_watch({15: 5.0}, n=20), 13, 17) and not _at(_watch({14: 5.0}, n=20), 12, 16)  # 0.5 s of them
    w = OcclusionWatch(scale_s=0.5)
    for f in range(50):
        w.add(f / 30, None)  # not measured (a cut, the face's first frame): nothing known, nothing occluded
    assert not w.occluded(0.0, 49 / 30)


def _stream(times: np.ndarray, seed: int = 0) -> OcclusionWatch:
    """A still face's region changes at ``times`` (s), an occluder arriving at 3.3 s and leaving at 4.3 s: the first
    frame at or after each of those times changes abruptly (5 grey levels)."""
    w, rng = OcclusionWatch(scale_s=0.5), np.random.default_rng(seed)
    marks = {int(np.searchsorted(times, x)) for x in (3.3, 4.3)}
    for i, t in enumerate(times):
        w.add(float(t), 5.0 if i in marks else 0.3 * float(rng.uniform(0.5, 1.5)))
    return w


# (onset s, offset s) -> occluded: the arrival inside; held between arrival and leaving; after the leaving only (beyond
# the margin); before the arrival only; far from both
_QUERIES = {(3.2, 3.45): True, (3.55, 3.95): True, (4.5, 4.7): False, (2.5, 2.7): False, (1.0, 1.3): False,
            (6.0, 6.4): False}


@pytest.mark.parametrize("kind", ["15 fps", "30 fps", "60 fps", "jittered", "variable"])
def test_the_same_occluder_gives_the_same_drops_at_any_rate_and_on_uneven_times(kind):
    """The windows are in the frames' times: the same occluder over the same stretch explains the same movements at
    15, 30 and 60 fps, with times jittered by up to 15 ms, and in a stream whose rate changes every second (15, 30 and
    60 fps stretches). Counted in frames (300, 15, 3, the scale's 15), a 15 fps stretch took twice the times."""
    rng = np.random.default_rng(1)
    if kind.endswith("fps"):
        times = np.arange(0, 8, 1 / float(kind.split()[0]))
    elif kind == "jittered":
        times = np.arange(0, 8, 1 / 30) + rng.uniform(-0.015, 0.015, 240)
    else:
        steps = np.concatenate([np.full(int(r), 1 / r) for r in rng.choice([15.0, 30.0, 60.0], 8)])
        times = np.concatenate([[0.0], np.cumsum(steps)])
    w = _stream(times)
    assert {q: w.occluded(*q) for q in _QUERIES} == _QUERIES


def test_a_slow_stretch_is_judged_by_its_times_not_its_frames():
    """A 15 fps stretch of a stream stated at 30 fps (the scale set at 0.5 s): an occluder that arrives 0.8 s before a
    movement and leaves 0.8 s after it (12 frames each side, within the 15 frames the scale counted at 30 fps) does
    not explain it, nor does a change 0.13 s after it (2 frames: inside the 3 frames of margin counted)."""
    times = np.arange(0, 8, 1 / 15)
    w = OcclusionWatch(scale_s=0.5)
    for i, t in enumerate(times):
        w.add(float(t), 5.0 if i in (50, 100) else 0.3)  # 3.33 s and 6.67 s
    assert not w.occluded(50 / 15 + 0.8, 100 / 15 - 0.8)
    assert w.occluded(50 / 15 + 0.4, 100 / 15 - 0.4)
    assert not w.occluded(50 / 15 - 0.5, 48 / 15) and w.occluded(50 / 15 - 0.5, 49 / 15)


def test_times_that_go_back_start_the_watch_anew():
    """A looped or reconnected source: its times start again, and an abrupt change of the loop before is not
    one of this loop's; a step back of a few milliseconds (times jittered out of order) keeps what it knows."""
    w = _watch({100: 5.0})
    w.add(199 / 30 - 0.01, 0.3)
    assert _at(w, 98, 104)
    w.add(0.0, 0.3)
    assert not _at(w, 98, 104)


def _fingers(src, dst, t0: float, t1: float, keypoints) -> None:
    """``src`` with a skin-toned ellipse (fingers) swaying over the mouth from ``t0`` to ``t1`` s, at ``dst``."""
    (lx, ly), (rx, ry), _, (mx, my) = keypoints[:4]
    d = float(np.hypot(rx - lx, ry - ly))
    cap = cv2.VideoCapture(str(src))
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (w, h))
    i = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        if t0 <= i / 30 <= t1:
            centre = (int(mx + 0.1 * d * np.sin(i / 4)), int(my))
            cv2.ellipse(img, centre, (int(0.7 * d), int(0.35 * d)), 15, 0, 360, (125, 155, 200), -1, cv2.LINE_AA)
        writer.write(img)
        i += 1
    writer.release()
    cap.release()


def test_fingers_over_the_mouth_give_no_event_and_the_movements_are_found(demo_clip, tmp_path):
    """The default input with fingers over the mouth for 1 s, 0.6 s after the third injected movement: the region
    changes less than a face cut, and before the gate the fingers gave an event of their own (8.80-9.30 s)."""
    clip = tmp_path / "demo_input.mp4"
    truth = demo_clip(clip)
    assert json.loads(truth_path(clip).read_text())["events"] == truth["events"]
    occluded = tmp_path / "fingers.mp4"
    _fingers(clip, occluded, 8.3, 9.3, truth["keypoints"])
    with VideoFile(occluded) as src:
        summary = run_job(src, None, SessionConfig(), tmp_path / "run")
    assert summary["tracking"]["face_cuts"] == 0  # not cut: the spotter alone sees it
    assert summary["faces"][0]["events_occluded"] >= 1
    found = summary["events"]
    assert len(found) == len(truth["events"]), found
    for ev in truth["events"]:
        assert any(iou((f["onset_s"], f["offset_s"]), (ev["start"], ev["end"])) >= 0.5 for f in found), (ev, found)


@pytest.mark.parametrize("fps", [15.0, 60.0])
def test_fingers_over_the_mouth_at_15_and_60_fps_give_no_event(tmp_path, fps):
    """The default input rendered at ``fps`` (its animation by time) with the same fingers over the mouth from 8.3 to
    9.3 s: the gate drops the fingers' candidate and keeps the movements, as at 30 fps."""
    from mpt_live.demo_input import SIZE, demo_animator

    anim, truth = demo_animator(0)
    (lx, ly), (rx, ry), _, (mx, my) = truth["keypoints"][:4]
    d = float(np.hypot(rx - lx, ry - ly))
    clip = tmp_path / f"fingers_{fps:g}.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), fps, SIZE)
    for i in range(int(round(truth["frames"] / truth["fps"] * fps))):
        img = anim.render(i / fps, i)
        if 8.3 <= i / fps <= 9.3:
            centre = (int(mx + 0.1 * d * np.sin(i / fps * 7.5)), int(my))
            cv2.ellipse(img, centre, (int(0.7 * d), int(0.35 * d)), 15, 0, 360, (125, 155, 200), -1, cv2.LINE_AA)
        writer.write(img)
    writer.release()
    with VideoFile(clip) as src:
        summary = run_job(src, None, SessionConfig(), tmp_path / "run")
    assert summary["tracking"]["face_cuts"] == 0 and summary["faces"][0]["events_occluded"] >= 1
    found = summary["events"]
    assert len(found) == len(truth["events"]), found
    for ev in truth["events"]:
        assert any(iou((f["onset_s"], f["offset_s"]), (ev["start"], ev["end"])) >= 0.5 for f in found), (ev, found)
