"""Semi-synthetic micro-expression benchmark in the CASME II layout (``mpt-synth``).

Real people carry synthetic micro-movements: every identity found in a faces folder (a photo; each
face of a group photo; a still frame of a video) becomes one subject. Each clip animates that still
carrier at 200 fps with one class-specific localised deformation (onset-apex-offset course of
0.2-0.5 s, a sub-pixel-to-few-pixel amplitude scaled with the face size, see
:mod:`mpt_live.synthface`) plus distractors: blinks, micro head drift, illumination flicker, sensor
noise and JPEG compression. Output, read by the real CASME II loader::

    ROOT/CASME2_RAW_selected/sub01/EP01_01/img1.jpg ...
    ROOT/CASME2-coding-synth.xlsx   Subject, Filename, OnsetFrame, ApexFrame, OffsetFrame,
                                    Action Units, Estimated Emotion
    ROOT/synth.json                 generation parameters, subjects and per-clip truth

Deterministic for a seed: a clip's pixels depend only on (seed, subject, class, repetition).
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Iterable

import cv2
import numpy as np

from mpt_live import __version__
from mpt_live.errors import InputError, OutputError
from mpt_live.sources import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from mpt_live.writers import write_json
from mpt_live.synthface import CLASSES, Blink, Event, FaceAnimator, Flicker, HeadMotion, random_event, to_jsonable

from .carriers import CROP_FACTOR, find_carriers, look_alikes
from .faces_folder import skip_summary

IMAGE_EXT = IMAGE_EXTENSIONS
VIDEO_EXT = VIDEO_EXTENSIONS
FRAMES_DIR = "CASME2_RAW_selected"
SHEET = "CASME2-coding-synth.xlsx"
COLUMNS = ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion"]
REFERENCE_FACE_PX = 200.0  # --amplitude is the apex displacement for a face this wide
MARKER = "synth.json"      # at the root of every mpt-synth output, from the start of its run
DATA_KIND = "semi-synthetic (mpt-synth)"  # what a model trained on such a root records (mpt-train, mpt-export)


def is_synth_root(root: Path) -> bool:
    """Whether ``root`` is a folder mpt-synth wrote (its :data:`MARKER`)."""
    return (Path(root) / MARKER).is_file()


def data_kind(samples: Iterable[Any]) -> str:
    """What a dataset's clips (``samples``: :class:`train.datasets.samples.Sample`) are, recorded by mpt-train in the
    model (mpt-export: ``mpt.data_kind``): :data:`DATA_KIND` where every clip folder lies inside an mpt-synth output
    (a folder above it with :data:`MARKER`, however deep: a composite's part found below its ROOT, a CSV dataset's
    clips in one, whatever layout it imitates), ``partly ...`` where some do, else "" (a dataset as it was
    distributed, or one not known to be otherwise). Each folder is looked at once."""
    known: dict[Path, bool] = {}

    def inside(folder: Path) -> bool:
        if folder not in known:
            known[folder] = is_synth_root(folder) or (folder.parent != folder and inside(folder.parent))
        return known[folder]

    synth = [inside(s.frames[0].parent.absolute()) for s in samples if s.frames]
    return DATA_KIND if synth and all(synth) else f"partly {DATA_KIND}" if any(synth) else ""


@dataclass(frozen=True)
class SynthConfig:
    """Generation parameters (all saved in ``synth.json``)."""

    subjects: int = 8
    clips_per_class: int = 4
    amplitude: float = 1.5                          # px at apex for a 200-px-wide face (x U(0.6, 1.4) per clip)
    seed: int = 0
    fps: float = 200.0
    image_size: int = 256                           # square frames
    clip_s: tuple[float, float] = (0.8, 1.0)        # clip length
    me_s: tuple[float, float] = (0.2, 0.5)          # onset..offset
    blink_p: float = 0.3                            # chance of a blink in a clip
    head_px: float = 0.8                            # max head drift, px for a 200-px face
    noise_sigma: tuple[float, float] = (1.0, 3.0)   # sensor noise (8-bit levels)
    flicker: float = 0.008                          # max illumination gain swing
    jpeg_quality: tuple[int, int] = (85, 95)

    def validate(self) -> None:
        if self.subjects < 0 or self.clips_per_class < 1:
            raise InputError(f"--subjects {self.subjects} / --clips-per-class {self.clips_per_class}: "
                             "must be >= 0 (0: every identity) / >= 1")
        if not 0 < self.amplitude <= 20:
            raise InputError(f"--amplitude {self.amplitude}: must be in (0, 20] px")
        if not 10 <= self.fps <= 1000:
            raise InputError(f"--fps {self.fps}: must be in [10, 1000]")
        if not 96 <= self.image_size <= 1024:
            raise InputError(f"--image-size {self.image_size}: must be in [96, 1024]")

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


# --------------------------------------------------------------------------- clips


def plan_clips(n_subjects: int, cfg: SynthConfig) -> list[dict[str, Any]]:
    """Per-clip parameters: class, timing, amplitude factor and distractors, from (seed, subject, class, k)."""
    plans = []
    for s in range(1, n_subjects + 1):
        keys = [(ci, k) for ci in range(len(CLASSES)) for k in range(cfg.clips_per_class)]
        order = np.random.default_rng([cfg.seed, s, 1]).permutation(len(keys))
        for ep, j in enumerate(order, start=1):
            ci, k = keys[j]
            rng = np.random.default_rng([cfg.seed, s, ci, k])
            total = float(rng.uniform(*cfg.clip_s))
            n = int(round(total * cfg.fps))
            dur = float(rng.uniform(*cfg.me_s))
            onset = float(rng.uniform(0.1, max(total - dur - 0.1, 0.1)))
            event = random_event(CLASSES[ci], rng, onset, dur, 1.0)
            factor = float(rng.uniform(0.6, 1.4))
            blinks = []
            if rng.random() < cfg.blink_p:
                bd = float(rng.uniform(0.15, 0.3))
                blinks.append(Blink(float(rng.uniform(0.0, total - bd)), bd))
            plans.append({
                "subject": s, "filename": f"EP{ep:02d}_01", "class": CLASSES[ci], "repetition": k,
                "frames": n, "event": event, "amplitude_factor": factor, "blinks": blinks,
                "head": {"translation": float(rng.uniform(0.2, 1.0)), "rotation_deg": float(rng.uniform(0.02, 0.15)),
                         "scale": float(rng.uniform(0.0005, 0.002)), "max_hz": float(rng.uniform(0.5, 2.0)),
                         "seed": int(rng.integers(2**31))},
                "flicker": {"amplitude": float(rng.uniform(0.0, cfg.flicker)),
                            "hz": (float(rng.uniform(0.5, 3.0)), float(rng.uniform(3.0, 12.0))),
                            "phase": (float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(0, 2 * np.pi)))},
                "noise_sigma": float(rng.uniform(*cfg.noise_sigma)),
                "jpeg_quality": int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1)),
                "noise_seed": int(rng.integers(2**31)),
            })
    return plans


def frame_number(t: float, fps: float) -> int:
    """1-based frame number (``imgN.jpg``) of time t (frame k is at (k - 1) / fps)."""
    return int(round(t * fps)) + 1


def render_clip(carrier_image: np.ndarray, keypoints: np.ndarray, face_px: float, plan: dict[str, Any],
                cfg: SynthConfig, folder: str | Path) -> dict[str, Any]:
    """Render one clip's frames into ``folder`` (img1.jpg ...) and return its truth record."""
    scale = face_px / REFERENCE_FACE_PX
    e = plan["event"]
    amplitude = cfg.amplitude * plan["amplitude_factor"] * scale
    event = Event(e.action, e.onset, e.apex, e.offset, amplitude)
    h = plan["head"]
    head = HeadMotion(h["seed"], translation_px=cfg.head_px * h["translation"] * scale,
                      rotation_deg=h["rotation_deg"], scale=h["scale"], max_hz=h["max_hz"])
    fl = plan["flicker"]
    anim = FaceAnimator(carrier_image, keypoints, events=[event], blinks=plan["blinks"], head=head,
                        flicker=Flicker(fl["amplitude"], fl["hz"], fl["phase"]),
                        noise_sigma=plan["noise_sigma"], seed=plan["noise_seed"])
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{folder}: cannot be made ({e.strerror or e})") from None
    params = [cv2.IMWRITE_JPEG_QUALITY, plan["jpeg_quality"]]
    for i in range(plan["frames"]):
        if not cv2.imwrite(str(folder / f"img{i + 1}.jpg"), anim.render(i / cfg.fps, i), params):
            full = shutil.disk_usage(folder).free < 16 << 20  # OpenCV says only that it failed
            raise OutputError(f"{folder / f'img{i + 1}.jpg'}: not written "
                              f"({'no space left on device' if full else 'OpenCV could not write it'})")
    return {
        "subject": plan["subject"], "folder": f"sub{plan['subject']:02d}", "filename": plan["filename"],
        "class": event.cls, "action": event.action, "action_units": event.action_units,
        "frames": plan["frames"], "fps": cfg.fps,
        "onset_frame": frame_number(event.onset, cfg.fps), "apex_frame": frame_number(event.apex, cfg.fps),
        "offset_frame": frame_number(event.offset, cfg.fps),
        "onset_s": event.onset, "apex_s": event.apex, "offset_s": event.offset,
        "amplitude_px": amplitude, "face_width_px": face_px,
        "blinks": [b.to_dict() for b in plan["blinks"]],
        "head": {k: v for k, v in h.items() if k != "seed"}, "flicker": {"amplitude": fl["amplitude"], "hz": fl["hz"]},
        "noise_sigma": plan["noise_sigma"], "jpeg_quality": plan["jpeg_quality"],
    }


