"""report.html: the review page of a run, one self-contained file in the output folder.

The page shows the video (referenced relatively: the annotated or original video when a browser can
play it, else ``review.webm``, a VP9 copy made here: :mod:`mpt_live.review`), the run's facts (model, DEMO MODEL or not,
provider, fps, faces), one timeline per face (class probabilities, motion score, events; a playhead
follows the video, a click seeks it; a long run's curves reduced over the whole run, point by point where zoomed
in) and the events table with a thumbnail of each event's apex, sorted by a click on a column head and
filtered by face, type and class. Clicking an event seeks the video to its onset; ``n``/``j`` and ``p``/``k``
move to the next and previous event of those shown. For keyboard and screen-reader users the events table is an ARIA grid (one tab stop,
the arrows between rows, Enter to select, ``aria-selected`` and a name per row), each timeline a
labelled, focusable slider over the video; the page lists its keys. Without a model (motion only) the
probability band is a strip that says no model ran, and where a face was not in the frame is shaded (where the
video itself had no frames, in another colour).
Everything but the video is inlined (CSS, script, SVG, JPEG thumbnails), nothing is fetched from a
network. The events are also embedded as JSON (``#run-data``), as in summary.json.
"""

from __future__ import annotations

import base64
import bisect
import html
import json
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import quote

import cv2
import numpy as np

from .apexframes import frames_at
from .clocktime import clock, clock_span
from .draw import class_hex
from .errors import InputError, counted, first_line
from .model_trust import failed_fact
from .framefolder import number_frames
from .report_page import CSS, NARROW, PAGE, SCRIPT
from .report_svg import NO_FRAMES_FILL, face_svg
from .results import row_event_ids
from .review import REVIEW, review_video
from .timeline import (NO_FRAMES, NO_MODEL, ONE_WINDOW, absences, as_number, face_ids, frame_gaps, render_timeline,
                       window_times)
from .writers import atomic_path, json_default


FILTER_KEYS = "face, type, class"  # the filters above the events' table, as the page's list of keys names them


def apex_thumbnails(source: Path | None, events: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]],
                    size: int = 96) -> list[str | None]:
    """A JPEG data URI of each event's face at its apex frame (one pass over ``source``, seeking over long
    stretches without an event: an hour-long recording is not decoded again to the end of the run)."""
    out: list[str | None] = [None] * len(events)
    if source is None or not events or not (Path(source).is_file() or Path(source).is_dir()):
        return out
    boxes = apex_boxes(events, rows)
    want: dict[int, list[int]] = {}
    for i, e in enumerate(events):
        want.setdefault(int(e["apex_frame"]), []).append(i)
    if Path(source).is_dir():  # a folder of frames (SAMM-LV, CAS(ME)^3): the apex frame's own image
        try:
            frames = number_frames(Path(source))[0]
        except InputError:
            return out
        for n, idx in want.items():
            img = cv2.imread(str(frames[n])) if 0 <= n < len(frames) else None
            for i in idx:
                out[i] = _thumb(img, boxes[i], size) if img is not None else None
        return out
    when = {n: as_number(events[idx[0]].get("apex_s")) for n, idx in want.items()}  # each seek checked by the time
    for n, img in frames_at(Path(source), when):
        for i in want[n]:
            out[i] = _thumb(img, boxes[i], size)
    return out


def apex_boxes(events: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]]
                ) -> list[tuple[int, int, int, int] | None]:
    """Each event's face box in that face's row nearest to the apex: the rows are grouped by face and
    sorted once, then bisected (an hour of two faces: 100k rows, hundreds of events)."""
    by_face: dict[float, list[tuple[float, Mapping[str, Any]]]] = {}
    for r in rows:
        f, t = as_number(r.get("face_id")), as_number(r.get("time_s"))
        if np.isfinite(f) and np.isfinite(t) and np.isfinite(as_number(r.get("x"))):
            by_face.setdefault(f, []).append((t, r))
    times = {f: [t for t, _ in v] for f, v in by_face.items() if not v.sort(key=lambda p: p[0])}
    boxes: list[tuple[int, int, int, int] | None] = []
    for e in events:
        f, apex = as_number(e.get("face")), float(e["apex_s"])
        near = by_face.get(f, [])
        k = bisect.bisect_left(times.get(f, []), apex)
        best = min((j for j in (k - 1, k) if 0 <= j < len(near)), key=lambda j: abs(near[j][0] - apex), default=None)
        boxes.append(None if best is None else tuple(int(as_number(near[best][1][c])) for c in ("x", "y", "w", "h")))
    return boxes


