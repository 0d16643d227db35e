"""A batch's overview (OUT/videos.csv, all_events.csv, index.html): written after each video, kept by a stopped
batch, rebuilt by a rerun; none for one video; the page in chromium."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import shutil
from pathlib import Path

import cv2
import pytest
from rich.console import Console

from mpt_live import batch
from mpt_live.batch import output_dirs, run_batch
from mpt_live.overview import write_overview
from mpt_live.overview_page import short_names
from mpt_live.session import SessionConfig

CLIPS = ["pyfeat_single_face.mp4", "retalking_3_talking.mp4"]


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def cut(src: Path, dst: Path, seconds: float = 2.0) -> None:
    """The first ``seconds`` of a real clip (a batch of them runs in seconds)."""
    cap = cv2.VideoCapture(str(src))
    fps, size = cap.get(cv2.CAP_PROP_FPS), (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    out = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for _ in range(int(fps * seconds)):
        ok, frame = cap.read()
        if not ok:
            break
        out.write(frame)
    out.release()
    cap.release()


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    from mpt_live.runtime import MPTRuntime, demo_model_path
    from tinymodel import tiny_onnx

    path = demo_model_path()
    return MPTRuntime(path if path.is_file() else tiny_onnx(tmp_path_factory.mktemp("m") / "tiny.onnx"), device="cpu")


@pytest.fixture(scope="module")
def clips(faces_dir, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("clips")
    for name in CLIPS:
        cut(faces_dir / "videos" / name, d / name)
    return d


@pytest.fixture()
def folder(clips, tmp_path) -> Path:
    d = tmp_path / "in"
    shutil.copytree(clips, d)
    (d / "zz_broken.mp4").write_text("not a video")
    return d


def test_serial_batch_writes_the_overview(folder, runtime, tmp_path):
    out = tmp_path / "out"
    done, failed = run_batch(str(folder), out, runtime, SessionConfig(), Console(quiet=True))
    assert len(done) == 2 and len(failed) == 1
    listed = rows(out / "videos.csv")
    assert [(r["video"], r["status"]) for r in listed] == [(CLIPS[0], "done"), (CLIPS[1], "done"),
                                                            ("zz_broken.mp4", "failed")]
    assert "broken.mp4" in listed[2]["reason"] and listed[2]["folder"] == ""
    for r, (video, d, s) in zip(listed, done):  # the summary's facts, as they are
        assert (out / r["folder"]) == d and int(r["frames"]) == s["frames_read"]
        assert float(r["duration_s"]) == s["source_seconds"] and int(r["faces"]) == len(s["faces"])
        assert int(r["windows_classified"]) == s["windows_classified"] and r["model"] == s["model"]["name"]
        assert r["demo"] == str(s["model"]["demo"]) and float(r["face_share"]) == s["frames_with_face"] / s["frames_read"]
        assert int(r["micro_events"]) + int(r["macro_events"]) == len(s["events"])
        assert all(f"events_{c}" in r for c in s["model"]["classes"])
    events = rows(out / "all_events.csv")
    assert (out / "all_events.csv").read_text().splitlines()[0] == (done[0][1] / "events.csv").read_text().splitlines()[0]
    assert sum(len(s["events"]) for _, _, s in done) == len(events)
    page = (out / "index.html").read_text()
    assert 'href="pyfeat_single_face/report.html"' in page and "http://" not in page and "https://" not in page
    assert not list(out.glob(".*tmp*"))  # written through temporary files, none left


def test_a_stopped_batch_keeps_what_finished_and_a_rerun_rebuilds_it(folder, runtime, tmp_path, monkeypatch):
    out, real = tmp_path / "out", batch.run_job
    (folder / "zz_broken.mp4").unlink()
    calls = []

    def stop_second(src, *a, **k):  # Ctrl-C during the second video
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(src, *a, **k)

    monkeypatch.setattr(batch, "run_job", stop_second)
    with pytest.raises(KeyboardInterrupt):
        run_batch(str(folder), out, runtime, SessionConfig(), Console(quiet=True))
    assert [r["video"] for r in rows(out / "videos.csv")] == [CLIPS[0]]
    assert CLIPS[0] in (out / "index.html").read_text() and CLIPS[1] not in (out / "index.html").read_text()
    monkeypatch.setattr(batch, "run_job", real)
    run_batch(str(folder), out, runtime, SessionConfig(), Console(quiet=True))
    assert [(r["video"], r["status"]) for r in rows(out / "videos.csv")] == [(c, "done") for c in CLIPS]


def _summary(status: str, events: list[dict], **extra) -> dict:
    return {"status": status, "problems": extra.pop("problems", []), "frames_read": 100, "frames_with_face": 80,
            "source_seconds": 4.0, "faces": [{"face_id": 0}, {"face_id": 1}], "windows_classified": 40,
            "model": {"name": "m.onnx", "demo": False, "classes": ["happiness", "surprise"]}, "events": events, **extra}


def _two_runs(tmp_path: Path) -> tuple[list[Path], Path, list[Path]]:
    """Videos a.mp4 and b.mp4, a batch's --out and the two complete runs' folders in it (summary.json only)."""
    videos = [tmp_path / "in" / n for n in ("a.mp4", "b.mp4")]
    out = tmp_path / "out"
    dirs = output_dirs(videos, out)
    for v, d in zip(videos, dirs):
        d.mkdir(parents=True)
        (d / "summary.json").write_text(json.dumps({**_summary("complete", []), "source": str(v)}))
    return videos, out, dirs


def test_overview_of_hand_made_outputs(tmp_path):
    """Counts per type and class, an incomplete run's reason, a run still running left out, the events' table;
    nothing for a single video."""
    videos = [tmp_path / "in" / n for n in ("a.mp4", "b.mp4", "c.mp4", "d.mp4")]
    out = tmp_path / "out"
    dirs = output_dirs(videos, out)
    ev = [{"type": "micro", "class": "surprise"}, {"type": "macro", "class": "surprise"}, {"type": "micro", "class": None}]
    for d, s in zip(dirs, [_summary("complete", ev), _summary("interrupted", [], problems=["interrupted (SIGINT)"]),
                           _summary("running", [])]):
        d.mkdir(parents=True)
        (d / "summary.json").write_text(json.dumps(s))
        (d / "events.csv").write_text("video,face,onset_s,apex_s,offset_s,onset_frame,apex_frame,offset_frame,type,"
                                      "class,confidence,score\nx.mp4,0,1.0,1.1,1.2,30,33,36,micro,surprise,0.9,5.0\n")
    write_overview(out, videos, dirs, [(videos[3], "d.mp4: unreadable")])
    a, b, d = rows(out / "videos.csv")
    assert (a["video"], a["status"], a["micro_events"], a["macro_events"]) == ("a.mp4", "done", "2", "1")
    assert (a["events_surprise"], a["events_happiness"], a["events_unclassified"]) == ("2", "0", "1")
    assert (a["events_per_min"], a["face_share"], a["faces"]) == ("45.0", "0.8", "2")
    assert (b["status"], b["reason"], b["events_unclassified"]) == ("incomplete", "interrupted (SIGINT)", "0")
    assert (d["status"], d["reason"]) == ("failed", "d.mp4: unreadable")
    assert [(e["video"], e["apex_frame"]) for e in rows(out / "all_events.csv")] == [("a.mp4", "33"), ("b.mp4", "33")]
    single = tmp_path / "one"
    write_overview(single, videos[:1], [single], [])
    assert not single.exists()


def test_the_overview_says_which_model_was_trained_on_mpt_synth_clips(tmp_path):
    """A video's summary.json said its model was trained on mpt-synth clips (model.data_kind); index.html named the
    model alone. Its model cell now says so; videos.csv's columns stay as they were."""
    videos = [tmp_path / "in" / n for n in ("a.mp4", "b.mp4")]
    out = tmp_path / "out"
    dirs = output_dirs(videos, out)
    kinds = ["semi-synthetic (mpt-synth)", None]
    for d, kind in zip(dirs, kinds):
        d.mkdir(parents=True)
        s = _summary("complete", [])
        s["model"]["data_kind"] = kind
        (d / "summary.json").write_text(json.dumps(s))
    write_overview(out, videos, dirs, [])
    page = (out / "index.html").read_text()
    cells = re.findall(r'<td data-v="m.onnx">.*?</td>', page)
    assert len(cells) == 2 and "trained on semi-synthetic (mpt-synth)" in cells[0], cells
    assert "trained on" not in cells[1]
    assert "data_kind" not in rows(out / "videos.csv")[0]


