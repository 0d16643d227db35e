"""``mpt-synth``: write a semi-synthetic micro-expression benchmark in the CASME II layout, or with
``--long`` a long-video spotting benchmark (``ROOT/videos/*.mp4`` + ``ROOT/annotations.csv``)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer
from rich.text import Text

from mpt_live.cli_options import ToolTyper, given
from mpt_live.errors import InputError, OutputError, counted
from mpt_live.interrupts import exit_code, signal_name, stop_signals
from mpt_live.rundir import check_out_dir

app = ToolTyper("mpt-synth", help=__doc__)


@app.command()
def synth(
    ctx: typer.Context,
    faces: Path = typer.Option(..., "--faces", help="Folder of face photos/videos (one person per file; group photos give one subject per face)."),
    out: Path = typer.Option(..., "--out", help="Output root: CASME2_RAW_selected/, CASME2-coding-synth.xlsx, synth.json."),
    subjects: int = typer.Option(8, "--subjects", help="Number of subjects (distinct identities) to use; 0: every identity found."),
    clips_per_class: int = typer.Option(4, "--clips-per-class", help="Clips per class per subject."),
    amplitude: float = typer.Option(1.5, "--amplitude", help="Apex displacement in px for a 200-px-wide face (scaled with the face; x0.6-1.4 per clip)."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same frames."),
    fps: float = typer.Option(200.0, "--fps", help="Frame rate (the CASME II loader assumes 200)."),
    image_size: int = typer.Option(256, "--image-size", help="Square frame size in px (the face is ~60 % of it)."),
    long: bool = typer.Option(False, "--long", help="Long-video spotting benchmark: videos/*.mp4 (30 fps) + annotations.csv."),
    videos: int = typer.Option(4, "--videos", help="--long: number of videos (carriers taken in turn)."),
    minutes: float = typer.Option(1.0, "--minutes", help="--long: length of each video in minutes."),
) -> None:
    """Animate real faces with class-specific micro-movements and write a CASME II-style benchmark."""
    from rich.console import Console

    # file names as they are (no [tags], no :codes:), each line whole (not broken at the console's width)
    console = Console(stderr=True, markup=False, emoji=False, soft_wrap=True)
    unused = _unused_options(ctx, long)
    if unused:
        print(f"error: {unused}", file=sys.stderr)
        raise typer.Exit(2)
    try:
        check_out_dir(out)  # a file there, or a folder that cannot be made or written: one line
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        raise typer.Exit(2)
    with stop_signals():  # SIGTERM and SIGHUP stop it as Ctrl-C does: what is written stays consistent
        try:
            if long:
                _long(faces, out, videos, minutes, seed, console)
            else:
                _clips(faces, out, subjects, clips_per_class, amplitude, seed, fps, image_size, console)
        except OutputError as e:  # a full disk: the file and why, and what is kept
            print(f"error: {e}", file=sys.stderr)
            raise typer.Exit(1)
        except KeyboardInterrupt as e:
            kept = ("the finished videos and their rows are in {out} (long.json: complete false)" if long else
                    "the clips rendered so far are in {out} (synth.json: complete false; no coding sheet)")
            print(f"mpt-synth: interrupted ({signal_name(e)}); {kept.format(out=out)}; rerun the same command to "
                  "write the benchmark again", file=sys.stderr)
            raise typer.Exit(exit_code(e))


def _clips(faces: Path, out: Path, subjects: int, clips_per_class: int, amplitude: float, seed: int, fps: float,
           image_size: int, console) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from mpt_live.launch import extra_missing, missing_modules

    from .synth import SynthConfig, generate

    missing = missing_modules(("pandas", "openpyxl"))  # the coding sheet's writer: said before minutes of rendering
    if missing:
        print(f"error: {extra_missing('mpt-synth', missing)} (--long needs neither)", file=sys.stderr)
        raise typer.Exit(2)
    cfg = SynthConfig(subjects=subjects, clips_per_class=clips_per_class, amplitude=amplitude, seed=seed,
                      fps=fps, image_size=image_size)
    t0 = time.perf_counter()
    try:
        cfg.validate()
        if fps != 200.0:
            console.print(f"note: --fps {fps:g}; the CASME II loader assumes 200 fps (true timing is in synth.json)")
        bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn(), console=console, transient=True)
        task = bar.add_task("rendering clips", total=None, unit="clips")

        def progress(done: int, total: int) -> None:
            if not bar.live.is_started:  # shown once rendering starts (input errors come before, bar-free)
                bar.start()
            bar.update(task, completed=done, total=total)

        try:
            summary = generate(faces, out, cfg, progress=progress)
        finally:
            if bar.live.is_started:
                bar.stop()
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        raise typer.Exit(2)
    clips = summary["clips"]
    frames = sum(c["frames"] for c in clips)
    console.print(f"wrote {counted(len(clips), 'clip')} ({counted(frames, 'frame')}) of "
                  f"{counted(len(summary['subjects']), 'subject')} ({summary['identities_available']} "
                  f"{'identity' if summary['identities_available'] == 1 else 'identities'} available) to {out} "
                  f"in {time.perf_counter() - t0:.1f} s", highlight=False)
    for note in summary["skipped"]:
        console.print(f"  skipped {note}", highlight=False)
    for line in summary["look_alike"]:  # a line of its own: a name with [brackets] is no rich markup
        console.print(Text.assemble(("  warning:", "yellow"), f" {line}"), highlight=False)


CLIP_OPTIONS = {"subjects": "--subjects", "clips_per_class": "--clips-per-class", "amplitude": "--amplitude",
                "fps": "--fps", "image_size": "--image-size"}
LONG_OPTIONS = {"videos": "--videos", "minutes": "--minutes"}


def _unused_options(ctx: typer.Context, long: bool) -> str:
    """The line that refuses options the chosen benchmark would ignore; empty when there are none."""
    named = [opt for name, opt in (CLIP_OPTIONS if long else LONG_OPTIONS).items() if given(ctx, name)]
    if not named:
        return ""
    if long:
        return f"{', '.join(named)}: options of the CASME II-style clips, not used with --long (30 fps videos of the carriers)"
    return f"{', '.join(named)}: options of --long only (the long-video benchmark)"


def _long(faces: Path, out: Path, videos: int, minutes: float, seed: int, console) -> None:
    from .synth_long import LongConfig, generate_long

    t0 = time.perf_counter()
    try:
        cfg = LongConfig(videos=videos, minutes=minutes, seed=seed)
        cfg.validate()
        with console.status("finding carriers (face tracking of every video)"):
            summary = generate_long(faces, out, cfg, progress=lambda i, n: console.print(
                f"  video {i}/{n} written", highlight=False))
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        raise typer.Exit(2)
    n = {k: sum(e["type"] == k for v in summary["videos"] for e in v["events"]) for k in ("micro", "macro")}
    console.print(f"wrote {counted(len(summary['videos']), 'video')} of {minutes:g} min ({n['micro']} micro, {n['macro']} macro "
                  f"movements; {counted(len(summary['carriers_available']), 'carrier')}) to {out} "
                  f"in {time.perf_counter() - t0:.1f} s", highlight=False)
    for note in summary["skipped"]:
        console.print(f"  skipped {note}", highlight=False)


def main() -> None:
    """Console-script entry point."""
    from mpt_live.errors import refuse_empty_arguments, run_app

    refuse_empty_arguments(sys.argv[1:])
    run_app(app, "mpt-synth", sys.argv[1:])


if __name__ == "__main__":  # pragma: no cover
    main()
