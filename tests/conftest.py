"""Shared fixtures. Real media are read from ../shared/data/faces and never copied here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FACES = Path(os.environ.get("MPT_FACES_DIR", Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"))


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    if not (FACES / "videos").is_dir():
        pytest.skip(f"real face media not found at {FACES}")
    return FACES