def test_symlinked_videos_keep_the_names_given(tmp_path):
    """Videos that are links (to files named otherwise, elsewhere; two to one file) are listed by the names the
    batch was given, and only the one that failed is failed."""
    store, given = tmp_path / "store", tmp_path / "in"
    store.mkdir()
    given.mkdir()
    for n in ("take_1.mp4", "take_2.mp4"):
        (store / n).write_bytes(b"")
    videos = [given / n for n in ("a.mp4", "b.mp4", "c.mp4")]
    for v, target in zip(videos, ("take_1.mp4", "take_2.mp4", "take_1.mp4")):
        v.symlink_to(store / target)
    out = tmp_path / "out"
    dirs = output_dirs(videos, out)
    for d in dirs[:2]:
        d.mkdir(parents=True)
        (d / "summary.json").write_text(json.dumps(_summary("complete", [])))
    write_overview(out, videos, dirs, [(videos[2], "c.mp4: unreadable")])
    assert [(r["video"], r["status"]) for r in rows(out / "videos.csv")] == [
        ("a.mp4", "done"), ("b.mp4", "done"), ("c.mp4", "failed")]


def test_index_in_chromium(browser, tmp_path):
    videos = [tmp_path / "in" / n for n in ("a b.mp4", "c.mp4", "z.mp4")]
    out = tmp_path / "out"
    dirs = output_dirs(videos, out)
    for d, n in zip(dirs, (3, 1)):
        d.mkdir(parents=True)
        (d / "summary.json").write_text(json.dumps(_summary("complete", [{"type": "micro", "class": "surprise"}] * n)))
        (d / "report.html").write_text(f"<!doctype html><title>{d.name}</title>")
    write_overview(out, videos, dirs, [(videos[2], "z.mp4: unreadable")])
    page = browser.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((out / "index.html").as_uri())
    names = "Array.from(document.querySelectorAll('#videos tbody tr')).map(r => r.cells[0].dataset.v)"
    assert page.evaluate(names) == ["a b.mp4", "c.mp4", "z.mp4"]
    assert page.locator("tr.failed").count() == 1 and "unreadable" in page.locator("tr.failed").inner_text()
    micro = page.locator("#videos th", has_text="micro")
    micro.click()
    assert page.evaluate(names) == ["c.mp4", "a b.mp4", "z.mp4"]  # ascending; the failed video (no figure) last
    micro.click()
    assert page.evaluate(names)[:2] == ["a b.mp4", "c.mp4"]
    links = page.locator("#videos tbody a")
    assert links.count() == 2
    links.first.click()
    page.wait_for_load_state()
    assert page.title() == "a b" and not errors


