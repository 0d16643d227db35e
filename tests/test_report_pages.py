"""report.html of real runs in a real browser (Debian's chromium through playwright): a run with no event, a
face lost for most of the video, two people side by side with --max-faces 2. Each page, on laptop screens
(1280x720 to 1440x900), a desktop one (1920x1080) and a narrow window (800 px): no console error, nothing asked of
a network, its main blocks apart and within the screen's width; scrolled to a busy run's events, the video and a
screenful of rows."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from mpt_live.cli import app
from mpt_live.runtime import demo_model_path

from tinymodel import tiny_onnx

SCREENS = [(1280, 800), (1920, 1080)]
LAPTOPS = [(1280, 720), (1280, 800), (1366, 768), (1440, 900), (1920, 1080), (800, 900)]
BLOCKS = """() => Array.from(document.querySelectorAll(
    'h1, h2, body > p, .top > div, .zoom, .legend, section.face h3, svg.timeline, .keys, #filters:not([hidden]), #events'))
    .map(e => { const b = e.getBoundingClientRect();
      return [e.tagName.toLowerCase() + '.' + (e.className.baseVal ?? e.className), b.left, b.top, b.right, b.bottom]; })"""


@pytest.fixture(scope="module")
def pages(faces_dir, tmp_path_factory):
    """The three runs, through the command line as a user makes them (the demo model, or a tiny one)."""
    from train.compose import side_by_side

    tmp = tmp_path_factory.mktemp("pages")
    model = demo_model_path() if demo_model_path().is_file() else tiny_onnx(tmp / "tiny.onnx")
    videos = faces_dir / "videos"
    two = tmp / "two.mp4"
    side_by_side([videos / "paddlegan_fom_dv.mp4", videos / "liveportrait_d6.mp4"], two, 4.0)
    runs = {"no event": [videos / "evm_face_still.mp4", "--motion-only", "--spot-threshold", "1000"],
            "face lost": [videos / "pyfeat_face_noface.mov", "--model", model],
            "two faces": [two, "--model", model, "--max-faces", "2"]}
    out = {}
    for name, (video, *args) in runs.items():
        d = tmp / name.replace(" ", "_")
        res = CliRunner().invoke(app, ["--video", str(video), "--out", str(d), "--device", "cpu", *map(str, args)])
        assert res.exit_code == 0, res.output
        out[name] = d
    return out


def _open(browser, path, size):
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    errors, fetched = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: fetched.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
    page.goto((path / "report.html").as_uri())
    page.wait_for_function("(v => v.tagName !== 'VIDEO' || v.readyState >= 1)(document.getElementById('video'))",
                           timeout=20000)
    return page, errors, fetched


def _settled(page):
    """Wait until a row is selected and the page holds still: the selected row, the scroll and the part kept on top
    (which shrinks on the scroll's handler) the same in two animation frames running."""
    page.wait_for_function("""() => { const r = document.querySelector('#events tr.current');
        const now = r && [r.getBoundingClientRect().bottom, scrollY, document.body.className].join();
        const same = now && now === window.__held; window.__held = now; return same; }""", polling="raf")


@pytest.mark.parametrize("size", LAPTOPS, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", ["no event", "face lost", "two faces"])
def test_real_run_pages_are_whole_on_laptop_and_desktop_screens(pages, browser, name, size):
    page, errors, fetched = _open(browser, pages[name], size)
    boxes = page.evaluate(BLOCKS)
    for i, a in enumerate(boxes):
        assert a[3] - a[1] > 0 and a[3] <= size[0] + 0.5, f"{a[0]} is empty or wider than the screen: {a}"
        for b in boxes[i + 1:]:
            apart = a[3] <= b[1] + 0.5 or b[3] <= a[1] + 0.5 or a[4] <= b[2] + 0.5 or b[4] <= a[2] + 0.5
            assert apart, f"{a[0]} overlaps {b[0]}: {a}, {b}"
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    summary = json.loads((pages[name] / "summary.json").read_text())
    timelines = page.locator("svg.timeline")
    assert timelines.count() == len(summary["faces"]) >= (2 if name == "two faces" else 1)
    named = []
    for k in range(timelines.count()):  # each reachable and named
        assert timelines.nth(k).get_attribute("tabindex") == "0"
        named.append(timelines.nth(k).get_attribute("aria-label").split(" timeline")[0])
    assert sorted(named) == sorted(f"face {f['face_id']}" for f in summary["faces"])
    assert errors == [] and fetched == []


def test_no_event_page_says_so_and_tab_goes_through(pages, browser):
    page, errors, _ = _open(browser, pages["no event"], SCREENS[0])
    assert page.inner_text("#events tbody") == "No events."
    assert page.evaluate("document.querySelectorAll('#events [tabindex]').length") == 0  # no dead tab stop
    assert "no model ran" in page.inner_text(".legend")
    assert errors == []


def test_a_face_lost_for_most_of_the_video_is_shaded_where_it_was_not_in_the_frame(pages, browser):
    """pyfeat_face_noface.mov: a face for ~2.3 s, then a cartoon without one for ~4 s. The page's timeline was
    blank white after the face left, as if it had been in the frame with nothing to show; the stretch is now
    shaded and named, on the page as in timeline.png."""
    page, errors, _ = _open(browser, pages["face lost"], SCREENS[0])
    summary = json.loads((pages["face lost"] / "summary.json").read_text())
    first = min(summary["faces"], key=lambda f: f["face_id"])
    svg = page.locator(f"svg.timeline[data-face='{first['face_id']}']")
    shaded = svg.evaluate("""s => { const plot = s.querySelector('rect[stroke]').getBoundingClientRect().width;
        return Array.from(s.querySelectorAll('rect.absent')).reduce((w, r) => w + r.getBoundingClientRect().width, 0)
        / plot; }""")
    assert 0.5 < shaded < 1, shaded  # more than half the run without this face
    assert "not in the frame for" in svg.get_attribute("aria-label")
    assert errors == []



@pytest.fixture(scope="module")
def busy(pages, tmp_path_factory):
    """The two faces' run with 40 events spread over its 4 s (a reviewer's page of a busy interview): its page
    made again from its own rows and video, as the run writes it."""
    from mpt_live.report import write_report
    from mpt_live.results import read_table

    d = tmp_path_factory.mktemp("busy") / "two_faces"
    shutil.copytree(pages["two faces"], d)
    summary = json.loads((d / "summary.json").read_text())
    rows = read_table(d / "predictions.csv")[1]
    fps, end = float(summary["source_fps"]), max(float(r["time_s"]) for r in rows)
    summary["events"] = [{"face": k % 2, "onset_s": t, "apex_s": t + 0.1, "offset_s": t + 0.2, "onset_frame": round(t * fps),
                          "apex_frame": round((t + 0.1) * fps), "offset_frame": round((t + 0.2) * fps), "type": "micro",
                          "class": "others", "confidence": 0.5, "score": 5.0}
                         for k, t in enumerate(0.1 + (end - 0.4) * k / 40 for k in range(40))]
    classes = [k[2:] for k in rows[0] if k.startswith("p_")]
    write_report(d, summary, rows, classes, pages["two faces"].parent / "two.mp4", "two faces, 40 events")
    return d


@pytest.mark.parametrize("size", LAPTOPS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_scrolled_to_the_events_a_laptop_shows_the_video_and_a_screenful_of_rows(busy, browser, size):
    """At 1280x800 the video and the run's facts kept on top took 366 of the 800 px once the page was scrolled to
    the events, which showed five rows (four at 1280x720), the facts cut off in their own scroll box: the part kept
    on top now shrinks once the page is scrolled, the facts are set closer, the apex pictures smaller; the video
    stays large enough to watch a face in."""
    page, errors, _ = _open(browser, busy, size)
    facts = "(d => d.scrollHeight <= d.clientHeight + 1)(document.querySelector('table.facts').parentElement)"
    if size[0] > 900 and size[1] >= 768:
        assert page.evaluate(facts), "the run's facts do not show whole above the fold"
    for _ in range(20):
        page.keyboard.press("n")  # down the table: the page scrolled to its middle, under the video
    _settled(page)
    seen = page.evaluate("""() => {
        const v = document.getElementById('video').getBoundingClientRect(), head = document.querySelector('#events thead th')
            .getBoundingClientRect(), top = Math.max(v.bottom, getComputedStyle(document.querySelector('#events thead th'))
            .position === 'sticky' ? head.bottom : 0);
        const rows = Array.from(document.querySelectorAll('#events tbody tr')).map(r => r.getBoundingClientRect())
            .filter(b => b.top >= top - 0.5 && b.bottom <= innerHeight + 0.5);
        return {video: [v.top, v.bottom, v.height], rows: rows.length,
                wide: document.documentElement.scrollWidth <= document.documentElement.clientWidth}; }""")
    assert seen["video"][0] >= -0.5 and seen["video"][2] >= 200, seen
    assert seen["rows"] >= 7, seen
    assert seen["wide"], seen
    row = page.evaluate("(b => [b.top, b.bottom])(document.querySelector('#events tr.current').getBoundingClientRect())")
    assert row[0] >= seen["video"][1] - 0.5 and row[1] <= size[1] + 0.5, (row, seen)  # the selected row in sight
    assert errors == []


@pytest.mark.parametrize("size", [(800, 900), (700, 800)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_in_a_narrow_window_the_events_header_stays_under_the_video(busy, browser, size):
    """In a window of 900 px or less the events' header scrolled away under the video with the first rows (the
    table sits in a box of its own that scrolls sideways, in which a header cannot stay on the page's screen): where
    the table fits the window it now stays in sight under the video, as on wider screens."""
    page, errors, _ = _open(browser, busy, size)
    for _ in range(20):
        page.keyboard.press("n")
    _settled(page)
    video, head, row = page.evaluate("""['#video', '#events thead th', '#events tr.current']
        .map(s => (b => [b.top, b.bottom])(document.querySelector(s).getBoundingClientRect()))""")
    assert head[0] >= video[1] - 0.5 and head[1] <= size[1], (video, head)
    assert row[0] >= head[1] - 0.5 and row[1] <= size[1] + 0.5, (row, head)  # the selected row not under it
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    assert errors == []
