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
    "stages": ["errors", "clocktime", "reach", "writers", "photos", "interrupts", "quiet", "scratch", "opengop", "sizechange", "videotracks", "cues", "fieldorder", "videoprobe", "pyav_capture", "cutoff", "frametimes", "damage", "file_reason", "sources", "framenames", "framefolder", "recordings", "readahead", "latest_frame", "url_reason", "paced_video", "capture",
               "face_actions", "synthface", "demo_input", "frame_warp", "stabilize", "smoothing", "tracker", "face_template", "face_types", "tiles", "face_confirm", "blazeface", "track_align", "face", "crop_search", "upright",
               "identity", "track_record", "cuts", "entries", "square_looks", "tracks", "face_watch",
               "clip", "clip_stream", "rankpool", "bandpass", "motion", "thumbnails", "machine", "providers", "load_errors", "model_trust", "runtime", "batching", "model_worker", "facemotion", "window_stats",
               "spot_extent", "spot_channel", "spotting", "occlusion", "face_state", "results"],
    "session": ["run_summary", "session_config", "session"],
    "consumers": ["rundir", "outkind", "overview_page", "overview", "timeline", "report_page", "review", "apexframes", "report_svg", "report", "draw", "face_tags", "overlay_layout", "overlay", "view", "window", "terminal", "references", "job", "finish", "resume",
                  "sheet"],
    "entry points": ["batch", "pool", "ray_batch", "demo_report", "cli_options", "cli_runs", "cli", "launch"],
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


@pytest.mark.parametrize("path", sorted(str(p.relative_to(ROOT)) for pkg in ("train", "export")
                                        for p in (ROOT / pkg).rglob("*.py")))
def test_training_and_export_modules_are_small(path):
    """The same limit for train/ and export/ (train/cli.py reached it: its run part is train/run.py)."""
    assert len((ROOT / path).read_text().splitlines()) <= MAX_LINES, f"{path}: over {MAX_LINES} lines, probably two ideas"


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
    event lost its report.html so. ruff's undefined-name checks (F821-F823) read every module; its checks of
    imports and local variables never used (F401, F841: what a moved or renamed helper leaves behind) too."""
    import subprocess

    dirs = [str(ROOT / d) for d in ("mpt_live", "train", "export", "bench", "scripts", "tests")]
    res = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", "--select",
                          "F401,F821,F822,F823,F841", "--output-format", "concise", *dirs], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_ruff_with_the_projects_settings_passes_on_the_code():
    """pyproject.toml's [tool.ruff]: ``ruff check mpt_live train export bench scripts tests`` (no options) passes.
    Without it ruff 0.17's own default set reported 437 findings (import order, pyupgrade's annotations, ...) the code
    does not follow; bench/, scripts/ and tests/ had 8 with it (a lambda assigned, a name ``l``, an f-string with no
    field, a fixture imported from another test module and shadowed by each test's argument)."""
    import subprocess

    res = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "mpt_live",
                          "train", "export", "bench", "scripts", "tests"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


OURS = ("mpt_live", "train", "export")


def _private_reads(path: Path) -> list[tuple[int, str]]:
    """(line, what) for each private name (``_x``, not ``__x__``) of a project module that a file reaches: ``from m
    import _x``, ``m._x`` (also ``m.Class._x``, ``mpt_live.m._x``), and a test's ``monkeypatch.setattr(m, "_x", ...)``
    or ``setattr("mpt_live.m._x", ...)``; ``m`` is any name the file imported from mpt_live, train or export."""
    def private(name: str) -> bool:
        return name.startswith("_") and not name.startswith("__")

    tree = ast.parse(path.read_text())
    modules, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] in OURS):
            modules |= {a.asname or a.name for a in node.names}
            found += [(node.lineno, f"from {'.' * node.level}{node.module or ''} import {a.name}")
                      for a in node.names if private(a.name)]
        elif isinstance(node, ast.Import):
            modules |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name.split(".")[0] in OURS}

    def ours(node: ast.expr) -> bool:
        while isinstance(node, ast.Attribute):
            node = node.value
        return isinstance(node, ast.Name) and node.id in modules

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr) and ours(node.value):
            found.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)) and node.args:
            if (node.func.id if isinstance(node.func, ast.Name) else node.func.attr) not in ("setattr", "delattr",
                                                                                            "object"):
                continue
            first, name = node.args[0], node.args[1] if len(node.args) > 1 else None
            if isinstance(name, ast.Constant) and isinstance(name.value, str) and private(name.value) and ours(first):
                found.append((node.lineno, f"{ast.unparse(first)}.{name.value}"))
            elif isinstance(first, ast.Constant) and isinstance(first.value, str) \
                    and first.value.split(".")[0] in OURS and any(map(private, first.value.split("."))):
                found.append((node.lineno, first.value))
    return found


