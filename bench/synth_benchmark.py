"""Issue-3 study on the semi-synthetic ME benchmark: MPT vs its ablations, and an amplitude sweep.

    python bench/synth_benchmark.py --out runs/synth-bench                      # the whole study
    python bench/synth_benchmark.py --out runs/synth-bench --configs mpt,no-mag # some runs only
    python bench/synth_benchmark.py --out runs/synth-bench --report             # table from results
    python bench/synth_benchmark.py --out runs/synth-select --curve             # pick epochs/lr

Steps: ``mpt-synth`` writes one benchmark per amplitude (CASME II layout, real faces from
../shared/data/faces), then ``mpt-train`` runs LOSO for each configuration, one after the other,
each logging to ``OUT/logs/<run>.log``. Rerunning the same command resumes: a finished benchmark
is reused, finished runs are skipped and a killed LOSO run resumes at its first unfinished fold.
All runs share one clip cache (``OUT/cache``; entries are keyed by the ClipSpec, so alpha 0 gets
its own entries). Writes ``OUT/results.json`` and ``OUT/results.md`` and prints the table.

Runs (every one LOSO, pooled Acc/UF1/UAR; the 1x amplitude point of the sweep *is* the ``mpt`` run):

* ``mpt``            MPT: alpha 20, motion prompts, group adapter, default amplitude
* ``no-mag``         ablation: no magnification (``--alpha 0``)
* ``no-prompts``     ablation: no motion prompts (``--no-prompts``)
* ``plain-adapter``  ablation: one shared adapter instead of the group adapter (``--adapter plain``)
* ``amp-0.5x``, ``amp-2x``  MPT on benchmarks generated at 0.5x / 2x the default amplitude
* ``no-mag-2x``, ``no-prompts-2x``, ``plain-adapter-2x``  the three ablations again on the 2x
  benchmark, compared with ``amp-2x`` (at the default amplitude a random-init backbone stays near
  chance, so the 1x comparison alone says little)
* ``no-adapter``     (not in the default set) no adapter at all (``--adapter none``)

``--curve`` is the selection step, meant to be run *before* the study and on a benchmark of a
different seed: it trains MPT on the first ``--curve-folds`` LOSO folds of that benchmark and
prints held-out Acc/UF1 after every epoch, for each ``--curve-lrs`` value. The study's test folds
never see it. The backbone is randomly initialised (no pretrained weights can be fetched here).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mpt_live.writers import write_json

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FACES = ROOT.parent / "shared" / "data" / "faces"
DEFAULT_AMPLITUDE = 1.5  # mpt-synth's default apex displacement (px for a 200-px-wide face)

# name -> (what it is, amplitude scale, extra mpt-train arguments)
RUNS: dict[str, tuple[str, float, list[str]]] = {
    "mpt": ("MPT (alpha 20, motion prompts, group adapter)", 1.0, []),
    "no-mag": ("ablation: no magnification (alpha 0)", 1.0, ["--alpha", "0"]),
    "no-prompts": ("ablation: no motion prompts", 1.0, ["--no-prompts"]),
    "plain-adapter": ("ablation: plain adapter instead of group adapter", 1.0, ["--adapter", "plain"]),
    "amp-0.5x": ("MPT, amplitude 0.5x", 0.5, []),
    "amp-2x": ("MPT, amplitude 2x", 2.0, []),
    "no-mag-2x": ("ablation at 2x amplitude: no magnification (alpha 0)", 2.0, ["--alpha", "0"]),
    "no-prompts-2x": ("ablation at 2x amplitude: no motion prompts", 2.0, ["--no-prompts"]),
    "plain-adapter-2x": ("ablation at 2x amplitude: plain adapter", 2.0, ["--adapter", "plain"]),
    "no-adapter": ("ablation: no adapter at all", 1.0, ["--adapter", "none"]),
    "paper-prompts": ("MPT with the paper's prompt generator (global pool of the magnified frames)", 1.0,
                      ["--prompt-grid", "1", "--prompt-input", "frames"]),
}
DEFAULT_RUNS = ["mpt", "no-mag", "no-prompts", "plain-adapter", "amp-0.5x", "amp-2x",
                "no-mag-2x", "no-prompts-2x", "plain-adapter-2x"]
# ablation run -> the MPT run it is compared with (same benchmark)
ABLATIONS = {"no-mag": "mpt", "no-prompts": "mpt", "plain-adapter": "mpt", "no-adapter": "mpt",
             "paper-prompts": "mpt",
             "no-mag-2x": "amp-2x", "no-prompts-2x": "amp-2x", "plain-adapter-2x": "amp-2x"}


def _tool(name: str, module: str) -> list[str]:
    """The console script next to this interpreter, else ``python -m module``."""
    exe = Path(sys.executable).parent / name
    return [str(exe)] if exe.exists() else ([shutil.which(name)] if shutil.which(name)
                                            else [sys.executable, "-m", module])


def _show(cmd: list[str]) -> str:
    """A command as a user would type it (console-script name, not its absolute path)."""
    head = Path(cmd[0]).name if Path(cmd[0]).name.startswith("mpt-") else cmd[0]
    return " ".join(shlex.quote(c) for c in [head, *cmd[1:]])


def _run_logged(cmd: list[str], log: Path) -> float:
    """Run ``cmd`` with stdout/stderr appended to ``log``; returns wall seconds; raises on failure."""
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with open(log, "a") as fh:
        fh.write(f"\n$ {_show(cmd)}\n")
        fh.flush()
        env = {**os.environ, "COLUMNS": "120"}
        rc = subprocess.call(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    wall = time.perf_counter() - t0
    if rc != 0:
        raise SystemExit(f"failed (exit {rc}) after {wall:.0f} s: {_show(cmd)}\n  see {log}")
    return wall


class Timings:
    """OUT/timings.json: wall seconds per step, accumulated over resumed invocations."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}

    def add(self, key: str, seconds: float) -> None:
        e = self.data.setdefault(key, {"wall_seconds": 0.0, "invocations": 0})
        e["wall_seconds"] += seconds
        e["invocations"] += 1
        write_json(self.path, self.data)

    def get(self, key: str) -> float | None:
        return self.data.get(key, {}).get("wall_seconds")


