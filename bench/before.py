"""The code of another git revision beside this one, for a bench's old column: a temporary worktree of ``--before
REV`` and a child process of the bench whose ``mpt_live`` is that revision's (the bench script itself is this one).

    with worktree(rev) as tree:
        for line in child_lines([__file__, "--child", ...], tree, "the old run"): ...

In the child, :func:`use_code` (called before ``mpt_live`` is imported) puts the worktree first on ``sys.path``."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE_ENV = "BENCH_BEFORE_CODE"  # in a child: the worktree whose mpt_live it imports


def use_code() -> str | None:
    """In a child of :func:`child_lines`: its revision's worktree first on ``sys.path`` (None: this code)."""
    code = os.environ.get(CODE_ENV)
    if code:
        sys.path.insert(0, code)
    return code


def this_run() -> str:
    """What a figure of this run needs beside it: the code (this checkout's commit, ``+changes`` where files differ
    from it), the CPU's model name and the UTC date and time."""
    import datetime
    import platform

    def git(*a: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True, check=False).stdout.strip()

    rev = git("rev-parse", "--short", "HEAD") or "unknown"
    rev += "+changes" if git("status", "--porcelain", "--untracked-files=no") else ""
    try:
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name")), platform.processor() or "unknown CPU")
    except OSError:
        cpu = platform.processor() or "unknown CPU"
    return f"code {rev}; {cpu}; {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"


def is_revision(rev: str) -> bool:
    """Whether ``rev`` names a commit of this checkout."""
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
                          capture_output=True, check=False).returncode == 0


@contextlib.contextmanager
def worktree(rev: str) -> Iterator[Path]:
    """A temporary worktree of ``rev``, removed (and pruned) however the block ends; no worktree: exit in one line."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "before"
        made = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tree), rev],
                              capture_output=True, text=True, check=False)
        if made.returncode != 0:
            sys.exit(f"error: --before {rev}: no worktree: {(made.stderr.strip().splitlines() or ['git failed'])[-1]}")
        try:
            yield tree
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True,
                           check=False)
            subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], capture_output=True, check=False)


def child_lines(argv: list[str], code: Path | None, what: str) -> Iterator[str]:
    """The stdout lines of ``python argv`` as it prints them, its mpt_live that of ``code`` (None: this code's); a
    child that fails ends the bench in one line naming ``what`` and the child's last stderr line."""
    env = dict(os.environ)
    if code is not None:
        env[CODE_ENV] = str(code)
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        try:
            for line in proc.stdout:
                yield line.rstrip("\n")
        except BaseException:  # the bench stopped reading (Ctrl-C, an error): no child left running
            proc.kill()
            proc.wait()
            raise
        if proc.wait() != 0:
            err.seek(0)
            last = (err.read().strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
            sys.exit(f"error: {what}{' (code of ' + str(code) + ')' if code else ''} failed: {last}")


def answer_child(job: Path, rows: Callable[[Any], Iterable[dict]]) -> None:
    """In a child of :func:`old_then_new`: its revision's code first (:func:`use_code`, before ``rows`` imports
    ``mpt_live``), then each row of ``rows(the job file's JSON)`` printed as one line of JSON, as it comes."""
    use_code()
    for r in rows(json.loads(Path(job).read_text())):
        print(json.dumps(r), flush=True)


def old_then_new(rev: str | None, script: str, job: Path, new: Iterable[dict],
                 row: Callable[[dict, str], str]) -> dict[str, list[dict]]:
    """A bench's rows, each printed as it comes: ``script --child job`` run with ``rev``'s code (none without ``rev``),
    each of its stdout lines one row as JSON, then this code's rows ``new``; the rows by code ("old", "new")."""
    runs: dict[str, list[dict]] = {}
    if rev:
        with worktree(rev) as tree:
            for line in child_lines([script, "--child", str(job)], tree, "the old run"):
                runs.setdefault("old", []).append(json.loads(line))
                print(row(runs["old"][-1], "old"), flush=True)
    for r in new:
        runs.setdefault("new", []).append(r)
        print(row(r, "new"), flush=True)
    return runs
