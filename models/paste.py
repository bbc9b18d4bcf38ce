"""Paste Mask R-CNN's low-resolution mask probabilities into frame pixels (numpy, no torch).

This is Detectron2's ``paste_masks_in_image`` (bilinear ``grid_sample`` with
``align_corners=False`` and zero padding, then ``>= threshold``) written as two small matrix
products per mask, over the box's window only. The PyTorch predictor and the ONNX runtime both
use it, so their outputs differ only by what the networks compute.

Examples
--------
>>> prob = np.ones((28, 28), np.float32)
>>> crop, x0, y0 = paste_mask(prob, np.array([10.0, 20.0, 20.0, 25.0]), (64, 64))
>>> (x0, y0, crop.shape, int(crop.sum()))
(10, 20, (5, 10), 50)
"""

from __future__ import annotations

import numpy as np

from models.detections import tight_crop

__all__ = ["interp_matrix", "paste_mask"]


def interp_matrix(lo: float, hi: float, start: int, stop: int, m: int) -> np.ndarray:
    """Bilinear weights (``stop - start`` x ``m``) sampling a length-``m`` axis spread over [lo, hi).

    Output pixel ``p`` (centre ``p + 0.5``) samples source index ``(p + 0.5 - lo) / (hi - lo) * m
    - 0.5``; samples outside ``[0, m - 1]`` blend with zeros (``grid_sample`` zero padding).
    """
    centres = np.arange(start, stop, dtype=np.float64) + 0.5
    u = (centres - lo) / max(hi - lo, 1e-6) * m - 0.5
    i0 = np.floor(u).astype(np.int64)
    f = u - i0
    w = np.zeros((len(u), m), np.float64)
    rows = np.arange(len(u))
    for idx, wt in ((i0, 1.0 - f), (i0 + 1, f)):
        ok = (idx >= 0) & (idx < m)
        w[rows[ok], idx[ok]] += wt[ok]
    return w


def paste_mask(
    prob: np.ndarray, box: np.ndarray, image_hw: tuple[int, int], threshold: float = 0.5
) -> tuple[np.ndarray, int, int]:
    """One ``(M, M)`` probability mask into its box: the tight boolean crop and its origin."""
    h, w = image_hw
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    xa, ya = max(int(np.floor(x0)) - 1, 0), max(int(np.floor(y0)) - 1, 0)
    xb, yb = min(int(np.ceil(x1)) + 1, w), min(int(np.ceil(y1)) + 1, h)
    if xb <= xa or yb <= ya:
        return np.zeros((1, 1), bool), min(xa, w - 1), min(ya, h - 1)
    p = np.asarray(prob, np.float64).reshape(prob.shape[-2], prob.shape[-1])
    wy = interp_matrix(y0, y1, ya, yb, p.shape[0])
    wx = interp_matrix(x0, x1, xa, xb, p.shape[1])
    # float32 like grid_sample, so values at exactly 0.5 round the same way
    region = (wy @ p @ wx.T).astype(np.float32) >= threshold
    crop, cx, cy = tight_crop(region)
    if not region.any():
        return crop, xa, ya
    return crop, xa + cx, ya + cy
