"""mpt-live's runs of an open source (a camera, a stream, a --realtime file) and of recorded videos (one by one, or
in parallel: --jobs, --ray), and the lines each prints on the terminal at its end: the run's line, its warnings, why it
is not complete; a batch's failures. A run that is not complete (or a failed video) exits 1."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from .errors import counted
from .rundir import read_summary
from .session_config import SessionConfig

console = Console(stderr=True)


def say(text: str, label: str = "", style: str = "", text_style: str = "") -> None:
    """One line: ``label`` in ``style``, then ``text`` as it is: a file name such as 'take[2]:ok:.mp4' is printed
    whole, neither read as rich markup (the '[2]' was dropped) nor as an emoji code (':ok:' became a picture)."""
    from rich.text import Text

    console.print(Text.assemble((label, style), " " if label else "", (text, text_style)), highlight=False,
                  soft_wrap=True)


def run_source(source: Any, runtime: Any | None, cfg: SessionConfig, out: Optional[Path], save_video: bool,
               display: bool) -> dict:
    """One open source (a camera, a stream, a --realtime file, a recording at a URL). With a display: the
    window; headless: a rich status line."""
    from .job import run_job
    from .terminal import StatusLine

    if display:
        summary = run_job(source, runtime, cfg, out, save_video=save_video, display=True, say=say)
    else:
        if out is None:
            console.print("[dim]headless without --out: showing the status line only (no files written)[/]")
        with StatusLine(console, source.name) as line:
            summary = run_job(source, runtime, cfg, out, save_video=save_video, status=line.update, say=say)
    report(summary, out)
    return summary


def report(summary: dict, out: Optional[Path]) -> None:
    """The run's line, then its warnings and why it is not complete (if it is not)."""
    from .terminal import report_line

    say(report_line(summary, out))
    if summary.get("detector_shown") and summary.get("detector_reason"):  # auto switched, or faces expected missing
        say(f"detector: {summary['detector_reason']}", text_style="dim")
    if summary.get("max_seconds_reached"):  # asked for: not an interruption
        covered = "the outputs cover" if out is not None else "it read"  # no --out: a status line only, no files
        say(f"stopped at --max-seconds {summary['max_seconds']:g}, as asked: {covered} the "
             f"{summary.get('frames_read', 0)} frames before it", text_style="dim")
    for w in summary.get("warnings", []):
        say(w, "warning:", "yellow")
    for p in summary.get("problems", []):
        say(p, f"{summary['status']}:", "bold red")


def run_files(videos: list, out: Optional[Path], runtime: Any | None, cfg: SessionConfig, save_video: bool,
              display: bool, fps: Optional[float] = None, first: Any | None = None, resume: bool = False) -> None:
    """Recorded videos, every frame in order; one output folder each; failures and incomplete runs listed (exit 1).
    ``first``: the first video already open (the pre-check's source), read from there."""
    from .batch import run_batch

    done, failed = run_batch(videos, out, runtime, cfg, console, save_video=save_video, display=display, fps=fps,
                             first=first, resume=resume)
    for _, d, s in done:
        report(s, d)
    ended(failed, len(videos), sum(s["status"] != "complete" for _, _, s in done))


def run_parallel(videos: list[Path], out: Optional[Path], runtime: Any | None, cfg: SessionConfig, save_video: bool,
                 jobs: Optional[int], ray: Optional[str], device: str, threads: Optional[int],
                 fps: Optional[float] = None) -> None:
    """--jobs / --ray: every video not done yet, in parallel; one progress display; failures listed (exit 1)."""
    from .batch import run_parallel

    done, failed, skipped = run_parallel(videos, out, runtime, cfg, console, jobs=jobs, ray=ray,
                                         save_video=save_video, device=device, threads=threads, fps=fps)
    if skipped:
        say(f"{len(skipped)} of {counted(len(videos), 'video')} already done (complete outputs in {out}): skipped")
    incomplete = 0
    for video, d, figures in done:  # each video's own summary.json: the same lines as a serial run
        summary = read_summary(d)
        if summary is None or "status" not in summary:
            say(f"{video.name}: {counted(figures['frames_read'], 'frame')}, {counted(figures['windows'], 'window')}, "
                 f"{figures['fps']} frames/s -> {d}/")
            continue
        report(summary, d)
        incomplete += summary["status"] != "complete"
    ended(failed, len(videos), incomplete)


def ended(failed: list, videos: int, incomplete: int) -> None:
    """A batch's end: the videos that ``failed`` (of ``videos``) listed, and exit 1 where any did or ``incomplete`` ran
    short (killed, stopped)."""
    if failed:
        console.print(f"[bold red]{len(failed)} of {counted(videos, 'video')} failed:[/]")
        for _, msg in failed:
            say(f"  {msg}")
    if failed or incomplete:
        raise typer.Exit(1)
