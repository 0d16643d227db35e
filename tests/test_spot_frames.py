"""A run's events in the truth's frames (``train.spot_frames``): hand-computed cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpt_live.results import open_table, read_table
from train.spot_frames import first_time, last_prediction

HEADER = b"time_s,frame,face_id\r\n"


@pytest.mark.parametrize("body, first, last", [
    (HEADER + b"0.5,0,0\r\n0.6,3,0\r\n", 0.5, (3.0, 0.6)),
    (b"\xef\xbb\xbf" + HEADER + b"0.5,0,0\r\n0.6,3,0\r\n", 0.5, (3.0, 0.6)),  # a spreadsheet's byte-order mark
    (HEADER + b"0.5,0,0\r\n0.6,3,0\r\n0.7,4", 0.5, (3.0, 0.6)),  # a kill cut the last row: left out, not frame 4
    (HEADER + b"0.7,4", 0.0, (None, None)),                         # ... the only row
    (HEADER, 0.0, (None, None)),
    (b"", 0.0, (None, None)),
])
def test_predictions_read_by_mpt_lives_reader(tmp_path, body, first, last):
    """spot_frames read predictions.csv with a reader of its own, which took a row a kill cut short for a frame (a
    '4' that was '45'). It reads through mpt_live.results.open_table now: read_table's rules."""
    (tmp_path / "predictions.csv").write_bytes(body)
    assert first_time(tmp_path) == first
    assert last_prediction(tmp_path) == last


def test_the_first_row_is_read_without_the_rest(tmp_path):
    """Rows are read as they are asked for: the first row of a large file whose later bytes are no text is its
    first, where a reader of the whole file fails."""
    good = HEADER + b"0.25,0,0\r\n" + b"".join(b"%d,%d,0\r\n" % (i, i) for i in range(1, 5000))
    (tmp_path / "predictions.csv").write_bytes(good + b"\xff\xfe,9,0\r\n")
    assert first_time(tmp_path) == 0.25
    with pytest.raises(UnicodeDecodeError):
        read_table(tmp_path / "predictions.csv")


def test_a_missing_file_has_no_rows(tmp_path):
    assert first_time(tmp_path) == 0.0 and last_prediction(tmp_path) == (None, None)


@pytest.mark.parametrize("body, rows, whole_rows", [
    (HEADER + b"1,2,3\r\n4,5,6\r\n", 2, 2),
    (HEADER + b"1,2,3\r\n4,5", 2, 1),          # the last line cut short
    (b"\xef\xbb\xbfa,b\n1,2", 1, 0),
    (b"a,b\n", 0, 0),
    (b"", 0, 0),
])
def test_open_table_reads_as_read_table_reads(tmp_path, body, rows, whole_rows):
    path = tmp_path / "t.csv"
    path.write_bytes(body)
    for whole_lines, n in ((False, rows), (True, whole_rows)):
        with open_table(path, whole_lines) as (fields, it):
            streamed = fields, list(it)
        assert streamed == read_table(path, whole_lines) and len(streamed[1]) == n
    assert streamed[0] == (["a", "b"] if b"a,b" in body else ["time_s", "frame", "face_id"] if body else [])
