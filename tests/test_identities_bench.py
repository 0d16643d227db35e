"""bench/identities.py: the people's videos from other folders (--videos) and another cut sequence (--shots)."""

from __future__ import annotations

import re
import sys

import pytest
from conftest import bench_script


@pytest.fixture(scope="module")
def ids():
    yield from bench_script("identities")


def test_shots_are_read_as_who_is_shown_left_to_right(ids):
    assert ids.parse_shots("A,B,AB,-,B,A") == [(0,), (1,), (0, 1), (), (1,), (0,)]  # issue 12's sequence
    assert ids.parse_shots(ids.SHOTS) == [(0,), (1,), (), (0,), (1,), (0, 1), (1, 0)]
    for bad in ("A,C", "AA", "A,,B"):
        with pytest.raises(ValueError, match="expected A, B, AB, BA or -"):
            ids.parse_shots(bad)


def test_a_bad_shot_or_videos_folder_is_one_line(ids, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(sys, "argv", ["identities.py", "--shots", "A,X"])
    with pytest.raises(SystemExit) as e:
        ids.main()
    assert e.value.code == 2 and "--shots A,X: shot 'X': expected" in capsys.readouterr().err
    monkeypatch.setattr(sys, "argv", ["identities.py", "--videos", str(tmp_path / "none")])
    with pytest.raises(SystemExit, match=r"none: no folder of face videos there"):
        ids.main()


def test_the_shared_faces_are_found_as_the_tests_find_them_and_missing_is_one_line(ids, monkeypatch, capsys, tmp_path):
    """The shared media's folder was a fixed ../shared beside the checkout: a clone elsewhere could not point it
    anywhere (MPT_FACES_DIR, which the tests read, was ignored), and --photos with none there was a traceback."""
    monkeypatch.setenv("MPT_FACES_DIR", str(tmp_path))
    assert ids.faces_folder() == tmp_path
    monkeypatch.setenv("MPT_FACES_DIR", str(tmp_path / "none"))
    for argv in ([], ["--videos", str(tmp_path), "--photos"]):
        monkeypatch.setattr(sys, "argv", ["identities.py", *argv])
        with pytest.raises(SystemExit) as e:
            ids.main()
        assert str(e.value) == (f"{tmp_path / 'none'}: no shared face media there (set MPT_FACES_DIR to the faces "
                                "folder, or give --videos DIR and --photos DIR)")
    monkeypatch.setattr(sys, "argv", ["identities.py", "--videos", str(tmp_path), "--photos", str(tmp_path / "nope")])
    with pytest.raises(SystemExit, match=r"nope: no folder of photos there"):
        ids.main()


def test_the_cut_sequence_given_is_the_one_played_with_the_videos_given(ids, faces_dir, monkeypatch, capsys, tmp_path):
    for name in ("liveportrait_d6.mp4", "retalking_3_talking.mp4"):
        (tmp_path / name).symlink_to(faces_dir / "videos" / name)
    monkeypatch.setattr(sys, "argv", ["identities.py", "--videos", str(tmp_path), "--only", "cuts", "--shots", "A,-,B"])
    ids.main()
    out = capsys.readouterr().out
    assert "2 people, 1 pairs" in out  # the two videos of the folder, not the shared nine
    row = re.search(r"\| cuts liveportrait_d6 / retalking_3_talking \| - \| ([\d.]+) % \| (\d+) \|.*\| (\d+)/\d+ \|", out)
    assert row, out
    assert float(row[1]) > 95 and row[2] == "0" and row[3] == "2"  # A, nobody, B: two cuts (the default has six)
