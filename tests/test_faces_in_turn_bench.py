"""bench/faces_in_turn.py: people in turn through the session, old rings against new, in fresh processes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import bench_script, worktrees

from mpt_live.machine import vector_extensions

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fit():
    yield from bench_script("faces_in_turn")


SHOT = re.compile(r"\s*(\d+)\s+(\d+) \|\s+(\d+)\s+([\d.]+)\s+([\d.]+) \|\s+(\d+)\s+([\d.]+)\s+([\d.]+)")


def test_two_people_in_turn_the_old_rings_stay_the_new_go_and_the_rows_are_the_same(fit, faces_dir, capsys):
    fit.main(["--people", "2", "--seconds", "1.5"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"CPU vector extensions: {vector_extensions()}"
    assert lines[1].startswith("2 people in turn, 1.5 s each (")
    assert lines[2].startswith("old: this code, rings kept") and "; new: this code" in lines[2]
    shots = [SHOT.fullmatch(x) for x in lines[4:6]]
    assert all(shots), lines[4:6]
    (k1, _, old1, _, _, new1, _, _), (k2, faces2, old2, old_mb, _, new2, new_mb, _) = (
        tuple(float(v) for v in m.groups()) for m in shots)
    assert (k1, k2) == (1, 2) and faces2 >= 2  # the first person's state is still known at the second's end
    assert (old1, new1) == (1, 1)
    assert old2 == 2 and new2 == 1 and old_mb == pytest.approx(2 * new_mb, rel=0.01)  # the ring of the one gone held
    assert re.fullmatch(r"old: RSS growth from shot 1 to shot 2: [+-][\d.]+ MB", lines[6])
    assert re.fullmatch(r"new: RSS growth from shot 1 to shot 2: [+-][\d.]+ MB", lines[7])
    m = re.fullmatch(r"rows and events: old (\d+) rows, (\d+) events; new (\d+), (\d+); the same", lines[8])
    assert m and m[1] == m[3] and int(m[1]) > 0, lines[8]
    m = re.fullmatch(r"stabiliser references held by the tracks of faces gone, at the last shot's end: old ([\d.]+) "
                     r"kB \((\d+) gone\), new ([\d.]+) kB \((\d+) gone\)", lines[9])
    assert m and int(m[2]) == int(m[4]) >= 1 and float(m[1]) == float(m[3]) == 0.0, lines[9]  # the first person's: reset


@pytest.mark.parametrize("args, said", [(["--seconds", "0"], "--seconds 0: give a shot of at least one frame"),
                                        (["--seconds", "-2"], "--seconds -2: give a shot"),
                                        (["--repeat", "0"], "--repeat 0: give at least one run"),
                                        (["--before", "no-such-rev"], "--before no-such-rev: not a git revision")])
def test_what_cannot_be_run_is_refused_in_one_line(fit, capsys, args, said):
    with pytest.raises(SystemExit):
        fit.main(["--people", "2", *args])
    out, err = capsys.readouterr()
    assert said in err and out == "" and "Traceback" not in err


def test_a_failing_old_run_ends_in_one_line_and_leaves_no_worktree(fit, faces_dir, capsys):
    first = subprocess.run(["git", "-C", str(ROOT), "rev-list", "--max-parents=0", "HEAD"], capture_output=True,
                           text=True, check=True).stdout.split()[0]  # the package's skeleton: no session to run
    before = worktrees()
    with pytest.raises(SystemExit) as e:
        fit.main(["--people", "2", "--seconds", "0.5", "--before", first])
    said = str(e.value.code)
    assert said.startswith("error: the old run (code of ") and "failed: " in said and "\n" not in said, said
    assert worktrees() == before


def test_the_people_may_be_the_videos_of_another_folder(fit, faces_dir, capsys, tmp_path):
    for name in ("retalking_3_talking.mp4", "liveportrait_d0.mp4"):  # not the first two shared ones
        (tmp_path / name).symlink_to(faces_dir / "videos" / name)
    (tmp_path / "notes.txt").write_text("not a video")
    fit.main(["--people", "2", "--seconds", "0.5", "--videos", str(tmp_path)])
    out = capsys.readouterr().out
    assert "2 people in turn, 0.5 s each (liveportrait_d0, retalking_3_talking)" in out, out
    assert "the same" in out
    with pytest.raises(SystemExit) as e:
        fit.main(["--people", "3", "--videos", str(tmp_path)])
    assert str(e.value.code) == f"--people 3: only 2 videos of one person in {tmp_path}"
    with pytest.raises(SystemExit) as e:
        fit.main(["--people", "2", "--videos", str(tmp_path / "none")])
    assert str(e.value.code) == f"--videos {tmp_path / 'none'}: no such folder"
