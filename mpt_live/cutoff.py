"""Whether a recording that states no length of its own ends part-way through its last piece of data.

An MP4's index, or a Matroska header's duration, says where a video ends, and frames that stop well before that
are a truncated file (:mod:`mpt_live.frametimes`). A WebM written as a stream (a browser's MediaRecorder, a live
encoder, an OBS recording that was never finished: no duration, no index) and an MPEG-TS state no end at all, so
a copy cut short looked whole by its frames. Where the bytes stop tells instead:

* Matroska/WebM: FFmpeg's demuxer reads each element by the size it states, and logs "File ended prematurely"
  when the file stops inside one (a block or a cluster cut mid-way). The packets are read to the end (not
  decoded) with FFmpeg's log lines of that read captured through PyAV; the same read counts the video's packets,
  the frame count such a file's header lacks (:func:`packets`: its reader's end is then one failed read).
* MPEG-TS: a sequence of fixed-size packets (188 bytes; 192 in an M2TS/AVCHD file, 204 with error-correction
  bytes), each starting with the sync byte 0x47: a whole file is a whole number of them.
* AVI: its header counts its frames, but FFmpeg reads an AVI without its index (written last, so a cut copy has
  none) to its last frame and states that as its end, so the frames reach it. Its RIFF chunks (one, and an OpenDML
  file's 'AVIX' chunks after it) state their sizes: a file that ends over 8 bytes before the last one's stated end
  is cut (some writers state the file's length there, 8 bytes more than the chunk's).
* ASF (WMV): FFmpeg gives a copy cut short no duration at all. Its top-level objects (the header, the data, the
  index) state their sizes: one that ends past the file's end was cut (not judged for a broadcast file, whose
  data object's size is not kept).

* Ogg (.ogv): FFmpeg states as its end the last whole page's time, so the frames reach it. Each page states its
  length (a 27-byte header and a table of its segments' sizes, RFC 3533), and each stream's last page carries an
  end-of-stream flag: a page that runs past the file's end, or a stream with no such page, is a file cut short
  (a recorder killed, a copy cut where a page ends).

A file cut exactly where an element or packet ends cannot be told from one that ends there, and is not called cut
(an Ogg file's missing end-of-stream page tells it there).
"""

from __future__ import annotations

import functools
import os

from .quiet import quiet_fd
from .videoprobe import VideoProbe
from .videotracks import is_picture

MATROSKA_CUT = "File ended prematurely"  # FFmpeg's Matroska demuxer, for a file that stops inside an element
TS_PACKETS = ((188, 0), (192, 4), (204, 0))  # (packet size, where its sync byte is): MPEG-TS, M2TS, TS with FEC
SYNC = 0x47
# some AVI writers put the file's length in its RIFF size, not the length less the 8 bytes of name and size: a whole
# file then ends 8 bytes before its stated end (a cut of 8 bytes or less is not seen)
RIFF_SLACK = 8


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
        if "avi" in kinds:
            return _riff_cut(path)
        if "asf" in kinds:
            return _asf_cut(path)
        if "ogg" in kinds:
            return _ogg_cut(path)
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


def _riff_cut(path: str | os.PathLike) -> str | None:
    """Where an AVI's RIFF chunks (8 bytes of name and size, then the size's bytes, padded to an even length) say the
    file ends, against where it does; None where it reaches that end, or where something other than a RIFF chunk
    follows one (not judged)."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        at = 0
        while at + 8 <= size:
            fh.seek(at)
            head = fh.read(8)
            if head[:4] != b"RIFF":
                return None
            end = at + 8 + int.from_bytes(head[4:8], "little")
            if end > size + RIFF_SLACK:
                return f"ends part-way through its RIFF chunk ({size} bytes of the {end} its header states)"
            at = end + (end & 1)
    return None


ASF_HEADER = bytes.fromhex("3026B2758E66CF11A6D900AA0062CE6C")  # the Header Object's GUID, as stored
ASF_FILE_PROPERTIES = bytes.fromhex("A1DCAB8C47A9CF118EE400C00C205365")  # its flags 88 bytes in; bit 0: broadcast


def _asf_cut(path: str | os.PathLike) -> str | None:
    """Where an ASF file's top-level objects (a 16-byte GUID, then their whole size in 8 bytes) say it ends, against
    where it does; None where it reaches that end, for a broadcast file, or where a size makes no sense."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(4096)
        if not head.startswith(ASF_HEADER):
            return None
        props = head.find(ASF_FILE_PROPERTIES)
        if props < 0 or len(head) < props + 92 or head[props + 88] & 1:
            return None
        at = 0
        while at + 24 <= size:
            fh.seek(at)
            n = int.from_bytes(fh.read(24)[16:], "little")
            if n < 24:
                return None
            if at + n > size:
                return f"ends part-way through one of its objects ({size} bytes of the {at + n} its header states)"
            at += n
    return None


