"""Helpers the log readers share: merging channels logged at different rates, quaternions.

Autopilot logs write position, attitude and gimbal angles as separate messages at different
rates. :func:`merge_channels` puts them on the union of their time stamps without resampling
anything: each array is NaN at the times its channel has no sample, and the interpolation
(:mod:`survey.telemetry.interp`) uses each channel's own samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["backwards_mask", "euler_from_quaternion", "merge_channels", "step_fill"]

F64 = NDArray[np.float64]


def backwards_mask(t_s: ArrayLike) -> NDArray[np.bool_]:
    """Samples whose time is before that of an earlier sample (time going backwards).

    Examples
    --------
    >>> backwards_mask([0.0, 1.0, 0.5, 2.0, 1.5, 3.0]).tolist()
    [False, False, True, False, True, False]
    """
    t = np.asarray(t_s, np.float64)
    if t.size == 0:
        return np.zeros(0, bool)
    prev_max = np.maximum.accumulate(np.concatenate([[-np.inf], t[:-1]]))
    return np.asarray(t < prev_max)


def merge_channels(
    channels: Sequence[tuple[ArrayLike, Mapping[str, ArrayLike]]],
) -> tuple[F64, dict[str, F64], NDArray[np.bool_]]:
    """Put channels sampled at different times on the union of their time stamps.

    Parameters
    ----------
    channels : sequence of (t_s, {name: values})
        Each channel's times and its arrays (same length as its times).

    Returns
    -------
    t_s : ndarray
        Sorted union of all time stamps.
    arrays : dict
        Every named array on the union times, NaN where its channel has no sample.
    backwards : ndarray of bool
        Rows holding a sample whose time went backwards in its own channel.

    Examples
    --------
    >>> t, a, back = merge_channels([([0.0, 1.0], {"lat": [1.0, 2.0]}),
    ...                              ([0.5, 1.0], {"yaw": [10.0, 20.0]})])
    >>> t.tolist(), a["lat"].tolist(), a["yaw"].tolist()
    ([0.0, 0.5, 1.0], [1.0, nan, 2.0], [nan, 10.0, 20.0])
    """
    times = [np.asarray(t, np.float64).reshape(-1) for t, _ in channels]
    t_all = np.unique(np.concatenate(times)) if times else np.zeros(0)
    out: dict[str, F64] = {}
    back = np.zeros(t_all.size, bool)
    for t, (_, arrays) in zip(times, channels, strict=True):
        idx = np.searchsorted(t_all, t)
        back[idx[backwards_mask(t)]] = True
        for name, values in arrays.items():
            v = np.asarray(values, np.float64).reshape(-1)
            if v.shape != t.shape:
                raise ValueError(f"channel array {name!r} has {v.size} values for {t.size} times")
            dest = out.setdefault(name, np.full(t_all.size, np.nan))
            dest[idx] = v
    return t_all, out, back


def step_fill(t_src: ArrayLike, values: ArrayLike, t_query: ArrayLike, max_age_s: float) -> F64:
    """The latest value at or before each query time, NaN when older than ``max_age_s``.

    Used for slowly varying, non-interpolable data (fix type, satellites, HDOP).

    Examples
    --------
    >>> step_fill([0.0, 1.0], [3, 4], [0.5, 1.0, 9.0], max_age_s=2.0).tolist()
    [3.0, 4.0, nan]
    """
    ts = np.asarray(t_src, np.float64)
    v = np.asarray(values, np.float64)
    tq = np.asarray(t_query, np.float64)
    out = np.full(tq.shape, np.nan)
    if ts.size == 0:
        return out
    order = np.argsort(ts, kind="stable")
    ts, v = ts[order], v[order]
    i = np.searchsorted(ts, tq, side="right") - 1
    ok = i >= 0
    ok[ok] &= (tq[ok] - ts[i[ok]]) <= max_age_s
    out[ok] = v[i[ok]]
    return out


def euler_from_quaternion(
    w: ArrayLike, x: ArrayLike, y: ArrayLike, z: ArrayLike
) -> tuple[F64, F64, F64]:
    """Roll, pitch, yaw (deg) of Hamilton quaternions rotating body (FRD) to NED.

    The inverse of ``R = Rz(yaw) Ry(pitch) Rx(roll)``; yaw in [-180, 180).

    Examples
    --------
    >>> r, p, yw = euler_from_quaternion([np.cos(np.pi / 8)], [0.0], [0.0], [np.sin(np.pi / 8)])
    >>> float(r[0]), float(p[0]), round(float(yw[0]), 6)
    (0.0, 0.0, 45.0)

    A nadir gimbal turned to yaw 45 (gimbal lock), quaternion stored as float32 by MAVLink:

    >>> q = np.float32([0.6532815, 0.2705981, -0.6532815, 0.2705981])
    >>> r, p, yw = euler_from_quaternion(*q)
    >>> round(float(yw), 3), round(float(p), 3), float(r)
    (45.0, -90.0, 0.0)
    """
    q = np.stack(np.broadcast_arrays(*(np.asarray(a, np.float64) for a in (w, x, y, z))))
    with np.errstate(invalid="ignore", divide="ignore"):
        q = q / np.sqrt((q * q).sum(axis=0))
    qw, qx, qy, qz = q[0], q[1], q[2], q[3]
    sinp = np.clip(2 * (qw * qy - qz * qx), -1.0, 1.0)
    roll = np.degrees(np.arctan2(2 * (qw * qx + qy * qz), 1 - 2 * (qx * qx + qy * qy)))
    pitch = np.degrees(np.arcsin(sinp))
    yaw = np.degrees(np.arctan2(2 * (qw * qz + qx * qy), 1 - 2 * (qy * qy + qz * qz)))
    # gimbal lock (a nadir camera): only yaw -/+ roll is defined; as scipy does, roll = 0 and
    # the whole turn is yaw (exact for R = Rz(yaw) Ry(pitch) with no roll)
    lock = 1.0 - np.abs(sinp) < 1e-6
    if np.any(lock):
        roll = np.where(lock, 0.0, roll)
        yaw = np.where(
            lock, np.degrees(np.arctan2(-2 * (qx * qy - qw * qz), 1 - 2 * (qx * qx + qz * qz))), yaw
        )
    yaw = (yaw + 180.0) % 360.0 - 180.0
    return roll + 0.0, pitch + 0.0, yaw + 0.0
