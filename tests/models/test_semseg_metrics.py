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


def test_threshold_choice_over_source_splits(tmp_path) -> None:
    """evaluate_pixels against brute force: per split F1 at every threshold by tolerant_counts,
    the pooled threshold (best mean F1) and the maximin one (best worst-split F1)."""
    from models.datasets.sources import combine, load_dataset
    from models.semseg.evaluate import evaluate_pixels, group_of
    from models.semseg.mapper import CrackSemanticMapper
    from models.semseg.synthetic import write_crack_dataset

    a = write_crack_dataset(tmp_path / "a", 4, seed=1, size=64, n_val=3)
    b = write_crack_dataset(tmp_path / "b", 4, seed=2, size=64, n_val=3)
    recs = combine([load_dataset(f"{a}:val"), load_dataset(f"{b}:val")], ["crack"]).records
    loader = CrackSemanticMapper(None, is_train=False, cache=False)  # type: ignore[arg-type]
    rng = np.random.default_rng(0)
    maps, truths = {}, {}
    for r in recs:
        img, lab = loader.load(r)
        true = lab == 1
        split_a = group_of(r) == "a:val"
        # split a: faint cracks, little clutter; split b: strong cracks among strong clutter
        lo, hi, clutter = (0.25, 0.6, 0.45) if split_a else (0.5, 1.0, 0.75)
        prob = rng.uniform(0, clutter, true.shape) * (rng.random(true.shape) < 0.15)
        prob[true] = rng.uniform(lo, hi, int(true.sum()))
        maps[img.tobytes()] = prob.astype(np.float32)
        truths.setdefault("a" if split_a else "b", []).append((prob.astype(np.float32), true))
    ts = np.round(np.arange(0.1, 0.91, 0.05), 3)
    res = evaluate_pixels(lambda img: maps[img.tobytes()], recs, thresholds=ts)
    f1 = {}
    for g, pairs in truths.items():
        f1[g] = []
        for t in ts:
            c = PixelCounts()
            for prob, true in pairs:
                c = c + tolerant_counts(prob >= np.float32(t), true, 2.0)
            f1[g].append(c.f1)
    f = np.array([f1["a"], f1["b"]])
    groups = sorted(res["groups"])
    assert groups == ["a:val", "b:val"], groups
    assert (
        [res["groups"][g]["images"] for g in groups]
        == [len(truths["a"]), len(truths["b"])]
        == [3, 3]
    )
    pooled, maximin = ts[np.argmax(f.mean(0))], ts[np.argmax(f.min(0))]
    assert res["pooled_threshold"] == pytest.approx(pooled)
    assert res["maximin_threshold"] == pytest.approx(maximin)
    assert res["min_at_maximin"] == pytest.approx(f.min(0).max())
    assert pooled != maximin  # the two criteria differ on this data
