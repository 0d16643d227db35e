"""MPT model: shapes, freezing, identity at init, ablations, weight files, parameter/FLOP budget."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from train.backbone import create_backbone, load_backbone_weights
from train.cost import gflops_per_clip, trainable_parameters
from train.model import MPT, Bottleneck, MPTConfig

TINY = MPTConfig(backbone="vit_tiny_patch16_224", num_classes=3, frames=4, image_size=32)


def tiny(**changes) -> MPT:
    torch.manual_seed(0)
    return MPT(dataclasses.replace(TINY, **changes))


def inputs(cfg: MPTConfig, batch: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    s = cfg.image_size
    return torch.randn(batch, 3, s, s, generator=g), torch.randn(batch, cfg.frames, 3, s, s, generator=g)


def test_forward_shapes():
    model = tiny()
    d, m = inputs(model.cfg)
    tokens = model.forward_features(d, m)
    assert tokens.shape == (2, 1 + 5 + 4, 192)  # CLS + K prompts + 2x2 patches
    assert model(d, m).shape == (2, 3)
    assert model.forward_head(tokens, pre_logits=True).shape == (2, 192)


@pytest.mark.parametrize("dynamic_shape, motion_shape", [
    ((2, 3, 64, 64), (2, 4, 3, 32, 32)),   # wrong image size
    ((2, 3, 32, 32), (2, 5, 3, 32, 32)),   # wrong number of frames
    ((2, 3, 32, 32), (1, 4, 3, 32, 32)),   # batch mismatch
])
def test_bad_input_shapes(dynamic_shape, motion_shape):
    with pytest.raises(ValueError):
        tiny()(torch.zeros(dynamic_shape), torch.zeros(motion_shape))


def test_backbone_frozen_and_trained_parts_move():
    model = tiny().train()
    assert not model.backbone.training and model.head.training
    assert all(not p.requires_grad for p in model.backbone.parameters())
    frozen = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    trained = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    assert trained and not any(n.startswith("backbone.") for n in trained)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    d, m = inputs(model.cfg)
    y = torch.tensor([0, 2])
    for _ in range(2):  # step 1 moves the zero up-projections, step 2 the down-projections behind them
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(d, m), y).backward()
        opt.step()
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(v, frozen[k]), k
    unchanged = {n for n, p in model.named_parameters() if p.requires_grad and torch.equal(p, trained[n])}
    # only [CLS] reaches the head, so the last block's prompt/patch branches get no gradient (as in the paper)
    last = len(model.backbone.blocks) - 1
    assert unchanged == {f"adapters.{last}.{g}.{layer}.{w}" for g in ("prompt", "visual")
                         for layer in ("down", "up") for w in ("weight", "bias")}


@pytest.mark.parametrize("adapter", ["group", "plain", "none"])
def test_identity_at_init_without_prompts(adapter):
    model = tiny(prompts=False, adapter=adapter).eval()
    d, _ = inputs(model.cfg)
    with torch.no_grad():
        ours = model.forward_features(d)[:, 0]
        plain = model.backbone.forward_features(d)[:, 0]
    torch.testing.assert_close(ours, plain, rtol=0, atol=1e-6)


def test_gradient_reaches_prompt_generator():
    model = tiny()
    d, m = inputs(model.cfg)
    model(d, m).sum().backward()
    gen = model.prompt
    for p in (gen.conv.weight, gen.mean.weight, gen.var.weight, gen.proj.weight, gen.embed):
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_gaussians_start_evenly_spread_and_normalised():
    model = tiny()
    _, m = inputs(model.cfg)
    _, w, mu = model.prompt.gaussians(m)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 5))
    torch.testing.assert_close(mu, torch.tensor([[0.1, 0.3, 0.5, 0.7, 0.9]] * 2))


@pytest.mark.parametrize("prompts, adapter, has_prompt, n_branches", [
    (True, "group", True, 3),
    (False, "group", False, 2),     # no prompt tokens -> no prompt branch
    (True, "plain", True, 1),
    (True, "none", True, 0),
    (False, "none", False, 0),
])
def test_ablations_build_and_run(prompts, adapter, has_prompt, n_branches):
    model = tiny(prompts=prompts, adapter=adapter)
    assert (model.prompt is not None) == has_prompt
    assert (model.adapters is not None) == (adapter != "none")
    if model.adapters is not None:
        first = model.adapters[0]
        branches = [first] if isinstance(first, Bottleneck) else list(first.children())
        assert sum(isinstance(b, Bottleneck) for b in branches) == n_branches
    d, m = inputs(model.cfg)
    assert model(d, m if prompts else None).shape == (2, 3)
    assert trainable_parameters(model) > 0


def test_unknown_adapter():
    with pytest.raises(ValueError, match="adapter"):
        tiny(adapter="lora")


# ----------------------------------------------------------------------------- weight files


@pytest.fixture(scope="module")
def source() -> torch.nn.Module:
    """A backbone with its own (seeded) random weights: the 'pretrained' weights in these tests."""
    torch.manual_seed(123)
    return create_backbone(TINY.backbone, 32)


def _assert_same_backbone(model: MPT, source: torch.nn.Module) -> None:
    ref = source.state_dict()
    for k, v in model.backbone.state_dict().items():
        torch.testing.assert_close(v, ref[k], rtol=0, atol=1e-6, msg=k)


def test_source_differs_from_a_fresh_model(source):
    assert not torch.equal(tiny().backbone.pos_embed, source.pos_embed)


@pytest.mark.parametrize("fmt", ["safetensors", "pth", "checkpoint"])
def test_load_backbone_weights(tmp_path, source, fmt):
    from safetensors.torch import save_file

    if fmt == "safetensors":
        path = tmp_path / "vit.safetensors"
        save_file(source.state_dict(), str(path))
    elif fmt == "pth":
        path = tmp_path / "vit.pth"
        torch.save({"model": source.state_dict()}, path)
    else:  # a full MPT checkpoint: 'state_dict' with 'backbone.' keys
        path = tmp_path / "model.pt"
        state = {f"backbone.{k}": v for k, v in source.state_dict().items()} | {"head.weight": torch.zeros(3, 192)}
        torch.save({"state_dict": state, "classes": ["a", "b", "c"]}, path)
    loaded = MPT(TINY, backbone_weights=path)
    _assert_same_backbone(loaded, source)
    assert loaded.load_report is not None and loaded.load_report.missing == []
    assert all(not p.requires_grad for p in loaded.backbone.parameters())


def test_load_resizes_position_embedding(tmp_path, source):
    from safetensors.torch import save_file

    path = tmp_path / "vit32.safetensors"
    save_file(source.state_dict(), str(path))        # 2x2 patch grid
    loaded = MPT(dataclasses.replace(TINY, image_size=64), backbone_weights=path)   # 4x4 grid
    assert loaded.backbone.pos_embed.shape == (1, 1 + 16, 192)
    torch.testing.assert_close(loaded.backbone.cls_token, source.cls_token)
    d, m = inputs(loaded.cfg)
    assert loaded(d, m).shape == (2, 3)


def _write_jax_npz(vit: torch.nn.Module, path) -> None:
    """The original JAX ViT layout, written as the inverse of timm's ``_load_weights`` (timm has no writer)."""
    t = {k: v.detach().numpy() for k, v in vit.state_dict().items()}
    dim, heads = vit.embed_dim, vit.blocks[0].attn.num_heads
    w = {"embedding/kernel": t["patch_embed.proj.weight"].transpose(2, 3, 1, 0),
         "embedding/bias": t["patch_embed.proj.bias"], "cls": t["cls_token"],
         "Transformer/posembed_input/pos_embedding": t["pos_embed"],
         "Transformer/encoder_norm/scale": t["norm.weight"], "Transformer/encoder_norm/bias": t["norm.bias"]}
    for i in range(len(vit.blocks)):
        b, p = f"blocks.{i}.", f"Transformer/encoderblock_{i}/"
        mha = p + "MultiHeadDotProductAttention_1/"
        qkv_w = np.split(t[b + "attn.qkv.weight"], 3)
        qkv_b = np.split(t[b + "attn.qkv.bias"], 3)
        for n, wt, bs in zip(("query", "key", "value"), qkv_w, qkv_b):
            w[mha + n + "/kernel"] = wt.T.reshape(dim, heads, -1)
            w[mha + n + "/bias"] = bs.reshape(heads, -1)
        w[mha + "out/kernel"] = t[b + "attn.proj.weight"].reshape(dim, heads, -1).transpose(1, 2, 0)
        w[mha + "out/bias"] = t[b + "attn.proj.bias"]
        for ln, mod in (("LayerNorm_0", "norm1"), ("LayerNorm_2", "norm2")):
            w[p + ln + "/scale"], w[p + ln + "/bias"] = t[b + mod + ".weight"], t[b + mod + ".bias"]
        for r in range(2):
            w[p + f"MlpBlock_3/Dense_{r}/kernel"] = t[b + f"mlp.fc{r + 1}.weight"].T
            w[p + f"MlpBlock_3/Dense_{r}/bias"] = t[b + f"mlp.fc{r + 1}.bias"]
    np.savez(path, **w)


