"""Small and distant faces (mpt_live/face_watch.py): --detector auto switches to full-range where short-range
misses faces, says which detector ran, and a run warns about faces too small to analyse and about faces
--max-faces expected but never found. The videos are made here: real people pasted into a wide room view."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from mpt_live.job import run_job
from mpt_live.session import SessionConfig
from mpt_live.sources import VideoFile
from train.compose import read_squares

FPS = 30.0


def _square(path: Path, n: int) -> list[np.ndarray]:
    return read_squares(path, count=n)[0]


def _room(path: Path, people: list[tuple[Path, int, tuple[int, int]]], n: int = 24,
          size: tuple[int, int] = (1280, 720)) -> Path:
    """``n`` frames of a grey room (``size``) with each person's video scaled to a ``side`` px square at ``centre``
    (the faces of the shared videos fill about half of their square)."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    room = np.clip(np.dstack([80 + 30 * np.sin(x / w * 2.0) + 15 * np.cos(y / h * 3.0)] * 3), 0, 255).astype(np.uint8)
    sources = [(_square(p, n), side, c) for p, side, c in people]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (w, h))
    for i in range(n):
        frame = room.copy()
        for frames, side, (cx, cy) in sources:
            tile = cv2.resize(frames[i % len(frames)], (side, side), interpolation=cv2.INTER_AREA)
            frame[cy - side // 2:cy - side // 2 + side, cx - side // 2:cx - side // 2 + side] = tile
        out.write(frame)
    out.release()
    return path


def _run(path: Path, **cfg) -> dict:
    with VideoFile(path) as v:
        return run_job(v, None, SessionConfig(stride=8, **cfg), None)


@pytest.fixture(scope="module")
def near_and_far(faces_dir, tmp_path_factory) -> Path:
    """Two people at a table: one near (a 360 px square), one far (a 100 px square, a face about 50 px tall),
    which short-range finds in no frame, whole or in tiles (a 150 px square it finds)."""
    v = faces_dir / "videos"
    return _room(tmp_path_factory.mktemp("room") / "table.mp4",
                 [(v / "liveportrait_d6.mp4", 360, (380, 380)), (v / "retalking_3_talking.mp4", 100, (960, 300))])


def test_short_range_misses_the_far_face_and_says_so_when_max_faces_asked_for_it(near_and_far):
    s = _run(near_and_far, detector="short", max_faces=2)
    assert s["detector_used"] == "short" and len(s["faces"]) == 1, s["faces"]
    said = [w for w in s["warnings"] if "--max-faces 2: at most 1 face found in any frame" in w]
    assert said and "--detector full" in said[0], s["warnings"]


def test_auto_switches_to_full_range_where_short_range_misses_a_face(near_and_far):
    s = _run(near_and_far, detector="auto", max_faces=2)
    assert s["detector"] == "auto" and s["detector_used"] == "full"
    # found on the first frame, held on the next two (frame 2, at 0.067 s): the run switches there
    assert s["detector_reason"].startswith("full-range from 0.07 s (auto: short-range tracked 1 face where full-range found 2")
    assert s["detector_unconfirmed"] == 0
    assert len(s["faces"]) == 2 and min(f["frames"] for f in s["faces"]) >= 20, s["faces"]
    assert not [w for w in s["warnings"] if "--max-faces" in w], s["warnings"]
    assert s["detector_shown"]  # printed after the run (the test below: where it is not)


def test_a_one_person_file_says_nothing_of_the_detector_unless_a_face_it_was_asked_for_is_missing(
        faces_dir, tmp_path, run_main):
    """A file run tracks up to 2 faces by default, so auto's full-range checks a one-person file for a second face:
    before, every such run printed 'detector: short-range (auto: full-range found no face more in 1 check ...)'. It
    is printed where it tells something (a switch: the test above; a face --max-faces asked for and not found), and
    summary.json keeps the line either way."""
    import json

    path = _room(tmp_path / "one.mp4", [(faces_dir / "videos" / "liveportrait_d6.mp4", 480, (320, 240))],
                 n=12, size=(640, 480))
    runs = {}
    for name, more in (("default", []), ("asked", ["--max-faces", "2"])):  # a file's 2; the same, given
        status, lines = run_main("mpt_live.cli", "--video", str(path), "--motion-only", "--headless",
                                 "--out", str(tmp_path / name), *more)
        assert status == 0, lines
        runs[name] = (json.loads((tmp_path / name / "summary.json").read_text()), lines)
    (s, lines), (asked, asked_lines) = runs["default"], runs["asked"]
    assert s["max_faces"] == 2 and len(s["faces"]) == 1, s["faces"]
    assert s["detector_reason"] == "short-range (auto: full-range found no face more in 1 check of frames short of faces)"
    assert not s["detector_shown"] and not [x for x in lines if "detector:" in x], lines
    assert asked["detector_reason"] == s["detector_reason"] and asked["detector_shown"]
    assert [x for x in asked_lines if x.strip() == f"detector: {s['detector_reason']}"], asked_lines


def test_one_false_find_of_full_range_does_not_switch_the_run(faces_dir, tmp_path, monkeypatch):
    """Full-range 'finds' a face in an empty corner of one frame (a patch of texture taken for a face) and not on
    the next frames: the run stays on short-range (the alignment the models are trained on) and counts it."""
    from mpt_live.face import FaceAligner
    from mpt_live.face_types import Detection

    path = _room(tmp_path / "one.mp4", [(faces_dir / "videos" / "liveportrait_d6.mp4", 360, (380, 380))])
    x, y, side = 1000, 120, 70
    ghost = Detection((x, y, side, side), 0.6, np.array([[x + 20, y + 25], [x + 50, y + 25], [x + 35, y + 40],
                                                         [x + 35, y + 55], [x + 5, y + 30], [x + 65, y + 30]], float))
    calls = []
    real = FaceAligner.detect

    def detect(self, frame, t):
        found = real(self, frame, t)
        if self.model == "full":
            calls.append(t)
            if len(calls) == 1:
                return found + [ghost]
        return found

    monkeypatch.setattr(FaceAligner, "detect", detect)
    s = _run(path, detector="auto", max_faces=2)
    assert s["detector_used"] == "short" and s["detector_unconfirmed"] == 1, s["detector_reason"]
    assert len(calls) == 2, calls  # the find, then the next frame, where it did not hold (next look: 5 s later)
    assert "full-range found a face more 1 time, not again on the next 2 frames" in s["detector_reason"]
    assert len(s["faces"]) == 1, s["faces"]


def test_a_face_short_range_finds_again_within_the_confirmation_is_said_so_not_counted_as_a_false_find(monkeypatch):
    """Full-range finds a face more on a frame; on the next, short-range holds it itself (tentative, so counted as
    found) while full-range finds it there again: no switch, and the line says short-range found it again, not that
    full-range did not find it again (before, it said so and counted it in detector_unconfirmed). Where short-range
    does not find it, the same find is one that did not hold."""
    from mpt_live.face import FaceAligner
    from mpt_live.face_types import Detection
    from mpt_live.face_watch import FaceWatch

    x, y, side = 400, 120, 70
    ghost = Detection((x, y, side, side), 0.9, np.array([[x + 20, y + 25], [x + 50, y + 25], [x + 35, y + 40],
                                                         [x + 35, y + 55], [x + 5, y + 30], [x + 65, y + 30]], float))
    full_sees = []  # whether full-range finds the face, per look
    real = FaceAligner.detect
    monkeypatch.setattr(FaceAligner, "detect", lambda self, frame, t: (
        [ghost] * full_sees.pop(0) if self.model == "full" else real(self, frame, t)))

    class Tracker:  # what FaceWatch reads of the tracker: its tentative faces, its detections' counts
        def __init__(self):
            self.held = []
            self.crowded = self.detector_runs = self.found_most = 0

        def pending(self):
            return self.held

    frame, tracker = np.full((480, 640, 3), 90, np.uint8), Tracker()
    with FaceWatch("auto", 2, False) as watch:
        # found; next frame: short-range holds it, full-range finds it there too
        full_sees[:] = [True, True]
        watch.see(frame, 0.0, [], tracker)
        tracker.held = [ghost.box]
        watch.see(frame, 1 / FPS, [], tracker)
        assert watch.used == "short" and (watch.refound, watch.unconfirmed) == (1, 0), watch.reason()
        assert watch.reason().endswith("full-range found a face more 1 time; short-range found it again itself "
                                       "within the next 2 frames)"), watch.reason()
        assert watch.figures()["detector_unconfirmed"] == 0
        # 5 s later (the next look): found, and on the next frame neither model finds it: a find that did not hold
        tracker.held, full_sees[:] = [], [True, False]
        watch.see(frame, 6.0, [], tracker)
        watch.see(frame, 6.0 + 1 / FPS, [], tracker)
        assert watch.used == "short" and (watch.refound, watch.unconfirmed) == (1, 1), watch.reason()
        assert watch.reason().endswith("full-range found a face more 2 times: 1 time not again on the next 2 frames, "
                                       "1 time short-range found it again itself within the next 2 frames)")
        assert not full_sees  # every look made


def test_a_face_too_small_to_analyse_is_named_and_a_close_one_is_not(faces_dir, tmp_path):
    v = faces_dir / "videos" / "liveportrait_d6.mp4"
    small = _room(tmp_path / "small.mp4", [(v, 90, (640, 300))])  # a face ~40 px tall
    s = _run(small, detector="full", max_faces=1)
    assert s["frames_with_face"] >= 20 and s["faces"][0]["eye_distance_px"] < 36, s["faces"]
    assert s["faces"][0]["too_small"] > 0.5
    assert any("face 0: too small to analyse" in w for w in s["warnings"]), s["warnings"]
    close = _run(_room(tmp_path / "close.mp4", [(v, 480, (320, 240))], n=12, size=(640, 480)), max_faces=1)
    assert close["faces"][0]["eye_distance_px"] > 60 and close["faces"][0]["too_small"] == 0.0
    assert not [w for w in close["warnings"] if "too small" in w], close["warnings"]


def test_auto_keeps_short_range_and_never_looks_twice_while_every_expected_face_is_found(faces_dir, tmp_path):
    """The common case (one close face, one expected): short-range alone, no full-range check on any frame."""
    from mpt_live.face_watch import FaceWatch

    looks = []
    real = FaceWatch.see

    def see(self, image, t, faces, tracker):
        probes = self.probes
        real(self, image, t, faces, tracker)
        looks.append(self.probes - probes)

    path = _room(tmp_path / "webcam.mp4", [(faces_dir / "videos" / "liveportrait_d6.mp4", 480, (320, 240))],
                 n=12, size=(640, 480))
    FaceWatch.see = see
    try:
        s = _run(path, max_faces=1)
    finally:
        FaceWatch.see = real
    assert s["detector"] == "auto" and s["detector_used"] == "short"
    assert s["detector_reason"] == "short-range (auto: it found every face --max-faces asks for)"
    assert len(looks) == 12 and sum(looks) == 0


def test_an_unknown_detector_is_refused_before_the_run():
    from mpt_live.session import Session

    with pytest.raises(ValueError, match="detector 'huge': expected one of auto, short, full"):
        Session([], None, SessionConfig(detector="huge"))


def test_a_faint_face_short_range_found_keeps_auto_on_short_range(faces_dir):
    """A partly hidden face (pyfeat_single_face with its mouth and chin covered) scores 0.64-0.77 at short range: it
    is tentative for CONFIRM_S (mpt_live/tracks.py), and full-range finding it meanwhile is no reason to switch:
    short-range found it. It gets one ID, within CONFIRM_S and a few frames."""
    from mpt_live.face_watch import FaceWatch
    from mpt_live.identity import FaceEmbedder
    from mpt_live.tracks import CONFIRM_S, FaceTracker

    first, ids = None, set()
    with VideoFile(faces_dir / "videos" / "pyfeat_single_face.mp4") as src, FaceWatch("auto", 2, False) as watch:
        tracker = FaceTracker(watch.aligner, 2, FaceEmbedder(), vouch=watch.vouch)
        for f in src:
            img = f.image.copy()
            h, w = img.shape[:2]
            img[int(h * 0.45):int(h * 0.8), int(w * 0.3):int(w * 0.62)] = (90, 120, 160)
            faces, _ = tracker.update(img, f.t)
            watch.see(img, f.t, faces, tracker)
            ids |= {x.id for x in faces}
            first = f.t if faces and first is None else first
    assert watch.used == "short" and watch.probes >= 1, watch.reason()
    assert ids == {0} and first is not None and first <= CONFIRM_S + 0.2


def _stage(path: Path, detector: str = "auto", max_faces: int = 2) -> tuple[object, list[set[int]]]:
    """The session's face stage over ``path`` (FaceWatch and FaceTracker with SFace): the watch and each frame's IDs."""
    from mpt_live.face_watch import FaceWatch
    from mpt_live.identity import FaceEmbedder
    from mpt_live.tracks import FaceTracker

    ids = []
    with VideoFile(path) as src, FaceWatch(detector, max_faces, False) as watch:
        tracker = FaceTracker(watch.aligner, max_faces, FaceEmbedder(), vouch=watch.vouch)
        for f in src:
            faces, _ = tracker.update(f.image, f.t)
            watch.see(f.image, f.t, faces, tracker)
            ids.append({x.id for x in faces})
    return watch, ids


def test_a_small_face_short_range_loses_switches_auto_to_full_range_and_keeps_its_id(faces_dir, tmp_path):
    """A face ~140 px tall in a 1920x1080 frame (the new-user trial's tiny1080.mp4, issue 12): short-range scores it
    about 0.55 and loses it on frame 4. Before, full-range had looked on frame 0 only (short-range had the face
    then) and not for 5 s after: the face was missing until short-range found it again, under new IDs. Now the loss
    of a face that small is looked at: full-range finds it there and on the next frames, and the run switches."""
    side, n = 176, 16
    frames = _square(faces_dir / "videos" / "liveportrait_d3_expressive.mp4", n)
    path = tmp_path / "tiny.mp4"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (1920, 1080))
    for img in frames:
        frame = np.full((1080, 1920, 3), 128, np.uint8)
        frame[498:498 + side, 896:896 + side] = cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)
        out.write(frame)
    out.release()
    watch, ids = _stage(path)
    assert watch.used == "full", watch.reason()
    assert watch.reason().startswith("full-range from 0.20 s (auto: short-range lost a small face"), watch.reason()
    assert sum(bool(i) for i in ids) >= n - 3 and set().union(*ids) == {0}, ids
    assert watch.face_figures(0)["too_small"] < 0.5 and not watch.warnings("tiny.mp4")


