"""``mpt-live --video FILE --out DIR --resume``: a run stopped (Ctrl-C), killed (SIGKILL) or ended by --max-seconds
goes on where its files end: no row written twice, event IDs after those written, and (the last seconds before the
resume point analysed again, not written) the rows and events of an uncut run; the refusals, one line each."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import faultkit as fk
from mpt_live.references import SIDECAR, SNAPSHOT_S, ReferenceLog, read as read_references
from test_faults import ROOT, cli, our_lines, start, summary, wait_for_rows

RUN = ("--motion-only", "--headless")


@pytest.fixture(scope="module")
def looped(faces_dir, tmp_path_factory) -> Path:
    """About 36 s of a real expressive face (a 12 s clip three times over): six motion events, two in each copy."""
    out = tmp_path_factory.mktemp("resume") / "looped.mp4"
    fk.ffmpeg("-stream_loop", "2", "-i", str(faces_dir / "videos" / "liveportrait_d3_expressive.mp4"), "-c", "copy",
              str(out))
    return out


@pytest.fixture(scope="module")
def uncut(looped, tmp_path_factory) -> Path:
    """The same video run once, start to end: what a resumed run must reproduce."""
    out = tmp_path_factory.mktemp("uncut") / "o"
    res = cli("--video", str(looped), *RUN, "--out", str(out))
    assert res.returncode == 0, res.stderr[-2000:]
    return out


def rows(out: Path) -> list[tuple[int, str, str]]:
    """(frame, face_id, motion_score) of each row of predictions.csv, in the file's order."""
    with open(out / "predictions.csv", newline="") as fh:
        return [(int(r["frame"]), r["face_id"], r["motion_score"]) for r in csv.DictReader(fh)]


