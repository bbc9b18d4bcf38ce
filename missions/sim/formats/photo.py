"""DJI-style JPEG photos: EXIF (camera, time with sub-seconds and UTC offset, GPS) and the DJI
XMP packet (``drone-dji:`` GPS, altitudes, absolute gimbal and flight angles, speeds, RTK
status, calibration, laser range finder), laid out as DJI enterprise cameras write them.

Examples
--------
>>> import tempfile, os, numpy as np
>>> meta = PhotoMeta(camera_time_s=1718184600.25, utc_offset_h=2.0, lat_deg=48.2, lon_deg=15.6,
...                  alt_msl_m=300.0, rel_alt_m=25.0, gimbal_ypr_deg=(10.0, -90.0, 0.0),
...                  flight_ypr_deg=(10.0, -5.0, 1.0), speed_ned_m_s=(4.0, 0.5, 0.0),
...                  make="DJI", model="M30T", focal_length_mm=4.5, focal_35mm=24,
...                  fnumber=2.8, width_px=64, height_px=48)
>>> path = os.path.join(tempfile.mkdtemp(), "DJI_0001_W.JPG")
>>> _ = write_dji_jpeg(path, np.zeros((48, 64, 3), np.uint8), meta)
>>> from PIL import Image
>>> ex = Image.open(path).getexif()
>>> ex[0x0110], ex.get_ifd(0x8769)[0x9003], ex.get_ifd(0x8769)[0x9291]
('M30T', '2024:06:12 11:30:00', '250')
>>> b'drone-dji:GimbalPitchDegree="-90.00"' in open(path, "rb").read()
True
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["PhotoMeta", "camera_datetime", "insert_app1_xmp", "write_dji_jpeg"]

XMP_ID = b"http://ns.adobe.com/xap/1.0/\x00"


@dataclass(frozen=True)
class PhotoMeta:
    """What a DJI camera writes into a photo (logged values, camera clock)."""

    camera_time_s: float  # POSIX seconds of the camera clock (UTC + clock offset)
    utc_offset_h: float  # the camera's local-time zone (written as OffsetTimeOriginal)
    lat_deg: float
    lon_deg: float
    alt_msl_m: float
    rel_alt_m: float
    gimbal_ypr_deg: tuple[float, float, float]
    flight_ypr_deg: tuple[float, float, float]
    speed_ned_m_s: tuple[float, float, float]
    make: str
    model: str
    focal_length_mm: float
    focal_35mm: float
    fnumber: float
    width_px: int
    height_px: int
    exposure_s: float = 1 / 1000
    iso: int = 100
    image_source: str = "WideCamera"
    rtk: bool = False
    rtk_std_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    calibration: tuple[float, ...] | None = None  # fx, fy, cx, cy, k1, k2, p1, p2, k3
    lrf: tuple[float, float, float, float, float] | None = None  # dist, lon, lat, rel alt, abs alt
    software: str = "railpipe-survey simulator"
    extra_xmp: dict[str, str] = field(default_factory=dict)


def camera_datetime(camera_time_s: float, utc_offset_h: float) -> _dt.datetime:
    """The camera's local wall-clock time for a camera-clock POSIX time."""
    tz = _dt.timezone(_dt.timedelta(hours=utc_offset_h))
    return _dt.datetime.fromtimestamp(camera_time_s, tz)


def _offset_text(utc_offset_h: float) -> str:
    m = int(round(utc_offset_h * 60))
    sign = "+" if m >= 0 else "-"
    return f"{sign}{abs(m) // 60:02d}:{abs(m) % 60:02d}"


def _dms(value: float) -> tuple[Fraction, Fraction, Fraction]:
    v = abs(value)
    d = int(v)
    m = int((v - d) * 60)
    s = (v - d - m / 60) * 3600
    return Fraction(d, 1), Fraction(m, 1), Fraction(int(round(s * 10000)), 10000)


def _signed(v: float, nd: int) -> str:
    return f"{v:+.{nd}f}"


