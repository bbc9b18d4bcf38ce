"""Asset networks from GIS files, and continuous routes built from their ways.

:func:`load_network` reads GeoJSON, GeoPackage, Shapefile, FlatGeobuf ... (anything pyogrio
reads), keeps every attribute (OSM tags), splits multi-lines and reprojects to a metric frame.
:func:`build_routes` selects ways (by ``ref``, ``name`` or all), joins them into continuous lines
by connectivity (endpoints within ``snap_m`` are one node; gaps up to ``bridge_gap_m`` may be
bridged), takes in each connected group the longest end-to-end path (the main line; the rest,
such as a second track, becomes further routes when long enough), orients and measures it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import numpy as np

from geo.errors import CrsError, GeoFileNotFoundError, GeoFormatError, RouteError
from geo.frames import LocalFrame
from geo.route import MeasureEquation, Route

__all__ = ["SERVICE_VALUES", "build_routes", "load_network", "orient_route"]

log = logging.getLogger(__name__)

#: OSM ``service=*`` values that are not running lines.
SERVICE_VALUES: tuple[str, ...] = ("yard", "siding", "spur", "crossover")


def load_network(
    path: str | PathLike[str],
    *,
    layer: str | int | None = None,
    frame: LocalFrame | None = None,
) -> Any:
    """Read line features into a GeoDataFrame in a metric CRS (attributes kept).

    Parameters
    ----------
    path : path
        GeoJSON, GeoPackage, Shapefile, FlatGeobuf, KML...
    layer : str or int, optional
        Layer of a multi-layer file.
    frame : LocalFrame, optional
        Target frame; default the UTM zone of the data's centre.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per LineString, with an ``way_id`` column (``id``/``@id``/the row number).
    """
    import geopandas as gpd
    import pyogrio
    import shapely

    p = Path(path)
    if not p.exists():
        raise GeoFileNotFoundError("asset network file not found", path=p)
    try:
        gdf = gpd.read_file(p, layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as exc:
        raise GeoFormatError(f"cannot read as a vector GIS file: {exc}", path=p) from exc
    if gdf.crs is None:
        raise CrsError("the file has no CRS (GeoJSON without one is read as WGS84)", path=p)
    gdf = gdf[~gdf.geometry.isna() & ~gdf.geometry.is_empty]
    types = set(gdf.geom_type)
    lines = gdf[gdf.geom_type.isin(["LineString", "MultiLineString"])]
    if lines.empty:
        raise GeoFormatError(f"no line features (found {sorted(types) or 'none'})", path=p)
    if len(lines) < len(gdf):
        log.warning("%s: %d non-line features ignored", p, len(gdf) - len(lines))
    lines = lines.explode(index_parts=False).reset_index(drop=True)
    lines = lines[lines.geom_type == "LineString"].copy()
    if "way_id" not in lines.columns:
        for cand in ("id", "@id", "osm_id", "fid"):
            if cand in lines.columns:
                lines["way_id"] = lines[cand].astype(str)
                break
        else:
            lines["way_id"] = [str(i) for i in range(len(lines))]
    if frame is None:
        c = shapely.centroid(shapely.union_all(lines.to_crs(4326).geometry.envelope.values))
        frame = LocalFrame.for_lonlat(c.x, c.y)
    return lines.to_crs(frame.crs)


def _values(col: Any) -> list[list[str]]:
    """Each row's values of an attribute (``;``-separated lists split; missing -> [])."""
    return [
        [p.strip() for p in str(v).split(";") if p.strip()] if isinstance(v, str) else []
        for v in col.tolist()
    ]


def _select(gdf: Any, by: str, exclude_service: bool) -> Any:
    sel = gdf
    if exclude_service and "service" in gdf.columns:
        sel = sel[~sel["service"].isin(SERVICE_VALUES)]
    if by != "connectivity" and by not in sel.columns:
        raise RouteError(f"the network has no {by!r} attribute (columns: {list(gdf.columns)})")
    return sel


