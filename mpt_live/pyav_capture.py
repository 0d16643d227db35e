"""A video OpenCV cannot read as it should (a local file, or a URL that url_capture gives it), read by PyAV
behind the part of ``cv2.VideoCapture`` the project uses.

The opencv-python wheels' FFmpeg decodes AV1 only with a hardware decoder, which most machines lack: an AV1
recording (a YouTube download, a newer phone's video, a conferencing export) opens in OpenCV and gives no frame.
PyAV's FFmpeg decodes it in software (dav1d). Where OpenCV decodes none of a file's first frames and PyAV decodes
one (:func:`pyav_capture`, asked by :class:`~mpt_live.sources.VideoFile`), the file is read by a
:class:`PyAVCapture`, and :func:`~mpt_live.sources.open_capture` opens it so again in this process (the paced
reader's next loop: :func:`read_by_pyav`); files OpenCV decodes are read as before. A reader that opens a file
without a run having read it in this process (training's readers; the review page's pictures and copy, made by
``--finish`` in another process) opens it with :func:`open_video`, which tries OpenCV's first frames itself. A
:class:`PyAVCapture` answers as OpenCV's FFmpeg backend does, so the readers need no second path: BGR uint8 frames,
turned upright as the stream's display matrix says; ``CAP_PROP_POS_MSEC`` the decoded frame's presentation time
from the stream's start (its decoding time where it has none, or all are 0); the rate FFmpeg guesses for the stream and
OpenCV's frame count; a packet that does not decode is a failed read, and the next read goes on after it (packets
that decode to nothing, the frames after a lost keyframe, are passed over in one read as OpenCV's decoder passes over
them: the times of the frames after them count them, :mod:`mpt_live.damage`);
``set(CAP_PROP_POS_FRAMES, n)`` seeks to the frame shown at ``n / fps``.

Decoding so is no slower: a 20 s 720p AV1 video took about 0.7x the CPU time OpenCV took to decode the same video
in H.264 (PyAV took about 1.0x for that H.264; wall times varied too much on a shared 2-core machine to tell them
apart). The run says once that PyAV decodes the file (:func:`decoded_note`).
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable

import cv2
import numpy as np

from .fieldorder import URLS, is_interlaced, stream_interlaced
from .quiet import quiet_fd
from .sizechange import SizeWatch
from .videoprobe import VideoProbe, changes_size, has_no_index, video_stream

TURN = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}  # OpenCV's turns
READ_BY_PYAV: set[tuple[str, int, int]] = set()  # files found so (path, size, modification time)
# Frames (PyAV: packets) that do not decode, in a row, read past before a reader gives up: the run's reading of a video
# whose header counts no frames (damage.read_past), the apex pictures, and the look for a first frame that decodes
# (the run's and open_video's OpenCV frames, then PyAV's packets): one number, so a file with a long damaged start is
# read by the same decoder, or refused, in the run and in training's readers
PATIENCE = 300
_NONE_YET = object()  # PyAVCapture._decode: no frame within the packets it was given


class PyAVCapture:
    """``cv2.VideoCapture`` of the file or URL ``path``, decoded by PyAV (see the module). ``isOpened()`` is False
    where PyAV cannot open it or it has no video stream. Its first frame is decoded when it is opened, past up to
    :data:`PATIENCE` packets that do not decode (a damaged start; each still one failed read, as OpenCV's): its
    display matrix says how frames are turned, which the frame size reported before any read depends on, and
    ``decodes`` says whether one came (:func:`pyav_capture` asks no more); the reads give it and those before it.
    ``skip``: the video's packets passed over first, demuxed and not decoded, as frames already read (its frame
    ``skip`` a keyframe that needs none before it: where :class:`~mpt_live.sizechange.SizeWatch` reads on from).
    ``timeout_s``: for a URL (one :func:`url_capture` gives PyAV: interlaced, or a stream that takes one client), how
    long a wait for data may be before the open or read fails; an ``rtsp://`` URL asks for RTP over TCP first, as
    OpenCV's FFmpeg reader does (FFmpeg's own default tries UDP first, lost behind NAT and firewalls)."""

    def __init__(self, path: str | os.PathLike, skip: int = 0, timeout_s: float | None = None) -> None:
        import av

        self.path = os.fspath(path)
        self._box: Any = None
        self._queue: list[Any] = []  # frames the last packet decoded to, not yet grabbed
        self._ahead: list[Any] = []  # what the next grabs give, decoded already (None: a packet that did not decode)
        self._ended = False  # the last packet was demuxed
        self._demuxed = 0  # packets demuxed since the file was opened
        self._frame: Any = None  # the frame last grabbed
        self._n = 0  # frames grabbed (CAP_PROP_POS_FRAMES)
        self._zeros = 0  # frames grabbed whose presentation time is 0 (since the start or the last seek)
        self._turn = 0
        self.decodes = False  # a frame decoded within the first PATIENCE packets
        try:
            with quiet_fd(2):
                rtsp = {"options": {"rtsp_flags": "prefer_tcp"}} if self.path.lower().startswith("rtsp") else {}
                self._box = av.open(self.path, metadata_errors="replace", **rtsp,
                                    **({"timeout": timeout_s} if timeout_s else {}))  # a URL: each wait bounded
                self._stream = video_stream(self._box)
                self._stream.thread_type = "AUTO"  # decoded on every core, as OpenCV's FFmpeg does
                self._packets = self._box.demux(self._stream)
                while self._n < skip and (packet := next(self._packets, None)) is not None:
                    self._n += packet.size > 0
                self._tb = float(self._stream.time_base or 0)
                self._start = self._stream.start_time or 0
                rate = self._stream.guessed_rate or self._stream.average_rate
                self._fps = float(rate) if rate else (1.0 / self._tb if self._tb else 0.0)
                # the first frame, after up to PATIENCE packets that do not decode (each a failed read to come)
                while not self.decodes and (f := self._decode(PATIENCE)) is not _NONE_YET and not self._ended:
                    self._ahead.append(f)
                    self.decodes = f is not None
        except Exception:  # not a container PyAV reads, no video in it, or a decoder that fails at once
            self.release()
            return
        first = self._ahead[-1] if self.decodes else None
        turn = -round(first.rotation) % 360 if first is not None else 0  # OpenCV's CAP_PROP_ORIENTATION_META
        self._turn = turn if turn in TURN else 0

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return self._box is not None

    def interlaced(self) -> bool:
        """Whether its video is interlaced (:func:`~mpt_live.fieldorder.stream_interlaced`: the stream's field order,
        else the flag of the first frame, decoded when it was opened): nothing more is read for it."""
        return self.decodes and stream_interlaced(self._stream, self._ahead[-1])

    def _decode(self, until: float = math.inf) -> Any:
        """The next decoded frame; None where a packet does not decode (damage: the next call goes on after it) or
        at the end of the video; :data:`_NONE_YET` where ``until`` packets were demuxed since the file was opened
        (the look for its first frame)."""
        import av

        while not self._queue:
            if self._demuxed >= until:
                return _NONE_YET
            try:
                packet = next(self._packets, None)
                if packet is None:
                    self._ended = True
                    return None
                self._demuxed += 1
                self._queue = list(packet.decode())  # the last, empty packet drains the decoder
            except av.FFmpegError:
                return None
        return self._queue.pop(0)

    def grab(self) -> bool:
        if self._box is None:
            return False
        self._frame = self._ahead.pop(0) if self._ahead else self._decode()
        self._n += self._frame is not None
        self._zeros += self._frame is not None and self._frame.pts == 0
        return self._frame is not None

    def retrieve(self) -> tuple[bool, np.ndarray | None]:
        if self._frame is None:
            return False, None
        img = self._frame.to_ndarray(format="bgr24")
        return True, cv2.rotate(img, TURN[self._turn]) if self._turn else img

    def read(self) -> tuple[bool, np.ndarray | None]:
        return self.retrieve() if self.grab() else (False, None)

    def _ms(self) -> float:
        """OpenCV's time of the frame last grabbed: its presentation time (where it has none, or a frame before it
        had 0 too: a stream whose presentation times are all 0, its decoding time) from the stream's start, in ms;
        0 where it has neither or none was grabbed. (A frame at 0 after a damaged start has a decoding time a few
        frames on: OpenCV times it 0.)"""
        f = self._frame
        pts = None if f is None else f.pts if f.pts or (f.pts == 0 and self._zeros <= 1) else f.dts
        return 0.0 if pts is None else (pts - self._start) * self._tb * 1000.0

    def _count(self) -> int:
        """OpenCV's frame count: the container's, else its duration (the stream's where it states none) x rate."""
        if self._stream.frames:
            return int(self._stream.frames)
        s = (self._box.duration or 0) / 1e6
        if s <= 0:
            s = (self._stream.duration or 0) * self._tb
        return int(math.floor(s * self._fps + 0.5))

    def get(self, prop: int) -> float:
        if self._box is None:
            return 0.0
        if prop == cv2.CAP_PROP_POS_MSEC:  # asked once a frame by the readers: not through the table below
            return float(self._ms())
        cc = self._stream.codec_context
        size = (cc.height, cc.width) if self._turn % 180 else (cc.width, cc.height)
        sar = self._stream.sample_aspect_ratio or cc.sample_aspect_ratio
        facts = {cv2.CAP_PROP_POS_MSEC: self._ms, cv2.CAP_PROP_POS_FRAMES: lambda: self._n,
                 cv2.CAP_PROP_FPS: lambda: self._fps, cv2.CAP_PROP_FRAME_COUNT: self._count,
                 cv2.CAP_PROP_FRAME_WIDTH: lambda: size[0], cv2.CAP_PROP_FRAME_HEIGHT: lambda: size[1],
                 cv2.CAP_PROP_SAR_NUM: lambda: sar.numerator if sar else 0,
                 cv2.CAP_PROP_SAR_DEN: lambda: sar.denominator if sar else 1,
                 cv2.CAP_PROP_ORIENTATION_META: lambda: self._turn, cv2.CAP_PROP_ORIENTATION_AUTO: lambda: 1,
                 cv2.CAP_PROP_FOURCC: lambda: int.from_bytes((cc.codec_tag or "").encode("latin-1")[:4], "little")}
        return float(facts[prop]()) if prop in facts else 0.0

    def set(self, prop: int, value: float) -> bool:
        """Seeking, by frame number (OpenCV's: the frame shown at ``n / fps``) or by time in ms; False for other
        properties."""
        seeks = prop in (cv2.CAP_PROP_POS_FRAMES, cv2.CAP_PROP_POS_MSEC)
        if self._box is None or not self._fps or not self._tb or not seeks:
            return False
        import av

        t = value / self._fps if prop == cv2.CAP_PROP_POS_FRAMES else value / 1000.0
        back = 0.0  # s before t sought: an MPEG-TS's seek (no index) can land on a keyframe after t, then from earlier
        while True:
            at = max(t - back, 0.0)
            try:
                self._box.seek(self._start + int(at / self._tb), backward=True, any_frame=False, stream=self._stream)
            except av.FFmpegError:  # a file that cannot seek
                return False
            self._packets, self._queue, self._ended, self._zeros = self._box.demux(self._stream), [], False, 0
            f = self._frame = self._decode()
            if f is None or at <= 0.0 or self._ms() / 1000.0 <= t + 0.5 / self._fps:
                break
            back = max(1.0, 2.0 * back)
        while f is not None:  # from the keyframe before it to the frame shown at t
            self._frame = f
            if self._ms() / 1000.0 >= t - 0.5 / self._fps:
                break
            f = self._decode()
        self._frame, self._ahead = f, [f] if f is not None else []  # the next grab gives it
        self._n = round(t * self._fps)
        return True

    def release(self) -> None:
        if self._box is not None:
            self._box.close()
        self._box, self._frame, self._queue, self._ahead = None, None, [], []


def _stamp(path: str | os.PathLike) -> tuple[str, int, int]:
    st = os.stat(path)
    return os.path.abspath(path), st.st_size, st.st_mtime_ns


def pyav_capture(path: str | os.PathLike) -> PyAVCapture | None:
    """For a local file none of whose first frames OpenCV decoded: a :class:`PyAVCapture` of it where PyAV decodes
    a frame within its first :data:`PATIENCE` packets (remembered: :func:`read_by_pyav`; the file opened once, the
    frame kept for the reads), else None (damage, or a codec neither decodes)."""
    cap = PyAVCapture(path)
    if not cap.decodes:
        cap.release()
        return None
    READ_BY_PYAV.add(_stamp(path))
    return cap


class FirstGrabbed:
    """An OpenCV capture whose first frame :func:`open_video` grabbed to see that it decodes, read as the capture
    itself: its first grab gives that frame (the file is not opened again for it); until then its position is the
    start, as a capture nothing was read from says (``CAP_PROP_POS_FRAMES`` and ``CAP_PROP_POS_MSEC`` 0); a seek
    drops it."""

    def __init__(self, cap: cv2.VideoCapture) -> None:
        self._cap, self._ahead = cap, True

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return self._cap.isOpened()

    def grab(self) -> bool:
        if self._ahead:
            self._ahead = False
            return True
        return self._cap.grab()

    def retrieve(self) -> tuple[bool, np.ndarray | None]:
        return self._cap.retrieve()

    def read(self) -> tuple[bool, np.ndarray | None]:
        return self.retrieve() if self.grab() else (False, None)

    def get(self, prop: int) -> float:
        return 0.0 if self._ahead and prop in (cv2.CAP_PROP_POS_FRAMES, cv2.CAP_PROP_POS_MSEC) else self._cap.get(prop)

    def set(self, prop: int, value: float) -> bool:
        self._ahead = self._ahead and prop not in (cv2.CAP_PROP_POS_FRAMES, cv2.CAP_PROP_POS_MSEC,
                                                   cv2.CAP_PROP_POS_AVI_RATIO)
        return self._cap.set(prop, value)

    def release(self) -> None:
        self._cap.release()


def open_video(path: str | os.PathLike) -> FirstGrabbed | cv2.VideoCapture | PyAVCapture:
    """A capture of the local video file ``path``, from its start, for a reader that opens it on its own (the
    training sets' and mpt-synth's readers, the review copy, the apex pictures), the file opened once where its
    first frame decodes: OpenCV's, that frame kept for the first read (:class:`FirstGrabbed`); a
    :class:`PyAVCapture` where this process found it to be PyAV's (:func:`read_by_pyav`), a probe in this process found
    its frame size to change part-way (:func:`~mpt_live.videoprobe.changes_size`), its video is interlaced (as a probe
    finds it, one looked for here where none ran: :func:`~mpt_live.fieldorder.is_interlaced`), or OpenCV decodes none of
    its first :data:`PATIENCE` frames and PyAV decodes one (:func:`pyav_capture`); else ``cv2.VideoCapture``, opened
    again after the frames that did not decode (the reader gets every frame; ``isOpened()`` False where OpenCV
    cannot open it, for the reader's own error). FFmpeg's own lines (no AV1 hardware decoder, a damaged frame) are
    held back meanwhile."""
    if read_by_pyav(path) or changes_size(path) or is_interlaced(path):
        return PyAVCapture(path)
    name = os.fspath(path)
    with quiet_fd(2):
        cap = watched(cv2.VideoCapture(name), name)
        if not cap.isOpened():
            return cap
        if cap.grab():
            return FirstGrabbed(cap)
        decoded = any(cap.grab() for _ in range(PATIENCE - 1))
        cap.release()
        if not decoded and (other := pyav_capture(path)) is not None:
            return other
        return watched(cv2.VideoCapture(name), name)


URL_READ: dict[str, bool] = {}  # URLs opened in this process: whether PyAV reads them (url_capture's answer)


def url_capture(url: str, timeout_s: float, opencv: Callable[[], Any]) -> Any:
    """The capture that reads the URL ``url`` (never probed): PyAV's open of it, each wait for data bounded by
    ``timeout_s``, where its video is interlaced (OpenCV's frames of it black; :meth:`PyAVCapture.interlaced`, kept in
    :data:`~mpt_live.fieldorder.URLS` for the run's note) or where ``opencv()``, OpenCV's open of it made while PyAV's
    is held, is refused (a stream that takes one client: ``ffmpeg -listen 1``, many IP cameras; PyAV's look took the
    only connection and OpenCV's open, made after it, was refused); else OpenCV's (PyAV's let go; also where PyAV
    decodes no frame of it). What was found is kept for the process: a stream reopened after a drop is read the same
    way (by PyAV though its open fails then: the reader tries again)."""
    if URL_READ.get(url) is False:
        return opencv()
    cap = PyAVCapture(url, timeout_s=timeout_s)
    decodes = cap.isOpened() and cap.decodes
    if decodes:
        URLS[url] = cap.interlaced()
    if URL_READ.get(url) or decodes and URLS[url]:
        URL_READ[url] = True
        return cap
    other = opencv()  # PyAV's connection held meanwhile: a stream that takes one client refuses this one
    if other.isOpened() or not decodes:
        cap.release()
        if other.isOpened():  # a route found (none where neither opened: asked again next time)
            URL_READ[url] = False
        return other
    other.release()
    URL_READ[url] = True
    return cap


def watched(cap: cv2.VideoCapture, path: str | os.PathLike) -> cv2.VideoCapture | SizeWatch:
    """OpenCV's capture ``cap`` of the local file ``path``, read under a :class:`~mpt_live.sizechange.SizeWatch`
    where a probe in this process found it to have no index of every frame
    (:func:`~mpt_live.videoprobe.has_no_index`: its size changes part-way would go unseen)."""
    return SizeWatch(cap, os.fspath(path)) if cap.isOpened() and has_no_index(path) else cap


def found_sizes(name: str, cap: Any) -> list[str]:
    """:func:`sizes_note` of a capture where its :class:`~mpt_live.sizechange.SizeWatch` found the size to change
    (the parts seen as it was read), else nothing."""
    return [sizes_note(name, cap.found, cap.by_opencv)] if isinstance(cap, SizeWatch) and cap.found else []


def read_by_pyav(path: str | os.PathLike) -> bool:
    """Whether this process found ``path`` (as it is now) to be a file that PyAV decodes and OpenCV does not."""
    if not READ_BY_PYAV:
        return False
    try:
        return _stamp(path) in READ_BY_PYAV
    except OSError:
        return False


def sizes_note(name: str, sizes: tuple[tuple[int, int, int], ...], by_opencv: bool = False) -> str:
    """The run's one line about a video whose frame size changes part-way (``sizes``: :attr:`VideoProbe.sizes`);
    ``by_opencv``: PyAV could not open the file at the change and OpenCV read on (:attr:`SizeWatch.by_opencv`)."""
    parts = ", ".join(f"{w}x{h} from frame {k}" for k, w, h in sizes)
    said = f"{name}: its video changes frame size part-way ({parts}: parts joined without re-encoding); "
    if by_opencv:
        return (said + f"PyAV could not open the file at frame {sizes[1][0]} to read each frame at its own size, so "
                f"OpenCV's FFmpeg read on: the frames from there are at the first size, {sizes[0][1]}x{sizes[0][2]} "
                "(squeezed or stretched)")
    return (said + "OpenCV's FFmpeg would give every frame at the first size (the others squeezed or stretched): PyAV "
            "reads each frame at its own size instead")


def decoded_note(name: str, probe: VideoProbe | None, failed: int | None = None, every: bool = False) -> str:
    """The run's one line about a video read by PyAV: what OpenCV did with it (``failed``: its reads that gave no
    frame before PyAV was asked, ``every``: those were all the frames its header counts; None: found so earlier in
    this process), its codec named. Only for AV1 is a reason known (the wheels' FFmpeg has no software decoder)."""
    codec = probe.codec.upper() if probe is not None and probe.codec else None
    video = f"its {codec} video" if codec else "its video"
    if failed is None:
        what = f"OpenCV's FFmpeg decoded none of the first frames of {video} when this process read it before"
    else:
        what = (f"OpenCV's FFmpeg decoded none of the first {failed} frames of {video}" if not every else
                f"OpenCV's FFmpeg did not decode the one frame of {video} (all its header counts)" if failed == 1 else
                f"OpenCV's FFmpeg decoded none of the {failed} frames of {video} (all its header counts)")
    why = " (the opencv-python wheels decode AV1 only with a hardware decoder)" if codec == "AV1" else ""
    return (f"{name}: {what}{why}: PyAV decodes it instead (in software; in a 720p test no slower than OpenCV's "
            "decoding of the same video in H.264)")


def interlaced_note(name: str) -> str:
    """The run's one line about a video read by PyAV because it is interlaced (:attr:`VideoProbe.interlaced`)."""
    return (f"{name}: its video is interlaced, whose frames OpenCV's FFmpeg gives black here (its converter refuses "
            "interlaced frames): PyAV reads it instead (each frame as stored, both fields woven, not deinterlaced)")


def undecoded(codec: str) -> str:
    """The end of the one-line error of a file with a ``codec`` video none of whose frames OpenCV or PyAV decoded."""
    return (f": neither OpenCV's FFmpeg nor PyAV's decodes its {codec.upper()} video (the file is damaged, or neither "
            "has a decoder for it here); if a player shows it, convert it, e.g. ffmpeg -i IN -c:v libx264 -crf 18 OUT.mp4")
