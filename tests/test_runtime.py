"""mpt_live.runtime: metadata, input checks, batching, providers, one-line errors. Torch-free.

The models here are tiny hand-built ONNX graphs with MPT's interface (``probs =
softmax(mean_rgb(dynamic) @ W + mean(motion))``), so these tests run in well under a second.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mpt_live.clip import ClipSpec
from mpt_live.errors import InputError
from mpt_live.runtime import CPU, CUDA, DeviceError, MPTRuntime, default_threads, provider_works, usable_cores

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

SPEC = ClipSpec(frames=4, image_size=32, window_s=0.25)
CLASSES = ["happiness", "surprise", "others"]
W = np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -0.5], [-1.0, 0.5, 1.0]], np.float32)


def meta(**over: str) -> dict[str, str]:
    m = {
        "mpt.classes": json.dumps(CLASSES), "mpt.clip_spec": SPEC.to_json(), "mpt.backbone": "vit_test",
        "mpt.clip_mode": "paper", "mpt.dataset": "casme2", "mpt.protocol": "loso",
        "mpt.metrics": json.dumps({"uf1": 0.61, "uar": 0.6}), "mpt.version": "0.1.0",
        "mpt.export_date": "2025-01-01T00:00:00+00:00", "mpt.precision": "fp32", "mpt.demo": "0",
    }
    m.update(over)
    return {k: v for k, v in m.items() if v is not None}


def make_model(path: Path, metadata: dict[str, str] | None = None, batch: int | str = "B", S: int = 32,
               T: int = 4, C: int = 3, names: tuple[str, str] = ("dynamic", "motion")) -> Path:
    """A stand-in MPT graph: probs = softmax(GAP(dynamic) @ W + mean(motion))."""
    dyn = helper.make_tensor_value_info(names[0], TensorProto.FLOAT, [batch, 3, S, S])
    mot = helper.make_tensor_value_info(names[1], TensorProto.FLOAT, [batch, T, 3, S, S])
    out = helper.make_tensor_value_info("probs", TensorProto.FLOAT, [batch, C])
    nodes = [
        helper.make_node("GlobalAveragePool", [names[0]], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"]),
        helper.make_node("MatMul", ["flat", "W"], ["logits0"]),
        helper.make_node("ReduceMean", [names[1], "axes"], ["mmean"], keepdims=0),
        helper.make_node("Unsqueeze", ["mmean", "one"], ["mcol"]),
        helper.make_node("Add", ["logits0", "mcol"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=-1),
    ]
    inits = [numpy_helper.from_array(np.resize(W, (3, C)).astype(np.float32), "W"),
             numpy_helper.from_array(np.array([1, 2, 3, 4], np.int64), "axes"),
             numpy_helper.from_array(np.array([1], np.int64), "one")]
    graph = helper.make_graph(nodes, "standin", [dyn, mot], [out], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    for k, v in (meta() if metadata is None else metadata).items():
        model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def reference(d: np.ndarray, m: np.ndarray) -> np.ndarray:
    logits = d.mean(axis=(2, 3)) @ W + m.mean(axis=(1, 2, 3, 4))[:, None]
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def clips(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.normal(0, 1, (n, 3, 32, 32)).astype(np.float32),
            rng.normal(0, 1, (n, 4, 3, 32, 32)).astype(np.float32))


@pytest.fixture()
def model_path(tmp_path: Path) -> Path:
    return make_model(tmp_path / "m.onnx")


def test_metadata_round_trip(model_path: Path) -> None:
    rt = MPTRuntime(model_path)
    assert rt.classes == CLASSES
    assert rt.clip_spec == SPEC
    assert (rt.backbone, rt.precision, rt.demo) == ("vit_test", "fp32", False)
    assert rt.metrics == {"uf1": 0.61, "uar": 0.6}
    assert rt.metadata["mpt.dataset"] == "casme2"
    assert rt.batch is None


def test_describe_is_one_line(tmp_path: Path) -> None:
    rt = MPTRuntime(make_model(tmp_path / "d.onnx", meta(**{"mpt.demo": "1"})), device="cpu", threads=1)
    line = rt.describe()
    assert "\n" not in line
    for part in ("d.onnx", "vit_test", "fp32", "happiness", "4 frames", "32px", "CPU", "1 thread", "DEMO"):
        assert part in line
    # the demo model's dataset names the layout of its semi-synthetic clips (mpt-synth), not real CASME II clips
    assert "trained on semi-synthetic clips laid out as casme2 (loso; " in line and "trained on casme2" not in line, line
    real = MPTRuntime(make_model(tmp_path / "r.onnx", meta()), device="cpu", threads=1).describe()
    assert "trained on casme2 (loso; " in real and "synthetic" not in real, real


def test_a_model_trained_on_mpt_synth_clips_says_so_demo_or_not(tmp_path: Path) -> None:
    """mpt-train on an mpt-synth root, then mpt-export: mpt.data_kind says so, and the line and summary.json's
    model section do too ('trained on casme2 (full)' read as the licensed dataset's clips)."""
    from mpt_live.results import ModelInfo

    rt = MPTRuntime(make_model(tmp_path / "s.onnx", meta(**{"mpt.data_kind": "semi-synthetic (mpt-synth)"})),
                    device="cpu", threads=1)
    line = rt.describe()
    assert "trained on semi-synthetic clips laid out as casme2 (loso; " in line and "DEMO" not in line, line
    assert ModelInfo.of(rt).to_dict()["data_kind"] == "semi-synthetic (mpt-synth)"
    part = MPTRuntime(make_model(tmp_path / "p.onnx", meta(**{"mpt.data_kind": "partly semi-synthetic (mpt-synth)",
                                                             "mpt.dataset": "composite"})), device="cpu", threads=1)
    assert "trained on composite (partly semi-synthetic (mpt-synth); loso; " in part.describe(), part.describe()
    old = MPTRuntime(make_model(tmp_path / "o.onnx", meta()), device="cpu", threads=1)  # a file from before the key
    assert old.data_kind == "" and ModelInfo.of(old).to_dict()["data_kind"] is None


@pytest.mark.parametrize("batch", [1, 3, 20])
def test_predict_batches(model_path: Path, batch: int) -> None:
    rt = MPTRuntime(model_path, device="cpu")
    d, m = clips(batch)
    probs = rt.predict(d, m)
    assert probs.shape == (batch, 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs, reference(d, m), atol=1e-5)


def test_predict_single_clip_and_float64(model_path: Path) -> None:
    rt = MPTRuntime(model_path)
    d, m = clips(1)
    probs = rt.predict(d[0].astype(np.float64), m[0].astype(np.float64))
    assert probs.shape == (1, 3)
    np.testing.assert_allclose(probs, reference(d, m), atol=1e-5)
    assert rt.predict(d[:0], m[:0]).shape == (0, 3)


def test_predict_wrong_shape(model_path: Path) -> None:
    rt = MPTRuntime(model_path)
    d, m = clips(2)
    with pytest.raises(ValueError, match=r"expected dynamic \(B,3,32,32\) and motion \(B,4,3,32,32\)"):
        rt.predict(d, m[:, :3])
    with pytest.raises(ValueError):
        rt.predict(d, m[:1])


def test_fixed_batch_model_pads_and_chunks(tmp_path: Path) -> None:
    rt = MPTRuntime(make_model(tmp_path / "b2.onnx", batch=2))
    assert rt.batch == 2
    d, m = clips(5)
    np.testing.assert_allclose(rt.predict(d, m), reference(d, m), atol=1e-5)
    rt.warmup(1)


def test_threads() -> None:
    assert default_threads() == max(1, usable_cores() - 1)


def test_threads_explicit(model_path: Path) -> None:
    assert MPTRuntime(model_path, threads=1).threads == 1
    assert MPTRuntime(model_path).threads == default_threads()
    with pytest.raises(InputError, match="--threads"):
        MPTRuntime(model_path, threads=0)
    with pytest.raises(InputError, match=r"--threads 100000: more than 4 threads per core"):
        MPTRuntime(model_path, threads=100_000)  # ONNX Runtime started them all


BAD_FILES = [
    ("missing", None, "no such model file"),
    ("not_onnx", b"this is not a model\n", "20 bytes that do not parse as an ONNX model; it does not begin as an "
                                            "ONNX model does: another kind of file"),
    ("no_metadata", {}, "not an MPT model"),
    ("bad_spec", meta(**{"mpt.clip_spec": '{"frames": 1}'}), "bad mpt.clip_spec"),
    ("bad_classes", meta(**{"mpt.classes": "happiness,others"}), "bad mpt.classes"),
    ("bad_precision", meta(**{"mpt.precision": "int4"}), "bad mpt.precision"),
    ("class_neutral", meta(**{"mpt.classes": json.dumps(["happiness", "Neutral", "others"])}),
     "a class named 'neutral': mpt-live labels every window outside an event 'neutral'"),
    ("classes_twice", meta(**{"mpt.classes": json.dumps(["a", "b", "a"])}), r"bad mpt.classes metadata \('a' named"),
    ("spec_missing", meta(**{"mpt.clip_spec": json.dumps({k: v for k, v in json.loads(SPEC.to_json()).items()
                                                            if k not in ("window_s", "band_hz")})}),
     r"bad mpt.clip_spec metadata \(missing band_hz, window_s\)"),
    ("image_size", meta(**{"mpt.clip_spec": ClipSpec(frames=4, image_size=48, window_s=0.25).to_json()}),
     r"input 'dynamic' has shape \(B, 3, 32, 32\) but its ClipSpec \(frames=4, image_size=48\)"),
    ("frames", meta(**{"mpt.clip_spec": ClipSpec(frames=8, image_size=32, window_s=0.5).to_json()}),
     r"input 'motion' has shape \(B, 4, 3, 32, 32\) but its ClipSpec \(frames=8"),
    ("classes", meta(**{"mpt.classes": json.dumps(["a", "b"])}), "output 'probs' has shape .* names 2 classes"),
    # garbled ClipSpec values: image_size 32.0 was a TypeError traceback, alpha NaN/-1 and attenuate "no" loaded
    *[(f"spec_{k}", meta(**{"mpt.clip_spec": json.dumps({**json.loads(SPEC.to_json()), k: v})}),
       rf"bad mpt.clip_spec metadata \(ClipSpec.{k} must be {what}") for k, v, what in (
        ("image_size", 32.0, "a whole number"), ("frames", "4", "a whole number"), ("alpha", float("nan"), "a finite"),
        ("alpha", -1, ">= 0"), ("window_s", float("inf"), "a finite"), ("attenuate", "no", "true or false"))],
    ("spec_mean_nan", meta(**{"mpt.clip_spec": json.dumps({**json.loads(SPEC.to_json()), "mean": [float("nan")] * 3})}),
     r"ClipSpec.mean and std must be finite"),
    ("spec_list", meta(**{"mpt.clip_spec": "[1, 2]"}), r"bad mpt.clip_spec metadata \(a JSON list, not an object"),
    ("checkpoint", b"PK\x03\x04torch zip", r"a PyTorch checkpoint \(mpt-train's model.pt\), not an ONNX model; "
                                            r"export it first: mpt-export"),
    ("folder", "dir", "a folder, expected an ONNX model file"),
    # a copy or download that wrote nothing: ONNX Runtime said 'No graph was found in the protobuf.'
    ("empty", b"", r"the file is empty \(0 bytes\), not an ONNX model"),
]


@pytest.mark.parametrize("name,content,message", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_files_raise_one_line_input_error(tmp_path: Path, name: str, content, message: str) -> None:
    path = tmp_path / f"{name}.onnx"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, dict):
        make_model(path, content)
    elif content == "dir":
        path.mkdir()
    with pytest.raises(InputError, match=message) as e:
        MPTRuntime(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_a_run_folder_given_as_the_model_names_what_to_give(tmp_path: Path) -> None:
    """mpt-export takes a run's folder; mpt-live --model RUN said only 'a folder, expected an ONNX model file': it now
    names the ONNX files in it (a rejected one left out), or its model.pt to export first."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.pt").write_bytes(b"PK\x03\x04")
    with pytest.raises(InputError) as e:
        MPTRuntime(run)
    assert str(e.value) == (f"{run}: a folder, expected an ONNX model file (it holds mpt-train's model.pt: export it "
                            f"first: mpt-export {run})")
    (run / "model.fp16.rejected.onnx").write_bytes(b"")
    make_model(run / "model.onnx", meta())
    with pytest.raises(InputError) as e:
        MPTRuntime(run)
    assert str(e.value) == f"{run}: a folder, expected an ONNX model file (it holds model.onnx: give {run / 'model.onnx'})"
    make_model(run / "model.int8.onnx", meta())
    with pytest.raises(InputError) as e:
        MPTRuntime(run)
    assert str(e.value) == (f"{run}: a folder, expected an ONNX model file (it holds model.int8.onnx, model.onnx: "
                            f"give one of them, e.g. {run / 'model.int8.onnx'})")


def test_a_model_moved_without_its_weights_file_says_so(tmp_path: Path) -> None:
    """A model over 2 GB keeps its weights in NAME.onnx.data (mpt-export); moved alone, it was 'ONNX Runtime cannot
    load this model (External data path validation failed for initializer: W. Error: tensorprotoutils.cc:461
    ValidateExternalDataPathFromDir External data path ...)'; now the missing file is named, with what to do."""
    from onnx.external_data_helper import set_external_data

    model = onnx.load(str(make_model(tmp_path / "m.onnx", meta())))
    (tmp_path / "big").mkdir()
    w = next(t for t in model.graph.initializer if t.name == "W")  # the weights, as mpt-export saves a big model's
    (tmp_path / "big" / "model.onnx.data").write_bytes(w.raw_data)
    set_external_data(w, "model.onnx.data", offset=0, length=len(w.raw_data))
    w.ClearField("raw_data")
    w.data_location = onnx.TensorProto.EXTERNAL
    onnx.save(model, str(tmp_path / "big" / "model.onnx"))
    assert MPTRuntime(tmp_path / "big" / "model.onnx").classes == CLASSES
    moved = tmp_path / "moved.onnx"
    (tmp_path / "big" / "model.onnx").rename(moved)
    with pytest.raises(InputError) as e:
        MPTRuntime(moved)
    assert str(e.value) == (f"{moved}: its weights file model.onnx.data is not beside it ({tmp_path / 'model.onnx.data'} "
                            "does not exist): a model over 2 GB keeps its weights in that file; move or copy the two "
                            "together")


def test_a_model_cut_short_says_so_with_its_size(tmp_path: Path) -> None:
    """A half-copied model (head -c N model.onnx > cut.onnx) was 'not an ONNX model (protobuf parsing failed)',
    as a text file was: neither its size nor that it may be cut short."""
    whole = tmp_path / "whole.onnx"
    make_model(whole, meta())
    data = whole.read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(InputError) as e:
        MPTRuntime(cut)
    assert str(e.value) == (f"{cut}: {len(data) // 2:,} bytes that do not parse as an ONNX model; it begins as an "
                            "ONNX model does, so it is cut short or damaged (a copy or download that did not finish?)")


def test_a_newer_ir_version_names_the_reason_not_onnx_runtimes_source(tmp_path: Path) -> None:
    """ONNX Runtime's message starts with its C++ source location and signature; cut at 300 characters, the line
    ended before the reason (the model's IR version)."""
    path = make_model(tmp_path / "new.onnx", meta())
    model = onnx.load(str(path))
    model.ir_version = 99
    onnx.save(model, str(path))
    with pytest.raises(InputError) as e:
        MPTRuntime(path)
    msg = str(e.value)
    assert "Unsupported model IR version: 99" in msg and "older than the ONNX that wrote it" in msg, msg
    assert "onnxruntime_src" not in msg and "::" not in msg, msg


def test_wrong_input_names(tmp_path: Path) -> None:
    path = make_model(tmp_path / "names.onnx", names=("image", "motion"))
    with pytest.raises(InputError, match=r"inputs \['image', 'motion'\] are not \['dynamic', 'motion'\]"):
        MPTRuntime(path)


def test_bad_device(model_path: Path) -> None:
    with pytest.raises(InputError, match="--device gpu0"):
        MPTRuntime(model_path, device="gpu0")


@pytest.mark.skipif(provider_works(CUDA), reason="this machine has a working CUDA provider")
def test_cuda_request_without_gpu_is_one_clear_error(model_path: Path, capfd: pytest.CaptureFixture) -> None:
    with pytest.raises(DeviceError) as e:
        MPTRuntime(model_path, device="cuda")
    msg = str(e.value)
    assert msg.startswith("--device cuda:") and "\n" not in msg and "--device cpu" in msg
    assert isinstance(e.value, InputError)
    out, err = capfd.readouterr()
    assert "EP Error" not in out + err and "[E:onnxruntime" not in err


@pytest.mark.skipif(provider_works(CUDA), reason="this machine has a working CUDA provider")
def test_auto_falls_back_quietly_to_cpu(model_path: Path, capfd: pytest.CaptureFixture) -> None:
    rt = MPTRuntime(model_path, device="auto")
    assert rt.provider == CPU
    out, err = capfd.readouterr()
    assert out == "" and "onnxruntime" not in err


def test_runtime_does_not_import_torch() -> None:
    code = "import sys, mpt_live.runtime; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.skipif(provider_works(CUDA), reason="this machine has a working CUDA provider")
def test_gpu_provider_that_passes_the_probe_but_not_the_model(model_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the CUDA provider seemed to work but the session still lands on the CPU: cuda errors, auto falls back."""
    import mpt_live.runtime as runtime

    monkeypatch.setattr(runtime, "provider_works", lambda name: name in (CUDA, CPU))
    with pytest.raises(DeviceError, match="--device cuda: ONNX Runtime fell back to the CPU"):
        MPTRuntime(model_path, device="cuda")
    assert MPTRuntime(model_path, device="auto").provider == CPU


def test_int8_model_stays_on_cpu_with_auto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mpt_live.runtime as runtime

    tried: list[list[str]] = []
    real = runtime.ort.InferenceSession

    def spy(path, so=None, providers=None, **kw):
        tried.append(list(providers or []))
        return real(path, so, providers=providers, **kw)

    monkeypatch.setattr(runtime, "provider_works", lambda name: name in (CUDA, CPU))
    monkeypatch.setattr(runtime.ort, "InferenceSession", spy)
    MPTRuntime(make_model(tmp_path / "q.onnx", meta(**{"mpt.precision": "int8"})), device="auto")
    assert tried[-1] == [CPU]
    MPTRuntime(make_model(tmp_path / "f.onnx"), device="auto")
    assert tried[-1] == [CUDA, CPU]


def test_describe_shows_the_figures_not_the_bookkeeping(tmp_path: Path) -> None:
    """A model exported after a full run carries n and train_seconds beside its LOSO figures; the line showed
    them as 'n 30.000, train_seconds 13.884'."""
    m = meta(**{"mpt.metrics": json.dumps({"uf1": 0.61, "uar": 0.6, "n": 30, "train_seconds": 13.884}),
                "mpt.protocol": "full"})
    line = MPTRuntime(make_model(tmp_path / "d.onnx", m), device="cpu", threads=1).describe()
    assert "uf1 0.610, uar 0.600, n 30" in line and "train_seconds" not in line and "n 30.000" not in line
    # the figures of the LOSO run (mpt-train --metrics), named so: 'trained on casme2 (full): uf1 0.610' read as the
    # deployed model's own figures on the clips it was trained on
    assert "trained on casme2 (full; LOSO uf1 0.610, uar 0.600, n 30), ONNX Runtime" in line, line
    line = MPTRuntime(make_model(tmp_path / "e.onnx", meta(**{"mpt.metrics": ""})), device="cpu", threads=1).describe()
    assert "trained on casme2 (loso), ONNX Runtime" in line, line


def test_unreadable_metrics_are_left_out_not_fatal(tmp_path: Path) -> None:
    """The LOSO figures are information: a model whose mpt.metrics is broken still runs, and says so."""
    path = make_model(tmp_path / "m.onnx", meta(**{"mpt.metrics": "{uf1: 0.6"}))
    rt = MPTRuntime(path)
    assert rt.metrics is None and "its mpt.metrics metadata is not JSON: not shown" in rt.describe()
    assert rt.predict(*[np.zeros((1, *s), np.float32) for s in ((3, 32, 32), (4, 3, 32, 32))]).shape == (1, 3)
    legacy = json.loads(SPEC.to_json())
    del legacy["time_base"], legacy["align"]  # exported before these fields: read as they were then
    assert MPTRuntime(make_model(tmp_path / "old.onnx", meta(**{"mpt.clip_spec": json.dumps(legacy)}))).clip_spec.align == "eyes"