OGG_PAGE = b"OggS"  # each page's capture pattern; its header is 27 bytes, then a byte per segment
OGG_EOS = 0x04  # header type flag: the stream's last page


def _ogg_cut(path: str | os.PathLike) -> str | None:
    """Where an Ogg file's pages (each stating its length) say it ends, against where it does, and whether every
    stream in it reached its end-of-stream page; None where it ends whole, or where something other than a page
    follows one (not judged)."""
    open_streams: set[int] = set()
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        at = 0
        while at < size:
            fh.seek(at)
            head = fh.read(27)
            if len(head) < 27 or head[:4] != OGG_PAGE:
                if OGG_PAGE.startswith(head[:4]) and len(head) < 27:  # a page's header cut off
                    return f"ends part-way through an Ogg page's header ({size} bytes)"
                return None
            table = fh.read(head[26])
            end = at + 27 + head[26] + sum(table)
            if len(table) < head[26] or end > size:
                return f"ends part-way through an Ogg page ({size} bytes of the {end} its header states)"
            serial = int.from_bytes(head[14:18], "little")
            (open_streams.discard if head[5] & OGG_EOS else open_streams.add)(serial)
            at = end
    if open_streams:
        which = "its streams" if len(open_streams) > 1 else "a stream"
        return f"ends before the last page of {which} ({size} bytes, no end-of-stream page)"
    return None


def _matroska_cut(path: str | os.PathLike) -> str | None:
    if _matroska_read(path)[0]:
        return f"ends part-way through its last cluster of frames (FFmpeg: '{MATROSKA_CUT}')"
    return None


def packets(path: str | os.PathLike, probe: VideoProbe | None) -> int:
    """The first video stream's packets (its frames, and any it cannot show) in a local Matroska/WebM file that
    states no end, counted by the read :func:`cut_off` makes of it (made once for both): a reader's count where the
    header gives none. 0 for any other file, or where PyAV cannot tell."""
    if probe is None or probe.container is None or probe.end_s is not None or "matroska" not in probe.container:
        return 0
    try:
        return _matroska_read(path)[1]
    except OSError:
        return 0


def _matroska_read(path: str | os.PathLike) -> tuple[bool, int]:
    """Whether FFmpeg found the file cut inside an element, and the first video stream's packets (0 where the read
    stopped on an error), from one read of its packets (not decoded); kept for a file not changed since."""
    st = os.stat(path)
    return _matroska_file(os.path.abspath(path), st.st_size, st.st_mtime_ns, st.st_ino)


@functools.lru_cache(maxsize=16)
def _matroska_file(path: str, size: int, mtime_ns: int, inode: int) -> tuple[bool, int]:
    try:
        import av
        import av.logging
    except ImportError:
        return False, 0
    level, repeated, logs, video = av.logging.get_level(), av.logging.get_skip_repeated(), [], 0
    try:
        av.logging.set_level(av.logging.ERROR)
        av.logging.set_skip_repeated(False)  # PyAV drops a line the same as the last it logged: the second cut file's
        with av.logging.Capture() as logs, quiet_fd(2), av.open(path) as c:
            first = next((st.index for st in c.streams.video if not is_picture(st)), -1)  # videoprobe's first video
            for packet in c.demux():
                video += packet.stream_index == first and packet.size > 0
    except Exception:  # PyAV raised on the broken end itself: its captured lines still tell (its count does not)
        video = 0
    finally:
        av.logging.set_level(level)
        av.logging.set_skip_repeated(repeated)
    return any(MATROSKA_CUT in line[2] for line in logs), video
