"""A recording stored as a folder of numbered images (SAMM-LV, CAS(ME)^3), read frame by frame in order.

A *frame folder* is a folder whose files are images: one recording. Its frames are read in the order of
the number in their names (the last one: ``006_1_0001.jpg`` -> 1, ``12.jpg`` -> 12, so ``2.jpg`` comes
before ``10.jpg``); frame ``i`` is the i-th image, at ``i / fps`` s, as the dataset readers index them
(``train.datasets.files.ClipFrames``), so the frame numbers of events.csv and of the datasets' sheets
agree. Images carry no frame rate: ``--fps`` is required (SAMM-LV 200, CAS(ME)^3 30). OpenCV's own
image-sequence reader (``cv2.VideoCapture`` of a printf pattern) stops at the first gap in the numbering
and needs one fixed pattern, so the images are listed here and read one by one (:func:`.framenames.read_frame`);
gaps are counted and reported (a warning), not fatal. Which files are frames (not ``.DS_Store``, ``._x.jpg`` or a
file manager's ``img46 - Copy.jpg`` beside ``img46.jpg``) and their numbers: :mod:`.framenames`, shared with the
dataset readers.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import InputError, counted
from .framenames import DamagedFrame, images, number_images, read_frame
from .frametimes import valid_fps
from .sources import IMAGE_EXTENSIONS, Frame

FPS_HINT = "CASME II, SAMM and SAMM-LV: --fps 200, SMIC-HS: --fps 100, CAS(ME)^3: --fps 30"
_SAME = {".jpeg": ".jpg", ".tif": ".tiff"}  # spellings of one image type


def number_frames(folder: Path) -> tuple[list[Path], list[tuple[int, int]], list[Path]]:
    """The images of a frame folder in the order of their numbers, the gaps in the numbering
    ``[(number before, number after)]`` and the file managers' copies left out (:mod:`.framenames`). InputError
    (one line) for no images, mixed image types, an image without a number, or a number used twice."""
    found = images(folder)
    if not found:
        raise InputError(f"{folder}: no image files ({', '.join(sorted(IMAGE_EXTENSIONS))}): not a folder of frames")
    numbered, copies = number_images(folder, found)
    kinds = Counter(_SAME.get(p.suffix.lower(), p.suffix.lower()) for _, p in numbered)
    if len(kinds) > 1:
        mix = ", ".join(f"{n} {ext}" for ext, n in kinds.most_common())
        raise InputError(f"{folder}: mixes image types ({mix}): a folder of frames holds one recording's frames")
    gaps = [(a, b) for (a, _), (b, _) in zip(numbered, numbered[1:]) if b > a + 1]
    return [p for _, p in numbered], gaps, copies


class FrameFolder:
    """A recording stored as a folder of numbered images, read in order; frame ``i`` at ``i / fps`` s.

    The same interface as :class:`~mpt_live.sources.VideoFile`: ``name``, ``fps``, ``frame_count``,
    ``width``, ``height``, ``duration_s``, ``warnings`` (gaps in the numbering), ``error``; ``label``: the
    recording's name in events.csv (the folder's path as given). ``missing``: frame numbers the gaps skip.
    An image whose size differs from the first one's raises InputError naming it. An image that gives no frame (a
    JPEG cut short, :func:`~mpt_live.framenames.cut_jpeg`; an empty file or bytes that do not decode) is a damaged
    frame, read past (the others keep their numbers) and counted in one warning naming the first (one for the cut
    JPEGs, one for the others); a folder where none gives a frame, or more than half do not, stops in one line."""

    live = False
    fps_assumed = False
    numbered_frames = True  # its frames are the recording's own numbered images, whatever --fps times them at

    def __init__(self, folder: str | os.PathLike, fps: float | None) -> None:
        self.path = Path(folder)
        self.name = str(folder)
        self.label = self.path.as_posix()
        if not self.path.exists():
            raise InputError(f"{self.path}: no such folder")
        if not self.path.is_dir():
            raise InputError(f"{self.path}: not a folder of frames")
        self.files, gaps, copies = number_frames(self.path)
        if fps is None:
            raise InputError(f"{self.path}: a folder of frames needs --fps (images carry no frame rate; {FPS_HINT})")
        if not valid_fps(fps):
            raise InputError(f"{self.path}: --fps {fps:g} is not a frame rate (0 < fps <= 1000)")
        self.fps = float(fps)
        self._damaged: list[DamagedFrame] = []  # read past, as a damaged video's frames are
        self._start, self._first = self._first_frame()
        self.height, self.width = self._first.shape[:2]
        self.frame_count = len(self.files)
        self.missing = sum(b - a - 1 for a, b in gaps)
        self._notes: list[str] = []  # the warnings known when opened; a pass adds the damaged frames'
        if copies:
            shown = ", ".join(p.name for p in copies[:3]) + (", ..." if len(copies) > 3 else "")
            self._notes.append(f"{self.path}: {len(copies)} file(s) are copies of a frame beside it ({shown}), "
                                 "not read")
        if gaps:
            a, b = gaps[0]
            self._notes.append(
                f"{self.path}: {self.missing} frame number(s) missing in {len(gaps)} gap(s) of the numbering "
                f"(first: after {a}, next {b}); frames are indexed by position, {self.frame_count} frames at "
                f"{self.fps:g} fps")
        self.warnings = list(self._notes)
        self.error: str | None = None
        self._done = 0  # frames delivered by the current pass

    def _first_frame(self) -> tuple[int, np.ndarray]:
        """The first image that gives a frame, and the frame (:meth:`_read` stops a folder of broken files)."""
        i = 0
        while True:
            try:
                return i, self._read(i)
            except DamagedFrame:
                i += 1

    def _read(self, i: int) -> np.ndarray:
        """Frame ``i``'s image; DamagedFrame (counted) for one that gives no frame, InputError once more than half
        of the folder's images have given none (a folder of broken files, not a few damaged frames)."""
        try:
            return read_frame(self.files[i])
        except DamagedFrame as e:
            self._damaged.append(e)
            n, k = len(self.files), len(self._damaged)
            if k > n / 2:
                what = (f"none of its {counted(n, 'image')} gives a frame" if k == n else
                        f"{k} of its {n} images give no frame, more than half")
                raise InputError(f"{self.path}: {what}: {'; '.join(self._kinds())}; not read further") from None
            raise

    def _kinds(self) -> list[str]:
        """The damaged frames so far, one phrase per kind (JPEGs cut short; images not read or not decoding), each
        counting them and naming the first: the stop error and the pass's warnings word them alike."""
        cut = [d for d in self._damaged if d.cut]
        bad = [d for d in self._damaged if not d.cut]
        out = []
        if cut:
            out.append(f"{counted(len(cut), 'frame')} {'is a JPEG' if len(cut) == 1 else 'are JPEGs'} cut short (no "
                       f"end-of-image marker: a partial copy or download), first {cut[0].path.name}")
        if bad:
            out.append(f"{counted(len(bad), 'frame')} could not be read or decoded, first {bad[0].path.name} "
                       f"({bad[0].problem})")
        return out

    @property
    def duration_s(self) -> float:
        """Seconds of recording: the frames delivered so far once reading began, else all of them."""
        return (self._done or len(self.files)) / self.fps

    def __iter__(self) -> Iterator[Frame]:
        self._done, self._damaged = 0, []
        size = (self.height, self.width)
        try:
            for i in range(len(self.files)):
                if i == self._start and self._first is not None:  # decoded when opened
                    img, self._first = self._first, None
                else:
                    try:
                        img = self._read(i)
                    except DamagedFrame:
                        continue
                if img.shape[:2] != size:
                    raise InputError(f"{self.files[i]}: a {img.shape[1]}x{img.shape[0]} image among "
                                     f"{self.width}x{self.height} frames (frame {i} in {self.path})")
                self._done = i + 1
                yield Frame(i, i / self.fps, img)
        finally:
            self.warnings = self._notes + [f"{self.path}: {k}; read past, the frames after them were read"
                                            for k in self._kinds()]

    def close(self) -> None:
        self._first = None

    def __enter__(self) -> "FrameFolder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
