"""mpt-export: one self-describing ONNX file, parity with torch, dynamic batch, int8/fp16, CLI errors.

A tiny real MPT (vit_tiny_patch16_224 at 32 px, 4 frames) is exported once through the CLI and
shared by the tests (the dynamo export is the slow step: ~15 s).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from typer.testing import CliRunner  # noqa: E402

from export import parity as parity_mod  # noqa: E402
from export.cli import app  # noqa: E402
from export.onnx_export import MAX_IR_VERSION, build_model, load_checkpoint, onnx_metadata, read_metadata  # noqa: E402
from export.attention import fuse_attention  # noqa: E402
from export.quantize import convert_fp16, node_module, quantize_int8, quantize_int8_weights  # noqa: E402
from export.parity import compare, load_clips, synthetic_clips, torch_probs  # noqa: E402
from mpt_live.clip import ClipSpec  # noqa: E402
from mpt_live.errors import InputError  # noqa: E402
from mpt_live.runtime import MPTRuntime  # noqa: E402
from train.model import MPT, MPTConfig  # noqa: E402

SPEC = ClipSpec(frames=4, image_size=32, window_s=0.25)
CFG = MPTConfig(backbone="vit_tiny_patch16_224", num_classes=3, frames=4, image_size=32)
CLASSES = ["negative", "positive", "surprise"]
CFG_DEPTH = 12                     # blocks of vit_tiny_patch16_224
# the parity tests of other prompt generators and VPT: timm's 64-dim, 6-block test_vit (the ops they test are the same
# on any ViT; its export takes a fraction of vit_tiny's). The summary head's test keeps vit_tiny: test_vit (a dynamic
# image size) refuses its 56 px, not a whole number of 16-px patches
PARITY_CFG = dataclasses.replace(CFG, backbone="test_vit")
PARITY_DEPTH = 6                   # blocks of test_vit
KEYS = ("mpt.classes", "mpt.clip_spec", "mpt.backbone", "mpt.clip_mode", "mpt.dataset", "mpt.protocol",
        "mpt.metrics", "mpt.version", "mpt.export_date", "mpt.precision", "mpt.demo")

runner = CliRunner()


def write_checkpoint(path: Path, head_gain: float = 1.0, cfg: MPTConfig = CFG) -> Path:
    """A checkpoint as if trained: prompts, adapters and head away from their (zero) init;
    ``head_gain`` > 1 makes the predictions confident, as training does. ``cfg``: PARITY_CFG where a test exports
    its own model and what it checks does not depend on the backbone's size (its export costs about half of CFG's)."""
    torch.manual_seed(0)
    model = MPT(cfg)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.normal_(0, 0.05)
        model.head.weight.mul_(head_gain)
    torch.save({
        "state_dict": model.state_dict(), "model_config": dataclasses.asdict(cfg), "classes": CLASSES,
        "clip_spec": SPEC.to_dict(), "clip_mode": "paper", "dataset": "casme2", "protocol": "loso",
        "train_config": {"lr": 3e-4}, "metrics": {"acc": 0.7, "uf1": np.float64(0.61)}, "version": "0.1.0",
    }, path)
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    d = tmp_path_factory.mktemp("export")
    ckpt = write_checkpoint(d / "model.pt")
    out = d / "onnx" / "model.onnx"
    res = runner.invoke(app, [str(ckpt), "--out", str(out), "--parity-n", "6"])
    assert res.exit_code == 0, res.output
    return ckpt, out, res.output


@pytest.fixture(scope="module")
def model_and_clips(exported):
    ckpt, _, _ = exported
    model = build_model(load_checkpoint(ckpt), ckpt)
    d, m = synthetic_clips(SPEC, 12, seed=1)
    return model, d, m, torch_probs(model, d, m)


@pytest.mark.slow
def test_single_self_contained_file(exported) -> None:
    _, out, output = exported
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.onnx"]   # no .data, no temp dirs
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.ir_version <= MAX_IR_VERSION
    assert [i.name for i in proto.graph.input] == ["dynamic", "motion"]
    assert [o.name for o in proto.graph.output] == ["probs"]
    assert "Gelu" in {n.op_type for n in proto.graph.node}    # opset 20: one kernel, not five
    assert "fp32 parity vs torch on 6 clips" in output and "(ok" in output


@pytest.mark.slow
def test_the_parity_check_is_recorded_in_the_file(exported) -> None:
    record = json.loads(read_metadata(exported[1])["mpt.parity"])
    assert record["result"] == "passed" and [(c["precision"], c["clips"]) for c in record["checks"]] == [("fp32", 6)]
    assert MPTRuntime(exported[1]).parity.startswith("parity passed (fp32 vs torch on 6 clips: top-1 agreement")


def test_metadata_round_trips_into_runtime(exported) -> None:
    _, out, _ = exported
    meta = read_metadata(out)
    assert set(KEYS) <= set(meta)
    assert (meta["mpt.precision"], meta["mpt.demo"], meta["mpt.backbone"]) == ("fp32", "0", CFG.backbone)
    rt = MPTRuntime(out, device="cpu")
    assert rt.classes == CLASSES
    assert rt.clip_spec == SPEC
    assert rt.metrics == {"acc": 0.7, "uf1": 0.61}
    assert (rt.dataset, rt.protocol, rt.precision) == ("casme2", "loso", "fp32")
    assert meta["mpt.data_kind"] == rt.data_kind == ""   # a checkpoint from before data_kind: nothing claimed
    assert rt.batch is None


def test_the_data_kind_of_a_checkpoint_goes_into_the_metadata(tmp_path: Path) -> None:
    """A model trained on an mpt-synth root says so in its file (mpt.data_kind), for mpt-live to describe."""
    ckpt = load_checkpoint(write_checkpoint(tmp_path / "model.pt"))
    assert onnx_metadata(ckpt)["mpt.data_kind"] == ""
    assert onnx_metadata({**ckpt, "data_kind": "semi-synthetic (mpt-synth)"})["mpt.data_kind"] == \
        "semi-synthetic (mpt-synth)"


def _probs(rows: list[list[float]]) -> np.ndarray:
    return np.array(rows, dtype=np.float64)


# reference (torch) and quantized probabilities, 3 classes; expected raw agreement, agreement on the
# decided clips, ties, ok for int8
PARITY_CASES = {
    "a tie flips: excused": (
        [[.7, .2, .1], [.1, .8, .1], [.2, .2, .6], [.45, .449, .101]],
        [[.7, .2, .1], [.1, .8, .1], [.2, .2, .6], [.448, .451, .101]], 0.75, 1.0, 1, True),
    "a decided clip flips: refused": (
        [[.7, .2, .1], [.1, .8, .1], [.2, .2, .6], [.45, .449, .101]],
        [[.7, .2, .1], [.1, .8, .1], [.2, .41, .39], [.45, .449, .101]],
        0.75, 2 / 3, 1, False),
    "mostly ties: every clip counts": (
        [[.34, .33, .33], [.33, .34, .33], [.335, .33, .335], [.8, .1, .1]],
        [[.33, .34, .33], [.33, .34, .33], [.335, .33, .335], [.8, .1, .1]], 0.75, 0.75, 0, False),
    "all agree but a probability moves 0.06: refused": (
        [[.7, .2, .1], [.1, .8, .1], [.2, .2, .6], [.5, .3, .2]],
        [[.64, .26, .1], [.1, .8, .1], [.2, .2, .6], [.5, .3, .2]], 1.0, 1.0, 0, False),
}


@pytest.mark.parametrize("case", PARITY_CASES)
def test_parity_excuses_ties_only(case: str) -> None:
    ref, got, raw, decided, ties, ok = PARITY_CASES[case]
    p = compare(_probs(ref), _probs(got), "int8")
    assert (p.top1_agreement, p.ties, p.ok) == (pytest.approx(raw), ties, ok)
    assert p.decided_agreement == pytest.approx(decided)
    assert ("tie" in p.line()) == bool(ties) and ("ok" if ok else "FAILED") in p.line()
    # fp32 is never excused: any flip or a difference over 1e-4 fails it
    assert compare(_probs(ref), _probs(got), "fp32").ok == (raw == 1.0 and p.max_dprob <= 1e-4)


@pytest.mark.slow
def test_dynamic_batch_and_fp32_parity(exported, model_and_clips) -> None:
    _, out, _ = exported
    _, d, m, ref = model_and_clips
    rt = MPTRuntime(out, device="cpu")
    for b in (1, 3):
        got = rt.predict(d[:b], m[:b])
        assert got.shape == (b, 3)
        assert np.abs(got - ref[:b]).max() <= 1e-4
    p = compare(ref, rt.predict(d, m), "fp32")
    assert p.max_dprob <= 1e-4 and p.top1_agreement == 1.0 and p.ok


@pytest.mark.slow
def test_int8_is_static_qdq_of_the_backbone_linears(exported, model_and_clips, tmp_path: Path) -> None:
    """Calibrated QDQ int8: the backbone's Linear layers only; attention products, prompts, head in fp32."""
    _, out, _ = exported
    _, d, m, ref = model_and_clips
    q = quantize_int8(out, tmp_path / "model.int8.onnx", read_metadata(out), synthetic_clips(SPEC, 8, seed=7),
                      "minmax", "test clips")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.int8.onnx"]
    proto = onnx.load(str(q))
    ops = {n.op_type for n in proto.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops and not ops & {"DynamicQuantizeLinear", "MatMulInteger"}
    # MatMul results stay fp32 (ORT fuses DQ -> MatMul into MatMulIntegerToFloat): no Q node rounds them again
    int8_inits = {t.name for t in proto.graph.initializer if t.data_type == onnx.TensorProto.INT8}
    dq_weights = {n.output[0] for n in proto.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in int8_inits}
    int8_out = {o for n in proto.graph.node if n.op_type == "MatMul" and n.input[1] in dq_weights for o in n.output}
    assert int8_out and not [n.name for n in proto.graph.node if n.op_type == "QuantizeLinear" and n.input[0] in int8_out]
    inits = {t.name: t for t in proto.graph.initializer}
    # int8 weight matrices (per-channel zero points are int8 vectors too)
    int8_weights = [t for t in inits.values() if t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 2]
    record = json.loads(read_metadata(q)["mpt.int8"])
    # per block: qkv, proj, fc1, fc2 and the group adapter's three down/up pairs; not the prompts' projection,
    # whose input (the clip's motion features) one fixed range does not fit
    assert record["int8_matmuls"] == 4 * CFG_DEPTH + 6 * CFG_DEPTH == len(int8_weights)
    fp32 = onnx.load(str(out))
    proj = [n.input[1] for n in fp32.graph.node if n.op_type == "MatMul" and node_module(n) == "prompt.proj"]
    assert len(proj) == 1 and inits[proj[0]].data_type == onnx.TensorProto.FLOAT
    assert record["fp32"]["attention q@k, attn@v"] == 2 * CFG_DEPTH
    assert {"motion prompts", "head", "patch embedding"} <= set(record["fp32"]) and "adapters" not in record["fp32"]
    assert (record["calibration"], record["calibration_clips"], record["calibration_source"]) == ("minmax", 8, "test clips")
    # each block's attention core is one MultiHeadAttention node (export.attention); the qkv/proj Q/DQ pairs stay
    assert record["fused_attention"] == CFG_DEPTH == sum(n.op_type == "MultiHeadAttention" for n in proto.graph.node)
    rt = MPTRuntime(q, device="cpu")
    assert rt.precision == "int8" and rt.classes == CLASSES
    p = parity_mod.check_onnx(q, d, m, ref)
    assert p.precision == "int8" and p.clips == 12 and not p.batch_error
    assert "int8 parity vs torch on 12 clips" in p.line()


@pytest.mark.slow
def test_fused_attention_gives_the_same_probabilities(exported, model_and_clips, tmp_path: Path) -> None:
    """fuse_attention turns each block's ~30-node attention span into Split + MultiHeadAttention; the fp32 graph's
    probabilities stay those of the unfused one (any batch). A span of another shape (here: its Softmax over
    another axis) is left as it is, and the graph keeps that span's meaning."""
    import onnxruntime as ort

    _, out, _ = exported
    _, d, m, _ = model_and_clips
    plain = onnx.load(str(out))

    def probs(proto, b: int) -> np.ndarray:
        sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        return np.concatenate([sess.run(["probs"], {"dynamic": d[i:i + b], "motion": m[i:i + b]})[0]
                               for i in range(0, len(d), b)])

    fused = onnx.ModelProto()
    fused.CopyFrom(plain)
    assert fuse_attention(fused) == CFG_DEPTH
    ops = [n.op_type for n in fused.graph.node]
    assert ops.count("MultiHeadAttention") == CFG_DEPTH
    assert ops.count("Softmax") == [n.op_type for n in plain.graph.node].count("Softmax") - CFG_DEPTH
    assert len(fused.graph.node) < len(plain.graph.node) - 10 * CFG_DEPTH
    for b in (1, 3):
        assert np.abs(probs(fused, b) - probs(plain, b)).max() <= 1e-5
    assert fuse_attention(fused) == 0  # nothing left to fuse

    odd = onnx.ModelProto()
    odd.CopyFrom(plain)
    softmax = next(n for n in odd.graph.node if n.op_type == "Softmax" and node_module(n).endswith(".attn"))
    next(a for a in softmax.attribute if a.name == "axis").i = 2
    changed = onnx.ModelProto()
    changed.CopyFrom(odd)
    assert fuse_attention(odd) == CFG_DEPTH - 1
    assert softmax.name in {n.name for n in odd.graph.node}
    assert np.abs(probs(odd, 2) - probs(changed, 2)).max() <= 1e-5
    assert np.abs(probs(changed, 2) - probs(plain, 2)).max() > 1e-4  # the altered span does change the answer


@pytest.mark.slow
def test_a_span_of_the_right_shape_computing_something_else_is_left_alone(exported, model_and_clips) -> None:
    """The reviewer's graph: block 0's k Slice pointed at v's third of qkv (same shapes throughout). It was fused,
    giving the unaltered model's output; now that span stays as it is and the others are fused. Names given by an
    earlier pass (or the export) are not taken again."""
    import onnxruntime as ort

    _, out, _ = exported
    _, d, m, _ = model_and_clips
    plain = onnx.load(str(out))

    def probs(proto) -> np.ndarray:
        sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        return sess.run(["probs"], {"dynamic": d[:4], "motion": m[:4]})[0]

    permute = next(n for n in plain.graph.node if n.op_type == "Transpose"
                   and list(n.attribute[0].ints) == [2, 0, 3, 1, 4])
    consts = {t.name: onnx.numpy_helper.to_array(t) for t in plain.graph.initializer}
    thirds = {int(consts[n.input[1]].ravel()[0]): n for n in plain.graph.node
              if n.op_type == "Slice" and n.input[0] == permute.output[0]}
    assert sorted(thirds) == [0, 1, 2]
    altered = onnx.ModelProto()
    altered.CopyFrom(plain)
    k_slice = next(n for n in altered.graph.node if n.name == thirds[1].name)
    k_slice.input[1], k_slice.input[2] = thirds[2].input[1], thirds[2].input[2]
    altered.graph.node[0].name = "mpt_attention_0_Split"  # a name the fusion would otherwise give
    reference = onnx.ModelProto()
    reference.CopyFrom(altered)
    assert fuse_attention(altered) == CFG_DEPTH - 1
    assert k_slice.name in {n.name for n in altered.graph.node}
    names = [n.name for n in altered.graph.node]
    assert len(names) == len(set(names))
    onnx.checker.check_model(altered)
    assert np.abs(probs(reference) - probs(plain)).max() > 1e-4  # k -> v does change the answer
    assert np.abs(probs(altered) - probs(reference)).max() <= 1e-5


@pytest.mark.slow
def test_an_int8_graph_is_fused_only_where_the_fp32_graph_fused_alike_gives_its_own_outputs(exported, monkeypatch,
                                                                                           tmp_path: Path):
    """fuse_checked (the int8 files' fusion) fuses the fp32 export in memory first and compares it with itself
    unfused: where a fusion computes something else (here: each fused node's scale doubled, a span it would take for
    attention wrongly), the int8 graph is left as it was and the line says why; otherwise fused as fuse_attention."""
    from export import attention

    _, out, _ = exported
    plain = onnx.load(str(out))
    graph = onnx.ModelProto()
    graph.CopyFrom(plain)
    assert attention.fuse_checked(graph, out, tmp_path) == (CFG_DEPTH, None)
    assert sum(n.op_type == "MultiHeadAttention" for n in graph.graph.node) == CFG_DEPTH

    real = attention.fuse_attention

    def wrong(proto):
        n = real(proto)
        for node in proto.graph.node:
            for a in node.attribute:
                if node.op_type == "MultiHeadAttention" and a.name == "scale":
                    a.f *= 2
        return n

    monkeypatch.setattr(attention, "fuse_attention", wrong)
    graph.CopyFrom(plain)
    fused, why = attention.fuse_checked(graph, out, tmp_path)
    assert fused == 0 and graph == plain
    assert why.startswith("attention left unfused: the fp32 graph with its attention fused gave ") and "over 0.0001" in why
    assert not list(tmp_path.iterdir())  # its temporary files removed


@pytest.mark.slow
def test_int8_weights_is_matmulnbits_without_calibration(exported, model_and_clips, tmp_path: Path) -> None:
    """Weight-only int8: static int8's MatMuls and the prompt projection become 8-bit MatMulNBits; no calibration."""
    _, out, _ = exported
    _, d, m, ref = model_and_clips
    q = quantize_int8_weights(out, tmp_path / "model.int8.onnx", read_metadata(out))
    proto = onnx.load(str(q))
    nbits = [n for n in proto.graph.node if n.op_type == "MatMulNBits"]
    record = json.loads(read_metadata(q)["mpt.int8"])
    # the static plan's MatMuls and the prompts' projection (activations are quantized per block at run time)
    assert len(nbits) == record["int8_matmuls"] == 4 * CFG_DEPTH + 6 * CFG_DEPTH + 1 and record["calibration"] is None
    assert all(next(a.i for a in n.attribute if a.name == "bits") == 8 for n in nbits)
    assert record["fused_attention"] == CFG_DEPTH == sum(n.op_type == "MultiHeadAttention" for n in proto.graph.node)
    assert q.stat().st_size < 0.5 * out.stat().st_size
    rt = MPTRuntime(q, device="cpu")
    assert rt.precision == "int8"
    p = parity_mod.check_onnx(q, d, m, ref)
    assert p.max_dprob <= 0.02 and not p.batch_error  # this untrained model's top-1 margins are near ties


def test_static_int8_makes_its_temporary_files_beside_its_output(exported, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """quantize_int8 and ONNX Runtime's quantizer wrote their copies of the model (7 of them, ~340 MB each for
    ViT-B/16) in the system's temporary folder, often a small tmpfs, where a killed export also left them. They are
    now made beside the output: in mpt-export's own folder beside --out."""
    import tempfile

    _, out, _ = exported
    made: list[str] = []
    mkdtemp, default = tempfile.mkdtemp, tempfile.tempdir
    monkeypatch.setattr(tempfile, "mkdtemp", lambda *a, **k: made.append(mkdtemp(*a, **k)) or made[-1])
    dst = tmp_path / "stage" / "m.int8.onnx"  # a folder not made yet: made for it, as save_model makes one
    quantize_int8(out, dst, read_metadata(out), synthetic_clips(SPEC, 2, seed=7))
    assert len(made) >= 3 and all(Path(d).is_relative_to(dst.parent) for d in made), made   # ours and ORT's two
    assert tempfile.tempdir == default and sorted(p.name for p in dst.parent.iterdir()) == ["m.int8.onnx"]


def test_export_precision_flags_are_exclusive() -> None:
    res = runner.invoke(app, ["model.pt", "--int8", "--int8-weights"])
    assert res.exit_code == 2 and "choose one" in res.output


def _clip_dir(path: Path, clips: tuple[np.ndarray, np.ndarray], start: int = 0) -> Path:
    """One .npz per clip, as mpt-train's clip cache writes them (float16)."""
    path.mkdir(parents=True, exist_ok=True)
    for i, (d, m) in enumerate(zip(*clips)):
        np.savez(path / f"clip{start + i:03d}.npz", dynamic=d.astype(np.float16), motion=m.astype(np.float16))
    return path


def test_int8_export_calibrates_and_checks_on_disjoint_clips(tmp_path: Path) -> None:
    """mpt-export --int8 of a confident (as if trained) model passes the 99 % gate on held-out clips;
    calibration folder and parity folder share 2 clips, which are not calibrated on."""
    ckpt = write_checkpoint(tmp_path / "model.pt", head_gain=5.0, cfg=PARITY_CFG)
    clips = synthetic_clips(SPEC, 14, seed=3)
    calib = _clip_dir(tmp_path / "calib", tuple(a[:8] for a in clips))
    parity = _clip_dir(tmp_path / "parity", tuple(a[6:] for a in clips), start=6)     # clips 6, 7 in both
    out = tmp_path / "m.int8.onnx"
    res = runner.invoke(app, [str(ckpt), "--int8", "--out", str(out), "--calib-clips", str(calib),
                              "--parity-clips", str(parity), "--parity-n", "8", "--calibration", "minmax"])
    text = " ".join(res.output.split())
    assert f"calibration clips: 6 from {calib} (2 left out: also parity clips)" in text
    assert res.exit_code == 0, res.output
    assert "int8 parity vs torch on 8 clips" in text and "top-1 agreement 100.0% (ok" in text
    record = json.loads(read_metadata(out)["mpt.int8"])
    assert record["calibration_clips"] == 6
    # the model file names the folder, not this machine's path to it (the log line above has the path)
    assert record["calibration_source"] == f"the clips of a folder named {calib.name!r}"
    assert str(tmp_path) not in json.dumps(read_metadata(out))


def test_an_int8_export_says_when_its_attention_is_left_unfused(tmp_path: Path, monkeypatch) -> None:
    """mpt-export prints fuse_checked's line where the int8 file's attention is left unfused (the file records it
    too), and no such line where it is fused."""
    from export import attention

    ckpt = write_checkpoint(tmp_path / "model.pt", head_gain=5.0, cfg=PARITY_CFG)
    outs = {}
    for name, tolerance in (("fused", attention.CHECK_TOLERANCE), ("refused", -1.0)):  # -1: no difference passes
        monkeypatch.setattr(attention, "CHECK_TOLERANCE", tolerance)
        out = outs[name] = tmp_path / f"{name}.onnx"
        res = runner.invoke(app, [str(ckpt), "--int8-weights", "--out", str(out), "--parity-n", "4"])
        assert res.exit_code == 0, res.output
        outs[name] = (" ".join(res.output.split()), json.loads(read_metadata(out)["mpt.int8"]))
    text, record = outs["fused"]
    assert "attention left unfused" not in text and record["fused_attention"] == PARITY_DEPTH
    text, record = outs["refused"]
    assert record["fused_attention"] == 0 and record["unfused_attention"] in text
    assert "attention left unfused: the fp32 graph with its attention fused gave" in text


@pytest.mark.parametrize("batch", ["1", "2"])
def test_int8_export_with_a_fixed_batch_is_quantized(tmp_path: Path, batch: str) -> None:
    """A fixed --batch makes the linear layers 2-D MatMuls, which ONNX Runtime's pre-processing used to
    fuse into Gemm nodes the plan did not name: the "int8" file had no int8 layer. Batch 2 calibrates in
    pairs (the graph takes exactly two clips)."""
    ckpt = write_checkpoint(tmp_path / "model.pt", head_gain=5.0, cfg=PARITY_CFG)
    calib = _clip_dir(tmp_path / "calib", synthetic_clips(SPEC, 6, seed=3))
    out = tmp_path / "m.int8.onnx"
    res = runner.invoke(app, [str(ckpt), "--int8", "--batch", batch, "--out", str(out), "--calib-clips", str(calib),
                              "--parity-n", "6"])
    assert res.exit_code == 0, res.output
    proto = onnx.load(str(out))
    int8_weights = [t for t in proto.graph.initializer if t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 2]
    assert len(int8_weights) == json.loads(read_metadata(out)["mpt.int8"])["int8_matmuls"] == 10 * PARITY_DEPTH
    assert MPTRuntime(out).batch == int(batch)


def test_calibration_clips_never_include_parity_clips(tmp_path: Path) -> None:
    from export.calibration import calibration_clips, clip_digests

    clips = synthetic_clips(SPEC, 6, seed=4)
    folder = _clip_dir(tmp_path / "c", clips)
    parity = load_clips(folder, SPEC, limit=4)            # as float16 round trips, like the files
    cal = calibration_clips({}, tmp_path / "model.pt", SPEC, folder, n=10, parity=parity)
    assert (len(cal.dynamic), cal.dropped) == (2, 4)
    assert not set(clip_digests(cal.dynamic, cal.motion)) & set(clip_digests(*parity))
    with pytest.raises(InputError, match="all 6 calibration clips are parity clips too"):
        calibration_clips({}, tmp_path / "model.pt", SPEC, folder, parity=load_clips(folder, SPEC))
    fallback = calibration_clips({}, tmp_path / "model.pt", SPEC, None, n=3, parity=parity)
    assert len(fallback.dynamic) == 3 and "synthetic clips (the checkpoint names no training dataset" in fallback.line()


@pytest.mark.parametrize("make,message", [
    (lambda d: d / "missing", "missing: no such folder"),                     # it said 'no .npz clip files'
    (lambda d: ((d / "c.npz").write_bytes(b"x"), d / "c.npz")[1], "c.npz: not a folder"),
    (lambda d: d, "no .npz clip files"),                                       # an empty folder
    (lambda d: (np.savez(d / "a.npz", dynamic=np.zeros((3, 8, 8)), motion=np.zeros((4, 3, 8, 8))), d)[1],
     "do not fit the model's ClipSpec"),
    (lambda d: ((d / "b.npz").write_bytes(b"junk"), d)[1], "not a clip file"),
])
def test_bad_calib_clips_is_one_line_exit_2(exported, tmp_path: Path, make, message: str) -> None:
    ckpt, _, _ = exported
    folder = make(tmp_path)
    res = runner.invoke(app, [str(ckpt), "--int8", "--calib-clips", str(folder), "--parity-n", "3",
                              "--out", str(tmp_path / "x.onnx")])
    assert res.exit_code == 2, res.output
    assert message in " ".join(res.output.split()) and "Traceback" not in res.output
    assert len([line for line in res.output.splitlines() if "error" in line]) == 1


def test_fp16_runs(exported, model_and_clips, tmp_path: Path) -> None:
    _, out, _ = exported
    _, d, m, ref = model_and_clips
    f = convert_fp16(out, tmp_path / "model.fp16.onnx", read_metadata(out))
    rt = MPTRuntime(f, device="cpu")
    assert rt.precision == "fp16"
    assert "mpt.parity" not in rt.metadata   # the fp32 file's record, given with its metadata, judged another graph
    p = compare(ref, rt.predict(d, m), "fp16")
    assert p.max_dprob < 1e-2 and p.top1_agreement >= 0.9


def test_plain_export_is_fp32_where_onnx_runtime_has_no_gpu(exported) -> None:
    from mpt_live.providers import CUDA, provider_works

    if provider_works(CUDA):
        pytest.skip("this machine's ONNX Runtime runs CUDA: the plain export is fp16 here")
    _, out, output = exported
    assert read_metadata(out)["mpt.precision"] == "fp32"
    assert "precision fp32: no GPU for ONNX Runtime here (" in " ".join(output.split())


@pytest.mark.slow
@pytest.mark.parametrize("fp16_fails", [False, True], ids=["fp16-passes", "fp16-fails-so-fp32"])
def test_plain_export_on_a_gpu_machine_is_fp16_when_it_passes_parity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      fp16_fails: bool) -> None:
    """Where the CUDA provider works (faked) a plain mpt-export writes fp16, checked on the device ONNX Runtime
    picks ('auto': the GPU there, the CPU here); if fp16 fails its check, the fp32 file is written instead."""
    from export import pipeline

    ckpt = write_checkpoint(tmp_path / "model.pt", head_gain=5.0, cfg=PARITY_CFG)
    monkeypatch.setattr(pipeline, "gpu_default_precision", lambda: ("fp16", "the GPU default (faked)"))
    devices: list[str] = []
    real = pipeline.check_onnx

    def check(path, d, m, ref, batch=8, device="cpu"):
        devices.append(device)
        p = real(path, d, m, ref, batch, device)
        return (dataclasses.replace(p, top1_agreement=0.5, decided_agreement=0.5) if fp16_fails and p.precision == "fp16"
                else p)

    monkeypatch.setattr(pipeline, "check_onnx", check)
    res = runner.invoke(app, [str(ckpt), "--parity-n", "4"])
    assert res.exit_code == 0, res.output
    assert devices == ["cpu", "auto"]                      # fp32 checked on the CPU, fp16 where it will run
    files = sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".onnx")
    record = {f: json.loads(read_metadata(tmp_path / f)["mpt.parity"]) for f in files}
    if fp16_fails:
        assert files == ["model.fp16.rejected.onnx", "model.onnx"]
        assert [c["precision"] for c in record["model.onnx"]["checks"]] == ["fp32"]
        assert (record["model.onnx"]["result"], record["model.fp16.rejected.onnx"]["result"]) == ("passed", "failed")
        assert read_metadata(tmp_path / "model.onnx")["mpt.precision"] == "fp32"
        assert "writing fp32 instead" in " ".join(res.output.split())
    else:
        assert files == ["model.fp16.onnx"] and read_metadata(tmp_path / "model.fp16.onnx")["mpt.precision"] == "fp16"


