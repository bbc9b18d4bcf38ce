"""Nearest-segment queries on polylines (the fast path of linear referencing).

Every polyline is cut into its straight segments, indexed in one STRtree; a point's nearest
point on a line is the nearest point on its nearest segment, found in O(log n) per point
instead of a scan of every vertex.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["SegmentHits", "SegmentIndex"]


@dataclass(frozen=True, eq=False)
class SegmentHits:
    """For each (point, segment) pair: distance along the line of the foot, the foot, the
    distance, the signed along-overshoot past the line's ends, and the cross product sign."""

    point: NDArray[np.intp]
    line: NDArray[np.intp]
    distance_along_m: NDArray[np.float64]
    foot_x_m: NDArray[np.float64]
    foot_y_m: NDArray[np.float64]
    dist_m: NDArray[np.float64]
    beyond_m: NDArray[np.float64]  # < 0 before the first vertex, > 0 after the last
    cross: NDArray[np.float64]  # > 0: the point is left of the direction of travel
    tx: NDArray[np.float64]
    ty: NDArray[np.float64]


class SegmentIndex:
    """All segments of some polylines, with the distance along their line at each start.

    Examples
    --------
    >>> import shapely
    >>> idx = SegmentIndex([shapely.LineString([(0, 0), (10, 0), (10, 10)])])
    >>> h = idx.nearest(np.array([4.0, 12.0]), np.array([1.0, 5.0]))
    >>> h.distance_along_m.tolist(), h.dist_m.tolist()
    ([4.0, 15.0], [1.0, 2.0])
    """

    def __init__(self, lines: Sequence[Any]) -> None:
        import shapely

        ax, ay, bx, by, d0, line, first, last = [], [], [], [], [], [], [], []
        for k, ln in enumerate(lines):
            c = np.asarray(shapely.get_coordinates(ln))[:, :2]
            seg = np.hypot(*np.diff(c, axis=0).T)
            keep = seg > 0
            cum = np.concatenate([[0.0], np.cumsum(seg)])[:-1]
            n = int(keep.sum())
            ax.append(c[:-1, 0][keep])
            ay.append(c[:-1, 1][keep])
            bx.append(c[1:, 0][keep])
            by.append(c[1:, 1][keep])
            d0.append(cum[keep])
            line.append(np.full(n, k))
            f = np.zeros(n, bool)
            la = np.zeros(n, bool)
            if n:
                f[0], la[-1] = True, True
            first.append(f)
            last.append(la)
        cat = np.concatenate
        self.ax, self.ay, self.bx, self.by = cat(ax), cat(ay), cat(bx), cat(by)
        self.d0, self.line = cat(d0), cat(line).astype(np.intp)
        self.first, self.last = cat(first), cat(last)
        self.length = np.hypot(self.bx - self.ax, self.by - self.ay)
        segs = shapely.linestrings(
            np.stack([np.stack([self.ax, self.ay], -1), np.stack([self.bx, self.by], -1)], 1)
        )
        self.tree = shapely.STRtree(segs)

    def _hits(
        self, pi: NDArray[np.intp], si: NDArray[np.intp], x: NDArray, y: NDArray
    ) -> SegmentHits:
        ax, ay = self.ax[si], self.ay[si]
        L = self.length[si]
        tx, ty = (self.bx[si] - ax) / L, (self.by[si] - ay) / L
        px, py = x[pi] - ax, y[pi] - ay
        s = px * tx + py * ty  # along the segment, unclamped
        sc = np.clip(s, 0.0, L)
        fx, fy = ax + sc * tx, ay + sc * ty
        vx, vy = x[pi] - fx, y[pi] - fy
        beyond = np.where(self.first[si] & (s < 0), s, 0.0)
        beyond = np.where(self.last[si] & (s > L), s - L, beyond)
        return SegmentHits(
            pi, self.line[si], self.d0[si] + sc, fx, fy, np.hypot(vx, vy), beyond,
            tx * py - ty * px, tx, ty,
        )  # fmt: skip

    def nearest(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> SegmentHits:
        """The nearest segment of every point (one hit per point, in point order)."""
        import shapely

        pts = shapely.points(x, y)
        pi, si = self.tree.query_nearest(pts, all_matches=False)
        order = np.argsort(pi, kind="stable")
        return self._hits(pi[order], si[order], x, y)

    def within(self, x: NDArray[np.float64], y: NDArray[np.float64], max_m: float) -> SegmentHits:
        """Every (point, segment) pair closer than ``max_m``."""
        import shapely

        pi, si = self.tree.query(shapely.points(x, y), predicate="dwithin", distance=max_m)
        return self._hits(pi, si, x, y)
