"""How long a tentative face is looked for at once in the squares of a 4:3 or wider frame (the faces tracker).

A tentative newcomer (:mod:`mpt_live.face_confirm`: a faint face, no ID yet) that the whole-frame pass misses is
looked for in the frame's squares (:mod:`mpt_live.tiles`) on the detector's next runs, or a small face found only
there could never be confirmed. That look is bounded: for :data:`LOOK_S` after the face was first found (the face
needs ``CONFIRM_S``, on half the runs, to be confirmed), and not at all for a newcomer where a tentative face was
dropped unconfirmed in the last :data:`DOUBT_S` (a pattern that never confirms, found again at the squares' own
cadence, :func:`mpt_live.tiles.search_every`). Such a newcomer is still confirmed where the whole frame finds it, and
its own drop renews no doubt (the tracker passes only faces that had a look): a doubted place gets a look again
after DOUBT_S, so a real faint face missed in its first second (a hand in front of it) is confirmed later, not never.
Before, every tentative face missed by the whole frame had the squares searched on every detector run for as long
as it lived: the animated cartoon title beside a followed person in a 640x480 frame, found every second or so and
never on half the runs, kept a tentative track alive for the whole run and cost 76 square searches in 12 s where
the squares' cadence allows 6; now 12 and 28 (two people; a smiley: 26, now 15; ``python bench/false_faces.py --frame
640x480 --seconds 12 --people 2``, README).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .face_confirm import CONFIRM_S, SAME_IOU, iou
from .tiles import SQUARES_EVERY_S, small_face, squares_of

LOOK_S = 2 * CONFIRM_S  # a tentative face is looked for in the squares at once for this long after it was found
DOUBT_S = 3 * SQUARES_EVERY_S  # ... and not at all where a tentative face was dropped unconfirmed this recently
LOST_EVERY_S = 0.125  # a lost face's square is searched at most this often (no face followed: a detector run a frame)


def lost_look(box: tuple[int, int, int, int], shape: Sequence[int], t: float) -> float:
    """Until when (s) a followed face lost at ``t`` in ``box`` is looked for in its square (a faint small face the
    whole frame misses, and its square too now and then): :data:`LOOK_S`, where only the squares may find it (a small
    face, its square holding it with room: :func:`mpt_live.tiles.squares_of`); not at all (-inf) for a larger face
    (one that left the frame would have every square searched on every detector run for a second)."""
    return t + LOOK_S if small_face(box, shape) and squares_of(shape, [box]) is not None else -float("inf")


def looking(until: float, t: float) -> bool:
    """Whether a look that lasts ``until`` is on at ``t`` (a time that went back ends it)."""
    return 0 <= until - t <= LOOK_S


class Found(Protocol):
    """A face of the tracker (:class:`mpt_live.track_record.Track`): where and when it was last found, and whether it has
    its ID."""

    box: tuple[int, int, int, int]
    t: float

    @property
    def confirmed(self) -> bool: ...


class SquareLooks:
    """The places where tentative faces were dropped unconfirmed, and the look a newcomer gets (:meth:`until`)."""

    def __init__(self) -> None:
        self._doubts: list[tuple[tuple[int, int, int, int], float]] = []  # (box, when dropped)
        self._lost_t = -float("inf")  # when a lost face's square was last searched

    def lost_due(self, t: float) -> bool:
        """Whether a lost face's look may search its square at ``t`` (at most every :data:`LOST_EVERY_S`)."""
        return not 0 <= t - self._lost_t < LOST_EVERY_S

    def lost_searched(self, t: float) -> None:
        """A lost face's square was searched at ``t``: the next such search is due :data:`LOST_EVERY_S` after."""
        self._lost_t = t

    def until(self, box: tuple[int, int, int, int], t: float, tracks: Sequence[Found] = (),
              keep_s: float = 0.0) -> float:
        """Until when (s) a tentative face first found at ``t`` in ``box`` is looked for in the squares at once: for
        :data:`LOOK_S`; not at all (-inf) where one was dropped unconfirmed in the last :data:`DOUBT_S`, or where one
        of ``tracks`` is tentative and not found for ``keep_s`` (the tracker drops it on this run, after its newcomers
        are made)."""
        self._doubts = [(b, d) for b, d in self._doubts if 0 <= t - d < DOUBT_S]
        doubts = [b for b, _ in self._doubts] + [tr.box for tr in tracks if not tr.confirmed and t - tr.t > keep_s]
        return -float("inf") if any(iou(b, box) >= SAME_IOU for b in doubts) else t + LOOK_S

    def dropped(self, boxes: list[tuple[int, int, int, int]], t: float, changed: bool = False) -> None:
        """Tentative faces dropped unconfirmed at ``t`` in ``boxes``; ``changed``: the frame was a camera cut or a
        layout change (they were cut off, and the places seen before it are no reason to doubt the new shot's faces:
        every doubt is forgotten)."""
        if changed:
            self._doubts.clear()
        else:
            self._doubts += [(b, t) for b in boxes]
