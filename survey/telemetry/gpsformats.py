"""Plain GNSS tracks: GPX, KML (``gx:Track`` and timed ``Placemark``s) and NMEA 0183 logs.

All three name their coordinates explicitly: GPX ``lat=""``/``lon=""`` attributes, KML
``lon,lat[,alt]`` tuples (the order the KML standard fixes), NMEA hemisphere letters.
NMEA sentences read: ``GGA`` (fix quality, satellites, HDOP, MSL altitude), ``RMC`` (date,
speed, course) and Magellan ``PMGNTRK`` track points; a sentence whose checksum fails is
skipped and counted in the warnings.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from survey.telemetry.errors import TelemetryFormatError
from survey.telemetry.timeutil import parse_wall_clock
from survey.telemetry.track import PoseTrack, SampleFlag

__all__ = ["looks_like_nmea", "read_gpx", "read_kml", "read_nmea"]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse_xml(path: Path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        line, col = exc.position
        raise TelemetryFormatError(
            f"not well-formed XML ({exc})", path=path, where=f"line {line}, column {col}"
        ) from exc


def _flags(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    f = np.zeros(lat.size, np.uint16)
    f[~(np.isfinite(lat) & np.isfinite(lon))] |= np.uint16(SampleFlag.NO_POSITION)
    return f


def _time_order(t: np.ndarray, warnings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Every point of a GPX/KML track carries its own time: order the points by it."""
    order = np.argsort(t, kind="stable")
    if not np.array_equal(order, np.arange(t.size)):
        out = int((np.diff(t[np.isfinite(t)]) < 0).sum())
        warnings.append(
            f"points are not in time order ({out} steps back in the file): sorted by time"
        )
    return t, order


def read_gpx(path: str | Path) -> PoseTrack:
    """Read the track points (else route points, else waypoints) of a GPX 1.0/1.1 file.

    Points keep the file's order; GPX times are UTC. Elevations (``ele``) are read as above
    sea level, as GPX defines (many receivers actually write ellipsoidal heights).
    """
    p = Path(path)
    root = _parse_xml(p)
    if _local(root.tag) != "gpx":
        raise TelemetryFormatError(
            f"root element is <{_local(root.tag)}>, expected <gpx>", path=p, where="line 1"
        )
    pts = [e for e in root.iter() if _local(e.tag) == "trkpt"]
    kind = "trkpt"
    if not pts:
        pts = [e for e in root.iter() if _local(e.tag) == "rtept"] or [
            e for e in root.iter() if _local(e.tag) == "wpt"
        ]
        kind = "rtept/wpt"
    if not pts:
        raise TelemetryFormatError("GPX holds no trkpt, rtept or wpt", path=p)
    t, lat, lon, ele, sats, hdop, speed = ([] for _ in range(7))
    missing_time = 0
    for e in pts:
        ch = {_local(c.tag): (c.text or "").strip() for c in e}
        lat.append(float(e.get("lat", "nan")))
        lon.append(float(e.get("lon", "nan")))
        ele.append(float(ch.get("ele") or "nan"))
        tt = parse_wall_clock(ch.get("time", ""))
        if tt is None:
            missing_time += 1
        t.append(np.nan if tt is None else tt[0])
        sats.append(int(ch["sat"]) if ch.get("sat", "").isdigit() else -1)
        hdop.append(float(ch.get("hdop") or "nan"))
        speed.append(float(ch.get("speed") or "nan"))
    warnings = []
    if missing_time == len(pts):
        raise TelemetryFormatError(f"GPX {kind} points carry no <time>: not a timed track", path=p)
    if missing_time:
        warnings.append(f"{missing_time} GPX points without <time>")
    la, lo = np.array(lat), np.array(lon)
    ts, order = _time_order(np.array(t), warnings)
    return PoseTrack.build(
        ts,
        lat_deg=la,
        lon_deg=lo,
        alt_m=np.array(ele),
        speed_mps=np.array(speed),
        sats=np.array(sats),
        hdop=np.array(hdop),
        flags=_flags(la, lo),
        alt_ref="msl",
        time_base="utc",
        kind="gpx",
        source=str(p),
        warnings=warnings,
        meta={"points": kind, "creator": root.get("creator", "")},
    )[order]


