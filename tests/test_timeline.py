"""timeline.png from predictions rows (numbers or CSV strings), with and without class columns."""

from __future__ import annotations

import cv2

from mpt_live.timeline import read_rows, render_timeline
from mpt_live.writers import CSVSink

CLASSES = ["negative", "positive", "surprise"]


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
    rows = read_rows(tmp_path / "p.csv")
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
