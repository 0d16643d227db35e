"""SMIC-HS (Li et al., FG 2013) from its distribution folders; there is no annotation sheet.

Layout: ``HS/s1/micro/{positive,negative,surprise}/s1_po_01/*.bmp`` anywhere under the root (e.g.
``SMIC_all_raw/HS``); the ``HS`` folder is found by content (``sN/micro`` sub-folders) and uncropped
frames are preferred. Every clip folder is one micro-expression: onset = first frame, offset =
last frame, apex = the middle frame (SMIC has no apex annotation). A subject folder without a
``micro`` folder (SMIC filmed 20 subjects; 16 showed micro-expressions) is named in a warning, and so is a clip folder
holding no frames (dropped, counted). Frames are sorted naturally.
100 fps. Classes (fixed order): negative, positive, surprise.

SMIC's normal-speed sets ``VIS`` and ``NIR`` have the same layout but were filmed at 25 fps (the
SMIC page of the University of Oulu): when the folder read is one of them (``--data`` names it, or
the copy has no ``HS``: VIS, in colour as HS, before NIR), its clips get 25 fps and a warning says which set
is read.

SMIC-E, the extended release (``SMIC-E_raw image/HS_long/SMIC-HS-E/s01/s1_ne_01/image308866.jpg``, subject folders
zero-padded, each clip folder a longer recording around its micro-expression), has no ``micro`` folders; it is read
when the copy has none, from its annotation sheet (``SMIC-HS-E_annotation.xlsx``, also ``_annotation_2019``; VIS and
NIR: ``SMIC-VIS-E`` / ``SMIC_VIS_E`` ..., 25 fps; HS's read first): columns Subject (``1`` -> folder ``s01`` or
``s1``), Filename (``s1_ne_01``), OnsetF and OffsetF (the numbers in the image names), Emotion (negative, positive,
surprise; where blank or absent, the class the Filename's code gives: ``po``, ``ne``, ``sur``). SMIC-E codes no
apex: the middle of onset..offset (counted in notes). Rows of text (the sheet has some under its 157 clips) are
skipped, counted. Sources: github.com/genbing99/MEAN_Spot-then-recognize ``load_excel.py`` (reads
``SMIC/SMIC-E_raw image/<HS|VIS|NIR>_long/SMIC-<set>-E_annotation.xlsx`` with its header: Subject, Filename, OnsetF,
OffsetF, Emotion, FirstF; subject folder ``'s' + zfill(2)``; "Apex frame not provided"; ``codeFinal[:157]`` "Remove
last few rows contain of text"; "NIR got different onset and offset") and its README's tree; other public loaders
of the release (frames ``s{subject:02d}/{Filename}/image{n:06d}.jpg``; a MATLAB reader taking the class from the
Filename's code).
"""

from __future__ import annotations

import re
from pathlib import Path

from mpt_live.errors import InputError

from .files import (child, child_dirs, find_dirs, find_sheets, list_frames, newest_name, pick, pick_frames, prefer_raw,
                    subdirs)
from .samples import DatasetIndex, Sample, natural_key
from .sheet_samples import build_samples, middle, no_samples
from .sheets import SheetRow, as_int, cell_text, count, first_of, read_sheet

FPS = 100.0
SET_FPS = {"hs": FPS, "vis": 25.0, "nir": 25.0}
CLASSES = ["negative", "positive", "surprise"]


def has_micro_subjects(d: Path) -> bool:
    """Whether ``d`` is a SMIC set's folder (HS, VIS or NIR): it has subject folders ``sN``, one of them (at least)
    with a ``micro`` folder. How the reader finds the set in a copy, and how ``composite`` tells a root holds SMIC."""
    if not child_dirs(d, r"s\d+"):
        return False
    return any(child(c, "micro").is_dir() for c in d.iterdir() if re.fullmatch(r"s\d+", c.name, re.I))


