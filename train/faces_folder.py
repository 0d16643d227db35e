"""The photos and videos of mpt-synth's ``--faces`` folder: listed with a note for every subfolder that cannot be
read (a walk of the tree skipped those without a word), and read with FFmpeg's and OpenCV's own log lines held
back, so a file that is not a usable photo or video is one note of ours, with the reason."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from mpt_live.photos import UNSUPPORTED as UNDECODABLE_PHOTOS
from mpt_live.quiet import quiet_opencv
from mpt_live.rundir import OUTPUTS as RUN_OUTPUTS, is_run_summary, read_summary
import mpt_live.pyav_capture as pyav
from mpt_live.file_reason import unreadable
from mpt_live.sources import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS


def media_files(faces_dir: Path, notes: list[str]) -> list[Path]:
    """The photos and videos under ``faces_dir``, sorted, with the phone photos that cannot be decoded (HEIC...:
    listed, to be named as skipped); a subfolder that cannot be listed adds a note, and so does one that mpt-synth
    wrote (an --out inside --faces: its thousands of frames are not photos of new people) or mpt-live (a run's
    output folder, its summary.json a run's: review.webm and annotated.mp4 are copies of the recording, no new
    person, and timeline.png no photo; mpt-live's own scan of a folder leaves such folders out too). Where
    ``faces_dir`` itself is a run's folder (a recording with its run's outputs beside it), those outputs alone are
    left out."""

    def skipped(e: OSError) -> None:
        rel = Path(e.filename).relative_to(faces_dir).as_posix() if e.filename else "?"
        notes.append(f"{rel}/: folder not readable ({e.strerror or e})")

    known = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS | UNDECODABLE_PHOTOS.keys()
    found = []
    for top, dirs, files in os.walk(faces_dir, onerror=skipped):
        dirs.sort()  # notes in name order
        if top == str(faces_dir):  # --out the --faces folder itself: its benchmark's frames and videos are not photos
            for sub, marker in (("CASME2_RAW_selected", "synth.json"), ("videos", "long.json")):
                if marker in files and sub in dirs:
                    dirs.remove(sub)
                    notes.append(f"{sub}/: the frames of the mpt-synth output written in this folder ({marker}), "
                                 "not face photos")
        if top != str(faces_dir) and {"synth.json", "long.json"} & set(files):  # a benchmark written in here
            notes.append(f"{Path(top).relative_to(faces_dir).as_posix()}/: an mpt-synth output folder (its frames "
                         "are not face photos)")
            dirs[:] = []
            continue
        if "summary.json" in files and is_run_summary(read_summary(Path(top))):  # an mpt-live run's outputs
            if top != str(faces_dir):
                notes.append(f"{Path(top).relative_to(faces_dir).as_posix()}/: an mpt-live run's output folder "
                             "(summary.json; its videos are copies of the recording, not new people)")
                dirs[:] = []
                continue
            outputs = sorted(f for f in files if f in RUN_OUTPUTS and os.path.splitext(f)[1].lower() in known)
            if outputs:
                notes.append(f"{', '.join(outputs)}: the outputs of the mpt-live run in this folder (summary.json), "
                             "not face photos or videos")
            files = [f for f in files if f not in outputs]
        found += [Path(top) / f for f in files if os.path.splitext(f)[1].lower() in known]
    return sorted(p for p in found if p.is_file())


def open_video(path: Path) -> tuple[cv2.VideoCapture, float]:
    """The capture (FFmpeg's lines about a damaged file held back; PyAV's where OpenCV cannot decode the video:
    AV1) and its frame rate (30 where the file gives none: OpenCV says -1 for a file it cannot open, 0 for a missing
    rate)."""
    with quiet_opencv():
        cap = pyav.open_video(path)
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0) if cap.isOpened() else 0.0
    return cap, fps if fps > 0 and np.isfinite(fps) else 30.0


def video_frames(path: Path, max_s: float = 3.0, step_s: float = 0.25) -> Iterator[tuple[int, np.ndarray]]:
    """Frames at 0, step_s, 2 step_s, ... seconds (the start of a video is usually its stillest part)."""
    cap, fps = open_video(path)
    try:
        step = max(int(round(step_s * fps)), 1)
        i = 0
        while i <= max_s * fps:
            with quiet_opencv():
                ok, frame = cap.read()
            if not ok:
                return
            if i % step == 0:
                yield i, frame
            i += 1
    finally:
        cap.release()


def unreadable_video(path: Path, rel: str) -> str:
    """The note for a video of which no frame could be decoded."""
    return f"{rel}: not a readable video ({unreadable(path)})"


def skip_summary(notes: list[str], lead: str = ": ") -> str:
    """The first three notes and how many more, after ``lead``, for a one-line error ('' without notes)."""
    if not notes:
        return ""
    return lead + "; ".join(notes[:3]) + (f"; {len(notes) - 3} more" if len(notes) > 3 else "")
