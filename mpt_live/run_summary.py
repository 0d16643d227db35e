"""What a session says about itself: its running figures and the body of summary.json.

The session (:class:`~mpt_live.session.Session`) feeds a :class:`RunFigures` as it goes (:meth:`RunFigures.spotted`
for each face of a frame, :meth:`RunFigures.count` for each window it hands out); :func:`summarize` reads them, the
session's public state and its source's into summary.json's keys, the same keys for every run.
"""

from __future__ import annotations

import math
from collections import deque
from statistics import median
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from .crop_search import hint as crop_hint
from .errors import counted
from .face_state import too_short_to_spot
from .face_watch import DETECTOR_KEYS
from .sources import VideoFile
from .results import NO_FACE, WARMING, LabelTally, label_order, WindowResult, mean_or_none, percentile
from .tracks import FaceTracker

if TYPE_CHECKING:
    from .session import Session

SAMPLES = 20000  # timing samples kept per figure (the latest)
NO_WINDOW = "no window was classified"  # the warning's words (a resumed run's: resume.merge decides it on the whole run)


class RunFigures:
    """Counts (``counts``: the keys summary.json shows), label tallies by face (``tallies``, None: no face) and
    timing samples of one run; ``spacing``: the seconds a lone window covers (the stride's: LabelTally)."""

    def __init__(self, spacing: float | None = None) -> None:
        self.spacing = spacing  # a window's time where no spacing is known (the stride's: LabelTally)
        self.counts = {"frames_read": 0, "frames_with_face": 0, "windows": 0, "windows_scored": 0,
                       "windows_classified": 0}
        self.tallies: dict[int | None, LabelTally] = {}
        # 1 while the frame last read has its faces looked for (the session's): a stop that lands then leaves a frame
        # counted read that no face was looked for in, which the face warning does not count
        self.unlooked = 0
        self.windows: dict[int, int] = {}  # windows handed out, by face
        self._last_t: float | None = None  # the latest window's time, of any face or none
        self._steps: deque[float] = deque(maxlen=64)  # the spacings of the run's windows (LabelTally.add's step)
        self.spot_ms, self.spot_cpu_ms, self.latency_ms, self.model_ms = (deque(maxlen=SAMPLES) for _ in range(4))

    def spotted(self, wall_ms: float, cpu_ms: float | None) -> None:
        """One face's spotting step of a frame took ``wall_ms`` (``cpu_ms``: its CPU time, when it was measured)."""
        self.spot_ms.append(wall_ms)
        if cpu_ms is not None:
            self.spot_cpu_ms.append(cpu_ms)

    def count(self, r: WindowResult) -> WindowResult:
        """A window handed out (its label final): count it, tally its label and keep its timings."""
        c = self.counts
        c["windows"] += 1
        c["windows_scored"] += r.motion_score is not None
        if r.face_id is not None:
            self.windows[r.face_id] = self.windows.get(r.face_id, 0) + 1
        if r.probs is not None:
            c["windows_classified"] += 1
            self.latency_ms.append(r.latency_ms)
            self.model_ms.append(r.timings.get("inputs_ms", 0.0) + r.timings.get("model_ms", 0.0))
        self.tally(r.time_s, r.face_id, r.label)
        return r

    def tally(self, t: float, face_id: int | None, label: str) -> None:
        """Tally the ``label`` of a window at ``t`` of face ``face_id`` (None: no face), the windows' usual spacing
        taken over the run's windows so far (those of every face, and those without one)."""
        if self._last_t is not None and t > self._last_t:
            self._steps.append(t - self._last_t)
        self._last_t = t if self._last_t is None else max(self._last_t, t)
        step = median(self._steps) if len(self._steps) >= 4 else None
        self.tallies.setdefault(face_id, LabelTally(self.spacing)).add(t, label, step)

    def labels(self, order: Sequence[str], face_id: int | None = None, *, merged: bool = False) -> dict[str, Any]:
        """The label counts and time shares of one face (``merged``: of all windows, faces or not)."""
        if merged:
            return LabelTally.merged(list(self.tallies.values()), order)
        return self.tallies[face_id].to_dict(order) if face_id in self.tallies else {}

    def timings(self) -> dict[str, Any]:
        """summary.json's spotting and latency figures (ms; None where nothing was measured)."""
        return {
            "spotting_ms_per_face_frame": {"cpu_mean": mean_or_none(self.spot_cpu_ms),
                                           "cpu_p95": percentile(self.spot_cpu_ms, 95),
                                           "wall_mean": mean_or_none(self.spot_ms)},
            "latency_ms": {"capture_to_prediction_p50": percentile(self.latency_ms, 50),
                           "capture_to_prediction_p95": percentile(self.latency_ms, 95),
                           "model_p50": percentile(self.model_ms, 50), "model_p95": percentile(self.model_ms, 95)},
        }

    def warnings(self, name: str, window_s: float, classify: bool, detector: str, stopped: bool = False,
                 hint: str | Callable[[], str | None] | None = None) -> list[str]:
        """What the counts say went wrong with source ``name``: most frames without a face, of those its faces were
        looked for (``hint``: what a face found in a crop of a frame says a user can do, or what says it, asked only
        then: :func:`face_warning`; ``stopped``: said of the frames read before the stop, not the video), or
        (``classify``: a model run) no window classified (``stopped``: the run ended before its source did, so the
        stop is why, not the video)."""
        c = self.counts
        faces = f"a face in {c['frames_with_face']} of {counted(c['frames_read'], 'frame')}"
        looked = c["frames_read"] - self.unlooked
        if few := face_warning(name, looked, c["frames_with_face"], detector, hint, stopped):
            return [few]
        if classify and c["windows"] and not c["windows_classified"]:
            if stopped:
                return [f"{name}: {NO_WINDOW}: the run stopped after {counted(c['frames_read'], 'frame')} ({faces}),"
                        f" before a whole {window_s:g} s window was classified"]
            return [f"{name}: {NO_WINDOW}: {faces}, but never for a whole {window_s:g} s window"]
        return []


