"""What the terminal shows: progress bars, the live status line and the one-line report of a run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType
from rich.live import Live
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TaskID, TextColumn,
                           TimeRemainingColumn)
from rich.text import Text

from .errors import counted


LOG_EVERY_S = 30.0  # where the output is a file or a pipe: a plain progress line this often
# what a task counts where each item takes minutes (a whole video, a LOSO fold): its rate is the mean since the task
# began, not rich's estimate from the last 30 s, which two videos ending a second apart made 0.4 videos/s
WHOLE_ITEMS = frozenset({"videos", "folds"})


def progress_bar(console: Console | None = None, *extra: ProgressColumn | str, transient: bool = False,
                 disable: bool = False, log_every_s: float = LOG_EVERY_S) -> Progress:
    """The project's progress bar: description, bar, done/total, ``extra`` columns, time remaining. Where
    the console is not a terminal (``nohup mpt-live ... > run.log``) the bar would show only when it ends,
    so the run's log gets a plain line every ``log_every_s`` instead (:class:`LoggedProgress`)."""
    return LoggedProgress(TextColumn("{task.description}", markup=False), BarColumn(),  # names as they are
                          MofNCompleteColumn(), *extra, RemainingColumn(), console=console, transient=transient,
                          disable=disable, log_every_s=log_every_s)


def estimate(task: Task) -> tuple[float | None, float | None]:
    """``(items per second, seconds left)`` of ``task`` (None: not known yet). Rich's own figures come from the
    last 30 s of progress: right for frames, which come steadily, wrong for whole videos minutes apart (the
    ``unit`` fields of :data:`WHOLE_ITEMS`): a ``--jobs 2`` batch whose first two videos ended a second apart said
    '0.4 videos/s, 0:00:20 left', and went on saying it for the minutes until the next video ended. Those are taken over the time since the task began, from the items done since (a resumed task's items
    done before it began do not count)."""
    if task.fields.get("unit") not in WHOLE_ITEMS:
        return task.speed, task.time_remaining
    if task.finished:
        return None, 0.0
    done, elapsed = task.completed - task.fields.get("completed_at_start", 0), task.elapsed
    if done <= 0 or not elapsed or task.total is None:
        return None, None
    speed = done / elapsed
    return speed, (task.total - task.completed) / speed


class RemainingColumn(TimeRemainingColumn):
    """Rich's time-remaining column, with the time left of :func:`estimate`."""

    def render(self, task: Task) -> Text:
        if task.fields.get("stopped"):  # a run stopped part-way: how long it ran, not a time left that reads like it
            return Text(f"{clock(task.elapsed or 0.0)} elapsed", style="progress.elapsed")
        if task.fields.get("unit") not in WHOLE_ITEMS or task.finished or task.total is None:
            return super().render(task)
        left = estimate(task)[1]
        if left is None:
            return Text("-:--:--", style="progress.remaining")
        minutes, seconds = divmod(int(left), 60)
        return Text(f"{minutes // 60:d}:{minutes % 60:02d}:{seconds:02d}", style="progress.remaining")


class LoggedProgress(Progress):
    """A rich Progress that, off a terminal, prints each unfinished task's progress as one plain line
    (``interview.mp4: 12000/107892 frames (11%), 58.9 frames/s, 0:27:40 left``) at most every
    ``log_every_s``: a log that says how far an hours-long run is, without a line per frame."""

    def __init__(self, *columns: ProgressColumn | str, log_every_s: float = LOG_EVERY_S, **kwargs: Any) -> None:
        super().__init__(*columns, **kwargs)
        self._log = not self.disable and not self.console.is_terminal
        self.log_every_s, self._logged = log_every_s, time.monotonic()

    def add_task(self, description: str, start: bool = True, total: float | None = 100.0, completed: int = 0,
                 visible: bool = True, **fields: Any) -> TaskID:
        # what was done before (a resumed LOSO run's folds) is not counted in a whole-item task's rate
        return super().add_task(description, start, total, completed, visible, completed_at_start=completed, **fields)

    def stop(self) -> None:
        """The last bar drawn: a task left unfinished (a run stopped part-way) ends with the time it ran."""
        for t in self.tasks:
            if not t.finished and t.total is not None:
                t.fields["stopped"] = True
        super().stop()

    def update(self, task_id: Any, **kwargs: Any) -> None:  # type: ignore[override]
        super().update(task_id, **kwargs)
        self._log_lines()

    def advance(self, task_id: Any, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._log_lines()

    def _log_lines(self) -> None:
        if not self._log or time.monotonic() - self._logged < self.log_every_s:
            return
        self._logged = time.monotonic()
        for t in self.tasks:
            if t.visible and not t.finished and t.completed:
                self.console.print(log_line(t.description, t.completed, t.total, *estimate(t),
                                            t.fields.get("unit", "frames")),
                                   highlight=False, soft_wrap=True, markup=False, emoji=False)


def clock(seconds: float) -> str:
    """``h:mm:ss``, as rich's time columns write it."""
    h, rest = divmod(int(seconds), 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}"


def log_line(name: str, done: float, total: float | None, speed: float | None, left: float | None,
             unit: str = "frames") -> str:
    """``name: done/total frames (p%), s frames/s, h:mm:ss left`` (the parts that are known; ``unit``: what the task
    counts, its ``unit`` field: frames, videos, folds, steps, clips)."""
    msg = f"{name}: {int(done)}" + (f"/{int(total)} {unit} ({done / total:.0%})" if total else f" {unit}")
    if speed:  # videos a few minutes each: '0.4 videos/min', not '0.0 videos/s'
        per, scale = next(((p, k) for p, k in (("s", 1), ("min", 60)) if speed * k >= 0.1), ("h", 3600))
        msg += f", {speed * scale:.1f} {unit}/{per}"
    if left is not None and total:
        h, rest = divmod(int(left), 3600)
        msg += f", {h}:{rest // 60:02d}:{rest % 60:02d} left"
    return msg


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

    def __init__(self, console: Console, name: str, every_s: float = 0.25, log_every_s: float = LOG_EVERY_S) -> None:
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
    # null in a run resumed after a kill: the rows do not say which of the killed part's frames had a face
    faces = (f"{s['frames_with_face']} with a face" if s.get("frames_with_face") is not None
             else "those with a face not known: the part before --resume was killed")
    msg = (f"{src}: {counted(s['frames_read'], 'frame')} ({faces}), "
           f"{counted(s['windows'], 'window')} ({s['windows_classified']} classified), {s['fps']} frames/s, "
           f"{counted(len(s['events']), 'motion event')}" + (f"; {shares}" if shares else ""))
    if lat is not None:
        msg += f"; latency p95 {lat:.0f} ms"
    if out is not None:
        msg += f" -> {out}/"
    if s.get("model", {}).get("demo"):
        msg += " [DEMO MODEL]"
    return msg


def fits(console: Console, renderable: RenderableType) -> bool:
    """Whether ``renderable`` (a table) shows whole within the console's width, not cut to fit it ('happine…')."""
    return console.measure(renderable, options=console.options.update(max_width=10_000)).maximum <= console.width
