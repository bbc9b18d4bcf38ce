"""Terrain models (flat, hills, GeoTIFF DEMs incl. a real ODM DSM) and pipeline scenes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from missions.errors import SimInputNotFoundError, TerrainError
from missions.sim.config import SimConfig
from missions.sim.scene import build_scene
from missions.sim.simulate import simulate_flight
from missions.sim.terrain import FlatTerrain, HillyTerrain, RasterTerrain


def _line(path: Path, coords: list[list[float]]) -> Path:
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "test line"},
                        "geometry": {"type": "LineString", "coordinates": coords},
                    }
                ],
            }
        )
    )
    return path


def _geotiff(path: Path, bounds_lonlat: tuple[float, float, float, float], fn) -> Path:
    import rasterio
    from rasterio.transform import from_bounds

    w, h = 300, 200
    # values at the pixel centres (area-registered raster)
    lon = bounds_lonlat[0] + (np.arange(w) + 0.5) * (bounds_lonlat[2] - bounds_lonlat[0]) / w
    lat = bounds_lonlat[3] - (np.arange(h) + 0.5) * (bounds_lonlat[3] - bounds_lonlat[1]) / h
    z = fn(*np.meshgrid(lon, lat)).astype(np.float32)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=w,
        height=h,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_bounds(*bounds_lonlat, w, h),
    ) as dst:
        dst.write(z, 1)
    return path


def test_ray_intersections_land_on_the_surface() -> None:
    hills = HillyTerrain(265.0, 25.0, 400.0, seed=2, origin_xy=(500000.0, 5300000.0))
    rng = np.random.default_rng(0)
    d = rng.normal(size=(3000, 3))
    d[:, 2] = -np.abs(d[:, 2]) - 0.2  # everything looking down, some very obliquely
    o = np.array([500100.0, 5300100.0, float(hills.height(500100.0, 5300100.0)) + 40.0])
    pts, hit = hills.intersect(o, d, 2000.0)
    assert hit.mean() > 0.95
    assert np.abs(pts[hit, 2] - hills.height(pts[hit, 0], pts[hit, 1])).max() < 1e-6
    # the points lie on their rays, in front of the camera
    v = pts[hit] - o
    cos = (
        np.einsum("ij,ij->i", v, d[hit])
        / np.linalg.norm(v, axis=1)
        / np.linalg.norm(d[hit], axis=1)
    )
    assert cos.min() > 1 - 1e-9
    flat, fh = FlatTerrain(100.0).intersect(np.array([0.0, 0.0, 50.0]), np.array([[0.0, 0.0, 1.0]]))
    assert not fh[0]  # looking up never hits


def test_geotiff_dem(tmp_path: Path) -> None:
    dem = _geotiff(
        tmp_path / "dem.tif",
        (15.55, 48.15, 15.75, 48.25),
        lambda lon, lat: 250.0 + 400.0 * (lon - 15.55) + 300.0 * (lat - 48.15),
    )
    t = RasterTerrain(dem, 32633, (549000.0, 5339000.0, 550000.0, 5339800.0))
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(32633, 4326, always_xy=True).transform(549500.0, 5339400.0)
    assert float(t.height(549500.0, 5339400.0)) == pytest.approx(
        250 + 400 * (lon - 15.55) + 300 * (lat - 48.15), abs=0.005
    )
    with pytest.raises(TerrainError, match="does not cover the flight corridor"):
        RasterTerrain(dem, 32633, (600000.0, 5339000.0, 601000.0, 5339800.0))
    with pytest.raises(SimInputNotFoundError):
        RasterTerrain(tmp_path / "none.tif", 32633, (0, 0, 1, 1))
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"not a tiff")
    with pytest.raises(TerrainError, match="cannot read as a raster DEM"):
        RasterTerrain(bad, 32633, (0, 0, 1, 1))


def test_flight_over_a_real_dsm(shared_data: Path, tmp_path: Path) -> None:
    """A short thermal flight over the ODM DSM of the Taiwan P4 RTK data (UTM 51N)."""
    from pyproj import Transformer

    dsm = shared_data / "drone_imagery" / "odm_p4rtk_taiwan" / "dsm.tif"
    tr = Transformer.from_crs(32651, 4326, always_xy=True)
    coords = [
        list(tr.transform(x, 2731050.0 + 0.05 * (x - 292660)))
        for x in np.linspace(292660, 292810, 16)
    ]
    line = _line(tmp_path / "line.geojson", coords)
    cfg = SimConfig(
        asset="pipeline",
        geometry=str(line),
        start_m=20.0,
        length_m=100.0,
        terrain=str(dsm),
        altitude_agl_m=40.0,
        video="",
        stills_every_m=0.0,
        thermal_every_s=3.0,
        seed=3,
    )
    res = simulate_flight(cfg, tmp_path / "f")
    sc = json.loads((tmp_path / "f" / "truth" / "scenario.json").read_text())
    assert sc["crs"]["epsg"] == 32651 and sc["terrain"]["type"] == "raster"
    rows = (tmp_path / "f" / "truth" / "trajectory_true.csv").read_text().splitlines()
    agl = np.array([float(r.split(",")[7]) for r in rows[1:]])
    assert np.abs(agl - 40.0).max() < 6.0  # terrain following over real relief
    assert res.frames["thermal"] >= 6


@pytest.mark.parametrize("style", ["buried", "above"])
def test_pipeline_scene_and_flight(tmp_path: Path, style: str) -> None:
    line = _line(tmp_path / "pipe.geojson", [[15.60, 48.20], [15.615, 48.203], [15.63, 48.21]])
    cfg = SimConfig(
        asset="pipeline",
        geometry=str(line),
        start_m=300.0,
        length_m=200.0,
        pipe_style=style,
        video="",
        stills_every_m=100.0,
        still_size="640x480",
        thermal_every_s=5.0,
        seed=8,
        defect_density=3.0,
        speed_m_s=8.0,
    )
    res = simulate_flight(cfg, tmp_path / "f")
    import geopandas as gpd

    d = gpd.read_file(tmp_path / "f" / "truth" / "defects.gpkg", layer="defects")
    classes = set(d["class"])
    assert "leak_candidate" in classes
    assert ("coating_corrosion" in classes) == (style == "above")
    assert not classes & {"missing_fastener", "sleeper_defect"}
    leaks = d[d["class"] == "leak_candidate"]
    assert leaks["delta_t_k"].between(0.5, 14.0).all() and leaks["severity"].between(2, 5).all()
    sc = json.loads((tmp_path / "f" / "truth" / "scenario.json").read_text())
    assert sc["thermal_scene"]["kind"] == "night" and sc["pipe_layout"]["style"] == style
    coco = json.loads((tmp_path / "f" / "truth" / "coco_thermal.json").read_text())
    assert {c["name"] for c in coco["categories"]} == {
        "leak_candidate",
        "insulation_loss",
        "false_positive",
    }
    assert res.frames["thermal"] >= 5


def test_scene_is_seeded_and_respects_density() -> None:
    from missions.sim.asset import load_asset

    a = load_asset("rail", start_m=1000.0, length_m=400.0)
    s1 = build_scene(a, FlatTerrain(), seed=1, flown_s=(80.0, 480.0), density=2.0)
    s2 = build_scene(a, FlatTerrain(), seed=1, flown_s=(80.0, 480.0), density=2.0)
    s3 = build_scene(a, FlatTerrain(), seed=2, flown_s=(80.0, 480.0), density=2.0)
    assert [o.cls for o in s1.objects] == [o.cls for o in s2.objects]
    assert all(
        np.array_equal(o.polygon_xy, p.polygon_xy)
        for o, p in zip(s1.objects, s2.objects, strict=True)
    )
    assert [o.polygon_xy.tolist() for o in s1.objects] != [
        o.polygon_xy.tolist() for o in s3.objects
    ]
    assert 40 < len(s1.defects()) < 90  # 7.35 defects per 100 m x 2 x 4
    assert all(80.0 <= o.s_m <= 480.0 for o in s1.objects)
    import shapely

    polys = [shapely.Polygon(o.polygon_xy) for o in s1.objects]
    assert not any(polys[i].intersects(polys[j]) for i in range(len(polys)) for j in range(i))
    assert build_scene(a, FlatTerrain(), seed=1, flown_s=(80.0, 480.0), density=0.0).objects == []
