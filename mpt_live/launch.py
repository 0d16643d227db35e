"""Console-script entry points: the command's module is imported inside a guard, so that Ctrl-C while
the libraries load (a second or two: OpenCV, ONNX Runtime, torch) exits quietly with status 130, as
Ctrl-C does later in a run, instead of printing a KeyboardInterrupt traceback."""

from __future__ import annotations

import importlib
import sys


def run(module: str, tool: str | None = None) -> None:
    """Import ``module`` and call its ``main()``; ``tool --version`` alone is answered first, without the
    command's imports (OpenCV's take about a second)."""
    if tool is not None and sys.argv[1:] == ["--version"]:
        from .cli_options import version_line

        print(version_line(tool))
        return
    try:
        main = importlib.import_module(module).main
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    main()


def live() -> None:
    run("mpt_live.cli", "mpt-live")
