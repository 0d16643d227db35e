"""The streaming recognizer: frames in, windows classified in a worker, overlay and results out.

Per frame: detect + align + push into the sliding window (:class:`~mpt_live.stream.ClipStream`).
Every ``stride`` frames the window goes to the model worker (:class:`~mpt_live.predictor.Predictor`):
magnify + rank pool + classify. With ``stride=None`` on a live source the window is taken whenever
the worker is free ("as often as the model keeps up"); recorded files default to
``FILE_STRIDE`` and classify every window in order. The display never waits for the model: it
shows the latest result, with probabilities smoothed by an EMA over windows; rows are written raw.

Outputs (``out_dir``): ``predictions.csv`` (flushed row by row), ``summary.json`` and
``timeline.png`` (written at the end, also after Ctrl-C or a crash), ``annotated.mp4`` with
``save_video``. Keys in the window: q quit, space pause, s snapshot PNG, r start/stop recording.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import deque
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

import cv2
import numpy as np

from .clip import ClipSpec
from .events import Spotter
from .face import FaceAligner
from .overlay import OverlayState, choose_side, render_overlay
from .predictor import Predictor, WindowResult
from .run import MOTION_COLUMNS
from .stream import ClipStream
from .timeline import read_rows, render_timeline
from .writers import CSVSink, write_json

FILE_STRIDE = 2  # recorded files without --stride: a window every 2 frames, all classified
NEUTRAL = "neutral"
WARMING = "warming up"  # a face, but not yet a full window of it
DEMO_NOTE = "DEMO MODEL: trained on semi-synthetic data; it shows the pipeline, it is not a validated micro-expression classifier"
WINDOW_TITLE = "mpt-live"
_NEVER = 1 << 62  # a ClipStream stride that does not tick


def has_display() -> bool:
    """True when an OpenCV window can be opened (cv2.imshow without a display aborts the process)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def prediction_columns(classes: Iterable[str]) -> list[str]:
    """predictions.csv columns: the motion-only ones, a probability per class, top, confidence."""
    return [*MOTION_COLUMNS, *[f"p_{c}" for c in classes], "top", "confidence"]


@dataclass
class LiveConfig:
    stride: int | None = None  # None: live -> as often as the model keeps up; files -> FILE_STRIDE
    detector: str = "short"
    spot_threshold: float = 4.0
    ema: float = 0.4  # weight of the newest window in the displayed probabilities
    out_dir: Path | None = None
    save_video: bool = False
    display: bool = False
    status: bool = False  # rich live status line (headless camera mode)
    history: int = 120  # windows in the overlay's history strip
    max_seconds: float | None = None  # stop after this long (benchmarks)
    workers: int | None = None  # model worker threads (None: one per usable core)


@dataclass
class ModelInfo:
    """What summary.json and the overlay say about the model."""

    path: str | None = None
    name: str = "motion only"
    classes: list[str] = field(default_factory=list)
    demo: bool = False
    precision: str | None = None
    backbone: str | None = None
    provider: str = ""
    describe: str = ""

    @classmethod
    def of(cls, runtime: Any | None) -> "ModelInfo":
        if runtime is None:
            return cls()
        return cls(path=str(runtime.path), name=Path(runtime.path).name, classes=list(runtime.classes),
                   demo=bool(runtime.demo), precision=runtime.precision, backbone=runtime.backbone,
                   provider=runtime.provider, describe=runtime.describe())

    def to_dict(self) -> dict[str, Any]:
        d = {"path": self.path, "name": self.name, "demo": self.demo, "precision": self.precision,
             "backbone": self.backbone, "classes": self.classes, "description": self.describe}
        if self.demo:
            d["note"] = DEMO_NOTE
        return d

    @property
    def label(self) -> str:
        parts = [self.name]
        if self.backbone:
            parts.append(self.backbone.replace("_patch16_224", ""))
        if self.precision:
            parts.append(self.precision)
        return " · ".join(parts)


