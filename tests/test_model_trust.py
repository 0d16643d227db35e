"""Trust in an exported model: mpt-export records its parity check in the file (``mpt.parity``) and mpt-live says,
in one warning line, when it runs a model whose check failed, whatever the file is called now; a randomly initialised
backbone is named in the model's line; a model over 2 GB keeps its weights file under its final name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

from export.onnx_export import read_metadata  # noqa: E402
from export.parity import Parity  # noqa: E402
from export.pipeline import publish  # noqa: E402
from mpt_live.clip import ClipSpec  # noqa: E402
from mpt_live.model_trust import NOT_RECORDED  # noqa: E402
from mpt_live.results import ModelInfo  # noqa: E402
from mpt_live.runtime import MPTRuntime  # noqa: E402

from tinymodel import tiny_onnx  # noqa: E402

SPEC = ClipSpec(frames=4, image_size=32, window_s=0.25)
PASSED = Parity("fp32", clips=6, max_dprob=2e-6, top1_agreement=1.0)
FAILED = Parity("int8", clips=6, max_dprob=0.2, top1_agreement=0.5, decided_agreement=0.5)


def _model(path: Path, spec: ClipSpec = SPEC, classes: tuple[str, ...] = ("negative", "positive", "surprise"),
           **metadata: str) -> Path:
    tiny_onnx(path, classes, spec=spec)
    if metadata:
        proto = onnx.load(str(path))
        for k, v in metadata.items():
            proto.metadata_props.add(key=k, value=v)
        onnx.save(proto, str(path))
    return path


def _clips(n: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(0, 1, (n, 3, 32, 32)).astype(np.float32), rng.normal(0, 1, (n, 4, 3, 32, 32)).astype(np.float32)


def test_a_model_that_failed_parity_says_so_whatever_its_name(tmp_path: Path) -> None:
    """mpt-export kept a failed model as NAME.rejected.onnx, but nothing in it said so: renamed, or given as it was,
    mpt-live ran it silently."""
    (tmp_path / "stage").mkdir()
    publish(_model(tmp_path / "stage" / "model.onnx"), tmp_path / "model.rejected.onnx", [PASSED, FAILED])
    record = json.loads(read_metadata(tmp_path / "model.rejected.onnx")["mpt.parity"])
    assert record["result"] == "failed" and [c["result"] for c in record["checks"]] == ["passed", "failed"]
    renamed = (tmp_path / "model.rejected.onnx").rename(tmp_path / "model.onnx")
    rt = MPTRuntime(renamed, device="cpu", threads=1)
    assert rt.parity_warning == (
        "model.onnx: this model FAILED mpt-export's parity check (int8 vs torch on 6 clips: top-1 agreement 50.0%, "
        "max|dprob| 2.0e-01): the ONNX graph does not compute what the trained model does, so its classes may be "
        "wrong; export the checkpoint again (mpt-export; where a static int8 failed: --int8-weights or --fp32; a "
        "weight-only one: --fp32) or use a model that passed")
    assert "(parity check FAILED at export)" in rt.describe() and "\n" not in rt.describe()
    info = ModelInfo.of(rt)
    assert info.warning == rt.parity_warning
    assert info.to_dict()["parity"] == "parity FAILED (int8 vs torch on 6 clips: top-1 agreement 50.0%, max|dprob| 2.0e-01)"


def test_a_model_that_passed_or_predates_the_record_is_not_warned_about(tmp_path: Path) -> None:
    (tmp_path / "stage").mkdir()
    publish(_model(tmp_path / "stage" / "m.onnx"), tmp_path / "passed.onnx", [PASSED])
    rt = MPTRuntime(tmp_path / "passed.onnx", device="cpu", threads=1)
    assert rt.parity_warning == "" and "parity" not in rt.describe()
    assert rt.parity == "parity passed (fp32 vs torch on 6 clips: top-1 agreement 100.0%, max|dprob| 2.0e-06)"
    old = MPTRuntime(_model(tmp_path / "old.onnx"), device="cpu", threads=1)   # exported before mpt.parity existed
    assert old.parity_warning == "" and "parity" not in old.describe()
    assert ModelInfo.of(old).to_dict()["parity"] == NOT_RECORDED


@pytest.mark.parametrize("weights, said", [
    ("random initialisation", True),   # train.backbone's description of --backbone-weights none
    ("random", True),                  # a train config's backbone_init
    ("timm hub (vit_tiny_patch16_224)", False),
    ("", False),                       # exported before mpt.backbone_weights existed
])
def test_the_model_line_names_a_random_init_backbone(tmp_path: Path, weights: str, said: bool) -> None:
    """summary.json's backbone_weights said 'random initialisation'; mpt-live's first line did not."""
    line = MPTRuntime(_model(tmp_path / "m.onnx", **{"mpt.backbone_weights": weights}), device="cpu",
                      threads=1).describe()
    assert ("random-init backbone" in line) == said, line


def _external(path: Path, location: str) -> Path:
    """``path`` saved as a model over 2 GB is: its tensors in the file ``location`` beside it."""
    proto = onnx.load(str(path))
    path.unlink()
    onnx.save_model(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=location,
                    size_threshold=64)   # W (sys.getsizeof); the axes stay in the graph: shape inference reads them
    assert (path.parent / location).is_file()
    return path


def test_a_big_models_weights_file_follows_its_final_name(tmp_path: Path) -> None:
    """The fp32 fallback of a GPU export (made as fp32.onnx) was published as model.onnx beside 'fp32.onnx.data', a
    name every such export in the folder shares; a rejected model's weights replaced the accepted model.onnx.data."""
    (tmp_path / "stage").mkdir()
    out = tmp_path / "out"
    out.mkdir()
    reference = MPTRuntime(_model(tmp_path / "ref.onnx"), device="cpu", threads=1).predict(*_clips())
    publish(_external(_model(tmp_path / "stage" / "fp32.onnx"), "fp32.onnx.data"), out / "model.onnx", [PASSED])
    assert sorted(p.name for p in out.iterdir()) == ["model.onnx", "model.onnx.data"]
    accepted = (out / "model.onnx.data").read_bytes()
    # a later export of the same name that fails: kept beside the accepted one, which it leaves whole
    (tmp_path / "stage" / "model.onnx.data").write_bytes(b"")
    staged = _external(_model(tmp_path / "stage" / "model.onnx", classes=("a", "b")), "model.onnx.data")
    publish(staged, out / "model.rejected.onnx", [FAILED])
    assert sorted(p.name for p in out.iterdir()) == ["model.onnx", "model.onnx.data", "model.rejected.onnx",
                                                      "model.rejected.onnx.data"]
    assert (out / "model.onnx.data").read_bytes() == accepted
    np.testing.assert_allclose(MPTRuntime(out / "model.onnx", device="cpu", threads=1).predict(*_clips()), reference)
    assert MPTRuntime(out / "model.rejected.onnx", device="cpu", threads=1).parity_warning


