"""report.html in a real browser (Debian's chromium driven by playwright), loaded from a real run's output
folder: no console errors, the events listed are summary.json's, a click on an event seeks the video to its
onset, n / p move between events, the main blocks do not overlap on a laptop screen."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from mpt_live.job import run_job
from mpt_live.review import playable
from mpt_live.session import SessionConfig
from mpt_live.sources import VideoFile

@pytest.fixture(scope="module")
def run(tmp_path_factory, demo_clip):
    """A motion-only run with --save-video on the default input (its four movements give four events)."""
    tmp = tmp_path_factory.mktemp("report")
    clip = tmp / "input.mp4"
    demo_clip(clip)
    out = tmp / "run"
    with VideoFile(clip) as src:
        summary = run_job(src, None, SessionConfig(), out, save_video=True)
    return out, summary


def resize(page, width: int, height: int) -> None:
    """The viewport's new size, once the page has handled its resize event (which redraws the axes): that event
    fires with the next rendering of the page, not within ``set_viewport_size``."""
    page.evaluate("window.resizeHandled = false; "
                  "window.addEventListener('resize', () => { window.resizeHandled = true; }, {once: true})")
    page.set_viewport_size({"width": width, "height": height})
    page.wait_for_function("window.resizeHandled", timeout=10000)  # this listener runs after the page's own


def test_report_is_self_contained(run):
    out, summary = run
    page = (out / "report.html").read_text()
    assert summary["outputs"]["report"] == "report.html" and summary["report_error"] is None
    assert "http://" not in page and "https://" not in page  # nothing fetched from a network
    video = summary["outputs"]["video"]  # annotated.mp4 is mp4v: the page shows a VP9 copy a browser plays
    assert video == "annotated.mp4" and not playable(out / video) and playable(out / "review.webm")
    assert 'src="review.webm"' in page


def test_report_in_chromium(run, browser, tmp_path):
    out, summary = run
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((out / "report.html").as_uri())
    page.wait_for_function("document.getElementById('video').readyState >= 1", timeout=20000)  # metadata loaded
    assert page.evaluate("document.getElementById('video').duration") == pytest.approx(summary["frames_read"] / 30, abs=0.1)

    listed = page.evaluate("""Array.from(document.querySelectorAll('#events tbody tr[data-onset]')).map(r => ({
        onset: parseFloat(r.dataset.onset), face: parseInt(r.dataset.face), cls: r.cells[3].textContent,
        type: r.cells[5].textContent, thumb: !!r.querySelector('img')}))""")
    events = json.loads((out / "summary.json").read_text())["events"]
    assert len(events) == 4
    assert [(e["onset"], e["face"], e["type"], e["thumb"]) for e in listed] == \
        [(pytest.approx(v["onset_s"], abs=1e-4), v["face"], v["type"], True) for v in events]
    assert page.evaluate("JSON.parse(document.getElementById('run-data').textContent).events") == events
    # who each face is: a picture beside its timeline (its clearest view)
    assert page.evaluate("document.querySelectorAll('section.face h3 img.who').length") == len(summary["faces"]) >= 1

    def seeked_to(t: float) -> float:
        page.wait_for_function(f"Math.abs(document.getElementById('video').currentTime - {t}) < 0.04 && "
                               "!document.getElementById('video').seeking", timeout=10000)
        return page.evaluate("document.getElementById('video').currentTime")

    rows = page.locator("#events tbody tr[data-onset]")
    rows.nth(2).click()
    assert seeked_to(events[2]["onset_s"]) == pytest.approx(events[2]["onset_s"], abs=0.04)
    page.keyboard.press("n")
    assert seeked_to(events[3]["onset_s"]) == pytest.approx(events[3]["onset_s"], abs=0.04)
    page.keyboard.press("p")
    page.keyboard.press("p")
    assert seeked_to(events[1]["onset_s"]) == pytest.approx(events[1]["onset_s"], abs=0.04)
    assert page.evaluate("document.querySelector('#events tr.current').dataset.onset") == f"{events[1]['onset_s']:.4f}"
    # the video stays on screen while the events table is scrolled to the row clicked
    rows.nth(3).click()
    seeked_to(events[3]["onset_s"])
    top, bottom = page.evaluate("(b => [b.top, b.bottom])(document.getElementById('video').getBoundingClientRect())")
    assert top >= 0 and bottom <= 768, (top, bottom)
    # Enter on a focused row and n / p from where the playhead is
    rows.nth(0).focus()
    page.keyboard.press("Enter")
    assert seeked_to(events[0]["onset_s"]) == pytest.approx(events[0]["onset_s"], abs=0.04)
    page.evaluate(f"document.getElementById('video').currentTime = {(events[1]['onset_s'] + events[2]['onset_s']) / 2}")
    page.keyboard.press("n")
    assert seeked_to(events[2]["onset_s"]) == pytest.approx(events[2]["onset_s"], abs=0.04)
    page.evaluate("window.scrollTo(0, 0)")

    # laptop screen: the video, the facts, the timelines and the table side by side or stacked, never overlapping
    boxes = page.evaluate("""['#video', 'table.facts', 'svg.timeline', '#events'].map(s => {
        const b = document.querySelector(s).getBoundingClientRect(); return [s, b.left, b.top, b.right, b.bottom]; })""")
    for i, a in enumerate(boxes):
        assert a[3] - a[1] > 100 and a[4] - a[2] > 40, a  # visible, of a usable size
        assert a[3] <= 1366 + 0.5, f"{a[0]} wider than the screen"
        for b in boxes[i + 1:]:
            apart = a[3] <= b[1] or b[3] <= a[1] or a[4] <= b[2] or b[4] <= a[2]
            assert apart, f"{a[0]} overlaps {b[0]}"
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 10000
    assert errors == []


def test_keyboard_and_screen_reader_users_reach_the_events_and_the_timelines(run, browser):
    """The events' rows had no roles and the timelines could not be reached by keyboard: the table is now a grid
    (one tab stop, arrows between rows, aria-selected on the selected event, a name per row that reads its onset,
    class and type), each timeline a labelled, focusable slider over the video, the keys listed on the page, the
    focus drawn. Tab from the top reaches the events; Enter on a row seeks the video to its onset."""
    out, summary = run
    events = summary["events"]
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((out / "report.html").as_uri())
    page.wait_for_function("document.getElementById('video').readyState >= 1", timeout=20000)
    keys = page.inner_text("#keys")
    for k in ("Enter", "n / j", "p / k", "Tab", "Home / End", "[ / ]"):
        assert k in keys, (k, keys)

    focused = """(e => ({tag: e.tagName.toLowerCase(), role: e.getAttribute('role'), name: e.getAttribute('aria-label'),
        row: e.closest('#events tbody') !== null, outline: getComputedStyle(e).outlineStyle,
        width: parseFloat(getComputedStyle(e).outlineWidth)}))(document.activeElement)"""
    stops = []
    for _ in range(30):
        page.keyboard.press("Tab")
        stops.append(page.evaluate(focused))
        if stops[-1]["row"]:
            break
    timelines = [s for s in stops if s["tag"] == "svg"]
    assert len(timelines) == len(summary["faces"]) >= 1, stops
    assert all(s["role"] == "slider" and s["name"].startswith(f"face {summary['faces'][0]['face_id']} timeline")
               for s in timelines[:1]), timelines
    row = stops[-1]
    assert row["row"] and row["tag"] == "tr", stops  # Tab reached the events
    assert row["outline"] not in ("none", "auto") and row["width"] >= 2, row  # the focus is drawn
    # a motion-only run: the timeline's strip says no model ran, at about the text's size
    assert 9 <= page.evaluate("document.querySelector('svg.timeline text.no-model').getBoundingClientRect().height") <= 24
    onset = events[0]["onset_s"]
    assert row["name"] == f"event 1: onset {onset:.2f} s, class none, {events[0]['type']}, face {events[0]['face']}"
    assert page.get_by_role("grid", name="Events").count() == 1
    # the picture's column and the apex time's were both read as "apex"
    assert [page.get_by_role("columnheader", name=n, exact=True).count() for n in ("apex", "picture at the apex")] \
        == [1, 1]
    assert page.get_by_role("row", name=re.compile(r"^event \d+: onset ")).count() == len(events)

    def seeked_to(t: float) -> float:
        page.wait_for_function(f"Math.abs(document.getElementById('video').currentTime - {t}) < 0.04 && "
                               "!document.getElementById('video').seeking", timeout=10000)
        return page.evaluate("document.getElementById('video').currentTime")

    selected = "Array.from(document.querySelectorAll('#events tbody tr')).map(r => r.getAttribute('aria-selected'))"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")  # the focus moves; Enter selects and seeks
    page.keyboard.press("Enter")
    assert seeked_to(events[2]["onset_s"]) == pytest.approx(events[2]["onset_s"], abs=0.04)
    assert page.evaluate(selected) == ["false", "false", "true", "false"]
    page.keyboard.press("n")  # the focus follows the selection
    seeked_to(events[3]["onset_s"])
    assert page.evaluate(selected) == ["false", "false", "false", "true"]
    assert page.evaluate("document.activeElement.getAttribute('aria-selected')") == "true"
    page.keyboard.press("Shift+Tab")  # back out of the table in one step (one tab stop), to the last timeline
    assert page.evaluate(focused)["tag"] == "svg"
    page.keyboard.press("End")
    seeked_to(summary["frames_read"] / 30)
    page.keyboard.press("Home")
    seeked_to(0.0)
    page.keyboard.press("ArrowRight")
    seeked_to(1.0)
    assert page.evaluate("document.activeElement.getAttribute('aria-valuetext')") == "0:01 of 0:12"
    assert errors == []


def test_a_motion_only_page_says_no_model_ran_instead_of_an_empty_probability_band(tmp_path):
    """Without a model the timeline kept its probability band, white and empty, as if the curves had failed to
    draw: the band is now a narrow strip that says no model ran (the legend says it too); with a model, the band."""
    from mpt_live.report import render_report

    rows = [{"time_s": f"{t / 10:.2f}", "face_id": "0", "motion_score": str(1 + t % 7)} for t in range(50)]
    summary = {"events": [{"face": 0, "onset_s": 1.0, "apex_s": 1.2, "offset_s": 1.5, "type": "micro", "score": 9.0}],
               "outputs": {}}
    alone = render_report(tmp_path, summary, rows, [], None, [], "t")
    model = render_report(tmp_path, summary, [{**r, "p_happiness": "0.5"} for r in rows], ["happiness"], None, [], "t")
    svg = lambda page: re.search(r"<svg class=\"timeline\".*?</svg>", page).group(0)  # noqa: E731
    height = lambda page: float(re.search(r'viewBox="0 0 1000 ([\d.]+)"', svg(page)).group(1))  # noqa: E731
    assert '<text class="no-model"' in svg(alone) and "no model ran" in svg(alone)
    assert "no model ran" in re.search(r'<div class="legend">.*?</div>', alone, re.S).group(0)
    assert 'aria-label="face 0 timeline, 0 to 4.90 s: motion score only (no model ran, motion only), 1 event"' in alone
    assert "no model ran" not in model and "<polyline" in svg(model)
    # the class curves run through every window: the page says a class is read only in an event (a newcomer read
    # 'surprise' off the demo's timeline at 11-12 s, where no event was); a page without curves says nothing of them
    reading = re.search(r'<p class="reading">(.*?)</p>', model)
    assert reading and "read a class only in an event" in reading.group(1) and "window centred on its apex" in \
        reading.group(1)
    assert '<p class="reading">' not in alone
    assert height(alone) <= height(model) - 50  # no empty 100-unit band


def test_where_a_face_was_not_in_the_frame_is_shaded_on_its_timeline(tmp_path):
    """A face seen for the first 2 s of a 10 s run left its timeline blank white for the other 8 s, as if it had
    been there with nothing to show: that stretch is shaded and named (timeline.png hatches it)."""
    from mpt_live.report import render_report

    rows = [{"time_s": f"{t / 10:.2f}", "face_id": "0", "motion_score": "2"} for t in range(21)]
    page = render_report(tmp_path, {"events": [], "outputs": {}, "source_seconds": 10.0}, rows, [], None, [], "t")
    absent = re.findall(r'<rect class="absent" x="([\d.]+)" y="0" width="([\d.]+)"', page)
    assert [(float(a), float(a) + float(w)) for a, w in absent] == [(pytest.approx(6 + 994 * 0.2, abs=0.02),
                                                                    pytest.approx(1000, abs=0.02))]
    assert "face 0 not in the frame 2.00-10.00 s" in page and "not in the frame for 8.00 s" in page
    # in an hour's run the timeline's name (what a screen reader says) gives that time as the page writes times:
    # it said "for 3598.0 s"
    page = render_report(tmp_path, {"events": [], "outputs": {}, "source_seconds": 3600.0}, rows, [], None, [], "t")
    assert "face 0 not in the frame 0:00:02.00-1:00:00.00" in page and "not in the frame for 59:58.00" in page


def test_a_stretch_with_no_frames_in_the_video_is_shaded_as_such_not_as_the_face_s_absence(tmp_path):
    """vfr.mp4's pauses (0.3-0.4 s with no frames at all, its face in every frame) were shaded 'face 0 not in the
    frame' on the page as in timeline.png: they are now the video's, in another colour, named in the legend (only
    where there is one) and in the timeline's name; a face gone while the frames went on is still 'not in the frame'."""
    from mpt_live.report import render_report

    def t(f: int) -> float:  # 15 fps, a window every 2 frames, a 0.4 s pause
        return f / 15 + (0.4 if f >= 22 else 0.0)

    rows = [{"time_s": f"{t(f):.4f}", "frame": str(f), "face_id": "0", "motion_score": "2"} for f in range(0, 60, 2)]
    summary = {"events": [], "outputs": {}, "source_seconds": t(58)}
    page = render_report(tmp_path, summary, rows, [], None, [], "t")
    assert '<rect class="absent"' not in page and "face 0 not in the frame" not in page
    assert re.findall(r'<rect class="noframes".*?<title>(.*?)</title>', page) == ["no frames in the video 1.33-1.87 s"]
    assert "no frames in the video" in re.search(r'<div class="legend">.*?</div>', page, re.DOTALL).group(0)
    assert "no frames in the video for 0.53 s" in re.search(r'<svg class="timeline"[^>]*>', page).group(0)
    gone = [{**r, "face_id": "", "motion_score": ""} if 30 <= int(r["frame"]) <= 44 else r for r in rows]
    page = render_report(tmp_path, summary, gone, [], None, [], "t")
    assert re.findall(r'<rect class="absent".*?<title>(.*?)</title>', page) == ["face 0 not in the frame 2.27-3.47 s"]
    assert len(re.findall(r'<rect class="noframes"', page)) == 1
    page = render_report(tmp_path, summary, [{**r, "frame": ""} for r in rows], [], None, [], "t")  # no frame numbers
    assert "no frames in the video" not in page