class LabelTally:
    """Per-label window counts and time shares (each row covers the time until the next row)."""

    def __init__(self) -> None:
        self.windows: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self._prev: tuple[float, str] | None = None
        self._dts: deque[float] = deque(maxlen=64)

    def add(self, t: float, label: str) -> None:
        self.windows[label] = self.windows.get(label, 0) + 1
        if self._prev is not None:
            dt = max(0.0, t - self._prev[0])
            self.seconds[self._prev[1]] = self.seconds.get(self._prev[1], 0.0) + dt
            self._dts.append(dt)
        self._prev = (t, label)

    def to_dict(self, order: list[str]) -> dict[str, dict[str, float]]:
        seconds = dict(self.seconds)
        if self._prev is not None:  # the last row covers a typical spacing
            last = float(np.median(self._dts)) if self._dts else 0.0
            seconds[self._prev[1]] = seconds.get(self._prev[1], 0.0) + last
        total = sum(seconds.values())
        labels = [x for x in order if x in self.windows] + sorted(set(self.windows) - set(order))
        return {lab: {"windows": self.windows[lab], "seconds": round(seconds.get(lab, 0.0), 3),
                      "share": round(seconds.get(lab, 0.0) / total, 4) if total > 0 else 0.0} for lab in labels}


def _pct(values: Iterable[float], q: float) -> float | None:
    a = np.fromiter(values, dtype=np.float64)
    return round(float(np.percentile(a, q)), 2) if a.size else None


class _Recorder:
    """An MP4 writer opened on the first frame (size known then)."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path, self.fps = path, fps
        self._w: cv2.VideoWriter | None = None
        self.frames = 0

    def write(self, img: np.ndarray) -> None:
        if self._w is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            h, w = img.shape[:2]
            self._w = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self._w.isOpened():
                raise OSError(f"{self.path}: cannot write an MP4 here (OpenCV VideoWriter failed)")
        self._w.write(img)
        self.frames += 1

    def close(self) -> None:
        if self._w is not None:
            self._w.release()
            self._w = None


class _View:
    """What the overlay shows, updated from frames and results (EMA, history, fps)."""

    def __init__(self, classes: list[str], model: ModelInfo, ema: float, history: int) -> None:
        self.classes = classes
        self.model = model
        self.ema = ema
        self.probs: np.ndarray | None = None
        self.last: WindowResult | None = None
        self.label: str | None = None
        self.hot = False
        self.history: deque[tuple[str | None, float | None]] = deque(maxlen=history)
        self.fps: float | None = None
        self._t_prev: float | None = None
        self.latency_ms: float | None = None
        self.side: str | None = None
        self.message: tuple[str, float] | None = None

    def frame_tick(self, now: float) -> None:
        if self._t_prev is not None:
            dt = now - self._t_prev
            if dt > 0:
                inst = 1.0 / dt
                self.fps = inst if self.fps is None else 0.9 * self.fps + 0.1 * inst
        self._t_prev = now

    def result(self, r: WindowResult, label: str | None, hot: bool) -> None:
        self.last, self.label, self.hot = r, label, hot
        if r.probs is not None:
            self.probs = r.probs.copy() if self.probs is None else self.ema * r.probs + (1 - self.ema) * self.probs
        elif not r.face:
            self.probs = None  # no stale probabilities across a lost face
        self.history.append((label if label is not None or not r.face else WARMING, r.motion_score))
        ms = r.timings.get("inputs_ms", 0.0) + r.timings.get("model_ms", 0.0)
        if ms:
            self.latency_ms = ms if self.latency_ms is None else 0.8 * self.latency_ms + 0.2 * ms

    def state(self, width: int, face_box, t: float | None, paused: bool, recording: bool) -> OverlayState:
        self.side = choose_side(face_box, width, self.side) if face_box is not None else self.side
        r = self.last
        live_face = face_box is not None
        conf = None
        if self.probs is not None and self.label in self.classes:
            conf = float(self.probs[self.classes.index(self.label)])
        msg = self.message[0] if self.message and time.monotonic() < self.message[1] else None
        return OverlayState(
            classes=self.classes, probs=self.probs if live_face else None,
            label=self.label if live_face else None, confidence=conf, face=live_face, box=face_box,
            aligned=r.aligned if r and live_face else None, motion=r.motion if r and live_face else None,
            dynamic=r.dynamic if r and live_face else None, history=list(self.history),
            motion_score=r.motion_score if r else None, event=self.hot and live_face, fps=self.fps,
            latency_ms=self.latency_ms, provider=self.model.provider or "no model", model=self.model.label,
            demo=self.model.demo, paused=paused, recording=recording, time_s=t, message=msg, side=self.side,
        )


def _label_for(r: WindowResult, hot: bool, classes: list[str]) -> str | None:
    """The row's ``top``: None without a face, neutral outside events, else the top class."""
    if not r.face or r.motion_score is None:
        return None
    if r.probs is None or not classes:
        return NEUTRAL if not hot else "event"
    return classes[int(np.argmax(r.probs))] if hot else NEUTRAL


