"""Tie camera time to log time.

Conventions: a :class:`ClockOffset` says ``t_log = t_camera + offset_s`` (with ``sigma_s`` its
1-sigma uncertainty). Camera time is a photo's EXIF ``DateTimeOriginal`` + ``SubSecTimeOriginal``
(:mod:`survey.telemetry.photos`) or a video's time (``video`` time base, from its SRT);
log time is the flight log's clock (UTC for autopilot logs mapped with GNSS time).

* :func:`match_events` pairs photos with the autopilot's camera events (``CAM``,
  ``CAMERA_FEEDBACK``, ``camera_capture``) and estimates the offset from the pairs, without
  knowing it in advance (any offset up to ``max_clock_offset_s``, time zones included);
* :func:`srt_frame_clock` reads an SRT's frame counters: frame rate, first frame time,
  dropped / repeated counters, so ``frame -> video time`` is exact;
* :func:`video_wall_clock` ties an SRT's video time to the camera's wall clock;
* :func:`estimate_offset_by_tracks` and :func:`estimate_offset_by_correlation`
  (:mod:`survey.telemetry.sync_series`) estimate the offset from the motion itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from survey.config import TelemetryConfig
from survey.telemetry.errors import TimeSyncError
from survey.telemetry.geodesy import haversine_m
from survey.telemetry.timeutil import fit_clock
from survey.telemetry.track import CameraEvents, PoseTrack

__all__ = [
    "ClockOffset",
    "FrameClock",
    "assign_event_times",
    "match_events",
    "offset_from_differences",
    "srt_frame_clock",
    "video_wall_clock",
]

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class ClockOffset:
    """``t_log = offset_s + rate * t_camera``, the offset known to ``sigma_s`` (1 sigma).

    ``rate`` is 1 except where a clock model was fitted over a long span (a video time base
    whose nominal frame rate differs from the real one, a drifting camera clock).
    """

    offset_s: float
    sigma_s: float
    n_used: int
    method: str
    residual_rms_s: float = float("nan")
    rate: float = 1.0
    #: matched pairs (camera index, log index) where the method pairs samples
    pairs: tuple[NDArray[np.intp], NDArray[np.intp]] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def apply(self, t_camera_s: ArrayLike) -> F64:
        """Camera times to log times."""
        return self.offset_s + self.rate * np.asarray(t_camera_s, np.float64)

    def within(self, true_offset_s: float, tolerance_s: float) -> bool:
        return abs(self.offset_s - true_offset_s) <= tolerance_s


def _resolution(t: F64) -> float:
    """The time step a clock writes: 1 s for whole seconds, 0.001 s for ms, 0 when finer."""
    f = np.asarray(t, np.float64)
    f = f[np.isfinite(f)]
    if f.size == 0:
        return 0.0
    for r in (1.0, 0.1, 0.01, 0.001):
        if np.all(np.abs(f / r - np.round(f / r)) < 1e-6 / r):
            return r
    return 0.0


def offset_from_differences(
    d_s: ArrayLike, resolution_s: float = 0.0
) -> tuple[float, float, float]:
    """Offset, its sigma and the residual RMS from pairwise differences ``log - camera``.

    With a camera clock that truncates to ``resolution_s`` (EXIF seconds), every pair bounds
    the offset: ``d - r < offset <= d`` (a log that records events at the next tick of its own
    clock widens the interval the same way: pass the sum of both resolutions). The intersection of these intervals is the estimate
    (midpoint, sigma = width / sqrt(12)); it shrinks as pairs with different fractions add up.
    When the intervals do not intersect (latency jitter on the log side), or without
    quantisation, the mean is used with sigma = std / sqrt(n).

    Examples
    --------
    Camera seconds truncated, true offset 2.3 s, fractions spread over the second:

    >>> true = 1000.0 + np.array([0.05, 0.31, 0.52, 0.78, 0.96]) + np.arange(5) * 2
    >>> cam = np.floor(true)
    >>> off, sig, _ = offset_from_differences(true + 2.3 - cam, resolution_s=1.0)
    >>> round(off, 2), bool(sig < 0.05)
    (2.3, True)
    """
    d = np.asarray(d_s, np.float64)
    d = d[np.isfinite(d)]
    if d.size == 0:
        raise TimeSyncError("no time pairs to estimate a clock offset from")
    if resolution_s > 0:
        lo, hi = float(np.max(d - resolution_s)), float(np.min(d))
        if lo <= hi:
            mid = (lo + hi) / 2
            return (
                mid,
                max((hi - lo) / np.sqrt(12), 1e-6),
                float(np.sqrt(np.mean((d - resolution_s / 2 - mid) ** 2))),
            )
        centred = d - resolution_s / 2
        m = float(np.mean(centred))
        sd = float(np.std(centred, ddof=1)) if d.size > 1 else resolution_s / np.sqrt(12)
        return m, max(sd / np.sqrt(d.size), resolution_s / np.sqrt(12 * d.size)), sd
    m = float(np.mean(d))
    sd = float(np.std(d, ddof=1)) if d.size > 1 else float("nan")
    sigma = sd / np.sqrt(d.size) if d.size > 1 else float("nan")
    return m, sigma, sd


def _pair_nearest(a: F64, b: F64, tol: float) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """One-to-one pairs (i, j) with |a_i - b_j| <= tol, nearest first."""
    order = np.argsort(b)
    bs = b[order]
    j = np.clip(np.searchsorted(bs, a), 1, max(bs.size - 1, 1))
    cand = []
    for k in (j - 1, j):
        k = np.clip(k, 0, bs.size - 1)
        cand.append((np.abs(bs[k] - a), k))
    dist = np.where(cand[0][0] <= cand[1][0], cand[0][0], cand[1][0])
    jj = np.where(cand[0][0] <= cand[1][0], cand[0][1], cand[1][1])
    ok = dist <= tol
    ia = np.flatnonzero(ok)
    jb = order[jj[ok]]
    # one-to-one: a log event claimed twice goes to the nearer photo
    keep = np.ones(ia.size, bool)
    by = np.argsort(dist[ok], kind="stable")
    seen: set[int] = set()
    for k in by:
        if int(jb[k]) in seen:
            keep[k] = False
        seen.add(int(jb[k]))
    return ia[keep], jb[keep]


def match_events(
    camera_t_s: ArrayLike,
    log_t_s: ArrayLike,
    *,
    camera_latlon: tuple[ArrayLike, ArrayLike] | None = None,
    log_latlon: tuple[ArrayLike, ArrayLike] | None = None,
    config: TelemetryConfig | None = None,
    max_distance_m: float = 30.0,
    log_resolution_s: float = 0.0,
) -> ClockOffset:
    """Estimate the camera-to-log offset by matching photo times to logged camera events.

    Every difference ``log_j - camera_i`` within ``max_clock_offset_s`` is a candidate; the
    offset that pairs the most photos with events (within the resolution of the camera clock,
    and, when both sides carry positions, with positions within ``max_distance_m``) wins.
    Regular trigger intervals make shifted candidates almost as good; positions, irregular
    intervals and the ends of the sequences break the tie. The winner is refined with
    :func:`offset_from_differences` on the one-to-one pairs. ``log_resolution_s`` is the tick
    of a log that stamps events on its own rows (a 10 Hz CSV: 0.1; see
    :attr:`CameraEvents.time_resolution_s`); the camera clock's resolution is found from its
    times.

    Raises
    ------
    TimeSyncError
        Fewer than two photos or events, or no offset pairs at least two of them.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> log = np.cumsum(rng.uniform(1.8, 2.6, 40)) + 1.6e9
    >>> cam = np.floor(log - 3600 - 0.42)          # local clock, 1 s EXIF resolution
    >>> est = match_events(cam, log[3:])           # first three events not photographed
    >>> round(est.offset_s, 1), est.n_used, bool(est.sigma_s < 0.1)
    (3600.4, 37, True)
    """
    cfg = config or TelemetryConfig()
    cam = np.asarray(camera_t_s, np.float64)
    log = np.asarray(log_t_s, np.float64)
    ci = np.flatnonzero(np.isfinite(cam))
    li = np.flatnonzero(np.isfinite(log))
    if ci.size < 2 or li.size < 2:
        raise TimeSyncError(
            f"need at least two photos and two camera events to estimate an offset "
            f"(got {ci.size} photos, {li.size} events)"
        )
    # a camera clock truncates (EXIF seconds, milliseconds); a log writes an event at or after
    # the moment (a 10 Hz CSV row): both widen each pair's interval of possible offsets
    res_cam = _resolution(cam[ci])
    res_log = float(log_resolution_s)
    res = res_cam + res_log
    tol = max(res, 0.02) + 0.05  # clock resolutions plus trigger-to-exposure latency
    use_pos = camera_latlon is not None and log_latlon is not None
    if use_pos:
        clat, clon = (np.asarray(a, np.float64) for a in camera_latlon)  # type: ignore[union-attr]
        llat, llon = (np.asarray(a, np.float64) for a in log_latlon)  # type: ignore[union-attr]
    # candidate offsets: all pairwise differences (subsampled for very large sets)
    cs = ci if ci.size <= 3000 else ci[np.linspace(0, ci.size - 1, 3000).astype(int)]
    d = (log[li][None, :] - cam[cs][:, None]).ravel()
    d = d[np.abs(d) <= cfg.max_clock_offset_s]
    if d.size == 0:
        raise TimeSyncError(
            f"no photo/event pair within max_clock_offset_s={cfg.max_clock_offset_s:g} s"
        )
    d.sort()
    # density of candidates in a window of width tol: the best few windows are scored fully
    right = np.searchsorted(d, d + tol, side="right")
    counts = right - np.arange(d.size)
    top = np.argsort(-counts, kind="stable")
    tried: list[float] = []
    best: tuple[int, float, float] | None = None
    for k in top[:200]:
        centre = float(np.median(d[k : right[k]]))
        if any(abs(centre - c) < tol for c in tried):
            continue
        tried.append(centre)
        ia, jb = _pair_nearest(cam[ci] + centre, log[li], tol + 0.5 * res)
        score = float(ia.size)
        if use_pos and ia.size:
            dist = haversine_m(clat[ci[ia]], clon[ci[ia]], llat[li[jb]], llon[li[jb]])
            known = np.isfinite(dist)
            score = float((~known | (dist <= max_distance_m)).sum()) + 0.5 * float(
                (dist[known] <= max_distance_m).sum()
            ) / max(known.sum(), 1)
        if best is None or score > best[0] + 1e-9:
            best = (int(score), centre, score)
        if len(tried) >= 25:
            break
    assert best is not None  # d is not empty
    centre = best[1]
    ia, jb = _pair_nearest(cam[ci] + centre, log[li], tol + 0.5 * res)
    if ia.size < 2:
        raise TimeSyncError("no clock offset pairs two or more photos with camera events")
    diffs = log[li[jb]] - cam[ci[ia]]
    off, sigma, rms = offset_from_differences(diffs, res)
    if 0 < res_cam < 1.0:
        # sub-second EXIF times may be rounded or truncated (cameras differ): half a tick
        sigma = max(sigma, 0.5 * res_cam / np.sqrt(3))
    runner_up = sorted(tried, key=lambda c: abs(c - centre))[1:2]
    return ClockOffset(
        offset_s=off,
        sigma_s=sigma,
        n_used=int(ia.size),
        method="event matching" + (" with positions" if use_pos else ""),
        residual_rms_s=rms,
        pairs=(ci[ia], li[jb]),
        details={
            "camera_resolution_s": res_cam,
            "log_resolution_s": res_log,
            "photos": int(ci.size),
            "events": int(li.size),
            "unmatched_photos": int(ci.size - ia.size),
            "unmatched_events": int(li.size - ia.size),
            "next_candidate_offset_s": runner_up[0] if runner_up else None,
        },
    )


def assign_event_times(
    camera_t_s: ArrayLike,
    events: CameraEvents,
    offset: ClockOffset,
    config: TelemetryConfig | None = None,
) -> tuple[F64, NDArray[np.intp]]:
    """Log time of each photo: its matched event's time, else camera time + offset.

    A photo takes the event nearest to its camera time + offset when that is within
    ``event_match_tolerance_s`` (config); each event goes to one photo at most. Returns
    ``(t_log_s, event_index)`` with ``event_index`` -1 for photos without an event.
    """
    tol = (config or TelemetryConfig()).event_match_tolerance_s
    cam = np.asarray(camera_t_s, np.float64)
    t = offset.apply(cam)
    idx = np.full(cam.size, -1, np.intp)
    fin = np.flatnonzero(np.isfinite(t))
    if fin.size and len(events):
        ia, jb = _pair_nearest(t[fin], events.t_s, tol)
        idx[fin[ia]] = jb
        t[fin[ia]] = events.t_s[jb]
    return t, idx


@dataclass(frozen=True)
class FrameClock:
    """Video frame index (0-based) to video time, from an SRT's frame counters."""

    fps: float
    t0_s: float  #: video time of frame 0
    n_frames: int
    dropped: int  #: counter steps larger than one
    repeated: int  #: counter not increasing
    residual_s: float  #: RMS of subtitle start times around the fitted clock

    def time_of(self, frame: ArrayLike) -> F64:
        return self.t0_s + np.asarray(frame, np.float64) / self.fps

    def frame_at(self, t_s: ArrayLike) -> NDArray[np.int64]:
        return np.round((np.asarray(t_s, np.float64) - self.t0_s) * self.fps).astype(np.int64)


