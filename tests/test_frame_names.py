"""Which files of a frame folder are frames: the copies file managers make beside a frame, OS junk files, and
real numbering conflicts, read alike by mpt-live's frame folders and by the dataset readers."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpt_live.errors import InputError
from mpt_live.framefolder import FrameFolder, number_frames
from train.datasets.files import ClipFrames, list_frames

FRAMES = [f"img{i}.jpg" for i in range(1, 7)]
JUNK = [".DS_Store", "Thumbs.db", "desktop.ini", "._img3.jpg", "img2.jpg.bak", "~$img4.jpg"]
COPIES = [
    "img3 - Copy.jpg", "img3 - Copy (2).jpg",      # Windows Explorer
    "img4 - 副本.jpg",                              # Windows Explorer, Chinese
    "img4 copy.jpg", "img5 copy 2.jpg",            # macOS Finder's Duplicate
    "img5 2.jpg",                                  # macOS Finder's 'Keep Both'
    "img1 (1).jpg", "img6 (12).jpg",               # browsers' downloads, 'keep both' elsewhere
    "img2 (copy).jpg", "img2 (another copy).jpg", "img6 (3rd copy).jpg",   # GNOME Files
    "Copy of img1.jpg",                            # older Windows, Google Drive
    "img6 (Jane's conflicted copy 2024-05-01).jpg",  # Dropbox
]


def _folder(root: Path, names) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for k, n in enumerate(names):
        (root / n).write_bytes(bytes([k]) * 4)    # contents do not matter for listing
    return root


def _three_readers(folder: Path) -> tuple[list[str], list[str], list[str]]:
    return ([p.name for p in number_frames(folder)[0]], [p.name for p in ClipFrames.read(folder, "x").frames],
            [p.name for p in list_frames(folder)])


def test_file_manager_copies_and_junk_beside_the_frames_are_not_frames(tmp_path):
    """'img3 - Copy.jpg' beside 'img3.jpg' stopped both readers ('frame number 3 appears twice'), 'img1 (1).jpg'
    was read as frame 1 and 'img46 (12).jpg' as frame 12; the real frames are read, the copies left out."""
    folder = _folder(tmp_path / "rec", FRAMES + JUNK + COPIES)
    assert _three_readers(folder) == (FRAMES, FRAMES, FRAMES)


def test_frame_folder_warns_about_the_copies_it_leaves_out(tmp_path):
    import cv2
    import numpy as np
    folder = tmp_path / "rec"
    folder.mkdir()
    for n in FRAMES + ["img3 - Copy.jpg", "img4 (1).jpg"]:
        cv2.imwrite(str(folder / n), np.zeros((8, 8, 3), np.uint8))
    with FrameFolder(folder, 30) as src:
        assert src.frame_count == 6
        assert [w for w in src.warnings if "cop" in w] == [
            f"{folder}: 2 file(s) are copies of a frame beside it (img3 - Copy.jpg, img4 (1).jpg), not read"]


def test_a_name_like_a_copy_without_its_original_is_a_frame_by_its_number(tmp_path):
    """Windows names many files renamed at once 'S01 (1).jpg', 'S01 (2).jpg', ...: there is no 'S01.jpg', so they
    are no copies but frames 1, 2, ...; 'img3 - Copy.jpg' without 'img3.jpg' is frame 3."""
    names = ["S01 (1).jpg", "S01 (2).jpg", "img3 - Copy.jpg", "S01 (10).jpg"]   # in the order of their numbers
    folder = _folder(tmp_path / "rec", names)
    assert _three_readers(folder)[:2] == (names, names)
    assert ClipFrames.read(folder, "x").index_of == {1: 0, 2: 1, 3: 2, 10: 3}


@pytest.mark.parametrize("names, pair", [
    (["img1.jpg", "img2.jpg", "img02.jpg"], "img02.jpg, img2.jpg"),                  # one number, two spellings
    (["img1.jpg", "img2 - Copy.jpg", "img2 copy.jpg"], "img2 - Copy.jpg, img2 copy.jpg"),  # two copies, no original
    (["img1.jpg", "img2.jpg", "reg_img2.jpg"], "img2.jpg, reg_img2.jpg"),
])
def test_a_real_numbering_conflict_is_an_error_naming_both_files(tmp_path, names, pair):
    folder = _folder(tmp_path / "rec", names)
    for read in (number_frames, lambda f: ClipFrames.read(f, "x")):
        with pytest.raises(InputError, match="frame number 2 appears twice") as e:
            read(folder)
        assert pair in str(e.value)


def test_names_that_only_look_like_copies_are_frames(tmp_path):
    """SAMM's '006_1_0001.jpg', CAS(ME)^3's '12.jpg', 'frame 7.jpg' with a space, and 'frame (10).jpg' as Windows
    names many files renamed at once (no number before the ' (n)'): no copies, all frames."""
    for names in (["006_1_0001.jpg", "006_1_0002.jpg"], ["1.jpg", "2.jpg", "12.jpg"], ["frame 7.jpg", "frame 8.jpg"],
                  ["frame (1).jpg", "frame (2).jpg", "frame (10).jpg"]):       # Windows' rename of many files
        folder = _folder(tmp_path / names[0], names)
        assert _three_readers(folder) == (names, names, names)


def test_a_nas_thumbnail_folder_is_no_recording(tmp_path):
    """A Synology NAS keeps '@eaDir/<file>/SYNOPHOTO_THUMB_M.jpg' beside every file: below a folder of subjects'
    videos '--video DIR' took each one for a frame folder ('SYNOPHOTO_THUMB_M.jpg: no frame number in the name')."""
    from mpt_live.recordings import expand_recordings
    for sub in ("s1", "s2"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "take.mp4").write_bytes(b"\x00" * 8)
        _folder(tmp_path / sub / "@eaDir" / "take.mp4", ["SYNOVIDEO_VIDEO_SCREENSHOT.jpg"])
    _folder(tmp_path / "rec", FRAMES)
    _folder(tmp_path / "rec" / "@eaDir" / "img1.jpg", ["SYNOPHOTO_THUMB_M.jpg"])
    assert [p.relative_to(tmp_path).as_posix() for p in expand_recordings(str(tmp_path))] == [
        "rec", "s1/take.mp4", "s2/take.mp4"]


def test_macos_resource_forks_beside_videos_are_not_videos(tmp_path):
    """'._take.mp4' (macOS's resource fork, in archives and on non-Mac disks) was run as a video of the batch and
    failed as 'not a readable video'."""
    from mpt_live.recordings import expand_recordings
    for name in ("take.mp4", "._take.mp4", "b.mov"):
        (tmp_path / name).write_bytes(b"\x00" * 8)
    assert [p.name for p in expand_recordings(str(tmp_path))] == ["b.mov", "take.mp4"]


def test_a_clips_span_of_one_frame_says_frame_in_the_singular(tmp_path):
    """A dataset row's error named its clip folder's frames as 'img1.jpg..img1.jpg, 1 frames' (ClipFrames.span)."""
    assert ClipFrames.read(_folder(tmp_path / "one", FRAMES[:1]), "x").span() == "img1.jpg..img1.jpg, 1 frame"
    assert ClipFrames.read(_folder(tmp_path / "two", FRAMES[:2]), "x").span() == "img1.jpg..img2.jpg, 2 frames"
