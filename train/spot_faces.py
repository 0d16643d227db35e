"""Whose face: a run's face IDs paired with the faces a truth names, to score a video of several people per face.

mpt-live numbers the faces of a video by their tracks (events.csv's ``face``: 0, 1, ...); a truth names them as its
annotator did (annotations.csv's ``face``: ``0``, ``anna``). Each of the run's faces is paired with at most one of the
truth's, to make the most true positives, as an identity metric pairs tracks with people (IDF1): whatever the IDs, each
person's events are scored against that person's intervals, and another's movement at the same time is no hit. Unlike
IDF1, a truth face may take several run faces that were not tracked at the same time (their first to last frames in
the run's predictions.csv, :func:`presence`; where a run has none, their events' first onset to last offset): a person
whose track was lost and found again has a second track ID, and that fragment's events are the person's, not false
(spotting is scored here, not tracking; two tracks seen at once are two people). A truth interval counts once, however
many of its face's IDs hit it. Of pairings that make as many true positives, the one of the most equal IDs. A run face
paired with none (a third face, a poster) has its events counted false; a truth face paired with none its intervals
missed.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from scipy import sparse

from mpt_live.results import open_table

from .datasets.longvideo import Interval, LongVideo

RunFolders = dict[str, tuple[Path, float | None]]  # video -> run folder, its rate where its events were placed
Hit = Callable[[Interval, Any], bool]  # does a run's event match a truth interval (its type, IoU >= the threshold)

FACE_PAIRING = ("per face: each run face ID paired with at most one truth face to make the most true positives (a "
                "truth interval hit by several of its face's IDs counts once); a truth face takes several run IDs "
                "only where they were not tracked at the same time (predictions.csv's first and last time of each; "
                "without it, their events' spans): one person's track lost and found again; ties: equal IDs; an "
                "unpaired run face's events false, an unpaired truth face's missed")


BY_SPANS = ("video(s) whose run has no predictions.csv with a face_id column: whether two run face IDs were seen at "
            "once judged by their events' spans")


def face_id(v: str) -> str:
    """A face as written in a sheet or events.csv (``1``, ``1.0``, `` 1 ``), spelled one way."""
    t = (v or "").strip()
    try:
        f = float(t)
    except ValueError:
        return t
    return str(int(f)) if f.is_integer() else t


def spans(spotted: Sequence[Any]) -> dict[str, tuple[int, int]]:
    """{run face: (its first event's onset, its last event's offset)}: where in the video its track had events."""
    out: dict[str, tuple[int, int]] = {}
    for s in spotted:
        widen(out, face_id(s.face), s.onset, s.offset)
    return out


def widen(out: dict[str, tuple[int, int]], face: str, first: int, last: int) -> None:
    """``out[face]`` (its first and last frame) widened to take in ``first`` .. ``last``."""
    on, off = out.get(face, (first, last))
    out[face] = (min(on, first), max(off, last))


def presence(folder: Path, fps: float, rate: float | None = None) -> dict[str, tuple[int, int]] | None:
    """{run face: (the first frame, the last frame) it was tracked}, from the run's predictions.csv in ``folder``
    (``face_id``), read a row at a time, in the frames its events are scored in: its own frame numbers (``frame``;
    without that column, ``time_s`` at ``fps``) where they are the truth's; where its events were placed in the
    truth's frames by their seconds (``rate``: the run's own frame rate, :func:`.spot_frames.in_truth_frames`), its
    seconds from its first row's at the truth's ``fps`` (without ``time_s``, ``frame`` x ``fps`` / ``rate``: a 60 fps
    copy's frame 40 is a 30 fps truth's 20). None where the file is missing, unreadable or has no face column (an
    older run or another tool's)."""
    try:
        with open_table(folder / "predictions.csv", whole_lines=True) as (fields, rows):
            if "face_id" not in fields or not {"time_s", "frame"} & set(fields):
                return None
            by_time = "time_s" in fields and (rate is not None or "frame" not in fields)
            out: dict[str, tuple[int, int]] = {}
            t0 = None  # the first row's time: the run's seconds count from it, as its placed events' do
            for row in rows:
                try:
                    if by_time:
                        t = float(row.get("time_s") or "")
                        t0 = t if t0 is None and math.isfinite(t) else t0
                        at = round((t - (t0 or 0.0)) * fps)
                    else:
                        at = round(float(row.get("frame") or "") * (fps / rate if rate else 1.0))
                except (ValueError, OverflowError):
                    continue  # a row without a time: no presence to add
                if f := face_id(row.get("face_id") or ""):
                    widen(out, f, at, at)
            return out
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


def run_times(v: LongVideo, found: Sequence[Any], folders: RunFolders | None,
              by_spans: list[str]) -> dict[str, tuple[int, int]] | None:
    """Video ``v``'s run faces' :func:`presence` where its truth names faces and ``folders`` has its run folder (with
    the run's own rate where its events were placed in the truth's frames by their seconds, else None); its
    name added to ``by_spans`` where there is none to read though several run faces need it (their events' spans
    then, one warning: :data:`BY_SPANS`). Without ``folders`` (a caller with events only), None: the spans."""
    if folders is None or not any(iv.face for iv in v.intervals):
        return None
    seen = presence(folders[v.name][0], v.fps, folders[v.name][1]) if v.name in folders else None
    if seen is None and len({face_id(s.face) for s in found}) > 1:
        by_spans.append(v.name)
    return seen


def pair_faces(truth: Sequence[Interval], spotted: Sequence[Any], hit: Hit,
               seen: dict[str, tuple[int, int]] | None = None) -> dict[str, str]:
    """{run face: truth face} of one video: each of the run's faces (``Spotted.face``) paired with at most one of the
    truth's (``Interval.face``), a truth face with several run faces only where their times (``seen``, widened to
    their events' :func:`spans`; without ``seen``, those spans) do not overlap, to make the most truth intervals hit
    (``hit(interval, event)``) by an event of a run face paired with the interval's face, each interval once; of those
    the pairing of the most equal IDs, then of the most pairs; only pairs where the run face hits one of the truth
    face's intervals. An integer program (scipy's ``milp``): a 0/1 variable per (run face, truth face) and per truth
    interval; a run face has one truth face at most; an interval is hit only where one of the run faces with an event
    matching it is paired with its face; of the run faces seen at any one frame (where one of them starts: an interval
    graph's cliques), a truth face takes one at most."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    span = spans(spotted)
    for f, (on, off) in (seen or {}).items():
        if f in span:  # a face without events is paired with nothing: left out
            widen(span, f, on, off)
    run = sorted(span)
    named = sorted({face_id(iv.face) for iv in truth})
    if not run or not named:
        return {}
    n_run, n_named, n_iv = len(run), len(named), len(truth)
    r_of, t_of = {f: i for i, f in enumerate(run)}, {f: j for j, f in enumerate(named)}
    cand = [sorted({r_of[face_id(s.face)] for s in spotted if hit(iv, s)}) for iv in truth]  # who can hit each
    allowed = np.zeros((n_run, n_named))
    for iv, rs in zip(truth, cand):
        allowed[rs, t_of[face_id(iv.face)]] = 1

    def x(r: int, t: int) -> int:  # a pair's variable; interval k's is n_run * n_named + k
        return r * n_named + t

    rows, cols, vals, n_rows = [], [], [], 0

    def row(entries: list[tuple[int, float]]) -> None:  # one constraint: sum of entries <= 1 (or <= 0, below)
        nonlocal n_rows
        rows.extend([n_rows] * len(entries))
        cols.extend(c for c, _ in entries)
        vals.extend(v for _, v in entries)
        n_rows += 1

    for r in range(n_run):
        row([(x(r, t), 1.0) for t in range(n_named) if allowed[r, t]])
    for start in sorted({span[f][0] for f in run}):  # the run faces seen at one frame: one of them per truth face
        here = [r_of[f] for f in run if span[f][0] <= start <= span[f][1]]
        for t in range(n_named):
            at = [x(r, t) for r in here if allowed[r, t]]
            if len(at) > 1:
                row([(c, 1.0) for c in at])
    first_hit = n_rows
    for k, (iv, rs) in enumerate(zip(truth, cand)):  # an interval hit only where a run face hitting it is paired
        row([(n_run * n_named + k, 1.0)] + [(x(r, t_of[face_id(iv.face)]), -1.0) for r in rs])
    upper = np.r_[np.ones(first_hit), np.zeros(n_rows - first_hit)]
    a = sparse.csr_array((vals, (rows, cols)), shape=(n_rows, n_run * n_named + n_iv))
    # a tie's pairing: its equal IDs (n_run at most), then the most run faces paired (a fragment that hits only what
    # another hits is the person's too; n_run at most): each outweighs the next, an interval hit all of them
    same = np.array([[r == t for t in named] for r in run], dtype=float).ravel() * (n_run + 1) + 1
    worth = np.r_[same, np.full(n_iv, (n_run + 1.0) ** 2)]
    res = milp(-worth, integrality=np.ones_like(worth), constraints=LinearConstraint(a, -np.inf, upper),
               bounds=Bounds(0, np.r_[allowed.ravel(), [1.0 if rs else 0.0 for rs in cand]]),
               options={"mip_rel_gap": 0})  # the best, not one near it: a tie's rule is worth less than the gap
    if res.x is None:
        return {}
    chosen = np.round(res.x[:n_run * n_named]).reshape(n_run, n_named)
    return {run[i]: named[j] for i, j in zip(*np.nonzero(chosen))}


def face_groups(v: LongVideo, found: list, hit: Hit, paired: dict[str, dict[str, str]],
                seen: dict[str, tuple[int, int]] | None = None) -> list[tuple[list, list]]:
    """(truth, spotted) of video ``v`` matched against each other: the whole video, or, where its truth names faces,
    each truth face with the run faces paired with it (:func:`pair_faces`, ``seen`` its faces' times, put in
    ``paired``), the unpaired truth and
    the unpaired run apart."""
    if not any(iv.face for iv in v.intervals):
        return [(v.intervals, found)]
    pairs = paired[v.name] = pair_faces(v.intervals, found, hit, seen)
    groups = [([iv for iv in v.intervals if face_id(iv.face) == t],
               [s for s in found if pairs.get(face_id(s.face)) == t]) for t in sorted(set(pairs.values()))]
    return groups + [([iv for iv in v.intervals if face_id(iv.face) not in pairs.values()], []),
                     ([], [s for s in found if face_id(s.face) not in pairs])]


def fragments(pairs: dict[str, dict[str, str]]) -> int:
    """How many run face IDs of ``pairs`` ({video: {run face: truth face}}) joined a truth face another run face has
    (a track lost and found again)."""
    return sum(len(p) - len(set(p.values())) for p in pairs.values())
