"""Radiometric thermal files to calibrated temperatures, and leak / hotspot detection.

Public names are listed in ``__all__``. They are imported lazily on first use (PEP 562), so
importing the package, or one light module of it, stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from thermal.errors import ThermalError

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "PlanckCalibration": "thermal.radiometry",
    "atmospheric_transmission": "thermal.radiometry",
    "raw_to_temperature": "thermal.radiometry",
    "temperature_to_raw": "thermal.radiometry",
    "Attitude": "thermal.frame",
    "GpsFix": "thermal.frame",
    "LinearCalibration": "thermal.frame",
    "ThermalFrame": "thermal.frame",
    "read_thermal": "thermal.read",
    "iter_frames": "thermal.read",
    "sniff": "thermal.read",
    "write_flir_rjpeg": "thermal.rjpeg",
    "check_plausibility": "thermal.flir",
    "colorize": "thermal.palette",
    "colorize_with_scale": "thermal.palette",
    "FrameContext": "thermal.leak_params",
    "LeakDetectorParams": "thermal.leak_params",
    "ThermalAnomalies": "thermal.leaks",
    "detect_anomalies": "thermal.leaks",
    "corridor_mask": "thermal.background",
    "local_background": "thermal.background",
    "CalibrationError": "thermal.errors",
    "NotRadiometricError": "thermal.errors",
    "ThermalFileNotFoundError": "thermal.errors",
    "ThermalFormatError": "thermal.errors",
    "UnsupportedCameraError": "thermal.errors",
}

__all__ = ["ThermalError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
