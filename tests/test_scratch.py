"""mpt_live.scratch: a killed process's temporary folder is removed by the next sweep, a live one's never."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from mpt_live import scratch

pytestmark = pytest.mark.skipif(scratch.fcntl is None, reason="owner locks need fcntl (POSIX)")


def _killed_owner(root, prefix: str):
    """The folder of a process that made one with held_folder and was then killed (SIGKILL: no cleanup ran)."""
    code = textwrap.dedent(f"""
        import os, signal, tempfile
        tempfile.tempdir = {str(root)!r}
        from mpt_live.scratch import held_folder
        with held_folder({prefix!r}) as d:
            (d / "video.mp4").write_bytes(b"x" * 100)
            print(d, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == -signal.SIGKILL, p.stderr
    return p.stdout.strip()


def test_a_killed_owners_folder_is_removed_a_live_ones_and_an_unlocked_ones_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(scratch.tempfile, "tempdir", str(tmp_path))
    dead = _killed_owner(tmp_path, "mpt-x-")
    assert (tmp_path / dead).is_dir() and (tmp_path / dead / "video.mp4").is_file()  # what a kill leaves today
    older = tmp_path / "mpt-x-older"  # made before owner locks: nothing proves its owner gone
    older.mkdir()
    other = tmp_path / "mpt-y-dead"
    other.mkdir()
    (other / scratch.LOCK).write_text("1\n")  # another prefix's: not this sweep's
    with scratch.held_folder("mpt-x-") as live:
        assert (live / scratch.LOCK).is_file()
        assert scratch.sweep("mpt-x-") == [tmp_path / dead]
        assert live.is_dir() and older.is_dir() and other.is_dir() and not (tmp_path / dead).exists()
        assert scratch.sweep("mpt-x-") == []
    assert not live.exists()  # its own block removed it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mpt-x-older", "mpt-y-dead"]


def test_a_folder_of_a_process_still_running_is_kept(tmp_path):
    """Another process (a second Ray actor on the node) holding its folder: the sweep leaves it."""
    code = textwrap.dedent(f"""
        import sys, tempfile
        tempfile.tempdir = {str(tmp_path)!r}
        from mpt_live.scratch import held_folder
        with held_folder("mpt-x-") as d:
            print(d, flush=True)
            sys.stdin.readline()
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        held = p.stdout.readline().strip()
        assert held and scratch.sweep("mpt-x-", tmp_path) == [] and (tmp_path / held).is_dir()
    finally:
        p.communicate("\n", timeout=60)
    assert p.returncode == 0 and not (tmp_path / held).exists()
