"""mpt-synth --long: the long-video spotting benchmark (train.synth_long)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from mpt_live.synthface import CLASSES, Event
from train import synth_long as sl
from train.datasets.longvideo import read_annotations_csv

pd = pytest.importorskip("pandas")


@pytest.mark.parametrize("n, expected", [
    (1, [0, 0, 0, 0]),
    (2, [0, 1, 0, 1, 0]),
    (4, [0, 1, 2, 3, 2, 1, 0, 1, 2]),
])
def test_pingpong(n, expected):
    assert [sl.pingpong(j, n) for j in range(len(expected))] == expected


def test_plan_events_inside_and_apart():
    cfg = sl.LongConfig(minutes=1.0)
    plan = sl.plan_events(1800, cfg, np.random.default_rng(5))
    kinds = [p["type"] for p in plan]
    assert kinds.count("micro") == 10 and kinds.count("macro") == 3
    spans = sorted((p["onset"], p["offset"]) for p in plan)
    assert spans[0][0] >= 30 and spans[-1][1] <= 1800 - 30
    assert all(a[1] < b[0] for a, b in zip(spans, spans[1:]))  # no overlap
    for p in plan:
        frames = p["offset"] - p["onset"] + 1
        assert p["onset"] < p["apex"] < p["offset"]
        if p["type"] == "micro":
            assert 7 <= frames <= 15 and frames / 30 <= 0.5 and 1.0 <= p["event"].amplitude <= 3.0
        else:
            assert frames / 30 >= 0.7
    micro_classes = [p["event"].cls for p in plan if p["type"] == "micro"]
    assert sorted(set(micro_classes)) == sorted(CLASSES)  # balanced over the recognizer's classes
    again = sl.plan_events(1800, cfg, np.random.default_rng(5))
    assert [(p["onset"], p["event"]) for p in again] == [(p["onset"], p["event"]) for p in plan]


def test_injection_follows_the_face():
    """The deformation is laid out on the frame's keypoints: shifting face and keypoints shifts it."""
    rng = np.random.default_rng(0)
    tex = cv2.GaussianBlur(rng.integers(0, 255, (260, 260, 3)).astype(np.uint8), (0, 0), 2)
    kp = np.array([[100, 100], [150, 100], [125, 130], [125, 160], [80, 110], [170, 110]], np.float64)
    ev = Event("lip_corner_pull", 0.0, 0.5, 1.0, 2.5)
    a = tex[20:240, 20:240]
    b = tex[20 - 7:240 - 7, 20 - 13:240 - 13]       # the same face 13 px right, 7 px down
    da = sl.inject(a, kp, [(ev, 1.0)]).astype(int) - a
    db = sl.inject(b, kp + (13, 7), [(ev, 1.0)]).astype(int) - b
    assert np.abs(da).max() > 20                      # the movement is there
    assert np.array_equal(da[:-7, :-13], db[7:, 13:])  # and moved with the face
    ys, xs = np.nonzero(np.abs(da).max(-1))
    assert abs(xs.mean() - 125) < 12 and abs(ys.mean() - 160) < 12  # around the mouth keypoint
    assert sl.inject(a, kp, []) is a


def _digest(path: Path) -> str:
    cap = cv2.VideoCapture(str(path))
    h = hashlib.sha1()
    n = 0
    while True:
        ok, f = cap.read()
        if not ok:
            break
        h.update(f.tobytes())
        n += 1
    cap.release()
    return f"{n}:{h.hexdigest()}"


@pytest.fixture(scope="module")
def talking(faces_dir, tmp_path_factory):
    """One real talking carrier (5 s, ping-ponged) -> two 6-s videos, twice with one seed."""
    faces = tmp_path_factory.mktemp("faces")
    (faces / "talking.mp4").symlink_to(faces_dir / "videos" / "retalking_3_talking.mp4")
    roots = [tmp_path_factory.mktemp(n) for n in ("a", "b")]
    cfg = sl.LongConfig(videos=2, minutes=0.1, seed=4)
    return roots, [sl.generate_long(faces, r, cfg) for r in roots]


def test_long_layout_and_truth(talking):
    (root, _), (summary, _) = talking
    assert sorted(p.name for p in (root / "videos").iterdir()) == ["long_001.mp4", "long_002.mp4"]
    cap = cv2.VideoCapture(str(root / "videos" / "long_001.mp4"))
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(30.0) and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 180
    w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
    cap.release()
    idx = read_annotations_csv(root / "annotations.csv")
    assert [v.name for v in idx.videos] == ["long_001", "long_002"]
    assert all(v.fps == 30.0 and v.intervals and v.video.is_file() for v in idx.videos)
    assert all(iv.type == "micro" and iv.label in CLASSES for v in idx.videos for iv in v.intervals)
    c = summary["videos"][0]["carrier"]
    assert c["kind"] == "video" and c["source"] == "talking.mp4" and c["size"][0] == w
    assert summary["complete"] and json.loads((root / "long.json").read_text())["complete"]


