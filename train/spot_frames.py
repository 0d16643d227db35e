"""A run's events in the frames of the truth's video: the same seconds, where the run's frames are not the truth's.

``mpt-live`` numbers the frames of what it read: a copy of a truth video at another rate (a 25 or 60 fps
re-encode) or a variable-rate copy (a phone's, a screen recorder's, frames dropped) numbers them otherwise than
the truth's sheet, while the events' seconds (``onset_s``, ``offset_s``: the container's times) stay the
recording's. Such a run's events are placed in the truth's frames by their seconds, from the run's first frame
(``predictions.csv``'s first row: a video starting after its sound has its first frame later than 0).
A run whose frames are its seconds at the truth's rate (the same video) keeps its frame numbers, and so does a run
of a frame folder (summary.json ``source_frames``: SAMM's, CAS(ME)^3's numbered images), whatever ``--fps`` it
was timed at: its frames are the very images the sheet numbers. So does a run at another rate whose video's frame
count is the truth recording's (SAMM-LV's 200 fps images made into a video at ffmpeg's default 25 fps), stopped part-way
or not (summary.json ``source_frame_count``): the same images, timed otherwise, where a re-encode at another rate would
hold a count in proportion to the rates. A rate within 1 % of the truth's (29.97 fps of a 30 fps truth) is told so too:
the same images keep their numbers, a re-encode (107 892 frames of an hour's 108 000) is placed by its seconds, where
it drifted 3.6 s an hour; where the truth recording's frame count is not at hand (its video missing, no count in its
header, as a Matroska file or a raw H.264 stream written to a pipe has none, and its packets do not read), or the
run's (a summary from before ``source_frame_count``), the numbers are kept, as before, and a note says so and what
would give the count (:func:`unsure_rate`).
"""

from __future__ import annotations

import csv
import math
from dataclasses import replace
from pathlib import Path
from typing import Iterator, Sequence

from mpt_live.results import open_table
from mpt_live.rundir import read_summary
from mpt_live.timeline import as_number, last_frame_time

SLACK = 1.5  # frames: an event's frame number further than this from its seconds x rate is numbered otherwise
SAME_RATE = 1e-4  # relative: two rates this close are one rate written to other digits (29.97, 30000/1001)


def run_fps(s: dict) -> float | None:
    """The frame rate a run read its video at (its summary.json ``s``: ``source_fps``); None where it is not known
    or was assumed (no rate in the video)."""
    fps = s.get("source_fps")
    if s.get("source_fps_assumed") or isinstance(fps, bool) or not isinstance(fps, (int, float)):
        return None
    return float(fps) if 0 < fps < 1e4 else None


def _rows(folder: Path) -> Iterator[dict[str, str]]:
    """The rows of the run's predictions.csv one at a time, read by mpt-live's own reader
    (:func:`mpt_live.results.open_table`: a byte-order mark no part of the first column's name, a last line a kill cut
    short left out); none past a line that does not read (no file, bytes that are no text)."""
    try:
        with open_table(folder / "predictions.csv", whole_lines=True) as (_, rows):
            yield from rows
    except (OSError, UnicodeDecodeError, csv.Error):
        return


def first_row(folder: Path) -> tuple[float, float]:
    """The frame and time of the run's first row in predictions.csv (the first frame it analysed with a face); NaN
    where there is none or it does not read."""
    rows = _rows(folder)
    row = next(rows, None)
    rows.close()
    return (as_number(row.get("frame")), as_number(row.get("time_s"))) if row else (math.nan, math.nan)


def first_time(folder: Path, fps: float | None = None) -> float:
    """The time of the video's first frame: its first row in predictions.csv, less its frame number at ``fps`` (a
    run from ``--start`` T, or one whose face came later, has a first row past frame 0); 0.0 where it cannot be read."""
    frame, t = first_row(folder)
    t -= frame / fps if fps and math.isfinite(frame) and frame > 0 else 0.0
    return t if math.isfinite(t) and t >= 0 else 0.0


