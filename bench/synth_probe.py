"""Where is the class signal of the semi-synthetic benchmark, and can MPT's prompts reach it?

The probes that chose mpt-train's prompt generator (issue 3; docs/results.md, "Why the prompt
generator changed"), on one benchmark written by ``mpt-synth`` and read through the real loader and
clip cache (so a finished ``bench/synth_benchmark.py`` study makes this fast):

1. A linear probe: LOSO, L2-regularised logistic regression on a 14x14 map of each clip's per-pixel
   temporal standard deviation of the magnified frames, printed beside the same probe without
   magnification (alpha 0) as the baseline.
2. ``--variants``: MPT with each prompt generator ("G" grid, "c" centred motion, e.g. ``1,4c``),
   trained on the first ``--folds`` LOSO folds with the study's settings; pooled held-out Acc/UF1
   and the final training loss of each fold.

    python bench/synth_probe.py --data runs/synth-bench/data/synth-amp1.5-seed0-sub8-cpc3 \\
        --cache runs/synth-bench/cache [--variants 1,1c,2c,4c --folds 4]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from train.datasets import load_dataset
from train.loso import TrainConfig, build_model, make_cache, seed_everything
from train.metrics import summarize


def load(data: Path, cache: Path, size: int, alpha: float):
    """(dynamic, motion, labels, subjects, classes) of every clip, through the clip cache."""
    cfg = TrainConfig(dataset="casme2", data=str(data), spec=ClipSpec(image_size=size, alpha=alpha), cache=str(cache))
    index = load_dataset("casme2", data)
    cc = make_cache(cfg, cache)
    pairs = [cc.get(s) for s in index.samples]
    classes = list(index.classes)
    y = np.array([classes.index(s.label) for s in index.samples])
    subjects = np.array([s.subject for s in index.samples])
    return (np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]), y, subjects, classes)


def linear_probe(motion: np.ndarray, y: np.ndarray, subjects: np.ndarray, n_classes: int) -> dict:
    gray = motion.mean(axis=2)                                         # (N, T, S, S)
    std = np.sqrt(((gray - gray.mean(1, keepdims=True)) ** 2).mean(1))  # (N, S, S)
    n, s = std.shape[:2]
    f = nn.functional.avg_pool2d(torch.from_numpy(std)[:, None], s // 14)[:, 0].reshape(n, -1).numpy()
    f = (f - f.mean(0)) / (f.std(0) + 1e-6)
    pred = np.zeros(n, int)
    for subject in sorted(set(subjects)):
        tr, te = subjects != subject, subjects == subject
        x, t = torch.from_numpy(f[tr]), torch.from_numpy(y[tr])
        w = torch.zeros(x.shape[1], n_classes, requires_grad=True)
        b = torch.zeros(n_classes, requires_grad=True)
        opt = torch.optim.LBFGS([w, b], max_iter=200)

        def closure():
            opt.zero_grad()
            loss = nn.functional.cross_entropy(x @ w + b, t) + 1e-2 * (w ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        pred[te] = (torch.from_numpy(f[te]) @ w + b).argmax(1).numpy()
    return summarize(y.tolist(), pred.tolist(), n_classes)


def mpt_variant(variant: str, dyn, mot, y, subjects, classes, args) -> tuple[dict, list[float]]:
    grid, centre = int(variant.rstrip("c")), variant.endswith("c")
    cfg = TrainConfig(dataset="casme2", data="", backbone=args.backbone, backbone_weights=args.weights,
                      spec=ClipSpec(image_size=dyn.shape[-1], frames=mot.shape[1]), prompt_grid=grid,
                      prompt_centre=centre)
    d, m, t = torch.from_numpy(dyn), torch.from_numpy(mot), torch.from_numpy(y)
    y_true, y_pred, losses = [], [], []
    for k, subject in enumerate(sorted(set(subjects))[: args.folds]):
        tr, te = np.where(subjects != subject)[0], np.where(subjects == subject)[0]
        seed_everything(k)
        model = build_model(cfg, len(classes))
        opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=args.lr)
        gen = torch.Generator().manual_seed(k)
        for _ in range(args.epochs):
            model.train()
            order, total = tr[torch.randperm(len(tr), generator=gen).numpy()], 0.0
            for i in range(0, len(order), 16):
                b = order[i:i + 16]
                loss = nn.functional.cross_entropy(model(d[b], m[b]), t[b])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(b)
        losses.append(total / len(tr))
        model.eval()
        with torch.no_grad():
            y_pred += model(d[te], m[te]).argmax(1).tolist()
        y_true += y[te].tolist()
    return summarize(y_true, y_pred, len(classes)), losses


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="an mpt-synth benchmark (CASME II layout)")
    ap.add_argument("--cache", type=Path, required=True, help="clip cache folder (e.g. the study's)")
    ap.add_argument("--image-size", type=int, default=112)
    ap.add_argument("--variants", default="", help="prompt generators to train, e.g. 1,1c,2c,4c")
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--backbone", default="vit_tiny_patch16_224")
    ap.add_argument("--weights", default="none", help="backbone weights: auto | timm | none | FILE")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if not args.data.is_dir():
        print(f"error: --data {args.data}: no such benchmark folder", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    dyn, mot, y, subjects, classes = load(args.data, args.cache, args.image_size, 20.0)
    _, mot0, _, _, _ = load(args.data, args.cache, args.image_size, 0.0)
    chance = 1 / len(classes)
    print(f"{args.data.name}: {len(y)} clips, {len(set(subjects))} subjects, {len(classes)} classes "
          f"(chance {chance:.2f}); {args.image_size} px")
    lin, base = linear_probe(mot, y, subjects, len(classes)), linear_probe(mot0, y, subjects, len(classes))
    print(f"linear probe on the 14x14 motion-std map, LOSO: Acc {lin['acc']:.3f} UF1 {lin['uf1']:.3f} "
          f"(baseline without magnification: Acc {base['acc']:.3f} UF1 {base['uf1']:.3f})")
    for v in [v.strip() for v in args.variants.split(",") if v.strip()]:
        t0 = time.perf_counter()
        s, losses = mpt_variant(v, dyn, mot, y, subjects, classes, args)
        print(f"MPT prompt grid {v.rstrip('c')}{' centred' if v.endswith('c') else ''}, first {args.folds} folds: "
              f"Acc {s['acc']:.3f} UF1 {s['uf1']:.3f}; final train loss per fold "
              f"{' '.join(f'{x:.2f}' for x in losses)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
