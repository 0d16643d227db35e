"""One face's timeline on the review page (report.html, :mod:`mpt_live.report`): an inline SVG of its class
probabilities (top) and motion score (bottom, log), its events shaded, where it was not in the frame and where the
video had no frames shaded apart, and a playhead. A long run's curves are drawn twice: reduced over the whole run and
point by point in parts that the page shows only when zoomed in (:func:`_curves`).
"""

from __future__ import annotations

import html
from typing import Any, Mapping, Sequence

import numpy as np

from .clocktime import clock, clock_span
from .draw import class_hex
from .timeline import NO_FRAMES, NO_MODEL, absences, as_number, broken, tick_label as _tick, tick_step

NO_FRAMES_FILL = "#dce6f2"  # where the video had no frames: blue-grey, apart from a face's absence (#e4e4e0)
BUCKETS = 2000  # a long run's timeline over the whole run: each curve's low and high in this many stretches
PART_S = 60.0  # ... and point by point in parts of this many seconds, shown when zoomed in


def face_svg(face: int, rows: list[Mapping[str, Any]], events: list[tuple[int, Mapping[str, Any]]],
              classes: Sequence[str], duration: float, start: float = 0.0,
              no_frames: Sequence[tuple[float, float]] = (), begin: float = 0.0) -> str:
    """One face's timeline: probabilities (top), motion score (bottom, log), events shaded, a playhead. The
    curves and events are in ``g.data`` (the page's zoom scales it in time and clips it to the plot); the
    time axis (``g.ticks``) is redrawn by the page for the span shown. ``events``: the face's, each with its place
    in the run's events (the shading's ``data-i``, as on the event's row in the table). ``no_frames``: where the video
had no frames (:func:`~mpt_live.timeline.frame_gaps`), shaded apart from the face's absences. The axis runs from
    ``begin`` (where the run began: its ``--start``, a resumed run's first part's) to ``duration``, in the video's
    own times (``data-begin``, ``data-duration``: the page seeks the video to them)."""
    # without a model (motion only) the probability band is a strip that says so, not an empty white box
    W, P, M, L = 1000.0, 100.0 if classes else 24.0, 50.0, 6.0  # width, probability band, motion band, left margin
    span = duration - begin
    x = lambda t: L + (W - L) * ((t - begin) / span if span > 0 else 0.0)  # noqa: E731
    t = np.array([as_number(r.get("time_s")) for r in rows])
    xd = 1 if span <= 300 else 2 if span <= 3000 else 3  # x precision: a zoomed hour still shows each window
    shows = "class probabilities and motion score" if classes else f"motion score only ({NO_MODEL})"
    gone = absences(t, start, duration, no_frames)  # the face not in the frame (from --start), as in timeline.png
    away, blank = sum(b - a for a, b in gone), sum(b - a for a, b in no_frames)
    since = "0" if begin <= 0 else clock(begin, False, duration)  # '0 to 4.90 s', '1:35.00 to 2:20.00'
    label = (f"face {face} timeline, {since} to {clock(duration)}: {shows}, {len(events)} "
             f"event{'' if len(events) == 1 else 's'}" + (f", not in the frame for {clock(away)}" if away > 0 else "")
             + (f", {NO_FRAMES} for {clock(blank)}" if blank > 0 else ""))
    parts = [f'<svg class="timeline" viewBox="0 0 {W:g} {P + M + 22:g}" data-face="{face}"'
             f' data-begin="{begin:.4f}" data-duration="{duration:.4f}"'
             f' role="img" tabindex="0" aria-label="{html.escape(label)}" aria-describedby="keys">',
             f'<clipPath id="plot-{face}"><rect x="{L}" y="0" width="{W - L}" height="{P + M + 4}"/></clipPath>',
             f'<rect x="{L}" y="0" width="{W - L}" height="{P + M + 4}" fill="#fff" stroke="#ccc"/>',
             "" if classes else f'<rect x="{L}" y="0" width="{W - L}" height="{P}" fill="#ececea"/>',
             f'<g clip-path="url(#plot-{face})"><g class="data">']
    xe = max(xd, 2)  # the shading's ends to the hundredth of a unit at least (an hour: 3.6 ms)
    for a, b in gone:
        parts.append(f'<rect class="absent" x="{x(a):.{xe}f}" y="0" width="{x(b) - x(a):.{xe}f}" height="{P + M + 4}" '
                     f'fill="#e4e4e0"><title>face {face} not in the frame {clock_span(a, b)}</title></rect>')
    for a, b in no_frames:  # the video's, not the face's: dotted, as in timeline.png
        parts.append(f'<rect class="noframes" x="{x(a):.{xe}f}" y="0" width="{x(b) - x(a):.{xe}f}" '
                     f'height="{P + M + 4}" fill="{NO_FRAMES_FILL}"><title>{NO_FRAMES} {clock_span(a, b)}</title></rect>')
    for i, e in events:  # its own length (zoomed in, a minimum width would be scaled too; not 0: a rect of width 0 is
        # not drawn at all), with an outline that no zoom scales
        x0, x1 = x(float(e["onset_s"])), x(float(e["offset_s"]))
        parts.append(f'<rect class="ev" data-i="{i}" x="{x0:.{xe}f}" y="0" width="{max(x1 - x0, 10 ** -xe):.{xe}f}" '
                     f'height="{P + M + 4}" '
                     f'fill="#d62728" fill-opacity="0.22" stroke="#d62728" stroke-opacity="0.22" stroke-width="1.5" '
                     f'vector-effect="non-scaling-stroke"><title>{html.escape(str(e.get("class") or e["type"]))} '
                     f'{clock_span(float(e["onset_s"]), float(e["offset_s"]))}</title></rect>')
    curves = [(P - np.array([as_number(r.get(f"p_{c}")) for r in rows]) * (P - 4), class_hex(k), f"p {c}")
              for k, c in enumerate(classes)]
    score = np.array([as_number(r.get("motion_score")) for r in rows])
    fin = score[np.isfinite(score) & (score > 0)]
    if fin.size:
        lo, hi = np.log(fin.min()), np.log(fin.max())
        y = P + 4 + M - (np.log(np.where(score > 0, score, np.nan)) - lo) / max(hi - lo, 1e-6) * (M - 4)
        curves.append((y, "#333", "motion score"))
    parts.append(_curves(t, curves, x, xd, duration, begin))
    parts.append('</g></g>')
    if not classes:  # outside the zoomed group: the page sizes it like the axis labels
        parts.append(f'<text class="no-model" x="{(L + W) / 2:g}" y="{P / 2:g}" font-size="11" text-anchor="middle" '
                     f'dominant-baseline="central" fill="#444">{NO_MODEL}: no class probabilities</text>')
    parts.append('<g class="ticks">')
    step = tick_step(span)
    for s in np.arange(np.ceil(begin / step - 1e-9) * step, duration + 1e-9, step):
        parts.append(f'<text x="{x(s):.1f}" y="{P + M + 18}" font-size="11" text-anchor="middle" fill="#555">'
                     f'{_tick(s, step)}</text>')
    parts.append(f'</g><line class="playhead" x1="{L}" x2="{L}" y1="0" y2="{P + M + 4}" stroke="#000" stroke-width="1.5"/>')
    parts.append("</svg>")
    return "".join(parts)