def bench_dir(out: Path, args: argparse.Namespace, amplitude: float, seed: int) -> Path:
    return out / "data" / f"synth-amp{amplitude:g}-seed{seed}-sub{args.subjects}-cpc{args.clips_per_class}"


def synth_cmd(args: argparse.Namespace, root: Path, amplitude: float, seed: int) -> list[str]:
    return [*_tool("mpt-synth", "train.synth_cli"), "--faces", str(args.faces), "--out", str(root),
            "--subjects", str(args.subjects), "--clips-per-class", str(args.clips_per_class),
            "--amplitude", f"{amplitude:g}", "--seed", str(seed)]


def ensure_benchmark(args: argparse.Namespace, out: Path, amplitude: float, seed: int,
                     timings: Timings, dry: bool) -> tuple[Path, list[str]]:
    root = bench_dir(out, args, amplitude, seed)
    cmd = synth_cmd(args, root, amplitude, seed)
    if dry or (root / "synth.json").exists():  # dry run / report: never generate
        return root, cmd
    if root.exists():  # an interrupted generation: start it again
        shutil.rmtree(root)
    print(f"generating {root.name} ...", flush=True)
    wall = _run_logged(cmd, out / "logs" / f"synth-{root.name}.log")
    timings.add(f"synth:{root.name}", wall)
    print(f"  {wall:.0f} s", flush=True)
    return root, cmd


def train_cmd(args: argparse.Namespace, data: Path, run_dir: Path, extra: list[str]) -> list[str]:
    return [*_tool("mpt-train", "train.cli"), "--dataset", "casme2", "--data", str(data),
            "--out", str(run_dir), "--backbone", args.backbone, "--image-size", str(args.image_size),
            "--frames", str(args.frames), "--epochs", str(args.epochs), "--batch-size",
            str(args.batch_size), "--lr", f"{args.lr:g}", "--seed", str(args.train_seed),
            "--threads", str(args.threads), "--cache", str(args.cache), *extra]


