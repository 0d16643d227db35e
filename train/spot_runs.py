"""The spotted intervals of ``mpt-live`` runs, per truth video, for ``mpt-eval spot`` (torch-free): each events.csv
read (:func:`read_events`), matched to its truth video, placed in the truth's frames where its run's are not, with one
note per thing the scoring should know of (a run that stopped, a recording the copy drops, a video not run), and the
stretch of its video each run covered (:func:`train.spot_stretch.stretches`). Scored by :func:`train.spot_metrics.score`.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Sequence

from mpt_live.errors import InputError, counted
from mpt_live.results import read_table
from mpt_live.rundir import read_summary
from mpt_live.spotting import EVENT_COLUMNS

from .datasets.longvideo import LongVideoIndex, normalise_type
from .datasets.sheets import first_of
from .run_state import failed_videos, not_reached, run_problem, run_tree, unfinished_line, with_failed, without_events
from .spot_faces import RunFolders
from .spot_frames import at_other_rate, in_truth_frames, run_fps, same_rate, unsure_rate, video_frames
from .spot_metrics import Spotted
from .spot_stretch import Reach, stretches
from .spot_videos import AmbiguousVideo, find_event_files, folder_video, resolver, run_resolver

REQUIRED = ("video", "onset_frame", "offset_frame", "type")
SUBSET = "; if the truth annotates only some of the run's videos, give their folders as --runs (repeat it)"


def _int(v: str, what: str, where: str) -> int:
    try:
        f = float(v)
    except ValueError:
        raise InputError(f"{where}: {what} {v!r} is not a frame number") from None
    if not f.is_integer():
        raise InputError(f"{where}: {what} {v!r} is not a whole frame number")
    return int(f)


def _seconds(v: str | None) -> float | None:
    try:
        t = float(v) if v else None
    except ValueError:
        return None
    return t if t is not None and math.isfinite(t) else None


def read_events(path: Path, whole_lines: bool = False) -> list[Spotted]:
    """The spotted intervals of one ``events.csv`` (columns: see ``mpt_live.spotting.EVENT_COLUMNS``), read by
    mpt-live's own reader (a byte-order mark no part of the first column's name); ``whole_lines``: a last line
    without its line end is left out (a run that did not finish: a row a kill cut short)."""
    try:
        fields, rows = read_table(path, whole_lines=whole_lines)
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"{path}: not a CSV file of text ({e})") from None
    missing = [c for c in REQUIRED if c not in fields]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)} "
                         f"(expected {', '.join(EVENT_COLUMNS)})")
    out = []
    for line, row in enumerate(rows, start=2):
        where = f"{path} line {line}"
        kind = normalise_type(row["type"] or "")
        if kind is None:
            raise InputError(f"{where}: type {row['type']!r} is not micro or macro")
        on = _int(row["onset_frame"], "onset_frame", where)
        off = _int(row["offset_frame"], "offset_frame", where)
        if off < on:
            raise InputError(f"{where}: offset_frame {off} < onset_frame {on}")
        apex = row.get("apex_frame") or ""
        sc = row.get("score") or ""
        try:
            score_v = float(sc) if sc else 0.0
        except ValueError:
            raise InputError(f"{where}: score {sc!r} is not a number") from None
        out.append(Spotted(row["video"], on, off, kind, (row.get("class") or "").strip(), score_v,
                           _int(apex, "apex_frame", where) if apex else None, row.get("face") or "",
                           *(_seconds(row.get(f"{k}_s")) for k in ("onset", "apex", "offset"))))
    return out


def read_runs(runs: Sequence[Path], truth: LongVideoIndex, notes: list[str] | None = None,
              gone: dict[str, str] | None = None,
              unfinished: dict[str, tuple[str, str]] | None = None, folders: RunFolders | None = None,
              unreached: dict[str, dict[str, int] | None] | None = None,
              spans: dict[str, dict[str, Any]] | None = None) -> dict[str, list[Spotted]]:
    """Spotted intervals per truth video from the ``events.csv`` files under ``runs``.

    A file's video is its rows' ``video`` value, or, when it has no rows, what its folder names
    (:func:`.spot_videos.folder_video`), matched to the truth's by the most specific name (:func:`.spot_videos.resolver`:
    one two truth videos fit alike is an error). Every file must belong to a truth video: one line of error otherwise.
    A truth video without a file (a partial run) is not in the result, so :func:`train.spot_metrics.score` counts its truth as missed, as the MEGC
    protocol scores the whole set: one line in ``notes`` names those videos (without ``notes``, an error). A run of a copy at another frame rate than the truth's (a 25 or 60 fps
    re-encode), or of a variable-rate copy, has its events placed in the truth's frames by their seconds
    (:mod:`train.spot_frames`), one line in ``notes`` saying so. A file of a recording this copy of the dataset drops
    from the truth (``truth.left_out``: its frame folder empty, its video unreadable, the copy lacking it) is not
    scored: one line in ``notes`` names those recordings and why, and ``gone`` gets them (name -> why; without
    ``notes``, an error). A run that failed, was stopped or is incomplete (its summary.json; a batch's failed.csv:
    :mod:`train.run_state`) is scored as it is, one line in ``notes`` naming it with its reason, and ``unfinished``
    gets it (name -> (``failed`` | ``incomplete``, reason)); without ``notes``, a stopped run is an error. The line
    counts the truth intervals after the last frame such a run read (:func:`train.run_state.not_reached`: its
    summary.json, predictions.csv or last event, also of a run folder without an events.csv), missed by the run rather
    than the spotter, and ``unreached`` gets them (name -> ``last_frame_read``, ``truth_intervals_after``; None where
    nothing says how far it read). ``folders`` gets each video's run folder and rate if placed (:func:`train.spot_metrics.score` uses it).
    ``spans`` gets the stretch of its video each run covered where that is part of it only (``--start``,
    ``--max-seconds``, stopped by its user: :func:`train.spot_stretch.stretches`), the truth outside it to be left out
    (:func:`train.spot_stretch.scored_truth`); the same runs' ``unreached`` entries say ``left_out``.
    """
    resolve = resolver(truth.videos)
    dropped = resolver(truth.left_out)
    why_gone = {g.name: g.reason for g in truth.left_out}
    run_gone: dict[str, Path] = {}  # recordings dropped from the truth -> the events.csv of their run
    problems: dict[str, tuple[str, str]] = {}  # truth videos whose run failed or is incomplete -> (kind, reason)
    complete: set[str] = set()  # truth videos whose run says it is complete (a failed.csv naming them is older)
    rates = {v.name: v.fps for v in truth.videos}
    videos = {v.name: v for v in truth.videos}
    lengths = {v.name: len(v.frames) for v in truth.videos if v.frames}  # frame folders: their image count

    def held(name: str, summary: dict) -> int | None:  # the truth recording's frame count, where a run's rate asks
        if name not in lengths and (fps := run_fps(summary)) is not None and not same_rate(fps, rates[name]):
            lengths[name] = video_frames(videos[name].video)  # a video's header, read once
        return lengths.get(name)

    out: dict[str, list[Spotted]] = {}
    source: dict[str, Path] = {}  # the events.csv each video's events come from
    reach: dict[str, Reach] = {}  # how far each run read: its folder, summary, events placed?
    trees = [(Path(run), run_tree(run)) for run in runs]  # each run folder walked once, for every file read below
    read: set[Path] = set()  # an events.csv two --runs reach (a batch's folder and its video's): read once
    for run, tree in trees:
        for f in find_event_files(run, notes is not None, tree):
            if f.resolve() in read:
                continue
            read.add(f.resolve())
            summary = read_summary(f.parent) or {}  # read once: finished?, its video, its frames
            problem = run_problem(summary)
            if problem is not None and problem[0] == "failed" and notes is None:
                raise InputError(f"{f}: from a run that did not finish (summary.json: status {problem[1]}); its events "
                                 "cover only part of the video: run it again")
            rows = read_events(f, whole_lines=summary.get("status") != "complete")
            res = run_resolver(resolve, f.parent, run, summary)  # a file name two truth videos share: its folder says
            try:
                names = {res(s.video) for s in rows} if rows else {folder_video(f.parent, run, resolve, summary)}
                left = {dropped(s.video) for s in rows if res(s.video) is None} if rows else \
                    {folder_video(f.parent, run, dropped, summary)} if None in names else set()
            except AmbiguousVideo as e:
                raise InputError(f"{f}: {e}") from None
            if None in names and None not in left:  # only recordings this copy drops: named below, not scored
                run_gone.update((name, f) for name in left)
                names.discard(None)
            if None in names:
                if not rows:  # nothing in the file says which video it is
                    raise InputError(f"{f}: no events, and neither its folder ({f.parent.name!r}) nor a summary.json "
                                     f"beside it names a truth video ({counted(len(truth.videos), 'video')}, e.g. "
                                     f"{truth.videos[0].name}){SUBSET}")
                bad = next(s.video for s in rows if res(s.video) is None)
                raise InputError(f"{f}: video {bad!r} is not in the truth ({counted(len(truth.videos), 'video')}, "
                                 f"e.g. {truth.videos[0].name}){SUBSET}")
            for name in names:
                if name in source and source[name] != f:  # two runs of one video: pooled, each would count
                    raise InputError(f"{f}: events of {name}, which {source[name]} already has: score each run "
                                     "of a video on its own (one --runs per mpt-eval)")
                source[name] = f
                out.setdefault(name, [])
                if problem is not None:
                    problems[name] = problem
                elif summary.get("status") == "complete":
                    complete.add(name)
            for name in names:
                placed, why = in_truth_frames([s for s in rows if res(s.video) == name], f.parent, rates[name],
                                              summary, held(name, summary), notes)
                out[name] += placed
                if folders is not None:  # its predictions.csv: when each face was tracked (:func:`score`), in the
                    folders[name] = (f.parent, run_fps(summary) if why else None)  # frames its events are placed in
                # events placed by their seconds, or none to say so of a run at another rate: how far it read too
                reach[name] = (f.parent, summary, why is not None or (not placed and at_other_rate(
                    summary, rates[name], held(name, summary))))
                if why and notes is not None:
                    notes.append(f"{f}: {why}; {name} is coded at {rates[name]:g} fps: its events placed in the "
                                 "truth's frames by their seconds")
                elif notes is not None and (unsure := unsure_rate(summary, rates[name], held(name, summary),
                                                                  videos[name].video)):
                    notes.append(f"{f}: {unsure}")
    if run_gone and notes is None:
        name, f = next(iter(run_gone.items()))
        raise InputError(f"{f}: events of {name}, which this copy of the dataset drops from the truth ({why_gone[name]})")
    if run_gone:
        notes.append(f"{len(run_gone)} run recording(s) dropped from the truth by this copy of the dataset, their events "
                     f"not scored: {first_of([f'{n} ({why_gone[n]})' for n in run_gone], 3)}")
        if gone is not None:
            gone.update((n, why_gone[n]) for n in run_gone)
    missing = [v.name for v in truth.videos if v.name not in out]
    covered = stretches(truth, reach, out)  # runs of part of their video: the truth outside them left out
    if spans is not None:
        spans.update(covered)
    if notes is not None:
        for run, folder, summary in without_events(trees):  # a run that stopped before it wrote an events.csv
            name, problem = folder_video(folder, run, resolve, summary), run_problem(summary)
            if name is not None and name not in out and problem is not None:
                problems[name] = problem
                reach.setdefault(name, (folder, summary, at_other_rate(summary, rates[name], held(name, summary))))
        try:
            listed = failed_videos([tree for _, tree in trees], resolve)
        except AmbiguousVideo as e:
            raise InputError(f"a failed.csv in {', '.join(str(r) for r in runs)}: {e}") from None
        for name, why in listed.items():  # the batches' failed.csv: not run since
            if name not in complete:
                problems[name] = with_failed(problems.get(name), why)
        after = {n: not_reached(videos[n], [s.offset for s in out.get(n, [])], *reach[n],
                             covered[n]["last_frame"] if n in covered else None)
                 if n in reach else None for n in problems}
        notes += unfinished_line(dict(sorted(problems.items())), set(missing), after)
        if unreached is not None:
            unreached.update(sorted(after.items()))
        if unfinished is not None:
            unfinished.update(problems)
    if missing and notes is not None:
        n = sum(len(v.intervals) for v in truth.videos if v.name not in out)
        notes.append(f"{len(missing)} of {len(truth.videos)} truth videos not run (no events.csv for them in "
                     f"{', '.join(str(r) for r in runs)}): their {n} annotated interval(s) count as missed: "
                     f"{first_of(missing)}")
    elif missing:
        raise InputError(f"{', '.join(str(r) for r in runs)}: no events.csv for {len(missing)} of "
                         f"{len(truth.videos)} truth videos (e.g. {missing[0]})")
    return out