def test_load_jax_npz(tmp_path, source):
    path = tmp_path / "vit.npz"
    _write_jax_npz(source, path)
    loaded = MPT(TINY, backbone_weights=path)
    _assert_same_backbone(loaded, source)


def _bad_file(tmp_path, kind: str):
    from safetensors.torch import save_file

    if kind == "other_vit":   # right format, wrong architecture (ViT-S: 384 wide)
        path = tmp_path / "small.safetensors"
        save_file(create_backbone("vit_small_patch16_224", 32).state_dict(), str(path))
    elif kind == "not_a_vit":
        path = tmp_path / "other.pth"
        torch.save({"conv.weight": torch.zeros(3, 3)}, path)
    elif kind == "garbage":
        path = tmp_path / "garbage.safetensors"
        path.write_bytes(b"not a weight file at all")
    elif kind == "npz_other_layout":
        path = tmp_path / "other.npz"
        np.savez(path, foo=np.zeros(3))
    else:
        path = tmp_path / "weights.onnx"
        path.write_bytes(b"x")
    return path


@pytest.mark.parametrize("kind", ["other_vit", "not_a_vit", "garbage", "npz_other_layout", "extension"])
def test_wrong_weight_file(tmp_path, kind):
    path = _bad_file(tmp_path, kind)
    with pytest.raises(ValueError, match=path.name):
        MPT(TINY, backbone_weights=path)


