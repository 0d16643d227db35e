"""bench/paper_tables.py: which runs the tables need, shared runs, and the tables it writes (no training)."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pt():
    spec = importlib.util.spec_from_file_location("paper_tables", ROOT / "bench" / "paper_tables.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["paper_tables"] = mod      # dataclasses look their module up there
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop("paper_tables", None)


def test_options_last_wins_and_flags(pt):
    assert pt.options(["--alpha", "0", "--no-prompts", "--alpha=10", "--adapter", "none"]) == {
        "--alpha": "10", "--no-prompts": None, "--adapter": "none"}
    with pytest.raises(SystemExit, match="expected an --option"):
        pt.options(["alpha", "0"])


def test_rows_that_change_nothing_share_the_base_run(pt):
    common = pt.options(["--backbone", "vit_small_patch14_dinov2", "--backbone-weights", "auto", "--epochs", "3"])
    rows = {r.key: r for t in pt.TABLES for r in t.rows}
    assert pt.run_name(common, rows["mpt"]) == pt.run_name(common, rows["K=5"]) == "base"
    assert pt.run_name(common, rows["dinov2"]) == "base"           # the row asks for what the settings give
    assert pt.run_name(common, rows["linear"]) == pt.run_name(common, rows["head"]) == "adapter-none_no-prompts"
    assert pt.run_name(common, rows["scratch"]) == "adapter-none_backbone-weights-none_finetune_no-prompts"
    names = {pt.run_name(common, r) for r in rows.values()}
    assert len(names) == len({tuple(sorted({**common, **pt.options(list(r.args))}.items())) for r in rows.values()})


def test_tables_cover_the_papers_ablations(pt):
    assert [t.number for t in pt.TABLES] == [6, 7, 8, 9, 10, 11]
    args = {a for t in pt.TABLES for r in t.rows for a in r.args}
    assert {"--finetune", "--vpt", "--prompts", "--reduction", "--alpha", "--backbone", "--adapter",
            "--no-prompts"} <= args


def test_tables_written_with_failures_and_paper_figures(pt, tmp_path, monkeypatch):
    """Every run is faked: finished runs give figures, a failing one its error; the paper's figures
    come from the figures file, n/v where it has none; the arguments after -- are remembered."""
    data = tmp_path / "data"
    data.mkdir()
    figures = tmp_path / "figures.json"
    figures.write_text(json.dumps({"casme2": {"8": {"K=3": {"acc": 0.71, "uf1": 0.65}}}}))
    calls = []

    def fake(cmd, run_dir, log):
        calls.append(cmd)
        if "--backbone-weights" in cmd and cmd[cmd.index("--backbone-weights") + 1] == "timm":
            return {"error": "exit 2: error: could not fetch pretrained weights"}
        k = cmd.count("--prompts") and int(cmd[cmd.index("--prompts") + 1])
        return {"acc": 0.5 + 0.01 * k, "uf1": 0.4, "uar": 0.45, "n": 30, "train_seconds": 1.0,
                "config": {"model": {"trainable_parameters": 1_500_000}}}

    monkeypatch.setattr(pt, "run_one", fake)
    out = tmp_path / "out"
    base = ["--dataset", "casme2", "--data", str(data), "--out", str(out), "--paper-figures", str(figures)]
    assert pt.main([*base, "--tables", "8,11", "--", "--epochs", "2"]) == 0
    assert len(calls) == 4 + 4            # K 1, 3, 5 (the preset itself), 7; four backbones
    assert all(c[c.index("--preset") + 1] == "paper" and c[c.index("--epochs") + 1] == "2" for c in calls)
    with open(out / "table8.csv", newline="") as fh:
        rows = {r["row"]: r for r in csv.DictReader(fh)}
    assert rows["K=3"]["acc"] == "0.5300" and rows["K=3"]["paper_acc"] == "0.7100" and rows["K=1"]["paper_acc"] == ""
    assert rows["K=5"]["run"] == "base" and rows["K=5"]["trainable_M"] == "1.5000"
    md = (out / "table11.md").read_text()
    assert "Table XI" in md and "could not fetch pretrained weights" in md and "n/v" in md
    assert (out / "tables.md").read_text().count("### Table") == 2
    with pytest.raises(SystemExit, match="other settings"):
        pt.main([*base, "--tables", "8", "--", "--epochs", "3"])
    with pytest.raises(SystemExit):
        pt.main([*base, "--tables", "5"])


def test_report_alone_uses_the_settings_the_folder_was_made_with(pt, tmp_path, monkeypatch):
    """--report with nothing after -- builds the tables of a folder made with settings after -- (it was refused
    as 'made with other settings'), naming those settings; other settings after -- are still refused."""
    monkeypatch.setattr(pt, "run_one", lambda *a: pytest.fail("--report trained"))
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    (out / "runs" / "base").mkdir(parents=True)
    (out / "runs" / "base" / "metrics.json").write_text(json.dumps({"acc": 0.6, "uf1": 0.5, "uar": 0.55, "n": 40}))
    made = ["--epochs", "2", "--image-size", "32"]
    (out / "settings.json").write_text(json.dumps({"dataset": "casme2", "data": str(data.resolve()),
                                                   "mpt_train_args": made}))
    base = ["--dataset", "casme2", "--data", str(data), "--out", str(out), "--tables", "8", "--report"]
    assert pt.main(base) == 0
    with open(out / "table8.csv", newline="") as fh:
        rows = {r["row"]: r for r in csv.DictReader(fh)}
    assert rows["K=5"]["status"] == "done" and rows["K=5"]["acc"] == "0.6000"
    assert "--epochs 2 --image-size 32" in (out / "table8.md").read_text()
    assert json.loads((out / "settings.json").read_text())["mpt_train_args"] == made
    with pytest.raises(SystemExit, match="other settings"):
        pt.main([*base, "--", "--epochs", "3"])


def test_failed_run_recorded_and_reported_without_training(pt, tmp_path):
    """A failing mpt-train leaves RUN/failed.json with the gist of its one-line error; --report builds
    the tables from what the runs left (metrics or failures) and trains nothing."""
    run_dir, log = tmp_path / "out" / "runs" / "prompts-1", tmp_path / "out" / "logs" / "prompts-1.log"
    fail = [sys.executable, "-c", "import sys; print('error: --backbone x: could not fetch "
            "pretrained weights for x (OSError: offline)'); sys.exit(2)"]
    m = pt.run_one(fail, run_dir, log)
    assert m == pt.recorded(run_dir) == {
        "error": "failed (exit 2, logs/prompts-1.log): --backbone x: could not fetch pretrained weights for x"}
    base = tmp_path / "out" / "runs" / "base"
    base.mkdir(parents=True)
    (base / "metrics.json").write_text(json.dumps({"acc": 0.6, "uf1": 0.5, "uar": 0.55, "n": 40}))
    data = tmp_path / "data"
    data.mkdir()
    assert pt.main(["--dataset", "casme2", "--data", str(data), "--out", str(tmp_path / "out"), "--tables", "8",
                    "--report"]) == 0
    with open(tmp_path / "out" / "table8.csv", newline="") as fh:
        rows = {r["row"]: r for r in csv.DictReader(fh)}
    assert rows["K=5"]["acc"] == "0.6000" and rows["K=5"]["status"] == "done"
    assert rows["K=1"]["status"].startswith("failed (exit 2") and rows["K=3"]["status"] == "not run"
    assert not (tmp_path / "out" / "runs" / "prompts-3").exists()          # nothing was trained
