"""A recording kept in its own --out folder under an output's name (annotated.mp4 of another tool, review.webm) is
never deleted or written over by the run: a one-line refusal before the model loads (exit 2), the file unchanged."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from faultkit import write_video
from mpt_live.cli import app
from mpt_live.errors import InputError
from mpt_live.rundir import claim_batch, start_run

runner = CliRunner()


@pytest.mark.parametrize("name, args", [("annotated.mp4", []), ("review.webm", ["--save-video"]),
                                        ("annotated.mp4", ["--realtime"])],
                         ids=["cleared", "written-over", "realtime"])
def test_a_video_named_like_an_output_in_its_out_folder_is_kept(tmp_path, name, args):
    video = write_video(tmp_path / "take.mp4", 20).rename(tmp_path / name)  # FFmpeg reads it by its contents
    before = video.read_bytes()
    res = runner.invoke(app, ["--video", str(video), "--out", str(tmp_path), "--motion-only", *args])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "input video" in lines[0] and name in lines[0], res.output
    assert video.read_bytes() == before
    assert not (tmp_path / "summary.json").exists()


def test_a_batch_video_in_its_own_output_folder_is_kept(tmp_path):
    """A batch writes each video into OUT/<stem>: one kept there as annotated.mp4 is refused where its run
    starts (a failed video of the batch), not deleted."""
    (tmp_path / "a").mkdir()
    kept = write_video(tmp_path / "a" / "annotated.mp4", 20)
    before = kept.read_bytes()
    with pytest.raises(InputError, match="annotated.mp4"):
        start_run(tmp_path / "a", str(kept))
    assert kept.read_bytes() == before


def test_other_files_of_the_folder_are_still_cleared_and_left(tmp_path):
    """The check refuses only the recording itself: an earlier run's outputs are removed, other files kept."""
    (tmp_path / "annotated.mp4").write_bytes(b"an earlier run's")
    (tmp_path / "notes.txt").write_text("mine")
    video = write_video(tmp_path / "take.mp4", 20)
    start_run(tmp_path, str(video))
    assert not (tmp_path / "annotated.mp4").exists()
    assert (tmp_path / "notes.txt").read_text() == "mine" and video.is_file()


def test_mpt_export_out_on_its_own_checkpoint_is_refused(tmp_path):
    """`mpt-export model.pt --out model.pt` wrote the ONNX file over the trained checkpoint."""
    from export.cli import app as export_app

    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"a checkpoint's bytes")
    res = runner.invoke(export_app, [str(tmp_path), "--fp32", "--out", str(tmp_path / "." / "model.pt")])
    assert res.exit_code == 2, res.output
    assert "is the checkpoint this command reads" in res.output and "overwrite" in res.output, res.output
    assert ckpt.read_bytes() == b"a checkpoint's bytes"


def test_mpt_eval_out_on_its_truth_is_refused(tmp_path):
    """`mpt-eval spot --truth annotations.csv --out annotations.csv` replaced the annotations with the JSON."""
    from train.eval_cli import app as eval_app

    truth = tmp_path / "annotations.csv"
    text = "video,onset,apex,offset,fps,type\nlong_001.mp4,10,12,19,30,micro\n"
    truth.write_text(text)
    run = tmp_path / "run"
    run.mkdir()
    (run / "events.csv").write_text("video,face,onset_s,apex_s,offset_s,onset_frame,apex_frame,offset_frame,type,"
                                    "class,confidence,score\n")
    res = runner.invoke(eval_app, ["spot", "--truth", str(truth), "--runs", str(run), "--out", str(truth)])
    assert res.exit_code == 2, res.output
    assert "is the annotation file this command reads" in res.output, res.output
    assert truth.read_text() == text


def test_a_frame_folder_is_not_its_own_out_folder(tmp_path):
    """`--video frames --fps 30 --out frames` wrote predictions.csv, timeline.png, ... among the frames, and a
    rerun stopped at 'frames/timeline.png: no frame number in the name'."""
    import cv2
    import numpy as np

    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(5):
        cv2.imwrite(str(frames / f"img{i}.jpg"), np.full((48, 64, 3), 40 * i, np.uint8))
    before = sorted(p.name for p in frames.iterdir())
    res = runner.invoke(app, ["--video", str(frames), "--fps", "30", "--out", str(frames), "--motion-only"])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "is the folder of frames being read" in lines[0], res.output
    assert sorted(p.name for p in frames.iterdir()) == before
    res = runner.invoke(app, ["--video", str(frames), "--fps", "30", "--out", str(frames / "run"), "--motion-only"])
    assert res.exit_code == 0, res.output  # a subfolder of it is not read as frames


