"""Long videos with spotting annotations: the truth that ``mpt-eval spot`` scores against.

A spotting set is a list of :class:`LongVideo`: one recording (a video file or a folder of frame
images), its frame rate and its annotated intervals (:class:`Interval`, onset/apex/offset as
**0-based frame indices into the recording, inclusive**, type ``micro`` or ``macro``, the emotion
label when the set has one). Readers:

* ``annotations.csv`` of ``mpt-synth --long`` (:func:`read_annotations_csv`): columns ``video``
  (file name under ``ROOT/videos``), ``onset``, ``apex``, ``offset``, ``fps``, ``type``, ``label``,
  ``action_units``, optionally ``face`` (whose face, in a video of several people: the run's face IDs are paired
  with them, :func:`train.spot_metrics.score`); frame numbers are already 0-based indices. A video is named by its
  file's stem (``long_001``), by its path as written where another file of the sheet shares the stem (``clip.mov``
  beside ``clip.mkv``).
* the real spotting datasets in their distribution layouts (:func:`load_long_dataset`):
  ``casme2lv`` (CAS(ME)^2, :mod:`.casme2lv`), ``sammlv`` (SAMM long videos, :mod:`.sammlv`),
  ``casme3`` (CAS(ME)^3 part A long recordings, :mod:`.casme3lv`).

As with the clip readers, nothing is dropped silently (``dropped``: reason -> count) and bad input
raises :class:`InputError` naming the sheet and its spreadsheet row. The rows of a recording the copy lacks
(a partial download) are dropped, counted, and named in one warning; so are those of a recording folder that holds
no image frames (never extracted, or not copied), which is no video of the set (:mod:`.unscored`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from mpt_live.cli_options import parse_time
from mpt_live.errors import InputError

from .files import ClipFrames
from .samples import natural_key
from .sheets import SheetRow, as_int, cell_text, count, first_of, read_sheet

log = logging.getLogger("mpt.datasets")

LONG_DATASETS = ("casme2lv", "sammlv", "casme3")
TYPES = ("micro", "macro")


@dataclass(frozen=True)
class Interval:
    """One annotated facial movement of a long video (0-based frame indices, inclusive)."""

    onset: int
    apex: int
    offset: int
    type: str                 # "micro" | "macro"
    label: str = ""           # emotion class; "" when the set has none
    action_units: str = ""
    face: str = ""            # whose face, where a sheet names faces (annotations.csv's face column); "" else

    @property
    def frames(self) -> int:
        return self.offset - self.onset + 1


@dataclass
class LongVideo:
    """One recording and its annotated intervals."""

    name: str                                 # unique within the set: the key runs are matched by
    subject: str
    fps: float
    intervals: list[Interval]
    video: Path | None = None                 # a video file ...
    frames: list[Path] | None = None          # ... or its frame images in time order
    aliases: tuple[str, ...] = ()             # other spellings a run may use (relative paths)

    @property
    def source(self) -> Path | None:
        return self.video if self.video is not None else (self.frames[0].parent if self.frames else None)


@dataclass(frozen=True)
class LeftOut:
    """A recording of the copy, or one its sheet names, that is no video of the set (its frame folder empty, its video
    unreadable, the copy lacking it) and why: a run's events of it are named, not scored (``mpt-eval spot``)."""

    name: str
    reason: str
    aliases: tuple[str, ...] = ()
    # where the sheet gives only part of its name (CAS(ME)^2: subject + stimulus code, 16_0101, of
    # 16_0101disgustingteeth.avi): of a run's file name ``n``, ``name`` where ``n`` is this recording's (key(n) == name)
    key: Callable[[str], str | None] | None = None


@dataclass
class LongVideoIndex:
    """The videos of a spotting set, its class order and the counts of dropped rows."""

    videos: list[LongVideo]
    classes: list[str]
    dropped: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)
    name: str = ""
    warnings: list[str] = field(default_factory=list)  # one line each (several candidate sheets)
    left_out: list[LeftOut] = field(default_factory=list)  # recordings dropped from the truth

    def counts(self) -> dict[str, int]:
        out = {t: 0 for t in TYPES}
        for v in self.videos:
            for iv in v.intervals:
                out[iv.type] += 1
        return out