def build_xmp(meta: PhotoMeta) -> bytes:
    """The DJI XMP packet (``drone-dji`` namespace)."""
    t = camera_datetime(meta.camera_time_s, meta.utc_offset_h)
    stamp = t.strftime("%Y-%m-%dT%H:%M:%S") + _offset_text(meta.utc_offset_h)
    gy, gp, gr = meta.gimbal_ypr_deg
    fy, fp, fr = meta.flight_ypr_deg
    vn, ve, vd = meta.speed_ned_m_s
    attrs = {
        "xmp:ModifyDate": stamp,
        "xmp:CreateDate": stamp,
        "tiff:Make": meta.make,
        "tiff:Model": meta.model,
        "dc:format": "image/jpg",
        "drone-dji:Version": "1.6",
        "drone-dji:ImageSource": meta.image_source,
        "drone-dji:GpsStatus": "RTK" if meta.rtk else "Normal",
        "drone-dji:AltitudeType": "RtkAlt" if meta.rtk else "GpsFusionAlt",
        "drone-dji:GpsLatitude": f"{meta.lat_deg:+.8f}",
        "drone-dji:GpsLongitude": f"{meta.lon_deg:+.8f}",
        "drone-dji:AbsoluteAltitude": _signed(meta.alt_msl_m, 3),
        "drone-dji:RelativeAltitude": _signed(meta.rel_alt_m, 3),
        "drone-dji:GimbalRollDegree": _signed(gr, 2),
        "drone-dji:GimbalYawDegree": _signed(gy, 2),
        "drone-dji:GimbalPitchDegree": _signed(gp, 2),
        "drone-dji:FlightRollDegree": _signed(fr, 2),
        "drone-dji:FlightYawDegree": _signed(fy, 2),
        "drone-dji:FlightPitchDegree": _signed(fp, 2),
        "drone-dji:FlightXSpeed": f"{vn:.2f}",
        "drone-dji:FlightYSpeed": f"{ve:.2f}",
        "drone-dji:FlightZSpeed": f"{vd:.2f}",
        "drone-dji:CamReverse": "0",
        "drone-dji:GimbalReverse": "0",
        "drone-dji:SelfData": "",
        "drone-dji:RtkFlag": "50" if meta.rtk else "16",
        "drone-dji:RtkStdLon": f"{meta.rtk_std_m[0]:.5f}",
        "drone-dji:RtkStdLat": f"{meta.rtk_std_m[1]:.5f}",
        "drone-dji:RtkStdHgt": f"{meta.rtk_std_m[2]:.5f}",
    }
    if meta.calibration is not None:
        fx, fy_, cx, cy, *dist = meta.calibration
        attrs["drone-dji:CalibratedFocalLength"] = f"{fx:.6f}"
        attrs["drone-dji:CalibratedOpticalCenterX"] = f"{cx:.6f}"
        attrs["drone-dji:CalibratedOpticalCenterY"] = f"{cy:.6f}"
        date = t.strftime("%Y-%m-%d")
        vals = [fx, fy_, cx - meta.width_px / 2, cy - meta.height_px / 2, *dist]
        attrs["drone-dji:DewarpData"] = f"{date};" + ",".join(f"{v:.12f}" for v in vals)
        attrs["drone-dji:DewarpFlag"] = "0"
    if meta.lrf is not None:
        dist_m, lon, lat, rel, absalt = meta.lrf
        attrs["drone-dji:LRFStatus"] = "Normal"
        attrs["drone-dji:LRFTargetDistance"] = f"{dist_m:.3f}"
        attrs["drone-dji:LRFTargetLon"] = f"{lon:.7f}"
        attrs["drone-dji:LRFTargetLat"] = f"{lat:.7f}"
        attrs["drone-dji:LRFTargetAlt"] = f"{rel:.3f}"
        attrs["drone-dji:LRFTargetAbsAlt"] = f"{absalt:.3f}"
    attrs.update(meta.extra_xmp)
    body = "\n".join(f'   {k}="{_xml_escape(v)}"' for k, v in attrs.items())
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about="DJI Meta Data"\n'
        '    xmlns:tiff="http://ns.adobe.com/tiff/1.0/"\n'
        '    xmlns:exif="http://ns.adobe.com/exif/1.0/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/"\n'
        f"{body}>\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n" + (" " * 99 + "\n") * 10 + '<?xpacket end="w"?>'
    )
    return packet.encode("utf-8")


