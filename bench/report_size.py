"""report.html of a long run: how large the page is, and what makes it so (bytes; times only with --browser).

A run of ``--minutes`` (default 90) of two faces, a window every 2 frames at 30 fps (15 rows a second a face, the
demo model's 5 classes) and ``--events`` events (default 1635) spread evenly over it, each with a real apex picture
(a 96 px JPEG of one of 20 moments of liveportrait_d3_expressive, as tests/test_report_long.py makes them); the page
shows that video, copied beside it, as a run's page shows its own (its timelines are then sliders over it). Printed:
the page's size, the same page without its events (timelines, facts, scripts), the inlined pictures' share and
the bytes an event adds. ``--browser``: the page opened in headless chromium (playwright, /usr/bin/chromium), the
seconds to load it, for a first arrow key on a timeline (the video moved 1 s by its handler), to zoom the timelines to a minute and page on, to sort
its table by a column and to filter it by face: timed figures, for an idle machine.

    python bench/report_size.py [--minutes 90] [--events 1635] [--faces ../shared/data/faces] [--browser]
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.append(str(Path(__file__).resolve().parent))  # bench/shared_faces.py, after the installed packages
from shared_faces import faces_folder  # noqa: E402

from mpt_live.machine import vector_extensions  # noqa: E402
from mpt_live.report import apex_thumbnails, render_report  # noqa: E402

FACES = faces_folder()
CLASSES = ["happiness", "surprise", "disgust", "repression", "others"]
RATE = 15.0  # windows a second a face: one every 2 frames at 30 fps
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def rows(seconds: float) -> list[dict]:
    """Two faces' prediction rows over ``seconds``, their probabilities drifting slowly."""
    t, out = np.arange(0.0, seconds, 1 / RATE), []
    for f in (0, 1):
        p = np.stack([0.2 + 0.1 * np.sin(t / (5.0 + 2 * c + f)) for c in range(len(CLASSES))], axis=1)
        p /= p.sum(axis=1, keepdims=True)
        for k, tk in enumerate(t):
            out.append({"time_s": round(float(tk), 4), "frame": 2 * k, "face_id": f, "x": 100 + 300 * f, "y": 100,
                        "w": 200, "h": 200, "motion_score": round(1 + (k % 50) / 10, 4),
                        **{f"p_{c}": round(float(p[k, i]), 4) for i, c in enumerate(CLASSES)}})
    return out


def events(seconds: float, n: int) -> list[dict]:
    """``n`` events spread evenly from 1 s to 4 s before the end (a run of at least 5 s)."""
    out = []
    for i in range(n):
        t = round(1 + (seconds - 5) * i / max(n, 1), 4)
        out.append({"event_id": i + 1, "face": i % 2, "onset_s": t, "apex_s": round(t + 0.15, 4),
                    "offset_s": round(t + 0.35, 4), "onset_frame": int(t * 30), "apex_frame": int(t * 30) + 4,
                    "offset_frame": int(t * 30) + 10, "type": "micro", "class": CLASSES[i % len(CLASSES)],
                    "confidence": round(0.5 + 0.4 * ((i * 7) % 10) / 10, 2), "score": 6.0})
    return out


def pictures(video: Path, n: int) -> list[str]:
    """``n`` apex pictures: 20 real moments of ``video``, repeated."""
    views = [{"face": 0, "apex_s": j / 3, "apex_frame": 10 * j} for j in range(20)]
    boxes = [{"time_s": j / 3, "face_id": 0, "x": 100, "y": 180, "w": 320, "h": 320} for j in range(20)]
    made = apex_thumbnails(video, views, boxes)
    if not all(made):
        raise SystemExit(f"error: {video}: no picture at some of its first 20 moments")
    return [made[i % 20] for i in range(n)]


DRAWN = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"  # after the next paint


KEYED = "() => [document.getElementById('video').currentTime, document.querySelector('svg.timeline').getAttribute('role')]"


