"""Console-script entry points of mpt-train, mpt-synth and mpt-eval (:mod:`mpt_live.launch`)."""

from __future__ import annotations

from mpt_live.launch import run


def train() -> None:
    run("train.cli")


def synth() -> None:
    run("train.synth_cli")


def evaluate() -> None:
    run("train.eval_cli")
