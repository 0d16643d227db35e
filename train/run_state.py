"""Runs that did not cover their whole video, for ``mpt-eval spot``: a summary.json's status, a batch's failed.csv.

``mpt-live`` marks each run's summary.json (:mod:`mpt_live.rundir`): ``complete``; ``incomplete`` (it ran to its end,
but its video ended early or an output is missing: ``problems`` says why); ``failed``, ``interrupted``, ``killed`` or
still ``running`` (it stopped part-way). A batch (``mpt-live --video DIR``) lists the videos that failed in
``OUT/failed.csv`` (:mod:`mpt_live.batch`), one that did not open having no folder of its own. Such a run's events are
scored as they are, the truth past where it stopped counting as missed, as the MEGC protocol scores the whole set;
:func:`unfinished_line` names them once, so that a figure over half-processed videos is not reported unknowingly.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from mpt_live.overview import FAILED, read_failed
from mpt_live.rundir import SUMMARY, read_summary

from .datasets.longvideo import LongVideo
from .datasets.sheets import first_of
from .spot_frames import last_read

STOPPED = {"running": "killed before it ended, or still running", "interrupted": "stopped by a signal",
           "failed": "stopped by an error", "killed": "killed outright, finished from its files by --finish"}
INCOMPLETE = "incomplete"  # ran to its end; its video ended early or an output is missing


def run_problem(summary: dict) -> tuple[str, str] | None:
    """(kind, reason) of a run whose summary.json ``summary`` says it did not cover its whole video, or missed an
    output: kind ``failed`` (a stopped run: :data:`STOPPED`) or ``incomplete``; None for a complete run, or one
    without a summary (an events.csv alone is taken as it is)."""
    status = summary.get("status")
    if status not in STOPPED and status != INCOMPLETE:
        return None
    problems = [str(p) for p in summary.get("problems") or [] if p]
    error = summary.get("error")
    if error and str(error) not in problems:
        problems.insert(0, str(error))
    said = STOPPED.get(status, "")
    reason = f"{status}: " + "; ".join([said] * bool(said) + problems) if said or problems else str(status)
    return ("failed" if status in STOPPED else INCOMPLETE), reason


RUN_FILES = ("events.csv", SUMMARY, FAILED)  # what mpt-eval spot reads of a run folder
RunTree = dict[str, list[Path]]  # each of RUN_FILES -> where it is in one run folder (run_tree)


def run_tree(run: Path, names: Sequence[str] = RUN_FILES) -> RunTree:
    """Each of ``names`` (events.csv, summary.json, failed.csv) -> the files of that name in run folder ``run`` and in
    its video folders, up to 3 levels down (a batch of frame folders mirrors the dataset's layout), sorted; all found
    in one walk of the folder (a batch's holds a folder per video), none where ``run`` is no folder."""
    run = Path(run)
    found: RunTree = {name: [] for name in names}
    if not run.is_dir():
        return found
    top = len(run.parts)
    for folder, dirs, files in os.walk(run, followlinks=True):  # links followed, as a glob's '*/' does
        here = Path(folder)
        if len(here.parts) - top >= 3:
            dirs.clear()
        for name in names:
            if name in files and (here / name).is_file():
                found[name].append(here / name)
    return {name: sorted(paths) for name, paths in found.items()}


def failed_videos(trees: Sequence[RunTree], resolve: Callable[[str], str | None]) -> dict[str, str]:
    """Truth video -> reason, of the rows of the batches' ``failed.csv`` in the run folders walked (``trees``:
    :func:`run_tree`) whose video is a truth video (``resolve``)."""
    out: dict[str, str] = {}
    for tree in trees:
        for folder in (f.parent for f in tree[FAILED]):
            for video, reason in read_failed(folder):
                name = resolve(str(video))
                if name is not None:
                    out.setdefault(name, reason)
    return out


def with_failed(problem: tuple[str, str] | None, listed: str) -> tuple[str, str]:
    """The problem of a video a batch's failed.csv lists with reason ``listed``, beside its run's own ``problem`` (its
    summary.json's, None without one): failed, both reasons said once."""
    said = problem[1] if problem is not None else ""
    if listed and listed in said:
        return "failed", said
    return "failed", "; ".join(r for r in (said, f"in {FAILED}: {listed or 'failed'}") if r)


def without_events(runs: Sequence[tuple[Path, RunTree]]) -> list[tuple[Path, Path, dict]]:
    """(run, folder, summary) of the folders of ``runs`` (each run with its :func:`run_tree`) holding a run's
    summary.json but no events.csv: a run that stopped before it wrote one (it failed as it began), which says how
    far it read."""
    out = []
    for run, tree in runs:
        events = {f.parent for f in tree["events.csv"]}
        found = (f.parent for f in tree[SUMMARY])
        for folder in (f for f in found if f not in events):  # the others: read with their events
            summary = read_summary(folder)
            if summary and "status" in summary:
                out.append((Path(run), folder, summary))
    return out


def not_reached(video: LongVideo, offsets: Sequence[int], folder: Path, summary: dict, converted: bool,
                stretch_end: int | None = None) -> dict[str, int] | None:
    """The last frame of truth ``video`` its run read (:func:`train.spot_frames.last_read` of its ``folder`` and
    ``summary``; ``converted``: its frames are not the truth's, counted by seconds; or the latest of its events'
    ``offsets`` where that is later; -1: it read nothing) and the count of truth intervals whose onset lies after it;
    None where nothing says how far it read. ``left_out`` (True, else absent): the run is scored on a stretch that ends
    where it stopped reading (``stretch_end``, its last frame, from :func:`train.spot_stretch.stretches`, the one place
    that decides so; a failed run's goes on to the end asked for): those intervals are not scored, not missed."""
    last = last_read(folder, summary, video.fps, converted)
    last = max([*offsets] + ([last] if last is not None else []), default=None)
    if last is None:
        return None
    left = stretch_end is not None and stretch_end <= last
    # a failed run's stretch goes on past where it stopped: the truth after it up to the stretch's end is missed, the
    # truth beyond that left out (said by the stretch's own line)
    end = math.inf if stretch_end is None or left else stretch_end
    return {"last_frame_read": last, "truth_intervals_after": sum(last < iv.onset <= end for iv in video.intervals),
            **({"left_out": True} if left else {})}


def unfinished_line(problems: dict[str, tuple[str, str]], not_run: set[str],
                    after: dict[str, dict[str, int] | None] | None = None) -> list[str]:
    """The one warning naming the truth videos whose run failed or is incomplete (name -> (kind, reason)); none
    where there are none. ``not_run``: those of them without an events.csv (a video that did not open). ``after``:
    name -> the last truth frame its run read and the truth intervals after it (missed by the run, not the spotter),
    None where nothing says how far it read (:func:`not_reached`)."""
    if not problems:
        return []
    after = after or {}

    def reach(n: str) -> str:
        if n not in after:
            return ""
        if (a := after[n]) is None:
            return "; how far its run read is not known (no summary.json, predictions.csv or event of it says)"
        last = a["last_frame_read"]
        read = f"read to frame {last} of the truth" if last >= 0 else "read no frame of the truth"
        return f"; {read}, {a['truth_intervals_after']} truth interval(s) after it" + (
            ", left out: scored to where it stopped" if a.get("left_out") else "")
    named = [f"{n} ({why}{'; no events.csv' if n in not_run else ''}{reach(n)})" for n, (_, why) in problems.items()]
    known = [a for a in after.values() if a is not None and not a.get("left_out")]
    total = sum(a["truth_intervals_after"] for a in known)
    unread = (f"; {total} truth interval(s) lie after where their run stopped, missed by the run, not the spotter "
              "('not_reached' in the JSON)") if known else ""
    stopped = ("; a run its user stopped (Ctrl-C, a kill) is scored to where it stopped, the truth after it left out"
               if any(a is not None and a.get("left_out") for a in after.values()) else "")
    return [(f"{len(problems)} truth video(s) whose run failed or is incomplete, scored as they are (what a run did "
             f"not read counts as missed{unread}{stopped}; 'failed' and 'incomplete' in the JSON): "
             f"{first_of(named, 3)}")]