def _node_ids(ends: np.ndarray, snap_m: float) -> np.ndarray:
    """Cluster line endpoints closer than ``snap_m`` (transitively) into node ids."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = len(ends)
    pairs = (
        cKDTree(ends).query_pairs(snap_m, output_type="ndarray") if n > 1 else np.zeros((0, 2), int)
    )
    g = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, ids = connected_components(g, directed=False)
    return ids


Edge = tuple[int, int, float, int]  # from node, to node, length, way index (-1: a bridged gap)


def _longest_path(n_nodes: int, edges: list[Edge]) -> list[tuple[Edge, int, int]]:
    """A longest shortest-path between two nodes (double-sweep Dijkstra).

    Returns the edges in travel order with the node each is entered from and left to.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra

    best: dict[tuple[int, int], Edge] = {}
    for e in edges:
        for key in ((e[0], e[1]), (e[1], e[0])):
            if key not in best or best[key][2] > e[2]:
                best[key] = e
    keys = list(best)
    u = np.array([k[0] for k in keys])
    v = np.array([k[1] for k in keys])
    w = np.array([best[k][2] for k in keys]) + 1e-9
    g = coo_matrix((w, (u, v)), shape=(n_nodes, n_nodes)).tocsr()
    d0 = dijkstra(g, indices=int(edges[0][0]))
    a = int(np.argmax(np.where(np.isfinite(d0), d0, -1.0)))
    da, pred = dijkstra(g, indices=a, return_predecessors=True)
    b = int(np.argmax(np.where(np.isfinite(da), da, -1.0)))
    out: list[tuple[Edge, int, int]] = []
    node = b
    while node != a and pred[node] >= 0:
        prev = int(pred[node])
        out.append((best[(prev, node)], prev, node))
        node = prev
    return out[::-1]


def build_routes(
    network: Any,
    *,
    by: Literal["ref", "name", "connectivity"] | str = "ref",
    value: str | None = None,
    exclude_service: bool = True,
    snap_m: float = 1.0,
    bridge_gap_m: float = 0.0,
    min_length_m: float = 200.0,
    all_tracks: bool = True,
) -> list[Route]:
    """Join the network's ways into continuous routes.

    Parameters
    ----------
    network : GeoDataFrame
        From :func:`load_network` (metric CRS, ``way_id`` column).
    by : {"ref", "name", "connectivity"} or column name
        Group ways by this attribute (a ``;``-list matches each of its values), or join
        everything connected.
    value : str, optional
        Only this value of ``by`` (e.g. ``"130 01"``); default every value.
    exclude_service : bool
        Leave out yard, siding, spur and crossover tracks (OSM ``service``).
    snap_m : float
        Endpoints closer than this are the same node.
    bridge_gap_m : float
        Also join ends of separate pieces closer than this (gaps in the source data) with a
        straight segment.
    min_length_m : float
        Routes shorter than this are not built.
    all_tracks : bool
        Keep building routes from the ways left over (parallel tracks, other pieces) while
        they are long enough; else one route (the longest) per group.

    Returns
    -------
    list of Route
        Longest first; ids are ``"<value>"``, ``"<value>/2"``, ...; direction as found
        (use :func:`orient_route`).
    """
    if network is None or len(network) == 0:
        raise RouteError("the network is empty")
    crs = network.crs
    if crs is None or not crs.is_projected:
        raise CrsError("build_routes needs a network in a metric (projected) CRS")
    sel = _select(network, by, exclude_service)
    if by == "connectivity":
        groups = [("network", sel)]
    else:
        vals = _values(sel[by])
        keys = [value] if value is not None else sorted({v for vs in vals for v in vs})
        groups = [(k, sel[np.array([k in vs for vs in vals], dtype=bool)]) for k in keys]
        groups = [(k, g) for k, g in groups if not g.empty]
    if not groups or all(g.empty for _, g in groups):
        raise RouteError(f"no ways with {by} = {value!r}" if value else f"no ways with a {by}")
    routes: list[Route] = []
    for key, grp in groups:
        routes.extend(
            _routes_of_group(str(key), grp, crs, snap_m, bridge_gap_m, min_length_m, all_tracks)
        )
    routes.sort(key=lambda r: -r.length_m)
    return routes


