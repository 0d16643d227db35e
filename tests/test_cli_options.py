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


TOOLS = [("mpt-live", "mpt_live.cli", "mpt_live.launch", "live"), ("mpt-train", "train.cli", "train.launch", "train"),
         ("mpt-export", "export.cli", "export.launch", "export"), ("mpt-synth", "train.synth_cli", "train.launch", "synth"),
         ("mpt-eval", "train.eval_cli", "train.launch", "evaluate")]


@pytest.mark.parametrize("tool, module, launch, entry", TOOLS, ids=[t[0] for t in TOOLS])
def test_version_of_each_tool_without_torch_or_onnxruntime(tool: str, module: str, launch: str, entry: str) -> None:
    """``TOOL --version`` prints the package's version, exit 0, without importing torch or ONNX Runtime: through
    the console script's wrapper (answered before the command's imports) and through the typer app."""
    import subprocess
    import sys

    import mpt_live

    block = ("import atexit, sys; atexit.register(lambda: print(sorted({'torch', 'onnxruntime'} & set(sys.modules)), "
             "file=sys.stderr)); ")
    for code in (f"{block}sys.argv = ['{tool}', '--version']; from {launch} import {entry}; {entry}()",
                 f"{block}from {module} import app; app(['--version'], prog_name='{tool}')"):
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert res.returncode == 0 and res.stdout == f"{tool} {mpt_live.__version__}\n", res.stderr
        assert res.stderr == "[]\n"  # neither was imported


@pytest.mark.parametrize("tool, module, launch, entry", TOOLS, ids=[t[0] for t in TOOLS])
def test_version_is_in_each_help(tool: str, module: str, launch: str, entry: str) -> None:
    import importlib

    import mpt_live

    app = importlib.import_module(module).app
    assert "--version" in runner.invoke(app, ["--help"], terminal_width=200).output
    res = runner.invoke(app, ["--version"])  # before any required option is missing
    assert res.exit_code == 0 and res.output == f"{tool} {mpt_live.__version__}\n"


@pytest.mark.parametrize("text, seconds", [("90", 90.0), ("12.5", 12.5), ("1:30", 90.0), ("01:02:03.5", 3723.5),
                                           ("0", 0.0), ("75:00", 4500.0)])
def test_parse_time_reads_seconds_and_clock_readings(text: str, seconds: float) -> None:
    from mpt_live.cli_options import parse_time

    assert parse_time(text, "--start") == pytest.approx(seconds)


@pytest.mark.parametrize("text, why", [("-3", "from 0 on"), ("1:-5", "from 0 on"), ("abc", "expected seconds"),
                                       ("1::2", "expected seconds"), ("1:2:3:4", "expected seconds"),
                                       ("1:75", "from 0 to 59"), ("nan", "from 0 on"), ("inf", "from 0 on")])
def test_parse_time_refuses_what_is_no_time_in_one_line(text: str, why: str) -> None:
    from mpt_live.cli_options import parse_time

    with pytest.raises(ValueError) as e:
        parse_time(text, "--start")
    assert str(e.value).startswith(f"--start {text!r}: ") and why in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("args, expected", [
    (["--video", "x.mp4", "--max-seconds", "0"], "--max-seconds 0.0: expected a positive number"),
    (["--video", "x.mp4", "--max-seconds", "-2"], "--max-seconds -2.0: expected a positive number"),
    (["--video", "x.mp4", "--max-seconds", "nan"], "--max-seconds nan: expected a positive number"),
    (["--video", "x.mp4", "--start", "-1"], "--start '-1': expected a time from 0 on"),
    (["--video", "x.mp4", "--start", "1:99"], "--start '1:99': minutes and seconds"),
    (["--camera", "0", "--start", "10"], "--start: for a recorded video file read as a file, not a camera"),
    (["--video", "rtsp://127.0.0.1:1/x", "--start", "10"], "not a stream"),
    (["--video", "x.mp4", "--realtime", "--start", "10"], "not --realtime"),
    (["--demo", "--start", "10"], "not --demo"),
    (["--demo", "--max-seconds", "1"], "--max-seconds: not with --demo"),
], ids=["max-zero", "max-negative", "max-nan", "start-negative", "start-clock", "start-camera", "start-stream",
        "start-realtime", "start-demo", "max-demo"])
def test_live_range_options_refused_in_one_line_before_anything_opens(args: list[str], expected: str) -> None:
    from mpt_live.cli import app

    assert expected in _one_error_line(runner.invoke(app, args))


@pytest.mark.parametrize("args, expected", [
    (["--video", "x.mp4", "--resume"], "--resume: --out DIR is needed"),
    (["--video", "x.mp4", "--out", "o", "--resume", "--start", "5"], "--resume: not with --start"),
    (["--video", "x.mp4", "--out", "o", "--resume", "--jobs", "2"], "--resume: not with --jobs"),
    (["--video", "x.mp4", "--out", "o", "--resume", "--realtime"], "--resume: for a recorded video file"),
    (["--camera", "0", "--out", "o", "--resume"], "--resume: for a recorded video file"),
    (["--video", "rtsp://127.0.0.1:1/x", "--out", "o", "--resume"], "--resume: for a recorded video file"),
], ids=["no-out", "start", "jobs", "realtime", "camera", "stream"])
def test_resume_with_what_it_cannot_go_on_with_is_refused_in_one_line(args: list[str], expected: str) -> None:
    from mpt_live.cli import app

    assert expected in _one_error_line(runner.invoke(app, args))


def test_a_file_url_is_read_as_its_file_and_another_hosts_refused(tmp_path: Path) -> None:
    """``--video file:///...`` (a link copied from a browser or a file manager, ``%20`` for a space) is the file it
    names: it was taken for a path and refused as `no such file`; a file URL on another host is one line."""
    import json
    from urllib.request import pathname2url

    import cv2
    import numpy as np

    from mpt_live.cli import app

    video = tmp_path / "take 1.mp4"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    for i in range(5):
        w.write(np.full((48, 64, 3), 40 * i, np.uint8))
    w.release()
    url = "file://" + pathname2url(str(video))
    assert "%20" in url
    out = tmp_path / "run"
    res = runner.invoke(app, ["--video", url, "--motion-only", "--headless", "--out", str(out)])
    assert res.exit_code == 0 and "no such file" not in res.output, res.output
    assert json.loads((out / "summary.json").read_text())["frames_read"] == 5
    line = _one_error_line(runner.invoke(app, ["--video", "file://nas/take.mp4", "--headless", "--out", str(out)]))
    assert "file://nas/take.mp4: a file URL on another host (nas)" in line


def test_a_file_url_keeps_a_hash_in_its_name_and_one_with_no_file_is_refused() -> None:
    """All after the host is the path: a '#' or '?' typed into a local name was cut off as a fragment or a query
    (``file:///tmp/take #1.mp4`` read as ``/tmp/take ``); ``file://`` alone was an empty path, read as the current
    folder (a batch of every video in it)."""
    from mpt_live.cli_options import file_url_path

    assert file_url_path("file:///tmp/take #1.mp4") == "/tmp/take #1.mp4"
    assert file_url_path("file:///tmp/what%3F.mp4") == "/tmp/what?.mp4"
    assert file_url_path("file://localhost/tmp/x%20y.mp4") == "/tmp/x y.mp4"
    assert file_url_path("file:/tmp/y.mp4") == "/tmp/y.mp4"
    for bare in ("file://", "file:", "file:///"):
        with pytest.raises(ValueError, match="a file URL with no file in it"):
            file_url_path(bare)
