"""Chainage formats, measure equations, route building and linear referencing, checked
against shapely on the real St. Poelten OSM railway lines."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
import shapely.ops

from geo import (
    LocateStatus,
    MeasureEquation,
    Route,
    RouteSet,
    build_routes,
    format_chainage,
    format_km,
    format_miles_chains,
    load_network,
    orient_route,
    parse_chainage,
)
from geo.errors import GeoFileNotFoundError, GeoFormatError, RouteError


def test_formats_round_trip():
    for m in (0.0, 12345.6, 999.95, 160934.4, 21243.3408):
        assert parse_chainage(format_km(m, 1)) == pytest.approx(round(m, 1), abs=0.051)
    assert format_km(12345.64) == "12+345.6"
    assert format_miles_chains(1609.344 * 13 + 20.1168 * 16, elr="EJM") == "EJM 13m 16c"
    assert parse_chainage("13m 16c 05y") == pytest.approx(13 * 1609.344 + 16 * 20.1168 + 5 * 0.9144)
    assert format_chainage([np.nan, 5.0], "m").tolist() == ["", "5.0"]
    with pytest.raises(ValueError, match="12\\+345.6"):
        parse_chainage("twelve")
    with pytest.raises(ValueError, match="below 1000"):
        parse_chainage("12+1345.0")


def test_measure_equations_and_calibration():
    line = shapely.LineString([(0, 0), (2000, 0)])
    # short chainage: 1+200 back = 1+150 ahead (the measure repeats 50 m)
    r = Route("L", line, "EPSG:32633", 1000.0, equations=(MeasureEquation(1200.0, 1150.0),))
    assert r.measure_at([100.0, 199.0, 201.0, 2000.0]).tolist() == [1100.0, 1199.0, 1151.0, 2950.0]
    with pytest.raises(RouteError, match="occurs 2 times"):
        r.distance_of(1175.0)
    assert r.distance_of(1100.0) == pytest.approx(100.0)
    # long chainage: a gap in the measure
    r2 = Route("L", line, "EPSG:32633", 0.0, equations=(MeasureEquation(500.0, 700.0),))
    with pytest.raises(RouteError, match="does not occur"):
        r2.distance_of(600.0)
    assert r2.point_at(800.0, offset_m=3.0) == pytest.approx((600.0, -3.0))
    # calibration to published posts: km 1 at 980 m, km 2 at 1990 m
    r3 = Route("L", line, "EPSG:32633", 0.0, calibration=((980.0, 1000.0), (1990.0, 2000.0)))
    assert r3.measure_at([490.0, 1485.0, 2000.0]) == pytest.approx([500.0, 1500.0, 2010.0])
    with pytest.raises(RouteError, match="does not occur"):
        Route("L", line, "EPSG:32633", 0.0, equations=(MeasureEquation(5000.0, 5100.0),))


def test_locate_sides_ends_and_off_asset():
    r = Route("L", shapely.LineString([(0, 0), (100, 0), (100, 100)]), "EPSG:32633", 500.0)
    loc = r.locate([50, 50, 110, -10, 100, 50], [2, -2, 50, 0, 115, 40], max_offset_m=20)
    assert loc.side.tolist()[:3] == ["left", "right", "right"]
    assert loc.offset_m[:3] == pytest.approx([-2.0, 2.0, 10.0])
    assert loc.chainage_m[:3] == pytest.approx([550.0, 550.0, 650.0])
    assert loc.status[3] == LocateStatus.BEYOND_START and loc.chainage_m[3] == pytest.approx(490.0)
    assert loc.status[4] == LocateStatus.BEYOND_END and loc.chainage_m[4] == pytest.approx(715.0)
    assert loc.status[5] == LocateStatus.OFF_ASSET and np.isnan(loc.chainage_m[5])
    rev = r.reversed(0.0)
    assert rev.locate([50.0], [2.0]).side[0] == "right"


@pytest.fixture(scope="module")
def network(shared_data):
    return load_network(shared_data / "geometry/railway_osm/Sankt_Poelten_railways.geojson")


def test_network_keeps_tags_and_metric_crs(network):
    assert network.crs.to_epsg() == 32633 and len(network) == 1779
    assert {"ref", "name", "gauge", "maxspeed", "railway:track_ref", "way_id"} <= set(
        network.columns
    )


def test_route_by_ref_single_track(network):
    (r,) = build_routes(network, by="ref", value="110 01")
    assert r.name == "Tullnerfelder Bahn" and 24000 < r.length_m < 25500
    assert len(r.ways) == 90  # every running-line way of the line is used once
    # the route is continuous: each way's geometry lies on it
    for way_id, a, b in r.ways[:10]:
        geom = network.loc[network["way_id"] == way_id].geometry.iloc[0]
        assert shapely.hausdorff_distance(geom, shapely.ops.substring(r.line, a, b)) < 1.0


def test_double_track_line_gives_two_routes(network):
    rs = build_routes(network, by="ref", value="101 02")
    assert len(rs) == 2 and abs(rs[0].length_m - rs[1].length_m) < 100
    # the two tracks run side by side a few metres apart
    mid = shapely.line_interpolate_point(rs[0].line, rs[0].length_m / 2)
    assert 2.0 < shapely.distance(mid, rs[1].line) < 20.0


def test_chainage_against_shapely_on_real_lines(network):
    (r,) = build_routes(network, by="ref", value="110 01")
    r = orient_route(r, towards="east", start_measure_m=10000.0)
    rng = np.random.default_rng(0)
    d = rng.uniform(0, r.length_m, 500)
    pts = shapely.line_interpolate_point(r.line, d)
    off = rng.uniform(-15, 15, 500)
    loc = r.locate(shapely.get_x(pts), shapely.get_y(pts))
    assert loc.chainage_m == pytest.approx(10000.0 + d, abs=1e-6)
    # points pushed sideways: chainage by shapely's own projection, offset by its distance
    tx, ty = r._tangent(d)
    px, py = shapely.get_x(pts) + off * ty, shapely.get_y(pts) - off * tx  # + = right
    loc2 = r.locate(px, py)
    ref_d = shapely.line_locate_point(r.line, shapely.points(px, py))
    assert loc2.chainage_m == pytest.approx(10000.0 + ref_d, abs=1e-6)
    assert np.abs(loc2.offset_m) == pytest.approx(
        shapely.distance(shapely.points(px, py), r.line), abs=1e-6
    )
    straight = np.abs(off) < 5  # away from curves the sign is the side we pushed to
    assert np.all(np.sign(loc2.offset_m[straight]) == np.sign(off[straight]))
    east = shapely.get_coordinates(r.line)
    assert east[-1, 0] > east[0, 0]


def test_multi_route_and_off_asset(network):
    rs = build_routes(network, by="ref")
    names = {r.route_id for r in rs}
    assert {"110 01", "173 01", "101 02", "101 02/2"} <= names
    rset = RouteSet(rs)
    r110 = rset["110 01"]
    p = shapely.line_interpolate_point(r110.line, 5000.0)
    far = (p.x + 500.0, p.y + 500.0)
    ref = rset.locate([p.x, far[0]], [p.y, far[1]], max_offset_m=30)
    assert ref.location.route_id[0] == "110 01"
    assert ref.location.chainage_m[0] == pytest.approx(5000.0, abs=1e-6)
    assert ref.location.route_id[1] == "" and np.isnan(ref.location.chainage_m[1])
    assert ref.location.status[1] == LocateStatus.OFF_ASSET and ref.distance_to_route_m[1] > 30
    # a point between the two tracks of the double-track line is flagged ambiguous
    a, b = rset["101 02"], rset["101 02/2"]
    q = shapely.line_interpolate_point(a.line, 10000.0)
    qb = shapely.ops.nearest_points(q, b.line)[1]
    mid = ((q.x + qb.x) / 2, (q.y + qb.y) / 2)
    res = rset.locate([mid[0]], [mid[1]], max_offset_m=30)
    assert res.ambiguous[0] and res.location.route_id[0] in ("101 02", "101 02/2")


def test_network_errors(tmp_path):
    with pytest.raises(GeoFileNotFoundError):
        load_network(tmp_path / "none.geojson")
    pts = tmp_path / "points.geojson"
    pts.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},'
                   '"geometry":{"type":"Point","coordinates":[15,48]}}]}')  # fmt: skip
    with pytest.raises(GeoFormatError, match="no line features"):
        load_network(pts)
    junk = tmp_path / "junk.geojson"
    junk.write_text("{ not json")
    with pytest.raises(GeoFormatError, match="junk.geojson"):
        load_network(junk)
