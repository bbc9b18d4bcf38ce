"""Hand-computed cases for every rotation convention, camera axes and the UTM frame."""

from __future__ import annotations

import numpy as np
import pytest

from geo import (
    CameraModel,
    CameraPoses,
    FlatGround,
    Georeferencer,
    LocalFrame,
    euler_zyx_from_matrix,
    matrix_from_euler_zyx,
    rotation_ned_from_cam,
    rotation_ned_from_gimbal,
    utm_epsg_for,
)
from geo.errors import CrsError, GeoValueError

CAM = CameraModel(1001, 801, 1000.0, 1000.0, 500.0, 400.0)


def _ground_offset(pose, u, v, cam=CAM):
    """(east, north) true metres of a pixel's ground point from the camera's nadir."""
    g = Georeferencer(cam, FlatGround(0.0, "takeoff"))
    p = g.pixels_to_ground(pose, [u], [v])
    x0, y0 = g.frame.from_lonlat(pose.lon_deg[0], pose.lat_deg[0])
    J = g.frame.enu_to_grid_jacobian(pose.lon_deg[0], pose.lat_deg[0])
    return np.linalg.solve(J, [p.x_m[0] - x0, p.y_m[0] - y0])


def test_body_rotation_axes():
    # yaw 90: body forward points east; pitch +30 nose up: forward rises; roll +30 right down
    assert np.allclose(matrix_from_euler_zyx(90, 0, 0) @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    f = matrix_from_euler_zyx(0, 30, 0) @ [1, 0, 0]
    assert np.allclose(f, [np.cos(np.radians(30)), 0, -0.5], atol=1e-12)
    right = matrix_from_euler_zyx(0, 0, 30) @ [0, 1, 0]  # body right wing
    assert right[2] > 0  # NED z down: the right wing went down


def test_euler_round_trip_including_gimbal_lock():
    rng = np.random.default_rng(0)
    y, p, r = rng.uniform(-179, 179, 200), rng.uniform(-89, 89, 200), rng.uniform(-179, 179, 200)
    R = matrix_from_euler_zyx(y, p, r)
    y2, p2, r2 = euler_zyx_from_matrix(R)
    assert np.allclose(matrix_from_euler_zyx(y2, p2, r2), R, atol=1e-12)
    for pitch in (-90.0, 90.0):
        R = matrix_from_euler_zyx(40.0, pitch, 15.0)
        a = euler_zyx_from_matrix(R)
        assert a[2] == 0.0 and np.allclose(matrix_from_euler_zyx(*a), R, atol=1e-9)


def test_nadir_camera_sees_north_up_east_right():
    pose = CameraPoses.single(48.2, 15.6, 100.0, "takeoff", 0.0, -90.0, 0.0)
    e, n = _ground_offset(pose, 500.0, 0.0)  # top centre of the image
    assert e == pytest.approx(0.0, abs=1e-6) and n == pytest.approx(40.0, abs=1e-6)
    e, n = _ground_offset(pose, 1000.0, 400.0)  # right edge centre
    assert e == pytest.approx(50.0, abs=1e-6) and n == pytest.approx(0.0, abs=1e-6)


def test_oblique_known_pixel():
    # yaw 90 (east), pitch -45, 100 m above ground: the image centre lands 100 m east;
    # the pixel 200 rows below the centre looks at -45 - atan(0.2) below the horizon
    pose = CameraPoses.single(48.2, 15.6, 100.0, "takeoff", 90.0, -45.0, 0.0)
    e, n = _ground_offset(pose, 500.0, 400.0)
    assert e == pytest.approx(100.0, abs=1e-6) and n == pytest.approx(0.0, abs=1e-6)
    e, n = _ground_offset(pose, 500.0, 600.0)
    dep = np.radians(45.0) + np.arctan(0.2)
    assert e == pytest.approx(100.0 / np.tan(dep), abs=1e-6)
    # a pixel to the right of the centre (looking east) is south of the centre line
    e, n = _ground_offset(pose, 700.0, 400.0)
    assert n < 0


def test_gimbal_roll_right_side_down():
    # nadir-pointing: roll about the (down-pointing) gimbal x axis turns the view like yaw
    # looking forward (pitch 0, camera 100 m up) with roll +: image right side goes down
    R = rotation_ned_from_cam(matrix_from_euler_zyx(0.0, 0.0, 10.0))
    cam_x_in_ned = R[:, 0]  # image right
    assert cam_x_in_ned[2] > 0 and cam_x_in_ned[1] > 0


def test_relative_gimbal_composes_with_vehicle():
    # vehicle heading 90 (east), pitched up 5; relative gimbal pitch -95 -> camera at nadir
    R_rel = rotation_ned_from_gimbal(0.0, -95.0, 0.0, "relative", 90.0, 5.0, 0.0)
    assert np.allclose(R_rel @ [1, 0, 0], [0, 0, 1], atol=1e-12)
    pose = CameraPoses.single(
        48.2, 15.6, 100.0, "takeoff", 0.0, -95.0, 0.0, gimbal_mode="relative",
        vehicle_yaw_deg=90.0, vehicle_pitch_deg=5.0, vehicle_roll_deg=0.0,
    )  # fmt: skip
    e, n = _ground_offset(pose, 500.0, 0.0)  # image top = vehicle forward = east
    assert e == pytest.approx(40.0, abs=1e-6) and n == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(GeoValueError, match="vehicle"):
        CameraPoses.single(48.2, 15.6, 100.0, "takeoff", 0.0, -90.0, 0.0, gimbal_mode="relative")


def test_utm_zone_and_grid_jacobian():
    assert utm_epsg_for(15.62, 48.2) == 32633
    assert utm_epsg_for(-58.4, -34.6) == 32721  # Buenos Aires: southern hemisphere
    with pytest.raises(CrsError):
        utm_epsg_for(10.0, 85.0)
    f = LocalFrame(32633)
    import pyproj

    factors = pyproj.Proj("EPSG:32633").get_factors(16.5, 48.2)
    assert f.convergence_deg(16.5, 48.2) == pytest.approx(factors.meridian_convergence, abs=1e-6)
    J = f.enu_to_grid_jacobian(16.5, 48.2)
    assert np.sqrt(abs(np.linalg.det(J))) == pytest.approx(factors.meridional_scale, abs=1e-7)
    with pytest.raises(CrsError):
        LocalFrame(4326)


def test_true_north_is_not_grid_north():
    # 1.5 deg east of the central meridian, a camera looking true north: its ground point
    # has a grid bearing of -convergence (about -1.1 deg), not 0
    pose = CameraPoses.single(48.2, 16.5, 100.0, "takeoff", 0.0, -45.0, 0.0)
    g = Georeferencer(CAM)
    p = g.pixels_to_ground(pose, [500.0], [400.0])
    x0, y0 = g.frame.from_lonlat(16.5, 48.2)
    bearing = np.degrees(np.arctan2(p.x_m[0] - x0, p.y_m[0] - y0))
    assert bearing == pytest.approx(-float(g.frame.convergence_deg(16.5, 48.2)), abs=1e-4)
    assert abs(bearing) > 1.0
