"""The stabiliser references a resumed run finds (mpt_live/references.py's ReferenceLog): restored once a face, none
where the pre-roll replays the run from its first frame; the lines past the resume point cut off; a damaged file set
aside; only the pre-roll's references held; the paths that cannot be read or written named in one line."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace as NS

import numpy as np

from mpt_live.references import SIDECAR, ReferenceLog, encode, lines, read
from mpt_live.rundir import start_run

FPS = 30


class Stab:
    """A stabiliser's state() and restore(), the restores noted."""

    def __init__(self) -> None:
        self.got: list[tuple[float, np.dtype]] = []

    def state(self):
        return {"ref": np.full((112, 112), 7.0, np.float32), "warp": np.eye(2, 3), "t": 0.0}

    def restore(self, ref, warp, t):
        self.got.append((t, ref.dtype))


def kept(out: Path, where: dict[int, list[int]]) -> None:
    """SIDECAR in ``out`` with a line for each face at each of its frames."""
    stab = Stab()
    (out / SIDECAR).write_text("".join(encode(face, f / FPS, f, stab.state()) for face, frames in where.items()
                                       for f in frames))


def replay(log: ReferenceLog, frames: range, faces: list[int], stabs: dict[int, Stab]) -> None:
    tracker = NS(tracks=[NS(id=i, aligner=NS(stabilizer=stabs[i])) for i in faces])
    for i in frames:
        log.frame(i, i / FPS, tracker, [NS(id=face, face=NS(detected=True)) for face in faces])


def test_a_pre_roll_from_the_runs_first_frame_restores_none_and_a_later_one_each_face_once(tmp_path):
    """From frame 0 (the run's first) the pre-roll replays the run exactly: a reference restored there (rounded to
    whole grey levels) would move it off the uncut run's rows. From later, each face of the run before is restored
    once, at its first reference the pre-roll passes (uint8, as kept), not again at each later one."""
    kept(tmp_path, {0: [0, 300, 600], 1: [330, 630]})
    stabs = {0: Stab(), 1: Stab()}
    log = ReferenceLog(tmp_path, print, after_frame=700, old_ids={0, 1}, from_frame=0, first_frame=0)
    replay(log, range(701), [0, 1], stabs)
    assert log.restored == 0 and stabs[0].got == stabs[1].got == []
    log = ReferenceLog(tmp_path, print, after_frame=700, old_ids={0, 1}, from_frame=300, first_frame=0)
    replay(log, range(300, 701), [0, 1], stabs)
    assert stabs[0].got == [(10.0, np.uint8)] and stabs[1].got == [(11.0, np.uint8)] and log.restored == 2
    log = ReferenceLog(tmp_path, print, after_frame=700, old_ids={1}, from_frame=300, first_frame=0)
    stabs = {0: Stab(), 1: Stab()}
    replay(log, range(300, 701), [0, 1], stabs)  # face 0 is no face of the run before now: not restored
    assert stabs[0].got == [] and stabs[1].got == [(11.0, np.uint8)]


def test_the_lines_past_the_resume_point_are_cut_off_and_only_the_pre_rolls_are_held(tmp_path):
    """A killed run's references run ahead of its rows: a face seen only after the last row (face 2) has a line and
    no row, so its ID may be another person's in the resumed run; the file keeps the lines up to the resume point only.
    Of those, the run holds the pre-roll's (as uint8), and none past the pre-roll."""
    kept(tmp_path, {0: [0, 300, 600, 900, 1200], 2: [1210]})
    warned: list[str] = []
    log = ReferenceLog(tmp_path, warned.append, after_frame=1000, old_ids={0, 2}, from_frame=600, first_frame=0)
    assert [r["frame"] for r in read(tmp_path / SIDECAR)[0]] == [0, 300, 600, 900] and 2 not in read(tmp_path / SIDECAR)
    assert sorted(log.refs) == [(0, 600), (0, 900)] and all(r["ref"].dtype == np.uint8 for r in log.refs.values())
    assert log.kept == {0: 30.0} and not warned and not (tmp_path / (SIDECAR + ".tmp")).exists()
    replay(log, range(1001, 1003), [0], {0: Stab()})
    assert log.refs == {}


