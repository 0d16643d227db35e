"""Expected failures that the command line reports as one clear line (no traceback)."""

from __future__ import annotations


class InputError(Exception):
    """Bad user input: a missing or unreadable file, an empty video, a malformed sheet.

    The message names the input and says what is wrong; CLIs print it on one line and exit 2.
    """


class OutputError(Exception):
    """An output could not be written (a full disk, a folder that is not writable).

    The message names the file and why, and what it still holds; CLIs print it on one line and exit 1.
    """


def first_line(e: BaseException, limit: int = 300) -> str:
    """The first non-empty line of an exception's message (its type name when it has none)."""
    lines = [s for s in str(e).strip().splitlines() if s.strip()]
    return (lines[0] if lines else type(e).__name__)[:limit]