def test_videos_csv_header_does_not_depend_on_the_videos(tmp_path):
    """Batches of one model have one header whatever their videos held (pandas concat of batches aligns):
    events_unclassified with or without such events, every class of the model even when every video failed."""
    headers = []
    for k, (events, fail) in enumerate([([{"type": "micro", "class": "surprise"}], False),
                                        ([{"type": "micro", "class": None}], False), ([], True)]):
        videos = [tmp_path / f"in{k}" / n for n in ("a.mp4", "b.mp4")]
        out = tmp_path / f"out{k}"
        dirs = output_dirs(videos, out)
        if not fail:
            for d in dirs:
                d.mkdir(parents=True)
                (d / "summary.json").write_text(json.dumps(_summary("complete", events)))
        write_overview(out, videos, dirs, [(v, "unreadable") for v in videos] if fail else [],
                       classes=("happiness", "surprise"))
        with open(out / "videos.csv", newline="") as fh:
            headers.append(next(csv.reader(fh)))
        assert all(r["events_unclassified"] in ("0", "1", "") for r in rows(out / "videos.csv"))
    assert headers[0] == headers[1] == headers[2]
    assert headers[0][-4:] == ["events_surprise", "events_unclassified", "model", "demo"]


def _earlier_batch(clips: Path, out: Path) -> tuple[list[Path], list[Path]]:
    """An earlier batch's --out over two clips (hand-made summaries: no events), its overview written."""
    videos = [clips / n for n in CLIPS]
    dirs = output_dirs(videos, out)
    for v, d in zip(videos, dirs):
        d.mkdir(parents=True)
        (d / "summary.json").write_text(json.dumps({**_summary("complete", []), "source": str(v)}))
    write_overview(out, videos, dirs, [], classes=("happiness", "surprise"))
    return videos, dirs


def test_a_single_run_into_a_batch_video_folder_refreshes_its_overview(clips, tmp_path, capsys):
    """`--video one.mp4 --out OUT/one` into the folder of one of an earlier batch's videos: OUT's videos.csv,
    all_events.csv and index.html then describe the new run (its summary's frames, not the old one's 100)."""
    out = tmp_path / "out"
    videos, dirs = _earlier_batch(clips, out)
    console = Console(file=io.StringIO(), width=400)
    done, _ = run_batch([videos[0]], dirs[0], None, SessionConfig(), console)
    first, second = rows(out / "videos.csv")
    assert (first["video"], first["frames"], second["frames"]) == (CLIPS[0], str(done[0][2]["frames_read"]), "100")
    assert first["frames"] != "100" and "rebuilt: 2 videos" in console.file.getvalue()
    assert str(done[0][2]["frames_read"]) in (out / "index.html").read_text()
    alone = tmp_path / "alone"  # a single run elsewhere writes no overview anywhere
    run_batch([videos[0]], alone, None, SessionConfig(), Console(quiet=True))
    assert not (tmp_path / "videos.csv").exists() and not (alone / "videos.csv").exists()


def test_a_realtime_run_into_a_batch_video_folder_refreshes_its_overview(clips, tmp_path):
    """--realtime (a camera or a stream alike: no batch driver around it) ends as every run does: the earlier
    batch's overview rebuilt, and one line saying so."""
    from typer.testing import CliRunner

    from mpt_live.cli import app

    out = tmp_path / "out"
    videos, dirs = _earlier_batch(clips, out)
    res = CliRunner().invoke(app, ["--video", str(videos[1]), "--realtime", "--motion-only", "--headless",
                                   "--out", str(dirs[1])])
    s = json.loads((dirs[1] / "summary.json").read_text())
    assert s["mode"] == "live" and res.exit_code in (0, 1), res.output
    first, second = rows(out / "videos.csv")
    assert (second["video"], second["frames"], first["frames"]) == (CLIPS[1], str(s["frames_read"]), "100")
    assert "overview" in res.output and "rebuilt: 2 videos" in res.output


def test_a_failed_video_run_alone_into_its_folder_refreshes_the_overview(clips, tmp_path, monkeypatch):
    """A video the batch failed on (no folder, listed in failed.csv, here under a linked folder's path) run alone
    into OUT/<stem> from another working folder: the overview lists its run, failed.csv no longer lists it."""
    from mpt_live.batch import record_failures

    out = tmp_path / "out"
    videos, dirs = _earlier_batch(clips, out)
    shutil.rmtree(dirs[1])
    linked = tmp_path / "linked"
    linked.symlink_to(clips)
    record_failures(out, [(linked / CLIPS[1], f"{CLIPS[1]}: could not be read")])
    write_overview(out, videos, dirs, [(videos[1], f"{CLIPS[1]}: could not be read")])
    assert [r["status"] for r in rows(out / "videos.csv")] == ["done", "failed"]
    monkeypatch.chdir(clips)  # typed as a bare name, from the videos' folder
    run_batch([Path(CLIPS[1])], dirs[1], None, SessionConfig(), Console(quiet=True))
    assert Path(json.loads((dirs[1] / "summary.json").read_text())["source"]).samefile(videos[1])
    assert [(r["video"], r["status"], r["folder"]) for r in rows(out / "videos.csv")] == [
        (CLIPS[0], "done", dirs[0].name), (CLIPS[1], "done", dirs[1].name)]
    assert not (out / "failed.csv").exists()
    monkeypatch.chdir(tmp_path)  # --finish from elsewhere names the videos as the batch did
    from mpt_live.finish import finish_overview, run_folders

    assert finish_overview(out, run_folders(out))
    assert [r["video"] for r in rows(out / "videos.csv")] == CLIPS