def test_a_damaged_file_is_set_aside_and_the_run_keeps_its_own_in_a_new_one(tmp_path):
    """After the warning the resumed run appended its good lines to the damaged file, so every later resume threw all
    of them away: the damaged one is set aside (named in the warning) and the new lines make a readable file."""
    kept(tmp_path, {0: [0, 300]})
    with open(tmp_path / SIDECAR, "a") as fh:
        fh.write('{"v": 1, "face": 0, "t": "noon"}\n')
    warned: list[str] = []
    log = ReferenceLog(tmp_path, warned.append, after_frame=400, old_ids={0}, from_frame=300, first_frame=0)
    assert len(warned) == 1 and "line 3" in warned[0] and f"set aside as {SIDECAR}.damaged" in warned[0]
    assert (tmp_path / (SIDECAR + ".damaged")).is_file() and not (tmp_path / SIDECAR).exists()
    replay(log, range(300, 700), [0], {0: Stab()})
    log.close()
    assert [r["frame"] for r in read(tmp_path / SIDECAR)[0]] == [401] and len(warned) == 1


def test_a_file_set_aside_stays_for_a_resume_and_goes_at_the_next_new_run(tmp_path):
    """The .damaged file is never read again: a --resume keeps it with the run's outputs (its warning named it), a new
    run of the folder (not --resume) clears it with them, not left stale beside that run's outputs."""
    kept(tmp_path, {0: [0, 300]})
    with open(tmp_path / SIDECAR, "a") as fh:
        fh.write("not json\n")
    ReferenceLog(tmp_path, [].append, after_frame=400, old_ids={0}, from_frame=300, first_frame=0).close()
    aside = tmp_path / (SIDECAR + ".damaged")
    assert aside.is_file()
    start_run(tmp_path, "x.mp4", keep=True)
    assert aside.is_file()
    start_run(tmp_path, "x.mp4")
    assert not aside.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_a_sidecar_that_cannot_be_removed_or_read_is_named_in_one_line(tmp_path, monkeypatch):
    """A folder where the file goes (a new run removes an earlier file) and a file that cannot be read: one line
    each saying so, no traceback, and the run goes on keeping none (not 'not mpt-live's record')."""
    (tmp_path / SIDECAR).mkdir()
    warned: list[str] = []
    log = ReferenceLog(tmp_path, warned.append)
    replay(log, range(10), [0], {0: Stab()})
    assert len(warned) == 1 and "cannot be removed" in warned[0] and log.written == 0
    (tmp_path / SIDECAR).rmdir()
    kept(tmp_path, {0: [0]})

    def unreadable(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", unreadable)
    warned.clear()
    ReferenceLog(tmp_path, warned.append, after_frame=400, old_ids={0}, from_frame=300, first_frame=0)
    assert len(warned) == 1 and "cannot be read (Permission denied)" in warned[0]
    assert "not mpt-live's record" not in warned[0]
    monkeypatch.undo()
    assert [r["frame"] for _, r in lines(tmp_path / SIDECAR)] == [0]  # left as it was


def test_a_live_run_keeps_no_references(tmp_path, faces_dir):
    """--realtime (a live source, as a camera or a stream are): --resume does not go on with it, so its folder gets
    no file of references, though its face was detected."""
    import csv

    from test_faults import cli

    out = tmp_path / "o"
    res = cli("--video", str(faces_dir / "videos" / "liveportrait_d19_glasses.mp4"), "--realtime", "--motion-only",
              "--headless", "--out", str(out), "--max-seconds", "2")
    assert res.returncode == 0, res.stderr[-2000:]
    with open(out / "predictions.csv", newline="") as fh:
        assert any(r["x"] for r in csv.DictReader(fh))
    assert not (out / SIDECAR).exists()


def test_a_reference_of_another_crop_size_is_set_aside_as_a_damaged_file_is(tmp_path):
    """A reference whose crop is not the stabiliser's size is found only when the pre-roll restores it: it warned and
    left the file in place, so every later --resume found the same reference again and the resumed run appended its
    own to it. Now as a damaged file: one line naming the file, the face and what is wrong, the file set aside as
    .damaged, nothing else restored, and the run's own references go to a new file, each face's at once."""
    from mpt_live.stabilize import Stabilizer

    stab = Stabilizer(224)  # 112x112 crops
    stab.state = Stab().state  # its state after a frame, without frames to register
    small = {"ref": np.full((56, 56), 7.0, np.float32), "warp": np.eye(2, 3), "t": 0.0}
    (tmp_path / SIDECAR).write_text(encode(0, 10.0, 300, small) + encode(1, 23.0, 690, Stab().state()))
    warned: list[str] = []
    log = ReferenceLog(tmp_path, warned.append, after_frame=700, old_ids={0, 1}, from_frame=300, first_frame=0)
    tracker = NS(tracks=[NS(id=i, aligner=NS(stabilizer=stab)) for i in (0, 1)])
    for i in range(300, 800):
        log.frame(i, i / FPS, tracker, [NS(id=face, face=NS(detected=True)) for face in (0, 1)])
    log.close()
    assert len(warned) == 1 and str(tmp_path / SIDECAR) in warned[0], warned
    assert "face 0's reference at 10 s" in warned[0] and "(56, 56)" in warned[0]
    assert f"set aside as {SIDECAR}.damaged" in warned[0] and log.restored == 0
    assert [r["frame"] for _, r in lines(tmp_path / (SIDECAR + ".damaged"))] == [300, 690]
    # the run's own, from the first frame after the resume point: face 1's reference set aside (23 s) does not
    # hold its next one back to 33 s
    assert {face: refs[0]["frame"] for face, refs in read(tmp_path / SIDECAR).items()} == {0: 701, 1: 701}


def test_a_live_run_into_a_folder_removes_the_earlier_file_runs_references(tmp_path, faces_dir):
    """A --realtime run (as a camera's or a stream's) clears an earlier run's outputs from its folder but left that
    run's references there; a --resume of the live run's video (refused only for a camera or a stream) went on with
    the folder's summary, that video's, and would restore the references of the other video's faces into its own
    (their IDs alike: 0, 1, ...). Every new run now removes them with the other outputs."""
    from test_faults import cli

    out, videos = tmp_path / "o", faces_dir / "videos"
    res = cli("--video", str(videos / "liveportrait_d6.mp4"), "--motion-only", "--headless", "--out", str(out),
              "--max-seconds", "1")
    assert res.returncode == 0, res.stderr[-2000:]
    assert 0 in read(out / SIDECAR)
    res = cli("--video", str(videos / "liveportrait_d19_glasses.mp4"), "--realtime", "--motion-only", "--headless",
              "--out", str(out), "--max-seconds", "1")
    assert res.returncode == 0, res.stderr[-2000:]
    assert not (out / SIDECAR).exists()


def test_a_resume_reads_the_references_once_for_its_pre_roll_its_ids_and_its_log(tmp_path, monkeypatch):
    """resume_point decoded the file for the pre-roll's start (preroll_from) and again for the faces it keeps
    (faces_kept), and the run's ReferenceLog a third time: three reads of a file that grows 17 kB a face every 10 s.
    Now once, shared, with the same pre-roll, IDs taken and references restored as reads of the file give."""
    from conftest import killed_run
    from faultkit import write_video
    from mpt_live.resume import resume_point

    video = write_video(tmp_path / "v.mp4", 5)
    out = tmp_path / "o"
    facts = killed_run(out, video, 1500, FPS)
    kept(out, {0: [0, 300, 600, 900, 1200], 1: [351], 2: [1600]})  # face 1: met between rows; face 2: after the last row
    reads: list[Path] = []
    real = Path.read_bytes

    def counted(self):
        if self.name == SIDECAR:
            reads.append(self)
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", counted)
    point = resume_point(out, NS(name=str(video), frame_count=1800), facts)
    log = ReferenceLog(out, [].append, point.after_frame, point.written.taken, point.from_frame, point.first_frame,
                       point.kept)
    assert len(reads) == 1, reads
    # what reads of the file give: the pre-roll begins at face 0's reference at 600 (its latest before 1500 - PREROLL_S,
    # within 10 s and a margin), face 1 (met between rows, long before) is taken, face 2's line (past the last row) is
    # cut off; the pre-roll's references are held
    assert point.after_frame == 1500 and point.from_frame == 600 and point.written.taken == {0, 1}
    assert sorted(log.refs) == [(0, 600), (0, 900), (0, 1200)]
    monkeypatch.undo()
    assert sorted(read(out / SIDECAR)) == [0, 1]
