"""The live overlay: one pure function ``render_overlay(frame, state) -> frame``.

Layout (where each part goes: :mod:`mpt_live.overlay_layout`; sizes scale with the frame, so 640x480 and 1280x720
read the same):

* a side column on the side of the frame away from the face: header (model, DEMO MODEL badge),
  the current class in large type, one bar per class with its probability, the three thumbnails
  the model sees (aligned face, magnified motion as a heat map, dynamic image) and the run figures
  (fps, model latency, execution provider); where neither side of the face has room for it (a portrait
  phone video, a face filling a small frame), the same panel across the frame below or above the face, else
  a narrower column (each bar under its class name);
* a history strip along the bottom (or the top, if the face reaches down there) of the remaining
  width: one cell per window coloured by its label, with the motion score drawn over it;
* every tracked face's box with its ID and label on the frame itself, beside the face, off the panels and the
  other tags, shortened where needed (:mod:`mpt_live.face_tags`; the column shows the face ``face_id``, the first
  one, its title shortened to keep that number; the others are ``others``); "NO FACE" as a banner when no face
  is tracked.

The same renderer draws the OpenCV window, the snapshots and the ``--save-video`` MP4.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from .clocktime import clock
from .draw import (ACCENT, ALERT, DEMO_BG, MUTED, NOFACE, WARN, WHITE, class_color, corners, pill, pill_size, shade,
                   thumb, typeface)
from .face_tags import TAG_WEIGHT, place_tags, tag_texts
from .overlay_layout import MIN_COLUMN, Geom, geometry
from .results import NEUTRAL


@dataclass
class FaceTag:
    """Another tracked face of the frame: its box and what its tag says."""

    face_id: int
    box: tuple[int, int, int, int]
    label: str | None = None
    event: bool = False


@dataclass
class OverlayState:
    """Everything the overlay shows. Probabilities are the display (smoothed) values."""

    classes: Sequence[str] = ()
    probs: Sequence[float] | None = None
    label: str | None = None  # current label: a class, "neutral" (outside events) or None
    confidence: float | None = None  # the confidence of the event the label names (events.csv's)
    event_apex_s: float | None = None  # when that event's apex was: the label comes seconds after it
    face: bool = False  # the face track is live
    box: tuple[int, int, int, int] | None = None  # x, y, w, h in frame pixels
    aligned: np.ndarray | None = None  # BGR uint8 thumbnails (any size)
    motion: np.ndarray | None = None
    dynamic: np.ndarray | None = None
    history: Sequence[tuple[str | None, float | None]] = ()  # (label, motion score), oldest first
    motion_score: float | None = None
    event: bool = False  # inside a spotted motion event
    fps: float | None = None
    latency_ms: float | None = None  # model (magnify + rank pool + classify) per window
    provider: str = ""
    model: str = ""  # short model name
    demo: bool = False
    paused: bool = False
    recording: bool = False
    time_s: float | None = None
    message: str | None = None  # a transient line (e.g. "snapshot saved")
    side: str | None = None  # "left" | "right"; None: chosen from the face box
    face_id: int | None = None  # the track ID of the face the column shows
    others: Sequence[FaceTag] = ()  # the other tracked faces of the frame

    @property
    def numbered(self) -> bool:
        """Whether the column and the face's tag show its number: other faces are tracked, or its ID is not 0."""
        return self.face_id is not None and bool(self.others or self.face_id)


def render_overlay(frame: np.ndarray, state: OverlayState) -> np.ndarray:
    """Draw the overlay on a copy of ``frame`` (BGR uint8); the output has the same size."""
    img = np.ascontiguousarray(frame, dtype=np.uint8).copy()
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    g = geometry(img.shape, state)
    draw_faces(img, state, g)
    draw_column(img, state, g)
    _draw_strip(img, state, g)
    _draw_banners(img, state, g)
    return img


