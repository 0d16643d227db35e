"""``mpt-live --finish DIR``: a run killed outright (SIGKILL, power loss, the out-of-memory killer) finished
from the files it wrote.

Such a run leaves complete predictions.csv and events.csv rows, its videos playable up to about a second
before the kill and summary.json still saying ``running`` (:mod:`mpt_live.rundir`), but no timeline.png and
no report.html. :func:`finish_folder` writes them from the rows and events written, and a summary.json with
``"status": "killed"`` (never ``complete``: a rerun or a resumed batch still redoes the video) holding the
facts the running marker kept (source, model, provider, source fps, spotting settings) and what the files
cover: ``frames_read`` from its first frame analysed, after the ``frames_skipped`` before ``--start`` (the marker's,
noted at that frame). Its ``labels`` (the run's and each face's) are counted from the rows as the run counted them
(:func:`mpt_live.run_summary.tallied_rows`).
Counts that only the run knew (frames with a face, processing speed, latency) are None.

A folder whose marker's process is alive is refused (a run still writing there), a finished one (any other
status) is left as it is, and a folder without a summary.json of mpt-live is not an output folder.
:func:`run_folders` finds the run folders of ``DIR``: itself, or the videos' folders below a batch's --out,
whose overview (videos.csv, all_events.csv, index.html) :func:`finish_overview` then rebuilds with the
finished videos in it.
"""

from __future__ import annotations

import csv
import math
import os
import socket
import time
from pathlib import Path
from typing import Any

from .clocktime import clock
from .errors import InputError, counted
from .model_trust import fact_warning
from .outkind import is_batch_out
from .overview import BatchTables, read_tables, rebuild, video_key
from .report import run_title, write_plot_and_page
from .results import ModelInfo, label_order, read_event_rows, read_table
from .review import damaged_copy
from .run_summary import tallied_rows
from .rundir import (
    BATCH_MARKER,
    FAILED,
    SUMMARY,
    VIDEOS_CSV,
    batch_in_use,
    is_run_summary,
    read_summary,
    run_in_use,
)
from .spotting import EVENT_COLUMNS
from .timeline import as_number, face_ids, last_frame_time
from .upright import read_as
from .writers import write_json

KILLED = "killed"  # the status of a run finished from its files
MARKER_FACTS = ("source", "mode", "model", "provider", "source_fps", "source_frame_count", "stride", "detector",
                "rotation", "max_faces", "spot_threshold", "clip_spec", "started", "start_s", "max_seconds", "stamps", "resumed_at_s")


def run_folders(folder: Path, option: str = "--finish") -> list[Path]:
    """``folder`` when it is a run's output folder, else the run folders below it (a batch's --out, none where all
    its videos failed); InputError when it is not a folder, a live batch is writing there, or it holds no run and is
    no batch's."""
    return list(find_runs(folder, option))


def find_runs(folder: Path, option: str = "--finish", known: dict[Path, dict[str, Any]] | None = None
              ) -> dict[Path, dict[str, Any]]:
    """:func:`run_folders` with each folder's summary.json, read once (in order of the folders' paths); ``known``: the
    summaries of folders below ``folder`` the caller has read already (by path, spelled as below ``folder``), not read
    again."""
    known = known or {}
    if not folder.exists():
        raise InputError(f"{option} {folder}: no such folder")
    if not folder.is_dir():
        raise InputError(f"{option} {folder}: is a file, expected a run's output folder")
    pid = batch_in_use(folder)
    if pid is not None:
        raise InputError(f"{option} {folder}: a batch (process {pid}) is still writing there; wait for it to end, "
                         f"or remove its {BATCH_MARKER} if no such run exists")
    own = read_summary(folder)
    if is_run_summary(own):
        return {folder: own}
    found = {p.parent: s for p in sorted(folder.rglob(SUMMARY))
             if is_run_summary(s := known[p.parent] if p.parent in known else read_summary(p.parent))}
    if not found and not is_batch_out(folder):  # a batch's whose videos all failed: its overview is still rebuilt
        raise InputError(f"{option} {folder}: not an output folder of mpt-live (no {SUMMARY} of a run in it or "
                         "below it)")
    return found


