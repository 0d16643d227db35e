"""MEGC spotting scores (``train.spot_metrics``) and ``mpt-eval spot``: hand-computed cases."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mpt_live.errors import InputError
from mpt_live.spotting import EVENT_COLUMNS
from train.datasets.longvideo import Interval, LongVideo, LongVideoIndex, read_annotations_csv
from train.eval_cli import app
from train.spot_metrics import Spotted, iou, match, recognition, score
from train.spot_runs import read_runs


@pytest.mark.parametrize("a, b, expected", [
    ((0, 9), (0, 9), 1.0),
    ((0, 9), (5, 14), 5 / 15),
    ((0, 9), (10, 19), 0.0),          # adjacent: no shared frame
    ((0, 9), (9, 9), 1 / 10),         # frames inclusive: one shared frame
    ((10, 19), (12, 21), 8 / 12),
    ((0, 9), (0, 4), 0.5),
])
def test_iou_counts_frames_inclusively(a, b, expected):
    assert iou(a, b) == pytest.approx(expected)
    assert iou(b, a) == pytest.approx(expected)


def gt(on, off, label="", kind="micro"):
    return Interval(on, (on + off) // 2, off, kind, label)


def sp(on, off, score=0.0, cls="", kind="micro", video="v1"):
    return Spotted(video, on, off, kind, cls, score)


@pytest.mark.parametrize("truth, spotted, expected", [
    # one spotted inside the IoU rule
    ([gt(10, 19)], [sp(12, 21)], [(0, 0)]),
    # IoU 1/3: a false positive (and the truth a false negative)
    ([gt(10, 19)], [sp(5, 14)], [(0, None)]),
    # exactly 0.5 counts
    ([gt(0, 9)], [sp(0, 4)], [(0, 0)]),
    # two spotted on one truth: the higher score takes it, the other is a false positive
    ([gt(10, 19)], [sp(10, 19, score=0.5), sp(11, 19, score=0.9)], [(0, None), (1, 0)]),
    # one spotted over two truths: matched to the better one only
    ([gt(0, 9), gt(8, 17)], [sp(2, 11)], [(0, 0)]),
    # a later spotted interval falls back to a not-yet-matched truth
    ([gt(0, 9), gt(5, 14)], [sp(0, 9, score=1.0), sp(3, 12, score=0.5)], [(0, 0), (1, 1)]),
])
def test_match_megc_rule(truth, spotted, expected):
    assert [(i, j) for i, j, _ in match(truth, spotted)] == expected


def test_recognition_hand_computed():
    pairs = [("happiness", "happiness"), ("happiness", "surprise"), ("surprise", "surprise"),
             ("disgust", "happiness")]
    r = recognition(pairs)
    # per class P/R: disgust 0/0, happiness 1/2 / 1/2, surprise 1/2 / 1
    assert r["macro_precision"] == pytest.approx(1 / 3)
    assert r["macro_recall"] == pytest.approx(0.5)
    assert r["analysis_f1"] == pytest.approx(0.4)
    assert r["uf1"] == pytest.approx((0 + 0.5 + 2 / 3) / 3)
    assert r["uar"] == pytest.approx(0.5)
    assert recognition([("happiness", "")])["analysis_f1"] is None   # motion-only run: no classes
    assert recognition([])["uf1"] is None


def _index() -> LongVideoIndex:
    v1 = LongVideo("v1", "s1", 30.0, [gt(10, 19, "happiness"), gt(100, 109, "surprise"),
                                      gt(200, 259, "disgust", "macro")])
    v2 = LongVideo("v2", "s2", 30.0, [gt(50, 59, "happiness")])
    return LongVideoIndex([v1, v2], ["disgust", "happiness", "surprise"])


SPOTTED = {
    "v1": [sp(12, 21, 1.0, "happiness"), sp(300, 305, 0.5, "surprise"),
           sp(205, 260, 1.0, "disgust", "macro")],
    "v2": [sp(40, 49, 1.0, "happiness", video="v2")],
}


@pytest.mark.parametrize("kind, counts, f1, strs", [
    ("micro", (1, 2, 2), 1 / 3, 1 / 3),     # tp, fp, fn
    ("macro", (1, 0, 0), 1.0, 1.0),
    ("all", (2, 2, 2), 0.5, 0.5),           # counts pooled over types and videos
])
def test_score_pools_counts(kind, counts, f1, strs):
    r = score(_index(), SPOTTED, kind)
    assert (r["tp"], r["fp"], r["fn"]) == counts
    assert r["f1"] == pytest.approx(f1)
    assert r["strs"] == pytest.approx(strs)
    assert r["videos"]["v2"]["micro"] == {"tp": 0, "fp": 1, "fn": 1}


def test_classes_match_the_truths_labels_whatever_their_case_and_foreign_ones_are_named():
    shouted = {v: [replace(x, cls=x.cls.capitalize()) for x in f] for v, f in SPOTTED.items()}
    r, ref = score(_index(), shouted, "all"), score(_index(), SPOTTED, "all")
    assert r["strs"] == ref["strs"] == pytest.approx(0.5) and r["warnings"] == ref["warnings"] == []
    other = {v: [replace(x, cls="positive") for x in f] for v, f in SPOTTED.items()}
    r = score(_index(), other, "all")
    assert r["analysis_f1"] == 0.0
    assert r["warnings"] == ["the runs' classes positive are not labels of the truth (disgust, happiness, surprise): "
                             "their true positives count as misrecognised"]


def _events(folder: Path, rows: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "events.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, EVENT_COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in EVENT_COLUMNS})


def _benchmark(tmp_path: Path) -> Path:
    root = tmp_path / "bench"
    root.mkdir()
    (root / "annotations.csv").write_text(
        "video,onset,apex,offset,fps,type,label,action_units\n"
        "long_001.mp4,10,14,19,30,micro,happiness,12\n"
        "long_001.mp4,200,230,259,30,macro,disgust,9+10\n"
        "long_002.mp4,50,53,59,30,micro,surprise,1+2\n")
    return root


def test_cli_scores_run_folders(tmp_path):
    root = _benchmark(tmp_path)
    run = tmp_path / "run"
    _events(run / "long_001", [
        {"video": "/somewhere/long_001.mp4", "face": 0, "onset_frame": 11, "apex_frame": 14, "offset_frame": 20,
         "type": "micro", "class": "happiness", "score": 3.0},
        {"video": "/somewhere/long_001.mp4", "face": 0, "onset_frame": 500, "apex_frame": 505,
         "offset_frame": 509, "type": "micro", "class": "others", "score": 1.0},
    ])
    _events(run / "long_002", [])  # a video without events: its folder still says which video it is
    res = CliRunner().invoke(app, ["spot", "--truth", str(root / "annotations.csv"), "--runs", str(run),
                                   "--type", "micro"])
    assert res.exit_code == 0, res.output
    out = json.loads((run / "spotting.json").read_text())
    assert (out["tp"], out["fp"], out["fn"]) == (1, 1, 1)
    assert out["f1"] == pytest.approx(0.5)
    assert out["by_type"]["macro"]["fn"] == 1
    assert out["analysis_f1"] == pytest.approx(1.0) and out["strs"] == pytest.approx(0.5)
    assert "micro" in res.output and "STRS" in res.output


@pytest.mark.parametrize("cls, onset, labels, why", [
    ("happiness", 11, True, None),
    ("", 11, True, "the run's events have no class (events.csv's class blank: a --motion-only run, or another tool's)"),
    ("happiness", 11, False, "the truth has no labels"),
    ("happiness", 100, True, "no true positive to recognise"),
    ("happiness", None, True, "the run spotted no events"),  # it said they had no class, 'run mpt-live with a model'
])
def test_blank_recognition_figures_say_why(tmp_path, cls, onset, labels, why):
    """A motion-only run scored 'analysis F1 -, UF1 -, UAR -, STRS -' without a word of why; the MEGC protocol's
    user read it as a failure of the scoring. One note says why now (recognition_blank in the JSON)."""
    root = _benchmark(tmp_path)
    if not labels:
        sheet = root / "annotations.csv"
        sheet.write_text(sheet.read_text().replace(",happiness,", ",,").replace(",disgust,", ",,")
                         .replace(",surprise,", ",,"))
    run = tmp_path / "run"
    _events(run / "long_001", [] if onset is None else [
        {"video": "long_001.mp4", "onset_frame": onset, "apex_frame": onset + 3, "offset_frame": onset + 9,
         "type": "micro", "class": cls, "score": 1.0}])
    res = CliRunner().invoke(app, ["spot", "--truth", str(root), "--runs", str(run / "long_001")])
    assert res.exit_code == 0, res.output
    out = json.loads((run / "long_001" / "spotting.json").read_text())
    assert (out["analysis_f1"] is None) == (why is not None) == (out["recognition_blank"] is not None)
    text = " ".join(res.output.split())
    assert ("note: analysis F1, UF1, UAR and STRS are blank: " + (why or "") in text) == (why is not None)
    assert why is None or out["recognition_blank"].startswith(why)


@pytest.mark.parametrize("name, header, hint", [
    ("SAMM_LongVideos_V3_Release.csv", "Subject,Filename,Inducement Code,Onset,Apex,Offset,Duration,Type",
     "it is SAMM-LV's sheet: score with --dataset sammlv --data ROOT"),
    ("CAS(ME)^2code_final(Updated).csv", "1,anger1_1,557,572,608,4+10,negative,macro-expression",
     "it is CAS(ME)^2's coding sheet: score with --dataset casme2lv --data ROOT"),
    ("cas(me)3_part_A_ME_label_JpgIndex_v2.csv", "Subject,Filename,Onset,Apex,Offset,AU,emotion",
     "it is a CAS(ME)^3 part A label sheet: score with --dataset casme3 --data ROOT"),
    ("CASME2-coding-20140508.csv", "Subject,Filename,OnsetFrame,ApexFrame,OffsetFrame,Action Units,Estimated Emotion",
     "it is CASME II's coding sheet of short clips (mpt-train --dataset casme2), no long-video truth"),
    ("my_annotations.csv", "video,onset,apex,offset", None),
    ("part_annotations.csv", "video,onset,apex,offset", None),  # a user's own names that hold the datasets' words
    ("depart_apex_longvideos.csv", "video,onset,apex,offset", None),
])
def test_a_datasets_own_sheet_as_truth_names_the_option_that_reads_it(tmp_path, name, header, hint):
    """A new user gave the SAMM-LV release sheet to --truth and read only 'missing column(s) video, fps (header row
    5)'; the CASME II coding sheet, of short clips, got the same. The one line now says what the sheet is and which
    option scores it; a file of no dataset keeps the plain error."""
    sheet = tmp_path / name
    sheet.write_text(header + "\n" + ",".join(["1"] * len(header.split(","))) + "\n")
    run = tmp_path / "run"
    _events(run / "006_1", [])
    res = CliRunner().invoke(app, ["spot", "--truth", str(sheet), "--runs", str(run)])
    text = " ".join(res.output.split())
    assert res.exit_code == 2 and "missing column(s)" in text and len(res.output.strip().splitlines()) == 1, text
    assert (hint in text) if hint else "; it is" not in text


@pytest.mark.parametrize("name", ["events.csv", "predictions.csv", "truth.csv"])
def test_a_runs_own_output_as_truth_says_to_give_it_to_runs(tmp_path, name):
    """A new user gave a run's events.csv to --truth and read only 'events.csv: missing column(s) onset, apex,
    offset, fps (header row 1)'. The line now says it is the run's output and what --truth and --runs take."""
    run = tmp_path / "run"
    _events(run / "long_001", [{"video": "long_001.mp4", "onset_frame": 1, "apex_frame": 2, "offset_frame": 3,
                                "type": "micro", "class": "others", "score": 1.0}])
    kind = "predictions.csv" if name == "predictions.csv" else "events.csv"
    truth = tmp_path / name
    if kind == "events.csv":
        truth.write_text((run / "long_001" / "events.csv").read_text())
    else:
        truth.write_text("time_s,frame,face_id,x,y,w,h,motion_score,top,confidence\n0.5,15,0,1,1,9,9,0.2,,\n")
    res = CliRunner().invoke(app, ["spot", "--truth", str(truth), "--runs", str(run)])
    text = " ".join(res.output.split())
    assert res.exit_code == 2 and "missing column(s)" in text and len(res.output.strip().splitlines()) == 1, text
    assert f"it is an mpt-live run's {kind}, not a truth: give its run folder to --runs" in text, text


@pytest.mark.parametrize("rows, folder, message", [
    ([{"video": "long_009.mp4", "onset_frame": 1, "offset_frame": 2, "type": "micro"}], "x",
     "'long_009.mp4' is not in the truth"),
    ([{"video": "long_001.mp4", "onset_frame": 9, "offset_frame": 2, "type": "micro"}], "long_001",
     "offset_frame 2 < onset_frame 9"),
    ([{"video": "long_001.mp4", "onset_frame": 1, "offset_frame": 2, "type": "blink"}], "long_001",
     "type 'blink' is not micro or macro"),
    ([{"video": "long_001.mp4", "onset_frame": "a", "offset_frame": 2, "type": "micro"}], "long_001",
     "onset_frame 'a' is not a frame number"),
    ([], "renamed", "no events, and neither its folder ('renamed') nor a summary.json beside it names a truth video"),
])
def test_cli_bad_events_one_line(tmp_path, rows, folder, message):
    root = _benchmark(tmp_path)
    run = tmp_path / "run"
    _events(run / folder, rows)
    _events(run / "long_002", [])
    res = CliRunner().invoke(app, ["spot", "--truth", str(root), "--runs", str(run)])
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output


def test_missing_video_and_bad_truth(tmp_path):
    root = _benchmark(tmp_path)
    run = tmp_path / "run"
    _events(run / "long_001", [])
    with pytest.raises(Exception, match="no events.csv for 1 of 2 truth videos"):  # no notes to say it in
        read_runs([run], read_annotations_csv(root / "annotations.csv"))
    (root / "annotations.csv").write_text("video,onset,apex,offset,fps,type\nlong_001.mp4,10,12,19,30,giggle\n")
    res = CliRunner().invoke(app, ["spot", "--truth", str(root), "--runs", str(run)])
    assert res.exit_code == 2 and "row 2 (long_001.mp4): type 'giggle' is not micro or macro" in res.output
    res = CliRunner().invoke(app, ["spot", "--runs", str(run)])
    assert res.exit_code == 2 and "give either --truth" in res.output


@pytest.mark.parametrize("status, problems, kind", [
    ("running", [], "failed"), ("interrupted", ["interrupted (SIGTERM): the outputs cover what was processed before"],
                                "failed"),
    ("failed", ["long_001.mp4: frame 9000: decoder error"], "failed"), ("killed", [], "failed"),
    ("incomplete", ["the video ended at 12.0 s of its 60.0 s (a file cut short)"], "incomplete")])
def test_a_run_that_did_not_finish_is_scored_as_it_is_and_named(tmp_path, status, problems, kind):
    """A video's run that failed, was stopped or killed half-way, or is incomplete (its video ended early) has the
    events of the part it read. It was refused (stopping the whole evaluation: one damaged video of a dataset
    could never be scored past), or, incomplete, scored as if its events were all there, unsaid. It is now scored
    as it is (the truth past where it stopped counts as missed, as MEGC scores the whole set), named once with its
    reason, and listed in the JSON ('failed' or 'incomplete'); read_runs without notes still refuses a stopped run."""
    root = _benchmark(tmp_path)
    run = tmp_path / "run"
    _events(run / "long_001", [{"video": "long_001.mp4", "onset_frame": 11, "offset_frame": 20, "type": "micro"}])
    _events(run / "long_002", [{"video": "long_002.mp4", "onset_frame": 50, "offset_frame": 59, "type": "micro"}])
    (run / "long_001" / "summary.json").write_text(json.dumps(
        {"status": status, "source": "long_001.mp4", "problems": problems,
         "error": problems[0] if status == "failed" else None}))
    res = CliRunner().invoke(app, ["spot", "--truth", str(root), "--runs", str(run)])
    assert res.exit_code == 0, res.output
    out = json.loads((run / "spotting.json").read_text())
    assert (out["tp"], out["fp"], out["fn"]) == (2, 0, 1)  # long_001's macro, after where it stopped: missed
    other = {"failed": "incomplete", "incomplete": "failed"}[kind]
    assert list(out[kind]) == ["long_001"] and out[other] == {}
    assert status in out[kind]["long_001"] and all(p in out[kind]["long_001"] for p in problems)
    said = [w for w in res.output.replace("\n", " ").split("warning:") if "long_001 (" in w]
    assert len(said) == 1 and "counts as missed" in said[0]
    if kind == "failed":
        with pytest.raises(Exception, match=f"from a run that did not finish \\(summary.json: status {status}"):
            read_runs([run], read_annotations_csv(root / "annotations.csv"))
    (run / "long_001" / "summary.json").write_text(json.dumps({"status": "complete", "source": "long_001.mp4"}))
    res = CliRunner().invoke(app, ["spot", "--truth", str(root), "--runs", str(run)])
    out = json.loads((run / "spotting.json").read_text())
    assert res.exit_code == 0 and out["failed"] == out["incomplete"] == {} and "long_001 (" not in res.output


@pytest.mark.parametrize("summary, predictions, events, reached, after, left", [
    ({"status": "failed", "frames_read": 120, "source_fps": 30.0, "source_seconds": 4.0}, None, (11, 20, None), 119, 1,
     False),
    ({"status": "incomplete", "frames_read": 230, "source_fps": 30.0}, None, (11, 20, None), 229, 0, False),  # begun
    # killed (no count yet): its user stopped it, so the truth after where it read is left out (train/spot_stretch.py)
    ({"status": "running"}, "time_s,frame,face_id\n4.9,147,0\n5.0,150,0\n", (11, 20, None), 150, 1, True),
    ({"status": "running"}, None, (11, 20, None), 20, 1, False),  # nothing but its events: as far as the last one
    # a 15 fps re-encode: its 60 frames are the truth's first 4 s, frames 0..119; its events placed by their seconds
    ({"status": "interrupted", "frames_read": 60, "source_fps": 15.0, "source_seconds": 4.0}, None, (5, 10, 15.0),
     119, 1, True)])
def test_the_warning_of_a_run_that_stopped_counts_the_truth_it_never_reached(tmp_path, summary, predictions, events,
                                                                             reached, after, left):
    """The warning of a failed or incomplete run said it stopped early but not how much truth lay past where it
    stopped (missed by the run, not the spotter). The truth intervals after the last frame the run read (its
    summary.json's frames_read / source_seconds, its predictions.csv, its events) are now counted per video in the
    one warning and the JSON ('not_reached'); an interval the run had begun to read is not among them."""
    root = _benchmark(tmp_path)
    run = tmp_path / "run"
    on, off, fps = events
    timed = {"onset_s": on / fps, "offset_s": off / fps} if fps else {}
    _events(run / "long_001", [{"video": "long_001.mp4", "onset_frame": on, "offset_frame": off, "type": "micro",
                                **timed}])
    _events(run / "long_002", [{"video": "long_002.mp4", "onset_frame": 50, "offset_frame": 59, "type": "micro"}])
    (run / "long_001" / "summary.json").write_text(json.dumps({"source": "long_001.mp4", **summary}))
    if predictions:
        (run / "long_001" / "predictions.csv").write_text(predictions)
    res = CliRunner().invoke(app, ["spot", "--truth", str(root), "--runs", str(run)])
    assert res.exit_code == 0, res.output
    out = json.loads((run / "spotting.json").read_text())
    assert (out["tp"], out["fn"]) == (2, 0 if left else 1)
    assert out["not_reached"] == {"long_001": {"last_frame_read": reached, "truth_intervals_after": after,
                                               **({"left_out": True} if left else {})}}
    said = [w for w in res.output.replace("\n", " ").split("warning:") if "long_001 (" in w]
    assert len(said) == 1 and f"read to frame {reached} of the truth, {after} truth interval(s) after it" in said[0]
    assert (f"{after} truth interval(s) lie after where their run stopped" in " ".join(said[0].split())) != left
    assert (", left out: scored to where it stopped" in " ".join(said[0].split())) == left


def test_videos_of_failed_csv_are_named_with_the_batch_reason(tmp_path):
    """mpt-live --video DIR lists the videos that failed in OUT/failed.csv (one that did not open has no folder at
    all): mpt-eval counted such a video as 'not run' without its reason, and a failed video's folder as a finished
    run. Both are named once with the batch's reason and listed in 'failed'; a video failed.csv names whose run in
    the folder has since completed is not."""
    root = _benchmark(tmp_path)
    run = tmp_path / "run"
    _events(run / "long_001", [{"video": "long_001.mp4", "onset_frame": 11, "offset_frame": 20, "type": "micro"}])
    (run / "failed.csv").write_text("video,reason\n/data/videos/long_002.mp4,long_002.mp4: not a readable video: "
                                    "the file is empty (0 bytes)\n")
    res = CliRunner().invoke(app, ["spot", "--truth", str(root), "--runs", str(run)])
    assert res.exit_code == 0, res.output
    out = json.loads((run / "spotting.json").read_text())
    assert out["not_run"] == ["long_002"] and list(out["failed"]) == ["long_002"]
    assert "the file is empty (0 bytes)" in out["failed"]["long_002"]
    said = [w for w in res.output.replace("\n", " ").split("warning:") if "long_002 (" in w]
    assert len(said) == 1 and "the file is empty (0 bytes)" in said[0]
    _events(run / "long_002", [])                                  # run again since, on its own: complete
    (run / "long_002" / "summary.json").write_text(json.dumps({"status": "complete", "source": "long_002.mp4"}))
    res = CliRunner().invoke(app, ["spot", "--truth", str(root), "--runs", str(run)])
    assert res.exit_code == 0 and json.loads((run / "spotting.json").read_text())["failed"] == {}


def test_two_runs_of_one_video_are_refused_not_pooled(tmp_path):
    """Two --runs holding the same video (an fp32 and an int8 run, say) were pooled: each run's events counted
    against one truth, so every true positive of one run became a false positive of the other."""
    root = _benchmark(tmp_path)
    for name in ("fp32", "int8"):
        _events(tmp_path / name / "long_001", [{"video": "long_001.mp4", "onset_frame": 11, "offset_frame": 20,
                                                "type": "micro"}])
        _events(tmp_path / name / "long_002", [])
    res = CliRunner().invoke(app, ["spot", "--truth", str(root), "--runs", str(tmp_path / "fp32"),
                                   "--runs", str(tmp_path / "int8")])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "events of long_001, which" in res.output and "already has" in res.output
    res = CliRunner().invoke(app, ["spot", "--truth", str(root), "--runs", str(tmp_path / "fp32")])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("row, message", [
    ("long_001.mp4,abc,12,19,30,micro", "onset 'abc' is not a frame number"),
    ("long_001.mp4,-5,12,19,30,micro", "onset '-5' is not a frame number"),
    ("long_001.mp4,10,x,19,30,micro", "apex 'x' is not a frame number"),
    ("long_001.mp4,10,12,19,30,micro\nlong_001.mp4,10,13,19,30,micro", "the same interval 10..19 (micro) as row 2"),
])
def test_a_malformed_truth_row_is_an_error_not_a_silent_drop(tmp_path, row, message):
    """A truth row whose onset is not a number was dropped (counted only inside the JSON) and the score rose."""
    root = _benchmark(tmp_path)
    (root / "annotations.csv").write_text("video,onset,apex,offset,fps,type\n" + row + "\n")
    res = CliRunner().invoke(app, ["spot", "--truth", str(root), "--runs", str(tmp_path)])
    assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output, res.output


def test_scoring_needs_no_torch(tmp_path):
    """mpt-eval spot runs with torch unimportable (the scorer is plain Python + numpy)."""
    import subprocess
    import sys

    root = _benchmark(tmp_path)
    run = tmp_path / "run"
    _events(run / "long_001", [])
    _events(run / "long_002", [])
    code = ("import sys; sys.modules['torch'] = None; from train.eval_cli import app; "
            f"app(['spot', '--truth', {str(root)!r}, '--runs', {str(run)!r}])")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert json.loads((run / "spotting.json").read_text())["fn"] == 3


def test_an_unwritable_json_output_is_one_line_naming_it(tmp_path, monkeypatch):
    """Writing the JSON (the default RUN/spotting.json a folder; a full disk under --out) was a traceback."""
    import errno

    root = _benchmark(tmp_path)
    run = tmp_path / "run"
    _events(run / "long_001", [])
    _events(run / "long_002", [])
    (run / "spotting.json").mkdir()
    res = CliRunner().invoke(app, ["spot", "--truth", str(root), "--runs", str(run)])
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.exception
    assert lines == [f"error: {run / 'spotting.json'}: cannot write the JSON output (Is a directory)"], lines

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("mpt_live.writers.write_json", full)
    res = CliRunner().invoke(app, ["spot", "--truth", str(root), "--runs", str(run), "--out", str(tmp_path / "s.json")])
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.exception
    assert lines == [f"error: {tmp_path / 's.json'}: cannot write the JSON output (No space left on device)"], lines


def test_the_table_fits_an_80_column_terminal(tmp_path):
    """The one 13-column table was cut to 'ty…', 'pre…', '0.…' on an 80-column terminal; there it is now two
    (spotting; recognition of the true positives), nothing cut. A wide console still gets the one table."""
    import io

    from rich.console import Console

    from train.eval_cli import tables

    result = score(_index(), SPOTTED, "all")
    for width, n in ((80, 2), (160, 1)):
        console = Console(width=width, file=io.StringIO(), color_system=None)
        ts = tables(result, console)
        for t in ts:
            console.print(t)
        text = console.file.getvalue()
        assert len(ts) == n and "…" not in text and max(map(len, text.splitlines())) <= width, text
        for head in ("type", "truth", "spotted", "precision", "recall", "analysis F1", "UF1", "UAR", "STRS"):
            assert head in text


def test_sigterm_is_a_line_and_its_status(tmp_path):
    """mpt-eval had no handler for SIGTERM: it died at once (-15, no word); it now stops as Ctrl-C, exit 143."""
    import subprocess
    import sys

    root = _benchmark(tmp_path)
    code = ("import signal, train.spot_runs as m\n"
            "def stop(*a, **k): signal.raise_signal(signal.SIGTERM)\n"
            "m.read_runs = stop\n"
            "from train.eval_cli import main\n"
            "main()\n")
    res = subprocess.run([sys.executable, "-c", code, "spot", "--truth", str(root), "--runs", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 143 and "mpt-eval: interrupted (SIGTERM); nothing written" in res.stderr, res.stderr
    assert not (tmp_path / "spotting.json").exists()


def test_runs_given_a_video_says_it_wants_the_run(tmp_path):
    """--runs video.mp4 (the video instead of its run folder) was read as a CSV: 'missing column(s) video,
    onset_frame, ...'; now it says what --runs takes."""
    from train.spot_videos import find_event_files
    from mpt_live.errors import InputError

    video = tmp_path / "v1.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypisom")
    with pytest.raises(InputError, match=r"v1.mp4: not a run folder or an events.csv \(give mpt-live's --out folder"):
        find_event_files(video)
    (tmp_path / "events.csv").write_text("video\n")
    assert find_event_files(tmp_path / "events.csv") == [tmp_path / "events.csv"]


