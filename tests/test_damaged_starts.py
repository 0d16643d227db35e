"""A recorded video whose start is damaged (its first keyframe lost): the frames lost are counted by the times of
the frames after them, not by the reads that failed, and the frames after them keep their own times, whichever
decoder (OpenCV's, PyAV's) and reader (the file's, --realtime's) reads it (mpt_live/frametimes.py, sources.py)."""

from __future__ import annotations

import hashlib
import shutil

import pytest

import faultkit as fk
from mpt_live.paced_video import PacedVideoReader
from mpt_live.cues import first_cue_s
from mpt_live.pyav_capture import PyAVCapture
from mpt_live.sources import VideoFile
from mpt_live.videoprobe import probe_video
from test_pyav_capture import _lose_first_packets

GOP = 120  # frames from one keyframe to the next: 4 s at 30 fps


def _digest(img) -> str:
    return hashlib.md5(img.tobytes()).hexdigest()


@pytest.fixture(scope="module")
def lost_keyframe(tmp_path_factory):
    """An 8 s H.264 recording (a keyframe every 4 s), whole and with its first keyframe's bytes zeroed, in an mp4,
    an MPEG-TS and an mkv (its first cluster lost: the bytes zeroed are its first block's header), and as VP8 in a
    WebM (its first cluster lost alike); the whole file's frame times by their pictures (the frames after the next keyframe decode to
    the same pictures in both)."""
    d = tmp_path_factory.mktemp("lost keyframe")
    made = {}
    for ext in (".mp4", ".ts", ".mkv", ".webm"):
        whole = d / f"whole{ext}"
        codec = (["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k"] if ext == ".webm"
                 else ["-c:v", "libx264", "-pix_fmt", "yuv420p"])
        fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=30:d=8", *codec, "-g", str(GOP), str(whole))
        damaged = d / f"damaged start{ext}"
        shutil.copy(whole, damaged)
        _lose_first_packets(damaged)
        with VideoFile(whole) as v:
            times = {_digest(f.image): f.t for f in v}
        made[ext] = damaged, times
    return made


def _damage_warnings(warnings: list[str]) -> list[str]:
    return [w for w in warnings if "could not be decoded (the file is damaged there)" in w]


@pytest.mark.parametrize("decoder", ["opencv", "pyav"])
def test_a_lost_first_keyframe_is_counted_as_the_frames_it_took(lost_keyframe, decoder):
    """OpenCV passes over the frames that refer to a lost keyframe in one read (one failed read, or none where the
    container lost the keyframe's packet): the mp4 was '1 frames could not be decoded' where its first 4 s (120
    frames) were lost, and the MPEG-TS had no warning at all, its frames timed from 0 (4 s early) and the file
    called truncated. PyAV's capture passed over them alike. Now the frames lost are those before the first
    frame's own time: 120 (4.00 s) in the mp4, the frames read at the times they have in the whole file."""
    clip, times = lost_keyframe[".mp4"]
    with VideoFile(clip, capture=PyAVCapture(clip) if decoder == "pyav" else None) as v:
        frames = list(v)
    assert len(frames) == len(times) - GOP and v.error is None
    assert all(f.t == pytest.approx(times[_digest(f.image)], abs=1e-6) for f in frames)
    assert v.damaged == GOP
    assert _damage_warnings(v.warnings) == [(f"{clip}: {GOP} frames could not be decoded (the file is damaged there) "
                                             "(or the recording began between keyframes), at the start (4.00 s of "
                                             "video); the frames after them were read")]


