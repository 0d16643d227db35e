"""`mpt-export`: a trained checkpoint -> one self-describing ONNX file, checked against torch.

The file carries its class names, ClipSpec and provenance in its metadata (`mpt.*`), so
`mpt-live` needs nothing else. After writing, the file is run with ONNX Runtime on the same clips
as the torch model: fp32 must agree to max |dprob| <= 1e-4; --int8 / --fp16 to >= 99 % top-1 on the
clips torch decides (export/parity.py); the result, with its figures, is recorded in the file (`mpt.parity`), so
that `mpt-live` warns when it runs a model that failed, whatever it is called by then.
--int8 is static QDQ quantization calibrated on clips of the training clip cache (or --calib-clips),
never on the parity clips. With none of --fp32/--fp16/--int8 the precision follows the machine: fp16 (the
GPU default, checked on the GPU) where ONNX Runtime's CUDA provider works, falling back to fp32 if fp16
fails its parity check; fp32 elsewhere.
Exit status: 0 written and checked, 1 a parity check failed (the file is kept as
*.rejected.onnx) or the file could not be written, 2 bad input (one-line error), 128 + n stopped by
signal n (the files are made aside and moved into place once checked: nothing is written).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from mpt_live.cli_options import ToolTyper, given
from mpt_live.errors import InputError, first_line
from mpt_live.interrupts import exit_code, signal_name, stop_signals
from mpt_live.model_trust import retry_flags
from mpt_live.quiet import quiet_logging
from mpt_live.rundir import check_not_input, check_out_dir, check_out_file

DEFAULT_OPSET = 20   # = export.onnx_export.DEFAULT_OPSET, repeated so that --help needs no torch import
DEFAULT_CALIB_CLIPS = 32   # = export.calibration.DEFAULT_CALIB_CLIPS


class Calibration(str, Enum):
    """ONNX Runtime calibration methods (export.quantize.CALIBRATION_METHODS)."""

    minmax = "minmax"
    percentile = "percentile"
    entropy = "entropy"

app = ToolTyper("mpt-export", help=__doc__)
console = Console(stderr=True)


def _fail(msg: str) -> None:
    console.print(f"[bold red]error:[/] {msg}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _no_model_folder(folder: Path) -> str:
    """What a folder without model.pt is: a LOSO run's (finished, or stopped with folds/ and no metrics.json yet)."""
    folds = folder / "folds"
    if (folder / "metrics.json").is_file():
        return ("a LOSO run's folder: it keeps no model; train one with --protocol full "
                f"(--metrics {folder / 'metrics.json'} stores these figures in it)")
    if (folder / "config.json").is_file() and folds.is_dir():
        done = len(list(folds.glob("*.json")))
        return (f"a LOSO run's folder, stopped before its end (folds done: {done}, no metrics.json): LOSO keeps no "
                "model, at its end either; train one with --protocol full")
    return "a folder without model.pt"