def test_an_inspect_sheet_is_not_written_into_the_frame_folder_it_reads(tmp_path, faces_dir):
    """`--inspect 1.2 --out frames/sheet.png` put a PNG among the frames (the next run stopped at 'sheet.png: no
    frame number in the name'), and `--out frames/img3.png` replaced a frame."""
    import cv2

    frames = tmp_path / "frames"
    frames.mkdir()
    cap = cv2.VideoCapture(str(faces_dir / "videos" / "pyfeat_single_face.mp4"))
    for i in range(45):
        ok, img = cap.read()
        assert ok
        cv2.imwrite(str(frames / f"img{i}.png"), img)
    cap.release()
    before = {p.name: p.read_bytes() for p in frames.iterdir()}
    for name in ("sheet.png", "img3.png"):
        res = runner.invoke(app, ["--video", str(frames), "--fps", "30", "--inspect", "1.2", "--out",
                                  str(frames / name), "--motion-only"])
        assert res.exit_code == 2 and "in the folder of frames being read" in res.output, res.output
    assert {p.name: p.read_bytes() for p in frames.iterdir()} == before
    res = runner.invoke(app, ["--video", str(frames), "--fps", "30", "--inspect", "1.2", "--out",
                              str(tmp_path / "sheet.png"), "--motion-only"])
    assert res.exit_code == 0 and (tmp_path / "sheet.png").is_file(), res.output


