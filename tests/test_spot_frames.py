"""A run's events in the truth's frames (``train.spot_frames``): hand-computed cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpt_live.results import open_table, read_table
from train.spot_frames import first_time, last_prediction

HEADER = b"time_s,frame,face_id\r\n"


@pytest.mark.parametrize("body, first, last", [
    (HEADER + b"0.5,0,0\r\n0.6,3,0\r\n", 0.5, (3.0, 0.6)),
    (b"\xef\xbb\xbf" + HEADER + b"0.5,0,0\r\n0.6,3,0\r\n", 0.5, (3.0, 0.6)),  # a spreadsheet's byte-order mark
    (HEADER + b"0.5,0,0\r\n0.6,3,0\r\n0.7,4", 0.5, (3.0, 0.6)),  # a kill cut the last row: left out, not frame 4
    (HEADER + b"0.7,4", 0.0, (None, None)),                         # ... the only row
    (HEADER, 0.0, (None, None)),
    (b"", 0.0, (None, None)),
])
def test_predictions_read_by_mpt_lives_reader(tmp_path, body, first, last):
    """spot_frames read predictions.csv with a reader of its own, which took a row a kill cut short for a frame (a
    '4' that was '45'). It reads through mpt_live.results.open_table now: read_table's rules."""
    (tmp_path / "predictions.csv").write_bytes(body)
    assert first_time(tmp_path) == first
    assert last_prediction(tmp_path) == last


def test_the_first_row_is_read_without_the_rest(tmp_path):
    """Rows are read as they are asked for: the first row of a large file whose later bytes are no text is its
    first, where a reader of the whole file fails."""
    good = HEADER + b"0.25,0,0\r\n" + b"".join(b"%d,%d,0\r\n" % (i, i) for i in range(1, 5000))
    (tmp_path / "predictions.csv").write_bytes(good + b"\xff\xfe,9,0\r\n")
    assert first_time(tmp_path) == 0.25
    with pytest.raises(UnicodeDecodeError):
        read_table(tmp_path / "predictions.csv")


def test_a_missing_file_has_no_rows(tmp_path):
    assert first_time(tmp_path) == 0.0 and last_prediction(tmp_path) == (None, None)


@pytest.mark.parametrize("body, rows, whole_rows", [
    (HEADER + b"1,2,3\r\n4,5,6\r\n", 2, 2),
    (HEADER + b"1,2,3\r\n4,5", 2, 1),          # the last line cut short
    (b"\xef\xbb\xbfa,b\n1,2", 1, 0),
    (b"a,b\n", 0, 0),
    (b"", 0, 0),
])
def test_open_table_reads_as_read_table_reads(tmp_path, body, rows, whole_rows):
    path = tmp_path / "t.csv"
    path.write_bytes(body)
    for whole_lines, n in ((False, rows), (True, whole_rows)):
        with open_table(path, whole_lines) as (fields, it):
            streamed = fields, list(it)
        assert streamed == read_table(path, whole_lines) and len(streamed[1]) == n
    assert streamed[0] == (["a", "b"] if b"a,b" in body else ["time_s", "frame", "face_id"] if body else [])


HOUR = 108_000  # frames of an hour at 30 fps


