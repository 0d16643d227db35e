"""Which truth video a run's ``events.csv`` is of (torch-free): the files of a run folder, and a name (its events'
``video``, its folder, its summary's ``source``) matched to the truth's videos by the most specific name any has.

A truth video is known by its name, its aliases (the paths a reader knows it by) and its own file's path; each is
matched by its tails, longest first, with then without a video file's extension (:func:`_keys`). The first of the
run's keys a truth video has decides: one video, that one; two or more, :class:`AmbiguousVideo` (``clip.mp4`` of a
truth of ``a/clip.mp4`` and ``b/clip.mp4``), never passed over for a vaguer key.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Sequence

from mpt_live.errors import InputError
from mpt_live.rundir import SUMMARY
from mpt_live.sources import VIDEO_EXTENSIONS

from .datasets.longvideo import LongVideo
from .run_state import RunTree, run_tree


class AmbiguousVideo(InputError):
    """A run's video name that fits two or more truth videos equally well (``clip`` of ``clip.mov`` and ``clip.mkv``,
    ``clip.mp4`` of ``a/clip.mp4`` and ``b/clip.mp4``)."""

    def __init__(self, value: str, names: Sequence[str]):
        self.value, self.names = value, sorted(names)
        super().__init__(f"video {value!r} fits the truth videos {' and '.join(self.names)} alike, and neither the run's "
                         "folder nor its summary.json's source tells which: give each video's run a folder named as the "
                         "truth names it (mpt-live --video DIR mirrors DIR's folders), or run on copies named apart")


def _keys(name: str) -> list[str]:
    """The keys ``name`` (a file, a folder, a path) is matched by, most specific first: the path and each shorter tail
    of it, each with then without a video file's extension (``a/clip.mp4``, ``a/clip``, ``clip.mp4``, ``clip``; a
    folder ``spNO.1`` keeps its ``.1``); lower case."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    tails = [PurePosixPath(*parts[i:]) for i in range(len(parts)) if parts[i] != "/"]
    return list(dict.fromkeys(str(k).lower() for t in tails
                              for k in (t, t.with_suffix("") if t.suffix.lower() in VIDEO_EXTENSIONS else t)))


def resolver(videos: Sequence[LongVideo]):
    """``resolve(value)``: the truth video a run's ``value`` (its events' ``video``, its folder, its summary's source)
    names, or None. The most specific key that any truth video has decides (:func:`_keys`): a path whose tail is one
    truth video's before a file name two share; :class:`AmbiguousVideo` where that key is two truth videos'."""
    keys: dict[str, set[str]] = {}
    keyed = [v for v in videos if getattr(v, "key", None)]  # LeftOut known by its reader's key only (CAS(ME)^2)
    for v in videos:
        path = getattr(v, "video", None)  # the truth's own file: its whole path (videos/clip.mp4), where it has one
        for k in (v.name, *v.aliases, *([Path(path).absolute().as_posix()] if path else [])):
            for key in _keys(k):
                keys.setdefault(key, set()).add(v.name)

    def resolve(value: str) -> str | None:
        for key in _keys(value):
            hit = keys.get(key)
            if hit and len(hit) > 1:
                raise AmbiguousVideo(value, hit)
            if hit:
                return next(iter(hit))
        name = PurePosixPath(value.replace("\\", "/")).name
        hit = {v.name for v in keyed if v.key(name) == v.name}
        return next(iter(hit)) if len(hit) == 1 else None

    return resolve


def find_event_files(run: Path, stopped: bool = False, tree: RunTree | None = None) -> list[Path]:
    """``events.csv`` of RUN itself and of its video folders (up to 3 levels down); ``stopped``: none is no error
    where a run's summary.json is there (a run that failed before it wrote one: :func:`.run_state.without_events`).
    ``tree``: RUN's files, walked already (:func:`.run_state.run_tree`)."""
    if run.is_file():
        if run.suffix.lower() != ".csv":  # a video given for its run: its bytes were read as a CSV's columns
            raise InputError(f"{run}: not a run folder or an events.csv (give mpt-live's --out folder of the video)")
        return [run]
    if not run.is_dir():
        raise InputError(f"{run}: no such run folder")
    tree = tree if tree is not None else run_tree(run)
    files = tree["events.csv"]
    if not files and not (stopped and tree[SUMMARY]):
        raise InputError(f"{run}: no events.csv found (in it or its video folders)")
    return files


def folder_video(folder: Path, run: Path, resolve, summary: dict) -> str | None:
    """The truth video of a run ``folder`` whose ``events.csv`` has no rows (or that has none): its path below the
    run (a batch of frame folders mirrors the dataset's layout: ``spNO.1/a/color``), its name, or the ``source`` of
    ``summary`` (its summary.json, {} where there is none), whichever names one."""
    candidates = [folder.relative_to(run).as_posix()] if folder != run and folder.is_relative_to(run) else []
    candidates.append(folder.name)
    source = summary.get("source")
    if isinstance(source, str) and source:
        candidates.append(source)
    unsure = None  # a name two truth videos fit alike (the folder clip of clip.mov and clip.mkv): the next may say
    for c in candidates:
        try:
            if (name := resolve(c)) is not None:
                return name
        except AmbiguousVideo as e:
            unsure = unsure or e
    if unsure is not None:
        raise InputError(f"{folder}: {unsure}")
    return None


def run_resolver(resolve, folder: Path, run: Path, summary: dict):
    """``resolve`` for the events of one run ``folder``: mpt-live writes a video file's name only in events.csv, so a
    name two truth videos share (``clip.mp4`` of ``a/clip.mp4`` and ``b/clip.mp4``) is settled by the run's folder below
    ``run`` or its summary.json's ``source`` (:func:`folder_video`) where that names one of them; each value resolved
    once."""
    known: dict[str, str | None] = {}

    def res(value: str) -> str | None:
        if value not in known:
            try:
                known[value] = resolve(value)
            except AmbiguousVideo as e:
                try:
                    alt = folder_video(folder, run, resolve, summary)
                except InputError:
                    alt = None
                if alt not in e.names:
                    raise
                known[value] = alt
        return known[value]

    return res
