"""GoPro GPMF telemetry (the ``gpmd`` track of GoPro MP4s, and of drones built around GoPros).

GPMF is a nested key-length-value format: a four-cc key, a type character, a structure size
and a repeat count (big-endian), the data padded to 4 bytes; type 0 nests. Inside each
``DEVC`` (device) the ``STRM`` streams carry sticky settings (``SCAL`` scales, ``TYPE`` of
complex structures, ``STNM`` names, ``TSMP``/``STMP`` counters) followed by the data.

What becomes the :class:`~survey.telemetry.track.PoseTrack` (records and their layouts as
GoPro's gpmf-parser documents them):

* ``GPS5`` (HERO5-HERO10): latitude, longitude, altitude (WGS84 ellipsoid... GoPro writes MSL
  on HERO5-7 firmware; stated as ``msl``), 2D and 3D speed; with ``GPSF`` fix (0/2/3),
  ``GPSP`` DOP x100 and ``GPSU`` UTC of the payload;
* ``GPS9`` (HERO11+): the five above plus days since 2000, seconds of day, DOP, fix;
* ``GLPI`` (Karma drone, MAVLink GLOBAL_POSITION_INT): boot ms, lat, lon, MSL altitude,
  height above take-off, NED velocity, heading;
* ``GPRI`` (Karma, MAVLink GPS_RAW_INT): GNSS fix, satellites, eph, course;
* ``ATTD`` (Karma, MAVLink ATTITUDE): boot ms, roll, pitch, yaw (rad).

Sample times are the camera's own clock: each GPMF payload is one sample of the ``gpmd`` track
and its records are spread evenly over the payload's duration (GoPro's rule); records with
their own boot-clock stamp (``GLPI``, ``ATTD``) are placed by that stamp, tied to the
container clock by the median offset. So the track's ``time_base`` is ``"video"`` (seconds from
the first frame) and frames need no clock sync; the UTC of each sample (from ``GPSU`` / ``GPS9``)
is kept in ``extra["t_utc_s"]``.

Camera orientation: GPMF carries no absolute camera angles (``CORI`` is relative to the first
frame). The track's gimbal angles are therefore an assumed **mount** (:class:`CameraMount`,
default: a stabilised gimbal looking straight down, yaw following the aircraft), stated in
``warnings`` and ``meta["camera_orientation"]``; the aircraft's yaw is ``ATTD``'s, else the GNSS
course over ground.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from survey.telemetry.errors import TelemetryFormatError
from survey.telemetry.track import PoseTrack, SampleFlag

__all__ = ["CameraMount", "GpmfError", "gpmf_payloads", "iter_klv", "read_gpmf"]

# type char -> (struct code, bytes)
_TYPES: dict[str, tuple[str, int]] = {
    "b": ("b", 1),
    "B": ("B", 1),
    "c": ("c", 1),
    "d": ("d", 8),
    "f": ("f", 4),
    "F": ("4s", 4),
    "j": ("q", 8),
    "J": ("Q", 8),
    "l": ("i", 4),
    "L": ("I", 4),
    "q": ("i", 4),  # Q15.16 fixed point: scaled below
    "Q": ("q", 8),  # Q31.32
    "s": ("h", 2),
    "S": ("H", 2),
}


class GpmfError(TelemetryFormatError):
    """A GPMF payload whose structure is damaged (names the file, sample and byte)."""


@dataclass(frozen=True)
class CameraMount:
    """How the camera points when the track carries no camera angles.

    ``stabilised``: a gimbal holds pitch and roll (absolute, NED) and turns with the aircraft's
    yaw plus ``yaw_deg``; otherwise the camera is fixed to the airframe at these angles
    (relative to the body).
    """

    yaw_deg: float = 0.0
    pitch_deg: float = -90.0
    roll_deg: float = 0.0
    stabilised: bool = True

    def describe(self) -> str:
        if self.stabilised:
            return (
                f"assumed: a stabilised gimbal at pitch {self.pitch_deg:g} deg, roll "
                f"{self.roll_deg:g} deg, yaw = aircraft yaw {self.yaw_deg:+g} deg (GPMF carries "
                "no absolute camera angles)"
            )
        return (
            f"assumed: camera fixed to the airframe at yaw {self.yaw_deg:g}, pitch "
            f"{self.pitch_deg:g}, roll {self.roll_deg:g} deg (GPMF carries no camera angles)"
        )


@dataclass
class _Klv:
    key: str
    type: str
    size: int
    repeat: int
    data: bytes  # payload (without padding)
    offset: int  # of the header, within the payload


def iter_klv(buf: bytes, start: int = 0, end: int | None = None) -> Iterator[_Klv]:
    """The KLV items of one nesting level; ``ValueError`` (with the offset) on damage."""
    end = len(buf) if end is None else end
    i = start
    while i + 8 <= end:
        key = buf[i : i + 4]
        if key == b"\x00\x00\x00\x00":  # padding at the end of a payload
            break
        if not all(32 <= c < 127 for c in key):
            raise ValueError(f"bad GPMF key {key!r} at byte {i}")
        t, size, rep = chr(buf[i + 4]), buf[i + 5], struct.unpack_from(">H", buf, i + 6)[0]
        n = size * rep
        if i + 8 + n > end:
            raise ValueError(
                f"GPMF item {key.decode()} at byte {i} holds {n} bytes but its parent ends "
                f"{end - i - 8} bytes later"
            )
        yield _Klv(key.decode(), t, size, rep, buf[i + 8 : i + 8 + n], i)
        i += 8 + ((n + 3) & ~3)


def _values(item: _Klv, type_str: str | None) -> np.ndarray | list[Any] | str:
    """Decode an item: (repeat, fields) float array, or text."""
    t = item.type
    if t == "c":
        return item.data.decode("latin-1").rstrip("\x00 ")
    if t == "U":
        return item.data.decode("latin-1")
    if t == "?":
        if not type_str:
            raise ValueError(f"complex item {item.key} without a TYPE")
        codes = [_TYPES[c] for c in type_str]
    elif t in _TYPES:
        code = _TYPES[t]
        if item.size % code[1]:
            raise ValueError(f"item {item.key}: structure size {item.size} not a multiple of {t}")
        codes = [code] * (item.size // code[1])
    else:
        return []
    fmt = ">" + "".join(c for c, _ in codes)
    width = sum(b for _, b in codes)
    if width != item.size:
        raise ValueError(
            f"item {item.key}: TYPE {type_str or t!r} is {width} bytes, structure is {item.size}"
        )
    if any(c == "4s" for c, _ in codes):
        return [struct.unpack_from(fmt, item.data, k * width) for k in range(item.repeat)]
    arr = np.array(
        [struct.unpack_from(fmt, item.data, k * width) for k in range(item.repeat)], np.float64
    ).reshape(item.repeat, len(codes))
    if t == "q":
        arr /= 65536.0
    elif t == "Q":
        arr /= 4294967296.0
    return arr


def _utc(text: str) -> float:
    """GPSU ``yymmddhhmmss.sss`` -> UTC POSIX seconds."""
    import calendar

    s = text.strip()
    y, mo, d, h, mi = (int(s[k : k + 2]) for k in range(0, 10, 2))
    sec = float(s[10:])
    return calendar.timegm((2000 + y, mo, d, h, mi, 0)) + sec


@dataclass
class _Stream:
    key: str
    name: str
    rows: np.ndarray  # (n, fields), scaled
    texts: dict[str, Any]


def gpmf_payloads(payload: bytes) -> list[_Stream]:
    """The data streams of one GPMF payload (one ``gpmd`` sample), scaled by ``SCAL``."""
    out: list[_Stream] = []
    for dev in iter_klv(payload):
        if dev.key != "DEVC" or dev.type != "\x00":
            continue
        base = dev.offset + 8
        for strm in iter_klv(payload, base, base + len(dev.data)):
            if strm.key != "STRM":
                continue
            sticky: dict[str, Any] = {}
            b2 = strm.offset + 8
            for it in iter_klv(payload, b2, b2 + len(strm.data)):
                if it.key in ("STNM", "TYPE", "UNIT", "SIUN"):
                    sticky[it.key] = _values(it, None)
                elif it.key in ("SCAL", "GPSF", "GPSP", "TSMP", "STMP", "EMPT", "TMPC"):
                    sticky[it.key] = _values(it, None)
                elif it.key == "GPSU":
                    sticky["GPSU"] = _values(it, None)
                elif it.type in _TYPES or it.type == "?":
                    v = _values(it, sticky.get("TYPE") if it.type == "?" else None)
                    if not isinstance(v, np.ndarray):
                        continue
                    scal = sticky.get("SCAL")
                    if isinstance(scal, np.ndarray) and scal.size:
                        s = scal.reshape(-1)
                        s = np.where(s == 0, 1.0, s)
                        v = v / (s if s.size == v.shape[1] else s[0])
                    out.append(_Stream(it.key, str(sticky.get("STNM", "")), v, dict(sticky)))
    return out


def _even_times(t0: float, dur: float, n: int) -> np.ndarray:
    return t0 + dur * np.arange(n) / max(n, 1)


def read_gpmf(path: str | Path, mount: CameraMount | None = None) -> PoseTrack:
    """Read the GPMF track of a GoPro MP4 into a :class:`PoseTrack` (``time_base="video"``).

    Raises
    ------
    TelemetryFormatError
        No ``gpmd`` track, a damaged container, or a damaged payload (names the sample and
        byte); payloads decoded before the damage are kept when at least one decoded.
    NoPositionError
        (from :func:`~survey.telemetry.read.read_track`) the track holds no position.
    """
    from survey.telemetry.container import read_mp4_tracks, read_samples

    p = Path(path)
    mount = mount or CameraMount()
    tracks = read_mp4_tracks(p)
    gp = [t for t in tracks if t.codec == "gpmd"]
    if not gp:
        raise TelemetryFormatError("no GoPro GPMF ('gpmd') track in this video", path=p)
    tr = gp[0]
    samples = read_samples(p, tr)
    warnings: list[str] = []
    if len(samples) < len(tr):
        warnings.append(
            f"file cut short: {len(tr) - len(samples)} of {len(tr)} GPMF payloads lie past its end"
        )
    gps: list[np.ndarray] = []  # t, lat, lon, alt, speed, fix, dop, utc
    glpi: list[np.ndarray] = []  # t_cont, t_boot, lat, lon, alt, rel, vn, ve, vd, hdg
    attd: list[np.ndarray] = []  # t_cont, t_boot, roll, pitch, yaw
    gpri: list[np.ndarray] = []  # t_cont, fix, sats
    names: dict[str, str] = {}
    for k, payload in enumerate(samples):
        t0, dur = float(tr.t_s[k]), float(tr.duration_s[k])
        try:
            streams = gpmf_payloads(payload)
        except (ValueError, struct.error, KeyError) as exc:
            msg = f"damaged GPMF payload ({exc})"
            where = f"GPMF sample {k} at byte {int(tr.offset[k])}"
            if not (gps or glpi):
                raise GpmfError(msg, path=p, where=where) from exc
            warnings.append(f"{where}: {msg}; the payloads after it are not read")
            break
        for s in streams:
            n = s.rows.shape[0]
            if s.name:
                names[s.key] = s.name
            if s.key in ("GPS5", "GPS9") and s.rows.shape[1] >= 5:
                te = _even_times(t0, dur, n)
                if s.key == "GPS9" and s.rows.shape[1] >= 9:
                    utc = 946684800.0 + s.rows[:, 5] * 86400.0 + s.rows[:, 6]
                    fix, dop = s.rows[:, 8], s.rows[:, 7]
                else:
                    u = s.texts.get("GPSU")
                    u0 = _utc(u) if isinstance(u, str) and len(u) >= 12 else np.nan
                    utc = u0 + (te - t0)
                    f = s.texts.get("GPSF")
                    d = s.texts.get("GPSP")
                    fix = np.full(
                        n, float(f.reshape(-1)[0]) if isinstance(f, np.ndarray) else np.nan
                    )
                    dop = np.full(
                        n, float(d.reshape(-1)[0]) / 100 if isinstance(d, np.ndarray) else np.nan
                    )
                gps.append(
                    np.column_stack([te, s.rows[:, 0], s.rows[:, 1], s.rows[:, 2], s.rows[:, 3], fix, dop, utc])
                )  # fmt: skip
            elif s.key == "GLPI" and s.rows.shape[1] >= 9:
                te = _even_times(t0, dur, n)
                glpi.append(np.column_stack([te, s.rows[:, :9]]))
            elif s.key == "ATTD" and s.rows.shape[1] >= 4:
                te = _even_times(t0, dur, n)
                attd.append(np.column_stack([te, s.rows[:, :4]]))
            elif s.key == "GPRI" and s.rows.shape[1] >= 10:
                te = _even_times(t0, dur, n)
                gpri.append(np.column_stack([te, s.rows[:, 8], s.rows[:, 9], s.rows[:, 4]]))
    meta: dict[str, Any] = {
        "container": "mp4",
        "gpmf_payloads": len(samples),
        "records": sorted(names),
        "camera_orientation": mount.describe(),
    }
    return _to_track(p, gps, glpi, attd, gpri, mount, warnings, meta)


def _boot_to_video(rows: np.ndarray, warnings: list[str], what: str) -> np.ndarray:
    """Video times of records with a boot-clock stamp: boot time + median(container - boot).

    A stamp more than 2 s from its payload's time is damaged: the payload's time is used and
    the record is reported (its values are suspect too: the caller flags it).
    """
    off = float(np.median(rows[:, 0] - rows[:, 1]))
    t = rows[:, 1] + off
    bad = ~(np.abs(t - rows[:, 0]) <= 2.0)
    if bad.any():
        warnings.append(
            f"{int(bad.sum())} {what} records with a damaged time stamp (first at video time "
            f"{rows[bad, 0][0]:.3f} s); flagged, not used"
        )
        t = np.where(bad, rows[:, 0], t)
    return t


def _course(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Course over ground (deg from north) by central differences of the positions."""
    if lat.size < 2:
        return np.full(lat.size, np.nan)
    dn = np.gradient(np.radians(lat)) * 6371008.8
    de = np.gradient(np.radians(lon)) * 6371008.8 * np.cos(np.radians(lat))
    c = np.degrees(np.arctan2(de, dn)) % 360.0
    c[np.hypot(dn, de) < 0.05] = np.nan  # hovering: no course
    return c


