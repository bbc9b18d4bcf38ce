"""``survey diff RUN_A RUN_B``: the defects two runs agree on, and where they disagree.

A run is an onboard recording (``onboard/defects.json``), a GeoPackage with a ``defects`` layer
(``survey process`` output, or a simulator's ``truth/defects.gpkg``), or a folder holding one
of these. Defects are paired greedily nearest first within ``radius_m``: same class pairs are
``both`` (with their position difference), pairs of different classes within the radius are
``class`` disagreements, the rest are ``a_only`` / ``b_only``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from missions.errors import MissionError

__all__ = ["DiffRow", "RunDefects", "diff_runs", "load_run"]


class DiffError(MissionError, ValueError):
    """A run cannot be read as a defect list."""


@dataclass(frozen=True)
class RunDefects:
    """Defects of one run (parallel arrays)."""

    source: str
    class_name: np.ndarray
    lat_deg: np.ndarray
    lon_deg: np.ndarray
    chainage_m: np.ndarray


@dataclass(frozen=True)
class DiffRow:
    kind: str  # both, class, a_only, b_only
    a_index: int
    b_index: int
    class_a: str
    class_b: str
    distance_m: float
    chainage_m: float


def load_run(path: str | Path) -> RunDefects:
    """Read a run (see the module docstring)."""
    p = Path(path)
    if p.is_dir():
        for cand in (p / "onboard" / "defects.json", *sorted(p.glob("**/defects.gpkg"))):
            if cand.is_file():
                return load_run(cand)
        raise DiffError("no onboard/defects.json and no defects.gpkg in the folder", path=p)
    if p.suffix == ".json":
        try:
            rows = json.loads(p.read_text())
        except (OSError, ValueError) as exc:
            raise DiffError(f"not a JSON defect list ({exc})", path=p) from exc
        get = lambda k: np.array([r.get(k) if r.get(k) is not None else np.nan for r in rows])  # noqa: E731
        return RunDefects(
            str(p),
            np.array([r["class_name"] for r in rows], object),
            get("lat_deg").astype(float),
            get("lon_deg").astype(float),
            get("chainage_m").astype(float),
        )
    try:
        import geopandas as gpd

        g = gpd.read_file(p, layer="defects")
    except Exception as exc:
        raise DiffError(f"no readable 'defects' layer ({exc})", path=p) from exc
    cls = next((c for c in ("class_name", "class", "class_nam") if c in g.columns), None)
    if cls is None:
        raise DiffError("the defects layer has no class column", path=p, where="defects")
    if "lat_deg" in g.columns:
        lat, lon = g["lat_deg"].to_numpy(float), g["lon_deg"].to_numpy(float)
    else:
        c = g.to_crs(4326).geometry.centroid
        lat, lon = c.y.to_numpy(), c.x.to_numpy()
    ch = g["chainage_m"].to_numpy(float) if "chainage_m" in g.columns else np.full(len(g), np.nan)
    return RunDefects(str(p), g[cls].astype(str).to_numpy(object), lat, lon, ch)


def _metres(a: RunDefects, b: RunDefects) -> np.ndarray:
    k = math.pi / 180 * 6_371_008.8
    lat0 = np.radians(np.nanmean(np.r_[a.lat_deg, b.lat_deg])) if len(a) + len(b) else 0.0
    dy = (a.lat_deg[:, None] - b.lat_deg[None, :]) * k
    dx = (a.lon_deg[:, None] - b.lon_deg[None, :]) * k * math.cos(lat0)
    return np.hypot(dx, dy)


RunDefects.__len__ = lambda self: len(self.class_name)  # type: ignore[method-assign]


def diff_runs(a: RunDefects, b: RunDefects, radius_m: float = 3.0) -> list[DiffRow]:
    """Pair the defects of two runs (see the module docstring)."""
    d = _metres(a, b) if len(a) and len(b) else np.zeros((len(a), len(b)))
    same = a.class_name[:, None] == b.class_name[None, :]
    rows: list[DiffRow] = []
    used_a, used_b = set(), set()
    # same-class pairs first, then class disagreements, each nearest first
    for want_same in (True, False):
        cand = np.argwhere((d <= radius_m) & (same == want_same))
        for i, j in sorted(cand.tolist(), key=lambda ij: d[ij[0], ij[1]]):
            if i in used_a or j in used_b:
                continue
            used_a.add(i)
            used_b.add(j)
            rows.append(
                DiffRow(
                    "both" if want_same else "class",
                    i,
                    j,
                    a.class_name[i],
                    b.class_name[j],
                    float(d[i, j]),
                    float(a.chainage_m[i]),
                )
            )
    rows += [
        DiffRow("a_only", i, -1, a.class_name[i], "", math.nan, float(a.chainage_m[i]))
        for i in range(len(a))
        if i not in used_a
    ]
    rows += [
        DiffRow("b_only", -1, j, "", b.class_name[j], math.nan, float(b.chainage_m[j]))
        for j in range(len(b))
        if j not in used_b
    ]
    return sorted(rows, key=lambda r: math.inf if math.isnan(r.chainage_m) else r.chainage_m)


def summary(rows: list[DiffRow], a: RunDefects, b: RunDefects) -> dict[str, object]:
    """Counts, the share of B's defects A also found, and the position differences."""
    both = [r for r in rows if r.kind == "both"]
    dist = np.array([r.distance_m for r in both])
    return {
        "a": a.source,
        "b": b.source,
        "a_defects": len(a),
        "b_defects": len(b),
        "both": len(both),
        "class_disagreements": sum(r.kind == "class" for r in rows),
        "a_only": sum(r.kind == "a_only" for r in rows),
        "b_only": sum(r.kind == "b_only" for r in rows),
        "share_of_b_found_by_a": len(both) / len(b) if len(b) else None,
        "position_diff_median_m": float(np.median(dist)) if dist.size else None,
        "position_diff_max_m": float(dist.max()) if dist.size else None,
        "rows": [asdict(r) for r in rows],
    }
