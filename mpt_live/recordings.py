"""Recordings on disk: video files and folders of frames (SAMM-LV, CAS(ME)^3), found from ``--video`` and opened.

A *frame folder* is a folder whose files are images: one recording, read by
:class:`mpt_live.framefolder.FrameFolder` (frame ``i``: the i-th image in the order of their names' numbers, at
``i / fps`` s; ``--fps`` is required).

What ``--video DIR`` means (:func:`expand_recordings`):

* images in DIR: DIR is one recording (one image alone, a cover or a thumbnail, is none: refused, naming
  what DIR holds);
* video files in DIR: a batch of those videos, as before;
* neither: a batch of the frame folders below DIR (up to :data:`MAX_DEPTH` levels: ``SAMM_longvideos/006_1``,
  ``part_A/spNO.1/a/color``) and of the videos in its subfolders; where a recording is stored as ``color`` and
  ``depth`` frame folders (CAS(ME)^3's RGB-D layout) only ``color`` is read; a subfolder of one image (a cover
  beside a subject's videos, a thumbnail folder) is no frame folder: its videos run, an image alone is left out
  with a note; nor is a subfolder of videos and images (stills beside an interview): its videos run, its images
  are left out with a note.

A batch writes each frame folder's outputs at the folder's path below the folders' common parent
(``RUN/006_1``, ``RUN/spNO.1/a/color``: :func:`mpt_live.batch.output_dirs`), and the ``video`` column of
events.csv holds the folder's path as given (its own name can be as generic as ``color``); ``mpt-eval
spot`` matches a recording by either.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence


from .errors import InputError, counted
from .framefolder import FPS_HINT, FrameFolder
from .framenames import hidden, images, natural
from .frametimes import valid_fps
from .sources import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, VideoFile, expand_videos, glob_paths

SUMMARY_NAME = "summary.json"  # what marks one of mpt-live's output folders (rundir.SUMMARY)
MAX_DEPTH = 6  # levels below --video DIR searched for frame folders (CAS(ME)^3: data/part_A/spNO.1/a/color)


def is_frame_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder holding image files (a recording stored as frames)."""
    p = Path(path)
    return p.is_dir() and bool(images(p))


@dataclass
class Scan:
    """What :func:`scan_recordings` found below ``root``: the recordings (``folders``: frame folders, ``videos``: video
    files, each in natural order) and what a batch leaves out: ``lone``, the image of each folder holding one image
    and no video; ``mixed``, the folders holding videos and images, each with its images; ``empty``, the folders
    holding nothing."""

    root: Path
    folders: list[Path] = field(default_factory=list)
    videos: list[Path] = field(default_factory=list)
    lone: list[Path] = field(default_factory=list)
    mixed: dict[Path, list[Path]] = field(default_factory=dict)
    empty: list[Path] = field(default_factory=list)

    @property
    def recordings(self) -> list[Path]:
        """The frame folders and video files, in natural order of their paths below ``root``."""
        return sorted(self.folders + self.videos, key=lambda r: natural(r.relative_to(self.root).as_posix()))


def scan_recordings(root: Path, max_depth: int = MAX_DEPTH) -> Scan:
    """Frame folders and video files below ``root``, up to ``max_depth`` levels down, in one walk (breadth
    first; hidden folders skipped; nothing searched inside a frame folder; mpt-live's own output folders,
    a ``summary.json`` beside their timeline.png and annotated.mp4, are not recordings). Frame folders (two
    images or more) in natural order, a ``depth`` folder beside a ``color`` one left out (CAS(ME)^3); video
    files below ``root`` (not in it) in natural order: a dataset kept as one folder per subject. A folder of
    one image (a cover beside a subject's videos, a thumbnail folder) is no frame folder: its videos and
    subfolders are searched as any folder's, and its image, where no video is beside it, is ``lone``. A
    subfolder of videos and images (one or more) is no frame folder either (a folder of frames holds its frames
    alone): its videos run, and its images are ``mixed``. A folder below ``root`` holding nothing (hidden files
    aside: a recording whose frames were never extracted, or not copied) is ``empty``."""
    scan, level = Scan(root), [root]
    for depth in range(max_depth + 1):
        nxt = []
        for d in level:
            try:
                with os.scandir(d) as it:
                    entries = [e for e in it if not hidden(e.name)]
            except OSError as e:
                if d == root:
                    continue
                raise InputError(f"{d}: cannot list the folder ({e.strerror})") from None
            if d != root and any(e.name == SUMMARY_NAME for e in entries):
                continue
            if depth and not entries:
                scan.empty.append(d)
            files = [e for e in entries if e.is_file()]
            pictures = [Path(e.path) for e in files if os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS]
            clips = [Path(e.path) for e in files if os.path.splitext(e.name)[1].lower() in VIDEO_EXTENSIONS]
            if depth and len(pictures) > 1 and not clips:
                scan.folders.append(d)
                continue
            if pictures and clips:  # its videos run; its images are no recording
                scan.mixed[d] = pictures
            if depth:
                scan.videos += clips
                if pictures and not clips:
                    scan.lone += pictures
            nxt += sorted(Path(e.path) for e in entries if e.is_dir())
        level = nxt
    folders = [d for d in scan.folders if not (d.name.lower() == "depth" and (d.parent / "color") in scan.folders)]
    order = lambda r: natural(r.relative_to(root).as_posix())  # noqa: E731
    scan.folders, scan.videos = sorted(folders, key=order), sorted(scan.videos, key=order)
    return scan


