"""Each face's stabiliser reference, kept beside a run's outputs so that ``--resume`` goes on from it.

A face's stabiliser (:mod:`mpt_live.stabilize`) registers every crop against a reference, a running average of the
registered crops whose place began with its first crop and drifts a little with each blend (about 2 px of the 112-px
ECC image in 20 s on paddlegan_fom_dv.mp4). A resumed run's pre-roll, started later, began it elsewhere, so its
crops sat a little elsewhere for as long as the face stayed (README, "Resuming a long run"). So a run of a file or a
frame folder (what ``--resume`` goes on with; not a camera, a stream or ``--realtime``, and a new run of any kind
clears an earlier run's file with its outputs: :func:`mpt_live.rundir.start_run`) with an output folder appends to
:data:`SIDECAR` there, one JSON line each, flushed (a killed run keeps those before its kill; none while the disk has
under :data:`KEEP_FREE` free), each face's reference as it is after a frame the face was detected on, every
:data:`SNAPSHOT_S` seconds, not at each restart of the reference (a talking or expressive face's restarts every
0.3-2 s: 20 kB/s a face when each was kept; a pre-roll from a kept one replays the restarts after it): the face ID,
the video time and frame, the grey crop (rounded to whole grey levels: 12.5 kB, 17 kB as a line; the README's
figures of a resume are measured from these) and the warp ECC starts from. A resumed run begins its pre-roll at the
latest such frame of each face at least ``PREROLL_S`` before the resume point (:func:`preroll_from`: at most
:data:`SNAPSHOT_S` plus a margin earlier) and restores each face its pre-roll confirms with an ID of the run before
once, at the first of its references the pre-roll passes (:class:`ReferenceLog`); none where the pre-roll begins at
the run's first frame (it replays the run exactly: a rounded copy would not). The file is cut back to the resume
point first (the lines after it are of frames the rows do not have: a face seen there may be another person's ID
now), and from the resume point on the run appends its own. A run without the file (older, or made without an
output folder) resumes as before; a damaged or foreign one is set aside (``.damaged``, never read again: the next run
of the folder that is not a ``--resume`` clears it with the outputs) and named in a one-line warning, and the resume
goes on as without it, never a traceback.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
from pathlib import Path
from typing import IO, Any, Callable

import numpy as np

from .rundir import DAMAGED, SIDECAR  # in the output folder, beside predictions.csv

VERSION = 1
KEEP_FREE = 16 * 2**20  # bytes left free on the disk: under that, no reference is kept (the rows and events come first)
SNAPSHOT_S = 10.0  # a face's reference is kept this often (on a frame it was detected on)
_KEYS = {"v", "face", "t", "frame", "size", "dtype", "warp", "ref"}


def encode(face: int, t: float, frame: int, state: dict[str, Any]) -> str:
    """One line of the file: ``state`` (:meth:`Stabilizer.state`) of face ``face`` at video time ``t``, ``frame``.
    The crop is rounded to whole grey levels (a quarter of float32's bytes; the README's resume figures are measured
    from these rounded crops)."""
    ref = np.clip(np.rint(np.asarray(state["ref"], np.float32)), 0, 255).astype(np.uint8)
    return json.dumps({"v": VERSION, "face": int(face), "t": float(t), "frame": int(frame), "size": int(ref.shape[0]),
                       "dtype": "uint8", "warp": np.asarray(state["warp"], np.float64).round(9).tolist(),
                       "ref": base64.b64encode(ref.tobytes()).decode("ascii")}) + "\n"


def decode(line: str) -> dict[str, Any]:
    """A line of the file as ``{face, t, frame, ref, warp}`` (``ref``: uint8); ValueError (what is wrong) where it is
    not one."""
    try:
        r = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"not JSON ({e.msg})") from None
    if not isinstance(r, dict) or set(r) != _KEYS or r["v"] != VERSION:
        raise ValueError("not a reference of this version")
    if not isinstance(r["face"], int) or not isinstance(r["frame"], int) or not isinstance(r["size"], int) \
            or not isinstance(r["t"], (int, float)) or r["dtype"] != "uint8" or r["size"] <= 0:
        raise ValueError("a field of the wrong type")
    try:
        raw = base64.b64decode(r["ref"], validate=True)
        warp = np.array(r["warp"], np.float32)
    except (binascii.Error, TypeError, ValueError):
        raise ValueError("its crop or warp cannot be read") from None
    n = r["size"]
    if len(raw) != n * n or warp.shape != (2, 3) or not np.isfinite(warp).all():
        raise ValueError(f"its crop is not {n}x{n} grey levels or its warp not 2x3")
    ref = np.frombuffer(raw, np.uint8).reshape(n, n)
    return {"face": r["face"], "t": float(r["t"]), "frame": r["frame"], "ref": ref, "warp": warp}


def lines(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Each whole line of the file with its reference, in the file's order ([] where there is none). A last line
    without its line end (a kill mid-write) is cut off the file; ValueError (naming the line) where a line is not a
    reference; OSError where the file cannot be read or cut."""
    if not path.is_file():
        return []
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)
        data = data[:data.rfind(b"\n") + 1]
    out = []
    for i, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        try:
            out.append((line, decode(line)))
        except ValueError as e:
            raise ValueError(f"line {i}: {e}") from None
    return out


