"""Why a model file does not load, in one line: a PyTorch checkpoint given for an ONNX model, an empty or cut-short
file, another kind of file, or ONNX Runtime's own reason without its C++ noise.

:class:`mpt_live.runtime.MPTRuntime` raises these (as :class:`~mpt_live.errors.InputError`) before and while it
opens a model; :mod:`train.backbone` names an unparsable ONNX backbone file the same way.
"""

from __future__ import annotations

import re
from pathlib import Path

import onnxruntime as ort

from .errors import InputError, first_line


def no_model_file(path: Path) -> InputError:
    """A model path that is no file: missing, or a folder, with what in it to give instead (an mpt-train run's folder
    holds the ONNX files mpt-export wrote beside model.pt, or model.pt alone to export first)."""
    if not path.is_dir():
        return InputError(f"{path}: no such model file")
    try:
        models = sorted(p.name for p in path.glob("*.onnx") if p.is_file() and not p.name.endswith(".rejected.onnx"))
    except OSError:  # a folder this user may not list
        models = []
    if len(models) == 1:
        hint = f" (it holds {models[0]}: give {path / models[0]})"
    elif models:
        hint = (f" (it holds {', '.join(models[:3])}{', ...' if len(models) > 3 else ''}: give one of them, "
                f"e.g. {path / models[0]})")
    elif (path / "model.pt").is_file():
        hint = f" (it holds mpt-train's model.pt: export it first: mpt-export {path})"
    else:
        hint = ""
    return InputError(f"{path}: a folder, expected an ONNX model file{hint}")


def refuse_checkpoint(path: Path) -> None:
    """A PyTorch checkpoint (a zip archive, mpt-train's model.pt) is named as one, with what to do with it."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as e:
        raise InputError(f"{path}: cannot read the model ({e.strerror or e})") from None
    if not head:
        raise InputError(f"{path}: the file is empty (0 bytes), not an ONNX model (a copy or download that did not "
                         "finish?)")
    if head == b"PK\x03\x04":
        raise InputError(f"{path}: a PyTorch checkpoint (mpt-train's model.pt), not an ONNX model; "
                         f"export it first: mpt-export {path}")


def load_error(path: Path, e: BaseException) -> InputError:
    """ONNX Runtime's failure to load ``path`` as one line: the reason without its C++ source location, an
    unparsable file named as such (:func:`unparsed_onnx`), a too-new IR version with what to do."""
    msg = first_line(e, limit=10_000)
    if "INVALID_PROTOBUF" in msg or "Protobuf parsing failed" in msg:
        return unparsed_onnx(path)
    gone = re.search(r'External data path does not exist: "?([^"]+)"?', msg)
    if gone:  # a model over 2 GB (mpt-export's NAME.onnx.data beside it) moved or copied without its weights file
        data = Path(gone.group(1))
        return InputError(f"{path}: its weights file {data.name} is not beside it ({data} does not exist): a model over "
                          "2 GB keeps its weights in that file; move or copy the two together")
    msg = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : (Load model from .*? failed:)?", "", msg).strip()
    # ONNX Runtime's source location and C++ signature come before the reason (a newer IR version, say): left out
    msg = re.sub(r"^\S+\.(?:cc|cpp|h):\d+\s+(?:[\w:~<>]+\([^()]*\)\s*(?:const\s*)?)?", "", msg).strip()
    if "IR version" in msg:
        msg += f"; onnxruntime {ort.__version__} is older than the ONNX that wrote it: upgrade it, or export again"
    return InputError(f"{path}: ONNX Runtime cannot load this model ({msg[:300]})")


def unparsed_onnx(path: Path) -> InputError:
    """A file that does not parse as an ONNX model, with its size and which of the two it likely is: an ONNX
    file begins with its ModelProto's field 1 (ir_version, a varint: the byte 0x08), so one that begins so and
    fails is cut short or damaged, and one that does not is another kind of file (train.backbone's ONNX too)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            begins = fh.read(1) == b"\x08"
    except OSError:
        size, begins = -1, False
    what = ("it begins as an ONNX model does, so it is cut short or damaged (a copy or download that did not "
            "finish?)" if begins else "it does not begin as an ONNX model does: another kind of file?")
    return InputError(f"{path}: {f'{size:,} bytes that do' if size >= 0 else 'does'} not parse as an ONNX model; "
                      f"{what}")
