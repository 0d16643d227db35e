"""`mpt-live`: run the pipeline on a recorded video, the bundled demo input, or (later) a camera."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from .errors import InputError

app = typer.Typer(add_completion=False, help=__doc__, pretty_exceptions_enable=False)
console = Console(stderr=True)


def _fail(msg: str) -> None:
    console.print(f"[bold red]error:[/] {msg}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


@app.command()
def live(
    video: Optional[str] = typer.Option(None, "--video", help="Recorded video file."),
    demo: bool = typer.Option(False, "--demo", help="Render the bundled default input (a synthetic clip with known movements) and run on it."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (runs) or PNG path (--inspect)."),
    headless: bool = typer.Option(False, "--headless", help="No window: write results to --out."),
    inspect: Optional[float] = typer.Option(None, "--inspect", metavar="SECONDS", help="Write one PNG of what the model sees at this time of --video."),
    stride: int = typer.Option(4, "--stride", min=1, help="Frames between windows."),
    detector: str = typer.Option("short", "--detector", help="BlazeFace model: short (webcam) or full (small faces)."),
    spot_threshold: float = typer.Option(4.0, "--spot-threshold", help="Event threshold in robust SDs above the motion baseline."),
) -> None:
    """Micro-expression pipeline: face alignment, Eulerian magnification, rank pooling."""
    if detector not in ("short", "full"):
        _fail(f"--detector {detector!r}: expected 'short' or 'full'")
    try:
        if demo:
            _run_demo(out or Path("runs/demo"), stride, detector, spot_threshold)
        elif video is None:
            _fail("give --video PATH or --demo (camera input is not available yet)")
        elif inspect is not None:
            _run_inspect(video, inspect, out, detector)
        else:
            if out is None:
                _fail("--out DIR is required for a headless run")
            _run_video(video, out, stride, detector, spot_threshold)
    except InputError as e:
        _fail(str(e))
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: everything written so far is kept[/]")
        raise typer.Exit(130)


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console, transient=True)


def _run_video(video: str, out: Path, stride: int, detector: str, spot_threshold: float) -> dict:
    from .run import process_video

    with _progress() as prog:
        task = prog.add_task(Path(video).name, total=None)

        def tick(i: int, n: int) -> None:
            prog.update(task, completed=i, total=n or None)

        summary = process_video(video, out, stride=stride, detector=detector, spot_threshold=spot_threshold,
                                on_progress=tick)
    console.print(
        f"{summary['frames_read']} frames ({summary['frames_with_face']} with a face), {summary['windows']} windows, "
        f"{summary['fps']} frames/s; {len(summary['events'])} motion events -> {out}/predictions.csv, summary.json",
        highlight=False,
    )
    return summary


def _run_inspect(video: str, t: float, out: Optional[Path], detector: str) -> None:
    from .clip import ClipSpec
    from .inspect import clip_at, render_sheet

    if out is None:
        _fail("--inspect needs --out sheet.png")
    if out.suffix.lower() != ".png":
        _fail(f"--out {out}: --inspect writes a PNG, give a path ending in .png")
    spec = ClipSpec()
    clip, t_end = clip_at(video, t, spec, detector)
    render_sheet(clip, spec, out, title=f"{Path(video).name} @ {t_end:.2f} s")
    console.print(f"wrote {out}")


def _run_demo(out: Path, stride: int, detector: str, spot_threshold: float) -> None:
    from .demo_input import render_demo_clip
    from .run import match_events

    out.mkdir(parents=True, exist_ok=True)
    clip = out / "demo_input.mp4"
    console.print(f"rendering the default input (synthetic, from scikit-image's astronaut portrait) -> {clip}")
    truth = render_demo_clip(clip)
    summary = _run_video(str(clip), out, stride, detector, spot_threshold)
    matches = match_events(summary["events"], truth["events"])
    table = Table(title="injected facial movements vs motion events found (motion-only mode)")
    for col in ("class", "start s", "end s", "amplitude px", "found", "spotted peak s"):
        table.add_column(col)
    for m in matches:
        sp = m["spotted"]
        table.add_row(m["class"], f"{m['start']:.2f}", f"{m['end']:.2f}", f"{m['amplitude_px']:.1f}",
                      "[green]yes[/]" if m["found"] else "[red]no[/]", f"{sp['peak']:.2f}" if sp else "-")
    Console().print(table)
    n_found = sum(m["found"] for m in matches)
    blinks = truth.get("blinks", [])
    other = [e for e in summary["events"] if not any(m["spotted"] is e for m in matches)]
    console.print(f"{n_found}/{len(matches)} injected movements found; {len(other)} other motion events "
                  f"(the clip also has {len(blinks)} blinks and head drift)", highlight=False)
    (out / "demo_report.json").write_text(json.dumps({"matches": matches, "other_events": other}, indent=2))


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