def draw_faces(img: np.ndarray, st: OverlayState, g: Geom) -> None:
    """Every face's box and its tag (:mod:`mpt_live.face_tags`), the main face's first; the tags' texts and
    rectangles in ``g.extra["tags"]`` (face ID -> :class:`~mpt_live.face_tags.Tag`)."""
    faces = []
    if st.box is not None and st.face:
        state = "event" if st.event else "tracking"
        texts = tag_texts(st.face_id, state) if st.numbered else ["motion event" if st.event else "tracking"]
        faces.append((st.face_id, st.box, texts, ALERT if st.event else ACCENT))
    faces += [(o.face_id, o.box, tag_texts(o.face_id, o.label), ALERT if o.event else MUTED) for o in st.others]
    fs = max(10, round(g.fs * 0.9))
    panels = [(g.col_x0, g.col_y0, g.col_x1, g.col_y1), (g.strip_x0, g.strip_y0, g.strip_x1, g.strip_y1)]
    tags = place_tags([(box, texts) for _, box, texts, _ in faces], fs, g.W, g.H, panels)
    g.extra["tags"] = {}
    for (face_id, box, _, color), tag in zip(faces, tags):
        corners(img, tuple(int(v) for v in box), color, max(2, round(2 * g.s)))
        if tag is not None:
            pill(img, tag.text, tag.rect[0], tag.rect[1], fs, (20, 20, 20), color, TAG_WEIGHT)
            g.extra["tags"][face_id] = tag


