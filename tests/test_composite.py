"""The MEGC 2019 composite (--dataset composite): tiny copies of the SMIC-HS, CASME II and SAMM layouts written here,
the composite's class mapping, subject prefixes, counted drops, part roots, and a LOSO run with per-part figures."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("openpyxl")

from mpt_live.clip import ClipSpec  # noqa: E402
from mpt_live.errors import InputError  # noqa: E402
from test_datasets import CASME2_HEADER, SAMM_HEADER, xlsx  # noqa: E402
from train.datasets import load_dataset  # noqa: E402
from train.datasets.cache import clip_plan  # noqa: E402

_rng = np.random.default_rng(0)


def noise(folder: Path, names) -> None:
    """Frames of noise (moving from frame to frame), so a clip has motion to magnify."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        cv2.imwrite(str(folder / n), _rng.integers(0, 256, (24, 24, 3), dtype=np.uint8))


def casme2_part(root: Path) -> None:
    rows = [[1, "EP02_01f", 10, 11, 13, "12", "happiness"],
            [1, "EP03_02", 2, 3, 5, "4", "disgust"],
            [1, "EP09_05", 2, 3, 5, "", "others"],          # dropped: not in the 3 classes
            [2, "EP01_11f", 3, 4, 6, "", "repression"],
            [2, "EP05_01", 1, 2, 4, "", "surprise"],
            [2, "EP07_04", 1, 2, 4, "", "fear"],            # dropped
            [4, "EP12_01f", 1, 2, 4, "", "disgust"]]        # not in MEGC 2019's list of CASME II clips
    xlsx(root / "CASME2-coding-20140508.xlsx", [CASME2_HEADER] + rows)
    for subject, clip, on, _, off, _, emotion in rows:
        if emotion not in ("others", "fear"):
            for top, prefix in (("CASME2_RAW_selected", "img"), ("Cropped", "reg_img")):
                noise(root / top / f"sub{subject:02d}" / clip, [f"{prefix}{i}.jpg" for i in range(on - 1, off + 2)])


def samm_part(root: Path) -> None:
    rows = [[6, "006_1_2", 1, 5562, 5563, 5565, "Happiness"], [6, "006_1_3", 1, 100, 102, 104, "Anger"],
            [6, "006_2_1", 2, 30, 31, 33, "Other"],         # dropped
            [7, "007_3_1", 3, 10, 11, 13, "Contempt"], [7, "007_5_2", 5, 40, 41, 43, "Surprise"],
            [7, "007_6_1", 6, 20, 21, 23, "Sadness"]]
    xlsx(root / "SAMM_Micro_FACS_Codes_v2.xlsx",
         [SAMM_HEADER] + [[s, c, code, on, ap, off, off - on, "Micro", 1, "", "12", e]
                          for s, c, code, on, ap, off, e in rows], header_row=14)
    for subject, clip, _, on, _, off, emotion in rows:
        if emotion != "Other":
            for top in ("SAMM", "SAMM_cropped"):
                noise(root / top / f"{subject:03d}" / clip, [f"{subject:03d}_{i:05d}.jpg" for i in range(on, off + 1)])


def smic_part(root: Path) -> None:
    for top in ("SMIC_all_raw", "SMIC_all_cropped"):
        for clip in ("s1/micro/negative/s1_ne_01", "s1/micro/positive/s1_po_01", "s2/micro/surprise/s2_sur_01",
                     "s2/micro/negative/s2_ne_02"):
            noise(root / top / "HS" / clip, [f"image{i:06d}.bmp" for i in range(40, 46)])


def composite(root: Path) -> Path:
    casme2_part(root / "CASME2")
    samm_part(root / "SAMM")
    smic_part(root / "SMIC")
    return root


PER_PART = {"casme2": {"negative": 2, "positive": 1, "surprise": 1},   # disgust + repression (sub04's left out)
            "samm": {"negative": 3, "positive": 1, "surprise": 1},     # anger + contempt + sadness
            "smic": {"negative": 2, "positive": 1, "surprise": 1}}
FPS = {"casme2": 200.0, "samm": 200.0, "smic": 100.0}


