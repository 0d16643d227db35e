"""Checkpoint -> one self-describing fp32 ONNX file (int8 / fp16 are derived from it: :mod:`export.quantize`).

The exported graph takes ``dynamic`` (B,3,S,S) and ``motion`` (B,T,3,S,S) float32 and returns
``probs`` (B,C), the softmax of the MPT logits. Everything the runtime needs to use the file
(class names, the ClipSpec of the data path, backbone, precision, provenance) travels in the
model's ``metadata_props`` under ``mpt.*`` keys (docs/CONTRACTS.md), so ``mpt-live`` never needs
the checkpoint.

Compatibility choices:

* torch's dynamo exporter (``torch.onnx.export(..., dynamo=True)``), opset 20 by default (its
  ``Gelu`` op runs as one kernel; opset 18's erf form stays five elementwise ops in ONNX Runtime,
  ~7 % of the int8 ViT-B time). It
  specialises a dimension whose example size is 1, so a dynamic batch is exported from a batch-2
  example with ``dynamic_shapes``; :mod:`export.parity` then runs the file with B=1 and B=3.
* ``ir_version`` is capped at :data:`MAX_IR_VERSION`, the newest the bundled ONNX Runtime reads.
* One self-contained file; tensors go to a single ``<name>.data`` file only when the model would
  not fit a 2 GB protobuf.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import onnx
import torch
from onnx.external_data_helper import _get_all_tensors
from torch import Tensor, nn

import mpt_live
from mpt_live.clip import ClipSpec
from mpt_live.errors import InputError, first_line
from mpt_live.model_trust import PARITY_KEY
from mpt_live.runtime import check_class_names
from mpt_live.writers import json_default
from train._timm import import_timm
from train.torch_files import damaged_torch_file, unreadable_torch_file

PRECISIONS = ("fp32", "fp16", "int8")
DEFAULT_OPSET = 20             # 20: GELU exports as one Gelu op (ORT fuses none of the opset-18 erf forms)
MAX_IR_VERSION = 13            # newest IR that onnxruntime 1.31 loads
PROTOBUF_LIMIT = 2**31 - 1     # bytes; beyond it weights must live in an external data file
CHECKPOINT_KEYS = ("state_dict", "model_config", "classes", "clip_spec")

Batch = int | Literal["dynamic"]


# ----------------------------------------------------------------------------- checkpoint


def _is_onnx(path: Path) -> bool:
    """Whether ``path`` parses as an ONNX model with a graph."""
    try:
        return len(onnx.load(str(path), load_external_data=False).graph.node) > 0
    except Exception:  # noqa: BLE001 - anything unreadable is not one
        return False


def _loso_json(path: Path) -> str:
    """What a LOSO run's JSON file is ('' for any other file): a fold's figures, the run's metrics or config."""
    try:
        with path.open("rb") as fh:
            if path.stat().st_size > 64 * 2**20 or fh.read(1) != b"{":
                return ""
        d = json.loads(path.read_text())
    except (OSError, ValueError):
        return ""
    if not isinstance(d, dict):
        return ""
    if {"fold", "subject", "preds"} <= set(d):
        return f"the figures of one LOSO fold ({d['subject']})"
    if {"uf1", "folds"} <= set(d):
        return f"a LOSO run's metrics.json (mpt-train --protocol full --metrics {path} stores them in its model)"
    return "a LOSO run's config.json" if {"dataset", "backbone", "epochs"} <= set(d) else ""


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read an ``mpt-train`` checkpoint; :class:`InputError` if it is missing or not one.

    Tries torch's safe ``weights_only`` loader first; a checkpoint holding other Python objects
    (e.g. numpy scalars in ``metrics``) is a file you trained yourself, so it is then loaded fully.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such checkpoint file")
    try:
        try:
            ckpt = torch.load(p, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            import_timm()  # a pickled model object imports timm: through the torchvision clash's work-around
            ckpt = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as e:  # torch raises many types for a file that is not a checkpoint
        if _is_onnx(p):
            raise InputError(f"{p}: an ONNX model (mpt-export's output), not an mpt-train checkpoint; "
                             f"run it with mpt-live --model {p}") from None
        run_file = _loso_json(p)
        if run_file:
            raise InputError(f"{p}: {run_file}, not an mpt-train checkpoint: a LOSO run keeps no model; train one "
                             "with --protocol full") from None
        raise InputError(damaged_torch_file(p, e)  # begins as torch.save's archive: cut short or damaged
                         or f"{p}: not a PyTorch checkpoint ({unreadable_torch_file(p, e)})") from None
    if isinstance(ckpt, nn.Module):
        raise InputError(f"{p}: a whole {type(ckpt).__name__} model object (torch.save(model)), not an mpt-train "
                         "checkpoint: it has no class names or ClipSpec to export with")
    if not isinstance(ckpt, dict):
        raise InputError(f"{p}: not an mpt-train checkpoint (a {type(ckpt).__name__}, expected a dict)")
    missing = [k for k in CHECKPOINT_KEYS if k not in ckpt]
    if missing:
        raise InputError(f"{p}: not an mpt-train checkpoint (missing {', '.join(missing)})")
    try:
        ClipSpec.from_dict(dict(ckpt["clip_spec"]))
    except (TypeError, ValueError) as e:
        raise InputError(f"{p}: bad clip_spec in checkpoint ({first_line(e)})") from None
    check_class_names(ckpt["classes"], p, "'classes' in checkpoint")  # before the export: as mpt-live checks them
    return ckpt


def build_model(ckpt: dict[str, Any], path: str | Path = "checkpoint") -> nn.Module:
    """The MPT model of a checkpoint with its weights, in eval mode, on the CPU."""
    from train.model import MPT, MPTConfig

    config = ckpt["model_config"]
    try:
        cfg = MPTConfig.from_dict(config)
    except TypeError as e:
        unknown = sorted(map(str, set(config) - {f.name for f in dataclasses.fields(MPTConfig)})) \
            if isinstance(config, dict) else []
        if unknown:  # fields a later mpt-live added: this one cannot build that model
            wrote = str(ckpt.get("version") or "")
            wrote = f"mpt-live {wrote}" if wrote and wrote != mpt_live.__version__ else "a newer mpt-live"
            raise InputError(f"{path}: a model from {wrote}, newer than this mpt-live {mpt_live.__version__} (its "
                             f"model_config has {', '.join(unknown)}, unknown here): upgrade mpt-live to export it"
                             ) from None
        raise InputError(f"{path}: bad model_config in checkpoint ({e})") from None
    spec = ClipSpec.from_dict(dict(ckpt["clip_spec"]))
    if (cfg.frames, cfg.image_size) != (spec.frames, spec.image_size):
        raise InputError(
            f"{path}: model_config (frames={cfg.frames}, image_size={cfg.image_size}) disagrees with "
            f"clip_spec (frames={spec.frames}, image_size={spec.image_size})"
        )
    if cfg.num_classes != len(ckpt["classes"]):
        raise InputError(f"{path}: model has {cfg.num_classes} outputs but {len(ckpt['classes'])} class names")
    model = MPT(cfg, pretrained=False)
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        raise InputError(f"{path}: state_dict does not fit its model_config ({first_line(e)})") from None
    return model.eval()


def onnx_metadata(ckpt: dict[str, Any], precision: str = "fp32", demo: bool = False) -> dict[str, str]:
    """The ``mpt.*`` metadata_props of a checkpoint's export (all values are strings)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    metrics = ckpt.get("metrics")
    train_config = ckpt.get("train_config") or {}
    weights = (train_config.get("model") or {}).get("backbone_source") or train_config.get("backbone_init") or ""
    return {
        "mpt.classes": json.dumps(list(ckpt["classes"])),
        "mpt.clip_spec": ClipSpec.from_dict(dict(ckpt["clip_spec"])).to_json(),
        "mpt.backbone": str(ckpt["model_config"].get("backbone", "")),
        "mpt.backbone_weights": str(weights),
        "mpt.clip_mode": str(ckpt.get("clip_mode") or ""),
        "mpt.dataset": str(ckpt.get("dataset") or ""),
        "mpt.data_kind": str(ckpt.get("data_kind") or ""),  # 'semi-synthetic (mpt-synth)'; absent in older files
        "mpt.protocol": str(ckpt.get("protocol") or ""),
        "mpt.metrics": json.dumps(metrics, sort_keys=True, default=json_default) if metrics else "",
        "mpt.version": mpt_live.__version__,
        "mpt.export_date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "mpt.precision": precision,
        "mpt.demo": "1" if (demo or ckpt.get("demo")) else "0",
    }


# ----------------------------------------------------------------------------- torch -> onnx


class ProbsModel(nn.Module):
    """Wraps a logits model so the graph returns ``probs`` = softmax over classes (in fp32)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, dynamic: Tensor, motion: Tensor) -> Tensor:
        return torch.softmax(self.model(dynamic, motion).float(), dim=-1)


