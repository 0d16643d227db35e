"""MEGC spot-then-recognize scoring of spotted intervals against annotated long videos (torch-free).

Spotting (MEGC 2019-2024): per video and per expression type, a spotted interval is a true
positive when its IoU with a not-yet-matched ground-truth interval of that type is >= 0.5; frames
are inclusive (``IoU = |A n B| / |A u B|`` counted in frames); each ground truth is matched at most
once and each spotted interval counts once. Spotted intervals are taken in descending ``score``
(then by onset), each matched to the unmatched ground truth with the highest IoU. TP, FP = spotted
- TP and FN = truth - TP are pooled over all videos, then precision, recall and
``F1 = 2 TP / (2 TP + FP + FN)``. ``all`` pools the micro and macro counts.

Recognition (MEGC 2023 STR) is scored on the true positives only, pairs (true label, spotted
class), over the classes present in their true labels: per class precision, recall and F1;
``analysis_f1`` = harmonic mean of the macro (class-averaged) precision and macro recall; ``uf1`` =
mean per-class F1; ``uar`` = mean per-class recall. ``strs`` = spotting F1 x analysis F1. They are
``None`` when the run has no classes (motion-only) or the truth no labels.

Faces: where the truth names whose face each interval is (annotations.csv's ``face``: a video of two people), a video
is scored per face. Each of the run's face IDs (events.csv's ``face``: mpt-live's track IDs) is paired with one of the
truth's faces at most, to make the most true positives, a truth face with several run IDs not tracked at once (a track
lost and found again: :mod:`train.spot_faces`); each truth face is matched with its run faces' events as a video is.
Events with no face (a blank ``face``) are one face of their own, with a warning. A truth that names no face is scored
by video, the faces pooled.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Iterable, Sequence

from mpt_live.errors import InputError

from .datasets.longvideo import TYPES, Interval, LongVideoIndex
from .datasets.sheets import first_of
from .spot_faces import BY_SPANS, FACE_PAIRING, RunFolders, face_groups, face_id, run_times

IOU_THRESHOLD = 0.5


@dataclass(frozen=True)
class Spotted:
    """One spotted interval of a run (0-based frame indices, inclusive)."""

    video: str
    onset: int
    offset: int
    type: str
    cls: str = ""
    score: float = 0.0
    apex: int | None = None
    face: str = ""
    onset_s: float | None = None  # the seconds of onset, apex and offset (mpt-live's events.csv has them)
    apex_s: float | None = None
    offset_s: float | None = None


def iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    """IoU of two inclusive frame intervals (onset, offset)."""
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    if inter <= 0:
        return 0.0
    return inter / ((a[1] - a[0] + 1) + (b[1] - b[0] + 1) - inter)


def match(truth: Sequence[Interval], spotted: Sequence[Spotted],
          threshold: float = IOU_THRESHOLD) -> list[tuple[int, int | None, float]]:
    """(spotted index, matched truth index or None, IoU) for every spotted interval, MEGC rule."""
    order = sorted(range(len(spotted)), key=lambda i: (-spotted[i].score, spotted[i].onset, spotted[i].offset))
    used: set[int] = set()
    out = []
    for i in order:
        s = spotted[i]
        best, best_iou = None, 0.0
        for j, t in enumerate(truth):
            if j in used:
                continue
            v = iou((s.onset, s.offset), (t.onset, t.offset))
            if v > best_iou:
                best, best_iou = j, v
        if best is not None and best_iou >= threshold:
            used.add(best)
            out.append((i, best, best_iou))
        else:
            out.append((i, None, best_iou))
    return sorted(out)


def spotting_counts(tp: int, n_spotted: int, n_truth: int) -> dict[str, Any]:
    """tp/fp/fn, precision, recall and F1 from pooled counts (0 where undefined)."""
    fp, fn = n_spotted - tp, n_truth - tp
    return {"tp": tp, "fp": fp, "fn": fn, "n_spotted": n_spotted, "n_truth": n_truth,
            "precision": tp / n_spotted if n_spotted else 0.0,
            "recall": tp / n_truth if n_truth else 0.0,
            "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0}


def recognition(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Analysis F1, UF1, UAR of (true label, spotted class) pairs; None values when undefined."""
    pairs = list(pairs)
    none = {"analysis_f1": None, "uf1": None, "uar": None, "macro_precision": None, "macro_recall": None,
            "per_class": {}}
    if not pairs or any(not t for t, _ in pairs) or all(not p for _, p in pairs):
        return none
    spelling = {t.casefold(): t for t, _ in pairs}  # "Surprise" in a run is the truth's "surprise"
    pairs = [(t, spelling.get(p.casefold(), p)) for t, p in pairs]
    classes = sorted({t for t, _ in pairs})
    per = {}
    for c in classes:
        tp = sum(1 for t, p in pairs if t == c and p == c)
        n_pred = sum(1 for _, p in pairs if p == c)
        n_true = sum(1 for t, _ in pairs if t == c)
        per[c] = {"tp": tp, "n_true": n_true, "n_predicted": n_pred,
                  "precision": tp / n_pred if n_pred else 0.0, "recall": tp / n_true,
                  "f1": 2 * tp / (n_pred + n_true)}
    p = sum(v["precision"] for v in per.values()) / len(per)
    r = sum(v["recall"] for v in per.values()) / len(per)
    return {"analysis_f1": 2 * p * r / (p + r) if p + r else 0.0,
            "uf1": sum(v["f1"] for v in per.values()) / len(per), "uar": r,
            "macro_precision": p, "macro_recall": r, "per_class": per}