def test_missing_weight_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_backbone_weights(create_backbone(TINY.backbone, 32), tmp_path / "nope.safetensors")


@pytest.mark.parametrize("name, match", [
    ("vit_bse_patch16_224", "vit_base_patch16_224"),   # typo: the error lists close names
    ("resnet18", "not a timm VisionTransformer"),
])
def test_bad_backbone_name(name, match):
    with pytest.raises(ValueError, match=match):
        MPT(dataclasses.replace(TINY, backbone=name))


# ----------------------------------------------------------------------------- budget (paper: 5.5 M, 18.7 G)


def test_paper_config_budget():
    with torch.device("meta"):
        model = MPT(MPTConfig())
    assert abs(trainable_parameters(model) / 5.5e6 - 1) < 0.10
    assert abs(gflops_per_clip(model) / 18.7 - 1) < 0.10
    assert gflops_per_clip(model, "flop") == pytest.approx(2 * gflops_per_clip(model))


def test_prompt_grid_keeps_where_the_motion_is():
    """The same local pattern in the top-left or bottom-right patch: the paper's global pool cannot
    tell them apart, a 2x2 grid can."""
    pattern = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    a, b = torch.zeros(1, 4, 3, 32, 32), torch.zeros(1, 4, 3, 32, 32)
    a[0, :, :, :16, :16] = pattern
    b[0, :, :, 16:, 16:] = pattern
    for grid, same in ((1, True), (2, False)):
        gen = tiny(prompt_grid=grid).prompt
        f_a, _, _ = gen.gaussians(a)
        f_b, _, _ = gen.gaussians(b)
        assert f_a.shape == (1, 4, 24 * grid * grid)  # C = 192 / 8 per grid cell
        assert torch.allclose(gen(a), gen(b), atol=1e-6) is same


