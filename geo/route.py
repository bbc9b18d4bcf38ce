"""A route: one continuous line of an asset with its own measure (chainage).

Positions along the geometry are *distances* ``d`` (metres from the route's start, along the
line in the metric frame). The *measure* (chainage) is a piecewise-linear function of ``d``:
it starts at ``start_measure_m`` and rises one metre per metre, except where a
:class:`MeasureEquation` makes it jump (``back_m`` on the approach equals ``ahead_m`` beyond:
long or short chainage after realignments) or calibration points stretch it to the owner's
published kilometre posts.

Offsets are perpendicular distances to the line, **positive to the right** looking toward
increasing chainage; the side is ``"left"``, ``"right"``, or ``"centre"`` within
``centre_tol_m``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.errors import GeoValueError, RouteError

__all__ = ["LocateStatus", "MeasureEquation", "Route", "RouteLocation"]


class LocateStatus(IntEnum):
    """How a point relates to a route."""

    ON_ASSET = 0
    OFF_ASSET = 1
    BEYOND_START = 2
    BEYOND_END = 3
    NO_POSITION = 4


@dataclass(frozen=True)
class MeasureEquation:
    """A jump in the measure: reaching ``back_m`` the measure continues from ``ahead_m``.

    ``at_distance_m`` pins the place by distance along the geometry instead of by ``back_m``.

    Examples
    --------
    >>> MeasureEquation(back_m=1200.0, ahead_m=1250.0).ahead_m
    1250.0
    """

    back_m: float
    ahead_m: float
    at_distance_m: float | None = None


@dataclass(frozen=True, eq=False)
class RouteLocation:
    """Points located on one or more routes (struct-of-arrays)."""

    route_id: NDArray[np.str_]
    distance_m: NDArray[np.float64]
    chainage_m: NDArray[np.float64]
    offset_m: NDArray[np.float64]
    side: NDArray[np.str_]
    status: NDArray[np.uint8]
    nearest_x_m: NDArray[np.float64]
    nearest_y_m: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.distance_m.size)

    @property
    def on_asset(self) -> NDArray[np.bool_]:
        """True where the point is referenced to a route."""
        return self.status == LocateStatus.ON_ASSET


@dataclass(frozen=True, eq=False)
class Route:
    """A continuous asset line in a metric CRS with its measure system.

    Parameters
    ----------
    route_id : str
        Identifier (line ref, ELR, pipeline ID).
    line : shapely.LineString
        Geometry in ``crs``, oriented in the direction of increasing chainage.
    crs : pyproj.CRS or str
        The metric CRS of ``line``.
    start_measure_m : float
        Measure at the first vertex.
    equations : tuple of MeasureEquation
        Jumps, in order along the route.
    calibration : tuple of (distance_m, measure_m)
        Known measures at known distances (kilometre posts); between them the measure is
        interpolated linearly, beyond the last one it rises 1:1. Applied before equations.
    name : str
        Human name.
    tags : dict
        Attributes (for example the OSM tags shared by its ways).
    ways : tuple of (way_id, from_m, to_m)
        Source features and the distance interval each covers.

    Examples
    --------
    >>> import shapely
    >>> r = Route("L1", shapely.LineString([(0, 0), (1000, 0)]), "EPSG:32633", 5000.0,
    ...           equations=(MeasureEquation(5400.0, 5500.0),))
    >>> r.measure_at([100.0, 500.0, 600.0]).tolist()
    [5100.0, 5600.0, 5700.0]
    >>> loc = r.locate([300.0, 700.0], [-4.0, 2.0])
    >>> loc.chainage_m.tolist(), loc.offset_m.tolist(), loc.side.tolist()
    ([5300.0, 5800.0], [4.0, -2.0], ['right', 'left'])
    """

    route_id: str
    line: Any
    crs: Any
    start_measure_m: float = 0.0
    equations: tuple[MeasureEquation, ...] = ()
    calibration: tuple[tuple[float, float], ...] = ()
    name: str = ""
    tags: dict[str, Any] = field(default_factory=dict)
    ways: tuple[tuple[str, float, float], ...] = ()

    def __post_init__(self) -> None:
        import shapely

        if self.line is None or self.line.geom_type != "LineString" or self.line.is_empty:
            raise RouteError(f"route {self.route_id!r} needs a non-empty LineString")
        if self.line.length <= 0:
            raise RouteError(f"route {self.route_id!r} has zero length")
        shapely.prepare(self.line)
        object.__setattr__(self, "_segments", self._build_segments())

    # ------------------------------------------------------------------ measures
    @property
    def length_m(self) -> float:
        """Length of the geometry (metres of the CRS)."""
        return float(self.line.length)

    def _build_segments(self) -> NDArray[np.float64]:
        """Rows (d0, d1, m0, m1) of the piecewise-linear measure."""
        L = self.length_m
        # base mapping from calibration points
        pts = [(0.0, self.start_measure_m)]
        for d, m in sorted(self.calibration):
            if not 0.0 <= d <= L:
                raise RouteError(
                    f"route {self.route_id!r}: calibration distance {d} outside 0..{L:.1f}"
                )
            pts.append((float(d), float(m)))
        if pts[-1][0] < L:
            d_last, m_last = pts[-1]
            pts.append((L, m_last + (L - d_last)))
        base = np.array([(a[0], b[0], a[1], b[1]) for a, b in zip(pts, pts[1:], strict=False)])
        base = base[base[:, 1] > base[:, 0]]
        for eq in self.equations:
            if eq.at_distance_m is not None:
                d = float(eq.at_distance_m)
            else:
                d = self._distance_of_measure(base, eq.back_m)
            if not 0.0 < d < L:
                raise RouteError(
                    f"route {self.route_id!r}: equation {eq} falls outside the route (d={d:.1f})"
                )
            i = int(np.searchsorted(base[:, 1], d))
            d0, d1, m0, m1 = base[i]
            m_at = m0 + (m1 - m0) * (d - d0) / (d1 - d0)
            jump = eq.ahead_m - m_at
            rows = [(d0, d, m0, m_at), (d, d1, m_at + jump, m1 + jump)]
            after = base[i + 1 :].copy()
            after[:, 2:] += jump
            base = np.vstack([base[:i], [r for r in rows if r[1] > r[0]], after])
        return base

    def _distance_of_measure(self, seg: NDArray[np.float64], measure_m: float) -> float:
        lo, hi = np.minimum(seg[:, 2], seg[:, 3]), np.maximum(seg[:, 2], seg[:, 3])
        hits = np.nonzero((measure_m >= lo) & (measure_m <= hi))[0]
        if hits.size == 0:
            raise RouteError(
                f"route {self.route_id!r}: measure {measure_m:.2f} does not occur "
                f"(route measures span {seg[:, 2:].min():.2f}..{seg[:, 2:].max():.2f})"
            )
        if hits.size > 1 and not np.allclose(
            [self._d_in(seg[h], measure_m) for h in hits], self._d_in(seg[hits[0]], measure_m)
        ):
            raise RouteError(
                f"route {self.route_id!r}: measure {measure_m:.2f} occurs {hits.size} times "
                "(long chainage after an equation); give the distance instead"
            )
        return self._d_in(seg[hits[0]], measure_m)

    @staticmethod
    def _d_in(row: NDArray[np.float64], m: float) -> float:
        d0, d1, m0, m1 = row
        return float(d0 + (d1 - d0) * (m - m0) / (m1 - m0)) if m1 != m0 else float(d0)

    def measure_at(self, distance_m: ArrayLike) -> NDArray[np.float64]:
        """Measure (chainage) at distances along the geometry; outside 0..L it extends 1:1."""
        d = np.asarray(distance_m, dtype=np.float64)
        seg: NDArray[np.float64] = self._segments  # type: ignore[attr-defined]
        i = np.clip(np.searchsorted(seg[:, 1], d, side="right"), 0, len(seg) - 1)
        d0, d1, m0, m1 = seg[i].T
        slope = np.where(d1 > d0, (m1 - m0) / np.where(d1 > d0, d1 - d0, 1.0), 1.0)
        m = m0 + slope * (d - d0)
        m = np.where(d < 0, seg[0, 2] + d, m)
        return np.where(d > self.length_m, seg[-1, 3] + (d - self.length_m), m)

    def distance_of(self, measure_m: float) -> float:
        """Distance along the geometry where the measure is ``measure_m`` (unique or error)."""
        return self._distance_of_measure(self._segments, float(measure_m))  # type: ignore[attr-defined]

    def point_at(self, measure_m: float, offset_m: float = 0.0) -> tuple[float, float]:
        """Grid position at a measure, ``offset_m`` to the right (+) or left (-)."""
        import shapely

        d = self.distance_of(measure_m)
        p = shapely.line_interpolate_point(self.line, d)
        tx, ty = self._tangent(np.array([d]))
        return float(p.x + offset_m * ty[0]), float(p.y - offset_m * tx[0])

    def _tangent(self, d: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        import shapely

        h = min(0.5, self.length_m / 4)
        a = np.clip(d - h, 0.0, self.length_m - 2 * h)
        b = a + 2 * h
        pa = shapely.line_interpolate_point(self.line, a)
        pb = shapely.line_interpolate_point(self.line, b)
        dx = shapely.get_x(pb) - shapely.get_x(pa)
        dy = shapely.get_y(pb) - shapely.get_y(pa)
        n = np.hypot(dx, dy)
        return dx / n, dy / n

    def reversed(self, start_measure_m: float | None = None) -> Route:
        """The same route measured from its other end (equations and calibration dropped)."""
        import shapely

        L = self.length_m
        ways = tuple((w, L - b, L - a) for w, a, b in reversed(self.ways))
        return replace(
            self,
            line=shapely.LineString(np.asarray(self.line.coords)[::-1]),
            start_measure_m=self.start_measure_m if start_measure_m is None else start_measure_m,
            equations=(),
            calibration=(),
            ways=ways,
        )

    # ------------------------------------------------------------------ locating
    def locate(
        self,
        x_m: ArrayLike,
        y_m: ArrayLike,
        *,
        max_offset_m: float = np.inf,
        centre_tol_m: float = 0.75,
    ) -> RouteLocation:
        """Chainage, offset and side of grid points (vectorized).

        Points farther than ``max_offset_m`` are ``OFF_ASSET`` (chainage NaN, offset kept);
        points whose foot falls before the start or after the end get ``BEYOND_START`` /
        ``BEYOND_END`` with the chainage extended along the end segment (off the asset when
        more than ``max_offset_m`` beyond it).
        """
        x = np.atleast_1d(np.asarray(x_m, dtype=np.float64)).ravel()
        y = np.atleast_1d(np.asarray(y_m, dtype=np.float64)).ravel()
        if x.shape != y.shape:
            raise GeoValueError(f"x and y differ in shape: {x.shape} vs {y.shape}")
        finite = np.isfinite(x) & np.isfinite(y)
        h = self._index.nearest(np.where(finite, x, 0.0), np.where(finite, y, 0.0))
        return self._location(h, finite, max_offset_m, centre_tol_m)

    @property
    def _index(self) -> Any:
        idx = self.__dict__.get("_segidx")
        if idx is None:
            from geo.segments import SegmentIndex

            idx = SegmentIndex([self.line])
            object.__setattr__(self, "_segidx", idx)
        return idx

    def _location(
        self, h: Any, finite: NDArray[np.bool_], max_offset_m: float, centre_tol_m: float
    ) -> RouteLocation:
        n = finite.size
        before, after = h.beyond_m < 0, h.beyond_m > 0
        d_ext = h.distance_along_m + h.beyond_m
        lateral = np.where(before | after, np.abs(h.cross), h.dist_m)
        offset = -np.sign(h.cross) * lateral  # + = right of the direction of travel
        status = np.zeros(n, dtype=np.uint8)
        status[before] = LocateStatus.BEYOND_START
        status[after] = LocateStatus.BEYOND_END
        off = np.maximum(lateral, np.abs(h.beyond_m)) > max_offset_m
        status[off] = LocateStatus.OFF_ASSET
        status[~finite] = LocateStatus.NO_POSITION
        bad = off | ~finite
        chain = np.where(bad, np.nan, self.measure_at(d_ext))
        side = np.where(
            offset > centre_tol_m, "right", np.where(offset < -centre_tol_m, "left", "centre")
        )
        side = np.where(bad, "", side)
        return RouteLocation(
            np.full(n, self.route_id, dtype=object).astype(str),
            np.where(finite, d_ext, np.nan),
            chain,
            np.where(finite, offset, np.nan),
            side.astype(str),
            status,
            np.where(finite, h.foot_x_m, np.nan),
            np.where(finite, h.foot_y_m, np.nan),
        )

    def way_at(self, distance_m: ArrayLike) -> NDArray[np.str_]:
        """Source feature id at distances along the route ('' where none)."""
        d = np.atleast_1d(np.asarray(distance_m, dtype=np.float64))
        out = np.full(d.size, "", dtype=object)
        for w, a, b in self.ways:
            out[(d >= a) & (d <= b) & (out == "")] = w
        return out.astype(str)
