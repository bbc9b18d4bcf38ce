"""PX4 ULog (``.ulg``) flight logs, via pyulog.

Channels read: position from ``vehicle_global_position`` (EKF; AMSL altitude) or else the GNSS
receiver topic (``sensor_gps`` / ``vehicle_gps_position``), which also gives fix type,
satellites, HDOP, ground speed and UTC; attitude from ``vehicle_attitude`` (quaternion,
body FRD to NED); gimbal from ``gimbal_device_attitude_status`` (flags say the yaw frame) or
``mount_orientation``; camera events from ``camera_capture``.

Times: the autopilot's boot clock (µs), mapped to UTC with the receiver's ``time_utc_usec``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from survey.telemetry.channels import euler_from_quaternion, merge_channels, step_fill
from survey.telemetry.errors import NoPositionError, TelemetryFormatError
from survey.telemetry.timeutil import fit_clock
from survey.telemetry.track import CameraEvents, PoseTrack, SampleFlag

__all__ = ["ULOG_MAGIC", "read_ulog"]

ULOG_MAGIC = b"ULog\x01\x12\x35"
_TOPICS = [
    "vehicle_global_position",
    "vehicle_gps_position",
    "sensor_gps",
    "vehicle_attitude",
    "camera_capture",
    "gimbal_device_attitude_status",
    "mount_orientation",
    "vehicle_local_position",
]


def _topic(ulog: Any, name: str) -> dict[str, np.ndarray] | None:
    ds = [d for d in ulog.data_list if d.name == name]
    if not ds:
        return None
    d = min(ds, key=lambda x: x.multi_id)
    return {k: np.asarray(v) for k, v in d.data.items()}


def _first(d: dict[str, np.ndarray], *names: str, scale: float = 1.0) -> np.ndarray | None:
    for n in names:
        if n in d:
            return d[n].astype(np.float64) * scale
    return None


def read_ulog(path: str | Path) -> PoseTrack:
    """Read a PX4 ``.ulg`` log into a :class:`PoseTrack` (UTC when the receiver gave it).

    Raises
    ------
    TelemetryFormatError
        Not a ULog file, or pyulog cannot parse it.
    NoPositionError
        The log holds only local position (no global position or GNSS fix).
    """
    from pyulog import ULog

    p = Path(path)
    with p.open("rb") as fh:
        if fh.read(7) != ULOG_MAGIC:
            raise TelemetryFormatError(
                "not a PX4 ULog: expected 'ULog' 01 12 35 at the start", path=p, where="offset 0"
            )
    try:
        ulog = ULog(str(p), _TOPICS)
    except Exception as exc:  # pyulog raises bare exceptions on corrupt files
        raise TelemetryFormatError(f"pyulog cannot parse the log ({exc})", path=p) from exc
    warnings: list[str] = []
    meta: dict[str, Any] = {
        "sys_name": ulog.msg_info_dict.get("sys_name"),
        "ver_hw": ulog.msg_info_dict.get("ver_hw"),
    }
    gps = _topic(ulog, "sensor_gps") or _topic(ulog, "vehicle_gps_position")
    gpos = _topic(ulog, "vehicle_global_position")
    channels: list[tuple[np.ndarray, dict[str, np.ndarray]]] = []
    gps_t = gps["timestamp"] * 1e-6 if gps else np.zeros(0)
    if gps:
        gps_lat = (
            _first(gps, "latitude_deg") if "latitude_deg" in gps else _first(gps, "lat", scale=1e-7)
        )
        gps_lon = (
            _first(gps, "longitude_deg")
            if "longitude_deg" in gps
            else _first(gps, "lon", scale=1e-7)
        )
        gps_alt = (
            _first(gps, "altitude_msl_m")
            if "altitude_msl_m" in gps
            else _first(gps, "alt", scale=1e-3)
        )
        fix = gps["fix_type"].astype(np.float64)
        speed = _first(gps, "vel_m_s")
    if gpos is not None and len(gpos["timestamp"]):
        channels.append(
            (
                gpos["timestamp"] * 1e-6,
                {
                    "lat_deg": gpos["lat"].astype(float),
                    "lon_deg": gpos["lon"].astype(float),
                    "alt_m": gpos["alt"].astype(float),
                },
            )
        )
        meta["position_source"] = "vehicle_global_position"
    elif gps and np.any(fix >= 2):
        ok = fix >= 2
        channels.append(
            (
                gps_t,
                {
                    "lat_deg": np.where(ok, gps_lat, np.nan),  # type: ignore[arg-type]
                    "lon_deg": np.where(ok, gps_lon, np.nan),  # type: ignore[arg-type]
                    "alt_m": np.where(ok, gps_alt, np.nan),  # type: ignore[arg-type]
                    "speed_mps": speed if speed is not None else np.full(gps_t.size, np.nan),
                },
            )
        )
        meta["position_source"] = "vehicle_gps_position" if "lat" in gps else "sensor_gps"
    else:
        lp = _topic(ulog, "vehicle_local_position")
        what = (
            "local position only (vehicle_local_position without a global reference)"
            if lp
            else "no position topic"
        )
        raise NoPositionError(f"no global position in the log: {what}", path=p)
    att = _topic(ulog, "vehicle_attitude")
    if att is not None:
        r, pi, y = euler_from_quaternion(att["q[0]"], att["q[1]"], att["q[2]"], att["q[3]"])
        channels.append((att["timestamp"] * 1e-6, {"roll_deg": r, "pitch_deg": pi, "yaw_deg": y}))
    gimbal_mode = "none"
    gd = _topic(ulog, "gimbal_device_attitude_status")
    mo = _topic(ulog, "mount_orientation")
    if gd is not None:
        r, pi, y = euler_from_quaternion(gd["q[0]"], gd["q[1]"], gd["q[2]"], gd["q[3]"])
        fl = gd.get("device_flags", np.zeros_like(r)).astype(np.int64)
        earth = (fl & 2048 != 0) | ((fl & 4096 == 0) & (fl & 16 != 0))
        key = "gimbal_yaw_deg" if earth.all() else "gimbal_yaw_rel_deg"
        channels.append(
            (gd["timestamp"] * 1e-6, {"gimbal_roll_deg": r, "gimbal_pitch_deg": pi, key: y})
        )
        gimbal_mode = "absolute"
    elif mo is not None:
        e = [np.degrees(mo[f"attitude_euler_angle[{i}]"].astype(float)) for i in range(3)]
        channels.append(
            (
                mo["timestamp"] * 1e-6,
                {"gimbal_roll_deg": e[0], "gimbal_pitch_deg": e[1], "gimbal_yaw_rel_deg": e[2]},
            )
        )
        gimbal_mode = "absolute"
        warnings.append("mount_orientation yaw read as relative to the vehicle heading")
    t, a, back = merge_channels(channels)
    if "gimbal_yaw_rel_deg" in a:
        if att is not None:
            yaw_u = np.unwrap(
                np.radians(
                    euler_from_quaternion(att["q[0]"], att["q[1]"], att["q[2]"], att["q[3]"])[2]
                )
            )
            veh = np.degrees(np.interp(t, att["timestamp"] * 1e-6, yaw_u))
        else:
            veh = np.full(t.size, np.nan)
        a["gimbal_yaw_deg"] = (veh + a.pop("gimbal_yaw_rel_deg") + 180.0) % 360.0 - 180.0
    flags = np.zeros(t.size, np.uint16)
    flags[back] |= np.uint16(SampleFlag.TIME_BACKWARDS)
    fix_t = sats = hdop = None
    if gps:
        fix_t = step_fill(gps_t, gps["fix_type"], t, 2.0)
        sats = step_fill(gps_t, gps["satellites_used"], t, 2.0)
        hdop = step_fill(gps_t, gps["hdop"], t, 2.0)
        if "speed_mps" not in a and speed is not None:
            a["speed_mps"] = np.full(t.size, np.nan)
            a["speed_mps"][np.searchsorted(t, gps_t)] = speed

    cc = _topic(ulog, "camera_capture")
    events = None
    if cc is not None and len(cc["timestamp"]):
        r, pi, y = euler_from_quaternion(cc["q[0]"], cc["q[1]"], cc["q[2]"], cc["q[3]"])
        events = CameraEvents.build(
            cc["timestamp"] * 1e-6,
            image_index=cc["seq"].astype(np.int64),
            lat_deg=cc["lat"],
            lon_deg=cc["lon"],
            alt_m=cc["alt"],
            roll_deg=r,
            pitch_deg=pi,
            yaw_deg=y,
            source="camera_capture",
        )
    time_base = "boot"
    utc = gps["time_utc_usec"].astype(np.float64) * 1e-6 if gps else np.zeros(0)
    good = utc > 1e9
    if good.sum() >= 1:
        off, rate, res = fit_clock(gps_t[good], utc[good])
        meta.update(boot_to_utc_s=off, boot_clock_rate=rate, boot_to_utc_residual_s=res)
        extra = {"t_boot_s": t.copy()}
        t = off + rate * t
        if events is not None:
            events = dataclasses.replace(events, t_s=off + rate * events.t_s)
        time_base = "utc"
    else:
        extra = {}
        warnings.append("no GNSS UTC time in the log: times are seconds since boot")
    return PoseTrack.build(
        t,
        lat_deg=a["lat_deg"],
        lon_deg=a["lon_deg"],
        alt_m=a["alt_m"],
        roll_deg=a.get("roll_deg"),
        pitch_deg=a.get("pitch_deg"),
        yaw_deg=a.get("yaw_deg"),
        gimbal_roll_deg=a.get("gimbal_roll_deg"),
        gimbal_pitch_deg=a.get("gimbal_pitch_deg"),
        gimbal_yaw_deg=a.get("gimbal_yaw_deg"),
        gimbal_mode=gimbal_mode,  # type: ignore[arg-type]
        speed_mps=a.get("speed_mps"),
        fix_type=None if fix_t is None else np.nan_to_num(fix_t, nan=-1).astype(np.int8),
        sats=None if sats is None else np.nan_to_num(sats, nan=-1).astype(np.int16),
        hdop=hdop,
        flags=flags,
        alt_ref="msl",
        time_base=time_base,  # type: ignore[arg-type]
        kind="px4_ulog",
        source=str(p),
        warnings=warnings,
        extra=extra,
        events=events,
        meta=meta,
    )
