"""SAMM (Davison et al., IEEE TAC 2018) from its distribution: FACS-code sheet + frame folders.

Layout: ``SAMM_Micro_FACS_Codes_v2.xlsx`` (or any ``*Micro_FACS_Codes*.xlsx``) anywhere under the
root: a notes block on top, the table header found by content (row 14 in v2); columns Subject,
Filename, Onset Frame, Apex Frame, Offset Frame, Estimated Emotion (others such as Duration, Action
Units, Micro are ignored). Frames: ``006/006_1_2/006_05562.jpg``, the frame root being the folder
that holds the 3-digit subject folders (uncropped preferred). Sheet frame numbers are the numbers
in the file names. 200 fps. Apex -1 (or 0, blank, '/') means unknown: MEB's estimate where :mod:`.errata` has one,
else the middle of onset..offset (counted in notes).

Classes (fixed order): anger, contempt, happiness, surprise, others ('Other' in the sheet). This is
the common 5-class SAMM protocol: the emotion classes with fewer than 10 samples in SAMM v2 --
disgust (9), fear (8) and sadness (6) -- are dropped, each counted in ``dropped``; others is kept as
its own class and absorbs nothing. The list is fixed rather than recomputed from counts so that a
sheet edit cannot silently change the class set.
"""

from __future__ import annotations

import re
from pathlib import Path

from .files import child_dirs, find_dirs, find_sheets, newest_name, pick, pick_frames, prefer_raw
from .samples import DatasetIndex
from .sheet_samples import build_samples, no_samples
from .sheets import SheetRow, as_int, cell_text, read_sheet

FPS = 200.0
SHEETS = ("*Micro_FACS_Codes*.xlsx", "*Micro_FACS_Codes*.xls", "*Micro_FACS_Codes*.csv")
CLASSES = ["anger", "contempt", "happiness", "surprise", "others"]
LABELS = {"anger": "anger", "contempt": "contempt", "happiness": "happiness", "surprise": "surprise",
          "other": "others", "others": "others", "disgust": "disgust", "fear": "fear",
          "sadness": "sadness"}
COLUMNS = {
    "subject": ("Subject",),
    "filename": ("Filename",),
    "onset": ("Onset Frame", "OnsetFrame", "Onset"),
    "apex": ("Apex Frame", "ApexFrame", "Apex"),
    "offset": ("Offset Frame", "OffsetFrame", "Offset"),
    "emotion": ("Estimated Emotion", "Emotion"),
}


def load(root: Path, faces: str = "align", labels: dict[str, str] = LABELS,
         classes: list[str] = CLASSES) -> DatasetIndex:
    """``labels`` (sheet spelling -> class) and ``classes``: another protocol's (the MEGC 2019 composite's,
    :mod:`.composite`); a class not in ``classes`` drops its rows, counted."""
    sheet = pick(find_sheets(root, SHEETS, "SAMM_Micro_FACS_Codes*.xlsx sheet"),
                 "SAMM_Micro_FACS_Codes*.xlsx sheet", root, prefer=newest_name, warnings=(warnings := []))
    dropped: dict[str, int] = {}
    notes: dict[str, int] = {}
    frame_root, cropped = pick_frames(
        find_dirs(root if root.is_dir() else root.parent, lambda d: child_dirs(d, r"\d{3}")),
        "SAMM frame folders (006/006_1_2/...)", root, faces, prefer_raw(root), notes, sheet, warnings)

    def locate(row: SheetRow) -> tuple[str, str, Path]:
        n = as_int(row["subject"])
        text = cell_text(row["subject"])
        if n is None or not re.fullmatch(r"\d+", text):
            raise row.error(cell_text(row["filename"]), f"subject {text!r} is not a subject number")
        subject = f"{n:03d}"
        clip = cell_text(row["filename"])
        if not clip:
            raise row.error(subject, "Filename is empty")
        return subject, clip, frame_root / subject / clip

    samples = build_samples(read_sheet(sheet, COLUMNS), "samm", FPS, labels, classes, locate,
                            dropped, notes, subjects=frame_root, warnings=warnings)
    if not samples:
        raise no_samples(sheet, dropped)
    return DatasetIndex(samples, list(classes), dropped, notes, cropped=cropped, warnings=warnings)
