"""Flight logs as CSV: DJI flight records, exiftool photo exports, and any labelled CSV.

The layout is recognised from the header, and every column is taken by its label:

* DJI flight record (TXTlogToCSVtool / CsvView / airdata style): ``CUSTOM.updateTime``,
  ``OSD.latitude``, ``OSD.longitude``, ``OSD.height [m]`` (above take-off), ``OSD.pitch/roll/yaw``,
  ``GIMBAL.pitch/roll/yaw`` (absolute), ``OSD.gpsNum``, ``CUSTOM.isPhoto``/``isVideo``;
* exiftool CSV of photos (``SourceFile``, ``GPSLatitude`` as DMS text or decimal,
  ``DateTimeOriginal``, ``AbsoluteAltitude``, ``Gimbal*Degree``, ``Flight*Degree``);
* any other CSV whose header names latitude and longitude columns (``lat``/``latitude``,
  ``lon``/``lng``/``longitude``, with units such as ``_deg``, ``[m]``, ``(feet)`` understood),
  with a time column (``t_s``, ``time``, ``timestamp``, ``datetime(utc)``, ...).

A CSV whose header does not name both latitude and longitude is refused: columns are never
guessed from their values.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from survey.telemetry.errors import TelemetryFormatError
from survey.telemetry.photos import parse_dms
from survey.telemetry.timeutil import parse_wall_clock
from survey.telemetry.track import AltRef, CameraEvents, PoseTrack, SampleFlag, TimeBase

__all__ = ["csv_layout", "read_csv_log"]

_FEET = 0.3048
_MPH = 0.44704
_KMH = 1 / 3.6


def _norm(h: str) -> tuple[str, str]:
    """``'Altitude (feet)'`` -> ``('altitude', 'feet')``; ``'lat_deg'`` -> ``('lat', 'deg')``."""
    s = h.strip().strip("\ufeff").lower()
    unit = ""
    m = re.search(r"[\[(]([^\])]*)[\])]\s*$", s)
    if m:
        unit, s = m.group(1).strip(), s[: m.start()].strip()
    m = re.search(r"_(deg|degrees|m|mps|m_s|s|ms|us|ft|feet|kmh|mph)$", s)
    if m and s not in ("t_s",):
        unit, s = unit or m.group(1), s[: m.start()]
    return s.replace(" ", "_"), unit


_ALIASES: dict[str, tuple[str, ...]] = {
    "t": (
        "t",
        "t_s",
        "time",
        "timestamp",
        "datetime",
        "date_time",
        "gps_time",
        "utc",
        "time_utc",
        "datetime_utc",
        "time(seconds)",
        "time(millisecond)",
        "time_seconds",
        "seconds",
        "elapsed",
    ),
    "lat": ("lat", "latitude", "gps_lat", "gpslatitude"),
    "lon": ("lon", "lng", "long", "longitude", "longtitude", "gps_lon", "gpslongitude"),
    "alt": (
        "alt",
        "altitude",
        "alt_msl",
        "altitude_msl",
        "altitude_above_sealevel",
        "absolute_altitude",
        "absolutealtitude",
        "alt_amsl",
        "gpsaltitude",
        "elevation",
        "ele",
    ),
    "alt_ellipsoid": ("alt_ellipsoid", "altitude_ellipsoid", "ellipsoid_height", "h_ellipsoid"),
    "rel_alt": (
        "rel_alt",
        "relative_alt",
        "relative_altitude",
        "relativealtitude",
        "height",
        "height_above_takeoff",
        "alt_rel",
        "agl_takeoff",
    ),
    "roll": ("roll", "vehicle_roll", "flight_roll", "flightrolldegree", "aircraft_roll"),
    "pitch": ("pitch", "vehicle_pitch", "flight_pitch", "flightpitchdegree", "aircraft_pitch"),
    "yaw": (
        "yaw",
        "heading",
        "vehicle_yaw",
        "flight_yaw",
        "flightyawdegree",
        "compass_heading",
        "aircraft_yaw",
    ),
    "g_roll": ("gimbal_roll", "gb_roll", "gimbalrolldegree", "gimbal.roll"),
    "g_pitch": ("gimbal_pitch", "gb_pitch", "gimbalpitchdegree", "gimbal.pitch"),
    "g_yaw": ("gimbal_yaw", "gb_yaw", "gimbal_heading", "gimbalyawdegree", "gimbal.yaw"),
    "speed": ("speed", "ground_speed", "groundspeed", "hspeed", "h_speed"),
    "vn": ("vn", "vel_n", "velocity_n", "v_north", "north_velocity"),
    "ve": ("ve", "vel_e", "velocity_e", "v_east", "east_velocity"),
    "sats": ("sats", "satellites", "num_sats", "nsats", "gpsnum"),
    "hdop": ("hdop",),
    "fix": ("fix", "fix_type", "gps_fix"),
    "file": ("file", "filename", "image", "photo", "sourcefile"),
}


def _find(headers: list[str], role: str) -> str | None:
    names = _ALIASES[role]
    for h in headers:
        if _norm(h)[0] in names:
            return h
    return None


def csv_layout(header: list[str]) -> str | None:
    """``"dji_flight_record"``, ``"exiftool_csv"``, ``"labelled_csv"`` or None (not a track)."""
    hs = {h.strip() for h in header}
    if {"OSD.latitude", "OSD.longitude"} <= hs:
        return "dji_flight_record"
    if "SourceFile" in hs and ({"GPSLatitude", "GPSLongitude"} <= hs or "GPSPosition" in hs):
        return "exiftool_csv"
    if _find(header, "lat") and _find(header, "lon"):
        return "labelled_csv"
    return None


def _read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    # newline="": a lone CR ends a row (as the csv module expects) instead of raising
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    try:
        if not reader.fieldnames:
            raise TelemetryFormatError("empty CSV: no header line", path=path, where="line 1")
        return list(reader.fieldnames), list(reader)
    except csv.Error as exc:  # a field over the csv module's limit, a stray quote, NUL bytes
        raise TelemetryFormatError(
            f"damaged CSV ({exc}); expected one record per line",
            path=path,
            where=f"line {reader.line_num}",
        ) from exc


def _num_col(rows: list[dict[str, str]], key: str | None, scale: float = 1.0) -> np.ndarray:
    out = np.full(len(rows), np.nan)
    if key is None:
        return out
    for i, r in enumerate(rows):
        v = (r.get(key) or "").strip()
        if v:
            try:
                out[i] = float(v) * scale
            except ValueError:
                pass
    return out


def _unit_scale(header: str | None) -> float:
    if header is None:
        return 1.0
    unit = _norm(header)[1]
    return {"feet": _FEET, "ft": _FEET, "mph": _MPH, "kmh": _KMH, "km/h": _KMH}.get(unit, 1.0)


def _times(
    path: Path, rows: list[dict[str, str]], key: str | None
) -> tuple[np.ndarray, TimeBase, list[str]]:
    if key is None:
        raise TelemetryFormatError(
            "no time column: expected one named t_s, time, timestamp or datetime",
            path=path,
            where="line 1",
        )
    unit = _norm(key)[1]
    name = _norm(key)[0]
    vals = [(r.get(key) or "").strip() for r in rows]
    nums = np.array([_float_or_nan(v) for v in vals])
    warnings: list[str] = []
    if np.isfinite(nums).sum() >= 0.9 * len(vals):
        scale = 1e-3 if unit in ("ms", "millisecond") or "millisecond" in name else 1.0
        scale = 1e-6 if unit == "us" else scale
        t = nums * scale
        base: TimeBase = "utc" if np.nanmedian(t) > 1e8 else "relative"
        return t, base, warnings
    t = np.full(len(vals), np.nan)
    zones = set()
    for i, v in enumerate(vals):
        p = parse_wall_clock(v)
        if p is not None:
            t[i] = p[0]
            zones.add(p[1])
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size == len(vals):
        raise TelemetryFormatError(
            f"time column {key!r} holds neither numbers nor date-times (saw {vals[0]!r})",
            path=path,
            where="line 2",
        )
    if bad.size:
        warnings.append(f"{bad.size} rows with an unreadable time (first at line {bad[0] + 2})")
    utc = (zones and None not in zones) or "utc" in key.lower() or unit == "utc"
    return t, ("utc" if utc else "local"), warnings


def _float_or_nan(v: str) -> float:
    try:
        return float(v)
    except ValueError:
        return float("nan")


def read_csv_log(path: str | Path) -> PoseTrack:
    """Read a CSV flight log or photo export into a :class:`PoseTrack`.

    Raises
    ------
    TelemetryFormatError
        The header does not name latitude and longitude columns (and a time column).
    """
    p = Path(path)
    header, rows = _read_rows(p)
    layout = csv_layout(header)
    if layout is None:
        raise TelemetryFormatError(
            f"CSV header names no latitude and longitude columns (saw {', '.join(header[:8])}"
            f"{', ...' if len(header) > 8 else ''})",
            path=p,
            where="line 1",
        )
    if not rows:
        raise TelemetryFormatError("CSV has a header but no rows", path=p, where="line 2")
    reader: Callable[[Path, list[str], list[dict[str, str]]], PoseTrack] = {
        "dji_flight_record": _dji_flight_record,
        "exiftool_csv": _exiftool,
        "labelled_csv": _labelled,
    }[layout]
    return reader(p, header, rows)


def _flags_for(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    flags = np.zeros(lat.size, np.uint16)
    flags[~(np.isfinite(lat) & np.isfinite(lon))] |= np.uint16(SampleFlag.NO_POSITION)
    return flags


def _dji_flight_record(p: Path, header: list[str], rows: list[dict[str, str]]) -> PoseTrack:
    tkey = "CUSTOM.updateTime" if "CUSTOM.updateTime" in header else _find(header, "t")
    t, base, warnings = _times(p, rows, tkey)
    lat = _num_col(rows, "OSD.latitude")
    lon = _num_col(rows, "OSD.longitude")
    height = _num_col(rows, "OSD.height [m]" if "OSD.height [m]" in header else "OSD.height")
    vx, vy = _num_col(rows, "OSD.xSpeed [m/s]"), _num_col(rows, "OSD.ySpeed [m/s]")
    gimbal = "GIMBAL.pitch" in header
    events = None
    if "CUSTOM.isPhoto" in header:
        shot = np.array([bool((r.get("CUSTOM.isPhoto") or "").strip()) for r in rows])
        # one photo spans consecutive rows (10 Hz rows, repeated rows): its first row is the event
        idx = shot & ~np.concatenate([[False], shot[:-1]])
        if idx.any():
            events = CameraEvents.build(
                t[idx],
                lat_deg=lat[idx],
                lon_deg=lon[idx],
                alt_m=height[idx],
                source="CUSTOM.isPhoto",
                time_resolution_s=_row_period(t),
            )
    meta: dict[str, Any] = {"layout": "dji_flight_record", "clock": "mobile device wall clock"}
    first = rows[0]
    for k, name in (("DETAILS.aircraftName", "aircraft_name"), ("DETAILS.droneType", "aircraft")):
        if first.get(k):
            meta[name] = first[k]
    take_off = _num_col(rows[:1], "DETAILS.takeOffAltitude [m]")[0]
    if np.isfinite(take_off):
        meta["takeoff_altitude_m"] = float(take_off)
    if "CUSTOM.isVideo" in header:
        rec = np.array([(r.get("CUSTOM.isVideo") or "").strip() == "Recording" for r in rows])
        edges = np.flatnonzero(np.diff(np.concatenate([[0], rec.astype(int), [0]])))
        meta["video_recording_s"] = [
            (float(t[a]), float(t[min(b, len(t) - 1)]))
            for a, b in zip(edges[::2], edges[1::2], strict=True)
        ]
    return PoseTrack.build(
        t,
        lat_deg=lat,
        lon_deg=lon,
        alt_m=height,
        rel_alt_m=height,
        roll_deg=_num_col(rows, "OSD.roll"),
        pitch_deg=_num_col(rows, "OSD.pitch"),
        yaw_deg=_num_col(rows, "OSD.yaw"),
        gimbal_roll_deg=_num_col(rows, "GIMBAL.roll") if gimbal else None,
        gimbal_pitch_deg=_num_col(rows, "GIMBAL.pitch") if gimbal else None,
        gimbal_yaw_deg=_num_col(rows, "GIMBAL.yaw") if gimbal else None,
        gimbal_mode="absolute" if gimbal else "none",
        speed_mps=np.hypot(vx, vy),
        sats=np.nan_to_num(_num_col(rows, "OSD.gpsNum"), nan=-1).astype(np.int16),
        flags=_flags_for(lat, lon),
        alt_ref="takeoff",
        time_base=base,
        kind="dji_flight_record_csv",
        source=str(p),
        warnings=warnings,
        events=events,
        meta=meta,
    )


def _exiftool(p: Path, header: list[str], rows: list[dict[str, str]]) -> PoseTrack:
    warnings: list[str] = []
    tkey = next(
        (k for k in ("SubSecDateTimeOriginal", "DateTimeOriginal", "CreateDate") if k in header),
        None,
    )
    t, base, w = _times(p, rows, tkey)
    warnings += w
    if "SubSecTimeOriginal" in header and tkey == "DateTimeOriginal":
        sub = [(r.get("SubSecTimeOriginal") or "").strip() for r in rows]
        t = t + np.array([int(s) / 10 ** len(s) if s.isdigit() else 0.0 for s in sub])
    if "GPSLatitude" in header:
        lat = np.array(
            [parse_dms(r.get("GPSLatitude") or None, r.get("GPSLatitudeRef")) for r in rows]
        )
        lon = np.array(
            [parse_dms(r.get("GPSLongitude") or None, r.get("GPSLongitudeRef")) for r in rows]
        )
    else:
        parts = [(r.get("GPSPosition") or "").split(",") for r in rows]
        lat = np.array([parse_dms(q[0]) if len(q) == 2 else np.nan for q in parts])
        lon = np.array([parse_dms(q[1]) if len(q) == 2 else np.nan for q in parts])
    alt_key = next((k for k in ("AbsoluteAltitude", "GPSAltitude") if k in header), None)
    alt = _num_col(rows, alt_key)
    has_g = any(k in header for k in ("GimbalPitchDegree", "GimbalYawDegree"))
    flags = _flags_for(lat, lon)
    flags[(np.abs(lat) > 90) | (np.abs(lon) > 180)] |= np.uint16(SampleFlag.OUT_OF_RANGE)
    files = [(r.get("FileName") or Path(r.get("SourceFile") or "").name) for r in rows]
    order = np.lexsort((np.array(files), t))
    track = PoseTrack.build(
        t,
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt,
        rel_alt_m=_num_col(rows, "RelativeAltitude"),
        roll_deg=_num_col(rows, "FlightRollDegree"),
        pitch_deg=_num_col(rows, "FlightPitchDegree"),
        yaw_deg=_num_col(rows, "FlightYawDegree"),
        gimbal_roll_deg=_num_col(rows, "GimbalRollDegree") if has_g else None,
        gimbal_pitch_deg=_num_col(rows, "GimbalPitchDegree") if has_g else None,
        gimbal_yaw_deg=_num_col(rows, "GimbalYawDegree") if has_g else None,
        gimbal_mode="absolute" if has_g else "none",
        flags=flags,
        alt_ref="msl" if alt_key else "unknown",
        time_base=base,
        kind="exiftool_csv",
        source=str(p),
        warnings=warnings,
        extra={"file": np.array(files), "row": np.arange(2, len(rows) + 2)},
        meta={"layout": "exiftool_csv", "photos": len(rows)},
    )
    return track[order]


def _labelled(p: Path, header: list[str], rows: list[dict[str, str]]) -> PoseTrack:
    f = {role: _find(header, role) for role in _ALIASES}
    t, base, warnings = _times(p, rows, f["t"])
    lat = _num_col(rows, f["lat"])
    lon = _num_col(rows, f["lon"])
    alt_ref: AltRef = "unknown"
    alt = np.full(len(rows), np.nan)
    if f["alt_ellipsoid"]:
        alt, alt_ref = (
            _num_col(rows, f["alt_ellipsoid"], _unit_scale(f["alt_ellipsoid"])),
            "ellipsoid",
        )
    elif f["alt"]:
        alt = _num_col(rows, f["alt"], _unit_scale(f["alt"]))
        alt_ref = "msl"
        if _norm(f["alt"])[0] in ("alt", "altitude", "elevation", "ele"):
            warnings.append(
                f"column {f['alt']!r} does not say its reference: read as above sea level"
            )
    rel = _num_col(rows, f["rel_alt"], _unit_scale(f["rel_alt"]))
    if not np.isfinite(alt).any() and np.isfinite(rel).any():
        alt, alt_ref = rel.copy(), "takeoff"
    has_g = any(f[k] for k in ("g_roll", "g_pitch", "g_yaw"))
    gm_col = next((h for h in header if _norm(h)[0] == "gimbal_mode"), None)
    gimbal_mode = "absolute"
    if gm_col and rows[0].get(gm_col, "").strip().lower() in ("relative", "absolute"):
        gimbal_mode = rows[0][gm_col].strip().lower()
    extra = {}
    if f["file"]:
        extra["file"] = np.array([(r.get(f["file"]) or "") for r in rows])
    for h in header:
        if _norm(h)[0] in ("frame", "frame_index", "frame_idx"):
            extra["frame"] = np.nan_to_num(_num_col(rows, h), nan=-1).astype(np.int64)
    events = _csv_events(rows, header, t, lat, lon, alt)
    speed = _num_col(rows, f["speed"], _unit_scale(f["speed"]))
    if not np.isfinite(speed).any() and f["vn"] and f["ve"]:  # ground speed from N/E velocity
        speed = np.hypot(
            _num_col(rows, f["vn"], _unit_scale(f["vn"])),
            _num_col(rows, f["ve"], _unit_scale(f["ve"])),
        )
    return PoseTrack.build(
        t,
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt,
        rel_alt_m=rel,
        roll_deg=_num_col(rows, f["roll"]),
        pitch_deg=_num_col(rows, f["pitch"]),
        yaw_deg=_num_col(rows, f["yaw"]),
        gimbal_roll_deg=_num_col(rows, f["g_roll"]) if has_g else None,
        gimbal_pitch_deg=_num_col(rows, f["g_pitch"]) if has_g else None,
        gimbal_yaw_deg=_num_col(rows, f["g_yaw"]) if has_g else None,
        gimbal_mode=gimbal_mode if has_g else "none",  # type: ignore[arg-type]
        speed_mps=speed,
        sats=np.nan_to_num(_num_col(rows, f["sats"]), nan=-1).astype(np.int16),
        fix_type=np.nan_to_num(_num_col(rows, f["fix"]), nan=-1).astype(np.int8),
        hdop=_num_col(rows, f["hdop"]),
        flags=_flags_for(lat, lon),
        alt_ref=alt_ref,
        time_base=base,
        kind="csv",
        source=str(p),
        warnings=warnings,
        extra=extra,
        events=events,
        meta={"layout": "labelled_csv", "columns": {k: v for k, v in f.items() if v}},
    )


def _csv_events(
    rows: list[dict[str, str]],
    header: list[str],
    t: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    alt: np.ndarray,
) -> CameraEvents | None:
    """Camera events from an ``event`` column: rows reading ``photo``, ``photo:<cam>:<img>``,
    ``cam``, ``trigger`` or ``capture`` (the last integer is the image number)."""
    col = next((h for h in header if _norm(h)[0] in ("event", "events", "cam_event")), None)
    if col is None:
        return None
    idx, img = [], []
    for i, r in enumerate(rows):
        v = (r.get(col) or "").strip().lower()
        if v.startswith(("photo", "cam", "trigger", "capture", "shutter")):
            idx.append(i)
            nums = re.findall(r"\d+", v)
            img.append(int(nums[-1]) if nums else -1)
    if not idx:
        return None
    k = np.array(idx)
    return CameraEvents.build(
        t[k],
        image_index=img,
        lat_deg=lat[k],
        lon_deg=lon[k],
        alt_m=alt[k],
        source=f"CSV {col}",
        time_resolution_s=_row_period(t),
    )


def _row_period(t: np.ndarray) -> float:
    """The row period of a regularly logged CSV (events there are stamped on rows)."""
    dt = np.diff(t[np.isfinite(t)])
    dt = dt[dt > 0]
    return float(np.median(dt)) if dt.size else 0.0
