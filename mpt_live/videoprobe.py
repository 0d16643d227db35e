"""One look at a local video file's header with PyAV (FFmpeg), before OpenCV reads its frames.

What a run needs from FFmpeg that OpenCV does not report, all read while the file is open once
(:func:`probe_video`): whether the container is a still image (FFmpeg's image demuxers: ``image2``,
``jpeg_pipe``, ``png_pipe``, ...; OpenCV opens an image as a 1-frame "video", so its frame count cannot tell),
the codec's own frame rate (the timing in a raw H.264 / HEVC stream's parameter sets), where the video
starts and ends on the container's time line (:mod:`mpt_live.frametimes`), its codec (whether a browser plays it,
:func:`mpt_live.review.playable`), whether an MP4/MOV's frame size changes part-way (:mod:`mpt_live.sizechange`:
PyAV reads it then; an MPEG-TS, Matroska or raw H.264/HEVC file's is watched as it is read), and, for a file OpenCV then
cannot open, why PyAV could not either (:func:`mpt_live.file_reason.unreadable`). Each fact is read on its own:
one that cannot be read leaves the others as they are. A run looks at its video before it loads its model (a bad
file fails at once) and again when it reads it: the facts of a file not changed since are kept, not read again.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from dataclasses import dataclass

from .cues import segment_start_s
from .fieldorder import FIELDS, stream_interlaced
from .opengop import has_open_gop
from .quiet import quiet_fd
from .sizechange import size_changes
from .videotracks import VideoTrack, hdr_transfer, is_picture, video_tracks

NO_PYAV, ENDS, UNRECOGNISED = "no-pyav", "ends", "unrecognised"  # VideoProbe.failure
LATE_S = 0.5  # a container's first time stamp up to this (and 3 frames) is a normal start (B-frame delay, priming)
RESIZED: set[tuple[str, int, int, int]] = set()  # files found to change frame size (path, size, mtime, inode)
UNINDEXED: set[tuple[str, int, int, int]] = set()  # H.264/HEVC files without an index of every frame (as RESIZED)
NO_INDEX = ("mpegts", "matroska", "h264", "hevc")  # containers (FFmpeg's names) whose frame sizes are watched so
LEAD_PACKETS = 1000  # an MPEG-TS's packets looked at at most for its first keyframe (33 s at 30 fps; one every 2-10 s)


@dataclass(frozen=True)
class VideoProbe:
    """The facts of one header probe. Their defaults are what a file PyAV cannot open gets (OpenCV decides).

    ``failure``: why PyAV could not open the file (:data:`NO_PYAV`: PyAV is not installed; :data:`ENDS`: a
    header, then nothing; :data:`UNRECOGNISED`: not a format FFmpeg knows), None when it opened.
    ``streams``: the kinds of its streams, sorted (``('audio', 'video')``). ``image``: the image type when the
    container is a still image (``'JPEG'``), None for a video container (a real 1-frame video too).
    ``codec_fps``: the first video stream's frame rate as FFmpeg's decoder sees it (not checked for sense),
    None when the stream states none. ``start_s`` / ``end_s``: where the first video stream's first frame is
    shown and where the stream ends on the container's time line (``start_s`` 0 unless the video starts after
    another stream, or a Matroska file's first frames are lost; ``end_s`` the stream's duration, a Matroska
    stream's ``DURATION`` tag, else the container's, None when nothing states it). ``codec``: the first video stream's codec, FFmpeg's name for it
    (``'h264'``, ``'vp9'``, ``'mpeg4'``), None when there is no video stream or PyAV cannot tell. ``open_gop``: an
    MP4/MOV/WebM's H.264 has open GOPs (:mod:`mpt_live.opengop`: a browser seeking into it can lose the video).
    ``container``: FFmpeg's name for the container format (``'mov,mp4,m4a,3gp,3g2,mj2'``, ``'matroska,webm'``,
    ``'mpegts'``), None when PyAV could not open the file (:mod:`mpt_live.cutoff`).
    ``cover_art``: the file holds an attached picture (an audio file's cover art, a video's thumbnail): a still
    that OpenCV reads as a 1-frame video where there is no other; it is not counted in ``streams``, and the
    facts of "the first video stream" are those of the first that is not such a picture.
    ``late_s``: where the recording starts on a time line its container says begins at 0 (:func:`_late`), 0.0
    for one that starts there or states no such time line. ``pixel_format``: the first video stream's pixel format,
    FFmpeg's name for it (``'yuv420p'``, ``'yuv420p10le'``, ``'yuv444p'``), None where PyAV cannot tell.
    ``tracks``: every video track, in file order (:mod:`mpt_live.videotracks`; OpenCV reads the first).
    ``hdr``: the first video stream's HDR coding (``'HLG'``, ``'PQ'``; ``'BT.2020'``: wide-gamut primaries at over
    8 bits with another transfer, :func:`~mpt_live.videotracks.hdr_transfer`), None for SDR.
    ``lost_s``: how long the video ran on the container's time line before ``start_s``, where FFmpeg's start for it
    (OpenCV's time 0) is after its real start (:func:`_lost`): a Matroska file whose first cluster was lost (the
    segment's time line from 0), an MPEG-TS whose first keyframe was lost (FFmpeg starts the stream at its first
    packet left; the earliest time of the packets before its first keyframe is used). 0.0 otherwise.
    ``start_unstated``: ``lost_s`` is an MPEG-TS's, which does not say where its video began (the frames lost are
    counted from its earliest packet left: at least so many). ``start_late``: ``lost_s`` is a Matroska file's, whose
    time line begun late is also what a copy cut off without re-timing (``ffmpeg -copyts``) reads as.
    ``sizes``: an MP4/MOV whose video changes frame size part-way (parts joined by stream copy,
    :mod:`mpt_live.sizechange`): ``(frame, width, height)`` where each part starts; ``()`` otherwise.
    ``interlaced``: the first video stream is interlaced (:func:`~mpt_live.fieldorder.stream_interlaced`; the opencv-python wheel's FFmpeg gives
    such frames black, so PyAV reads it: :func:`~mpt_live.fieldorder.is_interlaced`)."""

    failure: str | None = None
    streams: tuple[str, ...] = ()
    image: str | None = None
    codec_fps: float | None = None
    start_s: float = 0.0
    end_s: float | None = None
    codec: str | None = None
    open_gop: bool = False
    container: str | None = None
    cover_art: bool = False
    late_s: float = 0.0
    pixel_format: str | None = None
    tracks: tuple[VideoTrack, ...] = ()
    hdr: str | None = None
    lost_s: float = 0.0
    start_unstated: bool = False
    start_late: bool = False
    sizes: tuple[tuple[int, int, int], ...] = ()
    interlaced: bool = False

    @property
    def has_video(self) -> bool:
        return "video" in self.streams


def probe_video(path: str | os.PathLike) -> VideoProbe:
    """Every fact of :class:`VideoProbe` about ``path``, from one PyAV open of its header (the facts of a file
    whose size and modification time have not changed since it was last probed: kept from then)."""
    try:
        st = os.stat(path)
    except OSError:
        return _probe(os.fspath(path))
    return _probe_file(os.path.abspath(path), st.st_size, st.st_mtime_ns, st.st_ino)


def changes_size(path: str | os.PathLike) -> bool:
    """Whether a probe in this process found the file ``path`` (as it is now) to be a video whose frame size changes
    part-way (:attr:`VideoProbe.sizes`); never probes it (a reader that opens files no run has probed, training's,
    pays no probe for it: :func:`~mpt_live.fieldorder.is_interlaced` looks at its field order alone)."""
    return _found_in(RESIZED, path)


def has_no_index(path: str | os.PathLike) -> bool:
    """Whether a probe in this process found the file ``path`` (as it is now) to be an MPEG-TS, Matroska or raw
    H.264/HEVC stream of H.264 or HEVC: no index of every frame, so whether its size changes part-way is watched as
    it is read (:class:`~mpt_live.sizechange.SizeWatch`), not probed; never probes it (as :func:`changes_size`)."""
    return _found_in(UNINDEXED, path)


def _found_in(found: set[tuple[str, int, int, int]], path: str | os.PathLike) -> bool:
    """Whether the file ``path``, as it is now (size, modification time, inode), is in ``found`` (files a probe in
    this process put there); no stat where nothing was."""
    if not found:
        return False
    try:
        st = os.stat(path)
    except OSError:
        return False
    return (os.path.abspath(path), st.st_size, st.st_mtime_ns, st.st_ino) in found


@functools.lru_cache(maxsize=64)
def _probe_file(path: str, size: int, mtime_ns: int, inode: int) -> VideoProbe:
    probe = _probe(path)
    if probe.sizes:
        RESIZED.add((path, size, mtime_ns, inode))
    FIELDS[(path, size, mtime_ns, inode)] = probe.interlaced
    if probe.codec in ("h264", "hevc") and set(NO_INDEX) & set((probe.container or "").split(",")):
        UNINDEXED.add((path, size, mtime_ns, inode))
    return probe


def _probe(path: str) -> VideoProbe:
    try:
        import av
    except ImportError:
        return VideoProbe(failure=NO_PYAV)
    try:
        with quiet_fd(2), av.open(str(path), metadata_errors="replace") as c:  # FFmpeg's own lines ("moov atom not found") kept out
            streams = tuple(sorted({st.type for st in c.streams if not is_picture(st)}))
            start_s, end_s = _timeline(c)
            late_s = _late(c)
            probe = VideoProbe(None, streams, _image(c), _codec_fps(c), start_s, end_s, _codec(c), _open_gop(c),
                               _container(c), any(is_picture(st) for st in c.streams), late_s, _pixel_format(c),
                               video_tracks(c), _first(c, hdr_transfer), *_lost(c, start_s, late_s),  # TS packets last
                               _sizes(c, str(path)), bool(_first(c, stream_interlaced)))  # last: it may decode a frame
            first = max(c.start_time / 1e6, 0.0) if c.start_time is not None else 0.0
            if "matroska" in (probe.container or "").split(",") and first > LATE_S and \
                    (seg := segment_start_s(path)) is not None and seg > first - LATE_S / 10:
                # its Cues (or, without them, its first Cluster) begin at its first frame: the file starts there (no
                # first cluster lost; without Cues one lost whole is not told apart, cues.first_cluster_s), whether or
                # not it states a duration (a live recording's does not)
                shift = min(start_s, first)  # from the container's start, as an MP4's
                return dataclasses.replace(probe, start_s=start_s - shift, end_s=None if end_s is None else
                                           end_s - shift, late_s=0.0, lost_s=0.0, start_late=False)
            # an MPEG-TS's video begun before its container's start, by FFmpeg's
            moved = _moved(c, probe.lost_s) if probe.start_unstated else 0.0
            if not moved:
                return probe
            return dataclasses.replace(probe, start_s=start_s + moved, end_s=None if end_s is None else end_s + moved)
    except EOFError:  # av.error.EOFError is one: a header, then nothing
        return VideoProbe(failure=ENDS)
    except Exception:  # PyAV's "Invalid data found when processing input", a file unreadable to it
        return VideoProbe(failure=UNRECOGNISED)


def _first(c, fact):
    """``fact`` of the first video stream that is not an attached picture, None where there is none."""
    try:
        return fact(video_stream(c))
    except StopIteration:
        return None


def video_stream(c):
    """The first video stream that is not an attached picture (StopIteration where there is none)."""
    return next(s for s in c.streams.video if not is_picture(s))


def _sizes(c, path: str) -> tuple[tuple[int, int, int], ...]:
    try:  # read from the file at the places its index gives, whatever was demuxed before
        return size_changes(c, video_stream(c), path)
    except Exception:  # no video stream, or PyAV cannot tell: not judged
        return ()


def _image(c) -> str | None:
    try:
        name = c.format.name
        if name not in ("image2", "image2pipe") and not name.endswith("_pipe"):
            return None
        streams = c.streams.video
        codec = streams[0].codec_context.name if streams else name
        return {"mjpeg": "JPEG"}.get(codec, codec.upper())
    except Exception:
        return None


def _container(c) -> str | None:
    try:
        return str(c.format.name)
    except Exception:
        return None


def _codec(c) -> str | None:
    try:
        codec = video_stream(c).codec_context.codec
        return str(getattr(codec, "canonical_name", None) or codec.name)  # 'av1' whichever decoder (libdav1d) reads it
    except Exception:
        return None


def _pixel_format(c) -> str | None:
    try:
        return str(video_stream(c).codec_context.pix_fmt) or None
    except Exception:
        return None


def _open_gop(c) -> bool:
    try:  # a container a browser may be given (MP4/MOV, WebM); its packets read last, after the header's facts
        return any(k in c.format.name.split(",") for k in ("mp4", "mov", "webm")) and has_open_gop(c)
    except Exception:
        return False


def _codec_fps(c) -> float | None:
    try:
        rate = video_stream(c).codec_context.framerate
        return float(rate) if rate else None
    except Exception:
        return None


def _track(c) -> tuple[float | None, float | None, float | None, bool]:
    """The first video stream's first time stamp and its length, as the stream states them (s; None where it states
    none), its DURATION tag (s; None), and whether the container is Matroska/WebM (whose tag says where the track
    ends on the segment's time line, not its length). Raises where there is no video stream or PyAV cannot tell."""
    s = video_stream(c)
    tb = s.time_base
    first = float(s.start_time * tb) if s.start_time is not None and tb else None
    length = float(s.duration * tb) if s.duration and tb else None
    tag = _clock_seconds((s.metadata or {}).get("DURATION") or (s.metadata or {}).get("duration"))
    return first, length, tag, "matroska" in c.format.name.split(",")


def _whole(c) -> float | None:
    """The container's duration (s), None where it states none."""
    return c.duration / 1e6 if c.duration and c.duration > 0 else None


def _timeline(c) -> tuple[float, float | None]:
    try:
        first, length, tag, matroska = _track(c)
        start = 0.0
        # a Matroska/WebM segment's time line starts at 0 and its blocks are timed on it: FFmpeg's container start
        # is its first block read, later than 0 where the first cluster was lost to damage (the frames were a
        # cluster's length early, and 'truncated' by that much)
        if matroska and first is not None:
            start = max(0.0, first)
        elif first is not None and c.start_time is not None:
            # from the container's start, or from 0 where another stream starts before it (audio priming)
            start = max(0.0, first - max(c.start_time / 1e6, 0.0))
        whole = _whole(c)
        if whole is not None and start >= whole:  # nonsense (a wrapped time stamp): the first frame at 0
            start = 0.0
        if length:
            return start, start + length
        if tag and matroska and tag > start:  # FFmpeg writes where the track ends on that time line, not its length
            return start, tag
        return start, (start + tag if tag else whole)
    except Exception:  # no video stream, or PyAV cannot tell: OpenCV's view, as before
        return 0.0, None


def _late(c) -> float:
    """The container's first time stamp (all its streams) where it is well after 0 (over :data:`LATE_S` and 3
    frames) and the container states a time line from 0: its duration reaches from 0 to where the video ends (a
    Matroska file whose first cluster was lost: the segment's 6 s, the frames from 1 s to 6 s), not from that first
    time stamp (an MPEG-TS's clock starts anywhere: its duration counts from its first packet). 0.0 otherwise."""
    try:
        first = c.start_time / 1e6 if c.start_time is not None else 0.0
        whole = _whole(c)
        s = video_stream(c)
        rate = float(s.average_rate or s.codec_context.framerate or 0)
        if whole is None or first <= max(LATE_S, 3 / rate if rate > 0 else 0.0):
            return 0.0
        start, length, tag, matroska = _track(c)
        if start is None:  # where the video starts is not stated: not judged
            return 0.0
        end = start + length if length else (tag if matroska else None)  # a Matroska tag: where the track ends
        return round(first, 3) if end is not None and end < whole + first / 2 else 0.0
    except Exception:  # no video stream, or PyAV cannot tell: not judged
        return 0.0


def _lost(c, start_s: float, late_s: float) -> tuple[float, bool, bool]:
    """:attr:`VideoProbe.lost_s`: a Matroska/WebM file that starts late (``late_s``: its segment's time line from 0,
    nothing before it) whose video is what starts there (``start_s``): the seconds before it. An MPEG-TS whose first
    video packets come before its first keyframe (they cannot be decoded: a lost keyframe, a stream joined part-way):
    how far the earliest time of those is before FFmpeg's start for the stream (its first packet's time; they are read
    until one is decoded at or after the earliest time so far, which no later one can then be before). An MPEG-TS
    states no start of its own (its PAT and PMT hold no time; its PCR runs ahead of the frames by the muxer's own
    delay), so a keyframe lost with its packets takes its time with it: the frames are counted from the earliest
    packet left. 0.0 otherwise. With it, whether it is an MPEG-TS's and whether a Matroska file's
    (:attr:`VideoProbe.start_unstated`, :attr:`VideoProbe.start_late`)."""
    try:
        kinds = c.format.name.split(",")
        if "matroska" in kinds:
            lost = start_s if late_s and start_s - late_s <= LATE_S else 0.0
            return lost, False, bool(lost)
        if "mpegts" not in kinds:
            return 0.0, False, False
        s = video_stream(c)
        if s.start_time is None or not s.time_base:
            return 0.0, False, False
        earliest = None
        for k, packet in enumerate(c.demux(s)):
            if packet.is_keyframe or k >= LEAD_PACKETS:
                break
            decoded = packet.dts if packet.dts is not None else packet.pts
            if earliest is not None and decoded is not None and decoded >= earliest:
                # packets come in decoding order, none shown before it is decoded: no later one is earlier (a stream
                # whose parser flags no keyframe, H.264 with intra refresh, was read to LEAD_PACKETS at each probe)
                break
            if packet.pts is not None and packet.size:
                earliest = packet.pts if earliest is None else min(earliest, packet.pts)
        lost = max(0.0, float((s.start_time - earliest) * s.time_base)) if earliest is not None else 0.0
        return lost, bool(lost), False
    except Exception:  # PyAV cannot tell: not judged
        return 0.0, False, False


def _moved(c, lost_s: float) -> float:
    """How far an MPEG-TS's video moves on its container's time line where it began ``lost_s`` before FFmpeg's
    start for it: as far as that is before the container's start (its other streams' first packets). Not asked of
    Matroska (its time line is the segment's)."""
    try:
        s = video_stream(c)
        return max(0.0, c.start_time / 1e6 - (float(s.start_time * s.time_base) - lost_s))
    except Exception:
        return 0.0


def _clock_seconds(text: str | None) -> float | None:
    """``'00:01:02.500000000'`` -> 62.5 (Matroska's per-stream DURATION tag); None for anything else."""
    try:
        h, m, sec = str(text).split(":")
        value = int(h) * 3600 + int(m) * 60 + float(sec)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None
