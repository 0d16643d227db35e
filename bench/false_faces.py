"""Things that are not faces beside a real face: how often the face stage confirms each as a face.

Each case is a wide frame (960x480: a real person on the left half, something else on the right half) run
through the session's face stage as ``mpt-live`` runs a file (:class:`~mpt_live.face_watch.FaceWatch`
``auto`` with :class:`~mpt_live.tracks.FaceTracker`, SFace, ``--max-faces 2``). The right half shows

* ``title``: the cartoon title in the clouds of pyfeat_face_noface.mov (its last second, replayed every second),
* ``title_still``, ``title_still_large``: a still of the sharp title held for a second, another one the next second
  (at the size above, and drawn 1.5 times as large),
* ``text``: lettering drawn with ``cv2.putText`` at a size that changes every second,
* ``checker``: a checkerboard, tilted a little,
* ``emoji``: a smiley drawn with circles,
* ``logo``: rings and letters,
* ``printed``: a photo of a real face held still (a face: it must stay one),
* ``none``: an empty backdrop (the real face alone).

Per case and person video: the share of frames where a confirmed face (an ID: it reaches the outputs) lies on the
right half, the share where one lies on the real face, and the IDs given on the right half; before (a run that
switched to full-range gave its finds IDs by their score or persistence alone: :class:`BeforeWatch`) and after
(short-range vouches for them: :meth:`mpt_live.face_watch.FaceWatch.vouch`). Each ``--gate N`` runs the cases again with another
candidate check, not adopted (:class:`NormGate`: SFace's feature norm of a newcomer at least N, on the code before);
``--size`` draws the person smaller (a person further off, found faintly); the held-out people (``--photos DIR``,
animated as bench/identities.py does) replace the shared videos.

``--frame 640x480`` lays each case out in a 4:3 frame: the person and the right half's picture side by side, each
scaled to 320 px, on a backdrop (the distractor as large a share of the frame as in the wide case, not shrunk to a
corner). One real face is a frame short of faces (``--max-faces 2``), the frame the tracker now searches in its two
480 px squares (:func:`mpt_live.tiles.searched_in_tiles`, 4:3 and wider; every 2 s while the face is followed), where
the distractor fills two thirds of a square's side; the columns are the rule before (``tiles.is_wide``: 3:2 and wider,
so no square of a 4:3 frame) and now, patched in one run, both with the face watch as it is now.

    python bench/false_faces.py [--seconds 4] [--gate 5] [--size 160] [--people N] [--photos /work/heldout/set1]
    python bench/false_faces.py --frame 640x480 [--seconds 4] [--people N] [--cases title,emoji]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.append(str(Path(__file__).resolve().parent))  # bench/shared_faces.py, after the installed packages
from shared_faces import faces_folder  # noqa: E402

import mpt_live.face_watch as face_watch  # noqa: E402
import mpt_live.tracks as tracks  # noqa: E402
from mpt_live.face import FaceAligner  # noqa: E402
from mpt_live.face_types import Detection  # noqa: E402
from mpt_live.face_watch import FaceWatch  # noqa: E402
from mpt_live.identity import FaceEmbedder  # noqa: E402
from mpt_live.machine import vector_extensions  # noqa: E402
from mpt_live.tiles import is_wide, searched_in_tiles  # noqa: E402
from mpt_live.tracks import FaceTracker, box_iou  # noqa: E402
from train.compose import Player  # noqa: E402

FACES = faces_folder()
FPS, SIDE = 30.0, 480
STILLS = (12, 15, 18, 21)  # frames of title_frames where the title is sharp
FRAMES = {"960x480": (480, 960), "640x480": (480, 640)}  # the wide frame; the 4:3 one of the squares
CASES = ("title", "title_still", "title_still_large", "text", "checker", "emoji", "logo", "printed", "none")


def backdrop(seed: int) -> np.ndarray:
    """A muted gradient with a little noise (a wall, a studio backdrop)."""
    y, x = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32) / SIDE
    rng = np.random.default_rng(seed)
    base = rng.uniform(70, 170, 3)
    img = base[None, None] * (0.8 + 0.3 * x[..., None] - 0.1 * y[..., None])
    return np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)


def title_frames(faces: Path, zoom: float = 1.0) -> list[np.ndarray]:
    """The last second of pyfeat_face_noface.mov (the cartoon's title in the clouds): squares of the frame's height
    around its centre (``zoom`` > 1: a smaller square, around the title, so it is drawn larger)."""
    cap, frames = cv2.VideoCapture(str(faces / "videos" / "pyfeat_face_noface.mov")), []
    while (got := cap.read())[0]:
        frames.append(got[1])
    cap.release()
    if not frames:
        raise SystemExit(f"{faces}/videos/pyfeat_face_noface.mov: not readable")
    h, w = frames[0].shape[:2]
    s, cy = int(h / zoom), int(h * 0.36)  # the title is drawn above the frame's middle
    y0 = int(np.clip(cy - s / 2, 0, h - s))
    return [cv2.resize(f[y0:y0 + s, (w - s) // 2:(w + s) // 2], (SIDE, SIDE), interpolation=cv2.INTER_AREA)
            for f in frames[-round(FPS):]]


def text_frame(i: int) -> np.ndarray:
    img = backdrop(1)
    scale = (1.0, 1.8, 2.6, 3.4)[int(i / FPS) % 4]  # a new size every second
    for k, word in enumerate(("INTERVIEW", "Session 04", "mpt")):
        cv2.putText(img, word, (20 + (i % 7), 120 + k * int(60 * scale)), cv2.FONT_HERSHEY_DUPLEX, scale,
                    (235, 235, 240), max(1, int(2 * scale)), cv2.LINE_AA)
    return cv2.GaussianBlur(img, (0, 0), 1.2)


def checker_frame(i: int) -> np.ndarray:
    sq = 40
    board = ((np.indices((SIDE, SIDE)) // sq).sum(0) % 2 * 200 + 30).astype(np.uint8)
    m = cv2.getRotationMatrix2D((SIDE / 2, SIDE / 2), 12 + 2 * np.sin(i / FPS), 0.9)
    return cv2.cvtColor(cv2.warpAffine(board, m, (SIDE, SIDE), borderValue=110), cv2.COLOR_GRAY2BGR)


def emoji_frame(i: int) -> np.ndarray:
    img, c = backdrop(2), (SIDE // 2 + int(3 * np.sin(i / 9)), SIDE // 2)
    r = 130
    cv2.circle(img, c, r, (40, 200, 245), -1, cv2.LINE_AA)
    for dx in (-45, 45):
        cv2.circle(img, (c[0] + dx, c[1] - 35), 16, (40, 40, 40), -1, cv2.LINE_AA)
    cv2.ellipse(img, (c[0], c[1] + 25), (60, 40), 0, 10, 170, (40, 40, 40), 8, cv2.LINE_AA)
    return cv2.GaussianBlur(img, (0, 0), 1.0)


def logo_frame(i: int) -> np.ndarray:
    img, c = backdrop(3), (SIDE // 2, SIDE // 2 - 40)
    for r, col in ((120, (200, 80, 30)), (90, (240, 240, 240)), (60, (200, 80, 30))):
        cv2.circle(img, c, r, col, -1, cv2.LINE_AA)
    cv2.putText(img, "ACME", (c[0] - 70, c[1] + 20), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (20, 20, 20), 4, cv2.LINE_AA)
    cv2.putText(img, "studios", (c[0] - 95, c[1] + 190), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (240, 240, 240), 3,
                cv2.LINE_AA)
    return img


def printed_frame(photo: np.ndarray) -> np.ndarray:
    """A photo as a print on a wall: 60 % of the tile, a white border."""
    img, s = backdrop(4), int(SIDE * 0.6)
    p = cv2.resize(photo, (s, s), interpolation=cv2.INTER_AREA)
    o = (SIDE - s) // 2
    img[o - 8:o + s + 8, o - 8:o + s + 8] = 245
    img[o:o + s, o:o + s] = p
    return img


def distractor(case: str, faces: Path, printed: np.ndarray) -> Callable[[int], np.ndarray]:
    """Frame i of the right half for ``case``."""
    if case.startswith("title"):
        title = title_frames(faces, 1.5 if case.endswith("large") else 1.0)
        if case == "title":
            return lambda i: title[i % len(title)]
        # a still of the sharp title (a poster), another one each second
        return lambda i: title[STILLS[int(i / FPS) % len(STILLS)]]
    if case == "printed":
        still = printed_frame(printed)
        return lambda i: still
    if case == "none":
        empty = backdrop(5)
        return lambda i: empty
    return {"text": text_frame, "checker": checker_frame, "emoji": emoji_frame, "logo": logo_frame}[case]


class NormGate:
    """The candidate check: a detection that continues no face with an ID is a face only when SFace's feature of its
    crop (before SFace's unit normalisation) is at least ``least`` long. Face-recognition features are longer for
    clear, recognisable faces and shorter for blur and things that are no face, so the norm is a face-quality
    measure that needs no other model; it is applied to every detector call of the run (short- and full-range,
    whole frame and tiles: a newcomer confident at once, one confirmed later, full-range's find that switches the
    run) by wrapping :class:`~mpt_live.face.FaceAligner`'s ``detect`` and ``detect_tiles``."""

    def __init__(self, least: float) -> None:
        self.least = least
        self.tracker: FaceTracker | None = None
        self.embedder = FaceEmbedder()
        self.dropped: list[float] = []  # norms of the detections it dropped

    def norm(self, frame: np.ndarray, d: Detection) -> float:
        crop = self.embedder.crop(frame, d.keypoints)
        return 0.0 if crop is None else float(np.linalg.norm(self.embedder.feature(crop)))

    def keep(self, frame: np.ndarray, dets: list[Detection]) -> list[Detection]:
        held = [tr.box for tr in (self.tracker.tracks if self.tracker else []) if tr.confirmed]
        out = []
        for d in dets:
            if held and box_iou(np.array([d.box]), np.array(held)).max() >= 0.3:
                out.append(d)
                continue
            n = self.norm(frame, d)
            if n >= self.least:
                out.append(d)
            else:
                self.dropped.append(n)
        return out

    @contextlib.contextmanager
    def applied(self) -> Iterator[NormGate]:
        detect, tiles = FaceAligner.detect, FaceAligner.detect_tiles
        FaceAligner.detect = lambda a, frame, t: self.keep(frame, detect(a, frame, t))
        FaceAligner.detect_tiles = lambda a, frame, found, near=(): self.keep(frame, tiles(a, frame, found, near))
        try:
            yield self
        finally:
            FaceAligner.detect, FaceAligner.detect_tiles = detect, tiles


class BeforeWatch(FaceWatch):
    """The face watch as it was before short-range vouched for a run on full-range: its finds got their IDs by their
    score (``NEW_SCORE``) or by persistence alone."""

    def vouch(self, image: np.ndarray, box: tuple[int, int, int, int], at_once: bool = False,
              confident: bool = False) -> bool:
        return not at_once if self.used == "full" or confident else super().vouch(image, box, at_once)


def compose(person: np.ndarray, right: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, int]:
    """The frame of ``shape`` (h, w) with the person on the left and ``right`` on the right, and the x between them:
    two halves side by side (960x480), or both scaled to half the width, centred on a backdrop (640x480)."""
    h, w = shape
    if w == 2 * SIDE:
        return np.hstack([person, right]), SIDE
    s = w // 2
    frame = cv2.resize(backdrop(7), (w, h), interpolation=cv2.INTER_LINEAR)
    y = (h - s) // 2
    for x, img in ((0, person), (s, right)):
        frame[y:y + s, x:x + s] = cv2.resize(img, (s, s), interpolation=cv2.INTER_AREA)
    return frame, s


@contextlib.contextmanager
def squares_rule(rule: Callable[[tuple[int, ...]], bool] | None) -> Iterator[None]:
    """The tracker and the face watch searching tiles of the frames ``rule`` says (None: as they do now), as
    bench/tiles.py patches them."""
    if rule is None:
        yield
        return
    tracks.searched_in_tiles = face_watch.searched_in_tiles = rule
    try:
        yield
    finally:
        tracks.searched_in_tiles = face_watch.searched_in_tiles = searched_in_tiles


def run(person: Callable[[float], np.ndarray], right: Callable[[int], np.ndarray], n: int, before: bool,
        gate: float | None, shape: tuple[int, int] = FRAMES["960x480"],
        rule: Callable[[tuple[int, ...]], bool] | None = None) -> tuple[float, float, int, int]:
    """Shares of frames with a confirmed face on the right half and on the person; IDs given on the right half; the
    tracker's tile searches
    (``before``: with :class:`BeforeWatch`; ``gate``: with :class:`NormGate` of that norm; ``shape``: the frame's
    (h, w); ``rule``: where tiles are searched, as :func:`squares_rule`)."""
    on_right = on_person = 0
    right_ids: set[int] = set()
    check = NormGate(gate) if gate is not None else None
    with contextlib.ExitStack() as stack:
        stack.enter_context(squares_rule(rule))
        if check is not None:
            stack.enter_context(check.applied())
        watch = stack.enter_context((BeforeWatch if before else FaceWatch)("auto", 2, False))
        tracker = FaceTracker(watch.aligner, 2, FaceEmbedder(), vouch=watch.vouch)
        if check is not None:
            check.tracker = tracker
        for i in range(n):
            frame, mid = compose(person(i / FPS), right(i), shape)
            frame = cv2.imdecode(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])[1], cv2.IMREAD_COLOR)
            faces, _ = tracker.update(frame, i / FPS)
            watch.see(frame, i / FPS, faces, tracker)
            xs = [(f.id, f.face.box[0] + f.face.box[2] / 2) for f in faces]
            right_ids |= {fid for fid, x in xs if x >= mid}
            on_right += any(x >= mid for _, x in xs)
            on_person += any(x < mid for _, x in xs)
    return on_right / n, on_person / n, len(right_ids), tracker.tile_searches