def test_eval_warnings_name_files_as_they_are(tmp_path, monkeypatch):
    """mpt-eval printed its warnings and notes through rich markup: a video 'v[take2]:ok:' came out as 'v🆗'."""
    from types import SimpleNamespace

    import train.eval_cli as ev

    index = SimpleNamespace(warnings=["v[take2]:ok: has no events"], dropped={"row of v[take2]": 1},
                            notes={"note on v[take2]": 2}, videos=["v[take2]:ok:"])
    result = {"iou_threshold": 0.5, "type": "all", "by_type": {}, "warnings": []}
    monkeypatch.setattr(ev, "_score", lambda *a: (index, result, tmp_path / "x[1]:ok:.json"))
    res = CliRunner().invoke(app, ["spot", "--runs", str(tmp_path), "--truth", str(tmp_path / "t.csv")])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    for line in ("warning: v[take2]:ok: has no events", "dropped 1 truth row(s): row of v[take2]",
                 "note: 2 truth row(s): note on v[take2]", f"1 video; wrote {tmp_path / 'x[1]:ok:.json'}"):
        assert line in lines, res.output



@pytest.mark.parametrize("fps, numbered, start, placed", [
    (60.0, 60.0, 0.0, True),  # a 60 fps copy: frames twice the truth's
    (25.0, 25.0, 0.0, True),  # a 25 fps copy
    (30.0, 24.0, 0.0, True),  # a variable-rate copy at the truth's 30 fps, a fifth of its frames dropped
    (30.0, 30.0, 0.5, False),  # the video itself, its picture starting 0.5 s after its sound: frames kept
])
def test_a_run_of_a_copy_at_another_frame_rate_is_scored_by_its_seconds(tmp_path, fps, numbered, start, placed):
    """A run of a 60 or 25 fps copy of a truth video coded at 30 fps, or of a variable-rate copy, numbers its frames
    otherwise than the truth: its events, at the right seconds, were compared frame for frame and scored as misses
    and false events. They are placed in the truth's frames by their seconds from the run's first frame."""
    root = _benchmark(tmp_path)
    run = tmp_path / "run"
    rows = []
    for on, apex, end, kind in ((10 / 30, 14 / 30, 20 / 30, "micro"), (200 / 30, 230 / 30, 260 / 30, "macro")):
        frames = [round(on * numbered), round(apex * numbered), round(end * numbered) - 1]  # inclusive offset
        rows.append({"video": "long_001.mp4", "onset_frame": frames[0], "apex_frame": frames[1],
                     "offset_frame": frames[2], "type": kind, "onset_s": start + frames[0] / numbered,
                     "apex_s": start + frames[1] / numbered, "offset_s": start + frames[2] / numbered})
    _events(run / "long_001", rows)
    (run / "long_001" / "summary.json").write_text(json.dumps({"status": "complete", "source_fps": fps}))
    (run / "long_001" / "predictions.csv").write_text(f"time_s,frame,face_id\n{start},0,0\n")
    _events(run / "long_002", [])
    res = CliRunner().invoke(app, ["spot", "--truth", str(root), "--runs", str(run), "--type", "all"])
    assert res.exit_code == 0, res.output
    out = json.loads((run / "spotting.json").read_text())
    assert (out["tp"], out["fp"], out["fn"]) == (2, 0, 1)  # long_002's micro-movement: no event
    assert ("placed in the truth's frames by their seconds" in " ".join(res.output.split())) == placed
    notes: list[str] = []
    spotted = read_runs([run], read_annotations_csv(root / "annotations.csv"), notes)["long_001"]
    assert all(s.onset <= s.apex <= s.offset for s in spotted) and len(notes) == placed


