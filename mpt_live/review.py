"""The review page's video: the original or annotated one when a browser plays it, else ``review.webm``.

The copy (:class:`ReviewSink`) is made by the run itself as it reads such a recording (so its end, or
a stop signal, has no second pass over the video to wait for), else after it (:func:`review_video`); a
recording found damaged as it was read (frames that do not decode) is copied after the run
(:func:`damaged_copy`).
It is made for viewing, not for analysis: at most :data:`REVIEW_WIDTH` px wide, every frame, no
sound, VP9 at a constant quality (:data:`VP9_CRF`) through PyAV's libvpx (its wheels ship the encoder):
about 2 MB a minute of a 640x480 interview, where OpenCV's VP8 writer (fixed bitrate) made about 18 MB a
minute, a gigabyte an hour, at several times the CPU. Where PyAV has no VP9 encoder the copy is OpenCV's
VP8 as before.
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import threading
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from .interrupts import deferred
from .pyav_capture import open_video
from .quiet import held_fd
from .sources import VideoFile, pixel_aspect, square_pixels
from .upright import chosen, extra_turn
from .videoprobe import probe_video

PLAYABLE = {"avc1", "h264", "x264", "vp80", "vp90", "vp09", "av01"}  # codecs browsers decode, as OpenCV's FOURCC
PLAYABLE_CODECS = {"h264", "vp8", "vp9", "av1"}  # the same codecs, as FFmpeg names them (the header probe)
# H.264 in the pixels every browser decodes: 8-bit 4:2:0. Its High 10, 4:2:2 and 4:4:4 profiles (cameras' 10-bit
# 4:2:2 modes, screen recorders set to 4:4:4) play where the browser decodes H.264 itself (Chrome's FFmpeg), not where
# it hands H.264 to the system's decoder, which takes 8-bit 4:2:0 only (Firefox on Windows and macOS, Safari)
BROWSER_H264_PIXELS = {"yuv420p", "yuvj420p", "nv12"}
REVIEW = "review.webm"  # the copy made where a browser cannot play the video
REVIEW_WIDTH = 640  # the transcoded review video at most this wide
VP9_CRF = 36  # constant quality (0-63): faces stay sharp enough to review, at ~2 MB a minute at 640x480
MS = Fraction(1, 1000)  # the copy's time base: the run's times to the millisecond
VP9_OPTIONS = {"crf": str(VP9_CRF), "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"}
CLUSTER_S = 1.0  # a WebM cluster (a run of frames) is closed and written to the disk at least this often
# FFmpeg's Matroska muxer keeps a cluster in memory for up to 5 s and its file buffer holds more: a run killed
# outright (SIGKILL, power, out of memory) left a review.webm of 0 bytes after minutes of video. With a cluster
# flushed as it closes, the file holds every frame but the last CLUSTER_S or so, and plays (a WebM without its
# index and length, as a live stream is).
WEBM_OPTIONS = {"cluster_time_limit": str(round(CLUSTER_S * 1000)), "flush_packets": "1"}
TAG_WARNING = "is not supported with codec id"  # OpenCV's FFmpeg writer says it of every WebM, then writes VP8
QUEUE_FRAMES = 8  # frames the run may be ahead of the copy's encoder (its thread), about 7 MB at 640x480
QUEUE_BYTES = 32 * 2**20  # fewer where large (the source's, before the copy's resize): 5 at 1080p, 2 at 4K


def playable(path: Path) -> bool:
    """Whether a browser can play ``path`` (by its codec and container). The codec is the run's header probe's
    (:func:`mpt_live.videoprobe.probe_video`, kept for a file not changed since): the file is not opened again;
    OpenCV's FOURCC where PyAV could not read it. H.264 with open GOPs is not: Chromium loses the video when the
    page seeks it just after one of their keyframes (an event clicked there); nor H.264 in other pixels than 8-bit
    4:2:0 (:data:`BROWSER_H264_PIXELS`)."""
    if path.suffix.lower() not in {".mp4", ".m4v", ".webm", ".mov"}:
        return False
    probe = probe_video(path)
    if probe.failure is None and probe.codec is not None:
        pixels_ok = probe.codec != "h264" or probe.pixel_format in BROWSER_H264_PIXELS | {None}
        return probe.codec in PLAYABLE_CODECS and not probe.open_gop and pixels_ok
    cap = cv2.VideoCapture(str(path))
    code = int(cap.get(cv2.CAP_PROP_FOURCC) or 0)
    cap.release()
    return "".join(chr((code >> 8 * i) & 0xFF) for i in range(4)).lower() in PLAYABLE


def needs_copy(source: str | Path) -> bool:
    """Whether a run on ``source`` makes ``review.webm`` as it reads it: a video file a browser cannot play."""
    p = Path(source)
    return p.is_file() and not playable(p)


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
    cap = open_video(found[0])  # PyAV's where OpenCV cannot decode it (AV1), found so by --finish's process too
    stretch = pixel_aspect(cap)
    turn = extra_turn(found[0])  # as the run read it (a wrong rotation tag undone)
    with ReviewSink(out, float(cap.get(cv2.CAP_PROP_FPS) or 30.0)) as sink:
        try:
            while max_frames is None or sink.frames < max_frames:
                ok, img = cap.read()
                if not ok:
                    break
                sink.write(square_pixels(img, stretch, turn))
        finally:
            cap.release()
        return sink.close()


def damaged_copy(out: Path, source: Path, max_frames: int | None = None) -> str | None:
    """``review.webm`` of a recording with frames that do not decode (a damaged stretch), which the run read past:
    its codec is one a browser plays, but Chromium stops at the damage (a decode error) and no event after it can
    be seen. The frames that decode, each at its time in the run (its first ``max_frames`` when given); None when
    the copy could not be made."""
    try:
        with VideoFile(source, rotation=chosen(source)) as video, ReviewSink(out, video.fps) as sink:
            for frame in video:
                if max_frames is not None and sink.frames >= max_frames:
                    break
                sink.write(frame.image, frame.t)
            return sink.close()
    except Exception:  # the copy is for viewing: a run never fails for it (the page then shows the file)
        return None


class ReviewSink:
    """``review.webm`` written frame by frame: by :func:`review_video` after a run, or by the run itself
    while it reads a recording a browser cannot play (no second pass over the video at its end, and a
    stopped run's copy is there at once). Written under its own name as it goes (a killed run leaves the part
    it wrote, as it does of predictions.csv); a copy that could not be made (a full disk, no encoder) is
    removed when it fails (its space goes back to the CSVs) and never stops the run. Each frame is shown at its time ``t`` (the run's ``time_s``, so the page
    seeks a variable-rate recording, or one whose video starts late, to the frames the run saw there);
    without ``t``, one frame per ``1 / fps`` (OpenCV's VP8 fallback: always).

    Encoded in a thread of its own (``mpt-review``), at most :data:`QUEUE_FRAMES` frames (:data:`QUEUE_BYTES`)
    behind :meth:`write`: the conversion and libvpx (which run without the GIL) took 0.8 s of the frame loop's CPU
    in the 12-s demo input's run, on the loop's critical path. :meth:`write` keeps the image it is given (as the
    read-ahead thread hands its frames over): the caller must not change it after (the run's frames are never
    changed; the overlay draws on a copy). :meth:`close` waits for the frames queued."""

    def __init__(self, out: Path, fps: float) -> None:
        self.fps = fps if np.isfinite(fps) and fps > 0 else 30.0
        self.frames, self.failed = 0, False  # frames: those given to write (the encoder's own count: _encoded)
        self._pts = -1  # the last frame's presentation time (ms)
        self._encoded = 0
        # written under its own name as it goes, as predictions.csv is: a run killed outright (SIGKILL) leaves
        # the part it wrote (all but its last CLUSTER_S and the QUEUE_FRAMES not yet encoded), which a browser
        # plays, never a temporary file beside it
        self._target: Path | None = Path(out) / REVIEW  # None once closed
        self._target.parent.mkdir(parents=True, exist_ok=True)
        self._box = self._stream = self._writer = None
        self._queue: queue.Queue[tuple[np.ndarray, float | None] | None] | None = None  # made with the first frame
        self._thread: threading.Thread | None = None

    @property
    def ahead(self) -> int:
        """How many frames :meth:`write` may be ahead of the encoder (0 before the first frame)."""
        return self._queue.maxsize if self._queue is not None else 0

    def write(self, img: np.ndarray, t: float | None = None) -> None:
        if self.failed or self._target is None:
            return
        if self._thread is None:
            self._queue = queue.Queue(maxsize=max(2, min(QUEUE_FRAMES, QUEUE_BYTES // max(1, img.nbytes))))
            self._thread = threading.Thread(target=self._encoding, name="mpt-review", daemon=True)
            self._thread.start()
        with deferred():  # a stop signal raised inside put could leave the queue's lock taken (an exception between
            self._queue.put((img, t))  # acquire and the with-block's guard): the run's end then waited for ever
            self.frames += 1

    def _encoding(self) -> None:
        """The encoder's thread: each queued frame until the end (None); after a failure the rest is passed over."""
        while (item := self._queue.get()) is not None:
            if self.failed:
                continue
            try:
                self._encode(_fit(item[0]), item[1])
                self._encoded += 1
            except Exception:  # the copy is for viewing: a run never fails for it
                self.failed = True
                self._discard()  # removed at once: on a full disk its space goes back to the run's own outputs

    def _encode(self, img: np.ndarray, t: float | None) -> None:
        if self._box is None and self._writer is None:
            if vp9_available():
                import av

                self._box = av.open(str(self._target), "w", format="webm", container_options=WEBM_OPTIONS)
                self._stream = self._box.add_stream("libvpx-vp9", rate=Fraction(self.fps).limit_denominator(100000))
                self._stream.width, self._stream.height, self._stream.pix_fmt = img.shape[1], img.shape[0], "yuv420p"
                self._stream.time_base = self._stream.codec_context.time_base = MS  # frames at their own times
                self._stream.options = {**VP9_OPTIONS, "g": str(max(1, round(4 * self.fps)))}  # seeks: a keyframe every 4 s
            else:
                with held_fd(2, pass_on=lambda line: TAG_WARNING not in line):
                    self._writer = cv2.VideoWriter(str(self._target), cv2.VideoWriter_fourcc(*"VP80"), self.fps,
                                                   img.shape[1::-1])
        if self._box is not None:
            import av

            # OpenCV's BGR -> I420 (BT.601, video range, as FFmpeg's scaler would make it), then no conversion in the
            # encoder: less CPU for the copy (about a quarter, measured alone), closer to the source (PSNR 38.6 against 37.5 dB)
            frame = av.VideoFrame.from_ndarray(cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
            pts = round((t if t is not None else self._encoded / self.fps) * 1000)
            frame.pts, frame.time_base = max(pts, self._pts + 1), MS
            self._pts = frame.pts
            self._box.mux(self._stream.encode(frame))
        else:
            self._writer.write(img)

    def _drain(self) -> None:
        """The encoder's thread ended, after the frames queued before this call (none is left waiting)."""
        if self._thread is not None:
            with deferred():  # as in write: the queue's lock is never left taken by a stop signal
                self._queue.put(None)
                self._thread.join()
            self._thread = None

    def close(self) -> str | None:
        """Finish the file, once its queued frames are encoded: ``"review.webm"``, or None (nothing written, or it
        could not be)."""
        if self._target is None:
            return None
        self._drain()
        try:
            if self._box is not None:
                self._box.mux(self._stream.encode())
                self._box.close()
            if self._writer is not None:
                self._writer.release()
        except Exception:
            self.failed = True
        if self.failed or not self._encoded or not _readable(self._target):  # OpenCV's writer fails silently
            self.abort()
            return None
        self._target = None
        return REVIEW

    def abort(self) -> None:
        """No copy: the file written so far is removed (a crash, a copy that failed); frames still queued are not
        encoded."""
        if self._target is not None:
            self.failed = True  # the encoder passes over what is queued
            self._drain()
            self._discard()
            self._target = None

    def _discard(self) -> None:
        """The encoder closed and the file removed (its name kept: close and abort find nothing more to do)."""
        box, self._box = self._box, None
        if box is not None:
            with contextlib.suppress(Exception):
                box.close()
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):  # in the encoder's thread it must not end the thread (its queue fills)
                writer.release()
        if self._target is not None:
            with contextlib.suppress(OSError):
                self._target.unlink(missing_ok=True)

    def __enter__(self) -> "ReviewSink":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close() if exc_type is None else self.abort()


@functools.lru_cache(maxsize=1)
def vp9_available() -> bool:
    """Whether PyAV can encode VP9 here (its PyPI wheels bundle libvpx)."""
    try:
        import av

        av.codec.Codec("libvpx-vp9", "w")
        return True
    except Exception:  # no PyAV, or a build without libvpx
        return False


def _fit(img: np.ndarray) -> np.ndarray:
    """At most ``REVIEW_WIDTH`` wide, both sides even (4:2:0 needs them even)."""
    h, w = img.shape[:2]
    tw = max(2, min(w, REVIEW_WIDTH) // 2 * 2)
    th = max(2, int(round(h * tw / w / 2)) * 2)
    return img if (tw, th) == (w, h) else cv2.resize(img, (tw, th), interpolation=cv2.INTER_AREA)


def _readable(path: Path) -> bool:
    """Whether ``path`` is a video whose first frame decodes."""
    cap = cv2.VideoCapture(str(path))
    try:
        return bool(cap.isOpened() and cap.read()[0])
    finally:
        cap.release()