def test_prompt_centre_ignores_the_static_face():
    """Centred, prompts depend on the motion only: two different still faces give the same prompts."""
    g = torch.Generator().manual_seed(4)
    still_a = torch.randn(1, 1, 3, 32, 32, generator=g).expand(1, 4, 3, 32, 32)
    still_b = torch.randn(1, 1, 3, 32, 32, generator=g).expand(1, 4, 3, 32, 32)
    centred, plain = tiny(prompt_centre=True).prompt, tiny().prompt
    torch.testing.assert_close(centred(still_a), centred(still_b))
    assert not torch.allclose(plain(still_a), plain(still_b))


def test_config_from_checkpoint_without_prompt_fields():
    """Checkpoints written before prompt_grid / prompt_centre existed rebuild the paper's generator."""
    old = {k: v for k, v in dataclasses.asdict(TINY).items() if not k.startswith("prompt_")}
    cfg = MPTConfig.from_dict(old)
    assert (cfg.prompt_grid, cfg.prompt_centre) == (1, False)
    new = MPTConfig.from_dict(dataclasses.asdict(dataclasses.replace(TINY, prompt_grid=4, prompt_centre=True)))
    assert (new.prompt_grid, new.prompt_centre) == (4, True)
    assert MPT(new).state_dict()["prompt.proj.weight"].shape == (192, 24 * 16)


def test_energy_prompts_ignore_the_sign_of_the_motion():
    """Motion energy |conv| is the same for a movement that brightens and one that darkens (an edge
    moving over a dark or a light face); the paper's GELU(conv) features are not."""
    g = torch.Generator().manual_seed(5)
    face = torch.randn(1, 1, 3, 32, 32, generator=g)
    move = torch.zeros(1, 4, 3, 32, 32)
    move[0, 1:3, :, 4:12, 20:28] = torch.randn(2, 3, 8, 8, generator=g)
    energy, gelu = tiny(prompt_energy=True, prompt_centre=True, prompt_grid=4).prompt, tiny(prompt_centre=True).prompt
    for gen, same in ((energy, True), (gelu, False)):
        f_up, _, _ = gen.gaussians(face + move)
        f_down, _, _ = gen.gaussians(face - move)
        assert torch.allclose(f_up, f_down, atol=1e-5) is same


def test_energy_prompts_use_one_conv_cell_per_grid_cell():
    """With energy, the conv's kernel and stride are image_size / grid: a 4x4 grid on a 32-px clip
    has 8-px cells, and a change inside one cell changes only that cell's features."""
    gen = tiny(prompt_energy=True, prompt_centre=True, prompt_grid=4).prompt
    assert gen.conv.kernel_size == (8, 8) and gen.conv.stride == (8, 8)
    gen.norm = torch.nn.Identity()  # look at the raw per-cell features
    clip = torch.randn(1, 4, 3, 32, 32, generator=torch.Generator().manual_seed(6))
    other = clip.clone()
    other[0, 2, :, 8:16, 16:24] += 1.0  # cell (row 1, col 2)
    f_a, _, _ = gen.gaussians(clip)
    f_b, _, _ = gen.gaussians(other)
    diff = (f_a - f_b).abs().view(4, -1, 4, 4).sum(dim=(0, 1))
    assert diff[1, 2] > 0 and diff.sum() == diff[1, 2]