def _hit(iv: Interval, s: Spotted, threshold: float) -> bool:
    return iv.type == s.type and iou((s.onset, s.offset), (iv.onset, iv.offset)) >= threshold


def score(truth: LongVideoIndex, spotted: dict[str, list[Spotted]], kind: str = "all",
          threshold: float = IOU_THRESHOLD, folders: RunFolders | None = None) -> dict[str, Any]:
    """Score a run: ``spotted`` maps each truth video name to its spotted intervals.

    Returns the headline figures of ``kind`` (micro, macro or all) at the top level, and
    ``by_type`` (micro, macro, all) and ``videos`` (per-video counts) beside them; where the truth names faces,
    ``face_pairs`` ({video: {run face: truth face}}) and ``face_pairing`` (the rule) too, its faces' times from its
    run folder's predictions.csv (``folders``: video -> (folder, rate): :func:`.spot_faces.run_times`).
    """
    if kind not in (*TYPES, "all"):
        raise InputError(f"--type {kind}: expected micro, macro or all")
    counts = {t: [0, 0, 0] for t in TYPES}  # tp, spotted, truth
    pairs: dict[str, list[tuple[str, str]]] = {t: [] for t in TYPES}
    videos: dict[str, dict[str, Any]] = {}
    faces: dict[str, dict[str, str]] = {}
    by_spans: list[str] = []  # videos whose run faces' times are their events' (no predictions.csv with faces)
    for v in truth.videos:
        per_video = {t: {"tp": 0, "fp": 0, "fn": 0} for t in TYPES}
        seen = run_times(v, found_v := spotted.get(v.name, []), folders, by_spans)
        for truth_part, found in face_groups(v, found_v, partial(_hit, threshold=threshold), faces, seen):
            for t in TYPES:
                gt = [iv for iv in truth_part if iv.type == t]
                sp = [s for s in found if s.type == t]
                tp = [(i, j) for i, j, _ in match(gt, sp, threshold) if j is not None]
                counts[t][0] += len(tp)
                counts[t][1] += len(sp)
                counts[t][2] += len(gt)
                pairs[t] += [(gt[j].label, sp[i].cls) for i, j in tp]
                for k, n in (("tp", len(tp)), ("fp", len(sp) - len(tp)), ("fn", len(gt) - len(tp))):
                    per_video[t][k] += n
        videos[v.name] = per_video
    by_type: dict[str, dict[str, Any]] = {}
    for t in (*TYPES, "all"):
        ts = TYPES if t == "all" else (t,)
        c = spotting_counts(*(sum(counts[x][k] for x in ts) for k in range(3)))
        rec = recognition(p for x in ts for p in pairs[x])
        c.update(rec)
        c["strs"] = c["f1"] * rec["analysis_f1"] if rec["analysis_f1"] is not None else None
        by_type[t] = c
    labels = {iv.label.casefold() for v in truth.videos for iv in v.intervals if iv.label}
    foreign = sorted({s.cls for f in spotted.values() for s in f if s.cls and s.cls.casefold() not in labels})
    warnings = [f"the runs' classes {', '.join(foreign)} are not labels of the truth "
                f"({', '.join(sorted(labels)) or 'none'}): their true positives count as misrecognised"] \
        if foreign and labels else []
    warnings += one_type(truth, spotted, kind)
    warnings += [f"{len(by_spans)} {BY_SPANS}: {first_of(by_spans)}"] if by_spans else []
    blank = [v.name for v in truth.videos
             if v.name in faces and any(not face_id(s.face) for s in spotted.get(v.name, []))]
    if blank:  # a run of an older version or another tool: whose face it is, it does not say
        warnings.append(f"{len(blank)} video(s) whose truth names faces have events with no face (events.csv's face "
                        f"blank: a run of another tool or an older version): those events scored as one face of their "
                        f"own, paired with one truth face at most (a single-face run's: the other faces' intervals missed): "
                        f"{first_of(blank)}")
    by_face = {"face_pairs": faces, "face_pairing": FACE_PAIRING} if faces else {}
    return {"type": kind, **{k: v for k, v in by_type[kind].items() if k != "per_class"},
            "iou_threshold": threshold, "by_type": by_type, "videos": videos, **by_face, "warnings": warnings}


def one_type(truth: LongVideoIndex, spotted: dict[str, list[Spotted]], kind: str) -> list[str]:
    """A warning where the truth annotates one type only (a sheet of macro-expressions) and the runs' events of the
    other count in the headline ``kind`` (``all``, or that other type): all false, as MEGC pools them."""
    have = {iv.type for v in truth.videos for iv in v.intervals}
    if len(have) != 1:
        return []
    only, other = next(iter(have)), next(t for t in TYPES if t not in have)
    n = sum(s.type == other for f in spotted.values() for s in f)
    if not n or kind not in ("all", other):
        return []
    return [(f"the truth annotates {only} intervals only: the runs' {n} {other} event(s) count as false positives in "
             f"the {kind!r} figures (--type {only} scores the {only} events alone)")]
