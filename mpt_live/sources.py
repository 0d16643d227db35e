"""Frame sources: video files (every frame, in order), with clear errors for bad input.

Frames are yielded as :class:`Frame` (index, time in seconds, BGR image). File timestamps are the
container's presentation times (``index / fps`` where it has none, :mod:`mpt_live.frametimes`), so
processing is deterministic and independent of decoding speed. The video and
image file extensions the project reads are defined here, once. Live sources (cameras, streams,
paced files: :mod:`mpt_live.paced_video`) are in :mod:`mpt_live.capture`, which also opens any source
(``open_source``).
"""

from __future__ import annotations

import functools
import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from .cutoff import cut_off, packets
from .damage import DamagedFrames, Read, counted, read_past, timed_run
from .errors import InputError
from .fieldorder import URLS, is_interlaced
from .file_reason import holds_video, unreadable
from .frametimes import FrameTimes, probe_notes, resolve_rate
from .pyav_capture import (PATIENCE, PyAVCapture, decoded_note, found_sizes, interlaced_note, open_video,
                           pyav_capture, read_by_pyav, sizes_note, undecoded, url_capture, watched)
from .quiet import quiet_fd, quiet_opencv
from .upright import choose, turned
from .videoprobe import changes_size, probe_video

# camcorder (AVCHD .mts/.m2ts, JVC .mod/.tod, MXF), phone (.3gp/.3g2) and stream files; an animated .gif is read
# as a video (FFmpeg's), frame by frame, as --video x.gif reads it
VIDEO_EXTENSIONS = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".ts", ".mts", ".m2ts",
                    ".mod", ".tod", ".mxf", ".3gp", ".3g2", ".flv", ".ogv", ".gif"}
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
# FFmpeg's own lines about a damaged or cut file ("[h264 @ 0x...] Invalid NAL unit size", "partial file"), one
# per bad packet, would come before the run's one-line account of it; OpenCV reads this once, at its first
# video capture, so it is set before any (only fatal ones are shown; set it yourself to see the others)
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")


@dataclass
class Frame:
    index: int
    t: float
    image: np.ndarray


def is_stream_url(s: str) -> bool:
    return s.split("://", 1)[0].lower() in {"rtsp", "rtmp", "http", "https", "udp", "tcp"} and "://" in s


def glob_paths(spec: str) -> list[str]:
    """``glob.glob(spec)``; where that matches nothing, the same with the longest leading folder of ``spec`` that
    exists taken literally: ``'Session [2]/*.mp4'`` (brackets in a folder's name, as downloaders and recorders
    name them) matched nothing, its ``[2]`` read as a class of characters."""
    hits = glob.glob(spec)
    if hits:
        return hits
    parts = Path(spec).parts
    for k in range(len(parts) - 1, 0, -1):
        head = os.path.join(*parts[:k])
        if os.path.isdir(head):
            return glob.glob(os.path.join(glob.escape(head), *parts[k:]))
    return []


def expand_videos(spec: str) -> list[Path]:
    """A file, a folder (its videos, sorted) or a glob pattern -> video paths. Errors name the input."""
    p = Path(spec)
    if p.is_dir():
        vids = sorted(q for q in p.iterdir() if q.suffix.lower() in VIDEO_EXTENSIONS and q.is_file()
                      and not q.name.startswith("."))      # '._take.mp4': macOS's resource fork, no video
        if not vids:
            raise InputError(f"{spec}: folder contains no video files ({', '.join(sorted(VIDEO_EXTENSIONS))})")
        return vids
    if any(c in spec for c in "*?[") and not p.exists():  # a file named 'take[2].mp4' is that file
        vids = sorted(Path(q) for q in glob_paths(spec) if Path(q).is_file())
        if not vids:
            raise InputError(f"{spec}: pattern matches no files")
        return vids
    if not p.exists():
        raise InputError(f"{spec}: no such file")
    return [p]


def pixel_aspect(cap: cv2.VideoCapture) -> tuple[float, float]:
    """``(x, y)`` stretch that makes a capture's frames square-pixelled, as players show them: (1, 1) for
    nearly every recording; a DV or HDV camcorder file stores wide pixels (sample aspect 8:9, 4:3) that would
    reach the face detector and the model squeezed. OpenCV turns a phone's rotated frames upright, so for
    those the stretch is vertical."""
    try:
        num, den = float(cap.get(cv2.CAP_PROP_SAR_NUM) or 0), float(cap.get(cv2.CAP_PROP_SAR_DEN) or 0)
        turned = int(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0) % 180 == 90
    except Exception:
        return 1.0, 1.0
    sar = num / den if num > 0 and den > 0 else 1.0
    if not 0.2 <= sar <= 5.0 or abs(sar - 1.0) < 0.01:  # square, or nonsense
        return 1.0, 1.0
    return (1.0, sar) if turned else (sar, 1.0)