def test_parts_pooled_in_megc_classes_with_prefixed_subjects_and_counted_drops(tmp_path):
    index = load_dataset("composite", composite(tmp_path))
    assert index.classes == ["negative", "positive", "surprise"]
    for part, counts in PER_PART.items():
        mine = [s for s in index.samples if s.dataset == part]
        assert {c: sum(s.label == c for s in mine) for c in counts} == counts, part
        assert all(s.subject.startswith(f"{part}_") for s in mine)
    assert index.subjects == ["casme2_sub01", "casme2_sub02", "samm_006", "samm_007", "smic_s1", "smic_s2"]
    assert index.dropped == {"casme2: label others (not in the 3-class protocol)": 1,
                             "casme2: label fear (not in the 3-class protocol)": 1,
                             "casme2: not in MEGC 2019's list of CASME II clips": 1,
                             "samm: label others (not in the 3-class protocol)": 1}
    assert not any("not the MEGC 2019 composite" in w for w in index.warnings)
    spec = ClipSpec(frames=10)
    for s in index.samples:  # each part's own frame rate reaches the clip sampler
        assert s.fps == FPS[s.dataset]
        plan = clip_plan(s, spec, "paper")
        assert plan.at[-1] - plan.at[0] == pytest.approx((s.offset - s.onset) / FPS[s.dataset])


def test_the_readers_own_protocols_are_unchanged(tmp_path):
    """Read alone, SAMM keeps its 5 classes (sadness dropped, contempt its own class) and CASME II its 5."""
    composite(tmp_path)
    samm = load_dataset("samm", tmp_path / "SAMM")
    assert samm.counts() == {"anger": 1, "contempt": 1, "happiness": 1, "surprise": 1, "others": 0}
    assert samm.subjects == ["006", "007"]
    casme2 = load_dataset("casme2", tmp_path / "CASME2")
    assert casme2.counts()["disgust"] == 2 and casme2.subjects == ["sub01", "sub02", "sub04"]


def test_parts_named_one_by_one_and_a_partial_composite(tmp_path):
    root = composite(tmp_path / "root")
    named = ";".join(f"{p}={root / d}" for p, d in (("smic", "SMIC"), ("casme2", "CASME2"), ("samm", "SAMM")))
    assert len(load_dataset("composite", named).samples) == 13
    moved = tmp_path / "elsewhere"
    shutil.move(root / "SAMM", moved)
    with pytest.raises(InputError, match=r"no SAMM found under it .* give --data samm=PATH"):
        load_dataset("composite", root)
    index = load_dataset("composite", f"{root};samm={moved}")      # ROOT for the others, SAMM named
    assert len(index.samples) == 13
    partial = load_dataset("composite", f"casme2={root / 'CASME2'};smic={root / 'SMIC'}")
    assert {s.dataset for s in partial.samples} == {"casme2", "smic"}
    assert "SMIC-HS and CASME II only: not the MEGC 2019 composite" in partial.warnings[0]


@pytest.mark.parametrize("values, message", [
    (["sammm={d}"], "--data sammm=.*: unknown part 'sammm'"),
    (["samm={d}", "samm={d}"], "the samm part is given twice"),
    (["{d}", "{d}"], "a second ROOT"),
    (["smic={d}/nope"], "--data smic=.*/nope: no such file or folder"),
])
def test_bad_part_values_are_one_line(tmp_path, values, message):
    from train.datasets.composite import parse

    with pytest.raises(InputError, match=message):
        parse([v.format(d=tmp_path) for v in values])


def test_faces_auto_aligns_every_part_when_one_has_no_crops(tmp_path):
    composite(tmp_path)
    assert load_dataset("composite", tmp_path, faces="auto").cropped
    shutil.rmtree(tmp_path / "SAMM" / "SAMM_cropped")
    index = load_dataset("composite", tmp_path, faces="auto")
    assert not index.cropped and not any("crop" in str(s.frames[0]).lower() for s in index.samples)
    # counted as the clips it covers, all of them (it was 1, printed as '1 annotation row(s)')
    assert [n for k, n in index.notes.items() if "every part's raw frames aligned" in k] == [len(index.samples)]
    with pytest.raises(InputError, match="no cropped SAMM frame folders"):
        load_dataset("composite", tmp_path, faces="cropped")


def test_faces_auto_without_any_crops_counts_each_parts_clips(tmp_path):
    """The parts are read by their readers without load_dataset: each part's --faces auto note still counts the
    clips its reader read (it was counted by each reader; now by the DatasetIndex each returns)."""
    from train.datasets.samples import AUTO_ALIGNED

    composite(tmp_path)
    for crops in ("CASME2/Cropped", "SAMM/SAMM_cropped", "SMIC/SMIC_all_cropped"):
        shutil.rmtree(tmp_path / crops)
    index = load_dataset("composite", tmp_path, faces="auto")
    assert not index.cropped
    # CASME II's 4: its reader's 5 clips in the 3 classes less sub04's, which MEGC 2019's list leaves out (the note
    # said 5, counting a clip the composite drops): each part's note counts the clips the run uses
    assert {k: n for k, n in index.notes.items() if AUTO_ALIGNED in k} == {
        "smic: " + AUTO_ALIGNED: 4, "casme2: " + AUTO_ALIGNED: 4, "samm: " + AUTO_ALIGNED: 5}
    assert {p: sum(s.dataset == p for s in index.samples) for p in ("smic", "casme2", "samm")} == {
        "smic": 4, "casme2": 4, "samm": 5}
    assert index.dropped["casme2: not in MEGC 2019's list of CASME II clips"] == 1


