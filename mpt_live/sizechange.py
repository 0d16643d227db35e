"""Whether an H.264 or HEVC video changes frame size part-way: parts of different sizes joined without re-encoding
(``ffmpeg -f concat -i list.txt -c copy``, or raw streams' bytes joined with ``cat``).

Such a file states one size, its first part's, in its header. Each part's keyframes carry that part's own parameter
sets (FFmpeg's concat demuxer puts them in every keyframe), and a decoder goes by them: PyAV gives each frame at its
own size, while OpenCV's FFmpeg reader gives every frame at the header's size (a 1280x480 part read as 640x480: the
faces squeezed to half their width, with no error). Both ways below find the parts without decoding the video: they
read the head of each keyframe (a few kB), compare its sequence parameter set with the one before, and decode a
keyframe only where it changed (the new size).

An MP4/MOV is looked at by the probe (:func:`size_changes`): it reads each keyframe at the place the file's index
gives for it, and PyAV then reads the whole file. An MPEG-TS, Matroska file or raw H.264/HEVC stream states no index
of every frame: finding its parts at the probe means reading all its packets at every probe (the whole file, where
the probe keeps to a few packets of a damaged MPEG-TS start, ``tests/test_damaged_starts.py``). It is watched as it
is read instead (:class:`SizeWatch`): OpenCV reads it, a PyAV demuxer reads its packets (not decoded) as far as
OpenCV's reads have come, and from the first frame of a new size (found by its time; by the count of frames read
where the packets have none) PyAV reads on (the packets before it passed over, not decoded); the run's warning names
the parts seen when the reading ends. The watch costs 0.01-0.02 ms of CPU time per packet (a 720p MPEG-TS and
Matroska file, against OpenCV's 3-4 ms per frame) and 10-15 ms once (opening the file, decoding its first keyframe),
and changes no frame of a file of one size.
An HEVC MP4 joined by ``-c copy`` whose parts carry their parameter sets only in their headers (x265's default) keeps
the first part's alone: its later parts' size is in no part of the file (not found, its later parts decoded at the
first size by PyAV too); with them in every keyframe (``repeat-headers=1``) it is found.
"""

from __future__ import annotations

import math

from .opengop import nal_units
from .videotracks import is_picture

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


class _Scan:
    """The packets of the first video stream of the file ``path`` demuxed in turn (not decoded), as far as
    :meth:`to` is asked: the frame each part of a new size starts at (``parts``, as :func:`size_changes`'s) and its
    time (``times``: ms from the stream's start, as OpenCV's ``CAP_PROP_POS_MSEC``; None where its packet has none)."""

    def __init__(self, path: str) -> None:
        import av

        self._box = av.open(path, metadata_errors="replace")
        try:
            stream = next(s for s in self._box.streams.video if not is_picture(s))
            ctx = stream.codec_context
            self._codec, self._sps_of = ctx.name, SPS[ctx.name]
        except Exception:  # no video stream, or not H.264/HEVC: not watched, and not left open
            self._box.close()
            raise
        self._extra = bytes(ctx.extradata or b"")
        self._size_len = length_size(ctx.name, self._extra)
        self._packets = self._box.demux(stream)
        self._start, self._tb = stream.start_time or 0, float(stream.time_base or 0)
        self._last: bytes | None = None
        self.parts: list[tuple[int, int, int]] = [(0, int(ctx.width), int(ctx.height))]
        self.times: list[float | None] = [0.0]
        self.scanned = 0  # packets looked at (frames, in decoding order)
        self.reached = -math.inf  # the latest decoding time (ms) of those

    def to(self, n: int, ms: float = -math.inf) -> None:
        """Read packets until frame ``n`` is looked at and one decoded after ``ms`` (no frame shown at or before it
        is to come), or the file ends, or PyAV cannot read on (then no more)."""
        import av

        try:
            # by time only where the packets have times (a raw stream's have none: by the count alone, not to its end)
            while self._packets is not None and (self.scanned <= n or (self.scanned == 0 or self.reached > -math.inf)
                                                 and self.reached <= ms):
                packet = next(self._packets, None)
                if packet is None:
                    self.close()
                elif packet.size:
                    at = packet.dts if packet.dts is not None else packet.pts
                    if at is not None and self._tb:
                        self.reached = max(self.reached, (at - self._start) * self._tb * 1000.0)
                    if packet.is_keyframe:
                        self._keyframe(bytes(packet), packet.pts)
                    self.scanned += 1
        except av.FFmpegError:
            self.close()

    def _keyframe(self, data: bytes, pts: int | None) -> None:
        sps = next((u for u in nal_units(data[:HEAD], self._size_len) if u and self._sps_of(u)), None)
        if sps is None or sps == self._last:
            return
        self._last = sps
        size = _decoded_size(self._codec, self._extra, data)
        if size is None:
            return
        if self.scanned == 0 and len(self.parts) == 1:  # the header's size was the first frame's, or is now
            self.parts[0] = (0, *size)
        elif size != self.parts[-1][1:]:
            self.parts.append((self.scanned, *size))
            self.times.append((pts - self._start) * self._tb * 1000.0 if pts is not None and self._tb else None)

    def close(self) -> None:
        if self._packets is not None:
            self._box.close()
        self._packets = None


