"""The rotation check (mpt_live/upright.py) where BlazeFace finds a sideways face confidently: a wrong 90 or 270 tag is
overridden by the faces' scores, not only their counts, and a right one kept. Recordings made here: the demo's
astronaut (a person not in ../shared) and, for the portrait case acceptance found, a shared face in a 540x960 frame."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import faultkit as fk
from mpt_live import upright
from mpt_live.sources import VideoFile


def _tagged(d, plain, name, tag, stored_as=None):
    """``plain`` (upright, untagged) stored as it is, or turned ``stored_as`` (an ffmpeg -vf) and tagged ``tag``
    degrees clockwise: a wrong tag, or the right one that turns it back."""
    src = plain
    if stored_as:
        src = d / f"{name}_stored.mp4"
        fk.ffmpeg("-i", str(plain), "-vf", stored_as, "-c:v", "libx264", "-pix_fmt", "yuv420p", str(src))
    out = d / f"{name}.mp4"
    fk.ffmpeg("-display_rotation", str((-tag) % 360), "-i", str(src), "-c", "copy", str(out))  # ffmpeg: anticlockwise
    return out


@pytest.fixture(scope="module")
def astronaut(tmp_path_factory):
    """3 s of the demo input (skimage's astronaut, animated), 640x480, upright and untagged; tagged wrong 90 and 270,
    and stored turned with the right tags. Its face scores 0.83-0.88 sideways, 0.96 upright: counted confidently in
    every frame either way."""
    from mpt_live.demo_input import FPS, SIZE, demo_animator

    d = tmp_path_factory.mktemp("astronaut")
    anim, _ = demo_animator(0)
    raw = d / "raw.avi"
    w = cv2.VideoWriter(str(raw), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    for i in range(int(3 * FPS)):
        w.write(anim.render(i / FPS, i))
    w.release()
    plain = d / "plain.mp4"
    fk.ffmpeg("-i", str(raw), "-c:v", "libx264", "-pix_fmt", "yuv420p", str(plain))
    return {"plain": plain, "wrong90": _tagged(d, plain, "wrong90", 90), "wrong270": _tagged(d, plain, "wrong270", 270),
            "right90": _tagged(d, plain, "right90", 90, "transpose=cclock"),
            "right270": _tagged(d, plain, "right270", 270, "transpose=clock")}


def _first(path, **kw):
    with VideoFile(path, **kw) as v:
        img = next(iter(v)).image
    return v, img


def _stored(path):
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0)
    img = cap.read()[1]
    cap.release()
    return img


@pytest.mark.parametrize("name, tag", [("wrong90", 90), ("wrong270", 270)])
def test_a_wrong_sideways_tag_is_overridden_though_the_sideways_face_is_found(astronaut, name, tag):
    """Read as tagged, the astronaut lies sideways and is still found confidently in every frame looked at (as many as
    upright: the counts alone kept the tag); it scores lower in each, so the file is read as stored, said once."""
    v, img = _first(astronaut[name])
    notes = [w for w in v.warnings if "rotation tag" in w]
    assert v.orientation == 0 and (v.width, v.height) == (640, 480) and img.shape == (480, 640, 3)
    assert np.array_equal(img, _stored(astronaut["plain"]))
    assert len(notes) == 1 and notes[0].startswith(f"{astronaut[name]}: its rotation tag says to turn it {tag} degrees")
    assert "early frames so (mean score 0." in notes[0] and f"ffmpeg -display_rotation 0 -i {name}.mp4" in notes[0]


@pytest.mark.parametrize("name", ["right90", "right270"])
def test_a_right_sideways_tag_is_kept(astronaut, name):
    """A phone's real tag (the frames stored turned, the tag turning them back): read as tagged, nothing said."""
    v, img = _first(astronaut[name])
    assert v.turn == 0 and v.rotation_note is None and (v.width, v.height) == (640, 480)
    plain = _stored(astronaut["plain"]).astype(np.int16)
    assert np.abs(img.astype(np.int16) - plain).mean() < 8  # upright: the untagged frame, up to re-encoding


@pytest.fixture(scope="module")
def portrait(tmp_path_factory, faces_dir):
    """A 540x960 portrait recording (a face across the width in the upper part, grey below), 3 s: the acceptance case
    whose wrong 90-degree tag was kept (a face in 4 of 6 frames as tagged, 6 upright)."""
    d = tmp_path_factory.mktemp("portrait")
    plain = d / "plain.mp4"
    fk.ffmpeg("-i", str(faces_dir / "videos" / "liveportrait_d19_glasses.mp4"), "-t", "3", "-vf",
              "crop=480:360,scale=540:-2,pad=540:960:0:160:gray", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(plain))
    return {"plain": plain, "wrong": _tagged(d, plain, "wrong", 270), "right": _tagged(d, plain, "right", 90,
                                                                                       "transpose=cclock")}


def test_a_portrait_recordings_wrong_tag_is_overridden_and_its_right_tag_kept(portrait):
    wrong, img = _first(portrait["wrong"])
    assert wrong.orientation == 0 and img.shape == (960, 540, 3) and np.array_equal(img, _stored(portrait["plain"]))
    assert any("ffmpeg -display_rotation 0 -i wrong.mp4" in w for w in wrong.warnings)
    right, img = _first(portrait["right"])
    assert right.orientation == 90 and right.rotation_note is None and img.shape == (960, 540, 3)


@pytest.mark.parametrize("found, tagged, beats", [
    ([0.96] * 6, [0.82] * 6, True),  # confident both ways, higher in every frame: the acceptance case
    ([0.96] * 6, [0.82] * 5 + [0.97], False),  # lower in one frame: not clearly
    ([0.84] * 8, [0.82] * 8, False),  # higher in every frame, by less than the margin: kept
    ([0.9] * 4 + [0.0] * 4, [0.5] * 4 + [0.0] * 4, True),  # the face gone in half the frames, in both: judged on the rest
    ([0.9] * 3 + [0.0] * 5, [0.5] * 3 + [0.0] * 5, False),  # confident in under half the frames
    ([0.79] * 8, [0.0] * 8, False),  # never confident (a faint face): nothing to judge the tag by
])
def test_clearly_better_needs_a_confident_face_higher_in_every_frame_by_the_margin(found, tagged, beats):
    assert upright.clearly_better(found, tagged) is beats


def test_a_tag_whose_orientation_scores_as_high_is_kept(tmp_path):
    """The detector scoring a face a little lower as tagged in some frames, higher in others (noise): the tag kept."""
    path = tmp_path / "t.mp4"
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=5", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path))
    seen = []

    def detect(img):  # as tagged (turned 90: portrait) 0.90 and 0.94 by turns; as stored (landscape) 0.92
        seen.append(img.shape[0] > img.shape[1])
        return (0.90 if len(seen) % 2 else 0.94) if seen[-1] else 0.92

    assert upright.choose(path, 90, "auto", lambda: cv2.VideoCapture(str(path)), 25.0, detect) == (0, None)


@pytest.fixture(scope="module")
def tall(tmp_path_factory):
    """3 s of the demo's astronaut (a person not in ../shared) 300 px wide in the upper part of a 540x1200 frame, grey
    around: BlazeFace, shown the whole frame squeezed to its square input, scores the face 0.73 upright and 0.72
    upside down (the first frame); in a square three times its size around it, 0.98 upright and 0.72."""
    from mpt_live.demo_input import FPS, demo_animator

    d = tmp_path_factory.mktemp("tall")
    anim, _ = demo_animator(0)
    raw, plain = d / "raw.avi", d / "plain.mp4"
    w = cv2.VideoWriter(str(raw), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (540, 1200))
    for i in range(int(3 * FPS)):
        src = anim.render(i / FPS, i)
        face = cv2.resize(src, (300, 300 * src.shape[0] // src.shape[1]), interpolation=cv2.INTER_AREA)
        frame = np.full((1200, 540, 3), 128, np.uint8)
        frame[200:200 + face.shape[0], 120:420] = face
        w.write(frame)
    w.release()
    fk.ffmpeg("-i", str(raw), "-c:v", "libx264", "-pix_fmt", "yuv420p", str(plain))
    return {"wrong": _tagged(d, plain, "wrong", 180), "right": _tagged(d, plain, "right", 180, "hflip,vflip")}


def test_a_face_scored_almost_as_high_upside_down_is_judged_in_a_square_around_it(tall):
    """A tall frame's face scored about as high upside down as upright on the whole frame (0.73 and 0.72: a near tie,
    and not confident, so the wrong 180 tag was kept: 'could not be checked'): the check also scores it in a square
    around it (upright.blazeface_score), where upright is clearly higher: the wrong tag is overridden, a right one
    kept."""
    wrong, _ = _first(tall["wrong"])
    assert wrong.orientation == 0 and any("ffmpeg -display_rotation 0 -i wrong.mp4" in w for w in wrong.warnings), \
        wrong.warnings
    right, img = _first(tall["right"])
    assert right.orientation == 180 and right.rotation_note is None and img.shape == (1200, 540, 3)
