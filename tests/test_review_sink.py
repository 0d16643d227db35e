"""review.webm's encoder (:class:`mpt_live.review.ReviewSink`) runs in its own thread: the frame loop that calls
``write`` only queues the frame. The copy is the same as when it was encoded in the caller's thread: every frame, at
its time, close to its source."""

from __future__ import annotations

import os
import threading
import time

import cv2
import numpy as np
import pytest
from conftest import read_frames

from mpt_live import review
from mpt_live.review import ReviewSink, vp9_available

needs_vp9 = pytest.mark.skipif(not vp9_available(), reason="no VP9 encoder in this PyAV")

MIN_PSNR_DB = 33.0  # each frame of the copy against its source (VP9 at CRF 36, 4:2:0: about 39 dB on the demo input)


def _review_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "mpt-review"]


def _spy_conversions(monkeypatch, fail_at: int = 0) -> list[str]:
    """The threads in which the copy's frames were converted for the encoder (OpenCV's BGR -> I420, once a frame
    encoded, in order); the ``fail_at``-th conversion raises a full disk's error."""
    convert, where = cv2.cvtColor, []

    def spy(img, code, *a, **k):
        if code == cv2.COLOR_BGR2YUV_I420:
            where.append(threading.current_thread().name)
            if len(where) == fail_at:
                raise OSError(28, "No space left on device")
        return convert(img, code, *a, **k)

    monkeypatch.setattr(review.cv2, "cvtColor", spy)
    return where


@needs_vp9
def test_the_copy_is_encoded_off_the_callers_thread_and_matches_its_source(tmp_path, demo_clip, monkeypatch):
    """The demo input's first 3 s through the sink: encoded in the ``mpt-review`` thread, never the caller's (the
    frame loop's, whose CPU it took: 0.8 s of the 12-s demo run); the copy has every frame, at its time, and each
    decoded frame is within MIN_PSNR_DB of its source."""
    import av

    demo_clip(tmp_path / "demo.mp4")
    frames, fps = read_frames(tmp_path / "demo.mp4", 90)
    where = _spy_conversions(monkeypatch)
    with ReviewSink(tmp_path / "o", fps) as sink:
        for i, img in enumerate(frames):
            sink.write(img, i / fps)
        assert sink.frames == len(frames)
        assert sink.close() == "review.webm"
    assert set(where) == {"mpt-review"} and len(where) == len(frames) and not _review_threads()
    with av.open(str(tmp_path / "o" / "review.webm")) as box:
        got = [(f.time, f.to_ndarray(format="bgr24")) for f in box.decode(video=0)]
    assert [t for t, _ in got] == pytest.approx([i / fps for i in range(len(frames))], abs=0.0015)
    psnr = [cv2.PSNR(src, img) for src, (_, img) in zip(frames, got)]
    assert min(psnr) >= MIN_PSNR_DB, (min(psnr), int(np.argmin(psnr)))


@needs_vp9
def test_a_copy_that_fails_in_its_thread_never_stops_or_blocks_the_run(tmp_path, monkeypatch):
    """An encoder error in the copy's thread (a full disk, a broken encoder) gives the copy up: the file is removed,
    the frames after it are taken and passed over (the caller never waits on a dead encoder), and close says None."""
    calls = _spy_conversions(monkeypatch, fail_at=5)
    sink = ReviewSink(tmp_path, 30.0)
    img = np.full((120, 160, 3), 90, np.uint8)
    for i in range(200):  # far more than the queue holds
        sink.write(img, i / 30)
    assert sink.close() is None
    assert sink.failed and len(calls) == 5 and not (tmp_path / "review.webm").exists() and not _review_threads()


@needs_vp9
def test_an_aborted_copy_ends_its_thread_and_leaves_no_file(tmp_path, monkeypatch):
    """A crash or Ctrl-C in the run aborts the copy with frames still queued: they are not encoded, the thread ends
    and the file is removed."""
    monkeypatch.setattr(review, "QUEUE_FRAMES", 4)
    convert, converted = cv2.cvtColor, []
    sink = ReviewSink(tmp_path, 30.0)

    def held(img, code, *a, **k):  # the encoder's first frame is held until the abort has begun
        if code == cv2.COLOR_BGR2YUV_I420:
            for _ in range(1000):  # a guard against a hang (10 s), not a timing
                if sink.failed:
                    break
                time.sleep(0.01)
            converted.append(threading.current_thread().name)
        return convert(img, code, *a, **k)

    monkeypatch.setattr(review.cv2, "cvtColor", held)
    img = np.full((120, 160, 3), 90, np.uint8)
    for i in range(5):  # the first in the encoder, 4 queued behind it
        sink.write(img, i / 30)
    sink.abort()
    assert converted == ["mpt-review"] and sink.failed  # the 4 queued were passed over
    assert not (tmp_path / "review.webm").exists() and not _review_threads()
    assert sink.close() is None


