"""Where the overlay's panels go in a frame (:func:`geometry`): the side column on the side away from the face
(:func:`choose_side`), narrowed to keep beside it; where no side has room, the panel as a band across the frame below
or above the face, else a narrow column; the history strip along the bottom (the top where the face reaches down).
Sizes scale with the frame (relative to 640x480). :mod:`mpt_live.overlay` draws into these places.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .overlay import OverlayState


def choose_side(box: tuple[int, int, int, int] | None, width: int, previous: str | None = None,
                hysteresis: float = 0.08) -> str:
    """The side for the panel column: the one with more room beside the face box.

    Sticks to ``previous`` unless the other side has clearly more room (``hysteresis`` x width),
    so the panel does not flip when a centred face moves a little."""
    if box is None:
        return previous or "right"
    x, _, w, _ = box
    left_room, right_room = x, width - (x + w)
    best = "right" if right_room >= left_room else "left"
    if previous in ("left", "right") and best != previous:
        margin = abs(right_room - left_room)
        if margin < hysteresis * width:
            return previous
    return best


MIN_COLUMN = 150  # the side column's width at least (px), where the face leaves room for it
NARROW_COLUMN = 80  # where neither it nor a band across the frame fits beside the face, one as narrow as this


@dataclass
class Geom:
    """The places of a frame's panels (px): the column's ``col_*``, the history strip's ``strip_*``; ``s``, ``fs``
    and ``pad``: the scale, the body font size and the padding; ``extra``: what the drawing recorded (the bars', the
    header's and the tags' boxes)."""

    W: int
    H: int
    s: float  # scale relative to 640x480
    fs: int  # body font size (px)
    pad: int
    col_x0: int
    col_x1: int
    strip_y0: int
    strip_y1: int
    strip_x0: int
    strip_x1: int
    side: str
    col_y0: int = 0  # the column's top and bottom: the frame's height, or a band above or below the face
    col_y1: int = -1
    extra: dict = field(default_factory=dict)


def geometry(shape: tuple[int, ...], state: OverlayState) -> Geom:
    H, W = shape[:2]
    s = max(0.5, min(W / 640.0, H / 480.0))
    fs = max(10, round(13 * s))
    pad = max(4, round(8 * s))
    side = state.side or choose_side(state.box, W)
    col_w = int(np.clip(round(0.29 * W), MIN_COLUMN, 420))
    if state.box is not None:
        # keep the column beside the face when there is room for a narrower but usable one
        x, _, w, _ = state.box
        room = (W - (x + w)) if side == "right" else x
        room -= pad
        if room < col_w and room >= max(MIN_COLUMN, 0.22 * W):
            col_w = int(room)
    col_x0, col_x1 = (W - col_w, W) if side == "right" else (0, col_w)
    strip_h = max(30, round(40 * s))
    sx0, sx1 = (0, col_x0) if side == "right" else (col_x1, W)
    strip_y0, strip_y1 = H - strip_h, H
    if state.box is not None:
        _, y, _, h = state.box
        if y + h > H - strip_h - pad and y > strip_h + pad:
            strip_y0, strip_y1 = 0, strip_h  # the face reaches the bottom: put the strip on top
        band = _band(state, W, H, fs, pad, strip_h, col_x0, col_x1)
        if band is not None:
            return band
        x, _, w, _ = state.box
        room = (W - (x + w)) if side == "right" else x
        if col_x0 < x + w and col_x1 > x and room - pad >= NARROW_COLUMN:  # no band either: a narrow column
            col_w = int(room - pad)
            col_x0, col_x1 = (W - col_w, W) if side == "right" else (0, col_w)
            sx0, sx1 = (0, col_x0) if side == "right" else (col_x1, W)
    return Geom(W, H, s, fs, pad, col_x0, col_x1, strip_y0, strip_y1, sx0, sx1, side, 0, H)


def _band(state: OverlayState, W: int, H: int, fs: int, pad: int, strip_h: int, x0: int, x1: int) -> Geom | None:
    """The panel as a band across the frame below (else above) the face, the strip at the frame's edge beyond it,
    where the column at ``x0:x1`` would cover the face box (a portrait or small frame: no side has room for it)
    and the band has room for the panel's header, label, bars and figures; None where it need not or cannot."""
    x, y, w, h = state.box  # type: ignore[misc]
    if x0 >= x + w or x1 <= x:
        return None
    need = round(fs * (12 + 1.55)) + 2 * pad  # with one bar (the strongest classes are shown where not all fit)
    tag = 2 * fs + pad  # the face's tag, drawn above its box
    below, above = H - strip_h - (y + h + pad), y - tag - pad - strip_h
    s = max(0.5, min(W / 640.0, H / 480.0))
    if max(below, above) < need:
        return None
    if below >= need:  # below whenever it fits: a face moving about the middle does not flip it from frame to frame
        return Geom(W, H, s, fs, pad, 0, W, H - strip_h, H, 0, W, "right", y + h + pad, H - strip_h)
    return Geom(W, H, s, fs, pad, 0, W, 0, strip_h, 0, W, "right", strip_h, y - tag - pad)