def test_review_copy_prints_no_codec_tag_warning(tmp_path, capfd):
    """Making review.webm prints nothing: OpenCV's FFmpeg writer announces a tag fallback for every WebM
    file on the process's stderr, which the copy drops (and the copy still plays)."""
    import cv2
    import numpy as np

    from mpt_live.review import review_video

    src = tmp_path / "in.avi"
    w = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"MJPG"), 30, (64, 48))
    for i in range(6):
        w.write(np.full((48, 64, 3), 30 * i, np.uint8))
    w.release()
    capfd.readouterr()
    assert review_video(tmp_path, [src]) == "review.webm" and playable(tmp_path / "review.webm")
    err = capfd.readouterr().err
    assert "not supported" not in err, err


def test_video_path_with_url_characters_is_encoded(tmp_path):
    """A recording named like "Interview #3 (50%)?.mp4": the page's relative URL names that file, not "Interview "
    with a fragment, and a browser's decoding of it gives the path back."""
    from urllib.parse import unquote, urlsplit

    from mpt_live.report import render_report

    rel = "../in/Interview #3 (50%)?.mp4"
    page = render_report(tmp_path, {"events": [], "outputs": {}}, [], ["happiness"], rel, [], "t")
    src = html.unescape(re.search(r'<video id="video" [^>]*><source src="([^"]+)"', page).group(1))
    parts = urlsplit(src)
    assert parts.fragment == "" and parts.query == "" and unquote(parts.path) == rel


