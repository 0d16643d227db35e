"""One job: a source through the session engine into its output folder and its views.

Outputs (``out_dir``; nothing is written without one): ``predictions.csv`` (a row per face per window,
complete rows as written), ``events.csv`` (a row per spotted event, written as each event closes and is
classified), ``summary.json``, ``timeline.png`` and ``report.html`` (the review page, :mod:`mpt_live.report`;
at the end, also after a stop signal or a crash), ``annotated.mp4`` with ``save_video`` (the overlay on
every frame). An earlier run's outputs in the folder are removed first and summary.json says
``"status": "running"`` until the end (:mod:`mpt_live.rundir`); with ``resume`` they are kept and gone on with
(:mod:`mpt_live.resume`: the CSVs appended to, the annotated video of this part in ``annotated.partN.mp4``). Views: the OpenCV window
(``display``), and whatever per-frame ``progress`` / ``status`` callables the caller passes (the
terminal's progress bar and status line). The schema of every output is the same whatever the flags.
"""

from __future__ import annotations

import math
import sys
import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from .clocktime import clock
from .errors import InputError, OutputError, first_line
from .finish import refresh_enclosing
from .interrupts import deferred, signal_name
from .machine import opencv_threads
from .overlay import render_overlay
from .report import run_title, write_plot_and_page
from .review import ReviewSink, damaged_copy, needs_copy
from .results import columns, read_table
from .run_summary import frame_count
from .rundir import finish_run, note_running, recorded_source, run_status, start_run
from .recordings import stamp
from .references import ReferenceLog
from .session import Session
from .session_config import SessionConfig
from .sources import Frame
from .spotting import EVENT_COLUMNS
from .tracks import TrackedFace
from .view import OverlayView
from .window import DisplayWindow
from .writers import CSVSink, VideoSink


