"""Tunable parameters of the leak / hotspot detector (a config section for ``survey``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["FrameContext", "LeakDetectorParams"]


def _p(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class LeakDetectorParams:
    """Thresholds and shape limits of :func:`thermal.detect_anomalies`.

    Temperatures are differences to the local background (delta T, degC). Sizes are in square
    metres when the ground sample distance is known, else in pixels.
    """

    background_window_m: float = _p(
        12.0, "Width of the local background window, metres (used when the GSD is known)."
    )
    background_window_px: int = _p(
        81, "Width of the local background window, pixels (when the GSD is unknown)."
    )
    delta_high_c: float = _p(
        2.0, "Hysteresis high threshold: a candidate must reach this |delta T| (degC)."
    )
    delta_low_c: float = _p(
        1.0, "Hysteresis low threshold: a candidate grows over pixels above this |delta T|."
    )
    noise_k_high: float = _p(
        5.0, "The high threshold is at least this many robust noise sigmas of the residual."
    )
    noise_k_low: float = _p(2.5, "The low threshold is at least this many noise sigmas.")
    detect_cool: bool = _p(
        True, "Also report cool anomalies (evaporating liquid, wet ground over a water leak)."
    )
    opening_px: int = _p(
        5, "Morphological opening kernel (pixels): removes speckle and thin glint lines."
    )
    closing_px: int = _p(5, "Morphological closing kernel (pixels) that joins fragments.")
    min_area_m2: float = _p(0.5, "Smallest anomaly kept, square metres (GSD known).")
    min_area_px: int = _p(30, "Smallest anomaly kept, pixels (GSD unknown).")
    max_area_fraction: float = _p(
        0.25,
        "Largest anomaly kept, as a fraction of the analysed area; larger ones are "
        "whole-frame drift or a scene-wide gradient.",
    )
    max_elongation: float = _p(
        6.0,
        "Largest ratio of major to minor axis kept; thinner shapes are sun glints on rails "
        "and kerbs or the pipe's own linear heat trace.",
    )
    min_corridor_overlap: float = _p(
        0.5, "Smallest fraction of an anomaly inside the asset corridor (when one is given)."
    )
    max_edge_sharpness: float = _p(
        0.15,
        "Largest edge sharpness (mean |grad delta T| on the outline, per pixel, over the peak "
        "delta T) kept for small warm anomalies in daylight: sun-heated rocks and car roofs have "
        "sharp edges (0.2-0.5), leak halos diffuse ones (0.02-0.06).",
    )
    sharp_object_max_area_m2: float = _p(
        5.0, "Sharp-edged warm anomalies up to this area (m2) are rejected in daylight."
    )
    daylight_hours: tuple[float, float] = _p(
        (8.0, 18.0), "Local hours counted as sunlit (solar heating makes false warm spots)."
    )
    min_confidence: float = _p(0.3, "Anomalies below this confidence are reported as rejected.")
    severity_delta_c: tuple[float, float, float, float] = _p(
        (2.0, 5.0, 10.0, 20.0),
        "|delta T| bounds (degC) of severity grades 2, 3, 4 and 5 (below the first: grade 1).",
    )
    severity_large_area_m2: float = _p(
        10.0, "Anomalies at least this large (m2) are one grade more severe (max 5)."
    )


@dataclass(frozen=True)
class FrameContext:
    """What is known about the frame besides its temperatures.

    ``gsd_m`` is the ground sample distance (metres per pixel); when absent but
    ``altitude_m`` and ``focal_length_px`` are given it is ``altitude_m / focal_length_px``
    (nadir view). ``local_hour`` (0-24) tells day from night.
    """

    gsd_m: float | None = None
    altitude_m: float | None = None
    focal_length_px: float | None = None
    local_hour: float | None = None

    def resolved_gsd_m(self) -> float | None:
        if self.gsd_m is not None:
            return self.gsd_m
        if self.altitude_m is not None and self.focal_length_px:
            return self.altitude_m / self.focal_length_px
        return None
