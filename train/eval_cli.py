"""``mpt-eval``: score runs the MEGC way (torch-free).

    mpt-eval spot --truth ROOT/annotations.csv --runs RUN [--type micro|macro|all] [--out RUN/spotting.json]
    mpt-eval spot --dataset casme2lv --data /data/CASME_sq --runs RUN

Reads ``events.csv`` of RUN and of every video folder in it, matches the spotted intervals to the
annotated ones (IoU >= 0.5, see :mod:`train.spot_metrics`), prints a table (micro, macro, all) and
writes the JSON. Expected failures print one line and exit with status 2.
"""

from __future__ import annotations

import fnmatch
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mpt_live.cli_options import ToolTyper
from mpt_live.errors import InputError, OutputError, counted
from mpt_live.interrupts import exit_code, signal_name, stop_signals
from mpt_live.terminal import fits

app = ToolTyper("mpt-eval", help="Score mpt-live runs against annotated long videos (MEGC spot-then-recognize).")


class Kind(str, Enum):
    micro = "micro"
    macro = "macro"
    all = "all"


class SpotDataset(str, Enum):
    casme2lv = "casme2lv"
    sammlv = "sammlv"
    casme3 = "casme3"


def _fmt(v: Any) -> str:
    return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


SPOTTING = (("truth", "n_truth"), ("spotted", "n_spotted"), ("TP", "tp"), ("FP", "fp"), ("FN", "fn"),
            ("precision", "precision"), ("recall", "recall"), ("F1", "f1"))
RECOGNITION = (("analysis F1", "analysis_f1"), ("UF1", "uf1"), ("UAR", "uar"), ("STRS", "strs"))


def table(result: dict[str, Any], columns: tuple[tuple[str, str], ...] = SPOTTING + RECOGNITION,
          title: str = "MEGC spotting") -> Table:
    """The by-type table of a :func:`train.spot_metrics.score` result (``columns``: header, key)."""
    t = Table(title=f"{title} (IoU >= {result['iou_threshold']:g})")
    t.add_column("type")
    for c, _ in columns:
        t.add_column(c, justify="right")
    for kind, r in result["by_type"].items():
        t.add_row(kind, *(_fmt(r[k]) for _, k in columns), style="bold" if kind == result["type"] else None)
    return t


def tables(result: dict[str, Any], console: Console) -> list[Table]:
    """The one table where it fits the console, else two (spotting; recognition of the true positives): on an
    80-column terminal the one table's 13 columns were cut to 'ty…', '0.…'."""
    whole = table(result)
    if fits(console, whole):
        return [whole]
    return [table(result, SPOTTING), table(result, RECOGNITION, "recognition of the true positives")]


@app.callback()
def _main() -> None:
    """Score runs the MEGC way."""


