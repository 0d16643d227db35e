"""Console-script entry points: the command's module is imported inside a guard, so that Ctrl-C while
the libraries load (a second or two: OpenCV, ONNX Runtime, torch) exits quietly with status 130, as
Ctrl-C does later in a run, instead of printing a KeyboardInterrupt traceback."""

from __future__ import annotations

import importlib
import sys


def run(module: str) -> None:
    """Import ``module`` and call its ``main()``."""
    try:
        main = importlib.import_module(module).main
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    main()


def live() -> None:
    run("mpt_live.cli")
