"""``mpt-train --protocol loso --ray auto|ADDRESS``: the LOSO folds as Ray tasks, each on its own device.

The driver fills the clip cache once (:func:`train.loso.prepare_loso`), then runs every unfinished fold
as a task: one GPU each when the cluster has GPUs (the fold trains on ``cuda`` there), else one CPU
each (torch on one thread). A task runs :func:`train.loso.train_fold`, the function the serial run
calls, so a fold's figures do not depend on where it ran (same seeds: ``cfg.seed`` before the model
is built, ``cfg.seed * 1000 + k`` for the fold's data order and augmentation); the driver writes
``folds/<subject>.json`` as each fold comes back. Then :func:`train.loso.run_loso` itself runs on the
finished folds: it trains nothing and writes predictions.csv, metrics.json and confusion.png, so the
pooled figures are computed by the same code as a serial run's. A run stopped midway resumes like a
serial one (finished folds are kept, on Ray or not, and the log says how many were found finished and how
many ran now).

A task that raises is reported by its first line (a bad backbone: the same InputError as serially);
a task whose worker dies is retried by Ray. On a real cluster every node must have mpt-live installed
and see the data, the clip cache and the driver's working folder (relative paths are taken from it) at
the same paths (a shared filesystem); see the README.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from mpt_live.errors import InputError, counted
from mpt_live.writers import write_json

from . import loso
from .config import TrainConfig


def fold_task(cfg: TrainConfig, data: loso.LosoData, k: int, subject: str, threads: int, cwd: str) -> dict[str, Any]:
    """Fold ``k`` in a Ray worker, with ``threads`` torch threads, relative paths taken from ``cwd``."""
    import torch

    if os.path.isdir(cwd):  # the driver's working folder: relative data and cache paths mean the same here
        os.chdir(cwd)
    torch.set_num_threads(threads)
    return loso.train_fold(cfg, data.samples, data.labels, len(data.classes), data.cache, k, subject)


def run_loso_ray(cfg: TrainConfig, out: Path, index: Any, address: str, *,
                 log: Callable[[str], None] = print, extra_config: dict[str, Any] | None = None,
                 stage: Callable[[str], None] | None = None) -> dict[str, Any]:
    """LOSO over ``index`` with the folds on the Ray cluster at ``address``; returns the metrics dict. ``stage``: told
    ``preprocessing``, then ``training`` as the folds are sent (:class:`train.run.Stage`)."""
    from mpt_live.ray_batch import connect

    ray = connect(address)
    out = Path(out)
    data = loso.prepare_loso(cfg, out, index, False, log, stage)
    if stage is not None:
        stage("training")
    todo = [(k, s) for k, s in enumerate(data.subjects) if not loso.fold_path(out, s).exists()]
    resources = ray.cluster_resources()
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 0))
    task = ray.remote(**({"num_gpus": 1, "num_cpus": 1} if gpus else {"num_cpus": 1}))(fold_task)
    fold_cfg = replace(cfg, device="cuda" if gpus else "cpu", workers=0)
    shared = ray.put(data)
    refs = {task.remote(fold_cfg, shared, k, s, 1, os.getcwd()): s for k, s in todo}
    earlier = len(data.subjects) - len(todo)
    if earlier:
        log(f"resuming: {earlier}/{len(data.subjects)} folds already finished in {out}")
    log(f"LOSO on Ray: {len(todo)} of {len(data.subjects)} folds to run, one {'GPU' if gpus else 'CPU'} each "
        f"({cpus} CPUs, {gpus} GPUs in the cluster)")
    while refs:
        ready, _ = ray.wait(list(refs), num_returns=1)
        subject = refs.pop(ready[0])
        try:
            fold = ray.get(ready[0])
        except ray.exceptions.RayTaskError as e:
            for ref in refs:
                ray.cancel(ref)
            cause = getattr(e, "cause", None)
            msg = str(cause) if isinstance(cause, InputError) else f"{type(cause or e).__name__}: {cause or e}"
            raise InputError(f"fold {subject}: {msg.splitlines()[0]}") from None
        write_json(loso.fold_path(out, subject), fold)
        log(loso.fold_line(fold, len(data.subjects)))
    # every fold done: run_loso pools them only (its 'resuming' line would count the folds just run here)
    metrics = loso.run_loso(cfg, out, index, log=log, extra_config=extra_config, resumed_note=False)
    assert metrics is not None
    log(f"LOSO on Ray: {counted(len(todo), 'fold')} run now"
        + (f", {earlier} found finished from an earlier run" if earlier else "") + f"; pooled {len(data.subjects)}")
    return metrics
