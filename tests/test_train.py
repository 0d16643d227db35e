"""mpt-train: LOSO learns on an easy semi-synthetic set, resumes, writes its files; one-line errors.

The data are made with ``train.synth`` (real faces from the shared media carrying synthetic
micro-movements in the CASME II layout), made EASY: large amplitude, no head drift, blinks or
flicker, little noise, and two classes whose movements lie far apart on the face (brows up vs
lip corners up). The backbone is timm's 64-dim ``test_vit``, randomly initialised and frozen (no
pretrained weights can be downloaded here): with such a backbone the full 5-class benchmark is far
harder (UF1 about 0.4-0.6 over 3 subjects), so this is a test that the training pipeline learns,
not a measure of MPT.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from mpt_live.clip import ClipSpec
from mpt_live.errors import InputError
from train import fitting, loso, run_guards
from train.classes_left import check_classes
from train.config import TrainConfig, variants
from train.cli import app

EASY_CLASSES = ("surprise", "happiness")
BACKBONE = "test_vit"
# the learning-test settings (also used, with 1 epoch, by the quicker tests)
ARGS = ["--dataset", "casme2", "--backbone", BACKBONE, "--backbone-weights", "none", "--image-size", "96", "--frames", "10",
        "--batch-size", "4", "--lr", "1e-3", "--seed", "0"]
METRICS_KEYS = {"acc", "uf1", "uar", "folds", "confusion", "classes", "config", "train_seconds"}
CKPT_KEYS = {"state_dict", "model_config", "classes", "clip_spec", "clip_mode", "dataset", "protocol",
             "train_config", "metrics", "version"}

runner = CliRunner()


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models train faster on one thread, and far faster on a busy 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def easy(faces_dir, tmp_path_factory) -> tuple[Path, int, Path]:
    """(data root, number of clips, shared clip-cache dir) of the easy 3-subject set."""
    from train.synth import SHEET, SynthConfig, generate, write_sheet

    root = tmp_path_factory.mktemp("easy")
    cfg = SynthConfig(subjects=3, clips_per_class=4, amplitude=20.0, fps=50.0, image_size=128,
                      head_px=0.0, blink_p=0.0, noise_sigma=(0.5, 1.0), flicker=0.0,
                      jpeg_quality=(95, 95), seed=0)
    summary = generate(faces_dir, root, cfg, workers=2)
    keep = [c for c in summary["clips"] if c["class"] in EASY_CLASSES]
    write_sheet(root / SHEET, keep)  # the coding sheet lists only the two easy classes
    return root, len(keep), tmp_path_factory.mktemp("cache")


def _train(easy, out: Path, *extra: str):
    root, _, cache = easy
    return runner.invoke(app, [*ARGS, "--data", str(root), "--out", str(out), "--cache", str(cache),
                               *extra])


def _config(easy, **kw) -> TrainConfig:
    root, _, cache = easy
    base = dict(dataset="casme2", data=str(root.resolve()), backbone=BACKBONE, backbone_weights="none",
                spec=ClipSpec(image_size=96, frames=10), epochs=1, batch_size=4, lr=1e-3, seed=0, cache=str(cache))
    return TrainConfig(**{**base, **kw})


@pytest.mark.slow
def test_loso_learns(easy, tmp_path):
    """LOSO through the CLI reaches UF1 >= 0.9 and writes metrics.json, predictions.csv, confusion.png. 8 epochs:
    this set is learnt (UF1 1.0) from 3 on; untrained (lr 1e-12, or no optimiser step) UF1 is 0.34."""
    out = tmp_path / "run"
    r = _train(easy, out, "--epochs", "8")
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert METRICS_KEYS <= set(m)
    assert m["uf1"] >= 0.9, (m["uf1"], m["confusion"])
    n = easy[1]
    assert sum(f["n"] for f in m["folds"]) == n == sum(map(sum, m["confusion"]))
    assert [f["subject"] for f in m["folds"]] == ["sub01", "sub02", "sub03"]
    for f in m["folds"]:
        assert {"subject", "n", "acc", "uf1", "uar", "train_seconds"} <= set(f)
    cfg = m["config"]
    assert cfg["backbone"] == BACKBONE and cfg["clip_mode"] == "paper" and cfg["dataset"] == "casme2"
    assert cfg["clip_spec"]["image_size"] == 96 and cfg["clip_spec"]["frames"] == 10
    assert cfg["backbone_init"] == "random" and "randomly initialised" in cfg["note"]
    with open(out / "predictions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == n
    assert {"fold", "subject", "clip_id", "label", "pred"} <= set(rows[0])
    probs = [k for k in rows[0] if k.startswith("p_")]
    assert probs == [f"p_{c}" for c in m["classes"]]
    assert all(abs(sum(float(r[k]) for k in probs) - 1) < 1e-4 for r in rows)
    assert (out / "confusion.png").stat().st_size > 1000
    assert len(list((out / "folds").glob("*.json"))) == 3
    assert "random" in r.output and "GFLOPs" in r.output and "pooled" in r.output


def test_resume_skips_finished_folds(easy, tmp_path, monkeypatch):
    """A run stopped after one fold resumes with the other two, and ends where an unbroken run ends."""
    from train.datasets import load_dataset

    index = load_dataset("casme2", easy[0])
    cfg = _config(easy)
    out = tmp_path / "run"
    assert loso.run_loso(cfg, out, index, log=lambda s: None, max_folds=1) is None
    assert [p.stem for p in (out / "folds").glob("*.json")] == ["sub01"]
    assert not (out / "metrics.json").exists()
    first = (out / "folds" / "sub01.json").read_text()

    calls, logs = [], []
    real_fit = loso.fit
    monkeypatch.setattr(loso, "fit", lambda *a, **k: calls.append(1) or real_fit(*a, **k))
    resumed = loso.run_loso(cfg, out, index, log=logs.append)
    assert len(calls) == 2  # sub01 was not trained again
    assert any("resuming: 1/3" in s for s in logs)
    assert (out / "folds" / "sub01.json").read_text() == first
    with open(out / "predictions.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == easy[1]

    monkeypatch.setattr(loso, "fit", real_fit)
    unbroken = loso.run_loso(cfg, tmp_path / "unbroken", index, log=lambda s: None)
    assert resumed["confusion"] == unbroken["confusion"]
    for a, b in zip(resumed["folds"], unbroken["folds"]):
        assert (a["subject"], a["acc"], a["uf1"]) == (b["subject"], b["acc"], b["uf1"])


def test_resume_refuses_a_changed_dataset_and_one_class(easy):
    """Finished folds made from other annotations (a clip relabelled or dropped since) are not pooled with new
    ones: the resume is refused in one line. A dataset with clips of one class is refused before training
    (it scored a perfect, meaningless 1.0)."""
    import dataclasses
    import tempfile

    from train.datasets import load_dataset
    from train.datasets.samples import DatasetIndex

    index = load_dataset("casme2", easy[0])
    with tempfile.TemporaryDirectory() as d:
        out = Path(d)
        run_guards.check_or_store_dataset(out, index)  # no finished fold: stored
        (out / "folds").mkdir()
        (out / "folds" / "sub01.json").write_text("{}")
        run_guards.check_or_store_dataset(out, index)  # the same annotations: resumes
        s0 = index.samples[0]
        other = index.classes[1] if s0.label == index.classes[0] else index.classes[0]
        relabelled = DatasetIndex([dataclasses.replace(s0, label=other), *index.samples[1:]], index.classes)
        with pytest.raises(InputError, match=r"the dataset changed since its finished folds.*-> \d+ clips"):
            run_guards.check_or_store_dataset(out, relabelled)
        with pytest.raises(InputError, match=f"{len(index.samples)} -> {len(index.samples) - 1} clips"):
            run_guards.check_or_store_dataset(out, DatasetIndex(index.samples[1:], index.classes))
    one = DatasetIndex([s for s in index.samples if s.label == index.classes[0]], index.classes)
    with pytest.raises(InputError, match=r"clips of 1 class\(es\) .*needs at least 2"):
        check_classes(one.classes, one.samples, "D")
    check_classes(index.classes, index.samples, "D")



def test_resume_refuses_clips_that_preprocessing_used_otherwise(easy, tmp_path):
    """The same annotations, but a clip that preprocessing dropped when the finished folds were trained (a JPEG cut
    short, copied again since) is usable now, or the other way round: the new folds would train on another set than
    the finished ones, so the resume is refused in one line naming the clip; the same list resumes."""
    from train.datasets import load_dataset

    index = load_dataset("casme2", easy[0])
    out, lost = tmp_path / "run", index.samples[0].name
    out.mkdir()
    run_guards.check_or_store_dataset(out, index)
    run_guards.check_or_store_unusable(out, [lost])  # no finished fold yet: stored
    (out / "folds").mkdir()
    (out / "folds" / "sub01.json").write_text("{}")
    run_guards.check_or_store_dataset(out, index)  # the same annotations: the list is kept for the next check
    run_guards.check_or_store_unusable(out, [lost])  # the same clips: resumes
    with pytest.raises(InputError, match=rf"preprocessing can use changed .*\(usable now: {lost} \(1\)\)"):
        run_guards.check_or_store_unusable(out, [])
    other = index.samples[1].name
    with pytest.raises(InputError, match=rf"usable now: {lost} \(1\); unusable now: {other} \(1\)"):
        run_guards.check_or_store_unusable(out, [other])
    stored = json.loads((out / "dataset.json").read_text())
    del stored["unusable"]  # a run stored before the list was kept: resumes as before
    (out / "dataset.json").write_text(json.dumps(stored))
    run_guards.check_or_store_unusable(out, [])

def test_resume_refuses_a_different_config(easy, tmp_path):
    out = tmp_path / "run"
    run_guards.check_or_store_config(out, _config(easy, lr=1e-2))
    run_guards.check_or_store_config(out, _config(easy))  # no finished fold yet: replaced
    (out / "folds").mkdir()
    (out / "folds" / "sub01.json").write_text("{}")
    run_guards.check_or_store_config(out, _config(easy, workers=2))  # runtime-only: accepted
    with pytest.raises(InputError, match="lr"):
        run_guards.check_or_store_config(out, _config(easy, lr=1e-4))
    r = _train(easy, out, "--epochs", "1", "--lr", "1e-4")
    assert r.exit_code == 2
    assert _one_error_line(r.output) and "different config" in r.output
    # to someone who typed another command, 'rerun the same command' was no advice: the stored options are named
    assert f"to resume it, rerun with the options in {out / 'config.json'}" in " ".join(r.output.split()), r.output
    # a clip spec that differs is named by the fields that differ, not printed whole
    with pytest.raises(InputError, match=r"\(clip_spec\.alpha: 20\.0 -> 10\.0\);"):
        run_guards.check_or_store_config(out, _config(easy).with_spec(alpha=10.0))
    # a run stored before a config field existed resumes when the field is at its default (what it ran with)
    stored = json.loads((out / "config.json").read_text())
    stored.pop("lr_schedule")
    (out / "config.json").write_text(json.dumps(stored))
    run_guards.check_or_store_config(out, _config(easy))
    with pytest.raises(InputError, match="lr_schedule"):
        run_guards.check_or_store_config(out, _config(easy, lr_schedule="cosine"))
    # likewise a clip spec stored before ClipSpec.align existed: it was aligned by the eyes
    stored = json.loads((out / "config.json").read_text())
    assert stored["clip_spec"].pop("align") == "eyes-mouth"
    (out / "config.json").write_text(json.dumps(stored))
    run_guards.check_or_store_config(out, _config(easy, spec=ClipSpec(image_size=96, frames=10, align="eyes")))
    with pytest.raises(InputError, match="clip_spec"):  # today's default aligns by eyes and mouth
        run_guards.check_or_store_config(out, _config(easy))
    # and a run stored before --head / --flow-gain existed was trained with the [CLS] head at gain 1,
    # whatever today's defaults are: it does not resume with another head
    stored = json.loads((out / "config.json").read_text())
    stored.pop("head"), stored.pop("flow_gain")
    stored["clip_spec"]["align"] = "eyes-mouth"
    (out / "config.json").write_text(json.dumps(stored))
    with pytest.raises(InputError, match="head"):
        run_guards.check_or_store_config(out, _config(easy))
    run_guards.check_or_store_config(out, _config(easy, head="cls", flow_gain=1.0))


def test_cosine_schedule_decays_the_learning_rate_to_zero(monkeypatch):
    """--lr-schedule cosine: the optimiser's lr starts at --lr and reaches ~0 at the last step; constant keeps it."""
    from torch import nn

    seen: dict[str, list[float]] = {}
    real_step = fitting.train_step

    def spy(model, dynamic, motion, y, opt, *a, **k):
        seen.setdefault(name, []).append(opt.param_groups[0]["lr"])
        return real_step(model, dynamic, motion, y, opt, *a, **k)

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, d, m):
            return self.fc(d.mean(dim=(2, 3)))

    class Data(torch.utils.data.Dataset):
        labels = [0, 1] * 4

        def set_epoch(self, e):
            pass

        def __len__(self):
            return 8

        def __getitem__(self, i):
            return torch.randn(3, 8, 8), torch.randn(2, 3, 8, 8), self.labels[i]

    monkeypatch.setattr(fitting, "train_step", spy)
    for name in ("constant", "cosine"):
        cfg = TrainConfig("casme2", ".", epochs=3, batch_size=4, lr=1e-3, augment=False, lr_schedule=name)
        fitting.fit(Tiny(), Data(), cfg, 2, seed=0)
    assert seen["constant"] == [1e-3] * 6
    lrs = seen["cosine"]
    assert lrs[0] == pytest.approx(1e-3) and all(a > b for a, b in zip(lrs, lrs[1:])) and lrs[-1] < 1e-4
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainConfig("casme2", ".", lr_schedule="step")


