"""A batch's overview, rebuilt from its videos' outputs: ``OUT/videos.csv``, ``OUT/all_events.csv``, ``OUT/index.html``.

The events' table is not named events.csv: whatever collects ``OUT/**/events.csv`` (``mpt-eval spot --runs OUT``,
a script concatenating the runs) would count every event twice.

One row per video of the batch whose folder holds a summary.json (the facts are the summary's, not
recomputed), or that failed in this run (its reason); a video not reached yet, in progress or killed
(its summary says ``running``) is not listed. The
batch's driver calls :func:`write_overview` after every video (serial, ``--jobs``, ``--ray``), each file
written atomically, so a stopped batch leaves an overview of what finished, and a rerun rebuilds it
from every video's folder (those it skipped too); ``mpt-live --finish OUT`` after a batch killed outright, and the
end of a single video's run into one of its videos' folders (:func:`mpt_live.finish.refresh_enclosing`), rebuild it
without the batch's list of videos (:func:`rebuild`). Only the standard library and the run
folders' helpers: it runs between videos.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .framenames import natural
from .outkind import is_overview
from .overview_page import render_index
from .results import read_event_rows, read_table
from .rundir import BATCH_MARKER, FAILED, FAILED_COLUMNS, SUMMARY, VIDEOS_COLUMNS, VIDEOS_CSV, read_summary
from .spotting import EVENT_COLUMNS
from .writers import atomic_path

ALL_EVENTS, INDEX = "all_events.csv", "index.html"  # VIDEOS_CSV, FAILED: rundir's (what marks a batch's --out)
EVENTS_CSV = "events.csv"  # a video's own
COLUMNS = VIDEOS_COLUMNS  # videos.csv's (rundir's: what tells a batch's from a folder's own videos.csv)
UNCLASSIFIED = "unclassified"  # events without a class: a run without a model, or an apex window no longer buffered


def video_names(videos: list[Path]) -> list[str]:
    """Each video's path relative to the folder that holds them all (POSIX form), as the batch was given or found
    it: a link keeps its own name, not its target's."""
    paths = [_absolute(v) for v in videos]
    base = Path(os.path.commonpath([p.parent for p in paths])) if paths else Path()
    return [p.relative_to(base).as_posix() for p in paths]


def _absolute(path: Path | str) -> Path:
    """``path`` made absolute without following links (a linked video is the one the user named)."""
    return Path(os.path.abspath(path))


def video_key(path: Path | str) -> str:
    """Which video ``path`` names, however it was typed: its folder resolved (links, ``..``, the working folder),
    its own name kept (two links to one file are two videos of a batch, each under the name it was given)."""
    p = _absolute(path)
    return str(p.parent.resolve() / p.name)


def video_row(name: str, folder: str, s: dict[str, Any]) -> dict[str, Any]:
    """The videos.csv row of a video from its summary.json (``events_<class>`` counts in ``classes``)."""
    status = s.get("status")
    problems = [str(p) for p in s.get("problems") or []] or ([] if status == "complete" else [f"status {status}"])
    frames, with_face = s.get("frames_read") or 0, s.get("frames_with_face") or 0
    events = [e for e in s.get("events") or [] if isinstance(e, dict)]
    seconds, start = s.get("source_seconds"), s.get("start_s")  # source_seconds: the file's time its run read to
    if isinstance(seconds, (int, float)) and isinstance(start, (int, float)) and start > 0:  # from --start T: the
        seconds = round(max(0.0, seconds - start), 3)  # seconds analysed, as frames and events are counted over
    model = s.get("model") or {}
    classes: dict[str, int] = {c: 0 for c in model.get("classes") or []}
    for e in events:
        c = e.get("class") or UNCLASSIFIED
        classes[c] = classes.get(c, 0) + 1
    return {"video": name, "folder": folder, "status": "done" if status == "complete" else "incomplete",
            "reason": "; ".join(problems) if status != "complete" else "",
            "duration_s": seconds, "frames": frames,
            "face_share": round(with_face / frames, 4) if frames and s.get("frames_with_face") is not None else "",
            "faces": len(s.get("faces") or []), "windows_classified": s.get("windows_classified"),
            "micro_events": sum(e.get("type") == "micro" for e in events),
            "macro_events": sum(e.get("type") == "macro" for e in events),
            "events_per_min": round(len(events) / seconds * 60, 2) if seconds else "",
            "model": model.get("name") or "", "demo": bool(model.get("demo")), "classes": classes,
            "data_kind": model.get("data_kind") or ""}  # index.html's model cell (not a videos.csv column)


def failed_row(name: str, reason: str) -> dict[str, Any]:
    return {**{k: "" for k in COLUMNS}, "video": name, "status": "failed", "reason": reason, "classes": {}}


