"""Whose face (``train.spot_faces``): a run's face IDs paired with a truth's faces, fragments of a lost track
included; hand-computed tables."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from mpt_live.spotting import EVENT_COLUMNS
from train.datasets.longvideo import Interval, LongVideo, LongVideoIndex
from train.eval_cli import app
from train.spot_faces import fragments, presence, spans
from train.spot_metrics import Spotted, score


def _truth(faces: dict[str, list[tuple[int, int]]]) -> LongVideoIndex:
    """One video, ``duo``, its faces' micro intervals (onset, offset)."""
    ivs = [Interval(on, (on + off) // 2, off, "micro", "", "", face) for face, spans_ in faces.items()
           for on, off in spans_]
    return LongVideoIndex([LongVideo("duo", "s", 30.0, sorted(ivs, key=lambda iv: iv.onset))], [])


def _run(events: dict[str, list[tuple[int, int]]]) -> list[Spotted]:
    return [Spotted("duo", on, off, "micro", "", 1.0, face=face) for face, ev in events.items() for on, off in ev]


A = {"a": [(10, 19), (200, 209), (400, 409)], "b": [(100, 109), (300, 309)]}  # two people, both there throughout


@pytest.mark.parametrize("truth, events, counts, pairs", [
    # a's track lost after 209 and found again as 2: both of a's, its events no longer false
    (A, {"0": [(10, 19), (200, 209)], "2": [(400, 409)], "1": [(100, 109), (300, 309)]}, (5, 0, 0),
     {"0": "a", "2": "a", "1": "b"}),
    # three fragments of a
    (A, {"0": [(10, 19)], "3": [(200, 209)], "5": [(400, 409)], "1": [(100, 109), (300, 309)]}, (5, 0, 0),
     {"0": "a", "3": "a", "5": "a", "1": "b"}),
    # 2 seen while 0 is (its span 200..209 inside 0's 10..409): two people, not one track's fragments; 0 hits more
    (A, {"0": [(10, 19), (400, 409)], "2": [(200, 209)], "1": [(100, 109), (300, 309)]}, (4, 1, 1),
     {"0": "a", "1": "b"}),
    # spans sharing one frame (0's last offset 209, 2's first onset 209) overlap: not fragments
    (A, {"0": [(10, 19), (195, 209)], "2": [(209, 215), (400, 409)], "1": [(100, 109), (300, 309)]}, (4, 2, 1),
     {"0": "a", "1": "b"}),
    # a frame apart they are
    (A, {"0": [(10, 19), (195, 209)], "2": [(210, 216), (400, 409)], "1": [(100, 109), (300, 309)]}, (5, 1, 0),
     {"0": "a", "2": "a", "1": "b"}),
    # one run ID on both people (a track that jumped): still one truth face only, the one it hits most
    (A, {"0": [(10, 19), (100, 109), (200, 209)]}, (2, 1, 3), {"0": "a"}),
    # a fragment that hits b only goes to b, though its span does not overlap a's fragment
    (A, {"0": [(10, 19)], "2": [(100, 109), (300, 309)]}, (3, 0, 2), {"0": "a", "2": "b"}),
    # both people move at once (10..19, 200..209): fragments 1 then 0 hit either; of the pairings making 2, the one
    # of equal IDs, not both on one face
    ({"0": [(10, 19), (200, 209)], "1": [(10, 19), (200, 209)]}, {"1": [(10, 19)], "0": [(200, 209)]}, (2, 0, 2),
     {"1": "1", "0": "0"}),
])
def test_fragments_of_a_lost_track_go_to_one_truth_face(truth, events, counts, pairs):
    """A person whose track was lost and found again has a second run ID, whose events were all false with the
    one-to-one pairing; run IDs whose events' spans do not overlap (no predictions.csv to say when each was tracked)
    now go to one truth face, never one ID to two."""
    r = score(_truth(truth), {"duo": _run(events)}, "micro")
    assert (r["tp"], r["fp"], r["fn"]) == counts
    assert r["face_pairs"] == {"duo": pairs}
    assert fragments(r["face_pairs"]) == len(pairs) - len(set(pairs.values()))


def _seen(folder, faces: dict[str, tuple[int, int]], fps: float = 30.0, face_column: str = "face_id",
          columns: str = "time_s,frame", start: float = 0.0):
    """A run folder whose predictions.csv tracks each face from its first to its last frame (a row every 10 frames
    and at both ends, after a first row of frame 0 without a face, at ``start`` seconds), mpt-live's ``columns``
    (``frame`` alone: another tool's)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [(0, "")] + sorted((f, face) for face, (on, off) in faces.items() for f in {*range(on, off, 10), off})
    cell = {"time_s": lambda f: f"{start + f / fps:.4f}", "frame": str}
    (folder / "predictions.csv").write_text(f"{columns},{face_column},motion_score\n" + "".join(
        ",".join(cell[c](f) for c in columns.split(",")) + f",{face},\n" for f, face in rows))
    return folder


B = {"a": [(10, 19), (200, 209), (600, 609)], "b": [(100, 109), (300, 309)]}  # the reviewer's two people
C = {"0": [(10, 19), (200, 209)], "1": [(100, 109), (300, 309)], "5": [(500, 509), (600, 609), (800, 809)]}


@pytest.mark.parametrize("truth, events, tracked, counts, pairs", [
    # 5 is a third person, tracked the whole time though its events come after a's track's last: seen at once as 0,
    # not a's; its movement at 600 with a's is no hit (paired by the events' spans: {0: a, 1: b, 5: a}, 5/2/0)
    (B, C, {"0": (0, 900), "1": (0, 900), "5": (0, 900)}, (4, 3, 1), {"0": "a", "1": "b"}),
    # the same events, 0's track lost at 250 and 5 a new ID from 260: a's track found again, its 600 a's
    (B, C, {"0": (0, 250), "1": (0, 900), "5": (260, 900)}, (5, 2, 0), {"0": "a", "1": "b", "5": "a"}),
    # a face tracked with no events (7, there throughout) is paired with nothing and keeps no one apart
    (B, C, {"0": (0, 250), "1": (0, 900), "5": (260, 900), "7": (0, 900)}, (5, 2, 0), {"0": "a", "1": "b", "5": "a"}),
    # events a frame apart (209, 210) but 0 tracked until 215: seen at once, not fragments (by spans: 5/1/0)
    (A, {"0": [(10, 19), (195, 209)], "2": [(210, 216), (400, 409)], "1": [(100, 109), (300, 309)]},
     {"0": (0, 215), "1": (0, 500), "2": (210, 500)}, (4, 2, 1), {"0": "a", "1": "b"}),
    # tracked 0..150 and 151..500: a frame apart, fragments, though 0's last event is 140 frames before 2's first
    (A, {"0": [(10, 19)], "2": [(200, 209), (400, 409)], "1": [(100, 109), (300, 309)]},
     {"0": (0, 150), "1": (0, 500), "2": (151, 500)}, (5, 0, 0), {"0": "a", "2": "a", "1": "b"}),
    # an event after the face's last row (a movement closed at the end): its span widens the face's time, 2 at 409
    # then overlaps 0 (tracked to 400 by the rows, 409 by its event): not fragments
    (A, {"0": [(10, 19), (400, 409)], "2": [(200, 209)], "1": [(100, 109), (300, 309)]},
     {"0": (0, 400), "1": (0, 500), "2": (405, 500)}, (4, 1, 1), {"0": "a", "1": "b"}),
])
def test_seen_at_once_is_judged_by_when_each_face_was_tracked(tmp_path, truth, events, tracked, counts, pairs):
    """Two run IDs are one person's only where the run never tracked them at the same time (predictions.csv), not
    where their events' spans happen not to overlap: a third person's track is no fragment of anyone's."""
    r = score(_truth(truth), {"duo": _run(events)}, "micro", folders={"duo": (_seen(tmp_path / "duo", tracked), None)})
    assert (r["tp"], r["fp"], r["fn"]) == counts
    assert r["face_pairs"] == {"duo": pairs}
    assert not [w for w in r["warnings"] if "predictions.csv" in w]


@pytest.mark.parametrize("truth, events, counts, pairs", [
    # the reviewer's: 0 and 2 both hit "2"'s one interval (IoU 0.5 each); 2 also hits b's. Counting each pair's
    # hits apart (2 + 1 with both on "2", the equal IDs) left b's missed: 1/2/1. One hit per interval: 2 on b
    ({"2": [(100, 119)], "b": [(300, 309)]}, {"0": [(100, 109)], "2": [(110, 119), (300, 309)]}, (2, 1, 0),
     {"0": "2", "2": "b"}),
    # 3 hits only what 0 hits (a's 100..119, each at IoU 0.5, not at the same time): joining it adds no hit, and it
    # is a's all the same (the most pairs), its event a second, false, match of that interval; 300..309 missed
    ({"a": [(100, 119), (300, 309)]}, {"0": [(100, 109)], "3": [(110, 119)]}, (1, 1, 1), {"0": "a", "3": "a"}),
])
def test_a_truth_interval_counts_once_however_many_ids_hit_it(truth, events, counts, pairs):
    r = score(_truth(truth), {"duo": _run(events)}, "micro")
    assert (r["tp"], r["fp"], r["fn"]) == counts
    assert r["face_pairs"] == {"duo": pairs}


def test_presence(tmp_path):
    """Each face's first and last frame of predictions.csv, in the frames its events are scored in: its own frame
    numbers where they are the truth's, its seconds from its first frame at the truth's rate where its events were
    placed by their seconds (a run at another rate); None (the events' spans then, one warning) where there is no file
    or no face column."""
    assert presence(_seen(tmp_path / "r", {"0": (3, 47), "1": (20, 21)}), 30.0) == {"0": (3, 47), "1": (20, 21)}
    # a copy at 60 fps, events placed by their seconds, from its first frame's (a video starting after its sound)
    assert presence(_seen(tmp_path / "60", {"0": (4, 46)}, fps=60.0, start=1.5), 30.0, 60.0) == {"0": (2, 23)}
    # its frames are the truth's (a frame folder timed at another --fps): its frame numbers, not its seconds
    assert presence(_seen(tmp_path / "ff", {"0": (4, 46)}, fps=60.0, start=1.5), 30.0) == {"0": (4, 46)}
    assert presence(tmp_path / "none", 30.0) is None
    assert presence(_seen(tmp_path / "old", {"0": (3, 47)}, face_column="face"), 30.0) is None
    folders = {"duo": (tmp_path / "none", None)}
    r = score(_truth(B), {"duo": _run(C)}, "micro", folders=folders)
    assert (r["tp"], r["fp"], r["fn"], r["face_pairs"]) == (5, 2, 0, {"duo": {"0": "a", "1": "b", "5": "a"}})
    assert r["warnings"] == ["1 video(s) whose run has no predictions.csv with a face_id column: whether two run face "
                             "IDs were seen at once judged by their events' spans: duo"]


def test_many_fragments_of_two_people_at_once():
    """20 fragments of each of two people seen at the same time, each fragment one movement: all 40 paired with their
    person (the one-to-one pairing found 2)."""
    a = [(100 * i, 100 * i + 9) for i in range(20)]
    b = [(100 * i + 50, 100 * i + 59) for i in range(20)]
    # each of b's fragments spans the time between two of a's, each a's fragment overlaps two of b's: no ID joins
    # the other person's fragments without two of them at once
    events = {f"a{i}": [a[i]] for i in range(20)} | {f"b{i}": [(b[i][0] - 45, b[i][0] - 44), b[i]] for i in range(20)}
    r = score(_truth({"A": a, "B": b}), {"duo": _run(events)}, "micro")
    assert (r["tp"], r["fp"], r["fn"]) == (40, 20, 0)
    assert r["face_pairs"]["duo"] == {f"a{i}": "A" for i in range(20)} | {f"b{i}": "B" for i in range(20)}


def test_spans():
    assert spans(_run({"1": [(50, 60), (5, 9)], "0": [(3, 4)]})) == {"1": (5, 60), "0": (3, 4)}
    assert spans([replace(s, face=" 1.0 ") for s in _run({"1": [(5, 9)]})]) == {"1": (5, 9)}


def _write(folder, rows):
    folder.mkdir(parents=True)
    with open(folder / "events.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, EVENT_COLUMNS)
        w.writeheader()
        w.writerows({c: r.get(c, "") for c in EVENT_COLUMNS} for r in rows)


def test_mpt_eval_names_fragments_and_warns_of_events_without_a_face(tmp_path):
    sheet = tmp_path / "annotations.csv"
    sheet.write_text("video,face,onset,apex,offset,fps,type\n"
                     "duo.mp4,0,10,14,19,30,micro\nduo.mp4,0,200,204,209,30,micro\nduo.mp4,1,100,104,109,30,micro\n"
                     "trio.mp4,0,10,14,19,30,micro\ntrio.mp4,1,100,104,109,30,micro\n")
    run = tmp_path / "run"
    _write(run / "duo", [{"video": "duo.mp4", "face": f, "onset_frame": on, "offset_frame": on + 9, "type": "micro"}
                         for f, on in ((0, 10), (4, 200), (1, 100))])
    # an older run or another tool's: no face column, so every event's face is blank
    (run / "trio").mkdir()
    (run / "trio" / "events.csv").write_text("video,onset_frame,offset_frame,type\n"
                                             "trio.mp4,10,19,micro\ntrio.mp4,100,109,micro\n")
    res = CliRunner().invoke(app, ["spot", "--truth", str(sheet), "--runs", str(run)])
    assert res.exit_code == 0, res.output
    out = json.loads((run / "spotting.json").read_text())
    assert out["face_pairs"] == {"duo": {"0": "0", "4": "0", "1": "1"}, "trio": {"": "0"}}
    assert (out["videos"]["duo"]["micro"], out["videos"]["trio"]["micro"]) == (
        {"tp": 3, "fp": 0, "fn": 0}, {"tp": 1, "fp": 1, "fn": 1})
    text = " ".join(res.output.split())
    assert "2 scored per face" in text and "1 run face ID(s) joined to a truth face another ID of the run has" in text
    assert ("warning: 1 video(s) whose truth names faces have events with no face (events.csv's face blank: a run of "
            "another tool or an older version): those events scored as one face of their own") in text
    assert text.count("events with no face") == 1 and "the other faces' intervals missed): trio note:" in text
    # duo's run has no predictions.csv: its IDs' times are their events' (trio's one face needs none)
    assert ("warning: 1 video(s) whose run has no predictions.csv with a face_id column: whether two run face IDs "
            "were seen at once judged by their events' spans: duo") in text


def test_mpt_eval_reads_when_each_face_was_tracked_from_the_runs_predictions(tmp_path):
    """The reviewer's third person, through mpt-eval spot: the run folder's predictions.csv says face 5 was tracked
    while 0 was, so 5's events stay false and a's 600 missed."""
    sheet = tmp_path / "annotations.csv"
    sheet.write_text("video,face,onset,apex,offset,fps,type\n" + "".join(
        f"duo.mp4,{face},{on},{on + 4},{off},30,micro\n" for face, ivs in B.items() for on, off in ivs))
    run = tmp_path / "run"
    _write(run / "duo", [{"video": "duo.mp4", "face": f, "onset_frame": on, "offset_frame": off, "type": "micro"}
                         for f, ev in C.items() for on, off in ev])
    _seen(run / "duo", {"0": (0, 900), "1": (0, 900), "5": (0, 900)})
    res = CliRunner().invoke(app, ["spot", "--truth", str(sheet), "--runs", str(run)])
    assert res.exit_code == 0, res.output
    out = json.loads((run / "spotting.json").read_text())
    assert out["face_pairs"] == {"duo": {"0": "a", "1": "b"}}
    assert out["videos"]["duo"]["micro"] == {"tp": 4, "fp": 3, "fn": 1}
    assert "predictions.csv" not in " ".join(res.output.split())


@pytest.mark.parametrize("columns", ["time_s,frame", "frame"])
def test_a_run_at_another_rate_has_its_faces_times_in_the_truths_frames(tmp_path, columns):
    """A 60 fps copy of a 30 fps truth: its events are placed in the truth's frames by their seconds, and so now is
    when each face was tracked, from predictions.csv's seconds or, without them (another tool's: ``frame`` alone),
    its frames at the truth's rate. Read as the truth's frames, 0's track (to the truth's 350, its own 700) reached
    past 5's first event (the truth's 500): two people at once, a's 600 missed and 5's events all false."""
    sheet = tmp_path / "annotations.csv"
    sheet.write_text("video,face,onset,apex,offset,fps,type\n" + "".join(
        f"duo.mp4,{face},{on},{on + 4},{off},30,micro\n" for face, ivs in B.items() for on, off in ivs))
    run = tmp_path / "run"
    _write(run / "duo", [{"video": "duo.mp4", "face": f, "onset_frame": 2 * on, "offset_frame": 2 * off + 1,
                          "type": "micro", "onset_s": on / 30, "offset_s": (off + 0.5) / 30}
                         for f, ev in C.items() for on, off in ev])
    (run / "duo" / "summary.json").write_text(json.dumps({"status": "complete", "source_fps": 60.0}))
    _seen(run / "duo", {"0": (0, 700), "1": (0, 1800), "5": (800, 1800)}, fps=60.0, columns=columns)
    res = CliRunner().invoke(app, ["spot", "--truth", str(sheet), "--runs", str(run)])
    assert res.exit_code == 0, res.output
    out = json.loads((run / "spotting.json").read_text())
    assert out["face_pairs"] == {"duo": {"0": "a", "1": "b", "5": "a"}}
    assert (out["tp"], out["fp"], out["fn"]) == (5, 2, 0)