def test_a_frame_folder_run_keeps_its_frame_numbers_at_any_fps(tmp_path):
    """A run of a frame folder (SAMM's or CAS(ME)^3's numbered images) timed at another --fps than the sheet's rate
    numbers the very images the sheet numbers: its events are scored by their frames, not moved by their seconds
    (they were, and a hit at the sheet's frames became a miss and a false event)."""
    from train.spot_frames import in_truth_frames

    run = tmp_path / "run"
    run.mkdir()
    (run / "predictions.csv").write_text("time_s,frame,face_id\n0.0,0,0\n")
    hit = [Spotted("v", 100, 110, "micro", apex=104, onset_s=100 / 30, apex_s=104 / 30, offset_s=110 / 30)]
    for frames, placed in ((True, False), (False, True)):
        (run / "summary.json").write_text(json.dumps({"status": "complete", "source_fps": 30.0,
                                                       "source_frames": frames}))
        got, why = in_truth_frames(hit, run, 200.0)
        assert ((got[0].onset, got[0].offset) == (100, 110)) != placed and (why is not None) == placed


def test_each_runs_summary_is_read_once(tmp_path, monkeypatch):
    """mpt-eval spot read a run's summary.json to refuse an unfinished run, again to name the video of an events.csv
    without rows, and again to place its events in the truth's frames; it reads it once and the three use it."""
    root = _benchmark(tmp_path)
    run = tmp_path / "run"
    _events(run / "long_001", [{"video": "long_001.mp4", "onset_frame": 10, "apex_frame": 14, "offset_frame": 19,
                                "type": "micro", "onset_s": 10 / 30, "apex_s": 14 / 30, "offset_s": 19 / 30}])
    _events(run / "take", [])  # no rows and a folder name that is no video: its summary's source names it
    (run / "long_001" / "summary.json").write_text(json.dumps({"status": "complete", "source_fps": 30.0}))
    (run / "take" / "summary.json").write_text(json.dumps({"status": "complete", "source": "long_002.mp4"}))
    reads: dict[str, int] = {}
    real = Path.read_text

    def counted(self, *a, **k):
        if self.name == "summary.json":
            reads[self.parent.name] = reads.get(self.parent.name, 0) + 1
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "read_text", counted)
    spotted = read_runs([run], read_annotations_csv(root / "annotations.csv"))
    assert sorted(spotted) == ["long_001", "long_002"] and len(spotted["long_001"]) == 1
    assert reads == {"long_001": 1, "take": 1}
    reads.clear()  # with notes too (the look for run folders without an events.csv reads only theirs)
    read_runs([run], read_annotations_csv(root / "annotations.csv"), [])
    assert reads == {"long_001": 1, "take": 1}


