"""A batch's ``OUT/index.html`` (:mod:`mpt_live.overview` writes it with the batch's tables): a table of its videos,
sortable by each column head, each video linking to its report.html; the page's style sheet and script inlined (it
is read from disk, nothing fetched). Only the standard library: it is rendered between videos."""

from __future__ import annotations

import html
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from .errors import counted

SHOWN = [("video", "video"), ("status", "status"), ("duration_s", "duration s"), ("frames", "frames"),
         ("face_share", "face %"), ("faces", "faces"), ("windows_classified", "windows classified"),
         ("micro_events", "micro"), ("macro_events", "macro"), ("events_per_min", "events / min")]

CSS = """body{margin:0;padding:16px 20px;font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;background:#f5f5f2;
color:#222}h1{font-size:18px;margin:0 0 8px}table{border-collapse:collapse;background:#fff}th,td{padding:4px 8px;
border-bottom:1px solid #e4e4e0;text-align:left}th{cursor:pointer;user-select:none;vertical-align:bottom;white-space:nowrap}
th.words{white-space:normal}.wide{max-width:100%;overflow-x:auto}
th button{font:inherit;font-weight:600;color:inherit;background:none;border:0;padding:0;cursor:pointer;text-align:left}
:focus-visible{outline:3px solid #1a5fb4;outline-offset:2px}td:first-child{min-width:14em}td.n{text-align:right}
th[aria-sort=ascending] button::after{content:" \\25B2"}th[aria-sort=descending] button::after{content:" \\25BC"}
tr.failed td{background:#fbe3e1;color:#8a1c12}
tr.incomplete td{background:#fdf3d8}.demo{background:#f28c28;color:#fff;border-radius:4px;padding:1px 6px;font-size:12px}
.reason{font-size:12px;color:#8a1c12}th.count button{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap}
th .short{display:none}
td:first-child,td:last-child{overflow-wrap:anywhere}.kind{font-size:12px;color:#555}
@media (max-width:639px){body{padding:12px 10px}td:first-child{min-width:9em}td:last-child{min-width:14em}
#videos tr>:first-child{position:sticky;left:0;z-index:1;background:#fff;box-shadow:1px 0 #e4e4e0}
#videos tr.failed>td:first-child{background:#fbe3e1}#videos tr.incomplete>td:first-child{background:#fdf3d8}
/* a class's name upwards made a 108-px head row (of a 740-px phone's screen): there a count's head is its class's
name cut short (rep., named in full to a screen reader), on one line as the other heads */
th.count button{writing-mode:horizontal-tb;transform:none}th .long{display:none}th .short{display:inline}}"""

# each column head a button (a click, or Enter / Space on it: Tab reaches the heads), its order in aria-sort
SCRIPT = """document.querySelectorAll('#videos th').forEach((th, k) => th.addEventListener('click', () => {
  const body = document.querySelector('#videos tbody'), up = th.getAttribute('aria-sort') !== 'ascending';
  document.querySelectorAll('#videos th').forEach(h => h.removeAttribute('aria-sort'));
  th.setAttribute('aria-sort', up ? 'ascending' : 'descending');
  const key = r => r.cells[k].dataset.v, num = r => parseFloat(key(r));
  const rows = Array.from(body.rows).sort((a, b) => {
    const ea = key(a) === '', eb = key(b) === '';
    if (ea || eb) return ea - eb;  // empty cells (a failed video's figures) last either way
    const x = num(a), y = num(b), c = isNaN(x) || isNaN(y) ? key(a).localeCompare(key(b)) : x - y;
    return up ? c : -c;
  });
  rows.forEach(r => body.appendChild(r));
}));"""


def _own_reason(reason: str, video: str) -> str:
    """A video's ``reason`` as its row of index.html shows it, under the video's name: each part that begins with
    the video's path (``/data/iv/c.mp4: ended after 139 of the 240 frames ...``, as videos.csv keeps it) without
    that path, which repeated the name above it in a narrow column; other parts as they are."""
    name = PurePath(video.replace("\\", "/")).name
    parts = []
    for part in reason.split("; "):
        at = part.find(f"{name}: ")
        head = part[:at]
        if name and at >= 0 and ": " not in head and (not head or head.endswith(("/", "\\"))):
            part = part[at + len(name) + 2:]
        parts.append(part)
    return "; ".join(parts)