def _curves(t: np.ndarray, curves: Sequence[tuple[np.ndarray, str, str]], x, xd: int, duration: float,
            begin: float = 0.0) -> str:
    """A face's curves as polylines. A long run's (over ``2 * BUCKETS`` points) twice: for the whole run
    (``g.whole``) each curve's lowest and highest point in each of ``BUCKETS`` stretches of time, and point by point
    in parts of ``PART_S`` seconds (``g.part``, hidden) that the page shows only when zoomed in on them. An hour's
    windows drawn at once, point by point, kept chromium from drawing the page for 15 s, and read as a solid band."""
    # in time order, broken wherever the face was away (the absence rule's threshold, as its shading)
    ts, ys = broken(t, *(y for y, _, _ in curves))
    named = [(y, colour, name) for y, (_, colour, name) in zip(ys, curves)]
    if len(ts) <= 2 * BUCKETS:
        return "".join(_polyline(ts, y, x, colour, name, xd) for y, colour, name in named)
    out = [f'<g class="whole" data-buckets="{BUCKETS}">']
    for y, colour, name in named:
        keep = _envelope(ts - begin, y, duration - begin)
        out.append(_polyline(ts[keep], y[keep], x, colour, name, xd))
    out.append("</g>")
    for a in np.arange(begin, duration, PART_S):  # one point either side: a part's lines meet its neighbours'
        i0, i1 = np.searchsorted(ts, [a, a + PART_S])
        if i1 > i0:  # in hundredths of a second from the part's start (a third smaller than the run's units)
            sel, to = slice(max(i0 - 1, 0), i1 + 1), x(a + 1.0) - x(a)
            out.append(f'<g class="part" data-t0="{a:g}" data-t1="{a + PART_S:g}" style="display:none" '
                       f'transform="translate({x(a):.6f} 0) scale({to / 100:.8g} 1)">'
                       + "".join(_polyline((ts[sel] - a) * 100, y[sel], lambda v: v, colour, name, 0)
                                 for y, colour, name in named) + "</g>")
    return "".join(out)


def _envelope(t: np.ndarray, y: np.ndarray, duration: float) -> np.ndarray:
    """Indices (in time order) of the lowest and the highest finite ``y`` in each of ``BUCKETS`` equal stretches
    of ``t`` (sorted), and of both sides of every gap (a non-finite ``y``), so that a gap stays one."""
    ok = np.isfinite(y)
    b = np.minimum((t / max(duration, 1e-9) * BUCKETS).astype(int), BUCKETS - 1)
    fin = np.flatnonzero(ok)
    ranked = fin[np.lexsort((y[fin], b[fin]))]  # by stretch, then by value
    first = np.unique(b[ranked], return_index=True)[1]
    last = np.r_[first[1:] - 1, len(ranked) - 1] if len(first) else first
    sides = np.flatnonzero(np.diff(ok.astype(np.int8)))
    return np.unique(np.r_[ranked[first], ranked[last], sides, sides + 1].astype(int))


def _polyline(t: np.ndarray, y: np.ndarray, x, colour: str, name: str, xd: int = 1) -> str:
    out, run = [], []
    for ti, yi in zip(t, y):
        if np.isfinite(ti) and np.isfinite(yi):
            run.append(f"{x(ti):.{xd}f},{yi:.1f}")
        elif run:
            out.append(run)
            run = []
    if run:
        out.append(run)
    # a run of one point (a face with one window to draw) is a line of no length: drawn as a dot, by its round caps
    # (a circle would be stretched by the zoom's scale in time; a stroke that does not scale stays round)
    return "".join(f'<polyline points="{" ".join(r if len(r) > 1 else r * 2)}" fill="none" stroke="{colour}" '
                   + ('stroke-width="1.2" ' if len(r) > 1 else 'stroke-width="4" stroke-linecap="round" ')
                   + f'vector-effect="non-scaling-stroke"><title>{html.escape(name)}</title></polyline>' for r in out)
