"""The MEGC 2019 Composite Database Evaluation (CDE): SMIC-HS, CASME II and SAMM pooled into three classes.

Protocol (See, Yap, Li, Hong, Wang, "MEGC 2019 - The Second Facial Micro-Expressions Grand Challenge", FG 2019):
the three datasets' micro-expressions in the classes negative, positive and surprise, leave-one-subject-out over
all 68 subjects, UF1/UAR on the pooled predictions, and per part on the same predictions. Full copies give 442
clips: SMIC-HS 164 (16 subjects; negative 70, positive 51, surprise 43), CASME II 145 (24; 88, 32, 25), SAMM 133
(28; 92, 26, 15). The classes:

* SMIC-HS: its own three classes, as they are (:mod:`.smic`, 100 fps). A copy without HS reads VIS or NIR
  (25 fps) as the SMIC reader does, with a warning that this is not the CDE.
* CASME II (:mod:`.casme2`, 200 fps): happiness -> positive; surprise -> surprise; disgust, repression ->
  negative; others, fear and sadness are dropped (counted). Three negative clips of the coding sheet are not in
  MEGC 2019's list of 145 (sub04/EP12_01f, sub05/EP12_03f, sub24/EP02_07, as in the composite loader of the MEB
  benchmark, github.com/tvaranka/meb): dropped, counted.
* SAMM (:mod:`.samm`, 200 fps): anger, contempt, disgust, fear, sadness -> negative; happiness -> positive;
  surprise -> surprise; others dropped (counted). The SAMM reader's own 5-class protocol is not used.

Each clip keeps its part's frame rate (``Sample.fps``) and dataset name (``Sample.dataset``, which the per-part
figures group by); subjects are prefixed by their part (``smic_s1``, ``casme2_sub01``, ``samm_006``), so no two
datasets' subjects share a fold. Errata and drops are the part readers' own, their reasons prefixed by the part.

Where the parts are (``--data``, which may be given several times; :func:`parse`): a folder ``ROOT`` under which
every part not named otherwise is found by its reader (the CASME II coding sheet, the SAMM FACS-code sheet and
SMIC's ``HS/sN/micro`` folders, each up to four levels down); ``NAME=PATH`` (``smic=/disk2/SMIC``) names a part's
own root. Given a ``ROOT``, a part found nowhere is an error: the CDE needs all three. Only ``NAME=PATH`` values
given (no ``ROOT``): a composite of those parts, with a warning that its figures are not the MEGC 2019 CDE's
(a lab without a SAMM licence can still run SMIC + CASME II in the same three classes).

Faces: every part is read with the same ``faces`` (one clip cache per run): ``auto`` uses the datasets' own crops
only where every part has them, else aligns every part's raw frames (a note says so).
"""

from __future__ import annotations

import re
from pathlib import Path

from mpt_live.errors import InputError, counted

from . import casme2, samm, smic
from .files import find_dirs, find_files
from .samples import AUTO_ALIGNED, DatasetIndex, Sample

PARTS = ("smic", "casme2", "samm")   # MEGC 2019's order
CLASSES = ["negative", "positive", "surprise"]
CASME2_CLASSES = {"happiness": "positive", "surprise": "surprise", "disgust": "negative", "repression": "negative"}
SAMM_CLASSES = {"anger": "negative", "contempt": "negative", "disgust": "negative", "fear": "negative",
                "sadness": "negative", "happiness": "positive", "surprise": "surprise"}
CASME2_NOT_IN_MEGC = {("sub04", "ep12_01f"), ("sub05", "ep12_03f"), ("sub24", "ep02_07")}
NAMES = {"smic": "SMIC-HS", "casme2": "CASME II", "samm": "SAMM"}
_NAMED = re.compile(r"([A-Za-z0-9_-]+)=(.*)", re.S)


def parse(values: list[str] | str) -> tuple[Path | None, dict[str, Path]]:
    """``--data`` values (or the ``;``-joined text :func:`data_text` stores) -> (ROOT or None, part -> its root).
    One line naming the value: an unknown part name, a part or ROOT given twice, a path that is not a folder."""
    if isinstance(values, (str, Path)):
        values = [v for v in re.split(r";(?=(?:%s)=)" % "|".join(PARTS), str(values)) if v]
    root, parts = None, {}
    for value in map(str, values):
        m = _NAMED.fullmatch(value)
        if m and not Path(value).exists():
            name, path = m.group(1).lower(), Path(m.group(2)).expanduser()
            if name not in PARTS:
                raise InputError(f"--data {value}: unknown part {m.group(1)!r} (the composite's parts: "
                                 f"{', '.join(PARTS)})")
            if name in parts:
                raise InputError(f"--data {value}: the {name} part is given twice")
            parts[name] = _folder(path, f"--data {value}")
        elif root is not None:
            raise InputError(f"--data {value}: a second ROOT (the first: {root}); name the parts instead: "
                             "--data casme2=PATH --data samm=PATH --data smic=PATH")
        else:
            root = _folder(Path(value).expanduser(), f"--data {value}")
    if root is None and not parts:
        raise InputError("--data: give the folder holding the three datasets, or casme2=PATH, samm=PATH, smic=PATH")
    return root, parts


