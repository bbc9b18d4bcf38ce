"""Evaluating a model on records: run the predictor, score with COCO metrics.

``evaluate_model(predictor, records, classes)`` -> :class:`EvalReport`; the ``"coco"`` entry of
:data:`models.training.registry.EVALUATORS` (the default ``SURVEY.EVALUATOR``) wraps it for the
training loop's validation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from models.detections import Detections
from models.errors import ImageReadError
from models.evaluation.coco import evaluate
from models.evaluation.report import EvalReport
from models.images import read_rgb
from models.training.registry import EVALUATORS

__all__ = ["coco_evaluator", "evaluate_model", "predict_records"]

log = logging.getLogger(__name__)


def predict_records(
    predictor: Any, records: Sequence[dict[str, Any]], *, progress: bool = False
) -> tuple[list[dict[str, Any]], list[Detections], list[str]]:
    """Run ``predictor`` on each record's image: ``(records used, detections, skipped files)``."""
    used, dets, skipped = [], [], []
    it: Any = records
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(records, desc="evaluate", unit="img")
    for r in it:
        try:
            img = read_rgb(r["file_name"])
        except ImageReadError as exc:
            log.warning("skipped: %s", exc)
            skipped.append(str(exc))
            continue
        used.append(r)
        dets.append(predictor(img))
    return used, dets, skipped


def evaluate_model(
    predictor: Any,
    records: Sequence[dict[str, Any]],
    classes: Sequence[str],
    *,
    score_threshold: float | None = None,
    iou_threshold: float = 0.5,
    progress: bool = False,
) -> EvalReport:
    """COCO AP over all of the predictor's detections, precision/recall at the threshold.

    The predictor should keep low-scoring detections (AP integrates over scores); the operating
    threshold defaults to the model's ``SURVEY.SCORE_THRESHOLD``.
    """
    thr = score_threshold
    if thr is None:
        thr = float(predictor.cfg.SURVEY.SCORE_THRESHOLD) if hasattr(predictor, "cfg") else 0.5
    used, dets, skipped = predict_records(predictor, records, progress=progress)
    report = evaluate(used, dets, classes, score_threshold=thr, iou_threshold=iou_threshold)
    report.meta.update(skipped_images=skipped)
    return report


@EVALUATORS.register("coco")
def coco_evaluator(
    model: Any, cfg: Any, records: list[dict[str, Any]], classes: Sequence[str]
) -> dict[str, float]:
    """Validation during training: flat COCO metrics of the live model."""
    from models.predictor import Predictor

    pred = Predictor(model, cfg, score_threshold=0.0)
    return evaluate_model(pred, records, classes).flat()
