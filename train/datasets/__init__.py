"""Micro-expression datasets read from their original distribution layouts.

``load_dataset(name, root)`` returns a :class:`DatasetIndex`: one :class:`Sample` per micro-expression,
each holding the *whole* available frame sequence of its clip folder in time order plus the
onset/apex/offset as indices into that sequence. The fixed class order of each dataset is given in
its module. Nothing is dropped silently: every dropped row is counted in ``DatasetIndex.dropped``
(reason -> count) and logged on ``logging.getLogger("mpt.datasets")``. Bad input (missing columns,
unknown labels, missing folders or frames, onset > offset) raises :class:`InputError` naming the
sheet and its row as numbered in a spreadsheet program.

Datasets: ``casme2``, ``samm``, ``smic`` (SMIC-HS), ``casme3`` (CAS(ME)^3 part A) and ``csv`` (a plain
CSV of clip folders, see :mod:`train.datasets.csv_format`).

Long videos with spotting annotations (CAS(ME)^2, SAMM long videos, CAS(ME)^3 part A recordings and
``mpt-synth --long`` benchmarks) are read by :mod:`train.datasets.longvideo` (``load_long_dataset``).
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from mpt_live.errors import InputError

log = logging.getLogger("mpt.datasets")

DATASETS = ("casme2", "samm", "smic", "casme3", "csv")
IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".bmp"})


@dataclass
class Sample:
    """One micro-expression: a clip folder's frames and its annotation (indices into ``frames``)."""

    subject: str
    clip_id: str
    frames: list[Path]
    onset: int
    apex: int
    offset: int
    label: str
    fps: float
    dataset: str

    @property
    def name(self) -> str:
        """``dataset/subject/clip_id``: unique within a dataset, used in messages and logs."""
        return f"{self.dataset}/{self.subject}/{self.clip_id}"


@dataclass
class DatasetIndex:
    """The samples of one dataset, its fixed class order and the per-reason counts of dropped rows."""

    samples: list[Sample]
    classes: list[str]
    dropped: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)   # e.g. errata applied, apex estimated
    name: str = ""
    warnings: list[str] = field(default_factory=list)  # one line each, e.g. a class with very few clips

    @property
    def subjects(self) -> list[str]:
        """Subjects in natural order (``sub2`` before ``sub10``)."""
        return sorted({s.subject for s in self.samples}, key=natural_key)

    def counts(self) -> dict[str, int]:
        """Samples per class, in class order."""
        c = Counter(s.label for s in self.samples)
        return {k: c.get(k, 0) for k in self.classes}


def load_dataset(name: str, root: str | Path, **options: Any) -> DatasetIndex:
    """Load dataset ``name`` (one of :data:`DATASETS`) from its distribution folder ``root``.

    ``options`` go to the dataset's ``load`` (e.g. ``classes=4`` for casme3).
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise InputError(f"{root}: dataset path does not exist")
    if name == "casme2":
        from . import casme2 as mod
    elif name == "samm":
        from . import samm as mod
    elif name == "smic":
        from . import smic as mod
    elif name == "casme3":
        from . import casme3 as mod
    elif name == "csv":
        from . import csv_format as mod
    else:
        raise InputError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    index = mod.load(root, **options)
    index.name = name
    _unique_ids(index)
    _log_summary(index)
    return index


def _unique_ids(index: DatasetIndex) -> None:
    """Make ``Sample.name`` unique: a repeated one gets ``#2``, ``#3``... (counted in notes)."""
    seen: Counter = Counter()
    for s in index.samples:
        seen[s.name] += 1
        if seen[s.name] > 1:
            s.clip_id = f"{s.clip_id}#{seen[s.name]}"
            count(index.notes, "duplicate annotation rows (clip id suffixed #k)")


