"""bench/sheet_ids.py: issue 12's sheet over a face, the same person's IDs and another person's behind it."""

from __future__ import annotations

import re

import pytest
from conftest import bench_script

from mpt_live.machine import vector_extensions


@pytest.fixture(scope="module")
def sheet():
    yield from bench_script("sheet_ids")


ROW = re.compile(r"\| (\S+) \(then (\S+)\) \| (\d+) \| (\d+) \| \[([\d, ]*)\] \| \[([\d, ]*)\] \| (\d+|-) \| new \|"
                 r"( MISS)?")


def test_two_people_each_sheeted_and_followed_by_the_other(sheet, faces_dir, capsys, tmp_path):
    for name in ("liveportrait_d19_glasses.mp4", "liveportrait_d3_expressive.mp4", "pyfeat_single_face.mp4"):
        (tmp_path / name).symlink_to(faces_dir / "videos" / name)  # the last: 72 frames, too short for a case
    sheet.main(["--videos", str(tmp_path), "--shades", "180", "--frames", "20"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"CPU vector extensions: {vector_extensions()}; code ") and " UTC" in lines[0]
    assert lines[1].startswith("3 people (liveportrait_d19_glasses, liveportrait_d3_expressive, pyfeat_single_face); "
                               "a sheet over 60 % of a 160 px face from frame 60, shades 180, 20 frames"), lines[1]
    rows = [ROW.fullmatch(x) for x in lines[4:6]]
    assert all(rows), lines[4:6]
    assert [(m[1], m[2], m[3], m[4]) for m in rows] == [  # the short video skipped as the one behind: the next long
        ("liveportrait_d19_glasses", "liveportrait_d3_expressive", "180", "20"),
        ("liveportrait_d3_expressive", "liveportrait_d19_glasses", "180", "20")]
    assert lines[6] == "| pyfeat_single_face | - | 20 | skipped: 72 frames, 110 needed | | | new |"
    m = re.fullmatch(r"new \(this code\): one ID kept (\d+)/2; another person behind the sheet a new ID (\d+)/2; "
                     r"frames from the sheet's end to its first ID: max (\d+|-); 2 people sheeted, 1 cases skipped",
                     lines[7])
    assert m, lines[7]
    kept = sum(r[5] == "0" for r in rows)
    assert int(m[1]) == kept  # the summary counts the rows


@pytest.mark.parametrize("args, said", [(["--shades", "300"], "--shades 300: expected comma-separated whole numbers"),
                                        (["--frames", "a"], "--frames a: expected comma-separated whole numbers"),
                                        (["--cover", "0"], "--cover 0: expected a share of the face"),
                                        (["--before", "no-such-rev"], "--before no-such-rev: not a git revision")])
def test_what_cannot_be_run_is_refused_in_one_line(sheet, capsys, args, said):
    with pytest.raises(SystemExit):
        sheet.main(args)
    out, err = capsys.readouterr()
    assert said in err and out == "" and "Traceback" not in err


def test_a_missing_folder_is_one_line(sheet, capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        sheet.main(["--videos", str(tmp_path / "none")])
    assert str(e.value.code) == f"{tmp_path / 'none'}: no folder of face videos there"
