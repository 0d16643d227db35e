"""README's "From Python" block runs as written (a real clip in place of interview.mp4) and gives what it says."""

from __future__ import annotations

import json
import re
from pathlib import Path

from mpt_live.results import columns
from mpt_live.spotting import EVENT_COLUMNS

README = Path(__file__).resolve().parents[1] / "README.md"


def _block() -> str:
    text = README.read_text()
    section = text[text.index("### From Python"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_python_block_runs(faces_dir, tmp_path, monkeypatch, capsys):
    code = _block()
    assert "interview.mp4" in code and "runs/iv" in code
    video = faces_dir / "videos" / "pyfeat_single_face.mp4"
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code.replace("interview.mp4", str(video)), "README.md", "exec"), scope)  # noqa: S102
    summary, rows, events = scope["summary"], scope["rows"], scope["events"]
    assert summary == {**json.loads((tmp_path / "runs/iv/summary.json").read_text())}
    assert summary["status"] == "complete" and summary["source_fps"] > 0
    assert list(rows.columns) == columns(scope["model"].classes)
    assert list(events.columns) == list(EVENT_COLUMNS)
    assert len(rows) == summary["windows"] and rows["time_s"].max() <= summary["source_seconds"]
    assert str(rows["face_id"].dtype) == "Int64" and set(rows["face_id"].dropna()) <= {0}  # IDs stay whole
    assert capsys.readouterr().out.split() == ["complete", str(summary["source_fps"]), str(len(summary["events"]))]
