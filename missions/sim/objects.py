"""Scene objects (defects and thermal look-alikes): geometry in corridor and grid coordinates.

Each object has an instance id, a class (see :mod:`missions.sim.classes`), a variant, a polygon
(the ground-truth outline, in grid metres), its corridor position and the parameters its painter
needs. Shapes are built in corridor coordinates (s along, d left) and mapped to the grid through
the corridor, so they follow curves exactly as the procedural track does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from missions.sim.classes import CLASSES
from missions.sim.corridor import Corridor

__all__ = ["SceneObject", "blob_sd", "ellipse_sd", "rect_sd"]

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class SceneObject:
    """One defect or distractor.

    ``polygon_sd`` is the outline in corridor coordinates, ``polygon_xy`` the same in the grid
    CRS. ``params`` carries class-specific numbers (``delta_t_k``, ``height_m``, ``missing``
    ...), all floats so they can go into GeoPackage columns.
    """

    id: int
    cls: str
    variant: str
    polygon_sd: F64
    polygon_xy: F64
    s_m: float
    d_m: float
    severity: int
    params: dict[str, float] = field(default_factory=dict)

    @property
    def bands(self) -> tuple[str, ...]:
        """Camera bands in which this object is annotated."""
        return CLASSES[self.cls].bands

    @property
    def is_defect(self) -> bool:
        """False for thermal look-alikes (class ``false_positive``)."""
        return self.cls != "false_positive"

    def bbox_xy(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the outline, grown by the shadow and plume reach."""
        grow = float(self.params.get("reach_m", 0.0))
        p = self.polygon_xy
        return (
            float(p[:, 0].min()) - grow,
            float(p[:, 1].min()) - grow,
            float(p[:, 0].max()) + grow,
            float(p[:, 1].max()) + grow,
        )

    def area_m2(self) -> float:
        """Area of the outline (shoelace)."""
        p = self.polygon_xy - self.polygon_xy.mean(axis=0)  # avoid cancellation at UTM scale
        x, y = p[:, 0], p[:, 1]
        return float(0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))

    @staticmethod
    def make(
        corridor: Corridor,
        oid: int,
        cls: str,
        variant: str,
        poly_sd: F64,
        severity: int,
        **params: float,
    ) -> SceneObject:
        """Build an object from its corridor outline (centroid by the polygon's vertices)."""
        xy = corridor.to_world(poly_sd[:, 0], poly_sd[:, 1])
        return SceneObject(
            id=oid,
            cls=cls,
            variant=variant,
            polygon_sd=poly_sd,
            polygon_xy=xy,
            s_m=float(poly_sd[:, 0].mean()),
            d_m=float(poly_sd[:, 1].mean()),
            severity=severity,
            params={k: float(v) for k, v in params.items()},
        )


def rect_sd(s0: float, d0: float, ls: float, ld: float, step: float = 0.25) -> F64:
    """Rectangle centred on (s0, d0), ``ls`` long and ``ld`` wide, edges densified."""
    ns = max(1, int(np.ceil(ls / step)))
    nd = max(1, int(np.ceil(ld / step)))
    a = np.linspace(-ls / 2, ls / 2, ns + 1)
    b = np.linspace(-ld / 2, ld / 2, nd + 1)
    ring = np.concatenate(
        [
            np.column_stack([a[:-1], np.full(ns, -ld / 2)]),
            np.column_stack([np.full(nd, ls / 2), b[:-1]]),
            np.column_stack([a[::-1][:-1], np.full(ns, ld / 2)]),
            np.column_stack([np.full(nd, -ls / 2), b[::-1][:-1]]),
        ]
    )
    return ring + [s0, d0]


def ellipse_sd(s0: float, d0: float, rs: float, rd: float, n: int = 32) -> F64:
    """Ellipse with semi-axes ``rs`` (along) and ``rd`` (across), ``n`` vertices."""
    th = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.column_stack([s0 + rs * np.cos(th), d0 + rd * np.sin(th)])


def blob_sd(
    s0: float,
    d0: float,
    radius: float,
    rng: np.random.Generator,
    *,
    elong: float = 1.0,
    n: int = 48,
) -> F64:
    """A star-shaped amorphous outline: r(theta) = R (1 + sum_k a_k cos(k theta + phi_k)).

    ``elong`` > 1 stretches it along the line.
    """
    th = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.ones(n)
    for k in range(2, 6):
        r += rng.uniform(0, 0.22 / k * 2) * np.cos(k * th + rng.uniform(0, 2 * np.pi))
    r = np.clip(r, 0.45, None) * radius
    return np.column_stack([s0 + elong * r * np.cos(th), d0 + r * np.sin(th)])
