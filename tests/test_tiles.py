"""Faces of a wide frame found in square tiles (mpt_live/tiles.py) and tracked through the session's tracker."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from mpt_live.face_types import Detection
from mpt_live.tiles import is_wide, merge_tiles, tile_origins


@pytest.mark.parametrize("shape, wide, side, origins", [
    ((480, 640), False, 480, [(0, 0), (160, 0)]),
    ((480, 1280), True, 480, [(0, 0), (200, 0), (400, 0), (600, 0), (800, 0)]),
    ((720, 1280), True, 720, [(0, 0), (280, 0), (560, 0)]),
    ((1280, 720), True, 720, [(0, 0), (0, 280), (0, 560)]),  # portrait: squares stacked
    ((500, 500), False, 500, [(0, 0)]),
])
def test_tiles_are_squares_of_the_short_side_overlapping_by_half(shape, wide, side, origins):
    assert is_wide(shape) is wide
    got_side, got = tile_origins(shape)
    assert (got_side, got) == (side, origins)
    long = max(shape[:2])
    starts = [max(o) for o in got]
    assert starts[-1] + side == long and all(b - a <= side / 2 for a, b in zip(starts, starts[1:]))


def _det(x, y, w, score=0.9):
    kps = np.array([[x + 0.3 * w, y + 0.4 * w], [x + 0.7 * w, y + 0.4 * w]] + [[x + w / 2, y + w / 2]] * 4, float)
    return Detection((x, y, w, w), score, kps)


def test_merge_maps_tiles_to_the_frame_and_keeps_one_detection_per_face():
    frame = np.zeros((480, 1280, 3), np.uint8)
    seen = []

    def detect(tile):  # a face at frame x 430-530 (whole in the tiles at 200 and 400), cut at the tile at 0
        x0 = [o for o, _ in tile_origins(frame.shape)[1]][len(seen)]
        seen.append(x0)
        if x0 == 0:
            return [_det(430, 100, 50, 0.95)]  # 430 + 50 = 480: its right side on the tile's inner edge
        if x0 in (200, 400):
            return [_det(430 - x0, 100, 100, 0.8 if x0 == 200 else 0.9)]
        if x0 == 800:
            return [_det(380, 300, 100)]  # touches the frame's right edge only: kept
        return []

    merged = merge_tiles([_det(1000, 0, 60)], frame, detect)
    assert seen == [0, 200, 400, 600, 800]
    boxes = [d.box for d in merged]
    assert boxes == [(430, 100, 100, 100), (1180, 300, 100, 100), (1000, 0, 60, 60)]  # largest first
    assert merged[0].score == 0.9  # of the two views of one face, the stronger
    np.testing.assert_allclose(merged[0].keypoints[0], [430 + 30, 100 + 40])  # keypoints in frame pixels


def test_a_whole_frame_detection_is_not_doubled_by_its_tile():
    frame = np.zeros((480, 1280, 3), np.uint8)
    calls = []
    merged = merge_tiles([_det(100, 100, 120)], frame, lambda tile: [] if calls.append(1) or len(calls) > 1 else
                         [_det(104, 98, 116)])  # the first tile sees the same face a little smaller
    assert len(calls) == 5 and [d.box for d in merged] == [(100, 100, 120, 120)]


def _wide_frames(faces_dir, n, canvas, size):
    """Two real people (a smiling woman, a talking woman) side by side on a wide grey canvas, each video
    scaled to ``size`` px: their faces are about 0.6 ``size`` wide."""
    v = faces_dir / "videos"
    caps = [cv2.VideoCapture(str(v / "liveportrait_d6.mp4")), cv2.VideoCapture(str(v / "retalking_3_talking.mp4"))]
    h, w = canvas
    xs = (w // 8, w - w // 8 - size)
    for _ in range(n):
        img = np.full((h, w, 3), 90, np.uint8)
        for cap, x in zip(caps, xs):
            ok, f = cap.read()
            assert ok
            img[(h - size) // 2:(h + size) // 2, x:x + size] = cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA)
        yield img
    for cap in caps:
        cap.release()


@pytest.mark.parametrize("canvas, size", [((480, 1280), 160), ((720, 1280), 200), ((480, 1280), 300)])
def test_two_small_faces_of_a_wide_frame_are_tracked_on_every_frame(faces_dir, canvas, size):
    from mpt_live.face import FaceAligner
    from mpt_live.tracker import DETECT_EVERY
    from mpt_live.tracks import CONFIRM_S, FaceTracker

    with FaceAligner() as aligner:
        first = next(_wide_frames(faces_dir, 1, canvas, size))
        whole = len(aligner.detect(first, 0.0))
        calls = {"tiles": 0, "frame": 0, "short": 0}  # short: whole-frame passes that found fewer than both faces
        detect, detect_tiles = aligner.detect, aligner.detect_tiles

        def counted(f, t):
            found = detect(f, t)
            calls["frame"] += 1
            calls["short"] += len(found) < 2
            return found

        aligner.detect = counted
        aligner.detect_tiles = lambda f, d, *n: calls.__setitem__("tiles", calls["tiles"] + 1) or detect_tiles(f, d, *n)
        tracker = FaceTracker(aligner, max_faces=2, embedder=None)
        ids, sides = [], {}
        for i, img in enumerate(_wide_frames(faces_dir, 60, canvas, size)):
            faces = tracker.update(img, i / 30)[0]
            ids.append(sorted(f.id for f in faces))
            for f in faces:
                sides.setdefault(f.id, set()).add(f.face.box[0] < canvas[1] / 2)
    # both faces, the same two IDs, on every frame; a face squeezed into a wide frame may score below NEW_SCORE (the
    # talking woman at 300 px: 0.57-0.72), so it can be tentative for up to CONFIRM_S and one detector cadence first
    # (mpt_live/tracks.py: it is looked for on the detector's runs, every DETECT_EVERY frames beside a followed face)
    late = int(np.ceil(CONFIRM_S * 30)) + DETECT_EVERY
    assert ids[late:] == [[0, 1]] * (60 - late) and all(i in ([0], [0, 1]) for i in ids[:late]), ids
    assert all(len(s) == 1 for s in sides.values()) and len(sides) == 2  # an ID stays with its person
    assert calls["frame"] <= 60 // 2  # the faces are followed between detections
    if whole == 2:  # found whole (the large faces): tiles searched only where the whole frame missed one of them
        assert calls["tiles"] <= calls["short"]
    else:  # measured: not both found in the whole frame at 160-200 px; tiles only where a detection ran
        assert 1 <= calls["tiles"] <= calls["frame"]


def test_the_single_face_path_searches_tiles_too(faces_dir):
    from mpt_live.face import FaceAligner

    with FaceAligner() as aligner:
        found = [aligner.process(img, i / 30) is not None
                 for i, img in enumerate(_wide_frames(faces_dir, 20, (480, 1280), 160))]
    assert all(found)


def test_a_faint_face_found_only_in_tiles_is_confirmed(faces_dir):
    """Two people 200 px in a 1920x1080 frame: short-range finds them only in tiles, scoring 0.52-0.64, below
    NEW_SCORE: tentative faces must be searched in tiles on every detector run until confirmed, not once per
    TILE_EVERY_S."""
    from mpt_live.face import FaceAligner
    from mpt_live.tracks import CONFIRM_S, FaceTracker

    with FaceAligner() as aligner:
        tracker = FaceTracker(aligner, max_faces=2, embedder=None)
        ids = [sorted(f.id for f in tracker.update(img, i / 30)[0])
               for i, img in enumerate(_wide_frames(faces_dir, 45, (1080, 1920), 200))]
    assert [0, 1] in ids[:int(np.ceil(CONFIRM_S * 30)) + 3], ids  # both confirmed within CONFIRM_S and a few frames


def test_a_small_face_beside_a_large_one_in_a_4_3_frame_is_found_in_its_squares(faces_dir):
    """A 640x480 frame: one person 480 px, another 130 px in the corner. Short-range scores the small face 0.06-0.29 in
    the whole frame (it sees the frame at 3/4 the scale of its 480 px squares) and 0.56-0.83 in a square (these two
    pairs over 60 frames: bench/detector_scores.py --only squares, its 130 px rows): it must be searched there, as a
    wide frame's are, or the second person is never tracked (issue 12)."""
    from mpt_live.face import FaceAligner
    from mpt_live.tiles import searched_in_tiles
    from mpt_live.tracks import FaceTracker

    v = faces_dir / "videos"
    caps = [cv2.VideoCapture(str(v / n))
            for n in ("liveportrait_d6.mp4", "retalking_3_talking.mp4", "liveportrait_d0.mp4")]
    assert searched_in_tiles((480, 640)) and not searched_in_tiles((500, 500)) and not searched_in_tiles((480, 560))
    for small in caps[1:]:
        with FaceAligner() as aligner:
            tracker = FaceTracker(aligner, max_faces=2, embedder=None)
            sides = []
            for i in range(30):
                img = np.full((480, 640, 3), 90, np.uint8)
                img[:, :480] = cv2.resize(caps[0].read()[1], (480, 480), interpolation=cv2.INTER_AREA)
                img[350:, 510:] = cv2.resize(small.read()[1], (130, 130), interpolation=cv2.INTER_AREA)
                sides.append({f.id: f.face.box[0] >= 480 for f in tracker.update(img, i / 30)[0]})
        assert all(len(s) == 2 and sorted(s.values()) == [False, True] for s in sides[3:]), sides
        assert len({i for s in sides for i in s}) == 2  # the same two IDs throughout
    for cap in caps:
        cap.release()


