"""Training hooks: tqdm progress bar, validation with best-model checkpoint, loss recorder."""

from __future__ import annotations

import json
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.engine import hooks
from detectron2.engine.train_loop import HookBase

__all__ = [
    "BestCheckpointer",
    "GracefulStop",
    "LossRecorder",
    "ProgressBar",
    "StopRequested",
    "ValidationHook",
]

log = logging.getLogger(__name__)


class ProgressBar(HookBase):
    """A tqdm bar over iterations with the smoothed total loss and the learning rate."""

    def __init__(self, max_iter: int, *, enabled: bool = True, window: int = 20) -> None:
        self.max_iter, self.enabled, self.window = max_iter, enabled, window
        self._bar: Any = None

    def before_train(self) -> None:
        if self.enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=self.max_iter,
                initial=self.trainer.start_iter,
                desc="train",
                unit="it",
                dynamic_ncols=True,
            )

    def after_step(self) -> None:
        if self._bar is None:
            return
        st = self.trainer.storage
        post = {}
        h = st.histories()
        if "total_loss" in h:
            post["loss"] = f"{h['total_loss'].median(self.window):.3f}"
        if "lr" in h:
            post["lr"] = f"{h['lr'].latest():.2e}"
        self._bar.set_postfix(post, refresh=False)
        self._bar.update(1)

    def after_train(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class StopRequested(BaseException):  # like KeyboardInterrupt: a requested stop is no failure
    """Raised by :class:`GracefulStop` once the checkpoint is saved; the run can resume."""


class GracefulStop(HookBase):
    """On SIGINT/SIGTERM, after ``stop_after_s`` seconds, or once ``stop_at_iter`` iterations are
    done (``trainer.iter + 1 >= stop_at_iter``), finish the iteration, save, stop."""

    def __init__(
        self,
        checkpointer: Any,
        stop_after_s: float | None = None,
        stop_at_iter: int | None = None,
    ) -> None:
        self.checkpointer, self.stop_after_s = checkpointer, stop_after_s
        self.stop_at_iter = stop_at_iter
        self.requested = False
        self.stopped_at: int | None = None
        self._old: dict[int, Any] = {}
        self._t0 = 0.0

    def before_train(self) -> None:
        self._t0 = time.monotonic()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:  # a second signal: stop at once
            raise KeyboardInterrupt
        log.warning("signal %d: stopping after this iteration, with a checkpoint", signum)
        self.requested = True

    def after_step(self) -> None:
        late = self.stop_after_s is not None and time.monotonic() - self._t0 > self.stop_after_s
        due = self.stop_at_iter is not None and self.trainer.iter + 1 >= self.stop_at_iter
        if not (self.requested or late or due):
            return
        it = self.trainer.iter
        self.checkpointer.save(f"model_{it:07d}", iteration=it)
        self.stopped_at = it
        raise StopRequested(f"stopped after iteration {it}; resume to continue")

    def after_train(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()


class LossRecorder(HookBase):
    """Appends each iteration's ``total_loss`` to a list (for callers and tests)."""

    def __init__(self, sink: list[float]) -> None:
        self.sink = sink

    def after_step(self) -> None:
        hist = self.trainer.storage.histories().get("total_loss")
        if hist is not None:
            self.sink.append(float(hist.latest()))


class BestCheckpointer:
    """Saves ``model_best.pth`` (weights only) when the chosen validation metric improves."""

    def __init__(self, model: Any, out_dir: Path, metric: str) -> None:
        self.ckpt = DetectionCheckpointer(model, str(out_dir))
        self.metric = metric
        self.best_value: float | None = None
        self.best_iter: int | None = None
        self.last_metrics: dict[str, float] = {}
        state = Path(out_dir) / "eval" / "best.json"
        if state.is_file():  # resumed run: keep the earlier best
            d = json.loads(state.read_text())
            self.best_value, self.best_iter = d.get("value"), d.get("iter")
        self._state = state

    def update(self, iteration: int, metrics: dict[str, float]) -> None:
        self.last_metrics = dict(metrics)
        if not self.metric:
            return
        v = metrics.get(self.metric)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return
        if self.best_value is None or v > self.best_value:
            self.best_value, self.best_iter = float(v), iteration
            # fvcore tags every save as the checkpoint to resume from; model_best holds weights
            # only, so the resume tag must keep naming the last full periodic checkpoint
            prev = self.ckpt.get_checkpoint_file() if self.ckpt.has_checkpoint() else ""
            self.ckpt.save("model_best", iteration=iteration)
            if prev:
                self.ckpt.tag_last_checkpoint(Path(prev).name)
            else:
                (Path(self.ckpt.save_dir) / "last_checkpoint").unlink(missing_ok=True)
            self._state.parent.mkdir(parents=True, exist_ok=True)
            self._state.write_text(
                json.dumps({"metric": self.metric, "value": v, "iter": iteration})
            )
            log.info("new best %s = %.4f at iteration %d", self.metric, v, iteration)


class ValidationHook(hooks.EvalHook):
    """Detectron2's ``EvalHook`` that also feeds :class:`BestCheckpointer`."""

    def __init__(
        self, period: int, fn: Callable[[], dict[str, float]], best: BestCheckpointer
    ) -> None:
        self._best = best

        def run() -> dict[str, float]:
            res = fn()
            self._best.update(min(self.trainer.iter + 1, self.trainer.max_iter), res)
            return res

        super().__init__(period, run)

    @staticmethod
    def make_fn(
        model: Any,
        cfg: Any,
        records: list[dict[str, Any]],
        classes: Sequence[str],
        evaluator: Callable[..., dict[str, float]],
        out_dir: Path,
        get_iter: Callable[[], int],
    ) -> Callable[[], dict[str, float]]:
        """The validation function: evaluate in eval mode, write ``eval/iter_N.json``."""

        def fn() -> dict[str, float]:
            was_training = model.training
            model.eval()
            try:
                metrics = evaluator(model, cfg, records, classes)
            finally:
                model.train(was_training)
            out_dir.mkdir(parents=True, exist_ok=True)
            it = get_iter()
            (out_dir / f"iter_{it:07d}.json").write_text(
                json.dumps({"iter": it, **metrics}, indent=2)
            )
            log.info(
                "validation at iteration %d: %s",
                it,
                {k: round(v, 4) for k, v in metrics.items() if "/" in k and k.count("/") == 1},
            )
            return metrics

        return fn
