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
  Crowd ground truth is ignored, as in COCO.
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

__all__ = ["evaluate", "records_to_coco"]

_STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl")


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


def _match(
    records: Sequence[dict[str, Any]],
    dets: Sequence[Detections],
    n_classes: int,
    score_threshold: float,
    iou_threshold: float,
    use_masks: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TP, FP, FN counts per class at the operating threshold."""
    tp, fp, fn = (np.zeros(n_classes, np.int64) for _ in range(3))
    for r, d in zip(records, dets, strict=True):
        h, w = int(r["height"]), int(r["width"])
        d = d[d.scores >= score_threshold]
        gts = [a for a in r["annotations"] if not a.get("iscrowd", 0)]
        for c in range(n_classes):
            dc = d[d.class_ids == c]
            dc = dc[np.argsort(-dc.scores, kind="stable")]
            gc = [a for a in gts if a["category_id"] == c]
            if not len(dc):
                fn[c] += len(gc)
                continue
            if not gc:
                fp[c] += len(dc)
                continue
            iou = _iou_matrix(dc, gc, h, w, use_masks and dc.has_masks)
            taken = np.zeros(len(gc), bool)
            for i in range(len(dc)):
                cand = np.where(taken, -1.0, iou[i])
                j = int(np.argmax(cand))
                if cand[j] >= iou_threshold:
                    taken[j] = True
                    tp[c] += 1
                else:
                    fp[c] += 1
            fn[c] += int((~taken).sum())
    return tp, fp, fn


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
    tp, fp, fn = _match(records, detections, n, score_threshold, iou_threshold, use_masks)
    n_gt = tp + fn
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
    )