def square_pixels(img: np.ndarray, stretch: tuple[float, float], turn: int = 0) -> np.ndarray:
    """``img`` stretched by :func:`pixel_aspect`'s ``(x, y)`` (unchanged for square pixels), then turned ``turn``
    degrees clockwise (a wrong rotation tag undone: :mod:`mpt_live.upright`)."""
    if stretch != (1.0, 1.0):
        h, w = img.shape[:2]
        img = cv2.resize(img, (max(1, round(w * stretch[0])), max(1, round(h * stretch[1]))),
                         interpolation=cv2.INTER_LINEAR)
    return turned(img, turn)


def open_capture(name: str, timeout_ms: int = 5000) -> cv2.VideoCapture | PyAVCapture:
    """``cv2.VideoCapture`` of a file, or of a URL with a bounded open and reads (a stalled server is an
    error, not a hang); a :class:`~mpt_live.pyav_capture.PyAVCapture` of a file found to be one OpenCV cannot decode,
    whose video its probe found interlaced (OpenCV's frames black; a URL's: PyAV's open of it looks),
    or whose frame size it found to change part-way
    (OpenCV would give every frame at the first size; an MPEG-TS's, Matroska's or raw stream's watched as it is read:
    :func:`~mpt_live.pyav_capture.watched`). A URL is read by PyAV's open that looks at its field order where it is
    interlaced or OpenCV's open is refused while PyAV's is held (a stream that takes one client), else by OpenCV's:
    :func:`~mpt_live.pyav_capture.url_capture`."""
    if not is_stream_url(name) and (read_by_pyav(name) or changes_size(name) or is_interlaced(name)):
        return PyAVCapture(name)
    if not is_stream_url(name):
        with quiet_fd(2):  # FFmpeg's own lines ("moov atom not found") before our one-line error
            return watched(cv2.VideoCapture(name), name)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]

    def opencv() -> cv2.VideoCapture:
        with quiet_opencv():
            return cv2.VideoCapture(name, cv2.CAP_FFMPEG, params)

    return url_capture(name, timeout_ms / 1000, opencv)  # PyAV's where interlaced or it takes one client


