"""Expected failures that the command line reports as one clear line (no traceback)."""

from __future__ import annotations


class InputError(Exception):
    """Bad user input: a missing or unreadable file, an empty video, a malformed sheet.

    The message names the input and says what is wrong; CLIs print it on one line and exit 2.
    """