def test_each_run_folder_is_walked_once(tmp_path, monkeypatch):
    """read_runs looked through every run folder, up to 3 levels down, for its events.csv files, for its summary.json
    files (twice where a run had no events.csv: to refuse it, then to name it) and for its failed.csv: three or four
    walks of a batch's tree, which holds a folder per video. One walk per run folder finds them all."""
    import os

    index = LongVideoIndex([LongVideo(v, "s1", 30.0, [gt(10, 19, "happiness")]) for v in ("v1", "v2", "v3")],
                           ["happiness"])
    batch, single, stopped = tmp_path / "batch", tmp_path / "single", tmp_path / "stopped"
    _events(batch / "cam" / "v1", [{"video": "v1.mp4", "onset_frame": 11, "offset_frame": 20, "type": "micro"}])
    (batch / "cam" / "v1" / "summary.json").write_text(json.dumps({"status": "complete", "source": "v1.mp4"}))
    (batch / "failed.csv").write_text("video,reason\n/data/v2.mp4,v2.mp4: boom\n")
    _events(single, [{"video": "v3.mp4", "onset_frame": 40, "offset_frame": 45, "type": "micro"}])
    stopped.mkdir()  # v2's run that failed before it wrote an events.csv, given as its own --runs
    (stopped / "summary.json").write_text(json.dumps({"status": "failed", "frames_read": 0, "source": "v2.mp4"}))
    walks: list[Path] = []
    globs: list[str] = []
    walk, glob, rglob = os.walk, Path.glob, Path.rglob

    def counted_walk(top, *a, **k):
        walks.append(Path(top))
        return walk(top, *a, **k)

    def counted_glob(self, pattern, *a, **k):
        globs.append(f"{self}: {pattern}")
        return glob(self, pattern, *a, **k)

    def counted_rglob(self, pattern, *a, **k):
        globs.append(f"{self}: **/{pattern}")
        return rglob(self, pattern, *a, **k)

    monkeypatch.setattr(os, "walk", counted_walk)
    monkeypatch.setattr(Path, "glob", counted_glob)
    monkeypatch.setattr(Path, "rglob", counted_rglob)
    notes: list[str] = []
    spotted = read_runs([batch, single, stopped], index, notes)
    assert sorted(spotted) == ["v1", "v3"] and [s.onset for s in spotted["v1"] + spotted["v3"]] == [11, 40]
    failed = [n for n in notes if "whose run failed or is incomplete" in n]
    assert len(failed) == 1 and "boom" in failed[0] and "read no frame" in failed[0]  # failed.csv; its summary.json
    assert sorted(walks) == sorted([batch, single, stopped]) and globs == [], (walks, globs)


