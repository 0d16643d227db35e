"""MEGC spot-then-recognize scoring of spotted intervals against annotated long videos (torch-free).

Spotting (MEGC 2019-2024): per video and per expression type, a spotted interval is a true
positive when its IoU with a not-yet-matched ground-truth interval of that type is >= 0.5; frames
are inclusive (``IoU = |A n B| / |A u B|`` counted in frames); each ground truth is matched at most
once and each spotted interval counts once. Spotted intervals are taken in descending ``score``
(then by onset), each matched to the unmatched ground truth with the highest IoU. TP, FP = spotted
- TP and FN = truth - TP are pooled over all videos, then precision, recall and
``F1 = 2 TP / (2 TP + FP + FN)``. ``all`` pools the micro and macro counts.

Recognition (MEGC 2023 STR) is scored on the true positives only, pairs (true label, spotted
class), over the classes present in their true labels: per class precision, recall and F1;
``analysis_f1`` = harmonic mean of the macro (class-averaged) precision and macro recall; ``uf1`` =
mean per-class F1; ``uar`` = mean per-class recall. ``strs`` = spotting F1 x analysis F1. They are
``None`` when the run has no classes (motion-only) or the truth no labels.

Faces: where the truth names whose face each interval is (annotations.csv's ``face``: a video of two people), a video
is scored per face. Each of the run's face IDs (events.csv's ``face``: mpt-live's track IDs) is paired with one of the
truth's faces at most, to make the most true positives, a truth face with several run IDs not tracked at once (a track
lost and found again: :mod:`train.spot_faces`); each truth face is matched with its run faces' events as a video is.
Events with no face (a blank ``face``) are one face of their own, with a warning. A truth that names no face is scored
by video, the faces pooled.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Iterable, Sequence

from mpt_live.errors import InputError
from mpt_live.results import read_table
from mpt_live.rundir import read_summary
from mpt_live.spotting import EVENT_COLUMNS

from .datasets.longvideo import TYPES, Interval, LongVideoIndex, normalise_type
from .datasets.sheets import first_of
from .run_state import failed_videos, not_reached, run_problem, run_tree, unfinished_line, with_failed, without_events
from .spot_faces import BY_SPANS, FACE_PAIRING, RunFolders, face_groups, face_id, run_times
from .spot_frames import at_other_rate, in_truth_frames, run_fps, same_rate, unsure_rate, video_frames
from .spot_videos import AmbiguousVideo, find_event_files, folder_video, resolver, run_resolver

IOU_THRESHOLD = 0.5
REQUIRED = ("video", "onset_frame", "offset_frame", "type")


@dataclass(frozen=True)
class Spotted:
    """One spotted interval of a run (0-based frame indices, inclusive)."""

    video: str
    onset: int
    offset: int
    type: str
    cls: str = ""
    score: float = 0.0
    apex: int | None = None
    face: str = ""
    onset_s: float | None = None  # the seconds of onset, apex and offset (mpt-live's events.csv has them)
    apex_s: float | None = None
    offset_s: float | None = None


SUBSET = "; if the truth annotates only some of the run's videos, give their folders as --runs (repeat it)"


def iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    """IoU of two inclusive frame intervals (onset, offset)."""
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    if inter <= 0:
        return 0.0
    return inter / ((a[1] - a[0] + 1) + (b[1] - b[0] + 1) - inter)


def match(truth: Sequence[Interval], spotted: Sequence[Spotted],
          threshold: float = IOU_THRESHOLD) -> list[tuple[int, int | None, float]]:
    """(spotted index, matched truth index or None, IoU) for every spotted interval, MEGC rule."""
    order = sorted(range(len(spotted)), key=lambda i: (-spotted[i].score, spotted[i].onset, spotted[i].offset))
    used: set[int] = set()
    out = []
    for i in order:
        s = spotted[i]
        best, best_iou = None, 0.0
        for j, t in enumerate(truth):
            if j in used:
                continue
            v = iou((s.onset, s.offset), (t.onset, t.offset))
            if v > best_iou:
                best, best_iou = j, v
        if best is not None and best_iou >= threshold:
            used.add(best)
            out.append((i, best, best_iou))
        else:
            out.append((i, None, best_iou))
    return sorted(out)


def spotting_counts(tp: int, n_spotted: int, n_truth: int) -> dict[str, Any]:
    """tp/fp/fn, precision, recall and F1 from pooled counts (0 where undefined)."""
    fp, fn = n_spotted - tp, n_truth - tp
    return {"tp": tp, "fp": fp, "fn": fn, "n_spotted": n_spotted, "n_truth": n_truth,
            "precision": tp / n_spotted if n_spotted else 0.0,
            "recall": tp / n_truth if n_truth else 0.0,
            "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0}


def recognition(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Analysis F1, UF1, UAR of (true label, spotted class) pairs; None values when undefined."""
    pairs = list(pairs)
    none = {"analysis_f1": None, "uf1": None, "uar": None, "macro_precision": None, "macro_recall": None,
            "per_class": {}}
    if not pairs or any(not t for t, _ in pairs) or all(not p for _, p in pairs):
        return none
    spelling = {t.casefold(): t for t, _ in pairs}  # "Surprise" in a run is the truth's "surprise"
    pairs = [(t, spelling.get(p.casefold(), p)) for t, p in pairs]
    classes = sorted({t for t, _ in pairs})
    per = {}
    for c in classes:
        tp = sum(1 for t, p in pairs if t == c and p == c)
        n_pred = sum(1 for _, p in pairs if p == c)
        n_true = sum(1 for t, _ in pairs if t == c)
        per[c] = {"tp": tp, "n_true": n_true, "n_predicted": n_pred,
                  "precision": tp / n_pred if n_pred else 0.0, "recall": tp / n_true,
                  "f1": 2 * tp / (n_pred + n_true)}
    p = sum(v["precision"] for v in per.values()) / len(per)
    r = sum(v["recall"] for v in per.values()) / len(per)
    return {"analysis_f1": 2 * p * r / (p + r) if p + r else 0.0,
            "uf1": sum(v["f1"] for v in per.values()) / len(per), "uar": r,
            "macro_precision": p, "macro_recall": r, "per_class": per}


