"""Incremental result sinks: every row is flushed as it is written, so an interrupted run
(Ctrl-C, a crash) keeps a valid CSV of everything processed so far."""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any, Sequence


def _fmt(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6g}"
    if isinstance(v, bool):
        return int(v)
    return v


class CSVSink:
    """``with CSVSink(path, columns) as sink: sink.write(row_dict)`` — one flushed line per row."""

    def __init__(self, path: str | os.PathLike, columns: Sequence[str]) -> None:
        self.path = Path(path)
        self.columns = list(columns)
        self.rows = 0
        self._fh = None
        self._writer: csv.DictWriter | None = None

    def __enter__(self) -> "CSVSink":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "w", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._fh, fieldnames=self.columns, extrasaction="ignore")
        self._writer.writeheader()
        self._fh.flush()
        return self

    def write(self, row: dict[str, Any]) -> None:
        assert self._writer is not None and self._fh is not None, "CSVSink used outside 'with'"
        self._writer.writerow({k: _fmt(row.get(k)) for k in self.columns})
        self._fh.flush()
        self.rows += 1

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def write_json(path: str | os.PathLike, data: dict[str, Any]) -> None:
    """Write JSON atomically (temp file + rename): a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, default=_json_default)
        fh.write("\n")
    os.replace(tmp, path)


def _json_default(o: Any) -> Any:
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
