"""CAS(ME)^3 part A (Li et al., IEEE TPAMI 2022) whole recordings for spotting.

Assumed layout:

* the part-A label sheet(s) anywhere under the root, xlsx, xls (python-calamine, of the train extra) or csv.
  Either one sheet with a type column (``CAS(ME)3_part_A_v*.xlsx``: Subject, Filename, Onset,
  Apex, Offset, AU, a type column ``Micro-expression`` / ``Macro-expression``, Objective class,
  emotion), or the two v2 sheets whose names say the type: ``*part_A_ME_label*`` (micro) and ``*part_A_MaE_label*`` (macro).
  Of several versions of a sheet (``_v1.xls`` beside ``_v2.xlsx``, a dated ``_v2_20250903.xlsx``) the newest
  name of each type is read, with a warning naming the others.
* frames ``part_A/spNO.1/a/color/0.jpg`` ...: subject folder ``spNO.<n>``, one folder per
  recording (Filename, the letter), colour frames in ``color/``, a frame's number is its file
  name. 30 fps. The video name is ``spNO.1_a``. Of several folders of ``spNO.<n>`` folders, the one whose path
  names part A is read (a whole release has part B's and C's beside it).

Every recording folder found is a video of the set. Onset 0 with an offset is a movement already under way when
the recording starts (MEB's erratum for one such row sets its onset and apex to 1; the clip reader
:mod:`.casme3` keeps them from the first image): kept from the recording's first image (image 0, or image 1 where
it is numbered from 1), counted in notes. A blank onset, or onset 0 without an offset, has nothing coded: dropped
and counted. A missing apex takes the middle.
"""

from __future__ import annotations

import re
from pathlib import Path

from mpt_live.errors import InputError

from .casme3 import prefer_part_a, sheet_kind
from .files import ClipFrames, child_dirs, find_dirs, find_sheets, newest_name, pick, subdirs
from .sheets import as_int, cell_text, count, read_sheet
from .longvideo import (LeftOut, LongVideo, LongVideoIndex, finish, frame_positions, interval_from_row, normalise_type,
                        outside_line)
from .unscored import LACKED, Unscored

FPS = 30.0
COLUMNS = {
    "subject": ("Subject", "sub"),
    "filename": ("Filename", "seq"),
    "onset": ("Onset", "OnsetFrame", "Onset Frame"),
    "apex": ("Apex", "ApexFrame", "Apex Frame"),
    "offset": ("Offset", "OffsetFrame", "Offset Frame"),
}
OPTIONAL = {"type": ("Type", "Expression type", "Expression Type", "Category"),
            "aus": ("AU", "AUs", "Action Units"), "emotion": ("emotion", "Estimated Emotion")}


def _recordings(root: Path) -> tuple[Path, dict[str, tuple[Path, Path]]]:
    base = root if root.is_dir() else root.parent
    roots = find_dirs(base, lambda d: child_dirs(d, r"spNO\.\d+"))
    if not roots:
        raise InputError(f"{root}: no CAS(ME)^3 frame folders found (part_A/spNO.1/a/color/...)")
    frame_root = sorted(roots, key=prefer_part_a(base))[0]   # part A's, not part C's beside it
    out = {}
    for sub in sorted(p for p in frame_root.iterdir() if p.is_dir() and re.fullmatch(r"spNO\.\d+", p.name, re.I)):
        for rec in subdirs(sub):
            folder = rec / "color" if (rec / "color").is_dir() else rec
            out[f"{sub.name}_{rec.name}".lower()] = (sub, folder)
    return frame_root, out


def _aliases(subject: str, letter: str) -> tuple[str, ...]:
    """The other names a run may give recording ``letter`` of ``subject`` (spNO.1/a/color, spNO.1/a)."""
    return f"{subject}/{letter}/color", f"{subject}/{letter}"


NOT_CODED = "onset 0 or blank and no offset (not coded)"
ONSET_0 = "onset 0 (under way when the recording starts): kept from its first image"


