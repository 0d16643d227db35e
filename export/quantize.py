"""int8 and fp16 versions of an fp32 export (:mod:`export.onnx_export`), with the same ``mpt.*`` metadata."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import onnx

from .onnx_export import save_model

INT8_OP_TYPES = ("MatMul",)


def quantize_int8(src: str | Path, dst: str | Path, metadata: dict[str, str]) -> Path:
    """Dynamic int8 quantization of an fp32 export (ONNX Runtime's ``quantize_dynamic``).

    Int8 weights (per output channel) and uint8 activations quantized at run time, for every
    MatMul with a constant weight: all Linear layers (qkv, proj, MLP, adapters, prompt generator,
    head; ORT rewrites 2-D Gemms as MatMul first), i.e. nearly all of the FLOPs. Left in fp32:
    the activation-by-activation attention products (q@k, attn@v: ``MatMulConstBOnly``), whose
    dynamic quantization costs accuracy for little speed, the patch-embedding and prompt
    convolutions (``ConvInteger`` is slow on CPU), LayerNorm and softmax. Per-channel weights
    are clearly more accurate here than per-tensor ones (top-1 agreement on an MPT ViT-T
    97 % vs 90 %) at no cost in speed. The graph is first shape-inferred and ORT-optimised
    (``quant_pre_process``). Weight-only 8-bit ``MatMulNBits`` was measured too: slightly more
    accurate, but 3x slower than fp32 on ViT-B.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    dst = Path(dst)
    with tempfile.TemporaryDirectory(prefix="mpt-int8-") as tmp:
        pre = Path(tmp) / "pre.onnx"
        q = Path(tmp) / "q.onnx"
        with warnings.catch_warnings(), _quiet_logging():
            warnings.simplefilter("ignore")
            try:
                quant_pre_process(str(src), str(pre), skip_symbolic_shape=False)
            except Exception:  # symbolic shape inference is best effort: quantize the plain export
                pre = Path(src)
            proto = onnx.load(str(pre))
            if pre == Path(src):   # the exporter's shapes clash with the quantizer's Gemm rewrite: infer afresh
                del proto.graph.value_info[:]
            _unshare_gemm_weights(proto)
            pre = Path(tmp) / "pre-unshared.onnx"
            onnx.save_model(proto, pre)
            quantize_dynamic(
                pre, q, weight_type=QuantType.QInt8, per_channel=True,
                op_types_to_quantize=list(INT8_OP_TYPES), extra_options={"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        proto = onnx.load(str(q))
    return save_model(proto, dst, {**metadata, "mpt.precision": "int8"})


def convert_fp16(src: str | Path, dst: str | Path, metadata: dict[str, str]) -> Path:
    """fp16 weights and activations, fp32 inputs/outputs (``keep_io_types``): for GPUs.

    Uses ONNX Runtime's own converter (``onnxruntime.transformers.float16``), so no extra
    dependency; ONNX Runtime's CPU provider runs such a model too, slower than fp32.
    """
    from onnxruntime.transformers.float16 import convert_float_to_float16
    from onnxruntime.transformers.onnx_model import OnnxModel

    proto = onnx.load(str(src))
    with warnings.catch_warnings(), _quiet_logging():
        warnings.simplefilter("ignore")
        proto = convert_float_to_float16(proto, keep_io_types=True)
        sorted_model = OnnxModel(proto)      # the converter appends its input casts at the end
        sorted_model.topological_sort()
        proto = sorted_model.model
    return save_model(proto, dst, {**metadata, "mpt.precision": "fp16"})



# ----------------------------------------------------------------------------- helpers


def _unshare_gemm_weights(proto: onnx.ModelProto) -> int:
    """Give every Gemm its own copy of a weight it shares with another node; returns the count.

    The exporter merges identical initializers (e.g. two zero-initialised layers of an untrained
    model). ONNX Runtime's dynamic quantizer rewrites ``Gemm(transB=1)`` as MatMul by transposing
    its weight in place, assuming no other node uses it, which breaks a shared weight.
    """
    graph = proto.graph
    inits = {t.name: t for t in graph.initializer}
    uses: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    copies = 0
    for node in graph.node:
        if node.op_type == "Gemm" and len(node.input) > 1 and uses.get(node.input[1], 0) > 1 \
                and node.input[1] in inits:
            old = node.input[1]
            clone = onnx.TensorProto()
            clone.CopyFrom(inits[old])
            clone.name = f"{old}__{node.name or copies}"
            graph.initializer.append(clone)
            node.input[1] = clone.name
            uses[old] -= 1
            copies += 1
    return copies


class _quiet_logging:
    """Silence the ``logging`` chatter of ONNX Runtime's quantization tools for a block."""

    def __enter__(self) -> None:
        import logging

        self._root = logging.getLogger()
        self._level = self._root.level
        self._root.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        self._root.setLevel(self._level)


__all__ = ["convert_fp16", "quantize_int8"]