def test_a_rebuilt_all_failed_batch_keeps_its_models_columns(tmp_path):
    """Every video failed: --finish OUT (nothing to finish) still rebuilds the overview, with the batch's model's
    class columns, from its videos.csv or, a batch killed before it wrote one, from its marker."""
    from mpt_live.finish import finish_overview, run_folders
    from mpt_live.batch import record_failures
    from mpt_live.rundir import BATCH_MARKER

    videos = [tmp_path / "in" / n for n in ("a.mp4", "b.mp4")]
    out = tmp_path / "out"
    failed = [(v, f"{v.name}: could not be read") for v in videos]
    record_failures(out, failed)
    write_overview(out, videos, output_dirs(videos, out), failed, classes=("happiness", "surprise"))
    expected = (out / "videos.csv").read_text().splitlines()[0]
    assert "events_surprise" in expected
    for marker in (False, True):
        if marker:  # a batch killed outright (its process on another host: not alive here), no videos.csv yet
            (out / "videos.csv").unlink()
            (out / BATCH_MARKER).write_text(json.dumps({"status": "running", "pid": 1, "host": "elsewhere",
                                                        "classes": ["happiness", "surprise"]}))
        assert "rebuilt: 2 videos" in finish_overview(out, run_folders(out))
        assert (out / "videos.csv").read_text().splitlines()[0] == expected
        assert [r["status"] for r in rows(out / "videos.csv")] == ["failed", "failed"]


def test_the_refresh_reads_each_summary_once(tmp_path, monkeypatch):
    """The enclosing batch's refresh parses each of its videos' summary.json once (it was three times: to find the
    run folders, for their videos, for their rows)."""
    from mpt_live import finish, overview
    from mpt_live.rundir import SUMMARY

    videos = [tmp_path / "in" / f"v{i}.mp4" for i in range(4)]
    out = tmp_path / "out"
    dirs = output_dirs(videos, out)
    for v, d in zip(videos, dirs):
        d.mkdir(parents=True)
        (d / SUMMARY).write_text(json.dumps({**_summary("complete", []), "source": str(v)}))
    write_overview(out, videos, dirs, [])
    reads: list[Path] = []
    for module in (finish, overview):
        real = module.read_summary

        def counted(folder, name=SUMMARY, real=real):
            if name == SUMMARY:
                reads.append(Path(folder))
            return real(folder, name)

        monkeypatch.setattr(module, "read_summary", counted)
    assert "rebuilt: 4 videos" in finish.refresh_enclosing(dirs[2])
    assert sorted(r for r in reads if r != out) == sorted(dirs)  # out itself: whether it is a run's folder


def test_the_refresh_reads_the_batchs_tables_once(tmp_path, monkeypatch):
    """The enclosing batch's refresh read its videos.csv twice (whether it lists the run's folder, then for the class
    columns) and its failed.csv twice where the run's video had failed there (whether it lists it, then for the
    rebuild): each once now, and the run's own summary.json (read to match its video with failed.csv, then again for
    the rebuild) once. A run into a listed folder reads every file of the batch at most once."""
    import builtins
    from collections import Counter

    from mpt_live import finish
    from mpt_live.batch import record_failures

    videos = [tmp_path / "in" / f"v{i}.mp4" for i in range(3)]
    out = tmp_path / "out"
    dirs = output_dirs(videos, out)
    failed = [(videos[2], "v2.mp4: could not be read")]
    for v, d in zip(videos, dirs):
        d.mkdir(parents=True)
        (d / "summary.json").write_text(json.dumps({**_summary("complete", []), "source": str(v)}))
        (d / "events.csv").write_text("event_id,video\n")
    record_failures(out, failed)
    write_overview(out, videos, dirs, failed, classes=("happiness", "surprise"))
    os.utime(dirs[2] / "summary.json", (os.path.getmtime(out / "failed.csv") + 5,) * 2)  # v2 run alone since
    reads: Counter[Path] = Counter()
    real = io.open

    def counted(file, mode="r", *args, **kwargs):
        fh = real(file, mode, *args, **kwargs)
        if "r" in mode and not isinstance(file, int):
            reads[Path(file)] += 1
        return fh

    monkeypatch.setattr(io, "open", counted)
    monkeypatch.setattr(builtins, "open", counted)
    assert "rebuilt: 3 videos" in finish.refresh_enclosing(dirs[2])  # its video in failed.csv, not its folder
    assert (reads[out / "videos.csv"], reads[out / "failed.csv"]) == (1, 1)
    assert reads[dirs[2] / "summary.json"] == 1 and max(reads.values()) == 1  # the run's summary: once, not twice
    assert [r["status"] for r in rows(out / "videos.csv")] == ["done"] * 3
    reads.clear()
    assert "rebuilt: 3 videos" in finish.refresh_enclosing(dirs[0])  # its folder in videos.csv
    assert reads[out / "videos.csv"] == 1 and max(reads.values()) == 1
    assert {out / "videos.csv", *(d / "summary.json" for d in dirs), *(d / "events.csv" for d in dirs)} <= set(reads)