def srt_frame_clock(track: PoseTrack) -> FrameClock:
    """The frame clock of an SRT track (``extra["frame"]`` counters vs subtitle times).

    Modern SRTs (``FrameCnt``/``SrtCnt``) have one subtitle per video frame: the fit gives the
    exact frame rate (59.94, 50, 29.97 ...). Old 1 Hz SRTs number subtitles, not frames: the
    "frame rate" is then the subtitle rate and the video's own frame rate must come from the
    video file.
    """
    if track.kind != "dji_srt" or "frame" not in track.extra:
        raise TimeSyncError("not an SRT track with frame counters", path=track.source)
    f = track.extra["frame"].astype(np.float64)
    t = track.t_s
    ok = np.isfinite(t) & np.isfinite(f)
    if ok.sum() < 2:
        raise TimeSyncError("fewer than two subtitles: no frame clock", path=track.source)
    steps = np.diff(f[ok])
    slope, icpt = np.polyfit(f[ok] - f[ok][0], t[ok], 1)
    resid = t[ok] - (icpt + slope * (f[ok] - f[ok][0]))
    fps = 1.0 / slope
    t0 = icpt - (f[ok][0] - 1) * slope  # counters are 1-based: counter 1 is frame 0
    return FrameClock(
        fps=float(fps),
        t0_s=float(t0),
        n_frames=int(f[ok][-1]),
        dropped=int((steps > 1).sum()),
        repeated=int((steps < 1).sum()),
        residual_s=float(np.sqrt(np.mean(resid**2))),
    )


