"""COCO box and mask AP (pycocotools), per-class AP, and precision/recall at the operating threshold.

:func:`evaluate` takes ground-truth records (Detectron2 dataset dicts) and one
:class:`~models.detections.Detections` per record, and returns an
:class:`~models.evaluation.report.EvalReport`:

- ``bbox/AP``, ``bbox/AP50``, ``bbox/AP75``, ``bbox/APs|m|l`` and the same for ``segm`` (masks),
  from pycocotools' ``COCOeval`` over all detections given (give them with a low score
  threshold: AP integrates over scores);
- per-class AP (IoU 0.50:0.95, area "all", 100 detections) for both;
- precision, recall and F1 at the operating threshold: detections scoring at least
  ``score_threshold`` are matched greedily (by score) to unmatched ground truth of the same class
  at IoU >= ``iou_threshold`` (mask IoU when both have masks, else box IoU); overall and per class.
  Crowd ground truth is ignored, as in COCO;
- a sweep of that precision/recall/F1 over score thresholds 0.05-0.95 (``meta``:
  ``threshold_sweep``, ``best_f1_threshold``), from one greedy matching pass.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from pycocotools import mask as mask_util
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from models import rle
from models.detections import Detections
from models.evaluation.report import ClassResult, EvalReport

__all__ = ["evaluate", "records_to_coco", "threshold_sweep"]

_STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl")
SWEEP_THRESHOLDS = tuple(float(t) for t in np.round(np.arange(0.05, 0.96, 0.05), 2))


def _gt_rle(a: dict[str, Any], h: int, w: int) -> dict[str, Any] | None:
    seg = a.get("segmentation")
    if isinstance(seg, list) and seg:
        return mask_util.merge(mask_util.frPyObjects([list(map(float, p)) for p in seg], h, w))
    if isinstance(seg, dict):
        return rle.as_compressed(seg)
    return None


def records_to_coco(
    records: Sequence[dict[str, Any]], classes: Sequence[str]
) -> tuple[dict[str, Any], bool]:
    """A COCO ground-truth dict of records (image ids ``1..N``, category ids ``1..K``).

    Returns ``(dataset, has_masks)``; ``has_masks`` is True when every instance has a mask.
    """
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    has_masks = True
    for k, r in enumerate(records, 1):
        h, w = int(r["height"]), int(r["width"])
        images.append({"id": k, "height": h, "width": w, "file_name": r["file_name"]})
        for a in r["annotations"]:
            x0, y0, x1, y1 = (float(v) for v in a["bbox"])
            ann = {
                "id": len(anns) + 1,
                "image_id": k,
                "category_id": int(a["category_id"]) + 1,
                "bbox": [x0, y0, x1 - x0, y1 - y0],
                "iscrowd": int(a.get("iscrowd", 0)),
            }
            m = _gt_rle(a, h, w)
            if m is None:
                has_masks = False
                ann["area"] = (x1 - x0) * (y1 - y0)
            else:
                ann["segmentation"] = {"size": m["size"], "counts": m["counts"]}
                ann["area"] = float(mask_util.area(m))
            anns.append(ann)
    cats = [{"id": i + 1, "name": c} for i, c in enumerate(classes)]
    return {"images": images, "annotations": anns, "categories": cats}, has_masks and bool(anns)


def _coco_eval(
    gt: COCO, results: list[dict[str, Any]], iou_type: str, n_classes: int
) -> tuple[dict[str, float], list[float]]:
    if not results:
        return dict.fromkeys(_STATS, 0.0), [0.0] * n_classes
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    stats = {k: float(v) for k, v in zip(_STATS, ev.stats[:6], strict=True)}
    stats = {k: (math.nan if v < 0 else v) for k, v in stats.items()}
    prec = ev.eval["precision"]  # [T, R, K, A, M]
    per = []
    for k in range(n_classes):
        p = prec[:, :, k, 0, -1]
        p = p[p > -1]
        per.append(float(p.mean()) if p.size else math.nan)
    return stats, per


def _iou_matrix(
    d: Detections, gts: list[dict[str, Any]], h: int, w: int, use_masks: bool
) -> np.ndarray:
    if use_masks:
        dr = [d.coco_rle(i) for i in range(len(d))]
        gr = [_gt_rle(a, h, w) for a in gts]
        return np.asarray(mask_util.iou(dr, gr, [0] * len(gr)), np.float64).reshape(
            len(dr), len(gr)
        )
    db = [[b[0], b[1], b[2] - b[0], b[3] - b[1]] for b in d.boxes_xyxy.tolist()]
    gb = [
        [a["bbox"][0], a["bbox"][1], a["bbox"][2] - a["bbox"][0], a["bbox"][3] - a["bbox"][1]]
        for a in gts
    ]
    return np.asarray(mask_util.iou(db, gb, [0] * len(gb)), np.float64).reshape(len(db), len(gb))


def _greedy(
    records: Sequence[dict[str, Any]],
    dets: Sequence[Detections],
    n_classes: int,
    iou_threshold: float,
    use_masks: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Greedy matching of all detections (by score, per image and class).

    Returns ``(scores, classes, is_tp, n_gt per class)`` over every detection. Raising the
    score threshold only drops the tail of each greedy pass, so the matches of the detections
    above any threshold are the same as if the others had never existed: one pass gives the
    counts at every threshold.
    """
    scores: list[np.ndarray] = []
    classes: list[np.ndarray] = []
    hits: list[np.ndarray] = []
    n_gt = np.zeros(n_classes, np.int64)
    for r, d in zip(records, dets, strict=True):
        h, w = int(r["height"]), int(r["width"])
        gts = [a for a in r["annotations"] if not a.get("iscrowd", 0)]
        for c in range(n_classes):
            dc = d[d.class_ids == c]
            dc = dc[np.argsort(-dc.scores, kind="stable")]
            gc = [a for a in gts if a["category_id"] == c]
            n_gt[c] += len(gc)
            if not len(dc):
                continue
            hit = np.zeros(len(dc), bool)
            if gc:
                iou = _iou_matrix(dc, gc, h, w, use_masks and dc.has_masks)
                taken = np.zeros(len(gc), bool)
                for i in range(len(dc)):
                    cand = np.where(taken, -1.0, iou[i])
                    j = int(np.argmax(cand))
                    if cand[j] >= iou_threshold:
                        taken[j] = hit[i] = True
            scores.append(dc.scores)
            classes.append(np.full(len(dc), c, np.int64))
            hits.append(hit)
    if not scores:
        return np.zeros(0, np.float32), np.zeros(0, np.int64), np.zeros(0, bool), n_gt
    return np.concatenate(scores), np.concatenate(classes), np.concatenate(hits), n_gt


