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
from missions.sim.objects import SceneObject
from missions.sim.placement import Placer, count_for, place_lookalike, place_pipeline, place_rail
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
    placer = Placer(scene, rng)
    length = flown_s[1] - flown_s[0]
    table = dict(RATES[asset.kind]) | (rates or {})
    for cls, rate in table.items():
        n = count_for(rate, length, density, rng)
        for _ in range(n):
            for _attempt in range(20):
                before = len(scene.objects)
                if cls == "false_positive":
                    place_lookalike(placer)
                elif asset.kind == "rail":
                    place_rail(placer, cls)
                else:
                    place_pipeline(placer, cls)
                if len(scene.objects) > before:
                    break
    scene.objects.sort(key=lambda o: o.id)
    log.info("scene: %d objects (%d defects)", len(scene.objects), len(scene.defects()))
    return scene
