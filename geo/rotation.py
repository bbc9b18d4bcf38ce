"""Rotation conventions: vehicle attitude, gimbal angles and camera axes.

The project's conventions, written down once and used everywhere:

* World frame: local **NED** (x north, y east, z down) at the camera. Yaw is measured clockwise
  from **true** north, pitch is positive nose-up, roll positive right-side-down, applied in
  Z-Y-X order: ``R_ned_from_body = Rz(yaw) @ Ry(pitch) @ Rx(roll)``.
* Gimbal angles in the DJI sense (``GimbalYaw/Pitch/RollDegree``) are **absolute**: the same
  Z-Y-X order relative to NED, pitch 0 horizontal, -90 nadir. ArduPilot/MAVLink mount angles
  may be **relative** to the vehicle; then ``R_ned_from_gimbal = R_ned_from_body @ R(gimbal)``.
* Camera axes are OpenCV's (x right, y down, z forward). At gimbal yaw = pitch = roll = 0 the
  camera looks along the gimbal's x axis: :data:`R_GIMBAL_FROM_CAM` has the camera x, y, z
  axes as columns, expressed in gimbal (forward, right, down) axes.

Every function takes arrays of angles (any shape ``S``) and returns ``S + (3, 3)`` matrices.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.errors import GeoValueError

__all__ = [
    "R_GIMBAL_FROM_CAM",
    "GimbalMode",
    "euler_zyx_from_matrix",
    "matrix_from_euler_zyx",
    "rot_x",
    "rot_y",
    "rot_z",
    "rotation_ned_from_cam",
    "rotation_ned_from_gimbal",
]

GimbalMode = Literal["absolute", "relative"]

#: Columns are the camera x (right), y (down), z (optical axis) in gimbal axes (fwd, right, down).
R_GIMBAL_FROM_CAM: NDArray[np.float64] = np.array(
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=np.float64
)
R_GIMBAL_FROM_CAM.setflags(write=False)


def _mat(entries: list[list[Any]], shape: tuple[int, ...]) -> NDArray[np.float64]:
    out = np.empty(shape + (3, 3), dtype=np.float64)
    for i in range(3):
        for j in range(3):
            out[..., i, j] = entries[i][j]
    return out


def rot_x(angle_deg: ArrayLike) -> NDArray[np.float64]:
    """Rotation about the x axis by ``angle_deg`` (right-handed, active).

    Examples
    --------
    >>> (rot_x(90.0) @ [0.0, 1.0, 0.0]).round(12) + 0.0
    array([0., 0., 1.])
    """
    a = np.deg2rad(np.asarray(angle_deg, dtype=np.float64))
    c, s = np.cos(a), np.sin(a)
    return _mat([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]], a.shape)


def rot_y(angle_deg: ArrayLike) -> NDArray[np.float64]:
    """Rotation about the y axis by ``angle_deg`` (right-handed, active).

    Examples
    --------
    >>> (rot_y(-90.0) @ [1.0, 0.0, 0.0]).round(12) + 0.0  # pitch -90: forward points down
    array([0., 0., 1.])
    """
    a = np.deg2rad(np.asarray(angle_deg, dtype=np.float64))
    c, s = np.cos(a), np.sin(a)
    return _mat([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]], a.shape)


def rot_z(angle_deg: ArrayLike) -> NDArray[np.float64]:
    """Rotation about the z axis by ``angle_deg`` (right-handed, active).

    In NED a positive angle turns north towards east (clockwise seen from above).

    Examples
    --------
    >>> (rot_z(90.0) @ [1.0, 0.0, 0.0]).round(12) + 0.0  # north turned by yaw 90 is east
    array([0., 1., 0.])
    """
    a = np.deg2rad(np.asarray(angle_deg, dtype=np.float64))
    c, s = np.cos(a), np.sin(a)
    return _mat([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], a.shape)


def matrix_from_euler_zyx(
    yaw_deg: ArrayLike, pitch_deg: ArrayLike, roll_deg: ArrayLike
) -> NDArray[np.float64]:
    """``Rz(yaw) @ Ry(pitch) @ Rx(roll)``, vectorized over broadcast angle arrays.

    Examples
    --------
    >>> R = matrix_from_euler_zyx(0.0, 10.0, 0.0)  # nose up 10 deg: body x rises (NED z < 0)
    >>> bool(R[2, 0] < 0)
    True
    """
    y, p, r = np.broadcast_arrays(
        np.asarray(yaw_deg, dtype=np.float64),
        np.asarray(pitch_deg, dtype=np.float64),
        np.asarray(roll_deg, dtype=np.float64),
    )
    cy, sy = np.cos(np.deg2rad(y)), np.sin(np.deg2rad(y))
    cp, sp = np.cos(np.deg2rad(p)), np.sin(np.deg2rad(p))
    cr, sr = np.cos(np.deg2rad(r)), np.sin(np.deg2rad(r))
    return _mat(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ],
        y.shape,
    )


def euler_zyx_from_matrix(
    R: ArrayLike,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Inverse of :func:`matrix_from_euler_zyx`: ``(yaw, pitch, roll)`` in degrees.

    Yaw is in (-180, 180], pitch in [-90, 90]. At pitch = +/-90 (gimbal lock) roll is set to 0
    and the whole rotation about the vertical is given as yaw.

    Examples
    --------
    >>> [round(float(a), 6) for a in euler_zyx_from_matrix(matrix_from_euler_zyx(30, -60, 5))]
    [30.0, -60.0, 5.0]
    """
    m = np.asarray(R, dtype=np.float64)
    if m.shape[-2:] != (3, 3):
        raise GeoValueError(f"rotation matrices must have shape (..., 3, 3), got {m.shape}")
    sp = np.clip(-m[..., 2, 0], -1.0, 1.0)
    pitch = np.rad2deg(np.arcsin(sp))
    lock = np.abs(sp) > 1.0 - 1e-12
    yaw = np.rad2deg(np.arctan2(m[..., 1, 0], m[..., 0, 0]))
    roll = np.rad2deg(np.arctan2(m[..., 2, 1], m[..., 2, 2]))
    # gimbal lock: R = Rz(yaw -/+ roll) Ry(+/-90); take roll = 0
    yaw_lock = np.rad2deg(np.arctan2(-m[..., 0, 1], m[..., 1, 1]))
    yaw = np.where(lock, yaw_lock, yaw)
    roll = np.where(lock, 0.0, roll)
    return yaw, pitch, roll