def _counts(
    matched: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], n_classes: int, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TP, FP, FN per class at a score threshold."""
    scores, classes, hit, n_gt = matched
    keep = scores >= threshold
    tp = np.bincount(classes[keep & hit], minlength=n_classes)
    fp = np.bincount(classes[keep & ~hit], minlength=n_classes)
    return tp, fp, n_gt - tp


def threshold_sweep(
    matched: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    n_classes: int,
    thresholds: Sequence[float] | np.ndarray = SWEEP_THRESHOLDS,
) -> list[dict[str, float]]:
    """Precision, recall and F1 (all classes pooled) at each score threshold."""
    out = []
    for t in thresholds:
        tp, fp, fn = (int(x.sum()) for x in _counts(matched, n_classes, float(t)))
        p = tp / (tp + fp) if tp + fp else math.nan
        r = tp / (tp + fn) if tp + fn else math.nan
        f1 = 2 * p * r / (p + r) if tp else 0.0
        out.append(
            {
                "threshold": float(t),
                "precision": p,
                "recall": r,
                "f1": f1,
                "tp": tp,
                "fp": fp,
                "fn": fn,
            }
        )
    return out


def evaluate(
    records: Sequence[dict[str, Any]],
    detections: Sequence[Detections],
    classes: Sequence[str],
    *,
    score_threshold: float = 0.5,
    iou_threshold: float = 0.5,
) -> EvalReport:
    """Evaluate detections against ground truth (see the module docstring)."""
    if len(records) != len(detections):
        raise ValueError(f"{len(records)} records but {len(detections)} detection sets")
    gt_dict, gt_masks = records_to_coco(records, classes)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = gt_dict
        gt.createIndex()
    box_res, seg_res = [], []
    pred_masks = True
    for k, d in enumerate(detections, 1):
        for i in range(len(d)):
            x0, y0, x1, y1 = (float(v) for v in d.boxes_xyxy[i])
            base = {
                "image_id": k,
                "category_id": int(d.class_ids[i]) + 1,
                "score": float(d.scores[i]),
            }
            box_res.append({**base, "bbox": [x0, y0, x1 - x0, y1 - y0]})
            if d.mask_rles[i] is None:
                pred_masks = False
            else:
                seg_res.append({**base, "segmentation": d.coco_rle(i)})
    n = len(classes)
    box_stats, box_per = _coco_eval(gt, box_res, "bbox", n)
    use_masks = gt_masks and pred_masks
    seg_stats, seg_per = _coco_eval(gt, seg_res, "segm", n) if use_masks else ({}, [math.nan] * n)
    matched = _greedy(records, detections, n, iou_threshold, use_masks)
    tp, fp, fn = _counts(matched, n, score_threshold)
    n_gt = tp + fn
    sweep = threshold_sweep(matched, n)
    best = max(sweep, key=lambda x: x["f1"])
    per_class = {
        c: ClassResult(
            box_ap=box_per[k],
            mask_ap=seg_per[k],
            n_gt=int(n_gt[k]),
            tp=int(tp[k]),
            fp=int(fp[k]),
            fn=int(fn[k]),
        )
        for k, c in enumerate(classes)
    }
    return EvalReport(
        n_images=len(records),
        n_gt=int(n_gt.sum()),
        n_det=int(sum(len(d) for d in detections)),
        score_threshold=score_threshold,
        iou_threshold=iou_threshold,
        match_on="mask" if use_masks else "box",
        bbox=box_stats,
        segm=seg_stats,
        tp=int(tp.sum()),
        fp=int(fp.sum()),
        fn=int(fn.sum()),
        per_class=per_class,
        meta={
            "threshold_sweep": sweep,
            "best_f1_threshold": best["threshold"],
            "best_f1": best["f1"],
        },
    )
