"""Frames on disk: clip folders, frame numbers, finding dataset folders and files, choosing among candidates."""

from __future__ import annotations

import bisect
import fnmatch
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from mpt_live import framenames
from mpt_live.errors import InputError, counted
from mpt_live.framenames import hidden, images, number_images, split_copies

from .samples import AUTO_ALIGNED, natural_key

log = logging.getLogger("mpt.datasets")

def list_frames(folder: Path) -> list[Path]:
    """Image files of a clip folder in natural order (numbers compared numerically); hidden files and the copies
    file managers leave beside a frame (``img46 - Copy.jpg``: :mod:`mpt_live.framenames`) skipped."""
    kept, copies = split_copies(images(folder))
    for p in copies:
        log.info("%s: a copy of a frame beside it, not read", p)
    return sorted(kept, key=lambda p: natural_key(p.name))


def frame_number(path: Path) -> int | None:
    """The last number in a frame's file name: ``reg_img46.jpg`` -> 46, ``006_05562.jpg`` -> 5562."""
    return framenames.frame_number(path.name)


@dataclass
class ClipFrames:
    """A clip folder's frames sorted by frame number, with number -> index lookup."""

    folder: Path
    frames: list[Path]
    index_of: dict[int, int]

    @classmethod
    def read(cls, folder: Path, where: str, found: list[Path] | None = None) -> "ClipFrames":
        """The numbered frames of ``folder``; ``found``: its images where the caller has listed them already."""
        if not folder.is_dir():
            raise InputError(f"{where}: clip folder {folder} not found")
        try:
            numbered, copies = number_images(folder, images(folder) if found is None else found)
        except InputError as e:
            raise InputError(f"{where}: {e}" if where != str(folder) else str(e)) from None
        if not numbered:
            raise InputError(f"{where}: clip folder {folder} has no image frames")
        for p in copies:
            log.info("%s: a copy of a frame beside it, not read", p)
        return cls(folder, [p for _, p in numbered], {n: i for i, (n, _) in enumerate(numbered)})

    def position(self, n: int, side: str = "nearest") -> int | None:
        """Index of the frame numbered ``n``. A number inside the clip's numbering with no file of its own (a gap:
        recordings that dropped frames) takes the next frame (``side='after'``, for an onset), the previous one
        (``'before'``, an offset) or the nearer one (``'nearest'``, an apex); None outside first..last."""
        if n in self.index_of:
            return self.index_of[n]
        numbers = list(self.index_of)                  # ascending: numbers[i] is frames[i]'s number
        if not numbers[0] < n < numbers[-1]:
            return None
        k = bisect.bisect(numbers, n)                  # numbers[k - 1] < n < numbers[k]
        if side == "after":
            return k
        if side == "before":
            return k - 1
        return k if numbers[k] - n < n - numbers[k - 1] else k - 1

    def span(self) -> str:
        return f"{self.frames[0].name}..{self.frames[-1].name}, {counted(len(self.frames), 'frame')}"


def find_dirs(root: Path, accept, max_depth: int = 4) -> list[Path]:
    """Directories under ``root`` (itself included, breadth first, hidden ones skipped) for which
    ``accept(dir)`` is true; the search does not descend into accepted directories."""
    found, level = [], [root]
    for _ in range(max_depth + 1):
        nxt = []
        for d in level:
            if accept(d):
                found.append(d)
                continue
            nxt += subdirs(d)
        level = nxt
    return found


def subdirs(d: Path) -> list[Path]:
    """The folders in ``d``, sorted; hidden ones (:func:`hidden`) left out."""
    try:
        with os.scandir(d) as it:
            return sorted(Path(e.path) for e in it if not hidden(e.name) and e.is_dir())
    except OSError:
        return []


def find_files(root: Path, patterns: tuple[str, ...], max_depth: int = 4) -> list[Path]:
    """Files under ``root`` (to ``max_depth`` levels, hidden ones skipped) whose name matches one of the glob
    ``patterns`` in any letter case (``SAMM_Micro_FACS_Codes_v2.XLSX`` saved on Windows, ``casme2-coding...``)."""
    if root.is_file():
        return [root]
    pats = [p.lower() for p in patterns]
    out, level = [], [root]
    for _ in range(max_depth + 1):
        nxt = []
        for d in level:
            try:
                with os.scandir(d) as it:
                    entries = [e for e in it if not hidden(e.name)]
            except OSError:
                continue
            for e in entries:
                if e.is_dir():
                    nxt.append(Path(e.path))
                elif e.is_file() and any(fnmatch.fnmatchcase(e.name.lower(), p) for p in pats):
                    out.append(Path(e.path))
        level = nxt
    return sorted(set(out), key=lambda p: (len(p.parts), str(p)))


