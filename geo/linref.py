"""Linear referencing against several routes: nearest route, chainage, offset, off-asset.

A point is referenced to the nearest route within ``max_offset_m``; farther points are
reported as off-asset (route ``""``, chainage NaN, ``distance_m`` to the nearest route kept),
never snapped. Where two routes are about equally near (parallel tracks), the point goes to
the nearer one and ``ambiguous`` is set when the second is within ``ambiguity_m`` of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.chainage import format_chainage
from geo.errors import GeoValueError, RouteError
from geo.route import LocateStatus, Route, RouteLocation
from geo.segments import SegmentIndex

__all__ = ["Referenced", "RouteSet"]


@dataclass(frozen=True, eq=False)
class Referenced:
    """Points referenced to a :class:`RouteSet` (struct-of-arrays)."""

    location: RouteLocation
    distance_to_route_m: NDArray[np.float64]
    ambiguous: NDArray[np.bool_]

    def labels(self, style: str = "km", *, decimals: int = 1) -> NDArray[np.str_]:
        """Chainage labels (``12+345.6``, ``13m 16c`` ...); '' off the asset."""
        return format_chainage(self.location.chainage_m, style, decimals=decimals)


class RouteSet:
    """Several routes in one metric CRS.

    Examples
    --------
    >>> import shapely
    >>> a = Route("A", shapely.LineString([(0, 0), (1000, 0)]), "EPSG:32633")
    >>> b = Route("B", shapely.LineString([(0, 100), (1000, 100)]), "EPSG:32633", 2000.0)
    >>> ref = RouteSet([a, b]).locate([10.0, 500.0, 500.0], [3.0, 98.0, 50.5], max_offset_m=30)
    >>> ref.location.route_id.tolist(), ref.location.chainage_m.tolist()
    (['A', 'B', ''], [10.0, 2500.0, nan])
    >>> ref.distance_to_route_m.round(1).tolist()
    [3.0, 2.0, 49.5]
    """

    def __init__(self, routes: Sequence[Route]) -> None:
        from pyproj import CRS

        if not routes:
            raise RouteError("a RouteSet needs at least one route")
        crs = {CRS.from_user_input(r.crs).to_wkt() for r in routes}
        if len(crs) > 1:
            raise RouteError("all routes of a RouteSet must share one CRS")
        ids = [r.route_id for r in routes]
        if len(set(ids)) != len(ids):
            raise RouteError(f"route ids must be unique, got {ids}")
        self.routes = list(routes)
        self.crs = routes[0].crs
        self._index = SegmentIndex([r.line for r in routes])

    def __len__(self) -> int:
        return len(self.routes)

    def __getitem__(self, route_id: str) -> Route:
        for r in self.routes:
            if r.route_id == route_id:
                return r
        raise KeyError(route_id)

    def locate(
        self,
        x_m: ArrayLike,
        y_m: ArrayLike,
        *,
        max_offset_m: float = 25.0,
        centre_tol_m: float = 0.75,
        ambiguity_m: float = 1.0,
        route_id: str | None = None,
    ) -> Referenced:
        """Reference grid points to their nearest route (or to ``route_id`` only)."""
        from geo.segments import SegmentHits

        x = np.atleast_1d(np.asarray(x_m, dtype=np.float64)).ravel()
        y = np.atleast_1d(np.asarray(y_m, dtype=np.float64)).ravel()
        if x.shape != y.shape:
            raise GeoValueError(f"x and y differ in size: {x.size} vs {y.size}")
        n = x.size
        finite = np.isfinite(x) & np.isfinite(y)
        xs, ys = np.where(finite, x, 0.0), np.where(finite, y, 0.0)
        h = self._index.within(xs, ys, max_offset_m + ambiguity_m)
        if route_id is not None:
            keep = h.line == self.routes.index(self[route_id])
            h = SegmentHits(*(getattr(h, f)[keep] for f in h.__dataclass_fields__))
        # best hit per point, and the best distance on any other route
        order = np.lexsort((h.dist_m, h.point))
        pts_sorted = h.point[order]
        first = np.r_[True, pts_sorted[1:] != pts_sorted[:-1]]
        best = order[first]
        best_pt = h.point[best]
        best_line = np.full(n, -1, dtype=np.intp)
        best_line[best_pt] = h.line[best]
        d1 = np.full(n, np.inf)
        d1[best_pt] = h.dist_m[best]
        other = h.line != best_line[h.point]
        d2 = np.full(n, np.inf)
        np.minimum.at(d2, h.point[other], h.dist_m[other])
        out = {
            "route_id": np.full(n, "", dtype=object),
            "distance_m": np.full(n, np.nan),
            "chainage_m": np.full(n, np.nan),
            "offset_m": np.full(n, np.nan),
            "side": np.full(n, "", dtype=object),
            "status": np.full(n, LocateStatus.OFF_ASSET, dtype=np.uint8),
            "nearest_x_m": np.full(n, np.nan),
            "nearest_y_m": np.full(n, np.nan),
        }
        for k in np.unique(best_line[best_line >= 0]):
            sel_hits = best[best_line[best_pt] == k]
            sub = SegmentHits(*(getattr(h, f)[sel_hits] for f in h.__dataclass_fields__))
            pts = sub.point
            loc = self.routes[k]._location(sub, finite[pts], max_offset_m, centre_tol_m)
            for name in out:
                out[name][pts] = getattr(loc, name)
        # points with no route within reach: how far is the nearest one?
        far = finite & (best_line < 0)
        if far.any():
            hf = self._index.nearest(xs[far], ys[far])
            d1[np.nonzero(far)[0]] = hf.dist_m
        out["status"][~finite] = LocateStatus.NO_POSITION
        off = out["status"] == LocateStatus.OFF_ASSET
        out["route_id"][off | ~finite] = ""
        out["side"][off | ~finite] = ""
        loc = RouteLocation(
            out["route_id"].astype(str), out["distance_m"], out["chainage_m"], out["offset_m"],
            out["side"].astype(str), out["status"], out["nearest_x_m"], out["nearest_y_m"],
        )  # fmt: skip
        amb = finite & ~off & (d2 - d1 <= ambiguity_m)
        return Referenced(loc, np.where(finite, d1, np.nan), amb)

    def locate_lonlat(self, lon_deg: ArrayLike, lat_deg: ArrayLike, **kw: Any) -> Referenced:
        """As :meth:`locate`, for WGS84 positions."""
        from geo.frames import LocalFrame

        x, y = LocalFrame(self.crs).from_lonlat(lon_deg, lat_deg)
        return self.locate(x, y, **kw)

    def interval(
        self, route_id: str, geometry: Any, *, max_offset_m: float = 25.0
    ) -> tuple[float, float]:
        """Chainage interval (min, max) spanned by a geometry's vertices on one route."""
        import shapely

        coords = shapely.get_coordinates(geometry)
        if coords.size == 0:
            return (np.nan, np.nan)
        loc = self[route_id].locate(coords[:, 0], coords[:, 1], max_offset_m=max_offset_m)
        ch = loc.chainage_m[np.isfinite(loc.chainage_m)]
        return (float(ch.min()), float(ch.max())) if ch.size else (np.nan, np.nan)
