"""Long-video spotting benchmark on real people (``mpt-synth --long``).

Carriers are the real videos of a faces folder (one per person, the longest stretch with a face;
played forward and backward, ping-pong, until the video is long enough); where the folder has only
photos, each face is animated (:class:`mpt_live.synthface.FaceAnimator`) with natural blinks and
head motion. Into each carrier, micro-movements (MEGC: at most 0.5 s; here 7-15 frames at 30 fps,
1-3 px at apex) and macro-expressions (0.7-2.5 s, 3-6 px) of the recognizer's classes are injected
at known times. The deformation is a :func:`mpt_live.synthface.action_field` laid out on *that
frame's* face keypoints (tracked and smoothed with :class:`mpt_live.face.FaceAligner`), so it
follows the talking, moving face. The carriers' own blinks, speech and head motion stay unannotated
distractors, as in the real datasets. Frames are scaled so the face is ~200 px wide, JPEG-compressed
(quality 70-90, as webcams stream) and written as 30 fps MP4 (mp4v). Output::

    ROOT/videos/long_001.mp4 ...
    ROOT/annotations.csv   video, onset, apex, offset (0-based frames, inclusive), fps, type, label, action_units
    ROOT/long.json         parameters, carriers and per-event truth (seconds, action, amplitude)

Deterministic for a seed; annotation rows are flushed video by video.
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from mpt_live import __version__
from mpt_live.errors import InputError, OutputError
from mpt_live.quiet import quiet_opencv
from mpt_live.synthface import (CLASSES, Blink, Event, FaceAnimator, FaceFrame, Flicker, HeadMotion, action_field,
                                random_event, source_coords, to_jsonable)
from mpt_live.writers import CSVSink, write_json

from .carriers import SAME_PERSON, find_carriers
from .faces_folder import media_files, open_video, skip_summary, unreadable_video
from .synth import IMAGE_EXT, VIDEO_EXT

CSV_COLUMNS = ["video", "onset", "apex", "offset", "fps", "type", "label", "action_units"]
PHOTO_SIZE = 320      # animated photos: 320-px frames, face ~200 px (carriers.CROP_FACTOR 1.6)
MIN_CARRIER_S = 1.0   # a video needs at least this long a stretch with a face


@dataclass(frozen=True)
class LongConfig:
    """Generation parameters (all saved in ``long.json``)."""

    videos: int = 4
    minutes: float = 1.0
    seed: int = 0
    fps: float = 30.0
    micro_per_min: float = 10.0
    macro_per_min: float = 3.0
    micro_frames: tuple[int, int] = (6, 14)     # offset - onset: 7-15 frames inclusive, <= 0.5 s at 30 fps
    macro_frames: tuple[int, int] = (21, 75)    # 0.7-2.5 s
    micro_px: tuple[float, float] = (1.0, 3.0)  # apex displacement, output frame px
    macro_px: tuple[float, float] = (3.0, 6.0)
    face_px: float = 200.0                      # carriers are scaled so the face is this wide
    jpeg_quality: tuple[int, int] = (70, 90)

    def validate(self) -> None:
        if self.videos < 1:
            raise InputError(f"--videos {self.videos}: must be >= 1")
        if not 0 < self.minutes <= 60:
            raise InputError(f"--minutes {self.minutes}: must be in (0, 60]")

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass
class LongCarrier:
    """A person: a real video stretch (JPEG frames + smoothed keypoints) or an animated photo."""

    identity: str
    source: str
    kind: str                      # "video" | "photo"
    fps: float
    size: tuple[int, int]          # output (width, height)
    scale: float                   # source px -> output px
    frames: list[bytes] | None = None
    keypoints: np.ndarray | None = None   # (N, 6, 2) source px, smoothed
    first_frame: int = 0
    photo: Any = None              # train.carriers.Carrier for photos

    def describe(self) -> dict[str, Any]:
        d = {"identity": self.identity, "source": self.source, "kind": self.kind, "size": list(self.size),
             "scale": self.scale}
        if self.kind == "video":
            d.update(fps=self.fps, first_frame=self.first_frame, frames=len(self.frames or []))
        return d


# --------------------------------------------------------------------------- carriers


def _even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


def video_carrier(path: Path, rel: str, face_px: float) -> LongCarrier | str:
    """The longest stretch of ``path`` with a face, as a carrier; or a note saying why not."""
    from mpt_live.face import FaceAligner

    cap, fps = open_video(path)
    try:  # released also when reading or tracking raises (Ctrl-C, a damaged file)
        frames, kps, widths = [], [], []
        with FaceAligner(model="full", smooth=True, stabilize=False) as aligner:
            while True:
                with quiet_opencv():
                    ok, img = cap.read()
                if not ok:
                    break
                r = aligner.process(img, len(frames) / fps)
                frames.append(img)
                kps.append(None if r is None else r.smoothed)
                widths.append(0 if r is None else r.box[2])
    finally:
        cap.release()
    if not frames:  # an empty, cut-off or foreign file: said so, not 'no face' (nor a traceback)
        return unreadable_video(path, rel)
    best, start = (0, 0), None
    for i, k in enumerate(kps + [None]):
        if k is not None and start is None:
            start = i
        elif k is None and start is not None:
            best = max(best, (i - start, start))
            start = None
    n, first = best
    if n < MIN_CARRIER_S * fps:
        return f"{rel}: no stretch of {MIN_CARRIER_S:g} s with a face"
    scale = float(np.clip(face_px / np.median(widths[first:first + n]), 0.4, 3.0))
    h, w = frames[0].shape[:2]
    enc = [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes() for f in frames[first:first + n]]
    identity = SAME_PERSON.get(path.stem, path.stem)
    return LongCarrier(identity, rel, "video", fps, (_even(w * scale), _even(h * scale)), scale, enc,
                       np.stack(kps[first:first + n]), first)


def find_long_carriers(faces_dir: str | Path, face_px: float = 200.0) -> tuple[list[LongCarrier], list[str]]:
    """The videos of ``faces_dir`` as carriers (one per person, the longest); photos only if it has no video."""
    faces_dir = Path(faces_dir)
    if not faces_dir.is_dir():
        raise InputError(f"{faces_dir}: not a directory")
    notes: list[str] = []
    files = media_files(faces_dir, notes)
    people: dict[str, LongCarrier] = {}
    for p in (f for f in files if f.suffix.lower() in VIDEO_EXT):
        if not os.access(p, os.R_OK):
            notes.append(f"{p.relative_to(faces_dir).as_posix()}: not readable (permission denied)")
            continue
        c = video_carrier(p, p.relative_to(faces_dir).as_posix(), face_px)
        if isinstance(c, str):
            notes.append(c)
        elif c.identity not in people or len(c.frames) > len(people[c.identity].frames):
            people[c.identity] = c
    if not people:
        if not any(f.suffix.lower() in IMAGE_EXT for f in files):
            what = "photo/video" if len(files) == 1 else "photos/videos"
            raise InputError(f"{faces_dir}: no usable faces (looked at {len(files)} {what})" + skip_summary(notes))
        photos, more = find_carriers(faces_dir, PHOTO_SIZE)  # it looks at the folder again: a file's note once
        seen = {n.split(": ", 1)[0] for n in notes}
        notes += [n for n in more if n.split(": ", 1)[0] not in seen]
        for c in photos:
            people[c.identity] = LongCarrier(c.identity, c.source, "photo", 0.0, (PHOTO_SIZE, PHOTO_SIZE),
                                             face_px / c.face_px, photo=c)
    return sorted(people.values(), key=lambda c: c.identity), notes


# --------------------------------------------------------------------------- events


def plan_events(n_frames: int, cfg: LongConfig, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Micro and macro events at known frames, one per equal slot of the video (1 s clear at both ends)."""
    minutes = n_frames / cfg.fps / 60
    kinds = ["micro"] * max(1, round(minutes * cfg.micro_per_min)) + ["macro"] * round(minutes * cfg.macro_per_min)
    kinds = [kinds[i] for i in rng.permutation(len(kinds))]
    classes = {k: [CLASSES[i] for i in rng.permutation(len(CLASSES))] for k in ("micro", "macro")}
    lo, hi = int(cfg.fps), n_frames - int(cfg.fps)
    slot = (hi - lo) / len(kinds)
    out: list[dict[str, Any]] = []
    for i, kind in enumerate(kinds):
        span = cfg.micro_frames if kind == "micro" else cfg.macro_frames
        dur = int(rng.integers(span[0], span[1] + 1))
        dur = min(dur, max(int(slot) - 2, span[0]))
        start = lo + int(i * slot) + int(rng.integers(0, max(int(slot) - dur, 1)))
        cls = classes[kind][sum(k == kind for k in kinds[:i]) % len(CLASSES)]
        amp = float(rng.uniform(*(cfg.micro_px if kind == "micro" else cfg.macro_px)))
        e = random_event(cls, rng, start / cfg.fps, dur / cfg.fps, amp)
        apex = int(np.clip(round(e.apex * cfg.fps), start + 1, start + dur - 1))
        out.append({"type": kind, "onset": start, "apex": apex, "offset": start + dur,
                    "event": Event(e.action, start / cfg.fps, apex / cfg.fps, (start + dur) / cfg.fps, amp)})
    return out