def run_job(source: Any, runtime: Any | None, cfg: SessionConfig, out_dir: str | Path | None = None, *,
            save_video: bool = False, display: bool = False,
            progress: Callable[[int, int | None], None] | None = None,
            status: Callable[[str], None] | None = None, say: Callable[[str], None] | None = None,
            resume: bool = False) -> dict[str, Any]:
    """Run ``source`` (an opened :class:`VideoFile`, :class:`FrameFolder`, :class:`CaptureReader`, ...) through
    the session with ``runtime`` (None: motion-only); return the summary.

    ``progress(frames_read, total_frames)`` and ``status(view.status())`` are called once per frame; ``say(line)``
    once where the run's end rebuilt an enclosing batch's overview (:func:`mpt_live.finish.refresh_enclosing`).
    A stop (Ctrl-C, SIGTERM, SIGHUP) or an error: the summary is still written, then it is raised again.
    The summary's ``status`` says whether the outputs are complete (:func:`mpt_live.rundir.run_status`).
    ``resume``: go on with the run in ``out_dir`` where its files end (:mod:`mpt_live.resume`)."""
    out = Path(out_dir) if out_dir is not None else None
    video_out = save_video and out is not None
    session = Session(source, runtime, replace(cfg, thumbnails=display or video_out))
    point = None
    if resume and out is not None:
        from .resume import resume_point

        point = resume_point(out, source, marker_facts(session))
        session.cfg = replace(session.cfg, from_frame=point.from_frame, after_frame=point.after_frame,
                              written=point.written, first_event_id=point.first_event_id)
        if say is not None:
            say(f"--resume: going on after frame {point.after_frame} ({clock(point.at_s)}), event IDs from "
                f"{point.first_event_id}; frames {point.from_frame}-{point.after_frame} are analysed again, not "
                "written (the spotter's history); a face there keeps its ID")
    if out is not None:  # the marker keeps what a killed run's --finish needs to know
        resumed = {} if point is None else {"resumed_at_s": point.resumed_at_s,
                                            "start_s": point.previous.get("start_s"),
                                            "frames_skipped": point.previous.get("frames_skipped")}
        start_run(out, str(getattr(source, "name", "source")), {**marker_facts(session), **resumed},
                  keep=point is not None)
    # each face's stabiliser reference every 10 s, for a --resume to go on from (mpt_live/references.py): only for
    # what --resume goes on with (a file, a frame folder), not a camera or a stream
    refs = None
    if out is not None and not session.live and "://" not in session.name:
        refs = ReferenceLog(out, say or _stderr) if point is None else ReferenceLog(
            out, say or _stderr, point.after_frame, point.written.taken, point.from_frame, point.first_frame, point.kept)
    view = OverlayView(session.model)
    total = getattr(source, "frame_count", 0) or None
    # --max-seconds on a file: the bar ends where the stretch will (from its first frame analysed), not the file
    limit = math.ceil(cfg.max_seconds * session.fps) if cfg.max_seconds and not session.live else None
    outputs: dict[str, Any] = {"predictions": None, "events": None, "timeline": None, "report": None, "video": None,
                               "review": None, "snapshots": [], "recordings": [], "errors": {}}
    # the recording's name in events.csv: a file's name, a frame folder's path (its own name may be just "color")
    video_name = getattr(source, "label", None) or (session.name if "://" in session.name else Path(session.name).name)
    stopped: KeyboardInterrupt | None = None
    frames_to = 0  # the source's frames up to the last one the run handled
    summary_error: OutputError | None = None
    sink: CSVSink | None = None
    events: CSVSink | None = None
    video: VideoSink | None = None
    review: ReviewSink | None = None
    window: DisplayWindow | None = None

    def write_events() -> None:
        for e in session.take_events():
            if events is not None:
                events.write(e.row(video_name))

    with ExitStack() as stack:
        try:
            stack.enter_context(opencv_threads(1))
            stack.enter_context(session)
            if refs is not None:
                stack.callback(refs.close)
            keep = point is not None  # --resume: after the rows written; the videos in files of their own
            sink = stack.enter_context(CSVSink(out / "predictions.csv", columns(session.classes), keep)) if out else None
            events = stack.enter_context(CSVSink(out / "events.csv", EVENT_COLUMNS, keep)) if out else None
            name = "annotated.mp4" if point is None else f"annotated.part{point.part}.mp4"
            video = stack.enter_context(VideoSink(out / name, session.fps)) if video_out else None
            # the page's copy of a recording a browser cannot play, made as it is read (none to make at the end;
            # --resume: the first part's stays, the page says what it covers)
            review = (stack.enter_context(ReviewSink(out, session.fps)) if out and needs_copy(session.name)
                      and point is None else None)
            window = stack.enter_context(DisplayWindow(out or Path.cwd(), session.fps, view)) if display else None

            damage_noted = False  # in the marker: a killed run's --finish makes the page's copy as this run would
            skip_noted = point is not None  # --resume: the first part's count is in the marker already

            def on_frame(frame: Frame, faces: list[TrackedFace]) -> None:
                nonlocal damage_noted, skip_noted, frames_to, total, limit
                frames_to = frame.index + 1  # a live source's index counts the frames it dropped too
                if out is not None and not skip_noted:  # the frames passed over before --start: all, by its first
                    skip_noted = True
                    note_running(out, {"frames_skipped": session.skipped})
                if refs is not None and session.tracker is not None:
                    refs.frame(frame.index, frame.t, session.tracker, faces)
                if out is not None and not damage_noted and getattr(session.source, "damaged", 0):
                    damage_noted = True
                    note_running(out, {"damaged": True})
                view.frame_tick(time.monotonic())
                view.observe(session.latest, session.recent, frame.t, [f.id for f in faces])
                write_events()
                if review is not None:
                    review.write(frame.image, frame.t)
                if limit is not None and total and (point is None or frame.index > point.after_frame):
                    total, limit = min(total, frame.index + limit), None  # the file's frames up to the stretch's end
                if progress is not None:
                    progress(session.figures.counts["frames_read"] + session.skipped, total)  # --start: from there
                if status is not None:
                    status(view.status())
                again = point is not None and frame.index <= point.after_frame  # --resume: in the last part's video
                if (video is None or again) and window is None:
                    return
                boxes = [(f.id, f.face.box) for f in faces]
                width = frame.image.shape[1]
                paused, recording = (window.paused, window.recording) if window is not None else (False, False)
                img = render_overlay(frame.image, view.state(width, boxes, frame.t, paused, recording))
                if video is not None and not again:  # a recording's frames at their times (a live source's as they come; from
                    # --start's time on: a start late in the file is not padded with its first frame from 0 s)
                    video.write(img, None if session.live else frame.t - (point.at_s if point else
                                                                          session.cfg.start_s or 0.0))
                if window is not None:
                    window.show(img, lambda: render_overlay(frame.image, view.state(width, boxes, frame.t, True,
                                                                                    window.recording)))

            session.on_frame = on_frame
            for r in session:
                write_events()  # first: an event finished before a row is on disk before it (--resume counts on it)
                if sink is not None:
                    sink.write(r.row())
        except KeyboardInterrupt as e:  # Ctrl-C, SIGTERM, SIGHUP (interrupts.Stopped)
            stopped = e
            session.interrupted = True
        except BaseException as e:
            session.error = session.error or (first_line(e) if isinstance(e, (InputError, OutputError))
                                              else f"{type(e).__name__}: {e}")
            raise
        finally:
            written = False
            with deferred():  # a second Ctrl-C must not cost the summary
                summary = _finish(session, out, outputs, sink, events, video, review, window, write_events, stopped,
                                  frames_to, point)
                if out is not None:
                    try:
                        finish_run(out, summary)
                        written = True
                    except OutputError as e:
                        summary_error = e
            # every run's end, whatever ended it: the overview of a batch whose video folder this is. Not held like
            # the summary (the run's own outputs are written): a Ctrl-C stops a large batch's rebuild
            if written and out is not None:
                _refresh(out, say)
    if stopped is not None:
        raise stopped
    if summary_error is not None:
        raise summary_error
    return summary