def small(player: Player, size: int) -> Callable[[float], np.ndarray]:
    """The person's video at ``size`` px in the lower middle of a backdrop (a person further off)."""
    bg = backdrop(6)

    def at(t: float) -> np.ndarray:
        img = bg.copy()
        o = (SIDE - size) // 2
        img[SIDE - size - 20:SIDE - 20, o:o + size] = cv2.resize(player.at(t), (size, size),
                                                                 interpolation=cv2.INTER_AREA)
        return img
    return at


def people(faces: Path, photos: Path | None, seconds: float, tmp: Path) -> list[Player]:
    if photos is None:
        return [Player(v, SIDE, seconds) for v in sorted((faces / "videos").glob("*.mp4"))]
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from identities import animate  # bench/identities.py's animation of a photo

    out = []
    for p in sorted(q for q in photos.iterdir() if q.suffix.lower() in {".jpg", ".jpeg", ".png"}):
        v = animate(p, tmp / f"{p.stem}.mp4", seconds)
        if v is not None:
            out.append(Player(v, SIDE, seconds))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--faces", type=Path, default=FACES)
    ap.add_argument("--photos", type=Path, help="animate the photos of this folder as the real people")
    ap.add_argument("--people", type=int, default=0, help="only the first N people (0: all)")
    ap.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    ap.add_argument("--gate", type=float, action="append", default=[],
                    help="also before with NormGate of this SFace feature norm (repeat for several)")
    ap.add_argument("--size", type=int, default=SIDE, help="the person's video drawn this many px (default: the half)")
    ap.add_argument("--frame", default="960x480", choices=sorted(FRAMES),
                    help="640x480: the case side by side in a 4:3 frame, the squares' rule before and now")
    a = ap.parse_args(argv)
    if not (a.faces / "videos").is_dir():
        sys.exit(f"{a.faces}: no videos/ folder of face videos (give --faces)")
    cases = [c for c in a.cases.split(",") if c]
    bad = [c for c in cases if c not in CASES]
    if bad:
        sys.exit(f"--cases {','.join(bad)}: expected some of {', '.join(CASES)}")
    shape = FRAMES[a.frame]
    if shape != FRAMES["960x480"] and a.gate:
        sys.exit(f"--gate: with the 960x480 frame only (--frame {a.frame} compares the squares' rules)")
    print(f"CPU vector extensions: {vector_extensions()}", flush=True)
    n = int(a.seconds * FPS)
    with tempfile.TemporaryDirectory() as tmp:
        persons = people(a.faces, a.photos, a.seconds, Path(tmp))
        if a.people:
            persons = persons[:a.people]
        photo = cv2.imread(str(a.faces / "photos" / "face_recognition_rose_leslie.jpg"), cv2.IMREAD_COLOR)
        h, w = photo.shape[:2]
        photo = photo[:min(h, w), (w - min(h, w)) // 2:(w + min(h, w)) // 2]
        half = "right half" if shape == FRAMES["960x480"] else "right side"
        print(f"{n} frames of {a.frame} per run, the person {a.size} px; right: share of frames with a face ID on the "
              f"{half} (IDs given there); person: share with one on the real face"
              + ("; searches: the tracker's tile searches" if shape != FRAMES["960x480"] else ""))
        if shape == FRAMES["960x480"]:
            modes: list[tuple] = [("before", True, None, None), ("after", False, None, None),
                                 *((f"before + norm >= {g:g}", True, g, None) for g in a.gate)]
        else:  # the face watch as now; tiles where 3:2 and wider (before), 4:3 and wider (now)
            modes = [("squares before (is_wide)", False, None, is_wide),
                     ("squares now (searched_in_tiles)", False, None, searched_in_tiles)]
        print(f"\n| {half} | person | {' | '.join(m[0] for m in modes)} |\n|---|---|{'---|' * len(modes)}")
        for case in cases:
            right = distractor(case, a.faces, photo)
            for p in persons:
                shown = p.at if a.size >= SIDE else small(p, a.size)
                cells = []
                for _, b, g, rule in modes:
                    r, f, ids, searches = run(shown, right, n, b, g, shape, rule)
                    cells.append(f"{r:.2f} ({ids}) / {f:.2f}" + (f", {searches} searches" if rule else ""))
                print(f"| {case} | {p.name} | {' | '.join(cells)} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
