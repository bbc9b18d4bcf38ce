"""Write layers to GIS formats with a documented attribute schema.

Every exporter takes layers as GeoDataFrames plus a schema (a sequence of field descriptions,
see :mod:`geo.schema`), so it serves any record type. Per format:

* ``gpkg`` GeoPackage: one file, one table per layer, in the layers' own CRS (or ``crs``).
* ``geojson``: RFC 7946, always WGS84 lon/lat; one file per layer.
* ``shp`` Shapefile: one per layer; columns renamed to the schema's ``short`` names
  (<= 10 characters; a layer without a schema gets :func:`geo.schema.short_names`); strings
  over 254 characters are cut (with a warning); ``<layer>.fields.csv`` and ``<layer>.fields.txt``
  beside it map short names to columns and meanings; UTF-8 (.cpg).
* ``kml``: WGS84; the placemark name comes from ``name_field``; attributes as extended data.
* ``csv``: attributes plus ``lon_deg``/``lat_deg`` of a representative point and the geometry
  as WKT in WGS84.
* ``fgb`` FlatGeobuf: one file per layer, own CRS.

Nothing partial is left behind: every file is written into a hidden staging folder beside the
target (:func:`staged_output`) and moved into place only when all layers were written; on an
error the staging folder is removed and files from an earlier export stay as they were.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from geo.errors import ExportError
from geo.schema import FieldLike, check_schema, short_names

__all__ = ["FORMATS", "conform", "export_layers", "staged_output"]

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


@contextlib.contextmanager
def staged_output(folder: str | PathLike[str]) -> Iterator[Path]:
    """A hidden staging folder inside ``folder`` whose files move into ``folder`` on success.

    On an exception the staging folder and everything in it are removed (the exception
    propagates), so a failed export never leaves a partial set of files.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> with staged_output(d) as s:
    ...     _ = (s / "a.txt").write_text("x")
    >>> sorted(p.name for p in d.iterdir())
    ['a.txt']
    >>> try:
    ...     with staged_output(d) as s:
    ...         _ = (s / "b.txt").write_text("x")
    ...         raise RuntimeError("disk full")
    ... except RuntimeError:
    ...     pass
    >>> sorted(p.name for p in d.iterdir())
    ['a.txt']
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".partial-", dir=folder))
    try:
        yield stage
        for f in sorted(stage.iterdir()):
            dst = folder / f.name
            if dst.is_dir() and not f.is_dir():
                raise ExportError(f"cannot replace folder {dst} by a file")
            os.replace(f, dst)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


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
    with staged_output(p.parent) as stage:
        names = _write_layers(layers, stage / p.name, fmt, crs, name_field, strict)
    return [p.parent / n for n in names]


def _write_layers(
    layers: Mapping[str, tuple[Any, Sequence[FieldLike] | None]],
    p: Path,
    fmt: str,
    crs: Any,
    name_field: str | None,
    strict: bool,
) -> list[str]:
    driver = FORMATS[fmt][0]
    written: list[Path] = []
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
    return [w.name for w in written]


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
        cols = [c for c in gdf.columns if c != "geometry"]
        rename = short_names(cols)
        meta = [(rename[c], c, str(gdf[c].dtype), "") for c in cols]
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
    target.with_suffix(".fields.txt").write_text(_fields_text(target.name, layer, meta), "utf-8")


def _fields_text(shp: str, layer: str, meta: Sequence[tuple[str, str, str, str]]) -> str:
    """The Shapefile's field-name mapping as a plain-text table (for GIS users)."""
    w0 = max([10, *(len(m[0]) for m in meta)])
    w1 = max([6, *(len(m[1]) for m in meta)])
    w2 = max([4, *(len(m[2]) for m in meta)])
    lines = [
        f"{shp}: layer {layer!r}; Shapefile field names (at most 10 characters) and the",
        "full column names they stand for.",
        "",
        f"{'Shapefile':<{w0}}  {'column':<{w1}}  {'type':<{w2}}  meaning",
    ]
    lines += [f"{a:<{w0}}  {b:<{w1}}  {c:<{w2}}  {d}".rstrip() for a, b, c, d in meta]
    return "\n".join(lines) + "\n"


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