def test_a_one_person_4_3_frame_searches_its_squares_less_often_than_a_wide_one():
    """One person in a 640x480 frame (the demo input) with --max-faces 2: the frame is short of a face on every
    detector run, and its two squares (which find only a small face beside a large one) were searched every 0.5 s for
    the whole run, 12 % of the face stage's CPU (bench/tiles.py --only webcam). Now every SQUARES_EVERY_S; the one
    face is tracked throughout; a 3:2 or wider frame is searched every TILE_EVERY_S still."""
    from mpt_live.demo_input import demo_animator
    from mpt_live.face import FaceAligner
    from mpt_live.tiles import SQUARES_EVERY_S, TILE_EVERY_S, search_every
    from mpt_live.tracks import FaceTracker

    assert search_every((480, 640)) == SQUARES_EVERY_S > TILE_EVERY_S == search_every((480, 1280))
    anim, _ = demo_animator(0)
    seconds = 3.0
    with FaceAligner() as aligner:
        tracker = FaceTracker(aligner, max_faces=2, embedder=None)
        counts = [len(tracker.update(anim.render(i / 30, i), i / 30)[0]) for i in range(int(seconds * 30))]
    assert counts[3:] == [1] * (len(counts) - 3), counts
    assert 1 <= tracker.tile_searches <= np.ceil(seconds / SQUARES_EVERY_S), tracker.tile_searches


