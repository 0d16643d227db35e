"""bench/paired.py: the size of a difference between two runs on the same clips, per seed and with intervals."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import bench_script

from mpt_live.machine import vector_extensions

CLASSES = ["happiness", "surprise", "disgust"]


@pytest.fixture(scope="module")
def pb():
    yield from bench_script("paired")


def write_run(study: Path, name: str, labels: list[str], preds: list[str], finished: bool = True) -> None:
    """A run folder as mpt-train leaves it: predictions.csv appended fold by fold, metrics.json once all are done."""
    d = study / "runs" / name
    d.mkdir(parents=True)
    with open(d / "predictions.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["fold", "subject", "clip_id", "label", "pred"])
        for i, (y, p) in enumerate(zip(labels, preds)):
            w.writerow([0, f"sub{i % 3}", f"c{i}", y, p])
    if finished:
        (d / "metrics.json").write_text("{}")


def uf1(labels: list[str], preds: list[str]) -> float:
    f1 = []
    for c in sorted(set(labels)):
        tp = sum(y == c and p == c for y, p in zip(labels, preds))
        fp = sum(y != c and p == c for y, p in zip(labels, preds))
        fn = sum(y == c and p != c for y, p in zip(labels, preds))
        f1.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(f1) / len(f1)


def test_differences_per_seed_are_the_pooled_uf1_of_each_run(pb, tmp_path):
    labels = [CLASSES[i % 3] for i in range(30)]
    good = list(labels)
    good[0] = "surprise"                                   # one clip wrong
    worse = list(labels)
    for i in (0, 1, 2, 4, 5):                              # five wrong
        worse[i] = CLASSES[(i + 1) % 3]
    study = tmp_path / "s1"
    write_run(study, "default", labels, good)
    write_run(study, "default@1", labels, labels)
    write_run(study, "plain-adapter", labels, worse)
    write_run(study, "plain-adapter@1", labels, good)
    write_run(study, "plain-adapter@2", labels, good)      # a seed the default lacks is left out
    p, seeds = pb.load([study], "default", "plain-adapter")
    assert seeds == [0, 1] and len(p.y) == 30
    d = p.differences()
    assert d == pytest.approx([uf1(labels, good) - uf1(labels, worse), 1.0 - uf1(labels, good)])
    r = pb.compare(p, seeds, resamples=200)
    assert r["uf1_diff_mean"] == pytest.approx(d.mean(), abs=1e-4)
    lo, hi = r["ci95_over_clips"]
    assert lo <= r["uf1_diff_mean"] <= hi and hi > lo
    assert (r["mcnemar"]["only_base_right"], r["mcnemar"]["only_other_right"]) == (4 + 1, 0)


def test_clips_of_several_studies_are_pooled_by_folder(pb, tmp_path):
    labels = [CLASSES[i % 3] for i in range(12)]
    for name in ("a", "b"):
        write_run(tmp_path / name, "default", labels, labels)
        write_run(tmp_path / name, "no-mag", labels, ["happiness"] * 12)
    p, seeds = pb.load([tmp_path / "a", tmp_path / "b"], "default", "no-mag")
    assert len(p.y) == 24 and p.clips[0].startswith("a:") and p.clips[-1].startswith("b:")
    assert p.differences() == pytest.approx([1.0 - uf1(labels * 2, ["happiness"] * 24)])
    assert "ci95_over_seeds" not in pb.compare(p, seeds, resamples=100)  # one seed: no spread to take


def test_a_run_still_training_or_killed_is_left_out(pb, tmp_path):
    """Its predictions.csv holds the folds finished so far: taken, it cut every run down to those clips."""
    labels = [CLASSES[i % 3] for i in range(30)]
    write_run(tmp_path / "s", "default", labels, labels)
    write_run(tmp_path / "s", "no-mag", labels, labels[:-1] + ["happiness"])
    write_run(tmp_path / "s", "default@1", labels[:9], labels[:9], finished=False)
    write_run(tmp_path / "s", "no-mag@1", labels, labels)
    p, seeds = pb.load([tmp_path / "s"], "default", "no-mag")
    assert seeds == [0] and len(p.y) == 30


def test_runs_that_agree_on_every_clip_have_no_clip_interval_and_the_json_is_json(pb, tmp_path, capsys):
    """Two runs with the same prediction on every clip: every resample's difference is 0, scipy's BCa interval is
    NaN to NaN (with its warnings), printed '+nan to +nan' and written as NaN, which is no JSON. No spread: no interval,
    '-' as over one seed."""
    labels = [CLASSES[i % 3] for i in range(30)]
    write_run(tmp_path / "s", "default", labels, labels)
    write_run(tmp_path / "s", "no-mag", labels, labels)
    assert pb.main([str(tmp_path / "s"), "--runs", "no-mag", "--json", str(tmp_path / "r.json")]) == 0
    r = json.loads((tmp_path / "r.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert r["no-mag"]["uf1_diff_mean"] == 0 and "ci95_over_clips" not in r["no-mag"]
    out = capsys.readouterr()
    assert out.out.splitlines()[0] == f"CPU vector extensions: {vector_extensions()}"
    assert "nan" not in out.out and "| no-mag | 0 | 30 | +0.000 | +0.000 | - | - |" in out.out


def test_no_common_seed_and_a_wrong_folder_are_one_line_errors(pb, tmp_path, capsys):
    labels = ["happiness", "surprise"]
    write_run(tmp_path / "s", "default", labels, labels)
    write_run(tmp_path / "s", "no-mag@3", labels, labels)
    with pytest.raises(SystemExit, match="no-mag vs default: no training seed finished for both"):
        pb.load([tmp_path / "s"], "default", "no-mag")
    with pytest.raises(SystemExit):
        pb.main([str(tmp_path)])
    assert "not an output folder of bench/recognition.py" in capsys.readouterr().err


def test_ambiguous_seeds_other_labels_and_missing_clips_are_said(pb, tmp_path, capsys):
    """NAME and NAME@0 are both seed 0 (one silently won); runs whose labels disagree (two benchmarks mixed) were
    compared; clips some run lacks were dropped unsaid; --resamples 0 gave a scipy traceback."""
    labels = [CLASSES[i % 3] for i in range(9)]
    write_run(tmp_path / "s", "default", labels, labels)
    write_run(tmp_path / "s", "default@0", labels, labels)
    write_run(tmp_path / "s", "no-mag", labels, labels)
    with pytest.raises(SystemExit, match="runs default and default@0 are both training seed 0 of default"):
        pb.load([tmp_path / "s"], "default", "no-mag")
    write_run(tmp_path / "t", "default", labels, labels)
    write_run(tmp_path / "t", "no-mag", labels[::-1], labels)
    with pytest.raises(SystemExit, match="has other labels in other runs"):
        pb.load([tmp_path / "t"], "default", "no-mag")
    write_run(tmp_path / "u", "default", labels, labels)
    write_run(tmp_path / "u", "no-mag", labels[:7], labels[:7])
    p, _ = pb.load([tmp_path / "u"], "default", "no-mag")
    assert len(p.y) == 7 and "2 clip(s) not predicted by every run" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        pb.main([str(tmp_path / "u"), "--resamples", "0"])
    assert "--resamples 0: at least 100" in capsys.readouterr().err
