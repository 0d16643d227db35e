"""The real-media tests (conftest's ``faces_dir``) skip in a clone without ../shared/data/faces: the reason, shown
with ``pytest -rs``, says how to run them (it said only where the media were not found)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
A_REAL_MEDIA_TEST = "tests/test_cuts_exact.py::test_thumbnail_is_the_area_resize_of_the_strided_view"


def test_a_real_media_test_without_the_media_skips_saying_how_to_enable_it(tmp_path):
    missing = tmp_path / "none"
    env = {**os.environ, "MPT_FACES_DIR": str(missing)}
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", A_REAL_MEDIA_TEST],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and "1 skipped" in p.stdout, p.stdout + p.stderr
    assert f"real face media not found at {missing}: set MPT_FACES_DIR to the faces folder" in p.stdout, p.stdout
