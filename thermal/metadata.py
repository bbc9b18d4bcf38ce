"""EXIF and DJI XMP: capture time, GPS, gimbal and flight attitude (read and write).

EXIF is parsed and written with Pillow's ``Image.Exif`` (no image decoding). DJI's XMP holds
``drone-dji:`` attributes (``GimbalYawDegree="+82.40"`` ...) that we read with a regular
expression; written XMP uses the same namespace and attribute names so DJI-aware tools
(exiftool, ODM, Pix4D) read our files like a drone's.
"""

from __future__ import annotations

import calendar
import logging
import re
import time
from typing import Any

from thermal.frame import Attitude, GpsFix

__all__ = ["build_exif", "build_xmp", "parse_exif", "parse_xmp"]

log = logging.getLogger(__name__)

_XMP_ATTR = re.compile(rb"drone-dji:(\w+)\s*=\s*\"([^\"]*)\"|<drone-dji:(\w+)>([^<]*)</drone-dji:")
_IFD_EXIF, _IFD_GPS = 0x8769, 0x8825


def parse_xmp(xmp: bytes | None) -> dict[str, str]:
    """The ``drone-dji:`` fields of an XMP packet (attribute or element form).

    Examples
    --------
    >>> parse_xmp(b'<x drone-dji:GimbalYawDegree="+82.40" drone-dji:RelativeAltitude="1.9"/>')
    {'GimbalYawDegree': '+82.40', 'RelativeAltitude': '1.9'}
    """
    out: dict[str, str] = {}
    if not xmp:
        return out
    for m in _XMP_ATTR.finditer(xmp):
        key = m.group(1) or m.group(3)
        val = m.group(2) if m.group(1) else m.group(4)
        out[key.decode("ascii", "replace")] = val.decode("utf-8", "replace").strip()
    return out


def _num(d: dict[str, str], key: str) -> float | None:
    v = d.get(key)
    if v is None or v == "":
        return None
    try:
        return float(v)
    except ValueError:
        log.warning("XMP drone-dji:%s=%r is not a number; ignored", key, v)
        return None


def attitudes_from_xmp(dji: dict[str, str]) -> tuple[Attitude | None, Attitude | None]:
    """``(gimbal, flight)`` attitudes from DJI XMP fields, each None when absent."""
    out: list[Attitude | None] = []
    for who in ("Gimbal", "Flight"):
        y, p, r = (_num(dji, f"{who}{a}Degree") for a in ("Yaw", "Pitch", "Roll"))
        out.append(Attitude(y, p, r) if None not in (y, p, r) else None)  # type: ignore[arg-type]
    return out[0], out[1]


def _dms(v: Any) -> float:
    d, m, s = (float(x) for x in v)
    return d + m / 60.0 + s / 3600.0


def parse_exif(exif: bytes | None) -> dict[str, Any]:
    """Make, model, capture time (UTC POSIX s when the offset is known), GPS, focal length.

    Returns a dict with keys ``make``, ``model``, ``datetime_local`` (text),
    ``datetime_utc_s`` (or None), ``gps`` (:class:`GpsFix` or None), ``focal_length_mm``.
    """
    out: dict[str, Any] = {"make": "", "model": "", "gps": None, "datetime_utc_s": None}
    if not exif:
        return out
    from PIL import Image

    e = Image.Exif()
    try:
        e.load(exif)
    except Exception as exc:  # Pillow raises several types on corrupt TIFF structures
        log.warning("EXIF block unreadable (%s); ignored", exc)
        return out
    out["make"] = str(e.get(0x010F, "")).strip("\0 ")
    out["model"] = str(e.get(0x0110, "")).strip("\0 ")
    ex = e.get_ifd(_IFD_EXIF)
    dt = ex.get(0x9003) or e.get(0x0132)
    if dt:
        out["datetime_local"] = str(dt)
        sub = str(ex.get(0x9291, "") or "").strip()
        offset = str(ex.get(0x9011, "") or "").strip()
        try:
            base = calendar.timegm(time.strptime(str(dt).strip("\0 "), "%Y:%m:%d %H:%M:%S"))
        except ValueError:
            base = None
        if base is not None and offset:
            m = re.fullmatch(r"([+-])(\d\d):(\d\d)", offset)
            if m:
                sign = 1 if m.group(1) == "+" else -1
                frac = float("0." + sub) if sub.isdigit() else 0.0
                out["datetime_utc_s"] = (
                    base - sign * (int(m.group(2)) * 3600 + int(m.group(3)) * 60) + frac
                )
    if 0x920A in ex:
        out["focal_length_mm"] = float(ex[0x920A])
    g = e.get_ifd(_IFD_GPS)
    if 2 in g and 4 in g:
        try:
            lat = _dms(g[2]) * (-1 if str(g.get(1, "N")).upper().startswith("S") else 1)
            lon = _dms(g[4]) * (-1 if str(g.get(3, "E")).upper().startswith("W") else 1)
            alt = None
            if 6 in g:
                ref = g.get(5, b"\x00")
                below = (ref[:1] == b"\x01") if isinstance(ref, bytes) else int(ref) == 1
                alt = float(g[6]) * (-1 if below else 1)
            if lat == 0.0 and lon == 0.0:
                log.info("EXIF GPS at exactly (0, 0): no fix; ignored")
            else:
                out["gps"] = GpsFix(lat, lon, alt, "msl")
        except (TypeError, ValueError, ZeroDivisionError) as exc:
            log.warning("EXIF GPS block unreadable (%s); ignored", exc)
    return out