def test_a_close_face_short_range_loses_costs_no_extra_full_range_look(faces_dir, tmp_path):
    """A webcam's close face that leaves, comes back and leaves again a second later (5 frames/s): losses, but of a
    face well inside short-range's range, so full-range looks only as before (on the first frame short of faces, then
    5 s later); the same losses of a small face are each looked at (the test above)."""
    path = _room(tmp_path / "close.mp4", [(faces_dir / "videos" / "liveportrait_d6.mp4", 480, (320, 240))],
                 n=12, size=(640, 480))
    cap, frames = cv2.VideoCapture(str(path)), []
    while (got := cap.read())[0]:
        frames.append(got[1])
    cap.release()
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 5.0, (640, 480))
    for i, img in enumerate(frames):
        out.write(np.full_like(img, 90) if i in (3, 4, 8, 9, 10, 11) else img)  # away at 0.6 s and from 1.6 s
    out.release()
    watch, ids = _stage(path, max_faces=1)
    assert ids[2] == ids[5] == {0} and not ids[3] and not ids[8], ids
    assert watch.used == "short" and watch.probes == 1, watch.reason()


@pytest.fixture(scope="module")
def three_people(faces_dir, tmp_path_factory) -> Path:
    """Three people side by side, each face large enough for short-range (a 360 px square in 1280x720)."""
    v = faces_dir / "videos"
    return _room(tmp_path_factory.mktemp("three") / "three.mp4",
                 [(v / "liveportrait_d6.mp4", 360, (220, 360)), (v / "retalking_3_talking.mp4", 360, (640, 360)),
                  (v / "liveportrait_d0.mp4", 360, (1060, 360))])


