"""The recordings of a long-video set (:mod:`.longvideo`) that are no video of it, and the sheet rows dropped with them:
a recording folder that holds no image frames (never extracted, or not copied) and a recording the sheet names that
the copy lacks (a partial download). The spotting readers (:mod:`.casme2lv`, :mod:`.sammlv`, :mod:`.casme3lv`) keep
their account in one :class:`Unscored`: each row is dropped and counted as the clip readers drop theirs, the rows and
folders are named in one warning line each, and the recordings are listed for ``mpt-eval spot`` (``left_out``), which
names a run of one of them instead of scoring it."""

from __future__ import annotations

from pathlib import Path

from mpt_live.framenames import images

from .files import ClipFrames
from .longvideo import LeftOut
from .sheets import SheetRow, count, first_of

EMPTY = "its recording folder holds no image frames"
LACKED = "the sheet names it, the copy lacks its recording"
NO_RECORDING = "no recording of its video in the copy"


class Unscored:
    """The empty recording folders and lacked recordings of one load, and the rows they took."""

    def __init__(self) -> None:
        self.folders: list[Path] = []         # recording folders holding no image, in the order read
        self.empty: dict[str, LeftOut] = {}   # the reader's key of each -> how it is listed
        self.unread: list[str] = []           # the rows naming one of them
        self.lost: list[str] = []             # the rows naming a recording the copy lacks
        self.lacked: list[LeftOut] = []       # those recordings

    def read(self, folder: Path, key: str, name: str, aliases: tuple[str, ...] = ()) -> ClipFrames | None:
        """The frames of recording folder ``folder`` (the reader's ``key``, its video ``name`` and ``aliases``); None,
        with the folder noted, when it holds no image (frames never extracted, or not copied), as the clip readers
        drop a clip folder without frames."""
        found = images(folder)
        if found:
            return ClipFrames.read(folder, str(folder), found)
        self.folders.append(folder)
        self.empty[key] = LeftOut(name, f"its recording folder {folder} holds no image frames (not extracted, or not "
                                        "copied)", aliases)
        return None

    def drops(self, row: SheetRow, ident: str, key: str, found: bool, lacked: LeftOut | None, dropped: dict[str, int],
              named: str = "") -> bool:
        """True where ``row`` (``ident`` in the warnings, ``named`` after it) names a recording that is no video of
        the set: the folder of ``key`` found empty by :meth:`read`, or, where not ``found``, one the copy lacks
        (``lacked``: how it is listed). The row is dropped, counted in ``dropped`` and kept for :meth:`warnings`."""
        if key in self.empty:
            count(dropped, EMPTY)
            self.unread.append(f"{row.sheet} row {row.row} ({ident})")
            return True
        if found:
            return False
        count(dropped, NO_RECORDING)
        self.lost.append(f"{row.sheet} row {row.row} ({ident}{': ' + named if named else ''})")
        self.lacked.append(lacked)
        return True

    def warnings(self, show: int = 5, show_empty: int = 3) -> list[str]:
        """One line naming the rows of recordings the copy lacks, one naming the empty folders and their rows; none
        for what did not happen."""
        out = []
        if self.lost:
            out.append(f"{len(self.lost)} annotation row(s) name a recording the copy lacks, dropped: "
                       f"{first_of(self.lost, show)}")
        if self.folders:
            said = (f"{len(self.folders)} recording folder(s) hold no image frames (not extracted, or not copied), not "
                    f"scored: {first_of([str(f) for f in self.folders], show_empty)}")
            out.append(said + (f"; their {len(self.unread)} annotation row(s) dropped: "
                               f"{first_of(self.unread, show_empty)}" if self.unread else ""))
        return out

    def left_out(self) -> list[LeftOut]:
        """The recordings dropped from the truth: the empty folders, then those the copy lacks."""
        return list(self.empty.values()) + self.lacked
