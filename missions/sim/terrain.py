"""Terrain models: flat, synthetic hills, or a GeoTIFF DEM; heights are metres above MSL (EGM96).

Every model answers ``height(x, y)`` for arrays of grid coordinates (the simulation's UTM zone)
and ``intersect(origin, dirs)`` for rays (first hit of the surface along each ray).

Examples
--------
>>> import numpy as np
>>> t = FlatTerrain(265.0)
>>> p, hit = t.intersect(np.array([0.0, 0.0, 295.0]), np.array([[0.6, 0.0, -0.8]]))
>>> np.round(p, 6).tolist(), hit.tolist()     # 30 m down, 22.5 m east
([[22.5, 0.0, 265.0]], [True])
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from missions.errors import SimInputNotFoundError, TerrainError

__all__ = ["FlatTerrain", "HillyTerrain", "RasterTerrain", "Terrain"]

log = logging.getLogger(__name__)
F64 = NDArray[np.float64]


class Terrain(Protocol):
    """A surface z = height(x, y) in the grid CRS (metres above MSL)."""

    def height(self, x: ArrayLike, y: ArrayLike) -> F64: ...

    def intersect(
        self, origin: F64, dirs: F64, max_range_m: float = ...
    ) -> tuple[F64, NDArray[np.bool_]]: ...

    def describe(self) -> dict[str, object]: ...


class _RayMarch:
    """First ray/surface hit by marching and bisection (any smooth height function)."""

    def height(self, x: ArrayLike, y: ArrayLike) -> F64:
        raise NotImplementedError

    def intersect(
        self, origin: F64, dirs: F64, max_range_m: float = 3000.0
    ) -> tuple[F64, NDArray[np.bool_]]:
        """Points where rays ``origin + t * dirs`` (t > 0) first meet the terrain.

        ``dirs`` (n, 3) need not be unit vectors; rays that do not reach the ground within
        ``max_range_m`` (slant range) get ``hit`` False and their last marched point.
        """
        o = np.asarray(origin, dtype=np.float64)
        d = np.asarray(dirs, dtype=np.float64)
        norm = np.linalg.norm(d, axis=1)
        # Steep rays: fixed-point iteration t <- (h(o + t d) - o_z) / d_z from the plane below
        # the camera; it converges when |slope| * tan(off-nadir angle) < 1.
        steep = d[:, 2] < -0.5 * norm
        pts = np.empty_like(d)
        hit = np.zeros(len(d), dtype=bool)
        if np.any(steep):
            ds = d[steep]
            t = (float(self.height(o[0], o[1])) - o[2]) / ds[:, 2]
            for _ in range(60):
                p = o + t[:, None] * ds
                t_new = (self.height(p[:, 0], p[:, 1]) - o[2]) / ds[:, 2]
                delta = np.max(np.abs(t_new - t)) if t.size else 0.0
                t = t_new
                if delta < 1e-9:
                    break
            p = o + t[:, None] * ds
            ok = (t > 0) & (np.abs(p[:, 2] - self.height(p[:, 0], p[:, 1])) < 1e-6)
            ok &= t * norm[steep] <= max_range_m
            idx = np.nonzero(steep)[0]
            pts[idx[ok]] = p[ok]
            hit[idx[ok]] = True
            steep[idx[~ok]] = False
        rest = ~steep
        if np.any(rest):
            pr, hr = self._march(o, d[rest], norm[rest], max_range_m)
            pts[rest], hit[rest] = pr, hr
        return pts, hit

    def _march(
        self, o: F64, d: F64, norm: F64, max_range_m: float
    ) -> tuple[F64, NDArray[np.bool_]]:
        n_steps = 96
        # geometric steps: fine near the camera, coarse far away
        ts = np.geomspace(1.0, max_range_m, n_steps) / norm[:, None] * (1 - 1e-9)
        ts = np.concatenate([np.zeros((len(d), 1)), ts], axis=1)
        lo = np.zeros(len(d))
        hi = np.full(len(d), np.nan)
        active = np.ones(len(d), dtype=bool)
        for k in range(1, n_steps + 1):
            idx = np.nonzero(active)[0]
            if idx.size == 0:
                break
            t = ts[idx, k]
            p = o + t[:, None] * d[idx]
            below = p[:, 2] <= self.height(p[:, 0], p[:, 1])
            hi[idx[below]] = t[below]
            lo[idx[~below]] = t[~below]
            active[idx[below]] = False
        hit = np.isfinite(hi)
        lo_h, hi_h = lo[hit], hi[hit]
        dh = d[hit]
        for _ in range(40):
            mid = 0.5 * (lo_h + hi_h)
            p = o + mid[:, None] * dh
            below = p[:, 2] <= self.height(p[:, 0], p[:, 1])
            hi_h = np.where(below, mid, hi_h)
            lo_h = np.where(below, lo_h, mid)
        t_all = lo.copy()
        t_all[hit] = 0.5 * (lo_h + hi_h)
        pts = o + t_all[:, None] * d
        pts[hit, 2] = self.height(pts[hit, 0], pts[hit, 1])
        return pts, hit


@dataclass(frozen=True)
class FlatTerrain:
    """A horizontal plane at ``height_m`` above MSL."""

    height_m: float = 265.0

    def height(self, x: ArrayLike, y: ArrayLike) -> F64:
        """The constant height, broadcast to the shape of x and y."""
        return np.full(np.broadcast(np.asarray(x), np.asarray(y)).shape, self.height_m)

    def intersect(
        self, origin: F64, dirs: F64, max_range_m: float = 3000.0
    ) -> tuple[F64, NDArray[np.bool_]]:
        """Closed-form ray/plane intersection (see :class:`_RayMarch` for the contract)."""
        o = np.asarray(origin, dtype=np.float64)
        d = np.asarray(dirs, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (self.height_m - o[2]) / d[:, 2]
        rng = t * np.linalg.norm(d, axis=1)
        hit = (d[:, 2] < 0) & (t > 0) & (rng <= max_range_m)
        t = np.where(hit, t, max_range_m / np.linalg.norm(d, axis=1))
        return o + t[:, None] * d, hit

    def describe(self) -> dict[str, object]:
        """JSON-ready description."""
        return {"type": "flat", "height_msl_m": self.height_m}


@dataclass(frozen=True)
class HillyTerrain(_RayMarch):
    """Smooth synthetic hills: a seeded sum of sinusoids around ``base_m``.

    ``relief_m`` is the peak-to-peak height range (about), ``wavelength_m`` the longest hill
    wavelength; slopes stay below ``pi * relief_m / wavelength_m``.
    """

    base_m: float = 265.0
    relief_m: float = 20.0
    wavelength_m: float = 600.0
    seed: int = 0
    origin_xy: tuple[float, float] = (0.0, 0.0)
    _waves: F64 = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng([self.seed, 0x7E11A])
        n = 6
        lam = self.wavelength_m / np.linspace(1.0, 3.5, n)
        az = rng.uniform(0, np.pi, n)
        amp = lam / lam.sum()
        amp *= 0.5 * self.relief_m / np.sqrt(0.5 * np.sum(amp**2)) / 2.5
        phase = rng.uniform(0, 2 * np.pi, n)
        waves = np.column_stack(
            [2 * np.pi / lam * np.sin(az), 2 * np.pi / lam * np.cos(az), amp, phase]
        )
        object.__setattr__(self, "_waves", waves)

    def height(self, x: ArrayLike, y: ArrayLike) -> F64:
        """Terrain height at grid points."""
        xa = np.asarray(x, dtype=np.float64) - self.origin_xy[0]
        ya = np.asarray(y, dtype=np.float64) - self.origin_xy[1]
        z = np.full(np.broadcast(xa, ya).shape, self.base_m)
        for kx, ky, a, ph in self._waves:
            z = z + a * np.sin(kx * xa + ky * ya + ph)
        return z

    def describe(self) -> dict[str, object]:
        """JSON-ready description (enough to rebuild it)."""
        return {
            "type": "hilly",
            "base_msl_m": self.base_m,
            "relief_m": self.relief_m,
            "wavelength_m": self.wavelength_m,
            "seed": self.seed,
            "origin_xy": list(self.origin_xy),
        }


class RasterTerrain(_RayMarch):
    """A GeoTIFF DEM, resampled bilinearly onto the simulation grid over ``bounds``.

    Parameters
    ----------
    path : the DEM (any CRS rasterio can read).
    epsg : the simulation's grid CRS.
    bounds : (xmin, ymin, xmax, ymax) in that CRS; the DEM must cover it.
    resolution_m : grid spacing of the resampled DEM (default: about the source's).
    vertical : "msl" (orthometric heights, default) or "ellipsoid" (then ``geoid_m`` is
        subtracted so that heights are MSL like the rest of the simulation).
    """

    def __init__(
        self,
        path: str | Path,
        epsg: int,
        bounds: tuple[float, float, float, float],
        *,
        resolution_m: float | None = None,
        vertical: str = "msl",
        geoid_m: float = 0.0,
    ) -> None:
        import rasterio
        from rasterio.warp import Resampling, reproject

        p = Path(path)
        if not p.exists():
            raise SimInputNotFoundError("DEM file does not exist", path=p)
        try:
            src = rasterio.open(p)
        except rasterio.errors.RasterioIOError as exc:
            raise TerrainError(f"cannot read as a raster DEM: {exc}", path=p) from exc
        with src:
            if src.crs is None:
                raise TerrainError("the DEM has no CRS", path=p)
            res = resolution_m or max(1.0, float(min(abs(src.res[0]), abs(src.res[1]))))
            if src.crs.is_geographic:
                res = resolution_m or 2.0
            x0, y0, x1, y1 = bounds
            w, h = int(np.ceil((x1 - x0) / res)) + 1, int(np.ceil((y1 - y0) / res)) + 1
            if w * h > 60_000_000:
                raise TerrainError(
                    f"the corridor needs a {w}x{h} DEM grid at {res} m; use a coarser resolution_m",
                    path=p,
                )
            from rasterio.transform import from_origin

            dst = np.full((h, w), np.nan, dtype=np.float32)
            transform = from_origin(x0 - res / 2, y1 + res / 2, res, res)
            reproject(
                rasterio.band(src, 1),
                dst,
                dst_transform=transform,
                dst_crs=f"EPSG:{epsg}",
                dst_nodata=np.nan,
                resampling=Resampling.bilinear,
            )
        frac = float(np.isnan(dst).mean())
        if frac > 0.2:
            raise TerrainError(
                f"the DEM does not cover the flight corridor ({frac:.0%} of "
                f"{x0:.0f},{y0:.0f}..{x1:.0f},{y1:.0f} in EPSG:{epsg} has no data)",
                path=p,
            )
        if frac > 0.0:
            from scipy.ndimage import distance_transform_edt

            idx = distance_transform_edt(np.isnan(dst), return_distances=False, return_indices=True)
            dst = dst[tuple(idx)]
            log.warning(
                "%s: %.1f %% of the corridor has no DEM data; filled from the nearest cells",
                p.name,
                100 * frac,
            )
        if vertical == "ellipsoid":
            dst = dst - np.float32(geoid_m)
        elif vertical != "msl":
            raise TerrainError(f"vertical must be 'msl' or 'ellipsoid', got {vertical!r}", path=p)
        self.path, self.epsg, self.res, self.vertical = str(p), epsg, res, vertical
        self._x0, self._y1, self._z = x0, y1, dst.astype(np.float64)
        log.info("DEM %s: %dx%d at %.2f m, %.1f..%.1f m", p.name, w, h, res, dst.min(), dst.max())

    def height(self, x: ArrayLike, y: ArrayLike) -> F64:
        """Bilinear DEM height; points off the grid take the nearest edge value."""
        from scipy.ndimage import map_coordinates

        xa, ya = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
        col = (xa - self._x0) / self.res
        row = (self._y1 - ya) / self.res
        z = map_coordinates(self._z, [row.reshape(-1), col.reshape(-1)], order=1, mode="nearest")
        return z.reshape(xa.shape)

    def describe(self) -> dict[str, object]:
        """JSON-ready description."""
        return {
            "type": "raster",
            "path": self.path,
            "resolution_m": self.res,
            "vertical": self.vertical,
            "min_msl_m": float(self._z.min()),
            "max_msl_m": float(self._z.max()),
        }
