"""Flight plan, true trajectory and the logged-vs-true error model."""

from __future__ import annotations

import numpy as np
import pytest

from missions.errors import SimulationError, TerrainError
from missions.sim.asset import Asset
from missions.sim.corridor import Corridor
from missions.sim.errormodel import ErrorModel, realize
from missions.sim.flight import FlightPlan, plan_trajectory
from missions.sim.geodesy import LocalGrid
from missions.sim.terrain import FlatTerrain, HillyTerrain

T0 = 1_718_184_600.0


def _asset(length: float = 800.0) -> Asset:
    """A straight north-going line east of the central meridian of UTM 33."""
    xy = np.array([[560000.0, 5340000.0], [560000.0, 5340000.0 + length]])
    return Asset(
        "rail",
        LocalGrid.for_epsg(32633),
        Corridor.from_polyline(xy, smooth_m=0.0),
        0.0,
        1.435,
        "test",
        "",
        "",
        length,
    )


def test_perfect_flight_follows_the_plan_exactly() -> None:
    a, terrain = _asset(), FlatTerrain(300.0)
    plan = FlightPlan(
        altitude_agl_m=30.0,
        speed_m_s=5.0,
        offset_m=-4.0,
        gimbal_pitch_deg=-60.0,
        turbulence=0.0,
        wind_m_s=0.0,
    )
    tr = plan_trajectory(a, terrain, plan, (100.0, 400.0), T0, seed=1)
    k = tr.knots
    assert k.t_s[0] == T0
    # 300 m at 5 m/s with 1 m/s2 ramps: 60 s + 5 s
    assert tr.t_end_s - tr.t_start_s == pytest.approx(65.0, abs=0.03)
    assert np.allclose(k.alt_msl_m, 330.0) and np.allclose(tr.agl_m, 30.0)
    assert np.allclose(k.x_m, 560000.0 + 4.0)  # 4 m right of a north-going line = east
    assert np.allclose(k.gimbal_pitch_deg, -60.0) and np.allclose(k.gimbal_roll_deg, 0.0)
    mid = len(k) // 2
    assert np.hypot(k.vn_m_s[mid], k.ve_m_s[mid]) == pytest.approx(5.0 / 0.99962, rel=1e-3)
    # heading: grid north minus the convergence -> true azimuth of grid north
    beta = float(a.grid.convergence_deg(560000.0, 5340200.0))
    assert k.yaw_deg[mid] == pytest.approx(-beta, abs=1e-3)
    assert k.pitch_deg[mid] == pytest.approx(-1.2 * 5.0, abs=0.05)  # nose down for 5 m/s
    p = tr.sample([T0 + 30.0])
    # 5 s ramp (12.5 m), then 25 s at 5 m/s
    assert p.y_m[0] - a.corridor.xy[0, 1] == pytest.approx(100.0 + 12.5 + 5 * 25.0, abs=0.01)


def test_turbulent_flight_stays_near_the_plan() -> None:
    a, terrain = _asset(), HillyTerrain(300.0, 15.0, 500.0, seed=4, origin_xy=(560000.0, 5340000.0))
    plan = FlightPlan(altitude_agl_m=25.0, speed_m_s=4.0, offset_m=2.0, direction=-1)
    tr = plan_trajectory(a, terrain, plan, (100.0, 500.0), T0, seed=2)
    assert np.abs(tr.agl_m - 25.0).max() < 2.0  # terrain following on a smoothed profile
    assert np.abs(tr.knots.x_m - 560000.0 + 2.0).max() < 1.5  # flying south: left is east
    assert tr.s_m[0] > tr.s_m[-1]
    assert np.median(tr.knots.vn_m_s) < -3.5
    assert np.abs(tr.knots.roll_deg).max() < 12 and np.abs(tr.knots.gimbal_roll_deg).max() < 0.4


