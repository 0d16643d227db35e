"""The review page's template: its style sheet, its script (events: sorted, filtered; keys, playhead) and its HTML frame,
filled in by :func:`mpt_live.report.render_report`."""

CSS = """
*{box-sizing:border-box}body{margin:0;padding:16px 20px;font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;
background:#f5f5f2;color:#222}h1{font-size:18px;margin:0 0 12px}h2{font-size:15px;margin:18px 0 8px}
h3{font-size:13px;margin:6px 0 2px}.demo{background:#a85200;color:#fff;border-radius:4px;padding:2px 8px;
margin-left:10px;font-size:13px}.top{display:grid;grid-template-columns:minmax(0,3fr) minmax(240px,2fr);gap:18px;
align-items:start}video{display:block;width:100%;max-height:58vh;background:#000;border-radius:4px}
.facts td{overflow-wrap:anywhere}.alert,.note{margin:0 0 10px;padding:6px 10px;border-radius:4px}
.alert{background:#fbe3e1;color:#8a1c12;font-weight:600}.note{background:#fdf3d8;color:#6b5200}
table{border-collapse:collapse;width:100%;background:#fff}th,td{padding:4px 8px;border-bottom:1px solid #e4e4e0;
text-align:left;vertical-align:middle}.facts th{width:38%;color:#555;font-weight:600}.facts th,.facts td{padding:2px 8px;font-size:13px}.legend span{margin-right:14px;
white-space:nowrap}.reading{margin:2px 0 6px;font-size:12px;color:#555}.legend i{display:inline-block;width:12px;height:4px;margin:0 4px 3px 0;vertical-align:middle}
svg.timeline{display:block;width:100%;height:auto;cursor:pointer}#events tbody tr{cursor:pointer}
#events tbody tr:hover{background:#f0f4fa}#events tbody tr.current{background:#dbe8fb}#events img{display:block;
height:48px;border-radius:3px}.keys{color:#666;font-size:12px}h3 img.who{height:40px;border-radius:3px;
vertical-align:middle;margin-right:8px}h3 .seen{font-weight:400;color:#555;margin-left:8px}
:focus-visible{outline:3px solid #1a5fb4;outline-offset:2px}#events tbody tr:focus-visible{outline-offset:-3px}
.keys ul{margin:0 0 8px;padding-left:18px}.keys h3{margin:0}kbd{font:inherit;font-weight:600}
.filters{margin:0;padding:0 0 6px;display:flex;flex-wrap:wrap;gap:4px 14px;align-items:center;background:#f5f5f2;z-index:3}#count{color:#555}svg.timeline rect.ev.out{fill-opacity:.05;stroke-opacity:.07}
.filtered svg.timeline rect.ev:not(.out){stroke-opacity:.85}.filters[hidden]{display:none}
#events th .short{display:none}#events th button{font:inherit;font-weight:600;color:inherit;background:none;border:0;padding:0;cursor:pointer;text-align:left}
#events th[aria-sort=ascending] button::after{content:" \\25B2"}#events th[aria-sort=descending] button::after{content:" \\25BC"}
.zoom{margin:0 0 6px}.zoom button{margin-left:4px}#shown{margin-left:8px;color:#555}
@media (max-width:900px){.wide{overflow-x:auto}.top{display:contents}th,td{padding:4px 5px}
/* the word "confidence" over a "65%" made the table wider than a 640-px window (1280 at 200 %) */#events th .long{display:none}#events th .short{display:inline}
.top>div:first-child{position:sticky;top:0;z-index:5;background:#f5f5f2;padding:4px 0;margin-bottom:8px}video{max-height:38vh}
.compact video{max-height:max(26vh,180px)}
.wide.fits{overflow-x:visible}.fits #events thead th{position:sticky;top:calc(var(--cover,0px) + var(--bar,0px));background:#fff;z-index:2}
body:has(.wide.fits) #filters{position:sticky;top:var(--cover,0px)}}
@media (min-width:901px){.top{position:sticky;top:0;z-index:5;background:#f5f5f2;padding:6px 0 8px}
#events thead th{position:sticky;top:calc(var(--cover,0px) + var(--bar,0px));background:#fff;z-index:2}
#filters{position:sticky;top:var(--cover,0px)}video{max-height:44vh}.top>div:last-child{max-height:44vh;overflow:auto}
.compact video,.compact .top>div:last-child{max-height:max(30vh,200px)}}
/* without a video there is nothing to keep in sight */.top:has(>div>p#video){position:static}
#events th{white-space:nowrap}.narrow{display:none}
/* a phone (375-639 px): the apex and offset times and the score left out (the row's onset, its shading on the
timeline and events.csv keep them), cells and pictures tighter, so the rest fits and its header stays in sight */
@media (max-width:639px){body{padding:12px 10px}#events tr>:nth-child(n+8){display:none}
#events th,#events td{padding:4px 3px}#events img{height:30px}.narrow{display:block;margin:0 0 6px}}
/* under 400 px (360 px: a 340-px box) the interview table's text at 13 px: at 14 it was up to 11 px too wide once a
sort's arrow was on the face, class or confidence head, or the ID's (the onset's, on load, 2 px) */
@media (max-width:399px){#events{font-size:13px}}
"""

