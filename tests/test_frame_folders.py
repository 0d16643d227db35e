"""Recordings stored as folders of numbered images (SAMM-LV, CAS(ME)^3): the source, ``--video DIR`` with
``--fps``, batches in the datasets' layouts, and a run scored by ``mpt-eval spot --dataset sammlv``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from mpt_live.batch import output_dirs
from mpt_live.cli import app
from mpt_live.errors import InputError
from mpt_live.job import run_job
from mpt_live.recordings import FrameFolder, check_fps, expand_recordings
from mpt_live.session import SessionConfig
from mpt_live.sources import VideoFile
from tinymodel import tiny_onnx


def _img(value: int, size=(24, 32)) -> np.ndarray:
    return np.full((*size, 3), value, np.uint8)


def _write(folder: Path, names, size=(24, 32)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k, n in enumerate(names):
        cv2.imwrite(str(folder / n), _img(10 * k, size))
    return folder


def _garbage(path: Path) -> Path:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an image")
    return path.parent


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def real_frames(faces_dir: Path, name: str, n: int, folder: str = "videos") -> tuple[list[np.ndarray], float]:
    """The first ``n`` frames of a real face video (``faces_dir/folder/name``) and its frame rate."""
    with VideoFile(faces_dir / folder / name) as v:
        fps, out = v.fps, []
        for f in v:
            out.append(f.image)
            if len(out) == n:
                break
    return out, fps


# ---------------------------------------------------------------- the source
def test_frames_in_numeric_order_timed_by_fps_gaps_counted(tmp_path):
    folder = tmp_path / "rec"
    folder.mkdir()
    for number, value in ((10, 30), (2, 20), (1, 10), (11, 40)):  # 1, 2, 10, 11: 7 numbers missing
        cv2.imwrite(str(folder / f"006_1_{number}.png"), _img(value))
    (folder / "notes.txt").write_text("not a frame")
    (folder / "._006_1_1.png").write_bytes(b"macOS resource fork")  # hidden: not a frame
    with FrameFolder(folder, 200) as src:
        frames = list(src)
        assert (src.frame_count, src.width, src.height, src.missing) == (4, 32, 24, 7)
        assert len(src.warnings) == 1 and "7 frame number(s) missing in 1 gap(s)" in src.warnings[0]
        assert src.duration_s == pytest.approx(4 / 200)
    assert [int(f.image[0, 0, 0]) for f in frames] == [10, 20, 30, 40]
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert [f.t for f in frames] == pytest.approx([0, 0.005, 0.010, 0.015])


@pytest.mark.parametrize("make, fps, expected", [
    (lambda d: d.mkdir() or d, 30, "no image files"),
    (lambda d: _write(d, ["1.jpg", "2.png"]), 30, "mixes image types (1 .jpg, 1 .png)"),
    (lambda d: _write(d, ["1.jpg", "cover.jpg"]), 30, "cover.jpg: no frame number in the name"),
    (lambda d: _write(d, ["1.jpg", "01.jpg"]), 30, "frame number 1 appears twice"),
    (lambda d: _write(d, ["1.jpg", "2.jpg"]), None, "a folder of frames needs --fps"),
    (lambda d: _write(d, ["1.jpg"]), -5, "--fps -5 is not a frame rate"),
    (lambda d: _garbage(d / "0001.jpg"), 30, "first 0001.jpg (not a readable image)"),
    (lambda d: d / "missing", 30, "no such folder"),
], ids=["empty", "mixed", "unnumbered", "duplicate", "no-fps", "bad-fps", "unreadable", "missing"])
def test_bad_frame_folder_gives_one_line_error(tmp_path, make, fps, expected):
    folder = make(tmp_path / "rec")
    with pytest.raises(InputError) as ei:
        FrameFolder(folder, fps)
    msg = str(ei.value)
    assert expected in msg and str(tmp_path / "rec") in msg and "\n" not in msg


def test_a_frame_of_another_size_midway_names_the_file(tmp_path):
    folder = _write(tmp_path / "rec", ["1.png", "2.png"])
    cv2.imwrite(str(folder / "3.png"), _img(0, (48, 64)))
    with FrameFolder(folder, 30) as src, pytest.raises(InputError, match=r"3\.png: a 64x48 image among 32x24 frames"):
        list(src)


def test_frames_that_do_not_decode_are_read_past_with_one_counted_warning(tmp_path):
    """A frame that does not decode at all (garbage bytes under a .jpg name, a 0-byte file) stopped the whole run in
    one line; among many frames it is a damaged frame, read past with one warning counting and naming them."""
    folder = _write(tmp_path / "rec", [f"{i}.jpg" for i in range(1, 11)])
    (folder / "3.jpg").write_bytes(b"not an image")
    (folder / "7.jpg").write_bytes(b"")
    with FrameFolder(folder, 10) as src:
        frames = list(src)
    assert [f.index for f in frames] == [0, 1, 3, 4, 5, 7, 8, 9]
    assert [f.t for f in frames] == pytest.approx([0, 0.1, 0.3, 0.4, 0.5, 0.7, 0.8, 0.9])
    bad = [w for w in src.warnings if "could not be read or decoded" in w]
    assert bad == [(f"{folder}: 2 frames could not be read or decoded, first 3.jpg (not a readable image); read "
                    "past, the frames after them were read")]
    with FrameFolder(folder, 10) as src:  # a second pass counts them once, not twice
        list(src)
    assert len([w for w in src.warnings if "decoded" in w]) == 1 and "2 frames" in src.warnings[-1]


@pytest.mark.parametrize("broken", [range(5, 11), range(1, 7)], ids=["late", "early"])
def test_a_folder_whose_frames_mostly_fail_stops_in_one_line(tmp_path, broken):
    folder = _write(tmp_path / "rec", [f"{i}.jpg" for i in range(1, 11)])
    for i in broken:
        (folder / f"{i}.jpg").write_bytes(b"" if i % 2 else b"garbage")
    with pytest.raises(InputError) as e, FrameFolder(folder, 10) as src:
        list(src)
    msg = str(e.value)
    assert msg.startswith(f"{folder}: 6 of its 10 images give no frame, more than half: 6 frames could not be read "
                          f"or decoded, first {broken[0]}.jpg (")  # worded as the warning of a few damaged frames is
    assert "\n" not in msg
    res = CliRunner().invoke(app, ["--video", str(folder), "--fps", "10", "--headless", "--motion-only",
                                   "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert "6 of its 10 images give no frame" in res.output, res.output


def test_frames_are_read_once_and_decode_as_imread_does(tmp_path, faces_dir, monkeypatch):
    """Each frame file was opened twice (the cut-JPEG check, then cv2.imread); its bytes are now read once and decoded
    from memory, to the same pixels (JPEG and PNG frames of a real video)."""
    import builtins
    import io

    images, _ = real_frames(faces_dir, "pyfeat_single_face.mp4", 4)
    opened: list[str] = []
    real_open, real_imread = builtins.open, cv2.imread

    def counting_open(file, *a, **k):
        opened.append(str(file))
        return real_open(file, *a, **k)

    for ext in (".jpg", ".png"):
        folder = tmp_path / ext[1:]
        folder.mkdir()
        for i, img in enumerate(images):
            cv2.imwrite(str(folder / f"{i:04d}{ext}"), img)
        expected = [cv2.imread(str(p)) for p in sorted(folder.iterdir())]
        with monkeypatch.context() as m:
            m.setattr(builtins, "open", counting_open)
            m.setattr(io, "open", counting_open)
            m.setattr(cv2, "imread", lambda p, *a: opened.append(str(p)) or real_imread(p, *a))
            with FrameFolder(folder, 30) as src:
                frames = list(src)
        mine = [p for p in opened if Path(p).parent == folder]
        assert sorted(mine) == sorted(str(p) for p in folder.iterdir()), mine  # each frame once
        assert all(np.array_equal(f.image, e) for f, e in zip(frames, expected)) and len(frames) == len(expected)


# ---------------------------------------------------------------- --video DIR: one recording or a batch
def test_what_video_dir_means(tmp_path):
    rec = _write(tmp_path / "one", ["1.jpg", "2.jpg"])
    assert expand_recordings(str(rec)) == [rec]
    vids = tmp_path / "vids"
    vids.mkdir()
    for n in ("b.mp4", "a.mov", "c.MTS", "d.ts", "e.3gp", "notes.txt"):
        (vids / n).write_bytes(b"x")
    # a folder of videos, camcorder (AVCHD .MTS), stream (.ts) and phone (.3gp) files among them
    notes: list[str] = []
    assert [p.name for p in expand_recordings(str(vids), notes)] == ["a.mov", "b.mp4", "c.MTS", "d.ts", "e.3gp"]
    assert notes == []
    # videos at its top and more in subfolders: the top ones run, the others are counted in a note
    for rel in ("s1/x.mp4", "s2/y.mov", "s2/frames/1.jpg", "s2/frames/2.jpg", "runs/v/annotated.mp4",
                "runs/v/summary.json"):
        (vids / rel).parent.mkdir(parents=True, exist_ok=True)
        (vids / rel).write_bytes(b"x")
    assert len(expand_recordings(str(vids), notes)) == 5
    assert len(notes) == 1 and notes[0].startswith(f"{vids}: 3 more recordings in its subfolders left out"), notes
    # a video saved without its extension (a newcomer's download) was left out without a word: now named
    (vids / "interview").write_bytes(b"x")
    notes = []
    assert len(expand_recordings(str(vids), notes)) == 5
    assert notes[0] == (f"{vids}: 1 file without an extension left out (interview): a folder runs the files named as "
                        "videos; a video among them runs as --video FILE, or renamed to its kind (.mp4)"), notes
    (vids / "interview").unlink()
    # a dataset kept as a folder per subject: every video below it, each under its own path in the run
    subjects = tmp_path / "subjects"
    for rel in ("s10/interview.mp4", "s2/interview.mp4", "s2/extra/b.mov", "s2/notes.txt", ".hidden/x.mp4",
                "runs/s2/interview/annotated.mp4", "runs/s2/interview/summary.json",  # an earlier run's outputs:
                "runs/s2/interview/timeline.png"):  # neither its video nor its plot (an image) is a recording
        (subjects / rel).parent.mkdir(parents=True, exist_ok=True)
        (subjects / rel).write_bytes(b"x")
    found = expand_recordings(str(subjects))
    assert [p.relative_to(subjects).as_posix() for p in found] == ["s2/extra/b.mov", "s2/interview.mp4",
                                                                  "s10/interview.mp4"]
    assert output_dirs(found, tmp_path / "run") == [tmp_path / "run" / n for n in ("s2/extra/b", "s2/interview",
                                                                                  "s10/interview")]
    samm = tmp_path / "SAMM_LV"
    (samm / "SAMM_LongVideos_V3_Release.xlsx").parent.mkdir()
    (samm / "SAMM_LongVideos_V3_Release.xlsx").write_bytes(b"sheet")
    for r in ("007_2", "006_1", "006_10"):
        _write(samm / "SAMM_longvideos" / r, [f"{r}_{i:04d}.jpg" for i in (1, 2)])
    found = expand_recordings(str(samm))
    assert [p.name for p in found] == ["006_1", "006_10", "007_2"]
    assert output_dirs(found, tmp_path / "run") == [tmp_path / "run" / n for n in ("006_1", "006_10", "007_2")]
    assert [p.name for p in expand_recordings(str(samm / "SAMM_longvideos" / "006_1*"))] == ["006_1", "006_10"]
    me3 = tmp_path / "part_A"
    for sub in ("spNO.2", "spNO.10"):
        for r in ("a", "b"):
            _write(me3 / sub / r / "color", ["0.jpg", "1.jpg"])
            _write(me3 / sub / r / "depth", ["0.png", "1.png"])
    found = expand_recordings(str(me3))  # a folder of subjects' frame folders (no videos)
    assert [p.relative_to(me3).as_posix() for p in found] == [
        "spNO.2/a/color", "spNO.2/b/color", "spNO.10/a/color", "spNO.10/b/color"]
    assert output_dirs(found, tmp_path / "run")[2] == tmp_path / "run" / "spNO.10" / "a" / "color"
    (rec / "clip.mp4").write_bytes(b"x")
    with pytest.raises(InputError, match="holds both video files and images") as e:
        expand_recordings(str(rec))
    # a folder of interviews with a thumbnail or a scan beside them: the way to run the videos alone
    assert str(e.value).endswith(f"(its videos alone: --video '{rec / '*.mp4'}')"), e.value
    (tmp_path / "nothing" / "sub").mkdir(parents=True)
    with pytest.raises(InputError, match="no video files .* and no folders of frames") as e:
        expand_recordings(str(tmp_path / "nothing"))
    assert "without an extension" not in str(e.value), e.value
    # a folder holding only a video copied without its extension: the error names it and says how to run it
    (tmp_path / "nothing" / "interview").write_bytes(b"x")
    with pytest.raises(InputError, match="no video files .* and no folders of frames") as e:
        expand_recordings(str(tmp_path / "nothing"))
    assert str(e.value).endswith("; 1 file without an extension (interview): a video runs as --video FILE or renamed "
                                 "(.mp4)"), e.value
    with pytest.raises(InputError, match="a folder of frames needs --fps") as e:
        check_fps(found, None)
    # the rates of the datasets a new user has (a CASME II clip folder was told only SAMM-LV's and CAS(ME)^3's)
    assert "CASME II, SAMM and SAMM-LV: --fps 200, SMIC-HS: --fps 100, CAS(ME)^3: --fps 30" in str(e.value)
    with pytest.raises(InputError, match="--fps 30: only for folders of frames"):
        check_fps([vids / "a.mov"], 30)


@pytest.mark.parametrize("args, expected", [
    (["--fps", "200"], None),
    ([], "a folder of frames needs --fps"),
    (["--fps", "200", "--realtime"], "a folder of frames; --realtime plays a video file"),
    (["--fps", "30", "--video", "clip.mp4"], "--fps 30: only for folders of frames"),
])
def test_cli_frame_folder_errors_are_one_line(tmp_path, args, expected):
    rec = _write(tmp_path / "rec", [f"{i}.jpg" for i in range(3)])
    if "clip.mp4" in args:  # a video file instead (never opened: --fps is refused first)
        (tmp_path / "clip.mp4").write_bytes(b"x")
        rec, args = tmp_path / "clip.mp4", args[:2]
    res = CliRunner().invoke(app, ["--video", str(rec), "--motion-only", "--headless", "--out", str(tmp_path / "o"),
                                   *args])
    if expected is None:
        assert res.exit_code == 0, res.output
        s = json.loads((tmp_path / "o" / "summary.json").read_text())
        assert s["frames_read"] == 3 and s["source_fps"] == 200
    else:
        assert res.exit_code == 2 and expected in res.output and "Traceback" not in res.output


# ---------------------------------------------------------------- the same frames as a lossless video
def test_a_frame_folder_gives_the_rows_of_the_same_frames_as_a_lossless_video(faces_dir, tmp_path):
    from mpt_live.runtime import MPTRuntime

    images, fps = real_frames(faces_dir, "pyfeat_single_face.mp4", 45)
    h, w = images[0].shape[:2]
    video = tmp_path / "same.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"FFV1"), fps, (w, h))
    (tmp_path / "frames").mkdir()
    for k, img in enumerate(images):  # both lossless: the same pixels
        writer.write(img)
        cv2.imwrite(str(tmp_path / "frames" / f"img{k + 1}.png"), img)
    writer.release()
    runtime = MPTRuntime(tiny_onnx(tmp_path / "tiny.onnx"), device="cpu")
    cfg = SessionConfig(stride=3, workers=1)
    with VideoFile(video) as src:
        a = run_job(src, runtime, cfg, tmp_path / "from_video")
    with FrameFolder(tmp_path / "frames", fps) as src:
        b = run_job(src, runtime, cfg, tmp_path / "from_frames")
    rows_a, rows_b = _read_csv(tmp_path / "from_video/predictions.csv"), _read_csv(tmp_path / "from_frames/predictions.csv")
    assert a["frames_read"] == b["frames_read"] == 45 and b["source_fps"] == pytest.approx(fps, abs=1e-3)
    assert len(rows_a) == 15 and sum(bool(r["top"]) for r in rows_a) > 0
    assert rows_b == rows_a


# ---------------------------------------------------------------- SAMM-LV layout -> mpt-live -> mpt-eval spot
def test_sammlv_frame_folders_run_then_scored(faces_dir, tmp_path, demo_clip):
    """mpt-live on the recordings of a tiny SAMM-LV tree, then ``mpt-eval spot --dataset sammlv`` on the run: a
    sheet interval written at one spotted event's frames is a true positive (the frame numbering of the
    run and of the reader agree), one elsewhere a false negative, every other spotted event a false positive."""
    pytest.importorskip("openpyxl")
    from test_longvideo_datasets import SAMM_HEADER, book

    from train.datasets.longvideo import load_long_dataset
    from train.eval_cli import app as eval_app

    root = tmp_path / "SAMM"
    demo_clip(tmp_path / "demo.mp4")  # a real portrait with four movements at known times: events to score
    for rec, (folder, video) in (("006_1", (tmp_path, "demo.mp4")),
                                 ("007_2", (faces_dir / "videos", "liveportrait_d19_glasses.mp4"))):
        images, fps = real_frames(folder, video, 360, folder="")
        folder = root / "SAMM_longvideos" / rec
        folder.mkdir(parents=True)
        for k, img in enumerate(images):  # numbered from 1, as SAMM's are
            cv2.imwrite(str(folder / f"{rec}_{k + 1:04d}.jpg"), img)
    run = tmp_path / "run"
    # the frames' own rate (SAMM's is 200): the spotter sees the movements at their real speed
    res = CliRunner().invoke(app, ["--video", str(root), "--fps", f"{fps:g}", "--motion-only", "--headless",
                                   "--out", str(run)])
    assert res.exit_code == 0, res.output
    events = {rec: _read_csv(run / rec / "events.csv") for rec in ("006_1", "007_2")}
    spotted = [e for rows in events.values() for e in rows]
    assert spotted, "no event spotted in the recordings: nothing to score"
    for rec, rows in events.items():
        assert all(e["video"] == (root / "SAMM_longvideos" / rec).as_posix() for e in rows)
    hit = spotted[0]
    rec = Path(hit["video"]).name
    on, apex, off = (int(hit[k]) + 1 for k in ("onset_frame", "apex_frame", "offset_frame"))  # index -> number
    kind = "Micro - 1/2" if hit["type"] == "micro" else "Macro"
    busy = {k for e in events["006_1"] for k in range(int(e["onset_frame"]) - 3, int(e["offset_frame"]) + 4)}
    free = next(k for k in range(240 - 3, 0, -1) if not busy & {k, k + 1, k + 2}) + 1  # a number: index + 1
    rows = [[int(rec[:3]), f"{rec}_1", 1, on, apex, off, off - on + 1, kind, "12", ""],
            [6, "006_1_9", 1, free, free + 1, free + 2, 3, "Macro", "4", ""]]  # where nothing was spotted
    book(root / "SAMM_LongVideos_V3_Release.xlsx", {"FACS": [SAMM_HEADER] + rows}, notes=9)
    truth = {v.name: v for v in load_long_dataset("sammlv", root).videos}
    # the reader indexes the frames as the run did: the sheet's interval is the event's very frames
    assert (int(hit["onset_frame"]), int(hit["offset_frame"])) in {(iv.onset, iv.offset) for iv in truth[rec].intervals}
    res = CliRunner().invoke(eval_app, ["spot", "--dataset", "sammlv", "--data", str(root), "--runs", str(run),
                                        "--out", str(tmp_path / "spotting.json")])
    assert res.exit_code == 0, res.output
    score = json.loads((tmp_path / "spotting.json").read_text())
    assert (score["tp"], score["fn"], score["fp"]) == (1, 1, len(spotted) - 1)
    assert score["f1"] == pytest.approx(2 / (2 + 1 + len(spotted) - 1))


def test_casme3_layout_run_then_scored(tmp_path):
    """CAS(ME)^3 part A (``data/part_A/spNO.1/a/color``, ``depth`` beside it): one run folder per recording that
    ``mpt-eval spot --dataset casme3`` finds, even where nothing was spotted (the fixture's frames hold no face)."""
    pytest.importorskip("openpyxl")
    from test_longvideo_datasets import casme3, frames

    from train.eval_cli import app as eval_app

    root = casme3(tmp_path / "CASME3")
    for rec in ("a", "b", "c"):
        frames(root / f"data/part_A/spNO.1/{rec}/depth", [f"{i}.jpg" for i in range(30)])  # not read
    run = tmp_path / "run"
    res = CliRunner().invoke(app, ["--video", str(root), "--fps", "30", "--motion-only", "--headless", "--out", str(run)])
    assert res.exit_code == 0, res.output
    assert sorted(p.parent.relative_to(run).as_posix() for p in run.rglob("events.csv")) == ["a/color", "b/color", "c/color"]
    res = CliRunner().invoke(eval_app, ["spot", "--dataset", "casme3", "--data", str(root), "--runs", str(run),
                                        "--out", str(tmp_path / "spotting.json")])
    assert res.exit_code == 0, res.output
    score = json.loads((tmp_path / "spotting.json").read_text())
    assert (score["tp"], score["fp"], score["fn"]) == (0, 0, 2)


@pytest.mark.parametrize("others, holds", [(["interview.m4a"], "and 1 other file (interview.m4a)"),
                                           ([], "and nothing else"),
                                           (["a.m4a", "b.txt", "c.pdf", "d.wav"],
                                            "and 4 other files (a.m4a, b.txt, c.pdf, ...)")])
def test_a_folder_of_one_photo_is_not_a_frame_folder(tmp_path, others, holds):
    """A folder of one photo and an audio file (cover art beside a voice memo) was taken for a frame folder:
    'a folder of frames needs --fps'; it says what the folder holds, before --fps is asked for (exit 2)."""
    folder = tmp_path / "memo"
    folder.mkdir()
    cv2.imwrite(str(folder / "cover.jpg"), np.full((32, 32, 3), 128, np.uint8))
    for name in others:
        (folder / name).write_bytes(b"not an image")
    with pytest.raises(InputError) as e:
        expand_recordings(str(folder))
    assert str(e.value).startswith(f"{folder}: holds one image (cover.jpg) {holds}, no video file: not a recording")
    assert str(e.value).endswith("a photo's demo clip: --demo --demo-face PHOTO)")  # --demo-face alone is refused
    res = CliRunner().invoke(app, ["--video", str(folder), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "holds one image (cover.jpg)" in res.output and "--fps" not in res.output, res.output
    cv2.imwrite(str(folder / "cover2.jpg"), np.full((32, 32, 3), 128, np.uint8))
    assert expand_recordings(str(folder)) == [folder]  # two images: frames, as before


def test_a_subfolder_of_one_image_is_left_out_of_a_batch_with_a_note(tmp_path):
    """--video DIR scanning subfolders took a subfolder holding one image (a cover picture beside a subject's
    videos, a thumbnail folder) for a folder of frames: its videos were not run and the batch asked for --fps."""
    root = tmp_path / "interviews"
    cover = np.full((32, 32, 3), 128, np.uint8)
    for rel in ("s1/interview.mp4", "s2/interview.mp4", "thumbs/readme.txt"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    cv2.imwrite(str(root / "s1" / "cover.jpg"), cover)  # beside a video: the video is the recording, the image noted
    cv2.imwrite(str(root / "thumbs" / "s2.png"), cover)  # alone: nothing to run
    frames = _write(root / "s3" / "take", ["1.jpg", "2.jpg"])  # two images or more: frames, as before
    notes: list[str] = []
    found = expand_recordings(str(root), notes)
    assert [p.relative_to(root).as_posix() for p in found] == ["s1/interview.mp4", "s2/interview.mp4", "s3/take"]
    assert notes == [f"{root}: 1 subfolder holding one image and no video left out, not a recording (thumbs: s2.png)",
                     (f"{root}: 1 image of 1 subfolder holding videos too left out, their videos run (s1: cover.jpg); "
                      "a folder of frames holds its frames alone: give such frames a folder of their own to run them")]
    assert frames in found
    # nothing else there: the refusal says what was left out
    (root / "s1" / "interview.mp4").unlink()
    for rel in ("s2/interview.mp4", "s3/take/1.jpg", "s3/take/2.jpg"):
        (root / rel).unlink()
    with pytest.raises(InputError) as e:
        expand_recordings(str(root))
    assert "no folders of frames" in str(e.value) and "2 subfolders holding one image" in str(e.value), e.value
    res = CliRunner().invoke(app, ["--video", str(root), "--headless", "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "--fps" not in res.output and "Traceback" not in res.output, res.output


def test_jpegs_cut_short_are_read_past_with_one_warning(tmp_path):
    """A JPEG with no end-of-image marker (a partial copy) decodes in OpenCV as its top rows over grey: such frames are
    damaged, read past (the others keep their numbers and times) and counted in one warning naming the first."""
    folder = tmp_path / "rec"
    folder.mkdir()
    for i in range(1, 7):
        cv2.imwrite(str(folder / f"{i}.jpg"), np.random.default_rng(i).integers(0, 255, (48, 64, 3), np.uint8))
    for name in ("1.jpg", "4.jpg", "5.jpg"):
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[: len(data) // 2])
    with FrameFolder(folder, 10) as src:
        frames = list(src)
    assert [f.index for f in frames] == [1, 2, 5]
    assert [f.t for f in frames] == pytest.approx([0.1, 0.2, 0.5])
    cut = [w for w in src.warnings if "cut short" in w]
    assert len(cut) == 1 and "3 frames are JPEGs" in cut[0] and "first 1.jpg" in cut[0] and str(folder) in cut[0]
    (folder / "4.jpg").write_bytes(b"garbage")  # cut and undecodable frames, each counted in its own line
    with FrameFolder(folder, 10) as src:
        assert [f.index for f in src] == [1, 2, 5]
    assert sum("cut short" in w for w in src.warnings) == 1 and "2 frames are JPEGs" in " ".join(src.warnings)
    assert sum("1 frame could not be read or decoded, first 4.jpg" in w for w in src.warnings) == 1
    for name in ("2.jpg", "3.jpg", "6.jpg"):
        (folder / name).write_bytes((folder / name).read_bytes()[:100])
    (folder / "4.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"4 of its 6 images give no frame, more than half: 4 frames are JPEGs cut short \(no end-of-image"):
        FrameFolder(folder, 10)


def test_a_subfolder_of_videos_and_images_runs_its_videos_and_notes_the_images(tmp_path):
    """A subfolder holding videos and two images or more (stills beside a subject's interview) was taken for a
    folder of frames: its videos were not run, with no word. Its videos run; its images are left out with a note."""
    root = tmp_path / "interviews"
    for rel in ("s1/interview.mp4", "s1/followup.mov", "s2/interview.mp4"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    _write(root / "s1", ["still1.jpg", "still2.jpg", "still3.jpg"])
    frames = _write(root / "s3", ["1.jpg", "2.jpg"])  # images alone: frames, as before
    notes: list[str] = []
    found = expand_recordings(str(root), notes)
    assert [p.relative_to(root).as_posix() for p in found] == ["s1/followup.mov", "s1/interview.mp4",
                                                                "s2/interview.mp4", "s3"]
    assert frames in found and root / "s1" not in found
    assert len(notes) == 1 and notes[0].startswith(f"{root}: 3 images of 1 subfolder holding videos too left out, "
                                                   "their videos run (s1: 3 images, still1.jpg, still2.jpg, ...)")



def test_an_empty_recording_folder_among_frame_folders_is_said(tmp_path):
    """``--video SAMM_LV`` with a recording folder whose frames were never extracted (or not copied) ran the others and
    left it out without a word (mpt-eval then found no run of it). A note names the empty folders."""
    samm = tmp_path / "SAMM_LV"
    for r in ("006_1", "007_2"):
        _write(samm / "SAMM_longvideos" / r, [f"{r}_{i:04d}.jpg" for i in (1, 2)])
    (samm / "SAMM_longvideos" / "008_1").mkdir()
    (samm / "SAMM_longvideos" / "008_1" / ".DS_Store").write_bytes(b"x")   # debris: still empty
    notes: list[str] = []
    assert [p.name for p in expand_recordings(str(samm), notes)] == ["006_1", "007_2"]
    said = [n for n in notes if "empty" in n]
    assert len(said) == 1 and "SAMM_longvideos/008_1" in said[0]
    notes = []
    (samm / "SAMM_longvideos" / "008_1" / ".DS_Store").unlink()
    (samm / "SAMM_longvideos" / "008_1").rmdir()
    expand_recordings(str(samm), notes)
    assert notes == []
