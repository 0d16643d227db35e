"""How far a resumed run's rows and events are from an uncut run's (README, "Resuming a long run").

Runs ``mpt-live --video VIDEO --headless`` once uncut, and for each time T given, once with ``--max-seconds T``
followed by ``--resume`` in the same folder; then compares each resumed run's predictions.csv and events.csv with
the uncut run's (the baseline), row by row (rows matched by frame and face ID):

* the rows from the resume point on (the resumed part's), and how many differ in any value;
* the motion score's relative difference (median, p90), the boxes' largest coordinate difference (median, max);
* the class probabilities' largest difference per row (median, max), the rows whose most probable class differs
  and those whose shown label (``top``: the event's class, or neutral outside events) differs;
* the uncut run's events not found again (no event of that face overlapping it) and those found with another onset
  or offset frame;
* how many stabiliser references the uncut run kept for a resume (mpt_live/references.py), and their size.

``--no-references``: each stopped run's stabiliser references (its .stabiliser-references.jsonl) removed before the
resume, as an older mpt-live's run has none: the resume as it was without them.

Usage: python bench/resume.py [--video VIDEO] [--at 30,45] [--out DIR] [--no-references] [-- extra mpt-live options]
(default: paddlegan_fom_dv.mp4 of the shared face media, the bundled demo model, resumed at 30 s and 45 s).
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from console_scripts import run_logged, show, tool

from mpt_live.machine import vector_extensions
from mpt_live.references import SIDECAR
from shared_faces import faces_folder

VIDEO = faces_folder() / "videos" / "paddlegan_fom_dv.mp4"
BOX = ("x", "y", "w", "h")


def run(args: list[str], log: Path) -> None:
    """``mpt-live ARGS`` as a user runs it, its output in ``log``; a failure ends the bench naming the log."""
    cmd = [tool("mpt-live"), *args]
    rc, _ = run_logged(cmd, log)
    if rc != 0:
        sys.exit(f"{show(cmd)} exited {rc}: see {log}")


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def num(v: str | None) -> float:
    return float(v) if v not in (None, "") else float("nan")


def compare_rows(uncut: list[dict[str, str]], resumed: list[dict[str, str]], at_s: float) -> dict[str, float]:
    """The resumed run's rows after ``at_s`` against the uncut run's rows of the same frame and face."""
    base = {(r["frame"], r["face_id"]): r for r in uncut}
    after = [r for r in resumed if num(r["time_s"]) >= at_s]  # the resumed part's rows: from the point on
    pairs = [(base[k], r) for r in after if (k := (r["frame"], r["face_id"])) in base]
    probs = [c for c in (uncut[0] if uncut else {}) if c.startswith("p_")]
    differ = sum(a != b for a, b in pairs)
    rel = [abs(num(b["motion_score"]) - num(a["motion_score"])) / abs(num(a["motion_score"]))
           for a, b in pairs if num(a["motion_score"]) not in (0.0,) and not np.isnan(num(b["motion_score"]))]
    box = [max(abs(num(a[k]) - num(b[k])) for k in BOX) for a, b in pairs if a["x"] and b["x"]]
    dprob = [max(abs(num(a[c]) - num(b[c])) for c in probs) for a, b in pairs if probs and a[probs[0]] and b[probs[0]]]
    both = [(a, b) for a, b in pairs if probs and a[probs[0]] and b[probs[0]]]
    argmax = sum(max(probs, key=lambda c: num(a[c])) != max(probs, key=lambda c: num(b[c])) for a, b in both)
    label = sum(a["top"] != b["top"] for a, b in both)

    def q(xs: list[float], p: float) -> float:
        xs = [x for x in xs if not np.isnan(x)]
        return float(np.percentile(xs, p)) if xs else float("nan")

    return {"rows_after": len(after), "matched": len(pairs), "differ": differ, "unmatched": len(after) - len(pairs),
            "score_rel_p50": q(rel, 50), "score_rel_p90": q(rel, 90), "box_p50": q(box, 50), "box_max": q(box, 100),
            "dprob_p50": q(dprob, 50), "dprob_max": q(dprob, 100), "argmax_differs": argmax,
            "label_differs": label}


def compare_events(uncut: list[dict[str, str]], resumed: list[dict[str, str]]) -> dict[str, int]:
    """The uncut run's events not found again in the resumed run, and those found with other bounds."""
    lost = moved = 0
    for e in uncut:
        on, off = int(e["onset_frame"]), int(e["offset_frame"])
        same = [r for r in resumed if r["face"] == e["face"]
                and int(r["onset_frame"]) <= off and int(r["offset_frame"]) >= on]
        if not same:
            lost += 1
        elif not any((int(r["onset_frame"]), int(r["offset_frame"])) == (on, off) for r in same):
            moved += 1
    return {"events": len(uncut), "resumed_events": len(resumed), "lost": lost, "other_bounds": moved}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", type=Path, default=VIDEO)
    ap.add_argument("--at", default="30,45", help="resume points, seconds (comma-separated)")
    ap.add_argument("--out", type=Path, help="keep the runs' folders here (default: a temporary folder)")
    ap.add_argument("--no-references", action="store_true",
                    help="resume without the stopped run's stabiliser references (as an older run's)")
    ap.add_argument("extra", nargs="*", help="more mpt-live options, after --")
    args = ap.parse_args(argv)
    try:
        points = [float(t) for t in args.at.split(",")]
    except ValueError:
        ap.error(f"--at {args.at}: not a comma-separated list of seconds")
    if not args.video.exists():
        ap.error(f"--video {args.video}: no such file")
    print(f"CPU vector extensions: {vector_extensions()}")
    root = args.out or Path(tempfile.mkdtemp(prefix="resume-bench-"))
    try:
        common = ["--video", str(args.video), "--headless", *args.extra]
        log = root / "mpt-live.log"
        run([*common, "--out", str(root / "uncut")], log)
        uncut, events = read(root / "uncut" / "predictions.csv"), read(root / "uncut" / "events.csv")
        kept = root / "uncut" / SIDECAR
        print(f"{args.video.name}: baseline (uncut run) {len(uncut)} rows, {len(events)} events; its stabiliser "
              f"references kept: {len(kept.read_bytes().splitlines()) if kept.is_file() else 0} "
              f"({kept.stat().st_size / 1e3 if kept.is_file() else 0:.0f} kB)")
        for t in points:
            out = root / f"at{t:g}"
            run([*common, "--out", str(out), "--max-seconds", f"{t:g}"], log)
            if args.no_references:
                (out / SIDECAR).unlink(missing_ok=True)
            run([*common, "--out", str(out), "--resume"], log)
            r = compare_rows(uncut, read(out / "predictions.csv"), t)
            e = compare_events(events, read(out / "events.csv"))
            how = " without the stabiliser references" if args.no_references else ""
            print(f"resumed at {t:g} s{how}: {r['rows_after']} rows from it on ({r['unmatched']} with no uncut row of its "
                  f"frame and face), {r['differ']} differ; motion score median {100 * r['score_rel_p50']:.2f} % "
                  f"(p90 {100 * r['score_rel_p90']:.2f} %); boxes median {r['box_p50']:.0f} px, at most "
                  f"{r['box_max']:.0f}; probabilities median {r['dprob_p50']:.3f}, at most {r['dprob_max']:.2f}; "
                  f"another most probable class in {r['argmax_differs']} rows (another label shown, the event's or "
                  f"neutral, in {r['label_differs']}); of the {e['events']} events {e['lost']} not "
                  f"found, {e['other_bounds']} found with another onset or offset ({e['resumed_events']} in all)")
    finally:
        if args.out is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
