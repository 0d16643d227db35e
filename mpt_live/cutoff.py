"""Whether a recording that states no length of its own ends part-way through its last piece of data.

An MP4's index, or a Matroska header's duration, says where a video ends, and frames that stop well before that
are a truncated file (:mod:`mpt_live.frametimes`). A WebM written as a stream (a browser's MediaRecorder, a live
encoder, an OBS recording that was never finished: no duration, no index) and an MPEG-TS state no end at all, so
a copy cut short looked whole by its frames. Where the bytes stop tells instead:

* Matroska/WebM: FFmpeg's demuxer reads each element by the size it states, and logs "File ended prematurely"
  when the file stops inside one (a block or a cluster cut mid-way). The packets are read to the end (not
  decoded) with FFmpeg's log lines of that read captured through PyAV.
* MPEG-TS: a sequence of fixed-size packets (188 bytes; 192 in an M2TS/AVCHD file, 204 with error-correction
  bytes), each starting with the sync byte 0x47: a whole file is a whole number of them.

A file cut exactly where an element or packet ends cannot be told from one that ends there, and is not called cut.
"""

from __future__ import annotations

import os

from .quiet import quiet_fd
from .videoprobe import VideoProbe

MATROSKA_CUT = "File ended prematurely"  # FFmpeg's Matroska demuxer, for a file that stops inside an element
TS_PACKETS = ((188, 0), (192, 4), (204, 0))  # (packet size, where its sync byte is): MPEG-TS, M2TS, TS with FEC
SYNC = 0x47


def cut_off(path: str | os.PathLike, probe: VideoProbe | None) -> str | None:
    """How a local video that states no end of its own (``probe``: its header probe) ends part-way through, in a
    few words; None when it ends whole, states its end (the frames are checked against that), or cannot be told."""
    if probe is None or probe.container is None:
        return None
    kinds = probe.container.split(",")
    try:
        if "mpegts" in kinds:
            return _ts_cut(path)
        if ("matroska" in kinds or "webm" in kinds) and probe.end_s is None:
            return _matroska_cut(path)
    except OSError:
        return None
    return None


def _ts_cut(path: str | os.PathLike) -> str | None:
    with open(path, "rb") as fh:
        head = fh.read(4 * max(n for n, _ in TS_PACKETS) + 4)
        size = os.fstat(fh.fileno()).st_size
    for n, at in TS_PACKETS:
        if len(head) > at + 3 * n and all(head[at + k * n] == SYNC for k in range(4)):
            if size % n == 0:
                return None
            return f"ends part-way through a {n}-byte transport stream packet ({size} bytes, not a whole number of them)"
    return None  # not packets of a size known here (a stream with junk before it): not judged


def _matroska_cut(path: str | os.PathLike) -> str | None:
    try:
        import av
        import av.logging
    except ImportError:
        return None
    level, repeated, logs = av.logging.get_level(), av.logging.get_skip_repeated(), []
    try:
        av.logging.set_level(av.logging.ERROR)
        av.logging.set_skip_repeated(False)  # PyAV drops a line the same as the last it logged: the second cut file's
        with av.logging.Capture() as logs, quiet_fd(2), av.open(str(path)) as c:
            for _ in c.demux():
                pass
    except Exception:  # PyAV raised on the broken end itself: its captured lines still tell
        pass
    finally:
        av.logging.set_level(level)
        av.logging.set_skip_repeated(repeated)
    if any(MATROSKA_CUT in line[2] for line in logs):
        return f"ends part-way through its last cluster of frames (FFmpeg: '{MATROSKA_CUT}')"
    return None
