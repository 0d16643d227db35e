"""One face track's record in :class:`mpt_live.tracks.FaceTracker`: where and when its face was last found, its
appearance gallery (the SFace embeddings it is re-identified by), and while it is tentative, how often it was found.

:func:`box_iou` is the box overlap that step 1 of the tracker (position) matches by.
"""

from __future__ import annotations

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
