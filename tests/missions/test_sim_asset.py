"""Asset geometry: loading real lines, picking features, stretches, corridor coordinates."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely

from missions.errors import GeometryError, MissionError, SimInputNotFoundError
from missions.sim.asset import RAIL_DEMO_GEOMETRY, load_asset, parse_gauge_m
from missions.sim.corridor import Corridor
from missions.sim.geodesy import LocalGrid, utm_epsg


def _write(path: Path, geoms: list[dict], props: list[dict] | None = None) -> Path:
    feats = [
        {"type": "Feature", "properties": (props or [{}] * len(geoms))[i], "geometry": g}
        for i, g in enumerate(geoms)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def test_bundled_rail_line() -> None:
    a = load_asset("rail", start_m=1000.0, length_m=300.0, margin_m=50.0)
    assert a.source_feature == "way/100006586" and a.name == "Tullnerfelder Bahn"
    assert a.grid.epsg == 32633 == utm_epsg(15.8, 48.3)
    assert a.gauge_m == 1.435 and a.tags["electrified"] == "contact_line"
    assert a.chainage_start_m == 950.0
    assert a.length_m == pytest.approx(400.0, abs=0.5)
    assert a.source_length_m == pytest.approx(4468.9, abs=0.5)
    # the smoothed centreline stays on the OSM line (curve radii here are kilometres)
    src = json.loads(RAIL_DEMO_GEOMETRY.read_text())["features"][0]["geometry"]["coordinates"]
    x, y = a.grid.to_grid(np.array(src)[:, 0], np.array(src)[:, 1])
    line = shapely.LineString(np.column_stack([x, y]))
    d = shapely.distance(shapely.points(a.corridor.xy), line)
    assert d.max() < 0.05
    # chainage: the stretch start sits 1000 m along the source line
    p = a.corridor.to_world(1000.0 - a.chainage_start_m, 0.0)
    assert line.project(shapely.Point(p)) == pytest.approx(1000.0, abs=0.05)


def test_feature_by_id_name_or_index() -> None:
    a = load_asset("rail", feature="Leobersdorfer Bahn", start_m=0, length_m=100)
    b = load_asset("rail", feature="way/136149091", start_m=0, length_m=100)
    c = load_asset("rail", feature="1", start_m=0, length_m=100)
    assert a.source_feature == b.source_feature == c.source_feature == "way/136149091"
    assert a.tags["electrified"] == "no"
    with pytest.raises(GeometryError, match="no line feature 'nope'"):
        load_asset("rail", feature="nope")


def test_bad_requests_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(GeometryError, match=r"longer than the line \(4468.9 m"):
        load_asset("rail", start_m=4000.0, length_m=500.0)
    with pytest.raises(GeometryError, match="length_m must be > 0"):
        load_asset("rail", length_m=0.0)
    pts = _write(tmp_path / "points.geojson", [{"type": "Point", "coordinates": [15.0, 48.0]}])
    with pytest.raises(
        GeometryError, match=r"no LineString or MultiLineString features \(found Point\)"
    ) as e:
        load_asset("rail", pts)
    assert e.value.path == str(pts) and isinstance(e.value, ValueError)
    with pytest.raises(SimInputNotFoundError) as e2:
        load_asset("rail", tmp_path / "missing.gpkg")
    assert isinstance(e2.value, FileNotFoundError) and isinstance(e2.value, MissionError)
    junk = tmp_path / "junk.geojson"
    junk.write_text("{ not json")
    with pytest.raises(GeometryError, match="cannot read as a vector file"):
        load_asset("rail", junk)
    with pytest.raises(GeometryError, match="asset kind"):
        load_asset("road")  # type: ignore[arg-type]


def test_multilinestring_is_merged(tmp_path: Path) -> None:
    parts = [
        [[15.60, 48.20], [15.61, 48.20]],
        [[15.61, 48.20], [15.62, 48.201]],
        [[15.70, 48.3], [15.701, 48.3]],
    ]
    p = _write(tmp_path / "pipe.geojson", [{"type": "MultiLineString", "coordinates": parts}])
    a = load_asset("pipeline", p, start_m=0.0, length_m=1000.0, margin_m=0.0)
    # the two touching parts merge (about 1.5 km); the far-away stub is ignored
    assert a.source_length_m == pytest.approx(1496.0, abs=15.0)
    assert a.gauge_m == 0.6


def test_corridor_matches_shapely_chainage_and_offsets() -> None:
    a = load_asset("rail", feature="way/136149091", start_m=200.0, length_m=600.0, margin_m=0.0)
    c = a.corridor
    rng = np.random.default_rng(1)
    s = rng.uniform(20, c.length_m - 20, 2000)
    d = rng.uniform(-15, 15, 2000)
    w = c.to_world(s, d)
    s2, d2, ok = c.to_corridor(w[:, 0], w[:, 1])
    assert ok.all() and np.abs(s2 - s).max() < 1e-9 and np.abs(d2 - d).max() < 1e-9
    # independent reference: nearest-point projection on the same polyline (shapely)
    line = shapely.LineString(c.xy)
    ref_s = shapely.line_locate_point(line, shapely.points(w))
    ref_d = shapely.distance(shapely.points(w), line)
    # interpolated normals vs per-segment normals differ by about |d| x (1 m / 2 R) on curves
    assert np.abs(ref_s - s).max() < 0.1
    near = np.abs(d) < 3.0
    assert np.abs(ref_s - s)[near].max() < 0.02
    assert np.abs(ref_d - np.abs(d)).max() < 0.01
    # positive offsets are on the left of the direction of travel
    p0, n0 = c.point_normal(np.array([100.0]))
    t = c.to_world(101.0, 0.0) - c.to_world(100.0, 0.0)
    assert t[0] * n0[0][1] - t[1] * n0[0][0] > 0  # 2-D cross product


def test_corridor_edge_cases() -> None:
    with pytest.raises(GeometryError, match="too short"):
        Corridor.from_polyline(np.array([[0.0, 0.0], [0.5, 0.0]]))
    c = Corridor.from_polyline(np.array([[0.0, 0.0], [50.0, 0.0], [100.0, 20.0]]), smooth_m=5.0)
    assert np.allclose(c.xy[0], [0, 0]) and np.allclose(c.xy[-1], [100, 20], atol=1e-6)
    _, _, ok = c.to_corridor([-30.0, 50.0], [0.0, 40.0], max_abs_d=30.0)
    assert ok.tolist() == [False, False]


def test_gauge_and_grid_helpers() -> None:
    assert parse_gauge_m("1000") == 1.0 and parse_gauge_m("760;1435") == 1.435
    assert parse_gauge_m("standard") == 1.435 and parse_gauge_m(float("nan")) == 1.435
    g = LocalGrid.for_epsg(32633)
    # on the central meridian grid north is true north and the scale is 0.9996
    assert float(g.convergence_deg(500000.0, 5340000.0)) == pytest.approx(0.0, abs=1e-7)
    assert float(g.scale_factor(500000.0, 5340000.0)) == pytest.approx(0.9996, abs=1e-7)
    assert utm_epsg(-70.6, -33.4) == 32719
