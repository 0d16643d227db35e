"""The stretch of its video a run analysed, for ``mpt-eval spot`` (torch-free): a run from ``--start T``, one ended by
``--max-seconds S``, or one stopped part-way by Ctrl-C or a kill (summary.json status ``interrupted``, ``killed``, or
``running`` where a kill left it unfinished) covers part of its video only; the truth outside that part is not scored.

The stretch runs, in the truth's frames, from the first frame the run analysed (summary.json ``frames_skipped``: the
frames before the start, passed over; a killed run's, finished by ``mpt-live --finish``, has none: its first
predictions row's frame) to the last it read (:func:`train.spot_frames.last_read`); a run whose frames
are not the truth's (placed by their seconds, :func:`train.spot_frames.in_truth_frames`) has both by their seconds.
A truth interval is scored where its onset..offset overlaps the stretch by a frame or more (one cut by the start or
the end is kept: a spotted interval may still reach IoU 0.5 with it, and leaving it out would favour the run); one
wholly outside is left out, neither hit nor missed. A failed run (an error) is scored on the stretch it was asked
for, not on what it read: what it did not read of it stays missed, as the MEGC protocol scores the whole set
(:mod:`train.run_state`); a run of its whole video is no stretch, one from ``--start`` is scored from its start to the
video's end (its last truth interval) or to where ``--max-seconds`` would have ended it. A variable-rate file's stretch ends at its last frame's own time (``source_seconds``, or
its last predictions row's), not at its frames over the header's rate.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from mpt_live.timeline import as_number

from .datasets.longvideo import Interval, LongVideoIndex
from .spot_frames import first_row, last_read, run_fps

USER_STOPS = ("interrupted", "killed", "running")  # statuses of a run stopped by its user, scored to where it stopped


def asked(summary: dict) -> str:
    """How the run came to cover a stretch only, as its summary.json says ('--start 20 s, --max-seconds 15 s',
    'interrupted part-way'); '' for a run of its whole video."""
    start, limit = as_number(summary.get("start_s")), as_number(summary.get("max_seconds"))
    parts = [f"--start {start:g} s"] if math.isfinite(start) and start > 0 else []
    if summary.get("max_seconds_reached") and math.isfinite(limit):
        parts.append(f"--max-seconds {limit:g} s")
    if summary.get("status") in USER_STOPS:
        parts.append(f"{summary['status']} part-way" if summary["status"] != "running" else "killed part-way")
    return ", ".join(parts)


def analysed(folder: Path, summary: dict, truth_fps: float, converted: bool,
             offsets: Sequence[int] = (), truth_end: int = -1) -> tuple[int, int] | None:
    """The first and last truth frames (inclusive) of the stretch the run in ``folder`` analysed (its summary.json
    ``summary``; ``converted``: its frames placed in the truth's by their seconds; ``offsets``: its events' last
    frames, in the truth's, where one is later); None for a run of its whole video, or where nothing but its events
    says how far it read (its truth after them stays missed). A failed run's stretch is the one it was asked for: it
    ends at ``truth_end`` (the video's last truth frame) or where its ``--max-seconds`` would have ended it."""
    if not asked(summary):
        return None
    read = last_read(folder, summary, truth_fps, converted)
    if read is None or read < 0:  # nothing but its events says how far it read (or it read nothing): the whole video
        return None
    last = max([*offsets, read])
    if summary.get("status") == "failed":  # an error is no stop asked for: the truth after it counts as missed
        start, limit = as_number(summary.get("start_s")), as_number(summary.get("max_seconds"))
        until = (start if math.isfinite(start) else 0.0) + limit if math.isfinite(limit) else math.inf
        last = max(last, min(truth_end, math.ceil(until * truth_fps) - 1) if math.isfinite(until) else truth_end)
    skipped, start, fps = as_number(summary.get("frames_skipped")), as_number(summary.get("start_s")), run_fps(summary)
    if not math.isfinite(skipped) and start > 0:  # a run from --start killed (--finish'ed or not): no count of the
        # frames passed over; its first row's frame, or the start at its rate where that is earlier
        skipped = min((f for f in (first_row(folder)[0], math.ceil(start * fps - 1e-6) if fps else math.nan)
                       if math.isfinite(f)), default=math.nan)
    skipped = skipped if math.isfinite(skipped) and skipped > 0 else 0.0
    first = int(skipped) if not converted else math.floor(skipped / fps * truth_fps + 0.5) if fps else 0
    return min(first, last), last


def within(iv: Interval, stretch: tuple[int, int]) -> bool:
    """The truth interval ``iv`` overlaps the ``stretch`` (inclusive frames) by a frame or more: it is scored."""
    return iv.onset <= stretch[1] and iv.offset >= stretch[0]


Reach = tuple[Path, dict, bool]  # how far a run read: its folder, its summary.json, its frames placed by their seconds?


def stretches(index: LongVideoIndex, reach: Mapping[str, Reach],
              spotted: Mapping[str, Sequence[Any]]) -> dict[str, dict[str, Any]]:
    """Truth video -> the stretch its run analysed (``first_frame``, ``last_frame``, their seconds, ``asked``: how it
    came to, ``truth_left_out``: the truth intervals wholly outside it), of the videos with events (``spotted``:
    video -> its events in the truth's frames) whose run covered a stretch only (``reach``: video -> its run folder,
    summary.json and whether its frames are placed in the truth's by their seconds). The one place that decides
    whether a run's truth outside what it read is left out: :func:`train.run_state.not_reached` is told by it."""
    out: dict[str, dict[str, Any]] = {}
    for v in index.videos:
        if v.name not in reach or v.name not in spotted:  # a run without events.csv: its truth counts as missed
            continue
        folder, summary, converted = reach[v.name]
        span = analysed(folder, summary, v.fps, converted, [s.offset for s in spotted[v.name]],
                        max((iv.offset for iv in v.intervals), default=-1))
        if span is None:
            continue
        out[v.name] = {"first_frame": span[0], "last_frame": span[1], "first_s": round(span[0] / v.fps, 3),
                       "last_s": round((span[1] + 1) / v.fps, 3), "asked": asked(summary),
                       "truth_left_out": sum(not within(iv, span) for iv in v.intervals)}
    return out


def scored_truth(index: LongVideoIndex, spans: Mapping[str, dict[str, Any]]) -> LongVideoIndex:
    """``index`` with each video of ``spans`` (:func:`stretches`) holding only the truth intervals that overlap its
    stretch."""
    def cut(v):
        if v.name not in spans:
            return v
        span = (spans[v.name]["first_frame"], spans[v.name]["last_frame"])
        return replace(v, intervals=[iv for iv in v.intervals if within(iv, span)])

    return replace(index, videos=[cut(v) for v in index.videos])


def stretch_line(name: str, span: Mapping[str, Any]) -> str:
    """The one line saying which stretch of ``name`` was scored and how many truth intervals were left out."""
    return (f"{name}: scored frames {span['first_frame']}-{span['last_frame']} of the truth ({span['first_s']:g}-"
            f"{span['last_s']:g} s), the stretch its run analysed ({span['asked']}); {span['truth_left_out']} truth "
            "interval(s) wholly outside it left out, those overlapping it kept ('stretches' in the JSON)")