def collect(out: Path, videos: list[Path], dirs: list[Path], failed: list[tuple[Path, str]],
            summaries: dict[Path, dict[str, Any]] | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(video rows, event rows) of the batch, in the batch's order (``summaries``: those of its folders already
    read, by folder; the others are read here)."""
    reasons = {video_key(v): r for v, r in failed}
    rows, events = [], []
    for name, video, d in zip(video_names(videos), videos, dirs):
        if reasons and (key := video_key(video)) in reasons:  # (no path resolved after each video without failures)
            rows.append(failed_row(name, reasons[key]))
            continue
        s = summaries[d] if summaries is not None and d in summaries else read_summary(d)
        if s is None or s.get("status") == "running":
            continue  # not reached yet, in progress, or killed where nothing could be caught
        folder = Path(os.path.relpath(d, out)).as_posix()
        try:
            rows.append(video_row(name, folder, s))
        except (TypeError, ValueError, AttributeError):  # a summary.json edited by hand must not stop the batch
            rows.append({**failed_row(name, f"{d / 'summary.json'}: not a summary of mpt-live"),
                         "folder": folder, "status": "incomplete"})
        try:
            # a finished run wrote every row whole; only a killed one can end in a row cut short
            whole = s.get("status") != "complete"
            events += [{**r, "video": name} for r in read_event_rows(d / EVENTS_CSV, whole_lines=whole)]
        except (OSError, UnicodeError, csv.Error):
            pass  # its row says what the run wrote
    return rows, events


def _class_columns(rows: list[dict[str, Any]], classes: tuple[str, ...] = ()) -> list[str]:
    """``events_<class>`` for the batch's model's ``classes``, then those of other models its videos' summaries name,
    then ``events_unclassified`` always: the header depends on the models only, never on what the videos held."""
    names: list[str] = [c for c in classes if c != UNCLASSIFIED]
    for r in rows:
        names += [c for c in r["classes"] if c not in names and c != UNCLASSIFIED]
    return [f"events_{c}" for c in names] + [f"events_{UNCLASSIFIED}"]


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def write_overview(out: Path | None, videos: list[Path], dirs: list[Path], failed: list[tuple[Path, str]],
                   batch: bool | None = None, classes: tuple[str, ...] = (),
                   summaries: dict[Path, dict[str, Any]] | None = None) -> None:
    """Rewrite the three files of the batch in ``out`` (each atomically) from the videos' folders as they are.
    A file that cannot be written is left as it was: the videos' own outputs are what counts. Nothing for one
    video (or no ``out``): its own folder is the output; ``batch``: True where ``out`` is a batch's whatever the
    number of videos known (:func:`rebuild`); ``classes``: the batch's model's (its columns, even where every video
    failed); ``summaries``: the videos' summaries already read, by folder (:func:`collect`)."""
    if out is None or not (len(videos) >= 2 if batch is None else batch):
        return
    out = Path(out)
    rows, events = collect(out, videos, dirs, failed, summaries)
    columns = _class_columns(rows, classes)
    for r in rows:
        r.update({f"events_{c}": n for c, n in r["classes"].items()})
        if r["status"] != "failed":
            r.update({c: r.get(c, 0) for c in columns})
    files = {VIDEOS_CSV: _csv(COLUMNS[:-2] + columns + COLUMNS[-2:], rows), ALL_EVENTS: _csv(EVENT_COLUMNS, events),
             INDEX: render_index(rows, columns, len(videos))}
    for name, text in files.items():
        try:
            with atomic_path(out / name) as tmp:
                tmp.write_text(text, encoding="utf-8")
        except OSError:
            pass


@dataclass(frozen=True)
class BatchTables:
    """What a batch's --out says of its videos, read once (:func:`read_tables`) for a rebuild and what decides it:
    its videos.csv's ``header`` and ``rows`` (none without a readable one) and failed.csv's (video, reason) rows."""

    header: list[str]
    rows: list[dict[str, str]]
    failed: list[tuple[Path, str]]

    @property
    def folders(self) -> set[str]:
        """The ``folder`` cells of videos.csv: the batch's videos' folders, relative to its --out."""
        return {r["folder"] for r in self.rows if r.get("folder")}


def read_tables(out: Path) -> BatchTables:
    """``out``'s videos.csv and failed.csv as :class:`BatchTables`; a file missing or not readable as one mpt-live
    wrote (not UTF-8: saved again in a system's code page, or anyone's own videos.csv: other columns) is none."""
    try:
        header, rows = read_table(Path(out) / VIDEOS_CSV)
    except (OSError, UnicodeError, csv.Error):
        header, rows = [], []
    if not is_overview(header):  # not a batch's overview
        header, rows = [], []
    return BatchTables(header, rows, read_failed(out))


def read_failed(out: Path) -> list[tuple[Path, str]]:
    """The (video, reason) rows of ``out/failed.csv``; [] without a readable one of a batch's."""
    try:
        header, rows = read_table(Path(out) / FAILED)
    except (OSError, UnicodeError, csv.Error):
        return []
    if header != FAILED_COLUMNS:  # a folder's own failed.csv
        return []
    return [(Path(r["video"]), r.get("reason") or "") for r in rows if r.get("video")]


