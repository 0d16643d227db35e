"""Drawing primitives of the overlay: the palette, antialiased text, panels, pills, face boxes, thumbnails.

Sizes are in pixels of the frame being drawn on; every function draws in place on a BGR uint8 image.
"""

from __future__ import annotations

import colorsys
import functools
from typing import Sequence

import cv2
import numpy as np

# Class colours, one list for the overlay, timeline.png and report.html: matplotlib's tab10 without its
# grey (grey means "neutral", outside events), then tab20's light shades of the same hues (18 in all),
# then hues spaced by the golden angle for label sets larger than that. RGB hex.
CLASS_HEX = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
             "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5"]
NEUTRAL = (150, 150, 150)  # BGR, as every colour below
NOFACE = (60, 60, 60)
WARMING = (105, 105, 105)
WHITE = (245, 245, 245)
MUTED = (175, 175, 175)
PANEL = (28, 24, 22)
ACCENT = (80, 200, 120)  # face tracked
WARN = (40, 170, 255)  # amber
ALERT = (60, 60, 230)  # red
DEMO_BG = (0, 140, 255)  # orange


def class_hex(index: int) -> str:
    """The RGB hex colour of the class at ``index`` of a model's classes (distinct for any number of classes)."""
    if index < len(CLASS_HEX):
        return CLASS_HEX[index]
    hue = (0.61803398875 * (index - len(CLASS_HEX)) + 0.08) % 1.0  # golden-angle steps round the hue circle
    r, g, b = (round(255 * c) for c in colorsys.hsv_to_rgb(hue, 0.65, 0.85))
    return f"#{r:02x}{g:02x}{b:02x}"


def class_color(classes: Sequence[str], label: str | None) -> tuple[int, int, int]:
    """BGR colour of a label: its class colour, grey for ``neutral``, dark grey for no face (None),
    between the two for "warming up" (a face, but no full window yet)."""
    if label is None:
        return NOFACE
    if label == "warming up":
        return WARMING
    if label in classes:
        h = class_hex(list(classes).index(label))
        return int(h[5:7], 16), int(h[3:5], 16), int(h[1:3], 16)
    return NEUTRAL


# ------------------------------------------------------------------------------------------------
# text


