"""Altitude references: ellipsoidal, mean sea level (EGM96) and relative to take-off.

* ``"ellipsoid"``: height above the WGS84 ellipsoid (what GNSS measures).
* ``"msl"``: orthometric height above the EGM96 geoid, ``h_ellipsoid = H_msl + N``, with the
  geoid undulation ``N`` from PROJ's ``egm96_15.gtx`` grid (Debian's ``proj-data`` ships it in
  ``/usr/share/proj``; the pyproj data directory and ``PROJ_DATA`` are searched too).
* ``"takeoff"``: height above the take-off point; converting it needs the take-off point's
  own altitude in an absolute reference.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.errors import GeoFileNotFoundError, GeoValueError

__all__ = ["ALT_REFS", "AltRef", "convert_altitude", "find_geoid_grid", "geoid_height_m"]

AltRef = Literal["ellipsoid", "msl", "takeoff"]
ALT_REFS: tuple[str, ...] = ("ellipsoid", "msl", "takeoff")

_GRID = "egm96_15.gtx"


def find_geoid_grid() -> Path:
    """Path of the EGM96 15' geoid grid, or a clear error naming where it was looked for."""
    import pyproj

    dirs = [os.environ.get("PROJ_DATA"), os.environ.get("PROJ_LIB")]
    dirs += [pyproj.datadir.get_data_dir(), "/usr/share/proj", "/usr/local/share/proj"]
    tried = []
    for d in dirs:
        if d:
            for part in str(d).split(os.pathsep):
                p = Path(part) / _GRID
                tried.append(str(p))
                if p.is_file():
                    return p
    raise GeoFileNotFoundError(
        f"the EGM96 geoid grid {_GRID} was not found (install Debian's proj-data or set "
        f"PROJ_DATA); looked in: {', '.join(tried)}",
        path=_GRID,
    )


@lru_cache(maxsize=1)
def _geoid_transformer() -> Any:
    import pyproj

    grid = find_geoid_grid()
    return pyproj.Transformer.from_pipeline(f"+proj=vgridshift +grids={grid} +multiplier=1")


def geoid_height_m(lat_deg: ArrayLike, lon_deg: ArrayLike) -> NDArray[np.float64]:
    """EGM96 geoid undulation N (m): ellipsoidal height of mean sea level.

    Examples
    --------
    >>> float(geoid_height_m(0.0, 0.0).round(2))  # EGM96 at (0, 0) is 17.16 m
    17.16
    """
    lat = np.asarray(lat_deg, dtype=np.float64)
    lon = np.asarray(lon_deg, dtype=np.float64)
    lat, lon = np.broadcast_arrays(lat, lon)
    from geo.frames import transform_arrays

    _, _, n = transform_arrays(_geoid_transformer().transform, lon, lat, np.zeros(lat.shape))
    return n


def convert_altitude(
    alt_m: ArrayLike,
    from_ref: AltRef,
    to_ref: AltRef,
    lat_deg: ArrayLike,
    lon_deg: ArrayLike,
    *,
    takeoff_alt_m: float | None = None,
    takeoff_ref: AltRef | None = None,
    takeoff_lat_deg: float | None = None,
    takeoff_lon_deg: float | None = None,
) -> NDArray[np.float64]:
    """Convert altitudes between references at the given positions.

    Parameters
    ----------
    alt_m : array_like
        Altitudes in ``from_ref``.
    from_ref, to_ref : {"ellipsoid", "msl", "takeoff"}
        References.
    lat_deg, lon_deg : array_like
        Where the altitudes are (for the geoid).
    takeoff_alt_m, takeoff_ref : optional
        Absolute altitude of the take-off point (needed when ``"takeoff"`` meets an absolute
        reference); ``takeoff_ref`` must be ``"ellipsoid"`` or ``"msl"``.
    takeoff_lat_deg, takeoff_lon_deg : float, optional
        Take-off position (for the geoid there); defaults to each point's own position.

    Examples
    --------
    >>> float(convert_altitude(100.0, "msl", "ellipsoid", 0.0, 0.0).round(2))
    117.16
    >>> float(convert_altitude(30.0, "takeoff", "msl", 48.2, 15.6,
    ...                        takeoff_alt_m=270.0, takeoff_ref="msl"))
    300.0
    """
    for r in (from_ref, to_ref):
        if r not in ALT_REFS:
            raise GeoValueError(f"altitude reference must be one of {ALT_REFS}, got {r!r}")
    a = np.asarray(alt_m, dtype=np.float64)
    if from_ref == to_ref:
        return a.copy()
    if "takeoff" in (from_ref, to_ref):
        if takeoff_alt_m is None or takeoff_ref not in ("ellipsoid", "msl"):
            raise GeoValueError(
                f"converting altitude {from_ref!r} -> {to_ref!r} needs the take-off point's "
                "absolute altitude (takeoff_alt_m with takeoff_ref 'ellipsoid' or 'msl')"
            )
        tlat = lat_deg if takeoff_lat_deg is None else takeoff_lat_deg
        tlon = lon_deg if takeoff_lon_deg is None else takeoff_lon_deg
        other = to_ref if from_ref == "takeoff" else from_ref
        base = convert_altitude(takeoff_alt_m, takeoff_ref, other, tlat, tlon)
        return a + base if from_ref == "takeoff" else a - base
    n = geoid_height_m(lat_deg, lon_deg)
    return a + n if from_ref == "msl" else a - n