def test_impossible_plans_fail_clearly() -> None:
    a = _asset()
    with pytest.raises(TerrainError, match="below the terrain"):
        plan_trajectory(a, FlatTerrain(0.0), FlightPlan(altitude_agl_m=0.5), (0.0, 300.0), T0, 1)
    steep = HillyTerrain(300.0, 120.0, 90.0, seed=1, origin_xy=(560000.0, 5340000.0))
    with pytest.raises(TerrainError, match="above the ground at corridor"):
        plan_trajectory(a, steep, FlightPlan(altitude_agl_m=3.0), (0.0, 600.0), T0, 1)
    with pytest.raises(SimulationError, match="too short to reach"):
        plan_trajectory(a, FlatTerrain(0.0), FlightPlan(speed_m_s=20.0), (0.0, 100.0), T0, 1)
    with pytest.raises(SimulationError, match="gimbal_pitch_deg"):
        plan_trajectory(a, FlatTerrain(0.0), FlightPlan(gimbal_pitch_deg=10.0), (0.0, 300.0), T0, 1)


def test_perfect_error_model_logs_the_truth() -> None:
    a, terrain = _asset(), FlatTerrain(300.0)
    tr = plan_trajectory(a, terrain, FlightPlan(), (0.0, 300.0), T0, seed=1)
    nav = realize(ErrorModel.perfect(), tr, a.grid, 300.0, seed=1)
    t = np.linspace(tr.t_start_s, tr.t_end_s, 50)
    v, p = nav.at(t), tr.sample(t)
    assert np.allclose(v["x_m"], p.x_m) and np.allclose(v["y_m"], p.y_m)
    assert np.allclose(v["rel_alt_m"], p.alt_msl_m - 300.0)
    assert np.allclose(v["gimbal_yaw_deg"], p.gimbal_yaw_deg) and np.allclose(
        v["yaw_deg"], p.yaw_deg
    )
    assert nav.errors.rgb_clock_offset_s == 0.0 and nav.errors.link_dropouts_utc_s == []
    assert nav.geoid_m == pytest.approx(46.0, abs=1.5)  # EGM96 near St. Poelten


@pytest.mark.parametrize("gnss,h_sigma", [("standard", 1.2), ("rtk", 0.015)])
def test_realistic_error_model(gnss: str, h_sigma: float) -> None:
    a, terrain = _asset(1500.0), FlatTerrain(300.0)
    tr = plan_trajectory(a, terrain, FlightPlan(speed_m_s=5.0), (0.0, 1400.0), T0, seed=3)
    nav = realize(ErrorModel(gnss=gnss), tr, a.grid, 300.0, seed=3)
    e = nav.errors
    assert len(e.gnss_outages_utc_s) == 1 and len(e.link_dropouts_utc_s) == 1
    t = np.arange(tr.t_start_s, tr.t_end_s, 0.1)
    v, p = nav.at(t), tr.sample(t)
    ok = ~nav.in_outage(t)
    herr = np.hypot(v["x_m"] - p.x_m, v["y_m"] - p.y_m)[ok]
    assert 0.1 * h_sigma < np.sqrt(np.mean(herr**2)) < 4 * h_sigma
    # during the outage the solution dead-reckons: the error grows with time
    a0, b0 = e.gnss_outages_utc_s[0]
    inside = (t >= a0) & (t <= b0)
    d = (
        np.hypot(v["x_m"] - p.x_m, v["y_m"] - p.y_m)[inside]
        - np.hypot(v["x_m"] - p.x_m, v["y_m"] - p.y_m)[inside][0]
    )
    assert np.abs(d[-1]) > np.abs(d[len(d) // 4]) - 0.05
    # constant biases are what the realisation says
    assert np.mean(v["yaw_deg"] - p.yaw_deg) == pytest.approx(e.yaw_bias_deg, abs=0.3)
    baro = v["rel_alt_m"] - (p.alt_msl_m - 300.0) - e.baro_drift_m_per_min * (t - tr.t_start_s) / 60
    assert np.mean(baro) == pytest.approx(e.baro_bias_m, abs=0.02)
    assert abs(e.rgb_clock_offset_s) <= 0.6 and e.rgb_clock_offset_s != e.thermal_clock_offset_s
    # same seed, same realisation
    again = realize(ErrorModel(gnss=gnss), tr, a.grid, 300.0, seed=3)
    assert again.errors == e and np.array_equal(again.at(t[:20])["lat_deg"], v["lat_deg"][:20])


def test_error_model_rejects_bad_parameters() -> None:
    tr = plan_trajectory(_asset(), FlatTerrain(0.0), FlightPlan(), (0.0, 300.0), T0, 1)
    with pytest.raises(SimulationError, match="gnss must be"):
        realize(ErrorModel(gnss="ppk"), tr, _asset().grid, 0.0, 1)