@pytest.mark.parametrize("polarity", [1.0, -1.0])
@pytest.mark.parametrize("dy", [0.6, -0.6])
def test_flow_prompts_give_the_direction_of_the_motion_whatever_the_edges(polarity, dy):
    """train.cellflow: a face pattern moved down (dy > 0) gives positive y-displacement in the cells it
    covers, moved up negative, on dark-on-light or light-on-dark edges alike (which |conv| cannot tell
    apart and a linear filter gets backwards for one polarity); x stays ~0."""
    from train.cellflow import cell_flow

    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")

    def frame(shift: float) -> torch.Tensor:
        return polarity * (torch.sin((yy - shift) / 2.5) + 0.5 * torch.cos(xx / 3.0 + (yy - shift) / 7.0))

    clip = torch.stack([frame(dy if t in (3, 4, 5) else 0.0) for t in range(8)])[None, :, None].repeat(1, 1, 3, 1, 1)
    d = cell_flow(clip, 8)[0]                                     # (T, 2, 4, 4)
    moved, still = d[[3, 4, 5], 1].mean(), d[[0, 1, 2, 6, 7], 1].mean()
    assert torch.sign(moved) == np.sign(dy) and torch.sign(still) == -np.sign(dy)
    # 3 of 8 frames at dy: relative to the mean frame they sit at dy * 5/8
    assert abs(float(moved) - dy * 5 / 8) < 0.15 * abs(dy)
    assert d[:, 0].abs().max() < 0.2 * abs(dy)


def test_flow_prompt_generator_adds_signed_features_and_trains():
    """prompt_flow: the projection reads the energy features plus 2 x grid x grid signed ones, the Gaussian
    heads still read the energy alone, and the loss reaches the new projection weights."""
    m = tiny(prompt_energy=True, prompt_centre=True, prompt_grid=4, prompt_flow=True)
    base = tiny(prompt_energy=True, prompt_centre=True, prompt_grid=4)
    assert m.prompt.proj.in_features == base.prompt.proj.in_features + 2 * 16
    assert m.prompt.mean.in_features == base.prompt.mean.in_features
    d, mo = inputs(TINY)
    m.head.weight.data.normal_(0, 0.1)
    m(d, mo).sum().backward()
    assert m.prompt.proj.weight.grad[:, -32:].abs().sum() > 0
    old = {k: v for k, v in dataclasses.asdict(TINY).items() if k != "prompt_flow"}
    assert MPTConfig.from_dict(old).prompt_flow is False


def test_flow_prompts_on_a_face_that_is_not_a_whole_number_of_cells():
    """48 px on a 14 x 14 grid: 16 cells of 3 px, pooled to 14 x 14 for the displacement as for the energy,
    so the projection gets the width it was built for; 32 px on a 4 x 4 grid (whole cells) is unchanged."""
    from train.cellflow import flow_features

    m = tiny(image_size=48, prompt_energy=True, prompt_centre=True, prompt_grid=14, prompt_flow=True)
    d, mo = inputs(m.cfg)
    assert m.prompt.features(mo).shape == (2, m.cfg.frames, m.prompt.proj.in_features)
    assert m(d, mo).shape == (2, 3)
    f = flow_features(mo, 3, 14)
    assert f.shape == (2, m.cfg.frames, 2 * 14 * 14) and torch.isfinite(f).all()
    _, mo32 = inputs(TINY)
    assert torch.equal(flow_features(mo32, 8, 4), flow_features(mo32, 8))


