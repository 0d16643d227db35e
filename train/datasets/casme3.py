"""CAS(ME)^3 part A (Li et al., IEEE TPAMI 2022) from its distribution: label sheet + frame folders.

Layout: the part-A ME label sheet (xlsx or csv, e.g. ``cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx``;
columns Subject, Filename, Onset, Apex, Offset, AU, Objective class, emotion) anywhere under the
root. The macro-expression sheet beside it (``cas(me)3_part_A_MaE_label*``) is never used; a combined
sheet with a type column (``CAS(ME)3_part_A_v1.xlsx``: ``Micro-expression`` / ``Macro-expression``)
has its macro rows dropped and counted. Frames, either of the two part-A packages:

* whole recordings ``spNO.1/b/color/175.jpg``: the subject folder is ``spNO.<n>``, Filename is the
  recording's letter folder (several micro-expressions share one recording);
* the clips package ``Part_A_ME_clip/frame/spNO.1_b_175/175.jpg``: one folder per micro-expression,
  named ``<Subject>_<Filename>_<Onset>`` (its ``depth`` twin is not read).

Folder names are matched ignoring letter case (the clips say ``spNo.1`` where the sheet says
``spNO.1``); frame numbers are the file names; the clip id is ``<letter>_<onset frame>``. 30 fps. Where a copy
holds part B's or C's ``spNO.<n>`` folders too, the frame root whose path names part A is read.

Classes: ``classes=7`` (default): happy, disgust, fear, anger, sad, surprise, others -- the sheet's
own emotion labels. ``classes=4``: negative (disgust, fear, anger, sad), positive (happy), surprise,
others. ``classes=3``: negative, positive, surprise (others dropped and counted). Sheet spellings
happiness/sadness/other are accepted for happy/sad/others.
"""

from __future__ import annotations

import re
from pathlib import Path

from mpt_live.errors import InputError

from .files import child, child_dirs, find_dirs, find_sheets, frame_number, newest_name, pick, pick_frames, prefer_raw
from .longvideo import normalise_type
from .samples import DatasetIndex
from .sheet_samples import build_samples, no_samples
from .sheets import SheetRow, as_int, cell_text, count, read_sheet

FPS = 30.0
CLASSES_7 = ["happy", "disgust", "fear", "anger", "sad", "surprise", "others"]
CLASSES_4 = ["negative", "positive", "surprise", "others"]
CLASSES_3 = ["negative", "positive", "surprise"]
SPELLINGS = {"happy": "happy", "happiness": "happy", "disgust": "disgust", "fear": "fear",
             "anger": "anger", "angry": "anger", "sad": "sad", "sadness": "sad",
             "surprise": "surprise", "others": "others", "other": "others"}
TO_4 = {"happy": "positive", "disgust": "negative", "fear": "negative", "anger": "negative",
        "sad": "negative", "surprise": "surprise", "others": "others"}
COLUMNS = {
    "subject": ("Subject", "sub"),
    "filename": ("Filename", "seq"),
    "onset": ("Onset", "OnsetFrame", "Onset Frame"),
    "apex": ("Apex", "ApexFrame", "Apex Frame"),
    "offset": ("Offset", "OffsetFrame", "Offset Frame"),
    "emotion": ("emotion", "Estimated Emotion"),
}
OPTIONAL = {"type": ("Type", "Expression type", "Category")}
RECORDINGS = r"spNO\.\d+"            # part_A/spNO.1/b/color/175.jpg
CLIPS = r"spNO\.\d+_[^_]+_\d+"      # Part_A_ME_clip/frame/spNO.1_b_175/175.jpg


def sheet_kind(path: Path) -> str | None:
    """The type a part-A sheet's name gives (``_MaE_`` macro, ``_ME_`` micro), None for a combined sheet."""
    name = path.name.lower()
    if re.search(r"(^|[_ ])mae([_ ]|$)", name):
        return "macro"
    if re.search(r"(^|[_ ])me([_ ]|$)", name):
        return "micro"
    return None


def _sheets(root: Path) -> list[Path]:
    """Candidate ME label sheets: the macro-expression sheet (``*_MaE_label*``) is not one."""
    pats = tuple(f"*{k}*.{ext}" for k in ("part_A", "part_a", "partA", "ME_label")
                 for ext in ("xlsx", "xls", "csv"))
    return [p for p in find_sheets(root, pats, "CAS(ME)^3 part A label sheet") if sheet_kind(p) != "macro"]


