"""Pixel precision, recall and F1 with a distance tolerance, as used for thin structures.

A predicted pixel is correct when a true defect pixel lies within ``tol_px`` (Euclidean) of it;
a true pixel is found when a predicted pixel lies within ``tol_px`` of it. Counts are pooled
over a whole split (micro average), so large and small crops weigh by their pixels.
:func:`threshold_sweep` gives the counts at many probability thresholds in one pass (histograms
of the probability, and of its local maximum over the tolerance disk at true pixels).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["PixelCounts", "disk_kernel", "threshold_sweep", "tolerant_counts"]


@dataclass(frozen=True)
class PixelCounts:
    """Pooled counts of a tolerant pixel comparison; add them over images."""

    pred_correct: int = 0
    pred_total: int = 0
    true_found: int = 0
    true_total: int = 0

    def __add__(self, o: PixelCounts) -> PixelCounts:
        return PixelCounts(
            self.pred_correct + o.pred_correct,
            self.pred_total + o.pred_total,
            self.true_found + o.true_found,
            self.true_total + o.true_total,
        )

    @property
    def precision(self) -> float:
        return self.pred_correct / self.pred_total if self.pred_total else 1.0

    @property
    def recall(self) -> float:
        return self.true_found / self.true_total if self.true_total else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0


def disk_kernel(tol_px: float) -> np.ndarray:
    """uint8 structuring element of the pixels within ``tol_px`` (Euclidean) of the centre.

    Examples
    --------
    >>> int(disk_kernel(2).sum()), disk_kernel(2).shape
    (13, (5, 5))
    """
    r = int(np.floor(tol_px))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    return (yy**2 + xx**2 <= tol_px**2 + 1e-9).astype(np.uint8)


def tolerant_counts(pred: np.ndarray, true: np.ndarray, tol_px: float = 2.0) -> PixelCounts:
    """Counts for one image: boolean prediction and truth of the same shape.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.zeros((9, 9), bool); t[4, :] = True          # a horizontal crack
    >>> p = np.zeros((9, 9), bool); p[6, :] = True; p[0, 0] = True   # 2 px off, plus a stray pixel
    >>> c = tolerant_counts(p, t, 2.0)
    >>> c.pred_correct, c.pred_total, c.true_found, c.true_total
    (9, 10, 9, 9)
    """
    pred, true = np.asarray(pred, bool), np.asarray(true, bool)
    if pred.shape != true.shape:
        raise ValueError(f"prediction {pred.shape} and truth {true.shape} differ in shape")
    k = disk_kernel(tol_px)
    near_true = cv2.dilate(true.view(np.uint8), k).astype(bool)
    near_pred = cv2.dilate(pred.view(np.uint8), k).astype(bool)
    return PixelCounts(
        int(np.count_nonzero(pred & near_true)),
        int(np.count_nonzero(pred)),
        int(np.count_nonzero(true & near_pred)),
        int(np.count_nonzero(true)),
    )


def threshold_sweep(
    prob: np.ndarray, true: np.ndarray, thresholds: np.ndarray, tol_px: float = 2.0
) -> list[PixelCounts]:
    """Counts of ``prob >= t`` against ``true`` for every ``t`` in ``thresholds``, in one pass.

    Equal to ``[tolerant_counts(prob >= t, true, tol_px) for t in thresholds]``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> prob = rng.random((20, 20)).astype(np.float32); true = rng.random((20, 20)) > 0.9
    >>> ts = np.array([0.3, 0.8])
    >>> threshold_sweep(prob, true, ts) == [tolerant_counts(prob >= t, true) for t in ts]
    True
    """
    prob = np.asarray(prob, np.float32)
    true = np.asarray(true, bool)
    ts = np.asarray(thresholds, np.float32)  # compare as `prob >= t` does for float32 prob
    k = disk_kernel(tol_px)
    near_true = cv2.dilate(true.view(np.uint8), k).astype(bool)
    local_max = cv2.dilate(prob, k)  # grey dilation: the largest probability within tol_px

    def count_ge(values: np.ndarray) -> np.ndarray:
        v = np.sort(values.ravel())
        return v.size - np.searchsorted(v, ts, side="left")

    pc, pt = count_ge(prob[near_true]), count_ge(prob)
    tf, tt = count_ge(local_max[true]), int(np.count_nonzero(true))
    return [PixelCounts(int(a), int(b), int(c), tt) for a, b, c in zip(pc, pt, tf, strict=True)]