def test_the_page_s_video_plays_with_its_sound(tmp_path):
    """An interview is reviewed with what was said: the player starts with the recording's sound on (nothing plays
    before the reviewer does, so no browser's autoplay rule asks for it muted)."""
    from mpt_live.report import render_report

    page = render_report(tmp_path, {"events": [], "outputs": {}}, [], ["happiness"], "in.mp4", [], "t")
    video = re.search(r'<video id="video"[^>]*>', page).group(0)
    assert "muted" not in video and "autoplay" not in video and "controls" in video


def test_an_interrupted_run_says_so_and_the_page_names_its_settings(tmp_path):
    from mpt_live.report import render_report

    rows = [{"time_s": f"{t:.2f}", "face_id": "0"} for t in (0.5, 1.0, 26.33)]
    summary = {"events": [], "outputs": {}, "status": "interrupted", "stopped_by": "SIGTERM", "spot_threshold": 4.0,
               "stride": 2, "warnings": ["only a face in 80 of 169 frames"], "faces": [{"face_id": 0, "frames": 3}],
               "problems": ["interrupted (SIGTERM): the outputs cover what was processed before"]}
    page = render_report(tmp_path, summary, rows, ["happiness"], None, [], "t")
    assert '<p class="alert">This run is interrupted (SIGTERM): its timelines and events end at 26.33 s' in page
    assert '<p class="note">only a face in 80 of 169 frames</p>' in page
    assert "the outputs cover what was processed before" not in page  # the alert says it, once
    # a face whose timeline has nothing to draw says when it was seen and why it is empty
    assert '<span class="seen">seen 0.50-26.33 s, 3 frames: nothing to draw, too short for a whole window</span>' in page
    assert "<th>status</th><td>interrupted</td>" in page and "threshold 4.0, a window every 2 frames" in page
    assert "No video to show: a browser plays neither" in page and "Enter / Space on a row</kbd>: select the event</li>" in page
    (tmp_path / "frames").mkdir()
    frames = render_report(tmp_path, {**summary, "source": str(tmp_path / "frames")}, rows, ["happiness"], None, [], "t")
    assert "No video to show: the source is a folder of frames; mpt-live --save-video writes annotated.mp4" in frames
    done = render_report(tmp_path, {**summary, "status": "complete", "warnings": [], "problems": []}, rows, ["happiness"], None, [], "t")
    assert 'class="alert"' not in done and '<p class="note">' not in done  # the banner's


