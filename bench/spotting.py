"""Spot-then-recognise on long benchmark videos through the real session, scored the MEGC way.

For every video of one or more ``mpt-synth --long`` benchmarks (ROOT/videos/*.mp4 and
ROOT/annotations.csv) one ``mpt-live`` job runs exactly as ``mpt-live --video V --max-faces 1 --out DIR``
would (mpt_live.job.run_job: the session engine, its spotter, the model on each event's apex window),
writing RUN/session/<benchmark>/<video>/{events.csv,predictions.csv,summary.json,...}. Beside it, the
baseline: the window-score spotter mpt-live used before (bench/window_spotter.py) on the same run's
``motion_score`` column, its class the score-weighted vote of the windows' probabilities, its times
converted to frames and typed micro/macro by the same rule (at most 0.5 s by its times), written to
RUN/baseline/<benchmark>/<video>/events.csv.

Scores: train.spot_metrics (the code of ``mpt-eval spot``) per benchmark and pooled over all of them:
spotting F1 (IoU >= 0.5), analysis F1 and STRS (spotting F1 x analysis F1) for micro, macro and all.
Cost: the spotter's CPU time per face per frame (FaceMotion + Spotter inside the session), beside the
session's frames per second.

    nice python bench/spotting.py ROOT [ROOT ...] [--out RUN] [--model M.onnx | --motion-only]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

# run as a script, this file's folder comes first on sys.path: keep it for window_spotter only
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.append(str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from mpt_live.errors import InputError  # noqa: E402
from mpt_live.job import run_job  # noqa: E402
from mpt_live.runtime import load_model, vector_extensions  # noqa: E402
from mpt_live.session import SessionConfig  # noqa: E402
from mpt_live.sources import VideoFile  # noqa: E402
from mpt_live.spotting import EVENT_COLUMNS  # noqa: E402
from mpt_live.results import read_table  # noqa: E402
from mpt_live.writers import CSVSink, write_json  # noqa: E402
from train.datasets.longvideo import LongVideoIndex, read_annotations_csv  # noqa: E402
from train.spot_metrics import score  # noqa: E402
from train.spot_runs import read_runs  # noqa: E402
from window_spotter import Spotter as WindowSpotter  # noqa: E402

def baseline_type(start: float, end: float, fps: float, micro_max_s: float = 0.5) -> str:
    """micro or macro by the event's times, as the spotter types its own (mpt_live.spotting.Spotter._micro): at
    most ``micro_max_s`` from its start to the end of its last frame (one frame period after ``end``). It was a
    frame count, ``round(0.5 x fps)`` frames: 8 frames, 0.53 s, at 15 fps."""
    return "micro" if max(end, start) - start + 1.0 / fps <= micro_max_s + 1e-3 else "macro"


def baseline_events(rows: list[dict], video: str, fps: float, window_s: float, classes: list[str], out: Path) -> None:
    """The window-score spotter on a run's predictions rows -> events.csv (flushed per event)."""
    spotter = WindowSpotter(window_s)
    num = lambda v: float(v) if v not in ("", None) else None  # noqa: E731
    for r in rows:
        probs = {c: float(r[f"p_{c}"]) for c in classes if r.get(f"p_{c}") not in ("", None)}
        spotter.update(float(r["time_s"]), num(r["motion_score"]) if r["face_id"] != "" else None, probs or None)
    with CSVSink(out, EVENT_COLUMNS) as sink:
        for n, e in enumerate(spotter.events, start=1):
            on, off = int(round(e.start * fps)), max(int(round(e.end * fps)), int(round(e.start * fps)))
            apex = min(max(int(round(e.peak * fps)), on), off)
            sink.write({"event_id": n, "video": video, "face": 0, "onset_s": round(e.start, 4), "apex_s": round(e.peak, 4),
                        "offset_s": round(e.end, 4), "onset_frame": on, "apex_frame": apex, "offset_frame": off,
                        "type": baseline_type(e.start, e.end, fps), "class": e.top,
                        "score": round(float(e.peak_score), 4)})


def pooled_index(truths: dict[str, LongVideoIndex]) -> LongVideoIndex:
    """All benchmarks as one index, videos renamed <benchmark>/<video> (names repeat across benchmarks)."""
    videos = [replace(v, name=f"{b}/{v.name}") for b, t in truths.items() for v in t.videos]
    classes = sorted({c for t in truths.values() for c in t.classes})
    return LongVideoIndex(videos=videos, classes=classes)


