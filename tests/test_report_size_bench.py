"""bench/report_size.py: a long run's report.html, its size and what makes it (bytes)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import bench_script

from mpt_live.machine import vector_extensions


@pytest.fixture(scope="module")
def rs():
    yield from bench_script("report_size")


SIZES = re.compile(r"([\d.]+) min, 2 faces, (\d+) windows, (\d+) events: page ([\d.]+) MB; without its events ([\d.]+) MB; "
                   r"pictures ([\d.]+) MB \(([\d.]+) KB each\); (\d+) bytes an event")


def test_the_page_grows_by_each_events_picture_and_row(rs, faces_dir, capsys):
    assert rs.main(["--minutes", "1", "--events", "12", "--faces", str(faces_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"CPU vector extensions: {vector_extensions()}"
    m = SIZES.fullmatch(lines[1])
    assert m, lines[1]
    windows, events, page, bare, pics, each, per_event = (int(m[2]), int(m[3]), float(m[4]), float(m[5]), float(m[6]),
                                                          float(m[7]), int(m[8]))
    assert (windows, events) == (2 * 60 * 15, 12)
    assert page > bare > 0 and pics == pytest.approx(events * each / 1e3, abs=0.01)
    # an event adds its inlined picture (a 96 px JPEG: a few KB) and its table row and timeline mark
    assert 2000 < each * 1e3 < per_event < each * 1e3 + 3000


def test_the_timelines_grow_with_the_run_and_the_events_do_not(rs, faces_dir, capsys):
    rs.main(["--minutes", "0.5", "--events", "4", "--faces", str(faces_dir)])
    rs.main(["--minutes", "2", "--events", "4", "--faces", str(faces_dir)])
    short, long = (SIZES.fullmatch(x) for x in capsys.readouterr().out.splitlines()[1::2])
    assert float(long[5]) > 2 * float(short[5])  # 4x the windows (beside the page's fixed scripts and styles)
    assert abs(int(long[8]) - int(short[8])) < 200


def test_a_length_or_face_folder_that_cannot_be_used_is_refused(rs, faces_dir, tmp_path, capsys):
    with pytest.raises(SystemExit):
        rs.main(["--minutes", "0"])
    assert "--minutes 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        rs.main(["--minutes", "1", "--browser", "--faces", str(faces_dir)])
    assert "give a run over a minute" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # 3 s: the events would start before the run
        rs.main(["--minutes", "0.05", "--faces", str(faces_dir)])
    assert "--minutes 0.05: give a run of at least 5 s" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        rs.main(["--faces", str(tmp_path)])
    assert f"{Path(tmp_path) / 'videos' / 'liveportrait_d3_expressive.mp4'}: no such face video" in capsys.readouterr().err


def test_browser_prints_its_timed_line(rs, faces_dir, capsys):
    pytest.importorskip("playwright.sync_api")
    if not Path(rs.CHROMIUM).is_file():
        pytest.skip("no chromium")
    assert rs.main(["--minutes", "1.5", "--events", "6", "--faces", str(faces_dir), "--browser"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    t = r"[\d.]+ s"
    m = re.fullmatch(rf"chromium \(headless, timed\): loaded in {t}; first arrow key on a timeline {t} \(the video "
                     rf"moved to ([\d.]+) s\); zoomed to a minute {t}, paged on {t}; sorted by confidence {t}; filtered "
                     rf"to face 1 {t}", last)
    assert m, last
    assert float(m[1]) == 1.0  # the key ran the timeline's handler: the video (and its playhead) moved 1 s


def test_browser_without_playwright_is_refused_before_the_sizes(rs, faces_dir, monkeypatch, capsys):
    if not Path(rs.CHROMIUM).is_file():
        pytest.skip("no chromium")
    real = rs.importlib.util.find_spec
    monkeypatch.setattr(rs.importlib.util, "find_spec", lambda name, *a: None if name == "playwright" else real(name, *a))
    with pytest.raises(SystemExit):
        rs.main(["--minutes", "1.5", "--events", "2", "--faces", str(faces_dir), "--browser"])
    out, err = capsys.readouterr()
    assert "--browser: playwright is not installed" in err and out == ""
