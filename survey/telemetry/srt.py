"""DJI SRT subtitle telemetry: every layout DJI cameras have written, read by their labels.

Layouts seen (and how the coordinate order is decided, always from labels, never by magnitude):

* bracketed (Mavic 2/3, Air 2/2S, Mini 2+, M30, M3E): ``[latitude: 3.41] [longitude: -3.37]``
  (also the ``longtitude`` typo), ``[altitude: ..]``, ``[rel_alt: .. abs_alt: ..]``,
  ``[gb_yaw: .. gb_pitch: .. gb_roll: ..]``, ``FrameCnt``/``SrtCnt``, ``DiffTime``;
* Phantom 4 Pro/RTK and Mavic Mini: ``GPS (lon, lat, sats)``, ``HOME (lon, lat, alt m)``,
  ``D 12.3m, H 45.6m, H.S ..m/s, V.S ..m/s``, ``F.PRY (pitch°, roll°, yaw°)``,
  ``G.PRY (..)`` (gimbal, absolute);
* Mavic Pro / Phantom 3 / old firmware: ``HOME(lon,lat) date``, ``GPS(lon,lat,sats)``,
  ``BAROMETER:h`` or ``Hb:h Hs:h``;
* Matrice 300: ``GPS(lat,lon,0.0M) BAROMETER:h M``: a ``GPS(..)`` whose third value carries a
  metre unit is (lat, lon, alt) in the ISO 6709 order; one whose third value is a bare count is
  DJI's (lon, lat, satellites).

The track's time is the video time of each subtitle (``time_base="video"``); the camera's wall
clock of each sample is ``extra["t_wall_s"]`` (local time, zone unknown) and the frame counter
``extra["frame"]``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from survey.telemetry.errors import TelemetryFormatError
from survey.telemetry.geodesy import haversine_m
from survey.telemetry.timeutil import parse_wall_clock
from survey.telemetry.track import AltRef, PoseTrack, SampleFlag

__all__ = ["looks_like_srt", "parse_srt_text", "read_srt"]

log = logging.getLogger(__name__)

_TIMECODE = re.compile(
    r"(\d+):(\d{1,2}):(\d{1,2})[,.](\d{1,3})\s*-->\s*(\d+):(\d{1,2}):(\d{1,2})[,.](\d{1,3})"
)
_INDEX = re.compile(r"^\s*\d+\s*$")
_TAG = re.compile(r"<[^>]*>")
_COUNTER = re.compile(r"\b(FrameCnt|SrtCnt)\s*:\s*(\d{1,15})\b")  # longer: a damaged count
_DIFF = re.compile(r"\bDiffTime\s*:\s*(\d+)\s*ms")
_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_KV = re.compile(r"([A-Za-z_][A-Za-z_.]*)\s*:\s*([^\s\],]+)")
_TUPLE = re.compile(r"\b(GPS|HOME|F\.PRY|G\.PRY)\s*\(([^)]*)\)")
_COLON = re.compile(r"\b(BAROMETER|Hb|Hs)\s*:\s*([-+]?\d+(?:\.\d+)?)\s*(M|m)?")
_SPACED = re.compile(r"(?:^|,)\s*(D|H|H\.S|V\.S)\s+([-+]?\d+(?:\.\d+)?)\s*(m/s|m)\b")
_NUM = re.compile(r"^[-+]?\d+(?:\.\d+)?$")

_LAT_KEYS = {"latitude", "lat"}
_LON_KEYS = {"longitude", "longtitude", "lon", "lng"}


def looks_like_srt(head: bytes) -> bool:
    """Whether the first bytes of a file look like DJI subtitle telemetry."""
    try:
        text = head.decode("utf-8", errors="replace")
    except Exception:  # pragma: no cover - decode with replace never raises
        return False
    lines = [ln.strip() for ln in text.splitlines()[:6]]
    if not lines or not _INDEX.match(lines[0] or "x"):
        return False
    body = "\n".join(lines[1:])
    return bool(_TIMECODE.search(body) or parse_wall_clock(body) or "GPS" in body)


def _num(text: str) -> float:
    """A number with its unit stripped (``-57.98m``, ``2.7°``, ``0.0M``); NaN when not one."""
    try:
        return float(text)
    except ValueError:
        pass
    s = text.strip().rstrip("°").strip()
    s = re.sub(r"(m/s|km/h|ms|m|M)$", "", s).strip()
    return float(s) if _NUM.match(s) else float("nan")


class _Block:
    __slots__ = ("index", "line", "t0", "t1", "lines")

    def __init__(self, index: int, line: int) -> None:
        self.index, self.line = index, line
        self.t0: float | None = None
        self.t1: float | None = None
        self.lines: list[str] = []


def _blocks(text: str) -> list[_Block]:
    lines = text.splitlines()
    out: list[_Block] = []
    prev_blank = True
    for i, raw in enumerate(lines):
        s = raw.strip()
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if _INDEX.match(s) and (prev_blank or not out) and (nxt or i + 1 == len(lines)):
            out.append(_Block(int(s), i + 1))
        elif out:
            m = _TIMECODE.search(s)
            if m and out[-1].t0 is None and not out[-1].lines:
                g = [int(x) for x in m.groups()]
                out[-1].t0 = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 10 ** len(m.group(4))
                out[-1].t1 = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 10 ** len(m.group(8))
            elif s:
                out[-1].lines.append(s)
        elif s:
            raise TelemetryFormatError(
                f"expected a subtitle number to start the file, saw {s[:60]!r}",
                where=f"line {i + 1}",
            )
        prev_blank = not s
    return out


def _parse_block(b: _Block) -> dict[str, Any]:
    """Every value of one subtitle, by label."""
    text = _TAG.sub(" ", "\n".join(b.lines))
    rec: dict[str, Any] = {}
    m = _COUNTER.search(text)
    if m:
        rec["frame"] = int(m.group(2))
    m = _DIFF.search(text)
    if m:
        rec["diff_ms"] = float(m.group(1))
    wall = parse_wall_clock(text)
    if wall is not None:
        rec["t_wall"] = wall[0]
    groups = _BRACKET.findall(text)
    if groups:
        kv: dict[str, float] = {}
        for key, val in _KV.findall(" ] ".join(groups)):
            k = key.lower()
            if k in _LAT_KEYS:
                rec["lat"] = _num(val)
            elif k in _LON_KEYS:
                rec["lon"] = _num(val)
            else:
                kv[k] = _num(val)
        rec["kv"] = kv
    for label, inner in _TUPLE.findall(text):
        parts = [p.strip() for p in inner.split(",")]
        if label == "GPS":
            if len(parts) == 3 and re.search(r"[mM]\s*$", parts[2]):
                # Matrice layout: GPS(lat, lon, altM)
                rec["lat"], rec["lon"] = _num(parts[0]), _num(parts[1])
                rec["gps_alt"] = _num(parts[2])
            elif len(parts) >= 2:
                # DJI consumer layout: GPS(lon, lat[, satellites])
                rec["lon"], rec["lat"] = _num(parts[0]), _num(parts[1])
                if len(parts) >= 3 and _NUM.match(parts[2]):
                    rec["sats"] = int(float(parts[2]))
            rec["gps_text"] = inner
        elif label == "HOME" and len(parts) >= 2:
            rec["home"] = (_num(parts[1]), _num(parts[0]))  # HOME(lon, lat[, alt m])
            if len(parts) >= 3:
                rec["home_alt"] = _num(parts[2])
        elif label in ("F.PRY", "G.PRY") and len(parts) == 3:
            rec[label] = tuple(_num(p) for p in parts)  # pitch, roll, yaw
    for key, val, _unit in _COLON.findall(text):
        rec.setdefault("colon", {})[key] = float(val)
    for key, val, _unit in _SPACED.findall(text):
        rec.setdefault("spaced", {})[key] = float(val)
    return rec


def _column(recs: list[dict[str, Any]], get: Any) -> np.ndarray:
    out = np.full(len(recs), np.nan)
    for i, r in enumerate(recs):
        v = get(r)
        if v is not None:
            out[i] = v
    return out


def parse_srt_text(text: str, *, source: str | Path = "") -> PoseTrack:
    """Parse the text of a DJI SRT file into a :class:`PoseTrack` (see the module notes).

    Raises
    ------
    TelemetryFormatError
        The text is not subtitle telemetry, or holds no sample with a position, time and
        label the reader understands; the message names the line.
    """
    src = str(source)
    try:
        blocks = _blocks(text.lstrip("\ufeff"))
    except TelemetryFormatError as exc:
        raise TelemetryFormatError(exc.message, path=src, where=exc.where) from None
    warnings: list[str] = []
    recs = [_parse_block(b) for b in blocks]
    keep = [i for i, r in enumerate(recs) if ("lat" in r or "lon" in r or "gps_text" in r)]
    if not keep:
        # camera settings only (Mavic Air): keep the timing, positions unknown
        keep = [
            i
            for i, (r, b) in enumerate(zip(recs, blocks, strict=True))
            if b.t0 is not None or "t_wall" in r
        ]
    kept = set(keep)
    dropped = [blocks[i] for i in range(len(blocks)) if i not in kept]
    if not keep:
        where = f"line {blocks[0].line}" if blocks else "line 1"
        seen = (blocks[0].lines[:2] if blocks else text.strip().splitlines()[:2]) or ["nothing"]
        raise TelemetryFormatError(
            "no subtitle with a timecode or a position: expected [latitude: ..] [longitude: ..], "
            f"GPS(..) or GPS (..) after a timecode; saw {' | '.join(seen)[:120]!r}",
            path=src,
            where=where,
        )
    if dropped:
        last = dropped[-1]
        if last is blocks[-1]:
            warnings.append(
                f"last subtitle {last.index} (line {last.line}) is cut short: no position; ignored"
            )
            dropped = dropped[:-1]
        if dropped:
            warnings.append(
                f"{len(dropped)} subtitles without a position ignored "
                f"(first: {dropped[0].index} at line {dropped[0].line})"
            )
    blocks = [blocks[i] for i in keep]
    recs = [recs[i] for i in keep]
    n = len(recs)

    lat = _column(recs, lambda r: r.get("lat"))
    lon = _column(recs, lambda r: r.get("lon"))
    flags = np.zeros(n, np.uint16)
    flags[~(np.isfinite(lat) & np.isfinite(lon))] |= np.uint16(SampleFlag.NO_POSITION)
    bad_range = (np.abs(lat) > 90) | (np.abs(lon) > 180)
    if bad_range.any():
        i = int(np.flatnonzero(bad_range)[0])
        raise TelemetryFormatError(
            f"coordinates out of range under this layout's labels (lat={lat[i]}, lon={lon[i]}): "
            "an SRT layout this reader does not know",
            path=src,
            where=f"line {blocks[i].line}",
        )
    if any("gps_text" in r for r in recs):
        layout = (
            "matrice GPS(lat,lon,alt)" if any("gps_alt" in r for r in recs) else "GPS(lon,lat,sats)"
        )
    else:
        layout = "bracketed [latitude] [longitude]"

    # time: video time from timecodes, else from the wall clock
    t0 = np.array([np.nan if b.t0 is None else b.t0 for b in blocks])
    t1 = np.array([np.nan if b.t1 is None else b.t1 for b in blocks])
    wall = _column(recs, lambda r: r.get("t_wall"))
    if np.isfinite(t0).all():
        t = t0
    elif np.isfinite(wall).all():
        t = wall - wall[0]
        warnings.append("no timecodes: video time taken from the wall clock of the first subtitle")
    else:
        i = int(np.flatnonzero(~np.isfinite(t0))[0])
        raise TelemetryFormatError(
            "subtitle without a timecode (HH:MM:SS,mmm --> ...) or date-time",
            path=src,
            where=f"line {blocks[i].line}",
        )

    # altitude, by label
    kv_cols: dict[str, np.ndarray] = {}
    for i, r in enumerate(recs):
        for k, v in r.get("kv", {}).items():
            col = kv_cols.get(k)
            if col is None:
                col = kv_cols[k] = np.full(n, np.nan)
            col[i] = v

    def kvnum(name: str) -> np.ndarray:
        return kv_cols[name].copy() if name in kv_cols else np.full(n, np.nan)

    alt_ref: AltRef = "unknown"
    alt = np.full(n, np.nan)
    rel = kvnum("rel_alt")
    abs_alt = kvnum("abs_alt")
    if np.isfinite(abs_alt).any():
        alt, alt_ref = abs_alt, "msl"
    elif np.isfinite(kvnum("altitude")).any():
        alt = kvnum("altitude")
        warnings.append(
            "[altitude] does not say its reference (sea level or take-off): alt_ref unknown"
        )
    colon = [r.get("colon", {}) for r in recs]
    for key in ("BAROMETER", "Hb"):
        v = _column(colon, lambda d, k=key: d.get(k))
        if np.isfinite(v).any() and not np.isfinite(rel).any():
            rel = v
    spaced = [r.get("spaced", {}) for r in recs]
    h = _column(spaced, lambda d: d.get("H"))
    if np.isfinite(h).any() and not np.isfinite(rel).any():
        rel = h
    if not np.isfinite(alt).any() and np.isfinite(rel).any():
        alt, alt_ref = rel.copy(), "takeoff"
    gps_alt = _column(recs, lambda r: r.get("gps_alt"))
    if np.isfinite(gps_alt).any() and np.nanstd(gps_alt) == 0:
        warnings.append(f"GPS(..) altitude is constant ({np.nanmax(gps_alt)} M): ignored")

    # attitude
    def triple(label: str, j: int) -> np.ndarray:
        return _column(recs, lambda r: r[label][j] if label in r else None)

    pitch, roll, yaw = triple("F.PRY", 0), triple("F.PRY", 1), triple("F.PRY", 2)
    for k, arr in (("drone_pitch", pitch), ("drone_roll", roll), ("drone_yaw", yaw)):
        v = kvnum(k)
        arr[np.isfinite(v)] = v[np.isfinite(v)]
    g_pitch, g_roll, g_yaw = triple("G.PRY", 0), triple("G.PRY", 1), triple("G.PRY", 2)
    for k, arr in (("gb_pitch", g_pitch), ("gb_roll", g_roll), ("gb_yaw", g_yaw)):
        v = kvnum(k)
        arr[np.isfinite(v)] = v[np.isfinite(v)]
    has_gimbal = bool(np.isfinite(g_pitch).any() or np.isfinite(g_yaw).any())

    speed = _column(spaced, lambda d: d.get("H.S"))
    vx, vy = kvnum("drone_speedx"), kvnum("drone_speedy")
    if np.isfinite(vx).any():
        speed = np.hypot(vx, vy)
    sats = np.array([r.get("sats", -1) for r in recs], np.int16)

    extra: dict[str, np.ndarray] = {
        "frame": np.array(
            [r.get("frame", b.index) for r, b in zip(recs, blocks, strict=True)], np.int64
        ),
        "t_wall_s": wall,
    }
    if np.isfinite(t1).all():
        extra["t_end_s"] = t1
    diff = _column(recs, lambda r: r.get("diff_ms"))
    if np.isfinite(diff).any():
        extra["diff_time_ms"] = diff
    for k in ("iso", "fnum", "ev", "ct", "focal_len", "dzoom_ratio"):
        v = kvnum(k)
        if not np.isfinite(v).any():
            continue
        # older firmware writes f-numbers x100 ("fnum : 280" = f/2.8) and focal lengths x10
        # ("focal_len : 240" = 24 mm, 35 mm equivalent); newer ones write "3.2" and "24.00"
        if k == "fnum" and np.nanmax(v) > 50:
            v = v / 100.0
        if k == "focal_len":
            k, v = "focal_len_mm", (v / 10.0 if np.nanmax(v) > 100 and np.nanmin(v) >= 100 else v)
        extra[k] = v
    v = _column(spaced, lambda d: d.get("V.S"))
    if np.isfinite(v).any():
        extra["vspeed_mps"] = v
    meta: dict[str, Any] = {"layout": layout, "wall_clock": "camera local time (zone unknown)"}
    if not any("frame" in r for r in recs):
        meta["frame_counter"] = "subtitle number"
    homes = [r["home"] for r in recs if "home" in r]
    if homes:
        hl = np.array(homes)
        meta["home_lat_deg"], meta["home_lon_deg"] = float(hl[0, 0]), float(hl[0, 1])
        ok = np.isfinite(lat) & np.isfinite(lon)
        home_lat = _column(recs, lambda r: r["home"][0] if "home" in r else None)
        home_lon = _column(recs, lambda r: r["home"][1] if "home" in r else None)
        far = ok & np.isfinite(home_lat) & (haversine_m(lat, lon, home_lat, home_lon) > 50_000)
        if far.any():
            i = int(np.flatnonzero(far)[0])
            warnings.append(
                f"{int(far.sum())} positions lie over 50 km from HOME (first at line "
                f"{blocks[i].line}): check the coordinate order of this layout"
            )
    no_pos = (flags & np.uint16(SampleFlag.NO_POSITION)) != 0
    na = int(no_pos.sum())
    if na:
        i = int(np.flatnonzero(no_pos)[0])
        if na == n:
            warnings.append("no GNSS position in any subtitle (camera settings only)")
        else:
            warnings.append(
                f"{na} subtitles without a GNSS position (N/A), first at line {blocks[i].line}"
            )
    return PoseTrack.build(
        t,
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt,
        rel_alt_m=rel,
        roll_deg=roll,
        pitch_deg=pitch,
        yaw_deg=yaw,
        gimbal_roll_deg=g_roll if has_gimbal else None,
        gimbal_pitch_deg=g_pitch if has_gimbal else None,
        gimbal_yaw_deg=g_yaw if has_gimbal else None,
        speed_mps=speed,
        sats=sats,
        flags=flags,
        alt_ref=alt_ref,
        time_base="video",
        gimbal_mode="absolute" if has_gimbal else "none",
        kind="dji_srt",
        source=src,
        warnings=warnings,
        extra=extra,
        meta=meta,
    )


def read_srt(path: str | Path) -> PoseTrack:
    """Read a DJI ``.SRT`` file (any layout, UTF-8 or Latin-1) into a :class:`PoseTrack`."""
    p = Path(path)
    data = p.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return parse_srt_text(text, source=p)
