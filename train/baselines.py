"""The paper's baselines besides MPT's own ablations (Tables VI-VII): VPT prompts, full fine-tuning,
training from scratch.

* VPT (Jia et al., "Visual Prompt Tuning", ECCV 2022): ``N`` learned tokens, without position
  embedding, sit after the prefix (CLS) and motion-prompt tokens. ``shallow``: one set, inserted
  before the first block, carried through every block like any token. ``deep``: a fresh set before
  every block (the previous block's outputs at those positions are dropped). Initialised uniform in
  ``+-sqrt(6 / (3 * p * p + D))`` (VPT's Xavier-uniform over the patch embedding's fan-in, patch p).
  A group adapter counts them with the prompt group. Used as the paper's baselines they come with
  ``--no-prompts --adapter none``: frozen ViT + prompt tokens + linear head on the dynamic image.
* Full fine-tuning (``MPTConfig.finetune``): the backbone's parameters are trained too; with
  ``--backbone-weights none`` that is training from scratch. The backbone stays in eval mode (timm's
  ViTs have no dropout or batch norm at their defaults, so train and eval mode compute the same).

:func:`tuning_name` names a configuration the way the tables do.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class VisualPrompts(nn.Module):
    """VPT prompt tokens: ``insert`` before the first block, ``refresh`` before every later one (deep)."""

    def __init__(self, num_tokens: int, dim: int, depth: int, deep: bool, patch: int) -> None:
        super().__init__()
        if num_tokens < 1:
            raise ValueError(f"VPT needs at least one token, got {num_tokens}")
        self.num_tokens, self.deep = num_tokens, deep
        bound = math.sqrt(6.0 / float(3 * patch * patch + dim))
        self.tokens = nn.Parameter(torch.empty(depth if deep else 1, num_tokens, dim).uniform_(-bound, bound))

    def _set(self, block: int, x: Tensor) -> Tensor:
        return self.tokens[block].to(x.dtype).unsqueeze(0).expand(x.shape[0], -1, -1)

    def insert(self, x: Tensor, at: int) -> Tensor:
        """``x`` with the (first) set of tokens inserted at position ``at``."""
        return torch.cat([x[:, :at], self._set(0, x), x[:, at:]], dim=1)

    def refresh(self, x: Tensor, block: int, at: int) -> Tensor:
        """Before block ``block`` > 0: deep prompts replace the tokens at ``at``; shallow ones stay."""
        if not self.deep or block == 0:
            return x
        return torch.cat([x[:, :at], self._set(block, x), x[:, at + self.num_tokens:]], dim=1)


def tuning_name(prompts: bool, adapter: str, finetune: bool, vpt: str, random_init: bool) -> str:
    """What a configuration is, in the tables' words (e.g. ``MPT``, ``VPT-deep``, ``full fine-tuning``)."""
    parts = []
    if finetune:
        parts.append("from scratch" if random_init else "full fine-tuning")
    if vpt != "none":
        parts.append(f"VPT-{vpt}")
    if prompts and adapter == "group":
        parts.append("MPT")
    else:
        if prompts:
            parts.append("motion prompts")
        if adapter != "none":
            parts.append(f"{adapter} adapter")
    if not parts:
        parts.append("linear head")
    return " + ".join(parts)
