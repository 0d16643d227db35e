"""``mpt-live --demo``: the bundled default input with known movements, and what the run found in it.

Renders the default input (:mod:`mpt_live.demo_input`), runs one job on it (window when there is a
display, ``annotated.mp4`` always) and compares the spotted events with the injected movements: a table
on the terminal and ``demo_report.json``. Per injected movement: the spotted event that overlaps it
(onset/apex/offset, IoU, its class from the model on the window centred on the spotted apex) and
``model_class``, the model's class of the window centred on the *injected* apex, whether or not the
spotter found it (so spotting and recognition can be judged apart). Events elsewhere are listed, with
those during the clip's blinks counted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table

from .demo_input import render_demo_clip
from .job import run_job
from .motion import model_inputs
from .session_config import SessionConfig
from .sheet import clips_at
from .sources import VideoFile
from .terminal import progress_bar, report_line
from .writers import write_json


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Intersection over union of two time intervals (s)."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def match_events(found: list[dict], truth: list[dict], tolerance_s: float = 0.1) -> list[dict]:
    """For each true movement, the spotted event (summary.json form) overlapping it best (within ``tolerance_s``)."""
    out = []
    for ev in truth:
        near = [f for f in found if f["onset_s"] <= ev["end"] + tolerance_s and f["offset_s"] >= ev["start"] - tolerance_s]
        hit = max(near, key=lambda f: iou((f["onset_s"], f["offset_s"]), (ev["start"], ev["end"])), default=None)
        out.append({**ev, "found": hit is not None, "spotted": hit,
                    "iou": round(iou((hit["onset_s"], hit["offset_s"]), (ev["start"], ev["end"])), 3) if hit else 0.0})
    return out


def apex_classes(video: Path, apexes: list[float], runtime: Any, detector: str) -> list[tuple[str | None, float | None]]:
    """The model's class (and probability) of the window centred on each apex time."""
    spec = runtime.clip_spec
    out: list[tuple[str | None, float | None]] = []
    for clip in clips_at(video, [a + spec.window_s / 2 for a in apexes], spec, detector):
        if clip is None:
            out.append((None, None))
            continue
        dynamic, motion, _ = model_inputs(clip, spec)
        p = np.asarray(runtime.predict(dynamic[None], motion[None]))[0]
        out.append((runtime.classes[int(np.argmax(p))], round(float(np.max(p)), 4)))
    return out


def demo_table(matches: list[dict], mode: str, with_model: bool) -> Table:
    """The injected movements beside what was spotted (and named): the terminal's table of ``--demo``."""
    # fits an 80-column terminal (and a captured log, which rich lays out at 80): no cell is cut
    table = Table(title=f"injected movements vs spotted events ({mode})", box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, collapse_padding=True, caption_justify="left",
                  caption="true s: the injected movement's onset-offset; px: its amplitude; spotted s: onset-apex-offset"
                          " of the event that overlaps it" + (
                              "; event: the model's class of that event; at apex: of the window centred on the true"
                              " apex" if with_model else ""))
    cols = ["class", "true s", "px", "spotted s", "IoU"] + (["event", "at apex"] if with_model else [])
    for col in cols:
        table.add_column(col, no_wrap=True)

    def named(c: str | None, right: str) -> str:
        return "-" if c is None else (f"[green]{c}[/]" if c == right else c)

    for m in matches:
        sp = m["spotted"]
        row = [m["class"], f"{m['start']:.2f}-{m['end']:.2f}", f"{m['amplitude_px']:.1f}",
               f"{sp['onset_s']:.2f}-{sp['apex_s']:.2f}-{sp['offset_s']:.2f}" if sp else "[red]missed[/]",
               f"{m['iou']:.2f}"]
        if with_model:
            row += [named((sp or {}).get("class"), m["class"]), named(m.get("model_class"), m["class"])]
        table.add_row(*row)
    return table


def run_demo(out: Path, runtime: Any | None, cfg: SessionConfig, console: Console, display: bool,
             face_photo: Path | None = None) -> dict[str, Any]:
    """Render the default input into ``out`` (from the astronaut, or ``face_photo``), run on it, print and write
    the comparison; returns the report."""
    out.mkdir(parents=True, exist_ok=True)
    clip = out / "demo_input.mp4"
    who = "scikit-image's astronaut portrait" if face_photo is None else str(face_photo)
    # the default input is the astronaut's; a line of its own on any console (a long path is not broken inside)
    what = "the default input" if face_photo is None else "the demo input"
    console.print(f"rendering {what} (synthetic, from {who}) -> {clip}", highlight=False, soft_wrap=True)
    truth = render_demo_clip(clip, face_photo=face_photo)
    with progress_bar(console, transient=True, disable=display) as bar:
        task = bar.add_task(clip.name, total=None)
        with VideoFile(clip) as src:
            summary = run_job(src, runtime, cfg, out, save_video=True, display=display,
                              progress=lambda i, n: bar.update(task, completed=i, total=n))
    console.print(report_line(summary, out), highlight=False, soft_wrap=True)
    mode = "motion-only mode" if runtime is None else ("DEMO MODEL" if runtime.demo else Path(runtime.path).name)
    matches = match_events(summary["events"], truth["events"])
    if runtime is not None:
        for m, (cls, p) in zip(matches, apex_classes(clip, [e["apex"] for e in truth["events"]], runtime,
                                                     summary.get("detector_used") or "short")):
            m["model_class"], m["model_confidence"] = cls, p
    console.print(demo_table(matches, mode, runtime is not None))
    n_found = sum(m["found"] for m in matches)
    n_megc = sum(m["iou"] >= 0.5 for m in matches)
    other = [e for e in summary["events"] if not any(m["spotted"] is e for m in matches)]
    blinks = [b for b in truth.get("blinks", [])]
    at_blinks = [e for e in other if any(e["onset_s"] <= b["end"] and e["offset_s"] >= b["start"] for b in blinks)]
    line = (f"{n_found}/{len(matches)} injected movements found ({n_megc} at IoU >= 0.5); {len(other)} other events "
            f"({len(at_blinks)} during the clip's {len(blinks)} blinks; the clip also has head drift)")
    if runtime is not None:
        right = sum(1 for m in matches if m["spotted"] and m["spotted"].get("class") == m["class"])
        at_apex = sum(1 for m in matches if m.get("model_class") == m["class"])
        line += (f"; the model named {right}/{len(matches)} right on the spotted events, {at_apex}/{len(matches)} "
                 "on the windows centred on the true apexes")
        if runtime.demo:
            line += " (DEMO MODEL: trained on semi-synthetic data, not a validated classifier)"
    console.print(line, highlight=False)
    named_at_apex = sum(1 for m in matches if m.get("model_class") == m["class"]) if runtime is not None else None
    report = {"face": truth["source"], "named_at_apex": named_at_apex, "matches": matches, "other_events": other, "other_events_at_blinks": len(at_blinks),
              "found": n_found, "found_iou50": n_megc, "status": summary["status"]}
    write_json(out / "demo_report.json", report)
    return report
