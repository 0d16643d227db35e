"""`mpt-live`: micro-expression recognition on a webcam, a stream, recorded videos or the bundled demo input."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Optional

import typer

from .cli_options import ToolTyper, check_live_options, file_url_path, start_beyond_end
from .cli_runs import console, run_files, run_parallel, run_source
from .cli_runs import say as _say
from .errors import InputError, OutputError
from .interrupts import exit_code, signal_name, stop_signals
from .machine import check_count
from .outkind import check_input_kept, one_recording
from .rundir import check_out_dir, check_out_file, drop_unused_dirs
from .session_config import FILE_STRIDE, MAX_FACES, SessionConfig
from .window import has_display

app = ToolTyper("mpt-live", help=__doc__)


def _fail(msg: str) -> None:
    _say(msg, "error:", "bold red")
    raise typer.Exit(2)


@app.command()
def live(
    camera: Optional[int] = typer.Option(None, "--camera", help="Camera index (0 = the default webcam)."),
    video: Optional[str] = typer.Option(None, "--video", help="Video file, folder or glob of videos, a folder of frames (or of frame folders), or an rtsp/http(s) stream URL."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Frame rate of a folder of frames (images carry none; SAMM-LV 200, CAS(ME)^3 30). Required for frame folders, only for them."),
    demo: bool = typer.Option(False, "--demo", help="Render the bundled default input (a synthetic clip with known movements) and run on it."),
    demo_face: Optional[Path] = typer.Option(None, "--demo-face", help="With --demo: render the default input from this face photo instead of the astronaut."),
    model: Optional[Path] = typer.Option(None, "--model", help="Exported ONNX model (default: the bundled DEMO model, demo_model.onnx in mpt_live/assets)."),
    motion_only: bool = typer.Option(False, "--motion-only", help="No model: face, motion score and events only."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | tensorrt (ONNX Runtime execution provider; auto: CUDA when it works, else the CPU)."),
    batch: Optional[int] = typer.Option(None, "--batch", min=1, help="Clips per model call at most (default: the windows of a frame's faces together; recorded videos on a GPU: up to 64 from several frames; 1: one by one)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="ONNX Runtime CPU threads (default: cores - 1; with --jobs or --ray: 1 per worker)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (runs) or PNG path (--inspect)."),
    headless: bool = typer.Option(False, "--headless", help="No window (automatic without a display): write results to --out."),
    realtime: bool = typer.Option(False, "--realtime", help="Play a video file at its own pace, like a camera (frames are dropped when too slow)."),
    save_video: bool = typer.Option(False, "--save-video", help="Also write annotated.mp4 with the overlay to --out."),
    inspect: Optional[float] = typer.Option(None, "--inspect", metavar="SECONDS", help="Write one PNG of what the model sees at this time of --video."),
    stride: Optional[int] = typer.Option(None, "--stride", min=1, help=f"Frames between windows (default: cameras, streams and --realtime: as often as the model keeps up; files: {FILE_STRIDE})."),
    detector: str = typer.Option("auto", "--detector", help="BlazeFace model: short (near faces: webcams), full (small or distant faces) or auto (short, and full from the frame where it finds faces short misses; checked while fewer faces than --max-faces are tracked)."),
    spot_threshold: float = typer.Option(4.0, "--spot-threshold", help="Spotting threshold: a face region's motion in robust SDs above its own baseline."),
    max_faces: Optional[int] = typer.Option(None, "--max-faces", min=0, help=f"Faces tracked per frame, each with its own ID, windows and events (default: cameras, streams and --realtime {MAX_FACES['live']}, files {MAX_FACES['file']}; 0: all)."),
    max_seconds: Optional[float] = typer.Option(None, "--max-seconds", metavar="S", help="Stop after S seconds: of video for a file (its frames' own times, from the first frame analysed: the same rows at any speed; each video of a batch), of wall-clock time for a camera, a stream or --realtime. The run is complete (exit 0); summary.json says max_seconds_reached."),
    start: Optional[str] = typer.Option(None, "--start", metavar="T", help="One video file (or folder of frames): analyse from its first frame at or after T (seconds or h:mm:ss); the frames before are decoded, not analysed. Rows, events and the page keep the file's times."),
    resume: bool = typer.Option(False, "--resume", help="Go on with the run of this one video in --out that was stopped, killed, failed or ended by --max-seconds, after the last row its files hold (same settings needed): rows and events are added to its files, the last 24 s before (or from the stabiliser reference the run kept up to 12 s earlier) analysed again, not written (the spotter's history); a face there keeps its ID."),
    jobs: Optional[int] = typer.Option(None, "--jobs", min=0, help="Recorded videos in N worker processes (0: cores / --threads); a rerun skips videos already done."),
    # \[: rich markup would take [cluster] for a style tag and drop it
    ray: Optional[str] = typer.Option(None, "--ray", metavar="auto|ADDRESS", help="Recorded videos as tasks on a Ray cluster (pip install 'mpt-live\\[cluster]'); a rerun skips videos already done."),
    rotation: str = typer.Option("auto", "--rotation", metavar="auto|tag|0|90|180|270", help="A video file's rotation tag: auto (a tagged file's first seconds checked for faces as tagged and as stored: a wrong tag, said so, is overridden), tag (as tagged), or the degrees clockwise to turn its frames as stored."),
    finish: Optional[Path] = typer.Option(None, "--finish", metavar="DIR", help="Finish the output folder of a run killed outright (its summary.json still says running), or every such folder below a batch's --out (then the batch's overview is rebuilt from its videos' folders, killed or not): timeline.png, report.html and summary.json (status killed) from the rows and events it wrote. Nothing else is run."),
) -> None:
    """Micro-expression recognition: face alignment, Eulerian magnification, rank pooling, MPT model."""
    if finish is not None:
        _finish(finish, given=[o for o, v in (("--camera", camera), ("--video", video), ("--demo", demo or None),
                                              ("--inspect", inspect), ("--out", out)) if v is not None])
        return
    try:  # each a line, before anything starts (each thread or worker process costs memory)
        video = file_url_path(video)  # a file:// URL is its file
        start_s = check_live_options(detector=detector, camera=camera, video=video, demo=demo,
                                     motion_only=motion_only, model=model, demo_face=demo_face,
                                     spot_threshold=spot_threshold, inspect=inspect, max_seconds=max_seconds,
                                     start=start, realtime=realtime, jobs=jobs, ray=ray, resume=resume, out=out,
                                     rotation=rotation)
    except ValueError as e:
        _fail(str(e))
    try:
        check_count("--threads", threads, "threads")
        check_count("--jobs", jobs, "worker processes")
    except InputError as e:
        _fail(str(e))
    cfg = SessionConfig(stride=stride, detector=detector, spot_threshold=spot_threshold, max_faces=max_faces,
                        batch=batch, max_seconds=max_seconds, start_s=start_s, rotation=rotation)
    global _RUN_BEGAN
    _RUN_BEGAN = False  # (main() may run more than once in a process: tests)
    with stop_signals(until_exit=True):  # SIGINT, SIGTERM, SIGHUP: the run stops and still writes its summary
        try:
            if demo:
                from .demo_report import run_demo

                if demo_face is not None:  # checked before the model loads
                    from .demo_input import frame_photo, photo_notes

                    for kind, note in photo_notes(demo_face, frame_photo(demo_face)[1]):  # a small photo, a group
                        console.print(f"[yellow]{kind}:[/] {note}", highlight=False, soft_wrap=True)
                check_input_kept(out := check_out_dir(out or Path("runs/demo")), None, given=out)  # before rendering
                report = run_demo(out, _model(motion_only, model, device, threads), cfg, console,
                                  display=has_display() and not headless, face_photo=demo_face)
                if report["status"] != "complete":  # as any run: 1 when incomplete (summary.json: problems)
                    raise typer.Exit(1)
            elif inspect is not None:
                if video is None:
                    _fail("--inspect needs --video PATH")
                _run_inspect(video, inspect, out, detector, model, motion_only, fps, rotation)
            elif camera is None and video is None:
                _fail("give --camera N, --video PATH|URL, or --demo")
            else:
                from .recordings import check_fps, expand_recordings, is_frame_folder, open_recording
                from .sources import is_stream_url

                display = has_display() and not headless
                if save_video and out is None:
                    _fail("--save-video needs --out DIR")
                # the source and --out are checked before the model loads: bad input fails fast, in one line
                if camera is not None or is_stream_url(video) or realtime:
                    from .capture import open_source

                    if realtime and video is not None and is_frame_folder(video):
                        _fail(f"{video}: a folder of frames; --realtime plays a video file (run the folder without it)")
                    if fps is not None:
                        _fail("--fps: only for folders of frames (cameras, streams and --realtime videos have their own rate)")
                    if jobs is not None or ray is not None:
                        _fail(f"--{'jobs' if jobs is not None else 'ray'}: for recorded videos on disk (a file, folder "
                              "or glob); a camera, a URL (a stream or a recording served over http) and a --realtime "
                              "video are read by this one process")
                    source = open_source(camera, video, realtime, rotation)
                    for note in getattr(source, "notes", []):
                        _say(note, text_style="dim")
                    try:
                        if out is not None:
                            check_input_kept(check_out_dir(out), video, given=out)
                        runtime = _model(motion_only, model, device, threads)
                    except BaseException:
                        source.close()
                        raise
                    with source:
                        if run_source(source, runtime, cfg, out, save_video, display)["status"] != "complete":
                            raise typer.Exit(1)
                else:
                    if out is None and not display:
                        _fail("--out DIR is required for a headless run" if headless else
                              "--out DIR is required: no display here (DISPLAY and WAYLAND_DISPLAY are not set), so "
                              "the results go to files")
                    notes: list[str] = []
                    videos = expand_recordings(video, notes)
                    for note in notes:
                        _say(note, "note:", "yellow")
                    if (start is not None or resume) and len(videos) > 1:
                        _fail(f"--{'start' if start is not None else 'resume'}: for one video; {video} holds "
                              f"{len(videos)} (each starts at its own times)")
                    check_fps(videos, fps, rotation)
                    if ray is not None:
                        from .batch import check_ray_videos
                        from .ray_batch import check_address

                        check_ray_videos(videos)
                        check_address(ray)
                    parallel = jobs is not None or ray is not None
                    # one video is opened before the model loads (a bad file fails at once); a serial run reads
                    # it from this open, its first frames included (no second open, no frames decoded twice)
                    with open_recording(videos[0], fps, rotation) if len(videos) == 1 else nullcontext() as first:
                        if start_s is not None and (why := start_beyond_end(first, start_s)):
                            raise InputError(why)
                        if start_s:  # no seek (the file's frame numbers and damage checks count from its start)
                            _say(f"--start {start}: the frames before it are decoded, not analysed", text_style="dim")
                        if out is not None:
                            from .batch import output_dirs

                            for v, d in zip(videos, output_dirs(videos, check_out_dir(out))):
                                check_input_kept(d, v, given=out)
                        if resume and out is not None:  # another file, other settings: refused before the load
                            from .resume import precheck

                            if model is not None and not motion_only and not model.is_file():
                                from .load_errors import no_model_file

                                raise no_model_file(model)  # a mistyped --model is that, not another model
                            precheck(out, first, cfg, _model_file(motion_only, model))
                        runtime = _model(motion_only, model, device, threads, warmup=not parallel)
                        for note in one_recording(video, videos, out):  # a folder or glob of one: OUT itself
                            _say(note, "note:", "yellow")  # once nothing refuses the run (one line each)
                        if parallel:
                            if first is not None:  # the worker process opens it
                                first.close()
                            run_parallel(videos, out, runtime, cfg, save_video, jobs, ray, device, threads, fps)
                        else:
                            run_files(videos, out, runtime, cfg, save_video, display, fps, first, resume)
        except InputError as e:
            drop_unused_dirs()  # refused (a bad --model found while loading it): no empty --out left either
            _fail(str(e))
        except OutputError as e:
            drop_unused_dirs()
            _say(str(e), "error:", "bold red")
            raise typer.Exit(1)
        except KeyboardInterrupt as e:
            drop_unused_dirs()  # stopped before the run began (the model loading): no empty --out left
            kept = "everything written so far is kept" if _RUN_BEGAN else "before the run began: nothing was written"
            console.print(f"[yellow]interrupted ({signal_name(e)}): {kept}[/]", highlight=False, soft_wrap=True)
            raise typer.Exit(exit_code(e))


def _finish(folder: Path, given: list[str]) -> None:
    """--finish DIR: each killed run's folder finished from its files (mpt_live/finish.py); one line each."""
    from .finish import finish_folder, finish_overview, refresh_enclosing, run_folders

    if given:
        _fail(f"--finish and {given[0]}: --finish only finishes a killed run's folder, it runs nothing")
    refused = 0
    try:
        folders = run_folders(folder)
    except InputError as e:
        _fail(str(e))
    for d in folders:
        try:
            _say(finish_folder(d)[1])
        except InputError as e:  # one folder in use (or not finishable): the others are still finished
            _say(str(e), "error:", "bold red")
            refused += 1
    # OUT/videos.csv... rebuilt, the finished videos listed, stale ones fixed; a single run's folder: the overview of
    # a batch whose video folder it is, as the run's own end would have rebuilt it
    try:
        line = finish_overview(folder, folders) or (refresh_enclosing(folder) if folders == [folder] else None)
    except OSError as e:  # best effort, as at a run's end: the finished folders are what counts
        line = None
        _say(f"{folder}: the batch's overview (videos.csv, all_events.csv, index.html) was not rebuilt "
             f"({e.strerror or e})", "warning:", "yellow")
    if line:
        _say(line)
    if refused:
        raise typer.Exit(2)