def rotation_ned_from_gimbal(
    gimbal_yaw_deg: ArrayLike,
    gimbal_pitch_deg: ArrayLike,
    gimbal_roll_deg: ArrayLike,
    gimbal_mode: GimbalMode = "absolute",
    vehicle_yaw_deg: ArrayLike | None = None,
    vehicle_pitch_deg: ArrayLike | None = None,
    vehicle_roll_deg: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Rotation from gimbal axes (forward, right, down) to NED.

    Parameters
    ----------
    gimbal_yaw_deg, gimbal_pitch_deg, gimbal_roll_deg : array_like
        Gimbal angles, Z-Y-X order.
    gimbal_mode : {"absolute", "relative"}
        ``"absolute"``: the angles are relative to NED (DJI). ``"relative"``: relative to the
        vehicle body (ArduPilot mount); then the vehicle attitude is required.
    vehicle_yaw_deg, vehicle_pitch_deg, vehicle_roll_deg : array_like, optional
        Vehicle attitude; used only in relative mode.

    Examples
    --------
    A relative gimbal at yaw 0 on a vehicle heading east looks east:

    >>> R = rotation_ned_from_gimbal(0, 0, 0, "relative", 90, 0, 0)
    >>> (R @ [1.0, 0, 0]).round(12) + 0.0
    array([0., 1., 0.])
    """
    g = matrix_from_euler_zyx(gimbal_yaw_deg, gimbal_pitch_deg, gimbal_roll_deg)
    if gimbal_mode == "absolute":
        return g
    if gimbal_mode != "relative":
        raise GeoValueError(f"gimbal_mode must be 'absolute' or 'relative', got {gimbal_mode!r}")
    if vehicle_yaw_deg is None or vehicle_pitch_deg is None or vehicle_roll_deg is None:
        raise GeoValueError("gimbal_mode 'relative' needs the vehicle yaw, pitch and roll")
    v = matrix_from_euler_zyx(vehicle_yaw_deg, vehicle_pitch_deg, vehicle_roll_deg)
    return np.matmul(v, g)


def rotation_ned_from_cam(R_ned_from_gimbal: ArrayLike) -> NDArray[np.float64]:
    """Camera (OpenCV axes) to NED: ``R_ned_from_gimbal @ R_GIMBAL_FROM_CAM``.

    Examples
    --------
    Nadir camera with yaw 0: optical axis down, image right = east, image down = south.

    >>> R = rotation_ned_from_cam(matrix_from_euler_zyx(0, -90, 0))
    >>> R.round(12) + 0.0  # columns: camera x, y, z in NED
    array([[ 0., -1.,  0.],
           [ 1.,  0.,  0.],
           [ 0.,  0.,  1.]])
    """
    return np.matmul(np.asarray(R_ned_from_gimbal, dtype=np.float64), R_GIMBAL_FROM_CAM)
