"""What an exported model's metadata says about how far its predictions can be trusted: the parity check
``mpt-export`` ran on it (``mpt.parity``) and a randomly initialised backbone (``mpt.backbone_weights``).

``mpt.parity`` (written by :func:`export.parity.parity_record`) is JSON ``{"result": "passed"|"failed", "checks":
[{"precision", "result", "clips", "top1_agreement", "max_dprob", ...}]}``. A model whose check failed (a
``*.rejected.onnx``, however it is named now) is run, but said so in one warning line; a model exported before the
key existed says "parity not recorded" among its facts only, unless its name says mpt-export rejected it (a
``*.rejected.onnx`` from before the record): that is said in one warning line too.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

PARITY_KEY = "mpt.parity"
NOT_RECORDED = "parity not recorded (exported before mpt-export recorded it)"
FAILED = "parity FAILED"
PASSED = "parity passed"
UNREADABLE = "parity record unreadable"  # the record is there but is no JSON of a check
REJECTED_SUFFIX = ".rejected.onnx"   # the name mpt-export keeps a model that failed its check under


def random_init(backbone_weights: str) -> bool:
    """Whether ``mpt.backbone_weights`` names a randomly initialised backbone (``--backbone-weights none``:
    train.backbone's "random initialisation", or a train config's backbone_init "random")."""
    w = backbone_weights.strip().casefold()
    return w in ("random", "none") or w.startswith("random init")


def _figures(check: Mapping[str, Any]) -> str:
    """``fp16 (CUDA) vs torch on 100 clips: top-1 agreement 91.0%, max|dprob| 8.3e-02``, from what is recorded."""
    where = f" ({check['provider']})" if check.get("provider") not in (None, "", "CPU") else ""
    figures = []
    if isinstance(check.get("top1_agreement"), (int, float)):
        figures.append(f"top-1 agreement {check['top1_agreement']:.1%}")
    if isinstance(check.get("max_dprob"), (int, float)):
        figures.append(f"max|dprob| {check['max_dprob']:.1e}")
    elif "max_dprob" in check:  # null: the graph's probabilities were not finite (NaN)
        figures.append("max|dprob| not finite")
    if check.get("batch_error"):
        figures.append(str(check["batch_error"]))
    return (f"{check.get('precision', '?')}{where} vs torch on {check.get('clips', '?')} clips"
            + (f": {', '.join(figures)}" if figures else ""))


def parity_record(metadata: Mapping[str, str]) -> dict[str, Any] | None:
    """The ``mpt.parity`` record of a model's metadata; None where it has none (or one that is not a JSON object)."""
    try:
        record = json.loads(metadata[PARITY_KEY])
    except (KeyError, TypeError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _failed_figures(record: Mapping[str, Any]) -> str:
    checks = [c for c in record.get("checks") or [] if isinstance(c, dict)]
    failed = [c for c in checks if c.get("result") != "passed"] or checks
    return "; ".join(map(_figures, failed))


def parity_fact(metadata: Mapping[str, str]) -> str:
    """The model fact: ``parity passed (fp32 vs torch on 100 clips: ...)``, ``parity FAILED (...)`` or not recorded."""
    record = parity_record(metadata)
    if record is None:
        return NOT_RECORDED if PARITY_KEY not in metadata else UNREADABLE
    if record.get("result") != "passed":
        figures = _failed_figures(record)
        return FAILED + (f" ({figures})" if figures else "")
    checks = [c for c in record.get("checks") or [] if isinstance(c, dict)]
    return f"{PASSED} ({_figures(checks[-1])})" if checks else PASSED


def failed_fact(fact: Any) -> bool:
    """Whether a model fact (summary.json's model.parity) says its parity check failed."""
    return isinstance(fact, str) and fact.startswith(FAILED)


def rejected_name(name: Any) -> bool:
    """Whether a model's file name is one mpt-export gives a model that failed its parity check (``*.rejected.onnx``)."""
    return isinstance(name, str) and name.casefold().endswith(REJECTED_SUFFIX)


def int8_scheme(metadata: Mapping[str, str]) -> str | None:
    """The ``mpt.int8`` record's scheme (export/quantize.py: "static QDQ, ..." or "weight-only int8 ..."), None where
    the model has none or it cannot be read."""
    try:
        scheme = json.loads(metadata["mpt.int8"]).get("scheme")
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return scheme if isinstance(scheme, str) else None


# What may pass where a precision failed its parity check, for mpt-export's line and mpt-live's alike (each words it
# its own way): the same export command fails the same way (the same clips and calibration), so the advice names
# other flags; none where the fp32 graph itself failed (the export is wrong, no precision helps).
RETRY_FLAGS: dict[str, tuple[str, ...]] = {
    "fp32": (),
    "static int8": ("--int8-weights", "--fp32"),
    "weight-only int8": ("--fp32",),
    "fp16": ("--fp32",),
}


def retry_flags(failed: str) -> tuple[str, ...]:
    """The mpt-export flags to try where the precision ``failed`` (a key of :data:`RETRY_FLAGS`) failed its check."""
    return RETRY_FLAGS[failed]


def retry(fact: Any, int8_scheme: str | None = None) -> str:
    """What to do about a failed or rejected model: export again with the flags :func:`retry_flags` gives for the
    precision that failed (mpt-export's own line, export/cli.py retry_hint, uses them too). ``fact``: the parity fact
    (its figures name the precision that failed); ``int8_scheme``: the model's ``mpt.int8`` scheme where known."""
    figures = fact if isinstance(fact, str) else ""

    def flags(failed: str) -> str:
        return " or ".join(retry_flags(failed))

    static = flags("static int8")
    if "(fp32" in figures or "; fp32" in figures:  # mpt-export names no precision then: the export is wrong
        how = "its fp32 graph failed: no other precision will pass"
    elif "(int8" in figures or "; int8" in figures:
        scheme = (int8_scheme or "").casefold()
        how = (f"its static int8 failed: {static}" if scheme.startswith("static") else
               f"its weight-only int8 failed: {flags('weight-only int8')}" if scheme.startswith("weight-only") else
               f"where a static int8 failed: {static}; a weight-only one: {flags('weight-only int8')}")
    elif "(fp16" in figures or "; fp16" in figures:
        how = f"its fp16 failed: {flags('fp16')}"
    else:
        how = f"where a static int8 failed: {static}; a weight-only int8 or fp16: {flags('fp16')}"
    return f"export the checkpoint again (mpt-export; {how}) or use a model that passed"


def fact_warning(name: Any, fact: Any, int8_scheme: str | None = None) -> str:
    """One line where the model fact (:func:`parity_fact`'s, as the runtime, summary.json's model.parity and a killed
    run's marker keep it) says mpt-export's parity check of the model failed, or where no record says it passed and the
    file's ``name`` says mpt-export rejected it (exported before the record existed), else ''."""
    if failed_fact(fact):
        figures = fact[len(FAILED):]  # " (int8 vs torch on 100 clips: ...)" or ""
        return (f"{name}: this model FAILED mpt-export's parity check{figures}: the ONNX graph does not compute what "
                "the trained model does, so its classes may be wrong; " + retry(fact, int8_scheme))
    if rejected_name(name) and not (isinstance(fact, str) and fact.startswith(PASSED)):
        why = ("its parity record cannot be read" if fact == UNREADABLE else
               "the file, exported before the check was recorded in it, has no figures")
        return (f"{name}: mpt-export rejected this model (its name says it failed the parity check; {why}): the ONNX graph may not compute what the trained "
                "model does, so its classes may be wrong; " + retry(fact, int8_scheme))
    return ""