@pytest.fixture(scope="module")
def tiles_bench():
    from conftest import bench_script

    yield from bench_script("tiles")


def test_the_webcam_bench_compares_the_rules_on_one_person_at_640x480(tiles_bench, capsys):
    """bench/tiles.py --only webcam: the code before 698f6d1 searches a one-person 640x480 frame's squares never, the
    code now searches them (every SQUARES_EVERY_S), and both track the face on the same frames."""
    tiles_bench.webcam(64, 2)
    out = capsys.readouterr().out
    rows = re.findall(r"^\| (\d) \| [\d.]+, (\d+) \| [\d.]+, (\d+) \| (\d+) / (\d+) of 63 \|$", out, re.M)
    assert [r[0] for r in rows] == ["1", "2"], out
    assert all(before == "0" and int(now) >= 1 and f0 == f1 and int(f0) >= 60 for _, before, now, f0, f1 in rows), rows
    assert re.search(r"one search of its 2 squares [\d.]+ ms .*: \d+ searches in 63 frames", out), out


@pytest.mark.parametrize("share", [0.06, 0.1])
def test_a_small_face_of_a_big_frame_is_aligned_by_keypoints_found_close_up(share):
    """A person at a desk: the demo's face 6 and 10 % of a 1920x1080 frame's height. Full-range finds it in the
    whole frame but puts its eyes 13 and 31 px apart where they are 26 and 43 (the alignment scaled wrong, the run
    warned 'too small to analyse'); the detection the trackers get has the keypoints of a square around the face."""
    from mpt_live.demo_input import demo_portrait
    from mpt_live.face import FaceAligner

    portrait = demo_portrait()
    with FaceAligner(model="full") as aligner:
        big = aligner.detect_image(portrait)[0]
        scale = share * 1080 / big.box[2]
        small = cv2.resize(portrait, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        frame = np.full((1080, 1920, 3), 110, np.uint8)
        frame[400:400 + small.shape[0], 1100:1100 + small.shape[1]] = small
        found = aligner.detect(frame, 0.0)
    want = np.hypot(*(big.keypoints[1] - big.keypoints[0])) * scale
    assert len(found) == 1
    eyes = np.hypot(*(found[0].keypoints[1] - found[0].keypoints[0]))
    assert abs(eyes - want) < 0.1 * want, (eyes, want)
    cx, cy = found[0].box[0] + found[0].box[2] / 2, found[0].box[1] + found[0].box[3] / 2
    assert 1100 < cx < 1100 + small.shape[1] and 400 < cy < 400 + small.shape[0]


@pytest.mark.parametrize("shape, px", [((720, 1280), 170), ((480, 1280), 165)])
def test_a_face_of_a_wide_frame_small_against_its_long_side_is_aligned_by_keypoints_found_close_up(shape, px):
    """A face of a video-call grid (1280x720, ~170 px) or of two people side by side (1280x480): the whole-frame pass
    sees it squeezed by the frame's long side, and put its eyes, nose and mouth up to 0.18 of its eye distance off
    (0.3-0.5 on a real grid of four people, whose alignment then jumped where the whole frame and the face's tile
    took turns finding it: 0 of 4 movements found for one of them); it is small against the long side, and its
    keypoints are those found in a square around it."""
    from mpt_live.face import FaceAligner
    from mpt_live.tiles import small_face, small_in_frame

    with FaceAligner(model="short") as aligner:
        frame, big, scale, (x0, y0) = _placed(aligner, shape, px, lambda h, small: (h - small.shape[0]) // 2, 0.6)
        found = aligner.detect(frame, 0.0)
    want = big.keypoints * scale + np.array([x0, y0])
    eyes = np.hypot(*(want[1] - want[0]))
    assert len(found) == 1 and found[0].close_up, found
    assert not small_face(found[0].box, frame.shape) and small_in_frame(found[0].box, frame.shape)
    off = np.abs(found[0].keypoints[:4] - want[:4]).max(axis=1) / eyes  # eyes, nose tip, mouth
    assert off.max() < 0.1, off


@pytest.mark.parametrize("shape, px", [((720, 1280), 120), ((1080, 1920), 150)])
def test_a_small_face_found_only_in_the_squares_is_aligned_by_keypoints_found_close_up(shape, px):
    """A small face of a wide frame that short-range finds only in a square tile: the tile's keypoints are loose (eyes
    40.5 px apart where they are 50.8 for a 120 px face of 1280x720); detect_tiles hands it on with the keypoints found
    in a square 3 times its size around it, marked as looked at so that the tracker's embedding does not look again."""
    from mpt_live.face import FaceAligner
    from mpt_live.identity import FaceEmbedder
    from mpt_live.tiles import small_face
    from mpt_live.tracks import FaceTracker

    w = shape[1]
    with FaceAligner(model="short") as aligner:
        frame, big, scale, (x0, y0) = _placed(aligner, shape, px, lambda h, small: h // 3, 0.7)
        found = [d for d in aligner.detect_tiles(frame, []) if d.box[0] > w * 0.6]
        assert len(found) == 1 and small_face(found[0].box, frame.shape), found
        tracker = FaceTracker(aligner, 1, FaceEmbedder())
        runs = []
        look = aligner.detect_tiles
        aligner.detect_tiles = lambda *a: runs.append(1) or look(*a)  # the tracker's own close-up look
        tracker.embed(frame, found[0])
    want = np.hypot(*(big.keypoints[1] - big.keypoints[0])) * scale
    eyes = np.hypot(*(found[0].keypoints[1] - found[0].keypoints[0]))
    assert found[0].close_up and abs(eyes - want) < 0.05 * want, (eyes, want)
    assert runs == [] and tracker.closer_looks == 1


def _placed(aligner, shape, px, top, left):
    """The demo portrait's face scaled to ``px`` wide on a grey frame of ``shape``, its left edge at ``left`` of the
    width and its top at ``top(h, small)``: (frame, the portrait's own detection, the scale, (x0, y0))."""
    from mpt_live.demo_input import demo_portrait

    portrait = demo_portrait()
    h, w = shape
    big = aligner.detect_image(portrait)[0]
    scale = px / big.box[2]
    small = cv2.resize(portrait, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.full((h, w, 3), 110, np.uint8)
    y0, x0 = top(h, small), int(w * left)
    hh, ww = min(small.shape[0], h - y0), min(small.shape[1], w - x0)
    frame[y0:y0 + hh, x0:x0 + ww] = small[:hh, :ww]
    return frame, big, scale, (x0, y0)