def test_long_same_seed_same_videos(talking):
    (a, b), _ = talking
    assert (a / "annotations.csv").read_text() == (b / "annotations.csv").read_text()
    assert _digest(a / "videos" / "long_002.mp4") == _digest(b / "videos" / "long_002.mp4")


def test_long_photos_only_are_animated(faces_dir, tmp_path):
    faces = tmp_path / "faces"
    faces.mkdir()
    (faces / "rose.jpg").symlink_to(faces_dir / "photos" / "face_recognition_rose_leslie.jpg")
    s = sl.generate_long(faces, tmp_path / "out", sl.LongConfig(videos=1, minutes=0.05, seed=1))
    v = s["videos"][0]
    assert v["carrier"]["kind"] == "photo" and v["carrier"]["size"] == [sl.PHOTO_SIZE, sl.PHOTO_SIZE]
    assert v["frames"] == 90 and v["blinks"]  # natural blinks as distractors, not annotated
    assert read_annotations_csv(tmp_path / "out").counts()["micro"] == 1


def test_a_video_stopped_mid_way_is_removed(faces_dir, tmp_path, monkeypatch):
    """Ctrl-C while the second video is written: the first stays (with its rows and long.json entry), the
    half-written second is removed instead of left as a short, unannotated clip."""
    faces = tmp_path / "faces"
    faces.mkdir()
    (faces / "rose.jpg").symlink_to(faces_dir / "photos" / "face_recognition_rose_leslie.jpg")
    real, written = cv2.VideoWriter, []

    class Stops:  # a writer that is interrupted after 30 frames of the second video
        def __init__(self, path, *a):
            self.w, self.n, self.second = real(path, *a), 0, path.endswith("long_002.mp4")
            written.append(path)

        def isOpened(self):
            return self.w.isOpened()

        def write(self, f):
            self.n += 1
            if self.second and self.n > 30:
                raise KeyboardInterrupt
            self.w.write(f)

        def release(self):
            self.w.release()

    monkeypatch.setattr(sl.cv2, "VideoWriter", Stops)
    with pytest.raises(KeyboardInterrupt):
        sl.generate_long(faces, tmp_path / "out", sl.LongConfig(videos=2, minutes=0.05, seed=1))
    assert [Path(p).name for p in written] == ["long_001.mp4", "long_002.mp4"]
    assert sorted(p.name for p in (tmp_path / "out" / "videos").iterdir()) == ["long_001.mp4"]
    summary = json.loads((tmp_path / "out" / "long.json").read_text())
    assert not summary["complete"] and [v["video"] for v in summary["videos"]] == ["long_001.mp4"]
    assert [v.name for v in read_annotations_csv(tmp_path / "out").videos] == ["long_001"]