def normalise_type(text: str) -> str | None:
    """Sheet spellings -> "micro" / "macro" ('micro-expression', 'Micro - 1/2', 'Macro'); None if neither."""
    t = text.strip().lower()
    if t.startswith("micro"):
        return "micro"
    if t.startswith("macro"):
        return "macro"
    return None


OUTSIDE = "outside its recording's frames (a recording cut short, or a wrong frame number)"
BACKWARDS = "offset before onset"


def outside(row: SheetRow, ident: str, what: str, cut: list[str], dropped: dict[str, int],
            reason: str = OUTSIDE) -> None:
    """A row whose interval the recording does not hold (frames or video cut short, a partial copy; or a typo in
    the sheet, ``reason`` :data:`BACKWARDS` for an offset before the onset): dropped, counted, kept for
    :func:`outside_line`, as the rows of a recording the copy lacks are."""
    count(dropped, reason)
    cut.append(f"{row.sheet} row {row.row} ({ident}: {what})")


def outside_line(cut: list[str], show: int = 3) -> list[str]:
    """The one warning line naming the rows :func:`outside` dropped; none when there were none."""
    if not cut:
        return []
    return [(f"{len(cut)} annotation row(s) whose frames their recording does not hold as coded (a recording cut "
             f"short, a wrong frame number in the sheet, an offset before the onset), dropped: {first_of(cut, show)}")]


def interval_from_row(row: SheetRow, ident: str, onset: int | None, apex: int | None, offset: int | None,
                      kind: str, label: str, aus: str, n_frames: int | None, dropped: dict[str, int],
                      notes: dict[str, int], cut: list[str] | None = None) -> Interval | None:
    """Validated 0-based interval; a row without a usable onset/offset is dropped (counted), and one with an offset
    before its onset, or outside the recording's ``n_frames``, is dropped by :func:`outside` (these raise naming the
    row where ``cut`` is None: a sheet of this project's own)."""
    if onset is None or offset is None:
        count(dropped, "onset or offset missing")
        return None
    if offset < onset:
        if cut is None:
            raise row.error(ident, f"onset {onset} > offset {offset}")
        outside(row, ident, f"onset {onset} > offset {offset}", cut, dropped, BACKWARDS)
        return None
    if n_frames is not None and (onset < 0 or offset >= n_frames):
        what = f"interval {onset}..{offset} (0-based) is outside the recording (frames 0..{n_frames - 1})"
        if cut is None:
            raise row.error(ident, what)
        outside(row, ident, what, cut, dropped)
        return None
    if apex is None or not onset <= apex <= offset:
        count(notes, "apex missing or outside onset..offset: middle used")
        apex = (onset + offset) // 2
    return Interval(onset, apex, offset, kind, label, aus)


UNCODED_OFFSET = "offset 0 or -1 (not coded): apex used as offset"
UNCODED_OFFSET_NO_APEX = "offset 0 or -1 (not coded) and no apex at or after the onset"


def uncoded_offset(onset: int | None, apex: int | None, offset: int | None, dropped: dict[str, int],
                   notes: dict[str, int]) -> tuple[bool, int | None]:
    """Offset 0 in CAS(ME)^2's and SAMM-LV's sheets (image numbers from 1) means "offset not coded" (so does -1,
    SAMM's mark of an unknown apex): the apex is the offset, as the MEGC spotting baselines take it (counted in
    ``notes``); without an apex at or after the onset (apex 0, -1 or blank) the row has no end: (False, None),
    dropped and counted. Other offsets: (True, offset)."""
    if offset is None or offset > 0:
        return True, offset
    if apex is not None and apex > 0 and (onset is None or apex >= onset):
        count(notes, UNCODED_OFFSET)
        return True, apex
    count(dropped, UNCODED_OFFSET_NO_APEX)
    return False, None


