"""Whether a video file is interlaced: the opencv-python wheel's FFmpeg gives an interlaced frame black ("Cannot
convert interlaced to progressive frames", the read still succeeding), so such a file is read by PyAV
(:mod:`mpt_live.pyav_capture`), not deinterlaced. A probe (:func:`mpt_live.videoprobe.probe_video`) records the answer
for the files it looks at; a reader that probes nothing (training's, ``mpt-synth --faces``) asks :func:`is_interlaced`,
and a URL (never probed) is looked at by the PyAV capture that opens it, which reads it where it is interlaced
(:func:`mpt_live.pyav_capture.url_capture`: its one open).
"""

from __future__ import annotations

import os

from .quiet import quiet_fd
from .videotracks import is_picture

FIELDS: dict[tuple[str, int, int, int], bool] = {}  # files (path, size, mtime, inode) whose field order was looked at
FIRST_PACKETS = 30  # a stream of unknown field order: its packets decoded at most for its first frame's flag


def is_interlaced(path: str | os.PathLike) -> bool:
    """Whether the local file ``path`` (as it is now) holds interlaced video: a probe's answer where this process
    probed it, else one PyAV open for that fact alone (:func:`stream_interlaced` of its first video stream that is not
    an attached picture); False where PyAV cannot open it (OpenCV reads it, as before)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in FIELDS:
        FIELDS[key] = _opened_interlaced(key[0])
    return FIELDS[key]


def _opened_interlaced(target: str) -> bool:
    """One PyAV open of the file ``target`` for that fact alone:
    :func:`stream_interlaced` of its first video stream that is not an attached picture; False with no PyAV or where
    it cannot open it."""
    try:
        import av
    except ImportError:
        return False
    try:
        with quiet_fd(2), av.open(target, metadata_errors="replace") as c:
            s = next((s for s in c.streams.video if not is_picture(s)), None)
            return s is not None and stream_interlaced(s)
    except (av.FFmpegError, OSError, ValueError):
        return False


URLS: dict[str, bool] = {}  # URLs whose field order was looked at, as they were opened (pyav_capture.url_capture)


def stream_interlaced(s, first=None) -> bool:
    """Whether the video stream ``s`` is interlaced: its field order as FFmpeg found it (top or bottom field first,
    MPEG-2, H.264 coded as fields); where it found none (DV, MJPEG), its first frame's own flag (``first``, where the
    caller decoded it, else the stream's first :data:`FIRST_PACKETS` packets decoded at most). A frame coded
    progressive in a stream tagged interlaced is read as OpenCV reads it: only frames flagged interlaced come out
    black."""
    order = s.codec_context.field_order  # FFmpeg's AVFieldOrder: 0 unknown, 1 progressive, 2-5 the field orders
    if order != 0:
        return order > 1
    if first is not None:
        return bool(first.interlaced_frame)
    try:
        s.container.seek(0, stream=s)
        for k, packet in enumerate(s.container.demux(s)):
            if k >= FIRST_PACKETS:
                break
            for frame in packet.decode():
                return bool(frame.interlaced_frame)
    except Exception:  # a file that cannot seek, a first packet that does not decode: read as before (OpenCV)
        pass
    return False
