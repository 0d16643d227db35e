"""Which files of a frame folder are its frames, and their numbers: the one rule shared by mpt-live's frame folders
(:mod:`.recordings`, ``--video DIR --fps F``) and the dataset readers (``train.datasets.files``).

* Files that are no part of a dataset are not listed (:func:`hidden`): hidden files (``.DS_Store``, the
  ``._img46.jpg`` resource forks macOS leaves in archives and on non-Mac disks), Office lock files (``~$x``),
  Windows' ``Thumbs.db`` / ``desktop.ini``; only image files are frames (``img46.jpg.bak`` is not).
* A frame's number is the last number in its name (``006_1_0001.jpg`` -> 1, ``reg_img46.jpg`` -> 46).
* The copies file managers make beside a file (:func:`copied_from`: Windows ``img46 - Copy.jpg`` and
  ``img46 - Copy (2).jpg``, also in a few other languages, macOS ``img46 copy.jpg`` / ``img46 copy 2.jpg``, GNOME
  ``img46 (copy).jpg`` / ``(another copy)`` / ``(3rd copy)``, browsers and "keep both" ``img46 (1).jpg``,
  ``Copy of img46.jpg``, Dropbox's ``(... conflicted copy ...)``, macOS's "keep both" ``img46 2.jpg``) are not
  frames where their original is there. Without it such a name is a frame like any other: ``frame (12).jpg`` and
  ``S01 (12).jpg``, as Windows names many files renamed at once, are frames 12.
* Two files left with one number (``img2.jpg`` and ``img02.jpg``) are an error naming both.
* A JPEG cut short (a partial copy or download: :func:`cut_jpeg`) is a damaged frame: OpenCV decodes its top rows
  over grey with only a libjpeg line on stderr, so both readers check for it before decoding. :func:`read_frame`
  reads a frame's bytes once, checks them and decodes them; what gives no frame raises :class:`DamagedFrame`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError
from .sources import IMAGE_EXTENSIONS

JUNK = frozenset({"__macosx", "@eadir", "thumbs.db", "ehthumbs.db", "desktop.ini"})
_COPY_WORDS = "copy|kopie|copie|copia|kopia|kopio|kopya|c\u00f3pia|\u526f\u672c|\u30b3\u30d4\u30fc|\ubcf5\uc0ac\ubcf8"
_MARK = re.compile(                     # a copy marker at the end of a file's stem
    rf"(?: - (?:{_COPY_WORDS})(?: \(\d+\))?"                  # Windows Explorer (English, other languages)
    r"| (?:copy|\u526f\u672c|\u62f7\u8d1d)(?: \d+)?"           # macOS Finder's Duplicate
    r"| \((?:copy|another copy|\d+(?:st|nd|rd|th) copy)\)"     # GNOME Files
    r"| \(\d+\)"                                               # downloads, "keep both"
    r"| \([^()]*conflicted copy[^()]*\))$", re.I)              # Dropbox
_PREFIX = re.compile(r"^copy(?: \(\d+\))? of ", re.I)         # older Windows, Google Drive
_KEEP_BOTH = re.compile(r"(?<=\d) \d{1,3}$")                  # macOS "Keep Both": img46 2


def hidden(name: str) -> bool:
    """Not part of a dataset: hidden files and folders, Office lock files (``~$sheet.xlsx``), macOS archive
    folders (``__MACOSX``), a Synology NAS's thumbnail folders (``@eaDir``), Windows' ``Thumbs.db``."""
    return name.startswith((".", "~$")) or name.casefold() in JUNK


def images(folder: Path, extensions: Collection[str] = IMAGE_EXTENSIONS) -> list[Path]:
    """The visible files of ``folder`` with one of ``extensions`` (lower case; default: the image types), unsorted;
    InputError when it cannot be listed."""
    try:
        with os.scandir(folder) as it:
            return [Path(e.path) for e in it if not hidden(e.name)
                    and os.path.splitext(e.name)[1].lower() in extensions and e.is_file()]
    except OSError as e:
        raise InputError(f"{folder}: cannot list the folder ({e.strerror})") from None


def frame_number(name: str) -> int | None:
    """The last number in a file's stem: ``reg_img46.jpg`` -> 46, ``006_05562.jpg`` -> 5562; None without one."""
    nums = re.findall(r"\d+", os.path.splitext(name)[0])
    return int(nums[-1]) if nums else None