def read_kml(path: str | Path) -> PoseTrack:
    """Read a KML track: ``gx:Track`` (``when`` + ``gx:coord``) or Placemarks with TimeStamps."""
    p = Path(path)
    root = _parse_xml(p)
    if _local(root.tag) != "kml":
        raise TelemetryFormatError(
            f"root element is <{_local(root.tag)}>, expected <kml>", path=p, where="line 1"
        )
    t: list[float] = []
    coords: list[list[float]] = []
    zones = set()
    for tr in (e for e in root.iter() if _local(e.tag) == "Track"):
        whens = [c for c in tr if _local(c.tag) == "when"]
        cs = [c for c in tr if _local(c.tag) == "coord"]
        if len(whens) != len(cs):
            raise TelemetryFormatError(
                f"gx:Track has {len(whens)} <when> but {len(cs)} <gx:coord>", path=p
            )
        for w, ce in zip(whens, cs, strict=True):
            tt = parse_wall_clock(w.text or "")
            t.append(np.nan if tt is None else tt[0])
            zones.add(None if tt is None else tt[1])
            coords.append([float(v) for v in (ce.text or "").split()])  # lon lat alt
    if not t:
        for pm in (e for e in root.iter() if _local(e.tag) == "Placemark"):
            when = next((e.text for e in pm.iter() if _local(e.tag) == "when"), None)
            co = next((e.text for e in pm.iter() if _local(e.tag) == "coordinates"), None)
            if when and co:
                tt = parse_wall_clock(when)
                t.append(np.nan if tt is None else tt[0])
                zones.add(None if tt is None else tt[1])
                coords.append([float(v) for v in co.strip().split()[0].split(",")])
    if not t:
        raise TelemetryFormatError(
            "KML holds no gx:Track and no Placemark with a TimeStamp", path=p
        )
    c = np.full((len(coords), 3), np.nan)
    for i, v in enumerate(coords):
        c[i, : min(3, len(v))] = v[:3]
    alt_mode = next(
        ((e.text or "").strip() for e in root.iter() if _local(e.tag) == "altitudeMode"),
        "clampToGround",
    )
    alt_ref = {"absolute": "msl", "relativeToGround": "unknown"}.get(alt_mode)
    warnings = []
    if alt_ref is None:
        warnings.append(f"altitudeMode {alt_mode}: altitudes ignored")
        c[:, 2] = np.nan
    ts, order = _time_order(np.array(t), warnings)
    return PoseTrack.build(
        ts,
        lat_deg=c[:, 1],
        lon_deg=c[:, 0],
        alt_m=c[:, 2],
        flags=_flags(c[:, 1], c[:, 0]),
        alt_ref=alt_ref or "unknown",  # type: ignore[arg-type]
        time_base="utc" if zones and None not in zones else "local",
        kind="kml",
        source=str(p),
        warnings=warnings,
    )[order]


_SENTENCE = re.compile(r"^\$([A-Z0-9]+),(.*?)(?:\*([0-9A-Fa-f]{2}))?\s*$")


def looks_like_nmea(head: bytes) -> bool:
    lines = head.decode("ascii", errors="replace").splitlines()[:5]
    return bool(lines) and all(ln.startswith("$") or not ln.strip() for ln in lines)


def _nmea_coord(v: str, hemi: str) -> float:
    if not v:
        return float("nan")
    dot = v.index(".") if "." in v else len(v)
    deg = float(v[: dot - 2]) + float(v[dot - 2 :]) / 60.0
    return -deg if hemi.upper() in ("S", "W") else deg


def _century(yy: str) -> str:
    """NMEA writes two-digit years; GPS started in 1980."""
    return "19" if int(yy) >= 80 else "20"


def _hms(v: str) -> float:
    return int(v[0:2]) * 3600 + int(v[2:4]) * 60 + float(v[4:])