def _routes_of_group(
    key: str, grp: Any, crs: Any, snap_m: float, bridge_gap_m: float,
    min_length_m: float, all_tracks: bool,
) -> list[Route]:  # fmt: skip
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    geoms = list(grp.geometry.values)
    ways = list(grp["way_id"].astype(str).values)
    ends = np.array([[g.coords[0][:2], g.coords[-1][:2]] for g in geoms]).reshape(-1, 2)
    nid = _node_ids(ends, snap_m)
    n_nodes = int(nid.max()) + 1
    node_xy = np.zeros((n_nodes, 2))
    node_xy[nid] = ends
    edges: list[Edge] = [
        (int(nid[2 * i]), int(nid[2 * i + 1]), float(g.length), i) for i, g in enumerate(geoms)
    ]
    if bridge_gap_m > 0:
        u = np.array([e[0] for e in edges])
        v = np.array([e[1] for e in edges])
        g = coo_matrix((np.ones(len(edges)), (u, v)), shape=(n_nodes, n_nodes))
        _, comp = connected_components(g, directed=False)
        for i, j in cKDTree(node_xy).query_pairs(bridge_gap_m, output_type="ndarray"):
            if comp[i] != comp[j]:
                edges.append((int(i), int(j), float(np.hypot(*(node_xy[i] - node_xy[j]))), -1))
    remaining = list(range(len(edges)))
    routes: list[Route] = []
    while remaining:
        live = [edges[k] for k in remaining]
        u = np.array([e[0] for e in live])
        v = np.array([e[1] for e in live])
        g = coo_matrix((np.ones(len(live)), (u, v)), shape=(n_nodes, n_nodes))
        _, comp = connected_components(g, directed=False)
        best: list[tuple[Edge, int, int]] = []
        best_len = 0.0
        for c in np.unique(comp[u]):
            path = _longest_path(n_nodes, [e for e in live if comp[e[0]] == c])
            length = sum(e[2] for e, _, _ in path)
            if length > best_len:
                best, best_len = path, length
        if best_len < min_length_m or not best:
            break
        used = {id(e) for e, _, _ in best}
        remaining = [k for k in remaining if id(edges[k]) not in used]
        rid = key if not routes else f"{key}/{len(routes) + 1}"
        routes.append(_make_route(rid, key, best, geoms, ways, grp, node_xy, crs))
        if not all_tracks:
            break
    return routes


def _make_route(
    rid: str, key: str, path: list[tuple[Edge, int, int]], geoms: list[Any], ways: list[str],
    grp: Any, node_xy: np.ndarray, crs: Any,
) -> Route:  # fmt: skip
    import shapely

    coords: list[np.ndarray] = []
    spans: list[tuple[str, float, float]] = []
    total = 0.0
    for (s, _t, _len, i), frm, to in path:
        if i >= 0:
            c = np.asarray(geoms[i].coords)[:, :2]
            if s != frm:  # the way is drawn from its 'to' node
                c = c[::-1]
        else:
            c = np.array([node_xy[frm], node_xy[to]])
        piece = float(np.sum(np.hypot(*np.diff(c, axis=0).T))) if len(c) > 1 else 0.0
        if coords:
            last = coords[-1][-1]
            if np.allclose(c[0], last, atol=1e-9):
                c = c[1:]
            else:
                total += float(np.hypot(*(c[0] - last)))  # joint inside the snap distance
        if i >= 0:
            spans.append((ways[i], total, total + piece))
        total += piece
        coords.append(c)
    line = shapely.LineString(np.vstack(coords))
    rows = grp[grp["way_id"].astype(str).isin([w for w, _, _ in spans])]
    tags: dict[str, Any] = {}
    for col in rows.columns:
        if col == "geometry":
            continue
        vals = rows[col].dropna().astype(str).unique()
        if len(vals) == 1:
            tags[col] = vals[0]
    return Route(rid, line, crs, 0.0, name=str(tags.get("name", key)), tags=tags, ways=tuple(spans))


def orient_route(
    route: Route,
    *,
    start_near: tuple[float, float] | None = None,
    towards: Literal["north", "south", "east", "west"] | None = None,
    start_measure_m: float | None = None,
    equations: Sequence[MeasureEquation] = (),
    calibration: Sequence[tuple[float, float]] = (),
) -> Route:
    """Choose the direction of increasing chainage and the measure system of a route.

    ``start_near`` (grid x, y): the end nearest to it becomes the start. ``towards``: chainage
    increases toward that compass direction. Equations and calibration apply to the
    oriented route.
    """
    from dataclasses import replace

    r = route
    c = np.asarray(route.line.coords)
    first, last = c[0, :2], c[-1, :2]
    flip = False
    if start_near is not None:
        p = np.asarray(start_near, dtype=float)
        flip = np.hypot(*(last - p)) < np.hypot(*(first - p))
    elif towards is not None:
        vec = {"north": (0, 1), "south": (0, -1), "east": (1, 0), "west": (-1, 0)}[towards]
        flip = float(np.dot(last - first, vec)) < 0
    if flip:
        r = r.reversed()
    return replace(
        r,
        start_measure_m=r.start_measure_m if start_measure_m is None else float(start_measure_m),
        equations=tuple(equations),
        calibration=tuple(calibration),
    )
