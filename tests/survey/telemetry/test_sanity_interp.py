"""Sanity filters and interpolation on hand-built tracks with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from survey.config import TelemetryConfig
from survey.telemetry.geodesy import haversine_m
from survey.telemetry.interp import interp_angles, pose_at
from survey.telemetry.sanity import check_track
from survey.telemetry.track import PoseTrack, SampleFlag

M_PER_DEG = 111_195.0


def _line(
    n: int = 30, dt: float = 1.0, v: float = 10.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.arange(n) * dt
    lat = 47.0 + t * v / M_PER_DEG
    lon = np.full(n, 8.0)
    return t, lat, lon


def _flags(tr: PoseTrack, flag: SampleFlag) -> list[int]:
    return np.flatnonzero((tr.flags & flag) != 0).tolist()


def test_single_and_multi_sample_glitches() -> None:
    t, lat, lon = _line()
    lat = lat.copy()
    lat[5] += 0.01  # 1.1 km off for one sample
    lat[12:15] += 0.02  # three samples together 2.2 km off
    tr = check_track(PoseTrack.build(t, lat_deg=lat, lon_deg=lon))
    assert _flags(tr, SampleFlag.SPEED_JUMP) == [5, 12, 13, 14]
    assert tr.lat_deg[5] == lat[5]  # flagged, not changed or dropped
    assert any("GNSS glitch" in w for w in tr.warnings)


def test_bad_first_fix_does_not_condemn_the_flight() -> None:
    t, lat, lon = _line()
    lat = lat.copy()
    lat[:2] -= 0.05  # the first two fixes are 5.5 km away
    tr = check_track(PoseTrack.build(t, lat_deg=lat, lon_deg=lon))
    assert _flags(tr, SampleFlag.SPEED_JUMP) == [0, 1]


def test_zero_range_fix_and_time_faults() -> None:
    t, lat, lon = _line(10)
    lat, lon, t = lat.copy(), lon.copy(), t.copy()
    lat[2] = lon[2] = 0.0
    lat[3] = 95.0
    t[6] = t[5]  # repeated time
    t[8] = 4.5  # goes back
    fix = np.full(10, 3)
    fix[9] = 1
    tr = check_track(PoseTrack.build(t, lat_deg=lat, lon_deg=lon, fix_type=fix))
    assert _flags(tr, SampleFlag.ZERO_POSITION) == [2]
    assert _flags(tr, SampleFlag.OUT_OF_RANGE) == [3]
    assert _flags(tr, SampleFlag.TIME_DUPLICATE) == [6]
    assert _flags(tr, SampleFlag.TIME_BACKWARDS) == [8]
    assert _flags(tr, SampleFlag.NO_FIX) == [9]
    assert tr.position_ok.tolist() == [
        True,
        True,
        False,
        False,
        True,
        True,
        False,
        True,
        False,
        False,
    ]


def test_altitude_spike() -> None:
    t, lat, lon = _line(20)
    alt = np.full(20, 100.0) + np.arange(20) * 0.5
    alt[7] = 180.0
    tr = check_track(PoseTrack.build(t, lat_deg=lat, lon_deg=lon, alt_m=alt, alt_ref="msl"))
    assert _flags(tr, SampleFlag.ALT_SPIKE) == [7]
    p = pose_at(tr, [7.0])
    assert p.alt_m[0] == pytest.approx(103.5)  # interpolated around the spike
    assert p.ok[0]  # the position is still good


def test_thresholds_come_from_config() -> None:
    t, lat, lon = _line(10, v=30.0)
    assert (
        _flags(check_track(PoseTrack.build(t, lat_deg=lat, lon_deg=lon)), SampleFlag.SPEED_JUMP)
        == []
    )
    slow = TelemetryConfig(max_speed_mps=10.0, position_tolerance_m=1.0)
    assert (
        _flags(
            check_track(PoseTrack.build(t, lat_deg=lat, lon_deg=lon), slow), SampleFlag.SPEED_JUMP
        )
        != []
    )


def test_position_is_interpolated_in_metres() -> None:
    # 2 samples 10 s apart, 1 km east-north-east: the midpoint is halfway along the line
    lat = np.array([47.0, 47.004])
    lon = np.array([8.0, 8.012])
    tr = PoseTrack.build([0.0, 10.0], lat_deg=lat, lon_deg=lon)
    p = pose_at(tr, [5.0], TelemetryConfig(max_gap_s=20))
    d0 = haversine_m(lat[0], lon[0], p.lat_deg, p.lon_deg)[0]
    d1 = haversine_m(lat[1], lon[1], p.lat_deg, p.lon_deg)[0]
    assert d0 == pytest.approx(d1, abs=0.01)
    assert d0 + d1 == pytest.approx(haversine_m(lat[0], lon[0], lat[1], lon[1]), abs=0.05)


def test_gaps_glitches_and_ends_make_frames_unlocatable() -> None:
    t, lat, lon = _line(20)
    t = t.copy()
    t[10:] += 5.0  # a 6 s gap between samples 9 and 10
    lat = lat.copy()
    lat[15] += 0.02  # a glitch: samples 14..16 become 2 s apart, still fine
    tr = check_track(PoseTrack.build(t, lat_deg=lat, lon_deg=lon))
    q = [-2.0, -0.3, 4.5, 11.0, 19.5, 24.0, 24.4, 30.0]
    p = pose_at(tr, q)
    assert p.ok.tolist() == [False, True, True, False, True, True, True, False]
    assert p.reason[0] == "position: before the first sample"
    assert p.reason[3] == "position: in a gap of 6.0 s (max 2 s)"
    assert p.reason[7] == "position: after the last sample"
    assert np.isnan(p.lat_deg[3]) and p.lat_deg[5] == pytest.approx(
        47.0 + 19 * 10 / M_PER_DEG, abs=1e-9
    )
    # two glitches in a row open a gap that is too long
    lat2 = lat.copy()
    lat2[16] += 0.02
    p2 = pose_at(check_track(PoseTrack.build(t, lat_deg=lat2, lon_deg=lon)), [20.5])
    assert not p2.ok[0] and "gap of 3.0 s" in p2.reason[0]


def test_attitude_slerp_matches_scipy_and_unwraps_yaw() -> None:
    t = [0.0, 1.0]
    e0, e1 = np.array([170.0, 10.0, -5.0]), np.array([-160.0, 20.0, 15.0])  # yaw crosses 180
    y, p, r = interp_angles(t, [e0[0], e1[0]], [e0[1], e1[1]], [e0[2], e1[2]], [0.3])
    from scipy.spatial.transform import Slerp

    ref = Slerp(t, Rotation.from_euler("ZYX", [e0, e1], degrees=True))([0.3])
    got = Rotation.from_euler("ZYX", [[y[0], p[0], r[0]]], degrees=True)
    assert (got.inv() * ref).magnitude()[0] < 1e-9
    assert 170.0 < y[0] or y[0] < -160.0  # through 180, not through 0


def test_pose_at_vehicle_and_gimbal_channels() -> None:
    t = np.arange(0.0, 10.0, 0.2)
    n = t.size
    tr = PoseTrack.build(
        t,
        lat_deg=47 + t * 5 / M_PER_DEG,
        lon_deg=8.0,
        yaw_deg=(350 + t * 4) % 360,
        pitch_deg=0.0,
        roll_deg=0.0,
        gimbal_yaw_deg=np.where(t < 5, 30.0, np.nan),
        gimbal_pitch_deg=np.full(n, -90.0),
        gimbal_roll_deg=np.zeros(n),
        gimbal_mode="absolute",
    )
    p = pose_at(tr, [2.5, 8.0])
    assert p.yaw_deg[0] == pytest.approx(0.0, abs=1e-9)  # 350 + 10 wraps to 0
    assert p.gimbal_pitch_deg[0] == -90.0 and p.gimbal_yaw_deg[0] == pytest.approx(30.0)
    assert p.ok.tolist() == [True, False]
    assert "gimbal: after the last sample" in p.reason[1]
