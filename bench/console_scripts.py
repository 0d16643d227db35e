"""Running the project's console scripts (mpt-train, mpt-synth, ...) from a bench: the one of this
environment, the command line as a person would type it, a log per run."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path


def tool(name: str) -> str:
    """The console script ``name`` of the running interpreter's environment (else the one on PATH)."""
    exe = Path(sys.executable).parent / name
    return str(exe) if exe.exists() else (shutil.which(name) or name)


def show(cmd: list[str]) -> str:
    """``cmd`` as a shell line, the program by its name only."""
    return " ".join(shlex.quote(Path(c).name if i == 0 else c) for i, c in enumerate(cmd))


def run_logged(cmd: list[str], log: Path) -> tuple[int, float]:
    """Run ``cmd`` with its output appended to ``log`` (after the command line); (exit code, seconds)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with open(log, "a") as fh:
        fh.write(f"\n$ {show(cmd)}\n")
        fh.flush()
        rc = subprocess.call(cmd, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "120"})
    return rc, time.perf_counter() - t0
