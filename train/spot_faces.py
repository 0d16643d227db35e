"""Whose face: a run's face IDs paired with the faces a truth names, to score a video of several people per face.

mpt-live numbers the faces of a video by their tracks (events.csv's ``face``: 0, 1, ...); a truth names them as its
annotator did (annotations.csv's ``face``: ``0``, ``anna``). The run's faces are paired one-to-one with the truth's to
make the most true positives, as an identity metric pairs tracks with people (IDF1): whatever the IDs, each person's
events are scored against that person's intervals, and another's movement at the same time is no hit. Of pairings that
make as many, the one of the most equal IDs. A run face paired with none (a third face, a poster) has its events counted
false; a truth face paired with none its intervals missed.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .datasets.longvideo import Interval, LongVideo

Tps = Callable[[Sequence[Interval], Sequence[Any]], int]  # true positives of a truth's intervals and a run's events

FACE_PAIRING = ("per face: the run's face IDs paired one-to-one with the truth's faces to make the most true "
                "positives (ties: equal IDs); an unpaired run face's events false, an unpaired truth face's missed")


def face_id(v: str) -> str:
    """A face as written in a sheet or events.csv (``1``, ``1.0``, `` 1 ``), spelled one way."""
    t = (v or "").strip()
    try:
        f = float(t)
    except ValueError:
        return t
    return str(int(f)) if f.is_integer() else t


def pair_faces(truth: Sequence[Interval], spotted: Sequence[Any], tps: Tps) -> dict[str, str]:
    """{run face: truth face} of one video: the one-to-one pairing of the run's faces (``Spotted.face``) with the
    truth's (``Interval.face``) whose true positives (``tps(truth, spotted)`` of each pair: MEGC matching, micro and
    macro) are the most, of those the one pairing the most equal IDs; the pairs that make a true positive."""
    from scipy.optimize import linear_sum_assignment

    run = sorted({face_id(s.face) for s in spotted})
    named = sorted({face_id(iv.face) for iv in truth})
    if not run or not named:
        return {}
    tp = np.array([[tps([iv for iv in truth if face_id(iv.face) == t], [s for s in spotted if face_id(s.face) == r])
                    for t in named] for r in run])
    same = np.array([[r == t for t in named] for r in run])  # a tie's pairing: its equal IDs, worth less than a TP
    rows, cols = linear_sum_assignment(tp * (min(len(run), len(named)) + 1) + same, maximize=True)
    return {run[i]: named[j] for i, j in zip(rows, cols) if tp[i, j] > 0}


def face_groups(v: LongVideo, found: list, tps: Tps, paired: dict[str, dict[str, str]]) -> list[tuple[list, list]]:
    """(truth, spotted) of video ``v`` matched against each other: the whole video, or, where its truth names faces,
    each pair of faces (:func:`pair_faces`, put in ``paired``), the unpaired truth and the unpaired run apart."""
    if not any(iv.face for iv in v.intervals):
        return [(v.intervals, found)]
    pairs = paired[v.name] = pair_faces(v.intervals, found, tps)
    groups = [([iv for iv in v.intervals if face_id(iv.face) == t], [s for s in found if face_id(s.face) == r])
              for r, t in pairs.items()]
    return groups + [([iv for iv in v.intervals if face_id(iv.face) not in pairs.values()], []),
                     ([], [s for s in found if face_id(s.face) not in pairs])]