def test_a_run_started_from_another_folder_is_named_as_the_batch_named_it(clips, tmp_path, monkeypatch):
    """One of a batch's videos run again alone from its own folder (typed as a bare name) into its batch folder, then
    --finish OUT from yet another folder: the overview names it as the batch did, once (its summary records the path
    absolute; as typed, --finish looked for it under its own working folder)."""
    from mpt_live.finish import finish_overview, run_folders

    videos = [clips / n for n in CLIPS]
    out = tmp_path / "out"
    dirs = output_dirs(videos, out)
    for v, d in zip(videos, dirs):
        d.mkdir(parents=True)
        (d / "summary.json").write_text(json.dumps({**_summary("complete", []), "source": str(v)}))
    write_overview(out, videos, dirs, [])
    monkeypatch.chdir(clips)
    run_batch([Path(CLIPS[0])], dirs[0], None, SessionConfig(), Console(quiet=True))
    source = Path(json.loads((dirs[0] / "summary.json").read_text())["source"])
    assert source.is_absolute() and source.samefile(videos[0]) and source.name == CLIPS[0]
    monkeypatch.chdir(tmp_path)
    assert "rebuilt: 2 videos" in finish_overview(out, run_folders(out))
    assert [(r["video"], r["folder"]) for r in rows(out / "videos.csv")] == [(c, d.name) for c, d in zip(CLIPS, dirs)]


@pytest.mark.parametrize("name", ["videos.csv", "failed.csv"])
def test_a_run_below_a_folder_with_a_csv_not_in_utf8_ends_as_it_would(tmp_path, name):
    """Every run's end looks for an enclosing batch's videos.csv and failed.csv in the folders above its --out. One
    there that is not UTF-8 (a batch's table saved again by a spreadsheet in the system's code page, anyone's own
    videos.csv) stopped the run after its outputs with a UnicodeDecodeError traceback; it is now no batch's table."""
    from mpt_live import finish, overview

    d = tmp_path / "out" / "a"
    d.mkdir(parents=True)
    (d / "summary.json").write_text(json.dumps({**_summary("complete", []), "source": str(tmp_path / "a.mp4")}))
    header = "video,folder,events_joy\n" if name == "videos.csv" else "video,reason\n"
    (tmp_path / "out" / name).write_bytes((header + "Caf\xe9.mp4,b,1\n").encode("cp1252"))
    assert finish.refresh_enclosing(d) is None
    assert overview.batch_classes(tmp_path / "out") == ()


def test_a_video_that_failed_beside_its_folder_of_an_earlier_run_stays_failed_once_rebuilt(tmp_path):
    """A video that ran in one batch and failed in the next (its file changed and unreadable since: the failed open
    leaves its folder as it was) is failed in that batch's overview. A rebuild (--finish OUT, a single run into another
    video's folder) took the earlier run's folder for a run made since the failure: the video listed done, with the
    earlier run's figures, and dropped from failed.csv. Only a run newer than failed.csv now replaces its failure."""
    import os

    from mpt_live.finish import finish_overview, refresh_enclosing, run_folders
    from mpt_live.overview import record_failures

    videos, out, dirs = _two_runs(tmp_path)
    for d in dirs:
        os.utime(d / "summary.json", (1e9, 1e9))  # the earlier batch's runs
    failed = [(videos[0], "a.mp4: could not be read")]
    record_failures(out, failed)  # the next batch: a.mp4 fails, b.mp4 is skipped (complete)
    write_overview(out, videos, dirs, failed)
    assert [r["status"] for r in rows(out / "videos.csv")] == ["failed", "done"]
    assert finish_overview(out, run_folders(out)) and refresh_enclosing(dirs[1])
    assert [r["status"] for r in rows(out / "videos.csv")] == ["failed", "done"]
    assert [r["video"] for r in rows(out / "failed.csv")] == [str(videos[0])]
    (dirs[0] / "summary.json").write_text(json.dumps({**_summary("complete", []), "source": str(videos[0])}))
    assert refresh_enclosing(dirs[0])  # a.mp4 run alone since, into its folder: no longer failed
    assert [r["status"] for r in rows(out / "videos.csv")] == ["done", "done"] and not (out / "failed.csv").exists()


def test_a_videos_events_csv_not_in_utf8_leaves_its_events_out_of_the_overview(tmp_path):
    """A video's events.csv saved again in the system's code page (a spreadsheet) stopped the batch's overview with a
    UnicodeDecodeError traceback: after each of a batch's videos, and at the end of any run into one of its folders.
    Its video is listed from its summary, its events left out of all_events.csv, as for an events.csv not there."""
    videos = [tmp_path / "in" / n for n in ("a.mp4", "b.mp4")]
    out = tmp_path / "out"
    dirs = output_dirs(videos, out)
    header = ",".join(["event_id", "video", "face", "onset_s", "apex_s", "offset_s", "onset_frame", "apex_frame",
                       "offset_frame", "type", "class", "confidence", "score"]) + "\n"
    for v, d in zip(videos, dirs):
        d.mkdir(parents=True)
        (d / "summary.json").write_text(json.dumps({**_summary("complete", []), "source": str(v)}))
        (d / "events.csv").write_bytes((header + f"1,{v.name},0,1.0,1.1,1.2,30,33,36,micro,,,5.0\n").encode())
    (dirs[0] / "events.csv").write_bytes((header + "1,a.mp4,0,1.0,1.1,1.2,30,33,36,micro,,,5.0,vu \xe0 l'\xe9cran\n"
                                          ).encode("cp1252"))
    write_overview(out, videos, dirs, [])
    assert [r["video"] for r in rows(out / "videos.csv")] == ["a.mp4", "b.mp4"]
    assert [r["video"] for r in rows(out / "all_events.csv")] == ["b.mp4"]


