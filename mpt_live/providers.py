"""ONNX Runtime's execution providers on this machine: which really work, the GPU libraries they need, and
why not, in one line.

``onnxruntime-gpu`` lists its CUDA and TensorRT providers on every machine, with or without a GPU, and
loads their libraries only when a session asks for them. Its CUDA build needs the CUDA runtime, cuBLAS,
cuRAND and cuDNN libraries of one CUDA major version (``onnxruntime.capi.build_and_package_info.cuda_version``,
13 for 1.31) and an NVIDIA driver recent enough for it. ``pip install 'mpt-live[cuda]'`` installs those
libraries as NVIDIA's Python packages; :func:`preload_gpu_libraries` loads them (``onnxruntime.preload_dlls``,
plus TensorRT 10's ``tensorrt_libs`` when installed: optional, not on PyPI as wheels) once per process, before the first GPU session, so that
nothing depends on ``LD_LIBRARY_PATH``.

:func:`provider_works` probes a provider once with a 63-byte model (ONNX Runtime falls back to the CPU
silently when a GPU provider fails to load, so being listed proves nothing); :func:`gpu_diagnosis`
says why the GPU cannot be used: no CUDA provider in this build, no NVIDIA driver, a driver too old for
the build's CUDA, no GPU, or the first missing library by name. ONNX Runtime's own pages of load
errors are silenced (probes run at log severity 4).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib.util
import io
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import onnxruntime as ort

from .errors import first_line
from .quiet import quiet_stdout

DEVICES = ("auto", "cpu", "cuda", "tensorrt")
TRT, CUDA, CPU = "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"
PROVIDER_LABELS = {TRT: "TensorRT", CUDA: "CUDA", CPU: "CPU"}
GPU_BATCH = 64      # clips per model call on a GPU provider when nobody says otherwise (--batch)
TRT_OPT_BATCH, TRT_MAX_BATCH = 16, 64   # the TensorRT engine's batch profile for dynamic-batch models
INSTALL_CUDA = "pip install 'mpt-live[cuda]'"
INSTALL_TRT = "install TensorRT 10 for CUDA 13 (NVIDIA's tensorrt-cu13-libs 10.x or its system packages)"
# the lowest Linux driver of each CUDA major version (minor-version compatibility)
DRIVER_FOR_CUDA = {12: "525.60", 13: "580.65"}
NO_DEVICE, INSUFFICIENT_DRIVER = 100, 35          # CUresult codes of cuInit

# A 63-byte ONNX model, y = Relu(x) with x: float[1] (IR 7, opset 13), used to probe providers.
_PROBE_MODEL = (
    b"\x08\x07\x12\x00:3\n\x0c\n\x01x\x12\x01y\"\x04Relu\x12\x01pZ\x0f\n\x01x\x12\n\n\x08\x08\x01\x12"
    b"\x04\n\x02\x08\x01b\x0f\n\x01y\x12\n\n\x08\x08\x01\x12\x04\n\x02\x08\x01B\x04\n\x00\x10\r"
)


def _load_library(name: str) -> Any:
    """``ctypes.CDLL(name)``: one place, so tests can fake a missing driver or library."""
    return ctypes.CDLL(name)


def cuda_version() -> tuple[int, int] | None:
    """The CUDA version this onnxruntime build was made for, e.g. (13, 0); None for a build without CUDA."""
    try:
        from onnxruntime.capi.build_and_package_info import cuda_version as v
    except ImportError:
        return None
    try:
        major, minor = (str(v).split(".") + ["0"])[:2]
        return int(major), int(minor)
    except ValueError:
        return None


def gpu_libraries(provider: str = CUDA) -> list[tuple[str, str]]:
    """(file name, what it is) of the libraries ``provider`` needs, in load order."""
    v = cuda_version()
    major = v[0] if v else 13
    win = sys.platform == "win32"
    cuda = ([(f"cudart64_{major}.dll", f"CUDA {major} runtime"), (f"cublasLt64_{major}.dll", f"CUDA {major} cuBLASLt"),
             (f"cublas64_{major}.dll", f"CUDA {major} cuBLAS"), ("curand64_10.dll", "cuRAND"),
             ("cudnn64_9.dll", "cuDNN 9")] if win else
            [(f"libcudart.so.{major}", f"CUDA {major} runtime"), (f"libcublasLt.so.{major}", f"CUDA {major} cuBLASLt"),
             (f"libcublas.so.{major}", f"CUDA {major} cuBLAS"), ("libcurand.so.10", "cuRAND"),
             ("libcudnn.so.9", "cuDNN 9")])
    if provider == TRT:
        cuda += [("nvinfer_10.dll" if win else "libnvinfer.so.10", "TensorRT 10"),
                 ("nvonnxparser_10.dll" if win else "libnvonnxparser.so.10", "TensorRT 10 ONNX parser")]
    return cuda


@functools.lru_cache(maxsize=None)
def preload_gpu_libraries() -> str:
    """Load the CUDA/cuDNN (and TensorRT) libraries of the ``[cuda]`` extra, once; return ONNX Runtime's
    complaints (one line each, for the record; :func:`gpu_diagnosis` says what matters).

    Does nothing for a build without a CUDA provider or where no NVIDIA driver loads (a CPU machine).
    """
    if CUDA not in ort.get_available_providers() or not hasattr(ort, "preload_dlls") or driver_problem():
        return ""
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ort.preload_dlls()
            _preload_tensorrt()
    except Exception as e:  # a broken install: the diagnosis names the library
        out.write(first_line(e))
    return " ".join(line.strip() for line in out.getvalue().splitlines() if line.strip())


def _preload_tensorrt() -> None:
    """TensorRT's libraries from the ``tensorrt_libs`` package (``tensorrt-cu13-libs``), when installed."""
    spec = importlib.util.find_spec("tensorrt_libs")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        for name, _ in gpu_libraries(TRT)[-2:]:
            path = Path(folder) / name
            if path.is_file():
                ctypes.CDLL(str(path), mode=getattr(os, "RTLD_GLOBAL", 0))


