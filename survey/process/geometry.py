"""Geometry shared by the stages: ground surface, georeferencers, footprints, corridor ROIs.

Footprints here are computed for many poses at once (one ray cast for all frames: the image
border, optionally shrunk by a margin, densified), which is what makes scoring every video
frame for coverage cheap. The region of interest of a frame is the corridor seen in it: a
coarse grid of pixels is cast to the ground and referenced to the asset; the cells within the
corridor form a boolean mask that the tiled detector and the thermal detector use.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from numpy.typing import NDArray

from survey.config import ProcessConfig

__all__ = ["border_ring", "footprints", "georeferencer", "ground_surface", "roi_masks"]

log = logging.getLogger(__name__)


def ground_surface(cfg: ProcessConfig, alt_ref: str, frame: Any) -> Any:
    """Flat ground at take-off height (relative heights), or the configured DEM."""
    from geo.ground import FlatGround

    if cfg.ground == "flat":
        if alt_ref != "takeoff":
            raise ValueError(
                "flat ground needs heights above take-off; set [process] height = relative"
            )
        return FlatGround(0.0, "takeoff")
    from geo.dem import Dem

    return Dem.open(cfg.ground, cfg.dem_vertical, crs=frame.crs)


def georeferencer(camera: Any, ground: Any, frame: Any, max_range_m: float) -> Any:
    """A :class:`geo.Georeferencer` for one stream."""
    from geo.georef import Georeferencer

    return Georeferencer(camera, ground, frame=frame, max_range_m=max_range_m)


def border_ring(width_px: int, height_px: int, margin_px: float, per_side: int) -> np.ndarray:
    """Clockwise ring of pixels ``margin_px`` inside the image border (OpenCV convention)."""
    x0, y0 = -0.5 + margin_px, -0.5 + margin_px
    x1, y1 = width_px - 0.5 - margin_px, height_px - 0.5 - margin_px
    t = np.linspace(0.0, 1.0, per_side, endpoint=False)
    top = np.stack([x0 + (x1 - x0) * t, np.full_like(t, y0)], -1)
    right = np.stack([np.full_like(t, x1), y0 + (y1 - y0) * t], -1)
    bottom = np.stack([x1 - (x1 - x0) * t, np.full_like(t, y1)], -1)
    left = np.stack([np.full_like(t, x0), y1 - (y1 - y0) * t], -1)
    return np.concatenate([top, right, bottom, left])


def footprints(
    georef: Any, state: Any, *, margin_px: float = 0.0, per_side: int = 8, max_range_m: float
) -> NDArray[np.object_]:
    """Ground polygons (grid metres) of every pose's frame (``None`` when degenerate).

    Border rays that miss the ground or land beyond ``max_range_m`` are put at that slant
    range along their azimuth (as :func:`geo.frame_footprints` does), vectorized over poses.
    """
    import shapely

    cam = georef.camera
    ring = border_ring(cam.width_px, cam.height_px, margin_px, per_side)
    k, n = len(ring), len(state)
    rays = cam.pixel_rays(ring[:, 0], ring[:, 1])
    idx = np.repeat(np.arange(n), k)
    pts = georef.cast(state, np.tile(rays, (n, 1)), idx)
    x, y = pts.x_m.copy(), pts.y_m.copy()
    miss = ~pts.ok | (pts.range_m > max_range_m)
    if miss.any():
        d = np.einsum("mij,mj->mi", state.R[idx[miss]], np.tile(rays, (n, 1))[miss])
        az = np.arctan2(d[:, 1], d[:, 0])
        horiz = max_range_m * np.stack([np.sin(az), np.cos(az)], -1)
        g = np.einsum("mij,mj->mi", state.J[idx[miss]], horiz)
        x[miss] = state.x_m[idx[miss]] + g[:, 0]
        y[miss] = state.y_m[idx[miss]] + g[:, 1]
    xy = np.stack([x, y], -1).reshape(n, k, 2)
    good = np.isfinite(xy).all(axis=(1, 2))
    out = np.full(n, None, dtype=object)
    if good.any():
        polys = shapely.polygons(xy[good])
        bad = ~shapely.is_valid(polys)
        if bad.any():
            polys[bad] = shapely.make_valid(polys[bad])
        out[good] = polys
    return out


def roi_masks(
    georef: Any,
    state: Any,
    asset: Any,
    *,
    grow_m: float,
    step_px: int,
    chainage_range: tuple[float, float] | None = None,
) -> NDArray[np.bool_]:
    """``(N, h, w)`` coarse masks: grid cells whose centre sees the corridor (+ ``grow_m``).

    Cell ``(r, c)`` covers pixels ``[r*step, (r+1)*step) x [c*step, (c+1)*step)``.
    """
    cam = georef.camera
    h = -(-cam.height_px // step_px)
    w = -(-cam.width_px // step_px)
    vv, uu = np.mgrid[0:h, 0:w]
    u = np.minimum(uu * step_px + step_px / 2 - 0.5, cam.width_px - 1).ravel().astype(float)
    v = np.minimum(vv * step_px + step_px / 2 - 0.5, cam.height_px - 1).ravel().astype(float)
    n = len(state)
    rays = cam.pixel_rays(u, v)
    out = np.zeros((n, h, w), bool)
    chunk = max(1, 200_000 // max(u.size, 1))
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        idx = np.repeat(np.arange(a, b), u.size)
        pts = georef.cast(state, np.tile(rays, (b - a, 1)), idx)
        ref = asset.locate(pts.x_m, pts.y_m, max_offset_m=asset.half_width_m + grow_m)
        ok = pts.ok & np.isfinite(ref.location.chainage_m)
        ok &= np.abs(ref.location.offset_m) <= asset.half_width_m + grow_m
        if chainage_range is not None:
            ch = ref.location.chainage_m
            ok &= (ch >= chainage_range[0] - grow_m) & (ch <= chainage_range[1] + grow_m)
        out[a:b] = ok.reshape(b - a, h, w)
    return out
