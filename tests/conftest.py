"""Shared fixtures. Real media are read from ../shared/data/faces and never copied here."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Iterator

import pytest

FACES = Path(os.environ.get("MPT_FACES_DIR", Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"))


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    if not (FACES / "videos").is_dir():
        pytest.skip(f"real face media not found at {FACES}")
    return FACES


def bench_script(name: str) -> Iterator[ModuleType]:
    """bench/<name>.py loaded as a module (bench/ on the path meanwhile, for its own imports): ``yield from`` it in a
    module-scoped fixture."""
    bench = str(Path(__file__).resolve().parents[1] / "bench")
    sys.path.insert(0, bench)
    spec = importlib.util.spec_from_file_location(f"{name}_bench", Path(bench) / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.path.remove(bench)


@pytest.fixture
def run_main(monkeypatch, capsys):
    """``run_main(module, *args)``: the ``main()`` of a tool's command-line module (what its console script calls)
    run in this process on ``args``: (exit status, the non-empty lines it printed, stderr first). Where a crash,
    a hang or a signal is not the case, this checks what a subprocess would, without starting Python again."""
    import importlib

    def run(module: str, *args: str) -> tuple[int, list[str]]:
        main = importlib.import_module(module).main
        monkeypatch.setattr(sys, "argv", [module, *args])
        capsys.readouterr()
        with pytest.raises(SystemExit) as e:
            main()
        out = capsys.readouterr()
        return e.value.code, [ln for ln in (out.err + out.out).splitlines() if ln.strip()]

    return run
