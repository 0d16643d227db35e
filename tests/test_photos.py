"""Face photos as users bring them (mpt_live.photos, ``--demo-face``, ``mpt-synth --faces``): every picture is
made here from the bundled astronaut portrait, in the forms phones, cameras and the web produce."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps
from typer.testing import CliRunner

from mpt_live.demo_input import demo_portrait, face_choice, frame_photo, photo_portrait
from mpt_live.errors import InputError
from mpt_live.photos import BACKGROUND, PhotoError, read_photo


@pytest.fixture(scope="module")
def face_rgb() -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(demo_portrait()[..., ::-1]))


def _with_transparent_border(rgb: Image.Image, hidden: np.ndarray) -> Image.Image:
    """The portrait inside an opaque ellipse; outside it alpha 0 over ``hidden`` (what an editor left there)."""
    a = np.array(rgb.convert("RGBA"))
    h, w = a.shape[:2]
    yy, xx = np.mgrid[:h, :w]
    outside = ((xx - w / 2) / (0.45 * w)) ** 2 + ((yy - h / 2) / (0.5 * h)) ** 2 > 1
    a[outside, :3] = hidden[outside]
    a[outside, 3] = 0
    return Image.fromarray(a)


def test_transparent_background_is_grey_whatever_the_transparent_pixels_hold(face_rgb, tmp_path):
    """OpenCV's colour decoding dropped the alpha channel: a PNG with a transparent background rendered the
    pixels hidden under it (black, or noise some editors leave), which framing then smeared over the frame."""
    h, w = face_rgb.height, face_rgb.width
    noise = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    paths = []
    for name, hidden in (("black", np.zeros_like(noise)), ("noise", noise)):
        paths.append(tmp_path / f"{name}.png")
        _with_transparent_border(face_rgb, hidden).save(paths[-1])
    black, noisy = (read_photo(p) for p in paths)
    assert np.array_equal(black, noisy)
    assert (black[:8, :8] == BACKGROUND).all() and (black[-8:, -8:] == BACKGROUND).all()
    a, b = photo_portrait(paths[0]), photo_portrait(paths[1])  # the demo frame: the face found, same picture
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 2


@pytest.mark.parametrize("orientation, stored", [(6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270),
                                                 (3, Image.Transpose.ROTATE_180)])
@pytest.mark.parametrize("kind", ["jpg", "png-alpha", "webp-alpha"])
def test_sideways_phone_photo_comes_out_upright(face_rgb, tmp_path, orientation, stored, kind):
    """A phone stores the sensor's pixels and an EXIF orientation: read as Pillow's exif_transpose shows it,
    with or without transparency (the two decode by different libraries)."""
    image = face_rgb if kind == "jpg" else _with_transparent_border(face_rgb, np.zeros((face_rgb.height, face_rgb.width, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    ext = kind.split("-")[0]
    opts = {"jpg": {"quality": 95}, "webp": {"lossless": True}, "png": {}}[ext]
    path = tmp_path / f"phone.{ext}"
    image.transpose(stored).save(path, exif=exif.tobytes(), **opts)
    assert ImageOps.exif_transpose(Image.open(path)).size == face_rgb.size  # the file really is stored sideways
    image.save(tmp_path / f"upright.{ext}", **opts)
    got, want = read_photo(path), read_photo(tmp_path / f"upright.{ext}")
    assert got.shape == want.shape
    assert np.abs(got.astype(int) - want.astype(int)).mean() < 3


@pytest.mark.parametrize("mode, ext", [("L", "jpg"), ("CMYK", "jpg"), ("RGB", "webp"), ("I;16", "png"), ("RGB", "JPG")])
def test_other_encodings_read_as_8bit_bgr(face_rgb, tmp_path, mode, ext):
    path = tmp_path / f"Jürgen 张伟 photo.{ext}"  # non-ASCII and upper-case names too
    if mode == "I;16":  # a 16-bit colour PNG (Pillow writes 16-bit grey only)
        cv2.imwrite(str(path), np.asarray(face_rgb)[..., ::-1].astype(np.uint16) * 257)
    else:
        face_rgb.convert(mode).save(path, **({"quality": 95} if ext.lower() == "jpg" else {}))
    image = read_photo(path)
    assert image.dtype == np.uint8 and image.shape == (face_rgb.height, face_rgb.width, 3)
    ref = np.asarray(face_rgb.convert("L").convert("RGB") if mode == "L" else face_rgb)[..., ::-1]
    assert np.abs(image.astype(int) - ref.astype(int)).mean() < 6


def _bad(tmp_path, what):
    if what == "empty":
        (p := tmp_path / "empty.jpg").write_bytes(b"")
    elif what == "heic":
        (p := tmp_path / "IMG_0001.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(500))
    elif what == "dir":
        (p := tmp_path / "folder.jpg").mkdir()
    elif what == "text":
        (p := tmp_path / "notes.png").write_text("not an image")
    else:
        p = tmp_path / "missing.jpg"
    return p


@pytest.mark.parametrize("what, reason", [
    ("empty", "empty file (0 bytes)"),  # was: "not an image file OpenCV can read"
    ("heic", "HEIC photos cannot be decoded here; save it as JPEG or PNG"),  # was: the same
    ("dir", "a directory, not a photo"),  # was: "no such file"
    ("text", "not an image file OpenCV can decode"),
    ("missing", "no such file"),
])
def test_a_photo_that_cannot_be_read_is_named_with_the_reason(tmp_path, what, reason):
    path = _bad(tmp_path, what)
    with pytest.raises(PhotoError) as info:
        photo_portrait(path)
    assert str(info.value).startswith(f"{path}: ") and reason in info.value.reason and "\n" not in str(info.value)


def test_a_photo_without_read_permission_is_named(face_rgb, tmp_path, monkeypatch):
    """For a user who may not read the file, OpenCV only warned and the error said 'not an image file OpenCV can
    read'; it now says why (os.access is made to refuse it: the tests run as root, who may read anything)."""
    path = tmp_path / "private.jpg"
    face_rgb.save(path)
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if str(p) == str(path) else real(p, mode, *a, **k))
    with pytest.raises(InputError, match="private.jpg: not readable \\(permission denied\\)$"):
        photo_portrait(path)


