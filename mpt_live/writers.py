"""Sinks that never lose output: rows flushed as they are written, whole files replaced atomically.

* :class:`CSVSink`: one flushed line per row, so an interrupted run (Ctrl-C, a crash) keeps a valid
  CSV of everything processed so far.
* :class:`VideoSink`: an MP4 opened on the first frame (its size is known then).
* :func:`write_json` and :func:`atomic_path`: a reader never sees half a file (temp file + rename).
* :func:`json_default`: numpy scalars/arrays and paths as JSON.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import threading
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np


def _fmt(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6g}"
    if isinstance(v, bool):
        return int(v)
    return v


class CSVSink:
    """``with CSVSink(path, columns) as sink: sink.write(row_dict)`` — one flushed line per row."""

    def __init__(self, path: str | os.PathLike, columns: Sequence[str]) -> None:
        self.path = Path(path)
        self.columns = list(columns)
        self.rows = 0
        self._fh = None
        self._writer: csv.DictWriter | None = None

    def __enter__(self) -> "CSVSink":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "w", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._fh, fieldnames=self.columns, extrasaction="ignore")
        self._writer.writeheader()
        self._fh.flush()
        return self

    def write(self, row: dict[str, Any]) -> None:
        assert self._writer is not None and self._fh is not None, "CSVSink used outside 'with'"
        self._writer.writerow({k: _fmt(row.get(k)) for k in self.columns})
        self._fh.flush()
        self.rows += 1

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class VideoSink:
    """``with VideoSink(path, fps) as sink: sink.write(bgr)`` — an MP4 (mp4v) opened on the first frame.

    ``frames`` counts what was written; a sink that got no frame leaves no file."""

    def __init__(self, path: str | os.PathLike, fps: float) -> None:
        self.path, self.fps = Path(path), fps
        self._w: Any = None
        self.frames = 0

    def write(self, img: np.ndarray) -> None:
        import cv2

        if self._w is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            h, w = img.shape[:2]
            self._w = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self._w.isOpened():
                self._w = None
                raise OSError(f"{self.path}: cannot write an MP4 here (OpenCV VideoWriter failed)")
        self._w.write(img)
        self.frames += 1

    def close(self) -> None:
        if self._w is not None:
            self._w.release()
            self._w = None

    def __enter__(self) -> "VideoSink":
        return self

    def __exit__(self, *exc: object) -> None:
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


def write_json(path: str | os.PathLike, data: Any, indent: int = 2) -> None:
    """Write JSON atomically: a reader never sees half a file."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=indent, default=json_default)
            fh.write("\n")
