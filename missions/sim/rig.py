"""The camera rig: where each camera sits relative to the GNSS antenna and how it is turned.

Positions in the logs and photo metadata are those of the aircraft reference point (the GNSS
antenna). The gimbal's rotation centre is ``gimbal_lever_m`` from it in body axes (forward,
right, down); each camera's optical centre is ``offset_m`` from the gimbal centre in gimbal
axes, and each camera is turned by a small boresight rotation relative to the gimbal
(:func:`missions.sim.camera.camera_rotation`). So, in NED:

    C = P_antenna + R_body @ gimbal_lever_m + R_gimbal @ offset_m
    R_ned_from_cam = R_gimbal @ R(boresight) @ R_GIMBAL_FROM_CAM

Examples
--------
>>> import numpy as np
>>> m = Mount("rgb", offset_m=(0.0, 0.0, 0.0), boresight_ypr_deg=(0.0, 0.0, 0.0))
>>> R = m.rotation(np.array([0.0]), np.array([-90.0]), np.array([0.0]))[0]
>>> (np.round(R @ [0, 0, 1], 9) + 0.0).tolist()
[0.0, 0.0, 1.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from missions.sim.camera import CameraModel, camera_rotation, rotation_ypr, ypr_from_rotation
from missions.sim.flight import Poses
from missions.sim.geodesy import LocalGrid

__all__ = ["CameraPoses", "Mount", "Rig", "camera_poses"]

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Mount:
    """One camera on the gimbal: lever arm in gimbal axes and boresight rotation."""

    name: str
    offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    boresight_ypr_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def rotation(self, yaw: F64, pitch: F64, roll: F64) -> F64:
        """``R_ned_from_cam`` (n, 3, 3) for absolute gimbal angles."""
        return camera_rotation(yaw, pitch, roll, self.boresight_ypr_deg)


@dataclass(frozen=True)
class Rig:
    """The aircraft's cameras and the gimbal lever arm."""

    gimbal_lever_m: tuple[float, float, float] = (0.12, 0.0, 0.18)
    rgb: Mount = Mount("rgb", (0.0, -0.035, 0.0), (0.15, -0.2, 0.1))
    thermal: Mount = Mount("thermal", (0.0, 0.045, 0.0), (-0.6, 0.45, -0.3))

    def to_dict(self, cameras: dict[str, CameraModel]) -> dict[str, object]:
        """JSON-ready description (with the cameras' intrinsics)."""
        out: dict[str, object] = {"gimbal_lever_body_frd_m": list(self.gimbal_lever_m)}
        for name, cam in cameras.items():
            mount = self.rgb if cam.kind == "rgb" else self.thermal
            out[name] = {
                "intrinsics": cam.to_dict(),
                "offset_gimbal_frd_m": list(mount.offset_m),
                "boresight_ypr_deg": list(mount.boresight_ypr_deg),
            }
        return out


@dataclass
class CameraPoses:
    """Camera centres (grid x/y, MSL altitude) and rotations at the times of ``poses``."""

    x_m: F64
    y_m: F64
    alt_msl_m: F64
    R_ned_from_cam: F64  # (n, 3, 3)

    def angles_deg(self) -> tuple[F64, F64, F64]:
        """The camera's effective absolute (yaw, pitch, roll): gimbal angles plus boresight,
        i.e. R_ned_from_cam = R(yaw, pitch, roll) @ R_GIMBAL_FROM_CAM."""
        from missions.sim.camera import R_GIMBAL_FROM_CAM

        return ypr_from_rotation(self.R_ned_from_cam @ R_GIMBAL_FROM_CAM.T)


def camera_poses(poses: Poses, mount: Mount, rig: Rig, grid: LocalGrid) -> CameraPoses:
    """Camera poses of ``mount`` for aircraft states ``poses``."""
    rb = rotation_ypr(poses.yaw_deg, poses.pitch_deg, poses.roll_deg)
    rg = rotation_ypr(poses.gimbal_yaw_deg, poses.gimbal_pitch_deg, poses.gimbal_roll_deg)
    off_ned = rb @ np.asarray(rig.gimbal_lever_m) + rg @ np.asarray(mount.offset_m)
    if len(poses) == 0:
        return CameraPoses(poses.x_m, poses.y_m, poses.alt_msl_m, np.zeros((0, 3, 3)))
    mid = len(poses) // 2
    M = grid.grid_from_ned(float(poses.x_m[mid]), float(poses.y_m[mid]))
    off_grid = off_ned @ M.T
    return CameraPoses(
        x_m=poses.x_m + off_grid[:, 0],
        y_m=poses.y_m + off_grid[:, 1],
        alt_msl_m=poses.alt_msl_m + off_grid[:, 2],
        R_ned_from_cam=mount.rotation(
            poses.gimbal_yaw_deg, poses.gimbal_pitch_deg, poses.gimbal_roll_deg
        ),
    )
