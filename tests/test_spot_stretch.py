"""mpt-eval spot of a run that analysed a stretch of its video only (--start, --max-seconds, a run its user stopped):
the truth outside the stretch is left out, not counted as missed (train/spot_stretch.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mpt_live.spotting import EVENT_COLUMNS
from train.eval_cli import app

runner = CliRunner()


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _truth(root: Path, video: str, intervals: list[tuple[int, int]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = ["video,onset,apex,offset,fps,type"] + [f"{video},{a},{a},{b},30,macro" for a, b in intervals]
    (root / "annotations.csv").write_text("\n".join(lines) + "\n")
    return root / "annotations.csv"


@pytest.fixture(scope="module")
def stretch_run(faces_dir, tmp_path_factory):
    """A motion-only run of seconds 20-28 of a shared 58 s video."""
    from mpt_live.cli import app as live

    out = tmp_path_factory.mktemp("stretch") / "run"
    res = runner.invoke(live, ["--video", str(faces_dir / "videos" / "paddlegan_fom_dv.mp4"), "--motion-only",
                               "--headless", "--start", "20", "--max-seconds", "8", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_a_start_and_max_seconds_run_is_scored_on_its_stretch_only(stretch_run, tmp_path):
    """Before, the truth before --start and after --max-seconds counted as missed: recall fell with every interval
    the run was never asked to read. Those wholly outside are left out now, one overlapping the start is kept, and
    one line (and 'stretches' in the JSON) says which frames were scored."""
    summary = json.loads((stretch_run / "summary.json").read_text())
    first, last = summary["frames_skipped"], summary["frames_skipped"] + summary["frames_read"] - 1
    assert first == 600 and summary["max_seconds_reached"], summary
    events = _rows(stretch_run / "events.csv")
    inside = [(int(e["onset_frame"]), int(e["offset_frame"])) for e in events[:1]] or [(700, 720)]
    truth = _truth(tmp_path / "truth", "paddlegan_fom_dv.mp4",
                   [(100, 120), (first - 10, first + 10), *inside, (last + 100, last + 130)])
    res = runner.invoke(app, ["spot", "--truth", str(truth), "--runs", str(stretch_run),
                              "--out", str(tmp_path / "s.json")])
    assert res.exit_code == 0, res.output
    out = json.loads((tmp_path / "s.json").read_text())
    span = out["stretches"]["paddlegan_fom_dv"]
    assert (span["first_frame"], span["last_frame"], span["truth_left_out"]) == (first, last, 2), span
    assert span["asked"] == "--start 20 s, --max-seconds 8 s"
    assert out["n_truth"] == 2 and out["fn"] == 2 - out["tp"] and out["tp"] == len(events[:1]), out
    text = " ".join(res.output.split())
    assert (f"paddlegan_fom_dv: scored frames {first}-{last} of the truth (20-{(last + 1) / 30:g} s), the stretch its "
            "run analysed (--start 20 s, --max-seconds 8 s); 2 truth interval(s) wholly outside it left out") in text


def _stopped_run(folder: Path, status: str) -> Path:
    """A run that read frames 0-299 of a 30 fps video and spotted one event (30-45), then stopped (``status``)."""
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps({"status": status, "frames_read": 300, "source_fps": 30.0,
                                                     "source": "clip.mp4", "start_s": None, "frames_skipped": 0,
                                                     "max_seconds_reached": False}))
    with open(folder / "events.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, EVENT_COLUMNS)
        w.writeheader()
        w.writerow({c: "" for c in EVENT_COLUMNS} | {"video": "clip.mp4", "onset_frame": 30, "offset_frame": 45,
                                                     "onset_s": 1.0, "offset_s": 1.5, "type": "macro", "score": 1})
    (folder / "predictions.csv").write_text("time_s,frame,face_id\n" + "".join(
        f"{i / 30:.4f},{i},0\n" for i in range(300)))
    return folder


@pytest.mark.parametrize("status, n_truth, left_out", [("interrupted", 2, 1), ("killed", 2, 1), ("failed", 3, 0)])
def test_a_run_its_user_stopped_is_scored_to_where_it_stopped(tmp_path, status, n_truth, left_out):
    """A run stopped by Ctrl-C or killed (then --finish'ed) is scored on frames 0-299, the interval after them left
    out; a run stopped by an error (failed) still has what it did not read counted as missed, as MEGC would."""
    run = _stopped_run(tmp_path / "run", status)
    truth = _truth(tmp_path / "truth", "clip.mp4", [(30, 45), (280, 320), (900, 920)])
    res = runner.invoke(app, ["spot", "--truth", str(truth), "--runs", str(run), "--out", str(tmp_path / "s.json")])
    assert res.exit_code == 0, res.output
    out = json.loads((tmp_path / "s.json").read_text())
    assert (out["n_truth"], out["tp"]) == (n_truth, 1), out
    assert out["not_reached"]["clip"].get("left_out", False) is bool(left_out)
    text = " ".join(res.output.split())
    if left_out:
        assert out["stretches"]["clip"] == {"first_frame": 0, "last_frame": 299, "first_s": 0.0, "last_s": 10.0,
                                            "asked": f"{status} part-way", "truth_left_out": 1}
        assert "clip: scored frames 0-299 of the truth (0-10 s)" in text and "1 truth interval(s) after it, left out" \
            in text and "missed by the run" not in text, text
    else:
        assert out["stretches"] == {} and "1 truth interval(s) lie after where their run stopped, missed" in text


def test_a_killed_run_from_start_is_scored_from_its_start(tmp_path):
    """A run from --start 20 killed, then finished by mpt-live --finish, has no frames_skipped in its summary (its
    frames_read counts from frame 0): its stretch starts at its first predictions row (frame 600), not at frame 0,
    so the truth before its start is left out as a complete run's is."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps({"status": "killed", "start_s": 20.0, "frames_read": 900,
                                                  "source_fps": 30.0, "source": "clip.mp4", "source_seconds": 29.967}))
    with open(run / "events.csv", "w", newline="") as fh:
        csv.DictWriter(fh, EVENT_COLUMNS).writeheader()
    (run / "predictions.csv").write_text("time_s,frame,face_id\n" + "".join(
        f"{i / 30:.4f},{i},0\n" for i in range(600, 900)))
    truth = _truth(tmp_path / "truth", "clip.mp4", [(100, 120), (700, 720), (1000, 1020)])
    res = runner.invoke(app, ["spot", "--truth", str(truth), "--runs", str(run), "--out", str(tmp_path / "s.json")])
    assert res.exit_code == 0, res.output
    out = json.loads((tmp_path / "s.json").read_text())
    span = out["stretches"]["clip"]
    assert (span["first_frame"], span["last_frame"], span["truth_left_out"]) == (600, 899, 2), span
    assert (out["n_truth"], out["fn"]) == (1, 1)


