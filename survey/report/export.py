"""GIS exports of a run: GeoPackage, GeoJSON, Shapefile, KML, CSV, FlatGeobuf (via ``geo.export``).

Every export carries the defects with their review decisions (read from the store, so an
export made after review includes who decided what and when), the detections, the review log
and the run's auxiliary layers (route, coverage, footprints, flight path). Column names and
meanings are the schema of :mod:`survey.defects`; Shapefiles use its 10-character names.

Format notes (the writers are geo's, see :mod:`geo.export`): GeoJSON is one file per layer in
WGS84 (RFC 7946); Shapefile is one ``.shp`` per layer with the 10-character names (declared in each layer's
schema; a layer without one gets geo's declared shortening rule), UTF-8, and a ``.fields.csv``
and ``.fields.txt`` mapping names to columns and meanings (the detections' ``mask_rle`` is left
out, as Shapefile text fields stop at 254 bytes); CSV is one file per layer with ``lon_deg``/``lat_deg``
and the geometry as WKT. KML holds defects only, one placemark each, named ``<id> <class>``,
with a severity-coloured style and a description an inspector can read in Google Earth.
Every export is written to a staging folder and moved into place only when complete: a failed
export leaves no partial files (and an earlier export of the same run untouched).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from survey.defects import (
    DEFECT_FIELDS,
    DETECTION_FIELDS,
    REVIEW_FIELDS,
    SEVERITY_COLOURS,
    DefectSet,
)
from survey.errors import SurveyError
from survey.store.base import DefectStore

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import pandas as pd

__all__ = ["FORMATS", "ExportError", "export_run", "filter_defects", "severity_colour"]

log = logging.getLogger(__name__)

#: format -> (GDAL driver, file extension)
FORMATS: dict[str, tuple[str, str]] = {
    "gpkg": ("GPKG", ".gpkg"),
    "geojson": ("GeoJSON", ".geojson"),
    "shp": ("ESRI Shapefile", ".shp"),
    "kml": ("LIBKML", ".kml"),
    "csv": ("CSV", ".csv"),
    "fgb": ("FlatGeobuf", ".fgb"),
}
#: Severity 1..5 -> fill colour (green .. dark red), also used by the map and the report.


class ExportError(SurveyError, ValueError):
    """The export cannot be made as asked (unknown format, empty selection, bad path)."""


def severity_colour(severity: int) -> str:
    """Hex colour of a severity 1..5.

    >>> severity_colour(5)
    '#b71c1c'
    """
    return SEVERITY_COLOURS[min(max(int(severity), 1), 5) - 1]


def filter_defects(
    defects: DefectSet, *, decisions: Iterable[str] = (), min_severity: int = 1
) -> DefectSet:
    """Defects with one of ``decisions`` (all when empty) and a final severity >= ``min_severity``."""
    keep = defects.final_severity >= min_severity
    dec = list(decisions)
    if dec:
        keep &= np.isin(defects.decision, dec)
    return defects[keep]


def _review_frame(store: DefectStore) -> pd.DataFrame:
    import pandas as pd

    rows = [
        {
            "defect_id": r.defect_id,
            "decision": r.decision,
            "reviewer": r.reviewer,
            "decided_t_s": r.decided_t_s,
            "decided_at": r.decided_at,
            "comment": r.comment,
            "severity": r.severity,
        }
        for r in store.reviews()
    ]
    return pd.DataFrame(rows, columns=[*(f.name for f in REVIEW_FIELDS), "decided_at"])


def _kml_frame(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = frame.copy()
    out.insert(
        0, "Name", [f"{i} {c}" for i, c in zip(frame.defect_id, frame.class_name, strict=True)]
    )
    desc = []
    for _, r in frame.iterrows():
        lines = [
            f"<b>{html.escape(str(r.class_name))}</b>, severity {r.final_severity}",
            f"Chainage {html.escape(str(r.chainage_label))} ({r.side}, offset {r.offset_m:.2f} m)",
            f"Action: {html.escape(str(r.action))}",
            f"Review: {html.escape(str(r.decision))} {html.escape(str(r.reviewer))} {r.decided_at}",
        ]
        desc.append("<br/>".join(lines))
    out.insert(1, "Description", desc)
    # OGR style string: LIBKML turns it into a <Style> per placemark
    out["OGR_STYLE"] = [
        f"BRUSH(fc:{severity_colour(s)}99);PEN(c:{severity_colour(s)},w:2px)"
        for s in frame.final_severity
    ]
    return out


def _write(frame: Any, path: Path, driver: str, layer: str, **kw: Any) -> None:
    import pyogrio

    try:
        pyogrio.write_dataframe(frame, path, layer=layer, driver=driver, **kw)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        raise ExportError(f"cannot write layer {layer!r} as {driver}: {exc}", path=path) from exc


def _aux_schema(name: str, frame: Any) -> Any:
    """geo's schema for the auxiliary layers it defines, when the frame has its columns."""
    from geo import schema as gs

    fields = {
        "coverage": gs.COVERAGE_FIELDS,
        "gaps": gs.GAP_FIELDS,
        "footprints": gs.FOOTPRINT_FIELDS,
        "flight_path": gs.FLIGHT_PATH_FIELDS,
        "route": gs.ROUTE_FIELDS,
    }.get(name)
    if fields is not None and all(f.name in frame.columns for f in fields):
        return fields
    return None


