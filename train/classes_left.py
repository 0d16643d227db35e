"""What preprocessing left of each class. The dataset's checks (:func:`train.loso.check_classes`, a class of one
subject: ``train.datasets``) are made on the sheet's rows, before any clip is decoded and aligned; the clips that
fail there (frames that do not decode, a JPEG cut short, no face) can take every clip of a class, or every clip of
it but one subject's, so that the fold testing that subject has none to train on."""

from __future__ import annotations

from typing import Callable, Sequence

from mpt_live.errors import InputError


def check_classes_left(classes: Sequence[str], before: Sequence, after: Sequence, data: str,
                       log: Callable[[str], None] = print) -> None:
    """``before``/``after``: the samples (``label``, ``subject``) before and after preprocessing. InputError when
    fewer than 2 classes keep a clip; a line for each class left with none, and for each class whose clips, of
    several subjects before, now all are one subject's (its fold trains on none of it)."""
    def subjects(samples: Sequence) -> dict[str, set[str]]:
        by: dict[str, set[str]] = {c: set() for c in classes}
        for s in samples:
            by.setdefault(s.label, set()).add(s.subject)
        return by

    was, now = subjects(before), subjects(after)
    present = [c for c in classes if now[c]]
    if len(present) < 2:
        raise InputError(f"{data}: clips of {len(present)} class(es) ({', '.join(present) or 'none'}) left after "
                         "preprocessing (the other clips dropped: lines above); recognition needs at least 2")
    for c in classes:
        n = sum(s.label == c for s in before)
        if n and not now[c]:
            log(f"class {c}: all {n} of its clip(s) dropped in preprocessing (lines above): no clip trains or tests it")
        elif len(now[c]) == 1 < len(was[c]):
            (only,) = now[c]
            log(f"class {c}: its clips left after preprocessing are all subject {only}'s (those of "
                f"{len(was[c]) - 1} other subject(s) dropped: lines above): the LOSO fold testing {only} has no "
                "training clip of it")