def tallied_rows(rows: Iterable[dict[str, str]], spacing: float | None) -> RunFigures:
    """The label tallies of a run rebuilt from its predictions.csv ``rows`` (as read, in the file's order: the order
    its windows were counted in), as :meth:`RunFigures.count` kept them: each row's label its ``top``, else warming
    up (a face) or no face, and the windows of each face (``spacing``: the run's stride in seconds). A killed run's
    summary, which the run never wrote, has its labels so (mpt-live --finish, --resume). A row whose time is no
    number is not counted."""
    fig = RunFigures(spacing)
    for r in rows:
        try:
            t = float(r.get("time_s") or "")
        except ValueError:
            continue
        if not math.isfinite(t):
            continue
        face = (r.get("face_id") or "").strip()
        fid = int(face) if face.isdigit() else None
        if fid is not None:
            fig.windows[fid] = fig.windows.get(fid, 0) + 1
        fig.tally(t, fid, r.get("top") or (WARMING if fid is not None else NO_FACE))
    return fig


FACE_WARNINGS = ("no face found", "only a face in")  # how face_warning's line begins, after the source's name


def face_warning(name: str, frames_read: int, frames_with_face: int, detector: str | None,
                 hint: str | Callable[[], str | None] | None = None, stopped: bool = False) -> str | None:
    """The warning that most of source ``name``'s frames had no face (None where most had one), ending with ``hint``
    (what a user can do: :func:`mpt_live.crop_search.hint`) where given: its words, or what gives them, asked only
    where the warning is said (a crop search runs the detector: :func:`face_hint`). ``stopped``: the run ended before
    its source did (q/Esc, a signal, --max-seconds, an error), so the line is of the frames it read, not the video
    (a run stopped at its first frame said 'no face found' of a video with a face in every frame)."""
    if not frames_read or frames_with_face >= 0.5 * frames_read:
        return None
    if stopped:
        few = (f"{FACE_WARNINGS[0]} in the {counted(frames_read, 'frame')} read" if not frames_with_face else
               f"{FACE_WARNINGS[1]} {frames_with_face} of the {frames_read} frames read") + " before the run stopped"
    else:
        few = (FACE_WARNINGS[0] if not frames_with_face else
               f"{FACE_WARNINGS[1]} {frames_with_face} of {frames_read} frames")
    said = hint() if callable(hint) else hint
    return (f"{name}: {few}" + (" (small or distant faces: try --detector full)" if detector == "short" else "")
            + (f"; {said}" if said else ""))


