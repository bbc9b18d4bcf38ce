"""GeoDataFrames from geo's results: ellipses, footprints, flight path, coverage and gaps.

The frames carry the columns of the schemas in :mod:`geo.schema`, ready for
:func:`geo.export.export_layers` and :func:`geo.maps.survey_map`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.chainage import format_chainage
from geo.coverage import Coverage
from geo.errors import GeoValueError
from geo.route import Route
from geo.uncertainty import chi2_2dof

__all__ = [
    "coverage_layers",
    "ellipse_polygons",
    "flight_path_layer",
    "footprints_layer",
    "routes_layer",
]


def ellipse_polygons(
    x_m: ArrayLike, y_m: ArrayLike, cov_m2: ArrayLike, p: float = 0.95, n_vertices: int = 48
) -> NDArray[np.object_]:
    """Polygons of the ``p`` confidence ellipses (None where the covariance is not finite).

    Examples
    --------
    >>> e = ellipse_polygons([0.0], [0.0], [np.diag([1.0, 4.0])])[0]
    >>> round(float(e.bounds[3] / np.sqrt(4 * 5.991)), 3)  # semi-axis along y = 2 * k
    1.0
    """
    import shapely

    x = np.asarray(x_m, dtype=np.float64).ravel()
    y = np.asarray(y_m, dtype=np.float64).ravel()
    c = np.asarray(cov_m2, dtype=np.float64).reshape(-1, 2, 2)
    out = np.empty(x.size, dtype=object)
    k = np.sqrt(chi2_2dof(p))
    t = np.linspace(0, 2 * np.pi, n_vertices, endpoint=False)
    circle = np.stack([np.cos(t), np.sin(t)], -1)
    for i in range(x.size):
        if not (np.isfinite(x[i]) and np.isfinite(y[i]) and np.all(np.isfinite(c[i]))):
            out[i] = None
            continue
        w, v = np.linalg.eigh(c[i])
        a = v * (k * np.sqrt(np.maximum(w, 1e-12)))
        pts = circle @ a.T + [x[i], y[i]]
        out[i] = shapely.Polygon(pts)
    return out


def footprints_layer(footprints: ArrayLike, crs: Any, **columns: ArrayLike) -> Any:
    """Frame footprints as a GeoDataFrame (rows with no footprint dropped)."""
    import geopandas as gpd

    fps = np.asarray(footprints, dtype=object).ravel()
    keep = np.array([f is not None and not f.is_empty for f in fps], dtype=bool)
    data = {}
    for k, v in columns.items():
        arr = np.asarray(v)
        if arr.shape[0] != fps.size:
            raise GeoValueError(f"column {k} has {arr.shape[0]} values for {fps.size} footprints")
        data[k] = arr[keep]
    return gpd.GeoDataFrame(data, geometry=list(fps[keep]), crs=crs)


def flight_path_layer(
    x_m: ArrayLike, y_m: ArrayLike, t_s: ArrayLike, crs: Any, flight_id: str = "flight"
) -> Any:
    """The flight path as one LineString feature (non-finite positions skipped)."""
    import geopandas as gpd
    import shapely

    x = np.asarray(x_m, dtype=np.float64).ravel()
    y = np.asarray(y_m, dtype=np.float64).ravel()
    t = np.asarray(t_s, dtype=np.float64).ravel()
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2:
        raise GeoValueError("a flight path needs at least two finite positions")
    line = shapely.LineString(np.stack([x[ok], y[ok]], -1))
    tt = t[ok]
    return gpd.GeoDataFrame(
        {
            "flight_id": [flight_id],
            "t_start_s": [float(np.nanmin(tt)) if np.isfinite(tt).any() else np.nan],
            "t_end_s": [float(np.nanmax(tt)) if np.isfinite(tt).any() else np.nan],
            "length_m": [float(line.length)],
            "n_poses": [int(ok.sum())],
        },
        geometry=[line],
        crs=crs,
    )


def routes_layer(routes: list[Route], style: str = "km") -> Any:
    """Routes as line features with their measure range."""
    import geopandas as gpd

    if not routes:
        raise GeoValueError("no routes")
    rows = []
    for r in routes:
        m0, m1 = r.measure_at([0.0, r.length_m])
        lab = format_chainage([m0, m1], style)
        rows.append(
            {"route_id": r.route_id, "name": r.name, "length_m": r.length_m,
             "chainage_start_m": float(m0), "chainage_end_m": float(m1),
             "chainage_label": f"{lab[0]} - {lab[1]}"}
        )  # fmt: skip
    return gpd.GeoDataFrame(rows, geometry=[r.line for r in routes], crs=routes[0].crs)


def coverage_layers(coverage: Coverage, route: Route, style: str = "km") -> tuple[Any, Any]:
    """Covered intervals and gaps as route-following line features."""
    import geopandas as gpd
    from shapely.ops import substring

    def lines(s: NDArray[np.float64], e: NDArray[np.float64]) -> list[Any]:
        return [substring(route.line, float(a), float(b)) for a, b in zip(s, e, strict=True)]

    def label(a: NDArray[np.float64], b: NDArray[np.float64]) -> list[str]:
        la, lb = format_chainage(a, style), format_chainage(b, style)
        return [f"{x} - {y}" for x, y in zip(la, lb, strict=True)]

    cov = gpd.GeoDataFrame(
        {
            "route_id": [route.route_id] * len(coverage.camera),
            "camera": coverage.camera,
            "chainage_start_m": coverage.start_m,
            "chainage_end_m": coverage.end_m,
            "chainage_label": label(coverage.start_m, coverage.end_m),
            "length_m": coverage.end_d_m - coverage.start_d_m,
            "gsd_m": coverage.gsd_m,
            "min_frames": coverage.min_frames,
        },
        geometry=lines(coverage.start_d_m, coverage.end_d_m),
        crs=route.crs,
    )
    gaps = gpd.GeoDataFrame(
        {
            "route_id": [route.route_id] * len(coverage.gap_camera),
            "camera": coverage.gap_camera,
            "chainage_start_m": coverage.gap_start_m,
            "chainage_end_m": coverage.gap_end_m,
            "chainage_label": label(coverage.gap_start_m, coverage.gap_end_m),
            "length_m": coverage.gap_end_d_m - coverage.gap_start_d_m,
        },
        geometry=lines(coverage.gap_start_d_m, coverage.gap_end_d_m),
        crs=route.crs,
    )
    return cov, gaps