def _prefer_hs(root: Path):
    """Sort key of the candidate folders: HS, then VIS (colour, as HS), then NIR (SET_FPS's order), raw first."""
    raw = prefer_raw(root)
    order = list(SET_FPS)

    def key(p: Path) -> tuple:
        return (order.index(_smic_set(p, root)), raw(p))
    return key


def _smic_set(folder: Path, root: Path) -> str:
    """'hs', 'vis' or 'nir': the last folder name on the way from above ``root`` to ``folder`` that names a set
    ('hs' when none does)."""
    parts = [q.lower() for q in root.parts[-1:] + folder.relative_to(root).parts]
    return next((q for q in reversed(parts) if q in SET_FPS), "hs")


def load(root: Path, faces: str = "align") -> DatasetIndex:
    notes: dict[str, int] = {}
    warnings: list[str] = []
    found = find_dirs(root, has_micro_subjects)
    if not found and (sheets := find_sheets(root, E_SHEETS, "SMIC-E annotation sheet")):
        return load_e(root, sheets, faces)
    if not found:
        raise InputError(f"{root}: no SMIC folders (HS/s1/micro/...) found, nor a SMIC-E annotation sheet "
                         "(SMIC-HS-E_annotation.xlsx)")
    hs, cropped = pick_frames(found, "SMIC folders (HS/s1/micro/...)", root, faces, _prefer_hs(root), notes)
    which = _smic_set(hs, root)
    fps = SET_FPS[which]
    if which != "hs":
        warnings.append(f"{hs}: reading SMIC-{which.upper()}, filmed at {fps:g} fps (SMIC-HS: {FPS:g} fps)")
    samples: list[Sample] = []
    without: list[str] = []
    empty: list[str] = []                     # clip folders holding no frames (never extracted, or not copied)
    for subj in sorted((d for d in hs.iterdir() if d.is_dir() and re.fullmatch(r"s\d+", d.name, re.I)),
                       key=lambda d: natural_key(d.name)):
        micro = child(subj, "micro")
        if not micro.is_dir():                     # SMIC filmed 20 subjects, 16 of them with micro-expressions
            without.append(subj.name)
            continue
        for emo in subdirs(micro):
            label = emo.name.lower()
            if label not in CLASSES:
                raise InputError(f"{emo}: unknown emotion folder {emo.name!r} "
                                 f"(known: {', '.join(CLASSES)})")
            for clip in sorted(subdirs(emo), key=lambda d: natural_key(d.name)):
                frames = list_frames(clip)
                if not frames:  # dropped, named, as the sheet readers drop a row whose clip folder is empty
                    empty.append(f"{subj.name}/micro/{emo.name}/{clip.name}")
                    continue
                n = len(frames)
                samples.append(Sample(subj.name, clip.name, frames, 0, middle(0, n - 1), n - 1,
                                      label, fps, "smic"))
    if not samples:
        raise InputError(f"{hs}: no SMIC clips found under sN/micro/<emotion>/"
                         + (f" ({len(empty)} clip folder(s) there, none holding image frames)" if empty else ""))
    if without:
        warnings.append(f"{hs}: no 'micro' folder in {len(without)} subject folder(s), not used: {', '.join(without)}")
    dropped: dict[str, int] = {}
    if empty:
        count(dropped, "its clip folder holds no image frames", len(empty))
        warnings.append(f"{hs}: {len(empty)} clip folder(s) hold no image frames (not extracted, or not copied), "
                        f"dropped: {first_of(empty, 3)}")
    return DatasetIndex(samples, list(CLASSES), dropped, notes, cropped=cropped, warnings=warnings)


E_SHEETS = tuple(f"*SMIC*E*annotation*.{ext}" for ext in ("xlsx", "xls", "csv"))
E_COLUMNS = {
    "subject": ("Subject",),
    "filename": ("Filename",),
    "onset": ("OnsetF", "Onset Frame", "OnsetFrame", "Onset"),
    "offset": ("OffsetF", "Offset Frame", "OffsetFrame", "Offset"),
}
E_OPTIONAL = {"apex": ("ApexF", "Apex Frame", "ApexFrame", "Apex"), "emotion": ("Emotion", "Estimated Emotion")}
E_CODES = {"po": "positive", "ne": "negative", "sur": "surprise"}
E_NOTE = "clips read from the SMIC-E annotation sheet (the extended release, not SMIC-HS's micro folders)"


