"""Temporary folders that a killed process leaves behind, found and removed by the next one.

A process killed outright (a Ray worker whose node ran out of memory, ``ray.kill``, SIGKILL) never runs the cleanup
of its ``TemporaryDirectory``: the folder, with the copy of a video in it, stays. :func:`held_folder` makes such a
folder with an owner lock in it (``.owner``, an ``fcntl.flock`` held for the folder's life): the kernel lets go of
it when its process ends, however it ends. :func:`sweep` removes each folder of a prefix whose lock it can take,
so only a dead owner's; a folder with no lock file (made before this, or by a process still making it: the lock
file appears under its name only once held) is never removed. Where ``fcntl`` is missing (Windows) the folder is
an ordinary temporary one and :func:`sweep` removes nothing.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

log = logging.getLogger("mpt.scratch")

LOCK = ".owner"


@contextmanager
def held_folder(prefix: str) -> Iterator[Path]:
    """A new temporary folder ``<prefix>XXXXXXXX`` holding its owner lock while the block runs; removed after it."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    fd = None
    try:
        if fcntl is not None:
            making = folder / f"{LOCK}.making"
            fd = os.open(making, os.O_CREAT | os.O_RDWR, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, f"{os.getpid()}\n".encode())
            os.rename(making, folder / LOCK)  # a sweep sees the lock file only once it is held
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # before the lock goes: no sweep takes a folder being removed
        if fd is not None:
            os.close(fd)


def sweep(prefix: str, root: Path | None = None) -> list[Path]:
    """Remove the folders ``<root>/<prefix>*`` (default root: the temporary folder) whose owner is provably gone:
    their lock file is there and no process holds it. Returns them; never raises for a folder it cannot read."""
    if fcntl is None:
        return []
    removed = []
    for folder in sorted(Path(root or tempfile.gettempdir()).glob(f"{prefix}*")):
        try:
            fd = os.open(folder / LOCK, os.O_RDWR)
        except OSError:  # no lock file (an older folder, or one being made), or another user's: not provably dead
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: its owner is alive
            os.close(fd)
            continue
        try:
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            os.close(fd)
        if not folder.exists():
            log.info("%s: removed, left by a process that ended before cleaning it up", folder)
            removed.append(folder)
    return removed
