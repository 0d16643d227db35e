"""report.html's events table as a reviewer of a long two-person interview uses it (in chromium, through playwright):
sorted by a column head, filtered by face, type and class, and n / p, a click, Enter still seeking the video to the
onset of the events shown. A small page built here (24 events of faces 0 and 3 over a 24 s video), not a long run."""

from __future__ import annotations

import base64
import re

import cv2
import numpy as np
import pytest

from mpt_live.report import render_report
from mpt_live.review import review_video


BOX = """s => (b => [b.top, b.bottom])(document.querySelector(s).getBoundingClientRect())"""  # an element's top, bottom

CLASSES = ["happiness", "surprise", "others"]
SECONDS, FPS = 24.0, 10.0


def _events() -> list[dict]:
    out = []
    for i in range(24):
        t = round(0.5 + i * 0.95, 2)
        out.append({"face": 0 if i % 3 else 3, "onset_s": t, "apex_s": t + 0.1, "offset_s": t + 0.3,
                    "onset_frame": round(t * FPS), "apex_frame": round(t * FPS) + 1, "offset_frame": round(t * FPS) + 3,
                    "type": "macro" if i % 4 == 0 else "micro", "class": None if i == 5 else CLASSES[i % 3],
                    "confidence": None if i == 5 else round(0.3 + 0.6 * ((i * 7) % 24) / 24, 3), "score": 4.0 + i % 5})
    return out


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    out = tmp_path_factory.mktemp("table")
    src = out / "source.mp4"
    w = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (64, 48))
    for k in range(int(SECONDS * FPS)):
        w.write(np.full((48, 64, 3), (k * 3) % 256, np.uint8))
    w.release()
    video = review_video(out, [src])
    assert video
    rows = [{"time_s": k / FPS, "frame": k, "face_id": f, "x": 0, "y": 0, "w": 20, "h": 20, "motion_score": 1.0,
             **{f"p_{c}": 1 / 3 for c in CLASSES}} for k in range(int(SECONDS * FPS)) for f in (0, 3)]
    events = _events()
    summary = {"events": events, "source": str(src), "source_seconds": SECONDS, "outputs": {}}
    (out / "report.html").write_text(render_report(out, summary, rows, CLASSES, video, [], "table"), encoding="utf-8")
    return out, events


def _open(browser, out):
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((out / "report.html").as_uri())
    page.wait_for_function("document.getElementById('video').readyState >= 1", timeout=20000)
    return page, errors


SHOWN = """Array.from(document.querySelectorAll('#events tbody tr[data-onset]')).filter(r => !r.hidden && r.offsetParent)
    .map(r => parseInt(r.cells[0].textContent))"""


def _seeked(page, t: float) -> None:
    page.wait_for_function(f"Math.abs(document.getElementById('video').currentTime - {t}) < 0.04 && "
                           "!document.getElementById('video').seeking", timeout=10000)