def _cell(r: dict[str, Any], key: str) -> str:
    v = r.get(key, "")
    e = html.escape
    if key == "video":
        text = e(str(v))
        if r["status"] != "failed":
            text = f'<a href="{e(quote(r["folder"] + "/report.html"))}">{text}</a>'
        if r.get("reason"):
            text += f'<div class="reason">{e(_own_reason(str(r["reason"]), str(v)))}</div>'
        return f'<td data-v="{e(str(v))}">{text}</td>'
    if key == "face_share" and v != "":
        return f'<td class="n" data-v="{v}">{round(float(v) * 100, 1)}</td>'
    if key == "model":
        demo = ' <span class="demo">DEMO</span>' if r.get("demo") else ""
        kind = f'<div class="kind">trained on {e(str(r["data_kind"]))}</div>' if r.get("data_kind") else ""
        return f'<td data-v="{e(str(v))}">{e(str(v))}{demo}{kind}</td>'
    cls = ' class="n"' if isinstance(v, (int, float)) and not isinstance(v, bool) else ""
    return f'<td{cls} data-v="{e(str(v))}">{e(str(v))}</td>'


def short_names(names: list[str]) -> list[str]:
    """Each name of over 5 characters cut to its shortest beginning of 3 or more that begins no other of ``names``,
    with a full stop (surprise, suppression: sur., sup.); one that begins another, or cut after a sign, kept whole."""
    cut = [next((n[:k] for k in range(3, len(n)) if not any(m != n and m.startswith(n[:k]) for m in names)), n)
           for n in names]
    return [n if len(n) <= 5 or c == n or not c[-1].isalnum() else c + "." for n, c in zip(names, cut)]


def render_index(rows: list[dict[str, Any]], classes: list[str], total: int) -> str:
    """index.html: a table of the videos (sortable by each column head), each linking to its report.html."""
    shown = SHOWN + [(c, c.removeprefix("events_")) for c in classes] + [("model", "model")]
    counts = {k: sum(r["status"] == k for r in rows) for k in ("done", "incomplete", "failed")}
    # the class counts' heads written upwards (a class's name over a one- or two-digit count set the column's width:
    # a 5-class model's six columns took 530 px, model and unclassified out of sight in a 1280 px window), and a long
    # video's or model's name wraps, within a word where it must (interview_2026-12-01_guest_a.mp4); another head
    # stays on one line ("duration s" had its unit under it), but for "windows classified", between its words;
    # under 640 px a class's head is its name cut short, on one line (upwards, the head row took 108 px of a phone)
    kind = {**{c: " class=count" for c in classes}, "windows_classified": " class=words"}
    short = dict(zip(classes, short_names([c.removeprefix("events_") for c in classes])))
    e = html.escape
    name = {k: f'aria-label="{e(label)}"><span class="long">{e(label)}</span><span class="short">{e(short[k])}</span>'
            if k in short else f">{e(label)}" for k, label in shown}
    head = "".join(f'<th{kind.get(k, "")}><button type="button" title="sort by {e(label)}" {name[k]}</button></th>'
                   for k, label in shown)
    body = "\n".join(f'<tr class="{r["status"]}">' + "".join(_cell(r, k) for k, _ in shown) + "</tr>" for r in rows)
    line = (f"{len(rows)} of {counted(total, 'video')} listed: {counts['done']} done, {counts['incomplete']} incomplete, "
            f"{counts['failed']} failed. Tables: videos.csv, all_events.csv.")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>mpt-live batch</title>'
            f"<style>{CSS}</style></head><body><h1>mpt-live batch</h1><p>{html.escape(line)}</p>"
            # a class's head upwards, long names wrapped; what is still too wide for the window (a model of many
            # classes, a phone) scrolls inside its box, not the whole page, under 640 px with the video column kept
            f'<div class="wide"><table id="videos"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table></div>'
            f"<script>{SCRIPT}</script></body></html>\n")
