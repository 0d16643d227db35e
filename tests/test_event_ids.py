"""Event IDs (events.csv's ``event_id``) where events.csv is read back: ``mpt-live --finish`` (summary.json and the
page of a killed run), a batch's all_events.csv, ``mpt-eval spot``; files written before the column still read,
their events numbered as the column would have numbered them (by row: IDs are given in the order rows are written)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from mpt_live.batch import output_dirs
from mpt_live.finish import read_events
from mpt_live.overview import write_overview
from mpt_live.report import render_report
from mpt_live.results import row_event_ids
from mpt_live.spotting import EVENT_COLUMNS
from train.spot_runs import read_events as spotted

OLD = ["video", "face", "onset_s", "apex_s", "offset_s", "onset_frame", "apex_frame", "offset_frame", "type", "class",
       "confidence", "score"]  # events.csv before event_id


def _rows() -> list[dict]:  # in the order they closed: face 1's long event after face 0's later one
    return [{"video": "v.mp4", "face": 0, "onset_s": 3.0, "apex_s": 3.1, "offset_s": 3.2, "onset_frame": 90,
             "apex_frame": 93, "offset_frame": 96, "type": "micro", "class": "", "confidence": "", "score": 5.0},
            {"video": "v.mp4", "face": 1, "onset_s": 1.0, "apex_s": 2.0, "offset_s": 4.0, "onset_frame": 30,
             "apex_frame": 60, "offset_frame": 120, "type": "macro", "class": "", "confidence": "", "score": 6.0},
            {"video": "v.mp4", "face": 0, "onset_s": 5.0, "apex_s": 5.1, "offset_s": 5.3, "onset_frame": 150,
             "apex_frame": 153, "offset_frame": 159, "type": "micro", "class": "", "confidence": "", "score": 4.5}]


def _write(path: Path, columns: list[str], rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def test_event_id_is_the_first_column_and_the_others_keep_their_order():
    assert EVENT_COLUMNS[0] == "event_id" and EVENT_COLUMNS[1:] == OLD


def test_finish_reads_the_ids_written_and_numbers_an_older_files_rows(tmp_path):
    """A killed run's summary.json (and so its page) lists events in onset order, each with the ID its row has."""
    ids = [7, 3, 12]  # whatever the file says is kept
    new = read_events(_write(tmp_path / "new" / "events.csv", EVENT_COLUMNS,
                             [{**r, "event_id": i} for r, i in zip(_rows(), ids)]))
    assert [(e["event_id"], e["onset_frame"]) for e in new] == [(3, 30), (7, 90), (12, 150)]
    old = read_events(_write(tmp_path / "old" / "events.csv", OLD, _rows()))
    assert [(e["event_id"], e["onset_frame"]) for e in old] == [(2, 30), (1, 90), (3, 150)]


def test_mpt_eval_reads_events_csv_with_and_without_the_id(tmp_path):
    for name, columns in (("new", EVENT_COLUMNS), ("old", OLD)):
        rows = [{**r, "event_id": n} for n, r in enumerate(_rows(), start=1)]
        got = spotted(_write(tmp_path / name / "events.csv", columns, rows))
        assert [(s.onset, s.offset, s.type) for s in got] == [(90, 96, "micro"), (30, 120, "macro"), (150, 159, "micro")]


def test_all_events_csv_has_each_videos_ids(tmp_path):
    """A resumed batch's overview holds videos run before the column (numbered by row) beside new ones."""
    videos = [tmp_path / "in" / n for n in ("a.mp4", "b.mp4")]
    out = tmp_path / "out"
    dirs = output_dirs(videos, out)
    summary = '{"status": "complete", "source": "x", "events": [], "faces": [], "model": {}}'
    for d, columns in zip(dirs, (EVENT_COLUMNS, OLD)):
        (d / "summary.json").parent.mkdir(parents=True, exist_ok=True)
        (d / "summary.json").write_text(summary)
        _write(d / "events.csv", columns, [{**r, "event_id": 10 + n} for n, r in enumerate(_rows())])
    write_overview(out, videos, dirs, [])
    table = list(csv.DictReader(io.StringIO((out / "all_events.csv").read_text())))
    assert next(iter(table[0])) == "event_id"
    assert [(r["video"], r["event_id"]) for r in table] == [("a.mp4", "10"), ("a.mp4", "11"), ("a.mp4", "12"),
                                                             ("b.mp4", "1"), ("b.mp4", "2"), ("b.mp4", "3")]


def test_a_page_made_from_events_without_ids_numbers_them_as_events_csv_numbers_its_rows(tmp_path):
    """report.html's fallback for a summary made by hand (events without IDs) was a rule of its own, an ID that is
    not None kept: an empty one (a blank event_id cell read back from a CSV) stopped the page with a ValueError.
    Now it is results.row_event_ids, the rule events.csv's readers use: a missing or blank ID is the row's number."""
    events = [{**r, "confidence": None, "event_id": i} for r, i in zip(_rows(), (None, "", 7))]
    del events[0]["event_id"]
    page = render_report(tmp_path, {"events": events, "source": "v.mp4", "outputs": {}}, [], [], None, [], "hand-made")
    shown = re.findall(r'<tr data-onset="[^"]*" data-face="(\d+)" data-id="(\d+)"', page)
    assert shown == [("0", "1"), ("1", "2"), ("0", "7")]
    assert [int(r["event_id"]) for r in row_event_ids(events)] == [1, 2, 7]


SIX = ["liveportrait_d3_expressive", "retalking_3_talking", "liveportrait_d0", "paddlegan_fom_dv", "liveportrait_d6",
       "liveportrait_d19_glasses"]


def test_events_that_close_together_at_the_end_are_written_by_onset_not_face_by_face(faces_dir, tmp_path):
    """An 11-min run of 6 faces stopped by SIGINT had events.csv in face blocks: where every face's open events close
    at once (a stop, a camera cut, the end of the stretch run: Session._close_faces) they were written face by face
    (here, at 20 s: one face's events of 14.9, 17.5 and 19.0 s, then another's of 15.1 and 16.7 s, then a third's).
    They are now written by onset, then face (IDs in that order); the events of the last 5 s, which close there,
    come from several faces (the case is made)."""
    from typer.testing import CliRunner

    from mpt_live.cli import app
    from train.compose import side_by_side

    video = tmp_path / "six.mp4"
    side_by_side([faces_dir / "videos" / f"{name}.mp4" for name in SIX], video, 21.0)
    out = tmp_path / "o"
    res = CliRunner().invoke(app, ["--video", str(video), "--motion-only", "--headless", "--max-faces", "0",
                                   "--max-seconds", "20", "--out", str(out)])
    assert res.exit_code == 0, res.output
    with open(out / "events.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["event_id"]) for r in rows] == list(range(1, len(rows) + 1))
    last = [(float(r["onset_s"]), int(r["face"])) for r in rows if float(r["apex_s"]) >= 15.0]
    assert len({face for _, face in last}) >= 2, last
    assert last == sorted(last), last
