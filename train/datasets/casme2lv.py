"""CAS(ME)^2 (Qu et al., IEEE TAC 2018) long videos for spotting, from its distribution.

Assumed layout (the release as the MEGC spotting baselines read it):

* ``CAS(ME)^2code_final*.xlsx`` (or any ``*code_final*.xlsx``) anywhere under the root, three
  sheets (found by their names ``naming rule1`` / ``naming rule2`` when a copy adds or reorders sheets, else
  by position), no header row (a header row, if present, is skipped; blank columns left of a table too):
  1. the coding (e.g. ``CASFEcode_final``): A participant number, B expression name
     (``anger1_1``: stimulus name ``anger1`` + ``_`` + index), C onset, D apex, E offset (image
     numbers, 1-based), F action units, G estimated emotion (the label), H type
     (``micro-expression`` / ``macro-expression``), I self-reported emotion (ignored);
  2. ``naming rule1``: B subject code used in folder names (``15`` -> ``s15``), C participant number;
  3. ``naming rule2``: A stimulus code (``401`` -> ``0401``), B stimulus name (``anger1``).
* recordings ``rawvideo/s15/15_0401girlcrashing.avi`` (preferred: the raw long videos), or their
  frames ``rawpic/s15/15_0401girlcrashing/img1.jpg`` ...; a recording is found by its
  ``<subject code>_<stimulus code>`` prefix. 30 fps. The release's ``selectedpic/s15/anger1_1/img557.jpg``
  and ``cropped/15/anger1_1/`` (each expression's own frames) are not recordings and are not read.

Every recording found is a video of the set (one without annotations still counts its false
positives). Rows of the coding sheet with neither a participant number nor an expression name (the
totals and notes some copies carry under the table) are skipped and counted in notes. Offset 0 means "offset not
coded": the apex is used as the offset, as the MEGC baselines do (counted in notes), and a row without an apex at or
after its onset is dropped and counted (:func:`.longvideo.uncoded_offset`); a row without an onset is dropped and
counted.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import Any

import cv2

from mpt_live.errors import InputError
from mpt_live.quiet import quiet_fd
from mpt_live.pyav_capture import open_video
from mpt_live.file_reason import unreadable
from mpt_live.sources import read_past

from .files import ClipFrames, find_dirs, find_files, find_sheets, newest_name, pick, prefer_raw
from .samples import natural_key
from .sheets import SheetRow, as_int, cell_text, count, first_of, is_blank, read_workbook
from .longvideo import (LeftOut, LongVideo, LongVideoIndex, finish, frame_positions, interval_from_row, normalise_type,
                        outside_line, uncoded_offset)
from .unscored import Unscored

FPS = 30.0
VIDEO_EXT = (".avi", ".mp4", ".mov", ".mkv")
EXPRESSION = re.compile(r".+_\d+")  # an expression name of the coding sheet: stimulus + _ + index (anger1_1)


def _sheets(path: Path) -> list[tuple[str, list[list[Any]]]]:
    """(coding, naming rule1, naming rule2): the sheets named like ``naming rule1`` / ``naming rule2`` (any case
    and spacing) and, of the others, the one with most expression names (``anger1_1``) in column B; by
    position (the release's order) when the names do not say."""
    book = read_workbook(path, "coding sheet", sheet_name=None)
    if len(book) < 3:
        raise InputError(f"{path.name}: expected 3 sheets (coding, naming rule1, naming rule2), found {len(book)}")
    sheets = [(name, _from_first_column(df.values.tolist())) for name, df in book.items()]
    rules = [next((t for t in sheets if re.search(rf"rule\s*{k}$", str(t[0]).strip(), re.I)), None) for k in (1, 2)]
    if None in rules:
        return sheets[:3]
    others = [t for t in sheets if t not in rules]    # the coding: the one with most expression names in B

    def names(t: tuple[str, list[list[Any]]]) -> int:
        return sum(len(r) > 1 and bool(EXPRESSION.fullmatch(cell_text(r[1]))) for r in t[1])
    return [max(others, key=names)] + rules


def _from_first_column(rows: list[list[Any]]) -> list[list[Any]]:
    """``rows`` without the blank columns left of the table (a copy re-saved with its tables from column B): the
    sheets are read by column position."""
    lead = min((next((j for j, c in enumerate(r) if not is_blank(c)), len(r)) for r in rows), default=0)
    return [list(r)[lead:] for r in rows]


def _rows(sheet: str, rows: list[list[Any]], width: int) -> list[SheetRow]:
    """Data rows (spreadsheet numbering), blank ones and a header row (no number in column A) skipped."""
    out = []
    for r, cells in enumerate(rows):
        cells = list(cells) + [None] * (width - len(cells))
        if all(is_blank(c) for c in cells):
            continue
        if r == 0 and as_int(cells[0]) is None and as_int(cells[1]) is None:
            continue
        out.append(SheetRow(sheet, r + 1, len(out), dict(enumerate(cells))))
    return out


def _subject_code(row: SheetRow, value: Any) -> str:
    m = re.fullmatch(r"s?(\d+)", cell_text(value), re.I)
    if not m:
        raise row.error("", f"subject code {cell_text(value)!r} is not a number like 15 or s15")
    return str(int(m.group(1)))


def recording_key(name: str) -> str | None:
    """``<subject code>_<stimulus code>`` of a recording's file or folder name (``15_0401`` of
    ``15_0401girlcrashing.avi``), the key the coding sheet's rows find it by; None for another name."""
    m = re.match(r"(\d+)_(\d{4})", name)
    return f"{int(m.group(1))}_{m.group(2)}" if m else None


def _looked_for(root: Path, found: dict[str, tuple[str, Path]], key: str) -> str:
    """Where a recording of ``key`` (``16_0101``) the copy lacks would be, as a user looks for it: a glob of its name
    in its subject's folder beside the copy's recordings (``rawvideo/s16/16_0101*.avi``, ``rawpic/s16/16_0101*/``);
    the sheet gives the subject and stimulus code that begin the name, not the rest of it."""
    like = next(iter(found.values()))[1]  # videos first
    subject = re.fullmatch(r"(s)\d+", like.parent.name, re.I)
    folder = like.parent.parent / f"{subject.group(1)}{key.split('_')[0]}" if subject else like.parent
    where = folder.relative_to(root).as_posix() + "/" if folder.is_relative_to(root) and folder != root else ""
    return f"{where}{key}*" + (like.suffix if like.is_file() else "/")


def _names(key: str, looked_for: str, name: str) -> str | None:
    """``looked_for`` where a run's ``name`` is a file or folder name of the recording of ``key``: how ``mpt-eval spot``
    tells a run of a recording the copy lacks (:attr:`.longvideo.LeftOut.key`)."""
    return looked_for if recording_key(name) == key else None


def _recordings(root: Path) -> dict[str, tuple[str, Path]]:
    """``<subject code>_<stimulus code>`` -> (name, video file or frame folder); videos preferred."""
    found: dict[str, tuple[str, Path]] = {}
    base = root if root.is_dir() else root.parent
    for kind in ("video", "frames"):
        if kind == "video":
            dirs = find_dirs(base, lambda d: any(p.suffix.lower() in VIDEO_EXT for p in d.glob("*_*.*")))
        else:
            dirs = find_dirs(base, lambda d: any(c.is_dir() and re.match(r"\d+_\d{4}", c.name) for c in d.iterdir()))
        for d in sorted(dirs, key=prefer_raw(base)):
            for p in sorted(d.iterdir(), key=lambda q: natural_key(q.name)):
                key = recording_key(p.name)
                ok = p.is_file() and p.suffix.lower() in VIDEO_EXT if kind == "video" else p.is_dir()
                if key and ok:
                    found.setdefault(key, (Path(p.name).stem, p))
    return found


def _frame_count(path: Path) -> int:
    """The frames of a recording: its header's count where a seek to its last frame lands there and it reads, else the
    frames as mpt-live reads them from the start (:func:`_frames_as_read`: a video cut short, a partial copy, keeps the
    header of the whole recording; after a damaged frame the seek can land elsewhere); InputError saying why where
    OpenCV cannot open it (FFmpeg's own lines held back, as mpt-live does). A video OpenCV cannot decode (AV1) is
    read by PyAV, as mpt-live reads it (:func:`mpt_live.pyav_capture.open_video`)."""
    cap = open_video(path)
    try:
        opened, n = cap.isOpened(), int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if opened and n > 0:
            with quiet_fd(2):
                cap.set(cv2.CAP_PROP_POS_FRAMES, n - 1)
                whole = cap.grab() and int(cap.get(cv2.CAP_PROP_POS_FRAMES)) == n
    finally:
        cap.release()
    if not opened:
        raise InputError(f"{path}: not a readable video: {unreadable(path)}")
    if n > 0 and not whole:
        n = _frames_as_read(path, n)
    if n <= 0:
        raise InputError(f"{path}: not a readable video (no frames)")
    return n


UNREADABLE = "its recording's video does not read"


def _length_or_why(path: Path, broken: list[str]) -> int:
    """:func:`_frame_count`; 0, with the one-line reason added to ``broken``, where the video does not read (a copy
    that failed: 0 bytes, not a video): its rows are dropped as an empty frame folder's are."""
    try:
        return _frame_count(path)
    except InputError as e:
        broken.append(str(e))
        return 0


def _frames_as_read(path: Path, limit: int) -> int:
    """The frames of a video through its last one that reads, at most ``limit`` (its header's count), read from its
    start as mpt-live reads them (:func:`mpt_live.sources.read_past`): a frame that does not decode (a damaged stretch)
    is read past and keeps its place."""
    cap = open_video(path)
    n = 0  # frames through the last that read, those read past before it included
    try:
        with quiet_fd(2):
            while n < limit and (got := read_past(cap, limit, n, url=False, decode=False)) is not None:
                n = min(n + got[2] + 1, limit)
    finally:
        cap.release()
    return n


def load(root: Path) -> LongVideoIndex:
    what = "CAS(ME)^2code_final*.xlsx sheet"
    books = ("*code_final*.xlsx", "*code_final*.xls")
    found = find_files(root, books)
    if not found and (csvs := find_files(root, ("*code_final*.csv",))):
        raise InputError(f"{csvs[0]}: a CSV holds one sheet of the coding workbook, which the reader needs whole "
                         "(coding, naming rule1, naming rule2: the recordings' names): give the .xlsx of the release")
    # find_sheets walks again only to say where a sheet above the folder is
    sheet = pick(found or find_sheets(root, books, what), what, root, prefer=newest_name, warnings=(warnings := []))
    (coding_name, coding), (rule1_name, rule1), (rule2_name, rule2) = _sheets(sheet)
    subjects = {}
    for row in _rows(rule1_name, rule1, 3):
        n = as_int(row[2])
        if n is not None:
            subjects[n] = _subject_code(row, row[1])
    stimuli = {}
    for row in _rows(rule2_name, rule2, 2):
        code = as_int(row[0])
        if code is not None and cell_text(row[1]):
            stimuli[cell_text(row[1]).lower()] = f"{code:04d}"
    recordings = _recordings(root)
    if not recordings:
        clips = [d.name for d in find_dirs(root, lambda d: d.name.lower() in ("selectedpic", "cropped"), 2)]
        held = (f"; {' and '.join(sorted(set(clips)))} hold(s) only the expressions' own frames, not the long "
                "recordings spotting needs: add rawvideo/ or rawpic/ from the release") if clips else ""
        raise InputError(f"{root}: no CAS(ME)^2 recordings found (rawvideo/s15/15_0101*.avi or "
                         f"rawpic/s15/15_0101*/){held}")
    videos: dict[str, LongVideo] = {}
    lengths: dict[str, int] = {}
    clips: dict[str, ClipFrames] = {}  # frame folders: image numbers -> positions
    unscored = Unscored()              # frame folders holding no image, recordings the copy lacks
    for key, (name, path) in recordings.items():
        subject = f"s{key.split('_')[0]}"
        if path.is_dir():
            clip = unscored.read(path, key, name, (f"{subject}/{name}",))
            if clip is None:
                continue
            videos[key] = LongVideo(name, subject, FPS, [], frames=clip.frames,
                                    aliases=(f"{subject}/{name}",))
            clips[key] = clip
        else:
            videos[key] = LongVideo(name, subject, FPS, [], video=path, aliases=(f"{subject}/{name}", path.name))
    dropped: dict[str, int] = {}
    notes: dict[str, int] = {}
    skipped: dict[str, int] = {}  # rows that are no annotation
    labels: set[str] = set()
    broken: list[str] = []       # videos that do not read: path and why
    broken_rows: list[str] = []  # their rows
    unreadable: list[LeftOut] = []  # those videos, dropped from the truth
    cut: list[str] = []     # rows outside their recording's frames
    for row in _rows(coding_name, coding, 9):
        participant = as_int(row[0])
        expr = cell_text(row[1])
        if participant is None and not EXPRESSION.fullmatch(expr):
            # a total, a count or a note under (or beside) the table: no participant and no expression name
            count(skipped, "coding rows without a participant or an expression name (totals, notes): skipped")
            continue
        if participant not in subjects:
            raise row.error(expr, f"participant {cell_text(row[0])!r} is not in sheet {rule1_name!r}")
        stim = expr.rsplit("_", 1)[0].lower()
        if stim not in stimuli:
            raise row.error(expr, f"expression {expr!r}: stimulus {stim!r} is not in sheet {rule2_name!r}")
        key = f"{subjects[participant]}_{stimuli[stim]}"
        ident = f"s{subjects[participant]}/{expr}"
        lacked, shown = None, ""
        if key not in videos:  # lacked (or its folder empty): named as it is looked for, the sheet's code said
            shown = _looked_for(root, recordings, key)
            why = f"the sheet names it by subject and stimulus code {key}, the copy lacks its recording"
            lacked = LeftOut(shown, why, (f"s{subjects[participant]}/{key}", key), partial(_names, key, shown))
        if unscored.drops(row, ident, key, key in videos, lacked, dropped, shown):
            continue
        if key not in clips and key not in lengths:  # a video file: its frames, once
            lengths[key] = _length_or_why(videos[key].video, broken)
            if lengths[key] == 0:
                unreadable.append(LeftOut(videos[key].name, broken[-1], videos[key].aliases))
        if lengths.get(key) == 0:
            count(dropped, UNREADABLE)
            broken_rows.append(f"{row.sheet} row {row.row} ({ident})")
            continue
        kind = normalise_type(cell_text(row[7]))
        if kind is None:
            raise row.error(ident, f"type {cell_text(row[7])!r} is not micro-expression or macro-expression")
        v = videos[key]
        onset, apex, offset = (as_int(row[i]) for i in (2, 3, 4))
        if onset == 0:
            onset = None
        keep, offset = uncoded_offset(onset, apex, offset, dropped, notes)
        if not keep:
            continue
        if key in clips:  # frame folders: image numbers -> positions
            positions = frame_positions(row, ident, clips[key], onset, apex, offset, notes, cut, dropped)
            if positions is None:
                continue
            onset, apex, offset = positions
            n_frames = len(v.frames or [])
        else:  # video files: image number k is frame k - 1
            onset, apex, offset = (n - 1 if n is not None else None for n in (onset, apex, offset))
            n_frames = lengths[key]
        label = cell_text(row[6]).lower()
        labels.add(label)
        iv = interval_from_row(row, ident, onset, apex, offset, kind, label, cell_text(row[5]), n_frames,
                               dropped, notes, cut)
        if iv is not None:
            v.intervals.append(iv)
    kept = {v.name: v for k, v in videos.items() if lengths.get(k) != 0}  # a video that does not read: no video
    if broken and not any(v.intervals for v in kept.values()):
        raise InputError(broken[0] + (f" (and {len(broken) - 1} more recording(s) that do not read)"
                                      if len(broken) > 1 else ""))
    said = [f"{len(broken)} recording video(s) do not read, not scored: {first_of(broken, 3)}; their "
            f"{len(broken_rows)} annotation row(s) dropped: {first_of(broken_rows, 3)}"] if broken else []
    return finish(kept, sorted(lb for lb in labels if lb), dropped, notes, "casme2lv", sheet,
                  warnings + unscored.warnings() + outside_line(cut) + said, unscored.left_out() + unreadable, skipped)