def frame_positions(row: SheetRow, ident: str, clip: ClipFrames, onset: int | None, apex: int | None,
                    offset: int | None, notes: dict[str, int], cut: list[str], dropped: dict[str, int]
                    ) -> tuple[int | None, int | None, int | None] | None:
    """Image numbers -> 0-based positions in a recording of frame images (None stays None). A row whose onset or
    offset is outside the recording's first..last image, or whose frames are all missing, is dropped by
    :func:`outside` (None); a number in a gap of the
    numbering (dropped frames) takes the nearest image inside the interval (counted in ``notes``); an
    apex outside onset..offset or outside the recording becomes None (the middle is used, counted by
    :func:`interval_from_row`, as for a video file; CAS(ME)^3's frames are numbered from 0, so its apex 0 is an image)."""
    for what, n in (("onset", onset), ("offset", offset)):
        if n is not None and clip.position(n) is None:
            outside(row, ident, f"{what} frame {n} not found in {clip.folder} ({clip.span()})", cut, dropped)
            return None
    on = clip.position(onset, "after") if onset is not None else None
    off = clip.position(offset, "before") if offset is not None else None
    inside = apex is not None and (onset is None or offset is None or onset <= apex <= offset)
    ap = clip.position(apex) if inside else None
    if on is not None and off is not None and onset <= offset:
        if on > off:
            outside(row, ident, f"frames {onset}..{offset} are all missing from {clip.folder} ({clip.span()})", cut,
                    dropped)
            return None
        ap = None if ap is None else min(max(ap, on), off)
    if any(n is not None and n not in clip.index_of for n in (onset, offset)) or (
            ap is not None and apex not in clip.index_of):
        count(notes, "frame number in a gap of the recording's numbering: nearest frame used")
    return on, ap, off


def finish(videos: dict[str, LongVideo], classes: list[str], dropped: dict[str, int],
           notes: dict[str, int], name: str, sheet: Path, warnings: list[str] | None = None,
           gone: list[LeftOut] | None = None, skipped: dict[str, int] | None = None) -> LongVideoIndex:
    """Sorted index (``gone``: the recordings dropped from it, once each; ``skipped``: rows that are no annotation,
    totals or notes under a table, counted in its notes with ``notes``); InputError when no interval is usable, saying
    why its rows were dropped or skipped; summary logged."""
    out = sorted(videos.values(), key=lambda v: natural_key(v.name))
    for v in out:
        v.intervals.sort(key=lambda iv: (iv.onset, iv.offset))
    once: dict[str, LeftOut] = {}
    for g in gone or []:
        if g.name not in videos:
            once.setdefault(g.name, g)
    index = LongVideoIndex(out, classes, dropped, {**notes, **(skipped or {})}, name, list(warnings or []), list(once.values()))
    if not any(v.intervals for v in out):
        why = "; ".join(f"{n} row(s): {reason}" for reason, n in sorted(dropped.items()))
        passed = "; ".join(f"{n} row(s): {note.removesuffix(': skipped')}"  # the word is said once, before
                           for note, n in sorted((skipped or {}).items()))
        why = "; ".join(w for w in (f"dropped {why}" if why else "", f"skipped {passed}" if passed else "") if w)
        raise InputError(f"{sheet}: no usable intervals" + (f" ({why})" if why else ""))
    c = index.counts()
    log.info("%s: %d videos, %d micro, %d macro intervals", name, len(out), c["micro"], c["macro"])
    for reason, n in sorted(dropped.items()):
        log.info("%s: dropped %d row(s): %s", name, n, reason)
    return index


# ---------------------------------------------------------------- annotations.csv (mpt-synth --long)
CSV_COLUMNS = {k: (k,) for k in ("video", "onset", "apex", "offset", "fps", "type")}
CSV_OPTIONAL = {"label": ("label",), "action_units": ("action_units", "action units"), "face": ("face",)}


def _seconds_hint(text: str, fps: float) -> str:
    """Where a truth cell reads as a time (``3.17``, ``0:03.17``: a user who wrote seconds), the frame it would be
    at the row's fps, so the one-line error says what to write instead; else nothing."""
    if not re.fullmatch(r"(\d+:){0,2}\d+(\.\d*)?", text) or ("." not in text and ":" not in text):
        return ""
    try:
        seconds = parse_time(text, "")
    except ValueError:
        return ""
    unit = "" if ":" in text else " s"
    return (f": the truth's onset, apex and offset are frame numbers, not times ({text}{unit} at {fps:g} fps is frame "
            f"{round(seconds * fps)})")


