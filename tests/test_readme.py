"""README.md and the docs against the code: the options their command lines use exist, their links and the
repository paths the README names are there, and the README's Layout names every module of the code folders."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import typer

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TOOLS = {"mpt-live": "mpt_live.cli", "mpt-train": "train.cli", "mpt-export": "export.cli",
         "mpt-synth": "train.synth_cli", "mpt-eval": "train.eval_cli"}
# a tool's name where a command starts (not inside a path or a package spec such as 'mpt-live[cluster]'), then the
# rest of that command: up to the end of the code span, a comment, or a second command on the same line
COMMAND = re.compile(r"(?<![\w/.-])(mpt-(?:live|train|export|synth|eval))(?![\w\[-])([^`#\n]*)")
END = re.compile(r"\bmpt-(?:live|train|export|synth|eval)\b|;|\bthen\b|\(")
OPTION = re.compile(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*)")


def _options(command: click.Command) -> set[str]:
    names = {n for p in command.params for n in (*p.opts, *p.secondary_opts) if n.startswith("--")}
    for sub in getattr(command, "commands", {}).values():  # mpt-eval spot
        names |= _options(sub)
    return names


@pytest.fixture(scope="module")
def tool_options() -> dict[str, set[str]]:
    import importlib

    return {tool: _options(typer.main.get_command(importlib.import_module(module).app))
            for tool, module in TOOLS.items()}


def command_options(text: str) -> list[tuple[int, str, str]]:
    """(line, tool, option) of every --option on an mpt-* command line of a markdown text."""
    found = []
    for n, line in enumerate(text.replace("\\\n", " ").splitlines(), 1):
        for m in COMMAND.finditer(line):
            found += [(n, m.group(1), o) for o in OPTION.findall(END.split(m.group(2))[0])]
    return found


def test_command_options_are_found():
    text = ("mpt-live --video a.mp4 --out runs/a  # the --jobs here is a comment\n"
            "`mpt-train --dataset csv \\\n  --epochs 2` then `mpt-export RUN --int8`; pip install 'mpt-live[cluster]' --x\n")
    assert command_options(text) == [(1, "mpt-live", "--video"), (1, "mpt-live", "--out"),
                                     (2, "mpt-train", "--dataset"), (2, "mpt-train", "--epochs"),
                                     (2, "mpt-export", "--int8")]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_option_of_a_documented_command_exists(doc, tool_options):
    wrong = [f"{doc.name}:{n}: {tool} has no {opt}" for n, tool, opt in command_options(doc.read_text())
             if opt not in tool_options[tool]]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_links_point_at_files(doc):
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text())
    missing = [p for p in links if not re.match(r"\w+://", p) and not (doc.parent / p).exists()]
    assert not missing, missing


def test_repository_paths_in_the_readme_exist():
    """`mpt_live/face.py`, `bench/tiles.py`, `scripts/heldout_faces.py`, `tests/test_tiles.py` ...: the files the
    README sends a reader to (the docs keep historical names of removed scripts, labelled as such)."""
    text = (ROOT / "README.md").read_text()
    paths = set(re.findall(r"(?<![\w/.])((?:mpt_live|train|export|bench|scripts|tests|docs)/[\w/.-]+\.(?:py|sh|md))",
                           text))
    assert len(paths) > 20
    assert not sorted(p for p in paths if not (ROOT / p).exists())


def layout_sections(text: str) -> dict[str, str]:
    """The README's Layout block, split by its top-level folders: {'mpt_live': the rows under 'mpt_live/', ...}."""
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    sections: dict[str, str] = {}
    folder = None
    for line in block.splitlines():
        m = re.match(r"([\w.]+)/\s", line)
        if m:
            folder = m.group(1)
        if folder:
            sections[folder] = sections.get(folder, "") + line + "\n"
    return sections


def test_layout_sections_are_found():
    text = ("## Layout\n\n```\nmpt_live/   the runtime\n  a.py   does a\n                 (b.py beside it)\n"
            "bench/      figures\n  c.py   costs\n```\n\n## Tests\n")
    sections = layout_sections(text)
    assert sorted(sections) == ["bench", "mpt_live"]
    assert "b.py" in sections["mpt_live"] and "c.py" not in sections["mpt_live"]


