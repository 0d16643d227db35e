"""Which way up a recorded video is read: its display-rotation tag, checked against the faces in it.

A phone stores its sensor's frames turned and tags the file with how to turn them back (a display matrix), which
OpenCV and :class:`~mpt_live.pyav_capture.PyAVCapture` apply as they read (``CAP_PROP_ORIENTATION_META``: degrees
clockwise). Phones and editors sometimes write a wrong tag (a recording upright as stored, tagged 180 or 90): read
as tagged, the face detector gets upside-down or sideways frames and finds few faces or none. Where a file carries
a tag, :func:`choose` looks at :data:`CHECKED` early frames (the first :data:`SPAN_S` seconds; a detector call or
two each, no crop search; a face counted where it is found confidently, :data:`CONFIDENT`) as tagged, as stored and, for a 90 or 270 tag, turned the other way, and
reads another orientation than the tag's where faces are found there clearly more often (:func:`clearly_more`) or
scored clearly higher (:func:`clearly_better`: BlazeFace finds a sideways face confidently too, only less sure of it);
an override is said in one line with the ffmpeg command that resets the file's tag. ``--rotation`` forces one (``tag``: as tagged; ``0``, ``90``,
``180``, ``270``: degrees clockwise from the frames as stored). An untagged file is not checked: no extra work.

The frames are turned after the capture's own turn (:func:`turned`), so both capture paths read alike, and a
file's choice is kept for this process (:func:`extra_turn`, :func:`chosen`: the apex pictures and the review copy
read the same orientation as the run). The frames checked are the file's first ones whatever ``--start`` says, so a
``--resume`` of a run chooses as the run did.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from .pyav_capture import TURN, open_video  # TURN: OpenCV's turns, as the captures turn a tagged file's frames

ROTATIONS = ("auto", "tag", "0", "90", "180", "270")
CHECKED = 8  # early frames looked at for faces
SPAN_S = 4.0  # ... spread over the first seconds of the video
# a face found confidently: BlazeFace finds upside-down faces too, less sure of them (five of the shared videos turned
# 180 degrees, their first 4 frames: 0.51-0.75 short or full range, 0.84-0.95 upright at the better range)
CONFIDENT = 0.8
# ... and a sideways one often confidently too: an orientation beats the tag's where it scores higher in every frame
# looked at with a face, by this much on average (25 upright views, 8 shared videos and recordings of 3 people not in
# ../shared, as they are and padded to 9:16: sideways up to 0.93, upright 0.82-0.98; upright scored higher in every
# frame than each other orientation in 74 of 75 cases, by 0.04-0.91 on average; the one left, a face padded to 9:16
# scoring 0.82 upside down, by 0.006. A face's score is also taken in a square around it, the higher kept
# (blazeface_score): that face 0.95 upright, 0.41 upside down; of the 31 views, 28 now have a face found confidently
# (25 before), and in all 28 every wrong tag (84) is overridden and every right one (84) kept, a scratch survey,
# 2026-12-08, EPYC; the README's figures are bench/rotation_tags.py's: two sideways tags it still keeps)
MARGIN = 0.03
_CHOSEN: dict[tuple[str, int, int], tuple[int, int]] = {}  # a file (path, size, mtime) -> (its tag, orientation read)


def check_rotation(value: str) -> str:
    """``--rotation``'s value, checked: ValueError in one line for anything else."""
    if str(value) not in ROTATIONS:
        raise ValueError(f"--rotation {value!r}: expected auto, tag, 0, 90, 180 or 270")
    return str(value)


def turned(img: np.ndarray, degrees: int) -> np.ndarray:
    """``img`` turned ``degrees`` (0, 90, 180, 270) clockwise."""
    return cv2.rotate(img, TURN[degrees]) if degrees % 360 else img


def _stamp(path: str | os.PathLike) -> tuple[str, int, int]:
    st = os.stat(path)
    return os.path.abspath(path), st.st_size, st.st_mtime_ns


def extra_turn(path: str | os.PathLike) -> int:
    """Degrees (clockwise) the frames of the local file ``path`` are turned after the capture's own turn, as a run in
    this process chose (:func:`choose`); 0 for a file none chose to turn."""
    try:
        tag, want = _CHOSEN.get(_stamp(path), (0, 0))
    except OSError:
        return 0
    return (want - tag) % 360


def chosen(path: str | os.PathLike) -> str:
    """The ``--rotation`` that reads the local file ``path`` as a run in this process read it (the degrees it chose),
    ``auto`` where none read it."""
    try:
        got = _CHOSEN.get(_stamp(path))
    except OSError:
        return "auto"
    return "auto" if got is None else str(got[1])


def read_as(path: str | os.PathLike, orientation: Any) -> None:
    """Keep for :func:`extra_turn` and :func:`chosen` that the local file ``path`` was read ``orientation`` degrees
    clockwise from as stored (a run's summary.json ``rotation``: ``--finish`` makes the apex pictures and the review
    copy of a killed run in another process; ``tag``: as tagged, as a run of a version before the tag was checked
    read it); nothing for None (an untagged file read as stored) or a file gone."""
    if orientation not in (0, 90, 180, 270, "tag") or not Path(path).is_file():
        return
    tag = file_tag(path)
    choose(path, tag, str(tag if orientation == "tag" else orientation), lambda: open_video(path), 0.0)