_RUN_BEGAN = False  # the model is loaded (or none is needed): from here on a stopped run writes its outputs


def _model(motion_only: bool, model: Optional[Path], device: str, threads: Optional[int],
           warmup: bool = True) -> Any | None:
    """The runtime the run uses (None: motion-only), and from then on a stop says what the run kept; stopped before
    (while the model loads) it says that nothing was written, as nothing was (no --out folder it made is left)."""
    global _RUN_BEGAN
    runtime = None if motion_only else _load(model, device, threads, warmup=warmup)
    _RUN_BEGAN = True
    return runtime


def _model_file(motion_only: bool, model: Optional[Path]) -> Path | None:
    """The model file the run will load (--model, else the bundled demo model where it exists), None: motion-only."""
    if motion_only:
        return None
    from .runtime import demo_model_path

    return model if model is not None else (demo_model_path() if demo_model_path().is_file() else None)


def _load(model: Optional[Path], device: str, threads: Optional[int], warmup: bool = True) -> Any | None:
    """The model (--model, or the bundled demo model); None (motion-only) when neither exists. ``warmup``: False
    where this process runs no clip (--jobs, --ray: it reads the model's facts, each worker loads its own)."""
    from .runtime import demo_model_path, load_model

    rt = load_model(model, device=device, threads=threads, warmup=warmup)
    if rt is None:
        console.print(f"[yellow]no model given and no demo model at {demo_model_path()}: motion-only mode[/]",
                      highlight=False)
    else:
        _say(rt.describe())
        if rt.demo:
            console.print("[bold yellow]DEMO MODEL[/]: trained on semi-synthetic data; it shows the pipeline, it is "
                          "not a validated micro-expression classifier (train your own: see README).", soft_wrap=True)
    return rt


