"""What mpt-train prints at the end of a LOSO run: the per-fold figures and the confusion matrix."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.table import Column, Table

from mpt_live.terminal import fits


def print_loso(console: Console, metrics: dict) -> None:
    """The per-fold table (a composite's per-dataset figures, then the pooled ones on the last line) and the
    confusion matrix."""
    parts = metrics.get("parts") or {}
    t = Table(*(Column(c, justify="left" if c == "subject" else "right") for c in ("subject", "n", "Acc", "UF1", "UAR",
                                                                                 "train s")),
              title="LOSO per fold (" + ("per dataset of the pool, then " if parts else "") + "pooled figures on the "
              "last line)")
    for f in metrics["folds"]:
        t.add_row(str(f["subject"]), str(f["n"]), f"{f['acc']:.3f}", f"{f['uf1']:.3f}",
                  f"{f['uar']:.3f}", f"{f['train_seconds']:.1f}")
    t.add_section()
    for name, p in parts.items():  # MEGC 2019 CDE: each dataset's part of the same pooled predictions
        t.add_row(f"{name} part", str(p["n"]), f"{p['acc']:.3f}", f"{p['uf1']:.3f}", f"{p['uar']:.3f}", "")
    t.add_row("pooled", str(metrics["n"]), f"{metrics['acc']:.3f}", f"{metrics['uf1']:.3f}",
              f"{metrics['uar']:.3f}", f"{metrics['train_seconds']:.1f}", style="bold")
    console.print(t)
    console.print(confusion_table(console, metrics["classes"], metrics["confusion"]))


def confusion_table(console: Console, classes: list[str], confusion: list[list[int]]) -> RenderableType:
    """Rows true, columns predicted, the columns headed by the class names where they fit the console, else by the
    classes' numbers (rows ``1 anger``): seven CAS(ME)^3 emotions on an 80-column terminal cut 'happiness' to
    'happine…'. Where even the numbered columns do not fit (some 20 classes), the predicted columns are split over
    as few tables as fit, each with the numbered rows; the whole matrix is in metrics.json."""
    n = len(classes)
    named = _table(classes, classes, confusion, range(n), "confusion (rows true, columns predicted)")
    if fits(console, named):
        return named
    rows = [f"{i + 1} {c}" for i, c in enumerate(classes)]
    numbers = [str(i + 1) for i in range(n)]
    for parts in range(1, n + 1):
        size = -(-n // parts)
        chunks = [range(a, min(a + size, n)) for a in range(0, n, size)]
        tables = [_table(rows, numbers, confusion, cols, f"confusion, predicted {cols[0] + 1}-{cols[-1] + 1} of {n} "
                         "(rows true)" if len(chunks) > 1 else "confusion (rows true, columns predicted: by number)")
                  for cols in chunks]
        if size == 1 or all(fits(console, t) for t in tables):
            break
    return tables[0] if len(tables) == 1 else Group(*tables)


def _table(rows: list[str], heads: list[str], confusion: list[list[int]], cols: range, title: str) -> Table:
    """The columns ``cols`` of the matrix, headed by ``heads``, its rows headed by ``rows``."""
    t = Table("", *(Column(heads[j], justify="right") for j in cols), title=title)
    for label, row in zip(rows, confusion):
        t.add_row(label, *(str(row[j]) for j in cols))
    return t