# ---------------------------------------------------------------- the study
def run_study(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    timings = Timings(out / "timings.json")
    rows: list[dict[str, Any]] = []
    shown: set[str] = set()
    for name in args.configs:
        what, scale, extra = RUNS[name]
        amplitude = args.amplitude * scale
        data, scmd = ensure_benchmark(args, out, amplitude, args.seed, timings,
                                      args.dry_run or args.report)
        run_dir = out / "runs" / name
        cmd = train_cmd(args, data, run_dir, extra)
        row: dict[str, Any] = {"run": name, "what": what, "amplitude_px": amplitude,
                               "amplitude_scale": scale, "synth_command": _show(scmd),
                               "command": _show(cmd)}
        if args.dry_run:
            if row["synth_command"] not in shown:
                print(row["synth_command"])
                shown.add(row["synth_command"])
            print(row["command"])
            continue
        metrics_path = run_dir / "metrics.json"
        if not metrics_path.exists() and not args.report:
            print(f"[{time.strftime('%H:%M:%S')}] {name}: {what} -> {run_dir}", flush=True)
            wall = _run_logged(cmd, out / "logs" / f"{name}.log")
            timings.add(f"train:{name}", wall)
        if metrics_path.exists():
            m = json.loads(metrics_path.read_text())
            cfg = m["config"]
            want = {"epochs": args.epochs, "lr": args.lr, "backbone": args.backbone,
                    "image_size": args.image_size, "frames": args.frames,
                    "batch_size": args.batch_size, "seed": args.train_seed}
            diff = {key: (cfg.get(key), v) for key, v in want.items() if cfg.get(key) != v}
            if diff:
                raise SystemExit(f"{run_dir}: finished with other settings {diff} (found, asked); "
                                 "use another --out or the same settings")
            k = round(m["acc"] * m["n"])
            row["acc_ci95"] = [round(v, 3) for v in _wilson(k, m["n"])]
            row.update(acc=m["acc"], uf1=m["uf1"], uar=m["uar"], n=m["n"],
                       train_seconds=m["train_seconds"], wall_seconds=timings.get(f"train:{name}"),
                       alpha=cfg["alpha"], prompts=cfg["prompts"], adapter=cfg["adapter"],
                       epochs=cfg["epochs"], lr=cfg["lr"],
                       trainable_parameters=cfg.get("model", {}).get("trainable_parameters"),
                       gflops_per_clip=cfg.get("model", {}).get("gflops_per_clip"),
                       folds=m["folds"], confusion=m["confusion"], classes=m["classes"],
                       dropped_clips=m.get("dropped_clips", []))
            print(f"[{time.strftime('%H:%M:%S')}] {name}: Acc {m['acc']:.3f} UF1 {m['uf1']:.3f} "
                  f"UAR {m['uar']:.3f} (train {m['train_seconds']:.0f} s)", flush=True)
        rows.append(row)
    if args.dry_run:
        return {}
    result = {
        "study": "issue 3: MPT vs ablations and amplitude sweep on the semi-synthetic benchmark",
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                     if k not in ("dry_run", "report", "curve")},
        "backbone_init": "random (no pretrained weights can be fetched here); not comparable "
                         "with the paper's ImageNet-pretrained figures",
        "machine": _machine(args.threads),
        "synth_seconds": {k: v["wall_seconds"] for k, v in timings.data.items() if k.startswith("synth:")},
        "runs": rows,
        "mpt_vs_ablations": _compare(rows, out),
    }
    write_json(out / "results.json", result)
    md = results_markdown(result)
    (out / "results.md").write_text(md)
    print()
    print(md)
    return result


def _machine(threads: int) -> dict[str, Any]:
    import torch

    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch": torch.__version__, "torch_threads": threads,
            "python": platform.python_version(),
            "load_average_at_end": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def _correct(run_dir: Path) -> dict[str, bool]:
    """clip -> whether the run predicted it right (from predictions.csv)."""
    import csv

    with open(run_dir / "predictions.csv", newline="") as fh:
        return {f"{r['subject']}/{r['clip_id']}": r["label"] == r["pred"] for r in csv.DictReader(fh)}


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson interval of a proportion k/n."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return (c - h, c + h)


def _compare(rows: list[dict[str, Any]], out_dir: Path) -> dict[str, Any]:
    """MPT minus each ablation on the same benchmark (1x ablations vs ``mpt``, 2x vs ``amp-2x``),
    with an exact McNemar test on the paired per-clip correctness (same clips, same folds)."""
    from scipy.stats import binomtest

    by = {r["run"]: r for r in rows if "uf1" in r}
    out: dict[str, Any] = {}
    for a, ref_name in ABLATIONS.items():
        if a not in by or ref_name not in by:
            continue
        ref = by[ref_name]
        d: dict[str, Any] = {k: round(ref[k] - by[a][k], 4) for k in ("acc", "uf1", "uar")}
        d |= {"vs": ref_name, "mpt_beats_on_uf1": ref["uf1"] > by[a]["uf1"],
              "mpt_beats_on_all": all(ref[k] > by[a][k] for k in ("acc", "uf1", "uar"))}
        m, x = _correct(out_dir / "runs" / ref_name), _correct(out_dir / "runs" / a)
        common = sorted(set(m) & set(x))
        only_mpt = sum(m[c] and not x[c] for c in common)
        only_abl = sum(x[c] and not m[c] for c in common)
        d |= {"only_mpt_right": only_mpt, "only_ablation_right": only_abl,
              "mcnemar_p": (binomtest(only_mpt, only_mpt + only_abl).pvalue
                            if only_mpt + only_abl else 1.0)}
        out[a] = d
    return out


