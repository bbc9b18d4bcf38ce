"""Painting of defects and look-alikes into a tile, in three passes (under the rails or pipe, on
them, above everything) plus the thermal-only warming of leaks and insulation loss.

The ground truth outline of every object is its ``polygon_xy``; painters draw inside it (cracks,
clips, rust, water ...) so that what a camera sees matches the annotation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import numpy as np
from numpy.typing import NDArray

from missions.sim.noise import hash01
from missions.sim.objects import SceneObject
from missions.sim.scene import Scene
from missions.sim.texture import Canvas, band

if TYPE_CHECKING:
    from missions.sim.paint import TileGeom, _Noise

__all__ = ["paint_objects", "paint_on", "paint_under", "plume_warming", "warm_objects"]

F32 = NDArray[np.float32]
_UNDER = {
    "sleeper_defect",
    "missing_fastener",
    "ballast_defect",
    "drainage",
    "vegetation_stress",
    "exposed_pipe",
}
_ON = {"rail_head_damage", "broken_rail", "coating_corrosion"}
_ABOVE = {"vegetation", "obstruction", "third_party_activity", "false_positive"}


def _rel(
    geo: TileGeom, o: SceneObject, cs: float | None = None, cd: float | None = None
) -> tuple[F32, F32]:
    s0 = o.s_m if cs is None else cs
    d0 = o.d_m if cd is None else cd
    return (geo.s - s0).astype(np.float32), (geo.d - np.float32(d0)).astype(np.float32)


def paint_under(cv: Canvas, geo: TileGeom, nz: _Noise, sc: Scene, objs: list[SceneObject]) -> None:
    """Defects below the rails / pipe: sleepers, clips, ballast, water, soil."""
    res = geo.res
    for o in objs:
        if o.cls not in _UNDER:
            continue
        a = geo.poly_alpha(o.polygon_xy)
        if not a.any():
            continue
        if o.cls == "sleeper_defect":
            _sleeper(cv, geo, nz, sc, o, a)
        elif o.cls == "missing_fastener":
            k = o.params["sleeper_k"]
            us = (geo.s - k * sc.track.sleeper_spacing_m).astype(np.float32)
            vs = (geo.d - np.float32(o.params["clip_d_m"])).astype(np.float32)
            seat = band(us, -0.13, 0.13, res) * a
            cv.layer("sleeper", seat, shade=0.97, noise=nz.mid)
            cv.layer("rust", band(np.hypot(us, vs), -1.0, 0.035, res) * a * 0.6, noise=nz.fine)
            cv.layer("clip", band(us, -0.02, 0.02, res) * band(vs, -0.015, 0.015, res), shade=0.7)
        elif o.cls == "ballast_defect":
            feather = np.clip(0.35 + 1.6 * (nz.mid - 0.5) + 0.65, 0, 1)
            cv.layer("mud", a * feather * 0.9, noise=nz.mid)
        elif o.cls == "drainage":
            sky = 0.9 + 0.35 * nz.big
            cv.layer("water", a, shade=sky, noise=nz.mid)
        elif o.cls == "vegetation_stress":
            cv.layer("dead_grass", a * (0.55 + 0.45 * nz.mid), noise=nz.grain)
        elif o.cls == "exposed_pipe":
            cv.layer("soil", a, shade=0.8, noise=nz.mid)
            half = sc.pipe.diameter_m / 2
            pipe = band(geo.d, -half, half, res) * a
            sphi = np.clip(geo.d / half, -1, 1)
            cv.layer(
                "pipe_paint", pipe, shade=(0.55 + 0.6 * np.sqrt(1 - sphi**2)).astype(np.float32)
            )
            cv.layer("rust", pipe * np.clip((nz.mid - 0.5) * 4, 0, 1), noise=nz.fine)


def _sleeper(cv: Canvas, geo: TileGeom, nz: _Noise, sc: Scene, o: SceneObject, a: F32) -> None:
    res, t = geo.res, sc.track
    k = o.params["sleeper_k"]
    s_k = k * t.sleeper_spacing_m
    if o.variant == "missing":
        stones = (0.72 + 0.56 * nz.grain) * (0.9 + 0.2 * nz.fine)
        cv.layer("ballast", a, shade=stones, noise=nz.mid)
        return
    rng = np.random.default_rng([sc.seed, o.id])
    d = geo.d
    path = np.float32(s_k + rng.uniform(-0.05, 0.05))
    for amp, f in ((0.02, rng.uniform(2, 4)), (0.008, rng.uniform(9, 15))):
        path = path + np.float32(amp) * np.sin(np.float32(f) * d + np.float32(rng.uniform(0, 6)))
    u = (geo.s - path).astype(np.float32)
    width = 0.012 if o.variant == "cracked" else 0.045
    cv.layer("sleeper", band(u, -0.05, 0.05, res) * a * 0.6, shade=0.72, noise=nz.fine)
    cv.layer("iron", band(u, -width / 2, width / 2, res) * a, shade=0.45)
    if o.variant == "broken":
        chips = a * np.clip((nz.grain - 0.62) * 6, 0, 1) * band(u, -0.11, 0.11, res)
        cv.layer("ballast", chips, shade=0.8, noise=nz.fine)


def paint_on(cv: Canvas, geo: TileGeom, nz: _Noise, sc: Scene, objs: list[SceneObject]) -> None:
    """Defects on the rails or on the pipe."""
    for o in objs:
        if o.cls not in _ON:
            continue
        a = geo.poly_alpha(o.polygon_xy)
        if not a.any():
            continue
        if o.cls == "rail_head_damage":
            cv.layer("iron", a, shade=0.55 + 0.5 * nz.fine, noise=nz.grain)
        elif o.cls == "broken_rail":
            cv.layer("ballast", a, shade=0.28, noise=nz.grain)
        elif o.cls == "coating_corrosion":
            cv.layer("rust", a * (0.6 + 0.4 * nz.fine), shade=0.8 + 0.3 * nz.mid, noise=nz.grain)


def _shadow(cv: Canvas, geo: TileGeom, sc: Scene, o: SceneObject) -> None:
    import shapely

    from missions.sim.paint_rail import sun_vectors

    h = o.params.get("height_m", 0.0)
    if h <= 0:
        return
    anti, tan_el, _ = sun_vectors(sc)
    c = o.polygon_xy.mean(axis=0)
    p = o.polygon_xy - c
    hull = shapely.MultiPoint(np.vstack([p, p + anti * h / tan_el])).convex_hull
    ring = np.asarray(hull.exterior.coords)[:-1] + c
    cv.darken(geo.poly_alpha(ring), 0.55, dtemp_day=-4.0)


def paint_objects(
    cv: Canvas, geo: TileGeom, nz: _Noise, sc: Scene, objs: list[SceneObject]
) -> None:
    """Objects standing on the ground (with shadows): vegetation, obstructions, machines,
    rocks, vehicles, roofs, manholes."""
    res = geo.res
    for o in objs:
        if o.cls not in _ABOVE:
            continue
        x0, y0, x1, y1 = o.bbox_xy()
        if (
            x1 < geo.x0
            or y1 < geo.y_top - geo.n * res
            or x0 > geo.x0 + geo.n * res
            or y0 > geo.y_top
        ):
            continue
        _shadow(cv, geo, sc, o)
        a = geo.poly_alpha(o.polygon_xy)
        if not a.any():
            continue
        us, vs = _rel(geo, o)
        if o.cls == "vegetation":
            leaves = (0.55 + 0.8 * nz.grain) * (0.85 + 0.3 * nz.fine)
            cv.layer("bush", a, shade=leaves, noise=nz.mid)
        elif o.cls == "obstruction":
            if o.variant == "tyre":
                r = float(np.ptp(o.polygon_sd[:, 0])) / 2
                cv.layer("iron", a, shade=0.45, noise=nz.fine)
                cv.layer("ballast", band(np.hypot(us, vs), -1, r * 0.55, res) * a, shade=0.6)
            elif o.variant == "box":
                cv.layer("wood", a, shade=1.6, noise=nz.fine)
            else:
                cv.layer("wood", a, shade=0.8 + 0.4 * nz.grain, noise=nz.mid)
        elif o.cls == "third_party_activity":
            cv.layer("mud", a * band(us, -99, 0.0, res), shade=0.7, noise=nz.mid)
            machine = a * band(us, 0.3, 99, res) * band(vs, -1.25, 1.25, res)
            cv.layer("machine", machine, noise=nz.fine)
            cv.layer("glass", machine * band(us, 0.6, 1.8, res) * band(vs, -0.9, 0.9, res))
        elif o.cls == "false_positive":
            _look_alike(cv, geo, nz, sc, o, a, us, vs)


def _look_alike(
    cv: Canvas, geo: TileGeom, nz: _Noise, sc: Scene, o: SceneObject, a: F32, us: F32, vs: F32
) -> None:
    res = geo.res
    if o.variant == "rock":
        r = max(float(np.ptp(o.polygon_sd[:, 1])) / 2, 0.1)
        from missions.sim.paint_rail import sun_vectors

        anti, _, _ = sun_vectors(sc)
        lit = -(anti[0] * geo.nx + anti[1] * geo.ny) * vs / r  # lit towards the sun
        cv.layer(
            "rock",
            a,
            shade=(0.85 + 0.35 * np.clip(lit, -1, 1)) * (0.8 + 0.4 * nz.grain),
            noise=nz.mid,
        )
    elif o.variant == "vehicle":
        colours = [(150, 60, 40), (40, 40, 170), (200, 200, 200), (30, 30, 30), (60, 120, 60)]
        col = colours[int(hash01(o.id, seed=sc.seed) * len(colours))]
        shade = float(np.float32(np.mean(col) / 103.0))
        front = 1.0 if o.params.get("heading", 0.0) else -1.0
        fu = us * np.float32(front)
        cv.layer("car_body", a, shade=shade)
        cv.layer("car_hood", a * band(fu, 1.0, 2.3, res), shade=shade)
        cv.layer(
            "glass",
            a * (band(fu, 0.45, 1.0, res) + band(fu, -1.9, -1.5, res)) * band(vs, -0.75, 0.75, res),
        )
    elif o.variant == "roof":
        from dataclasses import replace

        from missions.sim.texture import MATERIALS

        ridge = np.float32(0.5) * (1 + np.sign(vs))  # the two roof planes take different light
        mat = MATERIALS["roof"]
        if hash01(o.id, seed=sc.seed + 1) >= 0.6:
            mat = replace(mat, bgr=(112.0, 112.0, 115.0))
        cv.layer(mat, a, shade=0.8 + 0.3 * ridge, noise=nz.mid)
    elif o.variant == "manhole":
        cv.layer("iron", a, shade=0.9 + 0.3 * nz.fine)
        cv.layer("iron", a * band(np.hypot(us, vs), 0.27, 0.31, res), shade=0.5)


def plume_warming(geo: TileGeom, o: SceneObject) -> F32:
    """Leak warming field: dT * exp(-ln 2 * rho^2), rho = distance / outline radius (rho = 1 on
    the outline, i.e. the outline is the half-maximum contour); zero beyond rho = 3."""
    cs, cd = o.params["c_s"], o.params["c_d"]
    ps = o.polygon_sd - [cs, cd]
    ang = np.arctan2(ps[:, 1], ps[:, 0])
    order = np.argsort(ang)
    ang, rad = ang[order], np.hypot(ps[order, 0], ps[order, 1])
    ang = np.r_[ang[-1] - 2 * np.pi, ang, ang[0] + 2 * np.pi]
    rad = np.r_[rad[-1], rad, rad[0]]
    us, vs = _rel(geo, o, cs, cd)
    th = np.arctan2(vs, us)
    rho = np.hypot(us, vs) / np.interp(th, ang, rad).astype(np.float32)
    w = np.float32(o.params["delta_t_k"]) * np.exp(np.float32(-np.log(2.0)) * rho * rho)
    return np.where(rho < 3.0, w, 0.0).astype(np.float32)


def warm_objects(cv: Canvas, geo: TileGeom, sc: Scene, objs: list[SceneObject]) -> None:
    """Thermal-only warming: leak plumes and insulation loss."""
    import cv2

    for o in objs:
        if o.cls == "leak_candidate":
            cv.warm(plume_warming(geo, o))
        elif o.cls == "insulation_loss":
            a = geo.poly_alpha(o.polygon_xy)
            if a.any():
                sig = max(0.3 / geo.res, 0.5)
                a = cast(F32, cv2.GaussianBlur(a, (0, 0), sig))  # float32 in, out
                cv.warm(a * np.float32(o.params["delta_t_k"]))
