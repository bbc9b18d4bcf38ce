"""The shipped default instance model (Mask R-CNN R18-FPN) and the recipe that makes it.

``Predictor.from_run("maskrcnn")`` loads ``models/weights/maskrcnn_default.pth``: fp16 weights
with the config embedded (``config_yaml``) and ``meta`` (recipe, data, validation scores). When
an installation lacks that file, :func:`train_default_model` reproduces it from
:data:`RECIPE` with this project's own training engine and caches it in
``$XDG_CACHE_HOME/railpipe-survey`` (``~/.cache/railpipe-survey``), where
:func:`shipped_instance_model` also looks.

The recipe: preset ``mask_rcnn_R18_FPN_jetson`` (GroupNorm, from scratch), UAV75 train
split (class ``crack``; planking is formwork, not a defect) plus, when given, simulator
datasets in COCO form (``survey simulate --dataset``), 256 px crops (80 % centred on a defect),
instance masks dilated by 2 px (Mask R-CNN's 28x28 targets lose one-pixel cracks otherwise),
batch 4, AdamW 4e-4 with warm-up and cosine decay, 1 CPU thread, seed 0.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from models.errors import RunNotFoundError

__all__ = [
    "RECIPE",
    "SHIPPED_INSTANCE_MODELS",
    "cache_dir",
    "package_run",
    "shipped_instance_model",
    "train_default_model",
]

WEIGHTS_DIR = Path(__file__).parent / "weights"
#: shipped name -> file in models/weights (or the cache); ``rail``: the rail-defect detector
#: trained on simulated flights by ``bench/e2e_train_detector.py`` (survey process, demo)
SHIPPED_INSTANCE_MODELS: dict[str, str] = {
    "maskrcnn": "maskrcnn_default.pth",
    "rail": "rail_sim_maskrcnn.pth",
    "fastening": "fastening_lite0.pth",
}
#: how to make a shipped model that an installation lacks
_MAKE = {
    "rail": "`python bench/e2e_train_detector.py --dest models/weights/rail_sim_maskrcnn.pth`",
    "fastening": "`python -m models.fastening --dest models/weights/fastening_lite0.pth`",
}

RECIPE: dict[str, Any] = {
    "preset": "mask_rcnn_R18_FPN_jetson",
    "train": ["{shared}/defects/uav75:train"],
    "val": ["{shared}/defects/uav75:val"],
    "classes": ["crack"],
    "max_iter": 1500,
    "seed": 0,
    "threads": 1,
    "overrides": [
        "SURVEY.AUG.CROP_SIZE", "256",
        "SOLVER.IMS_PER_BATCH", "4",
        "TEST.EVAL_PERIOD", "250",
        "SOLVER.CHECKPOINT_PERIOD", "100",
        "SURVEY.MASK_DILATE_PX", "2",
        "SURVEY.AUG.CROP_FOCUS", "0.8",
        "SOLVER.WARMUP_ITERS", "100",
    ],
}  # fmt: skip


def cache_dir() -> Path:
    """Where models trained at set-up time are cached."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "railpipe-survey"


def shipped_instance_model(name: str = "maskrcnn") -> Path:
    """The file of a shipped instance model: in the package, else in the cache."""
    if name not in SHIPPED_INSTANCE_MODELS:
        raise RunNotFoundError(
            f"unknown shipped model {name!r}; known: {', '.join(SHIPPED_INSTANCE_MODELS)}"
        )
    fname = SHIPPED_INSTANCE_MODELS[name]
    for d in (WEIGHTS_DIR, cache_dir()):
        if (d / fname).is_file():
            return d / fname
    how = _MAKE.get(
        name, "`python -m models.default_model --shared ../shared/data` (trains and caches it)"
    )
    raise RunNotFoundError(
        f"the shipped model {name!r} is not installed; make it with {how}",
        path=WEIGHTS_DIR / fname,
    )


def tune_threshold(run: str | Path, specs: Sequence[str] | None = None) -> dict[str, Any]:
    """The score threshold with the best F1 on validation data (default: the run's own).

    Returns ``{"threshold", "f1", "precision", "recall", "images", "data"}``.
    """
    from models.datasets.sources import combine, load_dataset
    from models.evaluation.validate import evaluate_model
    from models.predictor import Predictor

    pred = Predictor.from_run(run, score_threshold=0.0)
    specs = list(specs or pred.cfg.SURVEY.DATASETS.VAL)
    ds = combine(
        [load_dataset(s, seed=int(pred.cfg.SURVEY.SEED)) for s in specs], list(pred.class_names)
    )
    rep = evaluate_model(pred, ds.records, pred.class_names)
    best = next(
        x for x in rep.meta["threshold_sweep"] if x["threshold"] == rep.meta["best_f1_threshold"]
    )
    return {
        **{k: best[k] for k in ("threshold", "f1", "precision", "recall")},
        "images": rep.n_images,
        "data": specs,
    }


