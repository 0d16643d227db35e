"""The review page's template: its style sheet, its script (events, keys, playhead) and its HTML frame,
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
white-space:nowrap}.legend i{display:inline-block;width:12px;height:4px;margin:0 4px 3px 0;vertical-align:middle}
svg.timeline{display:block;width:100%;height:auto;cursor:pointer}#events tbody tr{cursor:pointer}
#events tbody tr:hover{background:#f0f4fa}#events tbody tr.current{background:#dbe8fb}#events img{display:block;
height:48px;border-radius:3px}.keys{color:#666;font-size:12px}h3 img.who{height:40px;border-radius:3px;
vertical-align:middle;margin-right:8px}h3 .seen{font-weight:400;color:#555;margin-left:8px}
:focus-visible{outline:3px solid #1a5fb4;outline-offset:2px}#events tbody tr:focus-visible{outline-offset:-3px}
.keys ul{margin:0 0 8px;padding-left:18px}.keys h3{margin:0}kbd{font:inherit;font-weight:600}
.zoom{margin:0 0 6px}.zoom button{margin-left:4px}#shown{margin-left:8px;color:#555}
@media (max-width:900px){.wide{overflow-x:auto}.top{display:contents}th,td{padding:4px 5px}
.top>div:first-child{position:sticky;top:0;z-index:5;background:#f5f5f2;padding:4px 0;margin-bottom:8px}video{max-height:38vh}
.compact video{max-height:max(26vh,180px)}
.wide.fits{overflow-x:visible}.fits #events thead th{position:sticky;top:var(--cover,0);background:#fff;z-index:2}}
@media (min-width:901px){.top{position:sticky;top:0;z-index:5;background:#f5f5f2;padding:6px 0 8px}
#events thead th{position:sticky;top:var(--cover,0);background:#fff;z-index:2}
video{max-height:44vh}.top>div:last-child{max-height:44vh;overflow:auto}
.compact video,.compact .top>div:last-child{max-height:max(30vh,200px)}}
/* without a video there is nothing to keep in sight */.top:has(>div>p#video){position:static}
"""

