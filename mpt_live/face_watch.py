"""Which face detector a run uses, and what the run says about its faces' number and size.

``--detector auto`` (the default) starts with BlazeFace short-range, the cheaper model and the one made for
faces near the camera (webcams, close interview shots). While a frame shows fewer faces than ``--max-faces``
asks for (with 0: on any frame), the full-range model looks at that frame too, on the first such frame and
then at most every :data:`PROBE_EVERY_S` seconds (the whole frame, and its square tiles when the frame is
4:3 or wider, as the tracker searches it: :mod:`mpt_live.tiles`). It also looks at a frame where short-range lost a small
face, one tracked on the frame before whose box is at most :data:`~mpt_live.tracks.SMALL_SHARE` of the square short-range sees it in
(the edge of its range), at most every :data:`LOST_EVERY_S`: short-range keeps losing and re-finding such a face (a
face ~140 px tall in a 1920x1080 frame, scored about 0.5: found in 108 of 240 frames, under 4 IDs; issue 12), where
the first look, at a frame on which short-range still had it, found no face more, and the next came 5 s later. A
close face that leaves costs no such look. When full-range finds more faces than are being
tracked, one of them where no tracked face is, the find must hold on the next :data:`CONFIRM_FRAMES` frames:
full-range finds that face again on each (near where it was, about its size, its score above the detector's
threshold) and short-range still does not track it. Then the run switches to full-range for good: the
tracker's next detections are full-range's, and the faces tracked so far keep their tracks. A find that does
not hold (a patch of texture full-range took for a face in one frame) leaves the run on short-range, whose
keypoints the models are trained on (full-range's are placed differently: every aligned crop would move),
and is counted (``detector_unconfirmed`` in summary.json); a find whose face short-range itself finds again within
those frames (a small face it lost for a frame) is no reason to switch either, is not counted there, and the reason
line says so. A frame with every expected face costs nothing more, so a webcam with one close face runs as before. A tentative face (short-range found it, the tracker has not
confirmed it yet: :mod:`mpt_live.tracks`) counts as found: its confirmation delay is no reason to switch.

Measured on a 1920x1080 room view (``python bench/small_faces.py --spot``, README "Small and distant faces"):
short-range found faces 120 px tall and larger, none of 80 px or less alone; full-range found them down to
40 px. Found is not analysed: below about 100 px full-range's eye keypoints move towards each other (eye
distance over face height 0.38-0.43 from 120 to 400 px, 0.29 at 80 px, 0.18 at 60 px), so the aligned crop
is zoomed in too far, and the movements of a micro-expression (2-3 px on a 180 px face) become a pixel or
less. The session's spotter found 4 of the default input's 4 movements with its face 200 px tall and 1 of 4
at 120, 80, 60 and 40 px. A face whose eyes are less than :data:`MIN_EYE_PX` apart in most of its frames is
named in the run's warnings as too small to analyse.

:class:`FaceWatch` also counts the most faces of one frame: with ``--max-faces N`` given, a run that never
found N faces at once says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .clocktime import clock
from .face import FaceAligner
from .face_types import Detection
from .tiles import around, centred_in, searched_in_tiles
from .tracks import FaceTracker, TrackedFace, small_face

DETECTORS = ("auto", "short", "full")
NAMES = {"short": "short-range", "full": "full-range"}
PROBE_EVERY_S = 5.0  # auto: full-range looks at a frame short of faces at most this often
LOST_EVERY_S = 1.0  # ... and at a frame where short-range lost a small face at most this often
MIN_EYE_PX = 36  # eye distance (frame px) below which a face is too small to analyse (a face ~90 px tall)
MIN_FRAMES = 10  # a face is called too small only when it was tracked this many frames (not a passing false find)
MIN_LIGHT = 15  # mean brightness (0-255) of a face's box below which it is too dark (liveportrait_d6 darkened to 6.6
# gave a motion event the same video at 130 and at 17.7 did not: mpt-live --motion-only, 2026-12-06)
CROWDED_MIN = 3  # more faces than a default --max-faces analyses: warned of when this many detector runs found them
CROWDED_SHARE = 0.1  # ... and this share of its runs (a passing false find says nothing)
CONFIRM_FRAMES = 2  # auto: full-range's find must hold on this many following frames before the run switches
MAX_SHIFT = 0.5  # ... its centre within this share of its size of where it was found on the frame before
MAX_SCALE = 1.5  # ... and its size within this factor of it
VOUCH_SIDE = 3.0  # vouch: full-range looks at a square this many times a faint face's size around it
# ... and must score a face there this high: on the faces short-range found faintly (< 0.75) in bench/small_faces.py's
# rooms (200, 120, 80 px; 32 finds) it scored 0.74-0.97; on the patterns short-range took for faces (a tapestry beside
# mtcnn_ivan's speaker, 30 noisy frames; the cartoon of pyfeat_face_noface; 48 finds) nothing or 0.53-0.58
VOUCH_SCORE = 0.65
# a faint newcomer full-range scores this high on its first sighting is a face at once, not 0.5 s later (the faint
# real faces above: 0.74-0.97, most of them above it; the patterns: at most 0.58)
VOUCH_AT_ONCE = 0.75
# summary.json's (FaceWatch.figures)
DETECTOR_KEYS = ("detector_used", "detector_reason", "detector_unconfirmed", "detector_shown")


@dataclass
class _Find:
    """Full-range's faces that short-range does not track, waiting for the next frames to hold."""

    faces: list[Detection]
    had: int  # faces tracked when it was found
    found: int  # faces full-range found
    lost: bool = False  # looked at because short-range lost a small face (LOST_EVERY_S)
    held: int = 0  # following frames it held on
    refound: bool = False  # short-range found one of its faces again itself on one of them


