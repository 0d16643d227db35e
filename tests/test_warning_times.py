"""Times of a video in the warnings and problems a run reports (summary.json, the terminal, the review page's notes)
read as the page writes them (mpt_live.clocktime.clock): seconds under a minute, a clock reading from there. They
were raw seconds, "before 3605.20 s", beside the page's "1:00:05.20" for the same moment of an hour-long interview."""

from __future__ import annotations

import numpy as np
import pytest

from mpt_live.clocktime import clock, clock_span
from mpt_live.finish import killed_summary
from mpt_live.frametimes import FrameTimes
from mpt_live.sources import DamagedFrames


@pytest.mark.parametrize("t, says", [(12.345, "12.35 s"), (65.5, "1:05.50"), (3605.2, "1:00:05.20")])
def test_a_stretch_of_frames_that_did_not_decode_is_placed_as_the_page_writes_times(t, says):
    d = DamagedFrames()
    d.add(3, t)
    assert d.warnings("v.mkv")[0].endswith(f"frames could not be decoded (the file is damaged there), before {says}; "
                                           "the frames after them were read")



@pytest.mark.parametrize("lost, says", [(1, "v.mkv: 1 frame could not"), (2, "v.mkv: 2 frames could not")])
def test_one_lost_frame_is_one_frame(lost, says):
    d = DamagedFrames()
    d.add(lost, 5.0)
    assert d.warnings("v.mkv")[0].startswith(says)

def test_damaged_stretches_at_both_ends_of_an_hour_are_written_alike():
    d = DamagedFrames()
    d.add(2, 0.0, start=True)
    d.add(2, 30.5)
    d.add(4, 3605.2)
    assert "in 3 stretches, at the start to before 1:00:05.20;" in d.warnings("v.mkv")[0]


@pytest.mark.parametrize("t, says", [(40, "before 40.00 s"), (3605, "before 1:00:05.00")])
def test_frames_missing_from_an_even_recording_are_placed_as_the_page_writes_times(t, says):
    times = FrameTimes("v.mkv", 1.0, True)
    for k in [*range(t - 3), *range(t, t + 60)]:  # one frame a second, the three before ``t`` missing
        times.next(k * 1000.0)
    times.finish(complete=False)
    assert any(f"about 3 frames missing, a 4.00 s stretch {says}, its other frames evenly spaced" in w
               for w in times.warnings), times.warnings


def test_a_truncated_hour_long_video_says_where_it_ended_in_clock_readings():
    times = FrameTimes("v.mp4", 1.0, True, frame_count=4000, end_s=4000.0)
    for k in range(3606):  # one frame a second, the file ending about an hour in
        times.next(k * 1000.0)
    times.finish()
    assert "ended after 3606 of the 4000 frames its header announces (1:00:06.00 of 1:06:40.00): the file" \
        in times.error


def test_a_variable_rate_video_gives_both_of_its_spans_alike():
    times = FrameTimes("v.mp4", 25.0, True, frame_count=1600)
    for k in range(1600):  # 1600 frames at 20 fps where the header says 25: 80 s against 64 s
        times.next(k * 50.0)
    times.finish(complete=False)
    assert any("1600 frames span 1:20.00 by the container's times, 1:04.00 by the header" in w
               for w in times.warnings), times.warnings


def test_a_killed_runs_problem_says_how_far_it_got_as_a_clock_reading(tmp_path):
    rows = [{"frame": str(n), "time_s": str(n / 30), "face_id": "0"} for n in range(108150, 108157)]
    s = killed_summary(tmp_path, {"pid": 7, "host": "lab"}, rows)
    assert s["problems"][0].endswith(f"up to frame 108157 ({clock(108156 / 30)})")
    assert clock(108156 / 30) == "1:00:05.20"


def test_a_switch_to_full_range_late_in_a_recording_is_a_clock_reading():
    from mpt_live.face_watch import FaceWatch

    with FaceWatch("auto", 2, True) as watch:
        watch.switched_s = 3605.2
        assert watch.reason().startswith("full-range from 1:00:05.20 (auto: short-range tracked ")


def test_clock_and_spans():
    assert [clock(t) for t in (0.067, 59.994, 59.996, 3723.4)] == ["0.07 s", "59.99 s", "1:00.00", "1:02:03.40"]
    assert clock_span(12.0, 115.73) == "0:12.00-1:55.73" and clock_span(0.5, 26.33) == "0.50-26.33 s"


def test_inspect_past_the_end_of_a_long_video_says_where_it_ends_as_a_clock_reading(tmp_path):
    import cv2

    from mpt_live.clip import ClipSpec
    from mpt_live.errors import InputError
    from mpt_live.sheet import clip_at

    video = tmp_path / "slow.avi"  # 70 frames at 1 fps: it ends past a minute
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 1.0, (64, 48))
    for k in range(70):
        w.write(np.full((48, 64, 3), k, np.uint8))
    w.release()
    with pytest.raises(InputError, match=r"--inspect 100 s is past the end of the video \(1:09\.00\)$"):
        clip_at(video, 100.0, ClipSpec())


