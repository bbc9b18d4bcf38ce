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

__all__ = ["SWEEP_THRESHOLDS", "crack_f1_evaluator", "evaluate_semantic", "group_of"]

log = logging.getLogger(__name__)

SWEEP_THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.025), 3)


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
    progress: bool = False,
) -> dict[str, Any]:
    """Sweep thresholds per source group; see the module docstring for what is returned.

    Returns ``{"groups": {name: {images, skipped, best_threshold, best_f1, best_precision,
    best_recall, sweep: {t: f1}}}, "pooled_threshold", "at_pooled": {name: {precision, recall,
    f1}}, "mean_at_pooled", "tolerance_px"}``.
    """
    from models.semseg.mapper import CrackSemanticMapper

    loader = CrackSemanticMapper(None, is_train=False, cache=False)  # type: ignore[arg-type]
    ts = np.asarray(thresholds, np.float32)
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
        prob = predictor.probabilities(img).max(axis=0)
        true = (lab > 0) & (lab != 255)
        per_t = threshold_sweep(prob, true, ts, tol_px)
        prev = sweeps.get(g, [PixelCounts()] * len(ts))
        sweeps[g] = [a + b for a, b in zip(prev, per_t, strict=True)]
        images[g] = images.get(g, 0) + 1
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
    if sweeps:
        mean = np.mean([[c.f1 for c in sw] for sw in sweeps.values()], axis=0)
        k = int(np.argmax(mean))
        out["pooled_threshold"] = float(ts[k])
        out["at_pooled"] = {
            g: {"precision": sw[k].precision, "recall": sw[k].recall, "f1": sw[k].f1}
            for g, sw in sorted(sweeps.items())
        }
        out["mean_at_pooled"] = float(mean[k])
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
