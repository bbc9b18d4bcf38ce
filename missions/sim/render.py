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
from typing import Any, cast

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


def _bounds(xy: F64) -> tuple[float, float, float, float]:
    return (
        float(xy[:, 0].min()),
        float(xy[:, 1].min()),
        float(xy[:, 0].max()),
        float(xy[:, 1].max()),
    )


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
        max_range_m: float = 800.0,
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

    def _vertex_levels(self, pts: F64, hit: NDArray[np.bool_], base: int) -> NDArray[np.int_]:
        """Texture level per coarse vertex: the frame's level, or coarser where the ground
        sample distance is at least twice its texel (far parts of oblique views)."""
        nv, nu = self._shape
        g = pts[:, :2].reshape(nv, nu, 2)
        gu = np.linalg.norm(np.gradient(g, axis=1), axis=2)
        gv = np.linalg.norm(np.gradient(g, axis=0), axis=2)
        gsd = np.sqrt(gu * gv) / self.step / self.oversample
        with np.errstate(divide="ignore", invalid="ignore"):
            lv = np.floor(np.log2(np.maximum(gsd, 1e-9) / self.tiles.base_res_m))
        top = self.tiles.max_level
        lv = np.where(np.isfinite(lv), lv, top)
        lv = np.clip(lv, base, top).astype(np.int_)
        lv[~hit.reshape(nv, nu)] = top
        return lv

    def render(self, pose: CameraPose, *, ids: bool = False) -> RenderResult:
        """Render the camera at ``pose`` (and its instance ids when ``ids``).

        Each pixel samples the texture level that suits its ground sample distance: the
        frame's level, and coarser levels for the far rows of oblique views (one mosaic per
        level, each bounded in size).
        """
        pts, hit = self.ground_points(pose)
        base, gsd = self._choose_level(pts, hit)
        cam = self.camera
        layers = {"rgb"} if self.band == "rgb" else {"temp", "emis"}
        if ids:
            layers.add("ids_rgb" if self.band == "rgb" else "ids_thermal")
        nv, nu = self._shape
        if not hit.any():
            return self._empty(base, gsd, pts, hit)
        st, h, w = self.step, cam.height_px, cam.width_px
        lv = self._vertex_levels(pts, hit, base)
        hh = hit.reshape(nv, nu)
        levels = sorted(set(np.unique(lv[hh]).tolist()))
        g = pts[:, :2].reshape(nv, nu, 2)
        out = RenderResult(None, None, None, None, base, gsd, pts[:, :2], hit)
        out_layers = self._alloc(ids)

        def upsample(coarse: F64) -> NDArray[np.float32]:
            """Bilinear upsampling of a coarse 2-channel grid to every pixel (then cropped)."""
            c32 = coarse.reshape(nv, nu, 2).astype(np.float32)
            big = cv2.resize(c32, (nu * st, nv * st), interpolation=cv2.INTER_LINEAR)
            return cast(NDArray[np.float32], big[st : st + h, st : st + w])  # float32 in, out

        if len(levels) == 1:
            # one level: texel coordinates on the coarse grid, upsampled straight into the map
            mos = self.tiles.mosaic(levels[0], _bounds(g[hh]), frozenset(layers))
            tex = np.stack(
                [(pts[:, 0] - mos.x0) / mos.res - 0.5, (mos.y_top - pts[:, 1]) / mos.res - 0.5], -1
            )
            tex[~hit] = -1e4  # off the mosaic: sky
            self._sample(mos, upsample(tex), out_layers, 0, h, None)
        else:
            # several levels: ground offsets from the camera (metres; float32 holds 0.1 mm at
            # these ranges) upsampled once, then per level a band of rows and its own mosaic
            rel = np.stack([pts[:, 0] - pose.x_m, pts[:, 1] - pose.y_m], axis=-1)
            rel[~hit] = 1e7  # far-away sentinel: sky
            full = upsample(rel)
            lv_full = cv2.resize(
                lv.astype(np.uint8), (nu * st, nv * st), interpolation=cv2.INTER_NEAREST
            )
            lv_full = lv_full[st : st + h, st : st + w]
            k3 = np.ones((3, 3), np.uint8)
            for level in levels:
                sel = lv_full == level
                rows = np.flatnonzero(sel.any(axis=1))
                if rows.size == 0:
                    continue
                r0, r1 = int(rows[0]), int(rows[-1]) + 1
                near = cv2.dilate((lv == level).astype(np.uint8), k3).astype(bool) & hh
                mos = self.tiles.mosaic(level, _bounds(g[near]), frozenset(layers))
                band = full[r0:r1]
                maps = np.empty(band.shape, np.float32)
                inv = np.float32(1.0 / mos.res)
                maps[..., 0] = (band[..., 0] + np.float32(pose.x_m - mos.x0)) * inv - np.float32(
                    0.5
                )
                maps[..., 1] = (np.float32(mos.y_top - pose.y_m) - band[..., 1]) * inv - np.float32(
                    0.5
                )
                self._sample(mos, maps, out_layers, r0, r1, sel[r0:r1])
        out.image = out_layers.get("rgb")
        out.temp_c = out_layers.get("temp")
        out.emissivity = out_layers.get("emis")
        out.ids = out_layers.get("ids")
        return out

    def _alloc(self, ids: bool) -> dict[str, NDArray[Any]]:
        h, w = self.camera.height_px, self.camera.width_px
        if self.band == "rgb":
            d: dict[str, NDArray[Any]] = {"rgb": np.empty((h, w, 3), np.uint8)}
        else:
            d = {"temp": np.empty((h, w), np.float32), "emis": np.empty((h, w), np.float32)}
        if ids:
            d["ids"] = np.empty((h, w), np.uint16)
        return d

    def _sample(
        self,
        mos: Any,
        maps: NDArray[np.float32],
        out: dict[str, NDArray[Any]],
        r0: int,
        r1: int,
        mask: NDArray[np.bool_] | None,
    ) -> None:
        """Remap each layer of ``mos`` for rows r0:r1 into ``out`` (only ``mask`` pixels)."""
        specs = {
            "rgb": ("rgb", cv2.INTER_LINEAR, SKY_BGR),
            "temp": ("temp", cv2.INTER_LINEAR, -40.0),
            "emis": ("emis", cv2.INTER_LINEAR, 1.0),
            "ids": ("ids_rgb" if self.band == "rgb" else "ids_thermal", cv2.INTER_NEAREST, 0),
        }
        for key, arr in out.items():
            name, interp, border = specs[key]
            # map2=None is valid with a 2-channel map1; OpenCV's stubs want an array
            res = cv2.remap(  # type: ignore[call-overload]
                mos.layers[name],
                maps,
                None,
                interp,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=border,
            )
            if mask is None:
                arr[r0:r1] = res
            else:
                np.copyto(arr[r0:r1], res, where=mask[..., None] if res.ndim == 3 else mask)

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
