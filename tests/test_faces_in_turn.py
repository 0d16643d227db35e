"""Faces seen long ago hold no frame memory: a run keeps the clip rings of the faces present, not of every face seen.

A face's :class:`mpt_live.clip.FrameRing` (~50 MB at 224 px) is emptied when the face goes (a window never spans two
appearances) and was kept allocated, its pages resident, for the rest of the run: a talk show with a guest after
another grew by a ring per guest. It now gives its memory back (:meth:`FrameRing.release`) and the rows and events
are those of the rings kept.
"""

from __future__ import annotations

import numpy as np
import pytest

from mpt_live.clip import ClipSpec, FrameRing
from mpt_live.session import Session, SessionConfig
from mpt_live.sources import VideoFile

PEOPLE = ["evm_face_still", "liveportrait_d0", "liveportrait_d19_glasses", "liveportrait_d3_expressive"]
references: list[set[int]] = []  # _run's: per frame, the tracks whose stabiliser holds a reference
latest: list[dict] = []  # _run's: per frame, Session.latest as on_frame saw it


def test_a_released_ring_is_empty_holds_no_frames_and_fills_again_like_a_new_one():
    spec = ClipSpec()  # its window times only: the ring holds any frame shape
    ring, fresh = FrameRing(40, (8, 8, 3)), FrameRing(40, (8, 8, 3))
    rng = np.random.default_rng(0)
    for i in range(35):
        ring.push(i / 30, rng.integers(0, 255, (8, 8, 3), dtype=np.uint8))
    full = ring.nbytes
    assert full == 40 * 8 * 8 * 3
    ring.release()
    assert len(ring) == 0 and ring.nbytes == 0 and ring.latest_time is None and not ring.covers(0.0, 0.1)
    ring.release()  # twice: still empty
    assert ring.nbytes == 0
    for i in range(60, 100):  # later times, as a face that comes back
        crop = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
        ring.push(i / 30, crop)
        fresh.push(i / 30, crop)
    assert ring.nbytes == full and len(ring) == len(fresh)
    got, want = ring.frames_for(99 / 30, spec), fresh.frames_for(99 / 30, spec)
    assert np.array_equal(got.times, want.times) and np.array_equal(got.frames, want.frames)
    assert np.array_equal(ring.window(99 / 30, spec), fresh.window(99 / 30, spec))


@pytest.fixture(scope="module")
def in_turn(faces_dir, tmp_path_factory):
    """Four people one after another, then the first again 4.5 s after it left (within a ring's 10 s), 1.5 s each."""
    from train.compose import Shot, with_cuts

    video = tmp_path_factory.mktemp("in_turn") / "in_turn.mp4"
    shots = [Shot(1.5, (i,)) for i in range(len(PEOPLE))] + [Shot(1.5, (0,))]
    truth = with_cuts([faces_dir / "videos" / f"{p}.mp4" for p in PEOPLE], shots, video, tile=320, slots=1)
    return video, truth


def _run(video):
    """The run's rows and events, and per frame: the IDs in it and the IDs whose ring holds memory, and (in
    ``references``) the IDs of the tracks whose stabiliser holds a reference."""
    frames = []
    references.clear()
    latest.clear()

    def on_frame(frame, faces):
        latest.append(dict(session.latest))
        held = {i for i, s in session.states.items() if s.ring.nbytes}
        frames.append(({f.id for f in faces}, held, len(session.states)))
        references.append({tr.id for tr in session.tracker.tracks if tr.aligner.stabilizer.state() is not None})

    with VideoFile(video) as src:
        session = Session(src, None, SessionConfig(), on_frame=on_frame)
        rows = [(r.frame, r.face_id, r.box, r.motion_score, r.top, r.event) for r in session]
    events = [(e.face_id, e.event.onset, e.event.apex, e.event.offset, e.event.type) for e in session.events]
    return rows, events, frames, session.summary()


def test_many_faces_in_turn_hold_the_rings_of_the_faces_present_only(in_turn):
    video, truth = in_turn
    rows, events, frames, summary = _run(video)
    assert max(n for _, _, n in frames) >= len(PEOPLE)  # every person got a face state of their own
    for k, (present, held, _) in enumerate(frames):
        assert held <= present, f"frame {k}: rings of faces not in the frame held: {held - present}"
    assert max(len(held) for _, held, _ in frames) == 1  # one person at a time: one ring at most
    ids = {r[1] for r in rows if r[1] is not None}
    assert {f["face_id"] for f in summary["faces"]} == ids  # the released faces keep their summary sections
    first = [r[1] for r in rows if r[0] < 30 and r[1] is not None]
    last = [r[1] for r in rows if r[0] >= len(truth) - 30 and r[1] is not None]
    assert first and last and set(first) == set(last)  # the first person came back under their own ID
    # a gone face's track keeps its gallery (re-identification), not its stabiliser's reference (reset at a return)
    assert all(held <= present for (present, _, _), held in zip(frames, references))
    assert max(len(held) for held in references) == 1 and len(references) == len(frames)
    # the view's newest window of each face (Session.latest): of the faces present only. A window that comes in for a
    # face gone (one in flight at the loss) stays one frame, the one whose view takes it
    for k in range(1, len(frames)):
        kept = {i for i, r in latest[k].items() if latest[k - 1].get(i) is r}
        assert kept <= frames[k - 1][0], f"frame {k}: windows of faces gone kept: {kept - frames[k - 1][0]}"
    assert sum(bool(d) for d in latest) > len(latest) / 2  # the run's windows were there to keep


def test_rows_and_events_are_those_of_the_rings_kept(in_turn, monkeypatch):
    """The same run with every ring kept (release as clear: the behaviour before) writes the same rows and
    events, the returning face's too; it held a ring for every person seen."""
    video, _ = in_turn
    rows, events, _, _ = _run(video)
    monkeypatch.setattr(FrameRing, "release", FrameRing.clear)
    kept_rows, kept_events, kept_frames, _ = _run(video)
    assert rows == kept_rows and events == kept_events
    assert any(r[3] is not None for r in rows)  # windows with a clip were compared, not only empty ones
    assert max(len(held) for _, held, _ in kept_frames) >= len(PEOPLE)


def _signals(motion, frames):
    out = []
    for i, crop in frames:
        out += motion.push(i, i / 30, crop)
    return [(s.frame, s.time_s, None if s.micro is None else s.micro.tolist(), None if s.macro is None else s.macro.tolist())
            for s in out]


def test_a_face_back_gets_the_motion_signals_of_a_new_motion_stage():
    """A face's FaceMotion is dropped when the face goes and a new one takes its return: the signals are those of the
    one flushed at the loss (which reads nothing of the track before), so the spotter sees the same signals."""
    from mpt_live.facemotion import FaceMotion

    rng = np.random.default_rng(1)
    before = [(i, rng.integers(0, 255, (112, 112, 3), dtype=np.uint8)) for i in range(200)]
    after = [(i, rng.integers(0, 255, (112, 112, 3), dtype=np.uint8)) for i in range(230, 430)]  # 6.7 s each
    kept = FaceMotion(30.0)
    _signals(kept, before + [(200, None)])
    again = _signals(kept, after + [(430, None)])
    new = _signals(FaceMotion(30.0), after + [(430, None)])
    assert again == new
    assert any(micro is not None for _, _, micro, _ in new) and any(macro is not None for *_, macro in new)
