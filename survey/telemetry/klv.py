"""MISB ST 0601 UAS Datalink Local Set (KLV) metadata, as carried in full-motion video.

Reads a raw stream of KLV packets (16-byte universal key, BER length, tag-length-value items)
and maps the ST 0601 items to a pose track: precision time stamp (tag 2, UTC µs), platform
heading/pitch/roll (5, 6, 7; 90/91 for the full-range pitch/roll), sensor latitude/longitude
(13, 14), sensor true altitude (15, MSL) or height above ellipsoid (75), platform ground speed
(56), sensor relative azimuth/elevation/roll (18, 19, 20: relative to the platform, so
``gimbal_mode="relative"``, applied in that azimuth-elevation-roll order), and horizontal /
vertical field of view (16, 17) kept in ``extra``. Packets with a wrong checksum (tag 1) are
skipped and counted.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

from survey.telemetry.errors import TelemetryFormatError
from survey.telemetry.track import PoseTrack, SampleFlag

__all__ = ["UAS_LS_KEY", "decode_local_set", "looks_like_klv", "read_klv"]

UAS_LS_KEY = bytes.fromhex("060E2B34020B01010E01030101000000")


def looks_like_klv(head: bytes) -> bool:
    return head[:16] == UAS_LS_KEY


def _ber(data: bytes, i: int) -> tuple[int, int]:
    """(length, index after the length field) of a BER length at ``data[i]``."""
    if i >= len(data):
        raise ValueError(f"item runs past the end of its packet (length expected at offset {i})")
    b = data[i]
    if b < 0x80:
        return b, i + 1
    n = b & 0x7F
    if n == 0 or n > 8 or i + 1 + n > len(data):
        raise ValueError(f"bad BER length at offset {i}")
    return int.from_bytes(data[i + 1 : i + 1 + n], "big"), i + 1 + n


def _map(raw: int, bits: int, signed: bool, lo: float, hi: float) -> float:
    """ST 0601 linear mapping of an integer to [lo, hi]; the 'error' value gives NaN."""
    if signed:
        if raw == -(1 << (bits - 1)):
            return float("nan")
        return raw * (hi - lo) / 2 / ((1 << (bits - 1)) - 1)
    return lo + raw * (hi - lo) / ((1 << bits) - 1)


def _int(v: bytes, signed: bool) -> int:
    return int.from_bytes(v, "big", signed=signed)


# tag -> (name, signed, lo, hi); the number of bits is the item's length
_MAPPED = {
    5: ("heading", False, 0.0, 360.0),
    6: ("pitch", True, -20.0, 20.0),
    7: ("roll", True, -50.0, 50.0),
    13: ("lat", True, -90.0, 90.0),
    14: ("lon", True, -180.0, 180.0),
    15: ("alt_msl", False, -900.0, 19000.0),
    16: ("hfov", False, 0.0, 180.0),
    17: ("vfov", False, 0.0, 180.0),
    18: ("rel_az", False, 0.0, 360.0),
    19: ("rel_el", True, -180.0, 180.0),
    20: ("rel_roll", False, 0.0, 360.0),
    23: ("frame_lat", True, -90.0, 90.0),
    24: ("frame_lon", True, -180.0, 180.0),
    75: ("alt_hae", False, -900.0, 19000.0),
    90: ("pitch_full", True, -90.0, 90.0),
    91: ("roll_full", True, -90.0, 90.0),
}


def decode_local_set(value: bytes) -> dict[str, Any]:
    """The ST 0601 items of one Local Set (the bytes after the key and length).

    Examples
    --------
    The standard's example values (ST 0601, 'Conversions and Mappings'):

    >>> d = decode_local_set(bytes.fromhex("0D045595B66D" "0E045B5360C4" "050271C2"))
    >>> round(d["lat"], 8), round(d["lon"], 8), round(d["heading"], 4)
    (60.17682297, 128.42675904, 159.9744)
    """
    out: dict[str, Any] = {}
    i = 0
    while i < len(value):
        tag = value[i]
        if tag & 0x80:  # BER-OID tags above 127 (not used here): skip
            j = i
            while j < len(value) and value[j] & 0x80:
                j += 1
            if j >= len(value):
                break  # a tag cut off by the end of the set (damaged): nothing more to read
            tag, i = -1, j
        length, j = _ber(value, i + 1)
        v = value[j : j + length]
        if len(v) != length:
            raise ValueError(f"item {tag} runs past the end of its packet")
        if tag == 2 and length == 8:
            out["t_us"] = float(struct.unpack(">Q", v)[0])
        elif tag in (3, 4, 10, 11):  # mission id, tail number, platform, sensor (text)
            names = {3: "mission_id", 4: "tail_number", 10: "platform", 11: "sensor"}
            out[names[tag]] = v.decode("utf-8", errors="replace")
        elif tag == 56 and length == 1:
            out["ground_speed"] = float(v[0])
        elif tag in _MAPPED and length:
            name, signed, lo, hi = _MAPPED[tag]
            out[name] = _map(_int(v, signed), 8 * length, signed, lo, hi)
        i = j + length
    return out


def _checksum_ok(packet: bytes) -> bool | None:
    """ST 0601 16-bit running sum over the packet up to the checksum value; None if absent."""
    if len(packet) < 4 or packet[-4:-2] != b"\x01\x02":
        return None
    s = 0
    for k, b in enumerate(packet[:-2]):
        s += b << (8 * ((k + 1) % 2))
    return (s & 0xFFFF) == int.from_bytes(packet[-2:], "big")


def read_klv(path: str | Path) -> PoseTrack:
    """Read a raw MISB ST 0601 KLV stream into a :class:`PoseTrack` (UTC)."""
    p = Path(path)
    data = p.read_bytes()
    rows: list[dict[str, Any]] = []
    i = 0
    bad = skipped = 0
    while i + 17 <= len(data):
        if data[i : i + 16] != UAS_LS_KEY:
            j = data.find(UAS_LS_KEY, i + 1)
            if j < 0:
                break
            skipped += j - i
            i = j
            continue
        try:
            length, j = _ber(data, i + 16)
        except (ValueError, IndexError) as exc:
            raise TelemetryFormatError(
                f"bad KLV length ({exc})", path=p, where=f"offset {i + 16}"
            ) from exc
        packet = data[i : j + length]
        if j + length > len(data):
            if not rows:
                raise TelemetryFormatError("KLV packet cut short", path=p, where=f"offset {i}")
            break
        ok = _checksum_ok(packet)
        if ok is False:
            bad += 1
        else:
            try:
                rows.append(decode_local_set(data[j : j + length]))
            except ValueError as exc:
                raise TelemetryFormatError(
                    f"bad ST 0601 item ({exc})", path=p, where=f"offset {i}"
                ) from exc
        i = j + length
    if not rows:
        raise TelemetryFormatError(
            "no MISB ST 0601 UAS Local Set packet (key 06 0E 2B 34 02 0B 01 01 0E 01 03 01 01)",
            path=p,
            where="offset 0",
        )
    texts: dict[str, str] = {
        k: str(r[k])
        for r in rows
        for k in ("mission_id", "tail_number", "platform", "sensor")
        if k in r
    }
    rows = [r for r in rows if "t_us" in r]
    if not rows:
        raise TelemetryFormatError("ST 0601 packets carry no precision time stamp (tag 2)", path=p)

    def col(k: str) -> np.ndarray:
        return np.array([r.get(k, np.nan) for r in rows], np.float64)

    warnings = []
    if bad:
        warnings.append(f"{bad} KLV packets with a wrong checksum skipped")
    if skipped:
        warnings.append(f"{skipped} bytes between KLV packets skipped")
    lat, lon = col("lat"), col("lon")
    flags = np.zeros(lat.size, np.uint16)
    flags[~(np.isfinite(lat) & np.isfinite(lon))] |= np.uint16(SampleFlag.NO_POSITION)
    pitch = np.where(np.isfinite(col("pitch_full")), col("pitch_full"), col("pitch"))
    roll = np.where(np.isfinite(col("roll_full")), col("roll_full"), col("roll"))
    alt, alt_ref = col("alt_msl"), "msl"
    if not np.isfinite(alt).any() and np.isfinite(col("alt_hae")).any():
        alt, alt_ref = col("alt_hae"), "ellipsoid"
    has_g = bool(np.isfinite(col("rel_az")).any())
    return PoseTrack.build(
        col("t_us") * 1e-6,
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt,
        roll_deg=roll,
        pitch_deg=pitch,
        yaw_deg=col("heading"),
        gimbal_yaw_deg=col("rel_az") if has_g else None,
        gimbal_pitch_deg=col("rel_el") if has_g else None,
        gimbal_roll_deg=col("rel_roll") if has_g else None,
        gimbal_mode="relative" if has_g else "none",
        speed_mps=col("ground_speed"),
        flags=flags,
        alt_ref=alt_ref,  # type: ignore[arg-type]
        time_base="utc",
        kind="misb_klv",
        source=str(p),
        warnings=warnings,
        meta=texts,
        extra={
            "hfov_deg": col("hfov"),
            "vfov_deg": col("vfov"),
            "frame_center_lat_deg": col("frame_lat"),
            "frame_center_lon_deg": col("frame_lon"),
        },
    )
