"""When a detection is a new face: the confidence rule shared by the face trackers.

A detection scoring at least :data:`NEW_SCORE` starts a face at once. A fainter one is *tentative* (in no
output) until it has been found for :data:`CONFIRM_S`, on :data:`CONFIRM_RUNS` detector runs at least and on
half of the runs since it was first found or more (faint faces flicker), or until one of its detections reaches
:data:`NEW_SCORE`; not found for :data:`KEEP_S`, it is dropped. A face already tracked continues on any score.

:class:`mpt_live.tracks.FaceTracker` keeps a tentative track per newcomer (several faces with IDs, the session);
:class:`OneFace` applies the rule to :meth:`mpt_live.face.FaceAligner.process`, which aligns one face per frame
(training clips, the inspection sheet): the face it tracks or the largest confident one, a faint newcomer only
once confirmed. Without it the largest detection was the face, whatever its score: a larger false find beside
the real face took its place on that frame, and in frames without a face the detector's false finds (the title
in the clouds of pyfeat_face_noface, 0.51-0.71) were aligned as faces.
"""

from __future__ import annotations

from dataclasses import dataclass

from .face_types import Detection

# a new face starts at once from a detection this confident: on the shared videos every real face scored 0.85 or
# more at short range; the blurry text BlazeFace took for faces (pyfeat_face_noface) 0.51-0.71, but so did real
# faces small, distant (bench/small_faces.py's rooms, full range: 0.50-0.80) or partly hidden (0.64-0.77)
NEW_SCORE = 0.75
# so a less confident newcomer is tentative (no ID, nothing written) until it has been found for this long (on
# CONFIRM_RUNS detector runs at least, and on half of them or more): a person sitting far off stays, a passing pattern
# (the text: 0.25 s) does not
CONFIRM_S, CONFIRM_RUNS = 0.5, 3
KEEP_S = 1.0  # a tentative face not found for this long is dropped (FaceTracker's keep_s by default)
SAME_IOU = 0.3  # box overlap from which a detection is the same face as a box of the frame before


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two boxes (x, y, w, h)."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def photo_face(found: list[Detection]) -> Detection | None:
    """The face of a single photo among ``found`` (largest first): there is no later frame to confirm a faint face,
    so the largest confident one (a larger faint find beside it, a poster or a pattern, is not the face), else the
    best-scoring faint one; None when nothing was found."""
    confident = [d for d in found if d.score >= NEW_SCORE]
    return confident[0] if confident else max(found, key=lambda d: d.score, default=None)


def confirmed(hits: int, runs: int, since: float, t: float, confirm_s: float = CONFIRM_S) -> bool:
    """Whether a tentative face found on ``hits`` of the ``runs`` detector runs since ``since`` (s) is confirmed at
    ``t`` (found for ``confirm_s`` at least)."""
    return hits >= CONFIRM_RUNS and 2 * hits >= runs and t - since >= confirm_s


@dataclass
class _Tentative:
    box: tuple[int, int, int, int]
    since: float  # first found (s)
    t: float  # last found (s)
    runs: int = 1  # detector runs since ``since``
    hits: int = 1  # ... that found it


class OneFace:
    """The face of one frame's detections for a one-face aligner: :meth:`pick` once per detector run."""

    def __init__(self, confirm_s: float = CONFIRM_S) -> None:
        # 0: a faint face is confirmed on its CONFIRM_RUNS detector runs alone (a dataset clip shows one face and
        # may be shorter than CONFIRM_S: a 200 fps clip of 0.3 s would otherwise never have a faint face)
        self.confirm_s = float(confirm_s)
        self._tentative: _Tentative | None = None
        self.dropped = 0  # tentative faces dropped unconfirmed

    @property
    def pending(self) -> bool:
        """Whether a faint face waits to be confirmed (the aligner searches a wide frame's tiles for it every run)."""
        return self._tentative is not None

    def pick(self, found: list[Detection], t: float,
             tracked: tuple[int, int, int, int] | None = None) -> Detection | None:
        """The largest of ``found`` (largest first) that is confident or continues the face tracked at ``tracked``
        (its box on the frame before; None: no face tracked); else a faint one confirmed by this run; else None."""
        keep = [d for d in found if d.score >= NEW_SCORE or (tracked is not None and iou(d.box, tracked) >= SAME_IOU)]
        if keep:
            self._tentative = None
            return keep[0]
        tent = self._tentative
        if tent is not None:
            tent.runs += 1
            again = max(found, key=lambda d: iou(d.box, tent.box), default=None)
            if again is not None and iou(again.box, tent.box) >= SAME_IOU:
                tent.hits, tent.box, tent.t = tent.hits + 1, again.box, t
                if confirmed(tent.hits, tent.runs, tent.since, t, self.confirm_s):
                    self._tentative = None
                    return again
                return None
            if 0 <= t - tent.t <= KEEP_S:
                return None
            self._tentative, self.dropped = None, self.dropped + 1
        if found:  # a new faint face: the largest
            self._tentative = _Tentative(found[0].box, t, t)
        return None

    def reset(self) -> None:
        """Forget the tentative face (a new clip)."""
        self._tentative = None