def _hour_run(tmp_path: Path, fps: float, frames: list[tuple[int, int]], summary: dict) -> Path:
    """A run of an hour-long copy of a 30 fps truth video at ``fps``: events at its own ``frames`` (onset, offset),
    their seconds those frames at ``fps`` (frame numbers only: no video)."""
    import csv
    import json

    from mpt_live.spotting import EVENT_COLUMNS

    run = tmp_path / "run" / "v"
    run.mkdir(parents=True)
    with open(run / "events.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, EVENT_COLUMNS)
        w.writeheader()
        for on, off in frames:
            w.writerow({"video": "v.mp4", "onset_frame": on, "apex_frame": on, "offset_frame": off, "type": "micro",
                        "onset_s": on / fps, "apex_s": on / fps, "offset_s": off / fps})
    (run / "summary.json").write_text(json.dumps({"status": "complete", "source_fps": fps, **summary}))
    (run / "predictions.csv").write_text("time_s,frame,face_id\n0.0,0,0\n")
    return tmp_path / "run"


REENCODED = [(50, 59), (99_900, 99_909)]  # the truth's 50..59 and 100 000..100 009 in a 29.97 fps re-encode's frames


@pytest.mark.parametrize("fps, count, known, events, placed, tp, said", [
    # a re-encode at 29.97 (an hour: 107 892 frames): kept, its late event was 100 frames (3.3 s) early, a miss
    (29.97, 107_892, True, REENCODED, [(50, 59), (100_000, 100_009)], 2, "run at 29.97 fps"),
    # the same images timed at 29.97 (108 000 frames): their numbers are the truth's, kept
    (29.97, HOUR, True, [(50, 59), (100_000, 100_009)], [(50, 59), (100_000, 100_009)], 2, None),
    (29.97, HOUR - 2, True, [(50, 59), (100_000, 100_009)], [(50, 59), (100_000, 100_009)], 2, None),  # 2 lost
    # the truth's count not at hand, or the run's: kept, as before, and said
    (29.97, 107_892, False, REENCODED, REENCODED, 1, "were it a re-encode, they drift 3.6 s an hour"),
    (29.97, None, True, REENCODED, REENCODED, 1,
     "To tell, no frame count of the run's video (its summary.json gives neither source_frame_count nor frames_read)"),
    (30.0, HOUR, True, [(50, 59), (100_000, 100_009)], [(50, 59), (100_000, 100_009)], 2, None),
    # more than 1 % off: placed by the seconds whether or not the count is known
    (25.0, 90_000, False, [(42, 49), (83_333, 83_341)], [(50, 59), (100_000, 100_009)], 2, "run at 25 fps"),
])
def test_a_run_at_29_97_fps_of_a_30_fps_truth_is_told_by_its_frame_count(tmp_path, fps, count, known, events,
                                                                        placed, tp, said):
    """29.97 fps is within 1 % of 30: a run at that rate kept its frame numbers, which for a re-encode drift by a
    frame every 33 s (3.6 s an hour). Its frame count now tells: the truth recording's (the same images timed
    otherwise) keeps the numbers, another is placed by its seconds; where the truth's count is not at hand, kept and
    said."""
    from train.datasets.longvideo import Interval, LongVideo, LongVideoIndex
    from train.spot_metrics import score
    from train.spot_runs import read_runs

    truth = [Interval(50, 55, 59, "micro", "happiness"), Interval(100_000, 100_005, 100_009, "micro", "happiness")]
    index = LongVideoIndex([LongVideo("v", "s", 30.0, truth, video=tmp_path / "absent.mp4",
                                      frames=[Path("f.jpg")] * HOUR if known else None)], ["happiness"])
    notes: list[str] = []
    summary = {"source_frame_count": count} if count else {}  # a summary from before source_frame_count
    got = read_runs([_hour_run(tmp_path, fps, events, summary)], index, notes)["v"]
    assert [(s.onset, s.offset) for s in got] == placed
    assert score(index, {"v": got}, "micro")["tp"] == tp
    assert (said is None and notes == []) or (len(notes) == 1 and said in notes[0]), notes


def test_a_truth_videos_frame_count_is_its_headers(tmp_path):
    import cv2
    import numpy as np

    from train.spot_frames import video_frames

    path = tmp_path / "v.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (32, 32))
    for i in range(7):
        w.write(np.full((32, 32, 3), i * 30, np.uint8))
    w.release()
    assert video_frames(path) == 7
    assert video_frames(tmp_path / "none.mp4") is None and video_frames(None) is None
    (tmp_path / "x.mp4").write_bytes(b"not a video")
    assert video_frames(tmp_path / "x.mp4") is None
    # mpt-eval reads it where a run's rate is not the truth's: 7 frames at 29.97, the truth's 7 at 30, the same images
    from train.datasets.longvideo import Interval, LongVideo, LongVideoIndex
    from train.spot_runs import read_runs

    for video, note in ((path, False), (tmp_path / "none.mp4", True)):
        index = LongVideoIndex([LongVideo("v", "s", 30.0, [Interval(2, 3, 4, "micro")], video=video)], [])
        notes: list[str] = []
        run = _hour_run(tmp_path / video.stem, 29.97, [(2, 4)], {"source_frame_count": 7})
        assert [(s.onset, s.offset) for s in read_runs([run], index, notes)["v"]] == [(2, 4)]
        assert len(notes) == note and all(f"To tell, no frame count of the truth recording ({tmp_path / 'none.mp4'} "
                                          "is not there: put its video there)" in n for n in notes)


@pytest.mark.parametrize("fmt", ["mpegts", "matroska", "h264"])
def test_a_truth_video_written_to_a_pipe_is_counted(tmp_path, fmt):
    """A Matroska file or a raw H.264 stream ffmpeg wrote to a pipe has no duration in its header, and OpenCV gives no
    count (a huge negative number): a 29.97 fps run of it kept its numbers with a note. Its packets are counted
    (PyAV, not decoded), so the run is told by its count: the same 7 images keep their numbers, without a note."""
    import subprocess

    from faultkit import ffmpeg_exe, write_video

    from train.datasets.longvideo import Interval, LongVideo, LongVideoIndex
    from train.spot_frames import video_frames
    from train.spot_runs import read_runs

    src = write_video(tmp_path / "src.mp4", 7, 30.0)
    path = tmp_path / f"v.{fmt}"
    with open(path, "wb") as fh:
        subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-i", str(src), "-c:v", "libx264", "-f", fmt, "-"],
                       stdout=fh, check=True, timeout=120)
    assert video_frames(path) == 7
    index = LongVideoIndex([LongVideo("v", "s", 30.0, [Interval(2, 3, 4, "micro")], video=path)], [])
    notes: list[str] = []
    run = _hour_run(tmp_path, 29.97, [(2, 4)], {"source_frame_count": 7})
    assert [(s.onset, s.offset) for s in read_runs([run], index, notes)["v"]] == [(2, 4)] and notes == []