# the annotation sheets of the datasets, to say which one a folder holds when --data names another
KNOWN_SHEETS = (("casme2", "CASME II's coding sheet", ("CASME2-coding*", "CASME2_label*")),
                ("samm", "SAMM's Micro_FACS_Codes sheet", ("*Micro_FACS_Codes*",)),
                ("casme3", "CAS(ME)^3's part A label sheet", ("*part_A*", "*partA*")),
                ("casme2lv", "CAS(ME)^2's code_final sheet", ("*code_final*",)),
                ("sammlv", "SAMM long videos' sheet", ("*LongVideos*",)),
                ("smic", "SMIC-E's annotation sheet", ("*SMIC*E*annotation*",)))


def other_sheet(root: Path) -> tuple[str, str, Path] | None:
    """(dataset, what, sheet) of another dataset's annotation sheet in ``root`` or a folder in it, or None."""
    for name, what, stems in KNOWN_SHEETS:
        found = find_files(root, tuple(f"{s}.{ext}" for s in stems for ext in ("xlsx", "xls", "csv")), max_depth=1)
        if found:
            return name, what, found[0]
    return None


def find_sheets(root: Path, patterns: tuple[str, ...], what: str, levels: int = 3) -> list[Path]:
    """:func:`find_files` for a dataset's annotation sheet; none under ``root`` -> InputError when ``root`` holds
    another dataset's sheet (naming that dataset) or a folder above it that contains it holds one (``--data`` given
    as the frames folder, ``CASME2/CASME2_RAW_selected``, or a subject's: naming that folder). A sheet in a folder
    beside ``root`` with folders of its own (another copy next to this one) is never suggested."""
    found = find_files(root, patterns)
    if found or not root.is_dir():
        return found
    if other := other_sheet(root):
        name, kind, sheet = other
        raise InputError(f"{root}: no {what} in this folder or below; --data {root} holds {kind} "
                         f"({sheet.relative_to(root)}): --dataset {name}?")
    here = root.absolute()
    for up in list(here.parents)[:levels]:
        # beside the frames, on the way down to them, or in a folder of sheets only (CAS(ME)^3's annotation/ beside
        # part_A/); not in a neighbouring copy with folders of its own (S1/SAMM_Micro_FACS_Codes_v2.xlsx beside S1/SAMM)
        above = [p for p in find_files(up, patterns, max_depth=1)
                 if here.is_relative_to(p.parent) or not subdirs(p.parent)]
        if above:
            raise InputError(f"{root}: no {what} in this folder or below; the folder above it {up} holds "
                             f"{above[0].relative_to(up)}: give --data {up}")
    return found


def pick(paths: list[Path], what: str, root: Path, prefer=None, warnings: list[str] | None = None) -> Path:
    """One of ``paths`` (``prefer(path)`` -> sort key, lowest first); none -> InputError. ``warnings``
    (annotation sheets: two versions label clips differently) gets a line naming the one used."""
    if not paths:
        raise InputError(f"{root}: no {what} found")
    chosen = sorted(paths, key=prefer)[0] if prefer else paths[0]
    if len(paths) > 1:
        log.info("%s: %d candidates for the %s, using %s", root, len(paths), what, chosen)
        if warnings is not None:
            others = ", ".join(str(p.relative_to(root) if p.is_relative_to(root) else p)
                               for p in sorted(paths, key=prefer) if p != chosen)
            warnings.append(f"{root}: {len(paths)} files match the {what}; using "
                            f"{chosen.relative_to(root) if chosen.is_relative_to(root) else chosen} "
                            f"(not {others}); give --data that sheet's folder or move the others away")
    return chosen


SHEET_FORMATS = (".xlsx", ".xls", ".csv")   # of one sheet saved in several formats, the first is read


def newest_name(p: Path) -> tuple:
    """Sort key for sheets: shallowest first, then the name that sorts last (newest date/version: ``_v2`` over
    ``_v1``, ``_v2_20250903`` over ``_v2``), then, for one name in several formats, .xlsx before .xls (the copy
    the .xls error asks for where python-calamine is missing) before .csv."""
    fmt = SHEET_FORMATS.index(p.suffix.lower()) if p.suffix.lower() in SHEET_FORMATS else len(SHEET_FORMATS)
    return (len(p.parts), tuple(-ord(c) for c in p.stem) + (0,), fmt)