def test_a_column_head_sorts_the_events_and_again_reverses_them(table, browser):
    """The table of a long interview's hundreds of events could only be read in time order: a click on a column's
    head now sorts by it (again: the other way; events without a value last), the head says how (aria-sort)."""
    out, events = table
    page, errors = _open(browser, out)
    head = page.get_by_role("columnheader", name="confidence")
    head.get_by_role("button").click()
    by_conf = sorted((i for i, e in enumerate(events) if e["confidence"] is not None), key=lambda i: events[i]["confidence"])
    assert page.evaluate(SHOWN) == [i + 1 for i in by_conf] + [6]
    assert head.get_attribute("aria-sort") == "ascending"
    head.get_by_role("button").click()
    assert page.evaluate(SHOWN) == [i + 1 for i in reversed(by_conf)] + [6]
    assert head.get_attribute("aria-sort") == "descending"
    page.get_by_role("columnheader", name="face").get_by_role("button").click()
    assert page.evaluate(SHOWN) == [i + 1 for i in sorted(range(24), key=lambda i: (events[i]["face"], i))]
    assert head.get_attribute("aria-sort") is None
    # sorted by confidence, n goes down the table as shown, and the video follows
    head.get_by_role("button").click()
    page.locator("#events tbody tr[data-onset]").first.click()
    _seeked(page, events[by_conf[0]]["onset_s"])
    page.keyboard.press("n")
    _seeked(page, events[by_conf[1]]["onset_s"])
    # by keyboard: up from the first row to the column heads (the table stays one tab stop), along them, Enter
    page.locator("#events tbody tr[data-onset]:not([hidden])").first.focus()
    page.keyboard.press("ArrowUp")
    assert page.evaluate("document.activeElement.textContent") == "ID"
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    assert page.evaluate(SHOWN) == list(range(1, 25))  # by onset: time order
    assert page.get_by_role("columnheader", name="onset").get_attribute("aria-sort") == "ascending"
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.getAttribute('aria-selected')") is not None
    assert errors == []


def test_filters_by_face_type_and_class_and_n_p_step_through_the_events_shown(table, browser):
    """Filters for face, type and class (the values the run has): the table shows the events that match, says how
    many of all; n / p and a click move through those only, seeking the video to their onsets."""
    out, events = table
    page, errors = _open(browser, out)
    page.get_by_label("face", exact=True).select_option("3")
    want = [i + 1 for i, e in enumerate(events) if e["face"] == 3]
    assert page.evaluate(SHOWN) == want
    assert f"{len(want)} of {len(events)}" in page.inner_text("#filters")
    page.get_by_label("type", exact=True).select_option("micro")
    want = [i + 1 for i, e in enumerate(events) if e["face"] == 3 and e["type"] == "micro"]
    assert page.evaluate(SHOWN) == want and len(want) >= 3
    # the timelines: the events shown stand out, the others faded (where they are in a long run, at a glance)
    marks = page.evaluate("""Array.from(document.querySelectorAll('svg.timeline rect.ev')).map(x => [
        x.closest('svg').dataset.face, x.querySelector('title').textContent, getComputedStyle(x).fillOpacity,
        getComputedStyle(x).strokeOpacity])""")
    bright = [(f, t.split()[-2]) for f, t, o, line in marks if float(o) > 0.1 and float(line) > 0.5]
    assert bright == [("3", f"{events[i - 1]['onset_s']:.2f}-{events[i - 1]['offset_s']:.2f}") for i in want]
    assert len(marks) == len(events)
    page.keyboard.press("Escape")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("n")
    _seeked(page, events[want[0] - 1]["onset_s"])
    page.keyboard.press("n")
    _seeked(page, events[want[1] - 1]["onset_s"])
    page.keyboard.press("p")
    _seeked(page, events[want[0] - 1]["onset_s"])
    page.locator("#events tbody tr[data-onset]:not([hidden])").nth(2).click()
    _seeked(page, events[want[2] - 1]["onset_s"])
    # the class filter: its values, and none for the event without a class
    options = page.get_by_label("class", exact=True).evaluate("s => Array.from(s.options).map(o => o.value)")
    assert options == ["", *sorted(CLASSES), "-"]
    page.get_by_label("type", exact=True).select_option("")
    page.get_by_label("face", exact=True).select_option("")
    page.get_by_label("class", exact=True).select_option("-")
    assert page.evaluate(SHOWN) == [6]
    assert [t for _, t, o in page.evaluate("""Array.from(document.querySelectorAll('svg.timeline rect.ev')).map(x => [0,
        x.querySelector('title').textContent, getComputedStyle(x).fillOpacity])""") if float(o) > 0.1] == \
        [f"{events[5]['type']} {events[5]['onset_s']:.2f}-{events[5]['offset_s']:.2f} s"]  # an event without a class: its type
    page.get_by_label("face", exact=True).select_option("3")
    assert page.evaluate(SHOWN) == []
    assert page.is_visible("#no-match") and "No event matches" in page.inner_text("#no-match")
    assert errors == []