def file_tag(path: str | os.PathLike) -> int:
    """The local video file ``path``'s rotation tag, degrees clockwise (0: none), read from its header."""
    cap = open_video(path)
    try:
        return int(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0) % 360
    finally:
        cap.release()


def read_otherwise(summary: dict[str, Any], path: str | os.PathLike, rotation: str) -> bool:
    """Whether the run whose ``summary`` (a finished video's summary.json) read the local video file ``path``
    another way up than ``rotation`` (``--rotation`` given: ``tag`` or degrees; ``auto``: never) reads it. A summary
    without ``rotation`` (written before tags were checked) read the file as tagged; none and 0 are as stored."""
    if rotation == "auto" or Path(path).is_dir():
        return False
    tag = file_tag(path)
    was = summary["rotation"] if "rotation" in summary else tag
    return (was or 0) != (tag if rotation == "tag" else int(rotation))


def candidates(tag: int) -> list[int]:
    """The orientations (degrees clockwise from the frames as stored) worth checking for a file tagged ``tag``:
    the tag first, then the frames as stored, then (a 90 or 270 tag) turned the other way."""
    return [tag, 0] + ([(tag + 180) % 360] if tag % 180 else [])


def clearly_more(found: int, tagged: int, checked: int) -> bool:
    """Whether faces found in ``found`` of ``checked`` frames beat the ``tagged`` orientation's clearly: in at least
    half the frames, at least 3 more, and over twice as many."""
    return 2 * found >= checked and found >= tagged + 3 and found > 2 * tagged


def clearly_better(found: list[float], tagged: list[float]) -> bool:
    """Whether the best face scores ``found`` (one per early frame, in another orientation) beat the ``tagged``
    orientation's clearly: a face found confidently in at least half the frames, a higher score in every frame where
    either finds a face, and by at least :data:`MARGIN` on average."""
    pairs = [(f, t) for f, t in zip(found, tagged) if f > 0 or t > 0]
    return (2 * sum(f >= CONFIDENT for f in found) >= len(found) > 0 and all(f > t for f, t in pairs)
            and sum(f - t for f, t in pairs) >= MARGIN * len(found))


def early_frames(cap: Any, fps: float) -> list[np.ndarray]:
    """Up to :data:`CHECKED` frames of the capture ``cap`` (from its start, as tagged), spread over :data:`SPAN_S`."""
    step = max(1, round(SPAN_S * (fps if fps > 0 else 25.0) / CHECKED))
    got: list[np.ndarray] = []
    for i in range(step * CHECKED):
        if not cap.grab():
            break
        if i % step == 0:
            ok, img = cap.retrieve()
            if ok and img is not None:
                got.append(img)
    return got


def spread_frames(path: str | os.PathLike, tag: int) -> list[np.ndarray]:
    """Up to :data:`CHECKED` frames of the local file ``path`` (PyAV), turned ``tag`` degrees (as tagged): the first
    at or after each of 0, :data:`SPAN_S` / :data:`CHECKED`, ... seconds from its first frame. Each is decoded from
    the keyframe before it where that keyframe lies past the frames decoded so far (a seek there), else on from
    them: no more frames decoded than reading all in order (:func:`early_frames`), and a file with a keyframe every
    second or so (a phone's) decodes about half of them, not every frame of the span whatever its frame rate."""
    import av

    eps = 1e-6
    with av.open(os.fspath(path), metadata_errors="replace") as c:
        s = c.streams.video[0]
        tb = float(s.time_base)
        keys, first = [], None
        for pkt in c.demux(s):  # the keyframes of the span: packets only, nothing decoded
            if pkt.pts is None:
                continue
            first = pkt.pts * tb if first is None else min(first, pkt.pts * tb)
            if pkt.pts * tb > first + SPAN_S + 1.0:
                break
            if pkt.is_keyframe:
                keys.append(pkt.pts * tb)
        if first is None:
            return []
        c.seek(int(round(first / tb)), stream=s, backward=True)
        frames, at, got = c.decode(s), None, []
        for k in range(CHECKED):
            t = first + k * SPAN_S / CHECKED
            key = max((x for x in keys if x <= t + eps), default=None)
            if at is not None and key is not None and key > at + eps:
                c.seek(int(round(key / tb)), stream=s, backward=True)
                frames = c.decode(s)
            for fr in frames:
                if fr.time is None:
                    continue
                at = fr.time
                if fr.time >= t - eps:
                    got.append(turned(fr.to_ndarray(format="bgr24"), tag))
                    break
            else:
                break  # the file ends before this time
    return got


def face_scores(frames: list[np.ndarray], degrees: int, detect: Callable[[np.ndarray], float]) -> list[float]:
    """The detector's best face score in each of ``frames`` (as tagged) turned ``degrees`` more (0: none found)."""
    return [detect(turned(img, degrees)) for img in frames]


