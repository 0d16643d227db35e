"""``mpt-export`` end to end: checkpoint -> ONNX file of the asked precision, checked for parity."""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from mpt_live.clip import ClipSpec
from mpt_live.model_trust import PARITY_KEY

from .onnx_export import (
    DEFAULT_OPSET, Batch, append_metadata, build_model, default_out, export_onnx, file_size_mb, ir_version,
    load_checkpoint, onnx_metadata, read_metadata, restamp,
)
from .calibration import DEFAULT_CALIB_CLIPS, calibration_clips
from .quantize import DEFAULT_CALIBRATION, convert_fp16, quantize_int8, quantize_int8_weights
from .parity import Parity, check_onnx, load_clips, parity_record, synthetic_clips, torch_probs

DEFAULT_PARITY_CLIPS = 100
STAGING_PREFIX = "mpt-export-"   # the folder beside --out that an export's files are made in


@dataclass
class ExportResult:
    """What :func:`export_checkpoint` wrote and how it compares with torch."""

    path: Path
    precision: str
    parity: list[Parity] = field(default_factory=list)   # fp32 first, then int8/fp16 if asked
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.parity)


def gpu_default_precision() -> tuple[str, str]:
    """(precision, why) of a plain ``mpt-export``: fp16 where ONNX Runtime's CUDA provider works, else fp32."""
    from mpt_live.providers import CUDA, gpu_diagnosis, provider_works

    if provider_works(CUDA):
        return "fp16", "the GPU default, as ONNX Runtime's CUDA provider works here (checked for parity on it; --fp32 to keep fp32)"
    return "fp32", f"no GPU for ONNX Runtime here ({gpu_diagnosis(CUDA)}; --fp16 exports for GPUs anyway)"


def publish(src: Path, dst: Path, checks: list[Parity] | None = None) -> None:
    """Move a made model to ``dst``, with ``checks`` recorded in its ``mpt.parity`` metadata.

    The record is appended to the file (:func:`~export.onnx_export.append_metadata`): the model is written once, by
    its export, and what is moved into place is the file that was checked, plus that record. A model over 2 GB has
    its graph (not its weights) written again, its references to its external data file renamed to ``dst``'s name +
    ``.data``, whatever the name it was made under (``fp32.onnx`` of a fallback); that file is moved beside ``dst``,
    never over another model's, and an earlier model at ``dst`` is never left beside the new one's data file."""
    data = src.with_name(src.name + ".data")
    final = dst.with_name(dst.name + ".data")
    stamp = {PARITY_KEY: parity_record(checks)} if checks is not None else {}
    if data.exists():
        if stamp or data.name != final.name:
            restamp(src, stamp, final.name)
        if final.exists():   # the model at dst may read that file: it goes first, so no moment pairs the two wrongly
            dst.unlink(missing_ok=True)
        data.replace(final)
        src.replace(dst)
        return
    if stamp:
        append_metadata(src, stamp)
    src.replace(dst)
    final.unlink(missing_ok=True)   # a stale data file of an earlier, bigger export there, once its model is replaced


def rejected_name(path: Path) -> Path:
    """Where a model that fails its parity check is kept instead of ``path``: ``NAME.rejected.onnx``."""
    return path.with_name(path.name.removesuffix(".onnx") + ".rejected.onnx")


def remove_rejected(path: Path) -> Path | None:
    """Remove the ``NAME.rejected.onnx`` (and its ``.data`` file) of an earlier export at ``path``, now that a model
    there passed: left beside it, it read as a failure of the model that replaced it. The path removed, else None."""
    rejected = rejected_name(path)
    if not rejected.is_file():
        return None
    rejected.unlink()
    rejected.with_name(rejected.name + ".data").unlink(missing_ok=True)
    return rejected


def leftover_folders(folder: Path) -> str:
    """A line naming the folders an export makes its files in (``mpt-export-*``) that are in ``folder`` now, with
    their size, else ''. An export removes its own, even when stopped; one killed outright (SIGKILL, out of memory)
    cannot, and for ViT-B/16 leaves hundreds of MB, GBs with --int8. They are not removed here: another export may be
    running there."""
    found = sorted(d for d in folder.glob(f"{STAGING_PREFIX}*") if d.is_dir())
    if not found:
        return ""

    def size(d: Path) -> int:
        try:
            return sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
        except OSError:   # removed meanwhile by the export it belongs to
            return 0

    mb = sum(map(size, found)) / 2**20
    return (f"note: {', '.join(d.name for d in found)} in {folder} ({mb:.0f} MB): left by an export that was "
            "killed, or another one's that is running now; remove them once no export runs there")