def test_an_events_csv_two_runs_reach_is_scored_once(tmp_path):
    """A batch's --out and one of its video folders given both (or one folder twice) had that video's events.csv read
    twice: every event counted twice, the second copy of each a false positive. It is read once."""
    root = _benchmark(tmp_path)
    run = tmp_path / "run"
    _events(run / "long_001", [{"video": "long_001.mp4", "onset_frame": 11, "offset_frame": 20, "type": "micro"}])
    _events(run / "long_002", [])
    truth = read_annotations_csv(root / "annotations.csv")
    for runs in ([run, run / "long_001"], [run, run], [run / "long_001", run / "long_001" / ".." / "long_001", run]):
        spotted = read_runs(runs, truth)
        assert [(s.onset, s.offset) for s in spotted["long_001"]] == [(11, 20)], runs
        assert score(truth, spotted, "micro")["fp"] == 0
    _events(tmp_path / "other" / "long_001", [{"video": "long_001.mp4", "onset_frame": 11, "offset_frame": 20,
                                               "type": "micro"}])
    with pytest.raises(InputError, match="score each run of a video on its own"):  # two runs of one video: refused
        read_runs([run, tmp_path / "other"], truth)


def test_several_run_folders_after_one_runs_option_are_named(monkeypatch, capsys):
    """`--runs runs/*` unquoted (or two folders after one --runs): typer said only 'Got unexpected extra
    argument(s)'; the line says to give --runs once per folder."""
    import sys

    from train.eval_cli import main

    monkeypatch.setattr(sys, "argv", ["mpt-eval", "spot", "--truth", "t.csv", "--runs", "runs/a", "runs/b"])
    with pytest.raises(SystemExit) as e:
        main()
    err = capsys.readouterr().err
    assert e.value.code == 2 and err == ("error: --runs: 2 paths given (runs/a, runs/b); give --runs once per path "
                                         "(--runs runs/a --runs runs/b), or the folder above them\n"), err


def test_a_partial_run_scores_the_videos_not_run_as_missed_and_says_so_once(tmp_path):
    """A run folder lacking some truth videos (mpt-live stopped, a subset run) stopped mpt-eval at 'no events.csv for 1
    of 2 truth videos'. It is scored as the MEGC protocol scores the whole set: the truth of a video not run counts as
    missed; one warning names those videos and how many intervals they hold, and the JSON lists them."""
    root = _benchmark(tmp_path)
    run = tmp_path / "run"
    _events(run / "long_001", [{"video": "long_001.mp4", "face": 0, "onset_frame": 10, "apex_frame": 14,
                                "offset_frame": 19, "type": "micro", "class": "happiness", "score": 1.0}])
    res = CliRunner().invoke(app, ["spot", "--truth", str(root / "annotations.csv"), "--runs", str(run)])
    assert res.exit_code == 0, res.output
    out = json.loads((run / "spotting.json").read_text())
    assert (out["tp"], out["fn"]) == (1, 2) and out["by_type"]["micro"]["fn"] == 1
    assert out["not_run"] == ["long_002"]
    said = [ln for ln in res.output.replace("\n", " ").split("warning:") if "not run" in ln]
    assert len(said) == 1 and "1 of 2 truth videos" in said[0] and "1 annotated interval(s)" in said[0]
    assert "long_002" in said[0] and "missed" in said[0]
    _events(run / "long_002", [])                          # the whole run: nothing said, nothing listed
    res = CliRunner().invoke(app, ["spot", "--truth", str(root / "annotations.csv"), "--runs", str(run)])
    assert res.exit_code == 0 and "not run" not in res.output
    assert json.loads((run / "spotting.json").read_text())["not_run"] == []


@pytest.mark.parametrize("summary, placed", [
    # stopped 12 frames into a 25 fps video of the recording's 30 images: the same images, numbered as the sheet's
    ({"status": "interrupted", "frames_read": 12, "source_frame_count": 30}, False),
    ({"status": "failed", "frames_read": 12, "source_frame_count": 31}, False),   # a frame the decoder adds
    ({"status": "killed", "frames_read": 3, "source_frame_count": 4}, True),      # a re-encode at 25 fps: 30 / 8
    ({"status": "interrupted", "frames_read": 12, "source_frame_count": None}, True),  # the count not known
    ({"status": "complete", "frames_read": 30, "source_frame_count": None}, False),   # a complete run's count read
    ({"status": "complete", "frames_read": 30}, False),    # a summary from before source_frame_count
    ({"status": "interrupted", "frames_read": 12}, True)])  # ... of a stopped run: nothing says it is the same images
