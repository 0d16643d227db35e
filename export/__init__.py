"""torch -> ONNX: export an MPT checkpoint as one self-describing ONNX file, check parity, int8/fp16.

``mpt-export`` (:mod:`export.cli`) runs :func:`export_checkpoint`; the steps are public too. The names
below load their module (and torch) when first used, so that importing the package (the console
script's launcher, :mod:`export.launch`) stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    **dict.fromkeys(("DEFAULT_OPSET", "MAX_IR_VERSION", "PRECISIONS", "ProbsModel", "build_model", "export_onnx",
                     "load_checkpoint", "onnx_metadata", "read_metadata"), "onnx_export"),
    **dict.fromkeys(("Parity", "check_onnx", "load_clips", "synthetic_clips", "torch_probs"), "parity"),
    **dict.fromkeys(("convert_fp16", "quantize_int8"), "quantize"),
    **dict.fromkeys(("ExportResult", "export_checkpoint"), "pipeline"),
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
