"""Corridor planning (`missions.plan.planner`) against hand computations.

Hand values: the M30T wide camera of the camera table (6.4 mm, 4000 px, 4.5 mm) has
fx = 4.5 / 6.4 * 4000 = 2812.5 px; its 1280x720 video reads the full width, fx = 900 px.
A 1.5 cm GSD at nadir is 0.015 * 900 = 13.5 m, flown 0.3 m lower (the vertical hold error):
13.2 m, GSD 13.2 / 900 = 1.4667 cm. Motion blur of half a pixel in 1/1000 s: v = 0.5 * 0.014667
/ 0.001 = 7.333 m/s. Swath 1280 * 0.014667 = 18.773 m.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import shapely

from geo.frames import LocalFrame
from missions.errors import PlanError
from missions.plan.planner import Aircraft, PlanRequest, plan_corridor

RAIL = str(Path(__file__).resolve().parents[2] / "missions/data/railway_tullnerfelder_bahn.geojson")
DSM = "drone_imagery/odm_p4rtk_taiwan/dsm.tif"


def _line_file(path: Path, xy: np.ndarray, epsg: int = 32633, kind: str = "rail") -> str:
    f = LocalFrame(epsg)
    lon, lat = f.to_lonlat(xy[:, 0], xy[:, 1])
    gj = {"type": "FeatureCollection", "features": [{"type": "Feature",
          "properties": {"kind": kind, "name": "test line"},
          "geometry": {"type": "LineString",
                       "coordinates": [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]}}]}  # fmt: skip
    path.write_text(json.dumps(gj))
    return str(path)


def _straight_then_arc(tmp_path: Path, radius: float = 300.0) -> str:
    """1000 m due east, then a 90-degree left arc of ``radius`` (vertices every 0.5 deg)."""
    x0, y0 = 500000.0, 5350000.0
    straight = np.column_stack([np.linspace(x0, x0 + 1000, 3), np.full(3, y0)])
    ang = np.radians(np.arange(0.5, 90.01, 0.5))
    arc = np.column_stack([x0 + 1000 + radius * np.sin(ang), y0 + radius * (1 - np.cos(ang))])
    return _line_file(tmp_path / "line.geojson", np.vstack([straight, arc]))


@pytest.fixture(scope="module")
def rail_plan():  # type: ignore[no-untyped-def]
    return plan_corridor(PlanRequest(asset=RAIL, from_m=0.0, to_m=2000.0, gsd_m=0.015))


def test_altitude_speed_and_swath_match_the_hand_computation(rail_plan) -> None:  # type: ignore[no-untyped-def]
    p = rail_plan
    assert p.camera.fx_px == pytest.approx(900.0)
    assert p.altitude_agl_m == pytest.approx(13.2, abs=1e-9)
    assert p.gsd_m == pytest.approx(13.2 / 900.0, rel=1e-12)
    assert p.speed_limits_m_s["blur"] == pytest.approx(0.5 * 13.2 / 900 / 0.001, rel=1e-12)
    assert p.speed_m_s == pytest.approx(7.3333, abs=1e-4)
    assert p.swath_m == pytest.approx(1280 * 13.2 / 900, rel=1e-9)
    assert p.footprint_along_m == pytest.approx(720 * 13.2 / 900, rel=1e-9)
    # video at 30 fps: 0.2 of the footprint per frame allows 0.2 * 10.56 * 30 m/s
    assert p.speed_limits_m_s["overlap"] == pytest.approx(0.2 * 10.56 * 30, rel=1e-9)
    assert p.offsets_m == (0.0,)  # 12 m of rail corridor fit one 18.8 m swath


def test_stills_altitude_and_overlap_limited_speed(tmp_path: Path) -> None:
    p = plan_corridor(PlanRequest(asset=RAIL, from_m=0, to_m=500, video=None, gsd_m=0.01,
                                  still_interval_s=2.0))  # fmt: skip
    h = 0.01 * 2812.5 - 0.3
    assert p.altitude_agl_m == pytest.approx(h)
    along = 3000 * h / 2812.5
    assert p.frame_spacing_m == pytest.approx(0.3 * along)  # 70 % forward overlap
    assert p.speed_limits_m_s["overlap"] == pytest.approx(0.3 * along / 2.0)
    assert p.speed_m_s == pytest.approx(min(0.3 * along / 2.0, 0.5 * h / 2812.5 / 0.001, 12.0))


def test_pass_offsets_cover_a_wide_corridor() -> None:
    p = plan_corridor(PlanRequest(asset=RAIL, from_m=100, to_m=600, corridor_width_m=40.0))
    usable = p.swath_m * 0.8 - 2 * 0.5
    n = math.ceil((40 - usable) / usable) + 1
    assert len(p.offsets_m) == n == 3
    spacing = (40 - usable) / (n - 1)
    assert p.offsets_m == pytest.approx((-spacing, 0.0, spacing))
    # the usable swaths together reach both corridor edges, with no gap between them
    assert p.offsets_m[0] - usable / 2 == pytest.approx(-20.0)
    assert p.offsets_m[-1] + usable / 2 == pytest.approx(20.0)
    assert spacing <= usable
    # serpentine: directions alternate, and each pass lies at its offset from the line
    s = p.sorties[0]
    assert [q.direction for q in s.passes] == [1, -1, 1]
    for q in s.passes:
        loc = p.route.locate(q.x_m, q.y_m)
        # Route.locate measures offsets to the right; the plan's are to the left
        assert np.median(-loc.offset_m) == pytest.approx(q.offset_m, abs=0.05)


def test_distance_along_the_line_and_run_in(rail_plan) -> None:  # type: ignore[no-untyped-def]
    p = rail_plan
    q = p.sorties[0].passes[0]
    run_in = p.speed_m_s**2 / 2 + 1.0
    # the single pass at offset 0 is the line itself from -run_in to 2000 + run_in
    assert q.length_m == pytest.approx(2000 + 2 * run_in, abs=0.01)
    assert q.chainage_m[0] == pytest.approx(-run_in, abs=0.01)
    assert q.chainage_m[-1] == pytest.approx(2000 + run_in, abs=0.01)
    # independent: the chainage of the waypoints by projecting them on the route
    inside = (q.chainage_m > 0) & (q.chainage_m < 2000)
    loc = p.route.locate(q.x_m[inside], q.y_m[inside])
    assert np.abs(loc.chainage_m - q.chainage_m[inside]).max() < 0.01
    # flight time = climb + out and back + the pass at speed (+ accel) + landing
    t = p.sorties[0].time_s
    assert t["passes"] == pytest.approx(q.length_m / p.speed_m_s + p.speed_m_s / 1.0)
    assert t["takeoff"] == pytest.approx(13.2 / 3.0)


def test_ground_track_stays_within_tolerance_and_curves_get_waypoints(tmp_path: Path) -> None:
    asset = _straight_then_arc(tmp_path)
    for offset, tol in ((0.0, 0.5), (8.0, 0.2)):
        p = plan_corridor(PlanRequest(asset=asset, from_m=50, to_m=1400, corridor_width_m=1.0,
                                      center_offset_m=offset, track_tolerance_m=tol))  # fmt: skip
        q = p.sorties[0].passes[0]
        track = shapely.LineString(np.column_stack([q.x_m, q.y_m]))
        # the ideal offset line, from the route's own normals every 0.5 m (right +)
        m = np.arange(60.0, 1390.0, 0.5)
        ideal = np.array([p.route.point_at(v, -offset) for v in m])
        dev = shapely.distance(track, shapely.points(ideal))
        assert dev.max() <= tol + 0.02, (offset, dev.max())
        # straight: two waypoints; the arc needs at least its angle / the chord angle for tol
        # (by position: the route may be measured from either end)
        on_straight = np.sum((q.x_m > 500010.0) & (q.x_m < 500990.0))
        assert on_straight <= 1
        arc = q.x_m > 501000.0
        r = float(np.median(np.hypot(q.x_m[arc] - 501000.0, q.y_m[arc] - 5350300.0)))
        # left of the route: inside the arc when the route runs east first (a left turn)
        east_first = p.route.line.coords[0][0] < 500500.0
        assert r == pytest.approx(300.0 - offset if east_first else 300.0 + offset, abs=tol)
        chord = 2 * math.acos(1 - tol / r)
        need = math.ceil((math.pi / 2) / chord)
        on_arc = int(arc.sum())
        assert need - 1 <= on_arc <= 2 * need + 2, (on_arc, need)


def test_sorties_fit_the_battery_and_overlap(tmp_path: Path) -> None:
    ac = Aircraft(endurance_s=600.0, reserve=0.2)
    p = plan_corridor(PlanRequest(asset=RAIL, from_m=0, to_m=4400, aircraft=ac,
                                  sortie_overlap_m=30.0))  # fmt: skip
    assert len(p.sorties) > 1
    for s in p.sorties:
        assert s.flight_s <= 480.0 + 1e-6
        assert s.battery == pytest.approx(s.flight_s / 600.0)
    a = [s.from_m for s in p.sorties]
    b = [s.to_m for s in p.sorties]
    assert a[0] == 0 and b[-1] == pytest.approx(4400)
    for i in range(1, len(a)):
        assert b[i - 1] - a[i] == pytest.approx(30.0)
    # the fewest sorties: with one fewer, each chunk's pass (out at the survey speed, back
    # at the transit speed) alone would exceed the battery
    n = len(p.sorties)
    per = (4400 + (n - 2) * 30.0) / (n - 1)
    assert per / p.speed_m_s + per / 10.0 > 480.0


def _zone(path: Path, p, x: float, y: float, name: str) -> Path:  # type: ignore[no-untyped-def]
    lon, lat = p.frame.to_lonlat(np.array([x - 15, x + 15, x + 15, x - 15]),
                                 np.array([y - 15, y - 15, y + 15, y + 15]))  # fmt: skip
    ring = [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]
    gj = {"type": "FeatureCollection", "features": [{"type": "Feature",
          "properties": {"name": name},
          "geometry": {"type": "Polygon", "coordinates": [ring + [ring[0]]]}}]}  # fmt: skip
    path.write_text(json.dumps(gj))
    return path


def test_nofly_zone_refuses_the_plan_naming_the_leg(tmp_path: Path) -> None:
    import re

    p = plan_corridor(PlanRequest(asset=RAIL, from_m=0, to_m=1500))
    x, y = p.route.point_at(700.0, 0.0)
    zone = _zone(tmp_path / "nofly.geojson", p, x, y, "substation")
    with pytest.raises(PlanError) as err:
        plan_corridor(PlanRequest(asset=RAIL, from_m=0, to_m=1500, nofly=str(zone)))
    msg = str(err.value)
    assert "sortie 1, leg" in msg and "pass 1" in msg and "'substation'" in msg
    assert str(zone) in msg
    # where the leg enters the grid-aligned 30 m square centred on 0+700: 15 m / max(|tx|, |ty|)
    # before its centre along a line of direction (tx, ty)
    x0, y0 = p.route.point_at(690.0, 0.0)
    tx, ty = (x - x0) / 10.0, (y - y0) / 10.0
    (entry,) = re.findall(r"at chainage (\d+)\+(\d+\.\d)", msg)
    expect = 700.0 - 15.0 / max(abs(tx), abs(ty))
    assert float(entry[0]) * 1000 + float(entry[1]) == pytest.approx(expect, abs=0.15)
    # a zone 200 m off the line is fine; a line file is not a zone file
    x2, y2 = p.route.point_at(700.0, 200.0)
    far = _zone(tmp_path / "far.geojson", p, x2, y2, "far")
    ok = plan_corridor(PlanRequest(asset=RAIL, from_m=0, to_m=1500, nofly=str(far)))
    assert ok.n_waypoints == p.n_waypoints
    with pytest.raises(PlanError, match="expected a polygon"):
        plan_corridor(PlanRequest(asset=RAIL, from_m=0, to_m=500, nofly=RAIL))


def test_bad_requests_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="camera model 'NOPE' is not in the table"):
        plan_corridor(PlanRequest(asset=RAIL, from_m=0, to_m=500, camera="NOPE"))
    with pytest.raises(PlanError, match="no route holds chainage"):
        plan_corridor(PlanRequest(asset=RAIL, from_m=0, to_m=50000))
    with pytest.raises(PlanError, match="ceiling"):
        plan_corridor(PlanRequest(asset=RAIL, from_m=0, to_m=500, gsd_m=0.2))
    with pytest.raises(PlanError, match="must be beyond"):
        plan_corridor(PlanRequest(asset=RAIL, from_m=500, to_m=100))
    with pytest.raises(PlanError, match=r"asset file not found"):
        plan_corridor(PlanRequest(asset=str(tmp_path / "none.geojson"), from_m=0, to_m=500))
    with pytest.raises(PlanError, match="video must look like"):
        plan_corridor(PlanRequest(asset=RAIL, from_m=0, to_m=500, video="1280x720"))


@pytest.mark.realdata
def test_terrain_following_keeps_height_within_the_climb_limit(
    tmp_path: Path, shared_data: Path
) -> None:
    from geo.dem import Dem

    dsm = shared_data / DSM
    xy = np.column_stack([np.linspace(292600, 292870, 10), np.full(10, 2731050.0)])
    asset = _line_file(tmp_path / "dsm_line.geojson", xy, epsg=32651)
    p = plan_corridor(PlanRequest(asset=asset, from_m=40, to_m=230, gsd_m=0.02, dem=str(dsm),
                                  corridor_width_m=5.0))  # fmt: skip
    q = p.sorties[0].passes[0]
    assert p.terrain
    dem = Dem.open(dsm, "msl", crs=p.frame.crs)
    # independent: sample the straight legs every 0.5 m and the DEM under them
    line = shapely.LineString(np.column_stack([q.x_m, q.y_m]))
    s_wp = shapely.line_locate_point(line, shapely.points(np.column_stack([q.x_m, q.y_m])))
    s = np.arange(0.0, line.length, 0.5)
    pts = shapely.line_interpolate_point(line, s)
    ground = dem.height_at(shapely.get_x(pts), shapely.get_y(pts))
    z = np.interp(s, s_wp, q.alt_m)
    agl = z - ground
    h = p.altitude_agl_m
    assert np.nanmin(agl) >= h - 0.5 - 0.3  # alt tolerance + DEM cells between 2 m stations
    assert np.ptp(ground[np.isfinite(ground)]) > 3.0  # the DSM is not flat here
    grade = np.abs(np.diff(q.alt_m)) / np.diff(s_wp)
    assert grade.max() <= 3.0 / p.speed_m_s + 1e-9
    assert np.allclose(q.ground_m, dem.height_at(q.x_m, q.y_m))


@pytest.mark.realdata
def test_camera_from_a_photo(shared_data: Path) -> None:
    from missions.plan.camera import plan_camera

    photo = shared_data / "drone_imagery/odm_p4rtk_taiwan/images/100_0005_0018.tif"
    cam = plan_camera(str(photo), video=None)
    # Phantom 4 RTK (FC6310R): 8.8 mm on a 13.2 mm wide sensor; these photos are 1368 px wide:
    # nominal fx = 8.8 / 13.2 * 1368 = 912 px; the photo's own calibration is within 1 %
    assert cam.name.endswith("FC6310R") and cam.width_px == 1368
    assert cam.fx_px == pytest.approx(912.0, rel=0.01)
    p = plan_corridor(PlanRequest(asset=RAIL, from_m=0, to_m=300, camera=str(photo), video=None,
                                  gsd_m=0.02))  # fmt: skip
    assert p.altitude_agl_m == pytest.approx(0.02 * cam.fx_px - 0.3)


def test_home_position_and_multi_pass_warning() -> None:
    base = plan_corridor(PlanRequest(asset=RAIL, from_m=500, to_m=900))
    assert base.warnings == ()
    x, y = base.route.point_at(700.0, 40.0)
    lon, lat = base.frame.to_lonlat(x, y)
    p = plan_corridor(PlanRequest(asset=RAIL, from_m=500, to_m=900, corridor_width_m=40.0,
                                  home_lonlat=(float(lon), float(lat))))  # fmt: skip
    s = p.sorties[0]
    assert s.home_xy == pytest.approx((x, y), abs=1e-6)
    assert s.path.x_m[0] == pytest.approx(x) and s.path.x_m[-1] == pytest.approx(x)
    assert len(p.warnings) == 1 and "3 passes" in p.warnings[0]
