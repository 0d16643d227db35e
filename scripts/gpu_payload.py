"""Pack ONNX Runtime's CUDA build and mediapipe for a GPU machine that cannot reach a package index.

Some GPU machines have the NVIDIA driver, CUDA 13 and cuDNN 9 libraries and a CUDA build of torch (an
institute's image, a lent benchmark machine) but no route to PyPI, so `make install-cuda` cannot run
there. Run this where pip works: it downloads the wheels the GPU check needs beyond such an image
(onnxruntime-gpu and mediapipe, versions from constraints.txt, for the target's Python), unpacks them
into ``site/``, packs that as ``payload.tar.xz`` and splits it into parts of at most ``--part-mb`` MB
(for transfers with a size limit), with ``manifest.json`` (sizes, sha256). On the GPU machine:

    cat payload.tar.xz.part* > payload.tar.xz && python3 -m tarfile -e payload.tar.xz /opt/mpt
    export PYTHONPATH=/opt/mpt/site:$PWD     # in the repository; then bench/gpu_check.sh with
    GPU_CHECK_INSTALL=0 PY=python3 MPT_LIVE=... bash bench/gpu_check.sh   # (see its header)

``--arch 90`` keeps the GPU code of one architecture only (sm_90: H100/H200) in onnxruntime's CUDA
provider library, which holds compiled kernels for six architectures (284 MB, of which 77 MB sm_90):
the other architectures' kernels are overwritten with zeros in place, so the file keeps its layout and
the kept kernels are byte for byte the originals. The payload of onnxruntime-gpu 1.31.1 and mediapipe
1.2.2 trimmed to sm_90 is 97 MB (the untrimmed provider alone compresses to 186 MB: its kernels are
compressed already). Such a trimmed library runs on that architecture only; without ``--arch`` nothing
is changed.

    python scripts/gpu_payload.py OUT [--python 3.12] [--arch 90] [--part-mb 48] [--wheels DIR]

``--wheels DIR`` packs the wheels already in DIR instead of downloading (one per package).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("onnxruntime-gpu", "mediapipe")
PROVIDER = "onnxruntime/capi/libonnxruntime_providers_cuda.so"
FATBIN_MAGIC = 0xBA55ED50  # a CUDA fat binary container: 16-byte header, then entries (header + code)
ELF, PTX = 2, 1  # entry kinds


def pinned(package: str, constraints: Path = ROOT / "constraints.txt") -> str:
    """``package==version`` as constraints.txt pins it (the bare name when it does not)."""
    for line in constraints.read_text().splitlines():
        m = re.match(rf"\s*{re.escape(package)}\s*==\s*([^\s;#]+)", line, re.I)
        if m:
            return f"{package}=={m.group(1)}"
    return package


def download(packages: list[str], python: str, dest: Path) -> list[Path]:
    """The wheels of ``packages`` (no dependencies) for CPython ``python`` on manylinux x86-64."""
    dest.mkdir(parents=True, exist_ok=True)
    plats = [a for p in ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
                         "manylinux2014_x86_64") for a in ("--platform", p)]
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version",
           python, "--implementation", "cp", *plats, "-d", str(dest), *packages]
    if subprocess.run(cmd).returncode:
        raise SystemExit(f"gpu_payload: pip download {' '.join(packages)} for Python {python} failed")
    return sorted(dest.glob("*.whl"))


def trim_fatbins(data: bytearray, arch: int) -> dict[str, int]:
    """Zero, in place, the code of every fat binary entry that is not ``arch``'s ELF, in each container
    that holds ``arch``'s ELF (a container without it is left whole). Returns bytes kept and zeroed."""
    kept = zeroed = pos = 0
    magic = struct.pack("<I", FATBIN_MAGIC)
    while (i := data.find(magic, pos)) >= 0:
        version, header, size = struct.unpack_from("<HHQ", data, i + 4)
        if version != 1 or header != 16 or i + 16 + size > len(data):
            pos = i + 4  # the magic's bytes by chance
            continue
        entries, e, end = [], i + 16, i + 16 + size
        while e + 32 <= end:
            kind, _, entry_header, code = struct.unpack_from("<HHIQ", data, e)
            entries.append((kind, struct.unpack_from("<I", data, e + 28)[0], e + entry_header, code))
            e += entry_header + code
        if any(k == ELF and a == arch for k, a, _, _ in entries):
            for kind, a, start, code in entries:
                if kind == ELF and a == arch:
                    kept += code
                else:
                    data[start:start + code] = bytes(code)
                    zeroed += code
        pos = end
    return {"kept": kept, "zeroed": zeroed}