def _xml_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def build_exif(meta: PhotoMeta) -> bytes:
    """EXIF block (TIFF bytes, PIL) with camera, time and GPS tags."""
    from PIL import Image
    from PIL.TiffImagePlugin import IFDRational

    t = camera_datetime(meta.camera_time_s, meta.utc_offset_h)
    ex = Image.Exif()
    ex[0x010F] = meta.make
    ex[0x0110] = meta.model
    ex[0x0112] = 1
    ex[0x0131] = meta.software
    ex[0x0132] = t.strftime("%Y:%m:%d %H:%M:%S")
    ex[0x010E] = "default"
    sub: dict[int, object] = {}
    sub[0x9003] = t.strftime("%Y:%m:%d %H:%M:%S")  # DateTimeOriginal
    sub[0x9004] = t.strftime("%Y:%m:%d %H:%M:%S")  # CreateDate
    ms = f"{int(round(t.microsecond / 1000)) % 1000:03d}"
    sub[0x9291] = ms  # SubSecTimeOriginal
    sub[0x9292] = ms  # SubSecTimeDigitized
    sub[0x9011] = _offset_text(meta.utc_offset_h)  # OffsetTimeOriginal
    sub[0x9010] = _offset_text(meta.utc_offset_h)  # OffsetTime
    sub[0x829A] = IFDRational(Fraction(meta.exposure_s).limit_denominator(100000))
    sub[0x829D] = IFDRational(Fraction(meta.fnumber).limit_denominator(100))
    sub[0x8827] = meta.iso
    sub[0x920A] = IFDRational(Fraction(meta.focal_length_mm).limit_denominator(1000))
    sub[0xA405] = int(round(meta.focal_35mm))
    sub[0xA002] = meta.width_px
    sub[0xA003] = meta.height_px
    sub[0x9000] = b"0230"
    gps: dict[int, object] = {}
    gps[0x0000] = b"\x02\x03\x00\x00"
    gps[0x0001] = "N" if meta.lat_deg >= 0 else "S"
    gps[0x0002] = tuple(IFDRational(f) for f in _dms(meta.lat_deg))
    gps[0x0003] = "E" if meta.lon_deg >= 0 else "W"
    gps[0x0004] = tuple(IFDRational(f) for f in _dms(meta.lon_deg))
    gps[0x0005] = 0 if meta.alt_msl_m >= 0 else 1
    gps[0x0006] = IFDRational(Fraction(abs(meta.alt_msl_m)).limit_denominator(1000))
    gps[0x0009] = "A"
    gps[0x0012] = "WGS-84"
    ex[0x8769] = sub
    ex[0x8825] = gps
    return ex.tobytes()


def insert_app1_xmp(jpeg: bytes, xmp: bytes) -> bytes:
    """Insert an XMP APP1 segment after the JPEG's leading APP segments (EXIF first)."""
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG (no SOI marker)")
    payload = XMP_ID + xmp
    if len(payload) + 2 > 0xFFFF:
        raise ValueError("XMP packet too large for one APP1 segment")
    seg = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    pos = 2
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF and 0xE0 <= jpeg[pos + 1] <= 0xEF:
        pos += 2 + int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
    return jpeg[:pos] + seg + jpeg[pos:]


def write_dji_jpeg(
    path: str | os.PathLike[str], bgr: NDArray[np.uint8], meta: PhotoMeta, quality: int = 92
) -> Path:
    """Encode ``bgr`` as JPEG with DJI EXIF and XMP; written atomically."""
    from PIL import Image

    img = Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    import io

    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, exif=build_exif(meta), subsampling=2)
    data = insert_app1_xmp(buf.getvalue(), build_xmp(meta))
    out = Path(path)
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    return out
