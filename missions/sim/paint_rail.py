"""Procedural ballasted track: verge, cess, access road, fence, masts, ballast, sleepers, clips,
rails with their shadows; defects are painted in between (see :mod:`missions.sim.paint_objects`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from missions.sim import paint_objects
from missions.sim.noise import hash01
from missions.sim.objects import SceneObject
from missions.sim.scene import Scene
from missions.sim.texture import Canvas, band, periodic_band

if TYPE_CHECKING:
    from missions.sim.paint import TileGeom, _Noise

__all__ = ["paint_track", "sun_vectors"]


def sun_vectors(scene: Scene) -> tuple[np.ndarray, float, float]:
    """Anti-sun horizontal unit vector in grid axes, tan(elevation), sin(elevation)."""
    c = scene.asset.corridor.xy.mean(axis=0)
    beta = float(scene.asset.grid.convergence_deg(c[0], c[1]))
    az = np.radians(scene.thermal.sun_azimuth_deg + beta)
    el = np.radians(max(scene.thermal.sun_elevation_deg, 5.0))
    return -np.array([np.sin(az), np.cos(az)]), float(np.tan(el)), float(np.sin(el))


def paint_track(cv: Canvas, geo: TileGeom, nz: _Noise, sc: Scene, objs: list[SceneObject]) -> None:
    """Paint the track corridor onto ``cv`` (in painter's order)."""
    t, res, ins = sc.track, geo.res, geo.inside
    s, d = geo.s, geo.d
    anti, tan_el, _ = sun_vectors(sc)
    a_n = (anti[0] * geo.nx + anti[1] * geo.ny).astype(np.float32)

    # verge (mown grass) and cess (soil / fine gravel)
    cv.layer("mown_grass", band(d, -t.fence_d_m, t.fence_d_m, res) * ins, noise=nz.mid)
    cess = band(d, -t.cess_half_m, t.cess_half_m, res) * ins
    cv.layer("soil", cess, noise=nz.mid2)
    cv.layer("gravel", cess * np.clip((nz.mid - 0.35) * 3, 0, 1), noise=nz.grain)
    # access road with two wheel ruts
    a, b = t.road_d_m
    dd = d * t.road_side
    road = band(dd, a, b, res) * ins
    cv.layer("gravel", road, noise=nz.grain)
    mid = (a + b) / 2
    ruts = band(np.abs(dd - mid), 0.55, 1.0, res) * road
    cv.layer("soil", ruts * 0.7, noise=nz.mid)
    # ballast bed with sloped shoulders
    ab = np.abs(d)
    shoulder = np.clip((t.shoulder_half_m - ab) / (t.shoulder_half_m - t.ballast_half_m), 0, 1)
    stones = (0.72 + 0.56 * nz.grain) * (0.9 + 0.2 * nz.fine)
    cv.layer("ballast", shoulder.astype(np.float32) * ins, shade=stones, noise=nz.mid)
    # fence posts
    posts, _ = periodic_band(s, 3.0, 0.1, res)
    for side in (-1.0, 1.0):
        cv.layer(
            "wood", posts * band(d, side * t.fence_d_m - 0.05, side * t.fence_d_m + 0.05, res) * ins
        )
    if t.electrified:
        _masts(cv, geo, sc, anti, tan_el)

    # sleepers (concrete), a per-sleeper tint
    sp = t.sleeper_spacing_m
    cov_s, k = periodic_band(s, sp, t.sleeper_width_m, res)
    sl = cov_s * band(d, -t.sleeper_length_m / 2, t.sleeper_length_m / 2, res) * ins
    tint = (0.9 + 0.16 * hash01(k, seed=sc.seed + 11)).astype(np.float32)
    cv.layer("sleeper", sl, shade=tint * (0.94 + 0.12 * nz.fine), noise=nz.mid)
    # clips: on each sleeper, each rail, field and gauge side
    u = (s - k * sp).astype(np.float32)
    on_sleeper = band(u, -0.05, 0.05, res)
    fade = np.float32(1.0) if res <= sp / 3 else np.float32(0.0)
    for dr in t.rail_d_m:
        for side in (-1.0, 1.0):
            dc = dr + side * t.clip_offset_m
            cv.layer("clip", on_sleeper * band(d, dc - 0.03, dc + 0.03, res) * ins * fade)
    paint_objects.paint_under(cv, geo, nz, sc, objs)

    # rails: foot, shadow, head (the running band on the head is brighter)
    hw, fw = t.head_width_m / 2, t.foot_width_m / 2
    shadow_len = t.rail_height_m / tan_el
    sgn = np.where(a_n >= 0, 1.0, -1.0).astype(np.float32)
    for dr in t.rail_d_m:
        cv.layer("rail_foot", band(d, dr - fw, dr + fw, res) * ins, noise=nz.fine)
    for dr in t.rail_d_m:
        sh = band(sgn * (d - dr), hw, hw + shadow_len * np.abs(a_n), res) * ins
        cv.darken(sh, 0.55, dtemp_day=-4.0)
    for dr in t.rail_d_m:
        head = band(d, dr - hw, dr + hw, res) * ins
        run = 1.0 + 0.1 * band(d, dr - 0.015, dr + 0.015, res)
        cv.layer("rail_head", head, shade=run, noise=nz.fine)
    paint_objects.paint_on(cv, geo, nz, sc, objs)


def _masts(cv: Canvas, geo: TileGeom, sc: Scene, anti: np.ndarray, tan_el: float) -> None:
    t = sc.track
    s_lo, s_hi = float(np.min(geo.s)), float(np.max(geo.s))
    reach = 12.0
    ks = np.arange(
        np.floor((s_lo - reach) / t.mast_spacing_m), np.ceil((s_hi + reach) / t.mast_spacing_m) + 1
    )
    cor = sc.asset.corridor
    for kk in ks:
        sm = kk * t.mast_spacing_m
        if sm < 0 or sm > cor.length_m:
            continue
        base = cor.to_world(sm, t.mast_d_m)
        L = 7.5 / tan_el
        perp = np.array([-anti[1], anti[0]]) * 0.15
        shadow = np.array(
            [base + perp, base + perp + anti * L, base - perp + anti * L, base - perp]
        )
        cv.darken(geo.poly_alpha(shadow), 0.6, dtemp_day=-3.0)
        sq = np.array([[-0.2, -0.2], [0.2, -0.2], [0.2, 0.2], [-0.2, 0.2]]) + base
        cv.layer("iron", geo.poly_alpha(sq))
