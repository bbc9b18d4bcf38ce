"""Training the crack model through the project's engine, in resumable chunks.

:func:`train_crack_model` builds (or reloads) a run of the ``crack_semseg_R18_FPN`` preset and
trains it with :func:`models.training.engine.train` (checkpoints every
``SOLVER.CHECKPOINT_PERIOD`` iterations, ``resume``, validation with the ``crack_f1``
evaluator, ``model_best.pth``). A long CPU run stops cleanly through the engine's own stop hook
(:class:`models.training.hooks.GracefulStop`): on SIGTERM/SIGINT, or after ``stop_after_s``, it
saves a checkpoint at the current iteration and ends the call; the next call with the same run
folder continues from there.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from models.errors import ModelError

__all__ = ["default_crack_data", "train_crack_model"]

log = logging.getLogger(__name__)


#: times the 17-crop UAV75 training split is listed: 4x oversampling, 68 of 257 samples (26 %);
#: sampled uniformly it would be 8 % and its thin 1-2 px cracks would be learnt last
UAV75_REPEAT = 4


def default_crack_data(data_dir: str | Path) -> tuple[list[str], list[str]]:
    """Dataset specs of the default crack model: CC0 UAV crack set + UAV75 (train, val).

    UAV75's training split is listed :data:`UAV75_REPEAT` times (the engine samples records
    uniformly, so this oversamples it).
    """
    d = Path(data_dir)
    cc0, uav = d / "uav_crack_cc0", d / "uav75"
    for p in (cc0, uav):
        if not p.is_dir():
            raise ModelError("crack dataset folder not found", path=p)
    return [f"{cc0}:train"] + [f"{uav}:train"] * UAV75_REPEAT, [f"{cc0}:val", f"{uav}:val"]


def train_crack_model(
    out_dir: str | Path,
    *,
    train: Sequence[str] = (),
    val: Sequence[str] = (),
    overrides: Sequence[str] = (),
    seed: int | None = None,
    threads: int | None = None,
    max_iter: int | None = None,
    device: str | None = None,
    stop_after_s: float | None = None,
    stop_at_iter: int | None = None,
    restart: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Start or continue a crack-model run; returns a summary (iterations, best metric, state).

    An existing run folder continues with its own saved config (the recipe does not change
    half-way); ``max_iter`` may change its length (the cosine schedule follows the new length
    from the current iteration on). ``stop_at_iter`` ends this call with a checkpoint once that
    many iterations are done (a stage of a multi-stage schedule, see ``run.json`` ``stages``).
    ``restart`` starts over in the same folder.
    """
    import models.semseg.plugin  # noqa: F401
    from models.semseg.config import PRESET
    from models.training.engine import load_run_config, new_run_config
    from models.training.engine import train as engine_train

    out = Path(out_dir)
    resume = (out / "last_checkpoint").is_file() and not restart
    if resume:
        cfg = load_run_config(out)
        cfg.defrost()
        if max_iter is not None:
            cfg.SOLVER.MAX_ITER = int(max_iter)
        if threads is not None:
            cfg.SURVEY.THREADS = int(threads)
        if device:
            cfg.MODEL.DEVICE = device
    else:
        if not train:
            raise ModelError("no training data given for a new run")
        cfg = new_run_config(
            PRESET,
            train,
            val,
            overrides=overrides,
            seed=seed,
            threads=threads,
            max_iter=max_iter,
            device=device,
        )
    res = engine_train(
        cfg,
        out,
        resume=resume,
        progress=progress,
        stop_after_s=stop_after_s,
        stop_at_iter=stop_at_iter,
    )
    finished = res.end_iter >= int(cfg.SOLVER.MAX_ITER)
    if not finished:
        log.info("stopped at iteration %d with a checkpoint; run again to resume", res.end_iter)
    return {
        "state": "finished" if finished else "stopped",
        "out": str(out),
        "start_iter": res.start_iter,
        "end_iter": res.end_iter,
        "best_metric": res.best_metric,
        "val": res.val_metrics,
    }
