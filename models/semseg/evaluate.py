"""Validation of a semantic model: tolerant pixel P/R/F1 per source split, threshold tuning.

Records are grouped by source (the ``name/`` prefix the engine gives image ids when it combines
several datasets, e.g. ``uav75:val`` and ``uav_crack_cc0:val``). For each group the
probabilities of the defect classes (pooled: any defect) are swept over thresholds in one pass
(:func:`models.semseg.metrics.threshold_sweep`); the **pooled threshold** is the one with the
best mean F1 over the groups, i.e. one operating point that serves every source, as a shipped
model needs.

``crack_f1_evaluator`` is the ``crack_f1`` entry of the engine's evaluator registry; its flat
keys are ``crack_f1/mean_at_pooled`` (the preset's ``SURVEY.BEST_METRIC``),
``crack_f1/pooled_threshold``, and per group ``crack_f1/<group>/{f1,precision,recall}`` at the
pooled threshold and ``crack_f1/<group>/best_f1``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from models.errors import DatasetError, ImageReadError
from models.semseg.metrics import PixelCounts, threshold_sweep

__all__ = [
    "SWEEP_THRESHOLDS",
    "crack_f1_evaluator",
    "evaluate_instances",
    "evaluate_pixels",
    "evaluate_semantic",
    "group_of",
    "instance_score_map",
]

log = logging.getLogger(__name__)

SWEEP_THRESHOLDS = np.r_[np.arange(0.05, 0.951, 0.025), 0.96, 0.97, 0.98, 0.99].round(3)


def group_of(record: dict[str, Any]) -> str:
    """The source a record came from (``"uav75:val"``), or ``"all"``."""
    iid = str(record.get("image_id", ""))
    return iid.split("/", 1)[0] if "/" in iid else str(record.get("source", "all"))


def evaluate_semantic(
    predictor: Any,
    records: Sequence[dict[str, Any]],
    *,
    tol_px: float = 2.0,
    thresholds: np.ndarray = SWEEP_THRESHOLDS,
    operating_threshold: float | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """:func:`evaluate_pixels` of a :class:`~models.semseg.predict.SemSegPredictor` (any class)."""
    return evaluate_pixels(
        lambda img: predictor.probabilities(img).max(axis=0),
        records,
        tol_px=tol_px,
        thresholds=thresholds,
        operating_threshold=operating_threshold,
        progress=progress,
    )


def instance_score_map(dets: Any) -> np.ndarray:
    """Per pixel, the best score of the instance masks covering it (0 elsewhere), float32.

    Thresholding this map at ``t`` gives the union of the masks of detections scoring ``>= t``,
    so an instance model sweeps its score threshold like a semantic model its probability.
    """
    out = np.zeros(dets.image_hw, np.float32)
    for i in np.argsort(dets.scores):  # ascending: higher scores overwrite
        crop, x0, y0 = dets.mask_crop(int(i))
        win = out[y0 : y0 + crop.shape[0], x0 : x0 + crop.shape[1]]
        win[crop] = np.maximum(win[crop], float(dets.scores[i]))
    return out


def evaluate_instances(
    predictor: Any,
    records: Sequence[dict[str, Any]],
    *,
    tol_px: float = 2.0,
    thresholds: np.ndarray = SWEEP_THRESHOLDS,
    operating_threshold: float | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """:func:`evaluate_pixels` of an instance :class:`models.predictor.Predictor` (Mask R-CNN):
    the union of its masks, swept over the score threshold (run it with ``score_threshold=0``)."""
    return evaluate_pixels(
        lambda img: instance_score_map(predictor(np.ascontiguousarray(img[..., ::-1]))),
        records,
        tol_px=tol_px,
        thresholds=thresholds,
        operating_threshold=operating_threshold,
        progress=progress,
    )


def evaluate_pixels(
    prob_fn: Any,
    records: Sequence[dict[str, Any]],
    *,
    tol_px: float = 2.0,
    thresholds: np.ndarray = SWEEP_THRESHOLDS,
    operating_threshold: float | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Sweep thresholds of ``prob_fn(image_bgr) -> (H, W)`` scores per source group.

    Returns ``{"groups": {name: {images, skipped, best_threshold, best_f1, best_precision,
    best_recall, sweep: {t: f1}}}, "pooled_threshold", "at_pooled": {name: {precision, recall,
    f1}}, "mean_at_pooled", "tolerance_px"}``, and with ``operating_threshold`` also
    ``"at_operating": {name: {precision, recall, f1}}``. ``"maximin_threshold"`` is the one
    whose worst group does best (``"at_maximin"``, ``"min_at_maximin"``).
    """
    from models.semseg.mapper import CrackSemanticMapper

    loader = CrackSemanticMapper(None, is_train=False, cache=False)  # type: ignore[arg-type]
    ts = np.asarray(thresholds, np.float32)
    if operating_threshold is not None:
        ts = np.append(ts, np.float32(operating_threshold))
    sweeps: dict[str, list[PixelCounts]] = {}
    images: dict[str, int] = {}
    skipped: dict[str, int] = {}
    it: Any = records
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(records, desc="evaluate", unit="img")
    for r in it:
        g = group_of(r)
        try:
            img, lab = loader.load(r)
        except (ImageReadError, DatasetError) as exc:
            log.warning("skipped: %s", exc)
            skipped[g] = skipped.get(g, 0) + 1
            continue
        prob = np.asarray(prob_fn(img), np.float32)
        true = (lab > 0) & (lab != 255)
        per_t = threshold_sweep(prob, true, ts, tol_px)
        prev = sweeps.get(g, [PixelCounts()] * len(ts))
        sweeps[g] = [a + b for a, b in zip(prev, per_t, strict=True)]
        images[g] = images.get(g, 0) + 1
    at_op: dict[str, Any] = {}
    if operating_threshold is not None:
        for g in sweeps:
            c = sweeps[g].pop()
            at_op[g] = {"precision": c.precision, "recall": c.recall, "f1": c.f1}
        ts = ts[:-1]
    groups: dict[str, Any] = {}
    for g, sw in sorted(sweeps.items()):
        b = int(np.argmax([c.f1 for c in sw]))
        groups[g] = {
            "images": images[g],
            "skipped": skipped.get(g, 0),
            "best_threshold": float(ts[b]),
            "best_f1": sw[b].f1,
            "best_precision": sw[b].precision,
            "best_recall": sw[b].recall,
            "sweep": {f"{t:.3f}": round(c.f1, 4) for t, c in zip(ts, sw, strict=True)},
        }
    out: dict[str, Any] = {"groups": groups, "tolerance_px": tol_px}
    if operating_threshold is not None:
        out["operating_threshold"] = float(operating_threshold)
        out["at_operating"] = dict(sorted(at_op.items()))
    if sweeps:
        mean = np.mean([[c.f1 for c in sw] for sw in sweeps.values()], axis=0)
        k = int(np.argmax(mean))
        out["pooled_threshold"] = float(ts[k])
        out["at_pooled"] = {
            g: {"precision": sw[k].precision, "recall": sw[k].recall, "f1": sw[k].f1}
            for g, sw in sorted(sweeps.items())
        }
        out["mean_at_pooled"] = float(mean[k])
        # the threshold whose worst split does best (ties: the better mean)
        worst = np.min([[c.f1 for c in sw] for sw in sweeps.values()], axis=0)
        j = int(np.lexsort((-mean, -worst))[0])
        out["maximin_threshold"] = float(ts[j])
        out["at_maximin"] = {
            g: {"precision": sw[j].precision, "recall": sw[j].recall, "f1": sw[j].f1}
            for g, sw in sorted(sweeps.items())
        }
        out["min_at_maximin"] = float(worst[j])
    return out


def crack_f1_evaluator(
    model: Any, cfg: Any, records: list[dict[str, Any]], classes: Sequence[str]
) -> dict[str, float]:
    """The engine's ``crack_f1`` evaluator (flat keys, see the module docstring)."""
    from models.semseg.predict import SemSegPredictor

    res = evaluate_semantic(SemSegPredictor(cfg, model), records)
    flat: dict[str, float] = {}
    if "mean_at_pooled" in res:
        flat["crack_f1/mean_at_pooled"] = res["mean_at_pooled"]
        flat["crack_f1/pooled_threshold"] = res["pooled_threshold"]
        for g, v in res["at_pooled"].items():
            for k in ("f1", "precision", "recall"):
                flat[f"crack_f1/{g}/{k}"] = v[k]
            flat[f"crack_f1/{g}/best_f1"] = res["groups"][g]["best_f1"]
    return flat
