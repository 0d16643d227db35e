"""Classification metrics of the micro-expression literature: Acc, UF1, UAR, confusion matrix.

Plain numpy. Labels are integer class indices ``0..n_classes-1``.

Convention (MEGC, Composite Database Evaluation; also what the MPT paper reports):

* **UF1** (unweighted F1) is the mean over classes of the per-class F1
  ``2 TP / (2 TP + FP + FN)``, computed from the *pooled* predictions of all LOSO folds.
* **UAR** (unweighted average recall) is the mean over classes of ``TP / N_c``.
* The mean runs over the classes **present in the ground truth** (``N_c > 0``). A class that
  never occurs in the labels has no recall and an F1 that can only be 0 (its predictions are all
  false positives); such a class is left out of the mean rather than counted as 0. Its wrong
  predictions still cost the true classes their recall/F1. A class present in the labels but
  never predicted counts with F1 = 0 and recall = 0.

Per-fold figures (one test subject) use the same functions on that subject's clips, so a fold
with a single class scores UF1 = F1 of that class. Those are reported for information only; the
headline numbers are computed once on the pooled predictions.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) int64 counts; rows = true class, columns = predicted class."""
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {t.size} vs {p.size}")
    for name, a in (("y_true", t), ("y_pred", p)):
        if a.size and (a.min() < 0 or a.max() >= n_classes):
            raise ValueError(f"{name} has labels outside 0..{n_classes - 1}")
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (t, p), 1)
    return cm


def per_class(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class support, precision, recall and F1 from a confusion matrix (0 where undefined)."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        denom = support + predicted  # = 2TP + FP + FN
        f1 = np.where(denom > 0, 2 * tp / denom, 0.0)
    return {"support": support.astype(np.int64), "precision": precision, "recall": recall, "f1": f1}


def accuracy_from_cm(cm: np.ndarray) -> float:
    n = cm.sum()
    return float(np.trace(cm) / n) if n else 0.0


def uf1_from_cm(cm: np.ndarray) -> float:
    """Mean per-class F1 over the classes present in the ground truth."""
    pc = per_class(cm)
    present = pc["support"] > 0
    return float(pc["f1"][present].mean()) if present.any() else 0.0


def uar_from_cm(cm: np.ndarray) -> float:
    """Mean per-class recall over the classes present in the ground truth."""
    pc = per_class(cm)
    present = pc["support"] > 0
    return float(pc["recall"][present].mean()) if present.any() else 0.0


def summarize(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> dict[str, Any]:
    """{"n", "acc", "uf1", "uar", "confusion" (nested list)} for one set of predictions."""
    cm = confusion_matrix(y_true, y_pred, n_classes)
    return {
        "n": int(cm.sum()),
        "acc": accuracy_from_cm(cm),
        "uf1": uf1_from_cm(cm),
        "uar": uar_from_cm(cm),
        "confusion": cm.tolist(),
    }


def summarize_groups(y_true: Sequence[int], y_pred: Sequence[int], groups: Sequence[str],
                     n_classes: int) -> dict[str, dict[str, Any]]:
    """:func:`summarize` of each group's predictions (e.g. each dataset of a composite), in order of first
    appearance: the same pooled predictions, split, so each group's figures are computed as the pool's are."""
    out: dict[str, dict[str, Any]] = {}
    for g in dict.fromkeys(groups):
        keep = [i for i, x in enumerate(groups) if x == g]
        out[g] = summarize([y_true[i] for i in keep], [y_pred[i] for i in keep], n_classes)
    return out
