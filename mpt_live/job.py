"""One job: a source through the session engine into its output folder and its views.

Outputs (``out_dir``; nothing is written without one): ``predictions.csv`` (a row per face per window,
flushed as written), ``events.csv`` (a row per spotted event, flushed as each event closes and is
classified), ``summary.json``, ``timeline.png`` and ``report.html`` (the review page, :mod:`mpt_live.report`;
at the end, also after Ctrl-C or a crash),
``annotated.mp4`` with ``save_video`` (the overlay on every frame). Views: the OpenCV window
(``display``), and whatever per-frame ``progress`` / ``status`` callables the caller passes (the
terminal's progress bar and status line). The schema of every output is the same whatever the flags.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from .overlay import render_overlay
from .results import columns
from .session import Session, SessionConfig
from .tracks import TrackedFace
from .sources import Frame
from .spotting import EVENT_COLUMNS
from .report import write_report
from .timeline import read_rows, render_timeline
from .view import OverlayView
from .window import DisplayWindow
from .writers import CSVSink, VideoSink, write_json


def run_job(source: Any, runtime: Any | None, cfg: SessionConfig, out_dir: str | Path | None = None, *,
            save_video: bool = False, display: bool = False,
            progress: Callable[[int, int | None], None] | None = None,
            status: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run ``source`` (an open source: :func:`mpt_live.capture.open_source`; the caller closes it) with
    ``runtime`` (None: motion-only); return the summary.

    ``progress(frames_read, total_frames)`` and ``status(view.status())`` are called once per frame.
    Ctrl-C: the summary is still written, then KeyboardInterrupt is raised again."""
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    video_out = save_video and out is not None
    session = Session(source, runtime, replace(cfg, thumbnails=display or video_out))
    view = OverlayView(session.model)
    total = getattr(source, "frame_count", 0) or None
    outputs: dict[str, Any] = {"predictions": None, "events": None, "timeline": None, "report": None, "video": None,
                               "snapshots": [], "recordings": []}
    video_name = session.name if "://" in session.name else Path(session.name).name
    interrupted = False
    with ExitStack() as stack:
        stack.enter_context(session)
        sink = stack.enter_context(CSVSink(out / "predictions.csv", columns(session.classes))) if out else None
        events = stack.enter_context(CSVSink(out / "events.csv", EVENT_COLUMNS)) if out else None
        video = stack.enter_context(VideoSink(out / "annotated.mp4", session.fps)) if video_out else None
        window = stack.enter_context(DisplayWindow(out or Path.cwd(), session.fps, view)) if display else None

        def write_events() -> None:
            for e in session.take_events():
                if events is not None:
                    events.write(e.row(video_name))

        def on_frame(frame: Frame, faces: list[TrackedFace]) -> None:
            view.frame_tick(time.monotonic())
            view.observe(session.latest, session.recent, frame.t, [f.id for f in faces])
            write_events()
            if progress is not None:
                progress(session.counts["frames_read"], total)
            if status is not None:
                status(view.status())
            if video is None and window is None:
                return
            boxes = [(f.id, f.face.box) for f in faces]
            width = frame.image.shape[1]
            paused, recording = (window.paused, window.recording) if window is not None else (False, False)
            img = render_overlay(frame.image, view.state(width, boxes, frame.t, paused, recording))
            if video is not None:
                video.write(img)
            if window is not None:
                window.show(img, lambda: render_overlay(frame.image, view.state(width, boxes, frame.t, True,
                                                                                window.recording)))

        session.on_frame = on_frame
        try:
            for r in session:
                if sink is not None:
                    sink.write(r.row())
        except KeyboardInterrupt:
            interrupted = session.interrupted = True
        except BaseException as e:
            session.error = session.error or f"{type(e).__name__}: {e}"
            raise
        finally:
            session.close()
            write_events()
            if video is not None:
                video.close()
            summary = {**session.summary(), "outputs": outputs, "timeline_error": None, "report_error": None}
            if window is not None:
                outputs["snapshots"] = [str(p) for p in window.snapshots]
                outputs["recordings"] = [str(p) for p in window.recordings]
            if out is not None:
                outputs["predictions"] = "predictions.csv"
                outputs["events"] = "events.csv"
                if video is not None and video.frames:
                    outputs["video"] = video.path.name
                rows = read_rows(out / "predictions.csv")
                try:
                    render_timeline(rows, session.classes, summary["events"], out / "timeline.png",
                                    title=_title(session), demo=session.model.demo)
                    outputs["timeline"] = "timeline.png"
                except Exception as te:  # the plot must never cost the CSV or the summary
                    summary["timeline_error"] = f"{type(te).__name__}: {te}"
                try:
                    source = Path(session.name) if Path(session.name).is_file() else None
                    write_report(out, summary, rows, session.classes, source, _title(session))
                    outputs["report"] = "report.html"
                except Exception as re_:  # nor the review page
                    summary["report_error"] = f"{type(re_).__name__}: {re_}"
                write_json(out / "summary.json", summary)
    if interrupted:
        raise KeyboardInterrupt
    return summary


def _title(session: Session) -> str:
    short = session.name if "://" in session.name else Path(session.name).name
    return f"{short} · {session.model.label}"
