"""The console scripts where the install lacks the train extra (the runtime alone, `pip install .`, as the README's
"Installing by hand" gives it): mpt-train, mpt-export and mpt-synth's clips say so in one line, exit 2, before any
work, where they ended in a ModuleNotFoundError traceback (mpt-synth after rendering every clip)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TRAIN_ONLY = ("torch", "timm", "safetensors", "pandas", "openpyxl", "python_calamine", "onnx", "onnxscript")


def _without(modules: tuple[str, ...], code: str, cwd: Path) -> subprocess.CompletedProcess:
    """``code`` run in a Python where ``modules`` cannot be imported (as where they are not installed)."""
    block = f"import sys\nfor m in {modules!r}:\n    sys.modules[m] = None\n"
    return subprocess.run([sys.executable, "-c", block + code], capture_output=True, text=True, timeout=300, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})


def _tool(entry: str, argv: list[str]) -> str:
    launch = "export.launch" if entry == "export" else "train.launch"
    return f"sys.argv = {argv!r}\nfrom {launch} import {entry}\n{entry}()\n"


@pytest.mark.parametrize("entry, argv", [
    ("train", ["mpt-train", "--dataset", "casme2", "--data", "data", "--out", "run"]),
    ("export", ["mpt-export", "model.pt", "--out", "run/m.onnx"]),
    ("synth", ["mpt-synth", "--faces", "data", "--out", "run", "--subjects", "1", "--clips-per-class", "1"]),
])
def test_a_tool_without_the_train_extra_says_so_in_one_line(entry, argv, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "model.pt").write_bytes(b"not a checkpoint")
    res = _without(TRAIN_ONLY, _tool(entry, argv), tmp_path)
    assert res.returncode == 2, res.stderr
    assert len(res.stderr.splitlines()) == 1 and "Traceback" not in res.stderr
    assert res.stderr.startswith(f"error: {argv[0]} needs the train extra") and "'.[train]'" in res.stderr
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())  # nothing rendered or trained


def test_help_is_shown_without_the_train_extra(tmp_path):
    res = _without(TRAIN_ONLY, _tool("train", ["mpt-train", "--help"]), tmp_path)
    assert res.returncode == 0 and "--dataset" in res.stdout, res.stderr


def test_a_train_extra_module_missing_later_is_one_line_and_any_other_a_traceback(tmp_path):
    (tmp_path / "late_tool.py").write_text("def main():\n    import pandas\n")
    (tmp_path / "broken_tool.py").write_text("def main():\n    import no_such_module_of_mpt_live\n")
    run = "sys.path.insert(0, '.')\nsys.argv = ['t']\nfrom mpt_live.launch import run\nrun({!r}, 'mpt-x')\n"
    late = _without(("pandas",), run.format("late_tool"), tmp_path)
    assert late.returncode == 2 and late.stderr.startswith("error: mpt-x needs the train extra") and \
        "(no pandas)" in late.stderr and len(late.stderr.splitlines()) == 1, late.stderr
    broken = _without(("pandas",), run.format("broken_tool"), tmp_path)
    assert broken.returncode == 1 and "ModuleNotFoundError" in broken.stderr  # a bug, not an install: as it is
