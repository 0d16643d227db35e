"""mpt-train --device cuda on a machine without CUDA: one line that says why; the mixed-precision step (bf16, and
fp16 with a gradient scaler) exercised on the CPU, where autocast works the same way; fp32 on the CPU by default."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from mpt_live import providers  # noqa: E402
from train import fitting  # noqa: E402
from train.model import MPT, MPTConfig  # noqa: E402

TINY = MPTConfig(backbone="vit_tiny_patch16_224", num_classes=3, frames=4, image_size=32)


@pytest.mark.parametrize("device, bf16, expected", [
    ("cpu", True, None),                  # the CPU trains in fp32
    ("cuda", True, torch.bfloat16),       # Ampere and later: bf16, no loss scaling
    ("cuda", False, torch.float16),       # older GPUs: fp16 (with a gradient scaler)
])
def test_mixed_precision_by_device(monkeypatch: pytest.MonkeyPatch, device: str, bf16: bool, expected) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    assert fitting.amp_dtype(torch.device(device)) == expected


@pytest.mark.parametrize("dtype", [None, torch.bfloat16, torch.float16], ids=["fp32", "bf16", "fp16-scaled"])
def test_train_step_in_each_precision(dtype) -> None:
    """The step fit() runs: trainable parts move, the frozen backbone does not, the loss is finite."""
    torch.manual_seed(0)
    model = MPT(TINY).train()
    frozen = {k: v.detach().clone() for k, v in model.backbone.state_dict().items()}
    params = [p for p in model.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in params]
    opt = torch.optim.Adam(params, lr=1e-2)
    scaler = torch.amp.GradScaler("cpu") if dtype == torch.float16 else None
    d, m = torch.randn(4, 3, 32, 32), torch.randn(4, 4, 3, 32, 32)
    y = torch.tensor([0, 1, 2, 0])
    loss = fitting.train_step(model, d, m, y, opt, nn.CrossEntropyLoss(), dtype, scaler)
    assert torch.isfinite(loss) and loss.dtype == torch.float32
    assert any(not torch.equal(a, b) for a, b in zip(before, params))
    assert all(p.dtype == torch.float32 for p in params)                      # master weights stay fp32
    assert all(torch.equal(frozen[k], v) for k, v in model.backbone.state_dict().items())


def test_augmentation_runs_where_the_batch_is() -> None:
    d, m = torch.randn(2, 3, 16, 16, dtype=torch.float64), torch.randn(2, 3, 3, 16, 16, dtype=torch.float64)
    a, b = fitting.augment_batch(d, m, torch.Generator().manual_seed(0))
    assert (a.device, a.dtype, b.shape) == (d.device, torch.float64, m.shape)


@pytest.mark.parametrize("torch_cuda, available, driver, phrase", [
    (None, False, None, "is the CPU build; install the CUDA build (make install-cuda)"),
    ("13.0", False, "no NVIDIA driver (libcuda.so.1 not found)", "(CUDA 13.0) sees no GPU: no NVIDIA driver"),
    ("13.0", False, "too-old", "NVIDIA driver too old: it supports CUDA 12.4, torch"),
    ("13.0", True, None, ""),
])
def test_why_cuda_cannot_train(monkeypatch: pytest.MonkeyPatch, torch_cuda, available, driver, phrase) -> None:
    monkeypatch.setattr(torch.version, "cuda", torch_cuda)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: available)

    class OldDriver:
        def cuDriverGetVersion(self, ref):  # noqa: N802
            ref._obj.value = 12040
            return 0

        def cuInit(self, flags):  # noqa: N802
            return 0

    def load(name: str):
        if driver == "too-old":
            return OldDriver()
        raise OSError(name)

    monkeypatch.setattr(providers, "_load_library", load)
    providers.driver_problem.cache_clear()
    try:
        got = fitting.cuda_problem()
    finally:
        providers.driver_problem.cache_clear()
    assert (phrase in got if phrase else got == "") and "\n" not in got
