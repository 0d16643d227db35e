"""``mpt-live --video FILE --out DIR --resume``: a long run of one video that was stopped (Ctrl-C), killed (SIGKILL,
power), failed (a full disk) or ended by ``--max-seconds`` continued where its files end, not from frame 0.

:func:`resume_point` reads DIR's summary.json (a finished run's, or the running marker a killed one left) and
refuses, in one line, a folder with no run, a run still alive, a run of another file (its path: before whether it
finished), a run that finished (complete, or ran to the end of its video), a changed file (size and time, or the
frame count where an older marker has no stamp), a ``--realtime`` run of it (its rows skip frames as it played, a resumed run's would not:
one folder would mix both; ``--resume --realtime`` is refused, a paced replay is not reproducible), and settings
that change the rows (model, its file, clip, stride, detector, spot threshold, max faces: as a batch's rerun compares
them); :func:`precheck` makes those that need no model before
it loads (all but the model's own facts and its clip, compared once it has). Otherwise it cuts a half-written last
line from predictions.csv and events.csv (a kill mid-row) and says where to go on: rows after the last one's frame, and
the events the run had not written (:class:`Written`: those closed after the last row, less those of the same face and
type overlapping one written; an event of any face open at a kill is written, also where it began before the end
of another's written last), with event IDs after those written. The frames before are decoded and passed over, as
``--start`` does, except the last :data:`PREROLL_S` seconds (of the run's own stretch), which are analysed again and
not written: the spotter's running statistics (its last ``history_s``) and the clips then are as the run's were,
so that the rows go on without a gap and the spotter is past its warm-up with 20 s of statistics (the previous
helper's design started it anew there: other events for the next 20 s). Where the pre-roll reaches back to the run's
first frame the rows and events are exactly an uncut run's; from later, whatever the pre-roll's length, the
stabiliser's reference would begin elsewhere than the run's (a running average whose place drifts from its first
crop), so the pre-roll begins instead at the reference of each face the run kept (:mod:`mpt_live.references`, up to
``SNAPSHOT_S`` and a margin earlier) and restores it there, once a face (none where the pre-roll begins at the
run's first frame: that replay is exact): the rows are then nearly the uncut run's (README: the measured difference;
a run without that file: as far from them as before). A face the
tracker confirms in the pre-roll where a row of the run before has a box overlapping its own keeps that face's ID
(:meth:`Written.name`); any other gets one no face of the run had, so one ID is one person across the parts.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .clocktime import clock
from .crop_search import OPENING
from .errors import InputError
from .face_confirm import iou
from .recordings import stamp
from .references import Kept, faces_kept, preroll_from
from .results import label_order, label_table, read_table
from .run_summary import FACE_WARNINGS, NO_WINDOW, face_warning
from .rundir import read_summary, recorded_source, run_in_use, settings_of
from .spotting import SpotConfig

# analysed again before the resume point: the spotter's statistics window, its slowest (macro) scale and a margin
PREROLL_S = SpotConfig().history_s + 4.0

RESUMABLE = ("running", "killed", "interrupted", "failed")  # and complete where --max-seconds ended it


MATCH_IOU = 0.3  # a resumed run's face is the run before's whose box overlaps its own at least this much


@dataclass
class Written:
    """What the run before wrote near the resume point, to tell an event the resumed run finds again in its pre-roll
    from a new one, face by face, and to give a face of the pre-roll the ID it had (:meth:`name`): ``boxes``, the
    faces of the pre-roll's rows (``{frame: [(face ID then, box)]}``), and ``events``, those written (face, type,
    onset, offset). ``faces``: this run's face IDs matched to the run before's (:meth:`name`, :meth:`see`).

    Why two matching rules and two "already written" rules (one cannot serve both; the reasons are kept here only):
    :meth:`name` gives a face its ID when the tracker confirms it, at whatever frame that is, so it takes the rows of
    the nearest frame within ``near`` (rows are every stride-th frame), and only among IDs this run has not given (an
    ID is one face's); :meth:`see` matches a face that already has an ID (a new one: no row overlapped it at its
    confirmation) for :meth:`has` only, at the frames that have rows (the session calls it at every frame of the
    pre-roll), the best-overlapping row taken unless that face is matched already. Matching ``see``'s faces at the
    nearest frame, or giving IDs at exact frames only, would change which faces match (a face confirmed a frame after
    a row would get a new ID). The session withholds an event closed at or before the resume point whatever the run
    before wrote (``Session._closed_before``: that run wrote every event closed by its last row's frame before that
    row, so one the pre-roll finds otherwise, its statistics begun later, is not written either); :meth:`has` is for
    events closed after it, which the run before may have written (its events run ahead of its rows): those only
    that overlap a written one of the same face and type. ``has`` alone would write again an event of the pre-roll
    that overlaps none written; the time rule alone, the events written ahead of the rows."""

    boxes: dict[int, list[tuple[str, tuple[int, int, int, int]]]] = field(default_factory=dict)
    events: list[tuple[str, str, int, int]] = field(default_factory=list)
    faces: dict[int, str] = field(default_factory=dict)
    taken: set[int] = field(default_factory=set)  # every face ID of the run before (none is given to a new face)
    frame: int = -1  # the frame the tracker is on (the session sets it before each update)
    near: int = 2  # a new face's box is compared with the rows of the nearest frame this close (the stride's rows)

    def name(self, box: tuple[int, int, int, int], used: set[int]) -> int:
        """The ID of a face the tracker confirms at :attr:`frame` with ``box`` (``used``: the IDs it has given):
        the run before's face whose row nearest that frame overlaps it most (at least :data:`MATCH_IOU`, its ID not
        given yet nor matched by :meth:`see` to a face of this run), so that a person keeps the ID across the resume;
        else one no face of either part had."""
        near = [k for k in self.boxes if abs(k - self.frame) <= self.near]
        rows = self.boxes[min(near, key=lambda k: abs(k - self.frame))] if near else []
        claimed = set(self.faces.values())  # an old face is one person of this run's
        scored = [(iou(box, b), fid) for fid, b in rows
                  if fid.isdigit() and int(fid) not in used and fid not in claimed]
        score, old = max(scored, default=(0.0, ""))
        if score >= MATCH_IOU:
            self.faces[int(old)] = old
            return int(old)
        return max([*self.taken, *used], default=-1) + 1

    def see(self, frame: int, faces: list[Any]) -> None:
        """This run's ``faces`` (TrackedFace) of ``frame``: each not matched yet is the face of the run before whose
        row at that frame has the most overlapping box (at least :data:`MATCH_IOU`, not matched to another)."""
        rows = self.boxes.get(frame)
        for f in faces if rows else []:
            if f.id not in self.faces:
                score, old = max((iou(f.face.box, box), fid) for fid, box in rows)
                if score >= MATCH_IOU and old not in self.faces.values():
                    self.faces[f.id] = old

    def has(self, face_id: int, kind: str, onset: int, offset: int) -> bool:
        """Whether the run before wrote this event of this run's face ``face_id``: one of its face (where matched;
        else of a face of the run before that no face of this run is matched to), of the same type, overlapping it.
        Another face's event open at the stop is not one, also where it began before the end of the last event
        written (it was held back by that rule before), nor is a matched face's for an unmatched one."""
        old, matched = self.faces.get(face_id), set(self.faces.values())
        return any((face == old if old is not None else face not in matched) and k == kind and on <= offset
                   and onset <= off for face, k, on, off in self.events)


