"""SAMM Long Videos (Yap et al., FG 2020) for spotting, from its distribution.

Assumed layout:

* ``SAMM_LongVideos_V*_Release.xlsx`` (any ``*LongVideos*.xlsx``/``.csv``) anywhere under the root:
  release notes on top, the table header found by content; columns Subject, Filename (the
  expression id ``006_1_2`` = subject ``006``, recording ``006_1``, expression 2), Onset, Apex,
  Offset (frame numbers as in the image names), Type (``Micro - 1/2`` -> micro, ``Macro`` ->
  macro), Action Units; Duration, Inducement Code and Notes are ignored. An ``Emotion`` /
  ``Estimated Emotion`` column, when present, gives the label; otherwise labels are taken from a
  ``SAMM_Micro_FACS_Codes*.xlsx`` (``.xls``, ``.csv``) sheet under the root, else left empty: joined on Filename,
  as the MEGC STR baselines do, for the micro rows only (a macro row is never labelled from it; MEAN's
  ``load_excel.py`` joins on Filename and Type to that end).
* frames ``SAMM_longvideos/006_1/006_1_0001.jpg`` ...: the frame root is the folder holding the
  ``NNN_N`` recording folders; a frame's number is the last number in its name. 200 fps.

Every recording folder found is a video of the set. Apex -1 means unknown (middle used, counted);
the release numbers its images from 1, so onset 0 names no image: an expression already under way when the recording
starts, dropped and counted, as the MEGC baselines drop it (a copy whose frames were extracted from 0, with an image
0, keeps the row from that image); offset 0 (or -1) takes the apex (counted), or drops the row when it has no apex
at or after its onset (counted; :func:`.longvideo.uncoded_offset`).
"""

from __future__ import annotations

import re
from pathlib import Path

from mpt_live.errors import InputError

from .files import ClipFrames, child_dirs, find_dirs, find_files, find_sheets, newest_name, pick, prefer_raw
from .sheets import as_int, cell_text, count, read_sheet
from .longvideo import (LeftOut, LongVideo, LongVideoIndex, finish, frame_positions, interval_from_row, normalise_type,
                        outside_line, uncoded_offset)
from .unscored import LACKED, Unscored

FPS = 200.0
COLUMNS = {
    "subject": ("Subject",),
    "filename": ("Filename",),
    "onset": ("Onset", "Onset Frame", "OnsetFrame"),
    "apex": ("Apex", "Apex Frame", "ApexFrame"),
    "offset": ("Offset", "Offset Frame", "OffsetFrame"),
    "type": ("Type",),
}
OPTIONAL = {"aus": ("Action Units", "AU", "AUs"), "emotion": ("Estimated Emotion", "Emotion")}


def _micro_labels(root: Path) -> dict[str, str]:
    """Filename -> estimated emotion from a SAMM micro-expression FACS sheet, if one is there."""
    sheets = find_files(root, tuple(f"*Micro_FACS_Codes*.{ext}" for ext in ("xlsx", "xls", "csv")))
    if not sheets:
        return {}
    cols = {"filename": ("Filename",), "emotion": ("Estimated Emotion", "Emotion")}
    return {cell_text(r["filename"]): cell_text(r["emotion"]).lower()
            for r in read_sheet(sorted(sheets, key=newest_name)[0], cols)}


def load(root: Path) -> LongVideoIndex:
    sheet = pick(find_sheets(root, ("*LongVideos*.xlsx", "*LongVideos*.xls", "*LongVideos*.csv"),
                             "SAMM_LongVideos_V*_Release.xlsx sheet"),
                 "SAMM_LongVideos_V*_Release.xlsx sheet", root, prefer=newest_name, warnings=(warnings := []))
    base = root if root.is_dir() else root.parent
    frame_root = pick(find_dirs(base, lambda d: child_dirs(d, r"\d{3}_\d+")),
                      "SAMM long-video frame folders (SAMM_longvideos/006_1/...)", root, prefer=prefer_raw(base))
    videos: dict[str, LongVideo] = {}
    clips: dict[str, ClipFrames] = {}
    unscored = Unscored()              # recording folders holding no image, recordings the copy lacks
    for d in sorted(p for p in frame_root.iterdir() if p.is_dir() and re.fullmatch(r"\d{3}_\d+", p.name)):
        clip = unscored.read(d, d.name, d.name)
        if clip is None:
            continue
        videos[d.name] = LongVideo(d.name, d.name.split("_")[0], FPS, [], frames=clip.frames)
        clips[d.name] = clip
    fallback = None
    dropped: dict[str, int] = {}
    notes: dict[str, int] = {}
    labels: set[str] = set()
    cut: list[str] = []     # rows outside their recording's frames
    for row in read_sheet(sheet, COLUMNS, OPTIONAL):
        ident = cell_text(row["filename"])
        m = re.fullmatch(r"(\d+)_(\d+)_\d+", ident)
        if not m:
            raise row.error(ident, f"Filename {ident!r} is not <subject>_<recording>_<n> like 006_1_2")
        key = f"{int(m.group(1)):03d}_{int(m.group(2))}"
        if unscored.drops(row, ident, key, key in videos, LeftOut(key, LACKED), dropped, f"{key}/"):
            continue
        kind = normalise_type(cell_text(row["type"]))
        if kind is None:
            raise row.error(ident, f"Type {cell_text(row['type'])!r} is not Micro or Macro")
        onset, apex, offset = (as_int(row[k]) for k in ("onset", "apex", "offset"))
        if onset == 0 and 0 not in clips[key].index_of:  # images numbered from 1 (the layout's): 0 names none
            count(dropped, "onset 0 (under way when the recording starts)")
            continue
        keep, offset = uncoded_offset(onset, apex, offset, dropped, notes)
        if not keep:
            continue
        label = cell_text(row["emotion"]).lower()
        if not label and kind == "micro":
            if fallback is None:
                fallback = _micro_labels(root)
            label = fallback.get(ident, "")
        labels.add(label)
        v = videos[key]
        positions = frame_positions(row, ident, clips[key], onset, apex, offset, notes, cut, dropped)
        if positions is None:
            continue
        iv = interval_from_row(row, ident, *positions, kind, label, cell_text(row["aus"]), len(v.frames or []),
                               dropped, notes, cut)
        if iv is not None:
            v.intervals.append(iv)
    if not videos and not unscored.folders:
        raise InputError(f"{frame_root}: no recording folders")
    return finish(videos, sorted(lb for lb in labels if lb), dropped, notes, "sammlv", sheet,
                  warnings + unscored.warnings() + outside_line(cut), unscored.left_out())
