"""Where the benches find the shared face media (its videos/ and photos/), as the tests do (tests/conftest.py):
``$MPT_FACES_DIR``, else ../shared/data/faces beside the checkout. A bench run from a clone elsewhere, or on a
machine with the media at another path, reads that variable rather than a path written into each script."""

from __future__ import annotations

import os
import sys
from pathlib import Path

FACES_ENV = "MPT_FACES_DIR"


def faces_folder() -> Path:
    """The shared face media's folder: ``$MPT_FACES_DIR``, else ../shared/data/faces (it may not exist)."""
    return Path(os.environ.get(FACES_ENV) or Path(__file__).resolve().parents[2] / "shared" / "data" / "faces")


def need(path: Path) -> Path:
    """``path`` if it exists; else exit with one line naming it (and, if it is under the shared face media's folder,
    the variable that moves that folder)."""
    if path.exists():
        return path
    faces = faces_folder()
    hint = f" (set {FACES_ENV} to the shared faces folder, now {faces})" if path.is_relative_to(faces) else ""
    sys.exit(f"{path}: not found{hint}")