def same_rate(fps: float, truth_fps: float) -> bool:
    """``fps`` is the truth's ``truth_fps`` written otherwise (29.97 and 30000/1001: 1e-6 apart); 29.97 beside 30 is
    not (1e-3 apart: 3.6 s an hour)."""
    return abs(fps - truth_fps) <= SAME_RATE * truth_fps


def same_images(summary: dict, truth_frames: int | None, fps: float | None = None,
                truth_fps: float | None = None) -> bool:
    """The run's video holds as many frames as the truth recording (``truth_frames``; None: not known), to within
    0.2 % (a frame or two a decoder drops or adds at the end), and, where its rate ``fps`` is not the truth's
    ``truth_fps``, nearer that count than the count a re-encode at ``fps`` would hold (``truth_frames`` x ``fps`` /
    ``truth_fps``: 107 892 of an hour at 30 fps re-encoded at 29.97): a copy of the same images, whatever rate it is
    timed at. Its count is summary.json's ``source_frame_count`` (the whole source's, however far a stopped run read),
    where it is known; else, and for a complete run, ``frames_read`` (a summary from before that key, a source that
    does not say)."""
    if not truth_frames:
        return False
    other = truth_frames * fps / truth_fps if fps and truth_fps else truth_frames  # a re-encode's count
    return any(abs(n - truth_frames) <= max(2, 0.002 * truth_frames) and abs(n - truth_frames) <= abs(n - other)
               for n in _counts(summary))


def _read_whole(summary: dict) -> bool:
    """The run read its whole video (summary.json ``summary``): complete, from its first frame (no ``--start``) to its
    end (not stopped by ``--max-seconds``), so its ``frames_read`` is the video's frame count."""
    return summary.get("status") == "complete" and not summary.get("max_seconds_reached") and not (
        _number(summary.get("frames_skipped")) or 0)


def _whole_count(summary: dict) -> bool:
    """summary.json says how many frames the run's video holds: its ``source_frame_count``, or the ``frames_read``
    of a run that read it whole (a stopped run's, or one of a --start / --max-seconds stretch, says how far it read)."""
    return _number(summary.get("source_frame_count")) is not None or (
        _read_whole(summary) and _number(summary.get("frames_read")) is not None)


def _counts(summary: dict) -> list[float]:
    """The run video's frame count as its summary.json says (:func:`same_images`): none, one or two to try."""
    held = summary.get("source_frame_count")
    counts = [held] + [summary.get("frames_read")] * (_number(held) is None or _read_whole(summary))
    return [n for n in map(_number, counts) if n is not None]


def own_rate(summary: dict, truth_frames: int | None = None, truth_fps: float | None = None) -> float | None:
    """The rate a run's frame numbers count at where they may not be the truth's (its summary.json ``summary``); None
    for a frame folder or a video of the truth recording's images (:func:`same_images`: the sheet's numbers), or where
    its rate is not known."""
    fps = run_fps(summary)
    if summary.get("source_frames") is True or same_images(summary, truth_frames, fps, truth_fps):
        return None
    return fps


def at_other_rate(summary: dict, truth_fps: float, truth_frames: int | None = None) -> bool:
    """The run's frames are numbered at another rate than the truth's ``truth_fps`` (a re-encode: its events, and how
    far it read, are placed in the truth's frames by their seconds), as its summary.json says: a rate more than 1 %
    from the truth's, or any other rate where the truth recording's frame count ``truth_frames`` and the run's are
    known and are not one (:func:`same_images`; 29.97 fps of a 30 fps truth); a copy at the truth's rate whose timing
    varies shows it only in its events (:func:`in_truth_frames`)."""
    fps = own_rate(summary, truth_frames, truth_fps)
    return fps is not None and not same_rate(fps, truth_fps) and (
        abs(fps - truth_fps) > 0.01 * truth_fps or bool(truth_frames and _whole_count(summary)))


