"""Image outlines on the ground: frame footprints, detection polygons and masks, and GSD.

Straight image edges are not straight on the ground (lens distortion, oblique views, terrain),
so outlines are densified in the image before projection. Outline points whose rays miss the
ground (above the horizon, beyond the maximum range) are replaced by the point at the maximum
range along the ray's azimuth, so an oblique frame's footprint is closed at that range.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.errors import GeoValueError
from geo.georef import Georeferencer, PoseState
from geo.ground import RayStatus
from geo.pose import CameraPoses

__all__ = [
    "densify_ring",
    "frame_footprints",
    "gsd_at_pixels",
    "image_polygon_to_ground",
    "mask_to_ground",
]

log = logging.getLogger(__name__)


def densify_ring(ring_px: ArrayLike, max_step_px: float = 8.0) -> NDArray[np.float64]:
    """Insert points so that no edge of a closed ring is longer than ``max_step_px``.

    Examples
    --------
    >>> densify_ring([[0, 0], [10, 0], [10, 10], [0, 10]], 5.0).shape
    (8, 2)
    """
    r = np.asarray(ring_px, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] != 2 or r.shape[0] < 3:
        raise GeoValueError(f"a ring needs at least 3 (u, v) points, got shape {r.shape}")
    if np.allclose(r[0], r[-1]):
        r = r[:-1]
    nxt = np.roll(r, -1, axis=0)
    seg = np.hypot(*(nxt - r).T)
    k = np.maximum(np.ceil(seg / max_step_px).astype(int), 1)
    t = np.concatenate([np.arange(n) / n for n in k])
    start = np.repeat(r, k, axis=0)
    end = np.repeat(nxt, k, axis=0)
    return start + (end - start) * t[:, None]


def _ground_ring(
    georef: Georeferencer,
    state: PoseState,
    ring_px: NDArray[np.float64],
    pose_i: int,
    clip_range_m: float | None,
) -> NDArray[np.float64] | None:
    idx = np.full(ring_px.shape[0], pose_i, dtype=np.intp)
    rays = georef.camera.pixel_rays(ring_px[:, 0], ring_px[:, 1])
    pts = georef.cast(state, rays, idx)
    xy = np.stack([pts.x_m, pts.y_m], -1)
    miss = ~pts.ok
    if clip_range_m is not None:
        far = pts.ok & (pts.range_m > clip_range_m)
        miss = miss | far
        clip = miss & np.isin(
            pts.status, (RayStatus.OK, RayStatus.ABOVE_HORIZON, RayStatus.BEYOND_MAX_RANGE)
        )
        if clip.any():
            R, J = state.R[pose_i], state.J[pose_i]
            d = rays[clip] @ R.T
            az = np.arctan2(d[:, 1], d[:, 0])  # from north towards east
            en = clip_range_m * np.stack([np.sin(az), np.cos(az)], -1)
            gxy = en @ J.T
            xy[clip] = np.stack([state.x_m[pose_i] + gxy[:, 0], state.y_m[pose_i] + gxy[:, 1]], -1)
            miss = miss & ~clip
    xy = xy[~miss]
    return xy if xy.shape[0] >= 3 else None


def _polygon(shell: NDArray[np.float64], holes: list[NDArray[np.float64]] | None = None) -> Any:
    import shapely

    poly = shapely.Polygon(shell, holes or None)
    if not poly.is_valid:
        poly = shapely.make_valid(poly)
        polys = [g for g in getattr(poly, "geoms", [poly]) if g.geom_type == "Polygon"]
        poly = shapely.MultiPolygon(polys) if len(polys) > 1 else (polys[0] if polys else None)
    return poly


def frame_footprints(
    georef: Georeferencer,
    poses: CameraPoses | PoseState,
    *,
    per_side: int = 16,
    clip_range_m: float | None = 500.0,
) -> NDArray[np.object_]:
    """Ground footprint polygon of each pose's full frame (None where it cannot be formed).

    Parameters
    ----------
    georef : Georeferencer
        Camera, ground, frame.
    poses : CameraPoses or PoseState
        N poses.
    per_side : int
        Points per image edge.
    clip_range_m : float or None
        Border rays that miss the ground or land farther than this are put at this range
        along their azimuth; None drops them instead.

    Examples
    --------
    >>> from geo.camera import CameraModel
    >>> cam = CameraModel(1000, 500, 500.0, 500.0, 499.5, 249.5)
    >>> pose = CameraPoses.single(48.2, 15.6, 50.0, "takeoff", 0.0, -90.0, 0.0)
    >>> fp = frame_footprints(Georeferencer(cam), pose)[0]
    >>> round(fp.area / 0.9996**2)  # 100 m x 50 m at 50 m height, f = 500 px
    5000
    """
    state = poses if isinstance(poses, PoseState) else georef.prepare(poses)
    ring = georef.camera.border_pixels(per_side)
    out = np.empty(len(state), dtype=object)
    for i in range(len(state)):
        xy = _ground_ring(georef, state, ring, i, clip_range_m)
        out[i] = None if xy is None else _polygon(xy)
    return out


def image_polygon_to_ground(
    georef: Georeferencer,
    poses: CameraPoses | PoseState,
    ring_px: ArrayLike,
    pose_i: int = 0,
    *,
    holes_px: Sequence[ArrayLike] | None = None,
    max_step_px: float = 4.0,
) -> Any:
    """A polygon given in pixels (outer ring, optional holes) as a shapely polygon on the ground.

    Returns None when fewer than 3 outline points reach the ground.
    """
    state = poses if isinstance(poses, PoseState) else georef.prepare(poses)
    shell = _ground_ring(georef, state, densify_ring(ring_px, max_step_px), pose_i, None)
    if shell is None:
        return None
    holes = []
    for h in holes_px or []:
        hr = _ground_ring(georef, state, densify_ring(h, max_step_px), pose_i, None)
        if hr is not None:
            holes.append(hr)
    return _polygon(shell, holes)


def mask_to_ground(
    georef: Georeferencer,
    poses: CameraPoses | PoseState,
    mask: ArrayLike,
    pose_i: int = 0,
    *,
    simplify_px: float = 0.7,
    max_step_px: float = 4.0,
) -> Any:
    """A boolean instance mask (H, W) as a ground (Multi)Polygon, holes kept; None if empty.

    The mask is polygonized exactly along pixel edges (``rasterio.features.shapes``; islands
    inside holes become their own polygons), simplified by ``simplify_px`` (topology kept),
    densified and projected.
    """
    import shapely
    from rasterio.features import shapes

    m = np.asarray(mask)
    if m.ndim != 2:
        raise GeoValueError(f"mask must be 2-D, got shape {m.shape}")
    if m.shape != (georef.camera.height_px, georef.camera.width_px):
        raise GeoValueError(
            f"mask is {m.shape[1]}x{m.shape[0]} but the camera is "
            f"{georef.camera.width_px}x{georef.camera.height_px}"
        )
    mb = m.astype(bool)
    if not mb.any():
        return None
    state = poses if isinstance(poses, PoseState) else georef.prepare(poses)
    polys = []
    for geom, _ in shapes(mb.astype(np.uint8), mask=mb, connectivity=8):
        # pixel-corner coordinates -> OpenCV pixel-centre convention
        shell = np.asarray(geom["coordinates"][0], dtype=np.float64) - 0.5
        holes = [np.asarray(h, dtype=np.float64) - 0.5 for h in geom["coordinates"][1:]]
        if simplify_px > 0:
            sp = shapely.Polygon(shell, holes or None).simplify(simplify_px)
            if sp.is_empty or sp.geom_type != "Polygon":
                continue
            shell = np.asarray(sp.exterior.coords)
            holes = [np.asarray(r.coords) for r in sp.interiors]
        poly = image_polygon_to_ground(
            georef, state, shell, pose_i, holes_px=holes, max_step_px=max_step_px
        )
        if poly is not None and not poly.is_empty:
            polys.append(poly)
    if not polys:
        return None
    return shapely.union_all(polys) if len(polys) > 1 else polys[0]


def gsd_at_pixels(
    georef: Georeferencer,
    poses: CameraPoses | PoseState,
    u: ArrayLike,
    v: ArrayLike,
    pose_index: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Ground sample distance (m/px): square root of one pixel's area on the ground.

    Examples
    --------
    >>> from geo.camera import CameraModel
    >>> cam = CameraModel(1001, 801, 1000.0, 1000.0, 500.0, 400.0)
    >>> pose = CameraPoses.single(48.2, 15.6, 100.0, "takeoff", 0.0, -90.0, 0.0)
    >>> float(gsd_at_pixels(Georeferencer(cam), pose, [500.0], [400.0])[0].round(4))
    0.1
    """
    state = poses if isinstance(poses, PoseState) else georef.prepare(poses)
    u = np.asarray(u, dtype=np.float64).ravel()
    v = np.asarray(v, dtype=np.float64).ravel()
    idx = georef._pose_index(len(state), u.size, pose_index)
    pu = georef.pixels_to_ground(state, np.r_[u - 0.5, u + 0.5], np.r_[v, v], np.r_[idx, idx])
    pv = georef.pixels_to_ground(state, np.r_[u, u], np.r_[v - 0.5, v + 0.5], np.r_[idx, idx])
    n = u.size
    du = np.stack([pu.x_m[n:] - pu.x_m[:n], pu.y_m[n:] - pu.y_m[:n]], -1)
    dv = np.stack([pv.x_m[n:] - pv.x_m[:n], pv.y_m[n:] - pv.y_m[:n]], -1)
    # grid metres -> true metres with the local scale (determinant of J)
    scale = np.sqrt(np.abs(np.linalg.det(state.J[idx])))
    area = np.abs(du[:, 0] * dv[:, 1] - du[:, 1] * dv[:, 0])
    return np.sqrt(area) / scale
