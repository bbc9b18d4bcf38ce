"""Write layers to GIS formats with a documented attribute schema.

Every exporter takes layers as GeoDataFrames plus a schema (a sequence of field descriptions,
see :mod:`geo.schema`), so it serves any record type. Per format:

* ``gpkg`` GeoPackage: one file, one table per layer, in the layers' own CRS (or ``crs``).
* ``geojson``: RFC 7946, always WGS84 lon/lat; one file per layer.
* ``shp`` Shapefile: one per layer; columns renamed to the schema's ``short`` names
  (<= 10 characters); strings over 254 characters are cut (with a warning); a
  ``<layer>.fields.csv`` beside it maps short names to columns and meanings; UTF-8 (.cpg).
* ``kml``: WGS84; the placemark name comes from ``name_field``; attributes as extended data.
* ``csv``: attributes plus ``lon_deg``/``lat_deg`` of a representative point and the geometry
  as WKT in WGS84.
* ``fgb`` FlatGeobuf: one file per layer, own CRS.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from geo.errors import ExportError
from geo.schema import FieldLike, check_schema

__all__ = ["FORMATS", "conform", "export_layers"]

log = logging.getLogger(__name__)

#: format key -> (GDAL driver, file suffix, one file for all layers?)
FORMATS: dict[str, tuple[str, str, bool]] = {
    "gpkg": ("GPKG", ".gpkg", True),
    "geojson": ("GeoJSON", ".geojson", False),
    "shp": ("ESRI Shapefile", ".shp", False),
    "kml": ("KML", ".kml", False),
    "csv": ("CSV", ".csv", False),
    "fgb": ("FlatGeobuf", ".fgb", False),
}

_NULL = {"str": "", "float": np.nan, "int": -1, "bool": False}


def conform(
    gdf: Any, fields: Sequence[FieldLike] | None, *, layer: str = "layer", strict: bool = True
) -> Any:
    """Columns of ``gdf`` in schema order with schema types (geometry kept).

    Missing columns raise :class:`ExportError` when ``strict`` (else they are filled with
    the kind's null: '' / NaN / -1 / False); extra columns are dropped. Without a schema the
    frame is returned unchanged.
    """
    import geopandas as gpd
    import pandas as pd

    if fields is None:
        return gdf
    check_schema(fields, f"layer {layer!r}")
    missing = [f.name for f in fields if f.name not in gdf.columns]
    if missing and strict:
        raise ExportError(f"layer {layer!r} lacks field(s) {', '.join(missing)} of its schema")
    cols: dict[str, Any] = {}
    for f in fields:
        if f.name not in gdf.columns:
            cols[f.name] = pd.Series([_NULL[f.kind]] * len(gdf), index=gdf.index)
            continue
        s = gdf[f.name]
        try:
            if f.kind == "str":
                cols[f.name] = s.map(
                    lambda v: (
                        ""
                        if v is None or (isinstance(v, float) and np.isnan(v))
                        else (";".join(map(str, v)) if isinstance(v, list | tuple) else str(v))
                    )
                )
            elif f.kind == "float":
                cols[f.name] = pd.to_numeric(s, errors="raise").astype("float64")
            elif f.kind == "int":
                cols[f.name] = pd.to_numeric(s, errors="raise").fillna(_NULL["int"]).astype("int64")
            else:
                cols[f.name] = s.fillna(False).astype(bool)
        except (ValueError, TypeError) as exc:
            raise ExportError(f"layer {layer!r}, field {f.name!r}: not {f.kind}: {exc}") from exc
    return gpd.GeoDataFrame(cols, geometry=gdf.geometry.values, crs=gdf.crs, index=gdf.index)


def _target(path: Path, fmt: str, layer: str, n_layers: int) -> Path:
    suffix = FORMATS[fmt][1]
    if n_layers == 1 or FORMATS[fmt][2]:
        return path if path.suffix.lower() == suffix else path.with_suffix(suffix)
    stem = path.with_suffix("") if path.suffix.lower() == suffix else path
    return stem.parent / f"{stem.name}_{layer}{suffix}"


def export_layers(
    layers: Mapping[str, tuple[Any, Sequence[FieldLike] | None]],
    path: str | PathLike[str],
    fmt: str | None = None,
    *,
    crs: Any = None,
    name_field: str | None = None,
    strict: bool = True,
) -> list[Path]:
    """Write named layers ``{name: (GeoDataFrame, schema or None)}`` in one format.

    Parameters
    ----------
    layers : mapping
        Layer name -> (frame, schema). Empty frames are written as empty layers (GPKG) or
        skipped (one-file-per-layer formats) with a log message.
    path : path
        Output file (its suffix picks the format when ``fmt`` is None). For formats with one
        file per layer, several layers become ``<stem>_<layer><suffix>``.
    fmt : {"gpkg", "geojson", "shp", "kml", "csv", "fgb"}, optional
        Format.
    crs : optional
        Reproject to this CRS (GPKG, Shapefile, FlatGeobuf; GeoJSON/KML/CSV are WGS84).
    name_field : str, optional
        Column used as the KML placemark name.
    strict : bool
        Missing schema fields are errors (else filled with nulls).

    Returns
    -------
    list of Path
        Files written.
    """
    p = Path(path)
    fmt = (fmt or p.suffix.lstrip(".")).lower()
    fmt = {"shapefile": "shp", "json": "geojson", "flatgeobuf": "fgb"}.get(fmt, fmt)
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not layers:
        raise ExportError("nothing to export: no layers given")
    p.parent.mkdir(parents=True, exist_ok=True)
    driver = FORMATS[fmt][0]
    written: list[Path] = []
    if fmt == "gpkg" and p.exists():
        p.unlink()
    for name, (gdf, fields) in layers.items():
        if gdf.crs is None:
            raise ExportError(f"layer {name!r} has no CRS")
        out = conform(gdf, fields, layer=name, strict=strict)
        if fmt in ("geojson", "kml", "csv"):
            out = out.to_crs(4326)
        elif crs is not None:
            out = out.to_crs(crs)
        target = _target(p, fmt, name, len(layers))
        if len(out) == 0 and fmt != "gpkg":
            log.info("layer %s is empty: no %s file written", name, fmt)
            continue
        if fmt == "gpkg":
            out.to_file(target, layer=name, driver=driver, engine="pyogrio")
        elif fmt == "shp":
            _write_shapefile(out, fields, target, name)
        elif fmt == "kml":
            _write_kml(out, target, name, name_field)
        elif fmt == "csv":
            _write_csv(out, target)
        else:
            if target.exists():
                target.unlink()
            out.to_file(target, driver=driver, engine="pyogrio")
        if target not in written:
            written.append(target)
    return written


def _write_shapefile(
    gdf: Any, fields: Sequence[FieldLike] | None, target: Path, layer: str
) -> None:
    types = set(gdf.geom_type.dropna())
    families = {t.replace("Multi", "") for t in types}
    if len(families) > 1:
        raise ExportError(
            f"layer {layer!r} mixes geometry types {sorted(types)}; a Shapefile holds one"
        )
    if fields is not None:
        rename = {f.name: f.short for f in fields}
        meta = [(f.short, f.name, f.kind, f.help) for f in fields]
    else:
        long = [c for c in gdf.columns if c != "geometry" and len(c) > 10]
        if long:
            raise ExportError(
                f"layer {layer!r}: columns {long} are longer than 10 characters; give a schema"
            )
        rename, meta = {}, [(c, c, str(gdf[c].dtype), "") for c in gdf.columns if c != "geometry"]
    out = gdf.rename(columns=rename)
    for col in out.columns:
        if col != "geometry" and out[col].dtype == object:
            too_long = out[col].astype(str).str.len() > 254
            if too_long.any():
                log.warning(
                    "%s: %d value(s) of %s cut to 254 characters", target, int(too_long.sum()), col
                )
                out[col] = out[col].astype(str).str.slice(0, 254)
    for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        target.with_suffix(ext).unlink(missing_ok=True)
    out.to_file(target, driver="ESRI Shapefile", engine="pyogrio", encoding="UTF-8")
    with target.with_suffix(".fields.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["shapefile_name", "column", "type", "meaning"])
        w.writerows(meta)


def _write_kml(gdf: Any, target: Path, layer: str, name_field: str | None) -> None:
    out = gdf.copy()
    if name_field is not None:
        if name_field not in out.columns:
            raise ExportError(f"layer {layer!r} has no column {name_field!r} for KML names")
        out.insert(0, "Name", out[name_field].astype(str))
    target.unlink(missing_ok=True)
    opts = {"NameField": "Name"} if name_field is not None else {}
    out.to_file(target, driver="KML", engine="pyogrio", layer=layer, dataset_options=opts)


def _write_csv(gdf: Any, target: Path) -> None:
    import shapely

    out = gdf.drop(columns="geometry").copy()
    rep = shapely.point_on_surface(gdf.geometry.values)
    if "lon_deg" not in out.columns:
        out["lon_deg"] = shapely.get_x(rep)
    if "lat_deg" not in out.columns:
        out["lat_deg"] = shapely.get_y(rep)
    out["wkt"] = shapely.to_wkt(gdf.geometry.values, rounding_precision=8)
    out.to_csv(target, index=False)
