"""A plain CSV of clip folders, for any data set without its own loader.

``root`` is the CSV file, or a folder holding ``labels.csv`` or exactly one ``*.csv``; commas, or
semicolons or tabs, whichever splits most lines into one same number of columns
(:func:`train.datasets.sheets.csv_separator`). Columns
(header names, any order, case-insensitive): ``subject``, ``clip``, ``onset``, ``apex``, ``offset``,
``label`` and optionally ``fps`` (blank or absent: 30). ``clip`` is a folder of frame images, relative to the
CSV's folder (``clips\\a`` as written on Windows is read as ``clips/a``) or absolute; its image files
(jpg/jpeg/png/bmp) are sorted naturally (``f2`` before ``f10``). ``onset``/``apex``/``offset`` are **0-based
indices into that sorted list** (not file-name numbers); a blank apex becomes the middle of onset..offset
(counted in notes). A row whose clip folder is not there is dropped (counted, one warning naming the rows), as
the other readers drop the clips a copy lacks, and so is one whose folder holds no images (frames never extracted);
when no row's folder is there, or holds frames, the load stops, naming the first.
Subjects are the ids as written; ids that differ only in spelling (``sub01``, ``subject1``, ``1``, ``01``) are named
in a warning (one person's clips in several LOSO folds). Classes are the distinct labels in natural sort order. With
``faces`` ``cropped`` the frames are taken to be face crops already (used as they are); ``align`` and ``auto`` align
them.
"""

from __future__ import annotations

import re
from collections import Counter
from difflib import get_close_matches
from pathlib import Path, PureWindowsPath

from mpt_live.errors import InputError

from .files import list_frames
from .samples import DatasetIndex, Sample, natural_key
from .sheet_samples import middle
from .sheets import SheetRow, as_int, cell_text, count, first_of, read_sheet

DEFAULT_FPS = 30.0
COLUMNS = {k: (k,) for k in ("subject", "clip", "onset", "apex", "offset", "label")}


def find_csv(root: Path) -> Path:
    if root.is_file():
        return root
    if (root / "labels.csv").is_file():
        return root / "labels.csv"
    found = sorted(root.glob("*.csv"))
    if len(found) != 1:
        raise InputError(f"{root}: expected labels.csv or exactly one *.csv, found {len(found)}")
    return found[0]


def _index(row: SheetRow, ident: str, key: str, n: int) -> int | None:
    v = as_int(row[key])
    if v is None:
        if key == "apex" and not cell_text(row[key]):
            return None
        raise row.error(ident, f"{key} {cell_text(row[key])!r} is not a frame index")
    if not 0 <= v < n:
        raise row.error(ident, f"{key} index {v} is outside the clip's {n} frames (0..{n - 1})")
    return v


def _sample(row: SheetRow, base: Path, cache: dict, notes: dict[str, int],
            lost: list[tuple[str, Path]], empty: list[tuple[str, Path]]) -> Sample | None:
    subject, clip = cell_text(row["subject"]), cell_text(row["clip"])
    ident = f"{subject}/{clip}"
    if not subject or not clip:
        raise row.error(ident, "subject and clip must not be empty")
    label = cell_text(row["label"])
    if not label:
        raise row.error(ident, "label is empty")
    folder = Path(clip).expanduser()
    folder = folder if folder.is_absolute() else base / folder
    if "\\" in clip and not folder.exists() and not PureWindowsPath(clip).anchor:  # 'clips\a', written on Windows
        folder = base / PureWindowsPath(clip).as_posix()
    if folder not in cache:
        if folder.is_file():
            raise row.error(ident, f"clip folder {folder} is a file: 'clip' names the folder of a clip's frames")
        if not folder.is_dir():              # a clip the copy lacks (a partial copy): dropped, as the other readers do
            lost.append((f"row {row.row} ({ident})", folder))
            return None
        cache[folder] = list_frames(folder)
    frames = cache[folder]
    if not frames:                           # its frames never extracted (or not copied): dropped, named
        empty.append((f"row {row.row} ({ident}: {folder})", folder))
        return None
    on, ap, off = (_index(row, ident, k, len(frames)) for k in ("onset", "apex", "offset"))
    if on > off:
        raise row.error(ident, f"onset {on} > offset {off}")
    if ap is None:
        ap = middle(on, off)
        count(notes, "apex blank: middle of onset..offset used")
    elif not on <= ap <= off:
        raise row.error(ident, f"apex {ap} is outside onset..offset {on}..{off}")
    fps_text = cell_text(row["fps"])
    try:  # '29,97': the decimal comma of the locales whose spreadsheets save CSV with semicolons
        fps = float(re.sub(r"^(\d+),(\d+)$", r"\1.\2", fps_text)) if fps_text else DEFAULT_FPS
    except ValueError:
        fps = -1.0
    if not fps > 0:
        raise row.error(ident, f"fps {fps_text!r} is not a positive number")
    return Sample(subject, clip, frames, on, ap, off, label, fps, "csv")