def test_a_truth_video_that_does_not_read_says_so_and_what_to_do(tmp_path):
    """The note named neither the count missing nor what would give it."""
    from train.datasets.longvideo import Interval, LongVideo, LongVideoIndex
    from train.spot_runs import read_runs

    (tmp_path / "x.mp4").write_bytes(b"not a video")
    for video, said in ((tmp_path / "x.mp4", (f"({tmp_path / 'x.mp4'}: neither its header nor its packets give one, "
                                              "as of a file that is no video ffmpeg reads: name a copy that plays in "
                                              "the truth instead)")),
                        (None, "(it names no video)")):
        index = LongVideoIndex([LongVideo("v", "s", 30.0, [Interval(2, 3, 4, "micro")], video=video)], [])
        notes: list[str] = []
        run = _hour_run(tmp_path / str(video is None), 29.97, [(2, 4)], {"status": "interrupted", "frames_read": 5})
        assert [(s.onset, s.offset) for s in read_runs([run], index, notes)["v"]] == [(2, 4)]
        told = [n for n in notes if "To tell" in n]  # and one that the run was stopped
        assert len(told) == 1 and f"To tell, no frame count of the truth recording {said} and none of the run's " \
            "video (its summary.json gives no source_frame_count, as an older mpt-live's or a raw stream's does not, " \
            "and the run did not read it whole: run it to the end, without --start or --max-seconds)" in told[0], notes


@pytest.mark.parametrize("fps, truth_fps, same", [
    (29.97, 30000 / 1001, True),  # one rate written to other digits
    (30.0, 30.0, True),
    (29.97, 30.0, False),          # 1e-3 apart: a frame every 33 s
    (25.0, 30.0, False),
])
def test_one_rate_written_otherwise_is_the_same_rate(fps, truth_fps, same):
    from train.spot_frames import same_rate

    assert same_rate(fps, truth_fps) == same == same_rate(truth_fps, fps)