class SizeWatch:
    """``cv2.VideoCapture`` of an MPEG-TS, Matroska or raw H.264/HEVC file (``path``: no index of every frame, so the
    probe does not look for new sizes in it), its packets read by a PyAV demuxer (:class:`_Scan`) as far as OpenCV's
    reads have come: the first frame of a new size is read by a :class:`~mpt_live.pyav_capture.PyAVCapture` begun at
    its packet, and every frame after it (OpenCV's would be at the first size). Where the packets have times, the
    frame OpenCV read is the one at or past the change's time, and PyAV's first frame stands in for it (a damaged
    stretch before it passed over by OpenCV leaves the count of frames read short of the packets); where they have
    none (a raw stream), the frame read after as many frames as the change's packet has before it. ``found``: the
    parts of a new size seen so far (``(frame, width, height)``, the first at frame 0, frames counted as the reads
    count them: from the first frame that decodes; ``()`` while there is one size). ``by_opencv``: PyAV could not
    open the file at the change (removed or replaced since the run opened it, say), and OpenCV read on: every
    frame at the first size, the packets still watched (a later part of another size is found too, not read at
    it; PyAV is not asked again)."""

    def __init__(self, cap, path: str) -> None:
        import cv2

        self._cap, self.path, self._n, self._ms = cap, path, 0, 0.0  # frames grabbed, OpenCV's time of the last
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self._half = 500.0 / fps if math.isfinite(fps) and fps > 0 else 0.0  # half a frame's period (ms)
        self._pyav, self._shift = False, 0  # the frames OpenCV read short of the packets before the change (damage)
        self.by_opencv = False
        try:
            self._scan: _Scan | None = _Scan(path)
        except Exception:  # PyAV cannot read it on its own: OpenCV's, unwatched
            self._scan = None

    @property
    def scanned(self) -> int:
        """The packets demuxed so far (0 where PyAV could not read the file): about the frames read, not the file's."""
        return self._scan.scanned if self._scan is not None else 0

    @property
    def found(self) -> tuple[tuple[int, int, int], ...]:
        parts = self._scan.parts if self._scan is not None else []
        return tuple((k + self._shift if k else 0, w, h) for k, w, h in parts) if len(parts) > 1 else ()

    def _change(self) -> tuple[int, float | None] | None:
        """The first change's frame and time, None where none is found (yet), PyAV reads already or could not."""
        scan = self._scan
        if scan is None or self._pyav or self.by_opencv or len(scan.parts) < 2:
            return None
        return scan.parts[1][0], scan.times[1]

    def _switch(self, skip: int) -> bool:
        """PyAV reads on from the frame ``skip`` (0: from the start); False where it cannot open the file."""
        from .pyav_capture import PyAVCapture

        cap = PyAVCapture(self.path, skip=skip)
        self._shift = self._n - skip if skip else 0  # the change named as the run's frame (its index in the reads)
        if not cap.isOpened():
            cap.release()
            self.by_opencv = True  # OpenCV reads on; the packets are watched on for the warning's later parts
            return False
        self._cap.release()
        self._cap, self._pyav = cap, True
        return True

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return self._cap.isOpened()

    def grab(self) -> bool:
        import cv2

        if self._scan is not None and self._pyav:  # the parts after it, for the run's warning
            self._scan.to(int(self._cap.get(cv2.CAP_PROP_POS_FRAMES)))
        elif self._scan is not None:
            self._scan.to(self._n)
            change = self._change()
            if change is not None and change[0] <= self._n and (change[1] is None or self._ms <= 0):
                self._switch(change[0])  # no times to go by: by the count of frames read
        ok = self._cap.grab()
        if ok and not self._pyav and self._scan is not None:
            self._ms = float(self._cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0)
            self._scan.to(self._n, self._ms + self._half)
            change = self._change()
            if change is not None and change[1] is not None and 0 < change[1] <= self._ms + self._half:
                if self._switch(change[0]):  # OpenCV's frame of the new size dropped, PyAV's read
                    ok = self._cap.grab()
        self._n += ok
        return ok

    def retrieve(self):
        return self._cap.retrieve()

    def read(self):
        return self.retrieve() if self.grab() else (False, None)

    def get(self, prop: int) -> float:
        return self._cap.get(prop)

    def set(self, prop: int, value: float) -> bool:
        """A seek: where a new size starts at or before the frame sought, a PyAV capture of the file seeks there."""
        import cv2

        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if self._scan is not None and not self._pyav and prop in (cv2.CAP_PROP_POS_FRAMES, cv2.CAP_PROP_POS_MSEC):
            ms = value if prop == cv2.CAP_PROP_POS_MSEC else value * 1000.0 / fps if fps else -math.inf
            n = int(value) if prop == cv2.CAP_PROP_POS_FRAMES else int(value * fps / 1000.0) if fps else 0
            self._scan.to(n, ms + self._half)
            change = self._change()
            if change is not None and (change[0] <= n if change[1] is None else change[1] <= ms + self._half):
                self._switch(0)
        ok = self._cap.set(prop, value)
        self._n, self._ms = int(self._cap.get(cv2.CAP_PROP_POS_FRAMES)), float(self._cap.get(cv2.CAP_PROP_POS_MSEC))
        return ok

    def release(self) -> None:
        self._cap.release()
        if self._scan is not None:
            self._scan.close()
