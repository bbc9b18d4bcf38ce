"""``survey inspect`` for flight logs: what the file is, its span, rate, extent and faults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from survey.telemetry.errors import TelemetryError
from survey.telemetry.timeutil import format_utc
from survey.telemetry.track import PoseTrack

__all__ = ["describe_telemetry", "summarize_track"]


def _r(x: float, nd: int = 3) -> float | None:
    return None if not np.isfinite(x) else round(float(x), nd)


def _time_text(t: float, base: str) -> str:
    if base in ("utc", "local"):
        return format_utc(t).replace("Z", "Z" if base == "utc" else " (local)")
    return f"{t:.3f} s ({base})"


def summarize_track(track: PoseTrack) -> dict[str, Any]:
    """A JSON-ready summary of a track (the body of ``survey inspect``)."""
    out: dict[str, Any] = {"samples": len(track)}
    t = track.t_s[np.isfinite(track.t_s)]
    if t.size:
        out["time_base"] = track.time_base
        out["start"] = _time_text(float(t.min()), track.time_base)
        out["end"] = _time_text(float(t.max()), track.time_base)
        out["duration_s"] = _r(float(t.max() - t.min()))
        ok = track.position_ok
        tp = np.sort(track.t_s[ok & np.isfinite(track.t_s)])
        dt = np.diff(tp)
        dt = dt[dt > 0]
        if dt.size:
            out["position_rate_hz"] = _r(1.0 / float(np.median(dt)), 2)
    ok = track.position_ok
    out["positions"] = int(ok.sum())
    if ok.any():
        lat, lon = track.lat_deg[ok], track.lon_deg[ok]
        out["bbox"] = [_r(lon.min(), 7), _r(lat.min(), 7), _r(lon.max(), 7), _r(lat.max(), 7)]
        # lon, lat like the bbox and GeoJSON (the key says so)
        out["first_lon_lat"] = [_r(lon[0], 7), _r(lat[0], 7)]
        out["last_lon_lat"] = [_r(lon[-1], 7), _r(lat[-1], 7)]
    if track.has("alt_m"):
        a = track.alt_m[np.isfinite(track.alt_m)]
        out["altitude_m"] = {"min": _r(a.min(), 2), "max": _r(a.max(), 2), "ref": track.alt_ref}
    for name, label in (("yaw_deg", "yaw"), ("pitch_deg", "pitch"), ("roll_deg", "roll")):
        if track.has(name):
            v = getattr(track, name)
            out.setdefault("attitude_deg", {})[label] = [_r(np.nanmin(v), 2), _r(np.nanmax(v), 2)]
    if track.gimbal_mode != "none":
        g: dict[str, Any] = {"mode": track.gimbal_mode}
        for name, label in (
            ("gimbal_yaw_deg", "yaw"),
            ("gimbal_pitch_deg", "pitch"),
            ("gimbal_roll_deg", "roll"),
        ):
            if track.has(name):
                v = getattr(track, name)
                g[label] = [_r(np.nanmin(v), 2), _r(np.nanmax(v), 2)]
        out["gimbal_deg"] = g
    if track.has("sats"):
        s = track.sats[track.sats >= 0]
        out["satellites"] = [int(s.min()), int(s.max())]
    out["fields"] = track.fields_present()
    if track.events is not None and len(track.events):
        out["camera_events"] = {"count": len(track.events), "message": track.events.source}
    flags = track.flag_counts()
    if flags:
        out["flagged_samples"] = flags
    for k, v in track.meta.items():
        if k in ("columns",):
            continue
        out.setdefault("meta", {})[k] = (
            v
            if isinstance(v, str | int | float | bool | type(None))
            else json.loads(json.dumps(v, default=str))
        )
    return out


def _describe_srt_extra(track: PoseTrack, out: dict[str, Any]) -> None:
    from survey.telemetry.errors import TimeSyncError
    from survey.telemetry.sync import srt_frame_clock, video_wall_clock

    try:
        fc = srt_frame_clock(track)
        per_frame = "frame" in track.meta.get("frame_counter", "frame") or fc.fps > 5
        out["subtitle_rate_hz"] = _r(fc.fps, 3)
        if per_frame and "diff_time_ms" in track.extra:
            out["video_fps"] = _r(fc.fps, 3)
        if fc.dropped or fc.repeated:
            out["frame_counter"] = {"dropped": fc.dropped, "repeated": fc.repeated}
    except TimeSyncError:
        pass
    try:
        w = video_wall_clock(track)
        out["wall_clock_start"] = format_utc(w.apply(track.t_s[0]).item()).replace(
            "Z", " (camera local time)"
        )
    except TimeSyncError:
        pass


def _describe_geojson(p: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("type") not in (
        "FeatureCollection",
        "Feature",
        "Polygon",
        "LineString",
        "MultiPolygon",
        "Point",
        "MultiLineString",
    ):
        return None
    feats = data.get("features", [data] if data.get("type") == "Feature" else [{"geometry": data}])
    coords: list[list[float]] = []
    types: dict[str, int] = {}

    def walk(c: Any) -> None:
        if isinstance(c, list) and c and isinstance(c[0], int | float):
            coords.append([float(c[0]), float(c[1])])
        elif isinstance(c, list):
            for x in c:
                walk(x)

    for f in feats:
        g = (f or {}).get("geometry") or {}
        types[g.get("type", "none")] = types.get(g.get("type", "none"), 0) + 1
        walk(g.get("coordinates"))
    out: dict[str, Any] = {
        "kind": "geojson",
        "features": len(feats),
        "geometry_types": types,
        "warnings": [],
    }
    if coords:
        a = np.array(coords)
        out["bbox"] = [
            _r(a[:, 0].min(), 7),
            _r(a[:, 1].min(), 7),
            _r(a[:, 0].max(), 7),
            _r(a[:, 1].max(), 7),
        ]
    if "LineString" not in types and "MultiLineString" not in types:
        out["warnings"].append("no line geometry: an area or points, not a flight track")
    return out


def describe_telemetry(path: str | Path) -> dict[str, Any] | None:
    """Describe a flight log, or return None when ``path`` is not one (see ``survey.inspect``)."""
    from survey.telemetry.read import read_kind, sniff_kind
    from survey.telemetry.sanity import check_track

    p = Path(path)
    if p.is_dir():
        return None
    if p.suffix.lower() in (".geojson", ".json"):
        return _describe_geojson(p)
    kind = sniff_kind(p)
    if kind is None:
        return None
    if kind == "photo":
        return _describe_photo(p)
    try:
        track = check_track(read_kind(p, kind))
    except TelemetryError as exc:
        return {"kind": kind, "readable": False, "error": str(exc), "warnings": [exc.message]}
    out: dict[str, Any] = {"kind": track.kind or kind}
    out.update(summarize_track(track))
    if track.kind == "dji_srt":
        _describe_srt_extra(track, out)
    if not track.position_ok.any():
        out["readable"] = True
        out["usable_for_geolocation"] = False
    out["warnings"] = list(track.warnings)
    return out


def _describe_photo(p: Path) -> dict[str, Any] | None:
    from survey.telemetry.photos import read_photo

    try:
        m = read_photo(p)
    except TelemetryError as exc:
        return {"kind": "photo", "readable": False, "error": str(exc), "warnings": [exc.message]}
    out: dict[str, Any] = {
        "kind": "geotagged photo" if np.isfinite(m.lat_deg) else "photo without position",
        "camera": f"{m.make} {m.model}".strip(),
        "size_px": [m.width_px, m.height_px],
        "time": format_utc(m.t_s).replace("Z", "Z" if m.time_base == "utc" else " (local)"),
        "subsecond_time": m.subsec,
    }
    if np.isfinite(m.lat_deg):
        out["position"] = [_r(m.lat_deg, 7), _r(m.lon_deg, 7)]
    if np.isfinite(m.alt_m):
        out["altitude_m"] = {
            "value": _r(m.alt_m, 3),
            "ref": m.alt_ref,
            "above_takeoff": _r(m.rel_alt_m, 3),
        }
    if np.isfinite(m.gimbal_pitch_deg):
        out["gimbal_deg"] = {
            "yaw": _r(m.gimbal_yaw_deg, 2),
            "pitch": _r(m.gimbal_pitch_deg, 2),
            "roll": _r(m.gimbal_roll_deg, 2),
            "mode": "absolute",
        }
    if np.isfinite(m.yaw_deg):
        out["attitude_deg"] = {
            "yaw": _r(m.yaw_deg, 2),
            "pitch": _r(m.pitch_deg, 2),
            "roll": _r(m.roll_deg, 2),
        }
    if np.isfinite(m.calibrated_focal_px):
        out["calibration"] = {
            "focal_px": _r(m.calibrated_focal_px, 3),
            "cx_px": _r(m.calibrated_cx_px, 3),
            "cy_px": _r(m.calibrated_cy_px, 3),
            "for_size_px": [m.exif_width_px, m.exif_height_px],
            "dewarp": list(m.dewarp),
        }
    warnings = list(m.warnings)
    if m.exif_width_px and m.exif_width_px != m.width_px:
        warnings.append(
            f"image resampled: {m.width_px} px wide, the camera wrote {m.exif_width_px} px (calibration refers to the latter)"
        )
    out["warnings"] = warnings
    return out
