"""A sheet held over a face (issue 12): one ID kept for the face under it, a new one for another person behind it.

Each person's video is shown as a 160 px face in a 480x360 grey frame (30 fps, up to 200 frames); from frame 60 a
flat sheet covers the lower ``--cover`` share of the face (and a little either side) for ``--frames`` frames, of each
``--shades`` value (180: skin-coloured, 60: dark; BGR shade, 0.8 shade, 0.7 shade). Two cases a sheet:

* **same**: the same person before, under and after the sheet; the IDs shown over the whole clip must be {0};
* **other**: after the sheet the next person's video (another face in the place); the IDs shown after the sheet
  must be some, none of them 0; the frames from the sheet's end to the first ID are printed.

The face stage is ``FaceWatch`` and ``FaceTracker`` with SFace, as ``mpt-live --max-faces 1`` builds them. People:
the shared videos (``$MPT_FACES_DIR``, else ../shared/data/faces; ``--videos``: those of other folders), and with
``--photos`` portraits animated as bench/identities.py does (the shared photos, or the folders named). A person whose
video is too short for a case (60 + frames + 30), or whose next person's is, is paired with the next long enough.
``--before REV`` runs the same cases on the code of that git revision (a temporary worktree, a child process) first,
its lines marked ``old``. No timings are taken.

    python bench/sheet_ids.py [--shades 180,60] [--frames 20,45] [--cover 0.6] [--videos DIR ...]
        [--photos [DIR ...]] [--no-videos] [--before REV]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.append(str(Path(__file__).resolve().parent))  # bench/ after the installed packages
import before  # noqa: E402  bench/before.py: --before's worktree and child

START, AFTER, LIMIT = 60, 30, 200  # the sheet's first frame; frames needed after it; frames read of a video
FPS = 30.0
NO_FACE = {"pyfeat_face_noface"}  # a shared video whose face leaves the picture


def frames_of(video: str) -> list:
    """Up to LIMIT frames of ``video``, each squeezed to a 160 px face in a 480x360 grey frame."""
    import cv2
    import numpy as np

    cap, out = cv2.VideoCapture(video), []
    while len(out) < LIMIT:
        ok, img = cap.read()
        if not ok:
            break
        f = np.full((360, 480, 3), 128, np.uint8)
        f[100:260, 160:320] = cv2.resize(img, (160, 160), interpolation=cv2.INTER_AREA)
        out.append(f)
    cap.release()
    return out


def ids(frames: list) -> list[list[int]]:
    """The IDs the face stage shows in each frame."""
    from mpt_live.face_watch import FaceWatch
    from mpt_live.identity import FaceEmbedder
    from mpt_live.tracks import FaceTracker

    with FaceWatch("auto", 1, False) as watch:
        tracker, out = FaceTracker(watch.aligner, 1, FaceEmbedder(), vouch=watch.vouch), []
        for i, img in enumerate(frames):
            faces, _ = tracker.update(img, i / FPS)
            watch.see(img, i / FPS, faces, tracker)
            out.append([f.id for f in faces])
    return out


def cases(plan: dict) -> Iterator[dict]:
    """Per person, shade and sheet length: the IDs of the same-person clip and of the other-person clip's end."""
    people = plan["people"]
    clips = [frames_of(path) for _, path in people]
    y = 100 + int(160 * (1 - plan["cover"]))
    for k, (name, _) in enumerate(people):
        for n in plan["frames"]:
            need = START + n + AFTER
            nxt = next((j % len(people) for j in range(k + 1, k + len(people)) if len(clips[j % len(people)]) >= need),
                       None)
            if len(clips[k]) < need or nxt is None:
                yield {"person": name, "frames": n, "skipped": f"{len(clips[k])} frames, {need} needed"}
                continue
            a, b = clips[k], clips[nxt]
            for shade in plan["shades"]:
                colour = (shade, int(shade * .8), int(shade * .7))
                same = [f.copy() for f in a]
                other = [f.copy() for f in a[:START + n]] + [f.copy() for f in b[START + n:]]
                for clip in (same, other):
                    for f in clip[START:START + n]:
                        f[y:262, 150:330] = colour
                shown = sorted({i for x in ids(same) for i in x})
                got = ids(other)[START + n:]
                first = next((j for j, x in enumerate(got) if x), None)
                yield {"person": name, "other": people[nxt][0], "shade": shade, "frames": n, "same": shown,
                       "after": sorted({i for x in got for i in x}), "first": first}


def row(r: dict, code: str) -> str:
    if "skipped" in r:
        return f"| {r['person']} | - | {r['frames']} | skipped: {r['skipped']} | | | {code} |"
    ok = r["same"] == [0] and r["after"] and 0 not in r["after"]
    return (f"| {r['person']} (then {r['other']}) | {r['shade']} | {r['frames']} | {r['same']} | {r['after']} | "
            f"{'-' if r['first'] is None else r['first']} | {code} |" + ("" if ok else " MISS"))


