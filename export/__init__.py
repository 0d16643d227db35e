"""torch -> ONNX: export an MPT checkpoint as one self-describing ONNX file, check parity, int8/fp16.

``mpt-export`` (:mod:`export.cli`) runs :func:`export_checkpoint`; the steps are public too.
"""

from .onnx_export import (
    DEFAULT_OPSET, MAX_IR_VERSION, PRECISIONS, ProbsModel, build_model, export_onnx, load_checkpoint,
    onnx_metadata, read_metadata,
)
from .parity import Parity, check_onnx, load_clips, synthetic_clips, torch_probs
from .quantize import convert_fp16, quantize_int8
from .pipeline import ExportResult, export_checkpoint

__all__ = [
    "DEFAULT_OPSET", "MAX_IR_VERSION", "PRECISIONS", "ExportResult", "Parity", "ProbsModel",
    "build_model", "check_onnx", "convert_fp16", "export_checkpoint", "export_onnx", "load_checkpoint",
    "load_clips", "onnx_metadata", "quantize_int8", "read_metadata", "synthetic_clips", "torch_probs",
]
