"""Instance masks of a frame by forward projection of the true ground outlines.

Each object's outline (grid x/y, heights from the terrain) is projected through the camera
(``CameraModel.project``, lens distortion included) and rasterised with the pixel-centre rule,
so a COCO mask is the exact geometric footprint of the defect in the image (no texel
quantisation). The world is a textured terrain surface without occluders, so every projected
pixel is visible. Outlines crossing the camera's z = 0.05 m plane are clipped first.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from numpy.typing import NDArray

from missions.sim.camera import CameraModel
from missions.sim.geodesy import LocalGrid
from missions.sim.objects import SceneObject
from missions.sim.render import CameraPose
from missions.sim.terrain import Terrain

__all__ = ["clip_near", "project_instances", "rle_of_polygon"]

F64 = NDArray[np.float64]
_NEAR = 0.05


def clip_near(pts_cam: F64, near: float = _NEAR) -> F64:
    """Sutherland-Hodgman clip of a closed polygon (camera axes) to z >= ``near``."""
    out: list[F64] = []
    n = len(pts_cam)
    for i in range(n):
        a, b = pts_cam[i], pts_cam[(i + 1) % n]
        ina, inb = a[2] >= near, b[2] >= near
        if ina:
            out.append(a)
        if ina != inb:
            t = (near - a[2]) / (b[2] - a[2])
            out.append(a + t * (b - a))
    return np.array(out) if out else np.zeros((0, 3))


def _clip_box(pts: F64, lo: F64, hi: F64) -> F64:
    """Sutherland-Hodgman clip of a 2-D polygon to the box [lo, hi]."""
    poly = pts
    for axis in (0, 1):
        for bound, keep_ge in ((lo[axis], True), (hi[axis], False)):
            if len(poly) == 0:
                return poly
            out: list[F64] = []
            n = len(poly)
            for i in range(n):
                a, b = poly[i], poly[(i + 1) % n]
                ina = a[axis] >= bound if keep_ge else a[axis] <= bound
                inb = b[axis] >= bound if keep_ge else b[axis] <= bound
                if ina:
                    out.append(a)
                if ina != inb:
                    t = (bound - a[axis]) / (b[axis] - a[axis])
                    out.append(a + t * (b - a))
            poly = np.array(out) if out else np.zeros((0, 2))
    return poly


@functools.cache
def _normalized_box(cam: CameraModel) -> tuple[F64, F64]:
    """Bounding box (undistorted normalized coordinates) of the image, 10 % larger."""
    w, h = cam.width_px, cam.height_px
    t = np.linspace(0, 1, 33)
    u = np.concatenate([t * w, t * w, np.zeros_like(t), np.full_like(t, w)]) - 0.5
    v = np.concatenate([np.zeros_like(t), np.full_like(t, h), t * h, t * h]) - 0.5
    x, y = cam.undistort(u, v)
    lo, hi = np.array([x.min(), y.min()]), np.array([x.max(), y.max()])
    pad = 0.1 * (hi - lo)
    return lo - pad, hi + pad


def rle_of_polygon(px: F64, height: int, width: int) -> dict[str, Any] | None:
    """COCO RLE, area and bbox of the pixels whose centre lies inside polygon ``px`` (u, v)."""
    from pycocotools import mask as mask_utils
    from skimage.draw import polygon as fill

    if len(px) < 3:
        return None
    rr, cc = fill(px[:, 1], px[:, 0], (height, width))
    if rr.size == 0:
        return None
    m = np.zeros((height, width), np.uint8, order="F")
    m[rr, cc] = 1
    rle = mask_utils.encode(m)
    rle["counts"] = rle["counts"].decode("ascii")
    r0, r1, c0, c1 = int(rr.min()), int(rr.max()) + 1, int(cc.min()), int(cc.max()) + 1
    return {"segmentation": rle, "area": int(rr.size), "bbox": [c0, r0, c1 - c0, r1 - r0]}


def project_instances(
    cam: CameraModel,
    pose: CameraPose,
    grid: LocalGrid,
    terrain: Terrain,
    objects: list[SceneObject],
    band: str,
    ground_xy: F64 | None = None,
) -> list[tuple[SceneObject, dict[str, Any]]]:
    """(object, {segmentation, area, bbox}) for every object of ``band`` seen in the frame.

    ``ground_xy`` (the frame's ground points, e.g. from the renderer) limits the candidates to
    objects near the footprint.
    """
    if ground_xy is not None and len(ground_xy):
        x0, y0 = ground_xy.min(axis=0) - 1.0
        x1, y1 = ground_xy.max(axis=0) + 1.0
        boxes = _boxes(objects)
        near = (boxes[:, 0] <= x1) & (boxes[:, 2] >= x0) & (boxes[:, 1] <= y1) & (boxes[:, 3] >= y0)
        objects = [objects[i] for i in np.flatnonzero(near)]
    cand = [o for o in objects if band in o.bands]
    if not cand:
        return []
    M = grid.grid_from_ned(pose.x_m, pose.y_m)
    Minv = np.linalg.inv(M)
    lo, hi = _normalized_box(cam)
    c = np.array([pose.x_m, pose.y_m, pose.z_msl_m])
    out = []
    for o in cand:
        xy = o.polygon_xy
        xyz = np.column_stack([xy, terrain.height(xy[:, 0], xy[:, 1])])
        cam_pts = ((xyz - c) @ Minv.T) @ pose.R_ned_from_cam
        if np.any(cam_pts[:, 2] < _NEAR):
            cam_pts = clip_near(cam_pts)
            if len(cam_pts) < 3:
                continue
        # clip in undistorted normalized coordinates, so that points far outside the field of
        # view never meet the distortion polynomial (which folds back at large radii)
        n = _clip_box(cam_pts[:, :2] / cam_pts[:, 2:3], lo, hi)
        if len(n) < 3:
            continue
        px = np.column_stack(cam.distort(n[:, 0], n[:, 1]))
        inst = rle_of_polygon(px, cam.height_px, cam.width_px)
        if inst is not None:
            out.append((o, inst))
    return out


def _boxes(objects: list[SceneObject]) -> F64:
    """Outline bounding boxes (n, 4), cached per object list (the scene's list is stable)."""
    key = (id(objects), len(objects))
    hit = _BOX_CACHE.get(key)
    if hit is None or hit[0] is not objects:
        arr = np.array(
            [
                [
                    o.polygon_xy[:, 0].min(),
                    o.polygon_xy[:, 1].min(),
                    o.polygon_xy[:, 0].max(),
                    o.polygon_xy[:, 1].max(),
                ]
                for o in objects
            ]
        ).reshape(-1, 4)
        hit = (objects, arr)
        _BOX_CACHE.clear()
        _BOX_CACHE[key] = hit
    return hit[1]


_BOX_CACHE: dict[tuple[int, int], tuple[list[SceneObject], F64]] = {}