@dataclass
class ResumePoint:
    """Where a resumed run goes on: after ``after_frame`` (``at_s``: that frame's time), event IDs from
    ``first_event_id``; ``previous``: the summary (or marker) of the run so far; ``part``: this run's number."""

    after_frame: int
    at_s: float
    first_event_id: int
    from_frame: int = 0  # the first frame analysed again (the pre-roll)
    first_frame: int = 0  # the run's first frame analysed (its --start)
    previous: dict[str, Any] = field(default_factory=dict)
    written: Written = field(default_factory=Written)  # what the pre-roll finds again: not written twice
    kept: Kept | None = None  # the run's stabiliser references, read once (the pre-roll's start, the IDs, the log)

    @property
    def part(self) -> int:
        """This run's number: 2 for the first resume (the part files' suffix: annotated.part2.mp4)."""
        return len(self.resumed_at_s) + 1

    @property
    def resumed_at_s(self) -> list[float]:
        """Every time the run was resumed at, this one last."""
        before = self.previous.get("resumed_at_s") or []
        before = before if isinstance(before, list) else [before]
        # a resume killed before it wrote a row is resumed from the same point again: one time for that point
        return [*before, round(self.at_s, 4)] if not before or before[-1] != round(self.at_s, 4) else before


def settings_key(s: dict[str, Any]) -> dict[str, Any]:
    """What of a summary (or marker) changes the rows, as a batch's rerun compares it less the stretch (--start,
    --max-seconds: a resume goes on with the first part's), and the clip: a resumed run must have the same."""
    key = {k.replace("_", " "): v for k, v in settings_of(s).items() if k not in ("start_s", "max_seconds")}
    return {**key, "clip": s.get("clip_spec")}