def _log_summary(index: DatasetIndex) -> None:
    counts = ", ".join(f"{c} {n}" for c, n in index.counts().items())
    log.info("%s: %d samples from %d subjects (%s)", index.name, len(index.samples),
             len(index.subjects), counts)
    for reason, n in sorted(index.dropped.items()):
        log.info("%s: dropped %d row(s): %s", index.name, n, reason)
    for what, n in sorted(index.notes.items()):
        log.info("%s: %s: %d", index.name, what, n)
    for w in index.warnings:
        log.warning("%s", w)


# ---------------------------------------------------------------- frames on disk
def natural_key(s: str) -> tuple:
    """Sort key that orders embedded numbers numerically: img2 < img10."""
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t.lower())
                 for t in re.split(r"(\d+)", str(s)) if t)


def list_frames(folder: Path) -> list[Path]:
    """Image files of a clip folder in natural order (numbers compared numerically)."""
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file()),
                  key=lambda p: natural_key(p.name))


def frame_number(path: Path) -> int | None:
    """The last number in a frame's file name: ``reg_img46.jpg`` -> 46, ``006_05562.jpg`` -> 5562."""
    nums = re.findall(r"\d+", path.stem)
    return int(nums[-1]) if nums else None


@dataclass
class ClipFrames:
    """A clip folder's frames sorted by frame number, with number -> index lookup."""

    folder: Path
    frames: list[Path]
    index_of: dict[int, int]

    @classmethod
    def read(cls, folder: Path, where: str) -> "ClipFrames":
        if not folder.is_dir():
            raise InputError(f"{where}: clip folder {folder} not found")
        numbered = []
        for p in list_frames(folder):
            n = frame_number(p)
            if n is None:
                raise InputError(f"{where}: frame file {p} has no frame number in its name")
            numbered.append((n, p))
        if not numbered:
            raise InputError(f"{where}: clip folder {folder} has no image frames")
        numbered.sort(key=lambda t: (t[0], natural_key(t[1].name)))
        index_of: dict[int, int] = {}
        for i, (n, p) in enumerate(numbered):
            if n in index_of:
                raise InputError(f"{where}: frame number {n} appears twice in {folder} "
                                 f"({numbered[index_of[n]][1].name}, {p.name})")
            index_of[n] = i
        return cls(folder, [p for _, p in numbered], index_of)

    def span(self) -> str:
        return f"{self.frames[0].name}..{self.frames[-1].name}, {len(self.frames)} frames"


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
            nxt += _subdirs(d)
        level = nxt
    return found


def _subdirs(d: Path) -> list[Path]:
    try:
        with os.scandir(d) as it:
            return sorted(Path(e.path) for e in it if not e.name.startswith(".") and e.is_dir())
    except OSError:
        return []


def find_files(root: Path, patterns: tuple[str, ...], max_depth: int = 4) -> list[Path]:
    """Files under ``root`` (to ``max_depth`` levels) whose name matches one of the glob ``patterns``."""
    if root.is_file():
        return [root]
    out = []
    for depth in range(max_depth + 1):
        prefix = "*/" * depth
        for pat in patterns:
            out += [p for p in root.glob(prefix + pat) if p.is_file() and not p.name.startswith("~$")]
    return sorted(set(out), key=lambda p: (len(p.parts), str(p)))


# ---------------------------------------------------------------- annotation sheets
def norm_col(s: Any) -> str:
    """Header cell -> comparison key: lower case, letters and digits only ('Onset Frame' -> 'onsetframe')."""
    return re.sub(r"[^a-z0-9]", "", str(s).lower())


def is_blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def as_int(v: Any) -> int | None:
    """A sheet cell as an integer; None for blanks and non-numbers such as '/' or '-'."""
    if is_blank(v) or isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v) if v.is_integer() else None
    s = str(v).strip()
    if re.fullmatch(r"[+-]?\d+(\.0*)?", s):
        return int(float(s))
    return None


def cell_text(v: Any) -> str:
    if is_blank(v):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


