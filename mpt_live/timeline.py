"""timeline.png: per face, its labels, class probabilities and motion score over time, its events shaded.

Drawn with matplotlib's Agg backend from the rows written to ``predictions.csv`` (dicts with the
CSV's columns; strings or numbers, as :func:`mpt_live.results.read_table` reads them) and the events of ``summary.json`` (each with ``face``,
``onset_s``, ``apex_s``, ``offset_s``, ``class``, ``score``), so it can be rebuilt from the files of
an interrupted run. One section per face ID (``face_id``): a label strip, the probabilities (with a
model; without one, or when no window was classified, the motion panel's title says so) and the
motion score; stretches where that face is not in the frame are hatched (before it came and after it
left too), those where the video has no frames at all (:func:`frame_gaps`) dotted, "no frames in the video". A face with one window to draw (a line of one point is not drawn) shows it as dots, and says so.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .draw import class_hex
from .frametimes import STALL_S
from .writers import atomic_path

TICK_STEPS = (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


def tick_step(span: float, most: int = 10) -> float:
    """The time between axis labels: the smallest of :data:`TICK_STEPS` that gives at most ``most`` of them."""
    return next((s for s in TICK_STEPS if span / s <= most), TICK_STEPS[-1] * max(1, int(span / TICK_STEPS[-1] / most) + 1))


def tick_label(t: float, step: float) -> str:
    """An axis label: seconds below a minute (``45s``, ``2.5s``), else ``m:ss`` / ``h:mm:ss``."""
    if t < 60 and step < 60:
        return f"{t:g}s"
    h, rest = divmod(int(round(t)), 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def as_number(v: Any) -> float:
    """A CSV cell (or any value) as a float; NaN where it is empty or not a number (a face row's missing
    probabilities, a hand-edited file), so a bad cell is skipped by ``np.isfinite`` rather than raised."""
    if v is None or v == "":
        return float("nan")
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def last_frame_time(rows: Iterable[Mapping[str, Any]]) -> tuple[float | None, float | None]:
    """The highest ``frame`` and ``time_s`` of predictions.csv ``rows`` (read as they come: a list, a reader over the
    file), how far a run's rows go (a killed run finished from its files, the truth a stopped run never reached); a
    cell that is no finite number is skipped, None where no row has one."""
    frame = t = None
    for r in rows:
        f, s = as_number(r.get("frame")), as_number(r.get("time_s"))
        frame = f if np.isfinite(f) and (frame is None or f > frame) else frame
        t = s if np.isfinite(s) and (t is None or s > t) else t
    return frame, t


def window_times(rows: Iterable[Mapping[str, Any]]) -> list[float]:
    """The times of the rows that have something to draw: a finite motion score or class probability (a face's
    warming-up window and a row without a face have neither)."""
    return [t for r in rows if np.isfinite(t := as_number(r.get("time_s"))) and any(
        np.isfinite(as_number(v)) for k, v in r.items() if k == "motion_score" or str(k).startswith("p_"))]


NO_FRAMES = "no frames in the video"  # a stretch the video itself has no frames for (drawn, in legend and page)
ONE_WINDOW = "one window only, at {}: too short for a curve"  # a face whose timeline has one point to draw


def face_ids(rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """The face IDs present in the rows, in order."""
    ids = {as_number(r.get("face_id")) for r in rows}
    return sorted(int(i) for i in ids if np.isfinite(i))


# fonts with CJK glyphs, as found on Linux, macOS and Windows: class names and file names in Chinese or
# Japanese (a dataset's own labels) then render where the machine has one, instead of as boxes
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC", "Source Han Sans SC", "Source Han Sans CN",
             "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback", "Microsoft YaHei", "SimHei",
             "PingFang SC", "Hiragino Sans GB", "Arial Unicode MS")


NO_MODEL = "no model ran, motion only"  # a run without a model, as timeline.png and report.html say it
_rescanned: list[bool] = []  # the system's font files were looked for since matplotlib's cache was read


def use_fallback_fonts() -> list[str]:
    """Make matplotlib's font family DejaVu Sans followed by the installed fonts of :data:`CJK_FONTS` (it
    falls back glyph by glyph along such a list); the same list every call, so concurrent figures see one
    setting. Returns the fallbacks found."""
    import matplotlib
    from matplotlib import font_manager

    have = {f.name for f in font_manager.fontManager.ttflist}
    extra = [f for f in CJK_FONTS if f in have]
    if not extra and not _rescanned:  # matplotlib's font cache predates a font installed since: look once
        _rescanned.append(True)
        known = {f.fname for f in font_manager.fontManager.ttflist}
        for path in font_manager.findSystemFonts():
            if path not in known:
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):  # a font file matplotlib cannot read
                    continue
        have = {f.name for f in font_manager.fontManager.ttflist}
        extra = [f for f in CJK_FONTS if f in have]
    if extra:
        matplotlib.rcParams["font.family"] = ["DejaVu Sans", *extra]
        logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)  # "weight normal ... using 500"
    return extra


def render_timeline(
    rows: Sequence[Mapping[str, Any]],
    classes: Sequence[str],
    events: Sequence[Mapping[str, Any]],
    out: str | Path,
    title: str = "",
    demo: bool = False,
    until: float | None = None,
    no_frames: Sequence[tuple[float, float]] | None = None,
) -> Path:
    """Write the timeline PNG to ``out``; returns its path. Works with zero rows (an empty plot). ``until``: the
    time axis reaches at least this far (a killed run's events closed after its last written row). ``no_frames``:
    where the video had no frames (:func:`frame_gaps`, as the run's report.html has them; None: found here from
    ``rows``); the axis begins where the first of them does, at a video's start."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    use_fallback_fonts()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # Figure directly: no pyplot state, safe in threads

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    t_all = np.array([as_number(r.get("time_s")) for r in rows])
    fid = np.array([as_number(r.get("face_id")) for r in rows])
    ids = face_ids(rows) or [None]
    has_probs = any(np.isfinite(as_number(r.get(f"p_{c}"))) for r in rows for c in classes)
    has_top = has_probs and any(str(r.get("top") or "") for r in rows)
    section = ([0.22] if has_top else []) + ([1.0] if has_probs else []) + [0.8]
    ratios = [x for _ in ids for x in section]
    fig = Figure(figsize=(12, 1.2 + 2.2 * sum(ratios)), dpi=100, layout="constrained")
    axes = list(fig.subplots(len(ratios), 1, sharex=True, squeeze=False, gridspec_kw={"height_ratios": ratios})[:, 0])
    colours = {c: class_hex(i) for i, c in enumerate(classes)}
    named = []  # (a face's motion panel, its events): their names go above it once the layout is done
    no_frames = frame_gaps(rows) if no_frames is None else list(no_frames)  # the video's own, in every face's
    # panels: not a face's absence
    for k, face in enumerate(ids):
        sel = fid == face if face is not None else np.zeros(len(rows), bool)
        face_rows = [r for r, s in zip(rows, sel) if s]
        face_events = [e for e in events if face is None or as_number(e.get("face")) == face]
        seen = t_all[np.isfinite(t_all)]
        gaps = (absences(t_all[sel], float(seen.min()), float(seen.max()), no_frames)
                if face is not None and seen.size else [])
        named.append((_section(axes[k * len(section):(k + 1) * len(section)], face, face_rows, t_all[sel], colours,
                               face_events, has_top, has_probs, demo and k == 0, gaps, no_frames), face_events,
                      window_times(face_rows)))
    span = 0.0
    if len(t_all) and np.isfinite(t_all).any():
        end = max(float(np.nanmax(t_all)), until or 0.0)
        begin = min([float(np.nanmin(t_all))] + [a for a, _ in no_frames[:1]])  # a video's start without frames
        axes[-1].set_xlim(begin - 0.05, end + 0.05)
        span = float(end - begin)
    if span >= 120:  # a long recording: labels every 1, 2, 5, 10 ... minutes as m:ss, not every 200 s
        from matplotlib.ticker import FuncFormatter, MultipleLocator

        step = tick_step(span)
        axes[-1].xaxis.set_major_locator(MultipleLocator(step))
        axes[-1].xaxis.set_major_formatter(FuncFormatter(lambda v, _: tick_label(v, step) if v > -1e-6 else ""))
    axes[-1].set_xlabel("time (m:ss)" if span >= 120 else "time (s)")
    fig.suptitle(title or "mpt-live timeline", fontsize=11)
    with atomic_path(out) as tmp, warnings.catch_warnings():  # a reader never sees half a PNG
        # a file name in a script the font lacks (CJK, ...): boxes in the title, not a warning per glyph
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font", category=UserWarning)
        canvas = FigureCanvasAgg(fig)
        layout = fig.get_layout_engine()
        if any(e.get("class") for _, face_events, _ in named for e in face_events):
            layout.execute(fig)  # where each panel stands without the names, so a name's extent is measured there
        for ax, face_events, drawn in named:
            rise = name_events(ax, face_events, canvas.get_renderer()) if face_events else 0.0
            if not has_probs:  # no probability panel: say why above the face's motion panel (and its events' names)
                one = f"; {ONE_WINDOW.format(f'{drawn[0]:g} s')} (the dot)" if len(drawn) == 1 else ""
                ax.set_title((f"{NO_MODEL}: no class probabilities" if not classes
                              else "no window was classified: no class probabilities") + one, loc="left", fontsize=9,
                             color="0.3", pad=matplotlib.rcParams["axes.titlepad"] + rise)
        layout.execute(fig)  # with the names: room above the panels for them
        fig.set_layout_engine("none")  # laid out: the PNG is drawn once (savefig would lay out and draw it twice)
        canvas.print_png(tmp)
    return out


def _section(axes, face, rows, t, colours, events, has_top, has_probs, demo, gaps, no_frames=()):
    """One face's panels: label strip, probabilities, motion score; its events shaded and their apexes marked.
    Returns the motion panel, above which :func:`name_events` writes the events' names."""
    name = "no face" if face is None else f"face {face}"
    score = np.array([as_number(r.get("motion_score")) for r in rows])
    drawn = window_times(rows)
    point = {"marker": "o", "ms": 4} if len(drawn) == 1 else {}  # a line of one point is not drawn: a dot

    def shade(ax) -> None:
        for i, ev in enumerate(events):
            ax.axvspan(float(ev["onset_s"]), float(ev["offset_s"]), color="tab:red", alpha=0.18, lw=0,
                       label="event" if i == 0 else None)
        for j, (a, b) in enumerate(gaps):
            ax.axvspan(a, b, facecolor="0.88", hatch="//", edgecolor="0.65", lw=0, label="not in frame" if j == 0 else None)
        for j, (a, b) in enumerate(no_frames):  # dotted, not hatched: nothing was in the frame, there was no frame
            ax.axvspan(a, b, facecolor="#e8eef6", hatch="..", edgecolor="0.6", lw=0,
                       label=NO_FRAMES if j == 0 else None)

    if has_top:
        ax = axes[0]
        tops = [str(r.get("top") or "") for r in rows]
        dt = float(np.median(np.diff(t))) if len(t) > 1 else 0.1
        for lab, colour in list(colours.items()) + [("neutral", "0.75"), ("", "0.9")]:
            ks = [k for k, x in enumerate(tops) if x == lab]
            if ks:
                ax.broken_barh([(t[k] - dt, dt) for k in ks], (0, 1), color=colour, lw=0,
                               label={"": "warming up"}.get(lab, lab))
        shade(ax)
        ax.set_yticks([])
        ax.set_ylim(0, 1)
        ax.set_ylabel(f"{name}\nlabel", rotation=0, ha="right", va="center", fontsize=9, weight="bold")
        # only what the probability panel's legend below does not name (the classes, in the same colours, and the
        # shadings are there): all of them, nine entries, overflowed the strip and parted it from its panel
        own = [(h, n) for h, n in zip(*ax.get_legend_handles_labels()) if n in ("neutral", "warming up")]
        if own:
            ax.legend(*zip(*own), loc="upper left", bbox_to_anchor=(1.0, 1.3), fontsize=7, frameon=False)
        axes = axes[1:]
    if has_probs:
        ax = axes[0]
        shade(ax)
        for c, colour in colours.items():  # broken where the face was away, as the hatching shows
            ax.plot(*_broken1(t, [as_number(r.get(f"p_{c}")) for r in rows]), color=colour, lw=1.2, label=c, **point)
        ax.set_ylim(0, 1)
        ax.set_ylabel(f"{name}\nprobability", fontsize=9)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
        ax.grid(alpha=0.3)
        if point:  # why the panels hold a dot each, not curves (a face seen for about a second)
            ax.set_title(ONE_WINDOW.format(f"{drawn[0]:g} s") + " (the dots)", loc="left", fontsize=9, color="0.3")
        if demo:  # above the panel, not over its curves (it hid their top right: p 0.8-1 of the last third)
            ax.set_title("DEMO MODEL: not a validated micro-expression classifier", loc="right", fontsize=10,
                         color="white", weight="bold", bbox={"boxstyle": "round,pad=0.3", "fc": "tab:orange", "ec": "none"})
        axes = axes[1:]
    ax = axes[0]
    shade(ax)
    ax.plot(*_broken1(t, score), color="0.2", lw=1.0, label="motion score", **point)
    finite = score[np.isfinite(score)]
    top = float(finite.max()) if finite.size else 1.0
    for ev in events:
        ax.plot([float(ev["apex_s"])], [top], "v", color="tab:red", ms=6)
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 50:
        ax.set_yscale("log")
    ax.set_ylabel(f"{name}\nmotion", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return ax


NAME_ROWS = 3  # rows of event names above a motion panel; a name with no room in any is left out
NAME_PAD_PX = 4  # the least space between two names


def name_events(ax, events: Sequence[Mapping[str, Any]], renderer) -> float:
    """Write each event's class above its apex on the motion panel ``ax`` (laid out already: ``renderer`` measures
    the texts as they will be drawn), in time order, each in the lowest of :data:`NAME_ROWS` rows where it overlaps
    no name placed before; a name with no room in any row is left out, its event still shaded and its apex marked
    (events.csv and report.html have every name). A name stays within the panel's width (shifted in from an edge),
    so the layout that makes room for the rows above keeps the panel's time scale. Returns the height the names
    take above the panel, in points (0 without any), where a title goes above them."""
    panel = ax.get_window_extent(renderer)
    texts = []
    for ev in sorted(events, key=lambda e: as_number(e.get("apex_s"))):
        apex = as_number(ev.get("apex_s"))
        x = ax.transData.transform((apex, 0.0))[0] if np.isfinite(apex) else np.nan
        if ev.get("class") and panel.x0 <= x <= panel.x1:
            texts.append(ax.annotate(str(ev["class"]), (apex, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 2),
                                     textcoords="offset points", ha="center", va="bottom", fontsize=8,
                                     color="tab:red"))
    boxes = [t.get_window_extent(renderer) for t in texts]
    pitch = max((b.height for b in boxes), default=0.0) + 1  # pixels from one row to the next
    taken: list[Any] = []
    used = 0  # rows
    for text, box in zip(texts, boxes):
        x = (box.x0 + box.x1) / 2
        dx = min(max(x, panel.x0 + box.width / 2), panel.x1 - box.width / 2) - x  # in from the panel's edges
        row = None if box.width > panel.width else next((r for r in range(NAME_ROWS) if not any(
            box.translated(dx, r * pitch).padded(NAME_PAD_PX / 2, 0).overlaps(b) for b in taken)), None)
        if row is None:
            text.remove()
            continue
        taken.append(box.translated(dx, row * pitch).padded(NAME_PAD_PX / 2, 0))
        text.xy = (ax.transData.inverted().transform((x + dx, 0.0))[0], 1.0)
        text.xyann = (0, 2 + row * pitch * 72 / ax.figure.dpi)
        used = max(used, row + 1)
    return (2 + used * pitch * 72 / ax.figure.dpi) if used else 0.0


def _broken1(t: np.ndarray, y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    ts, (ys,) = broken(t, np.asarray(y, float))
    return ts, ys


def frame_gaps(rows: Iterable[Mapping[str, Any]], start: float | None = None) -> list[tuple[float, float]]:
    """Stretches where the video itself had no frames (a variable-frame-rate file's pauses, a webcam's stall), from
    all of a run's rows (every face's and the "no face" rows: one per window whatever is in the frame): two windows
    next to each other by frame number (their frames no further apart than the windows' usual step) but far apart in
    time. Such a stretch is not a face's absence: no frame there showed anything. Longer than a few windows' usual
    spacing, or :data:`~mpt_live.frametimes.STALL_S` (the readers' warning for a stall) where that is shorter. Known
    to a window: it runs from one window to the next, the frames between them (one at the default stride of 2) at
    times predictions.csv does not give. ``start``: where the run began reading (0, or ``--start``'s time; None:
    not known): a first row (the run's first frame) that long after it is a stretch with no frames too, from there.
    A run computes them once (:func:`mpt_live.report.write_plot_and_page`) for timeline.png and report.html."""
    pairs = {}
    for r in rows:
        f, t = as_number(r.get("frame")), as_number(r.get("time_s"))
        if np.isfinite(f) and np.isfinite(t):
            pairs[int(f)] = t
    if len(pairs) < 3:
        return []
    frames = np.array(sorted(pairs))
    times = np.array([pairs[f] for f in frames])
    df, dt = np.diff(frames), np.diff(times)
    step, usual = float(np.median(df)), float(np.median(dt))
    least = max(min(max(4 * usual, 0.3), STALL_S), 2 * usual)
    first = [(float(start), float(times[0]))] if start is not None and times[0] - start > least else []
    return first + [(float(times[i]), float(times[i + 1])) for i in np.flatnonzero((df <= step) & (dt > least))]


def absence_limit(t: np.ndarray) -> float:
    """How long a face (its rows' times ``t``, sorted) must have no rows to count as away: a few of its windows' usual
    spacing, 0.3 s at least. :func:`absences` shades such stretches and :func:`broken` breaks the curves there."""
    step = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    return max(4 * step, 0.3)


def broken(t: np.ndarray, *ys: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """A face's times ``t`` (finite ones, in time order) and its values ``ys`` in the same order, with a non-finite
    value put in wherever the face had no rows for longer than :func:`absence_limit`: a line drawn through them
    stops there instead of running straight across the absence (a resumed run's first row after one is not a
    warm-up row with empty values)."""
    t = np.asarray(t, float)
    order = np.flatnonzero(np.isfinite(t))
    order = order[np.argsort(t[order], kind="stable")]
    ts = t[order]
    cut = np.flatnonzero(np.diff(ts) > absence_limit(ts)) + 1 if len(ts) > 1 else np.zeros(0, int)
    return (np.insert(ts, cut, (ts[cut - 1] + ts[cut]) / 2),
            [np.insert(np.asarray(y, float)[order], cut, np.nan) for y in ys])


def absences(t: np.ndarray, start: float, end: float, no_frames: Sequence[tuple[float, float]] = ()
             ) -> list[tuple[float, float]]:
    """Stretches of ``start``..``end`` where a face has no rows: between its rows when longer than a few window
    spacings, and before its first and after its last (a face lost for most of a video, one that came late). The
    stretches where the video had no frames (``no_frames``, :func:`frame_gaps`) are taken out of each: what is left
    of one is kept where it is still that long in all (a face that left the frame across a stall keeps both sides)."""
    t = np.sort(t[np.isfinite(t)])
    if not len(t):
        out = [(start, end)] if end > start else []
        long = 0.0
    else:
        long = absence_limit(t)
        d = np.diff(t)
        out = [(float(t[i]), float(t[i + 1])) for i in np.flatnonzero(d > long)]
        if t[0] - start > long:
            out.insert(0, (start, float(t[0])))
        if end - t[-1] > long:
            out.append((float(t[-1]), end))
    kept = []
    for a, b in out:  # what is left of it with frames: still an absence where that is still so long
        pieces = [(a, b)]
        for g0, g1 in no_frames:
            pieces = [p for x, y in pieces for p in ((x, min(y, g0)), (max(x, g1), y)) if p[1] > p[0]]
        kept += pieces if sum(y - x for x, y in pieces) > long else []
    return kept
