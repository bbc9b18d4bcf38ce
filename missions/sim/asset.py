"""The simulated asset: a stretch of a real line, in UTM, smoothed, with its corridor frame.

:func:`load_asset` reads any LineString/MultiLineString file (GeoJSON, GeoPackage, Shapefile),
picks one line (a feature id or index, else the longest), projects it to the UTM zone of its
centre, cuts the stretch ``[start_m - margin_m, start_m + length_m + margin_m]`` (chainage along
the source line, planar metres in UTM), resamples it every metre and smooths it so that the
corridor frame is well defined (see :class:`Corridor`). The result's polyline is exactly the
centreline that is rendered; ``asset.geojson`` in the flight folder is this polyline.

Chainage convention: ``chainage_m = chainage_start_m + distance along the smoothed polyline``
(planar UTM metres), where ``chainage_start_m`` is the source-line chainage of its first vertex.
Lateral offsets are positive to the **left** looking toward increasing chainage (as shapely's
``offset_curve``).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from missions.errors import GeometryError, SimInputNotFoundError
from missions.sim.corridor import Corridor
from missions.sim.geodesy import LocalGrid

__all__ = ["Asset", "RAIL_DEMO_GEOMETRY", "default_geometry", "load_asset", "parse_gauge_m"]

log = logging.getLogger(__name__)
F64 = NDArray[np.float64]
AssetKind = Literal["rail", "pipeline"]

_DATA = Path(__file__).resolve().parents[1] / "data"
#: Bundled demo geometry (OSM, ODbL; see missions/data/README.md).
RAIL_DEMO_GEOMETRY = _DATA / "railway_tullnerfelder_bahn.geojson"


def default_geometry(kind: AssetKind) -> Path:
    """The default line for ``kind``: the bundled OSM railway, or the Adria-Wien pipeline
    route of the shared real-data folder (``SURVEY_SHARED_DATA`` or ``../shared/data``)."""
    if kind == "rail":
        return RAIL_DEMO_GEOMETRY
    base = os.environ.get("SURVEY_SHARED_DATA")
    root = Path(base) if base else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    p = root / "geometry" / "pipelines" / "GEM_P0664_Adria-Wien_oil_pipeline.geojson"
    if not p.is_file():
        raise SimInputNotFoundError(
            "no default pipeline geometry (the shared data folder is absent); pass --geometry "
            "with a LineString file",
            path=p,
        )
    return p


@dataclass(frozen=True)
class Asset:
    """A smoothed stretch of a line asset in a UTM grid, with its corridor frame."""

    kind: AssetKind
    grid: LocalGrid
    corridor: Corridor
    chainage_start_m: float
    gauge_m: float  # rail gauge, or the pipe's outside diameter for pipelines
    name: str
    source_path: str
    source_feature: str
    source_length_m: float
    tags: dict[str, Any] = field(default_factory=dict)

    @property
    def length_m(self) -> float:
        """Length of the smoothed polyline (m)."""
        return self.corridor.length_m

    def chainage(self, s_m: ArrayLike) -> F64:
        """Chainage of corridor distances ``s_m`` (adds :attr:`chainage_start_m`)."""
        return np.asarray(s_m, float) + self.chainage_start_m

    def lonlat(self) -> tuple[F64, F64]:
        """The centreline vertices in WGS 84."""
        return self.grid.to_lonlat(self.corridor.xy[:, 0], self.corridor.xy[:, 1])


def parse_gauge_m(value: Any, default_m: float = 1.435) -> float:
    """OSM ``gauge`` tag (mm, possibly ``"760;1435"``) -> metres; the largest listed gauge.

    >>> parse_gauge_m("1435"), parse_gauge_m("760;1435"), parse_gauge_m(None)
    (1.435, 1.435, 1.435)
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return default_m
    vals = []
    for part in str(value).replace(",", ";").split(";"):
        try:
            vals.append(float(part.strip()) / 1000.0)
        except ValueError:
            continue
    good = [v for v in vals if 0.3 < v < 2.0]
    return max(good) if good else default_m


def _read_lines(path: Path, layer: str | None) -> Any:
    import geopandas as gpd

    if not path.exists():
        raise SimInputNotFoundError("geometry file does not exist", path=path)
    try:
        gdf = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise GeometryError(
            f"cannot read as a vector file (GeoJSON, GeoPackage, Shapefile): {exc}", path=path
        ) from exc
    if gdf.crs is None:
        raise GeometryError("the file has no CRS; expected e.g. EPSG:4326", path=path)
    kinds = gdf.geometry.geom_type
    lines = gdf[kinds.isin(["LineString", "MultiLineString"])]
    if lines.empty:
        found = ", ".join(sorted(set(map(str, kinds.dropna())))) or "no geometries"
        raise GeometryError(f"no LineString or MultiLineString features (found {found})", path=path)
    return lines.to_crs(4326)