def _hit(iv: Interval, s: Spotted, threshold: float) -> bool:
    return iv.type == s.type and iou((s.onset, s.offset), (iv.onset, iv.offset)) >= threshold


def score(truth: LongVideoIndex, spotted: dict[str, list[Spotted]], kind: str = "all",
          threshold: float = IOU_THRESHOLD, folders: RunFolders | None = None) -> dict[str, Any]:
    """Score a run: ``spotted`` maps each truth video name to its spotted intervals.

    Returns the headline figures of ``kind`` (micro, macro or all) at the top level, and
    ``by_type`` (micro, macro, all) and ``videos`` (per-video counts) beside them; where the truth names faces,
    ``face_pairs`` ({video: {run face: truth face}}) and ``face_pairing`` (the rule) too, its faces' times from its
    run folder's predictions.csv (``folders``: video -> (folder, rate): :func:`.spot_faces.run_times`).
    """
    if kind not in (*TYPES, "all"):
        raise InputError(f"--type {kind}: expected micro, macro or all")
    counts = {t: [0, 0, 0] for t in TYPES}  # tp, spotted, truth
    pairs: dict[str, list[tuple[str, str]]] = {t: [] for t in TYPES}
    videos: dict[str, dict[str, Any]] = {}
    faces: dict[str, dict[str, str]] = {}
    by_spans: list[str] = []  # videos whose run faces' times are their events' (no predictions.csv with faces)
    for v in truth.videos:
        per_video = {t: {"tp": 0, "fp": 0, "fn": 0} for t in TYPES}
        seen = run_times(v, found_v := spotted.get(v.name, []), folders, by_spans)
        for truth_part, found in face_groups(v, found_v, partial(_hit, threshold=threshold), faces, seen):
            for t in TYPES:
                gt = [iv for iv in truth_part if iv.type == t]
                sp = [s for s in found if s.type == t]
                tp = [(i, j) for i, j, _ in match(gt, sp, threshold) if j is not None]
                counts[t][0] += len(tp)
                counts[t][1] += len(sp)
                counts[t][2] += len(gt)
                pairs[t] += [(gt[j].label, sp[i].cls) for i, j in tp]
                for k, n in (("tp", len(tp)), ("fp", len(sp) - len(tp)), ("fn", len(gt) - len(tp))):
                    per_video[t][k] += n
        videos[v.name] = per_video
    by_type: dict[str, dict[str, Any]] = {}
    for t in (*TYPES, "all"):
        ts = TYPES if t == "all" else (t,)
        c = spotting_counts(*(sum(counts[x][k] for x in ts) for k in range(3)))
        rec = recognition(p for x in ts for p in pairs[x])
        c.update(rec)
        c["strs"] = c["f1"] * rec["analysis_f1"] if rec["analysis_f1"] is not None else None
        by_type[t] = c
    labels = {iv.label.casefold() for v in truth.videos for iv in v.intervals if iv.label}
    foreign = sorted({s.cls for f in spotted.values() for s in f if s.cls and s.cls.casefold() not in labels})
    warnings = [f"the runs' classes {', '.join(foreign)} are not labels of the truth "
                f"({', '.join(sorted(labels)) or 'none'}): their true positives count as misrecognised"] \
        if foreign and labels else []
    warnings += one_type(truth, spotted, kind)
    warnings += [f"{len(by_spans)} {BY_SPANS}: {first_of(by_spans)}"] if by_spans else []
    blank = [v.name for v in truth.videos
             if v.name in faces and any(not face_id(s.face) for s in spotted.get(v.name, []))]
    if blank:  # a run of an older version or another tool: whose face it is, it does not say
        warnings.append(f"{len(blank)} video(s) whose truth names faces have events with no face (events.csv's face "
                        f"blank: a run of another tool or an older version): those events scored as one face of their "
                        f"own, paired with one truth face at most (a single-face run's: the other faces' intervals missed): "
                        f"{first_of(blank)}")
    by_face = {"face_pairs": faces, "face_pairing": FACE_PAIRING} if faces else {}
    return {"type": kind, **{k: v for k, v in by_type[kind].items() if k != "per_class"},
            "iou_threshold": threshold, "by_type": by_type, "videos": videos, **by_face, "warnings": warnings}


