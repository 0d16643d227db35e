"""``mpt-live --finish DIR``: a run killed outright (SIGKILL: nothing can be caught) finished from its files:
summary.json (status killed), timeline.png and report.html from the rows and events it wrote; the refusals."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

import faultkit as fk
from mpt_live.results import columns
from test_faults import cli, our_lines, start, summary

DEAD_PID = 2 ** 22 + 12345  # above pid_max: no such process


@pytest.fixture(scope="module")
def long_face(faces_dir, tmp_path_factory) -> Path:
    """About 70 s of a real expressive face (a 12 s clip six times over): events within its first seconds, long
    enough to be killed mid-way."""
    out = tmp_path_factory.mktemp("long") / "long.mp4"
    fk.ffmpeg("-stream_loop", "5", "-i", str(faces_dir / "videos" / "liveportrait_d3_expressive.mp4"), "-c", "copy",
              str(out))
    return out


@pytest.fixture
def finish(run_main):
    """``finish(*args)``: ``mpt-live ARGS`` run in this process (conftest's run_main: its exit status and what it
    prints, warnings included, as a subprocess's would be), as a CompletedProcess (all it printed in stderr). For the
    tests whose --finish reads and writes a run's files; those about which process holds a folder run it apart."""
    def run(*args: str) -> subprocess.CompletedProcess:
        status, printed = run_main("mpt_live.cli", *args)
        return subprocess.CompletedProcess(["mpt-live", *args], status, "", "\n".join(printed))

    return run


def data_rows(path: Path) -> int:
    return max(0, path.read_bytes().count(b"\n") - 1) if path.is_file() else 0


def page_events(page: Path) -> list[dict]:
    m = re.search(r'<script type="application/json" id="run-data">(.*?)</script>', page.read_text(), re.S)
    assert m, "report.html has no #run-data"
    return json.loads(m.group(1).replace("<\\/", "</"))["events"]


def test_a_killed_run_is_finished_from_its_files(tmp_path, long_face, finish):
    """SIGKILL left rows, events and a 'running' marker but no plot, no page: --finish makes them from the files,
    with status killed (a rerun still redoes the video); the CSVs are not touched; a second --finish changes
    nothing."""
    out = tmp_path / "o"
    proc = start("--video", str(long_face), "--motion-only", "--headless", "--out", str(out))
    deadline = time.monotonic() + 300
    while data_rows(out / "events.csv") < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it was killed"
    marker = summary(out)
    assert marker["status"] == "running" and not (out / "report.html").exists()
    csvs = {n: (out / n).read_bytes() for n in ("predictions.csv", "events.csv")}

    res = finish("--finish", str(out))
    lines = our_lines(res.stderr + res.stdout)
    assert res.returncode == 0 and len(lines) == 1 and "finished from its files (status killed)" in lines[0], lines
    s = summary(out)
    assert s["status"] == "killed" and s["problems"] and "--finish" in s["problems"][0]
    assert s["source"] == str(long_face) and s["model"] == marker["model"] and s["source_fps"] == marker["source_fps"]
    with open(out / "events.csv", newline="") as fh:
        written = [(int(r["event_id"]), int(r["face"]), int(r["onset_frame"]), int(r["apex_frame"]),
                    int(r["offset_frame"]), r["type"]) for r in csv.DictReader(fh)]
    assert len(written) >= 2
    shown = [(e["event_id"], e["face"], e["onset_frame"], e["apex_frame"], e["offset_frame"], e["type"])
             for e in page_events(out / "report.html")]  # each with the ID the run wrote
    assert sorted(shown) == sorted(written) and len(s["events"]) == len(written)
    with open(out / "predictions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    last = max([int(r["frame"]) for r in rows] + [w[4] for w in written])  # an event may close before its windows
    assert s["windows"] == len(rows) and s["frames_read"] == last + 1 < 354 * 6
    assert (out / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert s["outputs"]["timeline"] == "timeline.png" and s["outputs"]["report"] == "report.html"
    assert {n: (out / n).read_bytes() for n in csvs} == csvs
    assert not [p.name for p in out.iterdir() if ".tmp" in p.name]

    before = (out / "summary.json").read_bytes()
    res = finish("--finish", str(out))
    assert res.returncode == 0 and "already finished (status killed): nothing changed" in res.stderr + res.stdout
    assert (out / "summary.json").read_bytes() == before


def test_a_killed_run_from_start_keeps_its_count_of_frames_passed_over(tmp_path, long_face, finish):
    """A run from --start 20 killed outright: its summary's frames_skipped was null after --finish (frames_read
    counted from frame 0), so mpt-eval spot guessed its stretch's start from its first row. The marker gets the count
    at the run's first frame analysed (every frame before --start passed over by then): --finish keeps it, and
    frames_read counts from there, as a finished run's does."""
    out = tmp_path / "o"
    proc = start("--video", str(long_face), "--motion-only", "--headless", "--out", str(out), "--start", "20")
    deadline = time.monotonic() + 300
    while data_rows(out / "predictions.csv") < 5 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it was killed"
    marker = summary(out)
    skipped = math.ceil(20 * marker["source_fps"] - 1e-6)  # the frames before 20 s (frame k at k / fps)
    assert marker["status"] == "running" and marker["frames_skipped"] == skipped
    res = finish("--finish", str(out))
    assert res.returncode == 0, res.stderr
    s = summary(out)
    with open(out / "predictions.csv", newline="") as fh:
        frames = [int(r["frame"]) for r in csv.DictReader(fh)]
    last = max([*frames, *(e["offset_frame"] for e in s["events"])])
    assert s["status"] == "killed" and s["frames_skipped"] == skipped <= min(frames)
    assert s["frames_read"] == last + 1 - skipped and s["start_s"] == 20


def _run_folder(d: Path, status: str, pid: int = DEAD_PID) -> Path:
    """A run's folder as a killed run leaves it (``status`` running) or a finished one: a few rows, no event."""
    d.mkdir(parents=True)
    (d / "summary.json").write_text(json.dumps({"status": status, "source": str(d / "v.mp4"), "pid": pid,
                                                "host": socket.gethostname()}))
    with open(d / "predictions.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, columns([]))
        w.writeheader()
        for k in range(5):
            w.writerow({"time_s": k / 15, "frame": 2 * k, "face_id": 0, "x": 1, "y": 1, "w": 9, "h": 9,
                        "motion_score": 1.0 + k, "top": "neutral"})
    with open(d / "events.csv", "w", newline="") as fh:
        fh.write("video,face,onset_s,apex_s,offset_s,onset_frame,apex_frame,offset_frame,type,class,confidence,score\r\n")
    return d


def test_a_batch_out_finishes_each_killed_video_and_leaves_the_others(tmp_path, finish):
    out = tmp_path / "batch"
    killed = _run_folder(out / "a", "running")
    done = _run_folder(out / "sub" / "b", "complete")
    before = (done / "summary.json").read_bytes()
    res = finish("--finish", str(out))
    text = res.stderr + res.stdout
    assert res.returncode == 0, text
    assert summary(killed)["status"] == "killed" and (killed / "report.html").is_file()
    assert summary(killed)["frames_read"] == 9 and summary(killed)["windows"] == 5
    assert "already finished (status complete): nothing changed" in text
    assert (done / "summary.json").read_bytes() == before and not (done / "report.html").exists()


def test_finish_on_a_batch_out_rebuilds_its_overview(tmp_path, finish):
    """A batch killed outright left an overview without its killed video (summary 'running'): --finish OUT lists
    it there too (incomplete, linked to its new report), keeping the finished and the failed videos."""
    from mpt_live.overview import write_overview

    out = tmp_path / "batch"
    killed, done = _run_folder(out / "a", "running"), _run_folder(out / "b", "complete")
    (out / "failed.csv").write_text(f"video,reason\n{tmp_path / 'c.mp4'},cannot be read\n")
    videos = [killed / "v.mp4", done / "v.mp4", tmp_path / "c.mp4"]
    write_overview(out, videos, [killed, done, out / "c"], [(tmp_path / "c.mp4", "cannot be read")])
    with open(out / "videos.csv", newline="") as fh:
        assert [r["folder"] for r in csv.DictReader(fh)] == ["b", ""]  # the killed video is not listed yet
    res = finish("--finish", str(out))
    text = res.stderr + res.stdout
    assert res.returncode == 0 and "overview" in text and "rebuilt: 3 videos" in text, text
    with open(out / "videos.csv", newline="") as fh:
        rows = {r["folder"]: r for r in csv.DictReader(fh)}
    assert rows.keys() == {"a", "b", ""} and rows["a"]["status"] == "incomplete" and "--finish" in rows["a"]["reason"]
    assert rows["b"]["status"] == "done" and rows[""]["status"] == "failed" and rows[""]["reason"] == "cannot be read"
    assert 'href="a/report.html"' in (out / "index.html").read_text()
    assert (out / "all_events.csv").is_file()


def test_finish_of_a_single_killed_run_in_a_batch_video_folder_rebuilds_that_batchs_overview(tmp_path, finish):
    """A video run again alone into its batch folder (OUT/a) and killed there: --finish OUT/a finishes it and, as the
    run's own end would have, rebuilds OUT's overview (it listed the earlier, complete run)."""
    from mpt_live.overview import write_overview

    out = tmp_path / "batch"
    a, b = _run_folder(out / "a", "complete"), _run_folder(out / "b", "complete")
    write_overview(out, [a / "v.mp4", b / "v.mp4"], [a, b], [])
    shutil.rmtree(a)
    _run_folder(out / "a", "running")  # the single run, killed
    res = finish("--finish", str(a))
    text = res.stderr + res.stdout
    assert res.returncode == 0 and "rebuilt: 2 videos" in text, text
    with open(out / "videos.csv", newline="") as fh:
        rows = {r["folder"]: r for r in csv.DictReader(fh)}
    assert rows["a"]["status"] == "incomplete" and "--finish" in rows["a"]["reason"] and rows["b"]["status"] == "done"


def test_finish_on_a_batch_killed_in_its_first_video_writes_its_overview(tmp_path, finish):
    """A batch killed in its first video left one run folder and its batch marker (a dead process): the overview
    lists that video once it is finished."""
    out = tmp_path / "batch"
    _run_folder(out / "a", "running")
    (out / ".mpt-batch.json").write_text(json.dumps({"status": "running", "pid": DEAD_PID,
                                                     "host": socket.gethostname()}))
    res = finish("--finish", str(out))
    assert res.returncode == 0 and "rebuilt: 1 video" in res.stderr + res.stdout, res.stderr + res.stdout
    with open(out / "videos.csv", newline="") as fh:
        assert [(r["folder"], r["status"]) for r in csv.DictReader(fh)] == [("a", "incomplete")]


def test_finish_of_a_killed_batch_rewrites_its_marker_to_say_so(tmp_path, finish):
    """A batch killed outright left its marker saying 'running' (a dead process) after --finish had finished its
    videos and rebuilt its overview: the folder still claimed a batch at work. --finish now rewrites it: status
    killed, what finished it, the batch's facts kept; its line says the videos not reached are not listed. A marker
    from another machine (whether that batch still runs cannot be told) is left as it was."""
    for host in (socket.gethostname(), "elsewhere"):
        out = tmp_path / host
        _run_folder(out / "a", "running")
        _run_folder(out / "b", "complete")
        was = {"status": "running", "pid": DEAD_PID, "host": host, "classes": ["happy", "sad"]}
        (out / ".mpt-batch.json").write_text(json.dumps(was))
        res = finish("--finish", str(out))
        said = " ".join((res.stderr + res.stdout).split())
        assert res.returncode == 0 and "rebuilt: 2 videos" in said, said
        marker = json.loads((out / ".mpt-batch.json").read_text())
        if host != socket.gethostname():
            assert marker == was and "was killed outright" not in said
            continue
        assert marker["status"] == "killed" and marker["finished"]["by"] == "mpt-live --finish", marker
        assert {k: marker[k] for k in was if k != "status"} == {k: v for k, v in was.items() if k != "status"}
        assert f"the batch (process {DEAD_PID}) was killed outright" in said, said
        for _ in range(2):  # the batch's classes in the overview, from its marker, then from the overview itself
            with open(out / "videos.csv", newline="") as fh:
                header = next(csv.reader(fh))
            assert "events_happy" in header and "events_sad" in header, header
            again = finish("--finish", str(out))
            assert again.returncode == 0 and json.loads((out / ".mpt-batch.json").read_text()) == marker


def _with_events(d: Path, ids: list[int], cut: bool = False) -> Path:
    """``d``'s events.csv holding events with these IDs (in the order they closed: not by onset), as a run writes it;
    ``cut``: then the start of one more row, as a kill mid-row leaves it."""
    from mpt_live.spotting import EVENT_COLUMNS

    with open(d / "events.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, EVENT_COLUMNS)
        w.writeheader()
        for k, i in enumerate(ids):
            t = 0.1 + 0.05 * ((k * 7) % 5)
            w.writerow({"event_id": i, "video": "v.mp4", "face": 0, "onset_s": t, "apex_s": t + 0.02,
                        "offset_s": t + 0.05, "onset_frame": round(t * 30), "apex_frame": round(t * 30) + 1,
                        "offset_frame": round(t * 30) + 2, "type": "micro", "class": "", "confidence": "",
                        "score": 2.0 + k})
        if cut:
            fh.write("99,v.mp4,0,0.3")
    return d


def test_a_run_whose_csvs_a_spreadsheet_saved_again_reads_as_written(tmp_path, finish):
    """A spreadsheet's "CSV UTF-8" save of predictions.csv and events.csv begins them with a byte-order mark. The
    batch's all_events.csv read events.csv without it in mind (its first column, event_id, was then another name: the
    written IDs were replaced by row numbers) while --finish did: one reader now. A batch killed outright with two
    runs alike but for the mark, --finish OUT: the same summary, the same timeline.png, the same overview rows."""
    from mpt_live.results import read_table
    from mpt_live.rundir import BATCH_MARKER

    out = tmp_path / "batch"
    plain, marked = (_with_events(_run_folder(out / n, "running"), [7, 3]) for n in ("plain", "marked"))
    for name in ("predictions.csv", "events.csv"):
        (marked / name).write_bytes(b"\xef\xbb\xbf" + (marked / name).read_bytes())
    assert read_table(marked / "predictions.csv") == read_table(plain / "predictions.csv")
    (out / BATCH_MARKER).write_text(json.dumps({"status": "running", "pid": DEAD_PID, "host": socket.gethostname()}))
    res = finish("--finish", str(out))
    assert res.returncode == 0 and "rebuilt: 2 videos" in res.stderr + res.stdout, res.stderr + res.stdout

    def alike(s: dict) -> dict:
        return {k: v for k, v in s.items() if k not in ("source", "finished")}

    assert alike(summary(marked)) == alike(summary(plain)) and summary(plain)["windows"] == 5
    assert sorted(e["event_id"] for e in summary(plain)["events"]) == [3, 7]
    assert (marked / "timeline.png").read_bytes() == (plain / "timeline.png").read_bytes()
    with open(out / "all_events.csv", newline="") as fh:
        events = list(csv.DictReader(fh))
    assert [r["event_id"] for r in events if r["video"] == "plain/v.mp4"] == ["7", "3"]
    assert [{**r, "video": ""} for r in events if r["video"] == "marked/v.mp4"] == [
        {**r, "video": ""} for r in events if r["video"] == "plain/v.mp4"]
    with open(out / "videos.csv", newline="") as fh:
        rows = {r["folder"]: {**r, "video": "", "folder": ""} for r in csv.DictReader(fh)}
    assert rows.keys() == {"plain", "marked"} and rows["marked"] == rows["plain"]


def test_the_overview_leaves_out_the_event_a_kill_cut_short_as_the_summary_does(tmp_path, finish):
    """A run killed while writing a row of events.csv: --finish leaves that event out of the summary (it is not
    whole), and the batch's all_events.csv, which listed what was there of it, now does too."""
    from mpt_live.rundir import BATCH_MARKER

    out = tmp_path / "batch"
    d = _with_events(_run_folder(out / "a", "running"), [1, 2], cut=True)
    (out / BATCH_MARKER).write_text(json.dumps({"status": "running", "pid": DEAD_PID, "host": socket.gethostname()}))
    res = finish("--finish", str(out))
    assert res.returncode == 0 and "rebuilt: 1 video" in res.stderr + res.stdout, res.stderr + res.stdout
    with open(out / "all_events.csv", newline="") as fh:
        listed = [r["event_id"] for r in csv.DictReader(fh)]
    assert listed == ["1", "2"] and sorted(e["event_id"] for e in summary(d)["events"]) == [1, 2]


@pytest.mark.parametrize("make, expected", [
    (lambda d: _run_folder(d, "running", pid=os.getpid()), "is still writing there"),
    (lambda d: d.mkdir(), "not an output folder of mpt-live"),
    (lambda d: _run_folder(d / "a", "running") and (d / ".mpt-batch.json").write_text(json.dumps(
        {"status": "running", "pid": os.getpid(), "host": socket.gethostname()})), "a batch (process"),
    (lambda d: fk.touch(d), "is a file, expected a run's output folder"),
    (lambda d: None, "no such folder"),
], ids=["in-use", "not-a-run", "batch-in-use", "a-file", "missing"])
def test_finish_refuses_in_one_line(tmp_path, make, expected):
    """A folder a live run is writing into (this test's own process holds its marker), a folder without a run,
    a file, nothing: one line, exit 2, nothing written."""
    d = tmp_path / "o"
    make(d)
    before = sorted(p.name for p in d.iterdir()) if d.is_dir() else None
    res = cli("--finish", str(d))
    lines = our_lines(res.stderr + res.stdout)
    assert res.returncode == 2 and len(lines) == 1 and expected in lines[0], lines
    assert (sorted(p.name for p in d.iterdir()) if d.is_dir() else None) == before


@pytest.mark.parametrize("same_process", [True, False])
def test_a_claim_counts_only_the_process_that_made_it(tmp_path, same_process):
    """A killed run's marker names its process ID; a later process with that ID (here a live child given the ID
    in the marker) is not the run when its start time differs: the folder is finished, not reported in use."""
    from mpt_live.rundir import process_start

    other = subprocess.Popen(["sleep", "30"])
    try:
        d = _run_folder(tmp_path / "o", "running", pid=other.pid)
        s = json.loads((d / "summary.json").read_text())
        started = process_start(other.pid)
        assert started is not None, "no /proc/PID/stat on this system"
        (d / "summary.json").write_text(json.dumps({**s, "pid_start": started if same_process else started - 1}))
        res = cli("--finish", str(d))
    finally:
        other.kill()
        other.wait()
    lines = our_lines(res.stderr + res.stdout)
    if same_process:
        assert res.returncode == 2 and f"a run (process {other.pid}) is still writing there" in lines[0], lines
    else:
        assert res.returncode == 0 and summary(d)["status"] == "killed", lines


def test_a_marker_names_its_process_start(tmp_path):
    from mpt_live.rundir import process_start, start_run

    start_run(tmp_path, "x.mp4")
    s = summary(tmp_path)
    assert s["pid"] == os.getpid() and s["pid_start"] == process_start(os.getpid()) is not None


def test_finish_with_a_source_is_refused(tmp_path, finish):
    res = finish("--finish", str(tmp_path), "--video", "x.mp4")
    lines = our_lines(res.stderr + res.stdout)
    assert res.returncode == 2 and len(lines) == 1 and "--finish and --video" in lines[0], lines


def test_a_killed_run_of_a_damaged_recording_is_finished_with_a_copy_that_plays(tmp_path, faces_dir, finish):
    """A run read past frames that do not decode (an H.264 mp4 with a few damaged kilobytes: a browser plays its
    codec, and stops at the damage) and was killed outright. A finished run's page shows review.webm, a copy of the
    frames it read; --finish linked the recording itself. It makes the copy as the run would have, up to where the
    run got, and says so in its line and the summary."""
    import random

    import cv2

    clip = tmp_path / "take.mp4"  # 36 s of a real face, H.264, a keyframe a second
    fk.ffmpeg("-stream_loop", "2", "-i", str(faces_dir / "videos" / "liveportrait_d3_expressive.mp4"), "-vf",
              "scale=256:256", "-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-pix_fmt", "yuv420p",
              "-movflags", "+faststart", str(clip))
    data = bytearray(clip.read_bytes())
    at, rng = data.find(b"mdat") + 8 + (len(data) - data.find(b"mdat")) // 5, random.Random(1)  # about 7 s in
    data[at:at + 6000] = bytes(rng.randrange(256) for _ in range(6000))
    clip.write_bytes(bytes(data))
    out = tmp_path / "o"
    proc = start("--video", str(clip), "--motion-only", "--headless", "--out", str(out))
    deadline, seen = time.monotonic() + 300, 0.0
    while seen < 14 and proc.poll() is None and time.monotonic() < deadline:  # well past the damage
        time.sleep(0.02)
        lines = (out / "predictions.csv").read_text().splitlines() if (out / "predictions.csv").is_file() else []
        seen = float(lines[-1].split(",")[0]) if len(lines) > 1 and lines[-1].count(",") > 3 else 0.0
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it was killed"
    assert summary(out)["status"] == "running" and not (out / "review.webm").exists()

    res = finish("--finish", str(out))
    lines = our_lines(res.stderr + res.stdout)
    assert res.returncode == 0 and len(lines) == 1 and "the page shows review.webm" in lines[0], lines
    s = summary(out)
    assert s["status"] == "killed" and s["outputs"]["review"] == "review.webm"
    assert any("frames that do not decode" in w for w in s["warnings"])
    assert '<source src="review.webm">' in (out / "report.html").read_text()
    cap = cv2.VideoCapture(str(out / "review.webm"))  # the frames the run read, about as far as it got
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert 0 < n <= s["frames_read"] + 1 < 36 * 30


def test_finish_on_a_batch_out_rebuilds_a_stale_overview_with_nothing_killed(tmp_path, finish):
    """No killed video: --finish OUT still rebuilds the overview from the videos' folders (one that went stale, here
    one with the overview's columns missing a video), and says so."""
    out = tmp_path / "batch"
    a, b = _run_folder(out / "a", "complete"), _run_folder(out / "b", "complete")
    from mpt_live.rundir import VIDEOS_COLUMNS

    (out / "videos.csv").write_text(",".join(VIDEOS_COLUMNS) + "\nold.mp4,a,done" + "," * (len(VIDEOS_COLUMNS) - 3) + "\n")
    res = finish("--finish", str(out))
    text = res.stderr + res.stdout
    assert res.returncode == 0 and "rebuilt: 2 videos" in text, text
    with open(out / "videos.csv", newline="") as fh:
        assert sorted(r["folder"] for r in csv.DictReader(fh)) == ["a", "b"]
    assert not (a / "report.html").exists() and not (b / "report.html").exists()  # the runs themselves left alone


def test_a_killed_runs_summary_keeps_the_frame_count_of_its_source(tmp_path):
    """The running marker says how many frames the source holds (source_frame_count, as the final summary does):
    mpt-eval spot compares it with a SAMM-LV / CAS(ME)^3 recording's image count, a killed run having read fewer. The
    summary --finish makes keeps it; a marker from before the key gives null."""
    from mpt_live.finish import finish_folder

    for count in (12000, None):
        d = _run_folder(tmp_path / str(count), "running")
        marker = {**summary(d), "source_fps": 25.0, **({"source_frame_count": count} if count else {})}
        (d / "summary.json").write_text(json.dumps(marker))
        assert finish_folder(d)[0]
        s = summary(d)
        assert s["status"] == "killed" and s["frames_read"] == 9 and s["source_frame_count"] == count


@pytest.mark.parametrize("cell", ["inf", "nan", "x", ""])
def test_a_killed_run_and_mpt_eval_read_how_far_its_rows_go_alike(tmp_path, cell):
    """How far a killed run's predictions.csv goes was parsed twice, by --finish (its summary's frames_read and
    source_seconds) and by mpt-eval spot (train.spot_frames, the truth a stopped run never reached), differently: a
    cell 'inf' (a hand-edited or damaged file) was skipped by one and stopped --finish with a traceback
    (OverflowError). Both read it with one reader (mpt_live.timeline.last_frame_time), the bad cell skipped."""
    from mpt_live.finish import finish_folder
    from train.spot_frames import last_prediction

    d = _run_folder(tmp_path / "run", "running")  # frames 0..8 at 0..4/15 s
    with open(d / "predictions.csv", "a", newline="") as fh:
        csv.writer(fh).writerow([{"frame": cell, "time_s": cell}.get(c, "0") for c in columns([])])
    frame, t = last_prediction(d)
    assert finish_folder(d)[0]
    s = summary(d)
    assert (frame, t) == (8, pytest.approx(4 / 15)) and s["frames_read"] == frame + 1
    assert s["source_seconds"] == pytest.approx(t, abs=1e-3)


EVENT = {"event_id": "1", "video": "v.mp4", "face": "0", "onset_s": "0.1", "apex_s": "0.2", "offset_s": "0.3",
         "onset_frame": "1", "apex_frame": "2", "offset_frame": "3", "type": "micro", "class": "", "confidence": "",
         "score": "4.0"}  # one event as a run writes it


def _write_events(d: Path, rows: list[dict]) -> None:
    from mpt_live.spotting import EVENT_COLUMNS

    with open(d / "events.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, EVENT_COLUMNS)
        w.writeheader()
        w.writerows(rows)


@pytest.mark.parametrize("key, cell", [("offset_frame", "inf"), ("offset_s", "inf"), ("offset_s", ""),
                                       ("onset_s", "nan")])
def test_a_killed_runs_events_csv_with_a_cell_that_is_no_number_is_refused_in_one_line(tmp_path, key, cell):
    """predictions.csv's 'inf' no longer stopped --finish with a traceback, events.csv's still did: an event's frame
    'inf' (a hand-edited or damaged file) an OverflowError, an empty time a TypeError (read as None, then added up);
    a time 'inf' or 'nan' made a summary whose source_seconds is no number. Such a row is now not an event: the
    folder is refused in one line naming the file and the line."""
    from mpt_live.errors import InputError
    from mpt_live.finish import finish_folder

    d = _run_folder(tmp_path / "run", "running")
    _write_events(d, [EVENT, {**EVENT, "event_id": "2", key: cell}])
    with pytest.raises(InputError, match=r"events\.csv: line 3 is not an event of mpt-live"):
        finish_folder(d)
    assert summary(d)["status"] == "running"


def test_a_killed_runs_events_csv_cut_mid_row_keeps_its_whole_events(tmp_path):
    """A kill (or power loss) that cut events.csv's last row short made --finish refuse the whole folder ('line 3 is
    not an event'); that row is left out (the event was not whole), the others kept. A file saved again in another
    encoding was a UnicodeDecodeError traceback; it is one line."""
    from mpt_live.errors import InputError
    from mpt_live.finish import finish_folder

    d = _run_folder(tmp_path / "run", "running")
    _write_events(d, [EVENT, {**EVENT, "event_id": "2", "onset_s": "0.5"}])
    whole = (d / "events.csv").read_bytes()
    (d / "events.csv").write_bytes(whole[:-12])  # the second row cut in its score
    finish_folder(d)
    assert [e["event_id"] for e in summary(d)["events"]] == [1]
    e = _run_folder(tmp_path / "run2", "running")
    (e / "events.csv").write_bytes(whole.replace(b"micro", "micr\u00f6".encode("latin-1")))
    with pytest.raises(InputError, match=r"events\.csv: not UTF-8 text"):
        finish_folder(e)


def test_a_killed_runs_predictions_csv_cut_mid_row_counts_its_whole_rows_only(tmp_path):
    """A kill that cut predictions.csv's last row short (a writer's half line, no line end) was counted by --finish
    as a window, its cut frame or time read as how far the run went; it is read as events.csv is (whole lines
    only): the summary counts the whole rows and their reach."""
    from mpt_live.finish import finish_folder

    d = _run_folder(tmp_path / "run", "running")  # 5 rows: frames 0..8 at 0..4/15 s
    with open(d / "predictions.csv", "a", newline="") as fh:
        fh.write("0.6667,20")  # the start of a sixth row: its time and the first digits of its frame
    assert finish_folder(d)[0]
    s = summary(d)
    assert s["windows"] == 5 and s["frames_read"] == 9
    assert s["source_seconds"] == pytest.approx(4 / 15, abs=1e-3)


@pytest.mark.parametrize("saved", ["cp1252", "utf-8-sig"])
def test_a_killed_runs_predictions_csv_saved_again_by_a_spreadsheet(tmp_path, saved, finish):
    """predictions.csv saved again by a spreadsheet: in the system's code page it stopped --finish with a
    UnicodeDecodeError traceback (events.csv's was already one line); it is one line naming the file, exit 2, the
    marker left running. As "CSV UTF-8" (a byte-order mark first) its first column read as '\\ufefftime_s': the
    summary said 0 s of the video; the mark is no part of the name now."""
    from mpt_live.errors import InputError
    from mpt_live.finish import finish_folder

    d = _run_folder(tmp_path / "run", "running")  # rows up to 4/15 s
    text = (d / "predictions.csv").read_text().replace("neutral", "n\u00e9utral")
    (d / "predictions.csv").write_bytes(text.encode(saved))
    if saved == "cp1252":
        with pytest.raises(InputError, match=r"predictions\.csv: not UTF-8 text"):
            finish_folder(d)
        res = finish("--finish", str(d))
        lines = our_lines(res.stderr + res.stdout)
        assert res.returncode == 2 and len(lines) == 1 and "predictions.csv: not UTF-8" in lines[0], lines
        assert summary(d)["status"] == "running"
    else:
        assert finish_folder(d)[0]
        assert summary(d)["source_seconds"] == pytest.approx(4 / 15, abs=1e-3) and summary(d)["frames_read"] == 9


def test_finish_says_in_one_line_when_the_enclosing_overview_cannot_be_rebuilt(tmp_path, monkeypatch):
    """--finish of a single run's folder rebuilds an enclosing batch's overview; an OSError there (a folder that
    cannot be read on the way) was a traceback after the run was finished, where a run's own end (job.py) and a Ray
    video's pass it over: it is a warning line, exit 0, the run finished."""
    from typer.testing import CliRunner

    from mpt_live import finish
    from mpt_live.cli import app

    d = _run_folder(tmp_path / "run", "running")

    def refused(folder):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(finish, "refresh_enclosing", refused)
    res = CliRunner().invoke(app, ["--finish", str(d)])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert res.exit_code == 0 and "overview" in res.output and "Permission denied" in res.output, res.output
    assert summary(d)["status"] == "killed"


def test_a_stop_signal_during_the_enclosing_overview_rebuild_stops_it_not_the_runs_outputs(tmp_path, monkeypatch):
    """The end of every run rebuilds the overview of a batch whose video folder it wrote into (a large batch: many
    summaries, a long page). It ran with stop signals held, as the summary is written, so a Ctrl-C then waited for the
    whole rebuild. The run's own outputs are written before it: a signal there stops the rebuild (here one that sends
    SIGINT, then would go on), the run's summary and page complete."""
    from mpt_live import job
    from mpt_live.interrupts import Stopped, stop_signals
    from mpt_live.session import SessionConfig
    from mpt_live.sources import VideoFile

    clip = tmp_path / "take.mp4"
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=15:d=1", "-pix_fmt", "yuv420p", str(clip))
    rebuilt = []

    def long_rebuild(out):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C as the rebuild starts
        for _ in range(100):
            time.sleep(0.01)  # the rest of a long rebuild (not timed: whether it got there is what counts)
        rebuilt.append(out)

    monkeypatch.setattr(job, "refresh_enclosing", long_rebuild)
    out = tmp_path / "run"
    with stop_signals(), VideoFile(clip) as src, pytest.raises(Stopped):
        job.run_job(src, None, SessionConfig(), out)
    assert rebuilt == []
    assert summary(out)["status"] == "complete" and (out / "report.html").is_file()


def test_a_killed_run_of_a_model_that_failed_its_parity_check_warns_as_a_finished_one(tmp_path):
    """A run's end puts the one warning of a model that failed mpt-export's parity check in summary.json's warnings
    (and the page's notes); the summary --finish made of a killed run of it had none, though its marker's model
    says so (model.parity)."""
    from mpt_live.finish import finish_folder

    fact = "parity FAILED (int8 vs torch on 6 clips: top-1 agreement 50.0%, max|dprob| 2.0e-01)"
    for parity, warned in ((fact, True), ("parity passed", False)):
        d = _run_folder(tmp_path / str(warned), "running")
        marker = {**summary(d), "model": {"name": "m.onnx", "classes": [], "parity": parity}}
        (d / "summary.json").write_text(json.dumps(marker))
        assert finish_folder(d)[0]
        assert [w for w in summary(d)["warnings"] if "parity" in w] == ([
            "m.onnx: this model FAILED mpt-export's parity check (int8 vs torch on 6 clips: top-1 agreement 50.0%, "
            "max|dprob| 2.0e-01): the ONNX graph does not compute what the trained model does, so its classes may "
            "be wrong; export the checkpoint again (mpt-export; where a static int8 failed: --int8-weights or "
            "--fp32; a weight-only one: --fp32) or use a model that passed"] if warned else [])


@pytest.mark.parametrize("status, listed", [("complete", ["1", "2"]), ("killed", ["1"])])
def test_a_finished_runs_last_event_without_its_line_end_stays_in_the_overview(tmp_path, status, listed):
    """A last events.csv line without its line end is a row a kill cut short only in a run that did not finish: a
    finished run's file re-saved by a tool that ends without a newline keeps its last event in all_events.csv (as
    in its summary and in mpt-eval spot), a killed run's is left out."""
    from mpt_live.overview import collect

    out = tmp_path / "batch"
    d = _with_events(_run_folder(out / "a", status), [1, 2])
    (d / "events.csv").write_bytes((d / "events.csv").read_bytes().rstrip(b"\r\n"))
    _, events = collect(out, [d / "v.mp4"], [d], [])
    assert [e["event_id"] for e in events] == listed
