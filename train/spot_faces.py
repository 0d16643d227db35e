"""Whose face: a run's face IDs paired with the faces a truth names, to score a video of several people per face.

mpt-live numbers the faces of a video by their tracks (events.csv's ``face``: 0, 1, ...); a truth names them as its
annotator did (annotations.csv's ``face``: ``0``, ``anna``). Each of the run's faces is paired with at most one of the
truth's, to make the most true positives, as an identity metric pairs tracks with people (IDF1): whatever the IDs, each
person's events are scored against that person's intervals, and another's movement at the same time is no hit. Unlike
IDF1, a truth face may take several run faces whose events' spans (first onset to last offset) do not overlap: a person
whose track was lost and found again has a second track ID, and that fragment's events are the person's, not false
(spotting is scored here, not tracking; two tracks seen at once are two people). Of pairings that make as many true
positives, the one of the most equal IDs. A run face paired with none (a third face, a poster) has its events counted
false; a truth face paired with none its intervals missed.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .datasets.longvideo import Interval, LongVideo

Tps = Callable[[Sequence[Interval], Sequence[Any]], int]  # true positives of a truth's intervals and a run's events

FACE_PAIRING = ("per face: each run face ID paired with at most one truth face to make the most true positives; a "
                "truth face takes several run IDs only where their events' spans do not overlap (one person's track "
                "lost and found again); ties: equal IDs; an unpaired run face's events false, an unpaired truth "
                "face's missed")


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
        f = face_id(s.face)
        on, off = out.get(f, (s.onset, s.offset))
        out[f] = (min(on, s.onset), max(off, s.offset))
    return out


def pair_faces(truth: Sequence[Interval], spotted: Sequence[Any], tps: Tps) -> dict[str, str]:
    """{run face: truth face} of one video: each of the run's faces (``Spotted.face``) paired with at most one of the
    truth's (``Interval.face``), a truth face with several run faces only where their :func:`spans` do not overlap, to
    make the most true positives (``tps(truth, spotted)`` of each pair: MEGC matching, micro and macro, summed over the
    pairs), of those the pairing of the most equal IDs; the pairs that make a true positive. An integer program
    (scipy's ``milp``): a run face has one truth face at most, and of the run faces whose spans hold any one frame
    (where one of them starts: an interval graph's cliques), a truth face takes one at most."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    span = spans(spotted)
    run = sorted(span)
    named = sorted({face_id(iv.face) for iv in truth})
    if not run or not named:
        return {}
    tp = np.array([[tps([iv for iv in truth if face_id(iv.face) == t], [s for s in spotted if face_id(s.face) == r])
                    for t in named] for r in run])
    same = np.array([[r == t for t in named] for r in run])  # a tie's pairing: its equal IDs, worth less than a TP
    worth = (tp * (min(len(run), len(named)) + 1) + same).ravel()  # x[r, t] at r * len(named) + t
    n_run, n_named = len(run), len(named)
    rows = [np.kron(np.eye(n_run)[i], np.ones(n_named)) for i in range(n_run)]  # a run face: one truth face at most
    for start, _ in {span[r] for r in run}:  # the run faces seen at one frame: one of them per truth face
        seen = np.array([span[r][0] <= start <= span[r][1] for r in run], dtype=float)
        if seen.sum() > 1:
            rows += [np.kron(seen, np.eye(n_named)[j]) for j in range(n_named)]
    res = milp(-worth, integrality=np.ones_like(worth), bounds=Bounds(0, (tp > 0).ravel().astype(float)),
               constraints=LinearConstraint(np.array(rows), -np.inf, 1))
    chosen = np.round(res.x).reshape(n_run, n_named) if res.x is not None else np.zeros((n_run, n_named))
    return {run[i]: named[j] for i, j in zip(*np.nonzero(chosen))}


def face_groups(v: LongVideo, found: list, tps: Tps, paired: dict[str, dict[str, str]]) -> list[tuple[list, list]]:
    """(truth, spotted) of video ``v`` matched against each other: the whole video, or, where its truth names faces,
    each truth face with the run faces paired with it (:func:`pair_faces`, put in ``paired``), the unpaired truth and
    the unpaired run apart."""
    if not any(iv.face for iv in v.intervals):
        return [(v.intervals, found)]
    pairs = paired[v.name] = pair_faces(v.intervals, found, tps)
    groups = [([iv for iv in v.intervals if face_id(iv.face) == t],
               [s for s in found if pairs.get(face_id(s.face)) == t]) for t in sorted(set(pairs.values()))]
    return groups + [([iv for iv in v.intervals if face_id(iv.face) not in pairs.values()], []),
                     ([], [s for s in found if face_id(s.face) not in pairs])]


def fragments(pairs: dict[str, dict[str, str]]) -> int:
    """How many run face IDs of ``pairs`` ({video: {run face: truth face}}) joined a truth face another run face has
    (a track lost and found again)."""
    return sum(len(p) - len(set(p.values())) for p in pairs.values())
