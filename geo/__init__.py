"""Camera models, pixel-to-ground geolocation, linear referencing, GIS export and maps.

Public names are listed in ``__all__``. They are imported lazily on first use (PEP 562), so
importing the package, or one light module of it, stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from geo.errors import GeoError

# public name -> module that defines it
_LAZY: dict[str, str] = {
    # errors
    "CameraModelError": "geo.errors",
    "CrsError": "geo.errors",
    "ExportError": "geo.errors",
    "GeoFileNotFoundError": "geo.errors",
    "GeoFormatError": "geo.errors",
    "GeoValueError": "geo.errors",
    "RouteError": "geo.errors",
    # rotations and cameras
    "R_GIMBAL_FROM_CAM": "geo.rotation",
    "matrix_from_euler_zyx": "geo.rotation",
    "euler_zyx_from_matrix": "geo.rotation",
    "rotation_ned_from_gimbal": "geo.rotation",
    "rotation_ned_from_cam": "geo.rotation",
    "CameraModel": "geo.camera",
    "Boresight": "geo.camera",
    "CAMERA_TABLE": "geo.camera_db",
    "SensorSpec": "geo.camera_db",
    "camera_from_tags": "geo.camera_db",
    "camera_from_table": "geo.camera_db",
    "read_image_tags": "geo.imagemeta",
    # frames, altitudes, poses
    "LocalFrame": "geo.frames",
    "utm_epsg_for": "geo.frames",
    "convert_altitude": "geo.altitude",
    "geoid_height_m": "geo.altitude",
    "CameraPoses": "geo.pose",
    # ground, projection, uncertainty, footprints
    "FlatGround": "geo.ground",
    "RayStatus": "geo.ground",
    "status_reason": "geo.ground",
    "Dem": "geo.dem",
    "Georeferencer": "geo.georef",
    "GroundPoints": "geo.georef",
    "PoseState": "geo.georef",
    "PoseErrorModel": "geo.uncertainty",
    "LocatedPoints": "geo.uncertainty",
    "locate_with_uncertainty": "geo.uncertainty",
    "ellipse_axes": "geo.uncertainty",
    "mahalanobis2": "geo.uncertainty",
    "chi2_2dof": "geo.uncertainty",
    "frame_footprints": "geo.footprint",
    "image_polygon_to_ground": "geo.footprint",
    "mask_to_ground": "geo.footprint",
    "gsd_at_pixels": "geo.footprint",
    # chainage and linear referencing
    "format_km": "geo.chainage",
    "format_miles_chains": "geo.chainage",
    "format_chainage": "geo.chainage",
    "parse_chainage": "geo.chainage",
    "Route": "geo.route",
    "RouteLocation": "geo.route",
    "LocateStatus": "geo.route",
    "MeasureEquation": "geo.route",
    "load_network": "geo.network",
    "build_routes": "geo.network",
    "orient_route": "geo.network",
    "RouteSet": "geo.linref",
    "Referenced": "geo.linref",
    # fusion and coverage
    "merge_sightings": "geo.merge",
    "MergedSightings": "geo.merge",
    "coverage_by_chainage": "geo.coverage",
    "Coverage": "geo.coverage",
    # layers, export, maps
    "FieldSpec": "geo.schema",
    "FOOTPRINT_FIELDS": "geo.schema",
    "FLIGHT_PATH_FIELDS": "geo.schema",
    "COVERAGE_FIELDS": "geo.schema",
    "GAP_FIELDS": "geo.schema",
    "schema_markdown": "geo.schema",
    "conform": "geo.export",
    "export_layers": "geo.export",
    "FORMATS": "geo.export",
    "ellipse_polygons": "geo.layers",
    "footprints_layer": "geo.layers",
    "flight_path_layer": "geo.layers",
    "routes_layer": "geo.layers",
    "coverage_layers": "geo.layers",
    "survey_map": "geo.maps",
    "LocalTiles": "geo.maps",
    "write_map": "geo.maps",
    "SEVERITY_COLOURS": "geo.maps",
}

__all__ = ["GeoError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