@pytest.mark.parametrize("folder", ["mpt_live", "train", "export", "bench", "scripts"])
def test_layout_names_every_module_and_no_gone_one(folder):
    """The README's Layout names each module of the code folders and scripts/ (under its own folder) and lists no
    file that is not there: a module added, renamed or removed without its row fails here."""
    section = layout_sections((ROOT / "README.md").read_text())[folder]
    named = set(re.findall(r"(?<![\w/.])(\w+\.(?:py|sh))\b", section))
    present = {p.name for p in (ROOT / folder).iterdir() if p.suffix in (".py", ".sh") and p.name != "__init__.py"}
    assert not sorted(present - named), f"{folder}/ modules the README's Layout does not name"
    rows = set(re.findall(r"^  ([\w/]+(?:\.py|\.sh|/))\s", section, re.M)) if folder != "scripts" else named
    assert rows, section
    assert not sorted(r for r in rows if not (ROOT / folder / r).exists()), f"Layout rows of {folder}/ that are gone"


SCRIPT = re.compile(r"python ((?:bench|scripts)/\w+\.py|-m (?:train|export|mpt_live)\.\w+)\b([^`#\n]*)")
# records of earlier code (docs/results.md names its removed benches and the commit that restores them): their
# commands are as they ran then
HISTORY = {"results.md", "measurements.md"}


def script_options(text: str) -> list[tuple[int, str, str | None]]:
    """(line, script, option) of every --option on a `python bench/x.py`, `python scripts/x.py` or `python -m
    train.x` line (option None: the command has none); what follows a lone `--` goes to another tool
    (bench/paper_tables.py's mpt-train)."""
    found = []
    for n, line in enumerate(text.replace("\\\n", " ").splitlines(), 1):
        for m in SCRIPT.finditer(line):
            script = m.group(1) if not m.group(1).startswith("-m ") else m.group(1)[3:].replace(".", "/") + ".py"
            rest = re.split(r"\s--(?:\s|$)|;|\bthen\b|\bmpt-(?:live|train|export|synth|eval)\b", m.group(2))[0]
            found += [(n, script, o) for o in OPTION.findall(rest)] or [(n, script, None)]
    return found


def test_script_options_are_found():
    text = ("`python bench/live.py --skip-realtime [--no-baseline]`; `python bench/jobs.py`\n"
            "python bench/paper_tables.py --dataset samm --out X --tables 6 \\\n    -- --backbone-weights w  # --x\n"
            "`python -m train.cost --preset paper`\n")
    assert script_options(text) == [(1, "bench/live.py", "--skip-realtime"), (1, "bench/live.py", "--no-baseline"),
                                    (1, "bench/jobs.py", None), (2, "bench/paper_tables.py", "--dataset"),
                                    (2, "bench/paper_tables.py", "--out"), (2, "bench/paper_tables.py", "--tables"),
                                    (3, "train/cost.py", "--preset")]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_bench_and_script_command_exists_with_its_options(doc):
    """`python bench/x.py --opt` in the docs: the file is there and takes that option (its name is a string in it,
    as argparse declares it)."""
    wrong = []
    for n, script, opt in script_options(doc.read_text()):
        path = ROOT / script
        if doc.name in HISTORY:
            continue
        if not path.exists():
            wrong.append(f"{doc.name}:{n}: no {script}")
        elif opt is not None and not re.search(rf"""["']{re.escape(opt)}["']""", path.read_text()):
            wrong.append(f"{doc.name}:{n}: {script} has no {opt}")
    assert not wrong, "\n".join(wrong)


def listed_columns(text: str) -> list[str]:
    """Column names in the order a README passage first names them: each code span split at commas, spans that
    are not names (options, values with spaces) left out."""
    names: list[str] = []
    for span in re.findall(r"`([^`]+)`", text):
        for name in (n.strip() for n in span.split(",")):
            if re.fullmatch(r"[a-z_]+(?:<class>)?", name) and name not in names:
                names.append(name)
    return names


def test_listed_columns_are_found():
    assert listed_columns("- `a.csv`: `time_s`, face box `x,y`, `--stride` `p_<class>` (`a b`) `time_s`") == [
        "time_s", "x", "y", "p_<class>"]


