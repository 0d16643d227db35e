"""Soak: the live loop on a looping source for --minutes (10 for the README figure), RSS and lag each minute.

The demo input (or ``--video``, resized to 640x480) is played at its own pace in a loop, like a camera
(:class:`mpt_live.paced_video.PacedVideoReader`), through the session engine with the model (``--model`` or
the bundled demo model) into predictions.csv and events.csv sinks: what ``mpt-live --camera 0 --out DIR`` runs. Each
minute one row: resident memory, frames processed per second, the share the reader dropped (the loop
was busy), capture->pickup lag p50/p95 (how far behind the "camera" the loop is) and capture->prediction
latency p95. At the end: RSS growth after the first minute and the lag of the first and last minute;
a leak or a backlog shows as growth. Nothing is asserted: the figures are printed.

    python bench/soak.py [--minutes 10] [--model M.onnx] [--video PATH] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from live import prepare_source, rss_mb  # bench/live.py: the 640x480 source and /proc RSS
from mpt_live.paced_video import PacedVideoReader
from mpt_live.machine import vector_extensions
from mpt_live.results import columns
from mpt_live.runtime import demo_model_path, load_model
from mpt_live.session import Session, SessionConfig
from mpt_live.spotting import EVENT_COLUMNS
from mpt_live.writers import CSVSink

def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


class Minutes:
    """Per-minute figures of the loop: call :meth:`frame` per frame, :meth:`result` per window."""

    HEADER = (f"{'min':>4} {'RSS MB':>8} {'frames/s':>9} {'dropped':>8} {'lag p50':>8} {'lag p95':>8} "
              f"{'latency p95':>12} {'classified':>11}")

    def __init__(self, reader: PacedVideoReader) -> None:
        self.reader = reader
        self.t0 = time.monotonic()
        self.rows: list[dict] = []
        self._reset(0)

    def _reset(self, dropped: int) -> None:
        self.lag: list[float] = []
        self.latency: list[float] = []
        self.frames = self.classified = 0
        self.dropped0 = dropped
        self.start = time.monotonic()

    def frame(self, captured: float) -> None:
        now = time.monotonic()
        self.lag.append((now - captured) * 1e3)
        self.frames += 1
        if now - self.t0 >= 60.0 * (len(self.rows) + 1):
            self.emit()

    def result(self, latency_ms: float | None) -> None:
        if latency_ms is not None:
            self.latency.append(latency_ms)
            self.classified += 1

    def emit(self) -> None:
        secs = max(time.monotonic() - self.start, 1e-9)
        dropped = self.reader.dropped - self.dropped0
        row = {"minute": len(self.rows) + 1, "rss": rss_mb(), "fps": self.frames / secs,
               "dropped": dropped / max(dropped + self.frames, 1), "lag50": _pct(self.lag, 50),
               "lag95": _pct(self.lag, 95), "lat95": _pct(self.latency, 95), "classified": self.classified}
        self.rows.append(row)
        print(f"{row['minute']:>4} {row['rss']:>8.1f} {row['fps']:>9.1f} {row['dropped']:>8.1%} {row['lag50']:>6.0f}ms "
              f"{row['lag95']:>6.0f}ms {row['lat95']:>10.0f}ms {row['classified']:>11}", flush=True)
        self._reset(self.reader.dropped)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="length of the soak [10]")
    ap.add_argument("--model", help="ONNX model [the bundled demo model]")
    ap.add_argument("--video", help="source clip, resized to 640x480 [the demo input]")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    print(f"CPU vector extensions: {vector_extensions()}; {os.cpu_count()} cores")
    model = Path(args.model) if args.model else demo_model_path()
    if not model.is_file():
        print(f"no model: {model} (pass --model)")
        return 2
    rt = load_model(model, device=args.device)
    print(rt.describe())
    with tempfile.TemporaryDirectory() as td:
        src = prepare_source(args.video, Path(td))
        with PacedVideoReader(src, loop=True) as reader:
            print(f"source: {src.name if args.video is None else args.video}, looped at its own {reader.fps:g} fps, "
                  f"{args.minutes:g} min\n{Minutes.HEADER}", flush=True)
            mins = Minutes(reader)
            session = Session(reader, rt, SessionConfig(max_seconds=args.minutes * 60.0),
                              on_frame=lambda f, faces: mins.frame(f.captured))
            with session, CSVSink(Path(td) / "predictions.csv", columns(session.classes)) as sink, \
                    CSVSink(Path(td) / "events.csv", EVENT_COLUMNS) as events:
                for r in session:
                    sink.write(r.row())
                    mins.result(r.latency_ms if r.probs is not None else None)
                    for e in session.take_events():
                        events.write(e.row(src.name))
                for e in session.take_events():  # the events closed at the end
                    events.write(e.row(src.name))
            if mins.frames and time.monotonic() - mins.start >= 10.0:  # a partial last minute of 10 s or more
                mins.emit()
        s = session.summary()
    rows = mins.rows
    if not rows:
        print("no full minute ran")
        return 1
    base = rows[0]["rss"]
    print(f"\nSUMMARY bench/soak: {s['seconds'] / 60:.1f} min, {s['frames_read']} frames, "
          f"{s['windows_classified']} windows classified, {s['windows_dropped']} dropped (model busy); "
          f"RSS {base:.0f} MB after minute 1 -> {rows[-1]['rss']:.0f} MB at the end "
          f"(max growth {max(r['rss'] for r in rows) - base:+.1f} MB); lag p95 minute 1 {rows[0]['lag95']:.0f} ms, "
          f"last {rows[-1]['lag95']:.0f} ms; latency p95 {s['latency_ms']['capture_to_prediction_p95']} ms; "
          f"CPU {vector_extensions()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
