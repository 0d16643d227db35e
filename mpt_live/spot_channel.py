"""One scale of the spotter (:mod:`mpt_live.spotting`): a :class:`Channel` turns one face's bump maps at one scale
(``k`` frames, set by :class:`~mpt_live.facemotion.FaceMotion`) into judged candidate movements.

It normalises every grid cell by its own running median and spread (:class:`~mpt_live.window_stats.WindowStats`: one
sample per ``sample_s`` of the frames' own times over the last ``history_s`` seconds, recomputed whenever a sample
enters or leaves that window, no evidence before ``warmup_s`` of signals), pools 2x2 cells over the face inside its
contour without the eyes, and subtracts what the whole face does at that frame. The evidence of a frame is the
strongest pooled cell; a candidate opens above ``threshold`` and closes below half of it, or where the evidence, after
falling below half of the candidate's apex, rises to the threshold and twice that dip again (a second movement: where
the face's own motion keeps the evidence above half a low threshold, one candidate would otherwise run for
``max_open_s`` and keep only its strongest movement, and a lower threshold would find fewer events). Its apex is the
strongest frame; onset and offset come from the raw motion of the cells around that peak: where it crosses half its
apex value before and after, extended by the same distance again in the frames' times (exact for a rise and fall of
raised-cosine shape), the frames nearest those times (:mod:`mpt_live.spot_extent`); an extent of one frame is no
movement (dropped). After a cut (``flush(cut=True)``) no extent reaches the cut frame or, later, back before it;
:meth:`Channel.restart` starts the statistics and the warm-up anew.

A candidate is dropped when it is a blink (the eye cells move ``blink_ratio`` times more), a head movement (the face
sides move ``head_ratio`` times more), the echo of a much stronger movement one scale before or after it
(``echo_ratio``), or, in the lower face, speech (in the second before and after it, the mouth moves ``speech_ratio``
times more than the rest of the face). The speech measure compares a moving mouth with a rest of the face whose
motion is mostly the frames' noise, which FaceMotion's mean in time (~0.1 s) averages over 3 frames at 30 fps, 5 at
60 and 1 at 15: the same movement measured 8 % higher at 60 fps and 10 % lower at 15 (``tests/test_speech_rate.py``,
issue 11). Each frame's mouth and rest are given back the noise the 30 fps mean leaves, ``noise_gain - 1`` times the
face's quietest cells (the 10th percentile of the face inside its contour), ``noise_gain`` the ratio of the noise
the header rate's mean and the 30 fps mean leave (the square root of their frame counts: 1 at 21-40 fps, where the
measure is the mouth over the rest as before). Every duration is in the frames' own times (the open candidate's
``max_open_s`` too); the frames one scale before and after an apex (the echo's and the extent's reach), the echo's
frames around them (``2 / fps`` s each side), and the speech test's ``flank_s`` before and after a movement are those
nearest in time to ``k / fps`` and ``flank / fps`` away, as FaceMotion's neighbours are (at a constant rate, ``k`` and
``flank`` frames), and the extent is measured in the frames' times (:mod:`mpt_live.spot_extent`); counts of frames
stand only for the buffer and, as floors beside their times, :meth:`Channel.reach` and the spotter's latency bound.

:class:`SpotConfig` holds the settings of both scales and of the spotter that resolves them; it is defined here, where
most of it is read, and :mod:`mpt_live.spotting` takes it from here for its users.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from .facemotion import GRID, REGIONS, FrameSignals, mean_half, time_neighbour
from .spot_extent import extent, periods
from .window_stats import WindowStats

_SITES, _INNER, _EYES, _SIDES, _MOUTH, _LOWER = (REGIONS[r].ravel()
                                                  for r in ("sites", "inner", "eyes", "sides", "mouth", "lower"))
_SITE_SET = set(np.nonzero(_SITES)[0].tolist())
_REST = (REGIONS["inner"] & ~REGIONS["mouth"] & ~REGIONS["eyes"]).ravel()
_USED = _SITES | _INNER | _EYES | _SIDES  # the cells whose statistics the evidence and the gates read


@dataclass
class SpotConfig:
    threshold: float = 4.0       # evidence (robust z) to open a candidate
    micro_max_s: float = 0.5     # MEGC: under 500 ms (arXiv:1912.11985), onset frame to the offset frame's end
    history_s: float = 20.0      # running per-cell statistics over this much of the frames' own times
    sample_s: float = 2 / 15     # of one frame per this much time (every fourth frame at 30 fps)
    warmup_s: float = 2.0        # no evidence before this much of the face's signals (by their times)
    blink_ratio: float = 6.0
    echo_ratio: float = 2.0      # a movement k frames away this much stronger leaves an echo, not an event
    head_ratio: float = 1.5
    speech_ratio: float = 1.5
    flank_s: float = 1.0         # the speech test looks this far before and after a candidate
    max_open_s: float = 4.0      # a candidate open longer is closed (bounded latency)
    cut_warmup_s: float = 2.0    # after a cut (Spotter.flush(cut=True)): the new baseline's warm-up
    cut_keep: bool = True        # a camera cut keeps the statistics (the face's ID comes back to the same person)


@dataclass
class _Frame:
    pos: int                     # position in the channel's stream
    frame: int
    time_s: float
    raw: np.ndarray | None       # (196,) bump map
    e: float = -np.inf           # evidence
    peak: float = 0.0            # strongest cell of the whole face, eyes included
    pooled: np.ndarray | None = None
    eye: float = 0.0
    side: float = 0.0
    mouth: float = 0.0           # mouth / rest-of-face raw motion


@dataclass
class Candidate:
    apex: _Frame
    onset: _Frame
    offset: _Frame
    cells: list[int]
    period_s: float | None = None  # the offset frame's own period (Channel.period_at); None: 1 / fps
    # onset to offset in periods of the stated rate (spot_extent.periods: by the times, a step that stands still or goes
    # back counted 1); None: not known (only the times tell)
    span: float | None = None


def _quantile(x: np.ndarray, q: float) -> float:
    """The ``q`` quantile of a small array (nearest rank, by partition: cheaper than np.percentile)."""
    k = min(int(q * len(x)), len(x) - 1)
    return float(np.partition(x, k)[k])


def _pool(z: np.ndarray) -> np.ndarray:
    """2x2 mean of the site cells' z (other cells count 0) at each window's top-left site cell."""
    g = np.where(REGIONS["sites"], z.reshape(GRID, GRID), 0.0)
    p = np.full((GRID, GRID), -np.inf)
    p[:-1, :-1] = (g[:-1, :-1] + g[1:, :-1] + g[:-1, 1:] + g[1:, 1:]) / 4
    return np.where(REGIONS["sites"], p, -np.inf).ravel()


class Channel:
    """Candidates at one scale (``k`` frames): evidence, hysteresis, extent and gates."""

    def __init__(self, k: int, fps: float, cfg: SpotConfig) -> None:
        self.k, self.fps, self.cfg = k, fps, cfg
        self.n_seen = 0                                   # frames with signals
        self.n_judged = 0                                 # of them, past the warm-up
        self.warmup = max(int(cfg.warmup_s * fps), 1)     # the warm-up in frames at the nominal rate (messages)
        self.flank = max(int(round(cfg.flank_s * fps)), 1)
        # the noise of the header rate's mean in time over that of the 30 fps mean (3 frames), white noise's ratio
        self.noise_gain = math.sqrt((2 * mean_half(fps) + 1) / (2 * mean_half(30.0) + 1))
        self.max_open = max(int(round(cfg.max_open_s * fps)), 2)  # frames at the nominal rate: Spotter.max_wait's count
        cap = 2 * k + 2 * self.flank + int(1.5 * cfg.max_open_s * fps) + 8  # the open candidate by its times
        self.frames: deque[_Frame] = deque(maxlen=cap)  # grows where frames come faster than fps (_keep)
        self.restart()  # the statistics and the warm-up
        self.cap_max, self.closed_early = 8 * cap, 0  # its most; candidates closed early as it could grow no more
        self.open: list[_Frame] | None = None  # the open candidate's frames
        self._peak: _Frame | None = None  # its strongest frame so far
        self._dip: _Frame | None = None   # its weakest frame after that peak
        self.pending: list[_Frame] = []   # apexes of closed candidates waiting for the frames after them
        self.count, self.cut_pos = 0, 0
        self.dropped: deque[tuple[int, float, str]] = deque(maxlen=64)  # (apex frame, evidence, gate): diagnosis
        self.decisions: deque = deque(maxlen=64)  # all judged: (frame, e, gate or "" kept, {gate: quantity / limit})

    def _measure(self, f: _Frame) -> None:
        self.n_seen += 1
        newest = self.stats.newest()
        if newest is not None and newest <= f.time_s - self.cfg.history_s:  # away longer than the window:
            self.covered, self._last, self.warm_s = 0.0, None, self.cfg.warmup_s  # a new baseline, a new warm-up
        self.stats.add(f.time_s, f.raw)
        self.stats.update(f.time_s)
        step = 0.0 if self._last is None else f.time_s - self._last
        self.covered, self._last = self.covered + step, f.time_s
        if self.covered + step < self.warm_s - 1e-6 or len(self.stats) < self._need():
            return  # the warm-up: warmup_s of signals (this frame lasting as long as the one before) set the baseline
        self.n_judged += 1
        z = (f.raw - self.stats.med) / self.stats.spread
        f.pooled = _pool(z) - max(_quantile(z[_INNER], 0.5), 0.0)
        f.e = float(f.pooled.max())
        f.eye = float(z[_EYES].max())
        f.peak = max(f.eye, float(z[_INNER].max()))
        f.side = _quantile(z[_SIDES], 0.9)
        # the noise the 30 fps mean would leave put back (taken out below 21 fps): nothing at 21-40 fps
        floor = 0.0 if self.noise_gain == 1.0 else (self.noise_gain - 1.0) * _quantile(f.raw[_INNER], 0.1)
        f.mouth = float(max(f.raw[_MOUTH].mean() + floor, 0.0) / (_quantile(f.raw[_REST], 0.5) + floor + 1e-3))

    def _need(self) -> int:
        """The samples the window must hold to judge: 90 % of a steady warm-up's, so that a gap in the face's
        signals (frames read past, a freeze) or a face away for most of the window is not judged against a few."""
        return max(int(0.9 * self.warm_s / max(self.cfg.sample_s, 1.0 / max(self.fps, 1e-3))), 2)

    def push(self, s: FrameSignals, raw: np.ndarray | None) -> list[Candidate]:
        """One frame's map (None: no signal); returns the candidates judged now."""
        f = _Frame(self.count, s.frame, s.time_s, None if raw is None else raw.ravel().astype(np.float32))
        self.count += 1
        if f.raw is not None:
            self._measure(f)
        else:
            self._last = None
        self.frames.append(f)
        th = self.cfg.threshold
        if self.open is not None:
            if f.e > th / 2 and f.time_s - self.open[0].time_s < self.cfg.max_open_s:
                peak, dip = self._peak, self._dip
                if dip is not None and dip.e < peak.e / 2 and f.e > max(th, 2 * dip.e):
                    # a second movement in the same run: the evidence fell below half of the first's apex and
                    # rose to the threshold and twice that dip again (the same halving as the run's own end)
                    self.pending.append(peak)
                    self.open = self.open[dip.pos - self.open[0].pos:]
                    self._peak, self._dip = f, None
                elif f.e > peak.e:
                    self._peak, self._dip = f, None
                elif dip is None or f.e < dip.e:
                    self._dip = f
                self.open.append(f)
                self._keep()
            else:
                self.pending.append(self._peak)
                self.open = None
        if self.open is None and f.e > th:
            self.open = [f]
            self._peak, self._dip = f, None
        return self._finalise(self.count - 1)

    def _keep(self) -> None:
        """Hold what a candidate not judged yet covers until it is judged, where frames come faster than stated."""
        if self.count - self.reach() + self.k + self.flank + 4 > self.frames.maxlen:  # its apex would fall out
            if 2 * self.frames.maxlen <= self.cap_max:
                self.frames = deque(self.frames, maxlen=2 * self.frames.maxlen)
            else:  # times that stand still, or frames 8x faster than stated: close it here, counted
                self.pending.append(self._peak)
                self.open, self.closed_early = None, self.closed_early + 1

    def reach(self) -> int:
        """The earliest stream position a candidate not judged yet (or not even open yet) can cover: a scale before the
        first frame it can start at, ``k`` frames counted or the frame nearest ``k / fps`` s before it by the times
        (:meth:`_scale_from`, the extent's own reach), whichever is earlier (frames faster than stated: more of them);
        for a candidate still to come, one frame after the newest frame's."""
        first = min([a.pos for a in self.pending] + ([self.open[0].pos] if self.open else []) + [self.count])
        counted, frames = first - self.k, self.frames
        at = min(first, self.count - 1) - frames[0].pos if frames else -1
        if at < 0:
            return counted
        return min(counted, frames[0].pos + self._scale_from(frames, at, -self.k) + (first == self.count))

    def frame_at(self, pos: int) -> int | None:
        """The frame index at stream position ``pos`` (the oldest kept one before it); None: not pushed yet."""
        if not self.frames or pos >= self.count:
            return None
        return self.frames[max(pos - self.frames[0].pos, 0)].frame

    def _finalise(self, newest: int, force: bool = False) -> list[Candidate]:
        """Judge the apexes whose frames a scale later have come: ``wait`` frames and ``wait / fps`` s on, or, for times
        that stand still or go back, ``4 * wait`` frames on whatever their times. That fallback bounds the rate: in a
        stretch over 4 times the header's (120 fps under a 30 fps header) an apex can be judged before the frames one
        scale after it in time have come, its echo and extent read on the frames there are."""
        out, keep = [], []
        for apex in self.pending:
            # its frames a scale on, counted and by time (frames faster than fps: more of them), or four times as many
            # counted (times that stand still or go back)
            wait, later = self.k + self.flank + 4, self.frames[-1].time_s - apex.time_s
            if force or newest >= apex.pos + 4 * wait or (newest >= apex.pos + wait and later >= (wait - 0.5) / self.fps):
                c = self._judge(apex)
                if c is not None:
                    out.append(c)
            else:
                keep.append(apex)
        self.pending = keep
        return out

    def _drop(self, apex: _Frame, gate: str, margins: dict) -> None:  # gate "": kept
        self.dropped.extend([(apex.frame, apex.e, gate)] if gate else [])
        self.decisions.append((apex.frame, apex.e, gate, margins))

    def _scale_from(self, frames: list[_Frame], a: int, step: int) -> int:
        """The index of the frame nearest in time to frame a's time + ``step / fps`` (at ``step = -+k`` FaceMotion's
        neighbour of a at this scale, by the same search), ``a + step`` as counted where that time is beyond the frames
        (by half a period) or the rate is constant."""
        j = time_neighbour(lambda i: frames[i].time_s, a, step, self.fps, 0, len(frames) - 1,
                           (frames[0].time_s, frames[-1].time_s))
        return a + step if j is None else j

    def _near_time(self, frames: list[_Frame], b: int, n: int) -> list[_Frame]:
        """The frames within ``n / fps`` s of frame b (the nearest to that time each side, :meth:`_scale_from`; at a
        constant rate b -+ n), those counted where b is not kept (a scale beyond the frames there are). Counted, a
        15 fps stretch under a 30 fps header took twice that time around the echo's neighbour, a 60 fps one half."""
        if not 0 <= b < len(frames):
            return frames[max(b - n, 0):b + n + 1]
        return frames[max(self._scale_from(frames, b, -n), 0):self._scale_from(frames, b, n) + 1]

    def _judge(self, apex: _Frame) -> Candidate | None:
        frames = list(self.frames)
        a = apex.pos - frames[0].pos
        if a < 0 or apex.pooled is None:
            return None
        cfg = self.cfg
        echo = [r.peak for b in (self._scale_from(frames, a, -self.k), self._scale_from(frames, a, self.k))
                for r in self._near_time(frames, b, 2)]
        m = {"threshold": apex.e / cfg.threshold, "blink": apex.eye / (cfg.blink_ratio * apex.e),
             "head": apex.side / (cfg.head_ratio * apex.e), "echo": max(echo, default=0.0) / (cfg.echo_ratio * apex.e)}
        for gate in ("blink", "head", "echo"):  # echo: of a strong movement (often a blink) one scale before or after
            if m[gate] > 1:
                return self._drop(apex, gate, m)
        region = np.nonzero(apex.pooled >= 0.5 * apex.e)[0]
        cells = sorted({int(c + d) for c in region for d in (0, 1, GRID, GRID + 1)} & _SITE_SET)
        lo, hi = self._scale_from(frames, a, -self.k), self._scale_from(frames, a, self.k)
        lo, hi = max(lo, 0), min(hi, len(frames) - 1)
        span = frames[lo:hi + 1]
        raw = np.stack([np.full(GRID * GRID, np.nan, np.float32) if r.raw is None else r.raw for r in span])
        prof = np.full(len(frames), np.nan)
        prof[lo:hi + 1] = (raw[:, cells] - self.stats.med[cells]).mean(axis=1)
        u = periods(np.array([r.time_s for r in frames]), self.fps)
        found = extent(prof, a, lo, hi, u)
        if found is None:
            return self._drop(apex, "extent", m)
        on, off, _ = found
        c = self.cut_pos - frames[0].pos  # a movement does not span a cut: its last frame (signals None) is the cut's
        on, off = (max(on, c), off) if apex.pos >= self.cut_pos else (on, min(off, c - 2))
        if off <= on:  # one frame (no signals on either side: a face cut a scale before and after it) is no movement
            return self._drop(apex, "extent", m)
        at = self._scale_from  # flank_s and a tenth of a second (3 frames at 30 fps) from the movement, by time
        before = frames[max(at(frames, on, -self.flank), 0):max(at(frames, on, -3), 0)]
        after = frames[at(frames, off, 4):at(frames, off, self.flank) + 1]
        flank = [r.mouth for r in before + after if r.pooled is not None]
        m["speech"] = sum(flank) / len(flank) / cfg.speech_ratio if flank and any(_LOWER[c] for c in cells) else 0.0
        self._drop(apex, "speech" if m["speech"] > 1 else "", m)  # the mouth keeps moving around it (not the brows)
        if m["speech"] > 1:
            return None
        return Candidate(apex, frames[on], frames[off], cells, self.period_at(frames, off), float(u[off] - u[on]))

    def period_at(self, frames: list[_Frame], i: int) -> float:
        """How long frame ``i`` of ``frames`` lasts by the times: half the time from the frame before it to the one after
        (one side's step where the other is not kept; not below 0), the stated ``1 / fps`` where that is within a
        millisecond of it (a constant rate's rounded times: the micro rule's own tolerance) or no other frame is kept.
        Half of both steps, not the step to the next frame, so that frames stamped in pairs (2 ms, then 1/15 s) last
        1/30 s each."""
        stated = 1.0 / self.fps
        steps = [frames[j + 1].time_s - frames[j].time_s for j in (i - 1, i) if 0 <= j < len(frames) - 1]
        own = max(sum(steps) / len(steps), 0.0) if steps else stated
        return stated if abs(own - stated) <= 1e-3 else own

    def flush(self, cut: bool = False) -> list[Candidate]:
        if self.open is not None:
            self.pending.append(self._peak)
            self.open = None
        self.cut_pos = self.count if cut else self.cut_pos  # the stream positions from here on are after a cut
        return self._finalise(self.count - 1, force=True)

    def restart(self, warmup_s: float | None = None) -> None:
        """A new baseline (after :meth:`flush`): the statistics (each used cell's median and spread over the last
        ``history_s`` of the frames' times, one sample per ``sample_s``), the warm-up (``covered``: seconds of signals;
        ``_last``: the time of the frame before, if it had signals; ``warm_s``: its length, ``warmup_s`` or the
        config's) and the frames kept start anew."""
        self.stats = WindowStats(GRID * GRID, np.nonzero(_USED)[0], self.cfg.history_s, self.cfg.sample_s)
        self.covered, self._last = 0.0, None
        self.warm_s = self.cfg.warmup_s if warmup_s is None else warmup_s
        self.frames.clear()
