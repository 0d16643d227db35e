"""bench/square_search.py: searching only a small followed face's square against every square, in one run."""

from __future__ import annotations

import re
import sys

import pytest

from conftest import bench_script
from mpt_live import face


@pytest.fixture(scope="module")
def square_bench():
    yield from bench_script("square_search")


def test_the_bench_counts_both_rules_on_two_animated_people_and_its_square_searches_less(square_bench, faces_dir,
                                                                                         monkeypatch, capsys, tmp_path):
    """Two photos animated (1 s each), each person beside the other at 480 and 160 px, both orders: a row per
    recording and rule (each person with the next round the ring: with two, the one pair, each order once; it ran
    each twice), the whole-frame detector counted, and the rule now (its square) runs the detector on fewer squares
    than the rule before (every square). The bench's wrappers of mpt_live.face's functions are gone after it (they
    stayed for good, and this test put them back for the tests after it)."""
    own = (face.merge_tiles, face.squares_of, face.FaceAligner.__dict__["detect"])
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("face_recognition_rose_leslie.jpg", "mtcnn_ivan.jpg"):
        (photos / name).symlink_to(faces_dir / "photos" / name)
    monkeypatch.setattr(sys, "argv", ["square_search.py", "--photos", str(photos), "--seconds", "1"])
    square_bench.main()
    out = capsys.readouterr().out
    assert out.startswith("CPU vector extensions: "), out
    rows = re.findall(r"^\| (\S+) \+ (\S+) \| (every square|its square) \| ([\d.]+) % \| (\d+) \| (\d+) \| (\d+) "
                      r"\(([\d.]+)\) \| (\d+) \|$", out, re.M)
    people = ("face_recognition_rose_leslie", "mtcnn_ivan")
    order = [people, people[::-1]]
    assert [(a, b, rule) for a, b, rule, *_ in rows] == [
        (a, b, rule) for a, b in order for rule in ("every square", "its square")], out
    assert all(int(r[8]) > 0 for r in rows), rows  # the whole frame's detector runs are counted
    runs = {rule: sum(int(r[6]) for r in rows if r[2] == rule) for rule in ("every square", "its square")}
    said = dict(re.findall(r"^(every square|its square) \((?:before|now)\): (\d+) detector runs on squares", out, re.M))
    assert {k: int(v) for k, v in said.items()} == runs, out
    assert runs["its square"] < runs["every square"], runs  # equal: the bench's switch of rules did nothing
    assert (face.merge_tiles, face.squares_of, face.FaceAligner.__dict__["detect"]) == own  # the bench undid its wrappers


def test_the_bench_s_wrappers_are_undone_when_its_run_fails(square_bench):
    """An exception inside the bench's run (a failed recording, ^C) leaves mpt_live.face as it was."""
    own = (face.merge_tiles, face.squares_of, face.FaceAligner.__dict__["detect"])
    with pytest.raises(RuntimeError), square_bench.Counted():
        assert face.merge_tiles is not own[0] and face.squares_of is not own[1]  # wrapped inside
        raise RuntimeError("a recording failed")
    assert (face.merge_tiles, face.squares_of, face.FaceAligner.__dict__["detect"]) == own
