"""Helpers the five command-line tools share (typer; no heavy imports)."""

from __future__ import annotations

import typer


def given(ctx: typer.Context, name: str) -> bool:
    """Whether the option of parameter ``name`` was given (on the command line or by its variable), not defaulted."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")