def test_the_readme_names_every_csv_column_in_the_files_order():
    """The Outputs section names the columns of predictions.csv, events.csv and a batch's videos.csv in the order
    the files have them (mpt_live.results.columns, spotting.EVENT_COLUMNS, overview.COLUMNS with the event counts)."""
    from mpt_live.overview import COLUMNS
    from mpt_live.results import columns
    from mpt_live.spotting import EVENT_COLUMNS

    text = (ROOT / "README.md").read_text().split("### Outputs", 1)[1]
    predictions = re.split(r"Raw\s+\(unsmoothed\)", text.split("- `predictions.csv`:", 1)[1], maxsplit=1)[0]
    events = re.split(r"`mpt-eval spot`\s+scores", text.split("- `events.csv`:", 1)[1], maxsplit=1)[0]
    videos = re.split(r"the\s+header depends", text.split("- `videos.csv`:", 1)[1], maxsplit=1)[0]
    assert listed_columns(predictions) == columns(["<class>"])
    assert [c for c in listed_columns(events) if c not in ("micro", "macro")] == EVENT_COLUMNS
    events_by_class = ["events_<class>", "events_unclassified"]
    assert [c for c in listed_columns(videos) if c not in ("done", "incomplete", "failed", "problems", "complete")] \
        == [*COLUMNS[:-2], *events_by_class, *COLUMNS[-2:]]


def sh_commands(text: str) -> list[tuple[str, list[str]]]:
    """(tool, arguments) of each mpt-* command of a markdown text's ```sh and ```bash blocks (continued lines joined,
    comments and a ``$`` prompt cut off; docs/cli.md's ```console blocks are synopses, `mpt-live [OPTIONS]`)."""
    import shlex

    found = []
    for block in re.findall(r"```(?:sh|bash)\n(.*?)```", text, re.S):
        names: dict[str, str] = {}  # the block's shell variables (T="--dataset ..."), put in where a line uses them
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"^\$\s+", "", line.split("#", 1)[0].strip())
            if m := re.fullmatch(r"([A-Za-z_]\w*)=(.*)", line):
                names[m[1]] = " ".join(shlex.split(m[2]))
                continue
            line = re.sub(r"\$\{?([A-Za-z_]\w*)\}?", lambda v: names.get(v[1], v[0]), line)
            if re.match(r"mpt-(?:live|train|export|synth|eval)\b", line):
                tool, *args = shlex.split(line)
                found.append((tool, args))
    return found


def test_sh_commands_are_found():
    text = ("```sh\nmpt-live --camera 0  # q quits\n. .venv/bin/activate\nmpt-train --dataset casme2 \\\n"
            "          --out 'runs/a b'\n```\nmpt-live --x\n```python\nmpt-export\n```\n"
            "```bash\n$ mpt-eval spot --runs r\nT='--x 1'\nmpt-export $T ${T}\n```\n")
    assert sh_commands(text) == [("mpt-live", ["--camera", "0"]), ("mpt-train", ["--dataset", "casme2", "--out",
                                                                                  "runs/a b"]),
                                 ("mpt-eval", ["spot", "--runs", "r"]), ("mpt-export", ["--x", "1", "--x", "1"])]
    assert len(sh_commands((ROOT / "README.md").read_text())) >= 25  # the README's own (31 when this was written): not lost


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_sh_command_of_the_docs_parses_with_its_tools_own_options(doc):
    """A command a reader copies from a ```sh block is taken by its tool's parser as written: every option there,
    its value of the right type, range and choices (`--stride 0`, `--head foo`, `--jobs N` fail), and no required
    option left out (an mpt-train line without --out); a subcommand's (mpt-eval spot) by the subcommand's."""
    import importlib

    wrong = []
    for tool, args in sh_commands(doc.read_text()):
        command = typer.main.get_command(importlib.import_module(TOOLS[tool]).app)
        if getattr(command, "commands", None) and args and args[0] in command.commands:
            command, args = command.commands[args[0]], args[1:]
        try:
            command.make_context(tool, list(args))
        except Exception as e:  # click's usage errors, whichever click typer uses
            wrong.append(f"{doc.name}: {tool} {' '.join(args)}: {' '.join(str(e).split()) or type(e).__name__}")
    assert not wrong, "\n".join(wrong)
