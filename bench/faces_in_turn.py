"""Memory of faces seen long ago: many people in turn (a talk show's guests, a classroom), old rings against new.

Every face's state buffers its last ~11 s of aligned crops (:class:`mpt_live.clip.FrameRing`: ~50 MB at 224 px);
a run used to keep the ring of every face it had ever seen, its pages resident, after the face had gone (the ring
is emptied at a loss and never read again). Now a face's ring gives its memory back when the face goes.

A recording of ``--people`` of the shared videos, each shown alone for ``--seconds`` after the one before (hard
cuts, 320 px, 30 fps; ``train/compose.py``), is run through the session motion-only (every frame, a window every 2
frames) in a fresh process per run, the code before (``old``) and this code (``new``) taking turns ``--repeat``
times: ``--before REV`` runs the old column on the code of that git revision (a temporary worktree; e.g. the commit
before the release); without it, on this code with the rings kept (``FrameRing.release`` as ``clear``: the ring part of
the change only, the motion stage's ~7 MB a face at 30 fps is released in both). At the end of each person's shot it prints the
faces held (``FaceState``), the rings holding memory and their MB, and the process's resident memory (RSS, from
/proc); at the end, the RSS growth from the first shot's end to the last, whether both runs wrote the same rows
and events (they must: nothing released is read again), and the stabiliser references (112 px float crops) the
tracks of the faces gone hold at the last shot's end (none since a lost track's aligner is reset at the loss: compare
with ``--before`` a revision from before that). Memory under load is the same as on an idle machine.

``--videos DIR``: the people are that folder's videos (.mp4, .mov: people not in ../shared, e.g. held-out photos
animated by bench/identities.py), not the shared ones.

    python bench/faces_in_turn.py [--people 8] [--seconds 4] [--repeat 1] [--before REV] [--videos DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = os.environ.get("FACES_IN_TURN_CODE")  # a child of --before: that revision's worktree
sys.path.insert(0, str(ROOT))
if CODE:
    sys.path.insert(0, CODE)  # its mpt_live first

from live import rss_mb  # noqa: E402  bench/live.py: /proc RSS
from shared_faces import faces_folder  # noqa: E402
from mpt_live.clip import FrameRing  # noqa: E402
from mpt_live.machine import vector_extensions  # noqa: E402
from mpt_live.session import Session, SessionConfig  # noqa: E402
from mpt_live.sources import VideoFile  # noqa: E402
from train.compose import Shot, with_cuts  # noqa: E402

VIDEOS = faces_folder() / "videos"
NO_FACE = {"pyfeat_face_noface"}  # a shared video whose face leaves the picture


def people_videos(n: int, folder: Path | None = None) -> list[Path]:
    """The first ``n`` videos of one person: the shared ones, or those of ``folder`` (.mp4, .mov)."""
    if folder is not None and not folder.is_dir():
        sys.exit(f"--videos {folder}: no such folder")
    videos = ([p for p in sorted(VIDEOS.glob("*.mp4")) if p.stem not in NO_FACE] if folder is None else
              [p for p in sorted(folder.iterdir()) if p.suffix.lower() in {".mp4", ".mov"}])
    if len(videos) < n:
        sys.exit(f"--people {n}: only {len(videos)} {'shared ' * (folder is None)}videos of one person in "
                 f"{folder or VIDEOS}")
    return videos[:n]


def child(video: Path, variant: str, shot_frames: int) -> dict:
    """One run in this process: per shot, the faces held and their rings; the rows and events written."""
    if variant == "old" and not CODE:
        FrameRing.release = FrameRing.clear  # the rings keep their memory, as before
    shots: list[dict] = []
    rows: list[tuple] = []

    def on_frame(frame, faces) -> None:
        if (frame.index + 1) % shot_frames == 0:  # the last frame of a person's shot
            rings = [s.ring.nbytes if hasattr(s.ring, "nbytes") else s.ring.capacity * s.spec.image_size ** 2 * 3
                     for s in session.states.values()]  # the code before: every ring held whole
            gone = [tr for tr in session.tracker.tracks if tr.confirmed and not tr.present]
            refs = [tr.aligner.stabilizer.state() for tr in gone]  # a reference a gone face's track holds
            shots.append({"states": len(rings), "rings": sum(b > 0 for b in rings),
                          "ring_mb": sum(rings) / 2**20, "present": len(faces), "rss_mb": rss_mb(), "gone": len(gone),
                          "refs_kb": sum(r["ref"].nbytes for r in refs if r is not None) / 2**10})

    with VideoFile(video) as src:
        session = Session(src, None, SessionConfig(), on_frame=on_frame)
        for r in session:
            rows.append((r.frame, r.face_id, r.motion_score, r.box, r.top, r.event))
        events = [(e.face_id, e.event.onset, e.event.apex, e.event.offset, e.event.type) for e in session.events]
    code = Path(sys.modules[Session.__module__].__file__).parents[1]
    return {"code": str(code), "shots": shots, "rows": len(rows), "outputs": hashlib.sha256(repr((rows, events)).encode()).hexdigest(), "events": len(events)}


def run_child(variant: str, video: Path, seconds: float, env: dict) -> dict:
    """One run in a fresh process; a child that fails ends the bench in one line (its stderr's last)."""
    out = subprocess.run([sys.executable, __file__, "--child", variant, "--video", str(video), "--seconds", str(seconds)],
                         capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]
        code = env.get("FACES_IN_TURN_CODE")
        sys.exit(f"error: the {variant} run{' (code of ' + code + ')' if code else ''} failed: {last}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=8, help="people shown in turn (shared videos, at most 8)")
    ap.add_argument("--seconds", type=float, default=4.0, help="each person's shot (s)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each variant, taking turns")
    ap.add_argument("--before", metavar="REV", help="the old column: the code of this git revision (a temporary "
                    "worktree); default: this code with the rings kept")
    ap.add_argument("--videos", type=Path, metavar="DIR", help="the people: this folder's videos, not the shared ones")
    ap.add_argument("--child", choices=["old", "new"], help=argparse.SUPPRESS)
    ap.add_argument("--video", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    fps = 30.0
    shot_frames = int(round(args.seconds * fps))
    if args.child:
        print(json.dumps(child(args.video, args.child, shot_frames)))
        return
    if args.people < 1:
        ap.error(f"--people {args.people}: give at least one person")
    if not shot_frames >= 1:
        ap.error(f"--seconds {args.seconds:g}: give a shot of at least one frame (1/{fps:g} s)")
    if args.repeat < 1:
        ap.error(f"--repeat {args.repeat}: give at least one run of each")
    if args.before and subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet",
                                       f"{args.before}^{{commit}}"], capture_output=True, check=False).returncode != 0:
        ap.error(f"--before {args.before}: not a git revision of {ROOT}")
    print(f"CPU vector extensions: {vector_extensions()}")
    videos = people_videos(args.people, args.videos)
    with tempfile.TemporaryDirectory() as tmp:
        env = {"old": dict(os.environ), "new": dict(os.environ)}
        tree = Path(tmp) / "before"
        try:
            if args.before:
                made = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tree),
                                       args.before], capture_output=True, text=True, check=False)
                if made.returncode != 0:
                    sys.exit(f"error: --before {args.before}: no worktree: "
                             f"{(made.stderr.strip().splitlines() or ['git failed'])[-1]}")
                env["old"]["FACES_IN_TURN_CODE"] = str(tree)
            video = Path(tmp) / "in_turn.mp4"
            with_cuts(videos, [Shot(args.seconds, (i,)) for i in range(len(videos))], video, fps=fps, tile=320,
                      slots=1)
            print(f"{len(videos)} people in turn, {args.seconds:g} s each ({', '.join(v.stem for v in videos)}), "
                  f"320x320 at {fps:g} fps, motion-only, 224 px crops", flush=True)
            runs: dict[str, list[dict]] = {"old": [], "new": []}
            for _ in range(args.repeat):
                for variant in ("old", "new"):
                    runs[variant].append(run_child(variant, video, args.seconds, env[variant]))
        except KeyboardInterrupt:
            sys.exit("error: interrupted")
        finally:  # never a registered worktree left behind: a child failed, Ctrl-C, or done
            if args.before:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                               capture_output=True, check=False)
                subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], capture_output=True, check=False)
    print(f"old: {'the code of ' + args.before if args.before else 'this code, rings kept'} "
          f"(mpt_live from {runs['old'][0]['code']}); new: this code ({runs['new'][0]['code']})")
    print(f"{'shot':>4} {'faces':>5} | {'old: rings':>10} {'MB':>6} {'RSS MB':>7} | {'new: rings':>10} {'MB':>6} "
          f"{'RSS MB':>7}")
    old, new = runs["old"][-1], runs["new"][-1]
    for k, (a, b) in enumerate(zip(old["shots"], new["shots"])):
        print(f"{k + 1:>4} {b['states']:>5} | {a['rings']:>10} {a['ring_mb']:>6.1f} {a['rss_mb']:>7.1f} | "
              f"{b['rings']:>10} {b['ring_mb']:>6.1f} {b['rss_mb']:>7.1f}")
    for variant in ("old", "new"):
        growth = [r["shots"][-1]["rss_mb"] - r["shots"][0]["rss_mb"] for r in runs[variant]]
        print(f"{variant}: RSS growth from shot 1 to shot {len(runs[variant][0]['shots'])}: "
              + ", ".join(f"{g:+.1f} MB" for g in growth))
    same = all(r["outputs"] == runs["old"][0]["outputs"] for r in runs["old"] + runs["new"])
    print(f"rows and events: old {old['rows']} rows, {old['events']} events; new {new['rows']}, {new['events']}; "
          f"{'the same' if same else 'DIFFERENT'}")
    a, b = old["shots"][-1], new["shots"][-1]
    print(f"stabiliser references held by the tracks of faces gone, at the last shot's end: old {a['refs_kb']:.1f} kB "
          f"({a['gone']} gone), new {b['refs_kb']:.1f} kB ({b['gone']} gone)")


if __name__ == "__main__":
    main()
