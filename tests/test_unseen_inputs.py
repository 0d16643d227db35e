"""Inputs made as users make them (re-encoded, re-timed recordings of a face), run through the public tools."""

from __future__ import annotations

import av
import faultkit as fk
import pytest

from mpt_live.clip import ClipSpec
from mpt_live.sheet import clip_at


def test_inspect_in_a_stretch_above_a_variable_rate_videos_average(tmp_path, demo_clip):
    """A recording that kept every third frame for 2 s and every frame for the next 2 s (a call recording that
    dropped frames): its header's average is 20 fps, so --inspect's frame buffer, sized for that rate, held 29
    frames, and a 1 s window of the 30 fps stretch (31 frames) never fitted: "the face was not tracked for a whole
    window before it", on a face seen on every frame."""
    src = tmp_path / "demo.mp4"
    demo_clip(src)
    path = tmp_path / "dropped.mp4"
    fk.ffmpeg("-t", "4", "-i", str(src), "-an", "-vf", "select='gte(t\\,2)+not(mod(n\\,3))'",
              "-fps_mode", "passthrough", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path))
    with av.open(str(path)) as c:  # the case this is about: a low average, a stretch at 30 fps
        s = c.streams.video[0]
        times = [float(f.time) for f in c.decode(s)]
        assert float(s.average_rate) < 21 and len([t for t in times if 2.4 <= t <= 3.5]) >= 31
    spec = ClipSpec(window_s=1.0, image_size=112)
    clip, end = clip_at(path, 3.5, spec)
    assert clip.shape == (spec.frames, 112, 112, 3) and end == pytest.approx(3.5, abs=0.02)
    early, _ = clip_at(path, 1.5, spec)  # the 10 fps stretch, as before
    assert early.shape == clip.shape


def test_a_face_hidden_for_a_moment_twice_is_not_most_of_the_run_without_a_face(tmp_path, demo_clip):
    """A person's face hidden twice for a quarter of a second (a hand, a passer-by), 6 s apart: the windows without a
    face are few and far apart, and each was counted as lasting until the next one, so the summary (and the
    terminal's line) gave 'no face' the 6 s between them as well: 'no face 34%' of a 20 s interview whose face
    was away 0.5 s. A gap now counts at most four of the run's window spacings, as a face's own gaps did."""
    from mpt_live.job import run_job
    from mpt_live.session import SessionConfig
    from mpt_live.sources import VideoFile

    src = tmp_path / "demo.mp4"
    demo_clip(src)
    path = tmp_path / "hidden.mp4"
    fk.ffmpeg("-i", str(src), "-an", "-vf", "drawbox=x=0:y=0:w=iw:h=ih:color=gray:t=fill:"
              "enable='between(t\\,3\\,3.25)+between(t\\,9\\,9.25)'", "-c:v", "libx264", "-pix_fmt", "yuv420p",
              str(path))
    with VideoFile(path) as v:
        s = run_job(v, None, SessionConfig(), tmp_path / "o")
    away = s["labels"]["no face"]
    assert 4 <= away["windows"] <= 10 and s["frames_read"] - s["frames_with_face"] <= 24  # the case: two brief gaps
    assert away["seconds"] < 1.0 and away["share"] < 0.1, away
    total = sum(lab["seconds"] for lab in s["labels"].values())
    assert total == pytest.approx(s["source_seconds"], abs=1.0)


def test_a_variable_rate_warning_says_the_spotter_follows_the_frames_times(tmp_path):
    """Frames of a recording that dropped two of three for 2 s and none for 2 s. The warning said only that the
    container's times are used; then that the spotter's steps were counted in frames at the header's average rate
    (20 fps here), so the 10 fps stretch was measured over three times the span of the 30 fps one, and named the
    constant-rate copy that avoided it. The spotter now takes each frame's neighbours by these times
    (tests/test_spotting_vfr.py): the warning says so, and no longer asks for a copy."""
    from mpt_live.sources import VideoFile

    times = [i / 10 for i in range(20)] + [2 + i / 30 for i in range(60)]
    with VideoFile(fk.write_vfr_video(tmp_path / "call.mp4", times)) as v:
        got = [f.t for f in v]
    assert got == pytest.approx(times, abs=0.002)
    said = [w for w in v.warnings if "variable frame rate" in w]
    assert len(said) == 1 and "nearest in time 0.5 and 2.5 s before and after it" in said[0], v.warnings
    assert "ffmpeg" not in said[0] and "can be missed" not in said[0]