def prefer_part_a(root: Path):
    """Sort key for CAS(ME)^3 frame roots: one whose path below ``root`` names part A first, one naming another part
    last (a whole release holds ``part_B`` (unlabelled) and ``part_C`` beside ``part_A``, also in ``spNO.<n>``
    folders), then :func:`.files.prefer_raw`."""
    raw = prefer_raw(root)

    def key(p: Path) -> tuple:
        rel = (p.relative_to(root).as_posix() if p != root else p.name).lower()
        parts = re.findall(r"part[ _-]?([a-z])(?![a-z])", rel)
        return (0 if parts and parts[-1] == "a" else 2 if parts else 1, raw(p))
    return key


def _micro_rows(rows, dropped: dict[str, int]):
    """The rows of a combined sheet whose type column says micro (or is blank); macro rows are dropped, counted."""
    for row in rows:
        text = cell_text(row["type"])
        kind = normalise_type(text) if text else "micro"
        if kind is None:
            raise row.error(f"{cell_text(row['subject'])}/{cell_text(row['filename'])}",
                            f"type {text!r} is not Micro- or Macro-expression")
        if kind == "macro":
            count(dropped, "macro-expression row (type column)")
            continue
        yield row


def _frame_root(d: Path) -> bool:
    """A folder of recordings (``spNO.<n>``) or of ME clips (``spNO.<n>_<letter>_<onset>``; not their ``depth``
    copy, nor the macro-expression clips of ``Part_A_MaE_clip``)."""
    if child_dirs(d, RECORDINGS):
        return True
    macro = any(sheet_kind(Path(q)) == "macro" for q in (d.name, d.parent.name))
    return d.name.lower() != "depth" and not macro and child_dirs(d, CLIPS)


def load(root: Path, classes: int = 7, faces: str = "align") -> DatasetIndex:
    if classes not in (7, 4, 3):
        raise InputError(f"casme3: classes must be 7, 4 or 3, got {classes}")
    sheet = pick(_sheets(root), "CAS(ME)^3 part A label sheet", root, prefer=newest_name, warnings=(warnings := []))
    dropped: dict[str, int] = {}
    notes: dict[str, int] = {}
    frame_root, cropped = pick_frames(find_dirs(root if root.is_dir() else root.parent, _frame_root),
                                      "CAS(ME)^3 frame folders (spNO.1/a/color/... or Part_A_ME_clip/frame/"
                                      "spNO.1_a_5/...)", root, faces, prefer_part_a(root), notes, sheet, warnings)
    clips = not child_dirs(frame_root, RECORDINGS)
    if classes == 7:
        labels, class_list = dict(SPELLINGS), CLASSES_7
    else:
        labels = {k: TO_4[v] for k, v in SPELLINGS.items()}
        class_list = CLASSES_4 if classes == 4 else CLASSES_3

    def locate(row: SheetRow) -> tuple[str, str, Path]:
        text = cell_text(row["subject"])
        n = as_int(row["subject"])
        m = re.fullmatch(r"spNO\.?(\d+)", text, re.I)
        if n is None and not m:
            raise row.error(cell_text(row["filename"]), f"subject {text!r} is not spNO.<n> or a number")
        subject = f"spNO.{n if n is not None else int(m.group(1))}"
        letter = cell_text(row["filename"])
        if not letter:
            raise row.error(subject, "Filename is empty")
        if clips:
            onset = as_int(row["onset"])
            if onset is None:
                raise row.error(f"{subject}/{letter}", f"onset {cell_text(row['onset'])!r} is not a frame number")
            return subject, letter, child(frame_root, f"{subject}_{letter}_{onset}")
        folder = child(child(frame_root, subject), letter)
        color = child(folder, "color")
        return subject, letter, color if color.is_dir() else folder

    rows = _micro_rows(read_sheet(sheet, COLUMNS, OPTIONAL), dropped)
    samples = build_samples(rows, "casme3", FPS, labels, class_list, locate, dropped, notes, warnings=warnings)
    for s in samples:  # several MEs per recording folder: id by onset frame number
        s.clip_id = f"{s.clip_id}_{frame_number(s.frames[s.onset])}"
    if not samples:
        raise no_samples(sheet, dropped)
    return DatasetIndex(samples, list(class_list), dropped, notes, cropped=cropped, warnings=warnings)
