"""Seeded placement of defects and thermal look-alikes along the flown stretch (shapes in
corridor coordinates, never overlapping); used by :func:`missions.sim.scene.build_scene`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from missions.sim.classes import severity
from missions.sim.objects import SceneObject, blob_sd, ellipse_sd, rect_sd

if TYPE_CHECKING:
    from missions.sim.scene import Scene

__all__ = ["Placer", "count_for", "place_lookalike", "place_pipeline", "place_rail"]


def count_for(rate: float, length_m: float, density: float, rng: np.random.Generator) -> int:
    lam = rate * density * length_m / 100.0
    return int(np.floor(lam) + (rng.random() < lam - np.floor(lam)))


class Placer:
    def __init__(self, scene: Scene, rng: np.random.Generator) -> None:
        import shapely

        self.scene, self.rng, self.shapely = scene, rng, shapely
        self.taken: list[Any] = []
        self.next_id = 1

    def add(self, cls: str, variant: str, poly: np.ndarray, sev: int, **params: float) -> bool:
        geom = self.shapely.Polygon(poly)
        pad = geom.buffer(0.15)
        if any(pad.intersects(t) for t in self.taken):
            return False
        obj = SceneObject.make(
            self.scene.asset.corridor, self.next_id, cls, variant, poly, sev, **params
        )
        self.scene.objects.append(obj)
        self.taken.append(geom)
        self.next_id += 1
        return True

    def s(self, margin: float = 3.0) -> float:
        a, b = self.scene.flown_s
        return float(self.rng.uniform(a + margin, b - margin))


def place_rail(p: Placer, cls: str) -> None:
    t, r = p.scene.track, p.rng
    sp = t.sleeper_spacing_m
    k = int(np.round(p.s() / sp))
    s_k = k * sp
    d_rail = t.rail_d_m[int(r.integers(2))]
    if cls == "sleeper_defect":
        variant = str(r.choice(["cracked", "broken", "missing"], p=[0.55, 0.3, 0.15]))
        poly = rect_sd(s_k, 0.0, t.sleeper_width_m, t.sleeper_length_m)
        p.add(cls, variant, poly, severity(cls, missing=variant == "missing"), sleeper_k=k)
    elif cls == "missing_fastener":
        side = float(r.choice([-1.0, 1.0]))
        dc = d_rail + side * t.clip_offset_m
        cluster = 3 if r.random() < 0.25 else 1
        for j in range(cluster):
            poly = rect_sd((k + j) * sp, dc, 0.14, 0.14, step=0.07)
            p.add(
                cls,
                "cluster" if cluster > 1 else "single",
                poly,
                severity(cls, cluster=cluster),
                sleeper_k=k + j,
                clip_d_m=dc,
            )
    elif cls == "rail_head_damage":
        s0 = s_k + r.uniform(0.15, 0.45)
        ls = r.uniform(0.03, 0.07)
        poly = ellipse_sd(s0, d_rail + r.uniform(-0.006, 0.006), ls, 0.026, n=24)
        p.add(cls, "squat", poly, severity(cls), rail_d_m=d_rail, length_m=2 * ls)
    elif cls == "broken_rail":
        g = r.uniform(0.05, 0.15)
        s0 = s_k + sp / 2
        poly = rect_sd(s0, d_rail, g, t.foot_width_m + 0.02, step=0.05)
        p.add(cls, "gap", poly, severity(cls), rail_d_m=d_rail, gap_m=g)
    elif cls == "vegetation":
        d0 = r.uniform(-1.8, 1.8)
        poly = blob_sd(p.s(), d0, r.uniform(0.35, 1.1), r, elong=r.uniform(1.0, 1.8))
        p.add(cls, "weeds", poly, severity(cls), reach_m=0.3, height_m=r.uniform(0.2, 0.8))
    elif cls == "ballast_defect":
        poly = blob_sd(
            p.s(), r.uniform(-0.6, 0.6), r.uniform(0.7, 1.5), r, elong=r.uniform(1.2, 2.2)
        )
        p.add(cls, "fouled", poly, severity(cls))
    elif cls == "drainage":
        side = float(r.choice([-1.0, 1.0]))
        poly = blob_sd(
            p.s(), side * r.uniform(2.9, 3.6), r.uniform(0.6, 1.4), r, elong=r.uniform(1.5, 3.0)
        )
        p.add(cls, "standing_water", poly, severity(cls))
    elif cls == "obstruction":
        variant = str(r.choice(["branch", "box", "tyre"]))
        s0, d0 = p.s(), r.uniform(-1.1, 1.1)
        if variant == "box":
            poly = rect_sd(s0, d0, r.uniform(0.4, 0.8), r.uniform(0.3, 0.6), step=0.1)
        elif variant == "tyre":
            rr = r.uniform(0.3, 0.4)
            poly = ellipse_sd(s0, d0, rr, rr, n=28)
        else:
            poly = blob_sd(s0, d0, r.uniform(0.4, 0.7), r, elong=2.5)
        dd = poly[:, 1]
        on_rails = any((dd.min() < dr + 0.04) and (dd.max() > dr - 0.04) for dr in t.rail_d_m)
        p.add(
            cls,
            variant,
            poly,
            severity(cls, on_rails=on_rails),
            height_m=0.25,
            reach_m=0.5,
            on_rails=float(on_rails),
        )


def place_pipeline(p: Placer, cls: str) -> None:
    lay, r = p.scene.pipe, p.rng
    half = lay.diameter_m / 2
    if cls == "leak_candidate":
        radius = r.uniform(0.7, 3.5)
        dt = float(
            r.choice(
                [
                    r.uniform(0.5, 1.0),
                    r.uniform(1.0, 3.0),
                    r.uniform(3.0, 9.0),
                    r.uniform(10.0, 14.0),
                ],
                p=[0.2, 0.35, 0.35, 0.1],
            )
        )
        s0, d0 = p.s(), r.uniform(-0.6, 0.6)
        poly = blob_sd(s0, d0, radius, r, elong=r.uniform(1.0, 1.7))
        obj_area = _area(poly)
        p.add(
            cls,
            "plume",
            poly,
            severity(cls, delta_t_k=dt, area_m2=obj_area),
            delta_t_k=dt,
            reach_m=3.5 * radius,
            area_m2=obj_area,
            c_s=s0,
            c_d=d0,
        )
    elif cls == "insulation_loss":
        length = r.uniform(6.0, 25.0)
        dt = r.uniform(0.6, 2.5)
        poly = rect_sd(p.s(length / 2 + 2), 0.0, length, lay.diameter_m + 0.8, step=0.5)
        p.add(cls, "warm_band", poly, severity(cls), delta_t_k=dt, reach_m=1.0)
    elif cls == "coating_corrosion":
        if lay.style != "above":
            return
        poly = blob_sd(
            p.s(), r.uniform(-0.4, 0.4) * half, r.uniform(0.12, 0.35), r, elong=r.uniform(1, 3)
        )
        poly[:, 1] = np.clip(poly[:, 1], -half * 0.92, half * 0.92)
        a = _area(poly)
        p.add(cls, "rust", poly, severity(cls, area_m2=a), area_m2=a)
    elif cls == "exposed_pipe":
        if lay.style != "buried":
            return
        poly = blob_sd(p.s(), 0.0, r.uniform(0.9, 2.0), r, elong=r.uniform(1.2, 2.0))
        p.add(cls, "erosion", poly, severity(cls))
    elif cls == "third_party_activity":
        d0 = r.uniform(-5.0, 5.0)
        poly = rect_sd(p.s(6.0), d0, r.uniform(4.0, 7.0), r.uniform(3.0, 4.5), step=0.5)
        p.add(cls, "excavation", poly, severity(cls, offset_m=d0), height_m=3.0, reach_m=4.0)
    elif cls == "vegetation_stress":
        poly = blob_sd(
            p.s(), r.uniform(-1.0, 1.0), r.uniform(1.5, 4.0), r, elong=r.uniform(1.0, 2.0)
        )
        p.add(cls, "dead_grass", poly, severity(cls))
    elif cls == "vegetation":
        side = float(r.choice([-1.0, 1.0]))
        poly = blob_sd(p.s(), side * r.uniform(1.2, 5.0), r.uniform(0.8, 2.0), r)
        p.add(cls, "bush", poly, severity(cls), height_m=r.uniform(1.0, 2.5), reach_m=2.5)


def place_lookalike(p: Placer) -> None:
    r = p.rng
    kind = str(r.choice(["rock", "vehicle", "roof", "manhole"], p=[0.4, 0.25, 0.15, 0.2]))
    side = float(r.choice([-1.0, 1.0]))
    if kind == "rock":
        rr = r.uniform(0.3, 0.8)
        poly = blob_sd(p.s(), side * r.uniform(3.2, 12.0), rr, r)
        p.add(
            "false_positive",
            "rock",
            poly,
            severity("false_positive"),
            height_m=0.6 * rr,
            reach_m=1.0,
            delta_t_k=0.0,
        )
    elif kind == "vehicle":
        if p.scene.asset.kind == "rail":
            a, b = p.scene.track.road_d_m
            d0 = p.scene.track.road_side * (a + b) / 2
        else:
            d0 = sum(p.scene.pipe.track_d_m) / 2
        poly = rect_sd(p.s(4.0), d0, 4.5, 1.8, step=0.3)
        p.add(
            "false_positive",
            "vehicle",
            poly,
            severity("false_positive"),
            height_m=1.5,
            reach_m=2.5,
            heading=float(r.choice([0.0, 1.0])),
        )
    elif kind == "roof":
        poly = rect_sd(
            p.s(5.0),
            side * r.uniform(15.0, 22.0),
            r.uniform(5.0, 8.0),
            r.uniform(4.0, 6.0),
            step=0.5,
        )
        p.add("false_positive", "roof", poly, severity("false_positive"), height_m=3.5, reach_m=6.0)
    else:
        rr = 0.35
        poly = ellipse_sd(p.s(), side * r.uniform(2.0, 8.0), rr, rr, n=24)
        p.add("false_positive", "manhole", poly, severity("false_positive"))


def _area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return float(0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
