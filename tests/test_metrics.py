"""Acc / UF1 / UAR / confusion matrix against hand-computed examples."""

from __future__ import annotations

import numpy as np
import pytest

from train.metrics import confusion_matrix, per_class, summarize

# (name, y_true, y_pred, n_classes, acc, uf1, uar) -- worked by hand in the comments
CASES = [
    # cm rows [1,1,0] [0,2,0] [1,0,1]; F1 = 2/4, 4/5, 2/3; recall = 1/2, 1, 1/2
    ("mixed", [0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0], 3, 4 / 6, (0.5 + 0.8 + 2 / 3) / 3, 2 / 3),
    ("perfect", [0, 1, 2, 2, 1, 0], [0, 1, 2, 2, 1, 0], 3, 1.0, 1.0, 1.0),
    # class 2 never predicted: F1 = 1, 4/6, 0; recall = 1, 1, 0
    ("never_predicted", [0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 1, 1], 3, 4 / 6, (1 + 2 / 3 + 0) / 3, 2 / 3),
    # everything predicted as class 0: F1_0 = 4/6, others 0; recall = 1, 0, 0
    ("all_predicted_one_class", [0, 0, 1, 2], [0, 0, 0, 0], 3, 0.5, (2 / 3) / 3, 1 / 3),
    # ground truth is all class 1 (classes 0 and 2 absent from the labels -> left out of the mean):
    # F1_1 = 2*2 / (4 + 2) = 2/3, recall_1 = 2/4
    ("truth_one_class", [1, 1, 1, 1], [1, 1, 0, 2], 3, 0.5, 2 / 3, 0.5),
    # a class absent from the labels but predicted: excluded from the mean, its FP still hurts
    # F1_0 = 2*1/(2+1) = 2/3, F1_1 = 2*1/(2+1) = 2/3; recall 1/2, 1/2
    ("absent_class_predicted", [0, 0, 1, 1], [0, 2, 1, 2], 3, 0.5, 2 / 3, 0.5),
    ("empty", [], [], 3, 0.0, 0.0, 0.0),
]


@pytest.mark.parametrize("name,y_true,y_pred,n,acc,f1,rec", CASES, ids=[c[0] for c in CASES])
def test_metrics_table(name, y_true, y_pred, n, acc, f1, rec):
    s = summarize(y_true, y_pred, n)
    assert s["n"] == len(y_true)
    assert (s["acc"], s["uf1"], s["uar"]) == pytest.approx((acc, f1, rec))


def test_confusion_rows_are_truth_columns_are_predictions():
    cm = confusion_matrix([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0], 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    assert cm.dtype == np.int64
    pc = per_class(cm)
    np.testing.assert_array_equal(pc["support"], [2, 2, 2])
    np.testing.assert_allclose(pc["precision"], [0.5, 2 / 3, 1.0])
    np.testing.assert_allclose(pc["recall"], [0.5, 1.0, 0.5])


def test_pooled_differs_from_mean_of_folds():
    # two folds; pooled UF1 is not the mean of per-fold UF1 (why LOSO pools before scoring)
    t1, p1 = [0, 0], [0, 0]
    t2, p2 = [1, 0], [1, 1]
    pooled = summarize(t1 + t2, p1 + p2, 2)["uf1"]
    folds = (summarize(t1, p1, 2)["uf1"] + summarize(t2, p2, 2)["uf1"]) / 2
    # pooled cm [[2,1],[0,1]]: F1_0 = 4/5, F1_1 = 2/3
    assert pooled == pytest.approx((0.8 + 2 / 3) / 2)
    # fold 1: F1_0 = 1; fold 2: F1_0 = 0, F1_1 = 2/3 -> 1/3
    assert folds == pytest.approx((1 + 1 / 3) / 2)


@pytest.mark.parametrize(
    "y_true,y_pred,n",
    [([0, 1], [0], 2), ([0, 3], [0, 1], 3), ([0, 1], [-1, 1], 2)],
)
def test_bad_labels_raise(y_true, y_pred, n):
    with pytest.raises(ValueError):
        confusion_matrix(y_true, y_pred, n)
