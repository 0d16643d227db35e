"""Alignment jitter and lag of mpt_live.face.FaceAligner on the shared real videos.

Figures (all in pixels of the 224x224 template; frame pixels are scaled by the alignment's own scale,
so they do not depend on the video resolution), measured on the two eye keypoints, which alone
define the transform:

* still jitter: RMS frame-to-frame motion of the eyes on evm_face_still.mp4, raw vs smoothed
  (target: smoothed <= 0.15 px; raw BlazeFace is about 0.35 px);
* crop jitter: RMS frame-to-frame motion of the aligned image itself (a grid over the face pushed
  through M_t M_{t-1}^-1) with raw vs smoothed keypoints: what the magnifier (alpha=20) sees;
* talking lag: RMS distance between smoothed and raw eyes on retalking_3_talking.mp4 (target <= 1.5 px:
  real head movement is followed, not lagged);
* detect+align ms/frame: wall time of FaceAligner.process (detection, smoothing and warp).

``--energy``: the default input's head drift alone (no movements, blinks, flicker or noise; 12 s at 30 fps), aligned
by the smoothed keypoints alone (``stabilize=False``), with the ECC registration (the default), and by the first
frame's transform frozen (the baseline that does not follow the head): the band-passed energy of each aligned face
(mpt_live.motion.Magnifier's band energy at 30 fps, the first 2 s not counted), its 5th-95th percentile and median.

``--shape DIR...``: BlazeFace's eye-to-mouth distance over the eye distance (the mouth keypoint's distance below the
eye line, in eye distances: 1.09 on the template) of every face in the photos of the folders, and its range over
the frontal ones (nose keypoint within 0.1 eye distances of the eyes' midline).

Usage: python bench/alignment.py [--faces DIR] [--model short|full] [--frames N] [--energy] [--shape DIR...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from mpt_live.clip import ClipSpec
from mpt_live.demo_input import DURATION_S, FPS, HEAD, demo_animator
from mpt_live.errors import InputError
from mpt_live.face import REFERENCE_SIZE, FaceAligner
from mpt_live.face_template import (
    EYE_DISTANCE,
    EYE_Y,
    similarity_from_eyes,
    transform_points,
)
from mpt_live.machine import vector_extensions
from mpt_live.motion import Magnifier
from mpt_live.photos import PhotoError, read_photo
from mpt_live.sources import IMAGE_EXTENSIONS
from mpt_live.synthface import FaceAnimator, HeadMotion
from shared_faces import faces_folder

STILL, TALKING = "evm_face_still.mp4", "retalking_3_talking.mp4"
STILL_TARGET, LAG_TARGET = 0.15, 1.5


def run_video(path: Path, model: str, frames: int | None) -> dict[str, np.ndarray | float]:
    """Raw keypoints, smoothed keypoints, matrices and ms/frame of FaceAligner over a video."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise InputError(f"{path}: cannot open video")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    raw, smooth, mats, raw_mats, secs = [], [], [], [], 0.0
    with FaceAligner(image_size=REFERENCE_SIZE, model=model) as aligner, \
            FaceAligner(image_size=REFERENCE_SIZE, model=model, smooth=False) as plain:
        i = 0
        while frames is None or i < frames:
            ok, frame = cap.read()
            if not ok:
                break
            t0 = time.perf_counter()
            r = aligner.process(frame, i / fps)
            secs += time.perf_counter() - t0
            p = plain.process(frame, i / fps)
            i += 1
            if r is None or p is None:
                continue
            raw.append(r.keypoints)
            smooth.append(r.smoothed)
            mats.append(r.matrix)
            raw_mats.append(p.matrix)
    cap.release()
    if not raw:
        raise InputError(f"{path}: no face found")
    return {"raw": np.array(raw), "smooth": np.array(smooth), "mats": np.array(mats),
            "raw_mats": np.array(raw_mats), "ms": 1000.0 * secs / max(i, 1), "n": i}


def scales(mats: np.ndarray) -> np.ndarray:
    """Template px per frame px of each (2, 3) similarity matrix."""
    return np.sqrt(np.abs(np.linalg.det(mats[:, :, :2])))