def finish_folder(folder: Path, option: str = "--finish") -> tuple[bool, str]:
    """Finish one run folder from its files: (whether anything was written, a line saying what was done).
    InputError when its run is still writing there, or the folder is not a run's."""
    marker = read_summary(folder)
    if not marker or not is_run_summary(marker):
        raise InputError(f"{option} {folder}: not an output folder of mpt-live (no {SUMMARY} of a run)")
    pid = run_in_use(folder)
    if pid is not None:
        raise InputError(f"{option} {folder}: a run (process {pid}) is still writing there; wait for it to end, "
                         "or stop it (Ctrl-C, SIGTERM: it then finishes its own outputs)")
    status = marker["status"]
    if status != "running":
        return False, f"{folder}: already finished (status {status}): nothing changed"
    if not (folder / "predictions.csv").is_file():
        raise InputError(f"{option} {folder}: its run was killed before it wrote predictions.csv: nothing to "
                         "finish; run the video again")
    header, rows = _predictions(folder / "predictions.csv")
    summary = killed_summary(folder, marker, rows)
    classes = [c[2:] for c in header if c.startswith("p_")]
    outputs = summary["outputs"]
    source = Path(str(summary["source"]))
    # the pictures and the copy the way up the run read it (a wrong tag); a marker of a version before rotation tags
    # were checked says none: that run read the file as tagged
    read_as(source, marker.get("rotation", "tag"))
    copy = _damaged_review(folder, marker, summary, source)
    write_plot_and_page(folder, summary, rows, classes, source if source.is_file() else None, _title(summary),
                        bool(summary["model"].get("demo")), until=summary["source_seconds"])
    summary["problems"] += [f"{name}: not written ({err})" for name, err in outputs["errors"].items()]
    write_json(folder / SUMMARY, summary)
    return True, (f"{folder}: finished from its files (status {KILLED}): {counted(summary['frames_read'], 'frame')}, "
                  f"{counted(summary['windows'], 'window')}, {counted(len(summary['events']), 'event')}, up to "
                  f"{summary['source_seconds']} s of the video{copy}")


def _damaged_review(folder: Path, marker: dict[str, Any], summary: dict[str, Any], source: Path) -> str:
    """review.webm of a killed run's source that it found damaged (frames that do not decode, read past: a browser
    stops playing there), as the run would have made at its end (:func:`mpt_live.review.damaged_copy`), up to the
    frames it read; a warning in the summary (and the page) and a few words for the finish line."""
    outputs = summary["outputs"]
    if not marker.get("damaged") or outputs.get("review"):  # undamaged where read, or its own copy (made as read)
        return ""
    read = int(summary["frames_read"]) + (summary.get("frames_skipped") or 0)  # the source's frames, from 0
    made = damaged_copy(folder, source, read + 1) if source.is_file() else None
    outputs["review"] = made
    if made:
        summary["warnings"].append(f"{source}: frames that do not decode were read past (the file is damaged); the "
                                   f"page shows {made}, a copy of the frames read")
        return f"; the page shows {made}, a copy of the damaged recording's frames"
    why = "the source is gone" if not source.is_file() else "the copy could not be made"
    summary["warnings"].append(f"{source}: frames that do not decode were read past (the file is damaged) and {why}: "
                               "the page shows the file itself, which a browser may stop playing at the damage")
    return f"; no copy of the damaged recording ({why}): its page may stop playing at the damage"


def finish_overview(folder: Path, runs: list[Path]) -> str | None:
    """Rebuild the overview of the batch whose --out is ``folder`` (``runs``: its run folders, as :func:`run_folders`
    found them; their summaries read now: --finish has just rewritten the killed ones') and say so in a line; None
    where ``folder`` is a run's own or no batch's."""
    if runs == [folder] or not is_batch_out(folder):
        return None
    line = _rebuilt(folder, {d: s for d in runs if (s := read_summary(d)) is not None})
    return line + _killed_batch(folder)


