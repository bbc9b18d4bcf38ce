"""``survey inspect`` for thermal files: camera, size, calibration, temperature range, warnings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

__all__ = ["describe_thermal"]


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="milliseconds")


def _calibration(cal: Any) -> dict[str, Any]:
    import dataclasses

    from thermal import PlanckCalibration

    if isinstance(cal, PlanckCalibration):
        return {f.name: getattr(cal, f.name) for f in dataclasses.fields(cal)}
    return {"kind": "TLinear", "kelvin_per_count": cal.kelvin_per_count}


def _frame_summary(frame: Any) -> dict[str, Any]:
    import numpy as np

    t = frame.temperature_c()
    finite = t[np.isfinite(t)]
    q = np.percentile(finite, [0, 1, 50, 99, 100]) if finite.size else [float("nan")] * 5
    out: dict[str, Any] = {
        "format": frame.format,
        "camera": " ".join(x for x in (frame.camera_make, frame.camera_model) if x) or "unknown",
        "size": f"{frame.width}x{frame.height}",
        "raw_range": f"{int(frame.raw.min())}..{int(frame.raw.max())}",
        "temperature_c": {
            "min": round(float(q[0]), 2),
            "p1": round(float(q[1]), 2),
            "median": round(float(q[2]), 2),
            "p99": round(float(q[3]), 2),
            "max": round(float(q[4]), 2),
        },
        "calibration": _calibration(frame.calibration),
    }
    if frame.lens_model:
        out["lens"] = frame.lens_model
    if frame.camera_range_c:
        out["camera_range_c"] = list(frame.camera_range_c)
    if frame.datetime_utc_s is not None:
        out["time_utc"] = _iso(frame.datetime_utc_s)
    if frame.gps is not None:
        g = frame.gps
        out["gps"] = {
            "lat_deg": g.lat_deg,
            "lon_deg": g.lon_deg,
            "alt_m": g.alt_m,
            "alt_ref": g.alt_ref,
        }
        if g.rel_alt_m is not None:
            out["gps"]["rel_alt_m"] = g.rel_alt_m
    for name in ("gimbal", "flight"):
        a = getattr(frame, name)
        if a is not None:
            out[name] = {"yaw_deg": a.yaw_deg, "pitch_deg": a.pitch_deg, "roll_deg": a.roll_deg}
    return out


_THERMAL_MAKERS = (
    "flir",
    "infiray",
    "infisense",
    "hikmicro",
    "seek",
    "workswell",
    "teledyne",
    "guide",
)


def _thermal_make(path: Path) -> bool:
    """Whether a JPEG's EXIF make/model names a thermal-camera maker."""
    from thermal.jpeg import EXIF_ID, find_payload, read_segments
    from thermal.metadata import parse_exif

    segs = read_segments(path.read_bytes(), path=str(path))
    blob = find_payload(segs, 0xE1, EXIF_ID)
    exif = parse_exif(b"Exif\0\0" + blob if blob is not None else None)
    who = f"{exif['make']} {exif['model']}".lower()
    return any(m in who for m in _THERMAL_MAKERS)


def describe_thermal(path: Path) -> dict[str, Any] | None:
    """Describe a radiometric thermal file; None when ``path`` is not a thermal file.

    Non-radiometric thermal media (FLIR video, colour-only thermal JPEGs) and radiometric files
    we cannot convert (DJI DTAT3.0, FPF exports) are described with the reason as a warning.
    """
    from thermal import (
        NotRadiometricError,
        ThermalError,
        UnsupportedCameraError,
        iter_frames,
        sniff,
    )

    p = Path(path)
    if not p.is_file():
        return None
    kind = sniff(p)
    if kind in ("unknown", "png"):
        return None
    if kind == "video":
        with p.open("rb") as fh:
            head = fh.read(1 << 16)
            fh.seek(max(0, p.stat().st_size - (1 << 16)))
            tail = fh.read()
        if b"FLIR" not in head and b"FLIR" not in tail:
            return None  # an ordinary video: another describer's business
    if kind == "tiff":
        import tifffile

        try:
            with tifffile.TiffFile(p) as tf:
                page = tf.pages.first
                if page.dtype is None or page.dtype.itemsize != 2 or page.samplesperpixel != 1:
                    return None  # an ordinary photo or raster
        except Exception:  # tifffile raises many types on a damaged file: not ours to describe
            return None
    try:
        frames = iter_frames(p)
        first = next(frames)
    except NotRadiometricError as exc:
        if kind == "jpeg" and "without radiometric data" in exc.message and not _thermal_make(p):
            return None  # a plain photo: another describer's business
        return {"kind": "thermal (not radiometric)", "warnings": [exc.message]}
    except UnsupportedCameraError as exc:
        return {"kind": "thermal (radiometric, unsupported)", "warnings": [exc.message]}
    except ThermalError as exc:
        return {"kind": "thermal (unreadable)", "readable": False, "error": str(exc),
                "warnings": [str(exc)]}  # fmt: skip
    summary: dict[str, Any] = {
        "kind": "thermal sequence" if first.format in ("flir-seq", "flir-csq") else "thermal image"
    }
    summary.update(_frame_summary(first))
    warnings = list(first.warnings)
    frames.close()
    if summary["kind"] == "thermal sequence":
        from thermal.seq import count_fff_frames

        try:
            summary["frames"] = count_fff_frames(p)  # headers only
        except ThermalError as exc:
            warnings.append(f"sequence damaged: {exc.message} ({exc.where})")
    summary["warnings"] = warnings
    return summary
