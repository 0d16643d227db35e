"""Whether a video file is interlaced: the opencv-python wheel's FFmpeg gives an interlaced frame black ("Cannot
convert interlaced to progressive frames", the read still succeeding), so such a file is read by PyAV
(:mod:`mpt_live.pyav_capture`), not deinterlaced. A probe (:func:`mpt_live.videoprobe.probe_video`) records the answer
for the files it looks at; a reader that probes nothing (training's, ``mpt-synth --faces``) asks :func:`is_interlaced`,
and a URL (never probed) :func:`url_interlaced`.
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


def _opened_interlaced(target: str, **options: float) -> bool:
    """One PyAV open of ``target`` (a file, a URL; ``options`` to ``av.open``) for that fact alone:
    :func:`stream_interlaced` of its first video stream that is not an attached picture; False with no PyAV or where
    it cannot open it."""
    try:
        import av
    except ImportError:
        return False
    try:
        with quiet_fd(2), av.open(target, metadata_errors="replace", **options) as c:
            s = next((s for s in c.streams.video if not is_picture(s)), None)
            return s is not None and stream_interlaced(s)
    except (av.FFmpegError, OSError, ValueError):
        return False


URLS: dict[str, bool] = {}  # URLs whose field order was looked at (once a process: a stream reconnects)


def url_interlaced(url: str, timeout_s: float) -> bool:
    """Whether the video at ``url`` (a recording over http(s), a stream) is interlaced: one PyAV open of it, each
    wait for data bounded by ``timeout_s`` (a stalled server is no hang), :func:`stream_interlaced` of its first video
    stream that is not an attached picture; False where PyAV cannot open it so (OpenCV reads it, as before). Asked
    once a process for a URL."""
    if url not in URLS:
        URLS[url] = _opened_interlaced(url, timeout=timeout_s)
    return URLS[url]


def stream_interlaced(s) -> bool:
    """Whether the video stream ``s`` is interlaced: its field order as FFmpeg found it (top or bottom field first,
    MPEG-2, H.264 coded as fields); where it found none (DV, MJPEG), its first frame's own flag (the stream's first
    :data:`FIRST_PACKETS` packets decoded at most). A frame coded progressive in a stream tagged interlaced is read as
    OpenCV reads it: only frames flagged interlaced come out black."""
    order = s.codec_context.field_order  # FFmpeg's AVFieldOrder: 0 unknown, 1 progressive, 2-5 the field orders
    if order != 0:
        return order > 1
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
