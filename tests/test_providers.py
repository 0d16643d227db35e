"""mpt_live.providers: why the GPU cannot be used, in one line, with a faked driver and faked libraries;
the GPU libraries preloaded once before the first GPU session. Torch-free; runs on any machine."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mpt_live import providers
from mpt_live.errors import InputError
from mpt_live.providers import CPU, CUDA, TRT
from mpt_live.runtime import DeviceError, MPTRuntime

from test_runtime import make_model

MAJOR = (providers.cuda_version() or (13, 0))[0]


class FakeDriver:
    """libcuda.so.1 as ctypes would give it: cuDriverGetVersion fills its argument, cuInit returns a code."""

    def __init__(self, version: int, init_rc: int = 0) -> None:
        self.version, self.init_rc = version, init_rc

    def cuDriverGetVersion(self, ref: object) -> int:  # noqa: N802 (the driver's name)
        ref._obj.value = self.version  # type: ignore[attr-defined]
        return 0

    def cuInit(self, flags: int) -> int:  # noqa: N802
        return self.init_rc


def _clear() -> None:
    for f in (providers.provider_works, providers.driver_problem, providers.preload_gpu_libraries):
        f.cache_clear()


@pytest.fixture()
def machine(monkeypatch: pytest.MonkeyPatch):
    """Fake what ctypes can load: ``machine(driver=FakeDriver|None, missing={names})``."""
    _clear()

    def set_up(driver: FakeDriver | None, missing: set[str] = frozenset()) -> None:
        def load(name: str) -> object:
            if name in ("libcuda.so.1", "nvcuda.dll"):
                if driver is None:
                    raise OSError(f"{name}: cannot open shared object file")
                return driver
            if name in missing:
                raise OSError(f"{name}: cannot open shared object file")
            return object()

        monkeypatch.setattr(providers, "_load_library", load)
        monkeypatch.setattr(providers.ort, "preload_dlls", lambda *a, **k: None, raising=False)

    yield set_up
    _clear()


CASES = [  # (driver, missing libraries, expected phrase)
    (None, set(), "no NVIDIA driver (libcuda.so.1 not found)"),
    (FakeDriver(12040), set(), "NVIDIA driver too old: it supports CUDA 12.4, onnxruntime"),
    (FakeDriver(MAJOR * 1000, init_rc=100), set(), "no NVIDIA GPU visible"),
    (FakeDriver(MAJOR * 1000, init_rc=999), set(), "the NVIDIA driver did not start (cuInit error 999)"),
    (FakeDriver(MAJOR * 1000), {f"libcublas.so.{MAJOR}"}, f"libcublas.so.{MAJOR} (CUDA {MAJOR} cuBLAS) not found: "
                                                          "pip install 'mpt-live[cuda]'"),
    (FakeDriver(MAJOR * 1000), {"libcudnn.so.9"}, "libcudnn.so.9 (cuDNN 9) not found"),
    (FakeDriver(MAJOR * 1000), set(), "the CUDA provider did not start, although the driver and its libraries load"),
]


@pytest.mark.skipif(CUDA not in providers.ort.get_available_providers(), reason="onnxruntime without CUDA")
@pytest.mark.parametrize("driver, missing, phrase", CASES)
def test_diagnosis_names_the_cause(machine, driver, missing, phrase) -> None:
    machine(driver, missing)
    got = providers.gpu_diagnosis(CUDA)
    assert phrase in got and "\n" not in got


@pytest.mark.skipif(CUDA not in providers.ort.get_available_providers(), reason="onnxruntime without CUDA")
def test_tensorrt_names_its_own_library(machine) -> None:
    machine(FakeDriver(MAJOR * 1000), {"libnvinfer.so.10"})
    assert providers.gpu_diagnosis(CUDA).startswith("the CUDA provider did not start")   # CUDA itself is complete
    assert providers.gpu_diagnosis(TRT) == f"libnvinfer.so.10 (TensorRT 10) not found: {providers.INSTALL_TRT}"


def test_build_without_cuda_provider(machine, monkeypatch: pytest.MonkeyPatch) -> None:
    machine(FakeDriver(MAJOR * 1000))
    monkeypatch.setattr(providers.ort, "get_available_providers", lambda: [CPU])
    assert providers.gpu_diagnosis() == ("this onnxruntime build has no CUDA provider (providers: CPUExecutionProvider; "
                                         "pip install 'mpt-live[cuda]')")
    assert not providers.provider_works(CUDA) and providers.provider_works(CPU)


@pytest.mark.skipif(CUDA not in providers.ort.get_available_providers(), reason="onnxruntime without CUDA")
@pytest.mark.parametrize("device", ["cuda", "tensorrt"])
@pytest.mark.parametrize("driver, missing, phrase", [CASES[0], CASES[1], CASES[4]])
def test_device_cuda_says_why_in_one_line(machine, tmp_path: Path, device, driver, missing, phrase) -> None:
    machine(driver, missing)
    with pytest.raises(DeviceError) as e:
        MPTRuntime(make_model(tmp_path / "m.onnx"), device=device)
    msg = str(e.value)
    assert isinstance(e.value, InputError) and "\n" not in msg
    assert msg.startswith(f"--device {device}: ONNX Runtime cannot use the GPU here: ") and phrase in msg
    assert msg.endswith("use --device cpu or auto")


@pytest.mark.skipif(CUDA not in providers.ort.get_available_providers(), reason="onnxruntime without CUDA")
@pytest.mark.parametrize("driver, missing, phrase", [CASES[0], CASES[4]])
def test_auto_says_which_provider_runs_and_why_not_the_gpu(machine, tmp_path: Path, driver, missing, phrase) -> None:
    machine(driver, missing)
    rt = MPTRuntime(make_model(tmp_path / "m.onnx"), device="auto")
    assert rt.provider == CPU and rt.max_batch == 1
    line = rt.describe()
    assert "\n" not in line and "CPU (" in line and f"(not the GPU: {phrase}" in line


def test_cpu_device_says_nothing_about_the_gpu(tmp_path: Path) -> None:
    assert "GPU" not in MPTRuntime(make_model(tmp_path / "m.onnx"), device="cpu").describe()


@pytest.mark.skipif(CUDA not in providers.ort.get_available_providers(), reason="onnxruntime without CUDA")
def test_gpu_libraries_are_preloaded_once_before_the_first_gpu_session(machine, monkeypatch: pytest.MonkeyPatch
                                                                       ) -> None:
    machine(FakeDriver(MAJOR * 1000))
    calls: list[str] = []
    real = providers.ort.InferenceSession

    def session(*a, **k):
        calls.append("session")
        return real(*a, **k)

    def preload(*a, **k):
        calls.append("preload")
        print("Failed to load libcublas.so.13: not here")   # what onnxruntime prints: kept off the terminal

    monkeypatch.setattr(providers.ort, "preload_dlls", preload, raising=False)
    monkeypatch.setattr(providers.ort, "InferenceSession", session)
    providers.provider_works(CUDA)
    providers.provider_works(TRT)
    assert calls[0] == "preload" and calls.count("preload") == 1 and "session" in calls
    assert providers.preload_gpu_libraries() == "Failed to load libcublas.so.13: not here"


def test_no_preload_without_a_driver(machine, monkeypatch: pytest.MonkeyPatch) -> None:
    machine(None)
    monkeypatch.setattr(providers.ort, "preload_dlls", lambda *a, **k: pytest.fail("preloaded without a driver"),
                        raising=False)
    assert providers.preload_gpu_libraries() == "" and not providers.provider_works(CUDA)


def test_library_names_follow_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(providers, "cuda_version", lambda: (12, 8))
    monkeypatch.setattr(providers.sys, "platform", "linux")
    names = [n for n, _ in providers.gpu_libraries(TRT)]
    assert names == ["libcudart.so.12", "libcublasLt.so.12", "libcublas.so.12", "libcurand.so.10", "libcudnn.so.9",
                     "libnvinfer.so.10", "libnvonnxparser.so.10"]
    assert providers.too_old(11080, (12, 8), "torch 2.13.0").endswith(
        "supports CUDA 11.8, torch 2.13.0 needs CUDA 12.8 (driver >= 525.60)")


def test_tensorrt_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPT_TRT_CACHE", str(tmp_path / "engines"))
    opts = providers.trt_options("fp16", (16, 224), dynamic_batch=True)
    assert opts["trt_engine_cache_path"] == str(tmp_path / "engines") and (tmp_path / "engines").is_dir()
    assert opts["trt_fp16_enable"] == "True"
    assert opts["trt_profile_max_shapes"] == "dynamic:64x3x224x224,motion:64x16x3x224x224"
    assert "trt_profile_min_shapes" not in providers.trt_options("fp32", (16, 224), dynamic_batch=False)


def test_byref_fake_matches_ctypes() -> None:
    """The fake driver relies on ctypes.byref(x)._obj being x."""
    v = ctypes.c_int(0)
    FakeDriver(13020).cuDriverGetVersion(ctypes.byref(v))
    assert v.value == 13020


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="a GPU machine: the check would run for minutes")
def test_gpu_check_stops_at_once_where_there_is_no_gpu():
    root = Path(__file__).resolve().parents[1]
    r = subprocess.run(["bash", str(root / "bench" / "gpu_check.sh")], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "GPU_CHECK_INSTALL": "0"})
    assert r.returncode == 2, r.stdout + r.stderr
    assert "CPU vector extensions:" in r.stdout
    assert r.stdout.strip().splitlines()[-1] == \
        "gpu_check: FAIL: no NVIDIA driver here (nvidia-smi not found): nothing to measure"
