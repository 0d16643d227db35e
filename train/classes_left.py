"""Whether the clips of a recognition run leave it enough classes. Checked on the sheet's rows, before any clip is
decoded and aligned, and again on the clips preprocessing left: the clips that fail there (frames that do not decode,
a JPEG cut short, no face) can take every clip of a class, or every clip of it but one subject's, so that the fold
testing that subject has none to train on (a class of one subject in the sheet: ``train.datasets``)."""

from __future__ import annotations

from typing import Callable, Sequence

from mpt_live.errors import InputError


def check_classes(classes: Sequence[str], samples: Sequence, data: str, before: Sequence | None = None,
                  log: Callable[[str], None] = print, loso: bool = True) -> None:
    """``samples`` (``label``, ``subject``): the dataset's rows as read, or, with ``before`` (those rows), the clips
    left after preprocessing. InputError when fewer than 2 of ``classes`` have a sample (recognition of one class
    scores a perfect, meaningless 1.0); on the rows as read, one line naming the classes (a fixed protocol's) with no
    row at all; after preprocessing, a line for each class left with none, and for each class
    whose clips, of several subjects before, now all are one subject's (``loso``: its fold trains on none of it; a
    full run learns it from that subject alone)."""
    def subjects(of: Sequence) -> dict[str, set[str]]:
        by: dict[str, set[str]] = {c: set() for c in classes}
        for s in of:
            by.setdefault(s.label, set()).add(s.subject)
        return by

    now = subjects(samples)
    present = [c for c in classes if now[c]]
    if len(present) < 2:
        when = ("after the dataset's rows were read" if before is None
                else "left after preprocessing (the other clips dropped: lines above)")
        raise InputError(f"{data}: clips of {len(present)} class(es) ({', '.join(present) or 'none'}) {when}; "
                         "recognition needs at least 2")
    if before is None:
        if empty := [c for c in classes if not now[c]]:  # a copy of the dataset lacking some of its protocol's classes
            log(f"{data}: no clip of class(es) {', '.join(empty)} (of the {len(classes)} of its protocol): no clip "
                "trains or tests them; the model keeps an output for each, trained on no clip of it (it learns not to "
                "give them), and UF1 and UAR are means over the classes with clips")
        return
    was = subjects(before)
    for c in classes:
        n = sum(s.label == c for s in before)
        if n and not now[c]:
            log(f"class {c}: all {n} of its clip(s) dropped in preprocessing (lines above): no clip trains or tests it")
        elif len(now[c]) == 1 < len(was[c]):
            (only,) = now[c]
            log(f"class {c}: its clips left after preprocessing are all subject {only}'s (those of "
                f"{len(was[c]) - 1} other subject(s) dropped: lines above): "
                + (f"the LOSO fold testing {only} has no training clip of it" if loso
                   else f"the model learns it from subject {only}'s clips alone"))
