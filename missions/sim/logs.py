"""The flight logs of a simulated flight: a MAVLink ``.tlog`` and an onboard CSV log.

Both carry the *logged* navigation solution (:class:`missions.sim.errormodel.LoggedNav`) with
the log clock (GNSS time + ``log_clock_offset_s``). The autopilot booted ``BOOT_LEAD_S`` before
the log starts; the log starts ``LOG_LEAD_S`` before the first frame (the aircraft hovers at the
start of the stretch) and ends ``LOG_TAIL_S`` after the last.

``logs/flight_log.csv`` columns (10 Hz, complete even during link dropouts):

    t_s (UTC POSIX, log clock), time_utc (ISO), time_boot_ms, lat_deg, lon_deg, alt_msl_m (GNSS),
    alt_ellipsoid_m, rel_alt_m (barometric, above take-off), roll_deg, pitch_deg, yaw_deg
    (vehicle, NED, true north), gimbal_roll_deg, gimbal_pitch_deg, gimbal_yaw_deg (absolute),
    gimbal_mode ("absolute"), vn_m_s, ve_m_s, vd_m_s, fix_type (MAVLink GPS_FIX_TYPE: 6 RTK
    fixed, 3 3D fix, 1 no fix), sats, hdop, event ("" or "photo:<cam_idx>:<img_idx>").
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import numpy as np

from missions.sim.errormodel import LoggedNav
from missions.sim.formats.tables import CsvStream
from missions.sim.formats.tlog import TlogWriter

__all__ = ["BOOT_LEAD_S", "CSV_COLUMNS", "LOG_LEAD_S", "LOG_TAIL_S", "write_logs"]

BOOT_LEAD_S = 180.0
LOG_LEAD_S = 20.0
LOG_TAIL_S = 5.0
CSV_COLUMNS = [
    "t_s",
    "time_utc",
    "time_boot_ms",
    "lat_deg",
    "lon_deg",
    "alt_msl_m",
    "alt_ellipsoid_m",
    "rel_alt_m",
    "roll_deg",
    "pitch_deg",
    "yaw_deg",
    "gimbal_roll_deg",
    "gimbal_pitch_deg",
    "gimbal_yaw_deg",
    "gimbal_mode",
    "vn_m_s",
    "ve_m_s",
    "vd_m_s",
    "fix_type",
    "sats",
    "hdop",
    "event",
]
_PREC = {
    "t_s": 3,
    "lat_deg": 8,
    "lon_deg": 8,
    "alt_msl_m": 3,
    "alt_ellipsoid_m": 3,
    "rel_alt_m": 3,
    "roll_deg": 2,
    "pitch_deg": 2,
    "yaw_deg": 2,
    "gimbal_roll_deg": 2,
    "gimbal_pitch_deg": 2,
    "gimbal_yaw_deg": 2,
    "vn_m_s": 2,
    "ve_m_s": 2,
    "vd_m_s": 2,
    "hdop": 2,
}


def _gnss_quality(
    nav: LoggedNav, ok: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rtk = nav.model.gnss == "rtk"
    n = len(ok)
    fix = np.where(ok, 6 if rtk else 3, 1)
    sats = np.where(ok, 21, 3)
    eph = np.where(ok, max(nav.errors.gnss_h_sigma_m, 0.01), 99.0)
    epv = np.where(ok, max(nav.errors.gnss_v_sigma_m, 0.01), 99.0)
    return fix.astype(int), sats.astype(int) + (np.arange(n) // 600) % 2, eph, epv


def write_logs(
    nav: LoggedNav, events: list[dict[str, Any]], out_dir: Path, seed: int
) -> dict[str, Any]:
    """Write ``flight.tlog`` and ``flight_log.csv`` into ``out_dir``; returns a summary."""
    rng = np.random.default_rng([seed, 0x7106])
    traj = nav.traj
    t0 = traj.t_start_s - LOG_LEAD_S
    t1 = traj.t_end_s + LOG_TAIL_S
    ticks = np.round(np.arange(t0, t1, 0.1), 6)
    v = nav.at(ticks)
    v["alt_gpi_m"] = nav.home_alt_msl_logged_m + v["rel_alt_m"]
    ok = v["gnss_ok"] > 0.5
    fix, sats, eph, epv = _gnss_quality(nav, ok)
    off = nav.errors.log_clock_offset_s
    boot = traj.t_start_s - LOG_LEAD_S - BOOT_LEAD_S
    # events (camera triggers) at their true times, onto the tick grid for the CSV
    ev_at: dict[int, str] = {}
    for e in events:
        k = int(np.clip(np.searchsorted(ticks, e["t"]), 0, len(ticks) - 1))
        ev_at[k] = (
            ev_at.get(k, "") + ";" if k in ev_at else ""
        ) + f"photo:{e['cam_idx']}:{e['img_idx']}"
    csv_path = out_dir / "flight_log.csv"
    csvw = CsvStream(csv_path, CSV_COLUMNS, _PREC)
    for i, t in enumerate(ticks):
        tl = t + off
        csvw.write(
            t_s=tl,
            time_utc=_dt.datetime.fromtimestamp(tl, _dt.timezone.utc).isoformat(timespec="milliseconds"),
            time_boot_ms=int(round((t - boot) * 1000)),
            **{k: v[k][i] for k in CSV_COLUMNS if k in v and k != "t_s"},
            gimbal_mode="absolute",
            fix_type=int(fix[i]),
            sats=int(sats[i]),
            hdop=float(min(eph[i] / 1.5, 99.0)),
            event=ev_at.get(i, ""),
        )
    csvw.close()
    # tlog: per tick a receive latency; nothing during link dropouts
    tlog_path = out_dir / "flight.tlog"
    dropped = nav.in_link_dropout(ticks)
    records: list[tuple[float, int, str, Any]] = []
    lat = rng.uniform(0.008, 0.06, len(ticks))
    for i, t in enumerate(ticks):
        if dropped[i]:
            continue
        rx = t + off + lat[i]
        records.append((rx, 0, "tick", i))
    for e in events:
        if nav.in_link_dropout([e["t"]])[0]:
            continue
        records.append((e["t"] + off + float(rng.uniform(0.01, 0.05)), 1, "cam", e))
    records.sort(key=lambda r: (r[0], r[1]))
    with TlogWriter(tlog_path, boot_utc_s=boot) as w:
        last_rx = -np.inf
        for rx, _, kind, item in records:
            rx = max(rx, last_rx + 1e-6)
            last_rx = rx
            if kind == "cam":
                t = item["t"]
                vv = {k: float(a[0]) for k, a in nav.at([t]).items()}
                vv["alt_gpi_m"] = nav.home_alt_msl_logged_m + vv["rel_alt_m"]
                w.camera_feedback(
                    rx, t + off, item["cam_idx"], item["img_idx"], vv, item["focal_mm"]
                )
                continue
            i = item
            t = float(ticks[i])
            vi = {k: float(a[i]) for k, a in v.items()}
            if i % 10 == 0:
                w.heartbeat(rx)
                w.system_time(rx, t, t + off)
            w.global_position_int(rx, t, vi)
            w.attitude(rx, t, vi)
            w.gimbal_attitude(rx, t, vi)
            if i % 2 == 0:
                w.gps_raw_int(
                    rx, t + off, vi, int(fix[i]), int(sats[i]), float(eph[i]), float(epv[i])
                )
            if i % 3 == 0:
                w.vfr_hud(rx, vi)
        n_msgs = w.count
    return {
        "tlog": str(tlog_path),
        "tlog_messages": n_msgs,
        "csv": str(csv_path),
        "csv_rows": len(ticks),
        "boot_utc_s": boot,
        "log_start_utc_s": float(ticks[0]),
        "log_end_utc_s": float(ticks[-1]),
    }