def read_nmea(path: str | Path) -> PoseTrack:
    """Read an NMEA 0183 log (GGA + RMC, or Magellan PMGNTRK) into a UTC track."""
    p = Path(path)
    text = p.read_bytes().decode("ascii", errors="replace")
    fixes: dict[tuple[int, float], dict[str, float]] = {}
    date_s: float | None = None
    bad_sum = 0
    seen = 0
    for n, line in enumerate(text.splitlines(), 1):
        m = _SENTENCE.match(line.strip())
        if not m:
            continue
        seen += 1
        if m.group(3) is not None:
            body = line.strip()[1 : line.strip().index("*")]
            cs = 0
            for ch in body.encode("ascii", "replace"):
                cs ^= ch
            if cs != int(m.group(3), 16):
                bad_sum += 1
                continue
        kind, f = m.group(1), m.group(2).split(",")
        try:
            if kind.endswith("RMC") and len(f) >= 9 and f[0] and f[8]:
                d = f[8]
                date_s = parse_wall_clock(f"{_century(d[4:6])}{d[4:6]}-{d[2:4]}-{d[0:2]} 00:00:00")[
                    0
                ]  # type: ignore[index]
                rec = fixes.setdefault((int(date_s), _hms(f[0])), {})
                rec.update(lat=_nmea_coord(f[2], f[3]), lon=_nmea_coord(f[4], f[5]))
                rec["speed"] = float(f[6]) * 0.514444 if f[6] else np.nan
                rec["valid"] = 1.0 if f[1] == "A" else 0.0
            elif kind.endswith("GGA") and len(f) >= 9 and f[0]:
                rec = fixes.setdefault((int(date_s or 0), _hms(f[0])), {})
                rec.update(lat=_nmea_coord(f[1], f[2]), lon=_nmea_coord(f[3], f[4]))
                q = int(f[5] or 0)
                rec["fix"] = {0: 0, 1: 3, 2: 4, 4: 6, 5: 5}.get(q, 3)
                rec["sats"] = float(f[6] or -1)
                rec["hdop"] = float(f[7]) if f[7] else np.nan
                rec["alt"] = float(f[8]) if f[8] else np.nan
            elif kind == "PMGNTRK" and len(f) >= 8:
                d = f[9] if len(f) > 9 else ""  # lat,N,lon,W,alt,unit,hhmmss.ss,A,name,ddmmyy
                day = (
                    parse_wall_clock(f"20{d[4:6]}-{d[2:4]}-{d[0:2]} 00:00:00")
                    if len(d) == 6
                    else None
                )
                rec = fixes.setdefault((int(day[0]) if day else 0, _hms(f[6])), {})
                rec.update(lat=_nmea_coord(f[0], f[1]), lon=_nmea_coord(f[2], f[3]))
                alt = float(f[4])
                rec["alt"] = alt * 0.3048 if f[5].upper() == "F" else alt
                rec["valid"] = 1.0 if f[7] == "A" else 0.0
        except (ValueError, IndexError) as exc:
            raise TelemetryFormatError(
                f"malformed {kind} sentence ({exc}): {line.strip()[:80]!r}",
                path=p,
                where=f"line {n}",
            ) from exc
    if not fixes:
        raise TelemetryFormatError(
            f"no GGA, RMC or PMGNTRK sentence with a time ({seen} NMEA sentences seen)", path=p
        )
    keys = sorted(fixes)
    day0 = next((k[0] for k in keys if k[0]), 0)
    t = np.array([(k[0] or day0) + k[1] for k in keys], np.float64)
    col = {
        name: np.array([fixes[k].get(name, np.nan) for k in keys])
        for name in ("lat", "lon", "alt", "speed", "sats", "hdop", "fix", "valid")
    }
    flags = _flags(col["lat"], col["lon"])
    flags[col["valid"] == 0] |= np.uint16(SampleFlag.NO_FIX)
    warnings = []
    if bad_sum:
        warnings.append(f"{bad_sum} NMEA sentences with a wrong checksum skipped")
    if not day0:
        warnings.append("no date in the log (no RMC): times are seconds of the day")
    return PoseTrack.build(
        t,
        lat_deg=col["lat"],
        lon_deg=col["lon"],
        alt_m=col["alt"],
        speed_mps=col["speed"],
        sats=np.nan_to_num(col["sats"], nan=-1).astype(np.int16),
        hdop=col["hdop"],
        fix_type=np.nan_to_num(col["fix"], nan=-1).astype(np.int8),
        flags=flags,
        alt_ref="msl",
        time_base="utc" if day0 else "relative",
        kind="nmea",
        source=str(p),
        warnings=warnings,
    )