def test_a_rebuild_drops_the_columns_of_a_model_no_run_uses_any_more(tmp_path):
    """A rebuild without the batch's marker takes the batch's model's classes from the videos.csv it replaces, whose
    header also held the classes of another model one video was run again with. Once that video ran again with the
    batch's model, those columns were kept as if the batch's model had them, in every rebuild after; they are gone,
    the batch's model's kept; rebuilt again with nothing changed, the header stays. Its marker (a batch killed
    outright) still says its classes first."""
    from mpt_live.finish import find_runs
    from mpt_live.overview import batch_classes, rebuild, record_failures
    from mpt_live.rundir import BATCH_MARKER

    videos = [tmp_path / "in" / n for n in ("a.mp4", "b.mp4")]
    out = tmp_path / "out"
    dirs = output_dirs(videos, out)
    other = {"name": "other.onnx", "demo": False, "classes": ["anger", "fear"]}
    for v, d in zip(videos, dirs):
        d.mkdir(parents=True)
        (d / "summary.json").write_text(json.dumps({**_summary("complete", []), "source": str(v)}))
    write_overview(out, videos, dirs, [], classes=("happiness", "surprise"))
    for model, expected in [(other, ["happiness", "surprise", "anger", "fear"]), (None, ["happiness", "surprise"])]:
        s = {**_summary("complete", []), "source": str(videos[0]), **({"model": model} if model else {})}
        (dirs[0] / "summary.json").write_text(json.dumps(s))  # video a run again alone: another model, then the batch's
        for _ in range(2):  # rebuilt again, nothing changed since: the same header
            assert rebuild(out, find_runs(out)) == 2
            with open(out / "videos.csv", newline="") as fh:
                header = next(csv.reader(fh))
            assert [c[7:] for c in header if c.startswith("events_") and c not in ("events_per_min",
                                                                                   "events_unclassified")] == expected
    failed_out = tmp_path / "failed"  # a batch whose videos all failed, one of them run alone since, another model
    failed = [(v, "could not be read") for v in videos]
    record_failures(failed_out, failed)
    os.utime(failed_out / "failed.csv", (1, 1))
    write_overview(failed_out, videos, output_dirs(videos, failed_out), failed, classes=("happiness", "surprise"))
    a = output_dirs(videos, failed_out)[0]
    a.mkdir(parents=True)
    (a / "summary.json").write_text(json.dumps({**_summary("complete", []), "source": str(videos[0]), "model": other}))
    for _ in range(2):  # rebuilt twice: the batch's columns stay while videos.csv's rows name its runs' models
        rebuild(failed_out, find_runs(failed_out))
        assert batch_classes(failed_out) == ("happiness", "surprise", "anger", "fear")
    (out / BATCH_MARKER).write_text(json.dumps({"status": "running", "pid": 1, "host": "elsewhere",
                                                "classes": ["joy"]}))
    assert batch_classes(out, find_runs(out)) == ("joy",)


def test_a_rebuild_keeps_the_batch_columns_when_a_listed_run_was_deleted(tmp_path):
    """A listed run whose folder was deleted since counted as 'run again with another model' (no model: '' against
    its row's), so a rebuild kept only the classes the remaining runs' models have: with none left, the batch's class
    columns went. A run that is gone tells no model."""
    from mpt_live.overview import batch_classes

    videos, out, dirs = _two_runs(tmp_path)
    write_overview(out, videos, dirs, [], classes=("happiness", "surprise", "disgust"))
    for d in dirs:
        shutil.rmtree(d)
    assert batch_classes(out) == ("happiness", "surprise", "disgust")


def test_a_run_from_start_has_the_seconds_it_analysed_as_its_duration(tmp_path):
    """A run from --start 20 to 35 s (its summary's source_seconds: the file's time it read to) had duration_s 35 and
    its events per minute over 35 s, though it analysed 15: both count from its start now."""
    videos = [tmp_path / "in" / n for n in ("a.mp4", "b.mp4")]
    out = tmp_path / "out"
    dirs = output_dirs(videos, out)
    ev = [{"type": "micro", "class": "surprise"}] * 3
    for d, extra in zip(dirs, [{"start_s": 20.0, "source_seconds": 35.0}, {"start_s": None}]):
        d.mkdir(parents=True)
        (d / "summary.json").write_text(json.dumps(_summary("complete", ev, **extra)))
    write_overview(out, videos, dirs, [])
    a, b = rows(out / "videos.csv")
    assert (a["duration_s"], a["events_per_min"]) == ("15.0", "12.0"), a
    assert (b["duration_s"], b["events_per_min"]) == ("4.0", "45.0"), b


def test_index_shows_a_reason_without_the_path_that_names_its_video(tmp_path):
    """index.html showed each failed or incomplete video's reason under its name as videos.csv keeps it, the video's
    absolute path first (`guest_c.mp4` above `/work/.../guest_c.mp4: ended after 139 of the 240 frames ...`), which
    filled its narrow column; the page shows the reason from what happened, videos.csv keeps the path."""
    from mpt_live.overview_page import render_index

    long = "/data/interviews/day 2/guest_c.mp4"
    rows = [{"video": "day 2/guest_c.mp4", "folder": "guest_c", "status": "incomplete",
             "reason": f"{long}: ended after 139 of the 240 frames its header announces; timeline.png: not written "
                       f"({long}: No space left on device)"},
            {"video": "notes.mp4", "folder": "", "status": "failed",
             "reason": "/data/interviews/notes.mp4: not a readable video: FFmpeg does not recognise its contents"},
            {"video": "other.mp4", "folder": "", "status": "failed", "reason": "/data/x/notes.mp4: unreadable"}]
    page = render_index(rows, [], 3)
    reasons = re.findall(r'<div class="reason">(.*?)</div>', page)
    assert reasons == [("ended after 139 of the 240 frames its header announces; timeline.png: not written "
                        f"({html.escape(long)}: No space left on device)"),  # a path inside a part, not first, stays
                       "not a readable video: FFmpeg does not recognise its contents",
                       "/data/x/notes.mp4: unreadable"]  # a path that is not this row's video's stays


