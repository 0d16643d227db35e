"""Known annotation errata of the CASME II, SAMM and CAS(ME)^3 sheets, applied at load time.

Source: the MEB benchmark of Varanka, Li, Peng and Zhao, "Data Leakage and Evaluation Issues in
Micro-Expression Analysis" (arXiv 2211.11425), code https://github.com/tvaranka/meb, file
``meb/datasets/datasets.py`` (``Casme2.data_frame``, ``SAMM.data_frame``, ``Casme3A.data_frame``; read
at commit 0607d7d and later versions, which agree). MEB keys each correction by the pandas row index
of the sheet, i.e. the 0-based data row below the header (CASME II and CAS(ME)^3: spreadsheet row =
index + 2; SAMM, header on row 14: spreadsheet row = index + 15). MEB names the sheets
``CASME2-coding-updated.xlsx``, ``SAMM_Micro_FACS_Codes_v2.xlsx`` and
``cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx``. The table below is exactly MEB's; nothing is added.
MEB does not name the clips of these rows, so neither does this table.

Guard: because the corrections are keyed by row position only, one is applied only when the sheet
row *as read* is inconsistent with the frames on disk (an apex that is missing, '/' or -1, a frame
number with no file in the clip folder, or onset <= apex <= offset violated) **and** the corrected row
is consistent. MEB found these errors by checking the sheets against the frame folders, so on the
sheets MEB used they apply; on another sheet version a row that is already consistent is never
changed. Every application and every skipped correction is counted and logged.

Not taken over: MEB's SAMM action-unit corrections (rows 15, 18, 41, 64, 154: AU strings with "or"),
because action units are not loaded here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .files import ClipFrames
from .sheets import count

log = logging.getLogger("mpt.datasets")

SOURCE = "MEB (Varanka et al., arXiv 2211.11425; github.com/tvaranka/meb meb/datasets/datasets.py)"


@dataclass(frozen=True)
class Erratum:
    dataset: str
    row: int                              # 0-based data row index of the sheet (MEB's df.loc index)
    fix: tuple[tuple[str, int], ...]      # (field, corrected frame number); field: onset|apex|offset
    note: str


def _table() -> tuple[Erratum, ...]:
    rows: list[Erratum] = []
    # CASME II: "Mistake in file, change offset to 91" (row 60) and "Missing apex in file, change
    # based on optical flow" (21 rows; row 60 is one of them).
    casme2_apex = dict(zip(
        [29, 35, 43, 45, 51, 53, 60, 117, 118, 126, 136, 147, 155, 168, 170, 177, 202, 203, 234, 237, 238],
        [279, 68, 77, 81, 166, 100, 78, 187, 89, 80, 88, 134, 231, 53, 329, 111, 91, 103, 98, 153, 98]))
    for r, apex in casme2_apex.items():
        fix = (("apex", apex),) + ((("offset", 91),) if r == 60 else ())
        note = "missing apex, MEB estimate from optical flow" + ("; offset mistake" if r == 60 else "")
        rows.append(Erratum("casme2", r, fix, note))
    # SAMM: "Mistake in file, change offset" (row 56), "Missing apex in file" (rows 125, 132, 133).
    rows.append(Erratum("samm", 56, (("offset", 5739),), "offset mistake"))
    for r, apex in zip([125, 132, 133], [1105, 4945, 5130]):
        rows.append(Erratum("samm", r, (("apex", apex),), "missing apex, MEB estimate from optical flow"))
    # CAS(ME)^3 part A (MEB Casme3A).
    rows += [
        Erratum("casme3", 128, (("apex", 160),), "apex"),
        Erratum("casme3", 749, (("onset", 2647),), "onset"),
        Erratum("casme3", 708, (("offset", 34),), "offset"),
        Erratum("casme3", 796, (("offset", 1845),), "offset"),
        Erratum("casme3", 798, (("offset", 2403),), "offset"),
        Erratum("casme3", 750, (("onset", 1), ("apex", 1)), "onset and apex"),
    ]
    return tuple(rows)


ERRATA: tuple[Erratum, ...] = _table()
_BY_ROW = {(e.dataset, e.row): e for e in ERRATA}


def consistent(values: dict[str, int | None], clip: ClipFrames) -> bool:
    """True when onset, apex and offset are frame numbers of ``clip`` with onset <= apex <= offset."""
    on, ap, off = values["onset"], values["apex"], values["offset"]
    if on is None or ap is None or off is None or not on <= ap <= off:
        return False
    return all(v in clip.index_of for v in (on, ap, off))


def apply(dataset: str, row_index: int, where: str, values: dict[str, int | None],
          clip: ClipFrames, notes: dict[str, int]) -> dict[str, int | None]:
    """``values`` (sheet frame numbers) with the erratum of this row applied when the guard allows."""
    e = _BY_ROW.get((dataset, row_index))
    if e is None:
        return values
    if consistent(values, clip):
        count(notes, "errata not needed (sheet row already consistent)")
        log.debug("%s: erratum not needed, row already consistent (%s)", where, e.note)
        return values
    fixed = {**values, **dict(e.fix)}
    if not consistent(fixed, clip):
        count(notes, "errata not applicable (corrected row inconsistent with the frames)")
        log.warning("%s: erratum %s not applied, the corrected row does not match the frames "
                    "(another sheet version?)", where, dict(e.fix))
        return values
    count(notes, "errata applied")
    old = {k: values[k] for k, _ in e.fix}
    log.info("%s: erratum applied %s -> %s (%s; source %s)", where, old, dict(e.fix), e.note, SOURCE)
    return fixed
