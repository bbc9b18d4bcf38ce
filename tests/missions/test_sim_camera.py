"""Camera geometry of the simulator, checked against hand-computed cases and OpenCV."""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np
import pyproj
import pytest

from missions.sim.camera import (
    R_GIMBAL_FROM_CAM,
    CameraModel,
    camera_rotation,
    rotation_ypr,
    ypr_from_rotation,
)
from missions.sim.geodesy import LocalGrid
from missions.sim.render import CameraPose, Renderer
from missions.sim.terrain import FlatTerrain

# A point near St. Poelten, UTM 33N, east of the central meridian (convergence about -0.46 deg).
LON, LAT = 15.62, 48.2
_CRIT = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-14)


def _pinhole(w: int = 1000, h: int = 800, f: float = 800.0) -> CameraModel:
    return CameraModel("test", "rgb", w, h, f, f, (w - 1) / 2, (h - 1) / 2, pixel_pitch_um=2.0)


def _grid_and_factors() -> tuple[LocalGrid, float, float, float, float]:
    """The grid, a point in it, and the convergence / scale computed with pyproj directly."""
    g = LocalGrid.for_lonlat(LON, LAT)
    tr = pyproj.Transformer.from_crs(4326, g.epsg, always_xy=True)
    x, y = tr.transform(LON, LAT)
    f = pyproj.Proj(f"EPSG:{g.epsg}").get_factors(LON, LAT)
    # pyproj's meridian_convergence is the angle from true north to grid north (clockwise);
    # the grid azimuth of true north is its negative.
    return g, x, y, -f.meridian_convergence, f.meridional_scale


def _ground_to_north_east(
    g_xy: np.ndarray, x: float, y: float, beta_deg: float, k: float
) -> np.ndarray:
    """Grid offsets -> (north, east) ground metres, with the convergence/scale from pyproj."""
    b = math.radians(beta_deg)
    de, dn = (g_xy[:, 0] - x) / k, (g_xy[:, 1] - y) / k
    # grid azimuth = true azimuth + beta  ->  rotate back by -beta
    north = dn * math.cos(b) + de * math.sin(b)
    east = de * math.cos(b) - dn * math.sin(b)
    return np.column_stack([north, east])


def test_rotation_conventions_by_hand() -> None:
    # yaw 90: nose east; pitch +10: nose up (negative down component); roll +10: right wing down
    assert np.allclose(rotation_ypr(90, 0, 0) @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    assert np.allclose(
        rotation_ypr(0, 10, 0) @ [1, 0, 0], [math.cos(0.17453), 0, -math.sin(0.17453)], atol=1e-5
    )
    assert (rotation_ypr(0, 0, 10) @ [0, 1, 0])[2] > 0
    # the mount: at gimbal 0/0/0 the optical axis is the gimbal's forward axis
    assert np.allclose(R_GIMBAL_FROM_CAM @ [0, 0, 1], [1, 0, 0])
    # nadir, yaw 90: image up (-y) points east, image right (+x) points south
    R = camera_rotation(90.0, -90.0, 0.0)
    assert np.allclose(R @ [0, 0, 1], [0, 0, 1], atol=1e-12)
    assert np.allclose(R @ [0, -1, 0], [0, 1, 0], atol=1e-12)
    assert np.allclose(R @ [1, 0, 0], [-1, 0, 0], atol=1e-12)


@pytest.mark.parametrize("ypr", [(10.0, -30.0, 5.0), (-170.0, -89.0, 0.5), (45.0, 20.0, -60.0)])
def test_ypr_roundtrip(ypr: tuple[float, float, float]) -> None:
    assert np.allclose(ypr_from_rotation(rotation_ypr(*ypr)), ypr, atol=1e-9)


def test_projection_matches_opencv_and_rays_invert_it() -> None:
    rng = np.random.default_rng(0)
    for name in ("rgb-still", "rgb-video-720", "thermal-640"):
        cam = CameraModel.preset(name)
        pts = rng.normal(size=(500, 3)) * [3, 2, 0.5] + [0, 0, 10]
        ref, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), cam.K, cam.dist)
        assert np.abs(cam.project(pts) - ref[:, 0]).max() < 1e-6
        u = rng.uniform(0, cam.width_px - 1, 500)
        v = rng.uniform(0, cam.height_px - 1, 500)
        # the inverse distortion agrees with OpenCV's iterative undistortion
        ref_n = cv2.undistortPoints(
            np.column_stack([u, v])[:, None, :], cam.K, cam.dist, criteria=_CRIT
        )[:, 0]
        x, y = cam.undistort(u, v)
        assert np.abs(np.column_stack([x, y]) - ref_n).max() < 1e-9
        assert np.abs(cam.project(cam.rays(u, v)) - np.column_stack([u, v])).max() < 1e-8


