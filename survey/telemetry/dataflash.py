"""ArduPilot DataFlash ``.bin`` logs (via pymavlink's DFReader).

Channels read: position from ``POS`` (EKF, AMSL) or else ``GPS``; GNSS quality (fix status,
satellites, HDOP) and ground speed from ``GPS``; attitude from ``ATT``; gimbal from ``MNT``
(ArduPilot 4.3+: earth-frame roll/pitch and ``YawE``, so absolute; older ``Yaw`` is relative to
the vehicle heading and is turned absolute with the vehicle yaw); camera events from ``CAM``
(the shutter feedback) or else ``TRIG`` (the trigger command).

Times are the autopilot's boot clock; when ``GPS`` messages carry GPS week and time-of-week
the whole log (track and events) is moved to UTC, and ``meta`` holds the boot-to-UTC offset and
its spread.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np

from survey.telemetry.channels import backwards_mask, merge_channels, step_fill
from survey.telemetry.errors import NoPositionError, TelemetryFormatError
from survey.telemetry.timeutil import fit_clock, gps_to_utc_s
from survey.telemetry.track import CameraEvents, PoseTrack, SampleFlag

__all__ = ["DATAFLASH_MAGIC", "read_dataflash"]

log = logging.getLogger(__name__)

DATAFLASH_MAGIC = b"\xa3\x95"
_TYPES = ["GPS", "POS", "ATT", "MNT", "CAM", "TRIG", "BARO"]


def _time_s(m: Any) -> float | None:
    d = m._d if hasattr(m, "_d") else m.to_dict()
    if "TimeUS" in d:
        return float(d["TimeUS"]) * 1e-6
    if m.get_type() == "GPS" and "T" in d:  # ArduCopter 3.2: GPS.TimeMS is GPS time of week
        return float(d["T"]) * 1e-3
    if "TimeMS" in d:
        return float(d["TimeMS"]) * 1e-3
    return None


def _collect(path: Path) -> dict[str, list[dict[str, Any]]]:
    from pymavlink import DFReader

    try:
        reader = DFReader.DFReader_binary(str(path), zero_time_base=True)
    except Exception as exc:  # pymavlink raises bare Exceptions on corrupt headers
        raise TelemetryFormatError(
            f"not a readable ArduPilot DataFlash log ({exc})", path=path, where="offset 0"
        ) from exc
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in _TYPES}
    while True:
        try:
            m = reader.recv_match(type=_TYPES)
        except Exception as exc:
            raise TelemetryFormatError(
                f"DataFlash message cannot be decoded ({exc})",
                path=path,
                where=f"offset {getattr(reader, 'offset', '?')}",
            ) from exc
        if m is None:
            break
        t = _time_s(m)
        if t is None:
            continue
        d = m.to_dict()
        d["_t"] = t
        rows[m.get_type()].append(d)
    if reader.offset < reader.data_len - 256:
        log.warning("%s: stopped reading at byte %d of %d", path, reader.offset, reader.data_len)
    return rows


def _arr(rows: list[dict[str, Any]], key: str, *alts: str) -> np.ndarray:
    for k in (key, *alts):
        if rows and k in rows[0]:
            return np.array([r.get(k, np.nan) for r in rows], np.float64)
    return np.full(len(rows), np.nan)


def read_dataflash(path: str | Path) -> PoseTrack:
    """Read an ArduPilot DataFlash ``.bin`` log into a :class:`PoseTrack` (UTC when possible).

    Raises
    ------
    TelemetryFormatError
        Not a DataFlash log, or it cannot be decoded.
    NoPositionError
        The log holds neither ``POS`` nor ``GPS`` positions.
    """
    p = Path(path)
    with p.open("rb") as fh:
        if fh.read(2) != DATAFLASH_MAGIC:
            raise TelemetryFormatError(
                "not an ArduPilot DataFlash log: expected the bytes A3 95 at the start",
                path=p,
                where="offset 0",
            )
    rows = _collect(p)
    warnings: list[str] = []
    gps, pos, att, mnt = rows["GPS"], rows["POS"], rows["ATT"], rows["MNT"]
    gps_t = _arr(gps, "_t")
    gps_ok = _arr(gps, "Status") >= 2
    channels: list[tuple[np.ndarray, dict[str, np.ndarray]]] = []
    pos_lat = _arr(pos, "Lat")
    if len(pos) >= 2 and np.any(np.abs(pos_lat) > 0):
        channels.append(
            (
                _arr(pos, "_t"),
                {
                    "lat_deg": pos_lat,
                    "lon_deg": _arr(pos, "Lng"),
                    "alt_m": _arr(pos, "Alt"),
                    "rel_alt_m": _arr(pos, "RelHomeAlt"),
                },
            )
        )
        position_source = "POS"
    elif gps:
        lat = np.where(gps_ok, _arr(gps, "Lat"), np.nan)
        channels.append(
            (
                gps_t,
                {
                    "lat_deg": lat,
                    "lon_deg": np.where(gps_ok, _arr(gps, "Lng"), np.nan),
                    "alt_m": np.where(gps_ok, _arr(gps, "Alt"), np.nan),
                    "rel_alt_m": _arr(gps, "RelAlt"),
                },
            )
        )
        position_source = "GPS"
    else:
        raise NoPositionError("no POS or GPS messages: the log holds no global position", path=p)
    if att:
        channels.append(
            (
                _arr(att, "_t"),
                {
                    "roll_deg": _arr(att, "Roll"),
                    "pitch_deg": _arr(att, "Pitch"),
                    "yaw_deg": _arr(att, "Yaw"),
                },
            )
        )
    gimbal_warn = None
    if mnt:
        g = {"gimbal_roll_deg": _arr(mnt, "Roll"), "gimbal_pitch_deg": _arr(mnt, "Pitch")}
        if "YawE" in mnt[0]:
            g["gimbal_yaw_deg"] = _arr(mnt, "YawE")
        else:
            g["gimbal_yaw_rel_deg"] = _arr(mnt, "Yaw", "YawB")
            gimbal_warn = "MNT yaw is relative to the vehicle heading: made absolute with ATT yaw"
        channels.append((_arr(mnt, "_t"), g))
    t, a, back = merge_channels(channels)
    if "gimbal_yaw_rel_deg" in a:
        att_t, att_yaw = _arr(att, "_t"), np.unwrap(np.radians(_arr(att, "Yaw")))
        veh = np.degrees(np.interp(t, att_t, att_yaw)) if att else np.full(t.size, np.nan)
        a["gimbal_yaw_deg"] = (veh + a.pop("gimbal_yaw_rel_deg") + 180.0) % 360.0 - 180.0
        warnings.append(gimbal_warn or "")

    # GNSS quality on every row (latest GPS message at or before it)
    fix = step_fill(gps_t, _arr(gps, "Status"), t, 1.0)
    sats = step_fill(gps_t, _arr(gps, "NSats", "NSat"), t, 1.0)
    hdop = step_fill(gps_t, _arr(gps, "HDop"), t, 1.0)
    speed = np.full(t.size, np.nan)
    if gps:
        gi = np.searchsorted(t, gps_t)
        speed[gi] = _arr(gps, "Spd")
    has_pos = np.isfinite(a["lat_deg"])
    flags = np.zeros(t.size, np.uint16)
    flags[back] |= np.uint16(SampleFlag.TIME_BACKWARDS)

    # camera events: CAM (shutter feedback) preferred over TRIG (trigger command)
    cam = rows["CAM"] or rows["TRIG"]
    events = None
    if cam:
        events = CameraEvents.build(
            _arr(cam, "_t"),
            image_index=np.nan_to_num(_arr(cam, "Img"), nan=-1).astype(np.int64),
            lat_deg=_arr(cam, "Lat"),
            lon_deg=_arr(cam, "Lng"),
            alt_m=_arr(cam, "Alt"),
            roll_deg=_arr(cam, "R", "Roll"),
            pitch_deg=_arr(cam, "P", "Pitch"),
            yaw_deg=_arr(cam, "Y", "Yaw"),
            source="CAM" if rows["CAM"] else "TRIG",
        )

    meta: dict[str, Any] = {"position_source": position_source, "boot_time": "TimeUS/TimeMS"}
    time_base = "boot"
    extra = {"t_boot_s": t.copy()}
    # boot clock -> UTC from GPS week + time of week
    week, tow = _arr(gps, "GWk", "Week"), _arr(gps, "GMS", "TimeMS")
    good = gps_ok & (week > 0) & np.isfinite(tow) & ~backwards_mask(gps_t)
    if good.sum() >= 2:
        off, rate, res = fit_clock(gps_t[good], gps_to_utc_s(week[good], tow[good] / 1000.0))
        meta.update(boot_to_utc_s=off, boot_clock_rate=rate, boot_to_utc_residual_s=res)
        if abs(rate - 1.0) > 1e-3:
            warnings.append(
                f"the boot clock runs {abs(rate - 1) * 100:.1f} % {'slow' if rate > 1 else 'fast'} "
                "against GPS time: times mapped to UTC with a linear clock model"
            )
        t = off + rate * t
        if events is not None:
            events = dataclasses.replace(events, t_s=off + rate * events.t_s)
        time_base = "utc"
    else:
        warnings.append("no GPS time in the log: times are seconds since boot")
    n_pos = int(has_pos.sum())
    if n_pos == 0:
        raise NoPositionError(
            f"{position_source} messages hold no position with a GNSS fix", path=p
        )
    return PoseTrack.build(
        t,
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
        gimbal_mode="absolute" if mnt else "none",
        speed_mps=speed,
        fix_type=np.nan_to_num(fix, nan=-1).astype(np.int8),
        sats=np.nan_to_num(sats, nan=-1).astype(np.int16),
        hdop=hdop,
        flags=flags,
        alt_ref="msl",
        time_base=time_base,  # type: ignore[arg-type]
        kind="ardupilot_dataflash",
        source=str(p),
        warnings=[w for w in warnings if w],
        extra=extra,
        events=events,
        meta=meta,
    )