def prefer_raw(root: Path):
    """Sort key for frame roots: full frames ('raw') first, then others, cropped ones last; shallow first.

    Face alignment needs the face with some context, so uncropped frames are preferred."""
    def key(p: Path) -> tuple:
        rel = str(p.relative_to(root)).lower() if p != root else ""
        return (0 if "raw" in rel else 2 if "crop" in rel else 1, len(p.parts), str(p))
    return key


def is_cropped(path: Path, root: Path) -> bool:
    """True when a frame folder is a dataset's cropped copy: its path below ``root`` (its own name
    when it is ``root``, e.g. ``--data .../Cropped``) contains ``crop`` (CASME II ``Cropped``, SMIC
    ``SMIC_all_cropped``). The folders above ``root`` are not looked at."""
    path, root = Path(path), Path(root)
    rel = path.name if path == root else (str(path.relative_to(root)) if path.is_relative_to(root) else path.name)
    return "crop" in rel.lower()


def pick_frames(paths: list[Path], what: str, root: Path, faces: str, prefer=None,
                notes: dict[str, int] | None = None, sheet: Path | None = None,
                warnings: list[str] | None = None) -> tuple[Path, bool]:
    """The frame root for ``faces`` (``train.datasets.FACES``) among ``paths``, and whether its frames
    are used as cropped faces. ``prefer``: sort key (:func:`prefer_raw`); no cropped folder with
    ``cropped`` -> InputError; with ``auto`` the raw frames are aligned and ``notes`` counts it. ``sheet``: the
    annotation sheet read; of frame roots of one kind (two copies of a dataset under ``root``), the one sharing
    most of the sheet's path is read, and ``warnings`` gets a line naming it and the others."""
    key = beside(sheet, prefer) if sheet is not None and prefer is not None else prefer
    crops = [p for p in paths if is_cropped(p, root)]
    if faces == "cropped" and not crops:
        raise InputError(f"{root}: no cropped {what} found (a frame folder named like 'Cropped'); "
                         "use --faces align to align the raw frames")
    cropped = faces != "align" and bool(crops)
    if faces == "auto" and not crops and notes is not None:
        notes[AUTO_ALIGNED] = 0  # the clips it covers: counted by DatasetIndex, once the samples are read
    pool = crops if cropped else paths
    chosen = pick(pool, f"cropped {what}" if cropped else what, root, prefer=key)
    def kind(q: Path) -> tuple:  # the dataset's own order (part A, HS...), then raw / other / cropped
        return (prefer(q)[0] if prefer is not None else 0, prefer_raw(root)(q)[0])
    rivals = [p for p in pool if p != chosen and kind(p) == kind(chosen)]
    if rivals and warnings is not None:
        def rel(q: Path) -> str:
            return str(q.relative_to(root)) if q.is_relative_to(root) and q != root else str(q)
        near = f" (beside the sheet {rel(sheet)})" if sheet is not None else ""
        warnings.append(f"{root}: {len(rivals) + 1} {what} of one kind; using {rel(chosen)}{near}, not "
                        f"{', '.join(sorted(map(rel, rivals)))}; give --data one copy's folder")
    return chosen, cropped


def beside(sheet: Path, prefer):
    """Sort key: ``prefer``'s first element (raw before cropped...), then the folders nearest the ``sheet`` (most
    leading path parts in common), then ``prefer``."""
    def key(p: Path) -> tuple:
        shared = next((i for i, (a, b) in enumerate(zip(p.parts, sheet.parts)) if a != b), min(len(p.parts),
                                                                                             len(sheet.parts)))
        first = prefer(p)
        return (first[0], -shared, first)
    return key


def child_dirs(d: Path, pattern: str) -> bool:
    """True when ``d`` has a sub-directory whose name fully matches ``pattern`` (regex, case-insensitive)."""
    try:
        with os.scandir(d) as it:
            return any(re.fullmatch(pattern, e.name, re.I) and e.is_dir() for e in it)
    except OSError:
        return False


def child(parent: Path, name: str) -> Path:
    """``parent / name``, else the one entry of ``parent`` whose name differs from ``name`` only in letter case
    (CAS(ME)^3's clip folders say ``spNo.1`` where its sheet says ``spNO.1``), else ``parent / name``."""
    path = parent / name
    if path.exists():
        return path
    try:
        with os.scandir(parent) as it:
            same = [e.name for e in it if e.name.casefold() == name.casefold()]
    except OSError:
        return path
    return parent / same[0] if len(same) == 1 else path
