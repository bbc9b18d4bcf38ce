"""The pose at any time: interpolation of a :class:`PoseTrack` with honest gaps.

* Position: linear in a metric frame (the track's UTM zone), altitude linear.
* Attitude (vehicle and gimbal): spherical linear interpolation (slerp) of the rotation
  ``Rz(yaw) Ry(pitch) Rx(roll)``, returned as Euler angles on the branch of the linearly
  interpolated, unwrapped angles (so yaw passes 359 -> 1 through 0, never through 180). Near
  pitch +-90 (gimbal lock; a nadir camera) yaw and roll are not separable and the unwrapped
  linear interpolation is used instead.
* Each channel uses only its own usable samples (finite, not flagged by the sanity filters,
  time strictly increasing). A time further than ``max_gap_s`` from usable samples on both
  sides, or outside the track by more than ``max_extrapolation_s``, gets no value for that
  channel, and the frame is marked unlocatable with the reason.
"""

from __future__ import annotations

import warnings as _warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from survey.config import TelemetryConfig
from survey.telemetry.geodesy import MetricFrame
from survey.telemetry.track import (
    ALT_BAD,
    POSITION_BAD,
    AltRef,
    GimbalMode,
    PoseTrack,
    SampleFlag,
    TimeBase,
)

__all__ = ["Poses", "interp_angles", "pose_at"]

F64 = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Poses:
    """Interpolated poses at query times (struct-of-arrays, like :class:`PoseTrack`).

    ``ok`` is True where the frame can be located: position known and every orientation
    channel the track has (vehicle attitude, gimbal) known. ``reason`` says why not
    (empty string where ``ok``).
    """

    t_s: F64
    lat_deg: F64
    lon_deg: F64
    alt_m: F64
    rel_alt_m: F64
    roll_deg: F64
    pitch_deg: F64
    yaw_deg: F64
    gimbal_roll_deg: F64
    gimbal_pitch_deg: F64
    gimbal_yaw_deg: F64
    speed_mps: F64
    ok: NDArray[np.bool_]
    reason: NDArray[np.str_]
    alt_ref: AltRef = "unknown"
    time_base: TimeBase = "utc"
    gimbal_mode: GimbalMode = "none"
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.t_s.size)


def _usable_times(t: F64, ok: NDArray[np.bool_]) -> NDArray[np.intp]:
    """Indices of usable samples whose times strictly increase."""
    idx = np.flatnonzero(ok & np.isfinite(t))
    if idx.size < 2:
        return idx
    tt = t[idx]
    prev_max = np.maximum.accumulate(np.concatenate([[-np.inf], tt[:-1]]))
    return idx[tt > prev_max]


def _brackets(
    ts: F64, tq: F64, max_gap: float, max_ext: float
) -> tuple[NDArray[np.intp], NDArray[np.intp], F64, NDArray[np.bool_], NDArray[np.str_]]:
    """For each query: indices of the samples before/after, the weight, validity and reason."""
    n = ts.size
    reason = np.full(tq.shape, "", dtype=object)
    if n == 0:
        reason[:] = "no usable samples"
        z = np.zeros(tq.shape, np.intp)
        return z, z, np.zeros(tq.shape), np.zeros(tq.shape, bool), reason.astype(str)
    j = np.searchsorted(ts, tq, side="right")
    i0 = np.clip(j - 1, 0, n - 1)
    i1 = np.clip(j, 0, n - 1)
    before = j == 0
    after = j == n
    i0[before] = 0
    i1[after] = n - 1
    span = ts[i1] - ts[i0]
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(span > 0, (tq - ts[i0]) / span, 0.0)
    w = np.clip(w, 0.0, 1.0)
    valid = np.isfinite(tq)
    gap = ~before & ~after & (span > max_gap)
    valid &= ~gap
    ext_b = before & (ts[0] - tq > max_ext)
    ext_a = after & (tq - ts[-1] > max_ext)
    valid &= ~ext_b & ~ext_a
    for mask, text in (
        (gap, None),
        (ext_b, "before the first sample"),
        (ext_a, "after the last sample"),
    ):
        if not mask.any():
            continue
        if text is None:
            reason[mask] = [f"in a gap of {s:.1f} s (max {max_gap:g} s)" for s in span[mask]]
        else:
            reason[mask] = text
    reason[~np.isfinite(tq)] = "no time"
    return i0, i1, w, valid, reason.astype(str)


