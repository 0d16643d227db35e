"""``mpt-synth``: write a semi-synthetic micro-expression benchmark in the CASME II layout."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from mpt_live.errors import InputError

app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def synth(
    faces: Path = typer.Option(..., "--faces", help="Folder of face photos/videos (one person per file; group photos give one subject per face)."),
    out: Path = typer.Option(..., "--out", help="Output root: CASME2_RAW_selected/, CASME2-coding-synth.xlsx, synth.json."),
    subjects: int = typer.Option(8, "--subjects", help="Number of subjects (distinct identities) to use."),
    clips_per_class: int = typer.Option(4, "--clips-per-class", help="Clips per class per subject."),
    amplitude: float = typer.Option(1.5, "--amplitude", help="Apex displacement in px for a 200-px-wide face (scaled with the face; x0.6-1.4 per clip)."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same frames."),
    fps: float = typer.Option(200.0, "--fps", help="Frame rate (the CASME II loader assumes 200)."),
    image_size: int = typer.Option(256, "--image-size", help="Square frame size in px (the face is ~60 % of it)."),
) -> None:
    """Animate real faces with class-specific micro-movements and write a CASME II-style benchmark."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from .synth import SynthConfig, generate

    console = Console(stderr=True)
    cfg = SynthConfig(subjects=subjects, clips_per_class=clips_per_class, amplitude=amplitude, seed=seed,
                      fps=fps, image_size=image_size)
    t0 = time.perf_counter()
    try:
        cfg.validate()
        if fps != 200.0:
            console.print(f"note: --fps {fps:g}; the CASME II loader assumes 200 fps (true timing is in synth.json)")
        bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn(), console=console, transient=True)
        task = bar.add_task("rendering clips", total=None)

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
    console.print(f"wrote {len(clips)} clips ({frames} frames) of {len(summary['subjects'])} subjects "
                  f"({summary['identities_available']} identities available) to {out} "
                  f"in {time.perf_counter() - t0:.1f} s", highlight=False)
    for note in summary["skipped"]:
        console.print(f"  skipped {note}", highlight=False)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
