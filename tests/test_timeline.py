"""timeline.png from predictions rows (numbers or CSV strings), with and without class columns."""

from __future__ import annotations

import cv2
import pytest

from mpt_live.results import read_table
from mpt_live.timeline import render_timeline
from mpt_live.writers import CSVSink

CLASSES = ["negative", "positive", "surprise"]


def saved_figures(monkeypatch) -> list:
    """The figures render_timeline writes as PNGs, in order (each as it stood when drawn into its file)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figs, save = [], FigureCanvasAgg.print_png
    monkeypatch.setattr(FigureCanvasAgg, "print_png", lambda canvas, *a, **k: (figs.append(canvas.figure),
                                                                               save(canvas, *a, **k))[1])
    return figs


def _rows(n=60):
    rows = []
    for i in range(n):
        face = not 30 <= i < 36
        r = {"time_s": i / 8, "frame": i * 4, "face_id": 0 if face else None, "motion_score": (1.0 + (20 if 10 <= i < 14 else 0)) if face else None,
             "top": ("surprise" if 10 <= i < 14 else "neutral") if face else None}
        for k, c in enumerate(CLASSES):
            r[f"p_{c}"] = (0.2 + 0.1 * k) if face else None
        rows.append(r)
    return rows


def test_timeline_from_csv_rows(tmp_path):
    cols = ["time_s", "frame", "face_id", "motion_score", *[f"p_{c}" for c in CLASSES], "top"]
    with CSVSink(tmp_path / "p.csv", cols) as sink:
        for r in _rows():
            sink.write(r)
    rows = read_table(tmp_path / "p.csv")[1]
    ev = [{"face": 0, "onset_s": 1.25, "apex_s": 1.5, "offset_s": 1.75, "score": 21.0, "class": "surprise"}]
    out = render_timeline(rows, CLASSES, ev, tmp_path / "timeline.png", title="clip", demo=True)
    img = cv2.imread(str(out))
    assert img is not None and img.shape[1] >= 1000
    assert not (tmp_path / "timeline.tmp.png").exists()


def test_timeline_motion_only_and_empty(tmp_path):
    a = render_timeline(_rows(), [], [], tmp_path / "a.png")
    b = render_timeline([], CLASSES, [], tmp_path / "b.png")
    assert cv2.imread(str(a)) is not None and cv2.imread(str(b)) is not None
    assert cv2.imread(str(a)).shape[0] < cv2.imread(str(render_timeline(_rows(), CLASSES, [], tmp_path / "c.png"))).shape[0]


def test_a_title_in_a_script_the_font_lacks_prints_no_warning(tmp_path):
    """A video named in CJK: matplotlib's font has no glyph for it and warned once per glyph on stderr."""
    import warnings

    from mpt_live.timeline import render_timeline

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        render_timeline([], ["happiness"], [], tmp_path / "t.png", title="面接 3.mp4")
    assert (tmp_path / "t.png").stat().st_size > 1000
    assert not [w for w in caught if "missing from font" in str(w.message)], [str(w.message) for w in caught]


def test_cjk_class_names_render_where_the_machine_has_a_cjk_font():
    """Labels of a dataset's own (Chinese) label set: glyphs from an installed CJK font, not boxes.
    (.ci/run installs one: fonts-wqy-zenhei.)"""
    import io
    import warnings

    from matplotlib.figure import Figure

    from mpt_live.timeline import use_fallback_fonts

    if not use_fallback_fonts():
        pytest.skip("no CJK font installed on this machine")
    fig = Figure()
    fig.text(0.5, 0.5, "高兴 happiness 惊讶")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=r"Glyph \d+ .*missing from font")
        fig.savefig(io.BytesIO(), format="png")


