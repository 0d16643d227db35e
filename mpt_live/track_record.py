"""One face track's record in :class:`mpt_live.tracks.FaceTracker`: where and when its face was last found, its
appearance gallery (the SFace embeddings it is re-identified by), and while it is tentative, how often it was found.

:func:`box_iou` is the box overlap that step 1 of the tracker (position) matches by; :func:`lost_here`, the face a
faint newcomer may be (found where a confirmed face was just lost: an occluder over it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .identity import similarity
from .track_align import TrackAligner

GALLERY = 8  # embeddings kept per track (diverse views: a new one is kept unless it is a near copy)
STEADY_REFRESH = 3  # a steady face (no loss, cut or failed registration since its last embedding) is embedded
# again every STEADY_REFRESH x refresh_s, not every refresh_s, once its track holds STEADY_AFTER embeddings.
# 6 (issue 14, not kept): bench/identities.py --limit 1 --seconds 20 the same, 51 -> 41 SFace calls (~21 ms CPU
# each): ~0.07 ms a face and frame (~1.5 % of the face stage), for a person swapped in unseen by the cut check kept
# twice as long
STEADY_AFTER = 3
# a faint newcomer found where a confirmed face was lost this recently (s; no camera cut or layout change since) is
# held tentative until a detection of it is confident, it looks like a face not on the frame (its ID back), that face
# is found elsewhere, or this long after the loss: a face found faintly under a sheet or a paper held over it, its
# embedding unlike its own, was confirmed after CONFIRM_S and shown under a second ID until the sheet left
HOLD_S = 4.0


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) intersection over union of boxes (x, y, w, h) in ``a`` (N, 4) and ``b`` (M, 4)."""
    a, b = a.astype(np.float64)[:, None], b.astype(np.float64)[None]
    w = np.clip(np.minimum(a[..., 0] + a[..., 2], b[..., 0] + b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 1] + a[..., 3], b[..., 1] + b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter, union = w * h, a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - w * h
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


@dataclass(eq=False)  # one track is one face: compared by identity
class Track:
    id: int
    aligner: TrackAligner
    box: tuple[int, int, int, int]
    t: float  # last seen (s)
    present: bool = True
    embed_t: float = -np.inf  # time of the last embedding
    gallery: list[np.ndarray] = field(default_factory=list)
    cut_off: bool = False  # not seen since a cut (of the frame or of its face): never continued by position
    since: float = 0.0  # first found (s)
    runs: int = 0  # detector runs since ``since`` (counted while tentative)
    hits: int = 0  # ... that found it
    steady: bool = False  # followed or found in place on every frame since its last embedding
    embeddings: int = 0  # made of it (kept in the gallery or not)
    look_until: float = -np.inf  # missed by the whole frame, looked for in a 4:3 or wider frame's tiles until then (s)
    heir_of: "Track | None" = None  # tentative: the confirmed face lost where it was found (lost_here), if any

    def held(self, t: float) -> bool:
        """Whether a tentative face found where a confirmed one was just lost waits at ``t`` (:data:`HOLD_S`)."""
        lost = self.heir_of
        return lost is not None and not lost.present and 0 <= t - lost.t < HOLD_S

    @property
    def confirmed(self) -> bool:
        """Whether the face has its ID and is in the outputs: a tentative one (a newcomer below NEW_SCORE, kept out
        of the outputs) has a negative ID until it is confirmed."""
        return self.id >= 0

    def likeness(self, e: np.ndarray | None) -> float | None:
        """Best cosine similarity of ``e`` to the gallery (None when either is missing)."""
        if e is None or not self.gallery:
            return None
        return max(similarity(e, g) for g in self.gallery)

    def remember(self, e: np.ndarray | None, t: float) -> None:
        if e is None:
            return
        self.embed_t, self.steady, self.embeddings = t, True, self.embeddings + 1
        if not self.gallery or max(similarity(e, g) for g in self.gallery) < 0.9:
            self.gallery.append(e)
            del self.gallery[:-GALLERY]


def lost_here(box: tuple[int, int, int, int], t: float, free: Sequence[Track], since: float) -> Track | None:
    """The track of ``free`` (the confirmed ones not on the frame at ``t``) last seen within :data:`HOLD_S` before
    ``t`` and not before ``since`` (the tracker's last camera cut or layout change) whose last box overlaps ``box``
    most (IoU 0.3 or more); None where none does."""
    lost = [tr for tr in free if since <= tr.t and 0 <= t - tr.t < HOLD_S]
    if not lost:
        return None
    iou = box_iou(np.array([box]), np.array([tr.box for tr in lost]))[0]
    return lost[int(iou.argmax())] if iou.max() >= 0.3 else None