def package_run(
    run: str | Path,
    dest: str | Path,
    *,
    meta: dict[str, Any] | None = None,
    score_threshold: float | None = None,
) -> Path:
    """Write a run's best weights as one self-contained fp16 file (config + meta embedded).

    ``score_threshold`` replaces the run's operating threshold (``SURVEY.SCORE_THRESHOLD``).
    """
    from models.export.exporter import save_weights_fp16
    from models.predictor import load_model

    model, cfg = load_model(run)
    if score_threshold is not None:
        cfg = cfg.clone()
        cfg.defrost()
        cfg.SURVEY.SCORE_THRESHOLD = float(score_threshold)
        cfg.freeze()
    info: dict[str, Any] = {
        "source_run": str(run),
        "packaged_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    run_json = Path(run) / "run.json"
    if run_json.is_file():
        info["run"] = json.loads(run_json.read_text())
    info.update(meta or {})
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    return save_weights_fp16(model, dest, cfg=cfg, meta=info)


def _classes(sim: Sequence[str]) -> list[str]:
    """``crack`` (UAV75; its planking is formwork, not a defect) + the simulator classes present."""
    from models.datasets.sources import load_dataset

    classes = list(RECIPE["classes"])
    for spec in sim:
        for c, n in load_dataset(spec).instance_counts().items():
            if n > 0 and c not in classes:
                classes.append(c)
    return classes


def recipe_config(
    shared: str | Path,
    *,
    sim: Sequence[str] = (),
    sim_val: Sequence[str] = (),
    max_iter: int | None = None,
    preset: str | None = None,
    device: str | None = None,
    overrides: Sequence[str] = (),
) -> Any:
    """The default model's training config, data under ``shared`` (``../shared/data``)."""
    from models.training.engine import new_run_config

    r = RECIPE
    fmt = {"shared": str(Path(shared))}
    return new_run_config(
        preset or r["preset"],
        [s.format(**fmt) for s in r["train"]] + list(sim),
        [s.format(**fmt) for s in r["val"]] + list(sim_val),
        overrides=[*r["overrides"], *overrides],
        classes=_classes(sim),
        seed=r["seed"],
        threads=r["threads"],
        max_iter=max_iter or r["max_iter"],
        device=device,
    )


def train_default_model(
    shared: str | Path,
    run_dir: str | Path,
    *,
    sim: Sequence[str] = (),
    sim_val: Sequence[str] = (),
    max_iter: int | None = None,
    dest: str | Path | None = None,
    progress: bool = True,
    preset: str | None = None,
    device: str | None = None,
    overrides: Sequence[str] = (),
) -> Path:
    """Train (or resume) the default model into ``run_dir`` and package it (default: the cache)."""
    from models.training.engine import train

    cfg = recipe_config(
        shared,
        sim=sim,
        sim_val=sim_val,
        max_iter=max_iter,
        preset=preset,
        device=device,
        overrides=overrides,
    )
    train(cfg, run_dir, resume=True, progress=progress)
    tuned = tune_threshold(run_dir)
    dest = Path(dest) if dest else cache_dir() / SHIPPED_INSTANCE_MODELS["maskrcnn"]
    recipe = {
        **RECIPE,
        "preset": preset or RECIPE["preset"],
        "extra_overrides": list(overrides),
        "device": device,
    }
    return package_run(
        run_dir,
        dest,
        meta={
            "recipe": recipe,
            "sim": list(sim),
            "sim_val": list(sim_val),
            "threshold_tuning": tuned,
        },
        score_threshold=tuned["threshold"],
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Train and package the default model; on a GPU, a larger one in the same call.

    CPU (the shipped model)::

        python -m models.default_model --shared ../shared/data \\
            --sim runs/sim/train --sim-val runs/sim/val

    GPU (one script; R50, larger batches and crops, longer)::

        python -m models.default_model --shared ../shared/data \\
            --sim runs/sim/train --sim-val runs/sim/val \\
            --device cuda --preset mask_rcnn_R50_FPN --max-iter 20000 \\
            --set SOLVER.IMS_PER_BATCH 16 --set SURVEY.AUG.CROP_SIZE 512 \\
            --set SURVEY.THREADS 8 --set DATALOADER.NUM_WORKERS 6 \\
            --run runs/maskrcnn_r50_gpu --dest runs/maskrcnn_r50_gpu.pth
    """
    import argparse
    import logging

    ap = argparse.ArgumentParser(
        description=main.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--shared", required=True, help="the shared data folder (../shared/data)")
    ap.add_argument(
        "--run", default="runs/maskrcnn_default", help="run folder (resumed if present)"
    )
    ap.add_argument("--sim", action="append", default=[], help="simulator COCO training set")
    ap.add_argument("--sim-val", action="append", default=[], help="simulator validation set")
    ap.add_argument("--max-iter", type=int)
    ap.add_argument("--preset", help=f"preset (default {RECIPE['preset']})")
    ap.add_argument("--device", choices=["cpu", "cuda"])
    ap.add_argument("--set", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"))
    ap.add_argument("--dest", help="packaged file (default: the cache)")
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    out = train_default_model(
        a.shared,
        a.run,
        sim=a.sim,
        sim_val=a.sim_val,
        max_iter=a.max_iter,
        dest=a.dest,
        progress=not a.no_progress,
        preset=a.preset,
        device=a.device,
        overrides=[x for kv in a.set for x in kv],
    )
    print(out)


if __name__ == "__main__":
    main()
