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
    console.print(confusion_table(console, metrics["classes"], metrics["confusion"]))


def confusion_table(console: Console, classes: list[str], confusion: list[list[int]]) -> Table:
    """Rows true, columns predicted, the columns headed by the class names where they fit the console, else by the
    classes' numbers (rows ``1 anger``): seven CAS(ME)^3 emotions on an 80-column terminal cut 'happiness' to
    'happine…'."""
    for numbered in (False, True):
        heads = [str(i + 1) for i in range(len(classes))] if numbered else classes
        rows = [f"{i + 1} {c}" for i, c in enumerate(classes)] if numbered else classes
        cm = Table("", *(Column(h, justify="right") for h in heads),
                   title="confusion (rows true, columns predicted" + (": by number)" if numbered else ")"))
        for c, row in zip(rows, confusion):
            cm.add_row(c, *map(str, row))
        if console.measure(cm, options=console.options.update(max_width=10_000)).maximum <= console.width:
            break
    return cm
