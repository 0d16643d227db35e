"""The package's shape: small modules, imports only downwards, no name that shadows another module."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mpt_live"
MAX_LINES = 400

# Layers of mpt_live, lowest first; a module may import from its own layer or a lower one.
LAYERS = {
    "stages": ["errors", "writers", "photos", "interrupts", "quiet", "opengop", "videoprobe", "frametimes", "sources", "framenames", "recordings", "readahead", "latest_frame", "capture",
               "face_actions", "synthface", "demo_input", "stabilize", "smoothing", "tracker", "face_template", "face_types", "tiles", "face_confirm", "blazeface", "face",
               "identity", "tracks", "face_watch",
               "clip", "clip_stream", "motion", "thumbnails", "machine", "providers", "runtime", "batching", "model_worker", "facemotion",
               "spotting", "face_state", "results"],
    "session": ["session"],
    "consumers": ["rundir", "overview", "timeline", "report_page", "review", "apexframes", "report", "draw", "overlay", "view", "window", "terminal", "job", "finish",
                  "sheet"],
    "entry points": ["batch", "pool", "ray_batch", "demo_report", "cli_options", "cli", "launch"],
}
LEVEL = {m: i for i, mods in enumerate(LAYERS.values()) for m in mods}


def _modules() -> list[str]:
    return sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def _imports(path: Path) -> set[str]:
    """Top-level names of everything a file imports (relative imports of mpt_live as 'mpt_live.<module>')."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # from .x import y / from . import x
                mods = [node.module] if node.module else [a.name for a in node.names]
                out |= {f"mpt_live.{m.split('.')[0]}" for m in mods}
            elif node.module:
                out.add(node.module)
    return out


def test_every_module_has_a_layer():
    assert sorted(LEVEL) == _modules()


@pytest.mark.parametrize("module", _modules())
def test_module_is_small_and_imports_only_downwards(module):
    path = PACKAGE / f"{module}.py"
    assert len(path.read_text().splitlines()) <= MAX_LINES, f"{module}.py: over {MAX_LINES} lines, probably two ideas"
    imports = _imports(path)
    inside = {i.split(".")[1] for i in imports if i.startswith("mpt_live.") and i.count(".") >= 1}
    upward = sorted(m for m in inside if LEVEL.get(m, -1) > LEVEL[module])
    assert not upward, f"{module} (layer {LEVEL[module]}) imports from higher layers: {upward}"
    # the runtime is torch-free and never reaches into training or export
    assert not {i.split(".")[0] for i in imports} & {"torch", "timm", "train", "export"}, imports


def test_model_worker_does_not_draw():
    assert not {"mpt_live.overlay", "mpt_live.draw", "mpt_live.view"} & _imports(PACKAGE / "model_worker.py")


@pytest.mark.parametrize("folder", ["mpt_live", "bench"])
def test_no_file_shadows_a_standard_or_project_module(folder):
    """A script's folder comes first on sys.path: bench/train.py once hid the train package, mpt_live/inspect.py
    the standard library's inspect."""
    taken = set(sys.stdlib_module_names) | {"train", "export", "mpt_live", "tests"}
    clashes = sorted(p.name for p in (ROOT / folder).glob("*.py") if p.stem in taken)
    assert not clashes


def test_cli_reference_is_current():
    """docs/cli.md is generated from the five tools' help; an option added or changed without
    regenerating it (python scripts/cli_docs.py) fails here."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    p = subprocess.run([sys.executable, str(root / "scripts" / "cli_docs.py"), "--check"], capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr


def test_no_name_is_used_that_is_never_defined():
    """A name used but defined nowhere (a helper renamed in one module and still called by its old name in
    another, merged from two branches) is a NameError only when that line runs: a run on a video with an
    event lost its report.html so. ruff's undefined-name checks (F821-F823) read every module."""
    import subprocess

    dirs = [str(ROOT / d) for d in ("mpt_live", "train", "export", "bench", "scripts", "tests")]
    res = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", "--select",
                          "F821,F822,F823", "--output-format", "concise", *dirs], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_no_module_reads_another_modules_private_names():
    """``module._name`` or ``from module import _name`` of another module of the project (composite.py read
    smic._has_micro_subjects; report.py and finish.py imported timeline._num): what a module shares is public and
    documented."""
    ours = ("mpt_live", "train", "export")
    found = []
    for path in sorted(p for pkg in ours for p in (ROOT / pkg).rglob("*.py")):
        tree = ast.parse(path.read_text())
        modules = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] in ours):
                modules |= {a.asname or a.name for a in node.names}
                found += [f"{path.relative_to(ROOT)}:{node.lineno} from {'.' * node.level}{node.module or ''} import "
                          f"{a.name}" for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
            elif isinstance(node, ast.Import):
                modules |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name.split(".")[0] in ours}
        found += [f"{path.relative_to(ROOT)}:{node.lineno} {node.value.id}.{node.attr}" for node in ast.walk(tree)
                  if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                  and node.attr.startswith("_") and not node.attr.startswith("__")]
    assert not found, found