def no_extension(folder: Path) -> list[Path]:
    """The files at the top of ``folder`` whose names have no extension (hidden ones aside), sorted naturally."""
    with os.scandir(folder) as it:
        return sorted((Path(e.path) for e in it if e.is_file() and not hidden(e.name) and not Path(e.name).suffix),
                      key=lambda q: natural(q.name))


def expand_recordings(spec: str, notes: list[str] | None = None) -> list[Path]:
    """``--video``: a video file, a frame folder, a folder of videos (those at its top level), a folder of
    frame folders and/or of folders of videos (a subject per folder: every one found up to ``MAX_DEPTH``
    levels down), or a glob of either -> the recordings (video files and frame folders). Errors name the
    input. ``notes`` gets a line when a folder of videos also has recordings in subfolders (left out)."""
    p = Path(spec)
    if p.is_dir():
        frames = images(p)
        videos = images(p, VIDEO_EXTENSIONS)
        if frames and videos:
            exts = sorted({v.suffix for v in videos})
            only = f"--video '{p / ('*' + exts[0])}'" if len(exts) == 1 else "a glob of them"
            raise InputError(f"{spec}: holds both video files and images: give a folder of videos or a folder "
                             f"of one recording's frames (its videos alone: {only})")
        if frames:
            _check_frames(p, spec, frames)
            return [p]
        if videos:
            if notes is not None and (bare := no_extension(p)):  # a video saved without its extension is one too
                shown = ", ".join(q.name for q in bare[:3]) + (", ..." if len(bare) > 3 else "")
                notes.append(f"{spec}: {len(bare)} file{'s' if len(bare) > 1 else ''} without an extension left out "
                             f"({shown}): a folder runs the files named as videos; a video among them runs as "
                             "--video FILE, or renamed to its kind (.mp4)")
            if notes is not None:
                below = len(scan_recordings(p).recordings)
                if below:
                    notes.append(f"{spec}: {below} more recording{'s' if below > 1 else ''} in its subfolders "
                                 "left out (a folder with videos at its top runs those; give a subfolder or a "
                                 "glob for the others)")
            return expand_videos(spec)
        scan = scan_recordings(p)
        found, lone, empty = scan.recordings, scan.lone, scan.empty
        if not found:
            raise InputError(f"{spec}: folder contains no video files ({', '.join(sorted(VIDEO_EXTENSIONS))}) "
                             f"and no folders of frames (up to {MAX_DEPTH} levels down)"
                             + (f"; {_lone_images(p, lone)}" if lone else "") + (  # a video saved without extension
                                 f"; {len(b)} file{'s' if len(b) > 1 else ''} without an extension ({b[0].name}"
                                 f"{', ...' if len(b) > 1 else ''}): a video runs as --video FILE or renamed (.mp4)"
                                 if (b := no_extension(p)) else ""))
        if lone and notes is not None:
            notes.append(f"{spec}: {_lone_images(p, lone)}")
        if empty and notes is not None and scan.folders:  # beside frame folders: a recording with no frames, not run
            shown = ", ".join(d.relative_to(p).as_posix() for d in empty[:3])
            notes.append(f"{spec}: {len(empty)} empty folder{'s' if len(empty) > 1 else ''} beside the frame folders, "
                         f"nothing to run ({shown}{', ...' if len(empty) > 3 else ''}): frames not extracted, or not "
                         "copied?")
        if scan.mixed and notes is not None:
            notes.append(f"{spec}: {_mixed_images(p, scan.mixed)}")
        return found
    if any(c in spec for c in "*?[") and not p.exists():  # a file named 'take[2].mp4' is that file
        hits = sorted((Path(q) for q in glob_paths(spec)), key=lambda q: natural(str(q)))
        found = [q for q in hits if q.is_file() or is_frame_folder(q)]
        if not found:
            raise InputError(f"{spec}: pattern matches no files or folders of frames")
        return found
    return expand_videos(spec)