def one_type(truth: LongVideoIndex, spotted: dict[str, list[Spotted]], kind: str) -> list[str]:
    """A warning where the truth annotates one type only (a sheet of macro-expressions) and the runs' events of the
    other count in the headline ``kind`` (``all``, or that other type): all false, as MEGC pools them."""
    have = {iv.type for v in truth.videos for iv in v.intervals}
    if len(have) != 1:
        return []
    only, other = next(iter(have)), next(t for t in TYPES if t not in have)
    n = sum(s.type == other for f in spotted.values() for s in f)
    if not n or kind not in ("all", other):
        return []
    return [(f"the truth annotates {only} intervals only: the runs' {n} {other} event(s) count as false positives in "
             f"the {kind!r} figures (--type {only} scores the {only} events alone)")]


# ---------------------------------------------------------------- reading runs
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
              unreached: dict[str, dict[str, int] | None] | None = None) -> dict[str, list[Spotted]]:
    """Spotted intervals per truth video from the ``events.csv`` files under ``runs``.

    A file's video is its rows' ``video`` value, or, when it has no rows, what its folder names
    (:func:`.spot_videos.folder_video`), matched to the truth's by the most specific name (:func:`.spot_videos.resolver`:
    one two truth videos fit alike is an error). Every file must belong to a truth video: one line of error otherwise.
    A truth video without a file (a partial run) is not in the result, so :func:`score` counts its truth as missed, as the MEGC
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
    nothing says how far it read). ``folders`` gets each video's run folder and rate if placed (:func:`score` uses it).
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
    reach: dict[str, tuple[Path, dict, bool]] = {}  # how far each run read: its folder, summary, events placed?
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
                                     f"beside it names a truth video ({len(truth.videos)} videos, e.g. "
                                     f"{truth.videos[0].name}){SUBSET}")
                bad = next(s.video for s in rows if res(s.video) is None)
                raise InputError(f"{f}: video {bad!r} is not in the truth ({len(truth.videos)} videos, "
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
        after = {n: not_reached(videos[n], [s.offset for s in out.get(n, [])], *reach[n]) if n in reach else None
                 for n in problems}
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
