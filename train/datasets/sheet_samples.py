"""The rows of a clip dataset's coding sheet (CASME II, SAMM, CAS(ME)^3: :func:`.sheets.read_sheet`) made samples:
each row's clip folder found and read, its frame numbers made indices into the clip's frames, its label checked, and
every row dropped (a class outside the protocol, a subject or clip folder the copy lacks) counted and named."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Iterator

from mpt_live.errors import InputError
from mpt_live.framenames import images

from .files import ClipFrames, child, subdirs
from .samples import Sample
from .sheets import SheetRow, as_int, cell_text, count, first_of

log = logging.getLogger("mpt.datasets")


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


TEXT_ROW = ("text under or in the table, not an annotation row (no frame number; 'Note' or 'Total' first, or no digit "
            "in Subject and no Filename or Emotion): skipped")


def is_text(row: SheetRow) -> bool:
    """A note or a total under the table, not an annotation: no frame number in onset, apex or offset, and its Subject
    cell (Filename where Subject is blank) starts with 'note' or 'total' in any case (``Note: coded in 2014``, ``Total:
    255``, ``Total`` beside a count), or it has no digit in Subject and no Filename or Emotion. A row naming a subject
    (``sub01``, ``6``, ``spNO.1``), or a clip and its emotion, whose frames are blank or '/' is an annotation, and its
    error names it."""
    first = (cell_text(row["subject"]) or cell_text(row["filename"])).strip().casefold()
    return all(as_int(row[k]) is None for k in ("onset", "apex", "offset")) and (
        first.startswith(("note", "total"))
        or not (re.search(r"\d", cell_text(row["subject"])) or cell_text(row["filename"]) or cell_text(row["emotion"])))


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
        if is_text(row):
            count(notes, TEXT_ROW)
            continue
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
