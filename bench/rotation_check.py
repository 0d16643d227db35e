"""CPU time of a tagged file's rotation check's frames: every frame of the first 4 s read in order (the previous
code, upright.early_frames) vs the 8 frames decoded from the keyframe before each (upright.spread_frames).

Synthetic 5 s clips (FFmpeg's testsrc2, libx264 ultrafast, tagged 90 degrees), 1080p at 60 fps with a keyframe
every 250 frames (FFmpeg's default) and every 60 (a phone's second), and 240 fps slow motion at 720p: each way
read in turn, the process's CPU time (all threads), medians. The figures are the decoding's, not the detector's
(8 frames in each way).

    python bench/rotation_check.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg

from mpt_live import upright
from mpt_live.machine import vector_extensions
from mpt_live.pyav_capture import open_video

CLIPS = (("1080p60, keyframe every 250", "1920x1080", 60, 250), ("1080p60, keyframe every 60", "1920x1080", 60, 60),
         ("720p240, keyframe every 240", "1280x720", 240, 240))


def clip(folder: Path, size: str, fps: int, gop: int) -> Path:
    plain, tagged = folder / f"p{size}_{fps}_{gop}.mp4", folder / f"t{size}_{fps}_{gop}.mp4"
    ff = imageio_ffmpeg.get_ffmpeg_exe()
    subprocess.run([ff, "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=s={size}:r={fps}:d=5", "-c:v",
                    "libx264", "-preset", "ultrafast", "-g", str(gop), "-pix_fmt", "yuv420p", str(plain)], check=True)
    subprocess.run([ff, "-loglevel", "error", "-y", "-display_rotation", "270", "-i", str(plain), "-c", "copy",
                    str(tagged)], check=True)
    return tagged


def in_order(path: Path, fps: float) -> list:
    cap = open_video(path)
    try:
        return upright.early_frames(cap, fps)
    finally:
        cap.release()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="reads of each way, taking turns")
    args = ap.parse_args()
    print(f"CPU vector extensions: {vector_extensions()}; {os.cpu_count()} cpus; load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, size, fps, gop in CLIPS:
            path = clip(Path(tmp), size, fps, gop)
            ways = {"in order": lambda: in_order(path, fps), "from keyframes": lambda: upright.spread_frames(path, 90)}
            cpu: dict[str, list[float]] = {w: [] for w in ways}
            got: dict[str, int] = {}
            for _ in range(args.runs):
                for w, read in ways.items():
                    t0 = time.process_time()
                    got[w] = len(read())
                    cpu[w].append(time.process_time() - t0)
            old, new = (statistics.median(cpu[w]) for w in ways)
            print(f"{name}: in order {old * 1000:.0f} ms CPU ({got['in order']} frames kept), from keyframes "
                  f"{new * 1000:.0f} ms ({got['from keyframes']} frames): {new / old:.2f}x")


if __name__ == "__main__":
    main()
