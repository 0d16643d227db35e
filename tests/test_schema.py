"""One output schema whatever the flags: motion-only, with a model, with --save-video (through the CLI)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import cv2
import pytest
from typer.testing import CliRunner

from mpt_live.cli import app
from mpt_live.results import columns
from mpt_live.runtime import MPTRuntime, demo_model_path

from tinymodel import tiny_onnx

runner = CliRunner()
RUNS = {
    "motion-only": ["--motion-only"],
    "motion-only-video": ["--motion-only", "--save-video"],
    "model": ["--model", "{model}"],
    "model-video": ["--model", "{model}", "--save-video"],
}


@pytest.fixture(scope="module")
def outputs(faces_dir, tmp_path_factory):
    """Each run's (predictions.csv header line as bytes, summary dict, model classes) on a 40-frame real clip;
    the model run with --save-video also as ("model-video-run": (output folder, terminal output, model path))."""
    tmp = tmp_path_factory.mktemp("schema")
    model = demo_model_path() if demo_model_path().is_file() else tiny_onnx(tmp / "tiny.onnx")
    clip = tmp / "clip.mp4"  # 40 frames: a second and a third of face, so some windows are full and scored
    cap = cv2.VideoCapture(str(faces_dir / "videos" / "pyfeat_single_face.mp4"))
    w = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (640, 360))
    for _ in range(40):
        w.write(cap.read()[1])
    w.release()
    got = {}
    for name, args in RUNS.items():
        out = tmp / name
        res = runner.invoke(app, ["--video", str(clip), "--headless", "--out", str(out), "--device", "cpu",
                                  *[a.format(model=model) for a in args]])
        assert res.exit_code == 0, res.output
        with open(out / "predictions.csv", "rb") as fh:
            header = fh.readline()
        classes = MPTRuntime(model, device="cpu").classes if "--model" in args else []
        got[name] = (header, json.loads((out / "summary.json").read_text()), classes)
        if name == "model-video":
            run = (out, res.output, model)
    return got, run


def _keys(d: object, skip=("labels",)) -> object:
    """The key structure of a JSON value (dicts to their keys, recursively); data-keyed dicts not opened."""
    if isinstance(d, dict):
        return {k: (None if k in skip else _keys(v)) for k, v in d.items()}
    return None


def _without_probabilities(header: bytes, classes: list[str]) -> bytes:
    return b",".join(c for c in header.split(b",") if c.decode() not in {f"p_{k}" for k in classes})


def test_csv_header_is_the_same_for_every_run_but_the_models_classes(outputs):
    outputs, _ = outputs
    motion_only = outputs["motion-only"][0]
    assert motion_only == (",".join(columns([])) + "\r\n").encode()
    for name, (header, _, classes) in outputs.items():
        assert header == (",".join(columns(classes)) + "\r\n").encode(), name
        assert _without_probabilities(header, classes) == motion_only, name
    assert outputs["model"][0] == outputs["model-video"][0]


def test_summary_keys_and_default_stride_are_the_same_for_every_run(outputs):
    outputs, _ = outputs
    shapes = {name: json.dumps(_keys(s), sort_keys=False) for name, (_, s, _) in outputs.items()}
    assert len(set(shapes.values())) == 1, shapes
    assert {s["stride"] for _, s, _ in outputs.values()} == {2}
    assert {name: s["outputs"]["video"] for name, (_, s, _) in outputs.items()} == {
        "motion-only": None, "motion-only-video": "annotated.mp4", "model": None, "model-video": "annotated.mp4"}
    assert {name: s["windows_classified"] > 0 for name, (_, s, _) in outputs.items()} == {
        "motion-only": False, "motion-only-video": False, "model": True, "model-video": True}


SUMMARY_DOC = Path(__file__).resolve().parents[1] / "docs" / "summary.md"
# keys only some runs write (a stop signal, --resume, the running marker and --finish): each must be a key the code
# writes as a key: a dict literal's ("key": ...), an assignment by subscript (d["key"] = ...) or a keyword argument
# (d.update(key=...)); a read (d.get("key"), d["key"]) or a name in a list of keys is not a write
CONDITIONAL = {"stopped_by", "resumed_at_s", "faces_before_resume", "started", "finished"}
# dicts keyed by data (class, label or file names) and the clip spec (docs/CONTRACTS.md lists it): not opened
OPAQUE = ("labels", "probabilities", "errors", "clip_spec", "stamps")


def written_as_key(key: str, code: str) -> bool:
    """Whether the Python source ``code`` writes ``key`` into a dict (see CONDITIONAL): read by its syntax tree, so
    a parameter's default (``def f(key=None)``, ``lambda key=1: ...``) is not a keyword argument of a call."""
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Dict) and any(_is_text(k, key) for k in node.keys):
            return True
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign) else [])
        if any(isinstance(t, ast.Subscript) and _is_text(t.slice, key) for t in targets):
            return True
        if isinstance(node, ast.Call) and any(kw.arg == key for kw in node.keywords):
            return True
    return False