def video_wall_clock(track: PoseTrack) -> ClockOffset:
    """Offset from an SRT's video time to the camera's wall clock (``t_wall = t_video + offset``).

    A robust linear fit of every subtitle's date-time against its timecode: old SRTs write whole
    seconds (truncated: half a second is added back), modern ones milliseconds. Video
    timecodes count frames at the nominal rate, so the fit's ``rate`` may differ from 1 by the
    nominal/real frame-rate ratio (and by camera clock drift); late or early stamps of buggy
    firmware are left out as outliers (``details["outliers"]``).
    """
    wall = track.extra.get("t_wall_s")
    if wall is None or not np.isfinite(wall).any():
        raise TimeSyncError("the SRT has no date-time per subtitle", path=track.source)
    ok = np.isfinite(wall) & np.isfinite(track.t_s)
    tv, tw = track.t_s[ok], wall[ok]
    res = _resolution(tw)
    # a wall clock that truncates to whole seconds reads on average res/2 early
    off, rate, fit_res = fit_clock(tv, tw + res / 2)
    r = tw + res / 2 - (off + rate * tv)
    inl = np.abs(r) <= max(res, 3 * 1.4826 * float(np.median(np.abs(r))), 1e-3)
    rms = float(np.sqrt(np.mean(r[inl] ** 2)))
    sd = max(rms, res / np.sqrt(12))
    return ClockOffset(
        offset_s=off,
        sigma_s=sd / np.sqrt(max(int(inl.sum()), 1)),
        n_used=int(inl.sum()),
        method="SRT date-time vs timecode",
        residual_rms_s=rms,
        rate=rate,
        details={"wall_clock_resolution_s": res, "outliers": int((~inl).sum())},
    )
