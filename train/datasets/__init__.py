"""Micro-expression datasets read from their original distribution layouts.

``load_dataset(name, root)`` returns a :class:`DatasetIndex`: one :class:`Sample` per micro-expression,
each holding the *whole* available frame sequence of its clip folder in time order plus the
onset/apex/offset as indices into that sequence. The fixed class order of each dataset is given in
its module. Nothing is dropped silently: every dropped row is counted in ``DatasetIndex.dropped``
(reason -> count) and logged on ``logging.getLogger("mpt.datasets")``. Bad input (missing columns,
unknown labels, missing frames, onset > offset) raises :class:`InputError` naming the
sheet and its row as numbered in a spreadsheet program; a row whose subject or clip folder the copy lacks
is a counted drop with a warning naming it. A folder the sheet names (``sub01/EP02_01f``) is
matched ignoring letter case when no folder has the exact name; hidden files (``._img46.jpg``,
``.DS_Store``) and ``__MACOSX`` trees are never read.

Datasets: ``casme2``, ``samm``, ``smic`` (SMIC-HS), ``casme3`` (CAS(ME)^3 part A), ``csv`` (a plain
CSV of clip folders, see :mod:`train.datasets.csv_format`) and ``composite`` (MEGC 2019's SMIC-HS + CASME II +
SAMM in three classes; ``root`` names the parts, see :mod:`train.datasets.composite`).

Faces (``faces``, :data:`FACES`): ``align`` reads the uncropped frames where the layout has both (our
aligner then crops them); ``cropped`` reads the dataset's own cropped faces (a frame folder whose path
names ``crop``, e.g. CASME II's ``Cropped``, SMIC's ``SMIC_all_cropped``) and uses them as they are
(``DatasetIndex.cropped``); ``auto`` is ``cropped`` where the layout has them, else ``align``.

Long videos with spotting annotations (CAS(ME)^2, SAMM long videos, CAS(ME)^3 part A recordings and
``mpt-synth --long`` benchmarks) are read by :mod:`train.datasets.longvideo` (``load_long_dataset``).
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

from mpt_live.errors import InputError

from .samples import DatasetIndex, Sample, natural_key  # noqa: F401  (the package's public names)
from .sheets import count, first_of

log = logging.getLogger("mpt.datasets")

DATASETS = ("casme2", "samm", "smic", "casme3", "csv", "composite")
FACES = ("align", "cropped", "auto")


def load_dataset(name: str, root: str | Path, faces: str = "align", **options: Any) -> DatasetIndex:
    """Load dataset ``name`` (one of :data:`DATASETS`) from its distribution folder ``root``.

    ``faces``: one of :data:`FACES` (module docstring). ``options`` go to the dataset's ``load``
    (e.g. ``classes=4`` for casme3).
    """
    if faces not in FACES:
        raise InputError(f"faces must be one of {', '.join(FACES)}, got {faces!r}")
    if name != "composite":  # the composite's root names its parts (composite.parse checks each)
        root = Path(root).expanduser()
        if not root.exists():
            raise InputError(f"{root}: dataset path does not exist")
        if name != "csv" and root.is_file():  # the sheet itself: mpt-train's check (train.run_checks) says the same
            raise InputError(f"{root}: a file, not a folder: --dataset {name} reads the dataset's root folder "
                             f"(give --data {root.parent})")
    if name == "composite":
        from . import composite as mod
    elif name == "casme2":
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
    try:
        index = mod.load(root, faces=faces, **options)
    except PermissionError as e:  # a folder or file of the layout this user may not read: which one
        raise InputError(f"{e.filename or root}: cannot read ({e.strerror})") from None
    reserved = [c for c in index.classes if c.strip().casefold() == "neutral"]
    if reserved:  # mpt_live.results.NEUTRAL: what mpt-live calls every window outside an event
        raise InputError(f"{root}: a class named {reserved[0]!r}: mpt-live labels every window outside an event "
                         "'neutral', so a class cannot have that name; rename it (e.g. 'neutral_face')")
    index.name = name
    index.warnings += _relabelled_twice(index, root)
    _unique_ids(index)
    index.warnings += _one_subject_classes(index, root)
    _log_summary(index)
    return index


def _one_subject_classes(index: DatasetIndex, root: Path) -> list[str]:
    """A warning per class whose clips all come from one subject: leave-one-subject-out never trains on it
    when that subject is tested, and never tests it otherwise."""
    if len(index.subjects) < 2:
        return []
    by_class: dict[str, set[str]] = {}
    for s in index.samples:
        by_class.setdefault(s.label, set()).add(s.subject)
    return [f"{root}: class {c!r} has clips of one subject only ({next(iter(subs))}): in LOSO its fold never "
            "trains on it, and no other fold tests it" for c, subs in sorted(by_class.items()) if len(subs) == 1]


def _relabelled_twice(index: DatasetIndex, root: Path) -> list[str]:
    """One warning naming the clips annotated more than once over the same frames with different labels (a row
    copied and relabelled): each row trains as its own clip, so those frames teach every one of the labels. Each clip
    is named with its rows' count and its distinct labels."""
    labels: dict[tuple, list[str]] = {}
    for s in index.samples:
        key = (s.subject, s.clip_id, s.frames[s.onset], s.frames[s.offset])
        labels.setdefault(key, []).append(s.label)
    said = [f"{subject}/{clip} ({'twice' if len(ls) == 2 else f'{len(ls)} times'}: {', '.join(dict.fromkeys(ls))})"
            for (subject, clip, _, _), ls in labels.items() if len(set(ls)) > 1]
    if not said:
        return []
    return [f"{root}: {len(said)} clip(s) annotated more than once over the same frames with different labels, each "
            f"row trained as a clip of its own: {first_of(said)}; correct the sheet where a label is wrong"]


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
    for w in index.warnings:  # shown by the CLIs (index.warnings); a warning here printed each one twice
        log.info("%s", w)
