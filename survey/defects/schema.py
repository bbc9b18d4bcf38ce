"""The attribute schema of defects, detections and reviews (see the package docstring)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from survey.errors import SurveyError

__all__ = [
    "DECISIONS",
    "DEFECT_FIELDS",
    "DETECTION_FIELDS",
    "GEOMETRY_CRS",
    "REVIEW_FIELDS",
    "SENSORS",
    "SIDES",
    "Decision",
    "DefectError",
    "FieldSpec",
    "iso_utc",
    "schema_markdown",
    "shapefile_names",
]

Decision = Literal["unreviewed", "confirmed", "rejected", "needs_revisit"]
DECISIONS: tuple[str, ...] = ("unreviewed", "confirmed", "rejected", "needs_revisit")
#: Side of the asset, looking toward increasing chainage; "" when not referenced to the asset.
SIDES: tuple[str, ...] = ("left", "right", "centre", "")
SENSORS: tuple[str, ...] = ("rgb", "thermal", "rgb+thermal", "inspector")
GEOMETRY_CRS = "EPSG:4326"

#: colour of severity 1..5 (green to red) in the report, the map, KML and QGIS styles
SEVERITY_COLOURS = ("#2e7d32", "#9e9d24", "#f9a825", "#ef6c00", "#b71c1c")


class DefectError(SurveyError, ValueError):
    """A defect, detection or review has an invalid value, or a table lacks a field."""


@dataclass(frozen=True)
class FieldSpec:
    """One attribute: column name, Shapefile name (<= 10 chars), type, unit/meaning."""

    name: str
    short: str
    kind: Literal["str", "float", "int", "bool"]
    help: str
    derived: bool = False


def _f(name: str, short: str, kind: Any, help: str, derived: bool = False) -> FieldSpec:
    return FieldSpec(name, short, kind, help, derived)


DEFECT_FIELDS: tuple[FieldSpec, ...] = (
    _f("defect_id", "defect_id", "str", "Identifier, unique within the run."),
    _f("run_id", "run_id", "str", "The processing run that found it."),
    _f("class_name", "class", "str", "Defect class (docs/domain.md list, e.g. missing_fastener)."),
    _f("asset_kind", "asset_kind", "str", "rail or pipeline (chooses severity and action rules)."),
    _f("asset_id", "asset_id", "str", "The line / route it lies on (line ref, ELR, pipeline ID)."),
    _f("confidence", "confidence", "float", "Detector confidence of the fused defect, 0-1."),
    _f(
        "severity",
        "severity",
        "int",
        "Advisory severity 1 (record) .. 5 (act now), docs/domain.md.",
    ),
    _f("action", "action", "str", "Recommended action for that severity (advisory)."),
    _f("lon_deg", "lon", "float", "Position estimate, longitude WGS84 (ellipse centre)."),
    _f("lat_deg", "lat", "float", "Position estimate, latitude WGS84 (ellipse centre)."),
    _f("area_m2", "area_m2", "float", "Ground area of the polygon, m2."),
    _f("unc_major_m", "unc_maj_m", "float", "Uncertainty ellipse: semi-major axis, m."),
    _f("unc_minor_m", "unc_min_m", "float", "Uncertainty ellipse: semi-minor axis, m."),
    _f("unc_azimuth_deg", "unc_az_deg", "float", "Major axis azimuth, deg clockwise from north."),
    _f("unc_level", "unc_level", "float", "Probability the ellipse holds the true position."),
    _f("chainage_m", "chainage_m", "float", "Chainage of the position estimate, m."),
    _f("chainage_start_m", "ch_start_m", "float", "Chainage interval covered: start, m."),
    _f("chainage_end_m", "ch_end_m", "float", "Chainage interval covered: end, m."),
    _f("chainage_label", "ch_label", "str", "Chainage in the owner's system (12+345.6, ELR m c)."),
    _f("offset_m", "offset_m", "float", "Lateral offset from the centreline, m, + = right."),
    _f("side", "side", "str", "left / right / centre, looking toward increasing chainage."),
    _f("first_seen_t_s", "t_first_s", "float", "First sighting, UTC POSIX s."),
    _f("last_seen_t_s", "t_last_s", "float", "Last sighting, UTC POSIX s."),
    _f("n_sightings", "n_sight", "int", "Number of detections fused into it."),
    _f(
        "sensors",
        "sensors",
        "str",
        "Evidence from rgb, thermal or rgb+thermal; inspector: added in review.",
    ),
    _f("delta_t_k", "delta_t_k", "float", "Thermal contrast to surroundings, K (NaN: none)."),
    _f("max_temp_c", "max_temp_c", "float", "Hottest temperature in the anomaly, degC."),
    _f("rgb_crop", "rgb_crop", "str", "Best RGB evidence crop, path relative to the run."),
    _f("rgb_source", "rgb_source", "str", "File of the best RGB frame."),
    _f("rgb_frame", "rgb_frame", "int", "Frame index in rgb_source (-1: a still image)."),
    _f("thermal_crop", "th_crop", "str", "Best thermal evidence crop, path relative to the run."),
    _f("thermal_source", "th_source", "str", "File of the best thermal frame."),
    _f("thermal_frame", "th_frame", "int", "Frame index in thermal_source (-1: a still)."),
    _f("source_files", "sources", "str", "Every source file with a sighting, ';'-separated."),
    _f("decision", "decision", "str", "Review: unreviewed/confirmed/rejected/needs_revisit."),
    _f("reviewer", "reviewer", "str", "Review: who decided."),
    _f("decided_t_s", "dec_t_s", "float", "Review: when, UTC POSIX s."),
    _f("review_comment", "comment", "str", "Review: the inspector's comment."),
    _f("reviewed_severity", "rev_sev", "int", "Review: severity set by the inspector (0: none)."),
    _f("first_seen_utc", "first_utc", "str", "first_seen_t_s as ISO-8601 UTC.", True),
    _f("last_seen_utc", "last_utc", "str", "last_seen_t_s as ISO-8601 UTC.", True),
    _f("decided_at", "decided_at", "str", "decided_t_s as ISO-8601 UTC.", True),
    _f("final_severity", "final_sev", "int", "reviewed_severity when set, else severity.", True),
)

DETECTION_FIELDS: tuple[FieldSpec, ...] = (
    _f("detection_id", "det_id", "str", "Identifier, unique within the run."),
    _f("defect_id", "defect_id", "str", "The defect it was fused into ('' if none)."),
    _f("run_id", "run_id", "str", "The processing run."),
    _f("class_name", "class", "str", "Detected class."),
    _f("confidence", "confidence", "float", "Detector score, 0-1."),
    _f("sensor", "sensor", "str", "rgb or thermal."),
    _f("source", "source", "str", "Source file (video, still, thermal file)."),
    _f("frame", "frame", "int", "Frame index in the source (-1: a still image)."),
    _f("t_s", "t_s", "float", "Frame time, UTC POSIX s."),
    _f("frame_path", "frame_path", "str", "Saved frame image, path relative to the run."),
    _f("image_width", "img_w", "int", "Frame width, px."),
    _f("image_height", "img_h", "int", "Frame height, px."),
    _f("bbox_x", "bbox_x", "float", "Box left, px (COCO xywh)."),
    _f("bbox_y", "bbox_y", "float", "Box top, px."),
    _f("bbox_w", "bbox_w", "float", "Box width, px."),
    _f("bbox_h", "bbox_h", "float", "Box height, px."),
    _f("mask_rle", "mask_rle", "str", "Instance mask, COCO compressed RLE counts ('' if none)."),
    _f("crop_path", "crop_path", "str", "Evidence crop of this sighting, relative to the run."),
    _f("lon_deg", "lon", "float", "Ground position, longitude (NaN: unlocatable)."),
    _f("lat_deg", "lat", "float", "Ground position, latitude (NaN: unlocatable)."),
    _f("unc_major_m", "unc_maj_m", "float", "Uncertainty ellipse semi-major axis, m."),
    _f("unc_minor_m", "unc_min_m", "float", "Uncertainty ellipse semi-minor axis, m."),
    _f("unc_azimuth_deg", "unc_az_deg", "float", "Major axis azimuth, deg from north."),
    _f("chainage_m", "chainage_m", "float", "Chainage, m."),
    _f("offset_m", "offset_m", "float", "Lateral offset, m, + = right."),
    _f("gsd_m", "gsd_m", "float", "Ground sample distance at the detection, m/px."),
    _f("delta_t_k", "delta_t_k", "float", "Thermal contrast, K (NaN: not thermal)."),
    _f("t_utc", "t_utc", "str", "t_s as ISO-8601 UTC.", True),
)

REVIEW_FIELDS: tuple[FieldSpec, ...] = (
    _f("defect_id", "defect_id", "str", "The reviewed defect."),
    _f("decision", "decision", "str", "confirmed / rejected / needs_revisit / unreviewed."),
    _f("reviewer", "reviewer", "str", "Who decided."),
    _f("decided_t_s", "dec_t_s", "float", "When, UTC POSIX s."),
    _f("comment", "comment", "str", "The inspector's comment."),
    _f("severity", "rev_sev", "int", "Severity set by the inspector (0: unchanged)."),
)


def shapefile_names(fields: Sequence[FieldSpec]) -> dict[str, str]:
    """Column name -> Shapefile name (at most 10 characters, unique).

    >>> shapefile_names(DEFECT_FIELDS)["chainage_start_m"]
    'ch_start_m'
    """
    return {f.name: f.short for f in fields}


def schema_markdown(fields: Sequence[FieldSpec]) -> str:
    """The schema as a Markdown table (column, Shapefile name, type, meaning)."""
    rows = ["| column | Shapefile | type | meaning |", "|---|---|---|---|"]
    for f in fields:
        note = " (derived)" if f.derived else ""
        rows.append(f"| `{f.name}` | `{f.short}` | {f.kind} | {f.help}{note} |")
    return "\n".join(rows) + "\n"


def iso_utc(t_s: float) -> str:
    """UTC POSIX seconds as ISO-8601 with milliseconds; '' for NaN.

    >>> iso_utc(0.25), iso_utc(float("nan"))
    ('1970-01-01T00:00:00.250Z', '')
    """
    if not math.isfinite(t_s):
        return ""
    return datetime.fromtimestamp(t_s, timezone.utc).isoformat(timespec="milliseconds")[:-6] + "Z"
