"""The flight plan and the true trajectory of the simulated aircraft.

The aircraft flies along the asset at ``altitude_agl_m`` above the (smoothed) terrain under its
path, ``offset_m`` to the left of the centreline (negative: right), at ``speed_m_s`` with gentle
acceleration at both ends. Wind and turbulence make the true path wander a little around the
plan (Gauss-Markov processes), tilt the airframe (pitch forward for speed, roll into the
crosswind) and jitter the stabilised gimbal. Everything is seeded.

:class:`Trajectory` holds the true state at 50 Hz knots and interpolates it at any time; poses
come out as a struct of arrays (:class:`Poses`). Times are UTC POSIX seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import ArrayLike, NDArray

from missions.errors import SimulationError, TerrainError
from missions.sim.asset import Asset
from missions.sim.terrain import Terrain

__all__ = ["FlightPlan", "Poses", "Trajectory", "gauss_markov", "plan_trajectory"]

F64 = NDArray[np.float64]
KNOT_HZ = 50.0


@dataclass(frozen=True)
class FlightPlan:
    """What the pilot (or the mission planner) asked for."""

    altitude_agl_m: float = 25.0
    speed_m_s: float = 4.0
    offset_m: float = 0.0
    gimbal_pitch_deg: float = -90.0
    gimbal_yaw_offset_deg: float = 0.0  # camera yaw relative to the direction of flight
    direction: int = 1  # +1 toward increasing chainage, -1 against
    accel_m_s2: float = 1.0
    wind_m_s: float = 3.0
    turbulence: float = 1.0  # scales all true-path disturbances (0 = a perfect flight)

    def check(self) -> None:
        """Raise :class:`SimulationError` for impossible values."""
        if not 2.0 <= self.altitude_agl_m <= 500.0:
            raise TerrainError(
                f"altitude_agl_m must be 2..500 m above the ground (got {self.altitude_agl_m}); "
                "the aircraft would be at or below the terrain"
            )
        if not 0.5 <= self.speed_m_s <= 25.0:
            raise SimulationError(f"speed_m_s must be 0.5..25 m/s, got {self.speed_m_s}")
        if not -90.0 <= self.gimbal_pitch_deg <= 0.0:
            raise SimulationError(f"gimbal_pitch_deg must be -90..0, got {self.gimbal_pitch_deg}")
        if self.direction not in (1, -1):
            raise SimulationError(f"direction must be 1 or -1, got {self.direction}")
        if abs(self.offset_m) > 200.0:
            raise SimulationError(f"offset_m must be within +-200 m, got {self.offset_m}")


@dataclass
class Poses:
    """True (or logged) aircraft states at times ``t_s`` (parallel arrays).

    Position: grid x/y of the aircraft reference point (the GNSS antenna), MSL altitude.
    Attitudes: vehicle and absolute gimbal angles (degrees, NED, Z-Y-X). Velocity: NED m/s.
    """

    t_s: F64
    x_m: F64
    y_m: F64
    alt_msl_m: F64
    yaw_deg: F64
    pitch_deg: F64
    roll_deg: F64
    gimbal_yaw_deg: F64
    gimbal_pitch_deg: F64
    gimbal_roll_deg: F64
    vn_m_s: F64
    ve_m_s: F64
    vd_m_s: F64

    def __len__(self) -> int:
        return len(self.t_s)

    def take(self, idx: ArrayLike) -> Poses:
        """A subset (index array or boolean mask)."""
        return Poses(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})


def gauss_markov(rng: np.random.Generator, n: int, dt: float, sigma: float, tau: float) -> F64:
    """A stationary first-order Gauss-Markov sequence (std ``sigma``, correlation time ``tau``).

    >>> x = gauss_markov(np.random.default_rng(0), 200_000, 0.1, 2.0, 5.0)
    >>> round(float(x.std()), 1)
    2.0
    """
    if n <= 0:
        return np.zeros(0)
    if sigma == 0:
        return np.zeros(n)
    phi = math.exp(-dt / tau)
    q = sigma * math.sqrt(1 - phi * phi)
    e = rng.normal(0.0, 1.0, n)
    e[0] = e[0] * sigma / q if q > 0 else 0.0
    from scipy.signal import lfilter

    return lfilter([q], [1.0, -phi], e)


def _wrap(a: F64) -> F64:
    return (a + 180.0) % 360.0 - 180.0


class Trajectory:
    """The true state at knots, interpolated at any time (linear; 50 Hz knots)."""

    def __init__(self, knots: Poses, t0_s: float, s_of_t: F64, agl_m: F64) -> None:
        self.knots, self.t0_s = knots, t0_s
        self.s_m = s_of_t  # corridor distance of the nominal path at each knot
        self.agl_m = agl_m  # true height above the terrain right below, at each knot
        self._unwrapped = {
            n: np.degrees(np.unwrap(np.radians(getattr(knots, n))))
            for n in ("yaw_deg", "gimbal_yaw_deg")
        }

    @property
    def t_start_s(self) -> float:
        """First time with a state."""
        return float(self.knots.t_s[0])

    @property
    def t_end_s(self) -> float:
        """Last time with a state."""
        return float(self.knots.t_s[-1])

    def sample(self, t_s: ArrayLike) -> Poses:
        """States at times ``t_s`` (UTC POSIX seconds), clamped to the trajectory's span."""
        t = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
        k = self.knots
        out = {}
        for f in fields(k):
            if f.name == "t_s":
                continue
            src = self._unwrapped.get(f.name, getattr(k, f.name))
            v = np.interp(t, k.t_s, src)
            out[f.name] = _wrap(v) if f.name in self._unwrapped else v
        return Poses(t_s=t, **out)

    def s_at(self, t_s: ArrayLike) -> F64:
        """Corridor distance of the nominal path point at ``t_s``."""
        return np.interp(np.asarray(t_s, float), self.knots.t_s, self.s_m)


