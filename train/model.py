"""MPT: Motion Prompt Tuning (Liu et al. 2025, arXiv 2508.09446, section III) on a frozen timm ViT.

Tokens fed to the frozen ViT: ``[CLS] + K motion prompts + patch tokens of the dynamic image``.
Only the motion prompt generator, one adapter per block and the linear head are trained.

Choices where the paper leaves room (each also noted where it is implemented):

* Prompt generator: one ``Conv2d(3, C, kernel=stride=patch size)`` + GELU + global average pool per
  magnified frame gives per-frame features ``(B, T, C)`` with ``C = D // reduction`` (the adapters'
  bottleneck width). Two linear layers on the flattened ``(B, T*C)`` features give the K Gaussian
  means (sigmoid, in [0, 1] clip time) and variances (softplus + 1e-4); they are zero-initialised
  with biases that start the K Gaussians evenly spaced over the clip (sigma = 1/(2K)).
  ``prompt_k = Linear(C -> D)(sum_t w_k(t) f_t) + e_k`` with ``w_k`` the Gaussian normalised over
  the T frames (a softmax of the log-density) and ``e_k`` a learned per-prompt embedding: the
  prompts get no spatial position embedding, but ``e_k`` tells the frozen ViT which temporal
  window each prompt summarises (attention alone is order-blind). With C = D the generator alone
  would add ~1.2 M parameters and ~1.6 GFLOPs, which the paper's totals (5.5 M, 18.7 G) leave no
  room for; with C = D / 8 the totals land on the paper's figures (see ``python -m train.cost``).
* Where and what the prompt generator looks at (``prompt_grid``, ``prompt_centre``,
  ``prompt_energy``; departures from the paper, off in ``MPTConfig``'s defaults, on in ``mpt-train``'s):
  the paper's GELU(conv) features, averaged over the whole frame, keep *what* moved but not *where*
  on the face, and their sign follows the face's own edges (an edge moving over a dark or a light
  face gives opposite features). On held-out people of the semi-synthetic benchmark, MPT with that
  generator, or with a 4 x 4 or 8 x 8 grid of the same features, learnt its training people and
  stayed near chance on the others; with the dynamic image zeroed it was at chance (UF1 0.21): its
  prompts carried nothing that transfers. ``prompt_energy=True`` makes them local motion energy:
  ``|conv|`` of each magnified frame minus the clip's mean frame (``prompt_centre``), the conv a
  bias-free filter bank with kernel = stride = ``image_size / grid`` (8-px cells of a 112-px face at
  grid 14), then LayerNorm over the frame's features (without it the same run fell from 0.77 to
  0.54 UF1: the energy's scale varies with the person and the light). The Gaussian heads, which
  decide *when*, read each frame's energy averaged over the grid (T x C inputs instead of
  T x C x G x G: 0.84 vs 0.77 UF1 and 1.5 M fewer parameters with ViT-S). ``prompt_flow=True``
  (``mpt-train --prompt-input flow``, its default since 2026-12-03) adds each cell's signed
  displacement (:mod:`train.cellflow`): energy cannot tell lip corners pulled up from pushed down,
  the errors it made most on unseen people. Measured with ``bench/recognition.py`` and
  docs/results.md ("Recognition on unseen people").
* Prompts are inserted after the ViT's prefix tokens (CLS, plus any register tokens) once the
  position embedding has been added to CLS/patches, and stay in the sequence through all blocks.
* Adapter placement: Houlsby-style on the MLP branch of every block, after the MLP (and its layer
  scale, if any): ``h = ls2(mlp(norm2(x))); h = h + adapter(h); x = x + drop_path2(h)``.
  Group adapter branches: CLS (all prefix tokens), motion prompts, patch tokens; each is
  ``Linear(D, D/r) -> GELU -> Linear(D/r, D)`` with the up-projection zero-initialised, so at
  init the frozen backbone computes exactly what it computed before. Since only [CLS] reaches
  the head, the last block's prompt and patch branches get no gradient (0.30 M of the 5.51 M
  with ViT-B/16); they are kept so the architecture, and its parameter count, are the paper's.
* Head: ``Linear(D, classes)`` on CLS after the final norm and ``fc_norm`` (the paper's); ``head_prompts``
  (``--head cls+prompts``): ``Linear(2D, classes)`` on [CLS, mean of the K prompt tokens].
  ``head_summary`` (``--head cls+prompts+summary``, issue 9): the logits also get ``Linear(LayerNorm(s))`` of
  the linear probe's fixed summary ``s`` of the motion input (:func:`train.cellflow.motion_summary`).
  ``prompt_flow_gain`` scales the 2GG displacement features beside the CGG energy ones (392 vs 9408);
  ``prompt_flow_norm`` is their per-clip scale (:func:`train.cellflow.clip_scale`).
* Baselines of the paper's Tables VI-VII (:mod:`train.baselines`): ``finetune`` trains the backbone
  too (full fine-tuning; from scratch with random weights), ``vpt`` adds VPT-shallow/-deep tokens.
* What a model costs (trainable parameters, GFLOPs per clip): :mod:`train.cost`.
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from train.backbone import create_backbone, load_backbone_weights
from train.baselines import VisualPrompts
from train.cellflow import flow_features, motion_summary

log = logging.getLogger(__name__)

ADAPTERS = ("group", "plain", "none")
SUMMARY_GRID = 14  # head_summary: the linear probe's 14 x 14 cells (bench/recognition.py)


@dataclass
class MPTConfig:
    """Model hyper-parameters, saved in every checkpoint (``dataclasses.asdict``)."""

    backbone: str = "vit_base_patch16_224"   # any timm ViT with a class token (tag allowed)
    num_classes: int = 5
    num_prompts: int = 5                     # K
    reduction: int = 8                       # r: adapter bottleneck D -> D / r
    frames: int = 16                         # T motion frames per clip
    image_size: int = 224
    prompts: bool = True                     # ablation: no motion prompt tokens
    adapter: str = "group"                   # "group" | "plain" (one shared) | "none"
    prompt_grid: int = 1                     # prompt features pooled to grid x grid (1: the paper's global pool)
    prompt_centre: bool = False              # prompt conv sees frame minus clip mean (False: the paper's frames)
    prompt_energy: bool = False              # rectified motion energy per grid cell (False: the paper's GELU)
    prompt_flow: bool = False                # with energy: + signed per-cell displacement (train.cellflow)
    prompt_channels: int = 0                 # per-frame feature channels (0: D / reduction, the paper's)
    prompt_flow_gain: float = 1.0            # flow: scale of the displacement features beside the energy's
    prompt_flow_norm: str = "rms"            # flow: per-clip scale, "rms" (whole clip) or "median" (median cell)
    head_prompts: bool = False               # head reads [CLS, mean of the prompt tokens] (False: CLS, the paper's)
    head_summary: bool = False               # + Linear(LayerNorm(motion summary)) of the motion input (train.cellflow)
    finetune: bool = False                   # baselines (train.baselines): train the backbone too
    vpt: str = "none"                        # "none" | "shallow" | "deep" VPT prompt tokens
    vpt_tokens: int = 0

    @classmethod
    def from_dict(cls, d: dict) -> MPTConfig:
        """A config saved in a checkpoint; checkpoints from before a field existed get the value that
        reproduces what they were trained with (a prompt generator without these fields was the
        paper's: global pool over the magnified frames)."""
        d = dict(d)
        d.setdefault("prompt_grid", 1)
        d.setdefault("prompt_centre", False)
        d.setdefault("prompt_energy", False)
        d.setdefault("prompt_flow", False)
        d.setdefault("prompt_channels", 0)
        d.setdefault("prompt_flow_gain", 1.0)
        d.setdefault("prompt_flow_norm", "rms")
        d.setdefault("head_prompts", False)
        d.setdefault("head_summary", False)
        d.setdefault("finetune", False)
        d.setdefault("vpt", "none")
        d.setdefault("vpt_tokens", 0)
        return cls(**d)


# ----------------------------------------------------------------------------- building blocks


class Bottleneck(nn.Module):
    """``Linear(D, H) -> GELU -> Linear(H, D)``, up-projection zero-initialised (an exact no-op at init)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.down = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.up = nn.Linear(hidden, dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.up(self.act(self.down(x)))


class GroupAdapter(nn.Module):
    """One bottleneck per token group: CLS/prefix tokens, motion prompts, patch tokens."""

    def __init__(self, dim: int, hidden: int, num_prefix: int, num_prompts: int) -> None:
        super().__init__()
        self.num_prefix, self.num_prompts = num_prefix, num_prompts
        self.cls = Bottleneck(dim, hidden)
        self.prompt = Bottleneck(dim, hidden) if num_prompts else None
        self.visual = Bottleneck(dim, hidden)

    def forward(self, x: Tensor) -> Tensor:
        p, k = self.num_prefix, self.num_prompts
        parts = [self.cls(x[:, :p])]
        if self.prompt is not None:
            parts.append(self.prompt(x[:, p:p + k]))
        parts.append(self.visual(x[:, p + k:]))
        return torch.cat(parts, dim=1)


class MotionPromptGenerator(nn.Module):
    """Magnified frames ``(B, T, 3, S, S)`` -> K motion prompt tokens ``(B, K, D)`` (Gaussian tokenization).

    Per-frame features, then K Gaussian temporal poolings of them, each projected to a token.
    ``energy=False`` (the paper): ``GELU(conv)`` with kernel = stride = the ViT's patch, average-pooled
    to ``grid x grid``. ``energy=True``: the local motion energy ``|conv(x)|`` on a ``grid x grid``
    layout of cells (kernel = stride = image_size / grid), LayerNorm over the frame's features.
    """

    def __init__(self, dim: int, feat: int, patch: int, frames: int, num_prompts: int,
                 grid: int = 1, centre: bool = False, energy: bool = False, image_size: int = 224,
                 flow: bool = False, flow_gain: float = 1.0, flow_norm: str = "rms") -> None:
        super().__init__()
        self.frames, self.num_prompts, self.grid, self.centre = frames, num_prompts, grid, centre
        self.energy = energy
        cell = max(1, image_size // grid) if energy else patch
        self.cell, self.flow, self.flow_gain = cell, bool(flow and energy), float(flow_gain)
        self.flow_norm = flow_norm
        # energy: a linear filter bank (no bias), so that |response| is the same for x and -x
        self.conv = nn.Conv2d(3, feat, kernel_size=cell, stride=cell, bias=not energy)
        self.act = nn.GELU()
        width = feat * grid * grid
        self.feat = feat
        self.norm = nn.LayerNorm(width) if energy else nn.Identity()
        # the Gaussians say *when*: with energy they read each frame's features averaged over the grid
        timing = frames * (feat if energy else width)
        self.mean = nn.Linear(timing, num_prompts)
        self.var = nn.Linear(timing, num_prompts)
        self.proj = nn.Linear(width + (2 * grid * grid if self.flow else 0), dim)
        self.embed = nn.Parameter(torch.zeros(1, num_prompts, dim))
        nn.init.trunc_normal_(self.embed, std=0.02)
        # start from K evenly spaced Gaussians, sigma = 1/(2K); the data then moves them
        centres = (torch.arange(num_prompts) + 0.5) / num_prompts
        var0 = (1.0 / (2 * num_prompts)) ** 2
        for lin in (self.mean, self.var):
            nn.init.zeros_(lin.weight)
        with torch.no_grad():
            self.mean.bias.copy_(torch.logit(centres))
            self.var.bias.fill_(math.log(math.expm1(var0 - 1e-4)))  # softplus^-1
        self.register_buffer("t", torch.linspace(0.0, 1.0, frames), persistent=False)

    def features(self, motion: Tensor) -> Tensor:
        """Per-frame features ``(B, T, width)``."""
        b, t = motion.shape[:2]
        frames = motion
        if self.centre:  # the magnified motion itself: each frame minus the clip's mean frame
            motion = motion - motion.mean(dim=1, keepdim=True)
        x = self.conv(motion.flatten(0, 1))
        # energy: |conv| is the same for a movement and its mirror image in time or intensity, so an
        # edge moving on a dark or a light face gives the same feature (GELU keeps the sign)
        x = x.abs() if self.energy else self.act(x)
        # average pool to a grid x grid layout (grid 1: the paper's global pool); with grid > 1
        # where on the face the motion is stays visible
        f = self.norm(nn.functional.adaptive_avg_pool2d(x, self.grid).flatten(1).view(b, t, -1))
        # flow: from the frames themselves (the mean frame's gradients say how the face's edges run)
        return torch.cat([f, self.flow_gain * flow_features(frames, self.cell, self.grid, self.flow_norm)], -1) if self.flow else f

    def gaussians(self, motion: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Per-frame features ``(B,T,C)`` and the Gaussian weights ``(B,K,T)`` and means ``(B,K)``."""
        f = self.features(motion)
        b, t = f.shape[:2]
        if self.energy:  # the energy part (the first feat x grid x grid features) averaged over the grid
            g2 = self.grid * self.grid
            h = f[..., :self.feat * g2].reshape(b, t, self.feat, g2).mean(-1).flatten(1)
        else:
            h = f.flatten(1)
        mu = torch.sigmoid(self.mean(h))                                         # (B, K) in [0, 1]
        var = nn.functional.softplus(self.var(h)) + 1e-4                         # (B, K) > 0
        logw = -(self.t.view(1, 1, -1) - mu.unsqueeze(-1)) ** 2 / (2 * var.unsqueeze(-1))
        return f, logw.softmax(dim=-1), mu                                       # w sums to 1 over T

    def forward(self, motion: Tensor) -> Tensor:
        f, w, _ = self.gaussians(motion)
        return self.proj(torch.bmm(w, f)) + self.embed                           # (B, K, D)


# ----------------------------------------------------------------------------- the model


class MPT(nn.Module):
    """Frozen timm ViT + motion prompts + (group) adapters + linear head.

    ``pretrained=True`` loads weights through timm (online); ``backbone_weights=FILE`` loads a local
    file instead (see :func:`load_backbone_weights`). The backbone's parameters require grad only
    with ``cfg.finetune`` (a baseline) and it stays in eval mode whatever ``train()`` is called with.
    ``cfg.vpt``: VPT prompt tokens after the motion prompts (:class:`train.baselines.VisualPrompts`).
    """

    def __init__(self, cfg: MPTConfig, pretrained: bool = False,
                 backbone_weights: str | Path | None = None) -> None:
        super().__init__()
        if cfg.adapter not in ADAPTERS:
            raise ValueError(f"adapter must be one of {ADAPTERS}, got {cfg.adapter!r}")
        if pretrained and backbone_weights is not None:
            raise ValueError("give either pretrained=True or backbone_weights, not both")
        self.cfg = copy.copy(cfg)
        self.backbone = create_backbone(cfg.backbone, cfg.image_size, pretrained)
        self.load_report = load_backbone_weights(self.backbone, backbone_weights) if backbone_weights else None
        self.backbone.requires_grad_(cfg.finetune)
        self.backbone.eval()

        dim = self.backbone.embed_dim
        hidden = max(1, dim // cfg.reduction)
        self.num_prefix = self.backbone.num_prefix_tokens
        k = cfg.num_prompts if cfg.prompts else 0
        self.num_prompt_tokens = k
        self.prompt = (MotionPromptGenerator(dim, cfg.prompt_channels or hidden,
                                             self.backbone.patch_embed.patch_size[0], cfg.frames, k,
                                             cfg.prompt_grid, cfg.prompt_centre, cfg.prompt_energy,
                                             cfg.image_size, cfg.prompt_flow, cfg.prompt_flow_gain,
                                             cfg.prompt_flow_norm) if k else None)
        depth = len(self.backbone.blocks)
        if cfg.vpt not in ("none", "shallow", "deep"):
            raise ValueError(f"vpt must be none, shallow or deep, got {cfg.vpt!r}")
        self.vpt = (VisualPrompts(cfg.vpt_tokens, dim, depth, cfg.vpt == "deep",
                                  self.backbone.patch_embed.patch_size[0]) if cfg.vpt != "none" else None)
        n_vpt = self.vpt.num_tokens if self.vpt is not None else 0
        if cfg.adapter == "group":  # VPT tokens count with the prompt group
            self.adapters = nn.ModuleList(GroupAdapter(dim, hidden, self.num_prefix, k + n_vpt)
                                          for _ in range(depth))
        elif cfg.adapter == "plain":
            self.adapters = nn.ModuleList(Bottleneck(dim, hidden) for _ in range(depth))
        else:
            self.adapters = None
        self.head_prompts = bool(cfg.head_prompts and k)
        self.head = nn.Linear(dim * (2 if self.head_prompts else 1), cfg.num_classes)
        # head_summary: the linear probe's fixed features of the motion input, added to the logits; zero-initialised,
        # so that at init the model computes what it would without them
        self.summary_norm = self.summary_head = None
        if cfg.head_summary and k:
            g = SUMMARY_GRID
            self.summary_norm = nn.LayerNorm(3 * g * g)
            self.summary_head = nn.Linear(3 * g * g, cfg.num_classes)
            nn.init.zeros_(self.summary_head.weight)
            nn.init.zeros_(self.summary_head.bias)

    def train(self, mode: bool = True) -> MPT:
        """Set train/eval mode for the trained parts; the frozen backbone always stays in eval mode."""
        super().train(mode)
        self.backbone.eval()
        return self

    def _check(self, dynamic: Tensor, motion: Tensor | None) -> None:
        s = self.cfg.image_size
        if dynamic.dim() != 4 or tuple(dynamic.shape[1:]) != (3, s, s):
            raise ValueError(f"dynamic: expected (B, 3, {s}, {s}), got {tuple(dynamic.shape)}")
        if self.prompt is not None:
            if motion is None:
                raise ValueError("motion: required when prompts are on")
            want = (dynamic.shape[0], self.cfg.frames, 3, s, s)
            if tuple(motion.shape) != want:
                raise ValueError(f"motion: expected {want}, got {tuple(motion.shape)}")

    def forward_features(self, dynamic: Tensor, motion: Tensor | None = None) -> Tensor:
        """``(B,3,S,S)``, ``(B,T,3,S,S)`` -> normed tokens ``(B, prefix + K + patches, D)``."""
        self._check(dynamic, motion)
        vit = self.backbone
        x = vit.norm_pre(vit.patch_drop(vit._pos_embed(vit.patch_embed(dynamic))))
        p = self.num_prefix
        if self.prompt is not None:
            x = torch.cat([x[:, :p], self.prompt(motion).to(x.dtype), x[:, p:]], dim=1)
        at = p + self.num_prompt_tokens
        if self.vpt is not None:
            x = self.vpt.insert(x, at)
        for i, blk in enumerate(vit.blocks):
            if self.vpt is not None:
                x = self.vpt.refresh(x, i, at)
            x = x + blk.drop_path1(blk.ls1(blk.attn(blk.norm1(x))))
            h = blk.ls2(blk.mlp(blk.norm2(x)))
            if self.adapters is not None:
                h = h + self.adapters[i](h)
            x = x + blk.drop_path2(h)
        return vit.norm(x)

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Tokens -> logits ``(B, C)`` from [CLS] (or the normed [CLS] itself with ``pre_logits``)."""
        cls, p = self.backbone.fc_norm(x[:, 0]), self.num_prefix
        if self.head_prompts:  # beside the mean of the prompt tokens
            cls = torch.cat([cls, self.backbone.fc_norm(x[:, p:p + self.num_prompt_tokens].mean(1))], dim=-1)
        return cls if pre_logits else self.head(cls)

    def forward(self, dynamic: Tensor, motion: Tensor | None = None) -> Tensor:
        """``(B,3,S,S)`` dynamic image, ``(B,T,3,S,S)`` magnified frames -> logits ``(B, C)``."""
        logits = self.forward_head(self.forward_features(dynamic, motion))
        if self.summary_head is not None:  # head_summary: beside the tokens, the clip's fixed motion summary
            summary = motion_summary(motion.float(), SUMMARY_GRID).to(logits.dtype)
            logits = logits + self.summary_head(self.summary_norm(summary))
        return logits
