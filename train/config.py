"""``TrainConfig``: everything that defines a training run, with the one set of defaults.

Torch-free, so ``mpt-train --help`` reads its defaults from here without importing torch. The data
path's parameters are a :class:`mpt_live.clip.ClipSpec` (its own defaults, shared with serving);
the rest are the model, the weights and the recipe. Saved in ``config.json``, ``metrics.json`` and
``model.pt``; a resumed run is compared on :meth:`TrainConfig.identity`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from mpt_live.clip import ClipSpec
from mpt_live.errors import InputError

RANDOM_INIT_NOTE = (
    "backbone is randomly initialised (--backbone-weights none): figures are not comparable with a "
    "pretrained backbone's"
)

# what the motion prompt generator sees (train.model.MotionPromptGenerator):
# energy: |conv| of each magnified frame minus the clip mean, per cell of a grid x grid layout (the default)
# flow: energy + the signed Lucas-Kanade displacement of each cell (train.cellflow): which way it moved
# motion: GELU(conv) of each magnified frame minus the clip mean, pooled to the grid
# frames: GELU(conv) of the magnified frames, pooled to the grid (the paper's, with grid 1)
PROMPT_INPUTS = ("energy", "flow", "motion", "frames")

# what the linear head reads: the [CLS] token (the paper's) or [CLS] beside the mean of the motion prompt
# tokens after the last block (so what the prompts carry reaches the head without going through [CLS] alone);
# cls+prompts+summary: that, plus a linear map of the linear probe's fixed motion summary (issue 9,
# train.cellflow.motion_summary: the 14x14 motion-std map and the mid-minus-ends signed displacement)
HEADS = ("cls", "cls+prompts", "cls+prompts+summary")

# the per-clip scale of the signed displacement (train.cellflow.clip_scale): RMS over the clip, or the median cell's
FLOW_NORMS = ("rms", "median")

# learning rate over training: constant (the paper states no schedule) or cosine decay to 0 by the last step
LR_SCHEDULES = ("constant", "cosine")

# mpt-train's data path: ClipSpec's own defaults (the paper's, which serving falls back to) but magnification at
# alpha 10 instead of the paper's 20 (docs/recognition.md, 2026-12-04; alpha 20 until then, --alpha 20 for it)
DEFAULT_SPEC = ClipSpec(alpha=10.0)

# fields of TrainConfig that do not change results: a resumed run may differ in these
RUNTIME_ONLY = ("device", "workers", "cache")

FACES = ("align", "cropped", "auto")   # train.datasets.FACES: our alignment, the dataset's crops, crops if any
SAMPLINGS = ("blend", "pick")          # train.datasets.cache: interpolated times, or the nearest frames
VPT = ("none", "shallow", "deep")      # train.baselines.VisualPrompts


def data_text(dataset: str, values: list[Any]) -> str:
    """``--data`` (given once, or for ``composite`` once per part) as a run stores it: the folder resolved, or the
    composite's parts (:func:`train.datasets.composite.data_text`)."""
    if dataset == "composite":
        from .datasets.composite import data_text as parts_text

        return parts_text([str(v) for v in values])
    if len(values) != 1:
        raise InputError(f"--data given {len(values)} times: only --dataset composite reads several folders")
    return str(Path(values[0]).resolve())


def input_norm_values(input_norm: str, backbone: str) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """``(mean, std)`` that ``input_norm`` names: None for ``spec`` (keep the ClipSpec's), the timm
    ``pretrained_cfg`` of ``backbone`` for ``backbone``, or ``"m,m,m/s,s,s"`` given explicitly.
    ValueError naming the option when it cannot be read."""
    if input_norm == "spec":
        return None
    if input_norm == "backbone":
        import torch

        from ._timm import import_timm

        timm = import_timm()
        if not timm.is_model(backbone):
            raise ValueError(f"--backbone {backbone}: unknown timm model name")
        with torch.device("meta"):  # the pretrained_cfg of the name's (default) tag; no weights
            pc = timm.create_model(backbone, pretrained=False).pretrained_cfg
        if not pc.get("mean") or not pc.get("std"):
            raise ValueError(f"--input-norm backbone: timm has no mean/std for {backbone!r}; give "
                             "--input-norm m,m,m/s,s,s")
        return tuple(float(v) for v in pc["mean"]), tuple(float(v) for v in pc["std"])
    try:
        mean, std = (tuple(float(v) for v in part.split(",")) for part in input_norm.split("/"))
    except ValueError:
        raise ValueError(f"--input-norm {input_norm!r}: expected spec, backbone or m,m,m/s,s,s "
                         "(RGB mean and std of 0..1 pixels)") from None
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ValueError(f"--input-norm {input_norm!r}: need 3 means and 3 positive stds (RGB)")
    return mean, std


