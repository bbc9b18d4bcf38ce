"""An FFF blob (from an R-JPEG, an .fff file or one frame of a SEQ/CSQ) to a thermal frame."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from thermal.errors import NotRadiometricError, ThermalFormatError
from thermal.fff import (
    RECORD_CAMERA_INFO,
    RECORD_RAW_DATA,
    decode_raw_record,
    find_record,
    parse_camera_info,
    parse_fff,
)
from thermal.frame import ThermalFrame
from thermal.radiometry import KELVIN, PlanckCalibration

__all__ = [
    "calibration_from_camera_info",
    "camera_info_from_calibration",
    "check_plausibility",
    "frame_from_fff",
]

# What real FLIR cores write (IR_2412, FLIR E/T/A/AX8/B60, Tau 2, Boson): generous bounds.
_PLANCK_BOUNDS = {
    "planck_r1": (1.0e3, 1.0e5),
    "planck_r2": (1.0e-4, 0.5),
    "planck_b": (1000.0, 2000.0),
    "planck_f": (0.5, 3.0),
    "planck_o": (-20000.0, 5000.0),
}
MAX_MEDIAN_VS_AIR_C = 60.0


def calibration_from_camera_info(info: dict[str, Any]) -> PlanckCalibration:
    """A :class:`PlanckCalibration` from the fields of :func:`thermal.fff.parse_camera_info`.

    Humidity is stored as a fraction (some files write a percentage: values above 2 are taken
    as percent, like exiftool does). Emissivity 0 or absent window transmission are replaced by
    FLIR's defaults with no error (seen in stripped files).
    """
    rh = float(info["relative_humidity"])
    rh_pct = rh if rh > 2.0 else round(rh * 100.0, 5)
    e = float(info["emissivity"])
    irt = float(info["ir_window_transmission"])
    return PlanckCalibration(
        planck_r1=float(info["planck_r1"]),
        planck_r2=float(info["planck_r2"]),
        planck_b=float(info["planck_b"]),
        planck_f=float(info["planck_f"]),
        planck_o=float(info["planck_o"]),
        emissivity=e if 0.0 < e <= 1.0 else 1.0,
        object_distance_m=max(float(info["object_distance_m"]), 0.0),
        reflected_temp_c=round(float(info["reflected_temp_k"]) - KELVIN, 4),
        atmospheric_temp_c=round(float(info["atmospheric_temp_k"]) - KELVIN, 4),
        ir_window_temp_c=round(float(info["ir_window_temp_k"]) - KELVIN, 4),
        ir_window_transmission=irt if 0.0 < irt <= 1.0 else 1.0,
        relative_humidity_pct=min(max(rh_pct, 0.0), 100.0),
        atm_alpha1=float(info["atm_alpha1"]),
        atm_alpha2=float(info["atm_alpha2"]),
        atm_beta1=float(info["atm_beta1"]),
        atm_beta2=float(info["atm_beta2"]),
        atm_x=float(info["atm_x"]),
    )


def camera_info_from_calibration(cal: PlanckCalibration) -> dict[str, Any]:
    """The inverse of :func:`calibration_from_camera_info` (temperatures in K, RH a fraction)."""
    return {
        "planck_r1": cal.planck_r1,
        "planck_r2": cal.planck_r2,
        "planck_b": cal.planck_b,
        "planck_f": cal.planck_f,
        "planck_o": cal.planck_o,
        "emissivity": cal.emissivity,
        "object_distance_m": cal.object_distance_m,
        "reflected_temp_k": cal.reflected_temp_c + KELVIN,
        "atmospheric_temp_k": cal.atmospheric_temp_c + KELVIN,
        "ir_window_temp_k": cal.ir_window_temp_c + KELVIN,
        "ir_window_transmission": cal.ir_window_transmission,
        "relative_humidity": cal.relative_humidity_pct / 100.0,
        "atm_alpha1": cal.atm_alpha1,
        "atm_alpha2": cal.atm_alpha2,
        "atm_beta1": cal.atm_beta1,
        "atm_beta2": cal.atm_beta2,
        "atm_x": cal.atm_x,
    }


def check_plausibility(
    raw: NDArray[np.uint16],
    cal: PlanckCalibration,
    camera_range_c: tuple[float, float] | None = None,
) -> list[str]:
    """Doubts about a calibration, from its constants and the temperatures it gives.

    Flags Planck constants outside what FLIR cores use (R2 = 1 is a placeholder written by
    non-radiometric cameras), a whole-scene median far from the recorded air temperature,
    counts below the Planck curve's floor, and scenes beyond the camera's calibrated range.
    Cheap: works on the 1st/50th/99th percentile counts of a subsample.
    """
    warnings: list[str] = []
    for name, (lo, hi) in _PLANCK_BOUNDS.items():
        v = getattr(cal, name)
        if not lo <= v <= hi and not (name == "planck_r2" and v == 1.0):
            warnings.append(
                f"implausible calibration: {name} = {v:g} is outside the range FLIR cores use "
                f"[{lo:g}, {hi:g}]"
            )
    if cal.planck_r2 == 1.0:
        warnings.append(
            "implausible calibration: Planck R2 = 1 is a placeholder (non-radiometric camera?)"
        )
    sample = raw[:: max(1, raw.shape[0] // 128), :: max(1, raw.shape[1] // 128)]
    p = np.percentile(sample, [1, 50, 99]).astype(np.float64)
    t1, t50, t99 = _temps(p, cal)
    if any(math.isnan(t) for t in (t1, t50, t99)):
        warnings.append(
            "implausible calibration: some counts lie below the Planck curve's floor "
            "(temperatures undefined)"
        )
    elif abs(t50 - cal.atmospheric_temp_c) > MAX_MEDIAN_VS_AIR_C:
        warnings.append(
            f"implausible temperatures: the scene's median decodes to {t50:.1f} degC while the "
            f"recorded air temperature is {cal.atmospheric_temp_c:.1f} degC (range {t1:.1f} to "
            f"{t99:.1f} degC); the calibration is probably not radiometric"
        )
    if camera_range_c is not None and not any(math.isnan(t) for t in (t1, t99)):
        lo_c, hi_c = camera_range_c
        if hi_c > lo_c and (t99 > hi_c + 10.0 or t1 < lo_c - 10.0):
            warnings.append(
                f"temperatures {t1:.1f}..{t99:.1f} degC exceed the camera's calibrated range "
                f"{lo_c:.0f}..{hi_c:.0f} degC"
            )
    return warnings


def _temps(p: NDArray[np.float64], cal: PlanckCalibration) -> tuple[float, float, float]:
    from thermal.radiometry import raw_to_temperature

    t = raw_to_temperature(p, cal)
    return float(t[0]), float(t[1]), float(t[2])


def frame_from_fff(
    fff: bytes | memoryview,
    *,
    source: str,
    format: str,
    frame_index: int = 0,
    where: str = "FFF",
    check: bool = True,
) -> tuple[ThermalFrame, int]:
    """Decode raw counts and calibration from an FFF blob.

    Returns the frame (metadata from the FFF only) and the blob's used length.
    """
    creator, records, end = parse_fff(fff, path=source, where=where)
    raw_rec = find_record(records, RECORD_RAW_DATA)
    cam_rec = find_record(records, RECORD_CAMERA_INFO)
    if raw_rec is None:
        raise NotRadiometricError(
            "FLIR data without a raw thermal image (metadata only, or image data stripped)",
            path=source,
            where=where,
        )
    if cam_rec is None:
        raise ThermalFormatError(
            "FLIR data without a camera-info record (no Planck calibration)",
            path=source,
            where=where,
        )
    info = parse_camera_info(
        memoryview(fff)[cam_rec.offset : cam_rec.offset + cam_rec.length],
        path=source,
        where=f"{where} camera-info record at {cam_rec.offset:#x}",
    )
    raw, storage = decode_raw_record(
        memoryview(fff)[raw_rec.offset : raw_rec.offset + raw_rec.length],
        path=source,
        where=f"{where} raw-data record at {raw_rec.offset:#x}",
    )
    try:
        cal = calibration_from_camera_info(info)
    except ValueError as exc:
        raise ThermalFormatError(f"calibration unusable: {exc}", path=source, where=where) from exc
    rng = (round(info["range_min_k"] - KELVIN, 4), round(info["range_max_k"] - KELVIN, 4))
    camera_range = rng if rng[1] > rng[0] else None
    warnings = check_plausibility(raw, cal, camera_range) if check else []
    meta: dict[str, Any] = {
        "creator": creator,
        "raw_storage": storage,
        **{
            k: info[k]
            for k in ("camera_part_number", "camera_serial_number", "camera_software")
            if info.get(k)
        },
        **{
            k: info[k]
            for k in ("raw_value_min", "raw_value_max", "raw_value_median", "frame_rate_hz")
            if k in info
        },
    }
    fov = info.get("field_of_view_deg")
    frame = ThermalFrame(
        raw=raw,
        calibration=cal,
        source=source,
        format=format,
        frame_index=frame_index,
        camera_make="FLIR",
        camera_model=info.get("camera_model", ""),
        lens_model=info.get("lens_model", ""),
        datetime_utc_s=info.get("datetime_utc_s"),
        camera_range_c=camera_range,
        field_of_view_deg=fov if fov and fov > 0 else None,
        metadata=meta,
        warnings=tuple(warnings),
    )
    return frame, end
