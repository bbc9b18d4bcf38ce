"""Tables of the flight folder: streaming CSV, the asset line, and the ground-truth GeoPackage.

``truth/defects.gpkg`` has four layers, all in the flight's UTM CRS:

- ``defects``: one polygon per defect with ``defect_id`` (the instance id used in the COCO
  files), ``class``, ``category_id``, ``variant``, ``severity`` (1-5), ``chainage_m`` (of the
  centroid), ``chainage_from_m``/``chainage_to_m`` (extent along the line), ``offset_m``
  (centroid, positive left of the line looking toward increasing chainage), ``side``,
  ``area_m2``, ``bands``, ``delta_t_k`` (thermal classes), centroid ``lon_deg``/``lat_deg``;
- ``lookalikes``: the thermal false-alarm objects (class ``false_positive``) with the same
  columns (``variant`` = rock, vehicle, roof, manhole);
- ``asset``: the centreline that was rendered (with ``chainage_start_m``);
- ``flight_path``: the true path of the aircraft.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from missions.sim.asset import Asset
from missions.sim.classes import CLASSES
from missions.sim.objects import SceneObject

__all__ = ["CsvStream", "asset_geojson", "write_truth_gpkg"]


class CsvStream:
    """A CSV file written row by row with a fixed header (floats with given precision)."""

    def __init__(
        self, path: str | Path, columns: list[str], precision: dict[str, int] | None = None
    ) -> None:
        self.path = Path(path)
        self.columns = columns
        self.precision = precision or {}
        self._f: TextIO = open(self.path, "w", newline="", encoding="utf-8")
        self._w = csv.writer(self._f)
        self._w.writerow(columns)
        self.rows = 0

    def _fmt(self, col: str, v: Any) -> str:
        if isinstance(v, float | np.floating):
            if not np.isfinite(v):
                return ""
            return f"{float(v):.{self.precision.get(col, 6)}f}"
        return str(v)

    def write(self, **values: Any) -> None:
        """One row; missing columns stay empty."""
        self._w.writerow([self._fmt(c, values[c]) if c in values else "" for c in self.columns])
        self.rows += 1

    def write_many(self, data: dict[str, np.ndarray]) -> None:
        """Rows from parallel arrays (all columns of the header present)."""
        n = len(next(iter(data.values())))
        for i in range(n):
            self.write(**{c: data[c][i] for c in self.columns if c in data})

    def close(self) -> None:
        """Close the file."""
        self._f.close()


def _object_rows(asset: Asset, objs: list[SceneObject]) -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "defect_id",
            "class",
            "category_id",
            "variant",
            "severity",
            "chainage_m",
            "chainage_from_m",
            "chainage_to_m",
            "offset_m",
            "side",
            "area_m2",
            "bands",
            "delta_t_k",
            "lon_deg",
            "lat_deg",
            "params",
        )
    }
    for o in objs:
        c = o.polygon_xy.mean(axis=0)
        s_c, d_c, _ = asset.corridor.to_corridor([c[0]], [c[1]])
        lon, lat = asset.grid.to_lonlat(c[0], c[1])
        cols["defect_id"].append(o.id)
        cols["class"].append(o.cls)
        cols["category_id"].append(CLASSES[o.cls].id)
        cols["variant"].append(o.variant)
        cols["severity"].append(o.severity)
        cols["chainage_m"].append(float(asset.chainage(s_c[0])))
        cols["chainage_from_m"].append(float(asset.chainage(o.polygon_sd[:, 0].min())))
        cols["chainage_to_m"].append(float(asset.chainage(o.polygon_sd[:, 0].max())))
        cols["offset_m"].append(float(d_c[0]))
        cols["side"].append("left" if d_c[0] >= 0 else "right")
        cols["area_m2"].append(o.area_m2())
        cols["bands"].append(",".join(o.bands))
        cols["delta_t_k"].append(float(o.params.get("delta_t_k", np.nan)))
        cols["lon_deg"].append(float(lon))
        cols["lat_deg"].append(float(lat))
        cols["params"].append(json.dumps(o.params, sort_keys=True))
    return cols


def write_truth_gpkg(
    path: str | Path, asset: Asset, objects: list[SceneObject], path_xy: np.ndarray
) -> Path:
    """Write ``defects``, ``lookalikes``, ``asset`` and ``flight_path`` layers."""
    import geopandas as gpd
    import shapely

    crs = f"EPSG:{asset.grid.epsg}"
    out = Path(path)
    if out.exists():
        out.unlink()
    for layer, objs in (
        ("defects", [o for o in objects if o.is_defect]),
        ("lookalikes", [o for o in objects if not o.is_defect]),
    ):
        rows = _object_rows(asset, objs)
        geoms = [shapely.Polygon(o.polygon_xy) for o in objs]
        gdf = gpd.GeoDataFrame(rows, geometry=geoms, crs=crs)
        gdf.to_file(out, layer=layer, driver="GPKG")
    line = gpd.GeoDataFrame(
        {
            "name": [asset.name],
            "kind": [asset.kind],
            "chainage_start_m": [asset.chainage_start_m],
            "length_m": [asset.length_m],
            "source_feature": [asset.source_feature],
        },
        geometry=[shapely.LineString(asset.corridor.xy)],
        crs=crs,
    )
    line.to_file(out, layer="asset", driver="GPKG")
    fp = gpd.GeoDataFrame(
        {"what": ["true aircraft path"]}, geometry=[shapely.LineString(path_xy)], crs=crs
    )
    fp.to_file(out, layer="flight_path", driver="GPKG")
    return out


def asset_geojson(asset: Asset) -> dict[str, Any]:
    """The rendered centreline as a GeoJSON FeatureCollection (WGS 84, 8 decimals)."""
    lon, lat = asset.lonlat()
    props: dict[str, Any] = {
        "name": asset.name,
        "kind": asset.kind,
        "chainage_start_m": round(asset.chainage_start_m, 3),
        "length_m": round(asset.length_m, 3),
        "chainage_crs": f"EPSG:{asset.grid.epsg}",
        "chainage_note": "chainage = chainage_start_m + planar distance along this line in chainage_crs",
        "source": Path(asset.source_path).name,
        "source_feature": asset.source_feature,
    }
    if asset.kind == "rail":
        props["gauge_mm"] = round(asset.gauge_m * 1000)
    if asset.source_feature.startswith(("way/", "relation/", "node/")):
        props["attribution"] = "© OpenStreetMap contributors, ODbL 1.0"
    props.update({f"tag:{k}": v for k, v in asset.tags.items() if k not in ("name", "attribution")})
    coords = [[round(float(a), 8), round(float(b), 8)] for a, b in zip(lon, lat, strict=True)]
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": props,
                "geometry": {"type": "LineString", "coordinates": coords},
            }
        ],
    }