def test_index_sorts_by_keyboard_and_says_its_order(browser, tmp_path):
    """The column heads sorted on a mouse click only (a th with a click listener: Tab went from link to link, past
    them), and their order was an arrow drawn by a class, which a screen reader does not read. Each head is now a
    button Tab reaches, Enter sorts by it (again: the other way) and the head says its order in aria-sort."""
    videos = [tmp_path / "in" / n for n in ("interview_1.mp4", "interview_2.mp4", "interview_3.mp4")]
    out = tmp_path / "out"
    dirs = output_dirs(videos, out)
    for d, n in zip(dirs, (2, 5, 1)):
        d.mkdir(parents=True)
        (d / "summary.json").write_text(json.dumps(_summary("complete", [{"type": "micro", "class": "surprise"}] * n)))
    write_overview(out, videos, dirs, [])
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((out / "index.html").as_uri())
    names = "Array.from(document.querySelectorAll('#videos tbody tr')).map(r => r.cells[0].dataset.v)"
    reached = []
    for _ in range(12):  # Tab from the top of the page to the micro events' column head
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.textContent"))
        if reached[-1] == "micro":
            break
    assert reached[0] == "video" and reached[-1] == "micro", reached
    head = page.get_by_role("columnheader", name="micro")
    assert head.get_attribute("aria-sort") is None
    page.keyboard.press("Enter")
    assert page.evaluate(names) == ["interview_3.mp4", "interview_1.mp4", "interview_2.mp4"]
    assert head.get_attribute("aria-sort") == "ascending"
    page.keyboard.press("Enter")
    assert page.evaluate(names) == ["interview_2.mp4", "interview_1.mp4", "interview_3.mp4"]
    assert head.get_attribute("aria-sort") == "descending"
    page.keyboard.press("Shift+Tab")  # the head before it, by Space: the order moves to that column
    page.keyboard.press("Space")
    assert page.get_by_role("columnheader", name="windows classified").get_attribute("aria-sort") == "ascending"
    assert head.get_attribute("aria-sort") is None and not errors


def test_an_index_with_a_model_s_class_columns_fits_a_laptop_window(browser, tmp_path):
    """With a 5-class model's columns index.html was 1800 px wide in a 1280 px window: the page scrolled sideways,
    the model and class columns off screen. The heads wrap and the table scrolls inside its own box."""
    videos = [tmp_path / "in" / n for n in ("guest_a.mp4", "guest_b.mp4")]
    out = tmp_path / "out"
    dirs = output_dirs(videos, out)
    classes = ["happiness", "surprise", "disgust", "repression", "others"]
    for d in dirs:
        d.mkdir(parents=True)
        s = _summary("complete", [{"type": "micro", "class": c} for c in classes])
        s["model"] = {**(s.get("model") or {}), "name": "demo_model.onnx", "classes": classes}
        (d / "summary.json").write_text(json.dumps(s))
    write_overview(out, videos, dirs, [])
    assert all(f'<span class="long">{c}</span>' in (out / "index.html").read_text() for c in classes)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto((out / "index.html").as_uri())
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    box = page.evaluate("(b => [b.left, b.right])(document.querySelector('.wide').getBoundingClientRect())")
    assert box[0] >= 0 and box[1] <= 1280, box


def test_at_1280_px_every_column_of_an_interview_batch_is_in_sight_and_videos_csv_keeps_them_all(browser, tmp_path):
    """A two-person interview's batch at 1280 px: a 5-class model's class heads (a class's name over a one- or
    two-digit count) took 530 px, and the unclassified and model columns were scrolled out of sight inside the table's
    box. The class heads are written upwards and long names wrap: every column is in sight, still named and sorting,
    and videos.csv keeps every column."""
    videos, out, classes = _interview_videos(tmp_path, failed=False)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto((out / "index.html").as_uri())
    box = page.evaluate("(b => [b.scrollWidth, b.clientWidth])(document.querySelector('.wide'))")
    assert box[0] <= box[1] + 1, box  # nothing scrolled out of its box
    for name in [*classes, "unclassified", "model", "video"]:
        head = page.get_by_role("columnheader", name=name, exact=True)
        right = head.evaluate("h => h.getBoundingClientRect().right")
        assert 0 < right <= 1280, (name, right)
    button = page.locator("#videos th button[title='sort by repression']")
    button.click()  # by its count of repression, then the other way: the busier guest first
    button.click()
    assert page.evaluate("Array.from(document.querySelectorAll('#videos tbody tr')).map(r => r.cells[0].dataset.v)") == [
        v.name for v in videos[::-1]]
    header = rows(out / "videos.csv")[0].keys()
    assert [f"events_{c}" for c in classes] + ["events_unclassified", "model", "demo"] == [
        c for c in header if c.startswith("events_") and c != "events_per_min" or c in ("model", "demo")]
    page.close()


def _interview_videos(tmp_path, failed: bool = True):
    """A two-person interview's batch with a 5-class demo model (and, with ``failed``, a third video that failed, and
    a report.html per finished video): (its videos, the output folder, the classes)."""
    names = ("interview_2026-12-01_guest_a.mp4", "interview_2026-12-01_guest_b.mp4") + (("c.mp4",) if failed else ())
    videos = [tmp_path / "in" / n for n in names]
    out = tmp_path / "out"
    dirs = output_dirs(videos, out)
    classes = ["happiness", "surprise", "disgust", "repression", "others"]
    for d, n in zip(dirs, (1, 12)):
        d.mkdir(parents=True)
        s = _summary("complete", [{"type": "micro", "class": c} for c in classes] * n + [{"type": "macro"}])
        s["model"] = {"name": "mpt_casme3_loso_fold3_vit_s14.onnx", "demo": True, "classes": classes}
        (d / "summary.json").write_text(json.dumps(s))
        if failed:
            (d / "report.html").write_text(f"<!doctype html><title>{d.name}</title>")
    write_overview(out, videos, dirs, [(videos[2], "c.mp4: unreadable")] if failed else [])
    return videos, out, classes