@app.command()
def spot(
    runs: list[Path] = typer.Option(..., "--runs", help="Run folder: events.csv in it or in its video folders (repeat --runs for several; each video once)."),
    truth: Optional[Path] = typer.Option(None, "--truth", help="annotations.csv: an mpt-synth --long benchmark's, or "
                                         "your own (video, onset, apex, offset, fps, type; label, action_units, face "
                                         "optional; frames 0-based, inclusive; apex may be blank)."),
    dataset: Optional[SpotDataset] = typer.Option(None, "--dataset", help="A real spotting set, read with --data."),
    data: Optional[Path] = typer.Option(None, "--data", help="The dataset's folder in its distribution layout."),
    kind: Kind = typer.Option(Kind.all, "--type", help="Headline figures: micro, macro or all (pooled)."),
    out: Optional[Path] = typer.Option(None, "--out", path_type=str,  # as typed: Path() drops a trailing '/'
                                       help="JSON output (default: RUN/spotting.json of the first run)."),
) -> None:
    """Spotting precision/recall/F1 and recognition on the true positives (analysis F1, UF1, UAR, STRS)."""
    console = Console() if sys.stdout.isatty() else Console(width=160)  # a full table in logs too
    with stop_signals():  # SIGTERM and SIGHUP stop it as Ctrl-C does: one line, 128 + n; the JSON is whole or absent
        try:
            index, result, target = _score(runs, truth, dataset, data, kind, out)
        except (InputError, OutputError) as e:
            print(f"error: {e}", file=sys.stderr)
            raise typer.Exit(2)
        except KeyboardInterrupt as e:
            print(f"mpt-eval: interrupted ({signal_name(e)}); nothing written", file=sys.stderr)
            raise typer.Exit(exit_code(e))
    for t in tables(result, console):
        console.print(t)
    def say(label: str, style: str, text: str) -> None:  # names as they are: 'v[take2]' is no markup, ':ok:' no emoji
        console.print(Text.assemble((label, style), " " if label else "", text), highlight=False, soft_wrap=True)

    for w in index.warnings + result["warnings"]:
        say("warning:", "yellow", w)
    for reason, n in sorted(index.dropped.items()):  # truth rows that are not scored
        say("dropped", "yellow", f"{n} truth row(s): {reason}")
    for note, n in sorted(index.notes.items()):
        say("note:", "", f"{n} truth row(s): {note}")
    from .spot_stretch import stretch_line

    for name, span in result.get("stretches", {}).items():  # a run of part of its video: the truth outside not scored
        say("note:", "", stretch_line(name, span))
    if result.get("recognition_blank"):
        say("note:", "", f"analysis F1, UF1, UAR and STRS are blank: {result['recognition_blank']}")
    bare = len(result.get("unannotated", []))  # recordings no sheet row names: counted, named in the JSON
    gone = len(result.get("dropped_recordings", {}))  # run, but dropped from the truth by the copy: not scored
    faced = len(result.get("face_pairs", {}))  # the truth names faces: scored per pair of faces
    from .spot_faces import fragments

    joined = fragments(result.get("face_pairs", {}))  # run face IDs on a truth face another run ID has
    say("", "", counted(len(index.videos), "video")
        + (f" ({bare} without annotated intervals, scored for false positives only: 'unannotated' in the JSON)"
           if bare else "")
        + (f"; {faced} scored per face, the run's face IDs paired with the truth's to make the most true positives "
           "('face_pairs' in the JSON)" if faced else "")
        + (f", {joined} run face ID(s) joined to a truth face another ID of the run has (a track lost and found "
           "again: not tracked at the same time)" if joined else "")
        + (f"; {gone} run recording(s) dropped from the truth, not scored ('dropped_recordings' in the JSON)"
           if gone else "") + f"; wrote {target}")


