"""The spotter on a variable-frame-rate recording (mpt_live.face_state): a face's buffer holds its history in time in
a stretch faster than the header's average rate."""

from __future__ import annotations

import numpy as np

from mpt_live.clip import ClipSpec
from mpt_live.face_state import FaceState
from mpt_live.face_types import FaceResult
from mpt_live.sources import Frame
from mpt_live.spotting import SpotEvent


def test_a_face_s_buffer_holds_its_history_in_a_stretch_faster_than_the_stated_rate():
    """The buffer of a face's frames was sized at the stated rate (the average of a variable-rate recording): 30 fps
    frames of a file stating 12 fps filled it in 4.5 s, and an event closing ~5 s after its apex had no clip left to
    classify. It grows to hold its history (10 s) in time."""
    spec = ClipSpec(image_size=32)
    state = FaceState(0, spec, 12.0)
    crop = np.zeros((32, 32, 3), np.uint8)
    face = FaceResult((0, 0, 10, 10), 1.0, np.zeros((6, 2)), np.zeros((6, 2)), np.eye(2, 3), crop)
    for i in range(30 * 14):
        state.push(Frame(i, i / 30.0, crop), face)
    latest = (30 * 14 - 1) / 30.0
    assert state.ring.oldest_time <= latest - 10.0
    apex = latest - 8.0
    event = SpotEvent(0, 0, 0, apex - 0.2, apex, apex + 0.2, "micro", 5.0)
    got = state.apex_clip(event)
    assert got is not None and state.unbuffered == 0
    assert abs(float(np.mean(got.at)) - apex) < spec.window_s / 2
