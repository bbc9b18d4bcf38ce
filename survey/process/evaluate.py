"""Compare a run's defects with a reference list: a ground inspection, an earlier survey, or the
simulator's exact truth.

Each reference defect is matched to at most one found defect of the same class (or of any
class with ``match_class=False``) whose position lies within ``radius_m`` of the reference
outline; pairs are taken nearest first. Recall is over the reference defects the flight could
see (their centre inside the analysed frames of the camera that shows that class, when
``footprints`` are given), precision over the found defects. Position error is the distance
between the found position and the reference centre; chainage error the difference of
chainages.

Examples
--------
>>> import numpy as np, shapely
>>> ref = {"cls": np.array(["a", "a"]), "geom": np.array([shapely.box(0, 0, 1, 1),
...        shapely.box(10, 0, 11, 1)]), "chainage_m": np.array([0.5, 10.5])}
>>> found = {"cls": np.array(["a", "b"]), "x": np.array([0.6, 10.2]), "y": np.array([0.4, 0.5]),
...          "chainage_m": np.array([0.6, 10.2])}
>>> m = match_defects(ref, found, radius_m=2.0)
>>> m.tp, m.fp, m.fn, [round(e, 2) for e in m.position_error_m]
(1, 1, 1, [0.14])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Match", "match_defects", "summarize"]


@dataclass
class Match:
    """Result of :func:`match_defects`."""

    tp: int
    fp: int
    fn: int
    pairs: list[tuple[int, int]] = field(default_factory=list)
    position_error_m: list[float] = field(default_factory=list)
    chainage_error_m: list[float] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    false: list[int] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")


def match_defects(
    ref: dict[str, NDArray[Any]],
    found: dict[str, NDArray[Any]],
    *,
    radius_m: float = 2.0,
    match_class: bool = True,
    visible: NDArray[np.bool_] | None = None,
) -> Match:
    """Match found defects to reference defects (both in one metric CRS).

    ``ref``: ``cls``, ``geom`` (outlines), ``chainage_m``; ``found``: ``cls``, ``x``, ``y``,
    ``chainage_m``. ``visible`` marks the reference defects that count for recall.
    """
    import shapely

    n_ref, n_f = len(ref["cls"]), len(found["cls"])
    vis = np.ones(n_ref, bool) if visible is None else np.asarray(visible, bool)
    pts = shapely.points(found["x"], found["y"]) if n_f else np.zeros(0, object)
    cands: list[tuple[float, int, int]] = []
    for i in range(n_ref):
        if not n_f:
            break
        d = shapely.distance(ref["geom"][i], pts)
        ok = d <= radius_m
        if match_class:
            ok &= found["cls"] == ref["cls"][i]
        for j in np.flatnonzero(ok):
            cands.append((float(d[j]), i, int(j)))
    cands.sort()
    used_r, used_f = set(), set()
    m = Match(0, 0, 0)
    for _, i, j in cands:
        if i in used_r or j in used_f:
            continue
        used_r.add(i)
        used_f.add(j)
        m.pairs.append((i, j))
        c = shapely.centroid(ref["geom"][i])
        m.position_error_m.append(float(np.hypot(found["x"][j] - c.x, found["y"][j] - c.y)))
        m.chainage_error_m.append(float(abs(found["chainage_m"][j] - ref["chainage_m"][i])))
    m.tp = sum(1 for i, _ in m.pairs if vis[i])
    m.missed = [i for i in range(n_ref) if vis[i] and i not in used_r]
    m.fn = len(m.missed)
    m.false = [j for j in range(n_f) if j not in used_f]
    m.fp = len(m.false)
    return m


def summarize(m: Match) -> dict[str, float]:
    """Recall, precision and error percentiles of a match."""
    pe, ce = np.asarray(m.position_error_m), np.asarray(m.chainage_error_m)

    def q(a: NDArray[np.float64], p: float) -> float:
        return float(np.percentile(a, p)) if a.size else float("nan")

    return {
        "tp": m.tp,
        "fp": m.fp,
        "fn": m.fn,
        "recall": m.recall,
        "precision": m.precision,
        "pos_err_median_m": q(pe, 50),
        "pos_err_p95_m": q(pe, 95),
        "chainage_err_median_m": q(ce, 50),
        "chainage_err_p95_m": q(ce, 95),
    }
