"""int8 and fp16 versions of an fp32 export (:mod:`export.onnx_export`), with the same ``mpt.*`` metadata.

int8 is static (calibrated) QDQ quantization with ONNX Runtime's ``quantize_static``: activation
ranges are fixed once from calibration clips (the training clip cache, or ``--calib-clips``), so
the int8 model gives the same answer for a clip whatever else is in its batch, unlike dynamic
quantization, whose scales follow each batch.

What is int8 and what stays fp32 was chosen by measurement (a ViT-Ti/16 MPT trained one epoch on
a semi-synthetic set, 120 held-out clips, static MinMax calibration on 60 training-cache clips;
top-1 agreement with fp32 and max |dprob| when one node group alone is int8, the rest fp32):

* int8 (uint8 activations, int8 per-output-channel weights): the frozen backbone's Linear layers,
  ``attn.qkv``, ``attn.proj``, ``mlp.fc1``, ``mlp.fc2`` of every block: ~93 % of the MACs of a
  ViT-B/16 MPT. Alone, each group costs 0-4 % of top-1 (max |dprob| 2e-3 to 7e-3).
* fp32, because int8 breaks them: the activation-by-activation attention products ``q @ k`` and
  ``attn @ v``. Static QDQ quantizes them too unless they are excluded (``MatMulConstBOnly`` is
  a dynamic-mode option), and then top-1 agreement falls from 93 % to 46 % (max |dprob| 0.19).
* int8 for the file's size: the adapters' down/up projections (1.3 M parameters for ViT-S/14).
* the motion prompts' projection (with energy prompts on a 14x14 grid it is the largest single
  weight, 9408 x D: 3.6 M parameters for ViT-S/14, 14 MB in fp32): int8 in the weight-only scheme,
  **fp32 in static int8**. Its input is the clip's motion features, not a normalised activation:
  with the signed displacement scaled by the median face cell (``--flow-norm median``, the default
  since 2026-12-04) a moving cell is many times the still ones, and one fixed uint8 range for both
  rounds the still cells away. On the demo model trained with that default, static int8 of the
  whole plan moved a held-out probability by 0.096 (minmax; entropy 0.096, percentile 0.173),
  with the adapters also in fp32 by 0.068, with this projection in fp32 by 0.031, at the same
  latency (9.2 against 9.4 ms, B=1, 2 threads) and +4 MB. (With energy prompts alone, on ViT-Ti/16,
  it had been harmless in int8: max |dprob| < 1e-4.) The whole plan is checked by the parity gate.
* fp32, because they are cheap and gain nothing: the rest of the motion-prompt generator (conv,
  Gaussian mean/variance heads, the ``weights @ features`` product), the patch embedding (the
  first layer; alone 2.5e-3) and the head (the last; alone 3e-3).
* LayerNorm, Softmax and GELU are never quantized: only the inputs of the chosen MatMuls get
  Q/DQ nodes. Their outputs stay fp32 (``OpTypesToExcludeOutputQuantization``): ONNX Runtime then
  runs each as one ``MatMulIntegerToFloat``. With outputs quantized too, each became a
  ``QLinearMatMul`` that rounds its result to uint8 and a ``DequantizeLinear`` after it: one more
  rounding per layer and one more node (ViT-Ti/16 trained 2 epochs: max |dprob| 0.016 -> 0.011 on
  120 held-out clips; ``python bench/int8.py``).
* Both int8 schemes (CPU files) then have each block's attention core, still fp32, as one ``MultiHeadAttention``
  node (:mod:`export.attention`): the same products without ~25 nodes of reshaping each (``mpt.int8`` records
  ``fused_attention``; ``python bench/model_call.py``).

Activation ranges in an ImageNet ViT (ViT-Ti/16, ViT-B/16) are about 8 standard deviations wide with
no outlier channels, so clipping or smoothing gains little: what remains is the rounding noise of ~50
int8 layers. It flips only clips whose top-1 margin is small (a barely trained model's); weights
alone in int8 (activations exact) kept 100 % of top-1 on the same clips, activations alone 97 %.

DINOv2 (the default backbone) is different: a few channels carry activations far larger than the
rest, and they vary with the person. Calibration ranges must keep them (``minmax``, the default):
ranges that clip the extreme 0.001 % (``percentile``) fit the training people and saturate on
others. On a trained ViT-S/14 MPT (the demo model's recipe) and 120 clips of four people it never
saw, static int8 agreed on 95 % of top-1 with percentile ranges (max |dprob| 0.21; the MLP's second
layer alone: 0.18) and on 100 % with minmax (max |dprob| 0.050), at 0.58-0.59x the fp32 latency; the same
models on the calibration people looked fine either way (max |dprob| <= 0.04). For ViT-Ti/16 and
ViT-B/16 the method made no difference (``python bench/int8.py --calibration percentile,minmax,entropy``).
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
from onnx.external_data_helper import uses_external_data

from mpt_live.quiet import quiet_logging

from .attention import fuse_checked
from .onnx_export import save_model

CALIBRATION_METHODS = ("minmax", "percentile", "entropy")


class QuantizeError(ValueError):
    """Quantization did not produce what was asked (nothing quantized); the message says what."""

DEFAULT_CALIBRATION = "minmax"
INT8_MODULE = re.compile(r"backbone\.blocks\.\d+\.(attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)$"
                         r"|^prompt\.proj$|^adapters\.\d+(\.\w+)?\.(down|up)$")
STATIC_FP32 = re.compile(r"^prompt\.proj$")  # int8 weight-only, fp32 in static int8 (module docstring)
FP32_GROUPS = (   # (name, module pattern) of the MatMul/Gemm/Conv nodes kept in fp32, for the record
    ("attention q@k, attn@v", re.compile(r"backbone\.blocks\.\d+\.attn$")),
    ("patch embedding", re.compile(r"backbone\.patch_embed")),
    ("motion prompts", re.compile(r"^prompt\b")),
    ("adapters", re.compile(r"adapters\.")),
    ("head", re.compile(r"head$")),
)


def node_module(node: onnx.NodeProto) -> str:
    """The torch module a node of a dynamo export comes from (``model.`` stripped), or ``""``."""
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            try:
                scopes = ast.literal_eval(prop.value)
            except (ValueError, SyntaxError):
                return ""
            return scopes[-2].removeprefix("model.") if len(scopes) >= 2 else ""
    return ""


def int8_plan(proto: onnx.ModelProto, static: bool = True) -> tuple[list[str], dict[str, int]]:
    """Names of the MatMul nodes to quantize, and how many MatMul/Gemm/Conv nodes stay fp32 per group.

    Nodes are told apart by the torch module recorded in the export's node metadata. A graph
    without it (not from :func:`export.onnx_export.export_onnx`) gets every MatMul with a
    constant weight quantized. ``static``: the plan of static int8, which keeps :data:`STATIC_FP32`
    (the motion prompts' projection) in fp32; weight-only int8 quantizes it too.
    """
    inits = {t.name for t in proto.graph.initializer}
    quantize: list[str] = []
    kept: dict[str, int] = {}
    traced = any(node_module(n) for n in proto.graph.node)
    for node in proto.graph.node:
        if node.op_type not in ("MatMul", "Gemm", "Conv"):
            continue
        module = node_module(node)
        weighted = len(node.input) > 1 and node.input[1] in inits
        chosen = bool(INT8_MODULE.search(module)) and not (static and STATIC_FP32.search(module))
        if node.op_type == "MatMul" and weighted and (chosen if traced else True):
            quantize.append(node.name)
            continue
        group = next((g for g, pat in FP32_GROUPS if pat.search(module)), "other")
        kept[group] = kept.get(group, 0) + 1
    return quantize, kept


def quantize_int8(src: str | Path, dst: str | Path, metadata: dict[str, str],
                  calibration: tuple[np.ndarray, np.ndarray], method: str = DEFAULT_CALIBRATION,
                  source: str = "", *, quantize_outputs: bool = False) -> Path:
    """Static int8 QDQ quantization of an fp32 export, calibrated on ``calibration`` clips.

    ``calibration``: ``(dynamic (N,3,S,S), motion (N,T,3,S,S))`` float32; ``method``: one of
    :data:`CALIBRATION_METHODS` (ONNX Runtime's MinMax, Percentile 99.999 % or Entropy).
    uint8 activations and int8 per-channel weights (the VNNI-friendly pair on x86); the graph
    is shape-inferred and ORT-optimised first (``quant_pre_process``). The file's metadata gets
    ``mpt.precision = int8`` and ``mpt.int8``: the scheme, method, clips and fp32 node groups.
    ``quantize_outputs``: also round each MatMul's output to uint8 (the former scheme; bench/int8.py's
    baseline). A model whose tensors are in an external data file (one over 2 GB) has ONNX Runtime's copies of it
    written so too; the output is one file or a ``.data`` file beside it by its size (:func:`save_model`).
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if method not in CALIBRATION_METHODS:
        raise ValueError(f"calibration method must be one of {CALIBRATION_METHODS}, got {method!r}")
    dynamic, motion = calibration
    if len(dynamic) == 0 or len(dynamic) != len(motion):
        raise ValueError(f"calibration clips: got {len(dynamic)} dynamic images and {len(motion)} motion clips")
    dst = Path(dst)
    graph = onnx.load(str(src), load_external_data=False)
    # a model over 2 GB (its tensors in a .data file) must be written so by each step too: else the first copy
    # ONNX Runtime writes of it in one file (the model augmented for calibration, the quantized model) fails
    tensors = [*graph.graph.initializer, *(a.t for n in graph.graph.node for a in n.attribute
                                         if a.type == onnx.AttributeProto.TENSOR)]  # onnx's public API only
    external = any(uses_external_data(t) for t in tensors)
    nodes, kept = int8_plan(graph)
    if not nodes:
        raise QuantizeError("static int8: the graph has none of the planned layers' MatMul nodes to quantize")
    batch = _fixed_batch(graph)  # None: a dynamic batch
    # beside dst, with ONNX Runtime's own (the model pre-processed, shape-inferred, optimised, augmented for
    # calibration...: 7 copies, ~340 MB each for ViT-B/16), not in the system's temporary folder, often a small tmpfs
    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mpt-int8-", dir=dst.parent) as tmp, _temporary_files_in(tmp):
        pre = Path(tmp) / "pre.onnx"
        q = Path(tmp) / "q.onnx"
        with warnings.catch_warnings(), quiet_logging(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            try:
                # a fixed batch gives 2-D MatMuls, which ORT's optimisation fuses with their Add into Gemm
                # nodes of other names: the planned nodes would be gone and nothing quantized
                quant_pre_process(str(src), str(pre), skip_optimization=batch is not None,
                                  skip_symbolic_shape=False, save_as_external_data=external,
                                  all_tensors_to_one_file=True, external_data_location=pre.name + ".data")
            except Exception:  # symbolic shape inference is best effort: quantize the plain export
                pre = Path(src)
            quantize_static(
                pre, q, _ClipReader(dynamic, motion, batch or 1), quant_format=QuantFormat.QDQ,
                use_external_data_format=external,
                op_types_to_quantize=["MatMul"], nodes_to_quantize=nodes, per_channel=True,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                calibrate_method={"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
                                  "entropy": CalibrationMethod.Entropy}[method],
                # CalibMaxIntermediateOutputs bounds memory for the histogram methods; ORT's MinMax
                # calibrator drops (does not merge) each full chunk, so it gets no limit
                extra_options={"MatMulConstBOnly": True,
                               **({} if quantize_outputs else {"OpTypesToExcludeOutputQuantization": ["MatMul"]}),
                               **({} if method == "minmax" else {"CalibMaxIntermediateOutputs": 8})},
            )
        proto = onnx.load(str(q))
    if not any(n.op_type == "DequantizeLinear" for n in proto.graph.node):
        raise QuantizeError("static int8: ONNX Runtime's quantizer left every layer in fp32")
    fused, unfused = fuse_checked(proto, src, dst.parent)  # int8 runs on the CPU only: the fused kernel is cheaper
    record = {"scheme": "static QDQ, uint8 activations, int8 per-channel weights, "
              + ("uint8" if quantize_outputs else "fp32") + " MatMul outputs", "calibration": method,
              "calibration_clips": len(dynamic), "calibration_source": source, "int8_matmuls": len(nodes),
              "fp32": kept, "fused_attention": fused, **({"unfused_attention": unfused} if unfused else {})}
    return save_model(proto, dst, {**metadata, "mpt.precision": "int8", "mpt.int8": json.dumps(record)})


WEIGHT_BLOCK = 128  # weights per scale of the weight-only scheme


def quantize_int8_weights(src: str | Path, dst: str | Path, metadata: dict[str, str]) -> Path:
    """Weight-only int8 of an fp32 export: the MatMuls of :func:`quantize_int8` and the motion prompts'
    projection become ONNX Runtime's ``MatMulNBits`` (8 bits, symmetric, one scale per WEIGHT_BLOCK weights;
    ``accuracy_level`` 4: int8 products with activations quantized per block at run time, so no calibration
    and no fixed ranges).

    For backbones whose activations static ranges do not fit (DINOv2 ViT-S/14 kept 98 % of top-1 with
    static QDQ and 100 % with this on the demo model's held-out clips): about 4x smaller weights,
    about fp32 speed on the CPU.
    """
    from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer

    proto = onnx.load(str(src))
    nodes, kept = int8_plan(proto, static=False)
    if not nodes:
        raise QuantizeError("weight-only int8: the graph has none of the planned layers' MatMul nodes to quantize")
    config = DefaultWeightOnlyQuantConfig(block_size=WEIGHT_BLOCK, is_symmetric=True, bits=8, accuracy_level=4)
    with warnings.catch_warnings(), quiet_logging(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        quantizer = MatMulNBitsQuantizer(proto, nodes_to_include=nodes, algo_config=config)
        quantizer.process()
    proto = quantizer.model.model
    fused, unfused = fuse_checked(proto, src, Path(dst).parent)
    record = {"scheme": f"weight-only int8 (MatMulNBits, block {WEIGHT_BLOCK}, symmetric, accuracy level 4)",
              "calibration": None, "int8_matmuls": len(nodes), "fp32": kept, "fused_attention": fused,
              **({"unfused_attention": unfused} if unfused else {})}
    return save_model(proto, dst,
                      {**metadata, "mpt.precision": "int8", "mpt.int8": json.dumps(record)})


def convert_fp16(src: str | Path, dst: str | Path, metadata: dict[str, str]) -> Path:
    """fp16 weights and activations, fp32 inputs/outputs (``keep_io_types``): for GPUs.

    Uses ONNX Runtime's own converter (``onnxruntime.transformers.float16``), so no extra
    dependency; ONNX Runtime's CPU provider runs such a model too, slower than fp32.
    """
    from onnxruntime.transformers.float16 import convert_float_to_float16
    from onnxruntime.transformers.onnx_model import OnnxModel

    proto = onnx.load(str(src))
    with warnings.catch_warnings(), quiet_logging():
        warnings.simplefilter("ignore")
        proto = convert_float_to_float16(proto, keep_io_types=True)
        sorted_model = OnnxModel(proto)      # the converter appends its input casts at the end
        sorted_model.topological_sort()
        proto = sorted_model.model
    return save_model(proto, dst, {**metadata, "mpt.precision": "fp16"})


# ----------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _temporary_files_in(folder: str | Path) -> Iterator[None]:
    """The temporary files of the block (ONNX Runtime's quantizer makes its own, in ``tempfile``'s default folder)
    made in ``folder``."""
    saved, tempfile.tempdir = tempfile.tempdir, str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = saved


def _fixed_batch(proto: onnx.ModelProto) -> int | None:
    """The graph's fixed batch size (its first input's first dimension), None for a dynamic batch."""
    dim = proto.graph.input[0].type.tensor_type.shape.dim
    return int(dim[0].dim_value) if dim and dim[0].dim_value > 0 else None


class _ClipReader:
    """ONNX Runtime calibration data reader over clips, ``batch`` clips per call (``CalibrationDataReader``;
    a fixed-batch graph takes exactly its batch; the last clips are repeated to fill the last call)."""

    def __init__(self, dynamic: np.ndarray, motion: np.ndarray, batch: int = 1) -> None:
        self.dynamic, self.motion, self.i, self.batch = dynamic, motion, 0, max(int(batch), 1)

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.i >= len(self.dynamic):
            return None
        idx = np.minimum(np.arange(self.i, self.i + self.batch), len(self.dynamic) - 1)
        self.i += self.batch
        return {"dynamic": self.dynamic[idx], "motion": self.motion[idx]}

    def rewind(self) -> None:
        self.i = 0


__all__ = ["CALIBRATION_METHODS", "DEFAULT_CALIBRATION", "QuantizeError", "convert_fp16", "int8_plan", "node_module",
           "quantize_int8",
           "quantize_int8_weights"]