def run_session(
    source: Iterable[Any],
    *,
    name: str,
    runtime: Any | None,
    live: bool,
    source_fps: float,
    cfg: LiveConfig,
    total_frames: int | None = None,
    on_progress: Callable[[int, int | None], None] | None = None,
    on_status: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run the recognizer over ``source`` (Frames or LiveFrames); returns the summary dict.

    ``live``: frames come from a newest-frame reader (camera, stream, --realtime): windows are
    dropped when the model is busy. Otherwise every window is classified in order.
    """
    spec: ClipSpec = runtime.clip_spec if runtime is not None else ClipSpec()
    model = ModelInfo.of(runtime)
    classes = model.classes
    auto = cfg.stride is None and live
    stride = 1 if auto else (cfg.stride or FILE_STRIDE)
    out = Path(cfg.out_dir) if cfg.out_dir else None
    view = _View(classes, model, cfg.ema, cfg.history)
    spotter = Spotter(spec.window_s, threshold=cfg.spot_threshold)
    tally = LabelTally()
    latencies: deque[float] = deque(maxlen=20000)
    model_ms: deque[float] = deque(maxlen=20000)
    stats = {"frames_read": 0, "frames_with_face": 0, "windows": 0, "windows_classified": 0}
    started = time.monotonic()
    interrupted, error = False, None
    segment = 0
    fps_w = source_fps if source_fps and math.isfinite(source_fps) else 30.0
    draw = cfg.display or cfg.save_video
    base = out if out is not None else Path.cwd()

    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        aligner = stack.enter_context(FaceAligner(image_size=spec.image_size, model=cfg.detector))
        sink = stack.enter_context(CSVSink(out / "predictions.csv", prediction_columns(classes))) if out else None
        video = _Recorder(out / "annotated.mp4", fps_w) if (out is not None and cfg.save_video) else None
        stream = ClipStream(spec, aligner, stride=stride, max_fps=max(fps_w, 60.0 if live else fps_w))
        workers = cfg.workers
        if not workers:
            from .runtime import usable_cores  # imports onnxruntime: not at module level (motion-only runs)
            workers = usable_cores()
        predictor = Predictor(spec, runtime, live=live, thumbnails=draw, workers=workers)
        stack.callback(predictor.close)
        window = Controls(base, fps_w, view) if cfg.display else None
        if window is not None:
            window.open()
            stack.callback(window.close)

        def handle(r: WindowResult) -> None:
            probs_d = dict(zip(classes, map(float, r.probs))) if r.probs is not None else None
            hot = spotter.update(r.time_s, r.motion_score if r.face else None, probs_d)
            label = _label_for(r, hot, classes)
            view.result(r, label, hot)
            stats["windows"] += 1
            if r.probs is not None:
                stats["windows_classified"] += 1
                latencies.append(r.latency_ms)
                model_ms.append(r.timings.get("inputs_ms", 0.0) + r.timings.get("model_ms", 0.0))
            tally.add(r.time_s, label if label is not None else ("no face" if not r.face else WARMING))
            if sink is not None:
                x, y, w, h = r.box if r.box is not None else (None,) * 4
                row = {"time_s": round(r.time_s, 4), "frame": r.frame, "face": r.face, "x": x, "y": y, "w": w,
                       "h": h, "motion_score": r.motion_score, "top": label,
                       "confidence": float(np.max(r.probs)) if (r.probs is not None and label in classes) else None}
                if probs_d:
                    row.update({f"p_{c}": v for c, v in probs_d.items()})
                sink.write(row)

        try:
            for frame in source:
                now = time.monotonic()
                captured = getattr(frame, "captured", now)
                if getattr(frame, "segment", 0) != segment:  # a reconnected stream: start a new track
                    segment = frame.segment
                    stream.ring.clear()
                    aligner.reset()
                stats["frames_read"] += 1
                if auto:  # take a window only when the worker is free: sampling one costs ms
                    stream.stride = 1 if predictor.idle else _NEVER
                w = stream.push(frame)
                if stream.last_face is not None:
                    stats["frames_with_face"] += 1
                if w is not None:
                    predictor.submit(w, captured)
                for r in predictor.poll():
                    handle(r)
                view.frame_tick(time.monotonic())
                if on_progress is not None:
                    on_progress(stats["frames_read"], total_frames)
                if on_status is not None:
                    on_status(_status(view, stats, predictor, model))
                if draw:
                    box = stream.last_face.box if stream.last_face is not None else None
                    width = frame.image.shape[1]
                    paused, recording = (window.paused, window.recording) if window else (False, False)
                    img = render_overlay(frame.image, view.state(width, box, frame.t, paused, recording))
                    if video is not None:
                        video.write(img)
                    if window is not None:
                        window.show(img, lambda: render_overlay(
                            frame.image, view.state(width, box, frame.t, True, window.recording)))
                if cfg.max_seconds is not None and time.monotonic() - started >= cfg.max_seconds:
                    break
            for r in predictor.drain():
                handle(r)
        except (_Quit, KeyboardInterrupt) as e:
            interrupted = isinstance(e, KeyboardInterrupt)
            _settle(predictor, handle)
        except BaseException as e:
            error = f"{type(e).__name__}: {e}"
            _settle(predictor, handle)
            raise
        finally:
            if video is not None:
                video.close()
            seconds = time.monotonic() - started
            summary = {
                "source": name,
                "mode": "live" if live else "file",
                **stats,
                "windows_dropped": predictor.dropped,
                "source_fps": round(fps_w, 3),
                "source_seconds": round(stats["frames_read"] / fps_w, 3) if not live else round(seconds, 3),
                "seconds": round(seconds, 3),
                "fps": round(stats["frames_read"] / seconds, 2) if seconds > 0 else None,
                "predictions_per_s": round(stats["windows_classified"] / seconds, 2) if seconds > 0 else None,
                "stride": "auto" if auto else stride,
                "detector": cfg.detector,
                "model": model.to_dict(),
                "provider": model.provider or None,
                "clip_spec": spec.to_dict(),
                "spot_threshold": cfg.spot_threshold,
                "labels": tally.to_dict(classes + [NEUTRAL, "event", WARMING, "no face"]),
                "events": [e.to_dict() for e in spotter.events],
                "latency_ms": {"capture_to_prediction_p50": _pct(latencies, 50),
                               "capture_to_prediction_p95": _pct(latencies, 95),
                               "model_p50": _pct(model_ms, 50), "model_p95": _pct(model_ms, 95)},
                "outputs": {},
                "interrupted": interrupted,
                "error": error,
            }
            if out is not None:
                summary["outputs"]["predictions"] = "predictions.csv"
                try:
                    render_timeline(read_rows(out / "predictions.csv"), classes,
                                    summary["events"], out / "timeline.png", title=_title(name, model), demo=model.demo)
                    summary["outputs"]["timeline"] = "timeline.png"
                except Exception as te:  # the plot must never cost the CSV or the summary
                    summary["timeline_error"] = f"{type(te).__name__}: {te}"
                if video is not None and video.frames:
                    summary["outputs"]["video"] = video.path.name
            if window is not None:
                summary["outputs"]["snapshots"] = [str(p) for p in window.snapshots]
                summary["outputs"]["recordings"] = [str(p) for p in window.recordings]
            if out is not None:
                write_json(out / "summary.json", summary)
    if interrupted:
        raise KeyboardInterrupt
    return summary


def _settle(predictor: Predictor, handle: Callable[[WindowResult], None], timeout: float = 3.0) -> None:
    """After a stop or a crash: write the windows already in the worker (briefly; never raises)."""
    try:
        if predictor.error is None:
            for r in predictor.drain(timeout=timeout):
                handle(r)
    except BaseException:  # a second Ctrl-C or a failing worker: keep what is written
        pass


def _title(name: str, model: ModelInfo) -> str:
    short = name if "://" in name else Path(name).name
    return f"{short} · {model.label}"


class _Quit(Exception):
    """q / Esc in the window."""


class Controls:
    """The OpenCV window and its keys: q/Esc quit, space pause, s snapshot PNG, r start/stop recording.

    Snapshots and recordings go to ``base`` (the output folder, or the working directory)."""

    def __init__(self, base: Path, fps: float, view: _View, title: str = WINDOW_TITLE) -> None:
        self.base, self.fps, self.view, self.title = Path(base), fps, view, title
        self.paused = False
        self.recorder: _Recorder | None = None
        self.snapshots: list[Path] = []
        self.recordings: list[Path] = []

    @property
    def recording(self) -> bool:
        return self.recorder is not None

    def open(self) -> None:
        cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None
        cv2.destroyWindow(self.title)

    def _say(self, msg: str) -> None:
        self.view.message = (msg, time.monotonic() + 2.5)

    def key(self, key: int, img: np.ndarray) -> None:
        """Act on one key press (-1: none). Raises _Quit on q / Esc."""
        key &= 0xFF
        if key in (ord("q"), 27):
            raise _Quit
        if key == ord(" "):
            self.paused = not self.paused
        elif key == ord("s"):
            p = self.base / f"snapshot-{datetime.now():%Y%m%d-%H%M%S}-{len(self.snapshots) + 1}.png"
            p.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(p), img)
            self.snapshots.append(p)
            self._say(f"snapshot saved: {p.name}")
        elif key == ord("r"):
            if self.recorder is None:
                p = self.base / f"recording-{datetime.now():%Y%m%d-%H%M%S}-{len(self.recordings) + 1}.mp4"
                self.recorder = _Recorder(p, self.fps)
                self.recordings.append(p)
                self._say(f"recording to {p.name}")
            else:
                self.recorder.close()
                self._say(f"saved {self.recorder.path.name}")
                self.recorder = None

    def show(self, img: np.ndarray, redraw_paused: Callable[[], np.ndarray]) -> None:
        """Show a frame, record it if recording, handle keys; while paused, wait here."""
        if self.recorder is not None:
            self.recorder.write(img)
        cv2.imshow(self.title, img)
        self.key(cv2.waitKey(1), img)
        while self.paused:
            cv2.imshow(self.title, redraw_paused())
            self.key(cv2.waitKey(50), img)


def _status(view: _View, stats: dict, predictor: Predictor, model: ModelInfo) -> dict[str, Any]:
    conf = None
    if view.probs is not None and view.label in view.classes:
        conf = float(view.probs[view.classes.index(view.label)])
    return {"fps": view.fps, "provider": model.provider or "no model", "label": view.label, "confidence": conf,
            "windows": stats["windows"], "latency_ms": view.latency_ms, "dropped": predictor.dropped,
            "face": view.last.face if view.last else False, "demo": model.demo}
