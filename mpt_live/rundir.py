"""The output folder of a run: checked before any work, cleared of an earlier run, marked while running,
and its summary.json written whatever happens.

* :func:`check_out_dir`: ``--out`` must be (or become) a writable folder, not one another live run is
  writing into; otherwise one InputError line, before the model loads. A run stopped before it starts (Ctrl-C
  while the model loads) leaves no folder it made (:func:`drop_unused_dirs`): nothing was run there.
* :func:`start_run`: removes the outputs of an earlier run in the same folder (and temporary files a
  killed run left), then writes summary.json with ``"status": "running"`` (refused while another live
  run on this machine has its marker there). A run that dies where Python
  cannot catch it (SIGKILL, power) leaves that marker: its outputs are visibly incomplete. The marker
  is padded, so that on a disk that fills up later the final summary can be written in its place.
* :func:`finish_run`: the final summary.json (``status`` from :func:`run_status`), atomically, or in
  place of the marker when the disk is full (cut to its essentials if even that does not fit).

A marker (a run's or a batch's) names its process by ID, host and, on Linux, the process's start time
(:func:`process_start`): a process that later got the same ID after the run died is not that run. A
marker without the start time (older ones, other systems) counts its ID alone.

Status of a run: ``complete`` (the whole source, every output), ``incomplete`` (it ran to its end but
the source ended early or an output is missing: ``problems`` says why), ``interrupted`` (a stop
signal), ``failed`` (an error), ``running`` (the marker: the run never finished), ``killed`` (a run that
left the marker, finished from its files by ``mpt-live --finish``: :mod:`mpt_live.finish`).
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .errors import InputError, OutputError
from .writers import is_disk_full, rewrite_json, write_json

# every file a run writes into its folder (what an earlier run's may have left)
SIDECAR = ".stabiliser-references.jsonl"  # each face's stabiliser reference, for --resume (mpt_live.references)
DAMAGED = SIDECAR + ".damaged"  # a SIDECAR a --resume found damaged or foreign, set aside (never read again)
# a run's files, cleared from its folder by the next run of any kind (the references too: a camera's run keeps none,
# and a --resume of a --realtime run's video would have restored another video's faces' references from them; and
# a file of them set aside, which no run reads: an earlier run's left stale beside the new run's outputs)
OUTPUTS = ("predictions.csv", "summary.json", "timeline.png", "annotated.mp4", "events.csv", "report.html",
           "review.webm", SIDECAR, DAMAGED)
SUMMARY = "summary.json"
BATCH_MARKER = ".mpt-batch.json"  # OUT/.mpt-batch.json: a batch (several videos) is writing below OUT
VIDEOS_CSV = "videos.csv"  # OUT/videos.csv: a batch's overview of its videos (mpt_live.overview)
FAILED = "failed.csv"  # OUT/failed.csv: the videos of a batch that have no outputs, and why (mpt_live.batch)
# videos.csv's columns (mpt_live.overview), the batch's event counts by class (events_<class>) before the last two;
# and failed.csv's: a folder's own file of either name (a dataset's index) is no batch's
VIDEOS_COLUMNS = ["video", "folder", "status", "reason", "duration_s", "frames", "face_share", "faces",
                  "windows_classified", "micro_events", "macro_events", "events_per_min", "model", "demo"]
FAILED_COLUMNS = ["video", "reason"]
RESERVE_BYTES = 64 * 1024  # the marker's size: room for the final summary on a disk that fills up
_TMP = re.compile(r"^\..+\.\d+\.\d+\.tmp(\.\w+)?$")  # writers.atomic_path's temporary names
_MADE: set[Path] = set()  # the folders check_out_dir created in this process (for drop_unused_dirs)


def check_out_dir(out: str | os.PathLike, option: str = "--out") -> Path:
    """Make sure ``out`` is a folder this process can write into (creating it); InputError otherwise."""
    if not str(out).strip():
        raise InputError(f"{option}: empty; give a folder (\".\" for the current one)")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{option} {out}: is a file, expected a folder")
    missing = [p for p in (out, *out.parents) if not p.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
        _MADE.update(Path(os.path.abspath(p)) for p in missing)
    except OSError as e:
        base = next((p for p in out.parents if p.exists()), None)
        where = f" under {base}" if base is not None else ""
        raise InputError(f"{option} {out}: cannot create the folder{where} ({e.strerror})") from None
    probe = out / f".write-test.{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise InputError(f"{option} {out}: cannot write into this folder ({e.strerror})") from None
    _check_not_in_use(out, option)
    _check_no_batch(out, option)
    return out


def drop_unused_dirs() -> list[Path]:
    """Remove the folders :func:`check_out_dir` created in this process that are still empty, deepest first, and
    return them: a run stopped before it started (Ctrl-C or SIGTERM while the model loads) leaves no ``--out`` it
    made, so it reads everywhere as a run never made (``mpt-eval spot``: no such run folder; a batch's rerun: a
    video not done; a batch's overview: a video not reached), not as an empty run folder. A folder that holds anything
    (a run's marker or outputs, an earlier run's) is kept, with those above it; one that existed before is never
    removed."""
    removed = []
    for p in sorted(_MADE, key=lambda p: len(p.parts), reverse=True):
        try:
            p.rmdir()  # only an empty folder
            removed.append(p)
        except OSError:
            pass
    _MADE.clear()
    return removed


def check_out_file(path: str | os.PathLike, option: str = "--out", example: str = "") -> Path:
    """Make sure ``path`` can be written as a file: not a folder (nor a name typed as one, ending in a slash: pass the
    option's value as typed, ``path_type=str``), its folder creatable and writable; InputError otherwise. ``example``:
    a file name to suggest inside a folder given."""
    if not str(path).strip():
        raise InputError(f"{option}: empty; give a file name")
    if example and str(path).endswith(("/", os.sep)):  # a folder meant: Path() would make it a file's name
        raise InputError(f"{option} {path}: a folder, expected a file name (e.g. {Path(path) / example})")
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{option} {path}: is a folder, expected a file name")
    check_out_dir(path.parent if str(path.parent) else ".", option=f"{option} {path}: its folder")
    return path


def check_not_input(out: str | os.PathLike, given: str | os.PathLike | None, what: str, option: str = "--out") -> None:
    """InputError when the file ``out`` would be written over ``given``, an input of the same command (``what``:
    e.g. "the checkpoint"), however either path is spelled: that input would be lost."""
    try:
        same = given is not None and Path(out).is_file() and os.path.samefile(out, given)
    except OSError:
        return
    if same:
        raise InputError(f"{option} {out}: is {what} this command reads ({given}); writing it would overwrite it, "
                         "give another file")


@contextmanager
def claim_batch(out: Path, facts: dict[str, Any] | None = None) -> Iterator[None]:
    """Mark ``out`` as the folder of this batch for the block (``facts``: what the batch knows at its start, its
    model's ``classes``, which a batch killed outright leaves there for ``mpt-live --finish``); InputError when
    another live batch on this machine holds it (two batches into one --out redid and deleted each other's videos,
    and each listed the other's as failed)."""
    from .outkind import check_one_kind  # which kind of --out: a module above this one (it reads the markers)

    out.mkdir(parents=True, exist_ok=True)
    _check_no_batch(out)
    check_one_kind(out, batch=True)
    marker = out / BATCH_MARKER
    write_json(marker, {"status": "running", **_claim(), **(facts or {})})
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)


def process_start(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks after boot (field 22 of Linux's /proc/PID/stat); None where
    that cannot be read (no such process, another system)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rindex(")") + 2:].split()[19])  # fields 3.. follow the command's ')'
    except (OSError, ValueError, IndexError):
        return None


def _claim() -> dict[str, Any]:
    """This process as a marker names it: ID, host and (where known) start time."""
    start = process_start(os.getpid())
    return {"pid": os.getpid(), "host": socket.gethostname(), **({"pid_start": start} if start is not None else {})}


def read_summary(folder: Path, name: str = SUMMARY) -> dict[str, Any] | None:
    """A run folder's summary.json (or ``name``) as a dict; None where it is missing, unreadable or not a JSON
    object (a run not reached yet, killed before it wrote one, a file edited by hand)."""
    try:
        s = json.loads((Path(folder) / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return s if isinstance(s, dict) else None


def is_run_summary(s: dict[str, Any] | None) -> bool:
    """Whether ``s`` (a folder's summary.json, :func:`read_summary`) is a run's: a status and the source it read
    (a finished run's, or the marker of one running or killed)."""
    return bool(s) and isinstance(s.get("status"), str) and "source" in s


def settings_of(summary: dict[str, Any]) -> dict[str, Any]:
    """What of a run's summary.json (or running marker) decides its rows: a batch's rerun skips a video whose finished
    run has the same (``mpt_live.batch.run_key``), ``--resume`` goes on only with the same (less the stretch)."""
    m = summary.get("model") or {}
    return {"model": [m.get("name"), m.get("backbone"), m.get("precision"), list(m.get("classes") or [])],
            "model_file": (summary.get("stamps") or {}).get("model"), "stride": summary.get("stride"),
            "detector": summary.get("detector"), "spot_threshold": summary.get("spot_threshold"),
            "max_faces": summary.get("max_faces"), "start_s": summary.get("start_s"),
            "max_seconds": summary.get("max_seconds")}


def recorded_source(name: str) -> str:
    """A run's source as its summary.json and running marker record it: a file's or frame folder's path made absolute
    (links kept, not followed: a linked video keeps the name it was given), so that a batch's overview and ``--finish``
    find the video whatever folder the run was started from; a camera or a URL as it is."""
    return os.path.abspath(name) if "://" not in name and Path(name).exists() else name


def _running_elsewhere(out: Path, name: str = SUMMARY, mine: bool = False) -> int | None:
    """The process ID of another live run on this machine whose ``running`` marker (``name``) is in ``out``
    (``mine``: this process's too), else None."""
    s = read_summary(out, name)
    try:
        pid = int(s["pid"]) if s and s.get("status") == "running" and s.get("host") == socket.gethostname() else 0
    except (ValueError, KeyError, TypeError):
        return None
    if pid <= 0 or (pid == os.getpid() and not mine):
        return None
    try:
        os.kill(pid, 0)  # no signal sent: only whether that process exists
    except ProcessLookupError:
        return None  # it died (killed): its marker is stale
    except PermissionError:
        pass  # another user's live process
    claimed, now = (s or {}).get("pid_start"), process_start(pid)
    if isinstance(claimed, int) and now is not None and now != claimed:
        return None  # that ID now names a later process: the run that claimed the folder died
    return pid


def run_in_use(out: Path) -> int | None:
    """The process ID of a live run on this machine writing into ``out`` (its ``running`` marker), else None."""
    return _running_elsewhere(out)


def batch_in_use(out: Path, mine: bool = False) -> int | None:
    """The process ID of a live batch on this machine writing below ``out`` (its batch marker; ``mine``: this
    process's batch too), else None."""
    return _running_elsewhere(out, BATCH_MARKER, mine)


def _check_no_batch(out: Path, option: str = "--out") -> None:
    pid = _running_elsewhere(out, BATCH_MARKER)
    if pid is not None:
        raise InputError(f"{option} {out}: another batch (process {pid}) is writing there; wait for it, choose "
                         f"another folder, or remove its {BATCH_MARKER} if no such run exists")


def _check_not_in_use(out: Path, option: str = "--out") -> None:
    pid = _running_elsewhere(out)
    if pid is not None:
        raise InputError(f"{option} {out}: another run (process {pid}) is writing there; wait for it, choose "
                         f"another folder, or remove its {SUMMARY} if no such run exists")


def start_run(out: Path, source: str, facts: dict[str, Any] | None = None, keep: bool = False) -> None:
    """Clear an earlier run's outputs from ``out`` and write the ``running`` marker (with ``facts`` known at the
    start: the model, provider, source fps, ..., which ``mpt-live --finish`` reads back if the run is killed);
    InputError when another live run on this machine is writing into ``out`` (two runs would mix their rows).
    ``keep`` (``--resume``): the earlier run's outputs stay (this run continues them); its temporary files go."""
    from .outkind import batch_files, check_input_kept, check_one_kind  # a module above this one (see claim_batch)

    out.mkdir(parents=True, exist_ok=True)
    _check_not_in_use(out)
    check_one_kind(out, batch=False)
    check_input_kept(out, source)
    if batch_files(out) == [BATCH_MARKER]:  # a stale one alone (check_one_kind): a batch killed as it started
        (out / BATCH_MARKER).unlink(missing_ok=True)
    for p in out.iterdir():
        if ((p.name in OUTPUTS and not keep) or _TMP.match(p.name)) and p.is_file():
            p.unlink()
    marker = {"status": "running", "source": recorded_source(source), **_claim(),
              "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "note": "written when the run started; replaced when it ends: a run that left this was killed "
                      "(mpt-live --finish DIR makes its plot, page and summary from its files)", **(facts or {})}
    try:
        write_json(out / SUMMARY, marker, reserve=RESERVE_BYTES)
    except OSError as e:
        if not is_disk_full(e):
            raise OutputError(f"{out / SUMMARY}: cannot be written ({e.strerror})") from None
        try:  # a nearly full disk: the marker unpadded (its block is still room for a small summary)
            write_json(out / SUMMARY, marker)
        except OSError as e2:
            raise OutputError(f"{out / SUMMARY}: cannot be written ({e2.strerror})") from None


def note_running(out: Path, facts: dict[str, Any]) -> None:
    """Add ``facts`` learnt while a run reads its source to its running marker, for ``mpt-live --finish`` of the
    run if it is killed (the source found damaged: the page then needs a copy of it). Best effort: a marker that
    cannot be rewritten (a full disk) stays as it was, whole (written atomically)."""
    marker = read_summary(out)
    if not marker or marker.get("status") != "running":
        return
    try:
        write_json(out / SUMMARY, {**marker, **facts}, reserve=RESERVE_BYTES)
    except OSError:
        pass


def run_status(summary: dict[str, Any]) -> tuple[str, list[str]]:
    """(status, problems) of a finished run's summary (see the module's docstring)."""
    problems: list[str] = []
    if summary.get("error"):
        problems.append(str(summary["error"]))
    if summary.get("interrupted"):
        problems.append(f"interrupted ({summary.get('stopped_by') or 'SIGINT'}): the outputs cover what was "
                        "processed before")
    if summary.get("source_error"):
        problems.append(str(summary["source_error"]))
    outputs = summary.get("outputs") or {}
    for name, err in (outputs.get("errors") or {}).items():
        problems.append(f"{name}: not written ({err})")
    if summary.get("error"):
        return "failed", problems
    if summary.get("interrupted"):
        return "interrupted", problems
    return ("incomplete" if problems else "complete"), problems


# what a summary cut to fit a full disk keeps: the run's status and reach, and what ``mpt-eval spot`` needs to put
# its events in the truth's frames (the source's rate, whether it was a frame folder, how many frames it holds)
ESSENTIALS = ("status", "problems", "warnings", "source", "mode", "frames_read", "frames_with_face", "windows",
              "windows_classified", "source_seconds", "seconds", "interrupted", "error", "outputs", "source_fps",
              "source_fps_assumed", "source_frames", "source_frame_count", "start_s", "frames_skipped", "max_seconds",
              "max_seconds_reached", "resumed_at_s")  # a stretch's facts: what mpt-eval spot scores it on


def finish_run(out: Path, summary: dict[str, Any]) -> None:
    """Write the final summary.json; on a full disk in place of the marker. OutputError if it cannot be."""
    path = out / SUMMARY
    try:
        write_json(path, summary)
        return
    except OSError as e:
        if not is_disk_full(e) or not path.is_file():
            raise OutputError(f"{path}: cannot be written ({e.strerror})") from None
        reason = e.strerror
    essentials = {k: summary.get(k) for k in ESSENTIALS}
    essentials["problems"] = [*(summary.get("problems") or []), f"{SUMMARY}: cut to its essentials ({reason})"]
    for data in (summary, essentials):
        try:
            rewrite_json(path, data)
            return
        except OSError:
            continue
    raise OutputError(f"{path}: cannot be written ({reason}); it still says \"running\"")
