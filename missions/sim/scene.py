"""The simulated world: asset, terrain, layout of the corridor, and seeded defects/look-alikes.

:func:`build_scene` places defects along the flown stretch with class rates per 100 m (scaled
by ``density``), never overlapping, plus thermal look-alikes (sun-heated rocks, vehicles, roofs,
manholes). Everything derives from the seed: the same arguments give the same scene.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from missions.errors import SimulationError
from missions.sim.asset import Asset
from missions.sim.classes import severity
from missions.sim.objects import SceneObject, blob_sd, ellipse_sd, rect_sd
from missions.sim.terrain import Terrain
from missions.sim.texture import ThermalScene

__all__ = ["PipeLayout", "RATES", "Scene", "TrackLayout", "build_scene"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackLayout:
    """Dimensions of a ballasted track and its corridor (metres; d positive left)."""

    gauge_m: float = 1.435
    sleeper_spacing_m: float = 0.6
    sleeper_width_m: float = 0.26
    sleeper_length_m: float = 2.6
    head_width_m: float = 0.072
    foot_width_m: float = 0.15
    rail_height_m: float = 0.172
    clip_offset_m: float = 0.105
    ballast_half_m: float = 1.9
    shoulder_half_m: float = 2.6
    cess_half_m: float = 4.0
    road_side: int = 1
    road_d_m: tuple[float, float] = (5.0, 8.5)
    fence_d_m: float = 12.5
    electrified: bool = True
    mast_spacing_m: float = 60.0
    mast_d_m: float = -3.4

    @property
    def rail_d_m(self) -> tuple[float, float]:
        """Centre lines of the left and right rail heads."""
        c = self.gauge_m / 2 + self.head_width_m / 2
        return (c, -c)


@dataclass(frozen=True)
class PipeLayout:
    """An above-ground pipe on supports, or a buried pipe with a marked right of way."""

    style: str = "buried"  # "buried" or "above"
    diameter_m: float = 0.6
    top_height_m: float = 1.0
    support_spacing_m: float = 12.0
    row_half_m: float = 9.0
    track_d_m: tuple[float, float] = (-11.5, -8.0)
    marker_spacing_m: float = 100.0
    marker_d_m: float = 2.0
    heat_loss_k: float = 0.4  # faint warm line over a buried warm pipe (night)


#: Expected defects per 100 m of flown line, per asset and class (before ``density``).
RATES: dict[str, dict[str, float]] = {
    "rail": {
        "sleeper_defect": 1.2,
        "missing_fastener": 1.6,
        "rail_head_damage": 0.8,
        "broken_rail": 0.25,
        "vegetation": 0.8,
        "ballast_defect": 0.4,
        "drainage": 0.3,
        "obstruction": 0.3,
        "false_positive": 0.8,
    },
    "pipeline": {
        "leak_candidate": 0.8,
        "insulation_loss": 0.2,
        "coating_corrosion": 0.8,
        "exposed_pipe": 0.25,
        "third_party_activity": 0.15,
        "vegetation_stress": 0.4,
        "vegetation": 0.3,
        "false_positive": 1.0,
    },
}


@dataclass
class Scene:
    """Everything needed to paint the world (see :mod:`missions.sim.paint`)."""

    asset: Asset
    terrain: Terrain
    thermal: ThermalScene
    seed: int
    flown_s: tuple[float, float]
    track: TrackLayout = field(default_factory=TrackLayout)
    pipe: PipeLayout = field(default_factory=PipeLayout)
    objects: list[SceneObject] = field(default_factory=list)
    _index: Any = field(default=None, repr=False)

    def objects_in(self, xmin: float, ymin: float, xmax: float, ymax: float) -> list[SceneObject]:
        """Objects whose outline (grown by shadow/plume reach) meets the box."""
        if not self.objects:
            return []
        if self._index is None:
            b = np.array([o.bbox_xy() for o in self.objects])
            self._index = b
        b = self._index
        hit = (b[:, 0] <= xmax) & (b[:, 2] >= xmin) & (b[:, 1] <= ymax) & (b[:, 3] >= ymin)
        return [self.objects[i] for i in np.nonzero(hit)[0]]

    def defects(self) -> list[SceneObject]:
        """The objects that are defects (not look-alikes)."""
        return [o for o in self.objects if o.is_defect]


def _count(rate: float, length_m: float, density: float, rng: np.random.Generator) -> int:
    lam = rate * density * length_m / 100.0
    return int(np.floor(lam) + (rng.random() < lam - np.floor(lam)))


class _Placer:
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


def _rail(p: _Placer, cls: str) -> None:
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


def _pipe(p: _Placer, cls: str) -> None:
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


def _distractor(p: _Placer) -> None:
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


def build_scene(
    asset: Asset,
    terrain: Terrain,
    *,
    seed: int,
    flown_s: tuple[float, float],
    density: float = 1.0,
    thermal: ThermalScene | None = None,
    pipe_style: str = "buried",
    rates: dict[str, float] | None = None,
) -> Scene:
    """Place defects and look-alikes along the flown stretch ``flown_s`` (corridor metres)."""
    if pipe_style not in ("buried", "above"):
        raise SimulationError(f"pipe_style must be 'buried' or 'above', got {pipe_style!r}")
    if density < 0:
        raise SimulationError(f"density must be >= 0, got {density}")
    rng = np.random.default_rng([seed, 0x5CE4E])
    electrified = str(asset.tags.get("electrified", "contact_line")) != "no"
    track = TrackLayout(
        gauge_m=asset.gauge_m, road_side=int(rng.choice([-1, 1])), electrified=electrified
    )
    if thermal is None:
        thermal = (
            ThermalScene(kind="day")
            if asset.kind == "rail"
            else ThermalScene(kind="night", air_c=-2.0, sky_c=-30.0, humidity_pct=80.0)
        )
    scene = Scene(
        asset=asset,
        terrain=terrain,
        thermal=thermal,
        seed=seed,
        flown_s=flown_s,
        track=track,
        pipe=PipeLayout(style=pipe_style),
    )
    placer = _Placer(scene, rng)
    length = flown_s[1] - flown_s[0]
    table = dict(RATES[asset.kind]) | (rates or {})
    for cls, rate in table.items():
        n = _count(rate, length, density, rng)
        for _ in range(n):
            for _attempt in range(20):
                before = len(scene.objects)
                if cls == "false_positive":
                    _distractor(placer)
                elif asset.kind == "rail":
                    _rail(placer, cls)
                else:
                    _pipe(placer, cls)
                if len(scene.objects) > before:
                    break
    scene.objects.sort(key=lambda o: o.id)
    log.info("scene: %d objects (%d defects)", len(scene.objects), len(scene.defects()))
    return scene