def _interview_batch(tmp_path):
    """A two-person interview's batch with a 5-class demo model, and a video that failed: its index.html."""
    return _interview_videos(tmp_path)[1] / "index.html"


ONE_LINE = """(() => { const line = parseFloat(getComputedStyle(document.body).lineHeight);
    return Array.from(document.querySelectorAll('#videos th:not(.count):not(.words) button'))
        .filter(b => b.getBoundingClientRect().height >= 1.5 * line).map(b => b.textContent); })()"""


@pytest.mark.parametrize("width", [375, 600, 1280])
def test_index_heads_stay_on_one_line_and_a_phone_scrolls_the_table_beside_its_video_column(browser, tmp_path, width):
    """'duration s' wrapped, its unit under it; a phone took the page for a 980-px one (no viewport tag), and the
    table, far wider than a phone, scrolled sideways in its box with the videos' names. Each head but the class
    counts' (upwards) and 'windows classified' (two words) is one line, at any width (a sort's arrow too); the page
    is as wide as the phone; its table scrolls in its box with the video column kept in sight."""
    page = browser.new_page(viewport={"width": width, "height": 740}, is_mobile=width < 640, has_touch=width < 640)
    page.goto(_interview_batch(tmp_path).as_uri())
    assert page.evaluate("window.innerWidth") == width
    assert page.evaluate(ONE_LINE) == []
    page.locator("#videos th", has_text="duration s").click()
    assert page.evaluate(ONE_LINE) == []
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    if width < 640:
        left = "(s => document.querySelector(s).getBoundingClientRect().left)"
        page.evaluate("document.querySelector('.wide').scrollLeft = 400")
        assert page.evaluate("document.querySelector('.wide').scrollLeft") == 400
        cell = page.locator("#videos tbody tr:first-child td:first-child")
        assert page.evaluate(f"{left}('#videos tbody tr:first-child td:first-child')") == pytest.approx(
            page.evaluate(f"{left}('.wide')"), abs=1)
        assert page.evaluate(f"{left}('#videos thead th:first-child')") == pytest.approx(
            page.evaluate(f"{left}('.wide')"), abs=1)
        cell.get_by_role("link").click()  # still a link to its page, over the columns under it
        page.wait_for_load_state()
        assert page.url.endswith("/report.html")
    page.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_a_phone_heads_the_class_counts_by_short_names_on_one_line(browser, tmp_path, width):
    """A class's name written upwards made the head row 108 px high on a phone (of its 740-px screen). Under 640 px a
    count's head is its class's name cut short (hap., rep., unc.), on one line and named in full to a screen reader
    and by its title; the head row is then the two lines of 'windows classified'. At 1280 px they are upwards, named
    in full, as before."""
    _, out, classes = _interview_videos(tmp_path)
    page = browser.new_page(viewport={"width": width, "height": 740}, is_mobile=width < 640, has_touch=width < 640)
    page.goto((out / "index.html").as_uri())
    line = page.evaluate("parseFloat(getComputedStyle(document.body).lineHeight)")
    row = page.evaluate("document.querySelector('#videos thead tr').getBoundingClientRect().height")
    heads = page.evaluate("""Array.from(document.querySelectorAll('#videos th.count button')).map(b =>
        [b.innerText.trim(), b.title, getComputedStyle(b).writingMode, b.getBoundingClientRect().height])""")
    assert [t for _, t, _, _ in heads] == [f"sort by {c}" for c in [*classes, "unclassified"]]
    for name in [*classes, "unclassified"]:
        assert page.get_by_role("columnheader", name=name, exact=True).count() == 1
    if width < 640:
        assert [(s, w) for s, _, w, _ in heads] == [(s, "horizontal-tb") for s in (
            "hap.", "sur.", "dis.", "rep.", "oth.", "unc.")]
        assert max(h for *_, h in heads) < 1.5 * line and row < 3 * line, (heads, row, line)
        page.get_by_role("columnheader", name="repression", exact=True).get_by_role("button").click()
        assert page.get_by_role("columnheader", name="repression", exact=True).get_attribute("aria-sort") == "ascending"
        assert max(b.evaluate("b => b.getBoundingClientRect().height") for b in
                   page.locator("#videos th.count button").all()) < 1.5 * line  # its arrow too
    else:
        assert [(s, w) for s, _, w, _ in heads] == [(c, "vertical-rl") for c in [*classes, "unclassified"]]
        assert row > 5 * line  # as tall as 'unclassified' written upwards
    page.close()


def test_a_class_s_short_name_is_the_shortest_beginning_no_other_class_has():
    """A phone's head of a class count (index.html): each tells its class from the others."""
    assert short_names(["happiness", "surprise", "disgust", "repression", "others", "unclassified"]) == [
        "hap.", "sur.", "dis.", "rep.", "oth.", "unc."]
    assert short_names(["surprise", "suppression", "sadness", "fear", "anger"]) == [
        "sur.", "sup.", "sad.", "fear", "anger"]  # five letters or fewer kept
    assert short_names(["positive", "positive_strong", "posture"]) == [
        "positive", "positive_strong", "post."]  # one begins another: whole; the other's cut ends at '_': whole
