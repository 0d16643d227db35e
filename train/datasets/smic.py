"""SMIC-HS (Li et al., FG 2013) from its distribution folders; there is no annotation sheet.

Layout: ``HS/s1/micro/{positive,negative,surprise}/s1_po_01/*.bmp`` anywhere under the root (e.g.
``SMIC_all_raw/HS``); the ``HS`` folder is found by content (``sN/micro`` sub-folders) and uncropped
frames are preferred. Every clip folder is one micro-expression: onset = first frame, offset =
last frame, apex = the middle frame (SMIC has no apex annotation). A subject folder without a
``micro`` folder (SMIC filmed 20 subjects; 16 showed micro-expressions) is named in a warning. Frames are sorted naturally.
100 fps. Classes (fixed order): negative, positive, surprise.

SMIC's normal-speed sets ``VIS`` and ``NIR`` have the same layout but were filmed at 25 fps (the
SMIC page of the University of Oulu): when the folder read is one of them (``--data`` names it, or
the copy has no ``HS``: VIS, in colour as HS, before NIR), its clips get 25 fps and a warning says which set
is read.
"""

from __future__ import annotations

import re
from pathlib import Path

from mpt_live.errors import InputError

from .files import child, child_dirs, find_dirs, list_frames, pick_frames, prefer_raw, subdirs
from .samples import DatasetIndex, Sample, natural_key
from .sheet_samples import middle

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
    hs, cropped = pick_frames(find_dirs(root, has_micro_subjects), "SMIC folders (HS/s1/micro/...)", root,
                              faces, _prefer_hs(root), notes)
    which = _smic_set(hs, root)
    fps = SET_FPS[which]
    if which != "hs":
        warnings.append(f"{hs}: reading SMIC-{which.upper()}, filmed at {fps:g} fps (SMIC-HS: {FPS:g} fps)")
    samples: list[Sample] = []
    without: list[str] = []
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
                if not frames:
                    raise InputError(f"{clip}: clip folder has no image frames")
                n = len(frames)
                samples.append(Sample(subj.name, clip.name, frames, 0, middle(0, n - 1), n - 1,
                                      label, fps, "smic"))
    if not samples:
        raise InputError(f"{hs}: no SMIC clips found under sN/micro/<emotion>/")
    if without:
        warnings.append(f"{hs}: no 'micro' folder in {len(without)} subject folder(s), not used: {', '.join(without)}")
    return DatasetIndex(samples, list(CLASSES), {}, notes, cropped=cropped, warnings=warnings)
