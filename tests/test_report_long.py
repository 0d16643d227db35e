"""report.html of an hour-long interview: two faces, a window every 2 frames at 30 fps (54,000 rows a face) and
1500 events. The page lists every event, stays within a size per event with real apex pictures, and draws its
timelines reduced over the whole run and point by point only where zoomed in (in chromium, through playwright)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mpt_live.report import apex_thumbnails, render_report
from mpt_live.report_svg import BUCKETS


HOUR, RATE, EVENTS, SPIKE = 3600.0, 15.0, 1500, 18519 / 15.0  # the peak: a window at 20:34.6
CLASSES = ["happiness", "surprise", "others"]


def _rows() -> list[dict]:
    t = np.arange(0.0, HOUR, 1 / RATE)
    happy = 0.1 + 0.05 * np.sin(t / 7.0)
    happy[np.argmin(abs(t - SPIKE))] = 1.0  # one window's peak: the whole-run view must not lose it
    rows = []
    for f in (0, 1):
        for k, tk in enumerate(t):
            h = float(happy[k]) if f == 0 else 0.1
            rows.append({"time_s": round(float(tk), 4), "frame": 2 * k, "face_id": f, "x": 100 + 300 * f, "y": 100,
                         "w": 200, "h": 200, "motion_score": 1 + (k % 50) / 10, "p_happiness": h, "p_surprise": 0.1,
                         "p_others": 0.9 - h})
    return rows


def _events() -> list[dict]:
    out = []
    for i in range(EVENTS):
        t = round(1 + (HOUR - 5) * i / EVENTS, 4)
        out.append({"face": i % 2, "onset_s": t, "apex_s": t + 0.15, "offset_s": t + 0.35, "onset_frame": int(t * 30),
                    "apex_frame": int(t * 30) + 4, "offset_frame": int(t * 30) + 10, "type": "micro",
                    "class": CLASSES[i % 3], "confidence": 0.8, "score": 6.0})
    return out


@pytest.fixture(scope="module")
def hour(faces_dir, tmp_path_factory):
    """The hour's page and the same page without its events; the apex pictures are real: a real interview's
    faces at 20 moments, each used for 75 events."""
    out = tmp_path_factory.mktemp("hour")
    rows, events = _rows(), _events()
    views = [{"face": 0, "apex_s": j / 3, "apex_frame": 10 * j} for j in range(20)]
    boxes = [{"time_s": j / 3, "face_id": 0, "x": 100, "y": 180, "w": 320, "h": 320} for j in range(20)]
    pictures = apex_thumbnails(faces_dir / "videos" / "liveportrait_d3_expressive.mp4", views, boxes)
    assert all(pictures)
    summary = {"events": events, "source": "interview.mp4", "source_seconds": HOUR, "outputs": {}}
    page = render_report(out, summary, rows, CLASSES, None, [pictures[i % 20] for i in range(EVENTS)], "an hour")
    (out / "report.html").write_text(page, encoding="utf-8")
    bare = render_report(out, {**summary, "events": []}, rows, CLASSES, None, [], "an hour")
    return out, page, bare, events


def _points(svg: str) -> list[int]:
    return [len(p.split()) for p in re.findall(r'<polyline points="([^"]*)"', svg)]


def test_an_hour_lists_every_event_within_a_size_per_event(hour):
    _, page, bare, events = hour
    onsets = [float(v) for v in re.findall(r'<tr data-onset="([\d.]+)"', page)]
    assert onsets == [pytest.approx(e["onset_s"], abs=1e-4) for e in events]
    assert page.count('src="data:image/jpeg;base64,') == EVENTS  # each event's picture, inlined
    per_event = (len(page.encode()) - len(bare.encode())) / EVENTS
    assert per_event <= 6000, f"{per_event:.0f} bytes an event"
    # the timelines: at most 12 bytes a point of a curve, the whole run's reduced curves included (a minute's part
    # is written in hundredths of a second from its start, not in the run's units to the thousandth: 15 bytes)
    points = 2 * HOUR * RATE * (len(CLASSES) + 1)
    assert len(bare.encode()) <= 12 * points, f"{len(bare.encode()) / points:.1f} bytes a point"


def test_an_hour_is_drawn_reduced_for_the_whole_run_and_point_by_point_in_parts(hour):
    """An hour's 54,000 windows a face were drawn point by point at once, 7 curves of each face: chromium took
    about 15 s to draw the page and the curves read as one solid band. The whole run is now each curve's low and
    high in 2000 stretches of time (a one-window peak kept), the windows themselves in parts of a minute."""
    _, page, _, _ = hour
    for face in (0, 1):
        svg = re.search(rf'<svg class="timeline"[^>]*data-face="{face}".*?</svg>', page, re.S).group(0)
        whole = re.search(r'<g class="whole".*?</g>', svg, re.S)
        assert whole, "the whole run is drawn point by point"
        assert len(_points(whole.group(0))) == 4 and max(_points(whole.group(0))) <= 2 * BUCKETS + 2
        parts = re.findall(r'<g class="part" data-t0="([\d.]+)" data-t1="([\d.]+)" style="display:none"[^>]*>(.*?)</g>',
                           svg, re.S)
        assert [float(a) for a, _, _ in parts] == [60.0 * k for k in range(60)]
        assert sum(_points(p)[0] for _, _, p in parts) >= HOUR * RATE  # every window, in some part
    face0 = re.search(r'<svg class="timeline"[^>]*data-face="0".*?</svg>', page, re.S).group(0)
    happy = re.search(r'<g class="whole".*?<polyline points="([^"]*)"', face0, re.S).group(1)
    assert min(float(p.split(",")[1]) for p in happy.split()) == pytest.approx(4.0)  # the peak (p = 1 at the top)


def test_an_hour_in_chromium_draws_the_parts_of_the_span_shown(hour, browser):
    out, _, _, _ = hour
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((out / "report.html").as_uri(), timeout=60000)
    drawn = """() => Array.from(document.querySelectorAll('svg.timeline')).map(s => [
        getComputedStyle(s.querySelector('g.whole')).display,
        Array.from(s.querySelectorAll('g.part')).filter(g => getComputedStyle(g).display !== 'none')
            .map(g => parseFloat(g.dataset.t0))])"""
    assert page.evaluate(drawn) == [["inline", []]] * 2  # the whole run: reduced
    # no video to show: nothing kept on top of the page (its facts' block took half a laptop's screen, sticky)
    assert page.evaluate("getComputedStyle(document.querySelector('.top')).position") == "static"
    page.select_option("#zoom", "60")
    assert page.evaluate(drawn) == [["none", [0.0]]] * 2  # a minute: its part, point by point
    page.keyboard.press("]")
    assert page.evaluate(drawn) == [["none", [60.0]]] * 2
    page.select_option("#zoom", "600")
    assert page.evaluate(drawn) == [["none", [60.0 * k for k in range(10)]]] * 2
    page.select_option("#zoom", "0")
    assert page.evaluate(drawn) == [["inline", []]] * 2
    assert errors == []


def test_an_interview_of_an_hour_zooms_to_half_hours(hour, browser):
    """The zoom went from the whole run straight to 10 minutes: a 30-90 minute interview could not be looked at a
    half hour at a time. The spans offered are those shorter than the run: 30 minutes, 10, 1, 10 seconds here."""
    out = hour[0]
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto((out / "report.html").as_uri(), timeout=60000)
    assert page.evaluate("Array.from(document.querySelectorAll('#zoom option')).map(o => o.value)") == \
        ["0", "1800", "600", "60", "10"]
    page.select_option("#zoom", "1800")
    shown = "document.getElementById('shown').textContent"
    ticks = "Array.from(document.querySelector('svg.timeline g.ticks').children).map(t => t.textContent)"
    assert page.evaluate(shown) == "0:00-30:00 of 1:00:00"
    assert page.evaluate(ticks) == [f"{m}:00" for m in range(0, 31, 5)]
    page.keyboard.press("]")
    assert page.evaluate(shown) == "30:00-1:00:00 of 1:00:00"
    assert page.evaluate(ticks) == [f"{m}:00" for m in range(30, 60, 5)] + ["1:00:00"]


def test_an_hours_events_keep_their_length_when_zoomed_in(hour, browser):
    """An event's shading was at least 1.5 of the timeline's 1000 units wide, a width the zoom then scaled: over
    an hour that is 5.4 s, and zoomed to a minute the events of a 0.35 s covered the whole plot. The shading is
    now the event's own length, with an outline of 1.5 screen pixels that no zoom scales (a short event still
    shows over the whole run)."""
    out, _, _, events = hour
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto((out / "report.html").as_uri(), timeout=60000)
    page.select_option("#zoom", "60")
    plot, widths, outline = page.evaluate("""() => { const s = document.querySelector('svg.timeline[data-face="0"]');
        const plot = s.querySelector('rect[stroke]').getBoundingClientRect(), r = s.querySelector('rect.ev');
        const shown = Array.from(s.querySelectorAll('rect.ev')).map(r => r.getBoundingClientRect())
            .filter(b => b.right > plot.left && b.left < plot.right);  // the events of the minute shown
        return [plot.width, shown.map(b => b.width), [getComputedStyle(r).vectorEffect, getComputedStyle(r).strokeWidth]]; }""")
    length = events[0]["offset_s"] - events[0]["onset_s"]
    assert len(widths) >= 10 and all(w == pytest.approx(length / 60 * plot, abs=1.0) for w in widths), (widths, plot)
    assert outline == ["non-scaling-stroke", "1.5px"]


def test_an_hours_peak_is_where_it_happened_over_the_whole_run_and_zoomed_in(hour, browser):
    """The one-window peak at 20:34.6 drawn at its time: over the whole run and in its minute's part, zoomed in."""
    out, _, _, _ = hour
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto((out / "report.html").as_uri(), timeout=60000)
    peak = """() => { const s = document.querySelector('svg.timeline[data-face="0"]');
        const plot = s.querySelector('rect[stroke]').getBoundingClientRect();
        const line = Array.from(s.querySelectorAll('g.whole, g.part')).filter(g => getComputedStyle(g).display !== 'none')
            .map(g => g.querySelector('polyline')).filter(l => l.points.length)
            .map(l => [l, Array.from(l.points).reduce((a, p) => p.y < a.y ? p : a)]).reduce((a, b) => b[1].y < a[1].y ? b : a);
        const p = new DOMPoint(line[1].x, line[1].y).matrixTransform(line[0].getScreenCTM());
        return (p.x - plot.left) / plot.width; }"""
    assert page.evaluate(peak) == pytest.approx(SPIKE / HOUR, abs=0.5 / 1000)  # within half a pixel's worth
    page.select_option("#zoom", "60")
    page.evaluate("start = 1200; layout()")  # the minute from 20:00
    assert page.evaluate(peak) == pytest.approx((SPIKE - 1200) / 60, abs=0.5 / 1000)