@pytest.mark.parametrize("new", ["big", "small"])
def test_a_model_stopped_while_moved_over_a_big_one_leaves_no_model_beside_wrong_weights(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, new: str) -> None:
    """A new big model's weights file was moved over the one the earlier model.onnx reads, then the new model over
    that model; a new small model's stale weights file was removed first: an export stopped between the two moves
    left the earlier model beside the new model's weights, or without its own. The earlier model now goes first
    (its weights file after it)."""
    (tmp_path / "stage").mkdir()
    out = tmp_path / "out"
    out.mkdir()
    publish(_external(_model(tmp_path / "stage" / "fp32.onnx"), "fp32.onnx.data"), out / "model.onnx", [PASSED])
    earlier = MPTRuntime(out / "model.onnx", device="cpu", threads=1).predict(*_clips())
    staged = _model(tmp_path / "stage" / "model.onnx", classes=("a", "b"))
    if new == "big":
        _external(staged, "model.onnx.data")
    move = Path.replace

    def stopped_at_the_model(self: Path, target: Path) -> Path:
        if Path(target) == out / "model.onnx":
            raise KeyboardInterrupt
        return move(self, target)

    monkeypatch.setattr(Path, "replace", stopped_at_the_model)
    with pytest.raises(KeyboardInterrupt):
        publish(staged, out / "model.onnx", [PASSED])
    if (out / "model.onnx").exists():   # the earlier model, with its own weights
        np.testing.assert_allclose(MPTRuntime(out / "model.onnx", device="cpu", threads=1).predict(*_clips()), earlier)
    else:                               # gone, before its weights file was replaced
        assert new == "big"


