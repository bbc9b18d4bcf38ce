"""Export a crack-model run as a small self-contained fp16 model file, thresholds tuned on val.

:func:`export_model` loads the run's best weights (``model_best.pth``, else the newest), runs
them on the run's validation splits (:func:`models.semseg.evaluate.evaluate_semantic`), takes
the **pooled threshold** (best mean F1 over the splits; with test-time augmentation when asked),
and writes the model file with its
scores and recipe (seed, datasets, iterations, versions) in ``meta``, plus a
``<name>.recipe.json`` beside it for readers without torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import ModelError

__all__ = ["export_model"]


def export_model(
    run_dir: str | Path,
    dest: str | Path,
    *,
    tta: str = "none",
    criterion: str = "mean",
    extra_meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``dest`` (fp16 model file) and ``dest.recipe.json``; returns the metadata.

    ``tta`` (see :data:`models.semseg.predict.TTA_MODES`) is the test-time augmentation the
    threshold is tuned with; the file records it, so predictors loading it use it too.
    ``criterion``: ``"mean"`` takes the threshold with the best mean F1 over the val splits,
    ``"min"`` the one whose worst split does best (every source served as well as possible).
    """
    if criterion not in ("mean", "min"):
        raise ModelError(f"unknown threshold criterion {criterion!r}: use 'mean' or 'min'")
    import torch

    from models.semseg.evaluate import evaluate_semantic
    from models.semseg.predict import SemSegPredictor, _load_any, save_model_file
    from models.training.engine import load_run_datasets

    run = Path(run_dir)
    if not (run / "config.yaml").is_file():
        raise ModelError("not a training run folder (no config.yaml)", path=run)
    cfg, sd, meta0 = _load_any(run)
    _, val_ds = load_run_datasets(cfg)
    if val_ds is None or not val_ds.records:
        raise ModelError("the run has no validation data to tune the threshold on", path=run)
    pred = SemSegPredictor.from_state_dict(cfg, sd, tta=tta)
    res = evaluate_semantic(pred, val_ds.records, progress=True)
    key = "pooled" if criterion == "mean" else "maximin"
    thr = float(res[f"{key}_threshold"])
    run_info = {}
    if (run / "run.json").is_file():
        run_info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    cfg = cfg.clone()
    cfg.defrost()
    cfg.SURVEY.SCORE_THRESHOLD = thr
    cfg.MODEL.WEIGHTS = ""
    cfg.OUTPUT_DIR = ""
    meta = {
        "thresholds": [thr] * len(pred.class_names),
        "classes": list(pred.class_names),
        "iteration": meta0.get("iteration"),
        "tta": pred.tta,
        "val": {
            "tolerance_px": res["tolerance_px"],
            "criterion": criterion,
            "at_threshold": res[f"at_{key}"],
            "mean_f1": float(np.mean([v["f1"] for v in res[f"at_{key}"].values()])),
            "sweep": {g: v["sweep"] for g, v in res["groups"].items()},
            "best_per_split": {
                g: {k: v[k] for k in ("best_threshold", "best_f1", "best_precision", "best_recall")}
                for g, v in res["groups"].items()
            },
        },
        "recipe": {
            "preset": "crack_semseg_R18_FPN",
            "seed": int(cfg.SURVEY.SEED),
            "train": list(cfg.SURVEY.DATASETS.TRAIN),
            "val": list(cfg.SURVEY.DATASETS.VAL),
            "max_iter": int(cfg.SOLVER.MAX_ITER),
            "iterations_done": run_info.get("iterations_done"),
            "stages": run_info.get("stages"),
            "train_images": run_info.get("train_images"),
            "val_images": run_info.get("val_images"),
            "versions": run_info.get("versions"),
            "command": "scripts/train_crack_model.py",
        },
        "dtype": "float16",
        "torch": str(torch.__version__),
        **(extra_meta or {}),
    }
    path = save_model_file(dest, cfg, sd, meta, half=True)
    recipe = path.with_name(path.stem + ".recipe.json")
    recipe.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return {**meta, "path": str(path), "bytes": path.stat().st_size}