class VideoFile:
    """A recorded video (a file, or a recording at an http(s) URL), read frame by frame in order, timed by
    the container (:mod:`mpt_live.frametimes`): ``start_s``, the first frame's time, is 0 unless the video
    starts after the container does (as a player shows it). Raises InputError for unusable input.

    ``warnings``: what disagrees in the file's timing (one line each); ``error``: set when the video ended
    well before the frame count in its header (truncated or damaged). ``capture``: the video already opened
    (by :func:`open_capture`, nothing read from it yet), read from there instead of opening it again.
    ``rotation``: ``--rotation`` (:mod:`mpt_live.upright`): a local file's rotation tag checked against the faces in
    its first frames (``auto``), kept (``tag``) or overridden (degrees); ``turn``: degrees its frames are turned after
    the capture's own turn, ``rotation_note`` the line that says why where the tag was overridden (or could not be
    checked), ``orientation`` the degrees clockwise its frames are read turned from as stored (None: an untagged file
    read as stored, a URL),
    ``tag`` its rotation tag (degrees clockwise, 0: none or a URL): how a run of an earlier version read it."""

    live = False  # every frame is delivered, none dropped

    def __init__(self, path: str | os.PathLike, timeout_ms: int = 5000, capture: cv2.VideoCapture | None = None,
                 rotation: str = "auto") -> None:
        url = is_stream_url(str(path))
        self.path = Path(path)
        self.name = str(path)
        if not url:
            if not self.path.exists():
                raise InputError(f"{self.path}: no such file")
            if self.path.is_dir():
                raise InputError(f"{self.path}: is a directory, expected a video file")
            if not os.access(self.path, os.R_OK):
                raise InputError(f"{self.path}: not readable (permission denied)")
        # PyAV's one look at a local file's header: a still image refused here, the codec's rate and the video's
        # place on the container's time line for its frame times, why it is unreadable if OpenCV cannot open it
        probe = None if url else probe_video(self.path)
        if probe is not None and probe.image is not None:
            raise InputError(f"{self.path}: is a {probe.image} image, not a video; a recording stored as images "
                             "is read as a folder of frames (--fps); a photo's demo clip: --demo --demo-face PHOTO")
        if probe is not None and probe.cover_art and not probe.has_video:  # OpenCV reads the picture as 1 frame
            raise InputError(f"{self.path}: not a readable video: {unreadable(self.path, probe)}")
        self._cap: cv2.VideoCapture | PyAVCapture | None = (capture if capture is not None
                                                             else open_capture(self.name, timeout_ms))
        if not self._cap.isOpened():
            raise InputError(f"{self.name}: not a readable video: "
                             + ("OpenCV could not open it" if probe is None else unreadable(self.path, probe)))
        # an MPEG-TS whose first keyframe was lost: where its video began is not stated (a damaged start's count
        # is the least it can be); a Matroska file whose time line starts late with its video: a lost first cluster,
        # or a copy cut off without re-timing (ffmpeg -copyts): both read alike, so the warning names both
        self.start_unstated = bool(probe and probe.start_unstated)
        self.start_late = bool(probe and probe.start_late)
        # frames that would not decode (damage): read past, where more are to come (never over a network)
        self._misses, self._url = DamagedFrames(self.start_unstated, self.start_late), url
        # where the header counts no frames, what stands for the count at a failed read (a streamed WebM's packets)
        self.packets: Callable[[], int] | None = None if url else functools.partial(packets, self.path, probe)
        self._opencv_failed: tuple[int | None, bool] = (None, False)  # OpenCV's failed reads where PyAV reads it
        self._times: FrameTimes | None = None  # the clock of the pass being read
        self.turn, self.rotation_note, self.orientation, self.tag = 0, None, None, 0
        header_fps = self._start()
        if not self._buffered:
            self._cap.release()
            why = ""
            if self.name.lower().startswith(("http://", "https://")):  # python -m http.server, for one
                why = (" (over http an mp4 whose index follows its frames, as most do, needs a server that answers "
                       "byte-range requests)")
            elif probe is not None and probe.codec and not holds_video(self.path):
                others = " and ".join(k for k in probe.streams if k != "video")
                raise InputError(f"{self.name}: not a readable video: its video stream holds no frames"
                                 + (f" ({others} only)" if others else ""))
            elif probe is not None and probe.codec:
                why = undecoded(probe.codec)
            raise InputError(f"{self.name}: video has zero decodable frames{why}")
        if not url:  # a rotation tag checked (auto) or overridden: the frames turned after the capture's turn
            self.tag = tag = int(self._cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0) % 360
            self.turn, self.rotation_note = choose(self.path, tag, rotation, lambda: open_video(self.path),
                                                   header_fps)
            self.orientation = (tag + self.turn) % 360 if tag or self.turn else None
            if self.turn:
                self._buffered = [(turned(img, self.turn), m) for img, m in self._buffered]
                if self.turn % 180:
                    self.width, self.height = self.height, self.width
        ms = [m for _, m in self._buffered]
        self.fps, self._pts, self.fps_assumed, self.warnings = resolve_rate(
            self.name, header_fps, ms[0], ms[1] if len(ms) > 1 else None, probe)
        # where the video starts and ends on the container's time line (a URL: not probed)
        self.start_s, self._end_s = (0.0, None) if probe is None else (probe.start_s, probe.end_s)
        notes, error = probe_notes(self.name, probe, self._buffered[0][0].shape[1::-1], len(ms) == 1)  # tracks, HDR
        if error is not None:
            self._cap.release()
            raise InputError(error)
        self.warnings += notes + ([self.rotation_note] if self.rotation_note else [])
        if probe is not None and probe.sizes and isinstance(self._cap, PyAVCapture):
            self.warnings.append(sizes_note(self.name, probe.sizes))
        if (probe.interlaced if probe is not None else url and URLS.get(self.name, False)) \
                and isinstance(self._cap, PyAVCapture):  # a URL's: looked at when it was opened (the answer kept)
            self.warnings.append(interlaced_note(self.name))
        # said once, with the file's other warnings: where OpenCV failed on it (now, or earlier in this process), not
        # for a PyAV capture a caller chose
        if isinstance(self._cap, PyAVCapture) and (self._opencv_failed[0] is not None or read_by_pyav(self.path)):
            self.warnings.append(decoded_note(self.name, probe, *self._opencv_failed))
        self._probe = probe
        self.error: str | None = None

    def _start(self) -> float:
        """The capture's header facts and its first two frames, read to learn the timing; the header's rate. Where
        OpenCV decodes none of a local file's first :data:`PATIENCE` frames, PyAV reads it if it decodes one (AV1)."""
        header_fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        count = self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0
        self.frame_count = int(count) if 0 < count < 1e9 else 0  # raw streams report garbage
        self.stretch = pixel_aspect(self._cap)  # non-square pixels (DV, HDV): frames stretched as players show them
        self.width = round(int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0) * self.stretch[0])
        self.height = round(int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0) * self.stretch[1])
        self._buffered: list[tuple[np.ndarray, float]] = []  # the first two frames
        self._buffered_misses: list[int] = []  # the frames read past before each
        ask = not self._url and not isinstance(self._cap, PyAVCapture)
        got = self._read(0, most=PATIENCE if ask else None)
        if ask and not isinstance(got, tuple) and (cap := pyav_capture(self.path)) is not None:  # no decoder here
            # OpenCV's failed reads, for the note that PyAV reads it: PATIENCE, or every frame of a shorter video
            self._opencv_failed = (got, False) if isinstance(got, int) else (self.frame_count or PATIENCE, True)
            self._cap.release()
            self._cap = cap
            return self._start()
        got = self._read(0, misses=got) if isinstance(got, int) else got  # OpenCV reads on, all those missed counted
        while isinstance(got, tuple):
            self._buffered.append(got[:2])
            self._buffered_misses.append(got[2])
            got = self._read(1) if len(self._buffered) == 1 else None
        return header_fps

    @property
    def damaged(self) -> int:
        """Frames read past so far because they did not decode (a damaged stretch)."""
        return self._misses.count

    def frame_times(self) -> FrameTimes:
        """A fresh clock for one pass over this video (the same rate and timing source)."""
        lost_s = self._probe.lost_s if self._pts and self._probe is not None else 0.0  # its start lost (a TS, an mkv)
        return FrameTimes(self.name, self.fps, self._pts, self.frame_count, self.start_s if self._pts else 0.0,
                          self._end_s, functools.partial(cut_off, self.path, self._probe), lost_s)

    @property
    def duration_s(self) -> float:
        """Seconds of video: those read so far by the container's times once reading began, else the header's."""
        if self._times is not None:
            return self._times.span
        return self.frame_count / self.fps if self.frame_count else 0.0

    def __iter__(self) -> Iterator[Frame]:
        times = self._times = self.frame_times()
        complete = False
        try:
            buffered = self.first_frames()
            for img, ms, misses in buffered:
                n = times.n
                t = times.next(ms, misses)
                yield Frame(n, self._misses.add(times.lost, t, n == 0, self.fps), img)
            prev_ms = buffered[-1][1]
            got = self._read(times.n) if len(buffered) == 2 else None  # one frame buffered: the video has no second
            while got is not None:
                run, after, ahead = timed_run(got, prev_ms, self.fps, lambda k: self._read(times.n + k))
                for img, ms, misses in run:
                    n, t = times.n, times.next(ms, misses)
                    yield Frame(n, self._misses.add(times.lost, t, fps=self.fps), img)
                    prev_ms = ms
                got = after if ahead else self._read(times.n)
            complete = True
        finally:
            times.finish(complete)
            self.warnings += [w for w in times.warnings + self._misses.warnings(self.name)
                              + found_sizes(self.name, self._cap) if w not in self.warnings]
            self.error = self.error or times.error

    def first_frames(self) -> list[tuple[np.ndarray, float, int]]:
        """The frames read when the video was opened (image, OpenCV's time in ms, the frames read past before
        each), taken from this object. After damage at the start OpenCV has no time for the first frame after it
        (0): it is placed one period before the next."""
        got = [(img, ms, m) for (img, ms), m in zip(self._buffered, self._buffered_misses)]
        self._buffered = []
        if len(got) == 2 and got[0][2] and got[0][1] <= 0 < got[1][1]:
            got[0] = (got[0][0], got[1][1] - 1000.0 / self.fps, got[0][2])
        return got

    def _read(self, done: int, misses: int = 0, most: int | None = None) -> Read | int | None:
        """The next frame that decodes (square pixels, OpenCV's time in ms, the frames read past before it), None
        at the end of the video; where ``most`` were read past, their number (:func:`read_past`)."""
        got = read_past(self._cap, counted(self.frame_count, self._times), done, self._url, misses=misses, most=most,
                        packets=self.packets if most is None else None)  # its first reads: PyAV asked after PATIENCE
        return got if not isinstance(got, tuple) else (square_pixels(got[0], self.stretch, self.turn), got[1], got[2])

    def detach(self) -> tuple[cv2.VideoCapture, list[tuple[np.ndarray, float, int]]]:
        """The open capture and the frames already decoded from it (:meth:`first_frames`), for a reader that
        goes on from there (:class:`~mpt_live.paced_video.PacedVideoReader`) instead of opening the file again;
        this object reads nothing more."""
        cap, buffered = self._cap, self.first_frames()
        self._cap = None
        return cap, buffered

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()

    def __enter__(self) -> "VideoFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

