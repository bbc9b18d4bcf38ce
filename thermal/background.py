"""Robust local background of a temperature image, and the corridor mask.

The background is a large-window median, computed on a reduced image (the window spans many
metres, so the detail lost is irrelevant) and scaled back. With a corridor, pixels off the
corridor are replaced by their nearest corridor pixel first, so the background follows the
ground above the asset and not the houses beside it. The noise level is the MAD of the
residual inside the analysed area.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["corridor_mask", "local_background"]


def corridor_mask(
    shape: tuple[int, int], polyline_xy: ArrayLike, width_px: float
) -> NDArray[np.bool_]:
    """A boolean mask of the pixels within ``width_px / 2`` of a polyline (pixel coordinates).

    Examples
    --------
    >>> m = corridor_mask((5, 9), [[0, 2], [8, 2]], 3)
    >>> m.sum(axis=1).tolist()
    [0, 9, 9, 9, 0]
    """
    import cv2

    pts = np.asarray(polyline_xy, dtype=np.float64).reshape(-1, 2)
    if len(pts) < 2:
        raise ValueError("a corridor polyline needs at least 2 points")
    canvas = np.full(shape, 255, np.uint8)
    shift = 4
    cv2.polylines(
        canvas,
        [np.round(pts * (1 << shift)).astype(np.int32)],
        isClosed=False,
        color=0,
        thickness=1,
        lineType=cv2.LINE_8,
        shift=shift,
    )
    dist = cv2.distanceTransform(canvas, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.asarray(dist <= width_px / 2.0)


def local_background(
    temp_c: NDArray[np.floating],
    window_px: int,
    mask: NDArray[np.bool_] | None = None,
) -> tuple[NDArray[np.float32], float]:
    """``(background, sigma)``: the local median background and the residual's robust sigma.

    Examples
    --------
    >>> t = np.full((64, 64), 10.0); t[30:34, 30:34] = 20.0
    >>> bg, sigma = local_background(t, 31)
    >>> float(bg[32, 32]), sigma
    (10.0, 0.0)
    """
    import cv2
    from scipy import ndimage

    t = np.asarray(temp_c, dtype=np.float32)
    h, w = t.shape
    valid = np.isfinite(t) if mask is None else (np.isfinite(t) & mask)
    if not valid.any():
        return np.full((h, w), np.nan, np.float32), float("nan")
    fill = float(np.median(t[valid]))
    t0 = np.where(np.isfinite(t), t, fill).astype(np.float32)
    f = max(1, int(window_px) // 16)
    small = cv2.resize(t0, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    if mask is not None or not np.isfinite(t).all():
        vs = (
            cv2.resize(valid.astype(np.float32), small.shape[::-1], interpolation=cv2.INTER_AREA)
            > 0.5
        )
        if vs.any() and not vs.all():
            _, idx = ndimage.distance_transform_edt(~vs, return_indices=True)
            small = small[idx[0], idx[1]]
    k = max(3, int(round(window_px / f)) | 1)
    bg_small = ndimage.median_filter(small, size=k, mode="nearest")
    bg = cv2.resize(bg_small, (w, h), interpolation=cv2.INTER_LINEAR)
    resid = (t0 - bg)[valid]
    sigma = float(1.4826 * np.median(np.abs(resid - np.median(resid))))
    return bg.astype(np.float32), sigma
