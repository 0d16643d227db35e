"""Per-frame cost of the clip pipeline on a real clip, single thread.

Stages: decode, the face stage as the session runs it (:class:`mpt_live.tracks.FaceTracker`: faces
with IDs, BlazeFace, smoothed similarity warp, ECC stabilisation, SFace embeddings of new faces, the
spotter's own face warp, camera-cut check),
buffer (ring push), magnify (Laplacian pyramid + causal band-pass + reconstruction, per clip frame)
and rank pooling (per clip). Baselines beside ours, in the same run: the face stage with a detection
on every frame (before issue 14; ours detects every ``DETECT_EVERY`` frames and follows the faces in
between), and the magnification filtered with scipy.signal.sosfilt per frame. Decoding runs in its
own thread in the session (mpt_live/readahead.py), so it is listed but not added to the frame cost. A third run
of the face stage, with its calls wrapped (:class:`Steps`), says where its CPU goes: the ECC registration, warps,
colour conversions, resizes, the detector (its calling thread; its own threads apart), SFace, the cut check, and the
rest (Python and numpy).

The steady state of a long recording is what is measured: the clip is played forwards and backwards
(ping-pong, fresh timestamps) to ``--frames`` frames, and the first ``--warmup`` frames (the
detector's first inference, the ring buffer's first pass) are run but not counted. Each stage is
timed in CPU time of the process (``time.process_time``: it includes the detector's own threads and
does not count time spent waiting for a core that another job holds), with wall-clock time beside it.

    python bench/pipeline.py [--video PATH] [--frames N] [--warmup N] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from scipy import signal  # noqa: E402

from mpt_live.clip import ClipSpec, FrameRing  # noqa: E402
from mpt_live.cuts import CutCheck  # noqa: E402
from mpt_live.face import FaceAligner  # noqa: E402
from mpt_live.identity import FaceEmbedder  # noqa: E402
from mpt_live.machine import usable_cores, vector_extensions  # noqa: E402
from mpt_live.motion import Magnifier, magnify_clip  # noqa: E402
from mpt_live.rankpool import dynamic_image  # noqa: E402
from mpt_live.sources import Frame, VideoFile  # noqa: E402
from mpt_live.tracker import DETECT_EVERY  # noqa: E402
from mpt_live.tracks import FaceTracker  # noqa: E402
from shared_faces import faces_folder  # noqa: E402

DEFAULT_VIDEO = faces_folder() / "videos" / "retalking_3_talking.mp4"


def pct(a: list[float]) -> tuple[float, float]:
    return float(np.percentile(a, 50)), float(np.percentile(a, 95))


class Clock:
    """CPU and wall time of one stage, in ms per call, with the first ``skip`` calls not counted."""

    def __init__(self, skip: int = 0) -> None:
        self.skip, self.calls, self.cpu, self.wall = skip, 0, [], []

    def __enter__(self) -> Clock:
        self._c, self._w = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        c, w = time.process_time() - self._c, time.perf_counter() - self._w
        self.calls += 1
        if self.calls > self.skip:
            self.cpu.append(c * 1e3)
            self.wall.append(w * 1e3)


def ping_pong(frames: list, n: int) -> list:
    """``n`` frames: the clip forwards, backwards, forwards... with increasing timestamps."""
    if len(frames) < 2:
        return frames[:n]
    dt = (frames[-1].t - frames[0].t) / (len(frames) - 1)
    cycle = frames + frames[-2:0:-1]
    return [Frame(i, i * dt, cycle[i % len(cycle)].image) for i in range(n)]


class ScipyMagnifier:
    """Baseline: the same pyramid and band-pass, filtered with scipy.signal.sosfilt per frame."""

    def __init__(self, spec: ClipSpec) -> None:
        self.spec = spec
        self.sos = signal.butter(spec.filter_order, spec.band_hz, btype="bandpass", fs=spec.clip_fps, output="sos")
        self.zi: list[np.ndarray] | None = None

    def push(self, frame: np.ndarray) -> np.ndarray:
        g = [frame]
        for _ in range(self.spec.pyramid_levels - 1):
            g.append(cv2.pyrDown(g[-1]))
        lap = [g[i] - cv2.pyrUp(g[i + 1], dstsize=g[i].shape[1::-1]) for i in range(len(g) - 1)] + [g[-1]]
        if self.zi is None:
            zi0 = signal.sosfilt_zi(self.sos)
            self.zi = [zi0[:, :, None] * lv.reshape(1, 1, -1) for lv in lap]
        out = []
        for k, lv in enumerate(lap):
            y, self.zi[k] = signal.sosfilt(self.sos, lv.reshape(1, -1), axis=0, zi=self.zi[k])
            out.append(lv + self.spec.alpha * y.reshape(lv.shape))
        r = out[-1]
        for k in range(len(out) - 2, -1, -1):
            r = cv2.pyrUp(r, dstsize=out[k].shape[1::-1]) + out[k]
        return r


def face_stage(frames: list, size: int, detect_every: int, warmup: int = 0
               ) -> tuple[Clock, Clock, list[np.ndarray], int]:
    """(track+align clock per frame, ring push clock per face, aligned crops of the first face, detector
    calls), the first ``warmup`` frames not timed."""
    align, buffer, aligned = Clock(warmup), Clock(warmup), []
    ring = FrameRing(64, (size, size, 3))
    # motion_crop as the session's aligner has it (mpt_live/face_watch.py): the spotter's own face, a second warp
    # where the alignment is eyes-mouth (the default)
    with FaceAligner(image_size=size, detect_every=detect_every, align=ClipSpec().align, motion_crop=True) as aligner:
        calls = [0]
        detect = aligner.detect

        def counted(img: np.ndarray, t: float) -> list:
            calls[0] += 1
            return detect(img, t)

        aligner.detect = counted
        tracker = FaceTracker(aligner, max_faces=2, embedder=FaceEmbedder())
        for f in frames:
            with align:
                faces, _ = tracker.update(f.image, f.t)
            with buffer:
                for face in faces[:1]:
                    ring.push(f.t, face.face.aligned)
            if faces:
                aligned.append(faces[0].face.aligned)
    return align, buffer, aligned, calls[0]


class Steps:
    """The face stage's CPU by step: while entered, OpenCV's and the stage's dear calls are wrapped, and each counts the
    calling thread's CPU time (``time.thread_time``) of its calls made while ``counting``; only the outermost wrapped
    call counts (the cut check's resize and the detector's colour conversion are theirs)."""

    CALLS = ((cv2, "findTransformECC", "ECC registration"), (cv2, "warpAffine", "warps"),
             (cv2, "cvtColor", "colour conversions"), (cv2, "resize", "resizes"),
             (FaceAligner, "detect", "detector (calling thread)"), (FaceEmbedder, "feature", "SFace embeddings"),
             (CutCheck, "check", "cut check"))

    def __init__(self) -> None:
        self.ns = {label: 0 for _, _, label in self.CALLS}
        self.counting, self._inside, self._undo = False, False, []

    def _wrap(self, owner: object, name: str, label: str) -> None:
        f = getattr(owner, name)

        def timed(*args, **kwargs):
            if self._inside or not self.counting:
                return f(*args, **kwargs)
            self._inside, start = True, time.thread_time_ns()
            try:
                return f(*args, **kwargs)
            finally:
                self.ns[label] += time.thread_time_ns() - start
                self._inside = False

        setattr(owner, name, timed)
        self._undo.append((owner, name, f))

    def __enter__(self) -> Steps:
        for owner, name, label in self.CALLS:
            self._wrap(owner, name, label)
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, f in reversed(self._undo):
            setattr(owner, name, f)
        self._undo.clear()


def face_steps(frames: list, size: int, warmup: int) -> tuple[dict[str, float], float, float]:
    """(ms of CPU a frame by step, the calling thread's in all, the process's in all) of the face stage as
    :func:`face_stage` runs it (detect every ``DETECT_EVERY``), the first ``warmup`` frames not counted."""
    steps, thread, process = Steps(), 0.0, 0.0
    with FaceAligner(image_size=size, align=ClipSpec().align, motion_crop=True) as aligner:
        tracker = FaceTracker(aligner, max_faces=2, embedder=FaceEmbedder())
        with steps:
            for i, f in enumerate(frames):
                steps.counting = i >= warmup
                t0, p0 = time.thread_time(), time.process_time()
                tracker.update(f.image, f.t)
                if steps.counting:
                    thread, process = thread + time.thread_time() - t0, process + time.process_time() - p0
    n = max(len(frames) - warmup, 1)
    return {k: v / n / 1e6 for k, v in steps.ns.items()}, thread / n * 1e3, process / n * 1e3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    ap.add_argument("--frames", type=int, default=600, help="frames to run (the clip ping-ponged to this length)")
    ap.add_argument("--warmup", type=int, default=60, help="first frames run but not counted")
    ap.add_argument("--stride", type=int, default=4, help="frames between windows, for the amortised figure")
    ap.add_argument("--quick", action="store_true", help="60 frames: checks the script, not a measurement")
    args = ap.parse_args()
    if args.quick:
        args.frames, args.warmup = 60, 5
    if not args.video.is_file():
        print(f"error: {args.video}: no such file (pass --video)", file=sys.stderr)
        return 2
    cv2.setNumThreads(1)
    spec = ClipSpec()
    S = spec.image_size

    decode = Clock()
    frames = []
    with VideoFile(args.video) as src:
        it = iter(src)
        while len(frames) < args.frames:
            with decode:
                f = next(it, None)
            if f is None:
                break
            frames.append(f)
        size = f"{src.width}x{src.height} @ {src.fps:g} fps"
    clip_len = len(frames)
    frames = ping_pong(frames, args.frames)
    warm = min(args.warmup, max(0, len(frames) - 10))
    base_align, _, _, base_calls = face_stage(frames, S, 1, warm)
    align, buffer, aligned, calls = face_stage(frames, S, DETECT_EVERY, warm)
    if len(aligned) < spec.frames:
        print(f"error: {args.video}: fewer than {spec.frames} frames with a face", file=sys.stderr)
        return 2
    fa = [a.astype(np.float32) for a in aligned]

    mag, base = Clock(warm), Clock(warm)
    m = Magnifier(spec, fa[0].shape)
    b = ScipyMagnifier(spec)
    for a in fa:
        with mag:
            m.push(a)
        with base:
            b.push(a)

    clips = [np.stack(fa[i : i + spec.frames]) for i in range(0, len(fa) - spec.frames + 1, spec.frames)]
    clip_mag, rank = Clock(1), Clock(1)
    for c in clips:
        with clip_mag:
            magnify_clip(c, spec)
        with rank:
            dynamic_image(c)

    print(f"CPU: {usable_cores()} usable cores; vector extensions: {vector_extensions()}; load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"video: {args.video.name} ({size}, {clip_len} frames), ping-ponged to {len(frames)} frames, the first "
          f"{warm} not counted; {len(aligned)} with a face; single thread")
    print(f"detector calls: {calls} of {len(frames)} frames (detect every {DETECT_EVERY}); baseline {base_calls}")
    print(f"{'stage (ms)':<46}{'CPU p50':>9}{'CPU p95':>9}{'CPU mean':>9}{'wall mean':>10}")
    rows = [
        ("decode (per frame; own thread in the session)", decode),
        (f"faces: track + align (per frame, every {DETECT_EVERY})", align),
        ("  baseline: detect every frame (per frame)", base_align),
        ("buffer push (per frame)", buffer),
        ("magnify, streaming (per clip frame)", mag),
        ("  baseline: scipy sosfilt (per clip frame)", base),
        (f"magnify clip of {spec.frames} (per window)", clip_mag),
        (f"rank pool clip of {spec.frames} (per window)", rank),
    ]
    for name, c in rows:
        p50, p95 = pct(c.cpu)
        print(f"{name:<46}{p50:>9.3f}{p95:>9.3f}{float(np.mean(c.cpu)):>9.3f}{float(np.mean(c.wall)):>10.3f}")
    # means, not medians: with a detection every k frames the median is a tracked frame
    def per_frame(kind: str, face: Clock) -> float:
        return sum(float(np.mean(getattr(c, kind))) for c in (face, buffer, mag))

    ours, baseline = per_frame("cpu", align), per_frame("cpu", base_align)
    wall = per_frame("wall", align)
    window = (float(np.mean(clip_mag.cpu)) + float(np.mean(rank.cpu))) / args.stride
    by_step, thread, process = face_steps(frames, S, warm)
    print("face stage by step (a third run, its calls wrapped; CPU ms a frame of the calling thread): "
          + ", ".join(f"{k} {v:.3f}" for k, v in by_step.items())
          + f", the rest (Python, numpy) {thread - sum(by_step.values()):.3f}; the detector's own threads "
            f"{process - thread:.3f} (process minus calling thread); in all {process:.3f}")
    print(f"magnify speed-up over the scipy baseline: {pct(base.cpu)[0] / pct(mag.cpu)[0]:.1f}x")
    print(
        f"SUMMARY detect+align+magnify+buffer {ours:.2f} ms/frame CPU mean ({1000 / ours:.0f} frames/s; wall "
        f"{wall:.2f} ms) vs baseline (detect every frame) {baseline:.2f} ms/frame ({baseline / ours:.2f}x); target "
        f"<= 4 ms; with window magnify+rank pool every {args.stride} frames: {ours + window:.2f} vs "
        f"{baseline + window:.2f} ms/frame; CPU {vector_extensions()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