def test_summarize_groups_splits_the_pool():
    from train.metrics import summarize, summarize_groups

    y, p, g = [0, 1, 2, 0, 1], [0, 2, 2, 1, 1], ["a", "a", "a", "b", "b"]
    parts = summarize_groups(y, p, g, 3)
    assert list(parts) == ["a", "b"]
    assert parts["a"] == summarize(y[:3], p[:3], 3) and parts["b"]["uar"] == 0.5


def test_loso_reports_each_part_beside_the_pool(tmp_path):
    import torch

    from train.cli import app
    from train.metrics import summarize

    torch.set_num_threads(1)
    root, out = composite(tmp_path / "data"), tmp_path / "run"
    r = CliRunner().invoke(app, [
        "--dataset", "composite", "--data", str(root), "--faces", "cropped", "--out", str(out),
        "--cache", str(tmp_path / "cache"), "--backbone", "test_vit", "--backbone-weights", "none",
        "--image-size", "96", "--frames", "10", "--batch-size", "4", "--epochs", "1", "--seed", "0"])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert [f["subject"] for f in m["folds"]] == ["casme2_sub01", "casme2_sub02", "samm_006", "samm_007",
                                                  "smic_s1", "smic_s2"]
    assert {k: v["n"] for k, v in m["parts"].items()} == {k: sum(v.values()) for k, v in PER_PART.items()}
    with open(out / "predictions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    cidx = {c: i for i, c in enumerate(m["classes"])}
    for part, fig in m["parts"].items():  # each part's figures are those of its rows of the pooled predictions
        mine = [row for row in rows if row["subject"].startswith(f"{part}_")]
        assert fig == summarize([cidx[x["label"]] for x in mine], [cidx[x["pred"]] for x in mine], 3)
    for line in ("casme2 part", "samm part", "smic part", "pooled",
                 "CASME II (casme2): 4 clips, 2 subjects, classes negative 2, positive 1, surprise 1"):
        assert line in r.output, r.output


def test_several_data_folders_only_for_the_composite(tmp_path):
    from train.cli import app

    r = CliRunner().invoke(app, ["--dataset", "casme2", "--data", str(tmp_path), "--data", str(tmp_path),
                                 "--out", str(tmp_path / "run")])
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert r.exit_code == 2 and len(lines) == 1, r.output
    assert "--data given 2 times: only --dataset composite" in lines[0]


def test_the_table_shows_parts_only_for_a_composite():
    from rich.console import Console

    from train.loso_table import print_loso

    fold = {"subject": "sub01", "n": 2, "acc": 0.5, "uf1": 0.5, "uar": 0.5, "train_seconds": 1.0}
    one = {"folds": [fold], "n": 2, "acc": 0.5, "uf1": 0.5, "uar": 0.5, "train_seconds": 1.0,
           "classes": ["a", "b"], "confusion": [[1, 0], [1, 0]]}
    texts = []
    for metrics in (one, {**one, "parts": {"casme2": {"n": 1, "acc": 1.0, "uf1": 1.0, "uar": 1.0},
                                           "smic": {"n": 1, "acc": 0.0, "uf1": 0.0, "uar": 0.0}}}):
        console = Console(record=True, width=120)
        print_loso(console, metrics)
        texts.append(console.export_text())
    assert "LOSO per fold (pooled figures on the last line)" in texts[0] and " part " not in texts[0]
    assert "per dataset of the pool" in texts[1]
    assert [ln.split()[1] for ln in texts[1].splitlines() if " part " in ln] == ["casme2", "smic"]


def test_a_smic_copy_without_hs_is_not_the_cde(tmp_path):
    """SMIC's VIS and NIR sets (25 fps) have HS's layout: read in its place, the composite says it is not MEGC's."""
    root = composite(tmp_path)
    for top in ("SMIC_all_raw", "SMIC_all_cropped"):
        (root / "SMIC" / top / "HS").rename(root / "SMIC" / top / "VIS")
    index = load_dataset("composite", root)
    assert {s.fps for s in index.samples if s.dataset == "smic"} == {25.0}
    assert "SMIC part read is a 25 fps set" in index.warnings[0] and "not the MEGC 2019 composite" in index.warnings[0]
    assert any("reading SMIC-VIS" in w for w in index.warnings[1:])
