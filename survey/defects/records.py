"""Frozen records: one defect, one detection (sighting), one review decision."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry.base import BaseGeometry

from survey.defects.schema import DECISIONS, SENSORS, SIDES, DefectError, iso_utc

__all__ = ["Defect", "Detection", "Review"]

_NAN = float("nan")


def _check(ok: bool, msg: str, where: str) -> None:
    if not ok:
        raise DefectError(msg, where=where)


@dataclass(frozen=True, kw_only=True)
class Defect:
    """One physical defect (see :data:`DEFECT_FIELDS` for every field's meaning and unit)."""

    defect_id: str
    class_name: str
    confidence: float
    severity: int
    geometry: BaseGeometry
    lon_deg: float
    lat_deg: float
    run_id: str = ""
    asset_kind: str = "rail"
    asset_id: str = ""
    action: str = ""
    area_m2: float = _NAN
    unc_major_m: float = _NAN
    unc_minor_m: float = _NAN
    unc_azimuth_deg: float = _NAN
    unc_level: float = 0.95
    chainage_m: float = _NAN
    chainage_start_m: float = _NAN
    chainage_end_m: float = _NAN
    chainage_label: str = ""
    offset_m: float = _NAN
    side: str = ""
    first_seen_t_s: float = _NAN
    last_seen_t_s: float = _NAN
    n_sightings: int = 1
    sensors: str = "rgb"
    delta_t_k: float = _NAN
    max_temp_c: float = _NAN
    rgb_crop: str = ""
    rgb_source: str = ""
    rgb_frame: int = -1
    thermal_crop: str = ""
    thermal_source: str = ""
    thermal_frame: int = -1
    source_files: tuple[str, ...] = field(default=())
    decision: str = "unreviewed"
    reviewer: str = ""
    decided_t_s: float = _NAN
    review_comment: str = ""
    reviewed_severity: int = 0

    def __post_init__(self) -> None:
        w = f"defect {self.defect_id!r}"
        _check(bool(self.defect_id), "defect_id must not be empty", w)
        _check(1 <= self.severity <= 5, f"severity must be 1..5, got {self.severity}", w)
        _check(
            0 <= self.reviewed_severity <= 5,
            f"reviewed_severity must be 0 (none) or 1..5, got {self.reviewed_severity}",
            w,
        )
        _check(
            0.0 <= self.confidence <= 1.0, f"confidence must be in 0..1, got {self.confidence}", w
        )
        _check(self.decision in DECISIONS, f"decision must be one of {DECISIONS}", w)
        _check(self.side in SIDES, f"side must be one of {SIDES}, got {self.side!r}", w)
        _check(self.sensors in SENSORS, f"sensors must be one of {SENSORS}", w)

    @property
    def final_severity(self) -> int:
        """The inspector's severity when set, else the automatic one."""
        return self.reviewed_severity or self.severity

    def replace(self, **changes: Any) -> Defect:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, kw_only=True)
class Detection:
    """One sighting in one frame (see :data:`DETECTION_FIELDS`)."""

    detection_id: str
    class_name: str
    confidence: float
    sensor: str
    source: str
    t_s: float
    geometry: BaseGeometry | None = None
    defect_id: str = ""
    run_id: str = ""
    frame: int = -1
    frame_path: str = ""
    image_width: int = 0
    image_height: int = 0
    bbox_x: float = _NAN
    bbox_y: float = _NAN
    bbox_w: float = _NAN
    bbox_h: float = _NAN
    mask_rle: str = ""
    crop_path: str = ""
    lon_deg: float = _NAN
    lat_deg: float = _NAN
    unc_major_m: float = _NAN
    unc_minor_m: float = _NAN
    unc_azimuth_deg: float = _NAN
    chainage_m: float = _NAN
    offset_m: float = _NAN
    gsd_m: float = _NAN
    delta_t_k: float = _NAN

    def __post_init__(self) -> None:
        w = f"detection {self.detection_id!r}"
        _check(bool(self.detection_id), "detection_id must not be empty", w)
        _check(self.sensor in ("rgb", "thermal"), "sensor must be rgb or thermal", w)
        _check(
            0.0 <= self.confidence <= 1.0, f"confidence must be in 0..1, got {self.confidence}", w
        )

    def replace(self, **changes: Any) -> Detection:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, kw_only=True)
class Review:
    """An inspector's decision on one defect, as saved in the store's review log."""

    defect_id: str
    decision: str
    reviewer: str
    decided_t_s: float
    comment: str = ""
    severity: int = 0

    def __post_init__(self) -> None:
        w = f"review of {self.defect_id!r}"
        _check(self.decision in DECISIONS, f"decision must be one of {', '.join(DECISIONS)}", w)
        _check(
            0 <= self.severity <= 5, f"severity must be 0 (unchanged) or 1..5: {self.severity}", w
        )
        _check(bool(self.reviewer.strip()), "reviewer must be named", w)
        _check(math.isfinite(self.decided_t_s), "decided_t_s must be a time", w)

    @property
    def decided_at(self) -> str:
        """ISO-8601 UTC time of the decision."""
        return iso_utc(self.decided_t_s)