def export_onnx(
    model: nn.Module,
    out: str | Path,
    spec: ClipSpec,
    metadata: dict[str, str],
    opset: int = DEFAULT_OPSET,
    batch: Batch = "dynamic",
) -> Path:
    """Export a logits model ``forward(dynamic, motion)`` to ``out`` as an fp32 ``probs`` graph.

    ``batch``: ``"dynamic"`` (any B) or a fixed batch size. Returns the written path.
    """
    if batch != "dynamic" and (not isinstance(batch, int) or batch < 1):
        raise ValueError(f"batch must be 'dynamic' or a positive int, got {batch!r}")
    wrapped = ProbsModel(model).eval()
    n = 2 if batch == "dynamic" else int(batch)
    g = torch.Generator().manual_seed(0)
    S, T = spec.image_size, spec.frames
    example = (torch.randn(n, 3, S, S, generator=g), torch.randn(n, T, 3, S, S, generator=g))
    kwargs: dict[str, Any] = {}
    if batch == "dynamic":
        b = torch.export.Dim("batch", min=1, max=4096)
        kwargs["dynamic_shapes"] = {"dynamic": {0: b}, "motion": {0: b}}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            wrapped, example, dynamo=True, opset_version=opset, verbose=False,
            input_names=["dynamic", "motion"], output_names=["probs"], **kwargs,
        )
    proto = program.model_proto
    graph_inputs = [i.name for i in proto.graph.input]
    if graph_inputs != ["dynamic", "motion"]:
        raise RuntimeError(f"exported graph has inputs {graph_inputs}, expected ['dynamic', 'motion']")
    return save_model(proto, out, metadata)


