"""The surveyed asset: routes with their chainage, the corridor around them, and its kind.

The ``--asset`` file is any line file :func:`geo.load_network` reads (GeoJSON, GeoPackage,
Shapefile, FlatGeobuf, KML). A line that states its own measure (properties
``chainage_start_m`` and ``chainage_crs``, as ``survey simulate`` writes ``asset.geojson``)
keeps it: chainage = start + distance along the line in that CRS. Otherwise the ways are joined
into routes (:func:`geo.build_routes`, by ``[process] asset_by``), oriented
(``chainage_towards``) and measured from ``chainage_start_m``.

The asset kind (rail or pipeline: it picks the corridor width, the thermal class and the
severity rules) comes from the file (``kind``, OSM ``railway=*`` / ``man_made=pipeline`` /
``substance``) unless given.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from survey.config import ProcessConfig
from survey.errors import SurveyError

__all__ = ["AssetError", "AssetModel", "load_asset"]

log = logging.getLogger(__name__)


class AssetError(SurveyError, ValueError):
    """The asset file cannot be used (no lines, no route, unknown kind)."""


@dataclass(frozen=True, eq=False)
class AssetModel:
    """Routes (a :class:`geo.RouteSet`) in a metric frame, the corridor half-width and kind."""

    routes: Any
    frame: Any
    kind: str
    name: str
    asset_id: str
    half_width_m: float
    source: str

    @property
    def crs(self) -> Any:
        return self.frame.crs

    def corridor(self, grow_m: float = 0.0) -> Any:
        """The corridor polygon (grid metres): every route buffered by the half-width."""
        import shapely

        return shapely.union_all(
            [
                shapely.buffer(r.line, self.half_width_m + grow_m, cap_style="flat")
                for r in self.routes.routes
            ]
        )

    def locate(self, x_m: Any, y_m: Any, max_offset_m: float) -> Any:
        """Reference grid points to the routes (:meth:`geo.RouteSet.locate`)."""
        x = np.atleast_1d(np.asarray(x_m, dtype=np.float64)).ravel()
        if x.size == 0:  # geo's RouteSet.locate does not take empty input
            from geo.linref import Referenced
            from geo.route import RouteLocation

            e, s = np.zeros(0), np.zeros(0, dtype=str)
            loc = RouteLocation(s, e, e, e, s, np.zeros(0, np.uint8), e, e)
            return Referenced(loc, e, np.zeros(0, bool))
        return self.routes.locate(x, y_m, max_offset_m=max_offset_m)

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary."""
        out = []
        for r in self.routes.routes:
            m0, m1 = r.measure_at([0.0, r.length_m])
            out.append(
                {
                    "route_id": r.route_id,
                    "name": r.name,
                    "length_m": round(r.length_m, 3),
                    "chainage_m": [round(float(m0), 3), round(float(m1), 3)],
                }
            )
        return {
            "kind": self.kind,
            "name": self.name,
            "asset_id": self.asset_id,
            "crs": self.crs.to_string(),
            "half_width_m": self.half_width_m,
            "source": self.source,
            "routes": out,
        }


def _kind_of(gdf: Any) -> str | None:
    cols = set(gdf.columns)
    for col in ("kind", "asset_kind"):
        if col in cols:
            vals = {str(v).lower() for v in gdf[col].dropna()}
            if vals & {"rail", "railway"}:
                return "rail"
            if vals & {"pipeline", "pipe"}:
                return "pipeline"
    for col in ("railway", "tag:railway"):
        if col in cols and gdf[col].notna().any():
            return "rail"
    for col in ("man_made", "tag:man_made", "substance", "tag:substance", "pipeline"):
        if col in cols and gdf[col].notna().any():
            return "pipeline"
    return None


def load_asset(path: str | Path, cfg: ProcessConfig, kind: str | None = None) -> AssetModel:
    """Routes, corridor and kind of the asset file (see the module docstring).

    Raises
    ------
    AssetError
        Unreadable file, no line, no route long enough, or an unknown asset kind.
    """
    import geopandas as gpd

    from geo.errors import GeoError
    from geo.frames import LocalFrame
    from geo.linref import RouteSet
    from geo.network import build_routes, load_network, orient_route
    from geo.route import Route

    p = Path(path)
    try:
        raw = gpd.read_file(p)
    except Exception as exc:  # pyogrio raises several types; all mean "not a GIS file"
        if not p.exists():
            raise AssetError("asset file not found", path=p) from exc
        raise AssetError(f"cannot read as a GIS line file ({exc})", path=p) from exc
    k = kind or _kind_of(raw)
    if k not in ("rail", "pipeline"):
        raise AssetError(
            "cannot tell whether the asset is a railway or a pipeline (no kind, railway=* or "
            "man_made=pipeline attribute); pass --asset-kind rail|pipeline",
            path=p,
        )
    stated = (
        "chainage_start_m" in raw.columns
        and raw["chainage_start_m"].notna().any()
        and cfg.asset_by == "auto"
    )
    try:
        if stated:
            row = raw[raw["chainage_start_m"].notna()].iloc[0]
            crs = row.get("chainage_crs") if "chainage_crs" in raw.columns else None
            if crs is None or (isinstance(crs, float) and np.isnan(crs)):
                c = raw.to_crs(4326).geometry.iloc[0].centroid
                frame = LocalFrame.for_lonlat(c.x, c.y)
            else:
                frame = LocalFrame(str(crs))
            geom = gpd.GeoSeries([row.geometry], crs=raw.crs).to_crs(frame.crs).iloc[0]
            if geom.geom_type != "LineString":
                raise AssetError(
                    f"a line with a stated chainage must be one LineString, got {geom.geom_type}",
                    path=p,
                )
            name = str(row.get("name") or p.stem)
            rid = str(row.get("route_id") or row.get("ref") or name)
            routes = [Route(rid, geom, frame.crs, float(row["chainage_start_m"]), name=name)]
        else:
            net = load_network(p)
            frame = LocalFrame(net.crs)
            by = cfg.asset_by
            if by == "auto":
                by = "ref" if "ref" in net.columns and net["ref"].notna().any() else "connectivity"
            built = build_routes(net, by=by, value=cfg.asset_value or None, min_length_m=20.0)
            routes = [
                orient_route(
                    r,
                    towards=cfg.chainage_towards or None,
                    start_measure_m=cfg.chainage_start_m,
                )
                for r in built
            ]
            name = routes[0].name or p.stem
            rid = routes[0].route_id
    except GeoError as exc:
        raise AssetError(f"no route from the asset file: {exc}", path=p) from exc
    half = cfg.corridor_half_width_m or (6.0 if k == "rail" else 15.0)
    return AssetModel(RouteSet(routes), frame, k, name, rid, half, str(p))