def _is_text(node: ast.AST | None, text: str) -> bool:
    return isinstance(node, ast.Constant) and node.value == text


def _key_names(d: object) -> set[str]:
    if isinstance(d, list):
        return set().union(*(_key_names(v) for v in d)) if d else set()
    if isinstance(d, dict):
        return set(d).union(*(_key_names(v) for k, v in d.items() if k not in OPAQUE))
    return set()


def test_every_summary_key_is_documented_and_every_documented_key_written(outputs):
    """docs/summary.md lists summary.json's keys: a key added to a run's summary without its row there, or a row
    left for a key no run writes any more, fails here."""
    outputs, _ = outputs
    doc = SUMMARY_DOC.read_text()
    written = set().union(*(_key_names(s) for _, s, _ in outputs.values()))
    assert {"status", "tracking", "closer_looks", "capture_to_prediction_p95"} <= written
    documented = set(re.findall(r"`([a-z_0-9]+)`", doc))
    assert not sorted(written - documented), "summary.json keys docs/summary.md does not list"
    rows = set(re.findall(r"^\| `([a-z_0-9]+)` \|", doc, re.M))
    assert not sorted(rows - written - CONDITIONAL), "docs/summary.md rows of keys no run writes"
    code = [p.read_text() for p in (Path(__file__).resolve().parents[1] / "mpt_live").glob("*.py")]
    assert not sorted(k for k in CONDITIONAL if not any(written_as_key(k, c) for c in code)), \
        "conditional keys no code writes"


def test_a_conditional_key_counts_as_written_only_where_code_writes_it_as_a_key():
    """The check above once took any quoted word for a write: `"started"` in a list of keys to read, or
    summary.get("finished"), passed it for a key no code writes; and then a parameter's default (`def f(started=
    None)`) for a keyword argument."""
    for write in ('m = {"status": 1, "started": t}', 'summary["started"] = t', 'summary.update(started=t)',
                  'd = dict(a=1,\n  started=t)', 'summary["started"]: str = t', 'f(**{"started": t})'):
        assert written_as_key("started", write), write
    for read in ('KEYS = ("status", "started", "stamps")', 'x = summary.get("started")',
                 'if s["started"] == t:\n    pass', 'print("started")', 'when = summary["started"]', 'restarted = 1',
                 'if started == 1:\n    pass', 'def f(started=None):\n    return started',
                 'def f(a, *, started=0):\n    return started', 'g = lambda started=1: started',
                 'def f(\n    started=None,\n):\n    pass'):
        assert not written_as_key("started", read), read


def test_model_run_with_save_video_writes_every_output(outputs):
    _, (out, terminal, model) = outputs
    for name in ("predictions.csv", "summary.json", "timeline.png", "annotated.mp4"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["windows"] == 20 and summary["frames_read"] == 40  # 40 frames, a window every 2
    assert int(cv2.VideoCapture(str(out / "annotated.mp4")).get(cv2.CAP_PROP_FRAME_COUNT)) == 40
    assert summary["model"]["path"] == str(model) and summary["provider"] == "CPUExecutionProvider"
    # a demo model is labelled as one on the terminal and in the summary; any other model is not
    demo = MPTRuntime(model, device="cpu").demo
    assert summary["model"]["demo"] is demo
    assert ("DEMO MODEL" in terminal) is demo
    assert ("DEMO MODEL" in (summary["model"]["note"] or "")) is demo


def test_a_window_row_has_the_files_columns_in_order_with_or_without_probabilities():
    """WindowResult.row() is what a script collects from a Session: a warming-up or faceless window had no p_<class>
    keys, and the others had top and confidence before them, so a DataFrame of rows was not the file's table."""
    import numpy as np

    from mpt_live.results import WindowResult

    classes = ("happiness", "surprise")
    warming = WindowResult(1.0, 30, 0, (1, 2, 3, 4), None, None, classes)
    full = WindowResult(2.0, 60, 0, (1, 2, 3, 4), 0.5, np.array([0.25, 0.75], np.float32), classes)
    assert list(warming.row()) == list(full.row()) == columns(classes)
    assert warming.row()["p_happiness"] is None and full.row()["p_surprise"] == 0.75
    assert list(WindowResult(3.0, 90, None, None, None, None).row()) == columns([])
