"""bench/detector_scores.py: the detector scores behind the tracker's rules for new and small faces."""

from __future__ import annotations

import re

import pytest
from conftest import bench_script

from mpt_live.face_confirm import NEW_SCORE
from mpt_live.face_watch import VOUCH_SCORE
from mpt_live.machine import vector_extensions


@pytest.fixture(scope="module")
def ds():
    yield from bench_script("detector_scores")


def test_the_tapestry_scores_faint_beside_a_confident_face_and_full_range_sees_no_face(ds, faces_dir, capsys):
    """What the vouch rule rests on: short-range finds the tapestry's pattern faintly, full-range finds no face
    around it (under VOUCH_SCORE), while the speaker's own face is confident."""
    assert ds.main(["--only", "tapestry", "--frames", "4", "--faces", str(faces_dir)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"CPU vector extensions: {vector_extensions()}"
    m = re.search(r"his face short-range ([\d.]+)-([\d.]+); other finds on (\d+) frames, short-range ([\d.]+)-([\d.]+), "
                  r"full-range around them ([\d.]+)-([\d.]+)", out)
    assert m, out
    his_low, _, frames, _, other_high, _, vouched_high = (float(g) for g in m.groups())
    assert his_low >= NEW_SCORE and frames >= 1 and other_high < NEW_SCORE and vouched_high < VOUCH_SCORE


def test_a_closer_look_brings_a_small_faces_embeddings_together(ds, faces_dir, capsys):
    assert ds.main(["--only", "sface", "--frames", "4", "--faces", str(faces_dir)]) == 0
    m = re.search(r"loose keypoints ([\d.]+) / ([\d.]+) \(4 frames\); closer look ([\d.]+) / ([\d.]+) \(4 frames\); "
                  r"close up ([\d.]+) / ([\d.]+)", capsys.readouterr().out)
    assert m
    loose, closer = float(m.group(2)), float(m.group(4))
    assert closer >= loose and closer > 0.5


def test_an_unknown_part_or_a_folder_without_videos_is_one_line(ds, tmp_path, capsys):
    with pytest.raises(SystemExit):
        ds.main(["--only", "real,faces"])
    assert "--only faces: expected some of real, rooms, tapestry, squares, sface" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        ds.main(["--faces", str(tmp_path)])
    assert "no videos/ folder of face videos" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        ds.main(["--only", "squares", "--pair", str(tmp_path / "a.mp4"), str(tmp_path / "b.mp4")])
    assert f"--pair: {tmp_path / 'a.mp4'}: no such video file" in capsys.readouterr().err


def test_short_range_vouches_for_every_room_face_full_range_finds(ds, faces_dir, capsys):
    """What a run on full-range rests on: in the square around full-range's find of a small real face, short-range
    scores it VOUCH_SCORE or more, at every height of the room (40-200 px)."""
    assert ds.main(["--only", "rooms", "--frames", "2", "--faces", str(faces_dir)]) == 0
    rows = re.findall(r"(\d+) px: .*; full-range [\d.-]+ \((\d+)/2\), short-range around ([\d.]+)-([\d.]+)",
                      capsys.readouterr().out)
    assert [int(h) for h, *_ in rows] == [40, 60, 80, 100, 140, 200]
    assert all(int(n) == 2 and float(low) >= VOUCH_SCORE for _, n, low, _ in rows), rows


def test_a_small_face_in_a_4_3_frame_scores_higher_in_its_square(ds, faces_dir, capsys):
    """What searching a 4:3 frame's squares rests on (mpt_live/tiles.py, TILED): a face 130 px wide beside a 480 px one
    scores higher short-range in its 480 px square than in the whole 640x480 frame, and reaches the detector's 0.5
    there."""
    assert ds.main(["--only", "squares", "--frames", "4", "--faces", str(faces_dir)]) == 0
    rows = re.findall(r"\| liveportrait_d6 \| (\w+) \| 130 \| ([\d.]+)-([\d.]+) / ([\d.]+)-([\d.]+) \|",
                      capsys.readouterr().out)
    assert len(rows) == 2, rows
    for _, _, whole_high, square_low, _ in rows:
        assert float(square_low) > float(whole_high) and float(square_low) >= 0.5, rows
