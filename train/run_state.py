"""Runs that did not cover their whole video, for ``mpt-eval spot``: a summary.json's status, a batch's failed.csv.

``mpt-live`` marks each run's summary.json (:mod:`mpt_live.rundir`): ``complete``; ``incomplete`` (it ran to its end,
but its video ended early or an output is missing: ``problems`` says why); ``failed``, ``interrupted``, ``killed`` or
still ``running`` (it stopped part-way). A batch (``mpt-live --video DIR``) lists the videos that failed in
``OUT/failed.csv`` (:mod:`mpt_live.batch`), one that did not open having no folder of its own. Such a run's events are
scored as they are, the truth past where it stopped counting as missed, as the MEGC protocol scores the whole set;
:func:`unfinished_line` names them once, so that a figure over half-processed videos is not reported unknowingly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from mpt_live.overview import FAILED, read_failed

from .datasets.sheets import first_of

STOPPED = {"running": "killed before it ended, or still running", "interrupted": "stopped by a signal",
           "failed": "stopped by an error", "killed": "killed outright, finished from its files by --finish"}
INCOMPLETE = "incomplete"  # ran to its end; its video ended early or an output is missing


def run_problem(summary: dict) -> tuple[str, str] | None:
    """(kind, reason) of a run whose summary.json ``summary`` says it did not cover its whole video, or missed an
    output: kind ``failed`` (a stopped run: :data:`STOPPED`) or ``incomplete``; None for a complete run, or one
    without a summary (an events.csv alone is taken as it is)."""
    status = summary.get("status")
    if status not in STOPPED and status != INCOMPLETE:
        return None
    problems = [str(p) for p in summary.get("problems") or [] if p]
    error = summary.get("error")
    if error and str(error) not in problems:
        problems.insert(0, str(error))
    said = STOPPED.get(status, "")
    reason = f"{status}: " + "; ".join([said] * bool(said) + problems) if said or problems else str(status)
    return ("failed" if status in STOPPED else INCOMPLETE), reason


def failed_videos(runs: Sequence[Path], resolve: Callable[[str], str | None]) -> dict[str, str]:
    """Truth video -> reason, of the rows of the batches' ``failed.csv`` in ``runs`` (up to 3 levels down) whose video
    is a truth video (``resolve``)."""
    out: dict[str, str] = {}
    for run in runs:
        run = Path(run)
        folders = {p.parent for depth in range(4) for p in run.glob("*/" * depth + FAILED) if p.is_file()} \
            if run.is_dir() else set()
        for folder in sorted(folders):
            for video, reason in read_failed(folder):
                name = resolve(str(video))
                if name is not None:
                    out.setdefault(name, reason)
    return out


def with_failed(problem: tuple[str, str] | None, listed: str) -> tuple[str, str]:
    """The problem of a video a batch's failed.csv lists with reason ``listed``, beside its run's own ``problem`` (its
    summary.json's, None without one): failed, both reasons said once."""
    said = problem[1] if problem is not None else ""
    if listed and listed in said:
        return "failed", said
    return "failed", "; ".join(r for r in (said, f"in {FAILED}: {listed or 'failed'}") if r)


def unfinished_line(problems: dict[str, tuple[str, str]], not_run: set[str],
                    after: dict[str, dict[str, int]] | None = None) -> list[str]:
    """The one warning naming the truth videos whose run failed or is incomplete (name -> (kind, reason)); none
    where there are none. ``not_run``: those of them without an events.csv (a video that did not open). ``after``:
    name -> the last truth frame its run read and the truth intervals after it (missed by the run, not the spotter)."""
    if not problems:
        return []
    after = after or {}

    def reach(n: str) -> str:
        a = after.get(n)
        return "" if a is None else (f"; read to frame {a['last_frame_read']} of the truth, "
                                     f"{a['truth_intervals_after']} truth interval(s) after it")
    named = [f"{n} ({why}{'; no events.csv' if n in not_run else ''}{reach(n)})" for n, (_, why) in problems.items()]
    total = sum(a["truth_intervals_after"] for a in after.values())
    unread = (f"; {total} truth interval(s) lie after where their run stopped, missed by the run, not the spotter "
              "('not_reached' in the JSON)") if after else ""
    return [(f"{len(problems)} truth video(s) whose run failed or is incomplete, scored as they are (what a run did "
             f"not read counts as missed{unread}; 'failed' and 'incomplete' in the JSON): {first_of(named, 3)}")]