def results_markdown(result: dict[str, Any]) -> str:
    s = result["settings"]
    lines = [
        f"Semi-synthetic benchmark: {s['subjects']} subjects x 5 classes x {s['clips_per_class']} clips "
        f"(seed {s['seed']}); LOSO, pooled over folds. {s['backbone']} at {s['image_size']} px, "
        f"{s['frames']} frames, **random-init frozen backbone**; {s['epochs']} epochs, Adam lr {s['lr']:g}, "
        f"batch {s['batch_size']}, {s['threads']} torch thread(s).",
        "",
        "| run | what | amplitude px | Acc | Acc 95% CI | UF1 | UAR | train s | wall s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["runs"]:
        if "uf1" not in r:
            lines.append(f"| {r['run']} | {r['what']} | {r['amplitude_px']:g} | - | - | - | - | - | - |")
            continue
        wall = f"{r['wall_seconds']:.0f}" if r.get("wall_seconds") else "-"
        lo, hi = r["acc_ci95"]
        lines.append(f"| {r['run']} | {r['what']} | {r['amplitude_px']:g} | {r['acc']:.3f} | "
                     f"{lo:.2f}-{hi:.2f} | {r['uf1']:.3f} | {r['uar']:.3f} | "
                     f"{r['train_seconds']:.0f} | {wall} |")
    cmp_ = result.get("mpt_vs_ablations") or {}
    if cmp_:
        lines += ["", "MPT minus ablation on the same benchmark (positive = MPT better):", ""]
        for a, d in cmp_.items():
            verdict = "MPT better on all three" if d["mpt_beats_on_all"] else (
                "MPT better on UF1" if d["mpt_beats_on_uf1"] else "**ablation not beaten**")
            lines.append(f"- {a} vs {d['vs']}: Acc {d['acc']:+.3f}, UF1 {d['uf1']:+.3f}, "
                         f"UAR {d['uar']:+.3f} ({verdict}; clips only MPT / only the ablation got "
                         f"right: {d['only_mpt_right']} / {d['only_ablation_right']}, exact McNemar "
                         f"p = {d['mcnemar_p']:.2f})")
    lines += ["", "Chance is 0.200 (5 balanced classes). Acc 95% CI: Wilson interval over the pooled "
              "clips. train s: sum of the folds' training time (mpt-train); wall s: the whole "
              "mpt-train command (clip preprocessing, model summary, training, prediction)."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the selection curve
def run_curve(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Held-out Acc/UF1 after every epoch, first ``curve_folds`` LOSO folds of a benchmark of seed
    ``curve_seed`` (not the study's), for each learning rate: the basis for choosing epochs/lr."""
    import numpy as np
    import torch

    from train.datasets import load_dataset, natural_key
    from mpt_live.clip import ClipSpec
    from train.config import TrainConfig
    from train.fitting import CachedClips, build_model, make_cache, precompute, seed_everything
    from train.metrics import summarize

    torch.set_num_threads(args.threads)
    timings = Timings(out / "timings.json")
    data, _ = ensure_benchmark(args, out, args.amplitude, args.curve_seed, timings, False)
    index = load_dataset("casme2", data)
    classes = list(index.classes)
    cidx = {c: i for i, c in enumerate(classes)}
    report: dict[str, Any] = {"benchmark": str(data), "curve_seed": args.curve_seed,
                              "amplitude_px": args.amplitude, "lrs": {}}
    for lr in args.curve_lrs:
        cfg = TrainConfig(dataset="casme2", data=str(data), backbone=args.backbone, backbone_weights="none",
                          spec=ClipSpec(image_size=args.image_size, frames=args.frames), epochs=args.curve_epochs,
                          batch_size=args.batch_size, lr=lr, seed=args.train_seed,
                          cache=str(args.cache))
        cache = make_cache(cfg, out)
        samples = precompute(cache, list(index.samples), [0], 0, False, print)
        labels = [cidx[s.label] for s in samples]
        subjects = sorted({s.subject for s in samples}, key=natural_key)[: args.curve_folds]
        y_true: list[int] = []
        preds: list[list[int]] = [[] for _ in range(cfg.epochs)]
        losses = np.zeros(cfg.epochs)
        t0 = time.perf_counter()
        for k, subject in enumerate(subjects):
            tr = [i for i, s in enumerate(samples) if s.subject != subject]
            te = [i for i, s in enumerate(samples) if s.subject == subject]
            seed_everything(cfg.seed)
            model = build_model(cfg, len(classes))
            opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
            train_set = CachedClips([samples[i] for i in tr], [labels[i] for i in tr], cache, [0])
            test_set = CachedClips([samples[i] for i in te], [labels[i] for i in te], cache, [0])
            gen = torch.Generator().manual_seed(cfg.seed * 1000 + k)
            loader = torch.utils.data.DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True,
                                                 generator=gen)
            test_loader = torch.utils.data.DataLoader(test_set, batch_size=cfg.batch_size)
            y_true += test_set.labels
            for e in range(cfg.epochs):
                model.train()
                tot = 0.0
                for d, m, y in loader:
                    loss = torch.nn.functional.cross_entropy(model(d, m), y)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    tot += float(loss.detach()) * len(y)
                losses[e] += tot / len(train_set) / len(subjects)
                model.eval()
                with torch.no_grad():
                    preds[e] += [int(p) for d, m, _ in test_loader for p in model(d, m).argmax(1)]
            print(f"  lr {lr:g}: fold {subject} done ({time.perf_counter() - t0:.0f} s)", flush=True)
        rows = []
        for e in range(cfg.epochs):
            s = summarize(y_true, preds[e], len(classes))
            rows.append({"epoch": e + 1, "loss": round(float(losses[e]), 4), "acc": s["acc"],
                         "uf1": s["uf1"], "uar": s["uar"]})
        report["lrs"][f"{lr:g}"] = {"rows": rows, "folds": subjects,
                                     "seconds": time.perf_counter() - t0}
        print(f"\nlr {lr:g}, folds {', '.join(subjects)} of {data.name} (held-out, pooled):")
        print("epoch  train-loss  Acc    UF1    UAR")
        for r in rows:
            print(f"{r['epoch']:5d}  {r['loss']:10.4f}  {r['acc']:.3f}  {r['uf1']:.3f}  {r['uar']:.3f}")
    write_json(out / f"curve-amp{args.amplitude:g}.json", report)
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--out", type=Path, required=True, help="study directory (benchmarks, runs, results)")
    p.add_argument("--configs", default=",".join(DEFAULT_RUNS),
                   help=f"comma-separated runs out of {', '.join(RUNS)} (default: %(default)s)")
    p.add_argument("--faces", type=Path, default=DEFAULT_FACES, help="real face media for mpt-synth")
    p.add_argument("--subjects", type=int, default=8, help="benchmark subjects (>= 8 for the study)")
    p.add_argument("--clips-per-class", type=int, default=3, help="clips per class per subject")
    p.add_argument("--amplitude", type=float, default=DEFAULT_AMPLITUDE,
                   help="default (1x) amplitude in px; the sweep scales it")
    p.add_argument("--seed", type=int, default=0, help="benchmark seed of the study")
    p.add_argument("--backbone", default="vit_tiny_patch16_224")
    p.add_argument("--image-size", type=int, default=112)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--train-seed", type=int, default=0, help="mpt-train --seed")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per run")
    p.add_argument("--cache", type=Path, default=None, help="clip cache (default: OUT/cache)")
    p.add_argument("--dry-run", action="store_true", help="print the commands only")
    p.add_argument("--report", action="store_true", help="no training: table from finished runs")
    p.add_argument("--curve", action="store_true", help="selection step (see below) instead of the study")
    p.add_argument("--curve-seed", type=int, default=1, help="benchmark seed of the selection step")
    p.add_argument("--curve-folds", type=int, default=3)
    p.add_argument("--curve-epochs", type=int, default=40)
    p.add_argument("--curve-lrs", default="3e-4,1e-3", help="comma-separated learning rates")
    args = p.parse_args(argv)
    args.out = args.out.resolve()
    args.faces = args.faces.resolve()
    args.cache = (args.cache or args.out / "cache").resolve()
    args.configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    args.curve_lrs = [float(x) for x in args.curve_lrs.split(",") if x.strip()]
    unknown = [c for c in args.configs if c not in RUNS]
    if unknown:
        p.error(f"unknown run(s) {', '.join(unknown)}; choose from {', '.join(RUNS)}")
    if args.subjects < 8:
        print(f"note: --subjects {args.subjects} (< 8): below the issue's minimum for the study",
              file=sys.stderr)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if args.curve:
        run_curve(args, args.out)
    else:
        run_study(args, args.out)
    print(f"\n({time.perf_counter() - t0:.0f} s this invocation; {args.out})")


if __name__ == "__main__":
    main()