@functools.lru_cache(maxsize=None)
def driver_problem(need: tuple[int, int] | None = None, who: str = "") -> str:
    """Why the NVIDIA driver cannot run CUDA ``need`` for ``who`` ("" when it can): none, too old, or no GPU.

    By default ``need`` is this onnxruntime build's CUDA version and ``who`` onnxruntime.
    """
    name = "nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1"
    try:
        lib = _load_library(name)
    except OSError:
        return f"no NVIDIA driver ({name} not found)"
    if need is None:
        need, who = cuda_version(), f"onnxruntime {ort.__version__}"
    have = ctypes.c_int(0)
    try:
        ok = lib.cuDriverGetVersion(ctypes.byref(have)) == 0
    except Exception:
        ok = False
    if ok and need and have.value < need[0] * 1000 + need[1] * 10:
        return too_old(have.value, need, who)
    try:
        rc = lib.cuInit(0)
    except Exception as e:
        return f"the NVIDIA driver did not start ({first_line(e)})"
    if rc == NO_DEVICE:
        return "no NVIDIA GPU visible (the driver is installed but finds no device)"
    if rc == INSUFFICIENT_DRIVER and need:
        return too_old(have.value, need, who)
    if rc != 0:
        return f"the NVIDIA driver did not start (cuInit error {rc})"
    return ""


def too_old(have: int, need: tuple[int, int], who: str) -> str:
    got = f"CUDA {have // 1000}.{have % 1000 // 10}" if have else "an older CUDA"
    driver = DRIVER_FOR_CUDA.get(need[0])
    return (f"NVIDIA driver too old: it supports {got}, {who} needs CUDA {need[0]}.{need[1]}"
            + (f" (driver >= {driver})" if driver else ""))


def missing_library(provider: str = CUDA) -> str:
    """The first library ``provider`` needs that does not load, as 'name (what)'; "" when all load."""
    for name, what in gpu_libraries(provider):
        try:
            _load_library(name)
        except OSError:
            return f"{name} ({what})"
    return ""


def gpu_diagnosis(provider: str = CUDA) -> str:
    """One phrase: why ONNX Runtime cannot run ``provider`` (CUDA or TensorRT) here."""
    label = PROVIDER_LABELS.get(provider, provider)
    avail = ort.get_available_providers()
    if CUDA not in avail:
        return f"this onnxruntime build has no CUDA provider (providers: {', '.join(avail)}; {INSTALL_CUDA})"
    if provider not in avail:
        return f"this onnxruntime build has no {label} provider"
    problem = driver_problem()
    if problem:
        return problem
    preload_gpu_libraries()
    missing = missing_library(provider)
    if missing:
        return f"{missing} not found: {INSTALL_TRT if provider == TRT and 'TensorRT' in missing else INSTALL_CUDA}"
    return f"the {label} provider did not start, although the driver and its libraries load"


@functools.lru_cache(maxsize=None)
def provider_works(name: str) -> bool:
    """Whether ONNX Runtime can really run a model on ``name`` here (libraries load, device present)."""
    if name not in ort.get_available_providers():
        return False
    if name == CPU:
        return True
    if driver_problem():   # no driver or no GPU: nothing to probe (and nothing slow to try)
        return False
    preload_gpu_libraries()
    so = ort.SessionOptions()
    so.log_severity_level = 4
    ort.set_default_logger_severity(4)
    try:
        with quiet_stdout():
            sess = ort.InferenceSession(_PROBE_MODEL, so, providers=[name])
        return name in sess.get_providers()
    except Exception:
        return False
    finally:
        ort.set_default_logger_severity(3)


def trt_cache_dir() -> Path:
    """Where TensorRT engines are cached: ``$MPT_TRT_CACHE``, else ``$XDG_CACHE_HOME/mpt-live/tensorrt``."""
    if os.environ.get("MPT_TRT_CACHE"):
        return Path(os.environ["MPT_TRT_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mpt-live" / "tensorrt"


def trt_options(precision: str, shapes: tuple[int, int] | None, dynamic_batch: bool) -> dict[str, str]:
    """TensorRT provider options: engine and timing caches, fp16 for fp16 models, a batch profile.

    ``shapes``: the model's (frames, image size), for the profile of a dynamic-batch model.
    """
    cache = trt_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    opts = {
        "trt_engine_cache_enable": "True",
        "trt_engine_cache_path": str(cache),
        "trt_timing_cache_enable": "True",
        "trt_timing_cache_path": str(cache),
        "trt_fp16_enable": "True" if precision == "fp16" else "False",
    }
    if dynamic_batch and shapes is not None:
        T, S = shapes

        def profile(b: int) -> str:
            return f"dynamic:{b}x3x{S}x{S},motion:{b}x{T}x3x{S}x{S}"

        opts.update(trt_profile_min_shapes=profile(1), trt_profile_opt_shapes=profile(TRT_OPT_BATCH),
                    trt_profile_max_shapes=profile(TRT_MAX_BATCH))
    return opts