def check_detector(detector: str) -> str:
    """``detector`` when it is one of :data:`DETECTORS`; ValueError naming it otherwise."""
    if detector not in DETECTORS:
        raise ValueError(f"detector {detector!r}: expected one of {', '.join(DETECTORS)}")
    return detector


class FaceWatch:
    """The run's detector (``aligner``; auto: short-range, then full-range when it finds more faces) and its
    per-face figures. Call :meth:`see` once per frame with the tracker's faces; close it (context manager)."""

    def __init__(self, detector: str, max_faces: int, max_faces_given: bool, image_size: int = 224,
                 align: str = "eyes") -> None:
        self.asked = check_detector(detector)
        self.used = "short" if detector == "auto" else detector
        self.max_faces = int(max_faces)
        self.max_faces_given = bool(max_faces_given)
        self.switched_s: float | None = None
        self._found = (0, 0, False)  # faces tracked and found by full-range when it switched; after a loss
        self.probes = 0
        self.unconfirmed = 0  # auto: full-range finds that did not hold on the next frames (no switch)
        self.refound = 0  # auto: full-range finds whose faces short-range found again itself within those frames
        self._find: _Find | None = None
        self.most = 0  # the most faces tracked in one frame
        self._crowd = (0, 0, 0)  # the tracker's detections that found more faces than max_faces, all, the most found
        self._args = dict(image_size=image_size, motion_crop=True, align=align)
        self.aligner = FaceAligner(model=self.used, **self._args)
        self._full: FaceAligner | None = None
        self._short: FaceAligner | None = self.aligner if self.used == "short" else None
        self._probe_t = self._lost_t = -math.inf
        self._small: set[int] = set()  # IDs of the small faces tracked on the latest frame (tracks.small_face)
        self._eyes: dict[int, list[float]] = {}  # face ID -> [frames, frames below MIN_EYE_PX, sum of eye px]
        self._light: dict[int, list[float]] = {}  # face ID -> [frames, frames below MIN_LIGHT, sum of brightness]

    def see(self, image: np.ndarray, t: float, faces: list[TrackedFace], tracker: FaceTracker) -> None:
        """One frame's tracked faces: their eye distances counted; auto: full-range looks when it is due."""
        self.most = max(self.most, len(faces))
        self._crowd = (tracker.crowded, tracker.detector_runs, tracker.found_most)
        for f in faces:
            kps = f.face.keypoints
            eye = float(np.hypot(*(kps[1] - kps[0])))
            e = self._eyes.setdefault(f.id, [0, 0, 0.0])
            e[0] += 1
            e[1] += eye < MIN_EYE_PX
            e[2] += eye
            x, y, w, h = (int(v) for v in f.face.box)
            patch = image[max(y, 0):max(y + h, 0):4, max(x, 0):max(x + w, 0):4]
            if patch.size:
                light = float(patch.mean())
                b = self._light.setdefault(f.id, [0, 0, 0.0])
                b[0] += 1
                b[1] += light < MIN_LIGHT
                b[2] += light
        if self.asked != "auto" or self.used == "full":
            return
        lost = bool(self._small - {f.id for f in faces})  # a small face of the latest frame is not on this one
        self._small = {f.id for f in faces if small_face(f.face.box, image.shape)}
        # short-range's tentative faces (found, not confirmed yet: mpt_live/tracks.py) count as found here
        boxes = [f.face.box for f in faces] + tracker.pending()
        if self._find is not None:
            self._confirm(self._find, image, t, boxes, tracker)
            return
        if self.max_faces and len(boxes) >= self.max_faces:
            return
        lost = lost and not 0 <= t - self._lost_t < LOST_EVERY_S
        if lost:
            self._lost_t = t  # short-range lost a face at the edge of its range: does full-range still see it?
        elif 0 <= t - self._probe_t < PROBE_EVERY_S:
            return
        else:
            self._probe_t = t
        self.probes += 1
        found = self._look(image, t)
        new = [d for d in found if not _tracked(d, boxes)]
        if new and min(len(found), self.max_faces or len(found)) > len(boxes):
            self._find = _Find(new, len(boxes), len(found), lost)

    def _full_range(self) -> FaceAligner:
        if self._full is None:
            self._full = FaceAligner(model="full", **self._args)
        return self._full

    def _look(self, image: np.ndarray, t: float) -> list[Detection]:
        """Full-range's faces in ``image`` (the whole frame, and its tiles where they show faces larger: 4:3 and
        wider)."""
        found = self._full_range().detect(image, t)
        return self._full.detect_tiles(image, found) if searched_in_tiles(image.shape) else found

    def vouch(self, image: np.ndarray, box: tuple[int, int, int, int], at_once: bool = False,
              confident: bool = False) -> bool:
        """Whether the other BlazeFace model finds a face centred in ``box`` of ``image`` (in a square
        :data:`VOUCH_SIDE` times the box's size around it, scored :data:`VOUCH_SCORE` or more): the tracker's check
        of a faint face the run's detector kept finding before it gets an ID (:mod:`mpt_live.tracks`). On
        short-range, full-range looks; ``at_once``: of a faint face on its first sighting, scored
        :data:`VOUCH_AT_ONCE` or more (then it gets its ID at once). On full-range (switched to, or ``--detector
        full``), short-range looks, never at once: in the square a small or distant face fills a third of
        short-range's input, so its size is no reason to miss it (around full-range's finds of bench/small_faces.py's
        room, one face 40-200 px tall that full-range scores 0.50-0.97: 0.87-0.96, `python bench/detector_scores.py
        --only rooms`, 2026-12-06, EPYC; the faces of the shared and held-out group photos shrunk to a quarter,
        14-31 px: 0.78-0.91, 2026-12-05, no script), while a drawing or lettering full-range took for a face
        persistently is no face to it (a smiley, the cartoon title: 0-0.57; bench/false_faces.py). ``confident``: of
        a newcomer the run's detector scored ``NEW_SCORE`` or more (the tracker gives it its ID at once when this is
        True): on short-range True, on full-range short-range looks as above. Before, a run on full-range confirmed
        its finds by their score or persistence alone (the smiley: full-range 0.77 on one frame)."""
        if self.used == "full" and at_once:
            return False
        if confident and self.used != "full":
            return True
        crop, x0, y0 = around(image, box, VOUCH_SIDE)
        # a square crop is its own one tile: every face the other model finds in it, as a still image
        found = (self._short_range() if self.used == "full" else self._full_range()).detect_tiles(crop, [])
        need = VOUCH_AT_ONCE if at_once else VOUCH_SCORE
        return any(d.score >= need and centred_in(d, x0, y0, box) for d in found)

    def _short_range(self) -> FaceAligner:
        """Short-range, the vouching model of a run on full-range (the run's first detector under auto)."""
        if self._short is None:
            self._short = FaceAligner(model="short", **self._args)
        return self._short

    def _confirm(self, find: _Find, image: np.ndarray, t: float, boxes: list[tuple[int, int, int, int]],
                 tracker: FaceTracker) -> None:
        """A frame after full-range's find: its faces found again where they were and still not tracked stay; none
        left: the find is counted as unconfirmed; held on :data:`CONFIRM_FRAMES` frames: the run switches."""
        found = self._look(image, t)
        full = self._full
        assert full is not None  # made by the look that found them
        found = [d for d in found if d.score >= full.min_confidence]
        free = [d for d in found if not _tracked(d, boxes)]
        again = [(f, _again(f, free)) for f in find.faces]
        # a face full-range sees again only where short-range now tracks it (or holds it tentatively): short-range
        # found it itself, so it is no reason to switch, and no find that did not hold either
        find.refound |= any(m is None and _again(f, found) is not None for f, m in again)
        find.faces = [m for _, m in again if m is not None]
        find.held += 1
        if not find.faces:
            self._find = None
            if find.refound:
                self.refound += 1
            else:
                self.unconfirmed += 1
        elif find.held >= CONFIRM_FRAMES:
            self._find = None
            self.used, self.switched_s = "full", float(t)
            self.aligner, tracker.aligner = full, full
            tracker.search_now()  # the faces full-range found are tracked from the next frame
            self._found = (find.had, find.found, find.lost)

    def reason(self) -> str:
        """One line: which detector ran and why."""
        if self.asked != "auto":
            return f"{NAMES[self.used]} (--detector {self.asked})"
        if self.switched_s is not None:
            had, found, lost = self._found
            if lost:
                return (f"full-range from {clock(self.switched_s)} (auto: short-range lost a small face that "
                        f"full-range found there and on the next {CONFIRM_FRAMES} frames)")
            return (f"full-range from {clock(self.switched_s)} (auto: short-range tracked {had} "
                    f"face{'s' * (had != 1)} where full-range found {found})")
        if not self.probes:
            return "short-range (auto: it found every face --max-faces asks for)"
        checks = f"{self.probes} check{'s' * (self.probes != 1)} of frames short of faces"
        u, r = self.unconfirmed, self.refound
        if not u + r:
            return f"short-range (auto: full-range found no face more in {checks})"
        said = f"short-range (auto: in {checks} full-range found a face more {u + r} time{'s' * (u + r != 1)}"
        gone = f"not again on the next {CONFIRM_FRAMES} frames"
        back = f"short-range found it again itself within the next {CONFIRM_FRAMES} frames"
        if not r:
            return f"{said}, {gone})"
        if not u:
            return f"{said}; {back})"
        return f"{said}: {u} time{'s' * (u != 1)} {gone}, {r} time{'s' * (r != 1)} {back})"

    def shown(self) -> bool:
        """Whether the run prints its :meth:`reason` line after it (summary.json keeps the line either way): where it
        tells the user something, under auto a switch to full-range, or fewer faces than ``--max-faces`` asked for
        (given: a file's default of 2 is no expectation). A one-person file run, checked by full-range for the second
        face that default allows, says nothing of it."""
        return self.asked == "auto" and (self.used != "short" or (self.max_faces_given and self.most < self.max_faces))

    def figures(self) -> dict[str, Any]:
        """summary.json's detector keys: the detector that ran, why, full-range finds that did not hold, and whether
        the run prints the why (:meth:`shown`)."""
        return dict(zip(DETECTOR_KEYS, (self.used, self.reason(), self.unconfirmed, self.shown())))

    def face_figures(self, face_id: int) -> dict[str, Any]:
        """A face's eye distance (mean, frame px) and share of its frames too small to analyse."""
        n, small, total = self._eyes.get(face_id, (0, 0, 0.0))
        return {"eye_distance_px": round(total / n, 1) if n else None,
                "too_small": round(small / n, 3) if n else None}

    def warnings(self, name: str) -> list[str]:
        """Faces too small or too dark to analyse; fewer faces than --max-faces asked for (when it was given); more faces than a
        default --max-faces analyses, found on at least :data:`CROWDED_MIN` and :data:`CROWDED_SHARE` of the detector's
        runs (a face found once, a false find, says nothing)."""
        out = []
        small, apart = _most_frames(self._eyes)
        if small:
            out.append(f"{name}: {small}: too small to analyse (eyes {apart} px apart on average, below {MIN_EYE_PX} "
                       "px in most frames): alignment and movements are unreliable there; a closer or "
                       "higher-resolution recording is needed")
        dark, mean = _most_frames(self._light)
        if dark:
            out.append(f"{name}: {dark}: too dark to analyse (mean brightness {mean} of 255, below {MIN_LIGHT} in "
                       "most frames): noise and compression there can read as movements (events); a brighter "
                       "recording is needed")
        if self.max_faces_given and 0 < self.most < self.max_faces:
            hint = " (a small or distant face: try --detector full)" if self.asked == "short" else ""
            out.append(f"{name}: --max-faces {self.max_faces}: at most {self.most} "
                       f"face{'s' * (self.most != 1)} found in any frame{hint}")
        crowded, runs, found = self._crowd
        if not self.max_faces_given and crowded >= max(CROWDED_MIN, runs * CROWDED_SHARE):
            out.append(f"{name}: up to {found} faces found in a frame, {self.max_faces} analysed (the default "
                       f"--max-faces {self.max_faces}; the others have no rows): --max-faces 0 analyses every face")
        return out

    def close(self) -> None:
        for a in {id(a): a for a in (self.aligner, self._full, self._short) if a is not None}.values():
            a.close()

    def __enter__(self) -> FaceWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _tracked(d: Detection, boxes: list[tuple[int, int, int, int]]) -> bool:
    """Whether the box of a face short-range tracks covers the centre of full-range's detection ``d``."""
    cx, cy = d.box[0] + d.box[2] / 2, d.box[1] + d.box[3] / 2
    return any(x <= cx <= x + w and y <= cy <= y + h for x, y, w, h in boxes)


