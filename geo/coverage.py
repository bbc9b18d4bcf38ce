"""Which chainage intervals each camera saw, at what ground sample distance, and the gaps.

The route is sampled every ``step_m``. A station counts as seen by a camera when the station
and, with ``half_width_m``, the two points that far to its left and right all lie inside that
camera's frame footprints (together). Runs of seen stations become intervals with the finest
GSD of the frames that saw them and the fewest frames that saw any of their stations; runs of
unseen stations inside the surveyed range are the gaps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.errors import GeoValueError
from geo.route import Route

__all__ = ["Coverage", "coverage_by_chainage"]


@dataclass(frozen=True, eq=False)
class Coverage:
    """Covered intervals and gaps of one route (struct-of-arrays each).

    Intervals: ``camera``, ``start_m``/``end_m`` (chainage), ``start_d_m``/``end_d_m``
    (distance along the geometry), ``gsd_m`` (finest GSD seen), ``min_frames``.
    Gaps: ``gap_camera``, ``gap_start_m``, ``gap_end_m``, ``gap_start_d_m``, ``gap_end_d_m``.
    """

    route_id: str
    camera: NDArray[np.str_]
    start_m: NDArray[np.float64]
    end_m: NDArray[np.float64]
    start_d_m: NDArray[np.float64]
    end_d_m: NDArray[np.float64]
    gsd_m: NDArray[np.float64]
    min_frames: NDArray[np.intp]
    gap_camera: NDArray[np.str_]
    gap_start_m: NDArray[np.float64]
    gap_end_m: NDArray[np.float64]
    gap_start_d_m: NDArray[np.float64]
    gap_end_d_m: NDArray[np.float64]

    def covered_length_m(self, camera: str) -> float:
        """Total length seen by a camera."""
        sel = self.camera == camera
        return float(np.sum(self.end_d_m[sel] - self.start_d_m[sel]))


def _runs(mask: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """(first, last) index pairs of runs of True."""
    if not mask.any():
        return []
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    starts = np.nonzero(d == 1)[0]
    ends = np.nonzero(d == -1)[0] - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def coverage_by_chainage(
    route: Route,
    footprints: ArrayLike,
    gsd_m: ArrayLike,
    camera: ArrayLike,
    *,
    step_m: float = 1.0,
    half_width_m: float = 0.0,
    d_range_m: tuple[float, float] | None = None,
) -> Coverage:
    """Coverage of a route by frame footprints (all in the route's CRS).

    Parameters
    ----------
    route : Route
        The asset line.
    footprints : array_like of shapely Polygons (N,)
        Frame footprints (None entries are skipped).
    gsd_m : array_like (N,)
        GSD of each frame (e.g. at the frame centre or on the asset).
    camera : array_like of str (N,)
        Camera label of each frame (``"rgb"``, ``"thermal"``).
    step_m : float
        Station spacing.
    half_width_m : float
        Corridor half-width that must be seen at each station.
    d_range_m : (float, float), optional
        Distance range to assess; default the whole route.

    Examples
    --------
    >>> import shapely
    >>> r = Route("L", shapely.LineString([(0, 0), (100, 0)]), "EPSG:32633", 1000.0)
    >>> fps = [shapely.box(-5, -10, 40, 10), shapely.box(60, -10, 120, 10)]
    >>> cov = coverage_by_chainage(r, fps, [0.01, 0.02], ["rgb", "rgb"], step_m=1.0)
    >>> cov.start_m.tolist(), cov.end_m.tolist(), cov.gsd_m.tolist()
    ([1000.0, 1060.0], [1040.0, 1100.0], [0.01, 0.02])
    >>> cov.gap_start_m.tolist(), cov.gap_end_m.tolist()
    ([1040.0], [1060.0])
    """
    import shapely

    fps = np.asarray(footprints, dtype=object).ravel()
    gsd = np.asarray(gsd_m, dtype=np.float64).ravel()
    cams = np.asarray(camera).astype(str).ravel()
    if not (fps.size == gsd.size == cams.size):
        raise GeoValueError("footprints, gsd_m and camera must have the same length")
    if step_m <= 0:
        raise GeoValueError(f"step_m must be positive, got {step_m}")
    L = route.length_m
    d0, d1 = (0.0, L) if d_range_m is None else (max(0.0, d_range_m[0]), min(L, d_range_m[1]))
    if d1 <= d0:
        raise GeoValueError(f"empty distance range {d_range_m} on a route of {L:.1f} m")
    nst = max(int(np.ceil((d1 - d0) / step_m)), 1)
    d = d0 + (np.arange(nst) + 0.5) * (d1 - d0) / nst
    half = 0.5 * (d1 - d0) / nst
    cx = shapely.get_x(shapely.line_interpolate_point(route.line, d))
    cy = shapely.get_y(shapely.line_interpolate_point(route.line, d))
    tx, ty = route._tangent(d)
    probes = [(cx, cy)]
    if half_width_m > 0:
        probes += [(cx + half_width_m * ty, cy - half_width_m * tx)]  # right
        probes += [(cx - half_width_m * ty, cy + half_width_m * tx)]  # left
    ok_fp = np.array([f is not None and not f.is_empty for f in fps], dtype=bool)
    out: dict[str, list] = {k: [] for k in ("cam", "s", "e", "gsd", "nf")}
    gaps: dict[str, list] = {k: [] for k in ("cam", "s", "e")}
    for cam in sorted(set(cams[ok_fp])):
        idx = np.nonzero(ok_fp & (cams == cam))[0]
        tree = shapely.STRtree(fps[idx])
        seen = np.ones(nst, dtype=bool)
        best = np.full(nst, np.inf)
        nfr = np.zeros(nst, dtype=np.intp)
        for k, (px, py) in enumerate(probes):
            pi, fj = tree.query(shapely.points(px, py), predicate="within")
            inside = np.zeros(nst, dtype=bool)
            inside[pi] = True
            seen &= inside
            if k == 0:
                np.minimum.at(best, pi, gsd[idx[fj]])
                np.add.at(nfr, pi, 1)
        for a, b in _runs(seen):
            out["cam"].append(cam)
            out["s"].append(d[a] - half)
            out["e"].append(d[b] + half)
            out["gsd"].append(float(best[a : b + 1].min()))
            out["nf"].append(int(nfr[a : b + 1].min()))
        for a, b in _runs(~seen):
            gaps["cam"].append(cam)
            gaps["s"].append(d[a] - half)
            gaps["e"].append(d[b] + half)
    s, e = np.array(out["s"], float), np.array(out["e"], float)
    gs, ge = np.array(gaps["s"], float), np.array(gaps["e"], float)
    return Coverage(
        route.route_id,
        np.array(out["cam"], dtype=str),
        route.measure_at(s),
        route.measure_at(e),
        s,
        e,
        np.array(out["gsd"], float),
        np.array(out["nf"], dtype=np.intp),
        np.array(gaps["cam"], dtype=str),
        route.measure_at(gs),
        route.measure_at(ge),
        gs,
        ge,
    )