def _to_track(
    p: Path,
    gps: list[np.ndarray],
    glpi: list[np.ndarray],
    attd: list[np.ndarray],
    gpri: list[np.ndarray],
    mount: CameraMount,
    warnings: list[str],
    meta: dict[str, Any],
) -> PoseTrack:
    G = np.concatenate(gps) if gps else np.zeros((0, 8))
    L = np.concatenate(glpi) if glpi else np.zeros((0, 10))
    A = np.concatenate(attd) if attd else np.zeros((0, 5))
    R = np.concatenate(gpri) if gpri else np.zeros((0, 4))
    if not len(G) and not len(L):
        raise TelemetryFormatError(
            "the GPMF track holds no position record (GPS5, GPS9 or GLPI): GPS was off or "
            "had no fix", path=p,
        )  # fmt: skip
    extra: dict[str, np.ndarray] = {}
    if len(L):  # the aircraft's navigation solution beats the camera's own GNSS
        t = _boot_to_video(L, warnings, "GLPI")
        damaged = ~(np.abs(t - L[:, 0]) <= 2.0) | (
            np.abs(L[:, 1] + np.median(L[:, 0] - L[:, 1]) - L[:, 0]) > 2.0
        )
        lat, lon, alt, rel = L[:, 2], L[:, 3], L[:, 4], L[:, 5]
        vn, ve = L[:, 6], L[:, 7]
        speed = np.hypot(vn, ve)
        source = "GLPI (aircraft position)"
        fix = np.full(t.size, -1)
        sats = np.full(t.size, -1)
        if len(R):
            j = np.clip(np.searchsorted(R[:, 0], t), 0, len(R) - 1)
            fix, sats = R[j, 1], R[j, 2]
        hdg = L[:, 9]
        if len(G):
            u = np.interp(t, G[:, 0], G[:, 7])  # GNSS UTC at the fused samples
            u[(t < G[0, 0] - 1.0) | (t > G[-1, 0] + 1.0)] = np.nan
            extra["t_utc_s"] = u + np.where(t > G[-1, 0], t - G[-1, 0], 0.0)
        hdop = np.full(t.size, np.nan)
    else:
        t, lat, lon, alt = G[:, 0], G[:, 1], G[:, 2], G[:, 3]
        rel = np.full(t.size, np.nan)
        speed = G[:, 4]
        fix = np.where(np.isfinite(G[:, 5]), G[:, 5], -1)
        sats = np.full(t.size, -1)
        hdop = G[:, 6]
        hdg = np.full(t.size, np.nan)
        extra["t_utc_s"] = G[:, 7]
        source = "GPS5/GPS9 (camera GNSS)"
        damaged = np.zeros(t.size, bool)
    o = np.argsort(t, kind="stable")
    t, lat, lon, alt, rel, speed, hdop, hdg = (
        a[o] for a in (t, lat, lon, alt, rel, speed, hdop, hdg)
    )
    fix, sats, damaged = np.asarray(fix)[o], np.asarray(sats)[o], damaged[o]
    extra = {k: v[o] for k, v in extra.items()}
    if len(A):
        ta = _boot_to_video(A, warnings, "ATTD")
        oa = np.argsort(ta)
        ta, A = ta[oa], A[oa]
        roll = np.interp(t, ta, np.degrees(A[:, 2]), left=np.nan, right=np.nan)
        pitch = np.interp(t, ta, np.degrees(A[:, 3]), left=np.nan, right=np.nan)
        yaw_u = np.degrees(np.unwrap(A[:, 4]))
        yaw = np.interp(t, ta, yaw_u, left=np.nan, right=np.nan) % 360.0
        yaw_from = "ATTD"
    else:
        roll = pitch = np.full(t.size, np.nan)
        yaw = hdg % 360.0 if np.isfinite(hdg).any() else _course(lat, lon)
        yaw_from = "GLPI heading" if np.isfinite(hdg).any() else "GNSS course over ground"
        warnings.append(
            f"no attitude record (ATTD) in the GPMF track: aircraft yaw from the {yaw_from}"
        )
    warnings.append(f"camera orientation {mount.describe()}")
    meta.update(position_source=source, yaw_source=yaw_from)
    flags = np.zeros(t.size, np.uint16)
    flags[~(np.isfinite(lat) & np.isfinite(lon)) | damaged] |= np.uint16(SampleFlag.NO_POSITION)
    fixf = np.asarray(fix, np.float64)
    flags[(fixf >= 0) & (fixf < 2)] |= np.uint16(SampleFlag.NO_FIX)
    if mount.stabilised:
        g_yaw = (yaw + mount.yaw_deg) % 360.0
        gimbal: dict[str, Any] = {
            "gimbal_yaw_deg": g_yaw,
            "gimbal_pitch_deg": np.full(t.size, mount.pitch_deg),
            "gimbal_roll_deg": np.full(t.size, mount.roll_deg),
        }
        mode = "absolute"
    else:
        gimbal = {
            "gimbal_yaw_deg": np.full(t.size, mount.yaw_deg),
            "gimbal_pitch_deg": np.full(t.size, mount.pitch_deg),
            "gimbal_roll_deg": np.full(t.size, mount.roll_deg),
        }
        mode = "relative"
    if "t_utc_s" in extra and np.isfinite(extra["t_utc_s"]).any():
        from survey.telemetry.timeutil import format_utc

        meta["utc_start"] = format_utc(float(np.nanmin(extra["t_utc_s"])))
    return PoseTrack.build(
        t,
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt,
        rel_alt_m=rel,
        roll_deg=roll,
        pitch_deg=pitch,
        yaw_deg=yaw,
        speed_mps=speed,
        hdop=hdop,
        fix_type=np.asarray(fix, np.float64).astype(np.int64),
        sats=np.asarray(sats, np.float64).astype(np.int64),
        flags=flags,
        alt_ref="msl",
        time_base="video",
        gimbal_mode=mode,  # type: ignore[arg-type]
        kind="gopro_gpmf",
        source=str(p),
        warnings=warnings,
        extra=extra,
        meta=meta,
        **gimbal,
    )