@pytest.mark.slow
def test_parity_gate_rejects_and_fixed_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed check exits 1 and renames the file; a fixed --batch N gives a static graph."""
    ckpt = write_checkpoint(tmp_path / "model.pt", cfg=PARITY_CFG)
    monkeypatch.setattr(parity_mod, "FP32_MAX_DPROB", -1.0)
    res = runner.invoke(app, [str(ckpt), "--batch", "2", "--parity-n", "3"])
    assert res.exit_code == 1, res.output
    assert "parity check failed" in res.output
    assert not (tmp_path / "model.onnx").exists()
    rt = MPTRuntime(tmp_path / "model.rejected.onnx")
    assert rt.batch == 2
    assert rt.predict(*synthetic_clips(SPEC, 3)).shape == (3, 3)
    # the file says it failed, so mpt-live warns of it whatever it is called by then
    assert json.loads(read_metadata(tmp_path / "model.rejected.onnx")["mpt.parity"])["result"] == "failed"
    assert "FAILED mpt-export's parity check (fp32 vs torch on 3 clips" in rt.parity_warning


@pytest.mark.parametrize("content,message", [
    (None, "no such checkpoint file"),
    (b"not a checkpoint", "not a PyTorch checkpoint"),
    ({"weights": 1}, "not an mpt-train checkpoint (missing state_dict, model_config, classes, clip_spec)"),
    ("onnx", "an ONNX model"),
])
def test_bad_checkpoint_is_one_line_exit_2(tmp_path: Path, content, message: str) -> None:
    path = tmp_path / "ckpt.pt"
    if content == "onnx":
        from tinymodel import tiny_onnx

        tiny_onnx(path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content, path)
    res = runner.invoke(app, [str(path)])
    assert res.exit_code == 2
    assert message in " ".join(res.output.split())
    assert "Traceback" not in res.output
    if content == "onnx":  # mpt-live's file given to mpt-export: named as what it is, and where it goes
        assert f"{path}: an ONNX model (mpt-export's output), not an mpt-train checkpoint; run it with mpt-live" \
            in " ".join(res.output.split())
    if content is None:  # nothing else first (the precision line came before this error)
        assert [ln for ln in res.output.splitlines() if ln.strip()] == [f"error: {path}: no such checkpoint file"]
    with pytest.raises(InputError):
        load_checkpoint(path)


@pytest.mark.parametrize("version, wrote", [("9.1.0", "mpt-live 9.1.0"), (None, "a newer mpt-live")])
def test_a_model_config_from_a_newer_mpt_live_says_to_upgrade(tmp_path: Path, version, wrote: str) -> None:
    """A model_config with a field a later mpt-live added was 'bad model_config in checkpoint (MPTConfig.__init__()
    got an unexpected keyword argument ...)', as if the file were damaged."""
    import mpt_live

    ckpt = torch.load(write_checkpoint(tmp_path / "model.pt"), weights_only=False)
    ckpt["model_config"]["prompt_future"] = 2
    ckpt["version"] = version
    torch.save(ckpt, tmp_path / "model.pt")
    res = runner.invoke(app, [str(tmp_path / "model.pt"), "--fp32"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert [ln for ln in " ".join(res.output.split()).split("error: ")[1:]] == [
        f"{tmp_path / 'model.pt'}: a model from {wrote}, newer than this mpt-live {mpt_live.__version__} (its "
        "model_config has prompt_future, unknown here): upgrade mpt-live to export it"]


@pytest.mark.parametrize("classes, message", [
    (["negative", "Neutral", "surprise"], "a class named 'neutral': mpt-live labels every window outside an event"),
    (["negative", "positive", "negative"], "bad 'classes' in checkpoint ('negative' named more than once)"),
    (["negative", "", "surprise"], "bad 'classes' in checkpoint (need a non-empty list of names)"),
])
def test_class_names_mpt_live_refuses_are_refused_before_the_export(tmp_path: Path, classes, message: str) -> None:
    """A checkpoint whose class names mpt-live refuses (a 'neutral' class, one named twice, an empty one) was exported
    for minutes, then refused by the parity check's runtime with a line naming the deleted temporary file
    (mpt-export-XXXX/model.onnx); it is now refused first, naming the checkpoint, and nothing is written."""
    path = write_checkpoint(tmp_path / "model.pt")
    ckpt = torch.load(path, weights_only=False)
    torch.save({**ckpt, "classes": classes}, path)
    res = runner.invoke(app, [str(path), "--fp32", "--parity-n", "2"])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: ") and message in " ".join(res.output.split()), \
        res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_a_whole_pickled_model_is_named_as_one(tmp_path: Path) -> None:
    """torch.save(model) of an MPT: its full load imported timm past the torchvision clash's work-around (train._timm),
    so the line was 'torch cannot read what it holds (RuntimeError: operator torchvision::nms does not exist)' where
    that clash exists, else 'a MPT, expected a dict'; it now says what the file is and what it lacks."""
    import subprocess
    import sys

    path = tmp_path / "whole.pt"
    torch.save(MPT(PARITY_CFG), path)
    code = "from export.cli import main; main()"   # a fresh process: timm not imported yet, as in mpt-export
    res = subprocess.run([sys.executable, "-c", code, str(path), "--fp32"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 2, res.stderr
    assert [ln for ln in res.stderr.splitlines() if ln.strip()] == [
        (f"error: {path}: a whole MPT model object (torch.save(model)), not an mpt-train checkpoint: it has no class "
         "names or ClipSpec to export with")], res.stderr


@pytest.mark.parametrize("content, why", [
    (b"", "the file is empty (0 bytes)"),
    (b"hello, not a checkpoint", "neither torch.save's zip archive nor a pickle"),
    (b"PK\x03\x04 a zip cut short", "a zip archive without its end (cut off while it was written or copied)"),
])
def test_a_file_that_is_not_a_checkpoint_says_why_and_nothing_first(tmp_path: Path, content, why: str) -> None:
    """An empty file said 'not a PyTorch checkpoint (EOFError: EOFError)', text '(KeyError: 104)', a cut-off one
    torch's zip error, each after the precision line; now the reason in words, alone."""
    path = tmp_path / "ckpt.pt"
    path.write_bytes(content)
    res = runner.invoke(app, [str(path)])
    assert res.exit_code == 2, res.output
    assert [ln for ln in res.output.splitlines() if ln.strip()] == [f"error: {path}: not a PyTorch checkpoint ({why})"]


@pytest.mark.parametrize("damage", ["cut", "end"])
def test_a_checkpoint_cut_short_or_damaged_says_so_with_its_size(tmp_path: Path, damage: str) -> None:
    """A half-copied model.pt (head -c N model.pt > cut.pt) was 'not a PyTorch checkpoint (a zip archive without
    its end ...)', as if another kind of file, and one whose zip end is damaged 'not a PyTorch checkpoint
    (RuntimeError: PytorchStreamReader failed ...)'; both begin as torch.save's archive: the line says so, with
    the size, and what is wrong (mpt-export, and mpt-train over an --out holding it)."""
    from train.config import TrainConfig
    from train.run_checks import check_full_overwrite

    path = tmp_path / "model.pt"
    torch.save({"state_dict": {"w": torch.zeros(4096)}}, path)
    data = path.read_bytes()
    pickled = data.index(b"\x80\x02")  # data.pkl, the archive's first entry
    data = data[:8000] if damage == "cut" else data[:pickled] + b"\xff" * 8 + data[pickled + 8:]
    path.write_bytes(data)
    res = runner.invoke(app, [str(path)])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    begins = f"error: {path}: {len(data):,} bytes that do not load as a PyTorch checkpoint; it "
    assert len(lines) == 1 and lines[0].startswith(begins), res.output
    assert lines[0].endswith("zip archive does but has no end, so it is cut short or damaged (a copy or save that "
                             "did not finish?)" if damage == "cut" else "zip archive; torch cannot read what it holds "
                             "(UnpicklingError: invalid load key, '\\xff'.)"), lines[0]
    with pytest.raises(InputError) as e:
        check_full_overwrite(tmp_path, TrainConfig("synthetic", ""))
    assert str(e.value).startswith(begins[len("error: "):]) and "choose a new --out or remove it" in str(e.value)


@pytest.mark.parametrize("keep", [20, 200, 0.5, -1], ids=["in-magic", "in-pickle", "in-data", "last-byte"])
def test_an_old_format_checkpoint_cut_short_says_so_with_its_size(tmp_path: Path, keep) -> None:
    """A legacy (non-zip) torch.save file cut short was 'not a PyTorch checkpoint (RuntimeError: unexpected EOF,
    expected N more bytes ...)' or '(EOFError: ...)'; it is named with its size as cut short or damaged, as the zip
    format's is (mpt-export, mpt-train over an --out holding it, and a --backbone-weights file's reason)."""
    from train.config import TrainConfig
    from train.run_checks import check_full_overwrite
    from train.torch_files import unreadable_torch_file

    path = tmp_path / "model.pt"
    torch.save({"state_dict": {"w": torch.zeros(4096)}}, path, _use_new_zipfile_serialization=False)
    data = path.read_bytes()
    data = data[:keep if isinstance(keep, int) and keep > 0 else len(data) - 1 if keep == -1 else len(data) // 2]
    path.write_bytes(data)
    res = runner.invoke(app, [str(path)])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert lines == [(f"error: {path}: {len(data):,} bytes that do not load as a PyTorch checkpoint; it begins as "
                      "torch.save's older, non-zip format does but ends before its data does, so it is cut short or "
                      "damaged (a copy or save that did not finish?)")], res.output
    with pytest.raises(InputError, match="non-zip format does but ends before its data does"):
        check_full_overwrite(tmp_path, TrainConfig("synthetic", ""))
    try:
        torch.load(path, weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch's error, whatever its type
        assert unreadable_torch_file(path, e).startswith("torch.save's older, non-zip format ending before its data")


def test_a_whole_old_format_checkpoint_still_loads(tmp_path: Path) -> None:
    path = write_checkpoint(tmp_path / "model.pt")
    old = tmp_path / "old.pt"
    torch.save(torch.load(path, weights_only=False), old, _use_new_zipfile_serialization=False)
    assert load_checkpoint(old)["classes"] == load_checkpoint(path)["classes"]


def test_an_opset_the_converter_cannot_reach_is_our_line_without_a_traceback(tmp_path: Path) -> None:
    """--opset 26: onnxscript's version converter logged 'Failed to convert the model ...' and a Traceback before
    the one-line error; now the error alone follows the progress lines."""
    import subprocess
    import sys

    ckpt = write_checkpoint(tmp_path / "model.pt", cfg=PARITY_CFG)
    res = subprocess.run([sys.executable, "-c", "from export.cli import main; main()", str(ckpt), "--opset", "26",
                          "--parity-n", "2", "--fp32"], capture_output=True, text=True, timeout=600)
    output = res.stdout + res.stderr
    assert res.returncode == 2, output
    assert "Traceback" not in output and "Failed to convert" not in output, output
    assert output.strip().splitlines()[-1].startswith("error: --opset 26: the export failed at this opset"), output


@pytest.mark.parametrize("args,message", [
    (["--int8", "--fp16"], "choose one"),
    (["--fp32", "--fp16"], "--fp32 and --fp16: choose one"),
    (["--batch", "zero"], "--batch zero"),
    (["--calib-clips", "clips"], "only --int8 is calibrated"),
    # a folder that does not exist yet, typed as one: Path() dropped the '/' and the model was written as a file of
    # the folder's name
    (["--out", "exports/"], "--out exports/: a folder, expected a file name (e.g. exports/model.onnx)"),
])
def test_bad_options_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "x.pt").write_bytes(b"")  # the options are checked before the checkpoint is read
    res = runner.invoke(app, [str(tmp_path / "x.pt"), *args])
    assert res.exit_code == 2 and message in res.output


def test_cli_default_opset_matches_exporter() -> None:
    from export import cli, onnx_export

    assert cli.DEFAULT_OPSET == onnx_export.DEFAULT_OPSET


def test_parity_catches_a_batch_axis_that_is_not_really_dynamic(tmp_path: Path) -> None:
    """A graph that declares a symbolic batch but hard-codes 2 (as a specialised export would)."""
    from onnx import TensorProto, helper, numpy_helper

    S, T = SPEC.image_size, SPEC.frames
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["dynamic"], ["gap"]),
         helper.make_node("Reshape", ["gap", "shape"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["probs"], axis=-1)],
        "fixed2",
        [helper.make_tensor_value_info("dynamic", TensorProto.FLOAT, ["B", 3, S, S]),
         helper.make_tensor_value_info("motion", TensorProto.FLOAT, ["B", T, 3, S, S])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["B", 3])],
        [numpy_helper.from_array(np.array([2, 3], np.int64), "shape")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    for k, v in {"mpt.classes": '["a", "b", "c"]', "mpt.clip_spec": SPEC.to_json()}.items():
        model.metadata_props.add(key=k, value=v)
    path = tmp_path / "fixed2.onnx"
    onnx.save(model, str(path))
    d, m = synthetic_clips(SPEC, 2)
    e = np.exp(d.mean(axis=(2, 3)))
    p = parity_mod.check_onnx(path, d, m, e / e.sum(1, keepdims=True))
    assert p.max_dprob < 1e-5 and not p.ok
    assert "dynamic batch broken: B=1" in p.line()


def _generator_export_parity(tmp_path: Path, name: str, image_size: int, **changes):
    """A model with ``changes`` to PARITY_CFG and small random trained weights, exported; its parity with torch."""
    from export.onnx_export import export_onnx

    spec = ClipSpec(frames=4, image_size=image_size, window_s=0.25)
    torch.manual_seed(0)
    cfg = dataclasses.replace(PARITY_CFG, image_size=image_size, **changes)
    model = MPT(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.normal_(0, 0.05)
    meta = {"mpt.classes": '["negative", "positive", "surprise"]', "mpt.clip_spec": spec.to_json(),
            "mpt.backbone": cfg.backbone, "mpt.precision": "fp32", "mpt.demo": "0"}
    out = export_onnx(model, tmp_path / f"{name}.onnx", spec, meta)
    d, m = synthetic_clips(spec, 5, seed=2)
    return compare(torch_probs(model, d, m), MPTRuntime(out, device="cpu").predict(d, m), "fp32")


@pytest.mark.slow
def test_grid_prompt_generator_exports_with_parity(tmp_path: Path) -> None:
    """mpt-train's default generator (4x4 grid over the centred motion) exports: at 80 px the conv
    map is 5x5, pooled to 4x4 with overlapping cells, which ONNX has no single op for."""
    p = _generator_export_parity(tmp_path, "grid", 80, prompt_grid=4, prompt_centre=True)
    assert p.max_dprob <= 1e-4 and p.top1_agreement == 1.0


@pytest.mark.parametrize("norm", ["rms", "median"])
def test_flow_prompt_generator_exports_with_parity(tmp_path: Path, norm: str) -> None:
    """--prompt-input flow (energy + signed per-cell displacement, train.cellflow, scaled per clip by its RMS
    or its median cell's, the median as TopK) is all ONNX ops, and so is the head that reads the prompt tokens
    beside [CLS]."""
    p = _generator_export_parity(tmp_path, "flow", 64, prompt_grid=8, prompt_centre=True, prompt_energy=True,
                                 prompt_flow=True, prompt_flow_gain=5.0, head_prompts=True, prompt_flow_norm=norm)
    assert p.max_dprob <= 1e-4 and p.top1_agreement == 1.0


def test_summary_head_exports_with_parity(tmp_path: Path) -> None:
    """--head cls+prompts+summary computes the probe's motion summary (std map, mid-minus-ends displacement)
    inside the model's forward: all ONNX ops, so mpt-live runs it from the file alone."""
    p = _generator_export_parity(tmp_path, "summary", 56, backbone=CFG.backbone, prompt_grid=14, prompt_centre=True,
                                 prompt_energy=True, prompt_flow=True, prompt_flow_gain=5.0, head_prompts=True,
                                 head_summary=True, prompt_flow_norm="median")
    assert p.max_dprob <= 1e-4 and p.top1_agreement == 1.0


@pytest.mark.slow
def test_vpt_deep_baseline_exports_with_parity(tmp_path: Path) -> None:
    """A baseline of the paper's Table VI (VPT-deep tokens before every block, group adapter) is as
    deployable as MPT: it exports and matches torch."""
    from export.onnx_export import export_onnx

    torch.manual_seed(0)
    model = MPT(dataclasses.replace(PARITY_CFG, vpt="deep", vpt_tokens=2)).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.normal_(0, 0.05)
    meta = {"mpt.classes": json.dumps(CLASSES), "mpt.clip_spec": SPEC.to_json(),
            "mpt.backbone": PARITY_CFG.backbone, "mpt.precision": "fp32", "mpt.demo": "0"}
    out = export_onnx(model, tmp_path / "vpt.onnx", SPEC, meta)
    d, m = synthetic_clips(SPEC, 5, seed=3)
    p = compare(torch_probs(model, d, m), MPTRuntime(out, device="cpu").predict(d, m), "fp32")
    assert p.max_dprob <= 1e-4 and p.top1_agreement == 1.0


def test_a_run_folder_is_its_model_and_a_loso_folder_says_why_not(tmp_path: Path) -> None:
    loso = tmp_path / "loso"
    loso.mkdir()
    (loso / "metrics.json").write_text("{}")
    res = runner.invoke(app, [str(loso)])
    assert res.exit_code == 2 and "a LOSO run's folder: it keeps no model; train one with --protocol full" in \
        " ".join(res.output.split()), res.output
    res = runner.invoke(app, [str(tmp_path / "loso" / ".."), "--parity-n", "2"])
    assert res.exit_code == 2 and "a folder without model.pt" in res.output
    # a LOSO run stopped before its end (config.json, folds/, no metrics.json) was 'a folder without model.pt', as if
    # its model had been lost
    (loso / "metrics.json").unlink()
    (loso / "config.json").write_text("{}")
    (loso / "folds").mkdir()
    (loso / "folds" / "sub01.json").write_text("{}")
    res = runner.invoke(app, [str(loso)])
    assert res.exit_code == 2 and [ln for ln in res.output.splitlines() if ln.strip()] == [
        (f"error: {loso}: a LOSO run's folder, stopped before its end (folds done: 1, no metrics.json): LOSO keeps no "
         "model, at its end either; train one with --protocol full")], res.output
    (tmp_path / "full").mkdir()
    write_checkpoint(tmp_path / "full" / "model.pt", cfg=PARITY_CFG)
    res = runner.invoke(app, [str(tmp_path / "full"), "--parity-n", "3"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "full" / "model.onnx").is_file()


def test_a_checkpoint_in_a_folder_it_cannot_write_is_one_line_before_the_export(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --out the model goes beside the checkpoint; in a read-only folder (a shared models folder) the
    checkpoint was loaded and the torch reference computed before 'error: the ONNX file could not be written
    (Permission denied)', exit 1, naming no file; it is now checked first, as --out's folder is, exit 2."""
    import errno

    ckpt = write_checkpoint(tmp_path / "model.pt")
    write_bytes = Path.write_bytes

    def read_only_folder(self: Path, data: bytes) -> int:  # root writes anywhere: the folder's refusal, simulated
        if self.parent == tmp_path:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", read_only_folder)
    res = runner.invoke(app, [str(ckpt), "--fp32", "--parity-n", "2"])
    assert res.exit_code == 2, res.output
    assert [ln for ln in res.output.splitlines() if ln.strip()] == [
        (f"error: {ckpt}: without --out the model is written beside it, in {tmp_path}: cannot write into this folder "
         "(Permission denied); give --out FILE.onnx")], res.output


@pytest.mark.parametrize("name, content, what", [
    ("folds/sub03.json", {"fold": 2, "subject": "sub03", "n": 10, "acc": 0.8, "preds": [0, 1], "labels": [0, 1]},
     "the figures of one LOSO fold (sub03)"),
    ("metrics.json", {"acc": 0.8, "uf1": 0.7, "uar": 0.7, "folds": [], "classes": CLASSES},
     "a LOSO run's metrics.json (mpt-train --protocol full --metrics {path} stores them in its model)"),
    ("config.json", {"dataset": "casme2", "backbone": "test_vit", "epochs": 1, "lr": 3e-4}, "a LOSO run's config.json"),
])
def test_a_loso_runs_json_file_is_named_as_what_it_is(tmp_path: Path, name: str, content, what: str) -> None:
    """A LOSO run's files given as the checkpoint (the last fold's file of a stopped run, its metrics.json) were 'not a
    PyTorch checkpoint (neither torch.save's zip archive nor a pickle)'; they are now named, with where a model comes
    from."""
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content))
    res = runner.invoke(app, [str(path)])
    assert res.exit_code == 2, res.output
    assert [ln for ln in res.output.splitlines() if ln.strip()] == [
        (f"error: {path}: {what.format(path=path)}, not an mpt-train checkpoint: a LOSO run keeps no model; train "
         "one with --protocol full")], res.output


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_a_stopped_export_leaves_no_unchecked_model(exported, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    precision: str) -> None:
    """The fp32 graph (and int8's quantized file) was written at --out before its parity check: an export stopped
    there left an unchecked model where a checked one is expected, over the one that was there. Files are now made
    aside and moved into place once checked."""
    import shutil

    from export import pipeline

    ckpt, onnx_path, _ = exported
    monkeypatch.setattr(pipeline, "export_onnx", lambda model, out, *a, **k: shutil.copyfile(onnx_path, out))
    monkeypatch.setattr(pipeline, "quantize_int8_weights", lambda src, out, meta: shutil.copyfile(src, out))
    checks = []

    def stop_at_the_last_check(path, *a, **k):
        checks.append(path)
        if len(checks) == (1 if precision == "fp32" else 2):
            raise KeyboardInterrupt
        return pipeline.Parity("fp32", 2, 0.0, 1.0)

    monkeypatch.setattr(pipeline, "check_onnx", stop_at_the_last_check)
    out = tmp_path / "model.onnx"
    out.write_bytes(b"an earlier model")
    with pytest.raises(KeyboardInterrupt):
        pipeline.export_checkpoint(ckpt, out, precision=precision, parity_n=2, int8_weights_only=True)
    assert out.read_bytes() == b"an earlier model" and sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def _saved_graph(onnx_path: Path):
    """export_onnx without torch's exporter (the slow step): the fixture's graph, written by the real save_model."""
    from export.onnx_export import save_model

    return lambda model, out, spec, metadata, **k: save_model(onnx.load(str(onnx_path)), out, metadata)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_the_model_is_written_once_and_published_as_it_was_checked(exported, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    precision: str) -> None:
    """To add its parity record, the checked file was read and written again whole: for ViT-B/16 a second write of
    340 MB, and the published bytes were not the checked ones. The record is now appended to the checked file."""
    from export import pipeline

    ckpt, onnx_path, _ = exported
    monkeypatch.setattr(pipeline, "export_onnx", _saved_graph(onnx_path))
    written: list[tuple[str, bytes]] = []   # every ONNX file written whole, and its bytes
    save = onnx.save_model

    def counted(proto, f, *a, **k):
        save(proto, f, *a, **k)
        written.append((Path(f).name, Path(f).read_bytes()))

    monkeypatch.setattr(onnx, "save_model", counted)
    checked: list[bytes] = []
    check = pipeline.check_onnx
    monkeypatch.setattr(pipeline, "check_onnx", lambda path, *a, **k: checked.append(Path(path).read_bytes())
                        or check(path, *a, **k))
    out = tmp_path / "model.onnx"
    assert pipeline.export_checkpoint(ckpt, out, precision=precision, parity_n=2, int8_weights_only=True).ok
    assert [name for name, _ in written] == (["model.onnx"] if precision == "fp32" else ["fp32.onnx", "model.onnx"])
    model = written[-1][1]
    assert checked[-1] == model                     # the file checked is the one published
    published = out.read_bytes()
    assert published.startswith(model) and len(published) - len(model) < 1024   # plus its record, appended
    keys = [p.key for p in onnx.load(str(out)).metadata_props]
    assert keys.count("mpt.parity") == 1
    record = json.loads(read_metadata(out)["mpt.parity"])
    assert [c["precision"] for c in record["checks"]] == ["fp32"] + ["int8"] * (precision == "int8")
    assert MPTRuntime(out).parity.startswith(f"parity passed ({precision} vs torch on 2 clips")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_a_rejected_export_leaves_the_earlier_model_and_says_so(exported, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed export keeps its file as NAME.rejected.onnx and leaves NAME.onnx as it was; the last line said only
    'REJECTED, kept for inspection as ...', so NAME.onnx, still there, read as the new model."""
    from export import pipeline

    ckpt, onnx_path, _ = exported
    monkeypatch.setattr(pipeline, "export_onnx", _saved_graph(onnx_path))
    monkeypatch.setattr(parity_mod, "FP32_MAX_DPROB", -1.0)
    out = tmp_path / "model.onnx"
    out.write_bytes(b"an earlier model")
    lines: list[str] = []
    assert not pipeline.export_checkpoint(ckpt, out, parity_n=2, log=lines.append).ok
    assert out.read_bytes() == b"an earlier model"
    assert lines[-1].startswith(f"REJECTED, kept for inspection as {tmp_path / 'model.rejected.onnx'} (")
    assert lines[-1].endswith(f"; {out} is the model that was there before, left as it was")
    (tmp_path / "model.rejected.onnx").unlink()
    out.unlink()                                    # nothing there before: nothing said of it
    pipeline.export_checkpoint(ckpt, out, parity_n=2, log=lines.append)
    assert "before" not in lines[-1] and not out.exists()


def test_the_folder_a_killed_export_left_is_named_and_kept(exported, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """An export killed outright (SIGKILL, out of memory) cannot remove the folder it makes its files in beside
    --out (for ViT-B/16 hundreds of MB, GBs with --int8), and nothing said it was there. The next export there names
    it with its size; it does not remove it, as another export may be running in it."""
    from export import pipeline

    ckpt, onnx_path, _ = exported
    monkeypatch.setattr(pipeline, "export_onnx", _saved_graph(onnx_path))
    left = tmp_path / "mpt-export-k1ll3d"
    left.mkdir()
    (left / "fp32.onnx").write_bytes(b"\0" * 3 * 2**20)
    lines: list[str] = []
    pipeline.export_checkpoint(ckpt, tmp_path / "model.onnx", parity_n=2, log=lines.append)
    assert lines.count(f"note: mpt-export-k1ll3d in {tmp_path} (3 MB): left by an export that was killed, or another "
                       "one's that is running now; remove them once no export runs there") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "mpt-export-k1ll3d"]
    lines.clear()
    pipeline.export_checkpoint(ckpt, tmp_path / "other" / "model.onnx", parity_n=2, log=lines.append)
    assert not [line for line in lines if line.startswith("note:")]


def test_sigterm_stops_the_cli_with_its_status_and_a_line(tmp_path: Path) -> None:
    """mpt-export had no handler for SIGTERM: it died at once (-15, no word); it now stops as Ctrl-C, exit 143."""
    import subprocess
    import sys

    (tmp_path / "model.pt").write_bytes(b"")
    code = ("import signal, export.pipeline as p\n"
            "def stop(*a, **k): signal.raise_signal(signal.SIGTERM)\n"
            "p.export_checkpoint = stop\n"
            "from export.cli import main\n"
            "main()\n")
    res = subprocess.run([sys.executable, "-c", code, str(tmp_path / "model.pt"), "--fp32"], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 143 and "mpt-export: interrupted (SIGTERM); nothing written" in res.stderr, res.stderr


def test_the_ir_version_logged_is_read_from_the_files_first_bytes(exported, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """To log the fp32 graph's IR version, the export parsed the whole file (onnx.load: for ViT-B/16 its 340 MB of
    weights, inline) and held that second copy of the model through its parity checks. The version is now read from
    the file's first bytes (ModelProto field 1)."""
    from export import pipeline
    from export.onnx_export import ir_version

    ckpt, onnx_path, _ = exported
    monkeypatch.setattr(pipeline, "export_onnx", _saved_graph(onnx_path))
    parsed: list[str] = []
    load = onnx.load
    monkeypatch.setattr(onnx, "load", lambda f, *a, **k: parsed.append(str(f)) or load(f, *a, **k))
    lines: list[str] = []
    out = tmp_path / "model.onnx"
    assert pipeline.export_checkpoint(ckpt, out, parity_n=2, log=lines.append).ok
    assert parsed == [str(onnx_path)]               # the fixture's graph, read by the faked exporter: no other
    ir = load(str(out), load_external_data=False).ir_version
    assert [line for line in lines if line.startswith("exported fp32 graph in ")][0].endswith(
        f"(opset 20, IR {ir}, batch dynamic)") and ir_version(out) == ir
    for version in (7, 300, 2**40):                 # a 1-, 2- and 6-byte varint
        proto = onnx.ModelProto(ir_version=version, producer_name="x" * 200)
        (tmp_path / "v.onnx").write_bytes(proto.SerializeToString())
        assert ir_version(tmp_path / "v.onnx") == version
    (tmp_path / "v.onnx").write_bytes(onnx.ModelProto(producer_name="x").SerializeToString())
    assert ir_version(tmp_path / "v.onnx") == 0


def test_a_passing_export_removes_the_earlier_rejected_model_of_its_name(exported, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed export's NAME.rejected.onnx stayed beside the NAME.onnx of a later export that passed, where it read
    as that model's failure. A passing export now removes it (and its .data file) and says so; another name's is
    left, as is the fp16 file that an automatic precision's fallback rejects in the same run."""
    from export import pipeline

    ckpt, onnx_path, _ = exported
    monkeypatch.setattr(pipeline, "export_onnx", _saved_graph(onnx_path))
    for name in ("model.rejected.onnx", "model.rejected.onnx.data", "other.rejected.onnx"):
        (tmp_path / name).write_bytes(b"an earlier export's")
    lines: list[str] = []
    out = tmp_path / "model.onnx"
    assert pipeline.export_checkpoint(ckpt, out, parity_n=2, log=lines.append).ok
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "other.rejected.onnx"]
    assert lines.count(f"removed {tmp_path / 'model.rejected.onnx'}: an earlier export of this name that failed its "
                       "parity check, replaced by this one") == 1 and lines[-1].startswith(f"wrote {out} (")
    lines.clear()                                   # nothing to remove: nothing said
    assert pipeline.export_checkpoint(ckpt, out, parity_n=2, log=lines.append).ok
    assert not [line for line in lines if line.startswith("removed")]

    # --out x.onnx on a GPU machine (faked) whose fp16 fails: fp16 is kept as x.rejected.onnx, fp32 written as x.onnx
    monkeypatch.setattr(pipeline, "gpu_default_precision", lambda: ("fp16", "the GPU default (faked)"))
    check = pipeline.check_onnx
    monkeypatch.setattr(pipeline, "check_onnx", lambda path, *a, **k: (
        lambda p: dataclasses.replace(p, top1_agreement=0.5, decided_agreement=0.5) if p.precision == "fp16" else p)(
        check(path, *a, **k)))
    x = tmp_path / "gpu" / "x.onnx"
    result = pipeline.export_checkpoint(ckpt, x, precision="auto", parity_n=2, log=lines.append)
    assert result.ok and result.path == x and read_metadata(x)["mpt.precision"] == "fp32"
    assert read_metadata(tmp_path / "gpu" / "x.rejected.onnx")["mpt.precision"] == "fp16"
    assert not [line for line in lines if line.startswith("removed")]


@pytest.mark.slow
def test_static_int8_of_a_model_with_external_data_writes_each_step_so(exported, model_and_clips, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Static int8 of a model over 2 GB failed: ONNX Runtime's quantizer, given no external-data option, writes the
    model augmented for calibration and the quantized model each as one file, over protobuf's limit. It is now told
    to write them with external data where the input has it. The limit is faked here (LIMIT bytes, not 2 GB): any
    model written as one file over it fails as a real one over 2 GB does; the output must load and match the int8
    of the same model made from one file."""
    from onnx.serialization import _ProtobufSerializer

    from export import onnx_export
    from export.onnx_export import save_model

    _, onnx_path, _ = exported
    _, d, m, _ = model_and_clips
    meta, calib = read_metadata(onnx_path), synthetic_clips(SPEC, 4, seed=7)
    one_file = MPTRuntime(quantize_int8(onnx_path, tmp_path / "one" / "m.int8.onnx", meta, calib), device="cpu")
    LIMIT = 4 * 2**20                               # over the graph without its weights (~1 MB), under the model
    serialize = _ProtobufSerializer.serialize_proto

    def limited(self, proto):
        if isinstance(proto, onnx.ModelProto) and proto.ByteSize() > LIMIT:
            raise ValueError(f"Message onnx.ModelProto exceeds maximum protobuf size of {LIMIT} bytes (faked)")
        return serialize(self, proto)

    monkeypatch.setattr(_ProtobufSerializer, "serialize_proto", limited)
    monkeypatch.setattr(onnx_export, "PROTOBUF_LIMIT", LIMIT + 64 * 2**20)   # save_model's margin: 64 MB
    src = save_model(onnx.load(str(onnx_path)), tmp_path / "big" / "fp32.onnx", meta)
    assert (tmp_path / "big" / "fp32.onnx.data").is_file()
    assert onnx.load(str(src), load_external_data=False).ByteSize() < LIMIT < onnx.load(str(src)).ByteSize()
    out = quantize_int8(src, tmp_path / "out" / "m.int8.onnx", meta, calib)
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.int8.onnx", "m.int8.onnx.data"]
    rt = MPTRuntime(out, device="cpu")
    assert rt.precision == "int8" and json.loads(read_metadata(out)["mpt.int8"])["int8_matmuls"] == 10 * CFG_DEPTH
    assert np.abs(rt.predict(d, m) - one_file.predict(d, m)).max() <= 1e-6


@pytest.mark.parametrize("flags, failing, hint", [
    (["--int8"], "int8", "static int8 moves this model too far: try --int8-weights (weight-only int8) or --fp32"),
    (["--int8-weights"], "int8", "; try --fp32"),
    (["--fp16"], "fp16", "; try --fp32"),
    (["--int8"], "fp32", None),  # the fp32 graph itself is wrong: no other precision helps
], ids=["static-int8", "int8-weights", "fp16", "fp32-failed"])
def test_a_failed_parity_check_names_the_precision_to_try(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          flags, failing, hint) -> None:
    """A new user's static int8 of a tiny model failed its check and the line ended with the figures: rerunning the
    command fails the same way, and the README's way out (--int8-weights, or --fp32) was not said where it was needed.
    The export itself is faked (the real one takes minutes); the line and the exit status are the command's."""
    from export import pipeline
    from export.parity import Parity

    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"x")
    precision = "fp16" if "--fp16" in flags else "int8"
    checks = [Parity("fp32", 100, 1e-6 if failing != "fp32" else 1.0, 1.0)]
    if failing != "fp32":
        checks.append(Parity(precision, 100, 0.07, 0.96, decided_agreement=0.96))
    monkeypatch.setattr(pipeline, "export_checkpoint", lambda *a, **k: pipeline.ExportResult(
        path=tmp_path / "model.rejected.onnx", precision=precision, parity=checks))
    res = runner.invoke(app, [str(ckpt), *flags])
    assert res.exit_code == 1, res.output
    line = " ".join(res.output.split())
    assert "parity check failed:" in line and f"{failing} parity vs torch on 100 clips" in line, line
    if hint is None:
        assert "try --" not in line, line
    else:
        assert line.endswith(hint), line


def test_the_clis_copies_of_the_export_defaults_are_the_modules() -> None:
    """export/cli.py repeats the default opset, the number of calibration clips and the calibration methods of the
    modules that use them, so that --help imports no torch: a change on one side only would make --help (and the
    opset check's 'the default is the one tested' line) say another default than the export uses."""
    from export import calibration, cli, onnx_export, quantize

    assert cli.DEFAULT_OPSET == onnx_export.DEFAULT_OPSET
    assert cli.DEFAULT_CALIB_CLIPS == calibration.DEFAULT_CALIB_CLIPS
    assert [c.value for c in cli.Calibration] == list(quantize.CALIBRATION_METHODS)


def test_a_parity_line_of_one_clip_or_one_tie_says_it_in_the_singular():
    """'int8 parity vs torch on 1 clips' and '(1 ties: torch top-1 margin ...)' (mpt-export --parity-clips 1, a
    quantized model with one undecided clip)."""
    from export.parity import Parity

    assert "int8 parity vs torch on 1 clip: max|dprob|" in Parity("int8", 1, 0.01, 1.0).line()
    one_tie = Parity("int8", 8, 0.01, 1.0, decided_agreement=1.0, ties=1).line()
    assert "on 8 clips:" in one_tie and "on the 7 decided (1 tie: torch top-1 margin <" in one_tie, one_tie
    assert "(2 ties: torch" in Parity("int8", 8, 0.01, 1.0, decided_agreement=1.0, ties=2).line()
