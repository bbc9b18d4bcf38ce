"""Training the crack model through the project's engine, in resumable chunks.

:func:`train_crack_model` builds (or reloads) a run of the ``crack_semseg_R18_FPN`` preset and
trains it with :func:`models.training.engine.train` (checkpoints every
``SOLVER.CHECKPOINT_PERIOD`` iterations, ``resume``, validation with the ``crack_f1``
evaluator, ``model_best.pth``). :class:`GracefulStop` lets a long CPU run be stopped cleanly:
on SIGTERM/SIGINT, or after ``stop_after_s``, it saves a checkpoint at the current iteration
and ends the call; the next call with the same run folder continues from there.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from detectron2.engine.train_loop import HookBase

from models.errors import ModelError

__all__ = ["GracefulStop", "TrainingStopped", "default_crack_data", "train_crack_model"]

log = logging.getLogger(__name__)


class TrainingStopped(BaseException):
    """Raised by :class:`GracefulStop` after it saved a checkpoint (the run can resume).

    A ``BaseException`` like ``KeyboardInterrupt``: detectron2's trainer logs every
    ``Exception`` as a failure; a requested stop is not one.
    """


class GracefulStop(HookBase):
    """Save a checkpoint and stop on SIGTERM/SIGINT or after ``stop_after_s`` seconds."""

    def __init__(self, stop_after_s: float | None = None) -> None:
        self.stop_after_s = stop_after_s
        self.requested = False
        self._old: dict[int, Any] = {}
        self._t0 = 0.0

    def before_train(self) -> None:
        self._t0 = time.monotonic()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: no signal handling
                pass

    def _handle(self, signum: int, frame: Any) -> None:
        log.warning("signal %d: stopping after this iteration with a checkpoint", signum)
        self.requested = True

    def after_step(self) -> None:
        late = self.stop_after_s is not None and time.monotonic() - self._t0 > self.stop_after_s
        if not (self.requested or late):
            return
        it = self.trainer.iter
        ckpt = next(
            (h.checkpointer for h in self.trainer._hooks if hasattr(h, "checkpointer")), None
        )
        if ckpt is None:
            raise ModelError("no checkpointer among the trainer's hooks; cannot stop cleanly")
        ckpt.save(f"model_{it:07d}", iteration=it)
        raise TrainingStopped(f"stopped at iteration {it} with a checkpoint; run again to resume")

    def after_train(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()


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
    restart: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Start or continue a crack-model run; returns a summary (iterations, best metric, state).

    An existing run folder continues with its own saved config (the recipe does not change
    half-way); ``max_iter`` may raise its length. ``restart`` starts over in the same folder.
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
    stop = GracefulStop(stop_after_s)
    try:
        res = engine_train(cfg, out, resume=resume, progress=progress, extra_hooks=[stop])
    except TrainingStopped as exc:
        log.info("%s", exc)
        _mark_stopped(out)
        return {"state": "stopped", "message": str(exc), "out": str(out)}
    return {
        "state": "finished" if res.end_iter >= int(cfg.SOLVER.MAX_ITER) else "stopped",
        "out": str(out),
        "start_iter": res.start_iter,
        "end_iter": res.end_iter,
        "best_metric": res.best_metric,
        "val": res.val_metrics,
    }


def _mark_stopped(out: Path) -> None:
    """Record in ``run.json`` that the run stopped on request (the engine did not return)."""
    import json

    p = out / "run.json"
    if not p.is_file():
        return
    info = json.loads(p.read_text(encoding="utf-8"))
    last = (
        (out / "last_checkpoint").read_text(encoding="utf-8").strip()
        if (out / "last_checkpoint").is_file()
        else ""
    )
    info.update(
        state="stopped",
        last_checkpoint=last,
        stopped_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    tmp = p.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
    tmp.replace(p)
