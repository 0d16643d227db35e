"""Frame sources: video files (every frame, in order), with clear errors for bad input.

Frames are yielded as :class:`Frame` (index, time in seconds, BGR image). File timestamps are
``index / fps`` so that processing is deterministic and independent of decoding speed. The video and
image file extensions the project reads are defined here, once. Live sources (cameras, streams,
paced files) are in :mod:`mpt_live.capture`, which also opens any source (``open_source``).
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from .errors import InputError

VIDEO_EXTENSIONS = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


@dataclass
class Frame:
    index: int
    t: float
    image: np.ndarray


def is_stream_url(s: str) -> bool:
    return s.split("://", 1)[0].lower() in {"rtsp", "rtmp", "http", "https", "udp", "tcp"} and "://" in s


def expand_videos(spec: str) -> list[Path]:
    """A file, a folder (its videos, sorted) or a glob pattern -> video paths. Errors name the input."""
    p = Path(spec)
    if p.is_dir():
        vids = sorted(q for q in p.iterdir() if q.suffix.lower() in VIDEO_EXTENSIONS and q.is_file())
        if not vids:
            raise InputError(f"{spec}: folder contains no video files ({', '.join(sorted(VIDEO_EXTENSIONS))})")
        return vids
    if any(c in spec for c in "*?["):
        vids = sorted(Path(q) for q in glob.glob(spec) if Path(q).is_file())
        if not vids:
            raise InputError(f"{spec}: pattern matches no files")
        return vids
    if not p.exists():
        raise InputError(f"{spec}: no such file")
    return [p]


class VideoFile:
    """A recorded video, read frame by frame in order. Raises InputError for unusable files."""

    live = False  # every frame is delivered, none dropped

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        if not self.path.exists():
            raise InputError(f"{self.path}: no such file")
        if self.path.is_dir():
            raise InputError(f"{self.path}: is a directory, expected a video file")
        if not os.access(self.path, os.R_OK):
            raise InputError(f"{self.path}: not readable (permission denied)")
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            raise InputError(f"{self.path}: not a readable video (OpenCV could not open it)")
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not np.isfinite(fps) or fps <= 1e-3 or fps > 1000:
            fps = 30.0  # containers without a rate: assume 30 and say so in the summary
            self.fps_assumed = True
        else:
            self.fps_assumed = False
        self.fps = fps
        self.frame_count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        ok, first = self._cap.read()
        if not ok or first is None:
            self._cap.release()
            raise InputError(f"{self.path}: video has zero decodable frames")
        self._first: np.ndarray | None = first

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps if self.frame_count else 0.0

    def __iter__(self) -> Iterator[Frame]:
        i = 0
        if self._first is not None:
            first, self._first = self._first, None
            yield Frame(0, 0.0, first)
            i = 1
        while True:
            ok, img = self._cap.read()
            if not ok or img is None:
                break
            yield Frame(i, i / self.fps, img)
            i += 1

    def close(self) -> None:
        self._cap.release()

    def __enter__(self) -> "VideoFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read a BGR image; InputError naming the file when missing, a directory or undecodable."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, expected an image file")
    img = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(f"{p}: not a readable image")
    return img