def test_a_lost_first_keyframe_of_an_mpeg_ts_is_counted_from_its_earliest_packet(lost_keyframe):
    """The MPEG-TS lost the keyframe's packets with its bytes (no failed read at all). FFmpeg starts the stream at its
    first packet left (a P-frame 4 frames on), so 116 of the 120 frames were counted and every frame was 133 ms early.
    The B-frames after that packet (frames 1-3, which cannot be decoded) are earlier: the count starts at the earliest
    packet left, 119, and the frames are a frame early. Where the lost keyframe was is not in the file (its PAT and
    PMT hold no time, its PCR runs 0.7 s ahead of the frames by FFmpeg's muxer's choice), and the warning says the
    count is the least it can be."""
    clip, times = lost_keyframe[".ts"]
    with VideoFile(clip) as v:
        frames = list(v)
    assert len(frames) == len(times) - GOP and v.error is None
    off = [f.t - times[_digest(f.image)] for f in frames]
    assert max(off) - min(off) < 1e-3 and -1 / 30 - 1e-3 <= off[0] <= 0
    assert v.damaged == GOP - 1 and len(_damage_warnings(v.warnings)) == 1
    assert _damage_warnings(v.warnings)[0].startswith(f"{clip}: at least {GOP - 1} frames could not be decoded")
    assert "at the start (3.97 s of video; an MPEG-TS does not say where its video began" in v.warnings[0]
    probe = probe_video(clip)  # the header probe says which kind of lost start it is, for the readers' warning
    assert probe.lost_s > 0 and probe.start_unstated and not probe.start_late


def test_an_mkv_whose_first_cluster_was_lost_counts_its_frames(lost_keyframe):
    """The mkv lost its first cluster (the first 4 s): its frames were timed right, from the segment's time line, but
    the loss was only a note that the file 'starts 4.00 s late', not counted (no review copy of a damaged file). The
    segment's time line begins at 0 (its duration counts from there): the 120 frames before the first one left are
    counted as a damaged start's, the one warning; it names the other cause of such a start too (a copy cut off
    without re-timing, ffmpeg -copyts: it reads alike), as the 'starts late' note did."""
    clip, times = lost_keyframe[".mkv"]
    with VideoFile(clip) as v:
        frames = list(v)
    assert len(frames) == len(times) - GOP and v.error is None
    assert all(f.t == pytest.approx(times[_digest(f.image)], abs=1e-6) for f in frames)
    assert v.damaged == GOP and not [w for w in v.warnings if "late" in w]
    assert _damage_warnings(v.warnings) == [(f"{clip}: {GOP} frames could not be decoded (the file is damaged there) "
                                             "(or the recording began between keyframes, or was cut off without "
                                             "re-timing), at the start (4.00 s of video); the frames after them were "
                                             "read")]
    probe = probe_video(clip)
    assert probe.lost_s == pytest.approx(4.0, abs=0.05) and probe.start_late and not probe.start_unstated


def test_an_mkv_whose_time_line_starts_late_is_not_a_damaged_start(tmp_path):
    """An mkv whose clusters begin at 10 s (ffmpeg -output_ts_offset 10) was '300 frames could not be decoded (the
    file is damaged there) ... at the start', its frames timed from 10 s; the same offset in an mp4 reads from 0
    with no warning. Its Cues list no cluster before its first frame (a lost first cluster is still listed there:
    test above): it reads as the mp4 does, every frame at the mp4's time, nothing called damaged."""
    made = {}
    for ext in (".mp4", ".mkv"):
        path = tmp_path / f"late{ext}"
        fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=30:d=4", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                  "-output_ts_offset", "10", str(path))
        with VideoFile(path) as v:
            made[ext] = [f.t for f in v], v
    (mp4, _), (mkv, v) = made[".mp4"], made[".mkv"]
    assert len(mkv) == len(mp4) == 120 and mkv == pytest.approx(mp4, abs=1e-3) and mkv[0] == 0.0
    assert v.damaged == 0 and v.warnings == [] and v.error is None, v.warnings
    probe = probe_video(tmp_path / "late.mkv")
    assert (probe.lost_s, probe.late_s, probe.start_late) == (0.0, 0.0, False)