# ------------------------------------------------------------------------------ writer


def _klv(key: str, typ: str, size: int, repeat: int, data: bytes) -> bytes:
    pad = (-len(data)) % 4
    return key.encode() + bytes([ord(typ), size]) + struct.pack(">H", repeat) + data + bytes(pad)


def _nest(key: str, *items: bytes) -> bytes:
    body = b"".join(items)
    return key.encode() + b"\x00\x01" + struct.pack(">H", len(body)) + body


def _complex(key: str, name: str, type_str: str, scale: Sequence[int], rows: np.ndarray) -> bytes:
    fmt = ">" + "".join(_TYPES[c][0] for c in type_str)
    width = struct.calcsize(fmt)
    floats = [c in "fd" for c in type_str]

    def conv(v: float, s: int, is_f: bool) -> float | int:
        return v * s if is_f else int(round(v * s))

    data = b"".join(
        struct.pack(fmt, *(conv(v, s, f) for v, s, f in zip(r, scale, floats, strict=True)))
        for r in rows
    )
    return _nest(
        "STRM",
        _klv("STNM", "c", len(name), 1, name.encode()),
        _klv("TYPE", "c", len(type_str), 1, type_str.encode()),
        _klv("SCAL", "l", 4, len(scale), struct.pack(f">{len(scale)}i", *scale)),
        _klv(key, "?", width, len(rows), data),
    )


