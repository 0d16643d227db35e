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

* MPEG-PS (.mpg, .vob, a camcorder's .mod): it states no length, and FFmpeg does not end it with the program end
  code (00 00 01 B9; other muxers may). It is a sequence of packs, each a pack header (12 bytes in MPEG-1, 14 and
  its stuffing in MPEG-2) and packets (a start code, a stream ID and the length of the rest): one that runs past
  the file's end is a file cut short (one cut where a pack or a packet ends is not seen: a VOB's packs are 2048
  bytes). Walked over its first and last few megabytes (:func:`ps_cut`), not the whole file.

A file cut exactly where an element or packet ends cannot be told from one that ends there, and is not called cut
(an Ogg file's missing end-of-stream page tells it there).
"""

from __future__ import annotations

import functools
import mmap
import os
import re

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
        if "mpeg" in kinds:
            return ps_cut(path)
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


PS_START = b"\x00\x00\x01"  # an MPEG-PS start code's prefix; its fourth byte says what follows
PS_PACK, PS_END, PS_SYSTEM = 0xBA, 0xB9, 0xBB  # a pack header, the program end code, the system header (the first
# of the codes stating their length; stream IDs 0xBC-0xFF, each packet's, do too)
PS_NONZERO = re.compile(rb"[^\x00]")
PS_PACK_CODE = PS_START + bytes([PS_PACK])
# the bytes of a program stream walked at its start and at its end (a pack header at least every 0.7 s: 4 MiB holds
# many at any DVD or camcorder rate, and a packet is at most 64 KiB); a file of both or less is walked whole
PS_HEAD = PS_TAIL = 1 << 22
PS_CHAIN = 2  # pack headers a walk passes before it stops for it to have followed the stream's own packs (one in a
# packet's data leads to bytes that are no start code)


def ps_cut(path: str | os.PathLike, whole: bool = False) -> str | None:
    """Where an MPEG program stream's packs and packets (each stating its length) say it ends, against where it does;
    None where the last one ends with the file, or where something other than a pack or packet follows one (not
    judged: a stream with junk in it, an elementary stream). Its first :data:`PS_HEAD` bytes are walked (a program
    stream from its start), then its last :data:`PS_TAIL` from the first pack header there whose packs and packets
    reach the file's end or run past it (a start code inside a packet's data leads to no such chain; no such pack
    there: walked on from the head, to the end), so a file of any size is walked over a few megabytes (a 4.01 GB VOB
    walked whole took 1.3-1.6 s of CPU, head and tail 3 ms: README, ``python bench/ps_cut.py --gb 4 --runs 3``);
    the middle is not looked at (junk there is not seen, the end still judged). ``whole``: the whole file walked, as
    before (bench/ps_cut.py's baseline)."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size < 4:
            return None
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
            if whole or size <= PS_HEAD + PS_TAIL:
                said = _ps_walk(m, 0, size)[0]
            else:
                said, at, _ = _ps_walk(m, 0, size, until=PS_HEAD)
                if said is True:
                    said = _ps_tail(m, size, at)
    return said if isinstance(said, str) else None


def _ps_tail(m: mmap.mmap, size: int, at: int) -> str | bool:
    """:func:`_ps_walk` of the file's last :data:`PS_TAIL` bytes, from the first pack header there whose walk reaches
    the end (or a cut); from ``at`` where none does and no chain of packs was found there. A walk that passed
    :data:`PS_CHAIN` pack headers before it stopped at something else followed the stream's own chain: the pack
    headers it passed lead to the same place, and the next candidate is looked for after it (each byte walked about
    once: junk at the end, after the last pack, is found once, not from each of the tail's ~2000 packs); where no
    later one reaches the end, not judged (False, as the whole walk says), and the file is not walked again."""
    cand, chained = m.find(PS_PACK_CODE, size - PS_TAIL), False
    while cand >= 0:
        said, stop, packs = _ps_walk(m, cand, size)
        if said is not False:
            return said
        chained |= packs >= PS_CHAIN
        cand = m.find(PS_PACK_CODE, stop if packs >= PS_CHAIN else cand + 1)
    return False if chained else _ps_walk(m, at, size)[0]


def _ps_walk(m: mmap.mmap, at: int, size: int, until: int | None = None) -> tuple[str | bool, int, int]:
    """The packs and packets of the program stream ``m`` walked from ``at`` (a start code) to the file's end (or to
    ``until``): (a few words where one runs past the file's end; True where the walk reaches its end, or zeros to the
    end, or ``until``; False where something other than a pack or packet follows one), where it stopped, and the pack
    headers it passed."""
    stop, packs = (size if until is None else min(until, size)), 0
    while at + 4 <= size and at < stop:
        if m[at:at + 3] != PS_START:  # zero bytes before the next start code (a VCD's after each pack)?
            nonzero = PS_NONZERO.search(m, at)
            if nonzero is None:
                return True, at, packs  # zeros to the end: not judged
            if m[at] or nonzero.start() - at < 2 or m[nonzero.start()] != 1:
                return False, at, packs  # anything else
            at = nonzero.start() - 2
        code = m[at + 3]
        if code == PS_PACK:
            if at + 5 > size:
                end = at + 14
            elif m[at + 4] >> 6 == 1:  # MPEG-2: 14 bytes, then up to 7 of stuffing
                end = at + 14 + (m[at + 13] & 7 if at + 14 <= size else 0)
            elif m[at + 4] >> 4 == 2:  # MPEG-1
                end = at + 12
            else:
                return False, at, packs
            packs += 1
        elif code == PS_END:
            end = at + 4
        elif code >= PS_SYSTEM:
            end = at + 6 + (int.from_bytes(m[at + 4:at + 6], "big") if at + 6 <= size else 0)
        else:
            return False, at, packs
        if end > size:
            what = "pack header" if code == PS_PACK else "packet"
            return f"ends part-way through an MPEG-PS {what} ({size} bytes of the {end} its header states)", at, packs
        at = end
    return True, at, packs


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
        with av.logging.Capture() as logs, quiet_fd(2), av.open(path, metadata_errors="replace") as c:
            first = next((st.index for st in c.streams.video if not is_picture(st)), -1)  # videoprobe's first video
            for packet in c.demux():
                video += packet.stream_index == first and packet.size > 0
    except Exception:  # PyAV raised on the broken end itself: its captured lines still tell (its count does not)
        video = 0
    finally:
        av.logging.set_level(level)
        av.logging.set_skip_repeated(repeated)
    return any(MATROSKA_CUT in line[2] for line in logs), video
