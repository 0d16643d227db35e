"""mpt-export's publishing of a made model: a model over 2 GB keeps its weights file under its final name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("torch")

from export.pipeline import publish  # noqa: E402
from mpt_live.clip import ClipSpec  # noqa: E402
from mpt_live.runtime import MPTRuntime  # noqa: E402

from tinymodel import tiny_onnx  # noqa: E402

SPEC = ClipSpec(frames=4, image_size=32, window_s=0.25)


def _model(path: Path, spec: ClipSpec = SPEC, classes: tuple[str, ...] = ("negative", "positive", "surprise")) -> Path:
    return tiny_onnx(path, classes, spec=spec)


def _clips(n: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(0, 1, (n, 3, 32, 32)).astype(np.float32), rng.normal(0, 1, (n, 4, 3, 32, 32)).astype(np.float32)


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
    publish(_external(_model(tmp_path / "stage" / "fp32.onnx"), "fp32.onnx.data"), out / "model.onnx")
    assert sorted(p.name for p in out.iterdir()) == ["model.onnx", "model.onnx.data"]
    accepted = (out / "model.onnx.data").read_bytes()
    # a later export of the same name that fails: kept beside the accepted one, which it leaves whole
    (tmp_path / "stage" / "model.onnx.data").write_bytes(b"")
    staged = _external(_model(tmp_path / "stage" / "model.onnx", classes=("a", "b")), "model.onnx.data")
    publish(staged, out / "model.rejected.onnx")
    assert sorted(p.name for p in out.iterdir()) == ["model.onnx", "model.onnx.data", "model.rejected.onnx",
                                                      "model.rejected.onnx.data"]
    assert (out / "model.onnx.data").read_bytes() == accepted
    np.testing.assert_allclose(MPTRuntime(out / "model.onnx", device="cpu", threads=1).predict(*_clips()), reference)
    assert MPTRuntime(out / "model.rejected.onnx", device="cpu", threads=1).classes == ["a", "b"]