def load(root: Path, faces: str = "align") -> DatasetIndex:
    path = find_csv(root)
    cache: dict[Path, list[Path]] = {}
    notes: dict[str, int] = {}
    lost: list[tuple[str, Path]] = []        # (row, folder) of the rows whose clip folder is not there
    empty: list[tuple[str, Path]] = []       # (row, folder) of the rows whose clip folder holds no frames
    samples = [s for row in read_sheet(path, COLUMNS, optional={"fps": ("fps",)})
               if (s := _sample(row, path.parent, cache, notes, lost, empty)) is not None]
    if not samples and empty:
        raise InputError(f"{path}: the clip folders its rows name hold no image frames (the first: {empty[0][1]}); "
                         "extract the clips' frames first")
    if not samples and lost:
        raise InputError(f"{path}: none of the clip folders its {len(lost)} row(s) name exists (the first: "
                         f"{lost[0][1]}); 'clip' is a folder of frames, relative to the CSV's folder or absolute")
    if not samples:
        raise InputError(f"{path}: no samples")
    dropped: dict[str, int] = {}
    warnings = []
    if lost:
        count(dropped, "no folder of its clip in the frames", len(lost))
        warnings.append(f"{path.name}: {len(lost)} row(s) name a clip folder the frames lack, dropped: "
                        f"{first_of([r for r, _ in lost])}")
    if empty:
        count(dropped, "its clip folder holds no image frames", len(empty))
        warnings.append(f"{path.name}: {len(empty)} row(s) name a clip folder that holds no image frames (not "
                        f"extracted, or not copied), dropped: {first_of([r for r, _ in empty], 3)}")
    classes = sorted({s.label for s in samples}, key=natural_key)
    return DatasetIndex(samples, classes, dropped, notes,
                        warnings=warnings + rare_classes(path, samples) + alike_subjects(path, samples),
                        cropped=faces == "cropped")


def subject_key(subject: str) -> tuple[str | None, object]:
    """What two spellings of one subject id share: its prefix (``sub`` or ``subject``, one prefix spelled two ways;
    ``s``, ``p`` or none, in any letter case) and number (leading zeros ignored) where it is a number with such a
    prefix (``sub01``, ``SUB1`` and ``subject01`` -> ``('sub', 1)``, ``01`` and ``1`` -> ``('', 1)``), else the id in
    any letter case (``Ann`` -> ``(None, 'ann')``)."""
    m = re.fullmatch(r"(sub(?:ject)?|s|p)?[\s_.-]*0*(\d+)", subject, re.I)
    prefix = (m.group(1) or "").casefold()[:3] if m else None  # 'subject' is 'sub' written out
    return (prefix, int(m.group(2))) if m else (None, subject.casefold())


def alike_subjects(path: Path, samples: list[Sample]) -> list[str]:
    """A warning per group of subject ids that differ only in spelling (``sub01``, ``SUB1``; ``1``, ``01``; ``Ann``,
    ``ann``): taken as they are written they are separate subjects, so in LOSO one person's clips train the folds that
    test that person's other clips. Ids of one number with different prefixes are different people (a composite CSV's
    CASME II ``sub06``, SMIC ``s6`` and SAMM ``006``), not named; a bare number joins the one prefixed id of its
    number where there is just one (``1`` beside ``sub01``)."""
    counts = Counter(s.subject for s in samples)
    groups: dict[tuple[str | None, object], list[str]] = {}
    for subject in sorted(counts, key=natural_key):
        groups.setdefault(subject_key(subject), []).append(subject)
    for bare in [k for k in groups if k[0] == ""]:
        prefixed = [k for k in groups if k[0] and k[1] == bare[1]]
        if len(prefixed) == 1:
            groups[prefixed[0]] = sorted(groups.pop(bare) + groups[prefixed[0]], key=natural_key)
    return [f"{path}: subjects {' and '.join(f'{g!r} ({counts[g]})' for g in group)} differ only in spelling; they "
            "are taken as separate subjects, so in LOSO the clips of one train the fold that tests another (make "
            "the ids one spelling if they are one person)"
            for group in sorted(groups.values(), key=lambda g: natural_key(g[0])) if len(group) > 1]


def rare_classes(path: Path, samples: list[Sample]) -> list[str]:
    """A warning per class with very few clips (at most 2, where another class has 5 times as many):
    in a free-form CSV that is usually a label typo, which would otherwise train as a class of its own."""
    counts = Counter(s.label for s in samples)
    largest = max(counts.values())
    out = []
    for label, n in sorted(counts.items(), key=lambda kv: natural_key(kv[0])):
        if n <= 2 and largest >= 5 * n:
            close = get_close_matches(label, [c for c in counts if c != label], n=1, cutoff=0.7)
            hint = f" (a typo of {close[0]!r}?)" if close else ""
            out.append(f"{path}: class {label!r} has only {n} clip{'s' if n > 1 else ''} "
                       f"(the largest has {largest}){hint}; it is trained as a class of its own")
    cased: dict[str, list[str]] = {}
    for label in sorted(counts, key=natural_key):
        cased.setdefault(label.casefold(), []).append(label)
    for group in cased.values():
        if len(group) > 1:
            out.append(f"{path}: classes {' and '.join(f'{g!r} ({counts[g]})' for g in group)} differ only in "
                       "case; they are trained as separate classes (make the labels one spelling if they are one)")
    return out