def _rational_dms(value: float) -> tuple[Any, Any, Any]:
    from PIL.TiffImagePlugin import IFDRational

    v = abs(value)
    d = int(v)
    m = int((v - d) * 60)
    s = (v - d - m / 60.0) * 3600.0
    return IFDRational(d, 1), IFDRational(m, 1), IFDRational(int(round(s * 1e6)), 1_000_000)


def build_exif(
    *,
    make: str,
    model: str,
    datetime_utc_s: float | None,
    gps: GpsFix | None,
    focal_length_mm: float | None,
    width: int,
    height: int,
) -> bytes:
    """An APP1 EXIF payload (starting ``Exif\\0\\0``)."""
    from PIL import Image
    from PIL.TiffImagePlugin import IFDRational

    e = Image.Exif()
    e[0x010F] = make
    e[0x0110] = model
    e[0x0131] = "railpipe-survey"
    ex = e.get_ifd(_IFD_EXIF)
    ex[0xA002], ex[0xA003] = width, height
    if datetime_utc_s is not None:
        secs = int(datetime_utc_s // 1)
        stamp = time.strftime("%Y:%m:%d %H:%M:%S", time.gmtime(secs))
        e[0x0132] = stamp
        ex[0x9003] = ex[0x9004] = stamp
        ex[0x9291] = f"{min(int(round((datetime_utc_s - secs) * 1000)), 999):03d}"
        ex[0x9011] = "+00:00"
    if focal_length_mm is not None:
        ex[0x920A] = IFDRational(int(round(focal_length_mm * 1000)), 1000)
    if gps is not None:
        g = e.get_ifd(_IFD_GPS)
        g[0] = b"\x02\x03\x00\x00"
        g[1] = "N" if gps.lat_deg >= 0 else "S"
        g[2] = _rational_dms(gps.lat_deg)
        g[3] = "E" if gps.lon_deg >= 0 else "W"
        g[4] = _rational_dms(gps.lon_deg)
        if gps.alt_m is not None:
            g[5] = b"\x00" if gps.alt_m >= 0 else b"\x01"
            g[6] = IFDRational(int(round(abs(gps.alt_m) * 1000)), 1000)
        g[18] = "WGS-84"
    data: bytes = e.tobytes()
    return data


def build_xmp(
    *,
    gps: GpsFix | None,
    gimbal: Attitude | None,
    flight: Attitude | None,
    make: str,
    model: str,
) -> bytes:
    """An APP1 XMP payload with DJI-style ``drone-dji:`` attributes."""
    attrs: dict[str, str] = {}
    if gps is not None:
        attrs["GpsLatitude"] = f"{gps.lat_deg:.9f}"
        attrs["GpsLongitude"] = f"{gps.lon_deg:.9f}"
        if gps.alt_m is not None:
            attrs["AbsoluteAltitude"] = f"{gps.alt_m:+.3f}"
        if gps.rel_alt_m is not None:
            attrs["RelativeAltitude"] = f"{gps.rel_alt_m:+.3f}"
    for who, att in (("Gimbal", gimbal), ("Flight", flight)):
        if att is not None:
            attrs[f"{who}RollDegree"] = f"{att.roll_deg:+.4f}"
            attrs[f"{who}YawDegree"] = f"{att.yaw_deg:+.4f}"
            attrs[f"{who}PitchDegree"] = f"{att.pitch_deg:+.4f}"
    body = "".join(f'\n    drone-dji:{k}="{v}"' for k, v in attrs.items())
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about="DJI Meta Data"\n'
        '    xmlns:tiff="http://ns.adobe.com/tiff/1.0/"\n'
        '    xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/"\n'
        f'    tiff:Make="{_xml(make)}"\n'
        f'    tiff:Model="{_xml(model)}"{body}/>\n'
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    return packet.encode("utf-8")


def _xml(s: str) -> str:
    return s.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
