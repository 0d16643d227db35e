"""CPU time of the check whether an MPEG-PS file (.mpg, .vob) ends part-way through a pack or packet
(mpt_live/cutoff.py): the whole file's packs and packets walked (the previous code, ``whole=True``) vs its first and
last 4 MiB (now), on one big file, whole, with 100 bytes of junk after its end and cut mid-packet, each answer printed
beside the other.

The file is a DVD-style program stream from FFmpeg (MPEG-2 video and AC-3 sound in 2048-byte packs, testsrc2, 20 s)
repeated to the size asked (each copy a whole program stream: the packs and packets run on); then given 100 bytes of
0x55 after its end (no pack or packet: neither way judges it; the head and tail's walk went from each pack of its last
4 MiB to that junk, then walked the whole file, before the commit adding this form); then cut 1000 bytes before its
end. Each way is timed in turn (process CPU time, the file in the page cache after its first walk), medians of ``--runs``.

    python bench/ps_cut.py [--gb 4] [--runs 3] [--dir FOLDER]
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

from mpt_live import cutoff
from mpt_live.machine import vector_extensions


def program_stream(folder: Path, gb: float) -> Path:
    """A DVD program stream of about ``gb`` GB: FFmpeg's 20 s, repeated."""
    one = folder / "one.vob"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=s=720x576:r=25:d=20", "-f", "lavfi", "-i", "sine=d=20", "-c:v", "mpeg2video", "-b:v",
                    "8M", "-c:a", "ac3", "-f", "dvd", str(one)], check=True)
    data = one.read_bytes()
    big = folder / "big.vob"
    with open(big, "wb") as fh:
        for _ in range(max(1, round(gb * 1e9 / len(data)))):
            fh.write(data)
    return big


def timed(path: Path, whole: bool, runs: int) -> tuple[float, str | None]:
    """The median CPU seconds of ``runs`` checks of ``path``, and the answer."""
    times, said = [], None
    for _ in range(runs):
        t = time.process_time()
        said = cutoff.ps_cut(path, whole=whole)
        times.append(time.process_time() - t)
    return statistics.median(times), said


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gb", type=float, default=4.0, help="the file's size (GB)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None, help="where the file is written (default: a temporary folder)")
    args = ap.parse_args(argv)
    print(f"CPU vector extensions: {vector_extensions()}")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        big = program_stream(Path(tmp), args.gb)
        size = big.stat().st_size
        for form in ("whole", "100 bytes of junk after its end", "cut 1000 bytes before its end"):
            if form.startswith("100 bytes"):
                with open(big, "ab") as fh:
                    fh.write(b"\x55" * 100)
            elif form.startswith("cut"):
                os.truncate(big, size - 1000)
            before, said_before = timed(big, True, args.runs)
            now, said_now = timed(big, False, args.runs)
            print(f"{big.stat().st_size / 1e9:.2f} GB, {form}: whole walk {before:.3f} s CPU, head and tail "
                  f"{now:.4f} s ({before / max(now, 1e-9):.0f}x); answers {'equal' if said_now == said_before else 'DIFFER'}: "
                  f"{said_now!r}")


if __name__ == "__main__":
    main()