def test_a_stopped_run_of_a_recordings_images_made_into_a_video_keeps_its_frame_numbers(tmp_path, summary, placed):
    """A run of SAMM-LV's (or CAS(ME)^3's) images made into a video at another rate keeps its frame numbers when its
    video holds as many frames as the recording: same_images compared the frames the run read, so a run stopped
    part-way (failed, interrupted, killed) was taken for a re-encode and its events placed by their seconds at the
    recording's rate (frame 4 at 0.16 s became frame 32), its hits scored as misses. summary.json now says how many
    frames its source holds (source_frame_count), which is compared where it is known; frames_read where it is not, or
    the run is complete."""
    index = LongVideoIndex([LongVideo("006_1", "006", 200.0, [gt(4, 8, "happiness")],
                                      frames=[tmp_path / f"006_1_{i:04d}.jpg" for i in range(1, 31)])], ["happiness"])
    run = tmp_path / "run"
    _events(run / "006_1", [{"video": "006_1.mp4", "onset_frame": 4, "apex_frame": 6, "offset_frame": 8,
                             "type": "micro", "onset_s": 4 / 25, "apex_s": 6 / 25, "offset_s": 8 / 25}])
    (run / "006_1" / "summary.json").write_text(json.dumps({"source": "006_1.mp4", "source_fps": 25.0, **summary}))
    notes: list[str] = []
    got = read_runs([run], index, notes)["006_1"]
    assert ((got[0].onset, got[0].offset) == (4, 8)) != placed
    assert any("placed in the truth's frames by their seconds" in n for n in notes) == placed
    assert score(index, {"006_1": got}, "micro")["tp"] == (not placed)


@pytest.mark.parametrize("summary, events, reached, said", [
    # its run failed as it began (the model, the first frame): a summary, no events.csv, nothing read
    ({"status": "failed", "frames_read": 0, "error": "boom"}, None, {"last_frame_read": -1, "truth_intervals_after": 1},
     "read no frame of the truth, 1 truth interval(s) after it"),
    ({"status": "failed", "frames_read": 40, "error": "boom"}, None,
     {"last_frame_read": 39, "truth_intervals_after": 1}, "read to frame 39 of the truth, 1 truth interval(s) after it"),
    # a 15 fps re-encode: its 30 frames are the truth's first 2 s, frames 0..59 (the interval from 50 begun)
    ({"status": "failed", "frames_read": 30, "source_fps": 15.0, "source_seconds": 2.0, "error": "boom"}, None,
     {"last_frame_read": 59, "truth_intervals_after": 0}, "read to frame 59 of the truth, 0 truth interval(s)"),
    ({"status": "interrupted", "frames_read": 30, "source_fps": 15.0, "source_seconds": 2.0}, [],  # stopped by its
     {"last_frame_read": 59, "truth_intervals_after": 0, "left_out": True},  # user: scored to there (spot_stretch)
     "read to frame 59 of the truth, 0 truth interval(s) after it, left out"),
    # failed.csv alone (the video did not open, or its folder is elsewhere): nothing says how far it read
    (None, None, None, "how far its run read is not known")])
def test_a_video_failed_csv_lists_without_events_gets_its_unreached_count(tmp_path, summary, events, reached, said):
    """A video a batch's failed.csv lists whose folder holds no events.csv (its run failed as it began) had no count
    of the truth its run never reached (the count was taken from runs with an events.csv only), and a run without
    events at another rate than the truth's was counted in its own frame numbers. Its summary.json now says how far it
    read, by its seconds where its rate is not the truth's; where nothing says, the warning says so and the JSON has
    null."""
    root = _benchmark(tmp_path)
    run = tmp_path / "run"
    _events(run / "long_001", [{"video": "long_001.mp4", "onset_frame": 11, "offset_frame": 20, "type": "micro"}])
    (run / "failed.csv").write_text("video,reason\n/data/videos/long_002.mp4,long_002.mp4: boom\n")
    if summary is not None:
        (run / "long_002").mkdir()
        (run / "long_002" / "summary.json").write_text(json.dumps({"source": "/data/videos/long_002.mp4", **summary}))
    if events is not None:
        _events(run / "long_002", events)
    res = CliRunner().invoke(app, ["spot", "--truth", str(root), "--runs", str(run)])
    assert res.exit_code == 0, res.output
    out = json.loads((run / "spotting.json").read_text())
    assert list(out["failed"]) == ["long_002"] and out["not_reached"] == {"long_002": reached}
    named = [w for w in res.output.replace("\n", " ").split("warning:") if "long_002 (" in w]
    assert len(named) == 1 and said in " ".join(named[0].split())
    if summary is not None:  # a single run (no batch, no failed.csv): its summary.json names it the same way
        (run / "failed.csv").unlink()
        res = CliRunner().invoke(app, ["spot", "--truth", str(root), "--runs", str(run)])
        out = json.loads((run / "spotting.json").read_text())
        assert res.exit_code == 0 and list(out["failed"]) == ["long_002"]
        assert out["not_reached"] == {"long_002": reached}


def test_a_summary_cut_to_fit_a_full_disk_still_places_its_events(tmp_path, monkeypatch):
    """On a full disk summary.json is cut to its essentials; they left out the source's rate and frame counts, so a
    stopped run of a recording's images made into a video was scored by its own frame numbers at the wrong rate. The
    cut summary keeps what mpt-eval spot reads to place events."""
    import errno

    import mpt_live.rundir as rundir

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    written: list[dict] = []

    def rewrite(path, data):
        if "tracking" in data:  # the whole summary does not fit either
            full()
        written.append(data)

    monkeypatch.setattr(rundir, "write_json", full)
    monkeypatch.setattr(rundir, "rewrite_json", rewrite)
    (tmp_path / "summary.json").write_text("{}")
    rundir.finish_run(tmp_path, {"status": "interrupted", "frames_read": 12, "source_fps": 25.0,
                                 "source_fps_assumed": False, "source_frames": False, "source_frame_count": 30,
                                 "start_s": 0.4, "frames_skipped": 10, "max_seconds": 0.5, "max_seconds_reached": True,
                                 "tracking": {"big": list(range(100))}})
    cut = written[-1]
    assert "tracking" not in cut and "cut to its essentials" in cut["problems"][-1]
    # the stretch the run analysed (--start, --max-seconds): mpt-eval spot scores it on that stretch only
    assert (cut["start_s"], cut["frames_skipped"], cut["max_seconds"], cut["max_seconds_reached"]) == (0.4, 10, 0.5, True)
    from train.spot_frames import run_fps, same_images

    assert run_fps(cut) == 25.0 and same_images(cut, 30)


