"""Console-script entry points of mpt-train, mpt-synth and mpt-eval (:mod:`mpt_live.launch`)."""

from __future__ import annotations

from mpt_live.launch import run


def train() -> None:
    run("train.cli", "mpt-train", needs=("torch", "timm", "safetensors", "pandas", "openpyxl", "onnx"))


def synth() -> None:
    run("train.synth_cli", "mpt-synth")


def evaluate() -> None:
    run("train.eval_cli", "mpt-eval")