def read(path: Path) -> dict[int, list[dict[str, Any]]]:
    """The references of the file by face, in time order ({} where there is none); as :func:`lines`."""
    return by_face(lines(path))


def by_face(found: list[tuple[str, dict[str, Any]]]) -> dict[int, list[dict[str, Any]]]:
    """:func:`lines`' references by face, in time order."""
    out: dict[int, list[dict[str, Any]]] = {}
    for _, r in found:
        out.setdefault(r["face"], []).append(r)
    for refs in out.values():
        refs.sort(key=lambda r: r["t"])
    return out


class Kept:
    """The :data:`SIDECAR` of a run in ``out`` as a ``--resume`` reads it, once for all its uses (:func:`preroll_from`,
    :func:`faces_kept`, :class:`ReferenceLog`): ``found``, its lines (:func:`lines`), or ``error``, why it could not
    be read (OSError) or is not one (ValueError: a damaged or foreign file), ``found`` then empty."""

    def __init__(self, out: Path) -> None:
        self.found: list[tuple[str, dict[str, Any]]] = []
        self.error: OSError | ValueError | None = None
        try:
            self.found = lines(out / SIDECAR)
        except (OSError, ValueError) as e:
            self.error = e
        self.faces = by_face(self.found)


def faces_kept(kept: Kept, until: int) -> set[int]:
    """The faces of a run's :data:`SIDECAR` (``kept``) with a reference at or before frame ``until`` (a resume's last
    row), which the file keeps: a face confirmed and lost between two rows' frames (none of its own) has its line and
    no row, so a resumed run must not give its ID to another person. An empty set where the file cannot be read (set
    aside then)."""
    return {face for face, refs in kept.faces.items() if any(r["frame"] <= until for r in refs)}


def preroll_from(kept: Kept, start: int, last: int, first: int, stride: int, fps: float) -> int:
    """Where a resumed run's pre-roll begins: ``start`` (``last``: the last row's frame, ``first``: the run's first
    frame, ``fps``: the video's) or, where the run kept references (``kept``: its :data:`SIDECAR`), the earliest of
    each face's latest one at or before ``start`` and at most :data:`SNAPSHOT_S` and a margin before it (moved back to
    a frame of the rows' stride from ``last``, not before ``first``), so that the pre-roll restores them. A file that
    cannot be read: ``start`` (the run's :class:`ReferenceLog` says why)."""
    reach = round((SNAPSHOT_S + 2.0) * fps)
    latest = [max((r["frame"] for r in v if r["frame"] <= start), default=None) for v in kept.faces.values()]
    frames = [f for f in latest if f is not None and start - reach <= f]
    if not frames:
        return start
    s = min(frames)
    s -= (last - s) % max(stride, 1)  # the rows' frames stay those of the run before
    return s if s >= first else start


