"""Inputs for the fault suite, made on the spot: small videos (OpenCV, or imageio-ffmpeg's bundled ffmpeg for
variable frame rate, raw H.264 and truncated files) and a local HTTP server that serves a file (with byte
ranges) or stalls."""

from __future__ import annotations

import http.server
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def damage_mdat(clip: Path, where: float, n: int = 6000) -> None:
    """Overwrite ``n`` bytes of an mp4's media data with noise, ``where`` (0..1) along it (seeded: the same damage
    every run)."""
    import random

    data = bytearray(clip.read_bytes())
    mdat = data.find(b"mdat")
    at, rng = mdat + 8 + int((len(data) - mdat) * where), random.Random(1)
    data[at:at + n] = bytes(rng.randrange(256) for _ in range(n))
    clip.write_bytes(bytes(data))


def ffmpeg(*args: str) -> None:
    """Run the bundled ffmpeg quietly; raise with its last line when it fails."""
    p = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError(f"ffmpeg {' '.join(args)}: {p.stderr.strip().splitlines()[-1:]}")


def frames(n: int, size: tuple[int, int] = (64, 48), noise: bool = False) -> Iterator[np.ndarray]:
    """``n`` BGR frames, each a different grey with a moving bar (so codecs keep every frame); ``noise``:
    random pixels instead, so that every frame takes about as many bytes as the others."""
    w, h = size
    rng = np.random.default_rng(0)
    for i in range(n):
        if noise:
            yield rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            continue
        img = np.full((h, w, 3), (i * 7) % 255, np.uint8)
        x = (i * 3) % w
        img[:, x:x + 4] = 255 - img[0, 0]
        yield img


def write_video(path: Path, n: int, fps: float = 25.0, size: tuple[int, int] = (64, 48), noise: bool = False) -> Path:
    """A constant-rate mp4 of ``n`` frames (OpenCV's writer)."""
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for img in frames(n, size, noise):
        vw.write(img)
    vw.release()
    return path


def write_vfr_video(path: Path, times: list[float], size: tuple[int, int] = (64, 48)) -> Path:
    """A variable-frame-rate mp4 whose frame i is presented at ``times[i]`` seconds (a 1 ms time base)."""
    src = write_video(path.with_suffix(".src.mp4"), len(times), 25.0, size)
    expr = "+".join(f"eq(N,{i})*{t:.4f}" for i, t in enumerate(times))
    ffmpeg("-i", str(src), "-vf", f"settb=1/1000,setpts='({expr})/TB'", "-fps_mode", "passthrough", "-enc_time_base:v", "1/1000", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", "-video_track_timescale", "1000", str(path))
    src.unlink()
    return path


def write_raw_h264(path: Path, n: int, fps: float = 30.0, size: tuple[int, int] = (64, 48)) -> Path:
    """An Annex-B H.264 elementary stream (no container, so no frame rate in any header)."""
    src = write_video(path.with_suffix(".src.mp4"), n, fps, size)
    ffmpeg("-i", str(src), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-bsf:v", "filter_units=remove_types=6",
           "-f", "h264", str(path))
    src.unlink()
    return path


def write_truncated_mp4(path: Path, n: int, keep: float, fps: float = 25.0, size: tuple[int, int] = (64, 48)) -> Path:
    """An mp4 with its index at the start (faststart), cut to the first ``keep`` of its bytes."""
    src = write_video(path.with_suffix(".src.mp4"), n, fps, size, noise=True)
    ffmpeg("-i", str(src), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "10", "-movflags", "+faststart", str(path))
    src.unlink()
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def write_damaged_mp4(path: Path, where: float = 0.5, seconds: int = 4, size: int = 6000) -> Path:
    """A 30 fps H.264 mp4 (index first, a keyframe a second) with ``size`` bytes of garbage ``where`` into its
    frames' data (a bad block, a broken transfer): OpenCV cannot decode the frames there and goes on after them."""
    import random

    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=160x120:r=30:d={seconds}", "-c:v", "libx264", "-preset", "veryfast",
           "-g", "30", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path))
    data = bytearray(path.read_bytes())
    mdat = data.find(b"mdat")
    at, rng = mdat + 8 + int((len(data) - mdat) * where), random.Random(1)
    data[at:at + size] = bytes(rng.randrange(256) for _ in range(size))
    path.write_bytes(bytes(data))
    return path