def test_mpt_live_warns_of_a_failed_model_in_its_summary_and_report(faces_dir, tmp_path: Path) -> None:
    from mpt_live.cli import app

    (tmp_path / "stage").mkdir()
    model = tmp_path / "renamed.onnx"
    publish(_model(tmp_path / "stage" / "m.onnx", spec=ClipSpec(frames=8, window_s=0.5, image_size=64)), model,
            [FAILED])
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["--video", str(faces_dir / "videos" / "pyfeat_single_face.mp4"), "--model",
                                   str(model), "--headless", "--out", str(out)])
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())
    assert "warning: renamed.onnx: this model FAILED mpt-export's parity check" in said
    summary = json.loads((out / "summary.json").read_text())
    assert [w for w in summary["warnings"] if "parity" in w] == [MPTRuntime(model).parity_warning]
    assert summary["model"]["parity"].startswith("parity FAILED (int8 vs torch on 6 clips")
    page = (out / "report.html").read_text()
    assert "renamed.onnx (its parity check FAILED at export)" in page and "FAILED mpt-export&#x27;s parity check" in page


def test_a_rejected_model_from_before_the_record_is_warned_about_by_its_name(faces_dir, tmp_path: Path) -> None:
    """A NAME.rejected.onnx made before mpt.parity existed carries no record, and mpt-live ran it without a word,
    though its name says mpt-export rejected it. It is now warned about by its name, in the failed model's style;
    a record, where there is one, says more than the name."""
    from mpt_live.cli import app
    from mpt_live.model_trust import fact_warning

    model = _model(tmp_path / "casme2.int8.rejected.onnx", spec=ClipSpec(frames=8, window_s=0.5, image_size=64))
    rt = MPTRuntime(model, device="cpu", threads=1)
    assert rt.parity == NOT_RECORDED
    assert rt.parity_warning == (
        "casme2.int8.rejected.onnx: mpt-export rejected this model (its name says it failed the parity check; the "
        "file, exported before the check was recorded in it, has no figures): the ONNX graph may not compute what the "
        "trained model does, so its classes may be wrong; export the checkpoint again (mpt-export; where a static int8 "
        "failed: --int8-weights or --fp32; a weight-only int8 or fp16: --fp32) or use a model that passed")
    assert fact_warning("M.REJECTED.ONNX", NOT_RECORDED).startswith("M.REJECTED.ONNX: mpt-export rejected this model")
    assert "its parity record cannot be read" in fact_warning("m.rejected.onnx", "parity record unreadable")
    assert "has no figures" in fact_warning("m.rejected.onnx", "not recorded")
    assert fact_warning("m.rejected.onnx", "parity passed (fp32 vs torch on 6 clips: ...)") == ""
    assert fact_warning("m.rejected.onnx", "parity FAILED (int8 vs torch on 6 clips: ...)").startswith(
        "m.rejected.onnx: this model FAILED mpt-export's parity check (int8")
    assert fact_warning("rejected.onnx.bak", NOT_RECORDED) == "" and fact_warning("m.onnx", NOT_RECORDED) == ""
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["--video", str(faces_dir / "videos" / "pyfeat_single_face.mp4"), "--model",
                                   str(model), "--headless", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "warning: casme2.int8.rejected.onnx: mpt-export rejected this model" in " ".join(res.output.split())
    summary = json.loads((out / "summary.json").read_text())
    assert [w for w in summary["warnings"] if "rejected" in w] == [rt.parity_warning]


def test_a_check_whose_probabilities_were_not_finite_is_recorded_as_json(tmp_path: Path) -> None:
    """An fp16 graph that overflows gives NaN probabilities, so max |dprob| is NaN: the record held a bare ``NaN``,
    which is not JSON (CONTRACTS says mpt.parity is), so a reader other than Python's json could not read the one
    record that matters most, a failed one. The figure is now null, said as 'not finite'."""
    from export.parity import parity_record

    nan = Parity("fp16", clips=6, max_dprob=float("nan"), top1_agreement=0.0, decided_agreement=0.0)

    def strict(text: str) -> object:
        return json.loads(text, parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))

    record = strict(parity_record([PASSED, nan]))
    assert record["result"] == "failed" and record["checks"][1]["max_dprob"] is None
    (tmp_path / "stage").mkdir()
    publish(_model(tmp_path / "stage" / "m.onnx"), tmp_path / "m.onnx", [PASSED, nan])
    rt = MPTRuntime(tmp_path / "m.onnx", device="cpu", threads=1)
    assert "max|dprob| not finite" in rt.parity_warning


