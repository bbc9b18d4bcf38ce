"""The training engine: any Detectron2 meta-architecture from a preset, with a run folder.

API
---
``new_run_config(preset, train=[...], val=[...], overrides=[...], ...) -> cfg``
    Build a run's config from a preset name/YAML and dataset specs (``PATH[:SPLIT]`` or TOML).
``train(cfg, out_dir, resume=False, progress=True, mapper=None, evaluator=None, extra_hooks=()) -> TrainResult``
    Train (or continue) a run. ``cfg.MODEL.META_ARCHITECTURE`` may be anything Detectron2
    builds (``GeneralizedRCNN``, ``SemanticSegmentor`` with a registered head, ...).
    ``mapper`` (``callable(record) -> dict | None``) and ``evaluator``
    (``fn(model, cfg, records, classes) -> dict[str, float]``) override the registered ones named
    by ``SURVEY.MAPPER`` / ``SURVEY.EVALUATOR`` (see :mod:`models.training.registry`).
``load_run_config(run_dir) -> cfg``
    The frozen config a run was trained with (``run_dir/config.yaml``).

A run folder holds ``config.yaml`` (the full resolved config), ``run.json`` (datasets, class
list, counts, versions, state), ``metrics.json`` (JSON lines of losses and learning rate),
``model_NNNNNNN.pth`` checkpoints every ``SOLVER.CHECKPOINT_PERIOD`` iterations (the last
``KEEP`` kept; with optimizer, scheduler and iteration, so ``resume=True`` continues exactly),
``last_checkpoint``, ``model_final.pth``, ``model_best.pth`` (weights only, the best validation
score by ``SURVEY.BEST_METRIC``) and ``eval/iter_NNNNNNN.json`` per validation.

Training is seeded (``SURVEY.SEED``: Python, NumPy, torch, the data sampler) and uses
``SURVEY.THREADS`` CPU threads. It runs inside Detectron2's ``SimpleTrainer`` + hooks; a tqdm bar
shows iteration, smoothed loss and learning rate.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.config import import_modules, load_config, validate
from models.datasets.base import LabelledDataset
from models.datasets.sources import combine, load_dataset
from models.errors import DatasetError, ModelConfigError, RunNotFoundError

__all__ = [
    "KEEP",
    "TrainResult",
    "config_from_text",
    "load_run_config",
    "load_run_datasets",
    "new_run_config",
    "train",
]

log = logging.getLogger(__name__)
KEEP = 2  # periodic checkpoints kept (besides model_final / model_best)

Mapper = Callable[[dict[str, Any]], dict[str, Any] | None]
Evaluator = Callable[[Any, Any, list[dict[str, Any]], Sequence[str]], dict[str, float]]


@dataclass(frozen=True)
class TrainResult:
    """What a training call produced."""

    out_dir: Path
    weights: Path
    start_iter: int
    end_iter: int
    losses: list[float] = field(default_factory=list)  # total_loss per iteration run by this call
    val_metrics: dict[str, float] = field(default_factory=dict)  # last validation
    best_metric: float | None = None


def new_run_config(
    preset: str | Path,
    train: Sequence[str] = (),
    val: Sequence[str] = (),
    *,
    overrides: Sequence[str] = (),
    classes: Sequence[str] | None = None,
    seed: int | None = None,
    threads: int | None = None,
    max_iter: int | None = None,
    device: str | None = None,
    init_weights: str | None = None,
) -> Any:
    """A run's config: the preset, dataset specs, and the common options as config keys."""
    cfg = load_config(preset, overrides)
    cfg.SURVEY.DATASETS.TRAIN = [str(s) for s in train] or list(cfg.SURVEY.DATASETS.TRAIN)
    cfg.SURVEY.DATASETS.VAL = [str(s) for s in val] or list(cfg.SURVEY.DATASETS.VAL)
    if classes:
        cfg.SURVEY.CLASSES = list(classes)
    if seed is not None:
        cfg.SURVEY.SEED = cfg.SEED = int(seed)
    if threads is not None:
        cfg.SURVEY.THREADS = int(threads)
    if max_iter is not None:
        cfg.SOLVER.MAX_ITER = int(max_iter)
    if device:
        cfg.MODEL.DEVICE = device
    if init_weights:
        cfg.MODEL.WEIGHTS = str(init_weights)
    if not cfg.SURVEY.DATASETS.TRAIN:
        raise ModelConfigError(
            "no training data: give at least one dataset spec", where="SURVEY.DATASETS.TRAIN"
        )
    cfg.SOLVER.WARMUP_ITERS = min(cfg.SOLVER.WARMUP_ITERS, max(1, cfg.SOLVER.MAX_ITER // 5))
    validate(cfg)
    return cfg


def load_run_config(run_dir: str | Path) -> Any:
    """The config saved in a run folder (imports its ``SURVEY.IMPORTS`` first)."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise RunNotFoundError("not a training run (no config.yaml)", path=run_dir)
    return config_from_text(path.read_text(encoding="utf-8"), source=path)


def config_from_text(text: str, *, source: str | Path = "<text>") -> Any:
    """A full config from saved YAML text (a run's ``config.yaml``, or one embedded in weights)."""
    import yaml
    from detectron2.config import CfgNode

    from models.config import default_cfg

    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ModelConfigError(f"not valid YAML ({exc})", path=source) from exc
    import_modules(list((doc.get("SURVEY") or {}).get("IMPORTS") or []))
    cfg = default_cfg()
    cfg.set_new_allowed(True)  # a run saved by a newer version may carry extra keys
    try:
        cfg.merge_from_other_cfg(CfgNode(doc))
    except (KeyError, ValueError, TypeError, AssertionError) as exc:
        raise ModelConfigError(f"invalid run config ({exc})", path=source) from exc
    cfg.set_new_allowed(False)
    return cfg


def load_run_datasets(cfg: Any) -> tuple[LabelledDataset, LabelledDataset | None]:
    """The training and validation data a config names, on its class list."""
    classes = list(cfg.SURVEY.CLASSES) or None
    seed = int(cfg.SURVEY.SEED)
    parts = [load_dataset(s, seed=seed) for s in cfg.SURVEY.DATASETS.TRAIN]
    if not parts:
        raise ModelConfigError("no training data", where="SURVEY.DATASETS.TRAIN")
    train_ds = combine(parts, classes, name="train")
    val_parts = [load_dataset(s, seed=seed) for s in cfg.SURVEY.DATASETS.VAL]
    val_ds = combine(val_parts, train_ds.classes, name="val") if val_parts else None
    if not train_ds.records:
        raise DatasetError(f"the training data {list(cfg.SURVEY.DATASETS.TRAIN)} has no images")
    return train_ds, val_ds


def _set_num_classes(cfg: Any, n: int) -> None:
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = n
    cfg.MODEL.RETINANET.NUM_CLASSES = n
    cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES = n + 1  # + background


def _mask_mode(cfg: Any, ds: LabelledDataset) -> None:
    """Box-only data trains a detector without masks; data mixing both is an error."""
    if cfg.SURVEY.KIND != "instance" or not cfg.MODEL.MASK_ON:
        return
    anns = [a for r in ds.records for a in r["annotations"]]
    with_mask = sum("segmentation" in a for a in anns)
    if anns and with_mask == 0:
        log.warning(
            "the training data has boxes only: training without the mask head (MODEL.MASK_ON False)"
        )
        cfg.MODEL.MASK_ON = False
    elif 0 < with_mask < len(anns):
        raise DatasetError(
            f"{len(anns) - with_mask} of {len(anns)} training instances have boxes only and the rest masks; "
            "train masks on mask-labelled data only, or set MODEL.MASK_ON False to train boxes on all"
        )


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)


def _previous_stages(out: Path) -> list[dict[str, int]]:
    """The ``stages`` an earlier call recorded in ``run.json`` (none when unreadable or absent)."""
    try:
        info = json.loads((out / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    stages = info.get("stages") if isinstance(info, dict) else None
    return [dict(s) for s in stages if isinstance(s, dict)] if isinstance(stages, list) else []


def _versions() -> dict[str, str]:
    import detectron2
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "detectron2": detectron2.__version__,
    }


def train(
    cfg: Any,
    out_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    mapper: Mapper | None = None,
    evaluator: Evaluator | None = None,
    extra_hooks: Sequence[Any] = (),
    stop_after_s: float | None = None,
    stop_at_iter: int | None = None,
) -> TrainResult:
    """Train a model into ``out_dir`` (see the module docstring); returns a :class:`TrainResult`.

    With ``resume=True`` and a checkpoint in ``out_dir`` the run continues from it (model,
    optimizer, scheduler, iteration); ``cfg.SOLVER.MAX_ITER`` may be raised to train longer.
    SIGINT/SIGTERM (Ctrl-C, ``kill``), or ``stop_after_s`` seconds, end the run cleanly after the
    current iteration with a checkpoint (``run.json`` state ``"stopped"``); so does reaching
    ``stop_at_iter`` iterations (a stage of a schedule that continues with another MAX_ITER).
    ``run.json`` keeps the history of the calls on a run folder in ``stages`` (start and end
    iteration, MAX_ITER of each), which is the schedule needed to repeat the run.
    """
    import torch
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.data import build_detection_train_loader
    from detectron2.data.samplers import TrainingSampler
    from detectron2.engine import SimpleTrainer, hooks
    from detectron2.modeling import build_model
    from detectron2.solver import build_lr_scheduler
    from detectron2.utils.env import seed_all_rng
    from detectron2.utils.events import JSONWriter

    import models.evaluation.validate
    import models.training.mapper  # noqa: F401  (registers the "aerial" mapper)
    from models.training.hooks import (
        BestCheckpointer,
        GracefulStop,
        LossRecorder,
        ProgressBar,
        StopRequested,
        ValidationHook,
    )
    from models.training.optim import build_optimizer
    from models.training.registry import EVALUATORS, MAPPERS

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = cfg.clone()
    cfg.defrost()
    import_modules(cfg.SURVEY.IMPORTS)
    seed = int(cfg.SURVEY.SEED)
    seed_all_rng(seed)
    if cfg.SURVEY.THREADS > 0:
        torch.set_num_threads(int(cfg.SURVEY.THREADS))

    train_ds, val_ds = load_run_datasets(cfg)
    cfg.SURVEY.CLASSES = list(train_ds.classes)
    _set_num_classes(cfg, len(train_ds.classes))
    _mask_mode(cfg, train_ds)
    if not cfg.MODEL.MASK_ON and cfg.SURVEY.BEST_METRIC.startswith("segm/"):
        cfg.SURVEY.BEST_METRIC = "bbox/" + cfg.SURVEY.BEST_METRIC.split("/", 1)[1]
    cfg.OUTPUT_DIR = str(out)
    cfg.freeze()
    (out / "config.yaml").write_text(cfg.dump(), encoding="utf-8")
    stages = _previous_stages(out) if resume else []
    run_info = {
        "kind": cfg.SURVEY.KIND,
        "meta_architecture": cfg.MODEL.META_ARCHITECTURE,
        "classes": list(train_ds.classes),
        "train": list(cfg.SURVEY.DATASETS.TRAIN),
        "val": list(cfg.SURVEY.DATASETS.VAL),
        "train_images": len(train_ds),
        "val_images": len(val_ds) if val_ds else 0,
        "train_instances": train_ds.instance_counts(),
        "skipped_files": [str(p) for p in train_ds.problems + (val_ds.problems if val_ds else [])],
        "seed": seed,
        "max_iter": int(cfg.SOLVER.MAX_ITER),
        "versions": _versions(),
        "state": "running",
        "stages": stages,
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _write_json(out / "run.json", run_info)

    model = build_model(cfg)
    optimizer = build_optimizer(cfg, model)
    scheduler = build_lr_scheduler(cfg, optimizer)
    if mapper is None:
        mapper = MAPPERS.get(cfg.SURVEY.MAPPER)(cfg, True)
    loader = build_detection_train_loader(
        dataset=train_ds.records,
        mapper=mapper,
        sampler=TrainingSampler(len(train_ds.records), shuffle=True, seed=seed),
        total_batch_size=cfg.SOLVER.IMS_PER_BATCH,
        aspect_ratio_grouping=False,
        num_workers=cfg.DATALOADER.NUM_WORKERS,
    )
    trainer = SimpleTrainer(model, loader, optimizer)
    checkpointer = DetectionCheckpointer(
        model, str(out), optimizer=optimizer, scheduler=scheduler, trainer=trainer
    )
    start_iter = 0
    if resume and checkpointer.has_checkpoint():
        checkpointer.resume_or_load(cfg.MODEL.WEIGHTS, resume=True)
        start_iter = trainer.iter + 1
        log.info("resuming %s at iteration %d", out, start_iter)
    elif cfg.MODEL.WEIGHTS:
        DetectionCheckpointer(model).load(cfg.MODEL.WEIGHTS)  # initial weights only
    max_iter = int(cfg.SOLVER.MAX_ITER)
    if start_iter >= max_iter:
        log.info(
            "%s already finished %d iterations (raise SOLVER.MAX_ITER to train longer)",
            out,
            max_iter,
        )

    val_fn = None
    if val_ds is not None and val_ds.records:
        ev = evaluator or EVALUATORS.get(cfg.SURVEY.EVALUATOR)
        records = val_ds.records
        if cfg.SURVEY.EVAL_MAX_IMAGES > 0:
            records = records[: cfg.SURVEY.EVAL_MAX_IMAGES]
        val_fn = ValidationHook.make_fn(
            model,
            cfg,
            records,
            list(train_ds.classes),
            ev,
            out / "eval",
            lambda: min(trainer.iter + 1, max_iter),
        )
    best = BestCheckpointer(model, out, cfg.SURVEY.BEST_METRIC)
    hook_list = [
        hooks.IterationTimer(),
        hooks.LRScheduler(optimizer, scheduler),
        hooks.PeriodicCheckpointer(
            checkpointer, cfg.SOLVER.CHECKPOINT_PERIOD, max_iter=max_iter, max_to_keep=KEEP
        ),
    ]
    if val_fn is not None and cfg.TEST.EVAL_PERIOD > 0:
        hook_list.append(ValidationHook(cfg.TEST.EVAL_PERIOD, val_fn, best))
    hook_list += [
        hooks.PeriodicWriter([JSONWriter(str(out / "metrics.json"), window_size=1)], period=1),
        ProgressBar(max_iter, enabled=progress),
        stopper := GracefulStop(checkpointer, stop_after_s, stop_at_iter),
        *extra_hooks,
    ]
    trainer.register_hooks(hook_list)
    losses: list[float] = []
    trainer.register_hooks([LossRecorder(losses)])
    if start_iter < max_iter:
        try:
            trainer.train(start_iter, max_iter)
            end_iter = min(trainer.iter, max_iter)
        except StopRequested as exc:
            log.warning("%s: %s", out, exc)
            end_iter = (stopper.stopped_at if stopper.stopped_at is not None else trainer.iter) + 1
    else:
        end_iter = start_iter
    final = (
        out / "model_final.pth" if end_iter >= max_iter else out / f"model_{end_iter - 1:07d}.pth"
    )
    val_metrics = best.last_metrics
    if end_iter > start_iter:
        stages.append({"start_iter": start_iter, "end_iter": end_iter, "max_iter": max_iter})
    run_info.update(
        stages=stages,
        state="finished" if end_iter >= max_iter else "stopped",
        iterations_done=end_iter,
        finished_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        last_val=val_metrics,
        best_metric={
            "name": cfg.SURVEY.BEST_METRIC,
            "value": best.best_value,
            "iter": best.best_iter,
        },
    )
    _write_json(out / "run.json", run_info)
    return TrainResult(out, final, start_iter, end_iter, losses, val_metrics, best.best_value)
