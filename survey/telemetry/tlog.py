"""MAVLink telemetry logs (``.tlog``: each message preceded by the ground station's UTC time).

Channels read: ``GLOBAL_POSITION_INT`` (EKF position, AMSL altitude, height above home, ground
velocity), else ``GPS_RAW_INT``; GNSS quality from ``GPS_RAW_INT``; ``ATTITUDE``; gimbal from
``GIMBAL_DEVICE_ATTITUDE_STATUS`` (quaternion; roll/pitch relative to the horizon, yaw in the
earth frame or relative to the vehicle heading according to its flags) or ``MOUNT_STATUS`` /
``MOUNT_ORIENTATION``; camera events from ``CAMERA_FEEDBACK``.

Times: the autopilot's ``time_boot_ms`` where a message has it, mapped to UTC by
``SYSTEM_TIME`` (the autopilot's GNSS-derived clock). Messages without a boot time are placed
by the ground station's receive time. Without ``SYSTEM_TIME`` the ground station's clock is
used for UTC, with a warning (it includes the radio latency).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from survey.telemetry.channels import euler_from_quaternion, merge_channels, step_fill
from survey.telemetry.errors import NoPositionError, TelemetryFormatError
from survey.telemetry.timeutil import fit_clock
from survey.telemetry.track import CameraEvents, PoseTrack, SampleFlag

__all__ = ["looks_like_tlog", "read_tlog"]

_TYPES = [
    "GLOBAL_POSITION_INT",
    "GPS_RAW_INT",
    "ATTITUDE",
    "SYSTEM_TIME",
    "CAMERA_FEEDBACK",
    "MOUNT_STATUS",
    "MOUNT_ORIENTATION",
    "GIMBAL_DEVICE_ATTITUDE_STATUS",
    "HEARTBEAT",
]
_YAW_IN_VEHICLE_FRAME = 4096
_YAW_IN_EARTH_FRAME = 2048
_YAW_LOCK = 16


def looks_like_tlog(head: bytes) -> bool:
    """Whether bytes start like a tlog: an 8-byte big-endian µs UTC time, then a MAVLink frame."""
    if len(head) < 10:
        return False
    t_us = int.from_bytes(head[:8], "big")
    return 946684800e6 < t_us < 4102444800e6 and head[8] in (0xFE, 0xFD)


def _collect(path: Path) -> dict[str, list[tuple[float, dict[str, Any]]]]:
    from pymavlink import mavutil

    try:
        conn = mavutil.mavlink_connection(str(path), dialect="ardupilotmega", robust_parsing=True)
    except Exception as exc:
        raise TelemetryFormatError(f"cannot open as a MAVLink log ({exc})", path=path) from exc
    rows: dict[str, list[tuple[float, dict[str, Any]]]] = {k: [] for k in _TYPES}
    try:
        while True:
            m = conn.recv_match(type=_TYPES)
            if m is None:
                break
            if (
                m.get_srcComponent() not in (1, 154)
                and m.get_type() != "GIMBAL_DEVICE_ATTITUDE_STATUS"
            ):
                continue  # ground stations and companions echo other components' HEARTBEATs
            rows[m.get_type()].append((float(m._timestamp), m.to_dict()))
    finally:
        conn.close()
    return rows


def _col(rows: list[tuple[float, dict[str, Any]]], key: str, scale: float = 1.0) -> np.ndarray:
    return np.array([r[1].get(key, np.nan) for r in rows], np.float64) * scale


def read_tlog(path: str | Path) -> PoseTrack:
    """Read a MAVLink ``.tlog`` into a :class:`PoseTrack` (UTC).

    Raises
    ------
    TelemetryFormatError
        Not a tlog.
    NoPositionError
        No GLOBAL_POSITION_INT or GPS_RAW_INT with a fix.
    """
    p = Path(path)
    with p.open("rb") as fh:
        if not looks_like_tlog(fh.read(10)):
            raise TelemetryFormatError(
                "not a MAVLink tlog: expected an 8-byte time stamp then a MAVLink frame "
                "(0xFE or 0xFD)",
                path=p,
                where="offset 0",
            )
    rows = _collect(p)
    warnings: list[str] = []
    meta: dict[str, Any] = {}
    # --- clocks: boot -> UTC via SYSTEM_TIME, GCS receive time -> boot
    st = [r for r in rows["SYSTEM_TIME"] if r[1]["time_unix_usec"] > 0 and r[1]["time_boot_ms"] > 0]
    boot_rows = [
        (ts, d["time_boot_ms"] * 1e-3)
        for k in ("GLOBAL_POSITION_INT", "ATTITUDE", "SYSTEM_TIME")
        for ts, d in rows[k]
    ]
    if not boot_rows:
        raise NoPositionError("no GLOBAL_POSITION_INT, ATTITUDE or SYSTEM_TIME messages", path=p)
    gcs = np.array([b[0] for b in boot_rows])
    boot = np.array([b[1] for b in boot_rows])
    # the receive time is the boot time plus a latency: the lower envelope maps the clocks
    g_off, g_rate, _ = fit_clock(boot, gcs)
    lat_s = gcs - (g_off + g_rate * boot)
    g_off += float(np.percentile(lat_s, 5))
    if st:
        b = np.array([d["time_boot_ms"] * 1e-3 for _, d in st])
        u = np.array([d["time_unix_usec"] * 1e-6 for _, d in st])
        off, rate, res = fit_clock(b, u)
        meta.update(boot_to_utc_s=off, boot_clock_rate=rate, boot_to_utc_residual_s=res)
        meta["utc_source"] = "SYSTEM_TIME"
    else:
        off, rate = g_off, g_rate
        meta["utc_source"] = "ground station receive time"
        warnings.append(
            "no SYSTEM_TIME with UTC: UTC taken from the ground station's receive clock"
        )

    def boot_to_utc(b_s: np.ndarray) -> np.ndarray:
        return off + rate * b_s

    def gcs_to_boot(ts: np.ndarray) -> np.ndarray:
        return (ts - g_off) / g_rate

    channels: list[tuple[np.ndarray, dict[str, np.ndarray]]] = []
    gpi, raw = rows["GLOBAL_POSITION_INT"], rows["GPS_RAW_INT"]
    raw_t = np.array([(d["time_usec"] * 1e-6) if d["time_usec"] < 1e15 else np.nan for _, d in raw])
    raw_t = np.where(np.isfinite(raw_t), raw_t, gcs_to_boot(np.array([ts for ts, _ in raw])))
    raw_fix = _col(raw, "fix_type")
    gpi_lat = _col(gpi, "lat", 1e-7)
    if gpi and np.any(gpi_lat != 0):
        vx, vy = _col(gpi, "vx", 0.01), _col(gpi, "vy", 0.01)
        zero = (gpi_lat == 0) & (_col(gpi, "lon") == 0)
        channels.append(
            (
                _col(gpi, "time_boot_ms", 1e-3),
                {
                    "lat_deg": np.where(zero, np.nan, gpi_lat),
                    "lon_deg": np.where(zero, np.nan, _col(gpi, "lon", 1e-7)),
                    "alt_m": np.where(zero, np.nan, _col(gpi, "alt", 1e-3)),
                    "rel_alt_m": _col(gpi, "relative_alt", 1e-3),
                    "speed_mps": np.hypot(vx, vy),
                },
            )
        )
        meta["position_source"] = "GLOBAL_POSITION_INT"
    elif raw and np.any(raw_fix >= 2):
        ok = raw_fix >= 2
        channels.append(
            (
                raw_t,
                {
                    "lat_deg": np.where(ok, _col(raw, "lat", 1e-7), np.nan),
                    "lon_deg": np.where(ok, _col(raw, "lon", 1e-7), np.nan),
                    "alt_m": np.where(ok, _col(raw, "alt", 1e-3), np.nan),
                    "speed_mps": _col(raw, "vel", 0.01),
                },
            )
        )
        meta["position_source"] = "GPS_RAW_INT"
    else:
        raise NoPositionError(
            "no GLOBAL_POSITION_INT or GPS_RAW_INT with a fix: the log holds no global position",
            path=p,
        )
    att = rows["ATTITUDE"]
    if att:
        channels.append(
            (
                _col(att, "time_boot_ms", 1e-3),
                {
                    "roll_deg": np.degrees(_col(att, "roll")),
                    "pitch_deg": np.degrees(_col(att, "pitch")),
                    "yaw_deg": np.degrees(_col(att, "yaw")),
                },
            )
        )
    gimbal = _gimbal_channel(rows, gcs_to_boot, warnings)
    if gimbal is not None:
        channels.append(gimbal)
    t_boot, a, back = merge_channels(channels)
    if "gimbal_yaw_rel_deg" in a:
        yaw_u = np.unwrap(np.radians(np.degrees(_col(att, "yaw"))))
        veh = np.degrees(np.interp(t_boot, _col(att, "time_boot_ms", 1e-3), yaw_u))
        if not att:
            veh[:] = np.nan
        a["gimbal_yaw_deg"] = (veh + a.pop("gimbal_yaw_rel_deg") + 180.0) % 360.0 - 180.0
    flags = np.zeros(t_boot.size, np.uint16)
    flags[back] |= np.uint16(SampleFlag.TIME_BACKWARDS)
    fix = step_fill(raw_t, raw_fix, t_boot, 2.0)
    sats = step_fill(raw_t, _col(raw, "satellites_visible"), t_boot, 2.0)
    eph = step_fill(raw_t, _col(raw, "eph", 0.01), t_boot, 2.0)
    eph[eph >= 655.35] = np.nan  # UINT16_MAX: unknown

    events = None
    fb = rows["CAMERA_FEEDBACK"]
    if fb:
        t_us = _col(fb, "time_usec")
        t_ev = np.where(t_us > 1e15, t_us * 1e-6, boot_to_utc(t_us * 1e-6))
        meta["camera_feedback_time"] = "UTC" if np.all(t_us > 1e15) else "boot"
        events = CameraEvents.build(
            t_ev,
            image_index=_col(fb, "img_idx").astype(np.int64),
            lat_deg=_col(fb, "lat", 1e-7),
            lon_deg=_col(fb, "lng", 1e-7),
            alt_m=_col(fb, "alt_msl"),
            roll_deg=_col(fb, "roll"),
            pitch_deg=_col(fb, "pitch"),
            yaw_deg=_col(fb, "yaw"),
            source="CAMERA_FEEDBACK",
        )
    hb = [d for _, d in rows["HEARTBEAT"] if d.get("autopilot") not in (8,)]
    if hb:
        meta["mav_type"], meta["autopilot"] = int(hb[0]["type"]), int(hb[0]["autopilot"])
    return PoseTrack.build(
        boot_to_utc(t_boot),
        lat_deg=a["lat_deg"],
        lon_deg=a["lon_deg"],
        alt_m=a["alt_m"],
        rel_alt_m=a.get("rel_alt_m"),
        roll_deg=a.get("roll_deg"),
        pitch_deg=a.get("pitch_deg"),
        yaw_deg=a.get("yaw_deg"),
        gimbal_roll_deg=a.get("gimbal_roll_deg"),
        gimbal_pitch_deg=a.get("gimbal_pitch_deg"),
        gimbal_yaw_deg=a.get("gimbal_yaw_deg"),
        gimbal_mode="absolute" if gimbal is not None else "none",
        speed_mps=a.get("speed_mps"),
        fix_type=np.nan_to_num(fix, nan=-1).astype(np.int8),
        sats=np.nan_to_num(sats, nan=-1).astype(np.int16),
        hdop=eph,
        flags=flags,
        alt_ref="msl",
        time_base="utc",
        kind="mavlink_tlog",
        source=str(p),
        warnings=warnings,
        extra={"t_boot_s": t_boot},
        events=events,
        meta=meta,
    )


def _gimbal_channel(
    rows: dict[str, list[tuple[float, dict[str, Any]]]],
    gcs_to_boot: Any,
    warnings: list[str],
) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    """Gimbal angles with roll/pitch absolute and yaw absolute or ``gimbal_yaw_rel_deg``."""
    gd = rows["GIMBAL_DEVICE_ATTITUDE_STATUS"]
    if gd:
        q = [d["q"] for _, d in gd]
        w, x, y, z = (np.array([qq[i] for qq in q], np.float64) for i in range(4))
        roll, pitch, yaw = euler_from_quaternion(w, x, y, z)
        flags = _col(gd, "flags").astype(np.int64)
        earth = (flags & _YAW_IN_EARTH_FRAME != 0) | (
            (flags & _YAW_IN_VEHICLE_FRAME == 0) & (flags & _YAW_LOCK != 0)
        )
        t = _col(gd, "time_boot_ms", 1e-3)
        if earth.all():
            return t, {"gimbal_roll_deg": roll, "gimbal_pitch_deg": pitch, "gimbal_yaw_deg": yaw}
        if earth.any():
            warnings.append("GIMBAL_DEVICE_ATTITUDE_STATUS switches yaw frames: vehicle frame used")
        return t, {"gimbal_roll_deg": roll, "gimbal_pitch_deg": pitch, "gimbal_yaw_rel_deg": yaw}
    mo = rows["MOUNT_ORIENTATION"]
    if mo:
        t = _col(mo, "time_boot_ms", 1e-3)
        out = {"gimbal_roll_deg": _col(mo, "roll"), "gimbal_pitch_deg": _col(mo, "pitch")}
        ya = _col(mo, "yaw_absolute")
        if np.isfinite(ya).all():
            out["gimbal_yaw_deg"] = ya
        else:
            out["gimbal_yaw_rel_deg"] = _col(mo, "yaw")
        return t, out
    ms = rows["MOUNT_STATUS"]
    if ms:
        warnings.append(
            "gimbal from MOUNT_STATUS (no time stamp of its own: placed by receive time; "
            "yaw read as relative to the vehicle heading)"
        )
        t = gcs_to_boot(np.array([ts for ts, _ in ms]))
        return t, {
            "gimbal_pitch_deg": _col(ms, "pointing_a", 0.01),
            "gimbal_roll_deg": _col(ms, "pointing_b", 0.01),
            "gimbal_yaw_rel_deg": _col(ms, "pointing_c", 0.01),
        }
    return None
