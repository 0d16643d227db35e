"""A face too small for the detector's view of a whole picture, looked for in square crops of it.

BlazeFace sees a picture squeezed to its square input (128 px short range, 192 full range): a face a few percent of
a large picture's height comes out a few pixels wide there and is missed, where a crop of the picture around it shows
it large enough. :func:`search` looks in overlapping square crops, halving their side down to 1/2**:data:`ZOOMS` of the
picture's short side, for a face found confidently (:data:`~mpt_live.face_confirm.NEW_SCORE`). Two users: a
``--demo-face`` photo whose face the whole picture did not show (:mod:`mpt_live.demo_input`: the crop that works is
said), and a recorded run that found no face in most of its frames (:func:`hint`, its warning: where the face is and
the ffmpeg crop that shows it; looked for on one frame, the latest the detector found no face on). A face is said
only where a crop shows one: nothing is guessed. The crops overlap by half at every zoom, so their number is set by
the picture's shape, not its size: 423 detector calls for a 4:3 picture, 570 for 16:9 or 9:16, all of them where no
face is found (a 1920x1080 frame's 567 crops of 540 px and smaller: 0.58 s of CPU short range, 1.48 s full range, a
loaded 2-core machine).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .face_confirm import NEW_SCORE
from .tiles import CLOSER_SIDE, SMALL_SHARE

ZOOMS = 3  # crops down to 1/2**ZOOMS of the picture's short side
SMALLEST = 64  # ... and no smaller than this (px)
OPENING = "a face about "  # how :func:`line`'s words begin (a resumed run finds them in the run before's warning)


def starts(length: int, side: int) -> list[int]:
    """Where crops of ``side`` start along ``length``: overlapping by half a crop, the last flush with the end."""
    n = max(1, -(-(length - side) // (side // 2)) + 1)
    return [round(i * (length - side) / (n - 1)) for i in range(n)] if n > 1 else [0]


def search(image: np.ndarray, detect: Callable[[np.ndarray], list[Any]],
           min_score: float = NEW_SCORE) -> tuple[tuple[int, int, int, int], int] | None:
    """The first face ``detect`` (a picture -> its detections, largest first) finds scoring ``min_score`` or more in a
    square crop of ``image`` whose whole-picture search found none (the largest crops first): its box (x, y, w, h) in
    the picture's pixels and the crop's side; None where no crop holds one."""
    h, w = image.shape[:2]
    side = min(h, w)
    for _ in range(ZOOMS + 1):
        if side < SMALLEST:
            break
        if side < max(h, w):  # the whole picture was searched already
            for y0 in starts(h, side):
                for x0 in starts(w, side):
                    found = [d for d in detect(image[y0:y0 + side, x0:x0 + side]) if d.score >= min_score]
                    if found:
                        x, y, bw, bh = (int(v) for v in found[0].box)
                        return (x0 + x, y0 + y, bw, bh), side
        side //= 2
    return None


def hint(name: str, image: np.ndarray | None, model: str = "short", path: Path | None = None) -> str | None:
    """What a run of source ``name`` that found no face in most frames can do where the frame ``image`` (one the
    detector found no face on) holds a face found only in a crop (by BlazeFace ``model``: the run's): that face's
    size and place, and the ffmpeg crop (:data:`~mpt_live.tiles.CLOSER_SIDE` times its size, square, around it: the
    face a third of the detector's input) that shows it; None where no crop shows a face, where the face is not small
    for the frame (over :data:`~mpt_live.tiles.SMALL_SHARE` of its short side: its size is not why it was missed) or
    where no frame was kept. The ffmpeg command only for ``path``: a video file whose frames are its pixels as ffmpeg
    shows them (square pixels, no rotation tag overridden); a camera, a stream, a frame folder: the place alone."""
    if image is None:
        return None
    from .face import FaceAligner

    with FaceAligner(model="full" if model == "full" else "short", smooth=False) as fa:
        got = search(image, fa.detect_image)
    if got is None or got[0][3] > SMALL_SHARE * min(image.shape[:2]):  # a face not small for the frame: not the why
        return None
    return line(name, image.shape, *got, path=path)


def line(name: str, shape: tuple[int, ...], box: tuple[int, int, int, int], side: int, path: Path | None = None) -> str:
    """:func:`hint`'s words for a face at ``box`` (x, y, w, h) found in a crop of ``side`` of a frame of ``shape`` of
    source ``name``: the crop said is square, :data:`~mpt_live.tiles.CLOSER_SIDE` times the face's size, centred on it
    and moved inside the frame, at even pixels (as H.264 needs)."""
    x, y, w, h = box
    fh, fw = int(shape[0]), int(shape[1])
    crop = min(fh, fw, 2 * round(CLOSER_SIDE * max(w, h) / 2))
    x0 = min(max(0, round(x + w / 2 - crop / 2)), fw - crop) // 2 * 2
    y0 = min(max(0, round(y + h / 2 - crop / 2)), fh - crop) // 2 * 2
    said = (f"{OPENING}{w} px wide ({h / fh:.0%} of the frame's height) is found at x={x}, y={y} in a {side}x{side} "
            f"crop of a frame, not in the whole {fw}x{fh} frame: too small for the detector's view of it; crop the "
            f"video around it")
    if path is None:  # a camera, a stream, a frame folder: no file for ffmpeg to crop as said
        return f"{said} ({crop}x{crop} px at x={x0}, y={y0})"
    out = path.with_name(f"{path.stem}_face{path.suffix or '.mp4'}").name
    return f"{said}: ffmpeg -i {shlex.quote(path.name)} -vf crop={crop}:{crop}:{x0}:{y0} {shlex.quote(out)}"