def _drop_cues(path) -> None:
    """The Matroska file's Cues (the last element of that ID: FFmpeg writes them after the clusters) made a Void of
    the same length, a small EBML edit: a file that lists no Cues (its SeekHead's entry points at the Void)."""
    data = bytearray(path.read_bytes())
    at = data.rfind(b"\x1c\x53\xbb\x6b")
    n = 9 - data[at + 4].bit_length()  # the size's length (EBML: its leading zero bits, plus one)
    size = int.from_bytes(data[at + 4:at + 4 + n], "big") & ((1 << (7 * n)) - 1)
    total = 4 + n + size
    data[at:at + 9] = b"\xec\x01" + (total - 9).to_bytes(7, "big")  # Void, its size in 8 bytes: the same length
    path.write_bytes(bytes(data))
    assert first_cue_s(path) is None and probe_video(path).failure is None


@pytest.mark.parametrize("form", ["cues dropped", "live"])
def test_an_mkv_without_cues_whose_time_line_starts_late_is_not_a_damaged_start(tmp_path, form):
    """The late mkv of the test above without Cues: with them dropped (its duration from 0 kept) it was '300 frames
    could not be decoded ... at the start'; written as a live stream (ffmpeg -live 1: no Cues, no duration, as a
    recorder or a pipe writes) its frames were timed from 10 s. Its first Cluster's Timestamp, reached by walking the
    segment's top-level elements, is at its first frame: it reads as the mp4 does, nothing called damaged."""
    mp4, mkv = tmp_path / "late.mp4", tmp_path / "late.mkv"
    src = ["-f", "lavfi", "-i", "testsrc2=s=160x120:r=30:d=4", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           "-output_ts_offset", "10"]
    fk.ffmpeg(*src, str(mp4))
    fk.ffmpeg(*src, *(["-live", "1"] if form == "live" else []), str(mkv))
    if form == "live":
        assert first_cue_s(mkv) is None and probe_video(mkv).end_s is None  # the case this is about
    else:
        _drop_cues(mkv)
    with VideoFile(mp4) as v:
        want = [f.t for f in v]
    with VideoFile(mkv) as v:
        times = [f.t for f in v]
    assert len(times) == len(want) == 120 and times == pytest.approx(want, abs=1e-3) and times[0] == 0.0
    assert v.damaged == 0 and v.warnings == [] and v.error is None, v.warnings


@pytest.mark.parametrize("ext, loss", [(".mkv", "block"), (".webm", "block"), (".mkv", "cluster")])
def test_an_mkv_without_cues_whose_first_cluster_was_lost_still_counts_its_frames(lost_keyframe, tmp_path, ext,
                                                                                 loss):
    """Without Cues the first Cluster tells a lost one: its block's header zeroed, the cluster is still there at 0
    (before the first frame); overwritten with noise, the walk to it meets no element and cannot tell (judged as
    before). Both still count the first 4 s as a damaged start's, as with Cues."""
    import random

    clip = tmp_path / f"no cues{ext}"
    if loss == "block":
        shutil.copy(lost_keyframe[ext][0], clip)
    else:
        shutil.copy(lost_keyframe[ext][0].with_name(f"whole{ext}"), clip)
        data, rng = bytearray(clip.read_bytes()), random.Random(1)
        first = data.find(b"\x1f\x43\xb6\x75")  # Matroska's Cluster ID: the first, to the second
        second = data.find(b"\x1f\x43\xb6\x75", first + 4)
        data[first:second] = bytes(rng.randrange(256) for _ in range(second - first))
        clip.write_bytes(bytes(data))
    _drop_cues(clip)
    with VideoFile(clip) as v:
        n = sum(1 for _ in v)
    assert n == 2 * GOP - v.damaged and v.damaged >= GOP - 1 and v.error is None
    lost = _damage_warnings(v.warnings)
    assert len(lost) == 1 and "at the start (4.00 s of video)" in lost[0], v.warnings


