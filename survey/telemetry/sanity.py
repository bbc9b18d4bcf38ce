"""Sanity filters: flag (never drop) GNSS glitches and clock faults in a pose track.

Checked, in this order, on the samples that carry a position:

* missing positions, (0, 0) positions and coordinates out of range;
* receiver fix worse than the configured minimum (when the log reports a fix type);
* time going backwards or standing still (a repeated time stamp);
* jumps: a sample reachable from the last good one only faster than ``max_speed_mps`` (plus
  ``position_tolerance_m`` of noise). A run of "jumped" samples that agree with each other for
  longer than the run before it is taken as the aircraft really being there (the earlier
  stretch was the glitch), so one bad first fix cannot condemn a whole flight;
* altitude spikes: a climb or descent faster than ``max_vertical_speed_mps``.

Flagged samples keep their values; :attr:`PoseTrack.flags` says why, the interpolation skips
them, and :attr:`PoseTrack.warnings` summarises what was found.
"""

from __future__ import annotations

import numpy as np

from survey.config import TelemetryConfig
from survey.telemetry.channels import backwards_mask
from survey.telemetry.geodesy import haversine_m
from survey.telemetry.track import PoseTrack, SampleFlag

__all__ = ["check_track"]


def _u16(flag: SampleFlag) -> np.uint16:
    return np.uint16(int(flag))


def _jumps(
    t: np.ndarray, lat: np.ndarray, lon: np.ndarray, max_speed: float, tol_m: float
) -> np.ndarray:
    """Indices (into the given arrays) of samples reached implausibly fast.

    Sequential: each sample is compared with the last accepted one. Rejected samples that form
    a self-consistent run longer than the accepted run since the previous jump replace it.
    """
    n = t.size
    bad = np.zeros(n, bool)
    if n < 2:
        return bad
    step = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])
    if np.all(step <= max_speed * np.maximum(np.diff(t), 0.0) + tol_m):
        return bad  # nothing implausible between neighbours: no sequential pass needed
    last = 0
    run_start = 0  # first index of the current accepted run
    pending: list[int] = []  # rejected, mutually consistent candidates
    for i in range(1, n):
        dt = max(t[i] - t[last], 0.0)
        d = haversine_m(lat[last], lon[last], lat[i], lon[i])
        if d <= max_speed * dt + tol_m:
            last = i
            pending.clear()
            continue
        bad[i] = True
        if pending:
            j = pending[-1]
            dj = haversine_m(lat[j], lon[j], lat[i], lon[i])
            if dj > max_speed * max(t[i] - t[j], 0.0) + tol_m:
                pending.clear()
        pending.append(i)
        accepted_run = int((~bad[run_start : pending[0]]).sum())
        if len(pending) > max(3, accepted_run):
            # the aircraft is where the "jumped" samples say: the earlier run was the glitch
            bad[run_start : pending[0]] |= True
            bad[pending] = False
            run_start = pending[0]
            last = i
            pending.clear()
    return bad


