"""Why a local file that OpenCV cannot open (or reads no frame of) is not a video, in a few words, for the one-line
error: empty, an MP4/MOV cut off before its index was written, no video data, a format FFmpeg does not recognise,
sound or cover art only, or a video stream that holds no frames. (A URL's reason: :mod:`mpt_live.url_reason`.)"""

from __future__ import annotations

import os
from pathlib import Path

from .quiet import quiet_fd
from .videoprobe import ENDS, UNRECOGNISED, VideoProbe, probe_video
from .videotracks import is_picture


def unreadable(path: Path, probe: VideoProbe | None = None) -> str:
    """Why a local file that OpenCV cannot open is not a video, in a few words (``probe``: its header probe, made
    here when the caller has none)."""
    probe = probe_video(path) if probe is None else probe
    try:
        if path.stat().st_size == 0:
            return "the file is empty (0 bytes)"
        with open(path, "rb") as fh:
            head = fh.read(64 * 1024)
    except OSError as e:
        return f"cannot read it: {e.strerror}"
    if head[4:8] == b"ftyp" and not _has_box(path, b"moov"):
        return ("an MP4/MOV without its index ('moov' box): the recording was cut off before it was "
                "finished, or is still being written")
    if probe.failure == ENDS:
        return "the file ends before any video data"
    if probe.failure == UNRECOGNISED:
        return "FFmpeg does not recognise its contents as any video format"
    if probe.failure is None and not probe.has_video:
        art = " (its one picture is cover art)" if probe.cover_art else ""
        return (f"no video stream, {' and '.join(probe.streams)} only{art}" if probe.streams
                else "a container with no streams at all")
    return "OpenCV could not open it"


def holds_video(path: Path) -> bool:
    """Whether the file's first video stream holds a packet of data (False: a stream declared with no frames, as a
    recorder stopped before its first frame or an edit that cut them all leaves beside the sound); True where PyAV
    cannot tell."""
    try:
        import av

        with quiet_fd(2), av.open(str(path), metadata_errors="replace") as c:
            video = next((st for st in c.streams.video if not is_picture(st)), None)
            return video is None or any(p.size > 0 for p in c.demux(video))
    except Exception:  # PyAV missing, or raised on the file: the caller's other message stands
        return True


def _has_box(path: Path, kind: bytes) -> bool:
    """Whether an ISO media file (MP4, MOV) has the top-level box ``kind`` (its boxes walked by their sizes)."""
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        pos = 0
        while pos + 8 <= size:
            fh.seek(pos)
            head = fh.read(16)
            n, name = int.from_bytes(head[:4], "big"), head[4:8]
            if name == kind:
                return True
            if n == 1 and len(head) == 16:  # a 64-bit size follows
                n = int.from_bytes(head[8:16], "big")
            elif n == 0:  # to the end of the file
                return False
            if n < 8:
                return False
            pos += n
    return False