def test_energy_config_from_older_checkpoints():
    old = {k: v for k, v in dataclasses.asdict(TINY).items() if k not in ("prompt_energy", "prompt_channels")}
    cfg = MPTConfig.from_dict(old)
    assert (cfg.prompt_energy, cfg.prompt_channels) == (False, 0)


# ----------------------------------------------------------------------------- baselines (train/baselines.py)
@pytest.mark.parametrize("vpt, k, sets", [("shallow", 5, 1), ("deep", 5, 12), ("deep", 0, 12)])
def test_vpt_tokens_in_the_sequence_and_parameters(vpt, k, sets):
    """[CLS] + K motion prompts + N VPT tokens + patches; deep VPT has one token set per block."""
    model = tiny(vpt=vpt, vpt_tokens=3, prompts=k > 0, adapter="group")
    d, m = inputs(model.cfg)
    assert model.forward_features(d, m).shape == (2, 1 + k + 3 + 4, 192)
    assert model.vpt.tokens.shape == (sets, 3, 192) and model.vpt.tokens.requires_grad
    assert model.adapters[0].prompt is not None          # the VPT tokens use the prompt group's branch


def test_vpt_deep_replaces_the_tokens_before_every_block():
    model = tiny(vpt="deep", vpt_tokens=2, prompts=False, adapter="none").eval()
    d, m = inputs(model.cfg)
    seen = []
    hooks = [blk.register_forward_pre_hook(lambda mod, a: seen.append(a[0][:, 1:3].detach().clone()))
             for blk in model.backbone.blocks]
    with torch.no_grad():
        model(d, m)
    for h in hooks:
        h.remove()
    for i, x in enumerate(seen):
        assert torch.equal(x, model.vpt.tokens[i].expand(2, -1, -1))
    shallow = tiny(vpt="shallow", vpt_tokens=2, prompts=False, adapter="none")
    head_only = tiny(prompts=False, adapter="none")
    assert trainable_parameters(shallow) - trainable_parameters(head_only) == 2 * 192
    assert trainable_parameters(model) - trainable_parameters(head_only) == 12 * 2 * 192


def test_finetune_trains_the_backbone():
    frozen, full = tiny(prompts=False, adapter="none"), tiny(prompts=False, adapter="none", finetune=True)
    assert trainable_parameters(full) == sum(p.numel() for p in full.parameters())
    assert trainable_parameters(frozen) == 192 * 3 + 3
    d, m = inputs(full.cfg)
    torch.nn.functional.cross_entropy(full(d, m), torch.tensor([0, 1])).backward()
    assert full.backbone.blocks[0].attn.qkv.weight.grad is not None


def test_baseline_fields_from_older_checkpoints():
    old = {k: v for k, v in dataclasses.asdict(TINY).items() if k not in ("finetune", "vpt", "vpt_tokens")}
    cfg = MPTConfig.from_dict(old)
    assert (cfg.finetune, cfg.vpt, cfg.vpt_tokens) == (False, "none", 0)
    with pytest.raises(ValueError, match="vpt must be"):
        tiny(vpt="middle", vpt_tokens=2)


@pytest.mark.parametrize("args, name", [
    ((True, "group", False, "none", False), "MPT"),
    ((False, "none", False, "none", False), "linear head"),
    ((False, "none", True, "none", True), "from scratch"),
    ((False, "none", True, "none", False), "full fine-tuning"),
    ((False, "none", False, "deep", False), "VPT-deep"),
    ((True, "plain", False, "none", False), "motion prompts + plain adapter"),
])
def test_tuning_names(args, name):
    from train.baselines import tuning_name

    assert tuning_name(*args) == name


