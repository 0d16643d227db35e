"""Recognition on people the model has not seen: mpt-train's defaults vs a linear probe and the ablations.

    python bench/recognition.py --faces PHOTOS --out runs/recognition           # the whole study
    python bench/recognition.py --faces PHOTOS --out runs/recognition --runs default,no-mag
    python bench/recognition.py --out runs/recognition --report                 # table from finished runs

Steps, one command, resumable (a finished benchmark or run is reused, a killed LOSO run resumes):

1. ``mpt-synth`` writes a semi-synthetic benchmark from ``--faces`` (use photos of people who are
   *not* in the training data of anything you compare with; default 4 subjects x 5 classes x 6
   clips, amplitude 2 px, seed 7);
2. the linear probe: LOSO, L2-regularised logistic regression on a 14 x 14 map of each clip's
   per-pixel temporal standard deviation of the magnified frames (the model's own motion input: the
   clip spec of mpt-train's defaults, alignment included), the same probe without magnification, and
   the map beside each cell's signed displacement (the prompt generator's two inputs, ``probe-flow``),
   from the same clip cache;
3. ``mpt-train`` LOSO for every run of ``--runs``: ``default`` is mpt-train with no options but
   ``--image-size`` and ``--epochs``; the others add one change each (``RUNS``). ``NAME@S`` is run
   ``NAME`` with training seed ``S`` (``mpt-train --seed S``; plain ``NAME`` is seed 0): the seed alone
   moves held-out UF1 by about 0.1 here, so compare candidates over several seeds
   (``--runs default@1,default@2,swa-5,swa-5@1,swa-5@2``);
4. a table (Markdown + JSON): pooled Acc / UF1 / UAR with a Wilson interval, and each run against
   ``default`` with an exact McNemar test on the paired per-clip correctness; below it, for every
   run with more than one seed, its UF1 per seed and their mean.

Prints the CPU's vector extensions beside the figures (training time depends on them).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from console_scripts import run_logged, show, tool
from paired import mcnemar, split_run
from mpt_live.machine import vector_extensions
from mpt_live.writers import write_json

ROOT = Path(__file__).resolve().parents[1]

# name -> (what it is, extra mpt-train arguments)
RUNS: dict[str, tuple[str, list[str]]] = {
    "default": ("mpt-train defaults (pretrained backbone, eyes-and-mouth alignment, motion-energy and "
                "signed-displacement prompts scaled by the median face cell, 16 prompt channels, group adapter, head on "
                "[CLS] and the prompt tokens)", []),
    "no-mag": ("ablation: no magnification (alpha 0)", ["--alpha", "0"]),
    "alpha-5": ("magnification: alpha 5 instead of the default 10", ["--alpha", "5"]),
    "alpha-10": ("magnification: alpha 10 (the default since 2026-12-04; before, the paper's 20)", ["--alpha", "10"]),
    "alpha-20": ("magnification: the paper's alpha 20 (the default until 2026-12-04)", ["--alpha", "20"]),
    "no-prompts": ("ablation: no motion prompts", ["--no-prompts"]),
    "plain-adapter": ("ablation: one shared adapter instead of the group adapter", ["--adapter", "plain"]),
    "group-r24": ("the group adapter with the plain adapter's size: r = 24 (three branches of D/24 = one of D/8), "
                  "prompt features kept at D/8", ["--reduction", "24", "--prompt-channels", "48"]),
    "paper-prompts": ("the paper's prompt generator (GELU(conv), global pool of the magnified frames)",
                      ["--prompt-grid", "1", "--prompt-input", "frames"]),
    "grid4-motion": ("the issue-3 generator (GELU(conv) of centred motion, 4x4 grid)",
                     ["--prompt-grid", "4", "--prompt-input", "motion"]),
    "flow": ("motion direction: energy + signed per-cell displacement (train.cellflow; the default since "
             "2026-12-03)", ["--prompt-input", "flow"]),
    "energy": ("motion energy alone, no signed displacement (--prompt-input energy; the default until 2026-12-03)",
               ["--prompt-input", "energy"]),
    "cosine": ("recipe: learning rate decayed to 0 along a cosine", ["--lr-schedule", "cosine"]),
    "pose": ("augmentation: also roll, squeeze and a yaw-like bend of whole clips (strength 1)",
             ["--augment-pose", "1"]),
    "epochs-5": ("recipe: 5 epochs instead of 10 (less time to fit the training people)", ["--epochs", "5"]),
    "epochs-20": ("recipe: 20 epochs instead of 10", ["--epochs", "20"]),
    "pose-0.3": ("augmentation: roll, squeeze and yaw-like bend at strength 0.3", ["--augment-pose", "0.3"]),
    "photo": ("augmentation: contrast, blur and per-frame noise of whole clips (strength 1)",
              ["--augment-photo", "1"]),
    "no-augment": ("recipe: no augmentation", ["--no-augment"]),
    "random-init": ("random-init backbone (--backbone-weights none)", ["--backbone-weights", "none"]),
    "swa-5": ("recipe: the mean of the weights after each of the last 5 epochs (stochastic weight averaging)",
              ["--average-epochs", "5"]),
    "align-eyes": ("alignment: a similarity from the eyes alone (--align eyes; the default until 2026-12-03)",
                   ["--align", "eyes"]),
    "former-default": ("the defaults until 2026-12-04: the head on [CLS] alone, signed displacement at gain 1 "
                       "scaled by its RMS over the clip, D/8 prompt channels, alpha 20",
                       ["--head", "cls", "--flow-gain", "1", "--flow-norm", "rms", "--prompt-channels", "0",
                        "--alpha", "20"]),
    "rms-48": ("the defaults of 2026-12-04 before the median scale: displacement scaled by its RMS over the clip, "
               "D/8 prompt channels (48 with ViT-S), alpha 20",
               ["--flow-norm", "rms", "--prompt-channels", "0", "--alpha", "20"]),
    "cls-head": ("the head on [CLS] alone (the paper's head; the default until 2026-12-04)", ["--head", "cls"]),
    "gain-1": ("signed displacement at gain 1 beside the energy (the default until 2026-12-04)",
               ["--flow-gain", "1"]),
    "channels-48": ("the prompt generator's filter bank at D/8 channels (48 with ViT-S; the default until "
                    "2026-12-04) instead of 16", ["--prompt-channels", "0"]),
    "rms-scale": ("the signed displacement scaled by its RMS over the whole clip (the default until 2026-12-04) "
                  "instead of by the median face cell's", ["--flow-norm", "rms"]),
    "probe-head": ("issue 9: the head also reads the linear probe's fixed motion summary (the 14x14 std map and "
                   "the mid-minus-ends signed displacement, train.cellflow.motion_summary) through "
                   "Linear(LayerNorm(summary))", ["--head", "cls+prompts+summary"]),
    "no-adapter": ("ablation: no adapters (motion prompts and head only: nothing trained reads the "
                   "dynamic image's appearance)", ["--adapter", "none"]),
}
DEFAULT_RUNS = ["default", "energy", "align-eyes", "no-mag", "no-prompts", "plain-adapter", "paper-prompts", "grid4-motion", "no-augment"]


def _run_logged(cmd: list[str], log: Path) -> float:
    rc, seconds = run_logged(cmd, log)
    if rc != 0:
        raise SystemExit(f"failed (exit {rc}): {show(cmd)}\n  see {log}")
    return seconds


def benchmark(args: argparse.Namespace) -> Path:
    root = args.out / "data"
    if (root / "synth.json").exists() or args.report:
        return root
    if args.faces is None:
        raise SystemExit("--faces: needed to write the benchmark (a folder of face photos/videos)")
    if root.exists():
        shutil.rmtree(root)
    cmd = [tool("mpt-synth"), "--faces", str(args.faces), "--out", str(root), "--subjects", str(args.subjects),
           "--clips-per-class", str(args.clips_per_class), "--amplitude", f"{args.amplitude:g}",
           "--seed", str(args.seed)]
    print(f"benchmark: {show(cmd)}", flush=True)
    _run_logged(cmd, args.out / "logs" / "synth.log")
    return root


def made_with(data: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The settings the benchmark in ``data`` was written with (from its synth.json): a finished
    benchmark is reused whatever this invocation's options say, so the table names what it holds."""
    try:
        made = json.loads((data / "synth.json").read_text())
        params = made["params"]
        found = {"subjects": params["subjects"], "clips_per_class": params["clips_per_class"],
                 "amplitude": params["amplitude"], "seed": params["seed"], "faces": made["faces_dir"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    differ = [k for k in ("subjects", "clips_per_class", "amplitude", "seed") if found[k] != getattr(args, k)]
    if differ and not args.report:
        given = ", ".join(f"--{k.replace('_', '-')} {found[k]}" for k in differ)
        print(f"note: {data} was written with {given}; it is reused as it is (another --out makes a new benchmark)",
              flush=True)
    return found


def _logistic_loso(f: Any, y: Any, subjects: Any, n_classes: int) -> Any:
    """LOSO predictions of an L2-regularised logistic regression on standardised features ``f``."""
    import numpy as np
    import torch
    from torch import nn

    f = (f - f.mean(0)) / (f.std(0) + 1e-6)
    pred = np.zeros(len(y), int)
    for subject in sorted(set(subjects)):
        tr, te = subjects != subject, subjects == subject
        x, t = torch.from_numpy(f[tr]).float(), torch.from_numpy(y[tr])
        w = torch.zeros(x.shape[1], n_classes, requires_grad=True)
        b = torch.zeros(n_classes, requires_grad=True)
        opt = torch.optim.LBFGS([w, b], max_iter=200)

        def closure():
            opt.zero_grad()
            loss = nn.functional.cross_entropy(x @ w + b, t) + 1e-2 * (w ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        pred[te] = (torch.from_numpy(f[te]).float() @ w + b).argmax(1).numpy()
    return pred


def signed_displacement(motion: Any) -> Any:
    """Per clip ``(N, T, 3, S, S)`` -> the model's own signed prompt input summarised per cell
    ``(N, 2 * 14 * 14)``: :func:`train.cellflow.flow_features` (14 x 14 cells) of the middle third of
    the clip minus that of its first and last fifths (the benchmark's clips run onset..offset, so the
    middle holds the apex); the second part of :func:`train.cellflow.motion_summary`."""
    import torch

    from train.cellflow import motion_summary

    return motion_summary(torch.from_numpy(motion), 14)[:, 14 * 14:].numpy()


def linear_probe(data: Path, args: argparse.Namespace) -> dict[str, Any]:
    """LOSO logistic regression on the 14x14 motion-std map, with and without magnification, and on the
    map beside the signed displacement of each cell (the prompt generator's two inputs)."""
    from dataclasses import replace

    import numpy as np
    import torch

    from train.cellflow import motion_summary
    from train.config import TrainConfig
    from train.datasets import load_dataset
    from train.fitting import make_cache, precompute
    from train.metrics import summarize

    index = load_dataset("casme2", data)
    classes = list(index.classes)
    out = {}
    default = TrainConfig("casme2", str(data)).spec  # the model's own input: mpt-train's default spec
    for name, alpha in (("probe", default.alpha), ("probe-no-mag", 0.0)):
        spec = replace(default, image_size=args.image_size, alpha=alpha)
        cfg = TrainConfig("casme2", str(data), spec=spec, cache=str(args.cache))
        cache = make_cache(cfg, args.out)
        samples = precompute(cache, list(index.samples), [0], 0, False, lambda s: None)
        motion = np.stack([cache.get(s)[1] for s in samples]).astype(np.float32)
        y = np.array([classes.index(s.label) for s in samples])
        subjects = np.array([s.subject for s in samples])
        # the 14x14 std map, and beside it the signed displacement (train.cellflow.motion_summary: the same
        # function computes the model's --head cls+prompts+summary input)
        summary = motion_summary(torch.from_numpy(motion), 14).numpy()
        n = summary.shape[0]
        feats = {name: summary[:, :14 * 14]}
        if name == "probe":
            feats["probe-flow"] = summary
        for key, x in feats.items():
            pred = _logistic_loso(x, y, subjects, len(classes))
            out[key] = summarize(y.tolist(), pred.tolist(), len(classes))
            out[key]["correct"] = {f"{subjects[i]}/{samples[i].clip_id}": bool(pred[i] == y[i]) for i in range(n)}
    return out


def _correct(run_dir: Path) -> dict[str, bool]:
    with open(run_dir / "predictions.csv", newline="") as fh:
        return {f"{r['subject']}/{r['clip_id']}": r["label"] == r["pred"] for r in csv.DictReader(fh)}


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return (c - h, c + h)


def parse_run(name: str) -> tuple[str, int] | None:
    """``NAME`` or ``NAME@S`` -> (a name of RUNS, training seed); None when it is neither."""
    parsed = split_run(name)
    return parsed if parsed is not None and parsed[0] in RUNS else None


def run_mpt(args: argparse.Namespace, data: Path, name: str) -> dict[str, Any] | None:
    base, seed = parse_run(name)
    what, extra = RUNS[base]
    if "@" in name:
        what, extra = f"{what} (training seed {seed})", [*extra, "--seed", str(seed)]
    run_dir = args.out / "runs" / name
    cmd = [tool("mpt-train"), "--dataset", "casme2", "--data", str(data), "--out", str(run_dir),
           "--image-size", str(args.image_size), "--epochs", str(args.epochs), "--threads", str(args.threads),
           "--cache", str(args.cache), *extra]
    if not (run_dir / "metrics.json").exists():
        if args.report:
            return None
        print(f"[{time.strftime('%H:%M:%S')}] {name}: {show(cmd)}", flush=True)
        _run_logged(cmd, args.out / "logs" / f"{name}.log")
    m = json.loads((run_dir / "metrics.json").read_text())
    k = round(m["acc"] * m["n"])
    return {"run": name, "what": what, "command": show(cmd), "acc": m["acc"], "uf1": m["uf1"], "uar": m["uar"],
            "n": m["n"], "acc_ci95": [round(v, 3) for v in _wilson(k, m["n"])], "train_seconds": m["train_seconds"],
            "backbone": m["config"]["backbone"], "weights": m["config"].get("model", {}).get("backbone_source"),
            "trainable_parameters": m["config"].get("model", {}).get("trainable_parameters"),
            "folds": [{k2: f[k2] for k2 in ("subject", "uf1")} for f in m["folds"]],
            "correct": _correct(run_dir)}


def pooled_vs_default(runs: list[dict[str, Any]], base: str) -> str:
    """Run ``base`` against ``default`` over the training seeds both have, each clip of each seed one pair
    (the discordant counts of the seeds summed, then the exact McNemar test)."""
    by = {parse_run(r["run"]): r for r in runs if parse_run(r["run"]) is not None}
    common = sorted(s for b, s in by if b == base and ("default", s) in by)
    if not common:
        return "-"
    a = {f"{s}:{k}": v for s in common for k, v in by[(base, s)]["correct"].items()}
    b = {f"{s}:{k}": v for s in common for k, v in by[("default", s)]["correct"].items()}
    only_a, only_b, p = mcnemar(a, b)
    return f"{only_a} / {only_b}, p = {p:.3f} (seeds {', '.join(map(str, common))})"


def report(result: dict[str, Any]) -> str:
    s = result["settings"]
    lines = [f"Benchmark: {s['subjects']} subjects x 5 classes x {s['clips_per_class']} clips, amplitude "
             f"{s['amplitude']:g} px, seed {s['seed']}, faces {s['faces']}; LOSO pooled; {s['image_size']} px, "
             f"{s['epochs']} epochs. CPU: {result['cpu']}.", "",
             "| run | what | Acc | Acc 95% CI | UF1 | UAR | vs default: only it / only default right, McNemar p |",
             "|---|---|---:|---:|---:|---:|---|"]
    ref = next((r for r in result["runs"] if r["run"] == "default"), None)
    for r in result["runs"]:
        lo, hi = r.get("acc_ci95", (0, 1))
        vs = "-"
        if ref is not None and r is not ref:
            a, b, p = mcnemar(r["correct"], ref["correct"])
            vs = f"{a} / {b}, p = {p:.3f}"
        lines.append(f"| {r['run']} | {r['what']} | {r['acc']:.3f} | {lo:.2f}-{hi:.2f} | {r['uf1']:.3f} | "
                     f"{r['uar']:.3f} | {vs} |")
    seeds: dict[str, dict[int, float]] = {}
    for r in result["runs"]:
        if (parsed := parse_run(r["run"])) is not None:
            seeds.setdefault(parsed[0], {})[parsed[1]] = r["uf1"]
    spread = [(b, v) for b, v in seeds.items() if len(v) > 1]
    if spread:
        lines += ["", "| run | UF1 per training seed | mean UF1 | vs default, same seeds pooled: only it / only "
                  "default right, McNemar p |", "|---|---|---:|---|"]
        for base, v in spread:
            per = ", ".join(f"{v[k]:.3f} (seed {k})" for k in sorted(v))
            vs = "-" if base == "default" else pooled_vs_default(result["runs"], base)
            lines.append(f"| {base} | {per} | {sum(v.values()) / len(v):.3f} | {vs} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--faces", type=Path, help="face photos/videos of people outside the training data")
    p.add_argument("--runs", default=",".join(DEFAULT_RUNS),
                   help=f"out of {', '.join(RUNS)}; NAME@S: NAME with training seed S")
    p.add_argument("--subjects", type=int, default=4)
    p.add_argument("--clips-per-class", type=int, default=6)
    p.add_argument("--amplitude", type=float, default=2.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--image-size", type=int, default=112)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cache", type=Path, help="clip cache (default OUT/cache)")
    p.add_argument("--report", action="store_true", help="no work: the table of what is finished")
    args = p.parse_args(argv)
    args.out = args.out.resolve()
    args.cache = (args.cache or args.out / "cache").resolve()
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    if bad := [r for r in runs if parse_run(r) is None]:
        p.error(f"unknown run(s) {', '.join(bad)}; choose from {', '.join(RUNS)} (NAME@S: training seed S)")
    if args.faces is not None and not args.faces.is_dir():
        p.error(f"--faces {args.faces}: not a folder")
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"CPU: {vector_extensions()}", flush=True)
    data = benchmark(args)
    made = made_with(data, args)  # a reused benchmark is named before any run starts
    rows: list[dict[str, Any]] = []
    if not args.report or (data / "synth.json").exists():
        probes = linear_probe(data, args)
        for name, s in probes.items():
            what = {"probe": "linear probe, 14x14 motion-std map",
                    "probe-no-mag": "linear probe, 14x14 motion-std map, no magnification",
                    "probe-flow": "linear probe, 14x14 motion-std map + signed displacement per cell "
                                  "(both inputs of the prompt generator)"}[name]
            k = round(s["acc"] * s["n"])
            rows.append({"run": name, "what": what, "acc": s["acc"], "uf1": s["uf1"], "uar": s["uar"],
                         "n": s["n"], "acc_ci95": [round(v, 3) for v in _wilson(k, s["n"])],
                         "correct": s["correct"]})
            print(f"{name}: Acc {s['acc']:.3f} UF1 {s['uf1']:.3f} UAR {s['uar']:.3f}", flush=True)
    for name in runs:
        row = run_mpt(args, data, name)
        if row:
            rows.append(row)
            print(f"{name}: Acc {row['acc']:.3f} UF1 {row['uf1']:.3f} UAR {row['uar']:.3f}", flush=True)
    # runs finished by earlier invocations on the same benchmark stay in the table (the default first)
    done = [d.name for d in (args.out / "runs").glob("*") if parse_run(d.name) and (d / "metrics.json").exists()]
    order = lambda n: (n != "default", list(RUNS).index(parse_run(n)[0]), parse_run(n)[1])  # noqa: E731
    for name in sorted(set(done) - set(runs), key=order):
        at = sum(r["run"].startswith("probe") for r in rows) if name == "default" else len(rows)
        rows.insert(at, run_mpt(args, data, name))
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "report"}
    settings.update(made)
    result = {"settings": settings, "cpu": vector_extensions(), "runs": rows}
    write_json(args.out / "results.json", result)
    md = report(result)
    (args.out / "results.md").write_text(md)
    print("\n" + md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
