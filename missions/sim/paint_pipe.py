"""Procedural pipeline corridor: right of way, service track, markers, and either a buried pipe
(surface settlement line, faint heat-loss line at night) or an above-ground pipe on supports
(Lambert-shaded cylinder with its shadow)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from missions.sim import paint_objects
from missions.sim.objects import SceneObject
from missions.sim.paint_rail import sun_vectors
from missions.sim.scene import Scene
from missions.sim.texture import Canvas, band, periodic_band

if TYPE_CHECKING:
    from missions.sim.paint import TileGeom, _Noise

__all__ = ["paint_pipeline"]


def paint_pipeline(
    cv: Canvas, geo: TileGeom, nz: _Noise, sc: Scene, objs: list[SceneObject]
) -> None:
    """Paint the pipeline corridor onto ``cv``."""
    p, res, ins, d, s = sc.pipe, geo.res, geo.inside, geo.d, geo.s
    anti, tan_el, sin_el = sun_vectors(sc)
    a_n = (anti[0] * geo.nx + anti[1] * geo.ny).astype(np.float32)
    cv.layer("mown_grass", band(d, -p.row_half_m, p.row_half_m, res) * ins, noise=nz.mid)
    a, b = p.track_d_m
    track = band(d, a, b, res) * ins
    cv.layer("gravel", track, noise=nz.grain)
    ruts = band(np.abs(d - (a + b) / 2), 0.55, 1.0, res) * track
    cv.layer("soil", ruts * 0.7, noise=nz.mid)
    half = p.diameter_m / 2
    if p.style == "buried":
        settle = band(d, -1.0, 1.0, res) * ins
        cv.layer("mown_grass", settle * 0.5, shade=1.05, noise=nz.mid)
        cv.warm(
            np.float32(p.heat_loss_k if sc.thermal.kind == "night" else 0.0)
            * np.exp(-((d / 0.9) ** 2)).astype(np.float32)
            * ins
        )
    paint_objects.paint_under(cv, geo, nz, sc, objs)
    # marker posts (1.2 m high) with shadows
    pm, _ = periodic_band(s, p.marker_spacing_m, 0.25, res, phase=p.marker_spacing_m / 2)
    sh_len = 1.2 / tan_el
    post = pm * band(d, p.marker_d_m - 0.125, p.marker_d_m + 0.125, res) * ins
    shadow = (
        pm
        * band((d - p.marker_d_m) * np.sign(a_n + 1e-9), 0.125, 0.125 + sh_len * np.abs(a_n), res)
        * ins
    )
    cv.darken(shadow.astype(np.float32), 0.6, dtemp_day=-3.0)
    cv.layer("marker", post)
    if p.style == "above":
        # shadow of the pipe axis, supports, then the shaded pipe
        dc = a_n * (p.top_height_m - half) / tan_el
        cv.darken(band(d - dc, -half, half, res) * ins, 0.55, dtemp_day=-5.0)
        sup, _ = periodic_band(s, p.support_spacing_m, 0.5, res)
        cv.layer("concrete", sup * band(d, -half - 0.35, half + 0.35, res) * ins, noise=nz.mid)
        sphi = np.clip(d / half, -1.0, 1.0)
        cphi = np.sqrt(1.0 - sphi**2)
        cos_el = np.sqrt(1 - sin_el**2)
        lam = np.clip(sphi * (-a_n) * cos_el + cphi * sin_el, 0.0, 1.0)
        shade = (0.38 + 0.8 * lam).astype(np.float32)
        cv.layer("pipe_paint", band(d, -half, half, res) * ins, shade=shade, noise=nz.fine)
    paint_objects.paint_on(cv, geo, nz, sc, objs)