def export_run(
    store: DefectStore,
    out: str | Path,
    fmt: str,
    *,
    decisions: Iterable[str] = (),
    min_severity: int = 1,
    crs: str | None = None,
) -> list[Path]:
    """Write the run held by ``store`` to ``out`` in format ``fmt``; returns the files written.

    ``out`` is a file for gpkg/kml and a folder for the one-file-per-layer formats (geojson,
    shp, csv, fgb: ``<run>_<layer>.<ext>`` and ``<run>_review_log.csv``). ``decisions`` /
    ``min_severity`` select defects (their detections follow); ``crs`` reprojects (gpkg, shp,
    fgb; GeoJSON, KML and CSV are WGS84). The layers are written by :func:`geo.export.export_layers`
    with the defect schema; KML is written here, styled by severity.
    """
    from geo.errors import ExportError as GeoExportError
    from geo.export import export_layers, staged_output

    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if crs and fmt in ("geojson", "kml", "csv"):
        raise ExportError(f"{fmt} is WGS84 by definition; drop --crs")
    decisions = tuple(decisions)
    defects = filter_defects(store.read_defects(), decisions=decisions, min_severity=min_severity)
    dets = store.read_detections()
    if decisions or min_severity > 1:  # a selection: only the sightings of selected defects
        dets = dets[np.isin(dets.defect_id, defects.defect_id)]
    out = Path(out)
    ext = FORMATS[fmt][1]
    if fmt == "kml":
        path = out if out.suffix else out / f"{store.run_id}_defects{ext}"
        with staged_output(path.parent) as stage:
            _write(_kml_frame(defects.to_frame()), stage / path.name, FORMATS[fmt][0], "defects")
        return [path]
    det_fields: Sequence[Any] = DETECTION_FIELDS
    det_frame = dets.to_frame()
    if fmt == "shp":  # an RLE cut to 254 bytes would be garbage: leave masks out
        det_fields = [f for f in DETECTION_FIELDS if f.name != "mask_rle"]
        det_frame = det_frame.drop(columns=["mask_rle"])
    layers: dict[str, tuple[Any, Any]] = {
        "defects": (defects.to_frame(), DEFECT_FIELDS),
        "detections": (det_frame, det_fields),
    }
    for name in store.layers():
        frame = store.read_layer(name)
        if frame is not None:
            layers[name] = (frame, _aux_schema(name, frame))
    if fmt == "gpkg":
        target = out if out.suffix else out / f"{store.run_id}{ext}"
    else:
        target = out / f"{store.run_id}{ext}"
    review = _review_frame(store)
    # everything goes to a staging folder first: a failure leaves no partial export behind
    with staged_output(target.parent) as stage:
        try:
            names = [
                p.name
                for p in export_layers(layers, stage / target.name, fmt, crs=crs, strict=False)
            ]
        except GeoExportError as exc:
            raise ExportError(f"cannot export: {exc}", path=target) from exc
        if fmt == "gpkg":
            _write(review, stage / target.name, "GPKG", "review_log")
            _style_gpkg(stage / target.name)
        else:
            review_name = f"{store.run_id}_review_log.csv"
            review.to_csv(stage / review_name, index=False)
            names.append(review_name)
        if fmt == "shp":
            names += [
                Path(n).with_suffix(x).name
                for n in list(names)
                if n.endswith(".shp")
                for x in (".shx", ".dbf", ".prj", ".cpg", ".fields.csv", ".fields.txt")
                if (stage / n).with_suffix(x).exists()
            ]
    return [target.parent / n for n in names]


def _style_gpkg(path: Path) -> None:
    """The QGIS default styles in an exported GeoPackage, as in the run's own."""
    import sqlite3

    from survey.store.qgis import write_layer_styles

    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        write_layer_styles(db)
        db.execute("COMMIT")
    finally:
        db.close()
