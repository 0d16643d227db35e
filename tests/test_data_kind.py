"""What mpt-train records about its clips: an mpt-synth root (its synth.json) is semi-synthetic, whatever layout it
imitates; a composite with such a part is partly so; any other root claims nothing."""

from __future__ import annotations

from pathlib import Path

from train.run import data_kind
from train.synth import DATA_KIND, MARKER


def _root(path: Path, synth: bool) -> Path:
    path.mkdir(parents=True)
    (path / "CASME2-coding-x.xlsx").write_bytes(b"")
    if synth:
        (path / MARKER).write_text("{}")
    return path


def test_an_mpt_synth_root_is_semi_synthetic_and_a_plain_one_claims_nothing(tmp_path: Path) -> None:
    synth, real = _root(tmp_path / "s", True), _root(tmp_path / "r", False)
    assert data_kind("casme2", str(synth)) == DATA_KIND == "semi-synthetic (mpt-synth)"
    assert data_kind("casme2", str(synth / "CASME2-coding-x.xlsx")) == DATA_KIND  # --data naming its coding sheet
    assert data_kind("casme2", str(real)) == ""
    (real / "sub").mkdir()
    (real / "sub" / MARKER).write_text("{}")  # not at the root: the root is not mpt-synth's output
    assert data_kind("casme2", str(real)) == ""


def test_a_composite_with_an_mpt_synth_part_is_partly_semi_synthetic(tmp_path: Path) -> None:
    synth, real, real2 = _root(tmp_path / "s", True), _root(tmp_path / "r", False), _root(tmp_path / "q", False)
    assert data_kind("composite", f"casme2={synth};smic={real}") == f"partly {DATA_KIND}"
    assert data_kind("composite", f"casme2={real2};smic={real}") == ""
    assert data_kind("composite", str(synth)) == DATA_KIND
