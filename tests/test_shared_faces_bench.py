"""bench/shared_faces.py: where the benches find the shared face media. Sixteen benches wrote the path
../shared/data/faces into their code: a clone elsewhere, or a machine with the media at another path, could not run
them, though the tests read $MPT_FACES_DIR. Now each asks this helper."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import bench_script

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sf():
    yield from bench_script("shared_faces")


def test_the_folder_is_the_variable_else_shared_beside_the_checkout(sf, monkeypatch, tmp_path):
    monkeypatch.setenv("MPT_FACES_DIR", str(tmp_path))
    assert sf.faces_folder() == tmp_path
    for unset in (None, ""):  # unset, or set to nothing: the default
        if unset is None:
            monkeypatch.delenv("MPT_FACES_DIR")
        else:
            monkeypatch.setenv("MPT_FACES_DIR", unset)
        assert sf.faces_folder() == ROOT.parent / "shared" / "data" / "faces"


def test_a_missing_file_is_one_line_naming_it_and_the_variable_only_for_the_shared_media(sf, monkeypatch, tmp_path):
    monkeypatch.setenv("MPT_FACES_DIR", str(tmp_path / "faces"))
    here = tmp_path / "here.mp4"
    here.write_bytes(b"x")
    assert sf.need(here) == here
    with pytest.raises(SystemExit) as e:
        sf.need(tmp_path / "faces" / "videos" / "a.mp4")
    assert str(e.value) == (f"{tmp_path / 'faces' / 'videos' / 'a.mp4'}: not found (set MPT_FACES_DIR to the shared "
                            f"faces folder, now {tmp_path / 'faces'})")
    with pytest.raises(SystemExit) as e:
        sf.need(tmp_path / "elsewhere.mp4")  # a path the user gave: the variable has nothing to do with it
    assert str(e.value) == f"{tmp_path / 'elsewhere.mp4'}: not found"


def test_no_bench_writes_the_shared_faces_path_into_its_code():
    """The path may be named in a docstring or a help text, never built in code (a string part "shared" of a path,
    or "shared/data/faces"), but in bench/shared_faces.py."""
    built = re.compile(r'"shared"\s*/|"shared/data')
    found = [f"{p.name}:{i}" for p in sorted((ROOT / "bench").glob("*.py")) if p.name != "shared_faces.py"
             for i, line in enumerate(p.read_text().splitlines(), 1) if built.search(line)]
    assert found == []


def test_a_bench_reads_the_variable(tmp_path):
    """bench/layouts.py run with MPT_FACES_DIR naming an empty place: its one-line error names that place."""
    missing = tmp_path / "none"
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "layouts.py")], capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "MPT_FACES_DIR": str(missing)},
                       timeout=120)
    assert p.returncode == 1 and p.stderr.strip() == f"{missing / 'videos'}: no folder of face videos", p.stderr