@pytest.mark.parametrize("fps, kept, said", [
    # a 25 fps copy of the 30 fps truth: its events would be placed by their seconds (50..59 -> 60..71), but one
    # lacks them: all kept at the run's own numbers, which are not the truth's, and said once, naming the run
    (25.0, [(50, 59), (100, 110)], "the truth is coded at 30 fps, so they are scored at the wrong frames (the run's "
                                   "frame n is the truth's n x 1.2)"),
    # the truth's rate: the numbers are the truth's; only a variable rate goes unchecked
    (30.0, [(50, 59), (100, 110)], "scored as the truth's, not checked for a variable frame rate"),
])
def test_an_event_without_seconds_keeps_the_run_on_its_frames_and_says_so(tmp_path, fps, kept, said):
    """One event of a run without onset_s/offset_s (an edited events.csv) kept every event of the run at its frame
    numbers without a word, however far the run's rate is from the truth's: one warning names the run now."""
    import csv

    from train.datasets.longvideo import Interval, LongVideo, LongVideoIndex
    from train.spot_runs import read_runs

    run = _hour_run(tmp_path, fps, [(50, 59)], {"source_frame_count": 1500})
    with open(run / "v" / "events.csv", "a", newline="") as fh:  # a row added by hand: frames only
        csv.writer(fh).writerow(["", "v.mp4", "", "", "", "", 100, 105, 110, "micro", "", "", ""])
    index = LongVideoIndex([LongVideo("v", "s", 30.0, [Interval(60, 65, 71, "micro", "happiness")])], ["happiness"])
    notes: list[str] = []
    got = read_runs([run], index, notes)["v"]
    assert [(s.onset, s.offset) for s in got] == kept
    warned = [n for n in notes if "no onset_s or offset_s" in n]
    assert len(warned) == 1 and warned[0].startswith(f"{run / 'v' / 'events.csv'}: 1 of its 2 events has no onset_s")
    assert said in " ".join(warned[0].split()), warned
    # all timed: placed (25 fps) or kept (30), and nothing said of seconds
    run2 = _hour_run(tmp_path / "timed", fps, [(50, 59)], {"source_frame_count": 1500})
    notes.clear()
    got = read_runs([run2], index, notes)["v"]
    assert [(s.onset, s.offset) for s in got] == ([(60, 71)] if fps == 25.0 else [(50, 59)])
    assert not [n for n in notes if "onset_s" in n]


def test_a_run_from_start_is_placed_from_the_videos_first_frame_not_its_own(tmp_path):
    """A run from --start 20 has its first predictions row at frame 600, 20 s: the seconds of its events were counted
    from there, so an event at frame 864 (28.8 s) of a 30 fps run read as frame 264, taken for a variable frame rate
    and moved 600 frames early; its last frame read was its frames_read less one (449), not 1049. The first row's
    frame number is taken off its time now, and the frames passed over are counted in how far it read."""
    from train.spot_frames import in_truth_frames, last_read
    from train.spot_metrics import Spotted

    (tmp_path / "predictions.csv").write_text("time_s,frame,face_id\n20.0,600,0\n20.0333,601,0\n34.9333,1048,0\n")
    summary = {"status": "complete", "source_fps": 30.0, "frames_read": 450, "frames_skipped": 600,
               "start_s": 20.0, "source_seconds": 35.0}
    assert first_time(tmp_path, 30.0) == pytest.approx(0.0) and first_time(tmp_path) == pytest.approx(20.0)
    event = Spotted("clip.mp4", 864, 896, "macro", onset_s=28.8, offset_s=29.8667)
    placed, why = in_truth_frames([event], tmp_path, 30.0, summary)
    assert why is None and (placed[0].onset, placed[0].offset) == (864, 896)
    assert last_read(tmp_path, summary, 30.0, False) == 1049
    assert last_read(tmp_path, summary, 15.0, True) == 524  # a 15 fps truth: 35 s of it


@pytest.mark.parametrize("stretch", [{"max_seconds_reached": True}, {"frames_skipped": 600}])
def test_a_complete_run_of_a_stretch_does_not_give_its_videos_frame_count(stretch):
    """A complete run's frames_read was taken for its video's frame count where its summary has no
    source_frame_count: a --max-seconds or --start run of a 29.97 fps copy of an hour's 30 fps truth, 450 frames read,
    was called a re-encode (450 is not the truth's 108 000) and its events moved by their seconds. Its count is
    unknown now: its numbers kept and the note says what would tell."""
    from train.spot_frames import at_other_rate, unsure_rate

    whole = {"status": "complete", "source_fps": 29.97, "frames_read": 450}
    assert at_other_rate(whole, 30.0, HOUR)  # a whole run of 450 frames: not the truth's images
    assert not at_other_rate(whole | stretch, 30.0, HOUR)
    said = unsure_rate(whole | stretch, 30.0, HOUR)
    assert said and "did not read it whole: run it to the end, without --start or --max-seconds" in said, said