def unsure_rate(summary: dict, truth_fps: float, truth_frames: int | None = None,
                truth_video: Path | None = None) -> str | None:
    """Why a run's frame numbers are kept though its rate is not the truth's (within 1 % of it, the truth recording's
    frame count or the run's not known to compare, :func:`at_other_rate`): the same images timed otherwise keep their
    numbers, a re-encode's drift by the rates' difference; and what would give the count that is missing (the truth's
    ``truth_video``: there, or its header without one). None where the numbers are known to be the truth's, or are
    placed."""
    fps = own_rate(summary, truth_frames, truth_fps)
    if fps is None or same_rate(fps, truth_fps) or at_other_rate(summary, truth_fps, truth_frames):
        return None
    missing = [] if truth_frames else [_no_count(truth_video)]
    if not _whole_count(summary):
        missing.append("of the run's video (its summary.json gives neither source_frame_count nor frames_read)"
                       if _read_whole(summary) else
                       "of the run's video (its summary.json gives no source_frame_count, as an older mpt-live's or a "
                       "raw stream's does not, and the run did not read it whole: run it to the end, without --start "
                       "or --max-seconds)")
    return (f"run at {fps:g} fps, the truth's {truth_fps:g}: its frame numbers kept (the same images timed otherwise); "
            f"were it a re-encode, they drift {abs(1 - truth_fps / fps) * 3600:.1f} s an hour. To tell, no frame count "
            + " and none ".join(missing))


def _no_count(video: Path | None) -> str:
    """Why the truth recording's frame count is missing (:func:`video_frames` of ``video``) and what would give it."""
    if video is None:
        return "of the truth recording (it names no video)"
    if not Path(video).is_file():
        return f"of the truth recording ({video} is not there: put its video there)"
    return (f"of the truth recording ({video}: neither its header nor its packets give one, as of a file that is no "
            f"video ffmpeg reads: name a copy that plays in the truth instead)")


def in_truth_frames(spotted: Sequence, folder: Path, truth_fps: float, summary: dict | None = None,
                    truth_frames: int | None = None, notes: list[str] | None = None) -> tuple[list, str | None]:
    """``spotted`` (``train.spot_metrics.Spotted`` with their seconds) in the frames of a video coded at
    ``truth_fps``, and why they were converted (None: kept as they are). ``summary``: the run's summary.json
    where the caller has read it ({} for none), else it is read from ``folder``. ``truth_frames``: the truth
    recording's frame count where it is known (a frame folder's, a video's header), for :func:`same_images`. Where an
    event lacks its seconds (an edited events.csv, another tool's), none can be placed: all keep their frame numbers,
    and ``notes`` gets one line naming the run (:func:`untimed`)."""
    if summary is None:
        summary = read_summary(folder) or {}
    fps = own_rate(summary, truth_frames, truth_fps)  # None: a frame folder, or a video of its images: the sheet's
    timed = [s for s in spotted if s.onset_s is not None and s.offset_s is not None]  # numbers
    if fps is not None and len(timed) < len(spotted) and notes is not None:
        other = at_other_rate(summary, truth_fps, truth_frames)
        notes.append(untimed(folder, len(spotted) - len(timed), len(spotted), fps, truth_fps, other))
    if fps is None or not spotted or len(timed) < len(spotted):
        return list(spotted), None
    t0 = first_time(folder, fps)
    if not at_other_rate(summary, truth_fps, truth_frames):
        if all(abs(s.onset - (s.onset_s - t0) * fps) <= SLACK and abs(s.offset - (s.offset_s - t0) * fps) <= SLACK
               for s in spotted):
            return list(spotted), None
        why = f"its frames are not its seconds at {fps:g} fps (a variable frame rate)"
    else:
        why = f"run at {fps:g} fps"
    out = []
    for s in spotted:
        on = max(0, math.floor((s.onset_s - t0) * truth_fps + 0.5))
        # inclusive end: the last truth frame shown before the run's offset frame ends (one run frame later)
        off = max(on, math.ceil((s.offset_s - t0 + 1.0 / fps) * truth_fps - 0.5) - 1)
        apex = None if s.apex_s is None else min(max(math.floor((s.apex_s - t0) * truth_fps + 0.5), on), off)
        out.append(replace(s, onset=on, offset=off, apex=apex))
    return out, why


