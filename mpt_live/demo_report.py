"""``mpt-live --demo``: the bundled default input with known movements, and what the run found in it.

Renders the default input (:mod:`mpt_live.demo_input`), runs one job on it (window when there is a
display, ``annotated.mp4`` always) and compares the spotted motion events (and the model's class of
each) with the injected movements: a table on the terminal and ``demo_report.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .demo_input import render_demo_clip
from .job import run_job
from .session import SessionConfig
from .sources import VideoFile
from .terminal import progress_bar, report_line
from .writers import write_json


def match_events(found: list[dict], truth: list[dict], tolerance_s: float = 0.1) -> list[dict]:
    """For each true event, the spotted event whose [start, end] overlaps it (within ``tolerance_s``)."""
    out = []
    for ev in truth:
        hit = next(
            (f for f in found if f["start"] <= ev["end"] + tolerance_s and f["end"] >= ev["start"] - tolerance_s),
            None,
        )
        out.append({**ev, "found": hit is not None, "spotted": hit})
    return out


def run_demo(out: Path, runtime: Any | None, cfg: SessionConfig, console: Console, display: bool) -> dict[str, Any]:
    """Render the default input into ``out``, run on it, print and write the comparison; returns the report."""
    out.mkdir(parents=True, exist_ok=True)
    clip = out / "demo_input.mp4"
    console.print(f"rendering the default input (synthetic, from scikit-image's astronaut portrait) -> {clip}")
    truth = render_demo_clip(clip)
    with progress_bar(console, transient=True, disable=display) as bar:
        task = bar.add_task(clip.name, total=None)
        with VideoFile(clip) as src:
            summary = run_job(src, runtime, cfg, out, save_video=True, display=display,
                              progress=lambda i, n: bar.update(task, completed=i, total=n))
    console.print(report_line(summary, out), highlight=False, soft_wrap=True)
    mode = "motion-only mode" if runtime is None else ("DEMO MODEL" if runtime.demo else Path(runtime.path).name)
    matches = match_events(summary["events"], truth["events"])
    table = Table(title=f"injected facial movements vs motion events found ({mode})")
    cols = ["class", "start s", "end s", "amplitude px", "found", "spotted peak s"]
    if runtime is not None:
        cols.append("model's class")
    for col in cols:
        table.add_column(col)
    for m in matches:
        sp = m["spotted"]
        row = [m["class"], f"{m['start']:.2f}", f"{m['end']:.2f}", f"{m['amplitude_px']:.1f}",
               "[green]yes[/]" if m["found"] else "[red]no[/]", f"{sp['peak']:.2f}" if sp else "-"]
        if runtime is not None:
            top = (sp or {}).get("top")
            row.append("-" if top is None else (f"[green]{top}[/]" if top == m["class"] else top))
        table.add_row(*row)
    Console().print(table)
    n_found = sum(m["found"] for m in matches)
    other = [e for e in summary["events"] if not any(m["spotted"] is e for m in matches)]
    line = (f"{n_found}/{len(matches)} injected movements found; {len(other)} other motion events "
            f"(the clip also has {len(truth.get('blinks', []))} blinks and head drift)")
    if runtime is not None:
        right = sum(1 for m in matches if m["spotted"] and m["spotted"].get("top") == m["class"])
        line += f"; the model named {right}/{len(matches)} classes right"
        if runtime.demo:
            line += " (DEMO MODEL: trained on semi-synthetic data, not a validated classifier)"
    console.print(line, highlight=False)
    report = {"matches": matches, "other_events": other}
    write_json(out / "demo_report.json", report)
    return report
