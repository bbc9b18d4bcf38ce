"""Radiometric 16-bit TIFF from FLIR Tau 2 / Boson cores (Duo Pro R, Vue Pro R, TeAx ThermalCapture).

With TLinear on, these cores output counts linear in scene temperature: ``T_K = counts * s``
with ``s = 0.04`` K/count (low-resolution mode, the usual one on drones) or ``0.01`` K/count
(high-resolution mode). The file does not say which; we infer it from the counts (only one of
the two gives terrestrial temperatures: 6,994 counts are 6.6 degC at 0.04 and 70 K at 0.01)
and record that in the frame's metadata. Pass ``kelvin_per_count`` to fix it.
"""

from __future__ import annotations

import calendar
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from thermal.errors import NotRadiometricError, ThermalFileNotFoundError, ThermalFormatError
from thermal.frame import GpsFix, LinearCalibration, ThermalFrame
from thermal.metadata import attitudes_from_xmp, parse_xmp

__all__ = ["read_radiometric_tiff"]

_PLAUSIBLE_K = (180.0, 700.0)


def _infer_scale(median: float) -> float | None:
    for s in (0.04, 0.01):
        if _PLAUSIBLE_K[0] <= median * s <= _PLAUSIBLE_K[1]:
            return s
    return None


def _gps(tag: dict[str, Any]) -> GpsFix | None:
    def dms(v: tuple[int, ...]) -> float:
        d = [v[i] / v[i + 1] for i in range(0, len(v), 2)]
        return d[0] + d[1] / 60.0 + d[2] / 3600.0

    try:
        lat = dms(tag["GPSLatitude"]) * (-1 if tag.get("GPSLatitudeRef", "N") == "S" else 1)
        lon = dms(tag["GPSLongitude"]) * (-1 if tag.get("GPSLongitudeRef", "E") == "W" else 1)
    except (KeyError, IndexError, ZeroDivisionError, TypeError):
        return None
    alt = tag.get("GPSAltitude")
    alt_m = alt[0] / alt[1] if isinstance(alt, tuple) and len(alt) == 2 and alt[1] else None
    if alt_m is not None and tag.get("GPSAltitudeRef") in (1, b"\x01"):
        alt_m = -alt_m
    return GpsFix(lat, lon, alt_m, "msl")


def read_radiometric_tiff(
    path: str | os.PathLike[str], *, kelvin_per_count: float | None = None
) -> ThermalFrame:
    """Read a 16-bit radiometric (TLinear) TIFF.

    Raises
    ------
    NotRadiometricError
        An 8-bit or colour TIFF (a rendered image), or counts that no TLinear scale maps to
        terrestrial temperatures.
    ThermalFormatError
        Unreadable TIFF.
    """
    import tifffile

    src = str(path)
    if not Path(path).exists():
        raise ThermalFileNotFoundError("no such file", path=path)
    try:
        with tifffile.TiffFile(path) as tf:
            page = tf.pages[0]
            raw = page.asarray()
            tags = {t.name: t.value for t in tf.pages.first.tags.values()}
    except Exception as exc:  # tifffile and imagecodecs raise many types on a damaged file
        raise ThermalFormatError(
            f"unreadable TIFF ({type(exc).__name__}: {exc}); expected a 16-bit radiometric TIFF",
            path=src,
            where="TIFF IFD0",
        ) from exc
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise NotRadiometricError(
            f"a {raw.dtype} TIFF of shape {raw.shape}: radiometric TIFFs are single-channel 16-bit "
            "(TLinear counts); this one holds rendered colours",
            path=src,
            where="TIFF IFD0",
        )
    xmp_raw = tags.get("XMP", b"")
    xmp_bytes = xmp_raw if isinstance(xmp_raw, bytes) else str(xmp_raw).encode()
    warnings: list[str] = []
    median = float(np.median(raw[::4, ::4]))
    scale = kelvin_per_count
    if scale is None:
        scale = _infer_scale(median)
        if scale is None:
            raise NotRadiometricError(
                f"16-bit TIFF whose median count {median:.0f} is not TLinear at 0.04 or 0.01 K/count "
                "(no terrestrial temperature); pass kelvin_per_count if you know the scale",
                path=src,
                where="TIFF IFD0",
            )
        warnings.append(f"TLinear scale inferred from the counts: {scale} K/count")
    exif = tags.get("ExifTag", {}) or {}
    t_utc = None
    dt = exif.get("DateTimeOriginal") if isinstance(exif, dict) else None
    if dt and isinstance(exif, dict) and exif.get("OffsetTimeOriginal"):
        m = re.fullmatch(r"([+-])(\d\d):(\d\d)", str(exif["OffsetTimeOriginal"]))
        if m:
            base = calendar.timegm(time.strptime(str(dt), "%Y:%m:%d %H:%M:%S"))
            t_utc = base - (1 if m.group(1) == "+" else -1) * (
                int(m.group(2)) * 3600 + int(m.group(3)) * 60
            )
    model = ""
    mm = re.search(rb"(?i)cameraModel(?:>|\s*=\s*[\"'])([^<\"']+)", xmp_bytes)
    if mm:
        model = mm.group(1).decode("utf-8", "replace")
    model = model or str(tags.get("Model", "") or "")
    dji = parse_xmp(xmp_bytes)
    gimbal, flight = attitudes_from_xmp(dji)
    gps = _gps(tags["GPSTag"]) if isinstance(tags.get("GPSTag"), dict) else None
    return ThermalFrame(
        raw=np.ascontiguousarray(raw),
        calibration=LinearCalibration(kelvin_per_count=scale),
        source=src,
        format="tiff-tlinear",
        camera_make=str(tags.get("Make", "") or ("FLIR" if model else "")),
        camera_model=model,
        datetime_utc_s=t_utc,
        gps=gps,
        gimbal=gimbal,
        flight=flight,
        metadata={
            "kelvin_per_count": scale,
            "datetime_local": str(dt) if dt else None,
            "camera_serial_number": tags.get("CameraSerialNumber"),
        },
        warnings=tuple(warnings),
    )
