"""CASME II (Yan et al., PLoS ONE 2014) from its distribution: coding sheet + frame folders.

Layout: ``CASME2-coding-*.xlsx`` (columns Subject, Filename, OnsetFrame, ApexFrame, OffsetFrame,
Action Units, Estimated Emotion) anywhere under the root, or the label sheet many copies carry instead,
``CASME2_label_Ver_2.xls`` (the same columns; read by the MEGC/MEAN code, e.g. ``CASME2/CASME2_label_Ver_2.xls`` beside
``CASME2-RAW``; the coding sheet is read where a copy has both), and frames ``sub01/EP02_01f/img46.jpg``
(``CASME2_RAW_selected`` / ``CASME2-RAW``) or ``sub01/EP02_01f/reg_img46.jpg`` (``Cropped``). The
frame root is the folder holding the ``subNN`` folders; uncropped frames are preferred when both
exist. Sheet frame numbers are the numbers in the file names and become indices into the clip's
frames sorted by number. Subject ``1`` -> folder ``sub01``. 200 fps.

Classes (the paper's 5-class protocol, fixed order): happiness, surprise, disgust, repression,
others. The 'fear' and 'sadness' rows are dropped and counted. A missing apex ('/', blank, or 0) takes MEB's
estimate where :mod:`.errata` has one, else the middle of onset..offset (counted in notes).
"""

from __future__ import annotations

import re
from pathlib import Path

from .files import child, child_dirs, find_dirs, find_sheets, newest_name, pick, pick_frames, prefer_raw
from .samples import DatasetIndex
from .sheet_samples import build_samples, no_samples
from .sheets import SheetRow, as_int, cell_text, read_sheet

FPS = 200.0
SHEETS = tuple(f"CASME2{stem}*.{ext}" for stem in ("-coding", "_label") for ext in ("xlsx", "xls", "csv"))


def coding_first(p: Path) -> tuple:
    """Sort key of the sheets: the coding sheet (``CASME2-coding-*``, whose rows :mod:`.errata` is keyed to) before
    the label sheet (``CASME2_label_Ver_2.xls``), then :func:`.files.newest_name`."""
    return (not p.name.lower().startswith("casme2-coding"), newest_name(p))
CLASSES = ["happiness", "surprise", "disgust", "repression", "others"]
LABELS = {"happiness": "happiness", "surprise": "surprise", "disgust": "disgust",
          "repression": "repression", "others": "others", "other": "others",
          "fear": "fear", "sadness": "sadness"}
COLUMNS = {
    "subject": ("Subject",),
    "filename": ("Filename",),
    "onset": ("OnsetFrame", "Onset Frame", "Onset"),
    "apex": ("ApexFrame", "Apex Frame", "Apex"),
    "offset": ("OffsetFrame", "Offset Frame", "Offset"),
    "emotion": ("Estimated Emotion", "Emotion"),
}


def subject_folder(row: SheetRow) -> str:
    """Sheet subject (1, '01', 'sub01') -> folder name 'sub01'."""
    n = as_int(row["subject"])
    if n is not None:
        return f"sub{n:02d}"
    text = cell_text(row["subject"])
    m = re.fullmatch(r"sub(\d+)", text, re.I)
    if not m:
        raise row.error("", f"subject {text!r} is not a subject number")
    return f"sub{int(m.group(1)):02d}"


def load(root: Path, faces: str = "align", labels: dict[str, str] = LABELS,
         classes: list[str] = CLASSES) -> DatasetIndex:
    """``labels`` (sheet spelling -> class) and ``classes``: another protocol's (the MEGC 2019 composite's,
    :mod:`.composite`); a class not in ``classes`` drops its rows, counted."""
    what = "CASME2-coding-*.xlsx (or CASME2_label_Ver_*.xls) sheet"
    sheet = pick(find_sheets(root, SHEETS, what), what, root, prefer=coding_first, warnings=(warnings := []))
    dropped: dict[str, int] = {}
    notes: dict[str, int] = {}
    frame_root, cropped = pick_frames(
        find_dirs(root if root.is_dir() else root.parent, lambda d: child_dirs(d, r"sub\d+")),
        "CASME II frame folders (sub01/EP02_01f/...)", root, faces, prefer_raw(root), notes, sheet, warnings)

    def locate(row: SheetRow) -> tuple[str, str, Path]:
        subject = subject_folder(row)
        clip = cell_text(row["filename"])
        if not clip:
            raise row.error(subject, "Filename is empty")
        return subject, clip, child(child(frame_root, subject), clip)

    samples = build_samples(read_sheet(sheet, COLUMNS), "casme2", FPS, labels, classes, locate,
                            dropped, notes, subjects=frame_root, warnings=warnings)
    if not samples:
        raise no_samples(sheet, dropped)
    return DatasetIndex(samples, list(classes), dropped, notes, cropped=cropped, warnings=warnings)