class ReferenceLog:
    """The run's :data:`SIDECAR` in ``out``: :meth:`frame` after each frame records the references kept there and,
    in a resumed run's pre-roll (``from_frame`` to ``after_frame``), restores each face of ``old_ids`` (the run
    before's) once, to its first reference recorded in the pre-roll, on that frame; none where the pre-roll begins at
    the run's first frame ``first_frame`` (it is the run's own replay). ``after_frame`` None: a new run (an earlier
    file is removed). ``kept``: the file as a resume read it (:class:`Kept`, taken: emptied here; None: read here).
    ``warn``: one line where the file is damaged or foreign (set aside as ``.damaged``), or cannot be read or written
    (the run goes on without it)."""

    def __init__(self, out: Path, warn: Callable[[str], None], after_frame: int | None = None,
                 old_ids: set[int] | None = None, from_frame: int | None = None, first_frame: int = 0,
                 kept: Kept | None = None) -> None:
        self.path, self.warn, self.after_frame = out / SIDECAR, warn, after_frame
        self.old_ids = old_ids or set()
        self.refs: dict[tuple[int, int], dict[str, Any]] = {}  # (face, frame) -> its reference (pre-roll's only)
        self.restored = 0  # references restored in the pre-roll
        self.kept: dict[int, float] = {}  # each face's time its reference was last kept
        self.written = 0  # references appended by this run
        self._fh: IO[str] | None = None
        self._broken = False
        if after_frame is None:
            try:
                self.path.unlink(missing_ok=True)
            except OSError as e:
                self._cannot("removed", e)
            return
        kept = Kept(out) if kept is None else kept  # a resume's: the file as it read it
        if isinstance(kept.error, OSError):
            self._cannot("read", kept.error)
            return
        if kept.error is not None:
            self._set_aside(str(kept.error))
            return
        found, kept.found, kept.faces = kept.found, [], {}  # taken: held here only as long as needed, not for the run
        before = [(ln, r) for ln, r in found if r["frame"] <= after_frame]
        if len(before) < len(found):  # a killed run's lines run ahead of its rows: those frames are analysed anew
            self._cut([ln for ln, _ in before])
        # held: the pre-roll's references (uint8) of the run before's faces; none where it replays from the first frame
        lo = from_frame if from_frame is not None and from_frame > first_frame else after_frame + 1
        for _, r in before:
            self.kept[r["face"]] = max(self.kept.get(r["face"], r["t"]), r["t"])
            if lo <= r["frame"] and r["face"] in self.old_ids:
                self.refs[r["face"], r["frame"]] = r

    def _cannot(self, what: str, e: OSError) -> None:
        self._broken = True
        self.warn(f"{self.path}: cannot be {what} ({e.strerror}); this run keeps no stabiliser references (a --resume "
                  "of it resumes without them)")

    def _set_aside(self, why: str) -> None:
        aside = self.path.with_name(DAMAGED)
        try:
            os.replace(self.path, aside)
            done = f"set aside as {aside.name}"
        except OSError as e:
            self._broken = True
            done = f"it cannot be set aside ({e.strerror}) and none is kept by this run"
        left = "resuming without them" if not self.restored else "no further references restored"
        self.warn(f"{self.path}: {why}: not mpt-live's record of the stabiliser references ({done}); {left} "
                  "(the aligned crops after the resume point may sit a little elsewhere than an uncut run's)")
        self.refs = {}
        self.kept = {}  # the times of references now set aside: each face keeps its next one at once in the new file

    def _cut(self, keep: list[str]) -> None:
        """The file rewritten with the lines ``keep`` only (a whole new file, then put in its place)."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.write_text("".join(ln + "\n" for ln in keep), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as e:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            self._cannot("cut back to the resume point", e)

    def frame(self, index: int, t: float, tracker: Any, faces: list[Any]) -> None:
        """After frame ``index`` (video time ``t``): ``faces`` (TrackedFace) of ``tracker`` (FaceTracker)."""
        tracks = {tr.id: tr for tr in tracker.tracks} if faces else {}
        again = self.after_frame is not None and index <= self.after_frame
        if not again and self.refs:
            self.refs = {}  # past the pre-roll: none is restored any more
        for f in faces:
            stab = tracks[f.id].aligner.stabilizer if f.id in tracks else None
            if stab is None:
                continue
            if again:
                r = self.refs.get((f.id, index))  # a face restored has none left (once a face)
                if r is not None:
                    self._restore(stab, f.id, r)
            elif f.face.detected and t - self.kept.get(f.id, -SNAPSHOT_S) >= SNAPSHOT_S:
                self.kept[f.id] = t
                state = stab.state()
                if state is not None:
                    self._append(encode(f.id, t, index, state))

    def _restore(self, stab: Any, face: int, r: dict[str, Any]) -> None:
        self.refs = {k: v for k, v in self.refs.items() if k[0] != face}  # restored once: its others dropped
        try:
            stab.restore(r["ref"], r["warp"], r["t"])
            self.restored += 1
        except ValueError as e:  # a crop of another size: as a damaged file (left in place, each resume met it)
            self._set_aside(f"face {face}'s reference at {r['t']:g} s: {e}")

    def _append(self, line: str) -> None:
        if self._broken:
            return
        try:
            if shutil.disk_usage(self.path.parent).free < KEEP_FREE + len(line):  # the rows and events come first
                self._broken = True
                self.warn(f"{self.path}: not written, under {KEEP_FREE // 2**20} MB free on its disk (kept for the "
                          "rows and events); a --resume of this run will not have the stabiliser references from "
                          "here on")
                return
            if self._fh is None:
                self._fh = open(self.path, "a", encoding="utf-8")
            self._fh.write(line)
            self._fh.flush()
            self.written += 1
        except OSError as e:
            self._broken = True
            self.warn(f"{self.path}: cannot be written ({e.strerror}); a --resume of this run will not have the "
                      "stabiliser references from here on")

    def close(self) -> None:
        if self._fh is not None:
            try:
                self._fh.close()
            except OSError:
                pass
            self._fh = None
