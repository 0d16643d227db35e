"""What a run of the session engine is asked to do (:class:`SessionConfig`: mpt-live's options that shape the loop),
and the defaults that depend on the kind of source: :data:`FILE_STRIDE`, :data:`MAX_FACES`. The engine:
:mod:`mpt_live.session`; a run's settings are compared with these by --resume and a batch's rerun."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FILE_STRIDE = 2  # recorded files without --stride: a window every 2 frames, every one classified
MAX_FACES = {"live": 1, "file": 2}  # --max-faces by default: a webcam user; an interview recording


@dataclass
class SessionConfig:
    stride: int | None = None  # None: live -> as often as the model keeps up; files -> FILE_STRIDE
    detector: str = "auto"  # BlazeFace model: auto (short-range, full-range when it finds more faces) | short | full
    spot_threshold: float = 4.0  # spotter evidence (robust z) to open a candidate event
    workers: int | None = None  # model worker threads (None: one per usable core)
    # stop after this long: a recorded file after this many seconds of video from its first frame analysed (the
    # frames' own times: the same rows at any speed), a live source (camera, stream, --realtime) of wall-clock time
    max_seconds: float | None = None
    start_s: float | None = None  # a recorded file: analyse from its first frame at or after this time (s)
    # --resume: a file's frames before ``from_frame`` are passed over as before start_s; those from there up to
    # ``after_frame`` are analysed again (the spotter's statistics and the clips need their history), their windows
    # withheld (written by the run before), and so are the events ``written`` says the run before wrote
    # (:class:`mpt_live.resume.Written`: face by face); new events' IDs start at ``first_event_id``
    from_frame: int | None = None
    after_frame: int | None = None
    written: Any = None
    first_event_id: int = 1
    thumbnails: bool = False  # the worker also makes the overlay's thumbnails
    max_faces: int | None = None  # faces tracked per frame (None: MAX_FACES of the source kind; 0: all)
    batch: int | None = None  # clips per model call at most (None: a frame's faces; files on a GPU join frames, <= 64)
    rotation: str = "auto"  # a video file's rotation tag: auto (checked against its faces), tag, or degrees (upright.py)

    def passed_over(self, t: float, index: int) -> bool:
        """Whether a recorded file's frame (its time ``t``, its ``index``) is decoded and not analysed: before
        ``start_s``, or (--resume) before ``from_frame``."""
        return (self.start_s is not None and t < self.start_s - 1e-6) or (self.from_frame is not None
                                                                          and index < self.from_frame)

    def withheld(self, frame: int) -> bool:
        """--resume: whether what ends at ``frame`` was written by the run before (up to ``after_frame``)."""
        return self.after_frame is not None and frame <= self.after_frame
