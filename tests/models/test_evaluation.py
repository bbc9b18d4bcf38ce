"""COCO evaluation on hand-made cases whose AP, precision and recall are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.detections import Detections
from models.evaluation.coco import evaluate
from models.evaluation.compare import compare_reports
from models.evaluation.report import EvalReport, format_report

H, W = 64, 80


def _rec(boxes: list[tuple[int, int, int, int]], cats: list[int]) -> dict:
    anns = []
    for (x0, y0, x1, y1), c in zip(boxes, cats, strict=True):
        anns.append(
            {
                "bbox": [x0, y0, x1, y1],
                "bbox_mode": 0,
                "category_id": c,
                "segmentation": [[x0, y0, x1, y0, x1, y1, x0, y1]],
                "iscrowd": 0,
            }
        )
    return {"file_name": "x.png", "image_id": "x", "height": H, "width": W, "annotations": anns}


def _mask(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[y0:y1, x0:x1] = True
    return m


GT = [(5, 5, 25, 25), (40, 30, 70, 60)]
# 101-point interpolated AP with one of two objects found at the top of the ranking:
# precision 1 for recall 0..0.5 (51 of 101 points), 0 beyond.
AP_HALF = 51 / 101


def test_true_positive_ranked_first_gives_known_ap_precision_recall() -> None:
    rec = _rec(GT, [0, 0])
    dets = Detections.from_masks(
        [_mask(5, 5, 25, 25), _mask(50, 0, 60, 10)],
        scores=[0.9, 0.8],
        class_ids=[0, 0],
        class_names=("spall",),
    )
    r = evaluate([rec], [dets], ["spall"], score_threshold=0.85)
    assert r.bbox["AP"] == pytest.approx(AP_HALF, abs=1e-6)
    assert r.segm["AP"] == pytest.approx(AP_HALF, abs=1e-6)
    assert r.bbox["AP50"] == pytest.approx(AP_HALF, abs=1e-6)
    # at the operating threshold only the true positive remains
    assert (r.tp, r.fp, r.fn) == (1, 0, 1) and r.precision == 1.0 and r.recall == 0.5
    r2 = evaluate([rec], [dets], ["spall"], score_threshold=0.5)
    assert (r2.tp, r2.fp, r2.fn) == (1, 1, 1) and r2.precision == 0.5
    # the sweep: above 0.8 only the true positive remains (F1 2/3), below it F1 is 1/2
    sweep = {round(x["threshold"], 2): x for x in r2.meta["threshold_sweep"]}
    assert sweep[0.85]["f1"] == pytest.approx(2 / 3) and sweep[0.5]["f1"] == pytest.approx(0.5)
    assert sweep[0.95]["tp"] == 0 and r2.meta["best_f1_threshold"] == pytest.approx(0.85)
    assert r.per_class["spall"].mask_ap == pytest.approx(AP_HALF, abs=1e-6)
    assert "spall" in format_report(r)


def test_false_positive_ranked_first_halves_ap() -> None:
    rec = _rec(GT, [0, 0])
    dets = Detections.from_masks(
        [_mask(5, 5, 25, 25), _mask(50, 0, 60, 10)],
        scores=[0.8, 0.9],
        class_ids=[0, 0],
        class_names=("spall",),
    )
    r = evaluate([rec], [dets], ["spall"])
    # after 2 detections: precision 0.5 at recall 0.5 -> 0.5 for the 51 recall points
    assert r.segm["AP"] == pytest.approx(0.5 * AP_HALF, abs=1e-6)


def test_mask_iou_sets_the_ap_per_threshold_and_classes_separately() -> None:
    rec = _rec(GT, [0, 1])
    # class 0 found exactly; class 1 found with a mask of IoU 0.6 (24 of 30 columns)
    shifted = _mask(40, 30, 70, 60)
    shifted[:, 40:52] = False  # keeps columns 52..69 of 40..69: IoU 18/30 = 0.6
    dets = Detections.from_masks(
        [_mask(5, 5, 25, 25), shifted], scores=[0.9, 0.9], class_ids=[0, 1], class_names=("a", "b")
    )
    r = evaluate([rec], [dets], ["a", "b"])
    assert r.per_class["a"].mask_ap == pytest.approx(1.0)
    # IoU 0.6 matches at thresholds 0.50, 0.55, 0.60 of the ten -> AP 0.3
    assert r.per_class["b"].mask_ap == pytest.approx(0.3, abs=1e-6)
    assert r.segm["AP"] == pytest.approx(0.65, abs=1e-6)
    assert (r.tp, r.fp, r.fn) == (2, 0, 0)


def test_box_only_detections_and_empty_cases() -> None:
    rec = _rec(GT, [0, 0])
    boxes = Detections.from_arrays(
        [[5, 5, 25, 25], [40, 30, 70, 60]], [0.9, 0.7], [0, 0], (H, W), class_names=("spall",)
    )
    r = evaluate([rec], [boxes], ["spall"])
    assert r.bbox["AP"] == pytest.approx(1.0) and r.segm == {} and r.match_on == "box"
    none = evaluate([rec], [Detections.empty((H, W), ("spall",))], ["spall"])
    assert none.bbox["AP"] == 0.0 and none.recall == 0.0 and math.isnan(none.precision)
    with pytest.raises(ValueError, match="1 records but 2"):
        evaluate([rec], [boxes, boxes], ["spall"])


def test_report_roundtrip_and_compare(tmp_path) -> None:
    rec = _rec(GT, [0, 0])
    dets = Detections.from_masks(
        [_mask(5, 5, 25, 25)], scores=[0.9], class_ids=[0], class_names=("spall",)
    )
    a = evaluate([rec], [dets], ["spall"])
    a.save(tmp_path / "a.json")
    text = (tmp_path / "a.json").read_text()
    assert "NaN" not in text  # strict JSON: undefined values are null
    b = EvalReport.load(tmp_path / "a.json")
    assert b.to_dict() == a.to_dict()
    comp = compare_reports(a, b)
    assert all(row["delta"] == 0 or math.isnan(row["delta"]) for row in comp["rows"])