@pytest.mark.parametrize("fact, scheme, advice", [
    ("parity FAILED (int8 vs torch on 9 clips: top-1 agreement 50.0%)", "static QDQ, uint8 activations",
     "its static int8 failed: --int8-weights or --fp32"),
    ("parity FAILED (int8 vs torch on 9 clips: top-1 agreement 50.0%)", "weight-only int8 (MatMulNBits, block 32)",
     "its weight-only int8 failed: --fp32"),
    ("parity FAILED (int8 vs torch on 9 clips)", None,
     "where a static int8 failed: --int8-weights or --fp32; a weight-only one: --fp32"),
    ("parity FAILED (fp16 (CUDA) vs torch on 9 clips)", None, "its fp16 failed: --fp32"),
    ("parity FAILED (fp32 vs torch on 9 clips; int8 vs torch on 9 clips)", "static QDQ",
     "its fp32 graph failed: no other precision will pass"),
])
def test_the_advice_for_a_failed_model_is_mpt_exports_own(fact, scheme, advice):
    """mpt-live's line for a model that failed its parity check named '--int8-weights or --fp32' for any int8 or fp16
    failure, so a weight-only int8 that failed was sent to export the same weight-only int8 again (mpt-export's own
    advice, export/cli.py retry_hint, is --fp32 there). The advice is now chosen by the precision that failed and the
    model's int8 scheme."""
    from mpt_live.model_trust import fact_warning

    line = fact_warning("m.onnx", fact, scheme)
    assert line.endswith(f"export the checkpoint again (mpt-export; {advice}) or use a model that passed"), line


@pytest.mark.parametrize("failed, fact, scheme", [
    ("static int8", "parity FAILED (int8 vs torch on 9 clips)", "static QDQ, uint8 activations"),
    ("weight-only int8", "parity FAILED (int8 vs torch on 9 clips)", "weight-only int8 (MatMulNBits, block 128)"),
    ("fp16", "parity FAILED (fp16 vs torch on 9 clips)", None),
    ("fp32", "parity FAILED (fp32 vs torch on 9 clips)", None),
])
def test_mpt_export_and_mpt_live_advise_the_same_flags(failed, fact, scheme):
    """The advice after a failed parity check was written twice, in mpt-export's line (export/cli.py retry_hint) and
    mpt-live's warning (model_trust.retry), and the two had once drifted apart. Both now take their flags from
    retry_flags: each line, for each precision that can fail, names exactly those flags (fp32: none)."""
    import re

    from export.cli import retry_hint
    from export.pipeline import ExportResult
    from mpt_live.model_trust import RETRY_FLAGS, retry, retry_flags

    assert set(RETRY_FLAGS) == {"static int8", "weight-only int8", "fp16", "fp32"}
    precision = failed.split()[-1]
    checks = [Parity("fp32", 9, 1.0 if failed == "fp32" else 1e-6, 1.0)]
    if failed != "fp32":
        checks.append(Parity(precision, 9, 0.2, 0.5, decided_agreement=0.5))
    result = ExportResult(path=Path("m.rejected.onnx"), precision=precision, parity=checks)
    export_line = retry_hint(result, weights_only=failed == "weight-only int8")
    live_line = retry(fact, scheme)

    def flags(line: str) -> set[str]:
        return set(re.findall(r"--[a-z0-9-]+", line))

    assert flags(export_line) == flags(live_line) == set(retry_flags(failed)), (export_line, live_line)
    assert bool(export_line) == bool(retry_flags(failed))  # fp32 failed: mpt-export adds nothing to its line
