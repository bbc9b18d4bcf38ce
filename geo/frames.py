"""The local metric frame: a UTM zone, and the map from true-north ENU metres to UTM grid.

Geolocation works in a UTM zone picked from the data's longitude (EPSG 326xx north, 327xx
south). Attitude angles are measured from **true** north, but UTM grid north differs from it by
the meridian convergence (up to ~2-3 deg at the zone edges) and UTM distances carry the point
scale factor (0.9996-1.001). :meth:`LocalFrame.enu_to_grid_jacobian` gives the exact 2x2 map
from (east, north) metres on the ground at a point to grid metres there, computed from the
projection itself, so rays cast in ENU land at the right grid coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.errors import CrsError, GeoValueError

__all__ = ["LocalFrame", "transform_arrays", "utm_epsg_for"]


def transform_arrays(fun: Any, *arrays: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
    """Call a pyproj transform/fwd on equal-shape arrays, returning arrays of that shape.

    (pyproj takes size-1 inputs as scalars and warns about array-to-float conversion.)
    """
    shape = np.shape(arrays[0])
    flat = [np.asarray(a, dtype=np.float64).ravel() for a in arrays]
    if flat[0].size == 1:
        res = fun(*(float(a[0]) for a in flat))
        return tuple(np.full(shape, float(r)) for r in res)
    res = fun(*flat)
    return tuple(np.asarray(r, dtype=np.float64).reshape(shape) for r in res)


def utm_epsg_for(lon_deg: float, lat_deg: float) -> int:
    """EPSG code of the WGS84 UTM zone containing a point (pyproj's UTM query).

    Examples
    --------
    >>> utm_epsg_for(15.62, 48.2)  # St. Pölten
    32633
    >>> utm_epsg_for(120.95, 24.68)  # Hsinchu, Taiwan
    32651
    """
    from pyproj.aoi import AreaOfInterest
    from pyproj.database import query_utm_crs_info

    if not (-180.0 <= lon_deg <= 180.0 and -80.0 <= lat_deg <= 84.0):
        raise CrsError(
            f"no UTM zone for lon={lon_deg}, lat={lat_deg} (UTM covers -80..84 deg latitude)"
        )
    infos = query_utm_crs_info(
        datum_name="WGS 84",
        area_of_interest=AreaOfInterest(lon_deg, lat_deg, lon_deg, lat_deg),
    )
    codes = sorted(
        int(i.code)
        for i in infos
        if i.auth_name == "EPSG" and i.code[:3] in ("326", "327") and len(i.code) == 5
    )
    want = 32600 if lat_deg >= 0 else 32700
    zone = int((lon_deg + 180.0) // 6.0) % 60 + 1
    for c in codes:
        if c == want + zone:
            return c
    candidates = [c for c in codes if (c // 100) * 100 == want]
    if not candidates:
        raise CrsError(f"pyproj found no WGS84 UTM zone for lon={lon_deg}, lat={lat_deg}")
    return candidates[0]


@dataclass(frozen=True)
class LocalFrame:
    """A projected metric CRS (normally UTM) with transformers to and from WGS84.

    Parameters
    ----------
    crs : str or int or pyproj.CRS
        The projected CRS (``32633``, ``"EPSG:32633"``).

    Examples
    --------
    >>> f = LocalFrame.for_lonlat(15.62, 48.2)
    >>> f.epsg
    32633
    >>> x, y = f.from_lonlat(15.62, 48.2)
    >>> lon, lat = f.to_lonlat(x, y)
    >>> round(float(lon), 9), round(float(lat), 9)
    (15.62, 48.2)
    """

    crs: Any
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        from pyproj import CRS
        from pyproj.exceptions import CRSError

        try:
            crs = CRS.from_user_input(self.crs)
        except CRSError as exc:
            raise CrsError(f"unknown CRS {self.crs!r}: {exc}") from exc
        if not crs.is_projected:
            raise CrsError(f"the local frame needs a projected metric CRS, got {crs.name}")
        object.__setattr__(self, "crs", crs)

    @classmethod
    def for_lonlat(cls, lon_deg: float, lat_deg: float) -> LocalFrame:
        """The UTM frame containing a point."""
        return cls(utm_epsg_for(float(lon_deg), float(lat_deg)))

    @property
    def epsg(self) -> int | None:
        """EPSG code of the CRS, when it has one."""
        return self.crs.to_epsg()

    @cached_property
    def _fwd(self) -> Any:
        from pyproj import Transformer

        return Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)

    @cached_property
    def _inv(self) -> Any:
        from pyproj import Transformer

        return Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)

    def from_lonlat(
        self, lon_deg: ArrayLike, lat_deg: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """WGS84 lon/lat (degrees) to grid x (easting), y (northing) in metres."""
        lon, lat = np.broadcast_arrays(
            np.asarray(lon_deg, dtype=np.float64), np.asarray(lat_deg, dtype=np.float64)
        )
        x, y = transform_arrays(self._fwd.transform, lon, lat)
        return x, y

    def to_lonlat(
        self, x: ArrayLike, y: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Grid x, y (m) to WGS84 lon/lat (degrees)."""
        xa, ya = np.broadcast_arrays(
            np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        )
        lon, lat = transform_arrays(self._inv.transform, xa, ya)
        return lon, lat

    def enu_to_grid_jacobian(self, lon_deg: ArrayLike, lat_deg: ArrayLike) -> NDArray[np.float64]:
        """``(..., 2, 2)`` matrices J with ``d(grid x, y) = J @ d(east, north)`` (metres).

        Computed by stepping 1 m east and north along geodesics (pyproj.Geod) and projecting,
        so J holds the meridian convergence and the point scale factor.

        Examples
        --------
        On the central meridian J is the UTM scale factor 0.9996 times the identity:

        >>> J = LocalFrame(32633).enu_to_grid_jacobian(15.0, 48.0)
        >>> J.round(6) + 0.0
        array([[0.9996, 0.    ],
               [0.    , 0.9996]])
        """
        from pyproj import Geod

        lon = np.asarray(lon_deg, dtype=np.float64)
        lat = np.asarray(lat_deg, dtype=np.float64)
        lon, lat = np.broadcast_arrays(lon, lat)
        if not (np.all(np.isfinite(lon)) and np.all(np.isfinite(lat))):
            raise GeoValueError("positions must be finite to compute the local grid Jacobian")
        geod = Geod(ellps="WGS84")
        flon, flat = lon.ravel(), lat.ravel()
        step = 1.0
        x0, y0 = self.from_lonlat(flon, flat)
        out = np.empty((flon.size, 2, 2))
        for col, az in enumerate((90.0, 0.0)):
            ones = np.ones(flon.size)
            lo, la, _ = transform_arrays(geod.fwd, flon, flat, az * ones, step * ones)
            x1, y1 = self.from_lonlat(lo, la)
            lo2, la2, _ = transform_arrays(geod.fwd, flon, flat, (az + 180) * ones, step * ones)
            x2, y2 = self.from_lonlat(lo2, la2)
            out[:, 0, col] = (x1 - x2) / (2 * step)
            out[:, 1, col] = (y1 - y2) / (2 * step)
        return out.reshape(lon.shape + (2, 2))

    def convergence_deg(self, lon_deg: ArrayLike, lat_deg: ArrayLike) -> NDArray[np.float64]:
        """Meridian (grid) convergence: clockwise angle from true north to grid north (deg).

        A true bearing ``b`` is the grid bearing ``b - convergence``. Positive east of the
        central meridian in the northern hemisphere.

        Examples
        --------
        >>> float(LocalFrame(32633).convergence_deg(15.6, 48.2).round(3))
        0.447
        """
        J = self.enu_to_grid_jacobian(lon_deg, lat_deg)
        # true north (0, 1) in grid axes -> its grid bearing
        gx, gy = J[..., 0, 1], J[..., 1, 1]
        return -np.rad2deg(np.arctan2(gx, gy))
