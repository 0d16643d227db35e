"""Whether an H.264 stream has open GOPs: keyframes that are recovery points, not IDR pictures, followed (in
decoding order) by B-frames that refer to the picture before them.

A player starting at such a keyframe cannot decode those leading B-frames. Chromium's decoder treats that as a
fatal error: a review page that seeks its video to an event just after an open-GOP keyframe (x264's
``open-gop``, some cameras' and broadcast encoders' files) loses the video (``PIPELINE_ERROR_DECODE``), while
the same file plays from the start. :func:`has_open_gop` looks at the packets of an opened PyAV container,
without decoding them, up to a few keyframes in.

The NAL unit types are those of ITU-T H.264 table 7-1 (5: a slice of an IDR picture); a packet is either in the
length-prefixed form of MP4/MOV/Matroska (the ``avcC`` record in the codec's extradata gives the length size,
ISO/IEC 14496-15) or in the start-code form of a raw or MPEG-TS stream.
"""

from __future__ import annotations

from typing import Iterator

IDR = 5  # nal_unit_type of a slice of an IDR picture
SLICE = 1  # a slice of a non-IDR picture
KEYFRAMES = 1  # keyframes looked at after the first (whose GOP has nothing before it): an encoder makes them alike
MAX_PACKETS = 600  # the look ends here whatever it found (20 s at 30 fps: most encoders put a keyframe every 2-10 s)


def nal_units(data: bytes, length_size: int | None) -> Iterator[bytes]:
    """The NAL units in one packet (header byte first; the last cut short where ``data`` is): ``length_size``
    bytes of length before each unit (MP4's form), or start codes where ``length_size`` is None."""
    if length_size:
        i = 0
        while i + length_size < len(data):
            n = int.from_bytes(data[i:i + length_size], "big")
            yield data[i + length_size:i + length_size + n]
            i += length_size + n
        return
    i = data.find(b"\x00\x00\x01")
    while 0 <= i < len(data) - 3:
        j = data.find(b"\x00\x00\x01", i + 3)
        yield data[i + 3:j if j >= 0 else len(data)]
        i = j


def nal_types(data: bytes, length_size: int | None) -> Iterator[int]:
    """The H.264 NAL unit types in one packet (:func:`nal_units`)."""
    for unit in nal_units(data, length_size):
        if unit:
            yield unit[0] & 0x1F


def has_open_gop(container) -> bool:
    """Whether the first video stream of an opened PyAV ``container`` is H.264 with a keyframe that is not an
    IDR picture while the stream reorders frames (B-frames). False for any other codec, and where the packets
    cannot be read; the container is read on from where it is (open it for this alone)."""
    stream = container.streams.video[0]
    ctx = stream.codec_context
    if ctx.name != "h264" or not getattr(ctx, "has_b_frames", 0):
        return False
    extra = bytes(ctx.extradata or b"")
    length_size = (extra[4] & 3) + 1 if len(extra) > 4 and extra[0] == 1 else None
    keyframes = 0
    for k, packet in enumerate(container.demux(stream)):
        if k >= MAX_PACKETS or keyframes > KEYFRAMES:
            break
        if not packet.is_keyframe or packet.size == 0:
            continue
        keyframes += 1
        types = set(nal_types(bytes(packet), length_size))
        if keyframes > 1 and SLICE in types and IDR not in types:
            return True
    return False
