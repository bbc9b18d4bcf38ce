"""Geotagged photos: EXIF GPS and time stamps, DJI ``drone-dji`` XMP (pose, calibration).

EXIF is read with Pillow; the XMP packet is found in the file's bytes and read by its labels
(``drone-dji:GpsLatitude``, ``GpsLongitude`` or DJI's ``GpsLongtitude`` typo,
``AbsoluteAltitude``, ``RelativeAltitude``, ``GimbalYaw/Pitch/RollDegree`` (absolute),
``FlightYaw/Pitch/RollDegree``, ``CalibratedFocalLength``, ``CalibratedOpticalCenterX/Y``,
``DewarpData``, ``RtkStdLat/Lon/Hgt``). GDAL-written TIFFs keep the EXIF as text in their
GDAL metadata tag; that is read too.

Time: ``DateTimeOriginal`` + ``SubSecTimeOriginal`` is the camera's wall clock. With
``OffsetTimeOriginal`` or a zone on the XMP ``CreateDate`` it becomes UTC (``time_base`` "utc"),
otherwise it stays local (zone unknown). The EXIF GPS date and time stamp, when present, is
the receiver's UTC and is kept apart (``t_gps_utc_s``) for clock checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from survey.telemetry.errors import TelemetryFormatError
from survey.telemetry.timeutil import parse_wall_clock
from survey.telemetry.track import AltRef, PoseTrack, SampleFlag, TimeBase

__all__ = [
    "PhotoMeta",
    "looks_like_photo",
    "parse_dms",
    "photos_to_track",
    "read_photo",
    "read_photos",
]

_XMP_START, _XMP_END = b"<x:xmpmeta", b"</x:xmpmeta>"
_XMP_ATTR = re.compile(r'([A-Za-z][\w-]*):([A-Za-z]\w*)\s*=\s*"([^"]*)"')
_XMP_ELEM = re.compile(r"<([A-Za-z][\w-]*):([A-Za-z]\w*)>([^<]*)</\1:\2>")
_DMS = re.compile(
    r"^\s*([-+]?\d+(?:\.\d+)?)(?:\s*(?:deg|°|d)\s*(\d+(?:\.\d+)?)?\s*['m]?\s*(\d+(?:\.\d+)?)?\s*(?:\"|''|s)?)?\s*([NSEWnsew])?\s*$"
)


def parse_dms(text: str | float | None, ref: str | None = None) -> float:
    """Decimal degrees from ``8 deg 17' 39.30" S``, ``-8.294``, ``51 deg 21' 58.07"`` + ref.

    The hemisphere comes from the letter in the text or ``ref`` (N/S/E/W); a value that is not
    an angle gives NaN.

    Examples
    --------
    >>> round(parse_dms('8 deg 17\\' 39.30" S'), 7)
    -8.29425
    >>> parse_dms("115.5", "W"), parse_dms("", None)
    (-115.5, nan)
    """
    if text is None:
        return float("nan")
    if isinstance(text, int | float):
        v = float(text)
    else:
        m = _DMS.match(text)
        if not m:
            return float("nan")
        v = float(m.group(1))
        sign = -1.0 if v < 0 or text.strip().startswith("-") else 1.0
        v = abs(v) + float(m.group(2) or 0) / 60 + float(m.group(3) or 0) / 3600
        v *= sign
        if m.group(4):
            ref = m.group(4)
    if ref and ref.strip().upper()[:1] in ("S", "W"):
        v = -abs(v)
    return v


@dataclass(frozen=True)
class PhotoMeta:
    """What a photo says about where and when it was taken, and with which calibration."""

    path: str
    t_s: float  #: DateTimeOriginal (+ sub-seconds) in ``time_base``
    time_base: TimeBase  #: "utc" when the file states its zone, else "local"
    subsec: bool  #: whether the time has sub-second precision
    lat_deg: float = float("nan")
    lon_deg: float = float("nan")
    alt_m: float = float("nan")
    alt_ref: AltRef = "unknown"
    rel_alt_m: float = float("nan")
    roll_deg: float = float("nan")
    pitch_deg: float = float("nan")
    yaw_deg: float = float("nan")
    gimbal_roll_deg: float = float("nan")
    gimbal_pitch_deg: float = float("nan")
    gimbal_yaw_deg: float = float("nan")
    speed_mps: float = float("nan")
    t_gps_utc_s: float = float("nan")  #: the EXIF GPS date + time stamp (receiver UTC)
    utc_offset_s: float = float("nan")  #: the zone the camera clock states, if any
    make: str = ""
    model: str = ""
    width_px: int = 0  #: pixels in this file
    height_px: int = 0
    exif_width_px: int = 0  #: size the camera wrote (calibration refers to it)
    exif_height_px: int = 0
    focal_length_mm: float = float("nan")
    focal_length_35mm: float = float("nan")
    calibrated_focal_px: float = float("nan")
    calibrated_cx_px: float = float("nan")
    calibrated_cy_px: float = float("nan")
    dewarp: tuple[float, ...] = ()  #: DJI DewarpData: fx, fy, cx-W/2, cy-H/2, k1, k2, p1, p2, k3
    dewarp_date: str = ""
    rtk_std_m: tuple[float, float, float] = (float("nan"),) * 3  #: lat, lon, height
    image_source: str = ""  #: DJI ImageSource (WideCamera, InfraredCamera, ...)
    xmp: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def looks_like_photo(head: bytes) -> bool:
    return head[:3] == b"\xff\xd8\xff" or head[:4] in (b"II*\x00", b"MM\x00*")


def _xmp(data: bytes) -> dict[str, str]:
    i = data.find(_XMP_START)
    if i < 0:
        return {}
    j = data.find(_XMP_END, i)
    text = data[i : j if j > 0 else len(data)].decode("utf-8", errors="replace")
    out = {f"{ns}:{k}": v.strip() for ns, k, v in _XMP_ATTR.findall(text)}
    out.update({f"{ns}:{k}": v.strip() for ns, k, v in _XMP_ELEM.findall(text)})
    return out


def _f(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def _rational_dms(v: Any) -> float:
    try:
        d, m, s = (float(x) for x in v)
    except (TypeError, ValueError):
        return float("nan")
    return d + m / 60 + s / 3600


def read_photo(path: str | Path, *, head_bytes: int = 1 << 20) -> PhotoMeta:
    """Read the pose, time and calibration a JPEG/TIFF photo carries.

    Raises
    ------
    TelemetryFormatError
        The file is not an image Pillow can open, or has no capture time at all.
    """
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    with p.open("rb") as fh:
        head = fh.read(head_bytes)
    warnings: list[str] = []
    try:
        with Image.open(p) as im:
            size = im.size
            exif = im.getexif()
            gdal = str(im.tag_v2.get(42112, "")) if im.format == "TIFF" else ""  # type: ignore[attr-defined]
            xmp_tiff = im.tag_v2.get(700) if im.format == "TIFF" else None  # type: ignore[attr-defined]
    except (UnidentifiedImageError, OSError) as exc:
        raise TelemetryFormatError(f"not a readable JPEG/TIFF image ({exc})", path=p) from exc
    xmp = _xmp(head)
    if not xmp and xmp_tiff is not None:
        xmp = _xmp(bytes(xmp_tiff) if not isinstance(xmp_tiff, bytes) else xmp_tiff)
    ifd0 = dict(exif)
    sub = dict(exif.get_ifd(0x8769))
    gps = dict(exif.get_ifd(0x8825))
    gd = dict(re.findall(r'<Item name="EXIF_(\w+)">([^<]*)</Item>', gdal)) if gdal else {}

    # time
    dto = sub.get(0x9003) or gd.get("DateTimeOriginal") or ifd0.get(0x0132) or ""
    parsed = parse_wall_clock(str(dto)) if dto else None
    if parsed is None:
        created = xmp.get("xmp:CreateDate", "")
        parsed = parse_wall_clock(created)
        if parsed is None:
            raise TelemetryFormatError(
                "no capture time: expected EXIF DateTimeOriginal or XMP CreateDate", path=p
            )
        warnings.append("no EXIF DateTimeOriginal: time from XMP CreateDate")
    t: float = parsed[0]
    zone: float | None = parsed[1]
    subsec_txt = str(sub.get(0x9291) or gd.get("SubSecTimeOriginal") or "").strip("\x00 ")
    subsec = bool(subsec_txt.isdigit())
    if subsec:
        t += int(subsec_txt) / 10 ** len(subsec_txt)
    off_txt = str(sub.get(0x9011) or "").strip("\x00 ")
    if zone is None and off_txt:
        z = parse_wall_clock(f"2000-01-01 00:00:00{off_txt}")
        zone = z[1] if z else None
        t -= zone or 0.0
    elif zone is None:
        made = parse_wall_clock(xmp.get("xmp:CreateDate", ""))
        if made and made[1] is not None and abs(made[0] + made[1] - t) < 1.0:
            zone = made[1]
            t -= zone
    time_base: TimeBase = "utc" if zone is not None else "local"

    # position: EXIF GPS, else DJI XMP, else GDAL EXIF text
    lat = _rational_dms(gps.get(2)) if 2 in gps else float("nan")
    lon = _rational_dms(gps.get(4)) if 4 in gps else float("nan")
    if str(gps.get(1, "N")).upper().startswith("S"):
        lat = -lat
    if str(gps.get(3, "E")).upper().startswith("W"):
        lon = -lon
    alt = _f(gps.get(6))
    if np.isfinite(alt) and gps.get(5) in (b"\x01", 1):
        alt = -alt
    alt_ref: AltRef = "msl" if np.isfinite(alt) else "unknown"
    xlat = parse_dms(xmp.get("drone-dji:GpsLatitude") or xmp.get("drone-dji:Latitude"))
    xlon = parse_dms(
        xmp.get("drone-dji:GpsLongitude")
        or xmp.get("drone-dji:GpsLongtitude")
        or xmp.get("drone-dji:Longitude")
    )
    if not np.isfinite(lat) and np.isfinite(xlat):
        lat, lon = xlat, xlon
    if not np.isfinite(lat) and "GPSLatitude" in gd:
        lat = parse_dms(_gdal_dms(gd["GPSLatitude"]), gd.get("GPSLatitudeRef"))
        lon = parse_dms(_gdal_dms(gd.get("GPSLongitude", "")), gd.get("GPSLongitudeRef"))
    abs_alt = _f(xmp.get("drone-dji:AbsoluteAltitude"))
    if np.isfinite(abs_alt):
        alt, alt_ref = abs_alt, "msl"
    elif not np.isfinite(alt) and "GPSAltitude" in gd:
        alt, alt_ref = _f(gd["GPSAltitude"].strip("()")), "msl"
    t_gps = float("nan")
    if 7 in gps and 29 in gps:
        hms = gps[7]
        day = parse_wall_clock(f"{gps[29]} 00:00:00")
        if day:
            t_gps = day[0] + float(hms[0]) * 3600 + float(hms[1]) * 60 + float(hms[2])
    if not np.isfinite(lat):
        warnings.append("no GPS position (EXIF GPS or drone-dji XMP)")

    def x(name: str) -> float:
        return _f(xmp.get(f"drone-dji:{name}"))

    vx, vy = x("FlightXSpeed"), x("FlightYSpeed")
    dewarp_txt = xmp.get("drone-dji:DewarpData", "")
    dewarp_date, _, dewarp_vals = dewarp_txt.strip().partition(";")
    dewarp = tuple(_f(v) for v in dewarp_vals.split(",")) if dewarp_vals else ()
    exif_w = int(_f(sub.get(0xA002) or gd.get("PixelXDimension") or size[0]))
    exif_h = int(_f(sub.get(0xA003) or gd.get("PixelYDimension") or size[1]))
    make = str(ifd0.get(0x010F) or xmp.get("tiff:Make") or gd.get("Make") or "").strip("\x00 ")
    model = str(ifd0.get(0x0110) or xmp.get("tiff:Model") or gd.get("Model") or "").strip("\x00 ")
    return PhotoMeta(
        path=str(p),
        t_s=t,
        time_base=time_base,
        subsec=subsec,
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt,
        alt_ref=alt_ref,
        rel_alt_m=x("RelativeAltitude"),
        roll_deg=x("FlightRollDegree"),
        pitch_deg=x("FlightPitchDegree"),
        yaw_deg=x("FlightYawDegree"),
        gimbal_roll_deg=x("GimbalRollDegree"),
        gimbal_pitch_deg=x("GimbalPitchDegree"),
        gimbal_yaw_deg=x("GimbalYawDegree"),
        speed_mps=float(np.hypot(vx, vy)),
        t_gps_utc_s=t_gps,
        utc_offset_s=float("nan") if zone is None else float(zone),
        make=make,
        model=model,
        width_px=int(size[0]),
        height_px=int(size[1]),
        exif_width_px=exif_w,
        exif_height_px=exif_h,
        focal_length_mm=_f(sub.get(0x920A) or gd.get("FocalLength", "").strip("()")),
        focal_length_35mm=_f(sub.get(0xA405) or gd.get("FocalLengthIn35mmFilm")),
        calibrated_focal_px=x("CalibratedFocalLength"),
        calibrated_cx_px=x("CalibratedOpticalCenterX"),
        calibrated_cy_px=x("CalibratedOpticalCenterY"),
        dewarp=dewarp,
        dewarp_date=dewarp_date.strip(),
        rtk_std_m=(x("RtkStdLat"), x("RtkStdLon"), x("RtkStdHgt")),
        image_source=xmp.get("drone-dji:ImageSource", ""),
        xmp={k: v for k, v in xmp.items() if k.startswith("drone-dji:")},
        warnings=tuple(warnings),
    )


def _gdal_dms(text: str) -> str:
    """``(24) (40) (49.0009)`` -> ``24 deg 40' 49.0009"``."""
    parts = re.findall(r"\(([^)]*)\)", text)
    if len(parts) == 3:
        return f"{parts[0]} deg {parts[1]}' {parts[2]}\""
    return text


def photos_to_track(photos: Sequence[PhotoMeta], *, source: str = "") -> PoseTrack:
    """One sample per photo, in time order; ``extra["file"]`` names each photo.

    Photos whose clocks disagree on the zone (some UTC, some local) are an error: convert them
    first. Photos without a position are kept, flagged ``NO_POSITION``.
    """
    if not photos:
        raise TelemetryFormatError("no photos given", path=source)
    bases = {ph.time_base for ph in photos}
    if len(bases) > 1:
        raise TelemetryFormatError(
            "photos mix UTC and local time stamps (some state their zone, some do not)",
            path=source,
        )
    order = sorted(range(len(photos)), key=lambda i: (photos[i].t_s, photos[i].path))
    ph = [photos[i] for i in order]

    def col(name: str) -> np.ndarray:
        return np.array([getattr(p, name) for p in ph], np.float64)

    lat, lon = col("lat_deg"), col("lon_deg")
    flags = np.zeros(len(ph), np.uint16)
    flags[~(np.isfinite(lat) & np.isfinite(lon))] |= np.uint16(SampleFlag.NO_POSITION)
    refs = {p.alt_ref for p in ph if np.isfinite(p.alt_m)}
    has_gimbal = bool(np.isfinite(col("gimbal_pitch_deg")).any())
    warnings = []
    if not all(p.subsec for p in ph):
        warnings.append("photo times have 1 s resolution (no SubSecTimeOriginal)")
    return PoseTrack.build(
        col("t_s"),
        lat_deg=lat,
        lon_deg=lon,
        alt_m=col("alt_m"),
        rel_alt_m=col("rel_alt_m"),
        roll_deg=col("roll_deg"),
        pitch_deg=col("pitch_deg"),
        yaw_deg=col("yaw_deg"),
        gimbal_roll_deg=col("gimbal_roll_deg") if has_gimbal else None,
        gimbal_pitch_deg=col("gimbal_pitch_deg") if has_gimbal else None,
        gimbal_yaw_deg=col("gimbal_yaw_deg") if has_gimbal else None,
        gimbal_mode="absolute" if has_gimbal else "none",
        speed_mps=col("speed_mps"),
        flags=flags,
        alt_ref=refs.pop() if len(refs) == 1 else "unknown",
        time_base=ph[0].time_base,
        kind="photos",
        source=source,
        warnings=warnings,
        extra={"file": np.array([Path(p.path).name for p in ph])},
    )


def read_photos(paths: Iterable[str | Path], *, source: str = "") -> PoseTrack:
    """Read many photos into one track (see :func:`photos_to_track`)."""
    return photos_to_track([read_photo(p) for p in paths], source=source)
