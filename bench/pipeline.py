"""Per-frame cost of the clip pipeline on a real clip, single thread.

Stages: decode, detect + align (BlazeFace + smoothed similarity warp), buffer (ring push),
magnify (Laplacian pyramid + causal band-pass + reconstruction, per clip frame) and rank pooling
(per clip). Baseline beside ours: the same magnification with scipy.signal.sosfilt per frame.

    python bench/pipeline.py [--video PATH] [--frames N]
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
from mpt_live.motion import Magnifier, dynamic_image, magnify_clip  # noqa: E402
from mpt_live.sources import VideoFile  # noqa: E402

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    ap.add_argument("--frames", type=int, default=300, help="frames to time (at most the clip length)")
    ap.add_argument("--stride", type=int, default=4, help="frames between windows, for the amortised figure")
    args = ap.parse_args()
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
    ring = FrameRing(64, (S, S, 3))
    aligned = []
    with FaceAligner(image_size=S) as aligner:
        for f in frames:
            t = time.perf_counter()
            r = aligner.process(f.image, f.t)
            align.append((time.perf_counter() - t) * 1e3)
            if r is None:
                continue
            t = time.perf_counter()
            ring.push(f.t, r.aligned)
            buffer.append((time.perf_counter() - t) * 1e3)
            aligned.append(r.aligned)
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

    print(f"video: {args.video.name} ({size}), {len(frames)} frames, {len(aligned)} with a face; single thread")
    print(f"{'stage':<40}{'p50 ms':>9}{'p95 ms':>9}")
    rows = [
        ("decode (per frame)", decode),
        ("detect + align (per frame)", align),
        ("buffer push (per frame)", buffer),
        ("magnify, streaming (per clip frame)", mag),
        ("  baseline: scipy sosfilt (per clip frame)", base),
        (f"magnify clip of {spec.frames} (per window)", clip_mag),
        (f"rank pool clip of {spec.frames} (per window)", rank),
    ]
    for name, v in rows:
        p50, p95 = pct(v)
        print(f"{name:<40}{p50:>9.3f}{p95:>9.3f}")
    a50, a95 = pct(align)
    per_frame = a50 + pct(buffer)[0] + pct(mag)[0]
    amort = a50 + pct(buffer)[0] + (pct(clip_mag)[0] + pct(rank)[0]) / args.stride
    print(f"magnify speed-up over the scipy baseline: {pct(base)[0] / pct(mag)[0]:.1f}x")
    print(
        f"SUMMARY detect+align+magnify+buffer {per_frame:.2f} ms/frame p50 ({1000 / per_frame:.0f} frames/s; "
        f"target <= 5 ms, >= 200 frames/s); with window magnify+rank pool every {args.stride} frames: "
        f"{amort:.2f} ms/frame ({1000 / amort:.0f} frames/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