def browse(page_path: Path) -> tuple[list[float], float]:
    """Seconds (headless chromium), each until the page has painted after it: to load the page, a first arrow key on
    the first timeline (a slider over the page's video), the timelines zoomed to a minute, paged on with ``]``, the
    table sorted by confidence and filtered to face 1; and the video's time after the arrow key (1 s: the key moved
    it; refused if the key moved nothing, the step then timing no handler)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = b.new_page(viewport={"width": 1280, "height": 800})
        steps = [lambda: page.goto(page_path.as_uri(), wait_until="load", timeout=300000),
                 lambda: (page.focus("svg.timeline"), page.keyboard.press("ArrowRight")),
                 lambda: page.select_option("#zoom", "60"),
                 lambda: page.keyboard.press("]"),
                 lambda: page.get_by_role("columnheader", name="confidence").get_by_role("button").click(),
                 lambda: page.get_by_label("face", exact=True).select_option("1")]
        took, moved = [], None
        for k, step in enumerate(steps):
            t0 = time.perf_counter()
            step()
            page.evaluate(DRAWN)
            took.append(time.perf_counter() - t0)
            if k == 1:
                moved, role = page.evaluate(KEYED)
        b.close()
    if role != "slider" or not moved > 0:
        raise SystemExit(f"error: {page_path}: the arrow key on a timeline moved nothing (its role {role}, the "
                         f"video at {moved} s): the step timed no handler")
    return took, moved


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=90.0)
    ap.add_argument("--events", type=int, default=1635)
    ap.add_argument("--faces", type=Path, default=FACES)
    ap.add_argument("--browser", action="store_true", help="also time loading, sorting and filtering in chromium")
    a = ap.parse_args(argv)
    video = a.faces / "videos" / "liveportrait_d3_expressive.mp4"
    if not a.minutes > 0 or a.events < 1:
        ap.error(f"--minutes {a.minutes} --events {a.events}: give a length above 0 and at least one event")
    if not video.is_file():
        ap.error(f"{video}: no such face video (give --faces)")
    if a.browser and not a.minutes > 1:
        ap.error(f"--browser --minutes {a.minutes}: give a run over a minute (its timelines are zoomed to one)")
    if a.browser and not Path(CHROMIUM).is_file():
        ap.error(f"--browser: no chromium at {CHROMIUM}")
    if a.browser and importlib.util.find_spec("playwright") is None:
        ap.error("--browser: playwright is not installed (pip install playwright)")
    if 60.0 * a.minutes < 5:
        ap.error(f"--minutes {a.minutes}: give a run of at least 5 s (its events are spread from 1 s to 4 s before "
                 f"its end)")
    print(f"CPU vector extensions: {vector_extensions()}", flush=True)
    seconds = 60.0 * a.minutes
    rs, evs = rows(seconds), events(seconds, a.events)
    pics = pictures(video, a.events)
    summary = {"events": evs, "source": "interview.mp4", "source_seconds": seconds, "outputs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        shutil.copyfile(video, out / video.name)  # beside the page, as a run's page references its video
        page = render_report(out, summary, rs, CLASSES, video.name, pics, "a long run").encode()
        bare = render_report(out, {**summary, "events": []}, rs, CLASSES, video.name, [], "a long run").encode()
        pic = sum(len(p.encode()) for p in pics)
        mb = 1e6
        print(f"{a.minutes:g} min, 2 faces, {len(rs)} windows, {a.events} events: page {len(page) / mb:.2f} MB; "
              f"without its events {len(bare) / mb:.2f} MB; pictures {pic / mb:.2f} MB ({pic / a.events / 1e3:.1f} KB "
              f"each); {(len(page) - len(bare)) / a.events:.0f} bytes an event")
        if a.browser:
            (out / "report.html").write_bytes(page)
            (load, key, zoom, paged, sort, filt), moved = browse(out / "report.html")
            print(f"chromium (headless, timed): loaded in {load:.2f} s; first arrow key on a timeline {key:.2f} s "
                  f"(the video moved to {moved:.2f} s); "
                  f"zoomed to a minute {zoom:.2f} s, paged on {paged:.2f} s; sorted by confidence {sort:.2f} s; "
                  f"filtered to face 1 {filt:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