@pytest.mark.parametrize("ext", [".mp4", ".mkv", ".ts"])
def test_realtime_counts_a_lost_first_keyframe_as_the_file_reader_does(lost_keyframe, ext):
    """``--realtime`` plays the file past its damaged start (frames it has no time for are dropped, as ever): the
    same count and warning as the file reader's, its first frame at the file reader's time."""
    clip, times = lost_keyframe[ext]
    with VideoFile(clip) as v:
        timed = {_digest(f.image): f.t for f in v}
    with PacedVideoReader(clip, speed=50.0) as r:
        seen = []
        while (frame := r.read(timeout=10)) is not None:
            seen.append(frame)
    # a frame the player is late for is skipped, as a camera's is, but counted in its index: the first frame played
    # is the file reader's frame of that index (index 0: its first frame after the damaged start), at its time
    assert seen and seen[0].t == pytest.approx(sorted(timed.values())[seen[0].index]) and r.error is None
    assert all(f.t == pytest.approx(timed[_digest(f.image)], abs=1e-6) for f in seen)
    assert r.damaged == v.damaged >= GOP - 1 and _damage_warnings(r.warnings) == _damage_warnings(v.warnings)


def test_pyav_times_the_first_frame_after_a_damaged_start_as_opencv_does(tmp_path):
    """A few kilobytes of noise early in an H.264 mp4: its first reads fail, then the frame shown at 0 s decodes.
    PyAV's capture took a presentation time of 0 for none and timed that frame by its decoding time (133 ms, the next
    frame's time): two frames at one time, so the run judged the file to have no per-frame times, timed its frames
    by their count and called it truncated. It now reads the times OpenCV reads, and the run of it is OpenCV's."""
    clip = tmp_path / "noisy start.mp4"
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=30:d=6", "-c:v", "libx264", "-g", "90", "-pix_fmt", "yuv420p",
              "-movflags", "+faststart", str(clip))
    fk.damage_mdat(clip, 0.03, 3000)
    import cv2

    ours, theirs = PyAVCapture(clip), cv2.VideoCapture(str(clip))
    for _ in range(40):
        (ok, _img), (ok_cv, _img_cv) = ours.read(), theirs.read()
        assert ok == ok_cv
        if ok:
            assert ours.get(cv2.CAP_PROP_POS_MSEC) == pytest.approx(theirs.get(cv2.CAP_PROP_POS_MSEC), abs=1e-6)
    ours.release()
    theirs.release()
    runs = []
    for capture in (None, PyAVCapture(clip)):
        with VideoFile(clip, capture=capture) as v:
            runs.append(([f.t for f in v], v.damaged, v.error, _damage_warnings(v.warnings)))
    assert runs[0] == runs[1] and runs[0][1] > 0 and runs[0][2] is None


@pytest.mark.parametrize("ext", [".webm", ".mkv", ".ts"])
def test_a_run_of_a_damaged_start_writes_a_review_copy_of_the_frames_it_read(lost_keyframe, tmp_path, ext):
    """A run of a file with a damaged start: the review page's review.webm is written, plays (decoded back here), and
    holds the frames the run read at the times the run gave them (from 4 s; the TS's a frame earlier). A WebM (a
    browser plays its codec) gets the copy because its start is now counted as damaged: it had none, the run
    seeing a file that 'starts 4.00 s late'; an mkv and a TS get one in any case (a browser plays neither)."""
    import av

    from test_faults import cli, summary

    clip, _ = lost_keyframe[ext]
    out = tmp_path / "out"
    res = cli("--video", str(clip), "--motion-only", "--headless", "--out", str(out))
    assert res.returncode == 0, res.stderr[-2000:]
    s = summary(out)
    assert s["outputs"]["review"] == "review.webm" and any("could not be decoded" in w for w in s["warnings"])
    with VideoFile(clip) as v:
        want = [f.t for f in v]
    with av.open(str(out / "review.webm")) as c:
        got = [f.time for f in c.decode(video=0)]
    assert len(got) == len(want) == GOP and got == pytest.approx(want, abs=1e-3)
    assert want[0] == pytest.approx(4.0 - (1 / 30 if ext == ".ts" else 0), abs=1e-3)


