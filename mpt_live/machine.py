"""The machine the runtime runs on: usable cores, default thread count, the CPU's vector extensions
(printed by every bench beside its figures: ViT inference differs about 3x between AVX2 and AVX-512 VNNI CPUs)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                "avx512_bf16", "avx_vnni", "amx_int8", "amx_bf16", "asimd", "asimddp", "sve", "i8mm")


def vector_extensions(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The CPU's SIMD extensions that matter for int8/fp32 inference (from ``/proc/cpuinfo`` flags),
    space-separated, or ``"unknown"`` where the file is missing (macOS, Windows)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return "unknown"
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return " ".join(f for f in VECTOR_FLAGS if f in flags) or "none of " + ",".join(VECTOR_FLAGS[:4])


def default_threads() -> int:
    """Intra-op threads for a live loop: all usable cores but one (at least 1)."""
    return max(1, usable_cores() - 1)


@contextmanager
def opencv_threads(n: int = 1) -> Iterator[None]:
    """OpenCV's thread pool at ``n`` threads while a run lasts, then as the caller had it. A run's frame stage
    (decoding aside) has one core by the runtime's thread rule (:func:`default_threads` leaves it), so its
    warps, colour conversions and ECC run on one thread: OpenCV's default pool (a thread per core) took more CPU
    for the same results (bench/faces.py --opencv-threads, stop 54)."""
    import cv2

    before = cv2.getNumThreads()
    cv2.setNumThreads(n)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


PER_CORE = 4  # threads or processes per usable core that a count option may ask for


def check_count(option: str, n: int | None, what: str) -> None:
    """Refuse a thread or process count far beyond this machine's cores (``--threads 100000`` started 100000
    threads: 17 GB and a machine that no longer answers); InputError with one line."""
    from .errors import InputError

    limit = PER_CORE * usable_cores()
    if n is not None and n > limit:
        raise InputError(f"{option} {n}: more than {PER_CORE} {what} per core of this machine ({usable_cores()} "
                         f"cores: at most {limit})")
