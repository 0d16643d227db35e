"""What an --out folder holds, and so what a run may write there: a batch's files told by their content
(:func:`batch_files`: a folder's own videos.csv or failed.csv, a dataset's index, is no batch's), a single run kept
out of a batch's folder and a batch out of a single run's (:func:`check_one_kind`), and a recording never cleared
or written over as one of a run's outputs (:func:`check_input_kept`). Checked before the model loads (the CLI) and
again where a run or a batch starts (:func:`mpt_live.rundir.start_run`, :func:`mpt_live.rundir.claim_batch`)."""

from __future__ import annotations

import csv
import os
import socket
from pathlib import Path

from .errors import InputError
from .results import open_table
from .rundir import (BATCH_MARKER, FAILED, FAILED_COLUMNS, OUTPUTS, SUMMARY, VIDEOS_COLUMNS, VIDEOS_CSV, batch_in_use,
                     is_run_summary, read_summary)


def _header(path: Path) -> list[str] | None:
    """The column names of the CSV file ``path``; None where it is missing or not readable as one."""
    try:
        with open_table(path) as (fields, _):
            return fields
    except (OSError, UnicodeError, csv.Error):
        return None


def is_overview(header: list[str] | None) -> bool:
    """Whether ``header`` (a videos.csv's columns) is a batch's overview's: its columns, the batch's event counts by
    class (``events_<class>``) before the last two."""
    n = len(VIDEOS_COLUMNS) - 2
    return bool(header) and header[:n] == VIDEOS_COLUMNS[:n] and header[-2:] == VIDEOS_COLUMNS[-2:] and \
        all(c.startswith("events_") for c in header[n:-2])


def batch_files(out: Path) -> list[str]:
    """The files of a batch in ``out``, told by what they hold, not by their names alone (a folder's own videos.csv
    or failed.csv, a dataset's index, is none): videos.csv with the overview's columns, failed.csv with (video,
    reason), the batch marker a JSON object naming a batch's process."""
    out, found = Path(out), []
    if is_overview(_header(out / VIDEOS_CSV)):
        found.append(VIDEOS_CSV)
    if _header(out / FAILED) == FAILED_COLUMNS:
        found.append(FAILED)
    marker = read_summary(out, BATCH_MARKER)
    if marker and marker.get("status") == "running" and {"pid", "host"} <= marker.keys():
        found.append(BATCH_MARKER)
    return found


def is_batch_out(out: Path) -> bool:
    """Whether ``out`` is a batch's --out: it holds the batch's overview, its failures or its marker
    (:func:`batch_files`)."""
    return bool(batch_files(out))


def batch_held(out: Path) -> str | None:
    """What of a batch ``out`` holds, as a line's predicate (``holds a batch's outputs (videos.csv, ...)``), for a
    refusal of a single run's files there; None where nothing of a batch is there, or only the marker of a batch on
    this machine that died before any of its videos began (killed as it started): that stale marker is no batch's
    work, and :func:`mpt_live.rundir.start_run` removes it, as it clears a killed run's ``running`` summary.json."""
    names = batch_files(out)
    if not names:
        return None
    if names != [BATCH_MARKER]:
        listed = names + ["a folder for each of its videos"] * (VIDEOS_CSV in names)  # the folders its overview lists
        return f"holds a batch's outputs ({', '.join(listed)})"
    marker = read_summary(out, BATCH_MARKER) or {}
    if marker.get("host") != socket.gethostname():  # whether it still runs cannot be told from here
        return f"holds the marker of a batch on {marker.get('host')} (process {marker.get('pid')}, {BATCH_MARKER})"
    pid = batch_in_use(out)
    if pid is not None:
        return f"is a running batch's (process {pid} is writing its videos' folders there)"
    folders = sorted({p.parent.relative_to(out).as_posix() for p in Path(out).rglob(SUMMARY) if p.parent != Path(out)})
    if not folders:
        return None
    listed = ", ".join(folders[:3]) + (", ..." if len(folders) > 3 else "")
    return (f"holds the marker of a batch that was killed ({BATCH_MARKER}, process {marker.get('pid')}) and its "
            f"videos' folders ({listed}), which mpt-live --finish {out} ends")


def one_recording(spec: str, videos: list[Path], out: Path | None) -> list[str]:
    """The note for ``--video spec`` a folder or glob that holds one recording (``videos``): its outputs go to
    ``out`` itself, as a single video's do (:func:`mpt_live.batch.output_dirs`), not to a folder of its own below
    it as a batch's (changing that would leave such a run's earlier folders unresumable: --resume reads ``out``)."""
    if out is None or len(videos) != 1 or videos[0] == Path(spec):  # a file, a frame folder itself: no batch meant
        return []
    return [(f"{spec}: one recording ({videos[0].name}), so its outputs go to {out} itself, as a single video's do; "
             "a folder or glob of several gives each a folder below it")]


def check_one_kind(out: Path, batch: bool, option: str = "--out") -> None:
    """InputError when ``out`` holds the other kind's outputs: a single run's (its summary.json beside its other
    files) for a ``batch``, which writes a folder for each video there; a batch's (:func:`batch_held`) for a single
    run, whose files would go in among the batch's folders. Either would leave a folder of both, which nothing reads
    as one (``--finish`` took the single run alone, a batch's overview left it out)."""
    if batch:
        s = read_summary(out)
        if is_run_summary(s):
            raise InputError(f"{option} {out}: holds a single run's outputs (of {s['source']}); a batch writes a "
                             "folder for each video there, beside them: give another --out folder, or empty this one")
    elif (held := batch_held(out)) is not None:
        raise InputError(f"{option} {out}: {held}; a single run's files would go in among them: give another --out "
                         "folder")


def check_input_kept(out: str | os.PathLike, recording: str | os.PathLike | None, option: str = "--out",
                     given: str | os.PathLike | None = None) -> None:
    """InputError when ``recording`` is a file in ``out`` under the name of one of a run's outputs
    (``annotated.mp4``, ``review.webm``, ...): clearing the folder for the run would delete the recording, or its
    review copy would be written over it; or when ``recording`` is a folder of frames and ``out`` that folder (its
    outputs, timeline.png among them, would be written among its frames, and a rerun would read them as frames).
    ``given``: the --out the user typed where ``out`` is a batch's folder for this recording below it (the error
    names both), or ``out`` itself for a single run: it must not hold the other kind's outputs (:func:`check_one_kind`)."""
    batch = given is not None and Path(given) != Path(out)
    if given is not None:
        check_one_kind(Path(given), batch=batch, option=option)
    if batch and (held := batch_held(out)) is not None:  # the video's folder: its run would go in among a batch's
        raise InputError(f"{option} {given}: {recording}'s outputs would go to {out}, which {held}; its files would go "
                         "in among them: give another --out folder")
    if recording is None or "://" in str(recording):
        return
    try:
        inside = Path(recording).is_dir() and os.path.samefile(out, recording)
    except OSError:
        inside = False
    where = f"{option} {given}: {recording}'s outputs would go to {out}, which" if batch else f"{option} {out}:"
    if inside:
        raise InputError(f"{where} is the folder of frames being read{'' if batch else f' ({recording})'}: the "
                         "outputs would be written among its frames; give another --out folder (a subfolder is fine)")
    for name in OUTPUTS:
        p = Path(out) / name
        try:
            same = p.is_file() and os.path.samefile(p, recording)
        except OSError:
            continue
        if same:
            video = "the input video" if batch else f"the input video {recording}"
            raise InputError(f"{where} holds {video} under the name of an output this run writes ({name}), which "
                             "would delete or overwrite it; give another --out folder or rename the video")
