"""The bundled default input: a synthetic interview-like clip with known facial movements.

Rendered at run time from scikit-image's public-domain ``astronaut`` portrait (Eileen Collins,
NASA), so the project ships no face media: ~12 s at 30 fps, 640x480, with slight head drift,
blinks, sensor noise, illumination flicker and four subtle local facial movements of different
classes at known times. ``render_demo_clip`` writes the MP4 and ``<name>.truth.json``.
``face=PHOTO`` renders the same clip from any face photo instead (``mpt-live --demo --demo-face``):
its face (the largest confident one, else the best-scoring: ``mpt_live.face_confirm.photo_face``) is framed
as the astronaut's is (about 0.28 of the frame's width, centred a little above the middle), so a recognizer
can be tried on faces it was not trained on.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import InputError
from .photos import PhotoError, read_photo
from .sources import VIDEO_EXTENSIONS
from .synthface import CLASSES, Blink, FaceAnimator, Flicker, HeadMotion, detect_face, random_event, to_jsonable
from .writers import atomic_path

FPS = 30.0
DURATION_S = 12.0
SIZE = (640, 480)  # width, height
EVENT_TIMES = (2.5, 5.0, 7.5, 10.0)  # approximate onsets (s)
BLINK_SLOTS = (1.0, 3.8, 6.3, 8.8, 11.2)  # between the events
AMPLITUDE_PX = (2.0, 3.0)  # apex displacement range (frame px; the face is ~180 px wide)
# slight head drift, slow (mostly below the 0.4 Hz magnification band) so it does not mask the movements
HEAD = {"translation_px": 0.8, "rotation_deg": 0.15, "scale": 0.0015, "max_hz": 0.3}
SOURCE = "skimage.data.astronaut() (Eileen Collins, NASA; public domain), rendered by mpt_live.demo_input"


FACE_WIDTH = 0.28  # the astronaut's face box over the frame width
FACE_CENTRE = (0.5, 0.42)  # where its centre sits, fractions of the frame
# the detector sees a photo squeezed to its square input: the astronaut's face is found down to 1/15 of the
# photo's longer side (measured 31, 57 and 103 px faces on grey canvases); a real face is asked for 1/10
FACE_SHARE = 10
# a photo framed so that it fills less of the demo frame than this is said to be small (its edges are stretched over
# the rest: a 112 px crop of a face fills 15 %; close-up portraits of 512 px, 27-35 %; whole portraits 80 % or more)
FILLED = 0.5


def demo_portrait() -> np.ndarray:
    """The astronaut portrait as a 640x480 BGR frame: the 4:3 head-and-shoulders crop, upscaled."""
    from skimage import data

    rgb = data.astronaut()  # 512x512 RGB
    crop = rgb[0:288, 32:416]  # 384x288 (4:3) around the face
    return cv2.resize(np.ascontiguousarray(crop[..., ::-1]), SIZE, interpolation=cv2.INTER_CUBIC)


def photo_portrait(path: str | Path) -> np.ndarray:
    """A face photo framed like the demo portrait: 640x480 BGR, its largest face about FACE_WIDTH of the
    width at FACE_CENTRE (borders replicated where the photo ends). One-line InputError for a file that
    is not an image, holds no face or one too small for the detector (its width and the crop that works said)."""
    return frame_photo(path)[0]


def frame_photo(path: str | Path) -> tuple[np.ndarray, dict[str, Any]]:
    """:func:`photo_portrait` and which face of the photo it shows: ``faces`` (how many the photo holds) and
    ``box`` (x, y, w, h of the one used, in the upright photo's pixels) and ``confident`` (whether it was confident). A photo not changed since
    it was last framed (``--demo-face``: checked for its note, then rendered) is not read and searched again."""
    try:
        st = os.stat(path)
    except OSError:  # read_photo names the reason
        return _frame_photo(str(path))
    framed, used = _framed(str(path), os.path.abspath(path), st.st_size, st.st_mtime_ns, st.st_ino)
    return framed.copy(), {**used, "box": list(used["box"])}


@functools.lru_cache(maxsize=4)
def _framed(path: str, abspath: str, size: int, mtime_ns: int, inode: int) -> tuple[np.ndarray, dict[str, Any]]:
    return _frame_photo(path)


def _frame_photo(path: str) -> tuple[np.ndarray, dict[str, Any]]:
    try:
        image = read_photo(path)  # upright, 8-bit BGR, transparency over grey (mpt_live.photos)
    except PhotoError as e:  # a video given for the photo: said so, not 'damaged, or not an image'
        if e.reason.startswith("not an image file") and Path(path).suffix.lower() in VIDEO_EXTENSIONS:
            raise InputError(f"{path}: a video file, not a photo: the demo clip is rendered from one face photo "
                             f"(to run on this video: --video {path})") from None
        raise
    from .face import FaceAligner
    from .face_confirm import NEW_SCORE

    with FaceAligner(model="full", smooth=False) as fa:
        found = fa.detect_image(image)  # one search: the face used and how many there are
        face = fa.process_image(image, found)
        if face is None:
            small = _small_face(fa, image)
            if small is not None:
                h, w = image.shape[:2]
                raise InputError(f"{path}: the face is too small to be found in this {w}x{h} photo (about {small} px "
                                 f"wide, found only in a crop of it); --demo-face needs a face at least 1/{FACE_SHARE} "
                                 f"of the photo's longer side: crop the photo around the face to about "
                                 f"{small * FACE_SHARE} px or less")
            raise InputError(f"{path}: no face found in this photo (--demo-face needs a frontal face)")
        faces = max(len(found), 1)
    x, y, w, h = face.box
    scale = SIZE[0] * FACE_WIDTH / max(w, 1.0)
    cx, cy = x + w / 2, y + h / 2
    m = np.array([[scale, 0, SIZE[0] * FACE_CENTRE[0] - scale * cx], [0, scale, SIZE[1] * FACE_CENTRE[1] - scale * cy]])
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    framed = cv2.warpAffine(image, m, SIZE, flags=interp, borderMode=cv2.BORDER_REPLICATE)
    ih, iw = image.shape[:2]  # the share of the frame the photo covers (the rest: its edges stretched)
    cover = [max(0.0, min(n, o + scale * k) - max(0.0, o)) / n for n, o, k in ((SIZE[0], m[0, 2], iw),
                                                                               (SIZE[1], m[1, 2], ih))]
    return framed, {"faces": faces, "box": [int(v) for v in face.box], "confident": face.score >= NEW_SCORE,
                    "filled": round(float(cover[0] * cover[1]), 3), "scale": round(float(scale), 3)}


def _small_face(fa: Any, image: np.ndarray) -> int | None:
    """The width (px) of a confident face found only in square crops of a photo whose whole-image search found
    none (a face too small for the detector's view of the whole photo; :func:`mpt_live.crop_search.search`, whose
    crops a photo with no face at all runs through before it says so: 423 detector calls for a 4:3 photo, 570 for a
    9:16 one, about 3 s on a loaded 2-core machine); None when the crops hold none either."""
    from .crop_search import search

    found = search(image, fa.detect_image)
    return None if found is None else found[0][2]


def face_choice(path: str | Path, used: dict[str, Any]) -> str | None:
    """The line that says which face of a group photo the clip shows (None for a photo of one face)."""
    if used["faces"] < 2:
        return None
    x, y, w, h = used["box"]
    which = "the largest confident one" if used.get("confident", True) else "none confident; the best-scoring one"
    return (f"{Path(path).name}: {used['faces']} faces found; {which} is used "
            f"({w}x{h} px at x={x}, y={y} of the upright photo)")


def small_photo(path: str | Path, used: dict[str, Any]) -> str | None:
    """The line that says the photo ``path`` shows too little around its face for the demo frame (framed, it fills
    under :data:`FILLED` of it, its edges stretched over the rest: a small photo, or a close crop), with the size that
    fills it at the face's size; None where it fills enough."""
    filled, scale, w = used.get("filled", 1.0), used.get("scale", 1.0), used["box"][2]
    if filled >= FILLED:
        return None
    larger = f", and its face ({w} px wide) is enlarged {scale:.1f}x" if scale > 1.05 else ""
    frame, need = f"{SIZE[0]}x{SIZE[1]}", f"{round(SIZE[0] / scale)}x{round(SIZE[1] / scale)}"
    return (f"{path}: the photo shows too little around its face for the demo's {frame} frame: it fills "
            f"{filled:.0%} of it, its edges stretched over the rest{larger}; a photo with more around the face (about "
            f"{need} px at this face size, the face centred) renders a truer clip")


def photo_notes(path: str | Path, used: dict[str, Any]) -> list[tuple[str, str]]:
    """What ``--demo-face`` says of the photo ``path`` before it renders (``used``: :func:`frame_photo`'s): a warning
    that it shows too little around its face for the demo frame, a note of which face of a group photo the clip shows."""
    return ([("warning", w)] if (w := small_photo(path, used)) else []) + (
        [("note", n)] if (n := face_choice(path, used)) else [])


def demo_animator(seed: int = 0, face_photo: str | Path | None = None) -> tuple[FaceAnimator, dict[str, Any]]:
    """The animator of the demo clip and its ground truth (events, blinks, parameters); from the astronaut,
    or from ``face_photo`` (see :func:`photo_portrait`)."""
    portrait, used = (demo_portrait(), None) if face_photo is None else frame_photo(face_photo)
    face = detect_face(portrait)
    if face is None:  # the astronaut always is; a photo's face was found before framing
        raise InputError(f"{face_photo or 'demo portrait'}: no face found by the face detector after framing")
    rng = np.random.default_rng([seed, 2508])
    classes = [CLASSES[i] for i in rng.permutation(len(CLASSES))[: len(EVENT_TIMES)]]
    events = []
    for t0, cls in zip(EVENT_TIMES, classes):
        onset = t0 + float(rng.uniform(-0.25, 0.25))
        events.append(random_event(cls, rng, onset, float(rng.uniform(0.3, 0.5)), float(rng.uniform(*AMPLITUDE_PX))))
    n_blinks = int(rng.integers(2, 4))
    slots = sorted(rng.choice(len(BLINK_SLOTS), size=n_blinks, replace=False))
    blinks = [Blink(BLINK_SLOTS[i] + float(rng.uniform(-0.2, 0.2)), float(rng.uniform(0.15, 0.3))) for i in slots]
    head = HeadMotion(seed, **HEAD)
    flicker = Flicker(float(rng.uniform(0.002, 0.006)), (float(rng.uniform(0.5, 2.0)), float(rng.uniform(3, 8))),
                      (float(rng.uniform(0, 6.28)), float(rng.uniform(0, 6.28))))
    anim = FaceAnimator(portrait, face.keypoints, events=events, blinks=blinks, head=head, flicker=flicker,
                        noise_sigma=2.0, seed=seed)
    truth = {
        "source": SOURCE if face_photo is None else f"{Path(face_photo).name}, framed and rendered by mpt_live.demo_input",
        "seed": seed,
        "fps": FPS,
        "frames": int(round(DURATION_S * FPS)),
        "width": SIZE[0],
        "height": SIZE[1],
        "keypoints": face.keypoints,
        "events": [e.to_dict() for e in events],
        "blinks": [b.to_dict() for b in blinks],
        "head_motion": HEAD,
        "flicker": {"amplitude": flicker.amplitude, "hz": flicker.hz},
        "noise_sigma": 2.0,
    }
    if used is not None:
        truth["photo_face"] = used
    return anim, to_jsonable(truth)


def truth_path(video_path: str | Path) -> Path:
    """``clip.mp4`` -> ``clip.truth.json`` next to it."""
    p = Path(video_path)
    return p.with_name(p.stem + ".truth.json")


def render_demo_clip(out_path: str | Path, seed: int = 0, face_photo: str | Path | None = None) -> dict[str, Any]:
    """Render the default input to ``out_path`` (MP4, mp4v) and ``<name>.truth.json``; return the truth.

    Truth events: ``class``, ``action``, ``action_units``, ``start``/``apex``/``end`` (s) and
    ``amplitude_px`` (displacement at apex, frame pixels); ``blinks``: ``start``/``end`` (s).
    Deterministic for a seed (and photo).
    """
    out_path = Path(out_path)
    anim, truth = demo_animator(seed, face_photo)  # a bad photo fails before anything is written
    # made under a temporary name and moved into place only when whole: a stop mid-render leaves no short clip
    with atomic_path(out_path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
        if not writer.isOpened():
            raise InputError(f"{out_path}: cannot open an MP4 (mp4v) video writer there")
        try:
            for i in range(truth["frames"]):
                writer.write(anim.render(i / FPS, i))
        finally:
            writer.release()
    truth_path(out_path).write_text(json.dumps(truth, indent=1) + "\n")
    return truth
