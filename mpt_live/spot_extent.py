"""A spotted movement's onset and offset from the raw motion profile around its apex (torch-free).

The profile is the mean raw motion (less each cell's median) of the cells where the movement was found, frame by
frame around the apex; NaN where the face had no signals (a track's or an appearance's first and last ``k`` frames).
Onset and offset lie where it crosses half its apex value before and after, extended by the same distance again
(exact for a rise and fall of raised-cosine shape), at frame resolution. Where one side has no signals the movement
runs into them, and that side is taken as far out as the other (*mirrored*): the offset was the apex itself when a
video ended 0.5-0.7 s after a movement's apex.
"""

from __future__ import annotations

import numpy as np


def extent(prof: np.ndarray, a: int, lo: int, hi: int) -> tuple[int, int, str] | None:
    """Onset and offset (indices into ``prof``) of the movement with its apex at ``a``, searched in ``lo..hi``, and the
    side with no signals that was mirrored ("before", "after" or ""). None: the apex is not above the median."""
    half = prof[a] / 2
    if not half > 0:
        return None
    i = a
    while i > lo and prof[i - 1] > half:
        i -= 1
    j = a
    while j < hi and prof[j + 1] > half:
        j += 1
    # sub-frame half-height crossings; onset and offset twice as far from the apex
    up = i - 1 + (half - prof[i - 1]) / (prof[i] - prof[i - 1]) if i > lo and prof[i] > prof[i - 1] else float(i)
    down = j + (prof[j] - half) / (prof[j] - prof[j + 1]) if j < hi and prof[j] > prof[j + 1] else float(j)
    blind_before, blind_after = i > lo and np.isnan(prof[i - 1]), j < hi and np.isnan(prof[j + 1])
    mirrored = ""
    if blind_after and not blind_before:
        down, mirrored = max(down, 2 * a - up), "after"
    elif blind_before and not blind_after:
        up, mirrored = min(up, 2 * a - down), "before"
    return max(a - int(round(2 * (a - up))), 0), min(a + int(round(2 * (down - a))), len(prof) - 1), mirrored