def frame_to_frame_rms(points: np.ndarray, mats: np.ndarray) -> float:
    """RMS frame-to-frame motion of the eyes, in template px."""
    d = np.linalg.norm(np.diff(points[:, :2], axis=0), axis=-1) * scales(mats)[1:, None]
    return float(np.sqrt((d ** 2).mean()))


def lag_rms(smoothed: np.ndarray, raw: np.ndarray, mats: np.ndarray) -> float:
    """RMS distance between smoothed and raw eyes, in template px."""
    d = np.linalg.norm(smoothed[:, :2] - raw[:, :2], axis=-1) * scales(mats)[:, None]
    return float(np.sqrt((d ** 2).mean()))


def crop_jitter(mats: np.ndarray, size: int = REFERENCE_SIZE) -> float:
    """RMS frame-to-frame motion of the aligned image over a grid covering the face, template px."""
    g = np.stack(np.meshgrid(np.linspace(0.2, 0.8, 7), np.linspace(0.2, 0.9, 8)), -1).reshape(-1, 2) * size
    h = np.concatenate([mats, np.tile([[[0.0, 0.0, 1.0]]], (len(mats), 1, 1))], axis=1)
    rel = h[1:] @ np.linalg.inv(h[:-1])  # previous template -> current template
    moved = g @ rel[:, :2, :2].transpose(0, 2, 1) + rel[:, None, :2, 2]
    return float(np.sqrt(((moved - g) ** 2).sum(-1).mean()))


def drift_energy(frames: int = int(DURATION_S * FPS), warmup: int = 60) -> dict[str, np.ndarray]:
    """Band energy per frame of the default input's head drift alone, aligned three ways (see the docstring)."""
    anim, _ = demo_animator(0)
    still = FaceAnimator(anim.portrait, anim.keypoints, events=[], blinks=[], head=HeadMotion(0, **HEAD),
                         flicker=None, noise_sigma=0.0, seed=0)
    spec = ClipSpec()
    out: dict[str, list[float]] = {"keypoints alone": [], "with registration": [], "first frame frozen": []}
    mags = {k: Magnifier(spec, (REFERENCE_SIZE, REFERENCE_SIZE, 3), FPS) for k in out}
    frozen = None
    with FaceAligner(image_size=REFERENCE_SIZE, align=spec.align, stabilize=False) as plain, \
            FaceAligner(image_size=REFERENCE_SIZE, align=spec.align) as reg:
        for i in range(frames):
            frame = still.render(i / FPS, i)
            p, r = plain.process(frame, i / FPS), reg.process(frame, i / FPS)
            if p is None or r is None:
                continue
            frozen = p.matrix if frozen is None else frozen
            crops = {"keypoints alone": p.aligned, "with registration": r.aligned,
                     "first frame frozen": cv2.warpAffine(frame, frozen, (REFERENCE_SIZE, REFERENCE_SIZE),
                                                          flags=cv2.INTER_LINEAR)}
            for k, crop in crops.items():
                e = mags[k].push(crop)[1]
                if i >= warmup:
                    out[k].append(e)
    return {k: np.array(v) for k, v in out.items()}


