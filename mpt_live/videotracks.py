"""What a file's video tracks are, beside the one OpenCV reads, and how its colours are coded: the header facts
phones and editors leave that change what a run sees, each said once with the file's other warnings.

OpenCV reads a file's first video track whatever the container's disposition says: a phone's depth or
thumbnail track before the recording (the recording flagged default), a still picture first. The tracks are
listed (:func:`video_tracks`) and :func:`track_notes` says which one is read and that the others are left out,
and plainly when the one read is not the recording, with the ``ffmpeg -map 0:v:N`` that extracts it.

An HDR recording (HLG or PQ transfer, BT.2020 primaries, 10-bit) reaches the run converted to 8 bits without
tone mapping (:func:`hdr_note`).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from pathlib import Path

SMALL = 0.5  # a first track whose width and height are both under this share of the default track's: not the recording
HDR_TRANSFERS = {16: "PQ", 18: "HLG"}  # FFmpeg's AVColorTransferCharacteristic: SMPTE ST 2084, ARIB STD-B67
BT2020 = 9  # FFmpeg's AVColorPrimaries


@dataclass(frozen=True)
class VideoTrack:
    """One video track: ``n`` its place among the file's video tracks (FFmpeg's ``0:v:n``), its size, its rate
    (None where none is stated), the frames its header lists (0: none), whether it is flagged default and
    whether it is an attached picture (a thumbnail or cover, not a recording)."""

    n: int
    width: int
    height: int
    fps: float | None
    frames: int
    default: bool
    picture: bool

    @property
    def still(self) -> bool:
        return self.picture or self.frames == 1

    def describe(self) -> str:
        rate = "a still picture" if self.still else (f"{self.fps:.4g} fps" if self.fps else "no stated rate")
        return f"track 0:v:{self.n}, {self.width}x{self.height}, {rate}{', default' if self.default else ''}"


def is_picture(stream) -> bool:
    """Whether a stream is an attached picture (FFmpeg's AV_DISPOSITION_ATTACHED_PIC): cover art, not a recording."""
    try:
        return bool(int(stream.disposition) & 1024)
    except Exception:
        return False


def video_tracks(c) -> tuple[VideoTrack, ...]:
    """The video tracks of an open PyAV container, in file order (empty where PyAV cannot tell)."""
    try:
        out = []
        for n, s in enumerate(c.streams.video):
            rate = s.average_rate or s.base_rate
            fps = float(rate) if rate and not is_picture(s) and 0 < float(rate) <= 1000 else None
            out.append(VideoTrack(n, int(s.codec_context.width or 0), int(s.codec_context.height or 0), fps,
                                  int(s.frames or 0), bool(int(s.disposition) & 1), is_picture(s)))
        return tuple(out)
    except Exception:
        return ()


def hdr_transfer(stream) -> str | None:
    """``'HLG'`` or ``'PQ'`` where a video stream's colours are coded for HDR (its transfer, or BT.2020 primaries at
    over 8 bits: ``'BT.2020'``), None for SDR or where PyAV cannot tell."""
    try:
        cc = stream.codec_context
        if int(cc.color_trc) in HDR_TRANSFERS:
            return HDR_TRANSFERS[int(cc.color_trc)]
        deep = any(b in str(cc.pix_fmt) for b in ("p10", "p12", "p16"))
        return "BT.2020" if int(cc.color_primaries) == BT2020 and deep else None
    except Exception:
        return None


def hdr_note(name: str, hdr: str | None) -> str | None:
    """The one warning of an HDR or wide-gamut video (``hdr``: :func:`hdr_transfer`'s), None for SDR. What it says of
    the results was checked on HLG and PQ copies of three SDR face videos (ffmpeg's zscale, read back here): every
    face still found, frame-to-frame brightness changes 0.7x as strong, correlated 0.66-0.97 with the SDR copy's."""
    if hdr is None:
        return None
    what = "wide-gamut video (BT.2020, over 8 bits)" if hdr == "BT.2020" else f"HDR video ({hdr})"
    return (f"{name}: {what}: its colours are not tone-mapped, so frames reach the run as flat, darker 8-bit "
            "pictures; the face detector and the motion signal work on brightness, whose order this keeps (faces "
            "are still found; motion is weaker, which the spotter's per-region scaling absorbs), so results "
            "probably change little, but the model was trained on SDR video; to be sure, tone-map it first "
            "(ffmpeg's zscale and tonemap filters)")


def track_notes(name: str, tracks: tuple[VideoTrack, ...], size: tuple[int, int] | None = None,
                one_frame: bool = False) -> tuple[list[str], str | None]:
    """``(warnings, error)`` of a file with several video tracks: which one OpenCV reads (the first in file order;
    the one of the decoded frames' ``size`` where that tells it apart) and that the others are left out;
    ``error``: the one read is a still (an attached picture, a 1-frame track) while another is a recording, nothing
    to analyse (``one_frame``: the track read held one frame, a still whose header did not say so). Where a track
    flagged default is left out, the command that extracts it. Nothing for a file with one video track."""
    if len(tracks) < 2:
        return [], None
    read = next((t for t in tracks if size and (t.width, t.height) == size), tracks[0])
    read = replace(read, frames=1) if one_frame and not read.still else read
    others = [t for t in tracks if t.n != read.n]
    moving = [t for t in others if not t.still]
    best = max(moving, key=lambda t: (t.default, t.width * t.height), default=None)
    left = "; ".join(t.describe() for t in others)
    first = " (the first, whatever the file flags as default)" if read.n == 0 else ""
    head = (f"{name}: has {len(tracks)} video tracks; the run reads {read.describe()}{first}, "
            f"and ignores the other{'s' if len(others) > 1 else ''} ({left})")
    out = Path(name).with_name(f"{Path(name).stem}.v{best.n}{Path(name).suffix}") if best is not None else None
    fix = (f"extract it first: ffmpeg -i {shlex.quote(name)} -map 0:v:{best.n} -c copy {shlex.quote(str(out))}"
           if best is not None else "")  # quoted: a name with spaces pastes into a shell as one argument
    if (read.still or one_frame) and best is not None:
        return [], (f"{head}: the track read is a still picture, not the recording; the recording is "
                    f"track 0:v:{best.n}: {fix}")
    if best is not None and best.default and not read.default and read.width < SMALL * best.width \
            and read.height < SMALL * best.height:
        return [(f"{head}: the track read is probably not the recording (much smaller than the default track "
                 f"0:v:{best.n}); {fix}")], None
    if not moving and not read.still:  # a recording and its cover or thumbnail (yt-dlp --embed-thumbnail): as it should be
        return [], None
    if best is not None and best.default and not read.default:  # the track the file flags left out: how to read it
        return [f"{head}; to analyse the default track instead, {fix}"], None
    return [head], None
