"""A digital elevation model in the local frame, and rays cast onto it.

The DEM is held as a float64 array with NaN for no-data, in a north-up projected grid (the local
UTM frame; :meth:`Dem.open` reprojects a GeoTIFF in another CRS). Heights are sampled
bilinearly between pixel centres. Rays are marched between the heights where they cross the
DEM's maximum and minimum with safe steps (while a ray is f metres above a surface whose slope
is at most L it cannot meet it sooner than f / (L * horizontal speed + descent rate)), never
shorter than half a cell horizontally, and the first crossing is refined by the Illinois variant
of regula falsi; rays that leave the DEM, meet no-data or point above the
horizon get NaN and a :class:`~geo.ground.RayStatus` saying so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.altitude import ALT_REFS, AltRef
from geo.errors import CrsError, GeoFileNotFoundError, GeoFormatError, GeoValueError
from geo.ground import RayStatus

__all__ = ["Dem"]

_TILE = 8

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Dem:
    """Heights on a north-up grid.

    Parameters
    ----------
    heights_m : ndarray (rows, cols)
        Heights, NaN where unknown.
    x0_m, y0_m : float
        Grid coordinates of the top-left corner of the top-left cell.
    dx_m, dy_m : float
        Cell size (both positive; rows go south).
    crs : pyproj.CRS or None
        The grid's CRS (the local frame).
    alt_ref : {"ellipsoid", "msl", "takeoff"}
        Vertical reference of the heights.

    Examples
    --------
    A plane tilted 1 m per cell eastwards, 1 m cells:

    >>> h = np.tile(np.arange(10.0), (10, 1))
    >>> dem = Dem(h, 0.0, 10.0, 1.0, 1.0, None, "msl")
    >>> float(dem.height_at(3.5, 5.0))  # centre of column 3 -> 3.0, half a cell east -> 3.0
    3.0
    """

    heights_m: NDArray[np.float64]
    x0_m: float
    y0_m: float
    dx_m: float
    dy_m: float
    crs: Any
    alt_ref: AltRef
    path: str | None = None
    _zmin: float = field(default=np.nan, init=False, repr=False)
    _zmax: float = field(default=np.nan, init=False, repr=False)
    _lipschitz: float = field(default=np.nan, init=False, repr=False)
    _tile_max: NDArray[np.float64] = field(
        default_factory=lambda: np.zeros((0, 0)), init=False, repr=False
    )

    def __post_init__(self) -> None:
        h = np.asarray(self.heights_m, dtype=np.float64)
        if h.ndim != 2 or min(h.shape) < 2:
            raise GeoValueError(f"DEM heights must be a 2-D array of at least 2x2, got {h.shape}")
        if not (self.dx_m > 0 and self.dy_m > 0):
            raise GeoValueError(f"DEM cell size must be positive, got {self.dx_m}, {self.dy_m}")
        if self.alt_ref not in ALT_REFS:
            raise GeoValueError(f"alt_ref must be one of {ALT_REFS}, got {self.alt_ref!r}")
        finite = np.isfinite(h)
        if not finite.any():
            raise GeoFormatError("DEM holds no valid height", path=self.path)
        object.__setattr__(self, "heights_m", h)
        object.__setattr__(self, "_zmin", float(h[finite].min()))
        object.__setattr__(self, "_zmax", float(h[finite].max()))
        with np.errstate(invalid="ignore"):
            sx = np.nanmax(np.abs(np.diff(h, axis=1))) / self.dx_m if h.shape[1] > 1 else 0.0
            sy = np.nanmax(np.abs(np.diff(h, axis=0))) / self.dy_m if h.shape[0] > 1 else 0.0
        sx = 0.0 if not np.isfinite(sx) else sx
        sy = 0.0 if not np.isfinite(sy) else sy
        # the bilinear surface's gradient is bounded by the steepest cell edges in x and y
        object.__setattr__(self, "_lipschitz", float(np.hypot(sx, sy)))
        # highest height of each _TILE x _TILE block, with a one-cell border (bilinear samples
        # near a block edge use the neighbouring cells); no-data counts as +inf (never skipped)
        from scipy.ndimage import maximum_filter

        hd = maximum_filter(np.where(finite, h, np.inf), size=3, mode="nearest")
        r, c = h.shape
        T = _TILE
        pad = np.full((-(-r // T) * T, -(-c // T) * T), -np.inf)
        pad[:r, :c] = hd
        tiles = pad.reshape(pad.shape[0] // T, T, pad.shape[1] // T, T).max(axis=(1, 3))
        object.__setattr__(self, "_tile_max", tiles)

    # ------------------------------------------------------------------ loading
    @classmethod
    def open(
        cls,
        path: str | PathLike[str],
        alt_ref: AltRef,
        *,
        crs: Any = None,
        band: int = 1,
    ) -> Dem:
        """Read a GeoTIFF (any raster rasterio reads) into the local frame ``crs``.

        Parameters
        ----------
        path : path
            The raster.
        alt_ref : {"ellipsoid", "msl", "takeoff"}
            Vertical reference of its heights (rasters rarely say; it must be stated).
        crs : optional
            Target projected CRS; default the raster's own (which must then be projected).
            A raster in another CRS is reprojected (bilinear, same cell size).
        band : int
            Band to read.
        """
        import rasterio
        from rasterio.errors import RasterioIOError

        p = Path(path)
        if not p.is_file():
            raise GeoFileNotFoundError("DEM file not found", path=p)
        try:
            with rasterio.open(p) as ds:
                if band < 1 or band > ds.count:
                    raise GeoFormatError(
                        f"DEM has {ds.count} band(s), band {band} requested", path=p
                    )
                if ds.crs is None:
                    raise CrsError("DEM has no CRS", path=p)
                data = ds.read(band, masked=True).astype(np.float64).filled(np.nan)
                tr, src_crs = ds.transform, ds.crs
        except RasterioIOError as exc:
            raise GeoFormatError(f"not a readable raster: {exc}", path=p) from exc
        from pyproj import CRS

        target = CRS.from_user_input(crs) if crs is not None else CRS.from_user_input(src_crs)
        if not target.is_projected:
            raise CrsError(
                f"DEM CRS {target.name} is not projected; give the local frame's CRS", path=p
            )
        if CRS.from_user_input(src_crs) != target:
            data, tr = _reproject(data, tr, src_crs, target)
        if tr.b != 0 or tr.d != 0 or tr.e >= 0:
            raise GeoFormatError("DEM must be a north-up grid (no rotation)", path=p)
        return cls(data, tr.c, tr.f, tr.a, -tr.e, target, alt_ref, str(p))

    # ------------------------------------------------------------------ sampling
    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        r, c = self.heights_m.shape
        return int(r), int(c)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the grid's outer edges."""
        r, c = self.shape
        return self.x0_m, self.y0_m - r * self.dy_m, self.x0_m + c * self.dx_m, self.y0_m

    @property
    def z_range(self) -> tuple[float, float]:
        """Lowest and highest valid height."""
        return self._zmin, self._zmax

    def height_at(self, x: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
        """Bilinear height at grid positions; NaN outside the grid or next to no-data."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        r, c = self.shape
        fc = (x - self.x0_m) / self.dx_m - 0.5
        fr = (self.y0_m - y) / self.dy_m - 0.5
        inside = (fc >= -0.5) & (fc <= c - 0.5) & (fr >= -0.5) & (fr <= r - 0.5)
        fc = np.clip(fc, 0.0, c - 1.0)
        fr = np.clip(fr, 0.0, r - 1.0)
        fc = np.where(np.isfinite(fc), fc, 0.0)
        fr = np.where(np.isfinite(fr), fr, 0.0)
        c0 = np.minimum(fc.astype(np.intp), c - 2)
        r0 = np.minimum(fr.astype(np.intp), r - 2)
        ac, ar = fc - c0, fr - r0
        h = self.heights_m
        z00, z01 = h[r0, c0], h[r0, c0 + 1]
        z10, z11 = h[r0 + 1, c0], h[r0 + 1, c0 + 1]
        top = z00 + ac * (z01 - z00)
        bot = z10 + ac * (z11 - z10)
        z = top + ar * (bot - top)
        return np.where(inside, z, np.nan)

    def _tile_skip(
        self,
        ox: NDArray[np.float64],
        oy: NDArray[np.float64],
        oz: NDArray[np.float64],
        gx: NDArray[np.float64],
        gy: NDArray[np.float64],
        gz: NDArray[np.float64],
        t: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """Range a ray may advance from ``t`` by leaving the current tile entirely above its
        highest terrain (0 when it is not above it)."""
        T = _TILE
        x, y = ox + t * gx, oy + t * gy
        fc = (x - self.x0_m) / self.dx_m
        fr = (self.y0_m - y) / self.dy_m
        tiles = self._tile_max
        ti = np.clip(np.floor(fr / T).astype(np.intp), 0, tiles.shape[0] - 1)
        tj = np.clip(np.floor(fc / T).astype(np.intp), 0, tiles.shape[1] - 1)
        zt = tiles[ti, tj]
        # exit of the tile box along the ray (in cells), then in range
        with np.errstate(divide="ignore", invalid="ignore"):
            vx, vy = gx / self.dx_m, -gy / self.dy_m
            ex = np.where(
                vx > 0, ((tj + 1) * T - fc) / vx, np.where(vx < 0, (tj * T - fc) / vx, np.inf)
            )
            ey = np.where(
                vy > 0, ((ti + 1) * T - fr) / vy, np.where(vy < 0, (ti * T - fr) / vy, np.inf)
            )
        dt = np.minimum(ex, ey) + 1e-6
        z_end = oz + (t + dt) * gz
        z_low = np.minimum(oz + t * gz, z_end)
        return np.where(np.isfinite(dt) & (z_low > zt), dt, 0.0)

    # ------------------------------------------------------------------ ray casting
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
        """First intersection of each ray with the terrain (see module docstring).

        ``height_offset_m`` shifts the whole DEM up (used to propagate DEM errors).

        Examples
        --------
        >>> dem = Dem(np.full((100, 100), 10.0), 0.0, 100.0, 1.0, 1.0, None, "msl")
        >>> one = lambda v: np.array([float(v)])
        >>> t, s = dem.intersect(one(25), one(50), one(60), one(0.6), one(0), one(-0.8))
        >>> round(float(t[0]), 9), int(s[0])
        (62.5, 0)
        """
        arrs = np.broadcast_arrays(
            *(np.asarray(a, dtype=np.float64) for a in (ox, oy, oz, gx, gy, gz))
        )
        ox, oy, oz, gx, gy, gz = (a.ravel() for a in arrs)
        shape = arrs[0].shape
        n = ox.size
        off = np.broadcast_to(np.asarray(height_offset_m, dtype=np.float64), shape).ravel()
        zmin, zmax = self._zmin + off, self._zmax + off
        t = np.full(n, np.nan)
        status = np.zeros(n, dtype=np.uint8)

        bad = ~(np.isfinite(ox) & np.isfinite(oy) & np.isfinite(oz))
        bad |= ~(np.isfinite(gx) & np.isfinite(gy) & np.isfinite(gz))
        status[bad] = RayStatus.INVALID_POSE
        # interval of t where the ray is between the DEM's max and min heights
        with np.errstate(divide="ignore", invalid="ignore"):
            down = gz < -1e-12
            t_top = np.where(oz > zmax, np.where(down, (oz - zmax) / -gz, np.inf), 0.0)
            t_bot = np.where(down, (oz - zmin) / -gz, np.inf)
            # slab intersection with the grid's footprint
            xmin, ymin, xmax, ymax = self.bounds
            eps = 1e-9
            tx1 = np.where(np.abs(gx) > eps, (xmin - ox) / gx, -np.inf)
            tx2 = np.where(np.abs(gx) > eps, (xmax - ox) / gx, np.inf)
            ty1 = np.where(np.abs(gy) > eps, (ymin - oy) / gy, -np.inf)
            ty2 = np.where(np.abs(gy) > eps, (ymax - oy) / gy, np.inf)
            t_in = np.maximum(np.minimum(tx1, tx2), np.minimum(ty1, ty2))
            t_out = np.minimum(np.maximum(tx1, tx2), np.maximum(ty1, ty2))
        outside_x = (np.abs(gx) <= eps) & ((ox < xmin) | (ox > xmax))
        outside_y = (np.abs(gy) <= eps) & ((oy < ymin) | (oy > ymax))
        t_lo = np.maximum(np.maximum(t_top, t_in), 0.0)
        t_hi = np.minimum(np.minimum(t_bot, t_out), max_range_m)
        todo = status == 0
        never = todo & (~np.isfinite(t_top))  # above the highest terrain and not descending
        status[never] = RayStatus.ABOVE_HORIZON
        miss = todo & ~never & ((t_lo > t_hi) | outside_x | outside_y)
        # does it miss because it leaves the DEM, or because of the range limit?
        miss_range = miss & (t_lo > max_range_m) & (t_lo <= np.minimum(t_bot, t_out))
        status[miss & ~miss_range] = RayStatus.OUTSIDE_DEM
        status[miss_range] = RayStatus.BEYOND_MAX_RANGE
        act = np.nonzero(status == 0)[0]
        if act.size == 0:
            return t.reshape(shape), status.reshape(shape)

        def f(idx: NDArray[np.intp], tt: NDArray[np.float64]) -> NDArray[np.float64]:
            return (
                oz[idx]
                + tt * gz[idx]
                - (self.height_at(ox[idx] + tt * gx[idx], oy[idx] + tt * gy[idx]) + off[idx])
            )

        # camera already below the terrain?
        f0 = f(act, t_lo[act])
        below = f0 <= 0
        start_inside = t_lo[act] <= 1e-9
        status[act[below & start_inside]] = RayStatus.CAMERA_BELOW_GROUND
        # a ray that enters the grid from outside already below the terrain met it outside;
        # one that starts at the height of the highest terrain and is already there has hit it
        side_entry = t_in[act] > np.maximum(t_top[act], 0.0) + 1e-9
        status[act[below & ~start_inside & side_entry]] = RayStatus.OUTSIDE_DEM
        top_hit = below & ~start_inside & ~side_entry
        t[act[top_hit]] = t_lo[act[top_hit]]
        nod = np.isnan(f0)
        status[act[nod]] = RayStatus.DEM_NODATA
        keep = ~(below | nod)
        act, fa = act[keep], f0[keep]
        ta = t_lo[act]
        # march with safe steps: the terrain's slope is at most L (Lipschitz bound of the
        # bilinear surface), so while the ray is f metres above it, it cannot meet it within
        # f / (L * hs - gz) of range; never step less than half a cell horizontally
        hs = np.hypot(gx[act], gy[act])
        lip = self._lipschitz * hs - gz[act]
        dt_min = np.minimum(0.5 * min(self.dx_m, self.dy_m) / np.maximum(hs, 1e-12), t_hi[act] - ta)
        dt_min = np.maximum(dt_min, (t_hi[act] - ta) / 4096.0)
        brackets_i, brackets_a, brackets_b, brackets_fa, brackets_fb = [], [], [], [], []
        while act.size:
            dt = np.maximum(0.999 * fa / np.maximum(lip, 1e-12), dt_min)
            dt = np.maximum(
                dt,
                self._tile_skip(
                    ox[act], oy[act], oz[act] - off[act], gx[act], gy[act], gz[act], ta
                ),
            )
            tb = np.minimum(ta + dt, t_hi[act])
            fb = f(act, tb)
            crossed = fb <= 0
            nodata = np.isnan(fb)
            brackets_i.append(act[crossed])
            brackets_a.append(ta[crossed])
            brackets_b.append(tb[crossed])
            brackets_fa.append(fa[crossed])
            brackets_fb.append(fb[crossed])
            status[act[nodata]] = RayStatus.DEM_NODATA
            at_end = ~crossed & ~nodata & (tb >= t_hi[act] - 1e-9)
            ends = act[at_end]
            lim_range = t_hi[ends] >= max_range_m - 1e-9
            status[ends[~lim_range]] = RayStatus.OUTSIDE_DEM
            status[ends[lim_range]] = RayStatus.BEYOND_MAX_RANGE
            go = ~crossed & ~nodata & ~at_end
            act, ta, fa, lip, dt_min = act[go], tb[go], fb[go], lip[go], dt_min[go]
        if brackets_i:
            idx = np.concatenate(brackets_i)
            a, b = np.concatenate(brackets_a), np.concatenate(brackets_b)
            fa_, fb_ = np.concatenate(brackets_fa), np.concatenate(brackets_fb)
            t[idx] = _illinois(lambda tt: f(idx, tt), a, b, fa_, fb_)
        t = np.where(status == 0, t, np.nan)
        return t.reshape(shape), status.reshape(shape)


def _illinois(
    fun: Any,
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    fa: NDArray[np.float64],
    fb: NDArray[np.float64],
    *,
    iterations: int = 40,
    tol_m: float = 1e-6,
) -> NDArray[np.float64]:
    """Root of ``fun`` in brackets ``[a, b]`` with ``fa > 0 >= fb`` (Illinois regula falsi)."""
    a, b, fa, fb = a.copy(), b.copy(), fa.copy(), fb.copy()
    side = np.zeros(a.size, dtype=np.int8)
    c = b.copy()
    for _ in range(iterations):
        c = (a * fb - b * fa) / (fb - fa)  # fa > 0 >= fb, so the denominator is < 0
        c = np.where((c > a) & (c < b), c, 0.5 * (a + b))
        fc = fun(c)
        fc = np.where(np.isnan(fc), -1e-12, fc)  # no-data inside a bracket: keep the near end
        pos = fc > 0
        # replace the end with the same sign; halve the other end's f when it repeats
        a = np.where(pos, c, a)
        fa = np.where(pos, fc, np.where(side == -1, fa * 0.5, fa))
        b = np.where(pos, b, c)
        fb = np.where(pos, np.where(side == 1, fb * 0.5, fb), fc)
        side = np.where(pos, 1, -1).astype(np.int8)
        if np.all((b - a) < tol_m) or np.all(np.abs(fc) < 1e-9):
            break
    return c


def _reproject(
    data: NDArray[np.float64], transform: Any, src_crs: Any, dst_crs: Any
) -> tuple[NDArray[np.float64], Any]:
    from rasterio.transform import array_bounds
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    h, w = data.shape
    left, bottom, right, top = array_bounds(h, w, transform)
    dst_tr, dw, dh = calculate_default_transform(src_crs, dst_crs, w, h, left, bottom, right, top)
    out = np.full((dh, dw), np.nan)
    reproject(
        data, out, src_transform=transform, src_crs=src_crs, dst_transform=dst_tr,
        dst_crs=dst_crs, resampling=Resampling.bilinear, src_nodata=np.nan, dst_nodata=np.nan,
    )  # fmt: skip
    log.info("DEM reprojected from %s to %s (%dx%d cells)", src_crs, dst_crs, dw, dh)
    return out, dst_tr
