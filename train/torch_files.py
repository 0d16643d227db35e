"""Why a PyTorch file (an mpt-train checkpoint, a ``--backbone-weights`` file) does not load, in words where its bytes
tell: torch says 'EOFError' for an empty file, 'KeyError: 104' for text and 'PytorchStreamReader failed reading zip
archive: failed finding central directory' for a copy cut short.

``torch.save`` writes a zip archive whose first entry is ``NAME/data.pkl`` (the pickled object, its tensors in the
entries after it) and whose central directory, the zip's table of contents, comes last: a file that begins as such
an archive and has no end was cut short (a copy or save that did not finish) or damaged there. Older files
(``torch.save(..., _use_new_zipfile_serialization=False)``, PyTorch before 1.6) are pickles, starting with their
protocol opcode (0x80), the first of them torch's magic number; the tensors' bytes follow them with no end marker, so
one cut short is told by torch running out of bytes (``unexpected EOF, expected N more bytes``, ``pickle data was
truncated``).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from mpt_live.errors import first_line

_LOCAL_HEADER = b"PK\x03\x04"  # a zip's first local file header: its name's length at bytes 26-27, the name from 30
_LEGACY_MAGIC = b"\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")  # the old format's first pickle: LONG1
_RAN_OUT = ("unexpected EOF", "truncated", "Ran out of input")  # torch and pickle, reading past a file's end


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
    cut = cut_short(path, e)
    if cut == "archive":
        return "a zip archive without its end (cut off while it was written or copied)"
    if cut == "legacy":
        return "torch.save's older, non-zip format ending before its data does (cut off while it was written or copied)"
    if head[:1] != b"\x80" and not zipfile.is_zipfile(path):  # a pickle starts with its protocol opcode
        return "neither torch.save's zip archive nor a pickle"
    return f"{type(e).__name__}: {first_line(e)}"


def cut_short(path: Path, e: BaseException) -> str | None:
    """How ``path``, which torch.load failed on with ``e``, was cut short (a copy or save that did not finish), or
    damaged at its end: ``"archive"`` where it begins as a zip archive and has no end (its central directory),
    ``"legacy"`` where it begins as torch.save's older, non-zip format and torch ran out of bytes reading it; None
    otherwise. The one judge of both :func:`unreadable_torch_file` and :func:`damaged_torch_file`."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return None
    if head == _LOCAL_HEADER and not zipfile.is_zipfile(path):
        return "archive"
    if begins_as_legacy_torch_file(path) and ran_out(e):
        return "legacy"
    return None


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


def begins_as_legacy_torch_file(path: Path) -> bool:
    """``path`` begins as torch.save's older, non-zip format does: a pickle of torch's magic number."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(32)
    except OSError:
        return False
    return head[:1] == b"\x80" and _LEGACY_MAGIC in head


def ran_out(e: BaseException) -> bool:
    """torch's error ``e`` says it reached the file's end before what the file announced was read."""
    return isinstance(e, EOFError) or any(s in str(e) for s in _RAN_OUT)


def damaged_torch_file(path: Path, e: Exception, what: str = "a PyTorch checkpoint") -> str | None:
    """The line for a file that begins as torch.save's archive, or its older non-zip format, and does not load (``e``:
    torch's error): its size and whether it has no end (an archive), or ends before its data (the older format: torch
    ran out of bytes), so it is cut short or damaged, or torch cannot read what it holds (a damaged pickle, a class
    that is not there); None for any other file."""
    legacy = not begins_as_torch_archive(path)
    if legacy and not begins_as_legacy_torch_file(path):
        return None
    try:
        size = f"{path.stat().st_size:,} bytes that do"
    except OSError:
        size = "does"
    kind = "older, non-zip format" if legacy else "zip archive"
    if cut_short(path, e) is None:
        why = f"it is torch.save's {kind}; torch cannot read what it holds ({type(e).__name__}: {first_line(e)})"
    else:
        why = (f"it begins as torch.save's {kind} does but "
               + ("ends before its data does" if legacy else "has no end")
               + ", so it is cut short or damaged (a copy or save that did not finish?)")
    return f"{path}: {size} not load as {what}; {why}"