def read_annotations_csv(path: str | Path) -> LongVideoIndex:
    """The ``annotations.csv`` of a long benchmark (``mpt-synth --long``); videos under ``videos/``."""
    path = Path(path)
    if path.is_dir():
        path = path / "annotations.csv"
    if not path.is_file():
        raise InputError(f"{path}: no such annotations file")
    root = path.parent
    videos: dict[str, LongVideo] = {}
    dropped: dict[str, int] = {}
    notes: dict[str, int] = {}
    labels: set[str] = set()
    seen: dict[tuple, Any] = {}  # (video, face, onset, offset, type) -> the row that had it
    faces: dict[str, dict[str, int]] = {}  # video -> its faces ("" none named) -> the first row of each
    for row in read_sheet(path, CSV_COLUMNS, CSV_OPTIONAL):
        name = cell_text(row["video"])
        if not name:
            raise row.error("", "video is empty")
        kind = normalise_type(cell_text(row["type"]))
        if kind is None:
            raise row.error(name, f"type {cell_text(row['type'])!r} is not micro or macro")
        try:
            fps = float(cell_text(row["fps"]))
        except ValueError:
            fps = 0.0
        if not fps > 0:
            raise row.error(name, f"fps {cell_text(row['fps'])!r} is not a positive number")
        written = PurePosixPath(name.replace("\\", "/")).as_posix()  # a/clip.mp4 and b/clip.mp4: two videos
        v = videos.get(written)
        if v is None:
            stem = PurePosixPath(written).stem
            v = videos[written] = LongVideo(stem, stem, fps, [], video=root / "videos" / name, aliases=(name,))
        elif abs(v.fps - fps) > 1e-6:
            raise row.error(name, f"fps {fps:g} differs from the video's earlier rows ({v.fps:g})")
        label = cell_text(row["label"])
        labels.add(label)
        frames = {}
        for col in ("onset", "apex", "offset"):  # our own sheet: a frame number, or blank (apex only)
            text, frames[col] = cell_text(row[col]), as_int(row[col])
            if (text or col != "apex") and (frames[col] is None or frames[col] < 0):
                raise row.error(name, f"{col} {text!r} is not a frame number (0-based, >= 0)"
                                      f"{_seconds_hint(text, fps)}")
        face = cell_text(row["face"])  # two people's movements in one video: each of its own face
        key = (written, face, frames["onset"], frames["offset"], kind)
        if key in seen:
            raise row.error(name, f"the same interval {frames['onset']}..{frames['offset']} ({kind}) as row "
                                  f"{seen[key]}")
        seen[key] = row.row
        iv = interval_from_row(row, name, frames["onset"], frames["apex"], frames["offset"],
                               kind, label, cell_text(row["action_units"]), None, dropped, notes)
        if iv is not None:
            v.intervals.append(replace(iv, face=face))
            faces.setdefault(written, {}).setdefault(face, row.row)
    for written, named in faces.items():  # a face for each row of a video, or for none: which face had the others?
        if "" in named and len(named) > 1:
            raise InputError(f"{path} row {named['']} ({written}): no face, where rows of its video name faces "
                             f"({', '.join(sorted(f for f in named if f))}): give each row of it a face")
    stems: dict[str, int] = {}
    for v in videos.values():
        stems[v.name] = stems.get(v.name, 0) + 1
    for written, v in videos.items():  # named by its stem (long_001), by its path where another file shares the stem
        if stems[v.name] > 1:
            v.name = v.subject = written
    return finish({v.name: v for v in videos.values()}, sorted((lb for lb in labels if lb), key=natural_key), dropped,
                  notes, "annotations", path)


def load_long_dataset(name: str, root: str | Path, **options: Any) -> LongVideoIndex:
    """Load spotting set ``name`` (one of :data:`LONG_DATASETS`) from its distribution folder."""
    root = Path(root).expanduser()
    if not root.exists():
        raise InputError(f"{root}: dataset path does not exist")
    if not root.is_dir():
        raise InputError(f"{root}: a file; --data is the dataset's folder in its distribution layout")
    if name == "casme2lv":
        from . import casme2lv as mod
    elif name == "sammlv":
        from . import sammlv as mod
    elif name == "casme3":
        from . import casme3lv as mod
    else:
        raise InputError(f"unknown spotting dataset {name!r}; choose one of {', '.join(LONG_DATASETS)}")
    try:
        index = mod.load(root, **options)
    except PermissionError as e:  # a folder or file of the layout this user may not read: which one
        raise InputError(f"{e.filename or root}: cannot read ({e.strerror})") from None
    index.name = name
    return index
