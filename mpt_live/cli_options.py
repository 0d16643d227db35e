"""What the five command-line tools share (typer; no heavy imports): ``--version``, whether an option was given,
a time given to an option (``--start``), and mpt-live's checks of its options against each other."""

from __future__ import annotations

import functools
import inspect
import math
from pathlib import Path
from typing import Any, Callable

import typer

from . import __version__
from .upright import check_rotation


def given(ctx: typer.Context, name: str) -> bool:
    """Whether the option of parameter ``name`` was given (on the command line or by its variable), not defaulted."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


def version_line(tool: str) -> str:
    return f"{tool} {__version__}"


def _with_version(f: Callable[..., Any], tool: str) -> Callable[..., Any]:
    """``f`` with one more option, ``--version``: print ``tool`` and the package's version, exit 0 (eager: before
    the other options are checked)."""

    def show(value: bool) -> None:
        if value:
            print(version_line(tool))
            raise typer.Exit()

    @functools.wraps(f)
    def run(*args: Any, version: bool = False, **kwargs: Any) -> Any:
        return f(*args, **kwargs)

    sig = inspect.signature(f)
    option = typer.Option(False, "--version", is_eager=True, callback=show, help="Show the version and exit.")
    run.__signature__ = sig.replace(parameters=[*sig.parameters.values(), inspect.Parameter(
        "version", inspect.Parameter.KEYWORD_ONLY, default=option, annotation=bool)])
    run.__annotations__ = {**f.__annotations__, "version": bool}
    return run


class ToolTyper(typer.Typer):
    """The app of one of the tools: no shell completion, plain tracebacks, and ``--version`` on its command (or,
    for a tool with subcommands, on its callback: the command registered after a callback gets none)."""

    def __init__(self, tool: str, **kwargs: Any) -> None:
        kwargs.setdefault("add_completion", False)
        kwargs.setdefault("pretty_exceptions_enable", False)
        super().__init__(**kwargs)
        self.tool = tool

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        register = super().command(*args, **kwargs)
        return register if self.registered_callback is not None else self._versioned(register)

    def callback(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._versioned(super().callback(*args, **kwargs))

    def _versioned(self, register: Callable[[Callable[..., Any]], Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
            register(_with_version(f, self.tool))
            return f  # the module keeps the function as written

        return decorate


def file_url_path(video: str | None) -> str | None:
    """``--video file:///...`` (a link copied from a browser or a file manager) -> its local path (``%20``
    decoded), read as the path would be; anything else as given. One on another host: a ValueError."""
    if video is None or not video.lower().startswith("file:"):
        return video
    import urllib.parse  # here: urllib.request brings ssl, email and http.client to every start
    import urllib.request

    url = urllib.parse.urlsplit(video)
    if url.netloc.lower() not in ("", "localhost"):
        raise ValueError(f"{video}: a file URL on another host ({url.netloc}); give a path on this machine")
    # all after the host is the path: a '?' or '#' typed into a local file's name is part of it (a browser writes them
    # %3F, %23), not a query or a fragment to cut off
    path = video[len("file:"):]
    path = path[2 + len(url.netloc):] if path.startswith("//") else path
    if not path.strip("/"):
        raise ValueError(f"{video}: a file URL with no file in it; give the video's path")
    return urllib.request.url2pathname(path)


def parse_time(text: str, option: str) -> float:
    """A time given as seconds (``90``, ``12.5``) or a clock reading (``1:30``, ``1:02:03.5``), in seconds;
    ValueError with a one-line reason naming ``option`` for anything else (negative, not a time)."""
    parts = text.strip().split(":")
    try:
        if len(parts) > 3 or any(not p.strip() for p in parts):
            raise ValueError
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"{option} {text!r}: expected seconds (90, 12.5) or h:mm:ss (1:30, 1:02:03.5)") from None
    if any(not math.isfinite(v) for v in values) or any(v < 0 for v in values):
        raise ValueError(f"{option} {text!r}: expected a time from 0 on (seconds or h:mm:ss)")
    if any(v >= 60 for v in values[1:]):
        raise ValueError(f"{option} {text!r}: minutes and seconds of a clock reading run from 0 to 59")
    return sum(v * 60 ** i for i, v in enumerate(reversed(values)))


def start_beyond_end(source: Any, start: float) -> str | None:
    """Why ``start`` s is past the end of the opened recording ``source`` (its header's frames at its rate, from
    where its video starts), None where it is not or the header does not say."""
    from .clocktime import clock

    count, fps = getattr(source, "frame_count", 0) or 0, getattr(source, "fps", 0) or 0
    if not (count > 0 and fps > 0):
        return None
    end = float(getattr(source, "start_s", 0.0) or 0.0) + count / fps
    if start <= end - 1.0 / fps + 1e-6:  # at or before the last frame's time: a frame is there to start from
        return None
    return (f"--start {clock(start)}: beyond the last frame of {getattr(source, 'name', 'the video')} (at "
            f"{clock(end - 1.0 / fps)}; its video ends at {clock(end)})")


def check_live_options(*, detector: str, camera: int | None, video: str | None, demo: bool, motion_only: bool,
                       model: Any, demo_face: Any, spot_threshold: float, inspect: float | None,
                       max_seconds: float | None, start: str | None, realtime: bool, jobs: int | None,
                       ray: str | None, resume: bool = False, out: Any = None, rotation: str = "auto") -> float | None:
    """mpt-live's options checked alone and against each other before anything starts; ``--start`` in seconds
    (None: not given). ValueError with the one line to show for the first that is wrong."""
    check_rotation(rotation)
    if detector not in ("auto", "short", "full"):
        raise ValueError(f"--detector {detector!r}: expected 'auto', 'short' or 'full'")
    if camera is not None and video is not None:
        raise ValueError("--camera and --video: give one source")
    if demo and (camera is not None or video is not None):
        raise ValueError(f"--demo and {'--camera' if camera is not None else '--video'}: give one source "
                         "(--demo renders its own)")
    if motion_only and model is not None:
        raise ValueError("--motion-only and --model: choose one")
    if demo_face is not None and not demo:
        raise ValueError("--demo-face needs --demo")
    if not (math.isfinite(spot_threshold) and spot_threshold > 0):
        raise ValueError(f"--spot-threshold {spot_threshold}: expected a positive number of robust SDs (default 4)")
    if inspect is not None and math.isnan(inspect):
        raise ValueError("--inspect nan: expected a time in seconds")
    if max_seconds is not None and not (math.isfinite(max_seconds) and max_seconds > 0):
        raise ValueError(f"--max-seconds {max_seconds}: expected a positive number of seconds")
    start_s = None if start is None else parse_time(start, "--start")
    if start is not None and (camera is not None or demo or realtime or (video and "://" in video)):
        raise ValueError(f"--start: for a recorded video file read as a file, not {_live_kind(camera, demo, realtime)}")
    if demo and max_seconds is not None:  # the demo's report counts its four movements over the whole clip
        raise ValueError("--max-seconds: not with --demo (its report scores the four movements of the whole clip)")
    if jobs is not None and ray is not None:
        raise ValueError("--jobs and --ray: choose one (worker processes here, or tasks on a Ray cluster)")
    if rotation != "auto" and (camera is not None or demo or (video and "://" in video) or _frames(video)):
        which = _live_kind(camera, demo, False) if camera is not None or demo else (
            "a URL" if "://" in str(video) else "a folder of frames")
        raise ValueError(f"--rotation: for a recorded video file (its rotation tag), not {which}")
    if resume:  # one file's run in --out, gone on with: nothing that changes where it starts or how it is read
        if video is None or "://" in video or realtime or inspect is not None:
            raise ValueError("--resume: for a recorded video file given with --video (and its run's --out), read "
                             "as a file")
        other = next((o for o, v in (("--start", start), ("--jobs", jobs), ("--ray", ray)) if v is not None), None)
        if out is None or other:
            which = "--out DIR is needed" if out is None else f"not with {other}"
            raise ValueError(f"--resume: {which} (it goes on with the run in --out where its files end)")
    return start_s


def _frames(video: str | None) -> bool:
    """``video`` is a folder of frames (no rotation tag to read)."""
    from .recordings import is_frame_folder

    return bool(video) and "://" not in str(video) and Path(str(video)).is_dir() and is_frame_folder(video)


def _live_kind(camera: int | None, demo: bool, realtime: bool) -> str:
    return "a camera" if camera is not None else "--demo" if demo else "--realtime" if realtime else "a stream"