def _lone_images(root: Path, lone: list[Path]) -> str:
    """What a batch left out: the subfolders of ``root`` holding one image and no video (the first three named)."""
    lone = sorted(lone, key=lambda q: natural(q.relative_to(root).as_posix()))
    shown = ", ".join(f"{q.parent.relative_to(root).as_posix()}: {q.name}" for q in lone[:3])
    return (f"{len(lone)} subfolder{'s' if len(lone) > 1 else ''} holding one image and no video left out, not a "
            f"recording ({shown}{', ...' if len(lone) > 3 else ''})")


def _mixed_images(root: Path, mixed: dict[Path, list[Path]]) -> str:
    """What a batch left out of the subfolders of ``root`` holding videos and images (``mixed``: each with its images):
    the images, counted, and the first three subfolders with their images' count and first names."""
    held = [(d, sorted((q.name for q in found), key=natural)) for d, found in mixed.items()]
    shown = "; ".join(f"{d.relative_to(root).as_posix()}: " + (names[0] if len(names) == 1 else
                      f"{len(names)} images, {', '.join(names[:2])}{', ...' if len(names) > 2 else ''}")
                      for d, names in held[:3])
    total = sum(len(names) for _, names in held)
    return (f"{counted(total, 'image')} of {counted(len(mixed), 'subfolder')} holding videos too left out, their "
            f"videos run ({shown}{'; ...' if len(mixed) > 3 else ''}); a folder of frames holds its frames alone: "
            "give such frames a folder of their own to run them")


def _check_frames(folder: Path, spec: str, found: list[Path]) -> None:
    """InputError where ``folder``'s images (``found``) are one photo (a cover, a thumbnail, beside audio or documents):
    a folder of frames holds a recording, frame by frame; what the folder holds is named."""
    if len(found) > 1:
        return
    others = sorted((e.name for e in os.scandir(folder) if e.is_file() and not hidden(e.name)
                     and Path(e.name).suffix.lower() not in IMAGE_EXTENSIONS), key=natural)
    shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
    rest = f"{len(others)} other file{'s' if len(others) > 1 else ''} ({shown})" if others else "nothing else"
    raise InputError(f"{spec}: holds one image ({found[0].name}) and {rest}, no video file: not a recording (a folder "
                     "of frames holds a recording's frames, one image each; a photo's demo clip: --demo --demo-face PHOTO)")


def check_fps(recordings: Sequence[Path], fps: float | None, rotation: str = "auto") -> None:
    """``--fps`` is required where a recording is a frame folder and means nothing otherwise, and a ``--rotation``
    other than auto (a video file's rotation tag) needs a video file among them (one-line errors)."""
    folders = [r for r in recordings if Path(r).is_dir()]
    if rotation != "auto" and recordings and len(folders) == len(recordings):
        which = "a folder of frames" if len(folders) == 1 else "folders of frames"
        raise InputError(f"--rotation: for a recorded video file (its rotation tag), not {which}")
    if fps is None and folders:
        raise InputError(f"{folders[0]}: a folder of frames needs --fps (images carry no frame rate; {FPS_HINT})")
    if fps is not None and not folders:
        raise InputError(f"--fps {fps:g}: only for folders of frames (a video file's frame rate comes from "
                         "its container)")
    if fps is not None and not valid_fps(fps):
        raise InputError(f"--fps {fps:g}: not a frame rate (0 < fps <= 1000)")


def open_recording(path: str | os.PathLike, fps: float | None = None, rotation: str = "auto") -> VideoFile | FrameFolder:
    """A source for one recording: a :class:`FrameFolder` for a folder, else a :class:`VideoFile` (``rotation``:
    ``--rotation``, :mod:`mpt_live.upright`)."""
    return FrameFolder(path, fps) if Path(path).is_dir() else VideoFile(path, rotation=rotation)


def stamp(path: str | os.PathLike | None) -> list[int] | None:
    """What changes when a recording (or a model file) is replaced: a file's size and modification time
    (ns); a folder's number of files, their total size and the newest time. None for what is not a local
    file or folder (a stream, a camera). A rerun of a batch redoes a video whose stamp differs."""
    if path is None:
        return None
    p = Path(path)
    try:
        if p.is_file():
            st = p.stat()
            return [st.st_size, st.st_mtime_ns]
        if p.is_dir():
            sts = [e.stat() for e in os.scandir(p) if e.is_file()]
            return [len(sts), sum(s.st_size for s in sts), max((s.st_mtime_ns for s in sts), default=0)]
    except OSError:
        return None
    return None
