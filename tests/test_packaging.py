"""The installed package, as a user gets it from `pip install mpt-live` or a wheel, not from this checkout:
the wheel carries every file the tools load at run time, and they are found from anywhere."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from mpt_live.face import MODELS
from mpt_live.identity import MODEL as SFACE
from mpt_live.runtime import DEMO_MODEL_NAME

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_FILES = sorted([*MODELS.values(), SFACE, DEMO_MODEL_NAME])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A wheel built from a copy of the sources (no build/ or egg-info left in the checkout), offline."""
    pytest.importorskip("setuptools", minversion="77")  # pyproject's build backend
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for pkg in ("mpt_live", "train", "export"):
        shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                        "--no-index", "-w", str(tmp / "dist"), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    (whl,) = (tmp / "dist").glob("mpt_live-*.whl")
    return whl, p.stdout + p.stderr


@pytest.fixture(scope="module")
def wheel(built: tuple[Path, str]) -> Path:
    return built[0]


def test_wheel_builds_without_deprecations(built: tuple[Path, str]) -> None:
    """The build backend's deprecation warnings are next year's build errors (setuptools refuses a `license`
    table from 2027-02-18); the licence is an SPDX expression in the metadata."""
    whl, log = built
    assert "deprecat" not in log.lower(), log
    meta = zipfile.ZipFile(whl).read("mpt_live-0.1.0.dist-info/METADATA").decode()
    assert "License-Expression: MIT" in meta.splitlines()


def test_wheel_carries_the_runtime_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [f for f in RUNTIME_FILES if f"mpt_live/assets/{f}" not in names]
    assert not missing, f"not in {wheel.name}: {missing}"
    for pkg in ("mpt_live", "train", "train/datasets", "export"):
        assert f"{pkg}/__init__.py" in names