@app.command()
def export(
    ctx: typer.Context,
    checkpoint: Path = typer.Argument(..., help="mpt-train checkpoint (RUN/model.pt, or the RUN folder)."),
    out: Optional[Path] = typer.Option(None, "--out", path_type=str,  # as typed: Path() drops a trailing '/'
                                       help="ONNX file to write (default: model.onnx, "
                                       "model.int8.onnx or model.fp16.onnx beside the checkpoint)."),
    int8: bool = typer.Option(False, "--int8", help="Static (calibrated) int8 quantization (CPU deployment)."),
    int8_weights: bool = typer.Option(False, "--int8-weights", help="Weight-only int8 (no calibration; activations "
                                      "quantized at run time): for backbones whose static int8 fails the parity check."),
    fp16: bool = typer.Option(False, "--fp16", help="fp16 weights and activations, fp32 inputs/outputs (GPU deployment; "
                              "the default where ONNX Runtime's CUDA provider works)."),
    fp32: bool = typer.Option(False, "--fp32", help="fp32 (the default where ONNX Runtime has no GPU)."),
    opset: int = typer.Option(DEFAULT_OPSET, "--opset", min=17, help="ONNX opset (17+: LayerNormalization; 20+: Gelu)."),
    batch: str = typer.Option("dynamic", "--batch", help="'dynamic' (any batch size) or a fixed batch size N."),
    parity_clips: Optional[Path] = typer.Option(None, "--parity-clips", help="Folder of .npz clips ('dynamic', "
                                                "'motion' arrays) for the parity check (default: synthetic clips)."),
    parity_n: int = typer.Option(100, "--parity-n", min=1, help="Number of parity clips."),
    calib_clips: Optional[Path] = typer.Option(None, "--calib-clips", help="With --int8: folder of .npz clips (as "
                                               "--parity-clips) to calibrate on (default: the training clip cache)."),
    calib_n: int = typer.Option(DEFAULT_CALIB_CLIPS, "--calib-n", min=1, help="With --int8: number of calibration clips."),
    calibration: Calibration = typer.Option(Calibration.minmax, "--calibration",
                                            help="With --int8: activation ranges from the calibration clips."),
    demo: bool = typer.Option(False, "--demo", help="Mark the file as the demo model (mpt.demo = 1)."),
) -> None:
    """Export CHECKPOINT to one self-describing ONNX file and check it against torch.

    fp32 must match torch to max |dprob| <= 1e-4, --int8/--fp16 to >= 99 % top-1 agreement on the clips torch decides (top-1 margin >= 0.02) and max |dprob| <= 0.05.
    The result and its figures are recorded in the file (mpt.parity): mpt-live warns when it runs a model that failed.

    Exit 0: written and checked; 1: a check failed (file kept as *.rejected.onnx) or the file could not be
    written; 2: bad input; 128 + n: stopped by signal n (nothing written).
    """
    flags = (("--fp32", fp32), ("--fp16", fp16), ("--int8", int8), ("--int8-weights", int8_weights))
    if sum(on for _, on in flags) > 1:
        _fail(" and ".join(f for f, on in flags if on) + ": choose one")
    if not int8:  # the calibration options mean nothing to the other precisions: refused, not ignored
        for name, option in (("calib_clips", "--calib-clips"), ("calib_n", "--calib-n"), ("calibration", "--calibration")):
            if given(ctx, name):
                _fail(f"{option}: only --int8 is calibrated")
    if batch != "dynamic" and not (batch.isdigit() and int(batch) >= 1):
        _fail(f"--batch {batch}: expected 'dynamic' or a positive integer")
    if out is not None:
        try:
            out = check_out_file(out, example="model.onnx")  # before the export's minutes: a folder (or a name
            # typed as one), an unwritable place is one line
        except InputError as e:
            _fail(str(e))
    if checkpoint.is_dir() and (checkpoint / "model.pt").is_file():  # the run folder: its model
        checkpoint = checkpoint / "model.pt"
    elif checkpoint.is_dir():
        _fail(f"{checkpoint}: {_no_model_folder(checkpoint)}")
    elif not checkpoint.is_file():  # before the precision choice is printed
        _fail(f"{checkpoint}: no such checkpoint file")
    try:
        if out is not None:
            check_not_input(out, checkpoint, "the checkpoint")
        else:  # the file goes beside the checkpoint: a read-only model folder is one line now, not after the torch work
            check_out_dir(checkpoint.parent, option=f"{checkpoint}: without --out the model is written beside it, in")
    except InputError as e:
        _fail(str(e) + ("; give --out FILE.onnx" if out is None else ""))
    from .pipeline import export_checkpoint   # torch imports: after argument checks
    from .quantize import QuantizeError

    precision = "int8" if int8 or int8_weights else "fp16" if fp16 else "fp32" if fp32 else "auto"
    # another opset: the exporter's version converter logs its own failure with a traceback before our line
    quiet = quiet_logging(logging.CRITICAL) if opset != DEFAULT_OPSET else contextlib.nullcontext()
    try:
        with stop_signals(), quiet:  # SIGTERM and SIGHUP stop it as Ctrl-C does
            result = export_checkpoint(
                checkpoint, out, precision=precision, opset=opset,
                batch="dynamic" if batch == "dynamic" else int(batch),
                parity_clips=parity_clips, parity_n=parity_n, calib_clips=calib_clips, calib_n=calib_n,
                calibration=calibration.value, demo=demo, int8_weights_only=int8_weights,
                log=lambda msg: console.print(msg, highlight=False, soft_wrap=True),
            )
    except InputError as e:
        _fail(str(e))
    except KeyboardInterrupt as e:  # the files are made aside and moved into place only once checked
        console.print(f"mpt-export: interrupted ({signal_name(e)}); nothing written", highlight=False)
        raise typer.Exit(exit_code(e))
    except QuantizeError as e:  # nothing quantized: no file is written
        console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    except OSError as e:  # a full disk, a folder that became unwritable
        console.print(f"[bold red]error:[/] the ONNX file {out or f'beside {checkpoint}'} could not be written "
                      f"({e.strerror or first_line(e)}); nothing was put in its place", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    except Exception as e:  # an opset other than the default that the exporter or ONNX cannot use
        if opset == DEFAULT_OPSET:
            raise
        _fail(f"--opset {opset}: the export failed at this opset ({type(e).__name__}: {first_line(e)}); "
              f"the default, {DEFAULT_OPSET}, is the one tested")
    if not result.ok:
        console.print(f"[bold red]parity check failed:[/] {'; '.join(p.line() for p in result.parity if not p.ok)}"
                      f"{retry_hint(result, int8_weights)}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def retry_hint(result: Any, weights_only: bool) -> str:
    """What to export instead after a failed parity check: the flags mpt_live.model_trust.retry_flags gives for the
    precision that failed (mpt-live's warning about such a model names the same); nothing where fp32 itself failed."""
    failed = [p.precision for p in result.parity if not p.ok]
    if not failed:
        return ""
    kind = ("fp32" if "fp32" in failed else "weight-only int8" if result.precision == "int8" and weights_only
            else "static int8" if result.precision == "int8" else result.precision)
    flags = retry_flags(kind)
    if not flags:
        return ""
    named = " or ".join(f"{f} (weight-only int8)" if f == "--int8-weights" else f for f in flags)
    return (f"; static int8 moves this model too far: try {named}" if kind == "static int8" else f"; try {named}")


def main() -> None:
    """Console-script entry point."""
    from mpt_live.errors import refuse_empty_arguments, run_app

    refuse_empty_arguments(sys.argv[1:])
    run_app(app, "mpt-export", sys.argv[1:])


if __name__ == "__main__":  # pragma: no cover
    main()