def _group_photo(face_rgb, path):
    """Two people: the portrait and, on its right, the same portrait at 60 %."""
    big = np.asarray(face_rgb)
    small = cv2.resize(big, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    canvas = np.full((big.shape[0], big.shape[1] + small.shape[1], 3), 90, np.uint8)
    canvas[:, :big.shape[1]] = big
    canvas[:small.shape[0], big.shape[1]:] = small
    Image.fromarray(canvas[:, ::-1].copy()).save(path, quality=95)  # mirrored: the larger face on the right


def test_group_photo_says_which_face_the_demo_shows(face_rgb, tmp_path):
    """The largest face was used without a word; the run now says how many faces it saw and which it used,
    and the truth file records it."""
    from mpt_live.cli import app

    path = tmp_path / "group.jpg"
    _group_photo(face_rgb, path)
    small_w = int(round(face_rgb.width * 0.6))
    _, used = frame_photo(path)
    assert used["faces"] == 2 and used["box"][0] >= small_w  # the large face, on the right
    note = face_choice(path, used)
    assert note.startswith("group.jpg: 2 faces found; the largest confident one is used")
    res = CliRunner().invoke(app, ["--demo", "--demo-face", str(path), "--model", str(tmp_path / "none.onnx")])
    assert note in " ".join(res.output.split()), res.output  # said before the model is even loaded
    assert face_choice(tmp_path / "one.jpg", {"faces": 1, "box": [0, 0, 9, 9]}) is None


def test_a_photo_too_small_for_the_demo_frame_is_said_in_one_line(face_rgb, tmp_path):
    """A small crop of a face (112 px, as a face-recognition set's; the astronaut's here) was framed into the demo's
    640x480 with its edges stretched over most of it, and its face enlarged, without a word. Now one warning names
    the photo, how much of the frame it fills and the size that fills it, before the model loads; a photo that
    fills the frame says nothing."""
    from mpt_live.cli import app
    from mpt_live.demo_input import small_photo

    whole, small = tmp_path / "whole.png", tmp_path / "small.png"
    face_rgb.save(whole)
    _, used = frame_photo(whole)
    x, y, w, h = used["box"]
    side = int(1.2 * max(w, h))
    crop = face_rgb.crop((x + w // 2 - side // 2, y + h // 2 - side // 2, x + w // 2 + side - side // 2,
                          y + h // 2 + side - side // 2)).resize((112, 112), Image.Resampling.LANCZOS)
    crop.save(small)
    _, tiny = frame_photo(small)
    line = small_photo(small, tiny)
    assert small_photo(whole, used) is None and used["filled"] > 0.9
    assert line is not None and line.startswith(f"{small}: the photo shows too little around its face for the demo's "
                                                f"640x480 frame: it fills {tiny['filled']:.0%} of it")
    assert tiny["filled"] < 0.5 and tiny["scale"] > 1 and f"enlarged {tiny['scale']:.1f}x" in line
    fill = [round(640 / tiny["scale"]), round(480 / tiny["scale"])]  # the photo's size that fills the frame
    assert f"about {fill[0]}x{fill[1]} px at this face size" in line and fill[0] > 112 and fill[1] > 112
    for photo, said in ((small, True), (whole, False)):
        res = CliRunner().invoke(app, ["--demo", "--demo-face", str(photo), "--model", str(tmp_path / "none.onnx")])
        out = " ".join(res.output.split())
        assert ("the photo shows too little around its face" in out) is said, out
        assert not said or f"warning: {line}" in out  # one line, before the model is even loaded


def test_a_video_given_as_the_demo_face_is_named_as_a_video(tmp_path):
    """`--demo-face interview.mp4` said 'not an image file OpenCV can decode (damaged, or not an image)'."""
    from faultkit import write_video
    from mpt_live.cli import app

    video = write_video(tmp_path / "interview.mp4", 5)
    with pytest.raises(InputError, match=r"interview.mp4: a video file, not a photo: .* --video "):
        frame_photo(video)
    res = CliRunner().invoke(app, ["--demo", "--demo-face", str(video), "--model", str(tmp_path / "none.onnx")])
    assert res.exit_code == 2 and "a video file, not a photo" in res.output, res.output


def test_a_face_too_small_for_the_detector_is_named_as_too_small(face_rgb, tmp_path):
    """A photo whose face is ~56 px wide in a large picture said 'no face found'; the message now names the photo,
    says the face is too small (its width) and what size works. A photo without a face still says 'no face found'."""
    portrait = np.asarray(face_rgb)[..., ::-1]
    small = cv2.resize(portrait, None, fx=0.3, fy=0.3, interpolation=cv2.INTER_AREA)  # the face ~56 px wide
    canvas = np.full((1200, 1600, 3), 128, np.uint8)
    canvas[500:500 + small.shape[0], 700:700 + small.shape[1]] = small
    path = tmp_path / "far.png"
    cv2.imwrite(str(path), canvas)
    with pytest.raises(InputError) as info:
        photo_portrait(path)
    line = str(info.value)
    assert line.startswith(f"{path}: the face is too small") and "1600x1200 photo" in line and "\n" not in line, line
    width = int(line.split("(about ")[1].split(" px")[0])
    assert 40 <= width <= 75, line
    assert f"to about {width * 10} px or less" in line, line
    cropped = tmp_path / "near.png"  # the crop the message asks for: the face is found and framed
    cy, cx = 500 + small.shape[0] // 2, 700 + small.shape[1] // 2
    half = width * 10 // 2
    cv2.imwrite(str(cropped), canvas[cy - half * 3 // 4:cy + half * 3 // 4, cx - half:cx + half])
    assert frame_photo(cropped)[1]["faces"] == 1
    empty = tmp_path / "grey.png"
    cv2.imwrite(str(empty), np.full((1200, 1600, 3), 128, np.uint8))
    with pytest.raises(InputError, match="grey.png: no face found in this photo"):
        photo_portrait(empty)
