"""Spotting on long benchmark videos: the new spotter beside the present one, scored the MEGC way.

For every video of one or more ``mpt-synth --long`` benchmarks (ROOT/videos/*.mp4 and
ROOT/annotations.csv), one pass does what mpt-live does on a recorded file: detect, align and
stabilise the face (mpt_live.stream.ClipStream, BlazeFace short-range, a window every 2 frames).
Beside it, two spotters run on the same pass:

* ours: mpt_live.facemotion.FaceMotion on each aligned crop -> mpt_live.spotting.Spotter;
* baseline: the present spotter, mpt_live.events.Spotter on the motion score of each window
  (mpt_live.motion.magnify_clip), its event times converted to frames (start/end/peak x fps) and
  typed micro/macro by the same duration rule (at most 0.5 s).

Both write RUN/<method>/<benchmark>/<video>/events.csv (flushed per event); each benchmark is then
scored with the same code as ``mpt-eval spot`` (train.spot_metrics): per benchmark and pooled, for
micro and macro. Cost: wall time of FaceMotion.push + Spotter.push per frame (ours) beside the
alignment per frame and the baseline's magnification per window, on one thread.

    nice python bench/spotting.py ROOT [ROOT ...] [--out RUN]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
# run as a script, this file's folder comes first on sys.path and bench/train.py shadows `train`
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from mpt_live.clip import ClipSpec  # noqa: E402
from mpt_live.errors import InputError  # noqa: E402
from mpt_live.events import Spotter as WindowSpotter  # noqa: E402
from mpt_live.face import FaceAligner  # noqa: E402
from mpt_live.facemotion import FaceMotion  # noqa: E402
from mpt_live.motion import magnify_clip  # noqa: E402
from mpt_live.sources import VideoFile  # noqa: E402
from mpt_live.spotting import EVENT_COLUMNS, Spotter  # noqa: E402
from mpt_live.stream import ClipStream  # noqa: E402
from mpt_live.writers import CSVSink  # noqa: E402
from train.datasets.longvideo import read_annotations_csv  # noqa: E402
from train.spot_metrics import read_runs, score  # noqa: E402

FILE_STRIDE = 2  # mpt-live on a recorded file: a window every 2 frames
VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "amx_tile", "neon", "asimd")


def cpu_flags() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    flags = set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            flags |= set(line.split(":", 1)[1].split())
    return " ".join(f for f in VECTOR_FLAGS if f in flags) or "none of " + ",".join(VECTOR_FLAGS)


def baseline_row(video: str, ev, fps: float, micro_max: int) -> dict:
    on, off = int(round(ev.start * fps)), int(round(ev.end * fps))
    off = max(off, on)
    apex = min(max(int(round(ev.peak * fps)), on), off)
    kind = "micro" if off - on + 1 <= micro_max else "macro"
    return {"video": video, "face": 0, "onset_s": round(ev.start, 4), "apex_s": round(ev.peak, 4),
            "offset_s": round(ev.end, 4), "onset_frame": on, "apex_frame": apex, "offset_frame": off,
            "type": kind, "score": round(float(ev.peak_score), 4)}


def run_video(path: Path, ours_csv: Path, base_csv: Path, spec: ClipSpec) -> dict:
    """One pass over a video: alignment, both spotters, events.csv of each. Returns timings."""
    cost_ours, cpu_ours, cost_align, cost_mag = [], [], [], []
    with VideoFile(path) as src, FaceAligner(image_size=spec.image_size, model="short") as aligner, \
            CSVSink(ours_csv, EVENT_COLUMNS) as ours, CSVSink(base_csv, EVENT_COLUMNS) as base:
        fps = src.fps
        micro_max = int(round(0.5 * fps))
        stream = ClipStream(spec, aligner, stride=FILE_STRIDE, max_fps=max(fps, 1.0))
        motion = FaceMotion(fps)
        spotter = Spotter.for_motion(motion)
        window = WindowSpotter(spec.window_s)
        for frame in src:
            t0 = time.perf_counter()
            w = stream.push(frame)
            t1 = time.perf_counter()
            face = stream.last_face
            events = []
            c1 = time.thread_time()
            for s in motion.push(frame.index, frame.t, None if face is None else face.aligned):
                events += spotter.push(s)
            cpu_ours.append(time.thread_time() - c1)
            t2 = time.perf_counter()
            cost_align.append(t1 - t0)
            cost_ours.append(t2 - t1)
            for e in events:
                ours.write(e.row(path.name))
            if w is not None:
                score_ = None
                if w.clip is not None:
                    t3 = time.perf_counter()
                    score_ = magnify_clip(w.clip, spec)[1]
                    cost_mag.append(time.perf_counter() - t3)
                window.update(w.time_s, score_)
        for s in motion.flush():
            for e in spotter.push(s):
                ours.write(e.row(path.name))
        for e in spotter.flush():
            ours.write(e.row(path.name))
        for e in window.events:  # the present spotter's events, complete at the end of the video
            base.write(baseline_row(path.name, e, fps, micro_max))
    return {"frames": len(cost_ours), "ours_ms": np.array(cost_ours) * 1e3, "ours_cpu_ms": np.array(cpu_ours) * 1e3,
            "align_ms": np.array(cost_align) * 1e3,
            "magnify_ms": np.array(cost_mag) * 1e3}


def fmt(r: dict) -> str:
    return f"{r['f1']:.3f}  P {r['precision']:.2f} R {r['recall']:.2f}  ({r['tp']}/{r['fp']}/{r['fn']})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("roots", nargs="+", type=Path, help="mpt-synth --long benchmark folders")
    ap.add_argument("--out", type=Path, default=Path("runs/bench-spotting"), help="run folder (events.csv, scores)")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    spec = ClipSpec()
    print(f"CPU vector extensions: {cpu_flags()}; {os.cpu_count()} cpus, one thread")
    results: dict[str, dict] = {"ours": {}, "baseline": {}}
    costs = []
    try:
        truths = {root.name: read_annotations_csv(root / "annotations.csv") for root in args.roots}
        for root in args.roots:
            carriers = {}
            if (root / "long.json").is_file():
                carriers = {v["video"]: v["carrier"]["identity"] for v in json.loads((root / "long.json").read_text())["videos"]}
            for v in truths[root.name].videos:
                t0 = time.perf_counter()
                c = run_video(v.video, args.out / "ours" / root.name / v.name / "events.csv",
                              args.out / "baseline" / root.name / v.name / "events.csv", spec)
                costs.append(c)
                print(f"  {root.name}/{v.video.name} ({carriers.get(v.video.name, '?')}): {c['frames']} frames "
                      f"in {time.perf_counter() - t0:.0f} s", flush=True)
        for method in results:
            for name, truth in truths.items():
                results[method][name] = score(truth, read_runs([args.out / method / name], truth), "micro")
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)

    def pooled(method: str, kind: str) -> dict:
        rs = [r["by_type"][kind] for r in results[method].values()]
        tp, ns, nt = (sum(r[k] for r in rs) for k in ("tp", "n_spotted", "n_truth"))
        fp, fn = ns - tp, nt - tp
        return {"tp": tp, "fp": fp, "fn": fn, "precision": tp / ns if ns else 0.0, "recall": tp / nt if nt else 0.0,
                "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0}

    print(f"\nMEGC spotting (IoU >= 0.5), F1  P R  (TP/FP/FN); truth = annotations.csv of each benchmark")
    print(f"{'benchmark':<14} {'method':<9} {'micro':<36} {'macro':<36} all")
    for name in list(truths) + ["pooled"]:
        for method in results:
            if name == "pooled":
                r = {k: pooled(method, k) for k in ("micro", "macro", "all")}
            else:
                r = results[method][name]["by_type"]
            print(f"{name:<14} {method:<9} {fmt(r['micro']):<36} {fmt(r['macro']):<36} {r['all']['f1']:.3f}")
    ours = np.concatenate([c["ours_ms"] for c in costs])
    cpu = np.concatenate([c["ours_cpu_ms"] for c in costs])
    align = np.concatenate([c["align_ms"] for c in costs])
    mag = np.concatenate([c["magnify_ms"] for c in costs])
    print(f"\ncost per frame, ms: ours (FaceMotion + Spotter) CPU time mean {cpu.mean():.3f} p50 {np.median(cpu):.3f} "
          f"p95 {np.percentile(cpu, 95):.3f}, wall mean {ours.mean():.3f} p50 {np.median(ours):.3f} (wall includes waiting "
          f"for a shared core); pipeline detect+align+buffer wall mean {align.mean():.2f}; "
          f"baseline magnify {mag.mean():.2f} per window = {mag.sum() / len(ours):.2f} per frame")
    summary = {m: {n: {k: results[m][n]["by_type"][k] for k in ("micro", "macro", "all")} for n in truths}
               for m in results}
    summary["cost_ms"] = {"ours_cpu_mean": float(cpu.mean()), "ours_cpu_p95": float(np.percentile(cpu, 95)),
                          "ours_wall_mean": float(ours.mean()), "ours_wall_p50": float(np.median(ours)),
                          "align_mean": float(align.mean()), "baseline_magnify_per_frame": float(mag.sum() / len(ours))}
    summary["cpu"] = cpu_flags()
    (args.out / "bench.json").write_text(json.dumps(summary, indent=1, default=float) + "\n")
    print(f"wrote {args.out}/bench.json; rescore a run with: mpt-eval spot --truth ROOT/annotations.csv "
          f"--runs {args.out}/ours/<benchmark> --type micro")


if __name__ == "__main__":
    main()
