"""Console-script entry points: the command's module is imported inside a guard, so that Ctrl-C while
the libraries load (a second or two: OpenCV, ONNX Runtime, torch) exits quietly with status 130, as
Ctrl-C does later in a run, instead of printing a KeyboardInterrupt traceback; and a tool run where the
install lacks the ``train`` extra (the runtime alone, ``pip install .``) says so in one line."""

from __future__ import annotations

import importlib
import importlib.util
import sys

# the top-level modules of pyproject.toml's `train` extra, which the runtime alone (`pip install .`) lacks
TRAIN_EXTRA = ("torch", "timm", "safetensors", "pandas", "openpyxl", "python_calamine", "onnx", "onnxscript")


def missing_modules(modules: tuple[str, ...]) -> list[str]:
    """Those of ``modules`` this Python cannot import (not installed)."""
    return [m for m in modules if importlib.util.find_spec(m) is None]


def extra_missing(tool: str, missing: list[str]) -> str:
    """The one line for a tool run without the train extra's ``missing`` modules."""
    return (f"{tool} needs the train extra, which this install lacks (no {', '.join(missing)}): "
            "pip install -c constraints.txt '.[train]' in the project's folder, the CPU build of torch first (README: "
            "Installing by hand)")


def run(module: str, tool: str | None = None, needs: tuple[str, ...] = ()) -> None:
    """Import ``module`` and call its ``main()``; ``tool --version`` alone is answered first, without the
    command's imports (OpenCV's take about a second). A run (not ``--help``) without one of ``needs``, or one
    that meets a train-extra module missing later, ends in one line naming it and the install, exit 2."""
    if tool is not None and sys.argv[1:] == ["--version"]:
        from .cli_options import version_line

        print(version_line(tool))
        return
    missing = missing_modules(needs) if "--help" not in sys.argv[1:] else []
    if missing:
        print(f"error: {extra_missing(tool or module, missing)}", file=sys.stderr)
        sys.exit(2)
    try:
        main = importlib.import_module(module).main
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    try:
        main()
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] not in TRAIN_EXTRA:
            raise
        print(f"error: {extra_missing(tool or module, [e.name.split('.')[0]])}", file=sys.stderr)
        sys.exit(2)


def live() -> None:
    run("mpt_live.cli", "mpt-live")