def save_model(proto: onnx.ModelProto, out: str | Path, metadata: dict[str, str]) -> Path:
    """Stamp metadata and a supported IR version on ``proto``, check it and write one file.

    An ``mpt.parity`` in ``metadata`` (the source file's, read with :func:`read_metadata`) is left out: it judged
    another graph; this one's is added by :func:`append_metadata` once it is checked."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    set_metadata(proto, {k: v for k, v in metadata.items() if k != PARITY_KEY})
    proto.ir_version = min(proto.ir_version, MAX_IR_VERSION)
    proto.producer_name, proto.producer_version = "mpt-export", mpt_live.__version__
    proto.doc_string = (
        f"MPT micro-expression recognizer ({metadata.get('mpt.backbone', '?')}, "
        f"{metadata.get('mpt.precision', '?')}): dynamic (B,3,S,S) + motion (B,T,3,S,S) -> probs (B,C)"
    )
    data = out.with_name(out.name + ".data")
    data.unlink(missing_ok=True)          # a stale data file from an earlier, bigger export
    large = _tensor_bytes(proto) > PROTOBUF_LIMIT - 64 * 2**20
    if large:
        onnx.save_model(proto, out, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data.name, size_threshold=1024)
    else:
        onnx.save_model(proto, out)
    onnx.checker.check_model(str(out))
    return out


def set_metadata(proto: onnx.ModelProto, metadata: dict[str, str]) -> None:
    """Replace the ``mpt.*`` entries of ``proto.metadata_props`` with ``metadata``."""
    keep = [(p.key, p.value) for p in proto.metadata_props if not p.key.startswith("mpt.")]
    del proto.metadata_props[:]
    for k, v in keep + sorted(metadata.items()):
        proto.metadata_props.add(key=k, value=str(v))


def append_metadata(path: str | Path, metadata: dict[str, str]) -> None:
    """Add ``metadata`` entries to the file at ``path``, which must not have those keys yet (:func:`save_model`'s
    output: the onnx checker refuses a key twice), without rewriting it: they are appended as a
    serialised ``ModelProto`` holding only them. Protocol buffers parse concatenated messages as one, the repeated
    ``metadata_props`` of both together, so ONNX and ONNX Runtime read the file as the one written with them;
    the graph and its weights stay the bytes that were written and checked (a few hundred bytes are written, not
    the model again)."""
    extra = onnx.ModelProto()
    for k, v in sorted(metadata.items()):
        extra.metadata_props.add(key=k, value=str(v))
    with open(path, "ab") as fh:
        fh.write(extra.SerializeToString())


def restamp(path: str | Path, metadata: dict[str, str], data_name: str | None = None) -> None:
    """Add ``metadata`` to a model over 2 GB at ``path`` and rename its graph's references to its external data file
    ``data_name`` (the caller moves the file). Only the graph is written again (its tensors are in that file, left
    as it is); a self-contained model would be written whole: :func:`append_metadata` adds metadata to one."""
    proto = onnx.load(str(path), load_external_data=False)
    set_metadata(proto, {**{p.key: p.value for p in proto.metadata_props if p.key.startswith("mpt.")}, **metadata})
    if data_name:
        for tensor in _get_all_tensors(proto):
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value = data_name
    onnx.save_model(proto, str(path))


def read_metadata(path: str | Path) -> dict[str, str]:
    """The metadata_props of an ONNX file (weights not loaded)."""
    proto = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in proto.metadata_props}


def ir_version(path: str | Path) -> int:
    """The IR version of the ONNX file at ``path``, read from its first bytes, not the whole file: the ModelProto's
    field 1, which protobuf's serializer (:func:`onnx.save_model`'s) writes first, a varint (the byte 0x08, then at
    most 10 bytes). 0 where the file does not begin with it (protobuf's value of a field left out)."""
    with open(path, "rb") as fh:
        head = fh.read(11)
    if not head.startswith(b"\x08"):
        return 0
    end = next((i + 1 for i, b in enumerate(head[1:], 1) if b < 0x80), len(head))   # the varint's last byte
    return onnx.ModelProto.FromString(head[:end]).ir_version


# ----------------------------------------------------------------------------- helpers


def _tensor_bytes(proto: onnx.ModelProto) -> int:
    """Approximate serialized size of the model's initializers and constants."""
    total = sum(len(t.raw_data) or t.ByteSize() for t in proto.graph.initializer)
    for node in proto.graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                total += a.t.ByteSize()
    return total


def default_out(checkpoint: str | Path, precision: str) -> Path:
    """``model.onnx`` (fp32) or ``model.int8.onnx`` / ``model.fp16.onnx`` next to the checkpoint."""
    suffix = "" if precision == "fp32" else f".{precision}"
    return Path(checkpoint).with_name(f"model{suffix}.onnx")


def file_size_mb(path: str | Path) -> float:
    """Size of an ONNX file plus its external data file, if any, in MB."""
    p = Path(path)
    data = p.with_name(p.name + ".data")
    return (p.stat().st_size + (data.stat().st_size if data.exists() else 0)) / 2**20


__all__ = [
    "DEFAULT_OPSET", "MAX_IR_VERSION", "PRECISIONS", "ProbsModel", "append_metadata", "build_model", "default_out",
    "export_onnx", "file_size_mb", "ir_version", "load_checkpoint", "onnx_metadata", "read_metadata", "restamp",
    "save_model", "set_metadata",
]
