"""`mpt-live`: micro-expression recognition on a webcam, a stream, recorded videos or the bundled demo input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

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
    camera: Optional[int] = typer.Option(None, "--camera", help="Camera index (0 = the default webcam)."),
    video: Optional[str] = typer.Option(None, "--video", help="Video file, folder or glob of videos, or an rtsp/http(s) stream URL."),
    demo: bool = typer.Option(False, "--demo", help="Render the bundled default input (a synthetic clip with known movements) and run on it."),
    model: Optional[Path] = typer.Option(None, "--model", help="Exported ONNX model [default: the bundled DEMO model, assets/demo_model.onnx]."),
    motion_only: bool = typer.Option(False, "--motion-only", help="No model: face, motion score and events only."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda (ONNX Runtime execution provider)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="ONNX Runtime CPU threads [default: cores - 1]."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (runs) or PNG path (--inspect)."),
    headless: bool = typer.Option(False, "--headless", help="No window (automatic without a display): write results to --out."),
    realtime: bool = typer.Option(False, "--realtime", help="Play a video file at its own pace, like a camera (frames are dropped when too slow)."),
    save_video: bool = typer.Option(False, "--save-video", help="Also write annotated.mp4 with the overlay to --out."),
    inspect: Optional[float] = typer.Option(None, "--inspect", metavar="SECONDS", help="Write one PNG of what the model sees at this time of --video."),
    stride: Optional[int] = typer.Option(None, "--stride", min=1, help="Frames between windows [default: live: as often as the model keeps up; files: 2 with a model, 4 motion-only]."),
    detector: str = typer.Option("short", "--detector", help="BlazeFace model: short (webcam) or full (small faces)."),
    spot_threshold: float = typer.Option(4.0, "--spot-threshold", help="Event threshold in robust SDs above the motion baseline."),
) -> None:
    """Micro-expression recognition: face alignment, Eulerian magnification, rank pooling, MPT model."""
    if detector not in ("short", "full"):
        _fail(f"--detector {detector!r}: expected 'short' or 'full'")
    if camera is not None and video is not None:
        _fail("--camera and --video: give one source")
    if motion_only and model is not None:
        _fail("--motion-only and --model: choose one")
    try:
        if demo:
            _run_demo(out or Path("runs/demo"), stride, detector, spot_threshold,
                      None if motion_only else _load(model, device, threads), headless)
        elif inspect is not None:
            if video is None:
                _fail("--inspect needs --video PATH")
            _run_inspect(video, inspect, out, detector)
        elif camera is None and video is None:
            _fail("give --camera N, --video PATH|URL, or --demo")
        else:
            from .live import LiveConfig, has_display
            from .runner import open_live
            from .sources import VideoFile, expand_videos, is_stream_url

            display = has_display() and not headless
            if save_video and out is None:
                _fail("--save-video needs --out DIR")
            cfg = LiveConfig(stride=stride, detector=detector, spot_threshold=spot_threshold, out_dir=out,
                             save_video=save_video, display=display)
            # the source is checked before the model loads, so bad input fails fast with one line
            if camera is not None or is_stream_url(video) or realtime:
                reader, name = open_live(camera, video, realtime)
                try:
                    runtime = None if motion_only else _load(model, device, threads)
                except BaseException:
                    reader.close()
                    raise
                _run_live(reader, name, runtime, cfg)
            else:
                if out is None and not display:
                    _fail("--out DIR is required for a headless run")
                videos = expand_videos(video)
                if len(videos) == 1:
                    VideoFile(videos[0]).close()
                runtime = None if motion_only else _load(model, device, threads)
                _run_files(videos, out, runtime, cfg)
    except InputError as e:
        _fail(str(e))
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: everything written so far is kept[/]")
        raise typer.Exit(130)


def _load(model: Optional[Path], device: str, threads: Optional[int]) -> Any | None:
    """The model (--model, or the bundled demo model); None (motion-only) when neither exists."""
    from .runner import demo_model_path, load_model

    rt = load_model(model, device=device, threads=threads)
    if rt is None:
        console.print(f"[yellow]no model given and no demo model at {demo_model_path()}: motion-only mode[/]",
                      highlight=False)
    else:
        console.print(rt.describe(), highlight=False, soft_wrap=True)
        if rt.demo:
            console.print("[bold yellow]DEMO MODEL[/]: trained on semi-synthetic data; it shows the pipeline, it is "
                          "not a validated micro-expression classifier (train your own: see README).", soft_wrap=True)
    return rt


def _run_live(reader: Any, name: str, runtime: Any | None, cfg: Any) -> dict:
    from .runner import run_live_source

    cfg.status = not cfg.display
    if cfg.out_dir is None and not cfg.display:
        console.print("[dim]headless without --out: showing the status line only (no files written)[/]")
    summary = run_live_source(reader, name, runtime, cfg, console)
    _report(summary, cfg.out_dir)
    if summary["capture"].get("error"):
        console.print(f"[yellow]{summary['capture']['error']}[/]", highlight=False)
    return summary


def _run_files(videos: list[Path], out: Optional[Path], runtime: Any | None, cfg: Any) -> None:
    from .runner import output_dirs, run_videos

    if runtime is None and not cfg.display and not cfg.save_video:
        # motion-only: the foundation's run, one video after another
        dirs = output_dirs(videos, out)
        failed = []
        for v, d in zip(videos, dirs):
            try:
                _run_video(str(v), d, cfg.stride or 4, cfg.detector, cfg.spot_threshold)
            except InputError as e:
                if len(videos) == 1:
                    raise
                failed.append((v, str(e)))
        _list_failures(failed, len(videos))
        return
    done, failed = run_videos(videos, out, runtime, cfg, console)
    for v, s in done:
        _report(s, (output_dirs(videos, out)[videos.index(v)] if out is not None else None))
    _list_failures(failed, len(videos))


def _list_failures(failed: list, total: int) -> None:
    if not failed:
        return
    console.print(f"[bold red]{len(failed)} of {total} videos failed:[/]")
    for _, msg in failed:
        console.print(f"  {msg}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _report(s: dict, out: Optional[Path]) -> None:
    labels = s.get("labels", {})
    shares = ", ".join(f"{k} {v['share']:.0%}" for k, v in labels.items() if v["share"] >= 0.005)
    lat = s.get("latency_ms", {}).get("capture_to_prediction_p95")
    msg = (f"{Path(s['source']).name if '://' not in s['source'] else s['source']}: {s['frames_read']} frames "
           f"({s['frames_with_face']} with a face), {s['windows']} windows ({s['windows_classified']} classified), "
           f"{s['fps']} frames/s, {len(s['events'])} events; {shares}")
    if lat is not None:
        msg += f"; latency p95 {lat:.0f} ms"
    if out is not None:
        msg += f" -> {out}/"
    if s.get("model", {}).get("demo"):
        msg += " [DEMO MODEL]"
    console.print(msg, highlight=False, soft_wrap=True)


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console, transient=True)


def _run_video(video: str, out: Path, stride: int, detector: str, spot_threshold: float) -> dict:
    """The motion-only run of one video (predictions.csv with the motion columns, summary.json)."""
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


def _run_demo(out: Path, stride: Optional[int], detector: str, spot_threshold: float, runtime: Any | None,
              headless: bool) -> None:
    """The default input with known movements: what the pipeline (and the model) found."""
    from .demo_input import render_demo_clip
    from .run import match_events

    out.mkdir(parents=True, exist_ok=True)
    clip = out / "demo_input.mp4"
    console.print(f"rendering the default input (synthetic, from scikit-image's astronaut portrait) -> {clip}")
    truth = render_demo_clip(clip)
    if runtime is None:
        summary = _run_video(str(clip), out, stride or 4, detector, spot_threshold)
        mode = "motion-only mode"
    else:
        from .live import LiveConfig, has_display
        from .runner import run_videos

        cfg = LiveConfig(stride=stride, detector=detector, spot_threshold=spot_threshold, save_video=True,
                         display=has_display() and not headless)
        done, failed = run_videos(str(clip), out, runtime, cfg, console)
        if failed:
            raise InputError(failed[0][1])
        summary = done[0][1]
        _report(summary, out)
        mode = "DEMO MODEL" if runtime.demo else Path(runtime.path).name
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
    blinks = truth.get("blinks", [])
    other = [e for e in summary["events"] if not any(m["spotted"] is e for m in matches)]
    line = (f"{n_found}/{len(matches)} injected movements found; {len(other)} other motion events "
            f"(the clip also has {len(blinks)} blinks and head drift)")
    if runtime is not None:
        right = sum(1 for m in matches if m["spotted"] and m["spotted"].get("top") == m["class"])
        line += f"; the model named {right}/{len(matches)} classes right"
        if runtime.demo:
            line += " (DEMO MODEL: trained on semi-synthetic data, not a validated classifier)"
    console.print(line, highlight=False)
    (out / "demo_report.json").write_text(json.dumps({"matches": matches, "other_events": other}, indent=2))


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
