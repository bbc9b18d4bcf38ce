"""Radiometric JPEGs: FLIR R-JPEG (and DJI's FLIR-core XT2) reading, and writing.

Reading never decodes the visible preview: it walks the header segments, joins the APP1
``FLIR`` chunks into the FFF blob and decodes the raw counts and the camera-info calibration
from it (:mod:`thermal.fff`); EXIF and DJI XMP give time, position and gimbal angles.

DJI's own radiometric format ("DTAT3.0": H20T, M30T, M3T, M2EA, XT S) keeps the counts in
APP3 segments and the calibration in an undocumented APP4 blob; see :mod:`thermal.dji`.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from thermal.errors import NotRadiometricError, ThermalFileNotFoundError, ThermalFormatError
from thermal.flir import camera_info_from_calibration, frame_from_fff
from thermal.frame import Attitude, GpsFix, ThermalFrame
from thermal.jpeg import (
    EXIF_ID,
    XMP_ID,
    find_payload,
    flir_fff,
    flir_segments,
    read_segments,
    segments_to_jpeg,
)
from thermal.metadata import attitudes_from_xmp, build_exif, build_xmp, parse_exif, parse_xmp
from thermal.radiometry import PlanckCalibration, raw_to_temperature

__all__ = ["read_rjpeg", "write_flir_rjpeg"]


def _read_bytes(path: str | os.PathLike[str]) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise ThermalFileNotFoundError("no such file", path=path) from exc
    except IsADirectoryError as exc:
        raise ThermalFormatError("is a folder, expected a thermal image file", path=path) from exc


def read_rjpeg(path: str | os.PathLike[str], data: bytes | None = None) -> ThermalFrame:
    """Read a FLIR radiometric JPEG (FLIR handhelds, Vue Pro R, Duo R, DJI XT2).

    Raises
    ------
    NotRadiometricError
        A JPEG without radiometric data (a plain photo, a colour-only thermal JPEG).
    UnsupportedCameraError
        A DJI "DTAT3.0" R-JPEG when no decoder for it is installed (see :mod:`thermal.dji`).
    ThermalFormatError
        Truncated or corrupt file (the message names the offset).
    """
    src = str(path)
    buf = _read_bytes(path) if data is None else data
    segs = read_segments(buf, path=src)
    exif_blob = find_payload(segs, 0xE1, EXIF_ID)
    exif = parse_exif(b"Exif\0\0" + exif_blob if exif_blob is not None else None)
    fff = flir_fff(segs, path=src)
    if fff is None:
        from thermal.dji import dji_thermal_kind, read_dji_dtat

        kind = dji_thermal_kind(segs, exif)
        if kind is not None:
            return read_dji_dtat(src, buf, segs, exif, kind)
        who = " ".join(x for x in (exif["make"], exif["model"]) if x) or "unknown camera"
        raise NotRadiometricError(
            f"a JPEG ({who}) without radiometric data: no FLIR APP1 'FLIR' segments and no DJI "
            "thermal segments, so its pixels are colours, not temperatures",
            path=src,
        )
    is_dji = exif["make"].upper().startswith("DJI")
    frame, _ = frame_from_fff(
        fff, source=src, format="dji-flir-rjpeg" if is_dji else "flir-rjpeg", where="APP1 FLIR FFF"
    )
    xmp = parse_xmp(find_payload(segs, 0xE1, XMP_ID))
    gimbal, flight = attitudes_from_xmp(xmp)
    gps: GpsFix | None = exif["gps"]
    lat, lon = xmp.get("GpsLatitude"), xmp.get("GpsLongitude") or xmp.get("GpsLongtitude")
    abs_alt, rel_alt = xmp.get("AbsoluteAltitude"), xmp.get("RelativeAltitude")
    try:
        if gps is None and lat and lon:
            gps = GpsFix(float(lat), float(lon), float(abs_alt) if abs_alt else None, "msl")
        if gps is not None and (abs_alt or rel_alt):
            gps = GpsFix(
                gps.lat_deg,
                gps.lon_deg,
                float(abs_alt) if abs_alt else gps.alt_m,
                "msl",
                float(rel_alt) if rel_alt else None,
            )
    except ValueError:
        frame = frame.replace(
            warnings=(*frame.warnings, "DJI XMP position fields are not numbers; ignored")
        )
    make = exif["make"] or frame.camera_make
    model = frame.camera_model or exif["model"]
    if is_dji and exif["model"]:
        model = (
            f"{exif['model']}"
            if not frame.camera_model
            else f"{exif['model']} ({frame.camera_model})"
        )
    return frame.replace(
        camera_make=make,
        camera_model=model,
        datetime_utc_s=frame.datetime_utc_s
        if frame.datetime_utc_s is not None
        else exif["datetime_utc_s"],
        gps=gps,
        gimbal=gimbal,
        flight=flight,
        focal_length_mm=exif.get("focal_length_mm"),
        metadata={**frame.metadata, **({"xmp": xmp} if xmp else {})},
    )


def _as_gps(gps: GpsFix | tuple[float, ...] | None) -> GpsFix | None:
    if gps is None or isinstance(gps, GpsFix):
        return gps
    return GpsFix(*gps)  # type: ignore[arg-type]


def _as_attitude(a: Attitude | tuple[float, float, float] | None) -> Attitude | None:
    if a is None or isinstance(a, Attitude):
        return a
    return Attitude(*a)


def _as_posix(t: float | _dt.datetime | None) -> float | None:
    if t is None or isinstance(t, int | float):
        return None if t is None else float(t)
    if t.tzinfo is None:
        raise ValueError("datetime_utc must be timezone-aware (or POSIX seconds)")
    return calendar.timegm(t.utctimetuple()) + t.microsecond / 1e6


def write_flir_rjpeg(
    path: str | os.PathLike[str],
    raw_uint16: ArrayLike,
    cal: PlanckCalibration,
    *,
    camera_model: str = "FLIR Tau 2 640 (simulated)",
    camera_make: str = "FLIR Systems AB",
    datetime_utc: float | _dt.datetime | None = None,
    gps: GpsFix | tuple[float, ...] | None = None,
    gimbal: Attitude | tuple[float, float, float] | None = None,
    flight: Attitude | tuple[float, float, float] | None = None,
    focal_length_mm: float | None = None,
    field_of_view_deg: float | None = None,
    camera_range_c: tuple[float, float] = (-25.0, 135.0),
    lens_model: str = "",
    raw_format: str = "raw",
    preview: NDArray[np.uint8] | None = None,
    palette: str = "inferno",
    quality: int = 90,
) -> Path:
    """Write a FLIR-style radiometric JPEG that FLIR tools, exiftool and :func:`read_thermal` read.

    Parameters
    ----------
    path : path-like
        Output file (``.jpg``).
    raw_uint16 : array_like, shape (H, W)
        Raw counts (e.g. ``np.round(temperature_to_raw(T, cal))`` clipped to uint16).
    cal : PlanckCalibration
        Calibration and object parameters stored in the camera-info record.
    camera_model, camera_make, lens_model : str
        Identity written to EXIF, XMP and the camera-info record.
    datetime_utc : float or aware datetime, optional
        Capture time (POSIX seconds UTC), written to EXIF (with offset +00:00) and FFF.
    gps : GpsFix or (lat, lon[, alt_m[, alt_ref[, rel_alt_m]]]), optional
        Position; EXIF GPS plus DJI XMP ``GpsLatitude/Longitude``, ``AbsoluteAltitude``,
        ``RelativeAltitude``.
    gimbal, flight : Attitude or (yaw, pitch, roll) degrees, optional
        Absolute gimbal and airframe attitude, written as DJI XMP ``drone-dji:Gimbal*Degree``
        and ``Flight*Degree``.
    focal_length_mm, field_of_view_deg : float, optional
        Lens data (EXIF FocalLength, FLIR FieldOfView).
    camera_range_c : (float, float)
        The calibrated range recorded in the camera-info record.
    raw_format : {"raw", "png"}
        How counts are stored: 16-bit little endian (like the XT2) or byte-swapped PNG (like
        FLIR handhelds).
    preview : ndarray (H', W', 3) uint8 BGR, optional
        The visible image; by default a false-colour rendering of the temperatures.
    palette : str
        Palette of the default preview.
    quality : int
        JPEG quality of the preview.

    Returns
    -------
    Path
        ``path``.
    """
    import cv2

    from thermal.palette import colorize

    raw = np.asarray(raw_uint16)
    if raw.ndim != 2 or raw.shape[0] < 2 or raw.shape[1] < 2:
        raise ValueError(f"raw_uint16 must be a 2-D frame, got shape {raw.shape}")
    if raw.dtype != np.uint16:
        if np.any(raw < 0) or np.any(raw > 65535) or not np.all(np.isfinite(raw)):
            raise ValueError("raw counts must lie in 0..65535 (round and clip to uint16 first)")
        raw = np.round(raw).astype(np.uint16)
    t_posix = _as_posix(datetime_utc)
    g = _as_gps(gps)
    gimb, fl = _as_attitude(gimbal), _as_attitude(flight)
    info: dict[str, Any] = camera_info_from_calibration(cal)
    info.update(
        camera_model=camera_model,
        lens_model=lens_model,
        range_min_k=camera_range_c[0] + 273.15,
        range_max_k=camera_range_c[1] + 273.15,
        min_warn_k=camera_range_c[0] + 273.15,
        max_warn_k=camera_range_c[1] + 273.15,
        min_clip_k=camera_range_c[0] + 273.15 - 35.0,
        max_clip_k=camera_range_c[1] + 273.15 + 15.0,
        min_saturated_k=camera_range_c[0] + 273.15 - 35.0,
        max_saturated_k=camera_range_c[1] + 273.15 + 15.0,
        datetime_utc_s=t_posix,
    )
    if field_of_view_deg is not None:
        info["field_of_view_deg"] = field_of_view_deg
    from thermal.fff import build_fff

    fff = build_fff(raw, info, raw_format=raw_format)
    if preview is None:
        preview = colorize(raw_to_temperature(raw, cal), palette=palette)
    ok, jpg = cv2.imencode(".jpg", preview, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding of the preview failed")
    h, w = raw.shape
    exif = build_exif(
        make=camera_make,
        model=camera_model,
        datetime_utc_s=t_posix,
        gps=g,
        focal_length_mm=focal_length_mm,
        width=w,
        height=h,
    )
    segments: list[tuple[int, bytes]] = [(0xE1, exif)]
    if g is not None or gimb is not None or fl is not None:
        xmp = build_xmp(gps=g, gimbal=gimb, flight=fl, make=camera_make, model=camera_model)
        segments.append((0xE1, XMP_ID + xmp))
    segments += flir_segments(fff)
    out = Path(path)
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(segments_to_jpeg(jpg.tobytes(), segments))
    os.replace(tmp, out)
    return out