@dataclass
class SheetRow:
    """One data row of an annotation sheet: its spreadsheet row number, 0-based data index, cells."""

    sheet: str
    row: int
    index: int
    cells: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.cells.get(key)

    def error(self, ident: str, msg: str) -> InputError:
        """``InputError('<sheet> row <n> (<ident>): <msg>')``."""
        where = f" ({ident})" if ident else ""
        return InputError(f"{self.sheet} row {self.row}{where}: {msg}")


def read_sheet(path: Path, columns: dict[str, tuple[str, ...]], optional: dict[str, tuple[str, ...]]
               | None = None, scan_rows: int = 60) -> Iterator[SheetRow]:
    """Rows of an xlsx/xls/csv annotation sheet, keyed by canonical column name.

    ``columns`` maps a canonical name to accepted header spellings (compared with :func:`norm_col`).
    The header row is the first of the first ``scan_rows`` rows that holds every required column,
    so notes above the table (SAMM's header is on row 14) are skipped. Completely blank rows are
    skipped. Row numbers are 1-based spreadsheet rows (CSV: line numbers).
    """
    import pandas as pd

    try:
        if path.suffix.lower() == ".csv":
            df = pd.read_csv(path, header=None, dtype=str, keep_default_na=False, skip_blank_lines=False)
        else:
            df = pd.read_excel(path, header=None, dtype=object)
    except Exception as e:  # pandas raises many types for unreadable files
        raise InputError(f"{path}: cannot read the annotation sheet ({e})") from None
    optional = optional or {}
    wanted = {**columns, **optional}
    keys = {k: [norm_col(a) for a in aliases] for k, aliases in wanted.items()}
    rows = df.values.tolist()
    best, best_row = None, -1
    for r, cells in enumerate(rows[:scan_rows]):
        normed = [norm_col(c) for c in cells]
        pos = {}
        for k, aliases in keys.items():  # the first spelling present wins: 'OnsetFrame' over 'Onset'
            hit = next((normed.index(a) for a in aliases if a in normed), None)
            if hit is not None:
                pos[k] = hit
        n_req = sum(k in pos for k in columns)
        if n_req == len(columns):
            best, best_row = pos, r
            break
        if best is None or n_req > sum(k in best for k in columns):
            best, best_row = pos, r
    if best is None or not all(k in best for k in columns):
        missing = [columns[k][0] for k in columns if best is None or k not in best]
        where = f" (header row {best_row + 1})" if best and any(k in best for k in columns) else ""
        raise InputError(f"{path.name}: missing column(s) {', '.join(missing)}{where}")
    for r in range(best_row + 1, len(rows)):
        cells = rows[r]
        if all(is_blank(c) for c in cells):
            continue
        yield SheetRow(path.name, r + 1, r - best_row - 1, {k: cells[j] for k, j in best.items()})


def count(dropped: dict[str, int], reason: str, n: int = 1) -> None:
    dropped[reason] = dropped.get(reason, 0) + n


def middle(onset: int, offset: int) -> int:
    return (onset + offset) // 2


def resolve_annotation(row: SheetRow, ident: str, clip: ClipFrames, onset: int | None,
                       apex: int | None, offset: int | None,
                       stats: dict[str, int]) -> tuple[int, int, int]:
    """Sheet frame numbers -> indices into ``clip.frames``; validates and raises naming the row.

    A missing apex (blank, '/', -1) becomes the middle of onset..offset, counted in ``stats``.
    """
    if onset is None:
        raise row.error(ident, f"onset {cell_text(row['onset'])!r} is not a frame number")
    if offset is None:
        raise row.error(ident, f"offset {cell_text(row['offset'])!r} is not a frame number")
    if onset > offset:
        raise row.error(ident, f"onset {onset} > offset {offset}")
    for what, n in (("onset", onset), ("offset", offset)):
        if n not in clip.index_of:
            raise row.error(ident, f"{what} frame {n} not found in {clip.folder} ({clip.span()})")
    i0, i1 = clip.index_of[onset], clip.index_of[offset]
    if apex is None or apex < 0:
        count(stats, "apex unknown in the sheet: middle of onset..offset used")
        return i0, middle(i0, i1), i1
    if not onset <= apex <= offset:
        raise row.error(ident, f"apex {apex} is outside onset..offset {onset}..{offset}")
    if apex not in clip.index_of:
        raise row.error(ident, f"apex frame {apex} not found in {clip.folder} ({clip.span()})")
    return i0, clip.index_of[apex], i1