def _webcam_times(fps: float, n: int, stall: range) -> list[float]:
    """Times (s) of a recording at ``fps`` that drops one frame in 12 (too many gaps to be called evenly spaced) and
    the frames ``stall`` in a row."""
    return [i / fps for i in range(n) if i % 12 != 5 and i not in stall]


@pytest.mark.parametrize("fps, stall, warned", [
    (15.0, range(300, 310), "a 0.73 s stretch with no frames before 20.67 s (about 10 frames at its usual 15 fps)"),
    (120.0, range(1200, 1270), "a 0.59 s stretch with no frames before 10.58 s (about 70 frames at its usual 120 fps)"),
    (60.0, range(600, 620), None),  # 0.35 s: shorter than a micro-expression
    (15.0, range(300, 305), None),  # 0.40 s
])
def test_a_stretch_with_no_frames_long_enough_to_hide_a_movement_is_said_by_its_length(fps, stall, warned):
    """A webcam recording that drops frames now and then (one in 12: too many gaps for 'frames missing' of an evenly
    spaced video) and stalls once: its times were right, but nothing said that 0.73 s of it has no frames, long
    enough to hide a whole micro-expression (they last under 0.5 s). Such a stretch, 0.5 s or more by time
    whatever the rate, is said in one line; a shorter one is not."""
    times = FrameTimes("cam.mp4", fps * 11 / 12, True)  # the header's rate: the average
    for t in _webcam_times(fps, int(40 * fps), stall):
        times.next(t * 1000.0)
    times.finish()
    stalls = [w for w in times.warnings if "with no frames" in w]
    assert not [w for w in times.warnings if "frames missing" in w]  # not evenly spaced: that warning is not given
    if warned is None:
        assert stalls == [], stalls
    else:
        assert stalls == [(f"cam.mp4: {warned}: the recording dropped them (a camera's stall), its recorder left out "
                           "frames that did not change (a variable-rate screen or call recording) or the file is damaged "
                           "there; a movement there (micro-expressions last under 0.5 s) may not be seen; the "
                           "container's times are used")]


def test_stretches_with_no_frames_are_counted_and_the_longest_placed_as_the_page_writes_times():
    times = FrameTimes("cam.mp4", 15.0 * 11 / 12, True)
    for t in _webcam_times(15.0, 15 * 3700, stall=range(300, 310)):
        times.next(t * 1000.0 + (1000.0 if t > 3605.0 else 0.0))  # a second stall, 1.07 s, an hour in
    times.finish()
    stalls = [w for w in times.warnings if "with no frames" in w]
    assert len(stalls) == 1 and "cam.mp4: 2 stretches of 0.5 s or more with no frames, the longest 1.07 s before " \
        "1:00:06.07 (about 25 frames at its usual 15 fps)" in stalls[0], stalls


def test_frames_missing_from_an_even_recording_are_counted_at_its_own_rate_not_the_headers_average():
    """A 15 fps recording whose frames 100-139 are missing: its header's rate is the average over the stall, 13.33
    fps for 160 frames in 12 s, and the warning said the other frames were 'evenly spaced at 13.33 fps' and about 35
    frames were missing. It says 15 fps and 40 frames now, from the frames' usual interval (times rounded to the ms,
    as an mp4's are: 66 and 67 ms, whose median alone is 15.15 fps)."""
    times = FrameTimes("v.mp4", 160 / 12, True)
    for k in [*range(100), *range(140, 180)]:
        times.next(round(k * 1000.0 / 15))
    times.finish(complete=False)
    missing = [w for w in times.warnings if "frames missing" in w]
    assert len(missing) == 1 and "about 40 frames missing, a 2.73 s stretch before 9.33 s, its other frames evenly " \
        "spaced at 15 fps:" in missing[0], times.warnings


@pytest.mark.parametrize("frames, said", [(1, "after 1 frame (0.03 s)"), (2, "after 2 frames (0.07 s)")])
def test_a_video_cut_off_after_one_frame_says_frame_in_the_singular(frames, said):
    """'after 1 frames': a streamed file whose last piece is cut off (FrameTimes' cut check) after its first frame."""
    times = FrameTimes("v.webm", 30.0, True, cut=lambda: "its last piece ends part-way")
    for i in range(frames):
        times.next(i * 1000 / 30)
    times.finish(True)
    assert times.error == f"v.webm: its last piece ends part-way, {said}: the file is truncated or damaged (cut off " \
                          "while it was written or copied)"