def copied_from(stem: str) -> str | None:
    """The stem a file manager's copy was made from (``img46 - Copy`` -> ``img46``); None when it is no such copy."""
    m = _PREFIX.match(stem)
    if m and len(stem) > m.end():
        return stem[m.end():]
    m = _MARK.search(stem)
    return stem[:m.start()] if m and m.start() > 0 else None


def natural(s: str | Path) -> tuple:
    """Sort key with numbers compared as numbers (``f2`` before ``f10``; the dataset readers' too)."""
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t.lower()) for t in re.split(r"(\d+)", str(s)) if t)


def split_copies(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """``paths`` (one folder's images) -> (frames, copies beside their original, in natural order). A copy of a
    copy is followed back to the first name; a file whose original is not there is a frame of its own."""
    there = {p.stem.casefold() for p in paths}
    kept, copies = [], []
    for p in paths:
        chain, stem = [], p.stem
        while (up := copied_from(stem)) is not None:
            chain.append(up)
            stem = up
        keep_both = _KEEP_BOTH.search(p.stem)
        if keep_both:
            chain.append(p.stem[:keep_both.start()])
        (copies if any(s.casefold() in there for s in chain) else kept).append(p)
    return kept, sorted(copies, key=lambda q: natural(q.name))


def number_images(folder: Path, paths: list[Path]) -> tuple[list[tuple[int, Path]], list[Path]]:
    """A folder's images -> ([(frame number, image)] in the order of the numbers, [copies left out]).
    InputError (one line) for an image without a number or two images with one number, naming them."""
    kept, copies = split_copies(paths)
    numbered = []
    for p in kept:
        n = frame_number(p.name)
        if n is None:
            raise InputError(f"{p}: no frame number in the name (the frames of a folder are read in the order of "
                             "their numbers)")
        numbered.append((n, p))
    numbered.sort(key=lambda t: (t[0], natural(t[1].name)))
    for (a, pa), (b, pb) in zip(numbered, numbered[1:]):
        if a == b:
            first, second = sorted((pa.name, pb.name))
            raise InputError(f"{folder}: frame number {a} appears twice ({first}, {second})")
    return numbered, copies


CUT = "a JPEG cut short (no end-of-image marker: a partial copy or download)"


class DamagedFrame(InputError):
    """An image that gives no frame: ``cut`` for a JPEG cut short (:func:`cut_jpeg`), else a file that does not
    decode as an image or cannot be read. ``problem``: what is wrong, without the path."""

    def __init__(self, path: str | os.PathLike, problem: str, cut: bool = False) -> None:
        super().__init__(f"{path}: {problem}")
        self.path, self.problem, self.cut = Path(path), problem, cut


def cut_jpeg(data: bytes, tail: int = 4096) -> bool:
    """True for a file's bytes that begin as a JPEG (SOI marker) and have no end-of-image marker (FF D9) in their
    last ``tail`` bytes (some cameras pad after it). In the compressed data FF D9 cannot occur (FF is followed by 00 or
    a restart marker there), so a file cut mid-image has none. False for other files."""
    return data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[max(2, len(data) - tail):]


def read_frame(path: str | os.PathLike) -> np.ndarray:
    """One frame image as BGR uint8, its file read once (checked by :func:`cut_jpeg`, then decoded as
    ``cv2.imread`` would, EXIF orientation applied). :class:`DamagedFrame` for a JPEG cut short, an empty file,
    bytes that do not decode, a file that cannot be read."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise DamagedFrame(path, f"cannot be read ({e.strerror})") from None
    if not data:
        raise DamagedFrame(path, "an empty file (0 bytes)")
    if cut_jpeg(data):
        raise DamagedFrame(path, CUT, cut=True)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise DamagedFrame(path, "not a readable image")
    return img