def test_head_reading_the_prompt_tokens():
    """head_prompts: the head reads [CLS, mean of the K prompt tokens] (2D inputs), the loss reaches the
    prompt tokens' half of its weights, and a checkpoint saved before the field gets the paper's head."""
    m = tiny(head_prompts=True)
    d, mo = inputs(TINY)
    assert m.head.in_features == 2 * 192 and m(d, mo).shape == (2, 3)
    assert m.forward_head(m.forward_features(d, mo), pre_logits=True).shape == (2, 2 * 192)
    m(d, mo).sum().backward()
    assert m.head.weight.grad[:, 192:].abs().sum() > 0
    # changing a prompt token's output changes the logits through the head's second half alone
    tokens = m.forward_features(d, mo).detach()
    other = tokens.clone()
    other[:, 1:1 + 5] += 1.0
    assert not torch.allclose(m.forward_head(tokens), m.forward_head(other))
    # without prompts there is nothing to read beside CLS
    assert tiny(head_prompts=True, prompts=False).head.in_features == 192
    old = {k: v for k, v in dataclasses.asdict(TINY).items() if k not in ("head_prompts", "prompt_flow_gain")}
    cfg = MPTConfig.from_dict(old)
    assert (cfg.head_prompts, cfg.prompt_flow_gain) == (False, 1.0)


def test_flow_gain_scales_only_the_signed_features():
    kw = dict(prompt_energy=True, prompt_centre=True, prompt_grid=4, prompt_flow=True)
    _, mo = inputs(TINY)
    one, five = tiny(**kw).prompt.features(mo), tiny(prompt_flow_gain=5.0, **kw).prompt.features(mo)
    torch.testing.assert_close(five[..., :-32], one[..., :-32])
    torch.testing.assert_close(five[..., -32:], 5.0 * one[..., -32:])


def _still_clip_with_a_movement(moving: bool, seed: int = 0) -> torch.Tensor:
    """A 16-frame 112 px smooth random texture with pixel noise in every frame (what a still face gives the
    displacement) and, when ``moving``, a 3 px shift of one 16 x 16 px patch (4 of the 14 x 14 cells) in
    the second half."""
    g = torch.Generator().manual_seed(seed)
    base = nn_smooth(torch.rand(1, 1, 140, 140, generator=g))
    frames = []
    for t in range(16):
        f = base[..., 14:126, 14:126] + 0.002 * torch.randn(1, 1, 112, 112, generator=g)
        if moving and t >= 8:
            f[..., 48:64, 48:64] = base[..., 14 + 48 + 3:14 + 64 + 3, 14 + 48:14 + 64]
        frames.append(f.expand(1, 3, 112, 112))
    return torch.stack(frames, 1)


