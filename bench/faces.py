"""The cost of a second face: the session on two real people side by side with --max-faces 1, then 2.

The recording is composed from two of the shared videos (train/compose.py: a talking man and an
expressive woman, 320 px tiles, 640x320 at 30 fps). The same file is run through the session engine
(every frame, a window every 2 frames) with one face tracked, then two, with and without the bundled demo
model. Cost per frame is the process's CPU time (all threads: decode, detection, tracking, alignment,
spotting, magnification, model) divided by the frames, which other jobs on a shared machine inflate less
than wall time (printed beside it). The second face's cost is C(2) - C(1), against the first face's C(1)
(target: <= 60 %). Also printed: how many windows had both faces (tracking coverage), and the model calls
(the windows of both faces fall due on the same frames and go to the model in one call).

Each run is made ``--repeat`` times, one face and two faces taking turns so that both see the machine's
load alike, after one run of each model not counted (a process's first session pays one-off start costs:
the detectors, SFace and ONNX Runtime built); C is the least CPU time of the repeats (other jobs only ever add
to it: on a shared 2-core machine one run can cost 30 % more than the next), the median is printed beside it.

``--stages`` adds one more run of each, split by stage (CPU time of the thread each stage runs in):
tracking (detection, alignment, registration, embeddings), the faces' motion signals and spotters, the
sampling of each window's clip from its buffered frames (in the model worker), the model inputs (magnify +
rank pool, or the motion score alone), the model call, and the rest (decoding, the loop); each stage's part
of what the second face adds; then what the faces share against what each face adds (the 60 % target needs
a face's own cost <= 1.5x the shared part).

``--profile`` runs one session of each under cProfile instead of the timed runs, every thread timed by its own
CPU time (``time.thread_time``: what other jobs on a shared machine inflate least), and prints per stage its calls per
frame (warps, ECC registrations, SFace embeddings, clips magnified, spotter updates, model calls) and CPU ms per
frame with 1 and 2 faces, and each stage's part of what the second face adds; the profiler's own cost inflates
the stages of many small calls, so compare the two columns, not these figures with the other runs'.

``--tile PX`` sets each person's square tile (default 320 px: a 640x320 recording; 640: 1280x640; 960: 1920x960,
the shared videos scaled up). What the faces share (decoding, detection, the cut check's thumbnail, the loop) grows
with the frame; what each face adds (its alignment at 224 px, registration, spotter, model call) does not, so the
second face's share falls as the frame grows: the same target, a figure per size.

``--live`` plays the recording at its own pace instead (``--realtime``: a camera-like source, the newest
frame taken when the loop is ready) for ``--seconds`` with the demo model, one face then two, and prints
what a live user sees: frames processed per second, windows classified per second and the latency from
capture to prediction (p50, p95). Both faces' windows go to the model in one call, so the second face
shows as a longer call rather than as a lower frame rate.

``--opencv-threads N`` runs everything with OpenCV's thread pool set to N threads (``cv2.setNumThreads``; default 1,
as an mpt-live run has it since stop 54: :func:`mpt_live.machine.opencv_threads`, entered by ``run_job``; 0: OpenCV's
own default, a thread per core, as runs had it before). The first line prints the count in force. One thread: the same rows (motion only, and the demo model's probabilities) for less CPU a frame, the
face stage's calls (ECC on a 112 px crop, 224 px warps, a 64x36 thumbnail) being too small to gain from a pool
(measured 2026-12-07, 10 s, a loaded 2-core machine, alternating in one process, two runs: motion only 4.84 and 4.60
against 4.83 and 5.05 ms a frame with 1 face, 8.34 and 8.32 against 8.94 and 8.97 with 2; the demo model, 2 faces,
22.5 against 24.3; to be timed on an idle machine).

    python bench/faces.py [--seconds 20] [--tile PX] [--threads 1] [--repeat 3] [--stages] [--profile] [--live]
                          [--opencv-threads N]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.append(str(Path(__file__).resolve().parent))  # bench/shared_faces.py, after the installed packages
from shared_faces import faces_folder, need  # noqa: E402

import mpt_live.model_worker as model_worker  # noqa: E402
from mpt_live.paced_video import PacedVideoReader  # noqa: E402
from mpt_live.clip import ClipFrames  # noqa: E402
from mpt_live.face_state import FaceState  # noqa: E402
from mpt_live.runtime import MPTRuntime, load_model, vector_extensions  # noqa: E402
from mpt_live.session import Session, SessionConfig  # noqa: E402
from mpt_live.tracks import FaceTracker  # noqa: E402
from mpt_live.sources import VideoFile  # noqa: E402
from train.compose import side_by_side  # noqa: E402

FACES = faces_folder() / "videos"
STAGES = {"tracking": [(FaceTracker, "update")], "spotting": [(FaceState, "push"), (FaceState, "window")],
          # the window's clip made from its frames (ClipFrames.clip: the frames themselves where they are the samples,
          # else sampled; code before it had sample() alone, which this bench also times)
          "clip sampling": [(ClipFrames, "clip" if hasattr(ClipFrames, "clip") else "sample")],
          "model inputs": [(model_worker, "model_inputs"), (model_worker, "motion_score")],
          "model call": [(MPTRuntime, "predict")]}

# --profile: (what, file the function is in ('~': built in), its name); the calls and cumulative CPU time of each
PROFILED = [("frame loop (tracking + spotting)", "session.py", "_frame"),
            ("  tracking", "tracks.py", "update"),
            ("    detector runs", "face.py", "detect"),
            ("    ECC registrations", "~", "<findTransformECC>"),
            ("    warps (all)", "~", "<warpAffine>"),
            ("    SFace embeddings", "identity.py", "embed"),
            ("  spotter updates (FaceState.push)", "face_state.py", "push"),
            ("model worker jobs", "model_worker.py", "_process"),
            ("  clips sampled", "clip.py", "sample_frames"),
            ("  clips magnified (model_inputs)", "motion.py", "model_inputs"),
            ("  motion scores alone (motion_score)", "motion.py", "motion_score"),
            ("  frames magnified", "motion.py", "push"),
            ("  model calls", "runtime.py", "predict"),
            ("decoding", "~", "<method 'read' of 'cv2.VideoCapture' objects>")]


@contextmanager
def all_threads_profiled():
    """While open, cProfile (timer: the thread's CPU time) on this thread and on every thread started meanwhile;
    yields the list of profiles."""
    profiles, run = [], threading.Thread.run

    def profiled(self):
        p = cProfile.Profile(time.thread_time)
        profiles.append(p)
        p.runcall(run, self)

    main = cProfile.Profile(time.thread_time)
    profiles.append(main)
    threading.Thread.run = profiled
    main.enable()
    try:
        yield profiles
    finally:
        main.disable()
        threading.Thread.run = run


def profile(video: Path, runtime, workers: int) -> None:
    """A run with 1 and 2 faces under cProfile (after one unprofiled): calls and CPU ms per frame of PROFILED."""
    rows = {}
    run(video, runtime, 2, workers)  # unprofiled first: the process's one-off costs (imports, model loading)
    for n in (1, 2):
        with all_threads_profiled() as profiles:
            r = run(video, runtime, n, workers)
        stats = pstats.Stats(profiles[0])
        for p in profiles[1:]:
            stats.add(p)
        got = {}
        for what, where, name in PROFILED:
            hits = [(nc, ct) for (f, _, fn), (_, nc, _, ct, _) in stats.stats.items()
                    if fn == name and (f == where if where == "~" else f.endswith("/" + where))]
            got[what] = (sum(h[0] for h in hits) / r["frames"], sum(h[1] for h in hits) / r["frames"] * 1e3)
        got["all threads, profiled"] = (None, stats.total_tt / r["frames"] * 1e3)
        rows[n] = got, r["calls"]
    extra = rows[2][0]["all threads, profiled"][1] - rows[1][0]["all threads, profiled"][1]
    print(f"    {'calls and CPU ms per frame':<38} {'1 face':>15} {'2 faces':>15} {'second face':>12} {'of it':>6}")
    for what in rows[1][0]:
        (c1, ms1), (c2, ms2) = rows[1][0][what], rows[2][0][what]
        calls = (f"{c1:6.3f}", f"{c2:6.3f}") if c1 is not None else ("", "")
        print(f"    {what:<38} {calls[0]:>6} {ms1:>8.2f} {calls[1]:>6} {ms2:>8.2f} {ms2 - ms1:>+12.2f}"
              f" {100 * (ms2 - ms1) / extra if extra else 0:>5.0f}%")
    print(f"    model calls x clips: {rows[1][1]} / {rows[2][1]}; the second face adds {extra:.2f} ms = "
          f"{100 * extra / rows[1][0]['all threads, profiled'][1]:.0f} % of the first (profiled)")


@contextmanager
def stage_clock():
    """While open, the thread CPU seconds spent in each of STAGES (the functions wrapped, then restored)."""
    spent: Counter = Counter()
    saved = [(owner, name, getattr(owner, name)) for fns in STAGES.values() for owner, name in fns]

    def timed(stage, fn):
        def wrapper(*a, **k):
            c = time.thread_time()
            try:
                return fn(*a, **k)
            finally:
                spent[stage] += time.thread_time() - c
        return wrapper

    for stage, fns in STAGES.items():
        for owner, name in fns:
            setattr(owner, name, timed(stage, getattr(owner, name)))
    try:
        yield spent
    finally:
        for owner, name, fn in saved:
            setattr(owner, name, fn)


def run(video: Path, runtime, max_faces: int, workers: int) -> dict:
    """One session over ``video``: CPU and wall ms per frame, windows with each number of faces."""
    per_frame: dict[int, set] = {}
    c0, w0 = time.process_time(), time.perf_counter()
    with VideoFile(video) as src, Session(src, runtime, SessionConfig(max_faces=max_faces, workers=workers)) as s:
        for r in s:
            per_frame.setdefault(r.frame, set()).add(r.face_id)
        frames = s.figures.counts["frames_read"]
        batch = s.summary()["batch"]
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    both = sum(len(ids - {None}) == 2 for ids in per_frame.values())
    calls = f"{batch['model_calls']} x {batch['mean_clips']:g}" if batch else "-"
    return {"cpu_ms": cpu / frames * 1e3, "wall_ms": wall / frames * 1e3, "windows": len(per_frame), "both": both,
            "calls": calls, "frames": frames}


def live(video: Path, runtime, max_faces: int, workers: int, seconds: float) -> dict:
    """The recording played at its own pace with ``max_faces``: what a live user sees."""
    with PacedVideoReader(video, loop=True) as src, Session(
            src, runtime, SessionConfig(max_faces=max_faces, workers=workers, max_seconds=seconds)) as s:
        for _ in s:
            pass
        summary = s.summary()
    lat, dur = summary["latency_ms"], max(summary["seconds"], 1e-9)
    return {"fps": summary["frames_read"] / dur, "per_s": summary["windows_classified"] / dur,
            "p50": lat["capture_to_prediction_p50"], "p95": lat["capture_to_prediction_p95"],
            "model_p50": lat["model_p50"], "batch": summary["batch"]}


def stages(video: Path, runtime, workers: int) -> None:
    """One more run with 1 and 2 faces, each split by stage: CPU ms per frame, and the second face's share."""
    split = {}
    for n in (1, 2):
        with stage_clock() as spent:
            r = run(video, runtime, n, workers)
        ms = {k: spent[k] / r["frames"] * 1e3 for k in STAGES}
        split[n] = {**ms, "rest": r["cpu_ms"] - sum(ms.values()), "total": r["cpu_ms"]}
    own = split[2]["total"] - split[1]["total"]  # what a face adds
    for k in split[1]:
        extra = split[2][k] - split[1][k]
        print(f"    {k:<20} {split[1][k]:>12.2f} {split[2][k]:>9.2f} {extra:>+12.2f} "
              f"{100 * extra / own if own else 0:>5.0f}%")
    shared = split[1]["total"] - own  # what the faces share (decoding, detection, the loop)
    print(f"    shared by the faces {shared:.2f} ms, each face's own {own:.2f} ms: <= 60 % needs a face's own "
          f"cost <= 1.5 x the shared part ({1.5 * shared:.2f} ms)")


def repeated(video: Path, runtime, workers: int, repeat: int) -> dict[int, dict]:
    """1 face and 2 faces, ``repeat`` times in turn, after one run not counted: each one's least CPU time, its
    median, the last run's rest. The run not counted pays what a process's first session with this model pays once
    (the detectors, SFace and ONNX Runtime's sessions built, their first inferences: ~0.7 s CPU, ~2.3 ms a frame of a
    10 s run, before the first frame of the motion-only runs' first): counted, it went to the first 1-face run, and
    with ``--repeat 1`` made the first face dearer and the second's share smaller than they are."""
    run(video, runtime, 2, workers)
    runs: dict[int, list[dict]] = {1: [], 2: []}
    for _ in range(repeat):
        for n in runs:
            runs[n].append(run(video, runtime, n, workers))
    return {n: {**rs[-1], "cpu_ms": min(r["cpu_ms"] for r in rs),
                "cpu_median": float(np.median([r["cpu_ms"] for r in rs])),
                "wall_ms": float(np.median([r["wall_ms"] for r in rs]))} for n, rs in runs.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=1, help="model worker threads (one ONNX Runtime thread each)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each (the least CPU time counts)")
    ap.add_argument("--stages", action="store_true", help="also split one run of each by stage")
    ap.add_argument("--profile", action="store_true",
                    help="profile one run of each instead (all threads, CPU time; calls per frame)")
    ap.add_argument("--tile", type=int, default=320, metavar="PX",
                    help="each person's square tile (default 320: a 640x320 recording; 640: 1280x640; 960: 1920x960)")
    ap.add_argument("--live", action="store_true", help="play the recording at its own pace (demo model): latency")
    ap.add_argument("--opencv-threads", type=int, default=1, metavar="N",
                    help="OpenCV's thread pool for the whole bench (default 1, as an mpt-live run has it; 0: OpenCV's own)")
    args = ap.parse_args()
    if args.opencv_threads < 0:
        ap.error(f"--opencv-threads {args.opencv_threads}: must be 0 (OpenCV's default) or more")
    if not 64 <= args.tile <= 2048:
        ap.error(f"--tile {args.tile}: a tile is 64 to 2048 px")
    if args.opencv_threads:
        cv2.setNumThreads(args.opencv_threads)
    print(f"CPU vector extensions: {vector_extensions()}; {os.cpu_count()} cpus; model workers {args.threads}; "
          f"OpenCV threads {cv2.getNumThreads()}" + ("" if args.opencv_threads else " (its default)"))
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "two.mp4"
        side_by_side([need(FACES / "paddlegan_fom_dv.mp4"), need(FACES / "liveportrait_d6.mp4")], video, args.seconds,
                     tile=args.tile)
        model = load_model(None, device="cpu", threads=1)
        print(f"{args.seconds:g} s, {2 * args.tile}x{args.tile}, two people side by side; model: {model.describe() if model else 'none'}")
        if args.live:
            print(f"{'live, demo model':<18} {'frames/s':>9} {'windows/s':>10} {'latency p50':>12} {'p95 ms':>7}"
                  f" {'model p50 ms':>13} {'clips per call':>15}")
            for n in (1, 2):
                r = live(video, model, n, args.threads, args.seconds)
                print(f"{f'{n} face' + ('s' if n > 1 else ''):<18} {r['fps']:>9.1f} {r['per_s']:>10.1f} "
                      f"{r['p50']:>12.0f} {r['p95']:>7.0f} {r['model_p50']:>13.0f} {r['batch']['mean_clips']:>15.2f}")
            print(f"load {os.getloadavg()[0]:.1f}")
            return
        if args.profile:  # profiles only: no timed runs
            for name, rt in (("motion only", None), ("demo model", model)):
                print(f"{name}, profiled:")
                profile(video, rt, args.threads)
            return
        print(f"{'run':<24} {'CPU ms/frame':>12} {'(median)':>9} {'wall ms/frame':>14} {'windows with 2 faces':>21}"
              f" {'model calls x clips':>20}")
        for name, rt in (("motion only", None), ("demo model", model)):
            res = repeated(video, rt, args.threads, max(1, args.repeat))
            one, two = res[1], res[2]
            for k, r in (("1 face", one), ("2 faces", two)):
                print(f"{name + ', ' + k:<24} {r['cpu_ms']:>12.2f} {r['cpu_median']:>9.2f} {r['wall_ms']:>14.2f} "
                      f"{r['both']:>13}/{r['windows']:<7} {r['calls']:>20}")
            extra = two["cpu_ms"] - one["cpu_ms"]
            median = 100 * (two["cpu_median"] - one["cpu_median"]) / one["cpu_median"]
            print(f"{name}: second face {extra:.2f} ms = {100 * extra / one['cpu_ms']:.0f} % of the first "
                  f"({one['cpu_ms']:.2f} ms; medians: {median:.0f} %; target <= 60 %; load {os.getloadavg()[0]:.1f})")
            if args.stages:
                print(f"    {name + ', CPU ms/frame':<20} {'1 face':>12} {'2 faces':>9} {'second face':>12} {'of it':>6}")
                stages(video, rt, args.threads)


if __name__ == "__main__":
    main()
