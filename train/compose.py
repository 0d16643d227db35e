"""Interview-like recordings of several real people, composed with OpenCV from single-face videos.

Used by the multi-face tests and ``bench/faces.py`` (torch-free):

* :func:`side_by_side`: two (or more) people next to each other in one frame, each from its own
  video, for ``seconds`` at ``fps`` (shorter videos are played forward and backward).
* :func:`with_cuts`: a sequence of shots; each shot shows one person, several side by side, or no
  face at all (an empty room: a dim blurred gradient), as an edited interview cuts between speakers.
* :func:`video_call`: a recorded video call whose layout changes on one backdrop: speaker view (one tile
  filling the frame), gallery view (tiles side by side), a participant's tile appearing or leaving, a
  shared screen (a slide, no face) in between. Each person's video plays on through the changes.

Both write an MP4 (mp4v) and return the truth: per frame, who is where (the tile index of each person).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mpt_live.errors import InputError
from mpt_live.pyav_capture import open_video


def read_squares(path: str | Path, seconds: float = float("inf"), count: float = float("inf"),
                 tile: int | None = None) -> tuple[list[np.ndarray], float]:
    """The centre squares of a video's first frames (what ``seconds`` of playing needs, at most ``count``; all
    by default; resized to ``tile`` px as they are read when given) and its frame rate. InputError when it
    cannot be read or has no frames. An AV1 video (which OpenCV does not decode) is read by PyAV."""
    cap = open_video(path)
    try:  # released also when the loop raises
        if not cap.isOpened():
            raise InputError(f"{path}: not a readable video")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 30.0)
        frames: list[np.ndarray] = []
        while len(frames) < count and len(frames) <= seconds * fps + 1:
            ok, img = cap.read()
            if not ok:
                break
            h, w = img.shape[:2]
            s = min(h, w)
            sq = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
            frames.append(sq if tile is None else cv2.resize(sq, (tile, tile), interpolation=cv2.INTER_AREA))
    finally:
        cap.release()
    if not frames:
        raise InputError(f"{path}: no frames")
    return frames, fps


class Player:
    """Frames of one video by time, looped forward and backward (ping-pong), resized to a square tile."""

    def __init__(self, path: str | Path, tile: int, seconds: float = float("inf")) -> None:
        self.frames, self.fps = read_squares(path, seconds, tile=tile)
        self.name = Path(path).stem

    def index(self, t: float) -> int:
        """Which of ``frames`` plays at ``t``."""
        n = len(self.frames)
        period = max(2 * n - 2, 1)
        j = int(t * self.fps) % period
        return j if j < n else period - j

    def at(self, t: float) -> np.ndarray:
        return self.frames[self.index(t)]


@dataclass
class Shot:
    """``people``: indices into the players shown side by side (empty: no face)."""

    seconds: float
    people: tuple[int, ...]


def _empty(tile: int, width: int, k: int) -> np.ndarray:
    """A dim, blurred gradient: a shot with nobody in it."""
    y, x = np.mgrid[0:tile, 0:width].astype(np.float32)
    g = 40 + 30 * np.sin(x / width * 3.0 + k) + 20 * np.cos(y / tile * 2.0)
    return cv2.cvtColor(np.clip(g, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


def with_cuts(videos: list[str | Path], shots: list[Shot], out: str | Path, fps: float = 30.0,
              tile: int = 320, slots: int = 2) -> list[tuple[int, ...]]:
    """Write the shots to ``out`` (frame: ``slots`` tiles wide); returns the people visible in each frame."""
    players = [Player(v, tile, sum(s.seconds for s in shots)) for v in videos]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    width = tile * slots
    w = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, tile))
    if not w.isOpened():
        raise InputError(f"{out}: cannot write an MP4 here")
    truth: list[tuple[int, ...]] = []
    i = 0
    try:
        for k, shot in enumerate(shots):
            for _ in range(int(round(shot.seconds * fps))):
                t = i / fps
                frame = _empty(tile, width, k)
                x0 = (width - tile * len(shot.people)) // 2  # the people centred, side by side
                for j, p in enumerate(shot.people):
                    frame[:, x0 + j * tile:x0 + (j + 1) * tile] = players[p].at(t)
                w.write(frame)
                truth.append(shot.people)
                i += 1
    finally:
        w.release()
    return truth


def side_by_side(videos: list[str | Path], out: str | Path, seconds: float, fps: float = 30.0,
                 tile: int = 320) -> list[tuple[int, ...]]:
    """Everyone of ``videos`` side by side for ``seconds`` (one shot)."""
    return with_cuts(videos, [Shot(seconds, tuple(range(len(videos))))], out, fps, tile, slots=len(videos))


@dataclass
class Tile:
    """One participant's square tile of a video call: ``person`` (index into the videos) at ``x``, ``y`` (frame px),
    ``size`` px wide and high."""

    person: int
    x: int
    y: int
    size: int


@dataclass
class Layout:
    """``seconds`` of a call showing ``tiles`` on the call's backdrop, or a shared screen (``share``: no face)."""

    seconds: float
    tiles: tuple[Tile, ...] = ()
    share: bool = False


def _slide(width: int, height: int) -> np.ndarray:
    """A shared screen: a light slide with a title bar and lines of 'text' (no face)."""
    img = np.full((height, width, 3), 235, np.uint8)
    cv2.rectangle(img, (0, 0), (width, height // 6), (120, 70, 30), -1)
    for k, y in enumerate(range(height // 4, height - 20, max(height // 12, 8))):
        cv2.line(img, (width // 10, y), (width // 10 + (width * (5 + k % 3)) // 10, y), (60, 60, 60), 3)
    return img


def video_call(videos: list[str | Path], layouts: list[Layout], out: str | Path, size: tuple[int, int] = (960, 540),
               fps: float = 30.0) -> list[tuple[Tile, ...]]:
    """Write the call's ``layouts`` one after another to ``out`` (``size``: width, height) on one dark backdrop;
    returns the tiles shown on each frame (none during a shared screen)."""
    seconds = sum(lay.seconds for lay in layouts)
    players: dict[tuple[int, int], Player] = {}  # (person, tile size) -> its player
    for lay in layouts:
        for tile in lay.tiles:
            if (tile.person, tile.size) not in players:
                players[tile.person, tile.size] = Player(videos[tile.person], tile.size, seconds)
    width, height = size
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    w = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not w.isOpened():
        raise InputError(f"{out}: cannot write an MP4 here")
    backdrop, slide = np.full((height, width, 3), 32, np.uint8), _slide(width, height)
    truth: list[tuple[Tile, ...]] = []
    i = 0
    try:
        for lay in layouts:
            for _ in range(int(round(lay.seconds * fps))):
                frame = (slide if lay.share else backdrop).copy()
                for tile in () if lay.share else lay.tiles:
                    face = players[tile.person, tile.size].at(i / fps)
                    frame[tile.y:tile.y + tile.size, tile.x:tile.x + tile.size] = face
                w.write(frame)
                truth.append(() if lay.share else lay.tiles)
                i += 1
    finally:
        w.release()
    return truth