def _run_inspect(video: str, t: float, out: Optional[Path], detector: str, model: Optional[Path],
                 motion_only: bool, fps: Optional[float] = None, rotation: str = "auto") -> None:
    """One PNG of what the model sees at ``t`` s, made with the model's ClipSpec (--model or the demo model)."""
    from .clip import ClipSpec
    from .clocktime import clock
    from .recordings import check_fps, is_frame_folder
    from .runtime import load_model
    from .sheet import clip_at, render_sheet

    if out is None:
        _fail("--inspect needs --out sheet.png")
    if out.suffix.lower() != ".png":
        _fail(f"--out {out}: --inspect writes a PNG, give a path ending in .png")
    check_out_file(out)  # a folder there, or a place that cannot be written: one line, before the work
    if Path(video).is_dir() and not is_frame_folder(video):
        _fail(f"{video}: --inspect takes one video (or one folder of frames), not a folder of videos")
    check_fps([Path(video)], fps)
    try:
        check_input_kept(out.parent, video)
    except InputError:  # the sheet among the frames (a PNG a rerun reads as one), or over one of them
        _fail(f"--out {out}: in the folder of frames being read ({video}); write the sheet elsewhere")
    rt = None if motion_only else load_model(model, device="cpu", threads=1, warmup=False)
    spec = rt.clip_spec if rt is not None else ClipSpec()
    clip, t_end = clip_at(video, t, spec, detector, fps, rotation)
    render_sheet(clip, spec, out, title=f"{Path(video).name} @ {clock(t_end)}")
    which = f"the ClipSpec of {rt.path.name}" if rt is not None else "the default ClipSpec (no model)"
    _say(f"wrote {out} ({which})")


def main() -> None:
    """Console-script entry point."""
    from mpt_live.errors import expanded_glob, refuse_empty_arguments, run_app

    refuse_empty_arguments(sys.argv[1:])
    if several := expanded_glob(sys.argv[1:]):
        print(f"error: {several}", file=sys.stderr)
        sys.exit(2)
    run_app(app, "mpt-live", sys.argv[1:])


if __name__ == "__main__":  # pragma: no cover
    main()
