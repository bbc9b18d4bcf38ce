"""Per-pixel ray casting of a camera onto the textured terrain, vectorized with ``cv2.remap``.

For a camera pose the rays of a coarse grid of pixels (every ``step_px``, one sample beyond
each image edge) are rotated into the grid frame and intersected with the terrain; their ground
points become texel coordinates of a mosaic of texture tiles, which are upsampled bilinearly to
every pixel and looked up with one ``cv2.remap``. Ray directions include the lens distortion
(they are computed once per camera by inverting the distortion model), so the rendered image is
exactly what :meth:`CameraModel.project` predicts for the ground points.

The renderer returns the raw optical image (RGB uint8 BGR, or surface temperature and
emissivity for the thermal band) and, when asked, the instance-id image of the same pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from missions.sim.camera import CameraModel
from missions.sim.geodesy import LocalGrid
from missions.sim.terrain import Terrain
from missions.sim.tiles import TileCache

__all__ = ["CameraPose", "RenderResult", "Renderer"]

F64 = NDArray[np.float64]
SKY_BGR = (235, 206, 170)


@dataclass(frozen=True)
class CameraPose:
    """Where a camera is and how it is turned: grid position and NED-from-camera rotation."""

    x_m: float
    y_m: float
    z_msl_m: float
    R_ned_from_cam: F64


@dataclass
class RenderResult:
    """One rendered frame."""

    image: NDArray[np.uint8] | None  # BGR (rgb band)
    temp_c: NDArray[np.float32] | None  # surface temperature (thermal band)
    emissivity: NDArray[np.float32] | None
    ids: NDArray[np.uint16] | None  # instance id per pixel (0 = none)
    level: int
    gsd_m: float  # ground sample distance (30th percentile over the frame)
    ground_xy: F64  # (n, 2) ground points of the coarse ray grid (for footprints)
    ground_hit: NDArray[np.bool_]


class Renderer:
    """Renders one camera over a scene's terrain and texture tiles."""

    def __init__(
        self,
        camera: CameraModel,
        terrain: Terrain,
        grid: LocalGrid,
        tiles: TileCache,
        *,
        band: str = "rgb",
        step_px: int = 16,
        max_range_m: float = 1500.0,
        oversample: float = 1.0,
    ) -> None:
        if band not in ("rgb", "thermal"):
            raise ValueError(f"band must be 'rgb' or 'thermal', got {band!r}")
        self.camera, self.terrain, self.grid, self.tiles = camera, terrain, grid, tiles
        self.band, self.step, self.max_range_m, self.oversample = (
            band,
            step_px,
            max_range_m,
            oversample,
        )
        w, h = camera.width_px, camera.height_px
        # Coarse rays at the pixel positions cv2.resize samples from when it upsamples an
        # (nv, nu) grid to (nv * step, nu * step): u_i = (i + 0.5) step - 0.5, shifted by one cell
        # so that the image lies strictly inside the grid (no clamped border cells).
        nu = int(math.ceil(w / step_px)) + 2
        nv = int(math.ceil(h / step_px)) + 2
        self._shape = (nv, nu)
        u = (np.arange(nu) - 0.5) * step_px - 0.5
        v = (np.arange(nv) - 0.5) * step_px - 0.5
        uu, vv = np.meshgrid(u, v)
        self._rays = camera.rays(uu, vv).reshape(-1, 3)  # camera axes
        self._level: int | None = None

    def ground_points(self, pose: CameraPose) -> tuple[F64, NDArray[np.bool_]]:
        """Ground points (n, 3) and hit flags of the coarse ray grid for ``pose``."""
        M = self.grid.grid_from_ned(pose.x_m, pose.y_m)
        dirs = self._rays @ (M @ pose.R_ned_from_cam).T
        origin = np.array([pose.x_m, pose.y_m, pose.z_msl_m])
        return self.terrain.intersect(origin, dirs, self.max_range_m)

    def pixel_ground(self, pose: CameraPose, u: F64, v: F64) -> tuple[F64, NDArray[np.bool_]]:
        """Ground points (n, 3) and hit flags of the rays through pixels (u, v), exactly as the
        renderer casts them (distortion, grid convergence and scale included)."""
        M = self.grid.grid_from_ned(pose.x_m, pose.y_m)
        rays = self.camera.rays(np.asarray(u, float), np.asarray(v, float)).reshape(-1, 3)
        dirs = rays @ (M @ pose.R_ned_from_cam).T
        origin = np.array([pose.x_m, pose.y_m, pose.z_msl_m])
        return self.terrain.intersect(origin, dirs, self.max_range_m)

    def _choose_level(self, pts: F64, hit: NDArray[np.bool_]) -> tuple[int, float]:
        nv, nu = self._shape
        g = pts[:, :2].reshape(nv, nu, 2)
        hh = hit.reshape(nv, nu)
        du = np.linalg.norm(np.diff(g, axis=1), axis=2)[:-1, :]
        dv = np.linalg.norm(np.diff(g, axis=0), axis=2)[:, :-1]
        ok = hh[:-1, :-1] & hh[1:, :-1] & hh[:-1, 1:]
        if not ok.any():
            return self.tiles.max_level, float("inf")
        gsd = np.sqrt(du[ok] * dv[ok]) / self.step
        g30 = float(np.percentile(gsd, 30))
        want = math.log2(max(g30 / self.oversample / self.tiles.base_res_m, 1e-9))
        lvl = self._level
        if lvl is None or abs(want - lvl) > 0.75:  # hysteresis against flicker at thresholds
            lvl = min(max(int(math.floor(want + 0.5)), 0), self.tiles.max_level)
        self._level = lvl
        return lvl, g30

    def render(self, pose: CameraPose, *, ids: bool = False) -> RenderResult:
        """Render the camera at ``pose`` (and its instance ids when ``ids``)."""
        pts, hit = self.ground_points(pose)
        level, gsd = self._choose_level(pts, hit)
        cam = self.camera
        layers = {"rgb"} if self.band == "rgb" else {"temp", "emis"}
        if ids:
            layers.add("ids_rgb" if self.band == "rgb" else "ids_thermal")
        g = pts[hit, :2]
        nv, nu = self._shape
        if g.size == 0:
            return self._empty(level, gsd, pts, hit)
        bounds = (
            float(g[:, 0].min()),
            float(g[:, 1].min()),
            float(g[:, 0].max()),
            float(g[:, 1].max()),
        )
        mos = self.tiles.mosaic(level, bounds, frozenset(layers))
        col = (pts[:, 0] - mos.x0) / mos.res - 0.5
        row = (mos.y_top - pts[:, 1]) / mos.res - 0.5
        col[~hit] = -1e4
        row[~hit] = -1e4
        coarse = np.stack([col.reshape(nv, nu), row.reshape(nv, nu)], axis=-1).astype(np.float32)
        # bilinear upsampling of both texel coordinates at once (a CV_32FC2 map), then crop
        st, h, w = self.step, cam.height_px, cam.width_px
        big = cv2.resize(coarse, (nu * st, nv * st), interpolation=cv2.INTER_LINEAR)
        maps = big[st : st + h, st : st + w]
        out = RenderResult(None, None, None, None, level, gsd, pts[:, :2], hit)
        if self.band == "rgb":
            out.image = cv2.remap(
                mos.layers["rgb"],
                maps,
                None,
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=SKY_BGR,
            )
        else:
            out.temp_c = cv2.remap(
                mos.layers["temp"],
                maps,
                None,
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=-40.0,
            )
            out.emissivity = cv2.remap(
                mos.layers["emis"],
                maps,
                None,
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=1.0,
            )
        if ids:
            name = "ids_rgb" if self.band == "rgb" else "ids_thermal"
            out.ids = cv2.remap(
                mos.layers[name],
                maps,
                None,
                cv2.INTER_NEAREST,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=0,
            )
        return out

    def _empty(self, level: int, gsd: float, pts: F64, hit: NDArray[np.bool_]) -> RenderResult:
        h, w = self.camera.height_px, self.camera.width_px
        out = RenderResult(None, None, None, None, level, gsd, pts[:, :2], hit)
        if self.band == "rgb":
            out.image = np.empty((h, w, 3), np.uint8)
            out.image[...] = SKY_BGR
        else:
            out.temp_c = np.full((h, w), -40.0, np.float32)
            out.emissivity = np.ones((h, w), np.float32)
        return out
