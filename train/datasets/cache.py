"""On-disk cache of model inputs: frames -> aligned clip -> ``mpt_live.motion.model_inputs``.

``ClipCache(root, spec, clip_mode, sampling, cropped).get(sample, variant)`` returns ``(dynamic, motion)``
float32 arrays,
computed once with the same functions as the live runtime and stored as float16 ``.npz`` under
``root/<dataset>/<key>.npz``. The key is the SHA-1 of the ClipSpec JSON, the clip mode, the variant,
the sampling, the face source (with the detector's schedule and the stabiliser's registration size),
the sample's dataset/subject/clip/onset/apex/offset/fps and the path, size and mtime of every frame the
clip uses, so any change of spec, annotation or frame files gives a
new entry. Writes go to a
temporary file and ``os.replace``, so concurrent workers never see partial files.

Faces: with ``cropped`` (the dataset's own cropped, registered faces, e.g. CASME II's ``Cropped``
folder; ``mpt-train --faces``) each frame is only resized to ``spec.image_size``. Otherwise
``FaceAligner(image_size=spec.image_size, model="short")`` aligns them, in video mode (a detection
every ``DETECT_EVERY`` frames, followed in between, as live) over only the frames the clip needs, with
timestamps ``index / fps`` and a ``reset()`` per clip. A frame without
a detected face is warped with the last good transform (frames before the first detection with the
first one); a clip without any face raises InputError naming the clip.

Sampling (``sampling``): ``blend`` samples the clip's times by linear interpolation between the two
nearest frames; ``pick`` takes the frame nearest to each time (the paper's "frames at regular
intervals": no blended frames, a frame repeats when the interval has fewer frames than the clip).

Time base (``spec.time_base`` ``"seconds"``): the magnifier gets each clip's own sampling rate in
frames per second of real time (:func:`mpt_live.clip.clip_rate`), so its band-pass is in Hz in every
clip mode: ``paper`` clips run at ``(frames - 1) / (offset - onset time)``, ``window`` clips at
``spec.clip_fps`` as live. A legacy ``"clip"`` spec runs every clip at ``spec.clip_fps``.

Clip modes (``t = index / fps`` is the time of a frame in its sequence):

* ``paper``: ``spec.frames`` times evenly over onset..offset (the paper's protocol). There is no
  temporal jitter: every variant is variant 0 (one cache entry).
* ``window``: a ``spec.window_s`` window, as the live runtime sees, centred on the middle of
  onset..offset. Variant 0 is centred (testing); variant k > 0 shifts it by ``u * J`` with ``u`` in
  [-1, 1] drawn deterministically from (sample, k) and ``J = max((window_s - duration) / 2,
  0.1 * window_s)``, i.e. as far as keeps the whole ME inside the window, and at least 10 % of the
  window. When the sequence is longer than the window, the window is clamped to lie inside it. When
  it is shorter (CASME II/SAMM/SMIC folders often hold only the ME), the sample times keep the real
  time base and those beyond the available frames hold the first/last frame: the clip runs at the
  same speed as live, padded with still frames, and magnification sees the same band in Hz.
  Between frames, ``mpt_live.clip.sample_frames`` interpolates linearly.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import zipfile
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

import cv2
import numpy as np

from mpt_live.clip import ClipSpec, clip_rate, interval_times, sample_frames, window_times
from mpt_live.errors import InputError
from mpt_live.face import STABILIZE_MIN_SIZE
from mpt_live.framenames import DamagedFrame, read_frame
from mpt_live.tracker import DETECT_EVERY
from mpt_live.writers import atomic_path

from .samples import Sample

log = logging.getLogger("mpt.datasets")

CACHE_VERSION = 3  # 2: band-pass in Hz of real time, sampling, face source; 3: a detection every DETECT_EVERY
#                    frames, faces followed in between; magnification in OpenCV passes
CLIP_MODES = ("paper", "window")
SAMPLINGS = ("blend", "pick")
FACE_MODEL = "short"
MIN_JITTER = 0.1  # fraction of window_s: the least temporal jitter of a variant k > 0


class ClipPlan(NamedTuple):
    """The frame index range ``lo..hi`` a clip needs, its ``spec.frames`` sample times ``at`` (seconds,
    frame i at i / fps, all inside ``[lo / fps, hi / fps]``) and its sampling rate ``fps`` (frames per
    second of real time, for the magnifier)."""

    lo: int
    hi: int
    at: np.ndarray
    fps: float


def clip_plan(sample: Sample, spec: ClipSpec, clip_mode: str, variant: int = 0,
              sampling: str = "blend") -> ClipPlan:
    """Where a clip of ``sample`` is sampled (see the module docstring for the modes)."""
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    fps, n = float(sample.fps), len(sample.frames)
    if clip_mode == "paper":
        lo, hi = sample.onset, sample.offset
        at = interval_times(lo / fps, hi / fps, spec.frames)
        rate = clip_rate(at, spec)
    elif clip_mode == "window":
        w = spec.window_s
        t_last = (n - 1) / fps
        start = (sample.onset + sample.offset) / 2 / fps - w / 2
        if variant > 0:
            duration = (sample.offset - sample.onset) / fps
            reach = max((w - duration) / 2, MIN_JITTER * w)
            seed = int.from_bytes(hashlib.sha1(f"{sample.name}|{variant}".encode()).digest()[:8], "little")
            start += float(np.random.default_rng(seed).uniform(-1.0, 1.0)) * reach
        if t_last >= w:
            start = min(max(start, 0.0), t_last - w)
        at = np.clip(window_times(start + w, spec), 0.0, t_last)
        lo = int(np.clip(np.floor(at[0] * fps + 1e-6), 0, n - 1))
        hi = int(np.clip(np.ceil(at[-1] * fps - 1e-6), lo, n - 1))
        rate = spec.clip_fps
    else:
        raise ValueError(f"clip_mode must be one of {CLIP_MODES}, got {clip_mode!r}")
    if sampling == "pick":  # the nearest frame to each time: sample_frames returns it exactly
        at = np.clip(np.round(at * fps), lo, hi) / fps
    return ClipPlan(lo, hi, at, float(rate))


class ClipCache:
    """Cached ``(dynamic, motion)`` model inputs of dataset samples (see the module docstring).

    Picklable (the face aligner is created lazily in each process), so torch DataLoader workers
    and ``prepare``'s processes can share one cache folder.
    """

    def __init__(self, root: str | Path, spec: ClipSpec, clip_mode: str = "paper", sampling: str = "blend",
                 cropped: bool = False) -> None:
        if clip_mode not in CLIP_MODES:
            raise ValueError(f"clip_mode must be one of {CLIP_MODES}, got {clip_mode!r}")
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
        self.root = Path(root)
        self.spec = spec
        self.clip_mode = clip_mode
        self.sampling = sampling
        self.cropped = bool(cropped)
        self._aligner = None
        self._aligner_pid = 0
        self.computed = 0  # clips computed (not read from disk) by this object

    # -- pickling: never ship a mediapipe detector to another process
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_aligner"] = None
        return state

    def variant(self, variant: int) -> int:
        """The variant actually used: paper mode has none (always 0)."""
        if int(variant) < 0:
            raise ValueError(f"variant must be >= 0, got {variant}")
        return 0 if self.clip_mode == "paper" else int(variant)

    def key(self, sample: Sample, variant: int = 0) -> str:
        v = self.variant(variant)
        lo, hi = clip_plan(sample, self.spec, self.clip_mode, v, self.sampling)[:2]
        files = []
        for p in sample.frames[lo:hi + 1]:
            try:
                st = p.stat()
            except OSError:
                raise InputError(f"{p}: frame file missing ({sample.name})") from None
            files.append([os.path.abspath(p), st.st_size, st.st_mtime_ns])
        spec = self.spec.to_dict()
        if spec["align"] == "eyes":  # the key of specs from before the field existed stays the same
            del spec["align"]
        doc = {"cache_version": CACHE_VERSION, "spec": json.dumps(spec, sort_keys=True), "clip_mode": self.clip_mode,
               "variant": v, "sampling": self.sampling, "detect_every": DETECT_EVERY,
               "registration_px": max(STABILIZE_MIN_SIZE, self.spec.image_size),  # the stabiliser's crop
               "faces": "cropped" if self.cropped else f"aligned:{FACE_MODEL}", "dataset": sample.dataset,
               "subject": sample.subject, "clip_id": sample.clip_id, "onset": sample.onset,
               "apex": sample.apex, "offset": sample.offset, "fps": float(sample.fps), "frames": files}
        return hashlib.sha1(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    def path(self, sample: Sample, variant: int = 0) -> Path:
        return self.root / (sample.dataset or "data") / f"{self.key(sample, variant)}.npz"

    def get(self, sample: Sample, variant: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``(dynamic (3,S,S), motion (T,3,S,S))`` float32, from disk or computed and stored."""
        path = self.path(sample, variant)
        cached = _read(path)
        if cached is not None:
            return cached
        dynamic, motion, score = self.compute(sample, variant)
        write_clip(path, dynamic, motion, score, {"sample": sample.name, "clip_mode": self.clip_mode,
                                              "variant": self.variant(variant), "sampling": self.sampling,
                                              "cropped": self.cropped})
        return dynamic.astype(np.float16).astype(np.float32), motion.astype(np.float16).astype(np.float32)

    def compute(self, sample: Sample, variant: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
        """Align (or resize), sample and preprocess one clip (no cache): ``model_inputs`` of the clip
        at its own sampling rate."""
        from mpt_live.motion import model_inputs

        plan = clip_plan(sample, self.spec, self.clip_mode, self.variant(variant), self.sampling)
        faces = self.resize(sample, plan.lo, plan.hi) if self.cropped else self.align(sample, plan.lo, plan.hi)
        times = np.arange(plan.lo, plan.hi + 1, dtype=np.float64) / float(sample.fps)
        clip = sample_frames(times, faces, plan.at)
        self.computed += 1
        try:
            return model_inputs(clip, self.spec, plan.fps)
        except ValueError as e:  # e.g. onset..offset too long for the band at 16 frames
            raise InputError(f"{sample.name}: {e}") from None

    def resize(self, sample: Sample, lo: int, hi: int) -> np.ndarray:
        """The dataset's cropped faces ``sample.frames[lo..hi]`` resized to the clip size (uint8 BGR)."""
        s = self.spec.image_size
        out = np.empty((hi - lo + 1, s, s, 3), np.uint8)
        for j, i in enumerate(range(lo, hi + 1)):
            img = _imread(sample.frames[i], sample)
            shrink = img.shape[0] > s or img.shape[1] > s
            out[j] = cv2.resize(img, (s, s), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
        return out

    def align(self, sample: Sample, lo: int, hi: int) -> np.ndarray:
        """Aligned uint8 BGR faces of ``sample.frames[lo..hi]`` (video mode, reset per clip)."""
        aligner = self._get_aligner()
        aligner.reset()
        s = self.spec.image_size
        out = np.empty((hi - lo + 1, s, s, 3), np.uint8)
        first, last, pending, missing = None, None, [], 0
        for j, i in enumerate(range(lo, hi + 1)):
            frame = _imread(sample.frames[i], sample)
            res = aligner.process(frame, i / float(sample.fps))
            if res is not None:
                first = res.matrix if first is None else first
                last = res.matrix
                out[j] = res.aligned
            elif last is not None:
                out[j] = _warp(frame, last, s)
            else:
                pending.append(j)
            missing += res is None
        if first is None:
            raise InputError(f"{sample.name}: no face found in frames {sample.frames[lo].name}.."
                             f"{sample.frames[hi].name} ({sample.frames[lo].parent})")
        for j in pending:  # frames before the first detection: the first good transform
            out[j] = _warp(_imread(sample.frames[lo + j], sample), first, s)
        if missing:
            log.debug("%s: no face in %d of %d frames (previous transform reused)", sample.name,
                      missing, len(out))
        return out

    def _get_aligner(self):
        # a forked process (e.g. a DataLoader worker) must not use its parent's mediapipe detector
        if self._aligner is None or self._aligner_pid != os.getpid():
            from mpt_live.face import FaceAligner

            # a clip shows one face and may be shorter than the session's confirmation time: a faint face (below
            # NEW_SCORE) is the clip's face once found on a few detector runs (mpt_live/face_confirm.py)
            self._aligner = FaceAligner(image_size=self.spec.image_size, model=FACE_MODEL, align=self.spec.align,
                                        confirm_s=0.0)
            self._aligner_pid = os.getpid()
        return self._aligner

    def close(self) -> None:
        if self._aligner is not None and self._aligner_pid == os.getpid():
            self._aligner.close()
        self._aligner = None

    def __enter__(self) -> "ClipCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- bulk
    def prepare(self, samples: Sequence[Sample], variants: int | Iterable[int] = 1, workers: int = 1,
                progress: bool = True) -> list[tuple[str, int, str]]:
        """Compute every missing ``(sample, variant)`` (``variants``: a count -> 0..n-1, or a list).

        ``workers`` > 1 uses that many processes. Returns the failures as ``(sample name, variant,
        message)`` for clips that raised InputError (e.g. no face); they are logged, not raised.
        """
        vs = list(range(variants)) if isinstance(variants, int) else [int(v) for v in variants]
        todo, seen = [], set()
        for s in samples:
            for v in vs:
                path = self.path(s, v)
                if path not in seen:
                    seen.add(path)
                    if not path.is_file():
                        todo.append((s, self.variant(v)))
        failures: list[tuple[str, int, str]] = []
        if not todo:
            return failures
        from mpt_live.terminal import progress_bar

        with progress_bar(disable=not progress) as bar:
            task = bar.add_task("preparing clips", total=len(todo), unit="clips")
            if workers <= 1:
                results = (_prepare_one(self, s, v) for s, v in todo)
                for r in results:
                    if r is not None:
                        failures.append(r)
                    bar.advance(task)
            else:
                import multiprocessing as mp

                ctx = mp.get_context("spawn")  # mediapipe state must not be forked
                with ctx.Pool(workers, initializer=_init_worker, initargs=(
                        self.root, self.spec.to_json(), self.clip_mode, self.sampling, self.cropped)) as pool:
                    for r in pool.imap_unordered(_work, todo):
                        if r is not None:
                            failures.append(r)
                        bar.advance(task)
        for name, v, msg in failures:
            log.warning("clip cache: %s variant %d failed: %s", name, v, msg)
        if failures:  # a rerun prepares only what is not cached yet (the clips that failed before, among them)
            log.warning("clip cache: %d of the %d clips prepared now failed (%d were cached before)",
                        len(failures), len(todo), len(seen) - len(todo))
        return failures


# ---------------------------------------------------------------- helpers
_WORKER: ClipCache | None = None


def _init_worker(root: Path, spec_json: str, clip_mode: str, sampling: str, cropped: bool) -> None:
    global _WORKER
    _WORKER = ClipCache(root, ClipSpec.from_json(spec_json), clip_mode, sampling, cropped)


def _work(task: tuple[Sample, int]) -> tuple[str, int, str] | None:
    assert _WORKER is not None
    return _prepare_one(_WORKER, *task)


def _prepare_one(cache: ClipCache, sample: Sample, variant: int) -> tuple[str, int, str] | None:
    try:
        cache.get(sample, variant)
    except InputError as e:
        return sample.name, variant, str(e)
    return None


def _imread(path: Path, sample: Sample) -> np.ndarray:
    """A training frame; its clip fails (InputError naming the file, what is wrong with it and the clip) for a JPEG
    cut short (OpenCV would decode its top rows over grey), an empty or unreadable file or one that does not decode."""
    try:
        return read_frame(path)
    except DamagedFrame as e:
        raise InputError(f"{e} ({sample.name})") from None


def _warp(frame: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    return cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def _read(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        with np.load(path) as z:
            return z["dynamic"].astype(np.float32), z["motion"].astype(np.float32)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        log.warning("clip cache: %s unreadable (%s), recomputing", path, e)
        return None


def write_clip(path: Path, dynamic: np.ndarray, motion: np.ndarray, score: float, meta: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, dynamic=dynamic.astype(np.float16), motion=motion.astype(np.float16),
             motion_score=np.float32(score), meta=np.array(json.dumps(meta)))
    try:
        with atomic_path(path) as tmp:
            tmp.write_bytes(buf.getvalue())
    except OSError as e:  # a full disk: say which file (a failed write names none)
        raise OSError(e.errno, e.strerror, str(path)) from None