def _feature_label(row: Any, index: Any) -> str:
    for key in ("id", "@id", "osm_id", "name"):
        if key in row and isinstance(row[key], str) and row[key]:
            return str(row[key])
    return f"#{index}"


def _pick(lines: Any, feature: str | None, path: Path) -> tuple[Any, Any]:
    if feature is None:
        lengths = lines.to_crs(lines.estimate_utm_crs()).length
        idx = lengths.idxmax()
        return idx, lines.loc[idx]
    for key in ("id", "@id", "osm_id", "name"):
        if key in lines.columns:
            hit = lines[lines[key].astype(str) == feature]
            if len(hit):
                return hit.index[0], hit.iloc[0]
    if feature.lstrip("#").isdigit() and int(feature.lstrip("#")) in range(len(lines)):
        i = int(feature.lstrip("#"))
        return lines.index[i], lines.iloc[i]
    raise GeometryError(
        f"no line feature {feature!r} (looked in id, @id, osm_id, name and the row index "
        f"0..{len(lines) - 1})",
        path=path,
    )


def _longest_part(geom: Any) -> Any:
    import shapely

    merged = shapely.line_merge(geom) if geom.geom_type == "MultiLineString" else geom
    if merged.geom_type == "MultiLineString":
        return max(merged.geoms, key=lambda g: g.length)
    return merged


def load_asset(
    kind: AssetKind,
    path: str | Path | None = None,
    *,
    feature: str | None = None,
    start_m: float = 0.0,
    length_m: float = 500.0,
    margin_m: float = 80.0,
    layer: str | None = None,
    smooth_m: float | None = None,
) -> Asset:
    """Load a stretch of a line asset.

    Parameters
    ----------
    kind : {"rail", "pipeline"}
    path : file with LineString/MultiLineString features; default the bundled demo line.
    feature : feature id (e.g. OSM ``way/100006586``), name, or row index; default the longest.
    start_m, length_m : the flown stretch, as chainage along the source line (m).
    margin_m : extra line kept before and after (so the cameras see the asset beyond the ends).
    smooth_m : Gaussian smoothing scale of the centreline (default 6 m rail, 12 m pipeline).

    Raises
    ------
    GeometryError
        No line features, unknown feature, or the stretch does not fit on the line.
    """
    import shapely

    if kind not in ("rail", "pipeline"):
        raise GeometryError(f"asset kind must be 'rail' or 'pipeline', got {kind!r}")
    p = Path(path) if path is not None else default_geometry(kind)
    if length_m <= 0 or start_m < 0:
        raise GeometryError(f"length_m must be > 0 and start_m >= 0 (got {length_m}, {start_m})")
    lines = _read_lines(p, layer)
    idx, row = _pick(lines, feature, p)
    geom = _longest_part(row.geometry)
    c = geom.centroid
    grid = LocalGrid.for_lonlat(c.x, c.y)
    xy = np.asarray(geom.coords)[:, :2]
    ex, ny = grid.to_grid(xy[:, 0], xy[:, 1])
    line = shapely.LineString(np.column_stack([ex, ny]))
    total = float(line.length)
    if start_m + length_m > total + 1e-6:
        raise GeometryError(
            f"the stretch {start_m:.0f}..{start_m + length_m:.0f} m is longer than the line "
            f"({total:.1f} m in EPSG:{grid.epsg})",
            path=p,
            where=_feature_label(row, idx),
        )
    a = max(0.0, start_m - margin_m)
    b = min(total, start_m + length_m + margin_m)
    part = shapely.ops.substring(line, a, b)
    sigma = smooth_m if smooth_m is not None else (6.0 if kind == "rail" else 12.0)
    corridor = Corridor.from_polyline(np.asarray(part.coords)[:, :2], smooth_m=sigma)
    tags = {k: v for k, v in row.items() if k != "geometry" and _is_set(v)}
    gauge = parse_gauge_m(tags.get("gauge")) if kind == "rail" else 0.6
    name = str(tags.get("name") or p.stem)
    log.info("asset %s: %s, %.0f m of %.0f m, EPSG:%d", kind, name, b - a, total, grid.epsg)
    return Asset(
        kind=kind,
        grid=grid,
        corridor=corridor,
        chainage_start_m=a,
        gauge_m=gauge,
        name=name,
        source_path=str(p),
        source_feature=_feature_label(row, idx),
        source_length_m=total,
        tags={k: _jsonable(v) for k, v in tags.items()},
    )


def _is_set(v: Any) -> bool:
    try:
        return not (v is None or (isinstance(v, float) and np.isnan(v)))
    except TypeError:
        return True


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v if isinstance(v, str | int | float | bool) else str(v)