def interp_angles(
    t_s: ArrayLike,
    yaw_deg: ArrayLike,
    pitch_deg: ArrayLike,
    roll_deg: ArrayLike,
    t_query: ArrayLike,
) -> tuple[F64, F64, F64]:
    """Slerp-interpolate Z-Y-X Euler angles (deg) at ``t_query`` (no gap handling).

    Examples
    --------
    Yaw crossing north goes through 0, not 180:

    >>> y, p, r = interp_angles([0, 1], [350, 10], [0, 0], [0, 0], [0.5])
    >>> round(float(y[0]), 6) % 360, round(float(p[0]), 6), round(float(r[0]), 6)
    (0.0, 0.0, 0.0)

    A nadir gimbal (gimbal lock) turning from yaw 10 to 30:

    >>> y, p, r = interp_angles([0, 1], [10, 30], [-90, -90], [0, 0], [0.25])
    >>> round(float(y[0]), 6), float(p[0])
    (15.0, -90.0)
    """
    t = np.asarray(t_s, np.float64)
    tq = np.atleast_1d(np.asarray(t_query, np.float64))
    ang = [np.asarray(a, np.float64) for a in (yaw_deg, pitch_deg, roll_deg)]
    i0, i1, w, _, _ = _brackets(t, tq, np.inf, np.inf)
    return _slerp_euler(ang, i0, i1, w)


def _slerp_euler(
    ang: list[F64], i0: NDArray[np.intp], i1: NDArray[np.intp], w: F64
) -> tuple[F64, F64, F64]:
    from scipy.spatial.transform import Rotation

    yaw, pitch, roll = ang
    # linear interpolation of unwrapped angles: the branch reference
    y0, y1 = yaw[i0], yaw[i0] + ((yaw[i1] - yaw[i0] + 180.0) % 360.0 - 180.0)
    r0, r1 = roll[i0], roll[i0] + ((roll[i1] - roll[i0] + 180.0) % 360.0 - 180.0)
    lin_y = y0 + w * (y1 - y0)
    lin_p = pitch[i0] + w * (pitch[i1] - pitch[i0])
    lin_r = r0 + w * (r1 - r0)
    out_y, out_p, out_r = lin_y.copy(), lin_p.copy(), lin_r.copy()
    if i0.size:
        e0 = np.stack([yaw[i0], pitch[i0], roll[i0]], axis=1)
        e1 = np.stack([yaw[i1], pitch[i1], roll[i1]], axis=1)
        fin = np.isfinite(e0).all(axis=1) & np.isfinite(e1).all(axis=1)
        if fin.any():
            q0 = Rotation.from_euler("ZYX", e0[fin], degrees=True)
            q1 = Rotation.from_euler("ZYX", e1[fin], degrees=True)
            rel = (q0.inv() * q1).as_rotvec()
            rq = q0 * Rotation.from_rotvec(rel * w[fin, None])
            with _warnings.catch_warnings():
                _warnings.simplefilter("ignore", UserWarning)  # gimbal lock: handled below
                e = rq.as_euler("ZYX", degrees=True)
            sy = e[:, 0] + 360.0 * np.round((lin_y[fin] - e[:, 0]) / 360.0)
            sr = e[:, 2] + 360.0 * np.round((lin_r[fin] - e[:, 2]) / 360.0)
            near_lock = (np.abs(e[:, 1]) > 85.0) | (np.abs(lin_p[fin]) > 85.0)
            out_y[fin] = np.where(near_lock, lin_y[fin], sy)
            out_p[fin] = np.where(near_lock, lin_p[fin], e[:, 1])
            out_r[fin] = np.where(near_lock, lin_r[fin], sr)
    wrap = lambda a: (a + 180.0) % 360.0 - 180.0  # noqa: E731
    return wrap(out_y), out_p, wrap(out_r)