def nn_smooth(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.avg_pool2d(x, 5, 1, 2)


def test_median_flow_scale_keeps_a_still_clip_small_and_a_movement_large():
    """--flow-norm median: the per-clip scale is the median cell's RMS, so a movement of a few cells does
    not change it (it is the clip's noise) and the moving cells stand out above 1, while the rms scale is
    set by the movement itself. Both give unit-free features, and median is torch.median as TopK."""
    from train.cellflow import clip_scale, flow_features

    still, moving = _still_clip_with_a_movement(False), _still_clip_with_a_movement(True)
    d_still, d_moving = flow_features(still, 8, 14, "median"), flow_features(moving, 8, 14, "median")
    cells = lambda f: f.view(1, 16, 2, -1).pow(2).mean(dim=(1, 2)).sqrt()[0]  # noqa: E731
    # median: noise is the unit in both clips, and the moving cells stand far above it (measured 88 vs 1.7)
    assert float(cells(d_moving).median()) == pytest.approx(1.0, abs=1e-4)
    assert float(cells(d_moving).max()) > 10.0 * float(cells(d_still).max())
    # rms: the still clip's noise is scaled up to unit size, and in the moving clip the movement sets the
    # scale, so the same movement is 8x smaller beside noise of the size a still clip shows
    rms_still, rms_moving = flow_features(still, 8, 14, "rms"), flow_features(moving, 8, 14, "rms")
    assert float(rms_moving.pow(2).mean()) == pytest.approx(1.0, rel=1e-3)
    assert float(cells(rms_still).median()) > 0.5
    assert float(cells(rms_moving).max()) < 0.5 * float(cells(d_moving).max())
    # the median is torch.median's (the lower one for an even count)
    f = torch.randn(3, 5, 2 * 49)
    ref = f.view(3, 5, 2, -1).pow(2).mean(dim=(1, 2)).median(dim=1).values.sqrt()
    torch.testing.assert_close(clip_scale(f, "median").view(3), ref)
    with pytest.raises(ValueError, match="flow norm"):
        clip_scale(f, "max")


def test_flow_norm_reaches_the_generator_and_older_configs_read_as_rms():
    kw = dict(prompt_energy=True, prompt_centre=True, prompt_grid=4, prompt_flow=True)
    _, mo = inputs(TINY)
    rms, med = tiny(**kw).prompt.features(mo), tiny(prompt_flow_norm="median", **kw).prompt.features(mo)
    torch.testing.assert_close(med[..., :-32], rms[..., :-32])
    assert not torch.allclose(med[..., -32:], rms[..., -32:])
    old = {k: v for k, v in dataclasses.asdict(TINY).items() if k != "prompt_flow_norm"}
    assert MPTConfig.from_dict(old).prompt_flow_norm == "rms"


@pytest.mark.parametrize("args, params", [(["--preset", "paper"], "5.511 M"), ([], "2.725 M"),
                                          (["--image-size", "112"], "2.715 M")])
def test_cost_cli_describes_the_model_mpt_train_builds(args, params, monkeypatch, capsys):
    """``python -m train.cost``: the paper's budget (5.5 M) for --preset paper, mpt-train's defaults otherwise (run
    as ``-m`` runs it, in this process: a failure is an exception or a SystemExit out of it)."""
    import runpy
    import sys
    import warnings

    monkeypatch.setattr(sys, "argv", ["train.cost", *args])
    with warnings.catch_warnings():  # runpy's note that another test imported train.cost already
        warnings.simplefilter("ignore", RuntimeWarning)
        runpy.run_module("train.cost", run_name="__main__")
    out = capsys.readouterr().out
    assert f"trainable parameters: {params} " in out, out


def test_head_summary_adds_a_linear_map_of_the_probes_features():
    """head_summary (--head cls+prompts+summary): the logits are the head's plus Linear(LayerNorm(s)) of the
    motion input's fixed summary s (train.cellflow.motion_summary, the linear probe's features); zero at init,
    so the model starts as the one without it; the loss reaches it; a checkpoint from before has none."""
    from train.cellflow import motion_summary

    kw = dict(prompt_energy=True, prompt_centre=True, prompt_grid=4, prompt_flow=True, head_prompts=True)
    m, plain = tiny(head_summary=True, **kw), tiny(**kw)
    d, mo = inputs(TINY)
    assert m.summary_head.in_features == 3 * 14 * 14
    torch.testing.assert_close(m(d, mo), plain(d, mo))                        # zero-initialised
    m(d, mo).sum().backward()
    assert m.summary_head.weight.grad.abs().sum() > 0
    with torch.no_grad():
        m.summary_head.weight.normal_(0, 0.1)
        extra = m.summary_head(m.summary_norm(motion_summary(mo, 14)))
        torch.testing.assert_close(m(d, mo), m.forward_head(m.forward_features(d, mo)) + extra)
        other = mo.clone()
        other[:, 1:3] += 0.5 * torch.randn_like(other[:, 1:3])  # another movement: other logits from the summary
        assert not torch.allclose(extra, m.summary_head(m.summary_norm(motion_summary(other, 14))))
    assert tiny(head_summary=True, prompts=False).summary_head is None       # no motion input to summarise
    old = {k: v for k, v in dataclasses.asdict(TINY).items() if k != "head_summary"}
    assert MPTConfig.from_dict(old).head_summary is False
