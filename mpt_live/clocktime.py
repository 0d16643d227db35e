"""The project's one way to write a time of a video for people: seconds under a minute, a clock reading from there
(the review page, its table and the warnings about a video all read alike)."""

from __future__ import annotations

import math


def clock(t: float, unit: bool = True, like: float = 0.0) -> str:
    """12.34 s (``unit=False``: 12.34, where a column says it), 4:05.67 from a minute on, 1:02:03.40 from an hour (a
    clock reading, never followed by "s"). ``like``: written as a time that long would be (a span's start as its
    end: 0:12.00-1:55.73)."""
    if math.isfinite(t):  # rounded first, as the page's script does: 119.996 is 2:00.00, not 1:60.00
        t = round(float(t), 2)
    if not math.isfinite(t) or max(t, like) < 60:
        return f"{t:.2f}" + (" s" if unit else "")
    m, s = divmod(t, 60)
    return f"{int(m)}:{s:05.2f}" if max(t, like) < 3600 else f"{int(m // 60)}:{int(m % 60):02d}:{s:05.2f}"


def clock_span(a: float, b: float) -> str:
    """From ``a`` to ``b`` seconds, both written alike: 0.50-26.33 s, 0:12.00-1:55.73."""
    return f"{clock(a, False, b)}-{clock(b, like=a)}"