def pose_at(track: PoseTrack, t_s: ArrayLike, config: TelemetryConfig | None = None) -> Poses:
    """Interpolate ``track`` at times ``t_s`` (same time base as the track).

    Parameters
    ----------
    track : PoseTrack
        Usually after :func:`survey.telemetry.sanity.check_track`; flagged samples are skipped.
    t_s : array_like
        Query times (frame times), in ``track.time_base``.
    config : TelemetryConfig, optional
        ``max_gap_s`` and ``max_extrapolation_s`` (defaults from the config).

    Examples
    --------
    >>> tr = PoseTrack.build([0.0, 1.0, 2.0, 10.0], lat_deg=[47.0, 47.0001, 47.0002, 47.0010],
    ...                      lon_deg=8.0, alt_m=[500.0, 502.0, 504.0, 520.0], alt_ref="msl")
    >>> p = pose_at(tr, [0.5, 5.0, 10.2, 11.0])
    >>> [round(float(v), 7) for v in p.lat_deg[:1]], p.alt_m[:1].tolist()
    ([47.00005], [501.0])
    >>> p.ok.tolist()
    [True, False, True, False]
    >>> str(p.reason[1]), str(p.reason[3])
    ('position: in a gap of 8.0 s (max 2 s)', 'position: after the last sample')
    """
    cfg = config or TelemetryConfig()
    tq = np.atleast_1d(np.asarray(t_s, np.float64))
    n = tq.size
    nan = np.full(n, np.nan)
    reasons: list[NDArray[np.str_]] = []
    ok = np.ones(n, bool)
    t = track.t_s

    # position (metric frame) and altitude
    pos_i = _usable_times(t, track.position_ok)
    lat, lon = nan.copy(), nan.copy()
    if pos_i.size:
        frame = MetricFrame.around(track.lon_deg[pos_i], track.lat_deg[pos_i])
        x, y = frame.to_xy(track.lon_deg[pos_i], track.lat_deg[pos_i])
        i0, i1, w, valid, why = _brackets(t[pos_i], tq, cfg.max_gap_s, cfg.max_extrapolation_s)
        xi = x[i0] + w * (x[i1] - x[i0])
        yi = y[i0] + w * (y[i1] - y[i0])
        lo, la = frame.to_lonlat(xi, yi)
        lat = np.where(valid, la, np.nan)
        lon = np.where(valid, lo, np.nan)
    else:
        valid = np.zeros(n, bool)
        why = np.full(n, "no usable position samples")
    ok &= valid
    reasons.append(np.char.add("position: ", why.astype(str)) if why.size else why)
    reasons[-1] = np.where(valid, "", reasons[-1])

    def linear(values: F64, usable: NDArray[np.bool_]) -> F64:
        idx = _usable_times(t, usable & np.isfinite(values))
        if idx.size == 0:
            return nan.copy()
        j0, j1, ww, vv, _ = _brackets(t[idx], tq, cfg.max_gap_s, cfg.max_extrapolation_s)
        v = values[idx]
        return np.where(vv, v[j0] + ww * (v[j1] - v[j0]), np.nan)

    alt_ok = (track.flags & np.uint16(int(ALT_BAD))) == 0
    pos_flag_ok = (track.flags & np.uint16(int(POSITION_BAD))) == 0
    alt = linear(track.alt_m, alt_ok)
    rel = linear(track.rel_alt_m, alt_ok)
    speed = linear(track.speed_mps, pos_flag_ok)

    def attitude(names: tuple[str, str, str], label: str) -> tuple[F64, F64, F64]:
        arrs = [getattr(track, k) for k in names]
        has = np.isfinite(arrs[0]) & np.isfinite(arrs[1]) & np.isfinite(arrs[2])
        if not has.any():
            return nan.copy(), nan.copy(), nan.copy()
        clock_bad = np.uint16(int(SampleFlag.TIME_BACKWARDS | SampleFlag.TIME_DUPLICATE))
        idx = _usable_times(t, has & ((track.flags & clock_bad) == 0))
        j0, j1, ww, vv, why_a = _brackets(t[idx], tq, cfg.max_gap_s, cfg.max_extrapolation_s)
        yaw, pitch, roll = _slerp_euler([a[idx] for a in arrs], j0, j1, ww)
        nonlocal ok
        ok &= vv
        reasons.append(np.where(vv, "", np.char.add(f"{label}: ", why_a.astype(str))))
        return (np.where(vv, yaw, np.nan), np.where(vv, pitch, np.nan), np.where(vv, roll, np.nan))

    yaw, pitch, roll = attitude(("yaw_deg", "pitch_deg", "roll_deg"), "attitude")
    g_yaw, g_pitch, g_roll = attitude(
        ("gimbal_yaw_deg", "gimbal_pitch_deg", "gimbal_roll_deg"), "gimbal"
    )
    reason = reasons[0].astype(object)
    for r in reasons[1:]:
        both = (reason != "") & (r != "")
        reason = np.where(both, reason + "; " + r, np.where(reason != "", reason, r))
    return Poses(
        t_s=tq,
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt,
        rel_alt_m=rel,
        roll_deg=roll,
        pitch_deg=pitch,
        yaw_deg=yaw,
        gimbal_roll_deg=g_roll,
        gimbal_pitch_deg=g_pitch,
        gimbal_yaw_deg=g_yaw,
        speed_mps=speed,
        ok=ok,
        reason=reason.astype(str),
        alt_ref=track.alt_ref,
        time_base=track.time_base,
        gimbal_mode=track.gimbal_mode,
        meta={"source": track.source, "kind": track.kind},
    )