def summary(rows: list[dict], code: str) -> str:
    done = [r for r in rows if "skipped" not in r]
    kept = sum(r["same"] == [0] for r in done)
    new = sum(bool(r["after"]) and 0 not in r["after"] for r in done)
    firsts = sorted(r["first"] for r in done if r["first"] is not None)
    return (f"{code}: one ID kept {kept}/{len(done)}; another person behind the sheet a new ID {new}/{len(done)}; "
            f"frames from the sheet's end to its first ID: max {firsts[-1] if firsts else '-'}; "
            f"{len({r['person'] for r in done})} people sheeted, {len(rows) - len(done)} cases skipped")


def people(a: argparse.Namespace, tmp: Path) -> list[tuple[str, str]]:
    """(name, video) of each person: the videos' folders' (not --no-videos), then the animated photos."""
    from identities import PHOTO_EXT, VIDEO_EXT, animate  # bench/identities.py: its portraits
    from shared_faces import faces_folder

    folders = [] if a.no_videos else a.videos or [faces_folder() / "videos"]
    out = [(p.stem, str(p)) for d in folders for p in sorted(d.iterdir())
           if p.suffix.lower() in VIDEO_EXT and p.stem not in NO_FACE]
    photos = a.photos if a.photos else ([faces_folder() / "photos"] if a.photos is not None else [])
    for folder in photos:
        for ph in sorted(folder.iterdir()):
            if ph.suffix.lower() in PHOTO_EXT:
                made = animate(ph, tmp / f"photo_{ph.stem}.mp4", LIMIT / FPS + 0.5)
                if made is not None:
                    out.append((ph.stem, str(made)))
    return out


def numbers(ap: argparse.ArgumentParser, flag: str, text: str, low: int, high: int) -> list[int]:
    try:
        got = [int(x) for x in text.split(",")]
    except ValueError:
        got = []
    if not got or not all(low <= x <= high for x in got):
        ap.error(f"{flag} {text}: expected comma-separated whole numbers from {low} to {high}")
    return got


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shades", default="180,60", help="the sheets' shades, 0-255 (default 180,60)")
    ap.add_argument("--frames", default="20,45", help="the sheets' lengths in frames at 30 fps (default 20,45)")
    ap.add_argument("--cover", type=float, default=0.6, help="the share of the face's height covered (default 0.6)")
    ap.add_argument("--videos", type=Path, nargs="+", help="people's videos from these folders, not the shared ones")
    ap.add_argument("--photos", type=Path, nargs="*",
                    help="also animated portraits of these folders' photos (none named: the shared photos)")
    ap.add_argument("--no-videos", action="store_true", help="only the animated portraits (with --photos)")
    ap.add_argument("--before", metavar="REV", help="also run the cases on the code of this git revision")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        return before.answer_child(a.child, cases)
    shades = numbers(ap, "--shades", a.shades, 0, 255)
    lengths = numbers(ap, "--frames", a.frames, 1, LIMIT - START - AFTER)
    if not 0 < a.cover <= 1:
        ap.error(f"--cover {a.cover:g}: expected a share of the face above 0 and at most 1")
    if a.before and not before.is_revision(a.before):
        ap.error(f"--before {a.before}: not a git revision of {before.ROOT}")
    from shared_faces import FACES_ENV, faces_folder
    for d in ([] if a.no_videos else a.videos or [faces_folder() / "videos"]) + (a.photos or []):
        if not d.is_dir():
            sys.exit(f"{d}: no folder of face {'photos' if d in (a.photos or []) else 'videos'} there"
                     + (f" (set {FACES_ENV} to the shared faces folder)" if d.is_relative_to(faces_folder()) else ""))
    from mpt_live.machine import vector_extensions
    print(f"CPU vector extensions: {vector_extensions()}; {before.this_run()}", flush=True)
    with tempfile.TemporaryDirectory() as t:
        who = people(a, Path(t))
        if len(who) < 2:
            sys.exit(f"{len(who)} people found: the bench needs two or more (a person and another behind the sheet)")
        plan = {"people": who, "shades": shades, "frames": lengths, "cover": a.cover}
        (Path(t) / "plan.json").write_text(json.dumps(plan))
        print(f"{len(who)} people ({', '.join(n for n, _ in who)}); a sheet over {100 * a.cover:.0f} % of a 160 px "
              f"face from frame {START}, shades {a.shades}, {a.frames} frames at {FPS:g} fps")
        print("| person | shade | frames | same person: IDs | other person behind: IDs after | frames to its first ID "
              "| code |\n|---|---|---|---|---|---|---|", flush=True)
        runs = before.old_then_new(a.before, __file__, Path(t) / "plan.json", cases(plan), row)
    for code, rows in runs.items():
        print(summary(rows, f"{code} ({'the code of ' + a.before if code == 'old' else 'this code'})"))


if __name__ == "__main__":
    main()