def _killed_batch(out: Path) -> str:
    """The marker of a batch in ``out`` killed outright (its process on this machine gone: :func:`find_runs` refused
    a live one), which still said ``running`` after its videos were finished, rewritten to say what happened (status
    killed, what finished it; its facts kept); a few words for the line, '' where there is no such marker (a batch
    on another machine's is left: whether it runs cannot be told from here) or it cannot be rewritten."""
    marker = read_summary(out, BATCH_MARKER)
    if not marker or marker.get("status") != "running" or marker.get("host") != socket.gethostname():
        return ""
    try:
        write_json(out / BATCH_MARKER, {**marker, "status": KILLED, "note": "the batch was killed outright; its "
                                        "videos' folders were finished by mpt-live --finish: the videos it had not "
                                        "reached are in no folder, nor in the overview (run the batch again into "
                                        "this --out: it skips the complete ones)",
                                        "finished": {"by": "mpt-live --finish",
                                                     "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}})
    except OSError:
        return ""
    return (f"; the batch (process {marker.get('pid')}) was killed outright: the videos it had not reached are not "
            f"listed ({BATCH_MARKER} now says so)")


def _rebuilt(out: Path, runs: dict[Path, dict[str, Any]], tables: BatchTables | None = None) -> str:
    """The overview of the batch in ``out`` rebuilt from ``runs`` (its run folders' summaries) and ``tables`` (its
    own, read here where None): the line saying so."""
    n = rebuild(out, runs, tables)
    return (f"{out}: the batch's overview (videos.csv, all_events.csv, index.html) rebuilt: {n} "
            f"video{'s' if n != 1 else ''}")


def refresh_enclosing(run_dir: Path) -> str | None:
    """At the end of a single video's run into ``run_dir`` (:func:`mpt_live.job.run_job`, a Ray video's outputs
    written): the overview of the batch whose --out holds it as one of its videos' folders (its videos.csv lists the
    folder, or its failed.csv the run's video) rebuilt as :func:`finish_overview` does, so it describes this run, and a
    line saying so, for the caller to print; None where no batch lists it, or a live batch holds that --out (this
    process's too: a batch rewrites its own overview after each of its videos). The batch's videos.csv and failed.csv
    are read once, as are its runs' summaries (the run's own too, where it was read to match a failed video)."""
    here = Path(os.path.abspath(run_dir))
    for parent in here.parents:
        if not any((parent / n).is_file() for n in (VIDEOS_CSV, FAILED, BATCH_MARKER)):  # nothing read: no batch's
            continue
        if batch_in_use(parent, mine=True) is not None:
            return None
        tables = read_tables(parent)  # a folder's own videos.csv or failed.csv (other columns) reads as none
        if not (tables.header or tables.failed or read_summary(parent, BATCH_MARKER)):
            continue
        known: dict[Path, dict[str, Any]] = {}  # the run's summary where it was read here: the rebuild's too
        if here.relative_to(parent).as_posix() not in tables.folders:
            own = read_summary(here) or {}
            source = own.get("source")  # a video the batch failed on, run since
            if not isinstance(source, str) or video_key(source) not in {video_key(v) for v, _ in tables.failed}:
                return None
            known[here] = own
        try:  # refused where a batch took the folder since
            runs = find_runs(parent, known=known)
        except InputError:
            return None
        return None if list(runs) == [parent] else _rebuilt(parent, runs, tables)
    return None


def killed_summary(folder: Path, marker: dict[str, Any], rows: list[dict[str, str]]) -> dict[str, Any]:
    """summary.json of a killed run from its running ``marker``, the ``rows`` of its predictions.csv and the
    events it wrote (no plot or page yet: ``outputs`` names the files there)."""
    events = read_events(folder / "events.csv")
    frame, t = last_frame_time(rows)  # None: no row has a number there
    frames = [frame] * (frame is not None) + [float(e["offset_frame"]) for e in events]
    times = [t] * (t is not None) + [float(e["offset_s"]) for e in events]
    ids = face_ids(rows)
    model = marker.get("model") if isinstance(marker.get("model"), dict) else {"name": "unknown (not in the marker)"}
    outputs: dict[str, Any] = {"predictions": "predictions.csv",
                               "events": "events.csv" if (folder / "events.csv").is_file() else None,
                               "timeline": None, "report": None,
                               "video": "annotated.mp4" if (folder / "annotated.mp4").is_file() else None,
                               "review": "review.webm" if (folder / "review.webm").is_file() else None,
                               "snapshots": [], "recordings": [], "errors": {}}
    covered = int(max(frames)) + 1 if frames else 0  # the source's frames up to the last one written, from 0
    skipped = marker.get("frames_skipped")  # before --start (the marker's from the run's first frame analysed)
    skipped = skipped if isinstance(skipped, int) and skipped >= 0 else None  # None: an older marker's
    stride, fps = marker.get("stride"), marker.get("source_fps")
    spacing = stride / fps if isinstance(stride, int) and isinstance(fps, (int, float)) and fps > 0 else None
    tallies = tallied_rows(rows, spacing)  # the labels as the run counted them, from its rows
    order = label_order(model.get("classes") or [])
    return {
        **{k: marker.get(k) for k in MARKER_FACTS}, "model": model, "status": KILLED,
        "problems": [(f"the run was killed outright (SIGKILL, power loss or out of memory: process {marker.get('pid')}"
                      f" on {marker.get('host')}) and wrote no summary; this one, the plot and the page were made "
                      f"from its files by mpt-live --finish, up to frame {covered} ({clock(max(times, default=0.0))})")],
        "warnings": [w] if (w := fact_warning(model.get("name"), model.get("parity"))) else [],  # as a run's end
        "frames_skipped": skipped, "frames_read": max(covered - (skipped or 0), 0), "frames_with_face": None, "windows": len(rows),
        "windows_scored": sum(as_number(r.get("motion_score")) == as_number(r.get("motion_score")) for r in rows),
        "windows_classified": sum(any(k.startswith("p_") and v for k, v in r.items()) for r in rows),
        "source_seconds": round(max(times, default=0.0), 3), "seconds": None, "fps": None,
        "labels": tallies.labels(order, merged=True),
        "events": events,
        "faces": [{"face_id": f, "windows": sum(as_number(r.get("face_id")) == f for r in rows),
                   "events": sum(e["face"] == f for e in events), "labels": tallies.labels(order, f)} for f in ids],
        "interrupted": False, "error": None, "source_error": None,
        "finished": {"by": "mpt-live --finish", "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                     "killed_pid": marker.get("pid"), "host": marker.get("host")},
        "outputs": outputs, "timeline_error": None, "report_error": None,
    }


def read_events(path: Path) -> list[dict[str, Any]]:
    """events.csv's rows (:func:`mpt_live.results.read_event_rows`) as summary.json's events (numbers as numbers, no
    ``video``; no probabilities: the CSV has none), each with the ``event_id`` the run wrote (a file from before that
    column: its row's number, the same ID); [] without the file. A last line the kill cut short (no line end) is left
    out: the event was not whole; a file that is not UTF-8 text is refused in one line."""
    if not path.is_file():
        return []
    out = []
    try:
        rows = read_event_rows(path)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise _unreadable(path, e) from None
    for n, r in enumerate(rows, start=2):
        e: dict[str, Any] = {k: r.get(k) for k in EVENT_COLUMNS if k != "video"}
        try:
            for k in ("event_id", "face", "onset_frame", "apex_frame", "offset_frame"):
                e[k] = int(float(r[k]))  # 'inf': OverflowError
            for k in ("onset_s", "apex_s", "offset_s"):
                e[k] = float(r[k])
                if not math.isfinite(e[k]):  # an event has its times (the summary adds them up)
                    raise ValueError(k)
            for k in ("score", "confidence"):
                e[k] = float(r[k]) if r.get(k) not in (None, "") else None
        except (KeyError, TypeError, ValueError, OverflowError):
            raise InputError(f"{path}: line {n} is not an event of mpt-live ({', '.join(EVENT_COLUMNS)})") from None
        e["class"] = r.get("class") or None
        e["probabilities"] = None
        out.append(e)
    return sorted(out, key=lambda e: (e["onset_s"], e["face"]))


def _predictions(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows) of a killed run's predictions.csv, whole lines only (a last row the kill cut short, without its
    line end, is no window); one line naming the file where it cannot be read as one."""
    try:
        return read_table(path, whole_lines=True)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise _unreadable(path, e) from None


def _unreadable(path: Path, e: Exception) -> InputError:
    """The one line saying why a CSV file of a run cannot be read."""
    if isinstance(e, UnicodeDecodeError):
        return InputError(f"{path}: not UTF-8 text, as mpt-live writes it (saved again by another program?)")
    if isinstance(e, OSError):
        return InputError(f"{path}: cannot be read ({e.strerror or e})")
    return InputError(f"{path}: not a CSV file as mpt-live writes it ({e})")


def _title(summary: dict[str, Any]) -> str:
    m = summary["model"]
    info = ModelInfo(name=m.get("name") or "motion only", backbone=m.get("backbone"), precision=m.get("precision"))
    return run_title(str(summary.get("source") or ""), info.label)