def export_checkpoint(
    checkpoint: str | Path,
    out: str | Path | None = None,
    precision: str = "fp32",   # fp32 | fp16 | int8 | auto (fp16 where the CUDA provider works and it passes parity)
    opset: int = DEFAULT_OPSET,
    batch: Batch = "dynamic",
    parity_clips: str | Path | None = None,
    parity_n: int = DEFAULT_PARITY_CLIPS,
    calib_clips: str | Path | None = None,
    calib_n: int = DEFAULT_CALIB_CLIPS,
    calibration: str = DEFAULT_CALIBRATION,
    demo: bool = False,
    int8_weights_only: bool = False,
    log: Callable[[str], None] = lambda msg: None,
) -> ExportResult:
    """Export ``checkpoint`` to ``out`` (default: ``model[.int8|.fp16].onnx`` beside it).

    The fp32 graph is always exported and checked first; int8/fp16 are derived from it and
    checked against torch too. ``int8_weights_only``: int8 weights, activations quantized at run time
    (:func:`~export.quantize.quantize_int8_weights`), no calibration. Otherwise int8 is calibrated on ``calib_n`` clips from ``calib_clips`` (else the
    training clip cache; see :mod:`export.calibration`), never on a parity clip. If any check fails, the file is renamed ``*.rejected.onnx`` so
    that nothing picks it up by mistake, and ``result.ok`` is False (one that passes removes an earlier export's
    ``*.rejected.onnx`` of its name, and says so); every file records its checks in its
    ``mpt.parity`` metadata (:func:`~export.parity.parity_record`), so that a failed one is known as such by any name.
    ``precision="auto"``: fp32 on a machine without a working CUDA provider; where ONNX Runtime runs
    CUDA, fp16 checked on the GPU, and if it fails its parity check, the fp32 file instead (the
    fp16 one kept as ``*.rejected.onnx``).
    Raises :class:`~mpt_live.errors.InputError` for a bad checkpoint or clip folder.
    """
    t_start = time.perf_counter()
    ckpt = load_checkpoint(checkpoint)  # first: a file that is not one is the only line printed
    fallback = precision == "auto"
    if fallback:
        precision, why = gpu_default_precision()
        log(f"precision {precision}: {why}")
    parity_device = "auto" if fallback and precision == "fp16" else "cpu"
    out_fp32 = Path(out) if out else default_out(checkpoint, "fp32")
    spec = ClipSpec.from_dict(dict(ckpt["clip_spec"]))
    out = Path(out) if out else default_out(checkpoint, precision)
    out.parent.mkdir(parents=True, exist_ok=True)
    left = leftover_folders(out.parent)
    if left:
        log(left)
    model = build_model(ckpt, checkpoint)
    log(f"checkpoint {checkpoint}: {ckpt['model_config'].get('backbone')}, classes {list(ckpt['classes'])}, "
        f"{spec.frames} frames x {spec.image_size}px")

    if parity_clips:
        dyn, mot = load_clips(parity_clips, spec, limit=parity_n)
        source = str(parity_clips)
    else:
        dyn, mot = synthetic_clips(spec, parity_n, seed=0)
        source = "synthetic clips"
    reference = torch_probs(model, dyn, mot)
    log(f"parity clips: {len(dyn)} from {source}; torch reference computed")
    if precision == "int8" and not int8_weights_only:
        calib = calibration_clips(ckpt, checkpoint, spec, calib_clips, calib_n, parity=(dyn, mot))
        log(calib.line())

    metadata = onnx_metadata(ckpt, "fp32", demo)
    result = ExportResult(path=out, precision=precision)
    # every file is made in a temporary folder beside --out and moved there only once checked: a stopped or failed
    # export leaves no unchecked model where a checked one is expected (and an earlier one there untouched)
    with tempfile.TemporaryDirectory(prefix=STAGING_PREFIX, dir=out.parent) as tmp:
        staged = Path(tmp) / out.name
        fp32 = staged if precision == "fp32" else Path(tmp) / "fp32.onnx"
        t = time.perf_counter()
        export_onnx(model, fp32, spec, metadata, opset=opset, batch=batch)
        log(f"exported fp32 graph in {time.perf_counter() - t:.1f} s (opset {opset}, IR {ir_version(fp32)}, "
            f"batch {batch})")
        result.parity.append(check_onnx(fp32, dyn, mot, reference))
        log(result.parity[-1].line())
        if precision == "int8" and int8_weights_only:
            t = time.perf_counter()
            quantize_int8_weights(fp32, staged, metadata)
            log(f"weight-only int8 in {time.perf_counter() - t:.0f} s")
        elif precision == "int8":
            t = time.perf_counter()
            quantize_int8(fp32, staged, metadata, (calib.dynamic, calib.motion), calibration, calib.public)
            log(f"static int8 ({calibration} calibration) in {time.perf_counter() - t:.0f} s")
        elif precision == "fp16":
            convert_fp16(fp32, staged, metadata)
        if precision == "int8" and (why := json.loads(read_metadata(staged).get("mpt.int8") or "{}").get("unfused_attention")):
            log(why)  # written unfused: slower on the CPU, the outputs those of the graph as exported
        if precision != "fp32":
            result.parity.append(check_onnx(staged, dyn, mot, reference, device=parity_device))
            log(result.parity[-1].line())
        kept: Path | None = None   # the fp16 file this export rejected, before its fallback
        if fallback and precision == "fp16" and result.parity[0].ok and not result.parity[-1].ok:
            rejected = kept = rejected_name(out)
            publish(staged, rejected, result.parity)
            log(f"fp16 failed its parity check (kept as {rejected.name}): writing fp32 instead")
            staged = fp32
            result = ExportResult(path=out_fp32, precision="fp32", parity=result.parity[:1])
            out, precision = out_fp32, "fp32"
        if not result.ok:
            result.path = rejected_name(out)
        publish(staged, result.path, result.parity)
    if result.ok and rejected_name(result.path) != kept:
        removed = remove_rejected(result.path)
        if removed:
            log(f"removed {removed}: an earlier export of this name that failed its parity check, replaced by this one")
    result.seconds = time.perf_counter() - t_start
    earlier = f"; {out} is the model that was there before, left as it was" if not result.ok and out.exists() else ""
    log(f"{'wrote' if result.ok else 'REJECTED, kept for inspection as'} {result.path} "
        f"({file_size_mb(result.path):.1f} MB, {precision}) in {result.seconds:.0f} s{earlier}")
    return result