def inject(image: np.ndarray, keypoints: np.ndarray, active: list[tuple[Event, float]]) -> np.ndarray:
    """``image`` with the events' deformations (each at intensity s) laid out on ``keypoints``.

    Only the bounding box of the displacement field is resampled; the rest stays bit-exact.
    """
    if not active:
        return image
    face = FaceFrame.from_keypoints(keypoints)
    h, w = image.shape[:2]
    field = np.zeros((h, w, 2), np.float32)
    for e, s in active:
        field += np.float32(s) * action_field((h, w), face, e.action, e.amplitude)
    ys, xs = np.nonzero(np.abs(field).max(-1) > 1e-4)
    if len(xs) == 0:
        return image
    m = int(math.ceil(max(e.amplitude for e, _ in active))) + 2
    x0, x1, y0, y1 = max(xs.min() - m, 0), min(xs.max() + m + 1, w), max(ys.min() - m, 0), min(ys.max() + m + 1, h)
    gx, gy = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
    # the whole-frame field is read at the box's absolute coordinates
    qx, qy = source_coords(gx, gy, field, out=(np.empty_like(gx), np.empty_like(gy),
                                               np.empty(gx.shape + (2,), np.float32)))
    out = image.copy()
    out[y0:y1, x0:x1] = cv2.remap(image, qx, qy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    return out


def pingpong(j: int, n: int) -> int:
    """Source frame of step ``j`` when ``n`` frames play forward, backward, forward ..."""
    if n <= 1:
        return 0
    k = j % (2 * (n - 1))
    return k if k < n else 2 * (n - 1) - k


# --------------------------------------------------------------------------- render


def _photo_animator(c: LongCarrier, events: list[Event], n_frames: int, cfg: LongConfig,
                    rng: np.random.Generator) -> tuple[FaceAnimator, list[Blink]]:
    blinks, t = [], float(rng.uniform(0.5, 3.0))
    while t < n_frames / cfg.fps - 0.5:
        d = float(rng.uniform(0.15, 0.35))
        blinks.append(Blink(t, d))
        t += d + float(rng.uniform(2.0, 6.0))
    head = HeadMotion(int(rng.integers(2**31)), translation_px=3.0, rotation_deg=1.5, scale=0.01, max_hz=0.5)
    flicker = Flicker(float(rng.uniform(0.0, 0.006)), (float(rng.uniform(0.3, 2)), float(rng.uniform(3, 8))))
    return FaceAnimator(c.photo.image, c.photo.keypoints, events=events, blinks=blinks, head=head, flicker=flicker,
                        noise_sigma=float(rng.uniform(1.0, 3.0)), seed=int(rng.integers(2**31))), blinks


def render_video(c: LongCarrier, path: Path, plan: list[dict[str, Any]], n_frames: int, cfg: LongConfig,
                 rng: np.random.Generator) -> dict[str, Any]:
    """Write one benchmark video; returns its record for ``long.json``."""
    events = [p["event"] for p in plan]
    quality = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
    anim, blinks = _photo_animator(c, events, n_frames, cfg, rng) if c.kind == "photo" else (None, [])
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), cfg.fps, c.size)
    if not writer.isOpened():
        raise InputError(f"{path}: cannot open an MP4 (mp4v) video writer there")
    done = False
    try:
        for j in range(n_frames):
            t = j / cfg.fps
            if anim is not None:
                frame = anim.render(t, j)
            else:
                k = pingpong(int(round(t * c.fps)), len(c.frames))
                src = cv2.imdecode(np.frombuffer(c.frames[k], np.uint8), cv2.IMREAD_COLOR)
                frame = cv2.resize(src, c.size, interpolation=cv2.INTER_AREA if c.scale < 1 else cv2.INTER_CUBIC)
                active = [(e, s) for e in events if (s := e.intensity(t)) > 0]
                frame = inject(frame, c.keypoints[k] * c.scale, active)
            ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
            writer.write(cv2.imdecode(buf, cv2.IMREAD_COLOR))
        done = True
    finally:
        writer.release()
        if not done:  # stopped or failed mid-way: a video cut short is no benchmark video (annotations.csv
            path.unlink(missing_ok=True)  # and long.json list only the finished ones)
    _check_written(path, n_frames)
    return {"video": path.name, "frames": n_frames, "fps": cfg.fps, "carrier": c.describe(),
            "jpeg_quality": quality, "blinks": [b.to_dict() for b in blinks],
            "events": [{"type": p["type"], "onset": p["onset"], "apex": p["apex"], "offset": p["offset"],
                        **p["event"].to_dict()} for p in plan]}