@pytest.mark.parametrize("name", ["events.csv", "summary.json", "clip.mp4"])
def test_mpt_eval_out_on_a_file_of_a_run_is_refused(tmp_path, name):
    """`mpt-eval spot --runs RUN --out RUN/events.csv` (or its summary.json, its recording, a video folder's file)
    replaced what the run wrote with the JSON; an earlier result of mpt-eval there is still written over."""
    from train.eval_cli import app as eval_app

    truth = tmp_path / "annotations.csv"
    truth.write_text("video,onset,apex,offset,fps,type\nlong_001.mp4,10,12,19,30,micro\n")
    run = tmp_path / "run"
    (run / "long_001").mkdir(parents=True)
    events = run / "long_001" / "events.csv"
    events.write_text("video,face,onset_s,apex_s,offset_s,onset_frame,apex_frame,offset_frame,type,"
                      "class,confidence,score\nlong_001.mp4,1,0.33,0.4,0.63,10,12,19,micro,,,5.0\n")
    target = run / "long_001" / name
    if name != "events.csv":
        target.write_text("{}" if name.endswith(".json") else "a recording's bytes")
    kept = target.read_bytes()
    res = runner.invoke(eval_app, ["spot", "--truth", str(truth), "--runs", str(run), "--out", str(target)])
    assert res.exit_code == 2, res.output
    assert f"--out {target}: is a file of the run {run} this command reads" in " ".join(res.output.split()), res.output
    assert target.read_bytes() == kept
    earlier = run / "spotting.json"
    res = runner.invoke(eval_app, ["spot", "--truth", str(truth), "--runs", str(run), "--out", str(earlier)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(eval_app, ["spot", "--truth", str(truth), "--runs", str(run), "--out", str(earlier)])
    assert res.exit_code == 0 and '"runs"' in earlier.read_text(), res.output


def _frames(folder, n=3):
    import cv2
    import numpy as np

    folder.mkdir(parents=True)
    for i in range(n):
        cv2.imwrite(str(folder / f"img{i}.jpg"), np.full((48, 64, 3), 40 * i, np.uint8))
    return folder


def test_a_batch_refusal_names_the_out_the_user_typed_and_the_video(tmp_path):
    """A dataset root given as a batch's --out (--video ROOT --out ROOT) was refused as '--out ROOT/006_1: is the
    folder of frames being read', an --out the user never typed; it names the --out typed, the recording and the
    folder its outputs would go to. So does a batch video kept in its folder under an output's name."""
    root = tmp_path / "SAMM"
    _frames(root / "006_1")
    _frames(root / "007_2")
    res = runner.invoke(app, ["--video", str(root), "--fps", "30", "--out", str(root), "--motion-only"])
    assert res.exit_code == 2, res.output
    line = " ".join(res.output.split())
    assert line.startswith(f"error: --out {root}: {root / '006_1'}'s outputs would go to {root / '006_1'}, which is "
                           "the folder of frames being read"), res.output
    run = tmp_path / "run"  # --video run/annotated (annotated.mp4, b.mp4) --out run: run/annotated is a video's folder
    (run / "annotated").mkdir(parents=True)
    write_video(run / "annotated" / "b.mp4", 20)
    kept = write_video(run / "annotated" / "annotated.mp4", 20)
    before = kept.read_bytes()
    res = runner.invoke(app, ["--video", str(run / "annotated"), "--out", str(run), "--motion-only"])
    line = " ".join(res.output.split())
    assert res.exit_code == 2 and line.startswith(f"error: --out {run}: {kept}'s outputs would go to "
                                                  f"{run / 'annotated'}, which holds the input video under the name "
                                                  "of an output this run writes (annotated.mp4)"), res.output
    assert kept.read_bytes() == before


@pytest.mark.parametrize("rel", ["annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx",
                                 "annotation/cas(me)3_part_A_MaE_label_JpgIndex_v2.xlsx",
                                 "data/part_A/spNO.1/a/color/3.jpg", "readme.txt"])
def test_mpt_eval_out_on_a_file_of_the_dataset_is_refused(tmp_path, rel):
    """`mpt-eval spot --dataset casme3 --data ROOT --out ROOT/annotation/....xlsx` (a coding sheet, a frame, any
    file of the dataset) wrote the JSON over it; refused in one line before any work (exit 2), the file unchanged.
    A new file in ROOT, or an earlier result of mpt-eval there, is written."""
    pytest.importorskip("openpyxl")
    from test_longvideo_datasets import casme3

    from train.eval_cli import app as eval_app

    root = casme3(tmp_path / "CASME3")
    (root / "readme.txt").write_text("release notes")
    run = tmp_path / "run"
    for rec in ("a", "b", "c"):  # runs that spotted nothing, each named by its folder
        (run / f"spNO.1_{rec}").mkdir(parents=True)
        (run / f"spNO.1_{rec}" / "events.csv").write_text("video,face,onset_s,apex_s,offset_s,onset_frame,"
                                                          "apex_frame,offset_frame,type,class,confidence,score\n")
    target = root / rel
    kept = target.read_bytes()
    args = ["spot", "--dataset", "casme3", "--data", str(root), "--runs", str(run), "--out"]
    res = runner.invoke(eval_app, [*args, str(target)])
    assert res.exit_code == 2, res.output
    line = " ".join(res.output.split())
    assert line.startswith(f"error: --out {target}: is a file of the dataset {root} this command reads"), res.output
    assert target.read_bytes() == kept
    new = root / "spotting.json"
    for _ in range(2):  # a new file, then the result it wrote
        res = runner.invoke(eval_app, [*args, str(new)])
        assert res.exit_code == 0 and '"runs"' in new.read_text(), res.output


def test_a_single_run_and_a_batch_never_share_an_out_folder(tmp_path):
    """`--video a.mp4 --out R` then `--video DIR --out R` (and the reverse) left a folder of both: a single run's files
    among a batch's video folders, which --finish read as the single run alone and the batch's overview left out.
    Each is refused in one line before anything is written (exit 2), naming the folder and what it holds; the outputs
    there are unchanged. The same refusal where a run or a batch starts (start_run, claim_batch)."""
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("a", "b"):
        write_video(videos / f"{name}.mp4", 20)
    single, batch = tmp_path / "single", tmp_path / "batch"

    def run(video, out):
        res = runner.invoke(app, ["--video", str(video), "--out", str(out), "--motion-only", "--headless"])
        return res.exit_code, [ln for ln in " ".join(res.output.split("\n")).split("error:") if ln.strip()], res.output

    def files(folder):
        return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

    assert run(videos / "a.mp4", single)[0] == 0 and run(videos, batch)[0] == 0
    before = files(single), files(batch)
    code, lines, output = run(videos, single)
    assert code == 2 and len(lines) == 1, output
    assert " ".join(lines[0].split()) == (f"--out {single}: holds a single run's outputs (of {videos / 'a.mp4'}); a "
                                          "batch writes a folder for each video there, beside them: give another "
                                          "--out folder, or empty this one")
    code, lines, output = run(videos / "b.mp4", batch)
    assert code == 2 and len(lines) == 1, output
    assert " ".join(lines[0].split()) == (f"--out {batch}: holds a batch's outputs (videos.csv, a folder for each of "
                                          "its videos); a single run's files would go in among them: give another "
                                          "--out folder")
    assert (files(single), files(batch)) == before
    with pytest.raises(InputError, match="holds a batch's outputs"):
        start_run(batch, str(videos / "b.mp4"))
    with pytest.raises(InputError, match="holds a single run's outputs"), claim_batch(single):
        pass
    assert (files(single), files(batch)) == before


def _run(video, out, *more):
    """`mpt-live --video VIDEO --out OUT --motion-only --headless`: (exit status, its error lines joined, output)."""
    res = runner.invoke(app, ["--video", str(video), "--out", str(out), "--motion-only", "--headless", *more])
    errors = [" ".join(ln.split()) for ln in " ".join(res.output.split("\n")).split("error:")[1:] if ln.strip()]
    return res.exit_code, errors, res.output


def test_a_folder_with_its_own_videos_csv_is_no_batchs(tmp_path):
    """A folder holding its own videos.csv and failed.csv (a dataset's index, other columns) was taken for a batch's
    --out by their names and every single run there refused ('holds a batch's outputs'); a batch's files are told
    by their content: the run goes ahead and the folder's own files are left as they were."""
    from mpt_live.outkind import batch_files

    video = write_video(tmp_path / "a.mp4", 20)
    out = tmp_path / "dataset"
    out.mkdir()
    own = {"videos.csv": "video,subject,emotion\nclip1.mp4,sub01,happiness\n", "failed.csv": "video,why\nx.mp4,blur\n"}
    for name, text in own.items():
        (out / name).write_text(text)
    assert batch_files(out) == []
    code, errors, output = _run(video, out)
    assert code == 0 and not errors, output
    assert {name: (out / name).read_text() for name in own} == own and (out / "summary.json").is_file()
    videos, batch = tmp_path / "videos", tmp_path / "batch"  # a batch's own files are still told as such, each
    videos.mkdir()
    for name in ("a", "b"):
        write_video(videos / f"{name}.mp4", 20)
    assert _run(videos, batch)[0] == 0 and batch_files(batch) == ["videos.csv"]
    (batch / "failed.csv").write_text("video,reason\nx.mp4,unreadable\n")
    assert batch_files(batch) == ["videos.csv", "failed.csv"]


def test_a_run_into_a_folder_listed_by_a_folders_own_videos_csv_leaves_that_file(tmp_path):
    """A run ends by rebuilding the overview of a batch whose videos.csv lists its folder: a dataset's own videos.csv
    with a folder column (video,folder,status) listing the run's folder was taken for one and rewritten as a batch's
    overview, the user's index lost. Only a batch's overview (its columns) is rebuilt; the user's file is left."""
    video = write_video(tmp_path / "a.mp4", 20)
    root = tmp_path / "dataset"
    root.mkdir()
    own = "video,folder,status\nclip1.mp4,sub01,checked\n"
    (root / "videos.csv").write_text(own)
    code, errors, output = _run(video, root / "sub01")
    assert code == 0 and not errors, output
    assert (root / "videos.csv").read_text() == own and not (root / "index.html").exists()



def test_a_batch_marker_left_alone_by_a_killed_batch_is_cleared_by_a_single_run(tmp_path):
    """A batch killed before its first video leaves its marker alone (.mpt-batch.json, a dead process): a single run
    there was refused as '(.mpt-batch.json, a folder for each of its videos)', folders that do not exist. The stale
    marker is removed and the run goes ahead, as a killed run's 'running' summary.json is cleared. A marker beside a
    video folder the batch began, or of a batch still running, is named, with what to do; nothing is written."""
    import json
    import socket
    import subprocess
    import sys

    dead = 2 ** 22 + 12345  # above pid_max: no such process
    video = write_video(tmp_path / "a.mp4", 20)
    out = tmp_path / "out"
    out.mkdir()
    marker = out / ".mpt-batch.json"
    marker.write_text(json.dumps({"status": "running", "pid": dead, "host": socket.gethostname(), "classes": []}))
    code, errors, output = _run(video, out)
    assert code == 0 and not errors, output
    assert not marker.exists() and json.loads((out / "summary.json").read_text())["status"] == "complete"

    began = tmp_path / "began"  # killed during its first video: that video's folder holds its running marker
    (began / "x").mkdir(parents=True)
    (began / "x" / "summary.json").write_text(json.dumps({"status": "running", "source": "x.mp4", "pid": dead,
                                                          "host": socket.gethostname()}))
    (began / ".mpt-batch.json").write_text(marker_text := json.dumps({"status": "running", "pid": dead,
                                                                      "host": socket.gethostname()}))
    code, errors, output = _run(video, began)
    assert code == 2 and errors == [f"--out {began}: holds the marker of a batch that was killed (.mpt-batch.json, "
                                    f"process {dead}) and its videos' folders (x), which mpt-live --finish {began} "
                                    "ends; a single run's files would go in among them: give another --out folder"]
    assert sorted(p.name for p in began.iterdir()) == [".mpt-batch.json", "x"]
    assert (began / ".mpt-batch.json").read_text() == marker_text

    live = tmp_path / "live"
    live.mkdir()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (live / ".mpt-batch.json").write_text(json.dumps({"status": "running", "pid": other.pid,
                                                          "host": socket.gethostname()}))
        code, errors, output = _run(video, live)
    finally:
        other.kill()
        other.wait()
    assert code == 2 and len(errors) == 1 and errors[0].startswith(f"--out {live}: another batch (process "
                                                                   f"{other.pid}) is writing there"), output
    assert [p.name for p in live.iterdir()] == [".mpt-batch.json"]


def test_a_batch_whose_video_folder_holds_a_batchs_outputs_is_refused_before_it_runs(tmp_path):
    """A batch (--video DIR --out X) whose video a.mp4's folder X/a holds another batch's outputs was refused only
    where that video's run started, after the model loaded: a.mp4 listed as failed with '--out X/a: ...', an --out
    never typed, the other videos run. Each video's folder is checked before anything runs, as --out is: one line
    naming the --out typed, the video and its folder (exit 2), nothing written."""
    videos, inner = tmp_path / "videos", tmp_path / "inner"
    videos.mkdir()
    inner.mkdir()
    for name in ("a", "b"):
        write_video(videos / f"{name}.mp4", 20)
        write_video(inner / f"{name}.mp4", 20)
    out = tmp_path / "X"
    assert _run(inner, out / "a")[0] == 0  # a batch into X/a: its overview there
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    code, errors, output = _run(videos, out)
    assert code == 2 and errors == [f"--out {out}: {videos / 'a.mp4'}'s outputs would go to {out / 'a'}, which holds "
                                    "a batch's outputs (videos.csv, a folder for each of its videos); its files would "
                                    "go in among them: give another --out folder"], output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before


def test_a_demo_into_a_batchs_folder_is_refused_before_its_clip_is_rendered(tmp_path):
    """`mpt-live --demo --out B` into a batch's --out rendered demo_input.mp4 (1.3 MB) and its truth there, then was
    refused where the run started: two files left among the batch's. Refused before rendering, nothing written."""
    videos, out = tmp_path / "videos", tmp_path / "B"
    videos.mkdir()
    for name in ("a", "b"):
        write_video(videos / f"{name}.mp4", 20)
    assert _run(videos, out)[0] == 0
    before = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    res = runner.invoke(app, ["--demo", "--out", str(out), "--motion-only", "--headless"])
    errors = [" ".join(ln.split()) for ln in " ".join(res.output.split("\n")).split("error:")[1:]]
    assert res.exit_code == 2 and errors == [f"--out {out}: holds a batch's outputs (videos.csv, a folder for each of "
                                             "its videos); a single run's files would go in among them: give another "
                                             "--out folder"], res.output
    assert {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
