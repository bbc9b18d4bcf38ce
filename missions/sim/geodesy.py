"""The simulator's local metric frame: a UTM zone, grid convergence, scale, the EGM96 geoid.

The simulated world lives in UTM easting/northing (metres) and orthometric height above mean
sea level (EGM96). Camera and vehicle attitudes refer to **true** north and the local NED frame,
so a direction in NED is turned into grid axes with the meridian convergence and the point scale
factor of the projection (:meth:`LocalGrid.grid_from_ned`). Earth curvature is neglected inside
a camera's view (2 cm drop at 500 m).

Examples
--------
>>> g = LocalGrid.for_lonlat(15.62, 48.2)
>>> g.epsg
32633
>>> round(float(g.convergence_deg(*g.to_grid(15.62, 48.2))), 3)  # grid azimuth of true north
-0.462
>>> round(float(g.geoid_undulation_m(15.62, 48.2)), 2)     # EGM96 N at St. Poelten
46.55
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyproj
from numpy.typing import ArrayLike, NDArray

from missions.errors import SimulationError

__all__ = ["LocalGrid", "utm_epsg"]

F64 = NDArray[np.float64]
_GRID_NAMES = ("egm96_15.gtx",)


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS 84 UTM zone containing (lon, lat) (326xx north, 327xx south).

    >>> utm_epsg(15.62, 48.2), utm_epsg(-70.6, -33.4)
    (32633, 32719)
    """
    if not (-180.0 <= lon <= 180.0 and -80.0 <= lat <= 84.0):
        raise SimulationError(f"({lon}, {lat}) is outside the UTM zones (lat -80..84)")
    from pyproj.aoi import AreaOfInterest
    from pyproj.database import query_utm_crs_info

    infos = query_utm_crs_info(
        datum_name="WGS 84", area_of_interest=AreaOfInterest(lon, lat, lon, lat)
    )
    codes = sorted(int(i.code) for i in infos if i.code.startswith(("326", "327")))
    zone = int((lon + 180) // 6) + 1
    want = (32600 if lat >= 0 else 32700) + min(zone, 60)
    return want if want in codes or not codes else codes[0]


@functools.cache
def _geoid_grid() -> str:
    dirs = [
        Path(pyproj.datadir.get_data_dir()),
        Path("/usr/share/proj"),
        Path("/usr/local/share/proj"),
    ]
    for d in dirs:
        for name in _GRID_NAMES:
            if (d / name).is_file():
                return str(d / name)
    raise SimulationError(
        "the EGM96 geoid grid egm96_15.gtx was not found in "
        + ", ".join(map(str, dirs))
        + " (Debian: apt-get install proj-data)"
    )


@dataclass(frozen=True)
class LocalGrid:
    """A UTM zone and the conversions the simulator needs in it."""

    epsg: int
    _fwd: pyproj.Transformer = field(repr=False, compare=False)
    _inv: pyproj.Transformer = field(repr=False, compare=False)

    @classmethod
    def for_epsg(cls, epsg: int) -> LocalGrid:
        """The grid of a given projected CRS (normally a UTM zone)."""
        fwd = pyproj.Transformer.from_crs(4326, epsg, always_xy=True)
        inv = pyproj.Transformer.from_crs(epsg, 4326, always_xy=True)
        return cls(epsg, fwd, inv)

    @classmethod
    def for_lonlat(cls, lon: float, lat: float) -> LocalGrid:
        """The UTM zone of (lon, lat)."""
        return cls.for_epsg(utm_epsg(lon, lat))

    @property
    def crs(self) -> pyproj.CRS:
        """The projected CRS."""
        return pyproj.CRS.from_epsg(self.epsg)

    def to_grid(self, lon: ArrayLike, lat: ArrayLike) -> tuple[F64, F64]:
        """WGS 84 degrees -> grid easting, northing (m)."""
        return _apply(self._fwd, lon, lat)

    def to_lonlat(self, x: ArrayLike, y: ArrayLike) -> tuple[F64, F64]:
        """Grid easting, northing (m) -> WGS 84 lon, lat (degrees)."""
        return _apply(self._inv, x, y)

    def convergence_deg(self, x: ArrayLike, y: ArrayLike) -> F64:
        """Grid azimuth of true north at grid points (degrees; negative east of the CM, north).

        Measured numerically: the grid direction from a point to a point 1e-5 degrees north.
        """
        lon, lat = self.to_lonlat(x, y)
        x1, y1 = self.to_grid(lon, lat + 1e-5)
        return np.degrees(np.arctan2(x1 - np.asarray(x, float), y1 - np.asarray(y, float)))

    def scale_factor(self, x: ArrayLike, y: ArrayLike) -> F64:
        """Point scale factor k of the projection (grid metres per ground metre)."""
        lon, lat = self.to_lonlat(x, y)
        f = pyproj.Proj(self.crs).get_factors(lon, lat)
        return np.asarray(f.meridional_scale, float)

    def grid_from_ned(self, x: float, y: float) -> F64:
        """3x3 matrix turning a NED vector (m) at grid point (x, y) into grid (E, N, Up) metres.

        Horizontal components are rotated by the convergence and multiplied by the scale
        factor; the vertical is unchanged.

        >>> g = LocalGrid.for_epsg(32633)
        >>> M = g.grid_from_ned(500000.0, 5338000.0)       # on the central meridian
        >>> np.round(M @ [1.0, 0.0, 0.0], 4).tolist()      # north stays north (k = 0.9996)
        [0.0, 0.9996, 0.0]
        >>> (np.round(M @ [0.0, 0.0, 1.0], 4) + 0.0).tolist()  # down -> negative up
        [0.0, 0.0, -1.0]
        """
        b = math.radians(float(self.convergence_deg(x, y)))
        k = float(self.scale_factor(x, y))
        sb, cb = math.sin(b), math.cos(b)
        return np.array([[k * sb, k * cb, 0.0], [k * cb, -k * sb, 0.0], [0.0, 0.0, -1.0]])

    def geoid_undulation_m(self, lon: ArrayLike, lat: ArrayLike) -> F64:
        """EGM96 geoid height N (m): ellipsoidal height = orthometric (MSL) height + N."""
        t = _vgrid_transformer(_geoid_grid())
        lo = np.atleast_1d(np.asarray(lon, float))
        la = np.atleast_1d(np.asarray(lat, float))
        _, _, n = (
            t.transform(lo, la, np.zeros_like(lo))
            if lo.size > 1
            else t.transform(float(lo[0]), float(la[0]), 0.0)
        )
        n = np.atleast_1d(np.asarray(n, float))
        if not np.all(np.isfinite(n)):
            raise SimulationError("the EGM96 grid gives no geoid height here", path=_geoid_grid())
        return n.reshape(np.shape(lon)) if np.ndim(lon) else n[0]


def _apply(t: pyproj.Transformer, a: ArrayLike, b: ArrayLike) -> tuple[F64, F64]:
    aa, bb = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
    if aa.size == 1:  # pyproj's point path wants Python floats
        x, y = t.transform(float(aa.reshape(-1)[0]), float(bb.reshape(-1)[0]))
    else:
        x, y = t.transform(aa.reshape(-1), bb.reshape(-1))
    return np.asarray(x, float).reshape(aa.shape), np.asarray(y, float).reshape(aa.shape)


@functools.cache
def _vgrid_transformer(grid: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_pipeline(
        "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
        f"+step +proj=vgridshift +grids={grid} +multiplier=1 "
        "+step +proj=unitconvert +xy_in=rad +xy_out=deg"
    )
