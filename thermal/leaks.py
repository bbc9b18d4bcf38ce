"""Leak and hotspot detection on a calibrated temperature image.

Steps (all vectorised over the frame; the per-candidate work is over a handful of regions):

1. **Background**: a robust local median (``background_window_m`` wide, along the corridor
   when one is given) is subtracted, which removes whole-frame drift and slow gradients
   (sun angle, vignetting); the residual's robust sigma sets the noise floor.
2. **Hysteresis**: a candidate reaches ``max(delta_high_c, noise_k_high * sigma)`` somewhere
   and grows over pixels above ``max(delta_low_c, noise_k_low * sigma)``; warm and (optionally)
   cool anomalies separately.
3. **Morphology**: opening removes speckle, closing joins fragments.
4. **Features and rejection** (the reason is kept): area below the minimum (m2 with a GSD);
   area above ``max_area_fraction`` (scene-wide drift); elongation above ``max_elongation``
   (sun glints on rails/kerbs, the pipe's own linear heat trace); mostly off the corridor
   (cars, people, lamps); small flat-topped warm objects in daylight (sun-heated rocks); and
   low confidence.
5. **Grading**: a confidence in [0, 1] from contrast, size, compactness, diffuseness and
   corridor overlap, and a severity grade 1-5 from |delta T| (bounds ``severity_delta_c``),
   one grade more for large areas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from thermal.background import local_background
from thermal.leak_params import FrameContext, LeakDetectorParams

__all__ = ["ThermalAnomalies", "detect_anomalies"]

_F = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class ThermalAnomalies:
    """Candidate anomalies of one frame as parallel arrays (accepted and rejected ones).

    ``polygons[i]`` is an ``(K, 2)`` array of pixel coordinates (x, y; OpenCV convention);
    ``polarity`` is +1 (warm) or -1 (cool); ``reason[i]`` is ``""`` for accepted anomalies and
    says why a rejected candidate was dropped. ``area_m2`` is NaN when the GSD is unknown.
    """

    polygons: list[NDArray[np.float64]]
    polarity: NDArray[np.int8]
    area_px: NDArray[np.int64]
    area_m2: _F
    delta_max_c: _F
    delta_mean_c: _F
    peak_temp_c: _F
    peak_xy: _F
    centroid_xy: _F
    background_c: _F
    elongation: _F
    plateau_ratio: _F
    edge_sharpness: _F
    corridor_overlap: _F
    confidence: _F
    severity: NDArray[np.int8]
    accepted: NDArray[np.bool_]
    reason: list[str]
    noise_sigma_c: float = float("nan")
    thresholds_c: tuple[float, float] = (float("nan"), float("nan"))
    label_image: NDArray[np.int32] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.polygons)

    def select(self, keep: NDArray[np.bool_]) -> ThermalAnomalies:
        """The subset where ``keep`` is True (boolean-mask indexing of every array)."""
        idx = np.flatnonzero(keep)
        kw: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            v = getattr(self, name)
            if isinstance(v, np.ndarray) and name != "label_image":
                kw[name] = v[idx]
            elif isinstance(v, list):
                kw[name] = [v[i] for i in idx]
            else:
                kw[name] = v
        return ThermalAnomalies(**kw)

    def accepted_only(self) -> ThermalAnomalies:
        return self.select(self.accepted)

    def to_records(self) -> list[dict[str, Any]]:
        """One JSON-serialisable dict per candidate."""
        out = []
        for i in range(len(self)):
            out.append(
                {
                    "accepted": bool(self.accepted[i]),
                    "reason": self.reason[i],
                    "kind": "warm" if self.polarity[i] > 0 else "cool",
                    "polygon_px": np.round(self.polygons[i], 2).tolist(),
                    "area_px": int(self.area_px[i]),
                    "area_m2": None
                    if np.isnan(self.area_m2[i])
                    else round(float(self.area_m2[i]), 3),
                    "delta_max_c": round(float(self.delta_max_c[i]), 3),
                    "delta_mean_c": round(float(self.delta_mean_c[i]), 3),
                    "peak_temp_c": round(float(self.peak_temp_c[i]), 3),
                    "peak_xy": [float(x) for x in self.peak_xy[i]],
                    "centroid_xy": [round(float(x), 2) for x in self.centroid_xy[i]],
                    "background_c": round(float(self.background_c[i]), 3),
                    "elongation": round(float(self.elongation[i]), 3),
                    "plateau_ratio": round(float(self.plateau_ratio[i]), 3),
                    "edge_sharpness": round(float(self.edge_sharpness[i]), 3),
                    "corridor_overlap": round(float(self.corridor_overlap[i]), 3),
                    "confidence": round(float(self.confidence[i]), 3),
                    "severity": int(self.severity[i]),
                }
            )
        return out


def severity_grade(delta_abs_c: _F, area_m2: _F, params: LeakDetectorParams) -> NDArray[np.int8]:
    """Severity 1-5: bounds on |delta T|, plus one grade for areas >= ``severity_large_area_m2``.

    Examples
    --------
    >>> p = LeakDetectorParams()
    >>> severity_grade(np.array([1.0, 3.0, 12.0, 25.0, 6.0]), np.array([1, 1, 1, 1, 50.0]), p).tolist()
    [1, 2, 4, 5, 4]
    """
    g = np.searchsorted(np.asarray(params.severity_delta_c), delta_abs_c, side="right") + 1
    with np.errstate(invalid="ignore"):
        g = g + (np.nan_to_num(area_m2, nan=0.0) >= params.severity_large_area_m2)
    return np.clip(g, 1, 5).astype(np.int8)


def _moments(labels: NDArray[np.int32], n: int) -> tuple[_F, _F, _F]:
    """Per-label area, centroid (x, y) and elongation (sqrt of the covariance eigenvalue ratio)."""
    ys, xs = np.nonzero(labels)
    lab = labels[ys, xs]
    a = np.bincount(lab, minlength=n).astype(np.float64)
    a1 = np.maximum(a, 1.0)
    mx, my = np.bincount(lab, xs, n) / a1, np.bincount(lab, ys, n) / a1
    dx, dy = xs - mx[lab], ys - my[lab]
    cxx = np.bincount(lab, dx * dx, n) / a1 + 1 / 12
    cyy = np.bincount(lab, dy * dy, n) / a1 + 1 / 12
    cxy = np.bincount(lab, dx * dy, n) / a1
    tr, det = cxx + cyy, cxx * cyy - cxy**2
    disc = np.sqrt(np.maximum(tr**2 / 4 - det, 0.0))
    l1, l2 = tr / 2 + disc, np.maximum(tr / 2 - disc, 1e-9)
    return a, np.stack([mx, my], axis=1), np.sqrt(l1 / l2)


def _edge_sharpness(resid: NDArray[np.float32], labels: NDArray[np.int32], n: int) -> _F:
    """Per label: mean gradient magnitude of the residual on the label's outline (degC/px)."""
    import cv2

    gx = cv2.Sobel(resid, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(resid, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    g = np.hypot(gx, gy)
    edge = np.zeros(labels.shape, bool)
    edge[1:, :] |= labels[1:, :] != labels[:-1, :]
    edge[:-1, :] |= labels[:-1, :] != labels[1:, :]
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edge &= labels > 0
    lab = labels[edge]
    cnt = np.bincount(lab, minlength=n)[1:]
    return np.bincount(lab, g[edge], n)[1:] / np.maximum(cnt, 1)


def _polygon(mask: NDArray[np.bool_]) -> NDArray[np.float64]:
    import cv2

    contours, _ = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    if not contours:
        return np.zeros((0, 2))
    c = max(contours, key=cv2.contourArea)
    return c.reshape(-1, 2).astype(np.float64)


def detect_anomalies(
    temp_c: NDArray[np.floating],
    params: LeakDetectorParams | None = None,
    *,
    corridor: NDArray[np.bool_] | None = None,
    context: FrameContext | None = None,
) -> ThermalAnomalies:
    """Find warm (and cool) anomalies relative to the local background.

    Parameters
    ----------
    temp_c : ndarray (H, W)
        Calibrated temperatures, degC (NaN allowed).
    params : LeakDetectorParams, optional
    corridor : ndarray of bool (H, W), optional
        The asset corridor projected into the image (see :func:`thermal.corridor_mask`).
    context : FrameContext, optional
        GSD (or altitude + focal length) and local time.

    Returns
    -------
    ThermalAnomalies
        Every candidate with its features; ``accepted`` marks the anomalies.
    """
    import cv2
    from skimage.filters import apply_hysteresis_threshold

    p = params or LeakDetectorParams()
    ctx = context or FrameContext()
    t = np.asarray(temp_c, dtype=np.float32)
    if t.ndim != 2:
        raise ValueError(f"temp_c must be a 2-D image, got shape {t.shape}")
    h, w = t.shape
    if corridor is not None and corridor.shape != t.shape:
        raise ValueError(f"corridor mask shape {corridor.shape} differs from the image {t.shape}")
    gsd = ctx.resolved_gsd_m()
    win = int(round(p.background_window_m / gsd)) if gsd else p.background_window_px
    win = int(np.clip(win, 15, max(15, min(h, w))))
    region = np.isfinite(t) if corridor is None else (np.isfinite(t) & corridor)
    bg, sigma = local_background(t, win, corridor)
    resid = np.where(np.isfinite(t), t - bg, 0.0).astype(np.float32)
    sig = sigma if np.isfinite(sigma) else 0.0
    high = max(p.delta_high_c, p.noise_k_high * sig)
    low = min(max(p.delta_low_c, p.noise_k_low * sig), high)
    labels = np.zeros((h, w), np.int32)
    polarity: list[int] = []
    k_open = (
        cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (p.opening_px, p.opening_px))
        if p.opening_px > 1
        else None
    )
    k_close = (
        cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (p.closing_px, p.closing_px))
        if p.closing_px > 1
        else None
    )
    for sign in (1, -1) if p.detect_cool else (1,):
        cand = apply_hysteresis_threshold(sign * resid, low, high).astype(np.uint8)
        if k_open is not None:
            cand = cv2.morphologyEx(cand, cv2.MORPH_OPEN, k_open)
        if k_close is not None:
            cand = cv2.morphologyEx(cand, cv2.MORPH_CLOSE, k_close)
        cand[labels > 0] = 0
        n, lab = cv2.connectedComponents(cand, connectivity=8)
        if n > 1:
            labels[lab > 0] = lab[lab > 0] + len(polarity)
            polarity += [sign] * (n - 1)
    n = len(polarity) + 1
    pol = np.array(polarity, dtype=np.int8)
    area, centroid, elong = _moments(labels, n)
    flat = labels.ravel()
    sign_px = np.zeros(h * w, np.float32)
    on = flat > 0
    sign_px[on] = pol[flat[on] - 1]
    signed = resid.ravel() * sign_px  # |delta T| in the anomaly's own sense
    from scipy import ndimage

    idx = np.arange(1, n)
    dmax = (
        np.asarray(ndimage.maximum(signed.reshape(h, w), labels, idx), dtype=np.float64)
        if n > 1
        else np.zeros(0)
    )
    dsum = np.bincount(flat, signed, n)[1:]
    peak_pos = ndimage.maximum_position(signed.reshape(h, w), labels, idx) if n > 1 else []
    peak_xy = np.array([[c, r] for r, c in peak_pos], dtype=np.float64).reshape(-1, 2)
    peak_t = np.array([t[r, c] for r, c in peak_pos], dtype=np.float64)
    bg_at = np.array([bg[r, c] for r, c in peak_pos], dtype=np.float64)
    a = area[1:]
    dmean = dsum / np.maximum(a, 1)
    overlap = (
        (np.bincount(flat, region.ravel(), n)[1:] / np.maximum(a, 1))
        if corridor is not None
        else np.ones(n - 1)
    )
    area_m2 = a * gsd**2 if gsd else np.full(n - 1, np.nan)
    plateau = dmean / np.maximum(dmax, 1e-9)
    sharp = _edge_sharpness(resid, labels, n) / np.maximum(dmax, 1e-9)
    min_area = p.min_area_m2 / gsd**2 if gsd else float(p.min_area_px)
    analysed = max(int(region.sum()), 1)
    daytime = (
        ctx.local_hour is not None and p.daylight_hours[0] <= ctx.local_hour <= p.daylight_hours[1]
    )
    c_contrast = np.clip(dmax / (3.0 * high), 0, 1)
    c_size = np.clip(a / (4.0 * min_area), 0, 1)
    c_shape = np.clip(1 - (elong[1:] - 1) / max(p.max_elongation - 1, 1e-9), 0, 1)
    c_diffuse = np.clip(1 - sharp / max(2 * p.max_edge_sharpness, 1e-9), 0, 1)
    conf = 0.35 * c_contrast + 0.15 * c_size + 0.15 * c_shape + 0.15 * c_diffuse + 0.2 * overlap
    if daytime:
        conf = np.where(pol > 0, conf * 0.85, conf)
    reasons: list[str] = []
    for i in range(n - 1):
        r = ""
        if a[i] < min_area:
            r = f"too small ({a[i]:.0f} px < {min_area:.0f} px)"
        elif a[i] > p.max_area_fraction * analysed:
            r = "too large: scene-wide drift or gradient, not a local anomaly"
        elif elong[i + 1] > p.max_elongation:
            r = f"linear (elongation {elong[i + 1]:.1f}): reflection, rail/kerb edge or pipe trace"
        elif corridor is not None and overlap[i] < p.min_corridor_overlap:
            r = f"off the corridor ({overlap[i]:.0%} inside)"
        elif (
            pol[i] > 0
            and daytime
            and sharp[i] > p.max_edge_sharpness
            and a[i] * (gsd**2 if gsd else 1.0)
            <= (p.sharp_object_max_area_m2 if gsd else 10 * min_area)
        ):
            r = f"sharp-edged warm object in daylight (edge {sharp[i]:.2f}): sun-heated rock or roof"
        elif conf[i] < p.min_confidence:
            r = f"low confidence ({conf[i]:.2f})"
        reasons.append(r)
    polys = []
    objs = ndimage.find_objects(labels, max_label=n - 1) if n > 1 else []
    for i, sl in enumerate(objs):
        if sl is None:
            polys.append(np.zeros((0, 2)))
            continue
        poly = _polygon(labels[sl] == i + 1)
        poly[:, 0] += sl[1].start
        poly[:, 1] += sl[0].start
        polys.append(poly)
    return ThermalAnomalies(
        polygons=polys,
        polarity=pol,
        area_px=a.astype(np.int64),
        area_m2=np.asarray(area_m2, dtype=np.float64),
        delta_max_c=dmax * pol,
        delta_mean_c=dmean * pol,
        peak_temp_c=peak_t,
        peak_xy=peak_xy,
        centroid_xy=centroid[1:],
        background_c=bg_at,
        elongation=elong[1:],
        plateau_ratio=plateau,
        edge_sharpness=sharp,
        corridor_overlap=np.asarray(overlap, dtype=np.float64),
        confidence=np.asarray(conf, dtype=np.float64),
        severity=severity_grade(np.abs(dmax), np.asarray(area_m2, dtype=np.float64), p),
        accepted=np.array([r == "" for r in reasons], dtype=bool),
        reason=reasons,
        noise_sigma_c=float(sigma),
        thresholds_c=(float(low), float(high)),
        label_image=labels,
    )
