"""DJI MP4 frame metadata (the ``djmd`` track, handler ``"DJI meta"``): positions and attitude.

Recent DJI aircraft (Mavic 3, Matrice 30, Mini 4 Pro, Air 3 ...) write one protobuf message per
video frame in a timed-metadata track whose sample entry is ``djmd``. The schema is DJI's
"dvtm" ("DJI video metadata") protobuf family: ``dvtm_library.proto`` defines the shared
messages and one ``dvtm_<product>.proto`` per product assembles them (published with
gyroflow/telemetry-parser, ``src/dji/*.proto``; ExifTool's ``DJI.pm`` maps the same field paths
for each product). Every sample is a ``ProductMeta``::

    1 clip_meta   -> 1 clip_meta_header: 1 proto_file_name, 5 product_sn, 10 product_name
    2 stream_meta
    3 frame_meta  -> 1 frame_meta_header: 1 frame_seq_num, 2 frame_timestamp (us since power-up)
                     <drone>  FrameMetaOfDrone: 2 velocity (float m/s x, y, z = N, E, D)
                                                3 attitude  (EulerAngle, int32 deci-degrees:
                                                             1 pitch, 2 roll, 3 yaw; NED)
                                                4 gps       (GpsBasic: 1 coordinates {1 unit
                                                             0=rad 1=deg, 2 lat, 3 lon double},
                                                             2 altitude int32 mm, 3 status
                                                             0 normal 1 invalid 2 RTK, 4 altitude
                                                             type 0 barometric 1 GNSS-fused
                                                             ellipsoid 2 RTK ellipsoid,
                                                             6 {1 "YYYY-MM-DD HH-MM-SS"})
                                                5 relative altitude (float mm above take-off)
                     <gimbal> 3 gimbal attitude (EulerAngle, absolute: relative to NED)

Where ``<drone>`` and ``<gimbal>`` sit in ``frame_meta`` depends on the product: field 3 and 4
for ``dvtm_wm265e`` (Mavic 3), ``pm320`` (Matrice 30), ``Mini4_Pro``, ``Air3``/``Air3s``,
``wm261`` (Mavic 3 Pro), ``wa345e`` (Matrice 4E), ``Mavic4``, ``Mini5Pro`` (the last two store
degrees with the unit field absent), the paths ExifTool reads (``3-3-4-1`` GPS, ``3-3-3``
drone angles, ``3-4-3`` gimbal angles); field 4 (no gimbal message) for ``AVATA2``,
``dji_neo`` and ``dvtm_eagle4_wa530``. The product comes from ``proto_file_name`` in the clip header (first
sample); an unknown one is read with the first layout and said so in ``warnings``.

The wire format is read here (varints, 64/32-bit and length-delimited fields: ~40 lines) rather
than through ``protobuf`` generated classes: one schema per product would need one generated
module each, and the readers only need a handful of field paths; the tests check this reader
against messages encoded by Google's ``protobuf`` library from the same field numbers.

Clock: each sample is one video frame, so sample ``k`` is at the ``djmd`` track's own time
(``time_base="video"``, frames need no sync); ``frame_timestamp`` (power-up clock) is kept in
``extra["t_boot_s"]``; GNSS UTC (whole seconds in the GPS time string) is fitted to the frame
clock and kept in ``extra["t_utc_s"]``. Gimbal angles are absolute (``gimbal_mode="absolute"``).

Checked against the published schema and simulator-written files, not against a recording from
a real aircraft (none with a public licence was at hand): see docs/telemetry.md.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from survey.telemetry.errors import TelemetryFormatError
from survey.telemetry.track import PoseTrack, SampleFlag

__all__ = ["DjmdError", "DjmdFrame", "decode_djmd_sample", "read_djmd", "write_djmd_mp4"]

#: per product: frame_meta field numbers of the drone and gimbal messages (0 = none), and
#: whether coordinates are degrees whatever the unit field says (ExifTool's reading)
LAYOUTS: dict[str, tuple[int, int, bool]] = {
    "wm265e": (3, 4, False),  # Mavic 3
    "wm261": (3, 4, False),  # Mavic 3 Pro
    "pm320": (3, 4, False),  # Matrice 30
    "wa345e": (3, 4, False),  # Matrice 4E
    "mini4_pro": (3, 4, False),
    "air3": (3, 4, False),
    "air3s": (3, 4, False),
    "mavic4": (3, 4, True),  # Mavic 4 Pro: degrees with the unit field absent
    "mini5pro": (3, 4, True),
    "avata2": (4, 0, False),  # drone at 4 (ExifTool 3-4-4-1 GPS), no gimbal message
    "dji_neo": (4, 0, False),
    "eagle4_wa530": (4, 0, False),  # telemetry-parser's schema: drone at 4, no gimbal message
}
DEFAULT_LAYOUT = (3, 4, False)


class DjmdError(TelemetryFormatError):
    """A ``djmd`` sample is not the protobuf the schema describes."""


@dataclass
class DjmdFrame:
    """What one ``djmd`` sample says (NaN where it says nothing)."""

    seq: int = -1
    boot_us: int = -1
    proto: str = ""  #: ``proto_file_name`` of the clip header (first sample only)
    product: str = ""
    lat_deg: float = np.nan
    lon_deg: float = np.nan
    alt_m: float = np.nan
    alt_type: int = -1  #: 0 barometric, 1 GNSS-fused ellipsoid, 2 RTK ellipsoid
    gps_status: int = -1  #: 0 normal, 1 invalid, 2 RTK
    gps_time: str = ""
    rel_alt_m: float = np.nan
    vel_ned: tuple[float, float, float] = (np.nan, np.nan, np.nan)
    roll_deg: float = np.nan
    pitch_deg: float = np.nan
    yaw_deg: float = np.nan
    gimbal_pitch_deg: float = np.nan
    gimbal_roll_deg: float = np.nan
    gimbal_yaw_deg: float = np.nan
    unknown: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ protobuf wire format


def _varint(buf: bytes, i: int, end: int) -> tuple[int, int]:
    v = shift = 0
    while i < end:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        if not b & 0x80:
            return v, i
        shift += 7
        if shift > 63:
            break
    raise ValueError("varint runs past its message")


def _fields(buf: bytes, start: int, end: int) -> Iterator[tuple[int, int, Any, int]]:
    """(field number, wire type, value, byte offset) of each field of one message; a
    length-delimited value is its (start, end) span."""
    i = start
    while i < end:
        at = i
        key, i = _varint(buf, i, end)
        num, wt = key >> 3, key & 7
        v: Any
        if num == 0:
            raise ValueError(f"field number 0 at byte {at}")
        if wt == 0:
            v, i = _varint(buf, i, end)
        elif wt == 1:
            if i + 8 > end:
                raise ValueError(f"64-bit field {num} at byte {at} runs past its message")
            v, i = buf[i : i + 8], i + 8
        elif wt == 2:
            n, i = _varint(buf, i, end)
            if i + n > end:
                raise ValueError(
                    f"field {num} at byte {at} is {n} bytes long, past its message's end "
                    f"(byte {end})"
                )
            v, i = (i, i + n), i + n
        elif wt == 5:
            if i + 4 > end:
                raise ValueError(f"32-bit field {num} at byte {at} runs past its message")
            v, i = buf[i : i + 4], i + 4
        else:
            raise ValueError(
                f"wire type {wt} (field {num}) at byte {at} is not one protobuf 3 uses"
            )
        yield num, wt, v, at


def _msg(buf: bytes, span: Any) -> dict[int, Any]:
    """The last value of each field of a sub-message (proto3: the last one wins)."""
    if not isinstance(span, tuple):
        raise ValueError("a sub-message field is not length-delimited")
    return {n: v for n, _, v, _ in _fields(buf, span[0], span[1])}


def _i32(v: Any) -> int:
    v = int(v) if isinstance(v, int) else 0
    v &= 0xFFFFFFFFFFFFFFFF
    return v - (1 << 64) if v >= 1 << 63 else v


def _f32(v: Any) -> float:
    return float(struct.unpack("<f", v)[0]) if isinstance(v, bytes) and len(v) == 4 else np.nan


def _f64(v: Any) -> float:
    return float(struct.unpack("<d", v)[0]) if isinstance(v, bytes) and len(v) == 8 else np.nan


def _str(buf: bytes, v: Any) -> str:
    return buf[v[0] : v[1]].decode("utf-8", "replace") if isinstance(v, tuple) else ""


def _euler(buf: bytes, span: Any) -> tuple[float, float, float]:
    """(pitch, roll, yaw) degrees from an EulerAngle (deci-degrees; proto3 omits zeros)."""
    m = _msg(buf, span)
    return tuple(_i32(m.get(k, 0)) / 10.0 for k in (1, 2, 3))  # type: ignore[return-value]


def layout_of(proto: str) -> tuple[int, int, bool] | None:
    """(drone field, gimbal field, always degrees) for a ``proto_file_name``; None if
    unknown."""
    name = re.sub(r"^dvtm_|\.proto$", "", proto.strip().lower())
    return LAYOUTS.get(name)


def decode_djmd_sample(buf: bytes, layout: tuple[int, int, bool] = DEFAULT_LAYOUT) -> DjmdFrame:
    """Decode one ``djmd`` sample (a ``ProductMeta`` message); raises ValueError saying where
    the bytes stop following the wire format."""
    f = DjmdFrame()
    top = _msg(buf, (0, len(buf)))
    if 1 in top:
        clip = _msg(buf, top[1])
        if 1 in clip:
            hdr = _msg(buf, clip[1])
            f.proto = _str(buf, hdr.get(1))
            f.product = _str(buf, hdr.get(10))
            lay = layout_of(f.proto)
            if lay is not None:
                layout = lay
    if 3 not in top:
        return f
    fm = _msg(buf, top[3])
    if 1 in fm:
        h = _msg(buf, fm[1])
        f.seq, f.boot_us = int(h.get(1, 0)), int(h.get(2, 0))
    drone_at, gimbal_at, degrees = layout
    # a drone or gimbal message that does not follow the layout (another product's schema)
    # leaves its values NaN and is noted; only the outer messages' wire format is fatal
    if drone_at in fm:
        try:
            _drone(buf, fm[drone_at], f, degrees)
        except ValueError as exc:
            f.unknown.append(f"frame_meta field {drone_at} is not the drone message ({exc})")
    if gimbal_at and gimbal_at in fm:
        try:
            gm = _msg(buf, fm[gimbal_at])
            if 3 in gm:
                f.gimbal_pitch_deg, f.gimbal_roll_deg, f.gimbal_yaw_deg = _euler(buf, gm[3])
        except ValueError as exc:
            f.unknown.append(f"frame_meta field {gimbal_at} is not the gimbal message ({exc})")
    return f


def _uint(v: Any) -> int:
    return int(v) if isinstance(v, int) else -1


def _drone(buf: bytes, span: Any, f: DjmdFrame, degrees: bool) -> None:
    """Fill ``f`` from a FrameMetaOfDrone message."""
    d = _msg(buf, span)
    if 2 in d:
        v = _msg(buf, d[2])
        f.vel_ned = (
            _f32(v.get(1, bytes(4))),
            _f32(v.get(2, bytes(4))),
            _f32(v.get(3, bytes(4))),
        )
    if 3 in d:
        f.pitch_deg, f.roll_deg, f.yaw_deg = _euler(buf, d[3])
    if 4 in d:
        g = _msg(buf, d[4])
        if 1 in g:
            c = _msg(buf, g[1])
            unit = _uint(c.get(1, 0))
            lat, lon = _f64(c.get(2, bytes(8))), _f64(c.get(3, bytes(8)))
            if unit == 0 and not degrees:  # radians (UNIT_RAD = 0, proto3's default)
                lat, lon = np.degrees(lat), np.degrees(lon)
            f.lat_deg, f.lon_deg = lat, lon
        f.alt_m = _i32(g.get(2, 0)) / 1000.0
        f.gps_status = _uint(g.get(3, 0))
        f.alt_type = _uint(g.get(4, 0))
        if 6 in g:
            f.gps_time = _str(buf, _msg(buf, g[6]).get(1))
    if 5 in d:
        f.rel_alt_m = _f32(_msg(buf, d[5]).get(1, bytes(4))) / 1000.0


_GPS_TIME = re.compile(r"(\d{4})\D(\d{1,2})\D(\d{1,2})\D+(\d{1,2})\D(\d{1,2})\D(\d{1,2})")


def _gps_utc(text: str) -> float:
    import calendar

    m = _GPS_TIME.search(text)
    if not m:
        return np.nan
    y, mo, d, hh, mm, ss = (int(x) for x in m.groups())
    try:
        return float(calendar.timegm((y, mo, d, hh, mm, ss, 0, 0, 0)))
    except (ValueError, OverflowError):
        return np.nan


def read_djmd(path: str | Path) -> PoseTrack:
    """Read the ``djmd`` track of a DJI MP4 into a :class:`PoseTrack` on the video clock.

    Raises :class:`DjmdError` naming the file, the sample and the byte for a sample that is not
    the schema's protobuf; samples decoded before it are kept when at least one carried a
    position (the error becomes a warning and the rest of the track is dropped).
    """
    from survey.telemetry.container import read_mp4_tracks, read_samples

    p = Path(path)
    tracks = [t for t in read_mp4_tracks(p) if t.codec == "djmd"]
    if not tracks:
        raise DjmdError("no DJI metadata track (sample entry 'djmd') in the MP4", path=p)
    trk = tracks[0]
    samples = read_samples(p, trk)
    warnings: list[str] = []
    if len(samples) < len(trk):
        warnings.append(
            f"the djmd track lists {len(trk)} samples but the file ends after {len(samples)} "
            "(cut-short recording)"
        )
    layout, proto, product = DEFAULT_LAYOUT, "", ""
    frames: list[DjmdFrame] = []
    for k, s in enumerate(samples):
        try:
            fr = decode_djmd_sample(s, layout)
        except ValueError as exc:
            where = f"djmd sample {k} (file byte {int(trk.offset[k])})"
            err = DjmdError(f"not a DJI dvtm protobuf message: {exc}", path=p, where=where)
            if not any(np.isfinite(x.lat_deg) and x.lat_deg != 0.0 for x in frames):
                raise err from None
            warnings.append(f"{err}; the {k} samples before it are kept")
            break
        if fr.proto and not proto:
            proto, product = fr.proto, fr.product
            lay = layout_of(fr.proto)
            if lay is None:
                warnings.append(
                    f"unknown DJI metadata schema {fr.proto!r}: read with the Mavic 3 "
                    "(dvtm_wm265e) layout"
                )
            else:
                layout = lay
        frames.append(fr)
    n = len(frames)
    mismatch = [(k, fr.unknown[0]) for k, fr in enumerate(frames) if fr.unknown]
    if mismatch:
        k0, why = mismatch[0]
        warnings.append(
            f"{len(mismatch)} of {n} djmd samples do not follow the "
            f"{proto or 'assumed Mavic 3'} layout (first: sample {k0}, {why}); their values are "
            "left unknown"
        )
    if not proto:
        warnings.append(
            "no clip header naming the schema (proto_file_name) in the djmd track: read with "
            "the Mavic 3 (dvtm_wm265e) layout"
        )
    t = trk.t_s[:n].astype(np.float64)
    lat = np.array([f.lat_deg for f in frames])
    lon = np.array([f.lon_deg for f in frames])
    zero = (lat == 0.0) & (lon == 0.0)
    if not (np.isfinite(lat) & np.isfinite(lon) & ~zero).any():
        raise DjmdError(
            f"the djmd track ({n} samples, schema {proto or 'unknown'!r}) holds no GPS "
            "position: the aircraft had no fix, or this product's layout is not one survey "
            "knows",
            path=p,
        )
    alt = np.array([f.alt_m for f in frames])
    atype = np.array([f.alt_type for f in frames])
    status = np.array([f.gps_status for f in frames])
    vel = np.array([f.vel_ned for f in frames], np.float64).reshape(n, 3)
    flags = np.zeros(n, np.uint16)
    flags[~(np.isfinite(lat) & np.isfinite(lon))] |= np.uint16(SampleFlag.NO_POSITION)
    flags[zero] |= np.uint16(SampleFlag.ZERO_POSITION)
    flags[status == 1] |= np.uint16(SampleFlag.NO_FIX)
    fix = np.where(status == 2, 6, np.where(status == 1, 0, 3))
    ellipsoid = bool(np.isin(atype[np.isfinite(alt)], (1, 2)).all())
    if not ellipsoid:
        warnings.append("altitude is DJI's barometric altitude (GpsAltType 0), read as MSL")
    extra: dict[str, np.ndarray] = {
        "t_boot_s": np.array([f.boot_us for f in frames], np.float64) / 1e6,
    }
    utc = np.array([_gps_utc(f.gps_time) for f in frames])
    meta: dict[str, Any] = {
        "schema": proto,
        "product": product,
        "layout": {"drone_field": layout[0], "gimbal_field": layout[1]},
        "camera_orientation": "gimbal angles from the djmd track (absolute, NED)",
    }
    ok = np.isfinite(utc)
    if ok.any():  # whole seconds: utc_k = floor(t_k + off); off between the two bounds
        lo = float(np.max(utc[ok] - t[ok]))
        hi = float(np.min(utc[ok] + 1.0 - t[ok]))
        off = 0.5 * (lo + hi) if hi > lo else lo + 0.5
        extra["t_utc_s"] = t + off
        from survey.telemetry.timeutil import format_utc

        meta["utc_start"] = format_utc(float(t[0] + off))
        meta["utc_fit_s"] = max(hi - lo, 0.0) / 2
    gp = np.array([f.gimbal_pitch_deg for f in frames])
    gmode = "absolute" if np.isfinite(gp).any() else "none"
    if gmode == "none":
        warnings.append("no gimbal angles in the djmd track: the camera's orientation is unknown")
    return PoseTrack.build(
        t,
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt,
        rel_alt_m=np.array([f.rel_alt_m for f in frames]),
        roll_deg=np.array([f.roll_deg for f in frames]),
        pitch_deg=np.array([f.pitch_deg for f in frames]),
        yaw_deg=np.array([f.yaw_deg for f in frames]) % 360.0,
        speed_mps=np.hypot(vel[:, 0], vel[:, 1]),
        gimbal_pitch_deg=gp,
        gimbal_roll_deg=np.array([f.gimbal_roll_deg for f in frames]),
        gimbal_yaw_deg=np.array([f.gimbal_yaw_deg for f in frames]) % 360.0,
        fix_type=fix,
        flags=flags,
        alt_ref="ellipsoid" if ellipsoid else "msl",
        time_base="video",
        gimbal_mode=gmode,  # type: ignore[arg-type]
        kind="dji_meta",
        source=str(p),
        warnings=warnings,
        extra=extra,
        meta=meta,
    )


# ------------------------------------------------------------------------------ writer


def _key(num: int, wt: int) -> bytes:
    return _uvar((num << 3) | wt)


def _uvar(v: int) -> bytes:
    v &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _vi(num: int, v: int) -> bytes:
    return _key(num, 0) + _uvar(v) if v else b""  # proto3 omits zeros


def _ld(num: int, body: bytes) -> bytes:
    return _key(num, 2) + _uvar(len(body)) + body


def _fl(num: int, v: float) -> bytes:
    return _key(num, 5) + struct.pack("<f", v) if v else b""


def _db(num: int, v: float) -> bytes:
    return _key(num, 1) + struct.pack("<d", v) if v else b""


def _eul(pitch: float, roll: float, yaw: float) -> bytes:
    return b"".join(_vi(k, int(round(a * 10))) for k, a in ((1, pitch), (2, roll), (3, yaw)))


def write_djmd_mp4(
    path: str | Path,
    t_s: np.ndarray,
    *,
    lat_deg: np.ndarray,
    lon_deg: np.ndarray,
    alt_m: np.ndarray,
    rel_alt_m: np.ndarray,
    vel_ned_mps: np.ndarray,
    roll_deg: np.ndarray,
    pitch_deg: np.ndarray,
    yaw_deg: np.ndarray,
    gimbal_pitch_deg: np.ndarray,
    gimbal_roll_deg: np.ndarray,
    gimbal_yaw_deg: np.ndarray,
    utc0_s: float,
    fps: float,
    boot0_s: float = 100.0,
    proto: str = "dvtm_wm265e.proto",
    product: str = "DJI Mavic 3",
    alt_type: int = 0,
) -> Path:
    """Write a ``djmd`` track (one ``ProductMeta`` per frame, frames at ``t_s`` on the video
    clock, ``1 / fps`` apart) into ``path`` (added to an MP4 whose ``moov`` is last, or a new
    MP4), with the field numbers of DJI's ``dvtm_library.proto`` and the ``proto`` product's
    layout. Angles to deci-degrees, altitude to millimetres, as the schema stores them. For
    tests and the simulator."""
    import datetime as _dt

    from survey.telemetry.gpmf import _write_mp4

    drone_at, gimbal_at, _ = layout_of(proto) or DEFAULT_LAYOUT
    p = Path(path)
    t = np.asarray(t_s, np.float64)
    samples = []
    for k in range(t.size):
        u = _dt.datetime.fromtimestamp(int(np.floor(utc0_s + t[k])), _dt.timezone.utc)
        gps = (
            _ld(1, _vi(1, 1) + _db(2, float(lat_deg[k])) + _db(3, float(lon_deg[k])))
            + _vi(2, int(round(alt_m[k] * 1000)))
            + _vi(4, alt_type)
            + _vi(5, 1)
            + _ld(6, _ld(1, u.strftime("%Y-%m-%d %H-%M-%S").encode()))
        )
        drone = (
            _ld(1, _vi(3, 2) + _ld(4, b"drone"))
            + _ld(2, b"".join(_fl(i + 1, float(vel_ned_mps[k, i])) for i in range(3)))
            + _ld(3, _eul(float(pitch_deg[k]), float(roll_deg[k]), float(yaw_deg[k])))
            + _ld(4, gps)
            + _ld(5, _fl(1, float(rel_alt_m[k]) * 1000) + _vi(2, 1))
        )
        yaw_g = ((float(gimbal_yaw_deg[k]) + 180.0) % 360.0) - 180.0
        gimbal = _ld(1, _vi(3, 3) + _ld(4, b"gimbal")) + _ld(
            3, _eul(float(gimbal_pitch_deg[k]), float(gimbal_roll_deg[k]), yaw_g)
        )
        hdr = _vi(1, k) + _vi(2, int(round((boot0_s + t[k]) * 1e6)))
        frame = _ld(1, hdr) + _ld(drone_at, drone) + (_ld(gimbal_at, gimbal) if gimbal_at else b"")
        msg = b""
        if k == 0:
            clip_hdr = _ld(1, proto.encode()) + _ld(5, b"SIM0000001") + _ld(10, product.encode())
            msg += _ld(1, _ld(1, clip_hdr))
        samples.append(msg + _ld(3, frame))
    _write_mp4(p, samples, 1.0 / fps, codec="djmd", handler_name="DJI meta", ts=90000)
    return p
