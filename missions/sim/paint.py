"""Paint one texture tile of the scene: RGB, surface temperature, emissivity and instance ids.

:class:`Painter` is called lazily by the tile cache for any (level, tile) the cameras need. It
computes the corridor coordinates of every texel (on a coarse grid, upsampled), then paints in
this order: far field and corridor ground, asset structure below the rails / pipe (sleepers,
clips), defects on that level, shadows, rails or pipe, defects on the rails or pipe, objects and
their shadows, and finally the thermal-only warming (leaks, heat loss). Instance-id layers (one
per camera band) are rasterised from the true outlines with the texel-centre rule, so a COCO
mask is exactly where the texture put the defect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from missions.sim.noise import fbm, value_noise
from missions.sim.objects import SceneObject
from missions.sim.scene import Scene
from missions.sim.texture import Canvas, upsample_grid

__all__ = ["Painter", "TileGeom", "TileLayers"]

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
_COARSE = 16
#: Corridor half-width (m) inside which asset features are painted.
CORRIDOR_HALF_M = 30.0


@dataclass
class TileLayers:
    """The layers of one tile (any may be None when not requested)."""

    rgb: NDArray[np.uint8] | None = None  # (n, n, 3) BGR
    temp: F32 | None = None  # surface temperature, deg C
    emis: F32 | None = None  # emissivity
    ids_rgb: NDArray[np.uint16] | None = None
    ids_thermal: NDArray[np.uint16] | None = None

    def nbytes(self) -> int:
        """Memory held."""
        return sum(a.nbytes for a in self.__dict__.values() if a is not None)


class TileGeom:
    """Texel geometry of one tile: world coordinates, corridor coordinates, normals."""

    def __init__(self, scene: Scene, x0: float, y_top: float, res: float, n: int) -> None:
        self.x0, self.y_top, self.res, self.n = x0, y_top, res, n
        m = int(np.ceil((n - 1) / _COARSE)) + 3
        idx = (np.arange(m) - 1) * _COARSE
        cx = x0 + (idx + 0.5) * res
        cy = y_top - (idx + 0.5) * res
        gx, gy = np.meshgrid(cx, cy)
        cor = scene.asset.corridor
        s, d, ok = cor.to_corridor(gx, gy, max_abs_d=CORRIDOR_HALF_M + 5.0)
        _, nrm = cor.point_normal(s)
        self.s_ref = float(np.nanmedian(s))
        up = lambda a: upsample_grid(np.asarray(a, np.float32), _COARSE, n)  # noqa: E731
        self.s = up(s - self.s_ref).astype(np.float64) + self.s_ref
        self.d = up(d)
        inside = ok.astype(np.float32)
        self.inside = np.clip(up(inside) * 2.0 - 0.5, 0.0, 1.0)
        self.nx, self.ny = up(nrm[..., 0]), up(nrm[..., 1])
        self.any_corridor = bool(ok.any())

    def to_px(self, xy: F64) -> F64:
        """Grid coordinates -> texel coordinates (col, row), pixel centres at integers."""
        return np.column_stack(
            [(xy[:, 0] - self.x0) / self.res - 0.5, (self.y_top - xy[:, 1]) / self.res - 0.5]
        )

    def poly_alpha(self, poly_xy: F64, supersample: int = 4) -> F32:
        """Anti-aliased coverage of a polygon: the fraction of ``supersample**2`` sub-texel
        centres inside it (OpenCV's anti-aliased fill dilates shapes by about a texel)."""
        from skimage.draw import polygon as fill

        out = np.zeros((self.n, self.n), np.float32)
        px = self.to_px(poly_xy)
        c0 = max(int(np.floor(px[:, 0].min())) - 1, 0)
        r0 = max(int(np.floor(px[:, 1].min())) - 1, 0)
        c1 = min(int(np.ceil(px[:, 0].max())) + 2, self.n)
        r1 = min(int(np.ceil(px[:, 1].max())) + 2, self.n)
        if c1 <= c0 or r1 <= r0:
            return out
        k = supersample if (r1 - r0) * (c1 - c0) <= 400_000 else 2
        # sub-texel (i, j) of texel block (r0, c0) has its centre at texel coordinate
        # (r0 - 0.5 + (i + 0.5) / k, ...)
        sc = (px[:, 0] - c0 + 0.5) * k - 0.5
        sr = (px[:, 1] - r0 + 0.5) * k - 0.5
        hi = np.zeros(((r1 - r0) * k, (c1 - c0) * k), np.float32)
        rr, cc = fill(sr, sc, hi.shape)
        hi[rr, cc] = 1.0
        out[r0:r1, c0:c1] = hi.reshape(r1 - r0, k, c1 - c0, k).mean(axis=(1, 3))
        return out

    def poly_mask(self, poly_xy: F64) -> NDArray[np.bool_]:
        """Texels whose centre is inside the polygon (no anti-aliasing)."""
        from skimage.draw import polygon as fill

        img = np.zeros((self.n, self.n), bool)
        px = self.to_px(poly_xy)
        rr, cc = fill(px[:, 1], px[:, 0], img.shape)
        img[rr, cc] = True
        return img


class Painter:
    """Paints tiles of a :class:`Scene` on demand."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.seed = scene.seed
        a, b = scene.asset.grid.epsg, scene.seed
        self._key = int(a) * 1000 + int(b) % 1000

    def paint(
        self, x0: float, y_top: float, res: float, n: int, *, rgb: bool, thermal: bool, ids: bool
    ) -> TileLayers:
        """Paint the tile with top-left corner (x0, y_top), texel ``res`` m, n x n texels."""
        from missions.sim import paint_objects, paint_pipe, paint_rail

        sc = self.scene
        geo = TileGeom(sc, x0, y_top, res, n)
        cv_ = Canvas((n, n), sc.thermal, rgb=rgb, thermal=thermal)
        nz = _Noise(self.seed, x0, y_top, res, n)
        self._far_field(cv_, nz)
        objs = sc.objects_in(x0, y_top - n * res, x0 + n * res, y_top)
        if geo.any_corridor:
            if sc.asset.kind == "rail":
                paint_rail.paint_track(cv_, geo, nz, sc, objs)
            else:
                paint_pipe.paint_pipeline(cv_, geo, nz, sc, objs)
        paint_objects.paint_objects(cv_, geo, nz, sc, objs)
        if thermal:
            paint_objects.warm_objects(cv_, geo, sc, objs)
            # optics-free sub-texel thermal texture: +-0.25 K
            cv_.warm((nz.mid - 0.5) * np.float32(0.5))
        out = TileLayers()
        if rgb:
            out.rgb = cv_.rgb_u8()
        if thermal:
            out.temp, out.emis = cv_.temp, cv_.emis
        if ids:
            out.ids_rgb = _ids(geo, objs, "rgb")
            out.ids_thermal = _ids(geo, objs, "thermal")
        return out

    def _far_field(self, cv_: Canvas, nz: _Noise) -> None:
        fields = nz.big
        cv_.layer("grass", 1.0, noise=nz.mid)
        alpha = np.clip((fields - 0.45) * 6.0, 0.0, 1.0)
        cv_.layer("field", alpha, noise=nz.mid2)
        bush = np.clip((nz.mid2 - 0.78) * 8.0, 0.0, 1.0) * np.clip((0.6 - fields) * 5, 0, 1)
        cv_.layer("bush", bush, noise=nz.grain)


class _Noise:
    """The noise fields a tile needs, computed once per tile (world-anchored, seamless)."""

    def __init__(self, seed: int, x0: float, y_top: float, res: float, n: int) -> None:
        sh = (n, n)
        self.big = fbm(x0, y_top, res, sh, cell_m=40.0, octaves=3, seed=seed * 7 + 1)
        self.mid = fbm(x0, y_top, res, sh, cell_m=1.6, octaves=3, seed=seed * 7 + 2)
        self.mid2 = fbm(x0, y_top, res, sh, cell_m=6.0, octaves=3, seed=seed * 7 + 3)
        self.grain = value_noise(x0, y_top, res, sh, cell_m=0.045, seed=seed * 7 + 4)
        self.fine = value_noise(x0, y_top, res, sh, cell_m=0.02, seed=seed * 7 + 5)


def _ids(geo: TileGeom, objs: list[SceneObject], band: str) -> NDArray[np.uint16]:
    out = np.zeros((geo.n, geo.n), np.uint16)
    for o in objs:
        if band in o.bands:
            out[geo.poly_mask(o.polygon_xy)] = o.id
    return out