def test_a_run_folder_of_its_own_that_failed_as_it_began_is_named_not_refused(tmp_path):
    """A video's run folder given as its own --runs (a video run alone, --out runs/b) whose run failed before it wrote
    an events.csv stopped the whole evaluation ('no events.csv found'), where the same folder inside a batch's --out is
    scored as a failed run (its summary.json says how far it read). A folder with neither is still refused."""
    root = _benchmark(tmp_path)
    _events(tmp_path / "a", [{"video": "long_001.mp4", "onset_frame": 11, "offset_frame": 20, "type": "micro"}])
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "summary.json").write_text(json.dumps({"source": "/data/videos/long_002.mp4", "status": "failed",
                                                             "frames_read": 0, "error": "boom"}))
    res = CliRunner().invoke(app, ["spot", "--truth", str(root), "--runs", str(tmp_path / "a"),
                                   "--runs", str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    out = json.loads((tmp_path / "a" / "spotting.json").read_text())
    assert list(out["failed"]) == ["long_002"]
    assert out["not_reached"] == {"long_002": {"last_frame_read": -1, "truth_intervals_after": 1}}
    (tmp_path / "c").mkdir()
    res = CliRunner().invoke(app, ["spot", "--truth", str(root), "--runs", str(tmp_path / "a"),
                                   "--runs", str(tmp_path / "c")])
    assert res.exit_code == 2 and "c: no events.csv found" in res.output


def test_a_json_output_typed_as_a_folder_is_one_line_not_a_file_of_its_name(tmp_path):
    """--out results/ (a folder not made yet) wrote the JSON as a file named 'results': typer's Path dropped the
    trailing slash. It is one line suggesting a file in it, and nothing is written."""
    root = _benchmark(tmp_path)
    run = tmp_path / "run"
    _events(run / "long_001", [])
    _events(run / "long_002", [])
    res = CliRunner().invoke(app, ["spot", "--truth", str(root), "--runs", str(run), "--out", f"{tmp_path / 'res'}/"])
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 2 and lines == [f"error: --out {tmp_path / 'res'}/: a folder, expected a file name (e.g. "
                                            f"{tmp_path / 'res' / 'spotting.json'})"], lines
    assert not (tmp_path / "res").exists()


@pytest.mark.parametrize("columns", [EVENT_COLUMNS, [c for c in EVENT_COLUMNS if c != "event_id"]])
def test_files_a_spreadsheet_saved_with_a_byte_order_mark_score_as_the_plain_ones(tmp_path, columns):
    # a spreadsheet's "CSV UTF-8" save starts the file with a byte-order mark: the first column (event_id, or video in
    # an events.csv from before that column; time_s in predictions.csv) must keep its name
    from train.spot_frames import first_time

    root = _benchmark(tmp_path)
    row = {"video": "long_001.mp4", "face": 0, "onset_frame": 11, "apex_frame": 14, "offset_frame": 20,
           "type": "micro", "class": "happiness", "score": 3.0, "event_id": 1}
    results = []
    for bom in (False, True):
        run = tmp_path / f"run{int(bom)}"
        (run / "long_001").mkdir(parents=True)
        with open(run / "long_001" / "events.csv", "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as fh:
            w = csv.DictWriter(fh, columns)
            w.writeheader()
            w.writerow({c: row.get(c, "") for c in columns})
        (run / "long_001" / "predictions.csv").write_text("time_s,frame,face_id\n0.5,15,0\n",
                                                          encoding="utf-8-sig" if bom else "utf-8")
        assert first_time(run / "long_001") == 0.5
        res = CliRunner().invoke(app, ["spot", "--truth", str(root / "annotations.csv"), "--runs", str(run),
                                       "--type", "micro", "--out", str(tmp_path / f"s{int(bom)}.json")])
        assert res.exit_code == 0, res.output
        out = json.loads((tmp_path / f"s{int(bom)}.json").read_text())
        results.append((out["tp"], out["fp"], out["fn"]))
    assert results[0] == results[1] and results[0][0] == 1  # the movement at frames 10-19 found in both


@pytest.mark.parametrize("status, expected", [("killed", (1, 0, 2)), ("complete", (1, 1, 2))])
def test_a_killed_runs_row_cut_short_is_left_out_not_refused(tmp_path, status, expected):
    """A run killed while writing an events.csv row leaves that row's start without a line end: mpt-eval spot refused
    the whole evaluation ("type None is not micro or macro"); it now leaves the row out, as mpt-live's --finish and
    overview do. A finished run's last line without a line end (a re-save) is a whole row and is scored."""
    root = _benchmark(tmp_path)
    run = tmp_path / "run"
    _events(run / "long_001", [{"video": "long_001.mp4", "onset_frame": 11, "offset_frame": 20, "type": "micro"}])
    with open(run / "long_001" / "events.csv", "a", newline="") as fh:
        fh.write(",long_001.mp4,0,,,,600,,610,micro" if status == "complete" else "99,long_001.mp4,0,0.3")
    (run / "long_001" / "summary.json").write_text(json.dumps({"status": status, "source": "long_001.mp4"}))
    res = CliRunner().invoke(app, ["spot", "--truth", str(root), "--runs", str(run), "--type", "all"])
    assert res.exit_code == 0, res.output
    out = json.loads((run / "spotting.json").read_text())
    assert (out["tp"], out["fp"], out["fn"]) == expected


def _two_clips(tmp_path: Path, first: str, second: str) -> Path:
    root = tmp_path / "bench"
    root.mkdir()
    (root / "annotations.csv").write_text("video,onset,apex,offset,fps,type,label\n"
                                          f"{first},10,14,19,30,micro,happiness\n"
                                          f"{second},100,104,109,30,micro,surprise\n")
    return root / "annotations.csv"


def _hits(first: str, second: str) -> list[dict]:
    return [{"video": first, "onset_frame": 10, "offset_frame": 19, "type": "micro"},
            {"video": second, "onset_frame": 100, "offset_frame": 109, "type": "micro"}]


@pytest.mark.parametrize("truth, events, expected", [
    # one name each: each file's events scored against its own truth (the sheet's two files were one video, 'clip')
    (("clip.mov", "clip.mkv"), {"run": _hits("clip.mov", "/data/clip.mkv")}, {"clip.mov": 1, "clip.mkv": 1}),
    (("a/clip.mp4", "b/clip.mp4"), {"run": _hits("/data/videos/a/clip.mp4", "b/clip.mp4")},
     {"a/clip.mp4": 1, "b/clip.mp4": 1}),
    (("a/clip.mov", "b/clip.mov"), {"run": _hits("x/a/clip.mp4", "x/b/clip.mp4")},  # re-encodes: the folder says
     {"a/clip.mov": 1, "b/clip.mov": 1}),
    (("a/clip.mp4", "b/clip.mp4"), {"run/clip": [], "run/clip_2": _hits("b/clip.mp4", "b/clip.mp4")[1:],
                                    "summary": "/data/videos/a/clip.mp4"}, {"a/clip.mp4": 0, "b/clip.mp4": 1}),
    # as mpt-live writes them: a file's name only in its events, its batch folder (DIR's folders mirrored) says which
    (("a/clip.mp4", "b/clip.mp4"), {"run/a/clip": _hits("clip.mp4", "clip.mp4")[:1],
                                    "run/b/clip": _hits("clip.mp4", "clip.mp4")[1:]}, {"a/clip.mp4": 1, "b/clip.mp4": 1}),
    # a name both fit: refused, naming the run's file and both truth videos
    (("clip.mov", "clip.mkv"), {"run": _hits("clip.mp4", "clip.mkv")}, "run/events.csv: video 'clip.mp4' fits the "
     "truth videos clip.mkv and clip.mov alike"),
    (("a/clip.mp4", "b/clip.mp4"), {"run": _hits("/elsewhere/clip.mp4", "b/clip.mp4")},
     "run/events.csv: video '/elsewhere/clip.mp4' fits the truth videos a/clip.mp4 and b/clip.mp4 alike"),
    (("a/clip.mp4", "b/clip.mp4"), {"run/x": _hits("clip.mp4", "clip.mp4")[:1]},  # nor does its folder say
     "run/x/events.csv: video 'clip.mp4' fits the truth videos a/clip.mp4 and b/clip.mp4 alike"),
    (("a/clip.mp4", "b/clip.mp4"), {"run/clip": [], "run/b": _hits("b/clip.mp4", "b/clip.mp4")[1:]},
     "run/clip: video 'clip' fits the truth videos a/clip.mp4 and b/clip.mp4 alike"),
])
def test_truth_videos_sharing_a_stem_are_told_apart_or_refused(tmp_path, truth, events, expected):
    """A truth of clip.mov and clip.mkv (or a/clip.mp4 and b/clip.mp4) was read as one video 'clip', both files'
    intervals in it, and a run's events matched by the stem. Each file is a truth video now (named by its path where
    another shares its stem), a run's video matched by the most specific name a truth video has; one both fit is a
    one-line error."""
    sheet = _two_clips(tmp_path, *truth)
    index = read_annotations_csv(sheet)
    assert sorted(v.name for v in index.videos) == sorted(truth)
    summary = events.pop("summary", None)
    for folder, rows in events.items():
        _events(tmp_path / folder, rows)
        if summary and not rows:
            (tmp_path / folder / "summary.json").write_text(json.dumps({"status": "complete", "source": summary}))
    res = CliRunner().invoke(app, ["spot", "--truth", str(sheet), "--runs", str(tmp_path / "run"), "--out",
                                   str(tmp_path / "s.json")])
    if isinstance(expected, str):
        assert res.exit_code == 2 and "Traceback" not in res.output
        assert f"error: {tmp_path / expected}" in " ".join(res.output.split()), res.output
        return
    assert res.exit_code == 0, res.output
    got = json.loads((tmp_path / "s.json").read_text())["videos"]
    assert {v: c["micro"]["tp"] for v, c in got.items()} == expected
    assert sum(c["micro"]["fp"] for c in got.values()) == 0


def _faced(faces: tuple[str, str] = ("0", "1")) -> LongVideoIndex:
    a, b = faces
    return LongVideoIndex([LongVideo("duo", "s", 30.0, [replace(gt(10, 19, "happiness"), face=a),
                                                        replace(gt(100, 109, "surprise"), face=b)])],
                          ["happiness", "surprise"])


def fsp(on, off, face, cls=""):
    return replace(sp(on, off, 1.0, cls, video="duo"), face=face)


@pytest.mark.parametrize("faces, spotted, counts, pairs, pooled", [  # pooled: the counts without faces
    # each face's events on its own truth: run IDs equal to the truth's
    (("0", "1"), [fsp(10, 19, "0"), fsp(100, 109, "1")], (2, 0, 0), {"0": "0", "1": "1"}, (2, 0, 0)),
    # the run's IDs the other way round (or other names): paired by what they hit
    (("0", "1"), [fsp(10, 19, "1"), fsp(100, 109, "0")], (2, 0, 0), {"1": "0", "0": "1"}, (2, 0, 0)),
    (("anna", "ben"), [fsp(10, 19, "0"), fsp(100, 109, "1")], (2, 0, 0), {"0": "anna", "1": "ben"}, (2, 0, 0)),
    # face 1 moved when face 0's movement is annotated (pooled: a hit) and at its own: one pairing makes one TP
    # either way, the equal IDs' kept: 12..21 false, 10..19 missed, face 0's 300..309 false
    (("0", "1"), [fsp(300, 309, "0"), fsp(12, 21, "1"), fsp(100, 109, "1")], (1, 2, 1), {"1": "1"}, (2, 1, 0)),
    # a third face (a poster, a passer-by): paired with none, its events false
    (("0", "1"), [fsp(10, 19, "0"), fsp(100, 109, "1"), fsp(100, 109, "2")], (2, 1, 0), {"0": "0", "1": "1"},
     (2, 1, 0)),
    # one run face on both people's movements (a track that jumped): one pair, the other truth face missed
    (("0", "1"), [fsp(10, 19, "0"), fsp(100, 109, "0")], (1, 1, 1), {"0": "0"}, (2, 0, 0)),
    (("1", "0"), [fsp(10, 19, "1.0"), fsp(100, 109, "0")], (2, 0, 0), {"1": "1", "0": "0"}, (2, 0, 0)),  # 1.0: 1
])
def test_a_truth_that_names_faces_is_scored_per_face(faces, spotted, counts, pairs, pooled):
    """In a video of two people, a run's event on one face matched the other's annotated movement, and the truth's
    faces were not read. Where the truth names faces, each of the run's face IDs is paired with one of them at most, to
    make the most true positives, and each pair is matched on its own (fragments of a track: tests/test_spot_faces.py)."""
    r = score(_faced(faces), {"duo": spotted}, "micro")
    assert (r["tp"], r["fp"], r["fn"]) == counts
    assert r["face_pairs"] == {"duo": pairs} and "at most one truth face" in r["face_pairing"]
    assert r["videos"]["duo"]["micro"] == dict(zip(("tp", "fp", "fn"), counts))
    faceless = LongVideoIndex([replace(v, intervals=[replace(iv, face="") for iv in v.intervals])
                               for v in _faced(faces).videos], ["happiness", "surprise"])
    r = score(faceless, {"duo": spotted}, "micro")  # no faces named: the video's events pooled, as before
    assert "face_pairs" not in r and (r["tp"], r["fp"], r["fn"]) == pooled


def test_the_face_column_of_annotations_csv(tmp_path):
    root = tmp_path / "bench"
    root.mkdir()
    sheet = root / "annotations.csv"
    sheet.write_text("video,face,onset,apex,offset,fps,type,label\n"
                     "duo.mp4,0,10,14,19,30,micro,happiness\n"
                     "duo.mp4,1,10,14,19,30,micro,surprise\n"  # both people at once: two intervals, not a repeat
                     "duo.mp4,1,100,104,109,30,micro,surprise\n")
    assert [(iv.face, iv.onset) for iv in read_annotations_csv(sheet).videos[0].intervals] == [
        ("0", 10), ("1", 10), ("1", 100)]
    run = tmp_path / "run"
    _events(run / "duo", [{"video": "duo.mp4", "face": f, "onset_frame": on, "offset_frame": on + 9, "type": "micro",
                           "class": c} for f, on, c in ((3, 10, "happiness"), (5, 100, "surprise"))])
    res = CliRunner().invoke(app, ["spot", "--truth", str(sheet), "--runs", str(run)])
    assert res.exit_code == 0, res.output
    out = json.loads((run / "spotting.json").read_text())
    assert (out["tp"], out["fp"], out["fn"]) == (2, 0, 1) and out["face_pairs"] == {"duo": {"3": "0", "5": "1"}}
    assert "1 scored per face" in " ".join(res.output.split())
    sheet.write_text("video,face,onset,apex,offset,fps,type\nduo.mp4,0,10,14,19,30,micro\nduo.mp4,,50,54,59,30,micro\n"
                     "solo.mp4,,10,14,19,30,micro\n")
    res = CliRunner().invoke(app, ["spot", "--truth", str(sheet), "--runs", str(run)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert f"{sheet} row 3 (duo.mp4): no face, where rows of its video name faces (0)" in " ".join(res.output.split())


def test_a_bare_file_name_two_truth_videos_share_is_settled_by_the_runs_summary_source(tmp_path):
    # mpt-live writes only the file's name in events.csv; its summary.json's source is the whole path it read
    sheet = _two_clips(tmp_path, "a/clip.mp4", "b/clip.mp4")
    for folder, row, source in (("r1", 0, "a/clip.mp4"), ("r2", 1, "b/clip.mp4")):
        _events(tmp_path / "run" / folder, _hits("clip.mp4", "clip.mp4")[row:row + 1])
        (tmp_path / "run" / folder / "summary.json").write_text(json.dumps(
            {"status": "complete", "source": str(tmp_path / "bench" / source)}))
    res = CliRunner().invoke(app, ["spot", "--truth", str(sheet), "--runs", str(tmp_path / "run"), "--out",
                                   str(tmp_path / "s.json")])
    assert res.exit_code == 0, res.output
    got = json.loads((tmp_path / "s.json").read_text())["videos"]
    assert {v: (c["micro"]["tp"], c["micro"]["fp"]) for v, c in got.items()} == {"a/clip.mp4": (1, 0),
                                                                                 "b/clip.mp4": (1, 0)}


@pytest.mark.parametrize("truth_types, kind, said", [
    (("macro",), "all", ("the truth annotates macro intervals only: the runs' 2 micro event(s) count as false "
                         "positives in the 'all' figures (--type macro scores the macro events alone)")),
    (("macro",), "micro", "in the 'micro' figures"),
    (("macro",), "macro", None),           # the headline leaves the micro events out
    (("macro", "micro"), "all", None),     # both annotated: the micro events are scored as they should be
])
def test_a_truth_of_one_type_says_the_other_types_events_count_as_false(truth_types, kind, said):
    """A sheet of macro-expressions only, scored with the default --type all: the run's micro events were all false
    positives in the headline and nothing said why its precision was low."""
    truth = LongVideoIndex([LongVideo("v1", "s", 30.0, [gt(100 * i, 100 * i + 40, kind=t)
                                                         for i, t in enumerate(truth_types)])], [])
    spotted = {"v1": [sp(0, 40, kind="macro"), sp(300, 309), sp(400, 409)]}
    r = score(truth, spotted, kind)
    assert r["by_type"]["all"]["fp"] == 2  # the pooled counts themselves are MEGC's, as before
    told = [w for w in r["warnings"] if "annotates" in w]
    assert (told == []) if said is None else (len(told) == 1 and said in told[0]), told
    assert not [w for w in score(truth, {"v1": spotted["v1"][:1]}, kind)["warnings"] if "annotates" in w]


def test_a_batch_the_truth_annotates_in_part_is_told_how_to_score_that_part(tmp_path):
    """A batch of three videos whose truth annotates two: the refusal says how to score the annotated part (their
    folders as --runs), and doing so scores them."""
    root = _benchmark(tmp_path)
    run = tmp_path / "run"
    _events(run / "long_001", [{"video": "long_001.mp4", "onset_frame": 11, "offset_frame": 20, "type": "micro"}])
    _events(run / "long_002", [])
    _events(run / "extra", [{"video": "extra.mp4", "onset_frame": 1, "offset_frame": 5, "type": "micro"}])
    res = CliRunner().invoke(app, ["spot", "--truth", str(root), "--runs", str(run)])
    assert res.exit_code == 2 and "'extra.mp4' is not in the truth" in res.output
    assert "if the truth annotates only some of the run's videos, give their folders as --runs (repeat it)" in \
        " ".join(res.output.split())
    res = CliRunner().invoke(app, ["spot", "--truth", str(root), "--runs", str(run / "long_001"),
                                   "--runs", str(run / "long_002"), "--type", "micro",
                                   "--out", str(tmp_path / "s.json")])
    assert res.exit_code == 0, res.output
    out = json.loads((tmp_path / "s.json").read_text())
    assert (out["tp"], out["fp"], out["fn"]) == (1, 0, 1)
