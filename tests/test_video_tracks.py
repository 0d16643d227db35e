"""Files as phones and editors write them: several video tracks (OpenCV reads the first whatever is flagged default),
a header rate that is an average off by a frame, HDR colours (mpt_live.videotracks, through VideoFile)."""

from __future__ import annotations

import faultkit as fk
import pytest

from mpt_live.errors import InputError
from mpt_live.sources import VideoFile
from mpt_live.videoprobe import probe_video


def _clip(path, size, rate, seconds=1.0, codec="libx264"):
    fk.ffmpeg("-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}", "-t", str(seconds), "-c:v", codec,
              "-pix_fmt", "yuv420p" if codec == "libx264" else "yuvj444p", str(path))
    return path


def _two_tracks(tmp_path, first, second, name="two.mp4"):
    """``first`` and ``second`` mapped into one mp4, the second flagged default (a phone's depth or thumbnail track
    before its recording)."""
    out = tmp_path / name
    fk.ffmpeg("-i", str(first), "-i", str(second), "-map", "0:v", "-map", "1:v", "-c", "copy",
              "-disposition:v:0", "0", "-disposition:v:1", "default", str(out))
    return out


def _read(path):
    with VideoFile(path) as v:
        frames = [f.image.shape[:2] for f in v]
        return v, frames


def test_small_first_track_is_named_with_the_track_to_extract(tmp_path):
    small, main = _clip(tmp_path / "s.mp4", "80x60", 10), _clip(tmp_path / "m.mp4", "320x240", 30)
    path = _two_tracks(tmp_path, small, main)
    assert [(t.width, t.height, t.default) for t in probe_video(path).tracks] == [(80, 60, False), (320, 240, True)]
    v, frames = _read(path)
    notes = [w for w in v.warnings if "video tracks" in w]
    assert len(notes) == 1 and set(frames) == {(60, 80)}
    assert "reads track 0:v:0, 80x60, 10 fps" in notes[0] and "320x240, 30 fps, default" in notes[0]
    assert "probably not the recording" in notes[0] and f"ffmpeg -i {path} -map 0:v:1 -c copy" in notes[0]


def test_a_default_track_left_out_is_named_with_the_command_that_extracts_it(tmp_path):
    """Two recordings of like size, the second flagged default (an editor's export with a camera angle first): the
    first was read, the line named the default one as ignored but said nothing of how to read it (the command came
    only where the first was under half its size). Now the line gives it, and the command gives that track."""
    import shlex
    import subprocess

    first, main = _clip(tmp_path / "a.mp4", "320x240", 10), _clip(tmp_path / "b.mp4", "400x300", 30)
    path = _two_tracks(tmp_path, first, main)
    v, frames = _read(path)
    (note,) = [w for w in v.warnings if "video tracks" in w]
    assert set(frames) == {(240, 320)} and "probably not the recording" not in note
    command = shlex.split(note.split("to analyse the default track instead, extract it first: ")[1])
    assert command[:2] == ["ffmpeg", "-i"] and command[-1] == str(tmp_path / "two.v1.mp4")
    subprocess.run([fk.ffmpeg_exe(), "-loglevel", "error", *command[1:]], check=True)
    assert [(t.width, t.height) for t in probe_video(command[-1]).tracks] == [(400, 300)]


def test_recording_first_is_named_without_advice(tmp_path):
    main, small = _clip(tmp_path / "m.mp4", "320x240", 30), _clip(tmp_path / "s.mp4", "80x60", 10)
    out = tmp_path / "main_first.mp4"
    fk.ffmpeg("-i", str(main), "-i", str(small), "-map", "0:v", "-map", "1:v", "-c", "copy", str(out))
    v, _ = _read(out)
    notes = [w for w in v.warnings if "video tracks" in w]
    assert len(notes) == 1 and "reads track 0:v:0, 320x240, 30 fps" in notes[0]
    assert "not the recording" not in notes[0] and "-map" not in notes[0]


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])  # the mp4 says the still holds 1 frame; the mkv does not say
def test_still_first_track_is_refused_naming_the_recording(tmp_path, suffix):
    still = tmp_path / "still.mp4"
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=1", "-frames:v", "1", "-c:v", "mjpeg", str(still))
    path = _two_tracks(tmp_path, still, _clip(tmp_path / "m.mp4", "320x240", 30), "two" + suffix)
    with pytest.raises(InputError) as e:
        VideoFile(path)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(path)) and "still picture, not the recording" in msg
    assert "-map 0:v:1" in msg and "ignores the other (track 0:v:1," in msg  # the track read is not among them


def test_one_track_says_nothing_of_tracks(tmp_path):
    v, _ = _read(_clip(tmp_path / "m.mp4", "160x120", 30))
    assert len(probe_video(tmp_path / "m.mp4").tracks) == 1 and not any("track" in w for w in v.warnings)


@pytest.mark.parametrize("trc, hdr", [("arib-std-b67", "HLG"), ("smpte2084", "PQ")])
def test_hdr_video_is_warned_of_once(tmp_path, trc, hdr):
    path = tmp_path / f"{hdr}.mp4"
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc=size=96x72:rate=30", "-t", "0.5", "-vf",
              f"setparams=color_primaries=bt2020:color_trc={trc}:colorspace=bt2020nc,format=yuv420p10le",
              "-c:v", "libx264", str(path))
    assert probe_video(path).hdr == hdr
    v, _ = _read(path)
    notes = [w for w in v.warnings if "tone-mapped" in w]
    assert len(notes) == 1 and f"HDR video ({hdr})" in notes[0] and "\n" not in notes[0]


def test_sdr_video_is_not_warned_of(tmp_path):
    path = _clip(tmp_path / "sdr.mp4", "96x72", 30, 0.5)
    assert probe_video(path).hdr is None and not _read(path)[0].warnings


def test_the_extract_command_survives_a_name_with_spaces():
    """The line's 'ffmpeg -i NAME -map 0:v:N -c copy OUT' put a name like 'Interview 3.mp4' in bare: pasted, the
    shell split it into two arguments and ffmpeg found no such file; names are now quoted for the shell."""
    import shlex

    from mpt_live.videotracks import VideoTrack, track_notes

    depth = VideoTrack(0, 160, 120, 30.0, 300, default=False, picture=False)
    recording = VideoTrack(1, 1920, 1080, 30.0, 300, default=True, picture=False)
    (line,), _ = track_notes("/data/Interview 3.mp4", (depth, recording), (160, 120))
    command = shlex.split(line.split("extract it first: ")[1])
    assert command == ["ffmpeg", "-i", "/data/Interview 3.mp4", "-map", "0:v:1", "-c", "copy",
                       "/data/Interview 3.v1.mp4"]


def test_a_recording_with_its_cover_picture_is_not_warned_of(tmp_path):
    """A download with its thumbnail embedded (yt-dlp --embed-thumbnail: an attached picture after the recording) got
    the several-tracks warning naming the cover as ignored, on a file that is as it should be."""
    main = _clip(tmp_path / "m.mp4", "320x240", 30)
    cover = tmp_path / "cover.jpg"
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=1", "-frames:v", "1", str(cover))
    out = tmp_path / "with_cover.mp4"
    fk.ffmpeg("-i", str(main), "-i", str(cover), "-map", "0", "-map", "1", "-c", "copy", "-disposition:v:1",
              "attached_pic", str(out))
    assert len(probe_video(out).tracks) == 2
    v, frames = _read(out)
    assert not [w for w in v.warnings if "video tracks" in w] and set(frames) == {(240, 320)}
