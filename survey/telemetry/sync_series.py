"""Clock offsets from the motion itself: two tracks' positions, or two speed series.

* :func:`estimate_offset_by_tracks`: the camera's own track (an SRT's positions in video or
  camera time, photos' EXIF positions) against the flight log's track. A coarse search over
  every offset that makes the tracks overlap, then Gauss-Newton on the position residuals,
  whose derivative with respect to the offset is the log's velocity: the uncertainty follows
  from the residual scatter and how much the aircraft moved.
* :func:`estimate_offset_by_correlation`: two scalar series that move together (the video's
  image motion and the log's ground speed, :mod:`survey.telemetry.motion`): normalised cross
  correlation, parabolic refinement of the peak; the uncertainty is the larger of the
  estimates from the two halves of the data and the peak's curvature.

Both return a :class:`survey.telemetry.sync.ClockOffset` with ``t_log = t_camera + offset``.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike, NDArray

from survey.config import TelemetryConfig
from survey.telemetry.errors import TimeSyncError
from survey.telemetry.geodesy import MetricFrame
from survey.telemetry.interp import _usable_times
from survey.telemetry.sync import ClockOffset
from survey.telemetry.track import PoseTrack

__all__ = ["estimate_offset_by_correlation", "estimate_offset_by_tracks"]

F64 = NDArray[np.float64]


def _xy(track: PoseTrack, frame: MetricFrame) -> tuple[F64, F64, F64]:
    idx = _usable_times(track.t_s, track.position_ok)
    x, y = frame.to_xy(track.lon_deg[idx], track.lat_deg[idx])
    return track.t_s[idx], x, y


def estimate_offset_by_tracks(
    camera: PoseTrack,
    log: PoseTrack,
    *,
    config: TelemetryConfig | None = None,
    coarse_step_s: float = 0.25,
    max_samples: int = 600,
) -> ClockOffset:
    """Offset that lays the camera's positions onto the log's track (``t_log = t_cam + offset``).

    The search covers every offset that makes the tracks overlap, limited to
    ``max_clock_offset_s`` when both clocks are wall clocks (not for video or boot time).

    Raises
    ------
    TimeSyncError
        Either track has fewer than 3 usable positions, the tracks cannot overlap within
        ``max_clock_offset_s``, or the aircraft did not move enough to tell offsets apart.
    """
    cfg = config or TelemetryConfig()
    if camera.position_ok.sum() < 3 or log.position_ok.sum() < 3:
        raise TimeSyncError("each track needs at least 3 usable positions to align them")
    frame = MetricFrame.around(log.lon_deg[log.position_ok], log.lat_deg[log.position_ok])
    tc, xc, yc = _xy(camera, frame)
    tl, xl, yl = _xy(log, frame)
    if tc.size > max_samples:
        k = np.linspace(0, tc.size - 1, max_samples).astype(int)
        tc, xc, yc = tc[k], xc[k], yc[k]
    # a clock that counts from an arbitrary start (video, boot) may be any distance from the
    # log's; wall clocks are at most max_clock_offset_s apart (time zones, wrong settings)
    relative = camera.time_base in ("video", "boot", "relative") or log.time_base in (
        "boot",
        "relative",
    )
    bound = np.inf if relative else cfg.max_clock_offset_s
    lo = max(tl[0] - tc[-1], -bound)
    hi = min(tl[-1] - tc[0], bound)
    if lo > hi:
        raise TimeSyncError(f"the tracks cannot overlap with an offset within +-{bound:g} s")
    gap = max(cfg.max_gap_s, 2 * float(np.median(np.diff(tl))))

    def residuals(off: float) -> tuple[F64, F64, NDArray[np.bool_]]:
        tq = tc + off
        j = np.clip(np.searchsorted(tl, tq), 1, tl.size - 1)
        inside = (tq >= tl[0]) & (tq <= tl[-1]) & (tl[j] - tl[j - 1] <= gap)
        return np.interp(tq, tl, xl) - xc, np.interp(tq, tl, yl) - yc, inside

    min_overlap = max(3, int(0.3 * tc.size))
    grid = np.arange(lo, hi + coarse_step_s, coarse_step_s)
    if grid.size > 200_000:
        grid = np.linspace(lo, hi, 200_000)
    cost = np.full(grid.size, np.inf)
    chunk = max(1, 2_000_000 // max(tc.size, 1))
    for s in range(0, grid.size, chunk):
        g = grid[s : s + chunk, None]
        tq = tc[None, :] + g
        inside = (tq >= tl[0]) & (tq <= tl[-1])
        dx = np.interp(tq, tl, xl) - xc[None, :]
        dy = np.interp(tq, tl, yl) - yc[None, :]
        d2 = np.where(inside, dx * dx + dy * dy, np.nan)
        cnt = inside.sum(axis=1)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # offsets with no overlap: all-NaN
            med = np.nanmedian(d2, axis=1) if d2.size else np.zeros(0)
        cost[s : s + chunk] = np.where(cnt >= min_overlap, med, np.inf)
    if not np.isfinite(cost).any():
        raise TimeSyncError("no offset overlaps enough of the two tracks")
    off = float(grid[int(np.argmin(cost))])
    # Gauss-Newton: d(residual)/d(offset) = log velocity at the shifted time
    vx = np.gradient(xl, tl)
    vy = np.gradient(yl, tl)
    for _ in range(20):
        rx, ry, inside = residuals(off)
        ux, uy = np.interp(tc + off, tl, vx), np.interp(tc + off, tl, vy)
        r2 = rx**2 + ry**2
        scale = max(float(np.median(r2[inside])) if inside.any() else 0.0, 1e-6)
        use = inside & (r2 <= 9 * scale + 1.0)  # robust: drop glitches
        jj = float(np.sum(ux[use] ** 2 + uy[use] ** 2))
        if jj <= 1e-9:
            raise TimeSyncError(
                "the aircraft does not move: positions cannot tell clock offsets apart"
            )
        step = -float(np.sum(ux[use] * rx[use] + uy[use] * ry[use])) / jj
        off += step
        if abs(step) < 1e-5:
            break
    rx, ry, inside = residuals(off)
    ux, uy = np.interp(tc + off, tl, vx), np.interp(tc + off, tl, vy)
    r2 = rx**2 + ry**2
    use = inside & (r2 <= 9 * max(float(np.median(r2[inside])), 1e-6) + 1.0)
    n = int(use.sum())
    jj = float(np.sum(ux[use] ** 2 + uy[use] ** 2))
    s2 = float(np.sum(r2[use])) / max(2 * n - 1, 1)
    sigma = float(np.sqrt(s2 / jj))
    return ClockOffset(
        offset_s=off,
        sigma_s=sigma,
        n_used=n,
        method="track alignment",
        residual_rms_s=float("nan"),
        details={
            "position_residual_rms_m": float(np.sqrt(np.mean(r2[use]))),
            "mean_speed_mps": float(np.sqrt(jj / max(n, 1))),
            "searched_s": (float(lo), float(hi)),
        },
    )


def _pearson_lags(tg: F64, a: F64, tb: F64, b: F64, lags: F64, min_overlap: int) -> F64:
    out = np.full(lags.size, -np.inf)
    chunk = max(1, 4_000_000 // max(tg.size, 1))
    for s in range(0, lags.size, chunk):
        L = lags[s : s + chunk, None]
        tq = tg[None, :] + L
        inside = (tq >= tb[0]) & (tq <= tb[-1]) & np.isfinite(a)[None, :]
        bv = np.where(inside, np.interp(tq, tb, b), 0.0)
        av = np.where(inside, a[None, :], 0.0)
        n = inside.sum(axis=1).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            ma, mb = av.sum(1) / n, bv.sum(1) / n
            cov = (av * bv).sum(1) / n - ma * mb
            va = (av * av).sum(1) / n - ma * ma
            vb = (bv * bv).sum(1) / n - mb * mb
            r = cov / np.sqrt(va * vb)
        out[s : s + chunk] = np.where((n >= min_overlap) & np.isfinite(r), r, -np.inf)
    return out


def _peak(lags: F64, r: F64) -> tuple[float, float, float]:
    """Peak lag (parabolic refinement), its correlation and the curvature (1/s^2)."""
    k = int(np.argmax(r))
    if 0 < k < lags.size - 1 and np.isfinite(r[k - 1 : k + 2]).all():
        y0, y1, y2 = r[k - 1], r[k], r[k + 1]
        den = y0 - 2 * y1 + y2
        step = lags[1] - lags[0]
        if den < 0:
            shift = 0.5 * (y0 - y2) / den
            return (
                float(lags[k] + shift * step),
                float(y1 - 0.25 * (y0 - y2) * shift),
                float(-den / step**2),
            )
    return float(lags[k]), float(r[k]), 0.0


def estimate_offset_by_correlation(
    t_a: ArrayLike,
    x_a: ArrayLike,
    t_b: ArrayLike,
    x_b: ArrayLike,
    *,
    max_lag_s: float,
    step_s: float | None = None,
    min_overlap: float = 0.5,
) -> ClockOffset:
    """Lag ``L`` maximising the correlation of ``x_a(t)`` and ``x_b(t + L)`` (``t_b = t_a + L``).

    ``a`` is the camera-side series (e.g. image motion per video frame), ``b`` the log-side one
    (ground speed). Series are compared on ``a``'s samples; ``step_s`` is the lag grid
    (default: ``a``'s median sampling interval), refined to sub-step by a parabola.

    Examples
    --------
    >>> t = np.arange(0, 120, 0.1)
    >>> speed = 8 + 3 * np.sin(t / 7) + 2 * np.sin(t / 2.3)
    >>> cam_t = np.arange(0, 100, 1 / 30)
    >>> est = estimate_offset_by_correlation(cam_t, 5 * np.interp(cam_t + 12.34, t, speed),
    ...                                      t, speed, max_lag_s=20)
    >>> round(est.offset_s, 2), bool(est.sigma_s < 1 / 30)
    (12.34, True)
    """
    ta, a = np.asarray(t_a, np.float64), np.asarray(x_a, np.float64)
    tb, b = np.asarray(t_b, np.float64), np.asarray(x_b, np.float64)
    ka, kb = np.isfinite(ta) & np.isfinite(a), np.isfinite(tb) & np.isfinite(b)
    ta, a, tb, b = ta[ka], a[ka], tb[kb], b[kb]
    if ta.size < 10 or tb.size < 10:
        raise TimeSyncError("need at least 10 finite samples in each series to correlate")
    ob = np.argsort(tb)
    tb, b = tb[ob], b[ob]
    oa = np.argsort(ta)
    ta, a = ta[oa], a[oa]
    step = step_s or float(np.median(np.diff(ta)))
    need = max(10, int(min_overlap * ta.size))
    # coarse-to-fine when the lag range is large
    span = 2 * max_lag_s
    if span / step > 4000:
        coarse = span / 2000
        lags = np.arange(-max_lag_s, max_lag_s + coarse, coarse, dtype=np.float64)
        r = _pearson_lags(ta, a, tb, b, lags, need)
        centre = float(lags[int(np.argmax(r))])
        lags = np.arange(centre - 2 * coarse, centre + 2 * coarse + step, step, dtype=np.float64)
    else:
        lags = np.arange(-max_lag_s, max_lag_s + step, step, dtype=np.float64)
    r = _pearson_lags(ta, a, tb, b, lags, need)
    if not np.isfinite(r).any():
        raise TimeSyncError("the series do not overlap enough at any lag")
    lag, rmax, curv = _peak(lags, r)
    # two halves: independent estimates, their spread is an honest uncertainty
    half = ta.size // 2
    halves = []
    for sl in (slice(0, half), slice(half, None)):
        lh = np.arange(lag - 5 * step, lag + 5 * step + step / 2, step, dtype=np.float64)
        rh = _pearson_lags(ta[sl], a[sl], tb, b, lh, max(5, int(0.8 * ta[sl].size)))
        if np.isfinite(rh).any():
            halves.append(_peak(lh, rh)[0])
    n_eff = max(ta.size * step / max(_corr_time(ta, a), step), 1.0)
    sigma_curv = (
        float(np.sqrt(max(1 - rmax**2, 1e-6) / (n_eff * max(rmax, 1e-3) ** 2 * curv)))
        if curv > 0
        else step
    )
    sigma_split = abs(halves[0] - halves[1]) / 2 if len(halves) == 2 else step
    return ClockOffset(
        offset_s=lag,
        sigma_s=max(sigma_curv, sigma_split, step / np.sqrt(12) / np.sqrt(n_eff)),
        n_used=int(ta.size),
        method="correlation",
        details={"peak_correlation": rmax, "halves_s": halves, "step_s": step},
    )


def _corr_time(t: F64, x: F64) -> float:
    """Decorrelation time of a series: lag where its autocorrelation falls below 1/e."""
    x = x - x.mean()
    if not np.any(x):
        return float(t[-1] - t[0])
    ac = np.correlate(x, x, mode="full")[x.size - 1 :]
    ac = ac / ac[0]
    k = np.flatnonzero(ac < 1 / np.e)
    dt = float(np.median(np.diff(t)))
    return dt * (int(k[0]) if k.size else x.size)
