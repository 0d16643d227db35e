"""`--inspect`: one PNG showing what the model sees at a given time of a video.

The clip is made with the model's own :class:`~mpt_live.clip.ClipSpec` (read from its ONNX
metadata), so the sheet shows exactly the frames, window and magnification the model is fed.

Row 1: the ``spec.frames`` aligned face crops of the window ending at that time; row 2: the
magnified clip as a heat map of |M_t - M_0| (difference to the first magnified frame, one shared
colour scale); right: the dynamic image (approximate rank pooling of the aligned frames).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .clip import ClipSpec, window_times
from .clocktime import clock
from .errors import InputError, OutputError
from .face import FaceAligner
from .motion import magnify_clip
from .rankpool import dynamic_image
from .recordings import open_recording
from .sources import VideoFile
from .writers import atomic_path
from .clip_stream import ClipStream


def clip_at(video: str | Path, t: float, spec: ClipSpec, detector: str = "auto",
            fps: float | None = None, rotation: str = "auto") -> tuple[np.ndarray, float]:
    """The aligned clip of the window ending at time ``t`` (s) of ``video`` (a file, or a folder of frames
    at ``fps``) and that window's end time. ``detector`` "auto": short-range, full-range where it finds no face;
    ``rotation``: ``--rotation`` (:mod:`mpt_live.upright`), a video file read the way up a run of it reads it."""
    if t < spec.window_s:
        raise InputError(f"{video}: --inspect {t:g} s is earlier than one window ({spec.window_s:g} s) after the start")
    for model in ("short", "full") if detector == "auto" else (detector,):
        w, rate = _window_at(video, t, spec, model, fps, rotation)
        if w is not None and w.clip is not None:
            break
    if w is None:
        raise InputError(f"{video}: has no frames")
    if abs(w.time_s - t) > 1.0 / rate + 1e-6:
        raise InputError(f"{video}: --inspect {t:g} s is past the end of the video ({clock(w.time_s)})")
    if w.clip is None:
        why = "no face at that time" if w.face is None else "the face was not tracked for a whole window before it"
        raise InputError(f"{video}: cannot build a clip at {clock(t)}: {why}")
    return w.clip, w.time_s


def _window_at(video: str | Path, t: float, spec: ClipSpec, model: str, fps: float | None, rotation: str = "auto"):
    """The window ending at ``t`` with the detector ``model`` (None: no frames) and the recording's rate."""
    with open_recording(video, fps, rotation) as src:
        start = getattr(src, "start_s", 0.0)  # a video whose picture starts after its sound: its first frame's time
        if t < start + spec.window_s:
            raise InputError(f"{video}: --inspect {t:g} s is earlier than one window ({spec.window_s:g} s) after "
                             f"the first frame ({clock(start)}: the picture starts after the sound)")
        end = start + (src.frame_count - 1) / src.fps  # what the container says; checked again by the caller
        if src.frame_count and t > end + 1.0 / src.fps:
            raise InputError(f"{video}: --inspect {t:g} s is past the end of the video ({clock(end)})")
        with FaceAligner(image_size=spec.image_size, model=model, align=spec.align) as aligner:
            stream = ClipStream(spec, aligner, max_fps=max(src.fps, 1.0))  # sampled once, below
            last = None
            for frame in src:
                if frame.t > t + 0.5 / src.fps:
                    break
                stream.push(frame)
                last = frame
            return (stream.window(last) if last is not None else None), src.fps


def clips_at(video: str | Path, ends: list[float], spec: ClipSpec, detector: str = "short") -> list[np.ndarray | None]:
    """The aligned clips of the windows ending at each time of ``ends`` (s), in one pass over ``video``
    (None where there was no full window of face)."""
    out: list[np.ndarray | None] = [None] * len(ends)
    order = sorted(range(len(ends)), key=lambda i: ends[i])
    with VideoFile(video) as src, FaceAligner(image_size=spec.image_size, model=detector, align=spec.align) as aligner:
        stream = ClipStream(spec, aligner, max_fps=max(src.fps, 1.0))
        for frame in src:
            if not order:
                break
            stream.push(frame)
            while order and frame.t >= ends[order[0]] - 0.5 / src.fps:
                out[order.pop(0)] = stream.window(frame).clip
    return out


def render_sheet(clip: np.ndarray, spec: ClipSpec, out: str | Path, title: str = "") -> Path:
    """Write the inspection sheet for an aligned clip (T,S,S,3) BGR to ``out`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    T = clip.shape[0]
    mag, score = magnify_clip(clip, spec)
    diff = np.abs(mag - mag[:1]).mean(axis=-1)
    vmax = max(float(np.percentile(diff, 99.5)), 1e-3)
    dyn = dynamic_image(clip)

    fig = plt.figure(figsize=(T * 1.1 + 3.4, 3.3), dpi=110)
    gs = fig.add_gridspec(2, T + 3, width_ratios=[1] * T + [0.08, 0.25, 2.2], wspace=0.04, hspace=0.12)
    times = window_times(0.0, spec)  # sample times relative to the window's end
    for i in range(T):
        ax = fig.add_subplot(gs[0, i])
        ax.imshow(np.clip(clip[i], 0, 255).astype(np.uint8)[..., ::-1])
        ax.set_axis_off()
        ax.set_title(f"{times[i]:+.2f}s", fontsize=6)
        if i == 0:
            ax.text(-0.1, 0.5, "aligned", rotation=90, fontsize=8, va="center", ha="right", transform=ax.transAxes)
        ax = fig.add_subplot(gs[1, i])
        im = ax.imshow(diff[i], cmap="inferno", vmin=0, vmax=vmax)
        ax.set_axis_off()
        if i == 0:
            ax.text(-0.1, 0.5, f"|M_t - M_0|\nalpha {spec.alpha:g}", rotation=90, fontsize=7, va="center",
                    ha="right", transform=ax.transAxes)
    cax = fig.add_subplot(gs[1, T])
    fig.colorbar(im, cax=cax).ax.tick_params(labelsize=6)
    ax = fig.add_subplot(gs[:, T + 2])
    ax.imshow(np.clip(dyn * 255, 0, 255).astype(np.uint8)[..., ::-1])
    ax.set_axis_off()
    ax.set_title("dynamic image", fontsize=8)
    fig.suptitle(f"{title}  motion score {score:.4g}", fontsize=9)
    out = Path(out)
    try:
        with atomic_path(out) as tmp:  # a full disk leaves no half PNG
            fig.savefig(tmp, bbox_inches="tight")
    except OSError as e:
        raise OutputError(f"{out}: not written ({e.strerror or e})") from None
    finally:
        plt.close(fig)
    return out
