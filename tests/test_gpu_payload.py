"""scripts/gpu_payload.py: fat binary trimming, and packing wheels into size-limited parts."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import random
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("gpu_payload", Path(__file__).resolve().parents[1] / "scripts"
                                              / "gpu_payload.py")
gpu_payload = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_payload)

ENTRY_HEADER = 64


def entry(kind: int, arch: int, code: bytes) -> bytes:
    """One fat binary entry as the CUDA toolchain lays it out: kind, header size, code size, arch at 28."""
    head = bytearray(ENTRY_HEADER)
    struct.pack_into("<HHIQ", head, 0, kind, 0x0101, ENTRY_HEADER, len(code))
    struct.pack_into("<I", head, 28, arch)
    return bytes(head) + code


def container(*entries: bytes) -> bytes:
    body = b"".join(entries)
    return struct.pack("<IHHQ", gpu_payload.FATBIN_MAGIC, 1, 16, len(body)) + body


def test_trim_keeps_one_architecture_byte_for_byte_and_zeroes_the_rest():
    sm80, sm90, ptx, other = b"\x11" * 40, b"\x22" * 56, b"\x33" * 24, b"\x44" * 32
    host = b"host code \xba\x55\xed\x50 not a header"  # the magic by chance: skipped
    first = container(entry(2, 80, sm80), entry(2, 90, sm90), entry(1, 90, ptx))
    no_keep = container(entry(2, 80, other))  # holds no sm_90: left whole, or nothing would run there
    original = host + first + b"\x00\x07" + no_keep + host
    data = bytearray(original)
    report = gpu_payload.trim_fatbins(data, 90)
    assert len(data) == len(original) and report == {"kept": 56, "zeroed": 64}
    assert data.count(sm90) == 1 and sm80 not in data and ptx not in data
    assert data.count(other) == 1 and data.startswith(host) and data.endswith(host)
    # only the code bytes changed: every header is where it was
    changed = [i for i, (a, b) in enumerate(zip(original, data)) if a != b]
    start = len(host) + 16 + ENTRY_HEADER
    assert changed == list(range(start, start + 40)) + list(
        range(start + 40 + 2 * ENTRY_HEADER + 56, start + 40 + 2 * ENTRY_HEADER + 56 + 24))


def make_wheel(folder: Path, name: str, files: dict[str, bytes]) -> Path:
    path = folder / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for n, b in files.items():
            z.writestr(n, b)
    return path


def test_pack_splits_into_parts_that_reassemble_to_the_manifest(tmp_path: Path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    provider = bytearray(b"\x01" * 4096 + container(entry(2, 86, b"\x05" * 3000), entry(2, 90, b"\x06" * 500)))
    blob = random.Random(0).randbytes(600_000)  # does not compress: several parts
    make_wheel(wheels, "onnxruntime_gpu", {gpu_payload.PROVIDER: bytes(provider), "onnxruntime/__init__.py": b"",
                                           "onnxruntime/test/big.py": b"x" * 1000})
    make_wheel(wheels, "mediapipe", {"mediapipe/lib.so": blob})
    out = tmp_path / "out"
    assert gpu_payload.main([str(out), "--wheels", str(wheels), "--arch", "90", "--part-mb", "0.2"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    parts = sorted(out.glob("payload.tar.xz.part*"))
    assert [p.name for p in parts] == [p["file"] for p in manifest["parts"]] and len(parts) >= 2
    assert all(p.stat().st_size <= 200_000 for p in parts) and not (out / "work").exists()
    whole = b"".join(p.read_bytes() for p in parts)
    assert len(whole) == manifest["bytes"] and hashlib.sha256(whole).hexdigest() == manifest["sha256"]
    (tmp_path / "p.tar.xz").write_bytes(whole)
    with tarfile.open(tmp_path / "p.tar.xz") as tar:
        tar.extractall(tmp_path / "x", filter="data")
    site = tmp_path / "x" / "site"
    assert (site / "mediapipe" / "lib.so").read_bytes() == blob
    assert not (site / "onnxruntime" / "test").exists()
    got = (site / gpu_payload.PROVIDER).read_bytes()
    assert len(got) == len(provider) and b"\x06" * 500 in got and b"\x05" * 3000 not in got


def test_arch_missing_from_the_provider_is_refused(tmp_path: Path):
    wheels = tmp_path / "w"
    wheels.mkdir()
    make_wheel(wheels, "onnxruntime_gpu", {gpu_payload.PROVIDER: container(entry(2, 86, b"\x05" * 64))})
    with pytest.raises(SystemExit, match="no code for sm_90"):
        gpu_payload.main([str(tmp_path / "o"), "--wheels", str(wheels), "--arch", "90"])


def test_versions_come_from_the_constraints(tmp_path: Path):
    c = tmp_path / "c.txt"
    c.write_text("numpy==2.1.0\nonnxruntime-gpu==1.31.1 ; sys_platform == 'linux'\n")
    assert gpu_payload.pinned("onnxruntime-gpu", c) == "onnxruntime-gpu==1.31.1"
    assert gpu_payload.pinned("mediapipe", c) == "mediapipe"