def events(out: Path) -> list[dict[str, str]]:
    with open(out / "events.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def spans(evs: list[dict[str, str]]) -> list[tuple[str, ...]]:
    return sorted((e["face"], e["onset_frame"], e["apex_frame"], e["offset_frame"], e["type"]) for e in evs)


def check_continued(out: Path, uncut: Path, exact: bool = True) -> None:
    """The resumed run's files go on as the uncut run's: each (frame, face) once, at the same frames (no gap), event
    IDs 1..n each once, no event found twice (no two of a face overlap); ``exact`` (the pre-roll reached back to the
    run's first frame): the same rows and events; the summary is the whole run's."""
    got = rows(out)
    assert len({(f, face) for f, face, _ in got}) == len(got), "a row written twice"
    assert [r[:2] for r in got] == [r[:2] for r in rows(uncut)]
    evs = events(out)
    assert [int(e["event_id"]) for e in evs] == list(range(1, len(evs) + 1))
    by_onset = sorted(evs, key=lambda e: (e["face"], int(e["onset_frame"])))
    assert all(int(b["onset_frame"]) > int(a["offset_frame"]) for a, b in zip(by_onset, by_onset[1:])
               if a["face"] == b["face"]), "an event found twice"
    if exact:
        assert got == rows(uncut) and spans(evs) == spans(events(uncut)) and len(evs) >= 4
    s, whole = summary(out), summary(uncut)
    assert s["status"] == "complete" and len(s["resumed_at_s"]) == 1 and s["windows"] == whole["windows"]
    assert s["frames_read"] == whole["frames_read"] and len(s["events"]) == len(evs)
    assert (out / "report.html").is_file() and (out / "timeline.png").is_file()


def stopped(video: Path, out: Path, table: str, n: int, sig: int, timeout: float) -> subprocess.Popen:
    """A run of ``video`` into ``out`` sent ``sig`` once its ``table`` (a CSV) has ``n`` data rows; ended."""
    proc = start("--video", str(video), *RUN, "--out", str(out))
    wait_for_rows(proc, out / table, n)
    proc.send_signal(sig)
    proc.communicate(timeout=timeout)
    return proc


def preroll_from_frame(lines: list[str]) -> int:
    """The first frame a resumed run analyses again, as its --resume line says."""
    said = [ln for ln in lines if ln.startswith("--resume: going on after frame")]
    assert len(said) == 1, lines
    return int(said[0].split("; frames ")[1].split("-")[0])


def resume(video: Path, out: Path) -> list[str]:
    res = cli("--video", str(video), *RUN, "--out", str(out), "--resume")
    assert res.returncode == 0, res.stderr[-2000:]
    return our_lines(res.stderr + res.stdout)


def tops(out: Path) -> list[str]:
    """The label (``top``) of each row of predictions.csv, in the file's order."""
    with open(out / "predictions.csv", newline="") as fh:
        return [r["top"] for r in csv.DictReader(fh)]


def same_labels(got: dict, want: dict) -> None:
    """summary.json ``labels`` (a run's or a face's) ``got`` are ``want``: each label's windows, its seconds and
    share within rounding, in the same order."""
    assert list(got) == list(want) and len(want) >= 2, (got, want)
    for name, v in want.items():
        assert got[name]["windows"] == v["windows"], (name, got, want)
        assert got[name]["seconds"] == pytest.approx(v["seconds"], abs=0.002), (name, got, want)
        assert got[name]["share"] == pytest.approx(v["share"], abs=0.0001), (name, got, want)


def test_a_killed_run_resumed_gives_the_uncut_runs_rows_and_events(tmp_path, looped, uncut):
    """SIGKILL after the first event (mid-row, perhaps): --resume goes on after the last whole row. The rows' labels
    are the uncut run's (the resumed part's windows covered by an event the killed run wrote were 'neutral'); the
    summary's labels, the run's and each face's, and the last line's shares too: the killed part's are counted from
    its rows (they were the resumed part's only); frames_skipped 0 (it was null)."""
    out = tmp_path / "o"
    proc = stopped(looped, out, "events.csv", 1, signal.SIGKILL, 60)
    assert proc.returncode == -signal.SIGKILL and summary(out)["status"] == "running"
    before = rows(out) if (out / "predictions.csv").read_bytes().endswith(b"\n") else None
    res = cli("--video", str(looped), *RUN, "--out", str(out), "--resume")
    assert res.returncode == 0, res.stderr[-2000:]
    lines = our_lines(res.stderr + res.stdout)
    assert any(ln.startswith("--resume: going on after frame") for ln in lines), lines
    if before is not None:  # nothing written is changed
        assert rows(out)[:len(before)] == before
    check_continued(out, uncut)
    assert tops(out) == tops(uncut)
    got, want = summary(out), summary(uncut)
    same_labels(got["labels"], want["labels"])
    assert [f["face_id"] for f in got["faces"]] == [f["face_id"] for f in want["faces"]] and want["faces"]
    for g, w in zip(got["faces"], want["faces"]):
        same_labels(g["labels"], w["labels"])
    shares = ", ".join(f"{k} {v['share']:.0%}" for k, v in want["labels"].items() if v["share"] >= 0.005)
    assert shares in res.stdout + res.stderr
    assert got["frames_skipped"] == want["frames_skipped"] == 0


def test_a_run_stopped_by_ctrl_c_resumed_gives_the_uncut_runs_rows_and_events(tmp_path, looped, uncut):
    """... and its summary's faces: each face's labels the uncut run's (its windows, seconds and shares of its time;
    the shares were of its windows)."""
    out = tmp_path / "o"
    stopped(looped, out, "predictions.csv", 100, signal.SIGINT, 120)
    assert summary(out)["status"] == "interrupted"
    resume(looped, out)
    check_continued(out, uncut)
    got, want = summary(out)["faces"], summary(uncut)["faces"]
    assert [f["face_id"] for f in got] == [f["face_id"] for f in want] and want, (got, want)
    for g, w in zip(got, want):
        same_labels(g["labels"], w["labels"])


def test_a_run_ended_by_max_seconds_resumed_twice_gives_the_uncut_runs_rows_and_events(tmp_path, looped, uncut):
    """--max-seconds 14, then --resume --max-seconds 14 (the next 14 s), then --resume to the end: the last resume,
    at 28 s, analyses again from 4 s on (its pre-roll) or from the stabiliser reference kept before (at most
    SNAPSHOT_S and a margin earlier: mpt_live/references.py), not always from the start. An event open at a limit is judged there
    (as any --max-seconds run's), and the rows after 28 s are not exactly the uncut run's (see mpt_live/resume.py):
    continuity, no duplicate, the events between the resume points those of the uncut run."""
    out = tmp_path / "o"
    assert cli("--video", str(looped), *RUN, "--out", str(out), "--max-seconds", "14").returncode == 0
    res = cli("--video", str(looped), *RUN, "--out", str(out), "--resume", "--max-seconds", "14")
    assert res.returncode == 0, res.stderr[-2000:]
    s = summary(out)
    assert s["max_seconds_reached"] and 27.5 < max(f for f, _, _ in rows(out)) / 30 < 28.5
    lines = resume(looped, out)
    assert 0 <= preroll_from_frame(lines) <= 120, lines
    assert len(summary(out)["resumed_at_s"]) == 2
    s = summary(out)
    s["resumed_at_s"] = s["resumed_at_s"][:1]  # check_continued: the resumes' number aside
    (out / "summary.json").write_text(json.dumps(s))
    check_continued(out, uncut, exact=False)
    between = [e for e in spans(events(out)) if 420 < int(e[1]) and int(e[3]) < 800]  # found after 14 s, before 28
    assert between == [e for e in spans(events(uncut)) if 420 < int(e[1]) and int(e[3]) < 800] and len(between) == 2


def test_a_run_resumed_before_24_s_replays_from_its_first_frame_exactly(tmp_path, looped, uncut):
    """Ended by --max-seconds 18, resumed: its pre-roll reaches back to frame 0, and the references kept at 0 s and
    10 s lie inside it. Restored there (each a copy rounded to whole grey levels) they moved the crops off the run's
    own; none is, so the rows and events are exactly the uncut run's."""
    out = tmp_path / "o"
    assert cli("--video", str(looped), *RUN, "--out", str(out), "--max-seconds", "18").returncode == 0
    frames = [r["frame"] for r in read_references(out / SIDECAR).get(0, [])]
    assert frames and frames[0] < 30 and any(290 <= f <= 330 for f in frames), frames
    lines = resume(looped, out)
    assert preroll_from_frame(lines) == 0 and not [ln for ln in lines if SIDECAR in ln], lines
    check_continued(out, uncut)


def test_a_run_resumed_after_24_s_goes_on_from_its_stabiliser_references(tmp_path, faces_dir):
    """Resumed at 45 s, its pre-roll (24 s) would begin at 21 s, after the run's first frame: it begins instead at
    the stabiliser reference the run kept there (SIDECAR, at most SNAPSHOT_S and a margin earlier), which brings the
    crops back where an uncut run's were, so the rows after the resume point are the uncut run's motion scores within
    0.5 % (median; without the file 5 %: README)."""
    video = faces_dir / "videos" / "paddlegan_fom_dv.mp4"
    whole, out = tmp_path / "uncut", tmp_path / "o"
    assert cli("--video", str(video), *RUN, "--out", str(whole)).returncode == 0
    assert cli("--video", str(video), *RUN, "--out", str(out), "--max-seconds", "45").returncode == 0
    assert (out / SIDECAR).is_file()
    lines = resume(video, out)
    assert not [ln for ln in lines if SIDECAR in ln], lines
    assert 30 * (21 - SNAPSHOT_S - 2) <= preroll_from_frame(lines) < 30 * 21
    check_continued(out, whole, exact=False)
    base = {(f, face): float(m) for f, face, m in rows(whole) if m}
    after = [abs(float(m) - base[f, face]) / base[f, face] for f, face, m in rows(out)
             if f >= 30 * 45 and m and base.get((f, face))]
    assert len(after) > 100 and sorted(after)[len(after) // 2] < 0.005


def test_a_run_without_its_stabiliser_references_or_with_them_damaged_resumes_as_before(tmp_path, looped, uncut):
    """The same run without the file (an older mpt-live's) resumes from 24 s before the point, as before; with a
    damaged one, a one-line warning naming it, then the same rows as without."""
    first = tmp_path / "first"
    assert cli("--video", str(looped), *RUN, "--out", str(first), "--max-seconds", "35").returncode == 0
    runs = {}
    for case in ("old", "damaged"):
        out = tmp_path / case
        shutil.copytree(first, out)
        if case == "old":
            (out / SIDECAR).unlink()
        else:
            (out / SIDECAR).write_text('{"v": 1, "face": 0, "t": "noon"}\n')
        lines = runs[case] = resume(looped, out)
        warned = [ln for ln in lines if SIDECAR in ln]
        assert len(warned) == (case == "damaged") and not [ln for ln in lines if "Traceback" in ln], lines
        if case == "damaged":  # set aside: the resumed run's own references make a file a later resume reads
            assert f"set aside as {SIDECAR}.damaged" in warned[0] and (out / (SIDECAR + ".damaged")).is_file()
            assert read_references(out / SIDECAR)
        assert abs(preroll_from_frame(lines) - (30 * 35 - 24 * 30)) <= 2, lines
        check_continued(out, uncut, exact=False)
    assert rows(tmp_path / "old") == rows(tmp_path / "damaged")


def refused(*args: str) -> str:
    res = cli(*args, timeout=300)
    lines = our_lines(res.stderr + res.stdout)
    assert res.returncode == 2 and lines and lines[-1].startswith("error:"), (res.returncode, lines)
    assert "Traceback" not in res.stderr
    return lines[-1]


def test_what_cannot_be_resumed_is_refused_in_one_line(tmp_path, uncut, looped, faces_dir):
    other = faces_dir / "videos" / "liveportrait_d6.mp4"
    assert "no run there to resume" in refused("--video", str(looped), *RUN, "--out", str(tmp_path / "new"),
                                               "--resume")
    assert "finished (complete)" in refused("--video", str(looped), *RUN, "--out", str(uncut), "--resume")
    # a finished run of another file: named as that file's (it was refused as 'finished (complete)')
    assert f"is of {looped}, not {other}" in refused("--video", str(other), *RUN, "--out", str(uncut), "--resume")
    stopped = tmp_path / "stopped"
    assert cli("--video", str(looped), *RUN, "--out", str(stopped), "--max-seconds", "2").returncode == 0
    assert f"is of {looped}, not {other}" in refused("--video", str(other), *RUN, "--out", str(stopped), "--resume")
    assert "another spot threshold (4.0, now 5.0)" in refused("--video", str(looped), *RUN, "--out", str(stopped),
                                                             "--resume", "--spot-threshold", "5")
    assert "another stride" in refused("--video", str(looped), *RUN, "--out", str(stopped), "--resume",
                                       "--stride", "3")
    assert "not with --start" in refused("--video", str(looped), *RUN, "--out", str(stopped), "--resume",
                                         "--start", "5")
    assert "--out DIR is needed" in refused("--video", str(looped), *RUN, "--resume")
    assert "for a recorded video file" in refused("--camera", "0", *RUN, "--out", str(stopped), "--resume")
    # a run still alive there (its marker names a live process of this machine)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        marker = {**summary(stopped), "status": "running", "pid": alive.pid, "host": socket.gethostname()}
        marker.pop("pid_start", None)
        busy = tmp_path / "busy"
        busy.mkdir()
        (busy / "summary.json").write_text(json.dumps(marker))
        (busy / "predictions.csv").write_bytes((stopped / "predictions.csv").read_bytes())
        assert f"process {alive.pid}" in refused("--video", str(looped), *RUN, "--out", str(busy), "--resume")
    finally:
        alive.kill()
        alive.wait()
    # the same path, another file: changed since the run (its size and time)
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(looped.read_bytes())
    run = tmp_path / "copyrun"
    assert cli("--video", str(copy), *RUN, "--out", str(run), "--max-seconds", "2").returncode == 0
    os.utime(copy, ns=(time.time_ns(), time.time_ns() + 10 ** 9))
    assert "changed since the run" in refused("--video", str(copy), *RUN, "--out", str(run), "--resume")


def test_a_realtime_runs_folder_is_not_resumed_reading_every_frame(tmp_path, looped):
    """A --realtime run's rows skip the frames it had no time for; a resumed run (a file's: --resume --realtime is
    refused) reads every frame. Given the same stride and max faces, the resume went on, one folder's rows of both
    kinds with nothing said; now refused in one line, with the live defaults too (not 'another stride')."""
    out = tmp_path / "rt"
    same = ("--stride", "2", "--max-faces", "2")
    res = cli("--video", str(looped), "--realtime", *RUN, *same, "--out", str(out), "--max-seconds", "2")
    assert res.returncode == 0 and summary(out)["mode"] == "live", res.stderr[-2000:]
    before = (out / "predictions.csv").read_bytes()
    for given in (same, ()):
        assert "--realtime" in refused("--video", str(looped), *RUN, *given, "--out", str(out), "--resume")
    assert (out / "predictions.csv").read_bytes() == before


@pytest.mark.parametrize("start_s", [None, 4.0])
def test_the_progress_bar_of_a_max_seconds_run_ends_where_its_stretch_does(tmp_path, start_s):
    """With --max-seconds 2 the bar's total is the frames up to the stretch's end (from --start's frame), not the
    file's 300: it reaches its end instead of stopping at a fifth of the way."""
    from mpt_live.job import run_job
    from mpt_live.recordings import open_recording
    from mpt_live.session import SessionConfig

    video = fk.write_video(tmp_path / "v.mp4", 300, fps=30.0)
    seen: list[tuple[int, int | None]] = []
    with open_recording(video) as src:
        run_job(src, None, SessionConfig(max_seconds=2.0, start_s=start_s), tmp_path / "o",
                progress=lambda i, n: seen.append((i, n)))
    first = round((start_s or 0) * 30)
    assert seen[0][1] == first + 60 and seen[-1] == (first + 60, first + 60)


def test_what_a_resumed_run_finds_again_is_told_apart_face_by_face():
    """Written: this run's faces are matched to the run before's by their boxes in the pre-roll's rows (IDs start
    anew); an event is the run before's where one of its face (where not matched: of an unmatched face) and type overlaps it.
    Another face's event open at the kill, begun before the end of the last event written, is new (the rule before,
    'starts by the end of the last event written', held it back and it was lost)."""
    from types import SimpleNamespace

    from mpt_live.resume import Written

    def face(fid: int, box: tuple[int, int, int, int]) -> SimpleNamespace:
        return SimpleNamespace(id=fid, face=SimpleNamespace(box=box))

    w = Written({10: [("0", (0, 0, 100, 100)), ("1", (300, 0, 100, 100))]},
                [("0", "micro", 100, 130), ("1", "macro", 20, 60)])
    w.see(9, [face(0, (300, 0, 100, 100))])  # no rows at that frame: nothing matched
    assert w.faces == {}
    w.see(10, [face(0, (302, 1, 100, 100)), face(1, (1, 2, 98, 100)), face(2, (150, 150, 50, 50))])
    assert w.faces == {0: "1", 1: "0"}  # this run's 0 is the run before's 1 (swapped IDs); 2 overlaps none
    assert w.has(1, "micro", 101, 129)  # the run before's face 0's event, found again (a frame off)
    assert not w.has(0, "micro", 110, 160)  # the other face's event open at the kill: written now
    assert not w.has(1, "macro", 120, 150)  # the same face's macro beside its written micro: another event
    assert not w.has(1, "micro", 140, 150)  # after it
    assert w.has(0, "macro", 50, 70)
    assert not w.has(2, "micro", 125, 140)  # 2: not matched, and both faces of the run before are: not theirs
    w.events.append(("3", "micro", 120, 150))  # a face of the run before that no face of this run is matched to
    assert w.has(2, "micro", 125, 140) and not w.has(1, "micro", 140, 150)  # may be 2's; not the matched 1's


# mpt-live killed (SIGKILL) right after it wrote its first row of events.csv: at that frame exactly, not when a test
# polling the file sees it (another face's event may close one frame later)
KILLED_AT_FIRST_EVENT = """
import os, signal, sys
from mpt_live import writers
put = writers.CSVSink.write
def write(self, row):
    put(self, row)
    if self.path.name == "events.csv":
        os.kill(os.getpid(), signal.SIGKILL)
writers.CSVSink.write = write
from mpt_live.cli import main
sys.argv = ["mpt-live", *sys.argv[1:]]
main()
"""


@pytest.fixture(scope="module")
def two_faces(faces_dir, tmp_path_factory) -> tuple[Path, Path]:
    """12 s of the expressive face twice side by side (train/compose.py), and its uncut run: the two faces' first
    events (frames 175-191 and 175-192) close a frame apart."""
    from train.compose import side_by_side

    video = tmp_path_factory.mktemp("two") / "two.mp4"
    clip = faces_dir / "videos" / "liveportrait_d3_expressive.mp4"
    side_by_side([clip, clip], video, 12.0)
    out = video.parent / "uncut"
    res = cli("--video", str(video), *RUN, "--out", str(out))
    assert res.returncode == 0, res.stderr[-2000:]
    return video, out


def test_two_faces_killed_with_one_faces_event_open_resumed_give_the_uncut_runs_events(tmp_path, two_faces):
    """Killed when one face's event was written and the other face's, begun before its end, was still open: the
    resumed run writes that one (the rule before, 'events starting after the end of the last one written', held it
    back: it was lost), and the files are the uncut run's."""
    video, uncut = two_faces
    out = tmp_path / "o"
    proc = subprocess.run([sys.executable, "-c", KILLED_AT_FIRST_EVENT, "--video", str(video), *RUN, "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT, stdin=subprocess.DEVNULL)
    assert proc.returncode == -signal.SIGKILL and summary(out)["status"] == "running", proc.stderr[-2000:]
    [first] = events(out)
    assert any(e["face"] != first["face"] and int(e["onset_frame"]) <= int(first["offset_frame"])
               for e in events(uncut)), "no other face's event open at the kill: the case is not made"
    resume(video, out)
    check_continued(out, uncut)


def test_every_event_finished_is_written_before_the_next_row(tmp_path, faces_dir, monkeypatch):
    """--resume takes an event closed before the last row written as written by the run before (its pre-roll finds it
    again and drops it), so a run must never put a row on disk while an event it finished is still unwritten: a
    kill between the two would lose that event for good (the spotter finishes an event and the session releases
    rows in the same frame)."""
    from mpt_live import job, writers
    from mpt_live.session import SessionConfig
    from mpt_live.sources import VideoFile

    made, early, written = [], [], []

    class Seen(job.Session):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            made.append(self)

    put = writers.CSVSink.write

    def write(self, row):
        if "event_id" in row:
            written.append(row)
        elif made and len(made[0].events) > len(written):  # a predictions row with an event finished, unwritten
            early.append((row.get("frame"), [e.event.offset for e in made[0].events[len(written):]]))
        put(self, row)

    monkeypatch.setattr(job, "Session", Seen)
    monkeypatch.setattr(writers.CSVSink, "write", write)
    with VideoFile(faces_dir / "videos" / "liveportrait_d3_expressive.mp4") as src:
        summary = job.run_job(src, None, SessionConfig(), tmp_path / "run")
    assert summary["events"], "the clip's own movements give events: the check above had something to see"
    assert early == []


@pytest.fixture(scope="module")
def taking_turns(faces_dir, tmp_path_factory) -> tuple[Path, Path]:
    """12 s of two real people side by side (640x320, 30 fps): the right one alone for 2 s (face 0), both for 2 s (the
    left one: face 1), the left one alone for 2 s, both for 6 s; and its uncut run."""
    import cv2
    import numpy as np

    from train.compose import Player

    videos = [faces_dir / "videos" / "liveportrait_d6.mp4", faces_dir / "videos" / "liveportrait_d3_expressive.mp4"]
    players = [Player(v, 320, 12.0) for v in videos]
    video = tmp_path_factory.mktemp("turns") / "turns.mp4"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (640, 320))
    i = 0
    for seconds, shown in [(2, (1,)), (2, (0, 1)), (2, (0,)), (6, (0, 1))]:
        for _ in range(seconds * 30):
            frame = np.full((320, 640, 3), 60, np.uint8)
            for slot in shown:
                frame[:, slot * 320:(slot + 1) * 320] = players[slot].at(i / 30)
            w.write(frame)
            i += 1
    w.release()
    out = video.parent / "uncut"
    res = cli("--video", str(video), *RUN, "--out", str(out))
    assert res.returncode == 0, res.stderr[-2000:]
    return video, out


# mpt-live --resume with a pre-roll of 3.5 s (not 24): one that starts where only one of the two people is in view
SHORT_PREROLL = """
import sys
from mpt_live import resume
resume.PREROLL_S = 3.5
from mpt_live.cli import main
sys.argv = ["mpt-live", *sys.argv[1:]]
main()
"""


def test_a_resumed_run_keeps_each_persons_face_id_and_counts_its_frames_once(tmp_path, taking_turns):
    """Ended by --max-seconds at 9 s, resumed with a pre-roll from 5.5 s, where the left person (face 1 before) is
    alone and would be face 0 anew: each person keeps the uncut run's face ID in every row (the right one, back at
    6 s, too), and summary.json's faces count each face's frames once, not the pre-roll's again."""
    video, uncut = taking_turns
    out = tmp_path / "o"
    assert cli("--video", str(video), *RUN, "--out", str(out), "--max-seconds", "9").returncode == 0
    (out / SIDECAR).unlink()  # its pre-roll not moved back to a stabiliser reference kept (frame 32, both in view)
    res = subprocess.run([sys.executable, "-c", SHORT_PREROLL, "--video", str(video), *RUN, "--out", str(out),
                          "--resume"], capture_output=True, text=True, timeout=600, cwd=ROOT, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "frames 164-268 are analysed again" in res.stderr + res.stdout  # the left person alone from frame 164

    def people(run: Path) -> list[tuple[int, str, bool]]:  # (frame, face ID, on the left) of each row with a face
        with open(run / "predictions.csv", newline="") as fh:
            return [(int(r["frame"]), r["face_id"], float(r["x"]) < 320) for r in csv.DictReader(fh) if r["x"]]

    got, want = people(out), people(uncut)
    assert got == want and {(fid, left) for _, fid, left in want} == {("0", False), ("1", True)}
    s, whole = summary(out), summary(uncut)
    assert [f["face_id"] for f in s["faces"]] == [0, 1] and s["resumed_at_s"] == [8.9666]
    for f, g in zip(s["faces"], whole["faces"]):
        assert f["windows"] == g["windows"] == 150
        # the frame the first part read past its last row (--max-seconds, stride 2) is counted in both parts
        assert g["frames"] <= f["frames"] <= g["frames"] + 1
        assert sum(v["windows"] for v in f["labels"].values()) == f["windows"]


# mpt-live killed (SIGKILL) right after it kept the first stabiliser reference of face 1 (first detected then)
KILLED_AT_NEW_FACES_REFERENCE = """
import os, signal, sys
from mpt_live import references
frame = references.ReferenceLog.frame
def kept(self, *a):
    before, n = 1 in self.kept, self.written
    frame(self, *a)
    if not before and 1 in self.kept and self.written > n:
        os.kill(os.getpid(), signal.SIGKILL)
references.ReferenceLog.frame = kept
from mpt_live.cli import main
sys.argv = ["mpt-live", *sys.argv[1:]]
main()
"""


@pytest.fixture(scope="module")
def second_comes(faces_dir, tmp_path_factory) -> Path:
    """15 s of two real people side by side (640x320, 30 fps): the right one alone for 12 s, then both (the rows
    wait for the spotter's verdict on their frames: those of the first 5 s are still held at 5 s)."""
    import cv2
    import numpy as np

    from train.compose import Player

    videos = [faces_dir / "videos" / "liveportrait_d6.mp4", faces_dir / "videos" / "liveportrait_d3_expressive.mp4"]
    players = [Player(v, 320, 15.0) for v in videos]
    video = tmp_path_factory.mktemp("second") / "second.mp4"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (640, 320))
    for i in range(450):
        frame = np.full((320, 640, 3), 60, np.uint8)
        for slot in (0, 1) if i >= 360 else (1,):
            frame[:, slot * 320:(slot + 1) * 320] = players[slot].at(i / 30)
        w.write(frame)
    w.release()
    return video


def test_a_face_killed_with_a_reference_and_no_row_keeps_one_id_for_one_person(tmp_path, second_comes):
    """Killed after the frame the left person was first detected on (face 1, at 12 s): the file of references has
    its line, predictions.csv no row of it, so its ID is
    not among those the resumed run takes from the rows. The line is past the last row, so the resume cuts it off
    and analyses that frame anew: the person is face 1 again and the right one face 0 in every row, no ID given to
    two people or twice, and the file keeps the person's first reference once."""
    out = tmp_path / "o"
    proc = subprocess.run([sys.executable, "-c", KILLED_AT_NEW_FACES_REFERENCE, "--video", str(second_comes), *RUN,
                           "--out", str(out)], capture_output=True, text=True, timeout=600, cwd=ROOT,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == -signal.SIGKILL and summary(out)["status"] == "running", proc.stderr[-2000:]
    [line] = read_references(out / SIDECAR)[1]
    before = rows(out)
    assert before and {face for _, face, _ in before} == {"0"}, "no row, or one of face 1: the case is not made"
    assert line["frame"] > max(f for f, _, _ in before) and 360 <= line["frame"]
    resume(second_comes, out)
    with open(out / "predictions.csv", newline="") as fh:
        people = [(int(r["frame"]), r["face_id"], float(r["x"]) < 320) for r in csv.DictReader(fh) if r["x"]]
    assert {(fid, left) for _, fid, left in people} == {("0", False), ("1", True)}
    assert len({(f, fid) for f, fid, _ in people}) == len(people) and [r[:2] for r in rows(out)[:len(before)]] == \
        [r[:2] for r in before]
    assert [f["face_id"] for f in summary(out)["faces"]] == [0, 1]
    kept = read_references(out / SIDECAR)
    assert [r["frame"] for r in kept[1]][:1] == [line["frame"]]  # its first reference once, not the killed run's too
    assert len({r["frame"] for r in kept[1]}) == len(kept[1])


def test_a_face_met_between_two_rows_frames_keeps_its_id_from_another_person(tmp_path, faces_dir):
    """A killed run (stride 2) whose face 1 was confirmed and lost on odd frames: its reference (frame 51) is at or
    before the last row (100) and kept by the resume, but no row names it, so the resumed run gave ID 1 to the next
    new person: one ID for two people in the folder's outputs (the file of references). Now 1 is taken: the new
    person is 2, and the line of face 1 stays."""
    import numpy as np

    from conftest import killed_run
    from mpt_live.references import encode
    from mpt_live.resume import resume_point

    video = faces_dir / "videos" / "liveportrait_d6.mp4"
    out = tmp_path / "o"
    facts = killed_run(out, video, 100)
    state = {"ref": np.full((112, 112), 9.0, np.float32), "warp": np.eye(2, 3)}
    (out / SIDECAR).write_text(encode(0, 0.0, 0, state) + encode(1, 51 / 30, 51, state))
    point = resume_point(out, type("Source", (), {"name": str(video), "frame_count": 300})(), facts)
    assert point.after_frame == 100 and point.written.taken == {0, 1}
    point.written.frame = 104
    assert point.written.name((400, 10, 100, 100), set()) == 2  # a new person, nowhere near face 0's rows
    warned: list[str] = []
    ReferenceLog(out, warned.append, point.after_frame, point.written.taken, point.from_frame, point.first_frame)
    assert sorted(read_references(out / SIDECAR)) == [0, 1] and not warned  # face 1's line: the resume keeps it


def test_the_resume_points_and_faces_of_a_run_resumed_again_are_listed_once():
    """A resume killed before it wrote a row is resumed from the same point: resumed_at_s lists that point once (and
    the part's video file is made anew). A face of both parts has its counts and labels summed; one part's, as it was."""
    from mpt_live.results import label_order
    from mpt_live.resume import ResumePoint, Written, merge_faces

    again = ResumePoint(268, 8.96667, 3, previous={"resumed_at_s": [8.9667]})
    assert again.resumed_at_s == [8.9667] and again.part == 2
    assert ResumePoint(300, 10.0, 3, previous={"resumed_at_s": [8.9667]}).resumed_at_s == [8.9667, 10.0]
    before = [{"face_id": 0, "frames": 10, "windows": 5, "events": 1, "events_unclassified": 0,
               "labels": {"neutral": {"windows": 5, "seconds": 0.333, "share": 1.0}}},
              {"face_id": 2, "frames": 4, "windows": 2, "events": 0, "events_unclassified": 0, "labels": {}}]
    now = [{"face_id": 0, "frames": 6, "windows": 3, "events": 0, "events_unclassified": 0, "eye_distance_px": 60.0,
            "labels": {"neutral": {"windows": 2, "seconds": 0.133, "share": 0.3325},  # its event's window before a
                       "event": {"windows": 1, "seconds": 0.267, "share": 0.6675}}},  # gap: 4 spacings
           {"face_id": 3, "frames": 8, "windows": 4, "events": 1, "events_unclassified": 0, "labels": {}}]
    merged = merge_faces(before, now, label_order([]))
    assert [f["face_id"] for f in merged] == [0, 2, 3] and merged[1] == before[1] and merged[2] == now[1]
    assert {k: merged[0][k] for k in ("frames", "windows", "events", "eye_distance_px")} == \
        {"frames": 16, "windows": 8, "events": 1, "eye_distance_px": 60.0}
    assert merged[0]["labels"] == {"neutral": {"windows": 7, "seconds": 0.466, "share": 0.6357},  # of its seconds,
                                   "event": {"windows": 1, "seconds": 0.267, "share": 0.3643}}  # not windows (7/8)
    w = Written({10: [("0", (0, 0, 100, 100)), ("1", (300, 0, 100, 100))]}, taken={0, 1, 4}, near=1)
    w.frame = 11  # a face confirmed a frame after a row: that row's boxes
    assert w.name((298, 2, 100, 100), set()) == 1 and w.faces == {1: "1"}
    assert w.name((0, 0, 100, 100), {0}) == 5  # face 0's ID is given already: a new one, past every earlier ID
    w.frame = 13
    assert w.name((0, 0, 100, 100), {1}) == 5  # no row this close: a new ID


def test_the_warning_that_review_webm_ends_at_the_resume_point_writes_its_time_as_the_page_does():
    """A run resumed after its page's copy of the video was made: the warning names the time it covers as every
    warning writes a time (mpt_live.clocktime: 3.97 s, 1:05.50), not as Python's %g writes it (3.9666 s)."""
    from mpt_live.resume import ResumePoint, merge

    for at_s, said in [(3.9666, "up to 3.97 s,"), (65.5, "up to 1:05.50,")]:
        part = {"events": [], "faces": [], "outputs": {"review": None}, "warnings": []}
        before = {"outputs": {"review": "review.webm"}, "resumed_at_s": [at_s]}
        merge(part, ResumePoint(99, 70.0, 1, previous=before), [], {}, "v.mp4")
        assert part["outputs"]["review"] == "review.webm" and len(part["warnings"]) == 1
        assert said in part["warnings"][0], part["warnings"]


@pytest.mark.parametrize("classified_before", [50, 0, None])
def test_a_resumed_part_that_classified_nothing_warns_only_where_the_whole_run_did_not(classified_before):
    """The warning that no window was classified is decided at the part's end from the part's own counts: a resumed
    part of a few frames (its face new, stopped again) classifies none though the run before classified 50. The whole
    run's summary says it only where no part classified one (None: a killed run's count not known, kept)."""
    from mpt_live.resume import ResumePoint, merge
    from mpt_live.run_summary import RunFigures

    fig = RunFigures()
    fig.counts.update(frames_read=40, frames_with_face=40, windows=10)
    said = fig.warnings("v.mp4", 1.0, True, "short", stopped=True)
    assert len(said) == 1 and "no window was classified" in said[0]
    counts = {**fig.counts, "seconds": 2.0}
    part = {**counts, "events": [], "faces": [], "outputs": {}, "warnings": [*said, "v.mp4: another warning"]}
    before = {**counts, "frames_read": 100, "frames_with_face": 100, "windows": 50, "windows_scored": 50,
              "windows_classified": classified_before}
    merge(part, ResumePoint(99, 3.3, 1, previous=before), list(fig.counts), {}, "v.mp4")
    assert part["windows_classified"] == classified_before
    assert part["warnings"] == (["v.mp4: another warning"] if classified_before else [*said, "v.mp4: another warning"])


def test_an_old_face_matched_to_one_face_by_see_is_not_given_to_another_by_name():
    """A face of the pre-roll confirmed where no row overlapped it gets a new ID (5), and `see` then matches it to the
    run before's face 0 at a row's frame; a second face confirmed later where face 0's row is was given ID 0 too, so
    two faces of this run were both the run before's face 0 (their events judged as one person's). It gets a new ID."""
    from types import SimpleNamespace

    from mpt_live.resume import Written

    w = Written({10: [("0", (0, 0, 100, 100))], 20: [("0", (40, 0, 100, 100))]}, taken={0, 4}, near=1)
    w.see(10, [SimpleNamespace(id=5, face=SimpleNamespace(box=(2, 0, 100, 100)))])
    assert w.faces == {5: "0"}
    w.frame = 20
    assert w.name((40, 0, 100, 100), {5}) == 6 and w.faces == {5: "0"}


@pytest.mark.parametrize("with_face_before, said_after", [(100, None), (10, "only a face in 50 of 140 frames"),
                                                          (None, "only a face in 10 of 40 frames")])
def test_a_resumed_runs_no_face_warning_is_decided_from_the_whole_runs_frames(with_face_before, said_after):
    """A resumed part that lost the face (10 of its 40 frames) warned 'only a face in 10 of 40 frames' though the
    whole run had one in 110 of 140; a part with a face throughout said nothing of a run that mostly had none. The
    whole run's counts decide it where known (None: a killed run's, the part's warning kept), named as the run's
    warnings name the source (summary.json's source is its absolute path: the part's warning was kept beside a new one)."""
    from mpt_live.resume import ResumePoint, merge
    from mpt_live.run_summary import RunFigures

    fig = RunFigures()
    part_face = 10 if with_face_before != 10 else 40
    fig.counts.update(frames_read=40, frames_with_face=part_face, windows=10, windows_classified=10)
    said = fig.warnings("v.mp4", 1.0, True, "full")
    part = {**fig.counts, "seconds": 2.0, "source": "/data/v.mp4", "detector": "full",  # summary.json's: absolute "events": [], "faces": [],
            "outputs": {}, "warnings": [*said, "v.mp4: another warning"]}
    before = {**fig.counts, "frames_read": 100, "frames_with_face": with_face_before, "windows": 50,
              "windows_classified": 50}
    merge(part, ResumePoint(99, 3.3, 1, previous=before), list(fig.counts), {}, "v.mp4")  # as the warnings name it
    assert part["warnings"] == ([f"v.mp4: {said_after}"] if said_after else []) + ["v.mp4: another warning"]


def test_a_stabiliser_restored_from_a_kept_reference_refines_as_the_one_that_kept_it(tmp_path):
    """A face's reference exported after a frame, kept as a line of SIDECAR and restored into a new stabiliser that
    began on that frame, gives the next frames' transforms of the one that went on (to the rounding of the kept
    crop to whole grey levels); a line cut by a kill is dropped, a foreign one refused naming its line."""
    import cv2
    import numpy as np

    from mpt_live.references import encode, read
    from mpt_live.stabilize import Stabilizer

    rng = np.random.default_rng(3)
    scene = cv2.normalize(cv2.GaussianBlur(rng.integers(0, 255, (400, 400, 3), dtype=np.uint8), (0, 0), 6), None, 0,
                          255, cv2.NORM_MINMAX)

    def frame(i: int) -> np.ndarray:
        return cv2.warpAffine(scene, np.float32([[1, 0, 0.8 * np.sin(i / 4)], [0, 1, 0.5 * np.sin(i / 3)]]), (400, 400))

    matrix = np.array([[1.0, 0.0, -80.0], [0.0, 1.0, -80.0]])
    went_on, fresh, plain = Stabilizer(224), Stabilizer(224), Stabilizer(224)
    for i in range(12):
        went_on.refine(frame(i), matrix, i / 30)
    (tmp_path / "refs").write_text(encode(0, 11 / 30, 11, went_on.state()) + encode(0, 0.5, 15, went_on.state())[:40])
    kept = read(tmp_path / "refs")
    assert [r["frame"] for r in kept[0]] == [11] and (tmp_path / "refs").read_text().count("\n") == 1
    fresh.refine(frame(11), matrix, 11 / 30)
    plain.refine(frame(11), matrix, 11 / 30)
    fresh.restore(kept[0][0]["ref"], kept[0][0]["warp"], kept[0][0]["t"])
    apart = []
    for i in range(12, 30):
        a, b, c = (s.refine(frame(i), matrix, i / 30) for s in (went_on, fresh, plain))
        apart.append((np.abs(a - b).max(), np.abs(a - c).max()))
    assert went_on.restarts == fresh.restarts == plain.restarts == 1  # registered throughout
    assert max(x for x, _ in apart) < 0.02 and max(y for _, y in apart) > 0.2
    (tmp_path / "refs").write_text(encode(0, 0.0, 0, went_on.state()) + '{"v": 1, "face": "a"}\n')
    with pytest.raises(ValueError, match="line 2"):
        read(tmp_path / "refs")


def test_a_face_whose_stabiliser_restarts_often_is_kept_every_snapshot_only(tmp_path):
    """ReferenceLog keeps a face's reference on a detected frame every SNAPSHOT_S seconds, not at each restart of its
    stabiliser (a talking face's restarts every 0.3-2 s), nor on a frame it was only followed on (frame 300: the
    next detected one, 302, instead)."""
    from types import SimpleNamespace as NS

    import numpy as np

    from mpt_live.references import SIDECAR, SNAPSHOT_S, ReferenceLog, read

    class Stab:
        restarts = 0

        def state(self):
            return {"ref": np.full((112, 112), self.restarts, np.float32), "warp": np.eye(2, 3), "t": 0.0}

    stab = Stab()
    tracker = NS(tracks=[NS(id=0, aligner=NS(stabilizer=stab))])
    warned: list[str] = []
    log, fps = ReferenceLog(tmp_path, warned.append), 30
    seconds = 3 * SNAPSHOT_S + 1
    for i in range(int(seconds * fps)):
        stab.restarts = i // 10  # a restart every third of a second
        log.frame(i, i / fps, tracker, [NS(id=0, face=NS(detected=i % 3 != 1 and i != 300))])
    log.close()
    kept = read(tmp_path / SIDECAR)[0]
    assert [r["frame"] for r in kept] == [0, 302, 602, 902] and log.written == 4
    assert not warned


def test_a_resumed_runs_labels_are_the_whole_runs_as_an_uncut_runs(tmp_path, faces_dir):
    """summary.json's labels (and the terminal's shares) of a resumed run: a video whose first 5 s have no face, ended
    by --max-seconds 6 and resumed, had only its resumed part's ('neutral 100%' beside the whole run's window count);
    they are the uncut run's: each label's windows and seconds and its share of the time. A killed run's summary made
    by an older --finish has no labels: the part's are kept."""
    from mpt_live.resume import ResumePoint, merge

    video = tmp_path / "late face.mp4"
    fk.ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=480x480:r=30:d=5",
              "-i", str(faces_dir / "videos" / "liveportrait_d19_glasses.mp4"), "-filter_complex",
              "[1:v]trim=0:4,setpts=PTS-STARTPTS[f];[0:v][f]concat=n=2:v=1[v]", "-map", "[v]",
              "-c:v", "libx264", "-pix_fmt", "yuv420p", str(video))
    whole, out = tmp_path / "uncut", tmp_path / "o"
    assert cli("--video", str(video), *RUN, "--out", str(whole)).returncode == 0
    assert cli("--video", str(video), *RUN, "--out", str(out), "--max-seconds", "6").returncode == 0
    assert "no face" in summary(out)["labels"]
    res = cli("--video", str(video), *RUN, "--out", str(out), "--resume")
    assert res.returncode == 0, res.stderr[-2000:]
    want = summary(whole)["labels"]
    assert summary(out)["labels"] == want and {"no face", "neutral"} <= set(want)
    shares = ", ".join(f"{k} {v['share']:.0%}" for k, v in want.items() if v["share"] >= 0.005)
    assert shares in res.stdout + res.stderr
    part = {"frames_read": 10, "events": [], "faces": [], "outputs": {}, "warnings": [],
            "labels": {"neutral": {"windows": 5, "seconds": 0.333, "share": 1.0}}}
    killed = {"frames_read": 100, "frames_with_face": None, "status": "killed"}
    merge(part, ResumePoint(99, 3.3, 1, previous=killed), ["frames_read"], {}, "v.mp4")
    assert part["labels"] == {"neutral": {"windows": 5, "seconds": 0.333, "share": 1.0}}