def write_dropped_frames(path: Path, n: int = 60, fps: float = 30.0, keep_all_s: float = 1.0) -> Path:
    """A recording that drops every other frame after ``keep_all_s`` (a phone or webcam under load), in the
    container ``path``'s name says (.mkv, .webm, .avi): its header count is duration x rate, not the frames."""
    src = write_video(path.with_suffix(".src.mp4"), n, fps)
    codec = {".webm": ["-c:v", "libvpx", "-b:v", "200k"], ".avi": ["-c:v", "mjpeg"]}.get(
        path.suffix, ["-c:v", "libx264", "-pix_fmt", "yuv420p"])
    ffmpeg("-i", str(src), "-vf", f"select='lt(t\\,{keep_all_s})+mod(n\\,2)',setpts=PTS", "-fps_mode", "passthrough",
           *codec, str(path))
    src.unlink()
    return path


def write_copy_cut_mp4(path: Path, n: int = 60, fps: float = 30.0, start_s: float = 0.5) -> Path:
    """An mp4 trimmed with ``ffmpeg -ss START -c copy`` (how recordings are commonly cut): its edit list hides
    the frames before ``start_s`` back to the keyframe, which its header still counts."""
    src = write_video(path.with_suffix(".src.mp4"), n, fps)
    gop = path.with_suffix(".gop.mp4")
    ffmpeg("-i", str(src), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", str(int(fps)), str(gop))
    ffmpeg("-ss", f"{start_s}", "-i", str(gop), "-c", "copy", str(path))
    src.unlink()
    gop.unlink()
    return path


def write_late_video(path: Path, n: int = 30, fps: float = 30.0, lead_s: float = 0.5) -> Path:
    """An mp4 whose sound starts ``lead_s`` before its picture (the video stream's first frame at ``lead_s``)."""
    src = write_video(path.with_suffix(".src.mp4"), n, fps)
    ffmpeg("-f", "lavfi", "-i", f"anullsrc=d={n / fps + lead_s}", "-itsoffset", f"{lead_s}", "-i", str(src),
           "-map", "0:a", "-map", "1:v", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path))
    src.unlink()
    return path


def touch(path: Path) -> Path:
    path.write_bytes(b"")
    return path


class _Handler(http.server.BaseHTTPRequestHandler):
    """GET: the server's file with byte ranges (mode 'file'), the whole file whatever range is asked for (mode
    'norange', as ``python -m http.server``), or its first ``stall_after`` bytes and then silence (mode 'stall')."""

    server: "_Server"

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        srv = self.server
        srv.requests += 1
        data = srv.data
        if srv.mode == "stall":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data[:srv.stall_after])
                self.wfile.flush()
            except OSError:
                return
            srv.stop.wait(600)  # and then nothing
            return
        start, end = 0, len(data) - 1
        rng = self.headers.get("Range") if srv.mode == "file" else None
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start = int(a or 0)
            end = min(int(b), end) if b else end
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        if srv.mode == "file":
            self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        try:
            self.wfile.write(data[start:end + 1])
        except (BrokenPipeError, ConnectionResetError):
            pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, mode: str, data: bytes, stall_after: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode, self.data, self.stall_after, self.requests = mode, data, stall_after, 0
        self.stop = threading.Event()


@contextmanager
def http_server(mode: str, path: Path | None = None, stall_after: int = 0) -> Iterator[_Server]:
    """``with http_server('file', video) as srv: cv2.VideoCapture(url(srv))`` (127.0.0.1, a free port)."""
    srv = _Server(mode, path.read_bytes() if path is not None else b"", stall_after)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        srv.stop.set()
        srv.shutdown()
        srv.server_close()


def url(srv: _Server, name: str = "v.mp4") -> str:
    return f"http://127.0.0.1:{srv.server_port}/{name}"
