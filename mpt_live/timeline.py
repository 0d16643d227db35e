"""timeline.png: class probabilities and motion score over time, spotted events shaded.

Drawn with matplotlib's Agg backend from the rows written to ``predictions.csv`` (dicts with the
CSV's columns; strings or numbers), so it can be rebuilt from the CSV of an interrupted run.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .writers import atomic_path


def read_rows(path: str | Path) -> list[dict[str, str]]:
    """The rows of a predictions.csv (a partial file from an interrupted run is fine)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _num(v: Any) -> float:
    if v is None or v == "":
        return float("nan")
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def render_timeline(
    rows: Sequence[Mapping[str, Any]],
    classes: Sequence[str],
    events: Sequence[Mapping[str, Any]],
    out: str | Path,
    title: str = "",
    demo: bool = False,
) -> Path:
    """Write the timeline PNG to ``out``; returns its path. Works with zero rows (an empty plot)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # Figure directly: no pyplot state, safe in threads

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    t = np.array([_num(r.get("time_s")) for r in rows])
    face = np.array([_num(r.get("face")) == 1 for r in rows], dtype=bool)
    score = np.array([_num(r.get("motion_score")) for r in rows])
    probs = {c: np.array([_num(r.get(f"p_{c}")) for r in rows]) for c in classes}
    has_probs = any(np.isfinite(p).any() for p in probs.values())

    # the label strip: the row's top, or "warming up" (a face, no full window yet) / "" (no face)
    tops = [str(r.get("top") or ("warming up" if f else "")) for r, f in zip(rows, face)]
    has_top = has_probs and any(str(r.get("top") or "") for r in rows)
    ratios = ([0.22] if has_top else []) + ([1.0] if has_probs else []) + [1.0]
    fig = Figure(figsize=(12, 1.6 + 2.4 * sum(ratios)), dpi=100, layout="constrained")
    axes = list(fig.subplots(len(ratios), 1, sharex=True, squeeze=False, gridspec_kw={"height_ratios": ratios})[:, 0])
    cmap = matplotlib.colormaps["tab10"]
    if has_top:
        ax = axes.pop(0)
        # one bar per window, from the previous window's time to this one's, coloured by its label
        starts = np.r_[t[0] - (t[1] - t[0] if len(t) > 1 else 0.1), t[:-1]] if len(t) else t
        colours = {c: cmap(i % 10) for i, c in enumerate(classes)}
        for lab, colour in list(colours.items()) + [("neutral", "0.75"), ("warming up", "0.9"), ("", "0.35")]:
            sel = [k for k, x in enumerate(tops) if x == lab]
            if sel:
                ax.broken_barh([(starts[k], t[k] - starts[k]) for k in sel], (0, 1), color=colour, lw=0,
                               label={"neutral": "neutral", "warming up": "warming up", "": "no face"}.get(lab))
        ax.set_yticks([])
        ax.set_ylabel("label", rotation=0, ha="right", va="center")
        ax.set_ylim(0, 1)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.15), fontsize=8, frameon=False)

    def shade(ax) -> None:
        for i, ev in enumerate(events):
            ax.axvspan(float(ev["start"]), float(ev["end"]), color="tab:red", alpha=0.13, lw=0,
                       label="motion event" if i == 0 else None)
        # no-face stretches: hatched grey
        if len(t):
            nf = ~face
            edges = np.flatnonzero(np.diff(np.r_[0, nf.astype(int), 0]))
            for k, (a, b) in enumerate(zip(edges[::2], edges[1::2])):
                t0 = t[a - 1] if a > 0 else t[a]
                t1 = t[b - 1] if b - 1 < len(t) else t[-1]
                ax.axvspan(t0, t1, facecolor="0.85", hatch="//", edgecolor="0.6", lw=0,
                           label="no face" if k == 0 else None)

    if has_probs:
        ax = axes[0]
        shade(ax)
        for i, c in enumerate(classes):
            ax.plot(t, probs[c], color=cmap(i % 10), lw=1.3, label=c)
        ax.set_ylim(0, 1)
        ax.set_ylabel("probability (raw)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9, frameon=False)
        ax.grid(alpha=0.3)
        if demo:
            ax.text(0.99, 0.97, "DEMO MODEL: not a validated micro-expression classifier", transform=ax.transAxes,
                    ha="right", va="top", fontsize=10, color="white", weight="bold", zorder=10,
                    bbox={"boxstyle": "round,pad=0.3", "fc": "tab:orange", "ec": "none"})
    ax = axes[-1]
    shade(ax)
    ax.plot(t, score, color="0.2", lw=1.0, label="motion score")
    for ev in events:
        if "peak" in ev and "peak_score" in ev:
            ax.plot([float(ev["peak"])], [float(ev["peak_score"])], "v", color="tab:red", ms=6)
            if ev.get("top"):
                ax.annotate(str(ev["top"]), (float(ev["peak"]), float(ev["peak_score"])), textcoords="offset points",
                            xytext=(0, 6), ha="center", fontsize=8, color="tab:red")
    finite = score[np.isfinite(score)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 50:
        ax.set_yscale("log")
    ax.set_ylabel("motion score")
    ax.set_xlabel("time (s)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9, frameon=False)
    if len(t) and np.isfinite(t).any():
        ax.set_xlim(np.nanmin(t) - 0.05, np.nanmax(t) + 0.05)
    fig.suptitle(title or "mpt-live timeline", fontsize=11)
    with atomic_path(out) as tmp:  # a reader never sees half a PNG
        fig.savefig(tmp)
    return out
