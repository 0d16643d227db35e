"""Sinks that never lose output: rows flushed as they are written, whole files replaced atomically.

* :class:`CSVSink`: one line per row, written at once, so an interrupted run (Ctrl-C, a crash, a full
  disk) keeps a valid CSV of everything processed so far (complete rows only).
* :class:`VideoSink`: a fragmented MP4 opened on the first frame (its size is known then); a killed
  run's plays up to about its last second.
* :func:`write_json` and :func:`atomic_path`: a reader never sees half a file (temp file + rename);
  :func:`rewrite_json`: the fallback in place when a full disk leaves no room for a temp file.
* :func:`json_default`: numpy scalars/arrays and paths as JSON.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import math
import os
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from .errors import OutputError

# PyAV's mp4 muxer options: a fragment at each keyframe, no index to wait for at the end, each fragment flushed
FRAGMENTED_MP4 = {"movflags": "frag_keyframe+empty_moov+default_base_moof", "flush_packets": "1"}


def _fmt(v: Any) -> Any:
    """A CSV cell: floats to 6 significant digits, but never fewer than 4 decimals (0.1 ms of a time: 6
    digits alone kept 137.667 of 137.6667 s, and a frame at 30 fps is lost past 10000 s)."""
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        return f"{v:.6g}" if abs(v) < 100 or math.isinf(v) else repr(round(v, 4))
    if isinstance(v, bool):
        return int(v)
    return v


class CSVSink:
    """``with CSVSink(path, columns) as sink: sink.write(row_dict)`` — one line per row, written at once.

    A row is one unbuffered write; when it fails (a full disk), the file is cut back to the rows before
    it and :class:`~mpt_live.errors.OutputError` says so: the file never ends in half a row."""

    def __init__(self, path: str | os.PathLike, columns: Sequence[str], append: bool = False) -> None:
        self.path = Path(path)
        self.columns = list(columns)
        self.append = append  # after the rows already there (--resume: a file of whole lines), no second header
        self.rows = 0
        self._fh: Any = None
        self._size = 0  # bytes of complete lines (header and rows)

    def __enter__(self) -> "CSVSink":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._fh = open(self.path, "ab" if self.append else "wb", buffering=0)
        except OSError as e:
            raise OutputError(f"{self.path}: cannot be written ({e.strerror})") from None
        self._size = self._fh.tell()
        if not self._size:
            self._put(self.columns)
        return self

    def write(self, row: dict[str, Any]) -> None:
        assert self._fh is not None, "CSVSink used outside 'with'"
        self._put([_fmt(row.get(k)) for k in self.columns])
        self.rows += 1

    def _put(self, values: list[Any]) -> None:
        buf = io.StringIO()
        csv.writer(buf).writerow(values)
        data = memoryview(buf.getvalue().encode("utf-8"))
        try:
            while data:
                data = data[self._fh.write(data):]
        except OSError as e:
            with contextlib.suppress(OSError):
                self._fh.truncate(self._size)  # cut the partial line: freeing space needs none
                self._fh.seek(self._size)
            what = "its header" if self._size == 0 else f"row {self.rows + 1}"
            raise OutputError(f"{self.path}: could not write {what} ({e.strerror}); "
                              f"it keeps the {self.rows} complete rows before it") from None
        self._size = self._fh.tell()

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class VideoSink:
    """``with VideoSink(path, fps) as sink: sink.write(bgr)`` — an MP4 (MPEG-4 part 2) opened on the first frame.

    ``frames`` counts what was written; a sink that got no frame leaves no file. ``write(bgr, t)``: the frame
    of time ``t`` (s) is held until the next one's time, so the file, at a constant ``fps``, keeps the time line
    of a variable-rate recording (a frame is repeated over a gap, and left out where frames come faster than
    ``fps``); without ``t``, every frame once.

    Fragmented (a fragment a second, each written to the disk as it closes) through PyAV: a plain MP4 is
    unreadable until its index is written at the end, so a run killed outright (SIGKILL, power, out of memory)
    left nothing of an hour's annotated video; now it plays up to about its last second. A write that fails (a
    full disk) is :class:`~mpt_live.errors.OutputError` and the frames before it stay readable (OpenCV's
    writer, used before, failed silently and left a file that did not open)."""

    def __init__(self, path: str | os.PathLike, fps: float) -> None:
        self.path, self.fps = Path(path), fps
        self._box: Any = None
        self._stream: Any = None
        self._failed = False  # a write failed: the file is left as it is (never opened again over it)
        self.frames = 0

    def write(self, img: np.ndarray, t: float | None = None) -> None:
        import av

        if self._failed:
            return
        if self._box is None:
            self._open(img.shape[1], img.shape[0])
        copies = 1 if t is None else max(int(round(t * self.fps)) + 1 - self.frames, 0)  # the frames due by t
        if not copies:
            return
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="bgr24")
        try:
            for _ in range(copies):
                frame.pts = self.frames
                self._box.mux(self._stream.encode(frame))
                self.frames += 1
        except OSError as e:
            self._fail()
            raise OutputError(f"{self.path}: could not write frame {self.frames + 1} ({e.strerror}); "
                              "it keeps the frames before it") from None

    def _open(self, width: int, height: int) -> None:
        import av

        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._box = av.open(str(self.path), "w", format="mp4", container_options=FRAGMENTED_MP4)
            rate = Fraction(self.fps).limit_denominator(1001)  # 30000/1001 stays exact; MPEG-4 allows <= 65535
            self._stream = self._box.add_stream("mpeg4", rate=rate)
            self._stream.width, self._stream.height, self._stream.pix_fmt = width, height, "yuv420p"
            self._stream.bit_rate = int(min(self.fps * width * height, 2 ** 30))  # about what OpenCV's mp4v gave
            self._stream.codec_context.gop_size = max(1, round(self.fps))  # a keyframe, so a fragment, a second
        except OSError as e:
            self._fail()
            raise OutputError(f"{self.path}: cannot be written ({e.strerror})") from None

    def _fail(self) -> None:
        """After an error: no more writes; what the file holds is kept (close on a full disk may fail too)."""
        self._failed = True
        box, self._box = self._box, None
        if box is not None:
            with contextlib.suppress(Exception):
                box.close()

    def close(self) -> None:
        """Write the encoder's last frames and end the file; OutputError when that fails (the frames written
        before stay readable)."""
        if self._box is None:
            return
        box, self._box = self._box, None
        try:
            box.mux(self._stream.encode())
            box.close()
        except OSError as e:
            with contextlib.suppress(Exception):
                box.close()
            raise OutputError(f"{self.path}: could not write its last frames ({e.strerror}); "
                              "it keeps the frames before them") from None

    def __enter__(self) -> "VideoSink":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        with contextlib.suppress(OutputError) if exc_type is not None else contextlib.nullcontext():
            self.close()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix); on success it replaces ``path`` at once.

    ``with atomic_path(out) as tmp: fig.savefig(tmp)``. The temporary name is unique per process and
    thread, so concurrent writers never share one; on an error it is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def json_default(o: Any) -> Any:
    """``json.dump(..., default=json_default)``: numpy scalars and arrays, paths."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_json(path: str | os.PathLike, data: Any, indent: int = 2, reserve: int = 0) -> None:
    """Write JSON atomically: a reader never sees half a file. ``reserve``: pad the file with spaces to
    that many bytes, so that :func:`rewrite_json` has room for a bigger version on a full disk."""
    text = _json_text(data, indent)
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            if reserve > len(text):
                fh.write(" " * (reserve - len(text)))


def rewrite_json(path: str | os.PathLike, data: Any, indent: int = 2) -> None:
    """Overwrite an existing JSON file where it lies (no temporary copy): on a full disk, the blocks the file
    already holds are reused. Not atomic; for the last write of a run when :func:`write_json` had no room."""
    raw = _json_text(data, indent).encode("utf-8")
    with open(path, "r+b", buffering=0) as fh:
        fh.seek(0)
        view = memoryview(raw)
        while view:
            view = view[fh.write(view):]
        fh.truncate(len(raw))


def is_disk_full(e: BaseException) -> bool:
    """An OSError that means no room (full disk, quota, file size limit)."""
    return isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _json_text(data: Any, indent: int) -> str:
    return json.dumps(data, indent=indent, default=json_default) + "\n"