def test_the_page_text_has_the_contrast_to_be_read():
    """WCAG AA (4.5:1) for the page's coloured text: the DEMO MODEL badge was white on orange, 2.4:1."""
    from mpt_live.report_page import CSS

    def lum(hex_: str) -> float:
        hex_ = hex_ if len(hex_) == 7 else "#" + "".join(2 * d for d in hex_[1:])
        c = [int(hex_[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        c = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    pairs = 0
    for rule in re.findall(r"([^{}]+)\{([^}]*)\}", CSS):
        hexes = r"(#[0-9a-f]{6}|#[0-9a-f]{3})\b"
        fg, bg = re.search(r"(?:^|;)color:" + hexes, rule[1]), re.search(r"background:" + hexes, rule[1])
        if fg and bg:
            a, b = sorted((lum(fg.group(1)), lum(bg.group(1))))
            assert (b + 0.05) / (a + 0.05) >= 4.5, rule
            pairs += 1
    assert pairs >= 4


def test_a_moved_page_still_finds_its_video_and_times_read_as_a_clock(tmp_path):
    from mpt_live.report import clock, render_report

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "v.mp4").write_bytes(b"x")
    out = tmp_path / "run"
    page = render_report(out, {"events": [], "outputs": {}}, [], ["happiness"], "../in/v.mp4", [], "t")
    sources = re.findall(r'<source src="([^"]+)">', page)
    assert sources == ["../in/v.mp4", (tmp_path / "in" / "v.mp4").as_uri()]  # relative first, then where it was
    assert [clock(t) for t in (12.345, 65.5, 3723.4)] == ["12.35 s", "1:05.50", "1:02:03.40"]
    assert clock(12.345, unit=False) == "12.35"
    # rounded before the minutes are split off (as the page's script does): never "1:60.00"
    assert [clock(t) for t in (59.996, 119.996, 3599.999)] == ["1:00.00", "2:00.00", "1:00:00.00"]


@pytest.mark.parametrize("end", [115.73, 3723.4])
def test_times_past_a_minute_read_as_a_clock_with_no_seconds_unit_after_it(tmp_path, end):
    """The interrupted run's banner and the faces' 'seen' notes said '1:55.73 s' (a clock reading, then a unit): each
    time on the page is written by one helper, 's' only after a plain number of seconds; a span is written alike at
    both ends (0:12.00-1:55.73, not 12.00-1:55.73)."""
    from mpt_live.report import clock, render_report

    rows = [{"time_s": f"{t:.2f}", "face_id": f} for f, times in (("0", (0.5, 20.0)), ("1", (12.0, end))) for t in times]
    events = [{"event_id": 1, "face": 1, "onset_s": 50.0, "apex_s": 61.0, "offset_s": 62.5, "onset_frame": 1500,
               "apex_frame": 1830, "offset_frame": 1875, "type": "macro", "class": None, "confidence": None, "score": 5.0}]
    summary = {"events": events, "outputs": {}, "status": "interrupted", "stopped_by": "SIGINT",
               "faces": [{"face_id": 0, "frames": 2}, {"face_id": 1, "frames": 2}]}
    page = render_report(tmp_path, summary, rows, [], None, [], "t")
    text = html.unescape(re.sub(r"<[^>]+>", " ", page)) + " ".join(html.unescape(a) for a in re.findall(r'aria-label="([^"]*)"', page))
    assert not re.findall(r"\d:\d\d(?:\.\d+)? s\b", text)
    assert f"events end at {clock(end)} of the video" in page
    assert f"seen {clock(12.0, like=end)}-{clock(end)}" in page and clock(12.0, like=end).startswith("0:")
    assert "seen 0.50-20.00 s" in page and "onset 50.00 s" in text and "macro 50.00-1:02.50" not in text
    assert "macro 0:50.00-1:02.50" in text


def test_frame_folder_events_get_apex_thumbnails_and_an_interrupted_copy_stops_where_the_run_did(tmp_path):
    import cv2
    import numpy as np

    from mpt_live.report import apex_thumbnails
    from mpt_live.review import review_video

    folder = tmp_path / "006_1"
    folder.mkdir()
    for i in range(12):
        cv2.imwrite(str(folder / f"006_1_{i + 1:04d}.jpg"), np.full((48, 64, 3), 20 * i, np.uint8))
    events = [{"face": 0, "apex_s": 0.2, "apex_frame": 5}]
    rows = [{"face_id": "0", "time_s": "0.2", "x": "4", "y": "4", "w": "30", "h": "30"}]
    thumbs = apex_thumbnails(folder, events, rows)
    assert thumbs[0] and thumbs[0].startswith("data:image/jpeg;base64,")
    clip = tmp_path / "clip.avi"  # MJPG: browsers do not play it, so the page gets a VP9 copy
    w = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(40):
        w.write(np.full((48, 64, 3), 5 * i, np.uint8))
    w.release()
    out = tmp_path / "run"
    out.mkdir()
    assert review_video(out, [clip], max_frames=15) == "review.webm"
    cap = cv2.VideoCapture(str(out / "review.webm"))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 15


def mjpg_interview(tmp_path: Path, demo_clip) -> Path:
    """3 s of the demo input (640x480, a face that moves; ``demo_clip``: conftest's fixture) as MJPG in AVI: a
    recording browsers cannot play."""
    import cv2

    demo, clip = tmp_path / "demo.mp4", tmp_path / "interview.avi"
    demo_clip(demo)
    cap = cv2.VideoCapture(str(demo))
    w = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (640, 480))
    for _ in range(90):
        w.write(cap.read()[1])
    w.release()
    cap.release()
    return clip


def test_review_copy_is_vp9_at_a_constant_quality_not_a_gigabyte_an_hour(tmp_path, demo_clip):
    """An hour of a recording a browser cannot play (MJPG, mp4v) used to become ~1.1 GB of VP8 (OpenCV's
    writer, fixed bitrate: ~18 MB a minute at 640x480): the copy is now VP9 at a constant quality, every frame
    kept, several times smaller."""
    import cv2

    from mpt_live.review import review_video

    clip = mjpg_interview(tmp_path, demo_clip)
    assert review_video(tmp_path, [clip]) == "review.webm"
    copy = cv2.VideoCapture(str(tmp_path / "review.webm"))
    code = int(copy.get(cv2.CAP_PROP_FOURCC))
    n = 0
    while copy.read()[0]:
        n += 1
    assert "".join(chr((code >> 8 * i) & 0xFF) for i in range(4)) == "VP90" and n == 90
    assert (tmp_path / "review.webm").stat().st_size < 150_000  # 3 s; the VP8 copy was ~850 KB


def test_review_copy_keeps_the_colours_of_the_recording(tmp_path):
    """The copy's frames go to the encoder as I420 converted by OpenCV (BT.601, video range): a swapped U/V plane
    (red faces turned blue) or a full-range Y (washed-out or crushed greys) would show here, as would a copy that
    shifts the picture."""
    import cv2
    import numpy as np

    from mpt_live.review import ReviewSink, vp9_available

    if not vp9_available():
        pytest.skip("no VP9 encoder in this PyAV")
    colours = [(40, 40, 200), (40, 200, 40), (200, 40, 40), (128, 128, 128), (20, 20, 20), (235, 235, 235),
               (90, 140, 210)]  # BGR: red, green, blue, grey, near black, near white, a skin tone
    img = np.zeros((480, 640, 3), np.uint8)
    for k, c in enumerate(colours):
        img[:, k * 640 // len(colours):(k + 1) * 640 // len(colours)] = c
    with ReviewSink(tmp_path, 30.0) as sink:
        for i in range(10):
            sink.write(img, i / 30.0)
        assert sink.close() == "review.webm"
    copy = cv2.VideoCapture(str(tmp_path / "review.webm"))
    ok, got = copy.read()
    copy.release()
    assert ok and got.shape == img.shape
    for k, c in enumerate(colours):  # the middle of each stripe, away from the edges' chroma blur
        x = (2 * k + 1) * 640 // (2 * len(colours))
        patch = got[200:280, x - 20:x + 20].reshape(-1, 3).mean(axis=0)
        assert np.abs(patch - np.array(c)).max() < 8, (c, patch)


def test_timelines_zoom_and_page_through_a_long_run(run, browser):
    """A 20-minute run squeezed into 1000 px leaves an event of 0.3 s under a pixel: the page shows the
    timelines over 10 minutes, 1 minute or 10 seconds, paging with the playhead, by the arrows and [ / ];
    the axis is redrawn for the span and a click on a zoomed timeline seeks inside the span shown."""
    out, summary = run
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((out / "report.html").as_uri())
    page.wait_for_function("document.getElementById('video').readyState >= 1", timeout=20000)
    ticks = "Array.from(document.querySelector('svg.timeline g.ticks').children).map(t => t.textContent)"
    whole = page.evaluate(ticks)
    assert whole[0] == "0s" and 3 <= len(whole) <= 11, whole
    shown = "document.getElementById('shown').textContent"
    spans = "Array.from(document.querySelectorAll('#zoom option')).map(o => o.value)"
    assert page.evaluate(spans) == ["0", "10"]  # none as long as the run or longer: each would show all of it
    page.select_option("#zoom", "10")
    assert page.evaluate(shown) == "0:00-0:10 of 0:12"
    assert page.evaluate(ticks) == [f"{s}s" for s in range(11)]
    page.evaluate("document.getElementById('video').currentTime = 11.5")  # the playhead leaves the span: next page
    page.wait_for_function(f"{shown} === '0:02-0:12 of 0:12'", timeout=10000)
    page.keyboard.press("[")
    assert page.evaluate(shown) == "0:00-0:10 of 0:12"
    page.click("#later")
    assert page.evaluate(shown) == "0:02-0:12 of 0:12"
    page.evaluate("""(() => { const s = document.querySelector('svg.timeline'), b = s.getBoundingClientRect();
        const left = 6 / 1000 * b.width, x = b.left + left + 0.5 * (b.width - left);
        s.dispatchEvent(new MouseEvent('click', {clientX: x, clientY: b.top + 10, bubbles: true})); })()""")
    page.wait_for_function("Math.abs(document.getElementById('video').currentTime - 7) < 0.05", timeout=10000)
    page.select_option("#zoom", "0")
    assert page.evaluate(shown) == "" and page.evaluate(ticks) == whole

    # a long events table scrolled on a laptop: its header stays in sight, under the video and facts
    page.evaluate("""(b => { for (let k = 0; k < 40; k++) b.appendChild(b.rows[0].cloneNode(true)); })(
        document.querySelector('#events tbody')); window.scrollTo(0, document.body.scrollHeight)""")  # at once
    # as after a user's scroll, the page's scroll handler (the top shrinks) has run before the next look or key
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    head, top = page.evaluate("""['#events thead th', '.top'].map(s => document.querySelector(s).getBoundingClientRect())
        .map(b => [b.top, b.bottom])""")
    assert top[1] - 1 <= head[0] and head[1] <= 768, (head, top)
    page.keyboard.press("p")  # up from the last row: the row selected is not under the header
    row = page.evaluate("(b => [b.top, b.bottom])(document.querySelector('#events tr.current').getBoundingClientRect())")
    assert row[0] >= head[1] - 0.5 and row[1] <= 768, (row, head)
    # a wide screen: the axis labels are not twice the text's size, the facts fill their column
    resize(page, 1920, 1080)
    tick = "document.querySelector('svg.timeline g.ticks text').getBoundingClientRect().height"
    assert 12 <= page.evaluate(tick) <= 19
    assert page.evaluate("""(t => { t.querySelectorAll('td').forEach(td => { td.textContent = 'x'; });  // short facts
        return t.querySelector('tr').getBoundingClientRect().width >= t.parentElement.clientWidth - 1; })(document.querySelector('table.facts'))""")
    # 200 % zoom on a 1366x768 laptop (683x384 CSS pixels): the axis still reads at about the text's size, the
    # events table (long recordings' m:ss times) does not push the page sideways, the video stays on screen
    # and the event selected by n / p is not hidden under it
    resize(page, 683, 384)
    page.evaluate("document.querySelectorAll('#events tbody td:nth-child(n+7):nth-child(-n+9)')"
                  ".forEach(td => { td.textContent = '1:02:03.40'; })")
    assert page.evaluate(tick) >= 12
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    rows = page.locator("#events tbody tr[data-onset]")
    rows.nth(3).click()
    page.keyboard.press("p")
    page.keyboard.press("p")
    video, row = page.evaluate("""[document.getElementById('video'), document.querySelector('#events tr.current')]
        .map(el => (b => [b.top, b.bottom])(el.getBoundingClientRect()))""")
    assert video[0] >= 0 and video[1] <= 384 and row[0] >= video[1] - 0.5 and row[1] <= 384 + 0.5, (video, row)
    assert errors == []


def test_apex_thumbnails_seek_over_stretches_without_events(tmp_path, monkeypatch):
    """The review page's pictures came from decoding the video from its start to the last apex: after an
    hour-long run (or its SIGTERM, under a scheduler's grace period) that is the whole hour again. Far-apart
    apexes are sought; the pictures are the frames' own."""
    import cv2
    import numpy as np

    from mpt_live.report import apex_thumbnails

    clip = tmp_path / "long.avi"
    w = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
    for i in range(1500):
        w.write(np.full((48, 64, 3), (i * 7) % 256, np.uint8))
    w.release()
    decoded, real = [], cv2.VideoCapture

    class Counting:  # the decoder, counting the frames it decodes (a wrapper: a subclass of it can crash)
        def __init__(self, *a):
            self.cap = real(*a)

        def grab(self):
            decoded.append(1)
            return self.cap.grab()

        def read(self):
            decoded.append(1)
            return self.cap.read()

        def __getattr__(self, name):
            return getattr(self.cap, name)

    monkeypatch.setattr(cv2, "VideoCapture", Counting)
    events = [{"face": 0, "apex_s": n / 30, "apex_frame": n} for n in (5, 1400, 1490)]
    rows = [{"face_id": "0", "time_s": "0", "x": "0", "y": "0", "w": "64", "h": "48"}]
    thumbs = apex_thumbnails(clip, events, rows)
    assert len(decoded) < 150, len(decoded)  # not ~1490
    for n, uri in zip((5, 1400, 1490), thumbs):
        img = cv2.imdecode(np.frombuffer(__import__("base64").b64decode(uri.split(",")[1]), np.uint8), 1)
        assert abs(float(img.mean()) - (n * 7) % 256) < 3, n


@pytest.mark.parametrize("stop_at", [None, 40])
def test_a_run_on_a_video_browsers_cannot_play_makes_its_review_copy_as_it_reads(tmp_path, monkeypatch, stop_at,
                                                                               demo_clip):
    """review.webm of an MJPG recording is written by the run frame by frame: at its end (or at a stop
    signal, under a scheduler's grace period) there is no second pass over an hour of video to wait for,
    and a stopped run's copy ends where the run did."""
    import cv2

    import mpt_live.report as report

    clip = mjpg_interview(tmp_path, demo_clip)
    after = []
    monkeypatch.setattr(report, "review_video", lambda *a, **k: after.append(a))

    def progress(i, n):
        if i == stop_at:
            raise KeyboardInterrupt

    out = tmp_path / "run"
    with VideoFile(clip) as src:
        if stop_at is None:
            summary = run_job(src, None, SessionConfig(), out, progress=progress)
        else:
            with pytest.raises(KeyboardInterrupt):
                run_job(src, None, SessionConfig(), out, progress=progress)
    summary = json.loads((out / "summary.json").read_text())
    assert after == [] and summary["outputs"]["review"] == "review.webm"
    page = (out / "report.html").read_text()
    assert 'src="review.webm"' in page
    status = "complete" if stop_at is None else "interrupted"  # the page says what summary.json says
    assert summary["status"] == status and f"<th>status</th><td>{status}</td>" in page
    assert ('<p class="alert">This run is interrupted (SIGINT)' in page) == (stop_at is not None)
    copy = cv2.VideoCapture(str(out / "review.webm"))
    n = 0
    while copy.read()[0]:
        n += 1
    assert n == summary["frames_read"] == (stop_at or 90)


def test_apex_boxes_of_many_events_over_many_rows_look_each_row_up_once():
    """The face box of each event's apex was found by scanning every row for every event: an hour of two faces
    (100k rows, hundreds of events) is tens of millions of lookups after the run or its stop signal. The rows
    are grouped once; the boxes are those of the nearest row of the event's face, as before."""
    from mpt_live.report import apex_boxes

    reads = [0]

    class Row(dict):
        def get(self, k, d=None):
            reads[0] += 1
            return super().get(k, d)

    rows = [Row(face_id=str(i % 2), time_s=f"{i // 2 / 15:.3f}", x=str(i), y="1", w="20", h="20") for i in range(4000)]
    events = [{"face": k % 2, "apex_s": k * 1.3 + 0.01} for k in range(100)]
    boxes = apex_boxes(events, rows)
    assert reads[0] < 20_000, reads[0]  # a scan per event: ~800,000
    for e, b in zip(events, boxes):
        best = min((r for r in rows if r["face_id"] == str(e["face"])), key=lambda r: abs(float(r["time_s"]) - e["apex_s"]))
        assert b == (int(best["x"]), 1, 20, 20)


def test_a_fact_the_run_did_not_know_is_left_out_not_shown_as_none(tmp_path):
    """A killed run finished with `mpt-live --finish` has no speed or frame count: its facts said 'processed at None
    frames/s' and 'frames None'; a fact that is not known is left out, the known ones stay."""
    from mpt_live.report import render_report

    rows = [{"time_s": f"{t / 10:.2f}", "face_id": "0", "motion_score": "1"} for t in range(20)]
    base = {"events": [], "outputs": {}, "status": "killed", "source_fps": 30.0, "windows": 10, "spot_threshold": 4.0,
            "stride": 2, "max_faces": 1}
    page = render_report(tmp_path, {**base, "fps": None, "frames_read": None}, rows, [], None, [], "t")
    facts = re.search(r"<table[^>]*>.*?</table>", page[page.index("<th>status</th>") - 200:], re.S).group(0)
    assert "None" not in facts and "processed at" not in facts and "<th>frames</th>" not in facts
    assert "<th>source fps</th><td>30.0</td>" in facts and "<th>windows</th><td>10</td>" in facts
    known = render_report(tmp_path, {**base, "fps": 88.5, "frames_read": 300}, rows, [], None, [], "t")
    assert "<th>processed at</th><td>88.5 frames/s</td>" in known and "<th>frames</th><td>300</td>" in known


def test_a_model_trained_on_mpt_synth_clips_says_so_among_the_facts(tmp_path):
    """summary.json's model said data_kind 'semi-synthetic (mpt-synth)' but the page described such a model by its
    name alone, as if trained on the dataset's own clips; its facts now say what it was trained on (nothing for a
    model that does not say)."""
    from mpt_live.report import render_report

    rows = [{"time_s": f"{t / 10:.2f}", "face_id": "0", "motion_score": "1"} for t in range(20)]
    base = {"events": [], "outputs": {}}
    synth = render_report(tmp_path, {**base, "model": {"name": "m.onnx", "data_kind": "semi-synthetic (mpt-synth)"}},
                          rows, [], None, [], "t")
    assert "<th>trained on</th><td>semi-synthetic (mpt-synth)</td>" in synth
    for model in ({"name": "m.onnx", "data_kind": None}, {"name": "m.onnx"}):
        assert "trained on" not in render_report(tmp_path, {**base, "model": model}, rows, [], None, [], "t")


def test_a_face_with_one_window_to_draw_says_why_its_timeline_is_blank(tmp_path):
    """A face seen for about a second had one classified window: its timeline's curves were one point each, not
    drawn, and the page said nothing of it. Its note now says there was one window only, and when."""
    from mpt_live.report import render_report

    rows = [{"time_s": f"{t / 10:.2f}", "face_id": "0", "motion_score": "1", "p_happiness": "0.5"} for t in range(20)]
    rows += [{"time_s": "1.00", "face_id": "1", "motion_score": "", "p_happiness": ""},  # warming up
             {"time_s": "1.50", "face_id": "1", "motion_score": "2", "p_happiness": "0.4"}]
    page = render_report(tmp_path, {"events": [], "outputs": {}}, rows, ["happiness"], None, [], "t")
    notes = re.findall(r'<span class="seen">(.*?)</span>', page)
    assert len(notes) == 2 and "one window" not in notes[0], notes
    assert notes[1].endswith(": one window only, at 1.50 s: too short for a curve"), notes
    # and the window is drawn, as timeline.png draws it: a line of one point was left out of the page, blank beside
    # that note; now a dot (the point twice, a stroke that no zoom scales, round), the other face's curves as lines
    svgs = re.findall(r"<svg class=\"timeline\".*?</svg>", page, re.DOTALL)
    lines = [re.findall(r'<polyline points="([^"]*)"[^>]*?stroke-width="([\d.]+)"( stroke-linecap="round")?', s)
             for s in svgs]
    assert {(w, cap) for _, w, cap in lines[0]} == {("1.2", "")} and len(lines[0][0][0].split()) == 20
    assert len(lines[1]) == 2 and all(w == "4" and cap for _, w, cap in lines[1])  # probability and motion
    assert all(len(set(p.split())) == 1 and len(p.split()) == 2 for p, _, _ in lines[1])


SEEK_JS = """async (times) => { const v = document.getElementById('video');
  const done = (ev) => new Promise(r => { const t = setTimeout(() => r('timeout'), 10000);
    v.addEventListener(ev, () => { clearTimeout(t); r(ev); }, {once: true});
    v.addEventListener('error', () => { clearTimeout(t); r('error'); }, {once: true}); });
  if (v.readyState < 1) await done('loadedmetadata');
  const out = [];
  for (const t of times) { v.currentTime = t; out.push(await done('seeked')); if (v.error) break; }
  return {src: v.currentSrc.split('/').pop(), seeks: out, error: v.error && v.error.message}; }"""


def test_an_open_gop_recording_is_reviewed_from_a_copy_that_seeks(tmp_path, browser):
    """H.264 with open GOPs (x264 open-gop, some cameras and broadcast encoders): a keyframe that is a recovery
    point, not an IDR picture, is followed by B-frames that refer to the picture before it. The page showed such an
    mp4 itself, and chromium lost the video (PIPELINE_ERROR_DECODE) when an event just after a keyframe was
    clicked; the page now shows review.webm for it, and the same recording with closed GOPs as it is."""
    from faultkit import ffmpeg

    for gop in ("open-gop=1", "open-gop=0"):
        ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=30:d=4", "-c:v", "libx264", "-preset", "veryfast", "-bf", "3",
               "-x264-params", f"{gop}:keyint=30", "-pix_fmt", "yuv420p", str(tmp_path / f"{gop[:-2]}{gop[-1]}.mp4"))
    opened, closed = tmp_path / "open-gop1.mp4", tmp_path / "open-gop0.mp4"
    assert playable(closed) and not playable(opened)
    out = tmp_path / "run"
    with VideoFile(opened) as src:
        run_job(src, None, SessionConfig(), out)
    page = browser.new_page()
    page.goto((out / "report.html").as_uri())
    seen = page.evaluate(SEEK_JS, [1.05, 2.05, 3.05])  # just after each keyframe: its leading B-frames
    assert seen == {"src": "review.webm", "seeks": ["seeked"] * 3, "error": None}
    page.close()


def test_a_damaged_recording_is_reviewed_from_a_copy_that_plays(tmp_path, browser):
    """An H.264 mp4 with a few damaged kilobytes in its middle: the run reads past the frames that do not decode,
    but the page showed the file itself, and chromium stops at the damage (PIPELINE_ERROR_DECODE): no event after
    it could be seen. The page shows a copy of the frames the run read (review.webm), at the run's times."""
    import random

    from faultkit import ffmpeg

    clip = tmp_path / "take.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=30:d=4", "-c:v", "libx264", "-preset", "veryfast", "-g", "30",
           "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(clip))
    data = bytearray(clip.read_bytes())
    at, r = data.find(b"mdat") + 8 + (len(data) - data.find(b"mdat")) // 2, random.Random(1)
    data[at:at + 6000] = bytes(r.randrange(256) for _ in range(6000))
    clip.write_bytes(bytes(data))
    assert playable(clip)  # its codec is one a browser plays: the damage is what it cannot
    out = tmp_path / "run"
    with VideoFile(clip) as src:
        s = run_job(src, None, SessionConfig(), out)
    assert any("could not be decoded" in w for w in s["warnings"]) and s["outputs"]["review"] == "review.webm"
    page = browser.new_page()
    page.goto((out / "report.html").as_uri())
    seen = page.evaluate(SEEK_JS, [1.0, 2.5, 3.5])  # before the damage and after it
    assert seen == {"src": "review.webm", "seeks": ["seeked"] * 3, "error": None}
    page.close()


def test_a_stopped_realtime_run_of_a_damaged_recording_copies_as_far_as_it_played(tmp_path):
    """--realtime drops the frames a slow run has no time for, so the frames it handled are fewer than the
    recording's frames it played through: the copy of a damaged recording after a stop was cut at the count of
    frames handled (a third of the way, at three frame periods per frame). It goes as far as the run played."""
    import cv2
    from faultkit import write_damaged_mp4
    from test_capture import FakeTime, _ReadPacedSleep

    from mpt_live.paced_video import PacedVideoReader

    clip = write_damaged_mp4(tmp_path / "take.mp4", where=0.3)
    clock = FakeTime()
    sleep = _ReadPacedSleep(clock)  # the clock moves on once the run has taken the frame published last

    def slow(frames_read: int, total: int | None) -> None:  # and by three frame periods for each frame it handles
        clock.now += 0.1
        if frames_read == 20:
            raise KeyboardInterrupt

    out = tmp_path / "run"
    src = PacedVideoReader(clip, clock=clock, sleep=sleep)
    sleep.reader = src
    with src, pytest.raises(KeyboardInterrupt):
        run_job(src, None, SessionConfig(), out, progress=slow)
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "interrupted" and s["outputs"]["review"] == "review.webm" and src.damaged
    cap = cv2.VideoCapture(str(out / "review.webm"))
    copied = 0
    while cap.read()[0]:
        copied += 1
    cap.release()
    assert s["frames_read"] == 20 and copied > 40  # about 60 frames played through


@pytest.mark.parametrize("form", ["vfr.mkv", "stream.webm"])
def test_apex_thumbnails_are_the_frames_the_run_saw_in_a_variable_rate_or_unindexed_recording(tmp_path, form):
    """OpenCV seeks to a frame number by its time at the header's rate: in a variable-rate recording (every 5th
    frame dropped) the far apexes' pictures were seconds away from the frames the run saw there, and in a WebM
    written as a stream (a browser's MediaRecorder: no index) from the start. Each seek is now checked against
    the run's time of the frame, and such a recording read frame by frame."""
    import base64
    import subprocess

    import cv2
    import numpy as np
    from faultkit import ffmpeg, ffmpeg_exe

    from mpt_live.report import apex_thumbnails

    src = tmp_path / "levels.avi"
    w = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
    for i in range(900):  # each frame its own grey level
        w.write(np.full((48, 64, 3), 20 + (i * 11) % 211, np.uint8))
    w.release()
    clip = tmp_path / form
    if form == "vfr.mkv":
        ffmpeg("-i", str(src), "-vf", r"select='not(eq(mod(n\,5)\,2))'", "-fps_mode", "vfr", "-c:v", "libx264",
               "-preset", "ultrafast", "-qp", "0", str(clip))
    else:
        with open(clip, "wb") as fh:
            subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-i", str(src), "-c:v", "libvpx-vp9", "-lossless", "1",
                            "-deadline", "realtime", "-cpu-used", "8", "-f", "webm", "-"], stdout=fh, check=True)
    with VideoFile(clip) as v:
        seen = [(f.index, f.t, float(f.image.mean())) for f in v]
    events = [{"face": 0, "apex_s": seen[n][1], "apex_frame": n} for n in (5, 400, 690)]
    rows = [{"face_id": "0", "time_s": "0", "x": "0", "y": "0", "w": "64", "h": "48"}]
    for e, uri in zip(events, apex_thumbnails(clip, events, rows)):
        img = cv2.imdecode(np.frombuffer(base64.b64decode(uri.split(",")[1]), np.uint8), 1)
        assert abs(float(img.mean()) - seen[e["apex_frame"]][2]) < 3, e


