"""Several faces with stable identities: detections -> face tracks whose IDs last a whole video.

:class:`FaceTracker` runs once per frame on every face the detector finds (:meth:`mpt_live.face.FaceAligner.detect`) and
gives each one an ID:

1. **Position.** Tracks seen in the last ``keep_s`` seconds are matched to the detections by box overlap (IoU >= 0.3),
   one to one (Hungarian assignment), so a face keeps its ID frame to frame and through short losses (a turned head, a
   hand in front of the face).
2. **Appearance.** Detections left over are compared with every track not matched yet, present or lost long ago, by
   their SFace embeddings (:mod:`mpt_live.identity`; the best of a small gallery per track): a match above ``reid``
   gives the old ID back, so IDs come back after camera cuts and long absences. A new ID is made only when no track is
   close enough. A small face (at most :data:`SMALL_SHARE` of the square short-range sees it in) is embedded with the
   keypoints the run's detector finds in a square :data:`CLOSER_SIDE` times its size around it: at the edge of the
   detector's range the frame's keypoints are loose, and SFace's likeness of one person's views fell below ``switch``
   and ``reid`` (one face, several IDs).
3. **Checks** (:mod:`mpt_live.cuts`). A camera cut (the frame's thumbnail changes abruptly, and no present face's region
   stayed as it was) skips step 1, so a face that takes another's place across a cut is re-identified, not continued
   (and every face starts a new appearance: the session ends its signals and clip buffer at the cut). The same test on
   the region of each present face, or one lost within ``keep_s`` (``face_cut``), catches a cut that changes only some
   faces (two speakers framed alike before one backdrop, people swapping places, a video call's layout changing around
   a face that stays, another person where a face the detector missed a frame before was): that face is
   re-identified, not continued, and its signals end there; a face whose region stayed keeps its track and buffer.
   Every ``refresh_s`` each present face is embedded again; a face that no longer looks like its track's gallery (below
   ``switch``) is treated as a new detection (step 2) instead of keeping the ID. Once a track holds ``STEADY_AFTER``
   embeddings (its first views, what re-identification compares with), a *steady* face, one followed or found in place
   on every frame since its last embedding (no loss, cut or failed registration), is embedded again only every
   ``STEADY_REFRESH`` x ``refresh_s``: an SFace embedding costs about as much as a face's tracking on 30-60 frames, and
   a face that never left its track has less to check.

**New faces.** A detection left over after steps 1 and 2 starts a face at once only when its score is at least
``NEW_SCORE`` (on a run on full-range, where short-range finds a face there too: ``vouch``), or ``vouch`` (below) scores
a face there highly on its first sighting; a fainter one starts a *tentative* track, which has no ID and reaches no
output. It is matched by position on the detector's next runs, on its usual cadence (below; in a 4:3 or wider frame
missed by the whole-frame pass, searched in its tiles for a bounded time: :mod:`mpt_live.square_looks`): so a pattern
that never confirms costs what a tracked face costs, not a detection on every frame for as long as it is in view. It is
confirmed once a detection of it reaches ``NEW_SCORE`` or it has been found for ``CONFIRM_S``, on
``CONFIRM_RUNS`` detector runs at least and on at least half of the runs since it was first found (faint faces flicker),
and ``vouch`` (when given: :meth:`mpt_live.face_watch.FaceWatch.vouch`, the other BlazeFace model) finds a face there
too: a pattern in a tapestry or a print that short-range keeps finding, faintly, in the same place is persistent as
well. Confirmed, it is compared with the confirmed faces not on the frame as step 2 does (its embedding taken then):
one at ``reid`` or more gives its ID back (a face found faintly under an occluder, its embedding too unlike its own
then, came back with the next ID when the occluder left); else it gets the next ID. One found where a confirmed face
was lost (its last box, within ``HOLD_S``, no camera cut or layout change since: :func:`.track_record.lost_here`) waits
longer: it gets the next ID only once a detection of it is confident or ``HOLD_S`` after that loss (a face under a
skin-coloured sheet, found faintly, was confirmed and shown under a second ID until the sheet left). Not found for
``keep_s``, cut off or not vouched for, it is dropped (counted in ``tentative_dropped``; found again, it starts over).
A face already tracked continues on any score.

One ID is never given to two faces of a frame (every step is a one-to-one assignment). At most ``max_faces`` faces are
tracked per frame (0: all); faces already tracked come first, then the largest. Each track has its own
:class:`~mpt_live.track_align.TrackAligner` (smoothing, stabilisation), reset when the face comes back. Without an
embedder only position is used.

Detection is not run on every frame (:mod:`mpt_live.tracker`): while every present face is followed by its track's
registration, a frame needs no detector, and one runs every ``DETECT_EVERY`` frames, on a camera cut, while no face is
present, and on a frame where any face could not be followed. The faces followed on such a frame keep their result
(their detections are theirs); the detections left go through the steps above, so a newcomer gets an ID within
``DETECT_EVERY`` frames.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from .cuts import CutCheck
from .entries import EntryWatch, new_face
from .face import Detection, FaceAligner, FaceResult
from .face_confirm import CONFIRM_RUNS, CONFIRM_S, NEW_SCORE, confirmed  # noqa: F401  (the rule, named here too)
from .identity import FaceEmbedder
from .square_looks import SquareLooks, looking, lost_look
from .track_record import GALLERY, HOLD_S, STEADY_AFTER, STEADY_REFRESH, Track, box_iou, lost_here  # noqa: F401
from .tiles import (CLOSER_SIDE, SMALL_SHARE, closer, is_wide, search_every, searched_in_tiles,  # noqa: F401
                    small_face)  # CLOSER_SIDE, SMALL_SHARE, small_face: named here too


@dataclass
class TrackedFace:
    """One face of a frame: its track ID and its aligned face."""

    id: int
    face: FaceResult


class FaceTracker:
    """``update(frame, t) -> (faces of this frame by ID, IDs lost in this frame)``."""

    def __init__(self, aligner: FaceAligner, max_faces: int = 1, embedder: FaceEmbedder | None = None,
                 keep_s: float = 1.0, refresh_s: float = 2.0, reid: float = 0.40, switch: float = 0.20,
                 cut: float = 28.0, face_cut: float = 16.0,
                 vouch: Callable[..., bool] | None = None, naming: Callable[..., int] | None = None) -> None:
        if max_faces < 0:
            raise ValueError(f"max_faces must be >= 0 (0: all), got {max_faces}")
        self.aligner = aligner
        self.max_faces = max_faces
        self.embedder = embedder
        # (frame, box[, at_once]) -> whether a second detector finds a face there (a faint newcomer: at_once, on
        # its first sighting, a high score gives it its ID at once; else once it persisted, a lower one)
        self.vouch, self.naming = vouch, naming  # naming: (box, IDs given) -> a newcomer's ID (--resume); None: next
        self.keep_s, self.refresh_s, self.reid, self.switch = keep_s, refresh_s, reid, switch
        self._cuts = CutCheck(cut, face_cut)  # the frame's and each face's abrupt changes (mpt_live/cuts.py)
        self.cut_ids: set[int] = set()  # IDs of present faces whose region changed abruptly on the latest frame
        self.changes = self._cuts.changes  # every present face's region change on the latest frame (occlusion.py)
        self.tracks: list[Track] = []
        self.reidentified = 0  # faces given an old ID back by appearance
        self.tentative_dropped = self.tentative_made = 0  # tentative newcomers lost unconfirmed (never output); made
        self.frames = self.detector_runs = self.tile_searches = 0  # frames updated; those the detector ran on; tiles
        self.closer_looks = 0  # small faces embedded with keypoints found again in a square around them (once a look)
        self.found_most, self.crowded = 0, 0  # most faces one detection found; detections finding over max_faces
        self.cut = False  # the latest frame was a camera cut (its faces start new appearances)
        self._shot_t = -float("inf")  # the latest camera cut or layout change (s): a face lost before it holds none
        self.faceless: np.ndarray | None = None  # the latest frame the detector found no confident face on
        self._tiled_t, self._looks = -float("inf"), SquareLooks()  # the last tile search (s); tentative faces' looks
        self.entries = EntryWatch()  # someone may have entered: every square searched before the cadence's time
        self._search = False  # the next frame is detected and searched in tiles whatever the schedule (search_now)

    def search_now(self) -> None:
        """The next frame runs the detector, and in a 4:3 or wider frame its tiles, whatever the schedule (the run has
        switched to another detector: :mod:`mpt_live.face_watch`)."""
        self._search = True

    def reset(self) -> None:
        """A new segment of the source (a reconnected stream): the next frame is treated as a cut."""
        self._cuts.force()

    def _is_cut(self, frame: np.ndarray, t: float) -> bool:
        """Whether ``frame`` is a camera cut (every track cut off); else ``cut_ids``: the faces whose region changed
        abruptly (:mod:`mpt_live.cuts`), cut off alone: the present ones, and those lost within ``keep_s`` that step 1
        could continue by position (a face the detector missed on the frame before another person took its place
        was continued by that person, checked by appearance only at its next refresh)."""
        cut, self.cut_ids = self._cuts.check(frame, {tr.id: tr.box for tr in self.tracks if tr.present or (
            tr.confirmed and not tr.cut_off and t - tr.t <= self.keep_s)})
        # a layout change (the frame changed around a face that stayed): the faces not present are not continued by
        # position either (another person's tile may now be where one of them was)
        for tr in self.tracks:
            if cut or tr.id in self.cut_ids or (self._cuts.layout and not tr.present):
                tr.cut_off = True
        return cut

    @property
    def cuts(self) -> int:
        """Camera cuts so far."""
        return self._cuts.cuts

    @property
    def face_cuts(self) -> int:
        """Faces cut alone so far (their region changed, not the whole frame, or not for every face)."""
        return self._cuts.face_cuts

    @property
    def layouts(self) -> int:
        """Whole-frame changes that left a present face's region as it was (layout changes, no cut)."""
        return self._cuts.layouts

    def embed(self, frame: np.ndarray, det: Detection) -> np.ndarray | None:
        """The SFace embedding the tracker compares detection ``det`` by (None without an embedder); a small face's
        from its keypoints found close up: the detection's own where the aligner looked already (``close_up``:
        :func:`~mpt_live.tiles.closer`), else :meth:`_closer`."""
        if self.embedder is None:
            return None
        if not small_face(det.box, frame.shape):
            return self.embedder.embed(frame, det.keypoints)
        self.closer_looks += 1
        return self.embedder.embed(frame, det.keypoints if det.close_up else self._closer(frame, det))

    def _closer(self, frame: np.ndarray, det: Detection) -> np.ndarray:
        """A small face's keypoints as the run's detector places them in a square :data:`CLOSER_SIDE` times its
        size around it (the face a third of its input, not at the edge of its range); its own where it finds no
        face centred there."""
        return closer(det, frame, lambda crop: self.aligner.detect_tiles(crop, [])).keypoints

    def _refresh(self, tr: Track) -> float:
        """Seconds after its last embedding that a track's face is embedded again (steady: less often)."""
        return self.refresh_s * (STEADY_REFRESH if tr.steady and tr.embeddings >= STEADY_AFTER else 1)

    def _follow(self, frame: np.ndarray, t: float) -> dict[int, TrackedFace]:
        """Every present face that its track can follow on this frame (none when a detection is due)."""
        present = [tr for tr in self.tracks if tr.present]
        # a layout change (the frame changed around the faces) is detected at once: a newcomer's tile gets its ID there
        if self.cut or self.cut_ids or self._cuts.layout or not present or any(tr.aligner.due() for tr in present):
            return {}
        followed = {}
        for tr in present:
            res = tr.aligner.follow(frame, t)
            if res is not None:
                tr.box, tr.t = res.box, t
                followed[tr.id] = TrackedFace(tr.id, res)
            else:  # lost by the registration: its next check comes after refresh_s again
                tr.steady = False
        return followed

    def update(self, frame: np.ndarray, t: float) -> tuple[list[TrackedFace], list[int]]:
        cut = self.cut = self._is_cut(frame, t)
        self._shot_t = t if cut or self._cuts.layout else self._shot_t
        self.frames += 1
        followed = {} if self._search else self._follow(frame, t)
        if self._search:
            self._search, self._tiled_t = False, -float("inf")
        if followed and len(followed) == sum(tr.present for tr in self.tracks):
            return sorted(followed.values(), key=lambda f: f.id), []  # every face followed: no detection
        self.detector_runs += 1
        dets = self._tiles(frame, t, self.aligner.detect(frame, t), followed)
        if followed and dets:  # a detection of a face followed on this frame is that face's: drop it
            iou = box_iou(np.array([f.face.box for f in followed.values()]), np.array([d.box for d in dets]))
            dets = [d for j, d in enumerate(dets) if iou[:, j].max() < 0.3]
        self.found_most = max(self.found_most, len(followed) + len(dets))
        self.faceless = frame if not followed and all(d.score < NEW_SCORE for d in dets) else self.faceless
        self.crowded += 0 < self.max_faces < len(followed) + len(dets)
        matched: dict[int, tuple[Track, np.ndarray | None]] = {}  # detection index -> (track, its embedding)

        # 1. position, against tracks seen recently (not since a cut, not followed on this frame)
        recent = [tr for tr in self.tracks if not tr.cut_off and t - tr.t <= self.keep_s and tr.id not in followed]
        if recent and dets:
            iou = box_iou(np.array([tr.box for tr in recent]), np.array([d.box for d in dets]))
            for r, c in zip(*linear_sum_assignment(-iou)):
                if iou[r, c] >= 0.3:
                    matched[int(c)] = (recent[r], None)
        # 3 (checks). a face due for a new embedding that no longer looks like its track goes to step 2
        for c, (tr, _) in list(matched.items()):
            if self.embedder is not None and t - tr.embed_t >= self._refresh(tr):
                e = self.embed(frame, dets[c])
                like = tr.likeness(e)
                if like is not None and like < self.switch:
                    del matched[c]
                else:
                    matched[c] = (tr, e)

        # 2. appearance, for the detections left (largest first, as many as may still be tracked)
        held = sum(tr.confirmed for tr, _ in matched.values())
        room = (self.max_faces - len(followed) - held) if self.max_faces else len(dets)
        rest = [i for i in range(len(dets)) if i not in matched][:max(room, 0)]
        free = self._free(followed, matched)
        embeds = {i: self.embed(frame, dets[i]) for i in rest} if self.embedder is not None else {}
        if rest and free and embeds:
            sim = np.array([[tr.likeness(embeds[i]) or -1.0 for i in rest] for tr in free])
            for r, c in zip(*linear_sum_assignment(-sim)):
                if sim[r, c] >= self.reid:
                    matched[rest[c]] = (free[r], embeds[rest[c]])
                    self.reidentified += 1
        for i in rest:
            if i not in matched:
                sure = self._confident(frame, dets[i]) or (self.vouch is not None
                                                           and self.vouch(frame, dets[i].box, at_once=True))
                heir = None if sure else lost_here(dets[i].box, t, self._free(followed, matched), self._shot_t)
                tr = Track(self._new_id(dets[i].box) if sure else -1 - self.tentative_dropped - len(self.tracks),
                           self.aligner.track_aligner(), dets[i].box, t, present=False, since=t,
                           look_until=self._looks.until(dets[i].box, t, self.tracks, self.keep_s), heir_of=heir)
                self.tracks.append(tr)
                self.tentative_made += not sure
                matched[i] = (tr, embeds.get(i) if embeds else self.embed(frame, dets[i]))
        self._tentative(matched, dets, frame, t, set(followed))

        # at most max_faces, tracked faces first (then the largest), one ID each
        order = sorted(matched, key=lambda i: (matched[i][0].t < t - self.keep_s, -dets[i].area))
        if self.max_faces:
            order = order[:max(self.max_faces - len(followed), 0)]
        faces, now = list(followed.values()), set(followed)
        for i in order:
            tr, e = matched[i]
            if not tr.present or cut or tr.id in self.cut_ids:
                tr.aligner.reset()  # a new appearance: smoothing and stabilisation start afresh
                tr.steady = False
            tr.box, tr.t, tr.present, tr.cut_off = dets[i].box, t, True, False
            tr.remember(e, t)
            faces.append(TrackedFace(tr.id, tr.aligner.align(frame, dets[i], t)))
            now.add(tr.id)
        lost = []
        for tr in self.tracks:
            if tr.present and tr.id not in now:  # lost: a small face looked for in its square for a while (square_looks)
                tr.present, tr.look_until = False, max(tr.look_until, lost_look(tr.box, frame.shape, t))
                lost.append(tr.id)
        return sorted(faces, key=lambda f: f.id), lost

    def _tiles(self, frame: np.ndarray, t: float, dets: list[Detection],
               followed: dict[int, TrackedFace]) -> list[Detection]:
        """The faces the whole-frame pass missed in a frame 4:3 or wider (:mod:`mpt_live.tiles`): its tiles are searched
        at once when a face present until now (or tentative, or small and lost, until its ``look_until``) was not found
        (only its last box's squares), and all every :func:`~mpt_live.tiles.search_every` s while fewer than
        ``max_faces`` are found, or sooner where someone may have entered (:mod:`mpt_live.entries`)."""
        if not searched_in_tiles(frame.shape):
            return dets
        boxes = np.array([d.box for d in dets] + [f.face.box for f in followed.values()]).reshape(-1, 4)
        # a tentative face found only in tiles is searched there again, or it could never be confirmed: for a while
        present = [tr for tr in self.tracks if tr.id not in followed and (tr.present or looking(tr.look_until, t) and (
            not tr.confirmed or self._looks.lost_due(t)))]  # a lost face's look: at most every LOST_EVERY_S
        missed = [tr.box for tr in present if not len(boxes) or box_iou(np.array([tr.box]), boxes).max() < 0.3]
        short = not 0 < self.max_faces <= len(boxes)  # fewer faces found than may be tracked; entries: every run
        known = [*map(tuple, boxes), *(tr.box for tr in present)]  # the faces found, followed or looked for
        cadence = short and not 0 <= t - self._tiled_t < search_every(frame.shape)  # an early search: not its clock
        early = self.entries.due(self._cuts.thumb, known, frame.shape, t, ask=short and not cadence)
        if missed or cadence or early:  # those: every square (new faces); else the missed faces' squares only
            self._tiled_t, self.tile_searches = t if cadence else self._tiled_t, self.tile_searches + 1
            if any(tr.confirmed and not tr.present for tr in present):
                self._looks.lost_searched(t)
            found = self.aligner.detect_tiles(frame, dets, () if cadence or early else missed)
            if cadence or early and new_face(found, known):  # changes outside the faces measured from here on
                self.entries.searched(self._cuts.thumb)  # (mpt_live/entries.py; a fruitless early search: not)
            return found
        return dets

    def _tentative(self, matched: dict[int, tuple[Track, np.ndarray | None]], dets: list[Detection],
                   frame: np.ndarray, t: float, followed: set[int]) -> None:
        """A detector run's tentative faces: counted and confirmed (an ID, in the outputs from this frame) when
        confident or found for ``CONFIRM_S`` (on ``CONFIRM_RUNS`` runs and half the runs at least) where ``vouch``
        (when given) finds a face too, taken out of ``matched`` otherwise; those not found for ``keep_s``, cut off
        or not vouched for are dropped. A confirmed one is first compared, as step 2 does, with the confirmed tracks
        not on this frame (:meth:`_returned`): a face found faintly while an occluder covered it (its embedding then
        below ``reid``) has its old ID back when it shows again, not the next one. One found where a confirmed face
        was just lost (``held``: :data:`HOLD_S`) and not like a face off the frame is kept without an ID, compared
        again every ``CONFIRM_S``."""
        found = {id(tr) for tr, _ in matched.values()}
        for tr in self.tracks:
            if not tr.confirmed:
                tr.runs, tr.hits = tr.runs + 1, tr.hits + (id(tr) in found)
        for i, (tr, e) in list(matched.items()):
            if tr.confirmed:
                continue
            d = dets[i]
            persisted, held, sure = confirmed(tr.hits, tr.runs, tr.since, t), tr.held(t), self._confident(frame, d)
            # held (where a face was just lost: HOLD_S): compared with the faces off the frame every CONFIRM_S
            again = e is not None or t - tr.embed_t >= CONFIRM_S
            if sure or persisted and (not held or again) and (self.vouch is None or self.vouch(frame, d.box)):
                old, now = self._returned(frame, d, matched, followed)
                if old is None and held and not sure:  # not like the face lost there: not a new one yet either
                    e = now
                elif old is None:
                    tr.id, matched[i] = self._new_id(d.box), (tr, e if now is None else now)
                    continue
                else:  # its old ID back: the tentative track ends here (neither dropped nor a new face)
                    matched[i] = (old, now)
                    self.tracks.remove(tr)
                    continue
            elif persisted and not held:  # a faint pattern the other detector sees no face in (texture, print): dropped
                del matched[i]
                tr.cut_off = True
                continue
            del matched[i]
            tr.box, tr.t = d.box, t
            tr.remember(e, t)
        kept = [tr for tr in self.tracks if tr.confirmed or (t - tr.t <= self.keep_s and not tr.cut_off)]
        # a face doubted at birth (no look) renews no doubt: a doubted place gets a look every DOUBT_S (a real face)
        self._looks.dropped([tr.box for tr in self.tracks if tr not in kept and tr.look_until > -np.inf], t,
                            self.cut or self._cuts.layout)
        self.tentative_dropped += len(self.tracks) - len(kept)
        self.tracks = kept

    def _free(self, followed: Collection[int], matched: dict[int, tuple[Track, np.ndarray | None]]) -> list[Track]:
        """The confirmed tracks an appearance may give back: neither ``followed`` nor ``matched`` on this frame."""
        return [tr for tr in self.tracks if tr.confirmed and tr.id not in followed
                and not any(tr is m for m, _ in matched.values())]

    def _returned(self, frame: np.ndarray, det: Detection, matched: dict[int, tuple[Track, np.ndarray | None]],
                  followed: set[int]) -> tuple[Track | None, np.ndarray | None]:
        """The confirmed track, not followed or matched on this frame, that a tentative face being confirmed looks
        like best, at ``reid`` or more (None: a new face), with the face's embedding taken now (its own, taken when it
        was first found, may be of a covered face)."""
        free = self._free(followed, matched)
        e = self.embed(frame, det) if free else None
        like = [tr.likeness(e) for tr in free]
        best = max(range(len(free)), key=lambda k: like[k] or -1.0, default=None)
        if best is None or like[best] is None or like[best] < self.reid:
            return None, e
        self.reidentified += 1
        return free[best], e

    def _confident(self, frame: np.ndarray, det: Detection) -> bool:
        """Whether ``det`` gives a newcomer its ID at once: scored ``NEW_SCORE`` or more, and ``vouch`` (when given)
        agrees (``confident``: on short-range, whose scores ``NEW_SCORE`` was set on, at once; on full-range,
        when short-range finds a face there too: :meth:`mpt_live.face_watch.FaceWatch.vouch`)."""
        return det.score >= NEW_SCORE and (self.vouch is None or self.vouch(frame, det.box, confident=True))

    def pending(self) -> list[tuple[int, int, int, int]]:
        """The boxes of the tentative faces (found, not confirmed yet: in no output)."""
        return [tr.box for tr in self.tracks if not tr.confirmed]

    def figures(self) -> dict[str, int | float | None]:
        """The tracking figures of summary.json (tentative faces still unconfirmed count as dropped: none of them
        reached an output), and what detection cost: the share of frames the detector ran on (None: no frame) and
        the searches of a frame's tiles (4:3 and wider)."""
        return {"cuts": self.cuts, "reidentified": self.reidentified,
                "embeddings": self.embedder.calls if self.embedder else 0, "face_cuts": self.face_cuts,
                "layout_changes": self.layouts,
                "tentative_tracks": self.tentative_made,
                "tentative_tracks_dropped": self.tentative_dropped + len(self.pending()),
                "detector_runs_per_frame": round(self.detector_runs / self.frames, 3) if self.frames else None,
                "tile_searches": self.tile_searches, "closer_looks": self.closer_looks}

    def _new_id(self, box: tuple[int, int, int, int]) -> int:
        used = {tr.id for tr in self.tracks if tr.confirmed}
        return self.naming(box, used) if self.naming is not None else max(used, default=-1) + 1
