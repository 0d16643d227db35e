"""What mpt-train records about its clips: clips inside an mpt-synth output (a folder above them with its synth.json,
however deep) are semi-synthetic, whatever layout they imitate; a dataset with some such clips is partly so; any
other claims nothing. Read through the real loaders, as mpt-train reads them."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from test_composite import composite, noise
from train.datasets import load_dataset
from train.loso import confusion_title
from train.synth import DATA_KIND, MARKER, data_kind

pytest.importorskip("openpyxl")


def _csv_dataset(sheet: Path, clips: Path) -> Path:
    """A CSV dataset whose sheet ``sheet`` names two subjects' clips under ``clips`` (relative to the sheet)."""
    sheet.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for k, (subject, label) in enumerate((("s1", "a"), ("s1", "b"), ("s2", "a"), ("s2", "b"))):
        noise(clips / subject / f"c{k}", [f"f{i}.jpg" for i in range(6)])
        rows.append(f"{subject},{Path(os.path.relpath(clips / subject / f'c{k}', sheet.parent)).as_posix()},0,2,5,"
                    f"{label}\n")
    sheet.write_text("subject,clip,onset,apex,offset,label\n" + "".join(rows))
    return sheet


def test_clips_inside_an_mpt_synth_output_are_semi_synthetic_however_deep(tmp_path: Path) -> None:
    # a CSV list of its own, in a folder below an mpt-synth output whose clips it names: the folder --data names
    # (the sheet's) holds no synth.json, the clips' output does
    synth = tmp_path / "synth"
    synth.mkdir()
    (synth / MARKER).write_text("{}")
    index = load_dataset("csv", _csv_dataset(synth / "lists" / "labels.csv", synth / "clips"))
    assert len(index.samples) == 4 and data_kind(index.samples) == DATA_KIND == "semi-synthetic (mpt-synth)"
    real = tmp_path / "real"
    index = load_dataset("csv", _csv_dataset(real / "labels.csv", real / "clips"))
    assert data_kind(index.samples) == ""
    (real / "clips" / "s1" / MARKER).write_text("{}")  # one subject's clips made by mpt-synth: partly
    assert data_kind(index.samples) == f"partly {DATA_KIND}"


def test_a_composite_part_found_below_its_root_in_an_mpt_synth_output_is_partly(tmp_path: Path) -> None:
    """``--data ROOT``: each part found under ROOT by its reader. CASME II's part an mpt-synth output (ROOT/CASME2
    holding synth.json): the composite is partly semi-synthetic (only the folders --data named were looked at)."""
    root = composite(tmp_path / "cde")
    assert data_kind(load_dataset("composite", root).samples) == ""
    (root / "CASME2" / MARKER).write_text("{}")
    index = load_dataset("composite", root)
    assert data_kind(index.samples) == f"partly {DATA_KIND}"
    assert data_kind([s for s in index.samples if s.dataset == "casme2"]) == DATA_KIND


def test_the_confusion_plots_title_says_what_the_clips_are() -> None:
    cfg = SimpleNamespace(dataset="casme2", backbone="vit_tiny", backbone_init="pretrained")
    pooled = {"acc": 0.5, "uf1": 0.4, "uar": 0.45, "n": 20}
    assert confusion_title(cfg, pooled, DATA_KIND).splitlines() == [
        "casme2 LOSO (vit_tiny, pretrained init)", "semi-synthetic (mpt-synth) clips",
        "Acc 0.500  UF1 0.400  UAR 0.450  n=20"]
    assert "synth" not in confusion_title(cfg, pooled, "") and len(confusion_title(cfg, pooled).splitlines()) == 2