def mouth_ratios(folders: list[Path], model: str = "short") -> list[tuple[str, float, float]]:
    """(photo, eye-to-mouth over eye distance, nose offset from the eyes' midline in eye distances) per face."""
    rows = []
    with FaceAligner(image_size=REFERENCE_SIZE, model=model, smooth=False) as fa:
        for folder in folders:
            for path in sorted(folder.iterdir()):
                if path.suffix.lower() not in IMAGE_EXTENSIONS:
                    continue
                try:
                    image = read_photo(path)
                except PhotoError as e:
                    print(f"skipped: {e}", file=sys.stderr)
                    continue
                for j, d in enumerate(fa.detect_image(image)):
                    k = transform_points(similarity_from_eyes(d.keypoints, REFERENCE_SIZE), d.keypoints)
                    unit, centre = EYE_DISTANCE * REFERENCE_SIZE, 0.5 * REFERENCE_SIZE
                    rows.append((f"{path.name}#{j}", float(k[3, 1] - EYE_Y * REFERENCE_SIZE) / unit,
                                 float(k[2, 0] - centre) / unit))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--faces", type=Path, default=faces_folder(),
                    help="folder with videos/ (default $MPT_FACES_DIR, else ../shared/data/faces)")
    ap.add_argument("--model", default="short", choices=["short", "full"])
    ap.add_argument("--frames", type=int, default=None, help="only the first N frames of each video")
    ap.add_argument("--energy", action="store_true", help="also the band energy of the default input's head drift")
    ap.add_argument("--shape", type=Path, nargs="+", metavar="DIR", help="also eye-to-mouth / eye distance of photos")
    args = ap.parse_args(argv)
    print(f"CPU vector extensions: {vector_extensions()}")
    for d in args.shape or []:
        if not d.is_dir():
            print(f"error: --shape {d}: not a folder of photos", file=sys.stderr)
            return 2
    try:
        still = run_video(args.faces / "videos" / STILL, args.model, args.frames)
        talk = run_video(args.faces / "videos" / TALKING, args.model, args.frames)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    raw_j = frame_to_frame_rms(still["raw"], still["mats"])
    sm_j = frame_to_frame_rms(still["smooth"], still["mats"])
    crop_raw, crop_sm = crop_jitter(still["raw_mats"]), crop_jitter(still["mats"])
    lag = lag_rms(talk["smooth"], talk["raw"], talk["mats"])
    talk_raw = frame_to_frame_rms(talk["raw"], talk["mats"])
    ok_j, ok_l = sm_j <= STILL_TARGET, lag <= LAG_TARGET

    print(f"model={args.model}  template px = pixels of a {REFERENCE_SIZE}x{REFERENCE_SIZE} aligned face")
    print(f"{STILL} ({still['n']} frames)")
    print(f"  eye jitter, frame to frame RMS   raw {raw_j:6.3f} px   smoothed {sm_j:6.3f} px   "
          f"target <= {STILL_TARGET}  {'ok' if ok_j else 'MISSED'}")
    print(f"  aligned-crop jitter RMS          raw {crop_raw:6.3f} px   smoothed {crop_sm:6.3f} px")
    print(f"{TALKING} ({talk['n']} frames, raw eye motion {talk_raw:.2f} px/frame)")
    print(f"  smoothed-vs-raw eye lag RMS      {lag:6.3f} px   target <= {LAG_TARGET}  {'ok' if ok_l else 'MISSED'}")
    print(f"detect+align ms/frame              still {still['ms']:.2f}   talking {talk['ms']:.2f}")
    print(f"SUMMARY alignment model={args.model} still_jitter={sm_j:.3f}px (raw {raw_j:.3f}, <= {STILL_TARGET}) "
          f"talking_lag={lag:.3f}px (<= {LAG_TARGET}) ms/frame={(still['ms'] + talk['ms']) / 2:.2f} "
          f"{'PASS' if ok_j and ok_l else 'FAIL'}")
    if args.energy:
        print("head drift alone, band energy of the aligned face per frame (p5-p95, median; the first 2 s not counted):")
        for k, e in drift_energy().items():
            print(f"  {k:<20} {np.percentile(e, 5):8.3f} - {np.percentile(e, 95):8.3f}   median {np.median(e):8.3f}"
                  f"{'   (baseline: does not follow the head)' if k == 'first frame frozen' else ''}")
    if args.shape:
        rows = mouth_ratios(args.shape, args.model)
        for name, ratio, nose in rows:
            print(f"  {name:<36} eye-to-mouth / eye distance {ratio:5.2f}   nose off the midline {nose:+5.2f}")
        front = [r for _, r, n in rows if abs(n) <= 0.1]
        if front:
            print(f"eye-to-mouth / eye distance: {min(front):.2f}-{max(front):.2f} on {len(front)} frontal faces "
                  f"(template 1.09; all {len(rows)} faces {min(r for _, r, _ in rows):.2f}-"
                  f"{max(r for _, r, _ in rows):.2f})")
    return 0 if ok_j and ok_l else 1


if __name__ == "__main__":
    sys.exit(main())
