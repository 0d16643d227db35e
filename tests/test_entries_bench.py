"""bench/entries.py: a small person entering a 4:3 frame, found with the entry trigger and without it in one run."""

from __future__ import annotations

import re

import pytest
from conftest import bench_script

ROW = re.compile(r"^\| (\S+) \+ (\S+) \| appear 2\.1 s \| (\d+|never) \| (\d+) / (\d+) \| (\d+|never) \| (\d+) / (\d+) / (\d+) "
                 r"\| (\d+), (\d+) \|$", re.M)


@pytest.fixture(scope="module")
def eb():
    yield from bench_script("entries")


def test_the_bench_prints_the_delay_and_the_squares_cost_before_and_now(eb, faces_dir, tmp_path, capsys):
    """A 130 px person (retalking_3_talking: the whole frame misses them beside a 480 px one, their square finds them,
    as in tests/test_tiles.py) appearing at 2.1 s, just after a search of the squares: before, not found by the run's
    end (4 s; the next search at 4.0 s); now within a second (confirmed: a faint face needs CONFIRM_S)."""
    v = faces_dir / "videos"
    who = [("liveportrait_d6", v / "liveportrait_d6.mp4"), ("retalking_3_talking", v / "retalking_3_talking.mp4")]
    with eb.Counted() as counted:
        eb.entries(who, 1, [2.1], ["appear"], 4.0, counted, tmp_path / "entry.mp4", 130)
    out = capsys.readouterr().out
    rows = ROW.findall(out)
    assert len(rows) == 1, out
    _, _, before, _, runs0, now, _, runs1, early, big0, big1 = rows[0]
    assert int(runs0) > 0 and int(runs1) > 0, rows  # the squares' detector runs are counted (inside ``with Counted``)
    assert before == "never" and now != "never" and int(now) <= 30 and int(early) >= 1, rows
    assert int(big0) == int(big1) == 120  # the first person carries an ID on every frame either way
    assert int(early) <= 3  # at most 3 in a row (mpt_live/entries.py)
    assert re.search(r"^before: delay \d+ frames in all \(never found: \d\), \d+ square searches, \d+ detector runs",
                     out, re.M), out


@pytest.mark.parametrize("args, message", [
    (["--at", "9", "--seconds", "6"], "--at 9: each entry at least 1 s before the end (--seconds 6)"),
    (["--modes", "walk"], "--modes walk: expected some of appear, slide"),
    (["--size", "200"], "--size 200: expected 16 to 160 px (the strip beside the 480 px person)"),
    (["--photos", "/nonexistent/folder"], "--photos /nonexistent/folder: no such folder"),
])
def test_bad_options_end_in_one_line(eb, args, message):
    with pytest.raises(SystemExit) as e:
        eb.main(args)
    assert str(e.value) == message
