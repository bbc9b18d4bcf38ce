"""Pixel <-> ground on flat ground and on DEMs: round trips, statuses, altitudes, boresight."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from geo import (
    Boresight,
    CameraModel,
    CameraPoses,
    Dem,
    FlatGround,
    Georeferencer,
    LocalFrame,
    RayStatus,
    convert_altitude,
    geoid_height_m,
    status_reason,
)
from geo.errors import CrsError, GeoFileNotFoundError, GeoFormatError, GeoValueError

CAM = CameraModel(1920, 1080, 1400.0, 1400.0, 959.5, 539.5, -0.12, 0.03, 5e-4, -3e-4, 0.0)
FRAME = LocalFrame(32633)
X0, Y0 = FRAME.from_lonlat(15.62, 48.2)


def _poses(n=50, seed=0, pitch=None):
    rng = np.random.default_rng(seed)
    return CameraPoses(
        48.2 + rng.normal(0, 2e-4, n), 15.62 + rng.normal(0, 2e-4, n),
        rng.uniform(30, 120, n), "takeoff", rng.uniform(-180, 180, n),
        rng.uniform(-90, -30, n) if pitch is None else np.full(n, pitch), rng.uniform(-5, 5, n),
    )  # fmt: skip


def _hill_dem(tmp_path=None):
    xs = X0 - 600 + (np.arange(600) + 0.5) * 2.0
    ys = Y0 + 600 - (np.arange(600) + 0.5) * 2.0
    xx, yy = np.meshgrid(xs, ys)
    h = 30.0 * np.exp(-(((xx - X0 - 50) ** 2 + (yy - Y0) ** 2) / (2 * 120.0**2))) + 0.01 * (xx - X0)
    return Dem(h, X0 - 600, Y0 + 600, 2.0, 2.0, FRAME.crs, "takeoff"), h


def test_round_trip_flat_below_a_millimetre():
    poses = _poses()
    g = Georeferencer(CAM, FlatGround(0.0, "takeoff"), frame=FRAME)
    rng = np.random.default_rng(3)
    idx = np.repeat(np.arange(len(poses)), 200)
    u, v = rng.uniform(0, 1919, idx.size), rng.uniform(0, 1079, idx.size)
    p = g.pixels_to_ground(poses, u, v, idx)
    ok = p.ok
    assert ok.mean() > 0.9
    uu, vv, vis = g.ground_to_pixels(poses, p.x_m[ok], p.y_m[ok], p.z_m[ok], idx[ok])
    assert vis.all()
    # pixel error -> ground error: dominated by 1e-6 px; check the ground round trip directly
    q = g.pixels_to_ground(poses, uu, vv, idx[ok])
    assert np.hypot(q.x_m - p.x_m[ok], q.y_m - p.y_m[ok]).max() < 1e-3
    assert np.abs(uu - u[ok]).max() < 1e-6


def test_round_trip_on_a_dem_below_a_millimetre():
    dem, _ = _hill_dem()
    poses = _poses(20, seed=5)
    g = Georeferencer(CAM, dem, frame=FRAME)
    rng = np.random.default_rng(4)
    idx = np.repeat(np.arange(20), 300)
    u, v = rng.uniform(0, 1919, idx.size), rng.uniform(0, 1079, idx.size)
    p = g.pixels_to_ground(poses, u, v, idx)
    ok = p.ok
    assert ok.mean() > 0.8
    # the hit lies on the surface
    assert np.abs(p.z_m[ok] - dem.height_at(p.x_m[ok], p.y_m[ok])).max() < 1e-4
    uu, vv, _ = g.ground_to_pixels(poses, p.x_m[ok], p.y_m[ok], p.z_m[ok], idx[ok])
    assert np.hypot(uu - u[ok], vv - v[ok]).max() < 1e-4
    q = g.pixels_to_ground(poses, uu, vv, idx[ok])
    assert np.hypot(q.x_m - p.x_m[ok], q.y_m - p.y_m[ok]).max() < 1e-3


def test_dem_tilted_plane_closed_form():
    # plane z = 0.2 (x - x0): a nadir ray from height H at x0 + a hits z = 0.2 a
    xs = np.arange(400) * 1.0 + 0.5
    h = np.tile(0.2 * (xs - 200.0), (400, 1))
    dem = Dem(h, X0 - 200.0, Y0 + 200.0, 1.0, 1.0, FRAME.crs, "takeoff")
    one = lambda v: np.array([float(v)])  # noqa: E731
    t, s = dem.intersect(one(X0 + 30.3), one(Y0), one(100.0), one(0.0), one(0.0), one(-1.0))
    assert s[0] == 0 and t[0] == pytest.approx(100.0 - 0.2 * 30.3, abs=1e-6)
    # oblique ray going east and down at 45 deg from (x0, 100): 100 - t/sqrt2 = 0.2 t/sqrt2
    d = 1 / np.sqrt(2)
    t, s = dem.intersect(one(X0), one(Y0), one(100.0), one(d), one(0.0), one(-d))
    assert s[0] == 0 and t[0] * d == pytest.approx(100.0 / 1.2, abs=1e-6)


def test_status_codes_flat():
    g = Georeferencer(CAM, FlatGround(0.0, "takeoff"), frame=FRAME, max_range_m=150.0)
    up = CameraPoses.single(48.2, 15.62, 50.0, "takeoff", 0.0, 10.0, 0.0)
    p = g.pixels_to_ground(up, [959.5], [539.5])
    assert p.status[0] == RayStatus.ABOVE_HORIZON and np.isnan(p.x_m[0])
    low = CameraPoses.single(48.2, 15.62, -1.0, "takeoff", 0.0, -90.0, 0.0)
    assert g.pixels_to_ground(low, [959.5], [539.5]).status[0] == RayStatus.CAMERA_BELOW_GROUND
    far = CameraPoses.single(48.2, 15.62, 50.0, "takeoff", 0.0, -10.0, 0.0)
    assert g.pixels_to_ground(far, [959.5], [539.5]).status[0] == RayStatus.BEYOND_MAX_RANGE
    bad = CameraPoses.single(48.2, 15.62, np.nan, "takeoff", 0.0, -90.0, 0.0)
    assert g.pixels_to_ground(bad, [959.5], [539.5]).status[0] == RayStatus.INVALID_POSE
    assert "horizon" in status_reason(RayStatus.ABOVE_HORIZON)


def test_status_codes_dem():
    dem, h = _hill_dem()
    h = h.copy()
    h[300:320, 300:320] = np.nan  # a hole right below the camera
    dem = Dem(h, dem.x0_m, dem.y0_m, 2.0, 2.0, FRAME.crs, "takeoff")
    g = Georeferencer(CAM, dem, frame=FRAME)
    nadir = CameraPoses.single(48.2, 15.62, 80.0, "takeoff", 0.0, -90.0, 0.0)
    assert g.pixels_to_ground(nadir, [959.5], [539.5]).status[0] == RayStatus.DEM_NODATA
    level = CameraPoses.single(48.2, 15.62, 200.0, "takeoff", 0.0, 0.0, 0.0)
    assert g.pixels_to_ground(level, [959.5], [300.0]).status[0] == RayStatus.ABOVE_HORIZON
    shallow = CameraPoses.single(48.2, 15.62, 100.0, "takeoff", 0.0, -5.0, 0.0)
    assert g.pixels_to_ground(shallow, [959.5], [539.5]).status[0] == RayStatus.OUTSIDE_DEM
    inside = CameraPoses.single(48.2, 15.6207, 5.0, "takeoff", 0.0, -90.0, 0.0)  # on the hill
    assert g.pixels_to_ground(inside, [959.5], [539.5]).status[0] == RayStatus.CAMERA_BELOW_GROUND
    # a hill in front hides the ground behind it: the ray stops on the hill's near slope
    look = CameraPoses.single(48.2, 15.6145, 25.0, "takeoff", 90.0, -3.0, 0.0)
    p = g.pixels_to_ground(look, [959.5], [539.5])
    assert p.status[0] == RayStatus.OK and p.x_m[0] < X0 + 50


def test_dem_from_geotiff_and_reprojection(tmp_path):
    dem0, h = _hill_dem()
    p = tmp_path / "dem.tif"
    with rasterio.open(p, "w", driver="GTiff", width=600, height=600, count=1, dtype="float32",
                       crs="EPSG:32633", transform=from_origin(dem0.x0_m, dem0.y0_m, 2.0, 2.0),
                       nodata=-9999) as ds:  # fmt: skip
        h32 = h.astype("float32")
        h32[0, 0] = -9999
        ds.write(h32, 1)
    dem = Dem.open(p, "takeoff")
    assert np.isnan(dem.heights_m[0, 0]) and dem.z_range[1] == pytest.approx(h.max(), abs=1e-4)
    x, y = X0 + 13.3, Y0 - 7.7
    assert float(dem.height_at(x, y)) == pytest.approx(float(dem0.height_at(x, y)), abs=1e-4)
    # the same DEM in WGS84 lon/lat: reprojected into the frame on load
    p2 = tmp_path / "dem_wgs84.tif"
    from rasterio.warp import calculate_default_transform, reproject

    tr, w, hh = calculate_default_transform("EPSG:32633", "EPSG:4326", 600, 600, *dem0.bounds)
    out = np.full((hh, w), np.nan, dtype="float32")
    reproject(h.astype("float32"), out, src_transform=from_origin(dem0.x0_m, dem0.y0_m, 2, 2),
              src_crs="EPSG:32633", dst_transform=tr, dst_crs="EPSG:4326")  # fmt: skip
    with rasterio.open(p2, "w", driver="GTiff", width=w, height=hh, count=1, dtype="float32",
                       crs="EPSG:4326", transform=tr, nodata=np.nan) as ds:  # fmt: skip
        ds.write(out, 1)
    with pytest.raises(CrsError, match="not projected"):
        Dem.open(p2, "takeoff")
    dem2 = Dem.open(p2, "takeoff", crs=FRAME.crs)
    assert float(dem2.height_at(X0 + 50, Y0)) == pytest.approx(
        float(dem0.height_at(X0 + 50, Y0)), abs=0.3
    )
    with pytest.raises(GeoFileNotFoundError):
        Dem.open(tmp_path / "none.tif", "msl")
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"II*\x00garbage")
    with pytest.raises(GeoFormatError, match="junk.tif"):
        Dem.open(junk, "msl")


def test_altitude_references():
    # EGM96 undulation near St. Poelten ~ 46.6 m (independent: PROJ's grid via the CRS pair)
    import pyproj

    t = pyproj.Transformer.from_pipeline(
        "+proj=vgridshift +grids=/usr/share/proj/egm96_15.gtx +multiplier=1"
    )
    assert float(geoid_height_m(48.2, 15.6)) == pytest.approx(t.transform(15.6, 48.2, 0.0)[2])
    h = convert_altitude(300.0, "msl", "ellipsoid", 48.2, 15.6)
    assert float(h) == pytest.approx(300.0 + float(geoid_height_m(48.2, 15.6)))
    assert float(convert_altitude(h, "ellipsoid", "msl", 48.2, 15.6)) == pytest.approx(300.0)
    with pytest.raises(GeoValueError, match="take-off"):
        convert_altitude(30.0, "takeoff", "msl", 48.2, 15.6)
    # a camera 60 m above a take-off point at 270 m MSL sees flat ground at 270 m MSL, given
    # in ellipsoidal height, 60 m below it
    pose = CameraPoses.single(48.2, 15.62, 60.0, "takeoff", 0.0, -90.0, 0.0,
                              takeoff_alt_m=270.0, takeoff_ref="msl")  # fmt: skip
    ground = FlatGround(270.0 + float(geoid_height_m(48.2, 15.62)), "ellipsoid")
    p = Georeferencer(CAM, ground, frame=FRAME).pixels_to_ground(pose, [959.5], [539.5])
    assert p.range_m[0] == pytest.approx(60.0, abs=1e-6)


def test_boresight_thermal_camera():
    # thermal camera yawed +2 deg and 0.1 m to the right of the RGB camera on the gimbal
    th = CameraModel(640, 512, 1125.0, 1125.0, 319.5, 255.5, kind="thermal")
    pose = CameraPoses.single(48.2, 15.62, 100.0, "takeoff", 0.0, -45.0, 0.0)
    g = Georeferencer(th, frame=FRAME, boresight=Boresight(yaw_deg=2.0, lever_arm_m=(0, 0.1, 0)))
    g0 = Georeferencer(th, frame=FRAME)
    p, p0 = g.pixels_to_ground(pose, [319.5], [255.5]), g0.pixels_to_ground(pose, [319.5], [255.5])
    # the optical axis hits 100 m north; 2 deg about the gimbal's (tilted) z axis sweeps it
    # sideways by slant range x sin(2 deg) = 141.4 m x 0.0349, plus the 0.1 m lever arm
    dx = (p.x_m - p0.x_m)[0] / 0.9996
    assert dx == pytest.approx(100 * np.sqrt(2) * np.sin(np.radians(2)) + 0.1, abs=0.15)


def test_bad_inputs():
    g = Georeferencer(CAM, frame=FRAME)
    poses = _poses(3)
    with pytest.raises(GeoValueError, match="pose_index"):
        g.pixels_to_ground(poses, [1.0, 2.0], [1.0, 2.0])
    with pytest.raises(GeoValueError, match="out of range"):
        g.pixels_to_ground(poses, [1.0], [1.0], [5])
    with pytest.raises(GeoValueError, match="lat/lon out of range"):
        CameraPoses.single(91.0, 15.0, 10.0, "takeoff", 0, -90, 0)
    with pytest.raises(GeoValueError, match="alt_ref"):
        CameraPoses.single(48.0, 15.0, 10.0, "agl", 0, -90, 0)  # type: ignore[arg-type]


def test_dem_caster_matches_brute_force_on_rough_terrain():
    """Safe steps and tile skipping must never jump over terrain: compare the first hit with
    a dense 1 cm march on a rough DEM (walls, spikes, a no-data hole)."""
    rng = np.random.default_rng(7)
    h = rng.normal(0, 0.3, (120, 120)).cumsum(axis=0).cumsum(axis=1) * 0.05
    h[40:44, 10:110] += 12.0  # a wall
    h[70, 70] += 25.0  # a mast
    h[90:95, 20:25] = np.nan
    dem = Dem(h, 0.0, 120.0, 1.0, 1.0, None, "msl")
    n = 400
    ox, oy = rng.uniform(5, 115, n), rng.uniform(5, 115, n)
    oz = np.full(n, 40.0)
    az, dep = rng.uniform(0, 2 * np.pi, n), np.radians(rng.uniform(10, 80, n))
    gx, gy, gz = np.cos(dep) * np.sin(az), np.cos(dep) * np.cos(az), -np.sin(dep)
    t, s = dem.intersect(ox, oy, oz, gx, gy, gz)
    ts = np.arange(0.0, 250.0, 0.01)
    for i in range(0, n, 4):
        zr = oz[i] + ts * gz[i]
        zd = dem.height_at(ox[i] + ts * gx[i], oy[i] + ts * gy[i])
        under = zr <= zd
        nan = np.isnan(zd)
        first_under = np.argmax(under) if under.any() else None
        first_nan = np.argmax(nan) if nan.any() else None
        if first_under is not None and (first_nan is None or first_under < first_nan):
            assert s[i] == 0, (i, s[i])
            assert t[i] == pytest.approx(ts[first_under], abs=0.011)
        else:
            assert s[i] != 0
