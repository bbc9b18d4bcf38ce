"""Crack instances from a defect mask: length, width, orientation and an advisory severity.

:func:`measure_cracks` splits a boolean mask into instances (8-connected components; parts
closer than ``join_gap_px`` count as one crack, since a thresholded crack often breaks where it
thins out) and measures each, vectorized over all instances:

- **length**: the skeleton (:func:`skimage.morphology.skeletonize`); each skeleton pixel
  counts ``1 / max(|cos θ|, |sin θ|)`` px, θ being the local direction of the skeleton (principal
  axis of the skeleton pixels within 4 px), which is exact for digital straight lines at any
  angle (plain 8-neighbour step counting overestimates lines at 20-30° by ~8 %); plus at each
  skeleton end the distance the skeleton stops short of the crack's tip (its distance-transform
  value less one pixel);
- **width**: mean width = area / length; max width = twice the largest distance-transform value
  on the skeleton less one pixel (exact for odd widths, one pixel short for even ones);
- **orientation**: the principal axis of the pixels, degrees in ``[0, 180)`` from the image's
  +x axis counter-clockwise as seen on screen (0 = horizontal, 90 = vertical);
- **mm / m** when the ground sample distance (mm per pixel) is known;
- **severity**: :class:`CrackSeverityScale` (1-5, advisory; ``0`` = not graded when the GSD is
  unknown, since widths in pixels say nothing about millimetres).

The default scale follows the condition states for reinforced concrete cracking of the AASHTO
*Manual for Bridge Element Inspection* (width < 0.012 in = 0.3 mm insignificant, 0.3-1.3 mm
moderate, > 0.05 in = 1.3 mm wide), extended to the five advisory levels of docs/domain.md:

====== ================== ==================== =====================================
level  max width          meaning              action (rail wording, advisory)
====== ================== ==================== =====================================
1      < 0.3 mm           hairline             record only
2      0.3 - 1.3 mm       moderate             monitor
3      1.3 - 3 mm         wide                 act within weeks
4      3 - 10 mm          open / structural    act within 24-72 h
5      >= 10 mm           gap, part loose      block / restrict now
====== ================== ==================== =====================================

and a crack at least ``length_m`` long (default 1 m: across most of a sleeper, a long crack in a
support) is raised one level (at most 5). All limits are fields of the scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np

from models.errors import ModelError

__all__ = ["CrackInstances", "CrackSeverityScale", "measure_cracks", "skeleton_length_px"]


@dataclass(frozen=True)
class CrackSeverityScale:
    """Advisory crack severity 1-5 from width (mm) and length (m); see the module docs.

    Attributes
    ----------
    width_mm : tuple of float
        Ascending upper limits of levels 1..4; a width at or above the last is level 5.
    length_m : tuple of float
        Each limit a crack reaches raises its level by one (capped at 5).
    width_measure : {"max", "mean"}
        Which width grades the crack.

    Examples
    --------
    >>> import numpy as np
    >>> CrackSeverityScale().grade(np.array([0.1, 0.5, 2.0, 5.0, 12.0, 0.5]),
    ...                            np.array([0.2, 0.2, 0.2, 0.2, 0.2, 1.5])).tolist()
    [1, 2, 3, 4, 5, 3]
    """

    width_mm: tuple[float, ...] = (0.3, 1.3, 3.0, 10.0)
    length_m: tuple[float, ...] = (1.0,)
    width_measure: Literal["max", "mean"] = "max"

    def __post_init__(self) -> None:
        w = tuple(float(x) for x in self.width_mm)
        if len(w) != 4 or any(b <= a for a, b in zip(w, w[1:], strict=False)) or w[0] <= 0:
            raise ModelError(f"width_mm must be 4 ascending positive limits, got {self.width_mm}")
        if any(x <= 0 for x in self.length_m):
            raise ModelError(f"length_m limits must be positive, got {self.length_m}")
        if self.width_measure not in ("max", "mean"):
            raise ModelError(f"width_measure must be 'max' or 'mean', got {self.width_measure!r}")

    def grade(self, width_mm: np.ndarray, length_m: np.ndarray) -> np.ndarray:
        """Level 1..5 per crack (int64) from its width (mm) and length (m)."""
        w = np.asarray(width_mm, float)
        lvl = 1 + np.searchsorted(np.asarray(self.width_mm), w, side="right")
        lvl += (np.asarray(length_m, float)[:, None] >= np.asarray(self.length_m)[None, :]).sum(1)
        return np.minimum(lvl, 5).astype(np.int64)


@dataclass(frozen=True)
class CrackInstances:
    """Cracks of one mask as parallel arrays (one entry per crack), plus their outlines.

    Lengths and widths are in pixels; the ``*_mm`` / ``*_m`` arrays are NaN when the GSD is
    unknown, and ``severity`` is then 0 (not graded).
    """

    area_px: np.ndarray
    length_px: np.ndarray
    mean_width_px: np.ndarray
    max_width_px: np.ndarray
    orientation_deg: np.ndarray
    centroid_xy: np.ndarray  # (N, 2) pixel coordinates
    bbox_xyxy: np.ndarray  # (N, 4) int: x0, y0, x1, y1 (exclusive)
    score: np.ndarray  # mean probability of the pixels (1.0 without a probability map)
    severity: np.ndarray  # int 1..5, 0 = not graded
    gsd_mm: float | None = None
    polygons: list[list[np.ndarray]] = field(default_factory=list)  # per crack: rings (K, 2)
    labels: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int32))
    """Label image of the mask's shape: crack ``i`` has value ``i + 1``, background 0."""

    def __len__(self) -> int:
        return int(self.area_px.shape[0])

    @property
    def length_m(self) -> np.ndarray:
        return self.length_px * (self.gsd_mm or np.nan) / 1000.0

    @property
    def mean_width_mm(self) -> np.ndarray:
        return self.mean_width_px * (self.gsd_mm or np.nan)

    @property
    def max_width_mm(self) -> np.ndarray:
        return self.max_width_px * (self.gsd_mm or np.nan)

    @property
    def area_m2(self) -> np.ndarray:
        return self.area_px * ((self.gsd_mm or np.nan) / 1000.0) ** 2

    def to_records(self, class_name: str = "crack") -> list[dict[str, Any]]:
        """JSON-ready dicts, one per crack (``None`` for unknown physical sizes)."""

        def num(x: float, nd: int = 3) -> float | None:
            return None if not np.isfinite(x) else round(float(x), nd)

        out = []
        for i in range(len(self)):
            rings = self.polygons[i] if i < len(self.polygons) else []
            out.append(
                {
                    "class": class_name,
                    "score": num(self.score[i], 4),
                    "polygon": rings[0].tolist() if rings else [],
                    "holes": [r.tolist() for r in rings[1:]],
                    "bbox_xyxy": [int(v) for v in self.bbox_xyxy[i]],
                    "centroid_xy": [num(v, 1) for v in self.centroid_xy[i]],
                    "area_px": int(self.area_px[i]),
                    "length_px": num(self.length_px[i], 1),
                    "mean_width_px": num(self.mean_width_px[i], 2),
                    "max_width_px": num(self.max_width_px[i], 2),
                    "orientation_deg": num(self.orientation_deg[i], 1),
                    "length_m": num(self.length_m[i], 4),
                    "mean_width_mm": num(self.mean_width_mm[i], 2),
                    "max_width_mm": num(self.max_width_mm[i], 2),
                    "area_m2": num(self.area_m2[i], 6),
                    "severity": int(self.severity[i]) or None,
                }
            )
        return out