def test_installed_wheel_finds_its_detector_from_another_folder(wheel: Path, tmp_path: Path) -> None:
    """Installed elsewhere (pip --target), run from an unrelated folder: the detectors, SFace and the demo model
    come from the installed package, and BlazeFace finds the demo portrait's face."""
    target, cwd = tmp_path / "site", tmp_path / "elsewhere"
    cwd.mkdir()
    p = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target",
                        str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    code = textwrap.dedent(f"""
        from pathlib import Path
        import mpt_live
        from mpt_live.demo_input import demo_portrait
        from mpt_live.face import FaceAligner, assets_dir
        from mpt_live.identity import FaceEmbedder
        from mpt_live.runtime import load_model

        target = Path({str(target)!r}).resolve()
        assert Path(mpt_live.__file__).resolve().is_relative_to(target), mpt_live.__file__
        assert assets_dir().resolve().is_relative_to(target), assets_dir()
        with FaceAligner(model="full") as aligner:
            assert aligner.process_image(demo_portrait()) is not None, "no face found"
        FaceEmbedder()
        model = load_model(None, device="cpu", threads=1, warmup=False)
        assert model is not None and model.path.resolve().is_relative_to(target), model
        print("ok")
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("MPT_ASSETS", "PYTHONPATH")}
    env["PYTHONPATH"] = str(target)
    p = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and p.stdout.strip().endswith("ok"), p.stdout + p.stderr


def test_pinned_packages_support_the_oldest_python_we_claim() -> None:
    """`make` installs constraints.txt's pins; each pin installed here must accept the lowest Python that
    requires-python admits (numpy 2.4, scipy 1.17 and pandas 3 need 3.11: on 3.10 `make demo` stopped in pip's
    resolver while the README promised Python >= 3.10)."""
    import importlib.metadata as md
    import tomllib

    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    claimed = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    (lowest,) = [s.version for s in SpecifierSet(claimed) if s.operator == ">="]
    pins = dict(line.split("#")[0].strip().split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if "==" in line.split("#")[0])
    refuse = {}
    for name, version in pins.items():
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        if Version(dist.version).public != Version(version).public:
            continue
        needs = dist.metadata.get("Requires-Python")
        if needs and not SpecifierSet(needs).contains(lowest):
            refuse[name] = needs
    assert not refuse, f"requires-python {claimed}, but the pins need: {refuse}"
    assert f"Python >= {lowest}" in (ROOT / "README.md").read_text()


def _nvidia_driver() -> bool:
    return bool(shutil.which("nvidia-smi")) or Path("/proc/driver/nvidia/version").exists() or subprocess.run(
        "ldconfig -p 2>/dev/null | grep -q 'libcuda\\.so\\.1'", shell=True).returncode == 0


@pytest.mark.skipif(_nvidia_driver(), reason="an NVIDIA driver is here: make install-cuda would install")
def test_make_install_cuda_stops_without_a_driver(tmp_path: Path) -> None:
    """On a CPU machine `make install-cuda` used to go ahead: GBs of CUDA torch and NVIDIA libraries it cannot use.
    It now stops before its first command; FORCE=1 goes on (here into a stand-in python that records its call)."""
    for name in ("Makefile", "pyproject.toml", "constraints.txt"):
        shutil.copy2(ROOT / name, tmp_path / name)
    calls = tmp_path / "calls"
    stub = tmp_path / "python"
    stub.write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\nexit 1\n")
    stub.chmod(0o755)
    make = ["make", "-s", "-C", str(tmp_path), "install-cuda", f"PYTHON={stub}"]
    p = subprocess.run(make, capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "no NVIDIA driver on this machine" in p.stderr and "FORCE=1" in p.stderr, p.stderr
    assert not calls.exists() and not (tmp_path / ".venv").exists()
    p = subprocess.run([*make, "FORCE=1"], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and calls.read_text().startswith("-m venv"), p.stderr


# The lowest release of each dependency that runs the tools with the bundled models, measured (2026-12-05, Python
# 3.11, each older release installed beside the others' floors): what the older one does is the reason.
FLOORS = {
    "typer": ("0.20.1", "0.9 to 0.15.3 allow click >= 8.2, where --help raises TypeError (Parameter.make_metavar) and "
                        "options are taken for arguments; 0.16 to 0.20.0 print help's \\[ escapes as they are "
                        "(pip install 'mpt-live\\[cluster]')"),
    "onnxruntime": ("1.18", "1.17 cannot load the demo model (ONNX IR 10)"),
    "onnxruntime-gpu": ("1.18", "1.17 cannot load the demo model (ONNX IR 10)"),
    "opencv-contrib-python": ("4.11", "4.10 cannot load the int8bq SFace (DequantizeLinear parse error)"),
    "mediapipe": ("0.10.33", "0.10.32 and older fail on the full-range BlazeFace (TensorsToDetectionsCalculator)"),
}
MAX_IR = 10  # ONNX IR that onnxruntime 1.18 reads; a bundled model of a later IR needs a higher floor


def _ir_version(path: Path) -> int:
    """ModelProto field 1 (ir_version), a varint at the start of the file."""
    data = path.read_bytes()[:11]
    assert data[0] == 0x08, path
    value = shift = 0
    for b in data[1:]:
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value
    raise AssertionError(path)


def test_dependency_floors_are_releases_that_work() -> None:
    import tomllib

    from packaging.requirements import Requirement
    from packaging.version import Version

    deps = [Requirement(r) for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]]
    low = {}
    for r in deps:
        floors = [Version(s.version) for s in r.specifier if s.operator == ">="]
        low[r.name] = max(floors) if floors else None
    wrong = {n: f"declared {low.get(n)}, needs {v}: {why}" for n, (v, why) in FLOORS.items()
             if low.get(n) is None or low[n] < Version(v)}
    assert not wrong, wrong
    models = sorted((ROOT / "mpt_live" / "assets").glob("*.onnx"))
    assert models and max(_ir_version(p) for p in models) <= MAX_IR


def test_make_installs_the_cpu_build_of_torch(tmp_path: Path) -> None:
    """`make demo` / `make test` on a CPU machine: PyPI's torch==2.13.0 for Linux x86-64 is the CUDA build (cuda-toolkit,
    cuDNN, NCCL, triton: GBs), and it is what `pip install torch==2.13.0` fetched wherever no CPU wheel lay on disk.
    The Makefile now asks for 2.13.0+cpu: a wheel found without an index, else PyTorch's CPU index (here the stand-in
    python finds no local wheel, so both commands run)."""
    for name in ("Makefile", "pyproject.toml", "constraints.txt"):
        shutil.copy2(ROOT / name, tmp_path / name)
    calls, venv = tmp_path / "calls", tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    stub = venv / "bin" / "python"
    stub.write_text(f"#!/bin/sh\necho \"$*\" >> {calls}\ncase \"$*\" in *--no-index*) exit 1;; esac\n")
    stub.chmod(0o755)
    p = subprocess.run(["make", "-s", "-C", str(tmp_path), "install", f"PYTHON={stub}", f"VENV={venv}"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    lines = calls.read_text().splitlines()
    torch = [i for i, line in enumerate(lines) if "torch" in line]
    assert torch and all("torch==2.13.0+cpu" in lines[i].split() for i in torch), lines
    indexed = [lines[i] for i in torch if "--no-index" not in lines[i]]
    assert indexed and all("--extra-index-url https://download.pytorch.org/whl/cpu" in line for line in indexed), lines
    project = next(i for i, line in enumerate(lines) if " -e " in f" {line} ")
    assert max(torch) < project  # torch is in place before anything that depends on it is resolved