def run_rotation(s: dict[str, Any], tag: int) -> int | None:
    """The way up a run read its file (degrees clockwise from as stored; None: an untagged file as stored), from its
    summary or marker ``s``: one of a version before rotation tags were checked says none and read the file as
    tagged (``tag``, the file's tag)."""
    return s["rotation"] if "rotation" in s else (tag % 360 or None)


def precheck(out: Path, source: Any, cfg: Any, model_file: str | Path | None) -> None:
    """:func:`resume_point`'s refusals that need no model, made before it loads (a refusal in one line at once, not
    after seconds of loading): no run, one alive or finished, another or changed file, and the settings known
    before: the model file (its size and time; None: motion-only), stride, detector, spot threshold, max faces of
    ``cfg`` (a :class:`mpt_live.session_config.SessionConfig` of a recorded file), and the way up the file is read (its
    rotation tag checked or overridden: ``source.orientation``). The model's own facts and its clip are compared
    once it has loaded (:func:`resume_point`, which makes these checks again)."""
    from .session_config import FILE_STRIDE, MAX_FACES

    facts = {"mode": "file", "source_frame_count": getattr(source, "frame_count", None),
             "stride": cfg.stride or FILE_STRIDE,
             "detector": cfg.detector, "spot_threshold": cfg.spot_threshold,
             "max_faces": MAX_FACES["file"] if cfg.max_faces is None else cfg.max_faces,
             "rotation": getattr(source, "orientation", None), "stamps": {"model": stamp(model_file)}}
    _refusals(out, source, facts, ("model file", "stride", "detector", "rotation", "spot threshold", "max faces"))