def check_label(row: SheetRow, ident: str, raw: Any, known: dict[str, str]) -> str:
    """Normalise a label through ``known`` (lower-case spelling -> canonical); unknown -> InputError."""
    key = cell_text(raw).lower()
    if key not in known:
        raise row.error(ident, f"unknown label {cell_text(raw)!r} (known: {', '.join(sorted(set(known)))})")
    return known[key]


def build_samples(rows: Iterator[SheetRow], dataset: str, fps: float, labels: dict[str, str],
                  classes: list[str], locate, dropped: dict[str, int],
                  notes: dict[str, int]) -> list[Sample]:
    """The shared row loop of the sheet datasets (CASME II, SAMM, CAS(ME)^3).

    ``locate(row) -> (subject, clip_id, folder)``; ``labels`` maps sheet spellings (lower case) to
    canonical labels; a canonical label not in ``classes`` drops the row (counted). Errata of
    :mod:`.errata` are applied before validation.
    """
    from . import errata

    folders: dict[Path, ClipFrames] = {}
    samples = []
    for row in rows:
        subject, clip_id, folder = locate(row)
        ident = f"{subject}/{clip_id}"
        label = check_label(row, ident, row["emotion"], labels)
        if label not in classes:
            count(dropped, f"label {label} (not in the {len(classes)}-class protocol)")
            continue
        where = f"{row.sheet} row {row.row} ({ident})"
        if folder not in folders:
            folders[folder] = ClipFrames.read(folder, where)
        clip = folders[folder]
        values = {k: as_int(row[k]) for k in ("onset", "apex", "offset")}
        values = errata.apply(dataset, row.index, where, values, clip, notes)
        on, ap, off = resolve_annotation(row, ident, clip, values["onset"], values["apex"],
                                         values["offset"], notes)
        samples.append(Sample(subject, clip_id, clip.frames, on, ap, off, label, fps, dataset))
    return samples


def pick(paths: list[Path], what: str, root: Path, prefer=None) -> Path:
    """One of ``paths`` (``prefer(path)`` -> sort key, lowest first); none -> InputError."""
    if not paths:
        raise InputError(f"{root}: no {what} found")
    chosen = sorted(paths, key=prefer)[0] if prefer else paths[0]
    if len(paths) > 1:
        log.info("%s: %d candidates for the %s, using %s", root, len(paths), what, chosen)
    return chosen


def newest_name(p: Path) -> tuple:
    """Sort key for sheets: shallowest first, then the name that sorts last (newest date/version)."""
    return (len(p.parts), tuple(-ord(c) for c in p.name))


def prefer_raw(root: Path):
    """Sort key for frame roots: full frames ('raw') first, then others, cropped ones last; shallow first.

    Face alignment needs the face with some context, so uncropped frames are preferred."""
    def key(p: Path) -> tuple:
        rel = str(p.relative_to(root)).lower() if p != root else ""
        return (0 if "raw" in rel else 2 if "crop" in rel else 1, len(p.parts), str(p))
    return key


def child_dirs(d: Path, pattern: str) -> bool:
    """True when ``d`` has a sub-directory whose name fully matches ``pattern`` (regex, case-insensitive)."""
    try:
        with os.scandir(d) as it:
            return any(re.fullmatch(pattern, e.name, re.I) and e.is_dir() for e in it)
    except OSError:
        return False
