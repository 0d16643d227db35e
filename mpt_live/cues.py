"""Whether a Matroska/WebM file whose frames begin late on its segment's time line lost its first cluster, or states
that late start itself, from its Cues (the index of its clusters by time).

A segment's time line runs from 0, and FFmpeg's start for the video is its first block read. Where that is well
after 0, either the first cluster was lost (damage: its bytes gone, FFmpeg reading on from the next cluster) or the
file's clusters begin there (``ffmpeg -output_ts_offset``, a copy cut without re-timing, a recorder that stamps its
clock): the first is a damaged start (its frames counted), the second a file that starts where its first frame is,
as an MP4 with the same offset reads. The Cues tell them apart: a muxer indexes the clusters as it writes them, so a
lost first cluster is still listed there, at its own time, before the first frame read. FFmpeg's index of the
stream (PyAV's ``index_entries``) is no help: it holds the keyframes FFmpeg has read, and it did not take the Cues'
entry of a first cluster whose bytes were lost. :func:`first_cue_s` reads the first CuePoint's time where the
SeekHead says the Cues are (the few EBML elements on the way: Segment, SeekHead entry, Info's TimestampScale). A
file without Cues (a live recording's, one written to a pipe, one whose Cues were dropped) is walked instead
(:func:`first_cluster_s`): the Segment's top-level elements one after the other, by their sizes, to the first
Cluster, whose Timestamp is where it begins. A lost first cluster whose bytes are still a cluster (a block's header
zeroed) keeps its own Timestamp there; one overwritten breaks the walk (bytes that are no top-level element): None,
not judged. :func:`segment_start_s`: the Cues' answer, else the walk's.
"""

from __future__ import annotations

from pathlib import Path

# the SeekHead's entry for the Cues: SeekID (0x53AB), its size (1 byte: 4), the Cues' element ID (0x1C53BB6B); then
# its SeekPosition (0x53AC): where the Cues are, from the start of the Segment's data
CUES_SEEK = b"\x53\xab\x84\x1c\x53\xbb\x6b"
SEGMENT, SEEK_POSITION, TIMESTAMP_SCALE = b"\x18\x53\x80\x67", b"\x53\xac", b"\x2a\xd7\xb1"
CUES, CUE_POINT, CUE_TIME = b"\x1c\x53\xbb\x6b", 0xBB, 0xB3
HEAD_BYTES = 1 << 16  # the file's start searched (the EBML header, the segment's SeekHead and Info)
CLUSTER, CLUSTER_TIMESTAMP = b"\x1f\x43\xb6\x75", 0xE7
# the Segment's top-level elements a walk to its first Cluster passes over: SeekHead, Info, Tracks, Cues, Tags,
# Chapters, Attachments, and the one-byte Void and CRC-32
LEVEL_1 = {b"\x11\x4d\x9b\x74", b"\x15\x49\xa9\x66", b"\x16\x54\xae\x6b", CUES, b"\x12\x54\xc3\x67",
           b"\x10\x43\xa7\x70", b"\x19\x41\xa4\x69", b"\xec", b"\xbf"}
WALK = 64  # top-level elements passed over at most before the first Cluster (each one read of 64 bytes)


def _vint(d: bytes, i: int) -> tuple[int, int]:
    """An EBML variable-length number at ``d[i]`` (its length marker removed) and the index after it."""
    n = 9 - d[i].bit_length()  # its length: the leading zero bits of its first byte, plus one
    if not 1 <= n <= 8 or i + n > len(d):
        raise ValueError("not an EBML number")
    return int.from_bytes(d[i:i + n], "big") & ((1 << (7 * n)) - 1), i + n


def _child(d: bytes, i: int, end: int, wanted: int) -> int:
    """The index of the first element with the one-byte ID ``wanted`` among the elements from ``d[i]`` to ``end``
    (each an ID, its size, its data); ValueError where there is none."""
    while i < end:
        if d[i] == wanted:
            return i
        i = sum(_vint(d, _vint(d, i)[1]))  # past the element's ID and size, and its data
    raise ValueError("no such element")


def _scale(head: bytes) -> int:
    """Info's TimestampScale (ns) in the file's first bytes ``head``, its default where it is not stated."""
    if (k := head.find(TIMESTAMP_SCALE)) >= 0:
        n, k = _vint(head, k + 3)
        return int.from_bytes(head[k:k + n], "big") or 1_000_000
    return 1_000_000


def first_cue_s(path: str | Path) -> float | None:
    """The time (s, on the segment's time line) of the first CuePoint of the Matroska file ``path``: where its first
    cluster began, whether or not that cluster can still be read; None where the file lists no Cues in its SeekHead,
    or they cannot be read so."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
            seg, at = head.find(SEGMENT), head.find(CUES_SEEK)
            if seg < 0 or at < 0 or head[at + 7:at + 9] != SEEK_POSITION:
                return None
            start = _vint(head, seg + 4)[1]  # the Segment's data
            size, i = _vint(head, at + 9)
            fh.seek(start + int.from_bytes(head[i:i + size], "big"))
            cues = fh.read(64)
        scale = _scale(head)
        if not cues.startswith(CUES):
            return None
        point = _child(cues, _vint(cues, 4)[1], len(cues), CUE_POINT)  # after a CRC-32 (FFmpeg writes one), a Void
        size, i = _vint(cues, point + 1)
        at = _child(cues, i, min(i + size, len(cues)), CUE_TIME)
        n, i = _vint(cues, at + 1)
        return int.from_bytes(cues[i:i + n], "big") * scale / 1e9
    except (OSError, ValueError, IndexError):
        return None


def first_cluster_s(path: str | Path) -> float | None:
    """The Timestamp (s, on the segment's time line) of the first Cluster of the Matroska file ``path``, reached by
    walking the Segment's top-level elements from its start (each passed over by its size, :data:`WALK` at most);
    None where the walk meets bytes that are no such element (an overwritten cluster, a file that is not Matroska)
    or cannot be read so. A file without Cues whose whole first cluster was lost (cut out, not overwritten) leaves no
    trace of it: its next cluster is the first here, and the file reads as a clean late start (it read as a damaged
    start before segment_start_s looked here)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
            if (seg := head.find(SEGMENT)) < 0:
                return None
            pos, scale = _vint(head, seg + 4)[1], _scale(head)
            for _ in range(WALK):
                fh.seek(pos)
                d = fh.read(64)
                n = 9 - d[0].bit_length()  # the element ID's length (its marker kept in the ID)
                size, i = _vint(d, n)
                if d[:n] == CLUSTER:
                    at = _child(d, i, len(d), CLUSTER_TIMESTAMP)  # after a CRC-32 (FFmpeg writes one)
                    n, i = _vint(d, at + 1)
                    return int.from_bytes(d[i:i + n], "big") * scale / 1e9
                if d[:n] not in LEVEL_1:
                    return None
                pos += i + size  # an element of unknown size (all ones) ends the walk: nothing read there
    except (OSError, ValueError, IndexError):
        return None
    return None


def segment_start_s(path: str | Path) -> float | None:
    """Where the Matroska file ``path``'s first cluster began: its first CuePoint's time (:func:`first_cue_s`),
    else, for a file without Cues, its first Cluster's Timestamp (:func:`first_cluster_s`); None where neither can
    be read."""
    cue = first_cue_s(path)
    return cue if cue is not None else first_cluster_s(path)