def write_gpmf_mp4(
    path: str | Path,
    t_s: np.ndarray,
    *,
    lat_deg: np.ndarray,
    lon_deg: np.ndarray,
    alt_msl_m: np.ndarray,
    rel_alt_m: np.ndarray,
    vel_ned_mps: np.ndarray,
    roll_deg: np.ndarray,
    pitch_deg: np.ndarray,
    yaw_deg: np.ndarray,
    utc0_s: float,
    boot0_s: float = 100.0,
    payload_s: float = 1.0,
) -> Path:
    """Write a Karma-style GPMF track (``GLPI`` + ``ATTD`` + ``GPS5`` with ``GPSU``) as an MP4
    holding one ``gpmd`` track: samples at video times ``t_s`` (GLPI/ATTD stamped on a boot
    clock starting at ``boot0_s``), one payload per ``payload_s``. For tests and the simulator.
    """
    p = Path(path)
    t = np.asarray(t_s, np.float64)
    n_pay = max(1, int(np.ceil((t[-1] + 1e-9) / payload_s)))
    payloads = []
    for k in range(n_pay):
        sel = (t >= k * payload_s) & (t < (k + 1) * payload_s)
        if not sel.any():
            payloads.append(_nest("DEVC"))
            continue
        boot = (t[sel] + boot0_s) * 1000.0
        glpi = np.column_stack(
            [boot / 1000, lat_deg[sel], lon_deg[sel], alt_msl_m[sel], rel_alt_m[sel],
             vel_ned_mps[sel, 0], vel_ned_mps[sel, 1], vel_ned_mps[sel, 2], yaw_deg[sel] % 360]
        )  # fmt: skip
        attd = np.column_stack(
            [boot / 1000, np.radians(roll_deg[sel]), np.radians(pitch_deg[sel]),
             np.radians(((yaw_deg[sel] + 180) % 360) - 180), *(np.zeros((3, sel.sum()))),
             np.zeros(sel.sum())]
        )  # fmt: skip
        speed = np.hypot(vel_ned_mps[sel, 0], vel_ned_mps[sel, 1])
        gps5 = np.column_stack(
            [
                lat_deg[sel],
                lon_deg[sel],
                alt_msl_m[sel],
                speed,
                np.hypot(speed, vel_ned_mps[sel, 2]),
            ]
        )
        import datetime as _dt

        u = _dt.datetime.fromtimestamp(utc0_s + k * payload_s, _dt.timezone.utc)
        gpsu = u.strftime("%y%m%d%H%M%S") + f".{u.microsecond // 1000:03d}"
        scal5 = [10_000_000, 10_000_000, 1000, 1000, 100]
        gps_strm = _nest(
            "STRM",
            _klv("GPSF", "L", 4, 1, struct.pack(">I", 3)),
            _klv("GPSU", "U", 16, 1, gpsu.encode()),
            _klv("GPSP", "S", 2, 1, struct.pack(">H", 120)),
            _klv("SCAL", "l", 4, 5, struct.pack(">5i", *scal5)),
            _klv("GPS5", "l", 20, len(gps5),
                 b"".join(struct.pack(">5i", *(int(round(v * s)) for v, s in zip(r, scal5, strict=True))) for r in gps5)),
        )  # fmt: skip
        payloads.append(
            _nest(
                "DEVC",
                _klv("DVID", "L", 4, 1, struct.pack(">I", 1)),
                _klv("DVNM", "c", 8, 1, b"Sim GPMF"),
                gps_strm,
                _complex(
                    "GLPI",
                    "Position",
                    "LllllsssS",
                    [1000, 10_000_000, 10_000_000, 1000, 1000, 100, 100, 100, 100],
                    glpi,
                ),
                _complex("ATTD", "Attitude", "LffffffB", [1000, 1, 1, 1, 1, 1, 1, 1], attd),
            )  # fmt: skip
        )
    _write_mp4(p, payloads, payload_s)
    return p


