"""docs/cli.md: every command-line option of the five tools, generated from their --help by typer.

    python scripts/cli_docs.py            # rewrite docs/cli.md
    python scripts/cli_docs.py --check    # exit 1 when docs/cli.md is not what the code says (tests run this)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = [("mpt-live", "mpt_live.cli"), ("mpt-train", "train.cli"), ("mpt-export", "export.cli"),
         ("mpt-synth", "train.synth_cli"), ("mpt-eval", "train.eval_cli")]
HEADER = ("# Command-line reference\n\nGenerated from the tools' own help by `python scripts/cli_docs.py` "
          "(typer's `utils docs`); a test fails when it is out of date. The README explains the options in "
          "context; this page lists all of them.\n")


def generate() -> str:
    parts = [HEADER]
    for name, module in TOOLS:
        out = subprocess.run([sys.executable, "-m", "typer", module, "utils", "docs", "--name", name],
                             capture_output=True, text=True, cwd=ROOT, check=True).stdout
        parts.append(out.replace("# `", "## `", 1).replace("\n## ", "\n### ").replace("&#x27;", "'")
                     .replace("&gt;", ">").replace("&lt;", "<").replace("&quot;", '"').replace("&amp;", "&")
                     .rstrip() + "\n")
    return "\n".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    target = ROOT / "docs" / "cli.md"
    text = generate()
    if ap.parse_args().check:
        if not target.is_file() or target.read_text() != text:
            print(f"{target}: out of date; run python scripts/cli_docs.py", file=sys.stderr)
            sys.exit(1)
        return
    target.write_text(text)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