def _score(runs: list[Path], truth: Optional[Path], dataset: Optional[SpotDataset], data: Optional[Path], kind: Kind,
           out: Optional[Path]) -> tuple[Any, dict[str, Any], Path]:
    """Read the truth and the runs, score them, write the JSON; (the truth's index, the result, the JSON's path)."""
    from mpt_live.rundir import check_not_input, check_out_file
    from mpt_live.writers import write_json

    from .datasets.longvideo import load_long_dataset, read_annotations_csv
    from .spot_metrics import score
    from .spot_runs import read_runs
    from .spot_stretch import scored_truth

    if (truth is None) == (dataset is None):
        raise InputError("give either --truth annotations.csv or --dataset NAME --data ROOT")
    if dataset is not None and data is None:
        raise InputError(f"--dataset {dataset.value} needs --data ROOT (the dataset's folder)")
    if out is not None:
        # before the work: a bad --out (a folder, a name typed as one) is one line, never a traceback at the end
        out = check_out_file(out, example="spotting.json")
        check_not_input(out, truth, "the annotation file")
        check_not_read(out, runs, data if dataset is not None else None)
    try:
        index = read_annotations_csv(truth) if truth is not None else load_long_dataset(dataset.value, data)
    except InputError as e:  # a dataset's own sheet given as --truth: which option reads it
        hint = None if truth is None else sheet_hint(truth)
        raise InputError(f"{e}; {hint}" if hint else str(e)) from None
    notes: list[str] = []
    gone: dict[str, str] = {}
    unfinished: dict[str, tuple[str, str]] = {}
    unreached: dict[str, dict[str, int] | None] = {}
    folders: dict[str, tuple[Path, float | None]] = {}  # each video's run folder: when each face was tracked
    spans: dict[str, dict[str, Any]] = {}  # runs of part of their video (--start, --max-seconds, a stop)
    spotted = read_runs(runs, index, notes, gone, unfinished, folders, unreached, spans)
    result = score(scored_truth(index, spans), spotted, kind.value, folders=folders)
    result["warnings"] = notes + result["warnings"]
    result["truth"] = str(truth if truth is not None else data)
    result["runs"] = [str(r) for r in runs]
    result["dropped"] = index.dropped
    result["not_run"] = [v.name for v in index.videos if v.name not in spotted]  # their truth scored as missed
    result["unannotated"] = [v.name for v in index.videos if not v.intervals]
    result["dropped_recordings"] = gone  # run, but this copy drops them from the truth: not scored
    for state in ("failed", "incomplete"):  # runs scored as they are: part of the video, or an output missing
        result[state] = {name: why for name, (k, why) in sorted(unfinished.items()) if k == state}
    result["recognition_blank"] = recognition_blank(result, index, spotted)
    result["stretches"] = spans  # video -> the frames scored, how the run came to cover them, truth left out
    result["not_reached"] = unreached  # of those: the last truth frame read, the truth intervals after it (None:
    # nothing says how far it read)
    target = out or ((runs[0] if runs[0].is_dir() else runs[0].parent) / "spotting.json")
    try:
        write_json(target, result)
    except OSError as e:  # e.g. RUN/spotting.json a folder, a full disk: the path and why, no traceback
        raise OutputError(f"{target}: cannot write the JSON output ({e.strerror or e})") from None
    return index, result, target


# a dataset's own sheet given to --truth (whose columns are not annotations.csv's): what it is, and what reads it
SCORE_WITH = "score with --dataset {} --data ROOT (the dataset's folder)"
SHEET_HINTS = (
    ("*code_final*", "it is CAS(ME)^2's coding sheet: " + SCORE_WITH.format("casme2lv")),
    ("samm*longvideos*", "it is SAMM-LV's sheet: " + SCORE_WITH.format("sammlv")),
    ("*cas(me)*3*part_a*", "it is a CAS(ME)^3 part A label sheet: " + SCORE_WITH.format("casme3")),
    ("casme2_label*", "it is CASME II's label sheet of short clips (mpt-train --dataset casme2), no long-video "
                      "truth: mpt-eval spot scores --truth annotations.csv or --dataset casme2lv|sammlv|casme3"),
    ("*smic*e*annotation*", "it is SMIC-E's annotation sheet of short clips (mpt-train --dataset smic), no "
                            "long-video truth: mpt-eval spot scores --truth annotations.csv or --dataset "
                            "casme2lv|sammlv|casme3"),
    ("casme2-coding*", "it is CASME II's coding sheet of short clips (mpt-train --dataset casme2), no long-video "
                       "truth: mpt-eval spot scores --truth annotations.csv or --dataset casme2lv|sammlv|casme3"),
    ("*micro_facs_codes*", "it is SAMM's coding sheet of short clips (mpt-train --dataset samm), no long-video "
                           "truth: mpt-eval spot scores --truth annotations.csv or --dataset sammlv (SAMM-LV)"),
)


def sheet_hint(truth: Path) -> str | None:
    """What a dataset's own sheet given as ``--truth`` is and how to score it (ROOT: the folder holding the sheet
    and the recordings), None for any other file."""
    name = truth.name.lower()
    for pattern, hint in SHEET_HINTS:
        if fnmatch.fnmatchcase(name, pattern):
            return hint
    return run_file_hint(truth)