def _box(typ: str, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I", 8 + len(body)) + typ.encode() + body


def _gpmd_trak(
    sizes: list[int], first: int, d: int, ts: int, track_id: int, codec: str = "gpmd",
    handler_name: str = "GoPro MET",
) -> bytes:  # fmt: skip
    offs = np.r_[0, np.cumsum(sizes)[:-1]] + first
    n = len(sizes)
    total = d * n
    z = bytes(4)
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    tkhd = _box("tkhd", b"\x00\x00\x00\x03", z, z, struct.pack(">II", track_id, 0),
                struct.pack(">I", total), bytes(8), bytes(8), matrix, struct.pack(">II", 0, 0))  # fmt: skip
    mdhd = _box("mdhd", z, z, z, struct.pack(">II", ts, total), b"\x55\xc4\x00\x00")
    hdlr = _box("hdlr", z, z, b"meta", bytes(12), handler_name.encode() + b"\x00")
    stsd = _box("stsd", z, struct.pack(">I", 1), _box(codec, bytes(6), struct.pack(">H", 1), z))
    stts = _box("stts", z, struct.pack(">III", 1, n, d))
    stsc = _box("stsc", z, struct.pack(">IIII", 1, 1, 1, 1))
    stsz = _box("stsz", z, struct.pack(">II", 0, n), struct.pack(f">{n}I", *sizes))
    stco = _box("stco", z, struct.pack(">I", n), struct.pack(f">{n}I", *offs.tolist()))
    stbl = _box("stbl", stsd, stts, stsc, stsz, stco)
    minf = _box("minf", _box("nmhd", z), stbl)
    return _box("trak", tkhd, _box("mdia", mdhd, hdlr, minf))


def _write_mp4(
    p: Path, samples: list[bytes], dur_s: float, codec: str = "gpmd",
    handler_name: str = "GoPro MET", ts: int = 1000,
) -> None:  # fmt: skip
    """A minimal MP4 with one timed-metadata track (``meta`` handler, ``codec`` sample entries,
    each sample ``dur_s`` long); when ``p`` already is an MP4 (moov last, as OpenCV writes it),
    the track is added to it."""
    d = int(round(dur_s * ts))
    sizes = [len(s) for s in samples]
    if p.is_file() and p.stat().st_size > 16:
        data = p.read_bytes()
        i, moov_at = 0, -1
        while i + 8 <= len(data):
            size, typ = struct.unpack_from(">I4s", data, i)
            if typ == b"moov":
                moov_at = i
            i += size if size >= 8 else len(data)
        if moov_at < 0 or struct.unpack_from(">I", data, moov_at)[0] + moov_at != len(data):
            raise ValueError(f"{p}: cannot add a {codec} track (moov is not the last box)")
        head, moov = data[:moov_at], data[moov_at:]
        mdat = _box("mdat", *samples)
        trak = _gpmd_trak(sizes, len(head) + 8, d, ts, 99, codec, handler_name)
        body = moov[8:] + trak
        p.write_bytes(head + mdat + struct.pack(">I", 8 + len(body)) + b"moov" + body)
        return
    total = d * len(samples)
    z = bytes(4)
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    ftyp = _box("ftyp", b"mp41", struct.pack(">I", 0), b"mp41isom")
    mdat = _box("mdat", *samples)
    mvhd = _box("mvhd", z, z, z, struct.pack(">II", ts, total), struct.pack(">IH", 0x10000, 0x100),
                bytes(10), matrix, bytes(24), struct.pack(">I", 2))  # fmt: skip
    moov = _box("moov", mvhd, _gpmd_trak(sizes, len(ftyp) + 8, d, ts, 1, codec, handler_name))
    p.write_bytes(ftyp + mdat + moov)