def _render_task(args: tuple) -> dict[str, Any]:
    return render_clip(*args)


def _init_worker() -> None:
    cv2.setNumThreads(1)


# --------------------------------------------------------------------------- generate


def _prepare_root(root: Path) -> None:
    frames = root / FRAMES_DIR
    if frames.exists():
        if not is_synth_root(root):
            raise InputError(f"{root}: already holds {FRAMES_DIR} that mpt-synth did not write (no synth.json); "
                             "choose an empty --out")
        shutil.rmtree(frames)
        (root / SHEET).unlink(missing_ok=True)  # an earlier run's sheet would name clips that are gone
    root.mkdir(parents=True, exist_ok=True)


def write_sheet(path: Path, clips: list[dict[str, Any]]) -> None:
    """The CASME II coding sheet (xlsx) of the clips."""
    import pandas as pd

    rows = [[c["subject"], c["filename"], c["onset_frame"], c["apex_frame"], c["offset_frame"],
             c["action_units"], c["class"]] for c in clips]
    pd.DataFrame(rows, columns=COLUMNS).to_excel(path, index=False, sheet_name="Sheet1")


def generate(faces_dir: str | Path, out_root: str | Path, cfg: SynthConfig = SynthConfig(),
             workers: int | None = None, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Generate the benchmark; returns the ``synth.json`` content.

    ``workers``: processes rendering clips (default: all cores; 1 = in this process).
    ``progress(done, total)`` is called after each clip.
    """
    cfg.validate()
    root = Path(out_root)
    carriers, notes = find_carriers(faces_dir, cfg.image_size)
    if cfg.subjects > len(carriers):
        are = "identity is" if len(carriers) == 1 else "identities are"
        raise InputError(f"{faces_dir}: --subjects {cfg.subjects} asked for, but only {len(carriers)} distinct {are} "
                         f"usable there ({', '.join(c.identity for c in carriers)}); "
                         f"use --subjects {len(carriers)} or fewer, or add photos/videos of other people"
                         + skip_summary(notes, " (skipped: ") + (")" if notes else ""))
    chosen = carriers[: cfg.subjects] if cfg.subjects else carriers
    plans = plan_clips(len(chosen), cfg)
    _prepare_root(root)
    # marks the folder as ours from the start: a stopped run's clips are mpt-synth's to replace on a rerun
    _write_summary(root, {"generator": "mpt-synth", "version": __version__, "complete": False})
    tasks = []
    for p in plans:
        c = chosen[p["subject"] - 1]
        folder = root / FRAMES_DIR / f"sub{p['subject']:02d}" / p["filename"]
        tasks.append((c.image, c.keypoints, c.face_px, p, cfg, folder))
    workers = min(workers or os.cpu_count() or 1, len(tasks))
    clips: list[dict[str, Any]] = []
    if workers <= 1:
        for t in tasks:
            clips.append(render_clip(*t))
            if progress:
                progress(len(clips), len(tasks))
    else:
        ex = ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker)
        try:
            for rec in ex.map(_render_task, tasks, chunksize=1):
                clips.append(rec)
                if progress:
                    progress(len(clips), len(tasks))
        finally:  # stopped: the clips not started are dropped, not rendered before the process may end
            ex.shutdown(wait=True, cancel_futures=True)
    clips.sort(key=lambda c: (c["subject"], c["filename"]))
    try:
        write_sheet(root / SHEET, clips)
    except OSError as e:
        raise OutputError(f"{root / SHEET}: not written ({e.strerror or e})") from None
    summary = to_jsonable({
        "generator": "mpt-synth", "version": __version__, "layout": "CASME II",
        "faces_dir": str(faces_dir), "params": cfg.to_dict(),
        "reference_face_px": REFERENCE_FACE_PX, "crop_factor": CROP_FACTOR,
        "identities_available": len(carriers), "skipped": notes, "look_alike": look_alikes(chosen),
        "subjects": [{"subject": i + 1, "folder": f"sub{i + 1:02d}", **c.describe()} for i, c in enumerate(chosen)],
        "clips": clips, "complete": True,
    })
    _write_summary(root, summary)
    return summary


def _write_summary(root: Path, summary: dict[str, Any]) -> None:
    try:
        write_json(root / "synth.json", summary, indent=1)
    except OSError as e:
        raise OutputError(f"{root / 'synth.json'}: not written ({e.strerror or e})") from None