def test_average_epochs_ends_with_the_mean_of_the_last_epochs_weights():
    """--average-epochs N: the trained parts end as the mean of their values after each of the last N epochs
    (runs are deterministic for a seed, so shorter runs give those values); frozen parts are untouched."""
    from torch import nn

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(3)
            self.frozen = nn.Linear(3, 3).requires_grad_(False)
            self.fc = nn.Linear(3, 2)

        def forward(self, d, m):
            return self.fc(self.frozen(d.mean(dim=(2, 3))) + m.mean(dim=(1, 3, 4)))

    class Data(torch.utils.data.Dataset):
        labels = [0, 1] * 4

        def set_epoch(self, e):
            self.g = torch.Generator().manual_seed(e)

        def __len__(self):
            return 8

        def __getitem__(self, i):
            return torch.randn(3, 8, 8, generator=self.g), torch.randn(2, 3, 8, 8, generator=self.g), self.labels[i]

    def trained(epochs: int, average: int = 0) -> Tiny:
        model = Tiny()
        cfg = TrainConfig("casme2", ".", epochs=epochs, batch_size=4, lr=1e-2, augment=False, average_epochs=average)
        fitting.fit(model, Data(), cfg, 2, seed=0)
        return model

    after = [trained(e) for e in (1, 2, 3)]
    assert not torch.allclose(after[1].fc.weight, after[2].fc.weight)  # the weights do move from epoch to epoch
    averaged = trained(3, average=2)
    for name in ("weight", "bias"):
        mean = (getattr(after[1].fc, name) + getattr(after[2].fc, name)) / 2
        torch.testing.assert_close(getattr(averaged.fc, name), mean)
    torch.testing.assert_close(averaged.frozen.weight, Tiny().frozen.weight)
    torch.testing.assert_close(trained(3, average=1).fc.weight, after[2].fc.weight)
    with pytest.raises(ValueError, match="average_epochs"):
        TrainConfig("casme2", ".", epochs=3, average_epochs=4)


def test_full_protocol_writes_a_loadable_checkpoint(easy, tmp_path):
    from train.model import MPT, MPTConfig

    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"acc": 0.5, "uf1": 0.5, "uar": 0.5}))
    out = tmp_path / "full"
    r = _train(easy, out, "--epochs", "1", "--protocol", "full", "--metrics", str(metrics))
    assert r.exit_code == 0, r.output
    ckpt = torch.load(out / "model.pt", map_location="cpu", weights_only=False)
    assert CKPT_KEYS <= set(ckpt)
    assert ckpt["protocol"] == "full" and ckpt["dataset"] == "casme2" and ckpt["clip_mode"] == "paper"
    # mpt-synth's clips (synth.json at the root) are recorded as such: mpt-live must not call them CASME II's
    assert ckpt["data_kind"] == ckpt["train_config"]["data_kind"] == "semi-synthetic (mpt-synth)"
    assert "note: semi-synthetic (mpt-synth) clips" in r.output
    assert ckpt["metrics"] == {"acc": 0.5, "uf1": 0.5, "uar": 0.5}
    assert ckpt["clip_spec"]["image_size"] == 96 and ckpt["train_config"]["epochs"] == 1
    model = MPT(MPTConfig.from_dict(ckpt["model_config"]))
    model.load_state_dict(ckpt["state_dict"])  # strict: the backbone is in the state dict too
    model.eval()
    s = ckpt["clip_spec"]["image_size"]
    with torch.no_grad():
        logits = model(torch.zeros(2, 3, s, s), torch.zeros(2, ckpt["model_config"]["frames"], 3, s, s))
    assert logits.shape == (2, len(ckpt["classes"]))


