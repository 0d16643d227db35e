"""A spotted movement's onset and offset from the raw motion profile around its apex (torch-free).

The profile is the mean raw motion (less each cell's median) of the cells where the movement was found, frame by
frame around the apex; NaN where the face had no signals (a track's or an appearance's first and last ``k`` frames).
Onset and offset lie where it crosses half its apex value before and after, extended by the same distance again
(exact for a rise and fall of raised-cosine shape): the frames nearest those times. Where one side has no signals the
movement runs into them, and that side is taken as far out as the other (*mirrored*): the offset was the apex itself
when a video ended 0.5-0.7 s after a movement's apex.

Distances are in the frames' own times (:func:`periods`: in periods of the stated rate), not in frames counted: in a
variable-rate recording (a phone's 15 fps stretch under a 30 fps header, frames dropped) "twice as far from the apex"
counted in frames was twice as far in time only at the stated rate (a 15 fps stretch's extents came out up to a frame
longer each side, and the micro/macro test reads their times). At a constant rate the positions are the frames counted
and the extents those of frame indices, as before (``tests/test_spot_extent.py``).
"""

from __future__ import annotations

import numpy as np


def periods(times: np.ndarray, fps: float) -> np.ndarray:
    """Each frame's position in periods of the stated rate (``1 / fps`` s) from the first: a step within a millisecond
    of ``1 / fps`` counts 1 (a constant rate's rounded times: whole numbers, the frames counted), another by its time
    (a 15 fps step under a 30 fps header 2, a 2 ms one 0.06), one that does not advance 1 (times that stand still or go
    back: counted, as the spotter's other floors count frames where times stand still)."""
    steps = np.diff(np.asarray(times, float)) * fps
    steps = np.where((np.abs(steps - 1) <= 1e-3 * fps) | (steps <= 0), 1.0, steps)
    return np.concatenate([[0.0], np.cumsum(steps)])


def _nearest(u: np.ndarray, a: int, dist: float, side: int) -> int:
    """The frame at ``side`` (-1 before, +1 after) of ``a`` whose position is nearest ``dist`` periods from it; of two
    as near, the one ``round(dist)`` away (a constant rate: ``a -+ round(dist)``, ties half to even, as counted)."""
    target = u[a] + side * dist
    j = int(np.searchsorted(u, target))
    near = [k for k in (j - 1, j) if 0 <= k < len(u)]
    return min(near, key=lambda k: (abs(u[k] - target), abs(abs(u[k] - u[a]) - round(dist))))


def extent(prof: np.ndarray, a: int, lo: int, hi: int, u: np.ndarray | None = None) -> tuple[int, int, str] | None:
    """Onset and offset (indices into ``prof``) of the movement with its apex at ``a``, searched in ``lo..hi``, and the
    side with no signals that was mirrored ("before", "after" or ""). ``u``: each frame's position in time
    (:func:`periods`; None: the frames counted). None: the apex is not above the median."""
    half = prof[a] / 2
    if not half > 0:
        return None
    u = np.arange(len(prof), dtype=float) if u is None else u
    i = a
    while i > lo and prof[i - 1] > half:
        i -= 1
    j = a
    while j < hi and prof[j + 1] > half:
        j += 1
    # the half-height crossings between frames (linear in time); onset and offset twice as far from the apex
    up = u[i - 1] + (u[i] - u[i - 1]) * ((half - prof[i - 1]) / (prof[i] - prof[i - 1])) \
        if i > lo and prof[i] > prof[i - 1] else u[i]
    down = u[j] + (u[j + 1] - u[j]) * ((prof[j] - half) / (prof[j] - prof[j + 1])) \
        if j < hi and prof[j] > prof[j + 1] else u[j]
    blind_before, blind_after = i > lo and np.isnan(prof[i - 1]), j < hi and np.isnan(prof[j + 1])
    mirrored = ""
    if blind_after and not blind_before:
        down, mirrored = max(down, 2 * u[a] - up), "after"
    elif blind_before and not blind_after:
        up, mirrored = min(up, 2 * u[a] - down), "before"
    return _nearest(u, a, 2 * (u[a] - up), -1), _nearest(u, a, 2 * (down - u[a]), 1), mirrored