def test_a_cjk_font_installed_after_matplotlib_cached_its_fonts_is_found(monkeypatch):
    """matplotlib reads its font list from a cache made the first time it ran; a CJK font installed since was
    not in it, and timelines drew boxes for Chinese class names until the cache was deleted by hand."""
    from matplotlib import font_manager

    from mpt_live import timeline

    if not timeline.use_fallback_fonts():
        pytest.skip("no CJK font installed on this machine")
    files = {f.fname for f in font_manager.fontManager.ttflist if f.name in timeline.CJK_FONTS}
    stale = [f for f in font_manager.fontManager.ttflist if f.fname not in files]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", stale)  # the cache of before the font came
    monkeypatch.setattr(timeline, "_rescanned", [])
    assert timeline.use_fallback_fonts(), "the installed CJK font was not found"
    assert timeline.use_fallback_fonts()  # looked once per process: the next call has it too


def test_a_long_recording_reads_in_minutes_and_its_event_names_do_not_pile_up(tmp_path, monkeypatch):
    """20 minutes in one 12-inch plot: the axis said 0, 200, 400 ... 1200 with 'time (s)' and every event's
    class was written at its apex, 60 names on top of each other. Now the axis is m:ss at round minutes and a
    name that would overlap another goes to the next of three rows, or is left out where none has room."""
    figs = saved_figures(monkeypatch)
    rows = []
    for i in range(2400):  # a window every 0.5 s over 1200 s
        rows.append({"time_s": i / 2, "frame": i * 15, "face_id": 0, "motion_score": 1.0 + (i % 7),
                     "top": "neutral", **{f"p_{c}": 0.3 for c in CLASSES}})
    events = [{"face": 0, "onset_s": 100 + 3 * k, "apex_s": 100.5 + 3 * k, "offset_s": 101 + 3 * k,
               "class": "surprise", "score": 5.0} for k in range(60)]  # one every 3 s for 3 minutes
    render_timeline(rows, CLASSES, events, tmp_path / "t.png")
    axes = figs[0].axes
    labels = [t.get_text() for t in axes[-1].get_xticklabels() if t.get_text()]
    assert labels[:3] == ["0:00", "2:00", "4:00"] and "20:00" in labels, labels
    assert axes[-1].get_xlabel() == "time (m:ss)"
    names = [t for t in axes[-1].texts if t.get_text() == "surprise"]
    assert 3 <= len(names) <= 12, len(names)  # 180 s of a 1200 s axis: 3 rows of a few names each