def test_video_mode_keeps_the_field_of_view() -> None:
    still = CameraModel.preset("rgb-still")
    vid = still.video_mode(1920, 1080)
    assert vid.hfov_deg == pytest.approx(still.hfov_deg)
    assert vid.focal_length_mm == pytest.approx(still.focal_length_mm)
    # the principal point stays on the same sensor spot (a centred 16:9 crop)
    s = 1920 / 4000
    assert vid.cx_px == pytest.approx((still.cx_px + 0.5) * s - 0.5)
    assert vid.cy_px == pytest.approx((still.cy_px - 375 + 0.5) * s - 0.5)


def test_nadir_footprint_width_is_altitude_times_sensor_over_focal() -> None:
    g, x, y, beta, k = _grid_and_factors()
    cam = _pinhole()
    alt = 30.0
    # hand-computed: 30 m x (1000 px x 2 um) / (800 px x 2 um) = 37.5 m
    expected = alt * cam.sensor_width_mm / cam.focal_length_mm
    assert expected == pytest.approx(37.5)
    r = Renderer(cam, FlatTerrain(200.0), g, tiles=None, band="rgb")  # type: ignore[arg-type]
    pose = CameraPose(x, y, 200.0 + alt, camera_rotation(0.0, -90.0, 0.0))
    cy = (cam.height_px - 1) / 2
    pts, hit = r.pixel_ground(pose, np.array([-0.5, cam.width_px - 0.5]), np.array([cy, cy]))
    assert hit.all()
    ne = _ground_to_north_east(pts[:, :2], x, y, beta, k)
    assert ne[1, 1] - ne[0, 1] == pytest.approx(expected, abs=1e-6)  # east-west extent
    assert np.abs(ne[:, 0]).max() < 1e-6  # the centre row lies on the east-west line
    assert np.allclose(pts[:, 2], 200.0)


@pytest.mark.parametrize("yaw,axis", [(0.0, 0), (90.0, 1)])
def test_oblique_known_pixels(yaw: float, axis: int) -> None:
    """Pitch -45 from 30 m: the principal point sees the ground 30 m ahead; a pixel 10 deg
    below it sees 30 / tan(55 deg) m ahead (hand-computed)."""
    g, x, y, beta, k = _grid_and_factors()
    cam = _pinhole()
    r = Renderer(cam, FlatTerrain(150.0), g, tiles=None, band="rgb")  # type: ignore[arg-type]
    pose = CameraPose(x, y, 180.0, camera_rotation(yaw, -45.0, 0.0))
    v10 = cam.cy_px + cam.fy_px * math.tan(math.radians(10.0))
    pts, hit = r.pixel_ground(pose, np.array([cam.cx_px, cam.cx_px]), np.array([cam.cy_px, v10]))
    assert hit.all()
    ne = _ground_to_north_east(pts[:, :2], x, y, beta, k)
    ahead = ne[:, axis]
    side = ne[:, 1 - axis]
    assert ahead[0] == pytest.approx(30.0, abs=1e-6)
    assert ahead[1] == pytest.approx(30.0 / math.tan(math.radians(55.0)), abs=1e-6)
    assert np.abs(side).max() < 1e-6


def test_distorted_pixel_ray_agrees_with_opencv() -> None:
    """The renderer's ray through a distorted pixel hits the ground where OpenCV says."""
    g, x, y, beta, k = _grid_and_factors()
    cam = replace(CameraModel.preset("thermal-640"))
    r = Renderer(cam, FlatTerrain(0.0), g, tiles=None, band="thermal")  # type: ignore[arg-type]
    pose = CameraPose(x, y, 60.0, camera_rotation(0.0, -90.0, 0.0))
    u, v = np.array([5.0, 630.0, 320.0]), np.array([7.0, 500.0, 20.0])
    pts, _ = r.pixel_ground(pose, u, v)
    n = cv2.undistortPoints(np.column_stack([u, v])[:, None, :], cam.K, cam.dist, criteria=_CRIT)[
        :, 0
    ]
    # nadir, yaw 0: camera x -> east, camera y -> south; ground offset = altitude x normalized
    ne = _ground_to_north_east(pts[:, :2], x, y, beta, k)
    assert np.allclose(ne[:, 1], 60.0 * n[:, 0], atol=1e-6)
    assert np.allclose(ne[:, 0], -60.0 * n[:, 1], atol=1e-6)