class Text:
    """Antialiased sans text (OpenCV >= 5 FontFace) with a Hershey fallback; sizes in pixels. A text's width is
    measured once per text, size and weight (the overlay lays out the same tags and titles on every frame)."""

    def __init__(self) -> None:
        self.face = None
        if hasattr(cv2, "FontFace"):
            try:
                self.face = cv2.FontFace("sans")
            except Exception:  # pragma: no cover - font not built in
                self.face = None
        self.width = functools.lru_cache(maxsize=1024)(self._width)

    def _width(self, text: str, size: int, weight: int = 400) -> int:
        """The width ``text`` takes in pixels (``self.width``: the same, remembered)."""
        if self.face is not None:
            r = cv2.getTextSize((0, 0), text, (0, 0), self.face, size, weight)
            return int(r[2]) if isinstance(r, tuple) else int(r.width)
        scale = cv2.getFontScaleFromHeight(cv2.FONT_HERSHEY_SIMPLEX, size)
        (w, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        return int(w)

    def put(self, img: np.ndarray, text: str, org: tuple[int, int], size: int, color: tuple[int, int, int],
            weight: int = 400) -> tuple[int, int, int, int]:
        """Draw with the baseline at ``org[1]``; the box (x0, y0, x1, y1) the text takes, for laying out around it."""
        x, y = int(org[0]), int(org[1])
        if self.face is not None:
            cv2.putText(img, text, (x, y), color, self.face, int(size), weight)
            r = cv2.getTextSize((0, 0), text, (x, y), self.face, int(size), weight)
            x0, y0, w, h = r if isinstance(r, tuple) else (r.x, r.y, r.width, r.height)
            return int(x0), int(y0), int(x0 + w), int(y0 + h)
        scale = cv2.getFontScaleFromHeight(cv2.FONT_HERSHEY_SIMPLEX, int(size * 0.72))
        thick = 2 if weight >= 600 else 1
        cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, color, thick, cv2.LINE_AA)
        (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        return x, y - h, x + w, y + base

    def fit(self, text: str, size: int, max_w: int, weight: int = 400) -> str:
        """Shorten ``text`` with an ellipsis until it fits ``max_w`` pixels."""
        if self.width(text, size, weight) <= max_w:
            return text
        while len(text) > 1 and self.width(text + "…", size, weight) > max_w:
            text = text[:-1]
        return text + "…"


_TEXT: Text | None = None


def typeface() -> Text:
    """The shared text renderer (made on first use)."""
    global _TEXT
    if _TEXT is None:
        _TEXT = Text()
    return _TEXT


# ------------------------------------------------------------------------------------------------
# drawing helpers


def shade(img: np.ndarray, x0: int, y0: int, x1: int, y1: int, color=PANEL, alpha: float = 0.78) -> None:
    """Blend a dark panel into img[y0:y1, x0:x1] in place."""
    h, w = img.shape[:2]
    x0, x1, y0, y1 = max(0, x0), min(w, x1), max(0, y0), min(h, y1)
    if x1 <= x0 or y1 <= y0:
        return
    roi = img[y0:y1, x0:x1]
    cv2.addWeighted(roi, 1.0 - alpha, np.full_like(roi, color), alpha, 0.0, dst=roi)


def pill_size(text: str, size: int, weight: int = 700) -> tuple[int, int]:
    """The width and height :func:`pill` takes for ``text``, to lay it out before drawing it."""
    pad = max(3, size // 3)
    return typeface().width(text, size, weight) + 2 * pad, int(size * 1.25) + pad


def pill(img: np.ndarray, text: str, x: int, y: int, size: int, fg, bg, weight: int = 700,
          anchor: str = "left") -> tuple[int, int, int, int]:
    """A filled rounded label; (x, y) is its top-left (or top-centre with anchor="center")."""
    tx = typeface()
    pad = max(3, size // 3)
    w, h = pill_size(text, size, weight)
    if anchor == "center":
        x -= w // 2
    elif anchor == "right":
        x -= w
    r = h // 2
    cv2.rectangle(img, (x + r, y), (x + w - r, y + h), bg, -1, cv2.LINE_AA)
    cv2.circle(img, (x + r, y + r), r, bg, -1, cv2.LINE_AA)
    cv2.circle(img, (x + w - r, y + h - r), r, bg, -1, cv2.LINE_AA)
    tx.put(img, text, (x + pad, y + h - pad - max(1, size // 6)), size, fg, weight)
    return x, y, w, h


def corners(img: np.ndarray, box: tuple[int, int, int, int], color, thick: int) -> None:
    """A face box drawn as a thin frame with heavier corner marks."""
    x, y, w, h = box
    cv2.rectangle(img, (x, y), (x + w, y + h), color, max(1, thick // 2), cv2.LINE_AA)
    L = max(8, min(w, h) // 5)
    for cx, cy, dx, dy in ((x, y, 1, 1), (x + w, y, -1, 1), (x, y + h, 1, -1), (x + w, y + h, -1, -1)):
        cv2.line(img, (cx, cy), (cx + dx * L, cy), color, thick, cv2.LINE_AA)
        cv2.line(img, (cx, cy), (cx, cy + dy * L), color, thick, cv2.LINE_AA)


def thumb(img: np.ndarray, src: np.ndarray | None, x: int, y: int, size: int, caption: str, fs: int) -> None:
    tx = typeface()
    if src is not None and src.size:
        t = src if src.ndim == 3 else cv2.cvtColor(src, cv2.COLOR_GRAY2BGR)
        img[y:y + size, x:x + size] = cv2.resize(t, (size, size), interpolation=cv2.INTER_AREA)
    else:
        cv2.rectangle(img, (x, y), (x + size, y + size), (55, 50, 48), -1)
        tx.put(img, "–", (x + size // 2 - fs // 3, y + size // 2 + fs // 3), fs, MUTED)
    cv2.rectangle(img, (x, y), (x + size, y + size), (90, 90, 90), 1)
    cap = tx.fit(caption, fs, size)
    tx.put(img, cap, (x + (size - tx.width(cap, fs)) // 2, y + size + int(fs * 1.15)), fs, MUTED)
