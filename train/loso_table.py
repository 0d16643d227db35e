"""What mpt-train prints at the end of a LOSO run: the per-fold figures and the confusion matrix."""

from __future__ import annotations

from rich.console import Console
from rich.table import Column, Table


def print_loso(console: Console, metrics: dict) -> None:
    """The per-fold table (pooled figures on the last line) and the confusion matrix."""
    t = Table(*(Column(c, justify="left" if c == "subject" else "right") for c in ("subject", "n", "Acc", "UF1", "UAR",
                                                                                 "train s")),
              title="LOSO per fold (pooled figures on the last line)")
    for f in metrics["folds"]:
        t.add_row(str(f["subject"]), str(f["n"]), f"{f['acc']:.3f}", f"{f['uf1']:.3f}",
                  f"{f['uar']:.3f}", f"{f['train_seconds']:.1f}")
    t.add_section()
    t.add_row("pooled", str(metrics["n"]), f"{metrics['acc']:.3f}", f"{metrics['uf1']:.3f}",
              f"{metrics['uar']:.3f}", f"{metrics['train_seconds']:.1f}", style="bold")
    console.print(t)
    cm = Table("", *(Column(c, justify="right") for c in metrics["classes"]), title="confusion (rows true, columns predicted)")
    for c, row in zip(metrics["classes"], metrics["confusion"]):
        cm.add_row(c, *map(str, row))
    console.print(cm)
