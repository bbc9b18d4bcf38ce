"""Tolerant pixel precision/recall/F1 and the one-pass threshold sweep."""

from __future__ import annotations

import numpy as np
import pytest

from models.semseg.metrics import PixelCounts, disk_kernel, threshold_sweep, tolerant_counts


def test_tolerance_is_euclidean() -> None:
    true = np.zeros((11, 11), bool)
    true[5, 5] = True
    # (dx, dy) = (2, 0) is within 2 px, (2, 1) = 2.24 px and (2, 2) = 2.83 px are not
    for (dy, dx), ok in {(0, 2): True, (1, 2): False, (2, 2): False, (1, 1): True}.items():
        pred = np.zeros_like(true)
        pred[5 + dy, 5 + dx] = True
        c = tolerant_counts(pred, true, 2.0)
        assert (c.pred_correct == 1) is ok and (c.true_found == 1) is ok
    assert disk_kernel(1).sum() == 5 and disk_kernel(0).sum() == 1


def test_hand_counted_case_and_pooling() -> None:
    true = np.zeros((10, 20), bool)
    true[5, 0:20] = True  # 20 true pixels
    pred = np.zeros_like(true)
    pred[6, 0:10] = True  # 10 pixels, 1 px off: all correct; they find true columns 0..10
    pred[0, 15:20] = True  # 5 stray pixels, 5 px away
    c = tolerant_counts(pred, true, 2.0)
    assert (c.pred_correct, c.pred_total, c.true_found, c.true_total) == (10, 15, 11, 20)
    assert c.precision == pytest.approx(10 / 15) and c.recall == pytest.approx(11 / 20)
    assert c.f1 == pytest.approx(2 * (10 / 15) * 0.55 / (10 / 15 + 0.55))
    both = c + c
    assert both.precision == c.precision and both.pred_total == 30
    assert PixelCounts().precision == 1.0 and PixelCounts().recall == 1.0


def test_sweep_matches_thresholding_each_time() -> None:
    rng = np.random.default_rng(1)
    true = np.zeros((64, 64), bool)
    true[20, 5:60] = True
    true[5:50, 40] = True
    prob = (rng.random((64, 64)) * 0.6).astype(np.float32)
    prob[19:22, 5:60] += 0.4
    ts = np.array([0.1, 0.35, 0.5, 0.62, 0.9])
    assert threshold_sweep(prob, true, ts, 2.0) == [
        tolerant_counts(prob >= t, true, 2.0) for t in ts
    ]
    assert threshold_sweep(prob, true, ts, 1.0) == [
        tolerant_counts(prob >= t, true, 1.0) for t in ts
    ]


def test_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        tolerant_counts(np.zeros((3, 3), bool), np.zeros((3, 4), bool))