SCRIPT = """
const video = document.getElementById('video');
const rows = Array.from(document.querySelectorAll('#events tbody tr[data-onset]'));
let current = -1;
function select(i) {  // the selected row: highlighted, aria-selected, the table's one tab stop
  rows.forEach((r, k) => { r.classList.toggle('current', k === i); r.setAttribute('aria-selected', String(k === i)); });
  if (i >= 0) rows.forEach((r, k) => { r.tabIndex = k === i ? 0 : -1; });
}
function reveal(row, focus) {
  const head = document.querySelector('#events thead th');  // nor under the table's header, where it stays
  const under = head && getComputedStyle(head).position === 'sticky' ? head.getBoundingClientRect().height : 0;
  row.style.scrollMarginTop = cover() + under + 8 + 'px';  // not under the video kept on screen
  if (focus) row.focus({preventScroll: true});
  row.scrollIntoView({block: 'nearest'});
}
function go(i) {
  if (!rows.length) return;
  current = Math.max(0, Math.min(rows.length - 1, i));
  const row = rows[current];
  select(current);
  reveal(row, rows.includes(document.activeElement));  // keyboard focus follows n / p inside the table
  if (video && video.tagName === 'VIDEO') { video.pause(); video.currentTime = parseFloat(row.dataset.onset); }
}
function cover() {  // the height of what stays on top while the page scrolls (the video, with the facts when wide)
  const el = [document.querySelector('.top'), document.querySelector('.top > div')]
    .find(x => x && getComputedStyle(x).position === 'sticky');
  return el ? el.getBoundingClientRect().height : 0;
}
const playing = () => video && video.tagName === 'VIDEO';
const onset = i => parseFloat(rows[i].dataset.onset);
function step(dir) {  // from the selected event, or from the playhead when it has moved away from it
  const t = playing() ? video.currentTime : null;
  if (t === null || (current >= 0 && Math.abs(onset(current) - t) < 0.05)) return go(current + dir);
  let i = -1;
  if (dir > 0) { i = rows.findIndex((r, k) => onset(k) > t + 0.05); if (i < 0) i = rows.length - 1; }
  else { rows.forEach((r, k) => { if (onset(k) < t - 0.05) i = k; }); i = Math.max(i, 0); }
  go(i);
}
rows.forEach((r, i) => {
  r.addEventListener('click', () => go(i));
  r.addEventListener('keydown', e => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'Enter' || e.key === ' ') go(i);
    else {
      const j = {ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: rows.length - 1}[e.key];
      if (j === undefined) return;
      const to = rows[Math.max(0, Math.min(rows.length - 1, j))];
      rows.forEach(x => { x.tabIndex = x === to ? 0 : -1; });
      reveal(to, true);
    }
    e.preventDefault();
  });
});
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
  video.addEventListener('timeupdate', () => {  // the event being played is the highlighted one
    if (video.paused) return;
    let i = -1;
    rows.forEach((r, k) => { if (onset(k) <= video.currentTime + 0.01) i = k; });
    if (i >= 0 && i !== current) { current = i; select(i); }
  });
}
const svgs = Array.from(document.querySelectorAll('svg.timeline'));
// zoom: the timelines show `span` seconds from `start` (span 0: the whole run); the window pages along with
// the playhead, and the arrows (or [ and ]) page by hand
const W = 1000, L = 6, STEPS = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];
const zoom = document.getElementById('zoom'), shown = document.getElementById('shown');
const duration = Math.max(0, ...svgs.map(s => parseFloat(s.dataset.duration) || 0));
let span = 0, start = 0;
const clock = t => { const s = Math.round(t), h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
  return (h ? h + ':' + String(m).padStart(2, '0') : m) + ':' + String(r).padStart(2, '0'); };
const label = (t, step) => (t < 60 && step < 60) ? (Math.round(t * 10) / 10) + 's' : clock(t);
function view() {  // [first second shown, seconds shown]
  const w = span > 0 && span < duration ? span : duration;
  return [Math.min(Math.max(0, start), Math.max(0, duration - w)), w];
}
const xOf = t => { const [s0, w] = view(); return L + (W - L) * (w > 0 ? (t - s0) / w : 0); };
function layout() {
  const [s0, w] = view();
  svgs.forEach(s => {
    const d = parseFloat(s.dataset.duration) || 0, k = w > 0 && d > 0 ? d / w : 1;
    // the axis reads at about the page's text size whatever the timeline's width (a zoomed page, a narrow window)
    const px = s.getBoundingClientRect().width, fs = px > 0 ? Math.min(18, Math.max(6, 12 * W / px)) : 11;
    s.querySelector('g.data').setAttribute('transform',
      `translate(${L * (1 - k) - (W - L) * s0 / (w || 1)} 0) scale(${k} 1)`);
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
  if (shown) shown.textContent = span > 0 && span < duration ? `${clock(s0)}-${clock(s0 + w)} of ${clock(duration)}` : '';
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
  Object.entries({role: 'slider', 'aria-valuemin': '0', 'aria-valuemax': duration.toFixed(2)})
    .forEach(([a, v]) => s.setAttribute(a, v));
  s.addEventListener('keydown', e => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const d = {ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1, PageDown: -10, PageUp: 10}[e.key];
    const t = d !== undefined ? video.currentTime + d : e.key === 'Home' ? 0 : e.key === 'End' ? duration : null;
    if (t === null) return;
    video.currentTime = Math.min(Math.max(0, t), duration);
    e.preventDefault();
  });
});
function page(dir) { const [s0, w] = view(); if (span > 0) { start = s0 + dir * w; layout(); } }
if (zoom) zoom.addEventListener('change', () => {
  span = parseFloat(zoom.value) || 0;
  const t = playing() ? video.currentTime : view()[0];
  start = span > 0 ? Math.floor(t / span) * span : 0;
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
const stuck = () => document.documentElement.style.setProperty('--cover', cover() + 'px');
const box = document.querySelector('.wide');
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
<option value="600">10 minutes</option><option value="60">1 minute</option><option value="10">10 seconds</option></select></label>
<button id="earlier" type="button" title="earlier ([)" aria-label="earlier part ([)">&#9664;</button><button id="later" type="button" title="later (])" aria-label="later part (])">&#9654;</button>
<span id="shown"></span></div><div class="legend">{legend}<span><i style="background:#333"></i>motion score (log)</span>
<span><i style="background:#f4b4b4;height:10px"></i>event</span>
<span><i style="background:#e4e4e0;height:10px;outline:1px solid #bbb"></i>face not in the frame</span></div>{timelines}
<h2 id="events-title">Events</h2><div class="keys"><h3 id="keys-title">Keys</h3><ul id="keys" aria-labelledby="keys-title">{keys}</ul></div>
<div class="wide"><table id="events" role="grid" aria-labelledby="events-title" aria-describedby="keys"><thead><tr><th>#</th><th aria-label="picture at the apex">apex</th><th>face</th><th>class</th><th>confidence</th><th>type</th>
<th>onset</th><th>apex</th><th>offset</th><th>score</th></tr></thead><tbody>{rows}</tbody></table></div>
<script type="application/json" id="run-data">{data}</script>
<script>{js}</script>
</body></html>
"""