def fmt(r: dict) -> str:
    strs = "-" if r.get("strs") is None else f"{r['strs']:.3f}"
    af1 = "-" if r.get("analysis_f1") is None else f"{r['analysis_f1']:.3f}"
    return f"F1 {r['f1']:.3f} ({r['tp']}/{r['fp']}/{r['fn']}) aF1 {af1} STRS {strs}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("roots", nargs="+", type=Path, help="mpt-synth --long benchmark folders")
    ap.add_argument("--out", type=Path, default=Path("runs/bench-spotting"), help="run folder")
    ap.add_argument("--model", type=Path, default=None, help="ONNX model (default: the bundled demo model)")
    ap.add_argument("--motion-only", action="store_true", help="no model: spotting only")
    args = ap.parse_args()
    print(f"CPU vector extensions: {vector_extensions()}; {os.cpu_count()} cpus")
    try:
        runtime = None if args.motion_only else load_model(args.model, device="cpu")
        classes = list(runtime.classes) if runtime is not None else []
        window_s = runtime.clip_spec.window_s if runtime is not None else 1.0
        print(f"model: {runtime.describe() if runtime is not None else 'none (motion-only)'}")
        truths = {root.name: read_annotations_csv(root / "annotations.csv") for root in args.roots}
        spot_cpu, fps_runs = [], []
        for root in args.roots:
            for v in truths[root.name].videos:
                d = args.out / "session" / root.name / v.video.stem
                t0 = time.perf_counter()
                with VideoFile(v.video) as src:
                    s = run_job(src, runtime, SessionConfig(max_faces=1), d)
                baseline_events(read_table(d / "predictions.csv")[1], v.name, s["source_fps"], window_s, classes,
                                args.out / "baseline" / root.name / v.video.stem / "events.csv")
                cost = s["spotting_ms_per_face_frame"]
                spot_cpu.append((s["frames_with_face"], cost["cpu_mean"] or 0.0, cost["cpu_p95"] or 0.0))
                fps_runs.append(s["fps"])
                print(f"  {root.name}/{v.video.name}: {s['frames_read']} frames in {time.perf_counter() - t0:.0f} s, "
                      f"{len(s['events'])} events, spotter CPU {cost['cpu_mean']} ms/frame", flush=True)
        results: dict[str, dict] = {}
        for method in ("session", "baseline"):
            per = {name: score(t, read_runs([args.out / method / name], t), "all") for name, t in truths.items()}
            spotted: dict = {}
            for name, t in truths.items():
                for k, evs in read_runs([args.out / method / name], t).items():
                    spotted[f"{name}/{k}"] = evs
            per["pooled"] = score(pooled_index(truths), spotted, "all")
            results[method] = per
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)

    print("\nMEGC spot-then-recognise: spotting F1 (TP/FP/FN) at IoU >= 0.5, analysis F1, STRS")
    for name in [*truths, "pooled"]:
        for method in results:
            r = results[method][name]["by_type"]
            print(f"{name:<10} {method:<9} micro: {fmt(r['micro']):<46} macro: {fmt(r['macro']):<46} "
                  f"all: F1 {r['all']['f1']:.3f} STRS {'-' if r['all']['strs'] is None else round(r['all']['strs'], 3)}")
    n = np.array([x[0] for x in spot_cpu], float)
    mean = float((n * [x[1] for x in spot_cpu]).sum() / max(n.sum(), 1))
    print(f"\nspotter (FaceMotion + Spotter in the session) CPU ms per face per frame: mean {mean:.3f}, "
          f"worst video p95 {max(x[2] for x in spot_cpu):.3f}; session frames/s (whole pipeline, model included): "
          f"median {np.median(fps_runs):.1f}")
    summary = {m: {n_: {k: results[m][n_]["by_type"][k] for k in ("micro", "macro", "all")} for n_ in results[m]}
               for m in results}
    summary.update(spotter_cpu_ms_mean=mean, session_fps_median=float(np.median(fps_runs)), cpu=vector_extensions(),
                   model=runtime.describe() if runtime is not None else None)
    write_json(args.out / "bench.json", summary)
    print(f"wrote {args.out}/bench.json; rescore with: mpt-eval spot --truth ROOT/annotations.csv "
          f"--runs {args.out}/session/<benchmark> --type micro")
    print(json.dumps({n_: round(results['session'][n_]['by_type']['micro']['f1'], 3) for n_ in results['session']}))


if __name__ == "__main__":
    main()
