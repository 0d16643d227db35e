"""Whether an MP4/MOV's H.264 or HEVC video changes frame size part-way: parts of different sizes joined without
re-encoding (``ffmpeg -f concat -i list.txt -c copy``).

Such a file states one size, its first part's, in its header. Each part's keyframes carry that part's own parameter
sets (FFmpeg's concat demuxer puts them in every keyframe), and a decoder goes by them: PyAV gives each frame at its
own size, while OpenCV's FFmpeg reader gives every frame at the header's size (a 1280x480 part read as 640x480: the
faces squeezed to half their width, with no error). :func:`size_changes` finds the parts without decoding the video:
it reads the head of each keyframe at the place the file's index gives for it (a few kB each), compares its sequence
parameter set with the one before, and decodes a keyframe only where it changed (the new size). Other containers
state no index of every frame (MPEG-TS, Matroska, a raw H.264 or HEVC stream): not judged, and read by OpenCV at the
first part's size without a word. Their packets could be read in turn (demuxed, not decoded: that finds the change in
all three), but that reads the whole file at every probe, which keeps to a few packets of an MPEG-TS
(``tests/test_damaged_starts.py``). An HEVC MP4 joined by ``-c copy`` whose parts carry their parameter sets only
in their headers (x265's default) keeps the first part's alone: its later parts' size is in no part of the file (not
found, its later parts decoded at the first size by PyAV too); with them in every keyframe (``repeat-headers=1``) it
is found.
"""

from __future__ import annotations

from .opengop import nal_units

HEAD = 8192  # bytes of each keyframe read for its parameter sets (they come before its slices; an x264 SEI is < 1 kB)
MOST_KEYFRAMES = 20000  # keyframes looked at, at most (an hour at one every 0.2 s; an all-intra file is looked at so far)
SPS = {"h264": lambda u: u[0] & 0x1F == 7, "hevc": lambda u: (u[0] >> 1) & 0x3F == 33}  # a sequence parameter set


def length_size(codec: str, extra: bytes) -> int | None:
    """The bytes of length before each NAL unit in a packet (from the avcC / hvcC record of the codec's extradata),
    None where the packets use start codes (no such record)."""
    if codec == "h264" and len(extra) > 4 and extra[0] == 1:
        return (extra[4] & 3) + 1
    if codec == "hevc" and len(extra) > 21 and extra[0] == 1:
        return (extra[21] & 3) + 1
    return None


def size_changes(container, stream, path: str) -> tuple[tuple[int, int, int], ...]:
    """``((frame, width, height), ...)``: where the video ``stream`` of the opened PyAV ``container`` (the file
    ``path``, an MP4/MOV) starts each part of a new frame size, the first at frame 0, frames counted in decoding order
    (an IDR picture's place in showing order too); ``()`` where its size does not change, or it cannot be told (not
    H.264 or HEVC, a container without an index of every frame, a keyframe that does not decode)."""
    if not any(k in container.format.name.split(",") for k in ("mp4", "mov")):
        return ()
    ctx = stream.codec_context
    sps_of = SPS.get(ctx.name)
    if sps_of is None:
        return ()
    extra = bytes(ctx.extradata or b"")
    size_len = length_size(ctx.name, extra)
    entries = stream.index_entries
    parts: list[tuple[int, int, int]] = [(0, int(ctx.width), int(ctx.height))]
    last: bytes | None = None
    with open(path, "rb") as fh:
        keys = (k for k in range(len(entries)) if entries[k].is_keyframe)
        for n, k in enumerate(keys):
            if n >= MOST_KEYFRAMES:
                break
            e = entries[k]
            fh.seek(e.pos)
            sps = next((u for u in nal_units(fh.read(min(e.size, HEAD)), size_len) if u and sps_of(u)), None)
            if sps is None or sps == last:
                continue
            last = sps
            fh.seek(e.pos)
            size = _decoded_size(ctx.name, extra, fh.read(e.size))
            if size is None:
                return ()
            if size != parts[-1][1:]:
                parts.append((k, *size))
    if len(parts) > 1 and parts[1][0] == 0:  # the header's size was not the first frame's
        parts.pop(0)
    return tuple(parts) if len(parts) > 1 else ()


def _decoded_size(codec: str, extra: bytes, data: bytes) -> tuple[int, int] | None:
    """The size of the picture one keyframe packet decodes to (its own parameter sets), None where it decodes none."""
    import av

    try:
        ctx = av.CodecContext.create(codec, "r")
        ctx.extradata = extra or None
        frames = list(ctx.decode(av.Packet(data))) + list(ctx.decode(None))
    except av.FFmpegError:
        return None
    return (frames[0].width, frames[0].height) if frames else None