def test_no_module_reads_another_modules_private_names():
    """``module._name`` or ``from module import _name`` of another module of the project (composite.py read
    smic._has_micro_subjects; report.py and finish.py imported timeline._num): what a module shares is public and
    documented."""
    files = sorted(p for pkg in OURS for p in (ROOT / pkg).rglob("*.py"))
    found = [f"{path.relative_to(ROOT)}:{line} {what}" for path in files for line, what in _private_reads(path)]
    assert not found, found


# The private names a test may still replace, each a seam for something a test cannot have or must not start;
# (file, what it replaces): why. Nothing else in tests/, bench/ or scripts/ reads a private name of the project.
PRIVATE_SEAMS = {
    ("tests/test_cache.py", "ClipCache._get_aligner"): "a fake aligner instead of the face detector",
    ("tests/test_cli_live.py", "cli._load"): "the model must not be loaded before a refusal",
    ("tests/test_cli_live.py", "rb._ray"): "Ray must not be started before a refusal",
    ("tests/test_providers.py", "providers._load_library"): "the OS's loader of the CUDA libraries, faked",
    ("tests/test_train_device.py", "providers._load_library"): "the OS's loader of the CUDA libraries, faked",
    ("tests/test_startup.py", "FaceAligner._detect"): "counts the detector's runs, which no output shows",
    ("tests/test_timeline.py", "timeline._rescanned"): "the once-a-process font rescan, reset for a second look",
    ("tests/test_spot_metrics.py", "ev._score"): "the scoring, replaced by a result whose names need escaping",
    ("tests/test_session_spotting.py", "Channel._measure"): "a stop signal sent from inside a spotter channel's push, "
        "where it left the channel's frames and count apart",
    ("tests/test_ps_cut.py", "cutoff._ps_walk"): "counts the walks of a stream's packs and the bytes they cover, which "
                                                "no output shows",
}