def _finish(session: Session, out: Path | None, outputs: dict[str, Any], sink: CSVSink | None,
            events: CSVSink | None, video: VideoSink | None, review: ReviewSink | None, window: DisplayWindow | None,
            write_events: Callable[[], None], stopped: KeyboardInterrupt | None, frames_to: int = 0,
            point: Any | None = None) -> dict[str, Any]:
    """The end of a run, whatever ended it: the last events, the plot and the review page; the summary."""
    session.close()
    try:
        write_events()
    except OutputError as e:  # a full disk: events.csv keeps its complete rows
        outputs["errors"]["events.csv"] = first_line(e)
    if video is not None:
        try:
            video.close()
        except OutputError as e:  # a full disk: the frames written before stay readable
            outputs["errors"]["annotated.mp4"] = first_line(e)
    if review is not None:  # as far as the run went
        outputs["review"] = review.close()
    elif out is not None and point is None and getattr(session.source, "damaged", 0):  # a browser stops at the damage: a copy
        limit = None if stopped is None else max(frames_to, int(session.figures.counts["frames_read"])) + 1
        outputs["review"] = damaged_copy(out, Path(session.name), limit)
    summary = {**session.summary(), "outputs": outputs, "timeline_error": None, "report_error": None,
               "source_frames": bool(getattr(session.source, "numbered_frames", False)),  # a frame folder's numbers
               "stamps": {"source": stamp(session.name), "model": stamp(session.model.path)},  # batch reruns
               "source": recorded_source(session.name)}
    if stopped is not None:
        summary["stopped_by"] = signal_name(stopped)
    # the stretch asked for (--start, --max-seconds) and whether --max-seconds ended the run (not an interruption)
    summary.update(start_s=session.cfg.start_s, max_seconds=session.cfg.max_seconds,
                   max_seconds_reached=session.at_limit, frames_skipped=session.skipped)
    if window is not None:
        outputs["snapshots"] = [str(p) for p in window.snapshots]
        outputs["recordings"] = [str(p) for p in window.recordings]
    if out is not None and sink is not None:
        outputs["predictions"] = "predictions.csv"
        outputs["events"] = "events.csv" if events is not None else None
        if video is not None and video.frames:
            outputs["video"] = video.path.name
    if point is not None:  # --resume: the whole run's figures (the page's and the summary's)
        from .resume import merge

        merge(summary, point, list(session.figures.counts),
              {"frames_read": session.rerun, "frames_with_face": session.rerun_faces}, session.name)
    if out is not None and sink is not None:
        rows = read_table(out / "predictions.csv")[1]
        # the page states the run's status (interrupted, incomplete) and its problems: known before it is written
        summary["status"], summary["problems"] = run_status(summary)
        source = Path(session.name) if Path(session.name).is_file() else None
        write_plot_and_page(out, summary, rows, session.classes, source, run_title(session.name, session.model.label),
                            session.model.demo)
    summary["status"], summary["problems"] = run_status(summary)
    return summary


def _refresh(out: Path, say: Callable[[str], None] | None) -> None:
    """An enclosing batch's overview rebuilt after the run (best effort: the run's own outputs are what counts)."""
    try:
        line = refresh_enclosing(out)
    except OSError:
        return
    if line and say is not None:
        say(line)


def marker_facts(session: Session) -> dict[str, Any]:
    """The facts of a run known at its start, as its final summary says them (kept in the running marker)."""
    return {"mode": "live" if session.live else "file", "model": session.model.to_dict(),
            "provider": session.model.provider or None, "source_fps": round(session.fps, 3),
            "source_frame_count": frame_count(session.source),
            "stride": "auto" if session.auto else session.stride, "detector": session.cfg.detector,
            "rotation": getattr(session.source, "orientation", None), "max_faces": session.max_faces,
            "spot_threshold": session.cfg.spot_threshold,
            "clip_spec": session.spec.to_dict(), "start_s": session.cfg.start_s, "max_seconds": session.cfg.max_seconds,
            "stamps": {"source": stamp(session.name), "model": stamp(session.model.path)}}  # --resume: the same?


def _stderr(line: str) -> None:
    """A warning where the caller gave no ``say``: one line on stderr."""
    print(line, file=sys.stderr)
