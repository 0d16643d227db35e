"""Expected failures that the command line reports as one clear line (no traceback)."""

from __future__ import annotations

import os


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


def empty_argument(argv: list[str]) -> str | None:
    """What is wrong with the first empty command-line value (``--out ""``, ``--out=``, a bare ``""``,
    usually an unset shell variable in quotes), else None. Typer would read ``""`` as the current folder."""
    for i, a in enumerate(argv):
        if a.startswith("--") and a.endswith("=") and len(a) > 3:
            return f"{a[:-1]}: empty value"
        if a.strip() == "":
            prev = argv[i - 1] if i and argv[i - 1].startswith("-") else None
            return f"{prev}: empty value" if prev else f"argument {i + 1}: empty"
    return None


def refuse_empty_arguments(argv: list[str]) -> None:
    """Exit 2 with one line when a command-line value is empty (see :func:`empty_argument`)."""
    import sys

    msg = empty_argument(argv)
    if msg:
        print(f"error: {msg}", file=sys.stderr)
        sys.exit(2)


def expanded_glob(argv: list[str], option: str = "--video", repeat: bool = False) -> str | None:
    """What is wrong when several paths follow ``option`` (a glob the shell expanded, ``--video in/*.mp4``
    unquoted), else None: the option takes one path, and typer would only say 'Got unexpected extra argument'.
    ``repeat``: the option is given once per path (``mpt-eval spot --runs A --runs B``)."""
    for i, a in enumerate(argv):
        if a != option:
            continue
        paths = []
        for t in argv[i + 1:]:
            if t.startswith("-"):
                break
            paths.append(t)
        if len(paths) > 1 and repeat:
            return (f"{option}: {len(paths)} paths given ({paths[0]}, {paths[1]}{', ...' if len(paths) > 2 else ''}); "
                    f"give {option} once per path ({option} {paths[0]} {option} {paths[1]}), or the folder above them")
        if len(paths) > 1:
            folders = {os.path.dirname(p) or "." for p in paths}
            exts = {os.path.splitext(p)[1] for p in paths}
            pattern = f"{folders.pop()}/*{exts.pop() if len(exts) == 1 else ''}" if len(folders) == 1 else "DIR/*.mp4"
            return (f"{option}: {len(paths)} paths given ({paths[0]}, {paths[1]}{', ...' if len(paths) > 2 else ''}); "
                    f"it takes one video, folder or glob: quote a glob so that the shell passes it whole "
                    f"({option} '{pattern}'), or give their folder")
    return None


def counted(n: int, noun: str) -> str:
    """``1 frame``, ``2 frames`` (``0 frames``): a count with its noun in a message line, singular for one."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def run_app(app, prog: str, argv: list[str]) -> None:
    """Run the typer ``app`` as the command ``prog`` on ``argv`` and exit with its code. A misspelt option or a
    value typer refuses (``--vidoe``, ``--stride 0``, an option without its value) is one line, ``error: <click's
    message> (prog --help lists the options)``, exit 2, not typer's boxed usage message; Ctrl-C while the
    options are read (before the command's own handling) is one line, exit 130, not click's traceback."""
    import sys

    import typer

    # click's ClickException, whether typer vendors click or depends on it
    usage_error = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
    try:
        code = typer.main.get_command(app).main(args=argv, prog_name=prog, standalone_mode=False)
    except usage_error as e:  # on one line (click lists a choice's values one a line), naming the subcommand's help
        where = getattr(getattr(e, "ctx", None), "command_path", None) or prog
        print(f"error: {' '.join(e.format_message().split())} ({where} --help lists the options)", file=sys.stderr)
        sys.exit(e.exit_code)
    except typer.Abort:
        print(f"{prog}: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