def test_apex_thumbnails_after_a_damaged_stretch_are_the_frames_the_run_saw(tmp_path):
    """The run reads past frames that do not decode (a damaged stretch); the pictures stopped at the first one
    (its failed read taken for the end): no picture of any event after it."""
    import base64
    import random

    import cv2
    import numpy as np
    from faultkit import ffmpeg

    from mpt_live.report import apex_thumbnails

    src = tmp_path / "levels.avi"
    w = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (160, 120))
    rng = np.random.default_rng(0)
    for i in range(240):  # each frame its own grey level, over texture the damage cannot pass for
        w.write(np.clip(rng.normal(20 + (i * 11) % 211, 12, (120, 160, 3)), 0, 255).astype(np.uint8))
    w.release()
    clip = tmp_path / "clip.mp4"
    ffmpeg("-i", str(src), "-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-pix_fmt", "yuv420p",
           "-movflags", "+faststart", str(clip))
    data = bytearray(clip.read_bytes())
    at, r = data.find(b"mdat") + 8 + (len(data) - data.find(b"mdat")) // 3, random.Random(1)
    data[at:at + 6000] = bytes(r.randrange(256) for _ in range(6000))
    clip.write_bytes(bytes(data))
    with VideoFile(clip) as v:
        seen = [(f.index, f.t, float(f.image.mean())) for f in v]
    assert any("could not be decoded" in x for x in v.warnings) and len(seen) < 240
    events = [{"face": 0, "apex_s": seen[n][1], "apex_frame": n} for n in (5, len(seen) // 2, len(seen) - 5)]
    rows = [{"face_id": "0", "time_s": "0", "x": "0", "y": "0", "w": "160", "h": "120"}]
    for e, uri in zip(events, apex_thumbnails(clip, events, rows)):
        assert uri is not None, e
        img = cv2.imdecode(np.frombuffer(base64.b64decode(uri.split(",")[1]), np.uint8), 1)
        assert abs(float(img.mean()) - seen[e["apex_frame"]][2]) < 3, e


def test_a_review_copy_made_for_the_page_is_named_in_the_summary(tmp_path, demo_clip):
    """When the page's review.webm was made after the run (mpt-live --finish of a killed run that had no copy yet,
    a copy the run did not make as it read), summary.json's outputs.review stayed null beside the file."""
    from mpt_live.report import write_plot_and_page
    from mpt_live.results import read_table

    clip = mjpg_interview(tmp_path, demo_clip)
    out = tmp_path / "run"
    with VideoFile(clip) as src:
        summary = run_job(src, None, SessionConfig(), out)
    assert summary["outputs"]["review"] == "review.webm"
    (out / "review.webm").unlink()
    summary["outputs"]["review"] = None
    write_plot_and_page(out, summary, read_table(out / "predictions.csv")[1], [], clip, "t", demo=False)
    assert summary["outputs"]["review"] == "review.webm" and (out / "review.webm").is_file()


def test_a_run_from_start_has_its_timelines_begin_there_not_at_0(tmp_path):
    """--start 1:35 --max-seconds 45: 68 % of each timeline was empty before the stretch (the axis ran from 0), a
    5-minute stretch from 20:00 squeezed into its last fifth. The axis now begins where the run did (timeline.png's
    does), the curves and shading in the video's own times (data-begin: the page seeks the video to them)."""
    from mpt_live.report import render_report

    rows = [{"time_s": f"{95 + t / 10:.2f}", "frame": str(2850 + 3 * t), "face_id": "0", "motion_score": "2"}
            for t in range(451)]  # 1:35-2:20
    summary = {"events": [{"face": 0, "onset_s": 100.0, "apex_s": 100.5, "offset_s": 101.0, "type": "micro",
                           "score": 5.0}], "outputs": {}, "source_seconds": 140.0, "start_s": 95.0, "mode": "file"}
    page = render_report(tmp_path, summary, rows, [], None, [], "t")
    svg = re.search(r'<svg class="timeline"[^>]*>', page).group(0)
    assert 'data-begin="95.0000"' in svg and 'data-duration="140.0000"' in svg and "1:35.00 to 2:20.00" in svg
    line = re.search(r'<polyline points="([^"]+)"', page).group(1).split()
    assert float(line[0].split(",")[0]) == pytest.approx(6, abs=0.1)  # the first row at the left edge, not 68 % in
    assert float(line[-1].split(",")[0]) == pytest.approx(1000, abs=0.1)
    ev = re.search(r'<rect class="ev" data-i="0" x="([\d.]+)" y="0" width="([\d.]+)"', page)
    assert float(ev.group(1)) == pytest.approx(6 + 994 * 5 / 45, abs=0.02)  # onset 1:40 of the 1:35-2:20 axis
    assert float(ev.group(2)) == pytest.approx(994 / 45, abs=0.02)
    ticks = re.findall(r'font-size="11" text-anchor="middle" fill="#555">([^<]+)<', page)
    assert ticks[0] != "0s" and ticks[0] in ("1:40", "1:35")
    # no --start: from 0, as before; a live source's times from its first row
    assert 'data-begin="0.0000"' in render_report(tmp_path, {**summary, "start_s": None}, rows, [], None, [], "t")
    live = render_report(tmp_path, {**summary, "start_s": None, "mode": "live"}, rows, [], None, [], "t")
    assert 'data-begin="95.0000"' in live


def test_a_resumed_run_s_page_covers_the_run_from_its_first_part_s_start(tmp_path):
    """A resumed run keeps its first part's --start (resume.py): its page begins there, not at the resume."""
    from mpt_live.report import render_report

    rows = [{"time_s": f"{60 + t / 10:.2f}", "frame": str(1800 + 3 * t), "face_id": "0", "motion_score": "2"}
            for t in range(1201)]  # 1:00-3:00, resumed at 2:00
    summary = {"events": [], "outputs": {}, "source_seconds": 180.0, "start_s": 60.0, "mode": "file",
               "resumed_at_s": [120.0, 120.0]}
    page = render_report(tmp_path, summary, rows, [], None, [], "t")
    assert 'data-begin="60.0000"' in page


def test_curves_break_where_a_face_was_away_not_drawn_straight_across_it(tmp_path):
    """A resumed run's face 0 had no rows 1:40-1:52 (shaded 'not in the frame'), but its probability and motion lines
    ran straight through the shading: the first row after the resume is not a warm-up row with empty values. Every
    curve now breaks where the face has no rows for longer than the absence rule's threshold, as the shading does."""
    from mpt_live.report import render_report

    times = [90 + t / 10 for t in range(101)] + [112 + t / 10 for t in range(81)]  # away 1:40-1:52
    rows = [{"time_s": f"{t:.2f}", "frame": str(round(t * 30)), "face_id": "0", "motion_score": "2",
             "p_a": "0.3", "p_b": "0.7"} for t in times]
    summary = {"events": [], "outputs": {}, "source_seconds": 120.0, "start_s": 90.0, "mode": "file"}
    page = render_report(tmp_path, summary, rows, ["a", "b"], None, [], "t")
    assert re.findall(r'<rect class="absent".*?<title>(.*?)</title>', page) == ["face 0 not in the frame 1:40.00-1:52.00"]
    lines = re.findall(r'<polyline points="([^"]+)"[^>]*><title>([^<]+)</title>', page)
    assert sorted(name for _, name in lines) == ["motion score"] * 2 + ["p a"] * 2 + ["p b"] * 2
    a, w = map(float, re.search(r'<rect class="absent" x="([\d.]+)" y="0" width="([\d.]+)"', page).groups())
    for points, _ in lines:  # each piece on its own side of the shading
        xs = [float(p.split(",")[0]) for p in points.split()]
        assert max(xs) <= a + 0.1 or min(xs) >= a + w - 0.1
    # a face's own usual spacing is no absence: one line per curve
    page = render_report(tmp_path, summary, rows[:101], ["a", "b"], None, [], "t")
    assert len(re.findall(r"<polyline", page)) == 3


def test_a_page_from_start_seeks_the_video_to_true_times_over_its_own_stretch(run, browser):
    """The page of a run from --start 4 s draws its timelines over 4-12 s, not 0-12 s; the video still seeks to its
    own times: a click on a timeline's left edge goes to 4 s, its middle to 8 s, Home to 4 s; no zoom as long as the
    stretch is offered."""
    from mpt_live.report import render_report
    from mpt_live.results import read_table

    out, summary = run
    rows = [r for r in read_table(out / "predictions.csv")[1] if float(r["time_s"]) >= 4.0]
    late = {**summary, "start_s": 4.0, "mode": "file",
            "events": [e for e in summary["events"] if float(e["onset_s"]) >= 4.0]}
    video = re.search(r'<source src="([^"]+)">', (out / "report.html").read_text()).group(1)  # the page's own choice
    (out / "from4.html").write_text(render_report(out, late, rows, [], video, [], "t"), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((out / "from4.html").as_uri())
    page.wait_for_function("document.getElementById('video').readyState >= 1", timeout=20000)
    ticks = page.evaluate("Array.from(document.querySelector('svg.timeline g.ticks').children).map(t => t.textContent)")
    assert ticks[0] == "4s" and "0s" not in ticks, ticks
    assert page.evaluate("Array.from(document.querySelectorAll('#zoom option')).map(o => o.value)") == ["0"]
    click = """(f => { const s = document.querySelector('svg.timeline'), b = s.getBoundingClientRect();
        const left = 6 / 1000 * b.width, x = b.left + left + f * (b.width - left);
        s.dispatchEvent(new MouseEvent('click', {clientX: x, clientY: b.top + 10, bubbles: true})); })"""
    now = "document.getElementById('video').currentTime"
    for f, t in ((0.0, 4.0), (0.5, 8.0)):
        page.evaluate(f"{click}({f})")
        page.wait_for_function(f"Math.abs({now} - {t}) < 0.05", timeout=10000)
    page.focus("svg.timeline")
    page.keyboard.press("End")
    page.keyboard.press("Home")
    page.wait_for_function(f"Math.abs({now} - 4) < 0.05", timeout=10000)
    assert page.evaluate("document.querySelector('svg.timeline').getAttribute('aria-valuemin')") == "4.00"
    assert errors == []


def test_a_face_s_seen_line_says_how_long_and_when_it_was_out_of_the_frame_in_between(tmp_path, browser):
    """A two-person interview's face 0 was 'seen 0:00.00-2:29.93' on the page though it had left the frame twice
    for 42 s in all: only the shading and the slider's name said so. Its line now says how long, how many times and
    when, as the page writes times; a face that came late and left early has nothing in between to say, and a
    stretch where the video itself had no frames is not the face's absence."""
    from mpt_live.report import render_report

    def rows(face, spans):
        return [{"time_s": f"{k / 15:.4f}", "frame": str(k), "face_id": str(face), "motion_score": "2"}
                for k in range(2250) if any(a <= k / 15 <= b for a, b in spans)]

    table = rows(0, [(0, 24.94), (45, 74.94), (97, 149.94)]) + rows(1, [(25, 126.94)])
    summary = {"events": [], "outputs": {}, "source_seconds": 150.0,
               "faces": [{"face_id": 0, "frames": 3240}, {"face_id": 1, "frames": 3060}]}
    (tmp_path / "report.html").write_text(render_report(tmp_path, summary, table, [], None, [], "t"), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto((tmp_path / "report.html").as_uri())
    seen = page.locator("section.face h3 .seen").all_inner_texts()
    assert seen == [("seen 0:00.00-2:29.93, 3240 frames, not seen 42.13 s of it "
                     "(twice: 24.93-45.00 s, 1:14.93-1:37.00)"), "seen 0:25.00-2:06.93, 3060 frames"]
    # many times: how many, how long in all and the longest; the video's own stall (no frames at all) is left out
    gaps = [(10.0 * k + 5, 10.0 * k + 7) for k in range(5)]
    table = rows(0, [(0, 150)])
    away = [r for r in table if not any(a < float(r["time_s"]) < b for a, b in gaps)]
    html_page = render_report(tmp_path, summary, away, [], None, [], "t")
    assert "not seen 10.00 s of it (5 times: the longest 5.00-7.00 s)" in html_page
    stalled = render_report(tmp_path, summary, away, [], None, [], "t", no_frames=[(a, b) for a, b in gaps])
    assert "not seen" not in re.search(r'<span class="seen">.*?</span>', stalled).group(0)
    page.close()


def test_a_face_seen_in_one_frame_says_frame_in_the_singular(tmp_path):
    """A face's line on the page said 'seen 0:01.00-0:01.00, 1 frames'."""
    from mpt_live.report import render_report

    rows = [{"time_s": "1.0000", "frame": "15", "face_id": "0", "motion_score": "2"},
            {"time_s": "1.0000", "frame": "15", "face_id": "1", "motion_score": "2"}]
    summary = {"events": [], "outputs": {}, "source_seconds": 5.0,
               "faces": [{"face_id": 0, "frames": 1}, {"face_id": 1, "frames": 2}]}
    seen = re.findall(r'<span class="seen">(.*?)</span>', render_report(tmp_path, summary, rows, [], None, [], "t"))
    assert [s.split(", ", 1)[1].split(":")[0] for s in seen] == ["1 frame", "2 frames"], seen