def _e_set(sheet: Path) -> str:
    """'hs', 'vis' or 'nir': the set a SMIC-E sheet's name says (``SMIC-VIS-E_annotation``, ``SMIC_NIR_E``)."""
    return next((k for k in ("vis", "nir") if re.search(rf"(^|[-_ ]){k}([-_ ]|$)", sheet.stem, re.I)), "hs")


E_TEXT = "text under or in the table, not an annotation row (no number in Subject, OnsetF or OffsetF)"


def _annotations(rows, notes: dict[str, int]):
    """The annotation rows, a blank or absent Emotion taking the class of the Filename's code (``s1_ne_01``: negative).
    A row with no number in Subject, OnsetF and OffsetF is text (the release's sheet has rows of text under its 157
    clips, which the public loaders cut off): skipped, counted in ``notes``."""
    for row in rows:
        if all(as_int(row[k]) is None for k in ("subject", "onset", "offset")):
            count(notes, E_TEXT)
            continue
        if not cell_text(row["emotion"]):
            m = re.fullmatch(r"s\d+_([a-z]+)_\d+", cell_text(row["filename"]), re.I)
            code = m.group(1).lower() if m else ""
            if code not in E_CODES:
                raise row.error(cell_text(row["filename"]), "Emotion is blank and the Filename has no class code "
                                f"({', '.join(E_CODES)})")
            row.cells["emotion"] = E_CODES[code]
        yield row


def load_e(root: Path, sheets: list[Path], faces: str = "align") -> DatasetIndex:
    """SMIC-E (module docstring) from its annotation sheet: of several, HS's (newest name) first."""
    order = list(SET_FPS)
    sheet = pick(sheets, "SMIC-E annotation sheet", root, prefer=lambda p: (order.index(_e_set(p)), newest_name(p)),
                 warnings=(warnings := []))
    which = _e_set(sheet)
    fps = SET_FPS[which]
    if which != "hs":
        warnings.append(f"{sheet}: reading SMIC-{which.upper()}-E, filmed at {fps:g} fps (SMIC-HS: {FPS:g} fps)")
    dropped: dict[str, int] = {}
    notes: dict[str, int] = {}
    where = sheet.parent
    frame_root, cropped = pick_frames(find_dirs(where, lambda d: child_dirs(d, r"s\d+")),
                                      "SMIC-E frame folders (s01/s1_ne_01/...)", where, faces, prefer_raw(where),
                                      notes, sheet, warnings)

    def locate(row: SheetRow) -> tuple[str, str, Path]:
        text = cell_text(row["subject"])
        m = re.fullmatch(r"s?(\d+)", text, re.I)
        if not m:
            raise row.error(cell_text(row["filename"]), f"subject {text!r} is not a subject number")
        n = int(m.group(1))
        folder = next((d for d in subdirs(frame_root) if re.fullmatch(rf"s0*{n}", d.name, re.I)),
                      frame_root / f"s{n:02d}")
        clip = cell_text(row["filename"])
        if not clip:
            raise row.error(folder.name, "Filename is empty")
        return folder.name, clip, child(folder, clip)

    labels = {c: c for c in CLASSES}
    rows = _annotations(read_sheet(sheet, E_COLUMNS, E_OPTIONAL), notes)
    samples = build_samples(rows, "smic", fps, labels, list(CLASSES), locate, dropped, notes, subjects=frame_root,
                            warnings=warnings)
    if not samples:
        raise no_samples(sheet, dropped)
    notes[E_NOTE] = len(samples)
    return DatasetIndex(samples, list(CLASSES), dropped, notes, cropped=cropped, warnings=warnings)
