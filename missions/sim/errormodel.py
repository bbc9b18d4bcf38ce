"""The error model: what the aircraft *logs* differs from what it *does*.

:class:`ErrorModel` holds the parameters (``None`` means "draw a realistic value from the seed");
:func:`realize` draws one realisation for a trajectory and returns a :class:`LoggedNav`, which
gives the logged navigation solution at any true time. The realised numbers (biases, clock
offsets, dropout windows) are written to ``truth/scenario.json``.

Errors modelled:

- GNSS position: a Gauss-Markov wander (standard: 1.2 m horizontal / 2.5 m vertical, 60 s;
  RTK fixed: 1.5 / 3 cm) plus white noise (3 cm standard, 4 mm RTK: the fused solution); during a GNSS outage the solution dead-reckons and
  drifts (0.3 m/s per axis) and the receiver reports no fix.
- Barometric relative altitude: a constant bias, a linear drift and noise.
- Attitude: noise on roll/pitch/yaw and a constant compass yaw bias, inherited by the logged
  gimbal yaw (the gimbal's yaw reference is the aircraft heading); gimbal angle noise.
- Clocks: the RGB and the thermal camera clocks run offset from true UTC (the timestamps in
  SRT, EXIF and R-JPEG files are camera clock); the autopilot log uses GNSS time plus
  ``log_clock_offset_s``.
- Telemetry-link dropouts: windows with no messages in the ``.tlog`` (the onboard CSV is
  complete).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from missions.errors import SimulationError
from missions.sim.flight import Poses, Trajectory, gauss_markov
from missions.sim.geodesy import LocalGrid

__all__ = ["ErrorModel", "LoggedNav", "RealizedErrors", "realize"]

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class ErrorModel:
    """Parameters of the logged-vs-true errors; ``None`` = draw from the seed."""

    gnss: str = "standard"  # "standard" or "rtk"
    gnss_h_sigma_m: float | None = None
    gnss_v_sigma_m: float | None = None
    gnss_tau_s: float = 60.0
    gnss_white_m: float | None = None
    baro_bias_m: float | None = None
    baro_drift_m_per_min: float = 0.12
    baro_noise_m: float = 0.04
    attitude_sigma_deg: float = 0.15
    yaw_sigma_deg: float = 0.3
    yaw_bias_deg: float | None = None
    gimbal_sigma_deg: float = 0.05
    rgb_clock_offset_s: float | None = None
    thermal_clock_offset_s: float | None = None
    log_clock_offset_s: float = 0.0
    link_dropouts: int = 1
    link_dropout_s: float = 3.0
    gnss_outages: int = 1
    gnss_outage_s: float = 6.0

    def check(self) -> None:
        """Raise :class:`SimulationError` for invalid parameters."""
        if self.gnss not in ("standard", "rtk"):
            raise SimulationError(f"gnss must be 'standard' or 'rtk', got {self.gnss!r}")
        for name in ("link_dropouts", "gnss_outages"):
            if getattr(self, name) < 0:
                raise SimulationError(f"{name} must be >= 0")

    @staticmethod
    def perfect() -> ErrorModel:
        """No errors at all (logged = true), for geometry tests."""
        return ErrorModel(
            gnss="rtk",
            gnss_h_sigma_m=0.0,
            gnss_v_sigma_m=0.0,
            gnss_white_m=0.0,
            baro_bias_m=0.0,
            baro_drift_m_per_min=0.0,
            baro_noise_m=0.0,
            attitude_sigma_deg=0.0,
            yaw_sigma_deg=0.0,
            yaw_bias_deg=0.0,
            gimbal_sigma_deg=0.0,
            rgb_clock_offset_s=0.0,
            thermal_clock_offset_s=0.0,
            link_dropouts=0,
            gnss_outages=0,
        )


@dataclass(frozen=True)
class RealizedErrors:
    """The drawn values of one realisation (written to the truth JSON)."""

    gnss: str
    gnss_h_sigma_m: float
    gnss_v_sigma_m: float
    gnss_white_m: float
    baro_bias_m: float
    baro_drift_m_per_min: float
    yaw_bias_deg: float
    rgb_clock_offset_s: float
    thermal_clock_offset_s: float
    log_clock_offset_s: float
    link_dropouts_utc_s: list[tuple[float, float]]
    gnss_outages_utc_s: list[tuple[float, float]]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return asdict(self)


@dataclass
class LoggedNav:
    """The logged navigation solution as a function of true time."""

    errors: RealizedErrors
    model: ErrorModel
    grid: LocalGrid
    traj: Trajectory
    home_alt_msl_true_m: float
    home_alt_msl_logged_m: float
    geoid_m: float
    _knots_t: F64
    _e: F64  # (n, 3) GNSS position error, metres east/north/up (ground metres)
    _att: F64  # (n, 3) roll, pitch, yaw noise (deg)
    _gim: F64  # (n, 3) gimbal noise (deg)
    _baro: F64  # (n,) baro noise (m)
    _M: F64  # grid-from-NED matrix at the middle of the flight

    def in_outage(self, t: ArrayLike) -> NDArray[np.bool_]:
        """True at times inside a GNSS outage."""
        tt = np.asarray(t, float)
        out = np.zeros(tt.shape, bool)
        for a, b in self.errors.gnss_outages_utc_s:
            out |= (tt >= a) & (tt <= b)
        return out

    def in_link_dropout(self, t: ArrayLike) -> NDArray[np.bool_]:
        """True at times inside a telemetry-link dropout."""
        tt = np.asarray(t, float)
        out = np.zeros(tt.shape, bool)
        for a, b in self.errors.link_dropouts_utc_s:
            out |= (tt >= a) & (tt < b)
        return out

    def true(self, t: ArrayLike) -> Poses:
        """True states at ``t``."""
        return self.traj.sample(t)

    def at(self, t: ArrayLike) -> dict[str, F64]:
        """Logged values at true times ``t`` (arrays): lat/lon (deg), alt_msl_m (GNSS),
        alt_ellipsoid_m, rel_alt_m (baro, from take-off), yaw/pitch/roll_deg, gimbal_*_deg
        (absolute), vn/ve/vd (m/s), x_m/y_m (grid of the logged position)."""
        tt = np.atleast_1d(np.asarray(t, float))
        p = self.traj.sample(tt)
        e = np.column_stack([np.interp(tt, self._knots_t, self._e[:, i]) for i in range(3)])
        ned = np.column_stack([e[:, 1], e[:, 0], -e[:, 2]])
        g = ned @ self._M.T
        x, y = p.x_m + g[:, 0], p.y_m + g[:, 1]
        lon, lat = self.grid.to_lonlat(x, y)
        alt = p.alt_msl_m + e[:, 2]
        rel = (
            p.alt_msl_m
            - self.home_alt_msl_true_m
            + self.errors.baro_bias_m
            + self.errors.baro_drift_m_per_min * (tt - self.traj.t_start_s) / 60.0
            + np.interp(tt, self._knots_t, self._baro)
        )
        att = np.column_stack([np.interp(tt, self._knots_t, self._att[:, i]) for i in range(3)])
        gim = np.column_stack([np.interp(tt, self._knots_t, self._gim[:, i]) for i in range(3)])
        yb = self.errors.yaw_bias_deg

        def wrap(a: F64) -> F64:
            return (a + 180.0) % 360.0 - 180.0

        return {
            "t_s": tt,
            "x_m": x,
            "y_m": y,
            "lat_deg": lat,
            "lon_deg": lon,
            "alt_msl_m": alt,
            "alt_ellipsoid_m": alt + self.geoid_m,
            "rel_alt_m": rel,
            "roll_deg": p.roll_deg + att[:, 0],
            "pitch_deg": p.pitch_deg + att[:, 1],
            "yaw_deg": wrap(p.yaw_deg + yb + att[:, 2]),
            "gimbal_roll_deg": p.gimbal_roll_deg + gim[:, 0],
            "gimbal_pitch_deg": np.clip(p.gimbal_pitch_deg + gim[:, 1], -90.0, 30.0),
            "gimbal_yaw_deg": wrap(p.gimbal_yaw_deg + yb + gim[:, 2]),
            "vn_m_s": p.vn_m_s,
            "ve_m_s": p.ve_m_s,
            "vd_m_s": p.vd_m_s,
            "gnss_ok": (~self.in_outage(tt)).astype(np.float64),
        }


def _windows(
    rng: np.random.Generator, n: int, dur: float, t0: float, t1: float
) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    span = t1 - t0
    if n <= 0 or span <= 3 * dur:
        return out
    for _ in range(n):
        a = float(rng.uniform(t0 + 0.15 * span, t1 - 0.15 * span - dur))
        out.append((a, a + dur))
    return sorted(out)


def realize(
    model: ErrorModel, traj: Trajectory, grid: LocalGrid, home_alt_msl_m: float, seed: int
) -> LoggedNav:
    """Draw one realisation of ``model`` for ``traj`` (seeded)."""
    model.check()
    rng = np.random.default_rng([seed, 0xE220])
    rtk = model.gnss == "rtk"

    def pick(v: float | None, default: float) -> float:
        return default if v is None else float(v)

    h_sig = pick(model.gnss_h_sigma_m, 0.015 if rtk else 1.2)
    v_sig = pick(model.gnss_v_sigma_m, 0.03 if rtk else 2.5)
    white = pick(model.gnss_white_m, 0.004 if rtk else 0.03)
    baro_bias = pick(model.baro_bias_m, float(rng.normal(0.0, 0.8)))
    yaw_bias = pick(model.yaw_bias_deg, float(rng.normal(0.0, 0.5 if rtk else 1.5)))
    rgb_clk = pick(model.rgb_clock_offset_s, float(rng.uniform(-0.6, 0.6)))
    th_clk = pick(model.thermal_clock_offset_s, float(rng.uniform(-0.6, 0.6)))
    t0, t1 = traj.t_start_s, traj.t_end_s
    link = _windows(rng, model.link_dropouts, model.link_dropout_s, t0, t1)
    outages = _windows(rng, model.gnss_outages, model.gnss_outage_s, t0, t1)
    dt = 0.1
    kt = np.arange(t0 - 200.0, t1 + 20.0, dt, dtype=np.float64)  # the log starts before the survey
    n = len(kt)
    tau = 30.0 if rtk else model.gnss_tau_s
    e = np.column_stack(
        [
            gauss_markov(rng, n, dt, h_sig / math.sqrt(2), tau)
            + rng.normal(0, white / math.sqrt(2), n),
            gauss_markov(rng, n, dt, h_sig / math.sqrt(2), tau)
            + rng.normal(0, white / math.sqrt(2), n),
            gauss_markov(rng, n, dt, v_sig, tau) + rng.normal(0, white * 1.5, n),
        ]
    )
    for a, b in outages:
        inside = (kt >= a) & (kt <= b)
        if inside.any():
            i0 = int(np.argmax(inside))
            drift = rng.normal(0.0, 0.3, 3)
            e[inside] = e[i0] + np.outer(kt[inside] - kt[i0], drift)
    att = np.column_stack(
        [
            rng.normal(0, model.attitude_sigma_deg, n),
            rng.normal(0, model.attitude_sigma_deg, n),
            gauss_markov(rng, n, dt, model.yaw_sigma_deg, 5.0),
        ]
    )
    gim = rng.normal(0, model.gimbal_sigma_deg, (n, 3))
    baro = rng.normal(0, model.baro_noise_m, n)
    errors = RealizedErrors(
        gnss=model.gnss,
        gnss_h_sigma_m=h_sig,
        gnss_v_sigma_m=v_sig,
        gnss_white_m=white,
        baro_bias_m=baro_bias,
        baro_drift_m_per_min=model.baro_drift_m_per_min,
        yaw_bias_deg=yaw_bias,
        rgb_clock_offset_s=rgb_clk,
        thermal_clock_offset_s=th_clk,
        log_clock_offset_s=model.log_clock_offset_s,
        link_dropouts_utc_s=link,
        gnss_outages_utc_s=outages,
    )
    k = traj.knots
    lon, lat = grid.to_lonlat(k.x_m[:1], k.y_m[:1])
    geoid = float(grid.geoid_undulation_m(float(lon[0]), float(lat[0])))
    home_logged = home_alt_msl_m + float(np.interp(t0, kt, e[:, 2]))
    mid = len(k.t_s) // 2
    M = grid.grid_from_ned(float(k.x_m[mid]), float(k.y_m[mid]))
    return LoggedNav(
        errors, model, grid, traj, home_alt_msl_m, home_logged, geoid, kt, e, att, gim, baro, M
    )
