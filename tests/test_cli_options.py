"""Options that mean nothing with the others given are refused in one line, not silently ignored
(torch-free: the checks come before any heavy import)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

runner = CliRunner()


def _one_error_line(res) -> str:
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 2 and "Traceback" not in res.output and len(lines) == 1, res.output
    return lines[0]


@pytest.mark.parametrize("args, option", [
    (["--calib-n", "8"], "--calib-n"),
    (["--calibration", "entropy"], "--calibration"),
    (["--calibration", "minmax"], "--calibration"),        # the default value, given: still refused
    (["--int8-weights", "--calib-n", "32"], "--calib-n"),
    (["--fp16", "--calibration", "percentile"], "--calibration"),
    (["--calib-clips", "clips"], "--calib-clips"),
])
def test_export_calibration_options_need_int8(tmp_path: Path, args: list[str], option: str) -> None:
    from export.cli import app

    (tmp_path / "x.pt").write_bytes(b"")  # the options are checked before the checkpoint is read
    line = _one_error_line(runner.invoke(app, [str(tmp_path / "x.pt"), *args]))
    assert f"{option}: only --int8 is calibrated" in line


@pytest.mark.parametrize("args, named", [
    (["--long", "--subjects", "3"], "--subjects: options of the CASME II-style clips, not used with --long"),
    (["--long", "--fps", "200", "--image-size", "128"], "--fps, --image-size: options of the CASME II-style clips"),
    (["--long", "--clips-per-class", "1", "--amplitude", "2"], "--clips-per-class, --amplitude: options of the CASME"),
    (["--videos", "2"], "--videos: options of --long only"),
    (["--minutes", "1", "--subjects", "2"], "--minutes: options of --long only"),
])
def test_synth_refuses_the_options_of_the_other_benchmark(tmp_path: Path, args: list[str], named: str) -> None:
    """mpt-synth --long ignored the clip options, and the clip benchmark --videos/--minutes: now one line, before
    any work (nothing written)."""
    from train.synth_cli import app

    line = _one_error_line(runner.invoke(app, ["--faces", str(tmp_path), "--out", str(tmp_path / "o"), *args]))
    assert line.startswith("error: ") and named in line
    assert not (tmp_path / "o").exists()
