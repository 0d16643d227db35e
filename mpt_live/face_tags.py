"""Where the overlay's face tags go: each tracked face's ID and label in a small pill beside its box.

A tag goes above its face, else below it, starting at the box's left edge or ending at its right one; it stays
inside the frame, off the panels (the side column or band, the history strip), off every face box and off the
tags placed before it (where faces crowd, a tag may cover another face rather than a panel or a tag). Where the
full text ("face 2 · neutral") fits nowhere, a shorter one does ("face 2", then "2"): the face's number is what
must show. The first face placed (the overlay's main face) gets the first choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .draw import pill_size

Rect = tuple[int, int, int, int]  # x0, y0, x1, y1
TAG_WEIGHT = 600
GAP = 4  # px between a face's box and its tag


@dataclass(frozen=True)
class Tag:
    """A placed tag: its text and the rectangle its pill takes (x0, y0, x1, y1)."""

    text: str
    rect: Rect


def tag_texts(face_id: int | None, what: str | None) -> list[str]:
    """A face's tag texts, longest first: ``face 2 · neutral``, ``face 2``, ``2`` (no ID: ``what`` alone)."""
    if face_id is None:
        return [what or ""]
    texts = [f"face {face_id} · {what}"] if what else []
    return texts + [f"face {face_id}", str(face_id)]


def overlaps(a: Rect, b: Rect) -> bool:
    """True when rectangles ``a`` and ``b`` (x0, y0, x1, y1) share any area."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_tags(faces: Sequence[tuple[tuple[int, int, int, int], Sequence[str]]], size: int, width: int, height: int,
               panels: Sequence[Rect] = ()) -> list[Tag | None]:
    """One tag per face, in order, for ``faces`` given as (box (x, y, w, h), texts longest first), pills of font
    ``size`` on a ``width`` x ``height`` frame whose ``panels`` (x0, y0, x1, y1) cover it. None for a face whose box
    lies wholly under a panel (the panel hides the face too). Where no place is free for even the shortest text, it
    goes above the face regardless (kept inside the frame)."""
    boxes = [(int(x), int(y), int(x + w), int(y + h)) for (x, y, w, h), _ in faces]
    placed: list[Tag | None] = []
    for k, ((x, y, w, h), texts) in enumerate(faces):
        x, y, w, h = int(x), int(y), int(w), int(h)
        if any(boxes[k][0] >= p[0] and boxes[k][1] >= p[1] and boxes[k][2] <= p[2] and boxes[k][3] <= p[3]
               for p in panels):
            placed.append(None)
            continue
        fixed = [*panels, *(t.rect for t in placed if t is not None)]
        others = [b for i, b in enumerate(boxes) if i != k]
        # off the other faces where it can be; where faces crowd, over a face rather than over a panel or a tag
        tag = (_first_free(x, y, w, h, texts, size, width, height, fixed + others, panels)
               or _first_free(x, y, w, h, texts, size, width, height, fixed, panels))
        if tag is None:  # nowhere free: the shortest text above the face, inside the frame
            tw, th = pill_size(texts[-1], size, TAG_WEIGHT)
            tx, ty = min(max(x, 0), max(width - tw, 0)), max(y - th - GAP, 0)
            tag = Tag(texts[-1], (tx, ty, tx + tw, ty + th))
        placed.append(tag)
    return placed


def _first_free(x: int, y: int, w: int, h: int, texts: Sequence[str], size: int, width: int, height: int,
                taken: Sequence[Rect], panels: Sequence[Rect]) -> Tag | None:
    """The longest text at the first free place: above, then below the box; at its left edge, then its right, then
    against a panel's edge (a face beside the column), always over or under some of the box."""
    for text in texts:
        tw, th = pill_size(text, size, TAG_WEIGHT)
        if tw > width:
            continue
        for ty in (y - th - GAP, y + h + GAP):
            if ty < 0 or ty + th > height:
                continue
            edges = [e for p in panels for e in (p[0] - tw, p[2])]
            for tx in dict.fromkeys(min(max(c, 0), width - tw) for c in (x, x + w - tw, *edges)):
                rect = (tx, ty, tx + tw, ty + th)
                if tx <= x + w and tx + tw >= x and not any(overlaps(rect, r) for r in taken):  # beside its face
                    return Tag(text, rect)
    return None
