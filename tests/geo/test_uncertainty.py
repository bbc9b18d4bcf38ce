"""Uncertainty propagation: Monte-Carlo calibration of the 95 % ellipses.

Each trial draws a true pose and a true pixel, perturbs the pose, ground and pixel with the
stated 1-sigma errors to get what the logs would say, locates the logged pixel from the logged
pose and checks whether the true ground point lies inside the predicted 95 % ellipse.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from geo import (
    CameraModel,
    CameraPoses,
    Dem,
    FlatGround,
    Georeferencer,
    LocalFrame,
    PoseErrorModel,
    ellipse_axes,
    locate_with_uncertainty,
    mahalanobis2,
)
from geo.rotation import rot_x, rot_y, rot_z

CAM = CameraModel(1920, 1080, 1400.0, 1400.0, 959.5, 539.5, -0.1, 0.02)
FRAME = LocalFrame(32633)
ERR = PoseErrorModel(horizontal_m=1.5, vertical_m=2.0, yaw_deg=2.0, pitch_deg=1.0,
                     roll_deg=1.0, time_sync_s=0.1, ground_m=0.5, pixel_px=2.0)  # fmt: skip


def _level(yaw, which, delta):
    H = rot_z(yaw)
    inner = {"pitch": rot_y, "roll": rot_x}[which](delta)
    return H @ inner @ np.swapaxes(H, -1, -2)


def _trial(g, pitch, n, seed, err=ERR, speed=8.0):
    rng = np.random.default_rng(seed)
    yaw = rng.uniform(-180, 180, n)
    true = CameraPoses(48.2 + rng.normal(0, 5e-4, n), 15.62 + rng.normal(0, 5e-4, n),
                       rng.uniform(40, 80, n), "takeoff", yaw, np.full(n, pitch),
                       rng.normal(0, 2, n))  # fmt: skip
    st = g.prepare(true)
    ut, vt = rng.uniform(0, 1919, n), rng.uniform(0, 1079, n)
    truth = g.pixels_to_ground(st, ut, vt)
    # flying along the yaw at `speed`; a camera clock off by dt puts the logged pose at the
    # position the drone had dt earlier/later
    vel = np.stack(
        [speed * np.cos(np.radians(yaw)), speed * np.sin(np.radians(yaw)), np.zeros(n)], -1
    )
    e = rng.normal(size=(n, 9))
    dt = e[:, 8] * err.time_sync_s
    en = np.stack(
        [e[:, 0] * err.horizontal_m + vel[:, 1] * dt, e[:, 1] * err.horizontal_m + vel[:, 0] * dt],
        -1,
    )
    dxy = np.einsum("nij,nj->ni", st.J, en)
    E = (
        rot_z(e[:, 3] * err.yaw_deg)
        @ _level(st.yaw_deg, "pitch", e[:, 4] * err.pitch_deg)
        @ _level(st.yaw_deg, "roll", e[:, 5] * err.roll_deg)
    )
    # the ground model is wrong by e6 * ground_m: the same as the camera being that much higher
    logged = replace(st, x_m=st.x_m + dxy[:, 0], y_m=st.y_m + dxy[:, 1],
                     h_m=st.h_m + e[:, 2] * err.vertical_m - e[:, 6] * err.ground_m, R=E @ st.R)  # fmt: skip
    uo = ut + e[:, 7] * err.pixel_px
    vo = vt + rng.normal(size=n) * err.pixel_px
    lp = locate_with_uncertainty(g, logged, uo, vo, errors=err, velocity_ned_mps=vel)
    d2 = mahalanobis2(lp.points.x_m - truth.x_m, lp.points.y_m - truth.y_m, lp.cov_m2)
    ok = np.isfinite(d2) & truth.ok
    miss = np.hypot(lp.points.x_m - truth.x_m, lp.points.y_m - truth.y_m)[ok]
    return d2[ok], lp.cov_m2[ok], miss


@pytest.mark.parametrize("pitch", [-90.0, -60.0, -35.0])
def test_ellipses_calibrated_on_flat_ground(pitch, record_property):
    g = Georeferencer(CAM, FlatGround(0.0, "takeoff"), frame=FRAME)
    d2, cov, miss = _trial(g, pitch, 3000, seed=int(-pitch))
    inside = float(np.mean(d2 <= 5.991))
    record_property("inside_95", inside)
    assert len(d2) > 2500
    assert 0.93 <= inside <= 0.975
    # not uselessly large: the ellipse area matches the scatter of the actual misses
    a, b, _ = ellipse_axes(cov)
    assert np.median(a) < 4.0 * np.percentile(miss, 95)
    assert np.mean(d2) == pytest.approx(2.0, rel=0.15)  # chi-square(2) mean


def test_ellipses_calibrated_on_a_dem():
    x0, y0 = FRAME.from_lonlat(15.62, 48.2)
    xs = x0 - 800 + (np.arange(800) + 0.5) * 2.0
    ys = y0 + 800 - (np.arange(800) + 0.5) * 2.0
    xx, yy = np.meshgrid(xs, ys)
    h = 15 * np.sin((xx - x0) / 90.0) * np.cos((yy - y0) / 130.0)
    dem = Dem(h, x0 - 800, y0 + 800, 2.0, 2.0, FRAME.crs, "takeoff")
    g = Georeferencer(CAM, dem, frame=FRAME)
    d2, _, _ = _trial(g, -60.0, 1500, seed=11)
    inside = float(np.mean(d2 <= 5.991))
    assert len(d2) > 1200
    assert 0.92 <= inside <= 0.98


def test_rtk_errors_give_small_ellipses():
    g = Georeferencer(CAM, FlatGround(0.0, "takeoff"), frame=FRAME)
    pose = CameraPoses.single(48.2, 15.62, 30.0, "takeoff", 0.0, -90.0, 0.0)
    lp = locate_with_uncertainty(g, pose, [959.5], [539.5],
                                 errors=PoseErrorModel.rtk(ground_m=0.05, pixel_px=1.0))  # fmt: skip
    a, b, _ = lp.ellipse()
    # nadir at 30 m: tilt 0.7 deg -> 0.37 m sigma dominates; 95 % semi-axis ~ 2.45 sigma
    assert 0.7 < float(a[0]) < 1.2 and float(b[0]) > 0.6


def test_grazing_and_failed_points_have_nan_covariance():
    g = Georeferencer(CAM, FlatGround(0.0, "takeoff"), frame=FRAME)
    pose = CameraPoses.single(48.2, 15.62, 50.0, "takeoff", 0.0, 0.0, 0.0)
    lp = locate_with_uncertainty(g, pose, [959.5, 959.5], [300.0, 1000.0], errors=ERR)
    assert np.all(np.isnan(lp.cov_m2[0])) and np.all(np.isfinite(lp.cov_m2[1]))


def test_per_pose_sigmas():
    g = Georeferencer(CAM, FlatGround(0.0, "takeoff"), frame=FRAME)
    poses = CameraPoses(np.array([48.2, 48.2]), np.array([15.62, 15.62]), np.array([50.0, 50.0]),
                        "takeoff", np.zeros(2), np.full(2, -90.0), np.zeros(2))  # fmt: skip
    err = PoseErrorModel(horizontal_m=np.array([0.02, 3.0]), vertical_m=0.0, yaw_deg=0.0,
                         pitch_deg=0.0, roll_deg=0.0, ground_m=0.0, pixel_px=0.0)  # fmt: skip
    lp = locate_with_uncertainty(g, poses, [959.5, 959.5], [539.5, 539.5], errors=err)
    assert np.sqrt(lp.cov_m2[:, 0, 0]) == pytest.approx([0.02 * 0.9996, 3.0 * 0.9996], rel=1e-3)
