"""What an MPT costs: trainable parameters and GFLOPs per clip.

FLOP convention: :func:`gflops_per_clip` counts a multiply-add as one FLOP (fvcore / most papers,
including, evidently, this one); ``torch.utils.flop_counter`` counts it as two.

    python -m train.cost [--preset default|paper] [--backbone NAME] [--image-size N] ...
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from train.backbone import create_backbone
from train.model import ADAPTERS, MPT, GroupAdapter


def trainable_parameters(model: nn.Module) -> int:
    """Number of parameters that require grad."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def gflops_per_clip(model: MPT, convention: Literal["mac", "flop"] = "mac") -> float:
    """GFLOPs of one clip's forward pass, counted by ``torch.utils.flop_counter`` on a meta-device twin.

    ``"mac"``: a multiply-add is one FLOP (fvcore, the paper's ViT-B/16 17.6 G); ``"flop"``: two.
    The twin (same config, on the meta device) costs no memory and makes the count independent of
    the device's attention kernel (the CPU flash-attention kernel is invisible to the counter).
    """
    from torch.utils.flop_counter import FlopCounterMode

    cfg = model.cfg
    with torch.device("meta"):
        twin = MPT(cfg).eval()
        dynamic = torch.zeros(1, 3, cfg.image_size, cfg.image_size)
        motion = torch.zeros(1, cfg.frames, 3, cfg.image_size, cfg.image_size)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        twin(dynamic, motion)
    flops = counter.get_total_flops() / 1e9
    return flops / 2 if convention == "mac" else flops


def _main() -> None:
    import argparse
    from dataclasses import replace

    from train.config import TrainConfig
    from train.fitting import model_config

    parser = argparse.ArgumentParser(description="MPT trainable parameters and GFLOPs per clip, of the model "
                                     "mpt-train builds (its defaults, or --preset paper) with the options below")
    parser.add_argument("--preset", choices=("default", "paper"), default="default",
                        help="mpt-train's defaults (default) or its --preset paper")
    parser.add_argument("--backbone", help="timm ViT name (default: the preset's)")
    parser.add_argument("--frames", type=int, help="frames per clip (default: the preset's)")
    parser.add_argument("--image-size", type=int, help="px (default: the preset's)")
    parser.add_argument("--prompts", type=int, help="K (0: no prompts; default: the preset's)")
    parser.add_argument("--reduction", type=int, help="adapter reduction (default: the preset's)")
    parser.add_argument("--adapter", choices=ADAPTERS, help="default: the preset's")
    parser.add_argument("--prompt-grid", type=int, help="prompt features pooled to N x N (1: the paper's global "
                        "pool; default: the preset's)")
    parser.add_argument("--classes", type=int, default=5)
    a = parser.parse_args()
    base = TrainConfig(dataset="csv", data=".") if a.preset == "default" else TrainConfig.paper("csv", ".")
    changes = {k: v for k, v in (("backbone", a.backbone), ("reduction", a.reduction), ("adapter", a.adapter),
                                 ("prompt_grid", a.prompt_grid)) if v is not None}
    if a.prompts is not None:
        changes.update(prompts=a.prompts > 0, num_prompts=max(a.prompts, 1))
    tc = replace(base, **changes)
    spec = {k: v for k, v in (("frames", a.frames), ("image_size", a.image_size)) if v is not None}
    cfg = model_config(tc.with_spec(**spec) if spec else tc, a.classes)
    with torch.device("meta"):  # shapes only: no weights, no download
        model = MPT(cfg)
        plain = create_backbone(cfg.backbone, cfg.image_size)
    n, total = trainable_parameters(model), sum(p.numel() for p in model.parameters())
    groups = {name: sum(p.numel() for p in mod.parameters()) for name, mod in
              (("prompt generator", model.prompt), ("adapters", model.adapters), ("head", model.head)) if mod}
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        plain(torch.zeros(1, 3, cfg.image_size, cfg.image_size, device="meta"))
    vit_mac = counter.get_total_flops() / 2e9
    mac, flop = gflops_per_clip(model, "mac"), gflops_per_clip(model, "flop")
    print(f"config: {cfg}")
    print(f"trainable parameters: {n / 1e6:.3f} M of {total / 1e6:.2f} M "
          f"({', '.join(f'{k} {v / 1e6:.3f} M' for k, v in groups.items())}); paper (ViT-B/16): 5.5 M")
    last = model.adapters[-1] if model.adapters is not None else None
    dead = sum(p.numel() for k, p in last.named_parameters() if not k.startswith("cls.")) \
        if isinstance(last, GroupAdapter) else 0
    if dead:
        print(f"  of which {dead / 1e6:.3f} M (last block's prompt/patch adapter branches) cannot reach the logits")
    print(f"GFLOPs per clip: {mac:.2f} (multiply-add = 1 FLOP, fvcore/paper convention; paper: 18.7) "
          f"= {flop:.2f} counting multiply and add separately (torch flop_counter)")
    print(f"plain backbone, one image: {vit_mac:.2f} GMAC; MPT adds {mac - vit_mac:.2f} "
          f"({100 * (mac / vit_mac - 1):.1f}%)")


if __name__ == "__main__":
    _main()