def test_more_faces_than_a_files_default_max_faces_are_said_so_and_not_with_max_faces_0(three_people):
    """A group recording with the file default --max-faces 2 analysed two of its three people and said nothing (the
    new-user trial's 4-person xstack of the shared videos: summary.json had 2 faces and no warning)."""
    s = _run(three_people)
    assert len(s["faces"]) == 2, s["faces"]
    said = [w for w in s["warnings"] if "faces found in a frame, 2 analysed" in w]
    assert said and "up to 3 faces" in said[0] and "--max-faces 0" in said[0], s["warnings"]
    every = _run(three_people, max_faces=0)
    assert len(every["faces"]) == 3 and not [w for w in every["warnings"] if "analysed" in w], every["warnings"]
    given = _run(three_people, max_faces=2)  # asked for two: no warning
    assert not [w for w in given["warnings"] if "analysed" in w], given["warnings"]


def test_a_face_too_dark_to_analyse_is_named_and_a_lit_one_is_not(faces_dir, tmp_path):
    """A very dark recording (the new-user trial's dark.mp4, the face's mean brightness 6.6 of 255) gave a motion event
    that the same video lit did not, with no word that the face was too dark; now its face is named."""
    frames = _square(faces_dir / "videos" / "liveportrait_d6.mp4", 24)
    paths = {}
    for name, gain in (("dark", 0.05), ("lit", 1.0)):
        paths[name] = tmp_path / f"{name}.mp4"
        out = cv2.VideoWriter(str(paths[name]), cv2.VideoWriter_fourcc(*"mp4v"), FPS, frames[0].shape[1::-1])
        for f in frames:
            out.write(np.clip(f.astype(np.float32) * gain, 0, 255).astype(np.uint8))
        out.release()
    dark = _run(paths["dark"])
    assert dark["faces"], "the dark face was not found at all"
    assert any("face 0: too dark to analyse" in w for w in dark["warnings"]), dark["warnings"]
    lit = _run(paths["lit"])
    assert lit["faces"] and not [w for w in lit["warnings"] if "too dark" in w], lit["warnings"]
