"""Annotation sheets: reading xlsx/csv coding sheets by header names into rows that name their sheet and row number
(errors and drops say where). The clip datasets' rows are made samples by :mod:`.sheet_samples`."""

from __future__ import annotations

import collections
import csv
import io
import itertools
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from mpt_live.errors import InputError
from mpt_live.quiet import quiet_fd


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
    """``pandas.read_excel(path, header=None, dtype=object, **options)``, the workbook parsed once and the cells merged
    over several rows filled from it (:func:`fill_merged`): an .xlsx (a zip holding an Excel workbook, whatever its
    name) loaded by openpyxl, an Excel 97-2003 workbook (``.xls``: CASME II's ``CASME2_label_Ver_2.xls``, CAS(ME)^3's
    part-A sheets in some versions) by python-calamine, pandas' engine for it (its xlrd engine is deprecated), which
    gives the merged ranges too. InputError (one line) naming the file when it cannot be read, and saying what to
    install when its reader package is missing. A damaged .xls that python-calamine's Rust code panics on is that one
    line too (the panic's note on stderr kept off the terminal); one whose records ask it for more memory than there
    is (a few byte-flipped files in a thousand) ends the process, which Python cannot catch."""
    import pandas as pd

    try:
        if _excel_zip(path):
            import openpyxl

            # not read-only (pandas' own load): merged ranges are only known to a full load; the values as last
            # computed. openpyxl refuses a path not named as its formats are (an .xlsx renamed .xls), not its bytes
            named = path.suffix.lower() in (".xlsx", ".xlsm", ".xltx", ".xltm")
            wb = openpyxl.load_workbook(path if named else io.BytesIO(path.read_bytes()), data_only=True,
                                        keep_links=False)
            try:
                book = pd.read_excel(wb, engine="openpyxl", header=None, dtype=object, **options)
                return fill_merged(book, {ws.title: [(r0 - 1, r1 - 1, c0 - 1) for c0, r0, _, r1 in
                                                     (rng.bounds for rng in ws.merged_cells.ranges) if r1 > r0]
                                          for ws in wb.worksheets})
            finally:
                wb.close()
        if not _ole_file(path):  # pandas says what it is
            return pd.read_excel(path, header=None, dtype=object, **options)
        try:
            import python_calamine  # noqa: F401  (pandas' calamine engine; imported here to name it when missing)
        except ImportError as e:
            raise InputError(f"{path}: cannot read the {what}: an Excel 97-2003 workbook (.xls) is read with "
                             f"python-calamine, which is not installed ({str(e).splitlines()[0]}): pip install "
                             "python-calamine (mpt-live's train extra has it), or save the sheet as .xlsx in a "
                             "spreadsheet program and use that copy") from None
        try:
            with quiet_fd(2):  # the workbook is parsed here; a Rust panic's note goes to stderr, the line below says it
                xl = pd.ExcelFile(path, engine="calamine")
        except Exception as e:
            raise InputError(f"{path}: cannot read the {what}: not a readable Excel 97-2003 workbook "
                             f"({_one_line(e)})") from None
        with xl, quiet_fd(2):  # python-calamine parses a sheet when it is read: its panic's note kept off too
            book = pd.read_excel(xl, header=None, dtype=object, **options)
            return fill_merged(book, {name: [(r0, r1, c0) for (r0, c0), (r1, _) in
                                             xl.book.get_sheet_by_name(name).merged_cell_ranges or () if r1 > r0]
                                      for name in xl.sheet_names})
    except InputError:
        raise
    except ImportError as e:
        raise InputError(f"{path}: cannot read the {what}: this workbook format needs an optional package that "
                         f"is not installed ({str(e).splitlines()[0]}); save the sheet as .xlsx in a "
                         "spreadsheet program and use that copy") from None
    except ValueError as e:  # pandas knows no workbook format in it: say what is read, not 'specify an engine'
        if "format cannot be determined" not in str(e):
            raise InputError(f"{path}: cannot read the {what} ({_one_line(e)})") from None
        raise InputError(f"{path}: cannot read the {what}: not an Excel workbook (.xlsx, .xls), and only a file "
                         "named .csv is read as CSV") from None
    except Exception as e:  # pandas, openpyxl and python-calamine raise many types for unreadable files
        raise InputError(f"{path}: cannot read the {what} ({_one_line(e)})") from None
    except BaseException as e:
        if not _rust_panic(e):
            raise
        raise InputError(f"{path}: cannot read the {what}: not a readable Excel 97-2003 workbook "
                         f"({_one_line(e)})") from None


def _rust_panic(e: BaseException) -> bool:
    """``e`` is the PanicException that a Rust extension (python-calamine) raises where its code panics: a
    BaseException, so ``except Exception`` lets it through."""
    return type(e).__module__ == "pyo3_runtime" and type(e).__name__ == "PanicException"


def _one_line(e: BaseException) -> str:
    """An exception's message on one line (openpyxl's and python-calamine's can run over several)."""
    return " ".join(str(e).split()) or type(e).__name__


def _excel_zip(path: Path) -> bool:
    """``path`` is a zip holding an Excel workbook (``xl/workbook.xml``, as pandas tells one), not another zip under an
    .xlsx name (an OpenDocument sheet, which pandas reads with odfpy)."""
    try:
        with zipfile.ZipFile(path) as z:
            return "xl/workbook.xml" in z.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


OLE_SIGNATURE = bytes.fromhex("D0CF11E0A1B11AE1")   # a compound file: how pandas tells an Excel 97-2003 workbook


def _ole_file(path: Path) -> bool:
    """``path`` starts with the compound-file signature of an Excel 97-2003 workbook, whatever its name."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(OLE_SIGNATURE)) == OLE_SIGNATURE
    except OSError:
        return False


def fill_merged(book, spans: dict[str, list[tuple[int, int, int]]]):
    """``book`` (one DataFrame, the first sheet's, or ``{sheet name: DataFrame}`` as pandas read it) with the value of
    each cell merged over several rows (a Subject merged over its clips' rows) copied down the rows it spans: pandas
    reads it in the first row only and leaves the others blank. ``spans``: sheet name -> (first row, last row,
    column) of each range merged over more than one row, 0-based (the reader's merged ranges). A cell merged across
    columns only (a title, a note under the table) is left as it is read, in its first column."""
    frames = book if isinstance(book, dict) else {next(iter(spans), None): book}
    for name, df in frames.items():
        for r0, r1, c in spans.get(name, ()) if isinstance(name, str) else ():
            if r0 < df.shape[0] and c < df.shape[1]:
                df.iloc[r0 + 1:min(r1 + 1, df.shape[0]), c] = df.iat[r0, c]
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
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}{where}{sheets}")
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
