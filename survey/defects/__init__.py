"""Defects and the sightings (detections) they are fused from: records, collections, schema.

A **detection** is one sighting of something in one frame (RGB or thermal): pixel box and mask,
its ground polygon and the frame it came from. A **defect** is one physical defect on the asset,
fused from one or more detections: ground polygon, position with an uncertainty ellipse,
chainage, severity, best evidence and the inspector's review. Detections link to their defect by
``defect_id``.

One record is a frozen dataclass (:class:`Defect`, :class:`Detection`); many are a
struct-of-arrays (:class:`DefectSet`, :class:`DetectionSet`: one numpy array per field plus a
shapely geometry array in WGS84 lon/lat), converted to a GeoDataFrame at the edges
(``to_frame`` / ``from_frame``).

Attribute schema
----------------
:data:`DEFECT_FIELDS` and :data:`DETECTION_FIELDS` are the schema: each field's column name
(GeoPackage, PostGIS, GeoJSON, CSV, KML), its Shapefile name (at most 10 characters), type and
meaning. ``derived`` fields are computed from the others when a frame is written (readable UTC
times, the severity in force) and ignored when one is read. Geometries are EPSG:4326. Times are
UTC POSIX seconds (``*_t_s``) with ISO-8601 twins for people. Unset floats are NaN (NULL in a
store), an unset ``reviewed_severity`` is 0 (NULL in a store). ``docs/defects.md`` carries the
same table (:func:`schema_markdown` writes it).

Examples
--------
>>> from shapely import box
>>> d = Defect(defect_id="D0001", class_name="missing_fastener", confidence=0.8, severity=3,
...            geometry=box(15.6, 48.2, 15.60001, 48.20001), lon_deg=15.600005, lat_deg=48.200005)
>>> ds = DefectSet.from_records([d, d.replace(defect_id="D0002", severity=5)])
>>> len(ds), ds.severity.tolist(), ds[ds.severity >= 4].defect_id.tolist()
(2, [3, 5], ['D0002'])
>>> ds[0].decision, ds.final_severity.tolist()
('unreviewed', [3, 5])
"""

from __future__ import annotations

from survey.defects.records import Defect, Detection, Review
from survey.defects.schema import (
    DECISIONS,
    DEFECT_FIELDS,
    DETECTION_FIELDS,
    GEOMETRY_CRS,
    REVIEW_FIELDS,
    SENSORS,
    SEVERITY_COLOURS,
    SIDES,
    Decision,
    DefectError,
    FieldSpec,
    iso_utc,
    schema_markdown,
    shapefile_names,
)
from survey.defects.table import DefectSet, DetectionSet

__all__ = [
    "DECISIONS",
    "DEFECT_FIELDS",
    "DETECTION_FIELDS",
    "SEVERITY_COLOURS",
    "GEOMETRY_CRS",
    "REVIEW_FIELDS",
    "SENSORS",
    "SIDES",
    "Decision",
    "Defect",
    "DefectError",
    "DefectSet",
    "Detection",
    "DetectionSet",
    "FieldSpec",
    "Review",
    "iso_utc",
    "schema_markdown",
    "shapefile_names",
]
