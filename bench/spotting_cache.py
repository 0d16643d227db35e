"""The spotter's benches' cache of aligned face frames: ``build`` runs the session once on a benchmark video,
motion-only (faces aligned at 224 px), and keeps the 112 x 112 grey face frames it hands to
:class:`~mpt_live.facemotion.FaceMotion` (``CACHE/<benchmark>/<video>.npz``, ~90 MB a minute), each row's kind beside
them (the face's frame, none, a cut); ``run_cached`` replays one through ``FaceMotion`` + ``Spotter`` exactly as the
session feeds them (a frame without the face flushes, a cut with ``cut``), and ``stream`` gives the signals the
spotter would take. ``bench/spotting_replay.py`` makes the cache (``--build``) and scores the replays;
``bench/spotting_cuts.py`` and ``bench/spotting_perturb.py`` replay it too; a file built otherwise than a replay
expects (``made_as``: the face the spotter was given, the model size) is refused in one line where it is read
(``load``, ``check_made``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from mpt_live.errors import InputError
from mpt_live.facemotion import FaceMotion
from mpt_live.spotting import SpotConfig, Spotter
from train.datasets.longvideo import LongVideo


FACE, GONE, CUT, CUT_AWAY = 0, 1, 2, 3  # a cache row: the face's frame; none (a flush); none at a cut; a cut while away


def build(v: LongVideo, out: Path, corrected: bool = False, size: int = 224) -> None:
    """Run the session motion-only on ``v`` and keep the grey frames it gives FaceMotion, each row's kind beside
    them (FACE, GONE, CUT: the face's signals ended by a cut, CUT_AWAY: a cut while the face was away, no frame) and
    whether a cut was a camera cut (FaceState.push's ``camera``). ``corrected``: the spotter given the face with the
    eyes-mouth shape correction (the aligned face) instead of the eyes-aligned one it keeps, to measure what the
    correction would cost it (kept in the file as ``corrected``). ``size``: the faces aligned as a model of that size
    would have them (112: the bundled demo model's; its spotter's face a 224 warp all the same, registered at 224)."""
    from functools import partial

    from mpt_live import face_state, facemotion, session
    from mpt_live.job import run_job
    from mpt_live.session import SessionConfig
    from mpt_live.sources import VideoFile

    rec, push, state_push, cutting = [], facemotion.FaceMotion.push, face_state.FaceState.push, [False, False]

    def recording(self, frame, t, aligned):
        rec.append((frame, t, None if aligned is None else self.grey(aligned),
                    FACE if aligned is not None else CUT if cutting[0] else GONE, cutting[1]))
        return push(self, frame, t, aligned)

    def state_recording(self, frame, face, cut=False, camera=False, change=None):
        if corrected and face is not None:  # the spotter takes the aligned face (eyes-mouth) when it has no other
            face = replace(face, motion=None)
        if face is None and cut and self.face is None:
            rec.append((frame.index, frame.t, None, CUT_AWAY, camera))
        cutting[:] = cut, cut and camera
        try:
            return state_push(self, frame, face, cut, camera, change)
        finally:
            cutting[:] = False, False

    spec = session.ClipSpec
    facemotion.FaceMotion.push, face_state.FaceState.push = recording, state_recording
    session.ClipSpec = partial(spec, image_size=size)  # the spec of a motion-only session
    try:
        with VideoFile(v.video) as src:
            s = run_job(src, None, replace(SessionConfig(), max_faces=1), None)
    finally:
        facemotion.FaceMotion.push, face_state.FaceState.push = push, state_push
        session.ClipSpec = spec
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, frames=np.array([r[0] for r in rec]), times=np.array([r[1] for r in rec]),
             have=np.array([r[2] is not None for r in rec]), kind=np.array([r[3] for r in rec]),
             camera=np.array([r[4] for r in rec]), fps=s["source_fps"], corrected=corrected, size=size,
             grey=np.stack([r[2] for r in rec if r[2] is not None]).astype(np.float32))


def made_as(path: Path, d=None) -> tuple[bool, int]:
    """How a cache file was built (``d``: its contents, already loaded): with the spotter on the shape-corrected face
    (``build(corrected=True)``), and the model size its faces were aligned for (files from before these were kept:
    False, 224)."""
    d = np.load(path) if d is None else d
    return (bool(d["corrected"]) if "corrected" in d.files else False), (int(d["size"]) if "size" in d.files else 224)


def cached(cache: Path, benchmark: str, v: LongVideo, make: bool, corrected: bool = False, size: int = 224) -> Path:
    """The cache file of benchmark video ``v`` under ``cache``, built first where it is missing and ``make`` is set
    (``--build``); missing otherwise: one line."""
    f = cache / benchmark / f"{v.video.stem}.npz"
    if not f.exists():
        if not make:
            raise InputError(f"{f}: not cached (run with --build)")
        build(v, f, corrected, size)
    return f


def check_made(path: Path, corrected: bool = False, size: int = 224, d=None) -> None:
    """Refuse (InputError, one line) a cache file built otherwise than as ``corrected`` and ``size`` (the defaults:
    ``build``'s, the spotter as the session feeds it): its replay would measure another spotter's input. Every read
    of a file to replay (:func:`load`) makes it; a bench calls it first too to refuse before any work."""
    got = made_as(path, d)
    if got != (corrected, size):
        face = [f"{'corrected' if c else 'eyes-aligned'} face at {n} px" for c, n in (got, (corrected, size))]
        raise InputError(f"{path}: built with the spotter on the {face[0]}, not the {face[1]} (give another --cache)")


def load(path: Path, made: tuple[bool, int] = (False, 224)):
    """A cache file's contents to replay, refused (:func:`check_made`) where it was built otherwise than ``made``
    (corrected, size): :func:`run_cached` and :func:`stream` read it only through here."""
    d = np.load(path)
    check_made(path, *made, d=d)
    return d


def rows(d) -> tuple[np.ndarray, np.ndarray]:
    """Each cache row's kind (FACE, GONE, CUT, CUT_AWAY) and whether its cut was a camera cut; a cache made before
    kinds were kept has no cuts."""
    if "kind" in d.files:
        return d["kind"], d["camera"]
    return np.where(d["have"], FACE, GONE), np.zeros(len(d["have"]), bool)


def run_cached(path: Path, observe, perturb=None, config: SpotConfig | None = None,
               made: tuple[bool, int] = (False, 224)) -> list:
    """Replay one cached video through FaceMotion + Spotter as the session feeds them (a cut flushes with
    ``cut=True``); ``observe(sp)`` is called after each frame the spotter takes (its channels then hold that frame's
    state); ``perturb(grey)`` changes each grey face before FaceMotion takes it (spotting_perturb). The events.
    ``made``: how the file must have been built (``check_made``'s corrected, size), else InputError."""
    d = load(path, made)
    return replay(d["frames"], d["times"], *rows(d), d["grey"], float(d["fps"]), observe, perturb, config)


def replay(frames, times, kinds, cameras, grey, fps: float, observe, perturb=None,
           config: SpotConfig | None = None) -> list:
    """:func:`run_cached`'s replay of cache rows given as arrays (each row's frame number, time, kind, camera cut; the
    grey faces of its FACE rows in order) through a FaceMotion + Spotter told ``fps``: a re-timed copy's rows
    (``bench/spotting_vfr.py``) replay as a file's do. The events."""
    fm = FaceMotion(fps)
    sp, events, g = Spotter.for_motion(fm, config), [], 0

    def push(s):
        out = sp.push(s)
        observe(sp)
        return out

    for frame, t, kind, camera in zip(frames, times, kinds, cameras):
        if kind == CUT_AWAY:
            events += sp.flush(cut=True, camera=bool(camera))
            continue
        a = (grey[g] if perturb is None else perturb(grey[g])) if kind == FACE else None
        g += kind == FACE
        for s in fm.push(int(frame), float(t), a):
            events += push(s)
        if a is None:
            events += sp.flush(cut=kind == CUT, camera=bool(camera))
    for s in fm.flush():
        events += push(s)
    return events + sp.flush()


def stream(path: Path, drop: int = 0, made: tuple[bool, int] = (False, 224)) -> tuple[list, FaceMotion]:
    """One cached video's signals as the session hands them to the spotter (None: a frame without the face,
    where the session flushes the spotter; "cut", "camera": a flush at a cut, a camera cut), its first ``drop``
    frames left out (the others keep their numbers and times), and the FaceMotion that made them. ``made``: as
    :func:`run_cached`'s."""
    d = load(path, made)
    grey, fm, out, g = d["grey"], FaceMotion(float(d["fps"])), [], 0
    for i, (frame, t, kind, camera) in enumerate(zip(d["frames"], d["times"], *rows(d))):
        a = grey[g] if kind == FACE else None
        g += kind == FACE
        if i < drop:
            continue
        if kind != CUT_AWAY:
            out += fm.push(int(frame), float(t), a)
        if a is None:
            out.append(("camera" if camera else "cut") if kind in (CUT, CUT_AWAY) else None)
    return out + fm.flush(), fm
