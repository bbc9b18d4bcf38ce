"""Synthetic temperature scenes with known leaks and typical false alarms, for evaluation.

A nadir view of ground along a buried pipe: smooth ground temperature with a slow gradient
and sensor noise, the pipe's own faint linear heat trace along the corridor, **leaks**
(diffuse warm halos, or cool wet patches, centred on the pipe) and **distractors**: small hot
objects off the corridor (cars, animals, lamps), thin sun glints along a rail or kerb, a
sun-heated flat-topped rock on the corridor (daytime scenes), and whole-frame drift (an offset
plus a tilt). Everything is drawn with vectorised numpy from a seeded generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from thermal.background import corridor_mask

__all__ = ["SyntheticScene", "make_leak_scene"]


@dataclass(frozen=True, eq=False)
class SyntheticScene:
    """A scene and its truth: leak centres (x, y px), radii (px) and polarities."""

    temp_c: NDArray[np.float32]
    corridor: NDArray[np.bool_]
    gsd_m: float
    local_hour: float
    leak_xy: NDArray[np.float64]
    leak_radius_px: NDArray[np.float64]
    leak_polarity: NDArray[np.int8]
    distractor_xy: NDArray[np.float64]
    distractor_kind: tuple[str, ...]


def make_leak_scene(
    seed: int,
    shape: tuple[int, int] = (512, 640),
    gsd_m: float = 0.1,
    n_leaks: int = 2,
    daytime: bool = True,
    cool_leak: bool = False,
) -> SyntheticScene:
    """A random scene (see the module docstring); same seed, same scene."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ground = rng.uniform(-5.0, 25.0)
    t = ground + rng.uniform(-2, 2) * (xx / w) + rng.uniform(-2, 2) * (yy / h)  # drift + tilt
    # soft texture (fields, soil moisture) and sensor noise
    low = rng.normal(0, 1, (h // 32 + 2, w // 32 + 2)).astype(np.float32)
    import cv2

    t += 0.4 * cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)
    t += rng.normal(0, 0.12, (h, w)).astype(np.float32)
    # the pipe: a straight line across the frame at a random angle, corridor 6 m wide
    ang = rng.uniform(0, np.pi)
    c = np.array([w / 2, h / 2]) + rng.uniform(-40, 40, 2)
    d = np.array([np.cos(ang), np.sin(ang)])
    p0, p1 = c - d * 2 * max(h, w), c + d * 2 * max(h, w)
    corridor = corridor_mask(shape, [p0, p1], 6.0 / gsd_m)
    dist = np.abs((xx - c[0]) * d[1] - (yy - c[1]) * d[0])
    t += 0.8 * np.exp(-0.5 * (dist * gsd_m / 0.4) ** 2)  # linear heat trace of the pipe
    # leaks: diffuse gaussian halos on the pipe, well inside the frame
    along = rng.uniform(-0.8, 0.8, n_leaks) * min(h, w) / 2
    spread = np.sort(along)
    if n_leaks > 1:
        spread = np.linspace(-1, 1, n_leaks) * min(h, w) * 0.35 + rng.uniform(-10, 10, n_leaks)
    leak_xy = c + spread[:, None] * d[None, :]
    radius = rng.uniform(1.2, 3.0, n_leaks) / gsd_m
    pol = np.ones(n_leaks, np.int8)
    if cool_leak and n_leaks:
        pol[-1] = -1
    for (lx, ly), r, s in zip(leak_xy, radius, pol, strict=True):
        amp = rng.uniform(3.0, 10.0) if s > 0 else rng.uniform(3.0, 5.0)
        t += s * amp * np.exp(-0.5 * (((xx - lx) ** 2 + (yy - ly) ** 2) / (r / 1.6) ** 2))
    kinds: list[str] = []
    dxy: list[tuple[float, float]] = []
    off = ~corridor
    # small hot objects off the corridor (a car engine, a lamp, an animal)
    for _ in range(3):
        ys, xs = np.nonzero(off[40:-40, 40:-40])
        k = rng.integers(len(xs))
        ox, oy = xs[k] + 40, ys[k] + 40
        rr = rng.uniform(0.6, 1.5) / gsd_m
        t[(xx - ox) ** 2 + (yy - oy) ** 2 < rr**2] += rng.uniform(8, 25)
        kinds.append("hot object off corridor")
        dxy.append((float(ox), float(oy)))
    # a sun glint along a rail/kerb: a thin straight bright line crossing the corridor
    g_ang = ang + rng.uniform(-0.3, 0.3)
    gd = np.array([np.cos(g_ang), np.sin(g_ang)])
    gc = c + np.array([-d[1], d[0]]) * rng.uniform(-1.5, 1.5) / gsd_m
    gdist = np.abs((xx - gc[0]) * gd[1] - (yy - gc[1]) * gd[0])
    galong = (xx - gc[0]) * gd[0] + (yy - gc[1]) * gd[1]
    t[(gdist < 1.0) & (np.abs(galong) < rng.uniform(10, 25) / gsd_m)] += rng.uniform(5, 12)
    kinds.append("linear sun glint")
    dxy.append((float(gc[0]), float(gc[1])))
    if daytime:
        # a sun-heated flat-topped rock on the corridor, away from the leaks
        for _ in range(20):
            rc = (
                c
                + d * rng.uniform(-0.45, 0.45) * min(h, w)
                + np.array([-d[1], d[0]]) * rng.uniform(-1.5, 1.5) / gsd_m
            )
            if np.min(np.hypot(*(leak_xy - rc).T) - radius) > 40:
                break
        rr = rng.uniform(0.4, 0.7) / gsd_m
        t[(xx - rc[0]) ** 2 + (yy - rc[1]) ** 2 < rr**2] += rng.uniform(4, 8)
        kinds.append("sun-heated rock on corridor")
        dxy.append((float(rc[0]), float(rc[1])))
    return SyntheticScene(
        temp_c=t.astype(np.float32),
        corridor=corridor,
        gsd_m=gsd_m,
        local_hour=13.0 if daytime else 2.0,
        leak_xy=leak_xy,
        leak_radius_px=radius,
        leak_polarity=pol,
        distractor_xy=np.array(dxy, dtype=np.float64).reshape(-1, 2),
        distractor_kind=tuple(kinds),
    )