def record_failures(out: Path | None, failed: list[tuple[Path, str]]) -> None:
    """Write ``out/failed.csv`` (video, reason) for the batch's failures so far, or remove a stale one: after
    an overnight run the terminal may be gone, and a video that could not be read has no folder of its own.
    Each video by its absolute path (links kept), so that a run of it started from another folder is known as it."""
    if out is None:
        return
    path = Path(out) / FAILED
    if not failed:
        path.unlink(missing_ok=True)
        return
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(FAILED_COLUMNS)
    w.writerows([str(_absolute(v)), reason] for v, reason in failed)
    try:
        Path(out).mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_text(buf.getvalue())
    except OSError:
        pass  # the console lists them too; a full disk is reported by the videos' own outputs


def batch_classes(out: Path, runs: dict[Path, dict[str, Any]] | None = None,
                  tables: BatchTables | None = None) -> tuple[str, ...]:
    """The classes of the model the batch in ``out`` ran, as it recorded them: in its marker (a batch still running,
    or killed outright), else the ``events_<class>`` columns of the videos.csv a rebuild replaces; () where neither
    says. That header also holds the classes of the other models its runs had when it was written: where a run it
    lists has another model since (its summary.json, as in ``runs`` by folder or read here, names another than its
    row), only the columns that are classes of its runs' models now are kept, so a replaced run's are not kept as
    the batch's. ``tables``: ``out``'s, already read (:func:`read_tables`)."""
    marker = read_summary(out, BATCH_MARKER) or {}
    if marker.get("status") == "running" and isinstance(marker.get("classes"), list):  # not a finished batch's
        return tuple(str(c) for c in marker["classes"])
    tables = tables or read_tables(out)
    named = [c.removeprefix("events_") for c in tables.header  # events_per_min is no class's
             if c.startswith("events_") and c not in COLUMNS and c != f"events_{UNCLASSIFIED}"]
    known: set[str] = set()
    replaced = False
    for r in tables.rows:
        if not r.get("folder"):
            continue  # a failure: no run
        d = Path(out) / r["folder"]
        s = runs[d] if runs is not None and d in runs else read_summary(d)
        if not s:
            continue  # its folder or summary gone since: no model to tell, not another model
        model = s.get("model")
        model = model if isinstance(model, dict) else {}
        replaced = replaced or (model.get("name") or "") != (r.get("model") or "")
        known |= {str(c) for c in model.get("classes") or [] if isinstance(model["classes"], list)}
    return tuple(c for c in named if c in known) if replaced else tuple(named)


def _run_since(found: tuple[Path, Path] | None, failures: Path) -> bool:
    """Whether ``found`` (a video and its run folder) is a run made after ``failures`` (failed.csv) listed the video:
    a failed open leaves the folder of an earlier batch's run of it as it was, which is no run since."""
    try:
        return found is not None and (found[1] / SUMMARY).stat().st_mtime > failures.stat().st_mtime
    except OSError:
        return False


def rebuild(out: Path, runs: dict[Path, dict[str, Any]], tables: BatchTables | None = None) -> int:
    """Rewrite the overview of the batch in ``out`` from what the folder holds, without the batch's list of
    videos (``mpt-live --finish``, a single run into one of its videos' folders): its videos are those the summaries
    of ``runs`` (its run folders: their summary.json, read once) name and those of failed.csv, in natural order of
    their paths (the batch's order); the columns those of the batch's model (:func:`batch_classes`) and of the runs'.
    A failed video run since into a folder of the batch (its summary.json newer than failed.csv) is no longer failed
    (nor in failed.csv); an earlier batch's folder of it, left as it was, does not undo its failure. Returns how
    many videos that is; a video the batch never reached is not known, so not counted. ``tables``: ``out``'s,
    already read (:func:`read_tables`)."""
    videos: dict[str, tuple[Path, Path]] = {}  # video_key -> (the video as named, its folder)
    for d, s in sorted(runs.items()):
        source = s.get("source")
        if isinstance(source, str) and source:
            videos.setdefault(video_key(source), (Path(source), d))
    tables = tables or read_tables(out)
    listed = tables.failed
    failed = [(v, r) for v, r in listed if not _run_since(videos.get(video_key(v)), Path(out) / FAILED)]
    if len(failed) != len(listed):
        record_failures(out, failed)
    for video, _ in failed:
        videos.setdefault(video_key(video), (video, Path(out)))  # its row is the failure, whatever folder it has
    ordered = sorted(videos.values(), key=lambda vd: natural(vd[0].as_posix()))
    write_overview(out, [v for v, _ in ordered], [d for _, d in ordered], failed, batch=True,
                   classes=batch_classes(out, runs, tables), summaries=runs)
    return len(ordered)
