"""The review page's video: the original or annotated one when a browser plays it, else ``review.webm``.

The copy is made for viewing, not for analysis: at most :data:`REVIEW_WIDTH` px wide, every frame, no
sound, VP9 at a constant quality (:data:`VP9_CRF`) through PyAV's libvpx (its wheels ship the encoder):
about 2 MB a minute of a 640x480 interview, where OpenCV's VP8 writer (fixed bitrate) made about 18 MB a
minute, a gigabyte an hour, at several times the CPU. Where PyAV has no VP9 encoder the copy is OpenCV's
VP8 as before.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np

from .writers import atomic_path

PLAYABLE = {"avc1", "h264", "x264", "vp80", "vp90", "vp09", "av01"}  # codecs browsers decode
REVIEW_WIDTH = 640  # the transcoded review video at most this wide
VP9_CRF = 36  # constant quality (0-63): faces stay sharp enough to review, at ~2 MB a minute at 640x480
VP9_OPTIONS = {"crf": str(VP9_CRF), "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"}


def playable(path: Path) -> bool:
    """Whether a browser can play ``path`` (by its codec and container)."""
    if path.suffix.lower() not in {".mp4", ".m4v", ".webm", ".mov"}:
        return False
    cap = cv2.VideoCapture(str(path))
    code = int(cap.get(cv2.CAP_PROP_FOURCC) or 0)
    cap.release()
    return "".join(chr((code >> 8 * i) & 0xFF) for i in range(4)).lower() in PLAYABLE


def review_video(out: Path, candidates: Sequence[Path], max_frames: int | None = None) -> str | None:
    """The page's video, relative to ``out``: the first candidate a browser plays, else a VP9 (or VP8) copy
    of the first that exists (``review.webm``; its first ``max_frames`` frames when given); None when there
    is none or the copy could not be made (a full disk, no encoder)."""
    found = [Path(c) for c in candidates if c is not None and Path(c).is_file()]
    for c in found:
        if playable(c):
            return Path(os.path.relpath(c.resolve(), out.resolve())).as_posix()
    if not found:
        return None
    cap = cv2.VideoCapture(str(found[0]))
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 30.0)
    fps = fps if np.isfinite(fps) and fps > 0 else 30.0
    try:
        with atomic_path(out / "review.webm") as tmp:
            try:
                written = _encode(tmp, _frames(cap, max_frames), fps)
            finally:
                cap.release()
            if not written or not _readable(tmp):  # OpenCV's writer fails silently (a full disk, no encoder)
                raise _NoVideo
    except _NoVideo:  # the temporary file is gone: no empty review.webm beside the page
        return None
    return "review.webm"


def vp9_available() -> bool:
    """Whether PyAV can encode VP9 here (its PyPI wheels bundle libvpx)."""
    try:
        import av

        av.codec.Codec("libvpx-vp9", "w")
        return True
    except Exception:  # no PyAV, or a build without libvpx
        return False


def _frames(cap: cv2.VideoCapture, max_frames: int | None) -> Iterator[np.ndarray]:
    """The video's frames, at most ``REVIEW_WIDTH`` wide, both sides even (4:2:0 needs them even)."""
    n = 0
    while max_frames is None or n < max_frames:
        ok, img = cap.read()
        if not ok:
            return
        n += 1
        h, w = img.shape[:2]
        tw = min(w, REVIEW_WIDTH) // 2 * 2
        th = max(2, int(round(h * tw / w / 2)) * 2)
        if (tw, th) != (w, h):
            img = cv2.resize(img, (max(tw, 2), th), interpolation=cv2.INTER_AREA)
        yield img


def _encode(path: Path, frames: Iterator[np.ndarray], fps: float) -> int:
    """Write ``frames`` to ``path`` (WebM); the number written (0: nothing could be written)."""
    if not vp9_available():
        return _encode_vp8(path, frames, fps)
    import av

    n = 0
    try:
        with av.open(str(path), "w", format="webm") as box:
            stream = None
            for img in frames:
                if stream is None:
                    stream = box.add_stream("libvpx-vp9", rate=Fraction(fps).limit_denominator(100000))
                    stream.width, stream.height, stream.pix_fmt = img.shape[1], img.shape[0], "yuv420p"
                    stream.options = {**VP9_OPTIONS, "g": str(max(1, round(4 * fps)))}  # a keyframe every 4 s: quick seeks
                frame = av.VideoFrame.from_ndarray(img, format="bgr24")
                frame.pts = n
                box.mux(stream.encode(frame))
                n += 1
            if stream is not None:
                box.mux(stream.encode())
    except (OSError, av.FFmpegError):  # a full disk, an encoder that refused the size
        return 0
    return n


def _encode_vp8(path: Path, frames: Iterator[np.ndarray], fps: float) -> int:
    writer, n = None, 0
    try:
        for img in frames:
            if writer is None:
                with _without_tag_warning():
                    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"VP80"), fps, img.shape[1::-1])
            writer.write(img)
            n += 1
    finally:
        if writer is not None:
            writer.release()
    return n


@contextlib.contextmanager
def _without_tag_warning():
    """Drop OpenCV's native "tag ... is not supported with codec id" line (its FFmpeg writer prints it for
    every WebM file, then writes VP8 as asked); anything else printed meanwhile is passed on."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded): nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as buf:
        os.dup2(buf.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            buf.seek(0)
            for line in buf.read().decode(errors="replace").splitlines(keepends=True):
                if "is not supported with codec id" not in line:
                    sys.stderr.write(line)


class _NoVideo(Exception):
    """The review copy could not be made."""


def _readable(path: Path) -> bool:
    """Whether ``path`` is a video whose first frame decodes."""
    cap = cv2.VideoCapture(str(path))
    try:
        return bool(cap.isOpened() and cap.read()[0])
    finally:
        cap.release()
