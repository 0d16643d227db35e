"""An occluder that is not cut (a hand, fingers over the mouth) gives no event: mpt_live/occlusion.py marks the abrupt
changes of a face's region against its own running level, and the spotter drops the candidates they explain."""

from __future__ import annotations

import json

import cv2
import numpy as np

from mpt_live.demo_input import truth_path
from mpt_live.demo_report import iou
from mpt_live.job import run_job
from mpt_live.occlusion import OcclusionWatch
from mpt_live.session import SessionConfig
from mpt_live.sources import VideoFile


def _watch(changes: dict[int, float], level: float = 0.3, n: int = 200) -> OcclusionWatch:
    w = OcclusionWatch(k=15)
    rng = np.random.default_rng(0)
    for f in range(n):
        w.add(f, changes.get(f, level * float(rng.uniform(0.5, 1.5))))
    return w


def test_an_abrupt_change_explains_a_movement_over_it_or_held_between_two():
    w = _watch({100: 5.0, 130: 5.0})
    assert w.occluded(98, 104)  # the change inside the movement
    assert w.occluded(114, 116)  # held between the occluder's arrival and its leaving, each within a scale
    assert not w.occluded(135, 140)  # after the leaving only: a movement beside the occluder stays
    assert not w.occluded(60, 70) and not w.occluded(160, 170)


def test_a_change_is_abrupt_against_the_faces_own_level_not_a_fixed_one():
    assert not _watch({100: 5.0}, level=4.0).occluded(98, 104)  # a talking face changes that much every frame
    assert not _watch({100: 0.9}, level=0.05).occluded(98, 104)  # a still face: under the floor, a blink, no object
    assert not _watch({10: 5.0}, n=12).occluded(8, 12)  # too few changes yet to know the face's level
    w = OcclusionWatch(k=15)
    for f in range(50):
        w.add(f, None)  # not measured (a cut, the face's first frame): nothing known, nothing occluded
    assert not w.occluded(0, 49)


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
