"""Per-frame cost of the clip pipeline on a real clip, single thread.

Stages: decode, the face stage as the session runs it (:class:`mpt_live.tracks.FaceTracker`: faces
with IDs, BlazeFace, smoothed similarity warp, ECC stabilisation, SFace embeddings of new faces),
buffer (ring push), magnify (Laplacian pyramid + causal band-pass + reconstruction, per clip frame)
and rank pooling (per clip). Baselines beside ours, in the same run: the face stage with a detection
on every frame (before issue 14; ours detects every ``DETECT_EVERY`` frames and follows the faces in
between), and the magnification filtered with scipy.signal.sosfilt per frame. Decoding runs in its
own thread in the session (mpt_live/readahead.py), so it is listed but not added to the frame cost.

    python bench/pipeline.py [--video PATH] [--frames N] [--quick]
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
from mpt_live.face import FaceAligner  # noqa: E402
from mpt_live.identity import FaceEmbedder  # noqa: E402
from mpt_live.machine import usable_cores, vector_extensions  # noqa: E402
from mpt_live.motion import Magnifier, dynamic_image, magnify_clip  # noqa: E402
from mpt_live.sources import VideoFile  # noqa: E402
from mpt_live.tracker import DETECT_EVERY  # noqa: E402
from mpt_live.tracks import FaceTracker  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VIDEO = ROOT.parent / "shared" / "data" / "faces" / "videos" / "retalking_3_talking.mp4"


def pct(a: list[float]) -> tuple[float, float]:
    return float(np.percentile(a, 50)), float(np.percentile(a, 95))


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


def face_stage(frames: list, size: int, detect_every: int) -> tuple[list[float], list[float], list[np.ndarray], int]:
    """(track+align ms per frame, ring push ms per face, aligned crops of the first face, detector calls)."""
    align, buffer, aligned = [], [], []
    ring = FrameRing(64, (size, size, 3))
    with FaceAligner(image_size=size, detect_every=detect_every) as aligner:
        calls = [0]
        detect = aligner.detect

        def counted(img: np.ndarray, t: float) -> list:
            calls[0] += 1
            return detect(img, t)

        aligner.detect = counted
        tracker = FaceTracker(aligner, max_faces=2, embedder=FaceEmbedder())
        for f in frames:
            t = time.perf_counter()
            faces, _ = tracker.update(f.image, f.t)
            align.append((time.perf_counter() - t) * 1e3)
            for face in faces:
                t = time.perf_counter()
                ring.push(f.t, face.face.aligned) if face.id == faces[0].id else None
                buffer.append((time.perf_counter() - t) * 1e3)
            if faces:
                aligned.append(faces[0].face.aligned)
    return align, buffer, aligned, calls[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    ap.add_argument("--frames", type=int, default=300, help="frames to time (at most the clip length)")
    ap.add_argument("--stride", type=int, default=4, help="frames between windows, for the amortised figure")
    ap.add_argument("--quick", action="store_true", help="60 frames: checks the script, not a measurement")
    args = ap.parse_args()
    if args.quick:
        args.frames = 60
    if not args.video.is_file():
        print(f"error: {args.video}: no such file (pass --video)", file=sys.stderr)
        return 2
    cv2.setNumThreads(1)
    spec = ClipSpec()
    S = spec.image_size

    decode, align, buffer = [], [], []
    frames = []
    with VideoFile(args.video) as src:
        it = iter(src)
        while len(decode) < args.frames:
            t = time.perf_counter()
            f = next(it, None)
            decode.append((time.perf_counter() - t) * 1e3)
            if f is None:
                decode.pop()
                break
            frames.append(f)
        size = f"{src.width}x{src.height} @ {src.fps:g} fps"
    base_align, _, _, base_calls = face_stage(frames, S, 1)
    align, buffer, aligned, calls = face_stage(frames, S, DETECT_EVERY)
    if len(aligned) < spec.frames:
        print(f"error: {args.video}: fewer than {spec.frames} frames with a face", file=sys.stderr)
        return 2
    fa = [a.astype(np.float32) for a in aligned]

    mag, base = [], []
    m = Magnifier(spec, fa[0].shape)
    b = ScipyMagnifier(spec)
    for a in fa:
        t = time.perf_counter()
        m.push(a)
        mag.append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter()
        b.push(a)
        base.append((time.perf_counter() - t) * 1e3)

    clips = [np.stack(fa[i : i + spec.frames]) for i in range(0, len(fa) - spec.frames + 1, spec.frames)]
    clip_mag, rank = [], []
    for c in clips:
        t = time.perf_counter()
        magnify_clip(c, spec)
        clip_mag.append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter()
        dynamic_image(c)
        rank.append((time.perf_counter() - t) * 1e3)

    print(f"CPU: {usable_cores()} usable cores; vector extensions: {vector_extensions()}")
    print(f"video: {args.video.name} ({size}), {len(frames)} frames, {len(aligned)} with a face; single thread")
    print(f"detector calls: {calls} of {len(frames)} frames (detect every {DETECT_EVERY}); baseline {base_calls}")
    print(f"{'stage':<46}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}")
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
    for name, v in rows:
        p50, p95 = pct(v)
        print(f"{name:<46}{p50:>9.3f}{p95:>9.3f}{float(np.mean(v)):>9.3f}")
    # the face stage's mean, not its median: with a detection every k frames the median is a tracked frame
    mean = lambda v: float(np.mean(v))  # noqa: E731
    rest = mean(buffer) + pct(mag)[0]
    ours, baseline = mean(align) + rest, mean(base_align) + rest
    window = (pct(clip_mag)[0] + pct(rank)[0]) / args.stride
    print(f"magnify speed-up over the scipy baseline: {pct(base)[0] / pct(mag)[0]:.1f}x")
    print(
        f"SUMMARY detect+align+magnify+buffer {ours:.2f} ms/frame mean ({1000 / ours:.0f} frames/s) vs baseline "
        f"(detect every frame) {baseline:.2f} ms/frame ({baseline / ours:.2f}x); target <= 4 ms; with window "
        f"magnify+rank pool every {args.stride} frames: {ours + window:.2f} vs {baseline + window:.2f} ms/frame; "
        f"CPU {vector_extensions()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