@pytest.mark.slow
def test_summary_head_trains_saves_and_loads(easy, tmp_path):
    """--head cls+prompts+summary: trained, stored in the checkpoint's model config, loaded back with its
    weights (no longer zero)."""
    from train.model import MPT, MPTConfig

    out = tmp_path / "full"
    r = _train(easy, out, "--epochs", "1", "--protocol", "full", "--head", "cls+prompts+summary")
    assert r.exit_code == 0, r.output
    assert "motion summary" in r.output
    ckpt = torch.load(out / "model.pt", map_location="cpu", weights_only=False)
    assert ckpt["model_config"]["head_summary"] is True and ckpt["train_config"]["head"] == "cls+prompts+summary"
    model = MPT(MPTConfig.from_dict(ckpt["model_config"]))
    model.load_state_dict(ckpt["state_dict"])
    assert model.summary_head.weight.abs().sum() > 0


@pytest.mark.slow
def test_full_protocol_window_mode_class_weighted(easy, tmp_path):
    """Window clip mode (training variants 1..J) with the class-weighted loss, end to end."""
    out = tmp_path / "full"
    r = _train(easy, out, "--epochs", "1", "--protocol", "full", "--clip-mode", "window",
               "--class-weighted")
    assert r.exit_code == 0, r.output
    ckpt = torch.load(out / "model.pt", map_location="cpu", weights_only=False)
    assert ckpt["clip_mode"] == "window" and ckpt["metrics"] is None
    assert ckpt["train_config"]["class_weighted"] is True
    assert ckpt["train_config"]["n_samples"] == easy[1]


def _one_error_line(output: str) -> bool:
    lines = [ln for ln in output.strip().splitlines() if ln.strip()]
    return (len(lines) == 1 and lines[0].startswith("error: ")
            and "Traceback" not in output)


@pytest.mark.parametrize("case", ["missing_root", "not_a_dataset", "unknown_backbone", "cuda",
                                  "weights_missing", "bad_image_size", "csv_file", "csv_not_csv", "sheet_file",
                                  "metrics_with_loso"])
