"""bench/rotation_tags.py: phone-like recordings made from a photo, wrong and right rotation tags, old code beside."""

from __future__ import annotations

import re

import pytest
from conftest import bench_script, worktrees

from mpt_live.machine import vector_extensions


@pytest.fixture(scope="module")
def rot():
    yield from bench_script("rotation_tags")


ROW = re.compile(r"\| mtcnn_ivan_landscape_(wrong|right)(\d+) \| (wrong|right) (\d+) \| (\d+) \| (\d+) \| (\d+) \| "
                 r"(old|new) \|( MISS)?")


def test_a_photo_makes_six_tagged_files_each_read_by_the_old_code_and_this(rot, faces_dir, capsys, tmp_path):
    (tmp_path / "mtcnn_ivan.jpg").symlink_to(faces_dir / "photos" / "mtcnn_ivan.jpg")
    (tmp_path / "notes.txt").write_text("not a photo")
    before = worktrees()
    rot.main(["--photos", str(tmp_path), "--layouts", "landscape", "--seconds", "1", "--before", "HEAD"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"CPU vector extensions: {vector_extensions()}; code ") and " UTC" in lines[0]
    assert lines[1] == ("1 people, 6 files (landscape; a wrong and a right tag of 90, 180, 270 each; 1 s at 30 fps)")
    rows = [ROW.fullmatch(x) for x in lines[4:16]]
    assert all(rows), lines[4:16]
    for m in rows:
        assert m[1] == m[3] and m[2] == m[4]  # the file is what its row says
        assert int(m[5]) == (0 if m[1] == "wrong" else int(m[2]))  # to read: as stored (wrong), as tagged (right)
        assert (m[9] is None) == (m[5] == m[6])
    assert [m[8] for m in rows] == ["old"] * 6 + ["new"] * 6
    assert [m[6] for m in rows[:6]] == [m[6] for m in rows[6:]]  # HEAD is this code: read alike
    for line, code in zip(lines[16:18], ("old (the code of HEAD)", "new (this code)")):
        m = re.fullmatch(re.escape(code) + r": wrong tags overridden \(read upright\) (\d)/3, right tags kept (\d)/3; "
                         r"CPU of a file's check: median \d+ ms \(\d+-\d+\)", line)
        assert m, line
    assert len(lines) == 18
    assert worktrees() == before


@pytest.mark.parametrize("args, said", [(["--layouts", "square"], "--layouts square: expected comma-separated names"),
                                        (["--seconds", "0.1"], "--seconds 0.1: expected at least 8 frames"),
                                        (["--before", "no-such-rev"], "--before no-such-rev: not a git revision")])
def test_what_cannot_be_run_is_refused_in_one_line(rot, capsys, args, said):
    with pytest.raises(SystemExit):
        rot.main(args)
    out, err = capsys.readouterr()
    assert said in err and out == "" and "Traceback" not in err


def test_a_folder_without_a_face_is_one_line(rot, capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        rot.main(["--photos", str(tmp_path / "none")])
    assert str(e.value.code) == f"{tmp_path / 'none'}: no folder of photos there"
    (tmp_path / "notes.txt").write_text("not a photo")
    with pytest.raises(SystemExit) as e:
        rot.main(["--photos", str(tmp_path)])
    assert str(e.value.code) == f"no face found in the photos of {tmp_path}"