def test_a_run_without_probabilities_says_why_above_its_motion_panel(tmp_path, monkeypatch):
    """timeline.png of a motion-only run (or of a model run that classified no window) had no probability panel
    and nothing saying why: the motion panel's title now says that no model ran, or that nothing was classified."""
    drawn = saved_figures(monkeypatch)
    two = [{**r, "face_id": str(f)} for r in _rows() for f in (0, 1)]
    render_timeline(two, [], [], tmp_path / "a.png")
    render_timeline(_rows(), CLASSES, [], tmp_path / "b.png")
    render_timeline([{k: v for k, v in r.items() if not k.startswith("p_") and k != "top"} for r in _rows()], CLASSES,
                    [], tmp_path / "c.png")
    titles = [[ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")] for fig in drawn]
    assert titles[0] == ["no model ran, motion only: no class probabilities"] * 2  # one per face
    assert titles[1] == []  # the probabilities are drawn
    assert titles[2] == ["no window was classified: no class probabilities"]


def test_a_face_lost_for_most_of_the_run_is_hatched_to_the_end(tmp_path, monkeypatch):
    """Only the gaps between a face's rows were hatched: a face that left the frame for good (or came late) had
    a blank panel for the rest of the run, as if it had been there with nothing to show."""
    import numpy as np
    drawn = saved_figures(monkeypatch)
    rows = [{"time_s": i / 10, "face_id": 0, "motion_score": 1.0 + i % 3} for i in range(20)]  # 0-1.9 s
    rows += [{"time_s": 3 + i / 10, "face_id": 0, "motion_score": 2.0} for i in range(5)]  # 3-3.4 s
    rows += [{"time_s": i / 10, "face_id": None} for i in range(35, 100)]  # no face to 9.9 s
    render_timeline(rows, [], [], tmp_path / "t.png")
    hatched = sorted((round(p.get_x(), 2), round(p.get_x() + p.get_width(), 2))
                     for p in drawn[0].axes[0].patches if p.get_hatch() == "//")
    assert hatched == [(1.9, 3.0), (3.4, 9.9)]
    from mpt_live.timeline import absences

    assert absences(np.array([r["time_s"] for r in rows[:25]]), -2.0, 3.5) == [(-2.0, 0.0), (1.9, 3.0)]


def test_until_stretches_the_axis_to_events_after_the_last_row(tmp_path, monkeypatch):
    """A killed run's rows end a few seconds before its last events (mpt-live --finish): the axis ended with the
    rows and cut those events off; ``until`` reaches them. Without it the axis ends with the rows, as before."""
    drawn = saved_figures(monkeypatch)
    late = [{"face": 0, "onset_s": 9.0, "apex_s": 9.4, "offset_s": 9.8, "class": "surprise", "score": 6.0}]
    render_timeline(_rows(), CLASSES, late, tmp_path / "a.png")  # rows to 7.375 s
    render_timeline(_rows(), CLASSES, late, tmp_path / "b.png", until=9.8)
    ends = [fig.axes[-1].get_xlim()[1] for fig in drawn]
    assert ends[0] < 9.0 < 9.8 <= ends[1]


@pytest.mark.parametrize("span, names", [
    (60, ["happiness", "repression", "others", "surprise", "disgust"]),
    (60, ["高兴", "压抑", "惊讶", "厌恶", "其他"]),  # a dataset's own (Chinese) labels: boxes where no CJK font
    (1200, ["happiness", "repression", "others", "surprise", "disgust"]),
], ids=["60s", "60s-chinese", "20min"])
def test_event_names_on_the_timeline_never_overlap(tmp_path, monkeypatch, span, names):
    """Names of events close in time were kept 1/80 of the plot apart, less than a name is wide: on a 60 s timeline
    'happiness' and 'repression' ran together ('happinessrepression'). Each name is now measured as drawn and set in
    the lowest row above the panel where it overlaps no other (or the panel's title); one with no room is left out,
    its apex still marked."""
    import warnings

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    drawn = saved_figures(monkeypatch)
    rows = [{"time_s": i / 2, "frame": i * 15, "face_id": 0, "motion_score": 1.0 + i % 5} for i in range(2 * span)]
    apexes = [0.2, *(span / 2 + 0.7 * k for k in range(12)), span - 0.2]  # at both ends and a run in the middle
    events = [{"face": 0, "onset_s": a - 0.3, "apex_s": a, "offset_s": a + 0.3, "score": 5.0,
               "class": names[k % len(names)]} for k, a in enumerate(apexes)]
    for classes in ([], names):  # the motion panel under its "no model ran" title, and under the probabilities
        rows = [{**r, **{f"p_{c}": 0.2 for c in classes}} for r in rows]
        render_timeline(rows, classes, events, tmp_path / "t.png")
    for fig in drawn:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
            renderer = FigureCanvasAgg(fig).get_renderer()
            fig.draw(renderer)  # laid out as saved
        panel = fig.axes[-1]
        shown = [t for t in panel.texts if t.get_text() in names]
        boxes = [t.get_window_extent(renderer) for t in shown]
        title = [t.get_window_extent(renderer) for t in panel.get_children()  # "no model ran" over the panel
                 if isinstance(t, Text) and t.get_text() and t not in panel.texts]
        assert len(shown) >= 4, [t.get_text() for t in shown]  # the ends and a few of the run
        assert len(title) == (0 if fig.axes[0] is not panel else 1)
        edges = panel.get_window_extent(renderer)
        for i, a in enumerate(boxes):
            assert not any(a.overlaps(b) for b in boxes[i + 1:] + title), (shown[i].get_text(), a)
            assert edges.x0 <= a.x0 and a.x1 <= edges.x1  # within the panel's width
        marks = [ln for ln in panel.lines if ln.get_marker() == "v"]
        assert len(marks) == len(events)  # a name left out still has its event marked


def test_the_demo_badge_hides_no_curve(tmp_path):
    """The DEMO MODEL badge was drawn over the probability panel's top right and hid what was plotted there (a class
    at p 0.8-1 for the last third of the run); it stands above the panel: the curve shows in full, as without it."""
    import numpy as np

    from mpt_live.timeline import class_hex

    rows = _rows()
    for r in rows:  # a flat line where the badge stood, the face in every row (a curve breaks where it is away)
        r.update({"face_id": 0, "motion_score": r["motion_score"] or 1.0, f"p_{CLASSES[0]}": 0.9})
    hexcol = class_hex(0).lstrip("#")
    bgr = np.array([int(hexcol[i:i + 2], 16) for i in (4, 2, 0)])

    def curve_pixels(demo):
        img = cv2.imread(str(render_timeline(rows, CLASSES, [], tmp_path / f"t{demo}.png", title="clip", demo=demo)))
        img = img.astype(int)  # its colour, or blended with the white it is drawn on (a line between pixel rows)
        return int(((np.abs(img - bgr).sum(axis=2) < 60) | (img[..., 0] - img[..., 2] > 60)).sum())

    plain, badged = curve_pixels(False), curve_pixels(True)
    assert plain > 150 and badged >= 0.98 * plain, (plain, badged)  # the badge over its last third: about 1350 of 2030


def test_the_png_is_laid_out_and_drawn_once_without_names_and_measured_once_with(tmp_path, monkeypatch):
    """The layout was computed and the figure drawn in full before the names were placed and again twice by savefig
    (3 draws, 2 layouts: ~0.6 s of CPU at every run's end). Now a figure is drawn once; it is laid out a second time
    only where event names are measured on it first."""
    from matplotlib import layout_engine
    from matplotlib.figure import Figure

    counts = {"draw": 0, "layout": 0}
    draw, execute = Figure.draw, layout_engine.ConstrainedLayoutEngine.execute
    monkeypatch.setattr(Figure, "draw", lambda fig, r: (counts.__setitem__("draw", counts["draw"] + 1), draw(fig, r))[1])
    monkeypatch.setattr(layout_engine.ConstrainedLayoutEngine, "execute",
                        lambda eng, fig: (counts.__setitem__("layout", counts["layout"] + 1), execute(eng, fig))[1])
    render_timeline(_rows(), CLASSES, [], tmp_path / "a.png")
    assert counts == {"draw": 1, "layout": 1}, counts
    counts.update(draw=0, layout=0)
    events = [{"face": 0, "onset_s": 1.2, "apex_s": 1.5, "offset_s": 1.8, "class": "surprise", "score": 5.0}]
    render_timeline(_rows(), CLASSES, events, tmp_path / "b.png")
    assert counts == {"draw": 1, "layout": 2}, counts
    assert cv2.imread(str(tmp_path / "b.png")) is not None


def test_a_face_with_one_window_to_draw_shows_it_as_dots_and_says_why(tmp_path, monkeypatch):
    """A face seen for about a second has one classified window after its warming-up one: its probability and
    motion lines were one point each, which matplotlib does not draw, so its panels were blank without a word. The
    point is now a dot on each and the probability panel says there was one window only; a face with more keeps
    its lines."""
    drawn = saved_figures(monkeypatch)
    probs = {f"p_{c}": 0.2 + 0.1 * k for k, c in enumerate(CLASSES)}
    short = [{"time_s": 3.0, "frame": 90, "face_id": 1, "motion_score": None, "top": ""},  # warming up
             {"time_s": 3.5, "frame": 105, "face_id": 1, "motion_score": 2.0, "top": "neutral", **probs}]
    render_timeline(_rows() + short, CLASSES, [], tmp_path / "t.png")
    axes = drawn[0].axes  # label, probabilities, motion for face 0, then face 1
    assert [ax.get_title(loc="left") for ax in axes[1:6:3]] == ["", "one window only, at 3.5 s: too short for a curve"
                                                                     " (the dots)"]
    assert {line.get_marker() for ax in axes[4:6] for line in ax.lines} == {"o"}
    assert {line.get_marker() for ax in axes[1:3] for line in ax.lines} == {"None"}
    drawn.clear()  # motion only (no model ran): no probability panel, the motion panel's title says it
    bare = [{k: v for k, v in r.items() if not k.startswith("p_") and k != "top"} for r in _rows() + short]
    render_timeline(bare, [], [], tmp_path / "m.png")
    titles = [ax.get_title(loc="left") for ax in drawn[0].axes]
    assert titles[1].endswith("; one window only, at 3.5 s: too short for a curve (the dot)"), titles
    assert "one window" not in titles[0]


def _stalled(frames, face=lambda f: True):
    """predictions.csv's rows of a 15 fps video with a window every 2 frames that has no frames for 0.4 s after frame
    20 (a variable-rate file's pause, a webcam's stall): frame 22 at 1.87 s, not 1.47 s. ``face``: which windows
    have face 0 (the others a "no face" row)."""
    def t(f: int) -> float:
        return round(f / 15 + (0.4 if f >= 22 else 0.0), 4)

    return [{"time_s": t(f), "frame": f, "face_id": 0 if face(f) else None, "motion_score": 1.0 if face(f) else None}
            for f in frames], t


def _spans(ax, hatch):
    return sorted((round(p.get_x(), 2), round(p.get_x() + p.get_width(), 2)) for p in ax.patches
                  if p.get_hatch() == hatch)


def test_a_stretch_with_no_frames_in_the_video_is_not_drawn_as_the_face_s_absence(tmp_path, monkeypatch):
    """vfr.mp4 (a new user's): a variable-rate video with 0.3-0.4 s stretches that have no frames at all had them
    hatched 'not in frame', though its face was in all 162 frames. predictions.csv has a row per window whatever is
    in the frame, with its frame number: two windows next by frame number but far apart in time are the video's
    stretch with no frames, now dotted and named so in the legend; a face that left while frames went on is still
    hatched, beside such a stretch or across it (both sides kept)."""
    import numpy as np

    from mpt_live.timeline import absences, frame_gaps

    drawn = saved_figures(monkeypatch)
    rows, t = _stalled(range(0, 60, 2))
    assert frame_gaps(rows) == [(t(20), t(22))]
    render_timeline(rows, [], [], tmp_path / "t.png")
    ax = drawn[-1].axes[0]
    assert _spans(ax, "//") == [] and _spans(ax, "..") == [(round(t(20), 2), round(t(22), 2))]
    labels = ax.get_legend_handles_labels()[1]
    assert "no frames in the video" in labels and "not in frame" not in labels

    rows, t = _stalled(range(0, 60, 2), face=lambda f: not 30 <= f <= 44)  # left the frame for a second, later
    render_timeline(rows, [], [], tmp_path / "t.png")
    ax = drawn[-1].axes[0]
    assert _spans(ax, "//") == [(round(t(28), 2), round(t(46), 2))]
    assert _spans(ax, "..") == [(round(t(20), 2), round(t(22), 2))]
    assert {"no frames in the video", "not in frame"} <= set(ax.get_legend_handles_labels()[1])

    rows, t = _stalled(range(0, 60, 2), face=lambda f: not 18 <= f <= 28)  # gone from frame 18, the stall within
    mine = [r["time_s"] for r in rows if r["face_id"] == 0]
    assert absences(np.array(mine), 0.0, t(58), frame_gaps(rows)) == [(t(16), t(20)), (t(22), t(30))]
    # not told the video's stretches (as before), the pause of the first video read as the face's absence
    assert absences(np.array([r["time_s"] for r in _stalled(range(0, 60, 2))[0]]), 0.0, t(58), []) == [(t(20), t(22))]


def test_windows_of_two_faces_a_frame_apart_and_a_file_without_frame_numbers_have_no_frame_gaps():
    """Two faces' windows on alternate frames (one row each per window) step by 1 frame in all: the video's pause
    is between the two rows around it, and each face's absence across it is taken out whole (what is left, one
    frame's spacing, is no absence). Rows without frame numbers (a hand-made table) find no such stretch."""
    import numpy as np

    from mpt_live.timeline import absences, frame_gaps

    rows, t = _stalled(range(0, 60, 2))
    odd, _ = _stalled(range(1, 60, 2))
    both = rows + [{**r, "face_id": 1} for r in odd]
    assert frame_gaps(both) == [(t(21), t(22))]
    for face in (0, 1):
        mine = np.array([r["time_s"] for r in both if r["face_id"] == face])
        assert absences(mine, float(mine.min()), float(mine.max()), frame_gaps(both)) == []
    assert frame_gaps([{k: v for k, v in r.items() if k != "frame"} for r in rows]) == []


def _late(first_s: float):
    """predictions.csv's rows of a 15 fps file whose first frame is at ``first_s`` (a window every 2 frames)."""
    return [{"time_s": round(first_s + f / 15, 4), "frame": f, "face_id": 0, "motion_score": 1.0}
            for f in range(0, 60, 2)]


def test_a_video_whose_first_frame_comes_late_has_no_frames_there_not_a_face_away(tmp_path, monkeypatch):
    """A file whose first frame is at 1.2 s (its container's times begin there, a damaged start) had 0-1.2 s shaded
    on the page as face 0 'not in the frame', though no frame was there to show anyone; the plot began at 1.2 s.
    Both now show it as a stretch with no frames, found once for the run (report.run_gaps) from where it began
    reading: 0, or --start's time; a live source's times begin at its first frame, so not there."""
    from mpt_live.report import render_report, run_gaps

    rows = _late(1.2)
    summary = {"mode": "file", "start_s": None, "source_seconds": 5.2, "events": [], "status": "complete"}
    assert run_gaps(summary, rows) == [(0.0, 1.2)]
    assert run_gaps({**summary, "start_s": 20.0}, _late(20.0)) == []  # --start 20: its first frame is there
    assert run_gaps({**summary, "mode": "live"}, rows) == []
    page = render_report(tmp_path, summary, rows, [], None, [], "t")
    assert page.count('class="noframes"') == 1 and 'class="absent"' not in page
    assert "no frames in the video for 1.20 s" in page  # the timeline's label says it, not "not in the frame"
    drawn = saved_figures(monkeypatch)
    render_timeline(rows, [], [], tmp_path / "t.png", no_frames=run_gaps(summary, rows))
    ax = drawn[-1].axes[0]
    assert _spans(ax, "..") == [(0.0, 1.2)] and _spans(ax, "//") == [] and ax.get_xlim()[0] < 0.0


def test_the_plot_and_the_page_of_a_run_get_the_same_stretches_found_once(tmp_path, monkeypatch):
    """timeline.png and report.html each found the video's stretches with no frames from the rows; a run finds
    them once now (write_plot_and_page) and gives both the same list."""
    from mpt_live import report

    got, found = {}, []
    real = report.frame_gaps
    monkeypatch.setattr(report, "frame_gaps", lambda *a: found.append(a) or real(*a))
    monkeypatch.setattr(report, "render_timeline", lambda *a, no_frames=None, **k: got.setdefault("png", no_frames))
    monkeypatch.setattr(report, "write_report", lambda *a: got.setdefault("page", a[-1]))
    summary = {"mode": "file", "events": [], "outputs": {"errors": {}}}
    report.write_plot_and_page(tmp_path, summary, _late(1.2), [], None, "t", False)
    assert len(found) == 1 and got["png"] is got["page"] and got["page"] == [(0.0, 1.2)], (found, got)


def test_curves_break_where_a_face_was_away_as_its_hatching_shows(tmp_path, monkeypatch):
    """A resumed run's face 0 had no rows 1:40-1:52 (hatched 'not in frame'), but its lines ran straight across the
    hatching: the first row after the resume is not a warm-up row with empty values. They break there now, by the
    same threshold as the hatching (timeline.absence_limit); a face's usual spacing does not break them."""
    import numpy as np

    drawn = saved_figures(monkeypatch)
    times = [90 + t / 10 for t in range(101)] + [112 + t / 10 for t in range(81)]
    rows = [{"time_s": t, "face_id": 0, "motion_score": 2.0 + (k % 3), "top": "neutral",
             **{f"p_{c}": 0.3 for c in CLASSES}} for k, t in enumerate(times)]
    render_timeline(rows, CLASSES, [], tmp_path / "t.png")
    lines = [ln for ax in drawn[0].axes for ln in ax.get_lines() if ln.get_label() in CLASSES + ["motion score"]]
    assert len(lines) == len(CLASSES) + 1
    for ln in lines:
        x, y = np.asarray(ln.get_xdata(), float), np.asarray(ln.get_ydata(), float)
        gap = np.flatnonzero(~np.isfinite(y))
        assert len(gap) == 1 and 100 < x[gap[0]] < 112  # one break, inside the hatched stretch
        assert np.isfinite(y).sum() == len(times)  # and no row lost
    from mpt_live.timeline import absence_limit, broken

    t, (y,) = broken(np.array(times[:101]), np.ones(101))
    assert np.isfinite(y).all() and len(t) == 101 and absence_limit(np.array(times)) == pytest.approx(0.4)


def test_a_faces_label_strip_and_its_probabilities_are_not_parted_by_the_strips_legend(tmp_path, monkeypatch):
    """A 12-minute run of 4-6 faces (the long-interview acceptance): each face's label strip listed every class
    again beside it, nine entries in a strip 48 px high; the layout made room below the strip for the overflow, a
    band of white about 100 px high between the strip and its probabilities, in every face's section (a sixth of a
    4-face PNG). The strip's legend now names what the probability legend below does not (neutral, warming up):
    it fits beside the strip, which sits on its probability panel as that panel sits on the motion panel."""
    classes = ["happiness", "surprise", "disgust", "repression", "others"]
    tops = classes + ["neutral", ""]
    rows = [{"time_s": i / 15, "frame": 2 * i, "face_id": f, "motion_score": 1.0 + (i * 7 + f) % 11,
             "top": tops[(i // 20 + f) % len(tops)], **{f"p_{c}": ((i + k) % 10) / 10 for k, c in enumerate(classes)}}
            for i in range(900) for f in range(4)]
    events = [{"face": f, "onset_s": s, "apex_s": s + 0.2, "offset_s": s + 0.4, "class": "surprise", "score": 9.0}
              for f in range(4) for s in (10.0, 30.0)]
    drawn = saved_figures(monkeypatch)
    render_timeline(rows, classes, events, tmp_path / "t.png")
    fig = drawn[-1]
    axes = fig.axes  # per face: label strip, probabilities, motion
    assert len(axes) == 12
    height = fig.get_size_inches()[1] * fig.dpi
    for k in range(4):
        strip, probs, motion = (a.get_position() for a in axes[3 * k:3 * k + 3])
        under_strip = (strip.y0 - probs.y1) * height
        under_probs = (probs.y0 - motion.y1) * height  # with the events' names above the motion panel
        assert under_strip <= under_probs + 2, (k, under_strip, under_probs)
        labels = axes[3 * k].get_legend_handles_labels()[1]
        shown = [t.get_text() for t in axes[3 * k].get_legend().get_texts()]
        assert set(classes) <= set(labels) and shown == ["neutral", "warming up"]  # the classes: in the legend below
        assert set(classes) <= {t.get_text() for t in axes[3 * k + 1].get_legend().get_texts()}