def unpack(wheels: list[Path], site: Path, arch: int | None) -> dict[str, int] | None:
    """Unpack the wheels into ``site`` (tests left out); trim the CUDA provider to ``arch`` if given."""
    for w in wheels:
        with zipfile.ZipFile(w) as z:
            z.extractall(site, [n for n in z.namelist() if "/test/" not in n and "/tests/" not in n])
    provider = site / PROVIDER
    if arch is None or not provider.is_file():
        return None
    data = bytearray(provider.read_bytes())
    report = trim_fatbins(data, arch)
    if not report["kept"]:
        raise SystemExit(f"gpu_payload: {provider.name} has no code for sm_{arch}: nothing would run there")
    provider.write_bytes(data)
    return report


def pack(site: Path, out: Path, part_mb: float) -> dict:
    """``out/payload.tar.xz.partNN`` of at most ``part_mb`` MB each; the manifest of the whole."""
    whole = out / "payload.tar.xz"
    with lzma.open(whole, "wb", preset=9) as xz, tarfile.open(fileobj=xz, mode="w") as tar:
        tar.add(site, arcname="site")
    digest, step, parts = hashlib.sha256(), int(part_mb * 1e6), []
    with whole.open("rb") as f:
        while chunk := f.read(step):
            digest.update(chunk)
            part = out / f"payload.tar.xz.part{len(parts):02d}"
            part.write_bytes(chunk)
            parts.append({"file": part.name, "bytes": len(chunk)})
    manifest = {"sha256": digest.hexdigest(), "bytes": whole.stat().st_size, "parts": parts}
    whole.unlink()
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="folder for the parts and manifest.json (made; emptied of old parts)")
    ap.add_argument("--python", default="3.12", help="the GPU machine's Python (major.minor)")
    ap.add_argument("--arch", type=int, help="keep one GPU architecture's kernels only (90: H100/H200)")
    ap.add_argument("--part-mb", type=float, default=48.0, help="largest part, MB")
    ap.add_argument("--wheels", type=Path, help="pack the wheels in this folder instead of downloading")
    args = ap.parse_args(argv)
    if args.part_mb <= 0:
        ap.error("--part-mb must be > 0")
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("payload.tar.xz.part*"):
        old.unlink()
    work = args.out / "work"
    shutil.rmtree(work, ignore_errors=True)
    try:
        if args.wheels:
            wheels = sorted(args.wheels.glob("*.whl"))
            if not wheels:
                raise SystemExit(f"gpu_payload: --wheels {args.wheels}: no .whl files there")
        else:
            wheels = download([pinned(p) for p in PACKAGES], args.python, work / "wheels")
        trimmed = unpack(wheels, work / "site", args.arch)
        manifest = pack(work / "site", args.out, args.part_mb)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{', '.join(w.name for w in wheels)}")
    if trimmed:
        print(f"CUDA provider: kept sm_{args.arch} kernels ({trimmed['kept'] / 1e6:.1f} MB), "
              f"zeroed {trimmed['zeroed'] / 1e6:.1f} MB of other architectures")
    print(f"{len(manifest['parts'])} parts, {manifest['bytes'] / 1e6:.1f} MB in {args.out} (sha256 "
          f"{manifest['sha256'][:16]}...)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