def _again(face: Detection, found: list[Detection]) -> Detection | None:
    """The detection of ``found`` that is ``face`` again: the nearest whose centre moved less than
    :data:`MAX_SHIFT` of the face's size and whose size changed by less than :data:`MAX_SCALE`; None if none is."""
    size = max(face.box[2], face.box[3], 1)
    cx, cy = face.box[0] + face.box[2] / 2, face.box[1] + face.box[3] / 2
    best, best_d = None, MAX_SHIFT * size
    for d in found:
        dist = math.hypot(d.box[0] + d.box[2] / 2 - cx, d.box[1] + d.box[3] / 2 - cy)
        if dist <= best_d and 1 / MAX_SCALE <= max(d.box[2], d.box[3], 1) / size <= MAX_SCALE:
            best, best_d = d, dist
    return best


def _most_frames(counts: dict) -> tuple[str, str]:
    """('face 1' / 'faces 0, 2', their per-face means as 'a' or 'a-b') of the faces flagged in most of at least
    :data:`MIN_FRAMES` frames (``counts``: face id -> (frames seen, frames flagged, sum of the measure over the frames
    seen)); ('', '') where none is."""
    most = {fid: c for fid, c in sorted(counts.items()) if c[0] >= MIN_FRAMES and c[1] > c[0] / 2}
    if not most:
        return "", ""
    means = sorted(round(total / n) for n, _, total in most.values())
    return (f"face{'s' * (len(most) > 1)} {', '.join(map(str, most))}",
            f"{means[0]}" if means[0] == means[-1] else f"{means[0]}-{means[-1]}")