def _private_names_defined(tree: ast.AST) -> set[str]:
    """Private names (``_x``, not ``__x__``) a file defines: functions, classes, methods, module or class-body
    names, and the attributes its methods set (``self._x = ...``, ``cls._x = ...``)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and isinstance(node.value, ast.Name) \
                and node.value.id in ("self", "cls"):
            out.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
    return {n for n in out if n.startswith("_") and not n.startswith("__")}


def _private_attribute_reads(path: Path, project: set[str]) -> list[tuple[int, str]]:
    """(line, what) for each private attribute of a project object a file reaches: ``obj._x`` (read, written or
    replaced, ``obj`` anything but the file's own ``self``/``cls``) and ``setattr(obj, "_x", ...)``, where ``_x`` is
    a private name the project defines (``project``) and the file itself does not (a test's fake may have its own
    ``_x``). The objects' types are not known here, so a name is matched, not a class: an object of another library
    whose private attribute has the name of one of ours would be reported too (none is, as written)."""
    tree = ast.parse(path.read_text())
    theirs = project - _private_names_defined(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in theirs \
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
            found.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.Call) and len(node.args) > 1 and isinstance(node.args[1], ast.Constant) \
                and node.args[1].value in theirs:
            found.append((node.lineno, f"{ast.unparse(node.args[0])}.{node.args[1].value}"))
    return found


def test_tests_benches_and_scripts_use_only_public_names():
    """tests/ read face._warp, ray_batch._write_outputs, report._clock ..., bench/ spotting._LOWER: a function a test
    or a script needs is part of its module's API and is public; a private one is tested through what it does.
    The same for the private attributes of the project's objects (tests read reader._slot, session._worker, a
    bench replaced Magnifier._filters): what a test needs to see is a documented read-only property, what it needs
    to replace a documented parameter. Replacing a private seam (monkeypatch) is allowed only where listed in
    PRIVATE_SEAMS, with its reason."""
    project = set().union(*(_private_names_defined(ast.parse(p.read_text()))
                            for pkg in OURS for p in (ROOT / pkg).rglob("*.py")))
    files = sorted(p for d in ("tests", "bench", "scripts") for p in (ROOT / d).rglob("*.py"))
    reads = sorted({(str(p.relative_to(ROOT)), line, what) for p in files
                    for line, what in _private_reads(p) + _private_attribute_reads(p, project)})
    found = [f"{f}:{line} {what}" for f, line, what in reads if (f, what) not in PRIVATE_SEAMS]
    assert not found, found
    unused = sorted(set(PRIVATE_SEAMS) - {(f, what) for f, _, what in reads})
    assert not unused, f"PRIVATE_SEAMS entries no file uses any more: {unused}"


def _runs_as_script(tree: ast.Module) -> bool:
    """Whether a file has an ``if __name__ == "__main__":`` block at its top level."""
    return any(isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
               and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__"
               and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in node.test.comparators)
               for node in tree.body)


def _calls_vector_extensions(node: ast.AST, tree: ast.Module, sibling, depth: int = 0) -> bool:
    """Whether ``node`` (a file or one of its functions) calls mpt_live's vector_extensions: by the name it was
    imported under from mpt_live.machine or mpt_live.runtime, as ``module.vector_extensions``, or through a
    function of a sibling bench script (``import small_faces; small_faces.f()``, ``import small_faces as sf; sf.f()``
    or ``from small_faces import f``) whose own body does; ``sibling(name)`` gives a sibling script's source, None
    where there is none."""
    ours, siblings, from_sibling = set(), {}, {}
    for imp in ast.walk(tree):
        if isinstance(imp, ast.ImportFrom) and imp.module in ("mpt_live.machine", "mpt_live.runtime"):
            ours |= {a.asname or a.name for a in imp.names if a.name == "vector_extensions"}
        elif isinstance(imp, ast.ImportFrom) and not imp.level and imp.module and sibling(imp.module) is not None:
            from_sibling |= {a.asname or a.name: (imp.module, a.name) for a in imp.names}
        elif isinstance(imp, ast.Import):
            siblings |= {a.asname or a.name: a.name for a in imp.names if sibling(a.name) is not None}

    def helper_does(module: str, name: str) -> bool:
        other = ast.parse(sibling(module))
        return depth < 3 and any(isinstance(f, ast.FunctionDef) and f.name == name
                                 and _calls_vector_extensions(f, other, sibling, depth + 1) for f in other.body)

    for call in ast.walk(node):
        if not isinstance(call, ast.Call):
            continue
        f = call.func
        if isinstance(f, ast.Name) and f.id in ours:
            return True
        if isinstance(f, ast.Attribute) and f.attr == "vector_extensions":
            return True
        if isinstance(f, ast.Name) and f.id in from_sibling and helper_does(*from_sibling[f.id]):
            return True
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in siblings \
                and helper_does(siblings[f.value.id], f.attr):
            return True
    return False


def _bench_source(name: str) -> str | None:
    path = ROOT / "bench" / f"{name}.py"
    return path.read_text() if path.is_file() else None


def _script_without_vector_extensions(source: str, sibling=_bench_source) -> bool:
    """Whether a source is a script (has a ``__main__`` block) that never calls vector_extensions."""
    tree = ast.parse(source)
    return _runs_as_script(tree) and not _calls_vector_extensions(tree, tree, sibling)


def test_every_bench_prints_the_cpus_vector_extensions():
    """A figure without the CPU behind it cannot be compared with another (an AVX-512 machine's and an AVX2
    one's differ by more than most changes): every bench/ script calls mpt_live.machine.vector_extensions, or a
    helper of another bench script that does, to print it beside its figures."""
    missing = sorted(p.name for p in (ROOT / "bench").glob("*.py") if _script_without_vector_extensions(p.read_text()))
    assert not missing, f"bench scripts that do not print the CPU's vector extensions: {missing}"


def test_the_vector_extensions_check_sees_a_bench_without_them():
    main = '\nif __name__ == "__main__":\n    main()\n'
    helper = ("from mpt_live.machine import vector_extensions as vx\n"
              "def header():\n    print(vx())\n"
              "def other():\n    print('no cpu')\n")
    siblings = {"common": helper}.get
    missing = {
        "nothing": "def main():\n    print(1.0)\n" + main,
        "imported, never called": "from mpt_live.machine import vector_extensions\ndef main():\n    print(1.0)\n" + main,
        "a look-alike of its own": "def vector_extensions():\n    return ''\ndef main():\n    print(vector_extensions())\n" + main,
        "a helper that does not": "import common\ndef main():\n    common.other()\n" + main,
        "a helper that does not, aliased": "import common as c\ndef main():\n    c.other()\n" + main,
        "a helper of no sibling": "from elsewhere import header\ndef main():\n    header()\n" + main,
    }
    not_flagged = {
        "by name": "from mpt_live.machine import vector_extensions\ndef main():\n    print(vector_extensions())\n" + main,
        "renamed, from runtime": "from mpt_live.runtime import vector_extensions as v\nprint(v())\n" + main,
        "as an attribute": "import mpt_live.machine as m\nprint(m.vector_extensions())\n" + main,
        "a sibling's helper": "import common\ndef main():\n    common.header()\n" + main,
        "a sibling imported under an alias": "import common as c\ndef main():\n    c.header()\n" + main,
        "a helper imported": "from common import header\ndef main():\n    header()\n" + main,
        "no __main__ block": "def rows():\n    return [1.0]\n",
    }
    assert [k for k, s in missing.items() if not _script_without_vector_extensions(s, siblings)] == []
    assert [k for k, s in not_flagged.items() if _script_without_vector_extensions(s, siblings)] == []