@dataclass
class TrainConfig:
    """A training run: data, backbone and weights, data path (``spec``), model and recipe."""

    dataset: str
    data: str
    backbone: str = "vit_small_patch14_dinov2"
    backbone_weights: str = "auto"       # auto | timm | none | a local file (train.backbone.resolve_weights)
    spec: ClipSpec = DEFAULT_SPEC        # frozen, so one shared default is safe; paper preset: ClipSpec()
    clip_mode: str = "paper"
    faces: str = "align"                 # align | cropped | auto (FACES)
    casme3_classes: int = 7              # CAS(ME)^3's label sets: 7 emotions, 4 or 3 (train.datasets.casme3)
    sampling: str = "blend"              # blend | pick (SAMPLINGS)
    input_norm: str = "spec"             # spec | backbone | m,m,m/s,s,s: where spec.mean/std come from
    # model
    prompts: bool = True
    adapter: str = "group"
    num_prompts: int = 5
    reduction: int = 8
    prompt_input: str = "flow"           # flow | energy | motion | frames (PROMPT_INPUTS)
    prompt_grid: int = 14
    prompt_channels: int = 16            # prompt conv channels per frame (0: D / reduction; 0 until 2026-12-04)
    flow_gain: float = 5.0               # prompt_input flow: scale of the displacement features (1 until 2026-12-04)
    flow_norm: str = "median"            # prompt_input flow: per-clip scale of the displacement (FLOW_NORMS; rms until 2026-12-04)
    head: str = "cls+prompts"            # cls | cls+prompts: what the linear head reads (HEADS; cls until 2026-12-04)
    # baselines (train.baselines)
    finetune: bool = False               # train the backbone too: full fine-tuning (from scratch with weights none)
    vpt: str = "none"                    # none | shallow | deep: VPT prompt tokens (VPT)
    vpt_tokens: int = 5
    # recipe
    epochs: int = 10
    batch_size: int = 16
    lr: float = 3e-4
    lr_schedule: str = "constant"        # constant | cosine (LR_SCHEDULES)
    weight_decay: float = 0.0            # > 0: AdamW (decoupled), else Adam
    label_smoothing: float = 0.0
    augment: bool = True                 # flips and small shifts/zooms, the same for D and every motion frame
    augment_pose: float = 0.0            # 0..1: also roll, squeeze and a yaw-like bend (train.fitting.augment_batch)
    augment_photo: float = 0.0           # 0..1: also contrast, blur and per-frame noise (train.fitting.photometric)
    average_epochs: int = 0              # > 0: the model is the mean of the weights after each of the last N epochs
    class_weighted: bool = False
    jitter_variants: int = 4
    seed: int = 0
    # runtime only
    device: str = "cpu"
    workers: int = 0
    cache: str | None = None

    def __post_init__(self) -> None:
        if self.casme3_classes not in (7, 4, 3) or (self.casme3_classes != 7 and self.dataset != "casme3"):
            raise ValueError(f"casme3_classes {self.casme3_classes}: 7, 4 or 3, and only with --dataset casme3")
        for name, allowed in (("faces", FACES), ("sampling", SAMPLINGS), ("vpt", VPT), ("lr_schedule", LR_SCHEDULES),
                              ("head", HEADS), ("flow_norm", FLOW_NORMS), ("prompt_input", PROMPT_INPUTS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        for name in ("flow_gain", "weight_decay"):  # inf passes a range check and makes every weight NaN
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0.0):
                raise ValueError(f"--{name.replace('_', '-')} {getattr(self, name)!r}: must be a finite number >= 0")
        for name in ("augment_pose", "augment_photo"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        if not 0 <= self.average_epochs <= self.epochs:
            raise ValueError(f"average_epochs must be in [0, epochs={self.epochs}], got {self.average_epochs!r}")
        if self.sampling == "pick" and self.clip_mode != "paper":
            raise ValueError("sampling pick needs clip mode paper: window clips are blended, as the live "
                             "window blends the camera's frames (use --sampling blend)")
        norm = input_norm_values(self.input_norm, self.backbone)
        if norm is not None and (self.spec.mean, self.spec.std) != norm:
            self.spec = replace(self.spec, mean=norm[0], std=norm[1])

    @classmethod
    def paper(cls, dataset: str, data: str, **kw: Any) -> TrainConfig:
        """The paper's set-up as far as its text allows (``mpt-train --preset paper``; README,
        "Reproducing the paper", lists what the text leaves open and what we chose)."""
        base = dict(backbone="vit_base_patch16_224.orig_in21k", backbone_weights="timm", spec=ClipSpec(),
                    clip_mode="paper", faces="auto", sampling="pick", input_norm="backbone",
                    prompts=True, adapter="group", num_prompts=5, reduction=8,
                    prompt_input="frames", prompt_grid=1, prompt_channels=0, flow_gain=1.0, head="cls",
                    epochs=20, batch_size=16, lr=3e-4,
                    weight_decay=0.0, label_smoothing=0.0, augment=False, average_epochs=0, class_weighted=False)
        return cls(dataset=dataset, data=data, **{**base, **kw})

    def with_spec(self, **changes: Any) -> TrainConfig:
        """A copy with some ClipSpec fields changed."""
        return replace(self, spec=replace(self.spec, **changes))

    @property
    def image_size(self) -> int:
        return self.spec.image_size

    @property
    def frames(self) -> int:
        return self.spec.frames

    @property
    def backbone_init(self) -> str:
        w = self.backbone_weights
        if w in (None, "none"):
            return "random"
        return w if w in ("auto", "timm") else f"file:{w}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("spec")
        d["clip_spec"] = self.spec.to_dict()
        d["backbone_init"] = self.backbone_init
        if self.backbone_init == "random":
            d["note"] = RANDOM_INIT_NOTE
        return d

    def identity(self) -> dict[str, Any]:
        """The result-defining part of the config, compared when a run is resumed."""
        d = self.to_dict()
        for k in RUNTIME_ONLY:
            d.pop(k, None)
        return json.loads(json.dumps(d))  # tuples -> lists, as stored


def variants(cfg: TrainConfig, train: bool) -> list[int]:
    """Clip-cache variants a sample is drawn from: jittered windows 1..J for training in window mode."""
    if cfg.clip_mode == "window" and train:
        return list(range(1, cfg.jitter_variants + 1))
    return [0]