@pytest.mark.parametrize("size", [(1366, 768), (800, 900)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_filters_stay_on_screen_above_the_header_and_shift_tab_reaches_them(table, browser, size):
    """Far down a long table its header stayed on screen but the filters had scrolled away: changing one meant
    scrolling back up. They now stay above the header, under the video, overlapping neither; Shift+Tab from the
    table goes class, type, face (the bar from its end), each on screen, and Tab back lands on the row, in sight."""
    out, _ = table
    page, errors = _open(browser, out)
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.evaluate("window.dispatchEvent(new Event('resize'))")
    page.evaluate("""(b => { for (let k = 0; k < 60; k++) b.appendChild(b.rows[k % 24].cloneNode(true)); })(
        document.querySelector('#events tbody'))""")  # a long table (the copies are not events: below them all)
    for _ in range(20):
        page.keyboard.press("n")
    video, bar, head = _at_the_tables_end(page)
    assert page.evaluate(f"({BOX})('#events tbody tr:last-child')")[1] <= size[1] + 0.5
    assert 0 <= video[1] - 0.5 <= bar[0] and bar[1] <= head[0] + 0.5 and head[1] <= size[1], (video, bar, head)
    hit = """() => { const b = document.activeElement.getBoundingClientRect();
        return document.activeElement.contains(document.elementFromPoint(b.left + b.width / 2, b.top + b.height / 2)); }"""
    page.keyboard.press("p")  # the selected row back in sight
    page.wait_for_timeout(150)
    row = page.evaluate(f"({BOX})('#events tr.current')")
    assert head[1] <= row[0] + 0.5 and row[1] <= size[1] + 0.5, (head, row)
    page.locator("#events tr.current").focus()
    order = []
    for _ in range(3):
        page.keyboard.press("Shift+Tab")
        assert page.evaluate(hit), f"{page.evaluate('document.activeElement.id')} is not on screen or is covered"
        order.append(page.evaluate("document.activeElement.id"))
    assert order == ["only-class", "only-type", "only-face"]
    for _ in range(3):
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('current')")
    again = page.evaluate(f"({BOX})('#events tr.current')")
    assert page.evaluate(hit) and again[0] >= head[1] - 0.5, (again, head)
    assert errors == []


def test_the_id_column_shows_each_events_id_in_events_csv_and_sorts_by_it(table, browser, tmp_path):
    """The table listed events numbered by onset, which was not their number in events.csv: it shows each event's
    event_id (the order events closed, not onset order), names the rows by it, and a click on its head sorts by it."""
    out, events = table
    ids = [(i * 7) % 24 + 1 for i in range(24)]
    summary = {"events": [{**e, "event_id": n} for e, n in zip(events, ids)], "source": "s.mp4", "outputs": {},
               "source_seconds": SECONDS}
    (out / "ids.html").write_text(render_report(out, summary, [], CLASSES, None, [], "ids"), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto((out / "ids.html").as_uri())
    assert page.evaluate(SHOWN) == ids  # in onset order
    assert page.locator("#events tbody tr").nth(1).get_attribute("aria-label").startswith(f"event {ids[1]}: onset")
    page.click("th[data-key=event_id] button")
    assert page.evaluate(SHOWN) == sorted(ids)


def test_each_shading_on_a_timeline_stays_its_events_whatever_order_the_shadings_are_drawn_in(table, browser):
    """The page paired a timeline's shadings with the events by replaying the order Python drew them in (the events'
    order, face by face): drawn in another order, a filter faded and outlined the wrong stretches. Each shading now
    says which event it is (data-i, as the event's row does): here every face's shadings are drawn last to first."""
    out, events = table
    page_text = (out / "report.html").read_text(encoding="utf-8")
    marks = r'(?:<rect class="ev"[^>]*>.*?</rect>)+'
    turned = re.sub(marks, lambda m: "".join(reversed(re.findall(r'<rect class="ev".*?</rect>', m.group(0)))),
                    page_text)
    assert turned != page_text
    (out / "turned.html").write_text(turned, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto((out / "turned.html").as_uri())
    page.get_by_label("face", exact=True).select_option("3")
    page.get_by_label("type", exact=True).select_option("micro")
    want = [i for i, e in enumerate(events) if e["face"] == 3 and e["type"] == "micro"]
    bright = page.evaluate("""Array.from(document.querySelectorAll('svg.timeline rect.ev'))
        .filter(x => !x.classList.contains('out')).map(x => x.querySelector('title').textContent.split(' ').slice(-2)[0])""")
    assert sorted(bright) == sorted(f"{events[i]['onset_s']:.2f}-{events[i]['offset_s']:.2f}" for i in want)


def test_the_list_of_keys_names_the_filters_the_page_shows(table, browser, tmp_path):
    """An interview whose events were all micro-expressions showed no type filter (one value to choose from), but
    the page's keys still said `face, type, class`: a reviewer looked for a type filter that was not there. The line
    names the filters shown, and is left out where there are none."""
    out, events = table
    page, errors = _open(browser, out)
    shown = "Array.from(document.querySelectorAll('#filters select')).filter(s => s.offsetParent).map(s => s.dataset.key)"
    assert page.evaluate(shown) == ["face", "type", "class"]
    assert page.locator("#keys-filters kbd").inner_text() == "face, type, class" and not errors
    page.close()
    rows = [{"time_s": k / FPS, "frame": k, "face_id": f, "x": 0, "y": 0, "w": 20, "h": 20, "motion_score": 1.0,
             **{f"p_{c}": 1 / 3 for c in CLASSES}} for k in range(int(SECONDS * FPS)) for f in (0, 3)]
    for name, evs, want in (("micro", [{**e, "type": "micro"} for e in events], ["face", "class"]),
                            ("none", [], [])):
        summary = {"events": evs, "source_seconds": SECONDS, "outputs": {}}
        d = tmp_path / name
        d.mkdir()
        (d / "report.html").write_text(render_report(d, summary, rows, CLASSES, None, [], name), encoding="utf-8")
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((d / "report.html").as_uri())
        assert page.evaluate(shown) == want
        line = page.locator("#keys-filters")
        if want:
            assert line.is_visible() and line.locator("kbd").inner_text() == ", ".join(want)
        else:
            assert line.is_hidden() and not page.locator("#filters").is_visible()
        page.close()
    assert not errors


def test_paging_a_zoomed_timeline_later_then_earlier_comes_back_to_the_same_page(table, browser):
    """Paged by hand, a zoomed timeline took its next page from the page as shown: the last one, moved back to end at
    the run's end (0:14-0:24 of a 24 s run at 10 s), paged back to 0:04-0:14, not to the 0:10-0:20 it came from, and
    went on off the round times. Pages by hand stay on the span's round times and none goes past either end."""
    out, _ = table
    page, errors = _open(browser, out)
    shown = "document.getElementById('shown').textContent"
    page.select_option("#zoom", "10")
    page.locator("h1").click()
    seen = [page.evaluate(shown)]
    for key in "]]][[[":
        page.keyboard.press(key)
        seen.append(page.evaluate(shown))
    assert seen == ["0:00-0:10 of 0:24", "0:10-0:20 of 0:24", "0:14-0:24 of 0:24", "0:14-0:24 of 0:24",
                    "0:10-0:20 of 0:24", "0:00-0:10 of 0:24", "0:00-0:10 of 0:24"], seen
    page.click("#later")
    page.click("#later")
    page.click("#earlier")
    assert page.evaluate(shown) == "0:10-0:20 of 0:24" and not errors


def _interview(out):
    """A two-person interview's page beside the table's (its video): apex pictures, classes such as 'repression',
    times past a minute."""
    names = ["happiness", "surprise", "disgust", "repression", "others"]
    rng = np.random.default_rng(0)
    ok, jpeg = cv2.imencode(".jpg", rng.integers(0, 255, (85, 96, 3), np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 80])
    picture = "data:image/jpeg;base64," + base64.b64encode(jpeg.tobytes()).decode("ascii")  # as wide as the interview's
    events = []
    for i in range(40):
        t = round(5 + i * 3.6, 2)
        events.append({"face": i % 2, "onset_s": t, "apex_s": t + 0.1, "offset_s": t + 0.27, "onset_frame": round(t * 30),
                       "apex_frame": round(t * 30) + 3, "offset_frame": round(t * 30) + 8, "type": "micro",
                       "class": names[i % 5], "confidence": round(0.4 + (i % 6) / 10, 3), "score": 4.8 + i % 3})
    rows = [{"time_s": k / FPS, "frame": k, "face_id": f, "x": 0, "y": 0, "w": 20, "h": 20, "motion_score": 1.0,
             **{f"p_{c}": 0.2 for c in names}} for k in range(int(150 * FPS)) for f in (0, 1)]
    summary = {"events": events, "source": str(out / "source.mp4"), "source_seconds": 150.0, "outputs": {}}
    video = re.search(r'<source src="([^"]+)"', (out / "report.html").read_text(encoding="utf-8")).group(1)  # the table's
    (out / "interview.html").write_text(render_report(out, summary, rows, names, video, [picture] * 40, "interview"),
                                        encoding="utf-8")
    return out / "interview.html"


def test_at_200_percent_zoom_an_interview_s_table_fits_and_its_header_and_filters_stay_on_screen(table, browser):
    """At 200 % zoom on a 1280x800 laptop (a 640-px window) a two-person interview's table (apex pictures, classes
    such as 'repression', times past a minute) was a few pixels wider than its box: it scrolled sideways in a box of
    its own, and its header and filters scrolled away down the table. The word 'confidence' over '65%' was the
    widest cell: a narrow window heads it 'conf.' (still named confidence), the table fits and both stay in sight."""
    page = browser.new_page(viewport={"width": 640, "height": 400}, device_scale_factor=2)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(_interview(table[0]).as_uri())
    page.wait_for_function("document.getElementById('video').readyState >= 1", timeout=20000)
    assert page.evaluate("document.querySelector('.wide').classList.contains('fits')")
    assert page.get_by_role("columnheader", name="confidence", exact=True).count() == 1  # still named in full
    page.get_by_role("columnheader", name="class", exact=True).get_by_role("button").click()  # its head's arrow too
    assert page.evaluate("(b => b.scrollWidth <= b.clientWidth + 1)(document.querySelector('.wide'))")
    video, bar, head = _at_the_tables_end(page)
    assert 0 <= video[1] - 0.5 <= bar[0] and bar[1] <= head[0] + 0.5 and head[1] <= 400, (video, bar, head)
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    assert errors == []
    page.close()


HEADS = """Array.from(document.querySelectorAll('#events thead th')).filter(h => h.offsetParent)
    .map(h => [h.textContent, (b => b ? b.getBoundingClientRect().height : 0)(h.querySelector('button'))])"""
FITS = """(b => [b.scrollWidth <= b.clientWidth + 1, b.classList.contains('fits')])(document.querySelector('.wide'))"""


@pytest.mark.parametrize("width", [375, 480, 600])
def test_in_a_phone_wide_window_the_table_fits_with_fewer_columns_and_its_header_stays_in_sight(table, browser, width):
    """A phone (375-600 px): the interview's table was 565 px wide and scrolled sideways in its box, its header
    scrolling away down the table. The apex and offset times and the score are left out there (a line says so), the
    rest fits on one line a head, its header and filters stay in sight, and the arrows go through the heads shown."""
    page = browser.new_page(viewport={"width": width, "height": 740})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(_interview(table[0]).as_uri())
    page.wait_for_function("document.getElementById('video').readyState >= 1", timeout=20000)
    heads = page.evaluate(HEADS)
    assert [h for h, _ in heads] == ["ID", "apex", "face", "class", "confidenceconf.", "type", "onset"]
    line = page.evaluate("parseFloat(getComputedStyle(document.body).lineHeight)")
    assert 0 < max(h for _, h in heads) < 1.5 * line, (heads, line)  # each head (its arrow too) on one line
    assert page.evaluate(FITS) == [True, True]
    assert page.get_by_text("A narrow window leaves out the apex and offset times").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    video, bar, head = _at_the_tables_end(page)
    assert 0 <= video[1] - 0.5 <= bar[0] and bar[1] <= head[0] + 0.5 and head[1] <= 740, (video, bar, head)
    page.get_by_role("columnheader", name="class", exact=True).get_by_role("button").click()
    assert page.evaluate(FITS) == [True, True] and max(h for _, h in page.evaluate(HEADS)) < 1.5 * line
    page.keyboard.press("End")  # the last head shown, not the score's (left out)
    assert page.evaluate("document.activeElement.textContent") == "onset"
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.textContent") == "onset"
    assert page.evaluate("getComputedStyle(document.querySelector('.narrow')).display") == "block"
    page.set_viewport_size({"width": 1280, "height": 740})  # a laptop: every column, no such line
    page.evaluate("window.dispatchEvent(new Event('resize'))")
    assert len(page.evaluate(HEADS)) == 10 and not page.get_by_text("A narrow window leaves out").is_visible()
    assert errors == []
    page.close()


def test_at_360_px_the_table_fits_after_every_sort_and_filter(table, browser):
    """A 360-px phone (a 340-px box): the interview's table fitted on load by 2 px too few, and a sort's arrow on the
    face, class or confidence head made it up to 11 px wider than its box (it then scrolled sideways in it, its header
    scrolling away). Under 400 px its text is 13 px: it fits whatever the order and the filters."""
    page = browser.new_page(viewport={"width": 360, "height": 740})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(_interview(table[0]).as_uri())
    seen = {"load": page.evaluate(FITS)}
    buttons = page.locator("#events thead th[data-key] button")
    for k in range(buttons.count()):
        if buttons.nth(k).is_visible():
            for turn in ("up", "down"):
                buttons.nth(k).click()
                seen[f"{buttons.nth(k).text_content()} {turn}"] = page.evaluate(FITS)
    for key in ("face", "type", "class"):
        only = page.get_by_label(key, exact=True)
        for value in page.evaluate(f"Array.from(document.getElementById('only-{key}').options).map(o => o.value)"):
            if only.is_visible():
                only.select_option(value)
                seen[f"{key}={value}"] = page.evaluate(FITS)
        if only.is_visible():
            only.select_option("")
    assert len(seen) > 1 + 2 * 6 + 2 + 5, seen  # the sorts of the 6 heads shown, both faces' and the 5 classes' filters
    assert {k: v for k, v in seen.items() if v != [True, True]} == {}
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    assert errors == []
    page.close()


def test_a_page_without_events_does_not_say_columns_are_left_out(browser, tmp_path):
    """The line under the keys (a narrow window leaves out the apex and offset times and the score) was on a phone's
    page of a run without events too: there are no such columns to leave out. A page with events still has it."""
    rows = [{"time_s": k / FPS, "frame": k, "face_id": 0, "x": 0, "y": 0, "w": 20, "h": 20, "motion_score": 1.0}
            for k in range(30)]
    said = {}
    for name, events in (("none", []), ("some", _events()[:2])):
        summary = {"events": events, "outputs": {}, "source_seconds": 3.0}
        (tmp_path / f"{name}.html").write_text(render_report(tmp_path, summary, rows, [], None, [], name), "utf-8")
        page = browser.new_page(viewport={"width": 375, "height": 740})
        page.goto((tmp_path / f"{name}.html").as_uri())
        said[name] = page.get_by_text("A narrow window leaves out").count() > 0 and \
            page.get_by_text("A narrow window leaves out").is_visible()
        page.close()
    assert said == {"none": False, "some": True}


def test_whether_the_table_fits_its_box_is_judged_again_after_a_filter_or_a_sort(table, browser):
    """fits() (the header kept in sight where the table fits its box, the box scrolling sideways where it does not)
    was judged on load and resize only: the rows a filter leaves, or a sort's arrow on a narrow column's head (a head
    is one line), change the table's width, and the page kept its old answer (a header stuck in a box that scrolls
    sideways, or one that scrolls away from a table that fits)."""
    page = browser.new_page(viewport={"width": 800, "height": 700})  # a narrow window's layout, every column shown
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(_interview(table[0]).as_uri())
    least = """(b => { b.style.width = '1px'; const w = b.scrollWidth; b.style.width = ''; return w; })(
        document.querySelector('.wide'))"""  # the table's least width as it is shown now
    only = page.get_by_label("class", exact=True)

    def box(width: int) -> None:
        page.evaluate(f"document.querySelector('.wide').style.width = '{width}px'; "
                      "window.dispatchEvent(new Event('resize'))")

    only.select_option("others")
    narrow = page.evaluate(least)
    only.select_option("")
    assert page.evaluate(least) > narrow + 1  # 'repression' is wider than 'others'
    only.select_option("others")
    box(narrow)
    assert page.evaluate(FITS) == [True, True]
    only.select_option("")  # every class: wider than its box
    assert page.evaluate(FITS) == [False, False]
    only.select_option("others")
    assert page.evaluate(FITS) == [True, True]
    only.select_option("")
    page.evaluate("document.querySelector('.wide').style.width = ''")  # the sorts' turn
    buttons = page.locator("#events thead th[data-key] button")
    widths = []
    for k in range(buttons.count()):
        buttons.nth(k).click()
        widths.append(page.evaluate(least))
    a, b = widths.index(min(widths)), widths.index(max(widths))
    assert widths[b] > widths[a] + 1, widths  # an arrow on some head widens the table
    buttons.nth(a).click()
    box(widths[a])
    assert page.evaluate(FITS) == [True, True]
    buttons.nth(b).click()
    assert page.evaluate(FITS) == [False, False]
    buttons.nth(a).click()
    assert page.evaluate(FITS) == [True, True]
    assert errors == []
    page.close()


def _at_the_tables_end(page):
    """Scrolled down to the events table's end: the (top, bottom) of the video, the filter bar and the table's head."""
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    page.wait_for_timeout(150)  # the scroll's handlers
    return tuple(page.evaluate(f"({BOX})('{s}')") for s in ("#video", "#filters", "#events thead th"))


def test_the_count_of_events_shown_says_one_event_in_the_singular(browser, tmp_path):
    """The line above the table said '1 of 1 events shown' on the page of a run with one event."""
    rows = [{"time_s": k / FPS, "frame": k, "face_id": 0, "x": 0, "y": 0, "w": 20, "h": 20, "motion_score": 1.0}
            for k in range(30)]
    said = {}
    for n in (1, 2):
        summary = {"events": _events()[:n], "outputs": {}, "source_seconds": 3.0}
        (tmp_path / f"{n}.html").write_text(render_report(tmp_path, summary, rows, [], None, [], str(n)), "utf-8")
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto((tmp_path / f"{n}.html").as_uri())
        said[n] = page.inner_text("#count")
        page.close()
    assert said == {1: "1 of 1 event shown", 2: "2 of 2 events shown"}