def from_first_image(clip: ClipFrames, apex: int | None, notes: dict[str, int]) -> tuple[int, int | None]:
    """(onset, apex) of a row coded with onset 0 and an offset: a movement under way at the recording's start, kept
    from its first image (counted), as the clip reader keeps it (:func:`.sheet_samples.resolve_annotation`; MEB's erratum
    for one such row sets onset and apex to 1). Image 0 where the recording has one; image 1, apex 0 with it, where
    it is numbered from 1; otherwise 0 stays, outside the recording (:func:`.longvideo.frame_positions` drops it)."""
    count(notes, ONSET_0)
    if 0 not in clip.index_of and min(clip.index_of) == 1:
        return 1, (1 if apex == 0 else apex)
    return 0, apex


def load(root: Path) -> LongVideoIndex:
    pats = tuple(f"*{k}*.{ext}" for k in ("part_A", "part_a", "partA") for ext in ("xlsx", "xls", "csv"))
    sheets = sorted(find_sheets(root, pats, "CAS(ME)^3 part A label sheet"), key=newest_name)
    if not sheets:
        raise InputError(f"{root}: no CAS(ME)^3 part A label sheet found (*part_A*.xlsx)")
    warnings: list[str] = []
    by_kind = {k: [s for s in sheets if sheet_kind(s) == k] for k in ("micro", "macro")}
    if any(by_kind.values()):  # one sheet per type: two versions (v1 beside v2) would count each movement twice
        sheets = [pick(found, f"CAS(ME)^3 part A {k}-expression label sheet", root, prefer=newest_name,
                       warnings=warnings) for k, found in by_kind.items() if found]
    else:                      # the newest combined sheet
        sheets = [pick(sheets, "CAS(ME)^3 part A label sheet", root, prefer=newest_name, warnings=warnings)]
    _, recordings = _recordings(root)
    videos: dict[str, LongVideo] = {}
    clips: dict[str, ClipFrames] = {}
    unscored = Unscored()              # recording folders holding no image, recordings the copy lacks
    for key, (sub, folder) in recordings.items():
        letter = folder.parent.name if folder.name == "color" else folder.name
        name, aliases = f"{sub.name}_{letter}", _aliases(sub.name, letter)
        clip = unscored.read(folder, key, name, aliases)
        if clip is None:
            continue
        videos[key] = LongVideo(name, sub.name, FPS, [], frames=clip.frames, aliases=aliases)
        clips[key] = clip
    dropped: dict[str, int] = {}
    notes: dict[str, int] = {}
    labels: set[str] = set()
    cut: list[str] = []     # rows outside their recording's frames
    for sheet in sheets:
        named = sheet_kind(sheet)
        for row in read_sheet(sheet, COLUMNS, OPTIONAL):
            text = cell_text(row["subject"])
            m = re.fullmatch(r"(?:spNO\.?)?(\d+)", text, re.I)
            if not m:
                raise row.error(cell_text(row["filename"]), f"subject {text!r} is not spNO.<n> or a number")
            subject, letter = f"spNO.{int(m.group(1))}", cell_text(row["filename"])
            key = f"{subject}_{letter}".lower()
            ident = f"{subject}/{letter}"
            lacked = LeftOut(f"{subject}_{letter}", LACKED, _aliases(subject, letter))
            if unscored.drops(row, ident, key, key in videos, lacked, dropped):
                continue
            kind = named or normalise_type(cell_text(row["type"]))
            if kind is None:
                raise row.error(ident, f"type {cell_text(row['type'])!r} is not Micro- or Macro-expression "
                                       "(and the sheet's name does not say)")
            onset, apex, offset = (as_int(row[k]) for k in ("onset", "apex", "offset"))
            if not onset and not (offset or 0) > 0:  # nothing coded (a blank onset, or an all-zero row)
                count(dropped, NOT_CODED)
                continue
            if onset == 0:  # under way when the recording starts: from its first image
                onset, apex = from_first_image(clips[key], apex, notes)
            label = cell_text(row["emotion"]).lower()
            labels.add(label)
            v = videos[key]
            positions = frame_positions(row, ident, clips[key], onset, apex, offset, notes, cut, dropped)
            if positions is None:
                continue
            iv = interval_from_row(row, ident, *positions, kind, label, cell_text(row["aus"]), len(v.frames or []),
                                   dropped, notes, cut)
            if iv is not None:
                v.intervals.append(iv)
    return finish({v.name: v for v in videos.values()}, sorted(lb for lb in labels if lb), dropped, notes,
                  "casme3", sheets[0], warnings + unscored.warnings() + outside_line(cut), unscored.left_out())
