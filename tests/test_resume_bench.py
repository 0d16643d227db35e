"""bench/resume.py: a resumed run's rows and events against an uncut run's."""

from __future__ import annotations

import pytest
from conftest import bench_script


@pytest.fixture(scope="module")
def rb():
    yield from bench_script("resume")


def row(frame: int, face: str, score: float, p: float, top: str, x: int = 10) -> dict[str, str]:
    return {"time_s": str(frame / 10), "frame": str(frame), "face_id": face, "x": str(x), "y": "5", "w": "50",
            "h": "60", "motion_score": str(score), "p_a": str(p), "p_b": str(1 - p), "top": top, "confidence": str(p)}


def test_rows_after_the_point_are_matched_by_frame_and_face(rb):
    """Only rows from the resume point on count; each is compared with the uncut row of its frame and face."""
    uncut = [row(f, "1", 1.0, 0.9, "a") for f in range(1, 11)]
    resumed = [row(f, "1", 1.0, 0.9, "a") for f in range(1, 6)]  # the first part: equal, before the point
    resumed += [row(6, "1", 1.0, 0.9, "a"), row(7, "1", 1.5, 0.9, "a"), row(8, "1", 1.0, 0.2, "b", x=14),
                row(9, "2", 1.0, 0.9, "a")]  # frame 9: a face the uncut run had no row for
    r = rb.compare_rows(uncut, resumed, at_s=0.6)
    assert (r["rows_after"], r["matched"], r["unmatched"], r["differ"]) == (4, 3, 1, 2)
    assert r["score_rel_p90"] == pytest.approx(0.4)  # 0, 0.5, 0: p90 by linear interpolation
    assert r["dprob_max"] == pytest.approx(0.7) and r["dprob_p50"] == pytest.approx(0.0)
    assert (r["argmax_differs"], r["label_differs"], r["box_max"]) == (1, 1, 4)


def test_events_lost_or_moved(rb):
    """An uncut event with no overlapping event of its face is lost; one overlapped but not matched exactly moved."""
    def ev(face: str, on: int, off: int) -> dict[str, str]:
        return {"face": face, "onset_frame": str(on), "offset_frame": str(off)}

    uncut = [ev("1", 10, 20), ev("1", 40, 50), ev("2", 60, 70)]
    resumed = [ev("1", 10, 20), ev("1", 41, 49), ev("1", 60, 70)]  # the last is another face's
    assert rb.compare_events(uncut, resumed) == {"events": 3, "resumed_events": 3, "lost": 1, "other_bounds": 1}


def test_runs_on_the_default_input(rb, demo_clip, tmp_path, capsys):
    """End to end on the 12 s default input, motion only, resumed at 6 s: the uncut run is the baseline, and
    every figure line is printed with the CPU's vector extensions."""
    clip = tmp_path / "demo_input.mp4"
    demo_clip(clip)
    assert rb.main(["--video", str(clip), "--at", "6", "--out", str(tmp_path / "runs"), "--", "--motion-only"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("CPU vector extensions: ")
    assert "demo_input.mp4: baseline (uncut run) " in out
    assert "resumed at 6 s: " in out and "rows from it on" in out
    assert (tmp_path / "runs" / "at6" / "predictions.csv").exists()


def test_bad_resume_points_are_one_line(rb, tmp_path, capsys):
    with pytest.raises(SystemExit):
        rb.main(["--video", str(tmp_path / "none.mp4"), "--at", "x"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--at x: not a comma-separated list of seconds" in err
