"""A local metric frame for a track: the UTM zone of its longitude, via pyproj.

Positions are interpolated and compared in metres (UTM easting/northing), never in degrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["MetricFrame", "haversine_m", "utm_epsg"]

_EARTH_R_M = 6371008.8


def utm_epsg(lon_deg: float, lat_deg: float) -> int:
    """EPSG code of the WGS84 UTM zone holding a point (326xx north, 327xx south).

    Examples
    --------
    >>> utm_epsg(10.717, 55.507), utm_epsg(-58.85, -34.24)
    (32632, 32721)
    """
    if not (-180.0 <= lon_deg <= 180.0 and -90.0 <= lat_deg <= 90.0):
        raise ValueError(f"not a WGS84 position: lon={lon_deg}, lat={lat_deg}")
    zone = int((lon_deg + 180.0) // 6.0) % 60 + 1
    # Norway and Svalbard exceptions of the UTM grid
    if 56.0 <= lat_deg < 64.0 and 3.0 <= lon_deg < 12.0:
        zone = 32
    if 72.0 <= lat_deg < 84.0 and lon_deg >= 0.0:
        for lo, hi, z in ((0, 9, 31), (9, 21, 33), (21, 33, 35), (33, 42, 37)):
            if lo <= lon_deg < hi:
                zone = z
    return (32600 if lat_deg >= 0 else 32700) + zone


@lru_cache(maxsize=16)
def _transformers(epsg: int):
    from pyproj import Transformer

    fwd = Transformer.from_crs(4326, epsg, always_xy=True)
    inv = Transformer.from_crs(epsg, 4326, always_xy=True)
    return fwd, inv


@dataclass(frozen=True)
class MetricFrame:
    """Forward and inverse projection between WGS84 degrees and one UTM zone (metres).

    Examples
    --------
    >>> f = MetricFrame.around([8.0, 8.001], [47.0, 47.0])
    >>> f.epsg
    32632
    >>> x, y = f.to_xy([8.0, 8.001], [47.0, 47.0])
    >>> round(float(x[1] - x[0]), 1)
    76.0
    >>> lon, lat = f.to_lonlat(x, y)
    >>> bool(np.allclose(lon, [8.0, 8.001]) and np.allclose(lat, 47.0))
    True
    """

    epsg: int

    @classmethod
    def around(cls, lon_deg: ArrayLike, lat_deg: ArrayLike) -> MetricFrame:
        """The UTM zone of the median of the finite positions given."""
        lon = np.asarray(lon_deg, np.float64)
        lat = np.asarray(lat_deg, np.float64)
        ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
        if not ok.any():
            raise ValueError("no finite WGS84 position to pick a UTM zone from")
        return cls(utm_epsg(float(np.median(lon[ok])), float(np.median(lat[ok]))))

    def to_xy(
        self, lon_deg: ArrayLike, lat_deg: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        fwd, _ = _transformers(self.epsg)
        return _transform(fwd, lon_deg, lat_deg)

    def to_lonlat(
        self, x_m: ArrayLike, y_m: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        _, inv = _transformers(self.epsg)
        return _transform(inv, x_m, y_m)


def _transform(tr, a: ArrayLike, b: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    a2, b2 = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    if a2.size == 1:  # pyproj treats one-element arrays as scalars (and warns)
        u, v = tr.transform(float(a2.reshape(-1)[0]), float(b2.reshape(-1)[0]))
        return np.full(a2.shape, u, np.float64), np.full(a2.shape, v, np.float64)
    u, v = tr.transform(a2, b2)
    return np.asarray(u, np.float64), np.asarray(v, np.float64)


def haversine_m(
    lat1_deg: ArrayLike, lon1_deg: ArrayLike, lat2_deg: ArrayLike, lon2_deg: ArrayLike
) -> NDArray[np.float64]:
    """Great-circle distance (m) on the mean Earth sphere; fine for sanity checks, any range.

    Examples
    --------
    >>> round(float(haversine_m(0.0, 0.0, 0.0, 1.0)), 0)
    111195.0
    """
    la1, lo1, la2, lo2 = (
        np.radians(np.asarray(a, np.float64)) for a in (lat1_deg, lon1_deg, lat2_deg, lon2_deg)
    )
    a = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
    return np.asarray(2 * _EARTH_R_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))), np.float64)