def _check_written(path: Path, n_frames: int) -> None:
    """OpenCV's writer says nothing when the disk fills: a video that does not read back whole is removed and
    named (OutputError), not listed as a benchmark video."""
    cap = cv2.VideoCapture(str(path))
    try:
        got = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
    finally:
        cap.release()
    if got == n_frames:
        return
    free = shutil.disk_usage(path.parent).free
    path.unlink(missing_ok=True)
    why = "no space left on device" if free < 16 << 20 else "it does not read back whole"
    raise OutputError(f"{path}: not written ({why}: {max(got, 0)} of {n_frames} frames); the videos before it "
                      f"and their rows are kept")


def generate_long(faces_dir: str | Path, out_root: str | Path, cfg: LongConfig = LongConfig(),
                  progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Generate the long benchmark; returns the ``long.json`` content."""
    cfg.validate()
    root = Path(out_root)
    carriers, notes = find_long_carriers(faces_dir, cfg.face_px)
    if (root / "videos").exists():
        if not (root / "long.json").is_file():
            raise InputError(f"{root}: already holds videos/ that mpt-synth --long did not write (no long.json); "
                             "choose an empty --out")
        shutil.rmtree(root / "videos")
    (root / "videos").mkdir(parents=True, exist_ok=True)
    order = np.random.default_rng([cfg.seed, 11]).permutation(len(carriers))
    n_frames = int(round(cfg.minutes * 60 * cfg.fps))
    summary: dict[str, Any] = {
        "generator": "mpt-synth --long", "version": __version__, "faces_dir": str(faces_dir),
        "params": cfg.to_dict(), "carriers_available": [c.describe() for c in carriers], "skipped": notes,
        "distractors": "the carriers' own blinks, speech and head motion (videos) or synthetic blinks and "
                       "head motion (photos), not annotated",
        "complete": False, "videos": [],
    }

    def save() -> None:  # after every video: an interrupted run keeps a truthful long.json (never half of one)
        try:
            write_json(root / "long.json", to_jsonable(summary), indent=1)
        except OSError as e:
            raise OutputError(f"{root / 'long.json'}: not written ({e.strerror or e})") from None

    save()
    with CSVSink(root / "annotations.csv", CSV_COLUMNS) as sink:  # whole rows only, each written at once
        for i in range(cfg.videos):
            c = carriers[order[i % len(carriers)]]
            rng = np.random.default_rng([cfg.seed, i, 29])
            plan = plan_events(n_frames, cfg, rng)
            path = root / "videos" / f"long_{i + 1:03d}.mp4"
            summary["videos"].append(render_video(c, path, plan, n_frames, cfg, rng))
            for p in plan:
                e = p["event"]
                sink.write(dict(zip(CSV_COLUMNS, [path.name, p["onset"], p["apex"], p["offset"], f"{cfg.fps:g}",
                                                  p["type"], e.cls, e.action_units])))
            save()
            if progress:
                progress(i + 1, cfg.videos)
    summary["complete"] = True
    save()
    summary = to_jsonable(summary)
    return summary