def test_a_failing_cleanup_does_not_end_the_encoders_thread(tmp_path, monkeypatch):
    """OpenCV's VP8 fallback (no VP9 in PyAV) whose writer fails and whose release fails too: the thread that
    encodes must outlive that, or the run's next writes would wait on its full queue for ever."""

    class Broken:
        def __init__(self, *a):
            pass

        def write(self, img):
            raise cv2.error("broken writer")

        def release(self):
            raise cv2.error("broken release")

    monkeypatch.setattr(review, "vp9_available", lambda: False)
    monkeypatch.setattr(review.cv2, "VideoWriter", Broken)
    sink = ReviewSink(tmp_path, 30.0)
    img = np.full((120, 160, 3), 90, np.uint8)
    said: list = []

    def run() -> None:
        for i in range(100):
            sink.write(img, i / 30)
        said.append(sink.close())

    caller = threading.Thread(target=run, daemon=True)
    caller.start()
    caller.join(60)  # a guard against a hang, not a timing: 100 frames through a queue of 8, then close
    assert not caller.is_alive(), "write or close waited on a dead encoder thread"
    assert said == [None] and sink.failed and not _review_threads()


@needs_vp9
def test_large_frames_are_queued_fewer_at_a_time(tmp_path):
    """The queue holds the source's frames before the copy's resize: 8 frames of 4K would be 200 MB beside the
    read-ahead's; at most QUEUE_BYTES (or 2 frames) are held, and the copy is still made at REVIEW_WIDTH."""
    import av

    big = np.full((2160, 3840, 3), 90, np.uint8)
    with ReviewSink(tmp_path, 30.0) as sink:
        for i in range(4):
            sink.write(big, i / 30)
        assert sink.ahead == 2
        assert sink.close() == "review.webm"
    small = ReviewSink(tmp_path / "small", 30.0)
    small.write(np.full((480, 640, 3), 90, np.uint8), 0.0)
    assert small.ahead == review.QUEUE_FRAMES and small.close() == "review.webm"
    with av.open(str(tmp_path / "review.webm")) as box:
        sizes = [(f.width, f.height) for f in box.decode(video=0)]
    assert sizes == [(review.REVIEW_WIDTH, 360)] * 4


def test_the_vp8_fallbacks_tag_line_is_dropped_in_its_thread_without_moving_fd2_under_the_frame_loop(
        tmp_path, monkeypatch, capfd):
    """OpenCV's VP8 writer (no VP9 in PyAV) prints a "tag ... not supported" line as it is made, now in the encoder's
    thread: fd 2 was held there by its own dup2s, unserialised with the frame loop's (a detector built mid-run), so one
    restored the other's and fd 2 could end at /dev/null. The line is dropped, ours passed on, fd 2 where it was."""
    from mpt_live.quiet import quiet_fd

    class Writer:
        def __init__(self, *a):
            os.write(2, b"[tag 0x30385056/'VPX0'] is not supported with codec id 139\n")
            time.sleep(0.2)  # the frame loop quiets fd 2 meanwhile
            os.write(2, b"ours\n")

        def write(self, img):
            pass

        def release(self):
            pass

    monkeypatch.setattr(review, "vp9_available", lambda: False)
    monkeypatch.setattr(review.cv2, "VideoWriter", Writer)
    before = os.readlink("/proc/self/fd/2")
    sink = ReviewSink(tmp_path, 30.0)
    sink.write(np.full((120, 160, 3), 90, np.uint8), 0.0)
    for _ in range(40):
        with quiet_fd(2):
            time.sleep(0.005)
    sink.close()
    assert os.readlink("/proc/self/fd/2") == before
    assert capfd.readouterr().err == "ours\n"


@needs_vp9
def test_a_stop_signal_while_write_waits_for_room_comes_after_the_frame_is_queued(tmp_path, monkeypatch):
    """SIGTERM while the frame loop waited in write for the encoder (a full queue): raised inside the queue's put, it
    could leave the queue's lock taken, and the run's end (close, waiting for the queue) then waited for ever (a
    clean-clone CI's SIGTERM test hung: py-spy showed the loop in Queue.put and the encoder in Queue.get, both on
    that lock). The signal is held until the frame is queued, then stops the run; close still finishes the copy."""
    import signal

    from mpt_live.interrupts import Stopped, stop_signals

    convert, gate = cv2.cvtColor, threading.Event()

    def slow(img, code, *a, **k):  # the encoder waits at its first frame until the signal has come
        if code == cv2.COLOR_BGR2YUV_I420:
            gate.wait(30)
        return convert(img, code, *a, **k)

    monkeypatch.setattr(review.cv2, "cvtColor", slow)
    monkeypatch.setattr(review, "QUEUE_FRAMES", 2)
    img = np.full((120, 160, 3), 90, np.uint8)
    written = 0
    with stop_signals():
        sink = ReviewSink(tmp_path, 30.0)
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)).start()  # while write waits for room
        threading.Timer(0.8, gate.set).start()
        with pytest.raises(Stopped):
            for i in range(10):
                sink.write(img, i / 30)
                written += 1
        assert sink.frames == written + 1  # the frame being queued when the signal came was queued
        assert sink.close() == "review.webm"