# mpt-live's own outputs given to --truth (a new user's guess: the run's events as the truth), known by their header
RUN_FILES = {"events.csv": {"event_id", "onset_frame", "apex_frame", "offset_frame"},
             "predictions.csv": {"time_s", "frame", "face_id", "motion_score"}}


def run_file_hint(truth: Path) -> str | None:
    """What to give instead where ``truth`` is an mpt-live run's events.csv or predictions.csv (by its header, under
    any name), None for any other file."""
    try:
        with open(truth, encoding="utf-8", errors="replace") as fh:
            header = {c.strip() for c in fh.readline().split(",")}
    except OSError:
        return None
    for kind, columns in RUN_FILES.items():
        if columns <= header:
            return (f"it is an mpt-live run's {kind}, not a truth: give its run folder to --runs, and to --truth the "
                    "videos' annotations (mpt-synth --long's annotations.csv), or --dataset casme2lv|sammlv|casme3 "
                    "--data ROOT")
    return None


def recognition_blank(result: dict[str, Any], index: Any, spotted: dict[str, list[Any]]) -> str | None:
    """Why the recognition figures (analysis F1, UF1, UAR, STRS) of ``result`` are blank, where they are (None: they
    are not): no labels in the truth, no classes in the run, no true positive to recognise."""
    if result["by_type"]["all"]["analysis_f1"] is not None:
        return None
    if not any(iv.label for v in index.videos for iv in v.intervals):
        return "the truth has no labels (its label column blank or absent)"
    if not any(spotted.values()):  # a model's run that found no movement: its events are not classless
        return "the run spotted no events (nothing to recognise)"
    if not any(s.cls for found in spotted.values() for s in found):
        return ("the run's events have no class (events.csv's class blank: a --motion-only run, or another tool's): "
                "run mpt-live with a model to have them recognised")
    if not result["by_type"]["all"]["tp"]:
        return "no true positive to recognise"
    return "its true positives' labels or classes are blank"


def check_not_read(out: Path, runs: list[Path], data: Optional[Path] = None) -> None:
    """InputError when ``out`` is a file one of ``runs`` holds (its events.csv, summary.json, recording ...) or a file
    of the dataset ``data`` (a coding sheet, a video, a frame, any other): the JSON would replace it. An earlier
    result of this command there may be written over, and a new file be written anywhere."""
    if not out.is_file() or _earlier_result(out):
        return
    target = out.resolve()
    home = runs[0] if runs[0].is_dir() else runs[0].parent
    for run in runs:
        if target == run.resolve() or run.resolve() in target.parents:
            home = run if run.is_dir() else run.parent
            raise InputError(f"--out {out}: is a file of the run {run} this command reads; writing the JSON would "
                             f"overwrite it, give another file (default: {home / 'spotting.json'})")
    if data is not None and data.resolve() in target.parents:
        raise InputError(f"--out {out}: is a file of the dataset {data} this command reads; writing the JSON would "
                         f"overwrite it, give another file (default: {home / 'spotting.json'})")


def _earlier_result(path: Path) -> bool:
    """``path`` is a JSON this command wrote (it names its truth and runs)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and {"truth", "runs", "dropped"} <= data.keys()


def main() -> None:
    """Console-script entry point."""
    from mpt_live.errors import expanded_glob, refuse_empty_arguments, run_app

    refuse_empty_arguments(sys.argv[1:])
    several = expanded_glob(sys.argv[1:], "--runs", repeat=True)
    if several:  # typer said only 'Got unexpected extra argument(s)'
        print(f"error: {several}", file=sys.stderr)
        sys.exit(2)
    run_app(app, "mpt-eval", sys.argv[1:])


if __name__ == "__main__":  # pragma: no cover
    main()