def _refusals(out: Path, source: Any, facts: dict[str, Any], keys: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The summary (or marker) of the run in ``out``, or InputError (one line) where ``source`` run with ``facts``
    cannot go on with it; ``keys``: the settings compared (None: all of :func:`settings_key`)."""
    where = f"--resume {out}"
    s = read_summary(out)
    if not s or "status" not in s or not (out / "predictions.csv").is_file():
        raise InputError(f"{where}: no run there to resume (no summary.json and predictions.csv of mpt-live); "
                         "run without --resume")
    pid = run_in_use(out)
    if pid is not None:
        raise InputError(f"{where}: the run there is still going (process {pid}); wait for it or stop it first")
    name = str(getattr(source, "name", ""))
    if s.get("source") != recorded_source(name):  # first: a finished run of another file is that file's, not this one's
        raise InputError(f"{where}: the run there is of {s.get('source')}, not {recorded_source(name)}")
    status = s["status"]
    if status == "complete" and s.get("max_seconds_reached"):
        pass
    elif status not in RESUMABLE:
        why = "complete" if status == "complete" else f"{status}: it ran to its end ({'; '.join(s.get('problems') or [])})"
        raise InputError(f"{where}: the run there finished ({why}); nothing to resume (run without --resume to redo it)")
    if (s.get("mode") or "file") != (facts.get("mode") or "file"):  # live here: --realtime (a camera: another source)
        raise InputError(f"{where}: the run there played {name} at its own pace (--realtime: its rows skip the "
                         "frames it had no time for), a resumed run reads every frame; run again without --resume")
    was = (s.get("stamps") or {}).get("source")
    if was is not None and was != stamp(name):
        raise InputError(f"{where}: {name} changed since the run there (its size or time differs); run without "
                         "--resume to redo it")
    if was is None and s.get("source_frame_count") != facts.get("source_frame_count"):  # an older marker: no stamp
        raise InputError(f"{where}: {name} has {facts.get('source_frame_count')} frames, the run there read one of "
                         f"{s.get('source_frame_count')}; run without --resume to redo it")
    # the way up the file is read (a rotation tag checked by its faces: mpt_live.upright), known once it is opened
    old = {**settings_key(s), "rotation": run_rotation(s, getattr(source, "tag", 0))}
    new = {**settings_key(facts), "rotation": facts.get("rotation")}
    changed = [k for k in old if old[k] != new[k] and (keys is None or k in keys)]
    if changed:
        k = changed[0]
        same = f"--rotation {old[k] or 0}" if k == "rotation" else "the same settings"
        raise InputError(f"{where}: the run there had another {k} ({_show(old[k])}, now {_show(new[k])}); give "
                         f"{same} to resume it, or run without --resume")
    return s


def resume_point(out: Path, source: Any, facts: dict[str, Any]) -> ResumePoint:
    """Where the run in ``out`` goes on for the opened ``source`` (a VideoFile, a FrameFolder) run with the settings
    ``facts`` (:func:`mpt_live.job.marker_facts` of its session); InputError (one line) where it cannot."""
    s = _refusals(out, source, facts)
    status = s["status"]
    rows = _whole(out / "predictions.csv")
    if status == "running":  # killed: its figures as --finish makes them
        from .finish import killed_summary

        s = killed_summary(out, s, rows)
    events = _whole(out / "events.csv") if (out / "events.csv").is_file() else []
    frame, t = max([(_int(r, "frame"), _num(r, "time_s")) for r in rows], default=(-1, 0.0))
    fps = float(s.get("source_fps") or facts.get("source_fps") or 30.0)
    ids = [_int(e, "event_id") for e in events]
    first = s.get("frames_skipped")  # where the run began (--start): the pre-roll is not longer than its stretch
    first = first if isinstance(first, int) else round((s.get("start_s") or 0.0) * fps)
    stride = facts.get("stride") if isinstance(facts.get("stride"), int) else 1
    back = max(0, (frame - max(first, frame - round(PREROLL_S * fps))) // stride * stride)  # the windows' frames kept
    start = max(frame - back, 0)
    kept = Kept(out)  # the references file, read once: for the pre-roll's start, the IDs taken and the run's log
    start = preroll_from(kept, start, frame, first, stride, fps)  # back to the stabiliser references kept
    boxes: dict[int, list[tuple[str, tuple[int, int, int, int]]]] = {}
    for r in rows:
        if start <= _int(r, "frame") <= frame and r.get("w"):
            boxes.setdefault(_int(r, "frame"), []).append((r.get("face_id") or "", tuple(_int(r, k) for k in "xywh")))
    taken = {int(r["face_id"]) for r in rows if (r.get("face_id") or "").isdigit()}
    taken |= {f["face_id"] for f in s.get("faces") or [] if isinstance(f.get("face_id"), int)}
    taken |= faces_kept(kept, frame)  # a face met between two rows' frames: its reference kept, no row
    written = Written(boxes, [(e.get("face") or "", e.get("type") or "", _int(e, "onset_frame"),
                               _int(e, "offset_frame")) for e in events], taken=taken, near=max(stride - 1, 1))
    return ResumePoint(frame, t + 1 / fps if frame >= 0 else 0.0, max(ids, default=0) + 1, from_frame=start,
                       first_frame=first, previous=s, written=written, kept=kept)


def merge(summary: dict[str, Any], point: ResumePoint, counts: list[str], rerun: dict[str, int], name: str) -> None:
    """``summary`` of the resumed part made the whole run's: its ``counts`` (less the ``rerun`` frames analysed again
    before the resume point) and time added to the run's so far (None where that did not know them: a killed run's),
    the events before it listed first, ``resumed_at_s``; the start and the frames passed over before it are the first
    part's. ``faces`` and ``labels`` are the whole run's (:func:`merge_faces`, :func:`merge_labels`; a killed run's
    are counted from its rows, as ``--finish`` counts them; a summary with none, an older ``--finish``'s: the part's); ``faces_before_resume`` lists the run's before. The
    part's warnings that no window was classified and that most frames had no face were decided from its own counts
    (a part of a few frames, its face new, classifies none): the first is dropped where the whole run classified
    some, the second decided again from the whole run's counts where they are known (ending with the crop hint, where
    a face too small for the frame was found in a crop, that the part's or the run before's line ended with).
    ``name``: the source as the run's warnings name it (the session's; summary.json's ``source`` is that path made
    absolute)."""
    prev = point.previous
    prior = max(point.after_frame + 1 - point.first_frame, 0)  # the frames up to the last row: the run's before
    for k in [*counts, "seconds"]:
        a, b = prev.get(k), summary.get(k)
        b = b - rerun.get(k, 0) if isinstance(b, (int, float)) else b
        # not the frames it read past that row (read again now); frames_with_face only capped at them: it may count
        # a few of those twice (which of the run before's frames had a face is not kept: README, --resume)
        if k in ("frames_read", "frames_with_face") and isinstance(a, int):
            a = min(a, prior) if k == "frames_with_face" else prior
        summary[k] = a + b if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None
    if summary.get("windows_classified"):
        summary["warnings"] = [w for w in summary.get("warnings", []) if NO_WINDOW not in w]
    read, with_face = summary.get("frames_read"), summary.get("frames_with_face")
    if isinstance(read, int) and isinstance(with_face, int):  # the whole run's (a killed run's unknown: the part's)
        said = [w for w in summary.get("warnings", []) if not any(w.startswith(f"{name}: {p}") for p in FACE_WARNINGS)]
        # where a face too small for the frame is, found in a crop (the part's, else the run before's): kept
        hint = _crop_hint([*summary.get("warnings", []), *(prev.get("warnings") or [])], name)
        few = face_warning(name, read, with_face, summary.get("detector"), hint)
        summary["warnings"] = [*([few] if few else []), *said]
    summary["events"] = [*(prev.get("events") or []), *summary.get("events", [])]
    order = label_order((summary.get("model") or {}).get("classes") or [])
    summary["faces"] = merge_faces(prev.get("faces") or [], summary.get("faces") or [], order)
    if prev.get("labels"):  # a killed run's are its rows' (finish.killed_summary); an older --finish's: none
        summary["labels"] = merge_labels(prev["labels"], summary.get("labels") or {}, order)
    skipped = prev.get("frames_skipped")  # a killed run's from its marker; not known from an older one's, but for
    skipped = 0 if skipped is None and not prev.get("start_s") else skipped  # a run from its first frame: none
    summary.update(resumed_at_s=point.resumed_at_s, start_s=prev.get("start_s"),
                   frames_skipped=skipped, faces_before_resume=prev.get("faces") or [])
    was = prev.get("outputs") or {}
    outputs = summary["outputs"]
    parts = [*(was.get("video_parts") or []), *([outputs["video"]] if outputs.get("video") else [])]
    outputs["video_parts"] = list(dict.fromkeys(parts))  # a part resumed at the same point again: its file anew
    outputs["video"] = was.get("video")
    if outputs.get("review") is None and was.get("review"):
        outputs["review"] = was["review"]
        summary["warnings"] = [*summary.get("warnings", []), f"{was['review']}, the page's copy of the video, covers "
                               f"the run up to {clock(point.resumed_at_s[0])}, before --resume; the rows, events and "
                               "timeline after it are the resumed run's"]


def merge_labels(before: dict[str, Any], now: dict[str, Any], order: list[str]) -> dict[str, dict[str, Any]]:
    """summary.json's ``labels`` of the whole run: each label's windows and seconds of both parts summed, its share
    of the seconds, as an uncut run's (``LabelTally``: time shares), in ``order`` (the classes, then neutral, event,
    warming up, no face; any other after them)."""
    windows: dict[str, int] = {}
    seconds: dict[str, float] = {}
    for part in (before, now):
        for name, v in part.items():
            windows[name] = windows.get(name, 0) + int(v.get("windows", 0))
            seconds[name] = seconds.get(name, 0.0) + float(v.get("seconds", 0.0))
    return label_table(windows, seconds, order)


def merge_faces(before: list[dict[str, Any]], now: list[dict[str, Any]], order: list[str]) -> list[dict[str, Any]]:
    """summary.json's ``faces`` of the whole run: a face of both parts (the same ID: :meth:`Written.name` carried it)
    has its frames, windows and events summed and its labels as :func:`merge_labels` makes the run's (windows and
    seconds summed, shares of its seconds, as an uncut run's, in ``order``); its other figures (eye distance, ...) are
    this part's. A face of one part only is as that part had it."""
    out = {f.get("face_id"): dict(f) for f in before}
    for f in now:
        old = out.get(f.get("face_id"))
        if old is None:
            out[f.get("face_id")] = f
            continue
        both = {**f}
        for k in ("frames", "windows", "events", "events_unclassified"):
            a, b = old.get(k), f.get(k)
            both[k] = a + b if isinstance(a, int) and isinstance(b, int) else None
        both["labels"] = merge_labels(old.get("labels") or {}, f.get("labels") or {}, order)
        out[f.get("face_id")] = both
    number = (int, float)
    return [out[k] for k in sorted(out, key=lambda k: (not isinstance(k, number), k if isinstance(k, number) else 0))]


def _crop_hint(warnings: list[str], name: str) -> str | None:
    """The crop hint (:func:`mpt_live.crop_search.hint`) that the first of ``warnings`` saying most of source
    ``name``'s frames had no face ends with; None where none does."""
    for w in warnings:
        at = w.find(f"; {OPENING}")
        if at >= 0 and any(w.startswith(f"{name}: {p}") for p in FACE_WARNINGS):
            return w[at + 2:]
    return None


def _show(v: Any) -> str:
    return "none" if v is None else str(v)


def _whole(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV of the run cut back to its whole lines: a last line without its line end (a kill mid-row)
    is removed from the file, to be written again."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)
    try:
        return read_table(path, whole_lines=True)[1]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"{path}: cannot be read as mpt-live writes it ({e})") from None


def _int(r: dict[str, str], k: str) -> int:
    try:
        return int(float(r.get(k) or "-1"))
    except ValueError:
        raise InputError(f"a row of the run has {k} {r.get(k)!r}, not a number: not mpt-live's file") from None


def _num(r: dict[str, str], k: str) -> float:
    try:
        return float(r.get(k) or 0.0)
    except ValueError:
        raise InputError(f"a row of the run has {k} {r.get(k)!r}, not a number: not mpt-live's file") from None