class _CountedDemux:
    """A PyAV container whose demuxed packets are counted (``packets``: one list for all such containers)."""

    def __init__(self, container, packets: list) -> None:
        self._c, self._packets = container, packets

    def demux(self, *streams):
        for packet in self._c.demux(*streams):
            self._packets.append(packet.pts)
            yield packet

    def __enter__(self):
        self._c.__enter__()
        return self

    def __exit__(self, *exc):
        return self._c.__exit__(*exc)

    def __getattr__(self, name):
        return getattr(self._c, name)


def test_an_mpeg_ts_whose_parser_flags_no_keyframe_is_not_read_on_for_one(tmp_path, monkeypatch):
    """H.264 with intra refresh (a keyframe once, then columns of intra blocks; some cameras and live encoders) in an
    MPEG-TS joined after its one keyframe: FFmpeg's parser flags no packet a keyframe, and the header probe, looking
    for the packets before the first keyframe, read the file's first 1000 packets (all 800 here) each time it
    probed it. Packets come in decoding order and none is shown before it is decoded, so once one is decoded at or
    after the earliest time so far no later one can be earlier: 3 packets, the same start."""
    import av

    whole = tmp_path / "refresh.ts"
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=96x64:r=30:d=40", "-c:v", "libx264", "-preset", "veryfast", "-g", "2000",
              "-pix_fmt", "yuv420p", "-x264-params", "intra-refresh=1", str(whole))
    data = whole.read_bytes()
    joined = tmp_path / "joined.ts"
    joined.write_bytes(data[len(data) // 3 // 188 * 188:])  # at a transport packet's start, after the keyframe
    with av.open(str(joined)) as c:
        s = c.streams.video[0]
        lead = [p for p in c.demux(s) if p.pts is not None and p.size]
        start, tb = s.start_time, s.time_base
    assert len(lead) > 700 and not any(p.is_keyframe for p in lead)
    expected = float((start - min(p.pts for p in lead)) * tb)  # every packet's time looked at
    packets: list = []
    pyav_open = av.open
    monkeypatch.setattr(av, "open", lambda *a, **k: _CountedDemux(pyav_open(*a, **k), packets))
    probe = probe_video(joined)
    assert len(packets) <= 4 and probe.lost_s == pytest.approx(expected, abs=1e-9) and expected > 0
    assert probe.start_unstated and not probe.start_late


def test_a_whole_group_of_pictures_lost_from_an_mpeg_ts_is_told_in_its_middle_not_at_its_start(tmp_path):
    """An MPEG-TS (a keyframe a second, with sound) that lost all the packets of one group of pictures: no failed
    read, the frames after it at their own times. In the middle the gap in the times tells it (30 frames missing).
    At the start nothing does: the TS states no start, its PCR runs the muxer's same delay ahead of the frames left,
    and it reads as a stream joined at a keyframe: nothing counted (README, the damaged file's row)."""
    import av

    whole = tmp_path / "whole.ts"
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=30:d=6", "-f", "lavfi", "-i", "sine=d=6", "-c:v", "libx264",
              "-preset", "veryfast", "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac", str(whole))
    with av.open(str(whole)) as c:
        keys = [p.pos // 188 * 188 for p in c.demux(c.streams.video[0]) if p.is_keyframe]
    data = whole.read_bytes()
    middle, start = tmp_path / "middle.ts", tmp_path / "start.ts"
    middle.write_bytes(data[:keys[2]] + data[keys[3]:])  # the third second's packets, every stream's
    start.write_bytes(data[keys[1]:])  # the first second's
    with VideoFile(middle) as v:
        frames = list(v)
    missing = [w for w in v.warnings if "frames missing" in w]
    assert len(frames) == 150 and v.error is None and v.damaged == 0
    assert len(missing) == 1 and "about 30 frames missing, a 1.03 s stretch before " in missing[0], v.warnings
    with VideoFile(start) as v:
        frames = list(v)
    assert len(frames) == 150 and v.error is None and v.damaged == 0 and v.warnings == []