def check_track(track: PoseTrack, config: TelemetryConfig | None = None) -> PoseTrack:
    """Flag implausible samples of ``track`` (see the module notes); returns a new track.

    Examples
    --------
    A 1 Hz track at 10 m/s with one sample 5 km away and a (0, 0) fix:

    >>> lat = 47.0 + np.arange(6) * 10 / 111_195
    >>> lat[2] += 0.045
    >>> lat[4] = 0.0
    >>> lon = np.full(6, 8.0); lon[4] = 0.0
    >>> tr = check_track(PoseTrack.build(np.arange(6.0), lat_deg=lat, lon_deg=lon))
    >>> tr.flag_counts()
    {'zero_position': 1, 'speed_jump': 1}
    >>> tr.position_ok.tolist()
    [True, True, False, True, False, True]
    """
    cfg = config or TelemetryConfig()
    n = len(track)
    flags = track.flags.copy()
    lat, lon, t = track.lat_deg, track.lon_deg, track.t_s
    warnings: list[str] = []
    has_pos = np.isfinite(lat) & np.isfinite(lon)
    zero = has_pos & (lat == 0) & (lon == 0)
    flags[zero] |= _u16(SampleFlag.ZERO_POSITION)
    rng = has_pos & ((np.abs(lat) > 90) | (np.abs(lon) > 180))
    flags[rng] |= _u16(SampleFlag.OUT_OF_RANGE)
    known_fix = track.fix_type >= 0
    nofix = has_pos & known_fix & (track.fix_type < cfg.min_fix_type)
    flags[nofix] |= _u16(SampleFlag.NO_FIX)
    finite_t = np.isfinite(t)
    back = np.zeros(n, bool)
    back[finite_t] = backwards_mask(t[finite_t])
    flags[back] |= _u16(SampleFlag.TIME_BACKWARDS)
    flags[~finite_t] |= _u16(SampleFlag.NO_POSITION)
    dup = np.zeros(n, bool)
    idx_t = np.flatnonzero(finite_t & ~back)
    if idx_t.size > 1:
        dup[idx_t[1:][np.diff(t[idx_t]) == 0]] = True
    flags[dup] |= _u16(SampleFlag.TIME_DUPLICATE)

    pre_bad = (
        flags
        & np.uint16(
            int(
                SampleFlag.NO_POSITION
                | SampleFlag.ZERO_POSITION
                | SampleFlag.OUT_OF_RANGE
                | SampleFlag.NO_FIX
                | SampleFlag.TIME_BACKWARDS
                | SampleFlag.TIME_DUPLICATE
            )
        )
    ) != 0
    cand = np.flatnonzero(has_pos & ~pre_bad)
    jump_idx = cand[
        _jumps(t[cand], lat[cand], lon[cand], cfg.max_speed_mps, cfg.position_tolerance_m)
    ]
    flags[jump_idx] |= _u16(SampleFlag.SPEED_JUMP)

    alt = track.alt_m
    good = np.flatnonzero(
        has_pos & ~pre_bad & np.isfinite(alt) & ((flags & _u16(SampleFlag.SPEED_JUMP)) == 0)
    )
    if good.size >= 3:
        a, tt = alt[good], t[good]
        padded = np.pad(a, 2, mode="edge")
        med = np.median(np.lib.stride_tricks.sliding_window_view(padded, 5), axis=1)
        dt_n = np.empty(a.size)
        dt_n[1:-1] = np.minimum(tt[1:-1] - tt[:-2], tt[2:] - tt[1:-1])
        dt_n[0], dt_n[-1] = tt[1] - tt[0], tt[-1] - tt[-2]
        spike = np.abs(a - med) > cfg.max_vertical_speed_mps * dt_n + cfg.altitude_tolerance_m
        flags[good[spike]] |= _u16(SampleFlag.ALT_SPIKE)

    out = track.replace(flags=flags)
    added = track.replace(flags=flags & ~track.flags)  # warn only about what this check found
    counts = added.flag_counts()
    labels = {
        "no_position": "without a position",
        "zero_position": "at (0, 0)",
        "out_of_range": "with coordinates out of range",
        "no_fix": f"with a GNSS fix type below {cfg.min_fix_type}",
        "time_backwards": "with time going backwards",
        "time_duplicate": "with a repeated time stamp",
        "speed_jump": f"jumping faster than {cfg.max_speed_mps:g} m/s (GNSS glitch)",
        "alt_spike": f"with altitude spikes (faster than {cfg.max_vertical_speed_mps:g} m/s vertically)",
    }
    for key, c in counts.items():
        first = int(np.flatnonzero(added.flags & _u16(SampleFlag[key.upper()]))[0])
        msg = f"{c} samples {labels[key]}, first at t={t[first]:.3f} s (sample {first})"
        if not any(w.startswith(f"{c} samples {labels[key]}") for w in track.warnings):
            warnings.append(msg)
    if track.gimbal_mode == "absolute" and track.has("gimbal_pitch_deg"):
        up = np.isfinite(track.gimbal_pitch_deg) & (track.gimbal_pitch_deg >= 0)
        if up.any():
            warnings.append(
                f"{int(up.sum())} samples with the camera at or above the horizon (gimbal pitch >= 0): no ground in view"
            )
    return out.with_warnings(*warnings)