@pytest.mark.parametrize(("limit", "scored", "left_out"), [(None, 2, 0), (10.0, 1, 1)])
def test_a_failed_run_from_start_is_scored_on_the_stretch_it_was_asked_for(tmp_path, limit, scored, left_out):
    """A run from --start 5 that failed at frame 299: an error is no stop its user asked for, so the truth after it in
    the stretch asked for counts as missed, as the same failure from frame 0 does (it was left out of the figures,
    the same run from 0 s getting it missed); with --max-seconds 10 the stretch asked for ends at 15 s (frame 449):
    the truth at 900-920 is outside it and left out. The warning says what the figures do (one function decides)."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps({"status": "failed", "error": "decoder error", "start_s": 5.0,
                                                  "frames_skipped": 150, "frames_read": 150, "source_fps": 30.0,
                                                  "source": "clip.mp4", "max_seconds": limit,
                                                  "max_seconds_reached": False}))
    with open(run / "events.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, EVENT_COLUMNS)
        w.writeheader()
        w.writerow({c: "" for c in EVENT_COLUMNS} | {"video": "clip.mp4", "onset_frame": 160, "offset_frame": 175,
                                                     "onset_s": 160 / 30, "offset_s": 175 / 30, "type": "macro"})
    truth = _truth(tmp_path / "truth", "clip.mp4", [(160, 175), (900, 920)])
    res = runner.invoke(app, ["spot", "--truth", str(truth), "--runs", str(run), "--out", str(tmp_path / "s.json")])
    assert res.exit_code == 0, res.output
    out = json.loads((tmp_path / "s.json").read_text())
    span = out["stretches"]["clip"]
    assert span["truth_left_out"] == left_out and (out["n_truth"], out["tp"], out["fn"]) == (scored, 1, scored - 1)
    assert span["last_frame"] == (920 if limit is None else 449), span
    text = " ".join(res.output.split())
    assert f"{1 - left_out} truth interval(s) lie after where their run stopped, missed by the run" in text, text
    assert "left out: scored to where it stopped" not in text, text


def test_a_variable_rate_run_s_stretch_ends_at_its_last_frame_s_time_not_frames_over_the_header_rate(tmp_path):
    """interview_mixed.mp4's header says 29 fps, its 5653 frames end at 171.8 s (source_seconds 171.768): its stretch
    was taken to end at 5653 / 29 = 194.9 s ('scored frames 0-5847'), so truth between 171.8 and 194.9 s, which the
    run never saw, counted as missed. The run's own last frame time ends it where known."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps({"status": "complete", "start_s": None, "frames_read": 5653,
                                                  "frames_skipped": None, "source_fps": 29.0, "max_seconds": 60.0,
                                                  "max_seconds_reached": True, "source": "clip.mp4",
                                                  "source_seconds": 171.768}))
    with open(run / "events.csv", "w", newline="") as fh:
        csv.DictWriter(fh, EVENT_COLUMNS).writeheader()
    (run / "predictions.csv").write_text("time_s,frame,face_id\n" + "".join(
        f"{f * 171.768 / 5652:.4f},{f},0\n" for f in range(0, 5653, 2)))
    truth = _truth(tmp_path / "truth", "clip.mp4", [(477, 484), (5100, 5110), (5300, 5310)])  # 170 s, 176.7 s
    res = runner.invoke(app, ["spot", "--truth", str(truth), "--runs", str(run), "--out", str(tmp_path / "s.json")])
    assert res.exit_code == 0, res.output
    span = json.loads((tmp_path / "s.json").read_text())["stretches"]["clip"]
    assert span["last_s"] == pytest.approx(171.8, abs=0.05) and 5150 <= span["last_frame"] <= 5154, span
    assert span["truth_left_out"] == 1
