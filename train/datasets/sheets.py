"""Annotation sheets: reading xlsx/csv coding sheets by header names, rows to samples, checks with row numbers."""

from __future__ import annotations

import collections
import csv
import itertools
import logging
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from mpt_live.errors import InputError
from mpt_live.framenames import images

from .files import ClipFrames, child, subdirs
from .samples import Sample

log = logging.getLogger("mpt.datasets")


def norm_col(s: Any) -> str:
    """Header cell -> comparison key: lower case, letters and digits only ('Onset Frame' -> 'onsetframe')."""
    return re.sub(r"[^a-z0-9]", "", str(s).lower())


def is_blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def as_int(v: Any) -> int | None:
    """A sheet cell as an integer; None for blanks and non-numbers such as '/' or '-'. A number stored as text is
    read, with the thousands separators a formatted cell saved as CSV or text carries ('5,562', '5 562')."""
    if is_blank(v) or isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v) if v.is_integer() else None
    s = str(v).strip()
    if re.fullmatch(r"[+-]?\d{1,3}(?:([,\u00a0\u202f ])\d{3})(?:\1\d{3})*", s):
        s = re.sub(r"[,\u00a0\u202f ]", "", s)
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


def csv_separator(path: Path, lines: int = 60) -> str:
    """The one of ',', ';' (a spreadsheet saved where the decimal mark is a comma) and tab that splits the most of
    the first ``lines`` lines into one same number of columns (more than one; quotes respected), then the most
    columns, ',' on a tie: the table's rows decide, not a note above it whose prose has commas (the SAMM-LV sheet's
    release notes), however many commas its one line holds."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
            head = list(itertools.islice(fh, lines))
    except OSError:
        return ","

    def table(sep: str) -> tuple[int, int]:  # (lines of the most common width above 1, that width)
        widths = collections.Counter(len(r) for r in csv.reader(head, delimiter=sep) if len(r) > 1)
        return max(((n, w) for w, n in widths.items()), default=(0, 1))
    return max((",", ";", "\t"), key=table)


def read_workbook(path: Path, what: str = "annotation sheet", **options: Any):
    """``pandas.read_excel(path, header=None, dtype=object, **options)``, an .xlsx workbook parsed once: openpyxl loads
    it, pandas reads that workbook, and the cells merged over several rows are filled from it (:func:`fill_merged`).
    InputError (one line) naming the file when it cannot be read, and saying how when it is an Excel 97-2003 ``.xls``
    workbook that needs an optional reader package (CAS(ME)^3 ships ``.xls`` sheets)."""
    import pandas as pd

    try:
        if path.suffix.lower() not in (".xlsx", ".xlsm") or not _excel_zip(path):  # pandas says what it is
            return pd.read_excel(path, header=None, dtype=object, **options)
        import openpyxl

        # not read-only (pandas' own load): merged ranges are only known to a full load; the values as last computed
        wb = openpyxl.load_workbook(path, data_only=True, keep_links=False)
        try:
            return fill_merged(wb, pd.read_excel(wb, engine="openpyxl", header=None, dtype=object, **options))
        finally:
            wb.close()
    except ImportError as e:
        raise InputError(f"{path}: cannot read the {what}: this workbook format needs an optional package that "
                         f"is not installed ({str(e).splitlines()[0]}); save the sheet as .xlsx in a "
                         "spreadsheet program and use that copy") from None
    except ValueError as e:  # pandas knows no workbook format in it: say what is read, not 'specify an engine'
        if "format cannot be determined" not in str(e):
            raise InputError(f"{path}: cannot read the {what} ({e})") from None
        raise InputError(f"{path}: cannot read the {what}: not an Excel workbook (.xlsx, .xls), and only a file "
                         "named .csv is read as CSV") from None
    except Exception as e:  # pandas and openpyxl raise many types for unreadable files
        raise InputError(f"{path}: cannot read the {what} ({e})") from None


def _excel_zip(path: Path) -> bool:
    """``path`` is a zip holding an Excel workbook (``xl/workbook.xml``, as pandas tells one), not another zip under an
    .xlsx name (an OpenDocument sheet, which pandas reads with odfpy)."""
    try:
        with zipfile.ZipFile(path) as z:
            return "xl/workbook.xml" in z.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def fill_merged(wb: Any, book):
    """``book`` (one DataFrame or ``{sheet name: DataFrame}`` as pandas read openpyxl workbook ``wb``) with the value of
    each cell merged over several rows (a Subject merged over its clips' rows) copied down the rows it spans: pandas
    reads it in the first row only and leaves the others blank. A cell merged across columns only (a title, a note
    under the table) is left as it is read, in its first column."""
    frames = book if isinstance(book, dict) else {wb.sheetnames[0]: book}
    for name, df in frames.items():
        ws = wb[name] if isinstance(name, str) and name in wb.sheetnames else None
        for rng in ws.merged_cells.ranges if ws is not None else ():
            c0, r0, c1, r1 = rng.bounds
            if r1 > r0 and r0 <= df.shape[0] and c0 <= df.shape[1]:
                df.iloc[r0:min(r1, df.shape[0]), c0 - 1] = df.iat[r0 - 1, c0 - 1]
    return book


def _header(rows: list[list[Any]], keys: dict[str, list[str]], columns: dict, scan_rows: int
            ) -> tuple[dict[str, int] | None, int]:
    """(column positions, row index) of the first of the first ``scan_rows`` rows holding every required column,
    else the row holding the most of them."""
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
            return pos, r
        if best is None or n_req > sum(k in best for k in columns):
            best, best_row = pos, r
    return best, best_row


def read_sheet(path: Path, columns: dict[str, tuple[str, ...]], optional: dict[str, tuple[str, ...]]
               | None = None, scan_rows: int = 60) -> Iterator[SheetRow]:
    """Rows of an xlsx/xls/csv annotation sheet, keyed by canonical column name.

    ``columns`` maps a canonical name to accepted header spellings (compared with :func:`norm_col`).
    The header row is the first of the first ``scan_rows`` rows that holds every required column,
    so notes above the table (SAMM's header is on row 14) are skipped. A workbook's first sheet holding
    the table is read (a notes sheet may come before it; rows are then named ``file [sheet]``). Rows
    with every required cell blank are not annotations (blank rows, a note or merged cell below the
    table) and are skipped. Row numbers are 1-based spreadsheet rows (CSV: line numbers).
    """
    import pandas as pd

    if path.suffix.lower() != ".csv":
        tables = list(read_workbook(path, sheet_name=None).items())
    else:
        try:
            tables = [("", pd.read_csv(path, header=None, dtype=str, keep_default_na=False, skip_blank_lines=False,
                                       sep=csv_separator(path)))]
        except UnicodeDecodeError as e:  # Excel's plain 'CSV' is in the system's code page (GBK, Windows-1252)
            raise InputError(f"{path}: cannot read the annotation sheet: not UTF-8 text ({e.reason}); save it as "
                             "'CSV UTF-8' in the spreadsheet program") from None
        except Exception as e:  # pandas raises many types for unreadable files
            raise InputError(f"{path}: cannot read the annotation sheet ({e})") from None
    optional = optional or {}
    wanted = {**columns, **optional}
    keys = {k: [norm_col(a) for a in aliases] for k, aliases in wanted.items()}
    found = [(i, name, df.values.tolist(), *_header(df.values.tolist(), keys, columns, scan_rows))
             for i, (name, df) in enumerate(tables)]
    full = [f for f in found if f[3] is not None and all(k in f[3] for k in columns)]
    i, name, rows, best, best_row = full[0] if full else (found[0] if found else (0, "", [], None, -1))
    if not full:
        missing = [columns[k][0] for k in columns if best is None or k not in best]
        where = f" (header row {best_row + 1})" if best and any(k in best for k in columns) else ""
        sheets = f" in any of its {len(tables)} sheets" if len(tables) > 1 else ""
        raise InputError(f"{path.name}: missing column(s) {', '.join(missing)}{where}{sheets}")
    label = f"{path.name} [{name}]" if i > 0 else path.name
    for r in range(best_row + 1, len(rows)):
        cells = rows[r]
        if all(is_blank(cells[best[k]]) for k in columns):
            continue
        yield SheetRow(label, r + 1, r - best_row - 1, {k: cells[j] for k, j in best.items()})


def first_of(names: list[str], show: int = 5) -> str:
    """``a, b, c, d, e and 3 more``: the first ``show`` of ``names`` for a one-line warning."""
    more = f" and {len(names) - show} more" if len(names) > show else ""
    return ", ".join(names[:show]) + more


def count(dropped: dict[str, int], reason: str, n: int = 1) -> None:
    dropped[reason] = dropped.get(reason, 0) + n


def no_samples(sheet: Path, dropped: dict[str, int]) -> InputError:
    """The error of a sheet none of whose rows gave a sample, with the reasons its rows were dropped."""
    why = "; ".join(f"{n} row(s): {reason}" for reason, n in sorted(dropped.items()))
    return InputError(f"{sheet}: no usable samples" + (f" (dropped {why})" if why else ""))


def middle(onset: int, offset: int) -> int:
    return (onset + offset) // 2


def resolve_annotation(row: SheetRow, ident: str, clip: ClipFrames, onset: int | None,
                       apex: int | None, offset: int | None,
                       stats: dict[str, int]) -> tuple[int, int, int]:
    """Sheet frame numbers -> indices into ``clip.frames``; validates and raises naming the row.

    A missing apex (blank, '/', -1, or 0 after an onset above 0: not coded) becomes the middle of onset..offset,
    counted in ``stats``, as the long-video readers do. Onset 0 (and
    apex 0) in a clip whose images are numbered from 1 is its first image, counted. A frame
    number in a gap of the clip's numbering takes the nearest frame inside onset..offset (counted);
    one outside the clip's first..last frame raises.
    """
    if onset is None:
        raise row.error(ident, f"onset {cell_text(row['onset'])!r} is not a frame number")
    if onset == 0 and 0 not in clip.index_of and min(clip.index_of) == 1:
        # frames numbered from 1 (CAS(ME)^3 part A: a movement under way from the recording's first image)
        count(stats, "onset 0 in a clip numbered from 1: its first frame used")
        onset, apex = 1, (1 if apex == 0 else apex)
    if offset is None:
        raise row.error(ident, f"offset {cell_text(row['offset'])!r} is not a frame number")
    if onset > offset:
        raise row.error(ident, f"onset {onset} > offset {offset}")
    for what, n in (("onset", onset), ("offset", offset)):
        if clip.position(n) is None:
            raise row.error(ident, f"{what} frame {n} not found in {clip.folder} ({clip.span()})")
    i0, i1 = clip.position(onset, "after"), clip.position(offset, "before")
    if i0 > i1:
        raise row.error(ident, f"frames {onset}..{offset} are all missing from {clip.folder} ({clip.span()})")
    if apex == 0 and onset > 0:  # not coded, as -1 (the long-video readers: the middle frame too)
        apex = None
    if apex is None or apex < 0:
        count(stats, "apex unknown in the sheet: middle of onset..offset used")
        ia = middle(i0, i1)
    elif not onset <= apex <= offset:
        raise row.error(ident, f"apex {apex} is outside onset..offset {onset}..{offset}")
    else:
        ia = min(max(clip.position(apex), i0), i1)
    if any(n not in clip.index_of for n in (onset, offset) + ((apex,) if apex is not None and apex >= 0 else ())):
        count(stats, "frame number in a gap of the clip's numbering: nearest frame used")
    return i0, ia, i1


def check_label(row: SheetRow, ident: str, raw: Any, known: dict[str, str]) -> str:
    """Normalise a label through ``known`` (lower-case spelling -> canonical); unknown -> InputError."""
    key = cell_text(raw).lower()
    if key not in known:
        raise row.error(ident, f"unknown label {cell_text(raw)!r} (known: {', '.join(sorted(set(known)))})")
    return known[key]


def build_samples(rows: Iterator[SheetRow], dataset: str, fps: float, labels: dict[str, str],
                  classes: list[str], locate, dropped: dict[str, int],
                  notes: dict[str, int], subjects: Path | None = None,
                  warnings: list[str] | None = None) -> list[Sample]:
    """The shared row loop of the sheet datasets (CASME II, SAMM, CAS(ME)^3).

    ``locate(row) -> (subject, clip_id, folder)``; ``labels`` maps sheet spellings (lower case) to
    canonical labels; a canonical label not in ``classes`` drops the row (counted). Errata of
    :mod:`.errata` are applied before validation. ``subjects``: the folder holding one folder per
    subject; the rows of a subject without one are dropped (counted, one line in ``warnings``), and
    the subject and clip folders no row names are one line in ``warnings``. A row whose clip folder is
    not there (a partial copy, a clip left out of a release) is dropped too: counted, one line in
    ``warnings`` naming the rows.
    """
    from . import errata

    folders: dict[Path, ClipFrames] = {}
    named: set[Path] = set()
    missing: dict[str, int] = {}
    lost: list[str] = []
    empty: list[str] = []                             # rows whose clip folder holds no frames (never extracted)
    out_of_protocol: dict[str, dict[str, int]] = {}   # subject -> label -> rows dropped for it
    in_protocol: set[str] = set()                     # subjects with a row of a protocol class
    samples = []
    sheet = ""
    for row in rows:
        sheet = row.sheet
        subject, clip_id, folder = locate(row)
        named.add(folder)
        ident = f"{subject}/{clip_id}"
        label = check_label(row, ident, row["emotion"], labels)
        if label not in classes:
            count(dropped, f"label {label} (not in the {len(classes)}-class protocol)")
            count(out_of_protocol.setdefault(subject, {}), label)
            continue
        in_protocol.add(subject)
        if subjects is not None and not child(subjects, subject).is_dir():
            count(dropped, "no folder of its subject in the frames")
            count(missing, subject)
            continue
        where = f"{row.sheet} row {row.row} ({ident})"
        if not folder.is_dir():              # a clip the copy lacks (a partial download, a clip left out of it)
            count(dropped, "no folder of its clip in the frames")
            lost.append(f"row {row.row} ({ident if folder.name in (clip_id, 'color') else folder.name})")
            continue
        if folder not in folders:
            found = images(folder)
            if not found:  # its frames never extracted (or not copied)
                count(dropped, "its clip folder holds no image frames")
                empty.append(f"row {row.row} ({ident}: {folder})")
                continue
            folders[folder] = ClipFrames.read(folder, where, found)
        clip = folders[folder]
        values = {k: as_int(row[k]) for k in ("onset", "apex", "offset")}
        values = errata.apply(dataset, row.index, where, values, clip, notes)
        on, ap, off = resolve_annotation(row, ident, clip, values["onset"], values["apex"],
                                         values["offset"], notes)
        samples.append(Sample(subject, clip_id, clip.frames, on, ap, off, label, fps, dataset))
    if warnings is not None:
        warnings += no_fold(sheet, out_of_protocol, in_protocol, len(classes))
    if lost and warnings is not None:
        warnings.append(f"{sheet}: {len(lost)} row(s) name a clip folder the frames lack, dropped: {first_of(lost)}")
    if empty and warnings is not None:
        warnings.append(f"{sheet}: {len(empty)} row(s) name a clip folder that holds no image frames (not extracted, "
                        f"or not copied), dropped: {first_of(empty, 3)}")
    if subjects is not None and warnings is not None:
        if missing:
            rows_of = ", ".join(f"{s} ({n} row{'s' if n > 1 else ''})" for s, n in missing.items())
            warnings.append(f"{subjects}: no folder for subject(s) {rows_of}: their rows are dropped")
        warnings += unused_folders(subjects, named)
    return samples


def no_fold(sheet: str, out_of_protocol: dict[str, dict[str, int]], in_protocol: set[str], n_classes: int
            ) -> list[str]:
    """One line naming the subjects whose every labelled row has a class the protocol leaves out (SAMM's 5 classes
    drop disgust, fear, sadness): none of their clips is read, so leave-one-subject-out has no fold for them."""
    gone = [s for s in out_of_protocol if s not in in_protocol]
    if not gone:
        return []
    said = [f"{s} ({', '.join(f'{n} {label}' for label, n in out_of_protocol[s].items())})" for s in gone]
    return [f"{sheet}: every row of {len(gone)} subject(s) has a label outside the {n_classes}-class protocol, so "
            f"they have no clips and no LOSO fold: {first_of(said)}"]


def unused_folders(subjects: Path, named: set[Path], show: int = 5) -> list[str]:
    """One line naming the subject folders and clip folders under ``subjects`` that no sheet row names (each
    one is logged); none when every folder is used."""
    used = {f.parent.name.casefold() for f in named}
    clips = {(f.parent.name.casefold(), f.name.casefold()) for f in named}
    unused = []
    for d in subdirs(subjects):
        if d.name.casefold() not in used:
            unused.append(d.name + "/")
            continue
        unused += [f"{d.name}/{c.name}" for c in subdirs(d) if (d.name.casefold(), c.name.casefold()) not in clips]
    for u in unused:
        log.info("%s: no sheet row names %s; not used", subjects, u)
    if not unused:
        return []
    return [f"{subjects}: {len(unused)} folder(s) no sheet row names, not used: {first_of(unused, show)}"]