def test_long_cli_errors_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from train.synth_cli import app

    res = CliRunner().invoke(app, ["--long", "--faces", str(tmp_path), "--out", str(tmp_path / "o"),
                                   "--minutes", "0"])
    assert res.exit_code == 2 and "--minutes 0" in res.output
    res = CliRunner().invoke(app, ["--long", "--faces", str(tmp_path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "no usable faces" in res.output


class _FailingCapture:
    """A cv2.VideoCapture whose second read raises (a damaged file, Ctrl-C); records its opening and its release
    (the reader's open grabs the first frame, which its first read retrieves)."""

    opened: list[str] = []
    released: list[str] = []

    def __init__(self, name, *args) -> None:
        self.name, self.reads = name, 0
        _FailingCapture.opened.append(name)

    def isOpened(self) -> bool:
        return True

    def get(self, prop) -> float:
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def grab(self) -> bool:
        return True

    def retrieve(self):
        self.reads += 1
        if self.reads > 1:
            raise KeyboardInterrupt
        return True, np.zeros((64, 64, 3), np.uint8)

    def read(self):
        return self.retrieve() if self.grab() else (False, None)

    def release(self) -> None:
        _FailingCapture.released.append(self.name)


@pytest.mark.parametrize("reader", ["synth_long.video_carrier", "compose.Player"])
def test_a_capture_is_released_when_reading_raises(tmp_path, monkeypatch, reader):
    """The carriers' and the composer's captures were released only after a loop that ended normally."""
    from train.compose import Player

    monkeypatch.setattr(cv2, "VideoCapture", _FailingCapture)
    _FailingCapture.opened, _FailingCapture.released = [], []
    path = tmp_path / "v.mp4"
    with pytest.raises(KeyboardInterrupt):
        if reader == "compose.Player":
            Player(path, tile=32)
        else:
            sl.video_carrier(path, "v.mp4", 200.0)
    assert _FailingCapture.opened and _FailingCapture.released == _FailingCapture.opened == [str(path)] * len(
        _FailingCapture.opened)


def _rose(faces_dir, tmp_path):
    faces = tmp_path / "faces"
    faces.mkdir()
    (faces / "rose.jpg").symlink_to(faces_dir / "photos" / "face_recognition_rose_leslie.jpg")
    return faces


def test_a_video_the_disk_cut_short_is_an_output_error_not_a_benchmark_video(faces_dir, tmp_path, monkeypatch):
    """OpenCV's writer says nothing when the disk fills: the cut video (no index, unplayable) was listed in
    long.json and annotations.csv as written. It is now read back, removed and named; what came before is kept."""
    from mpt_live.errors import OutputError

    real = cv2.VideoWriter

    class Full:  # the second video: its frames after the 30th are lost, as on a full disk
        def __init__(self, path, *a):
            self.w, self.n, self.second = real(path, *a), 0, path.endswith("long_002.mp4")

        def isOpened(self):
            return self.w.isOpened()

        def write(self, f):
            self.n += 1
            if not (self.second and self.n > 30):
                self.w.write(f)

        def release(self):
            self.w.release()

    monkeypatch.setattr(sl.cv2, "VideoWriter", Full)
    out = tmp_path / "out"
    with pytest.raises(OutputError, match=r"long_002.mp4: not written \(.*30 of 90 frames\); the videos before it"):
        sl.generate_long(_rose(faces_dir, tmp_path), out, sl.LongConfig(videos=2, minutes=0.05, seed=1))
    assert sorted(p.name for p in (out / "videos").iterdir()) == ["long_001.mp4"]
    assert [v["video"] for v in json.loads((out / "long.json").read_text())["videos"]] == ["long_001.mp4"]
    assert [v.name for v in read_annotations_csv(out).videos] == ["long_001"]


def test_long_json_is_never_half_written(faces_dir, tmp_path, monkeypatch):
    """long.json was rewritten in place after every video: a full disk (or a stop) in the middle of that write left
    half a JSON file and a traceback. It is replaced atomically, and a failure is one OutputError naming it."""
    import errno

    from mpt_live.errors import OutputError
    from mpt_live.writers import write_json

    calls = []

    def full_after_first(path, data, **kw):
        calls.append(path)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        write_json(path, data, **kw)

    monkeypatch.setattr(sl, "write_json", full_after_first)
    out = tmp_path / "out"
    with pytest.raises(OutputError, match=r"long.json: not written \(No space left on device\)"):
        sl.generate_long(_rose(faces_dir, tmp_path), out, sl.LongConfig(videos=1, minutes=0.05, seed=1))
    assert json.loads((out / "long.json").read_text())["complete"] is False  # the earlier, whole version


def test_long_with_only_unreadable_videos_is_one_line_naming_them(tmp_path):
    """A --faces folder whose only videos are an empty file, text and a cut-off recording named .mp4: --long
    ended in an IndexError traceback (OpenCV's frame rate of a file it cannot open is -1, which passed the check
    for a long enough face); now one line that names each file and why, and nothing of FFmpeg's or OpenCV's."""
    import subprocess
    import sys

    faces = tmp_path / "faces"
    faces.mkdir()
    (faces / "empty.mp4").write_bytes(b"")
    (faces / "text.mp4").write_text("not a video\n")
    (faces / "cut.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(64))
    assert sl.video_carrier(faces / "text.mp4", "text.mp4", 200.0) == (
        "text.mp4: not a readable video (FFmpeg does not recognise its contents as any video format)")
    res = subprocess.run([sys.executable, "-c", "from train.synth_cli import main; main()", "--long",
                          "--faces", str(faces), "--out", str(tmp_path / "o")], capture_output=True, text=True,
                         timeout=300)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2 and len(lines) == 1, res.stderr
    assert "no usable faces (looked at 3 photos/videos): cut.mp4: not a readable video (an MP4/MOV without its " \
           "index" in lines[0] and "empty.mp4: not a readable video" in lines[0] and "text.mp4: not a readable " \
           "video" in lines[0], res.stderr
