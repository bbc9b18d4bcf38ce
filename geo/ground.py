"""Ground surfaces that rays are cast onto, and the status code of every ray.

Rays are given in the local grid frame (see :mod:`geo.frames`): origin ``(ox, oy, oz)`` with
``oz`` in the ground's altitude reference, direction ``(gx, gy, gz)`` scaled so that the
parameter ``t`` is the true slant range in metres. A surface returns ``t`` (NaN when there is no
hit) and a :class:`RayStatus` saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.altitude import ALT_REFS, AltRef
from geo.errors import GeoValueError

__all__ = ["FlatGround", "GroundSurface", "RayStatus", "status_reason"]


class RayStatus(IntEnum):
    """Outcome of casting one ray."""

    OK = 0
    ABOVE_HORIZON = 1
    CAMERA_BELOW_GROUND = 2
    OUTSIDE_DEM = 3
    DEM_NODATA = 4
    BEYOND_MAX_RANGE = 5
    OUTSIDE_LENS_MODEL = 6
    INVALID_POSE = 7


_REASONS = {
    RayStatus.OK: "ok",
    RayStatus.ABOVE_HORIZON: "ray points at or above the horizon: it never meets the ground",
    RayStatus.CAMERA_BELOW_GROUND: "camera is at or below the ground surface",
    RayStatus.OUTSIDE_DEM: "ray leaves the DEM before meeting the terrain",
    RayStatus.DEM_NODATA: "ray meets a DEM no-data cell before the terrain",
    RayStatus.BEYOND_MAX_RANGE: "ground intersection is beyond the maximum range",
    RayStatus.OUTSIDE_LENS_MODEL: "pixel lies where the lens distortion model is not invertible",
    RayStatus.INVALID_POSE: "pose has non-finite values",
}


def status_reason(status: int) -> str:
    """Human-readable reason for a :class:`RayStatus` code.

    Examples
    --------
    >>> status_reason(RayStatus.ABOVE_HORIZON)
    'ray points at or above the horizon: it never meets the ground'
    """
    return _REASONS[RayStatus(int(status))]


@runtime_checkable
class GroundSurface(Protocol):
    """What a ground surface offers to the projector."""

    @property
    def alt_ref(self) -> AltRef:
        """Vertical reference of the surface's heights."""
        ...

    def intersect(
        self,
        ox: NDArray[np.float64],
        oy: NDArray[np.float64],
        oz: NDArray[np.float64],
        gx: NDArray[np.float64],
        gy: NDArray[np.float64],
        gz: NDArray[np.float64],
        *,
        max_range_m: float = np.inf,
        height_offset_m: float | NDArray[np.float64] = 0.0,
    ) -> tuple[NDArray[np.float64], NDArray[np.uint8]]:
        """Range ``t`` to the first hit and the status of each ray."""
        ...

    def height_at(self, x: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
        """Ground height at grid positions (NaN where unknown)."""
        ...


@dataclass(frozen=True)
class FlatGround:
    """A horizontal plane at ``alt_m`` in the reference ``alt_ref``.

    Examples
    --------
    >>> g = FlatGround(0.0, "takeoff")
    >>> t, s = g.intersect(*[np.array([v]) for v in (0, 0, 50.0, 0.6, 0, -0.8)])
    >>> float(t[0]), int(s[0])
    (62.5, 0)
    """

    alt_m: float = 0.0
    alt_ref: AltRef = "takeoff"

    def __post_init__(self) -> None:
        if self.alt_ref not in ALT_REFS:
            raise GeoValueError(f"alt_ref must be one of {ALT_REFS}, got {self.alt_ref!r}")
        if not np.isfinite(self.alt_m):
            raise GeoValueError(f"ground altitude must be finite, got {self.alt_m}")

    def height_at(self, x: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
        """The plane's height everywhere."""
        x, _ = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y))
        return np.full(x.shape, float(self.alt_m))

    def intersect(
        self,
        ox: NDArray[np.float64],
        oy: NDArray[np.float64],
        oz: NDArray[np.float64],
        gx: NDArray[np.float64],
        gy: NDArray[np.float64],
        gz: NDArray[np.float64],
        *,
        max_range_m: float = np.inf,
        height_offset_m: float | NDArray[np.float64] = 0.0,
    ) -> tuple[NDArray[np.float64], NDArray[np.uint8]]:
        """Closed-form ray/plane intersection."""
        del ox, oy, gx, gy
        h = oz - (self.alt_m + height_offset_m)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = h / -gz
        status = np.zeros(np.shape(t), dtype=np.uint8)
        status[gz >= -1e-12] = RayStatus.ABOVE_HORIZON
        status[h <= 0] = RayStatus.CAMERA_BELOW_GROUND
        status[(status == 0) & (t > max_range_m)] = RayStatus.BEYOND_MAX_RANGE
        t = np.where(status == 0, t, np.nan)
        return t, status