def _folder(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise InputError(f"{what}: {'no such file or folder' if not path.exists() else 'not a folder'}")
    return path.resolve()


def data_text(values: list[str]) -> str:
    """What a run stores as its ``data``: ROOT first, then ``part=path`` in :data:`PARTS` order, all resolved,
    joined by ``;`` (read back by :func:`parse`)."""
    root, parts = parse(values)
    return ";".join(([str(root)] if root else []) + [f"{p}={parts[p]}" for p in PARTS if p in parts])


def _present(part: str, root: Path) -> bool:
    """Whether ``root`` holds what the part's reader looks for first (its sheet, or SMIC's folders)."""
    if part == "smic":
        return bool(find_dirs(root, smic.has_micro_subjects))
    return bool(find_files(root, casme2.SHEETS if part == "casme2" else samm.SHEETS))


def _read(part: str, root: Path, faces: str) -> DatasetIndex:
    if part == "smic":
        return smic.load(root, faces=faces)
    if part == "casme2":
        return casme2.load(root, faces=faces, classes=CLASSES,
                           labels={k: CASME2_CLASSES.get(v, v) for k, v in casme2.LABELS.items()})
    return samm.load(root, faces=faces, classes=CLASSES,
                     labels={k: SAMM_CLASSES.get(v, v) for k, v in samm.LABELS.items()})


def load(data: str | Path, faces: str = "align") -> DatasetIndex:
    """The composite of the parts ``data`` names (:func:`parse`), read with ``faces``."""
    root, named = parse(str(data))
    where = {p: named.get(p, root) for p in PARTS if p in named or root is not None}
    missing = [p for p, r in where.items() if p not in named and not _present(p, r)]
    if missing:
        raise InputError(f"{root}: no {' and no '.join(NAMES[p] for p in missing)} found under it (looked for "
                         "the CASME II coding sheet, the SAMM FACS-code sheet, SMIC's HS/sN/micro folders); the MEGC "
                         f"2019 composite needs all three: give --data {missing[0]}=PATH where it is, or name only "
                         "the parts you have (--data casme2=PATH --data smic=PATH) for a partial composite")
    indexes = {p: _read(p, r, faces) for p, r in where.items()}
    notes: dict[str, int] = {}
    mixed = ""
    if faces == "auto" and len({i.cropped for i in indexes.values()}) > 1:
        crops = [p for p, i in indexes.items() if i.cropped]
        indexes = {p: _read(p, r, "align") for p, r in where.items()}
        mixed = (f"--faces auto: only {' and '.join(NAMES[p] for p in crops)} {'has' if len(crops) == 1 else 'have'} "
                 "cropped faces: every part's raw frames aligned")
        notes[mixed] = 0  # counted below: the clips it covers, all of them
    samples: list[Sample] = []
    dropped: dict[str, int] = {}
    warnings: list[str] = []
    for part, index in indexes.items():
        kept = len(samples)
        for s in index.samples:
            if part == "casme2" and (s.subject.lower(), s.clip_id.lower()) in CASME2_NOT_IN_MEGC:
                key = "casme2: not in MEGC 2019's list of CASME II clips"
                dropped[key] = dropped.get(key, 0) + 1
                continue
            s.subject = f"{part}_{s.subject}"
            samples.append(s)
        dropped.update({f"{part}: {k}": n for k, n in index.dropped.items()})
        notes.update({f"{part}: {k}": n for k, n in index.notes.items()})
        if AUTO_ALIGNED in index.notes:   # the clips aligned that the composite uses, not those it dropped above
            notes[f"{part}: {AUTO_ALIGNED}"] = len(samples) - kept
        warnings += index.warnings
    if mixed:
        notes[mixed] = len(samples)
    if len(indexes) < len(PARTS):
        warnings.insert(0, f"a composite of {' and '.join(NAMES[p] for p in indexes)} only: not the MEGC 2019 "
                        "composite (SMIC-HS, CASME II and SAMM); its figures are not comparable with published "
                        "CDE results")
    other = sorted({s.fps for s in indexes["smic"].samples} - {smic.FPS}) if "smic" in indexes else []
    if other:  # SMIC's VIS or NIR set where the copy has no HS (the reader says which set it read)
        warnings.insert(0, f"the SMIC part read is a {other[0]:g} fps set, not SMIC-HS (the warning below names it): "
                        "not the MEGC 2019 composite, which uses SMIC-HS; give --data smic=PATH of the HS set")
    if "smic" in indexes and smic.E_NOTE in indexes["smic"].notes:
        warnings.insert(0, "the SMIC part read is SMIC-E (its annotation sheet's clips), not SMIC-HS's micro folders: "
                        "not the MEGC 2019 composite, which uses SMIC-HS; give --data smic=PATH of SMIC-HS for it")
    cropped = next(iter(indexes.values())).cropped
    return DatasetIndex(samples, list(CLASSES), dropped, notes, warnings=warnings, cropped=cropped)



def part_lines(index: DatasetIndex) -> list[str]:
    """One line per part of a composite index: its clips, subjects and clips per class."""
    lines = []
    for part in PARTS:
        mine = [s for s in index.samples if s.dataset == part]
        if mine:
            counts = ", ".join(f"{c} {sum(s.label == c for s in mine)}" for c in index.classes)
            lines.append(f"{NAMES[part]} ({part}): {counted(len(mine), 'clip')}, "
                         f"{counted(len({s.subject for s in mine}), 'subject')}, "
                         f"classes {counts}")
    return lines
