"""Console-script entry point of mpt-export (:mod:`mpt_live.launch`)."""

from __future__ import annotations

from mpt_live.launch import run


def export() -> None:
    run("export.cli", "mpt-export", needs=("torch", "timm", "onnx", "onnxscript"))