def _skeleton(mask: np.ndarray) -> np.ndarray:
    from skimage.morphology import skeletonize

    return np.asarray(skeletonize(mask), bool)


def _pixel_lengths(skel: np.ndarray, radius: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Length (px) each skeleton pixel stands for, from the local skeleton direction, and the
    number of 8-neighbours of every pixel."""
    s = skel.astype(np.float32)
    offs = np.arange(-radius, radius + 1, dtype=np.float32)
    kx = np.tile(offs, (offs.size, 1))
    ky = kx.T.copy()

    def corr(k: np.ndarray) -> np.ndarray:
        return cv2.filter2D(s, cv2.CV_32F, k, borderType=cv2.BORDER_CONSTANT)

    n = np.maximum(corr(np.ones_like(kx)), 1.0)
    mx, my = corr(kx) / n, corr(ky) / n
    cxx, cyy, cxy = (
        corr(kx * kx) / n - mx * mx,
        corr(ky * ky) / n - my * my,
        corr(kx * ky) / n - mx * my,
    )
    theta = 0.5 * np.arctan2(2.0 * cxy, cxx - cyy)
    per_px = 1.0 / np.maximum(np.abs(np.cos(theta)), np.abs(np.sin(theta)))
    ring = np.ones((3, 3), np.float32)
    ring[1, 1] = 0
    nbrs = (
        cv2.filter2D(s, cv2.CV_32F, ring, borderType=cv2.BORDER_CONSTANT).round().astype(np.int16)
    )
    return per_px.astype(np.float64), nbrs


def skeleton_length_px(mask: np.ndarray) -> float:
    """Total crack length (px) of a mask: the sum over its parts, as in :func:`measure_cracks`.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((20, 60), bool); m[8:11, 5:45] = True     # a 3 px wide, 40 px long bar
    >>> round(skeleton_length_px(m), 1)                      # a skeleton end may lose ~1 px
    39.0
    >>> d = np.eye(30, dtype=bool)                               # a 1 px diagonal line
    >>> round(skeleton_length_px(d), 1), round(30 * 2**0.5, 1)
    (42.4, 42.4)
    """
    m = np.asarray(mask, bool)
    if not m.any():
        return 0.0
    parts = measure_cracks(m, join_gap_px=0, min_area_px=1, polygons=False)
    return float(parts.length_px.sum())


def measure_cracks(
    mask: np.ndarray,
    *,
    prob: np.ndarray | None = None,
    gsd_mm: float | None = None,
    min_area_px: int = 10,
    join_gap_px: int = 3,
    scale: CrackSeverityScale | None = None,
    polygons: bool = True,
    simplify_px: float = 1.0,
) -> CrackInstances:
    """Split a crack mask into instances and measure them (see the module docs).

    Parameters
    ----------
    mask : (H, W) bool
        Crack pixels.
    prob : (H, W) float, optional
        Crack probability; an instance's ``score`` is the mean over its pixels.
    gsd_mm : float, optional
        Ground sample distance (mm per pixel) at the crack; enables mm/m values and severity.
    min_area_px : int
        Instances with fewer pixels are dropped.
    join_gap_px : int
        Parts closer than this many pixels form one instance (0 = plain 8-connectivity).
    scale : CrackSeverityScale, optional
        Severity scale; default :class:`CrackSeverityScale()`.
    polygons : bool
        Also trace outlines (exterior ring, then holes; ``cv2.approxPolyDP`` by ``simplify_px``).

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((100, 100), bool)
    >>> m[20:23, 10:90] = True                 # 80 px long, 3 px wide, horizontal
    >>> m[40:95, 60:61] = True                 # 55 px long, 1 px wide, vertical
    >>> c = measure_cracks(m, gsd_mm=2.0)
    >>> c.length_px.round().tolist(), c.max_width_px.tolist(), c.orientation_deg.round().tolist()
    ([79.0, 55.0], [3.0, 1.0], [0.0, 90.0])
    >>> c.max_width_mm.tolist(), c.length_m.round(2).tolist(), c.severity.tolist()
    ([6.0, 2.0], [0.16, 0.11], [4, 3])
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ModelError(f"expected a 2-D mask, got shape {m.shape}")
    m = m.astype(bool)
    if gsd_mm is not None and not (np.isfinite(gsd_mm) and gsd_mm > 0):
        raise ModelError(f"gsd_mm must be a positive number, got {gsd_mm}")
    scale = scale or CrackSeverityScale()
    lab: np.ndarray
    if join_gap_px > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * join_gap_px + 1,) * 2)
        n_all, lab_all = cv2.connectedComponents(cv2.dilate(m.view(np.uint8), k), connectivity=8)
        lab = np.where(m, lab_all, 0).astype(np.int32)
    else:
        n_all, lab_cc = cv2.connectedComponents(m.view(np.uint8), connectivity=8)
        lab = np.asarray(lab_cc, np.int32)
    n = int(n_all) - 1
    area = np.bincount(lab.ravel(), minlength=n + 1)[1:]
    keep = area >= max(1, min_area_px)
    remap = np.zeros(n + 1, np.int32)
    remap[1:][keep] = np.arange(1, int(keep.sum()) + 1)
    lab = remap[lab]
    n = int(keep.sum())
    area = area[keep].astype(np.float64)
    m = lab > 0

    skel = _skeleton(m)
    dist = cv2.distanceTransform(m.view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    per_px, nbrs = _pixel_lengths(skel)
    sy, sx = np.nonzero(skel)
    length = np.bincount(lab[sy, sx], weights=per_px[sy, sx], minlength=n + 1)
    # skeleton ends (1 neighbour) and isolated skeleton pixels (2 ends) stop dist - 1 short
    ends = skel & (nbrs <= 1)
    ey, ex = np.nonzero(ends)
    n_ends = np.where(nbrs[ey, ex] == 0, 2.0, 1.0)
    length += np.bincount(lab[ey, ex], weights=n_ends * (dist[ey, ex] - 1.0), minlength=n + 1)
    length = np.maximum(length[1:], 1.0)
    max_d = np.zeros(n + 1)
    np.maximum.at(max_d, lab[sy, sx], dist[sy, sx])
    max_width = np.maximum(2.0 * max_d[1:] - 1.0, 1.0)
    mean_width = area / length

    ys, xs = np.nonzero(m)
    li = lab[ys, xs]
    cnt = np.maximum(area, 1)
    cx = np.bincount(li, weights=xs, minlength=n + 1)[1:] / cnt
    cy = np.bincount(li, weights=ys, minlength=n + 1)[1:] / cnt
    dx, dy = xs - cx[li - 1], ys - cy[li - 1]
    sxx = np.bincount(li, weights=dx * dx, minlength=n + 1)[1:]
    syy = np.bincount(li, weights=dy * dy, minlength=n + 1)[1:]
    sxy = np.bincount(li, weights=dx * dy, minlength=n + 1)[1:]
    # principal axis in image axes (y down), then flipped to screen counter-clockwise
    orient = np.mod(-0.5 * np.degrees(np.arctan2(2 * sxy, sxx - syy)), 180.0)
    orient = np.where(np.isclose(orient, 180.0), 0.0, orient)
    x0 = np.full(n + 1, np.iinfo(np.int64).max)
    y0 = np.full(n + 1, np.iinfo(np.int64).max)
    x1 = np.zeros(n + 1, np.int64)
    y1 = np.zeros(n + 1, np.int64)
    np.minimum.at(x0, li, xs)
    np.minimum.at(y0, li, ys)
    np.maximum.at(x1, li, xs + 1)
    np.maximum.at(y1, li, ys + 1)
    bbox = np.stack([x0[1:], y0[1:], x1[1:], y1[1:]], axis=1) if n else np.zeros((0, 4), np.int64)
    if prob is not None:
        p = np.asarray(prob, np.float64)
        if p.shape != m.shape:
            raise ModelError(f"prob {p.shape} and mask {m.shape} differ in shape")
        score = np.bincount(li, weights=p[ys, xs], minlength=n + 1)[1:] / cnt
    else:
        score = np.ones(n)

    if gsd_mm is not None:
        w_px = max_width if scale.width_measure == "max" else mean_width
        severity = scale.grade(w_px * gsd_mm, length * gsd_mm / 1000.0)
    else:
        severity = np.zeros(n, np.int64)
    rings = _polygons(lab, bbox, simplify_px) if polygons else []
    return CrackInstances(
        area_px=area.astype(np.int64),
        length_px=length,
        mean_width_px=mean_width,
        max_width_px=max_width,
        orientation_deg=orient,
        centroid_xy=np.stack([cx, cy], axis=1) if n else np.zeros((0, 2)),
        bbox_xyxy=bbox,
        score=score,
        severity=severity,
        gsd_mm=gsd_mm,
        polygons=rings,
        labels=lab,
    )


def _polygons(lab: np.ndarray, bbox: np.ndarray, simplify_px: float) -> list[list[np.ndarray]]:
    """Outline rings of each labelled instance: exterior first, then holes (pixel coordinates)."""
    out: list[list[np.ndarray]] = []
    for i, (x0, y0, x1, y1) in enumerate(bbox, start=1):
        sub = np.pad((lab[y0:y1, x0:x1] == i).astype(np.uint8), 1)
        contours, hier = cv2.findContours(sub, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
        rings: list[np.ndarray] = []
        if hier is not None:
            order = sorted(
                range(len(contours)), key=lambda j: (hier[0][j][3] != -1, -len(contours[j]))
            )
            for j in order:
                c = (
                    cv2.approxPolyDP(contours[j], simplify_px, True)
                    if simplify_px > 0
                    else contours[j]
                )
                rings.append(c.reshape(-1, 2).astype(np.int64) + np.array([x0 - 1, y0 - 1]))
        out.append(rings)
    return out
