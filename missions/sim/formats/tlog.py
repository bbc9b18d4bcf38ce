"""MAVLink telemetry logs (``.tlog``) as a ground station records them, written with pymavlink.

A tlog is a sequence of records: an 8-byte big-endian timestamp (microseconds since the UNIX
epoch, the ground station's receive time) followed by one MAVLink 2 packet. The autopilot
(system 1, component 1) sends HEARTBEAT, SYSTEM_TIME, GLOBAL_POSITION_INT, ATTITUDE,
GPS_RAW_INT, VFR_HUD and CAMERA_FEEDBACK (ArduPilot's per-photo message); the gimbal
(component 154) sends GIMBAL_DEVICE_ATTITUDE_STATUS with its attitude quaternion in the
**earth frame** (NED; flag GIMBAL_DEVICE_FLAGS_YAW_IN_EARTH_FRAME), i.e. absolute angles.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["TlogWriter", "quaternion_from_ypr"]


def quaternion_from_ypr(yaw_deg: float, pitch_deg: float, roll_deg: float) -> list[float]:
    """Quaternion (w, x, y, z) of ``Rz(yaw) Ry(pitch) Rx(roll)`` (NED, MAVLink order).

    >>> [round(v, 6) for v in quaternion_from_ypr(90.0, 0.0, 0.0)]
    [0.707107, 0.0, 0.0, 0.707107]
    """
    y, p, r = (math.radians(v) / 2 for v in (yaw_deg, pitch_deg, roll_deg))
    cy, sy, cp, sp, cr, sr = (
        math.cos(y),
        math.sin(y),
        math.cos(p),
        math.sin(p),
        math.cos(r),
        math.sin(r),
    )
    return [
        cr * cp * cy + sr * sp * sy,
        sr * cp * cy - cr * sp * sy,
        cr * sp * cy + sr * cp * sy,
        cr * cp * sy - sr * sp * cy,
    ]


class TlogWriter:
    """Writes MAVLink 2 messages with ground-station timestamps to a ``.tlog`` file."""

    def __init__(self, path: str | Path, boot_utc_s: float) -> None:
        from pymavlink.dialects.v20 import ardupilotmega as mav2

        self._m = mav2
        self._ap = mav2.MAVLink(None, srcSystem=1, srcComponent=1)
        self._gimbal = mav2.MAVLink(None, srcSystem=1, srcComponent=154)
        self.path = Path(path)
        self._f: BinaryIO = open(self.path, "wb")
        self.boot_utc_s = boot_utc_s
        self.count = 0

    def close(self) -> None:
        """Flush and close the file."""
        self._f.close()

    def __enter__(self) -> TlogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _put(self, t_rx_s: float, mav: Any, msg: Any) -> None:
        self._f.write(struct.pack(">Q", int(round(t_rx_s * 1e6))) + msg.pack(mav))
        self.count += 1

    def boot_ms(self, t_s: float) -> int:
        """Autopilot time since boot (ms) at true time ``t_s``."""
        return int(round((t_s - self.boot_utc_s) * 1000.0))

    def heartbeat(self, t_rx: float, armed: bool = True) -> None:
        """HEARTBEAT of a quadrotor running ArduPilot (GUIDED/AUTO)."""
        m = self._m
        base = m.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | (m.MAV_MODE_FLAG_SAFETY_ARMED if armed else 0)
        self._put(
            t_rx,
            self._ap,
            self._ap.heartbeat_encode(
                m.MAV_TYPE_QUADROTOR, m.MAV_AUTOPILOT_ARDUPILOTMEGA, base, 3, m.MAV_STATE_ACTIVE, 3
            ),
        )

    def system_time(self, t_rx: float, t_true: float, unix_s: float) -> None:
        """SYSTEM_TIME: the autopilot's UNIX time (GNSS) and boot time."""
        self._put(
            t_rx,
            self._ap,
            self._ap.system_time_encode(int(round(unix_s * 1e6)), self.boot_ms(t_true)),
        )

    def global_position_int(self, t_rx: float, t_true: float, v: dict[str, float]) -> None:
        """GLOBAL_POSITION_INT: fused position, MSL and relative altitude, NED velocity."""
        hdg = int(round((v["yaw_deg"] % 360.0) * 100)) % 36000
        self._put(
            t_rx,
            self._ap,
            self._ap.global_position_int_encode(
                self.boot_ms(t_true),
                int(round(v["lat_deg"] * 1e7)),
                int(round(v["lon_deg"] * 1e7)),
                int(round(v["alt_gpi_m"] * 1000)),
                int(round(v["rel_alt_m"] * 1000)),
                int(round(v["vn_m_s"] * 100)),
                int(round(v["ve_m_s"] * 100)),
                int(round(v["vd_m_s"] * 100)),
                hdg,
            ),
        )

    def attitude(self, t_rx: float, t_true: float, v: dict[str, float]) -> None:
        """ATTITUDE (radians)."""
        self._put(
            t_rx,
            self._ap,
            self._ap.attitude_encode(
                self.boot_ms(t_true),
                math.radians(v["roll_deg"]),
                math.radians(v["pitch_deg"]),
                math.radians(((v["yaw_deg"] + 180.0) % 360.0) - 180.0),
                0.0,
                0.0,
                0.0,
            ),
        )

    def gps_raw_int(
        self,
        t_rx: float,
        unix_s: float,
        v: dict[str, float],
        fix: int,
        sats: int,
        eph_m: float,
        epv_m: float,
    ) -> None:
        """GPS_RAW_INT: receiver position (MSL and ellipsoid altitude), fix type, accuracy."""
        vel = math.hypot(v["vn_m_s"], v["ve_m_s"])
        cog = (math.degrees(math.atan2(v["ve_m_s"], v["vn_m_s"])) % 360.0) if vel > 0.2 else 0.0
        self._put(
            t_rx,
            self._ap,
            self._ap.gps_raw_int_encode(
                int(round(unix_s * 1e6)),
                fix,
                int(round(v["lat_deg"] * 1e7)),
                int(round(v["lon_deg"] * 1e7)),
                int(round(v["alt_msl_m"] * 1000)),
                min(int(round(eph_m * 100)), 65534),
                min(int(round(epv_m * 100)), 65534),
                int(round(vel * 100)),
                int(round(cog * 100)) % 36000,
                sats,
                int(round(v["alt_ellipsoid_m"] * 1000)),
                int(round(eph_m * 1000)),
                int(round(epv_m * 1000)),
                30,
                0,
                0,
            ),
        )

    def vfr_hud(self, t_rx: float, v: dict[str, float]) -> None:
        """VFR_HUD (ground speed, heading, relative altitude)."""
        gs = math.hypot(v["vn_m_s"], v["ve_m_s"])
        self._put(
            t_rx,
            self._ap,
            self._ap.vfr_hud_encode(
                gs, gs, int(round(v["yaw_deg"])) % 360, 45, v["rel_alt_m"], -v["vd_m_s"]
            ),
        )

    def gimbal_attitude(self, t_rx: float, t_true: float, v: dict[str, float]) -> None:
        """GIMBAL_DEVICE_ATTITUDE_STATUS in the earth frame (absolute yaw/pitch/roll)."""
        m = self._m
        q = quaternion_from_ypr(v["gimbal_yaw_deg"], v["gimbal_pitch_deg"], v["gimbal_roll_deg"])
        flags = (
            m.GIMBAL_DEVICE_FLAGS_ROLL_LOCK
            | m.GIMBAL_DEVICE_FLAGS_PITCH_LOCK
            | m.GIMBAL_DEVICE_FLAGS_YAW_LOCK
            | m.GIMBAL_DEVICE_FLAGS_YAW_IN_EARTH_FRAME
        )
        self._put(
            t_rx,
            self._gimbal,
            self._gimbal.gimbal_device_attitude_status_encode(
                0,
                0,
                self.boot_ms(t_true),
                flags,
                q,
                0.0,
                0.0,
                0.0,
                0,
                math.radians(v["yaw_deg"]),
                float("nan"),
                1,
            ),
        )

    def camera_feedback(
        self,
        t_rx: float,
        unix_s: float,
        cam_idx: int,
        img_idx: int,
        v: dict[str, float],
        focal_mm: float,
    ) -> None:
        """CAMERA_FEEDBACK (ArduPilot): position and *vehicle* attitude at a capture."""
        self._put(
            t_rx,
            self._ap,
            self._ap.camera_feedback_encode(
                int(round(unix_s * 1e6)),
                0,
                cam_idx,
                img_idx,
                int(round(v["lat_deg"] * 1e7)),
                int(round(v["lon_deg"] * 1e7)),
                float(v["alt_gpi_m"]),
                float(v["rel_alt_m"]),
                float(v["roll_deg"]),
                float(v["pitch_deg"]),
                float(v["yaw_deg"] % 360.0),
                float(focal_mm),
                0,
                img_idx + 1,
            ),
        )
