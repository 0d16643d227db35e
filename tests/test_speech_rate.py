"""The spotter's speech gate at other frame rates (mpt_live.spot_channel, issue 11): its measure, the mouth's motion
over the rest of the face's, compares a moving mouth with a still rest whose motion is the frames' noise, and
FaceMotion's mean in time (~0.1 s) averages that noise over 3 frames at 30 fps, 5 at 60, 1 at 15: the same movement
measured higher at 60 fps and lower at 15. The channel puts the noise back at the 30 fps mean's level before the
ratio, so the decision is the same at any of these rates (and at 30 fps the measure is unchanged)."""

from __future__ import annotations

from test_spotting import clip, field
from test_spotting_vfr import RATE, _speech_around

from mpt_live.facemotion import FaceMotion
from mpt_live.spotting import Spotter


def _judged(crops: list, stated: float, step: int, on: int, off: int) -> tuple[list[float], list[str]]:
    """Every ``step``-th of ``crops`` (made at RATE) under a header stating ``stated`` fps: the speech measures of the
    candidates judged at the movement (frames on..off) and the types of the events there."""
    fm = FaceMotion(stated)
    sp = Spotter.for_motion(fm)
    events, judged = [], []
    for s in [s for i in range(0, len(crops), step) for s in fm.push(i, i / RATE, crops[i])] + fm.flush():
        events += sp.push(s)
        judged += [d for ch in (sp.micro, sp.macro) for d in ch.decisions if abs(d[0] - on) < 0.3 * RATE]
        sp.micro.decisions.clear()
        sp.macro.decisions.clear()
    events += sp.flush()
    return ([d[3]["speech"] for d in judged if "speech" in d[3]],
            [e.type for e in events if abs(e.apex_s - (on + off) / 2 / RATE) < 0.3])


def test_the_speech_gate_decides_alike_at_60_30_and_15_fps():
    """A lip corner pull (0.3 s) with syllables 0.6-1 s before and after it, made at 60 fps: all its frames under a
    60 fps header, every other under 30, every fourth under 15. The speech measure was 1.06-1.07 at 60 fps (over 1:
    the movement dropped as speech), 0.98 at 30 and 0.88 at 15, the rest of the face's noise averaged over 5, 3 and 1
    frames; now within 0.03 of the 30 fps copy's, the movement spotted alike."""
    n, on, off = 15 * int(RATE), 8 * int(RATE), 8 * int(RATE) + 18
    crops = clip(n, _speech_around(on, off, 0.6, 1.0) + [(field("lip_corner_pull"), on, off)])
    got = {stated: _judged(crops, stated, step, on, off) for stated, step in ((30.0, 2), (60.0, 1), (15.0, 4))}
    speech30, spotted30 = got[30.0]
    assert spotted30 == ["micro"] and len(speech30) == 2 and max(speech30) < 1, got
    for stated in (60.0, 15.0):
        speech, spotted = got[stated]
        assert spotted == spotted30, (stated, got)
        assert speech and max(abs(x - speech30[0]) for x in speech) <= 0.03, (stated, got)

