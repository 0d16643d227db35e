"""Why a PyTorch file (an mpt-train checkpoint, a ``--backbone-weights`` file) does not load, in words where its bytes
tell: torch says 'EOFError' for an empty file, 'KeyError: 104' for text and 'PytorchStreamReader failed reading zip
archive: failed finding central directory' for a copy cut short.

``torch.save`` writes a zip archive whose first entry is ``NAME/data.pkl`` (the pickled object, its tensors in the
entries after it) and whose central directory, the zip's table of contents, comes last: a file that begins as such
an archive and has no end was cut short (a copy or save that did not finish) or damaged there. Older files are
one pickle, starting with its protocol opcode (0x80).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from mpt_live.errors import first_line

_LOCAL_HEADER = b"PK\x03\x04"  # a zip's first local file header: its name's length at bytes 26-27, the name from 30


def unreadable_torch_file(path: Path, e: Exception) -> str:
    """Why torch.load failed on ``path``, in words where the file's first bytes tell; mpt-export's checkpoints and
    --backbone-weights files."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as oe:
        return f"cannot read it: {oe.strerror or oe}"
    if not head:
        return "the file is empty (0 bytes)"
    if head == _LOCAL_HEADER and not zipfile.is_zipfile(path):
        return "a zip archive without its end (cut off while it was written or copied)"
    if head[:1] != b"\x80" and not zipfile.is_zipfile(path):  # a pickle starts with its protocol opcode
        return "neither torch.save's zip archive nor a pickle"
    return f"{type(e).__name__}: {first_line(e)}"


def begins_as_torch_archive(path: Path) -> bool:
    """``path`` begins as torch.save's zip archive does: a zip whose first entry is ``NAME/data.pkl``."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(30 + 1024)
    except OSError:
        return False
    if len(head) < 30 or head[:4] != _LOCAL_HEADER:
        return False
    name = head[30:30 + int.from_bytes(head[26:28], "little")]
    return name == b"data.pkl" or name.endswith(b"/data.pkl")


def damaged_torch_file(path: Path, e: Exception, what: str = "a PyTorch checkpoint") -> str | None:
    """The line for a file that begins as torch.save's archive and does not load (``e``: torch's error): its size and
    whether it has no end (cut short or damaged there) or torch cannot read what it holds (a damaged pickle, a class
    that is not there); None for any other file."""
    if not begins_as_torch_archive(path):
        return None
    try:
        size = f"{path.stat().st_size:,} bytes that do"
    except OSError:
        size = "does"
    why = ("it begins as torch.save's zip archive does but has no end, so it is cut short or damaged (a copy or save "
           "that did not finish?)" if not zipfile.is_zipfile(path)
           else f"it is torch.save's zip archive; torch cannot read what it holds ({type(e).__name__}: {first_line(e)})")
    return f"{path}: {size} not load as {what}; {why}"
