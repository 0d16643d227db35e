"""What the terminal shows: progress bars, the live status line and the one-line report of a run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.text import Text


def progress_bar(console: Console | None = None, *extra: ProgressColumn | str, transient: bool = False,
                 disable: bool = False) -> Progress:
    """The project's progress bar: description, bar, done/total, ``extra`` columns, time remaining."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), *extra,
                    TimeRemainingColumn(), console=console, transient=transient, disable=disable)


def status_text(s: dict[str, Any], name: str) -> Text:
    """One status line of a headless live run, from :meth:`mpt_live.view.OverlayView.status`."""
    t = Text()
    t.append(f"{name}  ", style="bold")
    t.append(f"{s['fps']:.1f} fps  " if s.get("fps") else "– fps  ")
    t.append(f"{s['provider'].replace('ExecutionProvider', '')}  ", style="cyan")
    if not s.get("face"):
        t.append("no face", style="bold red")
    elif s.get("label") is None:
        t.append("warming up", style="dim")
    else:
        t.append(s["label"], style="bold green" if s["label"] != "neutral" else "")
        if s.get("confidence") is not None:
            t.append(f" {s['confidence']:.0%}")
    if s.get("latency_ms"):
        t.append(f"  model {s['latency_ms']:.0f} ms", style="dim")
    t.append(f"  windows {s['windows']}", style="dim")
    if s.get("demo"):
        t.append("  DEMO MODEL", style="bold yellow")
    return t


class StatusLine:
    """``with StatusLine(console, name) as line: line.update(status)`` — redrawn at most 4 times a second
    on a terminal; where the output is a file or a pipe (a job's log), one plain line every ``log_every_s``."""

    def __init__(self, console: Console, name: str, every_s: float = 0.25, log_every_s: float = 30.0) -> None:
        self.name, self.console = name, console
        self.every_s = every_s if console.is_terminal else log_every_s
        self._live = (Live(Text(f"{name}: starting…"), console=console, refresh_per_second=4, transient=False)
                      if console.is_terminal else None)
        self._last = 0.0 if console.is_terminal else time.monotonic()

    def update(self, status: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            if self._live is not None:
                self._live.update(status_text(status, self.name))
            else:
                self.console.print(status_text(status, self.name), highlight=False, soft_wrap=True)

    def __enter__(self) -> "StatusLine":
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()


def report_line(s: dict[str, Any], out: Path | None) -> str:
    """One line about a finished run, from its summary."""
    labels = s.get("labels", {})
    shares = ", ".join(f"{k} {v['share']:.0%}" for k, v in labels.items() if v["share"] >= 0.005)
    lat = s.get("latency_ms", {}).get("capture_to_prediction_p95")
    src = s["source"] if "://" in s["source"] or s["source"].startswith("camera ") else Path(s["source"]).name
    msg = (f"{src}: {s['frames_read']} frames ({s['frames_with_face']} with a face), {s['windows']} windows "
           f"({s['windows_classified']} classified), {s['fps']} frames/s, {len(s['events'])} motion events"
           + (f"; {shares}" if shares else ""))
    if lat is not None:
        msg += f"; latency p95 {lat:.0f} ms"
    if out is not None:
        msg += f" -> {out}/"
    if s.get("model", {}).get("demo"):
        msg += " [DEMO MODEL]"
    return msg
