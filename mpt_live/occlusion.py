"""Occlusion: a spotted movement that an abrupt change of the face's region explains (a hand, a cup, a sheet).

The tracker's cut check (:mod:`mpt_live.cuts`) measures every present face's region change from one frame to the next
(the least mean |grey difference| of its box on the frame's thumbnail over small shifts); above ``face_cut`` the face
is cut. A hand or a cup over part of the face changes the region less than that, and the spotter's bump (the frame
against the frames one scale before and after it, :mod:`mpt_live.facemotion`) reads the occluder as a movement: of 34
occlusion cases, 18 were never cut and on 15 of those the occluder gave 1-2 false events (docs/spotting.md).

:class:`OcclusionWatch` keeps one face's region changes and marks a frame *abrupt* where its change is over
``ratio`` times the face's own running median (its changes of the last ``history_s`` seconds, once they span
``settle_s``) and over ``floor`` grey levels, but not cut. A movement of the face (1-6 px at a 200 px face) moves a few
cells of a thumbnail on which the face is ~20 cells wide; an object coming in front of it replaces them. A candidate
is *occluded*, and dropped by the spotter before it resolves its scales (:class:`~mpt_live.spotting.Spotter`'s
``occluded``), where an abrupt frame lies in its extent (``margin_s`` either side), or where abrupt frames lie both in
the micro scale (``scale_s``) before its onset and after its offset: the bump of a frame held between an occluder's
arrival and its leaving compares the occluded face with the face before and after it, a movement of the occluder's own
making.

Every window is in the frames' own times, as the spotter's are: counted in frames (300, 15, 3 and the scale's ``k``) it
was right at the rate the scale was set for only, and a variable-rate recording's 15 fps stretch under a 30 fps header
held an occluder within two scales of a movement as within one (tests/test_occlusion.py). At a constant 30 fps the
windows are those frames: 300 changes, 15 before the first judged, 3 frames of margin, 15 of scale (within a
millisecond, for rounded times).
"""

from __future__ import annotations

from collections import deque

import numpy as np

SLACK_S = 1e-3  # a window's edge within a millisecond counts (rounded container times: the spotter's own tolerance)


class OcclusionWatch:
    """One face's region changes by the frames' times; ``occluded(onset_s, offset_s)`` for the spotter's events."""

    def __init__(self, scale_s: float, ratio: float = 8.0, floor: float = 1.0, history_s: float = 10.0,
                 settle_s: float = 0.5, margin_s: float = 0.1, keep_s: float = 60.0, least: int = 5) -> None:
        self.scale_s, self.ratio, self.floor, self.margin_s = scale_s, ratio, floor, margin_s
        self.history_s, self.settle_s, self.keep_s = history_s, settle_s, keep_s
        self.least = least  # changes the median needs at least, however long they span (a face seen now and then)
        self._changes: deque[tuple[float, float]] = deque()  # (time, change): the running median's samples
        self._abrupt: deque[float] = deque()  # times of the abrupt frames, oldest first, of the last ``keep_s``

    def add(self, t: float, change: float | None) -> None:
        """The face's region change on the frame at time ``t`` (None: not measured, the frame a cut or the face's
        first). Times that go back by more than the scale (a looped or reconnected source) start the watch anew; a
        smaller step back (times jittered out of order) is taken as it comes."""
        if change is None:
            return
        if self._changes and t < self._changes[-1][0] - self.scale_s:
            self._changes.clear()
            self._abrupt.clear()
        changes = self._changes
        while changes and changes[0][0] < t - self.history_s - SLACK_S:
            changes.popleft()
        # over the floor first: a still face's changes rarely are, and the median (of ~300) is then not needed
        if change > self.floor and len(changes) >= self.least and changes[0][0] <= t - self.settle_s + SLACK_S \
                and change > self.ratio * float(np.median([c for _, c in changes])):
            self._abrupt.append(t)
        changes.append((t, change))
        while self._abrupt and self._abrupt[0] < t - self.keep_s:
            self._abrupt.popleft()

    def occluded(self, onset_s: float, offset_s: float) -> bool:
        """Whether an abrupt change explains a movement from ``onset_s`` to ``offset_s`` (its first and last frames'
        times)."""
        inside = before = after = False
        for t in self._abrupt:
            inside |= onset_s - self.margin_s - SLACK_S <= t <= offset_s + self.margin_s + SLACK_S
            before |= onset_s - self.scale_s - SLACK_S <= t < onset_s
            after |= offset_s < t <= offset_s + self.scale_s + SLACK_S
        return inside or (before and after)