def square_inside(img: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The square :data:`~mpt_live.tiles.CLOSER_SIDE` times the face ``box``'s size centred on it, moved inside
    ``img`` (at most its short side)."""
    from .tiles import CLOSER_SIDE

    x, y, w, h = box
    H, W = img.shape[:2]
    side = min(int(CLOSER_SIDE * max(w, h)), H, W)
    x0, y0 = int(min(max(0, x + w / 2 - side / 2), W - side)), int(min(max(0, y + h / 2 - side / 2), H - side))
    return img[y0:y0 + side, x0:x0 + side]


def blazeface_score() -> tuple[Callable[[np.ndarray], float], Callable[[], None]]:
    """The best face score in one image (BlazeFace short range, then full range where short finds no confident
    face; 0 for none), or where higher that face's in a square around it (:func:`square_inside`: BlazeFace sees the
    whole picture squeezed to its square input, a tall or wide one's face squeezed too and small), and its close."""
    from .face import FaceAligner

    near, far = FaceAligner(model="short"), FaceAligner(model="full")

    def best(img: np.ndarray) -> Any:
        d = max(near.detect_image(img), key=lambda d: d.score, default=None)
        if d is None or d.score < CONFIDENT:
            f = max(far.detect_image(img), key=lambda d: d.score, default=None)
            d = f if f is not None and (d is None or f.score > d.score) else d
        return d

    def count(img: np.ndarray) -> float:
        d = best(img)
        closer = best(square_inside(img, d.box)) if d is not None else None
        return max(float(d.score) if d is not None else 0.0, float(closer.score) if closer is not None else 0.0)

    def close() -> None:
        near.close()
        far.close()

    return count, close


def choose(path: str | os.PathLike, tag: int, rotation: str, open_capture: Callable[[], Any], fps: float,
           detect: Callable[[np.ndarray], float] | None = None) -> tuple[int, str | None]:
    """Degrees (clockwise) to turn the frames of ``path`` after the capture's turn ``tag`` (its tag, OpenCV's
    ``CAP_PROP_ORIENTATION_META``), and the line that says why where it overrides the tag, or that the tag could not be
    checked (no face in the frames looked at; None otherwise).
    ``rotation``: ``--rotation``; ``open_capture``: a fresh capture of the file from its start (``auto`` and a
    tagged file that PyAV cannot read only: its frames are otherwise :func:`spread_frames`). The choice is kept for
    :func:`extra_turn` and :func:`chosen` (a run's review copy and apex pictures read as the run did, whatever it was
    given)."""
    want = tag
    note = None
    try:
        stamp: tuple[str, int, int] | None = _stamp(path)
    except OSError:
        stamp = None
    if rotation == "auto" and tag in TURN:
        import av

        try:
            frames = spread_frames(path, tag)
        except (av.FFmpegError, OSError):  # PyAV cannot read it (OpenCV can): every frame of the span read in order
            cap = open_capture()
            try:
                frames = early_frames(cap, fps)
            finally:
                cap.release()
        close = None
        if detect is None:
            detect, close = blazeface_score()
        try:
            scores = {c: face_scores(frames, (c - tag) % 360, detect) for c in candidates(tag)}
        finally:
            if close is not None:
                close()
        counts = {c: sum(x >= CONFIDENT for x in s) for c, s in scores.items()}
        mean = {c: sum(s) / max(len(s), 1) for c, s in scores.items()}
        # the other orientations, the best scored first: the first that beats the tag's clearly is read
        best = next((c for c in sorted(scores, key=lambda c: -mean[c]) if c != tag and (
            clearly_more(counts[c], counts[tag], len(frames)) or clearly_better(scores[c], scores[tag]))), tag)
        if not any(counts.values()):  # nothing to judge the tag by: kept, and said so (it may be wrong)
            # a faint face (a blurred or low-resolution one) is found, only not confidently: not 'no face'
            faint = max((x for s in scores.values() for x in s), default=0.0)
            none = (f"no face found confidently (score {CONFIDENT:g} or more; the best {faint:.2f})" if faint > 0
                    else "no face found")
            note = (f"{path}: its rotation tag (turn it {tag} degrees) could not be checked: {none} in its "
                    f"first {SPAN_S:g} s ({len(frames)} frames looked at), read as tagged; if its faces are sideways "
                    "or upside down, --rotation 0 reads it as stored (90, 180, 270: turned so many degrees clockwise)")
        elif best != tag:
            want = best
            used = f"turned {best} degrees clockwise from" if best else "as"
            note = (f"{path}: its rotation tag says to turn it {tag} degrees, but a face was found in {counts[tag]} "
                    f"of {len(frames)} early frames so (mean score {mean[tag]:.2f}) and in {counts[best]} {used} "
                    f"stored ({mean[best]:.2f}): read {used} stored "
                    f"(--rotation tag keeps the tag); to set the file's tag right: ffmpeg -display_rotation "
                    f"{(-best) % 360} -i {Path(path).name} -c copy OUT{Path(path).suffix}")
    elif rotation not in ("auto", "tag"):
        want = int(rotation)
    extra = (want - tag) % 360
    if stamp is not None:
        _CHOSEN[stamp] = (tag, want)
    return extra, note