# said under the keys on a page with events, in a window narrow enough to leave their columns out
NARROW = ('<p class="narrow">A narrow window leaves out the apex and offset times and the score: a wider one shows '
          'them, as events.csv does.</p>')

SCRIPT = """
const video = document.getElementById('video');
const playing = () => video && video.tagName === 'VIDEO';
const tbody = document.querySelector('#events tbody');
const all = Array.from(tbody.querySelectorAll('tr[data-onset]'));  // every event's row, in time order
const box = document.querySelector('.wide');  // the table's box: it scrolls sideways where the table is wider
// each row and each shading on a timeline names its event by its place in #run-data (data-i)
const evs = JSON.parse(document.getElementById('run-data').textContent).events;
let rows = all.slice();  // the rows shown (filtered), in the order shown (sorted)
let chosen = null;  // the selected row
const at = () => rows.indexOf(chosen);
function select(row) {  // the selected row: highlighted, aria-selected, the table's one tab stop
  chosen = row;
  all.forEach(r => { r.classList.toggle('current', r === row); r.setAttribute('aria-selected', String(r === row)); });
  if (row) all.forEach(r => { r.tabIndex = r === row ? 0 : -1; });
}
// the height an element kept on screen while the page scrolls takes (0: one that scrolls away)
const held = el => el && getComputedStyle(el).position === 'sticky' ? el.getBoundingClientRect().height : 0;
const bar = document.getElementById('filters');  // kept on screen above the table's header, where that stays
function reveal(row, focus) {  // nor under the table's header and the filters, where they stay
  const under = held(document.querySelector('#events thead th')) + (bar.hidden ? 0 : held(bar));
  row.style.scrollMarginTop = cover() + under + 8 + 'px';  // not under the video kept on screen
  row.style.scrollMarginBottom = '4px';  // clear of the bottom edge: the page scrolls by whole pixels, a row can end between
  if (focus) row.focus({preventScroll: true});
  row.scrollIntoView({block: 'nearest'});
}
function go(i) {
  if (!rows.length) return;
  const row = rows[Math.max(0, Math.min(rows.length - 1, i))];
  select(row);
  reveal(row, all.includes(document.activeElement));  // keyboard focus follows n / p inside the table
  if (playing()) { video.pause(); video.currentTime = parseFloat(row.dataset.onset); }
}
function cover() {  // the height of what stays on top while the page scrolls (the video, with the facts when wide)
  return held(document.querySelector('.top')) || held(document.querySelector('.top > div'));
}
const onset = r => parseFloat(r.dataset.onset);
let order = {key: 'onset_s', dir: 1};  // the table's order: a column's key and its direction (at first: time)
function step(dir) {  // from the selected event, or from the playhead when it has moved away from it (in time order)
  const t = playing() ? video.currentTime : null, i0 = at();
  const inTime = order.key === 'onset_s' && order.dir > 0;
  if (t === null || !inTime || (i0 >= 0 && Math.abs(onset(rows[i0]) - t) < 0.05)) return go(i0 + dir);
  let i = -1;
  if (dir > 0) { i = rows.findIndex(r => onset(r) > t + 0.05); if (i < 0) i = rows.length - 1; }
  else { rows.forEach((r, k) => { if (onset(r) < t - 0.05) i = k; }); i = Math.max(i, 0); }
  go(i);
}
const heads = Array.from(document.querySelectorAll('#events thead th[data-key] button'));
all.forEach(r => {
  r.addEventListener('click', () => go(rows.indexOf(r)));
  r.addEventListener('keydown', e => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const i = rows.indexOf(r);
    if (e.key === 'Enter' || e.key === ' ') go(i);
    else if (e.key === 'ArrowUp' && i === 0 && heads.length) heads[0].focus();  // up to the column heads
    else {
      const j = {ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: rows.length - 1}[e.key];
      if (j === undefined) return;
      const to = rows[Math.max(0, Math.min(rows.length - 1, j))];
      all.forEach(x => { x.tabIndex = x === to ? 0 : -1; });
      reveal(to, true);
    }
    e.preventDefault();
  });
});
// a row reached by Tab (Shift+Tab back from below the table) is not left under the header and filters kept on screen
tbody.addEventListener('focusin', e => { if (all.includes(e.target)) reveal(e.target, false); });
// sorting: a column head's button (a click, or Enter on it: the grid's arrows reach the heads from its first row)
const value = (r, key) => key === 'event_id' ? +r.dataset.id : evs[+r.dataset.i][key];
const missing = v => v === null || v === undefined || v === '';
function compare(a, b) {  // events without a value last in either direction, ties in time order
  const x = value(a, order.key), y = value(b, order.key), tie = +a.dataset.i - +b.dataset.i;
  if (missing(x) || missing(y)) return missing(x) - missing(y) || tie;
  const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
  return order.dir * c || tie;
}
// filtering: face, type and class, each a list of the values the run has (none: an event without a class)
const filters = Array.from(document.querySelectorAll('#filters select'));
const cell = (i, key) => missing(evs[i][key]) ? '-' : String(evs[i][key]);
const marks = new Map();  // each event's shading on its face's timeline
document.querySelectorAll('svg.timeline rect.ev[data-i]').forEach(x => marks.set(+x.dataset.i, x));
function arrange() {
  const want = filters.filter(s => s.value !== '').map(s => [s.dataset.key, s.value]);
  const sorted = all.slice().sort(compare);
  const match = i => want.every(([k, v]) => cell(i, k) === v);
  sorted.forEach(r => { r.hidden = !match(+r.dataset.i); });
  marks.forEach((x, i) => x.classList.toggle('out', !match(i)));  // on the timelines: the others faded
  document.body.classList.toggle('filtered', want.length > 0);  // ... and those shown outlined
  tbody.append(...sorted);
  rows = sorted.filter(r => !r.hidden);
  document.getElementById('no-match').hidden = rows.length > 0 || !all.length;
  const n = all.length;  // '1 of 1 event shown', not '1 events'
  document.getElementById('count').textContent = `${rows.length} of ${n} event${n === 1 ? '' : 's'} shown`;
  heads.forEach(b => { const th = b.parentElement;
    if (th.dataset.key === order.key) th.setAttribute('aria-sort', order.dir > 0 ? 'ascending' : 'descending');
    else th.removeAttribute('aria-sort'); });
  if (rows.length && !rows.some(r => r.tabIndex === 0)) all.forEach(r => { r.tabIndex = r === rows[0] ? 0 : -1; });
  fits(); stuck();  // a head's arrow, or the rows a filter leaves, change the table's width (and what stays on top)
}
heads.forEach(b => {  // inside the grid's one tab stop; nothing to sort without events
  if (all.length) b.tabIndex = -1; else b.disabled = true;
  b.addEventListener('click', () => {
    const key = b.parentElement.dataset.key;
    order = {key: key, dir: order.key === key ? -order.dir : 1};
    arrange();
  });
  b.addEventListener('keydown', e => {
    const seen = heads.filter(h => h.offsetParent), m = seen.indexOf(b);  // a narrow window leaves some out
    const j = {ArrowLeft: m - 1, ArrowRight: m + 1, Home: 0, End: seen.length - 1}[e.key];
    if (j !== undefined) seen[Math.max(0, Math.min(seen.length - 1, j))].focus();
    else if (e.key === 'ArrowDown') { const r = rows.find(x => x.tabIndex === 0) || rows[0]; if (r) reveal(r, true); }
    else return;
    e.preventDefault();
  });
});
filters.forEach(s => {
  const values = [...new Set(all.map(r => cell(+r.dataset.i, s.dataset.key)))]
    .sort((a, b) => (a === '-') - (b === '-') || a.localeCompare(b, undefined, {numeric: true}));
  values.forEach(v => s.add(new Option(v === '-' ? 'none' : v, v)));
  s.parentElement.hidden = values.length < 2;  // nothing to choose from
  s.addEventListener('change', arrange);
});
document.getElementById('filters').hidden = !all.length;
const filterKeys = document.getElementById('keys-filters');  // the list of keys names the filters shown, none: no line
if (filterKeys) { const named = filters.filter(s => !s.parentElement.hidden && all.length).map(s => s.dataset.key);
  filterKeys.hidden = !named.length; filterKeys.querySelector('kbd').textContent = named.join(', '); }
arrange();
const typing = e => ['INPUT', 'SELECT', 'TEXTAREA'].includes(e.target.tagName);
document.addEventListener('keydown', e => {
  if (e.ctrlKey || e.metaKey || e.altKey || typing(e)) return;
  if (e.key === 'n' || e.key === 'j') { step(1); e.preventDefault(); }
  if (e.key === 'p' || e.key === 'k') { step(-1); e.preventDefault(); }
});
if (playing()) {
  const sources = video.querySelectorAll('source');
  if (sources.length) sources[sources.length - 1].addEventListener('error', () => {
    document.getElementById('video-missing').hidden = false; });
  video.addEventListener('timeupdate', () => {  // the event being played (of those shown) is the highlighted one
    if (video.paused) return;
    let best = null;
    rows.forEach(r => { if (onset(r) <= video.currentTime + 0.01 && (!best || onset(r) >= onset(best))) best = r; });
    if (best && best !== chosen) select(best);
  });
}
const svgs = Array.from(document.querySelectorAll('svg.timeline'));
// zoom: the timelines show `span` seconds from `start` (span 0: the whole run); the window pages along with
// the playhead, and the arrows (or [ and ]) page by hand
const W = 1000, L = 6, STEPS = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];
const zoom = document.getElementById('zoom'), shown = document.getElementById('shown');
// the timelines run from `begin` (where the run began: --start, a resumed run's first part's) to `duration`, in the
// video's own times
const duration = Math.max(0, ...svgs.map(s => parseFloat(s.dataset.duration) || 0));
const begin = Math.min(duration, ...svgs.map(s => parseFloat(s.dataset.begin) || 0)), runLength = duration - begin;
let span = 0, start = begin;
// the spans offered: those shorter than the run (one as long shows the whole run); a 30-90 minute interview gets
// 30 minutes between the whole and 10 minutes, a longer one 1 hour too
if (zoom) Array.from(zoom.options).forEach(o => { if (+o.value > 0 && +o.value >= runLength) o.remove(); });
const clock = t => { const s = Math.round(t), h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
  return (h ? h + ':' + String(m).padStart(2, '0') : m) + ':' + String(r).padStart(2, '0'); };
const label = (t, step) => (t < 60 && step < 60) ? (Math.round(t * 10) / 10) + 's' : clock(t);
function view() {  // [first second shown, seconds shown]
  const w = span > 0 && span < runLength ? span : runLength;
  return [Math.min(Math.max(begin, start), Math.max(begin, duration - w)), w];
}
const xOf = t => { const [s0, w] = view(); return L + (W - L) * (w > 0 ? (t - s0) / w : 0); };
function layout() {
  const [s0, w] = view();
  svgs.forEach(s => {
    const b = parseFloat(s.dataset.begin) || 0, d = (parseFloat(s.dataset.duration) || 0) - b;
    const k = w > 0 && d > 0 ? d / w : 1;
    // the axis reads at about the page's text size whatever the timeline's width (a zoomed page, a narrow window)
    const px = s.getBoundingClientRect().width, fs = px > 0 ? Math.min(18, Math.max(6, 12 * W / px)) : 11;
    s.querySelector('g.data').setAttribute('transform',
      `translate(${L * (1 - k) - (W - L) * (s0 - b) / (w || 1)} 0) scale(${k} 1)`);
    const whole = s.querySelector('g.whole');
    if (whole) {  // a long run: its curves reduced for the whole run, point by point (in parts) when zoomed in
      const near = px > 0 && w < px * d / parseFloat(whole.dataset.buckets);
      whole.style.display = near ? 'none' : 'inline';
      s.querySelectorAll('g.part').forEach(g => { g.style.display =
        near && parseFloat(g.dataset.t1) > s0 && parseFloat(g.dataset.t0) < s0 + w ? 'inline' : 'none'; });
    }
    const g = s.querySelector('g.ticks'), y = g.firstElementChild ? g.firstElementChild.getAttribute('y') : 168;
    const step = STEPS.find(v => w / v <= 10) || 3600 * Math.ceil(w / 36000);
    g.textContent = '';
    for (let t = Math.ceil(s0 / step) * step; t <= s0 + w + 1e-6; t += step) {
      const e = document.createElementNS(s.namespaceURI, 'text');
      const x = xOf(t), anchor = x < L + 12 ? 'start' : x > W - 12 ? 'end' : 'middle';  // the ends stay whole
      Object.entries({x: x.toFixed(1), y: y, 'font-size': fs.toFixed(1), 'text-anchor': anchor, fill: '#555'})
        .forEach(([a, v]) => e.setAttribute(a, v));
      e.textContent = label(t, step);
      g.appendChild(e);
    }
    const note = s.querySelector('text.no-model');
    if (note) note.setAttribute('font-size', fs.toFixed(1));
  });
  if (shown) shown.textContent = span > 0 && span < runLength ? `${clock(s0)}-${clock(s0 + w)} of ${clock(duration)}` : '';
  playhead();
}
function playhead() {
  const t = playing() ? video.currentTime : null, [s0, w] = view();
  svgs.forEach(s => {
    const p = s.querySelector('.playhead'), x = t === null ? L : xOf(t);
    p.setAttribute('x1', x); p.setAttribute('x2', x);
    p.style.visibility = t !== null && (t < s0 - 1e-6 || t > s0 + w + 1e-6) ? 'hidden' : '';
    if (t !== null) { s.setAttribute('aria-valuenow', t.toFixed(2)); s.setAttribute('aria-valuetext', `${clock(t)} of ${clock(duration)}`); }
  });
}
// with a video each timeline is also a slider over it: the arrows, Page Up / Down, Home and End move the video
if (playing()) svgs.forEach(s => {
  Object.entries({role: 'slider', 'aria-valuemin': begin.toFixed(2), 'aria-valuemax': duration.toFixed(2)})
    .forEach(([a, v]) => s.setAttribute(a, v));
  s.addEventListener('keydown', e => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const d = {ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1, PageDown: -10, PageUp: 10}[e.key];
    const t = d !== undefined ? video.currentTime + d : e.key === 'Home' ? begin : e.key === 'End' ? duration : null;
    if (t === null) return;
    video.currentTime = Math.min(Math.max(0, t), duration);
    e.preventDefault();
  });
});
// by hand a page on the span's round times, none past either end: ] then [ comes back to the page it left (it paged
// from the last page as shown, moved back to end at the run's end, onto pages off the round times)
function page(dir) {
  if (!(span > 0)) return;
  const first = Math.floor(begin / span) * span;
  const last = Math.max(first, Math.ceil((duration - span) / span - 1e-9) * span);  // its page reaches the end
  start = Math.min(last, Math.max(first, Math.floor(start / span + 1e-9) * span + dir * span));
  layout();
}
if (zoom) zoom.addEventListener('change', () => {
  span = parseFloat(zoom.value) || 0;
  const t = playing() ? video.currentTime : view()[0];
  start = span > 0 ? Math.floor(t / span) * span : begin;
  layout();
});
const arrows = [['earlier', -1], ['later', 1]];
arrows.forEach(([id, dir]) => { const b = document.getElementById(id); if (b) b.addEventListener('click', () => page(dir)); });
document.addEventListener('keydown', e => {
  if (e.ctrlKey || e.metaKey || e.altKey || e.target.tagName === 'SELECT') return;
  if (e.key === '[') page(-1);
  if (e.key === ']') page(1);
});
svgs.forEach(s => s.addEventListener('click', e => {
  if (!playing()) return;
  const box = s.getBoundingClientRect(), left = L / W * box.width, [s0, w] = view();
  const f = (e.clientX - box.left - left) / (box.width - left);
  video.currentTime = Math.min(Math.max(0, s0 + Math.max(0, f) * w), duration);
}));
if (playing()) video.addEventListener('timeupdate', () => {
  const t = video.currentTime, [s0, w] = view();
  if (span > 0 && (t < s0 || t > s0 + w)) { start = Math.floor(t / span) * span; layout(); } else playhead();
});
// the events table's header stays in sight under the video while its rows scroll; in a narrow window only where
// the table fits it (one wider scrolls sideways in a box of its own, in which a header cannot stay on the screen)
// the filters too, above the header (a reviewer far down a long table changes them without scrolling back)
function stuck() {
  document.documentElement.style.setProperty('--cover', cover() + 'px');
  document.documentElement.style.setProperty('--bar', (bar.hidden ? 0 : held(bar)) + 'px');
}
function fits() { box.classList.remove('fits'); box.classList.toggle('fits', box.scrollWidth <= box.clientWidth + 1); }
// once the page is scrolled the part kept on top shrinks, leaving the screen to the events' rows; not on a page
// too short to stay scrolled once it has (it would spring back and forth), back to its size at the top
function compact() {
  const on = document.body.classList.contains('compact'), y = window.scrollY;
  const room = document.documentElement.scrollHeight - innerHeight > 0.25 * innerHeight + 40;
  if (on ? y < 1 : y > 40 && room) { document.body.classList.toggle('compact', !on); stuck(); }
}
window.addEventListener('scroll', compact, {passive: true});
window.addEventListener('resize', () => { layout(); fits(); stuck(); });
if (playing()) video.addEventListener('loadedmetadata', stuck);
layout(); fits(); stuck();
"""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{css}</style></head>
<body><h1>{title}{demo}</h1>{banner}
<div class="top"><div>{video}</div><div><table class="facts">{facts}</table></div></div>
<h2>Timeline per face</h2><div class="zoom"><label>Show <select id="zoom"><option value="0">the whole run</option>
<option value="3600">1 hour</option><option value="1800">30 minutes</option><option value="600">10 minutes</option><option value="60">1 minute</option><option value="10">10 seconds</option></select></label>
<button id="earlier" type="button" title="earlier ([)" aria-label="earlier part ([)">&#9664;</button><button id="later" type="button" title="later (])" aria-label="later part (])">&#9654;</button>
<span id="shown"></span></div><div class="legend">{legend}<span><i style="background:#333"></i>motion score (log)</span>
<span><i style="background:#f4b4b4;height:10px"></i>event</span>
<span><i style="background:#e4e4e0;height:10px;outline:1px solid #bbb"></i>face not in the frame</span></div>{reading}{timelines}
<h2 id="events-title">Events</h2><div class="keys"><h3 id="keys-title">Keys</h3><ul id="keys" aria-labelledby="keys-title">{keys}</ul>{narrow}</div>
<div id="filters" class="filters" role="group" aria-label="which events to show"><span><label for="only-face">face</label> <select id="only-face" data-key="face"><option value="">all</option></select></span>
<span><label for="only-type">type</label> <select id="only-type" data-key="type"><option value="">all</option></select></span>
<span><label for="only-class">class</label> <select id="only-class" data-key="class"><option value="">all</option></select></span><span id="count"></span></div>
<div class="wide"><table id="events" role="grid" aria-labelledby="events-title" aria-describedby="keys"><thead><tr><th data-key="event_id" title="event_id in events.csv"><button type="button">ID</button></th><th aria-label="picture at the apex">apex</th><th data-key="face"><button type="button">face</button></th><th data-key="class"><button type="button">class</button></th><th data-key="confidence"><button type="button" aria-label="confidence" title="confidence"><span class="long">confidence</span><span class="short">conf.</span></button></th>
<th data-key="type"><button type="button">type</button></th><th data-key="onset_s"><button type="button">onset</button></th><th data-key="apex_s"><button type="button">apex</button></th><th data-key="offset_s"><button type="button">offset</button></th><th data-key="score"><button type="button">score</button></th></tr></thead><tbody>{rows}</tbody></table><p id="no-match" class="note" hidden>No event matches the filters.</p></div>
<script type="application/json" id="run-data">{data}</script>
<script>{js}</script>
</body></html>
"""