def _profile(asset: Asset, terrain: Terrain, s: F64, offset: float) -> F64:
    p = asset.corridor.to_world(s, np.full_like(s, offset))
    return terrain.height(p[:, 0], p[:, 1])


def plan_trajectory(
    asset: Asset,
    terrain: Terrain,
    plan: FlightPlan,
    flown_s: tuple[float, float],
    t0_s: float,
    seed: int,
) -> Trajectory:
    """Fly ``plan`` over the corridor stretch ``flown_s``, starting at UTC ``t0_s``."""
    plan.check()
    rng = np.random.default_rng([seed, 0xF11E])
    a, b = flown_s
    length = b - a
    v, acc = plan.speed_m_s, plan.accel_m_s2
    t_acc = v / acc
    d_acc = 0.5 * acc * t_acc**2
    if 2 * d_acc > length:
        raise SimulationError(f"the stretch ({length:.0f} m) is too short to reach {v} m/s")
    duration = 2 * t_acc + (length - 2 * d_acc) / v
    n = int(math.ceil(duration * KNOT_HZ)) + 1
    tt = np.arange(n) / KNOT_HZ
    along = np.where(
        tt < t_acc,
        0.5 * acc * tt**2,
        np.where(
            tt < duration - t_acc,
            d_acc + v * (tt - t_acc),
            length - 0.5 * acc * np.clip(duration - tt, 0, None) ** 2,
        ),
    )
    along = np.clip(along, 0.0, length)
    dt = 1.0 / KNOT_HZ
    turb = plan.turbulence
    along = along + gauss_markov(rng, n, dt, 0.15 * turb, 3.0) * np.sin(np.pi * tt / duration)
    s_path = a + along if plan.direction == 1 else b - along
    lateral = plan.offset_m + gauss_markov(rng, n, dt, 0.25 * turb, 4.0)
    xy = asset.corridor.to_world(s_path, lateral)
    # terrain following on a smoothed profile of the ground under the path
    step = 1.0
    s_prof = np.arange(min(s_path) - 30, max(s_path) + 30 + step, step)
    ground = _profile(asset, terrain, s_prof, plan.offset_m)
    from scipy.ndimage import gaussian_filter1d

    smooth = gaussian_filter1d(ground, 10.0 / step, mode="nearest")
    z = np.interp(s_path, s_prof, smooth) + plan.altitude_agl_m
    z = z + gauss_markov(rng, n, dt, 0.12 * turb, 3.0)
    ground_true = terrain.height(xy[:, 0], xy[:, 1])
    agl = z - ground_true
    if np.min(agl) < 1.0:
        i = int(np.argmin(agl))
        raise TerrainError(
            f"the flight would pass {agl[i]:.1f} m above the ground at corridor {s_path[i]:.0f} m; "
            "raise altitude_agl_m"
        )
    # velocities (grid) -> NED with the convergence and scale at the middle of the flight
    mid = n // 2
    beta = math.radians(float(asset.grid.convergence_deg(xy[mid, 0], xy[mid, 1])))
    k = float(asset.grid.scale_factor(xy[mid, 0], xy[mid, 1]))
    vx, vy, vz = (np.gradient(c, tt) for c in (xy[:, 0], xy[:, 1], z))
    ve = (vx * math.cos(beta) - vy * math.sin(beta)) / k
    vn = (vx * math.sin(beta) + vy * math.cos(beta)) / k
    vd = -vz
    # heading: along the direction of flight (true north reference), smooth
    az_grid = asset.corridor.azimuth_deg(s_path) + (0.0 if plan.direction == 1 else 180.0)
    yaw_nom = _wrap(az_grid - math.degrees(beta))
    wind_dir = rng.uniform(0, 360)
    w_n, w_e = (
        plan.wind_m_s * math.cos(math.radians(wind_dir)),
        plan.wind_m_s * math.sin(math.radians(wind_dir)),
    )
    yaw_r = np.radians(yaw_nom)
    # air-relative velocity in body axes -> tilt (about 1.2 deg per m/s of airspeed)
    air_n, air_e = vn - w_n, ve - w_e
    fwd = air_n * np.cos(yaw_r) + air_e * np.sin(yaw_r)
    right = -air_n * np.sin(yaw_r) + air_e * np.cos(yaw_r)
    pitch = -1.2 * fwd + gauss_markov(rng, n, dt, 0.7 * turb, 1.0)
    roll = 1.2 * right + gauss_markov(rng, n, dt, 0.7 * turb, 1.0)
    yaw = _wrap(yaw_nom + gauss_markov(rng, n, dt, 0.4 * turb, 2.0))
    # the gimbal follows the heading with a lag, holds pitch and roll (absolute angles)
    g_yaw = np.degrees(np.unwrap(np.radians(yaw)))
    alpha = dt / 0.5
    from scipy.signal import lfilter

    g_yaw = lfilter([alpha], [1.0, alpha - 1.0], g_yaw - g_yaw[0]) + g_yaw[0]
    g_yaw = _wrap(g_yaw + plan.gimbal_yaw_offset_deg)
    g_pitch = plan.gimbal_pitch_deg + gauss_markov(rng, n, dt, 0.05 * turb, 0.5)
    g_pitch = np.clip(g_pitch, -90.0, 0.0)
    g_roll = gauss_markov(rng, n, dt, 0.05 * turb, 0.5)
    knots = Poses(
        t_s=t0_s + tt,
        x_m=xy[:, 0],
        y_m=xy[:, 1],
        alt_msl_m=z,
        yaw_deg=yaw,
        pitch_deg=pitch,
        roll_deg=roll,
        gimbal_yaw_deg=g_yaw,
        gimbal_pitch_deg=g_pitch,
        gimbal_roll_deg=g_roll,
        vn_m_s=vn,
        ve_m_s=ve,
        vd_m_s=vd,
    )
    return Trajectory(knots, t0_s, s_path, agl)