def draw_column(img: np.ndarray, st: OverlayState, g: Geom) -> None:
    tx = typeface()
    x0, x1, pad, fs = g.col_x0, g.col_x1, g.pad, g.fs
    shade(img, x0, g.col_y0, x1, g.col_y1)
    cx, cw = x0 + pad, (x1 - x0) - 2 * pad
    y = g.col_y0 + pad

    # header: the title, the demo badge beside it, or under it where the column has no room for both (a narrow
    # column: the badge covered the title); the title's shorter forms keep the face's number where the whole title
    # does not fit (it was cut to "MPT live…"); each text's box in g.extra["header"], the title in g.extra["title"]
    big, small = round(fs * 1.25), max(10, round(fs * 0.85))
    titles = [f"MPT live · face {st.face_id}", f"MPT · face {st.face_id}", f"face {st.face_id}"] if st.numbered \
        else ["MPT live"]
    badges = ([b for b in ("DEMO MODEL", "DEMO") if pill_size(b, small, 800)[0] <= cw] or ["DEMO"]) if st.demo else [""]
    fits = [(t, b) for t in titles for b in badges
            if tx.width(t, big, 700) + (pill_size(b, small, 800)[0] + pad if b else 0) <= cw]
    title, badge = fits[0] if fits else (next((t for t in titles if tx.width(t, big, 700) <= cw), titles[-1]), badges[0])
    bw, bh = pill_size(badge, small, 800) if badge else (0, 0)
    beside = bool(fits)
    title = g.extra["title"] = tx.fit(title, big, cw - (bw + pad if badge and beside else 0), 700)
    boxes = g.extra["header"] = {"title": tx.put(img, title, (cx, y + big), big, WHITE, 700)}
    y += big + round(fs * 0.6)
    if badge:
        bx, by = (x1 - pad - bw, boxes["title"][1]) if beside else (cx, y)
        pill(img, badge, bx, by, small, (10, 10, 10), DEMO_BG, 800)
        boxes["badge"] = (bx, by, bx + bw, by + bh)
        y = max(y, by + bh + round(fs * 0.4))
    if st.model:
        boxes["model"] = tx.put(img, tx.fit(st.model, small, cw), (cx, y + small), small, MUTED)
        y += round(fs * 1.3)
    y += round(fs * 0.3)

    # the current label, large
    huge = round(fs * 1.9)
    if not st.face:
        label, color, sub = "no face", ALERT, "looking for a face…"
    elif st.label is None:
        label, color, sub = "warming up", MUTED, "filling the first window"
    else:
        label = st.label
        color = class_color(st.classes, st.label)
        at = "" if st.event_apex_s is None else f"apex {clock(st.event_apex_s)}"
        if st.label in st.classes and st.confidence is not None:  # the event's: '100% at apex 12.07 s'
            sub = f"{st.confidence:.0%} at {at}" if at else f"confidence {st.confidence:.0%}"
        elif st.label == NEUTRAL:
            sub = "no motion event"
        else:  # a motion event without a class (no model): it said 'no motion event'
            sub = at or "motion event"
    cv2.rectangle(img, (cx, y + round(fs * 0.2)), (cx + max(3, round(4 * g.s)), y + huge + round(fs * 1.5)),
                  color, -1)
    lx = cx + round(10 * g.s)
    boxes["label"] = tx.put(img, tx.fit(label, huge, cw - (lx - cx), 700), (lx, y + huge), huge, WHITE, 700)
    boxes["sub"] = tx.put(img, tx.fit(sub, fs, cw - (lx - cx)), (lx, y + huge + round(fs * 1.45)), fs, MUTED)
    y += huge + round(fs * 2.5)

    # one bar per class
    classes = list(st.classes)
    probs = list(st.probs) if st.probs is not None else [None] * len(classes)
    name_w = max([tx.width(c, fs) for c in classes] + [0])
    name_w = min(name_w, int(cw * 0.45))
    val_w = tx.width("100%", fs)
    row_h = round(fs * 1.55)
    bar_x0 = cx + name_w + round(6 * g.s)
    bar_x1 = cx + cw - val_w - round(6 * g.s)
    stacked = x1 - x0 < MIN_COLUMN  # a narrow column: each bar under its name and value, the column wide
    if stacked:
        name_w, bar_x0, bar_x1, row_h = cw - val_w - round(6 * g.s), cx, cx + cw, round(fs * 2.1)
    g.extra["bars"] = []
    # where the column is too short for a bar per class (a small video, many classes): the strongest classes,
    # the current label among them, in the model's order, and a line saying how many are left out
    bottom = g.col_y1 - 3 * round(fs * 1.35) - pad  # the run figures' lines (the history strip is beside the column)
    fit = max(1, (bottom - y) // row_h)
    shown = list(range(len(classes)))
    if len(classes) > fit:
        strength = [float(p) if p is not None and np.isfinite(p) else -1.0 for p in probs]
        keep = sorted(shown, key=lambda i: -strength[i])[:max(fit - 1, 1)]
        if st.label in classes and classes.index(st.label) not in keep:
            keep[-1] = classes.index(st.label)
        shown = sorted(keep)
    for c, p in ((classes[i], probs[i]) for i in shown):
        col = class_color(classes, c)
        is_top = st.face and st.label == c
        tx.put(img, tx.fit(c, fs, name_w), (cx, y + fs), fs, WHITE if is_top else MUTED, 700 if is_top else 400)
        by0, by1 = (y + round(fs * 1.3), y + round(fs * 1.8)) if stacked else (y + round(fs * 0.15), y + round(fs * 1.1))
        cv2.rectangle(img, (bar_x0, by0), (bar_x1, by1), (60, 56, 54), -1)
        if st.face and p is not None and np.isfinite(p):
            bx = bar_x0 + int(round((bar_x1 - bar_x0) * float(np.clip(p, 0, 1))))
            if bx > bar_x0:
                cv2.rectangle(img, (bar_x0, by0), (bx, by1), col if st.face else NOFACE, -1)
            v = f"{float(p):.0%}"
            tx.put(img, v, (cx + cw - tx.width(v, fs), y + fs), fs, WHITE if is_top else MUTED)
        g.extra["bars"].append((c, (bar_x0, by0, bar_x1, by1)))
        y += row_h
    if len(shown) < len(classes):
        tx.put(img, f"+{len(classes) - len(shown)} more classes", (cx, y + round(fs * 0.85)), round(fs * 0.85), MUTED)
        y += row_h
    y += round(fs * 0.4)

    # thumbnails: what the model sees
    n, gap = 3, max(3, round(5 * g.s))
    ts = int((cw - (n - 1) * gap) / n)
    ts = max(24, min(ts, round(110 * g.s)))
    foot = round(fs * 1.2) + ts + round(fs * 1.5)
    stats_h = 3 * round(fs * 1.35) + pad
    room = g.col_y1 - (g.strip_y1 - g.strip_y0 if g.strip_y0 > 0 and g.col_y1 == g.H else 0)
    if y + foot + stats_h <= room and n * ts + (n - 1) * gap <= cw:  # none where three do not fit side by side
        tx.put(img, "what the model sees", (cx, y + fs), round(fs * 0.85), MUTED)
        y += round(fs * 1.2)
        for i, (src, cap) in enumerate(((st.aligned, "aligned"), (st.motion, "motion ×α"), (st.dynamic, "dynamic"))):
            thumb(img, src, cx + i * (ts + gap), y, ts, cap, round(fs * 0.8))
        y += ts + round(fs * 1.5)

    # run figures, at the bottom of the column
    lines = []
    fps = f"{st.fps:.1f} fps" if st.fps is not None else "– fps"
    lat = f"model {st.latency_ms:.0f} ms" if st.latency_ms is not None else "model – ms"
    if st.motion_score is not None and st.face:
        lines.append(f"motion {st.motion_score:.3g}" + ("  · event" if st.event else ""))
    lines.append(f"{fps}   {lat}")
    prov = st.provider.replace("ExecutionProvider", "") if st.provider else "–"
    t = f"   t {clock(st.time_s)}" if st.time_s is not None else ""
    lines.append(f"{prov}{t}")
    small = round(fs * 0.9)
    yb = g.col_y1 - pad - (len(lines) - 1) * round(small * 1.35)
    for ln in lines:
        tx.put(img, tx.fit(ln, small, cw), (cx, yb), small, MUTED)
        yb += round(small * 1.35)


def _draw_strip(img: np.ndarray, st: OverlayState, g: Geom) -> None:
    tx = typeface()
    x0, x1, y0, y1 = g.strip_x0, g.strip_x1, g.strip_y0, g.strip_y1
    if x1 - x0 < 40:
        return
    shade(img, x0, y0, x1, y1, alpha=0.7)
    fs = max(10, round(g.fs * 0.8))
    lx = x0 + g.pad
    tx.put(img, "history", (lx, y0 + fs + 2), fs, MUTED)
    tx.put(img, "motion", (lx, y1 - 4), fs, (120, 220, 255))
    px0 = lx + tx.width("history", fs) + g.pad
    px1 = x1 - g.pad
    cy0, cy1 = y0 + 4, y1 - 4
    hist = list(st.history)
    if not hist or px1 - px0 < 10:
        return
    n = len(hist)
    cell = (px1 - px0) / max(n, 1)
    band_y1 = cy0 + (cy1 - cy0) // 2
    scores = np.array([np.nan if sc is None else float(sc) for _, sc in hist], dtype=np.float64)
    finite = scores[np.isfinite(scores)]
    top = float(np.percentile(finite, 98)) if finite.size else 1.0
    top = top if top > 0 else 1.0
    pts = []
    for i, (lab, sc) in enumerate(hist):
        a, b = int(px0 + i * cell), int(px0 + (i + 1) * cell)
        cv2.rectangle(img, (a, cy0), (max(a, b - 1), band_y1), class_color(st.classes, lab), -1)
        if sc is not None and np.isfinite(sc):
            v = min(1.0, np.sqrt(max(float(sc), 0.0) / top))
            pts.append((int((a + b) / 2), int(cy1 - v * (cy1 - band_y1 - 2))))
        elif len(pts) > 1:
            cv2.polylines(img, [np.array(pts, np.int32)], False, (120, 220, 255), max(1, round(g.s)), cv2.LINE_AA)
            pts = []
        else:
            pts = []
    if len(pts) > 1:
        cv2.polylines(img, [np.array(pts, np.int32)], False, (120, 220, 255), max(1, round(g.s)), cv2.LINE_AA)


def _draw_banners(img: np.ndarray, st: OverlayState, g: Geom) -> None:
    """Top-of-frame messages in the free area: NO FACE, PAUSED, REC, transient messages."""
    band = g.col_y1 < g.H or g.col_y0 > 0  # the panel across the frame: the free area is beyond it
    fa0, fa1 = (0, g.W) if band else (0, g.col_x0) if g.side == "right" else (g.col_x1, g.W)
    fs = round(g.fs * 1.15)
    top = g.pad + (0 if g.strip_y0 > 0 else g.col_y1 if band else g.strip_y1)  # a band above: its strip on top
    if not st.face:
        pill(img, "NO FACE", (fa0 + fa1) // 2, top, round(fs * 1.3), WHITE, ALERT, 800, anchor="center")
    if st.recording:
        x = fa1 - g.pad
        _, _, w, h = pill(img, "REC", x, top, fs, WHITE, (30, 30, 200), 800, anchor="right")
    if st.paused:
        pill(img, "PAUSED", fa0 + g.pad, top, fs, (20, 20, 20), WARN, 800)
    if st.message:
        mfs = round(g.fs * 0.95)
        _, _, _, h = (0, 0, 0, int(mfs * 1.25) + max(3, mfs // 3))
        strip_top = g.col_y0 if band and g.strip_y0 > 0 else g.strip_y0 if g.strip_y0 > 0 else g.H
        pill(img, typeface().fit(st.message, mfs, fa1 - fa0 - 4 * g.pad), (fa0 + fa1) // 2,
              strip_top - h - g.pad, mfs, WHITE, (70, 70, 70), 500, anchor="center")