def test_expected_failures_are_one_line(case, tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    args = ["--dataset", "casme2", "--data", str(data), "--out", str(tmp_path / "run")]
    expect = {"missing_root": "nope: no such file or folder", "not_a_dataset": str(data),
              "unknown_backbone": "vit_nope", "cuda": "CUDA", "weights_missing": "weights",
              "bad_image_size": "image_size", "csv_file": "labels.csv: no samples",
              "csv_not_csv": "reads a .csv file",
              "sheet_file": f"labels.csv: a file, not a folder: --dataset casme2 reads the dataset's root folder "
                            f"(give --data {data})",
              "metrics_with_loso": "goes with --protocol full"}[case]
    if case == "missing_root":
        args[3] = str(tmp_path / "nope")
    elif case in ("csv_file", "csv_not_csv", "sheet_file"):  # --data names the CSV itself (csv only)
        f = data / ("labels.csv" if case != "csv_not_csv" else "labels.png")
        f.write_text("subject,clip,onset,apex,offset,label\n")
        args[1], args[3] = ("casme2" if case == "sheet_file" else "csv"), str(f)
    elif case == "unknown_backbone":
        args += ["--backbone", "vit_nope"]
    elif case == "cuda":
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        args += ["--device", "cuda"]
    elif case == "weights_missing":
        args += ["--backbone-weights", str(tmp_path / "nope.safetensors")]
    elif case == "bad_image_size":
        args += ["--image-size", "100"]
    elif case == "metrics_with_loso":  # a LOSO run ignored --metrics without a word
        (tmp_path / "metrics.json").write_text('{"acc": 1, "uf1": 1, "uar": 1}')
        args += ["--metrics", str(tmp_path / "metrics.json")]
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert _one_error_line(r.output), r.output
    assert re.search(re.escape(expect), r.output), r.output


def test_sibling_metrics_must_match_the_model_config(easy):
    cfg = _config(easy)
    run_guards.check_sibling_metrics({"acc": 1, "uf1": 1, "uar": 1, "config": cfg.identity()}, cfg, "m")
    run_guards.check_sibling_metrics({"acc": 1, "uf1": 1, "uar": 1}, cfg, "m")  # no config: stored as is
    other = _config(easy, epochs=30, workers=3).identity()
    with pytest.raises(InputError, match="epochs"):
        run_guards.check_sibling_metrics({"acc": 1, "uf1": 1, "uar": 1, "config": other}, cfg, "m")
    before_head = {k: v for k, v in cfg.identity().items() if k not in ("head", "flow_gain")}
    with pytest.raises(InputError, match="head"):  # LOSO figures of a model with the [CLS] head
        run_guards.check_sibling_metrics({"acc": 1, "uf1": 1, "uar": 1, "config": before_head}, cfg, "m")
    run_guards.check_sibling_metrics({"acc": 1, "uf1": 1, "uar": 1, "config": before_head},
                               _config(easy, head="cls", flow_gain=1.0), "m")
    legacy = cfg.identity()
    assert legacy["clip_spec"].pop("align") == "eyes-mouth"  # metrics stored before the field: aligned by the eyes
    run_guards.check_sibling_metrics({"acc": 1, "uf1": 1, "uar": 1, "config": legacy},
                               _config(easy, spec=ClipSpec(image_size=96, frames=10, align="eyes")), "m")
    with pytest.raises(InputError, match="clip_spec"):
        run_guards.check_sibling_metrics({"acc": 1, "uf1": 1, "uar": 1, "config": legacy}, cfg, "m")
    with pytest.raises(InputError, match="not a LOSO metrics"):
        run_guards.check_sibling_metrics({"loss": 1}, cfg, "m")


def test_metrics_of_other_classes_and_a_model_of_another_config_are_refused(easy, tmp_path):
    from train.run_checks import check_full_overwrite, check_metrics_classes

    check_metrics_classes({"classes": ["a", "b"]}, ["a", "b"], "m")
    check_metrics_classes({}, ["a", "b"], "m")  # nothing to compare
    with pytest.raises(InputError, match="classes negative, positive, surprise; this run trains a, b"):
        check_metrics_classes({"classes": ["negative", "positive", "surprise"]}, ["a", "b"], "m")
    cfg = _config(easy)
    check_full_overwrite(tmp_path, cfg)  # an empty folder
    torch.save({"train_config": {**cfg.to_dict(), "train_seconds": 3.0}}, tmp_path / "model.pt")
    check_full_overwrite(tmp_path, cfg)  # the same configuration retrained: replaced
    with pytest.raises(InputError, match=r"model\.pt: a model of another configuration \(epochs: 1 -> 30"):
        check_full_overwrite(tmp_path, _config(easy, epochs=30))
    # a model saved before --augment-photo existed was trained without it (as a LOSO resume reads it); the
    # check skipped fields missing from the stored config, so this model was replaced, and its LOSO figures lent
    before = {k: v for k, v in cfg.to_dict().items() if k != "augment_photo"}
    torch.save({"train_config": before}, tmp_path / "model.pt")
    check_full_overwrite(tmp_path, cfg)
    with pytest.raises(InputError, match=r"augment_photo: 0\.0 -> 0\.5"):
        check_full_overwrite(tmp_path, _config(easy, augment_photo=0.5))
    with pytest.raises(InputError, match="augment_photo"):
        run_guards.check_sibling_metrics({"acc": 1, "uf1": 1, "uar": 1, "config": before}, _config(easy, augment_photo=0.5), "m")
    (tmp_path / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not an mpt-train checkpoint"):
        check_full_overwrite(tmp_path, cfg)


class _RecordingCache:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def get(self, sample, variant=0):
        self.calls.append((sample, variant))
        return torch.zeros(3, 4, 4).numpy(), torch.zeros(2, 3, 4, 4).numpy()


def test_training_variants_are_random_per_epoch_and_reproducible():
    """Window mode: training draws variants 1..J per clip and epoch, the same with any worker count."""
    cfg = TrainConfig(dataset="csv", data=".", clip_mode="window", jitter_variants=4)
    assert variants(cfg, train=True) == [1, 2, 3, 4]
    assert variants(cfg, train=False) == [0]
    assert variants(TrainConfig(dataset="csv", data="."), train=True) == [0]

    def drawn(seed: int, epoch: int) -> list[int]:
        cache = _RecordingCache()
        ds = fitting.CachedClips([f"c{i}" for i in range(40)], [0] * 40, cache, [1, 2, 3, 4], seed)
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            ds[i]
        return [v for _, v in cache.calls]

    a = drawn(0, 0)
    assert set(a) == {1, 2, 3, 4}
    assert a == drawn(0, 0) and a != drawn(0, 1) and a != drawn(1, 0)


def test_class_weights():
    w = fitting.class_weights([0, 0, 0, 1], 3)  # N=4, 2 classes present: 4/(2*3), 4/(2*1); absent -> 1
    assert w.tolist() == pytest.approx([2 / 3, 2.0, 1.0])


def test_augment_batch_moves_dynamic_image_and_motion_together():
    """Each clip gets one transform: its dynamic image and every motion frame move the same way;
    about half the clips are mirrored (a spot on the left ends on the right)."""
    n, t, s = 32, 3, 32
    dyn = torch.zeros(n, 3, s, s)
    dyn[..., 12:20, 4:10] = 1.0          # a bright patch left of centre
    motion = dyn[:, None].repeat(1, t, 1, 1, 1)
    d, m = fitting.augment_batch(dyn, motion, torch.Generator().manual_seed(0))
    assert d.shape == dyn.shape and m.shape == motion.shape
    for k in range(t):
        assert torch.allclose(m[:, k], d, atol=1e-6)
    left, right = d[..., : s // 2].sum(dim=(1, 2, 3)), d[..., s // 2:].sum(dim=(1, 2, 3))
    mirrored = (right > left).sum().item()
    assert 8 <= mirrored <= 24, mirrored
    assert not torch.equal(d[0], dyn[0]) or not torch.equal(d[1], dyn[1])  # shifted/zoomed, not copied


def test_augment_pose_bends_one_side_of_the_face_and_leaves_the_borders():
    """With a pose strength the midline moves sideways (a yaw-like bend) and the image rolls; the same
    generator without pose gives the plain transform, and a pose outside [0, 1] is refused."""
    n, t, s = 64, 2, 48
    dyn = torch.zeros(n, 1, s, s)
    dyn[..., :, s // 2 - 1: s // 2 + 1] = 1.0       # a vertical line on the face's midline
    motion = dyn[:, None].repeat(1, t, 1, 1, 1)
    plain, _ = fitting.augment_batch(dyn, motion, torch.Generator().manual_seed(3))
    posed, m = fitting.augment_batch(dyn, motion, torch.Generator().manual_seed(3), pose=1.0)
    assert torch.allclose(m[:, 1], posed, atol=1e-6)
    cols = torch.arange(s, dtype=torch.float32)

    def midline(x):  # mean column of the line in the middle row band
        w = x[:, 0, s // 2 - 4: s // 2 + 4].sum(dim=1)
        return (w * cols).sum(dim=1) / w.sum(dim=1).clamp_min(1e-6) - (s - 1) / 2

    # shifts alone move it by at most AUG_SHIFT * s (+ zoom); the bend by up to POSE_BEND * s / 2 more
    assert midline(plain).abs().max() <= fitting.AUG_SHIFT * s + 1.5
    assert midline(posed).abs().max() > fitting.AUG_SHIFT * s + 2.5
    tilt = lambda x: x[:, 0, 4].argmax(dim=-1).float() - x[:, 0, -5].argmax(dim=-1).float()  # noqa: E731
    assert tilt(posed).abs().max() >= 3 and tilt(plain).abs().max() <= 1
    with pytest.raises(ValueError, match="augment_pose"):
        TrainConfig(dataset="casme2", data=".", augment_pose=1.5)


def test_augment_photo_changes_appearance_not_the_motion_between_frames():
    """Photometric augmentation: strength 0 draws nothing (the plain transform, bit for bit); at
    strength 1 a clip's contrast and sharpness change alike for its D and motion frames, noise differs
    frame to frame, and a flat clip stays flat apart from that noise."""
    n, t, s = 16, 4, 32
    dyn = torch.zeros(n, 1, s, s)
    dyn[..., 10:22, 10:22] = 1.0                          # a bright square
    motion = dyn[:, None].repeat(1, t, 1, 1, 1)
    plain = fitting.augment_batch(dyn, motion, torch.Generator().manual_seed(5))
    zero = fitting.augment_batch(dyn, motion, torch.Generator().manual_seed(5), photo=0.0)
    assert torch.equal(plain[0], zero[0]) and torch.equal(plain[1], zero[1])
    d, m = fitting.photometric(dyn, motion, torch.Generator().manual_seed(6), 1.0)
    noise = m - m.mean(dim=1, keepdim=True)                # the motion frames differ only by noise
    assert 1e-4 < noise.std() <= fitting.PHOTO_NOISE
    assert torch.allclose(m.mean(dim=1), d, atol=4 * fitting.PHOTO_NOISE / t ** 0.5)
    edge = (d[..., 16, 8:12] - d[..., 16, 7:11]).abs().amax(dim=-1)[:, 0]  # the square's left edge
    assert edge.max() - edge.min() > 0.1                   # some clips blurred or contrast-changed more
    flat = torch.full((n, t, 3, s, s), 0.25)
    fd, fm = fitting.photometric(flat[:, 0], flat, torch.Generator().manual_seed(7), 1.0)
    assert torch.allclose(fd, flat[:, 0], atol=1e-5) and (fm - 0.25).abs().max() < 6 * fitting.PHOTO_NOISE
    with pytest.raises(ValueError, match="augment_photo"):
        TrainConfig(dataset="casme2", data=".", augment_photo=-0.1)


@pytest.mark.parametrize("preset, given, want", [
    ("default", {}, {"backbone": TrainConfig.backbone, "backbone_weights": "auto", "prompt_grid": TrainConfig.prompt_grid}),
    ("paper", {}, {"backbone": "vit_base_patch16_224.orig_in21k", "backbone_weights": "timm", "prompt_grid": 1,
                   "prompt_input": "frames", "epochs": 20, "augment": False}),
    ("paper", {"epochs": 3, "backbone_weights": "none"}, {"epochs": 3, "backbone_weights": "none", "prompt_grid": 1}),
    ("default", {"augment": False, "lr": 1e-3}, {"augment": False, "lr": 1e-3}),
])
def test_build_config_applies_only_given_options(preset, given, want):
    from train.cli import build_config

    opts = {k: None for k in ("backbone", "backbone_weights", "epochs", "lr", "augment")} | given
    cfg = build_config(preset, "casme2", ".", opts, {"image_size": None, "frames": 12, "alpha": None})
    assert {k: getattr(cfg, k) for k in want} == want
    assert cfg.spec.frames == 12 and cfg.spec.image_size == ClipSpec.image_size


def test_build_config_bad_spec_is_an_input_error():
    from train.cli import build_config

    with pytest.raises(InputError, match=r"--image-size 100: not a usable clip \(ClipSpec.image_size"):
        build_config("default", "casme2", ".", {}, {"image_size": 100})
    with pytest.raises(InputError, match=r"--frames 8: not a usable clip \(ClipSpec.band_hz"):  # too few for the band
        build_config("default", "casme2", ".", {}, {"frames": 8})
    with pytest.raises(InputError, match=r"needs --frames 10 or more$"):  # and how many it needs
        build_config("default", "casme2", ".", {}, {"frames": 9})
    build_config("default", "casme2", ".", {}, {"frames": 10})


@pytest.mark.parametrize("options, spec, message", [
    # accepted until now: a magnification by NaN, inf or a negative factor, or weights made NaN by an inf decay
    ({}, {"alpha": float("nan")}, r"--alpha nan: not a usable clip \(ClipSpec.alpha must be a finite number"),
    ({}, {"alpha": float("inf")}, r"--alpha inf: not a usable clip \(ClipSpec.alpha must be a finite number"),
    ({}, {"alpha": -1.0}, r"--alpha -1.0: not a usable clip \(ClipSpec.alpha must be >= 0"),
    ({"weight_decay": float("inf")}, {}, r"--weight-decay inf: must be a finite number >= 0"),
    ({"flow_gain": float("inf")}, {}, r"--flow-gain inf: must be a finite number >= 0"),
])
def test_build_config_refuses_numbers_that_are_not_finite(options, spec, message):
    from train.cli import build_config

    with pytest.raises(InputError, match=message):
        build_config("default", "casme2", ".", options, spec)


@pytest.mark.slow
def test_loso_folds_on_ray_pool_to_the_serial_figures(easy, tmp_path):
    """Folds as tasks on a local Ray cluster (two CPUs): the same folds and pooled figures as serially; a
    fold already finished in the run folder is kept, not run again."""
    ray = pytest.importorskip("ray")
    from train.datasets import load_dataset
    from train.ray_folds import run_loso_ray

    index = load_dataset("casme2", easy[0])
    cfg = _config(easy, epochs=2)
    serial = loso.run_loso(cfg, tmp_path / "serial", index, log=lambda s: None)
    (tmp_path / "ray" / "folds").mkdir(parents=True)
    kept = (tmp_path / "serial" / "folds" / "sub02.json").read_text()
    (tmp_path / "ray" / "folds" / "sub02.json").write_text(kept)  # as if a stopped run had finished it
    lines: list[str] = []
    fresh: list[str] = []
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        parallel = run_loso_ray(cfg, tmp_path / "ray", index, "auto", log=lines.append)
        run_loso_ray(replace(cfg, epochs=1), tmp_path / "fresh", index, "auto", log=fresh.append)
    finally:
        ray.shutdown()
    assert any("2 of 3 folds to run" in line for line in lines), lines
    # what happened, not 'resuming: 3/3' after Ray had just run the folds: one fold found done, two run now
    assert [ln for ln in lines if "resuming" in ln] == [f"resuming: 1/3 folds already finished in {tmp_path / 'ray'}"]
    assert lines[-1] == "LOSO on Ray: 2 folds run now, 1 found finished from an earlier run; pooled 3", lines
    assert not any("resuming" in ln for ln in fresh) and fresh[-1] == "LOSO on Ray: 3 folds run now; pooled 3", fresh
    assert (tmp_path / "ray" / "folds" / "sub02.json").read_text() == kept
    assert (parallel["acc"], parallel["uf1"], parallel["uar"]) == (serial["acc"], serial["uf1"], serial["uar"])
    assert parallel["confusion"] == serial["confusion"] and parallel["n"] == serial["n"] == easy[1]
    for subject in ("sub01", "sub02", "sub03"):
        a, b = (json.loads((tmp_path / r / "folds" / f"{subject}.json").read_text()) for r in ("serial", "ray"))
        assert a["preds"] == b["preds"] and a["clip_ids"] == b["clip_ids"]
        assert a["losses"] == pytest.approx(b["losses"], rel=1e-4)
        assert torch.allclose(torch.tensor(a["probs"]), torch.tensor(b["probs"]), atol=1e-5)
    with open(tmp_path / "serial" / "predictions.csv") as fa, open(tmp_path / "ray" / "predictions.csv") as fb:
        assert [r[:5] for r in csv.reader(fa)] == [r[:5] for r in csv.reader(fb)]


@pytest.mark.parametrize("env", [False, True])
def test_ray_where_no_cluster_answers_is_refused_before_the_data_is_read(easy, tmp_path, monkeypatch, env):
    """--ray HOST:PORT, or --ray auto with RAY_ADDRESS, where nothing listens: one line at once, exit 2, as mpt-live
    says it; mpt-train had read the data and built the model first, and RAY_ADDRESS was not checked at all."""
    import socket

    import train.cli as cli

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    if env:
        monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    monkeypatch.setattr(cli, "run_training", lambda *a, **k: pytest.fail("the run started before the refusal"))
    r = _train(easy, tmp_path / "run", "--ray", "auto" if env else f"127.0.0.1:{port}")
    lines = [ln for ln in r.output.strip().splitlines() if ln.strip()]
    assert r.exit_code == 2 and len(lines) == 1 and "Traceback" not in r.output, r.output
    assert (f"--ray auto: no Ray cluster answers at 127.0.0.1:{port}, the address in the environment variable"
            if env else f"--ray 127.0.0.1:{port}: no Ray cluster answers there") in " ".join(lines[0].split()), r.output
    assert not (tmp_path / "run").exists()  # a refused run made an empty --out folder


def test_the_run_lines_are_whole_in_a_log(easy, tmp_path, monkeypatch):
    """Printed to a file or pipe (80 columns), the long 'clip:', 'model' and 'recipe:' lines were broken mid-line
    ('faces: aligned by mpt_live.face,' / 'alpha 10, band ...'); each is now one line of the log."""
    def stop(*a, **k):
        raise InputError("stopped after the run's lines")

    monkeypatch.setattr(loso, "run_loso", stop)
    r = _train(easy, tmp_path / "run")
    assert r.exit_code == 2 and "stopped after the run's lines" in r.output, r.output
    lines = r.output.splitlines()
    for start, end in (("clip: ", "/0.5,0.5,0.5"), ("model (", " s)"), ("recipe: ", "augment True")):
        assert any(ln.startswith(start) and ln.endswith(end) for ln in lines), (start, r.output)


def test_dataset_warnings_name_files_as_they_are(easy, tmp_path, monkeypatch):
    """mpt-train printed the datasets' warnings through rich markup: 'clip[take2]:ok:' came out as 'clip🆗'."""
    import train.datasets as ds

    real = ds.load_dataset

    def load(*a, **k):
        index = real(*a, **k)
        index.warnings.append("clip[take2]:ok: has one subject")
        return index

    def stop(*a, **k):
        raise InputError("stopped after the run's lines")

    monkeypatch.setattr(ds, "load_dataset", load)
    monkeypatch.setattr(loso, "run_loso", stop)
    r = _train(easy, tmp_path / "run")
    assert "warning: clip[take2]:ok: has one subject" in r.output.splitlines(), r.output



def test_the_rows_a_run_dropped_or_amended_are_written_with_its_figures(easy, tmp_path, monkeypatch):
    """A researcher reports what the figures were made on: the rows the sheet lost (a class outside the protocol, a
    clip folder the copy lacks), the amended ones and the warnings were printed only; they now reach metrics.json's
    and model.pt's config (``annotations``) as printed."""
    import train.datasets as ds

    real, seen = ds.load_dataset, {}

    def load(*a, **k):
        index = real(*a, **k)
        index.dropped["label fear (not in the 5-class protocol)"] = 2
        index.notes["apex unknown in the sheet: middle of onset..offset used"] = 1
        index.warnings.append("CASME2-coding.xlsx: 1 row(s) name a clip folder the frames lack, dropped: row 9")
        return index

    def stop(cfg, out, index, **k):
        seen.update(k["extra_config"])
        raise InputError("stopped after the run's lines")

    monkeypatch.setattr(ds, "load_dataset", load)
    monkeypatch.setattr(loso, "run_loso", stop)
    r = _train(easy, tmp_path / "run")
    assert "dropped 2 annotation row(s): label fear (not in the 5-class protocol)" in r.output, r.output
    got = seen["annotations"]
    assert got["dropped"]["label fear (not in the 5-class protocol)"] == 2
    assert got["notes"]["apex unknown in the sheet: middle of onset..offset used"] == 1
    assert "CASME2-coding.xlsx: 1 row(s) name a clip folder the frames lack, dropped: row 9" in got["warnings"]
    for reason, n in got["notes"].items():  # every note written is one printed, with its count
        assert f"note: {n} annotation row(s): {reason}" in r.output
    json.dumps(got)  # metrics.json and the exported model's metadata take it as it is

def test_ray_needs_the_loso_protocol(easy, tmp_path):
    r = _train(easy, tmp_path / "run", "--protocol", "full", "--ray", "auto")
    assert r.exit_code != 0 and "--ray runs LOSO folds" in r.output and "Traceback" not in r.output


def test_build_config_ablation_and_baseline_options():
    from train.cli import build_config

    cfg = build_config("paper", "casme2", ".", {"num_prompts": 3, "reduction": 4, "finetune": True, "vpt": "deep",
                                                "vpt_tokens": 2, "input_norm": "0.4,0.4,0.4/0.2,0.2,0.2"},
                       {"alpha": 10.0, "attenuate": True})
    assert (cfg.num_prompts, cfg.reduction, cfg.finetune, cfg.vpt, cfg.vpt_tokens) == (3, 4, True, "deep", 2)
    assert (cfg.spec.alpha, cfg.spec.attenuate) == (10.0, True)
    assert cfg.spec.mean == (0.4, 0.4, 0.4) and cfg.spec.std == (0.2, 0.2, 0.2)
    mc = fitting.model_config(cfg, 5)
    assert (mc.num_prompts, mc.reduction, mc.finetune, mc.vpt, mc.vpt_tokens) == (3, 4, True, "deep", 2)
    assert fitting.model_config(_paper(), 5).vpt_tokens == 0          # no VPT: no tokens in the model
    with pytest.raises(InputError, match="input-norm"):
        build_config("default", "casme2", ".", {"input_norm": "imagenet"}, {})
    with pytest.raises(InputError, match="vpt must be"):
        build_config("default", "casme2", ".", {"vpt": "middle"}, {})


def test_default_magnification_is_alpha_10_and_the_paper_preset_keeps_20():
    """mpt-train magnifies at alpha 10 by default (docs/recognition.md), the rest of the spec is ClipSpec's;
    the paper preset and serving without a model keep the paper's 20; --alpha overrides either."""
    from train.cli import build_config

    default = build_config("default", "casme2", ".", {}, {})
    assert default.spec == replace(ClipSpec(), alpha=10.0)
    assert build_config("paper", "casme2", ".", {}, {}).spec.alpha == ClipSpec().alpha == 20.0
    assert build_config("default", "casme2", ".", {}, {"alpha": 20.0}).spec == ClipSpec()
    assert build_config("paper", "casme2", ".", {}, {"alpha": 0.0}).spec.alpha == 0.0


def test_help_shows_each_options_default():
    """The defaults in mpt-train --help are plain text: rich markup took "[default: ...]" for a tag and hid it."""
    res = runner.invoke(app, ["--help"], env={"COLUMNS": "250"})
    text = " ".join(res.output.replace("\u2502", " ").split())
    assert res.exit_code == 0
    for shown in ("magnification factor, 0 = none (default: 10; paper preset: 20)", "(default: 224)",
                  f"(default: {TrainConfig.epochs})", "(default: vit_small_patch14_dinov2)",
                  "pip install 'mpt-live[cluster]')"):
        assert shown in text


def test_picked_frames_only_in_paper_clip_mode():
    """Window clips must blend frames as the live window does: pick + window is one clear error."""
    from train.cli import build_config

    with pytest.raises(InputError, match="sampling pick needs clip mode paper"):
        build_config("paper", "casme2", ".", {"clip_mode": "window"}, {})
    cfg = build_config("paper", "casme2", ".", {"clip_mode": "window", "sampling": "blend"}, {})
    assert (cfg.clip_mode, cfg.sampling, cfg.spec.time_base) == ("window", "blend", "seconds")


def _paper(**kw) -> TrainConfig:
    return TrainConfig.paper("casme2", ".", **kw)


def test_paper_preset_is_the_papers_setup():
    cfg = _paper()
    assert (cfg.backbone, cfg.backbone_weights) == ("vit_base_patch16_224.orig_in21k", "timm")
    assert (cfg.clip_mode, cfg.faces, cfg.sampling, cfg.prompt_input, cfg.prompt_grid) == (
        "paper", "auto", "pick", "frames", 1)
    assert (cfg.num_prompts, cfg.reduction, cfg.spec.alpha, cfg.spec.frames, cfg.spec.band_hz) == (
        5, 8, 20.0, 16, (0.4, 4.0))
    assert (cfg.lr, cfg.batch_size, cfg.weight_decay, cfg.augment, cfg.finetune, cfg.vpt) == (
        3e-4, 16, 0.0, False, False, "none")
    assert cfg.spec.mean == (0.5, 0.5, 0.5) and cfg.spec.std == (0.5, 0.5, 0.5)   # timm's, for orig_in21k
    clip = _paper(backbone="vit_base_patch16_clip_224.openai")                       # CLIP: its own mean/std
    assert clip.spec.mean == pytest.approx((0.48145466, 0.4578275, 0.40821073))
    assert clip.spec.std == pytest.approx((0.26862954, 0.26130258, 0.27577711))
    assert TrainConfig("casme2", ".").spec.mean == (0.5, 0.5, 0.5)                  # default preset: the spec's


def _cropped_copy(src: Path, dst: Path) -> Path:
    """The easy set with a CASME II-style Cropped folder: the central 80 % of each frame, reg_img<N>.jpg."""
    import shutil

    import cv2

    shutil.copytree(src, dst)
    for p in sorted((dst / "CASME2_RAW_selected").rglob("*.jpg")):
        img = cv2.imread(str(p))
        h, w = img.shape[:2]
        crop = img[h // 10: h - h // 10, w // 10: w - w // 10]
        q = dst / "Cropped" / p.parent.relative_to(dst / "CASME2_RAW_selected") / f"reg_{p.name}"
        q.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(q), crop)
    return dst


def test_paper_preset_runs_offline_with_a_local_weights_file(easy, tmp_path):
    """--preset paper end to end with the backbone from a weights file the test writes (the paper's
    ImageNet-21k ViT-B/16 needs the network): cropped faces, picked frames, the paper's generator."""
    from safetensors.torch import save_file

    from train.backbone import create_backbone

    root = _cropped_copy(easy[0], tmp_path / "data")
    weights = tmp_path / "test_vit.safetensors"
    torch.manual_seed(3)
    save_file(create_backbone(BACKBONE, 96).state_dict(), str(weights))
    out = tmp_path / "run"
    r = runner.invoke(app, ["--preset", "paper", "--dataset", "casme2", "--data", str(root), "--out", str(out),
                            "--backbone", BACKBONE, "--backbone-weights", str(weights), "--image-size", "96",
                            "--frames", "10", "--epochs", "1", "--batch-size", "4", "--cache",
                            str(tmp_path / "cache")])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    c = m["config"]
    assert m["faces_used"].startswith("dataset crops") and "dataset crops" in r.output
    assert (c["faces"], c["sampling"], c["prompt_input"], c["prompt_grid"], c["augment"], c["tuning"]) == (
        "auto", "pick", "frames", 1, False, "MPT")
    assert c["backbone_init"] == f"file:{weights}" and c["model"]["backbone_source"] == f"file {weights.name}"
    assert len(list((tmp_path / "cache" / "casme2").glob("*.npz"))) == easy[1]


def test_head_and_flow_gain_reach_the_model_config():
    """mpt-train's --head / --flow-gain become the model's head_prompts / prompt_flow_gain; bad values are
    refused by the config, and the paper's preset keeps the paper's [CLS] head."""
    from train.fitting import model_config

    cfg = model_config(TrainConfig("casme2", ".", head="cls+prompts", flow_gain=3.0), 5)
    assert (cfg.head_prompts, cfg.prompt_flow_gain) == (True, 3.0)
    assert model_config(TrainConfig("casme2", ".", head="cls"), 5).head_prompts is False
    both = model_config(TrainConfig("casme2", ".", head="cls+prompts+summary"), 5)
    assert (both.head_prompts, both.head_summary) == (True, True)
    assert model_config(TrainConfig("casme2", ".", head="cls+prompts"), 5).head_summary is False
    assert TrainConfig.paper("casme2", ".").head == "cls"
    with pytest.raises(ValueError, match="head"):
        TrainConfig("casme2", ".", head="prompts")
    with pytest.raises(ValueError, match="--flow-gain -1.0: must be a finite number >= 0"):
        TrainConfig("casme2", ".", flow_gain=-1.0)
    assert model_config(TrainConfig("casme2", ".", flow_norm="median"), 5).prompt_flow_norm == "median"
    assert model_config(TrainConfig("casme2", ".", flow_norm="rms"), 5).prompt_flow_norm == "rms"
    with pytest.raises(ValueError, match="flow_norm"):
        TrainConfig("casme2", ".", flow_norm="max")
    with pytest.raises(ValueError, match="prompt_input"):  # unchecked, it silently trained the paper's 'frames' generator
        TrainConfig("casme2", ".", prompt_input="energies")


def test_sigterm_stops_training_like_ctrl_c(easy, tmp_path):
    """SIGTERM (a job scheduler, a closed session) used to end mpt-train at once, exit -15, no message; it now
    stops it as Ctrl-C does: one line saying how to resume, exit 143, the run folder kept."""
    import signal
    import subprocess
    import sys
    import time

    root, _, cache = easy
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "train.cli", *ARGS, "--data", str(root), "--out", str(out),
                             "--cache", str(cache), "--epochs", "50"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
    deadline = time.monotonic() + 300
    while not (out / "config.json").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, err[-2000:]
    assert re.search(r"mpt-train: interrupted \(SIGTERM\); rerun the same command to (resume \(\d+ finished fold|start "
                     r"again \(no fold had finished|go on: no fold had started)", " ".join(err.split())), \
        err[-2000:]  # as far as it got: preprocessing (config.json is written before), a fold, a fold done
    assert "Traceback" not in err and (out / "config.json").is_file()


def _stop_at_step(monkeypatch, n: int) -> None:
    """SIGTERM arrives during training step ``n`` (1-based), as a job scheduler's would."""
    import signal

    real, calls = fitting.train_step, []

    def step(*a, **kw):
        calls.append(1)
        if len(calls) == n:
            signal.raise_signal(signal.SIGTERM)
        return real(*a, **kw)

    monkeypatch.setattr(fitting, "train_step", step)


def test_a_stopped_full_run_says_it_starts_over(easy, tmp_path, monkeypatch):
    """A --protocol full run stopped mid-training said 'rerun the same command to resume', but it keeps no partial
    model: a rerun trains from the first epoch. The line now says so, and that the clip cache is kept (it is: the
    rerun computes no clip again)."""
    out, cache = tmp_path / "full", easy[2]
    _stop_at_step(monkeypatch, 2)
    r = _train(easy, out, "--epochs", "2", "--protocol", "full")
    assert r.exit_code == 143, r.output
    assert (f"mpt-train: interrupted (SIGTERM); rerun the same command to start the training over from its first "
            f"epoch (a --protocol full run keeps no partial model; the clips already preprocessed are kept in the "
            f"clip cache {cache.resolve()})") in " ".join(r.output.split()), r.output
    assert "resume" not in r.output and not (out / "model.pt").exists() and not list(out.glob("*.pt*"))
    clips = {p: p.stat().st_mtime_ns for p in cache.rglob("*.npz")}
    assert clips
    monkeypatch.undo()
    r = _train(easy, out, "--epochs", "1", "--protocol", "full")
    assert r.exit_code == 0 and (out / "model.pt").is_file(), r.output
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*.npz")} == clips


@pytest.mark.parametrize("protocol", ["full", "loso"])
def test_a_run_stopped_while_preprocessing_says_it_goes_on(easy, tmp_path, monkeypatch, protocol):
    """A run stopped while it filled the clip cache said a rerun would 'start the training over from its first
    epoch' (full) or 'start again' (LOSO): nothing had trained, so nothing starts over; the line says the rerun
    goes on. Stopped in its training, it says what a rerun starts over (the tests above)."""
    import signal

    def stop(*a, **kw):
        signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr(loso, "precompute", stop)
    for name in ("fit", "train_fold"):  # the full run's fit, the LOSO folds
        monkeypatch.setattr(loso, name, lambda *a, **kw: pytest.fail("trained after the stop"))
    out, cache = tmp_path / "run", easy[2]
    r = _train(easy, out, "--epochs", "1", "--protocol", protocol)
    assert r.exit_code == 143, r.output
    said = " ".join(r.output.split())
    assert (f"mpt-train: interrupted (SIGTERM); rerun the same command to go on: "
            f"{'its training had not started' if protocol == 'full' else 'no fold had started'} (the clips already "
            f"preprocessed are kept in the clip cache {cache.resolve()}; the rerun prepares the rest)") in said, said
    assert "start again" not in said and "over from its first epoch" not in said


def test_a_stopped_loso_run_says_which_folds_it_keeps(easy, tmp_path, monkeypatch):
    """A LOSO run stopped in its second fold: the line names the finished fold kept, and a rerun resumes from it."""
    out = tmp_path / "run"
    _stop_at_step(monkeypatch, 5)  # 1 epoch of 4-clip batches over 2 subjects' clips: fold 2's first steps
    r = _train(easy, out, "--epochs", "1")
    assert r.exit_code == 143, r.output
    assert (f"mpt-train: interrupted (SIGTERM); rerun the same command to resume (1 finished fold(s) kept in "
            f"{out / 'folds'};") in " ".join(r.output.split()), r.output
    assert len(list((out / "folds").glob("*.json"))) == 1


def test_a_library_keyboardinterrupt_after_sigterm_exits_143(tmp_path, monkeypatch):
    """Ray's ray.wait (the --ray folds) catches our SIGTERM and raises a KeyboardInterrupt of its own: the exit
    status is still SIGTERM's 143, as the message says (mpt_live.interrupts.exit_code), not 130."""
    import signal

    import train.cli as cli
    from mpt_live.interrupts import Stopped

    def run(*a, **kw):
        try:
            signal.raise_signal(signal.SIGTERM)
        except Stopped:
            raise KeyboardInterrupt() from None

    monkeypatch.setattr("train.run_checks.check_environment", lambda *a: None)
    monkeypatch.setattr(cli, "run_training", run)
    r = runner.invoke(app, ["--dataset", "casme2", "--data", str(tmp_path), "--out", str(tmp_path / "run")])
    assert "interrupted (SIGTERM)" in r.output and r.exit_code == 143, (r.exit_code, r.output)


@pytest.mark.parametrize("protocol, stage", [("loso", "preprocessing"), ("loso", "training"),
                                             ("full", "preprocessing"), ("full", "training")])
def test_a_full_disk_is_one_line_naming_the_file(tmp_path, monkeypatch, protocol, stage):
    """A full disk (the clip cache, a fold's JSON, the model) was a traceback; it is one line naming the file,
    exit 1, saying what a rerun keeps. The cache's write names its file (a failed write() names none). A full run
    said 'what is written is kept ... rerun to resume', but its training is lost: a rerun starts it over; one stopped
    while preprocessing (the clip cache's write) said so too, before any training: a rerun goes on."""
    import errno

    import train.cli as cli
    from train.datasets import cache

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    npz = tmp_path / ".cache" / "a.npz"
    with pytest.raises(OSError) as e:
        cache.write_clip(npz, np.zeros((3, 2, 2)), np.zeros((2, 3, 2, 2)), 0.0, {})
    monkeypatch.undo()
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(npz)
    monkeypatch.setattr("train.run_checks.check_environment", lambda *a: None)

    def run(console, cfg, out, protocol, metrics, ray, at):
        at(stage)  # how far the run got (train.run.Stage)
        raise e.value

    monkeypatch.setattr(cli, "run_training", run)
    r = runner.invoke(app, ["--dataset", "casme2", "--data", str(tmp_path), "--out", str(tmp_path / "run"),
                            "--protocol", protocol])
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), (r.exit_code, r.exception)
    kept = f"the clips already preprocessed are kept in the clip cache {tmp_path.resolve() / '.cache'}"
    rerun = {("full", "training"): "start the training over from its first epoch (a --protocol full run keeps no "
                                   f"partial model; {kept})",
             ("full", "preprocessing"): f"go on: its training had not started ({kept}; the rerun prepares the rest)",
             ("loso", "training"): f"start again (no fold had finished; {kept})",  # not '0 finished fold(s) kept'
             ("loso", "preprocessing"): f"go on: no fold had started ({kept}; the rerun prepares the rest)"}[
        protocol, stage]
    assert [ln for ln in r.output.splitlines() if ln.strip()] == [
        f"error: {npz}: not written (No space left on device); free some space and rerun the same "
        f"command to {rerun}"], r.output


@pytest.mark.parametrize("option", ["--threads", "--workers"])
def test_counts_far_beyond_the_machine_are_refused(tmp_path, option):
    """--threads 100000 / --workers 1000 went to torch as they were (threads; DataLoader processes, each importing
    torch): the machine ran out of memory."""
    r = runner.invoke(app, [*ARGS, "--data", str(tmp_path), "--out", str(tmp_path / "run"), option, "100000"])
    assert r.exit_code == 2 and isinstance(r.exception, SystemExit), (r.exit_code, r.exception)
    assert f"error: {option} 100000: more than 4" in r.output, r.output


def test_a_cache_that_is_a_file_is_one_line(tmp_path):
    """--cache (or the default RUN/../.cache) a file was a NotADirectoryError traceback once the clips were prepared."""
    (tmp_path / "data").mkdir()
    (tmp_path / "cache").write_text("")
    r = runner.invoke(app, [*ARGS, "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"),
                            "--cache", str(tmp_path / "cache")])
    assert r.exit_code == 2 and isinstance(r.exception, SystemExit), (r.exit_code, r.exception)
    assert [ln for ln in r.output.splitlines() if ln.strip()] == [
        f"error: --cache {tmp_path / 'cache'}: is a file, expected a folder"], r.output


def test_casme3_label_set_reaches_its_loader_and_only_casme3_takes_one(tmp_path, monkeypatch):
    import train.datasets

    seen = {}

    def fake(name, root, faces="align", **options):
        seen.update(name=name, **options)
        raise InputError(f"{root}: stop here")

    monkeypatch.setattr(train.datasets, "load_dataset", fake)
    data = tmp_path / "data"
    data.mkdir()
    base = ["--data", str(data), "--out", str(tmp_path / "run"), "--backbone-weights", "none"]
    r = runner.invoke(app, ["--dataset", "casme3", "--casme3-classes", "4", *base])
    assert r.exit_code == 2 and "stop here" in r.output and seen == {"name": "casme3", "classes": 4}, r.output
    r = runner.invoke(app, ["--dataset", "casme2", "--casme3-classes", "3", *base])
    assert r.exit_code == 2 and _one_error_line(r.output) and "only with --dataset casme3" in r.output, r.output


def test_model_summary_gives_the_patch_size_for_the_unseen_border_note(easy):
    """--image-size 104 on a patch-16 ViT: the last 8 px are never seen; mpt-train says so from this."""
    info = loso.model_summary(_config(easy, spec=ClipSpec(image_size=104, frames=10)), 3, gflops=False)
    from train.backbone import create_backbone

    assert info["patch"] == create_backbone(BACKBONE, 96).patch_embed.patch_size[0] > 0
    assert 104 % info["patch"] != 0 and 96 % info["patch"] == 0


def test_train_speed_bench_times_the_model_mpt_train_builds():
    """bench/train_speed.py times mpt-train's default model (flow prompts, their channels, the head on [CLS] +
    prompts) on each backbone; it built a prompt generator of its own, which mpt-train had stopped using."""
    from conftest import bench_script

    bench = bench_script("train_speed")
    ts = next(bench)
    try:
        default = fitting.model_config(TrainConfig(dataset="csv", data="."), 5)
        assert ts.mpt_config(default.backbone, default.image_size, default.frames) == default
        tiny = ts.mpt_config("vit_tiny_patch16_224", 112, 16)
        assert (tiny.backbone, tiny.image_size) == ("vit_tiny_patch16_224", 112)
        assert (tiny.prompt_flow, tiny.head_prompts, tiny.prompt_channels) == (
            default.prompt_flow, default.head_prompts, default.prompt_channels)
    finally:
        bench.close()


def test_the_confusion_matrix_fits_an_80_column_terminal():
    """Seven CAS(ME)^3 emotions as column heads made the matrix wider than 80 columns, and rich cut 'happiness' to
    'happine…'; where the names do not fit, the columns are the classes' numbers (rows '5 happiness')."""
    import io

    from rich.console import Console

    from train.loso_table import confusion_table

    seven = ["anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise"]
    for classes, width, numbered in ((seven, 80, True), (seven, 120, False), (["negative", "positive"], 80, False)):
        console = Console(width=width, file=io.StringIO(), color_system=None)
        confusion = [[10 * (i == j) for j in range(len(classes))] for i in range(len(classes))]
        console.print(confusion_table(console, classes, confusion))
        text = console.file.getvalue()
        assert "…" not in text and max(map(len, text.splitlines())) <= width, text
        assert ("5 happiness" in text) == numbered and all(c in text for c in classes), text


def test_a_twenty_class_confusion_matrix_fits_an_80_column_terminal():
    """20 classes: even numbered columns made the matrix 110 columns wide; now the predicted columns are split
    over tables that fit, every row named and every count printed."""
    import io

    from rich.console import Console

    from train.loso_table import confusion_table

    classes = [f"class{i:02d}" for i in range(20)]
    confusion = [[100 + 20 * i + j for j in range(20)] for i in range(20)]  # every count a distinct 3-digit number
    console = Console(width=80, file=io.StringIO(), color_system=None)
    console.print(confusion_table(console, classes, confusion))
    text = console.file.getvalue()
    assert "…" not in text and max(map(len, text.splitlines())) <= 80, text
    assert all(f"{i + 1} {c}" in text for i, c in enumerate(classes)), text
    cells = re.findall(r"\b\d{3}\b", text)
    assert sorted(map(int, cells)) == sorted(v for row in confusion for v in row), text


def test_a_subject_whose_every_clip_is_dropped_is_said_and_has_no_fold(easy, tmp_path, monkeypatch):
    """Every clip of a subject failing preprocessing (frames that do not decode, no face) left the subject out of
    the folds with only the per-clip lines to tell; the run now says which subject has no fold, and why."""
    from train.datasets import load_dataset

    index = load_dataset("casme2", easy[0])
    real = loso.precompute
    monkeypatch.setattr(loso, "precompute", lambda cache, samples, *a, **k: real(
        cache, [s for s in samples if s.subject != "sub02"], *a, **k))
    lines: list[str] = []
    data = loso.prepare_loso(_config(easy), tmp_path / "run", index, log=lines.append)
    n = sum(s.subject == "sub02" for s in index.samples)
    assert data.subjects == ["sub01", "sub03"] and n > 0
    assert [s for s in lines if "sub02" in s] == [
        f"subject sub02: all {n} of its clip(s) dropped in preprocessing (lines above): no LOSO fold tests it"]


def test_a_class_emptied_by_preprocessing_is_said(easy, tmp_path, monkeypatch):
    """check_classes counts the sheet's rows, before preprocessing: a class whose every clip failed there (or every
    clip but one subject's) went on unnoticed. The run now says so, and stops where fewer than 2 classes are left."""
    from train.datasets import load_dataset

    index = load_dataset("casme2", easy[0])
    by = {c: {s.subject for s in index.samples if s.label == c} for c in index.classes}
    thinned = next(c for c in index.classes if len(by[c]) > 1)
    keep = sorted(by[thinned])[0]
    real = loso.precompute

    def prepare(drop):
        monkeypatch.setattr(loso, "precompute", lambda cache, samples, *a, **k: real(
            cache, [s for s in samples if not drop(s)], *a, **k))
        lines: list[str] = []
        loso.prepare_loso(_config(easy), tmp_path / "run", index, log=lines.append)
        return [s for s in lines if s.startswith("class ")]

    assert prepare(lambda s: s.label == thinned and s.subject != keep) == [
        f"class {thinned}: its clips left after preprocessing are all subject {keep}'s (those of {len(by[thinned]) - 1} "
        f"other subject(s) dropped: lines above): the LOSO fold testing {keep} has no training clip of it"]
    # a --protocol full run has no fold: it said the same line about a 'LOSO fold testing' the subject
    lines: list[str] = []

    class Built(Exception):
        pass

    monkeypatch.setattr(loso, "build_model", lambda *a: (_ for _ in ()).throw(Built()))  # checked: stop there
    with pytest.raises(Built):
        loso.train_full(_config(easy), tmp_path / "full", index, log=lines.append)
    assert [s for s in lines if s.startswith("class ")] == [
        f"class {thinned}: its clips left after preprocessing are all subject {keep}'s (those of {len(by[thinned]) - 1} "
        f"other subject(s) dropped: lines above): the model learns it from subject {keep}'s clips alone"]
    assert prepare(lambda s: False) == []
    left = next(c for c in index.classes if c != thinned)
    with pytest.raises(InputError, match=rf": clips of 1 class\(es\) \({left}\) left after preprocessing"):
        prepare(lambda s: s.label == thinned)


def test_a_protocols_class_with_no_clip_is_named(easy, tmp_path, monkeypatch):
    """A copy of a dataset lacking some of its fixed protocol's classes (the easy set's sheet has 2 of CASME II's 5, as
    a CAS(ME)^3 copy without anger and sad) trained and exported outputs nothing trained, shown only in the counts:
    one line names them and says what becomes of them, where the other class lines come from (a LOSO run and a
    --protocol full one), before any clip is preprocessed; a class with clips is not named."""
    from train.datasets import load_dataset

    index = load_dataset("casme2", easy[0])
    empty = [c for c in index.classes if not any(s.label == c for s in index.samples)]
    assert len(empty) == 3 and len(index.classes) == 5

    class Stop(Exception):
        pass

    def stop(*a, **k):
        raise Stop

    monkeypatch.setattr(loso, "check_or_store_config", stop)
    monkeypatch.setattr(loso, "make_cache", stop)
    cfg = _config(easy)
    for run in (loso.prepare_loso, loso.train_full):
        lines: list[str] = []
        with pytest.raises(Stop):
            run(cfg, tmp_path / run.__name__, index, log=lines.append)
        assert lines == [f"{cfg.data}: no clip of class(es) {', '.join(empty)} (of the 5 of its protocol): no clip "
                         "trains or tests them; the model keeps an output for each, trained on no clip of it (it "
                         "learns not to give them), and UF1 and UAR are means over the classes with clips"]
    from types import SimpleNamespace as S

    lines = []
    check_classes(["a", "b"], [S(label=c, subject="s1") for c in "ab"], "D", log=lines.append)
    assert lines == []


def test_a_class_with_no_clip_left_is_said():
    from types import SimpleNamespace as S

    before = [S(label=c, subject=f"s{k}") for c in ("a", "b", "c") for k in (1, 2)]
    lines: list[str] = []
    check_classes(["a", "b", "c"], [s for s in before if s.label != "b"], "D", before, lines.append)
    assert lines == ["class b: all 2 of its clip(s) dropped in preprocessing (lines above): no clip trains or tests it"]


def test_a_fold_that_trains_on_one_clip_says_clip_in_the_singular(monkeypatch):
    """A fold's progress label said '(sub01, 1 train clips)'. The model, its training and prediction are replaced
    (public names of train.loso): the label handed to fit is what is checked."""
    from types import SimpleNamespace

    said = []
    monkeypatch.setattr(loso, "build_model", lambda cfg, n: None)
    monkeypatch.setattr(loso, "CachedClips", lambda samples, *rest: samples)
    monkeypatch.setattr(loso, "fit", lambda model, clips, cfg, n, seed, progress, label: said.append(label) or [0.1])
    monkeypatch.setattr(loso, "predict", lambda model, clips, cfg: np.tile([0.9, 0.1], (len(clips), 1)))
    cfg = TrainConfig("casme2", ".")
    for train in (1, 2):
        samples = [SimpleNamespace(subject="sub01", clip_id="a")] + \
            [SimpleNamespace(subject="sub02", clip_id=f"b{i}") for i in range(train)]
        fold = loso.train_fold(cfg, samples, [0] + [1] * train, 2, None, 0, "sub01", label="fold 1/2")
        assert fold["train_clips"] == train and fold["n"] == 1
    assert said == ["fold 1/2 (sub01, 1 train clip)", "fold 1/2 (sub01, 2 train clips)"]