def summarize(session: Session) -> dict[str, Any]:
    """summary.json's body for ``session`` (the job adds ``outputs``), during or after its run."""
    seconds, fig, source = session.seconds, session.figures, session.source
    c = fig.counts
    stats = getattr(source, "stats", None)
    order = label_order(session.classes)
    events = sorted(session.events, key=lambda e: (e.event.onset_s, e.face_id))
    w, worker = session.watch, session.worker
    return {
        "source": session.name,
        "mode": "live" if session.live else "file",
        **c,
        "windows_dropped": session.dropped,
        "source_fps": round(session.fps, 3),
        "source_fps_assumed": bool(getattr(source, "fps_assumed", False)),
        "source_frame_count": frame_count(source),
        "source_seconds": round(source_seconds(session, seconds), 3),
        "seconds": round(seconds, 3),
        "fps": round(c["frames_read"] / seconds, 2) if seconds > 0 else None,
        "predictions_per_s": round(c["windows_classified"] / seconds, 2) if seconds > 0 else None,
        "stride": "auto" if session.auto else session.stride,
        "rotation": getattr(source, "orientation", None),
        "detector": session.cfg.detector, **(w.figures() if w else dict.fromkeys(DETECTOR_KEYS)),
        "max_faces": session.max_faces,
        "model": session.model.to_dict(),
        "provider": session.model.provider or None,
        "clip_spec": session.spec.to_dict(),
        "spot_threshold": session.cfg.spot_threshold,
        "spot_closed_early": closed_early(session),  # candidates cut short: frame times that stood still
        "labels": fig.labels(order, merged=True),
        "events": [e.to_dict() for e in events],
        # --resume: not the frames analysed again before the resume point (resume.merge adds the run before's)
        "faces": [{"face_id": fid, "frames": st.frames - session.rerun_by_face.get(fid, 0),
                   "windows": fig.windows.get(fid, 0),
                   "events": sum(e.face_id == fid for e in events),
                   "events_unclassified": st.unbuffered, "events_occluded": st.spotter.occluded_count,
                   **(w.face_figures(fid) if w else {}),
                   "labels": fig.labels(order, fid)}
                  for fid, st in sorted(session.states.items())],
        "tracking": (session.tracker or FaceTracker(None)).figures(),
        **fig.timings(),
        "capture": stats() if (session.live and callable(stats)) else None,
        "batch": worker.batch_stats() if worker else None,
        "interrupted": session.interrupted,
        "error": session.error,
        "source_error": getattr(source, "error", None),  # why the source ended early, if it did
        "warnings": run_warnings(session),
    }


def frame_count(source: Any) -> int | None:
    """The frames ``source`` holds, as it says (a video's header, a frame folder's images), however many a run reads
    of them; None where it does not say (a camera, a stream)."""
    n = getattr(source, "frame_count", None)
    return int(n) if isinstance(n, (int, float)) and not isinstance(n, bool) and n > 0 else None


def source_seconds(session: Session, seconds: float) -> float:
    """Live: the run's length (``seconds``). A file: the seconds of video read, by the container's times."""
    last = session.last_frame
    if session.live or last is None:
        return seconds
    if getattr(session, "at_limit", False):  # --max-seconds: not the frames read ahead past it
        return last.t + 1 / session.fps
    read = getattr(session.source, "duration_s", None)  # VideoFile: the span of the frames read
    return read if isinstance(read, float) and read > last.t else last.t + 1 / session.fps


def closed_early(session: Session) -> dict[str, int]:
    """The spotter's candidates closed before they ended, by scale, summed over the run's faces (summary.json's
    ``spot_closed_early``; the warning where any were)."""
    return {k: sum(getattr(st.spotter, k).closed_early for st in session.states.values()) for k in ("micro", "macro")}


def face_hint(session: Session) -> str | None:
    """What a user of a run that found no face in most frames can do: a face too small for the frame found in a crop
    of the latest frame without one (:func:`mpt_live.crop_search.hint`; the ffmpeg crop only for a file whose pixels
    ffmpeg shows as the run saw them)."""
    src, tracker = session.source, session.tracker
    whole = isinstance(src, VideoFile) and src.path.is_file() and src.stretch == (1.0, 1.0) and not src.turn
    return crop_hint(session.name, tracker.faceless if tracker else None,
                     session.watch.used if session.watch else "short", src.path if whole else None)


def run_warnings(session: Session) -> list[str]:
    """The model's (one that failed mpt-export's parity check), the source's (timing, pace) and the run's own: a model
    run that classified nothing says why."""
    name, spec = session.name, session.spec
    out = [session.model.warning] if session.model.warning else []
    out += list(getattr(session.source, "warnings", None) or []) + spec.rate_warning(name, session.fps)
    stopped = bool(session.stopped or session.interrupted or session.error)  # q/Esc too: not the video's fault
    hint = (lambda: face_hint(session)) if session.tracker is not None else None  # asked where most had no face
    out += session.figures.warnings(name, spec.window_s, session.runtime is not None, session.cfg.detector, stopped,
                                    hint)
    early = sum(closed_early(session).values())
    cut = bool(session.interrupted or session.error or session.stopped and not session.at_limit)  # not --max-seconds
    limit = session.cfg.max_seconds if session.at_limit else None  # it ended the run: the stretch asked for
    return out + (session.watch.warnings(name) if session.watch else []) + too_short_to_spot(
        name, session.states.values(), cut, session.cfg.start_s, limit) + [
        f"{name}: {early} candidate movement(s) closed before they ended (spot_closed_early), the frames' times "
        f"standing still or over 8 times faster than {session.fps:g} fps: their events may be cut short or missing; a "
        f"copy at a constant rate (ffmpeg -i IN -r {session.fps:g} OUT.mp4) is timed anew"] * (early > 0)
