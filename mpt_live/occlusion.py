"""Occlusion: a spotted movement that an abrupt change of the face's region explains (a hand, a cup, a sheet).

The tracker's cut check (:mod:`mpt_live.cuts`) measures every present face's region change from one frame to the next
(the least mean |grey difference| of its box on the frame's thumbnail over small shifts); above ``face_cut`` the face
is cut. A hand or a cup over part of the face changes the region less than that, and the spotter's bump (the frame
against the frames one scale before and after it, :mod:`mpt_live.facemotion`) reads the occluder as a movement: of 34
occlusion cases, 18 were never cut and on 15 of those the occluder gave 1-2 false events (docs/spotting.md).

:class:`OcclusionWatch` keeps one face's region changes and marks a frame *abrupt* where its change is over
``ratio`` times the face's own running median (its last ``history`` changes) and over ``floor`` grey levels, but not
cut. A movement of the face (1-6 px at a 200 px face) moves a few cells of a thumbnail on which the face is ~20 cells
wide; an object coming in front of it replaces them. A candidate is *occluded*, and dropped by the spotter before it
resolves its scales (:class:`~mpt_live.spotting.Spotter`'s ``occluded``), where an abrupt frame lies in
its extent (``margin`` frames either side), or where abrupt frames lie both in the micro scale before its onset and
after its offset: the bump of a frame held between an occluder's arrival and its leaving compares the occluded face
with the face before and after it, a movement of the occluder's own making.
"""

from __future__ import annotations

from collections import deque

import numpy as np


class OcclusionWatch:
    """One face's region changes by frame index; ``occluded(onset, offset)`` for the spotter's events."""

    def __init__(self, k: int, ratio: float = 8.0, floor: float = 1.0, history: int = 300, margin: int = 3,
                 keep: int = 1800) -> None:
        self.k, self.ratio, self.floor, self.margin = k, ratio, floor, margin
        self._changes: deque[float] = deque(maxlen=history)  # the running median's samples
        self._abrupt: deque[int] = deque()  # frame indices, oldest first, the last ``keep`` frames'
        self.keep = keep

    def add(self, frame: int, change: float | None) -> None:
        """The face's region change on ``frame`` (None: not measured, the frame a cut or the face's first)."""
        if change is None:
            return
        # over the floor first: a still face's changes rarely are, and the median (of up to 300) is then not needed
        if change > self.floor and len(self._changes) >= 15 and change > self.ratio * float(np.median(self._changes)):
            self._abrupt.append(frame)
        self._changes.append(change)
        while self._abrupt and self._abrupt[0] < frame - self.keep:
            self._abrupt.popleft()

    def occluded(self, onset: int, offset: int) -> bool:
        """Whether an abrupt change explains a movement from ``onset`` to ``offset`` (frame indices, inclusive)."""
        inside = before = after = False
        for f in self._abrupt:
            inside |= onset - self.margin <= f <= offset + self.margin
            before |= onset - self.k <= f < onset
            after |= offset < f <= offset + self.k
        return inside or (before and after)