def untimed(folder: Path, n: int, of: int, fps: float, truth_fps: float, other: bool) -> str:
    """The line saying that ``n`` of a run's ``of`` events lack their seconds, so its frame numbers (counted at ``fps``)
    were kept for all of them, and what that means against a truth coded at ``truth_fps`` (``other``: the run is known
    to be at another rate, :func:`at_other_rate`)."""
    return (f"{folder / 'events.csv'}: "
            + ("its one event has" if of == 1 else f"{n} of its {of} events {'has' if n == 1 else 'have'}")
            + " no onset_s or offset_s, so none is placed in the "
            f"truth's frames by its seconds: all keep the run's frame numbers, counted at {fps:g} fps; "
            + (f"the truth is coded at {truth_fps:g} fps, so they are scored at the wrong frames (the run's frame n is "
               f"the truth's n x {truth_fps / fps:.4g}): give every event its seconds, as mpt-live writes them"
               if other else "scored as the truth's, not checked for a variable frame rate"))


def video_frames(path: Path | None) -> int | None:
    """The frame count a truth video's header gives (as mpt-live's own reader reads it for a run's
    ``source_frame_count``), else its video packets counted without decoding them (PyAV: a Matroska file or a raw
    H.264 stream ffmpeg wrote to a pipe has no duration to count by); None where there is no file or nothing reads it."""
    if path is None or not Path(path).is_file():
        return None
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        n = cap.get(cv2.CAP_PROP_FRAME_COUNT) if cap.isOpened() else 0
    finally:
        cap.release()
    return int(n) if 0 < n < 1e9 else _packets(Path(path))


def _packets(path: Path) -> int | None:
    """The packets of ``path``'s first video stream (a frame each), demuxed, not decoded; None where none reads."""
    import av

    try:
        with av.open(str(path), metadata_errors="replace") as container:
            if not container.streams.video:
                return None
            n = sum(1 for p in container.demux(container.streams.video[0]) if p.size)
    except (av.FFmpegError, OSError, UnicodeDecodeError):
        return None
    return n or None


def _number(v: object) -> float | None:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) and not isinstance(v, bool) else None


def last_prediction(folder: Path) -> tuple[float | None, float | None]:
    """The highest frame and time (``frame``, ``time_s``) of the run's predictions.csv, written as it read: how far a
    run killed before its summary said got, read as ``mpt-live --finish`` reads it
    (:func:`mpt_live.timeline.last_frame_time`); (None, None) where it has none."""
    return last_frame_time(_rows(folder))


def last_read(folder: Path, summary: dict, truth_fps: float, converted: bool) -> int | None:
    """The last frame of the truth's recording a run read (a run that stopped early never reached the truth after
    it): summary.json's ``frames_read`` (``summary``) or its predictions.csv's last frame, in its own frame numbers;
    where its events were placed in the truth's frames by their seconds (``converted``, :func:`in_truth_frames`):
    the end of what it read (``source_seconds``, or predictions' last time plus a frame) at ``truth_fps``; -1 where it
    read nothing, None where nothing says."""
    frame, t = last_prediction(folder)
    n = _number(summary.get("frames_read"))
    if n is not None and (skipped := _number(summary.get("frames_skipped"))):  # frames before --start: not counted
        n = n + skipped if n > 0 else n
    if n == 0 and frame is None:
        return -1  # it read nothing (a run that failed as it began)
    if n is not None and n > 0:
        frame = max(frame if frame is not None else -1, n - 1)
    if not converted:
        return None if frame is None else int(frame)
    fps = run_fps(summary)
    t0 = first_time(folder, fps)
    read = _number(summary.get("source_seconds"))  # the container's times, as the events' and predictions' are
    ends = [e for e in (read - t0 if read is not None else None, t - t0 + 1.0 / fps if t is not None and fps else None)
            if e is not None] or ([n / fps] if n is not None and fps else [])  # its own times first: not the header's
    return max(0, math.ceil(max(ends) * truth_fps - 0.5) - 1) if ends else None