def _thumb(img: np.ndarray, box: tuple[int, int, int, int] | None, size: int) -> str:
    h, w = img.shape[:2]
    if box is not None:
        x, y, bw, bh = box
        m = int(0.25 * max(bw, bh))
        img = img[max(y - m, 0):min(y + bh + m, h), max(x - m, 0):min(x + bw + m, w)]
    s = size / max(img.shape[:2])
    img = cv2.resize(img, (max(1, round(img.shape[1] * s)), max(1, round(img.shape[0] * s))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def _face_img(uri: str | None, face: int) -> str:
    return f'<img class="who" src="{uri}" alt="face {face}">' if uri else ""


def _face_note(rows: Sequence[Mapping[str, Any]], info: Mapping[str, Any] | None,
               no_frames: Sequence[tuple[float, float]] = ()) -> str:
    """When a face was seen, how long and when it was not seen in between (out of the frame, or not tracked: turned
    away, covered; as its timeline shades it; not where the video had no frames) and, where its timeline has nothing
    to draw, why (a face seen for a few frames at the end of a video, one too small to analyse)."""
    t = [v for v in (as_number(r.get("time_s")) for r in rows) if np.isfinite(v)]
    if not t:
        return ""
    info = info or {}
    n = info.get("frames")
    note = f"seen {clock_span(min(t), max(t))}" + (f", {counted(n, 'frame')}" if n else "")
    away = absences(np.array(t), min(t), max(t), no_frames)
    if away:  # a reviewer reads "seen 0:00-2:30" as always there: say it was not, for how long, and when
        spans = [clock_span(a, b) for a, b in away]
        times = "once" if len(away) == 1 else "twice" if len(away) == 2 else f"{len(away)} times"
        where = ", ".join(spans) if len(away) <= 3 else "the longest " + spans[max(
            range(len(away)), key=lambda k: away[k][1] - away[k][0])]
        note += f", not seen {clock(sum(b - a for a, b in away))} of it ({times}: {where})"
    drawn = window_times(rows)
    if len(drawn) == 1:  # a line of one point: the timeline looked blank
        note += ": " + ONE_WINDOW.format(clock(drawn[0]))
    if not drawn:
        small = float(info.get("too_small") or 0.0)
        note += (": nothing to draw, too small to analyse in {:.0%} of its frames".format(small) if small >= 0.5
                 else ": nothing to draw, too short for a whole window")
    return f'<span class="seen">{html.escape(note)}</span>'


def face_views(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per face, the row where its box is largest (its clearest view), as an event-like record for
    :func:`apex_thumbnails`: the picture beside its timeline tells a reviewer who face N is."""
    best: dict[int, Mapping[str, Any]] = {}
    for r in rows:
        f, w = as_number(r.get("face_id")), as_number(r.get("w"))
        if np.isfinite(f) and np.isfinite(w) and np.isfinite(as_number(r.get("frame"))) and (
                int(f) not in best or w > as_number(best[int(f)].get("w"))):
            best[int(f)] = r
    return [{"face": f, "apex_s": as_number(r.get("time_s")), "apex_frame": int(as_number(r.get("frame")))}
            for f, r in sorted(best.items())]


def render_report(out: Path, summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], classes: Sequence[str],
                  video: str | None, thumbs: Sequence[str | None], title: str,
                  faces: Mapping[int, str | None] | None = None,
                  no_frames: Sequence[tuple[float, float]] | None = None) -> str:
    """The page as a string (:func:`write_report` writes it). ``no_frames``: where the video had no frames
    (:func:`~mpt_live.timeline.frame_gaps`, as the run's timeline.png has them; None: found here)."""
    events = list(summary.get("events", []))
    times = [t for t in (as_number(r.get("time_s")) for r in rows) if np.isfinite(t)]
    duration = max([float(summary.get("source_seconds") or 0.0)] + times)
    model = summary.get("model") or {}
    status = summary.get("status") or "complete"
    facts = [("status", status), ("source", Path(str(summary.get("source", ""))).name),
             ("model", (model.get("name") or "none (motion only)")   # and a model that failed mpt-export's check
              + (" (its parity check FAILED at export)" if failed_fact(model.get("parity")) else "")),
             ("demo model", "yes: not a validated micro-expression classifier" if model.get("demo") else "no"),
             ("trained on", model.get("data_kind")),  # 'semi-synthetic (mpt-synth)': not a dataset's own clips
             ("provider", summary.get("provider") or "none"), ("source fps", summary.get("source_fps")),
             ("processed at", f"{summary['fps']} frames/s" if summary.get("fps") is not None else None),
             ("frames", summary.get("frames_read")),
             ("windows", summary.get("windows")), ("faces", len(summary.get("faces", []))),
             ("events", len(events)), ("max faces", summary.get("max_faces")),
             ("spotting", f"threshold {summary.get('spot_threshold')}, a window every {summary.get('stride')} frames"),
             ("video shown", video or "none")]
    facts = [(k, v) for k, v in facts if v is not None]  # a fact the run did not know (a killed run's speed) is left out
    e = html.escape
    notes = [*(summary.get("problems") or []), *(summary.get("warnings") or [])]
    if status != "complete":  # said once, in the alert (the problem "interrupted (SIGINT): ..." would repeat it)
        notes = [n for n in notes if not str(n).startswith(f"{status} (")]
        stop = summary.get("stopped_by") or summary.get("error") or summary.get("source_error") or ""
        notes.insert(0, f"This run is {status}{f' ({stop})' if stop else ''}: its timelines and events end at "
                        f"{clock(max(times, default=0.0))} of the video.")
    banner = "".join(f'<p class="{"alert" if status != "complete" and k == 0 else "note"}">{e(str(n))}</p>'
                     for k, n in enumerate(notes))
    fact_rows = "".join(f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>" for k, v in facts)
    ids = face_ids(rows)
    faces = faces or {}
    info = {int(as_number(v.get("face_id"))): v for v in summary.get("faces") or [] if isinstance(v, Mapping)}
    per_face = {f: [r for r in rows if as_number(r.get("face_id")) == f] for f in ids}
    if no_frames is None:  # where the video had no frames: every face's timeline shows them, none as an absence
        no_frames = run_gaps(summary, rows)
    begin = run_begin(summary, times, no_frames)  # the axes begin where the run did, as timeline.png's
    timelines = "".join(
        f'<section class="face"><h3>{_face_img(faces.get(f), f)}face {f} {_face_note(per_face[f], info.get(f), no_frames)}</h3>'
        + face_svg(f, per_face[f],
                    [(i, ev) for i, ev in enumerate(events) if int(ev["face"]) == f], classes, duration,
                    float(summary.get("start_s") or 0.0), no_frames, begin) + "</section>"
        for f in ids) or "<p>No face was found.</p>"
    legend = "".join(f'<span><i style="background:{class_hex(k)}"></i>{e(c)}</span>' for k, c in enumerate(classes)) or (
        f'<span><i style="background:#ececea;height:10px;outline:1px solid #bbb"></i>{NO_MODEL}: no class probabilities</span>')
    if no_frames:  # said where it occurs: a stretch of the video, not of a face
        legend += f'<span><i style="background:{NO_FRAMES_FILL};height:10px;outline:1px solid #bbb"></i>{NO_FRAMES}</span>'
    # the curves run through every window, a movement in it or not: a class read off them between events is noise
    reading = ('<p class="reading">The curves are the model\'s class probabilities for every window, movement or '
               "not: read a class only in an event (shaded), whose class is that of the window centred on its apex; "
               "between events the faces are neutral (predictions.csv's top).</p>") if classes else ""
    body = []
    # each named by its ID in events.csv; events without one (a summary made by hand) numbered as events.csv's rows are
    for i, (ev, n) in enumerate(zip(events, (int(r["event_id"]) for r in row_event_ids(events)))):
        img = f'<img src="{thumbs[i]}" alt="apex of event {n}">' if i < len(thumbs) and thumbs[i] else ""
        conf = "" if ev.get("confidence") is None else f"{float(ev['confidence']):.0%}"
        # a grid row: one tab stop for the table (the selected row), its name read out in full
        on = float(ev["onset_s"])
        name = (f"event {n}: onset {clock(on)}, class {ev.get('class') or 'none'}, "
                f"{ev['type']}, face {int(ev['face'])}")
        body.append(f'<tr data-onset="{float(ev["onset_s"]):.4f}" data-face="{int(ev["face"])}" data-id="{n}" data-i="{i}" '
                    f'tabindex="{0 if i == 0 else -1}" aria-selected="false" aria-label="{e(name)}">'
                    f"<td>{n}</td><td>{img}</td><td>{int(ev['face'])}</td><td>{e(str(ev.get('class') or '-'))}</td>"
                    f"<td>{conf}</td><td>{e(ev['type'])}</td><td>{clock(float(ev['onset_s']), False)}</td>"
                    f"<td>{clock(float(ev['apex_s']), False)}</td><td>{clock(float(ev['offset_s']), False)}</td>"
                    f"<td>{float(ev['score']):.1f}</td></tr>")
    # a relative URL first ("Interview #3.mp4" must not end at its "#", nor "50%" read as an escape), then the
    # file where it was when the page was made: a run folder copied elsewhere still finds its video
    if video:
        where = (out / video).resolve()
        video_html = (f'<video id="video" controls preload="auto"><source src="{e(quote(video))}">'
                      f'<source src="{e(where.as_uri())}"></video><p id="video-missing" class="alert" hidden>The '
                      f'video is neither at {e(video)} beside this page nor at {e(str(where))}.</p>')
    else:
        why = ("the source is a folder of frames; mpt-live --save-video writes annotated.mp4, which this page then shows"
               if summary.get("source") and Path(str(summary["source"])).is_dir() else "a browser plays neither the source nor a copy of it")
        video_html = f'<p id="video" class="note">No video to show: {e(why)}.</p>'
    keys = [("click, or Enter / Space on a row", "select the event" + (" and see it from its onset" if video else "")),
            ("n / j, p / k", "next, previous event of those shown"),
            ("\u2191 / \u2193, Home / End", "move between the events' rows (\u2191 from the first: the column heads)"),
            ("a column head (\u2190 / \u2192 between them)", "sort the events by it; again: the other way"),
            (FILTER_KEYS, "show only the events that match"),
            ("Tab", "the timelines, the filters, then the events' table")]
    if video:
        keys.append(("\u2190 / \u2192, Page Up / Page Down, Home / End on a timeline",
                     "move the video 1 s, 10 s, to its start or end; a click on a timeline seeks there too"))
    keys.append(("[ / ]", "earlier, later part of a zoomed timeline"))
    # the filters' line names those the page shows (a filter with one value to choose from is hidden: all micro)
    keys = "".join(f'<li{" id=keys-filters" if k == FILTER_KEYS else ""}><kbd>{e(k)}</kbd>: {e(v)}</li>'
                   for k, v in keys)
    data = json.dumps({"events": events}, default=json_default).replace("</", "<\\/")
    demo = '<span class="demo">DEMO MODEL</span>' if model.get("demo") else ""
    return PAGE.format(title=e(title), demo=demo, banner=banner, keys=keys, video=video_html, facts=fact_rows,
                       legend=legend, reading=reading, timelines=timelines, narrow=NARROW if events else "",
                       rows="".join(body) or '<tr><td colspan="10">No events.</td></tr>', data=data, css=CSS, js=SCRIPT)


def run_gaps(summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> list[tuple[float, float]]:
    """Where the video of a run (its ``summary`` and predictions.csv ``rows``) had no frames
    (:func:`~mpt_live.timeline.frame_gaps`), a file's from where the run began reading (its ``--start``, else 0; a
    live source's times begin at its first frame read, whenever the camera began)."""
    if summary.get("mode") != "file":
        return frame_gaps(rows)
    start = as_number(summary.get("start_s"))
    return frame_gaps(rows, start if np.isfinite(start) and start > 0 else 0.0)


def run_begin(summary: Mapping[str, Any], times: Sequence[float], no_frames: Sequence[tuple[float, float]]) -> float:
    """Where the page's timelines begin: where the run began reading (a file's ``--start``, a resumed run's first
    part's; else 0), its first row or the first stretch without frames where earlier (a live source's times begin at
    its first frame read). A stretch from 20:00 is not squeezed into the end of an axis from 0."""
    begun = []
    if summary.get("mode", "file") == "file":
        start = as_number(summary.get("start_s"))
        begun.append(start if np.isfinite(start) and start > 0 else 0.0)
    return float(min(begun + [min(times, default=0.0)] + [a for a, _ in no_frames[:1]]))


def write_report(out: Path, summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], classes: Sequence[str],
                 source: Path | None, title: str, no_frames: Sequence[tuple[float, float]] | None = None) -> str | None:
    """Write ``out/report.html`` (atomically): the video chosen or made, thumbnails read from ``source``; returns
    the page's video (relative to ``out``; None: none). ``no_frames``: as :func:`render_report` takes them."""
    annotated = out / summary["outputs"]["video"] if (summary.get("outputs") or {}).get("video") else None
    # the original first: the annotated copy's panel can cover a face; an interrupted run's copy only as far
    # as it went (a stop signal must not wait for an hour-long transcode)
    frames = None if summary.get("status", "complete") == "complete" else int(summary.get("frames_read") or 0) + 1
    made = (summary.get("outputs") or {}).get("review")  # the run's own copy, made as it read the video
    video = made if made and (out / made).is_file() else review_video(out, [source, annotated], frames)
    events, views = list(summary.get("events", [])), face_views(rows)
    pictures = apex_thumbnails(source, events + views, rows)  # one pass over the video for both
    faces = {v["face"]: pic for v, pic in zip(views, pictures[len(events):])}
    page = render_report(out, summary, rows, classes, video, pictures[:len(events)], title, faces, no_frames)
    with atomic_path(out / "report.html") as tmp:
        tmp.write_text(page, encoding="utf-8")
    return video


def run_title(source: str, model_label: str) -> str:
    """The plot's and the page's title: the source's file name (a URL whole) and the model."""
    short = source if "://" in source else Path(source).name
    return f"{short} · {model_label}"


def write_plot_and_page(out: Path, summary: dict[str, Any], rows: Sequence[Mapping[str, Any]], classes: Sequence[str],
                        source: Path | None, title: str, demo: bool, until: float | None = None) -> None:
    """timeline.png and report.html of a run folder (a finished run's, or a killed one's from its files): each named
    in ``summary["outputs"]`` when written; a failure is kept in the summary (``timeline_error``/``report_error``,
    ``outputs["errors"]``), never raised: the plot must not cost the page, nor either the CSVs or the summary."""
    outputs = summary["outputs"]
    no_frames = run_gaps(summary, rows)  # found once: the plot and the page show the same stretches
    try:
        render_timeline(rows, classes, summary["events"], out / "timeline.png", title=title, demo=demo, until=until,
                        no_frames=no_frames)
        outputs["timeline"] = "timeline.png"
    except Exception as e:
        summary["timeline_error"] = f"{type(e).__name__}: {e}"
        outputs["errors"]["timeline.png"] = first_line(e)
    try:
        video = write_report(out, summary, rows, classes, source, title, no_frames)
        outputs["report"] = "report.html"
        if video == REVIEW and not outputs.get("review"):  # the copy made for the page (--finish, a copy the run
            outputs["review"] = REVIEW                     # did not make as it read): named as the run's own are
    except Exception as e:
        summary["report_error"] = f"{type(e).__name__}: {e}"
        outputs["errors"]["report.html"] = first_line(e)
